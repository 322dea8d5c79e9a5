"""Load test of the web app on 127.0.0.1: concurrent single-point checks, then polygons.

Starts ``ecozone serve`` (``python -m ecozone.cli.serve``) on a free port over a
temporary copy of the demo store, warms the pack's checker, then runs

1. ``--points`` (2 000) single-point checks from ``--clients`` (50) concurrent
   httpx/asyncio clients, points spread over the pack's jurisdiction;
2. ``--polygons`` (200) polygon checks (squares of 100–600 m),

and prints throughput, latency percentiles (p50/p95/p99), errors (non-200 answers
or failed requests) and the server's resident memory (RSS of the process tree,
sampled every 0.5 s) over time. Run::

    .venv/bin/python benchmarks/bench_web_load.py [--clients 50] [--workers 2]

Nothing leaves 127.0.0.1. Target on a 2-core machine: p95 < 300 ms for point
checks, zero errors, memory steady.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from pyproj import Geod

ROOT = Path(__file__).resolve().parent.parent
GEOD = Geod(ellps="GRS80")
# lon/lat box inside Beijing's plains (Tongzhou, Daxing, Chaoyang, Shunyi...)
BOX = (116.25, 39.65, 116.95, 40.15)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (from /proc), in MB."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(
                int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS")
            )
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo.extend(int(k) for k in kids)
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


def square(lon: float, lat: float, side: float) -> dict:
    half = side / 2
    w, _, _ = GEOD.fwd(lon, lat, 270, half)
    e, _, _ = GEOD.fwd(lon, lat, 90, half)
    _, s, _ = GEOD.fwd(lon, lat, 180, half)
    _, n, _ = GEOD.fwd(lon, lat, 0, half)
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {"type": "Polygon", "coordinates": [ring]}


def bodies(n_points: int, n_polys: int, pack: str, seed: int = 7) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(BOX[0], BOX[2], n_points)
    lat = rng.uniform(BOX[1], BOX[3], n_points)
    types = ["construction", "industrial", "residential", None]
    points = [
        {"pack": pack, "coordinates": f"{x:.6f},{y:.6f}", "project": {"project_type": types[i % 4]}}
        for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]
    plon = rng.uniform(BOX[0], BOX[2], n_polys)
    plat = rng.uniform(BOX[1], BOX[3], n_polys)
    side = rng.uniform(100, 600, n_polys)
    polys = [
        {"pack": pack, "geometry": square(x, y, s), "project": {"project_type": "construction"}}
        for x, y, s in zip(plon, plat, side, strict=True)
    ]
    return points, polys


async def run_phase(client: httpx.AsyncClient, items: list, clients: int) -> dict:
    queue: asyncio.Queue = asyncio.Queue()
    for it in items:
        queue.put_nowait(it)
    latencies: list[float] = []
    errors: list[str] = []

    async def worker() -> None:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            try:
                r = await client.post("/api/check", json=body)
                ok = r.status_code == 200
                if not ok:
                    errors.append(f"{r.status_code} {r.text[:120]}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    lat_ms = np.asarray(latencies) * 1000
    pct = (lambda q: float(np.percentile(lat_ms, q))) if len(lat_ms) else (lambda q: float("nan"))
    return {
        "requests": len(items),
        "ok": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "elapsed_s": elapsed,
        "throughput": len(items) / elapsed,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "mean": statistics.fmean(lat_ms) if len(lat_ms) else float("nan"),
    }


async def sample_rss(pid: int, out: list, stop: asyncio.Event, t0: float) -> None:
    while not stop.is_set():
        out.append((time.perf_counter() - t0, tree_rss_mb(pid)))
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


async def main_async(args: argparse.Namespace, url: str, pid: int) -> None:
    points, polys = bodies(args.points, args.polygons, args.pack)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        t = time.perf_counter()
        # concurrent warm-up requests reach every worker, each builds its checker once
        warm = await asyncio.gather(
            *(client.post("/api/check", json=b) for b in points[: 8 * args.workers])
        )
        for r in warm:
            r.raise_for_status()
        print(f"warm-up (checker build) {time.perf_counter() - t:.1f} s")
        rss: list[tuple[float, float]] = []
        stop = asyncio.Event()
        t0 = time.perf_counter()
        sampler = asyncio.create_task(sample_rss(pid, rss, stop, t0))
        phases = {}
        phases["points"] = await run_phase(client, points, args.clients)
        mark = time.perf_counter() - t0
        phases["polygons"] = await run_phase(client, polys, args.clients)
        stop.set()
        await sampler
    print()
    print(
        f"{'phase':10} {'req':>6} {'ok':>6} {'err':>4} {'req/s':>7} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8}"
    )
    for name, p in phases.items():
        print(
            f"{name:10} {p['requests']:6d} {p['ok']:6d} {p['errors']:4d} {p['throughput']:7.1f} "
            f"{p['p50']:8.1f} {p['p95']:8.1f} {p['p99']:8.1f} {p['mean']:8.1f}"
        )
        for e in p["error_samples"]:
            print("   error:", e)
    print()
    print("server RSS (MB) over time:")
    step = max(1, len(rss) // 12)
    for t, mb in rss[::step] + ([rss[-1]] if rss and (len(rss) - 1) % step else []):
        phase = "points" if t <= mark else "polygons"
        print(f"  t={t:6.1f} s  {mb:7.1f} MB  ({phase})")
    if rss:
        first = [mb for t, mb in rss if t <= min(mark, rss[0][0] + 5)]
        last = [mb for t, mb in rss if t >= rss[-1][0] - 5]
        print(
            f"  start {statistics.fmean(first):.1f} MB, end {statistics.fmean(last):.1f} MB, "
            f"max {max(mb for _, mb in rss):.1f} MB"
        )
    target = phases["points"]["p95"] < 300 and all(p["errors"] == 0 for p in phases.values())
    print()
    print(f"target (point p95 < 300 ms, no errors): {'met' if target else 'NOT met'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--polygons", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--threads", type=int, default=4, help="check threads per worker")
    ap.add_argument("--pack", default="beijing")
    ap.add_argument(
        "--store", type=Path, default=None, help="store to copy (default: data/ecozone_demo.gpkg)"
    )
    args = ap.parse_args()
    src = args.store or ROOT / "data" / "ecozone_demo.gpkg"
    if not src.is_file():
        print(f"no store at {src}: build it with `make data` or pass --store", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ecozone-bench-") as tmp:
        store = Path(tmp) / "store.gpkg"
        shutil.copyfile(src, store)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "ECOZONE_API_TOKEN"}
        env.pop("ECOZONE_WEB_SETTINGS", None)
        cmd = [
            sys.executable,
            "-m",
            "ecozone.cli.serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--store",
            str(store),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
        ]
        log = open(Path(tmp) / "server.log", "w+")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=log, stdout=log, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    print("server did not start:", log.read()[-2000:])
                    return 1
                time.sleep(0.2)
            print(
                f"server pid {proc.pid}, {args.workers} worker(s), {args.threads} threads each; "
                f"{args.clients} clients; store {src.name}; {os.cpu_count()} CPUs"
            )
            asyncio.run(main_async(args, url, proc.pid))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.seek(0)
            problems = [ln for ln in log.read().splitlines() if "ERROR" in ln or "Traceback" in ln]
            log.close()
            if problems:
                print(f"server log: {len(problems)} error lines, first: {problems[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
