"""layers: typed thematic layers, their validation, and the versioned LayerStore.

A :class:`Layer` is a GeoDataFrame in EPSG:4326 plus its provenance (kind, name,
source, source date, version, row count, checksum, synthetic flag). Kinds and their
required columns are registered in :mod:`layers.kinds`; :class:`LayerStore` keeps
every imported version in one GeoPackage (:mod:`layers.store`, also PostGIS);
:func:`open_store` opens a path, a URL or the default one.
"""

from typing import TYPE_CHECKING

from geo.lazy import lazy_exports

if TYPE_CHECKING:  # the names below, imported on first use (geo/lazy.py)
    from layers.kinds import (
        ACCESS_DIMENSIONS,
        KINDS,
        LAYER_KINDS,
        GeneratedColumnWarning,
        LayerKind,
        kind_info,
        validate_layer,
    )
    from layers.layer import Layer, layer_checksum
    from layers.store import (
        LayerStore,
        MissingKindError,
        check_layer_name,
        default_store_path,
        embedded_dataset_path,
        open_store,
    )

_EXPORTS = {
    "default_store_path": "layers.store.open",
    "embedded_dataset_path": "layers.store.open",
    "open_store": "layers.store.open",
    "ACCESS_DIMENSIONS": "layers.kinds",
    "KINDS": "layers.kinds",
    "LAYER_KINDS": "layers.kinds",
    "GeneratedColumnWarning": "layers.kinds",
    "LayerKind": "layers.kinds",
    "kind_info": "layers.kinds",
    "validate_layer": "layers.kinds",
    "Layer": "layers.layer",
    "layer_checksum": "layers.layer",
    "LayerStore": "layers.store.gpkg",
    "MissingKindError": "layers.store.base",
    "check_layer_name": "layers.store.base",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "ACCESS_DIMENSIONS",
    "KINDS",
    "LAYER_KINDS",
    "GeneratedColumnWarning",
    "Layer",
    "LayerKind",
    "LayerStore",
    "MissingKindError",
    "check_layer_name",
    "default_store_path",
    "embedded_dataset_path",
    "kind_info",
    "layer_checksum",
    "open_store",
    "validate_layer",
]
