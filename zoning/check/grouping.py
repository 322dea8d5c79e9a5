"""Grouped string joins without a Python-level group-by (batch ``rules`` columns)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from zoning.check.runs import _runs, unique_rows

#: Above this many cells (groups × longest group) the distinct-list grid is not built.
_GRID_CELLS = 50_000_000


def join_per_group(
    codes: NDArray[np.integer[Any]], labels: Any, n: int, *, sep: str = ";"
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
        The strings to join (any objects, joined with ``str``; a
        :class:`pandas.Categorical` is factorised by its codes).
    n
        Number of groups.
    sep
        Separator.

    Returns
    -------
    numpy.ndarray
        Object array of length ``n``.
    """
    joined = join_per_group_categorical(codes, labels, n, sep=sep)
    return np.asarray(joined.categories, dtype=object)[joined.codes]


def join_per_group_categorical(
    codes: NDArray[np.integer[Any]], labels: Any, n: int, *, sep: str = ";"
) -> pd.Categorical:
    """:func:`join_per_group` as a :class:`pandas.Categorical` (one text per distinct join).

    A batch's ``rules`` column repeats a few dozen long texts over millions of rows:
    as a categorical it is held, and written to Parquet, once per distinct text.
    Categorical ``labels`` whose codes rise within each group (a check's findings,
    sorted by site and rule) are joined as sets (:func:`_joined_sets`).

    Parameters
    ----------
    codes, labels, n, sep
        As :func:`join_per_group`.

    Returns
    -------
    pandas.Categorical
        Length ``n``; its categories are the distinct joined texts (``""`` first).
    """
    group = np.zeros(n, dtype=np.intp)  # category 0: ""
    if len(codes) == 0:
        return pd.Categorical.from_codes(group, categories=pd.Index([""], dtype=object))
    c = np.asarray(codes)
    ordered = labels if isinstance(labels, pd.Categorical) else np.asarray(labels, dtype=object)
    if (c[1:] < c[:-1]).any():  # not grouped yet (a check's findings are, by site)
        order = np.argsort(c, kind="stable")
        c, ordered = c[order], ordered[order]
    if isinstance(ordered, pd.Categorical):
        lc = np.asarray(ordered.codes)
        same = c[1:] == c[:-1]
        if (lc >= 0).all() and (lc[1:][same] > lc[:-1][same]).all():
            return _joined_sets(c, lc, ordered.categories, n, sep)
    label_codes, uniques = pd.factorize(ordered)
    uniques = np.asarray(uniques, dtype=object).astype(str)
    starts, lengths = _runs(c)
    width = int(lengths.max())
    if len(starts) * width > _GRID_CELLS:  # pathological: a few very long groups
        texts = np.array([sep.join(uniques[g]) for g in np.split(label_codes, starts[1:])],
                         dtype=object)  # fmt: skip
        inverse = np.arange(len(texts))
    else:
        grid = np.full((len(starts), width), -1, dtype=np.int64)
        rank = np.arange(len(c)) - np.repeat(starts, lengths)
        grid[np.repeat(np.arange(len(starts)), lengths), rank] = label_codes
        distinct, inverse = unique_rows(grid)
        texts = np.array([sep.join(uniques[row[row >= 0]]) for row in distinct], dtype=object)
    # distinct sequences can join to one text (a label holding ``sep``, or ""): merged
    text_codes, categories = pd.factorize(np.r_[np.array([""], dtype=object), texts])
    group[c[starts]] = text_codes[1:][np.asarray(inverse).ravel()]
    return pd.Categorical.from_codes(group, categories=pd.Index(categories, dtype=object))


def _joined_sets(
    c: NDArray[np.integer[Any]], lc: NDArray[np.integer[Any]], categories: Any, n: int, sep: str
) -> pd.Categorical:
    """:func:`join_per_group_categorical` when each group's labels rise in category order.

    ``c``: the group of each label, grouped; ``lc``: the label's category code, strictly
    increasing within each group (a check's findings, sorted by site and rule). Each
    group's labels are then a set: its text is the categories of its set bits, in
    order. The sets are bit masks (64 categories a word, summed per group: the bits are
    distinct) and the distinct masks are found by hashing (:func:`pandas.factorize`),
    without the grid and sort of the general case (a 71 429-site chunk of 640 000
    findings: 8 against 24–31 ms).
    """
    names = np.asarray(categories, dtype=object).astype(str)
    starts, _ = _runs(c)
    words = -(-len(names) // 64)
    bits = np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64))
    masks = []  # per word: each group's bits
    key = np.zeros(len(starts), dtype=np.int64)  # each group's distinct set, so far
    for w in range(words):
        if words == 1:  # (64 categories or fewer: every label in word 0)
            b = bits[lc]
        else:
            b = np.where(lc // 64 == w, bits[lc % 64], np.uint64(0))
        m = np.add.reduceat(b, starts)
        masks.append(m)
        m_code, m_uniq = pd.factorize(m)
        key, _ = pd.factorize(key * len(m_uniq) + m_code)
    first = np.zeros(int(key.max()) + 1, dtype=np.intp)  # a group of each distinct set
    first[key[::-1]] = np.arange(len(key))[::-1]
    texts = []
    for g in first.tolist():
        on = [64 * w + b for w, m in enumerate(masks) for b in range(64) if (int(m[g]) >> b) & 1]
        texts.append(sep.join(names[on]))
    # distinct sets can join to one text (a label holding ``sep``, or ""): merged
    text_codes, cats = pd.factorize(np.r_[np.array([""], dtype=object), texts])
    group = np.zeros(n, dtype=np.intp)  # category 0: ""
    group[c[starts]] = text_codes[1:][key]
    return pd.Categorical.from_codes(group, categories=pd.Index(cats, dtype=object))
