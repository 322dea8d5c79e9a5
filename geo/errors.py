"""The one exception hierarchy of ecozone.

Every error ecozone raises on purpose derives from :class:`EcozoneError` and also
from the builtin it refines, so callers can catch either. Messages name the file,
row or argument, the value received, and the fix.
"""

from __future__ import annotations


class EcozoneError(Exception):
    """Root of all ecozone errors."""


class CRSDetectionError(EcozoneError, ValueError):
    """Coordinates whose reference system cannot be decided or is not supported."""


class InputFormatError(EcozoneError, ValueError):
    """An input file or value that cannot be read (wrong format, empty, truncated)."""


class GeometryError(EcozoneError, ValueError):
    """A geometry that is missing, empty or of the wrong type and cannot be repaired."""


class LayerValidationError(EcozoneError, ValueError):
    """A layer that does not meet the needs of its kind."""


class StoreError(EcozoneError, RuntimeError):
    """A layer store that cannot be opened, read or written."""


class LayerNotFoundError(StoreError, LookupError):
    """A layer (or a version of it) that the store does not hold."""


class ChecksumMismatchError(StoreError):
    """Stored layer content whose checksum no longer matches its recorded checksum."""


class PackError(EcozoneError, ValueError):
    """A rule pack that fails its schema or cannot be found."""


class MissingLayerError(EcozoneError, LookupError):
    """An analysis needs a layer kind that the store does not hold."""


class EcozoneWarning(UserWarning):
    """Root of ecozone warnings: recoverable problems that were handled."""


class GeometryRepairedWarning(EcozoneWarning):
    """An invalid geometry was repaired with ``make_valid``."""


class RowRejectedWarning(EcozoneWarning):
    """An input row or feature could not be used and was reported, not silently dropped."""


class OutsideJurisdictionError(EcozoneError, ValueError):
    """A site that does not intersect the jurisdiction of the rule pack it is checked with.

    Not a verdict: the pack's rules do not apply there, so nothing can be said about the
    site with that pack (a batch lists such rows with status ``outside_jurisdiction``).
    """


class SourceError(EcozoneError, LookupError):
    """A cited source (plan, law, standard) is unknown, or its text is not available here.

    The message names the source id or file and the fix (``ecozone sources list``, or
    the ``ECOZONE_SOURCES`` folder holding the full texts).
    """
