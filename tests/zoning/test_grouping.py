"""join_per_group equals the pandas group-by it replaced, on every shape of input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoning.check.grouping import join_per_group


def _old_rules_column(site_ids: np.ndarray, f_sites: np.ndarray, f_rules: np.ndarray) -> list:
    """The implementation batch._output_frame had before (groupby + map)."""
    fired = (
        pd.Series(pd.Series(f_rules).astype(str).to_numpy(), index=f_sites)
        .groupby(level=0, sort=False)
        .agg(";".join)
    )
    return pd.Series(site_ids).map(fired).fillna("").astype(str).tolist()


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 40),
    pairs=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["a", "b.c", "d", "红线"]))),
)
def test_equals_pandas_groupby(n: int, pairs: list[tuple[int, str]]) -> None:
    pairs = [(s % n, r) for s, r in pairs]
    site_ids = np.array([f"S{i}" for i in range(n)], dtype=object)
    f_sites = np.array([site_ids[s] for s, _ in pairs], dtype=object)
    f_rules = np.array([r for _, r in pairs], dtype=object)
    codes = pd.Index(site_ids).get_indexer(f_sites)
    got = join_per_group(codes, f_rules, n).tolist()
    assert got == _old_rules_column(site_ids, f_sites, f_rules)
    # grouped already (a check's findings are, by site): the same texts without a sort
    o = np.argsort(codes, kind="stable")
    assert join_per_group(codes[o], f_rules[o], n).tolist() == got
    cat = join_per_group(codes[o], pd.Categorical(f_rules[o]), n).tolist()
    assert cat == got


def test_large_batch_equals_old_implementation() -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    site_ids = np.array([f"P{i:06d}" for i in range(n)], dtype=object)
    per_site = rng.integers(0, 5, n)
    f_sites = np.repeat(site_ids, per_site)
    rule_names = np.array(["redline.nearest", "well.nearest", "eco_control.inside", "unit"])
    f_rules = rule_names[rng.integers(0, len(rule_names), len(f_sites))]
    # findings need not arrive sorted by site
    shuffle = rng.permutation(len(f_sites))
    stable = np.argsort(shuffle, kind="stable")  # keep per-site order among the shuffled rows
    f_sites, f_rules = f_sites[stable], f_rules[stable]
    codes = pd.Index(site_ids).get_indexer(f_sites)
    got = join_per_group(codes, f_rules, n)
    assert got.tolist() == _old_rules_column(site_ids, f_sites, f_rules.astype(object))


@pytest.mark.parametrize("sep", [";", ", "])
def test_long_groups_take_the_fallback(monkeypatch: pytest.MonkeyPatch, sep: str) -> None:
    import zoning.check.grouping as grouping

    monkeypatch.setattr(grouping, "_GRID_CELLS", 1)
    codes = np.array([2, 0, 2, 2])
    labels = np.array(["x", "y", "z", "x"], dtype=object)
    assert join_per_group(codes, labels, 3, sep=sep).tolist() == ["y", "", sep.join("xzx")]


def test_wide_groups_use_the_row_unique() -> None:
    # 40 labels in one group: too wide to pack a row into one integer
    codes = np.r_[np.zeros(40, dtype=int), np.ones(40, dtype=int), [3]]
    labels = np.array([f"r{i % 7}" for i in range(81)], dtype=object)
    got = join_per_group(codes, labels, 4).tolist()
    want = [";".join(labels[:40]), ";".join(labels[40:80]), "", labels[80]]
    assert got == want


def test_categorical_has_one_category_per_text() -> None:
    from zoning.check.grouping import join_per_group_categorical

    # group 0 joins to "a;b" from one label, group 1 from two; group 2 has none;
    # group 3's only label is "" (joins to "", as the empty group 2)
    codes = np.array([1, 0, 1, 3])
    labels = np.array(["a", "a;b", "b", ""], dtype=object)
    got = join_per_group_categorical(codes, labels, 4)
    assert list(got) == ["a;b", "a;b", "", ""]
    assert sorted(got.categories) == ["", "a;b"]


def test_categorical_labels_join_as_their_texts() -> None:
    rng = np.random.default_rng(3)
    names = ["redline.nearest", "well.nearest", "红线"]
    labels = pd.Categorical.from_codes(rng.integers(0, 3, 500), categories=names)
    codes = np.sort(rng.integers(0, 120, 500))
    plain = join_per_group(codes, np.asarray(labels, dtype=object), 130)
    assert join_per_group(codes, labels, 130).tolist() == plain.tolist()


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 30),
    ncat=st.sampled_from([1, 3, 64, 65, 130]),  # one word of bits, and more than one
    picks=st.lists(st.tuples(st.integers(0, 29), st.integers(0, 129)), max_size=200),
)
def test_sets_in_category_order_join_as_the_general_case(n, ncat, picks) -> None:
    """A check's findings (by site, then rule): each site's rules a set, in rule order."""
    from zoning.check.grouping import join_per_group_categorical

    names = [f"r{i}" if i % 5 else "" if i == 5 else f"红线.{i}" for i in range(ncat)]
    names[-1] = "a;b" if ncat > 1 else names[-1]  # a label holding the separator
    pairs = sorted({(s % n, r % ncat) for s, r in picks})  # grouped, rising, distinct
    codes = np.array([s for s, _ in pairs], dtype=np.intp)
    labels = pd.Categorical.from_codes(np.array([r for _, r in pairs], dtype=np.intp),
                                       categories=pd.Index(names, dtype=object))  # fmt: skip
    got = join_per_group_categorical(codes, labels, n)
    plain = join_per_group(codes, np.asarray(labels, dtype=object), n)
    assert list(got) == plain.tolist()
    assert len(set(got.categories)) == len(got.categories)  # one category per text
