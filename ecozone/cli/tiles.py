"""``ecozone tiles``: an offline basemap (.mbtiles/.pmtiles) from the layer store."""

from __future__ import annotations

from pathlib import Path

import click

from ecozone.cli._output import handle_errors, progress_bar
from ecozone.cli.options import pack_opt, store_opt


def _zooms(ctx: click.Context, param: click.Parameter, value: str) -> range:
    try:
        low, _, high = value.partition("-")
        zooms = range(int(low), int(high or low) + 1)
    except ValueError:
        zooms = range(0)
    if not zooms or zooms.start < 0 or zooms.stop > 20:
        raise click.BadParameter(f"{value!r}: give zoom levels such as 7-11 (0–19)")
    return zooms


@click.command("tiles")
@pack_opt
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Tile package to write: PATH.mbtiles or PATH.pmtiles.",
)
@click.option(
    "--zoom",
    "zooms",
    default="7-11",
    show_default=True,
    callback=_zooms,
    help="Zoom levels, e.g. 7-11 (district to street blocks).",
)
@click.option(
    "--layers",
    "kinds",
    default="reference,boundary",
    show_default=True,
    help="Comma-separated layer kinds to draw: by default the reference layer (roads, "
    "water... imported with --kind reference) and the boundaries; kinds the store lacks "
    "are left out.",
)
@store_opt
@handle_errors
def tiles(pack: str, out: Path, zooms: range, kinds: str, store: str | None) -> None:
    """Build an offline basemap tile package from the layer store (离线底图).

    Serve it with `ecozone serve --basemap PATH.mbtiles` or draw maps on it with
    `ecozone map --basemap PATH.mbtiles`: no internet needed.
    """
    from layers import open_store
    from maps.tiles import build_tiles
    from zoning.pack import load_pack
    from zoning.workflow import layers_in_jurisdiction

    p = load_pack(pack)
    wanted = [k.strip() for k in kinds.split(",") if k.strip()]
    with open_store(store) as st:
        shown = layers_in_jurisdiction(p, st, kinds=wanted, clip=False)
    if not shown:
        raise click.ClickException(f"the store holds none of the layers {wanted}")
    with progress_bar("rendering tiles") as bar:
        build_tiles(shown, out, zooms=zooms, name=p.title, progress=bar)
    click.echo(f"tiles written to {out} (zoom {zooms.start}–{zooms.stop - 1})")
