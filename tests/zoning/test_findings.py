"""zoning/check/findings.py: FindingRows joins rows added rule by rule as one sort would."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoning.check.findings import _FINDING_ARRAYS, FindingRows, SortedFindings


def _rows(seed: int, parts: int, sites: int, rules: int) -> tuple[FindingRows, dict]:
    """Random parts (some columns left out at random) and the same columns written out."""
    rng = np.random.default_rng(seed)
    rows = FindingRows()
    whole: dict[str, list] = {k: [] for k in _FINDING_ARRAYS}
    for rule in rng.choice(rules, size=min(parts, rules), replace=False).tolist():
        site = np.sort(rng.choice(sites, size=int(rng.integers(0, sites + 1)), replace=False))
        n = len(site)
        outcome = rng.integers(0, 6, n).astype(np.int8)
        given_cols = {}
        for k in ("distance_m", "overlap_m2", "access_entries", "band", "missing"):
            if rng.random() < 0.5:
                continue  # left out: NaN, None or 0
            if k == "missing":
                given_cols[k] = rng.integers(0, 2, n).astype(np.int8)
            elif k in ("access_entries", "band"):
                col = np.empty(n, dtype=object)
                col[:] = [f"{k}-{rule}-{s}" for s in site.tolist()]
                given_cols[k] = col
            else:
                given_cols[k] = rng.random(n)
        ids = np.empty(n, dtype=object)
        ids[:] = [(f"f{rule}",)] * n
        rows.add(site, rule, outcome, feature_ids=ids, **given_cols)
        for k in _FINDING_ARRAYS:
            if k == "site":
                whole[k].append(site)
            elif k == "rule":
                whole[k].append(np.full(n, rule))
            elif k == "outcome":
                whole[k].append(outcome)
            elif k == "feature_ids":
                whole[k].append(ids)
            elif k in given_cols:
                whole[k].append(given_cols[k])
            elif k == "missing":
                whole[k].append(np.zeros(n, np.int8))
            elif k in ("access_entries", "units", "band", "exceptions"):
                whole[k].append(np.full(n, None, dtype=object))
            else:
                whole[k].append(np.full(n, np.nan))
    return rows, {k: np.concatenate(v) if v else None for k, v in whole.items()}


def _assert_sorted_like(got: dict, whole: dict) -> None:
    o = np.lexsort((whole["rule"], whole["site"]))
    for k in _FINDING_ARRAYS:
        want = whole[k][o]
        if want.dtype == object:
            assert got[k].dtype == object and got[k].tolist() == want.tolist(), k
        else:
            np.testing.assert_array_equal(got[k], want, err_msg=k)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 6), st.integers(1, 40))
def test_join_is_one_stable_sort_of_every_column(seed, parts, sites):
    rules = 8
    rows, whole = _rows(seed, parts, sites, rules)
    got = rows.join(rules)
    if whole["site"] is None:  # nothing added: empty columns of the right types
        assert all(len(v) == 0 for v in got.values())
        assert got["site"].dtype == np.intp and got["feature_ids"].dtype == object
        return
    assert set(got) == set(_FINDING_ARRAYS)
    _assert_sorted_like(got, whole)


def test_replace_sets_a_column_across_the_parts():
    rows = FindingRows()
    rows.add(np.array([0, 2]), 1, 0)
    rows.add(np.array([1]), 0, 4)
    assert rows.column("outcome").tolist() == [0, 0, 4]
    rows.replace("outcome", np.array([3, 0, 4], np.int8))
    rows.replace("missing", np.array([1, 0, 0], np.int8))
    rows.add(np.array([2]), 0, 3, missing=np.ones(1, np.int8))
    got = rows.join(2)
    assert got["site"].tolist() == [0, 1, 2, 2]
    assert got["rule"].tolist() == [1, 0, 0, 1]
    assert got["outcome"].tolist() == [3, 4, 3, 0]
    assert got["missing"].tolist() == [1, 0, 1, 0]
    assert np.isnan(got["distance_m"]).all() and got["exceptions"].tolist() == [None] * 4


def test_an_unknown_column_is_named():
    with pytest.raises(TypeError, match="unknown finding columns"):
        FindingRows().add(np.array([0]), 0, 0, colour=np.array(["red"]))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.permutations(list(_FINDING_ARRAYS)),
       st.integers(0, len(_FINDING_ARRAYS)))  # fmt: skip
def test_columns_sorted_when_read_in_any_order_equal_one_sort(seed, parts, order, first):
    rows, whole = _rows(seed, parts, 30, 8)
    got = rows.join(8)
    assert isinstance(got, SortedFindings) and set(got) == set(_FINDING_ARRAYS)
    for k in order[:first]:  # some columns read (sorted) before the rest
        got[k]
    assert list(got) == list(_FINDING_ARRAYS)  # in their order, whichever was read
    again = pickle.loads(pickle.dumps(got))  # the rest sorted when pickled: a plain dict
    assert type(again) is dict and set(again) == set(_FINDING_ARRAYS)
    _assert_sorted_like(again, whole)
    _assert_sorted_like(got, whole)


def test_a_column_is_sorted_on_its_first_read_only():
    rows, whole = _rows(3, 6, 30, 8)
    got = rows.join(8)
    assert "feature_ids" in got and "distance_m" in got  # asking does not sort
    assert len(rows.parts["feature_ids"]) == len(rows.sizes)  # rows as added, kept
    outcome = got["outcome"]
    assert got["outcome"] is outcome  # sorted once
    assert rows.parts["outcome"] == [] and len(rows.parts["feature_ids"]) == len(rows.sizes)
    got["site"] = got["site"] + 100  # set by the engine: input positions
    del got["band"]
    assert "band" not in got and len(got) == len(_FINDING_ARRAYS) - 1
    with pytest.raises(KeyError):
        got["band"]
    got["band"] = whole["band"][np.lexsort((whole["rule"], whole["site"]))]  # put back
    got["site"] = got["site"] - 100
    _assert_sorted_like(got, whole)


def test_threads_reading_one_column_get_one_sorted_array():
    rows, whole = _rows(5, 6, 40, 8)
    got = rows.join(8)
    seen: list = []
    start = threading.Barrier(4)

    def read() -> None:
        start.wait()
        seen.append(got["feature_ids"])

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4 and all(a is seen[0] for a in seen)
    _assert_sorted_like(got, whole)


def test_left_out_names_the_columns_no_row_gave():
    rows = FindingRows()
    rows.add(np.array([0, 2]), 1, 0, distance_m=np.array([1.0, 2.0]))
    rows.add(np.array([1]), 0, 4)
    got = rows.join(2)
    assert got.left_out("exceptions") and got.left_out("overlap_m2")
    assert not got.left_out("distance_m")  # one part gave it
    assert got["exceptions"].tolist() == [None] * 3  # still readable: all None
    assert not got.left_out("exceptions")  # read: as read from now on
    assert not got.left_out("site") and not got.left_out("nonsense")
