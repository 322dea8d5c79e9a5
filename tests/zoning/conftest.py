"""Hand-made layers and a small rule pack for the site-check tests.

Every layer is a GeoDataFrame in the layer column schema of docs/internals.md
(``feature_id``, ``name``, ``synthetic`` + kind columns, EPSG:4326), built around a
centre in Tongzhou with geodesic offsets (pyproj.Geod), so that tests can place
sites at exact distances from features.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon

from zoning.pack import Pack, load_pack

GEOD = Geod(ellps="WGS84")
LONLAT = "EPSG:4326"

# centre of the hand-made world (Tongzhou, GK zone 39)
C_LON, C_LAT = 116.70, 39.90
# a second cluster straddling the GK zone edge 115.5°E (zones 38 / 39)
EDGE_LON, EDGE_LAT = 115.5, 39.90


def fwd(lon: float, lat: float, az: float, dist: float) -> tuple[float, float]:
    """Point at geodesic distance ``dist`` m and azimuth ``az`` from (lon, lat)."""
    x, y, _ = GEOD.fwd(lon, lat, az, dist)
    return float(x), float(y)


def at(east_m: float, north_m: float, *, lon0: float = C_LON, lat0: float = C_LAT):
    """(lon, lat) offset by east/north metres from an origin (small offsets)."""
    lon, lat = fwd(lon0, lat0, 90.0, east_m) if east_m else (lon0, lat0)
    if north_m:
        lon, lat = fwd(lon, lat, 0.0, north_m)
    return lon, lat


def rect(e0: float, n0: float, e1: float, n1: float, **kw) -> Polygon:
    """Rectangle with corners at east/north metre offsets from the centre."""
    return Polygon([at(e0, n0, **kw), at(e1, n0, **kw), at(e1, n1, **kw), at(e0, n1, **kw)])


def disc(lon: float, lat: float, r: float, n: int = 72) -> Polygon:
    """Polygon whose vertices lie at geodesic distance r around (lon, lat)."""
    az = np.linspace(0, 360, n, endpoint=False)
    x, y, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, r))
    return Polygon(np.column_stack([x, y]))


def frame(rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=LONLAT)
    gdf["synthetic"] = True
    return gdf


def geodesic_area(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


ACCESS = [
    {"dimension": "layout", "text": "禁止新建高污染项目", "text_en": "No new polluting projects"},
    {
        "dimension": "discharge",
        "text": "工业项目废水须预处理",
        "text_en": "Industrial wastewater pre-treated",
        "project_types": ["industrial"],
    },
    {
        "dimension": "risk",
        "text": "化工行业环境风险评估",
        "text_en": "Chemical risk assessment",
        "industry_prefixes": ["C26"],
    },
    {
        "dimension": "efficiency",
        "text": "VOCs 排放项目须实施减量替代",
        "text_en": "VOCs offsets",
        "requires": ["vocs"],
    },
]


def make_layers() -> dict[str, gpd.GeoDataFrame]:
    """The hand-made layer set (kind → GeoDataFrame)."""
    L: dict[str, gpd.GeoDataFrame] = {}
    L["boundary"] = frame(
        [
            {"feature_id": "110000", "name": "北京市", "adcode": "110000", "level": "municipality"},
            {"feature_id": "110112", "name": "通州区", "adcode": "110112", "level": "district"},
        ],
        # the municipality reaches beyond the units (random test sites lie within 40 km),
        # and holds the second cluster on the GK zone edge (its jurisdiction: #11)
        [
            MultiPolygon(
                [
                    rect(-50000, -50000, 50000, 50000),
                    rect(-5000, -5000, 5000, 5000, lon0=EDGE_LON, lat0=EDGE_LAT),
                ]
            ),
            rect(-8000, -8000, 8000, 8000),
        ],
    )
    # red line: a 1 km square north-east, and a long thin strip to the west
    L["redline"] = frame(
        [{"feature_id": "RL-1", "name": "红线一"}, {"feature_id": "RL-2", "name": "红线二"}],
        [rect(1000, 1000, 2000, 2000), rect(-4000, -3000, -3800, 3000)],
    )
    L["eco_control"] = frame(
        [{"feature_id": "EC-1", "name": "生态控制区一", "zone_type": "eco_control"}],
        [rect(-3000, 2500, 3000, 4000)],
    )
    wells = [at(0, -2000), at(500, -2000), at(-2500, -2000)]
    L["well"] = frame(
        [{"feature_id": f"W-{i + 1}", "name": f"水源井{i + 1}"} for i in range(3)]
        + [{"feature_id": "W-edge", "name": "边界水源井"}],
        [Point(w) for w in wells] + [Point(EDGE_LON, EDGE_LAT)],
    )
    # water source: grade 1 disc (300 m), grade 2 ring to 800 m, quasi ring to 1500 m
    ws_c = at(3000, -3000)
    g1 = disc(*ws_c, 300)
    g2 = disc(*ws_c, 800).difference(g1)
    qz = disc(*ws_c, 1500).difference(disc(*ws_c, 800))
    L["water_source_zone"] = frame(
        [
            {"feature_id": "WS-1", "name": "水源一级", "grade": "1"},
            {"feature_id": "WS-2", "name": "水源二级", "grade": "2"},
            {"feature_id": "WS-Q", "name": "水源准保护区", "grade": "quasi"},
        ],
        [g1, g2, qz],
    )
    parks = [rect(-1000, -600, -900, -500), rect(-600, 600, -540, 650), rect(600, -600, 630, -570)]
    L["park"] = frame(
        [
            {"feature_id": "P-big", "name": "大公园"},
            {"feature_id": "P-mid", "name": "中公园"},
            {"feature_id": "P-small", "name": "小公园"},
        ],
        parks,
    )
    L["park"]["area_m2"] = [geodesic_area(p) for p in parks]
    L["residential"] = frame(
        [{"feature_id": "R-1", "name": "居住区一"}], [rect(-2000, -1500, -1200, -1000)]
    )
    L["residential"]["area_m2"] = [geodesic_area(g) for g in L["residential"].geometry]
    # Tongzhou key area: 750 m disc around a monitoring station; strict zone: 2 blocks
    st = at(-6000, 5000)
    L["key_area"] = frame([{"feature_id": "KEY-1", "name": "重点区域"}], [disc(*st, 750, n=144)])
    L["strict_zone"] = frame(
        [{"feature_id": "SZ-1", "name": "严控区一"}, {"feature_id": "SZ-2", "name": "严控区二"}],
        [
            rect(-6300, 4800, -6000, 5100),
            rect(-5900, 4800, -5700, 5100),
        ],
    )
    access_b = [{"dimension": "layout", "text": "一般管控要求", "text_en": "General rules"}]
    L["control_unit"] = frame(
        [
            {
                "feature_id": "CU-1",
                "name": "通州重点管控单元",
                "unit_code": "ZH11011220001",
                "category": "key",
                "access_list": json.dumps(ACCESS, ensure_ascii=False),
            },
            {
                "feature_id": "CU-2",
                "name": "通州一般管控单元",
                "unit_code": "ZH11011230001",
                "category": "general",
                "access_list": json.dumps(access_b, ensure_ascii=False),
            },
        ],
        [rect(-30000, -30000, 0, 30000), rect(0, -30000, 30000, 30000)],
    )
    # kinds of the rules added in #11 §4 (national nature reserves, Beijing's non-road
    # machinery ban zone), far from the other features so that they change nothing there
    L["nature_reserve"] = frame(
        [{"feature_id": "NR-1", "name": "保护区核心区", "zone": "core"}],
        [rect(-26000, 20000, -25000, 21000)],
    )
    L["nonroad_ban_zone"] = frame(
        [{"feature_id": "NRBZ-1", "name": "非道路移动机械禁用区"}],
        [rect(20000, 20000, 25000, 25000)],
    )
    return L


def _cite(line: str = "142") -> list[dict]:
    return [{"source": "002_735b581d06638fbb.txt", "line": line, "text": "test"}]


def _rule(rid: str, layer: str, predicate: str, outcome: str, **kw) -> dict:
    base = {
        "id": rid,
        "layer": layer,
        "predicate": predicate,
        "outcome": outcome,
        "section": kw.pop("section", "redline"),
        "title": f"规则 {rid}",
        "title_en": f"rule {rid}",
        "requirement": f"要求 {rid}",
        "requirement_en": f"requirement {rid}",
        "citations": _cite(),
    }
    base.update(kw)
    return base


def make_pack() -> Pack:
    """A small pack exercising every predicate, filters, conditions and unless_layer."""
    flags = ["sewage", "wastewater", "garbage", "toilets", "manure"]
    rules = [
        _rule("redline.inside", "redline", "intersects", "prohibited", report_overlap=True),
        _rule("redline.within", "redline", "within", "information"),
        _rule("redline.nearest", "redline", "nearest", "information"),
        _rule("eco.inside", "eco_control", "intersects", "restricted", section="resource_cap"),
        _rule(
            "well.30m", "well", "within_distance", "prohibited", distance_m=30.0,
            section="quality_floor", when={"flags_any": flags},
        ),
        _rule(
            "well.30m.req", "well", "within_distance", "requirements", distance_m=30.0,
            section="quality_floor", when={"flags_none": flags},
        ),
        _rule("well.nearest", "well", "nearest", "information", section="quality_floor"),
        _rule(
            "ws.g1", "water_source_zone", "intersects", "prohibited",
            feature_filter={"grade": ["1"]}, when={"water_supply": False},
            section="quality_floor",
        ),
        _rule(
            "ws.g2", "water_source_zone", "intersects", "restricted",
            feature_filter={"grade": ["2"]}, section="quality_floor",
        ),
        _rule(
            "ws.quasi.nearest", "water_source_zone", "nearest", "information",
            feature_filter={"grade": ["quasi"]}, distance_m=5000.0, section="quality_floor",
        ),
        _rule(
            "park.service", "park", "within_distance", "information", section="resource_cap",
        ),
        _rule(
            "residential.near", "residential", "within_distance", "requirements",
            distance_m=200.0, section="resource_cap", when={"project_types": ["industrial"]},
        ),
        _rule(
            "strict.construction", "strict_zone", "intersects", "requirements",
            section="quality_floor", when={"project_types": ["construction"]},
        ),
        _rule(
            "key.construction", "key_area", "intersects", "requirements",
            unless_layer="strict_zone", section="quality_floor",
            when={"project_types": ["construction"]},
        ),
        _rule(
            "unit.access", "control_unit", "intersects", "requirements",
            access_list=True, section="access_list",
        ),
        _rule(
            "district.tongzhou", "boundary", "intersects", "requirements",
            feature_filter={"adcode": ["110112"]}, section="access_list",
            when={"project_types": ["industrial"]},
        ),
        _rule(
            "site_exit.band", "site_exit", "within_distance", "requirements",
            distance_m=100.0, section="quality_floor", when={"project_types": ["construction"]},
        ),
    ]  # fmt: skip
    return Pack.model_validate(
        {
            "name": "testpack",
            "version": "1",
            "title": "测试规则包",
            "title_en": "test pack",
            "jurisdiction": {"name": "北京市", "name_en": "Beijing", "adcodes": ["110000"]},
            "rules": rules,
        }
    )


@pytest.fixture(scope="session")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return make_layers()


@pytest.fixture(scope="session")
def pack() -> Pack:
    return make_pack()


@pytest.fixture(scope="session")
def tongzhou_pack() -> Pack:
    return load_pack("tongzhou")


@pytest.fixture(scope="session")
def checker(pack, layers):
    from zoning.check.engine import SiteChecker

    return SiteChecker(pack, layers)


def sites_frame(geoms, ids=None, crs=LONLAT, **cols) -> gpd.GeoDataFrame:
    ids = ids or [f"s{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"site_id": ids, **cols}, geometry=list(geoms), crs=crs)


def random_sites(n: int, seed: int = 0, *, spread_m: float = 7000.0) -> gpd.GeoDataFrame:
    """Random points, lines and polygons around the centre, many near thresholds."""
    rng = np.random.default_rng(seed)
    layers = make_layers()
    kinds = rng.integers(0, 3, n)
    # a third of the sites sit near feature vertices / wells to hit thresholds
    anchor_pts = np.concatenate(
        [
            shapely.get_coordinates(g)
            for k, g in layers.items()
            if k != "boundary"
            for g in g.geometry
        ]
    )
    e = rng.uniform(-spread_m, spread_m, n)
    nrt = rng.uniform(-spread_m, spread_m, n)
    lon0, lat0 = np.full(n, C_LON), np.full(n, C_LAT)
    lon, lat, _ = GEOD.fwd(lon0, lat0, np.full(n, 90.0), e)
    lon, lat, _ = GEOD.fwd(lon, lat, np.zeros(n), nrt)
    near = rng.random(n) < 0.35
    pick = anchor_pts[rng.integers(0, len(anchor_pts), near.sum())]
    d = rng.choice([29.9, 30.1, 99.0, 101.0, 299.0, 301.0, 499.0, 501.0, 5.0, 0.5], near.sum())
    az = rng.uniform(0, 360, near.sum())
    x, y, _ = GEOD.fwd(pick[:, 0], pick[:, 1], az, d)
    lon[near], lat[near] = x, y
    # a few sites across the GK zone edge 115.5°E
    edge = rng.random(n) < 0.05
    x, y, _ = GEOD.fwd(
        np.full(edge.sum(), EDGE_LON), np.full(edge.sum(), EDGE_LAT),
        rng.uniform(0, 360, edge.sum()), rng.uniform(0, 60, edge.sum()),
    )  # fmt: skip
    lon[edge], lat[edge] = x, y
    geoms = []
    for i in range(n):
        if kinds[i] == 0:
            geoms.append(Point(lon[i], lat[i]))
        elif kinds[i] == 1:
            a = rng.uniform(0, 360)
            L = rng.uniform(20, 600)
            geoms.append(shapely.LineString([(lon[i], lat[i]), fwd(lon[i], lat[i], a, L)]))
        else:
            r = rng.uniform(10, 400)
            geoms.append(disc(lon[i], lat[i], r, n=int(rng.integers(4, 12))))
    return sites_frame(geoms, ids=[f"r{i}" for i in range(n)])
