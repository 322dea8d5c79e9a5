"""ecozone/cli/_process.py: the batch command's native-memory settings."""

from __future__ import annotations

import subprocess
import sys

import pytest


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


_MAPPED_BLOCKS = """
import ctypes, ctypes.util, sys

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
if sys.argv[1] == "lean":
    from ecozone.cli._process import lean_native_heap
    lean_native_heap()
before = libc.mallinfo2().hblks
block = libc.malloc(8 << 20)  # a large chunk's array
print(libc.mallinfo2().hblks - before)
libc.free(ctypes.c_void_p(block))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_lean_native_heap_keeps_chunk_sized_blocks_on_the_heap():
    # glibc maps a fresh process's blocks from 128 KB up on their own, and unmaps them
    # when freed: each chunk's arrays then cost page faults again (RESULTS.md)
    def mapped(mode):
        out = subprocess.run(
            [sys.executable, "-c", _MAPPED_BLOCKS, mode], capture_output=True, text=True
        )
        if out.returncode != 0 and "mallinfo2" in out.stderr:
            pytest.skip("not glibc >= 2.33")
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    assert mapped("default") == 1
    assert mapped("lean") == 0


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
