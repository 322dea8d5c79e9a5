"""geo.io.chunks.read_ahead: chunks read in a background thread, same order, errors kept."""

from __future__ import annotations

import threading
import time

import pytest

from geo.io.chunks import read_ahead


def test_same_items_in_order():
    with read_ahead(iter(range(1000))) as items:
        assert list(items) == list(range(1000))


def test_reads_in_another_thread_while_the_caller_works():
    threads = []

    def gen():
        for i in range(3):
            threads.append(threading.current_thread().name)
            yield i

    with read_ahead(gen()) as items:
        assert list(items) == [0, 1, 2]
    assert set(threads) == {"ecozone-read-ahead"}


def test_error_surfaces_at_the_chunk_where_it_happened():
    def gen():
        yield 1
        yield 2
        raise ValueError("row 3 is bad")

    got = []
    with pytest.raises(ValueError, match="row 3 is bad"), read_ahead(gen()) as items:
        for x in items:
            got.append(x)
    assert got == [1, 2]


def test_reads_at_most_depth_ahead_and_stops_on_early_exit():
    produced = []
    closed = threading.Event()

    def gen():
        try:
            for i in range(100):
                produced.append(i)
                yield i
        finally:
            closed.set()

    with read_ahead(gen(), depth=2) as items:
        assert next(items) == 0
        time.sleep(0.3)  # the reader fills the queue and waits
        # one item taken, two queued, one read and waiting to be queued
        assert len(produced) <= 4
    assert closed.wait(2)  # leaving the block stopped the reader and closed the generator
    assert len(produced) <= 5
