"""Basemap specifications (底图): what ``--basemap SPEC`` may say, parsed once.

A bureau's intranet has no internet, so the basemap is whatever it has:

========================================  ==============================================
SPEC                                      meaning
========================================  ==============================================
``none``                                  no tiles (the web app draws a reference map
                                          of the store's boundaries instead)
``URL``                                   XYZ tiles in WGS84/CGCS2000 positions
                                          (``{z}``, ``{x}``, ``{y}``; ``{s}`` subdomains)
``gcj02:URL``                             XYZ tiles drawn in GCJ-02 (AMap/Gaode,
                                          Tencent): ecozone shifts what it draws onto them
``bd09:URL``                              Web-Mercator XYZ tiles drawn in BD-09
                                          positions (Baidu's own tile grid is not XYZ
                                          and is not supported)
``tianditu:KEY`` / ``tianditu:KEY:img``   天地图 vector (or imagery) tiles with labels,
                                          CGCS2000; needs the key (bare ``tianditu``:
                                          ``$TIANDITU_KEY``) and the internet
``osm``                                   OpenStreetMap tiles (internet)
``PATH.mbtiles`` / ``PATH.pmtiles``       a local tile package, served by ``ecozone
                                          serve`` itself (:mod:`maps.tiles`); its
                                          metadata may declare ``coordinate_system``
========================================  ==============================================

Positions: ecozone's data is WGS84. On a ``gcj02``/``bd09`` basemap every geometry
shown is converted into the basemap's system (:mod:`geo.chinacoords`), and what a
user draws on it is converted back, so nothing is offset.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from geo.errors import InputFormatError

__all__ = ["TIANDITU_URL", "Basemap", "export_tiles", "parse_basemap"]

TIANDITU_URL = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
    "&TILECOL={{x}}&tk={key}"
)
OSM_URL = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png"
_SYSTEMS = ("wgs84", "gcj02", "bd09")
_URL = re.compile(r"^(https?://|/)[^\s\"'<>]+$")
_EXAMPLES = (
    "none, http://tiles.intranet/{z}/{x}/{y}.png, gcj02:http://amap.intranet/{z}/{x}/{y}.png, "
    "tianditu:KEY, or PATH.mbtiles"
)


@dataclass(frozen=True)
class Basemap:
    """A parsed basemap.

    Attributes
    ----------
    kind
        "none", "xyz" (a URL template, including 天地图 and OSM) or "package" (a local
        ``.mbtiles``/``.pmtiles`` file).
    system
        Coordinate system the tiles are drawn in: "wgs84", "gcj02" or "bd09".
    url
        Tile URL template (``{z}/{x}/{y}``, ``{s}``), for "xyz".
    overlays
        Further URL templates drawn on top (天地图 labels).
    path
        The tile package, for "package".
    attribution
        Text shown with the tiles.
    subdomains
        Values of ``{s}``.
    max_zoom
        Deepest zoom the tiles have.
    """

    kind: Literal["none", "xyz", "package"]
    system: str = "wgs84"
    url: str | None = None
    overlays: tuple[str, ...] = ()
    path: Path | None = None
    attribution: str = ""
    subdomains: str = "abc"
    max_zoom: int = 19
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def needs_internet(self) -> bool:
        """Whether the tiles come from outside the machine (an http(s) URL)."""
        return self.kind == "xyz" and bool(self.url) and self.url.startswith("http")

    def leaflet(self, package_url: str = "/tiles/{z}/{x}/{y}") -> dict[str, Any]:
        """What a Leaflet page needs: URL, overlays, system, attribution, zooms.

        Parameters
        ----------
        package_url
            Where the app serves a local package's tiles.
        """
        url = package_url if self.kind == "package" else self.url
        return {
            "kind": self.kind,
            "url": url,
            "overlays": list(self.overlays),
            "system": self.system,
            "attribution": self.attribution,
            "subdomains": self.subdomains,
            "max_zoom": self.max_zoom,
        }


def _check_url(url: str, spec: str) -> str:
    if any(t in url for t in ("{{", "{%", "{#")):
        msg = f"底图 basemap={spec!r}: a tile URL template uses single braces ({{z}}/{{x}}/{{y}})."
        raise InputFormatError(msg)
    if not _URL.match(url) or "{z}" not in url or "{x}" not in url:
        msg = (
            f"底图无法识别 / basemap={spec!r} is not understood: a tile URL needs "
            f"{{z}}, {{x}} and {{y}}. Use one of: {_EXAMPLES}."
        )
        raise InputFormatError(msg)
    if "{y}" not in url and "{-y}" not in url:
        msg = f"底图 basemap={spec!r}: the tile URL has no {{y}} / {{-y}}. Use one of: {_EXAMPLES}."
        raise InputFormatError(msg)
    return url


def parse_basemap(spec: str | Basemap | None, *, attribution: str | None = None) -> Basemap:
    """Parse a ``--basemap`` specification (see the module docstring).

    Parameters
    ----------
    spec
        The specification; ``None`` or "" mean "none".
    attribution
        Overrides the attribution shown with the tiles.

    Returns
    -------
    Basemap

    Raises
    ------
    InputFormatError
        A specification that is none of the forms above, a missing tile package, a
        天地图 spec without key; the message lists the accepted forms.

    Examples
    --------
    >>> parse_basemap("gcj02:http://amap.intranet/{z}/{x}/{y}.png").system
    'gcj02'
    >>> parse_basemap("none").kind
    'none'
    """
    if isinstance(spec, Basemap):
        return spec
    text = (spec or "none").strip()
    lower = text.lower()
    if lower in ("", "none"):
        return Basemap("none")
    if lower == "osm":
        return Basemap(
            "xyz", url=OSM_URL, attribution=attribution or "© OpenStreetMap contributors"
        )
    if lower.startswith("tianditu"):
        parts = text.split(":")
        key = parts[1].strip() if len(parts) > 1 else ""
        key = key or os.environ.get("TIANDITU_KEY", "").strip()  # bare "tianditu"
        layer = parts[2].strip().lower() if len(parts) > 2 else "vec"
        if not key or layer not in ("vec", "img"):
            msg = (
                f"底图 basemap={text!r}: 天地图需要密钥 / a 天地图 basemap needs its key: "
                'basemap="tianditu:KEY" (vector) or "tianditu:KEY:img" (imagery), or the '
                "key in the environment variable TIANDITU_KEY; apply for one at the 天地图 "
                "console. Offline, use a local PATH.mbtiles instead (ecozone tiles)."
            )
            raise InputFormatError(msg)
        tk = urllib.parse.quote(key, safe="")
        label = "cva" if layer == "vec" else "cia"
        return Basemap(
            "xyz",
            url=TIANDITU_URL.format(layer=layer, key=tk),
            overlays=(TIANDITU_URL.format(layer=label, key=tk),),
            attribution=attribution or "© 天地图 / Tianditu",
            subdomains="01234567",
            max_zoom=18,
        )
    if lower.endswith((".mbtiles", ".pmtiles")):
        from maps.tiles import TilePackage

        path = Path(text).expanduser()
        if not path.is_file():
            msg = f"底图文件不存在 / the tile package {text!r} does not exist."
            raise InputFormatError(msg)
        with TilePackage(path) as pkg:
            meta = pkg.metadata
        system = str(meta.get("coordinate_system", "wgs84")).lower()
        return Basemap(
            "package",
            system=system if system in _SYSTEMS else "wgs84",
            path=path.resolve(),
            attribution=attribution or str(meta.get("attribution") or meta.get("name") or ""),
            max_zoom=int(meta.get("maxzoom", 19)),
            extra={"bounds": meta.get("bounds"), "minzoom": meta.get("minzoom")},
        )
    system = "wgs84"
    head, sep, rest = text.partition(":")
    if sep and head.lower() in (*_SYSTEMS, "wgs", "cgcs2000", "gcj", "bd", "amap", "baidu"):
        system = {"wgs": "wgs84", "cgcs2000": "wgs84", "gcj": "gcj02", "amap": "gcj02",
                  "bd": "bd09", "baidu": "bd09"}.get(head.lower(), head.lower())  # fmt: skip
        text = rest.strip()
    return Basemap(
        "xyz",
        system=system,
        url=_check_url(text, spec or ""),
        attribution=attribution or "",
    )


def export_tiles(basemap: Any, page: str | Path) -> Any:
    """Make a package basemap usable by a standalone HTML page: tiles beside it.

    A page opened from disk cannot ask ``ecozone serve`` for tiles, so the package's
    tiles are written as ``<page>_tiles/{z}/{x}/{y}.png`` next to the page and the
    returned basemap points there (relative URL). Other basemaps are returned as is.

    Parameters
    ----------
    basemap
        A :class:`maps.basemap.Basemap` (or its specification).
    page
        The HTML file the map will be saved as.

    Returns
    -------
    maps.basemap.Basemap or str
        ``basemap`` itself unless it is a package.
    """
    from dataclasses import replace

    from maps.tiles import TilePackage

    is_package = isinstance(basemap, str) and basemap.lower().endswith((".mbtiles", ".pmtiles"))
    if not (is_package or getattr(basemap, "kind", None) == "package"):
        return basemap  # tiles from a URL: nothing to copy
    base = parse_basemap(basemap)
    page = Path(page)
    folder = page.with_name(f"{page.stem}_tiles")
    with TilePackage(base.path) as pkg:
        ext = str(pkg.metadata.get("format", "png")).lower()
        if pkg._db is not None:  # MBTiles: every row
            rows = pkg._db.execute("SELECT zoom_level, tile_column, tile_row FROM tiles")
            keys = [(z, x, (2**z - 1) - r) for z, x, r in rows.fetchall()]
        else:
            from pmtiles.reader import all_tiles

            keys = [(z, x, y) for (z, x, y), _ in all_tiles(pkg._pm.get_bytes)]
        for z, x, y in keys:
            data = pkg.get(z, x, y)
            if data is None:
                continue
            target = folder / str(z) / str(x) / f"{y}.{ext}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return replace(base, kind="xyz", url=f"{folder.name}/{{z}}/{{x}}/{{y}}.{ext}", path=None)
