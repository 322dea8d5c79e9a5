"""The project of a report: the input file's attributes, options on top, their origin."""

import geopandas as gpd
import pytest
from shapely.geometry import Point

from geo.errors import InputFormatError
from zoning.report.project import project_from_input, select_site


@pytest.mark.parametrize(
    ("row", "column"),
    [({"XMMC": "某物流园"}, "XMMC"), ({"name": "某物流园"}, "name"),
     ({"项目名称": "某物流园", "name": "Placemark 1"}, "项目名称"), ({"名称": "某物流园"}, "名称"),
     ({"xmmc": "某物流园", "Name": "Placemark 1"}, "xmmc"), ({"NAME": "某物流园"}, "NAME")],
    ids=["shapefile", "kml", "geojson-zh-first", "geojson", "dbf-lower", "upper"],
)  # fmt: skip
def test_name_from_the_file(row, column):
    project, sources, note = project_from_input(row)
    assert project.name == row[column]
    assert sources["name"] == {"column": column}
    assert f"项目名称取自输入文件字段“{column}”" in note["text"] and note["kind"] == "assumption"


def test_type_and_industry_from_chinese_columns():
    project, sources, _ = project_from_input({"项目类型": "工业", "行业代码": "c2614"})
    assert project.project_type == "industrial" and project.industry_code == "C2614"
    assert sources["project_type"] == {"column": "项目类型"}
    assert sources["industry_code"] == {"column": "行业代码"}


def test_options_override_and_say_so():
    project, sources, note = project_from_input(
        {"名称": "文件里的名称", "项目类型": "工业"},
        options={"name": "选项名称", "project_type": None},
        option_names={"name": "--name"},
    )
    assert project.name == "选项名称" and project.project_type == "industrial"
    assert sources["name"] == {"option": "--name"}
    assert "项目名称取自命令行选项 --name" in note["text"]
    assert "project name from the option --name" in note["text_en"]


def test_a_bad_column_is_an_error_unless_the_option_sets_it():
    with pytest.raises(InputFormatError, match=r"sites\.geojson feature 1: column 'type'"):
        project_from_input({"type": "Polygon"}, where="sites.geojson feature 1")
    project, _, _ = project_from_input(
        {"type": "Polygon"}, options={"project_type": "linear"}, where="sites.geojson feature 1"
    )
    assert project.project_type == "linear"


def test_nothing_given_no_note():
    project, sources, note = project_from_input({"site_id": "A", "source_row": 1})
    assert project.name == "" and sources == {} and note is None


def test_select_site_by_id_or_number():
    gdf = gpd.GeoDataFrame(
        {"site_id": ["A", "B"], "source_row": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)],
        crs="EPSG:4326",
    )  # fmt: skip
    assert select_site(gdf, "B")["site_id"].iloc[0] == "B"
    assert select_site(gdf, "1")["site_id"].iloc[0] == "A"
    with pytest.raises(InputFormatError, match=r"--site 'Z'.*\(A, B\)"):
        select_site(gdf, "Z")
