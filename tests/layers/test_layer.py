from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.layer import Layer, layer_checksum


@pytest.fixture
def gdf() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "feature_id": ["b", "a", "c"],
            "name": ["乙", "甲", None],
            "count": [2, 1, 3],
            "share": [0.5, 0.25, np.nan],
            "synthetic": [True, False, True],
        },
        geometry=[shapely.Point(116.4, 39.9), shapely.box(116, 39, 117, 40), None],
        crs="EPSG:4326",
    )


def test_checksum_is_sha256_hex(gdf):
    digest = layer_checksum(gdf)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest == layer_checksum(gdf.copy())


def test_row_and_column_order_do_not_matter(gdf):
    cols = ["share", "synthetic", "geometry", "name", "feature_id", "count"]
    shuffled = gdf.iloc[[2, 0, 1]][cols]
    assert layer_checksum(shuffled) == layer_checksum(gdf)


@pytest.mark.parametrize(
    "change",
    [
        lambda g: g.assign(name=["乙", "甲", "丙"]),
        lambda g: g.assign(count=[2, 1, 4]),
        lambda g: g.assign(share=[0.5, 0.25, 0.0]),
        lambda g: g.assign(synthetic=[True, True, True]),
        lambda g: g.rename(columns={"count": "n"}),
        lambda g: g.set_geometry([shapely.Point(116.4, 39.9000001), g.geometry[1], None], crs=4326),
        lambda g: g.to_crs(4490),
        lambda g: g.iloc[:2],
    ],
    ids=["text", "int", "float", "bool", "column-name", "geometry", "crs", "rows"],
)
def test_any_content_change_changes_the_digest(gdf, change):
    assert layer_checksum(change(gdf)) != layer_checksum(gdf)


def test_null_differs_from_text_none(gdf):
    assert layer_checksum(gdf.assign(name=["乙", "甲", "None"])) != layer_checksum(gdf)


def test_integral_floats_equal_ints_but_fractions_do_not(gdf):
    as_float = gdf.assign(count=[2.0, 1.0, 3.0])
    assert layer_checksum(as_float) == layer_checksum(gdf)
    assert layer_checksum(gdf.assign(count=[2.5, 1.0, 3.0])) != layer_checksum(gdf)
    nullable = gdf.assign(count=pd.array([2, 1, 3], dtype="Int64"))
    assert layer_checksum(nullable) == layer_checksum(gdf)


def test_digest_is_recomputable_from_its_definition():
    # One point, one text column: rebuild the canonical stream by hand.
    one = gpd.GeoDataFrame({"feature_id": ["x"]}, geometry=[shapely.Point(1, 2)], crs=4326)
    h = hashlib.sha256(b"ecozone-layer-checksum/1\n")
    h.update(b'{"columns": ["feature_id"], "crs": "EPSG:4326", "rows": 1}')
    h.update(b'["feature_id", "s", ["x"]]')
    wkb = shapely.Point(1, 2).wkb  # little-endian ISO WKB
    h.update(np.array([len(wkb)], "<i8").tobytes() + wkb)
    assert layer_checksum(one) == h.hexdigest()


def test_same_digest_through_gpkg_with_and_without_arrow(gdf, tmp_path):
    path = tmp_path / "t.gpkg"
    pyogrio.write_dataframe(gdf, path, layer="t", driver="GPKG")
    plain = pyogrio.read_dataframe(path, layer="t", use_arrow=False)
    arrow = pyogrio.read_dataframe(path, layer="t", use_arrow=True)
    assert layer_checksum(plain) == layer_checksum(arrow)
    # The write itself is lossless here, so the digest survives the round trip.
    assert layer_checksum(plain) == layer_checksum(gdf)


def test_layer_labels_and_stamp(gdf):
    layer = Layer(
        gdf=gdf,
        kind="well",
        name="wells",
        source="test",
        source_date="2024-01",
        version=2,
        crs="EPSG:4326",
        row_count=3,
        checksum=layer_checksum(gdf),
        synthetic=True,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert layer.label_zh == "饮用水水源井" and layer.label_en == "Drinking-water well"
    assert layer.color.startswith("#")
    assert layer.stamp() == {
        "name": "wells",
        "kind": "well",
        "version": 2,
        "checksum": layer_checksum(gdf),
        "synthetic": True,
    }
    assert "wells' v2" in repr(layer) and "synthetic" in repr(layer)
