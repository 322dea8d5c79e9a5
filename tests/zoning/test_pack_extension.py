"""A jurisdiction is data: a pack written in a temporary folder checks and measures.

The pack below is not shipped with ecozone and no code knows its name, adcode or zone:
a TOML file and three GeoJSON files in ``tmp_path``. It declares its own name for the
generic ``key_area`` kind ("扬尘重点管控区"), a rule on it, and a target measured on it
(the share of red line inside the zone). The test loads it by path, checks two sites
(verdict and citation from the pack) and measures the target (compared with
``pyproj.Geod`` areas).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from pyproj import Geod
from shapely.geometry import Point, box

from layers import open_store
from layers.kinds import KINDS
from zoning.coverage.measure import measure_targets
from zoning.pack import list_packs, load_pack
from zoning.project import Project
from zoning.workflow import make_checker

GEOD = Geod(ellps="GRS80")
ADCODE = "990101"  # not a real district: nothing in ecozone can know it
TOWN = box(100.00, 30.00, 100.04, 30.03)
ZONE = box(100.01, 30.01, 100.03, 30.02)
RED = box(100.01, 30.01, 100.016, 30.02)  # 30 % of the zone's longitudes
RULE_CITATION = "某镇扬尘污染防治办法"

PACK_TOML = f"""
name = "dusttown"
version = "1"
title = "某镇生态环境分区管控规则包（测试）"
title_en = "Dust Town zoning rule pack (test)"

[jurisdiction]
name = "某镇"
name_en = "Dust Town"
adcodes = ["{ADCODE}"]

[zones.key_area]
name = "扬尘重点管控区"
name_en = "Dust priority zone"
note = "某镇扬尘污染防治办法附图"

[scopes.dust_zone]
name = "扬尘重点管控区"
name_en = "Dust priority zone"
layer = "key_area"
within = "jurisdiction"

[[targets]]
id = "redline.dust_zone"
metric = "redline_share"
value = 25.0
unit = "%"
comparison = ">="
label = "扬尘重点管控区内生态保护红线占比不低于25%"
label_en = "Red line covers at least 25 % of the dust priority zone"
scope = "dust_zone"
[targets.citation]
source = "{RULE_CITATION}"
law = "Dust Town dust-control rules"
article = "第三条"
text = "重点管控区内生态保护红线面积占比不低于25%"

[[rules]]
id = "dusttown.dust.batching_plant"
layer = "key_area"
predicate = "intersects"
outcome = "prohibited"
section = "quality_floor"
title = "扬尘重点管控区内禁止新建混凝土搅拌站"
title_en = "No new concrete batching plant in the dust priority zone"
requirement = "扬尘重点管控区内不得新建混凝土搅拌站。"
requirement_en = "No new concrete batching plant may be built in the dust priority zone."
[[rules.citations]]
source = "{RULE_CITATION}"
law = "Dust Town dust-control rules"
article = "第七条"
text = "重点管控区内禁止新建混凝土搅拌站"
"""


def _geojson(path: Path, props: dict[str, object], geom: object) -> Path:
    gdf = gpd.GeoDataFrame([props], geometry=[geom], crs="EPSG:4326")
    path.write_text(gdf.to_json(), encoding="utf-8")
    return path


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "dusttown"
    (folder / "data").mkdir(parents=True)
    (folder / "dusttown.toml").write_text(PACK_TOML, encoding="utf-8")
    _geojson(
        folder / "data" / "boundary.geojson",
        {"feature_id": "town", "name": "某镇", "adcode": ADCODE, "level": "district"},
        TOWN,
    )
    _geojson(folder / "data" / "zone.geojson", {"feature_id": "z1", "name": "管控区1"}, ZONE)
    _geojson(folder / "data" / "redline.geojson", {"feature_id": "r1", "name": "红线1"}, RED)
    return folder


@pytest.fixture
def store(pack_dir: Path, tmp_path: Path):
    st = open_store(tmp_path / "store.gpkg")
    for kind, file in (("boundary", "boundary"), ("key_area", "zone"), ("redline", "redline")):
        st.import_layer(
            pack_dir / "data" / f"{file}.geojson", name=file, kind=kind, source="测试数据"
        )
    return st


def test_pack_by_path_declares_its_zone(pack_dir: Path) -> None:
    pack = load_pack(pack_dir / "dusttown.toml")
    assert pack.name == "dusttown" and "dusttown" not in list_packs()
    assert pack.kind_label("key_area") == "扬尘重点管控区"
    assert pack.kind_label("key_area", "en") == "Dust priority zone"
    # kinds the pack does not name keep their registry label
    assert pack.kind_label("redline") == KINDS["redline"].label_zh
    assert pack.layer_kinds() == {"key_area"}


def test_pack_by_path_checks_a_site(pack_dir: Path, store) -> None:
    pack = load_pack(pack_dir / "dusttown.toml")
    checker = make_checker(pack, store)
    sites = gpd.GeoDataFrame(
        {"site_id": ["inside", "outside"]},
        geometry=[Point(100.02, 30.015), Point(100.035, 30.025)],
        crs="EPSG:4326",
    )
    res = checker.check(sites, project=Project(name="搅拌站", project_type="industrial"))
    verdicts = dict(zip(res.sites["site_id"], res.sites["verdict"], strict=True))
    assert verdicts["inside"] == "prohibited"
    assert verdicts["outside"] != "prohibited"
    fired = res.findings[res.findings["site_id"] == "inside"]
    assert list(fired["rule_id"]) == ["dusttown.dust.batching_plant"]
    cites = fired["citations"].iloc[0]
    cites = json.loads(cites) if isinstance(cites, str) else list(cites)
    assert any(RULE_CITATION in str(c) and "第七条" in str(c) for c in cites)
    assert not (res.findings["site_id"] == "outside").any()


def test_pack_by_path_measures_its_target(pack_dir: Path, store) -> None:
    pack = load_pack(pack_dir / "dusttown.toml")
    (result,) = measure_targets(pack, store, by=None)
    assert result.target_id == "redline.dust_zone"
    assert result.measured, result.reason
    red_area = abs(GEOD.geometry_area_perimeter(RED)[0])
    zone_area = abs(GEOD.geometry_area_perimeter(ZONE)[0])
    assert result.value == pytest.approx(100 * red_area / zone_area, rel=1e-4)
    assert result.met is True
    assert "扬尘重点管控区" in (result.scope_name or "")
    assert RULE_CITATION in str(result.citation)
