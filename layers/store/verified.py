"""Layer checksums already verified by an earlier process (a small per-user cache).

Reading a layer from a GeoPackage store verifies its sha256 checksum (see
:func:`layers.layer.layer_checksum`), which costs a tenth of a second or more per
layer — a large share of a single-site ``ecozone check`` from a cold process. A store
file that has not changed since a layer was verified needs no second hash: this
module remembers "table T of file F, in exactly this state, matched checksum C".

The state of the file is its device, inode, size, modification time and change time
(``st_ctime_ns``, which every write updates and ``os.utime`` cannot set back), so any
change to the file — by ecozone, by SQLite, by another tool — makes the entry stale
and the layer is hashed again. ``ecozone layers verify`` always hashes (``fresh``).

The cache is a JSON list of digests in ``$ECOZONE_CACHE_DIR`` (default
``$XDG_CACHE_HOME/ecozone`` or ``~/.cache/ecozone``; :mod:`geo.usercache`), written
atomically; set
``ECOZONE_VERIFY_CACHE=0`` to hash on every read. A cache that cannot be read or
written is ignored: the layer is then simply hashed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from geo.usercache import cache_path, read_json, switched_off, write_json

__all__ = ["cache_file", "is_verified", "mark_verified", "state_key"]

_MAX_ENTRIES = 512
_LOCK = threading.Lock()
_FILE_NAME = "verified-layers.json"


def cache_file() -> Path | None:
    """Return the cache file, or None when the cache is switched off."""
    if switched_off("ECOZONE_VERIFY_CACHE"):
        return None
    return cache_path(_FILE_NAME)


def state_key(path: Path, table: str, checksum: str) -> str | None:
    """Digest naming ``table`` of the store file ``path`` in its current state.

    Parameters
    ----------
    path
        The GeoPackage store file.
    table
        Feature table of the layer version.
    checksum
        The checksum recorded for that version.

    Returns
    -------
    str or None
        A hex digest, or None when the file cannot be examined.
    """
    try:
        st = os.stat(path)
        real = os.path.realpath(path)
    except OSError:
        return None
    parts = (
        real,
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        table,
        checksum,
    )
    return hashlib.sha256("\0".join(map(str, parts)).encode("utf-8")).hexdigest()


def _load(file: Path) -> list[str]:
    data = read_json(file)
    return [k for k in data if isinstance(k, str)] if isinstance(data, list) else []


def is_verified(key: str | None) -> bool:
    """Whether ``key`` (from :func:`state_key`) was verified before."""
    file = cache_file()
    if key is None or file is None:
        return False
    return key in _load(file)


def mark_verified(key: str | None) -> None:
    """Remember that ``key`` (from :func:`state_key`) matched its checksum."""
    file = cache_file()
    if key is None or file is None:
        return
    with _LOCK:
        keys = [k for k in _load(file) if k != key] + [key]
        write_json(file, keys[-_MAX_ENTRIES:])  # unwritable: the next read hashes again
