"""ecozone/cli/_process.py: the batch command's native-memory settings."""

from __future__ import annotations

import subprocess
import sys


def test_lean_native_heap_puts_arrow_on_the_system_allocator():
    # in a child process: the setting is process-wide
    code = (
        "import pyarrow as pa\n"
        "from ecozone.cli._process import lean_native_heap\n"
        "before = pa.default_memory_pool().backend_name\n"
        "lean_native_heap()\n"
        "print(before, pa.default_memory_pool().backend_name)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = out.stdout.split()
    assert after == "system"
    assert before in ("jemalloc", "mimalloc", "system")


def test_paused_gc_turns_the_collector_back_on_in_a_longer_lived_process():
    import gc

    from ecozone.cli._process import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_console_script_leaves_the_collector_off_and_freezes_the_heap():
    # in a child process: the settings are process-wide
    code = (
        "import gc\n"
        "from ecozone.cli._process import command_process, paused_gc\n"
        "with command_process():\n"
        "    with paused_gc():\n"
        "        pass\n"
        "    print(gc.isenabled(), gc.get_freeze_count() > 0)\n"  # off: no walk after it
        "print(gc.isenabled(), gc.get_freeze_count() > 0)\n"  # frozen as the command ends
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True", "True"]
