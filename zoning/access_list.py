"""Structured access lists (生态环境准入清单) and the judgement of each entry.

An access list is published per environmental control unit (环境管控单元) as rows
of requirements in four dimensions (管控维度): 空间布局约束 / 污染物排放管控 /
环境风险防控 / 资源开发效率要求 (``layout`` / ``discharge`` / ``risk`` /
``efficiency``). Each row is an :class:`AccessEntry`: the unit code, dimension,
effect (禁止 / 限制 / 要求 → ``prohibit`` / ``restrict`` / ``require``), the text,
and — where the text allows it — machine-checkable :class:`EntryConditions`
(GB/T 4754 industry code prefixes, project types, new build vs expansion, activity
flags such as VOCs or heavy metals).

:func:`parse_entry_text` reads effect and conditions from the Chinese text
(:data:`zoning.industry.INDUSTRY_CLASSES` for industry names, keywords for project
types, 新建/扩建 and flags); :func:`judge_entry` judges an entry for a project:

- ``complies`` 符合 — a requirement (要求) that applies; the project must apply it;
- ``violates`` 不符合 — a prohibition (禁止) that applies: the site is prohibited;
- ``needs_demonstration`` 需论证 — a restriction (限制) that applies: restricted;
- ``not_applicable`` 不适用 — a condition the project does not meet;
- ``needs_review`` 需人工核实 — no checkable condition, or the project lacks the
  attribute a condition reads (e.g. no industry code). Never silently passed: the
  site is at best "needs_review".

:func:`read_access_list` reads a published list (CSV or XLSX, through the project's
table readers) and :func:`join_access_list` joins it to the unit polygons by unit
code, reporting the rows that do not join.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from geo.errors import InputFormatError
from zoning.industry import INDUSTRY_CLASSES, describe_industry, normalise_prefixes
from zoning.project import DEVELOPMENT, FLAGS, PROJECT_TYPES, Project

__all__ = [
    "DIMENSIONS",
    "EFFECTS",
    "JUDGEMENTS",
    "JUDGEMENT_OUTCOME",
    "AccessEntry",
    "AccessListImport",
    "EntryConditions",
    "entry_from_mapping",
    "import_access_list",
    "join_access_list",
    "judge_entry",
    "parse_entry_text",
    "read_access_list",
]

#: Dimensions (管控维度), code → Chinese.
DIMENSIONS: dict[str, str] = {
    "layout": "空间布局约束",
    "discharge": "污染物排放管控",
    "risk": "环境风险防控",
    "efficiency": "资源开发效率要求",
}
#: Effects (效力/约束类型), code → Chinese.
EFFECTS: dict[str, str] = {"prohibit": "禁止", "restrict": "限制", "require": "要求"}
#: Judgements of an entry for a project, code → Chinese.
JUDGEMENTS: dict[str, str] = {
    "complies": "符合",
    "violates": "不符合",
    "needs_demonstration": "需论证",
    "not_applicable": "不适用",
    "needs_review": "需人工核实",
}
#: The finding outcome a judgement leads to (None: no effect on the verdict).
JUDGEMENT_OUTCOME: dict[str, str | None] = {
    "violates": "prohibited",
    "needs_demonstration": "restricted",
    "needs_review": "needs_review",
    "complies": "requirements",
    "not_applicable": None,
}

_DIM_ALIASES = {v: k for k, v in DIMENSIONS.items()} | {
    "空间布局": "layout",
    "布局": "layout",
    "污染物排放": "discharge",
    "排放": "discharge",
    "环境风险": "risk",
    "风险": "risk",
    "资源开发效率": "efficiency",
    "资源利用效率": "efficiency",
    "资源开发利用效率要求": "efficiency",
    "效率": "efficiency",
}
_EFFECT_ALIASES = {v: k for k, v in EFFECTS.items()} | {
    "禁止类": "prohibit",
    "限制类": "restrict",
    "要求类": "require",
    "允许": "require",
}

# keywords of the text → project types, flags (longest first where they overlap)
_TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "工业项目": ("industrial",),
    "工业企业": ("industrial",),
    "房地产开发": ("residential",),
    "住宅": ("residential",),
    "居住": ("residential",),
    "民用建筑": ("construction", "residential"),
    "线性基础设施": ("linear",),
    "线性工程": ("linear",),
    "施工工地": ("construction",),
    "畜禽养殖": ("agriculture",),
    "养殖": ("agriculture",),
    "农业灌溉": ("agriculture",),
}
_FLAG_WORDS: dict[str, str] = {
    "挥发性有机物": "vocs",
    "VOCS": "vocs",
    "氮氧化物": "nox",
    "NOX": "nox",
    "重金属": "heavy_metals",
    "废水": "wastewater",
    "污水": "sewage",
    "粪污": "manure",
    "粪便": "manure",
}
_PROHIBIT_RE = re.compile(r"禁止|严禁|不得|不予")
_RESTRICT_RE = re.compile(r"限制|严格控制|严控|论证|原则上不|控制规模")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntryConditions(_Model):
    """Machine-checkable conditions of an entry; every given condition must hold.

    ``industry_prefixes``: GB/T 4754 code prefixes (the project's code starts with one);
    ``industry_names``: the names they were read from (for reports);
    ``project_types``: the project is one of these; ``development``: new build and/or
    expansion; ``flags``: the project has at least one of these flags.
    """

    industry_prefixes: list[str] | None = None
    industry_names: list[str] | None = None
    project_types: list[Literal[tuple(PROJECT_TYPES)]] | None = None  # type: ignore[valid-type]
    development: list[Literal["new", "expansion"]] | None = None
    flags: list[Literal[tuple(FLAGS)]] | None = None  # type: ignore[valid-type]

    @field_validator("industry_prefixes")
    @classmethod
    def _prefixes(cls, v: list[str] | None) -> list[str] | None:
        return normalise_prefixes(v, what="industry code")  # the packs' rule too

    @property
    def checkable(self) -> bool:
        """Whether the entry says whom it concerns (industry, project type or flag).

        新建/扩建 alone qualifies but does not say whom: not checkable on its own.
        """
        return bool(self.industry_prefixes or self.project_types or self.flags)

    def describe(self) -> str:
        """Short Chinese description, e.g. "行业: C26*(化工); 建设性质: 新建、改扩建"."""
        parts = []
        if self.industry_prefixes:
            names = f"({'、'.join(self.industry_names)})" if self.industry_names else ""
            parts.append("行业: " + "、".join(f"{p}*" for p in self.industry_prefixes) + names)
        if self.project_types:
            parts.append("项目类型: " + "、".join(PROJECT_TYPES[t] for t in self.project_types))
        if self.development:
            parts.append("建设性质: " + "、".join(DEVELOPMENT[d] for d in self.development))
        if self.flags:
            parts.append("涉及: " + "、".join(FLAGS[f] for f in self.flags))
        return "; ".join(parts)


class AccessEntry(_Model):
    """One access-list entry (准入清单条目) of a control unit."""

    unit_code: str = ""
    dimension: Literal["layout", "discharge", "risk", "efficiency"]
    effect: Literal["prohibit", "restrict", "require"]
    text: str = Field(min_length=1)
    text_en: str = ""
    conditions: EntryConditions | None = None
    source_row: int | None = None

    @field_validator("dimension", mode="before")
    @classmethod
    def _dim(cls, v: Any) -> Any:
        t = str(v).strip()
        return _DIM_ALIASES.get(t, t.lower())

    @field_validator("effect", mode="before")
    @classmethod
    def _effect(cls, v: Any) -> Any:
        t = str(v).strip()
        return _EFFECT_ALIASES.get(t, t.lower())


def _found(text: str, words: Iterable[str]) -> list[str]:
    """Words found in ``text``, in text order, ignoring words inside a longer hit."""
    hits: list[tuple[int, str]] = []
    taken = text.upper()
    for w in sorted(words, key=len, reverse=True):  # longest first claims its place
        at = taken.find(w.upper())
        if at >= 0:
            hits.append((at, w))
            taken = taken.replace(w.upper(), "\x00" * len(w))
    return [w for _, w in sorted(hits)]


def parse_entry_text(text: str) -> tuple[str, EntryConditions | None]:
    """Read the effect and checkable conditions of an entry from its Chinese text.

    Parameters
    ----------
    text
        The entry text, e.g. "禁止新建、扩建石化、化工项目".

    Returns
    -------
    tuple of (str, EntryConditions or None)
        The effect (``prohibit`` when the text says 禁止/严禁/不得/不予,
        ``restrict`` for 限制/严格控制/论证/原则上不, else ``require``) and the
        conditions (``None`` when the text names no industry, project type or flag).

    Examples
    --------
    >>> effect, cond = parse_entry_text("禁止新建、扩建石化、化工项目")
    >>> effect, cond.industry_prefixes, cond.development
    ('prohibit', ['C251', 'C26'], ['new', 'expansion'])
    """
    effect, cond = _parse_entry_text(str(text))
    return effect, (None if cond is None else cond.model_copy(deep=True))


@functools.lru_cache(maxsize=4096)
def _parse_entry_text(text: str) -> tuple[str, EntryConditions | None]:
    # units repeat the same texts: each distinct text is read once (callers get copies)
    effect = (
        "prohibit" if _PROHIBIT_RE.search(text) else "restrict" if _RESTRICT_RE.search(text)
        else "require"
    )  # fmt: skip
    names = _found(text, INDUSTRY_CLASSES)
    prefixes = list(dict.fromkeys(p for n in names for p in INDUSTRY_CLASSES[n]))
    types = list(dict.fromkeys(t for w in _found(text, _TYPE_WORDS) for t in _TYPE_WORDS[w]))
    flags = list(dict.fromkeys(_FLAG_WORDS[w] for w in _found(text, _FLAG_WORDS)))
    dev: list[str] = []
    if "新建" in text or "新改扩建" in text or "新增" in text:
        dev.append("new")
    if re.search(r"扩建|改建|改扩建", text):
        dev.append("expansion")
    cond = EntryConditions(
        industry_prefixes=prefixes or None,
        industry_names=[n for n in names] or None,
        project_types=types or None,
        development=dev or None,
        flags=flags or None,
    )
    return effect, (cond if cond.checkable else None)


def entry_from_mapping(raw: Mapping[str, Any], *, unit_code: str = "") -> AccessEntry:
    """An :class:`AccessEntry` from a stored dict (a unit's ``access_list`` JSON).

    Accepts the structured form (``effect``, ``conditions``) and the older one
    (``project_types`` / ``industry_prefixes`` / ``requires`` filters, no effect):
    missing effect and conditions are parsed from the text.

    Raises
    ------
    pydantic.ValidationError
        An unknown dimension, effect, project type or flag.
    """
    text = str(raw.get("text", ""))
    effect, parsed = _parse_entry_text(text)  # the shared cached copy: only dumped below
    cond = raw.get("conditions")
    if cond is None:
        old = {
            "industry_prefixes": raw.get("industry_prefixes"),
            "project_types": raw.get("project_types"),
            "flags": raw.get("requires"),
        }
        if any(old.values()):  # explicit filters: they are the conditions
            cond = {k: v for k, v in old.items() if v}
        elif parsed is not None:
            cond = parsed.model_dump()
    return AccessEntry(
        unit_code=str(raw.get("unit_code") or unit_code),
        dimension=raw.get("dimension", ""),
        effect=raw.get("effect") or effect,
        text=text,
        text_en=str(raw.get("text_en") or ""),
        conditions=cond,
        source_row=raw.get("source_row"),
    )


def _industry_match(code: str | None, prefixes: Sequence[str]) -> bool | None:
    if not code:
        return None
    if any(code.startswith(p) for p in prefixes):
        return True
    if any(p.startswith(code) for p in prefixes):
        return None  # the project's code is coarser than the entry's: cannot tell
    return False


#: Project types that are never a mining or manufacturing plant.
_NON_INDUSTRIAL = frozenset({"residential", "linear", "agriculture"})


def _project_type(p: Project) -> str | None:
    """The project's type, or "industrial" for a mining/manufacturing code (B, C)."""
    if p.project_type is not None:
        return p.project_type
    if p.industry_code and p.industry_code[0] in "BC":
        return "industrial"
    return None


def judge_entry(entry: AccessEntry, project: Project | None) -> tuple[str, str]:
    """Judge one entry for a project.

    Parameters
    ----------
    entry
        The entry.
    project
        The project (``None``: nothing known about it).

    Returns
    -------
    tuple of (str, str)
        The judgement code (:data:`JUDGEMENTS`) and the reason, in Chinese.

    Examples
    --------
    >>> e = AccessEntry(dimension="layout", effect="prohibit", text="禁止新建、扩建石化、化工项目",
    ...                 conditions=parse_entry_text("禁止新建、扩建石化、化工项目")[1])
    >>> judge_entry(e, Project(industry_code="C2641", flags={"vocs"}))[0]
    'violates'
    """
    p = Project() if project is None else project
    c = entry.conditions
    if c is None or not c.checkable:
        return "needs_review", "条款无可机读的适用条件，须人工核实项目是否符合"
    unknown: list[str] = []
    # What kind of project the entry is about — its industries and its project types —
    # are alternatives ("工业项目和房地产开发项目": an industrial project or a real-estate
    # one): the entry applies when either matches, and is not applicable only when every
    # one given is known not to match.
    matched: list[bool | None] = []
    misses: list[str] = []
    if c.industry_prefixes:
        m = _industry_match(p.industry_code, c.industry_prefixes)
        if (
            m is None
            and not p.industry_code
            and p.project_type in _NON_INDUSTRIAL
            and all(x[0] in "BC" for x in c.industry_prefixes)
        ):
            m = False
            misses.append(f"项目类型 {PROJECT_TYPES[p.project_type]} 不属于采矿业/制造业")
        elif m is False:
            misses.append(f"行业代码 {p.industry_code} 不属于所列行业")
        elif m is None:
            unknown.append(
                "项目未给出行业代码"
                if not p.industry_code
                else f"行业代码 {p.industry_code} 过粗，无法判断是否属于 "
                + "、".join(c.industry_prefixes)
            )
        matched.append(m)
    if c.project_types:
        t = _project_type(p)
        if t is None:
            unknown.append("项目未给出项目类型")
            matched.append(None)
        else:
            matched.append(t in c.project_types)
            if t not in c.project_types:
                misses.append(f"项目类型 {PROJECT_TYPES[t]} 不在适用范围")
    if matched and any(m is True for m in matched):
        unknown = []  # one of the alternatives matches: the rest does not matter
    elif matched and all(m is False for m in matched):
        return "not_applicable", "；".join(misses) + f"（{c.describe()}）"
    if c.flags and not (p.flags & set(c.flags)):
        return "not_applicable", "项目未申报涉及 " + "、".join(FLAGS[f] for f in c.flags)
    if c.development and p.development not in c.development:
        return "not_applicable", f"建设性质为{DEVELOPMENT[p.development]}，条款针对" + "、".join(
            DEVELOPMENT[d] for d in c.development
        )
    if unknown:
        return "needs_review", "；".join(unknown) + "，须人工核实"
    what = c.describe()
    who = "、".join(
        x
        for x in (
            describe_industry(p.industry_code) if c.industry_prefixes else "",
            PROJECT_TYPES.get(_project_type(p) or "", "") if c.project_types else "",
            DEVELOPMENT[p.development] if c.development else "",
        )
        if x
    )
    who = f"项目（{who}）" if who else "项目"
    if entry.effect == "prohibit":
        return "violates", f"{who}属于禁止情形：{what}"
    if entry.effect == "restrict":
        return "needs_demonstration", f"{who}属于限制情形：{what}，须论证"
    return "complies", f"{who}适用本条（{what}），须落实本条要求"


# --------------------------------------------------------------------------- import

_COLUMNS: dict[str, tuple[str, ...]] = {
    "unit_code": ("环境管控单元编码", "管控单元编码", "单元编码", "unit_code", "code"),
    "dimension": ("管控维度", "维度", "dimension"),
    "text": ("管控要求", "准入要求", "要求", "text"),
    "effect": ("效力", "约束类型", "effect"),
    "industry": ("行业代码", "industry_code", "industry_codes"),
    "text_en": ("管控要求(英文)", "text_en"),
}


@dataclass
class AccessListImport:
    """A published access list read from a file.

    Attributes
    ----------
    entries
        The entries that could be read, each with its ``source_row``.
    errors
        One dict per unusable or unjoined row: ``file``, ``row``, ``code``, ``problem``.
    """

    source: str
    entries: list[AccessEntry] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def read_access_list(path: str | Path, *, sheet: str | int | None = None) -> AccessListImport:
    """Read a published access list (CSV/TXT or XLSX) keyed by unit code.

    Columns (Chinese or English header): 环境管控单元编码 (unit code), 管控维度
    (dimension), 管控要求 (text); optional 效力/约束类型 (禁止/限制/要求; parsed from
    the text when absent), 行业代码 (GB/T 4754 codes separated by 、 , or ;).
    Conditions are parsed from the text (:func:`parse_entry_text`); given industry
    codes replace those read from the text.

    Parameters
    ----------
    path
        The file.
    sheet
        Excel sheet name or index (default: the first).

    Returns
    -------
    AccessListImport
        Bad rows are listed in ``errors`` (file, row, problem) and the rest read.

    Raises
    ------
    geo.errors.InputFormatError
        The file cannot be read, or lacks the unit-code, dimension or text column.
    """
    from geo.io.tabular import load_text_table, load_xlsx, split_header

    path = Path(path)
    if not path.is_file():
        msg = f"{path}: access-list file not found"
        raise InputFormatError(msg)
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK"):
        raw, rows, _ = load_xlsx(path, sheet=sheet, source=str(path))
    else:
        raw, rows = load_text_table(path, encoding=None, source=str(path))
    data, data_rows, header = split_header(raw, rows, header_row=0)
    cols: dict[str, str | None] = {}
    for key, names in _COLUMNS.items():
        cols[key] = next((h for h in header if h.strip() in names), None)
    missing = [_COLUMNS[k][0] for k in ("unit_code", "dimension", "text") if cols[k] is None]
    if missing:
        msg = (
            f"{path}: no column {'/'.join(missing)} in the header {header}; the access list "
            "needs 环境管控单元编码, 管控维度 and 管控要求 (optional 效力, 行业代码)"
        )
        raise InputFormatError(msg)
    out = AccessListImport(str(path))

    def cell(r: pd.Series, key: str) -> str:
        c = cols[key]
        v = None if c is None else r[c]
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()

    for (_, r), row_no in zip(data.iterrows(), data_rows, strict=True):
        code = cell(r, "unit_code")
        text = cell(r, "text")
        problem = None
        if not code:
            problem = "环境管控单元编码为空 / the unit code is empty"
        elif not text:
            problem = "管控要求为空 / the requirement text is empty"
        if problem:
            out.errors.append({"file": str(path), "row": int(row_no), "code": code,
                               "problem": problem})  # fmt: skip
            continue
        effect, cond = parse_entry_text(text)
        given_effect = cell(r, "effect")
        industry = [x for x in re.split(r"[、,，;；\s]+", cell(r, "industry")) if x]
        if industry:
            base = cond.model_dump() if cond is not None else {}
            base["industry_prefixes"] = industry
            cond = base
        try:
            entry = AccessEntry(
                unit_code=code,
                dimension=cell(r, "dimension"),
                effect=given_effect or effect,
                text=text,
                text_en=cell(r, "text_en"),
                conditions=cond,
                source_row=int(row_no),
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            out.errors.append({
                "file": str(path), "row": int(row_no), "code": code,
                "problem": f"{where}: {err['msg']} (got {err.get('input')!r}); "
                "管控维度 is one of 空间布局约束/污染物排放管控/环境风险防控/资源开发效率要求, "
                "效力 one of 禁止/限制/要求",
            })  # fmt: skip
            continue
        out.entries.append(entry)
    return out


def join_access_list(
    units: gpd.GeoDataFrame, imported: AccessListImport, *, code_column: str = "unit_code"
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Attach imported entries to unit polygons by unit code.

    Parameters
    ----------
    units
        The control-unit layer (a ``unit_code`` column).
    imported
        From :func:`read_access_list`.
    code_column
        The units' code column.

    Returns
    -------
    tuple of (GeoDataFrame, list of dict)
        A copy of ``units`` whose ``access_list`` is the JSON list of its entries
        (units the file does not name keep theirs), and the rows that did not join
        (file, row, code, problem) after the file's own bad rows.

    Raises
    ------
    geo.errors.InputFormatError
        ``units`` has no ``code_column``.
    """
    if code_column not in units.columns:
        msg = (
            f"the control-unit layer has no {code_column!r} column (columns: {list(units.columns)})"
        )
        raise InputFormatError(msg)
    known = set(units[code_column].astype(str))
    by_code: dict[str, list[dict[str, Any]]] = {}
    errors = list(imported.errors)
    for e in imported.entries:
        if e.unit_code not in known:
            errors.append({
                "file": imported.source, "row": e.source_row, "code": e.unit_code,
                "problem": "没有此编码的环境管控单元 / no control unit has this code",
            })  # fmt: skip
            continue
        by_code.setdefault(e.unit_code, []).append(e.model_dump(exclude_none=True))
    out = units.copy()
    old = out["access_list"] if "access_list" in out.columns else pd.Series("", index=out.index)
    codes = out[code_column].astype(str)
    out["access_list"] = [
        json.dumps(by_code[c], ensure_ascii=False) if c in by_code else o
        for c, o in zip(codes, old, strict=True)
    ]
    return out, errors


def import_access_list(
    store: Any,
    path: str | Path,
    *,
    units: str = "control_unit",
    source: str | None = None,
    source_date: str | None = None,
    sheet: str | int | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """Import a published access list into a new version of a control-unit layer.

    The list (:func:`read_access_list`) is joined to the latest version of layer
    ``units`` by unit code (:func:`join_access_list`); the units with their new lists
    are stored through the store's normal import (validation, a new version, the old
    one kept). Units the file does not name keep their lists.

    Parameters
    ----------
    store
        A :class:`layers.LayerStore` (or PostGIS store).
    path
        The access-list file (CSV or XLSX).
    units
        Name of the control-unit layer in the store.
    source, source_date
        Recorded with the new version (default: the file name and the units' version).
    sheet
        Excel sheet name or index.

    Returns
    -------
    tuple of (Layer, list of dict)
        The new layer version, and the rows that were not imported (file, row, code,
        problem): bad rows and rows whose code names no unit.

    Raises
    ------
    geo.errors.InputFormatError
        The file cannot be read, or no row joins any unit (nothing is stored then).
    geo.errors.LayerValidationError
        The layer ``units`` is missing or is not of kind ``control_unit``.
    """
    from geo.errors import LayerValidationError

    imported = read_access_list(path, sheet=sheet)
    try:
        current = store.get(units)
    except (KeyError, LookupError, ValueError) as exc:
        msg = (
            f"--units {units!r}: no such layer in the store ({exc}); import the control-unit "
            "polygons first (ecozone layers import FILE --kind control_unit) or name the "
            "layer shown by `ecozone layers list`"
        )
        raise LayerValidationError(msg) from None
    if current.kind != "control_unit":
        msg = f"--units {units!r} is a {current.kind!r} layer, not control_unit"
        raise LayerValidationError(msg)
    gdf, errors = join_access_list(current.gdf, imported)
    known = set(current.gdf["unit_code"].astype(str))
    joined = sum(e.unit_code in known for e in imported.entries)
    if joined <= 0:
        msg = (
            f"{path}: no row of the access list joins a unit of layer {units!r} "
            f"v{current.version} ({len(errors)} rows rejected; first: "
            f"{errors[0] if errors else 'the file has no rows'}); check the unit codes"
        )
        raise InputFormatError(msg)
    synthetic = bool("synthetic" in gdf.columns and gdf["synthetic"].astype(bool).all())
    kwargs: dict[str, Any] = {}
    extent = getattr(current, "extent", None)
    if extent is not None:  # the units did not move: the version keeps their extent
        kwargs["extent"] = extent
    layer = store.import_layer(
        gdf,
        name=units,
        kind="control_unit",
        source=source or f"{Path(path).name} (准入清单) + {units} v{current.version}",
        source_date=source_date,
        synthetic=synthetic,
        **kwargs,
    )
    return layer, errors
