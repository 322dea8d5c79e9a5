"""Tables and JSON of a peer benchmark run, and the description of the machine.

:func:`machine_description` records CPU model, cores, RAM, OS, the load average at
the start, and the versions of every engine. :func:`render_markdown` makes one
table per task with, for each engine: load time, task time, throughput, peak memory
of the engine process (and of the PostgreSQL server), and the ratio of the engine's
time to ecozone's (above 1: ecozone is faster). :func:`write_report` writes
``results.json`` and ``results.md``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["machine_description", "render_markdown", "write_report"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover
        return float("nan")


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (other processes compete for the cores)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


def machine_description(engine_versions: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Describe the machine and software of a run.

    Parameters
    ----------
    engine_versions
        Engine name → its versions (from each engine module's ``versions()``).

    Returns
    -------
    dict
        ``cpu, cores, ram_gb, os, python, load_average_at_start, versions``.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count() or 1
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "ram_gb": _ram_gb(),
        "os": f"{platform.system()} {platform.release()} ({platform.platform()})",
        "python": sys.version.split()[0],
        "load_average_at_start": load_average(),
        "versions": engine_versions,
    }


def _num(v: Any, fmt: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return format(v, fmt)


def render_markdown(results: dict[str, Any]) -> str:
    """One Markdown table per task instance (see the module docstring)."""
    lines: list[str] = []
    m = results["machine"]
    lines.append(
        f"Run {results['started']} · {m['cpu']} · {m['cores']} cores · {m['ram_gb']} GB RAM"
    )
    lines.append(f"Dataset: {results['dataset']['folder']} (scale {results['dataset']['scale']})")
    lines.append("")
    for t in results["tasks"]:
        unit = "parcels" if t["task"] == "coverage" else "sites"
        lines.append(f"### {t['title']}")
        lines.append("")
        agree = t.get("agreement", {})
        if agree:
            lines.append(
                f"Agreement before timing ({agree.get('subset', '')}): {agree.get('summary', '')}"
            )
            lines.append("")
        lines.append(
            f"| engine | status | load s | task s | {unit}/s | peak MB | server MB "
            "| task ÷ ecozone | (load+task) ÷ ecozone |"
        )
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in t["runs"]:
            lines.append(
                f"| {r['engine']} | {r['status']} | {_num(r.get('load_s'), '.1f')} "
                f"| {_num(r.get('run_s'), '.2f')} | {_num(r.get('throughput'), ',.0f')} "
                f"| {_num(r.get('peak_rss_mb'), ',.0f')} | {_num(r.get('server_peak_mb'), ',.0f')} "
                f"| {_num(r.get('ratio_task'), '.2f')} | {_num(r.get('ratio_total'), '.2f')} |"
            )
        e2e = t.get("e2e_runs") or []
        if e2e:
            task_ratio = {r["engine"]: r.get("ratio_task") for r in t["runs"]}
            lines.append("")
            lines.append(
                "End to end (read the sites GeoParquet and the layers, prepare, check, "
                "write the result file):"
            )
            lines.append("")
            lines.append(
                f"| engine | status | end-to-end s | {unit}/s | peak MB "
                "| e2e ÷ ecozone | task ÷ ecozone |"
            )
            lines.append("|---|---|---:|---:|---:|---:|---:|")
            for r in e2e:
                lines.append(
                    f"| {r['engine']} | {r['status']} | {_num(r.get('e2e_s'), '.2f')} "
                    f"| {_num(r.get('throughput'), ',.0f')} | {_num(r.get('peak_rss_mb'), ',.0f')} "
                    f"| {_num(r.get('ratio_e2e'), '.2f')} "
                    f"| {_num(task_ratio.get(r['engine']), '.2f')} |"
                )
        notes = [f"{r['engine']}: {r['note']}" for r in [*t["runs"], *e2e] if r.get("note")]
        if notes:
            lines.append("")
            lines += [f"- {n}" for n in notes]
        lines.append("")
    return "\n".join(lines)


def write_report(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results["written"] = datetime.now(UTC).isoformat(timespec="seconds")
    js = out_dir / "results.json"
    md = out_dir / "results.md"
    tmp = js.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    tmp.replace(js)
    md.write_text(render_markdown(results))
    return js, md


def add_ratios(runs: list[dict[str, Any]], *, reference: str = "ecozone") -> None:
    """Fill ``ratio_task`` and ``ratio_total`` (engine time ÷ reference time) in place."""
    ref = next((r for r in runs if r["engine"] == reference and r["status"] == "ok"), None)
    for r in runs:
        if ref is None or r["status"] != "ok":
            r["ratio_task"] = r["ratio_total"] = None
            continue
        r["ratio_task"] = r["run_s"] / ref["run_s"] if ref["run_s"] > 0 else None
        ref_total = ref["run_s"] + ref["load_s"]
        r["ratio_total"] = (r["run_s"] + r["load_s"]) / ref_total if ref_total > 0 else None
