"""The REST API (``/api``): checks, batch checks, layers, audit log and coverage.

Reading is open. ``POST /api/layers/{name}`` needs ``Authorization: Bearer <token>``
matching one of the server's ``$ECOZONE_API_TOKEN`` tokens (compared in constant
time); without a configured token imports are disabled (403). Every import attempt
is written to the audit log (``GET /api/audit``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from ecozone.web.batch import run_batch_file
from ecozone.web.checks import (
    MEDIA,
    check_pack_name,
    check_site,
    context_layers,
    is_single_point,
    make_project,
    nearby_features,
    pack_names,
    render_report,
    report_map_png,
    site_from_request,
    site_report,
)
from ecozone.web.coverage_view import json_safe
from ecozone.web.errors import ApiError
from ecozone.web.runner import capture_warnings
from ecozone.web.schemas import COORD_SYSTEMS, CheckRequest
from ecozone.web.uploads import display_name, save_upload, scrub_paths, upload_dir
from geo.errors import EcozoneError, GeometryError, InputFormatError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["api"])

__all__ = ["router"]

Coords = Literal["wgs84", "cgcs2000", "gcj02", "bd09", "gk"]
_ERRORS = {
    413: {"description": "Request body or upload larger than the limit"},
    422: {"description": "Input that cannot be used; the message says why"},
    504: {"description": "The work passed the time limit"},
}
_LAYER_FIELDS = (
    "name", "kind", "label_zh", "label_en", "version", "row_count", "synthetic", "source",
    "source_date", "created_at", "checksum", "crs", "source_crs",
)  # fmt: skip


def _json(obj: Any, status: int = 200) -> Response:
    """A JSON response without FastAPI's re-validation of large dicts (NaN → null)."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (ValueError, TypeError):
        text = json.dumps(json_safe(obj), ensure_ascii=False, separators=(",", ":"), default=str)
    return Response(text.encode("utf-8"), status_code=status, media_type="application/json")


def _state(request: Request) -> Any:
    return request.app.state


def _pack_or_default(request: Request, pack: str | None) -> str:
    return check_pack_name(pack or _state(request).settings.default_pack)


# --------------------------------------------------------------------------- info


@router.get("/health", summary="Service status")
def health(request: Request) -> dict[str, Any]:
    """Version, store file name and number of layers."""
    from ecozone import __version__

    store = _state(request).store
    return {
        "status": "ok",
        "version": __version__,
        "store": Path(store.path).name,
        "layers": len(store.list_layers()),
    }


@router.get("/packs", summary="Installed rule packs")
def packs(request: Request) -> list[dict[str, Any]]:
    """Rule packs (jurisdictions) the check and coverage endpoints accept."""
    default = _state(request).settings.default_pack
    return [
        {"name": n, "title": zh, "title_en": en, "default": n == default}
        for n, (zh, en) in sorted(pack_names().items())
    ]


@router.get(
    "/map/context", summary="Background layers of a pack for a map", response_class=JSONResponse
)
async def map_context(
    request: Request,
    pack: Annotated[str, Query(max_length=40)] = "beijing",
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> Response:
    """The pack's jurisdiction, districts and main layers as GeoJSON, simplified for display."""
    st = _state(request)
    name = check_pack_name(pack)

    def work() -> dict[str, Any]:
        return context_layers(st.packs.get(name), lang=lang)

    data = await st.runner.run(work, timeout=st.settings.time_limit_s, what="the map layers")
    return _json(data)


# --------------------------------------------------------------------------- checks


async def _checked(request: Request, body: CheckRequest) -> tuple[Any, Any, Any, Any, list[str]]:
    """Parse, then check (in the pool, or with the point batcher).

    Returns (entry, site (lon/lat shapely geometry), project, (result, report), notes).
    """
    st = _state(request)
    settings = st.settings
    pack = _pack_or_default(request, body.pack)
    ready = st.packs.ready(pack)

    def parse() -> tuple[Any, list[str], Any]:
        # may wait for the warnings lock: in a thread, the event loop never does
        site, notes = site_from_request(body, max_vertices=settings.max_vertices)
        return site, notes, make_project(body)

    if ready is not None and is_single_point(body):
        # one point against a built checker: bounded work, no thread; the points that
        # come in together are checked in one engine pass (PointBatcher)
        site, notes, project = await st.runner.run_quick(
            parse, timeout=settings.time_limit_s, what="reading the site", inline=True
        )
        entry = ready
        if site.geom_type == "Point":
            result = await st.batcher.check(entry, site, project)
            checked = (result, site_report(result, project))
        else:  # (pasted text of a few numbers that is not a point)
            checked = await st.runner.run_quick(
                check_site, entry, site, project, timeout=settings.time_limit_s,
                what="the site check",
            )  # fmt: skip
    else:

        def work() -> tuple[Any, Any, Any, tuple[Any, Any], list[str]]:
            site, notes, project = parse()
            entry = st.packs.get(pack)
            return entry, site, project, check_site(entry, site, project), notes

        # short and CPU-bound: one at a time per worker process (see Runner.run_quick)
        entry, site, project, checked, notes = await st.runner.run_quick(
            work, timeout=settings.time_limit_s, what="the site check"
        )
    notes = [*notes, *entry.notes]
    skipped = checked[0].stamp.get("skipped_rules") or []
    if skipped:
        notes.append(
            "缺少图层，以下规则未检查 / layers missing, these rules were not checked: "
            + ", ".join(map(str, skipped))
        )
    return entry, site, project, checked, notes


@router.post(
    "/check",
    summary="Check one site",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "The report (schema ecozone.report/1)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **_ERRORS,
    },
)
async def check(
    request: Request,
    body: CheckRequest,
    include_map: Annotated[
        bool, Query(description="Add 'map': the site and nearby layer features as GeoJSON")
    ] = False,
) -> Response:
    """Check a site (GeoJSON geometry, or coordinates text in a chosen system) against a pack.

    Returns the compliance report (``zoning.report.build_report``, schema
    ``ecozone.report/1``) with ``notes`` (swapped or repaired input, rules skipped
    for missing layers) and, with ``include_map=true``, ``map``.
    """
    st = _state(request)
    entry, site, _, (_, report), notes = await _checked(request, body)
    report["notes"] = notes
    if include_map:

        def near() -> dict[str, Any]:
            return nearby_features(
                entry, report, site, radius_m=st.settings.nearby_m, lang=body.lang
            )

        report["map"] = await st.runner.run(near, timeout=st.settings.time_limit_s, what="the map")
    return _json(report)


@router.post(
    "/check/report",
    summary="Check one site and download the report",
    response_class=Response,
    responses={
        200: {
            "description": "The report file",
            "content": {m.split(";")[0]: {} for m in MEDIA.values()},
        },
        **_ERRORS,
    },
)
async def check_report(
    request: Request,
    body: CheckRequest,
    format: Annotated[Literal["html", "docx", "pdf", "json"], Query()] = "html",
) -> Response:
    """As ``POST /api/check``, answered with the report as an HTML, DOCX, PDF or JSON file."""
    st = _state(request)
    entry, site, _, (result, report), notes = await _checked(request, body)
    report["notes"] = notes
    lang = body.lang

    def render() -> bytes:
        png = None
        if format != "json":
            png = report_map_png(entry, result, site, radius_m=st.settings.nearby_m, lang=lang)
        return render_report(report, format, map_png=png)

    data = await st.runner.run(render, timeout=st.settings.time_limit_s, what="the report")
    filename = f"ecozone-report.{format}"
    return Response(
        data,
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _read_options(coords: str, gk_zone: int | None) -> dict[str, Any]:
    if coords not in COORD_SYSTEMS:
        msg = f"coords {coords[:20]!r}: choose one of {', '.join(COORD_SYSTEMS)}"
        raise ApiError(422, "invalid_request", msg)
    if coords == "gk":
        if gk_zone is None:
            msg = "coords='gk' needs gk_zone, the 3° Gauss-Krüger zone (25–45; Beijing 39)"
            raise ApiError(422, "gk_zone_missing", msg)
        return {"zone": gk_zone}
    return {"coords": coords}


def _read_upload(
    path: Path, options: dict[str, Any], folder: Path, label: str
) -> tuple[Any, list[str]]:
    """Read a vetted upload with geo.io.read_vector (DXF needs a CRS: from the options)."""
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


async def _vetted(request: Request, file: UploadFile, folder: Path) -> Path:
    s = _state(request).settings
    return await save_upload(
        file,
        folder,
        max_bytes=s.max_upload_bytes,
        max_unzipped_bytes=s.max_unzipped_bytes,
        max_zip_ratio=s.max_zip_ratio,
        max_zip_members=s.max_zip_members,
    )


@router.post("/parse", summary="Read a site file into one geometry", responses=_ERRORS)
async def parse_site_file(
    request: Request,
    file: Annotated[
        UploadFile, File(description="GeoJSON, zipped shapefile, KML/KMZ, CSV/XLSX, DXF")
    ],
    coords: Annotated[Coords, Form()] = "wgs84",
    gk_zone: Annotated[int | None, Form(ge=25, le=45)] = None,
) -> dict[str, Any]:
    """Read an uploaded site file; its features together are the site (WGS84 GeoJSON).

    Answers ``geometry`` (to send to ``POST /api/check``), ``features`` (count),
    ``issues`` (rows rejected or repaired) and ``notes``.
    """
    import shapely

    st = _state(request)
    label = display_name(file.filename)
    options = _read_options(coords, gk_zone)
    with upload_dir() as folder:
        path = await _vetted(request, file, folder)

        def work() -> dict[str, Any]:
            gdf, notes = _read_upload(path, options, folder, label)
            geoms = gdf.to_crs("EPSG:4326").geometry.to_numpy()
            n = int(shapely.get_num_coordinates(geoms).sum())
            if n > st.settings.max_vertices:
                msg = (
                    f"{label}: 几何过大 / the file holds {n:,} vertices, more than the limit "
                    f"of {st.settings.max_vertices:,}; use the batch check for many sites"
                )
                raise ApiError(422, "too_many_vertices", msg)
            geom = shapely.union_all(geoms[~shapely.is_missing(geoms)])
            if geom.geom_type == "GeometryCollection":
                msg = (
                    f"{label}: the file mixes points, lines and polygons; upload one kind, "
                    "or use the batch check for separate sites"
                )
                raise GeometryError(msg)
            issues = [
                {
                    **i,
                    "source": label,
                    "reason": scrub_paths(str(i.get("reason", "")), folder, label),
                }
                for i in gdf.attrs.get("issues", [])
            ]
            return {
                "geometry": json_safe(shapely.geometry.mapping(geom)),
                "features": len(gdf),
                "issues": json_safe(issues),
                "notes": notes,
                "file": label,
            }

        return await st.runner.run(work, timeout=st.settings.time_limit_s, what="reading the file")


@router.post(
    "/check/batch",
    summary="Check every site of a file",
    responses={
        200: {
            "description": "JSON summary, error rows and the results file (base64), or a zip",
            "content": {"application/json": {}, "application/zip": {}},
        },
        **_ERRORS,
    },
)
async def check_batch(
    request: Request,
    file: Annotated[UploadFile, File(description="CSV/XLSX of sites, or another site format")],
    pack: Annotated[str, Form(max_length=40)] = "beijing",
    coords: Annotated[Coords, Form()] = "wgs84",
    gk_zone: Annotated[int | None, Form(ge=25, le=45)] = None,
    format: Annotated[Literal["csv", "gpkg"], Form()] = "csv",
    output: Annotated[Literal["json", "zip"], Form()] = "json",
) -> Any:
    """Check every row/feature of an uploaded file (project columns per row are read).

    Rows that cannot be read or checked are listed in ``errors`` (and ``errors.csv``),
    the rest are checked. CSV outputs are safe to open in Excel/WPS: text starting
    with = + - @ is prefixed with ``'``.
    """
    st = _state(request)
    name = check_pack_name(pack)
    label = display_name(file.filename)
    options = _read_options(coords, gk_zone)
    with upload_dir() as folder:
        path = await _vetted(request, file, folder)

        def work() -> tuple[Any, str]:
            entry = st.packs.get(name)
            try:
                return run_batch_file(
                    entry, path, folder, fmt=format, read_options=options, label=label,
                    output=output,
                )  # fmt: skip
            except EcozoneError as exc:
                exc.args = (scrub_paths(str(exc), folder, label),)
                raise

        answer, _ = await st.runner.run(
            work, timeout=st.settings.batch_time_limit_s, what="the batch check"
        )
    if output == "zip":
        return Response(
            answer,
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="ecozone-batch.zip"'},
        )
    return answer


# --------------------------------------------------------------------------- layers


def _layer_records(df: Any) -> list[dict[str, Any]]:
    cols = [c for c in _LAYER_FIELDS if c in df.columns]
    return json_safe(df[cols].to_dict(orient="records"))


@router.get("/layers", summary="Layers in the store (latest versions)")
def list_layers(request: Request) -> list[dict[str, Any]]:
    """Every layer's latest version with its provenance (source, date, checksum, synthetic)."""
    return _layer_records(_state(request).store.list_layers())


@router.get(
    "/layers/{name}/history",
    summary="Every version of one layer",
    responses={404: {"description": "No such layer"}},
)
def layer_history(request: Request, name: str) -> list[dict[str, Any]]:
    """All versions of layer ``name``, oldest first."""
    if len(name) > 64:
        raise ApiError(404, "not_found", "no such layer (layer names have at most 48 characters)")
    return _layer_records(_state(request).store.history(name))


@router.get("/audit", summary="Import audit log")
def audit(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Who imported what and when (newest first), refused attempts included."""
    return _state(request).audit.read(limit=limit)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _authorise(request: Request, name: str) -> str:
    """The token holder's name, or raise 403/401 (recording the refusal)."""
    st = _state(request)
    tokens = st.settings.tokens()
    if not tokens:
        msg = (
            "导入已停用 / imports are disabled: the server has no API token. Start it with "
            "ECOZONE_API_TOKEN=<secret> set in its environment to allow imports"
        )
        raise ApiError(403, "imports_disabled", msg)
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    holder = None
    if scheme.lower() == "bearer" and given.strip():
        given_b = given.strip().encode("utf-8", "replace")
        for token, who in tokens.items():  # compare with every token: constant time each
            if hmac.compare_digest(token.encode("utf-8"), given_b):
                holder = who
    if holder is None:
        st.audit.record(
            action="import", outcome="denied", who="anonymous", client=_client(request),
            layer=name[:64], message="missing or invalid bearer token",
        )  # fmt: skip
        raise ApiError(
            401,
            "unauthorised",
            "需要有效的 API 令牌 / a valid API token is needed: "
            "send 'Authorization: Bearer <token>'",
        )
    return holder


async def _import_form(
    request: Request, name: str, form: Any, event: dict[str, Any]
) -> tuple[Any, list[dict[str, Any]]]:
    """Validate the import form, read the file and import it (in the pool)."""
    from layers import LAYER_KINDS

    st = _state(request)
    upload = form.get("file")
    kind = str(form.get("kind") or "")
    source = str(form.get("source") or "").strip()
    source_date = str(form.get("source_date") or "").strip() or None
    coords = str(form.get("coords") or "wgs84")
    zone_text = str(form.get("gk_zone") or "").strip()
    event.update(kind=kind[:40], source=source[:500])
    if upload is None or isinstance(upload, str):
        raise ApiError(422, "invalid_request", "file: attach the layer file as 'file'")
    if kind not in LAYER_KINDS:
        msg = f"kind {kind[:40]!r}: choose one of {', '.join(LAYER_KINDS)}"
        raise ApiError(422, "invalid_request", msg)
    if not source or len(source) > 500:
        msg = "source: name the document or file the layer comes from (at most 500 characters)"
        raise ApiError(422, "invalid_request", msg)
    if zone_text and not (zone_text.isdigit() and 25 <= int(zone_text) <= 45):
        raise ApiError(422, "invalid_request", "gk_zone: a 3° zone number 25–45")
    options = _read_options(coords, int(zone_text) if zone_text else None)
    label = display_name(getattr(upload, "filename", None))
    event["file"] = label
    with upload_dir() as folder:
        path = await _vetted(request, upload, folder)
        event["file_bytes"] = path.stat().st_size
        event["file_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()

        def work() -> tuple[Any, list[dict[str, Any]]]:
            gdf, _ = _read_upload(path, options, folder, label)
            try:
                layer = st.store.import_layer(
                    gdf, name=name, kind=kind, source=source, source_date=source_date
                )
            except EcozoneError as exc:
                exc.args = (scrub_paths(str(exc), folder, label),)
                raise
            return layer, gdf.attrs.get("issues", [])

        # an import commits atomically and is not cut off: its limit is the batch one
        return await st.runner.run(work, timeout=st.settings.batch_time_limit_s, what="the import")


@router.post(
    "/layers/{name}",
    summary="Import a new version of a layer (needs the API token)",
    status_code=201,
    responses={
        401: {"description": "Missing or wrong token"},
        403: {"description": "Imports are disabled (no token configured)"},
        **_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "kind", "source"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "kind": {"type": "string", "description": "layers.LAYER_KINDS"},
                            "source": {"type": "string", "maxLength": 500},
                            "source_date": {"type": "string", "description": "YYYY[-MM[-DD]]"},
                            "coords": {"type": "string", "enum": list(COORD_SYSTEMS)},
                            "gk_zone": {"type": "integer", "minimum": 25, "maximum": 45},
                        },
                    }
                }
            },
        }
    },
)
async def import_layer(request: Request, name: str) -> JSONResponse:
    """Validate an uploaded file and store it as the next version of layer ``name``.

    The token is checked before the body is read. The import is recorded in the
    audit log with the token holder's name, the client, the file and the outcome.
    """
    from layers import check_layer_name

    st = _state(request)
    who = _authorise(request, name)
    client = _client(request)
    event: dict[str, Any] = {"action": "import", "who": who, "client": client, "layer": name[:64]}
    try:
        check_layer_name(name)
        async with request.form(max_files=1, max_fields=10) as form:
            layer, issues = await _import_form(request, name, form, event)
    except (ApiError, EcozoneError) as exc:
        event.update(outcome="rejected", message=str(exc)[:500])
        st.audit.record(**event)
        raise
    st.packs.invalidate()
    st.coverage.invalidate()
    info = {
        "name": layer.name, "kind": layer.kind, "version": layer.version,
        "row_count": layer.row_count, "checksum": layer.checksum, "source": layer.source,
        "source_date": layer.source_date, "created_at": layer.created_at.isoformat(),
    }  # fmt: skip
    st.audit.record(**event, outcome="ok", version=layer.version, rows=layer.row_count,
                    checksum=layer.checksum)  # fmt: skip
    return JSONResponse({"layer": info, "issues": json_safe(issues)}, status_code=201)


# --------------------------------------------------------------------------- coverage


@router.get("/coverage", summary="Coverage metrics of a jurisdiction against its targets")
async def coverage(
    request: Request,
    pack: Annotated[str, Query(max_length=40, description="Rule pack (jurisdiction)")] = "beijing",
) -> dict[str, Any]:
    """Each target of the pack: value, target, met, gap, citation and the per-district table.

    Targets that cannot be measured from the store say why (``measured: false``,
    ``reason``). Results are cached until the store's layers change.
    """
    st = _state(request)
    fut = st.coverage.metrics(check_pack_name(pack))
    return await st.runner.wait(fut, timeout=st.settings.time_limit_s, what="the coverage metrics")
