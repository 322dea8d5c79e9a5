"""The frames of a check result, built from the engine's arrays.

:class:`FrameBuilder` (mixed into :class:`zoning.check.engine.SiteChecker`) holds the
public builders a :class:`zoning.check.result.CheckResult` is made of:
:meth:`~FrameBuilder.site_arrays` / :meth:`~FrameBuilder.relation_arrays` turn one
checked block into arrays, :meth:`~FrameBuilder.sites_frame`,
:meth:`~FrameBuilder.relations_frame` and :meth:`~FrameBuilder.findings_frame` turn the
(joined) arrays into the result's frames — eagerly for a big check, on first read for a
small one or a batch chunk (:class:`zoning.check.result._LazyResult`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from zoning.check.evidence import missing_text_codes
from zoning.check.findings import OUTCOME_ORDER
from zoning.check.relations import OUTSIDE, RELATIONS, LayerIndex, LayerRelations
from zoning.check.result import _VERDICT_OF_SEVERITY, VERDICT_ZH, _Sites
from zoning.check.runs import _runs, unique_rows
from zoning.outcomes import SECTIONS_ZH

__all__ = ["FrameBuilder", "join_parts", "no_relation_arrays", "one_tuples"]

_LONLAT = "EPSG:4326"


class FrameBuilder:
    """Builders of a check result's arrays and frames (public: the result calls them)."""

    # attributes set by SiteChecker.__init__
    kinds: list[str]
    index: dict[str, LayerIndex]
    _dtypes: dict[str, Any]
    _rule_codes: dict[str, NDArray[Any]]
    _missing_codes: dict[str, NDArray[Any]]
    _cites: NDArray[Any]
    _rule_ids: list[str]
    _fid_code: dict[str, NDArray[Any]]
    _fname_code: dict[str, NDArray[Any]]

    def _init_codes(self, rules: list[Any]) -> None:
        """Categories and per-rule codes shared by every chunk (frames stay categorical)."""
        index = self.index
        # categories shared by every chunk (so concatenated frames stay categorical)
        self._rule_ids = [r.id for r in rules]
        all_ids = [ix.ids for ix in index.values()]
        all_names = [ix.names for ix in index.values()]
        ids_cat = pd.unique(np.concatenate(all_ids)) if all_ids else np.zeros(0, object)
        names_cat = pd.unique(np.concatenate(all_names)) if all_names else np.zeros(0, object)
        self._fid_cat = pd.Index(ids_cat)
        self._fname_cat = pd.Index(names_cat)
        self._fid_code = {k: self._fid_cat.get_indexer(ix.ids) for k, ix in index.items()}
        self._fname_code = {k: self._fname_cat.get_indexer(ix.names) for k, ix in index.items()}
        self._dtypes = {
            "kind": pd.CategoricalDtype(self.kinds),
            "feature_id": pd.CategoricalDtype(self._fid_cat),
            "feature_name": pd.CategoricalDtype(self._fname_cat),
            "relation": pd.CategoricalDtype(list(RELATIONS)),
            "rule_id": pd.CategoricalDtype(self._rule_ids),
            "outcome": pd.CategoricalDtype(list(OUTCOME_ORDER)),
            "section": pd.CategoricalDtype(list(SECTIONS_ZH)),
        }
        # per rule: the code of each text column in its own categorical dtype
        self._rule_codes: dict[str, NDArray[np.intp]] = {
            "outcome": np.array([list(OUTCOME_ORDER).index(r.outcome) for r in rules], np.intp),
            "section": np.array([list(SECTIONS_ZH).index(r.section) for r in rules], np.intp),
        }
        for col in ("title", "title_en", "requirement", "requirement_en"):
            codes, uniq = pd.factorize(pd.Index([getattr(r, col) for r in rules], dtype=object))
            self._rule_codes[col] = np.asarray(codes, dtype=np.intp)
            self._dtypes[col] = pd.CategoricalDtype(uniq)
        # "insufficient_data" findings: outcome and requirement (what to import) per rule
        self._missing_codes = missing_text_codes(rules, self._dtypes, OUTCOME_ORDER)
        self._cites = np.empty(len(rules), dtype=object)
        self._cites[:] = [tuple(str(c) for c in r.citations) for r in rules]

    def findings_frame(self, s: _Sites, arr: dict[str, NDArray[Any]]) -> pd.DataFrame:
        """The ``findings`` frame from the findings arrays ``arr`` (consumed)."""
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
        missing = arr.pop("missing", np.zeros(len(rpos), np.int8)).astype(np.intp)
        for col in ("section", "title", "title_en", "requirement", "requirement_en"):
            codes = self._rule_codes[col][rpos]
            # insufficient data: what to import; a rule for some project types: the type
            if col in self._missing_codes and missing.any():
                codes = np.where(missing > 0, self._missing_codes[col][missing, rpos], codes)
            data[col] = pd.Categorical.from_codes(codes, dtype=self._dtypes[col])
        data["citations"] = self._cites[rpos]
        data["feature_ids"] = arr["feature_ids"]
        for col in ("distance_m", "overlap_m2", "overlap_pct", "length_m", "length_pct"):
            data[col] = arr.pop(col).astype("float64", copy=False)
        for col in ("access_entries", "units", "band", "exceptions"):
            data[col] = arr.pop(col)
        return pd.DataFrame(data, copy=False)

    def site_arrays(
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
                lists, inv = unique_rows(mat)
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

    def sites_frame(
        self, s: _Sites, a: dict[str, NDArray[Any]], *, coded: bool = False
    ) -> gpd.GeoDataFrame:
        """The ``sites`` GeoDataFrame from the site arrays ``a`` (consumed).

        ``coded``: ``verdict``, ``verdict_zh`` and ``deciding_rules`` as categoricals
        (:meth:`zoning.check.result.CheckResult.coded_sites`), else as text.
        """
        pos = a["pos"]
        codes = a["severity"].astype(np.intp)
        data: dict[str, Any] = {"site_id": pd.Series(s.site_id[pos], dtype=object)}
        if s.source_row is not None:
            data["source_row"] = s.source_row[pos]
        verdict_zh = [VERDICT_ZH[v] for v in _VERDICT_OF_SEVERITY]
        if coded:  # (a few distinct texts: 10 ms less a chunk of 71 429 sites)
            data["verdict"] = pd.Categorical.from_codes(codes, _VERDICT_OF_SEVERITY)
            data["verdict_zh"] = pd.Categorical.from_codes(codes, verdict_zh)
            rule_codes, rule_texts = pd.factorize(a["deciding"])
            data["deciding_rules"] = pd.Categorical.from_codes(
                rule_codes, pd.Index(rule_texts, dtype=object)
            )
        else:
            data["verdict"] = _texts(_VERDICT_OF_SEVERITY, codes)
            data["verdict_zh"] = _texts(verdict_zh, codes)
            data["deciding_rules"] = a["deciding"]
        data["straddles_jurisdiction"] = a["straddle"]
        data["geometry_repaired"] = a["repaired"]
        data["area_m2"] = a["area_m2"]
        for kind in self.kinds:
            if f"dist_{kind}_m" in a:  # kinds whose distance was computed
                data[f"dist_{kind}_m"] = a[f"dist_{kind}_m"]
        return gpd.GeoDataFrame(data, geometry=a["geometry"], crs=_LONLAT)

    def relation_arrays(
        self, block: Any, rels: dict[str, LayerRelations], dist: frozenset[str]
    ) -> dict[str, NDArray[Any]]:
        """Relation rows per (site, kind, feature), plus an "outside" row naming the nearest."""
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
        if not parts["site"]:
            return no_relation_arrays()
        a = {k: np.concatenate(v) for k, v in parts.items()}
        # each kind's rows are sorted by site then feature: a stable sort on
        # (site, kind) gives (site, kind, feature)
        o = np.argsort(a["site"].astype(np.int64) * len(self.kinds) + a["kind"], kind="stable")
        return {k: v[o] for k, v in a.items()}

    def relations_frame(self, s: _Sites, a: dict[str, NDArray[Any]]) -> pd.DataFrame:
        """The ``relations`` frame from the relation arrays ``a`` (consumed)."""
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


def _texts(values: Sequence[str], codes: NDArray[np.intp]) -> pd.Series:
    """``values[codes]`` as pandas' text column, made by Arrow from the few ``values``.

    The same column pandas infers from an object array of the strings, five times
    faster (pandas checks each string of an object array).
    """
    import pyarrow as pa

    text = pd.Series(np.array(values[:1], dtype=object)).dtype  # what pandas makes of text
    if getattr(text, "storage", None) != "pyarrow" or not len(codes):  # pandas < 3, or empty
        return pd.Series(np.asarray(values, dtype=object)[codes])
    taken = pa.array(list(values), type=pa.large_string()).take(pa.array(codes))
    return pd.Series(pd.array(taken, dtype=text))


def no_relation_arrays() -> dict[str, NDArray[Any]]:
    """The relation arrays of a block without relation rows (``FrameBuilder.relation_arrays``)."""
    a = {k: np.zeros(0, dtype=np.intp) for k in ("site", "kind", "fcode", "ncode", "rel")}
    return a | {k: np.zeros(0) for k in ("ov", "pct", "dist", "len", "lpct")}


def join_parts(parts: list[dict[str, dict[str, Any]]], part: str) -> dict[str, NDArray[Any]]:
    """Concatenate one part of every chunk, releasing the chunk arrays as it goes."""
    if len(parts) == 1:  # one chunk (every small check): its arrays as they are
        return parts[0].pop(part)
    keys = list(parts[0][part])
    return {k: np.concatenate([p[part].pop(k) for p in parts]) for k in keys}


def one_tuples(ids: NDArray[Any]) -> NDArray[Any]:
    """Each id as a 1-tuple (object array): shared ``feature_ids`` of one-feature findings."""
    out = np.empty(len(ids), dtype=object)
    out[:] = [(x,) for x in ids.tolist()]
    return out
