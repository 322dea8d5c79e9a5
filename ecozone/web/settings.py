"""Options of the web app, validated once: where it listens, which store, the limits.

:class:`WebSettings` holds every option with its default; :func:`load_settings`
builds one from keyword overrides and the environment. The API token that
authorises layer imports is read only from ``$ECOZONE_API_TOKEN``, never from a
command-line option (command lines are visible to every user of the machine):

- ``ECOZONE_API_TOKEN=s3cret-token-value`` — one token, recorded in the audit log
  as ``token-<first 8 hex digits of its sha256>``;
- ``ECOZONE_API_TOKEN=alice:token-one,bob:token-two`` — named tokens, recorded by name.

Unset or empty: imports are disabled (403 with a message saying how to enable them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from geo.errors import InputFormatError

__all__ = ["SETTINGS_ENV", "TOKEN_ENV", "WebSettings", "load_settings", "parse_tokens"]

TOKEN_ENV = "ECOZONE_API_TOKEN"
#: JSON of the options, used to hand them to ``uvicorn --workers N`` processes.
SETTINGS_ENV = "ECOZONE_WEB_SETTINGS"
_MIB = 1024 * 1024
_MIN_TOKEN = 12
_TILE_URL = re.compile(r"^https?://[^\s\"'<>]+$")


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
        "none" (no tiles: nothing outside the app is requested) or a tile URL
        template ``http(s)://host/{z}/{x}/{y}.png`` in WGS84/CGCS2000 Web Mercator.
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
    nearby_m
        Radius of the layer features returned with a check for the map.
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
    nearby_m: float = Field(2000.0, ge=0, le=20_000)
    default_pack: str = "beijing"
    audit_log: str | None = None
    api_token: SecretStr | None = None

    @field_validator("basemap")
    @classmethod
    def _basemap(cls, v: str) -> str:
        v = v.strip()
        if v.lower() == "none":
            return "none"
        if not _TILE_URL.match(v) or not all(k in v for k in ("{z}", "{x}", "{y}")):
            msg = (
                f"basemap {v!r}: give 'none' or a tile URL template such as "
                "'http://tiles.intranet/{z}/{x}/{y}.png'"
            )
            raise ValueError(msg)
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
        Token → holder name (``token-<sha256 prefix>`` for an unnamed token).

    Raises
    ------
    InputFormatError
        A token shorter than 12 characters, an empty name, or a repeated token.
    """
    out: dict[str, str] = {}
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
            name = "token-" + hashlib.sha256(token.encode()).hexdigest()[:8]
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
    token = os.environ.get(TOKEN_ENV, "")
    if "api_token" not in values and token.strip():
        values["api_token"] = token
    try:
        return WebSettings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        msg = f"web app options are not valid: {problems}"
        raise InputFormatError(msg) from exc
