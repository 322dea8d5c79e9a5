"""Batch site checks: a file of sites in, one verdict row per site out.

:func:`run_batch` is what ``ecozone check SITES --out RESULT`` runs: it reads the
sites with :func:`geo.io.read_vector` (any format it knows; rejected rows are listed
in ``gdf.attrs["issues"]``), checks them all with :class:`zoning.check.SiteChecker`
(vectorised, in chunks), and writes

- ``out`` (.gpkg / .geojson / .csv / anything :func:`geo.io.write_vector` knows): one
  row per checked site with ``site_id``, ``source_row``, ``verdict``, ``verdict_zh``,
  ``deciding_rules``, ``rules`` (every rule that fired, ";"-joined), ``demo_data``
  (the synthetic layers the check consulted, ";"-joined; empty: none), ``notes``
  (the site's notes, "kind: text" joined by " | "), ``straddles_jurisdiction``,
  ``geometry_repaired``, ``area_m2``,
  ``dist_<kind>_m`` (nearest red line, well, water-source zone, park, ... in metres)
  and the input's own attribute columns, geometry in EPSG:4326;
- ``errors_out`` (default ``<out stem>.errors.csv``, UTF-8 with BOM so that Excel/WPS
  shows the Chinese): one row per input row that could not be checked, with
  ``source_row``, ``site_id``, ``stage`` ("read" or "check"), ``status``
  ("outside_jurisdiction" for a site outside the pack's jurisdiction, else
  "invalid_input") and ``reason``. The file
  is always written (header only when there is no error), so a stale one never
  survives a rerun.

Bad rows never stop the batch: the rest are processed and counted.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from geo.errors import (
    GeometryRepairedWarning,
    InputFormatError,
    RowRejectedWarning,
)
from geo.io import read_vector, write_vector
from geo.io.spreadsheet import write_csv
from layers.kinds import canonical_kind
from zoning._grouping import join_per_group
from zoning._notes import synthetic_kinds
from zoning.pack import Pack, load_pack
from zoning.project import Project
from zoning.result import VERDICTS, CheckResult, note_columns
from zoning.result_tables import write_results_xlsx

__all__ = ["BatchSummary", "load_layers", "run_batch"]

log = logging.getLogger(__name__)

_OWN_COLUMNS = (
    "site_id", "source_row", "verdict", "verdict_zh", "deciding_rules", "rules", "demo_data",
    "notes",
)  # fmt: skip


@dataclass
class BatchSummary:
    """What a batch did.

    Attributes
    ----------
    total : int
        Input rows (checked + errors).
    checked : int
        Sites checked and written to ``out``.
    errors : int
        Rows rejected (while reading or checking), listed in ``errors_out``.
    by_verdict : dict
        Verdict → number of sites (every verdict listed).
    repaired : int
        Rows whose geometry the reader repaired (still checked).
    out, errors_out : pathlib.Path
        The files written.
    elapsed_s : float
        Wall time.
    stamp : dict
        The check stamp (versions, checksums).
    sites : geopandas.GeoDataFrame
        The verdict rows as written to ``out`` (for a map of the results).
    """

    total: int
    checked: int
    errors: int
    by_verdict: dict[str, int]
    repaired: int
    out: Path
    errors_out: Path
    elapsed_s: float
    stamp: dict[str, Any] = field(repr=False, default_factory=dict)
    sites: Any = field(repr=False, default=None, compare=False)
    outside_jurisdiction: int = 0

    @property
    def demo_data(self) -> list[str]:
        """The synthetic (demonstration) layer kinds the check consulted."""
        return synthetic_kinds(self.stamp)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary."""
        return {
            "total": self.total,
            "checked": self.checked,
            "errors": self.errors,
            "outside_jurisdiction": self.outside_jurisdiction,
            "demo_data": self.demo_data,
            "by_verdict": dict(self.by_verdict),
            "repaired": self.repaired,
            "out": str(self.out),
            "errors_out": str(self.errors_out),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def load_layers(store_or_layers: Any, kinds: set[str] | list[str]) -> dict[str, Any]:
    """Return the layers of the given kinds, from a store, a store path or a mapping.

    Parameters
    ----------
    store_or_layers
        A :class:`layers.LayerStore` (anything with ``get_kind``), the path of a
        GeoPackage store, or a mapping kind → Layer / GeoDataFrame.
    kinds
        Kinds wanted; kinds the source does not hold are left out (the checker then
        reports them).

    Returns
    -------
    dict
        Kind → layer.
    """
    if isinstance(store_or_layers, Mapping):
        given = {canonical_kind(k): v for k, v in store_or_layers.items()}  # old kind names
        return {k: given[k] for k in kinds if k in given}
    if isinstance(store_or_layers, str | Path):
        from layers.store import LayerStore  # a path names an existing store

        with LayerStore(store_or_layers, create=False) as store:
            return load_layers(store, kinds)
    if not hasattr(store_or_layers, "get_kind"):
        msg = (
            "`store_or_layers` must be a LayerStore, a store path or a mapping "
            f"kind → layer, got {type(store_or_layers).__name__}"
        )
        raise InputFormatError(msg)
    from zoning.workflow import store_layers  # one way to read a pack's layers

    return store_layers(store_or_layers, sorted(kinds))


def _output_frame(result: CheckResult, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Verdict rows plus the input's attributes (ours win on a name clash)."""
    out = pd.DataFrame(result.sites.drop(columns="geometry"))
    f = result.findings
    codes = pd.Index(out["site_id"].to_numpy()).get_indexer(f["site_id"].to_numpy())
    fired = join_per_group(codes, f["rule_id"].to_numpy(), len(out))
    out.insert(out.columns.get_loc("deciding_rules") + 1, "rules", fired)
    demo, notes = note_columns(result)
    out.insert(out.columns.get_loc("rules") + 1, "demo_data", demo)
    out.insert(out.columns.get_loc("demo_data") + 1, "notes", notes)
    for col in ("verdict", "verdict_zh", "deciding_rules"):
        out[col] = out[col].astype(str)
    if "source_row" in sites.columns and "source_row" in out.columns:
        attrs = pd.DataFrame(sites.drop(columns=sites.geometry.name))
        drop = [c for c in attrs.columns if c in out.columns and c != "source_row"]
        attrs = attrs.drop(columns=drop)
        if len(attrs.columns) > 1 and attrs["source_row"].is_unique:
            out = out.merge(attrs, on="source_row", how="left", validate="one_to_one")
    return gpd.GeoDataFrame(out, geometry=result.sites.geometry.to_numpy(), crs=result.sites.crs)


def run_batch(
    sites_path_or_gdf: str | Path | gpd.GeoDataFrame,
    *,
    pack: Pack | str | Path,
    store_or_layers: Any,
    out: str | Path,
    errors_out: str | Path | None = None,
    project: Project | None = None,
    progress: Callable[[int, int], None] | None = None,
    read_options: Mapping[str, Any] | None = None,
    chunk_size: int = 200_000,
    missing_layers: Literal["raise", "skip"] = "raise",
    write_options: Callable[[gpd.GeoDataFrame, Path], Mapping[str, Any]] | None = None,
) -> BatchSummary:
    """Check every site of a file (or GeoDataFrame) and write the verdicts.

    Parameters
    ----------
    sites_path_or_gdf
        A file :func:`geo.io.read_vector` reads (GeoPackage, shapefile, GeoJSON,
        CSV/XLSX with lon/lat, KML, DXF, ...) or a GeoDataFrame (with ``.crs``; a
        ``source_row`` column is added when missing, 1-based).
    pack
        A :class:`zoning.pack.Pack` or the name / path of one.
    store_or_layers
        A :class:`layers.LayerStore`, the path of a store, or a mapping kind → layer.
    out
        Output file; the format follows the suffix (.gpkg, .geojson, .csv, ...).
    errors_out
        CSV of the rows that could not be checked; default ``<out stem>.errors.csv``
        next to ``out``.
    project
        One project for every site, or ``None`` to read per-row project columns
        (:func:`zoning.project.project_from_row`; bad values make that row an error).
    progress
        Called as ``progress(done, total)`` after each chunk of sites.
    read_options
        Passed to :func:`geo.io.read_vector` (``crs``, ``coords="gcj02"``, ``zone``,
        ``layer``, ``encoding``, ``lon_col``, ``lat_col``).
    chunk_size
        Sites checked at once.
    missing_layers
        ``"raise"`` when a layer kind the pack needs is missing, or ``"skip"`` its
        rules (with a warning).
    write_options
        Called with the output frame and ``out``; returns extra keywords for
        :func:`geo.io.write_vector` (``style=`` the verdict style, ``aliases=``):
        the CLI passes :func:`maps.qgis_style.write_options`, so zoning needs no maps.

    Returns
    -------
    BatchSummary

    Raises
    ------
    InputFormatError
        The input cannot be read at all (unknown format, empty file).
    MissingLayerError
        A layer kind the pack needs is missing (``missing_layers="raise"``).
    PackError
        The pack cannot be loaded.

    Examples
    --------
    >>> s = run_batch("sites.csv", pack="tongzhou", store_or_layers=store,
    ...               out="verdicts.gpkg")  # doctest: +SKIP
    >>> s.by_verdict  # doctest: +SKIP
    {'prohibited': 3, 'restricted': 12, 'requirements': 80, 'compliant': 5}
    """
    t0 = time.perf_counter()
    if not isinstance(pack, Pack):
        pack = load_pack(pack)
    out = Path(out)
    errors_path = (
        Path(errors_out) if errors_out is not None else out.with_name(f"{out.stem}.errors.csv")
    )
    if isinstance(sites_path_or_gdf, gpd.GeoDataFrame):
        sites = sites_path_or_gdf.copy()
        if "source_row" not in sites.columns:
            sites["source_row"] = range(1, len(sites) + 1)
        issues: list[dict[str, Any]] = list(sites.attrs.get("issues", []))
        source = "input"
    else:
        with warnings.catch_warnings():
            # rejected/repaired rows are reported in the errors file and the summary
            warnings.simplefilter("ignore", RowRejectedWarning)
            warnings.simplefilter("ignore", GeometryRepairedWarning)
            sites = read_vector(sites_path_or_gdf, **dict(read_options or {}))
        issues = list(sites.attrs.get("issues", []))
        source = str(sites_path_or_gdf)
    layers = load_layers(store_or_layers, pack.layer_kinds())
    from zoning.workflow import build_checker  # jurisdiction and extents, as every path

    checker = build_checker(pack, layers, missing_layers=missing_layers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryRepairedWarning)  # counted below
        result = checker.check(
            sites, project=project, chunk_size=chunk_size, progress=progress,
            input_system=(read_options or {}).get("coords"),
        )  # fmt: skip
    rejected = [i for i in issues if i.get("action") == "rejected"]
    repaired = len({i.get("row") for i in issues if i.get("action") == "repaired"})
    err_rows = [
        {
            "source_row": i.get("row"),
            "site_id": None,
            "stage": "read",
            "status": "invalid_input",
            "reason": i.get("reason", ""),
        }
        for i in rejected
    ]
    err_rows += [
        {
            "source_row": None if pd.isna(e.source_row) else int(e.source_row),
            "site_id": e.site_id,
            "stage": "check",
            "status": e.status,
            "reason": e.reason,
        }
        for e in result.errors.itertuples(index=False)
    ]
    errors_df = pd.DataFrame(
        err_rows, columns=["source_row", "site_id", "stage", "status", "reason"]
    )
    if len(errors_df):
        errors_df = errors_df.sort_values("source_row", kind="stable", na_position="last")
    write_csv(errors_df, errors_path)  # site ids are user text: formula-safe
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = _output_frame(result, sites)
    if out.suffix.lower() == ".xlsx":  # a workbook for people: sites, findings, errors
        write_results_xlsx(frame, result.findings, errors_df, out)
    else:
        write_vector(frame, out, **dict(write_options(frame, out) if write_options else {}))
    counts = result.counts()
    summary = BatchSummary(
        total=len(result.sites) + len(errors_df),
        checked=len(result.sites),
        errors=len(errors_df),
        by_verdict={v: counts[v] for v in VERDICTS},
        repaired=repaired,
        out=out,
        errors_out=errors_path,
        elapsed_s=time.perf_counter() - t0,
        stamp=result.stamp,
        sites=frame,
        outside_jurisdiction=int((errors_df["status"] == "outside_jurisdiction").sum()),
    )
    log.info(
        "checked %d sites from %s (%d errors) in %.1f s: %s",
        summary.checked, source, summary.errors, summary.elapsed_s, summary.by_verdict,
    )  # fmt: skip
    return summary
