"""Tiles of an offline basemap package (``ecozone serve --basemap PATH.mbtiles``).

``GET /tiles/{z}/{x}/{y}`` answers the tile from the ``.mbtiles``/``.pmtiles`` file
the server was started with (:class:`maps.tiles.TilePackage`); 404 where the package
has none. Only that one file is ever read: the path never comes from a request.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Response
from fastapi import Path as PathParam

from ecozone.web.errors import ApiError

__all__ = ["router"]

_MEDIA = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


def router(package: Path) -> APIRouter:
    """A router serving the tiles of ``package``.

    Parameters
    ----------
    package
        The tile package (checked readable when the basemap was parsed).

    Returns
    -------
    fastapi.APIRouter
    """
    from maps.tiles import TilePackage

    pkg = TilePackage(package)
    media = _MEDIA.get(str(pkg.metadata.get("format", "png")).lower(), "image/png")
    lock = threading.Lock()  # one SQLite connection / memory map, shared by threads
    api = APIRouter(tags=["basemap"])

    @api.get("/tiles/{z}/{x}/{y}", summary="A basemap tile of the offline package")
    def tile(
        z: Annotated[int, PathParam(ge=0, le=22)],
        x: Annotated[int, PathParam(ge=0)],
        y: Annotated[int, PathParam(ge=0)],
    ) -> Response:
        if x >= 2**z or y >= 2**z:
            raise ApiError(404, "no_tile", f"瓦片 {z}/{x}/{y} 超出范围 / tile out of range.")
        with lock:
            data = pkg.get(z, x, y)
        if data is None:
            raise ApiError(404, "no_tile", f"底图包中没有瓦片 {z}/{x}/{y} / no such tile.")
        return Response(data, media_type=media, headers={"Cache-Control": "max-age=86400"})

    return api
