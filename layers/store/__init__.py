"""Versioned layer stores: a GeoPackage file or a PostGIS database, one contract.

- :mod:`layers.store.base`: :class:`StoreBase`, what both backends share (reading,
  listing, stamps, export, and the checks of ``import_layer`` / ``restore_version``);
- :mod:`layers.store.gpkg`: :class:`LayerStore`, layers in one GeoPackage file;
- :mod:`layers.store.postgis`: :class:`PostGISLayerStore`, layers in PostgreSQL + PostGIS;
- :mod:`layers.store.open`: :func:`open_store` (a path, a ``postgresql://`` URL or the
  default store) and the embedded demonstration dataset.

``from layers.store import LayerStore`` and ``from layers.postgis import
PostGISLayerStore`` keep working (``layers.postgis`` and ``layers.default`` re-export).
"""

from typing import TYPE_CHECKING

from geo.lazy import lazy_exports

if TYPE_CHECKING:  # the names below, imported on first use (geo/lazy.py)
    from layers.store.base import MissingKindError, StoreBase, check_layer_name
    from layers.store.gpkg import LayerStore
    from layers.store.open import default_store_path, embedded_dataset_path, open_store
    from layers.store.postgis import PostGISLayerStore, is_postgres_url

_EXPORTS = {
    "MissingKindError": "layers.store.base",
    "StoreBase": "layers.store.base",
    "check_layer_name": "layers.store.base",
    "LayerStore": "layers.store.gpkg",
    "default_store_path": "layers.store.open",
    "embedded_dataset_path": "layers.store.open",
    "open_store": "layers.store.open",
    "PostGISLayerStore": "layers.store.postgis",
    "is_postgres_url": "layers.store.postgis",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "LayerStore",
    "MissingKindError",
    "PostGISLayerStore",
    "StoreBase",
    "check_layer_name",
    "default_store_path",
    "embedded_dataset_path",
    "is_postgres_url",
    "open_store",
]
