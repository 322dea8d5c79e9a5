"""Settings of the ``ecozone`` process itself (not of the library): native memory, GC.

A streamed batch frees most of what each chunk allocates, but glibc keeps freed
memory in one arena per thread (up to eight per core) and Arrow's jemalloc pool keeps
freed pages for reuse, so the resident size grew about 130 bytes per site. With at
most two arenas and Arrow on the system allocator, set here at the start of the
batch, 4 000 000 points peaked at 1.07–1.08 GB instead of 1.17–1.23 GB, no slower
(``benchmarks/RESULTS.md``). Each chunk's arrays (hundreds of kilobytes to megabytes)
were also mapped and unmapped, or trimmed from the heap and touched again: 270 000
page faults and 0.9 s of system time for 1 000 000 points. With blocks below 32 MB
kept on the heap and up to 64 MB of free heap kept per arena, it is 125 000 faults
and 0.6 s, at the same peak.

A short command builds its objects once and keeps them to the end: Python's cyclic
garbage collector, run while the engine's libraries are imported and the layers
indexed, and once more over the whole heap at exit, found almost nothing to free and
cost about a sixth of a single-site check. :func:`paused_gc` holds it off over such
bounded work; :func:`command_process` (the console script) spares the walks after it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["command_process", "lean_native_heap", "paused_gc"]

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
#: Free bytes an arena keeps at its top before giving them back to the system.
_TRIM_BYTES = 64 << 20
#: Blocks from this size up get their own mapping (glibc's largest default, fixed).
_MMAP_BYTES = 32 << 20
#: Whether the process ends with the command it runs (within :func:`command_process`).
_ENDS_WITH_COMMAND = False


def lean_native_heap(arenas: int = 2) -> None:
    """Tune the native heap for a streamed batch (best effort).

    Limits glibc's malloc arenas, keeps chunk-sized blocks on the heap, and puts Arrow
    on the system allocator. Call once, early, in a command that streams a large
    batch; elsewhere (musl, macOS, no pyarrow) it does nothing.

    Parameters
    ----------
    arenas
        Most malloc arenas glibc may create from now on.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_ARENA_MAX, int(arenas))
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)
    except (OSError, AttributeError):  # not glibc
        pass
    try:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Hold off the cyclic garbage collector over a bounded piece of work.

    Reference counting still frees every object without cycles; cycles made meanwhile
    wait for the next collection. Use it around work whose garbage is small and
    bounded (one site check), never around a loop over an input's rows. Within
    :func:`command_process` the collector stays off to the end: turned on again, it
    would first walk every object made meanwhile, for nothing.

    Yields
    ------
    None
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled and not _ENDS_WITH_COMMAND:
            gc.enable()


@contextlib.contextmanager
def command_process() -> Iterator[None]:
    """Run the console script's one command: the process ends with it.

    As the command ends the heap is frozen (:func:`gc.freeze`), so that neither a
    collection after :func:`paused_gc` nor Python's last one at exit walks it: the
    operating system takes the memory back. Finalisers registered with :mod:`atexit`
    or :class:`weakref.finalize` still run.

    Yields
    ------
    None
    """
    global _ENDS_WITH_COMMAND
    was_enabled = gc.isenabled()
    _ENDS_WITH_COMMAND = True
    try:
        yield
    finally:
        gc.freeze()
        _ENDS_WITH_COMMAND = False
        if was_enabled:
            gc.enable()  # nothing young to walk: the frozen heap is left alone
