"""Read issues: what a reader repaired or rejected, and the geometry checks behind them.

Every reader funnels its output through :func:`validate_geometries` and
:func:`finish`, so that each problem is reported the same way: a warning (one per
kind of problem and file, naming the rows) and one :class:`ReadIssue` per row in
``gdf.attrs["issues"]``. Nothing is dropped without a record.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import asdict, dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.crs import transformer
from geo.errors import (
    CRSDetectionError,
    EcozoneWarning,
    GeometryRepairedWarning,
    InputFormatError,
    RowRejectedWarning,
)

Action = Literal["repaired", "rejected"]

ERRORS_MODES = ("report", "raise")

# How many row numbers a summary warning names before it says "and N more".
_WARN_LIST_MAX = 20
# Degrees by which a projected CRS's area of use is widened before a row is rejected.
_AOU_MARGIN = 3.0


@dataclass(frozen=True)
class ReadIssue:
    """One problem found while reading, and what was done about it.

    Attributes
    ----------
    source
        The file (or ``archive.zip!member``) the row came from.
    row
        1-based row or feature number as the user sees it in the file
        (``None`` when the issue concerns the whole file, e.g. swapped columns).
    action
        ``"repaired"`` (kept after a fix) or ``"rejected"`` (left out of the result).
    reason
        What was wrong, in Chinese with English.
    """

    source: str
    row: int | None
    action: Action
    reason: str

    def as_dict(self) -> dict[str, object]:
        """Return the issue as a plain dict (the form stored in ``gdf.attrs``)."""
        return asdict(self)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_stacklevel() -> int:
    """Return the ``stacklevel`` that points a warning at the first caller outside geo.io."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def check_errors_mode(errors: str) -> str:
    """Validate the ``errors=`` argument shared by all readers."""
    if errors not in ERRORS_MODES:
        msg = f"errors={errors!r} 无效 / is not valid; use one of {ERRORS_MODES}."
        raise ValueError(msg)
    return errors


class IssueLog:
    """Collect issues for one file; warn once per kind when the read finishes.

    Parameters
    ----------
    source
        The file name the issues refer to.
    errors
        ``"report"`` collects rejected rows; ``"raise"`` raises
        :class:`~geo.errors.InputFormatError` at the first one.
    """

    def __init__(self, source: str, errors: str = "report") -> None:
        self.source = source
        self.errors = check_errors_mode(errors)
        self.issues: list[ReadIssue] = []
        self._notes: list[tuple[ReadIssue, type[Warning]]] = []

    def rejected(self, row: int | None, reason: str) -> None:
        """Record a row that cannot be used (or raise when ``errors="raise"``)."""
        if self.errors == "raise":
            where = f"第 {row} 行 / row {row}" if row is not None else "文件 / file"
            msg = (
                f"{self.source}: {where}: {reason}. "
                "修正该行，或用 errors='report' 跳过并报告 / fix the row, or pass "
                "errors='report' to skip it and report it."
            )
            raise InputFormatError(msg)
        self.issues.append(ReadIssue(self.source, row, "rejected", reason))

    def rejected_many(self, rows: np.ndarray, reasons: np.ndarray | list[str] | str) -> None:
        """Record several rejected rows at once (``reasons`` one per row or shared)."""
        rows = np.asarray(rows)
        if isinstance(reasons, str):
            reasons = [reasons] * len(rows)
        for row, reason in zip(rows.tolist(), list(reasons), strict=True):
            self.rejected(int(row) if row is not None else None, str(reason))

    def repaired(self, row: int | None, reason: str) -> None:
        """Record a geometry kept after a repair."""
        self.issues.append(ReadIssue(self.source, row, "repaired", reason))

    def note(
        self, row: int | None, reason: str, *, warning: type[Warning] = EcozoneWarning
    ) -> None:
        """Record a whole-file fix (e.g. swapped columns) and warn about it at once."""
        issue = ReadIssue(self.source, row, "repaired", reason)
        self.issues.append(issue)
        self._notes.append((issue, warning))
        warnings.warn(f"{self.source}: {reason}", warning, stacklevel=user_stacklevel())

    def extend(self, other: IssueLog) -> None:
        """Take over the issues another log collected (e.g. a zip member's)."""
        self.issues.extend(other.issues)

    def emit_warnings(self) -> None:
        """Warn once per action, naming the rows involved."""
        noted = {id(issue) for issue, _ in self._notes}
        by_action: dict[str, list[ReadIssue]] = {"repaired": [], "rejected": []}
        for issue in self.issues:
            if id(issue) not in noted:
                by_action[issue.action].append(issue)
        for action, category in (
            ("repaired", GeometryRepairedWarning),
            ("rejected", RowRejectedWarning),
        ):
            items = by_action[action]
            if not items:
                continue
            shown = "; ".join(
                f"row {i.row}: {i.reason}" if i.row is not None else i.reason
                for i in items[:_WARN_LIST_MAX]
            )
            more = (
                f"; … and {len(items) - _WARN_LIST_MAX} more" if len(items) > _WARN_LIST_MAX else ""
            )
            verb = "已修复 / repaired" if action == "repaired" else "已剔除 / rejected"
            msg = (
                f"{self.source}: {len(items)} 个要素{verb}: {shown}{more}. "
                "详见 gdf.attrs['issues'] / see gdf.attrs['issues']."
            )
            warnings.warn(msg, category, stacklevel=user_stacklevel())

    def as_dicts(self) -> list[dict[str, object]]:
        """All issues as dicts, in the order found."""
        return [i.as_dict() for i in self.issues]


_POLYGONAL = ("Polygon", "MultiPolygon")


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep the polygons of a ``make_valid`` result (drops stray lines and points)."""
    if geom is None or geom.geom_type in _POLYGONAL:
        return geom
    parts = shapely.get_parts(geom)
    polys = [p for p in parts if p.geom_type in _POLYGONAL]
    if not polys:
        return shapely.Polygon()
    merged = shapely.union_all(polys)
    return merged


def _out_of_range(b: np.ndarray, crs: CRS | None) -> tuple[np.ndarray, str]:
    """Rows whose bounds ``b`` leave the CRS's valid range, and a description of that range."""
    if crs is None or len(b) == 0:
        return np.zeros(len(b), dtype=bool), ""
    if crs.is_geographic:
        out = (np.abs(b[:, [0, 2]]) > 180).any(axis=1) | (np.abs(b[:, [1, 3]]) > 90).any(axis=1)
        return out, "lon −180…180, lat −90…90"
    aou = crs.area_of_use
    if aou is None or aou.west > aou.east:
        return np.zeros(len(b), dtype=bool), ""
    west, south = aou.west - _AOU_MARGIN, aou.south - _AOU_MARGIN
    east, north = aou.east + _AOU_MARGIN, aou.north + _AOU_MARGIN
    to_lonlat = transformer(crs, 4326)
    with np.errstate(invalid="ignore"):
        lon1, lat1 = to_lonlat.transform(b[:, 0], b[:, 1], errcheck=False)
        lon2, lat2 = to_lonlat.transform(b[:, 2], b[:, 3], errcheck=False)
    lon = np.column_stack([lon1, lon2])
    lat = np.column_stack([lat1, lat2])
    out = ~(np.isfinite(lon) & np.isfinite(lat)).all(axis=1)
    out |= ((lon < west) | (lon > east) | (lat < south) | (lat > north)).any(axis=1)
    desc = (
        f"{crs.to_string()} area of use lon {aou.west:g}…{aou.east:g}, "
        f"lat {aou.south:g}…{aou.north:g} (± {_AOU_MARGIN:g}°)"
    )
    return out, desc


def validate_geometries(
    gdf: gpd.GeoDataFrame, log: IssueLog, *, point_xy: np.ndarray | None = None
) -> gpd.GeoDataFrame:
    """Reject unusable geometries and repair invalid ones.

    Rejected: a null or empty geometry; non-finite coordinates; coordinates outside
    the CRS's range (±180°/±90° for lon/lat; the CRS's area of use, widened by 3°,
    for projected systems). Invalid geometries are repaired with
    :func:`shapely.make_valid`; for polygon input only the polygonal part is kept.
    ``gdf`` must carry a ``source_row`` column.

    Parameters
    ----------
    gdf
        Freshly read features (not modified).
    log
        Where repairs and rejections are recorded.
    point_xy
        The coordinates of ``gdf``'s geometries, shape (n, 2), when the reader made
        every one a 2-D single point from them: a point is then valid exactly when
        both its coordinates are finite, and the geometries are not read again.

    Returns
    -------
    geopandas.GeoDataFrame
        The usable rows, repaired, with a fresh 0..n-1 index.

    Raises
    ------
    CRSDetectionError
        If every geometry lies outside the CRS's range (the CRS is wrong, not the rows).
    """
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    rows = gdf["source_row"].to_numpy()
    keep = np.ones(len(gdf), dtype=bool)

    if point_xy is None:
        missing = shapely.is_missing(geoms)
        empty = ~missing & shapely.is_empty(geoms)
        for row in rows[missing]:
            log.rejected(int(row), "几何为空值 / geometry is null")
        for row in rows[empty]:
            log.rejected(int(row), "几何为空 / geometry is empty")
        keep &= ~(missing | empty)
        idx = np.flatnonzero(keep)
        valid = shapely.is_valid(geoms[idx])
        reasons = np.full(len(idx), "", dtype=object)
        reasons[~valid] = shapely.is_valid_reason(geoms[idx[~valid]])
        nonfinite = np.zeros(len(idx), dtype=bool)  # (only invalid rows have a reason to read)
        nonfinite[~valid] = np.char.startswith(reasons[~valid].astype(str), "Invalid Coordinate")
    else:  # GEOS finds a point invalid for a non-finite coordinate only
        idx = np.arange(len(gdf))
        valid = np.isfinite(point_xy).all(axis=1)
        nonfinite = ~valid
    for row in rows[idx[nonfinite]]:
        log.rejected(int(row), "坐标含非数值(NaN/inf) / coordinates are not finite")
    keep[idx[nonfinite]] = False

    crs = CRS.from_user_input(gdf.crs) if gdf.crs is not None else None  # (no copy)
    finite = idx[~nonfinite]
    if point_xy is None:
        bounds = shapely.bounds(geoms[finite])
    else:
        bounds = np.hstack([point_xy[finite], point_xy[finite]])
    out, desc = _out_of_range(bounds, crs)
    if len(finite) and out.all():
        b = (*bounds[:, :2].min(axis=0), *bounds[:, 2:].max(axis=0))
        msg = (
            f"{log.source}: 坐标与坐标系不符 / no coordinate fits the CRS {crs.to_string()} "
            f"({desc}); the data spans x {b[0]:.6g}…{b[2]:.6g}, y {b[1]:.6g}…{b[3]:.6g}. "
            "The CRS is probably wrong: pass the right one, e.g. crs='EPSG:4548' "
            "(CGCS2000 3° GK CM 117°E, Beijing) or crs='EPSG:4326' (lon/lat)."
        )
        raise CRSDetectionError(msg)
    for row, bb in zip(rows[finite[out]], bounds[out], strict=True):
        log.rejected(
            int(row),
            f"坐标超出范围 / coordinates out of range (x {bb[0]:.6g}…{bb[2]:.6g}, "
            f"y {bb[1]:.6g}…{bb[3]:.6g}; expected {desc})",
        )
    keep[finite[out]] = False

    invalid = idx[~valid & keep[idx]]
    if len(invalid) == 0:  # nothing repaired: the read geometries as they are
        return gdf.loc[keep].reset_index(drop=True)
    out_geoms = geoms.copy()
    why = shapely.is_valid_reason(geoms[invalid])
    fixed = shapely.make_valid(geoms[invalid])
    for j, i in enumerate(invalid):
        orig = geoms[i]
        new = fixed[j]
        if orig.geom_type in _POLYGONAL:
            new = _polygonal_part(new)
        if new is None or new.is_empty:
            log.rejected(
                int(rows[i]),
                f"几何无效且无法修复 / invalid geometry cannot be repaired ({why[j]})",
            )
            keep[i] = False
            continue
        out_geoms[i] = new
        log.repaired(
            int(rows[i]),
            f"几何无效，已用 make_valid 修复 / invalid geometry repaired with "
            f"make_valid ({why[j]}; {orig.geom_type} → {new.geom_type})",
        )

    result = gdf.set_geometry(gpd.GeoSeries(out_geoms, index=gdf.index, crs=gdf.crs))
    return result.loc[keep].reset_index(drop=True)


def finish(gdf: gpd.GeoDataFrame, log: IssueLog) -> gpd.GeoDataFrame:
    """Attach the issues to ``gdf.attrs`` and emit the summary warnings."""
    gdf.attrs["issues"] = log.as_dicts()
    log.emit_warnings()
    return gdf
