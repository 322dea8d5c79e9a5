"""Upload hardening: size limits while streaming, safe names, zip checks, format by content.

Every upload is written to a fresh temporary folder under a name the server chooses
(``upload.<ext>``, the extension taken from the sniffed content), so no user string
ever becomes a server path. Before a reader opens it:

- the request body is counted while it streams in (:class:`BodyLimitMiddleware`):
  past the limit the request is answered 413 at once, and a ``Content-Length``
  above the limit is refused before a byte is read;
- the content is recognised with :func:`geo.io.sniff_format` and must be one of
  the formats the endpoint accepts (GeoJSON, zipped shapefile, KML/KMZ, CSV/TXT,
  XLSX, DXF), whatever the file is called;
- zip containers (zipped shapefiles, KMZ, XLSX) are checked without extracting:
  member names that escape the folder (``../``, absolute, drive letters), links,
  encrypted members, too many members, too many bytes once unpacked, or a
  compression ratio typical of decompression bombs are all refused. Python's
  zipfile never unpacks more than a member's declared size, so the declared sizes
  checked here bound what the readers can unpack.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from geo.errors import InputFormatError

log = logging.getLogger(__name__)

__all__ = [
    "SITE_FORMATS",
    "BodyLimitMiddleware",
    "UploadRejected",
    "VertexLimitMiddleware",
    "check_zip",
    "display_name",
    "save_upload",
    "scrub_paths",
    "upload_dir",
]

#: Sniffed kind (geo.io.sniff_format) → server-chosen suffix, for the formats accepted.
SITE_FORMATS: dict[str, str] = {
    "geojson": ".geojson",
    "zip": ".zip",
    "kml": ".kml",
    "kmz": ".kmz",
    "table": ".csv",
    "xlsx": ".xlsx",
    "dxf": ".dxf",
}
_FORMAT_LABELS = "GeoJSON, 压缩的 Shapefile (.zip), KML/KMZ, CSV/TXT, Excel (.xlsx), DXF"
_CHUNK = 256 * 1024
_RATIO_FLOOR = 1024 * 1024  # ratios matter only for members that unpack to more than 1 MiB


class UploadRejected(InputFormatError):
    """An upload refused before any reader touched it.

    Attributes
    ----------
    status : int
        HTTP status to answer with (413 too large, 415 wrong format, 422 unsafe zip).
    code : str
        Machine-readable error code.
    """

    def __init__(self, message: str, *, status: int = 422, code: str = "upload_rejected") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _mib(n: float) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


class _BodyTooLarge(Exception):
    """Raised into the application when the streamed body passes the limit."""


class BodyLimitMiddleware:
    """ASGI middleware answering 413 to request bodies larger than ``max_bytes``.

    A ``Content-Length`` above the limit is refused before the body is read; a
    body without one (chunked) is counted as it streams and cut off as soon as it
    passes the limit, whatever the endpoint was doing with it.

    Parameters
    ----------
    app
        The ASGI application.
    max_bytes
        Largest accepted body.
    on_reject
        Called with the ASGI scope of each refused request (the app audits refused
        layer imports with it).
    """

    def __init__(
        self, app: Any, *, max_bytes: int, on_reject: Callable[[Any], None] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)
        self.on_reject = on_reject

    def _message(self) -> bytes:
        msg = (
            f"请求过大 / the request body is larger than the limit of {_mib(self.max_bytes)}; "
            "split the file or ask the administrator to raise --max-upload-mb"
        )
        body = {"error": {"code": "too_large", "message": msg}}
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    async def _reject(self, send: Any, scope: Any = None) -> None:
        if self.on_reject is not None and scope is not None:
            try:
                self.on_reject(scope)
            except Exception:  # the answer matters more than the hook
                log.exception("the refused-request hook failed")
        body = self._message()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request on with a counting ``receive``; answer 413 past the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._reject(send, scope)
                    return
        seen = 0
        exceeded = False
        started = False

        async def limited_receive() -> Any:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if exceeded:
                # whatever the endpoint made of the cut-off body (FastAPI answers 400)
                # is replaced by the 413 below
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            pass
        if exceeded and not started:
            await self._reject(send, scope)


_NUMBER_B = re.compile(rb"\d+(?:\.\d*)?")
_SITE_PATHS = ("/api/check", "/api/check/report")


class VertexLimitMiddleware:
    """ASGI middleware refusing a site body with too many numbers while it streams.

    A JSON site of 20 MB (a MultiPoint of a million points) cost 600 MB to parse
    before its vertices could be counted. The numbers in the body of
    ``POST /api/check`` and ``/api/check/report`` are counted chunk by chunk as they
    arrive; past three per allowed vertex (x, y, maybe z) the request is answered 422
    before anything is parsed.

    Parameters
    ----------
    app
        The ASGI application.
    max_vertices
        Most vertices of a site.
    """

    def __init__(self, app: Any, *, max_vertices: int) -> None:
        self.app = app
        self.max_vertices = int(max_vertices)
        self.max_numbers = 3 * self.max_vertices + 1000

    async def _reject(self, send: Any, numbers: int) -> None:
        msg = (
            f"几何过大 / the site has more than {numbers // 3:,} vertices (at least {numbers:,} "
            f"numbers), more than the limit of {self.max_vertices:,}; simplify it (e.g. in "
            "QGIS), use the batch check for many sites, or ask the administrator to raise "
            "--max-vertices"
        )
        body = json.dumps(
            {"error": {"code": "too_many_vertices", "message": msg}}, ensure_ascii=False
        ).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass the request on, counting the numbers of a site body."""
        if scope["type"] == "http":  # when the request arrived: time limits count from it
            scope.setdefault("state", {})["arrived"] = time.monotonic()
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or scope.get("path") not in _SITE_PATHS
        ):
            await self.app(scope, receive, send)
            return
        numbers = 0
        exceeded = False
        started = False

        async def counting_receive() -> Any:
            nonlocal numbers, exceeded
            message = await receive()
            if message["type"] == "http.request":
                numbers += len(_NUMBER_B.findall(message.get("body", b"")))
                if numbers > self.max_numbers:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if exceeded:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        if exceeded and not started:
            await self._reject(send, numbers)


@contextlib.contextmanager
def upload_dir() -> Iterator[Path]:
    """A fresh private temporary folder for one request's files, removed afterwards.

    Yields
    ------
    pathlib.Path
    """
    path = Path(tempfile.mkdtemp(prefix="ecozone-upload-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def display_name(filename: str | None) -> str:
    """The user's file name reduced to a harmless label for messages (never a path).

    Parameters
    ----------
    filename
        Name sent by the browser (may hold folders, control characters, anything).

    Returns
    -------
    str
        The last path component, control characters removed, at most 80 characters.
    """
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return (name[:80] or "upload") if name not in (".", "..") else "upload"


def scrub_paths(message: str, folder: Path, label: str) -> str:
    """Replace the server's temporary paths in a library message by the user's file label."""
    text = str(message)
    for p in sorted(folder.rglob("*"), key=lambda q: -len(str(q))):
        text = text.replace(str(p), label)
    return text.replace(str(folder), label)


async def save_upload(
    upload: Any,
    folder: Path,
    *,
    max_bytes: int,
    formats: dict[str, str] | None = None,
    max_unzipped_bytes: int,
    max_zip_ratio: float,
    max_zip_members: int,
) -> Path:
    """Write an uploaded file into ``folder`` under a server-chosen name and vet it.

    Parameters
    ----------
    upload
        A Starlette ``UploadFile``.
    folder
        A private folder from :func:`upload_dir`.
    max_bytes
        Largest file accepted (413 beyond, counted while copying).
    formats
        Accepted sniffed kinds → suffix; default :data:`SITE_FORMATS`.
    max_unzipped_bytes, max_zip_ratio, max_zip_members
        Zip limits, see :func:`check_zip`.

    Returns
    -------
    pathlib.Path
        ``folder / "upload.<ext>"``.

    Raises
    ------
    UploadRejected
        Too large (413), empty or of a format not accepted (415), an unsafe zip (422).
    """
    from geo.io import sniff_format

    formats = SITE_FORMATS if formats is None else formats
    label = display_name(getattr(upload, "filename", None))
    raw = folder / "upload.bin"
    size = 0
    with raw.open("wb") as out:
        while True:
            chunk = await upload.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                msg = f"{label}: 文件过大 / the file is larger than the limit of {_mib(max_bytes)}"
                raise UploadRejected(msg, status=413, code="too_large")
            out.write(chunk)
    if size == 0:
        msg = f"{label}: 文件为空 / the uploaded file is empty (0 bytes); choose the file again"
        raise UploadRejected(msg, status=422, code="empty_file")
    with raw.open("rb") as fh:
        zipped = fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    if zipped:  # vet every zip (shapefile, KMZ, XLSX) before anything opens it
        check_zip(
            raw,
            label=label,
            max_unzipped_bytes=max_unzipped_bytes,
            max_ratio=max_zip_ratio,
            max_members=max_zip_members,
        )
    try:
        kind = sniff_format(raw)
    except InputFormatError as exc:
        raise UploadRejected(
            scrub_paths(str(exc), folder, label), status=415, code="unsupported_format"
        ) from exc
    if kind not in formats:
        msg = (
            f"{label}: 不支持的文件格式 / this content ({kind}) is not accepted here; "
            f"accepted: {_FORMAT_LABELS}"
        )
        raise UploadRejected(msg, status=415, code="unsupported_format")
    path = folder / f"upload{formats[kind]}"
    raw.rename(path)
    return path


def _unsafe_name(name: str) -> bool:
    if "\x00" in name:
        return True
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    return (
        p.is_absolute()
        or ".." in p.parts
        or re.match(r"^[A-Za-z]:", norm) is not None
        or norm.startswith("//")
    )


def check_zip(
    path: Path,
    *,
    label: str = "upload",
    max_unzipped_bytes: int,
    max_ratio: float,
    max_members: int,
) -> None:
    """Refuse a zip archive that is unsafe to extract, without extracting it.

    Parameters
    ----------
    path
        The archive.
    label
        Name of the file in messages.
    max_unzipped_bytes
        Largest total of the members' unpacked sizes.
    max_ratio
        Largest unpacked/packed ratio of a member (and of the archive) that unpacks
        to more than 1 MiB.
    max_members
        Most members.

    Raises
    ------
    UploadRejected
        Damaged archive, path traversal, links, encryption, or a bomb (status 422).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        msg = f"{label}: 压缩包已损坏 / the zip archive is damaged or truncated ({exc})"
        raise UploadRejected(msg, code="bad_zip") from exc
    if len(infos) > max_members:
        msg = (
            f"{label}: 压缩包成员过多 / the archive holds {len(infos)} members "
            f"(limit {max_members}); zip only the files needed"
        )
        raise UploadRejected(msg, code="zip_members")
    bad = [i.filename for i in infos if _unsafe_name(i.filename)]
    if bad:
        msg = (
            f"{label}: 压缩包含有指向目录外的路径 / member names point outside the archive "
            f"({[b[:60] for b in bad[:3]]}); re-create the zip from the files themselves"
        )
        raise UploadRejected(msg, code="zip_traversal")
    links = [i.filename for i in infos if stat.S_ISLNK(i.external_attr >> 16)]
    if links:
        msg = f"{label}: 压缩包含有链接 / the archive holds symbolic links ({links[:3]})"
        raise UploadRejected(msg, code="zip_link")
    if any(i.flag_bits & 0x1 for i in infos):
        msg = (
            f"{label}: 压缩包已加密 / the archive is password-protected; zip it without a password"
        )
        raise UploadRejected(msg, code="zip_encrypted")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > max_unzipped_bytes:
        msg = (
            f"{label}: 解压后过大 / the archive unpacks to {_mib(total)}, more than the limit "
            f"of {_mib(max_unzipped_bytes)}"
        )
        raise UploadRejected(msg, code="zip_bomb")
    ratios = [i.file_size / max(i.compress_size, 1) for i in infos if i.file_size > _RATIO_FLOOR]
    overall = total / max(packed, 1) if total > _RATIO_FLOOR else 0.0
    worst = max([overall, *ratios])
    if worst > max_ratio:
        msg = (
            f"{label}: 压缩比异常 / the archive compresses {worst:,.0f}:1 (limit "
            f"{max_ratio:,.0f}:1), typical of a decompression bomb; it was not unpacked"
        )
        raise UploadRejected(msg, code="zip_bomb")
