"""Time of one single-site check (library only): ``SiteChecker.check`` + ``build_report``.

What the web app does per ``POST /api/check``, minus HTTP and parsing: a one-row
GeoDataFrame in EPSG:4326 is checked by a warm :class:`zoning.check.engine.SiteChecker`
(built once, outside the timing) and turned into the report dict by
:func:`zoning.report.build.build_report`. For each pack (default ``tongzhou`` and
``beijing``) and each site kind (points; squares of 100–600 m as in
``bench_web_load.py``), ``--calls`` (500) different random sites inside the plains box
of the web load test are checked one at a time, after ``--warm`` (50) untimed calls.

Reported per (pack, kind): median and p95 of the check, of the report, and of both
together (milliseconds, wall time of one call in one thread), median and p95 of the
CPU time of both together (``time.thread_time``: the figure to trust when other work
shares the machine, which inflates wall times), and the 1-minute load average.
``--api geometry`` checks the shapely geometry with ``SiteChecker.check_geometry``
instead of a one-row frame; ``--api each`` checks ``--pass-size`` (16) sites per
``SiteChecker.check_each`` pass, as the web app checks the points that arrive
together (the check figures are then the pass time divided by its sites).
``--json`` also writes every figure to a file. ``--profile`` runs pyinstrument over
the point calls of the first pack and prints the tree.

``--cold`` measures instead what a user waits for at the command line: each command
runs ``--runs`` (5) times as a new process (``ecozone --help``; ``ecozone check --at
LON,LAT --pack P`` for each pack, at a point inside it, with the default store), after
one untimed run (the first run after a store change also verifies the layers'
checksums; later processes skip that while the file is unchanged, see
``layers/_verified.py``). Reported: median and minimum of the wall time and of the
CPU time (user + system of the child: the figure to trust when the machine is
loaded), and the load average. Targets (issue #16): ``--help`` ≤ 0.15 s, a
single-site check ≤ 0.5 s wall. Two more processes give the floor under any check
on this machine: ``python -c "import pandas, shapely, pyproj"`` (the libraries the
check engine's frames and geometries need, before any of ecozone's code) and
``python -c "pass"`` (the interpreter alone).

``--reports`` measures what a reviewer waits for: ``ecozone check --at LON,LAT --pack P
--report DIR`` (JSON, HTML, DOCX and, with Chromium, PDF) as ``--runs`` new processes per
pack, with the PDF fonts' glyphs kept from the untimed first run (the user cache) and
with ``ECOZONE_FONT_CACHE=0`` (every glyph converted in the process); then ``ecozone
check SITES --pack beijing --report DIR --each`` over ``--each`` (6) points of the pack,
and its time per report.

Usage::

    .venv/bin/python benchmarks/bench_single_check.py [--calls 500] [--packs tongzhou,beijing]
    .venv/bin/python benchmarks/bench_single_check.py --cold [--runs 5]
    .venv/bin/python benchmarks/bench_single_check.py --reports [--runs 3] [--each 6]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Geod

ROOT = Path(__file__).resolve().parent.parent
GEOD = Geod(ellps="GRS80")
# lon/lat box inside Beijing's plains, as in bench_web_load.py
BOX = (116.25, 39.65, 116.95, 40.15)


def make_sites(
    kind: str, n: int, seed: int, area: shapely.Geometry | None = None
) -> list[gpd.GeoDataFrame]:
    """``n`` one-row site frames (``site_id`` "site", EPSG:4326), as the web app builds them.

    Centres are uniform in :data:`BOX`, or inside ``area`` (a pack's jurisdiction:
    sites outside it are rows in error, not checks) when given.
    """
    rng = np.random.default_rng(seed)
    if area is None:
        lon = rng.uniform(BOX[0], BOX[2], n)
        lat = rng.uniform(BOX[1], BOX[3], n)
    else:
        x0, y0, x1, y1 = area.bounds
        lon, lat = np.empty(0), np.empty(0)
        while len(lon) < n:
            cx, cy = rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)
            keep = shapely.contains_xy(area, cx, cy)
            lon, lat = np.concatenate([lon, cx[keep]]), np.concatenate([lat, cy[keep]])
        lon, lat = lon[:n], lat[:n]
    if kind == "point":
        geoms = shapely.points(lon, lat)
    else:  # squares of 100-600 m side
        half = rng.uniform(100, 600, n) / 2
        w, _, _ = GEOD.fwd(lon, lat, np.full(n, 270.0), half)
        e, _, _ = GEOD.fwd(lon, lat, np.full(n, 90.0), half)
        _, s, _ = GEOD.fwd(lon, lat, np.full(n, 180.0), half)
        _, nn, _ = GEOD.fwd(lon, lat, np.zeros(n), half)
        geoms = shapely.box(w, s, e, nn, ccw=False)
    return [gpd.GeoDataFrame({"site_id": ["site"]}, geometry=[g], crs="EPSG:4326") for g in geoms]


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95))}


def time_calls(
    checker, sites, project, build_report, api: str = "frame", pass_size: int = 16
) -> dict:
    geometry = api == "geometry" and hasattr(checker, "check_geometry")
    step = pass_size if api == "each" else 1
    check_ms: list[float] = []
    report_ms: list[float] = []
    cpu_ms: list[float] = []
    c0 = time.process_time()
    for start in range(0, len(sites), step):
        chunk = sites[start : start + step]
        u0 = time.thread_time()
        t0 = time.perf_counter()
        if api == "each":  # one engine pass for the chunk, one result per site
            geoms = [site.geometry.iloc[0] for site in chunk]
            results = checker.check_each(geoms, projects=[project] * len(geoms))
        elif geometry:  # the shapely geometry, no GeoDataFrame
            results = [checker.check_geometry(chunk[0].geometry.iloc[0], project=project)]
        else:
            results = [checker.check(chunk[0], project=project)]
        t1 = time.perf_counter()
        for result in results:
            build_report(result, project=project)
        t2 = time.perf_counter()
        n = len(chunk)  # per site: the chunk's times shared out
        cpu_ms += [(time.thread_time() - u0) * 1000 / n] * n
        check_ms += [(t1 - t0) * 1000 / n] * n
        report_ms += [(t2 - t1) * 1000 / n] * n
    process_ms = (time.process_time() - c0) * 1000 / len(sites)
    total = [a + b for a, b in zip(check_ms, report_ms, strict=True)]
    return {
        "check": percentiles(check_ms),
        "report": percentiles(report_ms),
        "total": percentiles(total),
        "thread_cpu": percentiles(cpu_ms),
        "cpu_ms_per_call": process_ms,
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


# a point inside each demo pack's jurisdiction, for --cold
COLD_SITES = {"tongzhou": "116.65,39.91", "beijing": "116.40,39.90"}
#: What a check needs before any of ecozone's code runs (--cold's floor).
FLOOR_IMPORTS = "import pandas, shapely, pyproj"


def _label(cmd: list[str]) -> str:
    """``cmd`` as the table shows it: ``ecozone ARGS`` or ``python -c 'CODE'``."""
    if cmd[0] == sys.executable:
        return "python " + " ".join(repr(a) if " " in a else a for a in cmd[1:])
    return " ".join(["ecozone", *cmd[1:]] if cmd[0].endswith("ecozone") else cmd)


def time_process(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> dict:
    """Wall and CPU seconds of ``cmd`` run ``runs`` times as a new process (after one untimed).

    ``env``: variables set for the command, beside the caller's environment.
    """
    env = {**os.environ, **(env or {})}
    subprocess.run(cmd, capture_output=True, check=False, env=env)  # file cache, user cache
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, check=False, env=env)
        wall.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        if done.returncode != 0:
            msg = f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode()[-500:]}"
            raise RuntimeError(msg)
    return {
        "command": _label(cmd),
        "wall_median_s": round(statistics.median(wall), 3),
        "wall_min_s": round(min(wall), 3),
        "cpu_median_s": round(statistics.median(cpu), 3),
        "cpu_min_s": round(min(cpu), 3),
        "runs": runs,
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def cold(packs: list[str], runs: int, json_path: Path | None) -> int:
    """Time ``ecozone --help`` and one single-site check per pack from cold processes."""
    exe = Path(sys.executable).with_name("ecozone")
    cmds = [[str(exe), "--help"]]
    for pack in packs:
        at = COLD_SITES.get(pack)
        if at is None:
            print(f"no --cold site for pack {pack!r}; known: {sorted(COLD_SITES)}", file=sys.stderr)
            return 2
        cmds.append([str(exe), "check", "--at", at, "--pack", pack])
    # the floor under any check: a new Python importing the libraries the engine's
    # frames and geometry need (pandas, shapely, pyproj), and nothing of ecozone
    cmds += [[sys.executable, "-c", FLOOR_IMPORTS], [sys.executable, "-c", "pass"]]
    out = []
    for cmd in cmds:
        r = time_process(cmd, runs)
        out.append(r)
        print(
            f"{r['command']:53} wall {r['wall_median_s']:5.2f} s (min "
            f"{r['wall_min_s']:.2f})  CPU {r['cpu_median_s']:5.2f} s (min {r['cpu_min_s']:.2f})"
            f"  load {r['load_avg_1min']:.1f}",
            flush=True,
        )
    if json_path:
        json_path.write_text(json.dumps(out, indent=1))
    return 0


def reports(packs: list[str], runs: int, each: int, store: Path, json_path: Path | None) -> int:
    """Time site reports from new processes: one site per pack, and ``--each`` over points."""
    import tempfile

    from layers.store import LayerStore
    from zoning.pack import load_pack
    from zoning.workflow import jurisdiction_area

    exe = str(Path(sys.executable).with_name("ecozone"))
    out = []

    def show(r: dict, label: str) -> None:
        out.append({**r, "label": label})
        print(
            f"{label:62} wall {r['wall_median_s']:6.2f} s (min {r['wall_min_s']:.2f})  "
            f"CPU {r['cpu_median_s']:6.2f} s  load {r['load_avg_1min']:.1f}",
            flush=True,
        )

    with tempfile.TemporaryDirectory(prefix="ecozone-reports-") as tmp:
        for pack in packs:
            at = COLD_SITES.get(pack)
            if at is None:
                print(f"no site for pack {pack!r}; known: {sorted(COLD_SITES)}", file=sys.stderr)
                return 2
            cmd = [exe, "check", "--at", at, "--pack", pack, "--report", f"{tmp}/{pack}"]
            show(time_process(cmd, runs), f"{pack}: report, glyphs kept")
            show(
                time_process(cmd, runs, {"ECOZONE_FONT_CACHE": "0"}),
                f"{pack}: report, every glyph converted (ECOZONE_FONT_CACHE=0)",
            )
        with LayerStore(store, create=False) as s:
            area = jurisdiction_area(load_pack("beijing"), s)
        sites = _one_frame(make_sites("point", each, seed=7, area=area))
        sites["site_id"] = [f"S{i + 1}" for i in range(len(sites))]
        path = Path(tmp) / "sites.geojson"
        sites.to_file(path)
        cmd = [exe, "check", str(path), "--pack", "beijing", "--report", f"{tmp}/each", "--each"]
        r = time_process(cmd, runs)
        r["per_report_s"] = round(r["wall_median_s"] / each, 3)
        show(r, f"beijing: --each over {each} points ({r['per_report_s']:.2f} s a report)")
    if json_path:
        json_path.write_text(json.dumps(out, indent=1))
    return 0


def _one_frame(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """One frame of the one-row site frames (their CRS)."""
    import pandas as pd

    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--warm", type=int, default=50)
    ap.add_argument("--packs", default="tongzhou,beijing")
    ap.add_argument("--kinds", default="point,polygon")
    ap.add_argument("--store", type=Path, default=ROOT / "data" / "ecozone_demo.gpkg")
    ap.add_argument(
        "--api",
        choices=("frame", "geometry", "each"),
        default="frame",
        help="check a one-row GeoDataFrame (default), the geometry (SiteChecker.check_geometry)"
        " or --pass-size geometries per SiteChecker.check_each pass (as the web app)",
    )
    ap.add_argument("--pass-size", type=int, default=16, help="sites per pass with --api each")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    ap.add_argument("--profile", action="store_true", help="pyinstrument the first pack's points")
    ap.add_argument(
        "--cold", action="store_true", help="time the CLI from new processes (see above)"
    )
    ap.add_argument(
        "--runs", type=int, default=5, help="processes per command with --cold / --reports"
    )
    ap.add_argument(
        "--reports", action="store_true", help="time site reports from new processes (see above)"
    )
    ap.add_argument("--each", type=int, default=6, help="sites of the --each run of --reports")
    args = ap.parse_args(argv)
    if args.cold:
        return cold(args.packs.split(","), args.runs, args.json)
    if args.reports:
        return reports(args.packs.split(","), args.runs, args.each, args.store, args.json)
    if not args.store.is_file():
        print(
            f"no store at {args.store}: build it with `make data` or pass --store", file=sys.stderr
        )
        return 2

    from layers.store import LayerStore
    from zoning.pack import load_pack
    from zoning.project import Project
    from zoning.report.build import build_report
    from zoning.workflow import jurisdiction_area, make_checker

    project = Project(project_type="construction")
    out: list[dict] = []
    with LayerStore(args.store, create=False) as store:
        for p_i, pack in enumerate(args.packs.split(",")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # rules on layers the demo lacks are skipped
                checker = make_checker(pack, store, missing_layers="skip")
                area = jurisdiction_area(load_pack(pack), store)
            for kind in args.kinds.split(","):
                sites = make_sites(kind, args.warm + args.calls, seed=11, area=area)
                for site in sites[: args.warm]:  # metric copies of the layers, caches
                    build_report(checker.check(site, project=project), project=project)
                timed = sites[args.warm :]
                if args.profile and p_i == 0 and kind == "point":
                    from pyinstrument import Profiler

                    prof = Profiler(interval=0.0005)
                    prof.start()
                    time_calls(checker, timed, project, build_report, args.api, args.pass_size)
                    prof.stop()
                    print(prof.output_text(unicode=False, color=False))
                r = time_calls(checker, timed, project, build_report, args.api, args.pass_size)
                r.update(pack=pack, kind=kind, calls=len(timed), api=args.api)
                if args.api == "each":
                    r["pass_size"] = args.pass_size
                out.append(r)
                print(
                    f"{pack:9} {kind:8} check {r['check']['median']:6.2f} / "
                    f"{r['check']['p95']:6.2f} ms  report {r['report']['median']:6.2f} / "
                    f"{r['report']['p95']:6.2f} ms  total {r['total']['median']:6.2f} / "
                    f"{r['total']['p95']:6.2f} ms  CPU {r['thread_cpu']['median']:6.2f} / "
                    f"{r['thread_cpu']['p95']:6.2f} ms (median / p95)  "
                    f"load {r['load_avg_1min']:.1f}",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
