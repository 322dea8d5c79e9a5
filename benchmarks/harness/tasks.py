"""What every engine computes, and the answer shapes the agreement check compares.

Three tasks (ecozone issue 6):

``points``
    Batch check of point sites: for each polygon layer of :data:`POLYGON_KINDS`, the
    features each site lies in; the wells within :data:`WELL_M` (30 m) with their
    distance; the distance to the nearest red-line polygon (0 inside, NaN beyond
    :data:`NEAREST_MAX_M`).
``polygons``
    The same for polygon sites, plus the overlap area of every (site, feature) pair.
``pip``
    Raw point-in-polygon: the (point, red-line polygon) pairs where the point
    intersects the polygon (a point on a boundary counts), each engine's fastest way.
``coverage``
    Park service coverage of residential land: parks of at least 5 000 m² serve
    500 m, of 2 000–5 000 m² serve 300 m (GB/T 50563-2010, ``area_m2`` column),
    measured from the park edge; covered residential area ÷ all residential area
    (GB/T 51346-2019 A.0.3).

Measurement rules shared by every engine (so that answers are comparable):

* topology (intersects, inside) on the lon/lat coordinates the layers are stored in
  (EPSG:4326), as ecozone does; a point on a boundary counts as inside;
* distances on the ellipsoid, found in EPSG:4548 (CGCS2000 / 3-degree Gauss-Krüger
  CM 117°E; every site lies in that zone, longitude ≥ 115.5°E, so ecozone, which
  measures each site in its own zone, uses it too): each engine finds the shortest
  line there, searching out to the radius times :data:`PLANE_K_MAX`, and its plane
  length is divided by the plane's scale along it (:func:`ellipsoidal_m`, the formula
  of :mod:`geo.scale`) before the 30 m and 10 km thresholds apply. The plane alone
  is up to 2 cm per km long here (1.2 m at 10 km, 3.6 mm at 30 m);
* the nearest red line is the nearest on the ellipsoid: each engine measures on the
  ellipsoid every red-line polygon within :data:`NEAREST_TIE_REL` (plus
  :data:`NEAREST_TIE_M`) of the plane's nearest, and keeps the least
  (:func:`least_per_site`), as ecozone does with its own, tighter bound;
* buffers (the coverage task) in EPSG:4548, each park's service radius (metres on the
  ellipsoid) times the plane's scale factor at the centre of the park's box
  (:meth:`geo.scale.PlaneScale.plane_at`; in SQL :func:`scale_factor_sql`, the same
  formula);
* areas in one Albers equal-area CRS on the GRS80 ellipsoid (the one ecozone fits
  to the layers, :func:`geo.crs.equal_area_crs`): every engine transforms its
  intersection polygons into it and takes the planar area.
"""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.scale import ARC_PER_RAD, plane_scale

__all__ = [
    "COVERAGE_TIERS",
    "METRIC_EPSG",
    "NEAREST_MAX_M",
    "NEAREST_TIE_M",
    "NEAREST_TIE_REL",
    "PLANE_K_MAX",
    "POLYGON_KINDS",
    "TASKS",
    "WELL_M",
    "CheckAnswer",
    "CoverageAnswer",
    "MemorySampler",
    "PipAnswer",
    "ellipsoidal_m",
    "least_per_site",
    "peak_rss_mb",
    "radius_of",
    "scale_factor_sql",
]

#: Polygon layers every site is tested against (inside / overlapping).
POLYGON_KINDS: tuple[str, ...] = (
    "redline",
    "eco_control",
    "water_source_zone",
    "control_unit",
    "key_area",
    "strict_zone",
)
#: Radius of the well rule (饮用水水源井周边30米).
WELL_M = 30.0
#: Search radius of the nearest red-line distance (ecozone's default).
NEAREST_MAX_M = 10_000.0
#: The metric CRS of every distance and buffer.
METRIC_EPSG = 4548
#: The largest scale factor of that plane within 200 km of its central meridian
#: (every site and every feature it is measured to): plane searches reach this times
#: the ellipsoidal radius.
PLANE_K_MAX = plane_scale(METRIC_EPSG).k_max(200_000.0)
#: A polygon within this share of a site's nearest in the plane (plus
#: :data:`NEAREST_TIE_M`) may be nearer on the ellipsoid: the scales along two shortest
#: lines from a site differ by at most 2·d·sinh(u)/R, 1.1·10⁻⁴ at 10 km within 200 km
#: of the meridian (ecozone's ``zoning.check.nearest._Tie.reach``).
NEAREST_TIE_REL = 2e-4
NEAREST_TIE_M = 1e-3
#: Park service tiers (min area m², radius m), largest first: GB/T 50563-2010.
COVERAGE_TIERS: tuple[tuple[float, float], ...] = ((5000.0, 500.0), (2000.0, 300.0))
#: Task names in run order.
TASKS: tuple[str, ...] = ("points", "polygons", "pip", "coverage")


def radius_of(area_m2: np.ndarray) -> np.ndarray:
    """Service radius of each park by area (0: too small to count)."""
    a = np.asarray(area_m2, dtype="float64")
    out = np.zeros(a.shape)
    done = np.zeros(a.shape, dtype=bool)
    for min_a, r in COVERAGE_TIERS:
        hit = ~done & (a >= min_a)
        out[hit] = r
        done |= hit
    return out


@dataclass
class CheckAnswer:
    """An engine's answer to the ``points`` or ``polygons`` task.

    Attributes
    ----------
    n_sites
        Number of sites (positions 0 … n-1).
    pairs
        ``site, kind, feature, overlap_m2``: every site intersecting a feature of a
        :data:`POLYGON_KINDS` layer (``feature`` is the row position in the layer;
        ``overlap_m2`` NaN for point sites).
    wells
        ``site, feature, distance_m``: wells within :data:`WELL_M`.
    nearest_m
        Per site, metres to the nearest red-line polygon (0 inside, NaN beyond
        :data:`NEAREST_MAX_M`).
    """

    n_sites: int
    pairs: pd.DataFrame
    wells: pd.DataFrame
    nearest_m: np.ndarray

    def normalised(self) -> CheckAnswer:
        """Sorted, typed copy (the form :mod:`compare` and the files use)."""
        p = pd.DataFrame(
            {
                "site": np.asarray(self.pairs["site"], dtype="int64"),
                "kind": np.asarray(self.pairs["kind"], dtype=object).astype(str),
                "feature": np.asarray(self.pairs["feature"], dtype="int64"),
                "overlap_m2": np.asarray(self.pairs["overlap_m2"], dtype="float64"),
            }
        )
        p = p.sort_values(["site", "kind", "feature"], kind="stable").reset_index(drop=True)
        w = pd.DataFrame(
            {
                "site": np.asarray(self.wells["site"], dtype="int64"),
                "feature": np.asarray(self.wells["feature"], dtype="int64"),
                "distance_m": np.asarray(self.wells["distance_m"], dtype="float64"),
            }
        )
        w = w.sort_values(["site", "feature"], kind="stable").reset_index(drop=True)
        near = np.asarray(self.nearest_m, dtype="float64")
        return CheckAnswer(self.n_sites, p, w, near)

    def save(self, folder: Path) -> None:
        """Write the answer as Parquet files into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        a = self.normalised()
        a.pairs.to_parquet(folder / "pairs.parquet", index=False)
        a.wells.to_parquet(folder / "wells.parquet", index=False)
        pd.DataFrame({"nearest_m": a.nearest_m}).to_parquet(folder / "nearest.parquet")

    @classmethod
    def load(cls, folder: Path) -> CheckAnswer:
        """Read an answer written by :meth:`save`."""
        near = pd.read_parquet(folder / "nearest.parquet")["nearest_m"].to_numpy()
        return cls(
            len(near),
            pd.read_parquet(folder / "pairs.parquet"),
            pd.read_parquet(folder / "wells.parquet"),
            near,
        )


@dataclass
class CoverageAnswer:
    """An engine's answer to the ``coverage`` task.

    Attributes
    ----------
    residential_m2
        Equal-area area of each residential parcel (row order of the layer).
    covered_m2
        Equal-area area of the part of each parcel inside a service area.
    """

    residential_m2: np.ndarray
    covered_m2: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def coverage_pct(self) -> float:
        """Covered ÷ all residential area, in percent."""
        total = float(np.sum(self.residential_m2))
        return 100.0 * float(np.sum(self.covered_m2)) / total if total > 0 else float("nan")

    def save(self, folder: Path) -> None:
        """Write the answer as a Parquet file into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "residential_m2": np.asarray(self.residential_m2, dtype="float64"),
                "covered_m2": np.asarray(self.covered_m2, dtype="float64"),
            }
        ).to_parquet(folder / "coverage.parquet")

    @classmethod
    def load(cls, folder: Path) -> CoverageAnswer:
        """Read an answer written by :meth:`save`."""
        df = pd.read_parquet(folder / "coverage.parquet")
        return cls(df["residential_m2"].to_numpy(), df["covered_m2"].to_numpy())


@dataclass
class PipAnswer:
    """An engine's answer to the ``pip`` task: (point, polygon) row positions.

    Attributes
    ----------
    n_sites
        Number of points.
    point, polygon
        Positions of every intersecting pair.
    """

    n_sites: int
    point: np.ndarray
    polygon: np.ndarray

    def normalised(self) -> PipAnswer:
        """Sorted by point then polygon, as ``int64``."""
        p = np.asarray(self.point, dtype="int64")
        g = np.asarray(self.polygon, dtype="int64")
        o = np.lexsort((g, p))
        return PipAnswer(self.n_sites, p[o], g[o])

    def save(self, folder: Path) -> None:
        """Write the answer as a Parquet file into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        a = self.normalised()
        pd.DataFrame({"point": a.point, "polygon": a.polygon}).to_parquet(folder / "pip.parquet")
        (folder / "pip_n.txt").write_text(str(self.n_sites))

    @classmethod
    def load(cls, folder: Path) -> PipAnswer:
        """Read an answer written by :meth:`save`."""
        df = pd.read_parquet(folder / "pip.parquet")
        n = int((folder / "pip_n.txt").read_text())
        return cls(n, df["point"].to_numpy(), df["polygon"].to_numpy())


def ellipsoidal_m(plane_m: Any, ax: Any, ay: Any, bx: Any, by: Any) -> np.ndarray:
    """Plane distances of :data:`METRIC_EPSG` on the ellipsoid, from their shortest lines' ends."""
    return plane_scale(METRIC_EPSG).ellipsoidal(plane_m, ax, ay, bx, by)


def least_per_site(
    site: Any, plane_m: Any, ax: Any, ay: Any, bx: Any, by: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Each site's least ellipsoidal distance over its candidate (site, polygon) pairs.

    Parameters
    ----------
    site
        The site of each pair.
    plane_m, ax, ay, bx, by
        The pair's plane distance and shortest line's ends (:func:`ellipsoidal_m`).

    Returns
    -------
    tuple
        The sites (ascending) and their least distance on the ellipsoid.
    """
    e = pd.Series(ellipsoidal_m(plane_m, ax, ay, bx, by)).groupby(np.asarray(site)).min()
    return e.index.to_numpy(dtype=np.int64), e.to_numpy()


def scale_factor_sql(x: str, y: str) -> str:
    """SQL (DuckDB, PostgreSQL) of the scale factor of :data:`METRIC_EPSG` at ``x, y``.

    The formula of :meth:`geo.scale.PlaneScale.k`, with its constants filled in.
    """
    s = plane_scale(METRIC_EPSG)
    phi = f"((({y}) - {s.false_northing!r}) / {s.k0 * ARC_PER_RAD!r})"
    radius = f"({s.a * (1.0 - s.e2) ** 0.5!r} / (1 - {s.e2!r} * power(sin({phi}), 2)))"
    return f"({s.k0!r} * cosh((({x}) - {s.false_easting!r}) / ({s.k0!r} * {radius})))"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (VmHWM; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Resident memory of this process now, MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    return float("nan")


class MemorySampler:
    """Sample the memory of other processes (the PostgreSQL server) in a thread.

    Parameters
    ----------
    pids
        Called at every sample; returns the process ids to add up (the server's
        processes come and go, e.g. parallel workers).
    interval_s
        Seconds between samples.

    Notes
    -----
    Proportional set size (PSS) is summed where readable: shared memory counts once
    across the server's processes, unlike RSS. ``peak_mb`` is the largest sum seen.
    """

    def __init__(self, pids: Any, *, interval_s: float = 0.25) -> None:
        self._pids = pids
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak_mb = 0.0
        self.kind = "pss"

    def _sample(self) -> float:
        import psutil

        total = 0.0
        for pid in self._pids():
            try:
                p = psutil.Process(pid)
                try:
                    total += p.memory_full_info().pss
                except (psutil.AccessDenied, AttributeError):
                    self.kind = "rss"
                    total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        return total / 2**20

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_mb = max(self.peak_mb, self._sample())
            except Exception:  # sampling must never break a run
                pass
            self._stop.wait(self._interval)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Stopwatch:
    """``with Stopwatch() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        self.seconds = float("nan")
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
