from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo.errors import GeometryRepairedWarning, LayerValidationError
from layers.kinds import KINDS, LAYER_KINDS, GeneratedColumnWarning, kind_info, validate_layer

LON, LAT, STEP = 116.39, 39.90, 0.01  # as in conftest.kind_frame
GEOD = pyproj.Geod(ellps="GRS80")
POLYGON_KINDS = [k for k in LAYER_KINDS if KINDS[k].geometry == "polygon"]


def square(i: int) -> shapely.Polygon:
    x = LON + i * STEP
    return shapely.box(x, LAT, x + STEP, LAT + STEP)


def geod_area(geom: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def test_registry_matches_internals_contract():
    assert LAYER_KINDS == (
        "boundary",
        "redline",
        "eco_control",
        "well",
        "water_source_zone",
        "park",
        "residential",
        "key_area",
        "strict_zone",
        "control_unit",
        "pollution_source",
        "sponge",
        "built_up",
        "nonroad_ban_zone",
        "nature_reserve",
        "river",
        "reference",
    )
    for spec in KINDS.values():
        assert re.fullmatch(r"#[0-9a-f]{6}", spec.color)
        assert re.search(r"[\u4e00-\u9fff]", spec.label_zh)
        assert spec.label_en.isascii() and spec.label_en
    assert len({k.color for k in KINDS.values()}) == len(KINDS)
    assert KINDS["well"].geometry == "point"


def test_kind_info_accepts_labels_and_lists_kinds_when_unknown():
    assert kind_info("生态保护红线").name == "redline"
    assert kind_info("Drinking-water well").name == "well"
    with pytest.raises(LayerValidationError, match=r"Unknown layer kind 'forest'.*redline"):
        kind_info("forest")


@pytest.mark.parametrize("kind", LAYER_KINDS, ids=LAYER_KINDS)
def test_valid_layer_of_every_kind(kind, frame):
    src = frame(kind)
    before = src.copy()
    out = validate_layer(src, kind)
    assert_geodataframe_equal(src, before)  # input untouched
    assert list(out.columns[:2]) == ["feature_id", "name"]
    assert list(out.columns[-2:]) == ["synthetic", "geometry"]
    assert out.crs == "EPSG:4326"
    assert out["feature_id"].tolist() == src["feature_id"].tolist()
    assert not out["synthetic"].any()
    for col in KINDS[kind].columns:
        if col.required:
            assert col.name in out.columns


def test_wells_must_be_points(frame):
    wells = frame("well", 4)
    wells.loc[1, "geometry"] = square(1)
    wells.loc[3, "geometry"] = shapely.LineString([(LON, LAT), (LON + 0.01, LAT)])
    with pytest.raises(LayerValidationError) as err:
        validate_layer(wells, "well", name="wells")
    msg = str(err.value)
    assert "well features must be points" in msg
    assert "well-t1 (Polygon)" in msg and "well-t3 (LineString)" in msg
    assert "well-t0" not in msg and "layer 'wells'" in msg


def test_single_part_multipoint_well_becomes_point(frame):
    wells = frame("well", 2)
    wells.loc[0, "geometry"] = shapely.MultiPoint([(LON, LAT)])
    out = validate_layer(wells, "well")
    assert out.geometry.iloc[0].equals(shapely.Point(LON, LAT))


@pytest.mark.parametrize("kind", POLYGON_KINDS, ids=POLYGON_KINDS)
def test_polygon_kinds_reject_points(kind, frame):
    gdf = frame(kind, 2)
    gdf.loc[0, "geometry"] = shapely.Point(LON, LAT)
    with pytest.raises(LayerValidationError, match=rf"{kind}-t0 \(Point\)"):
        validate_layer(gdf, kind)


def test_grade_values_and_chinese_aliases(frame):
    zones = frame("water_source_zone", 4)
    zones["grade"] = ["一级", "二级保护区", "准保护区", 2]
    assert validate_layer(zones, "water_source_zone")["grade"].tolist() == ["1", "2", "quasi", "2"]
    zones["grade"] = ["1", "3", "三级", "2"]
    with pytest.raises(LayerValidationError) as err:
        validate_layer(zones, "water_source_zone")
    msg = str(err.value)
    assert "'grade' has values not in 1/2/quasi" in msg
    assert "water_source_zone-t1, water_source_zone-t2" in msg and "三级" in msg


def test_bad_category_and_missing_columns_reported_together(frame):
    units = frame("control_unit", 3)
    units["category"] = ["priority", "urgent", "重点管控单元"]
    units = units.drop(columns=["unit_code", "access_list"])
    with pytest.raises(LayerValidationError) as err:
        validate_layer(units, "control_unit")
    problems = err.value.problems
    assert len(problems) == 3
    text = str(err.value)
    assert "missing column 'unit_code'" in text and "编码" in text
    assert "missing column 'access_list'" in text
    assert "control_unit-t1" in text and "urgent" in text
    assert "control_unit-t2" not in text  # 重点管控单元 is an accepted alias


def test_many_problems_listed_at_once(frame):
    wells = frame("well", 5)
    wells["feature_id"] = ["w1", "w2", "w2", None, "w5"]
    wells.loc[0, "geometry"] = shapely.Point()
    wells.loc[4, "geometry"] = None
    with pytest.raises(LayerValidationError) as err:
        validate_layer(wells, "well")
    text = str(err.value)
    assert "(4 problems)" in text
    assert "feature_id is empty in 1 rows (row 4)" in text
    assert "w2 occur more than once" in text
    assert "empty geometry: w1" in text
    assert "without geometry: w5" in text


def test_missing_ids_are_generated_and_said(frame):
    parks = frame("park", 3).drop(columns="feature_id")
    with pytest.warns(GeneratedColumnWarning, match="generated ids park-1 … park-3"):
        out = validate_layer(parks, "park")
    assert out["feature_id"].tolist() == ["park-1", "park-2", "park-3"]


def test_missing_name_copies_ids(frame):
    wells = frame("well", 2).drop(columns="name")
    with pytest.warns(GeneratedColumnWarning, match="no 'name' column"):
        out = validate_layer(wells, "well")
    assert out["name"].tolist() == out["feature_id"].tolist()


def test_crs_is_required(frame):
    wells = frame("well", 2).set_crs(None, allow_override=True)
    with pytest.raises(LayerValidationError, match=r"no CRS; set .*set_crs"):
        validate_layer(wells, "well")


def test_projected_input_is_reprojected_not_relabelled():
    gk = pyproj.CRS.from_epsg(4548)  # CGCS2000 3-degree GK, central meridian 117°E
    to_gk = pyproj.Transformer.from_crs(4326, gk, always_xy=True)
    x, y = to_gk.transform(LON, LAT)
    wells = gpd.GeoDataFrame(
        {"feature_id": ["w"], "name": ["井"]}, geometry=[shapely.Point(x, y)], crs=gk
    )
    out = validate_layer(wells, "well")
    assert out.crs == "EPSG:4326"
    back = pyproj.Transformer.from_crs(gk, 4326, always_xy=True).transform(x, y)
    assert out.geometry.iloc[0].x == pytest.approx(back[0], abs=1e-9)
    assert out.geometry.iloc[0].y == pytest.approx(back[1], abs=1e-9)
    assert out.geometry.iloc[0].x == pytest.approx(LON, abs=1e-6)


def test_invalid_geometry_is_repaired_and_reported(frame):
    ring = [(LON, LAT), (LON + STEP, LAT + STEP), (LON + STEP, LAT), (LON, LAT + STEP)]
    bowtie = shapely.Polygon(ring)
    red = frame("redline", 2)
    red.loc[1, "geometry"] = bowtie
    with pytest.warns(GeometryRepairedWarning, match=r"redline-t1 \(Self-intersection"):
        out = validate_layer(red, "redline")
    fixed = out.geometry.iloc[1]
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon"
    # Two triangles, each a quarter of the square.
    assert fixed.area == pytest.approx(STEP * STEP / 2)


def test_park_area_is_computed_ellipsoidally_when_missing(frame):
    parks = frame("park", 3)
    out = validate_layer(parks, "park")
    expected = [geod_area(g) for g in parks.geometry]
    np.testing.assert_allclose(out["area_m2"], expected, rtol=1e-6)
    # ~0.01° x 0.01° at 39.9°N: about 1113 m x 854 m.
    assert 0.9e6 < expected[0] < 1.0e6
    parks["area_m2"] = [5.0, np.nan, 7.0]  # given values are kept, gaps filled
    out = validate_layer(parks, "park")
    assert out["area_m2"].tolist()[::2] == [5.0, 7.0]
    assert out["area_m2"].iloc[1] == pytest.approx(expected[1], rel=1e-6)


def test_overlapping_control_units_are_named_with_area(frame):
    units = frame("control_unit", 3)  # three squares sharing edges: fine
    validate_layer(units, "control_unit")
    units.loc[2, "geometry"] = shapely.affinity.translate(square(0), xoff=STEP / 2)
    with pytest.raises(LayerValidationError) as err:
        validate_layer(units, "control_unit")
    text = str(err.value)
    m = re.search(r"(ZH\d+) × (ZH\d+) \(([\d,.]+) m²\)", text)
    assert m, text
    assert {m.group(1), m.group(2)} == {"ZH11010000", "ZH11010002"}
    inter = shapely.box(LON + STEP / 2, LAT, LON + STEP, LAT + STEP)
    assert float(m.group(3).replace(",", "")) == pytest.approx(geod_area(inter), rel=1e-3)
    # unit 2 also overlaps unit 1 (the other half of the shifted square)
    assert "ZH11010001 × ZH11010002" in text


def test_sub_tolerance_overlap_is_accepted(frame):
    units = frame("control_unit", 2)
    # 1e-6° x 1 step: about 0.09 m x 1110 m, ~95 m² of overlap
    units.loc[1, "geometry"] = shapely.affinity.translate(square(1), xoff=-1e-6)
    with pytest.raises(LayerValidationError, match="overlap"):
        validate_layer(units, "control_unit")
    validate_layer(units, "control_unit", overlap_tolerance_m2=200)
    units.loc[1, "geometry"] = shapely.affinity.translate(square(1), xoff=-1e-9)  # < 1 m²
    validate_layer(units, "control_unit")


def test_access_list_forms_and_errors(frame):
    units = frame("control_unit", 3)
    units["access_list"] = [
        {"空间布局约束": ["禁止新建"], "risk": [{"text": "应急预案"}]},
        [],
        json.dumps([{"dimension": "污染物排放管控", "text": "达标排放"}], ensure_ascii=False),
    ]
    out = validate_layer(units, "control_unit")
    first = json.loads(out["access_list"].iloc[0])
    pairs = [(e["dimension"], e["text"]) for e in first]
    assert pairs == [("layout", "禁止新建"), ("risk", "应急预案")]
    assert json.loads(out["access_list"].iloc[1]) == []
    assert json.loads(out["access_list"].iloc[2])[0]["dimension"] == "discharge"
    units["access_list"] = ["[{", json.dumps([{"dimension": "noise", "text": "x"}]), None]
    with pytest.raises(LayerValidationError) as err:
        validate_layer(units, "control_unit")
    text = str(err.value)
    assert "control_unit-t0: not valid JSON" in text
    assert "control_unit-t1: entry 1 has dimension 'noise'" in text
    assert "'access_list' is empty for control_unit-t2" in text


def test_emissions_records_are_checked(frame):
    src = frame("pollution_source", 2)
    src.loc[1, "emissions"] = json.dumps([{"month": "2023-13", "pollutant": "NOx", "tonnes": -1}])
    with pytest.raises(LayerValidationError) as err:
        validate_layer(src, "pollution_source")
    text = str(err.value)
    assert "pollution_source-t1: record 1: month '2023-13' is not YYYY-MM" in text
    assert "tonnes -1 is not a number ≥ 0" in text
    assert "pollution_source-t0" not in text


def test_pollution_sources_may_be_points_or_polygons(frame):
    src = frame("pollution_source", 2)
    src.loc[1, "geometry"] = square(1)
    out = validate_layer(src, "pollution_source")
    assert out.geom_type.tolist() == ["Point", "Polygon"]


def test_chinese_column_aliases(frame):
    units = frame("control_unit", 2).rename(
        columns={"name": "名称", "unit_code": "编码", "category": "类别", "feature_id": "ID"}
    )
    units["类别"] = ["优先保护", "一般管控单元"]
    out = validate_layer(units, "control_unit")
    assert out["name"].tolist() == ["control_unit 0", "control_unit 1"]
    assert out["unit_code"].tolist() == ["ZH11010000", "ZH11010001"]
    assert out["category"].tolist() == ["priority", "general"]
    assert out["feature_id"].tolist() == ["control_unit-t0", "control_unit-t1"]


def test_ambiguous_aliases_are_an_error(frame):
    units = frame("control_unit", 2).drop(columns="unit_code")
    units["编码"] = ["a", "b"]
    units["单元编码"] = ["c", "d"]
    with pytest.raises(LayerValidationError, match=r"several columns could stand for it"):
        validate_layer(units, "control_unit")


def test_numeric_codes_become_text(frame):
    bnd = frame("boundary", 2)
    bnd["adcode"] = [110101.0, 110102.0]
    bnd["level"] = ["区", "县"]
    out = validate_layer(bnd, "boundary")
    assert out["adcode"].tolist() == ["110101", "110102"]
    assert out["level"].tolist() == ["district", "district"]


def test_synthetic_flag(frame):
    wells = frame("well", 2)
    assert validate_layer(wells, "well", synthetic=True)["synthetic"].all()
    wells["synthetic"] = ["是", "否"]
    assert validate_layer(wells, "well")["synthetic"].tolist() == [True, False]
    wells["synthetic"] = ["maybe", True]
    with pytest.raises(LayerValidationError, match="'synthetic' is not true/false for well-t0"):
        validate_layer(wells, "well")


def test_fid_column_is_kept_as_source_fid_and_case_clash_reported(frame):
    wells = frame("well", 2)
    wells["FID"] = [7, 9]
    assert validate_layer(wells, "well")["source_fid"].tolist() == [7, 9]
    wells["Name"] = ["x", "y"]
    with pytest.raises(LayerValidationError, match="differ only in case"):
        validate_layer(wells, "well")


def test_not_a_geodataframe():
    with pytest.raises(LayerValidationError, match="should be a GeoDataFrame, got DataFrame"):
        validate_layer(pd.DataFrame({"a": [1]}), "well")


def test_empty_layer(frame):
    with pytest.raises(LayerValidationError, match="no features"):
        validate_layer(frame("well", 0), "well")
