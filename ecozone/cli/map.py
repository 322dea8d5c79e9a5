"""``ecozone map``: interactive (HTML), print (PNG/PDF), raster (GeoTIFF) maps, QGIS projects."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import handle_errors
from ecozone.cli.options import pack_opt, store_opt

_SUFFIXES = {".html", ".png", ".pdf", ".tif", ".tiff", ".qgz", ".qgs"}


@click.command("map")
@pack_opt
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="map.html (interactive), map.png / map.pdf (print), map.tif (raster), "
    "project.qgz (QGIS project; its layers go to project.gpkg beside it).",
)
@click.option(
    "--layers",
    "kinds",
    default=None,
    help="Comma-separated layer kinds (default: the pack's layers).",
)
@click.option(
    "--sites",
    type=click.Path(exists=True, path_type=Path),
    help="Sites to check and show with their verdicts.",
)
@click.option(
    "--gaps/--no-gaps",
    "show_gaps",
    default=False,
    help="Show residential land outside every park service radius.",
)
@click.option(
    "--basemap",
    default="none",
    show_default=True,
    help="HTML basemap (底图): none, PATH.mbtiles|PATH.pmtiles (offline; tiles written "
    "beside the page), a tile URL (WGS84), gcj02:URL (AMap/Tencent), bd09:URL, "
    "tianditu:KEY[:img] or osm.",
)
@click.option(
    "--raster",
    type=click.Choice(["coverage", "distance", "layer"]),
    default="coverage",
    show_default=True,
    help="GeoTIFF product: park service coverage, distance to "
    "nearest park, or --layers rasterised.",
)
@click.option(
    "--resolution",
    "resolution_m",
    type=float,
    default=10.0,
    show_default=True,
    help="GeoTIFF pixel size in metres.",
)
@click.option("--title", default=None, help="Map title.")
@click.option(
    "--page",
    type=click.Choice(["A4", "A3"], case_sensitive=False),
    default="A4",
    show_default=True,
    help="Paper size of a PNG/PDF print map (纸张).",
)
@click.option(
    "--orientation",
    type=click.Choice(["landscape", "portrait"]),
    default="landscape",
    show_default=True,
    help="Page orientation of a PNG/PDF print map (横向/纵向).",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@store_opt
@handle_errors
def map_cmd(
    pack,
    out,
    kinds,
    sites,
    show_gaps,
    basemap,
    raster,
    resolution_m,
    title,
    page,
    orientation,
    lang,
    store,
) -> None:
    """Draw the pack's layers (and sites, gaps) as HTML, PNG/PDF, GeoTIFF or a QGIS project."""
    from ecozone.workflows import jurisdiction_map
    from geo.io.writers import check_outputs
    from layers import open_store
    from maps.qgis_project import project_layers_path
    from zoning.pack import load_pack

    p = load_pack(pack)
    wanted = [k.strip() for k in kinds.split(",")] if kinds else None
    suffix = out.suffix.lower()
    if suffix not in _SUFFIXES:  # refuse before any work
        raise click.BadParameter(
            f"{out.name}: use {', '.join(sorted(_SUFFIXES))}", param_hint="--out"
        )
    layers_file = project_layers_path(out) if suffix in {".qgz", ".qgs"} else None
    check_outputs({"--sites": sites}, {"--out": out, "(the project's layers)": layers_file})
    with open_store(store) as st:
        site_frame = None
        if sites is not None:
            from geo.io import read_vector

            site_frame = read_vector(sites)
        view = jurisdiction_map(p, st, kinds=wanted, gaps=show_gaps, sites=site_frame)
        shown, area, checked, uncovered = view.layers, view.area, view.checked, view.gaps
        if suffix in {".tif", ".tiff"} and raster != "layer":
            parks, residential = st.get_kind("park"), st.get_kind("residential")
    title = title or f"{p.title}"
    if suffix == ".html":
        from maps.basemap import export_tiles
        from maps.interactive import interactive_map, save_interactive

        basemap = export_tiles(basemap, out)  # a local package: its tiles beside the page

        m = interactive_map(
            shown,
            sites=None if checked is None else checked.sites,
            findings=None if checked is None else checked.findings,
            gaps=uncovered,
            basemap=basemap,
            lang=lang,
            title=title,
        )
        save_interactive(m, out)
    elif suffix in {".png", ".pdf"}:
        from maps.printmap import page_size, print_map

        print_map(
            shown,
            figsize=page_size(page, orientation),
            title=title,
            out=out,
            lang=lang,
            sites=None if checked is None else checked.sites,
            gaps=uncovered,
        )
    elif suffix in {".tif", ".tiff"}:
        from maps.raster import park_coverage_raster, park_distance_raster, rasterize_layer

        if raster == "coverage":
            park_coverage_raster(
                parks,
                residential,
                out,
                tiers=p.park_service,
                area_of=area,
                resolution_m=resolution_m,
            )
        elif raster == "distance":
            park_distance_raster(parks, out, area_of=area, resolution_m=resolution_m)
        else:
            if not wanted or len(wanted) != 1:
                raise click.UsageError("--raster layer needs exactly one kind in --layers")
            rasterize_layer(
                shown[wanted[0]], out, resolution_m=resolution_m, area_of=area, kind=wanted[0]
            )
    elif suffix in {".qgz", ".qgs"}:
        from maps.qgis_project import write_qgis_project

        write_qgis_project(
            shown,
            out,
            title=title,
            extent=area,
            sites=None if checked is None else checked.sites,
            gaps=uncovered,
        )
        click.echo(f"layers written to {layers_file}")
    else:
        raise click.BadParameter(
            f"{out.name}: use .html, .png, .pdf, .tif or .qgz", param_hint="--out"
        )
    click.echo(f"map written to {out}")
