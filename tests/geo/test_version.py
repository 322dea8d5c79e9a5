"""geo.version: the one place the ecozone version is written, and who reads it."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from click.testing import CliRunner

import ecozone
from ecozone.cli.main import cli
from geo.version import __version__


def test_the_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+(\S*)", __version__)


def test_the_installed_metadata_takes_it_from_geo_version():
    # pyproject.toml: dynamic = ["version"], from geo.version.__version__ (an install
    # made before the number changed disagrees until it is reinstalled)
    assert importlib.metadata.version("ecozone") == __version__


def test_the_command_line_and_the_package_say_the_same():
    assert ecozone.__version__ == __version__
    out = CliRunner().invoke(cli, ["--version"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == f"ecozone, version {__version__}"


def test_the_qgis_plugin_metadata_carries_the_same_number():
    # QGIS reads the plugin's version from its static metadata.txt: kept equal here
    text = (Path(ecozone.__file__).parent / "qgis" / "metadata.txt").read_text(encoding="utf-8")
    versions = re.findall(r"^version=(.*)$", text, flags=re.M)
    assert versions == [__version__]
