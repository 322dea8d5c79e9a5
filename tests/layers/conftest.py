"""Small hand-made layers of every kind, near Tiananmen (116.39°E, 39.90°N)."""

from __future__ import annotations

import json
from collections.abc import Callable

import geopandas as gpd
import pytest
import shapely

from layers.store import LayerStore

LON, LAT = 116.39, 39.90
STEP = 0.01  # degrees between neighbouring test features

ACCESS = [
    {"dimension": "layout", "text": "禁止新建工业项目", "text_en": "No new industry"},
    {"dimension": "discharge", "text": "污水全部收集处理", "project_types": ["industrial"]},
]
EMISSIONS = [{"month": "2023-01", "pollutant": "PM10", "tonnes": 1.5}]


def square(i: int, size: float = STEP) -> shapely.Polygon:
    """The i-th square of a west-east row; neighbours share an edge."""
    x = LON + i * STEP
    return shapely.box(x, LAT, x + size, LAT + size)


def kind_frame(kind: str, n: int = 3) -> gpd.GeoDataFrame:
    """A valid n-feature layer of ``kind`` (EPSG:4326)."""
    ids = [f"{kind}-t{i}" for i in range(n)]
    cols: dict[str, list] = {"feature_id": ids, "name": [f"{kind} {i}" for i in range(n)]}
    if kind == "well":
        geoms = [shapely.Point(LON + i * STEP, LAT) for i in range(n)]
    elif kind == "pollution_source":
        geoms = [shapely.Point(LON + i * STEP, LAT) for i in range(n)]
        cols |= {"source_type": ["construction"] * n, "emissions": [json.dumps(EMISSIONS)] * n}
    else:
        geoms = [square(i) for i in range(n)]
    if kind == "boundary":
        cols |= {"adcode": [str(110101 + i) for i in range(n)], "level": ["district"] * n}
    elif kind == "eco_control":
        cols["zone_type"] = ["eco_control"] * n
    elif kind == "water_source_zone":
        cols["grade"] = (["1", "2", "quasi"] * n)[:n]
    elif kind == "nature_reserve":
        cols["zone"] = (["core", "buffer", "experimental"] * n)[:n]
    elif kind == "river":
        cols |= {"basin": ["长江"] * n, "rank": (["干流", "重要支流", "支流"] * n)[:n]}
    elif kind == "residential":
        cols["population"] = [1000.0 * (i + 1) for i in range(n)]
    elif kind == "control_unit":
        cols |= {
            "unit_code": [f"ZH1101{i:04d}" for i in range(n)],
            "category": (["priority", "key", "general"] * n)[:n],
            "access_list": [json.dumps(ACCESS, ensure_ascii=False)] * n,
        }
    return gpd.GeoDataFrame(cols, geometry=geoms, crs="EPSG:4326")


@pytest.fixture
def frame() -> Callable[..., gpd.GeoDataFrame]:
    """Factory: ``frame(kind, n=3)`` builds a valid layer of that kind."""
    return kind_frame


@pytest.fixture
def store(tmp_path) -> LayerStore:
    """An empty store in a temporary GeoPackage."""
    with LayerStore(tmp_path / "store.gpkg") as s:
        yield s
