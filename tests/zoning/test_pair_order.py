"""_pair_order gives np.lexsort's order (ties kept in input order) on integer pairs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zoning.check.runs import _pair_order


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
