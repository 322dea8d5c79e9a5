"""The HTML pages: site check, coverage, layers and the API list (Jinja2, autoescaped).

Pages are rendered on the server with every user or data string escaped by Jinja2;
the page scripts insert text with ``textContent`` only. The language comes from
``?lang=`` (remembered in a cookie) and defaults to Chinese.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecozone.web.checks import check_pack_name, pack_names
from ecozone.web.coverage_view import json_safe
from ecozone.web.i18n import COOKIE, js_strings, pick_lang, t
from ecozone.web.security import MAP_CSP, tile_origins

router = APIRouter(include_in_schema=False)

__all__ = ["router"]

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,  # every user and data string is escaped
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_AUDIT_KEYS = ("time", "who", "client", "layer", "version", "kind", "file", "source", "outcome",
               "message")  # fmt: skip


def _lang(request: Request) -> str:
    return pick_lang(request.query_params.get("lang"), request.cookies.get(COOKIE))


def _kind_labels(lang: str) -> dict[str, str]:
    from layers import LAYER_KINDS, kind_info

    return {
        k: (kind_info(k).label_zh if lang == "zh" else kind_info(k).label_en) for k in LAYER_KINDS
    }


def _verdict_labels(lang: str) -> dict[str, dict[str, str]]:
    """Verdict → label and colours, for the batch summary and map."""
    from maps.style import VERDICT_STYLES

    return {
        v: {"label": s.label_zh if lang == "zh" else s.label_en, "color": s.color, "fill": s.fill}
        for v, s in VERDICT_STYLES.items()
    }


def _page(request: Request, template: str, page: str, **context: Any) -> HTMLResponse:
    st = request.app.state
    lang = _lang(request)
    listing = st.store.list_layers()
    settings = st.settings
    config = {
        "lang": lang,
        "basemap": st.basemap.leaflet(),
        "max_site_km2": settings.max_site_km2,
        "verdict_labels": _verdict_labels(lang),
        "default_pack": settings.default_pack,
        "max_upload_mb": settings.max_upload_mb,
        "imports_enabled": bool(settings.tokens()),
        "kind_labels": _kind_labels(lang),
    }
    html = _env.get_template(template).render(
        lang=lang,
        page=page,
        t=lambda key, **kw: t(key, lang, **kw),
        strings=js_strings(lang),
        config=config,
        packs=sorted(pack_names().items()),
        default_pack=settings.default_pack,
        demo=bool(len(listing)) and bool(listing["synthetic"].astype(bool).any()),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


@router.get("/")
def index(request: Request) -> RedirectResponse:
    """Start at the site check."""
    return RedirectResponse("/check" + (f"?lang={_lang(request)}"), status_code=307)


@router.get("/check", response_class=HTMLResponse)
def check_page(request: Request) -> HTMLResponse:
    """The site check page (single site and batch)."""
    from zoning.project import ACTIVITIES, FLAGS, PROJECT_TYPES
    from zoning.report.build import find_pdf_engine

    return _page(
        request,
        "check.html",
        "check",
        project_types=PROJECT_TYPES,
        flags=FLAGS,
        activities=ACTIVITIES,
        pdf=find_pdf_engine() is not None,
    )


@router.get("/coverage", response_class=HTMLResponse)
def coverage_page(request: Request) -> HTMLResponse:
    """The coverage page: targets, per-district tables and the map."""
    return _page(request, "coverage.html", "coverage")


@router.get("/coverage/map", response_class=HTMLResponse)
async def coverage_map(
    request: Request, pack: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    """The coverage map of a pack's jurisdiction (self-contained Leaflet page)."""
    st = request.app.state
    lang = _lang(request)
    fut = st.coverage.map_html(check_pack_name(pack or st.settings.default_pack), lang)
    html = await st.runner.wait(fut, timeout=st.settings.time_limit_s, what="the coverage map")
    csp = MAP_CSP.format(tiles=tile_origins(st.basemap))
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


@router.get("/layers", response_class=HTMLResponse)
def layers_page(request: Request) -> HTMLResponse:
    """Layers with their versions, provenance and the import audit log."""
    from layers import LAYER_KINDS, kind_info

    st = request.app.state
    listing = st.store.list_layers()
    rows = json_safe(listing.to_dict(orient="records"))
    history = {r["name"]: json_safe(st.store.history(r["name"]).to_dict(orient="records"))
               for r in rows}  # fmt: skip
    kinds = [(k, kind_info(k).label_zh, kind_info(k).label_en) for k in LAYER_KINDS]
    return _page(
        request,
        "layers.html",
        "layers",
        layers=rows,
        history=history,
        audit=[{k: a.get(k) for k in _AUDIT_KEYS} for a in st.audit.read(limit=50)],
        kinds=kinds,
    )


@router.get("/api", response_class=HTMLResponse)
def api_page(request: Request) -> HTMLResponse:
    """A readable list of the REST endpoints, from the OpenAPI description."""
    spec = request.app.openapi()
    endpoints = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [p.get("name", "") for p in op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {})
            endpoints.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": params,
                    "body": ", ".join(body),
                }
            )
    return _page(request, "api.html", "api", endpoints=endpoints, spec=spec)


# --------------------------------------------------------------------------- sources

#: Source ids are short slugs (zoning/data/sources.toml); nothing else reaches the disk.
_SOURCE_ID = r"^[a-z0-9][a-z0-9\-]{0,59}$"


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request) -> HTMLResponse:
    """Every plan, law, standard and notice the rule packs cite."""
    from zoning.sources import load_sources

    return _page(request, "sources.html", "sources", records=list(load_sources().values()))


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_page(
    request: Request,
    source_id: Annotated[str, PathParam(pattern=_SOURCE_ID)],
    line: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> HTMLResponse:
    """A source's record and, when its text is available here, the text with ``line`` marked.

    Only ids of the source records are served; the file read is the record's own
    (``$ECOZONE_SOURCES``/its file name), never a path from the request.
    """
    from starlette.exceptions import HTTPException

    from geo.errors import SourceError
    from zoning.sources import load_sources, source_excerpt

    src = load_sources().get(source_id)
    if src is None:
        raise HTTPException(404, f"unknown source {source_id!r}")
    lang = _lang(request)
    heads = src.official_headings_at(line) if line else []  # (the text: as stored)
    lines: list[tuple[int, str, bool]] = []
    error = None
    if not src.file:
        error = (
            "ecozone 保存该来源的著录信息与引文，不保存全文"
            if lang == "zh"
            else "ecozone holds this source's record and quotations, not its full text"
        )
    else:
        try:
            text = source_excerpt(src, None)
        except SourceError:
            error = (
                "本服务器未配置来源全文（ECOZONE_SOURCES）"
                if lang == "zh"
                else "the full texts are not configured on this server (ECOZONE_SOURCES)"
            )
        else:
            if line is not None and line > len(text):
                raise HTTPException(404, f"line {line} is outside the text (1–{len(text)})")
            lines = [(n, t, n == line) for n, t, _ in text]
    return _page(
        request, "source.html", "sources", src=src, lines=lines, line=line, heads=heads,
        error=error,
    )  # fmt: skip
