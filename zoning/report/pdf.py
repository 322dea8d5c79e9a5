"""PDF reports: the report HTML printed on A4 by headless Chromium, with real fonts.

Why the PDFs had Type 3 fonts: Chromium prints through Skia, whose PDF backend embeds
TrueType-outline fonts as CID TrueType but turns CFF-outline OpenType fonts — the
Noto Sans/Serif CJK families of Debian's ``fonts-noto-cjk`` are CFF (``.ttc``
collections of ``OTTO`` fonts) — into unnamed Type 3 fonts: each glyph a drawing,
text that copy-paste and screen readers handle badly, and that print shops reject.
matplotlib's map PDFs do not have the problem because matplotlib writes the fonts
itself (Type 42).

The fix (:func:`pdf_font_css`): before printing, the characters the page uses are cut
out of Noto Serif CJK SC (regular) and Noto Sans CJK SC (bold) with fontTools,
their cubic CFF outlines converted to quadratic TrueType ``glyf`` outlines, and the
four small fonts embedded in the printed HTML with ``@font-face`` (``data:`` URIs, no
file or network access). Skia then embeds them as named CID TrueType fonts
(``NotoSerifCJKsc-Regular``, ``NotoSansCJKsc-Bold``), subset, with a ToUnicode map:
the text extracts.

Each character's glyph is converted once and kept (in memory, and in the user cache:
:class:`_Face`); a report's fonts are assembled from the kept glyphs and the faces'
own tables (:func:`_assemble`). A report whose characters were all seen before gets
its two fonts in about 40 ms, against 2.2–2.5 s when fontTools' subsetter cut and
converted them for every report (the PDF pages are the same to the pixel).
"""

from __future__ import annotations

import base64
import functools
import glob
import hashlib
import io
import logging
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.usercache import cache_path, read_json, switched_off, write_json
from zoning.report.browser import chromium_path, print_pdf

log = logging.getLogger(__name__)

__all__ = ["find_pdf_engine", "html_to_pdf", "pdf_font_css", "truetype_subset"]

#: (CSS family, fontconfig family, weight, file name pattern)
#: Body text is serif regular, headings and table heads sans bold: two faces (each costs
#: about a second to cut and convert); the page sets ``font-synthesis: none`` so that no
#: other weight is faked (Skia would draw a faked bold as Type 3 again).
_FACES = (
    ("EZ Serif", "Noto Serif CJK SC", 400, "NotoSerifCJK-Regular.ttc"),
    ("EZ Sans", "Noto Sans CJK SC", 700, "NotoSansCJK-Bold.ttc"),
)
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"))


def find_pdf_engine() -> str | None:
    """Name the PDF engine available here: "chromium" or None."""
    return "chromium" if chromium_path() else None


def html_to_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 120) -> Path:
    """Print an HTML file to PDF with headless Chromium (page size from the CSS ``@page``).

    In the process's kept browser (:func:`zoning.report.browser.print_pdf`): the
    first print starts it (about a second), later ones reuse it.

    Raises
    ------
    RuntimeError
        If Chromium is not installed (``apt-get install chromium``) or printing fails.
    """
    return print_pdf(html_path, pdf_path, timeout=timeout)


@functools.lru_cache(maxsize=8)
def _font_file(pattern: str, family: str) -> tuple[str, int] | None:
    """(path, index in the collection) of an installed font, or None."""
    for base in _FONT_DIRS:
        hits = sorted(glob.glob(f"{base}/**/{pattern}", recursive=True))
        if hits:
            break
    else:
        return None
    from fontTools.ttLib import TTCollection

    path = hits[0]
    with TTCollection(path, lazy=True) as coll:
        for i, font in enumerate(coll.fonts):
            if font["name"].getDebugName(1) == family:
                return path, i
    return path, 0


@functools.lru_cache(maxsize=16)
def truetype_subset(path: str, index: int, text: str) -> bytes:
    """The glyphs of ``text`` from a CFF OpenType font, as a TrueType (``glyf``) font.

    Each glyph is converted once (:class:`_Face`: kept in memory and in the user
    cache), and the font is assembled from the converted glyphs and the face's own
    header, metrics and name tables: what fontTools' subsetter and a conversion of
    the subset gave, in a tenth of the time (the subsetter spent most of a second a
    face on CFF subroutines that the conversion then dropped).

    Parameters
    ----------
    path, index
        Font file and the font's number in a collection (``.ttc``).
    text
        Characters to keep (plus ``.notdef``); characters the face lacks are left out.

    Returns
    -------
    bytes
        A TrueType font file.
    """
    face = _face(path, index)
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        return _assemble(font, face.glyphs(text, font))


#: Format of the glyph records in the user cache; a change of the conversion bumps it.
_GLYPHS_FORMAT = 1
#: Most glyphs a face keeps (in memory and on disk, about 400 bytes each): a report uses
#: about 600 characters, GB 2312 has 6 763 hanzi, a face 65 000 glyphs. Beyond it, new
#: glyphs are converted for each font again.
_GLYPHS_MAX = 10_000
_GLYPHS_LOCK = threading.Lock()
_NOTDEF = -1  # the record of ``.notdef`` (every font has it)


@dataclass(frozen=True)
class _Glyph:
    """One glyph of a face as TrueType: where it was, its metrics and its outline.

    ``gid`` is -1 for a character the face does not have (remembered, so that the
    face's character map is read only when a new character comes).
    """

    gid: int
    name: str
    advance: int
    lsb: int
    data: bytes  # the compiled ``glyf`` record (quadratic outlines)


@functools.lru_cache(maxsize=8)
def _face(path: str, index: int) -> _Face:
    return _Face(path, index)


class _Face:
    """The TrueType glyphs converted from one CFF face, by character.

    Converted glyphs are kept in memory (several reports of one process) and in a
    JSON file of the user cache (:mod:`geo.usercache`, ``pdf-glyphs-*.json``) keyed
    by the font file (path, size, modification time), its number in the collection,
    the fontTools version and :data:`_GLYPHS_FORMAT`: a font or fontTools upgrade
    starts a new file. ``ECOZONE_FONT_CACHE=0`` keeps them in memory only. A file that
    cannot be read or written is ignored (the glyphs are converted again).
    """

    def __init__(self, path: str, index: int) -> None:
        import fontTools

        st = os.stat(path)
        key = repr((os.path.realpath(path), st.st_size, st.st_mtime_ns, index,
                    fontTools.version, _GLYPHS_FORMAT))  # fmt: skip
        self.key = hashlib.sha256(key.encode()).hexdigest()
        self.file = None
        if not switched_off("ECOZONE_FONT_CACHE"):
            self.file = cache_path(f"pdf-glyphs-{self.key[:16]}.json")
        self.known: dict[int, _Glyph] = {}
        self._read = False

    def glyphs(self, text: str, font: Any) -> dict[int, _Glyph]:
        """The records of ``text``'s characters and ``.notdef`` (absent ones included)."""
        wanted = {ord(c) for c in text} | {_NOTDEF}
        with _GLYPHS_LOCK:
            if not self._read:
                self._read = True
                self._merge(self._stored())
            missing = wanted - self.known.keys()
            if missing:
                made = _convert(font, missing)
                if len(self.known) < _GLYPHS_MAX:
                    self._merge(made)
                    self._write()
                got = {**self.known, **made}
            else:
                got = self.known
            return {cp: got[cp] for cp in wanted}

    def _stored(self) -> dict[int, _Glyph]:
        data = read_json(self.file) if self.file is not None else None
        if not isinstance(data, dict) or data.get("key") != self.key:
            return {}
        try:
            return {int(cp): _Glyph(int(g), str(n), int(a), int(s), base64.b64decode(d))
                    for cp, (g, n, a, s, d) in data["glyphs"].items()}  # fmt: skip
        except (KeyError, TypeError, ValueError):  # a damaged file: converted again
            return {}

    def _merge(self, records: dict[int, _Glyph]) -> None:
        room = _GLYPHS_MAX - len(self.known)
        for cp, g in records.items():
            if room <= 0:
                break
            if cp not in self.known:
                self.known[cp] = g
                room -= 1

    def _write(self) -> None:
        if self.file is None:
            return
        self._merge(self._stored())  # what other processes added meanwhile
        glyphs = {str(cp): [g.gid, g.name, g.advance, g.lsb, base64.b64encode(g.data).decode()]
                  for cp, g in self.known.items()}  # fmt: skip
        write_json(self.file, {"key": self.key, "glyphs": glyphs})


def _convert(font: Any, codepoints: set[int]) -> dict[int, _Glyph]:
    """TrueType records of ``codepoints`` (and :data:`_NOTDEF`) from the CFF ``font``.

    Cubic CFF outlines become quadratic TrueType outlines (``Cu2QuPen``, within one
    font unit, contours reversed to TrueType's direction).
    """
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    cmap = font.getBestCmap() if codepoints - {_NOTDEF} else {}
    glyph_set = font.getGlyphSet()
    hmtx = font["hmtx"]
    glyf = newTable("glyf")  # (compiles simple glyphs; holds nothing)
    out = {}
    for cp in sorted(codepoints):
        name = ".notdef" if cp == _NOTDEF else cmap.get(cp)
        if name is None:
            out[cp] = _Glyph(-1, "", 0, 0, b"")
            continue
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyph = pen.glyph()
        data = glyph.compile(glyf)
        out[cp] = _Glyph(
            font.getGlyphID(name), name, hmtx[name][0], getattr(glyph, "xMin", 0), data
        )
    return out


def _assemble(font: Any, records: dict[int, _Glyph]) -> bytes:
    """A TrueType font of ``records``, with ``font``'s header, metrics and names.

    The glyphs keep the face's order (``.notdef`` first); the character map, metrics
    and ``glyf``/``loca`` are new; ``head``, ``hhea``, ``OS/2``, ``name`` and ``BASE``
    are the face's (its English Unicode names only; ``OS/2``'s character, Unicode and
    code page ranges pruned to the glyphs kept, as the subsetter does); ``post`` keeps
    no glyph names. Layout tables are left out: the reports use no OpenType features.
    The glyphs are written as converted: the bounds and maxima that fontTools would
    find by decompiling and recompiling every glyph (most of the time) are read from
    the glyph headers (:func:`_set_bounds`).
    """
    import copy

    from fontTools.ttLib import TTFont, newTable
    from fontTools.ttLib.tables._c_m_a_p import CmapSubtable
    from fontTools.ttLib.tables._g_l_y_f import Glyph

    by_name = {g.name: g for g in records.values() if g.gid >= 0}
    order = sorted(by_name, key=lambda n: by_name[n].gid)
    new = TTFont(recalcBBoxes=False, recalcTimestamp=False)  # (the same bytes each time)
    new.setGlyphOrder(order)
    for tag in ("head", "hhea", "OS/2", "name", "post", "BASE"):
        if tag in font:
            new[tag] = copy.deepcopy(font[tag])
    new["head"].glyphDataFormat = 0
    # the names the subsetter keeps by default: Unicode records in English
    names = new["name"]
    names.names = [n for n in names.names if n.nameID < 256 and n.isUnicode() and n.langID == 0x409]
    post = new["post"]
    post.formatType = 3.0  # no glyph names needed
    post.extraNames, post.mapping = [], {}
    maxp = new["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.numGlyphs = len(order)
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions"):  # fmt: skip
        setattr(maxp, attr, 0)  # no hinting instructions
    maxp.maxZones = 1
    glyf = new["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {n: Glyph(by_name[n].data) for n in order}
    new["loca"] = newTable("loca")
    hmtx = new["hmtx"] = newTable("hmtx")
    hmtx.metrics = {n: (by_name[n].advance, by_name[n].lsb) for n in order}
    cmap = new["cmap"] = newTable("cmap")
    cmap.tableVersion = 0
    chars = {cp: g.name for cp, g in records.items() if cp >= 0 and g.gid >= 0}
    cmap.tables = []
    for fmt, enc, part in ((4, 1, {c: n for c, n in chars.items() if c <= 0xFFFF}),
                           (12, 10, {c: n for c, n in chars.items() if c > 0xFFFF})):  # fmt: skip
        if part or fmt == 4:
            sub = CmapSubtable.newSubtable(fmt)
            sub.platformID, sub.platEncID, sub.language, sub.cmap = 3, enc, 0, part
            cmap.tables.append(sub)
    os2 = new["OS/2"]  # (its first and last characters are recomputed when compiled)
    os2.recalcUnicodeRanges(new, pruneOnly=True)
    if os2.version >= 1:
        os2.recalcCodePageRanges(new, pruneOnly=True)
    _set_bounds(new, [by_name[n] for n in order])
    new.sfntVersion = "\x00\x01\x00\x00"
    buf = io.BytesIO()
    new.save(buf)
    return buf.getvalue()


def _set_bounds(font: Any, glyphs: list[_Glyph]) -> None:
    """What fontTools' ``maxp``/``hhea`` recalculation sets, from compiled glyph headers.

    The font bounding box and bit 1 of ``head.flags`` (every left side bearing is the
    glyph's ``xMin``), ``maxp``'s point and contour maxima (simple glyphs only: the
    converted glyphs have no components), and ``hhea``'s widest advance, side
    bearings and extent, as ``table__m_a_x_p.recalc`` and ``table__h_h_e_a.recalc``
    compute them.
    """
    head, hhea, maxp = font["head"], font["hhea"], font["maxp"]
    boxes, points, contours = [], 0, 0
    xmin_is_lsb = True
    for g in glyphs:
        if len(g.data) < 10:  # an empty glyph (a space): no outline
            continue
        n, x0, y0, x1, y1 = struct.unpack(">hhhhh", g.data[:10])
        if n == 0:
            continue
        boxes.append((x0, y0, x1, y1, g.advance, g.lsb))
        xmin_is_lsb &= g.lsb == x0
        if n > 0:
            last = struct.unpack(">H", g.data[10 + 2 * (n - 1) : 10 + 2 * n])[0]
            points, contours = max(points, last + 1), max(contours, n)
    maxp.maxPoints, maxp.maxContours = points, contours
    maxp.maxCompositePoints = maxp.maxCompositeContours = 0
    maxp.maxComponentElements = maxp.maxComponentDepth = 0
    head.flags = head.flags | 0x2 if xmin_is_lsb else head.flags & ~0x2
    hhea.advanceWidthMax = max((g.advance for g in glyphs), default=0)
    if boxes:
        head.xMin, head.yMin = min(b[0] for b in boxes), min(b[1] for b in boxes)
        head.xMax, head.yMax = max(b[2] for b in boxes), max(b[3] for b in boxes)
        hhea.minLeftSideBearing = min(b[5] for b in boxes)
        hhea.minRightSideBearing = min(b[4] - b[5] - (b[2] - b[0]) for b in boxes)
        hhea.xMaxExtent = max(b[5] + (b[2] - b[0]) for b in boxes)
    else:
        head.xMin = head.yMin = head.xMax = head.yMax = 0
        hhea.minLeftSideBearing = hhea.minRightSideBearing = hhea.xMaxExtent = 0


def pdf_font_css(html: str) -> str:
    """``@font-face`` rules embedding TrueType subsets of Noto CJK for the text of ``html``.

    The families are "EZ Serif" (宋体 role: Noto Serif CJK SC, regular) and "EZ Sans"
    (黑体 role: Noto Sans CJK SC, bold). Returns "" (and logs) when the fonts are
    not installed (``fonts-noto-cjk``); the PDF then falls back to Chromium's choice.
    """
    chars = "".join(sorted(set(html) | {chr(c) for c in range(0x20, 0x7F)}))
    rules = []
    for css_family, family, weight, pattern in _FACES:
        found = _font_file(pattern, family)
        if found is None:
            log.warning("font %s not found: install fonts-noto-cjk for the PDF report", family)
            continue
        data = truetype_subset(found[0], found[1], chars)
        uri = "data:font/ttf;base64," + base64.b64encode(data).decode("ascii")
        rules.append(
            f'@font-face {{ font-family: "{css_family}"; font-weight: {weight}; '
            f'font-style: normal; src: url({uri}) format("truetype"); }}'
        )
    return "\n".join(rules)
