"""Human-activity clues in the red line: hand-made red lines, districts and clues."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point

from geo.errors import InputFormatError, MissingLayerError, RowRejectedWarning
from tests.zoning.conftest import at, geodesic_area, rect
from zoning.tasks.clues import CLUE_SUMMARY_ZH, redline_clues


@pytest.fixture(scope="module")
def redline():
    # RL-1 and RL-2 overlap on the band 500–1000 m east; RL-3 stands apart
    return gpd.GeoDataFrame(
        {"feature_id": ["RL-1", "RL-2", "RL-3"], "name": ["红线一", "红线二", "红线三"]},
        geometry=[rect(0, 0, 1000, 1000), rect(500, 0, 1500, 1000), rect(3000, 0, 4000, 1000)],
        crs=4326,
    )


@pytest.fixture(scope="module")
def districts():
    return gpd.GeoDataFrame(
        {
            "feature_id": ["b-110000", "b-110101", "b-110102"],
            "name": ["北京市", "甲区", "乙区"],
            "adcode": ["110000", "110101", "110102"],
            "level": ["municipality", "district", "district"],
        },
        geometry=[
            rect(-5000, -5000, 8000, 5000),
            rect(-5000, -5000, 2000, 5000),
            rect(2000, -5000, 8000, 5000),
        ],
        crs=4326,
    )


@pytest.fixture(scope="module")
def clues():
    geoms = {
        "C1": Point(at(200, 200)),  # in RL-1
        "C2": Point(at(700, 500)),  # in RL-1 and RL-2
        "C3": Point(at(2500, 500)),  # outside, district 乙
        "C4": rect(100, 100, 300, 300),  # wholly in RL-1
        "C5": rect(-100, 100, 100, 300),  # half in RL-1
        "C6": rect(900, 100, 1100, 300),  # across RL-1 ∩ RL-2: counted once
        "C7": rect(1400, 100, 1600, 300),  # half in RL-2
        "C8": rect(1900, 100, 2300, 300),  # outside; 1/4 in 甲, 3/4 in 乙
        "C9": rect(2800, 100, 3000, 300),  # shares an edge with RL-3 only
        "C10": LineString([at(3200, -500), at(3200, 500)]),  # runs into RL-3
        "C11": None,  # no geometry
        "C12": Point(at(20000, 0)),  # outside every district
    }
    return gpd.GeoDataFrame(
        {"clue_id": list(geoms), "来源": ["遥感"] * len(geoms)},
        geometry=list(geoms.values()),
        crs=4326,
    )


def screen(clues, redline, districts=None):
    with pytest.warns(RowRejectedWarning, match="C11"):
        return redline_clues(clues, redline, districts)


def test_membership_and_ids(clues, redline, districts):
    out, _ = screen(clues, redline, districts)
    r = out.set_index("clue_id")
    expected_in = {"C1", "C2", "C4", "C5", "C6", "C7", "C10"}
    for cid in r.index:
        if cid == "C11":
            assert pd.isna(r.loc[cid, "in_redline"])
            assert r.loc[cid, "clue_type"] == "invalid" and r.loc[cid, "issue"]
        else:
            assert bool(r.loc[cid, "in_redline"]) == (cid in expected_in), cid
    assert r.loc["C2", "redline_ids"] == "RL-1;RL-2" and r.loc["C2", "n_redlines"] == 2
    assert r.loc["C6", "redline_ids"] == "RL-1;RL-2"
    assert r.loc["C1", "redline_ids"] == "RL-1"
    assert r.loc["C10", "redline_ids"] == "RL-3"
    assert r.loc["C9", "redline_ids"] == "" and r.loc["C9", "n_redlines"] == 0
    assert r.loc["C1", "clue_type"] == "point" and r.loc["C4", "clue_type"] == "patch"
    assert r.loc["C10", "clue_type"] == "line"
    assert out["来源"].tolist() == ["遥感"] * 12  # input columns kept
    assert out.crs.to_epsg() == 4326


def test_areas_no_double_counting(clues, redline, districts):
    out, _ = screen(clues, redline, districts)
    r = out.set_index("clue_id")
    patch = {c: geodesic_area(g) for c, g in zip(clues["clue_id"], clues.geometry, strict=True)
             if g is not None and g.geom_type == "Polygon"}  # fmt: skip
    inside = {
        "C4": patch["C4"],
        "C5": geodesic_area(rect(0, 100, 100, 300)),
        "C6": patch["C6"],  # not RL-1 part + RL-2 part (which would be 1.5×)
        "C7": geodesic_area(rect(1400, 100, 1500, 300)),
        "C8": 0.0,
        "C9": 0.0,
    }
    for cid, area in inside.items():
        assert r.loc[cid, "clue_area_m2"] == pytest.approx(patch[cid], rel=1e-4)
        assert r.loc[cid, "area_in_redline_m2"] == pytest.approx(area, rel=1e-4, abs=1e-6)
        assert r.loc[cid, "share_in_redline_pct"] == pytest.approx(
            100 * area / patch[cid], rel=1e-4, abs=1e-6
        )
    assert r.loc["C5", "share_in_redline_pct"] == pytest.approx(50.0, rel=1e-3)
    assert r.loc["C6", "share_in_redline_pct"] == pytest.approx(100.0, rel=1e-6)
    for cid in ("C1", "C2", "C10"):
        assert r.loc[cid, "area_in_redline_m2"] == 0.0
        assert np.isnan(r.loc[cid, "share_in_redline_pct"])


def test_districts_and_summary(clues, redline, districts):
    out, summary = screen(clues, redline, districts)
    r = out.set_index("clue_id")
    assert r.loc["C1", "district_name"] == "甲区" and r.loc["C1", "district_adcode"] == "110101"
    assert r.loc["C8", "district_name"] == "乙区"  # most of the patch
    assert r.loc["C10", "district_adcode"] == "110102"
    assert pd.isna(r.loc["C12", "district_adcode"])
    s = summary.set_index("district_name")
    assert list(summary.columns) == list(CLUE_SUMMARY_ZH)
    assert "北京市" not in s.index  # municipality rows are not districts
    assert s.loc["甲区", ["clues", "clues_in_redline"]].tolist() == [6, 6]
    assert s.loc["乙区", ["clues", "clues_in_redline"]].tolist() == [4, 1]
    outside = summary[summary["district_adcode"] == ""].iloc[0]
    assert outside["clues"] == 2 and outside["clues_in_redline"] == 0
    total = summary.iloc[-1]
    assert total["district_name"] == "合计"
    assert total["clues"] == 12 and total["clues_in_redline"] == 7
    area_a = (
        geodesic_area(rect(100, 100, 300, 300))
        + geodesic_area(rect(0, 100, 100, 300))
        + geodesic_area(rect(900, 100, 1100, 300))
        + geodesic_area(rect(1400, 100, 1500, 300))
    )
    assert s.loc["甲区", "area_in_redline_km2"] == pytest.approx(area_a / 1e6, rel=1e-4)
    assert total["area_in_redline_km2"] == pytest.approx(area_a / 1e6, rel=1e-4)


def test_without_districts(clues, redline):
    out, summary = screen(clues, redline)
    assert out["district_adcode"].isna().all()
    assert summary["district_name"].tolist() == ["全部线索 all clues", "合计"]
    assert summary["clues"].tolist() == [12, 12]
    assert summary["clues_in_redline"].tolist() == [7, 7]


def test_other_crs_and_no_mutation(clues, redline, districts):
    before = clues.copy()
    a, _ = screen(clues, redline, districts)
    b, _ = screen(clues.to_crs(4548), redline.to_crs(4548), districts)
    pd.testing.assert_frame_equal(pd.DataFrame(clues), pd.DataFrame(before))
    assert a["in_redline"].tolist() == b["in_redline"].tolist()
    np.testing.assert_allclose(a["area_in_redline_m2"], b["area_in_redline_m2"], rtol=1e-6)


def test_ids_fallback_and_errors(redline):
    pts = gpd.GeoDataFrame(geometry=[Point(at(200, 200)), Point(at(-200, -200))], crs=4326)
    out, _ = redline_clues(pts, redline)
    assert out["clue_id"].tolist() == ["1", "2"]
    assert out["in_redline"].tolist() == [True, False]
    with pytest.raises(InputFormatError, match="no CRS"):
        redline_clues(pts.set_crs(None, allow_override=True), redline)
    with pytest.raises(InputFormatError, match="id_column"):
        redline_clues(pts, redline, id_column="编号x")
    with pytest.raises(MissingLayerError, match="redline"):
        redline_clues(pts, None)


def test_many_clues_vectorised(redline):
    # 3 000 random points: membership equals an independent covers() test
    rng = np.random.default_rng(7)
    e = rng.uniform(-500, 4500, 3000)
    n = rng.uniform(-500, 1500, 3000)
    pts = [Point(at(x, y)) for x, y in zip(e, n, strict=True)]
    gdf = gpd.GeoDataFrame(geometry=pts, crs=4326)
    out, summary = redline_clues(gdf, redline)
    union = shapely.union_all(redline.geometry.to_numpy())
    expected = shapely.covers(union, gdf.geometry.to_numpy())
    assert out["in_redline"].to_numpy(dtype=bool).tolist() == expected.tolist()
    assert summary.iloc[-1]["clues_in_redline"] == expected.sum()


def test_invalid_patch_repaired(redline):
    from geo.errors import GeometryRepairedWarning

    bowtie = shapely.Polygon([at(100, 100), at(300, 300), at(300, 100), at(100, 300)])
    gdf = gpd.GeoDataFrame({"clue_id": ["BT"]}, geometry=[bowtie], crs=4326)
    with pytest.warns(GeometryRepairedWarning, match="BT"):
        out, _ = redline_clues(gdf, redline)
    half = geodesic_area(rect(100, 100, 300, 300)) / 2  # two triangles of the square
    assert out["clue_area_m2"].iloc[0] == pytest.approx(half, rel=1e-3)
    assert out["share_in_redline_pct"].iloc[0] == pytest.approx(100.0)
