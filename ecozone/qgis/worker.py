"""The ecozone side of the QGIS plugin: a JSON-over-stdin worker run by ecozone's Python.

QGIS (Debian's python3-qgis) runs on the system Python with Debian's numpy 1.x and
GDAL 3.6; ecozone's environment has numpy 2.x and pyogrio's own GDAL. The two cannot
share one process (importing ecozone inside QGIS fails on the numpy ABI, and two
GDAL libraries in one process clash), so each algorithm starts this script with
ecozone's interpreter::

    <ecozone python> <plugin folder>/worker.py   < request.json

The request is one JSON object ``{"op": "check", "params": {...}}``. The worker
answers with JSON lines on stdout::

    {"type": "progress", "percent": 40.0, "message": "..."}
    {"type": "result", "result": {...}}
    {"type": "error", "message": "...", "error": "InputFormatError"}

Warnings and logging go to stderr, which the plugin shows in the Processing log.
Every operation calls the library functions the ``ecozone`` command calls for the
same task (named in each function's docstring); nothing is implemented twice.
This module imports no QGIS and runs from the command line too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, the plugin folder is sys.path[0]; its module names (plugin,
# provider, runner, ...) must not shadow anything ecozone imports.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != _HERE]

Emit = Callable[[dict[str, Any]], None]


def _pack(params: dict[str, Any]) -> str:
    """The PACK parameter, or the default_pack setting when it is left empty."""
    from ecozone.cli.options import default_pack

    return str(params.get("pack") or "").strip() or default_pack()


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _progress(emit: Emit, percent: float, message: str = "") -> None:
    emit({"type": "progress", "percent": float(percent), "message": message})


def _project(params: dict[str, Any]):
    """The CLI's rule: one Project for all sites when any attribute is given, else None."""
    from zoning.project import Project

    flags = params.get("flags") or []
    if isinstance(flags, str):
        flags = [f.strip() for f in flags.replace("，", ",").split(",") if f.strip()]
    given = any(
        [
            params.get("project_name"),
            params.get("project_type"),
            params.get("industry_code"),
            flags,
            params.get("development"),
            params.get("activity"),
            params.get("temporary_land_use"),
            params.get("water_supply"),
        ]
    )
    if not given:
        return None
    return Project(
        name=params.get("project_name") or "",
        project_type=params.get("project_type") or None,
        industry_code=params.get("industry_code") or None,
        flags=frozenset(flags),
        development=params.get("development") or "new",
        temporary_land_use=bool(params.get("temporary_land_use")),
        water_supply=bool(params.get("water_supply")),
        activity=params.get("activity") or None,
    )


def _read_options(params: dict[str, Any]) -> dict[str, Any]:
    opts: dict[str, Any] = {"coords": params.get("coords") or "wgs84"}
    if params.get("layer"):
        opts["layer"] = params["layer"]
    return opts


def op_check(params: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Site check: ``zoning.check.batch.run_batch`` + the verdict style (``ecozone check --out``).

    With ``report_dir``, one site's report as ``ecozone check --report``:
    :func:`zoning.workflow.make_checker`, :func:`zoning.report.build.build_report`,
    :func:`maps.sitemap.site_map_png`, :func:`zoning.report.build.write_reports`.
    """
    from layers import open_store
    from maps.qgis_style import write_options
    from zoning.check.batch import run_batch

    project = _project(params)
    out = Path(params["out"])
    _progress(emit, 2, "读取图层 loading layers")
    with open_store(params.get("store") or None) as st:

        def progress(done: int, total: int) -> None:
            _progress(emit, 5 + 85 * done / max(total, 1), f"{done:,}/{total:,} 处选址已检查")

        summary = run_batch(
            params["input"],
            pack=_pack(params),
            store_or_layers=st,
            out=out,
            errors_out=params.get("errors_out") or None,
            project=project,
            progress=progress,
            read_options=_read_options(params),
            write_options=write_options,
        )
        result = summary.to_dict()
        if params.get("report_dir"):
            _progress(emit, 92, "编写报告 writing the report")
            result["reports"] = _site_report(params, st, project)
    _progress(emit, 100, "完成 done")
    return result


def _site_report(params: dict[str, Any], store: Any, project: Any) -> dict[str, str]:
    from ecozone.workflows import write_site_report
    from geo.errors import InputFormatError
    from geo.io import read_vector
    from zoning.workflow import make_checker

    gdf = read_vector(params["input"], **_read_options(params))
    checker = make_checker(_pack(params), store)
    result = checker.check(gdf, project=project)
    if len(result.sites) == 0:
        msg = "no usable site in the input for the report"
        raise InputFormatError(msg)
    wanted = str(params.get("report_site") or "").strip()
    ids = result.sites["site_id"].astype(str)
    if wanted and not (ids == wanted).any():
        msg = (
            f"REPORT_SITE {wanted!r} is not a site of the input; site ids are the "
            f"site_id column (or the feature number), e.g. {list(ids.head(5))}"
        )
        raise InputFormatError(msg)
    sid = result.sites[ids == wanted]["site_id"].iloc[0] if wanted else None
    formats = params.get("report_formats") or ("json", "html", "docx", "pdf")
    if isinstance(formats, str):
        formats = [f.strip().lower() for f in formats.split(",") if f.strip()]
    written = write_site_report(
        checker, result, params["report_dir"], site_id=sid, project=project,
        map_lang=params.get("lang") or "zh", formats=formats,
    )  # fmt: skip
    return {k: str(v) for k, v in written.files.items()}


def op_coverage(params: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Coverage: ``measure_targets`` + the table writers of ``ecozone coverage --out``.

    ``format`` "wide" (default, as the CLI): :func:`zoning.coverage.tables.write_coverage_table`
    (one row per target and district); "long": :func:`zoning.coverage.measure.write_metrics_csv`
    (districts in ``<stem>.districts.csv``).
    """
    from layers import open_store
    from zoning.coverage.measure import measure_targets, write_metrics_csv
    from zoning.coverage.tables import write_coverage_table
    from zoning.pack import load_pack

    p = load_pack(_pack(params))
    rasters = {"landcover": params["landcover"]} if params.get("landcover") else {}
    by = params.get("by") or "district"
    _progress(emit, 5, "测算指标 measuring targets")
    with open_store(params.get("store") or None) as st:
        results = measure_targets(p, st, by=None if by == "none" else by, rasters=rasters)
    _progress(emit, 90, "写出 writing")
    if params.get("format") == "long":
        paths = write_metrics_csv(results, params["out"])
    else:
        paths = [write_coverage_table(results, params["out"], pack=p)]
    _progress(emit, 100, "完成 done")
    return {
        "pack": p.name,
        "files": [str(x) for x in paths],
        "metrics": [r.as_row() for r in results],
    }


def op_gaps(params: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Gaps: ``zoning.workflow.coverage_gaps`` + ``write_gap_outputs`` (``ecozone gaps``)."""
    from layers import open_store
    from maps.qgis_style import write_gap_outputs
    from zoning.workflow import coverage_gaps

    _progress(emit, 5, "计算覆盖缺口 finding coverage gaps")
    with open_store(params.get("store") or None) as st:
        uncovered, chosen = coverage_gaps(
            _pack(params),
            st,
            n_candidates=int(params.get("n_candidates", 10)),
            radius_m=float(params.get("radius_m", 300.0)),
            spacing_m=float(params.get("spacing_m", 200.0)),
        )
    _progress(emit, 90, "写出 writing")
    written = write_gap_outputs(uncovered, chosen, params["out"])
    _progress(emit, 100, "完成 done")
    return {
        "files": [str(x) for x in written],
        "uncovered_polygons": len(uncovered),
        "uncovered_m2": float(uncovered["area_m2"].sum()) if len(uncovered) else 0.0,
        "candidates": 0 if chosen is None else len(chosen),
    }


def op_import(params: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Import: ``read_vector`` + ``import_layer`` + ``style_store`` (``ecozone layers import``)."""
    from geo.io import read_vector
    from layers import open_store
    from maps.qgis_style import style_store

    _progress(emit, 5, "读取 reading")
    gdf = read_vector(params["input"], **_read_options(params))
    issues = gdf.attrs.get("issues", [])
    _progress(emit, 30, "校验并导入 validating and importing")
    with open_store(params.get("store") or None) as st:
        layer = st.import_layer(
            gdf,
            name=params.get("name") or params["kind"],
            kind=params["kind"],
            source=params.get("source") or Path(params.get("source_file") or params["input"]).name,
            source_date=params.get("source_date") or None,
            synthetic=bool(params.get("synthetic")),
        )
        style_store(st)
        store_path = str(getattr(st, "path", ""))
    _progress(emit, 100, "完成 done")
    return {
        "name": layer.name,
        "kind": layer.kind,
        "version": layer.version,
        "row_count": layer.row_count,
        "checksum": layer.checksum,
        "store": store_path,
        "issues": issues,
    }


def op_convert(params: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Coordinates: ``geo.convert.convert_frame`` on ``convert_xy`` (``ecozone coords convert``)."""
    from geo.convert import convert_frame
    from geo.io import read_vector, write_vector

    _progress(emit, 5, "读取 reading")
    gdf = read_vector(
        params["input"], **({"layer": params["layer"]} if params.get("layer") else {})
    )
    src = params.get("src") or gdf.crs.to_string()
    out = convert_frame(gdf.drop(columns="source_row", errors="ignore"), src=src, dst=params["dst"])
    _progress(emit, 80, "写出 writing")
    write_vector(out, params["out"])
    _progress(emit, 100, "完成 done")
    return {"out": str(params["out"]), "rows": len(out), "crs": out.crs.to_string()}


def op_describe(params: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """What the plugin shows in its forms: packs, layer kinds, verdicts, version."""
    from ecozone import __version__
    from layers.kinds import KINDS
    from zoning.check.result import VERDICT_ZH, VERDICTS
    from zoning.pack import list_packs

    return {
        "version": __version__,
        "python": sys.executable,
        "packs": list_packs(),
        "kinds": {k: v.label_zh for k, v in KINDS.items()},
        "verdicts": {v: VERDICT_ZH[v] for v in VERDICTS},
    }


OPS: dict[str, Callable[[dict[str, Any], Emit], dict[str, Any]]] = {
    "check": op_check,
    "coverage": op_coverage,
    "gaps": op_gaps,
    "import": op_import,
    "convert": op_convert,
    "describe": op_describe,
}


def main(stdin: Any = None, emit: Emit = _emit) -> int:
    """Read one request from stdin, run it, answer on stdout; 0 on success, 1 on error."""
    try:
        request = json.loads((stdin or sys.stdin).read() or "{}")
        op = OPS.get(request.get("op", ""))
        if op is None:
            msg = f"unknown operation {request.get('op')!r}; one of {sorted(OPS)}"
            raise ValueError(msg)
        result = op(dict(request.get("params") or {}), emit)
        emit({"type": "result", "result": result})
        return 0
    except Exception as exc:  # reported to QGIS in the user's words, not as a traceback
        emit({"type": "error", "error": type(exc).__name__, "message": str(exc)})
        return 1


if __name__ == "__main__":
    sys.exit(main())
