"""Agreement checks: every engine must give ecozone's answers before any figure counts.

Check tasks (:class:`~benchmarks.harness.tasks.CheckAnswer`):

* the same (site, layer, feature) pairs for every polygon layer, and the same
  (site, well) pairs within 30 m;
* distances (well pairs, nearest red line) within :data:`DIST_TOL_M` (1 cm); a
  nearest distance is NaN in both or a number in both;
* overlap areas within :data:`AREA_REL` (0.01 %) of the larger value, or within
  :data:`AREA_ABS_M2` for slivers (numerical noise of the overlay, far below any
  reporting precision).

Coverage (:class:`~benchmarks.harness.tasks.CoverageAnswer`): the same number of
parcels; every parcel's residential and covered area within the same area
tolerance; the coverage share within 0.01 % of ecozone's.

:func:`compare_check` / :func:`compare_coverage` return a :class:`Comparison`;
``ok`` is False when anything differs, and ``first_sites`` shows the first
differing sites with both engines' answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from benchmarks.harness.tasks import CheckAnswer, CoverageAnswer, PipAnswer

__all__ = [
    "AREA_ABS_M2",
    "AREA_REL",
    "DIST_TOL_M",
    "Comparison",
    "compare_check",
    "compare_coverage",
    "compare_pip",
]

#: Distance tolerance (metres).
DIST_TOL_M = 0.01
#: Relative area tolerance (0.01 %).
AREA_REL = 1e-4
#: Absolute area tolerance for slivers (m²).
AREA_ABS_M2 = 1e-3


@dataclass
class Comparison:
    """The result of comparing one engine's answer with the reference's.

    Attributes
    ----------
    engine, reference
        The engines compared.
    problems
        One line per kind of difference, with counts.
    first_sites
        The first differing sites (up to ``limit``), one row per differing item,
        with both answers.
    stats
        Largest differences seen (even when within tolerance).
    """

    engine: str
    reference: str
    problems: list[str] = field(default_factory=list)
    first_sites: pd.DataFrame = field(default_factory=pd.DataFrame)
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the answers agree."""
        return not self.problems

    def describe(self) -> str:
        """A human-readable account (what differs, and the first differing sites)."""
        if self.ok:
            return f"{self.engine} agrees with {self.reference} ({_fmt_stats(self.stats)})"
        lines = [f"{self.engine} DISAGREES with {self.reference}:"]
        lines += [f"  - {p}" for p in self.problems]
        if len(self.first_sites):
            with pd.option_context("display.width", 160, "display.max_columns", 20):
                lines.append("  first differing sites:")
                lines += ["    " + s for s in self.first_sites.to_string(index=False).splitlines()]
        return "\n".join(lines)


def _fmt_stats(stats: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in stats.items()) or "no numbers compared"


def _area_ok(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    diff = np.abs(a - b)
    return both_nan | (diff <= np.maximum(AREA_REL * np.fmax(np.abs(a), np.abs(b)), AREA_ABS_M2))


def _dist_ok(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= DIST_TOL_M)


def compare_check(
    ref: CheckAnswer, other: CheckAnswer, *, reference: str, engine: str, limit: int = 10
) -> Comparison:
    """Compare two answers to a check task.

    Parameters
    ----------
    ref, other
        The reference (ecozone) answer and the engine's.
    reference, engine
        Their names, for the messages.
    limit
        Number of differing sites listed.

    Returns
    -------
    Comparison
    """
    out = Comparison(engine, reference)
    if ref.n_sites != other.n_sites:
        out.problems.append(f"site count {other.n_sites} ≠ {ref.n_sites}")
        return out
    a, b = ref.normalised(), other.normalised()
    rows: list[pd.DataFrame] = []
    # polygon-layer pairs
    m = a.pairs.merge(b.pairs, on=["site", "kind", "feature"], how="outer", indicator=True,
                      suffixes=("_ref", "_eng"))  # fmt: skip
    only_ref = m["_merge"] == "left_only"
    only_eng = m["_merge"] == "right_only"
    both = m["_merge"] == "both"
    if only_ref.any() or only_eng.any():
        out.problems.append(
            f"layer pairs: {int(only_ref.sum())} only in {reference}, "
            f"{int(only_eng.sum())} only in {engine} (of {len(a.pairs)})"
        )
    oa, ob = m["overlap_m2_ref"].to_numpy(), m["overlap_m2_eng"].to_numpy()
    bad_area = both.to_numpy() & ~_area_ok(oa, ob)
    if bad_area.any():
        out.problems.append(
            f"overlap areas: {int(bad_area.sum())} pairs differ by more than 0.01 %"
        )
    finite = both.to_numpy() & np.isfinite(oa) & np.isfinite(ob)
    if finite.any():
        rel = np.abs(oa - ob)[finite] / np.maximum(np.fmax(np.abs(oa), np.abs(ob))[finite], 1e-9)
        out.stats["max overlap rel diff"] = float(rel.max())
        out.stats["max overlap abs diff m2"] = float(np.abs(oa - ob)[finite].max())
    diff = m[only_ref | only_eng | pd.Series(bad_area)].copy()
    diff["what"] = np.where(
        diff["_merge"] == "left_only", f"only {reference}",
        np.where(diff["_merge"] == "right_only", f"only {engine}", "area"),
    )  # fmt: skip
    rows.append(diff[["site", "what", "kind", "feature", "overlap_m2_ref", "overlap_m2_eng"]])
    # wells
    w = a.wells.merge(b.wells, on=["site", "feature"], how="outer", indicator=True,
                      suffixes=("_ref", "_eng"))  # fmt: skip
    wr, we = w["_merge"] == "left_only", w["_merge"] == "right_only"
    if wr.any() or we.any():
        out.problems.append(
            f"well pairs within 30 m: {int(wr.sum())} only in {reference}, "
            f"{int(we.sum())} only in {engine} (of {len(a.wells)})"
        )
    wb = (w["_merge"] == "both").to_numpy()
    da, db = w["distance_m_ref"].to_numpy(), w["distance_m_eng"].to_numpy()
    bad_w = wb & ~_dist_ok(da, db)
    if bad_w.any():
        out.problems.append(f"well distances: {int(bad_w.sum())} pairs differ by more than 1 cm")
    if wb.any():
        out.stats["max well dist diff m"] = float(np.abs(da - db)[wb].max())
    wd = w[wr | we | pd.Series(bad_w)].copy()
    wd["what"] = np.where(wd["_merge"] == "both", "well distance", "well pair")
    rows.append(
        wd.rename(columns={"distance_m_ref": "value_ref", "distance_m_eng": "value_eng"})[
            ["site", "what", "feature", "value_ref", "value_eng"]
        ].assign(kind="well")
    )
    # nearest red line
    na, nb = a.nearest_m, b.nearest_m
    bad_n = ~_dist_ok(na, nb)
    if bad_n.any():
        out.problems.append(
            f"nearest red-line distance: {int(bad_n.sum())} sites differ by more than 1 cm "
            "(or NaN in one engine only)"
        )
    both_n = np.isfinite(na) & np.isfinite(nb)
    if both_n.any():
        out.stats["max nearest diff m"] = float(np.abs(na - nb)[both_n].max())
    s = np.flatnonzero(bad_n)
    rows.append(
        pd.DataFrame(
            {"site": s, "what": "nearest red line", "kind": "redline", "value_ref": na[s],
             "value_eng": nb[s]}
        )
    )  # fmt: skip
    if out.problems:
        allrows = pd.concat([r for r in rows if len(r)], ignore_index=True)
        first = np.sort(allrows["site"].unique())[:limit]
        out.first_sites = (
            allrows[allrows["site"].isin(first)]
            .sort_values(["site", "what"])
            .reset_index(drop=True)
        )
    return out


def compare_coverage(
    ref: CoverageAnswer, other: CoverageAnswer, *, reference: str, engine: str, limit: int = 10
) -> Comparison:
    """Compare two answers to the coverage task (per parcel, then the share).

    Parameters
    ----------
    ref, other
        The reference (ecozone) answer and the engine's.
    reference, engine
        Their names, for the messages.
    limit
        Number of differing parcels listed.

    Returns
    -------
    Comparison
    """
    out = Comparison(engine, reference)
    if len(ref.residential_m2) != len(other.residential_m2):
        out.problems.append(f"parcel count {len(other.residential_m2)} ≠ {len(ref.residential_m2)}")
        return out
    ra, rb = np.asarray(ref.residential_m2), np.asarray(other.residential_m2)
    ca, cb = np.asarray(ref.covered_m2), np.asarray(other.covered_m2)
    bad_r = ~_area_ok(ra, rb)
    bad_c = ~_area_ok(ca, cb)
    if bad_r.any():
        out.problems.append(
            f"residential areas: {int(bad_r.sum())} parcels differ by more than 0.01 %"
        )
    if bad_c.any():
        out.problems.append(f"covered areas: {int(bad_c.sum())} parcels differ by more than 0.01 %")
    out.stats["max covered abs diff m2"] = float(np.abs(ca - cb).max()) if len(ca) else 0.0
    pa, pb = ref.coverage_pct, other.coverage_pct
    out.stats["coverage % ref"] = pa
    out.stats["coverage % diff"] = pb - pa
    if not abs(pa - pb) <= AREA_REL * abs(pa):
        out.problems.append(f"coverage {pb:.6f} % ≠ {pa:.6f} % (more than 0.01 % apart)")
    if out.problems:
        s = np.flatnonzero(bad_r | bad_c)[:limit]
        out.first_sites = pd.DataFrame(
            {"parcel": s, "residential_ref": ra[s], "residential_eng": rb[s],
             "covered_ref": ca[s], "covered_eng": cb[s]}
        )  # fmt: skip
    return out


def compare_pip(ref: PipAnswer, other: PipAnswer, *, reference: str, engine: str,
                limit: int = 10) -> Comparison:  # fmt: skip
    """Compare two answers to the ``pip`` task: the same pairs exactly.

    Parameters
    ----------
    ref, other
        The reference (ecozone) answer and the engine's.
    reference, engine
        Their names, for the messages.
    limit
        Number of differing points listed.

    Returns
    -------
    Comparison
    """
    a, b = ref.normalised(), other.normalised()
    comp = Comparison(engine=engine, reference=reference)
    comp.stats = {"pairs": float(len(a.point)), "pairs_other": float(len(b.point))}
    if a.n_sites != b.n_sites:
        comp.problems.append(f"{a.n_sites} points in {reference}, {b.n_sites} in {engine}")
    ka = pd.MultiIndex.from_arrays([a.point, a.polygon])
    kb = pd.MultiIndex.from_arrays([b.point, b.polygon])
    only_a, only_b = ka.difference(kb), kb.difference(ka)
    if len(only_a) or len(only_b):
        comp.problems.append(
            f"{len(only_a)} pairs only in {reference}, {len(only_b)} only in {engine}"
        )
        rows = [(p, g, reference) for p, g in only_a[:limit]]
        rows += [(p, g, engine) for p, g in only_b[:limit]]
        comp.first_sites = pd.DataFrame(rows, columns=["point", "polygon", "only_in"])
    return comp
