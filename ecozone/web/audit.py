"""Who imported what, and when: an append-only JSON Lines log beside the layer store.

Every import request that reaches the server is recorded, whether it succeeded,
failed validation or was refused for want of a valid token: the time (UTC), the
token holder's name (never the token) or ``anonymous``, the client address, the
layer, kind, source, the uploaded file's name, size and sha256, and the outcome
(with the new version and checksum on success). One line per event, appended under
a lock with ``O_APPEND``, so concurrent writers never interleave within a line.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["AuditLog"]

_MAX_FIELD = 500


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_FIELD:
        return value[:_MAX_FIELD] + "…"
    return value


class AuditLog:
    """The import audit log.

    Parameters
    ----------
    path
        The ``.jsonl`` file (created on first record), or ``None`` to keep records
        in memory only (a store without a file path).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._memory: deque[dict[str, Any]] = deque(maxlen=1000)

    def record(self, **event: Any) -> dict[str, Any]:
        """Append one event; ``time`` is added. Returns the stored record."""
        rec = {"time": datetime.now(UTC).isoformat(timespec="seconds")}
        rec.update({k: _short(v) for k, v in event.items()})
        line = json.dumps(rec, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self._memory.append(rec)
            if self.path is not None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                    try:
                        os.write(fd, line.encode("utf-8"))
                    finally:
                        os.close(fd)
                except OSError as exc:  # the import itself is already done or refused
                    log.error("cannot write the audit log %s: %s", self.path, exc)
        log.info("audit: %s", line.strip())
        return rec

    def read(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """The latest ``limit`` events, newest first."""
        if self.path is None or not self.path.exists():
            with self._lock:
                return list(reversed(self._memory))[:limit]
        tail: deque[str] = deque(maxlen=limit)
        with self._lock, self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    tail.append(line)
        out = []
        for line in reversed(tail):
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"time": None, "outcome": "unreadable", "message": line[:200]})
        return out
