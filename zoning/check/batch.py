"""Batch site checks: a file of sites in, one verdict row per site out.

:func:`run_batch` is what ``ecozone check SITES --out RESULT`` runs: it reads the
sites with :func:`geo.io.read_vector` (any format it knows; rejected rows are listed
in ``gdf.attrs["issues"]``), checks them all with :class:`zoning.check.engine.SiteChecker`
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

Streaming: the input is read in chunks of ``chunk_size`` rows
(:func:`geo.io.chunks.iter_vector_chunks`; GeoParquet and GeoPackage stream, other
formats are read once and cut), each chunk is checked (on ``workers`` threads), and
its verdict rows are built and appended to ``out`` by one writer thread while the
next chunk is checked (at most one chunk waits; order kept). GeoParquet, GeoPackage
and CSV outputs are written chunk by chunk (:class:`geo.io.stream_writer.ChunkWriter`)
to a temporary file renamed over ``out`` at the end, so memory stays flat in the
number of sites and an interrupted run leaves the previous ``out`` intact; other
outputs (XLSX, GeoJSON, shapefile, File Geodatabase) are collected and written once.
The result is the same for any ``chunk_size`` and ``workers`` (rows, order, columns,
values, errors file), because a site's result never depends on the other sites,
except that a ``site_id`` repeated in a later chunk is found through a table of the
ids seen (16 bytes per site: two 64-bit hashes, checked both) and reported as in a
one-pass check ("duplicated (first at row R)").

The stamp's ``input_checksum`` of a batch is the SHA-256 of the chunks' own
checksums (:meth:`zoning.check.engine.SiteChecker.check` of each chunk, hex text, in order,
one per line); ``stamp["chunk_size"]`` records the chunking, which it depends on.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import itertools
import logging
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from geo.cores import available_cores
from geo.errors import (
    GeometryRepairedWarning,
    InputFormatError,
    RowRejectedWarning,
)
from geo.io import write_vector
from geo.io.chunks import count_rows, iter_vector_chunks, read_ahead, split_frame, streams
from geo.io.reader import read_vector
from geo.io.spreadsheet import write_csv
from geo.io.stream_writer import ChunkWriter
from geo.io.writers import check_outputs, output_driver
from layers.kinds import canonical_kind
from zoning.check.layer_index import text_array
from zoning.check.notes import demo_note, per_row_projects_note, synthetic_kinds
from zoning.check.result import VERDICTS, CheckResult, verdict_columns
from zoning.check.result_tables import check_sheet_rows, write_results_xlsx
from zoning.pack import Pack, load_pack
from zoning.project import Project, condition_columns

__all__ = ["BatchSummary", "batch_distances", "batch_output_driver", "load_layers", "run_batch"]

log = logging.getLogger(__name__)

_OWN_COLUMNS = (
    "site_id", "source_row", "verdict", "verdict_zh", "deciding_rules", "rules", "demo_data",
    "notes",
)  # fmt: skip
#: Most sites per chunk of a batch of more than :data:`_LARGE_BATCH` sites, or of unknown
#: size (see :func:`_chunk_rows`).
BATCH_CHUNK = 40_000
#: Most sites per chunk of a batch of at most :data:`_LARGE_BATCH` sites.
_SMALL_BATCH_CHUNK = 80_000
_LARGE_BATCH = 2_000_000
_ERROR_COLUMNS = ["source_row", "site_id", "stage", "status", "reason"]
# The reasons zoning.check.sites.normalise_sites gives a geometry problem: they win over a
# duplicated site_id there, so they win over one found across chunks here too.
_GEOMETRY_REASONS = ("空几何", "坐标无效", "坐标超出经纬度范围")


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
        The check stamp (versions, checksums): the first chunk's, with
        ``input_checksum`` over all chunks (see the module notes), ``chunk_size``,
        ``chunks``, ``sites``, and the ``notes`` every chunk shares (see
        :func:`_combined_stamp`; :meth:`notes` puts the demonstration layers first).
    sites : geopandas.GeoDataFrame or None
        The verdict rows as written to ``out`` (for a map of the results); ``None``
        when :func:`run_batch` ran with ``keep_sites=False`` (flat memory).
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

    def notes(self) -> list[dict[str, str]]:
        """What every site's verdict rests on: the demonstration layers, the stamp's notes."""
        demo = [demo_note(self.demo_data, ())] if self.demo_data else []
        return [*demo, *(dict(n) for n in self.stamp.get("notes") or ())]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary."""
        return {
            "total": self.total,
            "checked": self.checked,
            "errors": self.errors,
            "outside_jurisdiction": self.outside_jurisdiction,
            "demo_data": self.demo_data,
            "notes": self.notes(),
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
    """Verdict rows plus the input's attributes (ours win on a name clash).

    One row per row of ``result.sites``, in its order. The attributes are joined by
    position: each checked site's ``source_row`` is looked up once in the chunk's
    (integers), and the attribute columns are taken at those positions.
    """
    rs = result.coded_sites()
    # the columns as they are (``DataFrame.drop`` copies the frame: 1.3 ms a chunk)
    out = pd.DataFrame({c: rs[c] for c in rs.columns if c != rs.geometry.name}, copy=False)
    # text columns stay categorical: a few dozen long texts over a million rows are
    # held, and written to Parquet, once each (ChunkWriter writes them as strings)
    fired, demo, notes = verdict_columns(result, rs)
    out.insert(out.columns.get_loc("deciding_rules") + 1, "rules", fired)
    out.insert(out.columns.get_loc("rules") + 1, "demo_data", demo)
    out.insert(out.columns.get_loc("demo_data") + 1, "notes", notes)
    for col in ("verdict", "verdict_zh", "deciding_rules"):
        if not isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(str)
    geometry = rs.geometry.to_numpy()
    if "source_row" in sites.columns and "source_row" in out.columns:
        src = sites["source_row"]
        attrs = pd.DataFrame(sites.drop(columns=[sites.geometry.name, "source_row"]))
        attrs = attrs.drop(columns=[c for c in attrs.columns if c in out.columns])
        if len(attrs.columns) and src.is_unique:
            pos = pd.Index(src.to_numpy()).get_indexer(out["source_row"].to_numpy())
            if (pos >= 0).all():
                extra = attrs.take(pos).reset_index(drop=True)
            else:  # not from this input: missing values, as a left join gives
                extra = attrs.reindex(pd.Index(src.to_numpy())).reindex(
                    out["source_row"].to_numpy()).reset_index(drop=True)  # fmt: skip
            out = pd.concat([out.reset_index(drop=True), extra], axis=1)
    return gpd.GeoDataFrame(out, geometry=geometry, crs=rs.crs)


#: Ids per sorted run of :class:`_SeenIds` beyond which runs are no longer merged.
_RUN_MAX = 1 << 21
#: Bits of :class:`_SeenIds`'s filter (16 MB): at 10 M ids, 7 % of new ids pass it.
_FILTER_BITS = 27


class _SeenIds:
    """The site ids of earlier chunks, with the row each was first seen at.

    Ids are kept as a 64-bit hash and 32 bits of an independent second hash (a match
    must agree on both: a false match takes a 96-bit collision), with their rows as
    32-bit integers while rows fit, in sorted runs merged like a log-structured tree:
    memory 16 bytes per site, lookups by binary search, no Python object per site.
    Runs stop merging at :data:`_RUN_MAX` ids (10 M sites: five runs to search, and
    no 160 MB merge). A one-bit-per-slot filter over the first hash
    (:data:`_FILTER_BITS`) sends only the ids it has a bit for to the runs: nearly
    every id of a batch is new, and was searched in every run (at 10 M sites a
    chunk's lookups grew from 16 to 38 ms).
    """

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.filter: np.ndarray | None = None  # bit per slot of h1's top bits

    @staticmethod
    def _hashes(ids: Any) -> tuple[np.ndarray, np.ndarray]:
        h1, h2 = _text_hashes(ids, _ID_SEEDS)
        return h1, (h2 & np.uint64(0xFFFFFFFF)).astype(np.uint32)

    def remember(self, ids: Any, rows: np.ndarray) -> np.ndarray:
        """Row at which each id was first seen in an earlier call (-1: not seen).

        ``ids`` are texts: an Arrow string array (:func:`_site_id_texts`) or a
        sequence of str. The ids not seen before are remembered, first seen at ``rows``.
        """
        found = np.full(len(ids), -1, dtype=np.int64)
        if not len(ids):
            return found
        h1, h2 = self._hashes(ids)  # once per chunk: the lookup and the run share them
        if self.filter is None:
            self.filter = np.zeros(1 << (_FILTER_BITS - 3), dtype=np.uint8)
        slot = (h1 >> np.uint64(64 - _FILTER_BITS)).astype(np.intp)
        byte, bit = slot >> 3, (slot & 7).astype(np.uint8)
        maybe = np.flatnonzero((self.filter[byte] >> bit) & 1)  # others: surely new
        if len(maybe) and self.runs:
            by_hash = maybe[np.argsort(h1[maybe])]  # sorted needles: each search starts
            lo = np.empty(len(h1), dtype=np.intp)  # where the last one ended
            for k1, k2, first in self.runs:  # oldest run first: the earliest row wins
                lo[by_hash] = np.searchsorted(k1, h1[by_hash], side="left")
                hit = k1[np.minimum(lo[maybe], len(k1) - 1)] == h1[maybe]
                for i in maybe[hit & (found[maybe] < 0)]:  # hash hits: few (duplicates)
                    j = lo[i]
                    while j < len(k1) and k1[j] == h1[i]:
                        if k2[j] == h2[i]:
                            found[i] = first[j]
                            break
                        j += 1
        new = found < 0
        np.bitwise_or.at(self.filter, byte[new], np.left_shift(np.uint8(1), bit[new]))
        rows = np.asarray(rows, dtype=np.int64)[new]
        if len(rows) and 0 <= rows.min() and rows.max() < 2**32:  # 4 bytes a row
            rows = rows.astype(np.uint32)
        self._add(h1[new], h2[new], rows)
        return found

    def _add(self, h1: np.ndarray, h2: np.ndarray, rows: np.ndarray) -> None:
        if not len(h1):
            return
        order = np.argsort(h1, kind="stable")
        run = (h1[order], h2[order], rows[order])
        # runs merge while the newer is as large as the older, up to _RUN_MAX ids: a
        # merge copies both runs, and merging the largest would double the table
        while self.runs and len(self.runs[-1][0]) <= len(run[0]) < _RUN_MAX:
            a = self.runs.pop()
            k1 = np.concatenate([a[0], run[0]])
            o = np.argsort(k1, kind="stable")  # earlier runs first among equal keys
            run = (k1[o], np.concatenate([a[1], run[1]])[o], np.concatenate([a[2], run[2]])[o])
        self.runs.append(run)


def _site_id_texts(chunk: gpd.GeoDataFrame) -> pa.Array | pa.ChunkedArray | None:
    """The ids the check gives the chunk's sites, as Arrow text (None: no ``site_id``).

    The texts of :func:`zoning.check.layer_index.text_array` (a missing id is null,
    which :func:`_text_hashes` reads as ""); a column of Arrow-backed strings (what
    the readers give) is passed on without a copy.
    """
    if "site_id" not in chunk.columns:
        return None
    col = chunk["site_id"]
    if isinstance(col.dtype, pd.StringDtype):
        return pa.array(col.array)
    return pa.array(text_array(col), type=pa.large_string())


#: Seeds of the two hashes :class:`_SeenIds` keeps of each id (any two distinct values).
_ID_SEEDS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place: a bijection of 64-bit words that avalanches."""
    h ^= h >> np.uint64(30)
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(31)
    return h


def _text_hashes(texts: Any, seeds: Iterable[int]) -> list[np.ndarray]:
    """64-bit hashes of texts (their UTF-8 bytes), one array per seed.

    Each text's length, then each of its 8-byte words in turn, is mixed into the seed
    by :func:`_mix`; a text's hash depends on its bytes only, never on the other texts
    of the array. Two texts of one length that differ in one word never collide (each
    step is a bijection). numpy does the work on the Arrow buffers: no Python object
    per text, and the interpreter lock is released (``pd.util.hash_array`` over the
    same ids as Python strings took 9 ms a 40 000-id chunk, this 1.7 ms).

    Parameters
    ----------
    texts
        An Arrow string array (nulls count as "") or a sequence of str.
    seeds
        One hash per seed.

    Returns
    -------
    list of numpy.ndarray
        ``uint64``, one value per text.
    """
    if not isinstance(texts, pa.Array | pa.ChunkedArray):
        texts = pa.array(texts, type=pa.large_string())
    texts = pc.fill_null(texts.cast(pa.large_string()), "")
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    n = len(texts)
    _, offsets_buf, data_buf = texts.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=n + 1, offset=texts.offset * 8)
    data = np.zeros(0, np.uint8) if data_buf is None else np.frombuffer(data_buf, np.uint8)
    length = np.diff(offsets)
    words = (length + 7) // 8
    m = int(words.max()) if n else 0
    padded = np.zeros((n, 8 * max(m, 1)), dtype=np.uint8)  # each text, zero-padded
    if n and (length == length[0]).all():  # ids of one length: one reshape
        padded[:, : length[0]] = data[offsets[0] : offsets[0] + n * length[0]].reshape(n, -1)
    elif n:
        row = np.repeat(np.arange(n), length)
        col = np.arange(int(length.sum())) - np.repeat(offsets[:-1] - offsets[0], length)
        padded[row, col] = data[offsets[0] : offsets[-1]]
    w = padded.view("<u8")
    out = []
    for seed in seeds:
        h = _mix(np.uint64(seed) ^ length.astype(np.uint64))
        for j in range(m):  # a text's own words only: its hash ignores the padding
            on = words > j
            if on.all():
                h = _mix(h ^ w[:, j])
            else:
                h[on] = _mix(h[on] ^ w[on, j])
        out.append(h)
    return out


def _chunk_rows(total: int | None, lanes: int) -> int:
    """Sites per chunk of a batch of ``total`` sites checked ``lanes`` chunks at once.

    Larger chunks cost fewer rounds of reading, settling and writing: 1 000 000
    points took 5.2–5.45 s in chunks of about 71 000 against 5.7–5.75 s in chunks of
    40 000 (``benchmarks/RESULTS.md``). But every lane, the reader and the writer
    each hold a chunk, and the table of site ids seen grows 16 bytes a site, so
    above :data:`_LARGE_BATCH` sites (or when the count is unknown) a chunk holds
    at most :data:`BATCH_CHUNK` sites (10 000 000 points in chunks of 80 000 peaked
    at 1.12 GB, in chunks of 40 000 at 0.92 GB). The chunks are cut even, their
    number a multiple of ``lanes``, so that the lanes finish together: 100 000
    polygons took 5.0–5.1 s in two chunks of 50 000, against 5.3–5.4 s in chunks of
    40 000, 40 000 and 20 000. An input that fits one chunk stays one chunk (the
    checker splits it over the threads).

    Parameters
    ----------
    total
        Sites (input rows) in the batch, or ``None`` when unknown.
    lanes
        Chunks checked at once.

    Returns
    -------
    int
        Rows per chunk, at least 1.
    """
    if total is None or total > _LARGE_BATCH:
        return BATCH_CHUNK
    if total <= _SMALL_BATCH_CHUNK:
        return _SMALL_BATCH_CHUNK
    lanes = max(1, int(lanes))
    chunks = -(-total // (_SMALL_BATCH_CHUNK * lanes)) * lanes
    return -(-total // chunks)


def _input_chunks(
    sites: str | Path | gpd.GeoDataFrame, chunk_size: int | None, read_options: Mapping[str, Any],
    workers: int | None,
) -> tuple[Iterator[gpd.GeoDataFrame] | None, int | None, str, int]:  # fmt: skip
    """The input in chunks, its row count, its name for logs, and its rows per chunk.

    The row count is ``None`` when not cheap to know; the rows per chunk are
    ``chunk_size``, or :func:`_chunk_rows` when ``None``. A file that does not stream
    (:func:`geo.io.chunks.streams`) has no chunks yet (``None``): :func:`run_batch`
    reads it whole once the layers have loaded (:func:`_frame_chunks`), and so knows
    its row count.
    """
    if isinstance(sites, gpd.GeoDataFrame):
        frame = sites.copy()
        if "source_row" not in frame.columns:
            frame["source_row"] = range(1, len(frame) + 1)
        chunks, total, size = _frame_chunks(frame, chunk_size, workers)
        return chunks, total, "input", size
    total = count_rows(sites, layer=read_options.get("layer"))
    size = chunk_size or _chunk_rows(total, _most_lanes(workers))
    if not streams(sites):
        return None, total, str(sites), size
    chunks = iter_vector_chunks(sites, chunk_size=size, **dict(read_options))
    return chunks, total, str(sites), size


def _frame_chunks(
    frame: gpd.GeoDataFrame, chunk_size: int | None, workers: int | None
) -> tuple[Iterator[gpd.GeoDataFrame], int, int]:
    """A read frame (``source_row``, ``attrs["issues"]``) in chunks, its input rows, chunk rows."""
    issues = frame.attrs.get("issues", [])
    total = len(frame) + sum(1 for i in issues if i.get("action") == "rejected")
    size = chunk_size or _chunk_rows(total, _most_lanes(workers))
    return split_frame(frame, size), total, size


def _most_lanes(workers: int | None) -> int:
    """Chunks checked at once by checkers that take chunks in parallel (see :func:`_lanes`)."""
    cores = available_cores()
    return max(1, cores if workers is None else min(int(workers), cores))


def _lanes(
    checker: Any, extra: Mapping[str, Any], workers: int | None, total: int | None,
    chunk_size: int,
) -> int:  # fmt: skip
    """How many chunks to check at once.

    A chunk's check has a serial part (reading its sites, building its frames) that
    holds the interpreter lock; checking two chunks at once lets one chunk's serial
    part run while the other's GEOS and numpy work runs, where splitting each chunk
    over threads leaves the serial part alone. So with more than one chunk to check
    and more than one worker (``workers``, or every available core), whole chunks
    go to ``workers`` threads, each checking its chunk on one thread; a single chunk
    is split over threads by the checker itself. Checkers whose ``check`` takes no
    ``workers`` (not in ``extra``, see :func:`_check_kwargs`) or that have no ``warm``
    get one lane. Never more lanes than cores:
    each lane holds a chunk in memory, and more lanes than cores only add memory.
    """
    if "workers" not in extra or not hasattr(checker, "warm"):
        return 1
    if total is not None and total <= chunk_size:
        return 1
    return _most_lanes(workers)


#: Allocations between young-generation collections while batches run (Python: 700).
_BATCH_GC_THRESHOLD = 20_000
#: Young collections between middle-generation ones while batches run (Python: 10).
_BATCH_GC_MIDDLE = 100
_gc_lock = threading.Lock()
_gc_batches = 0  # batches running (the first sets the threshold, the last restores it)
_gc_saved: tuple[int, ...] = ()
_gc_froze = False  # a batch froze the heap (the last to finish unfreezes it)


@contextmanager
def _fewer_collections() -> Iterator[Callable[[], None]]:
    """Collect reference cycles less often while a batch runs.

    Each chunk makes and drops hundreds of thousands of objects that form no cycles
    (ids, texts, tuples of feature ids); at Python's default every 700 allocations
    start a collection, and the older generations' collections walk every object the
    process holds (1 M points: about 0.5 s of 10, 0.7 CPU-s). Overlapping batches
    share one setting; the last to finish restores the caller's.

    The middle generation is collected every :data:`_BATCH_GC_MIDDLE` young
    collections, not every 10: the chunks in flight hold their sites' shapely points
    (tracked by the collector) until they are written, so each middle collection
    walked about 250 000 of them (8–18 ms with the interpreter lock held, 24 times
    for 1 M points, none freeing a cycle): collections fell from 180 to 85 ms of
    that batch, and its peak memory moved by less than 15 MB.

    Entered as the batch starts: while the layers load and the checker is built,
    Python's default ran three collections of the whole heap (37–48 ms each, 1 M
    points), on the one core a batch's start has. The function yielded freezes the
    heap (:func:`gc.freeze`) once the checker is built: the modules, the layers and
    the indexes live as long as the batch, and no later collection walks them. The
    last batch to finish unfreezes it. A heap someone else froze (a server that forks
    its workers) is left as it is.

    Yields
    ------
    callable
        ``freeze()``: call once the batch's long-lived objects are made.
    """
    global _gc_batches, _gc_saved, _gc_froze
    with _gc_lock:
        if _gc_batches == 0:
            _gc_saved = gc.get_threshold()
            if _gc_saved[0]:  # 0: collection is off, left as it is
                young, middle, *older = _gc_saved
                gc.set_threshold(
                    max(young, _BATCH_GC_THRESHOLD), max(middle, _BATCH_GC_MIDDLE), *older
                )
        _gc_batches += 1

    def freeze() -> None:
        global _gc_froze
        with _gc_lock:
            if not _gc_froze and gc.isenabled() and gc.get_freeze_count() == 0:
                gc.freeze()
                _gc_froze = True

    try:
        yield freeze
    finally:
        with _gc_lock:
            _gc_batches -= 1
            if _gc_batches == 0:
                gc.set_threshold(*_gc_saved)
                if _gc_froze:
                    gc.unfreeze()
                    _gc_froze = False


def batch_output_driver(out: str | Path) -> str | None:
    """The format a batch writes ``out`` in, known from its suffix before any work.

    Parameters
    ----------
    out
        The batch's output path.

    Returns
    -------
    str or None
        The GDAL driver (see :func:`geo.io.writers.output_driver`); ``None`` for an
        ``.xlsx`` workbook (sites, findings and errors sheets).

    Raises
    ------
    InputFormatError
        A suffix no writer knows, naming every format a batch writes.
    """
    if Path(out).suffix.lower() == ".xlsx":
        return None
    try:
        return output_driver(out)
    except InputFormatError as err:
        raise InputFormatError(f"{err} A batch also writes .xlsx workbooks.") from err


def _check_kwargs(checker: Any, workers: int | None, distances: Any) -> dict[str, Any]:
    """``workers`` / ``distances`` for checkers whose ``check`` takes them.

    ``relations=False`` too: a batch writes verdict rows, never the relation rows.
    """
    params = inspect.signature(checker.check).parameters
    given = (("workers", workers), ("distances", distances), ("relations", False))
    return {k: v for k, v in given if k in params}


def batch_distances(
    checker: Any, distances: Any, project: Project | None, columns: Iterable[str]
) -> Any:
    """``distances`` fixed for a whole batch: every chunk writes the same columns.

    ``"rules"`` becomes the kinds read by the ``nearest`` rules that apply to the
    batch's project: ``project``, or, without one, the unknown project when the input
    (``columns``) has no project column. With per-row project columns every
    ``nearest`` rule counts (a later row may bring any project). Other values, and
    checkers without :meth:`~zoning.check.engine.SiteChecker.distance_kinds`, as given.
    """
    if not (isinstance(distances, str) and distances == "rules"):
        return distances
    if not hasattr(checker, "distance_kinds"):
        return distances
    if project is None and condition_columns(columns):
        return distances
    return checker.distance_kinds("rules", projects=[project])


def _peek(
    chunks: Iterator[gpd.GeoDataFrame],
) -> tuple[gpd.GeoDataFrame | None, Iterator[gpd.GeoDataFrame]]:
    """The first chunk (``None``: no chunk), and the chunks (that one included)."""
    first = next(chunks, None)
    if first is None:
        return None, iter(())
    return first, itertools.chain([first], chunks)


def _points_expected(first: gpd.GeoDataFrame | None, total: int | None) -> int:
    """Point sites a batch of ``total`` rows brings, judged by its first chunk (0: unknown)."""
    if first is None or total is None or len(first) == 0:
        return 0
    share = float(np.mean(shapely.get_type_id(first.geometry.array) == 0))
    return int(total * share)


def _combined_stamp(
    stamps: list[dict[str, Any]], sites: int, chunk_size: int, rules: Iterable[Any] = ()
) -> dict[str, Any]:
    """One stamp for the batch: the first chunk's, with the chunked input checksum.

    Its ``notes`` are those every chunk's stamp has (the notes every site shares). A
    chunk holding one project states that project's assumptions; when the chunks'
    notes differ, projects came row by row, and the batch states the rule applied to
    each row instead (:func:`zoning.check.notes.per_row_projects_note`).
    """
    stamp = dict(stamps[0]) if stamps else {}
    if stamps:
        every = [[(n["kind"], n["text"]) for n in st.get("notes") or ()] for st in stamps]
        shared = [n for n in stamps[0].get("notes") or () if all(
            (n["kind"], n["text"]) in keys for keys in every)]  # fmt: skip
        per_row = per_row_projects_note(rules)
        if any(keys != every[0] for keys in every) and per_row not in shared:
            shared.append(per_row)
        stamp["notes"] = shared
    h = hashlib.sha256()
    for st in stamps:
        h.update(f"{st.get('input_checksum', '')}\n".encode())
    stamp["input_checksum"] = h.hexdigest()
    stamp["input_checksum_method"] = "sha256 of the chunks' input checksums, in order"
    stamp["chunk_size"] = chunk_size
    stamp["chunks"] = len(stamps)
    stamp["sites"] = sites
    return stamp


def run_batch(
    sites_path_or_gdf: str | Path | gpd.GeoDataFrame,
    *,
    pack: Pack | str | Path,
    store_or_layers: Any,
    out: str | Path,
    errors_out: str | Path | None = None,
    project: Project | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    read_options: Mapping[str, Any] | None = None,
    chunk_size: int | None = None,
    missing_layers: Literal["raise", "skip"] = "raise",
    write_options: Callable[[gpd.GeoDataFrame, Path], Mapping[str, Any]] | None = None,
    workers: int | None = None,
    distances: str | Iterable[str] = "rules",
    keep_sites: bool = True,
) -> BatchSummary:
    """Check every site of a file (or GeoDataFrame) and write the verdicts, in chunks.

    Parameters
    ----------
    sites_path_or_gdf
        A file :func:`geo.io.read_vector` reads (GeoParquet, GeoPackage, shapefile,
        GeoJSON, CSV/XLSX with lon/lat, KML, DXF, ...) or a GeoDataFrame (with
        ``.crs``; a ``source_row`` column is added when missing, 1-based).
    pack
        A :class:`zoning.pack.Pack` or the name / path of one.
    store_or_layers
        A :class:`layers.LayerStore`, the path of a store, or a mapping kind → layer.
    out
        Output file; the format follows the suffix (.parquet, .gpkg, .csv stream;
        .geojson, .shp, .gdb, .xlsx are written once at the end).
    errors_out
        CSV of the rows that could not be checked; default ``<out stem>.errors.csv``
        next to ``out``.
    project
        One project for every site, or ``None`` to read per-row project columns
        (:func:`zoning.project.project_from_row`; bad values make that row an error).
    progress
        Called as ``progress(done, total)`` after each chunk: input rows processed
        (read, rejected or checked) and the input's rows (``None`` while unknown:
        formats whose row count is not in their metadata); a last call has
        ``done == total``.
    read_options
        Passed to :func:`geo.io.read_vector` (``crs``, ``coords="gcj02"``, ``zone``,
        ``layer``, ``encoding``, ``lon_col``, ``lat_col``).
    chunk_size
        Input rows read, checked and written at once (bounds memory); ``None``
        (default) chooses by the input's size (:func:`_chunk_rows`).
    missing_layers
        ``"raise"`` when a layer kind the pack needs is missing, or ``"skip"`` its
        rules (with a warning).
    write_options
        Called with the (first) output frame and ``out``; returns extra keywords for
        :func:`geo.io.write_vector` (``style=`` the verdict style, ``aliases=``,
        ``raw=``): the CLI passes :func:`maps.qgis_style.write_options`, so zoning
        needs no maps.
    workers
        Chunks checked at once, one thread each (``None``: every available core; never
        more than the cores: each holds a chunk in memory); a one-chunk input is split
        over that many threads by :meth:`zoning.check.engine.SiteChecker.check` instead.
        Results do not depend on it.
    distances
        Which ``dist_<kind>_m`` columns to compute: ``"rules"`` (default: the kinds
        read by the pack's ``nearest`` rules that apply to the batch's project, see
        :func:`batch_distances`), ``"all"``, or layer kinds.
    keep_sites
        Keep every verdict row in :attr:`BatchSummary.sites` (for a map of the
        results); ``False`` keeps memory flat (``sites`` is then ``None``).

    Returns
    -------
    BatchSummary

    Raises
    ------
    InputFormatError
        The input cannot be read at all (unknown format, empty file), ``out`` has
        a suffix no writer knows, or ``out`` or ``errors_out`` is the input file (or
        both are one file), before any work.
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
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        msg = f"chunk_size must be a whole number >= 1, got {chunk_size!r}"
        raise InputFormatError(msg)
    out = Path(out)
    errors_path = (
        Path(errors_out) if errors_out is not None else out.with_name(f"{out.stem}.errors.csv")
    )
    source = None if isinstance(sites_path_or_gdf, gpd.GeoDataFrame) else sites_path_or_gdf
    errors_label = "errors_out (--errors" + (")" if errors_out else ", default <out>.errors.csv)")
    check_outputs(source, {"out (--out)": out, errors_label: errors_path})
    driver = batch_output_driver(out)
    xlsx = driver is None
    streamed = driver in ("Parquet", "GPKG", "CSV")
    read_options = dict(read_options or {})
    from zoning.workflow import build_checker  # jurisdiction and extents, as every path

    run = _Run(out, write_options, keep_sites=keep_sites or not streamed, collect_findings=xlsx)
    with warnings.catch_warnings(), ExitStack() as reading:
        # rejected/repaired rows are reported in the errors file and the summary
        warnings.simplefilter("ignore", RowRejectedWarning)
        warnings.simplefilter("ignore", GeometryRepairedWarning)
        freeze_long_lived = reading.enter_context(_fewer_collections())
        chunks, total, source, chunk_size = _input_chunks(
            sites_path_or_gdf, chunk_size, read_options, workers
        )
        # an input read chunk by chunk: the reader thread reads the first chunks while
        # the layers load and the checker is built (a read error surfaces at the first
        # chunk, as before); a file read whole waits for the layers, so that a store or
        # pack error comes at once, not after the whole file has been read
        if chunks is not None:
            chunks = reading.enter_context(read_ahead(chunks))
        layers = load_layers(store_or_layers, pack.layer_kinds())
        checker = build_checker(pack, layers, missing_layers=missing_layers)
        if chunks is None:
            # read whole now, so that its rows are known (the writer's choice); in the
            # chunks of an unknown count, as before: the whole file is held besides
            # them (1 000 000 CSV rows in chunks of 71 000 peaked at 1.14 GB)
            chunks, total, chunk_size = _frame_chunks(
                read_vector(sites_path_or_gdf, **dict(read_options)), chunk_size, workers
            )
            chunks = reading.enter_context(read_ahead(chunks))
        first, chunks = _peek(chunks)
        columns = [] if first is None else list(first.columns)
        extra = _check_kwargs(
            checker, workers, batch_distances(checker, distances, project, columns)
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        lanes = _lanes(checker, extra, workers, total, chunk_size)
        if lanes > 1:  # whole chunks at once, each on one thread (see _lanes)
            extra = {**extra, "workers": 1}
            checker.warm()
        if hasattr(checker, "expect_points"):  # (grids built beside the first chunks)
            grids = checker.expect_points(_points_expected(first, total))
            if grids is not None:
                reading.callback(grids.join)
        del first
        freeze_long_lived()  # the layers and the checker's indexes: out of later GC walks
        with run.writer(streamed, total) as writer, ThreadPoolExecutor(
            1, thread_name_prefix="ecozone-batch-writer"
        ) as ex, ThreadPoolExecutor(
            lanes, thread_name_prefix="ecozone-batch-check"
        ) as pool:  # fmt: skip
            written: Future[None] | None = None
            checking: deque[tuple[_Pending, Future[_Checked]]] = deque()
            settled: deque[tuple[_Checked, np.ndarray | None]] = deque()

            def settle_first() -> None:
                taken, fut = checking.popleft()
                checked = fut.result()
                settled.append((checked, run.settle(taken, checked.result)))
                if progress is not None:
                    progress(run.done, total)

            def write_settled() -> None:
                nonlocal written
                while settled:
                    if written is not None:
                        written.result()  # one chunk in the writer at most; errors surface here
                    written = ex.submit(run.emit, writer, *settled.popleft())

            for chunk in chunks:
                taken = run.begin(chunk)
                if lanes == 1:  # in this thread (as profilers of the main thread see it)
                    fut: Future[_Checked] = Future()
                    fut.set_result(run.check(checker, taken, project, read_options, extra))
                else:
                    fut = pool.submit(run.check, checker, taken, project, read_options, extra)
                checking.append((taken, fut))
                # the lane freed by the last settled chunk has work again: now wait for
                # the writer (waiting first would leave that lane idle meanwhile)
                write_settled()
                if len(checking) >= lanes:
                    settle_first()
            while checking:
                settle_first()
                write_settled()
            write_settled()  # (one lane: the last chunk was settled in the loop)
            if written is not None:
                written.result()
            run.finish(writer)
    errors_df = pd.DataFrame(run.err_rows, columns=_ERROR_COLUMNS)
    if len(errors_df):
        errors_df = errors_df.sort_values("source_row", kind="stable", na_position="last")
    write_csv(errors_df, errors_path)  # site ids are user text: formula-safe
    frame = run.sites_frame()
    if not streamed:
        if xlsx:  # a workbook for people: sites, findings, errors
            findings = pd.concat(run.findings, ignore_index=True) if run.findings else None
            write_results_xlsx(frame, findings, errors_df, out)
        else:
            write_vector(frame, out, **dict(write_options(frame, out) if write_options else {}))
    if progress is not None:
        progress(run.done, run.done)
    summary = BatchSummary(
        total=run.checked + len(errors_df),
        checked=run.checked,
        errors=len(errors_df),
        by_verdict={v: run.counts.get(v, 0) for v in VERDICTS},
        repaired=run.repaired,
        out=out,
        errors_out=errors_path,
        elapsed_s=time.perf_counter() - t0,
        stamp=_combined_stamp(run.stamps, run.sites, chunk_size, checker.rules),
        sites=frame if keep_sites else None,
        outside_jurisdiction=int((errors_df["status"] == "outside_jurisdiction").sum()),
    )
    log.info(
        "checked %d sites from %s (%d errors) in %.1f s: %s",
        summary.checked, source, summary.errors, summary.elapsed_s, summary.by_verdict,
    )  # fmt: skip
    return summary


class _Checked(NamedTuple):
    """A chunk's check and its verdict rows (:func:`_output_frame`), from its lane."""

    result: CheckResult
    frame: gpd.GeoDataFrame
    xy: np.ndarray | None  # the rows' point coordinates, when read once (CheckResult.site_xy)


@dataclass
class _Pending:
    """A chunk taken by :meth:`_Run.begin`, waiting for its check."""

    chunk: gpd.GeoDataFrame  # as read (its attributes go to the output)
    checked: gpd.GeoDataFrame  # as checked (repeated ids under stand-ins)
    ids: np.ndarray | None
    first: np.ndarray  # per site: row of an earlier chunk with its id (-1: none)
    again: np.ndarray  # per site: its id was in an earlier chunk
    read_errors: list[dict[str, Any]]
    rows: int  # input rows the chunk accounts for (read, or rejected with a row)


class _Run:
    """The state of one batch across chunks (the check side and the writer side)."""

    def __init__(
        self,
        out: Path,
        write_options: Callable[[gpd.GeoDataFrame, Path], Mapping[str, Any]] | None,
        *,
        keep_sites: bool,
        collect_findings: bool,
    ) -> None:
        self.out = out
        self.write_options = write_options
        self.keep_sites = keep_sites
        self.collect_findings = collect_findings
        self.seen = _SeenIds()
        self.err_rows: list[dict[str, Any]] = []
        self.stamps: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.frames: list[gpd.GeoDataFrame] = []
        self.findings: list[pd.DataFrame] = []
        self.empty: gpd.GeoDataFrame | None = None
        self.done = self.checked = self.repaired = self.sites = self.finding_rows = 0
        self._writer: ChunkWriter | None = None

    # -------------------------------------------------------------- check side

    def begin(self, chunk: gpd.GeoDataFrame) -> _Pending:
        """Take one chunk in input order: its read errors, and ids seen in earlier chunks.

        Sites whose id an earlier chunk had are checked under a stand-in id (so that the
        chunk's own check does not mistake them for repeats within the chunk) and
        reported by :meth:`settle` as a one-pass check reports them.
        """
        issues = list(chunk.attrs.get("issues", []))
        rejected = [i for i in issues if i.get("action") == "rejected"]
        self.repaired += len({i.get("row") for i in issues if i.get("action") == "repaired"})
        read_errors = [
            {"source_row": i.get("row"), "site_id": None, "stage": "read",
             "status": "invalid_input", "reason": i.get("reason", "")}
            for i in rejected
        ]  # fmt: skip
        rows = len(chunk) + sum(1 for i in rejected if i.get("row") is not None)
        texts = _site_id_texts(chunk)
        ids = None  # as Python strings: only for chunks with ids of earlier chunks
        again = np.zeros(len(chunk), dtype=bool)
        first = np.zeros(0, dtype=np.int64)
        checked = chunk
        if texts is not None:
            first = self.seen.remember(texts, chunk["source_row"].to_numpy())
            again = first >= 0
            if again.any():  # checked under a stand-in id, reported as in a one-pass check
                ids = text_array(chunk["site_id"])
                checked = chunk.copy()
                stand_in = ids.copy()
                stand_in[again] = [f"\x00repeat:{i}" for i in np.flatnonzero(again)]
                checked["site_id"] = stand_in
        return _Pending(chunk, checked, ids, first, again, read_errors, rows)

    @staticmethod
    def check(
        checker: Any,
        pending: _Pending,
        project: Project | None,
        read_options: Mapping[str, Any],
        extra: Mapping[str, Any],
    ) -> _Checked:
        """Check one chunk taken by :meth:`begin`, and build its verdict rows.

        Chunks may be checked at once, each on its lane: the rows are built there too,
        so that the writer thread, which takes the chunks one by one in input order,
        only writes them (the last chunks' rows no longer wait for each other).
        """
        chunk = pending.checked
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GeometryRepairedWarning)  # counted by begin
            result = checker.check(
                chunk, project=project, chunk_size=max(len(chunk), 1),
                input_system=read_options.get("coords"), **extra,
            )  # fmt: skip
        return _Checked(result, _output_frame(result, pending.chunk), result.site_xy())

    def settle(self, pending: _Pending, result: CheckResult) -> np.ndarray | None:
        """Record one checked chunk, in input order: its errors and repeated ids.

        Returns the mask of ``result.sites`` rows to leave out (sites whose id an
        earlier chunk had, reported as errors instead), or ``None``.
        """
        self.done += pending.rows  # progress counts checked chunks, not those in flight
        self.err_rows += pending.read_errors
        self.stamps.append(result.stamp)
        self.sites += len(pending.checked)
        drop = None
        errors = result.errors
        if pending.again.any():
            drop, errors = self._repeats(
                result, pending.ids, pending.first, pending.again, pending.checked
            )
        self.err_rows += [
            {"source_row": None if pd.isna(e.source_row) else int(e.source_row),
             "site_id": e.site_id, "stage": "check", "status": e.status, "reason": e.reason}
            for e in errors.itertuples(index=False)
        ]  # fmt: skip
        return drop

    @staticmethod
    def _repeats(
        result: CheckResult,
        ids: np.ndarray,
        first: np.ndarray,
        again: np.ndarray,
        chunk: gpd.GeoDataFrame,
    ) -> tuple[np.ndarray, pd.DataFrame]:
        """Sites whose id an earlier chunk had: errors, unless their geometry is one."""
        where = {f"\x00repeat:{i}": i for i in np.flatnonzero(again)}
        errors = result.errors.copy()
        for k, sid in enumerate(errors["site_id"].tolist()):
            i = where.pop(sid, None)
            if i is None:
                continue
            errors.iat[k, errors.columns.get_loc("site_id")] = ids[i]
            if not str(errors["reason"].iloc[k]).startswith(_GEOMETRY_REASONS):
                errors.iat[k, errors.columns.get_loc("reason")] = _repeat_reason(ids[i], first[i])
                errors.iat[k, errors.columns.get_loc("status")] = "invalid_input"
        # the rest were checked: drop their rows, report them instead
        drop = np.isin(result.sites["site_id"].to_numpy(), np.asarray(list(where), dtype=object))
        rows = chunk["source_row"].to_numpy()
        late = pd.DataFrame(
            {"site_id": [ids[i] for i in where.values()],
             "source_row": [rows[i] for i in where.values()],
             "reason": [_repeat_reason(ids[i], first[i]) for i in where.values()],
             "status": "invalid_input"}
        )  # fmt: skip
        errors = pd.concat([errors, late], ignore_index=True) if len(late) else errors
        order = np.argsort(errors["source_row"].to_numpy(dtype=float), kind="stable")
        return drop, errors.iloc[order].reset_index(drop=True)

    # -------------------------------------------------------------- writer side

    def writer(self, streamed: bool, rows: int | None = None) -> Any:
        """The ChunkWriter of a streamed output (its options set at the first frame), or a no-op.

        Opened before the first chunk is checked: a GeoPackage's writing process
        starts meanwhile (:class:`geo.io.stream_writer.ChunkWriter`; ``rows``: the
        input's rows, when known, which tell it whether to start one).
        """
        import contextlib

        run = self

        @contextlib.contextmanager
        def _ctx() -> Iterator[Any]:
            if not streamed:
                yield None
                return
            with ChunkWriter(self.out, expected_rows=rows) as w:
                run._writer = w
                yield run

        return _ctx()

    def _ready(self, frame: gpd.GeoDataFrame) -> ChunkWriter:
        """The writer, given the options of the first frame (its style, raw CSV cells)."""
        assert self._writer is not None
        if not self._writer.started:
            opts = dict(self.write_options(frame, self.out) if self.write_options else {})
            self._writer.configure(style=opts.get("style"), raw=bool(opts.get("raw")))
        return self._writer

    def emit(self, writer: Any, checked: _Checked, drop: np.ndarray | None) -> None:
        """Write one chunk's verdict rows, less those ``drop`` leaves out (the writer thread)."""
        result, frame, xy = checked
        if drop is not None and drop.any():
            frame = frame.loc[~drop].reset_index(drop=True)
            xy = None if xy is None else xy[~drop]
        vc = frame["verdict"].value_counts()
        for v, c in vc.items():
            self.counts[str(v)] = self.counts.get(str(v), 0) + int(c)
        self.checked += len(frame)
        if self.collect_findings:
            f = result.findings
            if drop is not None and drop.any():
                gone = set(result.sites["site_id"].to_numpy()[drop].tolist())
                f = f[~f["site_id"].isin(gone)]
            self.findings.append(f)
            self.finding_rows += len(f)
            # a workbook's sheets are bounded: stop as soon as they overflow
            check_sheet_rows(max(self.checked, self.finding_rows), self.out)
        if len(frame) == 0:
            self.empty = frame
            return
        if self.keep_sites:
            self.frames.append(frame)
        if writer is not None:
            self._ready(frame).write(frame, point_xy=xy)

    def finish(self, writer: Any) -> None:
        """Write an empty output when no site was checked (the file always exists)."""
        if writer is not None and self._writer is not None and not self._writer.started:
            frame = self.empty if self.empty is not None else self.sites_frame()
            self._ready(frame).write(frame)

    def sites_frame(self) -> gpd.GeoDataFrame:
        """Every verdict row kept (``keep_sites``), or an empty frame."""
        if self.frames:
            if len(self.frames) == 1:
                return self.frames[0]
            return gpd.GeoDataFrame(pd.concat(self.frames, ignore_index=True),
                                    crs=self.frames[0].crs)  # fmt: skip
        if self.empty is not None:
            return self.empty
        return gpd.GeoDataFrame({c: [] for c in _OWN_COLUMNS}, geometry=[], crs="EPSG:4326")


def _repeat_reason(site_id: str, first_row: int) -> str:
    """The reason zoning.check.sites.normalise_sites gives a repeated id, for a later chunk."""
    return (
        f"site_id {site_id!r} 重复 / duplicated (first at row {first_row}); "
        "give each site a unique id"
    )
