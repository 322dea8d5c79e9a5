"""The input sites of a check, normalised: lon/lat geometry, ids, projects, exits.

Private to :mod:`zoning.check.engine`: how :class:`zoning.check.engine.SiteChecker` turns its
input into the :class:`zoning.check.result._Sites` it checks, before any layer is read.

- :func:`read_sites` — a GeoDataFrame or GeoSeries in any CRS (GCJ-02 / BD-09
  converted first) → lon/lat geometries and ``site_id`` (the column, else
  ``source_row``, else 1, 2, ...), then :func:`normalise_sites`;
- :func:`normalise_sites` — lon/lat geometries → errors (a repeated ``site_id``,
  a missing, empty, non-finite or out-of-range geometry, bad project attributes or
  exits: the site is not checked and its reason is kept), invalid geometries
  repaired (:class:`geo.errors.GeometryRepairedWarning`), one project per site and
  the exit points of each site;

  the conversion to lon/lat, the non-finite and range tests and the repair are
  :func:`geo.io.lonlat.to_lonlat` (``errors="mark"``); the reasons are this module's;
- :func:`site_profiles` — per-site projects read from the columns of
  :func:`zoning.project.condition_columns` (:func:`zoning.project.project_from_row`),
  each distinct combination parsed once: sites share a profile number;
- :func:`site_exits` — exit points per site: the project's, plus an exits column
  (``zoning.project.PROJECT_COLUMNS["exits"]``, "lon,lat; lon,lat"), plus ``exit_lon`` +
  ``exit_lat``;
  :func:`project_exits` — the exits of one project per site;
- :func:`project_key` — the attributes a rule's conditions read, as a hashable key.

:func:`zoning.project.condition_columns` and the exits column also choose the input
columns a distributed check moves to its workers (:mod:`zoning.check.distributed`).
This module does not import :mod:`zoning.check.engine`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.crs import crs_text
from geo.errors import CRSDetectionError, GeometryRepairedWarning, InputFormatError
from geo.io.lonlat import LonLat, to_lonlat
from zoning.check.layer_index import text_array
from zoning.check.result import _Sites
from zoning.project import (
    Project,
    condition_columns,
    field_column,
    match_columns,
    project_from_row,
)

_LONLAT = "EPSG:4326"


def sites_frame(sites: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame:
    """``sites`` as a GeoDataFrame with a CRS, or a clear error.

    Raises
    ------
    InputFormatError
        Neither a GeoDataFrame nor a GeoSeries.
    CRSDetectionError
        No CRS.
    """
    if isinstance(sites, gpd.GeoSeries):
        sites = sites.to_frame(name="geometry")
    if not isinstance(sites, gpd.GeoDataFrame):
        msg = f"`sites` must be a GeoDataFrame or GeoSeries, got {type(sites).__name__}"
        raise InputFormatError(msg)
    if sites.crs is None:
        msg = (
            "`sites` has no CRS: set it with sites.set_crs(...) (lon/lat: EPSG:4326; "
            "Gauss-Krüger e.g. EPSG:4548) or read the file with geo.io.read_vector"
        )
        raise CRSDetectionError(msg)
    return sites


def read_sites(
    sites: gpd.GeoDataFrame | gpd.GeoSeries, project: Project | None, coords: str
) -> _Sites:
    """Lon/lat geometries and ids of ``sites`` (any CRS), then :func:`normalise_sites`."""
    sites = sites_frame(sites)
    crs = sites.geometry.crs
    # GCJ-02 / BD-09 → WGS84 (lon/lat only), any CRS → lon/lat; bad rows marked
    ll = to_lonlat(sites, coords=coords, repair="linework", errors="mark", source="sites")
    n = len(sites)
    source_row = sites["source_row"].to_numpy() if "source_row" in sites.columns else None
    if "site_id" in sites.columns:
        site_id = text_array(sites["site_id"])
    elif source_row is not None:
        site_id = np.asarray(
            [str(int(v)) if pd.notna(v) else f"#{i + 1}" for i, v in enumerate(source_row)],
            dtype=object,
        )
    else:
        site_id = np.asarray([str(i) for i in range(1, n + 1)], dtype=object)
    s = normalise_sites(ll.geoms, site_id, source_row, sites, lambda: crs_text(crs), project, ll)
    fixed = [i.get("row") for i in sites.attrs.get("issues", ()) if i.get("action") == "repaired"]
    if fixed and source_row is not None:  # repaired by the reader (geo.io): a "repair" note
        by_reader = np.isin(source_row, np.asarray(fixed, dtype=object).astype(float))
        s.repaired = by_reader if s.repaired is None else (s.repaired | by_reader)
    s.input_crs = crs_text(crs)
    s.coords = coords
    return s


def normalise_sites(
    geoms: NDArray[Any],
    site_id: NDArray[Any],
    source_row: NDArray[Any] | None,
    sites: pd.DataFrame | None,
    crs_text: Callable[[], str],
    project: Project | None,
    lonlat: LonLat | None = None,
) -> _Sites:
    """Errors, repairs, projects and exits of lon/lat sites (``sites``: their columns).

    ``lonlat``: what :func:`geo.io.lonlat.to_lonlat` (``errors="mark"``, with repair)
    made of ``geoms`` when the caller converted them; else it is run here on ``geoms``.
    """
    n = len(geoms)
    reasons: dict[int, str] = {}
    unique = (
        len(set(site_id.tolist())) == n if n <= 64 else pd.Index(site_id, dtype=object).is_unique
    )
    if not unique:
        # a repeated id is an error on its later rows (results are keyed by site_id)
        ids = pd.Series(site_id, dtype=object)
        first = pd.Series(np.arange(n)).groupby(ids.to_numpy(), sort=False).transform("min")
        rows = source_row if source_row is not None else np.arange(1, n + 1)
        for i in np.flatnonzero(first.to_numpy() != np.arange(n)).tolist():
            reasons[i] = (
                f"site_id {site_id[i]!r} 重复 / duplicated (first at row "
                f"{rows[first.iloc[i]]}); give each site a unique id"
            )
    # geometry problems: missing/empty/non-finite/out of range are errors; invalid is
    # repaired (geo.io.lonlat, linework: shapely.make_valid's default)
    if lonlat is None:
        lonlat = to_lonlat(geoms, crs=_LONLAT, repair="linework", errors="mark", source="sites")
    geoms = lonlat.geoms
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    for i in np.flatnonzero(missing | empty):
        reasons[int(i)] = "空几何 / missing or empty geometry: give the site a geometry"
    for i in np.flatnonzero(lonlat.nonfinite):
        reasons[int(i)] = (
            "坐标无效 / non-finite coordinate (NaN/inf) in the geometry; fix the "
            "coordinates in the input"
        )
    for i in np.flatnonzero(lonlat.outside):
        reasons[int(i)] = (
            "坐标超出经纬度范围 / coordinates outside lon/lat after reprojection: "
            f"check the CRS of the input ({crs_text()})"
        )
    repaired = lonlat.repaired
    invalid = np.flatnonzero(repaired)
    if len(invalid):
        warnings.warn(
            f"{len(invalid)} site geometries were invalid and repaired with "
            f"make_valid (site_id {', '.join(site_id[invalid[:5]])}...)",
            GeometryRepairedWarning,
            stacklevel=3,
        )
    # project attributes: one Project, or per-row columns (deduplicated)
    if project is not None:
        profile = np.zeros(n, dtype=np.intp)
        projects = [project]
    elif sites is None:  # no attribute columns: an unknown project
        profile, projects = np.zeros(n, dtype=np.intp), [Project()]
    else:
        profile, projects, perr = site_profiles(sites, site_id)
        reasons.update({i: r for i, r in perr.items() if i not in reasons})
    ex_site, ex_lon, ex_lat, xerr = site_exits(sites, n, project)
    reasons.update({i: r for i, r in xerr.items() if i not in reasons})
    ok = np.ones(n, dtype=bool)
    ok[list(reasons)] = False
    keep = ok[ex_site] if len(ex_site) else np.zeros(0, bool)
    return _Sites(
        geoms, site_id, source_row, profile, projects,
        ex_site[keep], ex_lon[keep], ex_lat[keep], ok, reasons,
        repaired=repaired if repaired.any() else None, xy=lonlat.xy,
    )  # fmt: skip


def project_key(p: Project) -> tuple[Any, ...]:
    """The attributes of ``p`` that rule conditions read (exits and name aside)."""
    return (
        p.project_type, p.industry_code, tuple(sorted(p.flags)), p.development,
        p.temporary_land_use, p.water_supply, p.activity,
    )  # fmt: skip


def site_profiles(
    sites: pd.DataFrame, site_id: NDArray[Any]
) -> tuple[NDArray[np.intp], list[Project], dict[int, str]]:
    """Per-site projects from columns, parsing each distinct combination once."""
    n = len(sites)
    cols = condition_columns(sites.columns)
    if not cols or n == 0:
        return np.zeros(n, dtype=np.intp), [Project()], {}
    df = pd.DataFrame(sites[cols]).reset_index(drop=True)
    h = pd.util.hash_pandas_object(df.astype(object), index=False).to_numpy()
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    projects: list[Project] = []
    bad_groups: dict[int, str] = {}
    for g, i in enumerate(first.tolist()):
        try:
            projects.append(project_from_row(df.iloc[i].to_dict(), where="project attributes"))
        except ValueError as exc:
            projects.append(Project())
            bad_groups[g] = str(exc)
    reasons = {}
    if bad_groups:
        for i in np.flatnonzero(np.isin(inv, list(bad_groups))).tolist():
            reasons[int(i)] = f"项目属性无效 / {bad_groups[int(inv[i])]}"
    return inv.astype(np.intp), projects, reasons


def project_exits(
    projects: Sequence[Project],
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """Exit points of site ``i`` from ``projects[i]`` (sorted by site), for one project per site."""
    site = [np.full(len(p.exits), i, dtype=np.intp) for i, p in enumerate(projects) if p.exits]
    if not site:
        z = np.zeros(0)
        return np.zeros(0, dtype=np.intp), z, z
    e = np.concatenate([np.asarray(p.exits, dtype="float64") for p in projects if p.exits])
    return np.concatenate(site), e[:, 0].copy(), e[:, 1].copy()


def site_exits(
    sites: pd.DataFrame | None, n: int, project: Project | None
) -> tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64], dict[int, str]]:
    """Exit points per site: the project's, plus an exits column, plus exit_lon/exit_lat."""
    s_parts: list[NDArray[np.intp]] = []
    lon_parts: list[NDArray[np.float64]] = []
    lat_parts: list[NDArray[np.float64]] = []
    reasons: dict[int, str] = {}
    if project is not None and project.exits:
        e = np.asarray(project.exits, dtype="float64")
        s_parts.append(np.repeat(np.arange(n), len(e)))
        lon_parts.append(np.tile(e[:, 0], n))
        lat_parts.append(np.tile(e[:, 1], n))
    columns = () if sites is None else sites.columns
    col = field_column(match_columns(columns), "exits")
    if col is not None:  # "lon,lat; lon,lat" per row, added to the project's exits
        values = sites[col].to_numpy()
        text = pd.Series(values).astype(str).str.strip().to_numpy()
        for i in np.flatnonzero(pd.notna(values) & (text != "")).tolist():
            try:
                p = project_from_row({"exits": values[i]}, where=f"column {col!r}")
            except ValueError as exc:
                reasons[i] = f"出口坐标无效 / {exc}"
                continue
            e = np.asarray(p.exits, dtype="float64").reshape(-1, 2)
            s_parts.append(np.full(len(e), i, dtype=np.intp))
            lon_parts.append(e[:, 0])
            lat_parts.append(e[:, 1])
    if "exit_lon" in columns and "exit_lat" in columns:
        lon = pd.to_numeric(sites["exit_lon"], errors="coerce").to_numpy(dtype="float64")
        lat = pd.to_numeric(sites["exit_lat"], errors="coerce").to_numpy(dtype="float64")
        given = pd.notna(sites["exit_lon"]).to_numpy() | pd.notna(sites["exit_lat"]).to_numpy()
        good = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        for i in np.flatnonzero(given & ~good).tolist():
            reasons[i] = (
                "出口坐标无效 / columns exit_lon/exit_lat "
                f"({sites['exit_lon'].iloc[i]!r}, {sites['exit_lat'].iloc[i]!r}) are not a "
                "WGS84 lon/lat in degrees"
            )
        idx = np.flatnonzero(good)
        s_parts.append(idx.astype(np.intp))
        lon_parts.append(lon[idx])
        lat_parts.append(lat[idx])
    if not s_parts:
        z = np.zeros(0)
        return np.zeros(0, dtype=np.intp), z, z, reasons
    s = np.concatenate(s_parts).astype(np.intp)
    o = np.argsort(s, kind="stable")
    return s[o], np.concatenate(lon_parts)[o], np.concatenate(lat_parts)[o], reasons
