"""Structured notes of a check result: what was assumed, repaired or missing.

Every result states what it did not get from the user or the data (JSON ``notes``: a
list of ``{"kind", "text", "text_en"}``). Kinds made here:

- ``"assumption"`` — the coordinate system of the input, the development kind
  (新建 by default), an unknown project type;
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
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely

from geo.version import __version__

#: Note kinds, in the order reports list them.
NOTE_KINDS = (
    "jurisdiction", "missing_data", "demo_data", "assumption", "repair", "exception", "coords",
)  # fmt: skip


def note(kind: str, text: str, text_en: str) -> dict[str, str]:
    """One note (``kind`` one of :data:`NOTE_KINDS`)."""
    return {"kind": kind, "text": text, "text_en": text_en}


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


def coords_note(crs_text: str | None, coords: str | None) -> dict[str, str]:
    """The coordinate system the input was read in (stated, as it may have been assumed)."""
    system = (coords or "wgs84").lower()
    if system in ("wgs84", "cgcs2000") and (crs_text in (None, "EPSG:4326", "OGC:CRS84")):
        return note(
            "assumption",
            "输入坐标按 WGS84/CGCS2000 经纬度（EPSG:4326）处理；如为 GCJ-02（高德、腾讯）或 "
            "BD-09（百度）坐标，请用 --coords 指明",
            "input coordinates taken as WGS84/CGCS2000 lon/lat (EPSG:4326); for GCJ-02 "
            "(AMap, Tencent) or BD-09 (Baidu) coordinates give --coords",
        )
    src = crs_text or "EPSG:4326"
    return note(
        "assumption",
        f"输入坐标系：{src}（{system.upper()}），已转换为 WGS84 经纬度后检查",
        f"input coordinate system: {src} ({system.upper()}), converted to WGS84 lon/lat",
    )


def project_notes(project: Any, rules: Iterable[Any] = ()) -> list[dict[str, str]]:
    """Assumptions about a project: development kind, project type and undeclared flags.

    Parameters
    ----------
    project
        The :class:`zoning.project.Project` every site shares (``None``: no notes).
    rules
        The pack's rules (:class:`zoning.pack.Rule`): those that test flags the
        project did not declare are named (:func:`undeclared_flags_note`).

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
    if getattr(project, "project_type", None) is None:
        out.append(
            note(
                "assumption",
                "未给出项目类型：仅按不限项目类型的规则判断，针对特定项目类型的规则未适用",
                "no project type given: only the rules for every project type were applied",
            )
        )
    flags = undeclared_flags_note(project, rules)
    if flags is not None:
        out.append(flags)
    return out


def undeclared_flags_note(project: Any, rules: Iterable[Any]) -> dict[str, str] | None:
    """The flags that rules test and the project did not declare, taken as absent.

    A rule whose ``when.flags_any`` names flags (废水, VOCs, 新增钢铁产能 ...) applies only
    to a project that declares one of them (``--flag``). A project that declared none of
    a rule's flags, and meets the rule's other conditions, is checked as if it had none:
    the note names those flags and rules, so that a verdict never rests on that
    assumption unsaid. ``None`` when no rule was left out for want of a flag.
    """
    from dataclasses import replace

    from zoning.project import FLAGS

    left_out: list[str] = []
    wanted: list[str] = []
    for rule in rules:
        when = getattr(rule, "when", None)
        if when is None or not when.flags_any or when.applies_to(project):
            continue
        declared = replace(project, flags=project.flags | set(when.flags_any))
        if when.applies_to(declared):  # left out only for want of a flag
            left_out.append(rule.id)
            wanted += [f for f in when.flags_any if f not in wanted]
    if not left_out:
        return None
    order = [f for f in FLAGS if f in wanted]
    return note(
        "assumption",
        f"未申报的项目特征按“不涉及”判断：{'、'.join(FLAGS[f] for f in order)}；"
        f"仅适用于申报了这些特征的项目的规则未适用：{'、'.join(left_out)}。"
        "如项目涉及其中任一项，请用 --flag 申报后重新检查",
        f"project characteristics not declared were taken as absent: {', '.join(order)}; "
        f"the rules that apply only to projects declaring them were not applied: "
        f"{', '.join(left_out)}. If the project has any of them, declare it with --flag and "
        "check again",
    )


def per_row_projects_note(rules: Iterable[Any]) -> dict[str, str]:
    """The assumptions made for projects read row by row (several projects in one check).

    The notes of one project (:func:`project_notes`) cannot speak for every row, so a
    check of several projects states the rules it applied to each row instead: the
    same text whatever the rows hold (a batch's chunks share it), naming the pack's
    rules that apply only to a project declaring one of their flags.
    """
    flagged = [r.id for r in rules if getattr(r, "when", None) is not None and r.when.flags_any]
    zh = (
        "项目属性逐行读取：未注明建设性质的行按“新建”判断；未给出项目类型的行只适用不限项目"
        "类型的规则；各行未申报的项目特征按“不涉及”判断"
    )
    en = (
        "project attributes were read row by row: rows without a development kind were "
        "taken as new, rows without a project type met only the rules for every project "
        "type, and flags a row did not declare were taken as absent"
    )
    if flagged:
        zh += f"，仅适用于申报了相应特征的项目的规则（{'、'.join(flagged)}）对未申报的行未适用"
        en += f" (the rules that apply only to projects declaring them: {', '.join(flagged)})"
    return note("assumption", zh, en)


def repair_note() -> dict[str, str]:
    """The site geometry was invalid and was repaired."""
    return note(
        "repair",
        "选址几何无效（如自相交），已用 make_valid 修复后检查；请核对修复后的范围",
        "the site geometry was invalid (e.g. self-intersecting) and was repaired with "
        "make_valid before the check; verify the repaired outline",
    )


def straddle_note(pack_name: str) -> dict[str, str]:
    """The site crosses the boundary of the pack's jurisdiction."""
    return note(
        "jurisdiction",
        f"选址跨越规则包 {pack_name} 的管辖范围边界：范围外部分不适用本规则包，相应规则数据不足",
        f"the site straddles the boundary of pack {pack_name}'s jurisdiction: its rules do "
        "not apply to the part outside, whose rules lack data",
    )


def missing_note(kinds: Sequence[str]) -> dict[str, str]:
    """Layers without data covering the site, and what to import."""
    names = "、".join(kinds)
    cmds = "; ".join(f"ecozone layers import FILE --kind {k} --extent ADCODE" for k in kinds)
    return note(
        "missing_data",
        f"以下图层没有覆盖该选址的数据，相关规则无法判定（数据不足）：{names}。请导入：{cmds}",
        f"no data covering the site in layer(s) {', '.join(kinds)}: their rules cannot be "
        f"judged (insufficient data). Import: {cmds}",
    )


def demo_note(synthetic: Sequence[str], deciding: Sequence[str]) -> dict[str, str]:
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
) -> list[dict[str, str]]:
    """Every note of one checked site, in :data:`NOTE_KINDS` order."""
    out: list[dict[str, str]] = []
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
        The :class:`zoning.check.engine.SiteChecker` (its ``pack``, ``layer_stamp``,
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
    if len(s.geoms) and (shapely.get_type_id(s.geoms) == 0).all():
        h.update(b"points\n")  # all points: the coordinates say it all, and fast
        from geo.crs import plain_point_xy  # (this module stays free of geopandas)

        xy = plain_point_xy(s.geoms)  # (the same values, read without the lock)
        h.update((shapely.get_coordinates(s.geoms) if xy is None else xy).astype("<f8").tobytes())
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
        "skipped_rules": list(checker.skipped_rules),
        "jurisdiction_tested": checker.jurisdiction is not None,
        "rule_layers": dict(rule_layers),
        "notes": [
            coords_note(s.input_crs, s.coords),
            # one project for every site: its assumptions; several: the rule for each row
            *project_notes(project, checker.pack.rules),
            *([per_row_projects_note(checker.pack.rules)] if several else []),
        ],
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
