"""geo.pip (points_in_polygons, PointGrid) against shapely.intersects on every pair."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.pip import BoxGrid, PointGrid, points_in_polygons


def _brute(polys: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = shapely.points(x, y)
    m = shapely.intersects(pts[:, None], polys[None, :])
    p, g = np.nonzero(m)
    return p.astype(np.int64), g.astype(np.int64)


def _polygons(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random blobs, some with holes, some overlapping, one multipolygon, one None."""
    c = rng.uniform(0, 100, (n, 2))
    r = rng.uniform(1, 8, n)
    out = list(shapely.buffer(shapely.points(c), r, quad_segs=4))
    for i in range(0, n, 3):  # holes
        out[i] = out[i].difference(shapely.Point(c[i]).buffer(r[i] / 2, quad_segs=3))
    out[1] = shapely.MultiPolygon([shapely.box(0, 0, 5, 5), shapely.box(10, 10, 15, 15)])
    out[2] = None
    return np.asarray(out, dtype=object)


def _points_with_boundary(rng: np.random.Generator, polys: np.ndarray, n: int):
    x = rng.uniform(-5, 105, n)
    y = rng.uniform(-5, 105, n)
    # vertices and edge midpoints of the polygons (outer rings and holes): on the boundary
    bnd = shapely.get_coordinates(shapely.boundary(polys[[g is not None for g in polys]]))
    mids = (bnd[:-1] + bnd[1:]) / 2.0
    extra = np.vstack([bnd[:200], mids[::7][:200]])
    # the hole centres: inside the hole, outside the polygon
    x = np.concatenate([x, extra[:, 0], [2.5, 5.0, 12.5, np.nan]])
    y = np.concatenate([y, extra[:, 1], [2.5, 5.0, 12.5, 1.0]])
    return x, y


@pytest.mark.parametrize("use_tree", [False, True])
@pytest.mark.parametrize("threads", [1, 2, None])
def test_matches_shapely_intersects(threads: int | None, use_tree: bool) -> None:
    rng = np.random.default_rng(5)
    polys = _polygons(rng, 60)
    x, y = _points_with_boundary(rng, polys, 3000)
    tree = shapely.STRtree(polys) if use_tree else None
    p, g = points_in_polygons(polys, x, y, threads=threads, tree=tree)
    bp, bg = _brute(polys, x, y)
    assert len(bp) > 500  # the data really has hits
    np.testing.assert_array_equal(p, bp)
    np.testing.assert_array_equal(g, bg)
    assert p.dtype == np.int64 and g.dtype == np.int64


def test_boundary_counts_and_hole_does_not() -> None:
    sq = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], holes=[[(1, 1), (3, 1), (3, 3), (1, 3)]])
    x = np.array([0.0, 4.0, 2.0, 0.5, 1.0, 2.0, 5.0])
    y = np.array([2.0, 4.0, 2.0, 0.5, 2.0, 1.0, 5.0])
    p, g = points_in_polygons([sq], x, y)
    # left edge, corner, (hole centre: no), inside, hole edge, hole edge, (outside: no)
    assert p.tolist() == [0, 1, 3, 4, 5]
    assert g.tolist() == [0] * 5


def test_many_threads_and_blocks_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.pip as pip

    monkeypatch.setattr(pip, "_BLOCK", 257)  # many blocks, several per thread
    rng = np.random.default_rng(9)
    polys = _polygons(rng, 40)
    x, y = _points_with_boundary(rng, polys, 4000)
    tree = shapely.STRtree(polys)
    one = points_in_polygons(polys, x, y, tree=tree, threads=1)
    three = points_in_polygons(polys, x, y, tree=tree, threads=3)
    grid = points_in_polygons(polys, x, y, threads=3)
    np.testing.assert_array_equal(one[0], grid[0])
    np.testing.assert_array_equal(one[1], grid[1])
    np.testing.assert_array_equal(one[0], three[0])
    np.testing.assert_array_equal(one[1], three[1])
    bp, bg = _brute(polys, x, y)
    np.testing.assert_array_equal(one[0], bp)
    np.testing.assert_array_equal(one[1], bg)


def test_empty_inputs() -> None:
    p, g = points_in_polygons([shapely.box(0, 0, 1, 1)], np.array([]), np.array([]))
    assert len(p) == 0 and len(g) == 0
    p, g = points_in_polygons([], np.array([0.5]), np.array([0.5]))
    assert len(p) == 0 and len(g) == 0


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        points_in_polygons([shapely.box(0, 0, 1, 1)], np.array([1.0, 2.0]), np.array([1.0]))
    tree = shapely.STRtree([shapely.box(0, 0, 1, 1)])
    with pytest.raises(ValueError, match="tree was built over 1"):
        points_in_polygons(
            [shapely.box(0, 0, 1, 1)] * 2, np.array([1.0]), np.array([1.0]), tree=tree
        )


def test_single_polygon_and_degenerate_extent() -> None:
    """One polygon (grid of one box), a vertical segment-like polygon, points far away."""
    thin = shapely.Polygon([(5, 0), (5.000001, 0), (5.000001, 10), (5, 10)])
    x = np.array([5.0, 5.0000005, 5.0, 100.0, -100.0])
    y = np.array([0.0, 5.0, 10.0, 5.0, 5.0])
    p, g = points_in_polygons([thin], x, y)
    bp, bg = _brute(np.asarray([thin], dtype=object), x, y)
    assert p.tolist() == bp.tolist() == [0, 1, 2]
    assert g.tolist() == bg.tolist()


def test_all_polygons_none() -> None:
    p, g = points_in_polygons([None, None], np.array([0.0]), np.array([0.0]))
    assert len(p) == 0 and len(g) == 0
    p, g = points_in_polygons([shapely.Polygon(), None], np.array([0.0]), np.array([0.0]))
    assert len(p) == 0 and len(g) == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_box_grid_candidates_are_the_trees(seed: int) -> None:
    rng = np.random.default_rng(seed)
    polys = _polygons(rng, 80)
    polys[5] = shapely.Polygon()  # empty: never a candidate, as in the tree
    polys[6] = shapely.LineString([(20, 20), (20, 40)])  # a zero-width box
    x, y = _points_with_boundary(rng, polys, 4000)
    b = shapely.bounds(polys[[7, 8]])  # box corners and edges exactly
    x = np.concatenate([x, b[:, 0], b[:, 2], b[:, 0], [20.0, 20.0, np.inf]])
    y = np.concatenate([y, b[:, 1], b[:, 3], b[:, 3], [30.0, 40.0, 1.0]])
    p, g = BoxGrid.build(polys).candidates(x, y)
    tp, tg = shapely.STRtree(polys).query(shapely.points(x, y))
    assert len(tp) > 3000
    assert set(zip(p.tolist(), g.tolist(), strict=True)) == set(
        zip(tp.tolist(), tg.tolist(), strict=True)
    )
    assert len(p) == len(tp)  # no pair twice
    assert (np.diff(p) >= 0).all()  # grouped by point


def test_box_grid_of_no_box_is_none() -> None:
    assert BoxGrid.build(np.array([None, shapely.Polygon()], dtype=object)) is None


@pytest.mark.parametrize("use_tree", [False, True])
def test_threads_share_few_polygons(use_tree: bool) -> None:
    """Many points in a few detailed polygons on two threads: the right pairs, no crash.

    GEOS's prepared geometries must not be tested from two threads at once (two
    threads sweeping the same 20 000 polygons crashed the process now and then, a
    race this test cannot provoke at will); the exact tests are grouped by polygon,
    each polygon on one thread. Here every polygon has tens of thousands of points.
    """
    rng = np.random.default_rng(11)
    ring = shapely.buffer(shapely.points([[10, 10], [30, 10], [20, 25]]), 9.0, quad_segs=64)
    polys = np.asarray(
        [*ring, shapely.MultiPolygon([shapely.box(0, 0, 4, 4), shapely.box(35, 0, 40, 5)])],
        dtype=object,
    )
    x = rng.uniform(0, 40, 120_000)
    y = rng.uniform(0, 35, 120_000)
    tree = shapely.STRtree(polys) if use_tree else None
    p, g = points_in_polygons(polys, x, y, threads=2, tree=tree)
    pts = shapely.points(x, y)
    want_p, want_g = np.nonzero(shapely.intersects(pts[:, None], polys[None, :]))
    np.testing.assert_array_equal(p, want_p)
    np.testing.assert_array_equal(g, want_g)


# ------------------------------------------------------------------ PointGrid
# Every answer is compared with GEOS's own test of each point against each feature, on
# the points where a grid could go wrong: on edges, on vertices, on the cells' edges
# and corners, just outside the box, missing coordinates.

BOX = (116.30, 39.80, 116.70, 40.10)


def _features(seed: int) -> np.ndarray:
    """Polygons (some with holes, some overlapping), a multipolygon, lines and points."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(BOX[0], BOX[2], 40)
    y = rng.uniform(BOX[1], BOX[3], 40)
    polys = [
        shapely.Point(a, b).buffer(rng.uniform(0.005, 0.08), quad_segs=int(rng.integers(1, 12)))
        for a, b in zip(x[:20], y[:20], strict=True)
    ]
    holed = [p.difference(p.centroid.buffer(0.3 * np.sqrt(p.area))) for p in polys[:5]]
    multi = shapely.MultiPolygon([polys[5], shapely.box(116.62, 40.02, 116.66, 40.05)])
    # a box on the grid's own edges, and a bow-tie (invalid) polygon
    edge_box = shapely.box(BOX[0], BOX[1], BOX[0] + 0.1, BOX[1] + 0.1)
    bow_tie = shapely.Polygon([(116.4, 39.9), (116.5, 40.0), (116.5, 39.9), (116.4, 40.0)])
    lines = [
        shapely.LineString([(a, b), (a + 0.05, b + 0.02), (a + 0.03, b - 0.04)])
        for a, b in zip(x[20:30], y[20:30], strict=True)
    ]
    points = [shapely.Point(a, b) for a, b in zip(x[30:], y[30:], strict=True)]
    geoms = holed + polys[5:] + [multi, edge_box, bow_tie] + lines + points
    return np.array(geoms, dtype=object)


def _hard_points(geoms: np.ndarray, grid: PointGrid, seed: int) -> np.ndarray:
    """Points on edges, vertices, cell edges and corners, outside, and at random."""
    rng = np.random.default_rng(seed)
    vertices = shapely.get_coordinates(geoms)
    rings = shapely.get_parts(shapely.boundary(geoms[shapely.get_dimensions(geoms) == 2]))
    on_edges = shapely.get_coordinates(
        shapely.line_interpolate_point(rings, rng.uniform(0, 1, len(rings)), normalized=True)
    )
    n = 3000
    i, j = rng.integers(0, grid.n + 1, n), rng.integers(0, grid.n + 1, n)
    corners = np.column_stack([grid.xs[i], grid.ys[j]])
    on_x = np.column_stack([grid.xs[i], rng.uniform(BOX[1], BOX[3], n)])
    on_y = np.column_stack([rng.uniform(BOX[0], BOX[2], n), grid.ys[j]])
    random = np.column_stack([rng.uniform(116.2, 116.8, n), rng.uniform(39.7, 40.2, n)])
    outside = np.array([[BOX[0] - 1e-12, BOX[1]], [BOX[2], BOX[3] + 1e-12], [np.nan, 40.0]])
    return np.concatenate([vertices, on_edges, corners, on_x, on_y, random, outside])


def _feature_first(geoms: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GEOS's test of every pair, the feature first (prepared), as the engine tests.

    For an invalid feature (the overlapping multipolygon, the bow-tie) GEOS may answer
    differently with the point first; the grid follows the feature's own answer.
    """
    hit = shapely.intersects(geoms[None, :], shapely.points(xy)[:, None])
    return np.nonzero(hit)


def _grid_answers(grid: PointGrid, geoms: np.ndarray, xy: np.ndarray) -> set:
    """The grid's pairs, and GEOS's for the points it leaves over."""
    s, f, rest = grid.pairs(xy)
    ts, tf = _feature_first(geoms, xy[rest])
    pairs = list(zip(s.tolist(), f.tolist(), strict=True))
    pairs += list(zip(rest[ts].tolist(), tf.tolist(), strict=True))
    assert len(set(pairs)) == len(pairs)  # no pair twice
    return set(pairs)


def _geos_answers(geoms: np.ndarray, xy: np.ndarray) -> set:
    p, g = _feature_first(geoms, xy)
    return set(zip(p.tolist(), g.tolist(), strict=True))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_grid_answers_as_geos_on_edges_vertices_and_cell_edges(seed):
    geoms = _features(seed)
    grid = PointGrid.build(geoms, BOX)
    assert grid is not None
    xy = _hard_points(geoms, grid, seed)
    site, _, rest = grid.pairs(xy)
    assert len(np.unique(site)) > len(xy) // 4  # the cells answer many points themselves
    assert len(rest) > 0  # and leave the points on edges to the test
    assert _grid_answers(grid, geoms, xy) == _geos_answers(geoms, xy)


def test_a_point_on_an_edge_is_never_answered_by_a_cell():
    geoms = _features(4)
    grid = PointGrid.build(geoms, BOX)
    rings = shapely.get_parts(shapely.boundary(geoms[shapely.get_dimensions(geoms) == 2]))
    t = np.linspace(0, 1, 500)
    on = shapely.get_coordinates(
        shapely.line_interpolate_point(np.repeat(rings, len(t)), np.tile(t, len(rings)),
                                       normalized=True)
    )  # fmt: skip
    inside_box = (on[:, 0] < BOX[2]) & (on[:, 1] < BOX[3])
    _, _, rest = grid.pairs(on[inside_box])
    assert len(rest) == inside_box.sum()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.floats(-0.05, 0.05))
def test_any_features_and_box_give_geos_answers(seed, shift):
    geoms = _features(seed)
    box = (BOX[0] + shift, BOX[1] - shift, BOX[2] + shift / 2, BOX[3])
    grid = PointGrid.build(geoms, box)
    xy = _hard_points(geoms, grid, seed)[::3]
    assert _grid_answers(grid, geoms, xy) == _geos_answers(geoms, xy)


def test_a_degenerate_box_or_a_nested_collection_gives_no_grid():
    geoms = _features(5)
    assert PointGrid.build(geoms, (116.3, 39.8, 116.3, 40.1)) is None
    nested = shapely.GeometryCollection([shapely.GeometryCollection([shapely.Point(116.4, 39.9)])])
    assert PointGrid.build(np.concatenate([geoms, [nested]]), BOX) is None


def test_features_overlapping_everywhere_give_no_grid():
    many = np.array([shapely.box(*BOX).buffer(0.001 * i) for i in range(10)], dtype=object)
    assert PointGrid.build(many, BOX) is None  # 10 features over every cell: too many pairs
    grid = PointGrid.build(many[:5], BOX)
    assert grid is not None and 4 * grid.n**2 < grid.count.sum() <= 5 * grid.n**2
    assert len(grid.feature) < grid.count.sum() / 10  # finer cells share coarser lists
