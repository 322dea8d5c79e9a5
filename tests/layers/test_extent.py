"""Layer extents in both stores (#11 §1): recorded at import, defaulted, old stores.

Each stored layer version records the area it is authoritative for; the GeoPackage
and PostGIS stores keep it beside the version (not in the checksum), and stores
made before extents keep working (the default is computed when a check reads them).
"""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from geo.errors import InputFormatError
from layers.extent import default_extent, extent_stamp, parse_extent, resolve_extent
from layers.layer import layer_checksum
from layers.store import LayerStore
from tests.layers.test_postgis_store import Backend, pg_url, store_factory  # noqa: F401

LON, LAT = 116.40, 39.90


def boundary() -> gpd.GeoDataFrame:
    """A municipality (110000) with two districts in it, and a province apart."""
    box = shapely.box
    return gpd.GeoDataFrame(
        {
            "feature_id": ["b0", "b1", "b2", "b3"],
            "name": ["市", "区一", "区二", "省"],
            "adcode": ["110000", "110101", "110102", "450000"],
            "level": ["municipality", "district", "district", "province"],
            "parent_adcode": ["", "110000", "110000", ""],
        },
        geometry=[
            box(LON - 1, LAT - 1, LON + 1, LAT + 1),
            box(LON - 1, LAT - 1, LON, LAT + 1),
            box(LON, LAT - 1, LON + 1, LAT + 1),
            box(LON + 5, LAT - 20, LON + 8, LAT - 15),
        ],
        crs="EPSG:4326",
    )


def wells(*points: tuple[float, float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"feature_id": [f"w{i}" for i in range(len(points))],
         "name": [f"井{i}" for i in range(len(points))]},
        geometry=[shapely.Point(p) for p in points], crs="EPSG:4326",
    )  # fmt: skip


def test_parse_extent_forms(tmp_path):
    assert parse_extent("110112, 110115") == {"adcodes": ["110112", "110115"]}
    assert parse_extent("110115，110112") == {"adcodes": ["110112", "110115"]}
    assert parse_extent(None) is None
    poly = shapely.box(0, 0, 1, 1)
    assert shapely.from_wkt(parse_extent(poly)["wkt"]).equals(poly)
    with pytest.raises(InputFormatError, match="6-digit"):
        parse_extent("1101")
    path = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[poly], crs="EPSG:4326").to_file(path)
    got = parse_extent(None, path)
    assert shapely.from_wkt(got["wkt"]).equals(poly)
    with pytest.raises(InputFormatError, match="not both"):
        parse_extent("110000", path)


def test_default_extent_is_the_top_level_jurisdictions():
    b = boundary()
    # features in both districts: the municipality, not its districts
    assert default_extent(wells((LON - 0.5, LAT), (LON + 0.5, LAT)), b) == {"adcodes": ["110000"]}
    assert default_extent(wells((LON + 6, LAT - 17)), b) == {"adcodes": ["450000"]}
    assert default_extent(wells((0.0, 0.0)), b) is None  # in no jurisdiction
    assert default_extent(wells((LON, LAT)), None) is None  # no boundary layer
    geom, lacking = resolve_extent({"adcodes": ["110101", "999999"]}, b)
    assert geom.equals(b.geometry.iloc[1]) and lacking == ["999999"]
    assert resolve_extent(None, b) == (None, [])
    assert extent_stamp({"adcodes": ["110000"]}, source="recorded") == {
        "adcodes": ["110000"], "source": "recorded",
    }  # fmt: skip
    assert len(extent_stamp({"wkt": "POINT (0 0)"}, source="given")["polygon_sha256"]) == 64


def test_extent_recorded_at_import_in_both_stores(store_factory):  # noqa: F811
    with store_factory.open() as st:
        st.import_layer(boundary(), name="boundary", kind="boundary", source="test")
        assert st.extent("boundary") is None  # authoritative where its polygons are
        given = st.import_layer(
            wells((LON + 0.5, LAT)), name="well", kind="well", source="t", extent="110102"
        )
        assert given.extent == {"adcodes": ["110102"]}
        default = st.import_layer(
            wells((LON - 0.5, LAT), (LON + 0.5, LAT)), name="well2", kind="well", source="t"
        )
        assert default.extent == {"adcodes": ["110000"]}
        poly = shapely.box(LON, LAT, LON + 0.1, LAT + 0.1)
        drawn = st.import_layer(wells((LON + 0.05, LAT + 0.05)), name="well3", kind="well",
                                source="t", extent=poly)  # fmt: skip
        assert shapely.from_wkt(drawn.extent["wkt"]).equals(poly)
        # read back: get, get_kind, extent(); the checksum is the content's alone
        assert st.get("well").extent == {"adcodes": ["110102"]}
        assert st.extent("well2") == {"adcodes": ["110000"]}
        assert st.get("well").checksum == layer_checksum(st.get("well").gdf)
        # each version keeps its own extent
        v2 = st.import_layer(wells((LON, LAT)), name="well", kind="well", source="t",
                             extent="110101,110102")  # fmt: skip
        assert v2.version == 2 and st.extent("well", 1) == {"adcodes": ["110102"]}
        assert st.get("well").extent == {"adcodes": ["110101", "110102"]}
        st.set_extent("well", 1, "110000")
        assert st.get("well", 1).extent == {"adcodes": ["110000"]}


def test_copy_keeps_the_extent(tmp_path):
    from layers.copy import copy_layers

    with LayerStore(tmp_path / "a.gpkg") as a:
        a.import_layer(wells((LON, LAT)), name="well", kind="well", source="t", extent="110101")
        with LayerStore(tmp_path / "b.gpkg") as b:
            copy_layers(a, b)
            assert b.get("well").extent == {"adcodes": ["110101"]}


def test_a_store_from_before_extents_still_works(tmp_path):
    from zoning.pack import load_pack
    from zoning.workflow import make_checker

    path = tmp_path / "old.gpkg"
    with LayerStore(path) as st:
        st.import_layer(boundary(), name="boundary", kind="boundary", source="test")
        st.import_layer(wells((LON - 0.5, LAT)), name="well", kind="well", source="t",
                        extent="110101")  # fmt: skip
    con = sqlite3.connect(path)
    con.execute("DROP TABLE ecozone_layer_extents")  # as a store written before extents
    con.commit()
    con.close()
    path.chmod(0o444)  # read-only: nothing may be added to it
    try:
        with LayerStore(path, create=False) as st:
            layer = st.get("well")
            assert layer.extent is None and st.extent("well") is None
            assert layer.checksum == layer_checksum(layer.gdf)
            # the checker computes the default on read: the municipality
            pack = load_pack("beijing")
            with pytest.warns(UserWarning, match="insufficient data"):  # kinds it lacks
                ck = make_checker(pack, st, missing_layers="skip")
            assert ck.layer_stamp["well"]["extent"] == {"adcodes": ["110000"], "source": "default"}
    finally:
        path.chmod(0o644)
    with LayerStore(path) as st:  # writable again: the table comes back, empty
        assert st.extent("well") is None
        st.set_extent("well", None, "110102")
        assert st.get("well").extent == {"adcodes": ["110102"]}


def test_cli_import_records_the_extent(tmp_path):
    from ecozone.cli.main import cli

    store = tmp_path / "s.gpkg"
    src = tmp_path / "w.geojson"
    wells((LON - 0.5, LAT)).to_file(src)
    b = tmp_path / "b.geojson"
    boundary().to_file(b)
    run = CliRunner().invoke
    r = run(cli, ["layers", "import", str(b), "--kind", "boundary", "--store", str(store)])
    assert r.exit_code == 0, r.output
    r = run(cli, ["layers", "import", str(src), "--kind", "well", "--extent", "110101",
                  "--store", str(store), "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert '"extent": "110101"' in r.output
    r = run(cli, ["layers", "import", str(src), "--kind", "well", "--name", "w2",
                  "--store", str(store)])  # fmt: skip
    assert r.exit_code == 0 and "110000" in r.output  # the default, stated
    r = run(cli, ["layers", "import", str(src), "--kind", "well", "--extent", "11x",
                  "--store", str(store)])  # fmt: skip
    assert r.exit_code != 0 and "--extent" in r.output and "6-digit" in r.output
    area = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(LON - 1, LAT - 1, LON, LAT)], crs=4326).to_file(area)
    r = run(cli, ["layers", "import", str(src), "--kind", "well", "--name", "w3",
                  "--extent-file", str(area), "--store", str(store)])  # fmt: skip
    assert r.exit_code == 0 and "polygon" in r.output
