"""Issue #13 §5: a damaged store says so instead of crashing, and is never rewritten.

- one flipped bit in a red-line row's coordinates, or bytes that make its geometry
  undecodable: reading the layer, ``check`` and ``coverage`` fail with the checksum
  message (never a GEOSException), and ``ecozone layers verify`` names the damaged
  version (exit 1);
- a 0-byte file or a SQLite database of another application given as the store is
  refused with a clear message and left byte for byte unchanged.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecozone.cli.main import cli
from geo.errors import ChecksumMismatchError, StoreError
from layers import LayerStore
from tests.ecozone._webdata import build_store


def _redline_blob(path: Path) -> tuple[str, str, int, bytes]:
    with sqlite3.connect(path) as con:
        (table,) = con.execute(
            "SELECT table_name FROM ecozone_layer_versions WHERE kind = 'redline' "
            "ORDER BY version DESC LIMIT 1"
        ).fetchone()
        (geom_col,) = con.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
        ).fetchone()
        fid, blob = con.execute(f'SELECT fid, "{geom_col}" FROM "{table}" LIMIT 1').fetchone()
    return table, geom_col, fid, bytes(blob)


def _write_blob(path: Path, table: str, col: str, fid: int, blob: bytes) -> None:
    with sqlite3.connect(path) as con:
        # the GeoPackage's R-tree triggers call SpatiaLite functions: plain stand-ins
        # (the damage, not the index, is under test)
        con.create_function("ST_IsEmpty", 1, lambda g: 0)
        for name in ("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            con.create_function(name, 1, lambda g: 0.0)
        con.execute(f'UPDATE "{table}" SET "{col}" = ? WHERE fid = ?', (blob, fid))


def _damage(path: Path, how: str) -> None:
    table, col, fid, blob = _redline_blob(path)
    data = bytearray(blob)
    if how == "coordinate":
        data[-3] ^= 0x10  # one bit of the last coordinate's mantissa
    else:  # the WKB geometry type after the GeoPackage header: undecodable
        flags = data[3]
        envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0x07]
        start = 8 + envelope
        data[start + 1 : start + 5] = b"\xff\xff\xff\x7f"
    _write_blob(path, table, col, fid, bytes(data))


@pytest.fixture()
def store(tmp_path):
    return build_store(tmp_path / "store.gpkg")


@pytest.mark.parametrize("how", ["coordinate", "undecodable"])
def test_damaged_redline_row_gives_the_checksum_message(store, how):
    _damage(store, how)
    with LayerStore(store) as st, pytest.raises(ChecksumMismatchError, match="checksum"):
        st.get_kind("redline")
    runner = CliRunner()
    for args in (
        ["check", "--at", "116.70,39.90", "--pack", "beijing"],
        ["coverage", "--pack", "beijing"],
    ):
        res = runner.invoke(cli, [*args, "--store", str(store)])
        assert res.exit_code == 1, res.output
        assert "checksum" in res.output and "GEOS" not in type(res.exception).__name__
        assert "Traceback" not in res.output
    res = runner.invoke(cli, ["layers", "verify", "--store", str(store), "--json"])
    assert res.exit_code == 1
    assert "damaged" in res.output and "redline" in res.output


def test_verify_passes_an_intact_store(store):
    res = CliRunner().invoke(cli, ["layers", "verify", "--store", str(store)])
    assert res.exit_code == 0, res.output
    assert "verified" in res.output


@pytest.mark.parametrize("content", [b"", b"not a database at all", "sqlite"], ids=str)
def test_a_non_store_file_is_refused_and_left_alone(tmp_path, content):
    path = tmp_path / "store.gpkg"
    if content == "sqlite":
        with sqlite3.connect(path) as con:
            con.execute("PRAGMA application_id = 1234")
            con.execute("CREATE TABLE notes (x TEXT)")
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="left unchanged"):
        LayerStore(path)
    res = CliRunner().invoke(cli, ["coverage", "--pack", "beijing", "--store", str(path)])
    assert res.exit_code == 1 and "left unchanged" in res.output
    assert path.read_bytes() == before
