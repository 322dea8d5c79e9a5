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
distances on the ellipsoid, found in each site's own 3° Gauss-Krüger zone
(EPSG:4534–4554, sites in several zones are grouped by zone) and divided by the zone's
scale along each shortest line (:mod:`geo.scale`); overlap areas in an Albers
equal-area projection on the CGCS2000 ellipsoid fitted to the layers. Nothing depends
on the other sites of a batch, so checking a batch gives exactly the results of
checking each site alone.
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

- the predicates (``intersects``, ``within``, ``within_distance``, ``nearest``) are
  the registry :data:`zoning.check.predicates.PREDICATES`;
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

import functools
import itertools
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Literal, TypeVar

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from geo.errors import (
    EcozoneWarning,
    GeometryError,
    InputFormatError,
    MissingLayerError,
    OutsideJurisdictionError,
)
from layers.kinds import canonical_kind
from zoning.check.evidence import (
    OUTSIDE_JURISDICTION,
    add_insufficient,
    check_evidence,
    coverage,
    evidence_areas,
    mark_outside,
    rule_data_kinds,
)
from zoning.check.findings import _CACHE_LOCK, OUTCOME_ORDER, FindingsMixin
from zoning.check.frames import FrameBuilder, join_parts, no_relation_arrays, one_tuples
from zoning.check.layer_index import (
    feature_mask,
    index_layer,
    ordered_kinds,
)
from zoning.check.notes import check_stamp
from zoning.check.parts import covers_whole
from zoning.check.predicates import PREDICATES, RulePlan, plan_rule
from zoning.check.prepared import (  # noqa: F401 (PARALLEL_MIN_SITES: re-exported)
    NON_POINT_WEIGHT,
    PARALLEL_MIN_SITES,
    auto_workers,
)
from zoning.check.relations import (
    GRID_AFTER_POINTS,
    LayerIndex,
    LayerRelations,
    fixed_equal_area_crs,
    prepare_sites,
    relate_layer,
    warm_prepared,
    warm_tree,
)

# the result half lives in zoning.check.result; re-exported: CheckResult, VERDICTS,
# VERDICT_ZH (in __all__), for code importing them from here
from zoning.check.result import (
    VERDICT_ZH,
    VERDICTS,
    CheckResult,
    _errors_frame,
    _LazyResult,
    _Sites,
)
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

_LONLAT = "EPSG:4326"
#: Default search radius of the nearest-feature distance (metres).
NEAREST_MAX_M = 10_000.0
#: Default number of sites processed at once (bounds memory).
CHUNK_SIZE = 200_000
#: Results of at most this many input sites build their frames lazily (first read).
SMALL_RESULT = 16


_F = TypeVar("_F", bound=Callable[..., Any])


def _warm_when_shared(method: _F) -> _F:
    """Run a check on a cold checker one at a time, until threads share it; then warm it.

    GEOS builds the indexes of prepared geometries and STRtrees on their first use,
    without a lock: threads checking on a fresh :class:`SiteChecker` at once corrupt
    memory (four threads of 3 000 sites each: heap corruption in 6 runs of 8). A
    checker used from one thread never pays for warming. A check that finds another
    one running on a cold checker waits for it, then warms the checker (no check runs
    meanwhile, see :meth:`SiteChecker.warm`); checks on a warm checker run at once.
    """

    @functools.wraps(method)
    def guarded(self: SiteChecker, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_warmed", False):
            return method(self, *args, **kwargs)
        lock = self._cold_lock
        if not lock.acquire(blocking=False):  # another check is running: shared
            with lock:
                self.warm()
            return method(self, *args, **kwargs)
        try:  # (reentrant: a check that warms the checker itself holds it meanwhile)
            return method(self, *args, **kwargs)
        finally:
            lock.release()

    return guarded  # type: ignore[return-value]


# --------------------------------------------------------------------------- rules


class SiteChecker(FindingsMixin, FrameBuilder):
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
        self._cold_lock = threading.RLock()  # see _warm_when_shared
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
        if self.jurisdiction is not None:  # where point grids are worth their cells
            box = tuple(float(v) for v in self.jurisdiction.bounds)
            for ix in self.index.values():
                ix.grid_box = box  # type: ignore[assignment]
        for kind, meta in self.layer_stamp.items():
            meta["extent"] = stamps.get(kind)
        self._plans = [self._plan(i, r) for i, r in enumerate(rules)]
        # rules whose feature filter keeps none of their layer's features: they can
        # never fire, and a result says so (zoning.check.notes.unmatched_filters_note)
        self.unmatched_filters: list[Rule] = [
            p.rule
            for p in self._plans
            if p.rule.feature_filter and p.mask is not None and len(p.mask) and not p.mask.any()
        ]
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
        self._fid1 = {k: one_tuples(ix.ids) for k, ix in self.index.items()}
        self._entries: dict[int, list[dict[str, Any]]] = {}
        self._judged: dict[Any, tuple[tuple[dict[str, Any], ...], int]] = {}
        self._units: dict[int, dict[str, Any]] = {}  # control units (access_list rules)
        self._init_codes(rules)  # categories and codes of the frames (FrameBuilder)
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
        # the rules for some types or industries (positions), each one's conditions split
        # into those on the type and code and the others (FindingsMixin._unknown_matrix)
        self._dependent_rules = [
            k for k, r in enumerate(rules) if r.when.project_types or r.when.industry_prefixes
        ]
        whens = [rules[k].when for k in self._dependent_rules]
        drop = {"project_types": None, "industry_prefixes": None}
        self._rest_when = [w.model_copy(update=drop) for w in whens]
        self._type_when = [
            type(w)(project_types=w.project_types, industry_prefixes=w.industry_prefixes)
            for w in whens
        ]
        self._pairs_cache: dict[tuple[Any, ...], NDArray[np.bool_]] = {}
        # feature ids / names of the categories as plain str (small results' rows)
        self._fid_values = np.asarray(self._fid_cat, dtype=object)
        self._fname_values = np.asarray(self._fname_cat, dtype=object)

    def __getstate__(self) -> dict[str, Any]:
        # unpickled layers are prepared afresh: their lazy GEOS indexes are not built
        state = dict(self.__dict__)
        state.pop("_warmed", None)
        state.pop("_cold_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cold_lock = threading.RLock()

    # ----------------------------------------------------------------- planning

    def _plan(self, pos: int, rule: Rule) -> RulePlan:
        if rule.layer in self.missing_kinds or rule.unless_layer in self.missing_kinds:
            return RulePlan(pos, rule, None, None, None, missing=True)
        if rule.layer == "site_exit":
            return RulePlan(pos, rule, None, None, None)
        index = self.index[rule.layer]
        mask = feature_mask(rule, index)
        return plan_rule(pos, rule, mask, index.columns, self.pack.park_service)

    # ----------------------------------------------------------------- checking

    @_warm_when_shared
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
        relations: bool = True,
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
            (:func:`geo.io.lonlat.to_lonlat`; lon/lat input only).
        input_system
            The lon/lat system the caller read the input in before converting it to
            ``sites`` (e.g. ``"gcj02"``), for the result's "assumption" note only;
            default ``coords``.
        workers
            Threads checking sub-blocks of each chunk at once, or whole chunks when
            there are enough chunks of fewer than :data:`PARALLEL_MIN_SITES` sites
            (shapely, pyproj and numpy release the GIL); ``None``: every available
            core for more than :data:`PARALLEL_MIN_SITES` sites (a line or polygon
            site counting :data:`NON_POINT_WEIGHT`), else 1. The result is identical
            to ``workers=1`` (rows, order, values).
        distances
            Which ``dist_<kind>_m`` columns (and "outside" relation rows naming the
            nearest feature) to compute: ``"all"`` (default), ``"rules"`` (the kinds a
            ``nearest`` rule reads), or an iterable of layer kinds (or a
            ``"kind,kind"`` string). Kinds left out have no ``dist_<kind>_m`` column
            and no "outside" rows; verdicts and findings do not change.
        relations
            Build the ``relations`` frame (a row per site, layer and related feature);
            ``False`` leaves it empty (its columns only) for callers that read only the
            sites and findings, as batches writing verdict rows do: about 5 % less
            work. A block of sites is then related only to the layers that the
            rules applying to its projects read (and the ``distances`` kinds): a
            layer whose rules are all for residential projects is not related to a
            block of unknown projects. Sites and findings do not change; they are
            built when first read (a batch's verdict columns need no findings frame, see
            :func:`zoning.check.result.verdict_columns`).

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
        return self._run(s, project, chunk_size, progress, errors, workers, dist, relations)

    def distance_kinds(
        self,
        distances: str | Iterable[str] = "all",
        projects: Iterable[Project | None] | None = None,
    ) -> frozenset[str]:
        """The layer kinds whose nearest distance a check computes.

        Parameters
        ----------
        distances
            ``"all"``: every loaded kind; ``"rules"``: the kinds a ``nearest`` rule
            reads; else layer kinds (an iterable, or one ``"kind,kind"`` string).
        projects
            With ``"rules"``: only the ``nearest`` rules that apply to one of these
            projects (``None`` in it: the unknown project); default every one.

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
                on = np.ones(len(self.rules), dtype=bool)
                if projects is not None:
                    known = [Project() if p is None else p for p in projects]
                    on = self._condition_matrix(known).any(axis=0)
                near = (
                    r.layer for r, o in zip(self.rules, on, strict=True)
                    if o and PREDICATES[r.predicate].nearest
                )  # fmt: skip
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

    @_warm_when_shared
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

    @_warm_when_shared
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
        return _LazyResult(self, one, part, self._stamp(one, project))

    def _run(
        self,
        s: _Sites,
        project: Project | None,
        chunk_size: int,
        progress: Callable[[int, int], None] | None,
        errors: Literal["report", "raise"],
        workers: int | None,
        dist: frozenset[str],
        relations: bool = True,
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
            workers = auto_workers(s.geoms[todo])
        parts: list[dict[str, dict[str, NDArray[Any]]]] = []
        if workers > 1 and total > 1:
            parts = self._parallel(s, todo, chunk_size, workers, dist, progress, relations)
        else:
            for start in range(0, max(total, 1), chunk_size):
                block = todo[start : start + chunk_size]
                parts.append(self._check_block(s, block, dist, relations))
                if progress is not None:
                    progress(min(start + chunk_size, total), total)
        if len(s.geoms) <= SMALL_RESULT or not relations:
            # a few sites (the web app's single checks), or a batch chunk: the frames
            # are built only if read; reports, site_to_dict and a batch's verdict
            # columns (finding_keys) answer from the arrays
            arrays = {k: join_parts(parts, k) for k in ("sites", "relations", "findings")}
            return _LazyResult(self, s, arrays, self._stamp(s, project))
        # chunks give plain arrays: each frame is built once (no pandas concat), and
        # the chunk arrays are dropped column by column as they are joined
        sites_out = self.sites_frame(s, join_parts(parts, "sites"))
        relations = self.relations_frame(s, join_parts(parts, "relations"))
        findings = self.findings_frame(s, join_parts(parts, "findings"))
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
        relations: bool = True,
    ) -> list[dict[str, dict[str, NDArray[Any]]]]:
        """Check ``todo`` in blocks on ``workers`` threads; parts in input order.

        Each chunk is cut into ``workers`` sub-blocks checked at once, unless there are
        at least ``workers`` chunks of fewer than :data:`PARALLEL_MIN_SITES` sites:
        those go to the threads whole, one chunk a thread, as cutting them would add a
        block's fixed cost (a few milliseconds a layer) for little work (2 000 sites of
        the test world in chunks of 7: 10.4-11.8 s cut in two on two threads, 6.9-7.2 s
        whole). A single chunk (a batch's chunk of polygons) is always cut. A site's
        answer does not depend on the other sites of its block, and every block's arrays
        are sorted by site, so the parts joined in order are the one-worker result.
        """
        total = len(todo)
        self.warm()
        starts = range(0, total, chunk_size)
        whole = len(starts) >= workers and chunk_size < PARALLEL_MIN_SITES

        def cut(chunk: NDArray[np.intp]) -> list[NDArray[np.intp]]:
            if whole:
                return [chunk]
            size = -(-len(chunk) // workers)
            return [chunk[a : a + size] for a in range(0, len(chunk), size)]

        def check(block: NDArray[np.intp]) -> dict[str, dict[str, NDArray[Any]]]:
            return self._check_block(s, block, dist, relations)

        pieces = [cut(todo[start : start + chunk_size]) for start in starts]
        parts: list[dict[str, dict[str, NDArray[Any]]]] = []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ecozone-check") as ex:
            checked = ex.map(check, [block for blocks in pieces for block in blocks])
            for start, blocks in zip(starts, pieces, strict=True):
                parts += itertools.islice(checked, len(blocks))
                if progress is not None:
                    progress(min(start + chunk_size, total), total)
        return parts

    def warm(self) -> None:
        """Build the lazy GEOS indexes that threads will share (once per checker).

        Called before a block pool starts, and by the checks themselves the first time
        two run at once (see :func:`_warm_when_shared`); a server that shares one
        checker between request threads calls it once after building the checker, so
        that no request waits for it.
        """
        if getattr(self, "_warmed", False):
            return
        with _CACHE_LOCK:
            if getattr(self, "_warmed", False):
                return
            for ix in [*self.index.values(), *(sub for sub, _ in self._subsets.values())]:
                warm_prepared(ix.geoms)
                warm_tree(ix.tree)
            areas = {id(a): a for a in [self.jurisdiction, *self.extents.values()] if a is not None}
            warm_prepared(np.array(list(areas.values()), dtype=object))  # (shared extents once)
            self._warmed = True

    def expect_points(self, points: int) -> threading.Thread | None:
        """Get ready for a batch of about ``points`` point sites: build the point grids now.

        The checks build a layer's point grid once it has tested
        :data:`zoning.check.relations.GRID_AFTER_POINTS` points exactly; a batch known
        to bring more starts building every grid at once, on a thread of its own,
        while its first chunks are checked (exactly, until each grid is there).

        Parameters
        ----------
        points
            The point sites expected.

        Returns
        -------
        threading.Thread or None
            The thread building the grids (join it when the batch ends), or ``None``
            for fewer points than that.
        """
        if points < GRID_AFTER_POINTS:
            return None
        self.warm()  # the builder shares the prepared features with the checks

        def build() -> None:
            for ix in self.index.values():
                ix.build_point_grid()

        thread = threading.Thread(target=build, name="ecozone-point-grids", daemon=True)
        thread.start()
        return thread

    def _stamp(self, s: _Sites, project: Project | None) -> dict[str, Any]:
        rule_layers = {r.id: rule_data_kinds(r) for r in self.rules}
        keys = [project_key(p) for p in s.projects]
        return check_stamp(self, s, _one_project(project, s), rule_layers, keys)

    def _check_block(
        self,
        s: _Sites,
        pos: NDArray[np.intp],
        dist: frozenset[str] | None = None,
        relations: bool = True,
    ) -> dict[str, dict[str, Any]]:
        """Check the sites at positions ``pos`` (one chunk); plain arrays out.

        ``dist``: the kinds whose nearest distance is computed (``None``: all);
        ``relations``: build the relation rows (else none, see :meth:`check`). Any
        number of blocks may run at once: each k-d query uses its calling thread only.
        """
        dist = frozenset(self.kinds) if dist is None else dist
        xy = None if s.xy is None else s.xy[pos]
        block = prepare_sites(s.geoms[pos], ea_crs=self.ea_crs, xy_ll=xy)
        cond = self._condition_matrix(s.projects)
        profile = s.profile[pos]
        if relations:  # the relation rows name every layer
            kinds, subsets = self.kinds, set(self._subsets)
        else:  # only the layers that the rules applying to the block's projects read
            kinds, subsets = self._kinds_read(cond[np.unique(profile)].any(axis=0), dist)
        rels, sub_rels = self._relate(block, kinds, subsets, dist)
        rows = self._findings(s, pos, block, rels, sub_rels, profile, cond)
        # rules whose layers do not cover a site (or are not loaded): insufficient data
        tested: dict[int, NDArray[np.bool_]] = {}  # area id → covers (straddle reuses it)
        if s.inside is not None and self.jurisdiction is not None:  # (mark_outside's test)
            tested[id(self.jurisdiction)] = s.inside[pos]
        covered = coverage(
            block.geoms_ll, self.kinds, self.extents, self.missing_kinds, block.xy_ll, tested
        )
        add_insufficient(
            rows, self.rules, cond, profile, covered, OUTCOME_ORDER["insufficient_data"]
        )
        self._add_project_dependent(rows, s, pos, profile, cond, covered)
        findings = rows.join(len(self.rules))  # sorted by (site, rule), once
        sites = self.site_arrays(pos, block, rels, findings, dist)
        if self.jurisdiction is None:
            sites["straddle"] = np.zeros(len(pos), dtype=bool)
        else:  # the jurisdiction is often also the layers' extent: tested above then
            inside = tested.get(id(self.jurisdiction))
            if inside is None:  # prepared: 1st arg; many points: mostly by grid (exact)
                inside = covers_whole(self.jurisdiction, block.geoms_ll, block.xy_ll)
            sites["straddle"] = ~inside
        sites["repaired"] = (
            np.zeros(len(pos), dtype=bool) if s.repaired is None else s.repaired[pos]
        )
        rel_rows = self.relation_arrays(block, rels, dist) if relations else no_relation_arrays()
        # block positions → positions in the input
        findings["site"] = pos[findings["site"]]
        rel_rows["site"] = pos[rel_rows["site"]]
        return {"sites": sites, "relations": rel_rows, "findings": findings}

    def _relate(
        self, block: Any, kinds: Iterable[str], subsets: Iterable[Any], dist: frozenset[str]
    ) -> tuple[dict[str, LayerRelations], dict[Any, LayerRelations]]:
        """The block's relations to layers ``kinds`` and to nearest subsets ``subsets``.

        Nearest distances are computed for the layers in ``dist``.
        """
        rels = {
            kind: relate_layer(
                self.index[kind], block, within_m=self._within[kind],
                nearest_max_m=self.nearest_max_m, ea_crs=self.ea_crs, nearest=kind in dist,
            )
            for kind in kinds
        }  # fmt: skip
        sub_rels = {
            key: relate_layer(sub, block, within_m=None, nearest_max_m=self.nearest_max_m,
                              ea_crs=self.ea_crs)
            for key, (sub, _) in self._subsets.items()
            if key in subsets
        }  # fmt: skip
        return rels, sub_rels

    def _add_project_dependent(
        self,
        rows: Any,
        s: _Sites,
        pos: NDArray[np.intp],
        profile: NDArray[np.intp],
        cond: NDArray[np.bool_],
        covered: Mapping[str, NDArray[np.bool_] | None],
    ) -> None:
        """Findings of the rules for particular types or industries, for projects without.

        Without a project type, a rule for particular types does not apply, and without
        an industry code a rule for particular industries; a site where such a rule would
        fire (for one of its types and industries, the project otherwise as given) cannot
        read 符合 on the rules that did apply. Each such rule is added to the site's
        findings, ``missing`` 2 (its text asks for what was not given,
        :func:`zoning.check.notes.unknown_project_hint`): as ``needs_review`` when it
        would prohibit or restrict, as ``requirements`` when it would set requirements
        (informative rules are left out); one whose layer does not cover the site, as
        ``needs_review`` with what to import (``missing`` 1). Only sites whose findings
        are milder than ``needs_review`` are checked again: for the others the verdict
        stands, and a batch of unknown projects pays nothing for them.
        """
        unknown = self._unknown_matrix(s.projects, cond)
        if not unknown[np.unique(profile)].any():
            return
        review = OUTCOME_ORDER["needs_review"]
        worst = np.zeros(len(pos), dtype=np.int8)
        np.maximum.at(worst, rows.column("site"), rows.column("outcome"))
        cand = np.flatnonzero(unknown[profile].any(axis=1) & (worst < review))
        if len(cand) == 0:
            return
        sub = pos[cand]
        block = prepare_sites(
            s.geoms[sub], ea_crs=self.ea_crs, xy_ll=None if s.xy is None else s.xy[sub]
        )
        applies = unknown[np.unique(profile[cand])].any(axis=0)
        kinds, subsets = self._kinds_read(applies, frozenset())
        rels, sub_rels = self._relate(block, kinds, subsets, frozenset(kinds))
        found = self._findings(s, sub, block, rels, sub_rels, profile[cand], unknown)
        # and the rules for those types or industries that their layers cannot judge here
        part = {k: None if c is None else c[cand] for k, c in covered.items()}
        add_insufficient(
            found, self.rules, unknown, profile[cand], part, OUTCOME_ORDER["insufficient_data"]
        )
        site, rule, outcome = (found.column(c) for c in ("site", "rule", "outcome"))
        # prohibited / restricted / no data for those projects: needs review here
        outcome = np.minimum(outcome, review).astype(np.int8)
        measures = ("feature_ids", "distance_m", "overlap_m2", "overlap_pct", "length_m",
                    "length_pct")  # fmt: skip
        kept = {c: found.column(c) for c in measures}
        kept["missing"] = np.where(found.column("missing") == 1, 1, 2).astype(np.int8)
        for r_i in np.unique(rule[outcome > 0]).tolist():
            at = np.flatnonzero((rule == r_i) & (outcome > 0))
            rows.add(cand[site[at]], r_i, outcome[at], **{c: v[at] for c, v in kept.items()})

    def _kinds_read(
        self, applies: NDArray[np.bool_], dist: frozenset[str]
    ) -> tuple[list[str], set[Any]]:
        """The layers (and nearest subsets) that the rules in ``applies`` read, and ``dist``.

        A layer no applying rule reads (a park rule for residential projects in a
        batch of other projects) gives no finding and no column: it is not related.
        """
        read = set(dist)
        subsets = set()
        for plan, on in zip(self._plans, applies, strict=True):
            if on and not plan.missing:
                read.update((plan.rule.layer, plan.rule.unless_layer))
                if plan.nearest_key is not None:
                    subsets.add(plan.nearest_key)
        return [k for k in self.kinds if k in read], subsets


class MissingLayerWarning(EcozoneWarning):
    """A layer kind the pack needs is missing and its rules were skipped."""


def _one_project(project: Project | None, s: _Sites) -> Project | None:
    """The project every site shares (``None`` with per-row projects)."""
    if project is not None or len(s.projects) != 1:
        return project
    return s.projects[0]


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
