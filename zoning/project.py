"""The project being checked: what kind of project it is and what it does.

A :class:`Project` carries the attributes that rule conditions look at (see
:class:`zoning.pack.Conditions`): the project type, the GB/T 4754 industry code,
activity flags (wastewater, sewage, ...), new build or expansion, temporary land use,
whether it serves the water supply, and the lon/lat points of its site exits.

Batch input (one project per table row) is read with :func:`project_from_row`, which
accepts English or Chinese column names and Chinese values (e.g. ``建设性质 = 新建``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from geo.errors import InputFormatError

__all__ = [
    "ACTIVITIES",
    "CONDITION_COLUMNS",
    "DEVELOPMENT",
    "FLAGS",
    "FLAG_COLUMNS",
    "GENERIC_COLUMNS",
    "PROJECT_COLUMNS",
    "PROJECT_TYPES",
    "TYPE_SECTIONS",
    "Project",
    "column_key",
    "condition_columns",
    "field_column",
    "match_columns",
    "project_from_row",
    "type_allows_code",
]

#: Project types, with their Chinese labels.
PROJECT_TYPES: dict[str, str] = {
    "construction": "施工工地/建设项目",
    "residential": "居住项目",
    "industrial": "工业项目",
    "linear": "线性工程(道路、管线等)",
    "agriculture": "农业/养殖项目",
    "other": "其他",
}

#: The GB/T 4754-2017 sections (门类) a project of each type belongs to, as far as its
#: type says: 工业 is sections B–D (采矿业, 制造业, 电力、热力、燃气及水生产和供应业: the
#: statistics' definition of industry), 居住 K (房地产业), 农业/养殖 A (农、林、牧、渔业),
#: 线性工程 D, E, G, I and N (pipelines and power lines, civil works, transport, telecoms,
#: water works); ``None``: any section (a construction project, or "other", may be of
#: any industry). A project that gave its type but not its industry code is taken to be
#: of these sections (its notes say so): a rule for industries of other sections does
#: not wait for its code (:func:`type_allows_code`).
TYPE_SECTIONS: dict[str, str | None] = {
    "construction": None,
    "residential": "K",
    "industrial": "BCD",
    "linear": "DEGIN",
    "agriculture": "A",
    "other": None,
}


def type_allows_code(project_type: str | None, code: str | None) -> bool:
    """Whether a project of ``project_type`` may have industry code ``code``.

    ``None`` for either is unknown, and allows anything; otherwise the code's section
    letter must be one of :data:`TYPE_SECTIONS` for the type.

    Examples
    --------
    >>> type_allows_code("residential", "C3110"), type_allows_code("industrial", "C3110")
    (False, True)
    >>> type_allows_code(None, "C3110"), type_allows_code("construction", "C3110")
    (True, True)
    """
    if project_type is None or not code:
        return True
    sections = TYPE_SECTIONS.get(project_type)
    return sections is None or code[:1].upper() in sections


#: Activity flags a rule condition can test, with their Chinese labels.
FLAGS: dict[str, str] = {
    "wastewater": "排放废水",
    "vocs": "排放挥发性有机物(VOCs)",
    "sewage": "排放污水",
    "garbage": "堆放垃圾",
    "toilets": "设置厕所",
    "manure": "堆放畜禽粪便",
    "nox": "排放氮氧化物(NOx)",
    "heavy_metals": "排放重点重金属",
    # added for the rules of issue #11 §4 (docs/rules.md "Rules added")
    "red_mud": "产生赤泥",
    "manganese_slag": "产生锰渣",
    "steel": "新增钢铁(炼铁、炼钢)产能",
    "coking": "新增焦化产能",
    "chemical": "化工项目或化工园区",
    "tailings": "建设尾矿库",
}

#: Limited human activities a project may declare (生态保护红线内允许的有限人为活动,
#: 自然资发〔2022〕142号 一(一) and the plans' own exceptions), with Chinese labels.
#: A declared activity lets a rule's exception apply (zoning.pack.RuleException).
ACTIVITIES: dict[str, str] = {
    "patrol_management": "管护巡护、保护执法及必要设施",
    "research_monitoring": "科学研究、调查监测、测绘导航",
    "disaster_relief": "防灾减灾救灾、应急抢险",
    "military_defense": "军事国防",
    "residents_livelihood": "原住居民基本生产生活(不扩大现有规模)",
    "archaeology": "考古调查发掘和文物保护",
    "eco_tourism": "适度参观旅游、科普宣教及配套设施",
    "linear_infrastructure": "必须且无法避让的线性基础设施(含通讯、防洪)",
    "water_supply_facility": "供水设施建设",
    "facility_maintenance": "已有合法水利、交通运输等设施运行维护改造",
    "geological_survey": "地质调查与矿产资源勘查",
    "ecological_restoration": "生态修复",
    "border_works": "边界边境通视道清理及界务工程",
}

#: Development kinds: a new project or the expansion (改扩建) of an existing one.
DEVELOPMENT: dict[str, str] = {
    "new": "新建",
    "expansion": "改扩建",
}

# Values people write in tables, mapped to the codes above.
_TYPE_ALIASES: dict[str, str] = {
    "施工工地": "construction",
    "建设项目": "construction",
    "施工": "construction",
    "工地": "construction",
    "施工工地/建设项目": "construction",
    "居住": "residential",
    "住宅": "residential",
    "居住项目": "residential",
    "工业": "industrial",
    "工业项目": "industrial",
    "线性工程": "linear",
    "线性工程(道路、管线等)": "linear",
    "道路": "linear",
    "管线": "linear",
    "农业": "agriculture",
    "养殖": "agriculture",
    "农业/养殖项目": "agriculture",
    "其他": "other",
    "其它": "other",
}
_FLAG_ALIASES: dict[str, str] = {
    "废水": "wastewater",
    "排放废水": "wastewater",
    "vocs": "vocs",
    "挥发性有机物": "vocs",
    "污水": "sewage",
    "排放污水": "sewage",
    "垃圾": "garbage",
    "堆放垃圾": "garbage",
    "厕所": "toilets",
    "设置厕所": "toilets",
    "粪便": "manure",
    "畜禽粪便": "manure",
    "堆放畜禽粪便": "manure",
    "氮氧化物": "nox",
    "重金属": "heavy_metals",
    "heavy_metal": "heavy_metals",
    "排放氮氧化物": "nox",
    "涉重金属": "heavy_metals",
    "赤泥": "red_mud",
    "锰渣": "manganese_slag",
    "钢铁": "steel",
    "焦化": "coking",
    "化工": "chemical",
    "化工项目": "chemical",
    "化工园区": "chemical",
    "尾矿库": "tailings",
}
_ACTIVITY_ALIASES: dict[str, str] = {v: k for k, v in ACTIVITIES.items()} | {
    "管护巡护": "patrol_management",
    "巡护": "patrol_management",
    "科研监测": "research_monitoring",
    "科学研究": "research_monitoring",
    "调查监测": "research_monitoring",
    "防灾减灾": "disaster_relief",
    "抢险救灾": "disaster_relief",
    "国防": "military_defense",
    "原住居民": "residents_livelihood",
    "考古": "archaeology",
    "参观旅游": "eco_tourism",
    "线性基础设施": "linear_infrastructure",
    "供水设施": "water_supply_facility",
    "设施维护": "facility_maintenance",
    "地质调查": "geological_survey",
    "矿产勘查": "geological_survey",
    "生态修复": "ecological_restoration",
    "界务工程": "border_works",
}
_DEVELOPMENT_ALIASES: dict[str, str] = {
    "新建": "new",
    "扩建": "expansion",
    "改建": "expansion",
    "改扩建": "expansion",
    "expand": "expansion",
    "extension": "expansion",
}
_TRUE = {"true", "yes", "y", "1", "是", "有", "t", "x", "✓"}
_FALSE = {"false", "no", "n", "0", "否", "无", "f", ""}

# GB/T 4754-2017: a section letter A–T, optionally followed by 2–4 digits.
_INDUSTRY_RE = re.compile(r"^[A-T](\d{2}(\d{1,2})?)?$")


def _allowed(values: Mapping[str, str]) -> str:
    return ", ".join(f"{k} ({v})" for k, v in values.items())


def _norm_project_type(value: Any, *, where: str) -> str | None:
    if _is_blank(value):
        return None
    text = str(value).strip()
    key = text.lower()
    if key in PROJECT_TYPES:
        return key
    if text in _TYPE_ALIASES:
        return _TYPE_ALIASES[text]
    msg = f"{where}: unknown project type {value!r}; allowed: {_allowed(PROJECT_TYPES)}"
    raise InputFormatError(msg)


def _norm_flag(value: Any, *, where: str) -> str:
    text = str(value).strip()
    key = text.lower()
    if key in FLAGS:
        return key
    if key in _FLAG_ALIASES:
        return _FLAG_ALIASES[key]
    if text in _FLAG_ALIASES:
        return _FLAG_ALIASES[text]
    msg = f"{where}: unknown flag {value!r}; allowed: {_allowed(FLAGS)}"
    raise InputFormatError(msg)


def _norm_development(value: Any, *, where: str) -> str:
    if _is_blank(value):
        return "new"
    text = str(value).strip()
    key = text.lower()
    if key in DEVELOPMENT:
        return key
    if key in _DEVELOPMENT_ALIASES:
        return _DEVELOPMENT_ALIASES[key]
    if text in _DEVELOPMENT_ALIASES:
        return _DEVELOPMENT_ALIASES[text]
    msg = f"{where}: unknown development {value!r}; allowed: {_allowed(DEVELOPMENT)}"
    raise InputFormatError(msg)


def _norm_activity(value: Any, *, where: str) -> str | None:
    if _is_blank(value):
        return None
    text = str(value).strip()
    key = text.lower()
    if key in ACTIVITIES:
        return key
    if text in _ACTIVITY_ALIASES:
        return _ACTIVITY_ALIASES[text]
    msg = f"{where}: unknown activity {value!r}; allowed: {_allowed(ACTIVITIES)}"
    raise InputFormatError(msg)


def _norm_industry_code(value: Any, *, where: str) -> str | None:
    if _is_blank(value):
        return None
    code = re.sub(r"\s+", "", str(value)).upper()
    if not _INDUSTRY_RE.match(code):
        msg = (
            f"{where}: industry code {value!r} is not a GB/T 4754 code; write a section "
            "letter A–T optionally followed by 2–4 digits, e.g. 'C', 'C26' or 'C2614'"
        )
        raise InputFormatError(msg)
    # and its division must be one of its section's: 'A2614' for C2614 is no code at all,
    # and read as one it would miss every rule for the chemical industry
    from zoning.industry import validate_industry_code

    return validate_industry_code(code, where=where)


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if type(value).__name__ in {"NAType", "NaTType"}:  # pandas missing values
        return True
    return isinstance(value, str) and value.strip() == ""


def _norm_bool(value: Any, *, where: str) -> bool:
    if _is_blank(value):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    # strings, and numpy bools (str(np.True_) == "True")
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    msg = f"{where}: cannot read {value!r} as yes/no; write true/false, 是/否 or 1/0"
    raise InputFormatError(msg)


def _norm_exits(value: Any, *, where: str) -> tuple[tuple[float, float], ...]:
    if _is_blank(value):
        return ()
    if isinstance(value, str):
        # "116.6,39.9; 116.61,39.91"
        points = []
        for part in re.split(r"[;；|]", value):
            if not part.strip():
                continue
            nums = re.split(r"[,，\s]+", part.strip())
            if len(nums) != 2:
                msg = f"{where}: cannot read exit point {part!r}; write 'lon,lat; lon,lat'"
                raise InputFormatError(msg)
            points.append((nums[0], nums[1]))
        value = points
    out = []
    for pt in value:
        if hasattr(pt, "x") and hasattr(pt, "y"):  # shapely Point
            pt = (pt.x, pt.y)
        try:
            lon, lat = (float(c) for c in pt)
        except (TypeError, ValueError):
            msg = f"{where}: exit point {pt!r} is not a (lon, lat) pair of numbers"
            raise InputFormatError(msg) from None
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            msg = f"{where}: exit point ({lon}, {lat}) is not a WGS84 lon/lat; give degrees"
            raise InputFormatError(msg)
        out.append((lon, lat))
    return tuple(out)


@dataclass(frozen=True)
class Project:
    """A project whose site is being checked.

    Parameters
    ----------
    name
        Free text name shown in reports.
    project_type
        One of :data:`PROJECT_TYPES` (``"construction"``, ``"residential"``,
        ``"industrial"``, ``"linear"``, ``"agriculture"``, ``"other"``) or ``None``
        (unknown: only rules without a project-type condition apply). Chinese labels
        such as ``"施工工地"`` are accepted.
    industry_code
        GB/T 4754-2017 industry code (``"C2614"``); normalised to upper case.
    flags
        Subset of :data:`FLAGS`: ``"wastewater"``, ``"vocs"``, ``"sewage"``,
        ``"garbage"``, ``"toilets"``, ``"manure"``, ``"nox"``, ``"heavy_metals"``,
        ``"red_mud"``, ``"manganese_slag"``, ``"steel"``, ``"coking"``,
        ``"chemical"``, ``"tailings"``.
    development
        ``"new"`` (新建) or ``"expansion"`` (改扩建).
    temporary_land_use
        The project uses land only temporarily (临时用地).
    water_supply
        The project is a water-supply facility (供水设施), the one kind allowed in a
        grade-1 water-source protection zone.
    exits
        Lon/lat (WGS84) points of the site exits, used by the 200 m exit-band rule.
    activity
        The limited human activity the project declares it is (one of
        :data:`ACTIVITIES`, e.g. ``"linear_infrastructure"``), or ``None``. Rule
        exceptions (e.g. the red line's limited activities) apply only to a declared
        activity. ``water_supply=True`` declares ``"water_supply_facility"`` when no
        other activity is given, and that activity sets ``water_supply``.

    Raises
    ------
    geo.errors.InputFormatError
        (a ``ValueError``) An unknown project type, flag or development kind (the
        message lists the allowed values), a malformed industry code or exit point.

    Examples
    --------
    >>> p = Project(project_type="industrial", industry_code="c2614", flags={"wastewater"})
    >>> p.industry_code, sorted(p.flags)
    ('C2614', ['wastewater'])
    """

    name: str = ""
    project_type: str | None = None
    industry_code: str | None = None
    flags: frozenset[str] = field(default_factory=frozenset)
    development: str = "new"
    temporary_land_use: bool = False
    water_supply: bool = False
    exits: tuple[tuple[float, float], ...] = ()
    activity: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise in place once
        set_(self, "name", "" if self.name is None else str(self.name))
        set_(self, "project_type", _norm_project_type(self.project_type, where="project_type"))
        set_(self, "industry_code", _norm_industry_code(self.industry_code, where="industry_code"))
        flags = self.flags
        if isinstance(flags, str):
            flags = [f for f in re.split(r"[;,；，\s]+", flags) if f]
        set_(self, "flags", frozenset(_norm_flag(f, where="flags") for f in flags))
        set_(self, "development", _norm_development(self.development, where="development"))
        if not isinstance(self.temporary_land_use, bool):
            set_(
                self,
                "temporary_land_use",
                _norm_bool(self.temporary_land_use, where="temporary_land_use"),
            )
        if not isinstance(self.water_supply, bool):
            set_(self, "water_supply", _norm_bool(self.water_supply, where="water_supply"))
        set_(self, "exits", _norm_exits(self.exits, where="exits"))
        set_(self, "activity", _norm_activity(self.activity, where="activity"))
        # linear infrastructure is a linear project (an industrial project declaring it is
        # a contradiction the red-line exception does not accept: pack condition)
        if self.activity == "linear_infrastructure" and self.project_type is None:
            set_(self, "project_type", "linear")
        # a water-supply facility is the notice's limited activity of that name, and back
        if self.water_supply and self.activity is None:
            set_(self, "activity", "water_supply_facility")
        elif self.activity == "water_supply_facility" and not self.water_supply:
            set_(self, "water_supply", True)

    @property
    def project_type_zh(self) -> str:
        """Chinese label of the project type ("" when unknown)."""
        return PROJECT_TYPES.get(self.project_type or "", "")

    @property
    def activity_zh(self) -> str:
        """Chinese label of the declared activity ("" when none)."""
        return ACTIVITIES.get(self.activity or "", "")

    @property
    def flags_zh(self) -> list[str]:
        """Chinese labels of the flags, in the order of :data:`FLAGS`."""
        return [label for key, label in FLAGS.items() if key in self.flags]


#: Column names accepted by :func:`project_from_row`. Of a field's names the first the
#: input has is read, so the specific ones come first and the generic ones
#: (:data:`GENERIC_COLUMNS`) last: a file with ``项目类型`` and a land-use ``类型`` reads
#: the former. (A KML Placemark's ``name`` is often not the project's: it is the last.)
PROJECT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("项目名称", "project_name", "名称", "XMMC", "name"),
    "project_type": ("project_type", "项目类型", "type", "类型"),
    "industry_code": ("industry_code", "行业代码", "国民经济行业代码", "industry"),
    "flags": ("flags", "标志", "活动"),
    "development": ("development", "建设性质"),
    "temporary_land_use": ("temporary_land_use", "临时用地", "temporary"),
    "water_supply": ("water_supply", "供水设施", "供水"),
    "exits": ("exits", "出口坐标", "exit", "出口"),
    "activity": ("activity", "活动类型", "有限人为活动"),
}

#: Names of :data:`PROJECT_COLUMNS` that a sites file may use for something else (a
#: land-use class, a feature's kind): read only when the field has no specific column,
#: and a value there that cannot be read says how to stop the column being read.
GENERIC_COLUMNS: frozenset[str] = frozenset(
    {"type", "类型", "industry", "temporary", "exit", "出口", "供水", "标志", "活动"}
)


#: Boolean columns, one per flag, that :func:`project_from_row` reads (true/false,
#: 是/否, 1/0): the flag, its Chinese label and every alias of it.
FLAG_COLUMNS: dict[str, tuple[str, ...]] = {
    flag: tuple(dict.fromkeys([flag, label, *(k for k, v in _FLAG_ALIASES.items() if v == flag)]))
    for flag, label in FLAGS.items()
}

#: Every input column a rule condition reads through :func:`project_from_row`: the
#: fields of :data:`PROJECT_COLUMNS` (name and exits aside: no condition reads them, and
#: exits are read apart) and the flag columns of :data:`FLAG_COLUMNS`. A batch reads a
#: row's project from exactly these columns (:func:`condition_columns`), so any column
#: :func:`project_from_row` honours is honoured in a batch too.
CONDITION_COLUMNS: frozenset[str] = frozenset(
    [n for f, names in PROJECT_COLUMNS.items() if f not in ("name", "exits") for n in names]
    + [n for names in FLAG_COLUMNS.values() for n in names]
)


def column_key(name: Any) -> str:
    """A column name as it is matched: NFKC, stripped, case-folded.

    So ``VOCs``, ``Steel`` and ``排放挥发性有机物（VOCs）`` (full-width brackets, as a
    Chinese keyboard types them) find the columns ``vocs``, ``steel`` and
    ``排放挥发性有机物(VOCs)``.
    """
    return unicodedata.normalize("NFKC", str(name)).strip().casefold()


#: Every column name of :data:`PROJECT_COLUMNS` and :data:`FLAG_COLUMNS`, by its key.
_NAMES_BY_KEY: dict[str, str] = {
    column_key(n): n
    for n in dict.fromkeys(
        [n for names in PROJECT_COLUMNS.values() for n in names]
        + [n for names in FLAG_COLUMNS.values() for n in names]
    )
}


def match_columns(columns: Iterable[Any]) -> dict[str, str]:
    """The input's columns that name project attributes, as ``{name: input column}``.

    ``name`` is a column name of :data:`PROJECT_COLUMNS` or :data:`FLAG_COLUMNS`; an
    input column matches it when their :func:`column_key` agree (a column named
    exactly so is preferred to one that only matches its key).

    Examples
    --------
    >>> match_columns(["site_id", "VOCs", "项目类型 ", "排放氮氧化物（NOx）"])
    {'vocs': 'VOCs', '项目类型': '项目类型 ', '排放氮氧化物(NOx)': '排放氮氧化物（NOx）'}
    """
    found: dict[str, str] = {}
    for col in columns:
        name = _NAMES_BY_KEY.get(column_key(col))
        if name is not None and (name not in found or col == name):
            found[name] = col
    return found


def condition_columns(columns: Iterable[Any]) -> list[str]:
    """The input columns a rule condition reads (:data:`CONDITION_COLUMNS`, matched)."""
    return [c for n, c in match_columns(columns).items() if n in CONDITION_COLUMNS]


def field_column(found: Mapping[str, Any], field: str) -> Any:
    """The input column a field of :data:`PROJECT_COLUMNS` is read from, or ``None``.

    ``found`` is :func:`match_columns` of the input's columns; of the field's names,
    the first the input has wins.
    """
    name = _field_name(found, field)
    return None if name is None else found[name]


def _field_name(found: Mapping[str, Any], field: str) -> str | None:
    """The name of :data:`PROJECT_COLUMNS` that :func:`field_column` reads, or ``None``."""
    return next((n for n in PROJECT_COLUMNS[field] if n in found), None)


def project_from_row(row: Mapping[str, Any], *, where: str = "row") -> Project:
    """Build a :class:`Project` from one table row (batch input).

    Columns (English or Chinese names): ``project_type`` / ``项目类型``,
    ``industry_code`` / ``行业代码``, ``flags`` (``"wastewater;vocs"``) or one boolean
    column per flag (``wastewater`` / ``排放废水`` ... with true/false, 是/否, 1/0),
    ``development`` / ``建设性质`` (``新建`` / ``扩建`` / ``改扩建``),
    ``temporary_land_use`` / ``临时用地``, ``water_supply`` / ``供水设施``,
    ``exits`` / ``出口坐标`` (``"lon,lat; lon,lat"``) and ``name`` / ``项目名称``.
    Names match whatever their case, surrounding spaces and full- or half-width forms
    (:func:`match_columns`: ``VOCs``, ``排放氮氧化物（NOx）``). Missing columns take the
    :class:`Project` defaults; other columns are ignored.

    Parameters
    ----------
    row
        A mapping such as a ``dict`` or a ``pandas.Series``.
    where
        How to name the row in error messages, e.g. ``"sites.csv row 7"``.

    Returns
    -------
    Project

    Raises
    ------
    geo.errors.InputFormatError
        (a ``ValueError``) A value that cannot be read; the message names the row,
        the column and the value, and lists the allowed values.

    Examples
    --------
    >>> p = project_from_row({"项目类型": "工业", "行业代码": "c26", "排放废水": "是"})
    >>> p.project_type, p.industry_code, sorted(p.flags)
    ('industrial', 'C26', ['wastewater'])
    """
    if hasattr(row, "to_dict"):
        row = row.to_dict()
    values: dict[str, Any] = {}
    found = match_columns(row)
    for fld in PROJECT_COLUMNS:
        name = _field_name(found, fld)
        if name is None:
            continue
        col = found[name]
        try:
            _read_field(values, fld, row[col], where=f"{where}: column {col!r}")
        except InputFormatError as exc:
            if name not in GENERIC_COLUMNS:
                raise
            specific = "/".join(n for n in PROJECT_COLUMNS[fld] if n not in GENERIC_COLUMNS)
            msg = (
                f"{exc}. Column {col!r} is read as the {fld.replace('_', ' ')} because "
                f"there is no {specific} column; if it holds something else, rename it, "
                "or give one project for every site (command line: --project-type and "
                "the other project options)"
            )
            raise InputFormatError(msg) from None
    # One boolean column per flag, English or Chinese name.
    flags = set(values.get("flags", set()))
    for flag, names in FLAG_COLUMNS.items():
        for name in names:
            col = found.get(name)
            if col is not None and name not in PROJECT_COLUMNS["flags"]:
                if _norm_bool(row[col], where=f"{where}: column {col!r}"):
                    flags.add(flag)
    values["flags"] = frozenset(flags)
    return Project(**values)


def _read_field(values: dict[str, Any], fld: str, value: Any, *, where: str) -> None:
    """Read ``value`` of field ``fld`` of :data:`PROJECT_COLUMNS` into ``values``."""
    if fld == "project_type":
        values[fld] = _norm_project_type(value, where=where)
    elif fld == "industry_code":
        values[fld] = _norm_industry_code(value, where=where)
    elif fld == "development":
        values[fld] = _norm_development(value, where=where)
    elif fld in ("temporary_land_use", "water_supply"):
        values[fld] = _norm_bool(value, where=where)
    elif fld == "exits":
        values[fld] = _norm_exits(value, where=where)
    elif fld == "activity":
        values[fld] = _norm_activity(value, where=where)
    elif fld == "flags":
        if not _is_blank(value):
            parts = value if not isinstance(value, str) else re.split(r"[;,；，\s]+", value)
            values["flags"] = {_norm_flag(p, where=where) for p in parts if str(p).strip()}
    elif fld == "name":
        values[fld] = "" if _is_blank(value) else str(value)
