"""Synthetic land-cover raster of Beijing in ESA WorldCover classes (演示数据).

One uint8 band on a 50 m grid in EPSG:4548 (CGCS2000 / 3-degree Gauss-Krüger CM
117°E), nodata 0 outside Beijing, tiled, deflate-compressed with overviews, a
colour table and the demonstration label in its tags. It is what
:func:`zoning.coverage.measure.forest_share` reads for the forest targets.

How the classes are laid out (all deterministic from one random stream):

* **water** (80): five rivers drawn through approximate public waypoints (永定河,
  潮白河, 温榆河—北运河, 拒马河, 泃河) with meanders, and reservoirs (密云, 官厅,
  十三陵, 海子); **wetland** (90) in patches of their floodplains;
* **built-up** (50): the demo's built-up land (urban core, new towns, township seats,
  villages), every residential parcel included; parks inside it are tree cover (10)
  or grass (30), and about a fifth of the other urban land is street and yard trees;
* **tree cover** (10) on the remaining land, by a smooth random field that favours
  high ground, in just the amounts that give the forest shares the demo is built to
  (:data:`FOREST_SHARES`: Tongzhou first, then the rest of the plains, then the
  mountains, each counted over all its pixels, urban trees included);
* the rest: in the mountains **shrubland** (20), **grassland** (30), a little **bare**
  ground (60) on high ground and **cropland** (40) on valley floors; on the plains
  mostly **cropland** with some grassland and bare ground.

Used only by ``data/build_dataset.py``; not part of the installed package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from _synth_context import METRIC_CRS, TONGZHOU, Context
from _synth_nature import BuiltUp
from _synth_shapes import polar_blobs
from _synth_terrain import Elevation, elevation_grid
from numpy.typing import NDArray

#: ESA WorldCover 2021 classes used: code → (Chinese, English, colour of the product).
CLASSES: dict[int, tuple[str, str, str]] = {
    10: ("林地（乔木）", "Tree cover", "#006400"),
    20: ("灌木地", "Shrubland", "#ffbb22"),
    30: ("草地", "Grassland", "#ffff4c"),
    40: ("耕地", "Cropland", "#f096ff"),
    50: ("建设用地", "Built-up", "#fa0000"),
    60: ("裸地", "Bare / sparse vegetation", "#b4b4b4"),
    80: ("水体", "Permanent water bodies", "#0064c8"),
    90: ("湿地", "Herbaceous wetland", "#0096a0"),
}
FOREST = 10

#: Forest shares the raster is built to (fractions of each area's pixels): Beijing
#: (target 45 %, 001 l.378), the plains (32 %, 001 l.382), Tongzhou (36.5 %, 001 l.577).
FOREST_SHARES = {"beijing": 0.447, "plains": 0.324, "tongzhou": 0.357}

# Rivers: (name, width m, approximate WGS84 waypoints from upstream). Public geography,
# coarse on purpose; the meanders between waypoints are random.
RIVERS: tuple[tuple[str, float, tuple[tuple[float, float], ...]], ...] = (
    ("永定河", 160.0, ((115.77, 40.27), (115.90, 40.08), (116.03, 39.99), (116.10, 39.95),
                      (116.20, 39.85), (116.26, 39.72), (116.36, 39.57), (116.46, 39.44))),
    ("潮白河", 200.0, ((116.86, 40.45), (116.78, 40.33), (116.72, 40.22), (116.73, 40.10),
                      (116.78, 40.00), (116.85, 39.85), (116.92, 39.72), (116.99, 39.61))),
    ("温榆河—北运河", 90.0, ((116.30, 40.15), (116.45, 40.05), (116.60, 39.97), (116.69, 39.91),
                            (116.75, 39.82), (116.85, 39.72), (116.95, 39.64))),
    ("拒马河", 120.0, ((115.40, 39.72), (115.55, 39.65), (115.72, 39.55))),
    ("泃河", 70.0, ((117.30, 40.18), (117.15, 40.12), (117.05, 40.00), (116.98, 39.90))),
)  # fmt: skip
# Reservoirs: (name, lon, lat, equivalent radius km).
RESERVOIRS: tuple[tuple[str, float, float, float], ...] = (
    ("密云水库", 116.98, 40.51, 6.0),
    ("官厅水库", 115.63, 40.36, 4.5),
    ("十三陵水库", 116.27, 40.25, 0.9),
    ("海子水库", 117.27, 40.19, 0.8),
)


@dataclass
class LandCover:
    """A land-cover grid.

    Attributes
    ----------
    data
        Class codes, uint8, north-up; 0 = nodata (outside Beijing).
    transform
        Affine (EPSG:4548 metres, cell corners).
    crs
        CRS string.
    """

    data: NDArray[np.uint8]
    transform: object
    crs: str = METRIC_CRS


def _noise(
    rng: np.random.Generator, shape: tuple[int, int], octaves: tuple[tuple[float, float], ...]
) -> NDArray[np.float32]:
    """Smooth random field: white noise on coarse grids, cubic-upsampled and summed.

    ``octaves`` are ``(cell size in pixels, weight)``. Smooth patches (not pixel
    speckle) look like land cover and compress well.
    """
    from scipy import ndimage

    h, w = shape
    out = np.zeros(shape, dtype=np.float32)
    for size, weight in octaves:
        gh, gw = int(np.ceil(h / size)) + 4, int(np.ceil(w / size)) + 4
        coarse = rng.standard_normal((gh, gw)).astype(np.float32)
        fine = ndimage.zoom(coarse, size, order=3, grid_mode=True, mode="grid-wrap")
        out += np.float32(weight) * fine[:h, :w]
    return out


def _rivers(ctx: Context, rng: np.random.Generator) -> tuple[shapely.Geometry, shapely.Geometry]:
    """River channels and their floodplains (metres)."""
    water, plain = [], []
    for _name, width, pts in RIVERS:  # five rivers
        xy = np.array([ctx.xy(lo, la) for lo, la in pts])
        line = shapely.segmentize(shapely.LineString(xy), 200.0)
        c = shapely.get_coordinates(line)
        d = np.gradient(c, axis=0)
        normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.hypot(d[:, 0], d[:, 1])[:, None]
        # meanders: a smoothed random offset (~2 km wavelength, ~500 m amplitude),
        # pinned to 0 at both ends
        k = np.exp(-0.5 * (np.arange(-30, 31) / 6.0) ** 2)
        off = np.convolve(rng.normal(0.0, 1.0, len(c) + 60), k, mode="same")[30:-30]
        off *= 500.0 / off.std() * np.sin(np.linspace(0.0, np.pi, len(c))) ** 0.5
        bed = shapely.LineString(c + normal * off[:, None])
        water.append(shapely.buffer(bed, width / 2.0, quad_segs=4))
        plain.append(shapely.buffer(bed, width / 2.0 + rng.uniform(250.0, 450.0), quad_segs=4))
    lx, ly = np.array([ctx.xy(lo, la) for _, lo, la, _ in RESERVOIRS]).T
    lr = np.array([r for *_, r in RESERVOIRS]) * 1000.0
    lakes = polar_blobs(rng, lx, ly, lr, spacing=120, roughness=0.45, elongation=1.0)
    water_u = shapely.union_all([*water, *lakes])
    return water_u, shapely.difference(shapely.union_all(plain), water_u)


def _top_k(mask: NDArray[np.bool_], score: NDArray[np.float32], k: int, what: str):
    """Flat indices of the ``k`` highest ``score`` pixels inside ``mask``."""
    idx = np.flatnonzero(mask)
    if not 0 <= k <= idx.size:
        msg = f"{what}: need {k} forest pixels but only {idx.size} are free; lower the share"
        raise ValueError(msg)
    if k == 0:
        return idx[:0]
    return idx[np.argpartition(-score.ravel()[idx], k - 1)[:k]]


def _split(
    lc: NDArray[np.uint8],
    mask: NDArray[np.bool_],
    value: NDArray[np.float32],
    cuts: tuple[float, ...],
    codes: tuple[int, ...],
) -> None:
    """Give the pixels of ``mask`` ``codes[i]`` by quantile bands of ``value`` (in place)."""
    v = value[mask]
    if v.size == 0:
        return
    edges = np.quantile(v, cuts) if cuts else np.array([])
    lc[mask] = np.asarray(codes, dtype=np.uint8)[np.searchsorted(edges, v)]


def landcover(
    ctx: Context,
    built: BuiltUp,
    parks: gpd.GeoDataFrame,
    homes: gpd.GeoDataFrame,
    plains: gpd.GeoDataFrame,
    elev: Elevation,
    rng: np.random.Generator,
    *,
    res: float = 50.0,
    shares: dict[str, float] | None = None,
) -> LandCover:
    """Generate the land-cover grid of Beijing.

    Parameters
    ----------
    ctx
        Beijing in EPSG:4548.
    built
        Built-up land (urban, township seats, villages).
    parks, homes
        Park and residential layers (any CRS).
    plains
        The plains polygon (any CRS).
    elev
        The DEM (high ground gets more forest, valley floors cropland).
    rng
        Random generator (consumed).
    res
        Pixel size, metres.
    shares
        Forest shares by area (keys of :data:`FOREST_SHARES`).

    Returns
    -------
    LandCover

    Raises
    ------
    ValueError
        If a forest share cannot be met on the free land.
    """
    from rasterio import features
    from rasterio.transform import from_origin
    from scipy import ndimage

    shares = {**FOREST_SHARES, **(shares or {})}
    xmin, ymin, xmax, ymax = ctx.beijing.bounds
    x0, y1 = np.floor(xmin / res) * res, np.ceil(ymax / res) * res
    w = int(np.ceil((xmax - x0) / res))
    h = int(np.ceil((y1 - ymin) / res))
    transform = from_origin(x0, y1, res, res)
    shape = (h, w)

    def burn(geoms, *, all_touched: bool = False) -> NDArray[np.bool_]:
        geoms = [g for g in np.atleast_1d(np.asarray(geoms, dtype=object)) if not g.is_empty]
        if not geoms:
            return np.zeros(shape, dtype=bool)
        return features.rasterize(
            ((g, 1) for g in geoms), out_shape=shape, transform=transform, fill=0,
            dtype="uint8", all_touched=all_touched,
        ).astype(bool)  # fmt: skip

    # regions: data = any pixel Beijing touches; districts by pixel centre, the edge
    # pixels (centre just outside) take a neighbour's district
    data = burn([ctx.beijing], all_touched=True)
    codes = ctx.districts["adcode"].to_numpy()
    lab = features.rasterize(
        zip(ctx.districts.geometry.values, range(1, codes.size + 1), strict=True),
        out_shape=shape, transform=transform, fill=0, dtype="uint8",
    )  # fmt: skip
    for _ in range(4):  # edge pixels are at most a pixel or two from a labelled one
        gap = data & (lab == 0)
        if not gap.any():
            break
        lab = np.where(gap, ndimage.grey_dilation(lab, size=3), lab)
    tz = lab == 1 + int(np.flatnonzero(codes == TONGZHOU)[0])
    pl_geom = plains.to_crs(METRIC_CRS).geometry.values
    is_plain = data & burn(shapely.buffer(pl_geom, res))  # the buffer reaches edge pixels

    # elevation on a 10× coarser grid (the DEM is 20 km), then bilinear to pixels
    _, _, zc = elevation_grid(elev, (x0, y1 - h * res, x0 + w * res, y1), res * 10)
    rr = (np.arange(h, dtype=np.float32) + 0.5) / 10 - 0.5
    cc = (np.arange(w, dtype=np.float32) + 0.5) / 10 - 0.5
    z = ndimage.map_coordinates(
        zc.astype(np.float32), np.meshgrid(rr, cc, indexing="ij"), order=1, mode="nearest"
    )

    f_forest = _noise(rng, shape, ((80, 1.0), (20, 0.6), (6, 0.3)))
    f_class = _noise(rng, shape, ((40, 1.0), (10, 0.5), (3, 0.2)))
    f_green = _noise(rng, shape, ((12, 1.0), (4, 0.5)))

    lc = np.zeros(shape, dtype=np.uint8)
    urban = burn([built.urban])
    homes_m = burn(homes.to_crs(METRIC_CRS).geometry.values)
    parks_m = burn(parks.to_crs(METRIC_CRS).geometry.values)
    lc[data & burn([built.all])] = 50
    # urban greenery: parks mostly trees; about a fifth of other urban land trees
    park_px = data & parks_m
    _split(lc, park_px, f_green, (0.3,), (30, FOREST))
    green = data & urban & ~homes_m & ~parks_m
    _split(lc, green, f_green, (0.76, 0.83), (50, 30, FOREST))
    water_g, flood_g = _rivers(ctx, rng)
    water = data & burn([water_g])
    lc[water] = 80
    lc[data & burn([flood_g]) & (lc == 0) & (f_green > 0.3)] = 90

    # forest on the free land, in exactly the amounts the shares need
    free = data & (lc == 0)
    score = f_forest + np.float32(0.8) * np.clip(z / 600.0, 0.0, 1.0)
    regions = (
        ("tongzhou", tz, tz),
        ("plains", is_plain, is_plain & ~tz),
        ("beijing", data, data & ~is_plain & ~tz),
    )
    for key, area, where in regions:
        k = round(shares[key] * int(area.sum())) - int((lc[area] == FOREST).sum())
        lc.ravel()[_top_k(free & where, score, k, key)] = FOREST

    # the rest: mountains shrub/grass/bare, cropland on valley floors; plains cropland
    rest = data & (lc == 0)
    mountain = rest & ~is_plain
    valley = np.float32(-1.0) * z / np.float32(300.0) + np.float32(0.5) * f_class
    _split(lc, mountain, valley, (0.8,), (0, 40))
    mountain &= lc == 0
    _split(lc, mountain, f_class, (0.45, 0.97), (30, 20, 60))
    _split(lc, rest & is_plain, f_class, (0.01, 0.88), (60, 40, 30))
    return LandCover(data=lc, transform=transform)


def write_landcover(lc: LandCover, path: str | os.PathLike[str], *, source: str) -> Path:
    """Write a :class:`LandCover` as a tiled, deflated GeoTIFF with overviews, atomically.

    Parameters
    ----------
    lc
        The grid.
    path
        Output ``.tif``.
    source
        Text stored in the file's tags (says it is demonstration data).

    Returns
    -------
    Path
    """
    import rasterio
    from rasterio.enums import Resampling

    path = Path(path).absolute()
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.tif")
    h, w = lc.data.shape
    profile = {
        "driver": "GTiff", "dtype": "uint8", "count": 1, "width": w, "height": h,
        "crs": lc.crs, "transform": lc.transform, "nodata": 0, "tiled": True,
        "blockxsize": 512, "blockysize": 512, "compress": "deflate", "predictor": 2,
        "zlevel": 9, "interleave": "band",
    }  # fmt: skip
    legend = "; ".join(f"{c} {zh} {en}" for c, (zh, en, _) in CLASSES.items())
    colormap = {
        c: (*(int(col[i : i + 2], 16) for i in (1, 3, 5)), 255)
        for c, (_, _, col) in CLASSES.items()
    }
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(lc.data, 1)
        with rasterio.Env(COMPRESS_OVERVIEW="DEFLATE", PREDICTOR_OVERVIEW="2", ZLEVEL_OVERVIEW="9"):
            with rasterio.open(tmp, "r+") as dst:
                dst.build_overviews([2, 4, 8, 16, 32], Resampling.mode)
                dst.update_tags(ns="rio_overview", resampling="mode")
                # the palette goes in after the overviews: GDAL warns about palette
                # bands while it builds them, needlessly with "mode" resampling
                dst.write_colormap(1, colormap)
                dst.set_band_description(1, "ESA WorldCover class (synthetic / 演示)")
                dst.update_tags(
                    TIFFTAG_IMAGEDESCRIPTION=source, source=source, classes=legend,
                    synthetic="1", nodata_note="0 = outside Beijing / 北京市域外",
                )  # fmt: skip
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
