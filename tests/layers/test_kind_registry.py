"""The layer-kind registry: style hints read by maps and web, and the old-name shim."""

from __future__ import annotations

import shutil
import sqlite3

import geopandas as gpd
import pytest
from shapely.geometry import box

from layers import LayerStore, embedded_dataset_path
from layers.kinds import (
    KIND_ALIASES,
    KINDS,
    LAYER_KINDS,
    canonical_kind,
    kind_aliases,
    kind_info,
    kinds_in_view,
)


def test_old_kind_names_read_as_generic_kinds():
    assert dict(KIND_ALIASES) == {
        "tongzhou_key_area": "key_area",
        "tongzhou_strict_zone": "strict_zone",
    }
    assert kind_info("tongzhou_key_area") is KINDS["key_area"]
    assert canonical_kind("tongzhou_strict_zone") == "strict_zone"
    assert canonical_kind("redline") == "redline"
    assert canonical_kind("no_such_kind") == "no_such_kind"
    assert kind_aliases("key_area") == ("key_area", "tongzhou_key_area")
    assert not set(KIND_ALIASES) & set(LAYER_KINDS)
    # the generic zones carry no jurisdiction's name; a pack gives it
    for kind in ("key_area", "strict_zone"):
        spec = KINDS[kind]
        assert spec.pack_named
        assert "通州" not in spec.label_zh and "Tongzhou" not in spec.label_en
    assert {k for k, s in KINDS.items() if s.pack_named} == {"key_area", "strict_zone"}


def test_maps_and_web_read_the_registry():
    from ecozone.web.checks import _CONTEXT_KINDS, _page_order
    from ecozone.web.coverage_view import _MAP_KINDS
    from maps.style import LAYER_STYLES, layer_style

    assert set(LAYER_STYLES) == set(LAYER_KINDS)
    for kind, spec in KINDS.items():
        st = layer_style(kind)
        assert (st.color, st.fill, st.zorder, st.hatch, st.dash) == (
            spec.style.color,
            spec.style.fill,
            spec.style.zorder,
            spec.style.hatch,
            spec.style.dash,
        )
        assert (st.label_zh, st.label_en) == (spec.label_zh, spec.label_en)
    assert layer_style("tongzhou_strict_zone") == layer_style("strict_zone")
    assert _CONTEXT_KINDS == kinds_in_view("context")
    assert _MAP_KINDS == kinds_in_view("coverage") == ("eco_control", "park", "redline")
    assert _CONTEXT_KINDS[0] == "reference" and "strict_zone" in _CONTEXT_KINDS
    order = sorted(["well", "boundary", "sponge", "reference", "not_a_kind"], key=_page_order)
    assert order == ["reference", "boundary", "well", "sponge", "not_a_kind"]
    with pytest.raises(ValueError, match="unknown view"):
        kinds_in_view("nowhere")


def test_store_holding_old_kind_names_keeps_working(tmp_path):
    """A store written with the old names (as the shipped demo is) reads as the new kinds."""
    path = tmp_path / "old.gpkg"
    zone = gpd.GeoDataFrame(
        {"feature_id": ["k1"], "name": ["重点区域"]},
        geometry=[box(116.6, 39.9, 116.7, 40.0)],
        crs="EPSG:4326",
    )
    with LayerStore(path) as st:
        st.import_layer(zone, name="old_key", kind="key_area", source="test")
    con = sqlite3.connect(path)  # what an older ecozone wrote
    con.execute("UPDATE ecozone_layer_versions SET kind = 'tongzhou_key_area'")
    con.commit()
    con.close()
    with LayerStore(path) as st:
        layer = st.get_kind("key_area")
        assert layer.kind == "key_area" and list(layer.gdf["feature_id"]) == ["k1"]
        assert st.get_kind("tongzhou_key_area").name == "old_key"
        assert list(st.list_layers()["kind"]) == ["key_area"]
        # a new version under the old layer name is the same kind
        v2 = st.import_layer(zone, name="old_key", kind="key_area", source="test v2")
        assert v2.version == 2


def test_shipped_demo_store_reads_generic_zones(tmp_path):
    embedded = embedded_dataset_path()
    if embedded is None:
        pytest.skip("embedded demo data not installed")
    copy = tmp_path / "demo.gpkg"
    shutil.copy(embedded, copy)
    with LayerStore(copy) as st:
        kinds = set(st.list_layers()["kind"])
        assert {"key_area", "strict_zone"} <= kinds
        assert not kinds & set(KIND_ALIASES)
        assert len(st.get_kind("strict_zone").gdf) == 2
        assert len(st.get_kind("key_area").gdf) == 1
