"""Shared fixtures: every test runs against a private store, never the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_store(tmp_path_factory, monkeypatch):
    """Point ``$ECOZONE_STORE`` at a per-test temporary path."""
    monkeypatch.setenv("ECOZONE_STORE", str(tmp_path_factory.mktemp("store") / "store.gpkg"))
