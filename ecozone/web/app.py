"""The ecozone web app: pages for planners and reviewers, and a REST API.

:func:`create_app` builds a FastAPI application over a layer store:

- pages (Chinese, ``?lang=en`` for English): ``/check`` (draw, upload or paste a
  site, fill in the project, see the verdict, findings, map and download the
  report; batch tab), ``/coverage`` (targets, per-district tables, map),
  ``/layers`` (versions, provenance, audit log, import);
- the REST API under ``/api`` (OpenAPI description at ``/openapi.json``, a
  readable list at ``/api``), see :mod:`ecozone.web.routes_api`.

Everything a page loads (scripts, styles, Leaflet, Leaflet.draw) is served by the
app itself: the pages request nothing outside it unless a basemap tile URL is
configured. Leaflet and Leaflet.draw are served from ``maps/static``.

Domain work is done by the library (:mod:`zoning`, :mod:`layers`, :mod:`maps`); the
app parses input, runs it under a time limit and formats output: heavy work (uploads,
polygon and batch checks, reports) in worker processes killed when their time is up
(:mod:`ecozone.web.workers`), point checks in the server process
(:mod:`ecozone.web.runner`).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from ecozone.web.audit import AuditLog
from ecozone.web.checks import PackCache, PointBatcher
from ecozone.web.coverage_view import CoverageCache
from ecozone.web.errors import CatchAllMiddleware, install_handlers
from ecozone.web.runner import Runner
from ecozone.web.security import PAGE_CSP, SecurityHeadersMiddleware, tile_origins
from ecozone.web.settings import WebSettings, load_settings
from ecozone.web.uploads import BodyLimitMiddleware, VertexLimitMiddleware
from maps.basemap import parse_basemap

log = logging.getLogger(__name__)

__all__ = ["app_from_env", "create_app"]

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _open_store(store: Any, settings: WebSettings) -> Any:
    from layers import LayerStore, open_store

    if isinstance(store, LayerStore):
        return store
    if store is not None:
        return open_store(store)
    return open_store(settings.store)


def create_app(store: Any = None, *, settings: WebSettings | None = None) -> FastAPI:
    """Build the web application.

    Parameters
    ----------
    store
        A :class:`layers.LayerStore`, a store path/URL, or ``None`` for
        ``settings.store`` (``None`` there too: the default store, initialised from
        the embedded demo data).
    settings
        Options (:class:`ecozone.web.settings.WebSettings`); default
        :func:`~ecozone.web.settings.load_settings` (reads ``$ECOZONE_API_TOKEN``).

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    geo.errors.StoreError
        The store cannot be opened.

    Examples
    --------
    >>> app = create_app("ecozone.gpkg")  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    from ecozone import __version__
    from ecozone.web import routes_api, routes_pages

    settings = settings if settings is not None else load_settings()
    basemap = parse_basemap(settings.basemap, attribution=settings.basemap_attribution)
    the_store = _open_store(store, settings)
    runner = Runner(settings.threads)
    packs = PackCache(the_store)
    heavy = _heavy_pool(the_store, packs, runner, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(
            target=_warm_start,
            args=(packs, heavy, settings.default_pack),
            name="ecozone-warm",
            daemon=True,
        ).start()
        yield
        runner.shutdown()
        if heavy is not runner:
            heavy.shutdown()

    app = FastAPI(
        title="ecozone",
        version=__version__,
        summary="生态环境分区管控（三线一单）site checks, coverage and layers",
        description=(
            "Site checks against 三线一单 rule packs, coverage metrics against plan targets, "
            'and the versioned layer store. Errors are JSON `{"error": {"code", '
            '"message"}}`. Reading is open; `POST /api/layers/{name}` needs '
            "`Authorization: Bearer <token>` (the server's `$ECOZONE_API_TOKEN`)."
        ),
        docs_url=None,  # Swagger UI and ReDoc load scripts from CDNs: not offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = the_store
    app.state.runner = runner
    app.state.heavy = heavy
    app.state.packs = packs
    app.state.batcher = PointBatcher()
    app.state.basemap = basemap
    app.state.coverage = CoverageCache(the_store, runner, basemap=basemap)
    app.state.audit = AuditLog(settings.audit_path(getattr(the_store, "path", None)))
    install_handlers(app)
    app.include_router(routes_api.router)
    app.include_router(routes_pages.router)
    if basemap.kind == "package":  # an offline tile package, served here
        from ecozone.web import routes_tiles

        app.include_router(routes_tiles.router(basemap.path))
    app.mount("/static/app", StaticFiles(directory=STATIC_DIR), name="static_app")
    from maps import STATIC_DIR as MAPS_STATIC

    app.mount("/static/maps", StaticFiles(directory=MAPS_STATIC), name="static_maps")
    app.add_middleware(CatchAllMiddleware)  # innermost: unexpected errors → 500 JSON
    # large answers (map layers, coverage maps) only; small ones are not worth the CPU
    app.add_middleware(GZipMiddleware, minimum_size=64 * 1024, compresslevel=5)
    app.add_middleware(VertexLimitMiddleware, max_vertices=settings.max_vertices)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_upload_bytes,
        on_reject=lambda scope: routes_api.audit_refused(app, scope, 413, "too large"),
    )
    app.add_middleware(SecurityHeadersMiddleware, csp=PAGE_CSP.format(tiles=tile_origins(basemap)))
    log.info("ecozone web app over %s", getattr(the_store, "path", the_store))
    return app


def _warm_start(packs: PackCache, heavy: Any, pack: str) -> None:
    """Before the first request asks: start the worker processes, build ``pack``'s checker.

    Run in a thread when the server starts, so that it answers at once; a request that
    comes first waits for the same locks instead of doing the work twice. Without
    this, the first point check of a new server took 1.2 s (the checker) and its first
    report 3.7 s (the worker processes, their imports and checker); a failure here is
    only logged: the first request that needs the pack reports it.
    """
    start = getattr(heavy, "start", None)  # (the thread runner has nothing to start)
    try:
        if start is not None:
            start()
        packs.get(pack)
    except Exception as exc:
        log.warning("could not prepare pack %s when the server started: %s", pack, exc)


def _heavy_pool(store: Any, packs: PackCache, runner: Runner, settings: WebSettings) -> Any:
    """The worker processes of heavy work, or the thread runner with ``processes=0``."""
    from ecozone.web import workers

    if settings.processes == 0:
        workers.use_in_process(store, packs)
        return runner
    ref = getattr(store, "path", None)
    pool = workers.WorkerPool(
        settings.processes,
        store_ref=None if ref is None else str(ref),
        memory_mb=settings.worker_memory_mb or None,
        tmp_dir=tempfile.gettempdir(),
        warm_pack=settings.default_pack,
    )
    weakref.finalize(pool, pool.shutdown)
    return pool


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` worker processes: options from the environment."""
    return create_app(settings=load_settings())
