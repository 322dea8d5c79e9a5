"""Benchmark of the vectorised site check (zoning.check.engine) on the Beijing demo layers.

Scenarios (each in its own subprocess, so that peak memory is per scenario):

- ``points:100000``   100 000 random point sites inside Beijing
- ``points:1000000``  1 000 000 random point sites inside Beijing
- ``polygons:10000``  10 000 random polygon sites (20–500 m across, 6–24 vertices)

Every site is checked against all layers the Beijing pack uses (red line, ecological
control zone, wells, water-source zones, parks, control units, boundaries, ...).
Before timing, each scenario checks a sample of sites as a batch and one by one and
stops if the two differ. Reported: index build time, check wall time and CPU time
(user + system; the k-d queries use both cores), sites per second, the 1-minute load
average (other work on the machine slows the wall time), and the peak resident memory
of the process (``resource.getrusage``), also the memory in use just before the check.

Target on a 2-core machine: 1 000 000 points in < 30 s and < 3 GB.

Usage::

    .venv/bin/python benchmarks/bench_check.py                 # all scenarios
    .venv/bin/python benchmarks/bench_check.py points:100000   # one scenario
    .venv/bin/python benchmarks/bench_check.py --store my.gpkg --pack tongzhou
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# the peer harness generates the same random sites; one generator for both
from benchmarks.harness.dataset import random_points, random_polygons  # noqa: E402

DEFAULT_STORE = ROOT / "data" / "ecozone_demo.gpkg"
SCENARIOS = ("points:100000", "points:1000000", "polygons:10000")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB; Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Resident set size now (MB), from /proc when available."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:  # pragma: no cover - not Linux
        return float("nan")


def beijing_boundary(layers: dict) -> shapely.Geometry:
    b = layers["boundary"]
    gdf = b.gdf if hasattr(b, "gdf") else b
    sel = gdf[gdf["adcode"].astype(str) == "110000"]
    if sel.empty:  # no municipality row: the union of the districts
        sel = gdf[gdf["adcode"].astype(str).str.startswith("1101")]
    return shapely.union_all(sel.geometry.to_numpy())


def make_sites(kind: str, n: int, area: shapely.Geometry, seed: int = 42) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    pts = random_points(area, n, rng)
    geoms = shapely.points(pts) if kind == "points" else random_polygons(pts, rng)
    ids = np.char.add("s", np.arange(n).astype(str)).astype(object)
    return gpd.GeoDataFrame({"site_id": ids}, geometry=geoms, crs="EPSG:4326")


def verify_sample(checker, sites: gpd.GeoDataFrame, k: int, seed: int = 7) -> int:
    """Check a sample as one batch and one by one; raise if they differ."""
    rng = np.random.default_rng(seed)
    sample = sites.iloc[np.sort(rng.choice(len(sites), min(k * 20, len(sites)), replace=False))]
    batch = checker.check(sample)
    picks = rng.choice(len(sample), min(k, len(sample)), replace=False)
    for i in picks:
        one = checker.check(sample.iloc[[i]])
        sid = sample["site_id"].iloc[i]
        for name in ("sites", "relations", "findings"):
            a = getattr(batch, name)
            a = pd.DataFrame(a[a["site_id"] == sid]).reset_index(drop=True)
            b = pd.DataFrame(getattr(one, name)).reset_index(drop=True)
            drop = [c for c in ("geometry", "band") if c in a.columns]
            pd.testing.assert_frame_equal(a.drop(columns=drop), b.drop(columns=drop))
    return len(picks)


def run_one(scenario: str, store_path: Path, pack_name: str, verify: int) -> dict:
    from layers.store import LayerStore
    from zoning.check.batch import load_layers
    from zoning.check.engine import SiteChecker
    from zoning.pack import load_pack

    kind, n = scenario.split(":")
    n = int(n)
    pack = load_pack(pack_name)
    with LayerStore(store_path, create=False) as store:
        layers = load_layers(store, pack.layer_kinds() | {"boundary"})
    n_features = {k: (v.gdf if hasattr(v, "gdf") else v).shape[0] for k, v in layers.items()}
    sites = make_sites(kind, n, beijing_boundary(layers))
    t0 = time.perf_counter()
    checker = SiteChecker(pack, layers)
    # metric copies of the layers are built on first use: warm them outside the timing
    checker.check(sites.iloc[:1000])
    t_index = time.perf_counter() - t0
    checked = verify_sample(checker, sites, verify)
    rss_before = current_rss_mb()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    res = checker.check(sites)
    t_check = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "scenario": scenario,
        "sites": n,
        "pack": pack_name,
        "features": n_features,
        "index_s": round(t_index, 2),
        "check_s": round(t_check, 2),
        "sites_per_s": round(n / t_check),
        "cpu_s": round(cpu, 2),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "rss_before_check_mb": round(rss_before),
        "peak_rss_mb": round(peak_rss_mb()),
        "verified_one_by_one": checked,
        "verdicts": res.counts(),
        "findings": len(res.findings),
        "relations": len(res.relations),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    ap.add_argument("--store", type=Path, default=DEFAULT_STORE)
    ap.add_argument("--pack", default="beijing")
    ap.add_argument("--verify", type=int, default=50, help="sites checked one by one first")
    ap.add_argument("--inline", action="store_true", help="run in this process (no subprocess)")
    args = ap.parse_args(argv)
    if not args.store.exists():
        print(
            f"no layer store at {args.store}; build it with data/build_dataset.py", file=sys.stderr
        )
        return 2
    results = []
    for sc in args.scenarios:
        if args.inline or len(args.scenarios) == 1:
            r = run_one(sc, args.store, args.pack, args.verify)
        else:
            cmd = [sys.executable, __file__, sc, "--store", str(args.store), "--pack", args.pack,
                   "--verify", str(args.verify)]  # fmt: skip
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
        results.append(r)
        if len(args.scenarios) > 1:
            print(
                f"{r['scenario']:>16}: check {r['check_s']:7.2f} s (CPU {r['cpu_s']:.1f} s, "
                f"load {r['load_avg_1min']:.1f})  "
                f"{r['sites_per_s']:>9,} sites/s  peak RSS {r['peak_rss_mb']:>6,} MB "
                f"(before check {r['rss_before_check_mb']:,} MB)  index {r['index_s']:.1f} s  "
                f"verified {r['verified_one_by_one']} one-by-one",
                flush=True,
            )
    if len(args.scenarios) == 1:
        print(json.dumps(results[0], ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
