"""maps: interactive (folium, offline) and print (matplotlib) maps of ecozone layers.

The interactive map is one self-contained HTML page (Leaflet inlined from the
package, configurable basemap); print maps are PNG/PDF in the local Gauss-Krüger
zone with Chinese text, legend, scale bar and north arrow; rasters are GeoTIFFs
(tiled, compressed, with CRS, nodata and overviews) that open in QGIS.
"""

from typing import TYPE_CHECKING

from geo.lazy import lazy_exports

if TYPE_CHECKING:  # the names below, imported on first use (geo/lazy.py)
    from maps._assets import STATIC_DIR, MissingAssetError, cjk_font
    from maps.interactive import interactive_map, render_interactive, save_interactive
    from maps.printmap import print_map, print_map_bytes, save_print_map
    from maps.raster import park_coverage_raster, park_distance_raster, rasterize_layer
    from maps.sitemap import layers_near, site_map_png
    from maps.style import SYNTHETIC_NOTE, simplify_for_display

_EXPORTS = {
    "MissingAssetError": "maps._assets",
    "STATIC_DIR": "maps._assets",
    "cjk_font": "maps._assets",
    "interactive_map": "maps.interactive",
    "render_interactive": "maps.interactive",
    "save_interactive": "maps.interactive",
    "print_map": "maps.printmap",
    "print_map_bytes": "maps.printmap",
    "save_print_map": "maps.printmap",
    "park_coverage_raster": "maps.raster",
    "park_distance_raster": "maps.raster",
    "rasterize_layer": "maps.raster",
    "layers_near": "maps.sitemap",
    "site_map_png": "maps.sitemap",
    "SYNTHETIC_NOTE": "maps.style",
    "simplify_for_display": "maps.style",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "STATIC_DIR",
    "SYNTHETIC_NOTE",
    "MissingAssetError",
    "cjk_font",
    "interactive_map",
    "layers_near",
    "park_coverage_raster",
    "park_distance_raster",
    "print_map",
    "print_map_bytes",
    "rasterize_layer",
    "render_interactive",
    "save_interactive",
    "save_print_map",
    "simplify_for_display",
    "site_map_png",
]
