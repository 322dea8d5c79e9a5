"""Key-area pollution-source ledger: hand-made zones and sources with known sums."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon

from geo.errors import InputFormatError, LayerValidationError, RowRejectedWarning
from tests.zoning.conftest import at, disc
from zoning.pack import PACKS_DIR as PACKS
from zoning.pack import load_pack
from zoning.tasks.ledger import key_area_ledger, ledger_zone_labels, write_ledger

ZONE_LABELS = ledger_zone_labels()

ST = (116.66, 39.91)  # the monitoring station


def here(e, n):
    return at(e, n, lon0=ST[0], lat0=ST[1])


def box_m(e0, n0, e1, n1):
    return Polygon([here(e0, n0), here(e1, n0), here(e1, n1), here(e0, n1)])


def em(*recs):
    return json.dumps([{"month": m, "pollutant": p, "tonnes": t} for m, p, t in recs])


@pytest.fixture(scope="module")
def zones():
    key_poly = disc(*ST, 750, n=72)
    key = gpd.GeoDataFrame(
        {"feature_id": ["KEY-1"], "name": ["重点区域"]}, geometry=[key_poly], crs=4326
    )
    strict = gpd.GeoDataFrame(
        {"feature_id": ["SZ-1", "SZ-2"], "name": ["严控区一", "严控区二"]},
        geometry=[box_m(-300, -200, 0, 100), box_m(100, -200, 300, 100)],
        crs=4326,
    )
    return key, strict


@pytest.fixture(scope="module")
def sources(zones):
    key, _ = zones
    vertex = shapely.get_coordinates(key.geometry.iloc[0])[0]  # a vertex of the key area edge
    # the vertex is the northernmost point of the disc: this triangle lies north of it
    touching = Polygon(
        [tuple(vertex), (vertex[0] + 0.01, vertex[1]), (vertex[0] + 0.01, vertex[1] + 0.005)]
    )
    rows = [
        ("S1", "工业企业1", "工业企业", Point(here(-150, 0)),
         em(("2025-01", "PM10", 1.0), ("2025-01", "NOx", 2.0), ("2025-02", "PM10", 1.5))),
        ("S2", "=cmd|' /C calc'!A0", "餐饮", Point(here(200, 0)),
         em(("2025-01", "VOCs", 0.5), ("2025-02", "VOCs", 0.25))),
        ("S3", "工业企业2", "工业企业", Point(here(0, 500)),
         em(("2025-01", "PM10", 0.1), ("2025-02", "NOx", 3.0))),
        ("S4", "区外企业", "工业企业", Point(here(2000, 0)), em(("2025-01", "PM10", 100.0))),
        # an area source across the edge of SZ-1 counts as strict
        ("S5", "工地", "施工工地", box_m(-350, 0, -250, 50), em(("2025-02", "PM10", 2.0))),
        # a point exactly on the key-area edge counts as inside
        ("S6", "+汽修", "汽修", Point(vertex), em()),
        # a polygon touching the key area only at one point stays outside
        ("S7", "@外部", "锅炉房", touching, em(("2025-01", "SO2", 50.0))),
    ]  # fmt: skip
    return gpd.GeoDataFrame(
        {
            "feature_id": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "source_type": [r[2] for r in rows],
            "emissions": [r[4] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs=4326,
    )


EXPECTED = {  # (zone, month) → pollutant → tonnes, summed by hand from the rows above
    ("strict", "2025-01"): {"NOx": 2.0, "PM10": 1.0, "VOCs": 0.5},
    ("strict", "2025-02"): {"NOx": 0.0, "PM10": 3.5, "VOCs": 0.25},
    ("key", "2025-01"): {"NOx": 0.0, "PM10": 0.1, "VOCs": 0.0},
    ("key", "2025-02"): {"NOx": 3.0, "PM10": 0.0, "VOCs": 0.0},
    ("all", "2025-01"): {"NOx": 2.0, "PM10": 1.1, "VOCs": 0.5},
    ("all", "2025-02"): {"NOx": 3.0, "PM10": 3.5, "VOCs": 0.25},
}


def test_sources_and_zones(sources, zones):
    r = key_area_ledger(sources, *zones)
    got = dict(zip(r.sources["feature_id"], r.sources["zone"], strict=True))
    assert got == {"S1": "strict", "S2": "strict", "S3": "key", "S5": "strict", "S6": "key"}
    z = r.sources.set_index("feature_id")
    assert z.loc["S1", "strict_zone_ids"] == "SZ-1"
    assert z.loc["S2", "strict_zone_ids"] == "SZ-2"
    assert z.loc["S3", "strict_zone_ids"] == ""
    assert z.loc["S1", "zone_zh"] == "严控区"
    assert z.loc["S3", "zone_zh"] == ZONE_LABELS["key"]
    # per-source totals over all months
    assert z.loc["S1", "tonnes_PM10"] == pytest.approx(2.5)
    assert z.loc["S6", "tonnes_PM10"] == 0.0
    assert r.sources.crs.to_epsg() == 4326
    assert "S4" not in r.records["feature_id"].to_numpy()
    assert r.issues == []


def test_totals_and_pivot(sources, zones):
    r = key_area_ledger(sources, *zones)
    assert r.months == ("2025-01", "2025-02")
    assert r.pollutants == ("NOx", "PM10", "VOCs")
    for (zone, month), values in EXPECTED.items():
        row = r.pivot.loc[(zone, month)]
        for pol, t in values.items():
            assert row[pol] == pytest.approx(t), (zone, month, pol)
    np.testing.assert_allclose(r.pivot_for("strict").to_numpy(), r.pivot.xs("strict").to_numpy())
    assert list(r.pivot_for("all").index) == ["2025-01", "2025-02"]
    # the long table agrees and counts reporting sources
    t = r.totals.set_index(["zone", "month", "pollutant"])
    assert t.loc[("strict", "2025-02", "PM10"), "tonnes"] == pytest.approx(3.5)
    assert t.loc[("strict", "2025-02", "PM10"), "sources"] == 2  # S1 and S5
    assert t.loc[("all", "2025-01", "PM10"), "sources"] == 2  # S1 and S3
    assert ("key", "2025-01", "NOx") not in t.index  # no zero rows in the long table
    assert set(r.totals["zone_zh"]) == set(ZONE_LABELS.values())
    # strict + key = all, cell by cell
    np.testing.assert_allclose(
        r.pivot_for("strict").to_numpy() + r.pivot_for("key").to_numpy(),
        r.pivot_for("all").to_numpy(),
    )
    s = r.summary()
    assert s["sources"] == 5 and s["sources_strict"] == 3 and s["sources_key"] == 2
    assert s["tonnes_by_pollutant"]["PM10"] == pytest.approx(4.6)


def test_counts_by_type(sources, zones):
    bt = key_area_ledger(sources, *zones).by_type.set_index("source_type")
    assert bt.loc["工业企业"].tolist() == [1, 1, 2]
    assert bt.loc["餐饮"].tolist() == [1, 0, 1]
    assert bt.loc["施工工地"].tolist() == [1, 0, 1]
    assert bt.loc["汽修"].tolist() == [0, 1, 1]
    assert bt.loc["合计"].tolist() == [3, 2, 5]
    assert "锅炉房" not in bt.index


def test_month_filter(sources, zones):
    r = key_area_ledger(sources, *zones, month="2025-02")
    assert r.months == ("2025-02",)
    assert r.pivot.index.get_level_values("month").unique().tolist() == ["2025-02"]
    assert r.pivot.loc[("strict", "2025-02"), "PM10"] == pytest.approx(3.5)
    assert set(r.records["month"]) == {"2025-02"}
    assert r.sources.set_index("feature_id").loc["S1", "tonnes_PM10"] == pytest.approx(1.5)
    with pytest.raises(InputFormatError, match="2030-01"):
        key_area_ledger(sources, *zones, month="2030-01")
    with pytest.raises(InputFormatError, match="YYYY-MM"):
        key_area_ledger(sources, *zones, month="2025-13")


def test_bad_emissions_reported_and_kept(sources, zones):
    bad = pd.concat(
        [
            sources,
            gpd.GeoDataFrame(
                {"feature_id": ["S8"], "name": ["坏记录"], "source_type": ["锅炉房"],
                 "emissions": ['[{"month": "2025-1", "pollutant": "NOx", "tonnes": 1}]']},
                geometry=[Point(here(0, -400))], crs=4326,
            ),
        ],
        ignore_index=True,
    )  # fmt: skip
    with pytest.warns(RowRejectedWarning, match="S8.*YYYY-MM"):
        r = key_area_ledger(bad, *zones)
    assert "S8" in set(r.sources["feature_id"])
    assert r.issues == [{"feature_id": "S8", "problem": r.issues[0]["problem"]}]
    assert r.pivot.loc[("key", "2025-01"), "NOx"] == 0.0  # the bad record is not counted


def test_input_errors(sources, zones):
    key, strict = zones
    with pytest.raises(LayerValidationError, match="emissions"):
        key_area_ledger(sources.drop(columns="emissions"), key, strict)
    with pytest.raises(InputFormatError, match="no CRS"):
        key_area_ledger(sources.set_crs(None, allow_override=True), key, strict)
    # another CRS is reprojected, with the same result
    r = key_area_ledger(sources.to_crs(4548), key.to_crs(4548), strict)
    assert sorted(r.sources["feature_id"]) == ["S1", "S2", "S3", "S5", "S6"]
    before = sources.copy()
    key_area_ledger(sources, key, strict)
    pd.testing.assert_frame_equal(pd.DataFrame(sources), pd.DataFrame(before))


def test_write_xlsx_and_csv(sources, zones, tmp_path):
    from openpyxl import load_workbook

    r = key_area_ledger(sources, *zones)
    (xlsx,) = write_ledger(r, tmp_path / "ledger.xlsx")
    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["sources", "totals", "pivot", "by_type"]
    ws = wb["sources"]
    header = [c.value for c in ws[1]]
    names = [
        ws.cell(row=i, column=header.index("name") + 1).value for i in range(2, ws.max_row + 1)
    ]
    assert "'=cmd|' /C calc'!A0" in names and "'+汽修" in names
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    pivot = pd.read_excel(xlsx, sheet_name="pivot")
    row = pivot[(pivot["zone"] == "all") & (pivot["month"] == "2025-02")].iloc[0]
    assert row["PM10"] == pytest.approx(3.5)
    totals = pd.read_excel(xlsx, sheet_name="totals")
    assert totals["tonnes"].sum() == pytest.approx(2 * (1.1 + 2.0 + 0.5 + 3.5 + 3.0 + 0.25))

    written = write_ledger(r, tmp_path / "ledger.csv")
    assert [p.name for p in written] == [
        "ledger.csv", "ledger.totals.csv", "ledger.pivot.csv", "ledger.by_type.csv"
    ]  # fmt: skip
    src = pd.read_csv(written[0], encoding="utf-8-sig")
    assert len(src) == 5 and "'=cmd|' /C calc'!A0" in set(src["name"])
    with pytest.raises(InputFormatError, match=r"\.xlsx or \.csv"):
        write_ledger(r, tmp_path / "ledger.docx")


def test_pivot_for_unknown_zone(sources, zones):
    r = key_area_ledger(sources, *zones)
    with pytest.raises(InputFormatError, match="strict, key, all"):
        r.pivot_for("严控区")


def test_pack_declares_citation_and_zone_labels(sources, zones):
    """The ledger's citation and zone labels are pack data ([ledger] in the TOML)."""
    pack = load_pack("tongzhou")
    r = key_area_ledger(sources, *zones, pack=pack)
    assert r.citation == pack.ledger.citation
    assert "002_735b581d06638fbb.txt" in r.citation
    assert r.zone_labels == pack.ledger.zone_labels
    assert set(r.totals["zone_zh"]) == set(pack.ledger.zone_labels.values())
    # a pack without [ledger]: no citation, generic labels from the kind registry
    plain = key_area_ledger(sources, *zones, pack=load_pack("beijing"))
    assert plain.citation is None and plain.summary()["citation"] is None
    assert plain.zone_labels == ledger_zone_labels()
    # a pack's own labels reach every table
    custom = pack.model_copy(
        update={
            "ledger": pack.ledger.model_copy(
                update={"zone_labels": {"strict": "A区", "key": "B区", "all": "合计区"}}
            )
        }
    )
    c = key_area_ledger(sources, *zones, pack=custom)
    assert set(c.sources["zone_zh"]) == {"A区", "B区"}
    assert set(c.totals["zone_zh"]) == {"A区", "B区", "合计区"}


def test_pack_ledger_needs_three_zone_labels(tmp_path):
    from geo.errors import PackError

    body = (PACKS / "tongzhou.toml").read_text(encoding="utf-8")
    bad = body.replace('all = "重点区域合计"\n', "")
    assert bad != body
    (tmp_path / "beijing.toml").write_text(
        (PACKS / "beijing.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "national.toml").write_text(
        (PACKS / "national.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "tongzhou.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(PackError, match=r"zone_labels.*missing \['all'\]"):
        load_pack(tmp_path / "tongzhou.toml")
