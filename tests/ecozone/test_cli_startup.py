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


# what the commands named may load: the single-site check needs the engine (geopandas,
# shapely, pyproj), never the map, web, raster or report-rendering stacks, nor scipy or
# pykdtree (one site measures every nearby boundary segment instead of building k-d trees)
NOT_FOR_CHECK = (
    "folium", "fastapi", "starlette", "uvicorn", "rasterio", "docx", "matplotlib", "scipy",
    "pykdtree",
)  # fmt: skip


def test_cli_main_import_budget() -> None:
    code = (
        "import sys\n"
        "import ecozone.cli.main\n"
        f"print('LOADED:' + ','.join(m for m in {(*HEAVY, 'scipy', 'numpy')!r} "
        "if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "LOADED:"


def test_single_site_check_loads_no_map_web_or_raster_stack() -> None:
    code = (
        "import sys\n"
        "from ecozone.cli.main import cli\n"
        "try:\n"
        "    cli(['check', '--at', '116.65,39.91', '--pack', 'tongzhou'], prog_name='ecozone')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('ENGINE:' + str('geopandas' in sys.modules))\n"
        f"print('LOADED:' + ','.join(m for m in {NOT_FOR_CHECK!r} if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    assert "site 1:" in run.stdout  # the check really ran and printed its verdict
    assert lines[-2] == "ENGINE:True"  # (the check itself ran in this process)
    assert lines[-1] == "LOADED:"
