"""Issue #13 §6: every CSV a spreadsheet may open is formula-safe; ``--raw`` keeps text.

Site names such as ``=HYPERLINK(...)``, ``+cmd``, ``@SUM(...)`` and ``-2+3`` were
written raw by ``check --out results.csv``, ``layers export NAME out.csv``,
``coords convert --csv --out`` and ``clues --out x.csv``. Each output is read back
as text with the csv module (independently of the writer): a dangerous cell starts
with ``'``; with ``--raw`` it is the exact input.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecozone.cli.main import cli
from tests.ecozone._webdata import at, build_store

DANGEROUS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


def _cells(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def _expect(cells: list[str], raw: bool) -> None:
    assert sorted(cells) == sorted(DANGEROUS if raw else ["'" + d for d in DANGEROUS])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("formulas") / "store.gpkg")


def _run(args: list[str]) -> None:
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("raw", [False, True], ids=["safe", "raw"])
def test_check_out_csv(store, tmp_path, raw):
    sites = tmp_path / "sites.csv"
    lines = ["site_id,lon,lat,name"]
    for i, name in enumerate(DANGEROUS):
        lon, lat = at(-3000 - 100 * i, 3000)
        quoted = '"' + name.replace('"', '""') + '"'
        lines.append(f"S{i},{lon},{lat},{quoted}")
    sites.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "results.csv"
    _run(["check", str(sites), "--out", str(out), "--store", str(store), *(["--raw"] * raw)])
    _expect(_cells(out, "name"), raw)


def _layer_file(path: Path) -> Path:
    feats = []
    for i, name in enumerate(DANGEROUS):
        lon, lat = at(-5000 - 300 * i, -5000)
        ring = [[lon, lat], [lon + 0.001, lat], [lon + 0.001, lat + 0.001], [lon, lat]]
        feats.append(
            {
                "type": "Feature",
                "properties": {"feature_id": f"P{i}", "name": name},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return path


@pytest.mark.parametrize("raw", [False, True], ids=["safe", "raw"])
def test_layers_export_csv(store, tmp_path, raw):
    src = _layer_file(tmp_path / "parks.geojson")
    _run(["layers", "import", str(src), "--name", "park_f", "--kind", "park",
          "--source", "test", "--store", str(store)])  # fmt: skip
    out = tmp_path / "out.csv"
    _run(["layers", "export", "park_f", str(out), "--store", str(store), *(["--raw"] * raw)])
    _expect(_cells(out, "name"), raw)


@pytest.mark.parametrize("raw", [False, True], ids=["safe", "raw"])
def test_coords_convert_csv(tmp_path, raw):
    src = tmp_path / "points.csv"
    rows = ["lon,lat,label"] + [
        f'116.40{i},39.90{i},"{d.replace(chr(34), chr(34) * 2)}"' for i, d in enumerate(DANGEROUS)
    ]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "wgs.csv"
    _run(["coords", "convert", "--from", "gcj02", "--to", "wgs84", "--csv", str(src),
          "--out", str(out), *(["--raw"] * raw)])  # fmt: skip
    _expect(_cells(out, "label"), raw)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".wgs.csv")]


@pytest.mark.parametrize("raw", [False, True], ids=["safe", "raw"])
def test_clues_out_csv(store, tmp_path, raw):
    src = _layer_file(tmp_path / "clues.geojson")
    out = tmp_path / "x.csv"
    _run(["clues", str(src), "--out", str(out), "--store", str(store), *(["--raw"] * raw)])
    _expect(_cells(out, "name"), raw)


def test_numbers_stay_numbers(store, tmp_path):
    """Plain negative numbers are data, not formulas: they are never prefixed."""
    src = tmp_path / "points.csv"
    src.write_text("lon,lat,h\n116.40,39.90,-12.5\n", encoding="utf-8")
    out = tmp_path / "wgs.csv"
    _run(["coords", "convert", "--from", "gcj02", "--to", "wgs84", "--csv", str(src),
          "--out", str(out)])  # fmt: skip
    assert _cells(out, "h") == ["-12.5"]
