import numpy as np
import pytest
from pyproj import Transformer

from geo.chinacoords import gcj02_to_wgs84, wgs84_to_bd09
from geo.convert import convert_table, convert_xy, resolve_system
from geo.errors import CRSDetectionError, InputFormatError


def test_gk_zone_from_name_matches_pyproj():
    x, y = convert_xy(116.397, 39.908, src="wgs84", dst="gk39")
    ex, ey = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True).transform(
        116.397, 39.908
    )
    assert float(x) == pytest.approx(ex, abs=1e-6)
    assert float(y) == pytest.approx(ey, abs=1e-6)


def test_gk_without_zone_uses_longitude():
    assert resolve_system("gk", lon_hint=116.4).to_epsg() == 4548
    with pytest.raises(CRSDetectionError, match="needs a zone"):
        resolve_system("gk")


def test_cgcs2000_is_wgs84():
    assert resolve_system("cgcs2000") == "wgs84"
    assert resolve_system("EPSG:4490") == "wgs84"


def test_projected_to_bd09_goes_through_wgs84():
    lon, lat = Transformer.from_crs("EPSG:4548", "EPSG:4326", always_xy=True).transform(
        448000, 4418000
    )
    ex, ey = wgs84_to_bd09(lon, lat)
    x, y = convert_xy(448000, 4418000, src="EPSG:4548", dst="bd09")
    assert float(x) == pytest.approx(float(ex), abs=1e-9)
    assert float(y) == pytest.approx(float(ey), abs=1e-9)


def test_unknown_system_message_lists_choices():
    with pytest.raises(CRSDetectionError, match="gcj02"):
        convert_xy(1, 2, src="mars", dst="wgs84")


def test_convert_table_keeps_bad_rows_with_problem(tmp_path):
    path = tmp_path / "amap.csv"
    path.write_text(
        "名称,经度,纬度\n天安门,116.403963,39.915119\n坏行,abc,39.9\n", encoding="utf-8"
    )
    out = convert_table(path, src="gcj02", dst="wgs84")
    lon, lat = gcj02_to_wgs84(116.403963, 39.915119)
    assert out.loc[0, "x_wgs84"] == pytest.approx(float(lon), abs=1e-9)
    assert out.loc[0, "y_wgs84"] == pytest.approx(float(lat), abs=1e-9)
    assert np.isnan(out.loc[1, "x_wgs84"])
    assert "not numbers" in out.loc[1, "problem"]
    assert list(out["名称"]) == ["天安门", "坏行"]


def test_convert_table_survey_order(tmp_path):
    path = tmp_path / "jzd.csv"
    path.write_text("点号,X,Y\nJ1,4418000,448000\n", encoding="utf-8")
    out = convert_table(path, src="gk39", dst="wgs84", northing_first=True)
    lon, lat = Transformer.from_crs("EPSG:4548", "EPSG:4326", always_xy=True).transform(
        448000, 4418000
    )
    # survey order kept in the output: x column = latitude-like (north), y = longitude
    assert out.loc[0, "y_wgs84"] == pytest.approx(lon, abs=1e-9)
    assert out.loc[0, "x_wgs84"] == pytest.approx(lat, abs=1e-9)


def test_convert_table_without_coordinate_columns(tmp_path):
    path = tmp_path / "none.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="--x-col"):
        convert_table(path, src="wgs84", dst="gcj02")
