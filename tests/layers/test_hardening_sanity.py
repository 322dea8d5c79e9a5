"""Issue #13 §7: wrong data is not let into the store without ``--force``.

A red line at 0,0, or zone-39 Gauss-Krüger data imported with ``--crs EPSG:4549``
(zone 40), used to be imported silently and replaced every red line. The store's
jurisdictions (its boundary layer) and a layer's declared extent now refuse such
data with the likely cause (the CRS that would put it inside, found by pyproj), and
``force=True`` stores it with the forced import recorded in the history.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer

from ecozone.cli.main import cli
from geo.errors import LayerValidationError
from layers import LayerStore
from tests.ecozone._webdata import at, build_store


def _square_lonlat(east: float, north: float, size: float = 500.0) -> shapely.Polygon:
    return shapely.Polygon(
        [at(east, north), at(east + size, north), at(east + size, north + size),
         at(east, north + size)]
    )  # fmt: skip


def _frame(geom: shapely.Geometry, crs: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"feature_id": ["R1"], "name": ["红线"]}, geometry=[geom], crs=crs)


def _in_crs(geom: shapely.Geometry, code: int) -> shapely.Geometry:
    t = Transformer.from_crs(4326, code, always_xy=True)
    return shapely.transform(
        geom, lambda xy: list(zip(*t.transform(xy[:, 0], xy[:, 1]), strict=True))
    )


@pytest.fixture()
def store(tmp_path):
    return build_store(tmp_path / "store.gpkg")


def test_red_line_at_null_island_is_refused(store):
    gdf = _frame(shapely.box(0.0, 0.0, 0.01, 0.01), "EPSG:4326")
    with LayerStore(store) as st, pytest.raises(LayerValidationError, match="0°, 0°"):
        st.import_layer(gdf, name="redline", kind="redline", source="test")
    with LayerStore(store) as st:
        assert st.get_kind("redline").version == 1  # the old red line is still the one


def test_zone_39_data_labelled_zone_40_names_the_right_crs(store):
    geom = _in_crs(_square_lonlat(-3000, 3000), 4548)  # CGCS2000 GK CM 117°E (zone 39)
    gdf = _frame(geom, "EPSG:4549")  # wrongly labelled CM 120°E (zone 40)
    with LayerStore(store) as st, pytest.raises(LayerValidationError) as err:
        st.import_layer(gdf, name="redline", kind="redline", source="test")
    msg = str(err.value)
    assert "EPSG:4548" in msg and "--force" in msg and "likely cause" in msg


def test_prefixed_eastings_labelled_without_prefix(store):
    geom = _in_crs(_square_lonlat(-3000, 3000), 4527)  # zone-prefixed eastings
    gdf = _frame(geom, "EPSG:4548")
    with LayerStore(store) as st, pytest.raises(LayerValidationError, match="EPSG:4527"):
        st.import_layer(gdf, name="redline", kind="redline", source="test")


def test_swapped_axes_are_suggested(store):
    poly = _square_lonlat(-3000, 3000)
    swapped = shapely.transform(poly, lambda xy: xy[:, ::-1])
    with LayerStore(store) as st, pytest.raises(LayerValidationError, match="swapped"):
        st.import_layer(_frame(swapped, "EPSG:4326"), name="redline", kind="redline",
                        source="test")  # fmt: skip


def test_outside_the_declared_extent(store):
    # inside the store's jurisdiction, but in district 110112 while declared 110105
    gdf = _frame(_square_lonlat(-20000, 0), "EPSG:4326")
    with LayerStore(store) as st, pytest.raises(LayerValidationError, match="declared extent"):
        st.import_layer(gdf, name="park_x", kind="park", source="test", extent="110105")
    with LayerStore(store) as st:  # where it belongs: accepted
        layer = st.import_layer(gdf, name="park_x", kind="park", source="t", extent="110112")
        assert layer.version == 1


def test_forced_import_is_recorded(store):
    gdf = _frame(shapely.box(0.0, 0.0, 0.01, 0.01), "EPSG:4326")
    with LayerStore(store) as st:
        layer = st.import_layer(gdf, name="redline", kind="redline", source="doc", force=True)
        hist = st.history("redline")
    assert layer.version == 2
    assert "forced import" in hist["source"].iloc[-1] and "0°, 0°" in hist["source"].iloc[-1]
    assert "forced" not in hist["source"].iloc[0]


def test_correct_data_passes(store):
    geom = _in_crs(_square_lonlat(-3000, 3000), 4548)
    with LayerStore(store) as st:
        layer = st.import_layer(_frame(geom, "EPSG:4548"), name="redline", kind="redline",
                                source="test")  # fmt: skip
    assert layer.version == 2 and "forced" not in layer.source


def test_cli_refuses_then_forces(store, tmp_path):
    path = tmp_path / "red.geojson"
    _frame(shapely.box(0.0, 0.0, 0.01, 0.01), "EPSG:4326").to_file(path)
    args = ["layers", "import", str(path), "--kind", "redline", "--source", "t",
            "--store", str(store)]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and "--force" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, [*args, "--force"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["layers", "history", "redline", "--store", str(store)])
    assert "forced" in res.output
