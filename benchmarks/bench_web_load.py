"""Load test of the web app on 127.0.0.1: concurrent single-point checks, then polygons.

Starts ``ecozone serve`` (``python -m ecozone.cli.serve``) on a free port over a
temporary copy of the demo store, warms the pack's checker (``--warm`` untimed checks
from every client at once), then runs

1. ``--points`` (2 000) single-point checks from ``--clients`` (50) concurrent
   asyncio clients (keep-alive HTTP/1.1; ``--client httpx`` for httpx), points
   spread over the pack's jurisdiction;
2. ``--polygons`` (200) polygon checks (squares of 100–600 m),

and prints throughput, latency percentiles (p50/p95/p99), errors (non-200 answers
or failed requests), the CPU time per request of the server (all its processes) and
of this load generator (it shares the machine), the 1-minute load average before and
after each phase (other work on the machine slows everything), the server's resident
memory (RSS of the process tree, sampled every 0.5 s) over time, and worker
processes restarted during the run (uvicorn replaces a worker that misses its 5 s
health check; its connections fail). Run::

    .venv/bin/python benchmarks/bench_web_load.py [--clients 50] [--workers 2]

``--first`` measures instead what the first users of a new server wait for: ``--runs``
(3) times, the server is started, and ``--pause`` (0) seconds after it answers
``/api/health`` a point check and the report of a point as HTML, DOCX and PDF are
asked one after the other, twice; printed: the median and range of each answer. Run
it with ``--workers 1``, the default of ``ecozone serve``.

Nothing leaves 127.0.0.1. Target on a 2-core machine: p95 < 300 ms for point
checks, zero errors, memory steady.

``--mixed`` runs the hostile mix of issue #13 instead: ``--clients`` (50) clients doing
point checks while ``--heavy`` (4) clients each send the heaviest allowed polygon
(a MultiPolygon of 19 000 squares, 95 000 vertices) ``--rounds`` times and one client
sends a 29 KB DXF of nested blocks (6.4 million lines once exploded) to
``/api/parse``. Target: point p95 < 300 ms, no point errors, every heavy request
answered 4xx or within its time limit, and the server's memory back within 100 MB
of its start once the heavy work is over (``--settle`` seconds later).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
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


def tree_cpu_s(pid: int) -> float:
    """CPU time (user + system, s) used so far by a process and its children (/proc)."""
    total = 0
    todo = [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(k) for k in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total / tick


def client_cpu_s() -> float:
    """CPU time (user + system, s) of this process (the load generator)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


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


def heavy_polygon(pack: str, n: int = 19_000) -> dict:
    """The heaviest allowed site: ``n`` small squares, 5 vertices each (95 000)."""
    k = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    side = 0.0005
    x0 = BOX[0] + 0.05 + (i % k) * side * 2
    y0 = BOX[1] + 0.05 + (i // k) * side * 2
    polys = [
        [[[a, b], [a + side, b], [a + side, b + side], [a, b + side], [a, b]]]
        for a, b in zip(x0.round(6).tolist(), y0.round(6).tolist(), strict=True)
    ]
    return {"pack": pack, "geometry": {"type": "MultiPolygon", "coordinates": polys}}


def dxf_bomb(path: Path, fan: int = 20, top: int = 40, depth: int = 4) -> bytes:
    """A small DXF whose nested block references explode to top × fan**depth lines."""
    import ezdxf

    doc = ezdxf.new()
    prev = None
    for lvl in range(depth):
        blk = doc.blocks.new(name=f"B{lvl}")
        for j in range(fan):
            if prev is None:
                blk.add_line((500_000 + j, 4_400_000), (500_000 + j, 4_400_001))
            else:
                blk.add_blockref(prev, (j * 10, 0))
        prev = f"B{lvl}"
    for j in range(top):
        doc.modelspace().add_blockref(prev, (j * 1000, 0))
    doc.saveas(path)
    return path.read_bytes()


class RawClient:
    """A minimal HTTP/1.1 keep-alive client for JSON POSTs: the default load generator.

    httpx spends about as much CPU per request as the server's whole check (4 ms on
    this machine) and runs on the same cores, so it slowed the server it measured.
    This client writes the pre-encoded request, reads the status line, headers and
    the whole body (Content-Length or chunked), and keeps the connection open; about
    0.2 ms of CPU per request. ``--client httpx`` measures with httpx instead.
    """

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``path``; return the status and the response body."""
        return await asyncio.wait_for(self._post(path, body), self.timeout)

    async def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._idle:
            reader, writer = self._idle.pop()
            try:
                return await self._exchange(reader, writer, path, body)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                # a keep-alive connection the server closed while idle (uvicorn: after
                # 5 s): nothing was answered on it, so send again on a new one, as
                # every HTTP client does
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, path, body)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
    ) -> tuple[int, bytes]:
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for ln in lines[1:]:
                if ":" in ln:
                    k, v = ln.split(":", 1)
                    headers[k.strip().lower()] = v.strip().lower()
            if headers.get("transfer-encoding") == "chunked":
                parts = []
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    chunk = await reader.readexactly(size + 2)
                    if size == 0:
                        break
                    parts.append(chunk[:-2])
                data = b"".join(parts)
            else:
                data = await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if headers.get("connection") == "close":
            writer.close()
        else:
            self._idle.append((reader, writer))
        return status, data

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


class HttpxClient:
    """The same interface over httpx.AsyncClient (``--client httpx``)."""

    def __init__(self, url: str, clients: int, *, timeout: float) -> None:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        self._client = httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        r = await self._client.post(
            path, content=body, headers={"Content-Type": "application/json"}
        )
        return r.status_code, r.content

    async def aclose(self) -> None:
        await self._client.aclose()


async def run_phase(client: RawClient | HttpxClient, items: list, clients: int, pid: int) -> dict:
    """Send every request body in ``items`` from ``clients`` concurrent clients."""
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
                status, data = await client.post("/api/check", body)
                # a report, not just any 200: the schema tag opens the answer; a point
                # outside the pack's jurisdiction is answered 422 by design (#11)
                ok = status == 200 and data.startswith(b'{"schema":"ecozone.report/1"')
                ok = ok or (status == 422 and b"outside_jurisdiction" in data[:80])
                if not ok:
                    errors.append(f"{status} {data[:120]!r}")
            except (OSError, asyncio.IncompleteReadError, TimeoutError, httpx.HTTPError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)

    load0 = os.getloadavg()[0]
    server0, client0 = tree_cpu_s(pid), client_cpu_s()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    server_cpu, client_cpu = tree_cpu_s(pid) - server0, client_cpu_s() - client0
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
        # CPU per request: the server's (all workers) and this load generator's; the
        # load average (1 min) before and after: other work on the machine slows both
        "server_cpu_ms": server_cpu * 1000 / len(items),
        "client_cpu_ms": client_cpu * 1000 / len(items),
        "load": (load0, os.getloadavg()[0]),
    }


def worker_pids(pid: int) -> set[int]:
    """The children of the uvicorn supervisor: its workers (and multiprocessing's helper)."""
    kids: set[int] = set()
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            kids.update(int(k) for k in (task / "children").read_text().split())
    except OSError:
        pass
    return kids


async def sample_rss(
    pid: int, out: list, workers: set[int], stop: asyncio.Event, t0: float
) -> None:
    while not stop.is_set():
        out.append((time.perf_counter() - t0, tree_rss_mb(pid)))
        workers.update(worker_pids(pid))
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


def mixed_inputs(pack: str) -> tuple[bytes, bytes]:
    """The heavy polygon body and the DXF bomb (built before the warm-up: an idle
    keep-alive connection would be closed by the server meanwhile)."""
    heavy_body = json.dumps(heavy_polygon(pack), separators=(",", ":")).encode()
    with tempfile.TemporaryDirectory() as tmp:
        bomb = dxf_bomb(Path(tmp) / "bomb.dxf")
    return heavy_body, bomb


async def run_mixed(
    client: RawClient | HttpxClient, url: str, points: list[bytes], args: argparse.Namespace,
    pid: int, heavy_body: bytes, bomb: bytes,
) -> int:  # fmt: skip
    """Points from ``--clients`` clients while heavy polygons and a DXF bomb arrive."""
    print(
        f"mixed: heavy polygon body {len(heavy_body) / 2**20:.1f} MB (95 000 vertices), "
        f"DXF {len(bomb) / 1024:.0f} KB"
    )
    rss: list[tuple[float, float]] = []
    seen: set[int] = set()
    stop_rss, stop_points = asyncio.Event(), asyncio.Event()
    t0 = time.perf_counter()
    sampler = asyncio.create_task(sample_rss(pid, rss, seen, stop_rss, t0))
    await asyncio.sleep(1.0)
    start_mb = statistics.fmean(mb for _, mb in rss) if rss else tree_rss_mb(pid)
    latencies: list[float] = []
    errors: list[str] = []
    heavy: list[tuple[str, int, float]] = []

    async def point_client(offset: int) -> None:
        i = offset
        while not stop_points.is_set():
            body = points[i % len(points)]
            i += args.clients
            t = time.perf_counter()
            try:
                status, data = await client.post("/api/check", body)
                if status == 200 and data.startswith(b'{"schema":"ecozone.report/1"'):
                    latencies.append(time.perf_counter() - t)
                elif status == 422 and b"outside_jurisdiction" in data[:80]:
                    latencies.append(time.perf_counter() - t)  # answered, by design (#11)
                else:
                    errors.append(f"{status} {data[:120]!r}")
            except (OSError, asyncio.IncompleteReadError, TimeoutError, httpx.HTTPError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    async def heavy_client(kind: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=300) as hc:
            for _ in range(args.rounds):
                t = time.perf_counter()
                try:
                    if kind == "polygon":
                        r = await hc.post(
                            "/api/check", content=heavy_body,
                            headers={"content-type": "application/json"},
                        )  # fmt: skip
                    else:
                        r = await hc.post(
                            "/api/parse", files={"file": ("plan.dxf", bomb)},
                            data={"coords": "gk", "gk_zone": "39"},
                        )  # fmt: skip
                    status = r.status_code
                except httpx.HTTPError:
                    status = -1
                heavy.append((kind, status, time.perf_counter() - t))

    pts = [asyncio.create_task(point_client(k)) for k in range(args.clients)]
    load0 = os.getloadavg()[0]
    t_heavy = time.perf_counter()
    await asyncio.gather(*(heavy_client("polygon") for _ in range(args.heavy)), heavy_client("dxf"))
    heavy_s = time.perf_counter() - t_heavy
    stop_points.set()
    await asyncio.gather(*pts)
    await asyncio.sleep(args.settle)  # let replaced workers come up and memory settle
    stop_rss.set()
    await sampler
    end_mb = statistics.fmean(mb for t, mb in rss if t >= rss[-1][0] - 2)
    peak_mb = max(mb for _, mb in rss)
    lat = np.asarray(latencies) * 1000
    p50, p95, p99 = (
        float(np.percentile(lat, q)) if len(lat) else float("nan") for q in (50, 95, 99)
    )
    print()
    print(
        f"points during the heavy work ({heavy_s:.1f} s, load {load0:.1f}→"
        f"{os.getloadavg()[0]:.1f}): {len(latencies)} ok, {len(errors)} errors, "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms"
    )
    for e in errors[:3]:
        print("   error:", e)
    limit = args.time_limit
    heavy_ok = True
    for kind in ("polygon", "dxf"):
        rows = [(st, dt) for k, st, dt in heavy if k == kind]
        statuses = Counter(st for st, _ in rows)
        worst = max((dt for _, dt in rows), default=float("nan"))
        print(f"{kind:8} requests {len(rows)}: statuses {dict(statuses)}, slowest {worst:.1f} s")
        for st, dt in rows:
            if not ((400 <= st < 500) or (st in (200, 504) and dt <= limit + 5)):
                heavy_ok = False
    print(
        f"server memory: start {start_mb:.0f} MB, peak {peak_mb:.0f} MB, end {end_mb:.0f} MB "
        f"({end_mb - start_mb:+.0f} MB, {args.settle:.0f} s after the heavy work)"
    )
    met = p95 < 300 and not errors and heavy_ok and end_mb - start_mb < 100
    print(
        "target (point p95 < 300 ms, no point errors, heavy 4xx or within the time limit, "
        f"memory back within 100 MB): {'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


async def main_async(args: argparse.Namespace, url: str, pid: int) -> None:
    def encode(items: list) -> list[bytes]:
        return [json.dumps(b, separators=(",", ":")).encode() for b in items]

    points, polys = (encode(x) for x in bodies(args.points, args.polygons, args.pack))
    heavy_body, bomb = mixed_inputs(args.pack) if args.mixed else (b"", b"")
    warm_points, warm_polys = (encode(x) for x in bodies(args.warm, args.warm // 4, args.pack, 99))
    if args.client == "raw":
        host, port = url.removeprefix("http://").rsplit(":", 1)
        client: RawClient | HttpxClient = RawClient(host, int(port), timeout=120)
    else:
        client = HttpxClient(url, args.clients, timeout=120)
    try:
        t = time.perf_counter()
        # every client at once: each worker process gets connections and builds its
        # checker, and each of its threads makes its PROJ objects, before the timing
        warm = await run_phase(client, warm_points + warm_polys, args.clients, pid)
        if warm["errors"]:
            raise RuntimeError(f"warm-up failed: {warm['error_samples']}")
        print(
            f"warm-up ({warm['requests']} checks: checker builds) {time.perf_counter() - t:.1f} s"
        )
        if args.mixed:
            await run_mixed(client, url, points, args, pid, heavy_body, bomb)
            return
        rss: list[tuple[float, float]] = []
        seen = worker_pids(pid)
        first_workers = set(seen)
        stop = asyncio.Event()
        t0 = time.perf_counter()
        sampler = asyncio.create_task(sample_rss(pid, rss, seen, stop, t0))
        phases = {}
        phases["points"] = await run_phase(client, points, args.clients, pid)
        mark = time.perf_counter() - t0
        phases["polygons"] = await run_phase(client, polys, args.clients, pid)
        stop.set()
        await sampler
    finally:
        await client.aclose()
    print()
    print(
        f"{'phase':10} {'req':>6} {'ok':>6} {'err':>4} {'req/s':>7} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8} "
        f"{'server CPU':>11} {'client CPU':>11} {'load':>10}"
    )
    for name, p in phases.items():
        print(
            f"{name:10} {p['requests']:6d} {p['ok']:6d} {p['errors']:4d} {p['throughput']:7.1f} "
            f"{p['p50']:8.1f} {p['p95']:8.1f} {p['p99']:8.1f} {p['mean']:8.1f} "
            f"{p['server_cpu_ms']:8.2f} ms {p['client_cpu_ms']:8.2f} ms "
            f"{p['load'][0]:4.1f}→{p['load'][1]:4.1f}"
        )
        for e in p["error_samples"]:
            print("   error:", e)
    print("(CPU per request; load: 1-minute load average before → after the phase)")
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
    restarted = len(seen - first_workers)
    print(
        f"server child processes (workers, multiprocessing helper): {len(first_workers)} at "
        f"the start, {restarted} new during the run (a restarted worker)"
    )
    target = phases["points"]["p95"] < 300 and all(p["errors"] == 0 for p in phases.values())
    print()
    print(f"target (point p95 < 300 ms, no errors): {'met' if target else 'NOT met'}")


@contextlib.contextmanager
def serve(args: argparse.Namespace, src: Path) -> Iterator[tuple[str, int]]:
    """Run ``ecozone serve`` over a temporary copy of the store ``src``; yield (URL, pid).

    Yields once ``/api/health`` answers; afterwards stops the server and prints the
    errors and worker restarts of its log.
    """
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
            "--time-limit",
            str(args.time_limit),
            *(["--processes", str(args.processes)] if args.processes is not None else []),
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
                    raise SystemExit("server did not start: " + log.read()[-2000:])
                time.sleep(0.2)
            yield url, proc.pid
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.seek(0)
            lines = log.read().splitlines()
            log.close()
            problems = [i for i, ln in enumerate(lines) if "ERROR" in ln or "Traceback" in ln]
            if problems:
                first = lines[problems[0] : problems[0] + 40]  # the whole first traceback
                print(f"server log: {len(problems)} error lines, first:\n" + "\n".join(first))
            # uvicorn kills a worker that misses its health check (5 s) and starts another:
            # its open connections fail (httpx ReadError) and its checker is rebuilt
            restarts = [ln for ln in lines if "died" in ln or "Terminated child" in ln]
            if restarts:
                print(f"server log: {len(restarts)} worker restart(s): {restarts[:3]}")


FIRST_ASKS = ("point", "html", "docx", "pdf", "point", "html", "docx", "pdf")


def first_answers(args: argparse.Namespace, src: Path) -> int:
    """``--first``: what the first users of a newly started server wait for.

    ``--runs`` times: start the server, wait until it answers ``/api/health`` and
    ``--pause`` seconds more (a user opening the page), then ask, one after the other,
    a point check and the report of a point as HTML, DOCX and PDF, twice (the first
    answers against the later ones). Prints the median and range of each answer's
    wall time over the runs, and the load average.
    """
    lon, lat = 116.66, 39.91  # Tongzhou, inside the Beijing pack's jurisdiction
    body = {"pack": args.pack, "geometry": {"type": "Point", "coordinates": [lon, lat]}}
    times: list[list[float]] = [[] for _ in FIRST_ASKS]
    load0 = os.getloadavg()[0]
    for _ in range(args.runs):
        with serve(args, src) as (url, _pid), httpx.Client(base_url=url, timeout=120) as c:
            time.sleep(args.pause)
            for i, ask in enumerate(FIRST_ASKS):
                path = "/api/check" if ask == "point" else f"/api/check/report?format={ask}"
                t = time.perf_counter()
                r = c.post(path, json=body)
                times[i].append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise SystemExit(f"{ask}: {r.status_code} {r.text[:300]}")
    print(
        f"first answers of a new server ({args.runs} starts, {args.pause:g} s after it "
        f"answered; pack {args.pack}; load {load0:.2f} -> {os.getloadavg()[0]:.2f})"
    )
    print(f"{'request':12s} {'median s':>9s} {'min':>7s} {'max':>7s}")
    for i, ask in enumerate(FIRST_ASKS):
        label = f"{ask} ({'first' if i < len(FIRST_ASKS) // 2 else 'again'})"
        ts = times[i]
        print(f"{label:12s} {statistics.median(ts):9.2f} {min(ts):7.2f} {max(ts):7.2f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--polygons", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--threads", type=int, default=4, help="check threads per worker")
    ap.add_argument(
        "--processes", type=int, default=None, help="heavy-work processes per uvicorn worker"
    )
    ap.add_argument("--pack", default="beijing")
    ap.add_argument("--mixed", action="store_true", help="the hostile mix (see above)")
    ap.add_argument("--heavy", type=int, default=4, help="--mixed: heavy-polygon clients")
    ap.add_argument("--rounds", type=int, default=2, help="--mixed: requests per heavy client")
    ap.add_argument("--settle", type=float, default=10.0, help="--mixed: seconds before end RSS")
    ap.add_argument("--time-limit", type=float, default=30.0, help="server --time-limit (s)")
    ap.add_argument("--warm", type=int, default=200, help="warm-up point checks (untimed)")
    ap.add_argument("--first", action="store_true", help="first answers of a new server")
    ap.add_argument("--runs", type=int, default=3, help="--first: server starts")
    ap.add_argument("--pause", type=float, default=0.0, help="--first: seconds before asking")
    ap.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: a minimal HTTP/1.1 client (default) or httpx",
    )
    ap.add_argument(
        "--store", type=Path, default=None, help="store to copy (default: data/ecozone_demo.gpkg)"
    )
    args = ap.parse_args()
    src = args.store or ROOT / "data" / "ecozone_demo.gpkg"
    if not src.is_file():
        print(f"no store at {src}: build it with `make data` or pass --store", file=sys.stderr)
        return 2
    if args.first:
        return first_answers(args, src)
    with serve(args, src) as (url, pid):
        print(
            f"server pid {pid}, {args.workers} worker(s), {args.threads} threads each; "
            f"{args.clients} clients; store {src.name}; {os.cpu_count()} CPUs"
        )
        asyncio.run(main_async(args, url, pid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
