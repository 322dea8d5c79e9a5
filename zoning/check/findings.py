"""Findings of the site check: which rules fire for which sites, and their outcomes.

:class:`FindingsMixin` is the half of :class:`zoning.check.engine.SiteChecker` that turns
the relations of a block of sites (:mod:`zoning.check.relations`) into findings: one
row per (site, rule) with the features, distances, overlaps, access-list judgements,
exit band and exceptions. The predicates' own tests (intersects / within /
within_distance / nearest / site exit) come from :mod:`zoning.check.predicates`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.crs import transform_geoms
from geo.errors import LayerValidationError
from geo.scale import plane_scale
from zoning.access_list import JUDGEMENT_OUTCOME, JUDGEMENTS, judge_entry
from zoning.check.exit_band import disc_bands
from zoning.check.layer_index import CATEGORY_ZH, access_entries
from zoning.check.predicates import PREDICATES
from zoning.check.relations import LayerIndex, LayerRelations
from zoning.check.result import _Sites
from zoning.check.runs import _pair_order, _runs
from zoning.check.sites import project_key
from zoning.industry import code_of_prefix
from zoning.project import Project, type_allows_code

if TYPE_CHECKING:
    from zoning.check.predicates import RulePlan

__all__ = ["OUTCOME_ORDER", "FindingRows", "FindingsMixin", "SortedFindings"]

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
# guards the checker's lazy caches (module-level: a checker still pickles)
_CACHE_LOCK = threading.RLock()
#: (unit, project) judgements a checker remembers: a batch with per-row projects has
#: few distinct ones; the bound keeps a long-lived web checker's memory flat.
_JUDGED_MAX = 100_000

_LONLAT = "EPSG:4326"

_FINDING_ARRAYS = (
    "site", "rule", "feature_ids", "distance_m", "overlap_m2", "overlap_pct",
    "length_m", "length_pct", "access_entries", "units", "band", "outcome", "exceptions",
    "missing",
)  # fmt: skip
_FLOAT_ARRAYS = ("distance_m", "overlap_m2", "overlap_pct", "length_m", "length_pct")
_OBJECT_ARRAYS = ("feature_ids", "access_entries", "units", "band", "exceptions")


class FindingRows:
    """The findings of a block as column parts, added rule by rule and joined once.

    A part left out (``None``) is all ``None`` (object columns), NaN (measures) or 0
    (``missing``): the columns that are so throughout (a rule's exceptions, exit bands,
    most access entries) are made whole at the end instead of being copied and sorted.
    :meth:`join` sorts the rows by (site, rule) once, after every row is in (the
    engine's own rows, then :func:`zoning.check.evidence.add_insufficient`'s).
    """

    def __init__(self) -> None:
        self.parts: dict[str, list[Any]] = {k: [] for k in _FINDING_ARRAYS}
        self.sizes: list[int] = []

    def add(self, site: NDArray[np.intp], rule: int, outcome: Any, **columns: Any) -> None:
        """Add rows: their sites, one rule position, outcome codes (or one), other columns.

        ``columns`` names columns of :data:`_FINDING_ARRAYS`; the rest are left out.
        """
        n = len(site)
        self.parts["site"].append(site)
        self.parts["rule"].append(np.full(n, rule, dtype=np.intp))
        self.parts["outcome"].append(np.broadcast_to(np.asarray(outcome, np.int8), (n,)))
        for k in _FINDING_ARRAYS:
            if k not in ("site", "rule", "outcome"):
                self.parts[k].append(columns.pop(k, None))
        if columns:
            msg = f"unknown finding columns {sorted(columns)}"
            raise TypeError(msg)
        self.sizes.append(n)

    def column(self, name: str) -> NDArray[Any]:
        """One column of every row added so far, in the order added."""
        if not self.sizes:
            return self._empty(name)
        pairs = zip(self.parts[name], self.sizes, strict=True)
        return np.concatenate([self._filled(name, p, n) for p, n in pairs])

    def replace(self, name: str, values: NDArray[Any]) -> None:
        """Set one column of every row added so far (``values`` in the order added)."""
        self.parts[name] = np.split(values, np.cumsum(self.sizes)[:-1])

    def join(self, nrules: int) -> SortedFindings:
        """The findings arrays, sorted by (site, rule) (ties in the order added).

        ``site`` and ``rule`` are sorted at once, every other column when first read
        (:class:`SortedFindings`).
        """
        site, rule = self.column("site"), self.column("rule")
        return SortedFindings(self, _pair_order(site, rule, nrules), site, rule)

    def sorted_column(self, name: str, order: NDArray[np.intp], at: Any) -> NDArray[Any]:
        """Column ``name`` of every row added, in ``order``.

        ``at`` returns ``order`` inverted (made on first need: a column mostly left out
        puts its given parts in place).
        """
        parts = self.parts[name]
        total = sum(self.sizes)
        given = [i for i, p in enumerate(parts) if p is not None]
        if 2 * sum(self.sizes[i] for i in given) >= total:  # mostly given: gathered
            return self.column(name)[order]
        # mostly left out (or all): the given parts put in place, one by one
        col = self._filled(name, None, total)
        if given:
            where = at()
            ends = np.cumsum(self.sizes)
            for i in given:
                col[where[ends[i] - self.sizes[i] : ends[i]]] = parts[i]
        return col

    @staticmethod
    def _filled(name: str, part: Any, n: int) -> NDArray[Any]:
        if part is not None:
            return part
        if name in _OBJECT_ARRAYS:
            return np.full(n, None, dtype=object)
        if name in _FLOAT_ARRAYS:
            return np.full(n, np.nan)
        return np.zeros(n, dtype=np.int8)  # missing

    @classmethod
    def _empty(cls, name: str) -> NDArray[Any]:
        if name in ("site", "rule"):
            return np.zeros(0, dtype=np.intp)
        return cls._filled(name, None, 0)


class SortedFindings(MutableMapping[str, NDArray[Any]]):
    """The findings arrays of a block sorted by (site, rule): :meth:`FindingRows.join`.

    ``site`` and ``rule`` are sorted when made; every other column on its first read,
    from the rows as added. A batch reads ``outcome`` and ``exceptions`` of them: the
    features, measures and access entries of its finding rows (about 360 000 a
    40 000-point chunk of the Beijing pack, many of them Python objects) are never
    gathered. Reading every column (a findings frame, a report) gives the arrays a
    whole sort gave. A column read by two threads at once is sorted once.
    """

    def __init__(
        self,
        rows: FindingRows,
        order: NDArray[np.intp],
        site: NDArray[np.intp],
        rule: NDArray[np.intp],
    ) -> None:
        self._rows: FindingRows | None = rows
        self._order = order
        self._at: NDArray[np.intp] | None = None
        self._keys = list(rows.parts)  # the columns' order, whichever is sorted first
        self._pending = [k for k in rows.parts if k not in ("site", "rule")]
        self._cols: dict[str, NDArray[Any]] = {"site": site[order], "rule": rule[order]}
        self._lock = threading.Lock()

    def _inverse(self) -> NDArray[np.intp]:
        if self._at is None:  # where each row added goes
            self._at = np.empty(len(self._order), dtype=np.intp)
            self._at[self._order] = np.arange(len(self._order))
        return self._at

    def __getitem__(self, name: str) -> NDArray[Any]:
        got = self._cols.get(name)
        if got is not None:
            return got
        with self._lock:
            got = self._cols.get(name)
            if got is None:
                if name not in self._pending or self._rows is None:
                    raise KeyError(name)
                got = self._rows.sorted_column(name, self._order, self._inverse)
                self._cols[name] = got
                self._forget(name)
        return got

    def left_out(self, name: str) -> bool:
        """Whether no row added gave column ``name`` (all None, NaN or 0), unread.

        A reader can then skip the column (a batch's notes skip the exceptions no rule
        applied). False once the column was read or set: then it is as read.
        """
        rows = self._rows
        return (
            rows is not None and name in self._pending and all(p is None for p in rows.parts[name])
        )

    def _forget(self, name: str) -> None:
        if name in self._pending:
            self._pending.remove(name)
            if self._rows is not None:
                self._rows.parts[name] = []  # its rows: sorted, or replaced
            if not self._pending:  # every column sorted: the rows as added go
                self._rows = self._at = None

    def __setitem__(self, name: str, values: NDArray[Any]) -> None:
        with self._lock:
            self._cols[name] = values
            self._forget(name)

    def __delitem__(self, name: str) -> None:
        with self._lock:
            if name not in self._cols and name not in self._pending:
                raise KeyError(name)
            self._cols.pop(name, None)
            self._forget(name)

    def __contains__(self, name: object) -> bool:
        return name in self._cols or name in self._pending

    def __iter__(self) -> Iterator[str]:
        keys = [k for k in self._keys if k in self._cols or k in self._pending]
        return iter([*keys, *(k for k in self._cols if k not in self._keys)])

    def __len__(self) -> int:
        return len(self._cols) + len(self._pending)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self.items()),))  # every column sorted: a plain dict


def _rank_within(group: NDArray[np.intp]) -> NDArray[np.intp]:
    """0-based rank of each element among equal values, in input order."""
    o = np.argsort(group, kind="stable")
    g = group[o]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    rank = np.arange(len(g)) - np.repeat(start, np.diff(np.r_[start, len(g)]))
    out = np.empty(len(g), dtype=np.intp)
    out[o] = rank
    return out


class FindingsMixin:
    """Findings of a checked block (mixed into :class:`zoning.check.engine.SiteChecker`)."""

    # attributes set by SiteChecker.__init__
    rules: list[Any]
    index: dict[str, LayerIndex]
    _plans: list[Any]
    _severity: NDArray[np.int8]
    _fid1: dict[str, NDArray[Any]]
    _subsets: dict[Any, Any]
    _exc_rows: list[Any]
    _exc_cache: dict[Any, list[int]]
    _cond_cache: dict[Any, list[bool]]
    _dependent_rules: list[int]
    _rest_when: list[Any]
    _type_when: list[Any]
    _pairs_cache: dict[Any, NDArray[np.bool_]]
    _units: dict[int, dict[str, Any]]
    _entries: dict[int, list[dict[str, Any]]]
    _judged: dict[Any, tuple[tuple[dict[str, Any], ...], int]]

    def _findings(
        self,
        s: _Sites,
        pos: NDArray[np.intp],
        block: Any,
        rels: dict[str, LayerRelations],
        sub_rels: dict[Any, LayerRelations],
        profile: NDArray[np.intp],
        cond: NDArray[np.bool_],
    ) -> FindingRows:
        """The rows of the rules that fire for the block's sites (unsorted: see FindingRows).

        ``cond``: whether each rule's conditions hold, per project (``s.projects``) and
        rule. ``rels`` needs only the layers of the rules that apply to a site.
        """
        # per profile and rule: the exception that applies (-1: none)
        exc = np.array([self._exception_index(p) for p in s.projects], dtype=np.intp).reshape(
            len(s.projects), len(self.rules)
        )
        rows = FindingRows()
        for plan in self._plans:
            rule = plan.rule
            if plan.missing:  # no layer: judged "insufficient_data" (zoning.check.evidence)
                continue
            ok = cond[profile, plan.pos]
            if not ok.any():
                continue
            spec = PREDICATES[rule.predicate]
            if not spec.nearest and rule.layer != "site_exit":
                if len(rels[rule.layer].site) == 0:  # no site near any feature
                    continue
            if rule.unless_layer is not None:
                ok &= ~rels[rule.unless_layer].intersects_any
            if not ok.any():
                continue
            if rule.layer == "site_exit":
                self._exit_findings(plan, s, pos, block, ok, rows)
                continue
            rel = rels[rule.layer]
            ix = self.index[rule.layer]
            if spec.nearest:
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
                rows.add(
                    site, plan.pos, self._severity[plan.pos],
                    feature_ids=self._fid1[rule.layer][nf[site]], distance_m=nd[site],
                )  # fmt: skip
                continue
            sel = plan.mask[rel.feature] & ok[rel.site]
            sel &= spec.select(rel, plan)  # the predicate's pairs
            ps, pf = rel.site[sel], rel.feature[sel]
            if len(ps) == 0:
                continue
            start, count = _runs(ps)
            site = ps[start]
            sev = np.full(len(site), self._severity[plan.pos], np.int8)
            exc_rows = None  # no exception applied
            if rule.exceptions:
                ei = exc[profile[site], plan.pos]
                if (ei >= 0).any():
                    exc_rows = np.full(len(site), None, dtype=object)
                    codes = np.array([OUTCOME_ORDER[e.outcome] for e in rule.exceptions], np.int8)
                    on = np.flatnonzero(ei >= 0)
                    sev[on] = codes[ei[on]]
                    texts = self._exc_rows[plan.pos]
                    exc_rows[on] = [texts[k] for k in ei[on].tolist()]
            ent = units = None
            if rule.access_list:
                ent, units, ent_sev = self._access(ix, pf, start, count, profile[site], s.projects)
                sev = np.maximum(sev, ent_sev)
            rows.add(
                site, plan.pos, sev,
                feature_ids=self._group_tuples(rule.layer, pf, start, count),
                distance_m=np.minimum.reduceat(rel.distance_m[sel], start),
                overlap_m2=np.add.reduceat(rel.overlap_m2[sel], start),
                overlap_pct=np.minimum(np.add.reduceat(rel.overlap_pct[sel], start), 100.0),
                length_m=np.add.reduceat(rel.length_m[sel], start),
                length_pct=np.minimum(np.add.reduceat(rel.length_pct[sel], start), 100.0),
                access_entries=ent, units=units, exceptions=exc_rows,
            )  # fmt: skip
        return rows

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

    def _unknown_matrix(
        self, projects: Sequence[Project], cond: NDArray[np.bool_]
    ) -> NDArray[np.bool_]:
        """The rules that apply to a project only once its type or industry code is given.

        One row per project, one column per rule (as :meth:`_condition_matrix`, whose
        answer ``cond`` is): for a project without a type or without an industry code,
        the rules for particular types (``when.project_types``) or industries
        (``when.industry_prefixes``) whose conditions hold for one of those types and
        one code of those industries (:func:`zoning.industry.code_of_prefix`) that the
        type allows (:func:`zoning.project.type_allows_code`: a housing project is not
        asked for its code by a rule for steelworks), the project's other attributes as
        given; nothing for a project that gave both.

        A rule's other conditions do not read the type or the code: they are tested once
        per project (``_rest_when``), and the (type, code) pairs once per type and code
        the project gave (:meth:`_pairs_meet`), so a batch of many distinct projects costs
        one condition test per rule and project, not one per pair.
        """
        unknown = np.zeros_like(cond)
        cols = np.asarray(self._dependent_rules, dtype=np.intp)
        if not len(cols):
            return unknown
        for i, p in enumerate(projects):
            if p.project_type is not None and p.industry_code:
                continue
            pairs = self._pairs_meet(p.project_type, p.industry_code)
            rest_ok = np.fromiter((w.applies_to(p) for w in self._rest_when), bool, len(cols))
            unknown[i, cols] = pairs & rest_ok & ~cond[i, cols]
        return unknown

    def _pairs_meet(self, project_type: str | None, code: str | None) -> NDArray[np.bool_]:
        """Whether a fitting type and code meet each dependent rule's type and code conditions.

        The rules are those of ``_dependent_rules``, their conditions ``_type_when``. The
        type and the code are the project's where it gave them, else each of the rules'
        types and a code of each of their industries (:func:`zoning.industry.code_of_prefix`)
        that the type allows (:func:`zoning.project.type_allows_code`). Cached by the
        project's type and code.
        """
        key = (project_type, code)
        got = self._pairs_cache.get(key)
        if got is not None:
            return got
        whens = self._type_when
        types = sorted({t for w in whens for t in w.project_types or ()})
        codes = sorted({code_of_prefix(c) for w in whens for c in w.industry_prefixes or ()})
        ts = [project_type] if project_type is not None else [None, *types]
        cs = [code] if code else [None, *codes]
        pairs = [Project(project_type=t, industry_code=c)
                 for t in ts for c in cs if type_allows_code(t, c)]  # fmt: skip
        got = np.array([any(w.applies_to(q) for q in pairs) for w in whens], dtype=bool)
        with _CACHE_LOCK:  # bounded, as the conditions cache
            if len(self._pairs_cache) >= 4096:
                self._pairs_cache.clear()
            self._pairs_cache[key] = got
        return got

    def _condition_matrix(self, projects: Sequence[Project]) -> NDArray[np.bool_]:
        """Whether each rule's conditions hold: one row per project, one column per rule."""
        cond = [self._conditions(p) for p in projects]
        return np.array(cond, dtype=bool).reshape(len(projects), len(self.rules))

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
        plan: RulePlan,
        s: _Sites,
        pos: NDArray[np.intp],
        block: Any,
        ok: NDArray[np.bool_],
        rows: FindingRows,
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
            site_m = block.metric_geoms(owner[m])
            exit_m = transform_geoms(pts[m], _LONLAT, int(code))
            dist[m] = plane_scale(int(code)).distance(site_m, exit_m)
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
        rows.add(
            site, plan.pos, self._severity[plan.pos],
            feature_ids=ids, distance_m=np.minimum.reduceat(dist, start), band=band,
        )  # fmt: skip

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
            per_key[j], key_sev[j] = self._judged_unit(ix, f, projects[p])
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

    def _judged_unit(
        self, ix: LayerIndex, f: int, project: Project
    ) -> tuple[tuple[dict[str, Any], ...], int]:
        """A unit's entries judged for a project and the worst outcome code.

        Remembered across blocks and chunks (a batch judges each unit once per
        project, not once per chunk), up to :data:`_JUDGED_MAX` pairs.
        """
        key: Any = (id(ix), f, project)
        try:
            hash(key)
        except TypeError:  # a project with unhashable values: judged every time
            key = None
        got = self._judged.get(key) if key is not None else None
        if got is not None:
            return got
        judged = []
        worst = OUTCOME_ORDER["needs_review"]  # a unit with no entry: not judged
        if self._unit_entries(ix, f):
            worst = 0
        for e in self._unit_entries(ix, f):
            code, reason = judge_entry(e["_entry"], project)
            row = {k2: v for k2, v in e.items() if not k2.startswith("_")}
            row.update(judgement=code, judgement_zh=JUDGEMENTS[code], reason=reason)
            judged.append(row)
            out = JUDGEMENT_OUTCOME[code]
            if out is not None:
                worst = max(worst, OUTCOME_ORDER[out])
        got = (tuple(judged), worst)
        if key is not None and len(self._judged) < _JUDGED_MAX:
            self._judged[key] = got
        return got

    def _unit_info(self, ix: LayerIndex, f: int) -> dict[str, Any]:
        got = self._units.get(f)
        if got is not None:
            return got
        with _CACHE_LOCK:  # one shared dict per unit, whichever thread makes it
            return self._unit_info_locked(ix, f)

    def _unit_info_locked(self, ix: LayerIndex, f: int) -> dict[str, Any]:
        got = self._units.get(f)
        if got is None:
            cat = str(ix.columns["category"][f]) if "category" in ix.columns else ""
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
