"""Security headers of the web app: the content security policies and their middleware.

Pages may load only what the app serves (:data:`PAGE_CSP`); the coverage map frame,
whose Leaflet (folium) scripts are inline, gets :data:`MAP_CSP`. A configured online
basemap adds its tile hosts (:func:`tile_origins`) to ``img-src``. Used by
:mod:`ecozone.web.app` and :mod:`ecozone.web.routes_pages`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAP_CSP", "PAGE_CSP", "SecurityHeadersMiddleware", "tile_origins"]

# Pages may load only what the app serves; the tile host is added when configured.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:{tiles}; connect-src 'self'; font-src 'self'; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, frame and referrer headers to every response (pure ASGI)."""

    def __init__(self, app: Any, *, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"SAMEORIGIN"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request on; add the headers a response does not set itself."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in have]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def tile_origins(basemap: Any) -> str:
    """The CSP sources of a basemap's tiles: none for no tiles or a local package.

    Parameters
    ----------
    basemap
        A :class:`maps.basemap.Basemap`.

    Returns
    -------
    str
        `` https://host`` sources to append to ``img-src`` (``""`` for none).
    """
    if basemap.kind != "xyz" or not basemap.needs_internet:
        return ""
    from urllib.parse import urlsplit

    origins = []
    for url in (basemap.url, *basemap.overlays):
        parts = urlsplit(url.replace("{s}", "a"))
        host = urlsplit(url).netloc.replace("{s}", "*") if "{s}" in url else parts.netloc
        origins.append(f" {parts.scheme}://{host}")
    return "".join(dict.fromkeys(origins))


# Leaflet's inline scripts (folium) run only inside the coverage map frame, which may
# load nothing from outside the app either.
MAP_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:{tiles}; connect-src 'none'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'self'"
)
