"""Validation of a layer frame against its registered kind (:mod:`layers.kinds.registry`).

:func:`validate_layer` checks a frame against its kind, repairs what can be repaired
without guessing (column aliases, value aliases, invalid geometries, missing ids and
names, ellipsoidal ``area_m2``), and raises one
:class:`~geo.errors.LayerValidationError` that lists every problem it found.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.errors import EcozoneWarning, GeometryRepairedWarning, LayerValidationError
from layers.kinds.registry import ACCESS_DIMENSIONS, STORAGE_CRS, LayerKind, kind_info

log = logging.getLogger("layers.kinds")

__all__ = ["GeneratedColumnWarning", "validate_layer"]

_DIMENSION_ALIASES = {
    **{k: k for k in ACCESS_DIMENSIONS},
    **{zh: k for k, (zh, _) in ACCESS_DIMENSIONS.items()},
    "资源利用效率要求": "efficiency",
    "空间布局": "layout",
    "污染物排放": "discharge",
    "环境风险": "risk",
    "资源利用效率": "efficiency",
}

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint"}
_TYPE_NAMES |= {5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
_AREAS_HINT = "buffer lines or points into areas, or choose another kind"
# geometry family → (shapely type ids, what to say, how to fix)
_GEOMETRY_RULES = {
    "point": ((0,), "points", "use one point per feature (explode multipoints)"),
    "polygon": ((3, 6), "polygons or multipolygons", _AREAS_HINT),
    "point_or_polygon": ((0, 3, 6), "points or (multi)polygons", _AREAS_HINT),
    "line_or_polygon": (
        (1, 5, 3, 6),
        "(multi)lines or (multi)polygons",
        "give bank or centre lines, or water-surface polygons",
    ),
}


class GeneratedColumnWarning(EcozoneWarning):
    """A column every layer needs was missing and ecozone generated it (ids, names)."""


_COMMON_ALIASES = {
    "feature_id": ("id", "编号", "要素编号", "标识码"),
    "name": ("名称", "名字", "mc", "name_zh"),
}


def _fmt_ids(values: Iterable[Any], limit: int = 10) -> str:
    """Join up to ``limit`` ids for a message, saying how many more there are."""
    vals = [str(v) for v in values]
    head = ", ".join(vals[:limit])
    return head + (f" … (+{len(vals) - limit} more)" if len(vals) > limit else "")


def _one_text(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    return str(v).strip()


def _as_text(values: pd.Series) -> pd.Series:
    """Cast non-null values to text; integral numbers lose their ".0" (110000.0 → "110000").

    Returns an object Series with None for nulls.
    """
    notna = values.notna().to_numpy()
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "string":  # the common case, vectorised
        out = values.astype("string").str.strip().astype(object)
    elif inferred == "integer":
        out = values.astype("Int64").astype("string").astype(object)
    else:
        out = values.astype(object).copy()
        out[notna] = [_one_text(v) for v in out[notna]]
    return out.where(notna, None)


_TRUE = {"true", "1", "yes", "y", "t", "是"}
_FALSE = {"false", "0", "no", "n", "f", "否"}


def _as_bool(v: Any) -> bool | None:
    """Read one synthetic flag; None when it is neither true nor false."""
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    key = _as_text(pd.Series([v])).iloc[0].lower()
    return True if key in _TRUE else False if key in _FALSE else None


def _rename_aliases(
    df: pd.DataFrame, kind: LayerKind, problems: list[str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename alias columns to their canonical names (when unambiguous)."""
    wanted: dict[str, tuple[str, ...]] = dict(_COMMON_ALIASES)
    wanted.update({c.name: c.aliases for c in kind.columns if c.aliases})
    lower = {str(c).lower(): c for c in df.columns}
    renames: dict[str, str] = {}
    for canon, aliases in wanted.items():
        if canon in df.columns:
            continue
        found = [lower[a.lower()] for a in aliases if a.lower() in lower]
        found = [c for c in found if c not in renames]
        if canon.lower() in lower and lower[canon.lower()] != canon:
            found.insert(0, lower[canon.lower()])  # "NAME", "Feature_ID", ...
        if len(found) == 1:
            renames[found[0]] = canon
        elif len(found) > 1:
            problems.append(
                f"column {canon!r} is missing and several columns could stand for it "
                f"({', '.join(map(repr, found))}); rename the right one to {canon!r}"
            )
    if renames:
        log.info("renamed columns %s", renames)
    return df.rename(columns=renames), renames


def _row_labels(df: pd.DataFrame, mask: np.ndarray) -> list[str]:
    """Labels for rows without a usable feature id: the file row when known."""
    if "source_row" in df.columns:
        return [f"row {v}" for v in df.loc[mask, "source_row"]]
    return [f"row {i + 1}" for i in np.flatnonzero(mask)]


def _check_feature_ids(
    df: pd.DataFrame, kind: LayerKind, where: str, problems: list[str]
) -> pd.DataFrame:
    if "feature_id" not in df.columns:
        df["feature_id"] = [f"{kind.name}-{i}" for i in range(1, len(df) + 1)]
        warnings.warn(
            f"{where}: 缺少要素编号列 / no 'feature_id' column; generated ids {kind.name}-1 … "
            f"{kind.name}-{len(df)} in row order. Add a 'feature_id' column to keep "
            "ids stable across versions.",
            GeneratedColumnWarning,
            stacklevel=3,
        )
        return df
    ids = _as_text(df["feature_id"])
    null = ids.isna().to_numpy() | (ids == "").to_numpy()
    if null.any():
        problems.append(
            f"feature_id is empty in {int(null.sum())} rows ({_fmt_ids(_row_labels(df, null))}); "
            "give every feature a unique id"
        )
    dup = ids[~null & ids.duplicated(keep=False).to_numpy()]
    if len(dup):
        problems.append(
            f"feature_id is not unique: {_fmt_ids(sorted(set(dup)))} occur more than once; "
            "make the ids unique"
        )
    df["feature_id"] = ids
    return df


def _check_geometry(
    gdf: gpd.GeoDataFrame, kind: LayerKind, where: str, problems: list[str]
) -> gpd.GeoDataFrame:
    """Null/empty/type checks and make_valid repairs, vectorised over the geometry array."""
    geoms = gdf.geometry.to_numpy().copy()
    ids = gdf["feature_id"].astype(object).to_numpy()
    null = shapely.is_missing(geoms)
    if null.any():
        problems.append(f"features without geometry: {_fmt_ids(ids[null])}; add or remove them")
    empty = ~null & shapely.is_empty(geoms)
    if empty.any():
        problems.append(f"features with empty geometry: {_fmt_ids(ids[empty])}; fix or remove them")
    ok = ~(null | empty)
    tid = shapely.get_type_id(geoms)
    if kind.geometry in ("point", "point_or_polygon"):
        # A one-part MultiPoint (common in GeoPackages) is a point.
        single = ok & (tid == 4) & (shapely.get_num_geometries(geoms) == 1)
        if single.any():
            geoms[single] = shapely.get_geometry(geoms[single], 0)
            tid = shapely.get_type_id(geoms)
    allowed, want, hint = _GEOMETRY_RULES[kind.geometry]
    wrong = ok & ~np.isin(tid, allowed)
    if wrong.any():
        types = shapely.get_type_id(geoms[wrong])
        detail = _fmt_ids(
            f"{i} ({_TYPE_NAMES.get(int(t), t)})" for i, t in zip(ids[wrong], types, strict=True)
        )
        problems.append(f"{kind.name} features must be {want}; wrong type: {detail}; {hint}")
    check = ok & ~wrong
    invalid = check & ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        # structure method keeps polygons polygonal and drops collapsed parts.
        fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        collapsed = shapely.is_empty(fixed)
        geoms[invalid] = fixed
        if collapsed.any():
            problems.append(
                "features whose geometry collapses to nothing when repaired: "
                f"{_fmt_ids(ids[invalid][collapsed])}; redraw them"
            )
        repaired = ids[invalid][~collapsed]
        if len(repaired):
            detail = _fmt_ids(
                f"{i} ({r})" for i, r in zip(repaired, reasons[~collapsed], strict=True)
            )
            warnings.warn(
                f"{where}: 已修复无效几何 / "
                f"repaired {len(repaired)} invalid geometries with make_valid: {detail}",
                GeometryRepairedWarning,
                stacklevel=3,
            )
    out = gdf.copy()
    out[out.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs)
    return out


#: Effects of an access-list entry (zoning.access_list.EFFECTS and their Chinese names).
_ACCESS_EFFECTS = frozenset({"prohibit", "restrict", "require", "禁止", "限制", "要求"})


def _norm_access_list(value: Any) -> tuple[str | None, list[str]]:
    """Normalise one access_list value to JSON text of a list of entries."""
    errs: list[str] = []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            return None, [f"not valid JSON ({exc.msg} at character {exc.pos})"]
    if isinstance(value, Mapping):  # {"layout": ["text", ...], ...} → list of entries
        entries: list[Any] = []
        for dim, items in value.items():
            for item in items if isinstance(items, list) else [items]:
                entry = dict(item) if isinstance(item, Mapping) else {"text": item}
                entry.setdefault("dimension", dim)
                entries.append(entry)
        value = entries
    if not isinstance(value, list):
        return None, [f"must be a JSON list of entries, got {type(value).__name__}"]
    out = []
    for n, entry in enumerate(value, start=1):
        if not isinstance(entry, Mapping):
            errs.append(f"entry {n} is not an object")
            continue
        entry = dict(entry)
        dim = _DIMENSION_ALIASES.get(str(entry.get("dimension", "")).strip().lower())
        if dim is None:
            errs.append(
                f"entry {n} has dimension {entry.get('dimension')!r}, not one of "
                + "/".join(ACCESS_DIMENSIONS)
            )
        else:
            entry["dimension"] = dim
        if not isinstance(entry.get("text"), str) or not entry["text"].strip():
            errs.append(f"entry {n} has no 'text'")
        effect = entry.get("effect")
        if effect is not None and str(effect).strip() not in _ACCESS_EFFECTS:
            errs.append(
                f"entry {n} has effect {effect!r}, not one of prohibit/restrict/require "
                "(禁止/限制/要求)"
            )
        for key in ("project_types", "industry_prefixes", "requires"):
            if key in entry and not (
                isinstance(entry[key], list) and all(isinstance(v, str) for v in entry[key])
            ):
                errs.append(f"entry {n}: {key!r} must be a list of strings")
        out.append(entry)
    if errs:
        return None, errs
    return json.dumps(out, ensure_ascii=False, sort_keys=True), []


def _norm_emissions(value: Any) -> tuple[str | None, list[str]]:
    """Normalise one emissions value to JSON text of {month, pollutant, tonnes} records."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            return None, [f"not valid JSON ({exc.msg} at character {exc.pos})"]
    if not isinstance(value, list):
        return None, [f"must be a JSON list of records, got {type(value).__name__}"]
    errs = []
    for n, rec in enumerate(value, start=1):
        if not isinstance(rec, Mapping):
            errs.append(f"record {n} is not an object")
            continue
        if not _MONTH.match(str(rec.get("month", ""))):
            errs.append(f"record {n}: month {rec.get('month')!r} is not YYYY-MM")
        if not isinstance(rec.get("pollutant"), str) or not rec["pollutant"]:
            errs.append(f"record {n}: no 'pollutant'")
        t = rec.get("tonnes")
        if isinstance(t, bool) or not isinstance(t, int | float) or not t >= 0:
            errs.append(f"record {n}: tonnes {t!r} is not a number ≥ 0")
    if errs:
        return None, errs
    return json.dumps(value, ensure_ascii=False, sort_keys=True), []


_JSON_NORMALISERS = {"access_list": _norm_access_list, "emissions": _norm_emissions}


def _check_columns(df: pd.DataFrame, kind: LayerKind, problems: list[str]) -> pd.DataFrame:
    ids = df["feature_id"].astype(object).to_numpy()
    for col in kind.columns:
        if col.name not in df.columns:
            if col.required and not col.computed:
                alias = f" (also accepted: {', '.join(col.aliases)})" if col.aliases else ""
                allowed = f" with values {'/'.join(col.allowed)}" if col.allowed else ""
                problems.append(
                    f"missing column {col.name!r}{alias}; {kind.name} layers need it{allowed}"
                )
            continue
        s = df[col.name]
        null = s.isna().to_numpy()
        if col.dtype == "float":
            num = pd.to_numeric(s, errors="coerce")
            bad = ~null & num.isna().to_numpy()
            if bad.any():
                problems.append(
                    f"column {col.name!r} is not a number for {_fmt_ids(ids[bad])} "
                    f"(got {_fmt_ids(sorted(set(map(str, s[bad]))), 5)})"
                )
            df[col.name] = num.astype("float64")
            continue
        if col.dtype == "json":
            normalise = _JSON_NORMALISERS[col.name]
            out: list[Any] = [None] * len(s)
            errs: list[str] = []
            for i, v in enumerate(s.astype(object)):
                if v is None or (isinstance(v, float) and np.isnan(v)):
                    continue
                out[i], e = normalise(v)
                errs += [f"{ids[i]}: {m}" for m in e]
            if errs:
                problems.append(f"column {col.name!r} is malformed: " + _fmt_ids(errs, 5))
            if null.any() and col.required:
                problems.append(
                    f"column {col.name!r} is empty for {_fmt_ids(ids[null])}; "
                    "write '[]' when a feature has no entries"
                )
            df[col.name] = pd.Series(out, index=df.index, dtype=object)
            continue
        text = _as_text(s)
        if col.allowed is not None:
            mapped = text.map(lambda v, c=col: c.canonical_value(v) if v else v)
            bad = ~null & mapped.isna().to_numpy()
            if bad.any():
                got = sorted(set(text[bad].astype(str)))
                problems.append(
                    f"column {col.name!r} has values not in {'/'.join(col.allowed)} "
                    f"for {_fmt_ids(ids[bad])} (got {_fmt_ids(got, 5)}); accepted aliases: "
                    f"{', '.join(col.value_aliases) or 'none'}"
                )
            text = mapped.where(~bad, text)
        if col.required and null.any():
            problems.append(f"column {col.name!r} is empty for {_fmt_ids(ids[null])}")
        if col.unique:
            dup = text[~null & text.duplicated(keep=False).to_numpy()]
            if len(dup):
                problems.append(
                    f"column {col.name!r} must be unique; repeated: {_fmt_ids(sorted(set(dup)))}"
                )
        df[col.name] = text
    return df


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry (intersections may yield lines)."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    parts, idx2 = shapely.get_parts(parts, return_index=True)  # collections may hold multis
    idx = idx[idx2]
    keep = shapely.get_type_id(parts) == 3
    out = np.full(len(geoms), None, dtype=object)
    shapely.multipolygons(parts[keep], indices=idx[keep], out=out)
    out[shapely.is_missing(out)] = shapely.MultiPolygon()
    return out


def _geodesic_area(geoms: np.ndarray) -> np.ndarray:
    from geo.measure import geodesic_area  # lazy: keeps layers importable alone

    return np.asarray(geodesic_area(geoms, STORAGE_CRS), dtype="float64")


def _check_unit_overlaps(gdf: gpd.GeoDataFrame, tolerance_m2: float, problems: list[str]) -> None:
    """Control units tile their jurisdiction: overlaps above the tolerance are errors."""
    geoms = gdf.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pair = left < right
    left, right = left[pair], right[pair]
    if not len(left):
        return
    inter = shapely.intersection(geoms[left], geoms[right])
    # Shared edges intersect as lines: skip them before the ellipsoidal measure.
    cand = shapely.area(inter) > 0
    if not cand.any():
        return
    left, right, inter = left[cand], right[cand], _polygonal(inter[cand])
    area = _geodesic_area(inter)
    over = area > tolerance_m2
    if not over.any():
        return
    codes = gdf["unit_code"].astype(object).to_numpy()
    detail = [
        f"{codes[i]} × {codes[j]} ({a:,.1f} m²)"
        for i, j, a in zip(left[over], right[over], area[over], strict=True)
    ]
    problems.append(
        f"control units overlap (more than {tolerance_m2:g} m²): {_fmt_ids(detail)}; "
        "each place belongs to one unit, so clip the overlapping units"
    )


def _fill_area(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    missing = np.ones(len(gdf), bool) if "area_m2" not in gdf else gdf["area_m2"].isna().to_numpy()
    if missing.any():
        area = np.full(len(gdf), np.nan) if "area_m2" not in gdf else gdf["area_m2"].to_numpy()
        area = area.astype("float64").copy()
        area[missing] = _geodesic_area(gdf.geometry.to_numpy()[missing])
        gdf["area_m2"] = area
    return gdf


def validate_layer(
    gdf: gpd.GeoDataFrame,
    kind: str,
    *,
    name: str | None = None,
    synthetic: bool = False,
    overlap_tolerance_m2: float = 1.0,
) -> gpd.GeoDataFrame:
    """Check a GeoDataFrame against its kind and return the normalised layer frame.

    The result is a new GeoDataFrame in EPSG:4326 with columns ``feature_id``,
    ``name``, the kind's columns, any other input columns, ``synthetic`` and
    ``geometry``. The input is never modified.

    Parameters
    ----------
    gdf
        Features with a CRS.
    kind
        One of :data:`LAYER_KINDS` (or its Chinese/English label).
    name
        Layer name, used in messages only.
    synthetic
        Flag for demonstration data: fills a missing ``synthetic`` column, and
        ``True`` marks every feature synthetic.
    overlap_tolerance_m2
        Control units may overlap by at most this area (m², ellipsoidal) per pair.

    Returns
    -------
    GeoDataFrame

    Raises
    ------
    LayerValidationError
        Listing every problem found: missing CRS, missing columns, values outside
        the allowed set, empty or duplicate ids, wrong geometry types, empty
        geometries, overlapping control units, malformed JSON. The list of
        messages is also available as ``err.problems``.

    Warns
    -----
    GeneratedColumnWarning
        When ``feature_id`` (ids "<kind>-<n>") or ``name`` (copied from the ids)
        had to be generated.
    GeometryRepairedWarning
        When invalid geometries were repaired with ``shapely.make_valid``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> wells = gpd.GeoDataFrame(
    ...     {"feature_id": ["w1"], "name": ["1号井"]}, geometry=[Point(116.4, 39.9)], crs=4326
    ... )
    >>> list(validate_layer(wells, "well").columns)
    ['feature_id', 'name', 'synthetic', 'geometry']
    """
    spec = kind_info(kind)
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"'gdf' should be a GeoDataFrame, got {type(gdf).__name__}"
        raise LayerValidationError(msg)
    where = f"layer {name!r} ({spec.name})" if name else f"{spec.name} layer"
    problems: list[str] = []
    df = gdf.copy()
    if df.geometry.name != "geometry":
        df = df.rename_geometry("geometry")
    df.index = pd.RangeIndex(len(df))
    fid = [c for c in df.columns if str(c).lower() == "fid"]
    if fid:
        df = df.rename(columns={fid[0]: "source_fid"})
    df, _ = _rename_aliases(df, spec, problems)
    lowered = pd.Series([str(c).lower() for c in df.columns])
    if lowered.duplicated().any():
        clash = sorted(set(df.columns[lowered.duplicated(keep=False).to_numpy()]))
        problems.append(
            f"column names differ only in case {clash}; GeoPackage columns are "
            "case-insensitive, so rename one of them"
        )
    if len(df) == 0:
        problems.append("the layer has no features")
    if df.crs is None:
        problems.append(
            "no CRS; set the one the coordinates are in with gdf.set_crs(...) or "
            "read the file with read_vector(path, crs=...)"
        )
    elif not pyproj.CRS(df.crs).equals(pyproj.CRS(STORAGE_CRS)):
        log.info("%s: reprojecting from %s to %s", where, df.crs.to_string(), STORAGE_CRS)
        df = df.to_crs(STORAGE_CRS)
    df = _check_feature_ids(df, spec, where, problems)
    if "name" not in df.columns:
        df["name"] = df["feature_id"]
        warnings.warn(
            f"{where}: 缺少名称列 / no 'name' column (or 名称); names set to the feature ids",
            GeneratedColumnWarning,
            stacklevel=2,
        )
    else:
        df["name"] = _as_text(df["name"])
    if "synthetic" in df.columns and not synthetic:
        flag = df["synthetic"].map(_as_bool)
        bad = flag.isna().to_numpy()
        if bad.any():
            problems.append(
                f"column 'synthetic' is not true/false for {_fmt_ids(df['feature_id'][bad])}"
            )
        df["synthetic"] = flag.fillna(False).astype(bool)
    else:
        df["synthetic"] = bool(synthetic)
    before = len(problems)
    df = _check_geometry(df, spec, where, problems)
    geometry_ok = len(problems) == before and df.crs is not None
    df = _check_columns(df, spec, problems)
    if geometry_ok and len(df):
        if spec.name == "control_unit" and "unit_code" in df.columns:
            _check_unit_overlaps(df, overlap_tolerance_m2, problems)
        if any(c.name == "area_m2" for c in spec.columns):
            df = _fill_area(df)
            bad = ~(df["area_m2"].to_numpy() > 0)
            if bad.any():
                problems.append(
                    f"area_m2 must be > 0; got {_fmt_ids(df['area_m2'][bad])} for "
                    f"{_fmt_ids(df['feature_id'][bad])}"
                )
    if problems:
        msg = f"{where} 校验未通过 / is not valid ({len(problems)} problems):\n" + "\n".join(
            f"  - {p}" for p in problems
        )
        err = LayerValidationError(msg)
        err.problems = problems  # type: ignore[attr-defined]
        raise err
    first = ["feature_id", "name", *(c.name for c in spec.columns if c.name in df.columns)]
    rest = [c for c in df.columns if c not in (*first, "synthetic", "geometry")]
    return df[[*first, *rest, "synthetic", "geometry"]]
