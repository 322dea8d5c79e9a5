"""Options shared by several ``ecozone`` subcommands."""

from __future__ import annotations

import click

store_opt = click.option(
    "--store",
    "store",
    default=None,
    metavar="PATH",
    help="Layer store (GeoPackage). Default: $ECOZONE_STORE, else the user store "
    "initialised from the embedded demo data.",
)
json_opt = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable JSON on standard output."
)


def default_pack() -> str:
    """The pack used when ``--pack`` is not given: the ``default_pack`` setting's default."""
    from ecozone.web.settings import WebSettings

    return str(WebSettings.model_fields["default_pack"].default)


pack_opt = click.option(
    "--pack",
    default=default_pack,
    show_default="the default_pack setting",
    help="Rule pack (规则包): the name of a pack in zoning/packs/ or the path of a pack TOML file.",
)
crs_opt = click.option(
    "--crs",
    default=None,
    metavar="CRS",
    help="CRS of input without one, e.g. EPSG:4548 (CGCS2000 GK zone 39, 117°E).",
)
coords_opt = click.option(
    "--coords",
    "coords_system",
    type=click.Choice(["wgs84", "cgcs2000", "gcj02", "bd09"]),
    default="wgs84",
    show_default=True,
    help="System of lon/lat input: gcj02 = AMap/Tencent (高德/腾讯), bd09 = Baidu (百度).",
)
zone_opt = click.option(
    "--zone",
    type=int,
    default=None,
    help="Gauss-Krüger 3° zone number for eastings without a zone prefix (Beijing: 39).",
)
overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
