"""Benchmark ecozone against the engines users would pick instead: PostGIS, DuckDB, GeoPandas.

Builds a deterministic synthetic Beijing-scale dataset (``--scale 10``: 20 000
red-line polygons, 20 000 wells, 15 000 parks, 200 000 residential parcels), then,
in one run, for each task — (a) batch point-site check, (b) polygon-site check with
overlap areas, (p) raw point-in-polygon of the largest point set against the
red line, (c) park service coverage — first checks on a subset that every
engine gives ecozone's answers (a disagreement stops the run and prints the first
differing sites), then times every engine on the full data in a fresh process each.
Writes ``results.json`` and ``results.md`` into ``<out>/run-<UTC time>/``.

Usage::

    .venv/bin/python benchmarks/run_peers.py [--scale 1|10] [--sites 100000,1000000]
        [--polygon-sites 10000] [--engines ecozone,geopandas,postgis,duckdb]
        [--out benchmarks/out/] [--timeout 1800] [--check-sites 20000]
        [--tasks points,polygons,pip,coverage] [--mode task|e2e|both]

With ``--mode both`` (default) the check tasks are also run end to end: every engine
reads the sites GeoParquet and the layers, prepares, checks and writes its result
file, timed as one span, and the e2e ratios are published beside the task ones.

See benchmarks/README.md for what each engine does and how to read the tables.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness.runner import Options, run_peers  # noqa: E402
from benchmarks.harness.worker import ENGINES  # noqa: E402


def _ints(text: str) -> list[int]:
    try:
        vals = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give comma-separated counts, e.g. 100000,1000000"
        ) from exc
    if any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"{text!r}: counts must be positive")
    return vals


def _engines(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    bad = [n for n in names if n not in ENGINES]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown engine(s) {bad}; choose from {','.join(ENGINES)}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--scale", type=float, default=10, help="dataset scale factor (1 or 10; default 10)"
    )
    ap.add_argument("--seed", type=int, default=20250101, help="dataset seed")
    ap.add_argument("--sites", type=_ints, default=[100_000, 1_000_000], help="point-site counts")
    ap.add_argument("--polygon-sites", type=_ints, default=[10_000], help="polygon-site counts")
    ap.add_argument("--engines", type=_engines, default=list(ENGINES), help="engines to run")
    ap.add_argument("--tasks", default="points,polygons,pip,coverage", help="tasks to run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out", help="output folder")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per engine run")
    ap.add_argument("--check-sites", type=int, default=20_000,
                    help="sites (parcels) of the agreement check before timing")  # fmt: skip
    ap.add_argument("--keep-answers", action="store_true", help="keep every engine's answer files")
    ap.add_argument("--mode", choices=("task", "e2e", "both"), default="both",
                    help="task: time the task alone; e2e: from the sites file to the result "
                    "file (check tasks); both (default)")  # fmt: skip
    args = ap.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    bad = [t for t in tasks if t not in ("points", "polygons", "pip", "coverage")]
    if bad:
        ap.error(f"--tasks: unknown task(s) {bad}; choose from points,polygons,pip,coverage")
    opts = Options(
        scale=args.scale, seed=args.seed, sites=args.sites, polygon_sites=args.polygon_sites,
        engines=args.engines, tasks=tasks, out=args.out, timeout_s=args.timeout,
        check_sites=args.check_sites, keep_answers=args.keep_answers, mode=args.mode,
    )  # fmt: skip
    return run_peers(opts)


if __name__ == "__main__":
    sys.exit(main())
