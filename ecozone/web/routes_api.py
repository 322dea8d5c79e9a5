"""The REST API (``/api``): checks, batch checks, layers, audit log and coverage.

Reading is open. ``POST /api/layers/{name}`` needs ``Authorization: Bearer <token>``
matching one of the server's tokens (``$ECOZONE_API_TOKENS`` / ``$ECOZONE_API_TOKEN``,
compared in constant time); without a configured token imports are disabled (403).
Every import attempt is written to the audit log (``GET /api/audit``) whatever its
outcome (refused input, too many files or fields, too large, server error), under
the token's name.
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

from ecozone.web import tasks
from ecozone.web.checks import (
    MEDIA,
    check_pack_name,
    check_site,
    context_layers,
    is_single_point,
    make_project,
    nearby_features,
    pack_names,
    site_from_request,
    site_report,
)
from ecozone.web.coverage_view import json_safe
from ecozone.web.errors import ApiError
from ecozone.web.runner import capture_warnings
from ecozone.web.schemas import COORD_SYSTEMS, CheckRequest
from ecozone.web.uploads import display_name, save_upload, scrub_paths, upload_dir
from geo.errors import EcozoneError

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
    pack: Annotated[str | None, Query(max_length=40)] = None,
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
) -> Response:
    """The pack's jurisdiction, districts and main layers as GeoJSON, simplified for display."""
    st = _state(request)
    name = _pack_or_default(request, pack)

    def work() -> dict[str, Any]:
        return context_layers(st.packs.get(name), lang=lang)

    data = await st.runner.run(work, timeout=st.settings.time_limit_s, what="the map layers")
    return _json(data)


# --------------------------------------------------------------------------- checks


async def _checked(request: Request, body: CheckRequest) -> tuple[Any, Any, Any, Any, list[str]]:
    """Parse, then check one point (in the event loop with the point batcher).

    Returns (entry, site (lon/lat shapely geometry), project, (result, report), notes).
    Only for :func:`is_single_point` requests: other sites go to the worker processes.
    """
    st = _state(request)
    settings = st.settings
    pack = _pack_or_default(request, body.pack)
    ready = st.packs.ready(pack)
    if ready is None:  # build (or re-validate) the checker in a thread
        ready = await st.runner.run(
            st.packs.get, pack, timeout=settings.time_limit_s, what="loading the pack"
        )

    def parse() -> tuple[Any, list[str], Any]:
        # may wait for the warnings lock: in a thread, the event loop never does
        site, notes = site_from_request(
            body, max_vertices=settings.max_vertices, max_area_km2=settings.max_site_km2
        )
        return site, notes, make_project(body)

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
    return entry, site, project, checked, tasks.check_notes(entry, checked[0], notes)


def _left(request: Request, limit: float) -> float:
    """What remains of a time limit counted from the request's arrival (body included)."""
    import time

    arrived = getattr(request.state, "arrived", None)
    spent = time.monotonic() - arrived if arrived is not None else 0.0
    return max(limit - spent, 0.5)


def _heavy_args(request: Request, body: CheckRequest) -> tuple[Any, ...]:
    s = _state(request).settings
    return (_pack_or_default(request, body.pack), body, s.max_vertices, s.max_cost, s.nearby_m)


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

    Returns the compliance report (``zoning.report.build.build_report``, schema
    ``ecozone.report/1``) with ``notes`` (swapped or repaired input, rules skipped
    for missing layers) and, with ``include_map=true``, ``map``.
    """
    st = _state(request)
    if not is_single_point(body):  # in a worker process, killed at the time limit
        report = await st.heavy.run(
            tasks.check_task, *_heavy_args(request, body), include_map,
            timeout=_left(request, st.settings.time_limit_s), what="the site check",
        )  # fmt: skip
        if body.radii:
            report["screening"] = await _screening(request, body, report)
        return _json(report)
    entry, site, _, (_, report), notes = await _checked(request, body)
    report["notes"] = [*report.get("notes", []), *notes]  # the check's own notes first
    if include_map:

        def near() -> dict[str, Any]:
            return nearby_features(
                entry, report, site, radius_m=st.settings.nearby_m, lang=body.lang
            )

        report["map"] = await st.runner.run(near, timeout=st.settings.time_limit_s, what="the map")
    if body.radii:
        report["screening"] = await _screening(request, body, report)
    return _json(report)


async def _screening(request: Request, body: CheckRequest, report: dict) -> list[dict]:
    """The screening list of a checked site (features within ``body.radii``), in a thread."""
    from shapely.geometry import shape

    from zoning.workflow import site_screening

    st = _state(request)
    pack = _pack_or_default(request, body.pack)
    site = shape(report["site"]["geometry"])

    def run() -> list[dict]:
        rows = site_screening(st.packs.get(pack).checker, site, radii_m=body.radii)
        return rows.to_dict(orient="records")

    return await st.runner.run(run, timeout=_left(request, st.settings.time_limit_s),
                               what="the screening list")  # fmt: skip


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
    # check and render in a worker process, killed at the time limit
    data = await st.heavy.run(
        tasks.report_task, *_heavy_args(request, body), format,
        timeout=_left(request, st.settings.time_limit_s), what="the report",
    )  # fmt: skip
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
    st = _state(request)
    label = display_name(file.filename)
    options = _read_options(coords, gk_zone)
    with upload_dir() as folder:
        path = await _vetted(request, file, folder)
        return await st.heavy.run(
            tasks.parse_task, path, options, folder, label, st.settings.max_vertices,
            timeout=_left(request, st.settings.time_limit_s), what="reading the file",
        )  # fmt: skip


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
    pack: Annotated[str | None, Form(max_length=40)] = None,
    coords: Annotated[Coords, Form()] = "wgs84",
    gk_zone: Annotated[int | None, Form(ge=25, le=45)] = None,
    format: Annotated[Literal["csv", "gpkg", "xlsx"], Form()] = "csv",
    output: Annotated[Literal["json", "zip"], Form()] = "json",
) -> Any:
    """Check every row/feature of an uploaded file (project columns per row are read).

    Rows that cannot be read or checked are listed in ``errors`` (and ``errors.csv``),
    the rest are checked. CSV outputs are safe to open in Excel/WPS: text starting
    with = + - @ is prefixed with ``'``.
    """
    st = _state(request)
    name = _pack_or_default(request, pack)
    label = display_name(file.filename)
    options = _read_options(coords, gk_zone)
    with upload_dir() as folder:
        path = await _vetted(request, file, folder)
        answer, _ = await st.heavy.run(
            tasks.batch_task, name, path, folder, format, options, label, output,
            timeout=st.settings.batch_time_limit_s, what="the batch check",
        )  # fmt: skip
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


def _holder(tokens: dict[str, str], header: str) -> str | None:
    """The name of the token in an Authorization header (``None``: none or not valid)."""
    scheme, _, given = header.partition(" ")
    holder = None
    if scheme.lower() == "bearer" and given.strip():
        given_b = given.strip().encode("utf-8", "replace")
        for token, who in tokens.items():  # compare with every token: constant time each
            if hmac.compare_digest(token.encode("utf-8"), given_b):
                holder = who
    return holder


def audit_refused(app: Any, scope: Any, status: int, message: str) -> None:
    """Audit an import the middleware refused before the route ran (valid token only)."""
    path = str(scope.get("path", ""))
    if scope.get("method") != "POST" or not path.startswith("/api/layers/"):
        return
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    holder = _holder(app.state.settings.tokens(), headers.get("authorization", ""))
    if holder is None:
        return
    client = scope.get("client")
    app.state.audit.record(
        action="import", who=holder, client=client[0] if client else "unknown",
        layer=path.removeprefix("/api/layers/")[:64], outcome="rejected", status=status,
        message=message,
    )  # fmt: skip


def _authorise(request: Request, name: str) -> str:
    """The token holder's name, or raise 403/401 (recording the refusal)."""
    st = _state(request)
    tokens = st.settings.tokens()
    if not tokens:
        msg = (
            "导入已停用 / imports are disabled: the server has no API token. Start it with "
            "ECOZONE_API_TOKENS=name:<secret> (or ECOZONE_API_TOKEN=<secret>) set in its "
            "environment to allow imports"
        )
        raise ApiError(403, "imports_disabled", msg)
    holder = _holder(tokens, request.headers.get("authorization", ""))
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
    force = str(form.get("force") or "").strip().lower() in ("1", "true", "yes", "on")
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

        # reading the file is bounded (a worker process); the import then commits
        # atomically in the server and is not cut off: its limit is the batch one
        gdf, issues = await st.heavy.run(
            tasks.read_layer_task, path, options, folder, label, None,
            timeout=st.settings.batch_time_limit_s, what="reading the layer file",
        )  # fmt: skip

        def work() -> Any:
            try:
                with capture_warnings() as notes:  # generated ids, repairs: told, not logged
                    layer = st.store.import_layer(
                        gdf, name=name, kind=kind, source=source, source_date=source_date,
                        force=force,
                    )  # fmt: skip
            except EcozoneError as exc:
                exc.args = (scrub_paths(str(exc), folder, label),)
                raise
            issues.extend(
                {"source": label, "row": None, "action": "note",
                 "reason": scrub_paths(n, folder, label)}
                for n in notes
            )  # fmt: skip
            return layer

        layer = await st.runner.run(work, timeout=st.settings.batch_time_limit_s, what="the import")
        return layer, issues


def _outcome_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and message a failed import is answered with (for the audit)."""
    from starlette.exceptions import HTTPException

    from ecozone.web.errors import describe_os_error, status_of

    if isinstance(exc, ApiError):
        return exc.status, exc.message
    if isinstance(exc, EcozoneError):
        return status_of(exc)[0], str(exc)
    if isinstance(exc, HTTPException):  # too many files or fields, unreadable form
        return exc.status_code, str(exc.detail)
    if type(exc).__name__ == "_BodyTooLarge":
        return 413, "the request body is larger than the upload limit"
    full = describe_os_error(exc) if isinstance(exc, OSError) else None
    if full is not None:
        return full[0], full[2]
    return 500, f"internal error ({type(exc).__name__})"


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
                            "force": {
                                "type": "boolean",
                                "description": "Import data outside its extent/jurisdiction",
                            },
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
    except BaseException as exc:  # every outcome is audited, then answered as usual
        status, message = _outcome_of(exc)
        event.update(outcome="rejected" if status < 500 else "failed", status=status,
                     message=message[:500])  # fmt: skip
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
    pack: Annotated[
        str | None, Query(max_length=40, description="Rule pack (default: the server's)")
    ] = None,
) -> dict[str, Any]:
    """Each target of the pack: value, target, met, gap, citation and the per-district table.

    Targets that cannot be measured from the store say why (``measured: false``,
    ``reason``). Results are cached until the store's layers change.
    """
    st = _state(request)
    fut = st.coverage.metrics(_pack_or_default(request, pack))
    return await st.runner.wait(fut, timeout=st.settings.time_limit_s, what="the coverage metrics")
