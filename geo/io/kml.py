"""KML and KMZ (Google Earth, 奥维互动地图 Ovital, LocaSpace exports).

Parsed with the standard library rather than GDAL's KML drivers, so that every
Placemark is numbered in document order (``source_row``) however folders nest,
and so that attributes from ``<ExtendedData>`` come through whatever their schema.
Coordinates are lon/lat; heights are dropped. Many Chinese apps export GCJ-02:
pass ``coords="gcj02"`` to convert.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import InputFormatError
from geo.io._coords import finalize_features
from geo.io._issues import IssueLog, check_errors_mode

_GEOM_TAGS = frozenset({"Point", "LineString", "LinearRing", "Polygon", "MultiGeometry"})


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _child_text(el: ET.Element, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name:
            return (c.text or "").strip()
    return None


def _coords(el: ET.Element | None) -> np.ndarray:
    """Return the <coordinates> under ``el`` as an (n, 2) array of lon, lat."""
    if el is None:
        return np.empty((0, 2))
    node = next((c for c in el.iter() if _local(c.tag) == "coordinates"), None)
    if node is None or not (node.text or "").strip():
        return np.empty((0, 2))
    tuples = node.text.replace("\n", " ").split()
    out = []
    for t in tuples:
        parts = t.split(",")
        if len(parts) < 2:
            msg = f"坐标格式错误 / malformed KML coordinate tuple {t!r} (expected lon,lat[,alt])"
            raise ValueError(msg)
        out.append((float(parts[0]), float(parts[1])))
    return np.asarray(out, dtype=float).reshape(-1, 2)


def _ring(el: ET.Element, boundary: str) -> list[np.ndarray]:
    rings = []
    for b in _children(el, boundary):
        lr = next((c for c in b if _local(c.tag) == "LinearRing"), None)
        rings.append(_coords(lr))
    return rings


def _geometry(el: ET.Element) -> shapely.Geometry | None:
    kind = _local(el.tag)
    if kind == "Point":
        xy = _coords(el)
        return shapely.Point(xy[0]) if len(xy) else shapely.Point()
    if kind == "LineString":
        xy = _coords(el)
        return shapely.LineString(xy) if len(xy) >= 2 else shapely.LineString()
    if kind == "LinearRing":
        xy = _coords(el)
        return shapely.Polygon(xy) if len(xy) >= 3 else shapely.Polygon()
    if kind == "Polygon":
        outer = _ring(el, "outerBoundaryIs")
        if not outer or len(outer[0]) < 3:
            return shapely.Polygon()
        holes = [h for h in _ring(el, "innerBoundaryIs") if len(h) >= 3]
        return shapely.Polygon(outer[0], holes=holes)
    if kind == "MultiGeometry":
        parts = [g for c in el if (g := _geometry(c)) is not None and not g.is_empty]
        if not parts:
            return shapely.GeometryCollection()
        types = {p.geom_type for p in parts}
        if types <= {"Polygon", "MultiPolygon"}:
            return shapely.MultiPolygon(
                [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
            )
        if types == {"LineString"}:
            return shapely.MultiLineString(parts)
        if types == {"Point"}:
            return shapely.MultiPoint(parts)
        return shapely.GeometryCollection(parts)
    return None


def _placemarks(root: ET.Element) -> list[tuple[ET.Element, str]]:
    """Placemarks in document order with their folder path ("A/B")."""
    out: list[tuple[ET.Element, str]] = []

    def walk(el: ET.Element, folder: list[str]) -> None:
        for c in el:
            name = _local(c.tag)
            if name == "Placemark":
                out.append((c, "/".join(folder)))
            elif name in ("Folder", "Document"):
                label = _child_text(c, "name")
                walk(c, [*folder, label] if name == "Folder" and label else folder)
            elif name == "kml":
                walk(c, folder)

    walk(root, [])
    return out


def _attributes(pm: ET.Element, folder: str) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "name": _child_text(pm, "name"),
        "description": _child_text(pm, "description"),
    }
    if folder:
        rec["folder"] = folder
    for ext in _children(pm, "ExtendedData"):
        for d in ext.iter():
            tag = _local(d.tag)
            if tag == "Data" and d.get("name"):
                rec[d.get("name")] = _child_text(d, "value")
            elif tag == "SimpleData" and d.get("name"):
                rec[d.get("name")] = (d.text or "").strip()
    return rec


def _kml_bytes(path: Path) -> tuple[bytes, str]:
    """Return the KML document of a .kml or .kmz file, and the name to report."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic != b"PK":
        return path.read_bytes(), str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            kmls = [n for n in zf.namelist() if n.lower().endswith(".kml")]
            if not kmls:
                msg = f"{path}: KMZ 中没有 .kml / the KMZ holds no .kml document."
                raise InputFormatError(msg)
            # doc.kml by convention, else the top-most .kml
            name = next((n for n in kmls if PurePosixPath(n).name.lower() == "doc.kml"), None)
            name = name or min(kmls, key=lambda n: (n.count("/"), n))
            return zf.read(name), f"{path}!{name}"
    except zipfile.BadZipFile as err:
        msg = f"{path}: KMZ 文件已损坏 / the KMZ archive is damaged ({err})."
        raise InputFormatError(msg) from err


def read_kml(
    path: str | Path,
    *,
    coords: str = "wgs84",
    errors: str = "report",
) -> gpd.GeoDataFrame:
    """Read the Placemarks of a KML or KMZ file.

    Parameters
    ----------
    path
        A ``.kml`` or ``.kmz``.
    coords
        Lon/lat system of the coordinates: "wgs84", "gcj02" or "bd09" (the last two
        are converted to WGS84; many Chinese apps export GCJ-02).
    errors
        "report" or "raise".

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326; columns ``source_row`` (Placemark number, 1-based), ``name``,
        ``description``, ``folder`` (when nested) and ExtendedData fields.

    Raises
    ------
    InputFormatError
        Malformed XML or a KMZ without a KML document.
    """
    check_errors_mode(errors)
    path = Path(path)
    data, source = _kml_bytes(path)
    log = IssueLog(source, errors)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        msg = f"{source}: KML 不是有效的 XML / the KML is not well-formed XML ({err})."
        raise InputFormatError(msg) from err
    records: list[dict[str, Any]] = []
    geoms: list[shapely.Geometry | None] = []
    for n, (pm, folder) in enumerate(_placemarks(root), start=1):
        geom_el = next((c for c in pm if _local(c.tag) in _GEOM_TAGS), None)
        try:
            geom = _geometry(geom_el) if geom_el is not None else None
        except (ValueError, IndexError) as err:
            log.rejected(n, f"Placemark {_child_text(pm, 'name')!r}: {err}")
            continue
        rec = _attributes(pm, folder)
        rec["source_row"] = n
        records.append(rec)
        geoms.append(geom)
    if not records and not log.issues:
        msg = f"{source}: KML 中没有 Placemark / the KML holds no Placemark."
        raise InputFormatError(msg)
    gdf = gpd.GeoDataFrame(records, geometry=geoms, crs="EPSG:4326")
    cols = ["source_row"] + [c for c in gdf.columns if c not in ("source_row", "geometry")]
    gdf = gdf[[*cols, "geometry"]]
    return finalize_features(gdf, crs=None, coords=coords, zone=None, log=log)
