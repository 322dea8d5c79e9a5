"""Tests for zoning.project: the Project dataclass and batch-row reading."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from geo.errors import EcozoneError, InputFormatError
from zoning.project import (
    CONDITION_COLUMNS,
    DEVELOPMENT,
    FLAG_COLUMNS,
    FLAGS,
    GENERIC_COLUMNS,
    PROJECT_COLUMNS,
    PROJECT_TYPES,
    TYPE_SECTIONS,
    Project,
    column_key,
    condition_columns,
    match_columns,
    project_from_row,
    type_allows_code,
)


def test_defaults():
    p = Project()
    assert p.name == ""
    assert p.project_type is None
    assert p.industry_code is None
    assert p.flags == frozenset()
    assert p.development == "new"
    assert p.temporary_land_use is False
    assert p.water_supply is False
    assert p.exits == ()


def test_vocabularies_have_chinese_labels():
    assert set(PROJECT_TYPES) == {
        "construction",
        "residential",
        "industrial",
        "linear",
        "agriculture",
        "other",
    }
    assert {
        "wastewater", "vocs", "sewage", "garbage", "toilets", "manure", "nox", "heavy_metals"
    } <= set(FLAGS)  # fmt: skip
    assert set(DEVELOPMENT) == {"new", "expansion"}
    for label in [*PROJECT_TYPES.values(), *FLAGS.values(), *DEVELOPMENT.values()]:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in label), label


def test_frozen():
    p = Project(project_type="industrial")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.project_type = "residential"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("given", "expected"),
    [("c2614", "C2614"), (" C26 ", "C26"), ("c", "C"), ("b091", "B091"), (None, None), ("", None)],
)
def test_industry_code_normalised(given, expected):
    assert Project(industry_code=given).industry_code == expected


@pytest.mark.parametrize("bad", ["X12", "C1", "C12345", "26", "C2a", "A2614", "C99", "K0110"])
def test_industry_code_rejected(bad):
    with pytest.raises(InputFormatError, match="GB/T 4754"):
        Project(industry_code=bad)


def test_an_industry_code_whose_division_is_not_its_sections_is_an_error_everywhere():
    # the command line refused 'A2614' (division 26 is C26) but a sites file's column and
    # the web API took it, and read as a code it missed every rule for the chemical
    # industry; now the project itself refuses it, and names the right division
    with pytest.raises(InputFormatError) as err:
        project_from_row({"行业代码": "A2614"}, where="sites.csv row 4")
    text = str(err.value)
    assert text.startswith("sites.csv row 4: column '行业代码': 'A2614': division 26")
    assert "C26 (化学原料和化学制品制造业)" in text


def test_unknown_project_type_lists_allowed_values():
    with pytest.raises(ValueError, match="unknown project type 'factory'") as info:
        Project(project_type="factory")
    for key in PROJECT_TYPES:
        assert key in str(info.value)
    assert isinstance(info.value, EcozoneError)


def test_unknown_flag_lists_allowed_values():
    with pytest.raises(ValueError, match="unknown flag 'smoke'") as info:
        Project(flags={"wastewater", "smoke"})
    for key in FLAGS:
        assert key in str(info.value)


def test_unknown_development_lists_allowed_values():
    with pytest.raises(ValueError, match=r"unknown development 'rebuild'.*new.*expansion"):
        Project(development="rebuild")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("施工工地", "construction"),
        ("住宅", "residential"),
        ("工业", "industrial"),
        ("Linear", "linear"),
        ("农业", "agriculture"),
        ("其他", "other"),
    ],
)
def test_project_type_aliases(given, expected):
    assert Project(project_type=given).project_type == expected


def test_flags_from_string_and_chinese():
    p = Project(flags="wastewater; VOCs，污水")
    assert p.flags == frozenset({"wastewater", "vocs", "sewage"})
    assert Project(flags=["厕所", "畜禽粪便", "垃圾"]).flags == {"toilets", "manure", "garbage"}


def test_development_chinese():
    assert Project(development="扩建").development == "expansion"
    assert Project(development="改扩建").development == "expansion"
    assert Project(development="新建").development == "new"


def test_labels():
    p = Project(project_type="residential", flags={"toilets", "sewage"})
    assert p.project_type_zh == PROJECT_TYPES["residential"]
    # order of FLAGS, not of the input
    assert p.flags_zh == [FLAGS["sewage"], FLAGS["toilets"]]


def test_exits():
    p = Project(exits=[(116.65, 39.91), [116.66, 39.92]])
    assert p.exits == ((116.65, 39.91), (116.66, 39.92))
    assert Project(exits="116.65,39.91; 116.66 39.92").exits == p.exits
    shapely = pytest.importorskip("shapely")
    assert Project(exits=[shapely.Point(116.65, 39.91)]).exits == ((116.65, 39.91),)


@pytest.mark.parametrize("bad", [[(500000.0, 4400000.0)], "116.6", [("a", "b")]])
def test_exits_rejected(bad):
    with pytest.raises(InputFormatError, match="exit"):
        Project(exits=bad)


def test_from_row_english_columns():
    p = project_from_row(
        {
            "name": "A",
            "project_type": "industrial",
            "industry_code": "c2614",
            "flags": "wastewater;vocs",
            "development": "expansion",
            "temporary_land_use": "true",
            "water_supply": "false",
            "exits": "116.6,39.9",
            "unrelated": "ignored",
        }
    )
    assert p == Project(
        name="A",
        project_type="industrial",
        industry_code="C2614",
        flags={"wastewater", "vocs"},
        development="expansion",
        temporary_land_use=True,
        water_supply=False,
        exits=[(116.6, 39.9)],
    )


def test_from_row_chinese_columns_and_boolean_flag_columns():
    p = project_from_row(
        {
            "项目名称": "乙",
            "项目类型": "居住",
            "行业代码": "k7010",
            "建设性质": "扩建",
            "临时用地": "是",
            "供水设施": "否",
            "排放污水": "是",
            "设置厕所": 1,
            "wastewater": False,
            "vocs": "否",
        }
    )
    assert p.name == "乙"
    assert p.project_type == "residential"
    assert p.industry_code == "K7010"
    assert p.development == "expansion"
    assert p.temporary_land_use is True
    assert p.water_supply is False
    assert p.flags == frozenset({"sewage", "toilets"})


def test_from_row_flags_column_and_boolean_columns_combine():
    p = project_from_row({"flags": "vocs", "manure": "yes"})
    assert p.flags == {"vocs", "manure"}


def test_from_row_pandas_series_with_missing_values():
    df = pd.DataFrame(
        {
            "project_type": ["construction", None],
            "industry_code": [math.nan, "C26"],
            "flags": [math.nan, "sewage"],
            "temporary_land_use": [pd.NA, True],
        }
    )
    a = project_from_row(df.iloc[0])
    b = project_from_row(df.iloc[1])
    assert a == Project(project_type="construction")
    assert b == Project(industry_code="C26", flags={"sewage"}, temporary_land_use=True)


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        ({"项目类型": "工厂"}, "项目类型", "工厂"),
        ({"project_type": "industrial", "flags": "wastewater;smoke"}, "flags", "smoke"),
        ({"临时用地": "maybe"}, "临时用地", "maybe"),
        ({"建设性质": "拆除"}, "建设性质", "拆除"),
        ({"industry_code": "ZZ"}, "industry_code", "ZZ"),
        ({"sewage": "often"}, "sewage", "often"),
    ],
)
def test_from_row_errors_name_row_column_and_value(row, column, value):
    with pytest.raises(InputFormatError) as info:
        project_from_row(row, where="sites.csv row 7")
    msg = str(info.value)
    assert msg.startswith("sites.csv row 7: column ")
    assert repr(column) in msg
    assert repr(value) in msg


def test_from_row_empty_gives_defaults():
    assert project_from_row({}) == Project()


@pytest.mark.parametrize(
    ("flag", "column"), [(f, c) for f, names in FLAG_COLUMNS.items() for c in names]
)
def test_every_flag_column_declares_its_flag(flag, column):
    assert FLAGS[flag] in FLAG_COLUMNS[flag]  # the Chinese label is a column name
    assert project_from_row({column: "是"}).flags == {flag}
    assert project_from_row({column: "否"}).flags == frozenset()
    assert column in CONDITION_COLUMNS  # and a batch reads it (zoning.check.sites)


def test_condition_columns_are_every_column_a_rule_condition_reads():
    # each one changes the project project_from_row reads; name and exits are read apart
    values = {"project_type": "工业", "industry_code": "C26", "flags": "vocs",
              "development": "扩建", "temporary_land_use": "是", "water_supply": "是",
              "activity": "巡护"}  # fmt: skip
    for fld, names in PROJECT_COLUMNS.items():
        for name in names:
            assert (name in CONDITION_COLUMNS) == (fld not in ("name", "exits")), name
            if fld in values:
                assert project_from_row({name: values[fld]}) != Project(), name
    flag_names = {n for names in FLAG_COLUMNS.values() for n in names}
    listed = {n for f, names in PROJECT_COLUMNS.items() for n in names}
    assert (
        CONDITION_COLUMNS
        == (listed - {*PROJECT_COLUMNS["name"], *PROJECT_COLUMNS["exits"]}) | flag_names
    )


def test_the_docs_list_every_project_column():
    text = (Path(__file__).parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    section = text.split("### Project attributes in a sites file", 1)[1].split("\n#", 1)[0]
    for names in (*PROJECT_COLUMNS.values(), *FLAG_COLUMNS.values()):
        for name in names:
            assert f"`{name}`" in section, name


def test_column_names_match_whatever_their_case_width_and_spaces():
    names = {n for names in (*PROJECT_COLUMNS.values(), *FLAG_COLUMNS.values()) for n in names}
    assert len({column_key(n) for n in names}) == len(names)  # no two names collide
    row = {"Project_Type": "工业", "排放挥发性有机物（VOCs）": "是", " 行业代码 ": "C26",
           "NOX": "1", "other": "x"}  # fmt: skip
    p = project_from_row(row)
    assert p.project_type == "industrial" and p.industry_code == "C26"
    assert p.flags == {"vocs", "nox"}
    assert condition_columns(row) == [
        "Project_Type",
        "排放挥发性有机物（VOCs）",
        " 行业代码 ",
        "NOX",
    ]
    # a column named exactly so wins over one that only matches its key
    assert match_columns(["VOCS", "vocs"]) == {"vocs": "vocs"}
    assert project_from_row({"VOCS": "否", "vocs": "是"}).flags == {"vocs"}
    # errors name the column as the file spells it
    with pytest.raises(InputFormatError, match="'Project_Type'"):
        project_from_row({"Project_Type": "spaceship"})


def test_specific_project_columns_win_over_generic_ones():
    # of a field's names the first found is read: every generic name comes last
    for fld, names in PROJECT_COLUMNS.items():
        generic = [n in GENERIC_COLUMNS for n in names]
        assert generic == sorted(generic), fld
    assert GENERIC_COLUMNS <= {n for names in PROJECT_COLUMNS.values() for n in names}
    for row in ({"类型": "耕地", "项目类型": "工业"}, {"项目类型": "工业", "type": "Feature"}):
        assert project_from_row(row).project_type == "industrial"
    assert project_from_row({"industry": "制造业", "行业代码": "C26"}).industry_code == "C26"
    assert project_from_row({"出口": "东门", "出口坐标": "116.6,39.9"}).exits == ((116.6, 39.9),)


def test_an_unreadable_generic_column_says_how_to_stop_it_being_read():
    with pytest.raises(InputFormatError) as generic:
        project_from_row({"类型": "耕地"}, where="sites.csv row 3")
    text = str(generic.value)
    assert text.startswith("sites.csv row 3: column '类型': unknown project type '耕地'")
    assert "project_type/项目类型" in text and "rename it" in text and "--project-type" in text
    with pytest.raises(InputFormatError) as specific:  # the file said it is the type
        project_from_row({"项目类型": "耕地"}, where="sites.csv row 3")
    assert "rename" not in str(specific.value)


def test_every_project_type_names_the_industry_sections_it_belongs_to():
    from zoning.industry import describe_industry

    assert set(TYPE_SECTIONS) == set(PROJECT_TYPES)
    for sections in TYPE_SECTIONS.values():
        for letter in sections or "":
            assert describe_industry(letter).startswith(letter + " "), letter  # a real 门类
    assert type_allows_code("industrial", "C3110") and type_allows_code("industrial", "b0910")
    assert not type_allows_code("residential", "C3110")
    assert type_allows_code("residential", "K7010") and type_allows_code("linear", "G5411")
    assert type_allows_code(None, "C3110") and type_allows_code("residential", None)
    assert type_allows_code("construction", "C3110") and type_allows_code("other", "A01")
