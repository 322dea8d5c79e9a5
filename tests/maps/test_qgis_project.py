"""write_qgis_project: the project's GeoPackage beside it keeps a user's own layers."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
import shapely

from geo.errors import InputFormatError
from maps.qgis_project import write_qgis_project


def _layers() -> dict[str, gpd.GeoDataFrame]:
    red = gpd.GeoDataFrame(
        {"feature_id": ["r1"], "name": ["红线"]},
        geometry=[shapely.box(116.60, 39.85, 116.65, 39.90)],
        crs="EPSG:4326",
    )
    return {"redline": red}


def test_the_projects_geopackage_keeps_other_layers_and_refuses_other_files(tmp_path):
    extent = shapely.box(116.5, 39.8, 116.8, 40.0)
    data = tmp_path / "plan.gpkg"
    mine = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(116.7, 39.9)], crs=4326)
    mine.to_file(data, layer="my_points")
    write_qgis_project(_layers(), tmp_path / "plan.qgz", title="t", extent=extent)
    names = {str(n) for n, _ in pyogrio.list_layers(data)} - {"layer_styles"}
    assert names == {"my_points", "redline"}
    assert gpd.read_file(data, layer="my_points")["n"].tolist() == [1]
    # a GeoPackage that holds only the project's layers (an earlier run): written anew
    alone = tmp_path / "alone.qgz"
    for _ in range(2):
        write_qgis_project(_layers(), alone, title="t", extent=extent)
    assert {str(n) for n, _ in pyogrio.list_layers(alone.with_suffix(".gpkg"))} - {
        "layer_styles"
    } == {"redline"}
    # a .gpkg of that name that is not a GeoPackage: left alone, no project written
    notes = tmp_path / "notes.gpkg"
    notes.write_text("我的笔记", encoding="utf-8")
    with pytest.raises(InputFormatError, match="not a GeoPackage"):
        write_qgis_project(_layers(), tmp_path / "notes.qgz", title="t", extent=extent)
    assert notes.read_text(encoding="utf-8") == "我的笔记"
    assert not (tmp_path / "notes.qgz").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
