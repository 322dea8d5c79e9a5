"""Resources the maps need at runtime: vendored Leaflet JS/CSS and a CJK font.

Government intranets have no internet, so interactive maps never load a script or
stylesheet from a CDN: :class:`OfflineFigure` replaces every ``<script src>`` /
``<link href>`` that folium emits with the vendored file's text, inlined into the
HTML (images referenced by the CSS become ``data:`` URIs). The files live in
``maps/static/`` and are fetched from the npm registry by ``scripts/vendor_assets.sh``.

Print maps need a font with Chinese glyphs; :func:`cjk_font` finds one (Noto Sans CJK,
Debian package ``fonts-noto-cjk``) or raises :class:`MissingAssetError` naming the fix.
"""

from __future__ import annotations

import base64
import functools
import logging
import mimetypes
import re
from pathlib import Path

from branca.element import CssLink, Element, Figure, JavascriptLink

from geo.errors import EcozoneError

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""Folder of the vendored assets; the web app may serve it as ``/static``."""

# folium resource name -> file under STATIC_DIR. The names are folium's own (Map uses
# "leaflet"/"leaflet_css", plugins.Draw "leaflet_draw_js"/"leaflet_draw_css"), so any
# folium element that asks for one of them gets the vendored copy.
ASSETS: dict[str, str] = {
    "leaflet": "leaflet/leaflet.js",
    "leaflet_css": "leaflet/leaflet.css",
    "leaflet_draw_js": "leaflet-draw/leaflet.draw.js",
    "leaflet_draw_css": "leaflet-draw/leaflet.draw.css",
}

# Runs right after leaflet.js: marker icons from data: URIs instead of image files
# next to the CSS, and an attribution prefix without a link to leafletjs.com.
_LEAFLET_PATCH = """
L.Control.Attribution.prototype.options.prefix = "Leaflet";
L.Icon.Default.imagePath = "";
L.Icon.Default.mergeOptions({{
  iconUrl: "{icon}", iconRetinaUrl: "{icon2x}", shadowUrl: "{shadow}"
}});
"""

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
CJK_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
# Characters every print map shows (legend, title, demo label): a usable font has all.
_PROBE = "生态保护红线演示数据非官方图例比例尺北"


class MissingAssetError(EcozoneError, LookupError):
    """A file the maps need at runtime (vendored script, stylesheet or font) is missing."""


def asset_path(relpath: str) -> Path:
    """Return the path of a vendored file under ``maps/static``.

    Parameters
    ----------
    relpath
        Path relative to ``maps/static``, e.g. ``"leaflet/leaflet.js"``.

    Returns
    -------
    pathlib.Path
        The existing file.

    Raises
    ------
    MissingAssetError
        The file is not there (the package was installed without its static files).
    """
    path = STATIC_DIR / relpath
    if not path.is_file():
        msg = (
            f"vendored map asset {relpath!r} is missing (looked in {STATIC_DIR}); "
            "re-run scripts/vendor_assets.sh or reinstall ecozone with its package data"
        )
        raise MissingAssetError(msg)
    return path


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


@functools.lru_cache(maxsize=16)
def asset_text(name: str) -> str:
    """Return the text of a vendored asset, ready to inline into HTML.

    CSS ``url(...)`` references to files beside the stylesheet become ``data:`` URIs,
    so the inlined stylesheet needs no other file.

    Parameters
    ----------
    name
        A key of :data:`ASSETS` (folium's resource name, e.g. ``"leaflet"``).

    Returns
    -------
    str
        The file's text.

    Raises
    ------
    MissingAssetError
        ``name`` is not vendored, or its file is missing.
    """
    if name not in ASSETS:
        msg = f"no vendored asset named {name!r}; vendored: {sorted(ASSETS)}"
        raise MissingAssetError(msg)
    path = asset_path(ASSETS[name])
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".css":
        base = path.parent

        def inline(match: re.Match[str]) -> str:
            ref = match.group(2)
            if ref.startswith(("data:", "#")):  # "#default#VML" is an old-IE behaviour
                return match.group(0)
            return f'url("{_data_uri(asset_path(str((base / ref).relative_to(STATIC_DIR))))}")'

        text = _CSS_URL.sub(inline, text)
    return text


def _leaflet_patch() -> str:
    return _LEAFLET_PATCH.format(
        icon=_data_uri(asset_path("leaflet/images/marker-icon.png")),
        icon2x=_data_uri(asset_path("leaflet/images/marker-icon-2x.png")),
        shadow=_data_uri(asset_path("leaflet/images/marker-shadow.png")),
    )


class RawHTML(Element):
    """Literal HTML, rendered as is.

    ``branca.element.Element(text)`` would compile ``text`` as a Jinja template, so a
    user string containing ``{{ ... }}`` would be evaluated; this element never is.
    Callers escape what they put in.
    """

    def __init__(self, html: str):
        super().__init__()
        self._name = "RawHTML"
        self.html = html

    def render(self, **kwargs: object) -> str:
        """Return the HTML unchanged."""
        return self.html


class InlineAsset(Element):
    """A vendored script or stylesheet rendered inline, tagged with its source file."""

    def __init__(self, name: str, kind: str):
        super().__init__()
        self._name = "InlineAsset"
        self.asset = name
        self.kind = kind

    def render(self, **kwargs: object) -> str:
        """Return ``<script>``/``<style>`` with the vendored text."""
        source = ASSETS[self.asset]
        text = asset_text(self.asset)
        if self.kind == "js":
            # "</script" inside the code would end the element early.
            text = text.replace("</script", "<\\/script")
            return f'<script data-ecozone-asset="{source}">\n{text}\n</script>'
        text = text.replace("</style", "<\\/style")
        return f'<style data-ecozone-asset="{source}">\n{text}\n</style>'


class OfflineFigure(Figure):
    """A branca Figure whose scripts and stylesheets are inlined from ``maps/static``.

    folium elements add ``JavascriptLink``/``CssLink`` children to the header while the
    figure renders; after that, and before the page is assembled, each one is swapped
    for an :class:`InlineAsset` of the same name. A link that is not vendored raises
    instead of silently pointing to a CDN.
    """

    def render(self, **kwargs: object) -> str:
        """Render the page with every asset inlined.

        Raises
        ------
        MissingAssetError
            An element asked for a script or stylesheet that is not vendored.
        """
        for child in list(self._children.values()):
            child.render(**kwargs)
        header = self.header._children
        missing = []
        for key, child in list(header.items()):
            if isinstance(child, JavascriptLink | CssLink):
                if key in ASSETS:
                    header[key] = InlineAsset(
                        key, "js" if isinstance(child, JavascriptLink) else "css"
                    )
                    header[key]._parent = self.header
                else:
                    missing.append(f"{key} ({child.url})")
        if missing:
            msg = (
                "these map resources are not vendored for offline use: "
                + ", ".join(missing)
                + "; add them to scripts/vendor_assets.sh and maps._assets.ASSETS "
                "or remove the element that needs them"
            )
            raise MissingAssetError(msg)
        if "leaflet" in header:
            patch = RawHTML(f"<script>{_leaflet_patch()}</script>")
            self.header.add_child(patch, name="ecozone_leaflet_patch")
        return self._template.render(this=self, kwargs=kwargs)


# ---------------------------------------------------------------------------- fonts


def _has_glyphs(path: str, face_index: int = 0, chars: str = _PROBE) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(path, face_index=face_index)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(c)) != 0 for c in chars)


@functools.lru_cache(maxsize=1)
def cjk_font() -> tuple[str, str, int]:
    """Find a font that renders Chinese, for print maps.

    Looks for the families in :data:`CJK_FAMILIES` (Noto Sans CJK SC first), then the
    files in :data:`CJK_FONT_PATHS` (registering them with matplotlib when its font
    cache predates their installation), then any installed font with the glyphs.

    Returns
    -------
    tuple of (str, str, int)
        Family name, font file path and face index within the file (TTC collections).

    Raises
    ------
    MissingAssetError
        No installed font has Chinese glyphs; the message names the package to install.
    """
    from matplotlib import font_manager as fm

    def lookup() -> tuple[str, str, int] | None:
        by_name = {}
        # the regular face of each family, whatever order the font cache lists them in
        regular_first = sorted(
            fm.fontManager.ttflist,
            key=lambda e: (
                e.style != "normal",
                abs(e.weight - 400) if isinstance(e.weight, int) else 0,
            ),
        )
        for entry in regular_first:
            by_name.setdefault(entry.name, entry)
        for family in CJK_FAMILIES:
            entry = by_name.get(family)
            if entry is not None and _has_glyphs(entry.fname, getattr(entry, "index", 0)):
                return entry.name, entry.fname, getattr(entry, "index", 0)
        return None

    found = lookup()
    if found is None:
        for path in CJK_FONT_PATHS:
            if Path(path).is_file():
                fm.fontManager.addfont(path)
        found = lookup()
    if found is None:
        # Last resort: any registered font with the glyphs (slow; only when unusual).
        for entry in fm.fontManager.ttflist:
            index = getattr(entry, "index", 0)
            if _has_glyphs(entry.fname, index):
                found = (entry.name, entry.fname, index)
                break
    if found is None:
        msg = (
            "no installed font has Chinese glyphs, so print maps would show empty boxes; "
            "install the Debian package fonts-noto-cjk (scripts/system-deps.sh, or "
            "`apt-get install fonts-noto-cjk`), then remove matplotlib's font cache "
            f"({fm.get_cachedir()}/fontlist-*.json) if it still is not found"
        )
        raise MissingAssetError(msg)
    log.debug("CJK font: %s (%s, face %d)", *found)
    return found
