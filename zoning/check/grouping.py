"""Grouped string joins without a Python-level group-by (batch ``rules`` columns)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

#: Above this many cells (groups × longest group) the distinct-list grid is not built.
_GRID_CELLS = 50_000_000


def join_per_group(
    codes: NDArray[np.integer[Any]], labels: NDArray[Any], n: int, *, sep: str = ";"
) -> NDArray[np.object_]:
    """Join ``labels`` per group, in input order; groups without labels get ``""``.

    The same as ``pd.Series(labels).groupby(codes).agg(sep.join)`` laid out over
    ``range(n)``, but the strings are built once per *distinct* label sequence
    (a million sites share a few dozen rule lists), so the cost is a stable sort,
    a factorisation and a ``np.unique`` over small integer rows.

    Parameters
    ----------
    codes
        Group number of each label, in ``[0, n)``.
    labels
        The strings to join (any objects; joined with ``str``).
    n
        Number of groups.
    sep
        Separator.

    Returns
    -------
    numpy.ndarray
        Object array of length ``n``.
    """
    out = np.full(n, "", dtype=object)
    if len(codes) == 0:
        return out
    order = np.argsort(codes, kind="stable")
    c = np.asarray(codes)[order]
    label_codes, uniques = pd.factorize(np.asarray(labels, dtype=object)[order])
    uniques = np.asarray(uniques, dtype=object).astype(str)
    starts = np.r_[0, np.flatnonzero(np.diff(c)) + 1]
    lengths = np.diff(np.r_[starts, len(c)])
    width = int(lengths.max())
    if len(starts) * width > _GRID_CELLS:  # pathological: a few very long groups
        out[c[starts]] = [sep.join(uniques[g]) for g in np.split(label_codes, starts[1:])]
        return out
    grid = np.full((len(starts), width), -1, dtype=np.int64)
    rank = np.arange(len(c)) - np.repeat(starts, lengths)
    grid[np.repeat(np.arange(len(starts)), lengths), rank] = label_codes
    bits = int(len(uniques) + 1).bit_length()
    if bits * width <= 63:  # pack each row into one integer: a 1-D unique is far cheaper
        shifts = np.arange(width, dtype=np.int64) * bits
        keys = ((grid + 1) << shifts).sum(axis=1)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        distinct = grid[first]
    else:
        distinct, inverse = np.unique(grid, axis=0, return_inverse=True)
    texts = np.array([sep.join(uniques[row[row >= 0]]) for row in distinct], dtype=object)
    out[c[starts]] = texts[inverse.ravel()]
    return out
