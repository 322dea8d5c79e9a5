"""A QGIS project (.qgz) of a pack's layers, styled, with the jurisdiction as extent.

:func:`write_qgis_project` writes two files side by side:

- ``<stem>.gpkg``: every layer (and optional site-check results and coverage gaps)
  as a GeoPackage layer, each with its default QGIS style in ``layer_styles``
  (from :mod:`maps.qgis_style`), so the data also opens styled on its own;
- ``<stem>.qgz``: a zipped QGIS project (``<stem>.qgs`` inside) that lists those
  layers with the same styles, in the map's drawing order, with relative paths (the
  two files travel together), the project CRS the local Gauss-Krüger zone (CGCS2000)
  and the default view the jurisdiction's extent.

The project XML is written directly, not through the QGIS API: ecozone runs in its
own Python environment, where QGIS's bindings are not importable (Debian's QGIS is
built for the system Python and its numpy/GDAL; see ``docs/qgis.md``). The tests
open the file with ``QgsProject.read`` and check every layer is valid.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from geo.errors import InputFormatError
from geo.io import write_vector
from geo.io.gpkg_styles import QgisStyle
from geo.io.writers import keep_other_layers
from maps.qgis_style import geometry_family, style_for_frame
from maps.style import GAP_STYLE, as_gdf, display_metric_crs, layer_style

__all__ = ["project_layers_path", "write_qgis_project"]

_QGIS_VERSION = "3.22.16-Białowieża"
_WKB = {"point": "Point", "line": "Line", "polygon": "Polygon"}


def _srs(crs: pyproj.CRS) -> ET.Element:
    el = ET.Element("spatialrefsys", nativeFormat="Wkt")
    auth = crs.to_authority()
    with warnings.catch_warnings():  # the PROJ string is only QGIS's fallback
        warnings.simplefilter("ignore", UserWarning)
        proj4 = crs.to_proj4()
    for tag, text in (
        ("wkt", crs.to_wkt()),
        ("proj4", proj4),
        ("srsid", "0"),
        ("srid", auth[1] if auth else "0"),
        ("authid", f"{auth[0]}:{auth[1]}" if auth else ""),
        ("description", crs.name),
        ("projectionacronym", "longlat" if crs.is_geographic else "tmerc"),
        ("ellipsoidacronym", ""),
        ("geographicflag", "true" if crs.is_geographic else "false"),
    ):
        ET.SubElement(el, tag).text = text
    return el


def _extent(parent: ET.Element, tag: str, bounds: tuple[float, ...]) -> ET.Element:
    el = ET.SubElement(parent, tag)
    for name, value in zip(("xmin", "ymin", "xmax", "ymax"), bounds, strict=True):
        ET.SubElement(el, name).text = repr(float(value))
    return el


def _maplayer(
    layer_id: str, name: str, source: str, geometry: str, style: QgisStyle, bounds: tuple
) -> ET.Element:
    ml = ET.Element(
        "maplayer",
        type="vector",
        geometry=_WKB[geometry],
        autoRefreshEnabled="0",
        simplifyDrawingHints="1",
        hasScaleBasedVisibilityFlag="0",
        styleCategories="AllStyleCategories",
    )
    _extent(ml, "extent", bounds)
    ET.SubElement(ml, "id").text = layer_id
    ET.SubElement(ml, "datasource").text = source
    ET.SubElement(ml, "layername").text = name
    srs = ET.SubElement(ml, "srs")
    srs.append(_srs(pyproj.CRS.from_epsg(4326)))
    ET.SubElement(ml, "provider", encoding="UTF-8").text = "ogr"
    qml = ET.fromstring(style.qml.split("\n", 1)[1])  # drop the DOCTYPE line
    for child in qml:
        if child.tag in ("renderer-v2", "aliases"):
            ml.append(child)
    return ml


_PARTS = {"point": (0,), "line": (1, 2), "polygon": (3,)}
_FAMILY_ZH = {"point": "点", "line": "线", "polygon": "面"}
_BUILD = {
    "point": shapely.multipoints,
    "line": shapely.multilinestrings,
    "polygon": shapely.multipolygons,
}


def _family_frame(gdf: gpd.GeoDataFrame, family: str) -> gpd.GeoDataFrame:
    """The rows with parts of one geometry family, those parts only, as multi-geometries."""
    parts, index = shapely.get_parts(gdf.geometry.to_numpy(), return_index=True)
    keep = np.isin(shapely.get_type_id(parts), _PARTS[family])
    parts, index = parts[keep], index[keep]
    rows = np.unique(index)
    merged = _BUILD[family](parts, indices=np.searchsorted(rows, index)) if len(parts) else []
    out = gdf.iloc[rows].copy()
    return out.set_geometry(gpd.GeoSeries(merged, index=out.index, crs=gdf.crs))


def _single_family(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Keep the parts of the frame's main geometry family, as multi-geometries.

    Clipping to the jurisdiction leaves slivers (lines, points, collections) on the
    boundary; a GeoPackage layer of mixed types opens in QGIS without a renderer.
    """
    return _family_frame(gdf, geometry_family(gdf))


def _families(gdf: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Every geometry family of a frame (site-check results may mix points and areas)."""
    out = {f: _family_frame(gdf, f) for f in _PARTS}
    return {f: frame for f, frame in out.items() if len(frame)}


def project_layers_path(out: str | Path) -> Path:
    """The GeoPackage beside QGIS project ``out`` that holds its layers: ``<stem>.gpkg``.

    Parameters
    ----------
    out
        The project file (.qgz or .qgs).

    Returns
    -------
    pathlib.Path
    """
    return Path(out).with_suffix(".gpkg")


def write_qgis_project(
    layers: Mapping[str, Any],
    out: str | os.PathLike[str],
    *,
    title: str,
    extent: Any,
    sites: Any = None,
    gaps: Any = None,
) -> Path:
    """Write a styled QGIS project (.qgz) and the GeoPackage it reads beside it.

    Parameters
    ----------
    layers
        Layer kind → GeoDataFrame / ``layers.Layer`` (lon/lat or any CRS).
    out
        The ``.qgz`` (or ``.qgs``) path; the data goes to ``<stem>.gpkg`` beside it.
    title
        Project title.
    extent
        The jurisdiction (shapely geometry in EPSG:4326, or a GeoDataFrame): the
        project's default view.
    sites
        Optional site-check result sites (drawn in verdict colours).
    gaps
        Optional uncovered residential land.

    Returns
    -------
    pathlib.Path
        The project file.

    Raises
    ------
    InputFormatError
        ``out`` is not .qgz/.qgs, or there is nothing to put in the project.
    """
    out = Path(out)
    if out.suffix.lower() not in (".qgz", ".qgs"):
        msg = f"{out}: a QGIS project is .qgz (or .qgs); choose --out project.qgz"
        raise InputFormatError(msg)
    entries: list[tuple[str, str, gpd.GeoDataFrame, str, int]] = []
    for key, value in layers.items():
        gdf = _single_family(as_gdf(value, f"layers[{key!r}]").to_crs(4326))
        kind = str(getattr(value, "kind", None) or key)
        st = layer_style(kind)
        entries.append((str(key), st.label_zh, gdf, kind, st.zorder))
    if gaps is not None:
        gaps_frame = _single_family(as_gdf(gaps, "gaps").to_crs(4326))
        entries.append(("gaps", GAP_STYLE.label_zh, gaps_frame, "gaps", 80))
    if sites is not None:  # one layer per geometry type: a GeoPackage layer has one
        fams = _families(as_gdf(sites, "sites").to_crs(4326))
        for fam, frame in fams.items():
            key, label = "sites", "检查结论"
            if len(fams) > 1:
                key, label = f"sites_{fam}", f"检查结论（{_FAMILY_ZH[fam]}）"
            entries.append((key, label, frame, "verdict", 90))
    entries = [e for e in entries if len(e[2])]
    if not entries:
        msg = "nothing to put in the QGIS project: no layer has features in the jurisdiction"
        raise InputFormatError(msg)
    entries.sort(key=lambda e: e[4])
    if isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        extent = shapely.union_all(extent.to_crs(4326).geometry.to_numpy())
    lonlat = tuple(shapely.bounds(extent).tolist()) if extent is not None else None
    crs = display_metric_crs(lonlat)
    box = shapely.box(*lonlat) if lonlat else shapely.box(*entries[0][2].total_bounds)
    view = gpd.GeoSeries([box], crs=4326).to_crs(crs).total_bounds.tolist()

    gpkg = project_layers_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        tmp_gpkg = tmpdir / gpkg.name
        # a GeoPackage of that name holding other layers (the user's): they stay
        keep_other_layers(gpkg, tmp_gpkg, [key for key, *_ in entries])
        styles = {}
        for key, _label, gdf, kind, _z in entries:
            styles[key] = style_for_frame(gdf, kind)
            write_vector(gdf, tmp_gpkg, layer=key, style=styles[key])
        root = ET.Element("qgis", projectname=title, version=_QGIS_VERSION)
        ET.SubElement(root, "homePath", path="")
        ET.SubElement(root, "title").text = title
        ET.SubElement(root, "projectCrs").append(_srs(crs))
        tree = ET.SubElement(root, "layer-tree-group")
        ET.SubElement(tree, "customproperties")
        canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
        ET.SubElement(canvas, "units").text = "meters"
        _extent(canvas, "extent", view)
        ET.SubElement(canvas, "rotation").text = "0"
        ET.SubElement(canvas, "destinationsrs").append(_srs(crs))
        project_layers = ET.SubElement(root, "projectlayers")
        order = ET.SubElement(tree, "custom-order", enabled="0")
        for key, label, gdf, _kind, _z in reversed(entries):  # top of the legend first
            layer_id = f"{key}_{uuid.uuid4().hex[:12]}"
            source = f"./{gpkg.name}|layername={key}"
            ET.SubElement(
                tree,
                "layer-tree-layer",
                id=layer_id,
                name=label,
                source=source,
                providerKey="ogr",
                checked="Qt::Checked",
                expanded="1",
            )
            ET.SubElement(order, "item").text = layer_id
            geometry = geometry_family(gdf)
            project_layers.append(
                _maplayer(layer_id, label, source, geometry, styles[key], tuple(gdf.total_bounds))
            )
        settings = ET.SubElement(root, "ProjectViewSettings", UseProjectScales="0")
        dv = ET.SubElement(settings, "DefaultViewExtent")
        for name, value in zip(("xmin", "ymin", "xmax", "ymax"), view, strict=True):
            dv.set(name, repr(float(value)))
        dv.append(_srs(crs))
        props = ET.SubElement(root, "properties")
        srs_props = ET.SubElement(props, "SpatialRefSys")  # QGIS reads projectCrs only then
        ET.SubElement(srs_props, "ProjectionsEnabled", type="int").text = "1"
        paths = ET.SubElement(props, "Paths")
        ET.SubElement(paths, "Absolute", type="bool").text = "false"
        text = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(
            root, encoding="unicode"
        )
        tmp_project = tmpdir / out.name
        if out.suffix.lower() == ".qgs":
            tmp_project.write_text(text, encoding="utf-8")
        else:
            with zipfile.ZipFile(tmp_project, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(f"{out.stem}.qgs", text.encode("utf-8"))
        os.replace(tmp_gpkg, gpkg)  # data first: the project never points at old data
        os.replace(tmp_project, out)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return out
