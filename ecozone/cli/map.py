"""``ecozone map``: interactive (HTML), print (PNG/PDF) and raster (GeoTIFF) maps."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import handle_errors
from ecozone.cli.options import pack_opt, store_opt


@click.command("map")
@pack_opt
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="map.html (interactive), map.png / map.pdf (print), map.tif (raster).",
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
    help="HTML basemap: none, osm, tianditu ($TIANDITU_KEY) or a tile URL template.",
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
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@store_opt
@handle_errors
def map_cmd(
    pack, out, kinds, sites, show_gaps, basemap, raster, resolution_m, title, lang, store
) -> None:
    """Draw the pack's layers (and sites, gaps) as HTML, PNG/PDF or GeoTIFF."""
    from layers import open_store
    from zoning.pack import load_pack
    from zoning.workflow import jurisdiction_area, layers_in_jurisdiction, make_checker

    p = load_pack(pack)
    wanted = [k.strip() for k in kinds.split(",")] if kinds else None
    suffix = out.suffix.lower()
    with open_store(store) as st:
        shown = layers_in_jurisdiction(p, st, kinds=wanted)
        area = jurisdiction_area(p, st)
        checked = None
        if sites is not None:
            from geo.io import read_vector

            checked = make_checker(p, st).check(read_vector(sites))
        uncovered = None
        if show_gaps or (suffix in {".tif", ".tiff"} and raster != "layer"):
            parks, residential = st.get_kind("park"), st.get_kind("residential")
        if show_gaps:
            from zoning.gaps import uncovered_residential

            uncovered = uncovered_residential(
                parks, residential, tiers=p.park_service, area_of=area
            )
    title = title or f"{p.title}"
    if suffix == ".html":
        from maps.interactive import interactive_map, save_interactive

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
        from maps.printmap import print_map

        print_map(
            shown,
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
            rasterize_layer(shown[wanted[0]], out, resolution_m=resolution_m, area_of=area)
    else:
        raise click.BadParameter(f"{out.name}: use .html, .png, .pdf or .tif", param_hint="--out")
    click.echo(f"map written to {out}")
