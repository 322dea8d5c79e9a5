"""Tests of the construction-site exit band (002 l.142: 出口左右两侧各100米)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point

from geo.errors import GeometryError
from tests.zoning.conftest import GEOD, at, fwd, rect, sites_frame
from zoning.check.exit_band import exit_band, in_exit_band
from zoning.project import Project

EXIT = at(200, 200)
AZ = [0.0, 33.0, 90.0, 150.0, 211.0, 270.0, 333.0]


def _road_through_exit(bearing: float = 90.0, half: float = 500.0) -> LineString:
    """A straight road through the exit (the exit lies on it)."""
    return LineString([fwd(*EXIT, bearing + 180, half), EXIT, fwd(*EXIT, bearing, half)])


def test_disc_band_99_in_101_out():
    near = [fwd(*EXIT, az, 99.0) for az in AZ]
    far = [fwd(*EXIT, az, 101.0) for az in AZ]
    hit = in_exit_band(near + far, [EXIT])
    assert hit.tolist() == [True] * len(AZ) + [False] * len(AZ)
    band = exit_band([EXIT])
    assert band.geom_type == "Polygon"
    area = abs(GEOD.geometry_area_perimeter(band)[0])
    assert area == pytest.approx(math.pi * 100.0**2, rel=5e-3)
    assert shapely.contains(band, [Point(p) for p in near]).all()
    assert not shapely.intersects(band, [Point(p) for p in far]).any()


@pytest.mark.parametrize("bearing", [90.0, 30.0, 160.0], ids=["east_west", "ne", "sse"])
def test_road_band_100m_each_side_along_the_road(bearing):
    road = _road_through_exit(bearing)
    pts = [
        fwd(*EXIT, bearing, 99.0),  # left side, on the road
        fwd(*EXIT, bearing + 180, 99.0),  # right side
        fwd(*EXIT, bearing, 101.0),
        fwd(*EXIT, bearing + 180, 101.0),
        fwd(*fwd(*EXIT, bearing, 50.0), bearing + 90, 15.0),  # beside the road, 15 m off
        fwd(*fwd(*EXIT, bearing, 50.0), bearing + 90, 40.0),  # 40 m off the road
    ]
    hit = in_exit_band(pts, [EXIT], road=road)
    assert hit.tolist() == [True, True, False, False, True, False]
    band = exit_band([EXIT], road=road)
    assert band.geom_type == "LineString"
    assert GEOD.geometry_length(band) == pytest.approx(200.0, abs=0.1)


def test_road_band_follows_a_bend():
    # the road turns 90° 50 m from the exit: 99 m along it is 50 + 49 m
    corner = fwd(*EXIT, 90.0, 50.0)
    road = LineString([fwd(*EXIT, 270.0, 300), EXIT, corner, fwd(*corner, 0.0, 300)])
    along_99 = fwd(*corner, 0.0, 49.0)
    along_101 = fwd(*corner, 0.0, 51.0)
    straight = GEOD.inv(*EXIT, *along_101)[2]
    assert straight < 80  # within 100 m as the crow flies, but 101 m along the road
    hit = in_exit_band([along_99, along_101], [EXIT], road=road)
    assert hit.tolist() == [True, False]
    band = exit_band([EXIT], road=road)
    assert GEOD.geometry_length(band) == pytest.approx(200.0, abs=0.1)


def test_several_exits_and_input_forms():
    e2 = at(800, 200)
    proj = Project(project_type="construction", exits=[EXIT, e2])
    band = exit_band(proj)
    assert band.geom_type == "MultiPolygon"
    pts = gpd.GeoSeries([Point(fwd(*e2, 0, 99)), Point(fwd(*e2, 0, 101))], crs="EPSG:4326")
    assert in_exit_band(pts.to_crs("EPSG:4548"), proj).tolist() == [True, False]
    arr = np.array([fwd(*EXIT, 10, 50.0)])
    assert in_exit_band(arr, Point(EXIT)).tolist() == [True]
    roads = gpd.GeoDataFrame(geometry=[_road_through_exit()], crs="EPSG:4326").to_crs(4548)
    assert in_exit_band([fwd(*EXIT, 90, 99.0)], [EXIT], road=roads).tolist() == [True]


def test_exit_band_errors():
    with pytest.raises(GeometryError, match="no exit"):
        exit_band([])
    with pytest.raises(GeometryError, match="lon/lat"):
        exit_band([(500000.0, 4400000.0)])
    with pytest.raises(GeometryError, match="max_offset_m"):
        exit_band([at(200, 800)], road=_road_through_exit())
    with pytest.raises(GeometryError, match="LineString"):
        exit_band([EXIT], road=Point(EXIT))
    with pytest.raises(GeometryError, match="half_length_m"):
        exit_band([EXIT], half_length_m=0)


def test_site_exit_rule_carries_band_and_requirement(checker):
    site = rect(0, 0, 300, 150)  # the construction site; its gate on the north side
    gate_near = fwd(*at(150, 150), 0.0, 99.0)  # an exit 99 m from the site
    gate_far = fwd(*at(150, 150), 0.0, 101.0)
    construction = Project(project_type="construction", exits=[gate_near])
    res = checker.check(sites_frame([site], ids=["s"]), project=construction)
    f = res.findings[res.findings.rule_id == "site_exit.band"]
    assert len(f) == 1
    f = f.iloc[0]
    assert f["requirement"] == "要求 site_exit.band"
    assert f["feature_ids"] == ("exit-1",)
    assert f["distance_m"] == pytest.approx(99.0, abs=0.3)
    band = f["band"]
    assert band.geom_type == "Polygon"
    assert shapely.contains(band, Point(fwd(*gate_near, 45, 99.0)))
    assert not shapely.intersects(band, Point(fwd(*gate_near, 45, 101.0)))
    d = res.site_to_dict("s")
    fd = next(x for x in d["findings"] if x["rule_id"] == "site_exit.band")
    assert fd["band"]["type"] == "Polygon"
    far = Project(project_type="construction", exits=[gate_far])
    res2 = checker.check(sites_frame([site], ids=["s"]), project=far)
    assert "site_exit.band" not in set(res2.findings.rule_id.astype(str))
    # no exits, or not a construction project: the rule does not fire
    res3 = checker.check(sites_frame([site]), project=Project(project_type="construction"))
    assert "site_exit.band" not in set(res3.findings.rule_id.astype(str))
    res4 = checker.check(sites_frame([site]), project=Project(exits=[gate_near]))
    assert "site_exit.band" not in set(res4.findings.rule_id.astype(str))


def test_site_exit_from_per_site_columns(checker):
    sites = sites_frame(
        [rect(0, 0, 300, 150), rect(0, 0, 300, 150), rect(0, 0, 300, 150), rect(0, 0, 300, 150)],
        ids=["a", "b", "c", "d"],
        project_type=["construction"] * 4,
        exit_lon=[at(150, 200)[0], np.nan, "x", at(150, 400)[0]],
        exit_lat=[at(150, 200)[1], np.nan, "y", at(150, 400)[1]],
    )
    sites.loc[1, "exits"] = f"{at(0, 180)[0]},{at(0, 180)[1]}; {at(300, 180)[0]},{at(300, 180)[1]}"
    res = checker.check(sites)
    fired = res.findings[res.findings.rule_id == "site_exit.band"].set_index("site_id")
    assert set(fired.index) == {"a", "b"}
    assert fired.loc["b", "feature_ids"] == ("exit-1", "exit-2")
    assert fired.loc["b", "band"].geom_type == "MultiPolygon"
    assert list(res.errors["site_id"]) == ["c"]
    assert "exit_lon" in res.errors["reason"].iloc[0]


def test_exit_discs_at_a_zone_edge_have_their_radius_on_the_ellipsoid():
    from zoning.check.exit_band import disc_bands

    # 109.45°E, 22.8°N: 1.45° from the zone's central meridian (plane 28 cm per km long)
    lon, lat = np.array([109.45]), np.array([22.8])
    disc = disc_bands(lon, lat, np.array([0]), radius_m=100.0)[0]
    x, y = np.asarray(disc.exterior.coords).T
    _, _, d = GEOD.inv(np.full(x.size, lon[0]), np.full(x.size, lat[0]), x, y)
    np.testing.assert_allclose(d, 100.0, rtol=0, atol=1e-3)  # the vertices, to 1 mm
    band = exit_band([(109.45, 22.8)])
    x, y = np.asarray(band.exterior.coords).T
    _, _, d = GEOD.inv(np.full(x.size, 109.45), np.full(x.size, 22.8), x, y)
    np.testing.assert_allclose(d, 100.0, rtol=0, atol=1e-3)
    assert in_exit_band([GEOD.fwd(109.45, 22.8, 90.0, 99.995)[:2]], [(109.45, 22.8)]).tolist() == [
        True
    ]
