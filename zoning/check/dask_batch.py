"""The file-to-file batch on a dask cluster: GeoParquet in, partitioned GeoParquet out.

:func:`run_batch_dask` is ``ecozone check SITES.parquet --engine dask --out RESULT/``:
the same verdicts, rules and distances as :func:`zoning.check.batch.run_batch`, written
as a folder of ``part.NNNNN.parquet`` files (readable as one table with
``gpd.read_parquet``), streaming partition by partition so that inputs larger than the
workers' memory work. The cluster, the spatial partitioning and the broadcast checker
are those of :mod:`zoning.check.dask_engine`.

It moves as little as possible: only the columns the check reads (the "thin" frame:
geometry, ids, project and exit columns) are shuffled into spatial partitions and
checked; the verdicts are then range-partitioned back by input row and joined with
the input's attribute columns one input row group at a time (one output file per row
group), so wide inputs are read once and never shuffled, the output keeps the input's
order, and only counts and errors return to the client. Workers need read access to
the input and write access to the output folder (a shared file system); see
``docs/scaling.md``.

Needs ``pip install "dask[distributed]" dask-geopandas``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import GeometryRepairedWarning, InputFormatError
from geo.io.spreadsheet import write_csv
from geo.io.writers import check_outputs
from geo.version import __version__
from zoning.check.batch import BatchSummary, batch_distances
from zoning.check.dask_engine import (
    _finite_bounds,
    _layers_for,
    _need_dask,
    _site_ids,
    _threads,
    dask_client,
    hilbert_keys,
)
from zoning.check.engine import SiteChecker
from zoning.check.notes import coords_note, rule_data_kinds, shared_notes
from zoning.check.result import VERDICTS, CheckResult, verdict_columns
from zoning.pack import Pack, load_pack
from zoning.project import Project, condition_columns, field_column, match_columns

log = logging.getLogger(__name__)

__all__ = ["run_batch_dask"]

_PART_NAME = "part.{:05d}.parquet"
_PART_RE = re.compile(r"^part\.\d{5}\.parquet$")
_ERROR_COLUMNS = ["source_row", "site_id", "stage", "status", "reason"]


def _check_unique_ids(in_path: Path) -> None:
    """Raise InputFormatError if the file's ``site_id`` column repeats a value (on the cluster)."""
    import dask.dataframe as dd

    ids = dd.read_parquet(str(in_path), columns=["site_id"])["site_id"].astype(str)
    counts = ids.value_counts(split_out=max(1, ids.npartitions // 4))
    dup = counts[counts > 1].compute()
    if len(dup):
        some = sorted(dup.index.astype(str))[:5]
        msg = (
            f"{in_path}: duplicated site_id values {some} ({len(dup)} ids repeat); give each "
            "site a unique id"
        )
        raise InputFormatError(msg)


# ----------------------------------------------------------------- files in and out
#
# run_batch_dask moves as little as possible: only the columns the check reads (the
# "thin" frame: geometry, ids, project and exit columns) are shuffled into spatial
# partitions and checked; the verdicts are then range-partitioned back by input row
# and joined with the input's attribute columns one input block at a time, so wide
# inputs are read once and never shuffled, and the output keeps the input's order.


def _thin_columns(columns: list[str], geometry: str, project: Project | None) -> list[str]:
    """The input columns the check reads."""
    wanted = {"site_id", "source_row", "exit_lon", "exit_lat", geometry}
    exits = field_column(match_columns(columns), "exits")
    if exits is not None:
        wanted.add(exits)
    if project is None:
        wanted |= set(condition_columns(columns))
    return [c for c in columns if c in wanted]


def _scan(df: gpd.GeoDataFrame) -> pd.DataFrame:
    """Rows and finite bounds of one block (first pass over the thin input)."""
    g = df.geometry.to_numpy()
    b = _finite_bounds(g)
    live = ~(shapely.is_missing(g) | shapely.is_empty(g))
    repaired = int((live & ~shapely.is_valid(g)).sum())  # the check repairs them
    return pd.DataFrame(
        {"rows": [len(df)], "minx": [b[0]], "miny": [b[1]], "maxx": [b[2]], "maxy": [b[3]],
         "repaired": [repaired]}
    )  # fmt: skip


def _parquet_blocks(in_path: Path) -> list[tuple[str, int, int]]:
    """(file, row group, rows) of every row group, in dask's partition order."""
    import pyarrow.parquet as pq
    from dask.utils import natural_sort_key

    if in_path.is_file():
        files = [in_path]
    else:
        found = [p for p in in_path.rglob("*") if p.suffix in (".parquet", ".parq", ".pq")]
        files = sorted(found, key=lambda p: natural_sort_key(str(p)))
    blocks = []
    for f in files:
        meta = pq.ParquetFile(f).metadata
        blocks += [(str(f), i, meta.row_group(i).num_rows) for i in range(meta.num_row_groups)]
    return blocks


def _number_and_key(
    df: gpd.GeoDataFrame,
    offsets: list[int],
    bounds: tuple[float, float, float, float],
    partition_info: dict[str, Any] | None = None,
) -> gpd.GeoDataFrame:
    """Add ``_row`` (1-based position in the file), ids as the in-memory engine, Hilbert key."""
    df = df.copy()
    start = offsets[partition_info["number"]] if partition_info else 0
    df["_row"] = np.arange(start + 1, start + len(df) + 1, dtype=np.int64)
    if "source_row" not in df.columns:  # as geo.io.read_vector: the 1-based row
        df["source_row"] = df["_row"]
    df["site_id"] = _site_ids(df)
    geoms = df.geometry
    if df.crs is not None and not df.crs.equals("EPSG:4326"):
        geoms = geoms.to_crs("EPSG:4326")
    df["_hilbert"] = hilbert_keys(geoms.to_numpy(), bounds).astype(np.int64)
    return df


_VERDICT_TEXT = ("verdict", "verdict_zh", "deciding_rules", "rules", "demo_data", "notes")
_SITE_FLAGS = ("straddles_jurisdiction", "geometry_repaired")


def _verdict_frame(res: CheckResult) -> pd.DataFrame:
    """Verdict rows as :func:`zoning.check.batch.run_batch` writes them, before the attributes.

    ``rules``, ``demo_data`` and ``notes`` as :func:`zoning.check.result.verdict_columns`
    gives them (``rules`` as plain text here).
    """
    out = pd.DataFrame(res.sites)
    rules, demo, notes = verdict_columns(res)  # as zoning.check.batch writes them
    out.insert(out.columns.get_loc("deciding_rules") + 1, "rules", np.asarray(rules, dtype=object))
    out.insert(out.columns.get_loc("rules") + 1, "demo_data", demo)
    out.insert(out.columns.get_loc("demo_data") + 1, "notes", notes)
    return out


def _check_thin(
    part: gpd.GeoDataFrame,
    checker: SiteChecker,
    project: Project | None,
    chunk_size: int,
    distances: list[str],
) -> pd.DataFrame:
    """Check one spatial partition: verdict rows and error rows (with ``reason``), by ``_row``."""
    part = part.reset_index(drop=True)
    rows = pd.Series(part["_row"].to_numpy(), index=_site_ids(part))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryRepairedWarning)  # counted from the input
        res = checker.check(
            part.drop(columns=["_row"]), project=project, chunk_size=chunk_size, workers=1,
            distances=distances,
        )  # fmt: skip
    out = _verdict_frame(res)
    out["geometry"] = shapely.to_wkb(
        out["geometry"].to_numpy(), hex=True
    )  # text survives dask's string conversion
    out["reason"] = None
    out["status"] = None
    err = pd.DataFrame(
        {"site_id": res.errors["site_id"], "source_row": res.errors["source_row"],
         "reason": res.errors["reason"], "status": res.errors["status"]}
    )  # fmt: skip
    out = pd.concat([out, err], ignore_index=True) if len(err) else out
    out.insert(0, "_row", rows.reindex(out["site_id"].astype(str)).to_numpy(dtype=np.int64))
    types = {"_row": "int64", "source_row": "float64"} | {
        c: "float64" for c in out.columns if c == "area_m2" or c.startswith("dist_")
    }
    out = out.astype(types)
    for c in ("site_id", *_VERDICT_TEXT, "geometry", "reason", "status"):
        out[c] = out[c].astype(object)
    for c in _SITE_FLAGS:  # error rows: False (they are dropped before writing)
        if c in out.columns:
            out[c] = out[c].astype(object).where(out[c].notna(), False).astype(bool)
    return out


def _merge_write(
    verdicts: pd.DataFrame,
    block: tuple[str, int, int],
    columns: list[str],
    path: str,
    first_row: int,
) -> dict[str, Any]:
    """Join one input row group's attributes to its verdicts, write them; return a report.

    The row group is read here, not by an upstream task, so that wide inputs are not
    read ahead and held in memory while the check is still running.
    """
    from geo.io import write_vector

    v = verdicts.reset_index().sort_values("_row", kind="stable")
    bad = v["reason"].notna().to_numpy()
    err, ok = v[bad], v[~bad].drop(columns=["reason", "status"])
    report: dict[str, Any] = {"path": None, "checked": len(ok)}
    report["errors"] = pd.DataFrame(
        {"source_row": err["source_row"].astype("Int64"), "site_id": err["site_id"],
         "stage": "check", "status": err["status"], "reason": err["reason"]}
    )  # fmt: skip
    vc = ok["verdict"].astype(str).value_counts()
    report["counts"] = {k: int(vc.get(k, 0)) for k in VERDICTS}
    if not len(ok):
        return report
    file, group, rows = block
    keep = [c for c in columns if c not in ok.columns]  # ours win on a name clash
    if keep:
        import pyarrow.parquet as pq

        table = pq.ParquetFile(file).read_row_group(group, columns=keep)
        attrs = table.to_pandas().reset_index(drop=True)[keep]
        del table
    else:
        attrs = pd.DataFrame(index=pd.RangeIndex(rows))
    attrs["_row"] = np.arange(first_row, first_row + rows, dtype=np.int64)
    merged = ok.merge(attrs, on="_row", how="left", validate="one_to_one")
    del attrs
    if merged["source_row"].notna().all():
        merged["source_row"] = merged["source_row"].astype(np.int64)
    geoms = shapely.from_wkb(merged.pop("geometry").to_numpy())
    for c in ("site_id", *_VERDICT_TEXT):
        merged[c] = merged[c].astype(str)
    out = gpd.GeoDataFrame(merged.drop(columns=["_row"]), geometry=geoms, crs="EPSG:4326")
    write_vector(out, path)
    report["path"] = path
    return report


def _digest(path: Path) -> str:
    """Return the sha256 of a file (as ``sha256sum``), or of a folder's files and names."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if f != path:
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def run_batch_dask(
    in_path: str | os.PathLike[str],
    *,
    pack: Pack | str,
    store: Any,
    out: str | os.PathLike[str],
    scheduler: Any = None,
    n_workers: int | None = None,
    memory_limit: str | float | None = "auto",
    errors_out: str | os.PathLike[str] | None = None,
    project: Project | None = None,
    npartitions: int | None = None,
    chunk_size: int = 20_000,
    missing_layers: Literal["raise", "skip"] = "raise",
    progress: Callable[[int, int], None] | None = None,
    distances: str | Iterable[str] = "rules",
) -> BatchSummary:
    """Check a GeoParquet file of sites on a dask cluster; write partitioned GeoParquet.

    Parameters
    ----------
    in_path
        GeoParquet file or folder of files (``gdf.to_parquet(path, row_group_size=...)``).
        It is read one row group at a time, so it may exceed memory when its row
        groups do not (geopandas' default is one row group per million rows; write
        big inputs with e.g. ``row_group_size=50_000``).
    pack
        The rule pack, or its name / path.
    store
        The layers: a store, a GeoPackage path, a ``postgresql://`` URL, or a
        mapping kind → layer.
    out
        Output folder; receives one ``part.NNNNN.parquet`` per input row group, rows
        in input order (earlier ``part.*`` files there are removed first). Read them
        together with ``gpd.read_parquet(out)``. Columns as
        :func:`zoning.check.batch.run_batch` writes: ``site_id, source_row, verdict,
        verdict_zh, deciding_rules, rules, area_m2, dist_<kind>_m``, the input's
        own columns, geometry (EPSG:4326).
    scheduler
        ``None`` (a local cluster), a scheduler address ``"tcp://host:8786"`` or a
        :class:`distributed.Client`.
    n_workers, memory_limit
        Size of the local cluster: worker processes (one thread each; default one
        per core) and memory of each (see :func:`~zoning.check.dask_engine.dask_client`).
        A running cluster (``scheduler`` given) keeps its own size: ``n_workers`` is
        then ignored with a warning.
    errors_out
        CSV of the sites that could not be checked (default ``<out>.errors.csv``
        beside the folder), always written.
    project
        One project for every site, or ``None`` for per-site columns.
    npartitions
        Spatial partitions for the check (default: the input's row groups, at least
        2 × worker threads).
    chunk_size
        Sites checked at once inside a partition.
    missing_layers
        ``"raise"`` or ``"skip"`` rules whose layer kind is missing.
    progress
        Called as ``progress(done, total)`` (sites) as output parts are written.
    distances
        Which ``dist_<kind>_m`` columns to compute: ``"rules"`` (default: the kinds
        read by the pack's ``nearest`` rules that apply to the batch's project, see
        :func:`zoning.check.batch.batch_distances`), ``"all"``, or layer kinds; as
        :func:`zoning.check.batch.run_batch`, whose columns the same option gives.

    Returns
    -------
    zoning.check.batch.BatchSummary
        ``out`` is the folder; ``stamp["input_checksum"]`` is the sha256 of the
        input file(s), ``stamp["engine"]`` is ``"dask"`` and ``stamp["workers"]``
        the cluster's worker threads.

    Raises
    ------
    InputFormatError
        The input is not GeoParquet, has duplicated ``site_id`` values, or
        ``distances`` names a kind that is not a layer kind of the pack (checked
        before the cluster starts); ``n_workers`` is not a whole number >= 1; the
        input is ``out``, lies inside it or is ``errors_out`` (before any work).
    MissingLayerError
        A layer kind the pack needs is missing (``missing_layers="raise"``).

    Examples
    --------
    >>> run_batch_dask("sites.parquet", pack="beijing", store="ecozone.gpkg",
    ...                out="verdicts/", scheduler="tcp://10.0.0.5:8786")  # doctest: +SKIP
    """
    _need_dask()
    import dask
    import dask.dataframe as dd
    import dask_geopandas
    from distributed import as_completed

    t0 = time.perf_counter()
    in_path, out = Path(in_path), Path(out)
    errors_path = Path(errors_out) if errors_out else out.with_name(f"{out.name}.errors.csv")
    check_outputs(in_path, {"out (--out)": out, "errors_out (--errors)": errors_path})
    if Path(os.path.realpath(in_path)).is_relative_to(os.path.realpath(out)):
        msg = (
            f"{in_path}: 输入在输出文件夹中 / the input is inside the output folder {out}, "
            f"whose part files are replaced by this run. 修正 / fix: choose another folder "
            f"for out (--out)."
        )
        raise InputFormatError(msg)
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    checker = SiteChecker(pack, _layers_for(pack, store), missing_layers=missing_layers)
    checker.distance_kinds(distances)  # bad kinds fail before any work
    if not in_path.exists():
        raise FileNotFoundError(in_path)

    def read(columns: list[str] | None = None) -> Any:
        try:  # one partition per row group, the same blocks for every read
            return dask_geopandas.read_parquet(
                str(in_path), columns=columns, split_row_groups=True,
                gather_spatial_partitions=False,
            )  # fmt: skip
        except (ValueError, TypeError, OSError) as exc:
            msg = (
                f"{in_path}: cannot read it as GeoParquet ({exc}); the dask engine reads "
                "GeoParquet (convert with gdf.to_parquet(...), or use the in-memory engine)"
            )
            raise InputFormatError(msg) from exc

    full = read()
    distances = batch_distances(checker, distances, project, full.columns)
    dist = sorted(checker.distance_kinds(distances))
    thin = read(_thin_columns(list(full.columns), full._meta.geometry.name, project))
    with dask_client(scheduler, n_workers=n_workers, memory_limit=memory_limit) as client:
        log.info("dask: %s, %d row groups, on %s", in_path, thin.npartitions, client)
        threads = _threads(client)
        scan = thin.map_partitions(_scan, meta=_scan(thin._meta)).compute()
        rows = scan["rows"].to_numpy()
        total = int(rows.sum())
        blocks = _parquet_blocks(in_path)
        if [b[2] for b in blocks] != rows.tolist():
            msg = (
                f"{in_path}: its row groups ({len(blocks)}) do not match the partitions dask "
                f"read ({len(rows)}); pass one GeoParquet file, or a folder of them"
            )
            raise InputFormatError(msg)
        if "site_id" in thin.columns:
            _check_unique_ids(in_path)
        out.mkdir(parents=True, exist_ok=True)
        _clear_parts(out, stale_only=False)  # the input is usable: old results go
        bounds = (scan["minx"].min(), scan["miny"].min(), scan["maxx"].max(), scan["maxy"].max())
        if not np.isfinite(bounds).all():
            bounds = (0.0, 0.0, 1.0, 1.0)  # no usable geometry: every site is an error
        offsets = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(int).tolist()
        meta = _number_and_key(thin._meta, [0], bounds)
        keyed = thin.map_partitions(_number_and_key, offsets, bounds, meta=meta)
        summaries: list[dict[str, Any]] = []
        if total:
            k = npartitions or max(thin.npartitions, 2 * threads)
            # task-based shuffle: the p2p (arrow) shuffle turns geometries into WKB bytes
            spatial = keyed.set_index("_hilbert", npartitions=k, shuffle_method="tasks")
            log.info("dask: %d sites scanned in %.1f s", total, time.perf_counter() - t0)
            checker_f = client.scatter([checker], broadcast=True)[0]
            check = dask.delayed(_check_thin, pure=True)
            checked = [check(p, checker_f, project, chunk_size, dist) for p in spatial.to_delayed()]
            vmeta = _check_thin(meta, checker, project, chunk_size, dist)
            vmeta = vmeta.iloc[0:0]
            live = np.flatnonzero(rows > 0)
            divisions = [offsets[i] + 1 for i in live] + [total]
            by_row = dd.from_delayed(checked, meta=vmeta, verify_meta=False).set_index(
                "_row", divisions=divisions
            )
            geom = full._meta.geometry.name
            columns = [c for c in full.columns if c != geom]
            merge = dask.delayed(_merge_write, pure=False)
            tasks = [
                merge(v, blocks[i], columns, str(out / _PART_NAME.format(j)), offsets[i] + 1)
                for j, (i, v) in enumerate(zip(live, by_row.to_delayed(), strict=True))
            ]
            done = 0
            for fut in as_completed(client.compute(tasks)):
                s = fut.result()
                summaries.append(s)
                done += s["checked"] + len(s["errors"])
                if progress is not None:
                    progress(done, total)
    _clear_parts(out, stale_only=True)
    repaired = int(scan["repaired"].sum())
    summary = _summarise(summaries, total, repaired, out, errors_path, in_path, checker, t0)
    summary.stamp["workers"] = threads
    summary.stamp["notes"] = _shared_notes(checker, project, list(full.columns), full._meta.crs)
    return summary


def _shared_notes(
    checker: SiteChecker, project: Project | None, columns: list[str], crs: Any
) -> list[dict[str, str]]:
    """The notes every site shares, as the in-process batch's stamp states them.

    The input's coordinate system; one project's assumptions (the given project, or
    the unknown one when the input has no project column), or the rule applied to
    each row when projects come from the input's columns.
    """
    per_row = project is None and bool(condition_columns(columns))
    one = None if per_row else Project() if project is None else project
    coords = coords_note(None if crs is None else crs.to_string(), None)
    return shared_notes(checker, coords, one, per_row)


def _clear_parts(out: Path, *, stale_only: bool) -> None:
    """Remove temporary folders of interrupted part writes (and old parts, unless stale_only).

    A worker killed while writing (its memory limit) leaves ``.part.NNNNN.parquet.*.tmp``;
    dask reruns the task elsewhere, so the run completes, and the leftover goes here.
    """
    for p in out.iterdir():
        if p.name.startswith(".part.") and p.name.endswith(".tmp") and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif not stale_only and _PART_RE.match(p.name):
            p.unlink()


def _summarise(
    summaries: list[dict[str, Any]],
    total: int,
    repaired: int,
    out: Path,
    errors_path: Path,
    in_path: Path,
    checker: SiteChecker,
    t0: float,
) -> BatchSummary:
    """Write the errors CSV and build the summary from the parts' reports."""
    errs = [s["errors"] for s in summaries if len(s["errors"])]
    if errs:
        errors_df = pd.concat(errs, ignore_index=True).sort_values(
            "source_row", kind="stable", na_position="last"
        )
    else:
        errors_df = pd.DataFrame(columns=_ERROR_COLUMNS)
    write_csv(errors_df, errors_path)  # site ids are user text: formula-safe
    counts = {v: sum(s["counts"][v] for s in summaries) for v in VERDICTS}
    checked = sum(s["checked"] for s in summaries)
    stamp = {
        "ecozone_version": __version__,
        "pack": {"name": checker.pack.name, "version": checker.pack.version,
                 "lineage": list(checker.pack.lineage)},
        "layers": {k: dict(v) for k, v in checker.layer_stamp.items()},
        "input_checksum": _digest(in_path),
        "input": str(in_path),
        "sites": total,
        "nearest_max_m": checker.nearest_max_m,
        "skipped_rules": list(checker.skipped_rules),
        "jurisdiction_tested": checker.jurisdiction is not None,
        "rule_layers": {r.id: rule_data_kinds(r) for r in checker.rules},
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": "dask",
        "partitions": sum(1 for s in summaries if s["path"]),
    }  # fmt: skip
    summary = BatchSummary(
        total=checked + len(errors_df),
        checked=checked,
        errors=len(errors_df),
        by_verdict=counts,
        repaired=repaired,
        out=out,
        errors_out=errors_path,
        elapsed_s=time.perf_counter() - t0,
        stamp=stamp,
        outside_jurisdiction=int((errors_df["status"] == "outside_jurisdiction").sum()),
    )
    log.info(
        "dask: checked %d sites from %s into %d parts (%d errors) in %.1f s: %s",
        checked, in_path, stamp["partitions"], summary.errors, summary.elapsed_s, counts,
    )  # fmt: skip
    return summary
