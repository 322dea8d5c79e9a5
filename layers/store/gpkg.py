"""LayerStore: versioned thematic layers in one GeoPackage file.

Layout of the GeoPackage (every table opens in QGIS):

- ``<name>__v<N>``: one ordinary GPKG feature table per imported version, never
  changed after import (``redline__v3``);
- ``<name>``: a spatial view of the latest version, registered in ``gpkg_contents``
  so QGIS lists it beside the versions;
- ``ecozone_layer_versions``: one row per committed version (kind, source, source
  date, CRS, row count, sha256 checksum, synthetic flag, creation time). A version
  exists only once its row is committed;
- ``ecozone_pending_imports``: imports that have started writing a feature table.

An import (1) records the table it is about to write in ``ecozone_pending_imports``,
(2) writes the feature table with pyogrio/GDAL, (3) reads it back and computes the
checksum from what was stored, then (4) in one SQLite transaction inserts the
``ecozone_layer_versions`` row, removes the pending row and points the latest view
at the new table. A process killed before (4) leaves at most a pending row and a
partial table; nothing reads them, and the next store opened on the file drops them.
``restore_version`` (used by ``ecozone layers copy``) writes a version read from
another store through the same steps, keeping its version number, creation time and
source CRS, and records nothing unless the stored content has the original checksum.

Imports take an exclusive lock on ``<store>.lock`` (``flock``; released by the OS
if the process dies), so versions are numbered without races and the clean-up never
touches an import that is still running. Reads take no file lock: they only follow
committed rows, whose tables are complete. Within one process, all access to one
file is serialised by a lock, because GDAL and Python's ``sqlite3`` carry separate
copies of SQLite whose POSIX locks would otherwise cancel each other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely.errors

from geo.errors import (
    ChecksumMismatchError,
    LayerNotFoundError,
    LayerValidationError,
    StoreError,
)
from geo.version import __version__
from layers.extent import extent_from_row, extent_to_row, parse_extent
from layers.kinds import STORAGE_CRS, canonical_kind, kind_info
from layers.layer import Layer, layer_checksum
from layers.store import _gpkg
from layers.store import verified as _verified
from layers.store._gpkg import (
    EXTENTS_TABLE,
    INFO_TABLE,
    PENDING_TABLE,
    SCHEMA_VERSION,
    VERSIONS_TABLE,
    FileLock,
    process_lock,
)
from layers.store.base import MissingKindError, StoreBase, now_iso

log = logging.getLogger(__name__)

__all__ = ["LayerStore", "MissingKindError"]

_SQLITE_TIMEOUT_S = 30.0
_LOCK_TIMEOUT_S = 600.0
_CACHE_SIZE = 16

try:  # arrow reads are 1.5-2x faster; fall back quietly where pyarrow is missing
    import pyarrow  # noqa: F401

    _USE_ARROW = True
except ImportError:  # pragma: no cover - pyarrow is a dependency
    _USE_ARROW = False


def _iso_utc(value: datetime) -> str:
    """``created_at`` as stored (as :func:`layers.store.base.now_iso`); naive times are UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class LayerStore(StoreBase):
    """Versioned layers in a GeoPackage file.

    Parameters
    ----------
    path
        The ``.gpkg`` file. Created (empty) when missing and ``create`` is true.
    create
        Create a missing file; with ``False`` a missing file raises StoreError.

    Raises
    ------
    StoreError
        If the file is missing (and ``create`` is false), is not a SQLite/GeoPackage
        file, or was written by a newer ecozone.

    Examples
    --------
    >>> with LayerStore("ecozone.gpkg") as store:  # doctest: +SKIP
    ...     store.import_layer(gdf, name="redline", kind="redline", source="京政发〔2018〕18号")
    ...     redline = store.get_kind("redline")
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self._path = Path(path).expanduser().absolute()
        self._lock_path = self._path.with_name(self._path.name + ".lock")
        self._plock = process_lock(self._path.resolve())
        self._cache: OrderedDict[str, tuple[tuple[int, int], gpd.GeoDataFrame]] = OrderedDict()
        self._session = threading.local()  # .con: this thread's _metadata() connection
        self._closed = False
        if not self._path.exists():
            if not create:
                msg = f"No layer store at {self._path}; check the path or pass create=True."
                raise StoreError(msg)
            _gpkg.create_gpkg(self._path)
        else:
            _gpkg.refuse_non_store(self._path)
        self._writable = os.access(self._path, os.W_OK) and os.access(self._path.parent, os.W_OK)
        if self._writable:
            with self._connect() as con:
                _gpkg.ensure_schema(con)
            self._clean_orphans(timeout=0)
        self._check_schema_version()

    # -- plumbing ---------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The GeoPackage file."""
        return self._path

    def __enter__(self) -> LayerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release cached layers; the store cannot be used afterwards."""
        self._cache.clear()
        self._closed = True

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._latest_rows())} layers"
        return f"LayerStore({str(self._path)!r}, {state})"

    @contextlib.contextmanager
    def _metadata(self) -> Iterator[None]:
        # a connection's first statement reads the whole GeoPackage schema (~1 ms):
        # a layer's rows and extent share one; GDAL reads no table meanwhile
        with self._connect() as con:
            self._session.con = con
            try:
                yield
            finally:
                self._session.con = None

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            msg = f"The layer store {self._path} is closed; open it again with open_store()."
            raise StoreError(msg)
        shared = getattr(self._session, "con", None)
        if shared is not None:  # inside _metadata(), which closes it
            yield shared
            return
        with self._plock:
            con = sqlite3.connect(self._path, timeout=_SQLITE_TIMEOUT_S, isolation_level=None)
            con.row_factory = sqlite3.Row
            try:
                yield con
            except sqlite3.DatabaseError as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                msg = f"SQLite error on layer store {self._path}: {exc}"
                raise StoreError(msg) from exc
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            finally:
                con.close()

    def _check_schema_version(self) -> None:
        with self._connect() as con:
            if not _gpkg.has_table(con, INFO_TABLE):
                return
            row = con.execute(
                f"SELECT value FROM {INFO_TABLE} WHERE key = 'schema_version'"
            ).fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            msg = (
                f"The layer store {self._path} has schema version {row[0]}, newer than this "
                f"ecozone understands ({SCHEMA_VERSION}); upgrade ecozone."
            )
            raise StoreError(msg)

    def _clean_orphans(self, *, timeout: float) -> int:
        """Drop tables of imports that never committed; returns how many were dropped."""
        lock = FileLock(self._lock_path)
        try:
            got = lock.acquire(timeout=timeout)
        except OSError as exc:
            log.debug("cannot lock %s (%s); orphan clean-up skipped", self._lock_path, exc)
            return 0
        if not got:
            log.debug("an import is running on %s; orphan clean-up skipped", self._path)
            return 0
        try:
            return self._clean_orphans_locked()
        finally:
            lock.release()

    def _clean_orphans_locked(self) -> int:
        with self._connect() as con:
            if not _gpkg.has_table(con, PENDING_TABLE):
                return 0
            pending = [r[0] for r in con.execute(f"SELECT table_name FROM {PENDING_TABLE}")]
            if not pending:
                return 0
            con.execute("BEGIN IMMEDIATE")
            dropped = 0
            for table in pending:
                done = con.execute(
                    f"SELECT 1 FROM {VERSIONS_TABLE} WHERE table_name = ?", (table,)
                ).fetchone()
                if done is None:
                    _gpkg.drop_feature_table(con, table)
                    dropped += 1
                con.execute(f"DELETE FROM {PENDING_TABLE} WHERE table_name = ?", (table,))
            con.execute("COMMIT")
        if dropped:
            log.warning(
                "layer store %s: removed %d unfinished import(s) left by an interrupted "
                "process: %s",
                self._path,
                dropped,
                ", ".join(pending),
            )
        return dropped

    def _signature(self) -> tuple[int, int]:
        st = self._path.stat()
        return st.st_mtime_ns, st.st_size

    def _read_table(self, table: str) -> gpd.GeoDataFrame:
        delay = 0.05
        for attempt in range(8):
            try:
                with self._plock:
                    gdf = pyogrio.read_dataframe(self._path, layer=table, use_arrow=_USE_ARROW)
                gdf.index = pd.RangeIndex(len(gdf))
                return gdf
            except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
                text = str(exc).lower()
                if ("locked" in text or "busy" in text) and attempt < 7:
                    time.sleep(delay)  # a writer is committing in another process
                    delay *= 2
                    continue
                msg = f"Cannot read table {table!r} of layer store {self._path}: {exc}"
                raise StoreError(msg) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # -- metadata ---------------------------------------------------------------

    def _where(self) -> str:
        return str(self._path)

    def _rows(self, where: str = "", params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._connect() as con:
            if not _gpkg.has_table(con, VERSIONS_TABLE):
                return []
            sql = f"SELECT * FROM {VERSIONS_TABLE} m {where}"
            return con.execute(sql, params).fetchall()

    def _latest_rows(self) -> list[sqlite3.Row]:
        return self._rows(
            f"WHERE version = (SELECT MAX(version) FROM {VERSIONS_TABLE} WHERE name = m.name) "
            "ORDER BY name"
        )

    def _row(self, name: str, version: int | None) -> sqlite3.Row:
        rows = self._rows("WHERE name = ? ORDER BY version", (name,))
        if not rows:
            names = sorted({r["name"] for r in self._latest_rows()})
            msg = (
                f"图层不存在 / No layer named {name!r} in the store {self._path}. Layers: "
                f"{', '.join(names) or '(none)'}. Import it with store.import_layer(...)."
            )
            raise LayerNotFoundError(msg)
        if version is None:
            return rows[-1]
        for r in rows:
            if r["version"] == version:
                return r
        msg = (
            f"图层版本不存在 / "
            f"Layer {name!r} has no version {version!r} in the store {self._path}; versions: "
            f"{', '.join(str(r['version']) for r in rows)}."
        )
        raise LayerNotFoundError(msg)

    def _read_extent(self, name: str, version: int) -> dict[str, Any] | None:
        with self._connect() as con:
            if not _gpkg.has_table(con, EXTENTS_TABLE):  # a store from before extents
                return None
            row = con.execute(
                f"SELECT adcodes, wkt FROM {EXTENTS_TABLE} WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
        return None if row is None else extent_from_row(row[0], row[1])

    def set_extent(self, name: str, version: int | None, extent: Any) -> dict[str, Any] | None:
        """Record the extent of a stored layer version (replacing any recorded one).

        For stores whose layers were imported before extents were recorded; a new
        import records its extent itself (``import_layer(extent=...)``).

        Parameters
        ----------
        name, version
            The layer version (``None``: the latest).
        extent
            Anything :func:`layers.extent.parse_extent` reads (adcodes, a polygon).

        Returns
        -------
        dict or None
            The extent recorded.

        Raises
        ------
        LayerNotFoundError
            No such layer version.
        StoreError
            The store is read-only.
        """
        self._check_writable()
        row = self._row(name, version)
        ext = parse_extent(extent)
        with self._import_lock(), self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            _write_extent(con, name, int(row["version"]), ext)
            con.execute("COMMIT")
        return ext

    def _layer(self, row: sqlite3.Row, *, verify: bool, fresh: bool = False) -> Layer:
        table = row["table_name"]
        with self._plock:
            sig = self._signature()
            hit = None if fresh else self._cache.get(table)
            if hit is not None and hit[0] == sig:
                self._cache.move_to_end(table)
        if hit is not None and hit[0] == sig:
            gdf = hit[1].copy()
        else:
            # verified by an earlier process with the file unchanged since: no second hash
            state = _verified.state_key(self._path, table, row["checksum"]) if verify else None
            if state is not None and not fresh and _verified.is_verified(state):
                verify = False
            try:  # damaged bytes can make a geometry undecodable: checked before use
                gdf = self._read_table(table)
            except shapely.errors.GEOSException as exc:
                msg = (
                    f"图层已损坏 / Layer {row['name']!r} version {row['version']} in {self._path} "
                    f"(table {table!r}) fails its checksum: its stored geometries cannot be "
                    f"decoded ({exc}). The file is damaged or was changed outside ecozone. "
                    "Fix: restore the file from a backup, or re-import the layer from its "
                    f"source ({row['source']}), which creates a new version; "
                    "'ecozone layers verify' lists every damaged version."
                )
                raise ChecksumMismatchError(msg) from exc
            if verify:
                actual = layer_checksum(gdf)
                if actual != row["checksum"]:
                    msg = (
                        f"图层校验和不符 / Layer {row['name']!r} version {row['version']} "
                        f"in {self._path} "
                        f"(table {table!r}) fails its checksum: expected {row['checksum']}, "
                        f"got {actual}. The table was changed outside ecozone or the file is "
                        f"damaged. Fix: restore the file from a backup, or re-import the layer "
                        f"from its source ({row['source']}) with store.import_layer(...), which "
                        "creates a new version."
                    )
                    raise ChecksumMismatchError(msg)
                if state is not None and state == _verified.state_key(
                    self._path, table, row["checksum"]
                ):  # the file did not change while it was read
                    _verified.mark_verified(state)
            if verify or state is not None:
                with self._plock:
                    self._cache[table] = (sig, gdf)
                    while len(self._cache) > _CACHE_SIZE:
                        self._cache.popitem(last=False)
                gdf = gdf.copy()
        return Layer(
            gdf=gdf,
            kind=row["kind"],
            name=row["name"],
            source=row["source"],
            source_date=row["source_date"],
            version=int(row["version"]),
            crs=row["crs"],
            row_count=int(row["row_count"]),
            checksum=row["checksum"],
            synthetic=bool(row["synthetic"]),
            created_at=datetime.fromisoformat(row["created_at"].replace("Z", "+00:00")),
            source_crs=row["source_crs"],
        )

    # -- public API -------------------------------------------------------------

    def _check_writable(self) -> None:
        if not self._writable:
            msg = (
                f"图层库只读 / The layer store {self._path} is read-only; copy it or open "
                "another store."
            )
            raise StoreError(msg)

    @contextlib.contextmanager
    def _import_lock(self) -> Iterator[None]:
        """Hold ``<store>.lock`` (after dropping orphans of interrupted imports)."""
        lock = FileLock(self._lock_path)
        if not lock.acquire(timeout=_LOCK_TIMEOUT_S):
            msg = (
                f"Another import into {self._path} has held {self._lock_path} for "
                f"{_LOCK_TIMEOUT_S:.0f} s; wait for it to finish and retry."
            )
            raise StoreError(msg)
        try:
            self._clean_orphans_locked()
            yield
        finally:
            lock.release()

    def _write_version(
        self,
        clean: gpd.GeoDataFrame,
        *,
        name: str,
        kind: str,
        source: str,
        source_date: str | None,
        source_crs: str | None,
        version: int | None = None,
        created_at: datetime | None = None,
        expect_checksum: str | None = None,
        extent: dict[str, Any] | None = None,
    ) -> Layer:
        """Write a validated version under the import lock (see the module docstring)."""
        with self._import_lock():
            return self._import_locked(
                clean, name=name, kind=kind, source=source, source_date=source_date,
                source_crs=source_crs, version=version, created_at=created_at,
                expect_checksum=expect_checksum, extent=extent,
            )  # fmt: skip

    def _import_locked(
        self,
        clean: gpd.GeoDataFrame,
        *,
        name: str,
        kind: str,
        source: str,
        source_date: str | None,
        source_crs: str | None,
        version: int | None = None,
        created_at: datetime | None = None,
        expect_checksum: str | None = None,
        extent: dict[str, Any] | None = None,
    ) -> Layer:
        """Write a validated frame as a version of ``name``; the import lock is held.

        ``version`` (default: the next one), ``created_at`` (default: now) and
        ``expect_checksum`` (checked before anything is recorded) serve
        :meth:`~layers.store.base.StoreBase.restore_version`.
        """
        spec = kind_info(kind)
        with self._connect() as con:
            prev = con.execute(
                f"SELECT kind, MAX(version) FROM {VERSIONS_TABLE} WHERE name = ?", (name,)
            ).fetchone()
            if prev[0] is not None and canonical_kind(prev[0]) != kind:
                msg = (
                    f"Layer {name!r} in {self._path} is of kind {prev[0]!r}; it cannot take a "
                    f"{kind!r} version. Import under another name."
                )
                raise LayerValidationError(msg)
            if version is None:
                version = (prev[1] or 0) + 1
            elif (
                con.execute(
                    f"SELECT 1 FROM {VERSIONS_TABLE} WHERE name = ? AND version = ?",
                    (name, version),
                ).fetchone()
                is not None
            ):
                msg = (
                    f"Layer {name!r} already has a version {version} in {self._path}; "
                    "copy into another store, or import the features as a new version."
                )
                raise StoreError(msg)
            table = f"{name}__v{version}"
            clash = con.execute(
                "SELECT type FROM sqlite_master WHERE lower(name) = lower(?)", (table,)
            ).fetchone()
            if clash is not None:
                msg = (
                    f"The store {self._path} already has a {clash[0]} {table!r} that ecozone "
                    "did not record; rename or remove it (e.g. in QGIS), then import again."
                )
                raise StoreError(msg)
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                f"INSERT INTO {PENDING_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                (table, name, version, now_iso(), socket.gethostname(), os.getpid()),
            )
            con.execute("COMMIT")
        synthetic = bool(clean["synthetic"].any())
        try:
            back, checksum = self._write_and_read_back(clean, table, spec, version, source)
            if expect_checksum is not None and checksum != expect_checksum:
                msg = (
                    f"Layer {name!r} version {version} would be stored in {self._path} with "
                    f"checksum {checksum}, not its recorded {expect_checksum}; nothing was "
                    "stored. The source store's table may have been changed outside ecozone."
                )
                raise ChecksumMismatchError(msg)
            created = now_iso() if created_at is None else _iso_utc(created_at)
            with self._connect() as con:
                con.execute("BEGIN IMMEDIATE")
                if (
                    con.execute(
                        "SELECT 1 FROM gpkg_contents WHERE table_name = ?", (table,)
                    ).fetchone()
                    is None
                ):
                    msg = f"table {table!r} vanished from {self._path} before commit"
                    raise StoreError(msg)
                con.execute(
                    f"INSERT INTO {VERSIONS_TABLE} (name, version, kind, table_name, source, "
                    "source_date, crs, source_crs, row_count, checksum, synthetic, created_at, "
                    "ecozone_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name, version, kind, table, source, source_date, STORAGE_CRS,
                        source_crs, len(back), checksum, int(synthetic), created,
                        __version__,
                    ),
                )  # fmt: skip
                _write_extent(con, name, version, extent)
                con.execute(f"DELETE FROM {PENDING_TABLE} WHERE table_name = ?", (table,))
                latest = con.execute(  # a restored version may be older than the latest
                    f"SELECT table_name, version FROM {VERSIONS_TABLE} WHERE name = ? "
                    "ORDER BY version DESC LIMIT 1",
                    (name,),
                ).fetchone()
                _gpkg.point_latest_view(con, name, latest[0], latest[1], spec.label_zh)
                con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                with self._connect() as con:
                    con.execute("BEGIN IMMEDIATE")
                    if (
                        con.execute(
                            f"SELECT 1 FROM {VERSIONS_TABLE} WHERE table_name = ?", (table,)
                        ).fetchone()
                        is None
                    ):
                        _gpkg.drop_feature_table(con, table)
                    con.execute(f"DELETE FROM {PENDING_TABLE} WHERE table_name = ?", (table,))
                    con.execute("COMMIT")
            raise
        with self._plock:
            self._cache[table] = (self._signature(), back)
        log.info("imported %s v%d (%s, %d features) into %s", name, version, kind, len(back),
                 self._path)  # fmt: skip
        return Layer(
            gdf=back.copy(),
            kind=kind,
            name=name,
            source=source,
            source_date=source_date,
            version=version,
            crs=STORAGE_CRS,
            row_count=len(back),
            checksum=checksum,
            synthetic=synthetic,
            created_at=datetime.fromisoformat(created.replace("Z", "+00:00")),
            source_crs=source_crs,
            extent=extent,
        )

    def _write_and_read_back(
        self, clean: gpd.GeoDataFrame, table: str, spec: Any, version: int, source: str
    ) -> tuple[gpd.GeoDataFrame, str]:
        demo = "; 演示数据 synthetic demonstration data" if clean["synthetic"].any() else ""
        options = {
            "IDENTIFIER": f"{spec.label_zh} {table}",
            "DESCRIPTION": f"{spec.label_zh} / {spec.label_en} v{version}; source: {source}{demo}",
        }
        try:
            with self._plock:
                pyogrio.write_dataframe(
                    clean,
                    self._path,
                    layer=table,
                    driver="GPKG",
                    promote_to_multi=spec.geometry == "polygon",
                    layer_options=options,
                )
        except pyogrio.errors.DataSourceError as exc:
            msg = f"Cannot write table {table!r} into layer store {self._path}: {exc}"
            raise StoreError(msg) from exc
        back = self._read_table(table)
        if len(back) != len(clean):
            msg = (
                f"Writing {table!r} into {self._path} stored {len(back)} of {len(clean)} "
                "features; nothing was recorded. Check free disk space and retry."
            )
            raise StoreError(msg)
        return back, layer_checksum(back)


def _write_extent(
    con: sqlite3.Connection, name: str, version: int, extent: dict[str, Any] | None
) -> None:
    """Record (or clear) a version's extent, inside the caller's transaction."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {EXTENTS_TABLE} (name TEXT NOT NULL, version INTEGER "
        "NOT NULL, adcodes TEXT, wkt TEXT, recorded_at TEXT NOT NULL, PRIMARY KEY (name, version))"
    )
    con.execute(f"DELETE FROM {EXTENTS_TABLE} WHERE name = ? AND version = ?", (name, version))
    if extent is not None:
        adcodes, wkt = extent_to_row(extent)
        con.execute(
            f"INSERT INTO {EXTENTS_TABLE} (name, version, adcodes, wkt, recorded_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, version, adcodes, wkt, now_iso()),
        )
