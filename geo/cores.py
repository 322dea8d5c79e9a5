"""The cores this process may run on: ecozone's one answer for sizing thread pools."""

from __future__ import annotations

import os

__all__ = ["available_cores"]


def available_cores() -> int:
    """Return the number of cores this process may run on (its CPU affinity).

    Returns
    -------
    int
        At least 1; ``os.cpu_count()`` where the affinity is unknown (not Linux).
    """
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
