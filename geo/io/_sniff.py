"""Recognise a file's format from its content, not just its suffix.

People rename files, e-mail clients append ``.txt``, and Excel saves CSV as
``.xls``; the magic bytes and the first lines tell the truth.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from geo.errors import InputFormatError

ACCEPTED_FORMATS = (
    "GeoPackage (.gpkg)",
    "GeoJSON (.geojson/.json)",
    "GeoParquet (.parquet)",
    "Shapefile (.shp + .shx + .dbf, or zipped)",
    "KML/KMZ (.kml/.kmz)",
    "CSV/TXT table with lon/lat columns or 界址点 X/Y columns",
    "Excel (.xlsx)",
    "DXF (.dxf)",
    "FileGDB (.gdb folder)",
)

_HEAD_BYTES = 8192


def accepted_formats_text() -> str:
    """Return the list of accepted formats, for error messages."""
    return "支持的格式 / accepted formats: " + "; ".join(ACCEPTED_FORMATS) + "."


def unrecognised(path: Path, detail: str) -> InputFormatError:
    """Build the error for content that matches no reader."""
    msg = (
        f"{path}: 无法识别的文件格式 / unrecognised file format ({detail}). "
        + accepted_formats_text()
    )
    return InputFormatError(msg)


def decode_text(data: bytes, encoding: str | None = None) -> str:
    """Decode text bytes: ``encoding`` if given, else UTF-8 (with BOM), else GB18030."""
    if encoding:
        return data.decode(encoding)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def _looks_like_dxf(text: str) -> bool:
    lines = [ln.strip() for ln in text.splitlines()[:4] if ln.strip()]
    return len(lines) >= 2 and lines[0] == "0" and lines[1].upper() == "SECTION"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as err:
        msg = f"{path}: ZIP 文件已损坏 / the zip archive is damaged or truncated ({err})."
        raise InputFormatError(msg) from err
    lower = [n.lower() for n in names]
    if "xl/workbook.xml" in lower:
        return "xlsx"
    if "word/document.xml" in lower:
        raise unrecognised(path, "a Word .docx document")
    has_shp = any(n.endswith(".shp") for n in lower)
    if not has_shp and any(n.endswith(".kml") for n in lower):
        return "kmz"
    return "zip"


def _kml_root(path: Path, limit: int = 256 * 1024) -> bool:
    """Whether an XML file's root is ``<kml>``, searching its first ``limit`` bytes.

    Comments, a DOCTYPE or a long XML declaration may come before the root element.
    """
    with path.open("rb") as fh:
        head = fh.read(limit)
    return re.search(rb"<(?:[A-Za-z_][\w.-]*:)?kml[\s>/]", head) is not None


def sniff_format(path: str | Path) -> str:
    """Name the reader a file needs, from its content.

    Parameters
    ----------
    path
        A file (or a ``.gdb`` folder).

    Returns
    -------
    str
        One of "gpkg", "parquet", "zip", "xlsx", "kmz", "geojson", "kml", "dxf",
        "shapefile", "gdal" (another GDAL vector format) or "table".

    Raises
    ------
    InputFormatError
        If the file does not exist, is empty, or matches no accepted format.
    """
    path = Path(path)
    if path.is_dir():
        if path.suffix.lower() == ".gdb":
            return "gdal"
        shps = sorted(path.glob("*.shp"))
        if len(shps) == 1:
            return "shapefile"
        raise unrecognised(path, "a folder; pass a file inside it")
    if not path.exists():
        msg = f"{path}: 文件不存在 / file not found. Check the path."
        raise InputFormatError(msg)
    size = path.stat().st_size
    suffix = path.suffix.lower()
    if size == 0:
        msg = (
            f"{path}: 文件为空(0 字节) / the file is empty (0 bytes). The upload or copy was "
            "probably interrupted; copy the file again."
        )
        raise InputFormatError(msg)
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)

    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(path)
    if head[:4] == b"\x00\x00\x27\x0a" or suffix in (".shx", ".dbf"):
        return "shapefile"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise unrecognised(path, "an old Excel .xls/OLE file; save it as .xlsx or CSV")
    if head.startswith(b"AutoCAD Binary DXF"):
        return "dxf"
    if head[:4] in (b"AC10", b"AC1.") or head.startswith(b"AC10"):
        raise unrecognised(path, "an AutoCAD DWG drawing; save it as DXF in CAD")
    if head.startswith(b"%PDF"):
        raise unrecognised(path, "a PDF document")
    if b"\x00" in head:
        if suffix == ".shp":
            return "shapefile"  # a damaged .shp: the shapefile reader explains what is wrong
        raise unrecognised(path, f"binary content starting {head[:8]!r}")

    text = decode_text(head).lstrip("\ufeff \t\r\n")
    low = text[:2048].lower()
    if text.startswith(("{", "[")):
        return "geojson"
    if text.startswith("<"):
        if "<kml" in low or _kml_root(path):
            return "kml"
        if "<html" in low or "<!doctype html" in low:
            raise unrecognised(path, "an HTML page, perhaps a download error page")
        return "gdal"  # GML, GPX and other XML formats GDAL reads
    if _looks_like_dxf(text):
        return "dxf"
    return "table"
