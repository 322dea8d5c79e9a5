"""``ecozone --help`` stays lean: subcommands are imported only when they run."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from ecozone.cli.main import COMMANDS, cli

HEAVY = ("geopandas", "pyproj", "shapely", "pandas", "rasterio", "folium", "fastapi")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from ecozone.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='ecozone')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('LOADED:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "Commands:" in out
    assert out.strip().splitlines()[-1] == "LOADED:"  # none of the heavy modules


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_listed_command_loads(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    # the listing's one-line help names the same command as its docstring
    first_words = COMMANDS[name][2].split()[0]
    assert first_words.rstrip(".") in (command.help or "")


def test_geo_package_attributes_load_lazily() -> None:
    code = (
        "import sys, geo, layers, zoning, maps\n"
        "assert 'geopandas' not in sys.modules\n"
        "assert callable(geo.read_vector) and callable(zoning.check_sites)\n"
        "assert geo.crs.gk_epsg(116.4) == 4548\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
