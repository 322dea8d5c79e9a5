"""Tests of zoning/coverage/measure.py with exact answers on hand-made layers.

Geometry is laid out in metres in EPSG:4548 (Gauss-Krüger, central meridian 117°E)
on the central meridian near Beijing, where the GK scale factor is 1, then turned
into EPSG:4326 layers as the store holds them. Expected areas come from
pyproj.Geod on the lon/lat geometry, or from plane geometry for ratios.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import given
from hypothesis import strategies as st

from geo.errors import InputFormatError, MissingLayerError
from zoning.coverage.measure import (
    MetricResult,
    districts_of,
    forest_share,
    get_layer,
    measure_targets,
    metrics_table,
    network_service_area,
    park_area_per_person,
    park_service_coverage,
    share_of_area,
    sponge_share,
)
from zoning.coverage.registry import METRICS
from zoning.pack import load_pack


def beijing_target(metric: str):
    """The Beijing pack's target for ``metric``: plan values are pack data, not code defaults."""
    return next(t for t in load_pack("beijing").targets if t.metric == metric)


GK = "EPSG:4548"
X0, Y0 = 500_000.0, 4_420_000.0
GEOD = pyproj.Geod(ellps="GRS80")
_TO_LL = pyproj.Transformer.from_crs(GK, 4326, always_xy=True)


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def to_ll(geom):
    """GK geometry → lon/lat, densified so its edges stay the GK straight lines."""
    dense = shapely.segmentize(geom, 10.0)
    return shapely.transform(dense, lambda xy: np.column_stack(_TO_LL.transform(*xy.T)))


def geod_area(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(to_ll(geom))[0])


def layer(geoms, **cols) -> gpd.GeoDataFrame:
    n = len(geoms)
    data = {"feature_id": [f"f{i}" for i in range(n)], "name": [f"n{i}" for i in range(n)]}
    data |= {"synthetic": [True] * n, **cols}
    return gpd.GeoDataFrame(data, geometry=[to_ll(g) for g in geoms], crs=4326)


def square_with_area(cx, cy, area_m2):
    """Square centred at (cx, cy) (GK offsets) whose ellipsoidal area is ``area_m2``."""
    side = math.sqrt(area_m2)
    for _ in range(4):  # Newton on the side length
        sq = box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        side *= math.sqrt(area_m2 / geod_area(sq))
    return box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


# --------------------------------------------------------------------------- park coverage


def test_half_block_coverage_matches_circle_geometry():
    # a round park of radius 40 m serves 500 m from its edge: a 540 m disc;
    # a 1000 m × 100 m block starts at the park centre: the covered part is the
    # disc's slice |y| <= 50, x >= 0
    park = shapely.Point(X0, Y0).buffer(40, quad_segs=64)
    block = box(0, -50, 1000, 50)
    parks = layer([park], area_m2=[6000.0])
    res = layer([block])
    r = 540.0

    def prim(y):
        return y / 2 * math.sqrt(r * r - y * y) + r * r / 2 * math.asin(y / r)

    expected = 100 * (prim(50) - prim(-50)) / (1000 * 100)
    out = park_service_coverage(parks, res, target=beijing_target("park_service_coverage"))
    assert isinstance(out, MetricResult)
    assert out.metric == "park_service_coverage"
    assert out.value == pytest.approx(expected, abs=0.1)
    assert out.target == 90.0 and out.met is False
    assert out.gap_pp == pytest.approx(90 - out.value)
    block_km2 = geod_area(block) / 1e6
    assert out.gap_abs == pytest.approx(out.gap_pp / 100 * block_km2, rel=1e-4)
    assert out.details["residential_km2"] == pytest.approx(block_km2, rel=1e-5)
    assert out.gap_unit == "km2" and out.unit == "%"


@pytest.mark.parametrize(
    ("park_area", "block_at", "covered"),
    [
        (5000.05, (400, 450), True),  # ≥ 5 000 m² → 500 m
        (4999.0, (400, 450), False),  # 2 000–5 000 m² → 300 m only
        (4999.0, (250, 290), True),
        (2000.05, (250, 290), True),
        (1999.0, (10, 50), False),  # below every tier: not counted
    ],
    ids=["5000-500m", "4999-not-500m", "4999-300m", "2000-300m", "1999-excluded"],
)
@pytest.mark.parametrize("with_column", [True, False], ids=["area_m2", "geodesic"])
def test_park_size_tiers(park_area, block_at, covered, with_column):
    park = square_with_area(0, 0, park_area)
    assert geod_area(park) == pytest.approx(park_area, abs=1e-3)
    half = math.sqrt(park_area) / 2
    x0, x1 = block_at
    block = box(half + x0, -20, half + x1, 20)  # east of the park, facing its edge
    cols = {"area_m2": [park_area]} if with_column else {}
    out = park_service_coverage(layer([park], **cols), layer([block]))
    assert out.value == pytest.approx(100.0 if covered else 0.0, abs=1e-6)


def _square_park_world():
    # a 2 km square park: its 500 m service area has a straight east edge at x = 2500
    park = box(0, 0, 2000, 2000)
    blocks = [
        box(2100, 1000, 2300, 1200),  # inside: 40 000 m²
        box(3000, 1000, 3200, 1200),  # outside
        box(2400, 500, 2600, 700),  # half inside (straddles x = 2500)
    ]
    return layer([park]), layer(blocks, population=[300.0, 100.0, 200.0])


def test_population_weighted_coverage():
    parks, res = _square_park_world()
    area = park_service_coverage(parks, res)
    assert area.value == pytest.approx(100 * 60_000 / 120_000, abs=1e-4)
    pop = park_service_coverage(parks, res, population="population", weight="population")
    # 300 + half of 200 covered out of 600
    assert pop.value == pytest.approx(100 * 400 / 600, abs=1e-4)
    assert pop.details["area_pct"] == pytest.approx(area.value)
    assert pop.details["covered_population"] == pytest.approx(400, abs=1e-3)
    assert "人口加权" in pop.label


def test_population_requires_a_source():
    parks, res = _square_park_world()
    with pytest.raises(InputFormatError, match="neither a column"):
        park_service_coverage(parks, res, population="residents")
    with pytest.raises(InputFormatError, match="needs `population=`"):
        park_service_coverage(parks, res, weight="population")


def test_population_raster(tmp_path):
    parks, res = _square_park_world()
    # 10 persons per 10 m pixel over the whole area
    path = tmp_path / "pop.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=400, height=300, count=1, dtype="float32",
        crs=GK, transform=Affine(10, 0, X0, 0, -10, Y0 + 2000), nodata=-1,
    ) as dst:  # fmt: skip
        dst.write(np.full((300, 400), 10, dtype="float32"), 1)
    out = park_service_coverage(parks, res, population=path, weight="population")
    # uniform density: population weighting equals area weighting
    assert out.value == pytest.approx(50.0, abs=1e-3)
    assert out.details["population"] == pytest.approx(120_000 / 100 * 10, rel=1e-6)


def test_by_district_breakdown_for_coverage():
    parks, res = _square_park_world()
    districts = layer(
        [box(0, 0, 2500, 2000), box(2500, 0, 4000, 2000)],
        adcode=["110101", "110102"],
        level=["district", "district"],
    )
    out = park_service_coverage(parks, res, districts=districts, population="population")
    t = out.by_district.set_index("adcode")
    # west: the inside block + west half of the straddling block, all covered
    assert t.loc["110101", "value"] == pytest.approx(100.0, abs=1e-6)
    # (the 500 m radius is on the ellipsoid: a few mm more than 500 plane metres here,
    # so the east block's edge on the service line is covered by a 2e-6 % sliver)
    assert t.loc["110102", "value"] == pytest.approx(0.0, abs=1e-4)
    assert t["residential_km2"].sum() == pytest.approx(out.details["residential_km2"], rel=1e-9)
    assert t.loc["110101", "covered_population"] == pytest.approx(400, abs=1e-3)
    # districts are contributions, never judged against the target
    assert set(t["status"]) == {"contribution"}
    assert not {"met", "gap_pp", "target"} & set(t.columns)


def test_overlapping_residential_not_double_counted():
    park = box(0, 0, 2000, 2000)
    a = box(2100, 1000, 2300, 1200)
    b = box(2200, 1000, 2400, 1200)  # overlaps a by half, all inside the service area
    c = box(3000, 1000, 3200, 1200)
    out = park_service_coverage(layer([park]), layer([a, b, c]))
    # union of a and b: 300 × 200 covered; c: 200 × 200 not
    assert out.value == pytest.approx(100 * 60_000 / 100_000, abs=1e-4)


def test_area_of_clips_residential_and_keeps_outside_parks():
    park = box(-3000, 0, -1000, 2000)  # outside the area, still serves it
    inside = box(-800, 0, -600, 200)
    far = box(500, 0, 700, 200)
    area = layer([box(-900, -100, 1000, 1000)])
    out = park_service_coverage(layer([park]), layer([inside, far]), area_of=area)
    assert out.value == pytest.approx(50.0, abs=1e-4)


def test_raster_and_vector_methods_agree():
    rng = np.random.default_rng(7)
    parks = [
        shapely.Point(X0 + x, Y0 + y).buffer(r)
        for x, y, r in zip(
            rng.uniform(0, 3000, 6), rng.uniform(0, 3000, 6), [60, 45, 35, 30, 28, 50], strict=True
        )
    ]
    xs, ys = rng.uniform(-500, 3500, 80), rng.uniform(-500, 3500, 80)
    w, h = rng.uniform(40, 160, 80), rng.uniform(40, 160, 80)
    blocks = list(shapely.box(X0 + xs, Y0 + ys, X0 + xs + w, Y0 + ys + h))
    p, r = layer(parks), layer(blocks)
    vec = park_service_coverage(p, r)
    ras = park_service_coverage(p, r, method="raster", resolution_m=10)
    assert 5 < vec.value < 95  # a non-trivial mix
    assert abs(vec.value - ras.value) < 0.5
    assert ras.details["method"] == "raster"
    assert ras.details["residential_km2"] == pytest.approx(vec.details["residential_km2"], rel=0.02)


def test_raster_method_refuses_network():
    parks, res = _square_park_world()
    with pytest.raises(InputFormatError, match="area coverage only"):
        park_service_coverage(parks, res, method="raster", network=layer([]))
    with pytest.raises(InputFormatError, match="`method`"):
        park_service_coverage(parks, res, method="hex")


# --------------------------------------------------------------------------- network


def _street_grid():
    # 3 × 3 grid of streets 100 m apart, park west of the street x = 0
    lines = [shapely.LineString([(X0 + x, Y0), (X0 + x, Y0 + 200)]) for x in (0, 100, 200)]
    lines += [shapely.LineString([(X0, Y0 + y), (X0 + 200, Y0 + y)]) for y in (0, 100, 200)]
    network = gpd.GeoDataFrame(geometry=[to_ll(g) for g in lines], crs=4326)
    park = layer([box(-50, 40, -10, 60)])
    return park, network


def test_network_reachable_set():
    park, network = _street_grid()
    out = network_service_area(park, network, tiers=[(0, 150)])
    # entrances at (−10, 40) and (−10, 60) join x = 0 after 10 m; 150 m reach:
    # x = 0 from y 0 to 200 (ends at 150 m), y = 0 and y = 100 from x 0 to 100
    expected = shapely.MultiLineString(
        [
            [(X0, Y0), (X0, Y0 + 200)],
            [(X0, Y0), (X0 + 100, Y0)],
            [(X0, Y0 + 100), (X0 + 100, Y0 + 100)],
        ]
    )
    got = out.geometry.iloc[0]
    assert out.crs.to_epsg() == 4548
    assert out["radius_m"].tolist() == [150.0]
    assert out["length_m"].iloc[0] == pytest.approx(400.0, abs=0.05)
    assert shapely.hausdorff_distance(got, expected) < 0.05


def test_network_walks_are_metres_on_the_ellipsoid_at_a_zone_edge():
    # a street at 109.45°E, 22.8°N, 1.45° from its plane's meridian (108°E, EPSG:4545),
    # where a plane metre is 0.27 mm short of a metre. A park of 0.2 m astride it
    # reaches 500 m walked each way: 1 000 m of street by pyproj.Geod (a walk in
    # plane metres stops 0.27 m short)
    plane = "EPSG:4545"
    to_plane = pyproj.Transformer.from_crs(4326, plane, always_xy=True)
    to_lonlat = pyproj.Transformer.from_crs(plane, 4326, always_xy=True)
    x, y = to_plane.transform(109.45, 22.8)

    def lonlat(g):
        dense = shapely.segmentize(g, 10.0)
        return shapely.transform(dense, lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))

    street = gpd.GeoDataFrame(
        geometry=[lonlat(shapely.LineString([(x - 800, y), (x + 800, y)]))], crs=4326
    )
    park = gpd.GeoDataFrame(
        {"feature_id": ["p"], "name": ["p"]},
        geometry=[lonlat(shapely.box(x - 0.1, y - 0.1, x + 0.1, y + 0.1))],
        crs=4326,
    )
    out = network_service_area(park, street, tiers=[(0, 500)])
    assert out.crs.to_epsg() == 4545
    (piece,) = shapely.get_parts(out.geometry.iloc[0])  # one stretch, entrances merged
    lon, lat = to_lonlat.transform(*shapely.get_coordinates(shapely.segmentize(piece, 10.0)).T)
    walked = GEOD.line_length(lon, lat)
    assert walked == pytest.approx(1_000.0, abs=0.005)
    assert out["length_m"].iloc[0] == pytest.approx(walked, abs=1e-3)
    assert out["radius_m"].tolist() == [500.0]


def test_network_coverage_walks_once_per_tier_whatever_the_parks_scales(monkeypatch):
    # parks of one tier lie at different scales of the plane: still one walk (one
    # Dijkstra source) per tier, not one per park (a dense row per source and node)
    import scipy.sparse.csgraph as csgraph

    _, network = _street_grid()
    parks = layer([box(-50, 40, -10, 60), box(210, 40, 250, 60), box(-50, 140, -10, 160)])
    sources = []
    real = csgraph.dijkstra

    def spy(graph, *args, indices=None, **kwargs):
        sources.append(len(np.atleast_1d(indices)))
        return real(graph, *args, indices=indices, **kwargs)

    monkeypatch.setattr(csgraph, "dijkstra", spy)
    res = layer([box(20, 105, 80, 125)])
    park_service_coverage(parks, res, tiers=[(0, 150)], network=network, access_m=30)
    assert sources == [1]


@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 100), st.floats(0, 50)), max_size=30))
def test_a_segments_reached_stretches_merge_into_their_union(rows):
    # the stretches of one street segment that several entrances reach become disjoint
    # pieces covering exactly their union (touching ones merge)
    from zoning.coverage.service import _merged_intervals

    seg = np.array([r[0] for r in rows], dtype=np.intp)
    a0 = np.array([r[1] for r in rows], dtype=float)
    a1 = a0 + np.array([r[2] for r in rows], dtype=float)
    s, lo, hi = _merged_intervals(seg, a0, a1)
    assert (lo <= hi).all() and (np.diff(s) >= 0).all()
    for k in range(4):
        mine, got = seg == k, s == k
        b0, b1 = lo[got], hi[got]
        assert (b0[1:] > b1[:-1]).all()  # disjoint, in order
        probes = np.concatenate(
            [a0[mine], a1[mine], (a0[mine] + a1[mine]) / 2, (b1[:-1] + b0[1:]) / 2]
        )
        before = ((probes[:, None] >= a0[mine]) & (probes[:, None] <= a1[mine])).any(axis=1)
        after = ((probes[:, None] >= b0) & (probes[:, None] <= b1)).any(axis=1)
        assert (before == after).all()


def test_network_coverage_differs_from_straight_line():
    park, network = _street_grid()
    a = box(20, 105, 80, 125)  # beside the reachable street y = 100
    b = box(140, 105, 180, 125)  # beyond the reach on y = 100
    c = box(40, 140, 80, 160)  # close in a straight line, 40 m from any street
    res = layer([a, b, c])
    tiers = [(0, 150)]
    net = park_service_coverage(park, res, tiers=tiers, network=network, access_m=30)
    straight = park_service_coverage(park, res, tiers=tiers)
    assert net.value == pytest.approx(100 * 1200 / 2800, abs=1e-3)
    assert straight.value == pytest.approx(100 * 2000 / 2800, abs=1e-3)
    assert net.details["method"] == "network"


# --------------------------------------------------------------------------- shares


def _jurisdiction():
    area = layer([box(0, 0, 10_000, 10_000)], adcode=["110000"], level=["municipality"])
    districts = layer(
        [box(0, 0, 5000, 10_000), box(5000, 0, 10_000, 10_000)],
        adcode=["110101", "110102"],
        level=["district", "district"],
        parent_adcode=["110000", "110000"],
    )
    return area, districts


def test_redline_overlaps_not_counted_twice():
    area, districts = _jurisdiction()
    a = box(1000, 1000, 4000, 5000)
    b = box(3000, 1000, 7000, 5000)  # overlaps a on 1 km × 4 km
    c = box(9000, 9000, 11_000, 11_000)  # only a quarter inside the area
    red = layer([a, b, c])
    out = share_of_area(red, area, districts=districts, target=beijing_target("redline_share"))
    union_in = shapely.union_all([a, b, shapely.intersection(c, box(0, 0, 10_000, 10_000))])
    expected = 100 * geod_area(union_in) / geod_area(box(0, 0, 10_000, 10_000))
    assert out.value == pytest.approx(expected, rel=1e-6)
    assert out.value == pytest.approx(25.0, abs=0.01)  # 16 + 8 + 1 km² of 100
    assert out.target == 26.1 and out.met is False
    assert out.gap_pp == pytest.approx(26.1 - out.value)
    assert out.gap_abs == pytest.approx(
        out.gap_pp / 100 * geod_area(box(0, 0, 10_000, 10_000)) / 1e6
    )
    t = out.by_district.set_index("adcode")
    west = geod_area(box(1000, 1000, 5000, 5000)) / geod_area(box(0, 0, 5000, 10_000))
    assert t.loc["110101", "value"] == pytest.approx(100 * west, rel=1e-6)
    assert t.loc["110102", "measured_km2"] == pytest.approx(9.0, rel=1e-4)
    assert out.citation == str(beijing_target("redline_share").citation)


def test_share_accepts_lonlat_geometry_and_rejects_projected_shapely():
    area, _ = _jurisdiction()
    red = layer([box(0, 0, 5000, 10_000)])
    out = share_of_area(
        red, area.geometry.iloc[0], metric="eco_control_share",
        target=beijing_target("eco_control_share"),
    )  # fmt: skip
    assert out.value == pytest.approx(50.0, abs=1e-4)
    assert out.target == 75.0
    with pytest.raises(InputFormatError, match="GeoSeries with its CRS"):
        share_of_area(red, box(0, 0, 10, 10))


def test_sponge_share_of_built_up_area():
    built = layer([box(0, 0, 1000, 1000)])
    s1 = box(0, 0, 500, 1000)
    s2 = box(250, 0, 500, 1000)  # inside s1
    s3 = box(2000, 0, 2500, 500)  # outside the built-up area
    out = sponge_share(layer([s1, s2, s3]), built, target=45.0)
    assert out.value == pytest.approx(50.0, abs=1e-4)
    assert out.metric == "sponge_share" and out.met is True
    assert out.gap_pp == pytest.approx(-5.0, abs=1e-4)


# --------------------------------------------------------------------------- per person


def test_park_area_per_person_from_number():
    park = square_with_area(0, 0, 100_000.0)
    out = park_area_per_person(
        layer([park]), population=10_000, target=beijing_target("park_area_per_person")
    )
    assert out.value == pytest.approx(10.0, rel=1e-6)
    assert out.unit == "m2/person" and out.gap_unit == "m2/person"
    assert out.target == 16.7 and out.met is False
    assert out.gap_pp is None
    assert out.gap_abs == pytest.approx(6.7, rel=1e-5)
    assert out.details["park_m2_needed"] == pytest.approx(67_000, rel=1e-5)


def test_park_area_per_person_from_residential_column_by_district():
    area, districts = _jurisdiction()
    parks = [square_with_area(2000, 2000, 50_000.0), square_with_area(7000, 2000, 20_000.0)]
    # two overlapping parks in the east would count once
    parks.append(parks[1])
    res = layer(
        [box(1000, 6000, 2000, 7000), box(6000, 6000, 7000, 7000)], population=[1000.0, 4000.0]
    )
    out = park_area_per_person(
        layer(parks), population="population", residential=res, area_of=area, districts=districts
    )
    assert out.value == pytest.approx(70_000 / 5000, rel=1e-5)
    t = out.by_district.set_index("adcode")
    assert t.loc["110101", "value"] == pytest.approx(50.0, rel=1e-5)
    assert t.loc["110102", "value"] == pytest.approx(5.0, rel=1e-5)
    assert set(t["status"]) == {"contribution"}


def test_park_area_per_person_bad_population():
    park = square_with_area(0, 0, 1000.0)
    with pytest.raises(InputFormatError, match="positive"):
        park_area_per_person(layer([park]), population=0)
    with pytest.raises(InputFormatError, match="population"):
        park_area_per_person(layer([park]), population=object())


# --------------------------------------------------------------------------- forest


@pytest.fixture
def landcover(tmp_path):
    """20 × 20 pixels of 10 m: columns 0–7 forest (10), others cropland (40),
    top two rows nodata (255)."""
    arr = np.full((20, 20), 40, dtype="uint8")
    arr[:, :8] = 10
    arr[:2, :] = 255
    path = tmp_path / "landcover.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=20, height=20, count=1, dtype="uint8", crs=GK,
        transform=Affine(10, 0, X0, 0, -10, Y0 + 200), nodata=255,
    ) as dst:  # fmt: skip
        dst.write(arr, 1)
    return path


def test_forest_share_with_partial_edge_pixels(landcover):
    # edges cut pixels at 13 m and 147 m: forest spans x 13–80 of 13–147
    poly = box(13, 7, 147, 171)
    out = forest_share(landcover, layer([poly]), target=beijing_target("forest_share"))
    assert out.value == pytest.approx(100 * 67 / 134, abs=1e-3)
    assert out.target == 45.0 and out.met is True
    assert out.details["data_pct"] == pytest.approx(100.0, abs=0.01)
    both = forest_share(landcover, layer([poly]), forest_classes=[10, 40], target=50)
    assert both.value == pytest.approx(100.0, abs=1e-6)


def test_forest_share_leaves_nodata_out(landcover):
    poly = box(13, 7, 147, 195)  # reaches 15 m into the nodata rows (y > 180)
    out = forest_share(landcover, layer([poly]))
    assert out.value == pytest.approx(100 * 67 / 134, abs=1e-3)
    assert out.details["data_pct"] == pytest.approx(100 * (180 - 7) / (195 - 7), abs=0.01)


def test_forest_share_by_district(landcover):
    districts = layer([box(0, 0, 50, 180), box(50, 0, 200, 180)], adcode=["1", "2"])
    out = forest_share(landcover, layer([box(0, 0, 200, 180)]), districts=districts)
    t = out.by_district.set_index("adcode")
    assert t.loc["1", "value"] == pytest.approx(100.0, abs=1e-6)
    assert t.loc["2", "value"] == pytest.approx(100 * 30 / 150, abs=1e-4)
    assert out.value == pytest.approx(40.0, abs=1e-4)


def test_forest_share_missing_raster(tmp_path):
    with pytest.raises(MissingLayerError, match="land-cover raster"):
        forest_share(tmp_path / "none.tif", layer([box(0, 0, 10, 10)]))


# ---------------------------------------------------------------------- missing layers, targets


def test_missing_layer_message():
    with pytest.raises(
        MissingLayerError,
        match=r"no 'residential' layer in the store: import one with "
        r"`ecozone layers import FILE --kind residential`",
    ):
        get_layer({"park": layer([box(0, 0, 1, 1)])}, "residential")
    with pytest.raises(MissingLayerError, match="--kind park"):
        park_service_coverage(None, layer([box(0, 0, 1, 1)]))


def test_districts_of_uses_parent_adcode():
    area, districts = _jurisdiction()
    other = layer(
        [box(0, 0, 1, 1)], adcode=["120101"], level=["district"], parent_adcode=["120000"]
    )
    boundaries = gpd.GeoDataFrame(
        gpd.pd.concat([area, districts, other], ignore_index=True), crs=4326
    )
    assert sorted(districts_of(boundaries, "110000")["adcode"]) == ["110101", "110102"]
    assert districts_of(boundaries, "110101")["adcode"].tolist() == ["110101"]
    assert len(districts_of(boundaries)) == 3


def test_measure_targets_reports_unmeasured_with_reason():
    area, districts = _jurisdiction()
    boundaries = gpd.GeoDataFrame(gpd.pd.concat([area, districts], ignore_index=True), crs=4326)
    park = box(2000, 2000, 4000, 4000)
    layers_ = {
        "boundary": boundaries,
        "redline": layer([box(0, 0, 2610, 10_000)]),
        "eco_control": layer([box(0, 0, 8000, 10_000)], zone_type=["生态控制区"]),
        "park": layer([park], area_m2=[geod_area(park)]),
        "residential": layer(
            [box(4100, 2000, 4300, 2200), box(8000, 8000, 8200, 8200)], population=[100.0, 100.0]
        ),
    }
    pack = load_pack("beijing")
    # park 2 km × 2 km lies in the west district (110101): 120 residents there, 80 east
    pop = _pop_table({"110101": 120.0, "110102": 80.0})
    results = measure_targets(pack, layers_, population=pop)
    assert [r.target_id for r in results] == [t.id for t in pack.targets]
    by_id = {r.target_id: r for r in results}
    red = by_id["redline.share"]
    assert red.measured and red.value == pytest.approx(26.1, abs=1e-3) and red.met is True
    assert len(red.by_district) == 2
    assert by_id["eco_control.share"].value == pytest.approx(80.0, abs=1e-3)
    park_cov = by_id["park.service_coverage"]
    assert park_cov.value == pytest.approx(50.0, abs=1e-4)
    assert park_cov.details["population_pct"] == pytest.approx(50.0, abs=1e-4)
    assert "scope_note" in park_cov.details
    per_person = by_id["park.area_per_person"]
    assert per_person.value == pytest.approx(geod_area(park) / 200, rel=1e-5)
    assert per_person.status == "met" and per_person.covered_districts == ("n0", "n1")
    forest = by_id["forest.share"]
    assert forest.measured is False and "landcover" in forest.reason
    assert by_id["forest.plains"].measured is False
    sponge = by_id["sponge.share"]
    assert sponge.measured is False and "sponge" in sponge.reason
    table = metrics_table(results)
    assert list(table["measured"]) == [r.measured for r in results]


def _pop_table(pops, *, year=2020, source="测试用人口表"):
    import pandas as pd

    t = pd.DataFrame(
        {
            "adcode": list(pops),
            "name": [f"区{c}" for c in pops],
            "population": list(pops.values()),
            "year": year,
            "source": source,
            "kind": "demo",
        }
    )
    t.attrs["path"] = "test-population.csv"
    return t


def test_measure_targets_missing_residential_layer():
    area, _ = _jurisdiction()
    layers_ = {"boundary": area, "park": layer([box(0, 0, 100, 100)])}
    results = measure_targets(load_pack("beijing"), layers_, by=None)
    park_cov = next(r for r in results if r.metric == "park_service_coverage")
    assert park_cov.measured is False
    assert "ecozone layers import FILE --kind residential" in park_cov.reason
    red = next(r for r in results if r.metric == "redline_share")
    assert "--kind redline" in red.reason


def test_no_plan_value_in_code_a_metric_without_target_is_not_judged():
    """Target values are pack data: without one a figure has no target, gap or verdict."""
    from zoning.coverage.metrics import resolve_target

    for name, spec in METRICS.items():
        assert resolve_target(name, None) == (None, spec.comparison, spec.label, spec.unit, None)
    t = next(t for t in load_pack("beijing").targets if t.metric == "redline_share")
    value, comp, _label, unit, cite = resolve_target("redline_share", t)
    assert (value, comp, unit) == (t.value, t.comparison, t.unit) and cite == str(t.citation)
    # measured, reported, not judged
    area, _ = _jurisdiction()
    out = share_of_area(layer([box(0, 0, 5000, 10_000)]), area)
    assert out.value == pytest.approx(50.0, abs=1e-4)
    assert out.target is None and out.met is None and out.citation is None
    assert out.gap_pp is None and out.gap_abs is None
    assert out.status == "no_target" and out.status_zh == "未给目标值（仅测算）"


def test_areas_are_ellipsoidal_within_0_01_percent():
    from geo.measure import geodesic_area

    # 1.5° × 1° of lon/lat off the central meridian, vertices about 1 km apart
    big = shapely.segmentize(shapely.box(115.6, 39.6, 117.1, 40.6), 0.01)
    west = shapely.segmentize(shapely.box(115.6, 39.6, 116.35, 40.6), 0.01)
    area = gpd.GeoDataFrame(geometry=[big], crs=4326)
    out = share_of_area(gpd.GeoDataFrame(geometry=[west], crs=4326), area)
    ref_big = float(geodesic_area(big, "EPSG:4326"))
    ref_west = float(geodesic_area(west, "EPSG:4326"))
    assert out.details["area_km2"] * 1e6 == pytest.approx(ref_big, rel=1e-4)
    assert out.details["measured_km2"] * 1e6 == pytest.approx(ref_west, rel=1e-4)


# --------------------------------------------------------------------------- built-up scope


def _boxes():
    import shapely as _sh

    a = _sh.box(116.0, 40.0, 116.1, 40.1)
    b = _sh.box(116.1, 40.0, 116.2, 40.1)
    built = gpd.GeoDataFrame(
        {"feature_id": ["bu1", "bu2"], "name": ["A建成区", "B建成区"]},
        geometry=[_sh.box(116.0, 40.0, 116.05, 40.1), b],
        crs="EPSG:4326",
    )
    districts = gpd.GeoDataFrame(
        {
            "adcode": ["110105", "110112"],
            "name": ["A区", "B区"],
            "level": ["district"] * 2,
            "parent_adcode": ["110000"] * 2,
            "feature_id": ["a", "b"],
        },
        geometry=[a, b],
        crs="EPSG:4326",
    )
    return built, districts


def test_sponge_share_per_district_divides_by_the_district_built_up_area():
    import shapely as _sh

    from zoning.coverage.measure import sponge_share

    built, districts = _boxes()
    # half of A's built-up land; none of B's. Boxes in one latitude band: areas are
    # proportional to their longitude widths on the ellipsoid.
    sponge = gpd.GeoDataFrame(geometry=[_sh.box(116.0, 40.0, 116.025, 40.1)], crs="EPSG:4326")
    result = sponge_share(sponge, built, districts=districts)
    assert result.value == pytest.approx(100 * 0.025 / 0.15, abs=1e-3)
    by = result.by_district.set_index("adcode")["value"]
    assert by["110105"] == pytest.approx(50.0, abs=1e-3)
    assert by["110112"] == pytest.approx(0.0, abs=1e-6)


def test_built_up_scope_is_cut_to_the_jurisdiction():
    import shapely as _sh

    built, districts = _boxes()
    sponge = gpd.GeoDataFrame(geometry=[_sh.box(116.1, 40.0, 116.15, 40.1)], crs="EPSG:4326")
    layers = {"boundary": districts, "built_up": built, "sponge": sponge}
    results = measure_targets(load_pack("tongzhou"), layers, by=None)
    sponge_result = next(r for r in results if r.metric == "sponge_share")
    # Tongzhou (110112) = district B: its built-up land is all of B, half of it sponge;
    # over the whole built-up layer the share would be 0.05 / 0.15 = 33.3 %. (Within
    # 0.01 pp: box edges along parallels are not geodesics, so halves are not exact.)
    assert sponge_result.value == pytest.approx(50.0, abs=0.01)
