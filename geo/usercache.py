"""ecozone's small per-user cache: JSON files that spare a cold process repeated work.

Two caches live here: layer checksums already verified
(:mod:`layers.store.verified`) and the PROJ pipelines of coordinate transformations
(:func:`geo.crs.transformer`). Each is one JSON file in ``$ECOZONE_CACHE_DIR``
(default ``$XDG_CACHE_HOME/ecozone`` or ``~/.cache/ecozone``), written atomically
(a temporary file renamed over the old one). A cache is only ever a shortcut: a file
that cannot be read, parsed or written is ignored, and the work is done again.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["cache_path", "read_json", "switched_off", "write_json"]


def switched_off(variable: str) -> bool:
    """Whether the environment variable ``variable`` switches a cache off (0/false/no/off).

    Parameters
    ----------
    variable
        Name of the variable, e.g. ``ECOZONE_VERIFY_CACHE``.

    Returns
    -------
    bool
    """
    return os.environ.get(variable, "1").strip().lower() in ("0", "false", "no", "off")


def cache_path(name: str) -> Path:
    """The cache file ``name`` in ``$ECOZONE_CACHE_DIR`` (default ``~/.cache/ecozone``).

    Parameters
    ----------
    name
        File name, e.g. ``"verified-layers.json"``.

    Returns
    -------
    pathlib.Path
    """
    base = os.environ.get("ECOZONE_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = os.path.join(xdg, "ecozone") if xdg else os.path.expanduser("~/.cache/ecozone")
    return Path(base) / name


def read_json(file: Path) -> Any:
    """The JSON content of ``file``, or ``None`` when it cannot be read or parsed.

    Parameters
    ----------
    file
        A cache file.

    Returns
    -------
    Any
    """
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(file: Path, data: Any) -> bool:
    """Write ``data`` to ``file`` atomically; ``False`` (nothing written) when it cannot.

    Parameters
    ----------
    file
        A cache file (its folder is created).
    data
        JSON-serialisable content.

    Returns
    -------
    bool
        Whether the file now holds ``data``.
    """
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.stem}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return False  # read-only home, full disk: the work is simply done again
    return True
