"""Issue #13 §4: a full disk in the CLI is one clear line, exit ≠ 0, nothing partial.

Each command writes to a small tmpfs (mounted here when the tests run as root),
filled so that the write fails: the command must end with exit code 1 and one
``Error: 磁盘已满 / could not write ...`` line naming the output and the free space,
without a traceback, and leave no new file behind (no ``results.errors.csv`` beside a
failed results file, no ``report.json`` from a failed report) and the previous
file intact. Without root a subprocess with ``RLIMIT_FSIZE`` plays the full disk.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecozone.cli.main import cli

SITES = "site_id,lon,lat,项目名称\nA,116.70,39.90,甲\nB,116.40,39.95,乙\nC,abc,39.9,坏行\n"


@pytest.fixture()
def full_disk(tmp_path):
    """A 3 MB tmpfs; ``fill(free_kb)`` leaves that much room."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root); see the RLIMIT_FSIZE test")

    def fill(free_kb: int) -> None:
        filler = mnt / ".filler"
        filler.unlink(missing_ok=True)
        room = shutil.disk_usage(mnt).free
        filler.write_bytes(b"\0" * max(room - free_kb * 1024, 0))

    try:
        yield mnt, fill
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The demo store, initialised once (on the normal disk)."""
    path = tmp_path_factory.mktemp("diskfull") / "store.gpkg"
    env = {**os.environ, "ECOZONE_STORE": str(path)}
    done = subprocess.run(
        [sys.executable, "-m", "ecozone.cli.main", "layers", "list"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return path


def _run(args: list[str]) -> object:
    return CliRunner().invoke(cli, args)


def _assert_one_clear_line(res, target: Path) -> None:
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, res.output
    assert "磁盘已满" in lines[0] and str(target) in lines[0] and "MB free" in lines[0]


def _left(mnt: Path) -> set[str]:
    return {p.name for p in mnt.rglob("*") if p.name != ".filler"}


@pytest.mark.parametrize("suffix", [".csv", ".gpkg", ".xlsx"])
def test_check_out_full_disk(full_disk, store, tmp_path, suffix):
    mnt, fill = full_disk
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    fill(4)
    out = mnt / f"results{suffix}"
    res = _run(["check", str(sites), "--out", str(out), "--store", str(store)])
    _assert_one_clear_line(res, out)
    assert _left(mnt) == set()  # no results file, no results.errors.csv, no temporary


def test_failed_batch_keeps_the_old_results(full_disk, store, tmp_path):
    mnt, fill = full_disk
    sites = tmp_path / "sites.csv"
    sites.write_text(SITES, encoding="utf-8")
    out = mnt / "results.gpkg"
    res = _run(["check", str(sites), "--out", str(out), "--store", str(store)])
    assert res.exit_code == 0, res.output
    before = {p.name: p.read_bytes() for p in mnt.iterdir() if p.is_file()}
    assert "results.gpkg" in before
    fill(2)
    sites.write_text(SITES + "D,116.5,39.8,丁\n", encoding="utf-8")
    res = _run(["check", str(sites), "--out", str(out), "--store", str(store)])
    _assert_one_clear_line(res, out)
    after = {p.name: p.read_bytes() for p in mnt.iterdir() if p.is_file() and p.name != ".filler"}
    assert after == before  # the old results and errors files, untouched


def test_report_full_disk_leaves_no_report_json(full_disk, store):
    mnt, fill = full_disk
    fill(40)  # room for report.json, not for the rest
    outdir = mnt / "report"
    res = _run(["check", "--at", "116.70,39.90", "--report", str(outdir), "--store", str(store)])
    _assert_one_clear_line(res, outdir)
    assert not (outdir / "report.json").exists()
    assert _left(mnt) <= {"report"} and not any(outdir.glob("*")) if outdir.exists() else True


@pytest.mark.parametrize("name", ["map.html", "map.png", "map.tif"])
def test_map_full_disk(full_disk, store, name):
    mnt, fill = full_disk
    fill(4)
    out = mnt / name
    res = _run(["map", "--out", str(out), "--store", str(store)])
    _assert_one_clear_line(res, out)
    assert _left(mnt) == set()


def test_ledger_and_stakes_full_disk(full_disk, store, tmp_path):
    mnt, fill = full_disk
    poly = tmp_path / "red.geojson"
    poly.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"Polygon","coordinates":[[[116.7,39.9],[116.72,39.9],'
        "[116.72,39.92],[116.7,39.92],[116.7,39.9]]]}}]}",
        encoding="utf-8",
    )
    fill(2)
    for args, out in (
        (["ledger", "--out"], mnt / "ledger.xlsx"),
        (["stakes", str(poly), "--out"], mnt / "stakes.xlsx"),
    ):
        res = _run([*args, str(out), "--store", str(store)])
        _assert_one_clear_line(res, out)
    assert _left(mnt) == set()


@pytest.mark.parametrize("how", ["--store", "ECOZONE_STORE"])
def test_first_store_initialisation_full_disk(full_disk, monkeypatch, how):
    mnt, fill = full_disk
    fill(40)  # the demo store (18 MB) or a new empty store's schema does not fit
    new_store = mnt / "new.gpkg"
    if how == "--store":
        res = _run(["layers", "list", "--store", str(new_store)])
    else:
        monkeypatch.setenv("ECOZONE_STORE", str(new_store))
        res = _run(["layers", "list"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "磁盘已满" in res.output and "MB free" in res.output
    assert _left(mnt) == set()  # no half-copied store, no temporary


def test_layers_import_into_a_full_store_keeps_it(full_disk, store, tmp_path):
    mnt, fill = full_disk
    small = mnt / "small.gpkg"
    shutil.copy(store, tmp_path / "copy.gpkg")
    # a store of its own on the small disk: the demo store does not fit, so import
    # one layer into a new store first
    geojson = tmp_path / "park.geojson"
    geojson.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"feature_id":"P1","name":"园"},"geometry":{"type":"Polygon","coordinates":'
        "[[[116.7,39.9],[116.71,39.9],[116.71,39.91],[116.7,39.9]]]}}]}",
        encoding="utf-8",
    )
    from layers import LayerStore

    with LayerStore(small) as st:
        st.import_layer(geojson, name="park_x", kind="park", source="test")
    before = small.read_bytes()
    fill(1)
    res = _run(
        ["layers", "import", str(geojson), "--name", "park_y", "--kind", "park",
         "--source", "test", "--store", str(small)]
    )  # fmt: skip
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "磁盘已满" in res.output
    with LayerStore(small) as st:
        assert "park_y" not in set(st.list_layers()["name"])
        assert st.get("park_x").row_count == 1
    assert len(small.read_bytes()) == len(before)


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_file_size_limit_is_reported_like_a_full_disk(store, tmp_path):
    """Without root: a size-limited process meets EFBIG, reported the same way."""
    out = tmp_path / "map.png"
    env = {**os.environ, "ECOZONE_STORE": str(store)}
    done = subprocess.run(
        [sys.executable, "-m", "ecozone.cli.main", "map", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=_limit_file_size,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "磁盘已满" in done.stderr and str(out) in done.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".map.png")]
