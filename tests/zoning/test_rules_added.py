"""The rules added in issue #11 §4, each with a site and project that trigger it and one
that does not, checked through the engine (:class:`zoning.check.engine.SiteChecker`) with the
real packs.

Layers are hand-made around each jurisdiction with geodesic offsets (pyproj.Geod), so
that the distance bands (the Yangtze River Protection Law's 1 km and 3 km) are tested
either side of their threshold; the Beijing demo layers (non-road machinery ban zone,
nature reserves) are checked in the embedded store.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from layers.kinds import validate_layer
from tests.zoning.conftest import GEOD, disc, fwd, sites_frame
from zoning.check.engine import SiteChecker
from zoning.pack import load_pack
from zoning.project import Project

DEMO = Path(__file__).resolve().parents[2] / "data" / "ecozone_demo.gpkg"

# Jiangjin (500116), on the Yangtze: a hand-made river bank running east–west
JJ_LON, JJ_LAT = 106.26, 29.29
# Guangxi (450000)
GX_LON, GX_LAT = 108.37, 22.82
# Beijing (110000) / Tongzhou (110112)
BJ_LON, BJ_LAT = 116.40, 39.90


def _layer(kind: str, rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
    return validate_layer(gdf, kind, synthetic=True)


def _box(lon: float, lat: float, half_m: float) -> Polygon:
    w, s = fwd(lon, lat, 225.0, half_m * np.sqrt(2))
    e, n = fwd(lon, lat, 45.0, half_m * np.sqrt(2))
    return shapely.box(w, s, e, n)


def _boundary(adcode: str, level: str, lon: float, lat: float) -> gpd.GeoDataFrame:
    return _layer(
        "boundary",
        [{"feature_id": adcode, "name": adcode, "adcode": adcode, "level": level}],
        [_box(lon, lat, 60_000.0)],
    )


def _checker(pack: str, layers: dict) -> SiteChecker:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rules on kinds not given here: 数据不足, skipped
        return SiteChecker(load_pack(pack), layers, missing_layers="skip")


def _fired(checker: SiteChecker, point: tuple[float, float], project: Project) -> dict[str, str]:
    """rule id → outcome of every finding (other than 数据不足) for one site."""
    res = checker.check(sites_frame([Point(point)]), project=project)
    f = res.findings
    f = f[f["outcome"].astype(str) != "insufficient_data"]
    return dict(zip(f["rule_id"].astype(str), f["outcome"].astype(str), strict=True))


def _north(lon: float, lat: float, d: float) -> tuple[float, float]:
    return fwd(lon, lat, 0.0, d)


# --------------------------------------------------------------------------- Yangtze (national)


@pytest.fixture(scope="module")
def jiangjin():
    # the bank: an east–west line at JJ_LAT; a site due north of its middle vertex is at
    # the offset's geodesic distance from it
    west, east = fwd(JJ_LON, JJ_LAT, 270.0, 8000.0), fwd(JJ_LON, JJ_LAT, 90.0, 8000.0)
    main = LineString([west, (JJ_LON, JJ_LAT), east])
    # a major tributary and a minor one further south, a 珠江-basin river further west
    trib_lat = GEOD.fwd(JJ_LON, JJ_LAT, 180.0, 20_000.0)[1]
    trib = LineString([fwd(JJ_LON, trib_lat, 270.0, 5000.0), (JJ_LON, trib_lat)])
    minor_lat = GEOD.fwd(JJ_LON, JJ_LAT, 180.0, 35_000.0)[1]
    minor = LineString([fwd(JJ_LON, minor_lat, 270.0, 5000.0), (JJ_LON, minor_lat)])
    other_lon = GEOD.fwd(JJ_LON, JJ_LAT, 270.0, 30_000.0)[0]
    other = LineString([(other_lon, JJ_LAT - 0.05), (other_lon, JJ_LAT + 0.05)])
    river = _layer(
        "river",
        [
            {"feature_id": "r1", "name": "长江", "basin": "长江", "rank": "干流"},
            {"feature_id": "r2", "name": "綦河", "basin": "长江", "rank": "重要支流"},
            {"feature_id": "r3", "name": "小溪", "basin": "长江", "rank": "支流"},
            {"feature_id": "r4", "name": "他流", "basin": "珠江", "rank": "干流"},
        ],
        [main, trib, minor, other],
    )
    zones = ["core", "buffer", "experimental", "general_control", "未分区"]
    centres = [fwd(JJ_LON, JJ_LAT, 45.0, 40_000.0 + 5000.0 * i) for i in range(len(zones))]
    reserves = _layer(
        "nature_reserve",
        [{"feature_id": f"nr{i}", "name": z, "zone": z} for i, z in enumerate(zones)],
        [disc(x, y, 1500.0) for x, y in centres],
    )
    layers = {
        "boundary": _boundary("500116", "district", JJ_LON, JJ_LAT),
        "river": river,
        "nature_reserve": reserves,
    }
    return {
        "checker": _checker("jiangjin", layers),
        "trib_lat": trib_lat,
        "minor_lat": minor_lat,
        "other_lon": other_lon,
        "reserves": dict(zip(zones, centres, strict=True)),
    }


CHEM_CODE = Project(project_type="industrial", industry_code="C2614")
CHEM_FLAG = Project(project_type="industrial", flags={"chemical"})
CHEM_BOTH = Project(project_type="industrial", industry_code="C2614", flags={"chemical"})
NOT_CHEM = Project(project_type="industrial", industry_code="C3511")


@pytest.mark.parametrize("d", [50.0, 995.0])
def test_yangtze_chemical_band_fires_within_1km(jiangjin, d):
    site = _north(JJ_LON, JJ_LAT, d)
    got = _fired(jiangjin["checker"], site, CHEM_CODE)
    assert got.get("yangtze.chemical_1km.industry") == "prohibited"
    assert "yangtze.chemical_1km" not in got
    got = _fired(jiangjin["checker"], site, CHEM_FLAG)
    assert got.get("yangtze.chemical_1km") == "prohibited"
    assert "yangtze.chemical_1km.industry" not in got
    # code and flag together: one finding, not two
    got = _fired(jiangjin["checker"], site, CHEM_BOTH)
    assert "yangtze.chemical_1km" in got and "yangtze.chemical_1km.industry" not in got


def test_yangtze_chemical_band_does_not_fire_beyond_1km_or_for_other_projects(jiangjin):
    ck = jiangjin["checker"]
    beyond = _north(JJ_LON, JJ_LAT, 1005.0)
    for project in (CHEM_CODE, CHEM_FLAG):
        assert not {"yangtze.chemical_1km", "yangtze.chemical_1km.industry"} & set(
            _fired(ck, beyond, project)
        )
    near = _north(JJ_LON, JJ_LAT, 200.0)
    assert not any(r.startswith("yangtze.") for r in _fired(ck, near, NOT_CHEM))
    # every tributary counts for chemical projects (干支流), a 珠江 river does not
    assert "yangtze.chemical_1km.industry" in _fired(
        ck, _north(JJ_LON, jiangjin["minor_lat"], 500.0), CHEM_CODE
    )
    other = fwd(jiangjin["other_lon"], JJ_LAT, 90.0, 300.0)
    assert not any(r.startswith("yangtze.") for r in _fired(ck, other, CHEM_CODE))


def test_yangtze_tailings_bands(jiangjin):
    ck = jiangjin["checker"]
    new = Project(project_type="industrial", flags={"tailings"})
    rebuild = Project(project_type="industrial", flags={"tailings"}, development="expansion")
    # mainstream: 3 km
    got = _fired(ck, _north(JJ_LON, JJ_LAT, 2900.0), new)
    assert got.get("yangtze.tailings.mainstream_3km") == "prohibited"
    assert "yangtze.chemical_1km" not in got
    assert "yangtze.tailings.mainstream_3km" not in _fired(ck, _north(JJ_LON, JJ_LAT, 3100.0), new)
    # the law's exception: a rebuild to raise safety must be demonstrated (restricted)
    got = _fired(ck, _north(JJ_LON, JJ_LAT, 2900.0), rebuild)
    assert got.get("yangtze.tailings.mainstream_3km") == "restricted"
    # major tributary: 1 km; a minor tributary is not in the tailings rule
    trib = jiangjin["trib_lat"]
    far_w = GEOD.fwd(JJ_LON, trib, 270.0, 2500.0)[0]
    assert _fired(ck, _north(far_w, trib, 950.0), new).get("yangtze.tailings.tributary_1km") == (
        "prohibited"
    )
    assert "yangtze.tailings.tributary_1km" not in _fired(ck, _north(far_w, trib, 1050.0), new)
    minor = jiangjin["minor_lat"]
    assert not any(
        r.startswith("yangtze.tailings") for r in _fired(ck, _north(far_w, minor, 500.0), new)
    )


def test_beijing_family_has_no_yangtze_rules():
    # 北京市不属长江流域 (长江保护法 第二条): disabled in beijing, hence tongzhou and daxing
    for name in ("beijing", "tongzhou", "daxing"):
        assert not any(r.id.startswith("yangtze.") for r in load_pack(name).rules), name


# ------------------------------------------------------------------- nature reserves (national)


def test_nature_reserve_zones(jiangjin):
    ck, at = jiangjin["checker"], jiangjin["reserves"]
    building = Project(project_type="construction")
    plant = Project(project_type="industrial", flags={"wastewater"})
    housing = Project(project_type="residential", flags={"sewage"})
    for zone in ("core", "buffer", "未分区"):
        assert _fired(ck, at[zone], building).get("nature_reserve.core_buffer") == "prohibited"
    got = _fired(ck, at["experimental"], plant)
    assert got.get("nature_reserve.experimental.polluting") == "prohibited"
    assert got.get("nature_reserve.experimental") == "restricted"
    got = _fired(ck, at["experimental"], housing)  # not a production facility
    assert "nature_reserve.experimental.polluting" not in got
    assert got.get("nature_reserve.experimental") == "restricted"
    assert _fired(ck, at["general_control"], building).get("nature_reserve.general_control") == (
        "restricted"
    )
    # outside every reserve: only the distance
    outside = fwd(*at["core"], 90.0, 2500.0)
    got = _fired(ck, outside, plant)
    assert not {r for r in got if r.startswith("nature_reserve.")} - {"nature_reserve.nearest"}


# --------------------------------------------------------------------------- Beijing (001)


@pytest.fixture(scope="module")
def beijing_layers():
    zone = _layer(
        "nonroad_ban_zone", [{"feature_id": "z1", "name": "禁用区"}], [disc(BJ_LON, BJ_LAT, 5000)]
    )
    return {
        "boundary": _boundary("110000", "municipality", BJ_LON, BJ_LAT),
        "nonroad_ban_zone": zone,
    }


def test_nonroad_ban_zone(beijing_layers):
    ck = _checker("beijing", beijing_layers)
    inside, outside = fwd(BJ_LON, BJ_LAT, 30.0, 4900.0), fwd(BJ_LON, BJ_LAT, 30.0, 5100.0)
    for ptype in ("construction", "residential", "industrial", "linear"):
        got = _fired(ck, inside, Project(project_type=ptype))
        assert got.get("nonroad.ban_zone") == "requirements", ptype
    assert "nonroad.ban_zone" not in _fired(ck, outside, Project(project_type="construction"))
    assert "nonroad.ban_zone" not in _fired(ck, inside, Project(project_type="other"))


@pytest.mark.parametrize(
    ("project", "rule", "outcome"),
    [
        (
            Project(project_type="industrial", flags={"steel"}),
            "capacity.steel_coking",
            "prohibited",
        ),
        (
            Project(project_type="industrial", flags={"coking"}),
            "capacity.steel_coking",
            "prohibited",
        ),
        (
            Project(project_type="industrial", flags={"steel"}, development="expansion"),
            "capacity.steel_coking",
            "restricted",
        ),
        (
            Project(project_type="industrial", industry_code="C3120"),
            "capacity.steel_coking.industry",
            "prohibited",
        ),
        (
            Project(project_type="industrial", industry_code="C2521"),
            "capacity.steel_coking.industry",
            "prohibited",
        ),
        (
            Project(project_type="industrial", industry_code="C3110", development="expansion"),
            "capacity.steel_coking.industry",
            "restricted",
        ),
    ],
    ids=["steel-flag", "coking-flag", "steel-expansion", "C3120", "C2521", "C3110-expansion"],
)
def test_no_new_steel_or_coking_capacity(beijing_layers, project, rule, outcome):
    ck = _checker("beijing", beijing_layers)
    got = _fired(ck, (BJ_LON, BJ_LAT), project)
    assert got.get(rule) == outcome
    other = {"capacity.steel_coking", "capacity.steel_coking.industry"} - {rule}
    assert not other & set(got)  # exclusive: one finding per project


def test_steel_rule_does_not_fire_for_other_industry(beijing_layers):
    ck = _checker("beijing", beijing_layers)
    for project in (
        Project(project_type="industrial", industry_code="C3130"),  # 钢压延加工 (rolling)
        Project(project_type="industrial", industry_code="C2614"),
        Project(project_type="construction"),
    ):
        assert not any(r.startswith("capacity.") for r in _fired(ck, (BJ_LON, BJ_LAT), project))
    # the steel rule is Beijing's (001 l.537): not in the Guangxi pack
    assert not any(r.id.startswith("capacity.") for r in load_pack("guangxi").rules)


@pytest.mark.parametrize(
    ("pack", "adcode", "level", "rule", "plan"),
    [
        ("beijing", "110000", "municipality", "soil.residential", "001"),
        ("daxing", "110000", "municipality", "soil.residential", "000"),
        ("tongzhou", "110112", "district", "tongzhou.soil.residential", "002"),
    ],
)
def test_soil_survey_on_change_to_residential(pack, adcode, level, rule, plan):
    layers = {"boundary": _boundary(adcode, level, BJ_LON, BJ_LAT)}
    ck = _checker(pack, layers)
    got = _fired(ck, (BJ_LON, BJ_LAT), Project(project_type="residential"))
    assert got.get(rule) == "requirements"
    # one soil-survey finding, not Beijing's and Tongzhou's both
    assert len({r for r in got if r.endswith("soil.residential")}) == 1
    assert any(c.source.startswith(plan) for c in ck.pack.rule(rule).citations)
    assert not {r for r in _fired(ck, (BJ_LON, BJ_LAT), Project(project_type="industrial"))} & {
        "soil.residential",
        "tongzhou.soil.residential",
    }


# --------------------------------------------------------------------------- Tongzhou (002)


@pytest.fixture(scope="module")
def tongzhou_checker():
    key = _layer(
        "tongzhou_key_area", [{"feature_id": "k", "name": "重点区域"}], [disc(116.66, 39.91, 750)]
    )
    strict = _layer(
        "tongzhou_strict_zone",
        [{"feature_id": "s", "name": "严控区"}],
        [disc(*fwd(116.66, 39.91, 0.0, 400.0), 150)],
    )
    layers = {
        "boundary": _boundary("110112", "district", 116.66, 39.91),
        "tongzhou_key_area": key,
        "tongzhou_strict_zone": strict,
    }
    return _checker("tongzhou", layers)


def test_tongzhou_offsets_cover_nox(tongzhou_checker):
    far = fwd(116.66, 39.91, 180.0, 5000.0)
    for flags in ({"vocs"}, {"nox"}, {"vocs", "nox"}):
        got = _fired(tongzhou_checker, far, Project(project_type="industrial", flags=flags))
        assert got.get("vocs.offset") == "requirements", flags
    assert "vocs.offset" not in _fired(tongzhou_checker, far, Project(project_type="industrial"))
    # Beijing's own offset rule (001 l.254) names VOCs only
    bj = load_pack("beijing").rule("vocs.offset")
    assert bj.when.flags_any == ["vocs"]


def test_new_air_source_in_the_key_area_is_restricted(tongzhou_checker):
    inside = fwd(116.66, 39.91, 180.0, 500.0)
    outside = fwd(116.66, 39.91, 180.0, 900.0)
    for flags in ({"vocs"}, {"nox"}):
        got = _fired(tongzhou_checker, inside, Project(project_type="industrial", flags=flags))
        assert got.get("tongzhou.key.new_source") == "restricted", flags
        assert got.get("tongzhou.key.source_ledger") == "requirements"
    got = _fired(
        tongzhou_checker,
        inside,
        Project(project_type="industrial", flags={"vocs"}, development="expansion"),
    )
    assert "tongzhou.key.new_source" not in got
    assert got.get("tongzhou.key.source_ledger") == "requirements"
    assert "tongzhou.key.new_source" not in _fired(
        tongzhou_checker, outside, Project(project_type="industrial", flags={"vocs"})
    )
    assert "tongzhou.key.new_source" not in _fired(
        tongzhou_checker, inside, Project(project_type="industrial")
    )


def test_encouraged_measures_are_information_not_requirements():
    tz = load_pack("tongzhou")
    for rid in ("tongzhou.muck_trucks.detour", "tongzhou.strict.muck_trucks"):
        rule = tz.rule(rid)
        assert rule.outcome == "information", rid
        assert "非强制" in rule.requirement, rid
    strict = tz.rule("tongzhou.strict.construction")
    assert "必须" not in strict.requirement
    assert "倡导" in strict.requirement


# --------------------------------------------------------------------------- Guangxi (004)


@pytest.mark.parametrize(
    ("project", "rule"),
    [
        (Project(project_type="industrial", flags={"heavy_metals"}), "guangxi.heavy_metal"),
        (Project(project_type="industrial", industry_code="C3211"), "guangxi.heavy_metal.industry"),
        (Project(project_type="industrial", flags={"red_mud"}), "guangxi.solid_waste.red_mud"),
        (
            Project(project_type="industrial", flags={"manganese_slag"}),
            "guangxi.solid_waste.red_mud",
        ),
    ],
    ids=["heavy-metal-flag", "heavy-metal-code", "red-mud", "manganese-slag"],
)
def test_guangxi_heavy_metals_red_mud_manganese_slag(project, rule):
    ck = _checker("guangxi", {"boundary": _boundary("450000", "province", GX_LON, GX_LAT)})
    got = _fired(ck, (GX_LON, GX_LAT), project)
    assert got.get(rule) == "requirements"
    clean = _fired(ck, (GX_LON, GX_LAT), Project(project_type="industrial", industry_code="C1391"))
    assert not any(r.startswith(("guangxi.heavy", "guangxi.solid")) for r in clean)


def test_guangxi_rules_do_not_reach_beijing(beijing_layers):
    ck = _checker("beijing", beijing_layers)
    got = _fired(ck, (BJ_LON, BJ_LAT), Project(project_type="industrial", flags={"red_mud"}))
    assert not any(r.startswith("guangxi.") for r in got)


# ------------------------------------------------------------------- the Beijing demo layers


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    if not DEMO.is_file():
        pytest.skip("demo store not built")
    from layers import LayerStore

    copy = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    shutil.copyfile(DEMO, copy)
    with LayerStore(copy, create=False) as store:
        yield store


def test_demo_layers_are_synthetic_labelled_and_cover_beijing(demo_store):
    listing = demo_store.list_layers().set_index("name")
    for kind in ("nonroad_ban_zone", "nature_reserve"):
        gdf = demo_store.get(kind).gdf
        assert gdf["synthetic"].astype(bool).all()
        assert "演示数据，非官方" in listing.loc[kind, "source"]
        assert demo_store.extent(kind) == {"adcodes": ["110000"]}
    zones = demo_store.get("nature_reserve").gdf
    assert set(zones["zone"]) == {"core", "buffer", "experimental"}
    # zones of a reserve do not overlap, and every reserve lies in the red line
    red = shapely.union_all(demo_store.get_kind("redline").gdf.geometry.to_numpy())
    geoms = zones.geometry.to_numpy()
    outside = shapely.area(shapely.difference(shapely.union_all(geoms), red))
    assert outside < 1e-5 * shapely.area(shapely.union_all(geoms))  # reprojection rounding
    for _, g in zones.groupby("reserve"):
        parts = g.geometry.to_numpy()
        total = sum(shapely.area(parts))
        assert shapely.area(shapely.union_all(parts)) == pytest.approx(total, rel=1e-6)
    # the ban zone holds Tiananmen and the Tongzhou key area, not Yanqing
    ban = demo_store.get("nonroad_ban_zone").gdf.geometry.iloc[0]
    assert ban.contains(Point(116.3975, 39.9087)) and ban.contains(Point(116.66, 39.91))
    assert not ban.contains(Point(115.97, 40.46))


def test_demo_layers_rebuild_identically(demo_store):
    import runpy

    script = runpy.run_path(str(DEMO.with_name("add_rule_layers.py")), run_name="rules_test")
    from layers.layer import layer_checksum

    built = script["build"](demo_store)
    listing = demo_store.list_layers().set_index("name")
    for kind, gdf in built.items():
        gdf = validate_layer(gdf.assign(synthetic=True), kind, synthetic=True)
        assert layer_checksum(gdf) == listing.loc[kind, "checksum"], kind


def test_demo_reserve_core_prohibits_building(demo_store):
    from zoning.workflow import load_pack_layers

    pack = load_pack("beijing")
    layers = load_pack_layers(pack, demo_store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ck = SiteChecker(pack, layers, missing_layers="skip")
    zones = demo_store.get("nature_reserve").gdf
    core = shapely.point_on_surface(zones[zones["zone"] == "core"].geometry.iloc[0])
    got = _fired(ck, (core.x, core.y), Project(project_type="construction"))
    assert got.get("nature_reserve.core_buffer") == "prohibited"
    res = ck.check(sites_frame([core]), project=Project(project_type="construction"))
    assert res.sites["verdict"].iloc[0] == "prohibited"
    # a building site at Tiananmen: inside the ban zone, no reserve
    got = _fired(ck, (116.3975, 39.9087), Project(project_type="construction"))
    assert got.get("nonroad.ban_zone") == "requirements"
    assert not {r for r in got if r.startswith("nature_reserve.")} - {"nature_reserve.nearest"}


# ------------------------------------------------------------------- the new layer kinds


def test_river_kind_takes_lines_and_polygons_not_points():
    line = LineString([(106.2, 29.3), (106.3, 29.3)])
    ok = _layer(
        "river",
        [
            {"feature_id": "a", "name": "长江", "basin": "长江", "rank": "干流"},
            {"feature_id": "b", "name": "綦河", "basin": "长江", "rank": "重要支流"},
        ],
        [line, _box(106.25, 29.2, 200.0)],
    )
    assert ok["rank"].tolist() == ["mainstream", "major_tributary"]
    from geo.errors import LayerValidationError

    with pytest.raises(LayerValidationError, match=r"river features must be \(multi\)lines"):
        _layer(
            "river",
            [{"feature_id": "p", "name": "点", "basin": "长江", "rank": "支流"}],
            [Point(106.2, 29.3)],
        )
    with pytest.raises(LayerValidationError, match=r"column 'rank' has values not in"):
        _layer(
            "river",
            [{"feature_id": "a", "name": "长江", "basin": "长江", "rank": "大河"}],
            [line],
        )


def test_nature_reserve_zone_aliases():
    gdf = _layer(
        "nature_reserve",
        [
            {"feature_id": str(i), "name": z, "功能区": z}
            for i, z in enumerate(["核心保护区", "缓冲区", "实验区", "一般控制区", "未分区"])
        ],
        [_box(116.0 + 0.1 * i, 40.5, 500.0) for i in range(5)],
    )
    assert gdf["zone"].tolist() == ["core", "buffer", "experimental", "general_control", "unzoned"]


def test_river_layer_of_lines_and_polygons_round_trips_a_store(tmp_path):
    from layers import LayerStore
    from layers.layer import layer_checksum

    gdf = _layer(
        "river",
        [
            {"feature_id": "a", "name": "长江", "basin": "长江", "rank": "干流"},
            {"feature_id": "b", "name": "綦河", "basin": "长江", "rank": "重要支流"},
        ],
        [LineString([(106.2, 29.3), (106.3, 29.31)]), _box(106.25, 29.2, 200.0)],
    )
    with LayerStore(tmp_path / "s.gpkg") as store:
        layer = store.import_layer(gdf, name="river", kind="river", source="test", extent="500116")
        back = store.get("river").gdf
    assert back.geom_type.tolist() == ["LineString", "Polygon"]
    assert back["rank"].tolist() == ["mainstream", "major_tributary"]
    assert layer_checksum(back) == layer.checksum
