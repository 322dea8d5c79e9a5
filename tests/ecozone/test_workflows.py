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
from ecozone.workflows import (
    check_and_report,
    check_site,
    jurisdiction_map,
    refuse_unchecked,
    site_checker,
    write_site_report,
)
from geo.errors import InputFormatError, OutsideJurisdictionError
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


def test_check_and_report_is_the_web_site_check(store):
    """Check → report of one site (the web's path), and the one refusal of unchecked sites."""
    from zoning.jurisdiction import jurisdiction_rows
    from zoning.workflow import jurisdiction_area

    pack = load_pack("tongzhou")
    site, exit_point = sample_site(store)
    checker = make_checker(pack, store)
    project = Project(name="wf", project_type="construction", exits=(exit_point,))
    geom = site.geometry.iloc[0]
    result, report = check_and_report(checker, geom, project)
    assert list(result.sites["site_id"]) == ["site"]
    assert report["verdict"]["code"] == str(result.sites["verdict"].iloc[0])
    same = checker.check(site, project=project)
    assert report["verdict"]["code"] == str(same.sites["verdict"].iloc[0])
    refuse_unchecked(result)  # a checked site: no error
    # a site well outside the jurisdiction is refused, not judged
    area = jurisdiction_area(pack, store)
    _w, _s, e, n = shapely.bounds(area)
    far = shapely.Point(e + 1.0, n + 1.0)
    with pytest.raises(OutsideJurisdictionError):
        check_and_report(checker, far, project)
    outside = checker.check_geometry(far, site_id="far", project=project)
    with pytest.raises(OutsideJurisdictionError):
        refuse_unchecked(outside)
    # an input with no site at all
    with pytest.raises(InputFormatError, match="cannot be checked"):
        refuse_unchecked(checker.check(site.iloc[0:0], project=project))
    # the jurisdiction rows are the pack's adcodes; with children its districts too
    boundary = store.get_kind("boundary").gdf
    own = jurisdiction_rows(pack, boundary)
    assert set(own["adcode"].astype(str)) == set(pack.jurisdiction.adcodes)
    kids = jurisdiction_rows(pack, boundary, children=True)
    assert len(kids) >= len(own)
    if "parent_adcode" in boundary:
        extra = kids[~kids.index.isin(own.index)]
        assert set(extra["parent_adcode"].astype(str)) <= set(pack.jurisdiction.adcodes)


def test_check_site_is_the_command_lines_site_check(store):
    """store → checker → check → screening, what ``ecozone check --at`` prints."""
    import geopandas as gpd

    from zoning.workflow import jurisdiction_area, site_screening

    pack = load_pack("tongzhou")
    site, exit_point = sample_site(store)
    project = Project(name="wf", project_type="construction", exits=(exit_point,))
    checker = site_checker(pack, store)
    assert checker.pack.name == "tongzhou"
    done = check_site(checker, site, project=project, radii_m=[500.0])
    same = make_checker(pack, store, missing_layers="skip").check(site, project=project)
    assert list(done.result.sites["verdict"]) == list(same.sites["verdict"])
    assert list(done.result.findings["rule_id"]) == list(same.findings["rule_id"])
    first = done.result.sites.geometry.iloc[0]
    expected = site_screening(checker, first, radii_m=[500.0])
    assert done.screening.equals(expected) and len(expected)
    assert set(done.screening["radius_m"]) <= {500.0}
    # a result already made (by a report) is not checked again
    again = check_site(checker, site, result=same)
    assert again.result is same
    # outside the jurisdiction: refused, no screening list
    _w, _s, e, n = shapely.bounds(jurisdiction_area(pack, store))
    far = gpd.GeoDataFrame({"site_id": ["far"]}, geometry=[shapely.Point(e + 1, n + 1)], crs=4326)
    with pytest.raises(OutsideJurisdictionError):
        check_site(checker, far, project=project)


def test_coverage_map_layers_is_the_web_coverage_map(store):
    """Jurisdiction → layers → gaps of the coverage map: bbox-selected whole features."""
    from ecozone.workflows import coverage_map_layers
    from zoning.jurisdiction import jurisdiction_rows
    from zoning.workflow import jurisdiction_districts

    pack = load_pack("tongzhou")
    layers, gaps = coverage_map_layers(pack, store, ["park", "residential", "redline"])
    boundary = store.get_kind("boundary").gdf
    own = jurisdiction_rows(pack, boundary)
    districts = jurisdiction_districts(pack, boundary)
    expected = districts if districts is not None and len(districts) else own
    assert sorted(layers["boundary"]["adcode"].astype(str)) == sorted(
        expected["adcode"].astype(str)
    )
    bbox = shapely.box(*own.total_bounds)
    for kind in ("park", "residential"):
        whole = store.get_kind(kind).gdf
        assert len(layers[kind]) == int(whole.intersects(bbox).sum()) > 0, kind
    assert gaps is not None
    want = residential_gaps(pack, store, area_of=own, districts=districts, parks=layers["park"])
    assert len(gaps) == len(want)
    np.testing.assert_allclose(
        np.sort(shapely.area(gaps.geometry.to_numpy())),
        np.sort(shapely.area(want.geometry.to_numpy())),
    )
