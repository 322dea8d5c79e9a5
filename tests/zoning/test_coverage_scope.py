"""Targets at their own scope (#11 §5) and the wide coverage tables (#12 §2).

Each wrong figure of the issue is reproduced on the embedded demo store and the fix
asserted: districts are contributions, never judged against a municipal target;
力争 aspirations read 未达到力争目标; districts without data read 无数据 and the
municipal figure built from them is partial; per-person metrics divide the parks and
the residents of the same districts; every pack's ``coverage`` runs.
Expected values come from independent sources: the plan text on the cited line, the
population table and pyproj.Geod areas of the parks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from ecozone.cli.main import cli
from geo.errors import InputFormatError, PackError
from geo.measure import geodesic_area
from layers import open_store
from zoning.coverage.measure import measure_targets, park_area_per_person
from zoning.coverage.population import load_population
from zoning.coverage.tables import TABLE_COLUMNS, coverage_table, write_coverage_table
from zoning.pack import list_packs, load_pack

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "ecozone_demo.gpkg"
needs_demo = pytest.mark.skipif(not DEMO.is_file(), reason="demo store not built")


def _seeds() -> Path | None:
    env = os.environ.get("ECOZONE_SEEDS")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "seeds"]:
        if cand.is_dir():
            return cand
    return None


SEEDS = _seeds()


@pytest.fixture(scope="module")
def demo_layers():
    with open_store(None) as st:
        kinds = sorted(set(st.list_layers()["kind"].astype(str)))
        return {k: st.get_kind(k) for k in kinds}


@pytest.fixture(scope="module")
def beijing(demo_layers):
    pack = load_pack("beijing")
    return pack, {r.target_id: r for r in measure_targets(pack, demo_layers)}


# --------------------------------------------------------------------------- the plan's wording


@pytest.mark.skipif(SEEDS is None, reason="seed plans not present")
@pytest.mark.parametrize("name", ["beijing", "tongzhou"])
def test_binding_follows_the_plan_wording_on_the_cited_line(name):
    pack = load_pack(name)
    for t in pack.targets:
        files = list(SEEDS.glob(t.citation.source))
        assert files, t.citation.source
        lines = files[0].read_text(encoding="utf-8").splitlines()
        text = "".join(lines[n - 1] for n in t.citation.lines())
        value = f"{t.value:g}"
        # the sentence (between stops) that states this target's value
        sentences = [s for s in re.split(r"[。；;]", text) if value in s]
        assert sentences, (t.id, value)
        aspiration = any(w in s for s in sentences for w in ("力爭", "力争"))
        assert t.binding is (not aspiration), t.id
    if name == "beijing":
        assert pack.target("eco_control.share").binding is False  # 001 l.362 力爭 75 %
        assert pack.target("redline.share").binding is True


def test_a_binding_target_quoting_lizheng_is_refused(tmp_path):
    text = (REPO / "zoning" / "packs" / "beijing.toml").read_text(encoding="utf-8")
    bad = text.replace('scope = "municipality"\nbinding = false', 'scope = "municipality"', 1)
    assert bad != text
    path = tmp_path / "beijing.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(PackError, match=r"eco_control\.share.*力争.*binding = false"):
        load_pack(path)


def test_unknown_scope_is_refused(tmp_path):
    text = (REPO / "zoning" / "packs" / "beijing.toml").read_text(encoding="utf-8")
    path = tmp_path / "beijing.toml"
    path.write_text(text.replace('scope = "plains"', 'scope = "plain"'), encoding="utf-8")
    with pytest.raises(PackError, match=r"forest\.plains.*unknown scope 'plain'"):
        load_pack(path)


def test_no_adcode_in_the_coverage_code():
    for path in sorted((REPO / "zoning" / "coverage").glob("*.py")):
        code = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ">>>" not in ln]
        assert not re.search(r"[\"']\d{6}[\"']", "\n".join(code)), path.name  # doctests may


# --------------------------------------------------------------------------- the wrong figures


@needs_demo
def test_districts_are_contributions_not_judged_against_the_municipal_share(beijing):
    pack, res = beijing
    red = res["redline.share"]
    assert red.scope_name == "北京市市域" and red.status in ("met", "unmet")
    t = red.by_district.set_index("name")
    # was: 东城区 "✗ 24.59 pp" against Beijing's 26.1 %
    assert t.loc["东城区", "status"] == "contribution"
    assert "met" not in t.columns and "gap_pp" not in t.columns
    table = coverage_table([red], pack=pack)
    row = table[table["范围"] == "东城区（分区贡献）"].iloc[0]
    assert row["是否达标"] == "贡献（不单独考核）" and row["目标"] == "—" and row["差距"] == "—"
    assert not table.iloc[1:]["是否达标"].str.contains("未达标").any()
    # the contributions add up to the municipal red line (same area, km²)
    assert t["measured_km2"].sum() == pytest.approx(red.details["measured_km2"], rel=1e-3)


@needs_demo
def test_an_aspiration_reads_not_reached_not_unmet(beijing):
    pack, res = beijing
    eco = res["eco_control.share"]
    assert eco.binding is False and eco.nature_zh == "力争（预期性）"
    assert eco.value < 75.0 and eco.status == "unmet"
    assert eco.status_zh == "未达到力争目标"
    row = coverage_table([eco], pack=pack).iloc[0]
    assert row["是否达标"] == "✗ 未达到力争目标" and row["目标性质"] == "力争（预期性）"
    assert coverage_table([res["redline.share"]], pack=pack).iloc[0]["目标性质"] == "约束性"


@needs_demo
def test_districts_without_residential_data_are_no_data_and_the_total_partial(beijing, demo_layers):
    pack, res = beijing
    cov = res["park.service_coverage"]
    res_gdf = demo_layers["residential"].gdf
    boundary = demo_layers["boundary"].gdf
    districts = boundary[
        (boundary["level"] == "district") & boundary["adcode"].str.startswith("11")
    ]
    has = districts.geometry.intersects(shapely.union_all(res_gdf.geometry.to_numpy()))
    with_data = set(districts.loc[has, "name"])
    t = cov.by_district.set_index("name")
    assert set(t.index[t["status"] == "no_data"]) == set(districts["name"]) - with_data
    assert set(cov.covered_districts) == with_data and 0 < len(with_data) < 16
    # was: "—" yet ✗未达标; now the total is not judged and names its districts
    assert cov.status == "partial" and cov.met is None and cov.gap_pp is None
    # the notes name the districts the total comes from and those without data (in
    # whichever order the extent note and the partial-value note come)
    notes = [n["text"] for n in cov.notes if n["kind"] == "missing_data"]
    assert any(all(name in n for name in with_data) for n in notes), notes
    assert any(all(name in n for name in set(districts["name"]) - with_data) for n in notes)
    table = coverage_table([cov], pack=pack)
    assert table.iloc[0]["是否达标"] == "部分数据，未判定"
    no_data = table[table["是否达标"] == "无数据"]
    assert len(no_data) == 16 - len(with_data) and (no_data["现状值"] == "无数据").all()
    # judged only when asked for
    judged = measure_targets(pack, demo_layers, by="district", judge_partial=True)
    cov2 = next(r for r in judged if r.target_id == "park.service_coverage")
    assert cov2.status in ("met", "unmet") and cov2.value == pytest.approx(cov.value)
    assert any("部分数据判定" in n["text"] for n in cov2.notes)


@needs_demo
def test_park_area_per_person_divides_parks_and_residents_of_the_same_area(beijing, demo_layers):
    pack, res = beijing
    pp = res["park.area_per_person"]
    parks = demo_layers["park"].gdf
    boundary = demo_layers["boundary"].gdf
    city = boundary.loc[boundary["adcode"] == pack.jurisdiction.adcode].geometry.iloc[0]
    park_m2 = geodesic_area(
        [shapely.intersection(shapely.union_all(parks.geometry.to_numpy()), city)], "EPSG:4326"
    )[0]
    table = load_population()
    pop = table.set_index("adcode").loc[pack.jurisdiction.adcode, "population"]
    assert pop == 21_893_095  # 2020 census, Beijing
    assert pp.value == pytest.approx(park_m2 / pop, rel=1e-3)
    assert pp.status in ("met", "unmet") and len(pp.covered_districts) == 16
    assert any("2020" in n["text"] and "普查" in n["text"] for n in pp.notes)
    t = pp.by_district.set_index("adcode")
    assert t.loc["110101", "value"] == pytest.approx(
        t.loc["110101", "park_m2"] / table.set_index("adcode").loc["110101", "population"]
    )


def _two_districts():
    west = shapely.box(116.0, 40.0, 116.1, 40.1)
    east = shapely.box(116.1, 40.0, 116.2, 40.1)
    d = gpd.GeoDataFrame(
        {"adcode": ["990101", "990102"], "name": ["西区", "东区"], "level": "district"},
        geometry=[west, east],
        crs=4326,
    )
    parks = gpd.GeoDataFrame(
        geometry=[
            shapely.box(116.02, 40.02, 116.04, 40.04),
            shapely.box(116.12, 40.02, 116.16, 40.06),
        ],
        crs=4326,
    )
    return d, parks


def test_per_person_with_partial_population_uses_only_the_covered_districts():
    d, parks = _two_districts()
    table = pd.DataFrame(
        {"adcode": ["990101"], "name": ["西区"], "population": [1000.0], "year": [2020],
         "source": ["test"], "kind": ["demo"]}
    )  # fmt: skip
    out = park_area_per_person(
        parks, population=table, area_of=d, districts=d, area_codes=["990100"]
    )
    west_m2 = geodesic_area([parks.geometry.iloc[0]], "EPSG:4326")[0]
    # was: the parks of both districts over the population of one
    assert out.value == pytest.approx(west_m2 / 1000.0, rel=1e-4)
    assert out.status == "partial" and out.covered_districts == ("西区",)
    by = out.by_district.set_index("name")
    assert by.loc["东区", "status"] == "no_data" and np.isnan(by.loc["东区", "value"])


@needs_demo
def test_district_packs_measure_contributions_and_own_targets(demo_layers):
    tz = {r.target_id: r for r in measure_targets(load_pack("tongzhou"), demo_layers)}
    red = tz["redline.share"]
    assert red.status == "contribution" and red.met is None
    assert red.scope_name == "北京市通州区（对北京市市域目标的贡献）"
    sponge = tz["sponge.share"]  # Tongzhou's own 力争 45 % (002 l.592)
    assert sponge.status in ("met", "unmet") and sponge.binding is False
    assert sponge.scope_name == "通州区建成区"
    dx = {r.target_id: r for r in measure_targets(load_pack("daxing"), demo_layers)}
    # was: exit 1 "population must be positive… (got 0.0)"
    pp = dx["park.area_per_person"]
    assert pp.status == "contribution" and pp.value > 0
    assert pp.details["population"] == 1_993_591
    assert dx["park.service_coverage"].status == "no_data"
    assert "--kind residential" in dx["park.service_coverage"].reason


@needs_demo
@pytest.mark.parametrize("name", list_packs())
def test_every_pack_coverage_runs(name, tmp_path):
    out = tmp_path / "t.csv"
    res = CliRunner().invoke(cli, ["coverage", "--pack", name, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "population must be positive" not in res.output
    if load_pack(name).targets:
        text = out.read_text(encoding="utf-8-sig")
        assert text.startswith(",".join(TABLE_COLUMNS))


# --------------------------------------------------------------------------- tables


@needs_demo
def test_xlsx_and_docx_tables(beijing, tmp_path):
    import docx
    import openpyxl
    from docx.oxml.ns import qn

    pack, res = beijing
    results = list(res.values())
    xlsx = write_coverage_table(results, tmp_path / "t.xlsx", pack=pack)
    ws = openpyxl.load_workbook(xlsx).active
    head = [c.value for c in ws[1]]
    assert head[:8] == ["指标", "范围", "现状值", "目标", "目标性质", "是否达标", "差距", "依据"]
    col = head.index("现状值") + 1
    values = [ws.cell(row=i, column=col).value for i in range(2, ws.max_row + 1)]
    numbers = [v for v in values if isinstance(v, int | float)]
    assert numbers and all(round(v, 2) == v for v in numbers)  # 2 decimals
    assert "无数据" in values
    cites = [ws.cell(row=i, column=8).value for i in range(2, ws.max_row + 1)]
    assert all(c.startswith("《") for c in cites)  # 《title》, not a file hash

    path = write_coverage_table(results, tmp_path / "t.docx", pack=pack)
    doc = docx.Document(str(path))
    sec = doc.sections[0]
    assert {round(sec.page_width.mm), round(sec.page_height.mm)} == {210, 297}  # A4
    assert round(sec.page_width.mm) == 297  # landscape for the wide table
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells][:8] == list(TABLE_COLUMNS[:8])
    assert len(table.rows) == len(coverage_table(results, pack=pack)) + 1
    fonts = doc.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "SimSun"
    body = "\n".join(c.text for row in table.rows for c in row.cells)
    assert "贡献（不单独考核）" in body and "力争（预期性）" in body
    assert not re.search(r"\d+\.\d{3,}", body)  # no 16-decimal numbers


def test_unknown_table_suffix(tmp_path):
    with pytest.raises(InputFormatError, match=r"\.csv, \.xlsx, \.docx"):
        write_coverage_table([], tmp_path / "t.ods")


def test_population_table_errors_name_the_row(tmp_path):
    bad = tmp_path / "pop.csv"
    bad.write_text(
        "adcode,name,population,year,source\n110101,东城区,-5,2020,x\n11010,西城区,10,2020,x\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFormatError, match=r"row 2: population .* not a positive.*row 3"):
        load_population(bad)
    missing = tmp_path / "short.csv"
    missing.write_text("adcode,population\n110101,5\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"lacks column\(s\) \['name', 'year', 'source'\]"):
        load_population(missing)


@needs_demo
def test_partial_is_found_without_a_breakdown(beijing, demo_layers):
    _, res = beijing
    quick = {r.target_id: r for r in measure_targets(load_pack("beijing"), demo_layers, by=None)}
    cov = quick["park.service_coverage"]
    assert cov.by_district.empty
    assert cov.status == "partial" and cov.met is None
    assert cov.covered_districts == res["park.service_coverage"].covered_districts


def test_per_person_from_a_residential_column_uses_the_districts_with_residents():
    d, parks = _two_districts()
    res = gpd.GeoDataFrame(
        {"population": [500.0]}, geometry=[shapely.box(116.05, 40.05, 116.07, 40.07)], crs=4326
    )
    out = park_area_per_person(
        parks, population="population", residential=res, area_of=d, districts=d
    )
    west_m2 = geodesic_area([parks.geometry.iloc[0]], "EPSG:4326")[0]
    assert out.value == pytest.approx(west_m2 / 500.0, rel=1e-4)
    assert out.status == "partial" and out.covered_districts == ("西区",)
    # a number is the population of the whole area: parks of the whole area, judged
    target = next(t for t in load_pack("beijing").targets if t.metric == "park_area_per_person")
    whole = park_area_per_person(parks, population=10_000, area_of=d, districts=d, target=target)
    all_m2 = geodesic_area(list(parks.geometry), "EPSG:4326").sum()
    assert whole.value == pytest.approx(all_m2 / 10_000, rel=1e-4)
    assert whole.status in ("met", "unmet")


@needs_demo
def test_cli_judge_partial_and_docx(tmp_path):
    import docx
    import openpyxl

    out = tmp_path / "t.xlsx"
    args = ["coverage", "--pack", "beijing", "--by", "none", "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--judge-partial"])
    assert res.exit_code == 0, res.output
    ws = openpyxl.load_workbook(out).active
    head = [c.value for c in ws[1]]
    rows = [dict(zip(head, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]
    park = next(r for r in rows if "500米服务半径" in r["指标"])
    assert park["是否达标"] in ("✗ 未达标", "✓ 达标") and "按部分数据判定" in park["说明"]
    res = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "t.docx")])
    assert res.exit_code == 0, res.output
    text = "\n".join(
        c.text for c in docx.Document(str(tmp_path / "t.docx")).tables[0].columns[5].cells
    )
    assert "部分数据，未判定" in text and "未达到力争目标" in text


def test_an_inherited_jurisdiction_target_keeps_the_parents_area(tmp_path):
    target = """
[[targets]]
id = "redline.share"
metric = "redline_share"
value = 20.0
unit = "%"
label = "红线占比"
label_en = "Red line share"
[targets.citation]
source = "城市园林绿化评价标准"
law = "GB/T 50563-2010"
article = "x"
"""
    head = 'name = "{n}"\nversion = "1"\ntitle = "t"\ntitle_en = "t"\n'
    parent = head.format(n="parent") + (
        '[jurisdiction]\nname = "甲市"\nname_en = "A"\nadcodes = ["990000"]\n' + target
    )
    child = head.format(n="child") + (
        'inherits = "parent"\n[jurisdiction]\nname = "乙区"\nname_en = "B"\nadcodes = ["990101"]\n'
    )
    (tmp_path / "parent.toml").write_text(parent, encoding="utf-8")
    (tmp_path / "child.toml").write_text(child, encoding="utf-8")
    pack = load_pack(tmp_path / "child.toml")
    t = pack.target("redline.share")
    assert t.scope == "parent_jurisdiction"
    assert pack.scope(t.scope).adcodes == ["990000"] and pack.scope(t.scope).name == "甲市"
    # measured with the child pack: the child's contribution, not a judgement
    a = shapely.box(116.0, 40.0, 116.2, 40.1)
    b = shapely.box(116.0, 40.0, 116.1, 40.1)
    boundary = gpd.GeoDataFrame(
        {
            "adcode": ["990000", "990101"],
            "name": ["甲市", "乙区"],
            "level": ["municipality", "district"],
        },
        geometry=[a, b],
        crs=4326,
    )
    red = gpd.GeoDataFrame(geometry=[shapely.box(116.0, 40.0, 116.05, 40.1)], crs=4326)
    (res,) = measure_targets(pack, {"boundary": boundary, "redline": red})
    assert res.status == "contribution" and res.met is None
    assert res.value == pytest.approx(50.0, abs=0.01) and res.scope_name.startswith("乙区")
    (own,) = measure_targets(
        load_pack(tmp_path / "parent.toml"), {"boundary": boundary, "redline": red}
    )
    assert own.status == "met" and own.value == pytest.approx(25.0, abs=0.01)


def test_districts_outside_a_layer_extent_have_no_data(tmp_path):
    from types import SimpleNamespace

    test_an_inherited_jurisdiction_target_keeps_the_parents_area(tmp_path)  # writes packs
    parent = load_pack(tmp_path / "parent.toml")
    west, east = shapely.box(116.0, 40.0, 116.1, 40.1), shapely.box(116.1, 40.0, 116.2, 40.1)
    boundary = gpd.GeoDataFrame(
        {
            "adcode": ["990000", "990101", "990102"],
            "name": ["甲市", "西区", "东区"],
            "level": ["municipality", "district", "district"],
            "parent_adcode": ["", "990000", "990000"],
        },
        geometry=[shapely.union_all([west, east]), west, east],
        crs=4326,
    )
    red = gpd.GeoDataFrame(geometry=[shapely.box(116.0, 40.0, 116.05, 40.1)], crs=4326)
    # the red-line layer is authoritative for the west district only
    layer = SimpleNamespace(gdf=red, extent={"adcodes": ["990101"]}, name="red", version=1)
    (res,) = measure_targets(parent, {"boundary": boundary, "redline": layer})
    t = res.by_district.set_index("name")
    assert t.loc["东区", "status"] == "no_data" and t.loc["西区", "status"] == "contribution"
    # numerator and denominator over the west district only: 50 %, not 25 %
    assert res.value == pytest.approx(50.0, abs=0.01)
    assert res.status == "partial" and res.covered_districts == ("西区",)
    assert any("extent" in n["text"] for n in res.notes)
