"""A headless Chromium kept between prints, driven over its DevTools pipe.

Starting Chromium costs about a second; printing a report in a running one, a quarter
of that. :func:`print_pdf` prints an HTML file in the process's one browser
(:class:`Browser`), started on first use and closed after :data:`IDLE_S` seconds
without a print (and when the process exits): a ``--report --each`` run or the web
app's PDF downloads start it once.

The browser is spoken to with the Chrome DevTools Protocol over
``--remote-debugging-pipe`` (JSON messages ending in a NUL byte, commands on the
child's file descriptor 3, answers and events on 4): no port is opened and no client
library is needed. One print at a time per browser; a print that does not finish
within its timeout, or a browser that died, closes the browser (the next print
starts a new one). The page is printed as ``chromium --print-to-pdf
--no-pdf-header-footer`` prints it (page size from the CSS ``@page``, backgrounds):
the same pages to the pixel.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import logging
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from geo.io.atomic import replacing_file

log = logging.getLogger(__name__)

__all__ = [
    "IDLE_S",
    "QUIET_FLAGS",
    "Browser",
    "chromium_path",
    "print_pdf",
    "remove_stale_profiles",
]

#: Seconds without a print after which the kept browser is closed (it holds about
#: 150 MB).
IDLE_S = 60.0
#: How ecozone runs Chromium anywhere (the tests' browser too): in a container as
#: root, no GPU, and offline (no update, sync or background requests).
QUIET_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
_FLAGS = ("--headless", *QUIET_FLAGS, "--remote-debugging-pipe")
#: What ``--print-to-pdf --no-pdf-header-footer`` prints.
_PRINT = {"printBackground": True, "preferCSSPageSize": True, "displayHeaderFooter": False}


def chromium_path() -> str | None:
    """The Chromium executable on ``PATH`` (Debian's ``chromium`` first), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


#: Profile folders are ``ecozone-chromium-<pid of the process that started it>-*``.
_PROFILE_PREFIX = "ecozone-chromium-"
#: A profile folder untouched this long, whose process is gone, is left over.
_STALE_S = 600.0


def remove_stale_profiles(folder: Path) -> list[Path]:
    """Remove the Chromium profiles in ``folder`` whose process ended without removing them.

    A browser removes its profile (2–3 MB) when it closes; a process killed by force
    (a web worker past its time limit, or leaving at once after a task that grew its
    memory) leaves it behind: on a long-running server, one folder per such worker.
    A folder goes when the process in its name is gone and nothing has written to it
    for :data:`_STALE_S` seconds (its Chromium ends as soon as its pipe closes).

    Returns
    -------
    list of pathlib.Path
        The folders removed.
    """
    removed = []
    now = time.time()
    for path in folder.glob(f"{_PROFILE_PREFIX}*-*"):
        pid = path.name[len(_PROFILE_PREFIX) :].split("-", 1)[0]
        try:
            if not pid.isdigit() or now - path.stat().st_mtime < _STALE_S:
                continue
            os.kill(int(pid), 0)  # (raises when no such process)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except OSError:  # gone meanwhile, or another user's process: not ours to judge
            continue
    if removed:
        log.info("removed %d Chromium profile(s) left by ended processes", len(removed))
    return removed


class Browser:
    """One headless Chromium and its DevTools pipe.

    Parameters
    ----------
    executable
        The Chromium to start (the first print waits for it to answer).

    Raises
    ------
    RuntimeError
        Chromium could not be started.
    """

    def __init__(self, executable: str) -> None:
        remove_stale_profiles(Path(tempfile.gettempdir()))
        self._profile = tempfile.mkdtemp(prefix=f"{_PROFILE_PREFIX}{os.getpid()}-")
        to_child, self._commands = os.pipe()
        self._answers, from_child = os.pipe()
        # Chromium reads the pipe on descriptor 3 and writes on 4: bash puts them there
        # (no Python code runs in the forked child, which a threaded server forbids;
        # dash's redirections take one-digit descriptors only)
        shell = f'exec "$@" 3<&{to_child} 4>&{from_child}'
        args = [executable, *_FLAGS, f"--user-data-dir={self._profile}", "about:blank"]
        try:
            self.process = subprocess.Popen(
                [shutil.which("bash") or "/bin/bash", "-c", shell, "bash", *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(to_child, from_child),
            )
        except OSError as err:
            self._close_fds()
            shutil.rmtree(self._profile, ignore_errors=True)
            msg = f"Chromium could not be started ({err})"
            raise RuntimeError(msg) from err
        finally:
            os.close(to_child)
            os.close(from_child)
        self._buffer = b""
        self._events: list[dict[str, Any]] = []  # events that came while a call waited
        self._next_id = 0
        self._session: str | None = None  # the page's, once attached (see _attach)
        self.last_used = time.monotonic()

    def _attach(self, timeout: float) -> None:
        """Open the page that prints (once, at the first print)."""
        if self._session is not None:
            return
        target = self.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
        attached = self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
            timeout=timeout,
        )  # fmt: skip
        self._session = attached["sessionId"]
        self.call("Page.enable", session=True, timeout=timeout)

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: bool = False,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Send one DevTools command and return its result.

        Raises
        ------
        RuntimeError
            The browser answered with an error, died, or did not answer in ``timeout``.
        """
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        try:
            os.write(self._commands, json.dumps(msg).encode() + b"\0")
        except OSError as err:
            msg_ = f"Chromium is gone ({err})"
            raise RuntimeError(msg_) from err
        wanted = self._next_id
        answer = self._read(lambda m: m.get("id") == wanted, time.monotonic() + timeout, method)
        if "error" in answer:
            msg_ = f"Chromium refused {method}: {answer['error'].get('message', answer['error'])}"
            raise RuntimeError(msg_)
        return answer.get("result", {})

    def _event(self, method: str, deadline: float, what: str) -> dict[str, Any]:
        """The first event ``method`` (kept from earlier reads, or still to come)."""
        for i, event in enumerate(self._events):
            if event.get("method") == method:
                return self._events.pop(i)
        return self._read(lambda m: m.get("method") == method, deadline, what)

    def _read(self, done: Any, deadline: float, what: str) -> dict[str, Any]:
        """Read messages until ``done`` accepts one; the events read meanwhile are kept."""
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if message.get("method") == "Inspector.targetCrashed":
                    msg = f"Chromium's page crashed during {what}"
                    raise RuntimeError(msg)
                if done(message):
                    return message
                if "method" in message:
                    self._events.append(message)
            left = deadline - time.monotonic()
            if left <= 0:
                msg = f"Chromium did not finish {what} in time"
                raise RuntimeError(msg)
            ready, _, _ = select.select([self._answers], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                msg = f"Chromium exited during {what} (code {self.process.poll()})"
                raise RuntimeError(msg)
            self._buffer += chunk

    def print_pdf(self, url: str, *, timeout: float = 120) -> bytes:
        """Load ``url`` and print it as PDF (A4 or the page's ``@page`` size).

        Raises
        ------
        RuntimeError
            The page could not be loaded or printed within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        self._attach(timeout)
        self._events.clear()  # (an earlier page's)
        nav = self.call("Page.navigate", {"url": url}, session=True, timeout=timeout)
        if nav.get("errorText"):
            msg = f"Chromium could not open {url}: {nav['errorText']}"
            raise RuntimeError(msg)
        self._event("Page.loadEventFired", deadline, f"loading {url}")
        # web fonts (the report's @font-face data) loaded before the pages are laid out
        self.call(
            "Runtime.evaluate",
            {"expression": "document.fonts.ready.then(() => true)", "awaitPromise": True},
            session=True,
            timeout=max(deadline - time.monotonic(), 0.1),
        )
        printed = self.call(
            "Page.printToPDF", _PRINT, session=True, timeout=max(deadline - time.monotonic(), 0.1)
        )
        self.last_used = time.monotonic()
        return base64.b64decode(printed["data"])

    def alive(self) -> bool:
        """Whether the browser process still runs."""
        return self.process.poll() is None

    def close(self) -> None:
        """Close the browser (politely, then by force) and remove its profile."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                close = json.dumps({"id": 0, "method": "Browser.close"}).encode()
                os.write(self._commands, close + b"\0")
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._close_fds()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _close_fds(self) -> None:
        for fd in (self._commands, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)


_BROWSER: Browser | None = None
_BROWSER_PID = 0  # the process that started it (a forked worker starts its own)
_LOCK = threading.Lock()


def print_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 120) -> Path:
    """Print the HTML file ``html_path`` to ``pdf_path`` in the kept browser.

    The PDF is written beside ``pdf_path`` and renamed over it: no half-written file.
    ``timeout`` bounds the whole call, the wait for another thread's print included.

    Raises
    ------
    RuntimeError
        Chromium is not installed (``apt-get install chromium``), other prints held the
        browser for all of ``timeout``, or printing failed (the browser is then closed;
        the next print starts a new one).
    """
    global _BROWSER
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    executable = chromium_path()
    if not executable:
        msg = "no PDF engine: install Debian 'chromium' (scripts/system-deps.sh)"
        raise RuntimeError(msg)
    deadline = time.monotonic() + timeout
    if not _LOCK.acquire(timeout=max(timeout, 0.0)):  # one print at a time: one page, one pipe
        msg = f"Chromium was busy with other prints for {timeout:g} s; {html_path} not printed"
        raise RuntimeError(msg)
    try:
        kept = _kept(executable)
        try:
            data = kept.print_pdf(html_path.as_uri(), timeout=max(deadline - time.monotonic(), 0.1))
        except (RuntimeError, ValueError, KeyError) as err:  # (ValueError: a garbled message)
            kept.close()
            _BROWSER = None
            msg = f"Chromium could not print {html_path} to PDF: {err}"
            raise RuntimeError(msg) from err
    finally:
        _LOCK.release()
    with replacing_file(pdf_path) as tmp:
        tmp.write_bytes(data)
    return pdf_path


def _kept(executable: str) -> Browser:
    """The process's browser, started if there is none or it died (hold ``_LOCK``)."""
    global _BROWSER, _BROWSER_PID
    if _BROWSER is not None and (_BROWSER_PID != os.getpid() or not _BROWSER.alive()):
        if _BROWSER_PID == os.getpid():
            _BROWSER.close()
        _BROWSER = None  # (a parent's browser is the parent's to close)
    if _BROWSER is None:
        _BROWSER, _BROWSER_PID = Browser(executable), os.getpid()
        _close_when_idle(_BROWSER)
    return _BROWSER


def _close_when_idle(browser: Browser) -> None:
    """Close ``browser`` once it has printed nothing for :data:`IDLE_S` seconds."""

    def check() -> None:
        global _BROWSER
        with _LOCK:
            if _BROWSER is not browser:
                return
            idle = time.monotonic() - browser.last_used
            if idle >= IDLE_S:
                browser.close()
                _BROWSER = None
                return
        _schedule(IDLE_S - idle)

    def _schedule(delay: float) -> None:
        timer = threading.Timer(delay, check)
        timer.daemon = True
        timer.start()

    _schedule(IDLE_S)


@atexit.register
def _close_at_exit() -> None:
    if _BROWSER is not None and _BROWSER_PID == os.getpid():
        _BROWSER.close()
