"""Interactive maps: offline HTML, layer control, legend, escaping, basemaps, simplification."""

from __future__ import annotations

import json
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from folium import plugins
from geopandas.testing import assert_geodataframe_equal

from geo.errors import InputFormatError
from maps._assets import (
    STATIC_DIR,
    MissingAssetError,
)
from maps.interactive import interactive_map, render_interactive, save_interactive

XSS = "<script>alert(1)</script>"
GEOD = pyproj.Geod(ellps="GRS80")


def _circle(lon: float, lat: float, radius_m: float, n: int) -> shapely.Polygon:
    """A geodesic circle with n vertices, built independently of the code under test."""
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lons, lats, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, radius_m))
    return shapely.Polygon(np.column_stack([lons, lats]))


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    redline = gpd.GeoDataFrame(
        {
            "feature_id": ["r1", "r2"],
            "name": [XSS, "红线二"],
            "synthetic": [True, True],
        },
        geometry=[_circle(116.40, 39.90, 3000, 64), _circle(116.60, 39.80, 2000, 64)],
        crs="EPSG:4326",
    )
    units = gpd.GeoDataFrame(
        {
            "feature_id": ["c1", "c2"],
            "name": ["单元一", "单元二"],
            "synthetic": [True, True],
            "unit_code": ["ZH11011210001", "ZH11011220001"],
            "category": ["priority", "key"],
            "access_list": [
                json.dumps(
                    [{"dimension": "layout", "text": "禁止新建<b>工业</b>", "text_en": "No <b>"}],
                    ensure_ascii=False,
                ),
                "[]",
            ],
        },
        geometry=[shapely.box(116.3, 39.85, 116.5, 39.95), shapely.box(116.5, 39.7, 116.7, 39.85)],
        crs="EPSG:4326",
    ).to_crs("EPSG:4548")  # projected input: the map must reproject it
    wells = gpd.GeoDataFrame(
        {"feature_id": ["w1"], "name": ["水源井1"], "synthetic": [True]},
        geometry=[shapely.Point(116.45, 39.90)],
        crs="EPSG:4326",
    )
    return {"redline": redline, "control_unit": units, "well": wells}


@pytest.fixture
def check() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["s1", "s2"],
            "verdict": ["prohibited", "compliant"],
            "verdict_zh": ["不符合（禁止类）", "符合"],
            "deciding_rules": ["redline.no_construction", ""],
            "dist_redline_m": [0.0, 8123.4],
        },
        geometry=[shapely.Point(116.40, 39.90), shapely.Point(116.85, 40.00)],
        crs="EPSG:4326",
    )
    findings = pd.DataFrame(
        {
            "site_id": ["s1"],
            "rule_id": ["redline.no_construction"],
            "outcome": ["prohibited"],
            "section": ["redline"],
            "title": ["位于生态保护红线内"],
            "requirement": ["禁止开发性、生产性建设活动 " + XSS],
            "requirement_en": ["No development or production construction"],
            "citations": [["001_1c6d450321da7557.txt line 370"]],
            "feature_ids": [["r1"]],
            "distance_m": [0.0],
            "overlap_m2": [100.0],
            "overlap_pct": [100.0],
            "access_entries": [None],
        }
    )
    return sites, findings


# ------------------------------------------------------------------- HTML helpers


def overlay_names(page: str) -> dict[str, str]:
    """Layer-control overlay name -> JS variable, decoded from the page."""
    block = re.search(r"overlays\s*:\s*\{(.*?)\}", page, re.S)
    assert block, "no layer control in the page"
    pairs = re.findall(r'("(?:[^"\\]|\\.)*")\s*:\s*([A-Za-z0-9_]+)', block.group(1))
    return {json.loads(name): var for name, var in pairs}


def layer_data(page: str, var: str) -> dict:
    match = re.search(re.escape(var) + r"_add\((\{.*?\})\);\s*\n", page)
    assert match, f"no data for {var}"
    return json.loads(match.group(1))


def layer_by_label(page: str, label: str) -> dict:
    names = overlay_names(page)
    hits = [var for name, var in names.items() if name.startswith(label)]
    assert len(hits) == 1, (label, list(names))
    return layer_data(page, hits[0])


def without_vendored(page: str) -> str:
    return re.sub(r"<(script|style) data-ecozone-asset=.*?</\1>", "", page, flags=re.S)


def legend_text(page: str) -> str:
    match = re.search(r'<div class="ecz-box ecz-legend">(.*?)</div></div>', page, re.S)
    assert match
    return re.sub(r"<[^>]+>", " ", match.group(1))


SAFE_URLS = ("http://www.w3.org/",)


def external_urls(page: str) -> list[str]:
    """Every URL the page would load or link to, outside the vendored asset blocks."""
    body = re.sub(r"data:[A-Za-z0-9.+/-]+;base64,[A-Za-z0-9+/=]+", "data:", without_vendored(page))
    found = re.findall(r"""(?:https?:)?//[A-Za-z0-9.\-]+[^\s"'<>)\\]*""", body)
    found += re.findall(r"""(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", body)
    found += re.findall(r"""url\(\s*["']?\s*((?:https?:)?//[^"')\s]+)""", body)
    return [u for u in found if not u.startswith(SAFE_URLS)]


# ------------------------------------------------------------------------- tests


def test_layer_control_has_every_layer(layers, check):
    sites, findings = check
    gaps = gpd.GeoDataFrame(
        {"name": ["缺口"]}, geometry=[shapely.box(116.7, 39.9, 116.75, 39.95)], crs=4326
    )
    buffers = sites.to_crs(4548).buffer(500)
    m = interactive_map(
        layers, sites=sites, findings=findings, buffers=buffers, gaps=gaps, basemap="none"
    )
    names = overlay_names(render_interactive(m))
    expected = ["生态保护红线", "环境管控单元", "饮用水水源井", "选址", "缓冲区", "覆盖缺口"]
    for label in expected:
        assert sum(name.startswith(label) for name in names) == 1, (label, list(names))
    assert len(names) == len(expected)


def test_legend_in_chinese_and_english(layers):
    zh = legend_text(render_interactive(interactive_map(layers, basemap="none")))
    assert "图例" in zh
    for label in ("生态保护红线", "环境管控单元", "优先保护单元", "重点管控单元", "饮用水水源井"):
        assert label in zh
    page_en = render_interactive(interactive_map(layers, basemap="none", lang="en"))
    en = legend_text(page_en)
    assert "Legend" in en and "图例" not in en
    assert "Ecological protection red line" in en
    assert "Key-control unit" in en
    assert any(n.startswith("Drinking-water well") for n in overlay_names(page_en))


def test_popups_and_names_are_escaped(layers, check):
    sites, findings = check
    layers = dict(layers)
    layers['<img src=x onerror="alert(2)">'] = layers["well"].assign(name=["井"])
    m = interactive_map(
        layers, sites=sites, findings=findings, basemap="none", title="<b>标题</b>" + XSS
    )
    page = render_interactive(m)
    body = without_vendored(page)
    assert XSS not in body
    assert "<img src=x" not in body
    assert "<b>标题</b>" not in body
    # The popup is escaped HTML: the text shows, nothing executes.
    red = layer_by_label(page, "生态保护红线")
    popup = next(
        f["properties"]["_popup"] for f in red["features"] if "alert" in f["properties"]["_popup"]
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in popup
    assert "<script" not in popup
    # Leaflet inserts layer names as HTML, so they are escaped too.
    names = overlay_names(page)
    assert any(n.startswith("&lt;img src=x onerror=&quot;alert(2)&quot;&gt;") for n in names)
    # JSON-in-text columns: the access-list entry is escaped, not rendered.
    units = layer_by_label(page, "环境管控单元")
    assert any(
        "禁止新建&lt;b&gt;工业&lt;/b&gt;" in f["properties"]["_popup"] for f in units["features"]
    )
    sites_data = layer_by_label(page, "选址")
    s1 = next(f for f in sites_data["features"] if ">s1<" in f["properties"]["_popup"])
    assert "位于生态保护红线内" in s1["properties"]["_popup"]
    assert "&lt;script&gt;" in s1["properties"]["_popup"]


def test_user_text_is_not_a_template(layers):
    # folium/branca compile rendered output as Jinja: "{{ 6*7 }}" in user text must not
    # become 42 anywhere (popup, layer name, legend, title).
    jinja = "{{ 6*7 }}"
    shown = "&#123;&#123; 6*7 &#125;&#125;"
    wells = layers["well"].assign(name=[jinja + "井"])
    page = render_interactive(interactive_map({jinja: wells}, basemap="none", title=jinja + "图"))
    body = without_vendored(page)
    assert "42井" not in body and "42图" not in body and "42 (1)" not in body
    (name,) = overlay_names(page)
    assert name.startswith(shown)
    assert shown + "井" in layer_by_label(page, shown)["features"][0]["properties"]["_popup"]
    assert f'<div class="ecz-box ecz-title">{shown}图</div>' in page
    assert shown in legend_text(page)
    with pytest.raises(InputFormatError, match="single braces"):
        interactive_map(layers, basemap="http://x/{{ 6*7 }}/{z}/{x}/{y}.png")


def test_sites_coloured_by_verdict_with_findings(layers, check):
    sites, findings = check
    page = render_interactive(
        interactive_map(layers, sites=sites, findings=findings, basemap="none")
    )
    feats = {
        ("s1" if ">s1<" in f["properties"]["_popup"] else "s2"): f
        for f in layer_by_label(page, "选址")["features"]
    }
    assert (
        feats["s1"]["properties"]["style"]["fillColor"]
        != feats["s2"]["properties"]["style"]["fillColor"]
    )
    assert "禁止开发性" in feats["s1"]["properties"]["_popup"]
    assert "001_1c6d450321da7557.txt line 370" in feats["s1"]["properties"]["_popup"]
    assert "无适用规则" in feats["s2"]["properties"]["_popup"]
    assert "8,123.4 m" in feats["s2"]["properties"]["_popup"]
    legend = legend_text(page)
    assert "不符合（禁止类）" in legend and "符合" in legend


def test_basemap_none_has_no_external_url(layers, check):
    sites, findings = check
    page = render_interactive(
        interactive_map(layers, sites=sites, findings=findings, basemap="none", title="离线")
    )
    assert external_urls(page) == []
    # The vendored blocks only reference data: URIs (images inlined into the CSS).
    for css in re.findall(r'<style data-ecozone-asset="[^"]+">(.*?)</style>', page, re.S):
        refs = re.findall(r"url\(\s*[\"']?([^\"')]+)", css)
        assert refs and all(r.startswith(("data:", "#default#VML")) for r in refs)
    assert "L.tileLayer" not in page


def test_default_osm_basemap_still_inlines_assets(layers):
    page = render_interactive(interactive_map(layers))
    assert "tile.openstreetmap.org" in page
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)
    for cdn in ("cdn.jsdelivr.net", "code.jquery.com", "cdnjs.cloudflare.com", "bootstrapcdn"):
        assert cdn not in page
    assert [u for u in external_urls(page) if "openstreetmap.org" not in u] == []


def test_vendored_leaflet_is_inlined(layers):
    page = render_interactive(interactive_map(layers, basemap="none"))
    leaflet_js = (STATIC_DIR / "leaflet" / "leaflet.js").read_text(encoding="utf-8")
    assert leaflet_js[:2000] in page
    assert leaflet_js[-2000:] in page
    assert '<style data-ecozone-asset="leaflet/leaflet.css">' in page
    assert (STATIC_DIR / "leaflet" / "LICENSE").is_file()
    assert (STATIC_DIR / "leaflet-draw" / "LICENSE").is_file()


def test_draw_plugin_is_inlined_and_unvendored_plugins_raise(layers):
    m = interactive_map(layers, basemap="none")
    plugins.Draw().add_to(m)
    page = render_interactive(m)
    draw_js = (STATIC_DIR / "leaflet-draw" / "leaflet.draw.js").read_text(encoding="utf-8")
    assert draw_js[:1000] in page
    assert "cdnjs" not in page
    m2 = interactive_map(layers, basemap="none")
    plugins.Fullscreen().add_to(m2)
    with pytest.raises(MissingAssetError, match="fullscreen"):
        render_interactive(m2)


def test_tianditu_needs_key(layers, monkeypatch):
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.raises(InputFormatError, match="TIANDITU_KEY"):
        interactive_map(layers, basemap="tianditu")
    monkeypatch.setenv("TIANDITU_KEY", "abc123def")
    page = render_interactive(interactive_map(layers, basemap="tianditu"))
    assert "tianditu.gov.cn/vec_w/wmts" in page
    assert "tianditu.gov.cn/cva_w/wmts" in page
    assert "tk=abc123def" in page


def test_custom_tile_url(layers):
    url = "http://intranet/tiles/{z}/{x}/{y}.png"
    page = render_interactive(interactive_map(layers, basemap=url, attribution="内网 <瓦片>"))
    assert url in page
    attributions = [
        json.loads(a) for a in re.findall(r'"attribution":\s*("(?:[^"\\]|\\.)*")', page)
    ]
    assert attributions == ["内网 &lt;瓦片&gt;"]  # Leaflet shows it as HTML: escaped
    assert "openstreetmap" not in page.lower()
    with pytest.raises(InputFormatError, match="basemap="):
        interactive_map(layers, basemap="google")


def test_display_simplification_leaves_input_unchanged():
    dense = _circle(116.4, 39.9, 2000, 4000)  # ~3 m between vertices
    gdf = gpd.GeoDataFrame(
        {"feature_id": ["p1"], "name": ["公园"], "synthetic": [False], "area_m2": [1.0]},
        geometry=[dense],
        crs="EPSG:4326",
    )
    before = gdf.copy(deep=True)
    page = render_interactive(
        interactive_map({"park": gdf}, basemap="none", simplify_tolerance_m=5)
    )
    assert_geodataframe_equal(gdf, before)
    shown = shapely.from_geojson(
        json.dumps(layer_by_label(page, "公园绿地")["features"][0]["geometry"])
    )
    assert shapely.count_coordinates(shown) < shapely.count_coordinates(dense) / 5
    # Display shape stays within a few metres of the input (Hausdorff in GK metres).
    gk = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
    a = shapely.transform(dense, lambda c: np.column_stack(gk.transform(c[:, 0], c[:, 1])))
    b = shapely.transform(shown, lambda c: np.column_stack(gk.transform(c[:, 0], c[:, 1])))
    assert shapely.hausdorff_distance(a, b) <= 5.5
    # Automatic tolerance also thins; 0 keeps every vertex.
    auto = render_interactive(interactive_map({"park": gdf}, basemap="none"))
    auto_geom = layer_by_label(auto, "公园绿地")["features"][0]["geometry"]
    assert shapely.count_coordinates(shapely.from_geojson(json.dumps(auto_geom))) < 4001
    exact = render_interactive(
        interactive_map({"park": gdf}, basemap="none", simplify_tolerance_m=0)
    )
    exact_geom = layer_by_label(exact, "公园绿地")["features"][0]["geometry"]
    assert shapely.count_coordinates(shapely.from_geojson(json.dumps(exact_geom))) == 4001


def test_projected_input_is_shown_in_lonlat(layers):
    page = render_interactive(interactive_map(layers, basemap="none"))
    units = layer_by_label(page, "环境管控单元")
    geom = shapely.from_geojson(json.dumps(units["features"][0]["geometry"]))
    minx, _, _, maxy = geom.bounds
    assert minx == pytest.approx(116.3, abs=1e-5) and maxy == pytest.approx(39.95, abs=1e-5)


def test_feature_cap_adds_note():
    pts = gpd.GeoDataFrame(
        {"feature_id": [f"w{i}" for i in range(10)], "name": [f"井{i}" for i in range(10)]},
        geometry=shapely.points(np.column_stack([116.3 + np.arange(10) * 0.01, np.full(10, 39.9)])),
        crs="EPSG:4326",
    )
    page = render_interactive(
        interactive_map({"well": pts}, basemap="none", max_features_per_layer=3)
    )
    assert len(layer_by_label(page, "饮用水水源井")["features"]) == 3
    assert "仅显示前 3 个（共 10 个）" in legend_text(page)
    assert any(name.endswith("(3/10)") for name in overlay_names(page))


def test_synthetic_note_only_for_demo_data(layers):
    note = "演示数据，非官方"
    assert note in render_interactive(interactive_map(layers, basemap="none"))
    real = {k: v.assign(synthetic=False) for k, v in layers.items()}
    page = render_interactive(interactive_map(real, basemap="none"))
    assert note not in without_vendored(page)


def test_save_interactive(tmp_path, layers):
    out = save_interactive(interactive_map(layers, basemap="none"), tmp_path / "map.html")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert external_urls(page) == []
    with pytest.raises(InputFormatError, match=r"\.html"):
        save_interactive(interactive_map(layers, basemap="none"), tmp_path / "map.png")


def test_plain_folium_map_is_made_offline():
    m = folium.Map(location=[39.9, 116.4], tiles=None)
    page = render_interactive(m)
    assert not re.search(r"<script[^>]+src=", page)
    assert external_urls(page) == []
    # folium's own class-level resource lists are left alone.
    assert any("jsdelivr" in url for _, url in folium.Map.default_js)


def test_bad_arguments(layers):
    with pytest.raises(InputFormatError, match="lang="):
        interactive_map(layers, lang="fr")
    with pytest.raises(InputFormatError, match="no CRS"):
        interactive_map({"well": gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)])})
    with pytest.raises(InputFormatError, match="GeoDataFrame"):
        interactive_map({"well": [1, 2]})
    with pytest.raises(InputFormatError, match="sites"):
        interactive_map(layers, findings=pd.DataFrame({"site_id": []}))


def test_empty_layers_and_layer_objects():
    from dataclasses import dataclass

    @dataclass
    class LayerLike:  # the shape of layers.Layer that maps relies on
        gdf: gpd.GeoDataFrame
        kind: str
        synthetic: bool

    empty = gpd.GeoDataFrame({"feature_id": [], "name": []}, geometry=[], crs=4326)
    parks = gpd.GeoDataFrame(
        {"feature_id": ["p1"], "name": ["公园"]},
        geometry=[shapely.box(116.4, 39.9, 116.41, 39.91)],
        crs=4326,
    )
    m = interactive_map(
        {"redline": empty, "my_parks": LayerLike(parks, "park", True)}, basemap="none"
    )
    page = render_interactive(m)
    names = overlay_names(page)
    assert "生态保护红线 (0)" in names
    assert "公园绿地 (1)" in names  # styled and labelled by the Layer's kind
    assert "演示数据，非官方" in without_vendored(page)  # Layer.synthetic counts too
