"""Tests for geo.crs: Gauss-Krüger zones, CRS detection, metric and equal-area CRSs."""

from __future__ import annotations

import functools
import json

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.crs import (
    CGCS2000,
    WGS84,
    crs_text,
    equal_area_crs,
    gk_central_meridian,
    gk_epsg,
    gk_zone_number,
    is_lonlat,
    local_metric_crs,
    metric_crs_for_lonlat,
    to_lonlat,
)
from geo.detect import DetectedCRS, detect_crs
from geo.errors import CRSDetectionError

# Beijing-area sample points, lon/lat (Tiananmen, Tongzhou, Daxing airport, Yanqing).
BEIJING_LON = np.array([116.3975, 116.6564, 116.4105, 115.9747])
BEIJING_LAT = np.array([39.9087, 39.9097, 39.5098, 40.4564])


def _params(epsg: int) -> dict[str, float]:
    """Read the projection parameters of an EPSG code straight from the PROJ database."""
    op = pyproj.CRS.from_epsg(epsg).coordinate_operation
    return {p.name: p.value for p in op.params}


@functools.lru_cache
def _to(epsg: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(4326, epsg, always_xy=True)


def _gk(epsg: int, lon=BEIJING_LON, lat=BEIJING_LAT):
    return _to(epsg).transform(lon, lat)


def test_constants():
    assert pyproj.CRS(WGS84).to_epsg() == 4326
    assert pyproj.CRS(CGCS2000).to_epsg() == 4490


@pytest.mark.parametrize("zone", range(25, 46))
def test_gk_epsg_mappings_verified_with_pyproj(zone):
    plain = gk_epsg(zone=zone)
    prefixed = gk_epsg(zone=zone, prefixed=True)
    assert 4534 <= plain <= 4554
    assert 4513 <= prefixed <= 4533
    p = _params(plain)
    assert p["Longitude of natural origin"] == 3 * zone
    assert p["False easting"] == 500_000
    q = _params(prefixed)
    assert q["Longitude of natural origin"] == 3 * zone
    assert q["False easting"] == zone * 1_000_000 + 500_000
    for code in (plain, prefixed):
        crs = pyproj.CRS.from_epsg(code)
        assert "CGCS2000" in crs.name
        assert crs.ellipsoid.inverse_flattening == pytest.approx(298.257222101)
    assert gk_central_meridian(zone) == 3 * zone
    assert gk_epsg(central_meridian=3 * zone) == plain


def test_beijing_is_cm117():
    assert gk_zone_number(116.4) == 39
    assert gk_epsg(116.4) == 4548
    assert gk_epsg(116.4, prefixed=True) == 4527
    assert gk_epsg(central_meridian=117) == 4548
    assert "117E" in pyproj.CRS.from_epsg(4548).name
    assert "zone 39" in pyproj.CRS.from_epsg(4527).name


@pytest.mark.parametrize(
    ("lon", "zone"),
    [(115.5, 39), (115.4999, 38), (118.4999, 39), (118.5, 40), (73.5, 25), (135.05, 45),
     (106.55, 36), (108.3, 36)],
)  # fmt: skip
def test_gk_zone_number_edges(lon, zone):
    assert gk_zone_number(lon) == zone


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one"),
        ({"lon": 116.4, "zone": 39}, "exactly one"),
        ({"zone": 117}, "central meridian"),
        ({"zone": 50}, "25…45"),
        ({"lon": 10.0}, "25…45"),
        ({"zone": 39.5}, "integer"),
        ({"central_meridian": 116}, "multiple of 3"),
        ({"lon": float("nan")}, "longitude"),
    ],
    ids=["none", "two", "cm-as-zone", "zone-50", "europe", "half-zone", "cm-116", "nan"],
)
def test_gk_epsg_errors(kwargs, match):
    with pytest.raises(CRSDetectionError, match=match):
        gk_epsg(**kwargs)


def test_gk_central_meridian_rejects_bad_zone():
    with pytest.raises(CRSDetectionError, match="1…120"):
        gk_central_meridian(0)


# --- detect_crs -------------------------------------------------------------------


def test_detect_lonlat():
    d = detect_crs(BEIJING_LON, BEIJING_LAT)
    assert isinstance(d, DetectedCRS)
    assert d.crs.to_epsg() == 4326
    assert d.swapped is False
    assert "CGCS2000" in d.description


def test_detect_swapped_latlon():
    d = detect_crs(BEIJING_LAT, BEIJING_LON)
    assert d.crs.to_epsg() == 4326
    assert d.swapped is True


def test_detect_prefixed_gk_gis_order():
    e, n = _gk(4527)
    assert (np.floor(e / 1e6) == 39).all()  # the generated eastings carry the prefix
    d = detect_crs(e, n)
    assert d.crs.to_epsg() == 4527
    assert d.swapped is False
    assert "zone 39" in d.description


def test_detect_prefixed_gk_boundary_table_order():
    # 界址点 tables: X = northing, Y = easting
    e, n = _gk(4527)
    d = detect_crs(n, e)
    assert d.crs.to_epsg() == 4527
    assert d.swapped is True
    assert "swapped" in d.description


def test_detect_prefixed_other_zone_guangxi():
    # Nanning 108.37°E is zone 36 (CM 108°E) → EPSG:4524
    e, n = _gk(4524, lon=np.array([108.37, 108.2]), lat=np.array([22.82, 22.9]))
    assert detect_crs(e, n).crs.to_epsg() == 4524


def test_detect_prefixed_zone_argument_must_agree():
    e, n = _gk(4527)
    assert detect_crs(e, n, zone=39).crs.to_epsg() == 4527
    with pytest.raises(CRSDetectionError, match="contradicts"):
        detect_crs(e, n, zone=38)


def test_detect_six_degree_prefixed():
    e, n = _gk(4498)  # 6-degree zone 20, CM 117°E
    assert (np.floor(e / 1e6) == 20).all()
    d = detect_crs(e, n)
    assert d.crs.to_epsg() == 4498
    assert "6-degree" in d.description


def test_detect_plain_gk_needs_zone():
    e, n = _gk(4548)
    with pytest.raises(CRSDetectionError, match="zone=") as err:
        detect_crs(e, n)
    assert "EPSG:4548" in str(err.value)
    assert "--crs" in str(err.value)
    d = detect_crs(e, n, zone=39)
    assert d.crs.to_epsg() == 4548
    assert d.swapped is False
    assert detect_crs(e, n, central_meridian=117).crs.to_epsg() == 4548


def test_detect_plain_gk_swapped():
    e, n = _gk(4548)
    d = detect_crs(n, e, zone=39)
    assert d.crs.to_epsg() == 4548
    assert d.swapped is True


def test_detect_plain_gk_zone_and_cm_together_rejected():
    e, n = _gk(4548)
    with pytest.raises(CRSDetectionError, match="either"):
        detect_crs(e, n, zone=39, central_meridian=117)


def test_detect_ignores_nan_pairs():
    lon = np.append(BEIJING_LON, np.nan)
    lat = np.append(BEIJING_LAT, 40.0)
    assert detect_crs(lon, lat).crs.to_epsg() == 4326


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([5000.0], [5000.0], "x 5000"),
        ([1e9], [3.0], "fit no supported system"),
        ([116.4, 450_000.0], [39.9, 4_420_000.0], "1 of 2 x values look like longitudes"),
        ([39_450_000.0, 38_450_000.0], [4_420_000.0, 4_420_000.0], "fit no supported"),
        ([12_958_000.0], [4_825_000.0], "EPSG:3857"),
        ([13_358_000.0], [3_650_000.0], "Web Mercator"),
        ([500_000.0], [600_000.0], "order is unknown"),
        ([np.nan], [np.nan], "finite"),
        ([-116.4], [39.9], "fit no supported"),
    ],
    ids=["tiny", "huge", "mixed", "mixed-zones", "webmerc", "webmerc-or-gk6", "both-orders",
         "all-nan", "west"],
)  # fmt: skip
def test_detect_undecidable_raises_with_ranges(x, y, match):
    with pytest.raises(CRSDetectionError, match=match) as err:
        detect_crs(x, y)
    text = str(err.value)
    assert "crs=" in text or "zone=" in text or "--crs" in text


def test_detect_message_lists_ranges():
    with pytest.raises(CRSDetectionError) as err:
        detect_crs([5000.0, 6000.0], [7000.0, 8000.0])
    assert "x 5000 … 6000" in str(err.value)
    assert "y 7000 … 8000" in str(err.value)
    assert 'crs="EPSG:4548"' in str(err.value)


@settings(max_examples=60, deadline=None)
@given(
    zone=st.integers(min_value=25, max_value=45),
    dlon=st.floats(min_value=-1.4, max_value=1.4),
    lat=st.floats(min_value=18.0, max_value=53.0),
    swapped=st.booleans(),
)
def test_property_detect_prefixed_gk_anywhere(zone, dlon, lat, swapped):
    lon = np.array([3 * zone + dlon, 3 * zone + dlon / 2])
    lats = np.array([lat, lat + 0.5])
    e, n = _gk(4513 + zone - 25, lon=lon, lat=lats)
    d = detect_crs(n, e) if swapped else detect_crs(e, n)
    assert d.crs.to_epsg() == 4513 + zone - 25
    assert d.swapped is swapped
    # the same points without prefix, given the zone
    e2, n2 = _gk(4534 + zone - 25, lon=lon, lat=lats)
    assert detect_crs(e2, n2, zone=zone).crs.to_epsg() == 4534 + zone - 25


@settings(max_examples=60, deadline=None)
@given(
    lon=st.lists(st.floats(73.0, 136.0), min_size=1, max_size=5),
    lat=st.floats(3.0, 54.0),
)
def test_property_detect_lonlat_anywhere_in_china(lon, lat):
    lats = np.full(len(lon), lat)
    assert detect_crs(lon, lats).swapped is False
    assert detect_crs(lats, lon).swapped is True


def test_detect_length_mismatch():
    with pytest.raises(CRSDetectionError, match="differ in length"):
        detect_crs([116.4, 116.5], [39.9])


# --- lon/lat, metric and equal-area CRSs --------------------------------------------


def test_is_lonlat():
    assert is_lonlat(4326)
    assert is_lonlat("EPSG:4490")
    assert is_lonlat("OGC:CRS84")
    assert not is_lonlat(4548)
    assert not is_lonlat(3857)
    assert not is_lonlat(4214)  # Beijing 1954: another ellipsoid


def test_local_metric_crs_beijing_bounds():
    crs = local_metric_crs((115.4, 39.4, 117.5, 41.1), "EPSG:4326")
    assert crs.to_epsg() == 4548
    assert _params(4548)["Longitude of natural origin"] == 117


def test_local_metric_crs_from_geoseries_in_gk():
    gs = gpd.GeoSeries([Point(450_000, 4_420_000), Point(460_000, 4_430_000)], crs=4548)
    assert local_metric_crs(gs).to_epsg() == 4548


def test_local_metric_crs_other_zones_and_outside_china():
    jiangjin = [Point(106.26, 29.29)]
    assert local_metric_crs(jiangjin, 4326).to_epsg() == gk_epsg(106.26)
    assert _params(local_metric_crs(jiangjin, 4326).to_epsg())[
        "Longitude of natural origin"
    ] == pytest.approx(105)
    assert local_metric_crs(Point(2.35, 48.85), 4326).to_epsg() == 32631
    assert metric_crs_for_lonlat(-70.6, -33.4).to_epsg() == 32719


def test_local_metric_crs_needs_crs():
    with pytest.raises(CRSDetectionError, match="crs="):
        local_metric_crs([Point(116.4, 39.9)])


def test_equal_area_crs_preserves_area():
    bounds = (115.4, 39.4, 117.5, 41.1)
    crs = equal_area_crs(bounds)
    assert crs.is_projected
    assert crs.ellipsoid.inverse_flattening == pytest.approx(298.257222101)  # GRS80
    # a geodesically dense 1°x1° cell: projected planar area equals the geodesic area
    cell = shapely.segmentize(shapely.box(116.0, 39.5, 117.0, 40.5), 0.002)
    geod = pyproj.Geod(ellps="GRS80")
    expected = abs(geod.geometry_area_perimeter(cell)[0])
    projected = gpd.GeoSeries([cell], crs=4326).to_crs(crs)
    assert projected.area.iloc[0] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "bounds",
    [(1, 2, 3), (117.5, 39.4, 115.4, 41.1), (450_000, 4_400_000, 460_000, 4_410_000),
     (np.nan, 0, 1, 1)],
    ids=["three", "reversed", "metres", "nan"],
)  # fmt: skip
def test_equal_area_crs_rejects_bad_bounds(bounds):
    with pytest.raises(CRSDetectionError, match="bounds_lonlat"):
        equal_area_crs(bounds)


def test_to_lonlat_from_gk():
    e, n = _gk(4548)
    gdf = gpd.GeoDataFrame({"v": range(4)}, geometry=shapely.points(e, n), crs=4548)
    out = to_lonlat(gdf)
    assert out.crs.to_epsg() == 4326
    np.testing.assert_allclose(out.geometry.x, BEIJING_LON, atol=1e-9)
    np.testing.assert_allclose(out.geometry.y, BEIJING_LAT, atol=1e-9)
    assert gdf.crs.to_epsg() == 4548  # input untouched
    assert gdf.geometry.x.iloc[0] == e[0]


def test_to_lonlat_cgcs2000_relabelled_without_moving():
    gdf = gpd.GeoDataFrame(geometry=shapely.points(BEIJING_LON, BEIJING_LAT), crs=4490)
    out = to_lonlat(gdf)
    assert out.crs.to_epsg() == 4326
    np.testing.assert_array_equal(out.geometry.x, BEIJING_LON)
    assert gdf.crs.to_epsg() == 4490


def test_to_lonlat_never_assigns_silently():
    gdf = gpd.GeoDataFrame(geometry=[Point(116.4, 39.9)])
    with pytest.raises(CRSDetectionError, match="set_crs"):
        to_lonlat(gdf)


# -- one transformer cache, one zone rule (geo.crs serves every package) --------------


def test_metric_epsg_is_the_vectorised_metric_crs_for_lonlat():
    from geo.crs import metric_crs_for_lonlat, metric_epsg

    lon = np.array([116.4, 115.5, 118.49, 118.5, 73.6, 135.0, 8.0, -70.0, np.nan])
    lat = np.array([39.9, 40.0, 40.0, 40.0, 39.0, 48.0, 45.0, -33.0, 40.0])
    codes = metric_epsg(lon, lat)
    assert codes.tolist()[:-1] == [
        metric_crs_for_lonlat(x, y).to_epsg() for x, y in zip(lon[:-1], lat[:-1], strict=True)
    ]
    # zone 39 spans 115.5–118.5°E; its east edge belongs to zone 40; NaN has no zone
    assert codes.tolist() == [4548, 4548, 4548, 4549, 4534, 4554, 32632, 32719, 0]


def test_metric_epsg_gives_0_for_any_non_finite_coordinate_without_a_warning():
    # the site check's zone rule (zoning.check.relations used its own copy, which cast
    # NaN to a garbage int64 with a RuntimeWarning, and kept a zone for a NaN latitude)
    import warnings

    from geo.crs import metric_epsg

    lon = np.array([np.nan, 116.4, np.inf, -np.inf, 116.4, 116.4])
    lat = np.array([40.0, np.nan, 40.0, 40.0, np.inf, 39.9])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes = metric_epsg(lon, lat)
    assert codes.dtype == np.int64
    assert codes.tolist() == [0, 0, 0, 0, 0, 4548]


def test_transformer_is_cached_and_agrees_with_pyproj():
    import pyproj

    from geo.crs import transform_geoms, transformer

    assert transformer(4326, 4548) is transformer(4326, 4548)
    assert transformer("EPSG:4326", 4548) is transformer(pyproj.CRS(4326), pyproj.CRS(4548))
    ref = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
    lon, lat = np.array([116.0, 116.4, 117.3]), np.array([39.5, 39.9, 40.8])
    np.testing.assert_array_equal(transformer(4326, 4548).transform(lon, lat),
                                  ref.transform(lon, lat))  # fmt: skip
    pts = shapely.points(lon, lat)
    moved = transform_geoms(np.append(pts, None), 4326, 4548)
    assert moved[-1] is None
    np.testing.assert_allclose(shapely.get_coordinates(moved[:-1]),
                               np.column_stack(ref.transform(lon, lat)), atol=1e-6)  # fmt: skip
    back = transform_geoms(moved[:-1], 4548, 4326)
    _, _, d = pyproj.Geod(ellps="GRS80").inv(shapely.get_x(back), shapely.get_y(back), lon, lat)
    assert np.all(d < 1e-3)
    assert len(transform_geoms(np.array([], dtype=object), 4326, 4548)) == 0


def test_transform_geoms_points_fast_path_equals_the_general_path():
    """Plain points take a shortcut; it must give exactly shapely.transform's result."""
    from geo.crs import transform_geoms, transformer

    rng = np.random.default_rng(7)
    pts = shapely.points(rng.uniform(115.4, 117.5, 5000), rng.uniform(39.4, 41.1, 5000))
    tr = transformer("EPSG:4326", 4527)

    def _xy(c):
        return np.column_stack(tr.transform(c[:, 0], c[:, 1]))

    fast = transform_geoms(pts, "EPSG:4326", 4527)
    assert shapely.equals_exact(fast, shapely.transform(pts, _xy), tolerance=0).all()
    # a None, an empty point or a 3-D point: the general path, None kept
    mixed = np.array([pts[0], None, shapely.Point(), shapely.Point(116, 40, 5)], dtype=object)
    out = transform_geoms(mixed, "EPSG:4326", 4527)
    assert out[1] is None and out[2].is_empty
    general = shapely.transform(mixed[[0, 3]], _xy)
    assert shapely.equals_exact(out[[0, 3]], general, tolerance=0).all()
    assert shapely.equals_exact(out[0], fast[0], tolerance=0)


@pytest.fixture
def pipeline_cache(tmp_path, monkeypatch):
    """An empty user cache, and transformer caches cleared before and after."""
    from geo import crs

    monkeypatch.setenv("ECOZONE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ECOZONE_PIPELINE_CACHE", raising=False)
    crs._cached_transformer.cache_clear()
    crs._transformer_for.cache_clear()
    yield tmp_path / "proj-pipelines.json"
    crs._cached_transformer.cache_clear()
    crs._transformer_for.cache_clear()


def _searches(monkeypatch) -> list[int]:
    """Count PROJ database searches (``Transformer.from_crs`` calls)."""
    calls: list[int] = []
    real = pyproj.Transformer.from_crs

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pyproj.Transformer, "from_crs", staticmethod(counted))
    return calls


def test_a_checked_pipeline_spares_the_next_process_the_search(pipeline_cache, monkeypatch):
    from geo import crs

    lon, lat = np.array([108.3, 109.9, 111.2]), np.array([22.8, 24.3, 25.6])
    want = pyproj.Transformer.from_crs(4326, 4545, always_xy=True).transform(lon, lat)
    searches = _searches(monkeypatch)
    first = crs._cached_transformer(pyproj.CRS(4326), pyproj.CRS(4545))
    assert len(searches) == 1 and pipeline_cache.is_file()
    stored = json.loads(pipeline_cache.read_text(encoding="utf-8"))
    assert len(stored) == 1 and next(iter(stored.values())).startswith("+proj=pipeline")
    crs._cached_transformer.cache_clear()  # as a new process
    again = crs._cached_transformer(pyproj.CRS(4326), pyproj.CRS(4545))
    assert len(searches) == 1  # no second search
    for tr in (first, again):
        np.testing.assert_array_equal(tr.transform(lon, lat), want)  # the same numbers


def test_the_pipeline_cache_is_only_a_shortcut(pipeline_cache, monkeypatch):
    from geo import crs

    searches = _searches(monkeypatch)
    pipeline_cache.write_text("{not json", encoding="utf-8")  # unreadable: searched
    crs._cached_transformer(pyproj.CRS(4326), pyproj.CRS(4545))
    assert len(searches) == 1 and json.loads(pipeline_cache.read_text(encoding="utf-8"))
    crs._cached_transformer.cache_clear()
    monkeypatch.setattr(pyproj, "proj_version_str", "0.0.0")  # another PROJ: searched
    crs._cached_transformer(pyproj.CRS(4326), pyproj.CRS(4545))
    assert len(searches) == 2
    crs._cached_transformer.cache_clear()
    pipeline_cache.unlink()
    monkeypatch.setenv("ECOZONE_PIPELINE_CACHE", "0")  # switched off: nothing kept
    crs._cached_transformer(pyproj.CRS(4326), pyproj.CRS(4545))
    assert len(searches) == 3 and not pipeline_cache.exists()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e7, 1e7), st.floats(-1e7, 1e7)), max_size=40))
def test_plain_point_xy_gives_what_get_coordinates_gives(xy):
    from geo.crs import plain_point_xy

    pts = shapely.points(np.array(xy, dtype=float).reshape(-1, 2))
    got = plain_point_xy(pts)
    if not xy:
        assert got is None
        return
    want = shapely.get_coordinates(pts)
    assert got.shape == want.shape and got.astype("<f8").tobytes() == want.tobytes()


@pytest.mark.parametrize(
    "odd",
    [None, shapely.Point(), shapely.Point(1, 2, 3), shapely.MultiPoint([(1, 2)]),
     shapely.LineString([(0, 0), (1, 1)])],
)  # fmt: skip
def test_plain_point_xy_is_none_unless_every_geometry_is_a_plain_point(odd):
    from geo.crs import plain_point_xy

    geoms = np.array([shapely.Point(1, 2), odd, shapely.Point(3, 4)], dtype=object)
    assert plain_point_xy(geoms) is None
    assert plain_point_xy(geoms[[0, 2]]).tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    "definition",
    [
        "EPSG:4326",
        "OGC:CRS84",
        "EPSG:4490",
        "EPSG:4548",
        "EPSG:3857",
        pyproj.CRS("OGC:CRS84").to_json(),
    ],
)
def test_crs_text_and_is_lonlat_are_pyprojs_answers_asked_once(definition):
    import threading

    crs = pyproj.CRS.from_user_input(definition)
    want_text = pyproj.CRS.from_user_input(definition).to_string()
    want_lonlat = is_lonlat(definition)  # (a text: asked of a new CRS)
    assert crs_text(crs) == want_text
    assert is_lonlat(crs) is want_lonlat
    assert want_lonlat is (definition not in ("EPSG:4548", "EPSG:3857"))
    seen = {}

    def other_thread() -> None:  # a thread that never parsed the definition
        seen["answers"] = (crs_text(crs), is_lonlat(crs))
        seen["parsed"] = getattr(getattr(crs, "_local", None), "crs", "n/a")

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert seen["answers"] == (want_text, want_lonlat)
    assert seen["parsed"] is None  # answered without parsing it again (22-27 ms)
