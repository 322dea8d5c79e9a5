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
