"""The result of a site check: :class:`CheckResult`, its columns and its dict form.

The engine (:func:`zoning.check.engine.check_sites`, :class:`zoning.check.engine.SiteChecker`)
returns a :class:`CheckResult`:

- ``sites``: one row per checked site: ``site_id``, ``source_row`` (when the input
  has it), ``verdict`` (one of :data:`VERDICTS`, most severe first: "prohibited" |
  "restricted" | "insufficient_data" | "needs_review" | "requirements" | "compliant"),
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
- ``errors``: the sites that could not be checked (``site_id, source_row, reason,
  status``; status "outside_jurisdiction" for a site outside the pack's jurisdiction,
  else "invalid_input").

Column types: ``site_id`` is text (object dtype), the repeated text columns (``kind``,
``feature_id``, ``feature_name``, ``relation``, ``rule_id``, ``outcome``, ``section``,
``title``, ``requirement`` ...) are pandas categoricals (a million sites stay in
memory), ``feature_ids`` and ``citations`` are tuples (shared between rows: do not
mutate), ``access_entries`` / ``units`` tuples of dicts or None, ``band`` a shapely
geometry or None.

A check of at most :data:`zoning.check.engine.SMALL_RESULT` input sites returns a lazy
result (a private subclass of :class:`CheckResult`; ``isinstance`` holds): it keeps
the engine's arrays and builds its frames (``sites``, ``relations``, ``findings``,
``errors``) only when they are first read, exactly as a batch builds them;
:meth:`CheckResult.site_to_dict` and :func:`zoning.report.build.build_report` read such a
result straight from the arrays. It pickles and copies as a plain
:class:`CheckResult`. This module does not import :mod:`zoning.check.engine` (which imports
it): the lazy result calls back the checker that built it.

``CheckResult.site_to_dict(site_id)`` — JSON-safe dict of one site, for reports::

    {
      "site_id": str, "source_row": int | None,
      "geometry": GeoJSON geometry (lon/lat), "geometry_type": str, "area_m2": float,
      "verdict": str, "verdict_zh": str, "deciding_rules": [rule_id, ...],
      "distances_m": {kind: float | None},
      "relations": [{"kind", "feature_id", "feature_name", "relation", "relation_zh",
                     "overlap_m2", "overlap_pct", "distance_m", "length_m",
                     "length_pct"}, ...],
      "findings": [{"rule_id", "outcome", "outcome_zh", "section", "section_zh",
                    "title", "title_en", "requirement", "requirement_en",
                    "citations": [str], "feature_ids": [str], "distance_m",
                    "overlap_m2", "overlap_pct",
                    "access_entries": [{"feature_id", "unit_code", "category",
                                        "category_zh", "dimension", "dimension_zh",
                                        "effect", "effect_zh", "text", "text_en",
                                        "conditions", "judgement", "judgement_zh",
                                        "reason"}] | None,
                    "units": [{"feature_id", "unit_code", "category", "category_zh",
                               "name"}] | None,
                    "band": GeoJSON geometry | None,
                    "exceptions": [{"rule_id", "id", "title", "title_en",
                                    "requirement", "requirement_en", "outcome_from",
                                    "outcome", "citations"}]}, ...],
      "notes": [{"kind", "text", "text_en"}, ...]   (zoning.check.notes: assumption,
               repair, demo_data, missing_data, jurisdiction)
    }

Numbers are plain floats (NaN → None). ``CheckResult.to_dict()`` returns
``{"stamp": ..., "sites": [site dicts], "errors": [{"site_id", "source_row",
"reason"}]}``.

Contents
--------
- :class:`CheckResult` — the frames and the stamp, with :meth:`~CheckResult.counts`,
  :meth:`~CheckResult.site_to_dict` and :meth:`~CheckResult.to_dict`;
- :data:`VERDICTS` (most severe first) and :data:`VERDICT_ZH` (Chinese labels).

See Also
--------
zoning.check.engine : the engine that builds the result.
zoning.report.build : compliance reports from one site of a result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.errors import InputFormatError
from zoning.check.notes import missing_hint, site_notes, synthetic_kinds
from zoning.check.relations import RELATIONS
from zoning.check.runs import _runs
from zoning.exceptions import exception_notes
from zoning.outcomes import OUTCOMES_ZH, SECTIONS_ZH, VERDICT_LABELS, VERDICTS_ZH
from zoning.project import Project

__all__ = ["VERDICTS", "VERDICT_ZH", "CheckResult", "rows_from_frames"]

#: Verdicts, most severe first.
#: "prohibited"/"restricted" win whenever a rule finds them; a site is "requirements" or
#: "compliant" only when every rule had data covering the whole site (else at best
#: "insufficient_data") and every applicable access-list entry was checkable (else at
#: best "needs_review"). See docs/rules.md "Verdict levels".
VERDICTS: tuple[str, ...] = tuple(VERDICT_LABELS)
#: Chinese verdict labels (as in EIA compliance tables; zoning.outcomes, one home).
VERDICT_ZH: dict[str, str] = VERDICTS_ZH
#: Verdict colours (edge, fill): the one definition maps, spreadsheets and QGIS styles use.
VERDICT_COLOURS: dict[str, tuple[str, str]] = {
    "prohibited": ("#7f0000", "#d7191c"),
    "restricted": ("#a63603", "#fd8d3c"),
    "insufficient_data": ("#54278f", "#9e9ac8"),
    "needs_review": ("#525252", "#bdbdbd"),
    "requirements": ("#08519c", "#4292c6"),
    "compliant": ("#006d2c", "#31a354"),
}
#: Verdict of each severity (zoning.check.engine.OUTCOME_ORDER of the most severe finding).
_VERDICT_OF_SEVERITY = (
    "compliant", "requirements", "needs_review", "insufficient_data", "restricted", "prohibited",
)  # fmt: skip
#: Finding outcome of each code (the position in zoning.check.engine.OUTCOME_ORDER).
_OUTCOME_OF_CODE = (
    "information", "requirements", "needs_review", "insufficient_data", "restricted", "prohibited",
)  # fmt: skip
_RELATION_ZH = {
    "inside": "位于其内",
    "overlaps": "部分重叠",
    "within_distance": "在距离范围内",
    "outside": "位于其外",
}
_LONLAT = "EPSG:4326"


@dataclass
class _Sites:
    """Input sites normalised: lon/lat geometry, ids, profiles, exits, errors.

    Built by :func:`zoning.check.sites.normalise_sites`; a result keeps it for the ids, source
    rows and errors of its sites.
    """

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
    #: error status of a site, when not "invalid_input" (e.g. "outside_jurisdiction")
    codes: dict[int, str] = field(default_factory=dict)
    #: geometries repaired with make_valid (None: none)
    repaired: NDArray[np.bool_] | None = None
    #: the input's CRS and lon/lat system (for the "assumption" note)
    input_crs: str | None = None
    coords: str = "wgs84"
    #: lon/lat of every site when all are single 2-D points, read once
    #: (:attr:`geo.io.lonlat.LonLat.xy`); None: not all points, or not read
    xy: NDArray[np.float64] | None = None
    #: per site: covered by the pack's jurisdiction, when every site is a point and
    #: :func:`zoning.check.evidence.mark_outside` tested it (None: not tested so)
    inside: NDArray[np.bool_] | None = None


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
    "citations", "feature_ids", "distance_m", "overlap_m2", "overlap_pct", "length_m",
    "length_pct", "access_entries", "units", "band", "exceptions",
)  # fmt: skip
_RELATION_KEYS = (
    "kind", "feature_id", "feature_name", "relation", "overlap_m2", "overlap_pct", "distance_m",
    "length_m", "length_pct",
)  # fmt: skip


def rows_from_frames(
    sites: pd.DataFrame, relations: pd.DataFrame, findings: pd.DataFrame, site_id: Any
) -> dict[str, Any] | None:
    """One site of result frames as plain Python rows (``None``: no such site).

    The frame half of :meth:`CheckResult._site_rows`; ``site_id`` is compared as is
    with the ``site_id`` columns. Missing columns read as ``None`` (the report accepts
    any object with these frames).

    Parameters
    ----------
    sites, relations, findings
        The frames of a :class:`CheckResult` (or of any object with such frames).
    site_id
        The site to take.

    Returns
    -------
    dict or None
        The site's row, its ``relations`` and ``findings`` as lists of dicts.
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
        "straddle": bool(row.get("straddles_jurisdiction", False)),
        "repaired": bool(row.get("geometry_repaired", False)),
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
        default_factory=lambda: pd.DataFrame(columns=["site_id", "source_row", "reason", "status"])
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
        and :func:`zoning.report.build.build_report`; a lazy result (a few sites, or a
        batch chunk) answers it from the engine's arrays without building the frames.
        """
        return rows_from_frames(self.sites, self.relations, self.findings, site_id)

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
                "length_m": _num(r["length_m"]),
                "length_pct": _num(r["length_pct"]),
            }
            for r in rows["relations"]
        ]
        findings = []
        for f in rows["findings"]:
            findings.append(
                {
                    "rule_id": str(f["rule_id"]),
                    "outcome": str(f["outcome"]),
                    "outcome_zh": OUTCOMES_ZH[str(f["outcome"])],
                    "section": str(f["section"]),
                    "section_zh": SECTIONS_ZH.get(str(f["section"]), str(f["section"])),
                    "title": str(f["title"]),
                    "title_en": str(f["title_en"]),
                    "requirement": str(f["requirement"]),
                    "requirement_en": str(f["requirement_en"]),
                    "citations": [str(c) for c in f["citations"]],
                    "feature_ids": [str(x) for x in f["feature_ids"]],
                    "distance_m": _num(f["distance_m"]),
                    "overlap_m2": _num(f["overlap_m2"]),
                    "overlap_pct": _num(f["overlap_pct"]),
                    "length_m": _num(f["length_m"]),
                    "length_pct": _num(f["length_pct"]),
                    "access_entries": None
                    if f["access_entries"] is None
                    else [dict(e) for e in f["access_entries"]],
                    "units": None if f["units"] is None else [dict(u) for u in f["units"]],
                    "band": _geojson(f["band"]),
                    "exceptions": [dict(e) for e in f["exceptions"] or ()],
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
            "notes": self._notes(rows, findings),
        }

    def _notes(self, rows: dict[str, Any], findings: list[dict[str, Any]]) -> list[dict[str, str]]:
        """The notes of one site (:mod:`zoning.check.notes`): assumptions, repairs, data used."""
        kinds = self.stamp.get("rule_layers") or {}
        deciding = [r for r in str(rows["deciding_rules"]).split(";") if r]
        notes = site_notes(
            self.stamp,
            deciding_kinds=[k for r in deciding for k in kinds.get(r, ())],
            missing_kinds=[
                k for f in findings if f["outcome"] == "insufficient_data"
                for k in kinds.get(f["rule_id"], ())
            ],
            straddle=bool(rows.get("straddle")),
            repaired=bool(rows.get("repaired")),
        )  # fmt: skip
        # the exceptions applied (rule outcome changed by a declared activity, #11 §3)
        return [*notes, *exception_notes(findings)]

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

    def coded_sites(self) -> gpd.GeoDataFrame:
        """``sites`` with ``verdict``, ``verdict_zh`` and ``deciding_rules`` as categoricals.

        The same rows and values: a batch's verdict rows hold (and GeoParquet writes)
        each of the few distinct texts once. Here ``sites`` itself, whatever its types.
        """
        return self.sites

    def site_xy(self) -> NDArray[np.float64] | None:
        """Lon/lat of the ``sites`` rows, shape (n, 2), when the check read them once.

        Known when every input site was a single 2-D point (see
        :attr:`geo.io.lonlat.LonLat.xy`) and ``sites`` is the check's own frame;
        ``None`` otherwise (the geometries are the truth).
        """
        return None

    def finding_keys(self) -> FindingKeys:
        """What the batch columns read of each finding (see :class:`FindingKeys`)."""
        f = self.findings
        site_ids = self.sites["site_id"].to_numpy()
        rule = f["rule_id"]
        return FindingKeys(
            site=site_positions(site_ids, f["site_id"].to_numpy()),
            # categorical: its codes as they are (astype(str) costs 1.4 s per 1 M rows)
            rule=rule.array if isinstance(rule.dtype, pd.CategoricalDtype)
            else pd.Categorical(rule.astype(str).to_numpy()),
            insufficient=_equals(f["outcome"], "insufficient_data") if "outcome" in f.columns
            else np.zeros(len(f), dtype=bool),
            exceptions=f["exceptions"].to_numpy(dtype=object)
            if "exceptions" in f.columns else None,
        )  # fmt: skip


@dataclass(frozen=True)
class FindingKeys:
    """Per finding: what a batch's verdict rows read of it (not the findings frame).

    Attributes
    ----------
    site
        The row of its site in the result's ``sites`` (-1: none).
    rule
        Its rule id.
    insufficient
        Whether its outcome is ``insufficient_data``.
    exceptions
        The rule exceptions it applied (``None`` where none; ``None`` throughout: no
        such column).
    """

    site: NDArray[np.intp]
    rule: pd.Categorical
    insufficient: NDArray[np.bool_]
    exceptions: NDArray[Any] | None


def verdict_columns(
    result: CheckResult, sites: pd.DataFrame | None = None
) -> tuple[pd.Categorical, pd.Categorical, pd.Categorical]:
    """The ``rules``, ``demo_data`` and ``notes`` columns of a batch's verdict rows.

    ``rules`` joins the ids of the rules with a finding for the site, in finding order
    (one text per distinct list, :func:`zoning.check.grouping.join_per_group_categorical`);
    ``demo_data`` and ``notes`` are :func:`note_columns`. All three are categoricals
    over the result's ``sites`` rows: a few dozen long texts over a million rows are
    held, and written, once each. ``sites``: those rows when the caller has them
    (:meth:`CheckResult.coded_sites`), else ``result.sites``.
    """
    from zoning.check.grouping import join_per_group_categorical

    sites = result.sites if sites is None else sites
    keys = result.finding_keys()
    rules = join_per_group_categorical(keys.site, keys.rule, len(sites))
    demo, notes = note_columns(result, keys, sites)
    return rules, demo, notes


def note_columns(
    result: CheckResult, keys: FindingKeys | None = None, sites: pd.DataFrame | None = None
) -> tuple[pd.Categorical, pd.Categorical]:
    """Per checked site: the synthetic layers consulted, and its own notes, as text.

    For batch rows: ``demo_data`` (";"-joined synthetic layer kinds the check read;
    "" when none) and ``notes`` (the notes particular to the site — jurisdiction,
    missing data, repair — as "kind: text" joined by " | "; the notes every site
    shares are in the stamp). Sites with the same notes share one text (no loop over
    sites), and both columns are categoricals: one copy of each distinct text.
    ``keys``: the result's :meth:`CheckResult.finding_keys`, and ``sites`` its sites
    rows, when the caller has them.
    """
    sites = result.sites if sites is None else sites
    n = len(sites)
    stamp = result.stamp
    demo_text = pd.Index([";".join(synthetic_kinds(stamp))], dtype=object)
    demo = pd.Categorical.from_codes(np.zeros(n, dtype=np.intp), categories=demo_text)
    keys = result.finding_keys() if keys is None else keys
    mask = np.zeros(n, dtype=np.int64)
    rule_ids: list[str] = []
    ins = keys.insufficient
    if ins.any():
        # the rules present, in category order (remove_unused_categories, without a sort)
        codes = np.asarray(keys.rule.codes)[ins]
        used = np.flatnonzero(np.bincount(codes, minlength=len(keys.rule.categories)))
        rule_ids = [str(keys.rule.categories[i]) for i in used.tolist()]
        rank = np.zeros(len(keys.rule.categories), dtype=np.int64)
        rank[used] = np.arange(len(used))
        bits = np.left_shift(np.int64(1), rank % 63)[codes]  # (a bit per rule, by code)
        idx = keys.site[ins]
        same = idx[1:] == idx[:-1]
        if (len(used) <= 63 and idx[0] >= 0 and (idx[1:] >= idx[:-1]).all()
                and (codes[1:][same] > codes[:-1][same]).all()):  # fmt: skip
            # by site, each rule once (a check's findings): a site's bits are distinct,
            # and their sum is their union (a third of the time of bitwise_or.at)
            starts, _ = _runs(idx)
            mask[idx[starts]] = np.add.reduceat(bits, starts)
        else:
            np.bitwise_or.at(mask, idx[idx >= 0], bits[idx >= 0])
    straddle = _bool_column(sites, "straddles_jurisdiction")
    repaired = _bool_column(sites, "geometry_repaired")
    # one key per (mask, straddle, repaired): the mask's code and the two flags
    m_code, m_uniq = pd.factorize(mask)
    codes, k_uniq = pd.factorize(m_code.astype(np.int64) * 4 + straddle * 2 + repaired)
    uniq = [(m_uniq[k >> 2], bool(k & 2), bool(k & 1)) for k in k_uniq.tolist()]
    kinds = stamp.get("rule_layers") or {}
    texts = []
    for m, st, rp in uniq:
        missing = [k for b, r in enumerate(rule_ids) if (int(m) >> (b % 63)) & 1
                   for k in kinds.get(r, ())]  # fmt: skip
        notes = site_notes(
            {"pack": stamp.get("pack")}, deciding_kinds=(), missing_kinds=missing,
            straddle=bool(st), repaired=bool(rp),
        )  # fmt: skip
        texts.append(" | ".join(f"{x['kind']}: {x['text']}" for x in notes))
    # one category per distinct text (distinct keys can give one text)
    text_codes, text_uniq = pd.factorize(np.asarray(texts, dtype=object))
    notes_col = pd.Categorical.from_codes(
        text_codes[codes] if n else np.zeros(0, dtype=np.intp),
        categories=pd.Index(text_uniq if n else [""], dtype=object),
    )
    if n and keys.exceptions is not None:  # rule exceptions applied (few rows)
        ex = keys.exceptions
        hit = np.flatnonzero(~pd.isna(ex))  # None where no exception applied
        if len(hit):
            idx = keys.site[hit]
            edited = np.asarray(notes_col, dtype=object)
            for i, row in zip(idx.tolist(), hit.tolist(), strict=True):
                if i < 0:
                    continue
                for note in exception_notes([{"exceptions": ex[row]}]):
                    text = f"{note['kind']}: {note['text']}"
                    edited[i] = f"{edited[i]} | {text}" if edited[i] else text
            notes_col = pd.Categorical(edited)
    return demo, notes_col


def _equals(col: pd.Series, value: str) -> NDArray[np.bool_]:
    """``col.astype(str) == value``, on the codes when ``col`` is categorical."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories
        hit = np.flatnonzero(np.asarray(cats.astype(str)) == value)
        return np.isin(col.cat.codes.to_numpy(), hit)
    return col.astype(str).to_numpy() == value


def site_positions(site_ids: NDArray[Any], wanted: NDArray[Any]) -> NDArray[np.intp]:
    """Position of each of ``wanted`` in ``site_ids`` (unique; -1: absent).

    ``wanted`` is usually a findings column, grouped by site: each run of equal ids is
    looked up once (:func:`_site_index`) and its answer repeated.

    Parameters
    ----------
    site_ids
        The result's site ids (unique).
    wanted
        Ids to find.

    Returns
    -------
    numpy.ndarray
        One position per ``wanted`` entry.
    """
    if len(wanted) == 0:
        return np.zeros(0, dtype=np.intp)
    heads, lengths = _runs(wanted)
    return np.repeat(_site_index(site_ids, wanted[heads]), lengths)


def _site_index(site_ids: NDArray[Any], wanted: NDArray[Any]) -> NDArray[np.intp]:
    """Position of each of ``wanted`` in ``site_ids`` (unique; -1: absent).

    An engine result's frames hold the same id objects (references to the input's
    strings): matched by identity first (integers, no string hashing), the rest by
    value (``pandas.Index.get_indexer``).
    """
    n = len(site_ids)
    if n == 0 or len(wanted) == 0:
        return np.full(len(wanted), -1, dtype=np.intp)
    ident = np.frompyfunc(id, 1, 1)
    sid = ident(site_ids).astype(np.int64)
    wid = ident(wanted).astype(np.int64)
    order = np.argsort(sid, kind="stable")
    sorted_id = sid[order]
    if (sorted_id[1:] == sorted_id[:-1]).any():  # one object on several rows: by value
        return pd.Index(site_ids).get_indexer(wanted)
    at = np.minimum(np.searchsorted(sorted_id, wid), n - 1)
    found = sorted_id[at] == wid
    out = np.where(found, order[at], -1).astype(np.intp)
    if not found.all():
        out[~found] = pd.Index(site_ids).get_indexer(wanted[~found])
    return out


def _bool_column(frame: pd.DataFrame, col: str) -> NDArray[np.bool_]:
    if col not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[col].fillna(False).astype(bool).to_numpy()


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
            "status": [s.codes.get(i, "invalid_input") for i in err_idx],
        }
    )  # fmt: skip


def _lazy_frame(name: str) -> Any:
    """A property of :class:`_LazyResult`: the frame ``name``, built on first read."""

    def fget(self: _LazyResult) -> Any:
        return self._frame(name)

    def fset(self: _LazyResult, value: Any) -> None:
        self._frames[name] = value
        self._replaced.add(name)

    return property(fget, fset, doc=f"``{name}`` (built when first read)")


class _LazyResult(CheckResult):
    """A :class:`CheckResult` whose frames are built on first use.

    A single-site check spent most of its time building pandas frames (categoricals,
    a GeoDataFrame) that a report never reads: :meth:`_site_rows` answers from the
    engine's arrays, and ``sites`` / ``relations`` / ``findings`` / ``errors`` are
    built, exactly as the eager path builds them, when first read (and can be
    replaced, as a dataclass field can). A batch chunk (a check without relations)
    reads its findings through :meth:`finding_keys`, from the arrays too. Pickles
    and copies as a plain :class:`CheckResult`; ``dataclasses.replace`` gives a
    plain one too.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # _LazyResult(builder, s, arrays, stamp) is lazy; the dataclass signature
        # (dataclasses.replace, copies) gives a plain CheckResult. The builder is a
        # zoning.check.frames.FrameBuilder (no import of it here: it imports this module).
        if args and not kwargs and callable(getattr(args[0], "sites_frame", None)):
            return super().__new__(cls)
        return CheckResult(*args, **kwargs)

    def __init__(
        self,
        checker: Any,  # a zoning.check.frames.FrameBuilder (the SiteChecker that ran)
        s: _Sites,
        arrays: dict[str, dict[str, NDArray[Any]]],
        stamp: dict[str, Any],
    ) -> None:
        self._checker = checker
        self._s = s
        self._arrays = arrays
        self._frames: dict[str, Any] = {}
        self._replaced: set[str] = set()  # frames set by the caller (they are the truth)
        self.stamp = stamp

    def _frame(self, name: str) -> Any:
        got = self._frames.get(name)
        if got is None:
            ch, a = self._checker, self._arrays
            if name == "sites":
                got = ch.sites_frame(self._s, dict(a["sites"]))
            elif name == "relations":
                got = ch.relations_frame(self._s, dict(a["relations"]))
            elif name == "findings":
                got = ch.findings_frame(self._s, dict(a["findings"]))
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

    def coded_sites(self) -> gpd.GeoDataFrame:
        """:meth:`CheckResult.coded_sites` from the engine's arrays (``sites`` if built)."""
        if "sites" in self._frames:
            return self.sites
        return self._checker.sites_frame(self._s, dict(self._arrays["sites"]), coded=True)

    def site_xy(self) -> NDArray[np.float64] | None:
        """Lon/lat of the ``sites`` rows as read by the check (:meth:`CheckResult.site_xy`)."""
        if "sites" in self._replaced or self._s.xy is None:
            return None
        return self._s.xy[self._arrays["sites"]["pos"]]

    def finding_keys(self) -> FindingKeys:
        """What the batch columns read of each finding, from the engine's arrays."""
        if self._replaced & {"sites", "findings"}:
            return super().finding_keys()
        sa, fa = self._arrays["sites"], self._arrays["findings"]
        row = np.full(len(self._s.geoms), -1, dtype=np.intp)  # input position → row
        row[sa["pos"]] = np.arange(len(sa["pos"]))
        return FindingKeys(
            site=row[fa["site"]],
            rule=pd.Categorical.from_codes(
                fa["rule"].astype(np.intp), dtype=self._checker._dtypes["rule_id"]
            ),
            insufficient=fa["outcome"] == _OUTCOME_OF_CODE.index("insufficient_data"),
            # no exception applied in the block: not gathered (SortedFindings.left_out)
            exceptions=None
            if hasattr(fa, "left_out") and fa.left_out("exceptions")
            else fa["exceptions"],
        )

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
                    "length_m": float(rel["len"][j]),
                    "length_pct": float(rel["lpct"][j]),
                }
            )
        fnd = a["findings"]
        findings = []
        for j in np.flatnonzero(fnd["site"] == p).tolist():
            rule = ch.rules[int(fnd["rule"][j])]
            missing = int(fnd["missing"][j]) if "missing" in fnd else 0
            hint = missing_hint(rule, missing)
            findings.append(
                {
                    "rule_id": rule.id,
                    # the finding's own outcome (an exception or access list may change it)
                    "outcome": _OUTCOME_OF_CODE[int(fnd["outcome"][j])],
                    "section": rule.section,
                    "title": rule.title,
                    "title_en": rule.title_en,
                    "requirement": hint[0] if missing else rule.requirement,
                    "requirement_en": hint[1] if missing else rule.requirement_en,
                    "citations": ch._cites[int(fnd["rule"][j])],
                    "feature_ids": fnd["feature_ids"][j],
                    "distance_m": float(fnd["distance_m"][j]),
                    "overlap_m2": float(fnd["overlap_m2"][j]),
                    "overlap_pct": float(fnd["overlap_pct"][j]),
                    "length_m": float(fnd["length_m"][j]),
                    "length_pct": float(fnd["length_pct"][j]),
                    "access_entries": fnd["access_entries"][j],
                    "units": fnd["units"][j],
                    "band": fnd["band"][j],
                    "exceptions": fnd["exceptions"][j],
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
            "distances": {k: float(sa[f"dist_{k}_m"][i]) for k in kinds if f"dist_{k}_m" in sa},
            "relations": relations,
            "findings": findings,
            "straddle": bool(sa["straddle"][i]) if "straddle" in sa else False,
            "repaired": bool(sa["repaired"][i]) if "repaired" in sa else False,
        }
