"""A small hand-made layer store for the web app tests, and a live-server helper.

Layers sit around a centre in Tongzhou (116.70°E, 39.90°N) at geodesic offsets
(pyproj.Geod), so tests know exactly where a site falls: the red line is the square
1 000–2 000 m east and north of the centre, a drinking-water well lies 2 km south,
its grade-1 source zone is a 300 m disc 3 km east and 3 km south, and control units
cover everything (their access list applies to every site).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
from pyproj import Geod
from shapely.geometry import Point, Polygon

GEOD = Geod(ellps="GRS80")
C_LON, C_LAT = 116.70, 39.90


def at(east_m: float, north_m: float) -> tuple[float, float]:
    """(lon, lat) offset from the centre by metres east, then north (geodesic)."""
    lon, lat = C_LON, C_LAT
    if east_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 90.0 if east_m > 0 else 270.0, abs(east_m))
    if north_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0 if north_m > 0 else 180.0, abs(north_m))
    return float(lon), float(lat)


def rect(e0: float, n0: float, e1: float, n1: float) -> Polygon:
    """Rectangle with corners at east/north offsets (m) from the centre."""
    return Polygon([at(e0, n0), at(e1, n0), at(e1, n1), at(e0, n1)])


def disc(lon: float, lat: float, r: float, n: int = 72) -> Polygon:
    az = np.linspace(0, 360, n, endpoint=False)
    x, y, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, r))
    return Polygon(np.column_stack([x, y]))


def area_m2(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def _frame(rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
    gdf["synthetic"] = True
    return gdf


REDLINE = rect(1000, 1000, 2000, 2000)
REDLINE_2 = rect(-4000, -3000, -3800, 3000)
BEIJING = rect(-30000, -30000, 30000, 30000)
WELL = at(0, -2000)
SOURCE_CENTRE = at(3000, -3000)

ACCESS = [
    {"dimension": "layout", "text": "禁止新建高污染项目", "text_en": "No new polluting projects"},
    {
        "dimension": "discharge",
        "text": "工业项目废水须预处理",
        "text_en": "Industrial wastewater pre-treated",
        "project_types": ["industrial"],
    },
]


def make_layers() -> dict[str, gpd.GeoDataFrame]:
    """Kind → GeoDataFrame of the hand-made world."""
    L: dict[str, gpd.GeoDataFrame] = {}
    L["boundary"] = _frame(
        [
            {"feature_id": "110000", "name": "北京市", "adcode": "110000", "level": "municipality"},
            {
                "feature_id": "110112",
                "name": "通州区",
                "adcode": "110112",
                "level": "district",
                "parent_adcode": "110000",
            },
            {
                "feature_id": "110105",
                "name": "朝阳区",
                "adcode": "110105",
                "level": "district",
                "parent_adcode": "110000",
            },
        ],
        [BEIJING, rect(-30000, -30000, 0, 30000), rect(0, -30000, 30000, 30000)],
    )
    L["redline"] = _frame(
        [{"feature_id": "RL-1", "name": "红线一"}, {"feature_id": "RL-2", "name": "红线二"}],
        [REDLINE, REDLINE_2],
    )
    L["eco_control"] = _frame(
        [{"feature_id": "EC-1", "name": "生态控制区一", "zone_type": "eco_control"}],
        [rect(-3000, 2500, 3000, 4000)],
    )
    L["well"] = _frame(
        [{"feature_id": "W-1", "name": "水源井1"}, {"feature_id": "W-2", "name": "水源井2"}],
        [Point(WELL), Point(at(-2500, -2000))],
    )
    g1 = disc(*SOURCE_CENTRE, 300)
    g2 = disc(*SOURCE_CENTRE, 800).difference(g1)
    L["water_source_zone"] = _frame(
        [
            {"feature_id": "WS-1", "name": "水源一级", "grade": "1"},
            {"feature_id": "WS-2", "name": "水源二级", "grade": "2"},
        ],
        [g1, g2],
    )
    parks = [rect(-1000, -600, -900, -500), rect(-600, 600, -540, 650)]
    L["park"] = _frame(
        [{"feature_id": "P-1", "name": "大公园"}, {"feature_id": "P-2", "name": "中公园"}], parks
    )
    L["park"]["area_m2"] = [area_m2(p) for p in parks]
    res = [rect(-2000, -1500, -1200, -1000)]
    L["residential"] = _frame([{"feature_id": "R-1", "name": "居住区一"}], res)
    L["residential"]["area_m2"] = [area_m2(g) for g in res]
    st = at(-6000, 5000)
    L["tongzhou_key_area"] = _frame([{"feature_id": "KEY-1", "name": "重点区域"}], [disc(*st, 750)])
    L["tongzhou_strict_zone"] = _frame(
        [{"feature_id": "SZ-1", "name": "严控区一"}], [rect(-6300, 4800, -6000, 5100)]
    )
    L["control_unit"] = _frame(
        [
            {
                "feature_id": "CU-1",
                "name": "西部重点管控单元",
                "unit_code": "ZH11011220001",
                "category": "key",
                "access_list": json.dumps(ACCESS, ensure_ascii=False),
            },
            {
                "feature_id": "CU-2",
                "name": "东部一般管控单元",
                "unit_code": "ZH11010530001",
                "category": "general",
                "access_list": json.dumps(ACCESS[:1], ensure_ascii=False),
            },
        ],
        [rect(-30000, -30000, 0, 30000), rect(0, -30000, 30000, 30000)],
    )
    # kinds of the national and Beijing rules added in #11 §4, far from the test sites:
    # with data (extent: Beijing) their rules are judged, not 数据不足
    L["nature_reserve"] = _frame(
        [{"feature_id": "NR-1", "name": "保护区核心区", "zone": "core"}],
        [rect(-26000, 20000, -25000, 21000)],
    )
    L["nonroad_ban_zone"] = _frame(
        [{"feature_id": "NRBZ-1", "name": "非道路移动机械禁用区"}],
        [rect(20000, 20000, 25000, 25000)],
    )
    return L


def build_store(path: Path) -> Path:
    """Write the hand-made layers into a new GeoPackage store at ``path``."""
    from layers import LayerStore

    with LayerStore(path) as store:
        for kind, gdf in make_layers().items():
            store.import_layer(
                gdf, name=kind, kind=kind, source="测试数据 test data", synthetic=True
            )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on 127.0.0.1 and a free port; yield its URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
