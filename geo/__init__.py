"""geo: coordinates, measurement and file input/output done right for China."""

from geo.errors import (
    ChecksumMismatchError,
    CRSDetectionError,
    EcozoneError,
    EcozoneWarning,
    GeometryError,
    GeometryRepairedWarning,
    InputFormatError,
    LayerNotFoundError,
    LayerValidationError,
    MissingLayerError,
    PackError,
    RowRejectedWarning,
    StoreError,
)

__all__ = [
    "CRSDetectionError",
    "ChecksumMismatchError",
    "EcozoneError",
    "EcozoneWarning",
    "GeometryError",
    "GeometryRepairedWarning",
    "InputFormatError",
    "LayerNotFoundError",
    "LayerValidationError",
    "MissingLayerError",
    "PackError",
    "RowRejectedWarning",
    "StoreError",
]
