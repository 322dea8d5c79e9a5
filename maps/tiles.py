"""Offline tile packages (离线底图): build an ``.mbtiles`` from the store, read any package.

An intranet without internet still wants a basemap. :func:`build_tiles` renders
the store's layers (boundaries with district names, the jurisdiction outline, and
reference layers such as roads or water when a bureau imports them) as 256-pixel
PNG tiles in the Web-Mercator XYZ grid and writes an MBTiles file (SQLite, the
OGC-adopted format QGIS and every tile server read) or a PMTiles archive;
:class:`TilePackage` reads either, for ``ecozone serve`` and ``ecozone map``.

The tiles are drawn with Pillow from the layers' styles (:mod:`maps.style`); each
tile draws only the features its bounds intersect (one STRtree query per tile).
"""

from __future__ import annotations

import io
import math
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.errors import InputFormatError

__all__ = ["TilePackage", "build_tiles", "lonlat_to_tile", "tile_bounds"]

TILE = 256
_MAX_TILES = 20_000  # a "small" package: the build refuses more


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """XYZ tile (x, y) containing lon/lat at zoom ``z`` (Web-Mercator grid)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(max(min(lat, 85.0511), -85.0511))
    y = int((1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Lon/lat bounds (west, south, east, north) of an XYZ tile."""
    n = 2**z

    def lat(yy: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def _pixels(xy: np.ndarray, z: int, x: int, y: int) -> np.ndarray:
    """Lon/lat → pixel coordinates within tile (z, x, y)."""
    n = 2**z
    lat = np.radians(np.clip(xy[:, 1], -85.0511, 85.0511))
    px = ((xy[:, 0] + 180.0) / 360.0 * n - x) * TILE
    py = ((1.0 - np.arcsinh(np.tan(lat)) / np.pi) / 2.0 * n - y) * TILE
    return np.column_stack([px, py])


class TilePackage:
    """Read tiles from an ``.mbtiles`` or ``.pmtiles`` file.

    Parameters
    ----------
    path
        The package.

    Examples
    --------
    >>> with TilePackage("beijing.mbtiles") as pkg:  # doctest: +SKIP
    ...     png = pkg.get(10, 843, 387)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._pm: Any = None
        self._file: Any = None
        try:
            if self.path.suffix.lower() == ".pmtiles":
                from pmtiles.reader import MmapSource, Reader

                self._file = open(self.path, "rb")
                self._pm = Reader(MmapSource(self._file))
                self._pm.header()
            else:
                self._db = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
                )
                self._db.execute("SELECT 1 FROM tiles LIMIT 1").fetchall()
        except Exception as err:  # sqlite3/pmtiles raise several types for a bad file
            self.close()
            msg = (
                f"{self.path}: 不是可读的瓦片包 / not a readable .mbtiles/.pmtiles tile "
                f"package ({type(err).__name__}: {err})."
            )
            raise InputFormatError(msg) from err

    def __enter__(self) -> TilePackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def metadata(self) -> dict[str, Any]:
        """The package's metadata (name, format, bounds, minzoom, maxzoom, …)."""
        if self._pm is not None:
            meta = dict(self._pm.metadata() or {})
            header = self._pm.header()
            meta.setdefault("minzoom", header.get("min_zoom"))
            meta.setdefault("maxzoom", header.get("max_zoom"))
            return meta
        assert self._db is not None
        rows = self._db.execute("SELECT name, value FROM metadata").fetchall()
        return {str(k): v for k, v in rows}

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """The tile's bytes in the XYZ scheme, or ``None`` when the package lacks it."""
        if self._pm is not None:
            return self._pm.get(z, x, y)
        assert self._db is not None
        row = self._db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (2**z - 1) - y),  # MBTiles rows count from the south (TMS)
        ).fetchone()
        return bytes(row[0]) if row else None


# ------------------------------------------------------------------------- building


def _rgba(hex_colour: str | None, alpha: float) -> tuple[int, int, int, int] | None:
    if not hex_colour:
        return None
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), round(alpha * 255)


def _draw_tile(
    z: int,
    x: int,
    y: int,
    layers: Sequence[tuple[Any, shapely.STRtree, np.ndarray, np.ndarray | None]],
    font: Any,
) -> bytes | None:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (TILE, TILE), (250, 250, 247, 255))
    draw = ImageDraw.Draw(image, "RGBA")
    box = shapely.box(*tile_bounds(z, x, y))
    drew = False
    labels: list[tuple[np.ndarray, str]] = []
    for style, tree, geoms, names in layers:
        hits = tree.query(box, predicate="intersects")
        if len(hits) == 0:
            continue
        drew = True
        fill = _rgba(style.fill, min(style.fill_opacity, 0.35)) if style.fill else None
        edge = _rgba(style.color, 1.0)
        width = max(1, round(style.weight))
        for g in shapely.get_parts(geoms[hits]):
            if g.geom_type == "Polygon":
                rings = [g.exterior, *g.interiors]
                for k, ring in enumerate(rings):
                    px = _pixels(np.asarray(ring.coords), z, x, y)
                    pts = [tuple(p) for p in px]
                    if k == 0 and fill is not None:
                        draw.polygon(pts, fill=fill)
                    draw.line(pts, fill=edge, width=width)
            elif g.geom_type == "LineString":
                px = _pixels(np.asarray(g.coords), z, x, y)
                draw.line([tuple(p) for p in px], fill=edge, width=width)
            elif g.geom_type == "Point":
                px, py = _pixels(np.asarray(g.coords), z, x, y)[0]
                r = 3
                draw.ellipse((px - r, py - r, px + r, py + r), fill=edge)
        if names is not None and z >= 9:
            anchors = shapely.point_on_surface(geoms[hits])
            for anchor, name in zip(anchors, names[hits], strict=True):
                if name and shapely.contains(box, anchor):
                    labels.append((_pixels(np.asarray(anchor.coords), z, x, y)[0], str(name)))
    for (px, py), name in labels:  # labels above every layer
        draw.text((px, py), name, fill=(60, 60, 60, 255), font=font, anchor="mm")
    if not drew:
        return None
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _tiles_in(bounds: Sequence[float], zooms: Sequence[int]) -> Iterator[tuple[int, int, int]]:
    west, south, east, north = bounds
    for z in zooms:
        x0, y0 = lonlat_to_tile(west, north, z)
        x1, y1 = lonlat_to_tile(east, south, z)
        for tx in range(x0, x1 + 1):
            for ty in range(y0, y1 + 1):
                yield z, tx, ty


def build_tiles(
    layers: Mapping[str, Any],
    out: str | Path,
    *,
    zooms: Sequence[int] = range(7, 12),
    bounds: Sequence[float] | None = None,
    name: str = "ecozone",
    label_kinds: Sequence[str] = ("boundary",),
    coordinate_system: str = "wgs84",
    progress: Any = None,
) -> Path:
    """Render layers to PNG tiles and write an ``.mbtiles`` (or ``.pmtiles``) package.

    Parameters
    ----------
    layers
        Layer kind → :class:`layers.Layer` or GeoDataFrame (any CRS); drawn in the
        kinds' draw order with their map styles.
    out
        Target ``.mbtiles`` or ``.pmtiles``; written to a temporary file, then renamed.
    zooms
        Zoom levels to render (default 7–11, a district to street blocks).
    bounds
        Lon/lat bounds to cover; default the layers' total bounds.
    name
        The package's name (metadata).
    label_kinds
        Kinds whose feature names are written on the tiles (from zoom 9).
    coordinate_system
        "wgs84" (ecozone's layers), or "gcj02"/"bd09" when the layers were shifted
        into that system: recorded in the metadata, so that pages drawing on the
        package shift their data the same way.
    progress
        Optional ``progress(done, total)`` callback.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputFormatError
        Nothing to draw, an unknown suffix, or more than 20 000 tiles (fewer zooms or
        a smaller area).
    """
    import geopandas as gpd

    from maps._assets import cjk_font
    from maps.style import layer_style

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".mbtiles", ".pmtiles"):
        msg = f"{out.name}: 瓦片包须为 .mbtiles 或 .pmtiles / use .mbtiles or .pmtiles."
        raise InputFormatError(msg)
    prepared: list[tuple[Any, np.ndarray, np.ndarray | None]] = []
    total_bounds = []
    for kind, layer in layers.items():
        gdf = getattr(layer, "gdf", layer)
        if gdf is None or len(gdf) == 0:
            continue
        gdf = gdf if gdf.crs is not None and gdf.crs.to_epsg() == 4326 else gdf.to_crs(4326)
        assert isinstance(gdf, gpd.GeoDataFrame)
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        names = None
        if kind in label_kinds and "name" in gdf.columns:
            names = gdf["name"].astype(str).to_numpy()[keep]
        prepared.append((layer_style(kind), geoms[keep], names))
        total_bounds.append(shapely.total_bounds(geoms[keep]))
    if not prepared:
        msg = "没有可绘制的图层 / no layer with features to draw into tiles."
        raise InputFormatError(msg)
    prepared.sort(key=lambda item: item[0].zorder)
    tb = np.asarray(total_bounds)
    box = bounds or (tb[:, 0].min(), tb[:, 1].min(), tb[:, 2].max(), tb[:, 3].max())
    tiles = list(_tiles_in(box, list(zooms)))
    by_zoom = {}
    for z in sorted(set(zooms)):  # simplified to half a pixel, and indexed, per zoom
        half_pixel = 360.0 / (TILE * 2**z) / 2
        layers_z = []
        for style, geoms, names in prepared:
            shown = shapely.simplify(geoms, half_pixel, preserve_topology=True)
            layers_z.append((style, shapely.STRtree(shown), shown, names))
        by_zoom[z] = layers_z
    if len(tiles) > _MAX_TILES:
        msg = (
            f"{len(tiles):,} 个瓦片过多 / {len(tiles):,} tiles is more than a small offline "
            f"package should hold ({_MAX_TILES:,}); use fewer zoom levels or a smaller area."
        )
        raise InputFormatError(msg)
    from PIL import ImageFont

    _, font_path, index = cjk_font()
    font = ImageFont.truetype(font_path, 12, index=index)
    mbtiles = out.with_name(f".{out.name}.building.mbtiles")
    mbtiles.unlink(missing_ok=True)
    try:
        with sqlite3.connect(mbtiles) as db:
            db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
            db.execute(
                "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
                "tile_data BLOB, PRIMARY KEY (zoom_level, tile_column, tile_row))"
            )
            meta = {
                "name": name,
                "format": "png",
                "type": "baselayer",
                "version": "1",
                "description": "ecozone offline reference map (rendered from the layer store)",
                "attribution": "ecozone",
                "bounds": ",".join(f"{v:.6f}" for v in box),
                "center": f"{(box[0] + box[2]) / 2:.6f},{(box[1] + box[3]) / 2:.6f},{min(zooms)}",
                "minzoom": str(min(zooms)),
                "maxzoom": str(max(zooms)),
                "coordinate_system": coordinate_system,
            }
            db.executemany("INSERT INTO metadata VALUES (?, ?)", list(meta.items()))
            for i, (z, tx, ty) in enumerate(tiles):
                png = _draw_tile(z, tx, ty, by_zoom[z], font)
                if png is not None:
                    db.execute(
                        "INSERT INTO tiles VALUES (?, ?, ?, ?)",
                        (z, tx, (2**z - 1) - ty, png),
                    )
                if progress is not None:
                    progress(i + 1, len(tiles))
        if suffix == ".pmtiles":
            from pmtiles.convert import mbtiles_to_pmtiles

            tmp = out.with_name(f".{out.name}.building")
            mbtiles_to_pmtiles(str(mbtiles), str(tmp), max(zooms))
            tmp.replace(out)
        else:
            mbtiles.replace(out)
    finally:
        mbtiles.unlink(missing_ok=True)
    return out
