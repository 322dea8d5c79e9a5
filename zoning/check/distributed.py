"""Distributed site checks with dask: many cores, several machines, sites beyond memory.

Two entry points, both giving the same verdicts, deciding rules and distances as the
in-memory engine (:func:`zoning.check.engine.check_sites` / :func:`zoning.check.batch.run_batch`),
because a site's result never depends on the other sites of a batch:

- :func:`check_sites_dask`: a GeoDataFrame in, a :class:`~zoning.check.result.CheckResult`
  out (rows in input order), for notebooks and tests;
- :func:`run_batch_dask`: GeoParquet in, partitioned GeoParquet out (a folder of
  ``part.NNNNN.parquet`` files, readable as one table with ``gpd.read_parquet``),
  streaming partition by partition so that inputs larger than the workers' memory
  work. This is ``ecozone check SITES.parquet --engine dask --out RESULT/``.

How: the layers are loaded once on the client, indexed once into a
:class:`~zoning.check.engine.SiteChecker`, and broadcast to every worker with
``client.scatter(checker, broadcast=True)`` (not shipped with each partition). The
sites are partitioned spatially by Hilbert distance — the ordering of dask-geopandas'
``spatial_shuffle(by="hilbert")``, computed here so that sites without geometry
(reported as errors) do not stop it — so that each partition covers a compact area
and queries the layer trees locally. Each task checks one partition with the
broadcast checker. :func:`run_batch_dask` moves only the columns the check reads,
then joins the verdicts with the input's other columns one row group at a time and
writes one file per row group, returning only counts and errors to the client.
Workers check with one thread each (see :func:`_prepare`); the layer geometries
arrive prepared (``LayerIndex`` prepares them again when unpickled).

The cluster: a :class:`distributed.LocalCluster` (one single-threaded worker process
per core) by default, or any running cluster given by its scheduler address,
``scheduler="tcp://host:8786"``, or a :class:`distributed.Client`. Workers need
ecozone installed (same version) and, for :func:`run_batch_dask`, read access to the
input and write access to the output folder (a shared file system); see
``docs/scaling.md``.

Needs ``pip install "dask[distributed]" dask-geopandas``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import GeometryRepairedWarning, InputFormatError
from geo.io.spreadsheet import write_csv
from zoning.check.batch import BatchSummary, load_layers
from zoning.check.engine import NEAREST_MAX_M, SiteChecker
from zoning.check.grouping import join_per_group
from zoning.check.result import VERDICTS, CheckResult, note_columns, rule_kinds
from zoning.check.sites import EXIT_COLUMNS, PROJECT_COLUMNS, sites_frame
from zoning.pack import Pack, load_pack
from zoning.project import Project

log = logging.getLogger(__name__)

__all__ = ["check_sites_dask", "dask_client", "hilbert_keys", "run_batch_dask"]

HILBERT_LEVEL = 16  # as dask-geopandas: 2**16 cells along each axis
PART_ROWS = 50_000  # default sites per partition (in-memory input)
_PART_NAME = "part.{:05d}.parquet"
_PART_RE = re.compile(r"^part\.\d{5}\.parquet$")
_ERROR_COLUMNS = ["source_row", "site_id", "stage", "status", "reason"]
# Local workers: Arrow buffers go back to the OS when freed (Arrow's own allocator keeps
# them), so that a worker's memory limit measures live data and workers do not pause.
_WORKER_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "system"}


def _need_dask() -> None:
    try:
        import dask  # noqa: F401
        import dask_geopandas  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        msg = (
            f"the dask engine needs dask, distributed and dask-geopandas ({exc}); install "
            'them with: pip install "dask[distributed]" dask-geopandas'
        )
        raise ImportError(msg) from exc


@contextlib.contextmanager
def dask_client(
    scheduler: Any = None,
    *,
    n_workers: int | None = None,
    memory_limit: str | float | None = "auto",
    threads_per_worker: int = 1,
) -> Iterator[Any]:
    """Yield a :class:`distributed.Client`: a given one, one to an address, or a local cluster.

    Parameters
    ----------
    scheduler
        ``None``: start a :class:`distributed.LocalCluster` (closed on exit);
        ``"tcp://host:8786"``: connect to that scheduler (the connection is closed
        on exit, the cluster keeps running); a ``Client``: use it as it is.
    n_workers
        Worker processes of a local cluster (default: one per core).
    memory_limit
        Memory of each local worker ("300MB", bytes, "auto": the machine's memory
        shared by the workers). Workers spill to disk above 60 % of it.
    threads_per_worker
        Threads of each local worker.

    Yields
    ------
    distributed.Client
    """
    _need_dask()
    from distributed import Client, LocalCluster

    if scheduler is not None and not isinstance(scheduler, str | os.PathLike):
        yield scheduler
        return
    if scheduler is not None:
        with Client(os.fspath(scheduler)) as client:
            yield client
        return
    n = n_workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=threads_per_worker, processes=True,
            memory_limit=memory_limit, dashboard_address=":0", env=dict(_WORKER_ENV),
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        client.wait_for_workers(n)  # so that a broadcast reaches every worker
        yield client


def _threads(client: Any) -> int:
    return max(1, sum(client.nthreads().values()))


def hilbert_keys(
    geoms: Any, total_bounds: tuple[float, float, float, float], *, level: int = HILBERT_LEVEL
) -> np.ndarray:
    """Hilbert distance of each geometry's bounding-box centre within ``total_bounds``.

    The key of dask-geopandas' ``spatial_shuffle(by="hilbert")``; missing, empty or
    non-finite geometries get key 0 instead of raising (the check reports them).

    Parameters
    ----------
    geoms
        Array or GeoSeries of geometries.
    total_bounds
        ``(minx, miny, maxx, maxy)`` of the whole input, the same for every partition.
    level
        Cells per axis: ``2**level``.

    Returns
    -------
    numpy.ndarray
        uint64 keys.
    """
    arr = np.asarray(geoms, dtype=object)
    b = shapely.bounds(arr)
    mx, my = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    ok = np.isfinite(mx) & np.isfinite(my)
    keys = np.zeros(len(arr), dtype=np.uint64)
    if ok.any():
        x0, y0, x1, y1 = (float(v) for v in total_bounds)
        pts = gpd.GeoSeries(shapely.points(np.clip(mx[ok], x0, x1), np.clip(my[ok], y0, y1)))
        keys[ok] = pts.hilbert_distance(total_bounds=(x0, y0, x1, y1), level=level).to_numpy()
    return keys


def _finite_bounds(geoms: Any) -> np.ndarray:
    """``[minx, miny, maxx, maxy]`` over geometries with finite bounds (NaN if none)."""
    b = shapely.bounds(np.asarray(geoms, dtype=object))
    ok = np.isfinite(b).all(axis=1)
    if not ok.any():
        return np.full(4, np.nan)
    b = b[ok]
    return np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])


def _site_ids(sites: gpd.GeoDataFrame) -> np.ndarray:
    """Return the ids the in-memory engine gives: ``site_id``, ``source_row`` or 1..n."""
    if "site_id" in sites.columns:
        v = sites["site_id"]
        ids = np.asarray(v.astype(object).where(v.notna(), "").astype(str), dtype=object)
    elif "source_row" in sites.columns:
        ids = np.asarray([str(int(v)) for v in sites["source_row"]], dtype=object)
    else:
        ids = np.asarray([str(i) for i in range(1, len(sites) + 1)], dtype=object)
    return ids


def _check_unique(ids: Any) -> None:
    s = pd.Series(np.asarray(ids, dtype=object))
    dup = s.duplicated(keep=False).to_numpy()
    if dup.any():
        some = sorted(set(s[dup].astype(str)))[:5]
        msg = f"`sites` has duplicated site_id values {some}; give each site a unique id"
        raise InputFormatError(msg)


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


def _layers_for(pack: Pack, layers: Any) -> dict[str, Any]:
    """Kind → layer from a mapping, a store, a store path or a ``postgresql://`` URL."""
    if isinstance(layers, str | os.PathLike):
        from layers.copy import open_any_store

        with open_any_store(layers, create=False) as store:
            return load_layers(store, pack.layer_kinds())
    return load_layers(layers, pack.layer_kinds())


def _prepare(checker: SiteChecker) -> SiteChecker:
    """Set a worker up for checking: one core for k-d queries.

    Runs in worker processes only (the in-memory engine keeps its threads). The
    layers come prepared (:class:`zoning.check.relations.LayerIndex` prepares its
    geometries again when unpickled).
    """
    from zoning.check import relations as relations

    if getattr(relations, "_KD_WORKERS", 1) != 1:
        # a worker is one core: k-d queries on "every core" would oversubscribe the CPU
        relations._KD_WORKERS = 1
    return checker


def _run_partition(
    part: gpd.GeoDataFrame, checker: SiteChecker, project: Project | None, chunk_size: int
) -> tuple[CheckResult, list[tuple[type[Warning], str]]]:
    """Check one partition on a worker; warnings are returned to the client."""
    _prepare(checker)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = checker.check(
            part.reset_index(drop=True), project=project, chunk_size=chunk_size, workers=1
        )
    return res, [(w.category, str(w.message)) for w in caught]


def check_sites_dask(
    sites: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    pack: Pack | str,
    layers: Any,
    project: Project | None = None,
    client: Any = None,
    npartitions: int | None = None,
    nearest_max_m: float = NEAREST_MAX_M,
    missing_layers: Literal["raise", "skip"] = "raise",
    chunk_size: int = 20_000,
) -> CheckResult:
    """Check sites on a dask cluster; the same result as :func:`zoning.check.engine.check_sites`.

    Parameters
    ----------
    sites
        GeoDataFrame (or GeoSeries) of points, lines or polygons in any CRS, with
        the optional columns :func:`~zoning.check.engine.check_sites` reads.
    pack
        The rule pack, or its name / path.
    layers
        Mapping kind → Layer / GeoDataFrame, a layer store, a GeoPackage path or a
        ``postgresql://`` URL.
    project
        One project for every site, or ``None`` for per-site columns.
    client
        A :class:`distributed.Client`, a scheduler address ``"tcp://host:8786"``,
        or ``None`` for a local cluster started (and closed) for this call.
    npartitions
        Spatial partitions (default: ``max(2 × worker threads, n / 50 000)``).
    nearest_max_m, missing_layers
        As in :func:`~zoning.check.engine.check_sites`.
    chunk_size
        Sites checked at once inside a partition.

    Returns
    -------
    CheckResult
        Rows of ``sites``, ``relations`` and ``findings`` in input order. The
        stamp's ``input_checksum`` hashes the partitions' checksums (it differs from
        the in-memory engine's); ``stamp["engine"]`` is ``"dask"``.

    Raises
    ------
    InputFormatError
        ``sites`` is not a GeoDataFrame, or has duplicated ``site_id`` values.
    MissingLayerError
        A layer kind the pack needs is missing (``missing_layers="raise"``).
    CRSDetectionError
        ``sites`` has no CRS.
    """
    _need_dask()
    sites = sites_frame(sites)
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    checker = SiteChecker(
        pack, _layers_for(pack, layers), nearest_max_m=nearest_max_m,
        missing_layers=missing_layers,
    )  # fmt: skip
    ids = _site_ids(sites)
    _check_unique(ids)
    frame = sites.reset_index(drop=True)
    frame["site_id"] = ids  # a copy: the input is not modified
    n = len(frame)
    geoms = frame.geometry.to_crs("EPSG:4326").to_numpy()
    order = np.argsort(hilbert_keys(geoms, tuple(_finite_bounds(geoms))), kind="stable")
    with dask_client(client) as cl:
        k = npartitions or max(2 * _threads(cl), math.ceil(n / PART_ROWS))
        pieces = [frame.iloc[idx] for idx in np.array_split(order, max(1, min(k, n)))]
        checker_f = cl.scatter([checker], broadcast=True)[0]
        part_f = cl.scatter(pieces)
        futures = cl.map(
            _run_partition, part_f, checker=checker_f, project=project, chunk_size=chunk_size,
            pure=False,
        )  # fmt: skip
        results = cl.gather(futures)
    return _merge(results, ids, checker)


def _merge(
    results: list[tuple[CheckResult, list[tuple[type[Warning], str]]]],
    ids: np.ndarray,
    checker: SiteChecker,
) -> CheckResult:
    """One CheckResult in input order from the partitions' results."""
    for _, caught in results:
        for category, message in caught:
            warnings.warn(message, category, stacklevel=3)
    pos = pd.Index(ids)

    def ordered(frames: list[pd.DataFrame]) -> pd.DataFrame:
        # empty frames have object columns; leaving them out keeps the others' dtypes
        df = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
        if not len(df):
            return df
        at = pos.get_indexer(df["site_id"].astype(str).to_numpy())
        return df.iloc[np.argsort(at, kind="stable")].reset_index(drop=True)

    parts = [r for r, _ in results]
    sites = gpd.GeoDataFrame(
        ordered([p.sites for p in parts]), geometry="geometry", crs="EPSG:4326"
    )
    h = hashlib.sha256()
    for p in parts:
        h.update(p.stamp["input_checksum"].encode())
    stamp = dict(parts[0].stamp)
    stamp.update(
        {
            "input_checksum": h.hexdigest(),
            "sites": len(ids),
            "engine": "dask",
            "partitions": len(parts),
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    return CheckResult(
        sites,
        ordered([p.relations for p in parts]),
        ordered([p.findings for p in parts]),
        stamp,
        ordered([p.errors for p in parts]),
    )


# ----------------------------------------------------------------- files in and out
#
# run_batch_dask moves as little as possible: only the columns the check reads (the
# "thin" frame: geometry, ids, project and exit columns) are shuffled into spatial
# partitions and checked; the verdicts are then range-partitioned back by input row
# and joined with the input's attribute columns one input block at a time, so wide
# inputs are read once and never shuffled, and the output keeps the input's order.


def _thin_columns(columns: list[str], geometry: str, project: Project | None) -> list[str]:
    """The input columns the check reads."""
    wanted = {"site_id", "source_row", "exit_lon", "exit_lat", geometry, *EXIT_COLUMNS}
    if project is None:
        wanted |= set(PROJECT_COLUMNS)
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

    ``rules`` joins the ids of every rule that fired, in finding order; done with one
    sort instead of a pandas group-by, which costs seconds per partition.
    """
    out = pd.DataFrame(res.sites)
    ids = out["site_id"].astype(str).to_numpy(dtype=object)
    f = res.findings
    codes = pd.Index(ids).get_indexer(f["site_id"].astype(str).to_numpy(dtype=object))
    rules = join_per_group(codes, f["rule_id"].to_numpy(), len(out))
    out.insert(out.columns.get_loc("deciding_rules") + 1, "rules", rules)
    demo, notes = note_columns(res)  # as zoning.check.batch writes them
    out.insert(out.columns.get_loc("rules") + 1, "demo_data", demo)
    out.insert(out.columns.get_loc("demo_data") + 1, "notes", notes)
    return out


def _check_thin(
    part: gpd.GeoDataFrame,
    checker: SiteChecker,
    project: Project | None,
    chunk_size: int,
    on_worker: bool = True,
) -> pd.DataFrame:
    """Check one spatial partition: verdict rows and error rows (with ``reason``), by ``_row``."""
    if on_worker:
        _prepare(checker)
    part = part.reset_index(drop=True)
    rows = pd.Series(part["_row"].to_numpy(), index=_site_ids(part))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryRepairedWarning)  # counted from the input
        res = checker.check(
            part.drop(columns=["_row"]), project=project, chunk_size=chunk_size, workers=1
        )
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
        Size of the local cluster (see :func:`dask_client`).
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

    Returns
    -------
    zoning.check.batch.BatchSummary
        ``out`` is the folder; ``stamp["input_checksum"]`` is the sha256 of the
        input file(s) and ``stamp["engine"]`` is ``"dask"``.

    Raises
    ------
    InputFormatError
        The input is not GeoParquet, or has duplicated ``site_id`` values.
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
    pack = pack if isinstance(pack, Pack) else load_pack(pack)
    checker = SiteChecker(pack, _layers_for(pack, store), missing_layers=missing_layers)
    errors_path = Path(errors_out) if errors_out else out.with_name(f"{out.name}.errors.csv")
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
    thin = read(_thin_columns(list(full.columns), full._meta.geometry.name, project))
    with dask_client(scheduler, n_workers=n_workers, memory_limit=memory_limit) as client:
        log.info("dask: %s, %d row groups, on %s", in_path, thin.npartitions, client)
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
            k = npartitions or max(thin.npartitions, 2 * _threads(client))
            # task-based shuffle: the p2p (arrow) shuffle turns geometries into WKB bytes
            spatial = keyed.set_index("_hilbert", npartitions=k, shuffle_method="tasks")
            log.info("dask: %d sites scanned in %.1f s", total, time.perf_counter() - t0)
            checker_f = client.scatter([checker], broadcast=True)[0]
            check = dask.delayed(_check_thin, pure=True)
            checked = [check(p, checker_f, project, chunk_size) for p in spatial.to_delayed()]
            vmeta = _check_thin(meta, checker, project, chunk_size, on_worker=False).iloc[0:0]
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
    return _summarise(summaries, total, repaired, out, errors_path, in_path, checker, t0)


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
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool = version("ecozone")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        tool = "unknown"
    stamp = {
        "ecozone_version": tool,
        "pack": {"name": checker.pack.name, "version": checker.pack.version,
                 "lineage": list(checker.pack.lineage)},
        "layers": {k: dict(v) for k, v in checker.layer_stamp.items()},
        "input_checksum": _digest(in_path),
        "input": str(in_path),
        "sites": total,
        "nearest_max_m": checker.nearest_max_m,
        "skipped_rules": list(checker.skipped_rules),
        "jurisdiction_tested": checker.jurisdiction is not None,
        "rule_layers": {r.id: rule_kinds(r) for r in checker.rules},
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
