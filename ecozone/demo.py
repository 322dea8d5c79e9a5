"""The demo: every capability of ecozone run once on the embedded data.

It writes, into one folder: a site-check report for a sample construction project
in Tongzhou, the coverage tables of Beijing and Tongzhou against their targets, an
interactive map, a print map, the park service coverage raster and a QGIS project
(tongzhou.qgz + tongzhou.gpkg, styled). Only library
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

DEMO_PROJECT_NAME = "通州区某住宅项目施工工地（示例）"


@dataclass
class DemoSummary:
    """What the demo produced."""

    outdir: Path
    files: dict[str, Path] = field(default_factory=dict)
    verdict: str = ""
    verdict_zh: str = ""
    findings: int = 0
    coverage: dict[str, pd.DataFrame] = field(default_factory=dict)
    layers: pd.DataFrame | None = None


def sample_site(store: Any) -> tuple[gpd.GeoDataFrame, tuple[float, float]]:
    """A 120 m × 90 m construction site inside Tongzhou's first strict-control zone.

    Returns the site (EPSG:4326) and its exit point (lon, lat) on the south side.
    """
    from geo.crs import local_metric_crs

    zone = store.get_kind("tongzhou_strict_zone").gdf.iloc[[0]]
    crs = local_metric_crs(zone.geometry, zone.crs)
    centre = zone.to_crs(crs).geometry.iloc[0].representative_point()
    x, y = centre.x, centre.y
    from shapely.geometry import Point, box

    site = gpd.GeoDataFrame(
        {"site_id": ["demo-1"], "name": [DEMO_PROJECT_NAME]},
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
    from layers import open_store
    from maps.interactive import interactive_map, save_interactive
    from maps.printmap import print_map
    from maps.qgis_project import write_qgis_project
    from maps.raster import park_coverage_raster
    from maps.sitemap import site_map_png
    from zoning.coverage import measure_targets, metrics_table, write_metrics_csv
    from zoning.coverage_tables import write_coverage_table
    from zoning.gaps import uncovered_residential
    from zoning.pack import load_pack
    from zoning.project import Project
    from zoning.report import build_report, write_reports
    from zoning.workflow import (
        checker_layer_frames,
        jurisdiction_area,
        layers_in_jurisdiction,
        make_checker,
    )

    say = step or (lambda _msg: None)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    summary = DemoSummary(outdir=outdir)
    with open_store(store) as st:
        summary.layers = st.list_layers()

        say("site check: sample construction project in Tongzhou")
        tongzhou = load_pack("tongzhou")
        site, exit_point = sample_site(st)
        project = Project(
            name=DEMO_PROJECT_NAME,
            project_type="construction",
            flags=frozenset({"garbage"}),
            exits=(exit_point,),
        )
        checker = make_checker(tongzhou, st)
        result = checker.check(site, project=project)
        report = build_report(result, project=project)
        png = site_map_png(result.sites, checker_layer_frames(checker))
        written = write_reports(report, outdir / "site-report", map_png=png)
        summary.files.update({f"report.{k}": v for k, v in written.items()})
        summary.verdict = str(result.sites["verdict"].iloc[0])
        summary.verdict_zh = str(result.sites["verdict_zh"].iloc[0])
        summary.findings = len(result.findings)

        inputs = demo_coverage_inputs()
        for name in ("beijing", "tongzhou"):
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

        say("maps: interactive, print and raster (Tongzhou)")
        shown = layers_in_jurisdiction(tongzhou, st)
        area = jurisdiction_area(tongzhou, st)
        parks, residential = st.get_kind("park"), st.get_kind("residential")
        gaps = uncovered_residential(parks, residential, tiers=tongzhou.park_service, area_of=area)
        m = interactive_map(
            shown,
            sites=result.sites,
            findings=result.findings,
            gaps=gaps,
            basemap="none",
            title="通州区生态环境分区管控（演示）",
        )
        summary.files["map.html"] = save_interactive(m, outdir / "map.html")
        for suffix in ("png", "pdf"):
            path = outdir / f"map.{suffix}"
            print_map(
                shown,
                title="通州区生态环境分区管控图（演示数据）",
                out=path,
                sites=result.sites,
                gaps=gaps,
            )
            summary.files[f"map.{suffix}"] = path
        summary.files["coverage.tif"] = park_coverage_raster(
            parks,
            residential,
            outdir / "park-coverage.tif",
            tiers=tongzhou.park_service,
            area_of=area,
            resolution_m=10.0,
        )
        say("QGIS project: the layers styled, with the check result and gaps (Tongzhou)")
        summary.files["project.qgz"] = write_qgis_project(
            shown,
            outdir / "tongzhou.qgz",
            title="通州区生态环境分区管控（演示数据）",
            extent=area,
            sites=result.sites,
            gaps=gaps,
        )
    return summary
