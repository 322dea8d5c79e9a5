"""Settings of the ``ecozone`` process itself (not of the library): native memory.

A streamed batch frees most of what each chunk allocates, but glibc keeps freed
memory in one arena per thread (up to eight per core) and Arrow's jemalloc pool keeps
freed pages for reuse, so the resident size grew about 130 bytes per site. With at
most two arenas and Arrow on the system allocator, set here at the start of the
batch, 4 000 000 points peaked at 1.07–1.08 GB instead of 1.17–1.23 GB, no slower
(``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["lean_native_heap"]

_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def lean_native_heap(arenas: int = 2) -> None:
    """Limit glibc's malloc arenas and put Arrow on the system allocator (best effort).

    Call once, early, in a command that streams a large batch; elsewhere (musl, macOS,
    no pyarrow) it does nothing.

    Parameters
    ----------
    arenas
        Most malloc arenas glibc may create from now on.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_ARENA_MAX, int(arenas))
    except (OSError, AttributeError):  # not glibc
        pass
    try:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
