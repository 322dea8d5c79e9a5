"""Access lists (准入清单): structured entries, judgement per entry, import, catalogue (#11 §2)."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point

from ecozone.cli.main import cli
from geo.errors import InputFormatError, LayerValidationError
from layers import open_store
from tests.zoning.conftest import LONLAT, at, rect
from zoning.access_list import (
    AccessEntry,
    EntryConditions,
    entry_from_mapping,
    import_access_list,
    join_access_list,
    judge_entry,
    parse_entry_text,
    read_access_list,
)
from zoning.check.engine import SiteChecker
from zoning.industry import (
    INDUSTRY_CLASSES,
    catalogue,
    describe_industry,
    lookup_industry,
    validate_industry_code,
)
from zoning.pack import load_pack
from zoning.project import Project
from zoning.workflow import make_checker

PETROCHEM = "执行《北京市新增产业的禁止和限制目录》，禁止新建、扩建石化、化工项目。"
PAINT = Project(industry_code="C2641", flags={"vocs"})


def entry(text: str, effect: str | None = None, **cond) -> AccessEntry:
    parsed_effect, parsed = parse_entry_text(text)
    return AccessEntry(
        unit_code="ZH11011220011",
        dimension="layout",
        effect=effect or parsed_effect,
        text=text,
        conditions=EntryConditions(**cond) if cond else parsed,
    )


# --------------------------------------------------------------------------- parsing


def test_parse_prohibition_of_petrochemical_and_chemical_projects():
    effect, cond = parse_entry_text(PETROCHEM)
    assert effect == "prohibit"  # 禁止 wins over the 限制 of the catalogue's title
    assert cond.industry_prefixes == ["C251", "C26"]
    assert cond.industry_names == ["石化", "化工"]
    assert cond.development == ["new", "expansion"]
    assert cond.project_types is None and cond.flags is None


@pytest.mark.parametrize(
    ("text", "effect", "field", "value"),
    [
        (
            "线性基础设施确需穿越的，应科学论证，采取无害化方式。",
            "restrict",
            "project_types",
            ["linear"],
        ),
        (
            "禁止新建、扩建工业项目和房地产开发项目。",
            "prohibit",
            "project_types",
            ["industrial", "residential"],
        ),
        ("涉挥发性有机物排放的项目实行2倍削减量替代。", "require", "flags", ["vocs"]),
        ("新增氮氧化物排放的项目实施区域削减替代。", "require", "flags", ["nox"]),
        ("涉重金属排放的项目实行等量或减量替代。", "require", "flags", ["heavy_metals"]),
        ("禁止新建水泥、平板玻璃项目。", "prohibit", "industry_prefixes", ["C3011", "C3041"]),
        ("禁止新建电镀、铅蓄电池项目。", "prohibit", "industry_prefixes", ["C3360", "C3843"]),
    ],
)
def test_parse_conditions_from_text(text, effect, field, value):
    got_effect, cond = parse_entry_text(text)
    assert got_effect == effect
    assert getattr(cond, field) == value


def test_text_without_a_subject_has_no_checkable_condition():
    # 新建 alone says when, not whom: no condition, so the entry is 需人工核实
    assert parse_entry_text("落实生态环境保护基本要求，项目建设应符合国土空间规划。")[1] is None
    assert parse_entry_text("新建项目应符合国土空间规划。")[1] is None


def test_industry_classes_map_to_catalogue_codes():
    cat = catalogue()
    for name, prefixes in INDUSTRY_CLASSES.items():
        for p in prefixes:
            assert p in cat, (name, p)


def test_entry_model_validates_and_reads_chinese_labels():
    e = AccessEntry(dimension="污染物排放管控", effect="限制", text="x")
    assert (e.dimension, e.effect) == ("discharge", "restrict")
    with pytest.raises(ValueError, match="dimension"):
        AccessEntry(dimension="空气", effect="禁止", text="x")
    with pytest.raises(ValueError, match="industry code"):
        EntryConditions(industry_prefixes=["26"])


def test_old_style_entries_keep_their_explicit_filters():
    e = entry_from_mapping(
        {"dimension": "layout", "text": "化工行业环境风险评估", "industry_prefixes": ["C26"]}
    )
    assert e.conditions.industry_prefixes == ["C26"] and e.effect == "require"


# --------------------------------------------------------------------------- judgement


def test_paint_plant_violates_the_petrochemical_and_chemical_prohibition():
    # 涂料制造 C2641 belongs to 化学原料和化学制品制造业 C26 (GB/T 4754-2017)
    assert [i.code for i in lookup_industry("C2641")] == ["C", "C26", "C264", "C2641"]
    code, reason = judge_entry(entry(PETROCHEM), PAINT)
    assert code == "violates" and "禁止" in reason


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        (Project(industry_code="C2641"), "violates"),
        (Project(industry_code="C2641", development="expansion"), "violates"),
        (Project(industry_code="C2511"), "violates"),  # 原油加工 (石化)
        (Project(industry_code="C3011"), "not_applicable"),  # 水泥
        (Project(industry_code="C"), "needs_review"),  # too coarse to tell
        (Project(), "needs_review"),  # no industry code
        (Project(project_type="construction"), "needs_review"),  # may build a plant
        (Project(project_type="residential"), "not_applicable"),  # never a plant
    ],
)
def test_judgement_of_a_prohibition(project, expected):
    assert judge_entry(entry(PETROCHEM), project)[0] == expected


def test_judgement_codes_of_restrictions_requirements_and_unconditioned_entries():
    linear = entry("线性基础设施确需穿越的，应科学论证。")
    assert judge_entry(linear, Project(project_type="linear"))[0] == "needs_demonstration"
    assert judge_entry(linear, Project(project_type="industrial"))[0] == "not_applicable"
    vocs = entry("涉挥发性有机物排放的项目实行削减量替代。")
    assert judge_entry(vocs, PAINT) == (
        "complies",
        "项目适用本条（涉及: 排放挥发性有机物(VOCs)），须落实本条要求",
    )
    assert judge_entry(vocs, Project(industry_code="C2641"))[0] == "not_applicable"
    plain = entry("落实生态环境保护基本要求。")
    code, reason = judge_entry(plain, PAINT)
    assert code == "needs_review" and "人工核实" in reason  # never silently passed


# --------------------------------------------------------------------------- engine


def _units_layer(entries: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "feature_id": ["CU-A"],
            "name": ["测试重点管控单元"],
            "unit_code": ["ZH11011220011"],
            "category": ["key"],
            "access_list": [json.dumps(entries, ensure_ascii=False)],
            "synthetic": [True],
        },
        geometry=[rect(-2000, -2000, 2000, 2000)],
        crs=LONLAT,
    )


def _unit_pack():
    base = load_pack("beijing")
    rule = base.rule("control_unit.access")
    return base.model_copy(update={"rules": [rule]})


@pytest.mark.parametrize(
    ("entries", "project", "verdict", "outcome"),
    [
        ([{"dimension": "layout", "text": PETROCHEM}], PAINT, "prohibited", "prohibited"),
        (
            [{"dimension": "layout", "text": "线性基础设施确需穿越的，应科学论证。"}],
            Project(project_type="linear"),
            "restricted",
            "restricted",
        ),
        (
            [{"dimension": "layout", "text": "落实生态环境保护基本要求。"}],
            PAINT,
            "needs_review",
            "needs_review",
        ),
        (
            [{"dimension": "layout", "text": PETROCHEM}],
            Project(industry_code="C3011"),
            "requirements",
            "requirements",
        ),
        ([], PAINT, "needs_review", "needs_review"),  # a unit without its list
    ],
)
def test_entries_decide_the_verdict(entries, project, verdict, outcome):
    checker = SiteChecker(_unit_pack(), {"control_unit": _units_layer(entries)})
    res = checker.check_geometry(Point(at(0, 0)), project=project)
    site = res.site_to_dict("site")
    assert site["verdict"] == verdict
    (f,) = [f for f in site["findings"] if f["rule_id"] == "control_unit.access"]
    assert f["outcome"] == outcome
    assert f["units"][0]["unit_code"] == "ZH11011220011"
    assert f["units"][0]["category_zh"] == "重点管控单元"
    for e in f["access_entries"]:
        assert {"judgement", "judgement_zh", "reason", "effect", "conditions"} <= e.keys()
    # the frames (batch path) agree with the site dict
    assert res.sites["verdict"].tolist() == [verdict]


# --------------------------------------------------------------------------- the case


def _strict_zone_point(store) -> Point:
    strict = store.get_kind("tongzhou_strict_zone").gdf
    return shapely.Point(strict.geometry.iloc[0].representative_point())


def test_paint_plant_in_tongzhou_strict_zone_is_prohibited_python_api():
    with open_store() as st:
        p = _strict_zone_point(st)
        checker = make_checker(load_pack("tongzhou"), st, missing_layers="skip")
    res = checker.check_geometry(p, project=PAINT)
    site = res.site_to_dict("site")
    assert site["verdict"] == "prohibited"
    assert "control_unit.access" in site["deciding_rules"]
    (f,) = [f for f in site["findings"] if f["rule_id"] == "control_unit.access"]
    assert f["units"][0]["unit_code"] == "ZH11011220011"
    assert f["units"][0]["category"] == "key" and f["units"][0]["name"]
    hit = [e for e in f["access_entries"] if "石化、化工" in e["text"]]
    assert hit and hit[0]["judgement"] == "violates" and hit[0]["judgement_zh"] == "不符合"
    assert hit[0]["effect"] == "prohibit" and "C26" in hit[0]["conditions"]


def test_paint_plant_in_tongzhou_strict_zone_is_prohibited_cli():
    with open_store() as st:
        p = _strict_zone_point(st)
    args = [
        "check",
        "--at",
        f"{p.x},{p.y}",
        "--pack",
        "tongzhou",
        "--industry-code",
        "C2641",
        "--flag",
        "vocs",
        "--json",
    ]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    site = json.loads(out.output)["sites"][0]
    assert site["verdict"] == "prohibited"
    (f,) = [f for f in site["findings"] if f["rule_id"] == "control_unit.access"]
    assert any(e["judgement"] == "violates" and "化工" in e["text"] for e in f["access_entries"])


def test_cli_industry_code_is_checked_against_the_catalogue():
    out = CliRunner().invoke(cli, ["check", "--at", "116.6,39.9", "--industry-code", "A26"])
    assert out.exit_code != 0
    assert "--industry-code" in out.output and "C26" in out.output


def test_catalogue_checks():
    assert validate_industry_code("c2641") == "C2641"
    with pytest.raises(InputFormatError, match="section"):
        validate_industry_code("Z01")
    assert describe_industry("C2641") == "C2641 涂料制造"
    assert describe_industry("C2699") == "C2699 (化学原料和化学制品制造业)"


def test_cli_options_match_the_project_vocabularies():
    from ecozone.cli.check import check
    from ecozone.web.schemas import ProjectIn
    from zoning.project import ACTIVITIES, FLAGS, PROJECT_TYPES

    (activity,) = [p for p in check.params if p.name == "activity"]
    assert tuple(activity.type.choices) == tuple(ACTIVITIES)
    (kind,) = [p for p in check.params if p.name == "project_type"]
    assert tuple(kind.type.choices) == tuple(PROJECT_TYPES)
    web = ProjectIn.model_json_schema()["properties"]["project_type"]["anyOf"][0]["enum"]
    assert web == list(PROJECT_TYPES)
    (flag,) = [p for p in check.params if p.name == "flags"]
    assert set(flag.type.choices) == set(FLAGS)
    assert ProjectIn(flags=list(FLAGS), activity="linear_infrastructure").activity


# --------------------------------------------------------------------------- import


def _write_list(path, rows, header="环境管控单元编码,管控维度,管控要求,效力,行业代码"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_read_access_list_reports_bad_rows_and_goes_on(tmp_path):
    f = _write_list(
        tmp_path / "list.csv",
        [
            f"ZH1,空间布局约束,{PETROCHEM},,",
            "ZH1,空气,不得露天焚烧,,",  # unknown dimension
            ",污染物排放管控,无编码,,",
            "ZH2,环境风险防控,涉及危险化学品的企业应编制应急预案,要求,C26、C27",
        ],
    )
    got = read_access_list(f)
    assert [e.unit_code for e in got.entries] == ["ZH1", "ZH2"]
    assert got.entries[1].conditions.industry_prefixes == ["C26", "C27"]
    assert got.entries[1].effect == "require" and got.entries[1].source_row == 5
    assert [(e["row"], e["code"]) for e in got.errors] == [(3, "ZH1"), (4, "")]
    assert all(e["file"] == str(f) for e in got.errors)
    assert "管控维度" in got.errors[0]["problem"]


def test_read_access_list_xlsx(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["环境管控单元编码", "管控维度", "管控要求"])
    ws.append(["ZH1", "空间布局约束", PETROCHEM])
    wb.save(tmp_path / "list.xlsx")
    got = read_access_list(tmp_path / "list.xlsx")
    assert got.entries[0].conditions.industry_prefixes == ["C251", "C26"] and not got.errors


def test_read_access_list_needs_the_key_columns(tmp_path):
    f = _write_list(tmp_path / "bad.csv", ["a,b"], header="编码,内容")
    with pytest.raises(InputFormatError, match="环境管控单元编码"):
        read_access_list(f)


def test_join_reports_rows_that_do_not_join(tmp_path):
    units = _units_layer([])
    f = _write_list(
        tmp_path / "l.csv",
        [
            f"ZH11011220011,空间布局约束,{PETROCHEM},,",
            "ZH99999999999,空间布局约束,禁止新建化工项目,,",
        ],
    )
    out, errors = join_access_list(units, read_access_list(f))
    assert [(e["row"], e["code"]) for e in errors] == [(3, "ZH99999999999")]
    stored = json.loads(out["access_list"].iloc[0])
    assert stored[0]["effect"] == "prohibit" and stored[0]["source_row"] == 2


def test_import_access_list_creates_a_new_version_cli(tmp_path):
    with open_store() as st:
        before = st.get("control_unit")
    code = str(before.gdf["unit_code"].iloc[0])
    f = _write_list(
        tmp_path / "准入清单.csv",
        [
            f"{code},空间布局约束,禁止新建、扩建化工项目,,",
            "ZH00000000000,空间布局约束,禁止新建化工项目,,",
        ],
    )
    out = CliRunner().invoke(
        cli, ["layers", "import-access-list", str(f), "--units", "control_unit", "--json"]
    )
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert got["version"] == before.version + 1
    assert [(r["row"], r["code"]) for r in got["rejected"]] == [(3, "ZH00000000000")]
    with open_store() as st:
        after = st.get("control_unit")
        old = st.get("control_unit", before.version)
    row = after.gdf[after.gdf["unit_code"] == code].iloc[0]
    assert [e["text"] for e in json.loads(row["access_list"])] == ["禁止新建、扩建化工项目"]
    assert old.checksum == before.checksum  # the old version stays readable


def test_import_access_list_refuses_a_list_that_joins_nothing(tmp_path):
    with open_store() as st:
        before = st.get("control_unit").version
        f = _write_list(tmp_path / "x.csv", ["ZH00000000000,空间布局约束,禁止新建化工项目,,"])
        with pytest.raises(InputFormatError, match="no row"):
            import_access_list(st, f)
        with pytest.raises(LayerValidationError, match="--units"):
            import_access_list(st, f, units="no_such_layer")
        assert st.get("control_unit").version == before


def test_demo_access_list_is_built_from_the_published_table():
    import csv
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data" / "access_list_demo.csv"
    with path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert {"环境管控单元编码", "管控维度", "管控要求"} <= rows[0].keys()
    with open_store() as st:
        units = st.get("control_unit").gdf
    by_code = dict(zip(units["unit_code"], units["access_list"], strict=True))
    assert {r["环境管控单元编码"] for r in rows} == set(by_code)
    texts = [e["text"] for e in json.loads(by_code["ZH11011220011"])]
    assert texts == [r["管控要求"] for r in rows if r["环境管控单元编码"] == "ZH11011220011"]
    assert any("石化、化工" in t for t in texts)


def test_a_malformed_stored_entry_names_the_unit_and_the_fix():
    bad = [{"dimension": "layout", "text": PETROCHEM, "effect": "forbid"}]
    checker = SiteChecker(_unit_pack(), {"control_unit": _units_layer(bad)})
    with pytest.raises(LayerValidationError, match=r"CU-A.*ZH11011220011.*entry 1.*effect"):
        checker.check_geometry(Point(at(0, 0)), project=PAINT)


def test_entries_of_the_same_text_share_no_conditions():
    # each distinct text is parsed once (cached); every entry still gets its own
    # conditions, so changing one entry never changes another
    text = "禁止新建、扩建石化、化工项目"
    a = entry_from_mapping({"dimension": "layout", "text": text}, unit_code="U1")
    b = entry_from_mapping({"dimension": "layout", "text": text}, unit_code="U2")
    assert a.conditions == b.conditions and a.conditions is not b.conditions
    a.conditions.industry_prefixes.append("C99")
    c = entry_from_mapping({"dimension": "layout", "text": text}, unit_code="U3")
    assert c.conditions.industry_prefixes == ["C251", "C26"]
    assert b.conditions.industry_prefixes == ["C251", "C26"]
    assert parse_entry_text(text)[1].industry_prefixes == ["C251", "C26"]
