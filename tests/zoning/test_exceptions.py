"""Rule exceptions the plans allow, the declared activity, lengths inside zones (#11 §3)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod
from shapely.geometry import LineString, Point, box

from ecozone.cli.main import cli
from geo.errors import InputFormatError, PackError
from layers import open_store
from tests.zoning.conftest import C_LAT, C_LON, at, make_layers, make_pack, sites_frame
from zoning.check.engine import SiteChecker
from zoning.pack import Pack, RuleException, iter_citations, list_packs, load_pack
from zoning.project import ACTIVITIES, Project, project_from_row

GEOD = Geod(ellps="GRS80")
NOTICE = "关于加强生态保护红线管理的通知(试行)(自然资发〔2022〕142号)"
LINEAR = Project(project_type="linear", activity="linear_infrastructure")


def _exception(eid: str, activities: list[str], outcome: str = "restricted") -> dict:
    return {
        "id": eid,
        "when": {"activities": activities},
        "outcome": outcome,
        "title": f"例外 {eid}",
        "title_en": f"exception {eid}",
        "requirement": "须论证",
        "requirement_en": "demonstrate",
        "citations": [{"source": NOTICE, "law": "notice", "article": "一(一) 第7项"}],
    }


def _pack_with_exceptions() -> Pack:
    raw = make_pack().model_dump()
    for r in raw["rules"]:
        if r["id"] == "redline.inside":
            r["exceptions"] = [
                _exception("linear", ["linear_infrastructure"]),
                _exception("water", ["water_supply_facility"]),
            ]
    return Pack.model_validate(raw)


@pytest.fixture(scope="module")
def checker():
    return SiteChecker(_pack_with_exceptions(), make_layers())


def _finding(site: dict, rule_id: str) -> dict:
    (f,) = [f for f in site["findings"] if f["rule_id"] == rule_id]
    return f


# --------------------------------------------------------------------------- schema


def test_exception_schema_refuses_what_changes_nothing():
    with pytest.raises(ValueError, match="at least one condition"):
        RuleException.model_validate({**_exception("x", []), "when": {}})
    raw = make_pack().model_dump()
    raw["rules"][0]["exceptions"] = [_exception("same", ["research_monitoring"], "prohibited")]
    with pytest.raises(ValueError, match="changes nothing"):
        Pack.model_validate(raw)
    raw["rules"][0]["exceptions"] = [_exception("bad", ["fishing"])]
    with pytest.raises(ValueError, match="activities"):
        Pack.model_validate(raw)


def test_pack_file_error_names_the_rule_and_field(tmp_path):
    text = (load_pack("jiangjin").path).read_text(encoding="utf-8")
    bad = text.replace('activities = ["linear_infrastructure"]', 'activities = ["roads"]', 1)
    f = tmp_path / "bad.toml"
    f.write_text(bad, encoding="utf-8")
    with pytest.raises(PackError, match=r"rule 'redline\.inside'.*exceptions"):
        load_pack(f)


@pytest.mark.parametrize("name", list_packs())
def test_every_pack_encodes_the_red_line_limited_activities(name):
    rule = load_pack(name).rule("redline.inside")
    assert rule.outcome == "prohibited"
    covered = {a for ex in rule.exceptions for a in ex.when.activities or ()}
    assert covered == set(ACTIVITIES)  # every limited activity of the 2022 notice
    for ex in rule.exceptions:
        assert ex.outcome == "restricted"
        assert any(c.source == NOTICE and "第" in (c.article or "") for c in ex.citations)
    assert rule.exception_for(Project(project_type="linear")) is None  # declared only
    assert rule.exception_for(LINEAR).id == "limited_activity.linear"
    ws = rule.exception_for(Project(activity="供水设施"))
    assert ws.id == "limited_activity.water_supply"
    owners = {o for o, _ in iter_citations(load_pack(name))}
    assert "redline.inside/limited_activity.linear" in owners


def test_water_supply_facility_is_the_notices_activity():
    assert Project(water_supply=True).activity == "water_supply_facility"
    assert Project(activity="water_supply_facility").water_supply is True
    both = Project(water_supply=True, activity="research_monitoring")
    assert (both.activity, both.water_supply) == ("research_monitoring", True)


def test_activity_is_read_in_english_or_chinese_and_checked():
    assert Project(activity="线性基础设施").activity == "linear_infrastructure"
    assert project_from_row({"活动类型": "科研监测"}).activity == "research_monitoring"
    with pytest.raises(InputFormatError, match="unknown activity"):
        Project(activity="fishing")


# --------------------------------------------------------------------------- engine


def _crossing_line() -> LineString:
    # crosses red-line square RL-1 (1000..2000 m east and north of the centre)
    return LineString([at(500, 1500), at(2500, 1500)])


def test_linear_project_in_red_line_without_declared_activity_stays_prohibited(checker):
    res = checker.check_geometry(_crossing_line(), project=Project(project_type="linear"))
    site = res.site_to_dict("site")
    assert site["verdict"] == "prohibited"
    f = _finding(site, "redline.inside")
    assert f["outcome"] == "prohibited" and f["exceptions"] == []
    assert not [n for n in site["notes"] if n["kind"] == "exception"]


@pytest.mark.parametrize(
    ("project", "exc"),
    [
        (LINEAR, "linear"),
        (Project(project_type="other", activity="water_supply_facility"), "water"),
    ],
)
def test_declared_limited_activity_turns_prohibited_into_restricted(checker, project, exc):
    res = checker.check_geometry(_crossing_line(), project=project)
    site = res.site_to_dict("site")
    f = _finding(site, "redline.inside")
    assert f["outcome"] == "restricted"
    (applied,) = f["exceptions"]
    assert applied["id"] == exc and applied["outcome_from"] == "prohibited"
    assert any(NOTICE in c for c in applied["citations"])
    assert site["verdict"] == "restricted"
    notes = [n for n in site["notes"] if n["kind"] == "exception"]
    assert len(notes) == 1 and NOTICE in notes[0]["text"] and notes[0]["text_en"]
    # the frames (batch path) say the same
    assert res.findings.set_index("rule_id").loc["redline.inside", "outcome"] == "restricted"
    assert res.sites["verdict"].tolist() == ["restricted"]


def test_batch_applies_exceptions_per_row(checker):
    lines = [_crossing_line()] * 3
    frame = sites_frame(lines, ids=["a", "b", "c"])
    frame["project_type"] = ["linear", "linear", "linear"]
    frame["activity"] = ["linear_infrastructure", "", "供水设施"]
    res = checker.check(frame)
    assert res.sites.set_index("site_id")["verdict"].to_dict() == {
        "a": "restricted",
        "b": "prohibited",
        "c": "restricted",
    }


# --------------------------------------------------------------------------- length inside


def _geod_length(geom) -> float:
    return float(GEOD.geometry_length(geom))


def test_line_length_inside_a_zone_against_pyproj_geod(checker):
    line = _crossing_line()
    res = checker.check_geometry(line, project=LINEAR)
    site = res.site_to_dict("site")
    rl = make_layers()["redline"]
    inside = shapely.intersection(line, rl.geometry.iloc[0])
    want = _geod_length(inside)
    assert want == pytest.approx(1000.0, rel=2e-3)  # the square is 1 km wide
    f = _finding(site, "redline.inside")
    assert f["length_m"] == pytest.approx(want, rel=1e-6)
    assert f["length_pct"] == pytest.approx(want / _geod_length(line) * 100, rel=1e-6)
    (r,) = [r for r in site["relations"] if r["kind"] == "redline" and r["feature_id"] == "RL-1"]
    assert r["length_m"] == pytest.approx(want, rel=1e-6)
    assert r["overlap_m2"] is None  # a line has no overlap area
    rel = res.relations[res.relations.kind == "redline"].set_index("feature_id")
    assert rel.loc["RL-1", "length_m"] == pytest.approx(want, rel=1e-6)


def test_line_length_sums_over_several_zones_and_parts():
    # a line crossing two red-line boxes, and a multi-part line
    lon0, lat0 = C_LON + 0.05, C_LAT + 0.05
    boxes = [
        box(lon0, lat0, lon0 + 0.01, lat0 + 0.01),
        box(lon0 + 0.02, lat0, lon0 + 0.03, lat0 + 0.01),
    ]
    rl = gpd.GeoDataFrame(
        {"feature_id": ["A", "B"], "name": ["甲", "乙"], "synthetic": True},
        geometry=boxes,
        crs="EPSG:4326",
    )
    pack = _pack_with_exceptions()
    ck = SiteChecker(pack, {**make_layers(), "redline": rl})
    line = LineString([(lon0 - 0.005, lat0 + 0.005), (lon0 + 0.035, lat0 + 0.004)])
    multi = shapely.MultiLineString(
        [
            [(lon0 + 0.002, lat0 + 0.002), (lon0 + 0.008, lat0 + 0.003)],
            [(lon0 + 0.015, lat0 + 0.002), (lon0 + 0.025, lat0 + 0.002)],
        ]
    )
    inside_box = LineString([(lon0 + 0.001, lat0 + 0.001), (lon0 + 0.009, lat0 + 0.009)])
    res = ck.check(
        sites_frame([line, multi, inside_box], ids=["line", "multi", "in"]), project=LINEAR
    )
    f = res.findings[res.findings.rule_id == "redline.inside"].set_index("site_id")
    for sid, geom in (("line", line), ("multi", multi), ("in", inside_box)):
        want = sum(_geod_length(shapely.intersection(geom, b)) for b in boxes)
        assert f.loc[sid, "length_m"] == pytest.approx(want, rel=1e-6), sid
        assert f.loc[sid, "length_pct"] == pytest.approx(want / _geod_length(geom) * 100, rel=1e-6)
    assert f.loc["in", "length_pct"] == 100.0
    # points and polygons have no length inside (polygons report the area, as before)
    poly = box(lon0 + 0.004, lat0 + 0.004, lon0 + 0.006, lat0 + 0.006)
    other = ck.check(
        sites_frame([Point(lon0 + 0.005, lat0 + 0.005), poly], ids=["p", "poly"]), project=LINEAR
    )
    g = other.findings[other.findings.rule_id == "redline.inside"].set_index("site_id")
    assert np.isnan(g["length_m"]).all()
    assert g.loc["poly", "overlap_pct"] == 100.0


# --------------------------------------------------------------------------- demo data, CLI


def _demo_crossing() -> tuple[LineString, float]:
    """A line on the demo data from inside a red-line polygon 3 km east, and its length inside."""
    with open_store() as st:
        rl = st.get_kind("redline").gdf
    poly = rl.geometry.iloc[len(rl) // 2]
    p = poly.representative_point()
    lon, lat, _ = GEOD.fwd(p.x, p.y, 90.0, 3000.0)
    line = LineString([(p.x, p.y), (lon, lat)])
    inside = shapely.intersection(line, shapely.union_all(rl.geometry.values))
    return line, _geod_length(inside)


def _cli_check(line: LineString, *extra: str) -> dict:
    coords = "; ".join(f"{x} {y}" for x, y in line.coords)
    out = CliRunner().invoke(
        cli,
        [
            "check",
            "--at",
            coords,
            "--pack",
            "beijing",
            "--project-type",
            "linear",
            *extra,
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    return json.loads(out.output)["sites"][0]


def test_cli_red_line_linear_project_needs_a_declared_activity():
    line, want = _demo_crossing()
    plain = _cli_check(line)
    assert plain["verdict"] == "prohibited"
    assert _finding(plain, "redline.inside")["outcome"] == "prohibited"
    declared = _cli_check(line, "--activity", "linear_infrastructure")
    f = _finding(declared, "redline.inside")
    assert f["outcome"] == "restricted"
    assert f["exceptions"][0]["id"] == "limited_activity.linear"
    assert declared["verdict"] == "restricted"
    assert any(n["kind"] == "exception" and "142号" in n["text"] for n in declared["notes"])
    # the length of the line inside the red line, ellipsoidal
    assert f["length_m"] == pytest.approx(want, rel=1e-6)
    assert 0 < f["length_pct"] < 100


def test_cli_water_supply_facility_in_red_line_is_restricted():
    line, _ = _demo_crossing()
    site = _cli_check(line, "--activity", "water_supply_facility")
    f = _finding(site, "redline.inside")
    assert f["outcome"] == "restricted"
    assert f["exceptions"][0]["id"] == "limited_activity.water_supply"
    assert site["verdict"] != "prohibited"


def test_rest_api_takes_the_activity_and_answers_like_the_cli(tmp_path):
    import httpx

    from ecozone.web.app import create_app
    from ecozone.web.settings import WebSettings
    from tests.ecozone._webdata import live_server

    line, _ = _demo_crossing()
    coords = "; ".join(f"{x} {y}" for x, y in line.coords)
    with open_store() as st:
        path = st.path
    app = create_app(str(path), settings=WebSettings(threads=1))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        answers = {}
        for activity in (None, "linear_infrastructure"):
            body = {
                "pack": "beijing",
                "coordinates": coords,
                "project": {"project_type": "linear", "activity": activity},
            }
            r = client.post("/api/check", json=body)
            assert r.status_code == 200, r.text
            answers[activity] = r.json()
        bad = client.post(
            "/api/check", json={"coordinates": coords, "project": {"activity": "fishing"}}
        )
        assert bad.status_code == 422
        page = client.get("/check").text
        assert 'id="p-activity"' in page and "linear_infrastructure" in page
    assert answers[None]["verdict"]["code"] == "prohibited"
    declared = answers["linear_infrastructure"]
    cli_site = _cli_check(line, "--activity", "linear_infrastructure")
    assert declared["verdict"]["code"] == cli_site["verdict"] == "restricted"
    f = _finding(declared, "redline.inside")
    assert f["outcome"] == "restricted" and f["exceptions"]


def test_batch_rows_state_the_exception_in_their_notes(checker):
    from dataclasses import replace

    from zoning.check.result import note_columns

    frame = sites_frame([_crossing_line()] * 2, ids=["a", "b"])
    frame["project_type"] = ["linear", "linear"]
    frame["activity"] = ["linear_infrastructure", ""]
    res = checker.check(frame)
    _, notes = note_columns(res)
    by_id = dict(zip(res.sites["site_id"], notes, strict=True))
    assert "exception:" in by_id["a"] and NOTICE in by_id["a"]
    assert "exception" not in by_id["b"]
    # the batch passes the findings' keys (read once for the rules column too)
    keys = res.finding_keys()
    assert list(note_columns(res, replace(keys, site=keys.site[::-1].copy()))[1]) != list(notes)
    assert list(note_columns(res, keys)[1]) == list(notes)
    # a batch chunk's result reads them from the engine's arrays: the same notes
    lazy = checker.check(frame, relations=False)
    assert list(note_columns(lazy)[1]) == list(notes)
