"""Start ecozone's worker from QGIS, stream its progress, kill it on cancel.

Which Python runs ecozone (first found wins):

1. the environment variable ``ECOZONE_PYTHON`` (path of the interpreter, e.g.
   ``/opt/ecozone/.venv/bin/python``);
2. the QGIS setting ``ecozone/python`` (Settings → Options → Advanced);
3. ``.venv/bin/python`` of the ecozone checkout this plugin folder lives in;
4. the interpreter of the ``ecozone`` command on ``PATH``.

``ECOZONE_PYTHONPATH`` (folders, ``os.pathsep``-separated) is put on the worker's
``PYTHONPATH``, for an ecozone source tree that is not installed in that Python.
QGIS's own ``PYTHONPATH``/``PYTHONHOME`` are not passed on: they point at Debian's
packages, whose numpy would shadow ecozone's.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

WORKER = Path(__file__).resolve().with_name("worker.py")


class EcozoneRunError(RuntimeError):
    """The worker could not be started, failed, or was cancelled."""


def _setting() -> str | None:
    try:
        from qgis.core import QgsSettings
    except ImportError:  # outside QGIS
        return None
    value = QgsSettings().value("ecozone/python", "")
    return str(value) if value else None


def _shebang_python(script: str) -> str | None:
    try:
        with open(script, "rb") as fh:
            first = fh.readline().decode("utf-8", "replace").strip()
    except OSError:
        return None
    if first.startswith("#!"):
        cmd = first[2:].split()
        if cmd and Path(cmd[0]).name.startswith("python") and Path(cmd[0]).exists():
            return cmd[0]
    return None


def find_python() -> str:
    """Return the interpreter that has ecozone installed (see the module notes).

    Raises
    ------
    EcozoneRunError
        None found; the message says how to set ``ECOZONE_PYTHON``.
    """
    candidates = [os.environ.get("ECOZONE_PYTHON"), _setting()]
    for parent in Path(__file__).resolve().parents:
        venv = parent / ".venv" / "bin" / "python"
        if (parent / "pyproject.toml").exists() and venv.exists():
            candidates.append(str(venv))
            break
    exe = shutil.which("ecozone")
    if exe:
        candidates.append(_shebang_python(exe))
    for c in candidates:
        if c and Path(c).exists():
            return c
    msg = (
        "找不到安装了 ecozone 的 Python / cannot find the Python that has ecozone installed. "
        "Set the environment variable ECOZONE_PYTHON to it (e.g. /opt/ecozone/.venv/bin/python) "
        "before starting QGIS, or the QGIS setting ecozone/python."
    )
    raise EcozoneRunError(msg)


def worker_env() -> dict[str, str]:
    """The worker's environment: QGIS's Python paths removed, ECOZONE_PYTHONPATH added."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    if os.environ.get("ECOZONE_PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["ECOZONE_PYTHONPATH"]
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def run_worker(op: str, params: dict[str, Any], feedback: Any = None) -> dict[str, Any]:
    """Run one worker operation and return its result.

    Parameters
    ----------
    op
        "check", "coverage", "gaps", "import", "convert" or "describe".
    params
        JSON-safe parameters of the operation (see ``worker.py``).
    feedback
        A ``QgsProcessingFeedback`` (or ``None``): progress and messages go to it, and
        when it is cancelled the worker is killed.

    Returns
    -------
    dict
        The operation's result.

    Raises
    ------
    EcozoneRunError
        The worker reported an error (its message, in the user's words), died, or
        the user cancelled.
    """
    python = find_python()
    proc = subprocess.Popen(
        [python, str(WORKER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=worker_env(),
        text=True,
        encoding="utf-8",
    )
    lines: queue.Queue[str | None] = queue.Queue()
    errors: list[str] = []

    def pump_out() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)

    def pump_err() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            errors.append(line.rstrip())

    threads = [threading.Thread(target=f, daemon=True) for f in (pump_out, pump_err)]
    for t in threads:
        t.start()
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"op": op, "params": params}, ensure_ascii=False))
    proc.stdin.close()
    result: dict[str, Any] | None = None
    failure: str | None = None
    while True:
        if feedback is not None and feedback.isCanceled():
            proc.kill()
            proc.wait()
            msg = "已取消 / cancelled by the user"
            raise EcozoneRunError(msg)
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if line is None:
            break
        try:
            msg_obj = json.loads(line)
        except json.JSONDecodeError:
            if feedback is not None:
                feedback.pushInfo(line.rstrip())
            continue
        kind = msg_obj.get("type")
        if kind == "progress" and feedback is not None:
            feedback.setProgress(float(msg_obj.get("percent", 0.0)))
            if msg_obj.get("message"):
                feedback.setProgressText(str(msg_obj["message"]))
        elif kind == "result":
            result = msg_obj.get("result") or {}
        elif kind == "error":
            failure = f"{msg_obj.get('message')} ({msg_obj.get('error')})"
    proc.wait()
    for t in threads:
        t.join(timeout=5)
    if feedback is not None:
        for line in errors:
            if line.strip():
                feedback.pushInfo(line)
    if failure is not None:
        raise EcozoneRunError(failure)
    if result is None:
        tail = "\n".join(errors[-15:])
        msg = f"ecozone worker ({python}) stopped with code {proc.returncode}:\n{tail}"
        raise EcozoneRunError(msg)
    return result


if __name__ == "__main__":  # a quick check from a shell: which Python, which packs
    print(json.dumps(run_worker("describe", {}), ensure_ascii=False, indent=2))
    sys.exit(0)
