"""The C candidate loop of the nearest search (zoning/check/_segments.c, _Segments.choose).

Its arithmetic is documented in :meth:`zoning.check.nearest._Segments.choose`; these
tests write it again in numpy, operation by operation, and ask for the same bits, the
same choice among equally near segments and a clear error for arrays of the wrong kind.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import shapely
from zoning.check._segments import choose

from zoning.check import nearest


def _reference(xy, cand, columns, owner):
    """The documented arithmetic and choice, in numpy (what nearest.py did before the C loop)."""
    nseg = len(owner)
    missing = cand >= nseg
    c = np.where(missing, 0, cand)
    x0, y0, dx, dy, inv_l2 = (col[c] for col in columns)
    ux = xy[:, 0, None] - x0
    uy = xy[:, 1, None] - y0
    t = (ux * dx + uy * dy) * inv_l2
    np.minimum(np.maximum(t, 0.0, out=t), 1.0, out=t)
    ux -= t * dx
    uy -= t * dy
    d2 = ux * ux + uy * uy
    d2[missing] = np.inf
    col = np.argmin(d2, axis=1)
    best2 = d2[np.arange(len(xy)), col]
    low = d2 == best2[:, None]
    nlow = low.sum(axis=1)
    mixed = np.zeros(len(xy), dtype=bool)
    top = np.iinfo(np.intp).max
    for i in np.flatnonzero((nlow > 1) & np.isfinite(best2)):
        owners = owner[c[i]]
        lowest = owners[low[i]].min()
        pick = low[i] & (owners == lowest)
        col[i] = np.argmin(np.where(pick, cand[i], top))
        mixed[i] = owners[low[i]].max() != lowest
    return d2, col, best2, nlow, mixed


def _run(xy, cand, columns, owner):
    n, k = cand.shape
    out = (np.empty((n, k)), np.empty(n, dtype=np.intp), np.empty(n),
           np.empty(n, dtype=np.intp), np.empty(n, dtype=bool))  # fmt: skip
    choose(xy, cand, len(owner), *columns, owner, *out)
    return out


def _segments(rng, n):
    a = rng.uniform(-500, 500, (n, 2))
    b = a + rng.uniform(-60, 60, (n, 2))
    b[::7] = a[::7]  # zero-length segments (point features): inv_l2 = 0
    dx, dy = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    l2 = dx * dx + dy * dy
    inv_l2 = np.divide(1.0, l2, out=np.zeros_like(l2), where=l2 > 0)
    return (a[:, 0].copy(), a[:, 1].copy(), dx, dy, inv_l2)


def test_the_c_loop_gives_the_documented_bits_and_choice():
    rng = np.random.default_rng(7)
    columns = _segments(rng, 400)
    owner = rng.integers(0, 40, 400).astype(np.intp)
    xy = rng.uniform(-600, 600, (3000, 2))
    xy[:50] = np.column_stack([columns[0][:50], columns[1][:50]])  # on a segment's start
    xy[50] = np.nan  # a point without coordinates
    cand = rng.integers(0, 400, (3000, 9)).astype(np.intp)
    cand[:, 3] = cand[:, 1]  # the same segment twice: equally near, one owner
    cand[100:200, 5] = 400  # the k-d tree's "missing" (index = number of segments)
    cand[200, :] = 400  # nothing found at all
    for c in columns:  # segments 200-209 copy 0-9 under other owners: equally near
        c[200:210] = c[:10]
    owner[200:210] = owner[:10] + 1
    r = np.arange(300, 400)
    xy[r] = np.column_stack([columns[0][r % 10], columns[1][r % 10]])
    cand[r, 2], cand[r, 6] = 200 + r % 10, r % 10  # the higher owner's copy first
    got = _run(xy, cand, columns, owner)
    want = _reference(xy, cand, columns, owner)
    for g, w, name in zip(got, want, ("d2", "col", "best2", "nlow", "mixed"), strict=True):
        assert np.array_equal(g, w, equal_nan=True), name
    assert got[4].any() and (got[3] > 1).any()  # the tie rules were exercised
    assert np.isinf(got[2][200]) and np.isnan(got[2][50])


def test_equally_near_segments_of_two_features_choose_the_lower_feature():
    # a point midway between two parallel segments: feature 5 above, feature 2 below
    columns = (np.array([-10.0, -10.0]), np.array([1.0, -1.0]), np.array([20.0, 20.0]),
               np.array([0.0, 0.0]), np.array([1 / 400, 1 / 400]))  # fmt: skip
    owner = np.array([5, 2], dtype=np.intp)
    _d2, col, best2, nlow, mixed = _run(np.zeros((1, 2)), np.array([[0, 1]]), columns, owner)
    assert best2[0] == 1.0 and nlow[0] == 2 and mixed[0]
    assert col[0] == 1  # feature 2's segment, though feature 5's came first


def test_broadcast_candidates_measure_every_segment():
    # _Segments._nearest_measured passes every segment as each point's candidates
    # through np.broadcast_to (a row stride of 0)
    rng = np.random.default_rng(3)
    columns = _segments(rng, 50)
    owner = np.arange(50, dtype=np.intp)
    xy = rng.uniform(-600, 600, (20, 2))
    every = np.broadcast_to(np.arange(50), (20, 50))
    got = _run(xy, every, columns, owner)
    want = _run(xy, np.ascontiguousarray(every), columns, owner)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"xy": np.zeros((4, 2), dtype=np.float32)}, "xy"),
        ({"cand": np.zeros((4, 3), dtype=np.int32)}, "cand"),
        ({"owner": np.zeros(5, dtype=np.intp)[::2]}, "owner"),  # strided
        ({"d2": np.zeros((4, 3))[:, ::-1].copy()[::-1]}, "d2"),  # reversed rows
    ],
)
def test_arrays_of_the_wrong_kind_are_refused_by_name(change, message):
    rng = np.random.default_rng(1)
    columns = _segments(rng, 3)
    arrays = {
        "xy": np.zeros((4, 2)), "cand": np.zeros((4, 3), dtype=np.intp),
        "owner": np.zeros(3, dtype=np.intp), "d2": np.empty((4, 3)),
    }  # fmt: skip
    arrays.update(change)
    with pytest.raises(TypeError, match=message):
        choose(arrays["xy"], arrays["cand"], 3, *columns, arrays["owner"], arrays["d2"],
               np.empty(4, dtype=np.intp), np.empty(4), np.empty(4, dtype=np.intp),
               np.empty(4, dtype=bool))  # fmt: skip


def test_shapes_that_do_not_match_are_refused():
    columns = _segments(np.random.default_rng(2), 3)
    with pytest.raises(ValueError, match="shapes"):
        choose(np.zeros((4, 2)), np.zeros((4, 3), dtype=np.intp), 3, *columns,
               np.zeros(3, dtype=np.intp), np.empty((4, 2)), np.empty(4, dtype=np.intp),
               np.empty(4), np.empty(4, dtype=np.intp), np.empty(4, dtype=bool))  # fmt: skip


def test_the_search_answers_match_geos_through_the_c_loop():
    # the k-d search's answers (candidates measured in C) against GEOS's distances
    rng = np.random.default_rng(11)
    centres = rng.uniform(0, 20_000, (60, 2))
    geoms = shapely.buffer(shapely.points(centres), rng.uniform(50, 400, 60), quad_segs=6)
    seg = nearest._Segments(geoms)
    xy = rng.uniform(-1_000, 21_000, (4_000, 2))
    feat, dist, sure, _foot = seg.nearest(xy, 32, 5_000.0)
    d_all = shapely.distance(shapely.points(xy)[:, None], geoms[None, :])
    outside = ~shapely.intersects(shapely.points(xy)[:, None], geoms[None, :]).any(axis=1)
    ok = sure & outside & (d_all.min(axis=1) <= 5_000.0)
    assert ok.sum() > 3_000
    np.testing.assert_allclose(dist[ok], d_all[ok].min(axis=1), rtol=0, atol=1e-6)
    assert np.array_equal(feat[ok], d_all[ok].argmin(axis=1))


def test_a_source_tree_without_the_built_module_says_how_to_build_it():
    code = (
        "import sys; sys.modules['zoning.check._segments'] = None\n"
        "try:\n    import zoning.check.nearest\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "_segments.c is not built" in out.stdout and "pip install -e ." in out.stdout
