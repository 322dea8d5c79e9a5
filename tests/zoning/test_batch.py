"""Tests of the batch runner (zoning/check/batch.py)."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from geo.errors import InputFormatError, MissingLayerError
from tests.frames import assert_frame_equal
from tests.zoning.conftest import (
    _rule,
    at,
    fwd,
    make_layers,
    make_pack,
    random_sites,
    rect,
    sites_frame,
)
from zoning.check.batch import BatchSummary, load_layers, run_batch
from zoning.check.engine import check_sites
from zoning.pack import Pack
from zoning.project import Project


def _csv(tmp_path):
    well = at(0, -2000)
    rows = [
        ("a", *fwd(*well, 10, 20.0), "construction", "sewage"),
        ("b", None, 39.9, "other", ""),  # no longitude: rejected by the reader
        ("c", *at(0, 3000), "spaceship", ""),  # bad project type: rejected by the check
        ("d", *at(1500, 1500), "industrial", ""),  # in the red line
        # outside the pack's jurisdiction (the boundary ends at 50 km): not checked (#11;
        # it used to be "compliant")
        ("e", *at(0, 51_000), "other", ""),
        ("f", *at(0, 21_000), "other", ""),  # far from every feature, inside: compliant
    ]
    df = pd.DataFrame(rows, columns=["site_id", "lon", "lat", "project_type", "flags"])
    path = tmp_path / "sites.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".gpkg", ".csv", ".geojson"])
def test_run_batch_from_csv(tmp_path, pack, layers, suffix):
    path = _csv(tmp_path)
    out = tmp_path / f"result{suffix}"
    calls = []
    summary = run_batch(
        path, pack=pack, store_or_layers=layers, out=out,
        progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    assert isinstance(summary, BatchSummary)
    assert summary.total == 6 and summary.checked == 3 and summary.errors == 3
    assert list(summary.by_verdict) == [
        "prohibited", "restricted", "insufficient_data", "needs_review", "requirements",
        "compliant",
    ]  # fmt: skip
    assert summary.by_verdict["prohibited"] == 2 and sum(summary.by_verdict.values()) == 3
    # input rows processed (read, rejected or checked); the last call: all of them
    assert calls[-1] == (6, 6) and all(d <= 6 for d, _ in calls)
    assert summary.errors_out == tmp_path / "result.errors.csv"
    errors = pd.read_csv(summary.errors_out, encoding="utf-8-sig")
    assert list(errors["source_row"]) == [3, 4, 6]
    assert list(errors["stage"]) == ["read", "check", "check"]
    assert list(errors["status"]) == ["invalid_input", "invalid_input", "outside_jurisdiction"]
    assert "spaceship" in errors["reason"].iloc[1]
    assert "jurisdiction" in errors["reason"].iloc[2]
    if suffix == ".csv":
        got = pd.read_csv(out)
    else:
        got = gpd.read_file(out)
    got = got.set_index("site_id")
    assert list(got.index) == ["a", "d", "f"]
    assert list(got["source_row"]) == [2, 5, 7]
    assert got.loc["a", "verdict"] == "prohibited" and got.loc["a", "deciding_rules"] == "well.30m"
    assert got.loc["d", "deciding_rules"] == "redline.inside"
    # f: no rule fires; its control unit's access list decides (compliant or, for
    # entries without a checkable condition, needs_review)
    assert got.loc["f", "verdict"] in ("compliant", "needs_review")
    assert "redline.nearest" in got.loc["d", "rules"].split(";")
    assert pd.isna(got.loc["f", "dist_redline_m"])  # nothing within 10 km
    assert "demo_data" in got.columns and "notes" in got.columns
    assert got.loc["a", "dist_well_m"] == pytest.approx(20.0, abs=0.01)
    assert got.loc["a", "verdict_zh"] == "不符合（禁止类）"
    assert got.loc["a", "project_type"] == "construction"  # input attributes kept


def test_run_batch_matches_check_sites(tmp_path, pack, layers):
    sites = random_sites(400, seed=21)
    out = tmp_path / "r.gpkg"
    proj = Project(project_type="construction", flags={"vocs"})
    summary = run_batch(sites, pack=pack, store_or_layers=layers, out=out, project=proj)
    direct = check_sites(sites, pack=pack, layers=layers, project=proj)
    got = gpd.read_file(out)
    assert list(got["site_id"]) == list(direct.sites["site_id"])
    assert list(got["verdict"]) == list(direct.sites["verdict"])
    assert list(got["source_row"]) == list(range(1, 401))
    np.testing.assert_allclose(got["dist_redline_m"], direct.sites["dist_redline_m"])
    assert summary.by_verdict == direct.counts()
    assert summary.errors == 0
    assert pd.read_csv(summary.errors_out).empty  # written, header only


def test_run_batch_errors_out_and_per_row_exits(tmp_path, pack, layers):
    site = rect(0, 0, 300, 150)
    sites = sites_frame(
        [site, site], ids=["g", "h"], project_type=["construction", "construction"],
        exit_lon=[at(150, 200)[0], 500.0], exit_lat=[at(150, 200)[1], 40.0],
    )  # fmt: skip
    err = tmp_path / "sub" / "bad.csv"
    s = run_batch(
        sites, pack=pack, store_or_layers=layers, out=tmp_path / "o.geojson", errors_out=err
    )
    assert s.errors_out == err and s.errors == 1
    assert pd.read_csv(err, encoding="utf-8-sig")["site_id"].tolist() == ["h"]
    got = gpd.read_file(tmp_path / "o.geojson")
    assert "site_exit.band" in got["rules"].iloc[0]


def test_run_batch_from_a_layer_store(tmp_path, pack):
    from layers.store import LayerStore

    store_path = tmp_path / "store.gpkg"
    with LayerStore(store_path) as store:
        for kind, gdf in make_layers().items():
            store.import_layer(gdf, name=kind, kind=kind, source="test fixture", synthetic=True)
    sites = sites_frame([rect(1200, 1200, 1300, 1300)], ids=["x"])
    with LayerStore(store_path) as store:
        s = run_batch(sites, pack=pack, store_or_layers=store, out=tmp_path / "o.gpkg")
        assert s.stamp["layers"]["redline"]["version"] == 1
        assert len(s.stamp["layers"]["redline"]["checksum"]) == 64
    assert s.by_verdict["prohibited"] == 1
    s2 = run_batch(sites, pack=pack, store_or_layers=store_path, out=tmp_path / "o2.gpkg")
    assert s2.by_verdict == s.by_verdict


def test_run_batch_missing_layers_and_bad_input(tmp_path, pack, layers):
    without = {k: v for k, v in layers.items() if k != "redline"}
    sites = sites_frame([rect(0, 0, 10, 10)])
    with pytest.raises(MissingLayerError, match="redline"):
        run_batch(sites, pack=pack, store_or_layers=without, out=tmp_path / "o.gpkg")
    with pytest.warns(UserWarning, match="redline"):
        s = run_batch(
            sites, pack=pack, store_or_layers=without, out=tmp_path / "o.gpkg",
            missing_layers="skip",
        )  # fmt: skip
    assert "redline.inside" in s.stamp["skipped_rules"]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputFormatError):
        run_batch(empty, pack=pack, store_or_layers=layers, out=tmp_path / "o.gpkg")
    with pytest.raises(InputFormatError, match="store_or_layers"):
        load_layers(42, {"redline"})


def test_run_batch_loads_a_pack_by_name(tmp_path):
    # the built-in Tongzhou pack against the hand-made layers
    layers = make_layers()
    sites = sites_frame([Point(at(-6150, 4950))], ids=["strict"])
    s = run_batch(
        sites, pack="tongzhou", store_or_layers=layers, out=tmp_path / "t.csv",
        project=Project(project_type="construction"),
    )  # fmt: skip
    got = pd.read_csv(tmp_path / "t.csv")
    rules = got["rules"].iloc[0].split(";")
    assert "tongzhou.strict.construction" in rules
    assert "tongzhou.key.construction" not in rules  # unless_layer: strict zone
    assert s.stamp["pack"]["name"] == "tongzhou"


def test_a_batch_collects_cycles_less_often_and_restores_the_setting(tmp_path, pack, layers):
    import gc
    import threading

    from zoning.check import batch

    before = gc.get_threshold()
    seen = []
    run_batch(random_sites(300, seed=4), pack=pack, store_or_layers=layers,
              out=tmp_path / "r.parquet", chunk_size=100,
              progress=lambda done, total: seen.append(gc.get_threshold()))  # fmt: skip
    # after each chunk: raised; the last call (after the batch): the caller's again
    raised = max(before[0], batch._BATCH_GC_THRESHOLD)
    middle = max(before[1], batch._BATCH_GC_MIDDLE)
    assert len(seen) == 4 and all(t[:2] == (raised, middle) for t in seen[:-1])
    assert all(t[2:] == before[2:] for t in seen)  # the oldest generation's as it was
    assert seen[-1] == gc.get_threshold() == before
    # overlapping batches: the last to finish restores the caller's setting
    first_in, second_done = threading.Event(), threading.Event()

    def first() -> None:
        with batch._fewer_collections():
            first_in.set()
            second_done.wait(10)

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(10)
    with batch._fewer_collections():
        pass
    second_done.set()
    assert gc.get_threshold()[0] == raised  # the first runs on
    t.join(10)
    assert gc.get_threshold() == before


def test_a_batch_freezes_the_heap_while_it_runs_and_leaves_a_frozen_one(tmp_path, pack, layers):
    import gc

    assert gc.get_freeze_count() == 0
    frozen = []
    run_batch(random_sites(300, seed=4), pack=pack, store_or_layers=layers,
              out=tmp_path / "r.parquet", chunk_size=100,
              progress=lambda done, total: frozen.append(gc.get_freeze_count()))  # fmt: skip
    # the layers and the checker frozen while the chunks run; the caller's heap after
    assert all(n > 0 for n in frozen[:-1]) and frozen[-1] == gc.get_freeze_count() == 0
    # a heap the caller froze (a forking server) is theirs: neither grown nor thawed
    gc.freeze()
    try:
        theirs = gc.get_freeze_count()
        during = []
        run_batch(random_sites(300, seed=5), pack=pack, store_or_layers=layers,
                  out=tmp_path / "r2.parquet", chunk_size=100,
                  progress=lambda done, total: during.append(gc.get_freeze_count()))  # fmt: skip
        # (frozen objects freed meanwhile leave the count: it may only go down)
        assert max(during) <= theirs and gc.get_freeze_count() > 0.9 * theirs
    finally:
        gc.unfreeze()


def test_a_workbook_too_big_for_excel_stops_early(pack, tmp_path, monkeypatch):
    """Bounded work: an .xlsx batch stops once a sheet overflows, not after checking all."""
    import zoning.check.result_tables as rt
    from zoning.check.engine import SiteChecker

    monkeypatch.setattr(rt, "EXCEL_ROWS", 60)
    checked: list[int] = []
    real = SiteChecker.check

    def counting(self, sites, *args, **kwargs):
        checked.append(len(sites))
        return real(self, sites, *args, **kwargs)

    monkeypatch.setattr(SiteChecker, "check", counting)
    sites = random_sites(600, seed=3)
    out = tmp_path / "big.xlsx"
    with pytest.raises(InputFormatError, match=r"Excel.*\.gpkg"):
        run_batch(sites, pack=pack, store_or_layers=make_layers(), out=out, chunk_size=20)
    assert not out.exists()
    assert 0 < sum(checked) < 300  # stopped after a few chunks, not 600 sites


def test_an_output_over_the_input_is_refused_and_the_input_kept(tmp_path, pack, layers):
    sites = _csv(tmp_path)
    fixed = tmp_path / "result.errors.csv"  # an errors file fixed by hand, checked again
    fixed.write_bytes(sites.read_bytes())
    before = {p: p.read_bytes() for p in (sites, fixed)}
    link = tmp_path / "link.csv"
    link.symlink_to(sites)
    cases = [
        (sites, {"out": sites}, "the output out (--out) is the input file"),
        (link, {"out": sites}, "is the input file"),  # the same file by another name
        (fixed, {"out": tmp_path / "result.csv"}, "errors_out (--errors, default"),
        (sites, {"out": tmp_path / "r.csv", "errors_out": sites}, "errors_out (--errors)"),
        (sites, {"out": tmp_path / "r.csv", "errors_out": tmp_path / "r.csv"}, "are one file"),
    ]
    for source, outputs, message in cases:
        with pytest.raises(InputFormatError, match=re.escape(message)):
            run_batch(source, pack=pack, store_or_layers=layers, **outputs)
    assert {p: p.read_bytes() for p in (sites, fixed)} == before
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "result.csv").exists()


def _pack_with_a_residential_nearest_rule():
    """The test pack plus a nearest-park rule for residential projects only."""
    from tests.zoning.conftest import _rule, make_pack
    from zoning.pack import Pack

    data = make_pack().model_dump(mode="json", exclude_none=True)
    rule = _rule(
        "park.nearest", "park", "nearest", "information", section="resource_cap",
        when={"project_types": ["residential"]},
    )  # fmt: skip
    return Pack.model_validate({**data, "rules": [*data["rules"], rule]})


def test_rules_distances_are_those_of_the_rules_applying_to_the_batch(tmp_path, layers):
    # "rules" (a batch's default): the dist_<kind>_m columns of the nearest rules that
    # apply to the batch's project; every chunk writes the same columns
    pack = _pack_with_a_residential_nearest_rule()
    sites = random_sites(300, seed=8)

    def run(name, frame=sites, **kw):
        out = tmp_path / f"{name}.parquet"
        run_batch(frame, pack=pack, store_or_layers=layers, out=out, chunk_size=70, **kw)
        return gpd.read_parquet(out).set_index("site_id")

    unknown = run("unknown")
    every = run("all", distances="all")
    assert "dist_park_m" not in unknown.columns  # an unknown project is not residential
    assert {"dist_redline_m", "dist_well_m", "dist_water_source_zone_m"} <= set(unknown.columns)
    assert "dist_park_m" in every.columns and every["dist_park_m"].notna().any()
    # the verdicts and every column in both do not change
    assert_frame_equal(unknown, every[unknown.columns])
    residential = run("residential", project=Project(project_type="residential"))
    np.testing.assert_array_equal(residential["dist_park_m"], every["dist_park_m"])
    # per-row project columns: a later row may be residential, so the column is there
    per_row = run("per_row", sites.assign(project_type="industrial"))
    assert "dist_park_m" in per_row.columns


# --------------------------------------------------------------------------- shared notes


def _flag_note(notes):
    return [n for n in notes if "flags" in n.get("asks", ())]


def test_a_batch_of_one_project_states_its_assumptions(tmp_path, pack, layers):
    sites = sites_frame([Point(at(0, 21_000)), Point(at(500, 21_000))], ids=["p", "q"])
    summary = run_batch(
        sites, pack=pack, store_or_layers=layers, out=tmp_path / "one.parquet",
        project=Project(project_type="construction"), chunk_size=1,
    )  # fmt: skip
    notes = summary.to_dict()["notes"]
    # the summary prints the demonstration layers, then what the stamp holds
    assert notes[0]["kind"] == "demo_data" and "redline" in notes[0]["text"]
    assert notes[1:] == summary.stamp["notes"]
    (flag,) = _flag_note(notes)  # the pack's well.30m tests flags nobody declared
    assert "well.30m" in flag["text"] and "well.30m.req" not in flag["text"]
    assert any("新建" in n["text"] for n in notes)


def test_a_batch_of_per_row_projects_states_the_rule_for_each_row(tmp_path, pack, layers):
    # two chunks of one project each, unlike: neither chunk's assumptions speak for
    # the whole batch, whose notes state the rule applied to each row instead
    sites = sites_frame(
        [Point(at(0, 21_000)), Point(at(500, 21_000))], ids=["p", "q"],
        project_type=["construction", "industrial"], flags=["", "sewage"],
    )  # fmt: skip
    summary = run_batch(
        sites, pack=pack, store_or_layers=layers, out=tmp_path / "rows.parquet", chunk_size=1
    )
    notes = summary.stamp["notes"]
    assert not _flag_note(notes)  # no one project's flags
    (per_row,) = [n for n in notes if "逐行" in n["text"]]
    assert "well.30m" in per_row["text"] and "row by row" in per_row["text_en"]
    assert any("WGS84" in n["text"] for n in notes)  # shared by every chunk: kept
    # the same rows in one chunk (two projects at once) state the same rule; the two
    # chunks also keep what both their projects assumed (no development kind: new)
    one = run_batch(
        sites, pack=pack, store_or_layers=layers, out=tmp_path / "rows1.parquet", chunk_size=2
    )
    assert per_row in one.stamp["notes"] and all(n in notes for n in one.stamp["notes"])


def test_a_batch_reads_every_flag_column_the_project_reader_reads(tmp_path, layers):
    # 钢铁 / 新增钢铁(…)产能 / 化工 were read by project_from_row but not by a batch: a
    # row declaring new steel capacity was checked as not declaring it (a false pass)
    steel = _rule(
        "capacity.steel", "boundary", "intersects", "prohibited", section="access_list",
        when={"flags_any": ["steel", "chemical"]},
    )  # fmt: skip
    pack = Pack.model_validate({**make_pack().model_dump(), "rules": [steel]})
    inside = Point(at(0, 21_000))
    # and names as people type them: another case, full-width brackets, a space
    for column in (
        "钢铁",
        "新增钢铁(炼铁、炼钢)产能",
        "化工园区",
        "Steel",
        "新增钢铁（炼铁、炼钢）产能 ",
    ):
        sites = sites_frame([inside, inside], ids=["yes", "no"], **{column: ["是", "否"]})
        path = tmp_path / "sites.csv"
        pd.DataFrame({"site_id": ["yes", "no"], "lon": [inside.x] * 2, "lat": [inside.y] * 2,
                      column: ["是", "否"]}).to_csv(path, index=False)  # fmt: skip
        for given in (sites, path):
            out = tmp_path / "steel.parquet"
            run_batch(given, pack=pack, store_or_layers=layers, out=out)
            got = gpd.read_parquet(out).set_index("site_id")
            assert got.loc["yes", "verdict"] == "prohibited", column
            assert got.loc["yes", "deciding_rules"] == "capacity.steel"
            assert got.loc["no", "verdict"] != "prohibited"
        result = check_sites(sites, pack=pack, layers=layers)
        assert result.findings.query("site_id == 'yes'")["rule_id"].tolist() == ["capacity.steel"]


def test_a_generic_type_column_does_not_hide_the_project_type_column(tmp_path, layers):
    # type (a land-use class here) was read before 项目类型: every row went to the
    # errors file although the file said its project types
    industrial = _rule(
        "industry.ban", "boundary", "intersects", "prohibited", section="access_list",
        when={"project_types": ["industrial"]},
    )  # fmt: skip
    pack = Pack.model_validate({**make_pack().model_dump(), "rules": [industrial]})
    inside = Point(at(0, 21_000))
    path = tmp_path / "sites.csv"
    frame = pd.DataFrame({"site_id": ["factory", "homes"], "lon": [inside.x] * 2,
                          "lat": [inside.y] * 2, "type": ["耕地", "林地"],
                          "项目类型": ["工业", "居住"]})  # fmt: skip
    frame.to_csv(path, index=False)
    out = tmp_path / "typed.parquet"
    summary = run_batch(path, pack=pack, store_or_layers=layers, out=out)
    assert summary.errors == 0
    got = gpd.read_parquet(out).set_index("site_id")
    assert got.loc["factory", "verdict"] == "prohibited"
    assert got.loc["homes", "verdict"] != "prohibited"
    # with only the generic column, the rows are errors that say how to stop it being read
    frame.drop(columns="项目类型").to_csv(path, index=False)
    summary = run_batch(path, pack=pack, store_or_layers=layers, out=out)
    assert summary.errors == 2 and summary.checked == 0
    reasons = pd.read_csv(summary.errors_out, encoding="utf-8-sig")["reason"]
    assert reasons.str.contains("'耕地'|'林地'").all()
    assert reasons.str.contains("rename it").all() and reasons.str.contains("--project-type").all()


def test_a_row_with_an_industry_code_of_no_section_is_an_error_the_others_are_checked(
    tmp_path, pack, layers
):
    inside = Point(at(0, 21_000))
    path = tmp_path / "coded.csv"
    pd.DataFrame({"site_id": ["typo", "ok"], "lon": [inside.x] * 2, "lat": [inside.y] * 2,
                  "行业代码": ["A2614", "C2614"]}).to_csv(path, index=False)  # fmt: skip
    summary = run_batch(path, pack=pack, store_or_layers=layers, out=tmp_path / "coded.parquet")
    assert summary.errors == 1 and summary.checked == 1
    errors = pd.read_csv(summary.errors_out, encoding="utf-8-sig")
    assert errors["site_id"].tolist() == ["typo"]
    assert "division 26 is C26" in errors["reason"].iloc[0]
