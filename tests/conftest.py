"""Shared fixtures: every test runs against a private store, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_store(tmp_path_factory, monkeypatch):
    """Point ``$ECOZONE_STORE`` at a per-test temporary path."""
    monkeypatch.setenv("ECOZONE_STORE", str(tmp_path_factory.mktemp("store") / "store.gpkg"))


#: The full texts of the seed plans (``../shared/seeds/`` beside the checkout).
SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


@pytest.fixture(autouse=True)
def _sources_folder(monkeypatch):
    """Point ``$ECOZONE_SOURCES`` at the seed texts (``ecozone sources show``, source pages)."""
    if SEEDS.is_dir():
        monkeypatch.setenv("ECOZONE_SOURCES", str(SEEDS))
