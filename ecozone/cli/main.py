"""The ``ecozone`` command group.

Each subcommand lives in its own module and is a thin wrapper: it parses input,
calls one library function, formats the result, and turns :class:`EcozoneError`
into a click error. Logging is configured here and nowhere else.
"""

from __future__ import annotations

import importlib
import logging

import click

from geo.version import __version__

#: Subcommand → (module, attribute, one-line help). Modules are imported only when
#: their command runs, so ``ecozone --help`` loads neither geopandas nor pyproj; the
#: one-line help is kept here for that listing (a test compares it with each
#: command's docstring).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": (
        "ecozone.cli.check",
        "check",
        "Check SITES (a file) or --at coordinates against a rule pack.",
    ),
    "clues": (
        "ecozone.cli.clues",
        "clues",
        "Screen human-activity clues in PATH against the red line.",
    ),
    "coords": ("ecozone.cli.coords", "coords", "Coordinate tools (坐标转换)."),
    "coverage": (
        "ecozone.cli.coverage",
        "coverage",
        "Measure every spatial target of a pack against the plan.",
    ),
    "demo": (
        "ecozone.cli.demo",
        "demo",
        "Run the demo: a site report, coverage tables, maps and a web page.",
    ),
    "gaps": (
        "ecozone.cli.coverage",
        "gaps",
        "Residential land outside every park service radius, and where to add parks.",
    ),
    "layers": ("ecozone.cli.layers", "layers", "The versioned layer store (图层库)."),
    "ledger": (
        "ecozone.cli.ledger",
        "ledger",
        "Ledger of the pollution sources in a key area (污染源台账).",
    ),
    "map": (
        "ecozone.cli.map",
        "map_cmd",
        "Draw the pack's layers (and sites, gaps) as HTML, PNG/PDF or GeoTIFF.",
    ),
    "measure": (
        "ecozone.cli.measure",
        "measure",
        "Measure every feature of PATH on the CGCS2000 ellipsoid.",
    ),
    "serve": ("ecozone.cli.serve", "serve", "Start the web app (网页版)."),
    "sources": (
        "ecozone.cli.sources",
        "sources",
        "The plans, laws and standards the rule packs cite (引用来源).",
    ),
    "stakes": (
        "ecozone.cli.stakes",
        "stakes",
        "Boundary stakes along red-line polygons (勘界定标).",
    ),
    "tiles": (
        "ecozone.cli.tiles",
        "tiles",
        "Build an offline basemap tile package from the layer store (离线底图).",
    ),
}


class LazyGroup(click.Group):
    """A command group that imports a subcommand's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return every subcommand name, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return subcommand ``cmd_name`` (``None`` when unknown)."""
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attr, _ = entry
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the subcommands with their one-line help, importing none of them."""
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="ecozone")
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less log output (repeatable).")
def cli(verbose: int, quiet: int) -> None:
    """Ecozone — 生态环境分区管控（三线一单）toolkit for China.

    \b
    Layers   生态保护红线 red lines, 生态控制区 control zones, 饮用水水源井 wells,
             水源保护区 source zones, 公园绿地 parks, 居住用地 residential land,
             重点区域/严控区 key areas, 环境管控单元 control units — versioned in a store.
    Checks   every rule of a 三线一单 rule pack for one site or a million.
    Coverage each plan target per district, with gaps, maps and rasters.

    Coordinates: WGS84 and CGCS2000 (EPSG:4490) lon/lat are treated as the same;
    AMap/Tencent (GCJ-02) and Baidu (BD-09) input is converted with --coords.
    """
    level = max(logging.DEBUG, logging.WARNING - 10 * verbose + 10 * quiet)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Run the ``ecozone`` console script."""
    from ecozone.cli._process import command_process

    with command_process():  # the process ends with the command: no GC walk at exit
        cli(prog_name="ecozone")


if __name__ == "__main__":
    main()
