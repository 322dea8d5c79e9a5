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
"""

from __future__ import annotations

import base64
import functools
import glob
import io
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

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


def _chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def find_pdf_engine() -> str | None:
    """Name the PDF engine available here: "chromium" or None."""
    return "chromium" if _chromium_path() else None


def html_to_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 120) -> Path:
    """Print an HTML file to PDF with headless Chromium (page size from the CSS ``@page``).

    Raises
    ------
    RuntimeError
        If Chromium is not installed (``apt-get install chromium``) or printing fails.
    """
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    chromium = _chromium_path()
    if not chromium:
        msg = "no PDF engine: install Debian 'chromium' (scripts/system-deps.sh)"
        raise RuntimeError(msg)
    tmp_pdf = pdf_path.with_name(f".{pdf_path.name}.tmp")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp_pdf}",
            html_path.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not tmp_pdf.exists():
        tmp_pdf.unlink(missing_ok=True)
        msg = f"Chromium could not print {html_path} to PDF: {proc.stderr.decode()[-500:]}"
        raise RuntimeError(msg)
    tmp_pdf.replace(pdf_path)  # no half-written report.pdf
    return pdf_path


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

    Parameters
    ----------
    path, index
        Font file and the font's number in a collection (``.ttc``).
    text
        Characters to keep (plus ``.notdef``).

    Returns
    -------
    bytes
        A TrueType font file.
    """
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        return _truetype(font, text)


def _truetype(font: Any, text: str) -> bytes:
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    opts = subset.Options()
    opts.notdef_outline = True
    opts.name_IDs = ["*"]
    opts.layout_features = []  # Chinese needs no shaping; every feature costs seconds
    sub = subset.Subsetter(opts)
    sub.populate(text=text)
    sub.subset(font)
    if "CFF " in font:  # cubic CFF outlines → quadratic TrueType outlines
        order = font.getGlyphOrder()
        glyph_set = font.getGlyphSet()
        glyphs = {}
        for name in order:
            pen = TTGlyphPen(glyph_set)
            glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
            glyphs[name] = pen.glyph()
        font["loca"] = newTable("loca")
        glyf = font["glyf"] = newTable("glyf")
        glyf.glyphOrder = order
        glyf.glyphs = glyphs
        del font["CFF "]
        if "VORG" in font:
            del font["VORG"]
        glyf.compile(font)
        hmtx = font["hmtx"]
        for name, glyph in glyphs.items():
            hmtx[name] = (hmtx[name][0], getattr(glyph, "xMin", 0))
        maxp = font["maxp"] = newTable("maxp")
        maxp.tableVersion = 0x00010000
        maxp.numGlyphs = len(order)
        maxp.maxZones = 1
        for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                     "maxStackElements", "maxSizeOfInstructions", "maxComponentElements",
                     "maxPoints", "maxContours", "maxCompositePoints", "maxCompositeContours",
                     "maxComponentDepth"):  # fmt: skip
            setattr(maxp, attr, 0)  # recalculated when the font is compiled
        font["head"].glyphDataFormat = 0
        font["post"].formatType = 3.0  # no glyph names needed
        font.sfntVersion = "\x00\x01\x00\x00"
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


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
