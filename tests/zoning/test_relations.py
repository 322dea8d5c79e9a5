"""The relation engine (zoning/check/relations.py): layer indexes, metric zones, nearest features.

Expected distances come from GEOS in the same metric CRS (``shapely.distance``) and
from pyproj.Geod, never from the engine itself.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo.crs import metric_epsg, transform_geoms
from zoning.check.relations import LayerIndex, fixed_equal_area_crs, prepare_sites, relate_layer

GEOD = Geod(ellps="GRS80")


def _layer(seed: int = 3) -> LayerIndex:
    """Irregular polygons, lines and points around Tongzhou (lon/lat)."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(116.55, 116.85, 60)
    lat = rng.uniform(39.80, 40.00, 60)
    polys = [
        shapely.Point(x, y).buffer(rng.uniform(0.002, 0.01), quad_segs=rng.integers(2, 16))
        for x, y in zip(lon[:30], lat[:30], strict=True)
    ]
    lines = [
        shapely.LineString([(x, y), (x + 0.01, y + 0.004), (x + 0.015, y - 0.003)])
        for x, y in zip(lon[30:45], lat[30:45], strict=True)
    ]
    points = [shapely.Point(x, y) for x, y in zip(lon[45:], lat[45:], strict=True)]
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
    # every site is in GK zone 39 (EPSG:4548): GEOS distances in that CRS
    pts_m = transform_geoms(pts, "EPSG:4326", 4548)
    feats_m = transform_geoms(index.geoms, "EPSG:4326", 4548)
    d_all = shapely.distance(pts_m[:, None], feats_m[None, :])
    expected = d_all.min(axis=1)
    np.testing.assert_allclose(rel.nearest_m, expected, rtol=0, atol=1e-6)
    got_d = d_all[np.arange(len(pts)), rel.nearest_feature]
    np.testing.assert_allclose(got_d, expected, rtol=0, atol=1e-6)  # the nearest one


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
    d = shapely.distance(pts_m[:, None], feats_m[None, :])
    touch = shapely.intersects(pts[:, None], index.geoms[None, :])
    want_s, want_f = np.nonzero(~touch & (d <= within[None, :]))
    assert len(want_s) > 20  # the data really has pairs
    np.testing.assert_array_equal(rel.site[got], want_s)
    np.testing.assert_array_equal(rel.feature[got], want_f)
    np.testing.assert_allclose(rel.distance_m[got], d[want_s, want_f], rtol=0, atol=1e-6)


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
    feat, dist, _sure = seg.nearest(xy, 8, 5000.0)
    d_all = shapely.distance(shapely.points(xy)[:, None], geoms[None, :])
    np.testing.assert_allclose(dist, d_all.min(axis=1), atol=1e-9)
    want = [int(np.flatnonzero(row == row.min()).min()) for row in d_all]
    assert feat.tolist() == want
