"""The pollution-source ledger of a key area (重点区域污染源台账).

The key area and its strict-control zones are the generic layer kinds ``key_area`` and
``strict_zone``; a rule pack names them where it applies (``[zones.key_area]``). The
ledger is the one a district plan asks for when it draws a key area around an
air-quality monitoring station with strict-control zones (严控区) inside it, and asks to
"update the ledger of the pollution sources in the key area every month and estimate
their emissions". Where a plan asks for it is pack data: the pack's ``[ledger]`` table
gives the citation and the labels of the ledger's zones (:class:`zoning.pack.Ledger`);
without a pack the labels come from the layer-kind registry. :func:`key_area_ledger`
builds that ledger from the ``pollution_source`` layer:

* the sources inside the key area or a strict-control zone, each with its zone:
  ``"strict"`` (in a strict-control zone) or ``"key"`` (in the key area outside
  them). A point source on a zone
  edge counts as inside; an area source counts when it shares area with the zone,
  and as ``"strict"`` when it shares area with a strict-control zone (the stricter
  rules apply to the whole source);
* its monthly emissions, from the layer's ``emissions`` JSON (a list of
  ``{"month": "YYYY-MM", "pollutant": str, "tonnes": float}``), as a long table and
  totals by month and pollutant per zone and for the whole key area, also as a
  pivot (rows month, columns pollutant);
* the number of sources of each type per zone.

:func:`write_ledger` writes the ledger as XLSX (sheets ``sources``, ``totals``,
``pivot``, ``by_type``) or CSV. Text cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``) are prefixed with ``'``
(:func:`geo.io.spreadsheet.neutralise_formulas`), so an imported source name cannot
execute anything.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.errors import InputFormatError, LayerValidationError, MissingLayerError, RowRejectedWarning
from geo.io.spreadsheet import write_csv, write_xlsx

__all__ = [
    "LedgerResult",
    "key_area_ledger",
    "ledger_zone_labels",
    "write_ledger",
]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

_ZONES = ("strict", "key", "all")


def ledger_zone_labels(pack: Any = None) -> dict[str, str]:
    """The labels of the ledger's zones: the pack's ``[ledger.zone_labels]``, else generic.

    Parameters
    ----------
    pack
        A :class:`zoning.pack.Pack` (or None). A pack without ``[ledger]`` gets the
        generic labels.

    Returns
    -------
    dict
        "strict", "key", "all" → Chinese label. The generic labels are built from the
        registry's labels of the ``strict_zone`` and ``key_area`` kinds.

    Examples
    --------
    >>> ledger_zone_labels()["strict"]
    '严控区'
    """
    ledger = getattr(pack, "ledger", None)
    if ledger is not None:
        return dict(ledger.zone_labels)
    from layers.kinds import KINDS

    strict, key = KINDS["strict_zone"].label_zh, KINDS["key_area"].label_zh
    return {"strict": strict, "key": f"{key}（{strict}外）", "all": f"{key}合计"}


_LONLAT = "EPSG:4326"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_UNTYPED = "未分类"


# --------------------------------------------------------------------------- inputs


def _frame(obj: Any, what: str, inputs: dict[str, Any]) -> gpd.GeoDataFrame:
    """A Layer / GeoDataFrame / GeoSeries as a GeoDataFrame in EPSG:4326."""
    if obj is None:
        msg = f"no `{what}` given: import one with `ecozone layers import FILE --kind {what}`"
        raise MissingLayerError(msg)
    if hasattr(obj, "gdf") and isinstance(obj.gdf, gpd.GeoDataFrame):
        inputs[str(getattr(obj, "name", what))] = getattr(obj, "version", None)
        obj = obj.gdf
    if isinstance(obj, gpd.GeoSeries):
        obj = gpd.GeoDataFrame(geometry=obj)
    if not isinstance(obj, gpd.GeoDataFrame):
        msg = f"`{what}` must be a Layer, GeoDataFrame or GeoSeries, got {type(obj).__name__}"
        raise InputFormatError(msg)
    if obj.crs is None:
        msg = (
            f"`{what}` has no CRS: set it with `.set_crs(...)` (layers are EPSG:4326); "
            "ecozone never assigns a CRS silently"
        )
        raise InputFormatError(msg)
    if not pyproj.CRS.from_user_input(obj.crs).equals(pyproj.CRS.from_user_input(_LONLAT)):
        obj = obj.to_crs(_LONLAT)
    return obj


def _zone_geoms(gdf: gpd.GeoDataFrame, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Usable (repaired) zone geometries and their ids."""
    geoms = gdf.geometry.to_numpy()
    if "feature_id" in gdf.columns:
        ids = gdf["feature_id"].astype(str).to_numpy(dtype=object)
    else:
        ids = np.array([f"{prefix}{i + 1}" for i in range(len(gdf))], dtype=object)
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok])
    geoms, ids = geoms[ok].copy(), ids[ok]
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms[bad] = shapely.make_valid(geoms[bad])
    return geoms, ids


def _hits(sources: np.ndarray, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(source, zone) pairs: points touching the zone, other shapes sharing area with it."""
    empty = np.zeros(0, dtype=np.intp)
    if len(sources) == 0 or len(zones) == 0:
        return empty, empty
    si, zi = shapely.STRtree(zones).query(sources, predicate="intersects")
    if len(si) == 0:
        return si, zi
    point = np.isin(shapely.get_type_id(sources[si]), (0, 4))
    poly = np.isin(shapely.get_type_id(sources[si]), (3, 6))
    keep = point.copy()
    if poly.any():
        keep[poly] = shapely.relate_pattern(sources[si[poly]], zones[zi[poly]], "2********")
    line = ~(point | poly)
    if line.any():
        keep[line] = ~shapely.touches(sources[si[line]], zones[zi[line]])
    return si[keep], zi[keep]


def _months(month: str | Iterable[str] | None) -> list[str] | None:
    if month is None:
        return None
    given = [month] if isinstance(month, str) else list(month)
    bad = [m for m in given if not isinstance(m, str) or not _MONTH.match(m.strip())]
    if bad or not given:
        msg = f"`month` must be YYYY-MM (e.g. 2025-06), got {bad or given!r}"
        raise InputFormatError(msg)
    return sorted({m.strip() for m in given})


def _parse_emissions(i: int, raw: Any) -> tuple[list[tuple[int, str, str, float]], str | None]:
    """Records of one source's emissions value, or the problem that stops reading it."""
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError as exc:
            return [], f"emissions is not valid JSON ({exc.msg} at character {exc.pos})"
    elif raw is None or (isinstance(raw, float) and np.isnan(raw)):
        value = []
    if not isinstance(value, list):
        return [], f"emissions must be a JSON list, got {type(value).__name__}"
    out = []
    for n, rec in enumerate(value, start=1):
        if not isinstance(rec, Mapping):
            return [], f"emissions record {n} is not an object"
        m, p, t = str(rec.get("month", "")), rec.get("pollutant"), rec.get("tonnes")
        if not _MONTH.match(m):
            return [], f"emissions record {n}: month {rec.get('month')!r} is not YYYY-MM"
        if not isinstance(p, str) or not p.strip():
            return [], f"emissions record {n}: no 'pollutant'"
        if isinstance(t, bool) or not isinstance(t, int | float) or not t >= 0:
            return [], f"emissions record {n}: tonnes {t!r} is not a number ≥ 0"
        out.append((i, m, p.strip(), float(t)))
    return out, None


def _emission_records(sources: gpd.GeoDataFrame, issues: list[dict[str, Any]]) -> pd.DataFrame:
    """Long table of the sources' emissions; rows that cannot be read are reported."""
    rows: list[tuple[int, str, str, float]] = []
    fids = sources["feature_id"].astype(str).to_numpy()
    # one JSON document per source: parsing is inherently per row
    for i, raw in enumerate(sources["emissions"].to_numpy()):
        mine, problem = _parse_emissions(i, raw)
        if problem is None:
            rows.extend(mine)
            continue
        issues.append({"feature_id": fids[i], "problem": problem})
        warnings.warn(
            f"pollution source {fids[i]}: {problem}; listed in the ledger without "
            "emissions — fix the record and re-import the layer",
            RowRejectedWarning,
            stacklevel=3,
        )
    return pd.DataFrame(rows, columns=["row", "month", "pollutant", "tonnes"])


# --------------------------------------------------------------------------- ledger


@dataclass(frozen=True)
class LedgerResult:
    """The key-area pollution-source ledger.

    Attributes
    ----------
    sources : GeoDataFrame
        Sources inside the key area (EPSG:4326): the layer's columns plus ``zone``
        ("strict" | "key"), ``zone_zh``, ``strict_zone_ids`` (";"-joined), ``lon`` /
        ``lat`` (a point on the source) and one ``tonnes_<pollutant>`` column per
        pollutant (summed over the months of the ledger).
    records : DataFrame
        Long table: ``feature_id``, ``name``, ``source_type``, ``zone``, ``month``,
        ``pollutant``, ``tonnes``.
    totals : DataFrame
        ``zone`` ("strict" | "key" | "all"), ``zone_zh``, ``month``, ``pollutant``,
        ``tonnes``, ``sources`` (number of sources reporting).
    pivot : DataFrame
        Index (``zone``, ``month``), one column per pollutant, tonnes; every month of
        the ledger for every zone (0 where nothing was emitted).
    by_type : DataFrame
        ``source_type``, ``strict``, ``key``, ``all`` counts, with a 合计 row.
    months : tuple of str
        Months of the ledger, sorted.
    pollutants : tuple of str
        Pollutants, sorted.
    inputs : dict
        Layer name → version of the inputs (None for plain GeoDataFrames).
    issues : list of dict
        Sources whose emissions could not be read: ``feature_id``, ``problem``.
    citation : str or None
        Where the ledger is required (the pack's ``[ledger] citation``; None without).
    zone_labels : dict
        Zone code ("strict", "key", "all") → Chinese label (:func:`ledger_zone_labels`).
    """

    sources: gpd.GeoDataFrame
    records: pd.DataFrame
    totals: pd.DataFrame
    pivot: pd.DataFrame
    by_type: pd.DataFrame
    months: tuple[str, ...]
    pollutants: tuple[str, ...]
    inputs: dict[str, Any] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    citation: str | None = None
    zone_labels: dict[str, str] = field(default_factory=lambda: ledger_zone_labels())

    def pivot_for(self, zone: str = "all") -> pd.DataFrame:
        """Rows month, columns pollutant (tonnes) for one zone: "strict", "key" or "all"."""
        if zone not in _ZONES:
            msg = f"`zone` must be one of {', '.join(_ZONES)}, got {zone!r}"
            raise InputFormatError(msg)
        if self.pivot.empty:
            return pd.DataFrame(columns=list(self.pollutants))
        return self.pivot.xs(zone, level="zone")

    def summary(self) -> dict[str, Any]:
        """Counts and totals for a report or ``--json`` output."""
        tot = self.totals[self.totals["zone"] == "all"]
        return {
            "citation": self.citation,
            "months": list(self.months),
            "pollutants": list(self.pollutants),
            "sources": len(self.sources),
            "sources_strict": int((self.sources["zone"] == "strict").sum()),
            "sources_key": int((self.sources["zone"] == "key").sum()),
            "tonnes_by_pollutant": {
                str(k): float(v) for k, v in tot.groupby("pollutant")["tonnes"].sum().items()
            },
            "inputs": dict(self.inputs),
            "issues": list(self.issues),
        }


def key_area_ledger(
    sources: Any,
    key_area: Any,
    strict_zones: Any,
    *,
    month: str | Iterable[str] | None = None,
    pack: Any = None,
) -> LedgerResult:
    """Ledger of the pollution sources in a key area, with monthly emissions.

    Parameters
    ----------
    sources
        ``pollution_source`` layer (Layer or GeoDataFrame, any CRS): ``feature_id``,
        ``emissions`` (JSON text or lists of ``{"month", "pollutant", "tonnes"}``),
        optional ``name`` and ``source_type``.
    key_area
        ``key_area`` layer (one or more polygons, unioned).
    strict_zones
        ``strict_zone`` layer; sources in it are "strict" even if the key
        area polygon does not cover them.
    month
        "YYYY-MM" or several: keep only these months. Default: every month in the data.
    pack
        The rule pack whose plan asks for the ledger (:class:`zoning.pack.Pack`): its
        ``[ledger]`` gives the citation and zone labels. Default: registry labels, no
        citation.

    Returns
    -------
    LedgerResult

    Raises
    ------
    LayerValidationError
        ``sources`` lacks ``feature_id`` or ``emissions``.
    InputFormatError
        An input without CRS, a malformed ``month``, or a ``month`` with no record.
    MissingLayerError
        An input is None.

    Warns
    -----
    RowRejectedWarning
        For each source inside the area whose emissions cannot be read; it stays in
        ``sources`` with no emissions and is listed in ``issues``.
    """
    inputs: dict[str, Any] = {}
    src = _frame(sources, "pollution_source", inputs)
    key = _frame(key_area, "key_area", inputs)
    strict = _frame(strict_zones, "strict_zone", inputs)
    missing = [c for c in ("feature_id", "emissions") if c not in src.columns]
    if missing:
        msg = (
            f"the pollution sources lack column(s) {', '.join(missing)}; the "
            "pollution_source layer needs feature_id and emissions (JSON list of "
            '{"month": "YYYY-MM", "pollutant": ..., "tonnes": ...})'
        )
        raise LayerValidationError(msg)
    months = _months(month)

    geoms = src.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    idx_present = np.flatnonzero(present)
    g = geoms[present]
    key_g, _ = _zone_geoms(key, "KEY")
    strict_g, strict_ids = _zone_geoms(strict, "SZ")
    si_key, _ = _hits(g, key_g)
    si_str, zi_str = _hits(g, strict_g)
    in_key = np.zeros(len(g), dtype=bool)
    in_key[si_key] = True
    in_strict = np.zeros(len(g), dtype=bool)
    in_strict[si_str] = True
    inside = in_key | in_strict
    chosen = idx_present[inside]

    out = src.iloc[chosen].copy()
    out["zone"] = np.where(in_strict[inside], "strict", "key")
    labels = ledger_zone_labels(pack)
    out["zone_zh"] = out["zone"].map(labels)
    ids = pd.Series(strict_ids[zi_str] if len(zi_str) else [], index=si_str, dtype=object)
    joined = ids.groupby(level=0).agg(lambda v: ";".join(sorted(set(v))))
    pos = np.full(len(g), "", dtype=object)
    pos[joined.index.to_numpy()] = joined.to_numpy()
    out["strict_zone_ids"] = pos[inside]
    if "source_type" not in out.columns:
        out["source_type"] = _UNTYPED
    out["source_type"] = out["source_type"].fillna(_UNTYPED).astype(str)
    if "name" not in out.columns:
        out["name"] = out["feature_id"].astype(str)
    pts = shapely.point_on_surface(out.geometry.to_numpy())
    out["lon"] = np.round(shapely.get_x(pts), 8)
    out["lat"] = np.round(shapely.get_y(pts), 8)
    out = out.reset_index(drop=True)

    issues: list[dict[str, Any]] = []
    rec = _emission_records(out, issues)
    if months is not None:
        available = sorted(rec["month"].unique())
        absent = [m for m in months if m not in available]
        if absent:
            shown = f"{available[0]} … {available[-1]}" if available else "none"
            msg = (
                f"no emissions recorded for month {', '.join(absent)} in the key-area "
                f"sources (months in the data: {shown}); pick one of those or update the "
                "pollution_source layer"
            )
            raise InputFormatError(msg)
        rec = rec[rec["month"].isin(months)]
    rec = rec.assign(
        feature_id=out["feature_id"].astype(str).to_numpy()[rec["row"].to_numpy()],
        name=out["name"].astype(str).to_numpy()[rec["row"].to_numpy()],
        source_type=out["source_type"].to_numpy()[rec["row"].to_numpy()],
        zone=out["zone"].to_numpy()[rec["row"].to_numpy()],
    )
    records = rec[["feature_id", "name", "source_type", "zone", "month", "pollutant", "tonnes"]]
    records = records.sort_values(["month", "zone", "feature_id", "pollutant"]).reset_index(
        drop=True
    )
    month_list = tuple(months if months is not None else sorted(records["month"].unique()))
    pollutants = tuple(sorted(records["pollutant"].unique()))

    totals, pivot = _totals(records, month_list, pollutants, labels)
    # per-source totals over the ledger's months, one column per pollutant
    per_src = records.pivot_table(
        index="feature_id", columns="pollutant", values="tonnes", aggfunc="sum", fill_value=0.0
    )
    for p in pollutants:
        col = per_src[p] if p in per_src.columns else pd.Series(dtype=float)
        out[f"tonnes_{p}"] = out["feature_id"].astype(str).map(col).fillna(0.0).to_numpy()
    by_type = _by_type(out)
    log.debug("ledger: %d sources, %d records", len(out), len(records))
    return LedgerResult(
        sources=out,
        records=records,
        totals=totals,
        pivot=pivot,
        by_type=by_type,
        months=month_list,
        pollutants=pollutants,
        inputs=inputs,
        issues=issues,
        citation=pack.ledger.citation if getattr(pack, "ledger", None) is not None else None,
        zone_labels=labels,
    )


def _totals(
    records: pd.DataFrame,
    months: tuple[str, ...],
    pollutants: tuple[str, ...],
    labels: Mapping[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    both = pd.concat([records, records.assign(zone="all")], ignore_index=True)
    totals = (
        both.groupby(["zone", "month", "pollutant"], sort=False)
        .agg(tonnes=("tonnes", "sum"), sources=("feature_id", "nunique"))
        .reset_index()
    )
    totals["zone"] = pd.Categorical(totals["zone"], categories=list(_ZONES), ordered=True)
    totals = totals.sort_values(["zone", "month", "pollutant"]).reset_index(drop=True)
    totals["zone"] = totals["zone"].astype(str)
    totals.insert(1, "zone_zh", totals["zone"].map(labels))
    full = pd.MultiIndex.from_product([list(_ZONES), list(months)], names=["zone", "month"])
    if len(both):
        pivot = both.pivot_table(
            index=["zone", "month"], columns="pollutant", values="tonnes", aggfunc="sum"
        )
    else:
        pivot = pd.DataFrame(index=full, columns=list(pollutants), dtype=float)
    pivot = pivot.reindex(index=full, columns=list(pollutants)).fillna(0.0)
    pivot.columns.name = "pollutant"
    return totals, pivot


def _by_type(sources: pd.DataFrame) -> pd.DataFrame:
    counts = pd.crosstab(sources["source_type"], sources["zone"]).reindex(
        columns=["strict", "key"], fill_value=0
    )
    counts["all"] = counts.sum(axis=1)
    counts = counts.sort_values(["all", "strict"], ascending=False)
    counts.loc["合计"] = counts.sum(axis=0)
    counts.index.name = "source_type"
    return counts.reset_index().astype({"strict": int, "key": int, "all": int})


# --------------------------------------------------------------------------- output


def _sheets(result: LedgerResult) -> dict[str, pd.DataFrame]:
    sources = pd.DataFrame(result.sources.drop(columns=result.sources.geometry.name))
    if "emissions" in sources.columns:
        sources = sources.drop(columns="emissions")  # the monthly detail is in totals
    first = ["feature_id", "name", "source_type", "zone", "zone_zh", "strict_zone_ids",
             "lon", "lat"]  # fmt: skip
    sources = sources[[c for c in first if c in sources] + [c for c in sources if c not in first]]
    pivot = result.pivot.reset_index()
    pivot.insert(1, "zone_zh", pivot["zone"].map(result.zone_labels))
    return {"sources": sources, "totals": result.totals, "pivot": pivot, "by_type": result.by_type}


def write_ledger(result: LedgerResult, path: str | Path) -> list[Path]:
    """Write the ledger: one XLSX workbook, or CSV files.

    Parameters
    ----------
    result
        From :func:`key_area_ledger`.
    path
        ``.xlsx``: sheets ``sources``, ``totals``, ``pivot``, ``by_type``.
        ``.csv``: the source ledger at ``path`` and ``<stem>.totals.csv``,
        ``<stem>.pivot.csv``, ``<stem>.by_type.csv`` beside it. UTF-8 with BOM.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    InputFormatError
        For another suffix.
    """
    path = Path(path)
    sheets = _sheets(result)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return [write_xlsx(sheets, path)]
    if suffix == ".csv":
        written = [write_csv(sheets["sources"], path)]
        for name in ("totals", "pivot", "by_type"):
            written.append(write_csv(sheets[name], path.with_name(f"{path.stem}.{name}.csv")))
        return written
    msg = f"cannot write the ledger as {path.name!r}: use a .xlsx or .csv file name"
    raise InputFormatError(msg)
