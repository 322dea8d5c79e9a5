"""Moved to :mod:`layers.store.postgis`; this module re-exports its public names.

``from layers.postgis import PostGISLayerStore`` (docs/scaling.md) keeps working.
"""

from layers.store.postgis import DEFAULT_SCHEMA, SCHEMES, PostGISLayerStore, is_postgres_url

__all__ = ["DEFAULT_SCHEMA", "SCHEMES", "PostGISLayerStore", "is_postgres_url"]
