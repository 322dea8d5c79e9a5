"""Heavy requests run in worker processes that are killed when their time is up.

A thread cannot be stopped: a request that passed its time limit in a thread went on
working (a DXF of nested blocks for two minutes, a 19 000-part polygon with 4.5 GB),
and every other request waited behind it. Parsing uploads, polygon and batch checks,
reports and layer-file reading therefore run in a :class:`WorkerPool`:

- each worker is a process (forked from a ``forkserver`` that has the library and
  the report writers imported, so a new worker is ready in a fraction of a second;
  the server starts them when it starts, :meth:`WorkerPool.start`) with an address
  space limit (``resource.setrlimit(RLIMIT_AS)``, ``--worker-memory-mb``): an input
  that needs more memory fails with :class:`MemoryError` inside the worker, which
  answers 413 and exits, and its memory returns to the system;
- a task is one function call, sent over a pipe with its arguments (pickled); the
  caller waits at most its time limit, then kills the worker (SIGKILL) and starts a
  new one, and answers 504: the work is gone and so is its memory;
- a worker keeps its own store connection and checkers between tasks
  (:func:`worker_packs`), rebuilt when the store changes.

Point checks never come here: they keep the fast path in the server process
(:mod:`ecozone.web.runner`).

Errors cross the pipe as (status, code, message): the worker maps ecozone errors to
their HTTP status (:func:`ecozone.web.errors.status_of`), a full disk to 413 with
the free space, and logs anything unexpected with its traceback (answered 500).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import queue
import resource
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ecozone.web.errors import ApiError, describe_os_error, status_of
from geo.errors import EcozoneError

log = logging.getLogger(__name__)

__all__ = [
    "WorkerPool",
    "child_programs_unbounded",
    "use_in_process",
    "worker_packs",
    "worker_store",
]

T = TypeVar("T")

# Imported once in the fork server: every worker starts with them loaded. The report
# modules (matplotlib's site map, the HTML, DOCX and PDF writers) too: a new worker's
# first report took 1.65 s instead of 0.37 s importing them, and workers are new after
# every recycle or kill (+125 MB of address space in each worker, shared pages).
_PRELOAD = [
    "ecozone.web.tasks",
    "maps.printmap",
    "zoning.report.build",
    "zoning.report.html",
    "zoning.report.docx",
    "zoning.report.pdf",
    "zoning.report.browser",
]

_GENERIC_500 = "服务器内部错误 / internal server error; the details are in the server log"

# The worker's own state: set in the worker process only.
_STATE: dict[str, Any] = {}


_M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)


def worker_store() -> Any:
    """The layer store of this worker process (opened on first use)."""
    store = _STATE.get("store")
    if store is None:
        from layers import open_store

        store = _STATE["store"] = open_store(_STATE["store_ref"])
    return store


def worker_packs() -> Any:
    """The :class:`ecozone.web.checks.PackCache` of this worker process."""
    packs = _STATE.get("packs")
    if packs is None:
        from ecozone.web.checks import PackCache

        packs = _STATE["packs"] = PackCache(worker_store())
    return packs


@contextlib.contextmanager
def child_programs_unbounded() -> Iterator[None]:
    """Lift this worker's memory limit while a child program is started and waited for.

    Chromium (PDF reports) reserves far more address space than it uses and does not
    start under the worker's limit; it is bounded by its own time limit instead.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def use_in_process(store: Any, packs: Any) -> None:
    """Let the task functions run in this process (an app without worker processes)."""
    _STATE.update(store=store, packs=packs)


def _out_of_memory(exc: BaseException) -> bool:
    """A MemoryError, or GEOS's std::bad_alloc under the worker's address-space limit."""
    return isinstance(exc, MemoryError) or (
        type(exc).__name__ == "GEOSException" and "bad_alloc" in str(exc)
    )


def _as_error(exc: BaseException) -> tuple[int, str, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if _out_of_memory(exc):
        limit = _STATE.get("memory_mb")
        msg = (
            "输入过于复杂 / the input needs more memory than a request may use"
            + (f" ({limit:.0f} MB)" if limit else "")
            + "; use a smaller or simpler input (fewer parts or vertices), or the batch check"
        )
        return 413, "too_complex", msg
    if isinstance(exc, EcozoneError):
        status, code = status_of(exc)
        return status, code, str(exc)[:4000]
    if isinstance(exc, OSError):
        full = describe_os_error(exc)
        if full is not None:
            return full
    log.error("unhandled error in a web worker:\n%s", "".join(traceback.format_exception(exc)))
    return 500, "internal", _GENERIC_500


def _rss_mb() -> float:
    try:
        with open(f"/proc/{os.getpid()}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _arrow_allocator_for_workers(environ: MutableMapping[str, str]) -> None:
    """Have Arrow allocate with the system's allocator in the worker processes.

    Arrow picks its allocator when it is imported, so the choice is made in the
    environment the forkserver starts with (its preloaded modules import pyarrow, and
    every worker is forked from it); a user's own ``ARROW_DEFAULT_MEMORY_POOL`` wins.
    Arrow's default, mimalloc, reserves 1 GiB of address space at its first
    allocation, which a worker's limit counts although it is never used: a worker
    that had warmed its pack stood at 1.76 GB of its 2 GB with 279 MB resident, and
    the largest upload the server takes (a 20 MB CSV of 425 000 points) was answered
    413. The system's allocator reserves nothing (that batch peaked at 1.07 GB of
    address space, against 2.09 GB).
    """
    environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def _serve(
    conn: Any,
    store_ref: str | None,
    memory_mb: float | None,
    tmp_dir: str | None,
    warm_pack: str | None = None,
    recycle_mb: float = 150.0,
) -> None:
    """The worker's loop: receive (fn, args), answer ("ok", result, leaving) or ("err", ...).

    A worker whose resident memory grew by more than ``recycle_mb`` since it was ready
    (a big polygon's peak that Python keeps) says so in its answer and leaves: the
    pool starts a fresh one, so memory comes back after heavy requests too.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its workers itself
    with contextlib.suppress(OSError):  # heavy work yields the CPU to point checks
        os.nice(10)
    if tmp_dir:  # the server's temporary folder (the fork server may have another)
        os.environ["TMPDIR"] = tempfile.tempdir = tmp_dir
    _STATE.update(store_ref=store_ref, memory_mb=memory_mb)
    if memory_mb:
        # one malloc arena: glibc reserves 64 MB of address space per arena for each new
        # thread (the batch's writer and check threads), which the limit below would
        # count although it is never used
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(_M_ARENA_MAX, 1)
        # the soft limit binds this process; the hard one stays open so that a child
        # program (Chromium printing a PDF) can be started without it
        limit = int(memory_mb * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    if warm_pack:  # the checker is built before the first task, not during it
        try:
            worker_packs().get(warm_pack)
        except Exception as exc:  # the first task reports it properly
            log.warning("web worker could not prepare pack %s: %s", warm_pack, exc)
    ready_mb = _rss_mb()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args = task
        try:
            answer: tuple[Any, ...] = ("ok", fn(*args), False)
        except BaseException as exc:  # every failure goes back as a status
            answer = ("err", *_as_error(exc))
            if _out_of_memory(exc):
                conn.send(answer)
                os._exit(3)  # leave: the memory goes back to the system
        leaving = recycle_mb > 0 and _rss_mb() - ready_mb > recycle_mb
        if leaving and answer[0] == "ok":
            answer = ("ok", answer[1], True)
        try:
            conn.send(answer)
        except MemoryError:
            conn.send(("err", *_as_error(MemoryError())))
            os._exit(3)
        except Exception as exc:  # an answer that cannot be pickled
            conn.send(("err", *_as_error(exc)))
        if leaving:
            os._exit(0)


class _Worker:
    def __init__(self, ctx: Any, pool: WorkerPool) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_serve,
            args=(
                child,
                pool.store_ref,
                pool.memory_mb,
                pool.tmp_dir,
                pool.warm_pack,
                pool.recycle_mb,
            ),
            daemon=True,
            name="ecozone-worker",
        )
        self.proc.start()
        child.close()

    def kill(self) -> None:
        if self.proc.is_alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.join(5)
        self.conn.close()


class WorkerPool:
    """Worker processes with a time limit per task and a memory limit per process.

    Parameters
    ----------
    size
        Worker processes (started by :meth:`start`, or on first use).
    store_ref
        Path or URL of the layer store each worker opens.
    memory_mb
        Address-space limit of each worker (``None``: none).
    tmp_dir
        Temporary folder of the workers (default: this process's).
    warm_pack
        Pack whose checker each new worker builds before its first task.
    recycle_mb
        A worker whose memory grew by more than this after a task is replaced
        (0: never).
    """

    def __init__(
        self,
        size: int,
        *,
        store_ref: str | None,
        memory_mb: float | None,
        tmp_dir: str | None = None,
        warm_pack: str | None = None,
        recycle_mb: float = 150.0,
    ) -> None:
        self.size = size
        self.warm_pack = warm_pack
        self.recycle_mb = recycle_mb
        self.tmp_dir = tmp_dir or tempfile.gettempdir()
        self.store_ref = store_ref
        self.memory_mb = memory_mb
        self.killed = 0
        self.recycled = 0
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._ctx: Any = None
        # threads only wait on pipes; a few per worker so queued requests keep their turn
        self._waiters = ThreadPoolExecutor(max_workers=size * 8, thread_name_prefix="ecozone-wait")

    def start(self) -> None:
        """Start the worker processes now (else on the first task); none once shut down.

        Each new worker builds the checker of ``warm_pack`` before its first task.
        """
        with self._lock:
            if self._started or self._closed:
                return
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(_PRELOAD)
            _arrow_allocator_for_workers(os.environ)  # (read by the forkserver it starts)
            self._ctx = ctx
            for _ in range(self.size):
                self._add()
            self._started = True

    def _add(self) -> None:
        w = _Worker(self._ctx, self)
        self._all.add(w)
        self._idle.put(w)

    def _replace(self, w: _Worker, *, killed: bool = True) -> None:
        w.kill()
        self.killed += killed
        self.recycled += not killed
        with self._lock:
            self._all.discard(w)
            if not self._closed:
                self._add()

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.proc.pid for w in list(self._all) if w.proc.pid is not None]

    def _call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float, what: str
    ) -> Any:
        deadline = time.monotonic() + timeout
        self.start()
        while True:
            try:
                w = self._idle.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise ApiError(504, "timeout", _busy(what)) from None
            try:
                w.conn.send((fn, args))
                break
            except (OSError, ValueError):  # the worker died while idle: use another
                self._replace(w, killed=False)
        try:
            ready = w.conn.poll(max(deadline - time.monotonic(), 0.0))
            if not ready:
                self._replace(w)
                raise ApiError(504, "timeout", _timeout(what, timeout))
            answer = w.conn.recv()
        except (EOFError, OSError):  # the worker died (out of memory in C code, killed)
            code = w.proc.exitcode
            self._replace(w)
            log.warning("a web worker ended (exit %s) during %s", code, what)
            status, code_s, msg = _as_error(MemoryError())
            raise ApiError(status, code_s, msg) from None
        if answer[0] == "ok":
            if answer[2]:  # the worker leaves to give its memory back: replace it
                self._replace(w, killed=False)
            else:
                self._idle.put(w)
            return answer[1]
        _, status, code, msg = answer
        if not w.proc.is_alive() or code == "too_complex":
            self._replace(w)
        else:
            self._idle.put(w)
        raise ApiError(status, code, msg)

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float, what: str) -> T:
        """Run ``fn(*args)`` in a worker process, at most ``timeout`` seconds.

        Raises
        ------
        ApiError
            504 when the time passes (the worker is killed and replaced), 413 when
            the worker runs out of memory, or the status of the error ``fn`` raised.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._waiters, self._call, fn, args, timeout, what)

    def shutdown(self) -> None:
        """Stop every worker."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for w in workers:
            w.kill()
        self._waiters.shutdown(wait=False, cancel_futures=True)


def _timeout(what: str, limit: float) -> str:
    return (
        f"超时 / {what} took longer than the time limit of {limit:g} s and was stopped "
        "(its work was ended); use a smaller input (or the batch tab for many sites), or "
        "ask the administrator to raise --time-limit"
    )


def _busy(what: str) -> str:
    return (
        f"超时 / {what} waited for a free worker longer than its time limit: the server is "
        "busy; try again, or ask the administrator to add workers"
    )
