"""The --coords guard: headers and file names that name AMap/Baidu coordinates."""

from __future__ import annotations

import pytest
import shapely

from geo.chinacoords import wgs84_to_bd09, wgs84_to_gcj02
from geo.errors import EcozoneWarning
from geo.io import read_vector
from geo.io._hints import strip_system_words, system_named_in


@pytest.mark.parametrize(
    ("words", "system"),
    [
        (["gcj_lng", "gcj_lat"], "gcj02"),
        (["高德经度", "高德纬度"], "gcj02"),
        (["bd09_lng", "bd09_lat"], "bd09"),
        (["lng", "lat", "百度坐标点.csv"], "bd09"),
        (["lng", "lat", "points.csv"], None),
        (["gcj_lng", "bd_lat"], None),  # contradictory: no guess
        (["WGS84经度", "WGS84纬度"], "wgs84"),
    ],
)
def test_system_named_in(words, system) -> None:
    assert system_named_in(words) == system


def test_strip_system_words() -> None:
    assert [strip_system_words(h) for h in ("gcj02lng", "高德经度", "bd09lat", "lng")] == [
        "lng",
        "经度",
        "lat",
        "lng",
    ]


def test_amap_headers_warn_and_name_the_option(tmp_path) -> None:
    gx, gy = wgs84_to_gcj02(116.70, 39.90)
    path = tmp_path / "sites.csv"
    path.write_text(f"名称,高德经度,高德纬度\nA,{float(gx)!r},{float(gy)!r}\n", encoding="utf-8")
    with pytest.warns(EcozoneWarning, match="coords='gcj02'"):
        gdf = read_vector(path)  # read as WGS84, as asked, but with the warning
    assert gdf.geometry.iloc[0].equals(shapely.Point(float(gx), float(gy)))
    # told the right system: converted, and no warning
    gdf = read_vector(path, coords="gcj02")
    assert gdf.geometry.iloc[0].distance(shapely.Point(116.70, 39.90)) < 1e-7


def test_baidu_file_name_read_as_gcj_warns(tmp_path) -> None:
    bx, by = wgs84_to_bd09(116.70, 39.90)
    path = tmp_path / "百度拾取.csv"
    path.write_text(f"lng,lat\n{float(bx)!r},{float(by)!r}\n", encoding="utf-8")
    with pytest.warns(EcozoneWarning, match="coords='bd09'"):
        read_vector(path, coords="gcj02")
