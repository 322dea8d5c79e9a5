"""Shape primitives for the synthetic demonstration layers.

Everything here works in a metric CRS (metres; the build uses CGCS2000 3-degree
Gauss-Krüger zone 39, EPSG:4548) and is vectorised over arrays of shapes: one call
makes thousands of polygons through ``shapely.polygons`` / ``shapely.linearrings``
with ragged ``indices``, never a Python loop per feature.

Used only by ``data/build_dataset.py``; not part of the installed package.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def polar_blobs(
    rng: np.random.Generator,
    cx: FloatArray,
    cy: FloatArray,
    radius: FloatArray,
    *,
    spacing: float = 80.0,
    roughness: float = 0.25,
    min_vertices: int = 16,
    max_vertices: int = 600,
    elongation: float = 0.0,
    simplify: float = 0.06,
) -> NDArray[np.object_]:
    """Organic star-shaped polygons ("noisy blobs") of a given equivalent radius.

    The outline is ``r(θ) = R · exp(Σ_k a_k cos(kθ + φ_k))`` with random harmonic
    amplitudes falling off about as ``1/k`` (a coarse outline with finer wiggles), which is
    star-shaped around the centre and so always a valid simple polygon. Each blob is
    rescaled so that its planar area is exactly ``π R²``.

    Parameters
    ----------
    rng
        Random generator (consumed).
    cx, cy, radius
        Centres and equivalent radii in metres (arrays of one length).
    spacing
        Target vertex spacing along the outline in metres: realistic vertex counts.
    roughness
        Standard deviation scale of the log-radius harmonics.
    min_vertices, max_vertices
        Bounds on the vertex count per blob.
    elongation
        Maximum extra stretch along a random axis (0 = round on average).
    simplify
        Drop vertices that deviate less than ``simplify × spacing`` (at most 2 % of
        the radius) from the line of their neighbours: they only add bytes. 0 keeps
        every vertex.

    Returns
    -------
    numpy.ndarray of shapely.Polygon
    """
    cx = np.asarray(cx, dtype=float)
    cy = np.asarray(cy, dtype=float)
    radius = np.asarray(radius, dtype=float)
    n = cx.size
    if n == 0:
        return np.empty(0, dtype=object)
    counts = np.clip(np.round(2.4 * np.pi * radius / spacing), min_vertices, max_vertices).astype(
        np.int64
    )
    owner = np.repeat(np.arange(n), counts)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(owner.size) - start[owner]
    theta = 2.0 * np.pi * pos / counts[owner]
    k_max = 24
    k = np.arange(1, k_max + 1)
    amp = rng.normal(0.0, roughness, (n, k_max)) / k**1.15
    # harmonics finer than the vertex spacing only add noise between vertices
    amp[k[None, :] > counts[:, None] / 3] = 0.0
    phase = rng.uniform(0.0, 2.0 * np.pi, (n, k_max))
    log_r = np.zeros(owner.size)
    for j in range(k_max):  # 24 vectorised passes over all vertices, not a loop per blob
        log_r += amp[owner, j] * np.cos((j + 1) * theta + phase[owner, j])
    # per-vertex jitter gives the small irregularities of digitised outlines
    # (a few metres, whatever the size: relative jitter would make big blobs spiky)
    log_r += rng.normal(0.0, 1.0, owner.size) * (0.15 * spacing / radius)[owner]
    r = np.exp(log_r)
    x = r * np.cos(theta)
    y = r * np.sin(theta)
    if elongation > 0:
        stretch = 1.0 + rng.uniform(0.0, elongation, n)
        axis = rng.uniform(0.0, np.pi, n)
        ca, sa = np.cos(axis)[owner], np.sin(axis)[owner]
        u = (x * ca + y * sa) * stretch[owner]
        v = -x * sa + y * ca
        x, y = u * ca - v * sa, u * sa + v * ca
    # planar (shoelace) area of each unit blob, then scale to π R²
    nxt = pos + 1
    nxt[nxt == counts[owner]] = 0
    nxt_idx = start[owner] + nxt
    cross = x * y[nxt_idx] - x[nxt_idx] * y
    area = 0.5 * np.bincount(owner, weights=cross, minlength=n)
    factor = radius * np.sqrt(np.pi / area)
    coords = np.column_stack([cx[owner] + x * factor[owner], cy[owner] + y * factor[owner]])
    rings = shapely.linearrings(coords, indices=owner)
    polys = shapely.polygons(rings)
    if simplify > 0:
        # never more than 2 % of the radius: small blobs keep their shape
        tol = np.minimum(simplify * spacing, 0.02 * radius)
        polys = shapely.simplify(polys, tol, preserve_topology=True)
    return polys


def random_walks(
    rng: np.random.Generator,
    x0: FloatArray,
    y0: FloatArray,
    *,
    n_steps: int,
    step: float,
    turn_sigma: float = 0.35,
) -> tuple[FloatArray, FloatArray]:
    """Correlated random walks (ridges, valleys, river corridors).

    Parameters
    ----------
    rng
        Random generator (consumed).
    x0, y0
        Start points in metres.
    n_steps
        Number of steps of every walk.
    step
        Step length in metres.
    turn_sigma
        Standard deviation of the heading change per step (radians).

    Returns
    -------
    tuple of numpy.ndarray
        ``x`` and ``y`` of shape ``(n_walks, n_steps + 1)``.
    """
    x0 = np.asarray(x0, dtype=float)
    y0 = np.asarray(y0, dtype=float)
    n = x0.size
    heading = rng.uniform(0, 2 * np.pi, n)[:, None] + np.cumsum(
        rng.normal(0, turn_sigma, (n, n_steps)), axis=1
    )
    length = step * rng.uniform(0.7, 1.3, (n, n_steps))
    x = np.concatenate([x0[:, None], x0[:, None] + np.cumsum(length * np.cos(heading), 1)], 1)
    y = np.concatenate([y0[:, None], y0[:, None] + np.cumsum(length * np.sin(heading), 1)], 1)
    return x, y


def sample_points(
    rng: np.random.Generator,
    area: shapely.Geometry,
    n: int,
    *,
    weight: Callable[[FloatArray, FloatArray], FloatArray] | None = None,
    max_rounds: int = 200,
) -> tuple[FloatArray, FloatArray]:
    """Random points inside a polygon by vectorised rejection sampling.

    Parameters
    ----------
    rng
        Random generator (consumed).
    area
        Polygon or MultiPolygon to sample (metric CRS).
    n
        Number of points wanted.
    weight
        Optional callable ``(x, y) -> probability in [0, 1]`` for thinning: a point
        is kept with that probability (inhomogeneous density).
    max_rounds
        Give up after this many rounds (the area or the weights are too small).

    Returns
    -------
    tuple of numpy.ndarray
        ``x`` and ``y`` of length ``n``.
    """
    if n <= 0:
        return np.empty(0), np.empty(0)
    shapely.prepare(area)
    xmin, ymin, xmax, ymax = area.bounds
    frac = max(area.area / ((xmax - xmin) * (ymax - ymin)), 1e-3)
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    got = 0
    for _ in range(max_rounds):  # rounds of whole batches, not per point
        m = int((n - got) / frac * 1.3) + 64
        x = rng.uniform(xmin, xmax, m)
        y = rng.uniform(ymin, ymax, m)
        keep = shapely.contains_xy(area, x, y)
        if weight is not None:
            keep &= rng.uniform(0, 1, m) < weight(x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        got += int(keep.sum())
        if got >= n:
            break
    else:
        msg = f"sample_points: only {got} of {n} points found inside the area; weights too low"
        raise RuntimeError(msg)
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def bilinear(corners: FloatArray, u: FloatArray | float, v: FloatArray | float) -> FloatArray:
    """Points at unit-square coordinates ``(u, v)`` of quadrilaterals.

    Parameters
    ----------
    corners
        Array ``(n, 4, 2)``: corners in order (0,0), (1,0), (1,1), (0,1).
    u, v
        Unit-square coordinates, scalars or arrays of length ``n``.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` points.
    """
    u = np.asarray(u, dtype=float).reshape(-1, 1)
    v = np.asarray(v, dtype=float).reshape(-1, 1)
    c00, c10, c11, c01 = corners[:, 0], corners[:, 1], corners[:, 2], corners[:, 3]
    return (1 - u) * (1 - v) * c00 + u * (1 - v) * c10 + u * v * c11 + (1 - u) * v * c01


def sub_quads(
    corners: FloatArray,
    u0: FloatArray,
    u1: FloatArray,
    v0: FloatArray,
    v1: FloatArray,
    *,
    shrink: FloatArray | float = 1.0,
) -> NDArray[np.object_]:
    """Quadrilaterals cut from parent quadrilaterals, optionally shrunk about their centre.

    Parameters
    ----------
    corners
        ``(n, 4, 2)`` parent corners (see :func:`bilinear`).
    u0, u1, v0, v1
        Sub-rectangle of the unit square for each parent, arrays of length ``n``.
    shrink
        Linear factor (≤ 1) applied about the sub-quad centre: leaves room for roads.

    Returns
    -------
    numpy.ndarray of shapely.Polygon
    """
    pts = np.stack(
        [
            bilinear(corners, u0, v0),
            bilinear(corners, u1, v0),
            bilinear(corners, u1, v1),
            bilinear(corners, u0, v1),
        ],
        axis=1,
    )
    centre = pts.mean(axis=1, keepdims=True)
    f = np.asarray(shrink, dtype=float).reshape(-1, 1, 1)
    pts = centre + (pts - centre) * f
    return shapely.polygons(pts)


def rotate_xy(
    x: FloatArray, y: FloatArray, angle: float, cx: float, cy: float
) -> tuple[FloatArray, FloatArray]:
    """Rotate points by ``angle`` radians about ``(cx, cy)``."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = np.asarray(x) - cx, np.asarray(y) - cy
    return cx + c * dx - s * dy, cy + s * dx + c * dy


def scale_about(
    geoms: NDArray[np.object_], cx: FloatArray, cy: FloatArray, factor: float
) -> NDArray[np.object_]:
    """Scale each geometry about its own centre point by one factor (vectorised)."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    coords = np.column_stack(
        [
            cx[index] + (coords[:, 0] - cx[index]) * factor,
            cy[index] + (coords[:, 1] - cy[index]) * factor,
        ]
    )
    return shapely.set_coordinates(geoms.copy(), coords)
