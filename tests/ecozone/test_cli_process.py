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
