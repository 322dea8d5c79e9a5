"""The 三线一单 site check: which rules of a pack apply to each site, and the verdict.

:func:`check_sites` (or a reusable :class:`SiteChecker`) tests one or many sites —
points, lines or polygons, in any CRS — against the layers a rule pack uses, and
returns a :class:`CheckResult`:

- ``sites``: one row per checked site: ``site_id``, ``source_row`` (when the input
  has it), ``verdict`` ("prohibited" | "restricted" | "requirements" | "compliant"),
  ``verdict_zh``, ``deciding_rules`` (";"-joined rule ids), ``area_m2`` (0 for points
  and lines), ``dist_<kind>_m`` (metres to the nearest feature of each layer kind,
  0 when touching or inside, NaN when nothing lies within ``nearest_max_m``, 10 km
  by default), geometry in EPSG:4326;
- ``relations``: per site and layer kind, one row per feature the site lies in,
  overlaps or lies within the rule distance of (``relation`` "inside" | "overlaps" |
  "within_distance"), or one ``"outside"`` row naming the nearest feature:
  ``site_id, kind, feature_id, feature_name, relation, overlap_m2, overlap_pct,
  distance_m`` (overlap columns NaN for point and line sites);
- ``findings``: one row per (site, rule) that fires: ``site_id, rule_id, outcome,
  section, title, title_en, requirement, requirement_en, citations (tuple of str),
  feature_ids (tuple of str), distance_m, overlap_m2, overlap_pct, access_entries,
  units, band``;
- ``stamp``: ecozone version, pack name/version/lineage, each layer's name, version
  and checksum, and a sha256 of the input (geometries, ids, project attributes);
- ``errors``: the sites that could not be checked (``site_id, source_row, reason``).

Column types: ``site_id`` is text (object dtype), the repeated text columns (``kind``,
``feature_id``, ``feature_name``, ``relation``, ``rule_id``, ``outcome``, ``section``,
``title``, ``requirement`` ...) are pandas categoricals (a million sites stay in
memory), ``feature_ids`` and ``citations`` are tuples (shared between rows: do not
mutate), ``access_entries`` / ``units`` tuples of dicts or None, ``band`` a shapely
geometry or None.

Measurement: topology (intersects, inside) in lon/lat where the layers are defined;
distances in each site's own 3° Gauss-Krüger zone (EPSG:4534–4554, sites in several
zones are grouped by zone); overlap areas in an Albers equal-area projection on the
CGCS2000 ellipsoid fitted to the layers. Nothing depends on the other sites of a
batch, so checking a batch gives exactly the results of checking each site alone.
The spatial work is vectorised per layer (:mod:`zoning.relations`: one STRtree per
layer queried with all sites of a chunk, no Python loop over sites); big inputs are
processed in chunks (``chunk_size``, 200 000 by default) to bound memory.

Single sites (the web app checks one per request) take a few milliseconds, most of
which used to go into pandas: a result of at most :data:`SMALL_RESULT` input sites
keeps the engine's arrays and builds its frames (``sites``, ``relations``,
``findings``, ``errors``) only when they are first read, exactly as a batch builds
them; :meth:`CheckResult.site_to_dict` and :func:`zoning.report.build_report` read
such a result straight from the arrays. :meth:`SiteChecker.check_geometry` checks one
lon/lat geometry without a GeoDataFrame (building one costs more than the check).

Rules (:class:`zoning.pack.Rule`): a rule fires for a site when the project's
conditions hold (``rule.when``), the site meets the spatial predicate against the
features that pass ``feature_filter``, and the site does not intersect the rule's
``unless_layer``:

- ``intersects``: the site touches a feature; ``within``: it lies inside one;
- ``within_distance``: a feature within ``distance_m`` (geodesic-true metres); on
  layer ``park`` without ``distance_m``, within each park's service radius from
  ``pack.park_service`` by its ``area_m2`` (parks below the smallest tier never count);
- ``nearest`` (information): the nearest feature, within ``distance_m`` if given;
- layer ``site_exit``: the site lies within ``distance_m`` of one of its exits
  (``Project.exits``, or per-site columns ``exits`` / ``exit_lon`` + ``exit_lat``);
  the finding's ``band`` is the disc of that radius around the exits
  (:mod:`zoning.exit_band`).

The verdict is the most severe outcome among the findings, prohibited > restricted >
requirements > compliant; "information" findings never change it. Control-unit rules
with ``access_list = true`` attach, in ``access_entries``, the unit's access-list
entries that apply to the project: an entry with ``project_types`` applies to those
types, with ``industry_prefixes`` to industry codes starting so, with ``requires`` to
projects having at least one of those flags (unknown attributes never match, as for
rule conditions); an entry without filters applies to every project.

``CheckResult.site_to_dict(site_id)`` — JSON-safe dict of one site, for reports::

    {
      "site_id": str, "source_row": int | None,
      "geometry": GeoJSON geometry (lon/lat), "geometry_type": str, "area_m2": float,
      "verdict": str, "verdict_zh": str, "deciding_rules": [rule_id, ...],
      "distances_m": {kind: float | None},
      "relations": [{"kind", "feature_id", "feature_name", "relation", "relation_zh",
                     "overlap_m2", "overlap_pct", "distance_m"}, ...],
      "findings": [{"rule_id", "outcome", "outcome_zh", "section", "section_zh",
                    "title", "title_en", "requirement", "requirement_en",
                    "citations": [str], "feature_ids": [str], "distance_m",
                    "overlap_m2", "overlap_pct",
                    "access_entries": [{"feature_id", "unit_code", "category",
                                        "category_zh", "dimension", "dimension_zh",
                                        "text", "text_en"}] | None,
                    "units": [{"feature_id", "unit_code", "category", "category_zh",
                               "name"}] | None,
                    "band": GeoJSON geometry | None}, ...]
    }

Numbers are plain floats (NaN → None). ``CheckResult.to_dict()`` returns
``{"stamp": ..., "sites": [site dicts], "errors": [{"site_id", "source_row",
"reason"}]}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _pkg_version
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.errors import (
    CRSDetectionError,
    EcozoneWarning,
    GeometryError,
    GeometryRepairedWarning,
    InputFormatError,
    LayerValidationError,
    MissingLayerError,
)
from zoning.exit_band import disc_bands
from zoning.pack import Pack, Rule
from zoning.project import FLAGS, Project, project_from_row
from zoning.relations import (
    OUTSIDE,
    RELATIONS,
    LayerIndex,
    LayerRelations,
    _runs,
    fixed_equal_area_crs,
    prepare_sites,
    relate_layer,
    transform_geoms,
)

__all__ = [
    "OUTCOME_ORDER",
    "SMALL_RESULT",
    "VERDICTS",
    "VERDICT_ZH",
    "CheckResult",
    "MissingLayerWarning",
    "SiteChecker",
    "check_sites",
]

log = logging.getLogger(__name__)

#: Verdicts, most severe first.
VERDICTS: tuple[str, ...] = ("prohibited", "restricted", "requirements", "compliant")
#: Chinese verdict labels (as in EIA compliance tables).
VERDICT_ZH: dict[str, str] = {
    "prohibited": "不符合（禁止类）",
    "restricted": "需论证",
    "requirements": "符合（须落实管控要求）",
    "compliant": "符合",
}
#: Outcomes by severity; "information" (0) never changes a verdict.
OUTCOME_ORDER: dict[str, int] = {
    "information": 0,
    "requirements": 1,
    "restricted": 2,
    "prohibited": 3,
}
_VERDICT_OF_SEVERITY = ("compliant", "requirements", "restricted", "prohibited")
_OUTCOME_ZH = {
    "prohibited": "禁止",
    "restricted": "限制(需论证)",
    "requirements": "须落实管控要求",
    "information": "信息",
}
_SECTION_ZH = {
    "redline": "生态保护红线",
    "quality_floor": "环境质量底线",
    "resource_cap": "资源利用上线",
    "access_list": "生态环境准入清单",
}
_RELATION_ZH = {
    "inside": "位于其内",
    "overlaps": "部分重叠",
    "within_distance": "在距离范围内",
    "outside": "位于其外",
}
_CATEGORY_ZH = {"priority": "优先保护单元", "key": "重点管控单元", "general": "一般管控单元"}
_DIMENSION_ZH = {
    "layout": "空间布局约束",
    "discharge": "污染物排放管控",
    "risk": "环境风险防控",
    "efficiency": "资源开发效率要求",
}
_LONLAT = "EPSG:4326"
#: Default search radius of the nearest-feature distance (metres).
NEAREST_MAX_M = 10_000.0
#: Default number of sites processed at once (bounds memory).
CHUNK_SIZE = 200_000
#: Results of at most this many input sites build their frames lazily (first read).
SMALL_RESULT = 16

# Columns project_from_row reads (besides exits and name, handled apart).
_PROJECT_COLUMNS = {
    "project_type", "type", "项目类型", "类型",
    "industry_code", "industry", "行业代码", "国民经济行业代码",
    "flags", "标志", "活动",
    "development", "建设性质",
    "temporary_land_use", "temporary", "临时用地",
    "water_supply", "供水设施", "供水",
    *FLAGS, *(v for v in ("废水", "排放废水", "污水", "排放污水", "垃圾", "堆放垃圾", "厕所",
                          "设置厕所", "粪便", "畜禽粪便", "堆放畜禽粪便", "挥发性有机物")),
    "排放挥发性有机物(VOCs)",
}  # fmt: skip
_EXIT_COLUMNS = ("exits", "exit", "出口", "出口坐标")


# --------------------------------------------------------------------------- result


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _geojson(geom: Any) -> dict[str, Any] | None:
    if geom is None or shapely.is_missing(geom):
        return None
    return json.loads(shapely.to_geojson(geom))


def _text_or_none(v: Any) -> str | None:
    return None if pd.isna(v) else str(v)


#: Columns of one finding / relation in :meth:`CheckResult._site_rows`.
_FINDING_KEYS = (
    "rule_id", "outcome", "section", "title", "title_en", "requirement", "requirement_en",
    "citations", "feature_ids", "distance_m", "overlap_m2", "overlap_pct", "access_entries",
    "units", "band",
)  # fmt: skip
_RELATION_KEYS = (
    "kind", "feature_id", "feature_name", "relation", "overlap_m2", "overlap_pct", "distance_m",
)  # fmt: skip


def _rows_from_frames(
    sites: pd.DataFrame, relations: pd.DataFrame, findings: pd.DataFrame, site_id: Any
) -> dict[str, Any] | None:
    """One site of result frames as plain Python rows (``None``: no such site).

    The frame half of :meth:`CheckResult._site_rows`; ``site_id`` is compared as is
    with the ``site_id`` columns. Missing columns read as ``None`` (the report accepts
    any object with these frames).
    """
    match = sites[sites["site_id"] == site_id]
    if match.empty:
        return None
    row = match.iloc[0]
    rel = relations[relations["site_id"] == site_id]
    fnd = findings[findings["site_id"] == site_id]
    rel_cols = [c for c in _RELATION_KEYS if c in rel.columns]
    fnd_cols = [c for c in _FINDING_KEYS if c in fnd.columns]
    return {
        "site_id": row["site_id"],
        "source_row": row["source_row"] if "source_row" in sites.columns else None,
        "geometry": row.geometry,
        "crs": getattr(match, "crs", None),
        "area_m2": row["area_m2"] if "area_m2" in sites.columns else None,
        "verdict": str(row["verdict"]),
        "verdict_zh": str(row["verdict_zh"]) if "verdict_zh" in sites.columns else None,
        "deciding_rules": row.get("deciding_rules"),
        "distances": {
            c[len("dist_") : -len("_m")]: row[c]
            for c in sites.columns
            if c.startswith("dist_") and c.endswith("_m")
        },
        "relations": [
            dict.fromkeys(_RELATION_KEYS) | dict(zip(rel_cols, r, strict=True))
            for r in rel[rel_cols].itertuples(index=False, name=None)
        ],
        "findings": [
            dict.fromkeys(_FINDING_KEYS) | dict(zip(fnd_cols, f, strict=True))
            for f in fnd[fnd_cols].itertuples(index=False, name=None)
        ],
    }


@dataclass
class CheckResult:
    """The outcome of a site check (see the module docstring for the columns).

    Attributes
    ----------
    sites : geopandas.GeoDataFrame
        One row per checked site, with the verdict.
    relations : pandas.DataFrame
        Site × layer relations.
    findings : pandas.DataFrame
        One row per rule that fires for a site.
    stamp : dict
        Versions and checksums that make the check reproducible.
    errors : pandas.DataFrame
        Sites that could not be checked: ``site_id, source_row, reason``.
    """

    sites: gpd.GeoDataFrame
    relations: pd.DataFrame
    findings: pd.DataFrame
    stamp: dict[str, Any]
    errors: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["site_id", "source_row", "reason"])
    )

    def counts(self) -> dict[str, int]:
        """Return the number of sites per verdict (every verdict listed, zeros included)."""
        vc = self.sites["verdict"].astype(str).value_counts()
        return {v: int(vc.get(v, 0)) for v in VERDICTS}

    def _site_rows(self, site_id: Any) -> dict[str, Any] | None:
        """One site as plain Python rows, or ``None`` when no checked site has that id.

        ``site_id`` is compared as is (no conversion). The keys: ``site_id``,
        ``source_row``, ``geometry`` (shapely), ``crs``, ``area_m2``, ``verdict``,
        ``verdict_zh``, ``deciding_rules`` (";"-joined), ``distances`` (kind → float),
        ``relations`` and ``findings`` (lists of dicts, keys :data:`_RELATION_KEYS` /
        :data:`_FINDING_KEYS`, raw values: NaN, tuples). Shared by :meth:`site_to_dict`
        and :func:`zoning.report.build_report`; a small result answers it from the
        engine's arrays without building the frames.
        """
        return _rows_from_frames(self.sites, self.relations, self.findings, site_id)

    def _first_site_id(self) -> Any:
        """The first checked site's id (``None`` when the result holds no site)."""
        sites = self.sites
        return sites["site_id"].iloc[0] if len(sites) else None

    def site_to_dict(self, site_id: Any) -> dict[str, Any]:
        """One site's check as a JSON-safe dict (schema in the module docstring).

        Parameters
        ----------
        site_id
            The site's ``site_id`` (compared as text).

        Returns
        -------
        dict

        Raises
        ------
        InputFormatError
            If no checked site has that id.
        """
        sid = str(site_id)
        rows = self._site_rows(sid)
        if rows is None:
            msg = f"site {sid!r} is not in the check result; ids: {self._some_ids()}"
            raise InputFormatError(msg)
        geom = rows["geometry"]
        relations = [
            {
                "kind": str(r["kind"]),
                "feature_id": _text_or_none(r["feature_id"]),
                "feature_name": _text_or_none(r["feature_name"]),
                "relation": str(r["relation"]),
                "relation_zh": _RELATION_ZH[str(r["relation"])],
                "overlap_m2": _num(r["overlap_m2"]),
                "overlap_pct": _num(r["overlap_pct"]),
                "distance_m": _num(r["distance_m"]),
            }
            for r in rows["relations"]
        ]
        findings = []
        for f in rows["findings"]:
            findings.append(
                {
                    "rule_id": str(f["rule_id"]),
                    "outcome": str(f["outcome"]),
                    "outcome_zh": _OUTCOME_ZH[str(f["outcome"])],
                    "section": str(f["section"]),
                    "section_zh": _SECTION_ZH.get(str(f["section"]), str(f["section"])),
                    "title": str(f["title"]),
                    "title_en": str(f["title_en"]),
                    "requirement": str(f["requirement"]),
                    "requirement_en": str(f["requirement_en"]),
                    "citations": [str(c) for c in f["citations"]],
                    "feature_ids": [str(x) for x in f["feature_ids"]],
                    "distance_m": _num(f["distance_m"]),
                    "overlap_m2": _num(f["overlap_m2"]),
                    "overlap_pct": _num(f["overlap_pct"]),
                    "access_entries": None
                    if f["access_entries"] is None
                    else [dict(e) for e in f["access_entries"]],
                    "units": None if f["units"] is None else [dict(u) for u in f["units"]],
                    "band": _geojson(f["band"]),
                }
            )
        src = rows["source_row"]
        return {
            "site_id": sid,
            "source_row": None if src is None or pd.isna(src) else int(src),
            "geometry": _geojson(geom),
            "geometry_type": None if geom is None else geom.geom_type,
            "area_m2": _num(rows["area_m2"]),
            "verdict": str(rows["verdict"]),
            "verdict_zh": str(rows["verdict_zh"]),
            "deciding_rules": [r for r in str(rows["deciding_rules"]).split(";") if r],
            "distances_m": {k: _num(v) for k, v in rows["distances"].items()},
            "relations": relations,
            "findings": findings,
        }

    def to_dict(self, *, site_ids: Iterable[Any] | None = None) -> dict[str, Any]:
        """Return the whole result (or some sites) as a JSON-safe dict.

        Parameters
        ----------
        site_ids
            Sites to include; default all (meant for small results and reports).

        Returns
        -------
        dict
            ``{"stamp", "sites": [site dicts], "errors": [...]}``.
        """
        ids = self.sites["site_id"].tolist() if site_ids is None else list(site_ids)
        return {
            "stamp": json.loads(json.dumps(self.stamp, default=str)),
            "sites": [self.site_to_dict(s) for s in ids],
            "errors": [
                {
                    "site_id": None if pd.isna(e.site_id) else str(e.site_id),
                    "source_row": None if pd.isna(e.source_row) else int(e.source_row),
                    "reason": str(e.reason),
                }
                for e in self.errors.itertuples(index=False)
            ],
        }

    def _some_ids(self) -> str:
        ids = self.sites["site_id"].head(5).tolist()
        return ", ".join(map(repr, ids)) + (" ..." if len(self.sites) > 5 else "")


def _lazy_frame(name: str) -> Any:
    """A property of :class:`_SmallResult`: the frame ``name``, built on first read."""

    def fget(self: _SmallResult) -> Any:
        return self._frame(name)

    def fset(self: _SmallResult, value: Any) -> None:
        self._frames[name] = value

    return property(fget, fset, doc=f"``{name}`` (built when first read)")


class _SmallResult(CheckResult):
    """A :class:`CheckResult` of a few sites whose frames are built on first use.

    A single-site check spent most of its time building pandas frames (categoricals,
    a GeoDataFrame) that a report never reads: :meth:`_site_rows` answers from the
    engine's arrays, and ``sites`` / ``relations`` / ``findings`` / ``errors`` are
    built, exactly as the eager path builds them, when first read (and can be
    replaced, as a dataclass field can). Pickles and copies as a plain
    :class:`CheckResult`; ``dataclasses.replace`` gives a plain one too.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], SiteChecker) and not kwargs:
            return super().__new__(cls)
        return CheckResult(*args, **kwargs)  # the dataclass signature (replace, copies)

    def __init__(
        self,
        checker: SiteChecker,
        s: _Sites,
        arrays: dict[str, dict[str, NDArray[Any]]],
        stamp: dict[str, Any],
    ) -> None:
        self._checker = checker
        self._s = s
        self._arrays = arrays
        self._frames: dict[str, Any] = {}
        self.stamp = stamp

    def _frame(self, name: str) -> Any:
        got = self._frames.get(name)
        if got is None:
            ch, a = self._checker, self._arrays
            if name == "sites":
                got = ch._sites_frame(self._s, dict(a["sites"]))
            elif name == "relations":
                got = ch._relations_frame(self._s, dict(a["relations"]))
            elif name == "findings":
                got = ch._findings_frame(self._s, dict(a["findings"]))
            else:
                got = _errors_frame(self._s)
            self._frames[name] = got
        return got

    sites = _lazy_frame("sites")  # type: ignore[assignment]
    relations = _lazy_frame("relations")  # type: ignore[assignment]
    findings = _lazy_frame("findings")  # type: ignore[assignment]
    errors = _lazy_frame("errors")  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (CheckResult, (self.sites, self.relations, self.findings, self.stamp, self.errors))

    def _first_site_id(self) -> Any:
        pos = self._arrays["sites"]["pos"]
        return self._s.site_id[pos[0]] if len(pos) else None

    def _some_ids(self) -> str:
        ids = self._s.site_id[self._arrays["sites"]["pos"]].tolist()
        return ", ".join(map(repr, ids[:5])) + (" ..." if len(ids) > 5 else "")

    def _site_rows(self, site_id: Any) -> dict[str, Any] | None:
        if "sites" in self._frames or "relations" in self._frames or "findings" in self._frames:
            # frames were read (and might have been replaced): they are the truth
            return super()._site_rows(site_id)
        ch, s, a = self._checker, self._s, self._arrays
        sa = a["sites"]
        pos = sa["pos"]
        ids = s.site_id[pos]
        hit = [i for i, x in enumerate(ids.tolist()) if x == site_id]
        if not hit:
            return None
        i = hit[0]
        p = pos[i]
        rel = a["relations"]
        kinds = ch.kinds
        fid_cat = ch._fid_values
        fname_cat = ch._fname_values
        relations = []
        for j in np.flatnonzero(rel["site"] == p).tolist():
            fc, nc = int(rel["fcode"][j]), int(rel["ncode"][j])
            relations.append(
                {
                    "kind": kinds[int(rel["kind"][j])],
                    "feature_id": fid_cat[fc] if fc >= 0 else None,
                    "feature_name": fname_cat[nc] if nc >= 0 else None,
                    "relation": RELATIONS[int(rel["rel"][j])],
                    "overlap_m2": float(rel["ov"][j]),
                    "overlap_pct": float(rel["pct"][j]),
                    "distance_m": float(rel["dist"][j]),
                }
            )
        fnd = a["findings"]
        findings = []
        for j in np.flatnonzero(fnd["site"] == p).tolist():
            rule = ch.rules[int(fnd["rule"][j])]
            findings.append(
                {
                    "rule_id": rule.id,
                    "outcome": rule.outcome,
                    "section": rule.section,
                    "title": rule.title,
                    "title_en": rule.title_en,
                    "requirement": rule.requirement,
                    "requirement_en": rule.requirement_en,
                    "citations": ch._cites[int(fnd["rule"][j])],
                    "feature_ids": fnd["feature_ids"][j],
                    "distance_m": float(fnd["distance_m"][j]),
                    "overlap_m2": float(fnd["overlap_m2"][j]),
                    "overlap_pct": float(fnd["overlap_pct"][j]),
                    "access_entries": fnd["access_entries"][j],
                    "units": fnd["units"][j],
                    "band": fnd["band"][j],
                }
            )
        verdict = _VERDICT_OF_SEVERITY[int(sa["severity"][i])]
        return {
            "site_id": ids[i],
            "source_row": s.source_row[p] if s.source_row is not None else None,
            "geometry": sa["geometry"][i],
            "crs": _LONLAT,
            "area_m2": float(sa["area_m2"][i]),
            "verdict": verdict,
            "verdict_zh": VERDICT_ZH[verdict],
            "deciding_rules": sa["deciding"][i],
            "distances": {k: float(sa[f"dist_{k}_m"][i]) for k in kinds},
            "relations": relations,
            "findings": findings,
        }


# --------------------------------------------------------------------------- layers


def _layer_frame(kind: str, layer: Any) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Return the GeoDataFrame (EPSG:4326) and stamp entry of a Layer or GeoDataFrame."""
    if isinstance(layer, gpd.GeoDataFrame):
        gdf = layer
        meta: dict[str, Any] = {"name": kind, "kind": kind, "version": None, "checksum": None}
    elif hasattr(layer, "gdf"):
        gdf = layer.gdf
        meta = {
            "name": getattr(layer, "name", kind),
            "kind": getattr(layer, "kind", kind),
            "version": getattr(layer, "version", None),
            "checksum": getattr(layer, "checksum", None),
        }
    else:
        msg = (
            f"layers[{kind!r}] must be a layers.Layer or a GeoDataFrame, got {type(layer).__name__}"
        )
        raise LayerValidationError(msg)
    if gdf.crs is None:
        msg = f"layer {kind!r} has no CRS; layers are stored in EPSG:4326 (set_crs / to_crs)"
        raise LayerValidationError(msg)
    missing = [c for c in ("feature_id", "name") if c not in gdf.columns]
    if missing:
        msg = (
            f"layer {kind!r} lacks column(s) {missing}; every layer needs feature_id and "
            "name (validate it with layers.validate_layer)"
        )
        raise LayerValidationError(msg)
    if not gdf.crs.equals(_LONLAT):
        gdf = gdf.to_crs(_LONLAT)
    geoms = gdf.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        gdf = gdf[~bad]
        log.debug("layer %s: %d empty geometries ignored", kind, int(bad.sum()))
    if meta["checksum"] is None:
        h = hashlib.sha256()
        h.update(b"".join(shapely.to_wkb(gdf.geometry.to_numpy(), byte_order=1)))
        h.update("\x1f".join(gdf["feature_id"].astype(str)).encode())
        meta["checksum"] = h.hexdigest()
    meta["row_count"] = len(gdf)
    return gdf, meta


def _text_array(values: pd.Series) -> NDArray[Any]:
    """Values as an object array of str ("" for missing)."""
    arr = values.to_numpy(dtype=object, na_value="")
    if pd.api.types.infer_dtype(arr, skipna=False) not in ("string", "empty"):
        arr = np.asarray([str(v) for v in arr], dtype=object)
    return arr


def _feature_mask(rule: Rule, index: LayerIndex) -> NDArray[np.bool_]:
    mask = np.ones(len(index), dtype=bool)
    for col, allowed in (rule.feature_filter or {}).items():
        if col not in index.columns:
            msg = (
                f"rule {rule.id!r}: feature_filter column {col!r} is not in layer "
                f"{index.kind!r} (columns: {sorted(index.columns)})"
            )
            raise LayerValidationError(msg)
        mask &= np.isin(index.columns[col], [str(a) for a in allowed])
    return mask


def _access_entries(raw: Any, fid: str, code: str, category: str) -> list[dict[str, Any]]:
    if raw is None or (isinstance(raw, float) and np.isnan(raw)) or raw == "":
        return []
    entries = json.loads(raw) if isinstance(raw, str) else raw
    out = []
    for e in entries or []:
        dim = str(e.get("dimension", ""))
        out.append(
            {
                "feature_id": fid,
                "unit_code": code,
                "category": category,
                "category_zh": _CATEGORY_ZH.get(category, category),
                "dimension": dim,
                "dimension_zh": _DIMENSION_ZH.get(dim, dim),
                "text": str(e.get("text", "")),
                "text_en": str(e.get("text_en", "") or ""),
                "_project_types": e.get("project_types"),
                "_industry_prefixes": e.get("industry_prefixes"),
                "_requires": e.get("requires"),
            }
        )
    return out


def _entry_applies(e: Mapping[str, Any], p: Project) -> bool:
    types = e.get("_project_types")
    if types and p.project_type not in types:
        return False
    prefixes = e.get("_industry_prefixes")
    if prefixes:
        code = p.industry_code or ""
        if not code or not any(code.startswith(str(x).upper()) for x in prefixes):
            return False
    requires = e.get("_requires")
    return not (requires and not (p.flags & set(requires)))


# --------------------------------------------------------------------------- rules


@dataclass
class _RulePlan:
    """What the engine needs of one rule, computed once per checker."""

    pos: int
    rule: Rule
    mask: NDArray[np.bool_] | None  # features passing feature_filter (None: site_exit)
    within: NDArray[np.float64] | None  # per-feature distance limit (within_distance)
    nearest_key: tuple[str, tuple[tuple[str, tuple[str, ...]], ...]] | None


@dataclass
class _Sites:
    """Input sites normalised: lon/lat geometry, ids, profiles, exits, errors."""

    geoms: NDArray[Any]
    site_id: NDArray[Any]
    source_row: NDArray[Any] | None
    profile: NDArray[np.intp]
    projects: list[Project]
    exit_site: NDArray[np.intp]
    exit_lon: NDArray[np.float64]
    exit_lat: NDArray[np.float64]
    ok: NDArray[np.bool_]
    reasons: dict[int, str]


class SiteChecker:
    """A pack and its layers, indexed once, to check any number of sites.

    Parameters
    ----------
    pack
        A :class:`zoning.pack.Pack`.
    layers
        Mapping layer kind → :class:`layers.Layer` or GeoDataFrame (EPSG:4326 or any
        CRS, with ``feature_id`` and ``name``). Needs every kind the pack's rules
        read (``pack.layer_kinds()``).
    nearest_max_m
        Search radius of nearest-feature distances; beyond it the distance is NaN.
    missing_layers
        ``"raise"`` (default): a kind the rules need but ``layers`` lacks raises
        :class:`MissingLayerError`; ``"skip"``: those rules are skipped, with a warning
        and a list in ``stamp["skipped_rules"]``.

    Raises
    ------
    MissingLayerError
        A needed layer kind is missing (``missing_layers="raise"``).
    LayerValidationError
        A layer without CRS or ``feature_id``/``name``, or a ``feature_filter`` column
        the layer does not have.
    """

    def __init__(
        self,
        pack: Pack,
        layers: Mapping[str, Any],
        *,
        nearest_max_m: float = NEAREST_MAX_M,
        missing_layers: Literal["raise", "skip"] = "raise",
    ) -> None:
        self.pack = pack
        self.nearest_max_m = float(nearest_max_m)
        needed = pack.layer_kinds()
        missing = sorted(k for k in needed if k not in layers)
        self.skipped_rules: list[str] = []
        rules = list(pack.rules)
        if missing:
            users = [r.id for r in rules if r.layer in missing or r.unless_layer in missing]
            if missing_layers == "raise":
                msg = (
                    f"pack {pack.name!r} needs layer kind(s) {missing} (rules {users}); "
                    "import them into the store (ecozone layers import ...) or pass "
                    "missing_layers='skip' to check without those rules"
                )
                raise MissingLayerError(msg)
            warnings.warn(
                f"layer kind(s) {missing} missing: rules {users} are skipped",
                MissingLayerWarning,
                stacklevel=2,
            )
            self.skipped_rules = users
            rules = [r for r in rules if r.id not in users]
        self.rules = rules
        self.kinds: list[str] = [k for k in _ordered_kinds(rules) if k in layers]
        self.layer_stamp: dict[str, Any] = {}
        self.index: dict[str, LayerIndex] = {}
        for kind in self.kinds:
            gdf, meta = _layer_frame(kind, layers[kind])
            self.layer_stamp[kind] = meta
            cols = {
                c: _text_array(gdf[c])
                for c in gdf.columns
                if c not in (gdf.geometry.name, "feature_id", "name")
            }
            if kind == "park" and "area_m2" in gdf.columns:
                cols["area_m2"] = gdf["area_m2"].to_numpy(dtype="float64")
            self.index[kind] = LayerIndex(
                kind,
                gdf.geometry.to_numpy(),
                _text_array(gdf["feature_id"]),
                _text_array(gdf["name"]),
                cols,
            )
        self.ea_crs = fixed_equal_area_crs(list(self.index.values()))
        self._plans = [self._plan(i, r) for i, r in enumerate(rules)]
        self._within: dict[str, NDArray[np.float64] | None] = {}
        for kind in self.kinds:
            limits = [
                p.within for p in self._plans if p.rule.layer == kind and p.within is not None
            ]
            self._within[kind] = np.fmax.reduce(limits) if limits else None
        self._subsets: dict[Any, tuple[LayerIndex, NDArray[np.intp]]] = {}
        for p in self._plans:
            if p.nearest_key is not None and p.nearest_key not in self._subsets:
                self._subsets[p.nearest_key] = self.index[p.rule.layer].subset(p.mask)
        self._fid1 = {k: _one_tuples(ix.ids) for k, ix in self.index.items()}
        self._entries: dict[int, list[dict[str, Any]]] = {}
        self._units: dict[int, dict[str, Any]] = {}  # control units (access_list rules)
        # categories shared by every chunk (so concatenated frames stay categorical)
        self._rule_ids = [r.id for r in rules]
        all_ids = [ix.ids for ix in self.index.values()]
        all_names = [ix.names for ix in self.index.values()]
        ids_cat = pd.unique(np.concatenate(all_ids)) if all_ids else np.zeros(0, object)
        names_cat = pd.unique(np.concatenate(all_names)) if all_names else np.zeros(0, object)
        self._fid_cat = pd.Index(ids_cat)
        self._fname_cat = pd.Index(names_cat)
        self._fid_code = {k: self._fid_cat.get_indexer(ix.ids) for k, ix in self.index.items()}
        self._fname_code = {
            k: self._fname_cat.get_indexer(ix.names) for k, ix in self.index.items()
        }
        self._dtypes = {
            "kind": pd.CategoricalDtype(self.kinds),
            "feature_id": pd.CategoricalDtype(self._fid_cat),
            "feature_name": pd.CategoricalDtype(self._fname_cat),
            "relation": pd.CategoricalDtype(list(RELATIONS)),
            "rule_id": pd.CategoricalDtype(self._rule_ids),
            "outcome": pd.CategoricalDtype(list(OUTCOME_ORDER)),
            "section": pd.CategoricalDtype(list(_SECTION_ZH)),
        }
        # per rule: the code of each text column in its own categorical dtype
        self._rule_codes: dict[str, NDArray[np.intp]] = {
            "outcome": np.array([list(OUTCOME_ORDER).index(r.outcome) for r in rules], np.intp),
            "section": np.array([list(_SECTION_ZH).index(r.section) for r in rules], np.intp),
        }
        for col in ("title", "title_en", "requirement", "requirement_en"):
            codes, uniq = pd.factorize(pd.Index([getattr(r, col) for r in rules], dtype=object))
            self._rule_codes[col] = np.asarray(codes, dtype=np.intp)
            self._dtypes[col] = pd.CategoricalDtype(uniq)
        self._cites = np.empty(len(rules), dtype=object)
        self._cites[:] = [tuple(str(c) for c in r.citations) for r in rules]
        self._severity = np.array([OUTCOME_ORDER[r.outcome] for r in rules], dtype=np.int8)
        self._cond_cache: dict[tuple[Any, ...], list[bool]] = {}
        # feature ids / names of the categories as plain str (small results' rows)
        self._fid_values = np.asarray(self._fid_cat, dtype=object)
        self._fname_values = np.asarray(self._fname_cat, dtype=object)

    # ----------------------------------------------------------------- planning

    def _plan(self, pos: int, rule: Rule) -> _RulePlan:
        if rule.layer == "site_exit":
            return _RulePlan(pos, rule, None, None, None)
        index = self.index[rule.layer]
        mask = _feature_mask(rule, index)
        within = None
        if rule.predicate == "within_distance":
            if rule.distance_m is not None:
                within = np.where(mask, float(rule.distance_m), np.nan)
            else:  # park service radius by park area; 0 = below every tier: never
                if "area_m2" not in index.columns:
                    msg = (
                        f"rule {rule.id!r} needs the park service radius, but layer 'park' "
                        "has no area_m2 column (validate it with layers.validate_layer)"
                    )
                    raise LayerValidationError(msg)
                radius = self.pack.park_service.radius_for(index.columns["area_m2"])
                within = np.where(mask & (radius > 0), radius, np.nan)
        nearest_key = None
        if rule.predicate == "nearest" and not mask.all():
            nearest_key = (
                rule.layer,
                tuple(sorted((k, tuple(v)) for k, v in rule.feature_filter.items())),
            )
        return _RulePlan(pos, rule, mask, within, nearest_key)

    # ----------------------------------------------------------------- input

    def _read_sites(
        self, sites: gpd.GeoDataFrame | gpd.GeoSeries, project: Project | None, coords: str
    ) -> _Sites:
        if isinstance(sites, gpd.GeoSeries):
            sites = sites.to_frame(name="geometry")
        if not isinstance(sites, gpd.GeoDataFrame):
            msg = f"`sites` must be a GeoDataFrame or GeoSeries, got {type(sites).__name__}"
            raise InputFormatError(msg)
        if sites.crs is None:
            msg = (
                "`sites` has no CRS: set it with sites.set_crs(...) (lon/lat: EPSG:4326; "
                "Gauss-Krüger e.g. EPSG:4548) or read the file with geo.io.read_vector"
            )
            raise CRSDetectionError(msg)
        if coords not in ("wgs84", "cgcs2000"):
            from geo.chinacoords import convert_gdf  # GCJ-02 / BD-09 → WGS84 (lon/lat only)

            sites = convert_gdf(sites, src=coords, dst="wgs84")
        n = len(sites)
        geoseries = sites.geometry
        crs = geoseries.crs
        geoms = geoseries.to_numpy()
        if not crs.equals(_LONLAT):
            geoms = geoseries.to_crs(_LONLAT).to_numpy()
        geoms = np.asarray(geoms, dtype=object).copy()
        source_row = sites["source_row"].to_numpy() if "source_row" in sites.columns else None
        if "site_id" in sites.columns:
            site_id = _text_array(sites["site_id"])
        elif source_row is not None:
            site_id = np.asarray(
                [str(int(v)) if pd.notna(v) else f"#{i + 1}" for i, v in enumerate(source_row)],
                dtype=object,
            )
        else:
            site_id = np.asarray([str(i) for i in range(1, n + 1)], dtype=object)
        return self._normalise_sites(geoms, site_id, source_row, sites, crs.to_string, project)

    def _normalise_sites(
        self,
        geoms: NDArray[Any],
        site_id: NDArray[Any],
        source_row: NDArray[Any] | None,
        sites: pd.DataFrame | None,
        crs_text: Callable[[], str],
        project: Project | None,
    ) -> _Sites:
        """Errors, repairs, projects and exits of lon/lat sites (``sites``: their columns)."""
        n = len(geoms)
        reasons: dict[int, str] = {}
        unique = (
            len(set(site_id.tolist())) == n
            if n <= 64
            else pd.Index(site_id, dtype=object).is_unique
        )
        if not unique:
            # a repeated id is an error on its later rows (results are keyed by site_id)
            ids = pd.Series(site_id, dtype=object)
            first = pd.Series(np.arange(n)).groupby(ids.to_numpy(), sort=False).transform("min")
            rows = source_row if source_row is not None else np.arange(1, n + 1)
            for i in np.flatnonzero(first.to_numpy() != np.arange(n)).tolist():
                reasons[i] = (
                    f"site_id {site_id[i]!r} 重复 / duplicated (first at row "
                    f"{rows[first.iloc[i]]}); give each site a unique id"
                )
        # geometry problems: missing/empty/non-finite are errors; invalid is repaired
        missing = shapely.is_missing(geoms)
        empty = ~missing & shapely.is_empty(geoms)
        for i in np.flatnonzero(missing | empty):
            reasons[int(i)] = "空几何 / missing or empty geometry: give the site a geometry"
        live = np.flatnonzero(~(missing | empty))
        if len(live):
            coords, owner = shapely.get_coordinates(geoms[live], return_index=True)
            bad = np.unique(owner[~np.isfinite(coords).all(axis=1)])
            for i in live[bad]:
                reasons[int(i)] = (
                    "坐标无效 / non-finite coordinate (NaN/inf) in the geometry; fix the "
                    "coordinates in the input"
                )
            keep = np.ones(len(live), dtype=bool)
            keep[bad] = False
            live = live[keep]
            b = shapely.bounds(geoms[live])
            out = (b[:, 0] < -180) | (b[:, 2] > 180) | (b[:, 1] < -90) | (b[:, 3] > 90)
            for i in live[out]:
                reasons[int(i)] = (
                    "坐标超出经纬度范围 / coordinates outside lon/lat after reprojection: "
                    f"check the CRS of the input ({crs_text()})"
                )
            live = live[~out]
            invalid = live[~shapely.is_valid(geoms[live])]
            if len(invalid):
                geoms[invalid] = shapely.make_valid(geoms[invalid])
                warnings.warn(
                    f"{len(invalid)} site geometries were invalid and repaired with "
                    f"make_valid (site_id {', '.join(site_id[invalid[:5]])}...)",
                    GeometryRepairedWarning,
                    stacklevel=3,
                )
        # project attributes: one Project, or per-row columns (deduplicated)
        if project is not None:
            profile = np.zeros(n, dtype=np.intp)
            projects = [project]
        elif sites is None:  # no attribute columns: an unknown project
            profile, projects = np.zeros(n, dtype=np.intp), [Project()]
        else:
            profile, projects, perr = _profiles(sites, site_id)
            reasons.update({i: r for i, r in perr.items() if i not in reasons})
        ex_site, ex_lon, ex_lat, xerr = _exits(sites, n, project)
        reasons.update({i: r for i, r in xerr.items() if i not in reasons})
        ok = np.ones(n, dtype=bool)
        ok[list(reasons)] = False
        keep = ok[ex_site] if len(ex_site) else np.zeros(0, bool)
        return _Sites(
            geoms, site_id, source_row, profile, projects,
            ex_site[keep], ex_lon[keep], ex_lat[keep], ok, reasons,
        )  # fmt: skip

    # ----------------------------------------------------------------- checking

    def check(
        self,
        sites: gpd.GeoDataFrame | gpd.GeoSeries,
        *,
        project: Project | None = None,
        chunk_size: int = CHUNK_SIZE,
        progress: Callable[[int, int], None] | None = None,
        errors: Literal["report", "raise"] = "report",
        coords: str = "wgs84",
    ) -> CheckResult:
        """Check sites against the pack (see :func:`check_sites`).

        Parameters
        ----------
        sites
            GeoDataFrame (or GeoSeries) of points, lines or polygons in any CRS.
        project
            One project for all sites, or ``None`` to read per-site attributes from
            the columns (:func:`zoning.project.project_from_row`).
        chunk_size
            Sites processed at once.
        progress
            Called as ``progress(done, total)`` after each chunk.
        errors
            ``"report"``: unusable sites go to ``CheckResult.errors``; ``"raise"``:
            raise at the first one.
        coords
            Lon/lat system of ``sites``: "wgs84" (= "cgcs2000"), or "gcj02" (AMap,
            Tencent) / "bd09" (Baidu), converted to WGS84 first
            (:func:`geo.chinacoords.convert_gdf`).

        Returns
        -------
        CheckResult

        Raises
        ------
        InputFormatError
            ``sites`` is not a GeoDataFrame, or (with ``errors="raise"``) a site that
            cannot be checked (bad project attributes or exits, duplicated ``site_id``).
        CRSDetectionError
            ``sites`` has no CRS.
        """
        if chunk_size < 1:
            msg = f"`chunk_size` must be >= 1, got {chunk_size!r}"
            raise InputFormatError(msg)
        s = self._read_sites(sites, project, coords)
        return self._run(s, project, chunk_size, progress, errors)

    def check_geometry(
        self,
        geometry: shapely.Geometry,
        *,
        site_id: str = "site",
        project: Project | None = None,
        errors: Literal["report", "raise"] = "report",
    ) -> CheckResult:
        """Check one lon/lat site geometry, without building a GeoDataFrame first.

        The same result as ``check(GeoDataFrame({"site_id": [site_id]},
        geometry=[geometry], crs="EPSG:4326"), project=project)`` (an unknown
        ``Project()`` when ``project`` is None), for callers that check one site per
        request (the web app).

        Parameters
        ----------
        geometry
            A shapely point, line or polygon (or multi-) in WGS84 / CGCS2000 lon/lat.
        site_id
            The site's id in the result.
        project
            The project; ``None`` for an unknown project.
        errors
            As in :meth:`check`.

        Returns
        -------
        CheckResult

        Raises
        ------
        InputFormatError
            ``geometry`` is not a shapely geometry, or (``errors="raise"``) it has
            non-finite or out-of-range coordinates.
        GeometryError
            An empty geometry with ``errors="raise"``.
        """
        if not isinstance(geometry, shapely.Geometry):
            msg = f"`geometry` must be a shapely geometry, got {type(geometry).__name__}"
            raise InputFormatError(msg)
        geoms = np.empty(1, dtype=object)
        geoms[0] = geometry
        ids = np.empty(1, dtype=object)
        ids[0] = str(site_id)
        s = self._normalise_sites(geoms, ids, None, None, lambda: _LONLAT, project)
        return self._run(s, project, CHUNK_SIZE, None, errors)

    def _run(
        self,
        s: _Sites,
        project: Project | None,
        chunk_size: int,
        progress: Callable[[int, int], None] | None,
        errors: Literal["report", "raise"],
    ) -> CheckResult:
        """Check normalised sites, chunk by chunk (see :meth:`check`)."""
        if errors == "raise" and s.reasons:
            i = min(s.reasons)
            msg = f"site {s.site_id[i]!r}: {s.reasons[i]}"
            raise GeometryError(msg) if "几何" in s.reasons[i] else InputFormatError(msg)
        todo = np.flatnonzero(s.ok)
        total = len(todo)
        parts: list[dict[str, dict[str, NDArray[Any]]]] = []
        for start in range(0, max(total, 1), chunk_size):
            parts.append(self._check_block(s, todo[start : start + chunk_size]))
            if progress is not None:
                progress(min(start + chunk_size, total), total)
        if len(s.geoms) <= SMALL_RESULT:
            # a few sites (the web app's single checks): the frames are built only if
            # read; reports and site_to_dict answer from the arrays
            arrays = {k: _join(parts, k) for k in ("sites", "relations", "findings")}
            return _SmallResult(self, s, arrays, self._stamp(s, project))
        # chunks give plain arrays: each frame is built once (no pandas concat), and
        # the chunk arrays are dropped column by column as they are joined
        sites_out = self._sites_frame(s, _join(parts, "sites"))
        relations = self._relations_frame(s, _join(parts, "relations"))
        findings = self._findings_frame(s, _join(parts, "findings"))
        del parts
        return CheckResult(
            sites_out, relations, findings, self._stamp(s, project), _errors_frame(s)
        )

    def _stamp(self, s: _Sites, project: Project | None) -> dict[str, Any]:
        h = hashlib.sha256()
        if len(s.geoms) and (shapely.get_type_id(s.geoms) == 0).all():
            h.update(b"points\n")  # all points: the coordinates say it all, and fast
            h.update(shapely.get_coordinates(s.geoms).astype("<f8").tobytes())
        else:
            h.update(b"".join(w or b"" for w in shapely.to_wkb(s.geoms, byte_order=1)))
        h.update("\x1f".join(s.site_id.tolist()).encode())
        h.update(repr([_project_key(p) for p in s.projects]).encode())
        h.update(s.profile.tobytes())
        h.update(np.column_stack([s.exit_site, s.exit_lon, s.exit_lat]).tobytes())
        return {
            "ecozone_version": _ecozone_version(),
            "pack": {
                "name": self.pack.name,
                "version": self.pack.version,
                "lineage": list(self.pack.lineage),
            },
            "layers": {k: dict(v) for k, v in self.layer_stamp.items()},
            "input_checksum": h.hexdigest(),
            "sites": len(s.geoms),
            "nearest_max_m": self.nearest_max_m,
            "skipped_rules": list(self.skipped_rules),
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _check_block(self, s: _Sites, pos: NDArray[np.intp]) -> dict[str, dict[str, Any]]:
        """Check the sites at positions ``pos`` (one chunk); plain arrays out."""
        block = prepare_sites(s.geoms[pos], ea_crs=self.ea_crs)
        rels: dict[str, LayerRelations] = {}
        for kind in self.kinds:
            rels[kind] = relate_layer(
                self.index[kind],
                block,
                within_m=self._within[kind],
                nearest_max_m=self.nearest_max_m,
                ea_crs=self.ea_crs,
            )
        sub_rels = {
            key: relate_layer(sub, block, within_m=None, nearest_max_m=self.nearest_max_m,
                              ea_crs=self.ea_crs)
            for key, (sub, _) in self._subsets.items()
        }  # fmt: skip
        findings = self._findings(s, pos, block, rels, sub_rels, s.profile[pos])
        sites = self._site_arrays(pos, block, rels, findings)
        relations = self._relation_arrays(block, rels)
        # block positions → positions in the input
        findings["site"] = pos[findings["site"]]
        relations["site"] = pos[relations["site"]]
        return {"sites": sites, "relations": relations, "findings": findings}

    def _findings(
        self,
        s: _Sites,
        pos: NDArray[np.intp],
        block: Any,
        rels: dict[str, LayerRelations],
        sub_rels: dict[Any, LayerRelations],
        profile: NDArray[np.intp],
    ) -> dict[str, NDArray[Any]]:
        cond = np.array([self._conditions(p) for p in s.projects], dtype=bool).reshape(
            len(s.projects), len(self.rules)
        )
        cols: dict[str, list[Any]] = {k: [] for k in _FINDING_ARRAYS}
        for plan in self._plans:
            rule = plan.rule
            if rule.predicate != "nearest" and rule.layer != "site_exit":
                if len(rels[rule.layer].site) == 0:  # no site near any feature
                    continue
            ok = cond[profile, plan.pos]
            if rule.unless_layer is not None:
                ok &= ~rels[rule.unless_layer].intersects_any
            if not ok.any():
                continue
            if rule.layer == "site_exit":
                self._exit_findings(plan, s, pos, block, ok, cols)
                continue
            rel = rels[rule.layer]
            ix = self.index[rule.layer]
            if rule.predicate == "nearest":
                if plan.nearest_key is not None:
                    sr = sub_rels[plan.nearest_key]
                    back = self._subsets[plan.nearest_key][1]
                    nf = np.where(
                        sr.nearest_feature >= 0, back[np.maximum(sr.nearest_feature, 0)], -1
                    )
                    nd = sr.nearest_m
                else:
                    nf, nd = rel.nearest_feature, rel.nearest_m
                hit = ok & (nf >= 0)
                if rule.distance_m is not None:
                    hit &= nd <= rule.distance_m
                site = np.flatnonzero(hit)
                if len(site) == 0:
                    continue
                feat = nf[site]
                nan = np.full(len(site), np.nan)
                none = np.full(len(site), None, dtype=object)
                cols["site"].append(site)
                cols["rule"].append(np.full(len(site), plan.pos))
                cols["feature_ids"].append(self._fid1[rule.layer][feat])
                cols["distance_m"].append(nd[site])
                cols["overlap_m2"].append(nan)  # (concatenated below: copies)
                cols["overlap_pct"].append(nan)
                cols["access_entries"].append(none)
                cols["units"].append(none)
                cols["band"].append(none)
                continue
            sel = plan.mask[rel.feature] & ok[rel.site]
            if rule.predicate == "intersects":
                sel &= rel.relation <= 1
            elif rule.predicate == "within":
                sel &= rel.relation == 0
            else:  # within_distance
                sel &= rel.distance_m <= plan.within[rel.feature]
            ps, pf = rel.site[sel], rel.feature[sel]
            if len(ps) == 0:
                continue
            start, count = _runs(ps)
            site = ps[start]
            cols["site"].append(site)
            cols["rule"].append(np.full(len(site), plan.pos))
            cols["feature_ids"].append(self._group_tuples(rule.layer, pf, start, count))
            cols["distance_m"].append(np.minimum.reduceat(rel.distance_m[sel], start))
            overlap = np.add.reduceat(rel.overlap_m2[sel], start)
            pct = np.add.reduceat(rel.overlap_pct[sel], start)
            cols["overlap_m2"].append(overlap)
            cols["overlap_pct"].append(np.minimum(pct, 100.0))
            none = np.full(len(site), None, dtype=object)
            if rule.access_list:
                ent, units = self._access(ix, pf, start, count, profile[site], s.projects)
            else:
                ent = units = none
            cols["access_entries"].append(ent)
            cols["units"].append(units)
            cols["band"].append(none)
        if cols["site"]:
            arr = {k: np.concatenate(v) for k, v in cols.items()}
        else:
            arr = {k: np.zeros(0, dtype=np.intp if k in ("site", "rule") else object) for k in cols}
            for k in ("distance_m", "overlap_m2", "overlap_pct"):
                arr[k] = np.zeros(0)
        o = np.lexsort((arr["rule"], arr["site"]))
        return {k: v[o] for k, v in arr.items()}

    def _conditions(self, p: Project) -> list[bool]:
        """Whether each rule's conditions hold for ``p`` (cached by the project's attributes)."""
        key = _project_key(p)
        got = self._cond_cache.get(key)
        if got is None:
            got = [r.applies_to(p) for r in self.rules]
            if len(self._cond_cache) >= 4096:  # bounded: per-row projects of big batches
                self._cond_cache.clear()
            self._cond_cache[key] = got
        return got

    def _exit_findings(
        self,
        plan: _RulePlan,
        s: _Sites,
        pos: NDArray[np.intp],
        block: Any,
        ok: NDArray[np.bool_],
        cols: dict[str, list[Any]],
    ) -> None:
        """Site-exit rule: the site lies within distance_m of one of its exits."""
        if len(s.exit_site) == 0:
            return
        local = np.full(len(s.geoms), -1, dtype=np.intp)
        local[pos] = np.arange(len(pos))
        owner = local[s.exit_site]
        take = (owner >= 0) & ok[np.maximum(owner, 0)]
        owner, lon, lat = owner[take], s.exit_lon[take], s.exit_lat[take]
        if len(owner) == 0:
            return
        exit_no = _rank_within(s.exit_site[take])
        dist = np.empty(len(owner))
        pts = shapely.points(lon, lat)
        for code in np.unique(block.epsg[owner]):  # each exit in its site's GK zone
            m = block.epsg[owner] == code
            dist[m] = shapely.distance(
                block.geoms_m[owner[m]], transform_geoms(pts[m], _LONLAT, int(code))
            )
        radius = float(plan.rule.distance_m)
        near = dist <= radius
        owner, lon, lat, dist, exit_no = (
            owner[near],
            lon[near],
            lat[near],
            dist[near],
            exit_no[near],
        )
        if len(owner) == 0:
            return
        o = np.lexsort((exit_no, owner))
        owner, lon, lat, dist, exit_no = owner[o], lon[o], lat[o], dist[o], exit_no[o]
        bands = disc_bands(lon, lat, owner, radius_m=radius)
        start, count = _runs(owner)
        site = owner[start]
        names = np.array([f"exit-{k + 1}" for k in exit_no], dtype=object)
        ids = np.empty(len(site), dtype=object)
        ids[:] = [tuple(names[a : a + c]) for a, c in zip(start, count, strict=True)]
        band = np.empty(len(site), dtype=object)
        band[:] = [bands[int(x)] for x in site]
        cols["site"].append(site)
        cols["rule"].append(np.full(len(site), plan.pos))
        cols["feature_ids"].append(ids)
        cols["distance_m"].append(np.minimum.reduceat(dist, start))
        cols["overlap_m2"].append(np.full(len(site), np.nan))
        cols["overlap_pct"].append(np.full(len(site), np.nan))
        cols["access_entries"].append(np.full(len(site), None, dtype=object))
        cols["units"].append(np.full(len(site), None, dtype=object))
        cols["band"].append(band)

    def _group_tuples(
        self, kind: str, feat: NDArray[np.intp], start: NDArray[np.intp], count: NDArray[np.intp]
    ) -> NDArray[Any]:
        """feature_ids per group: shared 1-tuples for the common single-feature case."""
        out = self._fid1[kind][feat[start]]
        multi = np.flatnonzero(count > 1)
        ids = self.index[kind].ids
        for g in multi:  # only sites touching several features
            a = start[g]
            out[g] = tuple(ids[feat[a : a + count[g]]])
        return out

    def _access(
        self,
        ix: LayerIndex,
        feat: NDArray[np.intp],
        start: NDArray[np.intp],
        count: NDArray[np.intp],
        prof: NDArray[np.intp],
        projects: list[Project],
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        """Access-list entries (filtered by project) and unit info per finding."""
        nprof = len(projects)
        owner = np.repeat(np.arange(len(start)), count)
        key = feat.astype(np.int64) * nprof + prof[owner]
        ukey, inv = np.unique(key, return_inverse=True)
        per_key = np.empty(len(ukey), dtype=object)
        for j, k in enumerate(ukey.tolist()):
            f, p = divmod(k, nprof)
            entries = self._unit_entries(ix, f)
            per_key[j] = tuple(
                {k2: v for k2, v in e.items() if not k2.startswith("_")}
                for e in entries
                if _entry_applies(e, projects[p])
            )
        units1 = np.empty(len(ix), dtype=object)  # shared 1-tuples per unit
        for f in np.unique(feat).tolist():
            units1[f] = (self._unit_info(ix, f),)
        ent = per_key[inv[start]]  # one unit per site: the common case, vectorised
        units = units1[feat[start]]
        for g in np.flatnonzero(count > 1).tolist():  # sites on several units
            a, c = int(start[g]), int(count[g])
            ent[g] = tuple(e for j in inv[a : a + c] for e in per_key[j])
            units[g] = tuple(u for f in feat[a : a + c].tolist() for u in units1[f])
        return ent, units

    def _unit_info(self, ix: LayerIndex, f: int) -> dict[str, Any]:
        got = self._units.get(f)
        if got is None:
            cat = str(ix.columns.get("category", np.array([""] * len(ix)))[f])
            got = {
                "feature_id": str(ix.ids[f]),
                "unit_code": str(ix.columns.get("unit_code", ix.ids)[f]),
                "category": cat,
                "category_zh": _CATEGORY_ZH.get(cat, cat),
                "name": str(ix.names[f]),
            }
            self._units[f] = got
        return got

    def _unit_entries(self, ix: LayerIndex, f: int) -> list[dict[str, Any]]:
        got = self._entries.get(f)
        if got is None:
            info = self._unit_info(ix, f)
            raw = ix.columns["access_list"][f] if "access_list" in ix.columns else None
            try:
                got = _access_entries(raw, info["feature_id"], info["unit_code"], info["category"])
            except (json.JSONDecodeError, AttributeError, TypeError) as exc:
                msg = (
                    f"layer 'control_unit' feature {info['feature_id']!r}: access_list is not "
                    f"a JSON list of entries ({exc}); validate it with layers.validate_layer"
                )
                raise LayerValidationError(msg) from exc
            self._entries[f] = got
        return got

    def _findings_frame(self, s: _Sites, arr: dict[str, NDArray[Any]]) -> pd.DataFrame:
        rpos = arr["rule"].astype(np.intp)
        data: dict[str, Any] = {
            # object dtype: references to the input's id strings, no copy per row
            "site_id": pd.Series(s.site_id[arr["site"]], dtype=object),
            "rule_id": pd.Categorical.from_codes(rpos, dtype=self._dtypes["rule_id"]),
        }
        for col in ("outcome", "section", "title", "title_en", "requirement", "requirement_en"):
            data[col] = pd.Categorical.from_codes(
                self._rule_codes[col][rpos], dtype=self._dtypes[col]
            )
        data["citations"] = self._cites[rpos]
        data["feature_ids"] = arr["feature_ids"]
        for col in ("distance_m", "overlap_m2", "overlap_pct"):
            data[col] = arr.pop(col).astype("float64", copy=False)
        for col in ("access_entries", "units", "band"):
            data[col] = arr.pop(col)
        return pd.DataFrame(data, copy=False)

    def _site_arrays(
        self,
        pos: NDArray[np.intp],
        block: Any,
        rels: dict[str, LayerRelations],
        findings: dict[str, NDArray[Any]],
    ) -> dict[str, NDArray[Any]]:
        """Verdict and deciding rules per site (findings are sorted by site, rule)."""
        n = len(pos)
        local = findings["site"].astype(np.intp)
        rcode = findings["rule"].astype(np.intp)
        sev = self._severity[rcode]
        site_sev = np.zeros(n, dtype=np.int8)
        np.maximum.at(site_sev, local, sev)
        deciding = np.full(n, "", dtype=object)
        dec = (sev > 0) & (sev == site_sev[local])
        ds, dr = local[dec], rcode[dec]
        if len(ds):
            start, count = _runs(ds)
            rid = np.asarray(self._rule_ids, dtype=object)
            deciding[ds[start]] = rid[dr[start]]
            for g in np.flatnonzero(count > 1):  # sites decided by several rules
                a = start[g]
                deciding[ds[a]] = ";".join(rid[dr[a : a + count[g]]])
        out = {
            "pos": pos,
            "severity": site_sev,
            "deciding": deciding,
            "area_m2": block.area_m2,
            "geometry": block.geoms_ll,
        }
        for kind in self.kinds:
            out[f"dist_{kind}_m"] = rels[kind].nearest_m
        return out

    def _sites_frame(self, s: _Sites, a: dict[str, NDArray[Any]]) -> gpd.GeoDataFrame:
        pos = a["pos"]
        codes = a["severity"].astype(np.intp)
        data: dict[str, Any] = {"site_id": pd.Series(s.site_id[pos], dtype=object)}
        if s.source_row is not None:
            data["source_row"] = s.source_row[pos]
        data["verdict"] = np.asarray(_VERDICT_OF_SEVERITY, dtype=object)[codes]
        data["verdict_zh"] = np.asarray(
            [VERDICT_ZH[v] for v in _VERDICT_OF_SEVERITY], dtype=object
        )[codes]
        data["deciding_rules"] = a["deciding"]
        data["area_m2"] = a["area_m2"]
        for kind in self.kinds:
            data[f"dist_{kind}_m"] = a[f"dist_{kind}_m"]
        return gpd.GeoDataFrame(data, geometry=a["geometry"], crs=_LONLAT)

    def _relation_arrays(
        self, block: Any, rels: dict[str, LayerRelations]
    ) -> dict[str, NDArray[Any]]:
        parts: dict[str, list[Any]] = {
            k: [] for k in ("site", "kind", "fcode", "ncode", "rel", "ov", "pct", "dist")
        }
        every = np.arange(block.n)
        zero_all = np.where(block.areal, 0.0, np.nan)  # overlap of an "outside" row
        for k_i, kind in enumerate(self.kinds):
            r = rels[kind]
            if len(r.site):
                has_pair = np.zeros(block.n, dtype=bool)
                has_pair[r.site] = True
                out_s = np.flatnonzero(~has_pair)  # one "outside" row naming the nearest
                nf, zero, near_m = r.nearest_feature[out_s], zero_all[out_s], r.nearest_m[out_s]
            else:  # no pair: every site gets its "outside" row
                out_s, nf, zero, near_m = every, r.nearest_feature, zero_all, r.nearest_m
            fcode = self._fid_code[kind]
            ncode = self._fname_code[kind]
            found = nf >= 0
            nf0 = np.maximum(nf, 0)
            parts["site"] += [r.site, out_s]
            parts["kind"] += [np.full(len(r.site) + len(out_s), k_i, np.int16)]
            parts["fcode"] += [fcode[r.feature], np.where(found, fcode[nf0], -1)]
            parts["ncode"] += [ncode[r.feature], np.where(found, ncode[nf0], -1)]
            parts["rel"] += [r.relation, np.full(len(out_s), OUTSIDE, np.int8)]
            parts["ov"] += [r.overlap_m2, zero]  # (concatenated below: copies)
            parts["pct"] += [r.overlap_pct, zero]
            parts["dist"] += [r.distance_m, near_m]
        if parts["site"]:
            a = {k: np.concatenate(v) for k, v in parts.items()}
        else:
            a = {k: np.zeros(0, dtype=np.intp) for k in parts}
            a["ov"] = a["pct"] = a["dist"] = np.zeros(0)
        # each kind's rows are sorted by site then feature: a stable sort on
        # (site, kind) gives (site, kind, feature)
        o = np.argsort(a["site"].astype(np.int64) * len(self.kinds) + a["kind"], kind="stable")
        return {k: v[o] for k, v in a.items()}

    def _relations_frame(self, s: _Sites, a: dict[str, NDArray[Any]]) -> pd.DataFrame:
        dt = self._dtypes
        return pd.DataFrame(
            {
                "site_id": pd.Series(s.site_id[a["site"]], dtype=object),
                "kind": pd.Categorical.from_codes(a["kind"].astype(np.int16), dtype=dt["kind"]),
                "feature_id": pd.Categorical.from_codes(a["fcode"], dtype=dt["feature_id"]),
                "feature_name": pd.Categorical.from_codes(a["ncode"], dtype=dt["feature_name"]),
                "relation": pd.Categorical.from_codes(
                    a["rel"].astype(np.int8), dtype=dt["relation"]
                ),
                "overlap_m2": a.pop("ov").astype("float64", copy=False),
                "overlap_pct": a.pop("pct").astype("float64", copy=False),
                "distance_m": a.pop("dist").astype("float64", copy=False),
            },
            copy=False,
        )


def _errors_frame(s: _Sites) -> pd.DataFrame:
    """``CheckResult.errors``: the sites that could not be checked, in input order."""
    err_idx = sorted(s.reasons)
    return pd.DataFrame(
        {
            "site_id": s.site_id[err_idx] if err_idx else np.zeros(0, object),
            "source_row": (
                s.source_row[err_idx] if s.source_row is not None and err_idx
                else np.full(len(err_idx), np.nan)
            ),
            "reason": [s.reasons[i] for i in err_idx],
        }
    )  # fmt: skip


_FINDING_ARRAYS = (
    "site", "rule", "feature_ids", "distance_m", "overlap_m2", "overlap_pct",
    "access_entries", "units", "band",
)  # fmt: skip


class MissingLayerWarning(EcozoneWarning):
    """A layer kind the pack needs is missing and its rules were skipped."""


@cache
def _ecozone_version() -> str:
    try:
        return _pkg_version("ecozone")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _ordered_kinds(rules: list[Rule]) -> list[str]:
    kinds: list[str] = []
    for r in rules:
        for k in (r.layer, r.unless_layer):
            if k and k != "site_exit" and k not in kinds:
                kinds.append(k)
    return kinds


def _join(parts: list[dict[str, dict[str, Any]]], part: str) -> dict[str, NDArray[Any]]:
    """Concatenate one part of every chunk, releasing the chunk arrays as it goes."""
    if len(parts) == 1:  # one chunk (every small check): its arrays as they are
        return parts[0].pop(part)
    keys = list(parts[0][part])
    return {k: np.concatenate([p[part].pop(k) for p in parts]) for k in keys}


def _one_tuples(ids: NDArray[Any]) -> NDArray[Any]:
    out = np.empty(len(ids), dtype=object)
    out[:] = [(x,) for x in ids.tolist()]
    return out


def _rank_within(group: NDArray[np.intp]) -> NDArray[np.intp]:
    """0-based rank of each element among equal values, in input order."""
    o = np.argsort(group, kind="stable")
    g = group[o]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    rank = np.arange(len(g)) - np.repeat(start, np.diff(np.r_[start, len(g)]))
    out = np.empty(len(g), dtype=np.intp)
    out[o] = rank
    return out


def _project_key(p: Project) -> tuple[Any, ...]:
    return (
        p.project_type, p.industry_code, tuple(sorted(p.flags)), p.development,
        p.temporary_land_use, p.water_supply,
    )  # fmt: skip


def _profiles(
    sites: pd.DataFrame, site_id: NDArray[Any]
) -> tuple[NDArray[np.intp], list[Project], dict[int, str]]:
    """Per-site projects from columns, parsing each distinct combination once."""
    n = len(sites)
    cols = [c for c in sites.columns if c in _PROJECT_COLUMNS]
    if not cols or n == 0:
        return np.zeros(n, dtype=np.intp), [Project()], {}
    df = pd.DataFrame(sites[cols]).reset_index(drop=True)
    h = pd.util.hash_pandas_object(df.astype(object), index=False).to_numpy()
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    projects: list[Project] = []
    bad_groups: dict[int, str] = {}
    for g, i in enumerate(first.tolist()):
        try:
            projects.append(project_from_row(df.iloc[i].to_dict(), where="project attributes"))
        except ValueError as exc:
            projects.append(Project())
            bad_groups[g] = str(exc)
    reasons = {}
    if bad_groups:
        for i in np.flatnonzero(np.isin(inv, list(bad_groups))).tolist():
            reasons[int(i)] = f"项目属性无效 / {bad_groups[int(inv[i])]}"
    return inv.astype(np.intp), projects, reasons


def _exits(
    sites: pd.DataFrame | None, n: int, project: Project | None
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64], dict[int, str]]:
    """Exit points per site: the project's, plus an exits column, plus exit_lon/exit_lat."""
    s_parts: list[NDArray[np.intp]] = []
    lon_parts: list[NDArray[np.float64]] = []
    lat_parts: list[NDArray[np.float64]] = []
    reasons: dict[int, str] = {}
    if project is not None and project.exits:
        e = np.asarray(project.exits, dtype="float64")
        s_parts.append(np.repeat(np.arange(n), len(e)))
        lon_parts.append(np.tile(e[:, 0], n))
        lat_parts.append(np.tile(e[:, 1], n))
    columns = () if sites is None else sites.columns
    col = next((c for c in _EXIT_COLUMNS if c in columns), None)
    if col is not None:  # "lon,lat; lon,lat" per row, added to the project's exits
        values = sites[col].to_numpy()
        text = pd.Series(values).astype(str).str.strip().to_numpy()
        for i in np.flatnonzero(pd.notna(values) & (text != "")).tolist():
            try:
                p = project_from_row({"exits": values[i]}, where=f"column {col!r}")
            except ValueError as exc:
                reasons[i] = f"出口坐标无效 / {exc}"
                continue
            e = np.asarray(p.exits, dtype="float64").reshape(-1, 2)
            s_parts.append(np.full(len(e), i, dtype=np.intp))
            lon_parts.append(e[:, 0])
            lat_parts.append(e[:, 1])
    if "exit_lon" in columns and "exit_lat" in columns:
        lon = pd.to_numeric(sites["exit_lon"], errors="coerce").to_numpy(dtype="float64")
        lat = pd.to_numeric(sites["exit_lat"], errors="coerce").to_numpy(dtype="float64")
        given = pd.notna(sites["exit_lon"]).to_numpy() | pd.notna(sites["exit_lat"]).to_numpy()
        good = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        for i in np.flatnonzero(given & ~good).tolist():
            reasons[i] = (
                "出口坐标无效 / columns exit_lon/exit_lat "
                f"({sites['exit_lon'].iloc[i]!r}, {sites['exit_lat'].iloc[i]!r}) are not a "
                "WGS84 lon/lat in degrees"
            )
        idx = np.flatnonzero(good)
        s_parts.append(idx.astype(np.intp))
        lon_parts.append(lon[idx])
        lat_parts.append(lat[idx])
    if not s_parts:
        z = np.zeros(0)
        return np.zeros(0, dtype=np.intp), z, z, reasons
    s = np.concatenate(s_parts).astype(np.intp)
    o = np.argsort(s, kind="stable")
    return s[o], np.concatenate(lon_parts)[o], np.concatenate(lat_parts)[o], reasons


def check_sites(
    sites: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    pack: Pack,
    layers: Mapping[str, Any],
    project: Project | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
    nearest_max_m: float = NEAREST_MAX_M,
    errors: Literal["report", "raise"] = "report",
    missing_layers: Literal["raise", "skip"] = "raise",
    coords: str = "wgs84",
) -> CheckResult:
    """Check one or many sites against a rule pack (三线一单 compliance).

    Parameters
    ----------
    sites
        GeoDataFrame (or GeoSeries) of points, lines or polygons in any CRS (lon/lat,
        Gauss-Krüger, ...; GCJ-02/BD-09 must be converted first, as the readers do).
        Optional columns: ``site_id`` (else ``source_row``, else 1, 2, ...; a repeated
        id makes its later rows errors),
        project attributes read by :func:`zoning.project.project_from_row` when
        ``project`` is None, and exits (``exits`` "lon,lat; lon,lat" or
        ``exit_lon`` + ``exit_lat``).
    pack
        The rule pack (:func:`zoning.pack.load_pack`).
    layers
        Mapping layer kind → :class:`layers.Layer` or GeoDataFrame.
    project
        One :class:`zoning.project.Project` for every site, or ``None`` to read per-site
        attributes (a row with bad values becomes an error; the rest are checked).
    chunk_size
        Sites processed at once (bounds memory for big batches).
    progress
        Called as ``progress(done, total)`` after each chunk.
    nearest_max_m
        Search radius of nearest-feature distances (NaN beyond).
    errors
        ``"report"`` (default) lists unusable sites in ``CheckResult.errors``;
        ``"raise"`` raises at the first.
    missing_layers
        ``"raise"`` or ``"skip"`` rules whose layer kind is missing (with a warning).
    coords
        Lon/lat system of ``sites``: "wgs84" (default, = "cgcs2000"), "gcj02" or
        "bd09" (converted to WGS84 first).

    Returns
    -------
    CheckResult

    Raises
    ------
    MissingLayerError
        A layer kind the pack needs is missing (``missing_layers="raise"``).
    CRSDetectionError
        ``sites`` has no CRS.
    InputFormatError
        ``sites`` is not a GeoDataFrame, or an unusable site (bad attributes or exits,
        duplicated ``site_id``) with ``errors="raise"``.
    GeometryError
        An empty site geometry with ``errors="raise"``.

    Examples
    --------
    >>> from zoning.pack import load_pack
    >>> res = check_sites(sites, pack=load_pack("beijing"), layers=layers)  # doctest: +SKIP
    >>> res.sites[["site_id", "verdict", "deciding_rules"]]  # doctest: +SKIP
    """
    checker = SiteChecker(pack, layers, nearest_max_m=nearest_max_m, missing_layers=missing_layers)
    return checker.check(
        sites,
        project=project,
        chunk_size=chunk_size,
        progress=progress,
        errors=errors,
        coords=coords,
    )
