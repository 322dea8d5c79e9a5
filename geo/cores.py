"""The cores this process may run on: ecozone's one answer for sizing thread pools."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["available_cores", "thread_map"]


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


def thread_map(work: Callable[[Any], Any], items: Sequence[Any], threads: int) -> list[Any]:
    """``work`` over ``items``, in order, on at most ``threads`` threads.

    For work that releases the interpreter lock (shapely's and numpy's vectorised
    calls); one item, or one thread, runs in the calling thread.

    Parameters
    ----------
    work
        Called once per item.
    items
        The items.
    threads
        Most threads (:func:`available_cores` sizes it).

    Returns
    -------
    list
        ``work(item)`` for each item, in the order of ``items``.
    """
    if threads <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(min(threads, len(items))) as pool:
        return list(pool.map(work, items))
