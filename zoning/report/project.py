"""The project a report is about: its input file's attributes, options on top, and their origin.

A planner's site file often carries the project's own attributes: a KML Placemark's
``name``, a GeoJSON ``名称`` / ``项目名称``, a shapefile's ``XMMC`` (项目名称 in pinyin
initials), ``项目类型``, ``行业代码``. :func:`project_from_input` reads them from the
feature's row (with :func:`zoning.project.project_from_row`), lets the options the user
gave override them, and records where each attribute came from, so that the report can
state it (a note of kind ``"assumption"`` and ``project.attribute_sources``).
:func:`select_site` picks one feature of a multi-feature file (``--site ID``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd

from geo.errors import InputFormatError
from zoning.project import (
    FLAG_COLUMNS,
    PROJECT_COLUMNS,
    Project,
    field_column,
    match_columns,
    project_from_row,
)

__all__ = ["field_label", "project_from_input", "select_site"]

#: Labels of the project fields in the note (zh, en).
_FIELD_LABELS = {
    "name": ("项目名称", "project name"),
    "project_type": ("项目类型", "project type"),
    "industry_code": ("行业代码", "industry code"),
    "flags": ("产排污特征", "discharges"),
    "development": ("建设性质", "development"),
    "temporary_land_use": ("临时用地", "temporary land use"),
    "water_supply": ("供水设施", "water supply"),
    "exits": ("工地出口", "site exits"),
    "activity": ("有限人为活动类型", "limited activity"),
}


def field_label(field: str, lang: str = "zh") -> str:
    """The name of a project field in words ("项目名称" / "project name")."""
    zh, en = _FIELD_LABELS.get(field, (field, field))
    return zh if lang == "zh" else en


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, str) and not value.strip():
        return False
    return not (isinstance(value, tuple | list | frozenset | set) and not value)


def select_site(sites: gpd.GeoDataFrame, site: str) -> gpd.GeoDataFrame:
    """The one feature of ``sites`` named by ``site`` (``--site ID``).

    ``site`` matches the ``site_id`` column (as text) when there is one, else the
    1-based feature number (``source_row``, or the position in the file).

    Raises
    ------
    InputFormatError
        No feature has that id; the message lists the ids there are.
    """
    key = str(site).strip()
    for col in ("site_id", "source_row"):
        if col in sites.columns:
            hit = sites[sites[col].astype(str) == key]
            if len(hit):
                return hit.iloc[[0]]
    if key.isdigit() and 1 <= int(key) <= len(sites):
        return sites.iloc[[int(key) - 1]]
    col = "site_id" if "site_id" in sites.columns else "source_row"
    ids = sites[col].astype(str).tolist() if col in sites.columns else []
    shown = ", ".join(ids[:20]) + (" …" if len(ids) > 20 else "")
    msg = f"--site {site!r}: no feature with that id; the file has {len(sites)} ({shown})"
    raise InputFormatError(msg)


def project_from_input(
    row: Mapping[str, Any] | None,
    *,
    options: Mapping[str, Any] | None = None,
    option_names: Mapping[str, str] | None = None,
    where: str = "input",
) -> tuple[Project, dict[str, dict[str, str]], dict[str, str] | None]:
    """The project of one site: its row's attributes, overridden by the given options.

    Parameters
    ----------
    row
        The feature's attributes (a dict or a GeoDataFrame row); None for none.
    options
        Project field → value given by the user (``None`` or empty: not given).
    option_names
        Project field → how the user gave it (e.g. ``{"name": "--name"}``).
    where
        How to name the input in error messages ("site.kml feature 2").

    Returns
    -------
    (Project, dict, dict or None)
        The project; field → ``{"column": name}`` or ``{"option": name}`` for each
        attribute that was given; a note (kind ``"assumption"``) saying so, or None
        when nothing was given.

    Raises
    ------
    InputFormatError
        An attribute in the file cannot be read (the message names the column).
    """
    values: dict[str, Any] = {}
    sources: dict[str, dict[str, str]] = {}
    given = {f for f, v in (options or {}).items() if _present(v) and v is not False}
    if row is not None:
        data = {str(k): v for k, v in dict(row).items() if k != "geometry" and _present(v)}
        found = match_columns(data)
        name_col = field_column(found, "name")
        # the name is read apart; the fields the options set are not read (nor can fail)
        skip = {
            found[n] for f in ("name", *given) for n in PROJECT_COLUMNS.get(f, ()) if n in found
        }
        clean = {k: v for k, v in data.items() if k not in skip}
        found = {n: c for n, c in found.items() if c not in skip}
        file_project = project_from_row(clean, where=where)
        for fld in PROJECT_COLUMNS:
            col = field_column(found, fld)
            if col is not None and fld != "name":
                sources[fld] = {"column": col}
                values[fld] = getattr(file_project, fld, None)
        flag_cols = [c for n, c in found.items() if n in _FLAG_NAMES]
        if flag_cols and "flags" not in sources:
            sources["flags"] = {"column": "、".join(flag_cols)}
            values["flags"] = file_project.flags
        if name_col is not None:
            values["name"] = str(data[name_col]).strip()
            sources["name"] = {"column": name_col}
    names = dict(option_names or {})
    for fld, value in (options or {}).items():
        if _present(value) and value is not False:
            values[fld] = value
            sources[fld] = {"option": names.get(fld, f"--{fld.replace('_', '-')}")}
    fields = {f.name for f in dataclasses.fields(Project)}
    kwargs = {k: v for k, v in values.items() if k in fields}
    if "flags" in kwargs:
        kwargs["flags"] = frozenset(kwargs["flags"])
    project = Project(**kwargs)
    return project, sources, _sources_note(sources)


#: The per-flag columns project_from_row reads (a flag given by one of them came from
#: the file).
_FLAG_NAMES = frozenset(n for names in FLAG_COLUMNS.values() for n in names)


def _sources_note(sources: Mapping[str, Mapping[str, str]]) -> dict[str, str] | None:
    if not sources:
        return None
    zh, en = [], []
    for fld, src in sources.items():
        lz, le = _FIELD_LABELS.get(fld, (fld, fld))
        if "column" in src:
            zh.append(f"{lz}取自输入文件字段“{src['column']}”")
            en.append(f"{le} from the input file's field “{src['column']}”")
        else:
            zh.append(f"{lz}取自命令行选项 {src['option']}")
            en.append(f"{le} from the option {src['option']}")
    return {
        "kind": "assumption",
        "text": "项目属性来源：" + "；".join(zh) + "（命令行选项优先于输入文件）",
        "text_en": "project attributes: " + "; ".join(en) + " (options override the file)",
    }
