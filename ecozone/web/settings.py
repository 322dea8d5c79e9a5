"""Options of the web app, validated once: where it listens, which store, the limits.

:class:`WebSettings` holds every option with its default; :func:`load_settings`
builds one from keyword overrides and the environment. The API tokens that
authorise layer imports are read only from the environment, never from a
command-line option (command lines are visible to every user of the machine):

- ``ECOZONE_API_TOKENS=alice:token-one,bob:token-two`` — named tokens, recorded in
  the audit log by name;
- ``ECOZONE_API_TOKEN=s3cret-token-value`` — one token (the older variable, still
  read; it may also hold ``name:token`` pairs), recorded as ``api-token``.

The audit log never shows a value derived from a token (a hash prefix would let
anyone test guesses of a weak token offline). When both variables are set, both
sets of tokens are accepted.

Unset or empty: imports are disabled (403 with a message saying how to enable them).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from geo.errors import InputFormatError

__all__ = [
    "SETTINGS_ENV",
    "TOKENS_ENV",
    "TOKEN_ENV",
    "WebSettings",
    "load_settings",
    "parse_tokens",
]

TOKEN_ENV = "ECOZONE_API_TOKEN"
TOKENS_ENV = "ECOZONE_API_TOKENS"
#: JSON of the options, used to hand them to ``uvicorn --workers N`` processes.
SETTINGS_ENV = "ECOZONE_WEB_SETTINGS"
_MIB = 1024 * 1024
_MIN_TOKEN = 12


class WebSettings(BaseModel):
    """Validated options of the web app (see the module docstring for the token).

    Attributes
    ----------
    host, port
        Where ``ecozone serve`` listens (default 127.0.0.1:8000).
    store
        Layer store path (GeoPackage) or URL; ``None`` for the default store
        (``$ECOZONE_STORE`` or the user store initialised from the demo data).
    workers
        uvicorn worker processes.
    basemap
        A basemap specification (:mod:`maps.basemap`): "none" (a reference map drawn
        from the store; nothing outside the app is requested), a tile URL template
        (``gcj02:``/``bd09:`` prefixed for AMap/Baidu tiles), ``tianditu:KEY`` or a
        local ``.mbtiles``/``.pmtiles`` package served by the app itself.
    basemap_attribution
        Attribution shown for the tile URL.
    max_upload_mb
        Largest request body (uploads, JSON); larger ones get 413 while streaming.
    max_vertices
        Most coordinates in one site geometry (422 beyond).
    max_unzipped_mb, max_zip_ratio, max_zip_members
        Zip archives (zipped shapefiles, KMZ, XLSX) are refused before extraction
        when their members unpack to more than this, compress better than this
        ratio (decompression bombs), or hold more members.
    time_limit_s
        Longest single check, report or coverage computation (504 beyond).
    batch_time_limit_s
        Longest batch check or layer import.
    threads
        Worker threads that run checks beside the event loop.
    processes
        Worker processes for heavy work (uploads, polygon and batch checks, reports):
        killed and replaced when a task passes its time limit; 0 runs that work in
        threads instead (it then cannot be stopped). Default: one fewer than the
        machine's cores (at least 1), so that point checks keep a core under load.
    worker_memory_mb
        Address-space limit of each worker process (0: none); an input needing more
        is answered 413 and the worker is replaced.
    max_cost
        Most engine work a polygon site may need, estimated before the check: the
        sum over (part, layer feature) pairs whose boxes meet of the part's vertices
        plus one (422 beyond).
    nearby_m
        Radius of the layer features returned with a check for the map.
    max_site_km2
        Sites larger than this ask the user to confirm before the check (a polygon
        drawn at city zoom is often a mistake).
    default_pack
        Pack preselected in the pages.
    audit_log
        JSON Lines audit log of imports; default ``<store>.audit.jsonl`` beside the store.
    api_token
        ``$ECOZONE_API_TOKEN`` (see the module docstring).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    store: str | None = None
    workers: int = Field(1, ge=1, le=64)
    basemap: str = "none"
    basemap_attribution: str | None = None
    max_upload_mb: float = Field(20.0, gt=0, le=4096)
    max_vertices: int = Field(100_000, ge=4, le=50_000_000)
    max_unzipped_mb: float = Field(512.0, gt=0, le=65536)
    max_zip_ratio: float = Field(200.0, ge=2)
    max_zip_members: int = Field(2000, ge=1)
    time_limit_s: float = Field(30.0, gt=0, le=3600)
    batch_time_limit_s: float = Field(300.0, gt=0, le=86400)
    threads: int = Field(4, ge=1, le=64)
    # one core short of the machine: on 2 cores, point checks keep a core of their own
    processes: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1), ge=0, le=64)
    worker_memory_mb: float = Field(2048.0, ge=0, le=1_048_576)
    max_cost: int = Field(3_000_000, ge=100, le=10**10)
    nearby_m: float = Field(2000.0, ge=0, le=20_000)
    max_site_km2: float = Field(100.0, gt=0, le=1_000_000)
    default_pack: str = "beijing"
    audit_log: str | None = None
    api_token: SecretStr | None = None

    @field_validator("basemap")
    @classmethod
    def _basemap(cls, v: str) -> str:
        from geo.errors import InputFormatError
        from maps.basemap import parse_basemap

        v = v.strip() or "none"
        try:
            parse_basemap(v)  # the one parser of basemap specifications
        except InputFormatError as err:
            raise ValueError(str(err)) from err
        return v

    @field_validator("api_token")
    @classmethod
    def _token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        parse_tokens(v.get_secret_value())  # raises on a malformed value
        return v

    @property
    def max_upload_bytes(self) -> int:
        """:attr:`max_upload_mb` in bytes."""
        return int(self.max_upload_mb * _MIB)

    @property
    def max_unzipped_bytes(self) -> int:
        """:attr:`max_unzipped_mb` in bytes."""
        return int(self.max_unzipped_mb * _MIB)

    def tokens(self) -> dict[str, str]:
        """Token → holder name (empty when imports are disabled)."""
        if self.api_token is None:
            return {}
        return parse_tokens(self.api_token.get_secret_value())

    def audit_path(self, store_path: Path | None) -> Path | None:
        """The audit log file: :attr:`audit_log`, else ``<store>.audit.jsonl``."""
        if self.audit_log:
            return Path(self.audit_log).expanduser()
        if store_path is None:
            return None
        return store_path.with_name(store_path.name + ".audit.jsonl")

    def to_env(self) -> str:
        """JSON of the options without the token (for worker processes)."""
        return json.dumps(self.model_dump(exclude={"api_token"}))


def parse_tokens(text: str) -> dict[str, str]:
    """Read ``$ECOZONE_API_TOKEN``: one token, or ``name:token`` pairs separated by commas.

    Parameters
    ----------
    text
        The variable's value.

    Returns
    -------
    dict
        Token → holder name (``api-token``, ``api-token-2``, ... for unnamed tokens:
        never a value derived from the token).

    Raises
    ------
    InputFormatError
        A token shorter than 12 characters, an empty name, or a repeated token.
    """
    out: dict[str, str] = {}
    unnamed = 0
    parts = [p.strip() for p in text.split(",") if p.strip()]
    for part in parts:
        name, sep, token = part.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.@-]{1,40}", name.strip()):
            name, token = "", part  # no usable name: the whole text is the token
        name, token = name.strip(), token.strip()
        if len(token) < _MIN_TOKEN:
            msg = (
                f"${TOKEN_ENV}: a token has {len(token)} characters; use at least {_MIN_TOKEN} "
                "random characters (python -c 'import secrets; print(secrets.token_urlsafe())')"
            )
            raise InputFormatError(msg)
        if token in out:
            msg = f"${TOKEN_ENV}: the same token is given twice (for {out[token]!r} and {name!r})"
            raise InputFormatError(msg)
        if not name:
            unnamed += 1
            name = "api-token" if unnamed == 1 else f"api-token-{unnamed}"
        out[token] = name
    return out


def load_settings(**overrides: Any) -> WebSettings:
    """Build the options from ``$ECOZONE_WEB_SETTINGS``, ``$ECOZONE_API_TOKEN`` and overrides.

    Parameters
    ----------
    **overrides
        Option values (``None`` values are ignored, so unset CLI options keep the
        defaults).

    Returns
    -------
    WebSettings

    Raises
    ------
    InputFormatError
        An option out of range or of the wrong type; the message names each one.
    """
    values: dict[str, Any] = {}
    env = os.environ.get(SETTINGS_ENV, "").strip()
    if env:
        try:
            values.update(json.loads(env))
        except ValueError as exc:
            msg = f"${SETTINGS_ENV} is not JSON ({exc}); unset it or fix it"
            raise InputFormatError(msg) from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    given = [os.environ.get(v, "").strip() for v in (TOKENS_ENV, TOKEN_ENV)]
    token = ",".join(t for t in given if t)
    if "api_token" not in values and token:
        values["api_token"] = token
    try:
        return WebSettings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        msg = f"web app options are not valid: {problems}"
        raise InputFormatError(msg) from exc
