"""GeoPackage plumbing of the layer store: file creation, schema, locks, drops, views.

Private to :mod:`layers.store` (its ``gpkg`` and ``open`` modules). Functions taking a
connection run inside the caller's transaction and never commit.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pyproj

from geo.errors import StoreError
from layers.store.base import now_iso

log = logging.getLogger(__name__)

VERSIONS_TABLE = "ecozone_layer_versions"
PENDING_TABLE = "ecozone_pending_imports"
INFO_TABLE = "ecozone_store_info"
EXTENTS_TABLE = "ecozone_layer_extents"  # layers.extent: added later, created if missing
SCHEMA_VERSION = 1


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    kind TEXT NOT NULL,
    table_name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    source_date TEXT,
    crs TEXT NOT NULL,
    source_crs TEXT,
    row_count INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    synthetic INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    ecozone_version TEXT,
    UNIQUE (name, version)
);
CREATE TABLE IF NOT EXISTS {PENDING_TABLE} (
    table_name TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    host TEXT,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS {INFO_TABLE} (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS {EXTENTS_TABLE} (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    adcodes TEXT,
    wkt TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
INSERT OR IGNORE INTO {INFO_TABLE} VALUES ('schema_version', '{SCHEMA_VERSION}');
"""

# Minimal GeoPackage 1.4 (OGC 12-128r19): the three required tables.
GPKG_INIT = """
PRAGMA application_id = 1196444487;
PRAGMA user_version = 10400;
CREATE TABLE gpkg_spatial_ref_sys (
    srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
    organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
    table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
    description TEXT DEFAULT '',
    last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
    CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
    table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
    srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
    CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
    CONSTRAINT uk_gc_table_name UNIQUE (table_name),
    CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
    CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""

_PROCESS_LOCKS: dict[str, threading.RLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def process_lock(path: Path) -> threading.RLock:
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(str(path), threading.RLock())


class FileLock:
    """Exclusive advisory lock on a side file; the OS releases it if the process dies.

    The file is removed on release so stores do not collect ``.lock`` files; an
    acquirer that locked a file unlinked meanwhile notices (inode check) and retries.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None

    def _try(self) -> bool:
        try:
            import fcntl  # POSIX only
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            try:
                msvcrt.locking(self._fh.fileno(), msvcrt.LK_NBLCK, 1)
            except OSError:
                return False
            return True
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:  # still the file at self.path, not one a releasing holder unlinked?
            return os.stat(self.path).st_ino == os.fstat(self._fh.fileno()).st_ino
        except FileNotFoundError:
            return False

    def acquire(self, *, timeout: float) -> bool:
        """Try for up to ``timeout`` seconds (0: once); False if another holder keeps it."""
        deadline = time.monotonic() + timeout
        while True:
            self._fh = open(self.path, "a+b")  # held until release()
            if self._try():
                return True
            self._fh.close()
            self._fh = None
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def release(self) -> None:
        """Remove the lock file and release the lock."""
        if self._fh is not None:
            if os.name == "posix":
                self.path.unlink(missing_ok=True)
            self._fh.close()
            self._fh = None


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def create_gpkg(path: Path) -> None:
    """Create an empty GeoPackage at ``path`` (atomically; an existing file wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    wkt = pyproj.CRS.from_epsg(4326).to_wkt(pyproj.enums.WktVersion.WKT1_GDAL)
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.executescript(GPKG_INIT)
            con.executemany(
                "INSERT INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
                [
                    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", None),
                    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", None),
                    ("WGS 84 geodetic", 4326, "EPSG", 4326, wkt, "longitude/latitude"),
                ],
            )
            ensure_schema(con)  # complete before it appears: a full disk leaves nothing
        finally:
            con.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    publish_unless_exists(tmp, path)
    log.info("created empty layer store %s", path)


def refuse_non_store(path: Path) -> None:
    """Refuse (never rewrite) a file that is not a GeoPackage store.

    An empty file, another format, or a SQLite database of another application.

    Raises
    ------
    StoreError
        Naming the file, what it is and what to do.
    """
    with open(path, "rb") as fh:
        head = fh.read(100)
    what = None
    if not head:
        what = "an empty file (0 bytes)"
    elif not head.startswith(b"SQLite format 3\x00"):
        what = "not a GeoPackage (SQLite) file"
    elif len(head) >= 72 and head[68:72] not in (b"GPKG", b"GP10", b"GP11", b"\0\0\0\0"):
        what = "a SQLite database of another application, not a GeoPackage"
    if what is not None:
        msg = (
            f"不是图层库 / {path} is {what}; it was left unchanged. A layer store must be a "
            "GeoPackage (.gpkg) written by ecozone: give its path, or a new path (which is "
            "created). If this file is a damaged store, restore it from a backup."
        )
        raise StoreError(msg)


def publish_unless_exists(tmp: Path, path: Path) -> None:
    """Move the finished file ``tmp`` to ``path`` unless another process put one there first.

    The link fails if ``path`` exists, so a store another process created meanwhile
    is kept, never overwritten; ``tmp`` is removed either way.
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:  # pragma: no cover - filesystems without hard links
        if not path.exists():
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def ensure_schema(con: sqlite3.Connection) -> None:
    """Create the ecozone tables when missing (in its own transaction)."""
    have = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    if {VERSIONS_TABLE, PENDING_TABLE, INFO_TABLE} <= have:
        return
    con.execute("BEGIN IMMEDIATE")
    for stmt in SCHEMA.split(";"):
        if stmt.strip():
            con.execute(stmt)
    if "gpkg_contents" in have:  # list the version table in QGIS as a plain table
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
            "description, last_change) VALUES (?, 'attributes', ?, ?, ?)",
            (
                VERSIONS_TABLE,
                "ecozone 图层版本 layer versions",
                "One row per imported layer version (ecozone).",
                now_iso(),
            ),
        )
    con.execute("COMMIT")


def has_table(con: sqlite3.Connection, name: str) -> bool:
    """Whether a table ``name`` exists."""
    q = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return con.execute(q, (name,)).fetchone() is not None


def drop_feature_table(con: sqlite3.Connection, table: str) -> None:
    """Drop a feature table with its R-tree and GeoPackage registrations."""
    for idx in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\\'",
        ("rtree\\_" + table.replace("_", "\\_") + "\\_%",),
    ).fetchall():
        if not idx[0].endswith(("_node", "_parent", "_rowid")):
            con.execute(f"DROP TABLE IF EXISTS {quote(idx[0])}")
    con.execute(f"DROP TABLE IF EXISTS {quote(table)}")
    for (gpkg_table,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'gpkg%'"
    ).fetchall():
        cols = {r[1] for r in con.execute(f"PRAGMA table_info({quote(gpkg_table)})")}
        if "table_name" in cols:
            con.execute(
                f"DELETE FROM {quote(gpkg_table)} WHERE lower(table_name) = lower(?)",
                (table,),
            )


def point_latest_view(
    con: sqlite3.Connection, name: str, table: str, version: int, label: str
) -> None:
    """Make the view ``name`` show ``table`` (inside the caller's transaction)."""
    other = con.execute("SELECT type FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    if other is not None and other[0] != "view":
        log.info("no latest view %r: a %s of that name exists", name, other[0])
        return
    con.execute(f"DROP VIEW IF EXISTS {quote(name)}")
    con.execute(f"CREATE VIEW {quote(name)} AS SELECT * FROM {quote(table)}")
    con.execute("DELETE FROM gpkg_geometry_columns WHERE table_name = ?", (name,))
    con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (name,))
    con.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
        "last_change, min_x, min_y, max_x, max_y, srs_id) "
        "SELECT ?, data_type, ?, description, last_change, min_x, min_y, max_x, max_y, "
        "srs_id FROM gpkg_contents WHERE table_name = ?",
        (name, f"{label} {name} (最新 latest = v{version})", table),
    )
    con.execute(
        "INSERT INTO gpkg_geometry_columns SELECT ?, column_name, geometry_type_name, "
        "srs_id, z, m FROM gpkg_geometry_columns WHERE table_name = ?",
        (name, table),
    )
