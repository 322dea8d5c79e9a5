"""geo.overlay: clipping features to an area, against geopandas.clip."""

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from geo.overlay import clip_to_area

# a jurisdiction with a notch: features cross it on several sides
AREA = Polygon([(0, 0), (10, 0), (10, 10), (6, 10), (5, 6), (4, 10), (0, 10)])


def _frame(geoms, crs="EPSG:4548"):
    n = len(geoms)
    return gpd.GeoDataFrame(
        {"feature_id": [f"f{i}" for i in range(n)], "v": np.arange(n)},
        geometry=geoms,
        index=np.arange(100, 100 + n),
        crs=crs,
    )


def _same_as_geopandas(ours, gdf, area):
    theirs = gpd.clip(gdf, area, sort=True)
    assert list(ours.index) == list(theirs.index)
    assert list(ours.columns) == list(gdf.columns)
    assert ours.crs == gdf.crs
    assert (ours["v"].to_numpy() == theirs["v"].to_numpy()).all()
    a, b = np.asarray(ours.geometry.array), np.asarray(theirs.geometry.array)
    assert shapely.equals(a, b).all()


def test_features_inside_are_kept_whole_and_crossing_ones_cut():
    inside = box(1, 1, 3, 3)
    crossing = box(8, 8, 12, 12)
    notch = box(4.2, 8, 5.8, 9)  # inside the area's box, across its notch
    gdf = _frame(
        [
            inside,
            crossing,
            box(20, 20, 21, 21),  # outside
            Point(2, 2),
            Point(5, 9.5),  # in the notch: outside
            LineString([(-2, 5), (12, 5)]),
            MultiPolygon([box(1, 5, 2, 6), box(11, 5, 12, 6)]),
            notch,
        ]
    )
    out = clip_to_area(gdf, AREA)
    _same_as_geopandas(out, gdf, AREA)
    assert list(out["feature_id"]) == ["f0", "f1", "f3", "f5", "f6", "f7"]
    assert out.geometry.loc[100] is inside  # no overlay: the feature as it was
    assert shapely.equals(out.geometry.loc[101], box(8, 8, 10, 10))
    assert out.geometry.loc[105].length == 10
    assert out.geometry.loc[106].area == 1
    assert out.geometry.loc[107].area < notch.area  # the notch is cut out
    assert gdf.geometry.loc[101] is crossing  # the input is left as it was


def test_random_features_match_geopandas():
    rng = np.random.default_rng(3)
    centres = shapely.points(rng.uniform(-3, 13, (300, 2)))
    geoms = shapely.buffer(centres, rng.uniform(0.1, 2.5, 300), quad_segs=4)
    gdf = _frame(geoms)
    _same_as_geopandas(clip_to_area(gdf, AREA), gdf, AREA)


def test_nothing_crossing_returns_the_rows_as_they_are():
    gdf = _frame([box(1, 1, 2, 2), box(30, 30, 31, 31), box(7, 1, 8, 2)])
    out = clip_to_area(gdf, AREA)
    assert list(out.index) == [100, 102]
    assert (np.asarray(out.geometry.array) == np.asarray(gdf.geometry.array)[[0, 2]]).all()
    assert len(clip_to_area(gdf.iloc[:0], AREA)) == 0


def test_intersection_pairs_gives_shapelys_answers_in_order(monkeypatch):
    import geo.overlay as overlay

    rng = np.random.default_rng(5)
    a = shapely.buffer(shapely.points(rng.uniform(0, 10, (200, 2))), rng.uniform(0.5, 3, 200))
    b = np.array([AREA if i % 3 else box(2, 2, 8, 8) for i in range(200)], dtype=object)
    expected = shapely.intersection(a, b)
    monkeypatch.setattr(overlay, "available_cores", lambda: 2)  # (on a one-core runner too)
    got = overlay.intersection_pairs(a, b)
    assert shapely.equals_exact(got, expected, tolerance=0).all()  # to the bit
    assert len(overlay.intersection_pairs(a[:3], b[:3])) == 3  # few pairs: one call
