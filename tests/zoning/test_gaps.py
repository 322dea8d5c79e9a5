"""Tests of zoning/coverage/gaps.py: uncovered residential land and greedy pocket-park sites."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from geo.errors import InputFormatError
from zoning.coverage.gaps import pocket_park_sites, uncovered_residential
from zoning.coverage.measure import park_service_coverage

GK = "EPSG:4548"
X0, Y0 = 500_000.0, 4_420_000.0
GEOD = pyproj.Geod(ellps="GRS80")
_TO_LL = pyproj.Transformer.from_crs(GK, 4326, always_xy=True)


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def to_ll(geom):
    dense = shapely.segmentize(geom, 10.0)
    return shapely.transform(dense, lambda xy: np.column_stack(_TO_LL.transform(*xy.T)))


def geod_area(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(to_ll(geom))[0])


def layer(geoms, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[to_ll(g) for g in geoms], crs=4326)


@pytest.fixture
def world():
    # a 2 km square park serves to x = 2500 (straight edge for 0 <= y <= 2000)
    park = layer([box(0, 0, 2000, 2000)])
    res = layer(
        [
            box(2100, 1000, 2300, 1200),  # covered
            box(3000, 1000, 3300, 1200),  # uncovered, 60 000 m²
            box(2400, 500, 2600, 700),  # east half uncovered, 20 000 m²
            box(4000, 0, 4100, 100),  # uncovered, 10 000 m², in the east district
        ],
        population=[100.0, 300.0, 200.0, 50.0],
    )
    districts = layer(
        [box(0, -500, 3500, 2500), box(3500, -500, 5000, 2500)],
        adcode=["110101", "110102"],
        name=["西区", "东区"],
    )
    return park, res, districts


def test_uncovered_polygons_areas_and_ranks(world):
    park, res, districts = world
    gaps = uncovered_residential(park, res, districts=districts, population="population")
    assert gaps.crs.to_epsg() == 4326
    assert gaps["rank"].tolist() == [1, 2, 3]
    expected = [
        geod_area(box(3000, 1000, 3300, 1200)),
        geod_area(box(2500, 500, 2600, 700)),
        geod_area(box(4000, 0, 4100, 100)),
    ]
    np.testing.assert_allclose(gaps["area_m2"], expected, rtol=1e-6)
    assert gaps["district_adcode"].tolist() == ["110101", "110101", "110102"]
    assert gaps["district"].tolist() == ["西区", "西区", "东区"]
    assert gaps["district_rank"].tolist() == [1, 2, 1]
    np.testing.assert_allclose(gaps["population"], [300, 100, 50], rtol=1e-6)
    # the gap geometry is the uncovered part itself
    gk = gaps.to_crs(GK).geometry
    assert shapely.hausdorff_distance(gk.iloc[1], box(2500, 500, 2600, 700)) < 0.01
    total = sum(geod_area(g) for g in res.to_crs(GK).geometry)
    assert gaps.attrs["residential_m2"] == pytest.approx(total, rel=1e-6)
    cov = park_service_coverage(park, res)
    assert 100 * gaps.attrs["covered_m2"] / gaps.attrs["residential_m2"] == pytest.approx(
        cov.value, abs=1e-9
    )
    assert gaps["gap_id"].is_unique


def test_gap_split_at_district_border(world):
    park, res, _ = world
    districts = layer(
        [box(0, -500, 3150, 2500), box(3150, -500, 5000, 2500)], adcode=["a", "b"], name=["A", "B"]
    )
    gaps = uncovered_residential(park, res, districts=districts)
    big = gaps[gaps.area_m2 > 25_000]
    assert sorted(big["district_adcode"]) == ["a", "b"]
    assert big["area_m2"].sum() == pytest.approx(geod_area(box(3000, 1000, 3300, 1200)), rel=1e-6)


def test_greedy_picks_obvious_best_first(world):
    park, res, _ = world
    gaps = uncovered_residential(park, res)
    candidates = layer(
        [
            shapely.Point(X0 + 2900, Y0 + 850),  # within 600 m of all of the two large gaps
            shapely.Point(X0 + 3150, Y0 + 1100),  # the largest gap only
            shapely.Point(X0 + 4050, Y0 + 50),  # the small eastern gap
            shapely.Point(X0 + 9000, Y0 + 9000),  # serves nothing
        ]
    )
    sites = pocket_park_sites(gaps, n=4, radius_m=600, candidates=candidates)
    # first: the candidate that serves the most; second: the east gap, because the
    # largest gap is already served by the first choice
    assert sites["candidate"].tolist() == [0, 2]
    first_gain = sites["gain_m2"].iloc[0]
    both = geod_area(box(3000, 1000, 3300, 1200)) + geod_area(box(2500, 500, 2600, 700))
    assert first_gain == pytest.approx(both, rel=1e-4)
    assert sites["gain_m2"].iloc[1] == pytest.approx(geod_area(box(4000, 0, 4100, 100)), rel=1e-4)
    cov = sites["coverage_pct"].to_numpy()
    assert np.all(np.diff(cov) > 0)
    assert cov[-1] == pytest.approx(100.0, abs=1e-4)
    assert sites.crs.to_epsg() == 4326


def test_grid_candidates_monotone_and_outside_excluded_land(world):
    park, res, _ = world
    gaps = uncovered_residential(park, res)
    sites = pocket_park_sites(gaps, n=5, radius_m=300, spacing_m=50, exclude=[res, park])
    assert len(sites) >= 2
    gains = sites["gain_m2"].to_numpy()
    assert np.all(gains > 0)
    assert np.all(np.diff(gains) <= 1e-6)  # greedy gains never grow
    assert np.all(np.diff(sites["coverage_pct"].to_numpy()) > 0)
    pts = sites.to_crs(GK).geometry
    excluded = shapely.union_all(
        res.to_crs(GK).geometry.tolist() + park.to_crs(GK).geometry.tolist()
    )
    assert not shapely.intersects(np.asarray(pts), excluded).any()
    assert sites["coverage_pct"].iloc[-1] == pytest.approx(100.0, abs=1e-3)


def test_sites_without_gaps_is_empty():
    park = layer([box(0, 0, 2000, 2000)])
    res = layer([box(2100, 100, 2200, 200)])
    gaps = uncovered_residential(park, res)
    assert len(gaps) == 0
    sites = pocket_park_sites(gaps, n=3)
    assert len(sites) == 0


def test_sites_bad_arguments(world):
    park, res, _ = world
    gaps = uncovered_residential(park, res)
    with pytest.raises(InputFormatError, match="n ≥ 1"):
        pocket_park_sites(gaps, n=0)
