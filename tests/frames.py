"""Frame comparison for tests: pandas' own, with categorical columns compared quickly.

pandas 3 compares the values of categorical columns whose categories are strings one
element at a time, boxing each: about 50 s for the million relation rows of a 100 000
site check, most of some of the slowest tests. :func:`assert_frame_equal` checks the
same things (the categories, in order, and the order flag, then every value) in a
fraction of that time.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def assert_frame_equal(left: pd.DataFrame, right: pd.DataFrame, **kwargs: Any) -> None:
    """:func:`pandas.testing.assert_frame_equal`, categorical columns compared quickly.

    Parameters
    ----------
    left, right
        The frames to compare.
    **kwargs
        Passed to :func:`pandas.testing.assert_frame_equal`. With ``check_categorical``
        False, only the values of categorical columns are compared, as in pandas.

    Raises
    ------
    AssertionError
        When the frames differ, naming the column.
    """
    strict = kwargs.get("check_categorical", True)
    cats = [
        c for c in left.columns
        if isinstance(left[c].dtype, pd.CategoricalDtype) and c in right.columns
    ]  # fmt: skip
    if cats:
        left, right = left.copy(deep=False), right.copy(deep=False)
    for c in cats:
        a, b = left[c], right[c]
        if strict:
            assert isinstance(b.dtype, pd.CategoricalDtype), (
                f"column {c!r}: {b.dtype} is not categorical"
            )
            assert a.cat.ordered == b.cat.ordered, f"column {c!r}: ordered differs"
            pd.testing.assert_index_equal(
                a.cat.categories, b.cat.categories, obj=f"categories of column {c!r}"
            )
        # the values, as plain objects (taken from the categories at once)
        left[c], right[c] = a.astype(object), b.astype(object)
    pd.testing.assert_frame_equal(left, right, **kwargs)
