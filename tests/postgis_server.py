"""A throw-away PostgreSQL + PostGIS server on 127.0.0.1, for tests and benchmarks.

:func:`start_postgis` runs ``initdb`` in a temporary data directory, starts the
server with ``pg_ctl`` on a free port (TCP on 127.0.0.1 only, the Unix socket inside
the data directory), creates the ``postgis`` extension in ``template1`` (so every
new database has it) and a database ``ecozone``, and returns its URL with a
``stop()`` function that shuts the server down and removes the directory.

The binaries come from the Debian packages ``postgresql-15`` and
``postgresql-15-postgis-3`` (``scripts/system-deps.sh`` installs them); they are
looked up in ``$ECOZONE_PG_BIN``, ``/usr/lib/postgresql/*/bin`` (newest first) and
``PATH``. ``initdb`` refuses to run as root, so under root the server runs as the
``postgres`` user (``runuser -u postgres --``) and the data directory is given to it.

Used by ``tests/layers/test_postgis_store.py``, ``tests/layers/test_copy.py`` and the
benchmarks::

    from tests.postgis_server import start_postgis  # from the repository root

    url, stop = start_postgis(tmp_dir)
    try:
        ...  # postgresql://postgres@127.0.0.1:PORT/ecozone
    finally:
        stop()
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "find_pg_bin",
    "fresh_database",
    "postgis_unavailable_reason",
    "shared_postgis",
    "start_postgis",
]

RUN_AS = "postgres"  # the system user the Debian package creates
DATABASE = "ecozone"
_SETTINGS = (  # a test server: durability off, small footprint
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=50",
    "shared_buffers=64MB",
)


def _has_postgis(bindir: Path) -> bool:
    """Whether the PostGIS extension is installed for the server in ``bindir``."""
    try:
        out = subprocess.run(
            [str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        major = bindir.parent.name  # /usr/lib/postgresql/15/bin → 15
        out = f"/usr/share/postgresql/{major}"
    return (Path(out) / "extension" / "postgis.control").is_file()


def find_pg_bin() -> Path | None:
    """Return the directory of ``initdb``/``pg_ctl`` of a server that has PostGIS, or None."""
    candidates: list[Path] = []
    if os.environ.get("ECOZONE_PG_BIN"):
        candidates.append(Path(os.environ["ECOZONE_PG_BIN"]))
    found = glob.glob("/usr/lib/postgresql/*/bin")
    found.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates += [Path(p) for p in reversed(found)]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file() and _has_postgis(bindir):
            return bindir
    return None


def postgis_unavailable_reason() -> str | None:
    """Why the PostGIS tests cannot run here: no server binaries, or no psycopg (None: they can)."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None:
        return 'the PostGIS layer store needs psycopg 3: pip install "psycopg[binary]"'
    return _server_unavailable_reason()


def _server_unavailable_reason() -> str | None:
    """Why a local PostGIS server cannot be started here (None when it can)."""
    if os.name != "posix":
        return "a local PostgreSQL test server needs a POSIX system"
    if find_pg_bin() is None:
        return (
            "PostgreSQL + PostGIS binaries not found (looked in $ECOZONE_PG_BIN, "
            "/usr/lib/postgresql/*/bin and PATH); install them with "
            "`bash scripts/system-deps.sh` (Debian: postgresql-15 postgresql-15-postgis-3)"
        )
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no {RUN_AS!r} user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and `runuser` is missing (package util-linux)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable_by_others(path: Path) -> bool:
    """Whether every ancestor of ``path`` lets other users through (the x bit)."""
    for p in [path, *path.parents]:
        if not p.exists():
            continue
        if not (p.stat().st_mode & stat.S_IXOTH):
            return False
    return True


def _run(cmd: list[str], *, as_user: str | None, cwd: Path, timeout: float = 120) -> str:
    full = ["runuser", "-u", as_user, "--", *cmd] if as_user else cmd
    proc = subprocess.run(full, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        msg = f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        raise RuntimeError(msg)
    return proc.stdout


def start_postgis(tmpdir: str | os.PathLike[str]) -> tuple[str, Callable[[], None]]:
    """Start PostgreSQL + PostGIS on 127.0.0.1 with its data under ``tmpdir``.

    Parameters
    ----------
    tmpdir
        A directory for the data directory. Under root, when the ``postgres`` user
        cannot reach it (pytest's ``tmp_path`` is private), a fresh directory in
        the system temporary folder is used instead.

    Returns
    -------
    url : str
        ``postgresql://postgres@127.0.0.1:PORT/ecozone`` (trust authentication).
    stop : callable
        Stops the server and removes its directory; safe to call twice.

    Raises
    ------
    RuntimeError
        When the binaries are missing (the message says which and how to install) or
        a step fails (the message holds the command's output and the server log).
    """
    reason = _server_unavailable_reason()
    if reason is not None:
        raise RuntimeError(reason)
    bindir = find_pg_bin()
    assert bindir is not None
    as_user = RUN_AS if os.geteuid() == 0 else None
    base = Path(tmpdir).absolute()
    base.mkdir(parents=True, exist_ok=True)
    if as_user and not _reachable_by_others(base):
        base = Path(tempfile.gettempdir())
    root = Path(tempfile.mkdtemp(prefix="ecozone-pg-", dir=base))
    data, log = root / "data", root / "server.log"
    if as_user:
        import pwd

        pw = pwd.getpwnam(as_user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        root.chmod(0o755)
    port = _free_port()
    started = False

    def stop() -> None:
        nonlocal started
        if started:
            with contextlib.suppress(Exception):
                _run(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60",
                     "stop"],
                    as_user=as_user, cwd=root,
                )  # fmt: skip
            started = False
        shutil.rmtree(root, ignore_errors=True)

    try:
        _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            as_user=as_user, cwd=root,
        )  # fmt: skip
        for attempt in range(3):  # another process (a pytest-xdist worker) may take the port
            port = _free_port() if attempt else port
            opts = f"-h 127.0.0.1 -p {port} -k {data} " + " ".join(f"-c {s}" for s in _SETTINGS)
            try:
                _run(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                     "-o", opts, "start"],
                    as_user=as_user, cwd=root,
                )  # fmt: skip
                break
            except RuntimeError as exc:
                text = log.read_text(errors="replace") if log.exists() else ""
                if attempt < 2 and "could not bind" in text:
                    continue
                raise RuntimeError(f"{exc}\nserver log:\n{text}") from exc
        started = True
        psql = [str(bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]  # fmt: skip
        _run([*psql, "-d", "template1", "-c", "CREATE EXTENSION IF NOT EXISTS postgis"],
             as_user=as_user, cwd=root)  # fmt: skip
        _run([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}"],
             as_user=as_user, cwd=root)  # fmt: skip
    except BaseException:
        stop()
        raise
    return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}", stop


_SHARED: dict[str, str] = {}
_SHARED_LOCK = threading.Lock()


def shared_postgis() -> str:
    """Start one server per process on first call (stopped at exit); return its URL.

    Test modules share it through a session fixture::

        @pytest.fixture(scope="session")
        def pg_url():
            reason = postgis_unavailable_reason()
            if reason:
                pytest.skip(reason)
            return shared_postgis()
    """
    with _SHARED_LOCK:
        if "url" not in _SHARED:
            url, stop = start_postgis(tempfile.gettempdir())
            atexit.register(stop)
            _SHARED["url"] = url
        return _SHARED["url"]


def fresh_database(url: str, name: str) -> str:
    """Create database ``name`` (with PostGIS, from template1) on the server; return its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name
