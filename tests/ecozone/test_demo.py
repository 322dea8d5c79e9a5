"""``ecozone demo`` end to end (what ``make demo`` runs), over a copy of the demo store.

Checks that every promised output exists and is what it says it is — a report whose
verdict is the one printed, coverage tables whose "met" follows from value and target,
an offline interactive map, a print map, a GeoTIFF that opens with a CRS — not the
figures themselves (the unit tests of each capability check those).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner

from ecozone.cli.main import cli
from tests.maps.test_interactive import external_urls

DEMO = Path(__file__).resolve().parents[2] / "data" / "ecozone_demo.gpkg"

pytestmark = pytest.mark.skipif(not DEMO.is_file(), reason="demo store not built")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    store = tmp / "store.gpkg"
    shutil.copyfile(DEMO, store)
    out = tmp / "out"
    res = CliRunner().invoke(cli, ["demo", "--out", str(out), "--store", str(store), "--json"])
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


def test_every_output_is_written_under_the_output_folder(demo_run):
    out, summary = demo_run
    expected = {
        "report.json", "report.html", "report.docx", "coverage-beijing", "coverage-tongzhou",
        "map.html", "map.png", "map.pdf", "coverage.tif",
    }  # fmt: skip
    assert expected <= set(summary["files"])
    for key, path in summary["files"].items():
        p = Path(path)
        assert p.is_file() and p.stat().st_size > 0, key
        assert p.resolve().is_relative_to(out.resolve()), key
    # one form for every path (the PDF's was absolute while the others were not)
    assert len({Path(p).is_absolute() for p in summary["files"].values()}) == 1


def test_the_site_report_is_the_printed_verdict(demo_run):
    _, summary = demo_run
    report = json.loads(Path(summary["files"]["report.json"]).read_text(encoding="utf-8"))
    assert report["schema"] == "ecozone.report/1"
    assert report["verdict"]["code"] == summary["verdict"]
    assert len(report["findings"]) == summary["findings"] > 0
    assert all(f["citations"] for f in report["findings"])  # every finding cites its source
    html = Path(summary["files"]["report.html"]).read_text(encoding="utf-8")
    assert report["verdict"]["label_zh"] in html
    with zipfile.ZipFile(summary["files"]["report.docx"]) as z:
        assert report["verdict"]["label_zh"] in z.read("word/document.xml").decode("utf-8")


@pytest.mark.parametrize("name", ["beijing", "tongzhou"])
def test_coverage_tables_say_met_when_the_value_reaches_the_target(demo_run, name):
    _, summary = demo_run
    table = pd.read_csv(summary["files"][f"coverage-{name}.long"], encoding="utf-8-sig")
    assert table["citation"].notna().all()  # each target names its plan line
    measured = table[table["status"].isin(["met", "unmet"])]  # judged at their own scope
    assert len(measured) >= 2
    for row in measured.itertuples():
        above = row.value >= row.target
        assert bool(row.met) == (above if row.comparison == ">=" else row.value <= row.target)
        assert row.status == ("met" if row.met else "unmet")
        # the gap in percentage points for shares, else in the metric's own unit
        gap = row.gap_pp if row.unit == "%" else row.gap_abs
        assert gap == pytest.approx(row.target - row.value)
    # the figures not judged say why: a contribution, partial data or no data
    others = table[~table["status"].isin(["met", "unmet"])]
    assert set(others["status"]) <= {"partial", "contribution", "no_data"}
    assert others["met"].isna().all()
    for suffix in ("xlsx", "docx"):
        assert Path(summary["files"][f"coverage-{name}.{suffix}"]).stat().st_size > 0


def test_every_beijing_target_is_measured(demo_run):
    """The demo's data measure every Beijing target (none left without a value)."""
    _, summary = demo_run
    beijing = {r["target_id"]: r for r in summary["coverage"]["beijing"]}
    assert beijing and all(r["measured"] for r in beijing.values()), beijing


def test_the_interactive_map_loads_nothing_from_outside(demo_run):
    _, summary = demo_run
    html = Path(summary["files"]["map.html"]).read_text(encoding="utf-8")
    assert "L.map" in html
    assert external_urls(html) == []  # no CDN, no tile server


def test_the_coverage_raster_is_a_georeferenced_geotiff(demo_run):
    _, summary = demo_run
    with rasterio.open(summary["files"]["coverage.tif"]) as src:
        assert src.driver == "GTiff"
        assert src.crs is not None and src.crs.is_projected  # metres, not degrees
        band = src.read(1, masked=True)
    values = np.unique(band.compressed())
    assert len(values) >= 2  # covered and uncovered cells both present
