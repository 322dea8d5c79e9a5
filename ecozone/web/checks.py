"""The site check as the web app runs it: parse the request, call the library, shape the answer.

- :class:`PackCache` keeps one :class:`zoning.check.engine.SiteChecker` per rule pack (its
  STRtrees are built once) and rebuilds it when the store's layer versions change;
- :func:`site_from_request` turns a GeoJSON geometry or pasted coordinates in any
  accepted system into one site in WGS84, with the limits applied;
- :func:`check_site` runs the check and builds the report dict
  (:func:`zoning.report.build.build_report`); :func:`nearby_features` adds the layer
  features around the site for the page map; :func:`render_report` renders a
  download (HTML, DOCX, PDF, JSON).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from ecozone.web.errors import ApiError
from ecozone.web.runner import capture_warnings
from ecozone.web.schemas import CheckRequest
from geo.errors import (
    GeometryError,
    InputFormatError,
    MissingLayerError,
)
from layers.kinds import KINDS, canonical_kind, kinds_in_view
from zoning.project import Project

log = logging.getLogger(__name__)

__all__ = [
    "PackCache",
    "PackEntry",
    "PointBatcher",
    "check_site",
    "context_layers",
    "is_single_point",
    "make_project",
    "nearby_features",
    "pack_names",
    "render_report",
    "site_from_request",
    "site_report",
]

LONLAT = "EPSG:4326"
_GEOD = Geod(ellps="GRS80")
_STAMP_EVERY_S = 5.0  # how often a cached checker compares the store's layer versions
_MAX_PER_LAYER = 800
_NUMBER = re.compile(r"\d+(?:\.\d*)?")
_SHOWN_COLUMNS = ("category", "unit_code", "grade", "zone_type", "level", "adcode", "parent_adcode")
MEDIA = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}

_packs_lock = threading.Lock()
_packs: dict[str, tuple[str, str]] = {}


def pack_names() -> dict[str, tuple[str, str]]:
    """Installed rule packs: name → (Chinese title, English title). Read once."""
    with _packs_lock:
        if not _packs:
            from zoning.pack import list_packs, load_pack

            for name in list_packs():
                p = load_pack(name)
                _packs[name] = (p.title, p.title_en)
        return dict(_packs)


def check_pack_name(name: str) -> str:
    """Return ``name`` if it names an installed pack (never a path), else raise 422."""
    names = pack_names()
    if name not in names:
        msg = (
            f"规则包不存在 / unknown rule pack {name[:40]!r}; installed packs: "
            f"{', '.join(sorted(names))}"
        )
        raise ApiError(422, "unknown_pack", msg)
    return name


@dataclass
class PackEntry:
    """A pack ready to check sites: its checker, layers and display frames."""

    name: str
    pack: Any
    checker: Any
    layers: dict[str, Any]
    frames: dict[str, gpd.GeoDataFrame]
    stamp: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    checked_at: float = field(default_factory=time.monotonic)
    context: list[dict[str, Any]] | None = None


class PackCache:
    """One checker per pack over a layer store, rebuilt when the store changes.

    Parameters
    ----------
    store
        A :class:`layers.LayerStore`.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self._entries: dict[str, PackEntry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget every checker (after an import)."""
        with self._lock:
            self._entries.clear()

    def ready(self, name: str) -> PackEntry | None:
        """The entry of pack ``name`` if built and recently found current, else ``None``.

        Never waits (no lock, no store access): for the event loop, which must not
        block on a checker being built.
        """
        entry = self._entries.get(name)
        if entry is not None and time.monotonic() - entry.checked_at < _STAMP_EVERY_S:
            return entry
        return None

    def get(self, name: str) -> PackEntry:
        """The entry of pack ``name``, built on first use (blocking; call from a thread)."""
        check_pack_name(name)
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            entry = self._entries.get(name)
            now = time.monotonic()
            if entry is not None and now - entry.checked_at < _STAMP_EVERY_S:
                return entry
            stamp = self.store.stamp()
            if entry is not None and entry.stamp == stamp:
                entry.checked_at = now
                return entry
            entry = self._build(name, stamp)
            with self._lock:
                self._entries[name] = entry
            return entry

    def _build(self, name: str, stamp: dict[str, Any]) -> PackEntry:
        from zoning.check.engine import SiteChecker
        from zoning.pack import load_pack
        from zoning.workflow import checker_layer_frames, load_pack_layers

        t0 = time.perf_counter()
        pack = load_pack(name)
        layers = load_pack_layers(pack, self.store)
        missing = sorted(k for k in pack.layer_kinds() if k != "site_exit" and k not in layers)
        notes: list[str] = []
        if missing:
            # rules on missing layers are skipped, and every report says so
            with capture_warnings() as notes:
                checker = SiteChecker(pack, layers, missing_layers="skip")
        else:
            checker = SiteChecker(pack, layers)
        checker.warm()  # request threads share it: GEOS's lazy indexes built now
        frames = {}
        for kind, gdf in checker_layer_frames(checker).items():
            keep = ["feature_id", "name", *(c for c in _SHOWN_COLUMNS if c in gdf.columns)]
            frame = gpd.GeoDataFrame(gdf[keep], geometry=gdf.geometry, crs=LONLAT)
            frame.sindex  # noqa: B018 - build the spatial index now, not in a request
            frames[kind] = frame
        try:  # roads, water... a bureau imported for the reference map (no rule reads them)
            ref = self.store.get_kind("reference").gdf
            frames["reference"] = gpd.GeoDataFrame(
                ref[["feature_id", "name"]], geometry=ref.geometry, crs=LONLAT
            )
        except MissingLayerError:
            pass
        log.info("checker for pack %s ready in %.2f s", name, time.perf_counter() - t0)
        return PackEntry(name, pack, checker, layers, frames, stamp, notes)


# --------------------------------------------------------------------------- input


def _geometry_from_geojson(obj: Mapping[str, Any]) -> shapely.Geometry:
    kind = obj.get("type")
    if kind == "Feature":
        geom = obj.get("geometry")
        if not isinstance(geom, Mapping):
            raise InputFormatError("geometry: the GeoJSON Feature has no geometry")
        obj = geom
    elif kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list) or len(feats) != 1 or not isinstance(feats[0], Mapping):
            msg = (
                "geometry: give one GeoJSON geometry or Feature; for a file of several "
                "sites use the batch check (POST /api/check/batch)"
            )
            raise InputFormatError(msg)
        return _geometry_from_geojson(feats[0])
    try:
        geom = shapely.from_geojson(json.dumps(obj, allow_nan=False))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        msg = f"geometry: not a valid GeoJSON geometry ({str(exc)[:200]})"
        raise InputFormatError(msg) from exc
    if geom is None:
        raise InputFormatError("geometry: not a valid GeoJSON geometry")
    return geom


def _too_many(n: int, max_vertices: int) -> None:
    msg = (
        f"几何过大 / the site has about {n:,} vertices, more than the limit of {max_vertices:,}; "
        "simplify it (e.g. in QGIS) or ask the administrator to raise --max-vertices"
    )
    raise ApiError(422, "too_many_vertices", msg)


def _check_shape(geom: shapely.Geometry, *, max_vertices: int) -> None:
    n = int(shapely.get_num_coordinates(geom))
    if n > max_vertices:
        _too_many(n, max_vertices)
    if geom.is_empty:
        raise GeometryError("几何为空 / the site geometry is empty")
    if geom.geom_type not in (
        "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    ):  # fmt: skip
        msg = (
            f"geometry: a {geom.geom_type} is not a site; give a point, line or polygon "
            "(or their multi- forms)"
        )
        raise GeometryError(msg)
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise InputFormatError("geometry: coordinates must be finite numbers")


def _to_lonlat(
    geom: shapely.Geometry, req: CheckRequest, notes: list[Any], system: str
) -> shapely.Geometry:
    """The parsed geometry in WGS84 lon/lat, repaired (:func:`geo.io.lonlat.to_lonlat`)."""
    from geo.io.lonlat import to_lonlat

    res = to_lonlat(
        geom, crs=None if req.coords == "gk" else LONLAT, coords=system, zone=req.gk_zone,
        repair="structure", source="geometry",
        hint="for projected Gauss-Krüger coordinates choose coords='gk' with gk_zone (Beijing 39)",
    )  # fmt: skip
    if res.description:
        notes.append(f"坐标识别 / coordinates read as {res.description}")
    geom = res.geoms[0]
    if res.repaired[0]:
        reason = res.reasons[0]
        notes.append(  # a structured note (zoning.check.notes): kind "repair"
            {
                "kind": "repair",
                "text": f"选址几何无效（{reason}），已修复后检查；请核对修复后的范围",
                "text_en": f"the geometry was invalid ({reason}) and was repaired",
            }
        )
        if geom.is_empty:
            raise GeometryError("几何无效 / the geometry collapses to nothing when repaired")
    return geom


def is_single_point(req: CheckRequest) -> bool:
    """Whether a request's site is one point: a GeoJSON Point, or text of at most 3 numbers.

    The check of one point is bounded (a few ms); the web app runs it without a thread.
    """
    geom = req.geometry
    if geom is not None:
        if geom.get("type") == "Feature":
            geom = geom.get("geometry")
        return isinstance(geom, Mapping) and geom.get("type") == "Point"
    text = req.coordinates or ""
    return len(text) <= 200 and len(_NUMBER.findall(text)) <= 3


#: Sites larger than this (km²) need ``confirm_large`` (WebSettings.max_site_km2).
MAX_SITE_KM2 = 100.0


def site_from_request(
    req: CheckRequest, *, max_vertices: int, max_area_km2: float = MAX_SITE_KM2
) -> tuple[shapely.Geometry, list[str]]:
    """Turn a check request's geometry or coordinates into one WGS84 site.

    Parameters
    ----------
    req
        The request.
    max_vertices
        Most coordinates accepted.
    max_area_km2
        A larger site is refused with 409 ``large_site`` unless the request says
        ``confirm_large`` (a polygon drawn at city zoom is often a mistake).

    Returns
    -------
    (shapely geometry, list of str)
        The site in WGS84 lon/lat (checked as ``site_id`` "site" by
        :func:`check_site`; no GeoDataFrame: building one costs more than the check
        of a point), and notes for the user (swapped coordinates, repaired polygon,
        the detected system).

    Raises
    ------
    ApiError, InputFormatError, CRSDetectionError, GeometryError
        Missing or unreadable input, too many vertices, not a point/line/polygon.
    """
    from geo.io import parse_coordinates

    if (req.geometry is None) == (req.coordinates is None or not req.coordinates.strip()):
        msg = "give either 'geometry' (GeoJSON) or 'coordinates' (text), not both or neither"
        raise ApiError(422, "no_site", msg)
    if req.coords == "gk" and req.gk_zone is None:
        msg = "coords='gk' needs gk_zone, the 3° Gauss-Krüger zone (25–45; Beijing 39)"
        raise ApiError(422, "gk_zone_missing", msg)
    lonlat = req.coords if req.coords != "gk" else "wgs84"
    with capture_warnings() as notes:
        system = "wgs84"  # typed coordinates: parse_coordinates converts GCJ-02/BD-09
        if req.geometry is not None:
            geom = _geometry_from_geojson(req.geometry)
            _check_shape(geom, max_vertices=max_vertices)
            system = lonlat
        else:
            text = str(req.coordinates)
            numbers = len(_NUMBER.findall(text))
            if numbers > 3 * max_vertices + 16:  # refuse before parsing (x, y, maybe z)
                _too_many(numbers // 2, max_vertices)
            if req.coords == "gk":
                from geo.crs import gk_epsg

                crs = f"EPSG:{gk_epsg(zone=req.gk_zone)}"
                geom = parse_coordinates(text, crs=crs)
            else:
                geom = parse_coordinates(text, coords=lonlat)
            _check_shape(geom, max_vertices=max_vertices)
        geom = _to_lonlat(geom, req, notes, system)
    if geom.geom_type in ("Polygon", "MultiPolygon") and not req.confirm_large:
        km2 = abs(_GEOD.geometry_area_perimeter(geom)[0]) / 1e6
        if km2 > max_area_km2:
            msg = (
                f"场址面积约 {km2:,.1f} 平方千米，超过 {max_area_km2:g} 平方千米，请确认后再检查 / "
                f"the site covers about {km2:,.1f} km², more than {max_area_km2:g} km²; "
                "confirm to check it anyway (confirm_large)"
            )
            raise ApiError(409, "large_site", msg)
    return geom, notes


def make_project(req: CheckRequest) -> Project:
    """The :class:`zoning.project.Project` of a request (exits brought to WGS84)."""
    p = req.project
    exits: Any = p.exits
    if isinstance(exits, list):
        exits = [tuple(e) for e in exits]
    project = Project(
        name=p.name,
        project_type=p.project_type,
        industry_code=p.industry_code or None,
        flags=frozenset(p.flags),
        development=p.development,
        temporary_land_use=p.temporary_land_use,
        water_supply=p.water_supply,
        activity=p.activity,
        exits=exits or (),
    )
    if project.exits and req.coords in ("gcj02", "bd09"):
        from geo.chinacoords import convert_coords

        arr = np.asarray(project.exits, dtype="float64")
        lon, lat = convert_coords(arr[:, 0], arr[:, 1], src=req.coords, dst="wgs84")
        exits_ll = tuple((float(x), float(y)) for x, y in zip(lon, lat, strict=True))
        project = dataclasses.replace(project, exits=exits_ll)
    return project


def source_href(citation: Any) -> str | None:
    """The source page of a report citation (with its line), or None for an unknown source.

    Passed to :func:`zoning.report.build.render_html` as ``source_link`` by the web app; the
    pages are served by :mod:`ecozone.web.routes_pages`.
    """
    sid = citation.get("source_id") if hasattr(citation, "get") else None
    if not sid:
        return None
    lines = citation.get("lines") or []
    return f"/sources/{sid}" + (f"?line={int(lines[0])}#L{int(lines[0])}" if lines else "")


# --------------------------------------------------------------------------- check


def _site_geometry(site: gpd.GeoDataFrame | shapely.Geometry) -> shapely.Geometry:
    """The geometry of a site given as a geometry or a one-row GeoDataFrame (lon/lat)."""
    if isinstance(site, shapely.Geometry):
        return site
    return site.geometry.iloc[0]


def check_site(
    entry: PackEntry, site: shapely.Geometry | gpd.GeoDataFrame, project: Project
) -> tuple[Any, dict]:
    """Check one site and build its report (runs in a worker thread).

    Parameters
    ----------
    entry
        The pack's cache entry.
    site
        The site: a lon/lat geometry (checked as ``site_id`` "site"), or a one-row
        GeoDataFrame.
    project
        The project.

    Returns
    -------
    (CheckResult, dict)
        The result and the report dict of :func:`zoning.report.build.build_report`.

    Raises
    ------
    InputFormatError
        The site could not be checked (the reason comes from the checker).
    """
    from ecozone.workflows import check_and_report

    return check_and_report(entry.checker, site, project)


def site_report(result: Any, project: Project) -> dict[str, Any]:
    """The report dict of a single-site check result (:func:`ecozone.workflows.site_report_of`).

    Raises
    ------
    InputFormatError
        The site could not be checked (the reason comes from the checker).
    """
    from ecozone.workflows import site_report_of

    return site_report_of(result, project)


class PointBatcher:
    """Check the single points that arrive together in one engine pass.

    The check of one point costs about 1.3 ms, almost all of it per-call overhead of
    the vectorised engine; :meth:`zoning.check.engine.SiteChecker.check_each` checks 16
    points for about 0.26 ms each, each with exactly the result of its own check.
    Requests reach :meth:`check` in the same turn of the event loop when they were
    read together (under load: every request that came in while the previous pass
    ran); they are checked together at the next turn, at most ``max_batch`` at a
    time, per pack. A lone request waits one turn of the loop (microseconds).

    Runs in the event loop: only for points against a built checker (bounded work).

    Parameters
    ----------
    max_batch
        Most points checked in one pass (bounds how long the loop is busy).
    """

    def __init__(self, max_batch: int = 64) -> None:
        self.max_batch = max_batch
        self._pending: list[tuple[PackEntry, shapely.Geometry, Project, asyncio.Future[Any]]] = []
        self.passes = 0  # engine passes and points checked, for tests and benchmarks
        self.points = 0

    async def check(self, entry: PackEntry, site: shapely.Geometry, project: Project) -> Any:
        """Check ``site`` (a lon/lat point) with the next pass; return its CheckResult."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._run)
        self._pending.append((entry, site, project, done))
        return await done

    def _run(self) -> None:
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        if self._pending:  # the rest at the next turn: other work runs in between
            asyncio.get_running_loop().call_soon(self._run)
        by_pack: dict[int, list[tuple[Any, ...]]] = {}
        for item in batch:
            if not item[3].done():  # a cancelled request (client gone) is not checked
                by_pack.setdefault(id(item[0]), []).append(item)
        for items in by_pack.values():
            checker = items[0][0].checker
            try:
                results = checker.check_each(
                    [it[1] for it in items], projects=[it[2] for it in items]
                )
            except Exception as exc:  # each waiting request answers with it
                for it in items:
                    it[3].set_exception(exc)
                continue
            self.passes += 1
            self.points += len(items)
            for it, result in zip(items, results, strict=True):
                it[3].set_result(result)


def _page_order(kind: str) -> tuple[int, int]:
    """Drawing order of a kind on the page map (the registry's ``page_order``; unknown last)."""
    spec = KINDS.get(canonical_kind(kind))
    return (0, spec.style.page_order) if spec is not None else (1, 0)


def _window(geom: shapely.Geometry, radius_m: float) -> tuple[float, float, float, float]:
    """Lon/lat box ``radius_m`` metres (ellipsoidal) around a geometry's bounds."""
    x0, y0, x1, y1 = shapely.bounds(geom).tolist()
    ym, xm = (y0 + y1) / 2, (x0 + x1) / 2
    w, _, _ = _GEOD.fwd(x0, ym, 270, radius_m)
    e, _, _ = _GEOD.fwd(x1, ym, 90, radius_m)
    _, s, _ = _GEOD.fwd(xm, y0, 180, radius_m)
    _, n, _ = _GEOD.fwd(xm, y1, 0, radius_m)
    return float(w), float(s), float(e), float(n)


def _round(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, 6))  # ~0.1 m: display only


def nearby_frames(
    entry: PackEntry, geom: shapely.Geometry, *, radius_m: float
) -> tuple[dict[str, gpd.GeoDataFrame], tuple[float, float, float, float]]:
    """Layer features within ``radius_m`` of the site (display only).

    Features are clipped to a window three times as wide, so that the cut edges lie
    outside the view the page opens with, and large polygons stay small.
    """
    window = _window(geom, radius_m)
    clip = _window(geom, 3 * radius_m + 1000)
    box = shapely.box(*window)
    out: dict[str, gpd.GeoDataFrame] = {}
    for kind in sorted(entry.frames, key=_page_order):
        frame = entry.frames[kind]
        idx = np.sort(frame.sindex.query(box, predicate="intersects"))
        if not len(idx):
            continue
        sub = frame.iloc[idx[:_MAX_PER_LAYER]]
        clipped = shapely.clip_by_rect(sub.geometry.to_numpy(), *clip)
        keep = ~shapely.is_empty(clipped)
        out[kind] = gpd.GeoDataFrame(
            sub[keep].drop(columns="geometry"), geometry=clipped[keep], crs=LONLAT
        )
        out[kind].attrs["truncated"] = len(idx) > _MAX_PER_LAYER
    return out, window


def _style(style: Any, lang: str, label: str | None = None) -> dict[str, Any]:
    return {
        "label": label or style.label(lang),
        "color": style.color,
        "fill": style.fill,
        "fill_opacity": style.fill_opacity,
        "weight": style.weight,
        "dash": style.dash,
        "radius": style.radius,
    }


def nearby_features(
    entry: PackEntry,
    report: Mapping[str, Any],
    site: gpd.GeoDataFrame | shapely.Geometry,
    *,
    radius_m: float,
    lang: str,
) -> dict[str, Any]:
    """The page map: the site and the layer features around it as GeoJSON.

    Returns
    -------
    dict
        ``{"window": [w, s, e, n], "site": Feature, "layers": [{"kind", "style",
        "truncated", "features": FeatureCollection}]}``; features named in a finding
        carry ``"hit": true``.
    """
    from maps.style import VERDICT_STYLES, layer_style

    geom = _site_geometry(site)
    frames, window = nearby_frames(entry, geom, radius_m=radius_m)
    hits = {fid for f in report.get("findings", []) for fid in (f.get("feature_ids") or [])}
    layers = []
    for kind, gdf in frames.items():
        geoms = _round(gdf.geometry.to_numpy())
        texts = shapely.to_geojson(geoms)
        feats = []
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        for i, row in enumerate(gdf[cols].itertuples(index=False, name=None)):
            props = {
                c: (None if v is None or v != v else str(v)) for c, v in zip(cols, row, strict=True)
            }
            props["hit"] = props.get("feature_id") in hits
            feats.append({"type": "Feature", "geometry": json.loads(texts[i]), "properties": props})
        layers.append(
            {
                "kind": kind,
                "style": _style(layer_style(kind), lang, entry.pack.kind_label(kind, lang)),
                "truncated": bool(gdf.attrs.get("truncated")),
                "features": {"type": "FeatureCollection", "features": feats},
            }
        )
    verdict = report["verdict"]["code"]
    vstyle = VERDICT_STYLES.get(verdict)
    site_feature = {
        "type": "Feature",
        "geometry": json.loads(shapely.to_geojson(_round(np.asarray([geom]))[0])),
        "properties": {
            "verdict": verdict,
            "style": _style(vstyle, lang) if vstyle is not None else None,
        },
    }
    return {"window": list(window), "site": site_feature, "layers": layers}


# --------------------------------------------------------------------------- downloads


def report_map_png(
    entry: PackEntry,
    result: Any,
    site: gpd.GeoDataFrame | shapely.Geometry,
    *,
    radius_m: float,
    lang: str,
) -> bytes | None:
    """The site map for HTML/DOCX/PDF reports (print map of the site and its surroundings)."""
    from maps.printmap import print_map_bytes

    frames, window = nearby_frames(entry, _site_geometry(site), radius_m=radius_m)
    title = "场址位置图" if lang == "zh" else "Site location"
    return print_map_bytes(
        {k: v for k, v in frames.items() if k not in ("control_unit",)},
        title=title,
        sites=result.sites,
        extent=window,
        lang=lang,
        dpi=110,
        figsize=(8.0, 6.0),
    )


def render_report(report: Mapping[str, Any], fmt: str, *, map_png: bytes | None) -> bytes:
    """Render a report dict as ``fmt`` ("html", "docx", "pdf", "json") and return the bytes.

    Raises
    ------
    ApiError
        501 when PDF is asked for and no PDF engine is installed.
    """
    from zoning.report.build import find_pdf_engine, render_html, write_docx, write_reports

    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
    if fmt == "html":
        # citations link to the source pages (routes_pages)
        return render_html(report, map_png=map_png, source_link=source_href).encode("utf-8")
    with tempfile.TemporaryDirectory(prefix="ecozone-report-") as tmp:
        if fmt == "docx":
            return write_docx(report, Path(tmp) / "report.docx", map_png=map_png).read_bytes()
        if find_pdf_engine() is None:
            msg = (
                "没有 PDF 引擎 / no PDF engine on the server: install Debian 'chromium' "
                "(scripts/system-deps.sh); download HTML or DOCX instead"
            )
            raise ApiError(501, "no_pdf_engine", msg)
        written = write_reports(report, tmp, formats=("pdf",), map_png=map_png)
        return Path(written["pdf"]).read_bytes()


# --------------------------------------------------------------------------- context map

_CONTEXT_KINDS = kinds_in_view("context")  # the registry says which kinds, in what order
_CONTEXT_MAX = 3000


def _context_geojson(entry: PackEntry) -> list[dict[str, Any]]:
    """The pack's jurisdiction and its main layers, simplified for display (cached)."""
    from maps.style import auto_tolerance_m, display_metric_crs, simplify_for_display

    frames = entry.frames
    from zoning.jurisdiction import jurisdiction_codes

    codes = jurisdiction_codes(entry.pack)
    area = None
    out: list[dict[str, Any]] = []
    if "boundary" in frames and codes:
        b = frames["boundary"]
        if "adcode" in b:
            from zoning.workflow import jurisdiction_districts, jurisdiction_rows

            own = jurisdiction_rows(entry.pack, b)
            districts = jurisdiction_districts(entry.pack, b)
            area = own if len(own) else None
            shown = pd.concat([own, districts[~districts.index.isin(own.index)]])
            frames = {
                **frames,
                "boundary": gpd.GeoDataFrame(shown, geometry="geometry", crs=LONLAT),
            }
    bounds = tuple(area.total_bounds) if area is not None else None
    for kind in _CONTEXT_KINDS:
        gdf = frames.get(kind)
        if gdf is None or not len(gdf):
            continue
        if bounds is not None and kind != "boundary":
            gdf = gdf.iloc[np.sort(gdf.sindex.query(shapely.box(*bounds)))]
        truncated = len(gdf) > _CONTEXT_MAX
        gdf = gdf.iloc[:_CONTEXT_MAX]
        if not len(gdf):
            continue
        lb = tuple(gdf.total_bounds)
        metric = display_metric_crs(lb)
        proj_bounds = gpd.GeoSeries([shapely.box(*lb)], crs=LONLAT).to_crs(metric).total_bounds
        tol = max(auto_tolerance_m(proj_bounds), 5.0)
        shown = simplify_for_display(gdf[["feature_id", "name", "geometry"]], metric, tol)
        geoms = _round(shown.to_crs(LONLAT).geometry.to_numpy())
        texts = shapely.to_geojson(geoms)
        feats = [
            {
                "type": "Feature",
                "geometry": json.loads(texts[i]),
                "properties": {"feature_id": str(fid), "name": str(nm), "kind": kind},
            }
            for i, (fid, nm) in enumerate(zip(gdf["feature_id"], gdf["name"], strict=True))
            if texts[i] is not None
        ]
        out.append({"kind": kind, "truncated": truncated,
                    "features": {"type": "FeatureCollection", "features": feats}})  # fmt: skip
    return out


def context_layers(entry: PackEntry, *, lang: str) -> dict[str, Any]:
    """The page map's background: jurisdiction, districts and main layers of the pack.

    Returns
    -------
    dict
        ``{"pack", "bounds": [w, s, e, n] or None, "layers": [{"kind", "style",
        "truncated", "features"}]}``.
    """
    from maps.style import layer_style

    if entry.context is None:
        entry.context = _context_geojson(entry)
    layers = [
        {**item, "style": _style(layer_style(kind), lang, entry.pack.kind_label(kind, lang))}
        for item in entry.context
        for kind in [item["kind"]]
    ]
    bounds = None
    for item in entry.context:
        if item["kind"] == "boundary" and item["features"]["features"]:
            fc = item["features"]
            geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in fc["features"]])
            bounds = [float(v) for v in shapely.total_bounds(geoms)]
    return {"pack": entry.name, "bounds": bounds, "layers": layers}
