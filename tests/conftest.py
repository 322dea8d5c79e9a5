"""Shared fixtures: every test runs against a private store, never the user's."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest


def pytest_configure(config):
    """Under pytest-xdist, give each worker its own temporary folder (``$TMPDIR``).

    Tests and the programs they start (PostgreSQL, soffice, Chromium, QGIS) then never
    see another worker's files, e.g. a test counting ``ecozone-upload-*`` folders.

    ``make test`` runs ``pytest -n 2 --dist loadfile``: each test module runs whole on
    one worker, so module- and session-scoped fixtures (the demo run, the PostGIS
    server, uvicorn servers, Chromium) are built at most once per worker.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    tmp = Path(tempfile.mkdtemp(prefix=f"ecozone-pytest-{worker}-"))
    tmp.chmod(0o755)  # the PostGIS test server may run as the postgres user
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = None  # recomputed from $TMPDIR
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # after the servers stop


#: Threads that read layers (GDAL) in the background of a test's web app.
_BACKGROUND_READERS = ("ecozone-warm",)


def _join_background_readers(timeout_s: float = 120.0) -> None:
    for thread in threading.enumerate():
        if thread.name in _BACKGROUND_READERS and thread is not threading.current_thread():
            thread.join(timeout_s)


@pytest.fixture(autouse=True)
def _environment_quiet(monkeypatch):
    """Let a web app's warm-up thread finish before the environment changes, and after.

    The fixtures below change ``os.environ`` for every test (``setenv``, undone at the
    end), while a server a module started may still be reading its layers in the
    app's warm-up thread, through GDAL, which reads its options with ``getenv``. glibc's
    ``setenv`` and ``getenv`` at once in two threads can crash the process (a CI run
    lost a worker to a segmentation fault so). Requested before them, this fixture
    waits for those threads at their setup and again before ``monkeypatch`` undoes them.
    """
    _join_background_readers()
    yield
    _join_background_readers()


@pytest.fixture(autouse=True)
def _private_store(_environment_quiet, tmp_path_factory, monkeypatch):
    """Point ``$ECOZONE_STORE`` (and the verified-layers cache) at per-test temporary paths."""
    monkeypatch.setenv("ECOZONE_STORE", str(tmp_path_factory.mktemp("store") / "store.gpkg"))
    # never the user's ~/.cache (tests of the cache set their own folder)
    monkeypatch.setenv("ECOZONE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


#: The full texts of the seed plans (``../shared/seeds/`` beside the checkout).
SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


@pytest.fixture(autouse=True)
def _sources_folder(_environment_quiet, monkeypatch):
    """Point ``$ECOZONE_SOURCES`` at the seed texts (``ecozone sources show``, source pages)."""
    if SEEDS.is_dir():
        monkeypatch.setenv("ECOZONE_SOURCES", str(SEEDS))
