"""A layer verified by one process is not hashed again by the next, until the file changes."""

from __future__ import annotations

import os

import pytest

import layers.store.gpkg as store_module
from geo.errors import ChecksumMismatchError
from layers.store import LayerStore
from layers.store import verified as _verified
from tests.layers.test_store import tamper


@pytest.fixture
def hashes(monkeypatch, tmp_path) -> list[str]:
    """Count the checksum computations of reads; the verify cache in a temporary dir."""
    monkeypatch.setenv("ECOZONE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ECOZONE_VERIFY_CACHE", raising=False)
    calls: list[str] = []
    real = store_module.layer_checksum

    def counting(gdf):
        calls.append("hash")
        return real(gdf)

    monkeypatch.setattr(store_module, "layer_checksum", counting)
    return calls


def _import(path, frame) -> None:
    with LayerStore(path) as s:
        s.import_layer(frame("well", 5), name="wells", kind="well", source="s")


def test_second_process_skips_the_hash_of_an_unchanged_file(tmp_path, frame, hashes):
    path = tmp_path / "store.gpkg"
    _import(path, frame)
    with LayerStore(path) as s:  # a new store object stands for a new process
        first = s.get("wells")
    n = len(hashes)
    assert n >= 1
    with LayerStore(path) as s:
        second = s.get("wells")
    assert len(hashes) == n  # no second hash
    assert first.gdf.equals(second.gdf) and second.checksum == first.checksum
    assert _verified.cache_file().is_file()


@pytest.mark.parametrize("restore_mtime", [False, True])
def test_a_changed_file_is_hashed_again_and_tampering_found(tmp_path, frame, hashes, restore_mtime):
    path = tmp_path / "store.gpkg"
    _import(path, frame)
    with LayerStore(path) as s:
        s.get("wells")  # verified and remembered
    st = os.stat(path)
    tamper(path, "UPDATE wells__v1 SET name = '篡改' WHERE feature_id = 'well-t1'")
    if restore_mtime:  # same size, mtime set back: the change time still differs
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert os.stat(path).st_size == st.st_size
    with LayerStore(path) as s, pytest.raises(ChecksumMismatchError, match="wells"):
        s.get("wells")


def test_switched_off_hashes_every_read(tmp_path, frame, hashes, monkeypatch):
    monkeypatch.setenv("ECOZONE_VERIFY_CACHE", "0")
    path = tmp_path / "store.gpkg"
    _import(path, frame)
    n = len(hashes)
    for _ in range(2):
        with LayerStore(path) as s:
            s.get("wells")
    assert len(hashes) == n + 2
    assert _verified.cache_file() is None and not (tmp_path / "cache").exists()


def test_verify_always_hashes(tmp_path, frame, hashes):
    path = tmp_path / "store.gpkg"
    _import(path, frame)
    with LayerStore(path) as s:
        s.get("wells")
    n = len(hashes)
    with LayerStore(path) as s:
        assert all(r["ok"] for r in s.verify())
    assert len(hashes) == n + 1


def test_unwritable_cache_is_ignored(tmp_path, frame, hashes, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("ECOZONE_CACHE_DIR", str(blocker / "cache"))
    path = tmp_path / "store.gpkg"
    _import(path, frame)
    n = len(hashes)
    for _ in range(2):
        with LayerStore(path) as s:
            assert len(s.get("wells").gdf) == 5
    assert len(hashes) == n + 2  # nothing remembered, every read hashed
