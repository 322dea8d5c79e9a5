"""Structured notes of a check result: what was assumed, repaired or missing.

Every result states what it did not get from the user or the data (JSON ``notes``: a
list of ``{"kind", "text", "text_en"}``). Kinds made here:

- ``"assumption"`` — the coordinate system of the input, the development kind
  (新建 by default), an unknown project type, rules whose feature filter keeps no
  feature of their layer;
- ``"repair"`` — an invalid site geometry repaired with ``make_valid``;
- ``"demo_data"`` — synthetic (demonstration) layers were consulted, naming them and
  the ones that decided the verdict;
- ``"missing_data"`` — layers with no data covering the site (their rules are
  数据不足), with the import command;
- ``"jurisdiction"`` — the site straddles the boundary of the pack's jurisdiction.

Other kinds (``"exception"``, ``"coords"``) are made by other modules. This module
does not import :mod:`zoning.check.engine` or :mod:`zoning.check.result`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely

from geo.version import __version__
from zoning.industry import code_of_prefix, describe_industry
from zoning.project import FLAGS, PROJECT_TYPES, TYPE_SECTIONS, type_allows_code

#: How a check measures, stamped on every result (``stamp["measurement"]``): a name
#: that changes whenever a measurement does, so that a verdict can be reproduced with
#: the method it was made with. Reports print its text (:mod:`zoning.report.text`).
#: ``ellipsoidal/1``: topology in lon/lat; distances on the GRS80 ellipsoid (the
#: shortest line in the site's 3-degree Gauss-Krüger zone, divided by the zone's scale
#: factor along it, :mod:`geo.scale`); areas in an Albers equal-area CRS on GRS80; the
#: nearest feature chosen by its plane distance. ``ellipsoidal/2``: the same, the nearest
#: feature chosen by its distance on the ellipsoid (:class:`zoning.check.nearest._Tie`).
MEASUREMENT = "ellipsoidal/2"

#: Note kinds, in the order reports list them.
NOTE_KINDS = (
    "jurisdiction", "missing_data", "demo_data", "assumption", "repair", "exception", "coords",
)  # fmt: skip


#: What a note can ask the user to give (``note["asks"]``): project attributes and
#: the input's coordinate system. Each interface says where it takes them (the CLI's
#: options, the web form's fields, the QGIS tool's parameters); the note's own text
#: names none, as it goes into reports and result files too.
ASKS = ("coords", "industry_code", "flags")


def note(kind: str, text: str, text_en: str, *, asks: Sequence[str] = ()) -> dict[str, Any]:
    """One note (``kind`` one of :data:`NOTE_KINDS`; ``asks`` a subset of :data:`ASKS`)."""
    out: dict[str, Any] = {"kind": kind, "text": text, "text_en": text_en}
    if asks:
        out["asks"] = list(asks)
    return out


def rule_data_kinds(rule: Any) -> list[str]:
    """The stored layer kinds a rule's judgement needs (not the project's site exits)."""
    return [k for k in (rule.layer, getattr(rule, "unless_layer", None)) if k and k != "site_exit"]


def missing_hint(rule: Any, missing: int) -> tuple[str, str]:
    """The requirement text (zh, en) of a finding of ``rule`` with ``missing`` code.

    1: its layer has no data covering the site (:func:`import_hint`, what to import);
    2: it holds only for types or industries the project did not give
    (:func:`unknown_project_hint`); 0: none (the rule's own text stands).
    """
    if missing == 1:
        return import_hint((rule_data_kinds(rule) or ["?"])[0])
    if missing == 2:
        return unknown_project_hint(rule)
    return "", ""


def import_hint(kind: str) -> tuple[str, str]:
    """The requirement text of an ``insufficient_data`` finding on layer ``kind``."""
    cmd = f"ecozone layers import FILE --kind {kind} --extent ADCODE"
    zh = (
        f"图层库中没有覆盖该选址的“{kind}”图层数据，本条规则无法判定（数据不足）。"
        f"请导入覆盖该选址所在辖区的数据：{cmd}"
    )
    en = (
        f"the store holds no {kind!r} layer data covering the whole site, so this rule "
        f"cannot be judged (insufficient data). Import data for the site's jurisdiction: {cmd}"
    )
    return zh, en


def unknown_project_hint(rule: Any) -> tuple[str, str]:
    """The requirement text of a finding that holds only for some types or industries.

    The finding of a rule for particular project types or industries on a site whose
    project did not give its type or industry code
    (:meth:`zoning.check.engine.SiteChecker._add_project_dependent`): which projects
    the rule is for, that the site lies where it applies, what to give, and the rule's
    requirement.
    """
    when = getattr(rule, "when", None)
    types = list((when.project_types if when else None) or ())
    prefixes = list((when.industry_prefixes if when else None) or ())
    zh_types = "、".join(PROJECT_TYPES.get(t, t) for t in types)
    zh_codes = "、".join(f"{p}*" for p in prefixes)
    if types and prefixes:
        zh_for, en_for = (
            f"行业代码为{zh_codes}的{zh_types}",
            (f"{', '.join(types)} projects with industry codes {', '.join(prefixes)}*"),
        )
        zh_what, en_what = "项目类型或行业代码", "project type or industry code"
    elif prefixes:
        zh_for, en_for = (
            f"行业代码为{zh_codes}的项目",
            (f"projects with industry codes {', '.join(prefixes)}*"),
        )
        zh_what, en_what = "行业代码", "industry code"
    else:
        zh_for, en_for = zh_types, f"{', '.join(types)} projects"
        zh_what, en_what = "项目类型", "project type"
    zh = (
        f"未给出{zh_what}：本条规则适用于{zh_for}，选址位于其适用范围内，"
        f"结论须按{zh_what}核实。请给出{zh_what}后重新检查。规则要求：{rule.requirement}"
    )
    en = (
        f"no {en_what} given: this rule applies to {en_for} and the site lies where it "
        f"applies, so the verdict depends on the {en_what}. Give the {en_what} and check "
        f"again. The rule: {rule.requirement_en}"
    )
    return zh, en


def coords_note(crs_text: str | None, coords: str | None) -> dict[str, Any]:
    """The coordinate system the input was read in (stated, as it may have been assumed)."""
    system = (coords or "wgs84").lower()
    if system in ("wgs84", "cgcs2000") and (crs_text in (None, "EPSG:4326", "OGC:CRS84")):
        return note(
            "assumption",
            "输入坐标按 WGS84/CGCS2000 经纬度（EPSG:4326）处理；如为 GCJ-02（高德、腾讯）或 "
            "BD-09（百度）坐标，请指明坐标系后重新检查",
            "input coordinates taken as WGS84/CGCS2000 lon/lat (EPSG:4326); for GCJ-02 "
            "(AMap, Tencent) or BD-09 (Baidu) coordinates, give the coordinate system and "
            "check again",
            asks=("coords",),
        )
    src = crs_text or "EPSG:4326"
    return note(
        "assumption",
        f"输入坐标系：{src}（{system.upper()}），已转换为 WGS84 经纬度后检查",
        f"input coordinate system: {src} ({system.upper()}), converted to WGS84 lon/lat",
    )


def project_notes(project: Any, rules: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """Assumptions about a project: development kind, and what it did not say.

    Parameters
    ----------
    project
        The :class:`zoning.project.Project` every site shares (``None``: no notes).
    rules
        The pack's rules (:class:`zoning.pack.Rule`): those left out for want of a
        project type, an industry code or a declared flag are named
        (:func:`left_out_rules`).

    Returns
    -------
    list of dict
        Notes of kind ``assumption``.
    """
    if project is None:
        return []
    out = []
    if getattr(project, "development", "new") == "new":
        out.append(
            note(
                "assumption",
                "建设性质按“新建”判断（未注明建设性质时的默认值；扩建、改扩建项目请注明）",
                "development taken as new (the default when none is given; state expansion "
                "projects as such)",
            )
        )
    left = left_out_rules(project, rules)
    if getattr(project, "project_type", None) is None:
        ids = left["project_type"]
        out.append(
            note(
                "assumption",
                "未给出项目类型：针对特定项目类型的规则"
                + (f"（{'、'.join(ids)}）" if ids else "")
                + "未按项目类型判断；选址位于其中禁止、限制类规则的适用范围时，"
                "该规则列为“需人工核实”，位于设管控要求的规则的适用范围时，照列其要求",
                "no project type given: the rules for particular project types"
                + (f" ({', '.join(ids)})" if ids else "")
                + " were not judged for a type; where the site lies in the area of one that "
                "prohibits or restricts, that rule is listed as needs review, and one that "
                "sets requirements is listed with them",
            )
        )
    if left["industry_code"]:
        ids = left["industry_code"]
        out.append(
            note(
                "assumption",
                f"未给出行业代码：针对所列行业的规则（{'、'.join(ids)}）未按行业判断；"
                "选址位于其中禁止、限制类规则的适用范围时，该规则列为“需人工核实”，位于设管控"
                "要求的规则的适用范围时，照列其要求。请给出 GB/T 4754-2017 行业代码后重新检查",
                "no industry code given: the rules for listed industries "
                f"({', '.join(ids)}) were not judged for an industry; where the site lies in "
                "the area of one that prohibits or restricts, that rule is listed as needs "
                "review, and one that sets requirements is listed with them. Give the "
                "GB/T 4754-2017 industry code and check again",
                asks=("industry_code",),
            )
        )
    if left["by_type"]:
        out.append(_type_sections_note(project.project_type, left["by_type"]))
    if left["flags"]:
        out.append(_undeclared_flags_note(left["flags"], left["wanted_flags"]))
    return out


def _type_sections_note(project_type: str, rule_ids: Sequence[str]) -> dict[str, Any]:
    """A project of a known type without an industry code: the sections it was taken in.

    Rules for industries of other GB/T 4754 sections than the type's
    (:data:`zoning.project.TYPE_SECTIONS`) were not applied, and this note says so.
    """
    sections = TYPE_SECTIONS.get(project_type) or ""
    names = "、".join(describe_industry(c) for c in sections)
    return note(
        "assumption",
        f"未给出行业代码：按项目类型（{PROJECT_TYPES.get(project_type, project_type)}）视为"
        f"GB/T 4754-2017 {names}门类的项目，仅适用于其他门类行业的规则未适用"
        f"（{'、'.join(rule_ids)}）。如项目属其他行业，请给出行业代码后重新检查",
        f"no industry code given: taken from the project type ({project_type}) as a project "
        f"of GB/T 4754-2017 section {'/'.join(sections)}; the rules for industries of other "
        f"sections were not applied ({', '.join(rule_ids)}). If the project is of another "
        "industry, give its code and check again",
        asks=("industry_code",),
    )


def left_out_rules(project: Any, rules: Iterable[Any]) -> dict[str, list[str]]:
    """The rules a project meets only with what it did not say, by what is missing.

    A rule whose conditions (``when``) test the project type, the industry code or
    flags (``flags_any``) does not apply to a project that gave no type, no code, or
    declared none of its flags. Such a rule is *left out* when it would apply once
    those were given (a type and a code from the rule's lists, its flags declared):
    the verdict then rests on the project's silence, and the notes say so.

    Parameters
    ----------
    project
        The :class:`zoning.project.Project`.
    rules
        The pack's rules.

    Returns
    -------
    dict
        ``project_type``, ``industry_code``, ``flags``: rule ids left out for want of
        each (a rule may want several); ``wanted_flags``: the flags those rules test;
        ``by_type``: rules for industries the project's type is not of
        (:data:`zoning.project.TYPE_SECTIONS`), for a project without a code.
    """
    out: dict[str, list[str]] = {
        "project_type": [], "industry_code": [], "flags": [], "wanted_flags": [],
        "by_type": [],
    }  # fmt: skip
    for rule in rules:
        when = getattr(rule, "when", None)
        if when is None or when.applies_to(project):
            continue
        # a type and a code the rule asks for, that go together (TYPE_SECTIONS)
        type_unknown = project.project_type is None and bool(when.project_types)
        code_unknown = not project.industry_code and bool(when.industry_prefixes)
        kinds = list(when.project_types) if type_unknown else [project.project_type]
        codes = list(map(code_of_prefix, when.industry_prefixes)) if code_unknown else [None]
        pair = next(((k, c) for k in kinds for c in codes if type_allows_code(k, c)), None)
        if pair is None:  # only industries the project's type is not of
            if code_unknown and not type_unknown:
                out["by_type"].append(rule.id)
            continue
        given: dict[str, Any] = {}
        if type_unknown:
            given["project_type"] = pair[0]
        if code_unknown:
            given["industry_code"] = pair[1]
        if when.flags_any and not project.flags & set(when.flags_any):
            given["flags"] = project.flags | set(when.flags_any)
        try:
            meets = bool(given) and when.applies_to(replace(project, **given))
        except ValueError:  # (a prefix the catalogue does not know as a code)
            meets = False
        if meets:
            for key in given:
                out[key].append(rule.id)
            if "flags" in given:
                out["wanted_flags"] += [f for f in when.flags_any if f not in out["wanted_flags"]]
    return out


def _undeclared_flags_note(rule_ids: Sequence[str], flags: Sequence[str]) -> dict[str, Any]:
    """The flags rules test that the project did not declare, taken as absent.

    A rule whose ``when.flags_any`` names flags (废水, VOCs, 新增钢铁产能 ...) applies only
    to a project that declares one of them: a project that declared none
    is checked as if it had none, and this note names those flags and rules.
    """
    order = [f for f in FLAGS if f in flags]
    return note(
        "assumption",
        f"未申报的项目特征按“不涉及”判断：{'、'.join(FLAGS[f] for f in order)}；"
        f"仅适用于申报了这些特征的项目的规则未适用：{'、'.join(rule_ids)}。"
        "如项目涉及其中任一项，请申报后重新检查",
        f"project characteristics not declared were taken as absent: {', '.join(order)}; "
        f"the rules that apply only to projects declaring them were not applied: "
        f"{', '.join(rule_ids)}. If the project has any of them, declare it and check again",
        asks=("flags",),
    )


def per_row_projects_note(rules: Iterable[Any]) -> dict[str, Any]:
    """The assumptions made for projects read row by row (several projects in one check).

    The notes of one project (:func:`project_notes`) cannot speak for every row, so a
    check of several projects states the rules it applied to each row instead: the
    same text whatever the rows hold (a batch's chunks share it), naming the rules
    that apply only to listed industries or to a project declaring one of their flags.
    """
    rules = [r for r in rules if getattr(r, "when", None) is not None]
    coded = [r.id for r in rules if r.when.industry_prefixes]
    flagged = [r.id for r in rules if r.when.flags_any]
    zh = (
        "项目属性逐行读取：未注明建设性质的行按“新建”判断；未给出项目类型的行，针对特定项目"
        "类型的规则未按项目类型判断，选址位于其中禁止、限制类规则的适用范围时列为“需人工核实”"
    )
    en = (
        "project attributes were read row by row: rows without a development kind were "
        "taken as new; for rows without a project type the rules for particular types were "
        "not judged for a type, and one that prohibits or restricts where the site lies is "
        "listed as needs review"
    )
    if coded:
        zh += (
            f"；未给出行业代码的行，针对特定行业的规则（{'、'.join(coded)}）未按行业判断，"
            "选址位于其中禁止、限制类规则的适用范围时列为“需人工核实”，但给出了项目类型的行只"
            "按其类型所属的行业门类判断（工业 B–D、居住 K、农业 A、线性工程 D/E/G/I/N）"
        )
        en += (
            "; for rows without an industry code the rules for listed industries "
            f"({', '.join(coded)}) were not judged for an industry, and one that prohibits "
            "or restricts where the site lies is listed as needs review, for rows with a "
            "project type only the industries of its sections (industrial B–D, residential "
            "K, agriculture A, linear D/E/G/I/N)"
        )
    zh += "；各行未申报的项目特征按“不涉及”判断"
    en += ", and flags a row did not declare were taken as absent"
    if flagged:
        zh += f"，仅适用于申报了相应特征的项目的规则（{'、'.join(flagged)}）对未申报的行未适用"
        en += f" (the rules that apply only to projects declaring them: {', '.join(flagged)})"
    return note("assumption", zh, en)


def repair_note() -> dict[str, Any]:
    """The site geometry was invalid and was repaired."""
    return note(
        "repair",
        "选址几何无效（如自相交），已用 make_valid 修复后检查；请核对修复后的范围",
        "the site geometry was invalid (e.g. self-intersecting) and was repaired with "
        "make_valid before the check; verify the repaired outline",
    )


def straddle_note(pack_name: str) -> dict[str, Any]:
    """The site crosses the boundary of the pack's jurisdiction."""
    return note(
        "jurisdiction",
        f"选址跨越规则包 {pack_name} 的管辖范围边界：范围外部分不适用本规则包，相应规则数据不足",
        f"the site straddles the boundary of pack {pack_name}'s jurisdiction: its rules do "
        "not apply to the part outside, whose rules lack data",
    )


def missing_note(kinds: Sequence[str]) -> dict[str, Any]:
    """Layers without data covering the site, and what to import."""
    names = "、".join(kinds)
    cmds = "; ".join(f"ecozone layers import FILE --kind {k} --extent ADCODE" for k in kinds)
    return note(
        "missing_data",
        f"以下图层没有覆盖该选址的数据，相关规则无法判定（数据不足）：{names}。请导入：{cmds}",
        f"no data covering the site in layer(s) {', '.join(kinds)}: their rules cannot be "
        f"judged (insufficient data). Import: {cmds}",
    )


def unmatched_filters_note(rules: Sequence[Any]) -> dict[str, Any]:
    """Rules whose feature filter keeps none of their layer's features (they never fire).

    Such a rule is true to the data: the layer holds no such zone. But a layer imported
    without those zones (a reserve's 一般控制区 kept in another file, say) reads the
    same, so the result says which rules could not fire and why.
    """
    parts_zh, parts_en = [], []
    for r in rules:
        terms = [f"{c} = {'/'.join(map(str, v))}" for c, v in r.feature_filter.items()]
        parts_zh.append(f"{r.id}（图层 {r.layer} 中没有 {'；'.join(terms)} 的要素）")
        parts_en.append(f"{r.id} (no feature of layer {r.layer} has {'; '.join(terms)})")
    return note(
        "assumption",
        "以下规则所针对的区域在图层中没有要素，按图层数据判断为不涉及，规则不会触发："
        + "、".join(parts_zh)
        + "。如实际存在此类区域，请将其导入图层后重新检查",
        "the areas these rules concern have no feature in their layers, so they were taken "
        "as absent and the rules cannot fire: "
        + ", ".join(parts_en)
        + ". If such areas exist, import them into the layer and check again",
    )


def demo_note(synthetic: Sequence[str], deciding: Sequence[str]) -> dict[str, Any]:
    """Synthetic layers consulted (and those among them that decided the verdict)."""
    names = "、".join(synthetic)
    dec_zh = f"；决定结论的图层：{'、'.join(deciding)}" if deciding else ""
    dec_en = f"; the verdict rests on {', '.join(deciding)}" if deciding else ""
    return note(
        "demo_data",
        f"演示数据（合成，非官方）：本次检查使用了合成图层 {names}{dec_zh}。结论仅供演示，"
        "不能作为审批依据",
        f"demonstration data (synthetic, not official): the check consulted synthetic "
        f"layer(s) {', '.join(synthetic)}{dec_en}. The verdict is for demonstration only",
    )


def synthetic_kinds(stamp: Mapping[str, Any]) -> list[str]:
    """The layer kinds of a stamp that hold synthetic data."""
    return [k for k, m in (stamp.get("layers") or {}).items() if m.get("synthetic")]


def site_notes(
    stamp: Mapping[str, Any],
    *,
    deciding_kinds: Iterable[str],
    missing_kinds: Iterable[str],
    straddle: bool,
    repaired: bool,
    project: Any = None,
    pack_name: str = "",
) -> list[dict[str, Any]]:
    """Every note of one checked site, in :data:`NOTE_KINDS` order."""
    out: list[dict[str, Any]] = []
    if straddle:
        out.append(straddle_note(pack_name or str((stamp.get("pack") or {}).get("name", ""))))
    missing = list(dict.fromkeys(missing_kinds))
    if missing:
        out.append(missing_note(missing))
    synth = synthetic_kinds(stamp)
    if synth:
        out.append(demo_note(synth, [k for k in dict.fromkeys(deciding_kinds) if k in synth]))
    out.extend(dict(n) for n in stamp.get("notes") or ())
    out.extend(project_notes(project))
    if repaired:
        out.append(repair_note())
    return out


def shared_notes(
    checker: Any, coords: dict[str, Any], project: Any, several: bool
) -> list[dict[str, Any]]:
    """The notes every site of a check shares (a stamp's ``notes``).

    The input's coordinate system (``coords``, :func:`coords_note`); one project's
    assumptions (``project``; ``None``: none), or with ``several`` projects read row by
    row the rule applied to each row; and the rules that cannot fire on the checker's
    layers (:func:`unmatched_filters_note`).
    """
    rules = checker.rules
    return [
        coords,
        *project_notes(project, rules),
        *([per_row_projects_note(rules)] if several else []),
        *([unmatched_filters_note(checker.unmatched_filters)] if checker.unmatched_filters else []),
    ]


def check_stamp(
    checker: Any,
    s: Any,
    project: Any,
    rule_layers: Mapping[str, list[str]],
    project_keys: Sequence[Any],
) -> dict[str, Any]:
    """The provenance ``stamp`` of a check result.

    Parameters
    ----------
    checker
        The :class:`zoning.check.engine.SiteChecker` (its ``pack``, ``rules``, ``layer_stamp``,
        ``nearest_max_m``, ``skipped_rules``, ``jurisdiction``).
    s
        The normalised sites (``zoning.check.result._Sites``): checksummed.
    project
        The project every site shares (``None`` with per-row projects): its notes.
    rule_layers
        Rule id → the layer kinds its data comes from.
    project_keys
        :func:`zoning.check.sites.project_key` of each project profile (checksummed).

    Returns
    -------
    dict
        JSON-safe: versions, pack, layers, input checksum, notes, time of the check.
    """
    h = hashlib.sha256()
    xy = s.xy  # all single 2-D points: their coordinates, read once
    if xy is None and len(s.geoms) and (shapely.get_type_id(s.geoms) == 0).all():
        from geo.crs import plain_point_xy  # (this module stays free of geopandas)

        xy = plain_point_xy(s.geoms)  # (the same values, read without the lock)
        xy = shapely.get_coordinates(s.geoms) if xy is None else xy
    if xy is not None and len(xy):  # all points: the coordinates say it all, and fast
        h.update(b"points\n")
        h.update(xy.astype("<f8").tobytes())
    else:
        h.update(b"".join(w or b"" for w in shapely.to_wkb(s.geoms, byte_order=1)))
    h.update("\x1f".join(s.site_id.tolist()).encode())
    h.update(repr(list(project_keys)).encode())
    h.update(s.profile.tobytes())
    h.update(np.column_stack([s.exit_site, s.exit_lon, s.exit_lat]).tobytes())
    pack = checker.pack
    several = project is None and len(s.projects) > 1
    return {
        "ecozone_version": __version__,
        "pack": {"name": pack.name, "version": pack.version, "lineage": list(pack.lineage)},
        "layers": {k: dict(v) for k, v in checker.layer_stamp.items()},
        "input_checksum": h.hexdigest(),
        "sites": len(s.geoms),
        "nearest_max_m": checker.nearest_max_m,
        "measurement": MEASUREMENT,
        "skipped_rules": list(checker.skipped_rules),
        "jurisdiction_tested": checker.jurisdiction is not None,
        "rule_layers": dict(rule_layers),
        "notes": shared_notes(checker, coords_note(s.input_crs, s.coords), project, several),
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
