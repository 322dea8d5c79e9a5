"""DXF drawings (CAD survey and planning drawings) via ezdxf.

Closed polylines (LWPOLYLINE, POLYLINE, closed splines/ellipses/circles) become
polygons, open ones lines, HATCH boundary paths polygons (even-odd fill: inner
paths are holes), POINT entities points; block references (INSERT) are exploded.
Arcs (polyline bulges) are flattened to within 1 cm of the curve in drawing units.
A DXF carries no CRS, so ``crs=`` is required.

Block references can nest: 40 references to a block of 20 references, four levels
deep, explode to 6.4 million lines from a 29 KB file. Exploding is counted as it
goes: reading stops with :class:`~geo.errors.InputFormatError` as soon as the
drawn entities or their vertices pass ``max_vertices``, before anything more is
built.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import CRSDetectionError, InputFormatError
from geo.io._coords import as_crs, finalize_features
from geo.io._issues import IssueLog, check_errors_mode

# Maximum distance (drawing units, metres in GK drawings) of flattened arcs from the curve.
_FLATTEN = 0.01
# Most vertices (and exploded entities) read from one drawing unless told otherwise.
DXF_MAX_VERTICES = 2_000_000
_CURVES = ("LWPOLYLINE", "POLYLINE", "LINE", "ARC", "CIRCLE", "ELLIPSE", "SPLINE")


def _crs_hint(path: Path) -> str:
    """Suggest a CRS from the drawing's extents, if they fit a known system."""
    try:
        import ezdxf
        from ezdxf import bbox

        from geo.detect import detect_crs

        doc = ezdxf.readfile(path)
        # block references left out: nested ones can expand to millions of entities
        drawn = (e for e in doc.modelspace() if e.dxftype() != "INSERT")
        ext = bbox.extents(drawn, fast=True)
        if not ext.has_data:
            return ""
        found = detect_crs([ext.extmin.x, ext.extmax.x], [ext.extmin.y, ext.extmax.y])
    except Exception:  # only a hint: any failure means no suggestion
        return ""
    if found.swapped:
        return ""
    return (
        f" The drawing's extents look like {found.description}: crs='EPSG:{found.crs.to_epsg()}'."
    )


def _xy(points: Iterable[Any]) -> np.ndarray:
    return np.array([(p.x, p.y) for p in points], dtype=float).reshape(-1, 2)


def _curve_geometry(entity: Any) -> shapely.Geometry | None:
    from ezdxf import path as dxfpath

    if entity.dxftype() == "POLYLINE" and (entity.is_poly_face_mesh or entity.is_polygon_mesh):
        return None
    p = dxfpath.make_path(entity)
    xy = _xy(p.flattening(_FLATTEN))
    closed = bool(getattr(entity, "closed", False) or getattr(entity, "is_closed", False))
    if entity.dxftype() == "CIRCLE":
        closed = True
    if len(xy) >= 3 and (closed or np.allclose(xy[0], xy[-1], rtol=0, atol=1e-9)):
        return shapely.Polygon(xy)
    if len(xy) >= 2:
        return shapely.LineString(xy)
    return shapely.LineString()  # degenerate: reported as empty by the validator


def _hatch_geometry(entity: Any) -> shapely.Geometry:
    from ezdxf import path as dxfpath

    rings = [shapely.Polygon(_xy(p.flattening(_FLATTEN))) for p in dxfpath.from_hatch(entity)]
    rings = [r if r.is_valid else shapely.make_valid(r) for r in rings if not r.is_empty]
    if not rings:
        return shapely.Polygon()
    result = rings[0]
    for r in rings[1:]:  # even-odd: a path inside another is a hole
        result = shapely.symmetric_difference(result, r)
    return result


class _Budget:
    """Counts exploded entities and vertices; raises once past the limit."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit, self.used = path, limit, 0

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            msg = (
                f"{self.path}: DXF 图形过大 / the drawing expands (block references "
                f"exploded) to more than {self.limit:,} entities or vertices; reading was "
                "stopped. Explode or purge nested blocks in CAD, or send only the site's "
                "boundary layer"
            )
            raise InputFormatError(msg)


def _entities(msp: Iterable[Any], budget: _Budget, depth: int = 0) -> Iterator[tuple[Any, Any]]:
    """(top-level entity, drawable entity) pairs, exploding block references."""
    for e in msp:
        budget.spend(1)
        if e.dxftype() == "INSERT" and depth < 4:
            try:
                children = list(e.virtual_entities())
            except Exception:  # a damaged block: treat it as having no geometry
                children = []
            for _, child in _entities(children, budget, depth + 1):
                yield e, child
        else:
            yield e, e


def read_dxf(
    path: str | Path,
    *,
    crs: Any = None,
    zone: int | None = None,
    layer: str | list[str] | None = None,
    errors: str = "report",
    max_vertices: int | None = None,
) -> gpd.GeoDataFrame:
    """Read the geometry of a DXF drawing's model space.

    Parameters
    ----------
    path
        The ``.dxf`` (ASCII or binary).
    crs
        The drawing's coordinate system; required, since DXF has none. For Beijing
        survey drawings usually "EPSG:4548" (CGCS2000 3° GK CM 117°E) or "EPSG:4527"
        (the same with zone-prefixed eastings, Y ≈ 39 500 000).
    zone
        Instead of ``crs``: the 3° Gauss-Krüger zone of the drawing (Beijing 39);
        eastings with or without the zone prefix are recognised.
    layer
        Read only these DXF layer(s).
    errors
        "report" or "raise".
    max_vertices
        Stop reading once the exploded entities plus the vertices read pass this
        (default ``DXF_MAX_VERTICES``, 2 000 000).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``source_row`` (entity number in model space, 1-based), ``dxf_layer``,
        ``entity`` (DXF type), ``handle`` (to find it in CAD) and geometry.

    Raises
    ------
    InputFormatError
        No ``crs``, an unreadable DXF, an unknown ``layer``, or a drawing that
        expands past ``max_vertices``.

    Examples
    --------
    >>> read_dxf("红线.dxf", crs="EPSG:4548")  # doctest: +SKIP
    """
    check_errors_mode(errors)
    path = Path(path)
    user = as_crs(crs)
    if user is None and zone is None:
        msg = (
            f"{path}: DXF 文件不含坐标系，请用 crs= 或 zone= 指定 / a DXF drawing has no CRS; "
            "pass one, e.g. crs='EPSG:4548' (CGCS2000 3° Gauss-Krüger CM 117°E, Beijing), "
            "crs='EPSG:4527' (zone 39 with prefixed eastings) or zone=39." + _crs_hint(path)
        )
        raise InputFormatError(msg)
    import ezdxf
    from ezdxf import recover

    try:
        doc, _auditor = recover.readfile(path)
    except (OSError, ezdxf.DXFStructureError) as err:
        msg = (
            f"{path}: DXF 文件无法读取，可能已损坏 / cannot read the DXF; it may be damaged "
            f"({err})."
        )
        raise InputFormatError(msg) from err
    msp = doc.modelspace()
    wanted = None
    if layer is not None:
        wanted = {layer} if isinstance(layer, str) else set(layer)
        present = {lyr.dxf.name for lyr in doc.layers} | {e.dxf.layer for e in msp}
        missing = wanted - present
        if missing:
            msg = f"{path}: 没有图层 / no DXF layer {sorted(missing)}; layers: {sorted(present)}."
            raise InputFormatError(msg)

    log = IssueLog(str(path), errors)
    records: list[dict[str, Any]] = []
    geoms: list[shapely.Geometry] = []
    numbers = {id(e): i + 1 for i, e in enumerate(msp)}
    budget = _Budget(path, DXF_MAX_VERTICES if max_vertices is None else int(max_vertices))
    for top, e in _entities(msp, budget):
        kind = e.dxftype()
        if wanted is not None and e.dxf.layer not in wanted:
            continue
        try:
            if kind in _CURVES:
                geom = _curve_geometry(e)
            elif kind == "HATCH":
                geom = _hatch_geometry(e)
            elif kind == "POINT":
                loc = e.dxf.location
                geom = shapely.Point(loc.x, loc.y)
            else:
                continue  # text, dimensions, images: no geometry to read
        except Exception as err:  # ezdxf raises many types on damaged entities
            log.rejected(
                numbers.get(id(top)), f"{kind} {e.dxf.handle}: 无法读取 / unreadable ({err})"
            )
            continue
        if geom is None:
            continue
        budget.spend(int(shapely.get_num_coordinates(geom)))
        geoms.append(geom)
        records.append(
            {
                "source_row": numbers.get(id(top), 0),
                "dxf_layer": e.dxf.layer,
                "entity": kind,
                "handle": top.dxf.handle,
            }
        )
    if not geoms:
        msg = (
            f"{path}: 模型空间中没有可读的几何 / the model space holds no polylines, hatches, "
            "lines or points to read" + (f" on layers {sorted(wanted)}" if wanted else "") + "."
        )
        raise InputFormatError(msg)
    gdf = gpd.GeoDataFrame(records, geometry=geoms, crs=user)
    try:  # with only a zone, the eastings tell whether they carry the zone prefix
        return finalize_features(gdf, crs=None, coords="wgs84", zone=zone, log=log)
    except CRSDetectionError as err:
        given = f"crs={crs!r}" if user is not None else f"zone={zone!r}"
        msg = f"{err} ({given} was given for the DXF; check it.)"
        raise CRSDetectionError(msg) from err
