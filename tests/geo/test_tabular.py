"""Cells of text tables: coordinates and attribute columns read as before, quicker."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.io.tabular import _arrow_cells, convert_attributes, text_series, to_number


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


def _pandas_cells(text: str, sep: str) -> pd.DataFrame | None:
    """The cells as the reader read them before Arrow (``pd.read_csv``)."""
    import io

    try:
        return pd.read_csv(
            io.StringIO(text), sep=sep, header=None, dtype=str, skip_blank_lines=False,
            keep_default_na=False, engine="c",
        )  # fmt: skip
    except pd.errors.ParserError:
        return None


_CELL = st.text(
    alphabet=[",", ";", '"', "\n", " ", "\t", "a", "1", ".", "北", "'", "#"], max_size=6
)


@settings(max_examples=1000, deadline=None)
@given(
    rows=st.lists(st.lists(_CELL, min_size=0, max_size=4), min_size=1, max_size=6),
    sep=st.sampled_from([",", ";", "\t"]),
    quoted=st.booleans(),
)
def test_arrow_reads_every_table_it_takes_as_pandas_does(rows, sep, quoted):
    # written with the csv module's quoting, or joined as a careless export would
    if quoted:
        out = io.StringIO()
        csv.writer(out, delimiter=sep, lineterminator="\n").writerows(rows)
        text = out.getvalue()
    else:
        text = "\n".join(sep.join(r) for r in rows) + "\n"
    got = _arrow_cells(text, sep)
    if got is None or len(got) != text.count("\n"):  # left to pandas (or the csv module)
        return
    want = _pandas_cells(text, sep)
    assert want is not None
    pd.testing.assert_frame_equal(got, want, check_column_type=False)
    assert got.dtypes.equals(want.dtypes)


def test_a_regular_table_is_read_by_arrow_and_a_ragged_one_by_pandas(tmp_path):
    from geo.io.tabular import load_text_table

    regular = "site_id,lon,lat\n" + "".join(f"s{i},116.{i},39.9\n" for i in range(50))
    assert _arrow_cells(regular, ",") is not None
    ragged = regular + "s50,116.5\n\n"  # a short row, a blank line
    assert _arrow_cells(ragged, ",") is None
    for text in (regular, ragged):
        path = tmp_path / "t.csv"
        path.write_text(text, encoding="utf-8")
        cells, lines = load_text_table(path, encoding=None, source="t.csv")
        want = _pandas_cells(text, ",")
        pd.testing.assert_frame_equal(cells, want, check_column_type=False)
        assert lines.tolist() == list(range(1, len(want) + 1))
