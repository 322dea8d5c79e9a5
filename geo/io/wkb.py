"""WKB of 2-D points, both ways, by numpy over Arrow buffers.

A batch of sites is most often a million 2-D points. Arrow holds their WKB as one
buffer of 21-byte records (byte order, type, x, y); reading and writing those records
with numpy, rather than through a Python ``bytes`` object per point, spares the work
that holds the interpreter lock while the checks run on both cores.

- :func:`wkb_array`: shapely points → Arrow binary WKB (what the streamed GeoParquet
  writer stores);
- :func:`wkb_point_xy`: Arrow binary WKB → the points' coordinates, when every value
  is a plain 2-D point (what the streamed GeoParquet reader decodes).

Anything else (nulls, empty points, Z, SRID-tagged EWKB, big-endian records, other
geometry types) is left to shapely: the functions answer exactly what
:func:`shapely.to_wkb` / :func:`shapely.from_wkb` answer, only sooner.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.crs import plain_point_xy

__all__ = ["POINT_WKB", "wkb_array", "wkb_point_xy"]

#: Little-endian ISO WKB of a 2-D point: byte order, type, x, y (21 bytes, unpadded).
POINT_WKB = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def wkb_array(geoms: NDArray[Any], xy: NDArray[np.float64] | None = None) -> Any:
    """ISO WKB of ``geoms`` as an Arrow binary array.

    A chunk of 2-D points (a batch's usual output) is encoded by numpy from the
    coordinates, with the bytes :func:`shapely.to_wkb` writes on a little-endian
    machine, but without a Python bytes object per row; anything else goes through
    :func:`shapely.to_wkb`.

    Parameters
    ----------
    geoms
        Shapely geometries (``None`` allowed: a null).
    xy
        Their coordinates, shape (n, 2), when the caller knows every one is a
        non-empty 2-D single point (as :func:`geo.crs.plain_point_xy` reads them):
        not read from the points again.

    Returns
    -------
    pyarrow.Array
        ``binary``, one value per geometry.
    """
    import pyarrow as pa

    n = len(geoms)
    if xy is None:
        xy = plain_point_xy(geoms)
    elif len(xy) != n:
        msg = f"xy has {len(xy)} rows for {n} geometries"
        raise ValueError(msg)
    if xy is None:
        return pa.array(shapely.to_wkb(geoms, flavor="iso"), pa.binary())
    rec = np.empty(n, dtype=POINT_WKB)
    rec["order"] = 1  # little-endian (NDR)
    rec["type"] = 1  # Point
    rec["x"], rec["y"] = xy[:, 0], xy[:, 1]
    offsets = np.arange(0, POINT_WKB.itemsize * (n + 1), POINT_WKB.itemsize, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(rec.view(np.uint8))]
    )


def wkb_point_xy(values: Any) -> NDArray[np.float64] | None:
    """The coordinates of WKB ``values`` when every one is a plain 2-D point.

    Parameters
    ----------
    values
        An Arrow ``binary`` or ``large_binary`` array (or chunked array) of WKB.

    Returns
    -------
    numpy.ndarray or None
        Shape (n, 2), the x and y :func:`shapely.from_wkb` would read, when every
        value is a 21-byte little-endian ISO point with finite coordinates; ``None``
        otherwise (also for nulls, and for no value at all): then only shapely
        reads them as they are (an empty point, for one, is written with NaN).
    """
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) == 0 or values.null_count:
        return None
    if pa.types.is_binary(values.type):
        offset_type: Any = np.int32
    elif pa.types.is_large_binary(values.type):
        offset_type = np.int64
    else:
        return None
    _, offset_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offset_buf, dtype=offset_type, count=len(values) + 1,
                            offset=values.offset * np.dtype(offset_type).itemsize)  # fmt: skip
    if not (np.diff(offsets) == POINT_WKB.itemsize).all():
        return None
    rec = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]].view(POINT_WKB)
    if not ((rec["order"] == 1).all() and (rec["type"] == 1).all()):
        return None
    xy = np.column_stack([rec["x"], rec["y"]])
    if not np.isfinite(xy).all():
        return None
    return xy
