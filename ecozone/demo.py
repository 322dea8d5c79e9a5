"""The demo: every capability of ecozone run once on the embedded data.

It writes, into one folder: a site-check report for a sample project, the coverage
tables of the demo's pack and of the packs it inherits against their targets, an
interactive map, a print map, the park service coverage raster and a QGIS project
(<pack>.qgz + <pack>.gpkg, styled). Which pack and which sample project is data:
``data/demo.toml`` next to the embedded store (:func:`demo_settings`). Only library
calls; the command line prints the summary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

log = logging.getLogger(__name__)

DEMO_FILE = "demo.toml"


def demo_settings() -> dict[str, Any]:
    """The demo's pack and sample project, from ``demo.toml`` beside the embedded store.

    Returns
    -------
    dict
        ``pack`` (a pack name) and ``project`` (``name``, ``project_type``, ``flags``,
        ``site_in``: the layer kind whose first feature holds the sample site).

    Raises
    ------
    FileNotFoundError
        Naming the file when the embedded data (or its ``demo.toml``) is missing.
    """
    import tomllib

    from layers import embedded_dataset_path

    embedded = embedded_dataset_path()
    path = embedded.parent / DEMO_FILE if embedded is not None else Path(DEMO_FILE)
    if not path.exists():
        msg = f"{path}: the demo's settings are missing; reinstall ecozone with its data/ files"
        raise FileNotFoundError(msg)
    with path.open("rb") as f:
        return tomllib.load(f)


@dataclass
class DemoSummary:
    """What the demo produced."""

    outdir: Path
    files: dict[str, Path] = field(default_factory=dict)
    verdict: str = ""
    verdict_zh: str = ""
    findings: int = 0
    #: where the sample site lies (the demo pack's jurisdiction, English name)
    where_en: str = ""
    coverage: dict[str, pd.DataFrame] = field(default_factory=dict)
    layers: pd.DataFrame | None = None


def sample_site(
    store: Any, kind: str = "strict_zone", name: str = "示例项目"
) -> tuple[gpd.GeoDataFrame, tuple[float, float]]:
    """A 120 m × 90 m site inside the first feature of a layer kind (the demo's zone).

    Returns the site (EPSG:4326) and its exit point (lon, lat) on the south side.
    """
    from geo.crs import local_metric_crs

    zone = store.get_kind(kind).gdf.iloc[[0]]
    crs = local_metric_crs(zone.geometry, zone.crs)
    centre = zone.to_crs(crs).geometry.iloc[0].representative_point()
    x, y = centre.x, centre.y
    from shapely.geometry import Point, box

    site = gpd.GeoDataFrame(
        {"site_id": ["demo-1"], "name": [name]},
        geometry=[box(x - 60, y - 45, x + 60, y + 45)],
        crs=crs,
    ).to_crs("EPSG:4326")
    exit_pt = gpd.GeoSeries([Point(x, y - 45)], crs=crs).to_crs("EPSG:4326").iloc[0]
    return site, (exit_pt.x, exit_pt.y)


def demo_coverage_inputs() -> dict[str, Any]:
    """The embedded demo's non-store inputs: land-cover raster and plains area.

    Both are synthetic/derived demonstration files next to the embedded store
    (``data/landcover_demo.tif``, ``data/plains_demo.geojson``); the demo passes
    them explicitly so that a user's own store is never measured against them.
    """
    from layers import embedded_dataset_path

    embedded = embedded_dataset_path()
    if embedded is None:
        return {}
    landcover = embedded.parent / "landcover_demo.tif"
    plains = embedded.parent / "plains_demo.geojson"
    inputs: dict[str, Any] = {}
    if landcover.exists():
        inputs["rasters"] = {"landcover": landcover}
    if plains.exists():
        inputs["scopes"] = {"plains": gpd.read_file(plains)}
    return inputs


def run_demo(
    outdir: str | Path,
    *,
    store: Any = None,
    step: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Run the demo into ``outdir``.

    Parameters
    ----------
    outdir
        Output folder (created).
    store
        Store path or URL; default the user store initialised from the embedded data.
    step
        Called with a short description before each step (for progress output).

    Returns
    -------
    DemoSummary
        Paths of everything written, the sample verdict and the coverage tables.
    """
    from ecozone.workflows import jurisdiction_map, write_site_report
    from layers import open_store
    from maps.interactive import interactive_map, save_interactive
    from maps.printmap import print_map
    from maps.qgis_project import write_qgis_project
    from maps.raster import park_coverage_raster
    from zoning.coverage.measure import measure_targets, metrics_table, write_metrics_csv
    from zoning.coverage.tables import write_coverage_table
    from zoning.pack import load_pack
    from zoning.project import Project
    from zoning.workflow import make_checker

    say = step or (lambda _msg: None)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    summary = DemoSummary(outdir=outdir)
    with open_store(store) as st:
        summary.layers = st.list_layers()

        settings = demo_settings()
        main = load_pack(settings["pack"])
        sample = settings.get("project") or {}
        where = main.jurisdiction.name
        summary.where_en = main.jurisdiction.name_en
        say(f"site check: sample project in {main.jurisdiction.name_en}")
        project_name = str(sample.get("name") or "示例项目")
        site, exit_point = sample_site(
            st, str(sample.get("site_in") or "strict_zone"), project_name
        )
        project = Project(
            name=project_name,
            project_type=str(sample.get("project_type") or "construction"),
            flags=frozenset(sample.get("flags") or ()),
            exits=(exit_point,),
        )
        checker = make_checker(main, st)
        result = checker.check(site, project=project)
        written = write_site_report(checker, result, outdir / "site-report", project=project)
        summary.files.update({f"report.{k}": v for k, v in written.files.items()})
        summary.verdict = str(result.sites["verdict"].iloc[0])
        summary.verdict_zh = str(result.sites["verdict_zh"].iloc[0])
        summary.findings = len(result.findings)

        inputs = demo_coverage_inputs()
        lineage = [n for n in main.lineage if not load_pack(n).abstract]
        for name in lineage:
            say(f"coverage: {name} against its targets")
            pack = load_pack(name)
            results = measure_targets(pack, st, by="district", **inputs)
            # the wide Chinese table a planner hands on (CSV, XLSX, DOCX) and the long
            # machine table
            for suffix in ("csv", "xlsx", "docx"):
                dest = outdir / f"coverage-{name}.{suffix}"
                path = write_coverage_table(results, dest, pack=pack)
                key = f"coverage-{name}" if suffix == "csv" else f"coverage-{name}.{suffix}"
                summary.files[key] = path
            long = write_metrics_csv(results, outdir / f"coverage-{name}.long.csv")[0]
            summary.files[f"coverage-{name}.long"] = long
            summary.coverage[name] = metrics_table(results)

        say(f"maps: interactive, print and raster ({main.jurisdiction.name_en})")
        view = jurisdiction_map(main, st, gaps=True, checked=result)
        shown, area, gaps = view.layers, view.area, view.gaps
        parks, residential = st.get_kind("park"), st.get_kind("residential")
        m = interactive_map(
            shown,
            sites=result.sites,
            findings=result.findings,
            gaps=gaps,
            basemap="none",
            title=f"{where}生态环境分区管控（演示）",
        )
        summary.files["map.html"] = save_interactive(m, outdir / "map.html")
        for suffix in ("png", "pdf"):
            path = outdir / f"map.{suffix}"
            print_map(
                shown,
                title=f"{where}生态环境分区管控图（演示数据）",
                out=path,
                sites=result.sites,
                gaps=gaps,
            )
            summary.files[f"map.{suffix}"] = path
        summary.files["coverage.tif"] = park_coverage_raster(
            parks,
            residential,
            outdir / "park-coverage.tif",
            tiers=main.park_service,
            area_of=area,
            resolution_m=10.0,
        )
        say(f"QGIS project: the layers styled, with the check result and gaps ({where})")
        summary.files["project.qgz"] = write_qgis_project(
            shown,
            outdir / f"{main.name}.qgz",
            title=f"{where}生态环境分区管控（演示数据）",
            extent=area,
            sites=result.sites,
            gaps=gaps,
        )
    return summary
