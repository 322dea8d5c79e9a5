"""geo.cores: the cores this process may run on."""

from __future__ import annotations

import os

import pytest

from geo.cores import available_cores


def test_follows_the_affinity():
    assert available_cores() == len(os.sched_getaffinity(0))


def test_a_narrowed_affinity_is_respected():
    before = os.sched_getaffinity(0)
    if len(before) < 2:
        pytest.skip("needs two cores")
    os.sched_setaffinity(0, {min(before)})
    try:
        assert available_cores() == 1
    finally:
        os.sched_setaffinity(0, before)


def test_thread_map_keeps_the_items_order_on_several_threads():
    import threading

    from geo.cores import thread_map

    seen = set()

    def work(i):
        seen.add(threading.get_ident())
        return i * i

    assert thread_map(work, list(range(50)), 2) == [i * i for i in range(50)]
    seen.clear()
    assert thread_map(work, [3], 4) == [9]
    assert seen == {threading.get_ident()}  # one item: in the calling thread
    seen.clear()
    assert thread_map(work, [1, 2, 3], 1) == [1, 4, 9]
    assert seen == {threading.get_ident()}
