"""Screening radius: features within 500 m / 1 km / 5 km, with distance and direction."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo.errors import InputFormatError
from zoning.check.screening import direction_of, screen_radius

GEOD = Geod(ellps="GRS80")
SITE = (116.70, 39.90)


def _at(azimuth: float, distance: float) -> shapely.Point:
    lon, lat, _ = GEOD.fwd(*SITE, azimuth, distance)
    return shapely.Point(lon, lat)


@pytest.fixture
def wells() -> gpd.GeoDataFrame:
    cases = [
        ("w-ne", 45.0, 300.0),
        ("w-s", 180.0, 800.0),
        ("w-w", 270.0, 4000.0),
        ("w-far", 10.0, 6000.0),
    ]
    return gpd.GeoDataFrame(
        {"feature_id": [c[0] for c in cases], "name": ["东北井", "", "西井", "远井"]},
        geometry=[_at(az, d) for _, az, d in cases],
        crs="EPSG:4326",
    )


def test_distances_directions_and_rings(wells) -> None:
    got = screen_radius(shapely.Point(SITE), {"well": wells}).set_index("feature_id")
    assert list(got.index) == ["w-ne", "w-s", "w-w"]  # nearest first; 6 km is out
    for fid, az, dist in [("w-ne", 45.0, 300.0), ("w-s", 180.0, 800.0), ("w-w", 270.0, 4000.0)]:
        assert got.loc[fid, "distance_m"] == pytest.approx(dist, rel=3e-4)  # vs pyproj.Geod
        assert got.loc[fid, "azimuth_deg"] == pytest.approx(az, abs=0.05)
    assert got["direction_zh"].tolist() == ["东北", "南", "西"]
    assert got["radius_m"].tolist() == [500.0, 1000.0, 5000.0]
    # the label falls back to the id when the name is empty
    assert got["label"].tolist() == ["东北井", "w-s", "西井"]


def test_custom_radii_and_overlap(wells) -> None:
    zone = gpd.GeoDataFrame(
        {"feature_id": ["z1"], "name": ["保护区"]},
        geometry=[shapely.Point(SITE).buffer(0.001)],
        crs="EPSG:4326",
    ).to_crs("EPSG:4548")  # any CRS is accepted
    site = _at(90.0, 50.0).buffer(0.0002)  # a small polygon overlapping the zone
    got = screen_radius(site, {"well": wells, "water_source_zone": zone}, radii_m=[1000])
    assert got["kind"].tolist()[0] == "water_source_zone"
    first = got.iloc[0]
    assert (
        first["distance_m"] == 0
        and first["direction_zh"] == "重叠"
        and np.isnan(first["azimuth_deg"])
    )
    assert set(got["feature_id"]) == {"z1", "w-ne", "w-s"}  # 4 km is beyond 1 km
    assert set(got["radius_m"]) == {1000.0}


@pytest.mark.parametrize("bad", [[0], [-5], [float("nan")], [60_000]])
def test_bad_radii(wells, bad) -> None:
    with pytest.raises(InputFormatError, match="半径"):
        screen_radius(shapely.Point(SITE), {"well": wells}, radii_m=bad)


def test_compass_sectors() -> None:
    az = np.array([0, 22.4, 22.6, 90, 180, 202.6, 270, 337.6, 359.9])
    assert direction_of(az).tolist() == [0, 0, 1, 2, 4, 5, 6, 0, 0]


def test_nothing_near() -> None:
    far = gpd.GeoDataFrame(
        {"feature_id": ["x"]}, geometry=[shapely.Point(100, 30)], crs="EPSG:4326"
    )
    got = screen_radius(shapely.Point(SITE), {"well": far})
    assert got.empty and "direction_zh" in got.columns


def test_site_screening_reads_only_the_label_columns_with_the_same_rows(checker) -> None:
    from zoning.workflow import checker_layer_frames, site_screening

    site = shapely.Point(116.69, 39.90)  # among the test layers
    frames = checker_layer_frames(checker)  # every column the checker indexed
    frames.pop("boundary", None)
    expected = screen_radius(site, frames, radii_m=list(checker.pack.screening_radii_m))
    got = site_screening(checker, site)
    assert len(got)
    assert got.equals(expected)
    # a non-text label column is labelled as text, as before
    numbered = {"well": frames["well"].assign(name=np.arange(len(frames["well"])) * 1.5)}
    labels = screen_radius(site, numbered)["label"].tolist()
    assert labels and all(isinstance(x, str) and x.replace(".", "").isdigit() for x in labels)


def test_distances_at_a_zone_edge_are_geodesic_to_the_millimetre() -> None:
    # 109.45°E is 1.45° from its zone's central meridian: the plane is 28 cm per km long
    site = (109.45, 22.8)
    cases = [(0.0, 4999.99), (90.0, 4999.99), (200.0, 1234.5), (300.0, 30.0)]
    feats = gpd.GeoDataFrame(
        {"feature_id": [f"f{i}" for i in range(len(cases))]},
        geometry=[shapely.Point(GEOD.fwd(*site, az, d)[:2]) for az, d in cases],
        crs="EPSG:4326",
    )
    got = screen_radius(shapely.Point(site), {"well": feats}).set_index("feature_id")
    assert len(got) == len(cases)  # 4 999.99 m is inside the 5 km ring (the plane: 5 001.4)
    for i, (_, d) in enumerate(cases):
        assert got.loc[f"f{i}", "distance_m"] == pytest.approx(d, abs=1e-3)
    assert got.loc["f0", "radius_m"] == 5000.0
