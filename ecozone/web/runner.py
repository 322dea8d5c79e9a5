"""Run library calls beside the event loop, cut off by a time limit.

Checks, reports and coverage run in a small thread pool so that the server keeps
answering while one of them works. A call that passes its time limit is answered
with 504 at once; its thread cannot be killed, so it finishes in the background
(bounded by the pool size) and its result is dropped or cached.

Single-site checks (:meth:`Runner.run_quick`) are short (a few ms), pure-Python-heavy
work: several at once in one process only fight for the GIL, which on two cores cost
about 2 ms of CPU per check and halved the requests answered per second. So at most
one quick call runs at a time per process (the others wait in order, in the event
loop, not in a thread), and a quick call still running after ``quick_slot_s`` (a big
polygon) gives up its turn, so that it never holds the others back longer than that.

A call the caller knows to be bounded and short (``inline=True``: reading a site
that is one point) runs in the event loop itself: handing a point check to a thread
and back cost 1.6 ms of CPU, more than the check. It still goes to a thread when
another thread holds the warnings lock (the loop never waits for a lock) or another
quick call holds the turn.

Python's warning filters are process-wide and :class:`warnings.catch_warnings` is
not thread-safe, so the short parsing steps whose warnings the user should see
(swapped coordinates, repaired polygons, rejected rows) record them under one lock
(:func:`capture_warnings`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from ecozone.web.errors import ApiError

log = logging.getLogger(__name__)

__all__ = ["Runner", "capture_warnings"]

T = TypeVar("T")
_WARN_LOCK = threading.RLock()


@contextlib.contextmanager
def capture_warnings() -> Iterator[list[str]]:
    """Record the warnings raised inside the block as messages (one thread at a time).

    Yields
    ------
    list of str
        Filled with each distinct warning message when the block ends.
    """
    notes: list[str] = []
    with _WARN_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield notes
        finally:
            for w in caught:
                text = str(w.message)
                if text not in notes:
                    notes.append(text)


class Runner:
    """A thread pool whose calls have a time limit.

    Parameters
    ----------
    threads
        Worker threads.
    quick_slot_s
        How long a quick call (:meth:`run_quick`) keeps the other quick calls waiting.
    """

    def __init__(self, threads: int, *, quick_slot_s: float = 0.1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ecozone-web")
        self._quick_slot_s = quick_slot_s
        # one turn per event loop (an asyncio.Semaphore belongs to the loop it waits in)
        self._quick: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Start ``fn`` in the pool and return its future."""
        return self._pool.submit(fn, *args, **kwargs)

    async def wait(self, future: Future[T], *, timeout: float, what: str) -> T:
        """Wait for ``future`` at most ``timeout`` seconds.

        Raises
        ------
        ApiError
            504 when the time limit passes (the work goes on in its thread).
        """
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
        except TimeoutError as exc:
            log.warning("%s passed the time limit of %.0f s", what, timeout)
            msg = (
                f"超时 / {what} took longer than the time limit of {timeout:g} s and was "
                "stopped; use a smaller input (or the batch tab for many sites), or ask the "
                "administrator to raise --time-limit"
            )
            raise ApiError(504, "timeout", msg) from exc

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float, what: str) -> T:
        """Run ``fn(*args)`` in the pool, waiting at most ``timeout`` seconds.

        On timeout a call still queued is cancelled (nobody waits for it any more).
        """
        future = self.submit(fn, *args)
        try:
            return await self.wait(future, timeout=timeout, what=what)
        except ApiError:
            future.cancel()
            raise

    async def run_quick(
        self, fn: Callable[..., T], *args: Any, timeout: float, what: str, inline: bool = False
    ) -> T:
        """As :meth:`run`, for a short call: one at a time per process, in arrival order.

        The turn passes to the next quick call when this one ends, or after
        ``quick_slot_s`` if it is still running; the time waiting for the turn counts
        towards ``timeout``. With ``inline=True`` (only for calls whose work is bounded
        to a few milliseconds: the time limit does not apply) the call runs in the
        event loop when nothing else holds the turn or the warnings lock.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        turn = self._quick.get(loop)
        if turn is None:
            turn = self._quick[loop] = asyncio.Semaphore(1)
        if inline and not turn.locked() and _WARN_LOCK.acquire(blocking=False):
            try:  # the lock is re-entrant: capture_warnings inside fn takes it again
                return fn(*args)
            finally:
                _WARN_LOCK.release()
        try:
            await asyncio.wait_for(turn.acquire(), timeout)
        except TimeoutError as exc:
            log.warning("%s waited longer than the time limit of %.0f s", what, timeout)
            msg = (
                f"超时 / {what} waited longer than the time limit of {timeout:g} s: the "
                "server is busy; try again, or ask the administrator to add workers"
            )
            raise ApiError(504, "timeout", msg) from exc
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                turn.release()

        timer = loop.call_later(self._quick_slot_s, release)
        try:
            future = self.submit(fn, *args)
        except BaseException:
            timer.cancel()
            release()
            raise

        def done(_: Future[T]) -> None:
            def finish() -> None:
                timer.cancel()
                release()

            with contextlib.suppress(RuntimeError):  # the loop closed (server shutdown)
                loop.call_soon_threadsafe(finish)

        future.add_done_callback(done)
        try:
            left = max(timeout - (loop.time() - start), 0.0)
            return await self.wait(future, timeout=left, what=what)
        except ApiError:
            future.cancel()
            raise

    def shutdown(self) -> None:
        """Stop accepting work; running calls finish in their threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
