"""Write one GeoPackage layer from an Arrow IPC stream: the GDAL side of a chunked write.

:class:`geo.io.stream_writer.ChunkWriter` runs :func:`write_layer` in a child process
(this file as a script) for large outputs: pyogrio's ``write_arrow`` holds the
interpreter lock while GDAL writes, so in the batch's own process GDAL's writing (about
4 s for a million verdict rows) would stop the checks' Python work; in a child, GDAL
writes beside them. Small outputs are written by the same function on a thread, which
spares the child's start (its imports take about 0.45 s). Either way GDAL reads the
chunks as they come, in one session, so the layer's spatial index is built once, when
the stream ends.

Usage: ``python _gpkg_child.py PATH LAYER PARENT_PID``, the input on standard input
(see :func:`write_layer`); the exit status is 0 when the layer is complete, and GDAL's
message goes to standard error otherwise. Only pyarrow and pyogrio are imported. The
child dies with its parent (:func:`die_with`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from typing import BinaryIO

#: SQLite page cache of the child's GDAL session, in MB (GDAL's ``OGR_SQLITE_CACHE``).
SQLITE_CACHE_MB = "16"


def die_with(parent: int) -> None:
    """End this process when process ``parent`` ends, however it ends.

    A web worker killed at its time limit (SIGKILL) cleans nothing up; without this its
    GDAL child would read the closed pipe as the end of the stream and go on writing
    and indexing a file nobody waits for. Linux: the kernel sends SIGKILL
    (``PR_SET_PDEATHSIG``; strictly, when the parent's thread that started the child
    ends: :class:`geo.io.stream_writer.ChunkWriter` starts it and waits for it in one
    thread); a parent already gone ends the child at once.
    """
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # (it died before the line above)
        os._exit(1)


def configure_gdal(environ: MutableMapping[str, str]) -> None:
    """Set the child's GDAL options in ``environ`` (GDAL reads them there); a user's win.

    ``OGR_SQLITE_CACHE``: SQLite's default page cache (2 MB) is smaller than the
    spatial index's row-id table of a large layer, and GDAL inserts the index in
    R-tree order, not row order: each page was then read and written again and again
    (1 000 000 points: 752 865 page writes and 567 165 reads, against 186 069 and
    408 with 16 MB; 0.8 s of the write). Only the child sets it: it changes every
    SQLite file GDAL opens in the process, and an output written on a thread is
    small enough (150 000 points: one write per page) not to need it.
    """
    environ.setdefault("OGR_SQLITE_CACHE", SQLITE_CACHE_MB)


def write_layer(source: BinaryIO, path: str, layer: str) -> None:
    """Write layer ``layer`` of GeoPackage ``path`` from ``source``.

    ``source`` holds one line of JSON (``geometry_name``, ``geometry_type``, ``crs``:
    ``pyogrio.write_arrow``'s keywords, known at the first chunk), then the Arrow IPC
    stream of the chunks. Nothing before the line: nothing is written (no chunk came).
    """
    import json

    import pyarrow as pa
    import pyogrio

    line = source.readline()
    if not line:
        return
    with pa.ipc.open_stream(source) as reader:
        pyogrio.write_arrow(reader, path, layer=layer, driver="GPKG", **json.loads(line))


def main(argv: list[str]) -> int:
    """Write the layer from standard input; the exit status."""
    path, layer, parent = argv
    die_with(int(parent))
    configure_gdal(os.environ)
    try:
        write_layer(sys.stdin.buffer, path, layer)
    except Exception as err:  # the writer reads this line and names the file
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
