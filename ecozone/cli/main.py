"""The ``ecozone`` command group.

Each subcommand lives in its own module and is a thin wrapper: it parses input,
calls one library function, formats the result, and turns :class:`EcozoneError`
into a click error. Logging is configured here and nowhere else.
"""

from __future__ import annotations

import logging

import click

from ecozone import __version__
from ecozone.cli.check import check
from ecozone.cli.clues import clues
from ecozone.cli.coords import coords
from ecozone.cli.coverage import coverage, gaps
from ecozone.cli.demo import demo
from ecozone.cli.layers import layers
from ecozone.cli.layers_copy import copy as layers_copy
from ecozone.cli.ledger import ledger
from ecozone.cli.map import map_cmd
from ecozone.cli.measure import measure
from ecozone.cli.serve import serve
from ecozone.cli.stakes import stakes


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ecozone")
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less log output (repeatable).")
def cli(verbose: int, quiet: int) -> None:
    """Ecozone — 生态环境分区管控（三线一单）toolkit for China.

    \b
    Layers   生态保护红线 red lines, 生态控制区 control zones, 饮用水水源井 wells,
             水源保护区 source zones, 公园绿地 parks, 居住用地 residential land,
             通州重点区域/严控区, 环境管控单元 control units — versioned in a store.
    Checks   every rule of a 三线一单 rule pack for one site or a million.
    Coverage each plan target per district, with gaps, maps and rasters.

    Coordinates: WGS84 and CGCS2000 (EPSG:4490) lon/lat are treated as the same;
    AMap/Tencent (GCJ-02) and Baidu (BD-09) input is converted with --coords.
    """
    level = max(logging.DEBUG, logging.WARNING - 10 * verbose + 10 * quiet)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for command in (
    layers,
    measure,
    coords,
    check,
    clues,
    ledger,
    stakes,
    coverage,
    gaps,
    map_cmd,
    serve,
    demo,
):
    cli.add_command(command)
layers.add_command(layers_copy)


def main() -> None:
    """Run the ``ecozone`` console script."""
    cli(prog_name="ecozone")


if __name__ == "__main__":
    main()
