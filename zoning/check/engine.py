"""The 三线一单 site check: which rules of a pack apply to each site, and the verdict.

:func:`check_sites` (or a reusable :class:`SiteChecker`) tests one or many sites —
points, lines or polygons, in any CRS — against the layers a rule pack uses, and
returns a :class:`~zoning.check.result.CheckResult` (``sites``, ``relations``,
``findings``, ``stamp``, ``errors``): its columns, their types and its JSON-safe
dict form are described in :mod:`zoning.check.result`. This module is the engine; its
input is prepared by two private modules, :mod:`zoning.check.sites` (sites, per-site
projects and exits, unusable sites) and :mod:`zoning.check.layer_index` (layer indexes,
feature filters, access lists).

Measurement: topology (intersects, inside) in lon/lat where the layers are defined;
distances in each site's own 3° Gauss-Krüger zone (EPSG:4534–4554, sites in several
zones are grouped by zone); overlap areas in an Albers equal-area projection on the
CGCS2000 ellipsoid fitted to the layers. Nothing depends on the other sites of a
batch, so checking a batch gives exactly the results of checking each site alone.
The spatial work is vectorised per layer (:mod:`zoning.check.relations`: one STRtree per
layer queried with all sites of a chunk, no Python loop over sites); big inputs are
processed in chunks (``chunk_size``, 200 000 by default) to bound memory.

Single sites (the web app checks one per request) take a few milliseconds, most of
which used to go into pandas: a result of at most :data:`SMALL_RESULT` input sites
keeps the engine's arrays and builds its frames only when they are first read (see
:mod:`zoning.check.result`). :meth:`SiteChecker.check_geometry` checks one lon/lat
geometry without a GeoDataFrame (building one costs more than the check).

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
  (:mod:`zoning.check.exit_band`).

The verdict is the most severe outcome among the findings, prohibited > restricted >
requirements > compliant; "information" findings never change it. Control-unit rules
with ``access_list = true`` attach the units touched (``units``) and every entry of
their access lists, each judged for the project (:func:`zoning.access_list.judge_entry`:
符合 / 不符合 / 需论证 / 不适用 / 需人工核实); the finding's outcome is the most severe
the judgements lead to (a violated prohibition: prohibited; a restriction: restricted;
an entry that cannot be checked: needs_review). A rule's exceptions
(:class:`zoning.pack.RuleException`) change the outcome of its findings for the
projects they fit (recorded in the finding's ``exceptions``). Line sites carry their
geodesic length inside each polygon feature (``length_m``, ``length_pct``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
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
    EcozoneWarning,
    GeometryError,
    InputFormatError,
    LayerValidationError,
    MissingLayerError,
    OutsideJurisdictionError,
)
from layers.kinds import canonical_kind
from zoning.access_list import JUDGEMENT_OUTCOME, JUDGEMENTS, judge_entry
from zoning.check.evidence import (
    OUTSIDE_JURISDICTION,
    add_insufficient,
    check_evidence,
    coverage,
    evidence_areas,
    mark_outside,
    missing_text_codes,
    rule_data_kinds,
)
from zoning.check.exit_band import disc_bands
from zoning.check.layer_index import (
    CATEGORY_ZH,
    access_entries,
    feature_mask,
    index_layer,
    ordered_kinds,
)
from zoning.check.notes import coords_note, project_notes
from zoning.check.relations import (
    OUTSIDE,
    RELATIONS,
    LayerIndex,
    LayerRelations,
    _runs,
    fixed_equal_area_crs,
    prepare_sites,
    prepared_test,
    relate_layer,
    single_threaded,
    transform_geoms,
    warm_prepared,
    warm_tree,
)

# the result half lives in zoning.check.result; re-exported: CheckResult, VERDICTS,
# VERDICT_ZH (in __all__) and _rows_from_frames, for code importing them from here
from zoning.check.result import (
    _SECTION_ZH,
    _VERDICT_OF_SEVERITY,
    VERDICT_ZH,
    VERDICTS,
    CheckResult,
    _errors_frame,
    _Sites,
    _SmallResult,
)
from zoning.check.result import _rows_from_frames as _rows_from_frames
from zoning.check.sites import normalise_sites, project_exits, project_key, read_sites
from zoning.pack import Pack, Rule
from zoning.project import Project

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

#: Outcomes by severity; "information" (0) never changes a verdict. The index of a
#: site's most severe outcome is its verdict (zoning.check.result._VERDICT_OF_SEVERITY).
OUTCOME_ORDER: dict[str, int] = {
    "information": 0,
    "requirements": 1,
    "needs_review": 2,
    "insufficient_data": 3,
    "restricted": 4,
    "prohibited": 5,
}
_LONLAT = "EPSG:4326"
#: Default search radius of the nearest-feature distance (metres).
NEAREST_MAX_M = 10_000.0
#: Default number of sites processed at once (bounds memory).
CHUNK_SIZE = 200_000
#: Results of at most this many input sites build their frames lazily (first read).
SMALL_RESULT = 16
#: ``workers=None`` uses every available core above this many sites (one below).
PARALLEL_MIN_SITES = 20_000
# guards the checker's lazy caches (module-level: a checker still pickles)
_CACHE_LOCK = threading.RLock()


# --------------------------------------------------------------------------- rules


@dataclass
class _RulePlan:
    """What the engine needs of one rule, computed once per checker."""

    pos: int
    rule: Rule
    mask: NDArray[np.bool_] | None  # features passing feature_filter (None: site_exit)
    within: NDArray[np.float64] | None  # per-feature distance limit (within_distance)
    nearest_key: tuple[str, tuple[tuple[str, tuple[str, ...]], ...]] | None
    missing: bool = False  # its layer (or unless_layer) is not loaded: no data anywhere


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
        :class:`MissingLayerError`; ``"skip"``: those rules cannot be judged: a
        :class:`MissingLayerWarning`, a list in ``stamp["skipped_rules"]``, and an
        ``"insufficient_data"`` finding for every site the rule's conditions apply to.
    jurisdiction
        The pack's jurisdiction (lon/lat geometry); ``"auto"`` (default): the
        ``boundary`` layer's polygons with the pack's adcodes
        (:func:`zoning.check.evidence.check_evidence`); ``None``: not tested. A site that
        does not intersect it is not checked (error status ``outside_jurisdiction``,
        :class:`geo.errors.OutsideJurisdictionError` with ``errors="raise"``); a site
        straddling its boundary is checked and carries a "jurisdiction" note.
    extents
        Layer kind → the lon/lat area that layer is authoritative for; ``"auto"``
        (default): each stored layer's recorded extent, else the jurisdictions its
        features fall in (a GeoDataFrame: its ``attrs["extent"]``, else everywhere);
        a kind not given (or ``None``) is authoritative everywhere. A rule whose
        layer's extent does not cover the whole site, and that did not fire, gives an
        ``"insufficient_data"`` finding.

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
        jurisdiction: shapely.Geometry | Literal["auto"] | None = "auto",
        extents: Mapping[str, shapely.Geometry | None] | Literal["auto"] | None = "auto",
    ) -> None:
        self.pack = pack
        self.nearest_max_m = float(nearest_max_m)
        layers = {canonical_kind(k): v for k, v in layers.items()}  # old kind names
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
                f"layer kind(s) {missing} missing: rules {users} cannot be judged "
                "(数据不足 / insufficient data)",
                MissingLayerWarning,
                stacklevel=2,
            )
            self.skipped_rules = users
        self.missing_kinds: list[str] = missing
        self.rules = rules
        self.kinds: list[str] = [k for k in ordered_kinds(rules) if k in layers]
        self.layer_stamp: dict[str, Any] = {}
        self.index: dict[str, LayerIndex] = {}
        for kind in self.kinds:
            self.index[kind], self.layer_stamp[kind] = index_layer(kind, layers[kind])
        self.ea_crs = fixed_equal_area_crs(list(self.index.values()))
        stamps: dict[str, Any] = {}
        if isinstance(jurisdiction, str) or isinstance(extents, str):  # "auto"
            auto_j, auto_e, stamps = check_evidence(pack, layers)
            jurisdiction = auto_j if isinstance(jurisdiction, str) else jurisdiction
            extents = auto_e if isinstance(extents, str) else extents
        self.jurisdiction, self.extents = evidence_areas(jurisdiction, extents, self.kinds)
        for kind, meta in self.layer_stamp.items():
            meta["extent"] = stamps.get(kind)
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
        # "insufficient_data" findings: outcome and requirement (what to import) per rule
        self._missing_codes = missing_text_codes(rules, self._dtypes, OUTCOME_ORDER)
        self._cites = np.empty(len(rules), dtype=object)
        self._cites[:] = [tuple(str(c) for c in r.citations) for r in rules]
        self._severity = np.array([OUTCOME_ORDER[r.outcome] for r in rules], dtype=np.int8)
        # each rule's exceptions as they are reported (one shared 1-tuple each)
        self._exc_rows: list[list[tuple[dict[str, Any], ...]]] = [
            [({"rule_id": r.id, "id": ex.id, "title": ex.title, "title_en": ex.title_en,
               "requirement": ex.requirement, "requirement_en": ex.requirement_en,
               "outcome_from": r.outcome, "outcome": ex.outcome,
               "citations": [str(c) for c in ex.citations]},)
             for ex in r.exceptions]
            for r in rules
        ]  # fmt: skip
        self._exc_cache: dict[tuple[Any, ...], list[int]] = {}
        self._cond_cache: dict[tuple[Any, ...], list[bool]] = {}
        # feature ids / names of the categories as plain str (small results' rows)
        self._fid_values = np.asarray(self._fid_cat, dtype=object)
        self._fname_values = np.asarray(self._fname_cat, dtype=object)

    def __getstate__(self) -> dict[str, Any]:
        # unpickled layers are prepared afresh: their lazy GEOS indexes are not built
        state = dict(self.__dict__)
        state.pop("_warmed", None)
        return state

    # ----------------------------------------------------------------- planning

    def _plan(self, pos: int, rule: Rule) -> _RulePlan:
        if rule.layer in self.missing_kinds or rule.unless_layer in self.missing_kinds:
            return _RulePlan(pos, rule, None, None, None, missing=True)
        if rule.layer == "site_exit":
            return _RulePlan(pos, rule, None, None, None)
        index = self.index[rule.layer]
        mask = feature_mask(rule, index)
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
        input_system: str | None = None,
        workers: int | None = None,
        distances: str | Iterable[str] = "all",
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
        input_system
            The lon/lat system the caller read the input in before converting it to
            ``sites`` (e.g. ``"gcj02"``), for the result's "assumption" note only;
            default ``coords``.
        workers
            Threads checking sub-blocks of each chunk at once (shapely, pyproj and
            numpy release the GIL); ``None``: every available core for more than
            :data:`PARALLEL_MIN_SITES` sites, else 1. The result is identical to
            ``workers=1`` (rows, order, values).
        distances
            Which ``dist_<kind>_m`` columns (and "outside" relation rows naming the
            nearest feature) to compute: ``"all"`` (default), ``"rules"`` (the kinds a
            ``nearest`` rule reads), or an iterable of layer kinds (or a
            ``"kind,kind"`` string). Kinds left out have no ``dist_<kind>_m`` column
            and no "outside" rows; verdicts and findings do not change.

        Returns
        -------
        CheckResult

        Raises
        ------
        InputFormatError
            ``sites`` is not a GeoDataFrame, or (with ``errors="raise"``) a site that
            cannot be checked (bad project attributes or exits, duplicated ``site_id``).
        OutsideJurisdictionError
            With ``errors="raise"``: a site outside the pack's jurisdiction.
        CRSDetectionError
            ``sites`` has no CRS.
        """
        if chunk_size < 1:
            msg = f"`chunk_size` must be >= 1, got {chunk_size!r}"
            raise InputFormatError(msg)
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            msg = f"workers must be a whole number >= 1 (or automatic), got {workers!r}"
            raise InputFormatError(msg)
        dist = self.distance_kinds(distances)
        s = read_sites(sites, project, coords)
        if input_system is not None:
            s.coords = input_system
        return self._run(s, project, chunk_size, progress, errors, workers, dist)

    def distance_kinds(self, distances: str | Iterable[str] = "all") -> frozenset[str]:
        """The layer kinds whose nearest distance a check computes.

        Parameters
        ----------
        distances
            ``"all"``: every loaded kind; ``"rules"``: the kinds a ``nearest`` rule
            reads; else layer kinds (an iterable, or one ``"kind,kind"`` string).

        Returns
        -------
        frozenset of str

        Raises
        ------
        InputFormatError
            A kind that is not a layer kind of the pack.
        """
        if isinstance(distances, str):
            if distances == "all":
                return frozenset(self.kinds)
            if distances == "rules":
                near = (r.layer for r in self.rules if r.predicate == "nearest")
                return frozenset(k for k in near if k in self.index)
            distances = [k.strip() for k in distances.split(",") if k.strip()]
        wanted = list(distances)
        known = set(self.pack.layer_kinds()) | set(self.kinds)
        bad = [k for k in wanted if k not in known]
        if bad:
            msg = (
                f"distances: {bad} are not layer kinds of pack {self.pack.name!r}; "
                f"use 'all', 'rules' or kinds among {sorted(known)} (--distances KIND,KIND)"
            )
            raise InputFormatError(msg)
        return frozenset(k for k in wanted if k in self.index)

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
        s = normalise_sites(geoms, ids, None, None, lambda: _LONLAT, project)
        return self._run(s, project, CHUNK_SIZE, None, errors, 1, frozenset(self.kinds))

    def check_each(
        self,
        geometries: Sequence[shapely.Geometry],
        *,
        projects: Sequence[Project | None],
        site_id: str = "site",
    ) -> list[CheckResult]:
        """Check several lon/lat sites in one pass, each as if it were checked alone.

        ``check_each(geoms, projects=ps)[i]`` is the result of
        ``check_geometry(geoms[i], site_id=site_id, project=ps[i])``: the same
        findings, relations, errors and stamp (its input checksum covers that site
        only), for the vectorised cost of one batch. For callers that gather single-site
        requests (the web app under load); a repaired geometry is warned about once for
        the whole call.

        Parameters
        ----------
        geometries
            Shapely geometries in WGS84 / CGCS2000 lon/lat.
        projects
            One project (or ``None``: unknown) per geometry.
        site_id
            The id every result gives its site.

        Returns
        -------
        list of CheckResult
            One per geometry, in order.

        Raises
        ------
        InputFormatError
            An element of ``geometries`` is not a shapely geometry, or the lengths differ.
        """
        n = len(geometries)
        if len(projects) != n:
            msg = f"{n} geometries but {len(projects)} projects: give one project per geometry"
            raise InputFormatError(msg)
        geoms = np.empty(n, dtype=object)
        for i, g in enumerate(geometries):
            if not isinstance(g, shapely.Geometry):
                msg = f"geometry {i}: must be a shapely geometry, got {type(g).__name__}"
                raise InputFormatError(msg)
            geoms[i] = g
        own = [p if p is not None else Project() for p in projects]
        keys: dict[tuple[Any, ...], int] = {}
        profile = np.array([keys.setdefault(project_key(p), len(keys)) for p in own], np.intp)
        distinct = list({project_key(p): p for p in own}.values())
        # positions as ids (unique); the results name their site `site_id` again
        s = normalise_sites(
            geoms, np.array([str(i) for i in range(n)], dtype=object), None, None,
            lambda: _LONLAT, Project(),
        )  # fmt: skip
        ex_site, ex_lon, ex_lat = project_exits(own)
        keep = s.ok[ex_site] if len(ex_site) else np.zeros(0, bool)
        s = replace(
            s, profile=profile, projects=distinct,
            exit_site=ex_site[keep], exit_lon=ex_lon[keep], exit_lat=ex_lat[keep],
        )  # fmt: skip
        mark_outside(s, self.jurisdiction, self.pack.name)
        arrays = self._check_block(s, np.flatnonzero(s.ok), frozenset(self.kinds))
        return [self._alone(s, i, own[i], site_id, arrays) for i in range(n)]

    def _alone(
        self,
        s: _Sites,
        i: int,
        project: Project,
        site_id: str,
        arrays: dict[str, dict[str, NDArray[Any]]],
    ) -> CheckResult:
        """The result of site ``i`` of a :meth:`check_each` pass, as a check of it alone."""
        mine = s.exit_site == i
        one = _Sites(
            s.geoms[i : i + 1], np.array([site_id], dtype=object), None,
            np.zeros(1, dtype=np.intp), [project],
            np.zeros(int(mine.sum()), dtype=np.intp), s.exit_lon[mine], s.exit_lat[mine],
            s.ok[i : i + 1].copy(), {0: s.reasons[i]} if i in s.reasons else {},
            {0: s.codes[i]} if i in s.codes else {},
            None if s.repaired is None else s.repaired[i : i + 1].copy(),
        )  # fmt: skip
        part: dict[str, dict[str, NDArray[Any]]] = {}
        for name, key in (("sites", "pos"), ("relations", "site"), ("findings", "site")):
            rows = arrays[name][key] == i
            part[name] = {c: v[rows] for c, v in arrays[name].items()}
            part[name][key] = np.zeros(int(rows.sum()), dtype=np.intp)  # position 0 alone
        return _SmallResult(self, one, part, self._stamp(one, project))

    def _run(
        self,
        s: _Sites,
        project: Project | None,
        chunk_size: int,
        progress: Callable[[int, int], None] | None,
        errors: Literal["report", "raise"],
        workers: int | None,
        dist: frozenset[str],
    ) -> CheckResult:
        """Check normalised sites, chunk by chunk (see :meth:`check`)."""
        mark_outside(s, self.jurisdiction, self.pack.name)
        if errors == "raise" and s.reasons:
            i = min(s.reasons)
            msg = f"site {s.site_id[i]!r}: {s.reasons[i]}"
            if s.codes.get(i) == OUTSIDE_JURISDICTION:
                raise OutsideJurisdictionError(msg)
            raise GeometryError(msg) if "几何" in s.reasons[i] else InputFormatError(msg)
        todo = np.flatnonzero(s.ok)
        total = len(todo)
        if workers is None:
            workers = _cores() if total > PARALLEL_MIN_SITES else 1
        parts: list[dict[str, dict[str, NDArray[Any]]]] = []
        if workers > 1 and total > 1:
            parts = self._parallel(s, todo, chunk_size, workers, dist, progress)
        else:
            for start in range(0, max(total, 1), chunk_size):
                parts.append(self._check_block(s, todo[start : start + chunk_size], dist))
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

    def _parallel(
        self,
        s: _Sites,
        todo: NDArray[np.intp],
        chunk_size: int,
        workers: int,
        dist: frozenset[str],
        progress: Callable[[int, int], None] | None,
    ) -> list[dict[str, dict[str, NDArray[Any]]]]:
        """Check ``todo`` in sub-blocks on ``workers`` threads; parts in input order.

        Each chunk is cut into ``workers`` sub-blocks checked at once. A site's answer
        does not depend on the other sites of its block, and every block's arrays are
        sorted by site, so the parts joined in order are the one-worker result.
        """
        total = len(todo)
        self.warm()
        parts: list[dict[str, dict[str, NDArray[Any]]]] = []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ecozone-check") as ex:
            for start in range(0, total, chunk_size):
                chunk = todo[start : start + chunk_size]
                size = -(-len(chunk) // workers)
                blocks = [chunk[a : a + size] for a in range(0, len(chunk), size)]
                parts += ex.map(lambda b: self._check_block(s, b, dist, solo=True), blocks)
                if progress is not None:
                    progress(min(start + chunk_size, total), total)
        return parts

    def warm(self) -> None:
        """Build the lazy GEOS indexes that threads will share (once per checker).

        Called before a block pool starts; a server that shares one checker between
        request threads calls it once after building the checker.
        """
        if getattr(self, "_warmed", False):
            return
        with _CACHE_LOCK:
            if getattr(self, "_warmed", False):
                return
            for ix in [*self.index.values(), *(sub for sub, _ in self._subsets.values())]:
                warm_prepared(ix.geoms)
                warm_tree(ix.tree)
            areas = [self.jurisdiction, *self.extents.values()]
            warm_prepared(np.array([a for a in areas if a is not None], dtype=object))
            self._warmed = True

    def _stamp(self, s: _Sites, project: Project | None) -> dict[str, Any]:
        h = hashlib.sha256()
        if len(s.geoms) and (shapely.get_type_id(s.geoms) == 0).all():
            h.update(b"points\n")  # all points: the coordinates say it all, and fast
            h.update(shapely.get_coordinates(s.geoms).astype("<f8").tobytes())
        else:
            h.update(b"".join(w or b"" for w in shapely.to_wkb(s.geoms, byte_order=1)))
        h.update("\x1f".join(s.site_id.tolist()).encode())
        h.update(repr([project_key(p) for p in s.projects]).encode())
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
            "jurisdiction_tested": self.jurisdiction is not None,
            "rule_layers": {r.id: rule_data_kinds(r) for r in self.rules},
            "notes": [
                coords_note(s.input_crs, s.coords),
                # one project for every site: its assumptions (per-row projects: none)
                *project_notes(_one_project(project, s)),
            ],
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _check_block(
        self,
        s: _Sites,
        pos: NDArray[np.intp],
        dist: frozenset[str] | None = None,
        *,
        solo: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Check the sites at positions ``pos`` (one chunk); plain arrays out.

        ``dist``: the kinds whose nearest distance is computed (``None``: all);
        ``solo``: one of several blocks checked at once (no nested k-d threads).
        """
        dist = frozenset(self.kinds) if dist is None else dist
        with single_threaded(solo):
            return self._check_block_in(s, pos, dist)

    def _check_block_in(
        self, s: _Sites, pos: NDArray[np.intp], dist: frozenset[str]
    ) -> dict[str, dict[str, Any]]:
        block = prepare_sites(s.geoms[pos], ea_crs=self.ea_crs)
        rels: dict[str, LayerRelations] = {}
        for kind in self.kinds:
            rels[kind] = relate_layer(
                self.index[kind],
                block,
                within_m=self._within[kind],
                nearest_max_m=self.nearest_max_m,
                ea_crs=self.ea_crs,
                nearest=kind in dist,
            )
        sub_rels = {
            key: relate_layer(sub, block, within_m=None, nearest_max_m=self.nearest_max_m,
                              ea_crs=self.ea_crs)
            for key, (sub, _) in self._subsets.items()
        }  # fmt: skip
        findings = self._findings(s, pos, block, rels, sub_rels, s.profile[pos])
        # rules whose layers do not cover a site (or are not loaded): insufficient data
        covered = coverage(block.geoms_ll, self.kinds, self.extents, self.missing_kinds)
        cond = np.array([self._conditions(p) for p in s.projects], dtype=bool).reshape(
            len(s.projects), len(self.rules)
        )
        findings = add_insufficient(
            findings, self.rules, cond, s.profile[pos], covered,
            OUTCOME_ORDER["insufficient_data"],
        )  # fmt: skip
        sites = self._site_arrays(pos, block, rels, findings, dist)
        sites["straddle"] = (
            np.zeros(len(pos), dtype=bool) if self.jurisdiction is None
            # prepared: 1st arg (shared by threads: prepared_test)
            else ~prepared_test(shapely.covers, self.jurisdiction, block.geoms_ll)
        )  # fmt: skip
        sites["repaired"] = (
            np.zeros(len(pos), dtype=bool) if s.repaired is None else s.repaired[pos]
        )
        relations = self._relation_arrays(block, rels, dist)
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
        # per profile and rule: the exception that applies (-1: none)
        exc = np.array([self._exception_index(p) for p in s.projects], dtype=np.intp).reshape(
            len(s.projects), len(self.rules)
        )
        cols: dict[str, list[Any]] = {k: [] for k in _FINDING_ARRAYS}
        for plan in self._plans:
            rule = plan.rule
            if plan.missing:  # no layer: judged "insufficient_data" (zoning.check.evidence)
                continue
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
                cols["length_m"].append(nan)
                cols["length_pct"].append(nan)
                cols["access_entries"].append(none)
                cols["units"].append(none)
                cols["band"].append(none)
                cols["outcome"].append(np.full(len(site), self._severity[plan.pos], np.int8))
                cols["exceptions"].append(none)
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
            cols["length_m"].append(np.add.reduceat(rel.length_m[sel], start))
            cols["length_pct"].append(
                np.minimum(np.add.reduceat(rel.length_pct[sel], start), 100.0)
            )
            none = np.full(len(site), None, dtype=object)
            sev = np.full(len(site), self._severity[plan.pos], np.int8)
            exc_rows = none
            if rule.exceptions:
                ei = exc[profile[site], plan.pos]
                if (ei >= 0).any():
                    exc_rows = none.copy()
                    codes = np.array([OUTCOME_ORDER[e.outcome] for e in rule.exceptions], np.int8)
                    on = np.flatnonzero(ei >= 0)
                    sev[on] = codes[ei[on]]
                    rows = self._exc_rows[plan.pos]
                    exc_rows[on] = [rows[k] for k in ei[on].tolist()]
            if rule.access_list:
                ent, units, ent_sev = self._access(ix, pf, start, count, profile[site], s.projects)
                sev = np.maximum(sev, ent_sev)
            else:
                ent = units = none
            cols["access_entries"].append(ent)
            cols["units"].append(units)
            cols["band"].append(none)
            cols["outcome"].append(sev)
            cols["exceptions"].append(exc_rows)
        if cols["site"]:
            arr = {k: np.concatenate(v) for k, v in cols.items()}
        else:
            arr = {k: np.zeros(0, dtype=np.intp if k in ("site", "rule") else object) for k in cols}
            for k in ("distance_m", "overlap_m2", "overlap_pct", "length_m", "length_pct"):
                arr[k] = np.zeros(0)
            arr["outcome"] = np.zeros(0, dtype=np.int8)
        o = np.lexsort((arr["rule"], arr["site"]))
        return {k: v[o] for k, v in arr.items()}

    def _exception_index(self, p: Project) -> list[int]:
        """Per rule, the position of the exception that applies to ``p`` (-1: none)."""
        key = project_key(p)
        got = self._exc_cache.get(key)
        if got is None:
            got = []
            for r in self.rules:
                ex = r.exception_for(p) if r.exceptions else None
                got.append(-1 if ex is None else r.exceptions.index(ex))
            with _CACHE_LOCK:  # several threads may check blocks at once
                if len(self._exc_cache) >= 4096:  # bounded, as the conditions cache
                    self._exc_cache.clear()
                self._exc_cache[key] = got
        return got

    def _conditions(self, p: Project) -> list[bool]:
        """Whether each rule's conditions hold for ``p`` (cached by the project's attributes)."""
        key = project_key(p)
        got = self._cond_cache.get(key)
        if got is None:
            got = [r.applies_to(p) for r in self.rules]
            with _CACHE_LOCK:
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
        cols["length_m"].append(np.full(len(site), np.nan))
        cols["length_pct"].append(np.full(len(site), np.nan))
        cols["access_entries"].append(np.full(len(site), None, dtype=object))
        cols["units"].append(np.full(len(site), None, dtype=object))
        cols["band"].append(band)
        cols["outcome"].append(np.full(len(site), self._severity[plan.pos], np.int8))
        cols["exceptions"].append(np.full(len(site), None, dtype=object))

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
    ) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.int8]]:
        """Judged access-list entries, unit info and the outcome code per finding.

        Every entry of each unit is judged for the project (:func:`judge_entry`); the
        finding's outcome is the most severe the judgements lead to
        (:data:`zoning.access_list.JUDGEMENT_OUTCOME`), "needs_review" for a unit
        without any entry. Judged once per (unit, project profile).
        """
        nprof = len(projects)
        owner = np.repeat(np.arange(len(start)), count)
        key = feat.astype(np.int64) * nprof + prof[owner]
        ukey, inv = np.unique(key, return_inverse=True)
        per_key = np.empty(len(ukey), dtype=object)
        key_sev = np.zeros(len(ukey), dtype=np.int8)
        for j, k in enumerate(ukey.tolist()):
            f, p = divmod(k, nprof)
            judged = []
            worst = OUTCOME_ORDER["needs_review"]  # a unit with no entry: not judged
            if self._unit_entries(ix, f):
                worst = 0
            for e in self._unit_entries(ix, f):
                code, reason = judge_entry(e["_entry"], projects[p])
                row = {k2: v for k2, v in e.items() if not k2.startswith("_")}
                row.update(judgement=code, judgement_zh=JUDGEMENTS[code], reason=reason)
                judged.append(row)
                out = JUDGEMENT_OUTCOME[code]
                if out is not None:
                    worst = max(worst, OUTCOME_ORDER[out])
            per_key[j] = tuple(judged)
            key_sev[j] = worst
        units1 = np.empty(len(ix), dtype=object)  # shared 1-tuples per unit
        for f in np.unique(feat).tolist():
            units1[f] = (self._unit_info(ix, f),)
        ent = per_key[inv[start]]  # one unit per site: the common case, vectorised
        units = units1[feat[start]]
        sev = np.maximum.reduceat(key_sev[inv], start) if len(start) else key_sev[:0]
        for g in np.flatnonzero(count > 1).tolist():  # sites on several units
            a, c = int(start[g]), int(count[g])
            ent[g] = tuple(e for j in inv[a : a + c] for e in per_key[j])
            units[g] = tuple(u for f in feat[a : a + c].tolist() for u in units1[f])
        return ent, units, sev.astype(np.int8)

    def _unit_info(self, ix: LayerIndex, f: int) -> dict[str, Any]:
        got = self._units.get(f)
        if got is not None:
            return got
        with _CACHE_LOCK:  # one shared dict per unit, whichever thread makes it
            return self._unit_info_locked(ix, f)

    def _unit_info_locked(self, ix: LayerIndex, f: int) -> dict[str, Any]:
        got = self._units.get(f)
        if got is None:
            cat = str(ix.columns.get("category", np.array([""] * len(ix)))[f])
            got = {
                "feature_id": str(ix.ids[f]),
                "unit_code": str(ix.columns.get("unit_code", ix.ids)[f]),
                "category": cat,
                "category_zh": CATEGORY_ZH.get(cat, cat),
                "name": str(ix.names[f]),
            }
            self._units[f] = got
        return got

    def _unit_entries(self, ix: LayerIndex, f: int) -> list[dict[str, Any]]:
        got = self._entries.get(f)
        if got is not None:
            return got
        with _CACHE_LOCK:
            return self._unit_entries_locked(ix, f)

    def _unit_entries_locked(self, ix: LayerIndex, f: int) -> list[dict[str, Any]]:
        got = self._entries.get(f)
        if got is None:
            info = self._unit_info(ix, f)
            raw = ix.columns["access_list"][f] if "access_list" in ix.columns else None
            try:
                got = access_entries(raw, info["feature_id"], info["unit_code"], info["category"])
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
        # the outcome of each finding (a rule's exception or access list may change it)
        data["outcome"] = pd.Categorical.from_codes(
            arr["outcome"].astype(np.int8), dtype=self._dtypes["outcome"]
        )
        missing = arr.pop("missing", np.zeros(len(rpos), np.int8)).astype(bool)
        for col in ("section", "title", "title_en", "requirement", "requirement_en"):
            codes = self._rule_codes[col][rpos]
            if col in self._missing_codes and missing.any():  # insufficient_data: what to import
                codes = np.where(missing, self._missing_codes[col][rpos], codes)
            data[col] = pd.Categorical.from_codes(codes, dtype=self._dtypes[col])
        data["citations"] = self._cites[rpos]
        data["feature_ids"] = arr["feature_ids"]
        for col in ("distance_m", "overlap_m2", "overlap_pct", "length_m", "length_pct"):
            data[col] = arr.pop(col).astype("float64", copy=False)
        for col in ("access_entries", "units", "band", "exceptions"):
            data[col] = arr.pop(col)
        return pd.DataFrame(data, copy=False)

    def _site_arrays(
        self,
        pos: NDArray[np.intp],
        block: Any,
        rels: dict[str, LayerRelations],
        findings: dict[str, NDArray[Any]],
        dist: frozenset[str],
    ) -> dict[str, NDArray[Any]]:
        """Verdict and deciding rules per site (findings are sorted by site, rule)."""
        n = len(pos)
        local = findings["site"].astype(np.intp)
        rcode = findings["rule"].astype(np.intp)
        sev = findings["outcome"].astype(np.int8)
        site_sev = np.zeros(n, dtype=np.int8)
        if len(local):  # findings are sorted by site: one maximum per run
            f_start, _ = _runs(local)
            site_sev[local[f_start]] = np.maximum.reduceat(sev, f_start)
        deciding = np.full(n, "", dtype=object)
        dec = (sev > 0) & (sev == site_sev[local])
        ds, dr = local[dec], rcode[dec]
        if len(ds):
            start, count = _runs(ds)
            rid = np.asarray(self._rule_ids, dtype=object)
            deciding[ds[start]] = rid[dr[start]]
            multi = np.flatnonzero(count > 1)  # sites decided by several rules
            if len(multi):
                # one text per distinct list of rules (rows of a padded matrix)
                c = count[multi]
                row = np.repeat(np.arange(len(multi)), c)
                col = np.arange(len(row)) - np.repeat(np.cumsum(c) - c, c)
                mat = np.full((len(multi), int(c.max())), -1, dtype=np.int64)
                mat[row, col] = dr[np.repeat(start[multi], c) + col]
                lists, inv = np.unique(mat, axis=0, return_inverse=True)
                texts = np.empty(len(lists), dtype=object)
                texts[:] = [";".join(rid[r[r >= 0]]) for r in lists]
                deciding[ds[start[multi]]] = texts[inv.reshape(-1)]
        out = {
            "pos": pos,
            "severity": site_sev,
            "deciding": deciding,
            "area_m2": block.area_m2,
            "geometry": block.geoms_ll,
        }
        for kind in self.kinds:
            if kind in dist:
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
        data["straddles_jurisdiction"] = a["straddle"]
        data["geometry_repaired"] = a["repaired"]
        data["area_m2"] = a["area_m2"]
        for kind in self.kinds:
            if f"dist_{kind}_m" in a:  # kinds whose distance was computed
                data[f"dist_{kind}_m"] = a[f"dist_{kind}_m"]
        return gpd.GeoDataFrame(data, geometry=a["geometry"], crs=_LONLAT)

    def _relation_arrays(
        self, block: Any, rels: dict[str, LayerRelations], dist: frozenset[str]
    ) -> dict[str, NDArray[Any]]:
        parts: dict[str, list[Any]] = {
            k: [] for k in (
                "site", "kind", "fcode", "ncode", "rel", "ov", "pct", "dist", "len", "lpct"
            )
        }  # fmt: skip
        every = np.arange(block.n)
        zero_all = np.where(block.areal, 0.0, np.nan)  # overlap of an "outside" row
        for k_i, kind in enumerate(self.kinds):
            r = rels[kind]
            if kind not in dist:  # nearest not searched: pairs only, no "outside" rows
                out_s = np.zeros(0, dtype=np.intp)
                nf, zero, near_m = out_s, zero_all[out_s], np.zeros(0)
            elif len(r.site):
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
            nan_out = np.full(len(out_s), np.nan)  # length inside: line sites only
            parts["len"] += [r.length_m, np.where(block.areal[out_s], np.nan, nan_out)]
            parts["lpct"] += [r.length_pct, nan_out]
        if parts["site"]:
            a = {k: np.concatenate(v) for k, v in parts.items()}
        else:
            a = {k: np.zeros(0, dtype=np.intp) for k in parts}
            a["ov"] = a["pct"] = a["dist"] = a["len"] = a["lpct"] = np.zeros(0)
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
                "length_m": a.pop("len").astype("float64", copy=False),
                "length_pct": a.pop("lpct").astype("float64", copy=False),
            },
            copy=False,
        )


_FINDING_ARRAYS = (
    "site", "rule", "feature_ids", "distance_m", "overlap_m2", "overlap_pct",
    "length_m", "length_pct", "access_entries", "units", "band", "outcome", "exceptions",
)  # fmt: skip


class MissingLayerWarning(EcozoneWarning):
    """A layer kind the pack needs is missing and its rules were skipped."""


@cache
def _ecozone_version() -> str:
    try:
        return _pkg_version("ecozone")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _one_project(project: Project | None, s: _Sites) -> Project | None:
    """The project every site shares (``None`` with per-row projects)."""
    if project is not None or len(s.projects) != 1:
        return project
    return s.projects[0]


def _cores() -> int:
    """Cores this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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
    workers: int | None = None,
    distances: str | Iterable[str] = "all",
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
    workers
        Threads checking at once (``None``: every core for big inputs); the result
        does not depend on it (:meth:`SiteChecker.check`).
    distances
        ``"all"`` (default), ``"rules"`` or layer kinds: which ``dist_<kind>_m``
        columns are computed (:meth:`SiteChecker.check`).

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
        workers=workers,
        distances=distances,
    )
