"""Synthesise the Beijing demo layers of the rules added in issue #11 §4 and import them.

Two layer kinds the Beijing family of packs reads (docs/rules.md, "Rules added"):

- ``nonroad_ban_zone`` (高排放非道路移动机械禁用区, 001 l.55, l.266): one feature, the
  area inside an approximate Sixth Ring Road (a smooth ring about 27 km around the
  centre, the order of the real ring's 2 267 km²) together with the whole of Tongzhou
  (the city sub-centre). Synthetic: the official zone is set by notice and may differ.
- ``nature_reserve`` (自然保护地, 自然保护区条例 art. 32): ten reserves carved from the
  largest demo red-line patches in the mountain districts, each split into a core,
  buffer and experimental zone (nested discs cut by the patch), about 900 km² in all
  (Beijing's real reserves cover about 1 400 km², some 8 % of the municipality).

Every feature is flagged synthetic, every layer's source says "演示数据，非官方", and
both layers record Beijing (110000) as their extent. The generators are deterministic
(seed below), so re-running imports nothing when the store already holds the same
content (the checksums match); otherwise it imports a new version (old ones stay)::

    .venv/bin/python data/add_rule_layers.py [--store data/ecozone_demo.gpkg]

Jiangjin and Guangxi get no demo layers: their rules then give 数据不足 (import real
``river`` / ``nature_reserve`` layers with ``ecozone layers import FILE --kind ...``).
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE), str(_HERE.parent)):  # the _synth_* helpers, then the packages
    if _p not in sys.path:
        sys.path.insert(0, _p)

from _synth_context import CENTRE_LONLAT, METRIC_CRS, MOUNTAIN, TONGZHOU  # noqa: E402

SEED = 20250101
DEMO_LABEL = "演示数据，非官方 / demonstration data, not official"
EXTENT = {"adcodes": ["110000"]}
DESCRIPTIONS = {
    "nonroad_ban_zone": (
        "禁止使用高排放非道路移动机械区域（近似六环路以内及通州区全域，合成） / "
        "synthetic non-road machinery ban zone (about the Sixth Ring Road and Tongzhou)"
    ),
    "nature_reserve": (
        "自然保护区及其核心区、缓冲区、实验区（取自合成生态保护红线斑块） / "
        "synthetic nature reserves with core, buffer and experimental zones"
    ),
}
N_RESERVES = 10
#: Zone radii as shares of the reserve's radius (core, buffer, experimental).
ZONES = (("core", "核心区", 0.5), ("buffer", "缓冲区", 0.75), ("experimental", "实验区", 1.0))


def _rng(name: str, seed: int = SEED) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def nonroad_ban_zone(boundary: gpd.GeoDataFrame, *, seed: int = SEED) -> gpd.GeoDataFrame:
    """The synthetic ban zone (EPSG:4326): an approximate Sixth Ring plus Tongzhou.

    Parameters
    ----------
    boundary
        The store's boundary layer (Beijing 110000 and its districts).
    seed
        Seed of the ring's small wobble.

    Returns
    -------
    geopandas.GeoDataFrame
        One feature, cut to Beijing.
    """
    b = boundary.to_crs(METRIC_CRS)
    codes = b["adcode"].astype(str)
    beijing = b.geometry[codes == "110000"].union_all()
    tongzhou = b.geometry[codes == TONGZHOU].union_all()
    centre = gpd.GeoSeries(gpd.points_from_xy([CENTRE_LONLAT[0]], [CENTRE_LONLAT[1]]), crs=4326)
    cx, cy = centre.to_crs(METRIC_CRS).iloc[0].coords[0]
    t = np.linspace(0.0, 2.0 * np.pi, 181)[:-1]
    rng = _rng("nonroad_ban_zone", seed)
    wobble = (
        1.0
        + 0.04 * np.sin(3 * t + rng.uniform(0, 2 * np.pi))
        + 0.03 * np.sin(5 * t + rng.uniform(0, 2 * np.pi))
    )
    ring = shapely.Polygon(
        np.column_stack([cx + 28_000.0 * wobble * np.cos(t), cy + 26_000.0 * wobble * np.sin(t)])
    )
    zone = shapely.intersection(shapely.union(ring, tongzhou), beijing)
    if shapely.get_type_id(zone) == 3:  # stored as a multipolygon, like every polygon kind
        zone = shapely.multipolygons([zone])
    gdf = gpd.GeoDataFrame(
        {
            "feature_id": ["nrbz-1"],
            "name": ["禁止使用高排放非道路移动机械区域（演示）"],
        },
        geometry=[zone],
        crs=METRIC_CRS,
    )
    return gdf.to_crs("EPSG:4326")


def nature_reserves(
    redline: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame, *, seed: int = SEED
) -> gpd.GeoDataFrame:
    """Synthetic reserves with three zones each, carved from mountain red-line patches.

    Parameters
    ----------
    redline
        The store's (demo) red-line layer.
    boundary
        The boundary layer (the mountain districts are picked from it).
    seed
        Seed of the reserves' radii and centres.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``feature_id``, ``name``, ``reserve``, ``zone`` (EPSG:4326); each zone
        is its own feature, the three zones of a reserve do not overlap.
    """
    rng = _rng("nature_reserve", seed)
    b = boundary.to_crs(METRIC_CRS)
    mountain = b.geometry[b["adcode"].astype(str).isin(MOUNTAIN)].union_all()
    red = redline.to_crs(METRIC_CRS)
    geoms = red.geometry.to_numpy()
    area = shapely.area(geoms)
    in_mountain = shapely.intersects(mountain, shapely.point_on_surface(geoms))
    order = np.argsort(-np.where(in_mountain, area, -1.0), kind="stable")[:N_RESERVES]
    rows: list[dict[str, object]] = []
    out: list[shapely.Geometry] = []
    for n, i in enumerate(order, start=1):
        patch = geoms[i]
        centre = shapely.point_on_surface(patch)
        # reserves of about 40–250 km² (radius before the cut by the patch)
        radius = float(np.sqrt(rng.uniform(40e6, 250e6) / np.pi))
        discs = [shapely.buffer(centre, radius * share, quad_segs=16) for *_, share in ZONES]
        rings = [discs[0], *(shapely.difference(discs[k], discs[k - 1]) for k in (1, 2))]
        name = f"演示自然保护区{n:02d}"
        for (zone, zone_zh, _), ring in zip(ZONES, rings, strict=True):
            part = shapely.intersection(ring, patch)
            if shapely.is_empty(part) or shapely.area(part) < 1e4:
                continue
            rows.append(
                {
                    "feature_id": f"nr-{n:02d}-{zone}",
                    "name": f"{name}{zone_zh}",
                    "reserve": name,
                    "zone": zone,
                }
            )
            out.append(part)
    gdf = gpd.GeoDataFrame(rows, geometry=out, crs=METRIC_CRS).to_crs("EPSG:4326")
    # keep polygons only (cuts may leave slivers of lines)
    geoms = gdf.geometry.to_numpy()
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = np.isin(shapely.get_type_id(parts), (3,))
    fixed = np.empty(len(geoms), dtype=object)
    shapely.multipolygons(parts[keep], indices=idx[keep], out=fixed)
    return gdf.set_geometry(gpd.GeoSeries(fixed, index=gdf.index, crs=gdf.crs))


def build(store: object, *, seed: int = SEED) -> dict[str, gpd.GeoDataFrame]:
    """Generate both layers from the store's boundary and red-line layers."""
    boundary = store.get("boundary").gdf  # type: ignore[attr-defined]
    redline = store.get_kind("redline").gdf  # type: ignore[attr-defined]
    return {
        "nonroad_ban_zone": nonroad_ban_zone(boundary, seed=seed),
        "nature_reserve": nature_reserves(redline, boundary, seed=seed),
    }


def main(argv: list[str] | None = None) -> int:
    """Import the layers into the store unless it already holds the same content."""
    from layers import LayerStore
    from layers.kinds import validate_layer
    from layers.layer import layer_checksum

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=str(_HERE / "ecozone_demo.gpkg"))
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    with LayerStore(args.store, create=False) as store:
        listing = store.list_layers().set_index("name")
        for kind, gdf in build(store, seed=args.seed).items():
            gdf = gdf.assign(synthetic=True)
            checksum = layer_checksum(validate_layer(gdf, kind, synthetic=True))
            if kind in listing.index and listing.loc[kind, "checksum"] == checksum:
                print(f"{kind}: unchanged (version {listing.loc[kind, 'version']})")
                continue
            layer = store.import_layer(
                gdf,
                name=kind,
                kind=kind,
                source=(
                    f"{DEMO_LABEL}. {DESCRIPTIONS[kind]}; ecozone data/add_rule_layers.py, "
                    f"seed {args.seed}"
                ),
                synthetic=True,
                extent=EXTENT,
            )
            print(f"{kind}: imported version {layer.version} ({len(gdf)} features)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
