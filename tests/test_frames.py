"""The tests' quick frame comparison fails wherever pandas' own does."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.frames import assert_frame_equal


def _frame(values, categories=("甲", "乙", "丙")) -> pd.DataFrame:
    return pd.DataFrame(
        {"kind": pd.Categorical(values, categories=list(categories)), "n": range(len(values))}
    )


def test_equal_frames_pass():
    assert_frame_equal(_frame(["甲", "丙", None]), _frame(["甲", "丙", None]))


@pytest.mark.parametrize(
    "other",
    [
        _frame(["甲", "乙", None]),  # a value
        _frame(["甲", "丙", "甲"]),  # a missing value filled
        _frame(["甲", "丙", None], categories=("乙", "甲", "丙")),  # the categories' order
        _frame(["甲", "丙", None]).astype({"kind": object}),  # not categorical
    ],
)
def test_what_pandas_refuses_is_refused(other):
    left = _frame(["甲", "丙", None])
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(left, other)
    with pytest.raises(AssertionError):
        assert_frame_equal(left, other)


def test_options_mean_what_they_mean_in_pandas():
    left, other = _frame(["甲"]), _frame(["甲"]).astype({"kind": object})
    for compare in (assert_frame_equal, pd.testing.assert_frame_equal):
        compare(left, other, check_categorical=False, check_dtype=False)
        with pytest.raises(AssertionError):
            compare(left, other, check_dtype=False)
        with pytest.raises(AssertionError):
            compare(left, _frame(["乙"]), check_categorical=False)
