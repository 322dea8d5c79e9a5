"""Where the layer store lives by default, and the embedded demonstration dataset.

``open_store()`` without an argument opens ``$ECOZONE_STORE`` when it is set, else
the user store in the platform data folder (``~/.local/share/ecozone/ecozone.gpkg``
on Linux, ``~/Library/Application Support/ecozone`` on macOS,
``%LOCALAPPDATA%/ecozone`` on Windows). Either store is initialised on first use
with a copy of the embedded demo GeoPackage, so the toolkit works out of the box;
its thematic layers are synthetic and flagged so.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from geo.errors import StoreError
from layers.store._gpkg import publish_unless_exists
from layers.store.gpkg import LayerStore

log = logging.getLogger(__name__)

__all__ = ["default_store_path", "embedded_dataset_path", "open_store"]

EMBEDDED_NAME = "ecozone_demo.gpkg"
STORE_ENV = "ECOZONE_STORE"


def embedded_dataset_path() -> Path | None:
    """Return the embedded demo GeoPackage, or None when it is not installed.

    Looks for ``data/ecozone_demo.gpkg`` in the source tree next to the packages
    (editable installs, checkouts), then ``<sys.prefix>/share/ecozone/ecozone_demo.gpkg``
    (wheel installs, see ``[tool.setuptools.data-files]``).

    Returns
    -------
    Path or None
    """
    candidates = [
        Path(__file__).resolve().parents[2] / "data" / EMBEDDED_NAME,
        Path(sys.prefix) / "share" / "ecozone" / EMBEDDED_NAME,
    ]
    return next((p for p in candidates if p.is_file()), None)


def default_store_path() -> Path:
    """Return the user store path in the platform data folder (ignores ``$ECOZONE_STORE``).

    Returns
    -------
    Path
        ``$XDG_DATA_HOME/ecozone/ecozone.gpkg`` (default ``~/.local/share``) on Linux
        and other POSIX systems, ``~/Library/Application Support/ecozone/ecozone.gpkg``
        on macOS, ``%LOCALAPPDATA%/ecozone/ecozone.gpkg`` on Windows.
    """
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "ecozone" / "ecozone.gpkg"


def _initialise(path: Path) -> None:
    """Create the store at ``path`` from the embedded demo, or empty when there is none."""
    demo = embedded_dataset_path()
    if demo is None:
        log.warning(
            "No embedded demo dataset (%s) found; created an empty layer store at %s. "
            "Build it with `make data` or import layers with store.import_layer(...).",
            EMBEDDED_NAME,
            path,
        )
        LayerStore(path).close()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(demo, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    publish_unless_exists(tmp, path)  # another process may have initialised it meanwhile
    log.info("initialised layer store %s from the embedded demo %s", path, demo)


def open_store(path_or_url: str | os.PathLike[str] | None = None) -> LayerStore:
    """Open a layer store.

    Parameters
    ----------
    path_or_url
        A GeoPackage path (created empty when missing), a ``postgresql://`` URL
        (a :class:`layers.store.PostGISLayerStore`), or ``None`` for the
        default store: ``$ECOZONE_STORE`` if set, else :func:`default_store_path`.
        A default store that does not exist yet is initialised with a copy of the
        embedded demo dataset (:func:`embedded_dataset_path`), or created empty
        with a logged warning when the demo is not installed.

    Returns
    -------
    LayerStore

    Raises
    ------
    StoreError
        For an unknown URL scheme, an unreachable database, or a file that is not
        a GeoPackage.

    Examples
    --------
    >>> with open_store() as store:  # doctest: +SKIP
    ...     print(store.list_layers()[["name", "kind", "version"]])
    """
    if path_or_url is None:
        env = os.environ.get(STORE_ENV, "").strip()
        if "://" in env:  # a shared PostGIS store named in the environment
            return open_store(env)
        path = Path(env).expanduser() if env else default_store_path()
        if not path.exists():
            _initialise(path)
        return LayerStore(path)
    text = os.fspath(path_or_url)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme in ("postgresql", "postgres", "postgis"):
            from layers.store.postgis import PostGISLayerStore

            return PostGISLayerStore(text)  # type: ignore[return-value]
        msg = (
            f"Unsupported layer store URL scheme {scheme!r}; pass a GeoPackage path or a "
            "postgresql://user@host/dbname URL."
        )
        raise StoreError(msg)
    return LayerStore(text)
