"""Writing a file atomically: :func:`replacing_file`, the one way ecozone replaces a file.

Every output (vector files, spreadsheets, reports, maps) is written to a temporary
path beside its target and moved over it only when complete, so an interrupted or
failing write leaves the previous file intact and a reader never sees half a file.
The temporary file is created in a fresh hidden folder (not by ``mkstemp``, which
makes files only their owner may read): it gets the permissions the user's umask
gives any new file, as the results are meant to be shared.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replacing_file"]


@contextlib.contextmanager
def replacing_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path with ``path``'s name, moved over ``path`` when the block succeeds.

    The temporary file lives in a hidden folder beside ``path`` (same file system, the
    same suffix, so GDAL drivers recognise it), as :func:`write_vector` does; when the
    block raises, the folder is removed and ``path`` is left as it was.

    Parameters
    ----------
    path
        The final file.

    Returns
    -------
    context manager yielding pathlib.Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp = tmpdir / path.name
        yield tmp
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
