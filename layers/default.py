"""Moved to :mod:`layers.store.open`; this module re-exports its public names.

``from layers.default import open_store, embedded_dataset_path`` keeps working;
prefer ``from layers import open_store, embedded_dataset_path``.
"""

from layers.store.open import (
    EMBEDDED_NAME,
    STORE_ENV,
    default_store_path,
    embedded_dataset_path,
    open_store,
)

__all__ = [
    "EMBEDDED_NAME",
    "STORE_ENV",
    "default_store_path",
    "embedded_dataset_path",
    "open_store",
]
