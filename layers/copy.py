"""Copy layers with their version history between layer stores (GeoPackage ↔ PostGIS).

:func:`copy_layers` reads every version of the chosen layers from one store (each
read verifies the version's checksum) and writes them in version order into the
other with the destination's ``restore_version``, which records a copy only if its
stored content has the original's checksum; a copy is then read back from the
destination with verification. Versions the destination already holds with the
same checksum are skipped, so a copy can be re-run (for example to carry new
versions over).

Both destinations (GeoPackage and PostGIS) keep each version's number, ``created_at``
(the original import time) and ``source_crs``, and its kind, source, source date and
synthetic flag.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo.errors import LayerNotFoundError, StoreError

log = logging.getLogger(__name__)

__all__ = ["CopiedVersion", "copy_layers", "open_any_store"]


@dataclass(frozen=True)
class CopiedVersion:
    """One layer version handled by :func:`copy_layers`.

    Attributes
    ----------
    name : str
        Layer name.
    kind : str
        Layer kind.
    src_version, dst_version : int
        The version in the source and in the destination store (the same number).
    checksum : str
        Content checksum (the same in both stores).
    row_count : int
        Number of features.
    action : str
        ``"copied"``, or ``"present"`` when the destination already held it.
    """

    name: str
    kind: str
    src_version: int
    dst_version: int
    checksum: str
    row_count: int
    action: str


def open_any_store(path_or_url: str | os.PathLike[str], *, create: bool = True) -> Any:
    """Open a GeoPackage store (path) or a PostGIS store (``postgresql://`` URL).

    Parameters
    ----------
    path_or_url
        A ``.gpkg`` path or a ``postgresql://user@host/db[?schema=NAME]`` URL.
    create
        Create a missing store; with ``False`` a missing one raises StoreError.

    Returns
    -------
    LayerStore or PostGISLayerStore
    """
    from layers.store import LayerStore, PostGISLayerStore, is_postgres_url

    if is_postgres_url(path_or_url):
        return PostGISLayerStore(os.fspath(path_or_url), create=create)
    text = os.fspath(path_or_url)
    if "://" in text:
        msg = (
            f"Unsupported layer store URL {text.split('://', 1)[0]!r}://; pass a GeoPackage "
            "path or a postgresql:// URL"
        )
        raise StoreError(msg)
    return LayerStore(text, create=create)


def _plan(src: Any, dst: Any, names: list[str], all_versions: bool) -> list[tuple[Any, Any]]:
    """Pair each source version with the destination's row for it (None: to copy)."""
    dst_names = set(dst.list_layers()["name"])
    plan: list[tuple[Any, Any]] = []
    conflicts: list[str] = []
    for name in names:
        hist = src.history(name)
        if not all_versions:
            hist = hist.tail(1)
        there = dst.history(name) if name in dst_names else hist.iloc[0:0]
        if len(there) and there["kind"].iloc[0] != hist["kind"].iloc[0]:
            conflicts.append(
                f"{name!r} is a {there['kind'].iloc[0]} layer in the destination, "
                f"a {hist['kind'].iloc[0]} layer in the source"
            )
            continue
        by_version = {int(r.version): r for r in there.itertuples()}
        for r in hist.itertuples():
            held = by_version.get(int(r.version))
            if held is not None and held.checksum != r.checksum:
                conflicts.append(
                    f"{name!r} v{r.version} differs (checksum {r.checksum[:12]}… in the "
                    f"source, {held.checksum[:12]}… in the destination)"
                )
            plan.append((r, held))
    if conflicts:
        msg = (
            f"Cannot copy from {src.path} to {dst.path}: "
            + "; ".join(conflicts)
            + ". Nothing was copied. Copy into another store, or leave those layers out "
            "with --name."
        )
        raise StoreError(msg)
    return plan


def copy_layers(
    src_store: Any,
    dst_store: Any,
    *,
    names: list[str] | tuple[str, ...] | None = None,
    all_versions: bool = True,
) -> pd.DataFrame:
    """Copy layers, with all their versions, from one layer store into another.

    Each version is written with the destination's ``restore_version``: a
    GeoPackage and a PostGIS destination alike keep its version number,
    ``created_at`` and ``source_crs`` (and kind, source, source date, synthetic
    flag), and store it only if its content checksum is the original's.

    Parameters
    ----------
    src_store, dst_store
        :class:`layers.LayerStore` / :class:`layers.store.PostGISLayerStore`
        objects, or paths / ``postgresql://`` URLs (opened with
        :func:`open_any_store`; a missing source is an error, a missing destination
        GeoPackage is created).
    names
        Layer names to copy; ``None`` copies every layer of the source.
    all_versions
        Copy every version (default), or only the latest of each layer.

    Returns
    -------
    DataFrame
        One row per source version: ``name, kind, src_version, dst_version,
        checksum, row_count, action`` (``"copied"`` or ``"present"``).

    Raises
    ------
    LayerNotFoundError
        A name the source does not hold.
    ChecksumMismatchError
        A source version fails its checksum, or a copy does not have the original's.
    StoreError
        The destination holds a different version under the same number, or a
        different kind under the same name (checked before anything is written).

    Examples
    --------
    >>> copy_layers("ecozone.gpkg", "postgresql://gis@db/ecozone")  # doctest: +SKIP
    """
    own = []
    if not hasattr(src_store, "history"):
        src_store = open_any_store(src_store, create=False)
        own.append(src_store)
    if not hasattr(dst_store, "history"):
        dst_store = open_any_store(dst_store, create=True)
        own.append(dst_store)
    try:
        return _copy(src_store, dst_store, names, all_versions)
    finally:
        for store in own:
            store.close()


def _copy(src: Any, dst: Any, names: Any, all_versions: bool) -> pd.DataFrame:
    held = list(src.list_layers()["name"])
    names = held if names is None else list(dict.fromkeys(names))
    missing = [n for n in names if n not in held]
    if missing:
        msg = (
            f"The source store {src.path} has no layer {', '.join(map(repr, missing))}; "
            f"it holds: {', '.join(held) or '(none)'}."
        )
        raise LayerNotFoundError(msg)
    done: list[CopiedVersion] = []
    for row, there in _plan(src, dst, names, all_versions):
        if there is not None:
            done.append(
                CopiedVersion(row.name, row.kind, int(row.version), int(there.version),
                              row.checksum, int(row.row_count), "present")
            )  # fmt: skip
            continue
        layer = src.get(row.name, int(row.version))  # verifies the source checksum
        stored = dst.restore_version(layer)  # refuses a copy with another checksum
        dst.get(layer.name, stored.version)  # read back with verification
        log.info("copied %s v%d → v%d (%d features)", layer.name, layer.version,
                 stored.version, layer.row_count)  # fmt: skip
        done.append(
            CopiedVersion(layer.name, layer.kind, int(layer.version), int(stored.version),
                          layer.checksum, int(layer.row_count), "copied")
        )  # fmt: skip
    cols = ["name", "kind", "src_version", "dst_version", "checksum", "row_count", "action"]
    return pd.DataFrame([vars(d) for d in done], columns=cols)
