"""The web app's runner (ecozone/web/runner.py): quick calls one at a time, time limits."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ecozone.web.errors import ApiError
from ecozone.web.runner import Runner, capture_warnings


class Probe:
    """A call that records how many calls run at once and the order they start in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[int] = []

    def call(self, i: int, seconds: float) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(i)
        time.sleep(seconds)
        with self.lock:
            self.running -= 1
        return i


def test_quick_calls_run_one_at_a_time_in_arrival_order():
    runner = Runner(4, quick_slot_s=5.0)
    probe = Probe()

    async def main() -> list[int]:
        calls = [runner.run_quick(probe.call, i, 0.02, timeout=10, what="check") for i in range(6)]
        return await asyncio.gather(*calls)

    try:
        assert asyncio.run(main()) == list(range(6))
    finally:
        runner.shutdown()
    assert probe.most == 1  # four threads, yet one quick call at a time
    assert probe.started == list(range(6))


def test_plain_calls_still_run_side_by_side():
    runner = Runner(4)
    probe = Probe()

    async def main() -> None:
        await asyncio.gather(
            *(runner.run(probe.call, i, 0.2, timeout=10, what="report") for i in range(4))
        )

    try:
        asyncio.run(main())
    finally:
        runner.shutdown()
    assert probe.most == 4


def test_a_slow_quick_call_gives_up_its_turn():
    runner = Runner(4, quick_slot_s=0.05)
    done: list[str] = []

    def work(name: str, seconds: float) -> str:
        time.sleep(seconds)
        done.append(name)
        return name

    async def main() -> None:
        slow = asyncio.ensure_future(runner.run_quick(work, "slow", 0.5, timeout=10, what="a"))
        await asyncio.sleep(0.01)  # the slow call holds the turn first
        t0 = time.perf_counter()
        assert await runner.run_quick(work, "fast", 0.0, timeout=10, what="b") == "fast"
        assert time.perf_counter() - t0 < 0.4  # it did not wait for the slow one to end
        await slow

    try:
        asyncio.run(main())
    finally:
        runner.shutdown()
    assert done == ["fast", "slow"]


def test_waiting_for_the_turn_counts_towards_the_time_limit():
    runner = Runner(2, quick_slot_s=5.0)

    async def main() -> None:
        first = asyncio.ensure_future(
            runner.run_quick(time.sleep, 0.6, timeout=10, what="the first check")
        )
        await asyncio.sleep(0.01)
        with pytest.raises(ApiError, match="time limit") as info:
            await runner.run_quick(time.sleep, 0.0, timeout=0.1, what="the site check")
        assert info.value.status == 504
        await first  # the turn is given back: the next call runs
        await runner.run_quick(time.sleep, 0.0, timeout=1, what="another check")

    try:
        asyncio.run(main())
    finally:
        runner.shutdown()


def test_a_quick_call_that_passes_its_limit_is_answered_504():
    runner = Runner(2, quick_slot_s=5.0)

    async def main() -> None:
        with pytest.raises(ApiError, match="took longer") as info:
            await runner.run_quick(time.sleep, 0.5, timeout=0.05, what="the site check")
        assert info.value.status == 504

    try:
        asyncio.run(main())
    finally:
        runner.shutdown()


def test_an_inline_quick_call_runs_in_the_event_loop_thread():
    runner = Runner(2)

    async def main() -> tuple[int, int, int]:
        loop_thread = threading.get_ident()
        inline = await runner.run_quick(threading.get_ident, timeout=1, what="a", inline=True)
        pooled = await runner.run_quick(threading.get_ident, timeout=1, what="b")
        return loop_thread, inline, pooled

    try:
        loop_thread, inline, pooled = asyncio.run(main())
    finally:
        runner.shutdown()
    assert inline == loop_thread
    assert pooled != loop_thread


def test_an_inline_call_goes_to_a_thread_while_another_thread_holds_the_warnings_lock():
    runner = Runner(2)
    held, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with capture_warnings():
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    held.wait(5)

    async def main() -> tuple[int, int]:
        # the loop must not wait for the lock: the call is handed to a pool thread,
        # which waits there (its own capture_warnings) until the holder lets go
        def work() -> int:
            with capture_warnings():
                return threading.get_ident()

        call = asyncio.ensure_future(runner.run_quick(work, timeout=5, what="a", inline=True))
        await asyncio.sleep(0.05)
        assert not call.done()  # waiting in its thread, the loop still runs
        release.set()
        return threading.get_ident(), await call

    try:
        loop_thread, ran_in = asyncio.run(main())
    finally:
        release.set()
        holder.join()
        runner.shutdown()
    assert ran_in != loop_thread


def test_an_inline_call_waits_its_turn_behind_a_running_quick_call():
    runner = Runner(2, quick_slot_s=5.0)
    order: list[str] = []

    def work(name: str, seconds: float) -> int:
        time.sleep(seconds)
        order.append(name)
        return threading.get_ident()

    async def main() -> tuple[int, int]:
        first = asyncio.ensure_future(runner.run_quick(work, "polygon", 0.2, timeout=5, what="a"))
        await asyncio.sleep(0.01)  # the polygon holds the turn
        point = await runner.run_quick(work, "point", 0.0, timeout=5, what="b", inline=True)
        await first
        return threading.get_ident(), point

    try:
        loop_thread, point_thread = asyncio.run(main())
    finally:
        runner.shutdown()
    assert order == ["polygon", "point"]  # arrival order kept
    assert point_thread != loop_thread
