"""ecozone.workflows: the shared use cases, on a copy of the demo store.

"check → report → map" and "jurisdiction → layers → gaps → map" are what the CLI, the
QGIS plugin, the web coverage map and ``ecozone demo`` call; their outputs here are
checked against what the library computes on its own (areas with pyproj.Geod).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely

from ecozone.demo import sample_site
from ecozone.workflows import jurisdiction_map, write_site_report
from layers import LayerStore
from zoning.pack import load_pack
from zoning.project import Project
from zoning.workflow import make_checker, residential_gaps

DEMO = Path(__file__).resolve().parents[2] / "data" / "ecozone_demo.gpkg"
GEOD = pyproj.Geod(ellps="GRS80")

pytestmark = pytest.mark.skipif(not DEMO.is_file(), reason="demo store not built")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("wf") / "store.gpkg"
    shutil.copyfile(DEMO, path)
    with LayerStore(path) as st:
        yield st


def test_jurisdiction_map_draws_the_packs_area_layers_and_gaps(store):
    pack = load_pack("tongzhou")
    view = jurisdiction_map(pack, store, gaps=True)
    boundary = store.get_kind("boundary").gdf
    own = boundary[boundary["adcode"].astype(str).isin([str(c) for c in pack.jurisdiction.adcodes])]
    assert len(own) > 0
    expected_km2 = sum(abs(GEOD.geometry_area_perimeter(g)[0]) for g in own.geometry) / 1e6
    got_km2 = abs(GEOD.geometry_area_perimeter(view.area)[0]) / 1e6
    assert got_km2 == pytest.approx(expected_km2, rel=1e-6)
    assert "boundary" in view.layers and len(view.layers) > 1
    grown = view.area.buffer(1e-6)
    for kind, gdf in view.layers.items():
        if kind != "boundary" and len(gdf):
            assert shapely.covered_by(gdf.geometry.to_numpy(), grown).all(), kind
    assert view.gaps is not None and len(view.gaps) > 0
    assert shapely.covered_by(view.gaps.to_crs(4326).geometry.to_numpy(), grown).all()
    same = residential_gaps(pack, store, area_of=view.area)

    def km2(gdf):
        return sorted(
            abs(GEOD.geometry_area_perimeter(g)[0]) / 1e6 for g in gdf.to_crs(4326).geometry
        )

    assert np.allclose(km2(same), km2(view.gaps))
    assert sum(km2(view.gaps)) > 0
    assert view.checked is None and view.sites is None


def test_write_site_report_is_check_report_map(store, tmp_path):
    pack = load_pack("tongzhou")
    site, exit_point = sample_site(store)
    checker = make_checker(pack, store)
    project = Project(name="wf", project_type="construction", exits=(exit_point,))
    result = checker.check(site, project=project)
    out = write_site_report(
        checker, result, tmp_path / "r", project=project, formats=("json", "html")
    )
    assert set(out.files) == {"json", "html"}
    assert out.map_png.startswith(b"\x89PNG")
    report = json.loads(out.files["json"].read_text(encoding="utf-8"))
    assert report["verdict"]["code"] == str(result.sites["verdict"].iloc[0])
    assert str(out.site_id) == str(result.sites["site_id"].iloc[0])
    view = jurisdiction_map(pack, store, checked=result)
    assert view.sites is result.sites and view.findings is result.findings
    with pytest.raises(ValueError, match="not a checked site"):
        write_site_report(checker, result, tmp_path / "x", site_id="nope", formats=("json",))
