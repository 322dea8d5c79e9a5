"""Fixtures for the QGIS tests: Debian's QGIS runs in its own Python (``/usr/bin/python3``).

ecozone's venv cannot import QGIS (Debian's QGIS is built for the system Python
with numpy 1.x), so the QGIS half runs ``tests/qgis/_driver.py`` under the system
Python and reports back in JSON. The tests skip only when python3-qgis is not
installed (``scripts/system-deps.sh test``, run by ``make test``, installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
QGIS_PACKAGE = Path("/usr/lib/python3/dist-packages/qgis")
DRIVER = Path(__file__).resolve().with_name("_driver.py")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


def qgis_env(**extra: str) -> dict[str, str]:
    """Environment for QGIS subprocesses: headless, no venv paths, ecozone's Python named."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("VIRTUAL_ENV", None)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["ECOZONE_PYTHON"] = str(ROOT / ".venv" / "bin" / "python")
    if not Path(env["ECOZONE_PYTHON"]).exists():
        import sys

        env["ECOZONE_PYTHON"] = sys.executable
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def qgis_available() -> None:
    """Skip when python3-qgis is not installed; fail when it is installed but broken."""
    if not QGIS_PACKAGE.exists() or not Path(SYSTEM_PYTHON).exists():
        pytest.skip("python3-qgis is not installed (scripts/system-deps.sh test installs it)")
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core; print(qgis.core.Qgis.QGIS_VERSION)"],
        capture_output=True,
        text=True,
        env=qgis_env(),
        timeout=120,
    )
    assert probe.returncode == 0, f"python3-qgis is installed but does not import: {probe.stderr}"


def run_driver(spec: dict, workdir: Path) -> dict:
    """Run the QGIS driver with ``spec``; return what it saw."""
    spec_path, result_path = workdir / "spec.json", workdir / "result.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run(
        [SYSTEM_PYTHON, str(DRIVER), str(spec_path), str(result_path)],
        capture_output=True,
        text=True,
        env=qgis_env(),
        timeout=600,
    )
    assert result_path.exists(), f"QGIS driver failed:\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(result_path.read_text(encoding="utf-8"))
    assert "traceback" not in result, result["traceback"]
    return result


def copy_store(src: Path, dst: Path) -> Path:
    """A private copy of a GeoPackage store."""
    shutil.copy2(src, dst)
    return dst
