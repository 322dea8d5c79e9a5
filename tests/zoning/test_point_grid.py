"""The point grid (zoning/check/point_grid.py): cells answer point-in-feature exactly.

Every answer is compared with GEOS's own test of each point against each feature
(``shapely.intersects``), on the points where a grid could go wrong: on edges, on
vertices, on the cells' edges and corners, just outside the box, missing coordinates.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import zoning.check.relations as relations
from tests.zoning.conftest import random_sites
from tests.zoning.test_check import _assert_same
from zoning.check.engine import SiteChecker
from zoning.check.point_grid import PointGrid
from zoning.check.relations import LayerIndex, prepare_sites, relate_layer

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


def _layer(seed: int) -> LayerIndex:
    geoms = _features(seed)
    ids = np.array([f"F{i}" for i in range(len(geoms))], dtype=object)
    return LayerIndex("test", geoms, ids, ids.copy(), {})


def _hard_points(index: LayerIndex, grid: PointGrid, seed: int) -> np.ndarray:
    """Points on edges, vertices, cell edges and corners, outside, and at random."""
    rng = np.random.default_rng(seed)
    vertices = shapely.get_coordinates(index.geoms)
    rings = shapely.get_parts(shapely.boundary(index.geoms[index.areal]))
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


def _geos_pairs(index: LayerIndex, xy: np.ndarray) -> set[tuple[int, int]]:
    """Every (point, feature) pair GEOS says intersects, one test per pair."""
    pts = shapely.points(xy)
    hit = shapely.intersects(index.geoms[None, :], pts[:, None])
    return set(zip(*(a.tolist() for a in np.nonzero(hit)), strict=True))


def _grid_pairs(index: LayerIndex, xy: np.ndarray) -> set[tuple[int, int]]:
    """The pairs through the grid (its cells, and the exact test for the rest)."""
    s, f = relations._points_intersecting(index, xy, shapely.points(xy))
    assert len(set(zip(s.tolist(), f.tolist(), strict=True))) == len(s)  # no pair twice
    return set(zip(s.tolist(), f.tolist(), strict=True))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_grid_answers_as_geos_on_edges_vertices_and_cell_edges(seed):
    index = _layer(seed)
    grid = PointGrid.build(index.geoms, BOX, lambda xy: relations._points_tested(index, xy))
    assert grid is not None
    index._grid = grid
    xy = _hard_points(index, grid, seed)
    site, _, rest = grid.pairs(xy)
    assert len(np.unique(site)) > len(xy) // 4  # the cells answer many points themselves
    assert len(rest) > 0  # and leave the points on edges to the test
    assert _grid_pairs(index, xy) == _geos_pairs(index, xy)


def test_a_point_on_an_edge_is_never_answered_by_a_cell():
    index = _layer(4)
    grid = PointGrid.build(index.geoms, BOX, lambda xy: relations._points_tested(index, xy))
    rings = shapely.get_parts(shapely.boundary(index.geoms[index.areal]))
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
def test_any_layer_and_box_give_geos_answers(seed, shift):
    index = _layer(seed)
    box = (BOX[0] + shift, BOX[1] - shift, BOX[2] + shift / 2, BOX[3])
    grid = PointGrid.build(index.geoms, box, lambda xy: relations._points_tested(index, xy))
    index._grid = grid
    xy = _hard_points(index, grid, seed)[::3]
    assert _grid_pairs(index, xy) == _geos_pairs(index, xy)


def test_a_degenerate_box_or_a_nested_collection_gives_no_grid():
    index = _layer(5)
    exact = lambda xy: relations._points_tested(index, xy)  # noqa: E731
    assert PointGrid.build(index.geoms, (116.3, 39.8, 116.3, 40.1), exact) is None
    nested = shapely.GeometryCollection([shapely.GeometryCollection([shapely.Point(116.4, 39.9)])])
    geoms = np.concatenate([index.geoms, [nested]])
    assert PointGrid.build(geoms, BOX, exact) is None


def test_a_layer_builds_its_grid_after_enough_points_and_answers_the_same(monkeypatch):
    monkeypatch.setattr(relations, "GRID_AFTER_POINTS", 5_000)
    rng = np.random.default_rng(7)
    xy = np.column_stack([rng.uniform(116.25, 116.75, 4_000), rng.uniform(39.75, 40.15, 4_000)])
    sites = shapely.points(xy)
    block = prepare_sites(sites, ea_crs="EPSG:6933")
    fresh, gridded = _layer(8), _layer(8)
    kw = {"within_m": None, "nearest_max_m": 2_000.0, "ea_crs": "EPSG:6933"}
    want = relate_layer(fresh, block, **kw)
    first = relate_layer(gridded, block, **kw)  # 4 000 points: not yet
    assert gridded.point_grid(0) is None
    second = relate_layer(gridded, block, **kw)  # 8 000: built
    assert isinstance(gridded._grid, PointGrid)
    for got in (first, second):
        assert got.site.tolist() == want.site.tolist()
        assert got.feature.tolist() == want.feature.tolist()
        assert got.relation.tolist() == want.relation.tolist()
        assert np.array_equal(got.nearest_m, want.nearest_m, equal_nan=True)


def test_a_thread_finding_the_grid_being_built_tests_exactly_meanwhile(monkeypatch):
    monkeypatch.setattr(relations, "GRID_AFTER_POINTS", 10)
    index = _layer(9)
    with relations._GRID_LOCK:  # another thread is building a grid
        assert index.point_grid(100) is None
    assert isinstance(index.point_grid(100), PointGrid)


def test_the_grid_covers_the_layer_within_the_jurisdiction_box():
    index = _layer(10)
    index.grid_box = (116.0, 39.0, 116.5, 39.95)
    grid = index._build_grid()
    b = index.bounds
    assert (grid.xs[0], grid.ys[0]) == (b[0], b[1])
    assert (grid.xs[-1], grid.ys[-1]) == (116.5, 39.95)
    index.grid_box = (117.0, 39.0, 118.0, 40.0)  # no overlap with the layer: no grid
    assert index._build_grid() is None


def test_a_check_with_grids_equals_one_without(monkeypatch, pack, layers):
    sites = random_sites(20_000, seed=11)  # points, lines, polygons: first vertices
    xy, owner = shapely.get_coordinates(sites.geometry.to_numpy(), return_index=True)
    first = np.unique(owner, return_index=True)[1]
    sites = sites.set_geometry(shapely.points(xy[first]), crs=sites.crs)
    want = SiteChecker(pack, layers).check(sites, workers=1, chunk_size=5_000)
    monkeypatch.setattr(relations, "GRID_AFTER_POINTS", 0)
    checker = SiteChecker(pack, layers)
    got = checker.check(sites, workers=2, chunk_size=5_000)
    grids = [ix._grid for ix in checker.index.values()]
    assert sum(isinstance(g, PointGrid) for g in grids) >= len(grids) - 1
    _assert_same(want, got)


def test_a_pickled_layer_keeps_its_grid_or_builds_one_later(monkeypatch):
    monkeypatch.setattr(relations, "GRID_AFTER_POINTS", 10)
    unbuilt = pickle.loads(pickle.dumps(_layer(12)))  # dask workers get pickled layers
    assert unbuilt.point_grid(5) is None
    assert isinstance(unbuilt.point_grid(5), PointGrid)
    built = pickle.loads(pickle.dumps(unbuilt))
    assert np.array_equal(built.point_grid(1).marked, unbuilt.point_grid(1).marked)


def test_features_overlapping_everywhere_give_no_grid():
    many = np.array([shapely.box(*BOX).buffer(0.001 * i) for i in range(10)], dtype=object)
    index = LayerIndex("test", many, many.astype(str), many.astype(str), {})
    grid = PointGrid.build(many, BOX, lambda xy: relations._points_tested(index, xy))
    assert grid is None  # 10 features over every cell: more pairs than the bound
    five = LayerIndex("test", many[:5], many[:5].astype(str), many[:5].astype(str), {})
    grid = PointGrid.build(five.geoms, BOX, lambda xy: relations._points_tested(five, xy))
    assert grid is not None and 4 * grid.n**2 < grid.start[-1] <= 5 * grid.n**2
