"""``ecozone serve``: the web app for planners and reviewers (uvicorn).

The API tokens that authorise layer imports are read from ``$ECOZONE_API_TOKENS``
(``name:token,...``) or ``$ECOZONE_API_TOKEN`` only (a command-line value would be
visible to every user of the machine).
"""

from __future__ import annotations

import logging
import os

import click

from ecozone.cli.options import store_opt

log = logging.getLogger(__name__)


@click.command(name="serve")
@click.option("--host", default=None, help="Address to listen on.  [default: 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port.  [default: 8000]")
@store_opt
@click.option("--workers", type=int, default=None, help="Worker processes.  [default: 1]")
@click.option(
    "--basemap",
    default=None,
    help="Basemap (底图): 'none' (default: a reference map from the store, nothing loaded "
    "from outside), PATH.mbtiles|PATH.pmtiles (served by the app; see `ecozone tiles`), a "
    "tile URL http(s)://host/{z}/{x}/{y}.png (WGS84), gcj02:URL (AMap/Tencent tiles), "
    "bd09:URL, or tianditu:KEY[:img].",
)
@click.option("--basemap-attribution", default=None, help="Attribution shown for the tiles.")
@click.option("--max-upload-mb", type=float, default=None, help="Largest upload.  [default: 20]")
@click.option(
    "--max-vertices", type=int, default=None, help="Most vertices of a site.  [default: 100000]"
)
@click.option(
    "--time-limit", "time_limit_s", type=float, default=None,
    help="Longest single check, report or coverage, in seconds.  [default: 30]",
)  # fmt: skip
@click.option(
    "--batch-time-limit", "batch_time_limit_s", type=float, default=None,
    help="Longest batch check or import, in seconds.  [default: 300]",
)  # fmt: skip
@click.option("--threads", type=int, default=None, help="Check threads per worker.  [default: 4]")
@click.option(
    "--processes", type=int, default=None,
    help="Processes per worker for heavy work (uploads, polygon and batch checks, reports), "
    "killed and replaced at the time limit; 0 runs it in threads.  [default: 2]",
)  # fmt: skip
@click.option(
    "--worker-memory-mb", "worker_memory_mb", type=float, default=None,
    help="Memory limit of each heavy-work process (413 beyond; 0: none).  [default: 2048]",
)  # fmt: skip
@click.option(
    "--max-cost", type=int, default=None,
    help="Most estimated engine work for one polygon site (422 beyond).  [default: 3000000]",
)  # fmt: skip
@click.option("--pack", "default_pack", default=None, help="Pack preselected in the pages.")
@click.option(
    "--max-site-km2", type=float, default=None,
    help="Ask before checking a site larger than this, in km².  [default: 100]",
)  # fmt: skip
@click.option(
    "--audit-log", default=None, metavar="PATH",
    help="Import audit log (JSON Lines).  [default: <store>.audit.jsonl]",
)  # fmt: skip
def serve(**options: object) -> None:
    """Start the web app: site check, coverage and layer pages, and the REST API.

    \b
    Pages: http://HOST:PORT/check (中文; ?lang=en for English), /coverage, /layers;
    API: /api (list), /openapi.json. Works offline: every script and style is
    served by the app. Layer imports need ECOZONE_API_TOKENS=name:token,... (or the
    single-token ECOZONE_API_TOKEN) set in the environment; without it they are off.
    The audit log names each import by its token's name.
    """
    import uvicorn

    from ecozone.web.app import create_app
    from ecozone.web.settings import SETTINGS_ENV, load_settings
    from geo.errors import EcozoneError

    try:
        settings = load_settings(**options)
        if settings.workers > 1:
            # worker processes rebuild the app from the environment (token included)
            os.environ[SETTINGS_ENV] = settings.to_env()
            target: object = "ecozone.web.app:app_from_env"
        else:
            target = create_app(settings=settings)
    except EcozoneError as exc:
        from ecozone.cli._output import cli_words

        raise click.ClickException(cli_words(str(exc))) from exc
    imports = "on" if settings.tokens() else "off (set ECOZONE_API_TOKENS)"
    click.echo(
        f"ecozone web app on http://{settings.host}:{settings.port}/check "
        f"(workers {settings.workers}, imports {imports})",
        err=True,
    )
    uvicorn.run(
        target,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        factory=settings.workers > 1,
        log_level="info" if log.getEffectiveLevel() <= logging.INFO else "warning",
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":  # python -m ecozone.cli.serve (before it is registered)
    serve()
