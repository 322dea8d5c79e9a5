"""The dask engine: check a GeoDataFrame of sites on a dask cluster.

:func:`check_sites_dask` gives the same verdicts, deciding rules and distances as the
in-memory engine (:func:`zoning.check.engine.check_sites`), because a site's result
never depends on the other sites of a batch: a GeoDataFrame in, a
:class:`~zoning.check.result.CheckResult` out (rows in input order), for notebooks and
tests. The file-to-file batch on the same cluster is :mod:`zoning.check.dask_batch`.

How: the layers are loaded once on the client, indexed once into a
:class:`~zoning.check.engine.SiteChecker`, and broadcast to every worker with
``client.scatter(checker, broadcast=True)`` (not shipped with each partition). The
sites are partitioned spatially by Hilbert distance (:func:`hilbert_keys`, the
ordering of dask-geopandas' ``spatial_shuffle(by="hilbert")``, computed here so that
sites without geometry, reported as errors, do not stop it), so that each partition
covers a compact area and queries the layer trees locally. Each task checks one
partition with the broadcast checker on one thread (``workers=1``; k-d queries always
use one); the layer geometries arrive prepared (``LayerIndex`` prepares them again
when unpickled).

The cluster (:func:`dask_client`): a :class:`distributed.LocalCluster` (one
single-threaded worker process per core, or ``n_workers``) by default, or any running
cluster given by its scheduler address, ``"tcp://host:8786"``, or a
:class:`distributed.Client`. Workers need ecozone installed (same version); see
``docs/scaling.md``.

Needs ``pip install "dask[distributed]" dask-geopandas``.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputFormatError
from zoning.check.batch import load_layers
from zoning.check.engine import NEAREST_MAX_M, SiteChecker
from zoning.check.result import CheckResult
from zoning.check.sites import sites_frame
from zoning.pack import Pack, load_pack
from zoning.project import Project

__all__ = ["HILBERT_LEVEL", "PART_ROWS", "check_sites_dask", "dask_client", "hilbert_keys"]

HILBERT_LEVEL = 16  # as dask-geopandas: 2**16 cells along each axis
PART_ROWS = 50_000  # default sites per partition (in-memory input)
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
        Worker processes of a local cluster (default: one per core). A running
        cluster (``scheduler`` given) keeps its own workers: ``n_workers`` does not
        apply to it and is ignored with a warning.
    memory_limit
        Memory of each local worker ("300MB", bytes, "auto": the machine's memory
        shared by the workers). Workers spill to disk above 60 % of it.
    threads_per_worker
        Threads of each local worker.

    Yields
    ------
    distributed.Client

    Raises
    ------
    InputFormatError
        ``n_workers`` is not a whole number >= 1.
    """
    _need_dask()
    from distributed import Client, LocalCluster

    if n_workers is not None and (
        isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1
    ):
        msg = f"n_workers must be a whole number >= 1 (or None: one per core), got {n_workers!r}"
        raise InputFormatError(msg)
    if scheduler is not None and n_workers is not None:
        warnings.warn(
            f"n_workers={n_workers} does not apply to a running dask cluster (given by its "
            "scheduler address or client): its own workers check the sites; size that "
            "cluster instead (e.g. `dask worker ADDRESS --nworkers N --nthreads 1`)",
            UserWarning,
            stacklevel=3,
        )
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


def _layers_for(pack: Pack, layers: Any) -> dict[str, Any]:
    """Kind → layer from a mapping, a store, a store path or a ``postgresql://`` URL."""
    if isinstance(layers, str | os.PathLike):
        from layers.copy import open_any_store

        with open_any_store(layers, create=False) as store:
            return load_layers(store, pack.layer_kinds())
    return load_layers(layers, pack.layer_kinds())


def _run_partition(
    part: gpd.GeoDataFrame,
    checker: SiteChecker,
    project: Project | None,
    chunk_size: int,
    distances: list[str],
) -> tuple[CheckResult, list[tuple[type[Warning], str]]]:
    """Check one partition on a worker; warnings are returned to the client."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = checker.check(
            part.reset_index(drop=True), project=project, chunk_size=chunk_size, workers=1,
            distances=distances,
        )  # fmt: skip
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
    distances: str | Iterable[str] = "all",
    n_workers: int | None = None,
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
    distances
        Which ``dist_<kind>_m`` columns (and "outside" relation rows) to compute:
        ``"all"`` (default), ``"rules"`` or layer kinds, as
        :meth:`~zoning.check.engine.SiteChecker.check`; checked before the cluster
        starts. The same option gives the in-memory engine's columns and rows.
    n_workers
        Worker processes of the local cluster started when ``client`` is ``None``
        (default one per core; see :func:`dask_client`).

    Returns
    -------
    CheckResult
        Rows of ``sites``, ``relations`` and ``findings`` in input order. The
        stamp's ``input_checksum`` hashes the partitions' checksums (it differs from
        the in-memory engine's); ``stamp["engine"]`` is ``"dask"``,
        ``stamp["workers"]`` the cluster's worker threads.

    Raises
    ------
    InputFormatError
        ``sites`` is not a GeoDataFrame, has duplicated ``site_id`` values, or
        ``distances`` names a kind that is not a layer kind of the pack.
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
    dist = sorted(checker.distance_kinds(distances))  # bad kinds fail before any work
    ids = _site_ids(sites)
    _check_unique(ids)
    frame = sites.reset_index(drop=True)
    frame["site_id"] = ids  # a copy: the input is not modified
    n = len(frame)
    geoms = frame.geometry.to_crs("EPSG:4326").to_numpy()
    order = np.argsort(hilbert_keys(geoms, tuple(_finite_bounds(geoms))), kind="stable")
    with dask_client(client, n_workers=n_workers) as cl:
        threads = _threads(cl)
        k = npartitions or max(2 * threads, math.ceil(n / PART_ROWS))
        pieces = [frame.iloc[idx] for idx in np.array_split(order, max(1, min(k, n)))]
        checker_f = cl.scatter([checker], broadcast=True)[0]
        part_f = cl.scatter(pieces)
        futures = cl.map(
            _run_partition, part_f, checker=checker_f, project=project, chunk_size=chunk_size,
            distances=dist, pure=False,
        )  # fmt: skip
        results = cl.gather(futures)
    return _merge(results, ids, threads)


def _merge(
    results: list[tuple[CheckResult, list[tuple[type[Warning], str]]]],
    ids: np.ndarray,
    threads: int,
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
            "workers": threads,
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
