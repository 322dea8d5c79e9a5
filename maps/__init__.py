"""maps: interactive (folium, offline) and print (matplotlib) maps of ecozone layers.

The interactive map is one self-contained HTML page (Leaflet inlined from the
package, configurable basemap); print maps are PNG/PDF in the local Gauss-Krüger
zone with Chinese text, legend, scale bar and north arrow.
"""

from maps._assets import MissingAssetError, cjk_font
from maps.interactive import interactive_map, render_interactive, save_interactive
from maps.printmap import print_map, print_map_bytes, save_print_map
from maps.style import SYNTHETIC_NOTE, simplify_for_display

# raster: see maps.raster

__all__ = [
    "SYNTHETIC_NOTE",
    "MissingAssetError",
    "cjk_font",
    "interactive_map",
    "print_map",
    "print_map_bytes",
    "render_interactive",
    "save_interactive",
    "save_print_map",
    "simplify_for_display",
]
