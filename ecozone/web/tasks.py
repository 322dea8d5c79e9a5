"""The heavy work of the web app, as functions a worker process runs.

Each function takes only picklable arguments (names, paths, the request model,
numbers) and returns a picklable answer, so :class:`ecozone.web.workers.WorkerPool`
can run it in a process that it kills when its time is up. The functions find the
store and the pack's checker with :func:`ecozone.web.workers.worker_packs` (the
worker's own, or the server's when the app runs without worker processes).

Before the engine runs, a polygon's cost is estimated (:func:`check_cost`): the
(part, feature) pairs whose boxes meet, weighted by the part's vertices. A site
above ``max_cost`` is refused with 422 at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely

from ecozone.web.checks import (
    check_site,
    make_project,
    nearby_features,
    render_report,
    report_map_png,
    site_from_request,
)
from ecozone.web.errors import ApiError
from ecozone.web.runner import capture_warnings
from ecozone.web.uploads import scrub_paths
from ecozone.web.workers import child_programs_unbounded, worker_packs
from geo.errors import EcozoneError, GeometryError, InputFormatError

__all__ = [
    "batch_task",
    "check_cost",
    "check_notes",
    "check_task",
    "parse_task",
    "read_layer_task",
    "read_upload",
    "report_task",
]


def check_notes(entry: Any, result: Any, notes: list[str]) -> list[str]:
    """The notes of a check answer: the reading notes, the pack's, skipped rules."""
    out = [*notes, *entry.notes]
    skipped = result.stamp.get("skipped_rules") or []
    if skipped:
        out.append(
            "缺少图层，以下规则数据不足（无法判定）/ layers missing, these rules cannot be "
            "judged (insufficient data): " + ", ".join(map(str, skipped))
        )
    return out


def check_cost(entry: Any, geom: shapely.Geometry, *, max_cost: int) -> int:
    """Estimate the engine's work for ``geom`` and refuse it when above ``max_cost``.

    The cost is the sum, over every (part, layer feature) pair whose bounding boxes
    meet, of the part's vertices plus one: what the engine's part-by-part overlays
    and predicates touch.

    Raises
    ------
    ApiError
        422 ``too_costly`` naming the parts, vertices and pairs.
    """
    parts = shapely.get_parts(geom)
    nv = shapely.get_num_coordinates(parts)
    cost = int(nv.sum())
    pairs = 0
    for frame in entry.frames.values():
        if len(frame) == 0:
            continue
        qi, _ = frame.sindex.query(parts)
        pairs += len(qi)
        cost += int(np.sum(nv[qi] + 1))
        if cost > max_cost:
            break
    if cost > max_cost:
        msg = (
            f"场址过于复杂 / the site ({len(parts):,} parts, {int(nv.sum()):,} vertices) meets "
            f"layer features in at least {pairs:,} places: its check would cost about "
            f"{cost:,} units, more than the limit of {max_cost:,}; check fewer or simpler "
            "parts at a time, or use the batch check"
        )
        raise ApiError(422, "too_costly", msg)
    return cost


def _checked(pack: str, body: Any, max_vertices: int, max_cost: int) -> tuple[Any, ...]:
    site, notes = site_from_request(body, max_vertices=max_vertices)
    project = make_project(body)
    entry = worker_packs().get(pack)
    check_cost(entry, site, max_cost=max_cost)
    result, report = check_site(entry, site, project)
    report["notes"] = [*report.get("notes", []), *check_notes(entry, result, notes)]
    return entry, site, result, report


def check_task(
    pack: str, body: Any, max_vertices: int, max_cost: int, nearby_m: float, include_map: bool
) -> dict[str, Any]:
    """``POST /api/check`` for a site that is not one point: the report dict."""
    entry, site, _, report = _checked(pack, body, max_vertices, max_cost)
    if include_map:
        report["map"] = nearby_features(entry, report, site, radius_m=nearby_m, lang=body.lang)
    return report


def report_task(
    pack: str, body: Any, max_vertices: int, max_cost: int, nearby_m: float, fmt: str
) -> bytes:
    """``POST /api/check/report``: check the site and render the report file."""
    entry, site, result, report = _checked(pack, body, max_vertices, max_cost)
    report["lang"] = body.lang  # one language per document: the page's
    png = None
    if fmt != "json":
        png = report_map_png(entry, result, site, radius_m=nearby_m, lang=body.lang)
    if fmt == "pdf":
        with child_programs_unbounded():  # Chromium does not start under the limit
            return render_report(report, fmt, map_png=png)
    return render_report(report, fmt, map_png=png)


def read_upload(
    path: Path,
    options: dict[str, Any],
    folder: Path,
    label: str,
    *,
    max_vertices: int | None = None,
) -> tuple[Any, list[str]]:
    """Read a vetted upload with geo.io.read_vector (DXF needs a CRS: from the options).

    ``max_vertices`` stops a DXF's block expansion as soon as it passes the limit.
    """
    from geo.crs import gk_epsg
    from geo.io import read_vector

    opts = dict(options)
    if path.suffix == ".dxf":
        zone = opts.pop("zone", None)
        coords = opts.pop("coords", "wgs84")
        if coords in ("gcj02", "bd09"):
            msg = f"{label}: DXF drawings are read as WGS84 or Gauss-Krüger, not {coords}"
            raise ApiError(422, "invalid_request", msg)
        opts["crs"] = f"EPSG:{gk_epsg(zone=zone)}" if zone is not None else "EPSG:4326"
        if max_vertices is not None:
            opts["max_vertices"] = max_vertices
    try:
        with capture_warnings() as notes:
            gdf = read_vector(path, **opts)
            if path.suffix == ".dxf" and "zone" in options and len(gdf):
                if float(gdf.total_bounds[0]) > 10_000_000:  # eastings carry the zone prefix
                    prefixed = gk_epsg(zone=options["zone"], prefixed=True)
                    gdf = gdf.set_crs(prefixed, allow_override=True)
    except EcozoneError as exc:
        exc.args = (scrub_paths(str(exc), folder, label),)
        raise
    issues = gdf.attrs.get("issues", [])
    if len(gdf) == 0:
        reasons = "; ".join(str(i.get("reason", "")) for i in issues[:5])
        msg = f"{label}: 没有可用的要素 / no usable feature in the file" + (
            f" ({scrub_paths(reasons, folder, label)})" if reasons else ""
        )
        raise InputFormatError(msg)
    return gdf, [scrub_paths(n, folder, label) for n in notes]


def _scrubbed_issues(gdf: Any, folder: Path, label: str) -> list[dict[str, Any]]:
    return [
        {**i, "source": label, "reason": scrub_paths(str(i.get("reason", "")), folder, label)}
        for i in gdf.attrs.get("issues", [])
    ]


def parse_task(
    path: Path, options: dict[str, Any], folder: Path, label: str, max_vertices: int
) -> dict[str, Any]:
    """``POST /api/parse``: the file's features as one WGS84 geometry."""
    from ecozone.web.coverage_view import json_safe

    gdf, notes = read_upload(path, options, folder, label, max_vertices=max_vertices)
    geoms = gdf.to_crs("EPSG:4326").geometry.to_numpy()
    n = int(shapely.get_num_coordinates(geoms).sum())
    if n > max_vertices:
        msg = (
            f"{label}: 几何过大 / the file holds {n:,} vertices, more than the limit "
            f"of {max_vertices:,}; use the batch check for many sites"
        )
        raise ApiError(422, "too_many_vertices", msg)
    geom = shapely.union_all(geoms[~shapely.is_missing(geoms)])
    if geom.geom_type == "GeometryCollection":
        msg = (
            f"{label}: the file mixes points, lines and polygons; upload one kind, "
            "or use the batch check for separate sites"
        )
        raise GeometryError(msg)
    return {
        "geometry": json_safe(shapely.geometry.mapping(geom)),
        "features": len(gdf),
        "issues": json_safe(_scrubbed_issues(gdf, folder, label)),
        "notes": notes,
        "file": label,
    }


def batch_task(
    pack: str,
    path: Path,
    folder: Path,
    fmt: str,
    options: dict[str, Any],
    label: str,
    output: str,
) -> tuple[Any, str]:
    """``POST /api/check/batch``: every site of the file checked, results packed."""
    from ecozone.web.batch import run_batch_file

    entry = worker_packs().get(pack)
    try:
        return run_batch_file(
            entry, path, folder, fmt=fmt, read_options=options, label=label, output=output
        )
    except EcozoneError as exc:
        exc.args = (scrub_paths(str(exc), folder, label),)
        raise


def read_layer_task(
    path: Path, options: dict[str, Any], folder: Path, label: str, max_vertices: int
) -> tuple[Any, list[dict[str, Any]]]:
    """Read a layer file for ``POST /api/layers/{name}`` (the import runs in the server)."""
    gdf, notes = read_upload(path, options, folder, label, max_vertices=max_vertices)
    issues = _scrubbed_issues(gdf, folder, label)
    reasons = {str(i.get("reason")) for i in issues}
    issues += [
        {"source": label, "row": None, "action": "note", "reason": n}
        for n in notes
        if n not in reasons
    ]
    return gdf, issues
