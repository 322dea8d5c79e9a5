"""Cells of text tables: coordinates and attribute columns read as before, quicker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.io.tabular import convert_attributes, text_series, to_number


def _as_csv_reads(values: list[str]) -> pd.Series:
    return pd.Series(values, dtype="str")  # what pd.read_csv(dtype=str) gives


def test_plain_decimal_coordinates_are_read_to_the_last_bit():
    rng = np.random.default_rng(7)
    cells = [repr(float(x)) for x in rng.uniform(73, 135, 500)]
    cells += [
        f"{x:.{d}f}"
        for x, d in zip(rng.uniform(-90, 90, 500), rng.integers(0, 15, 500), strict=True)
    ]
    cells += ["+116.5", "-.5", "39.", "4.4e6", "1E-3", "0.97743206994862629767984"]
    values, unparsed = to_number(_as_csv_reads(cells))
    expected = np.array([float(c) for c in cells])  # correctly rounded, 18+ digits too
    assert np.array_equal(values.view(np.uint64), expected.view(np.uint64))
    assert not unparsed.any()


def test_coordinates_in_other_forms_take_the_general_path():
    cells = ["116.4", "", "4 420 000.12", "116,4", "1,234.5", "116°24'00\"E", "北京"]
    values, unparsed = to_number(_as_csv_reads(cells))
    assert values[0] == 116.4 and np.isnan(values[1]) and not unparsed[1]  # blank: missing
    assert values[2] == 4420000.12 and values[3] == 116.4 and values[4] == 1234.5
    assert values[5] == pytest.approx(116.4)
    assert np.isnan(values[6]) and unparsed.tolist() == [False] * 6 + [True]


def test_attribute_columns_keep_their_meaning():
    frame = pd.DataFrame(
        {
            "site_id": _as_csv_reads([f"P{i:07d}" for i in range(5)]),
            "count": _as_csv_reads(["1", "2", "", "4", "5"]),
            "share": _as_csv_reads(["0.5", "inf", "1e3", "-2", "3"]),  # pandas reads "inf"
            "code": _as_csv_reads(["0101", "0102", "0103", "0104", "0105"]),  # leading zeros
            "mixed": _as_csv_reads(["1", "2", "x", "4", "5"]),
        }
    )
    out = convert_attributes(frame)
    assert out["site_id"].tolist() == [f"P{i:07d}" for i in range(5)]
    assert out["count"].iloc[[0, 1, 3, 4]].tolist() == [1, 2, 4, 5] and pd.isna(out["count"][2])
    assert out["share"].tolist() == [0.5, np.inf, 1000.0, -2.0, 3.0]
    assert out["code"].tolist() == ["0101", "0102", "0103", "0104", "0105"]
    assert out["mixed"].tolist() == ["1", "2", "x", "4", "5"]


def test_text_cells_strip_the_same_way_from_any_column_type():
    values = [" a ", None, "\tb\n", "", "\u3000c\u3000", "d"]
    as_text = text_series(pd.Series(values, dtype="str"))
    as_objects = text_series(pd.Series(values, dtype=object))
    assert as_text.tolist() == as_objects.tolist() == ["a", "", "b", "", "c", "d"]
