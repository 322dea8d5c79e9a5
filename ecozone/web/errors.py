"""Every failure becomes a JSON body ``{"error": {"code": ..., "message": ...}}``.

Input the user can fix gets a 4xx saying what is wrong; an unexpected exception is
logged with its traceback on the server and answered with a generic 500 that shows
no traceback or path.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import (
    CRSDetectionError,
    EcozoneError,
    GeometryError,
    InputFormatError,
    LayerNotFoundError,
    LayerValidationError,
    MissingLayerError,
    OutsideJurisdictionError,
    PackError,
    StoreError,
)

log = logging.getLogger(__name__)

__all__ = [
    "ApiError",
    "CatchAllMiddleware",
    "describe_os_error",
    "error_response",
    "install_handlers",
    "status_of",
]

_GENERIC_500 = "服务器内部错误 / internal server error; the details are in the server log"


class ApiError(Exception):
    """An error the web layer answers itself (status, code and message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    """The JSON error body every failure uses."""
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers or None
    )


# most specific first: LayerNotFoundError is also a StoreError, MissingKindError both
_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (LayerNotFoundError, 404, "not_found"),
    (MissingLayerError, 409, "missing_layer"),
    (CRSDetectionError, 422, "crs"),
    (GeometryError, 422, "geometry"),
    (OutsideJurisdictionError, 422, "outside_jurisdiction"),  # before its parent ValueError
    (LayerValidationError, 422, "layer_invalid"),
    (PackError, 422, "pack"),
    (InputFormatError, 422, "input_format"),
    (StoreError, 503, "store_unavailable"),
    (EcozoneError, 400, "bad_request"),
)


def describe_os_error(exc: OSError, what: str = "") -> tuple[int, str, str] | None:
    """(status, code, message) of a full disk or quota (``None`` for other OS errors).

    The user's request cannot be held: 413 with the free space of the folder, so that
    an upload is not answered with a misleading "check its encoding" or a bare 500.
    """
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return None
    folder = os.path.dirname(getattr(exc, "filename", None) or "") or tempfile.gettempdir()
    try:
        free = shutil.disk_usage(folder).free / 2**20
        room = f"{free:.1f} MB free"
    except OSError:
        room = "free space unknown"
    msg = (
        f"服务器磁盘已满 / the server has no room to store {what or 'this request'} "
        f"({room} in its temporary folder); try a smaller file, or ask the administrator "
        "to free space"
    )
    return 413, "no_space", msg


def status_of(exc: BaseException) -> tuple[int, str]:
    """HTTP status and error code of an ecozone error."""
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    if isinstance(status, int) and isinstance(code, str):
        return status, code
    for cls, st, cd in _STATUS:
        if isinstance(exc, cls):
            return st, cd
    return 400, "bad_request"


def _clean(message: str, request: Request) -> str:
    """Drop the server's store path from a library message (keep the file name)."""
    store = getattr(request.app.state, "store", None)
    path = getattr(store, "path", None)
    text = str(message)
    if path is not None:
        text = text.replace(str(path.parent) + "/", "")
    return text[:4000]


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:10]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    more = len(exc.errors()) - 10
    tail = f" (+{more} more)" if more > 0 else ""
    return "请求参数无效 / invalid request: " + "; ".join(parts) + tail


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(EcozoneError)
    async def _ecozone(request: Request, exc: EcozoneError) -> JSONResponse:
        status, code = status_of(exc)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(status, code, _clean(str(exc), request))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}.get(
            exc.status_code, "http_error"
        )
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        cause = exc.__cause__ or exc.__context__
        full = describe_os_error(cause, "the upload") if isinstance(cause, OSError) else None
        if full is not None:  # the body could not be spooled to a full disk
            return error_response(*full)
        if exc.status_code == 400 and "parsing the body" in detail:
            detail = "请求体无法解析 / the request body could not be parsed (check its encoding)"
        headers: dict[str, Any] = dict(exc.headers or {})
        return error_response(exc.status_code, code, detail, **headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        full = describe_os_error(exc) if isinstance(exc, OSError) else None
        if full is not None:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
            return error_response(*full)
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal", _GENERIC_500)


class CatchAllMiddleware:
    """Answer an unexpected exception with the generic 500 JSON, and log it (pure ASGI).

    Starlette's outermost error middleware re-raises after answering, which makes
    the server drop the keep-alive connection; catching here keeps it usable.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the app; answer 500 if it raises before answering."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if type(exc).__name__ == "_BodyTooLarge":
                raise  # answered 413 by BodyLimitMiddleware
            full = describe_os_error(exc) if isinstance(exc, OSError) else None
            if full is not None:  # a full disk: say so (413), no traceback
                log.warning("%s %s: %s", scope.get("method"), scope.get("path"), exc)
                if not started:
                    await error_response(*full)(scope, receive, send)
                return
            log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"),
                      exc_info=exc)  # fmt: skip
            if not started:
                await error_response(500, "internal", _GENERIC_500)(scope, receive, send)
