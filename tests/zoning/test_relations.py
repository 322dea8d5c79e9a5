"""The relation engine (zoning/check/relations.py): layer indexes, metric zones, nearest features.

Expected distances come from GEOS in the same metric CRS (``shapely.distance``) and
from pyproj.Geod, never from the engine itself.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

import zoning.check.relations as relations
from geo.crs import metric_epsg, transform_geoms
from geo.pip import PointGrid
from tests.geodesy import geod_of_shortest_lines
from tests.zoning.conftest import random_sites
from tests.zoning.test_check import _assert_same
from zoning.check.engine import SiteChecker
from zoning.check.relations import LayerIndex, fixed_equal_area_crs, prepare_sites, relate_layer

GEOD = Geod(ellps="GRS80")


def _layer(
    seed: int = 3,
    box: tuple[float, float, float, float] = (116.55, 39.80, 116.85, 40.00),
    n: int = 60,
    size: float = 0.01,
) -> LayerIndex:
    """Irregular polygons, lines and points in ``box`` (lon/lat; default around Tongzhou).

    Half of the ``n`` features are polygons up to ``size`` degrees across, a quarter
    lines, the rest points.
    """
    rng = np.random.default_rng(seed)
    lon = rng.uniform(box[0], box[2], n)
    lat = rng.uniform(box[1], box[3], n)
    h, q = n // 2, n // 2 + n // 4
    polys = [
        shapely.Point(x, y).buffer(rng.uniform(0.002, size), quad_segs=rng.integers(2, 16))
        for x, y in zip(lon[:h], lat[:h], strict=True)
    ]
    lines = [
        shapely.LineString([(x, y), (x + size, y + 0.4 * size), (x + 1.5 * size, y - 0.3 * size)])
        for x, y in zip(lon[h:q], lat[h:q], strict=True)
    ]
    points = [shapely.Point(x, y) for x, y in zip(lon[q:], lat[q:], strict=True)]
    geoms = np.array(polys + lines + points, dtype=object)
    ids = np.array([f"F{i}" for i in range(len(geoms))], dtype=object)
    return LayerIndex("test", geoms, ids, ids.copy(), {})


def test_a_layer_index_is_prepared_again_when_unpickled():
    index = _layer()
    assert shapely.is_prepared(index.geoms).all()
    copy = pickle.loads(pickle.dumps(index))
    assert shapely.is_prepared(copy.geoms).all()  # dask workers get prepared layers
    assert shapely.equals(copy.geoms, index.geoms).all()
    assert copy.ids.tolist() == index.ids.tolist()


def test_metric_epsg_follows_the_gauss_krueger_zones():
    # zone floor(lon / 3 + 0.5): 115.5°E is the edge of zones 38 and 39 (east wins)
    lon = np.array([115.49, 115.5, 116.4, 118.49, 118.5, 80.0, 10.0, -70.0])
    lat = np.array([39.9, 39.9, 39.9, 39.9, 39.9, 40.0, 50.0, -33.0])
    # EPSG:4534 is zone 25 (CM 75°E); outside China the UTM zone
    assert metric_epsg(lon, lat).tolist() == [4547, 4548, 4548, 4548, 4549, 4536, 32632, 32719]


def test_nearest_distance_agrees_with_geos_for_points_outside():
    index = _layer()
    rng = np.random.default_rng(11)
    pts = shapely.points(rng.uniform(116.5, 116.9, 400), rng.uniform(39.75, 40.05, 400))
    outside = ~shapely.intersects(shapely.union_all(index.geoms), pts)
    pts = pts[outside]
    ea = fixed_equal_area_crs([index])
    rel = relate_layer(index, prepare_sites(pts, ea_crs=ea), within_m=None,
                       nearest_max_m=50_000.0, ea_crs=ea)  # fmt: skip
    # every site is in GK zone 39 (EPSG:4548): GEOS finds the nearest feature there,
    # pyproj.Geod measures the shortest line between them on the ellipsoid
    pts_m = transform_geoms(pts, "EPSG:4326", 4548)
    feats_m = transform_geoms(index.geoms, "EPSG:4326", 4548)
    d_all = shapely.distance(pts_m[:, None], feats_m[None, :])
    nearest = d_all.argmin(axis=1)
    assert rel.nearest_feature.tolist() == nearest.tolist()
    expected = geod_of_shortest_lines(pts_m, feats_m[nearest], 4548)
    np.testing.assert_allclose(rel.nearest_m, expected, rtol=0, atol=1e-4)
    assert (d_all.min(axis=1) - expected > 0.05).any()  # the plane's distances were not


def test_points_in_overlapping_features_give_every_pair_in_site_then_feature_order():
    # many overlapping polygons (tested feature by feature): the pairs GEOS finds on
    # every (point, feature), sorted by site then feature
    index = _layer(8, n=200, size=0.05)
    rng = np.random.default_rng(4)
    pts = shapely.points(rng.uniform(116.5, 116.9, 3_000), rng.uniform(39.75, 40.05, 3_000))
    ea = fixed_equal_area_crs([index])
    rel = relate_layer(index, prepare_sites(pts, ea_crs=ea), within_m=None,
                       nearest_max_m=1_000.0, ea_crs=ea)  # fmt: skip
    meet = rel.distance_m == 0
    got = list(zip(rel.site[meet].tolist(), rel.feature[meet].tolist(), strict=True))
    s, f = np.nonzero(shapely.intersects(pts[:, None], index.geoms[None, :]))
    assert len(set(s.tolist())) > 500 and np.bincount(s).max() >= 3  # overlaps: real test
    assert got == list(zip(s.tolist(), f.tolist(), strict=True))


def test_one_site_alone_gets_the_answer_it_gets_in_a_block():
    index = _layer()
    rng = np.random.default_rng(5)
    pts = shapely.points(rng.uniform(116.5, 116.9, 50), rng.uniform(39.75, 40.05, 50))
    ea = fixed_equal_area_crs([index])
    together = relate_layer(index, prepare_sites(pts, ea_crs=ea), within_m=None,
                            nearest_max_m=50_000.0, ea_crs=ea)  # fmt: skip
    for i in range(len(pts)):
        alone = relate_layer(index, prepare_sites(pts[i : i + 1], ea_crs=ea), within_m=None,
                             nearest_max_m=50_000.0, ea_crs=ea)  # fmt: skip
        assert alone.nearest_feature[0] == together.nearest_feature[i]
        assert alone.nearest_m[0] == pytest.approx(together.nearest_m[i], abs=1e-9, nan_ok=True)


def test_z_order_is_a_stable_permutation_keeping_each_cell_together():
    from zoning.check.nearest import z_order

    rng = np.random.default_rng(4)
    xy = rng.uniform(0.0, 20_000.0, (5_000, 2))
    xy[::97] = np.nan  # points without coordinates still get a place
    o = z_order(xy, 500.0)
    assert np.array_equal(np.sort(o), np.arange(len(xy)))
    cell = np.floor(np.nan_to_num(xy - np.nanmin(xy, axis=0)) / 500.0).astype(np.int64)
    key = cell[o, 0] * 1_000 + cell[o, 1]
    first = np.concatenate([[True], key[1:] != key[:-1]])
    assert first.sum() == len(np.unique(key))  # each cell one run, in input order within
    for k in np.unique(key)[:50]:
        assert (np.diff(o[key == k]) > 0).all()
    # cells next to each other on the curve are near: a walk far shorter than input order
    walk = np.nansum(np.hypot(*np.diff(xy[o], axis=0).T))
    assert walk < np.nansum(np.hypot(*np.diff(xy, axis=0).T)) / 20


@pytest.mark.parametrize("kinds", ["points", "mixed", "one zone"])
def test_a_block_searched_in_z_order_gets_the_answers_of_input_order(monkeypatch, kinds):
    # blocks of at least _ORDER_MIN_POINTS sites are searched in Z-order: the answers,
    # given back in the sites' order, are those of a search in input order
    from zoning.check import nearest

    index = _layer(box=(115.3, 39.8, 115.7, 40.0), n=120)  # across two GK zones (115.5°E)
    rng = np.random.default_rng(9)
    n = 3_000
    lon, lat = rng.uniform(115.1, 115.9, n), rng.uniform(39.6, 40.2, n)
    sites = shapely.points(lon, lat)
    if kinds == "mixed":
        sites[::5] = shapely.buffer(sites[::5], 0.002)
        sites[1::7] = shapely.linestrings(
            np.stack([np.c_[lon[1::7], lat[1::7]], np.c_[lon[1::7] + 0.01, lat[1::7]]], axis=1)
        )
    ea = fixed_equal_area_crs([index])

    if kinds == "one zone":  # points of one GK zone, every one searched
        sites = shapely.points(rng.uniform(115.55, 115.9, n), rng.uniform(39.6, 40.2, n))

    def relate() -> relations.LayerRelations:
        block = prepare_sites(sites, ea_crs=ea)
        if kinds != "one zone":  # with within-distance pairs (found in Z-order too)
            within = np.full(len(index), 300.0)
            return relate_layer(index, block, within_m=within, nearest_max_m=8_000.0, ea_crs=ea)
        f, d = nearest._nearest(index, block, np.ones(n, dtype=bool), 8_000.0)
        return relations.LayerRelations(*[np.zeros(0)] * 6, f, d, np.zeros(n, dtype=bool))

    ordered = relate()
    block = prepare_sites(sites, ea_crs=ea)
    assert len(block.zones) == (1 if kinds == "one zone" else 2)
    assert not np.array_equal(block.in_search_order(), np.arange(n))  # (the order is used)
    monkeypatch.setattr(relations, "_ORDER_MIN_POINTS", n + 1)
    plain = relate()
    assert np.array_equal(ordered.nearest_feature, plain.nearest_feature)
    for name in ("site", "feature", "relation", "distance_m"):
        assert np.array_equal(getattr(ordered, name), getattr(plain, name), equal_nan=True)
    if kinds != "one zone":
        assert (plain.relation == relations.WITHIN_DISTANCE).sum() > 50
    assert np.array_equal(ordered.nearest_m, plain.nearest_m, equal_nan=True)
    assert np.isfinite(plain.nearest_m).sum() > n // 4 and np.isnan(plain.nearest_m).any()


def test_metric_distance_is_geodesic_to_the_centimetre():
    # a point 30 m due east of a well: the metric distance matches Geod within 1 cm
    lon0, lat0 = 116.70, 39.90
    lon1, _, _ = GEOD.fwd(lon0, lat0, 90.0, 30.0)
    geoms = np.array([shapely.Point(lon0, lat0)], dtype=object)
    ids = np.array(["W1"], dtype=object)
    index = LayerIndex("well", geoms, ids, ids.copy(), {})
    ea = fixed_equal_area_crs([index])
    site = np.array([shapely.Point(lon1, lat0)], dtype=object)
    rel = relate_layer(index, prepare_sites(site, ea_crs=ea), within_m=None,
                       nearest_max_m=1000.0, ea_crs=ea)  # fmt: skip
    assert rel.nearest_feature.tolist() == [0]
    assert rel.nearest_m[0] == pytest.approx(30.0, abs=0.01)


@pytest.mark.parametrize("threshold_m", [30.0, 3_000.0])
def test_sites_a_few_millimetres_from_a_threshold_at_a_zone_edge_are_judged_on_the_ellipsoid(
    threshold_m,
):
    # 109.45°E, 22.8°N (Guangxi) is 1.45° from its Gauss-Krüger zone's central meridian
    # (108°E): a plane metre there is 0.28 mm short, so a site 5 mm inside 3 km is 78 cm
    # outside it in the plane. Whether a site is within the threshold, and its
    # distance, must be pyproj.Geod's, for points and polygons, both sides of the line.
    lon0, lat0 = 109.45, 22.8
    well = shapely.Point(lon0, lat0)
    river = shapely.LineString([(lon0 - 0.05, lat0 - 0.02), (lon0 - 0.05, lat0 + 0.02)])
    geoms = np.array([well, river], dtype=object)
    ids = np.array(["W", "R"], dtype=object)
    index = LayerIndex("test", geoms, ids, ids.copy(), {})
    sites = []
    for delta in (-0.005, 0.005):
        lon, lat, _ = GEOD.fwd(lon0, lat0, 90.0, threshold_m + delta)
        sites.append(shapely.Point(lon, lat))
        lon, lat, _ = GEOD.fwd(lon0, lat0, 135.0, threshold_m + delta)  # a square's corner
        sites.append(shapely.Polygon([(lon, lat), (lon + 0.001, lat), (lon + 0.001, lat - 0.001),
                                      (lon, lat - 0.001)]))  # fmt: skip
    pts = np.array(sites, dtype=object)
    ea = fixed_equal_area_crs([index])
    block = prepare_sites(pts, ea_crs=ea)
    assert set(block.zones) == {4545}
    within = np.array([threshold_m, np.nan])  # the well's threshold; the river: nearest only
    rel = relate_layer(index, block, within_m=within, nearest_max_m=20_000.0, ea_crs=ea)
    pts_m = transform_geoms(pts, "EPSG:4326", 4545)
    well_m = transform_geoms(geoms[:1], "EPSG:4326", 4545)[0]
    want = geod_of_shortest_lines(pts_m, np.full(len(pts), well_m), 4545)
    plane = shapely.distance(pts_m, well_m)
    inside = want <= threshold_m
    assert inside.tolist() == [True, True, False, False]  # the data is what it says
    assert (plane[inside] > threshold_m).all()  # and the plane would have said outside
    got = rel.relation == 2  # WITHIN_DISTANCE
    assert rel.site[got].tolist() == np.flatnonzero(inside).tolist()
    assert (rel.feature[got] == 0).all()
    np.testing.assert_allclose(rel.distance_m[got], want[inside], rtol=0, atol=1e-4)
    # nearest: the well for every site; and the river's distance from the river layer alone
    np.testing.assert_allclose(rel.nearest_m, want, rtol=0, atol=1e-4)
    river_only = LayerIndex("river", geoms[1:], ids[1:], ids[1:].copy(), {})
    rr = relate_layer(river_only, prepare_sites(pts, ea_crs=ea), within_m=None,
                      nearest_max_m=20_000.0, ea_crs=ea)  # fmt: skip
    river_m = transform_geoms(geoms[1:], "EPSG:4326", 4545)[0]
    want_r = geod_of_shortest_lines(pts_m, np.full(len(pts), river_m), 4545)
    np.testing.assert_allclose(rr.nearest_m, want_r, rtol=0, atol=1e-4)
    assert (shapely.distance(pts_m, river_m) - want_r > 1.0).all()  # 5 km: 1.4 m in the plane


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(74.0, 135.0),
    lat=st.floats(18.5, 53.0),
    azimuth=st.floats(0.0, 360.0),
    threshold=st.sampled_from([30.0, 100.0, 500.0, 1_000.0, 3_000.0, 5_000.0]),
    offset_mm=st.integers(1, 50),
    inside=st.booleans(),
)
def test_anywhere_in_china_a_site_within_a_threshold_on_the_ellipsoid_is_within(
    lon, lat, azimuth, threshold, offset_mm, inside
):
    # a well, and a site 1-50 mm inside or outside a threshold of it (pyproj.Geod),
    # anywhere in China's Gauss-Krüger zones, across their edges: the engine says
    # "within" exactly when Geod does, and measures the distance to 0.1 mm
    distance = threshold + (-1 if inside else 1) * offset_mm / 1000.0
    site_lon, site_lat, _ = GEOD.fwd(lon, lat, azimuth, distance)
    ids = np.array(["W"], dtype=object)
    index = LayerIndex("well", np.array([shapely.Point(lon, lat)], dtype=object), ids, ids, {})
    ea = fixed_equal_area_crs([index])
    site = np.array([shapely.Point(site_lon, site_lat)], dtype=object)
    rel = relate_layer(index, prepare_sites(site, ea_crs=ea), within_m=np.array([threshold]),
                       nearest_max_m=10_000.0, ea_crs=ea)  # fmt: skip
    assert (rel.relation == 2).tolist() == ([True] if inside else [])
    assert rel.nearest_m[0] == pytest.approx(distance, abs=1e-4)


@pytest.mark.parametrize("radius_m", [30.0, 400.0])
def test_within_distance_pairs_of_points_equal_geos_on_every_pair(radius_m):
    # a block of single points keeps no metric geometries and drops, by the segment
    # k-d tree, the points far from every feature: the pairs must still be exactly
    # those GEOS finds on every (site, feature) pair, with GEOS's distances
    index = _layer(seed=7)
    rng = np.random.default_rng(17)
    near = shapely.get_coordinates(index.geoms)[rng.integers(0, 500, 300)]
    near += rng.normal(0, 0.0005, near.shape)  # many points tens of metres from a vertex
    xy = np.vstack([near, np.column_stack([rng.uniform(116.5, 116.9, 300),
                                           rng.uniform(39.75, 40.05, 300)])])  # fmt: skip
    pts = shapely.points(xy)
    ea = fixed_equal_area_crs([index])
    block = prepare_sites(pts, ea_crs=ea)
    assert block.geoms_m is None  # the point path: coordinates only
    within = np.full(len(index), radius_m)
    within[::5] = np.nan  # features no rule measures distances to
    rel = relate_layer(index, block, within_m=within, nearest_max_m=1000.0, ea_crs=ea)
    got = rel.relation == 2  # WITHIN_DISTANCE
    pts_m = transform_geoms(pts, "EPSG:4326", 4548)
    feats_m = transform_geoms(index.geoms, "EPSG:4326", 4548)
    n, m = len(pts_m), len(feats_m)
    d = geod_of_shortest_lines(np.repeat(pts_m, m), np.tile(feats_m, n), 4548).reshape(n, m)
    touch = shapely.intersects(pts[:, None], index.geoms[None, :])
    want_s, want_f = np.nonzero(~touch & (d <= within[None, :]))
    assert len(want_s) > 20  # the data really has pairs
    np.testing.assert_array_equal(rel.site[got], want_s)
    np.testing.assert_array_equal(rel.feature[got], want_f)
    np.testing.assert_allclose(rel.distance_m[got], d[want_s, want_f], rtol=0, atol=1e-4)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_equally_near_features_give_the_lowest_one(order):
    # three squares meeting at (1000, 1000) (metres): a point above that corner is
    # exactly as near to each; the answer is the lowest position, whatever the order
    from zoning.check.nearest import _Segments

    squares = [shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000),
               shapely.box(1000, 1000, 2000, 2000).buffer(0)]  # fmt: skip
    geoms = np.array([squares[i] for i in order], dtype=object)
    seg = _Segments(geoms)
    xy = np.array([[1000.0, 1500.0], [500.0, 1500.0], [1000.0, 1000.5]])
    feat, dist, _sure, _foot = seg.nearest(xy, 8, 5000.0)
    d_all = shapely.distance(shapely.points(xy)[:, None], geoms[None, :])
    np.testing.assert_allclose(dist, d_all.min(axis=1), atol=1e-9)
    want = [int(np.flatnonzero(row == row.min()).min()) for row in d_all]
    assert feat.tolist() == want


def test_equally_near_features_give_the_lowest_one_from_geos_too(monkeypatch):
    # the points the k-d search cannot certify go to GEOS's best-first search, which
    # returns equally near pieces in its tree's order: the lowest feature all the same
    import itertools

    from shapely import STRtree

    from zoning.check import nearest

    monkeypatch.setattr(nearest, "_kd_available", lambda: False)  # GEOS does it all
    squares = [shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000),
               shapely.box(1000, 1000, 2000, 2000), shapely.box(0, 1000, 1000, 2000)]  # fmt: skip
    xy = np.array([[1000.0, 3000.0], [1000.0, -500.0], [3000.0, 1000.0], [-700.0, 1000.0]])
    for order in itertools.permutations(range(4)):
        geoms = np.array([squares[i] for i in order], dtype=object)
        pieces, owner = nearest._pieces(geoms)
        m = nearest._Metric(geoms, pieces, owner, STRtree(pieces), nearest._Segments(geoms))
        feat, dist, _ = nearest._points_nearest(m, xy, 50_000.0)
        d_all = shapely.distance(shapely.points(xy)[:, None], geoms[None, :])
        np.testing.assert_allclose(dist, d_all.min(axis=1), atol=1e-9)
        assert feat.tolist() == [int(np.flatnonzero(r == r.min()).min()) for r in d_all]


def _wide_layer() -> LayerIndex:
    """Polygons, lines and points across the edge of GK zones 38 and 39 (115.5°E)."""
    return _layer(21, box=(115.0, 39.5, 117.0, 40.5), n=240, size=0.02)


def _wide_layer_and_points(
    seed: int, n: int, pad_m: float
) -> tuple[LayerIndex, np.ndarray, np.ndarray]:
    """:func:`_wide_layer`, its features in GK zone 39 (EPSG:4548) and ``n`` random
    points (metres) over their box grown by ``pad_m``."""
    base = _wide_layer()
    geoms_m = transform_geoms(base.geoms, "EPSG:4326", 4548)
    lo, hi = shapely.bounds(geoms_m).min(axis=0)[:2], shapely.bounds(geoms_m).max(axis=0)[2:]
    xy = np.random.default_rng(seed).uniform(lo - pad_m, hi + pad_m, (n, 2))
    return base, geoms_m, xy


def _wide_sites(rng: np.random.Generator, n: int) -> np.ndarray:
    lon = rng.uniform(114.9, 117.1, n)
    lat = rng.uniform(39.4, 40.6, n)
    kind = rng.integers(0, 3, n)
    return np.array(
        [
            shapely.Point(x, y) if k == 0
            else shapely.LineString([(x, y), (x + 0.004, y + 0.002)]) if k == 1
            else shapely.Point(x, y).buffer(0.002, quad_segs=3)
            for x, y, k in zip(lon, lat, kind, strict=True)
        ],
        dtype=object,
    )  # fmt: skip


def test_a_metric_copy_near_the_sites_gives_the_answers_of_the_whole_layer():
    # one site at a time: each fresh index copies only the features near that site;
    # every relation and distance equals, to the bit, the one from whole-layer copies
    whole = _wide_layer()
    ea = fixed_equal_area_crs([whole])
    sites = _wide_sites(np.random.default_rng(4), 120)
    within = np.full(len(whole), 800.0)
    kw = {"within_m": within, "nearest_max_m": 4000.0, "ea_crs": ea}
    for epsg in (4547, 4548):
        whole.metric(epsg)  # both zones, every feature
    partial = 0
    for i in range(len(sites)):
        block = prepare_sites(sites[i : i + 1], ea_crs=ea)
        ref = relate_layer(whole, block, **kw)
        local = _wide_layer()
        got = relate_layer(local, prepare_sites(sites[i : i + 1], ea_crs=ea), **kw)
        for name in ("site", "feature", "relation", "distance_m", "overlap_m2",
                     "nearest_feature", "nearest_m"):  # fmt: skip
            assert np.array_equal(getattr(got, name), getattr(ref, name), equal_nan=True), name
        copies = list(local._metric.values())
        partial += sum(m.box is not None and len(m.geoms) < len(local) for m in copies)
    assert partial > len(sites) // 2  # most sites copied only a part of the layer


def test_a_search_beyond_the_first_copy_gets_the_whole_layer():
    index = _layer()
    ea = fixed_equal_area_crs([index])
    west = prepare_sites(np.array([shapely.Point(116.56, 39.81)], dtype=object), ea_crs=ea)
    relate_layer(index, west, within_m=None, nearest_max_m=500.0, ea_crs=ea)
    first = index.metric(4548, west.reach(None, 500.0))
    assert first.box is not None and len(first.geoms) < len(index)
    east = prepare_sites(np.array([shapely.Point(116.84, 39.99)], dtype=object), ea_crs=ea)
    got = relate_layer(index, east, within_m=None, nearest_max_m=500.0, ea_crs=ea)
    m = index._metric[4548]
    assert m.box is None and len(m.geoms) == len(index)  # replaced by the whole layer
    feats_m = transform_geoms(index.geoms, "EPSG:4326", 4548)
    d = shapely.distance(transform_geoms(east.geoms_ll, "EPSG:4326", 4548)[0], feats_m).min()
    expected = d if d <= 500.0 else np.nan
    assert got.nearest_m[0] == pytest.approx(expected, abs=1e-6, nan_ok=True)


@pytest.mark.parametrize("radius_m", [30.0, 1000.0, 10_000.0, 150_000.0])
def test_a_sites_reach_holds_every_place_within_the_radius(radius_m):
    # the reach box (what a metric copy must hold) against Geod: every place at the
    # radius from the sites, in 72 directions, lies in it
    rng = np.random.default_rng(int(radius_m))
    for lat_band in ((18.0, 22.0), (39.0, 41.0), (50.0, 53.0)):
        lon = rng.uniform(100.0, 120.0, 20)
        lat = rng.uniform(*lat_band, 20)
        sites = np.array([shapely.Point(x, y).buffer(0.01) for x, y in zip(lon, lat, strict=True)])
        block = prepare_sites(sites, ea_crs=fixed_equal_area_crs([_layer()]))
        x0, y0, x1, y1 = block.reach(None, radius_m)
        ring = shapely.get_coordinates(shapely.boundary(sites))
        az = np.repeat(np.linspace(0.0, 360.0, 72, endpoint=False)[None, :], len(ring), 0)
        px, py, _ = GEOD.fwd(
            np.repeat(ring[:, 0], 72), np.repeat(ring[:, 1], 72), az.ravel(),
            np.full(az.size, radius_m),
        )  # fmt: skip
        assert (px >= x0).all() and (px <= x1).all() and (py >= y0).all() and (py <= y1).all()


@pytest.mark.parametrize("max_m", [150.0, 3000.0])  # some points beyond; all within
def test_few_points_measured_on_every_segment_get_the_k_d_answers(monkeypatch, max_m):
    # the same segments searched with the k-d tree and measured one by one: the same
    # nearest feature (the lowest of equally near ones) and the same distance, to the bit
    from zoning.check import nearest

    base = _wide_layer()
    twins = np.concatenate([base.geoms, base.geoms[::7]])  # equally near features
    geoms_m = transform_geoms(twins, "EPSG:4326", 4548)
    rng = np.random.default_rng(8)
    vertices = shapely.get_coordinates(base.geoms)
    near = vertices[rng.integers(0, len(vertices), 300)]  # by the features
    pts = shapely.points(near + rng.normal(0.0, 0.004, (300, 2)))
    xy = shapely.get_coordinates(transform_geoms(pts, "EPSG:4326", 4548))
    monkeypatch.setattr(nearest, "_DIRECT_PAIRS", 10**12)
    monkeypatch.setattr(nearest, "_DIRECT_BUDGET", 10**9)
    measured = nearest._Metric.build(twins, 4548)
    f1, d1, foot1 = nearest._points_nearest(measured, xy, max_m)
    assert measured.segments._kd is None  # no tree was built
    monkeypatch.setattr(nearest, "_DIRECT_PAIRS", 0)
    searched = nearest._Metric.build(twins, 4548)
    f2, d2, foot2 = nearest._points_nearest(searched, xy, max_m)
    assert searched.segments._kd is not None
    assert np.array_equal(f1, f2) and np.array_equal(d1, d2, equal_nan=True)
    # the same nearest point too (what the distance's scale correction is taken along)
    assert np.array_equal(foot1, foot2, equal_nan=True)
    hit = np.isfinite(d1)
    np.testing.assert_allclose(np.hypot(*(foot1[hit] - xy[hit]).T), d1[hit], rtol=0, atol=1e-6)
    assert np.isfinite(d1).sum() > 50  # (and some beyond 150 m)
    # against GEOS: the nearest boundary (what points outside every feature are
    # measured to), and the lowest feature at it
    edges = np.where(shapely.get_dimensions(geoms_m) == 2, shapely.boundary(geoms_m), geoms_m)
    d_all = shapely.distance(shapely.points(xy)[:, None], edges[None, :])
    best = d_all.min(axis=1)
    hit = best <= max_m
    np.testing.assert_allclose(d1[hit], best[hit], rtol=0, atol=1e-6)
    assert np.isnan(d1[~hit]).all()
    lowest = np.argmax(d_all <= best[:, None] + 1e-6, axis=1)
    assert np.array_equal(f1[hit], lowest[hit])


def test_k_d_queries_use_one_openmp_thread_in_each_calling_thread():
    # the checks run one block per core on their own threads: pykdtree's OpenMP team
    # is limited to one thread in every thread that queries (the limit is per thread)
    import threading

    from threadpoolctl import threadpool_info

    from zoning.check import nearest

    def team() -> list[int]:  # this thread's limit for pykdtree's OpenMP runtime
        return [i["num_threads"] for i in threadpool_info() if "pykdtree" in i["filepath"]]

    tree = nearest._kd_class()(np.random.default_rng(0).random((1000, 2)))
    seen: dict[str, list[int]] = {}

    def ask() -> None:
        seen["before"] = team()
        d, i = tree.query(np.random.default_rng(1).random((50, 2)), 3, 0.5)
        assert d.shape == (50, 3) and i.dtype == np.intp
        seen["after"] = team()

    worker = threading.Thread(target=ask)
    worker.start()
    worker.join()
    if seen["before"] == [1]:
        pytest.skip("OpenMP already runs one thread here (one core, or OMP_NUM_THREADS=1)")
    assert seen["before"] and seen["after"] == [1]


def test_segments_with_their_k_d_tree_pickle_and_answer_the_same():
    # a used checker (a server's, a batch's) holds k-d trees; dask ships it to workers
    from zoning.check import nearest

    seg = nearest._Metric.build(_wide_layer().geoms, 4548).segments
    xy = np.random.default_rng(3).uniform([4.6e5, 4.38e6], [5.4e5, 4.48e6], (5_000, 2))
    assert seg.tree_due(len(xy), count=False)
    want = seg.nearest(xy, 8, 5_000.0)
    assert seg._kd is not None
    copy = pickle.loads(pickle.dumps(seg))
    assert copy._kd is not None
    for a, b in zip(copy.nearest(xy, 8, 5_000.0), want, strict=True):
        np.testing.assert_array_equal(a, b)
    # unpickled in a fresh process (a dask worker), its queries are limited too
    import subprocess
    import sys

    code = (
        "import pickle, sys\n"
        "from zoning.check import nearest\n"
        "seg = pickle.loads(sys.stdin.buffer.read())\n"
        "print(nearest._OneThreadKD._openmp is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(seg),
                         capture_output=True, check=True).stdout  # fmt: skip
    assert out.decode().strip() == "True"


def test_the_k_d_tree_is_built_once_measuring_costs_more():
    from zoning.check import nearest

    index = _wide_layer()
    seg = nearest._Metric.build(index.geoms, 4548).segments
    one = np.array([[5.0e5, 4.43e6]])
    queries = 0
    while not seg.tree_due(1, count=False):
        seg.nearest(one, 8, 1000.0)
        queries += 1
    # about _DIRECT_BUDGET one-point searches measure every segment, then the tree
    assert queries == nearest._DIRECT_BUDGET
    assert seg.tree_due(10_000, count=False)  # a block that would cost more: the tree
    seg.nearest(one, 8, 1000.0)
    assert seg._kd is not None


@pytest.mark.parametrize("max_cells", [250_000, 300])  # 400 m cells; cells widened
@pytest.mark.parametrize("max_m", [150.0, 3000.0])
def test_points_far_by_grid_get_the_k_d_answers(monkeypatch, max_m, max_cells):
    # many points (the grid's threshold lowered): those in cells far from every segment
    # are answered "none" without a query; every answer equals the k-d search's, and
    # no point within max_m of a feature is ever called far
    from zoning.check import nearest

    base, geoms_m, xy = _wide_layer_and_points(21, 6_000, 8_000)
    monkeypatch.setattr(nearest, "_FAR_CELL_M", 400.0)
    monkeypatch.setattr(nearest, "_FAR_MIN_POINTS", 1_000)
    monkeypatch.setattr(nearest, "_FAR_MAX_CELLS", max_cells)
    m = nearest._Metric.build(base.geoms, 4548)
    f1, d1, foot1 = nearest._points_nearest(m, xy, max_m)
    far = m.segments.surely_far(xy, max_m)
    grid = m.segments._far_grid(max_m)[2]
    assert grid.size <= max_cells  # bounded work, whatever the layer's extent
    assert 0 < far.sum() < len(xy)  # some points skipped, some searched
    f2, d2, _, foot2 = nearest._points_nearest_kd(m, xy, max_m)  # the k-d search for every point
    assert np.array_equal(f1, f2) and np.array_equal(d1, d2, equal_nan=True)
    assert np.array_equal(foot1, foot2, equal_nan=True)
    # (distances to the boundaries: the engine asks only for points outside every feature)
    edges = np.where(shapely.get_dimensions(geoms_m) == 2, shapely.boundary(geoms_m), geoms_m)
    d_geos = shapely.distance(shapely.points(xy)[:, None], edges[None, :]).min(axis=1)
    assert not (far & (d_geos <= max_m)).any()
    assert np.isnan(d1[far]).all() and (f1[far] == -1).all()


@pytest.mark.parametrize("max_m", [500.0, 6000.0])
def test_any_first_k_gives_the_same_answers(max_m):
    # the certificate is strict: every equally near segment was a candidate, so a
    # search started at a larger k answers every point as one started at the smallest
    from zoning.check import nearest

    base, _, xy = _wide_layer_and_points(5, 4_000, 8_000)
    m = nearest._Metric.build(base.geoms, 4548)
    f0, d0, took, _ = nearest._points_nearest_kd(m, xy, max_m)
    assert len(np.unique(took)) > 1  # points answered at several steps
    for seed in range(3):
        first = np.random.default_rng(seed).integers(0, len(nearest._K_STEPS), len(xy))
        f1, d1, took1, _ = nearest._points_nearest_kd(m, xy, max_m, first.astype(np.int8))
        assert np.array_equal(f0, f1) and np.array_equal(d0, d1, equal_nan=True)
        assert (took1 >= first).all()  # no step before a point's first
    # equally near squares: the lowest feature from any first k
    squares = np.array([shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000),
                        shapely.box(1000, 1000, 2000, 2000)], dtype=object)  # fmt: skip
    pieces, owner = nearest._pieces(squares)
    sq = nearest._Metric(squares, pieces, owner, shapely.STRtree(pieces),
                         nearest._Segments(squares))  # fmt: skip
    corner = np.array([[1000.0, 1500.0], [1000.0, 1000.5], [3000.0, 1000.0]] * 3)
    first = np.repeat(np.arange(3, dtype=np.int8), 3)
    f, d, _, _ = nearest._points_nearest_kd(sq, corner, 50_000.0, first)
    d_all = shapely.distance(shapely.points(corner)[:, None], squares[None, :])
    np.testing.assert_allclose(d, d_all.min(axis=1), atol=1e-9)
    assert f.tolist() == [int(np.flatnonzero(r == r.min()).min()) for r in d_all]


def test_a_layer_of_points_is_answered_by_the_k_d_search_save_exact_ties():
    from zoning.check import nearest

    rng = np.random.default_rng(4)
    wells = shapely.points(rng.uniform(0, 10_000, (300, 2)))
    wells = np.concatenate([wells, shapely.points([[20_000.0, 0.0], [20_000.0, 2_000.0]])])
    pieces, owner = nearest._pieces(wells)
    m = nearest._Metric(wells, pieces, owner, shapely.STRtree(pieces), nearest._Segments(wells))
    assert m.segments.kd is not None  # (the tree, as a batch has it)
    xy = np.concatenate([rng.uniform(-500, 10_500, (2_000, 2)), [[20_000.0, 1_000.0]]])
    f, d, took, _ = nearest._points_nearest_kd(m, xy, 50_000.0)
    assert (took[:-1] == 0).all()  # no point left to GEOS
    assert took[-1] == len(nearest._K_STEPS)  # two wells exactly as near: GEOS decides
    d_all = shapely.distance(shapely.points(xy)[:, None], wells[None, :])
    np.testing.assert_allclose(d, d_all.min(axis=1), rtol=0, atol=1e-9)
    assert f.tolist() == [int(np.flatnonzero(r == r.min()).min()) for r in d_all]


def test_a_cell_learns_the_first_k_that_costs_its_points_least():
    from zoning.check.nearest import _LEARN_POINTS, _FirstSteps

    fs = _FirstSteps(5)
    n = _LEARN_POINTS
    cells = np.repeat([0, 1, 2, 3], [n, n, n, n - 1])
    took = np.concatenate([np.full(n, 2), np.zeros(n), np.full(n, 3), np.full(n - 1, 2)])
    first = np.zeros(len(cells), dtype=np.int8)
    fs.learn(cells, first, took.astype(np.int8))
    # 16 points at k = 32: start there; at k = 8: stay; GEOS's: start at the last k;
    # a cell with too few points waits
    assert fs.start.tolist()[:4] == [2, 0, 2, 0]
    assert fs.decided.tolist() == [True, True, True, False, False]
    fs.learn(np.array([3, 4]), np.array([2, 0], dtype=np.int8), np.array([2, 0], dtype=np.int8))
    assert fs.seen[3].sum() == n - 1  # a point that started later says nothing
    assert fs.steps(np.array([0, 1, -1, 4])).tolist() == [2, 0, 0, 0]  # off the grid: first
    # 12 points at k = 8, 4 at k = 16: start at k = 8 (12 + 4 · (1 + 1.6) < 16 · 1.6);
    # 8 and 8: at k = 16 (8 + 8 · 2.6 > 16 · 1.6)
    for at_8, want in ((n * 3 // 4, 0), (n // 2, 1)):
        fs = _FirstSteps(1)
        took = np.repeat([0, 1], [at_8, n - at_8]).astype(np.int8)
        fs.learn(np.zeros(n, dtype=np.intp), np.zeros(n, dtype=np.int8), took)
        assert fs.start[0] == want


def test_many_points_searched_again_start_where_their_cells_learned(monkeypatch):
    from zoning.check import nearest

    monkeypatch.setattr(nearest, "_FAR_MIN_POINTS", 1_000)
    monkeypatch.setattr(nearest, "_LEARN_POINTS", 4)  # (about one point a cell here)
    base, _, xy = _wide_layer_and_points(8, 20_000, 6_000)
    m = nearest._Metric.build(base.geoms, 4548)
    f1, d1, _ = nearest._points_nearest(m, xy, 6_000.0)
    learned = m.segments.first_steps(6_000.0)
    assert learned.decided.any() and (learned.start > 0).any()
    f2, d2, _ = nearest._points_nearest(m, xy, 6_000.0)  # now from the learned steps
    assert np.array_equal(f1, f2) and np.array_equal(d1, d2, equal_nan=True)
    f3, d3, _, _ = nearest._points_nearest_kd(m, xy, 6_000.0)  # every point from k = 8
    far = m.segments.surely_far(xy, 6_000.0)
    assert np.array_equal(f1[~far], f3[~far]) and np.array_equal(d1[~far], d3[~far], equal_nan=True)


@pytest.mark.parametrize("max_m", [300.0, 2500.0])
def test_pieces_within_a_bound_are_the_dwithin_pairs_measured_once(max_m):
    """Box candidates measured once give exactly GEOS's ``dwithin`` pairs, and their distances."""
    from zoning.check.nearest import _pieces_within

    layer = _layer(seed=11, n=80)
    m = layer.metric(4548)
    rng = np.random.default_rng(2)
    x = rng.uniform(116.5, 116.9, 300)
    y = rng.uniform(39.75, 40.05, 300)
    sites_ll = np.array(
        [shapely.Point(a, b).buffer(rng.uniform(0.0005, 0.004), quad_segs=3) if i % 2
         else shapely.LineString([(a, b), (a + 0.003, b + 0.002)])
         for i, (a, b) in enumerate(zip(x, y, strict=True))],
        dtype=object,
    )  # fmt: skip
    geoms = transform_geoms(sites_ll, "EPSG:4326", 4548)
    # bounds below the radius (box candidates) and at it (dwithin), as _nearest gives them
    bound = np.where(rng.random(300) < 0.7, rng.uniform(0.0, max_m, 300), max_m + 1e-6)
    qi, qp, d = _pieces_within(m, geoms, bound, max_m)
    ri, rp = m.piece_tree.query(geoms, predicate="dwithin", distance=bound)
    got = sorted(zip(qi.tolist(), qp.tolist(), strict=True))
    assert got == sorted(zip(ri.tolist(), rp.tolist(), strict=True))
    assert len(got) > 20 and (bound[qi] < max_m).any() and (bound[qi] > max_m).any()
    assert np.array_equal(d, shapely.distance(geoms[qi], m.pieces[qp]))
    assert (d <= bound[qi]).all()


# ------------------------------------------------------------------ point grids


def test_a_layer_builds_its_point_grid_after_enough_points_and_answers_the_same(monkeypatch):
    monkeypatch.setattr(relations, "GRID_AFTER_POINTS", 5_000)
    rng = np.random.default_rng(7)
    xy = np.column_stack([rng.uniform(116.5, 116.9, 4_000), rng.uniform(39.75, 40.05, 4_000)])
    block = prepare_sites(shapely.points(xy), ea_crs="EPSG:6933")
    fresh, gridded = _layer(8), _layer(8)
    kw = {"within_m": None, "nearest_max_m": 2_000.0, "ea_crs": "EPSG:6933"}
    want = relate_layer(fresh, block, **kw)
    first = relate_layer(gridded, block, **kw)  # 4 000 points: not yet
    assert gridded.point_grid(0) is None
    second = relate_layer(gridded, block, **kw)  # 8 000: built
    assert isinstance(gridded._grid, PointGrid)
    assert len(gridded._grid.pairs(xy)[0]) > 0  # the cells answer some points
    for got in (first, second):
        assert got.site.tolist() == want.site.tolist()
        assert got.feature.tolist() == want.feature.tolist()
        assert got.relation.tolist() == want.relation.tolist()
        assert np.array_equal(got.nearest_m, want.nearest_m, equal_nan=True)


def test_a_thread_finding_a_grid_being_built_tests_exactly_meanwhile(monkeypatch):
    monkeypatch.setattr(relations, "GRID_AFTER_POINTS", 10)
    index = _layer(9)
    with relations._GRID_LOCK:  # another thread is building a grid
        assert index.point_grid(100) is None
    assert isinstance(index.point_grid(100), PointGrid)


def test_the_point_grid_covers_the_layer_within_the_jurisdiction_box():
    index = _layer(10)
    index.grid_box = (116.0, 39.0, 116.7, 39.95)
    grid = index._build_grid()
    b = index.bounds
    assert (grid.xs[0], grid.ys[0]) == (b[0], b[1])
    assert (grid.xs[-1], grid.ys[-1]) == (116.7, 39.95)
    index.grid_box = (117.0, 39.0, 118.0, 40.0)  # no overlap with the layer: no grid
    assert index._build_grid() is None


def test_a_pickled_layer_keeps_its_point_grid_or_builds_one_later(monkeypatch):
    monkeypatch.setattr(relations, "GRID_AFTER_POINTS", 10)
    unbuilt = pickle.loads(pickle.dumps(_layer(12)))  # dask workers get pickled layers
    assert unbuilt.point_grid(5) is None
    assert isinstance(unbuilt.point_grid(5), PointGrid)
    built = pickle.loads(pickle.dumps(unbuilt))
    assert np.array_equal(built.point_grid(1).marked, unbuilt.point_grid(1).marked)


def test_a_check_with_point_grids_equals_one_without(monkeypatch, pack, layers):
    sites = random_sites(20_000, seed=11)  # points, lines, polygons: their first vertices
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


def test_a_block_of_points_given_their_coordinates_is_the_block_read_from_them():
    rng = np.random.default_rng(7)  # points over three Gauss-Krüger zones
    xy = np.column_stack([rng.uniform(113.0, 119.0, 500), rng.uniform(39.0, 41.0, 500)])
    pts = shapely.points(xy)
    ea = fixed_equal_area_crs([])
    read, given = prepare_sites(pts, ea_crs=ea), prepare_sites(pts, ea_crs=ea, xy_ll=xy)
    assert len(given.zones) == 3 and given.zones.keys() == read.zones.keys()
    for code, pos in read.zones.items():
        np.testing.assert_array_equal(given.zones[code], pos)
    for name in ("epsg", "area_m2", "areal", "is_point", "simple_point", "first_xy_m", "xy_ll"):
        np.testing.assert_array_equal(getattr(given, name), getattr(read, name), err_msg=name)
    np.testing.assert_array_equal(given.bounds(), shapely.bounds(pts))
    assert given.geoms_m is None and read.geoms_m is None  # points: coordinates only


@pytest.mark.parametrize("search", ["measured", "kd", "geos"])
@pytest.mark.parametrize("shape", ["point", "square"])
def test_the_nearest_feature_is_the_nearest_on_the_ellipsoid(monkeypatch, search, shape):
    # 118.45°E is 1.45° east of its zone's meridian (117°E), where the plane stretches
    # 9 km 0.25 m more to the east than to the west: a feature 9 000.00 m east of a site
    # (pyproj.Geod) is farther in the plane than one 9 000.06 m west. The nearest
    # feature, and its distance, must be Geod's, whichever search answers.
    import zoning.check.nearest as nearest

    lon0, lat0 = 118.45, 40.0
    east = GEOD.fwd(lon0, lat0, 90.0, 9_000.00)[:2]
    west = GEOD.fwd(lon0, lat0, 270.0, 9_000.06)[:2]
    if shape == "point":
        geoms = [shapely.Point(west), shapely.Point(east)]
    else:  # 2 m squares, the site facing their middle edges
        half = 1.0 / 111_000.0
        geoms = [
            shapely.box(west[0] - 2 * half, west[1] - half, west[0], west[1] + half),
            shapely.box(east[0], east[1] - half, east[0] + 2 * half, east[1] + half),
        ]
    geoms = np.array(geoms, dtype=object)
    ids = np.array(["W", "E"], dtype=object)  # the west feature first: the plane's choice
    index = LayerIndex("test", geoms, ids, ids.copy(), {})
    n = 1 if search == "measured" else 40
    rng = np.random.default_rng(5)
    sites = [shapely.Point(lon0, lat0 + dy) for dy in rng.uniform(-1e-6, 1e-6, n)]
    sites.append(shapely.box(lon0 - 1e-5, lat0 - 1e-5, lon0 + 1e-5, lat0 + 1e-5))  # a polygon
    sites = np.array(sites, dtype=object)
    if search != "measured":
        monkeypatch.setattr(nearest, "_DIRECT_PAIRS", 0)  # the k-d tree, however few
    if search == "geos":
        monkeypatch.setattr(nearest, "_kd_available", lambda: False)  # GEOS answers
    ea = fixed_equal_area_crs([index])
    block = prepare_sites(sites, ea_crs=ea)
    assert set(block.zones) == {4548}
    rel = relate_layer(index, block, within_m=None, nearest_max_m=10_000.0, ea_crs=ea)
    sites_m = transform_geoms(sites, "EPSG:4326", 4548)
    geoms_m = transform_geoms(geoms, "EPSG:4326", 4548)
    want = np.column_stack([geod_of_shortest_lines(sites_m, np.full(len(sites), g), 4548)
                            for g in geoms_m])  # fmt: skip
    plane = np.column_stack([shapely.distance(sites_m, g) for g in geoms_m])
    assert (plane[:, 0] < plane[:, 1] - 0.05).all()  # the plane says west
    assert (want[:, 1] < want[:, 0] - 0.05).all()  # the ellipsoid says east
    assert rel.nearest_feature.tolist() == [1] * len(sites)
    np.testing.assert_allclose(rel.nearest_m, want[:, 1], rtol=0, atol=1e-4)


@settings(max_examples=80, deadline=None)
@given(
    lon=st.floats(74.0, 135.0),
    lat=st.floats(18.5, 53.0),
    az1=st.floats(0.0, 360.0),
    az2=st.floats(0.0, 360.0),
    distance=st.floats(50.0, 9_900.0),
    delta_mm=st.integers(2, 300),
    first_nearer=st.booleans(),
    many=st.booleans(),
)
def test_anywhere_in_china_the_nearest_of_two_wells_is_geods(
    lon, lat, az1, az2, distance, delta_mm, first_nearer, many
):
    # two wells a few millimetres to decimetres apart in their distance from a site
    # (pyproj.Geod), in any direction, anywhere in China's zones: the engine names the
    # nearer one and its distance, by the measured search and by the k-d tree alike
    import zoning.check.nearest as nearest

    near, far = distance, distance + delta_mm / 1000.0
    d1, d2 = (near, far) if first_nearer else (far, near)
    wells = [shapely.Point(*GEOD.fwd(lon, lat, az1, d1)[:2]),
             shapely.Point(*GEOD.fwd(lon, lat, az2, d2)[:2])]  # fmt: skip
    ids = np.array(["A", "B"], dtype=object)
    index = LayerIndex("well", np.array(wells, dtype=object), ids, ids.copy(), {})
    ea = fixed_equal_area_crs([index])
    site = np.array([shapely.Point(lon, lat)], dtype=object)
    with pytest.MonkeyPatch.context() as patch:
        if many:
            patch.setattr(nearest, "_DIRECT_PAIRS", 0)  # the k-d tree
        rel = relate_layer(index, prepare_sites(site, ea_crs=ea), within_m=None,
                           nearest_max_m=10_000.0, ea_crs=ea)  # fmt: skip
    assert rel.nearest_feature.tolist() == [0 if first_nearer else 1]
    assert rel.nearest_m[0] == pytest.approx(near, abs=1e-4)
