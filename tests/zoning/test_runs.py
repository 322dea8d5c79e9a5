"""zoning/check/runs.py: _pair_order gives np.lexsort's order (ties kept in input order) on
integer pairs; unique_rows groups rows as np.unique(axis=0) does."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zoning.check.runs import _pair_order, unique_rows


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 9)), max_size=300))
def test_equals_lexsort(pairs):
    major = np.array([a for a, _ in pairs], dtype=np.intp)
    minor = np.array([b for _, b in pairs], dtype=np.intp)
    assert np.array_equal(_pair_order(major, minor, 10), np.lexsort((minor, major)))


def test_large_keys_and_mixed_dtypes():
    rng = np.random.default_rng(1)
    major = rng.integers(0, 2_000_000, 100_000).astype(np.int32)
    minor = rng.integers(0, 1_000_000, 100_000)
    assert np.array_equal(_pair_order(major, minor, 1_000_000), np.lexsort((minor, major)))
    assert len(_pair_order(np.zeros(0, np.intp), np.zeros(0, np.intp), 0)) == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([1, 40, 65_536, 65_537]),
       st.sampled_from([1, 33, 65_536]))  # fmt: skip
def test_equals_lexsort_at_the_16_bit_edges(seed, majors, n_minor):
    # long enough for the two 16-bit sorts, with values at (and one past) their limit
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4096, 20_000))
    major = rng.integers(0, majors, n)
    major[: min(n, 3)] = majors - 1
    minor = rng.integers(0, n_minor, n)
    assert np.array_equal(_pair_order(major, minor, n_minor), np.lexsort((minor, major)))


def _same_grouping(mat: np.ndarray) -> None:
    distinct, inverse = unique_rows(mat)
    want, want_inverse = np.unique(mat, axis=0, return_inverse=True)
    assert len(distinct) == len(want)
    assert np.array_equal(distinct[inverse], mat)  # each row maps to itself
    # rows equal in one grouping are equal in the other
    assert np.array_equal(np.unique(np.c_[inverse, want_inverse.ravel()], axis=0)[:, 0],
                          np.arange(len(want)))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(0, 200), st.integers(0, 2**40), st.integers(0, 2**31))
def test_unique_rows_groups_as_numpy(width: int, rows: int, top: int, seed: int) -> None:
    # narrow values pack into one integer per row; wide ones (top ~ 2**40) take the lexsort
    rng = np.random.default_rng(seed)
    mat = rng.integers(-1, min(top, 3) + 1, (rows, width))
    if rows and top > 1000:
        mat[rng.random(mat.shape) < 0.1] = top
    _same_grouping(mat.astype(np.int64))


def test_unique_rows_of_wide_rows_and_padding() -> None:
    rng = np.random.default_rng(7)
    mat = np.full((5_000, 9), -1, dtype=np.int64)
    for i, c in enumerate(rng.integers(1, 10, 5_000)):
        mat[i, :c] = np.sort(rng.choice(400, c, replace=False))  # 9 x 9 bits > 63: lexsort
    mat[::3] = mat[0]
    _same_grouping(mat)
    _same_grouping(mat[:, :3])  # packed
    assert unique_rows(np.zeros((0, 4), dtype=np.int64))[0].shape == (0, 4)
