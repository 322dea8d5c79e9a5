"""Formatting helpers for the command line: JSON, rich tables, progress, errors."""

from __future__ import annotations

import contextlib
import errno
import functools
import glob
import json
import math
import re
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from geo.errors import EcozoneError

console = Console()
err_console = Console(stderr=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _clean(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) with null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON (UTF-8, Chinese kept readable)."""
    click.echo(json.dumps(_clean(data), ensure_ascii=False, indent=2, default=_json_default))


# Widest table printed into a file or pipe (cells: 10 000 columns at most).
_UNWRAPPED = 10_000


#: The options of ``ecozone check`` that give what a note asks for
#: (:data:`zoning.check.notes.ASKS`); the note's own text names none.
_OPTION_FOR = {"coords": "--coords", "industry_code": "--industry", "flags": "--flag"}


def note_line(note: dict[str, Any]) -> str:
    """A check note as the terminal shows it: kind, text, and the options that answer it."""
    options = [_OPTION_FOR[a] for a in note.get("asks") or () if a in _OPTION_FOR]
    hint = f"（命令行选项 {' '.join(options)}）" if options else ""
    return f"注 / note ({note['kind']}): {note['text']}{hint}"


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a rich table; no cell is ever cut short.

    On a terminal, long cells wrap within their column. Into a file or a pipe (a
    report pasted into a document, ``grep``), each row stays on one line at the
    table's full width: a rule id, a feature name or a citation cut to "…" would be
    lost evidence.
    """
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(str(col), overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=_UNWRAPPED).print(table)  # (a table takes its cells' width)


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(done, total)`` callback drawing a bar on standard error."""
    if not enabled:
        yield lambda done, total: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


# The library names its fixes as Python keyword arguments (``crs='EPSG:4548'``); on
# the command line the same fix is an option. One table, used for every message.
_KWARG_VALUE = r"""(?:'([^']*)'|"([^"]*)"|(\w[\w:-]*(?:\.\d+)?))"""
_CLI_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"rasters=\{'landcover':\s*[A-Z_]+\}"), "--landcover PATH"),
    (re.compile(r"\s*\(?\bor pass driver=[^).]*\)?"), ""),
    (re.compile(r"\bpass driver=[^).;]*"), "use a file suffix"),
    (re.compile(r"\bbasemap=" + _KWARG_VALUE), "--basemap \\1\\2\\3"),
    (re.compile(r"\b(crs|zone|coords|layer|encoding|lon_col|lat_col)=" + _KWARG_VALUE), ""),
    (re.compile(r"\b(crs|zone|coords|basemap|landcover|population)=(?=[\s,.;)]|$)"), ""),
)
_OPTION_OF = {"lon_col": "--lon-col", "lat_col": "--lat-col"}


def cli_words(message: str) -> str:
    """Rewrite the Python keyword arguments a library message suggests as CLI options.

    ``"pass one, e.g. crs='EPSG:4548'"`` becomes ``"pass one, e.g. --crs EPSG:4548"``;
    ``"pass crs="`` becomes ``"pass --crs"``; ``rasters={'landcover': PATH}`` becomes
    ``--landcover PATH``; the Python-only ``driver=`` advice is dropped (the CLI picks
    the format from the suffix).
    """
    for pattern, replacement in _CLI_WORDS:
        if replacement or pattern.groups == 0:
            message = pattern.sub(replacement, message)
            continue
        if pattern.groups == 4:  # name=value
            message = pattern.sub(
                lambda m: f"{_OPTION_OF.get(m[1], '--' + m[1])} {m[2] or m[3] or m[4]}", message
            )
        else:  # bare name=
            message = pattern.sub(lambda m: _OPTION_OF.get(m[1], "--" + m[1]), message)
    return message


# Options naming what a command writes: on failure, what they created is removed.
_OUTPUT_OPTIONS = ("out", "output", "report", "report_dir", "errors_out", "table_out", "outdir")
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def disk_full_error(exc: BaseException) -> BaseException | None:
    """The error in ``exc``'s chain that says the disk is full (``None`` if none does).

    Libraries report a full disk in their own words (SQLite "database or disk is
    full", GDAL "No space left on device"), often wrapped in another exception.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _FULL_ERRNOS:
            return e
        if any(t in str(e).lower() for t in _FULL_TEXTS):
            return e
        todo += [e.__cause__, e.__context__]
    return None


def _free_space(path: Path) -> str:
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return f"{shutil.disk_usage(folder).free / 2**20:,.1f} MB free in {folder}"
            except OSError:
                break
    return "free space unknown"


def _nearly_full(outputs: Sequence[Path]) -> bool:
    """Whether an output's file system has (almost) no room left.

    Some writers report a full disk in misleading words (GDAL: "no such table:
    gpkg_contents"; zipfile: "seek of closed file"): after a failure, the free space
    of the output folders tells.
    """
    for out in outputs:
        for folder in (out, *out.parents):
            if folder.is_dir():
                try:
                    if shutil.disk_usage(folder).free < 256 * 1024:
                        return True
                except OSError:
                    pass
                break
    return False


def _write_failure(exc: BaseException) -> bool:
    """Whether a failure may be a write that ran out of room (not a refusal of input)."""
    if isinstance(exc, EcozoneError):
        return "write" in str(exc).lower() or "写出" in str(exc)
    return isinstance(exc, OSError | ValueError | RuntimeError)


def disk_full_message(exc: BaseException, outputs: Sequence[Path]) -> str:
    """One line: what could not be written and how much space is free."""
    name = getattr(exc, "filename2", None) or getattr(exc, "filename", None)
    target = Path(outputs[0]) if outputs else Path(name) if name else Path.cwd()
    if target.name.startswith(".") and target.name.endswith(".tmp"):
        target = target.parent  # a temporary file: name the folder
    return (
        f"磁盘已满 / could not write {target}: no space left on the device "
        f"({_free_space(target)}); nothing was written. Free some space or write elsewhere."
    )


def _outputs(kwargs: dict[str, Any]) -> list[Path]:
    return [
        Path(v) for k in _OUTPUT_OPTIONS if isinstance(v := kwargs.get(k), str | Path) and str(v)
    ]


def _snapshot(outputs: Sequence[Path]) -> list[tuple[str, Path, set[str] | None]]:
    """What exists before a command runs, per output.

    ("stem", output, names in its folder starting with its stem), ("inside", folder,
    names in it) for an existing output folder, ("new", path, None) for an output
    that does not exist yet.
    """
    snap: list[tuple[str, Path, set[str] | None]] = []
    for out in outputs:
        folder = out.parent
        if folder.is_dir():
            names = {p.name for p in folder.glob(f"{glob.escape(out.stem)}*")}
            snap.append(("stem", out, names))
        if out.is_dir():
            snap.append(("inside", out, {p.name for p in out.iterdir()}))
        elif not out.exists():
            snap.append(("new", out, None))
    return snap


def _remove_new(snap: list[tuple[str, Path, set[str] | None]]) -> None:
    """Remove the files a failed command created beside or inside its outputs."""
    for what, path, before in snap:
        try:
            if what == "stem" and before is not None:
                for p in path.parent.glob(f"{glob.escape(path.stem)}*"):
                    if p.name not in before and p.is_file():
                        p.unlink()
            elif what == "inside" and before is not None and path.is_dir():
                for p in path.iterdir():
                    if p.name not in before and p.is_file():
                        p.unlink()
            elif what == "new" and path.is_dir():
                for p in path.iterdir():
                    if p.is_file():
                        p.unlink()
                if not any(path.iterdir()):
                    path.rmdir()  # a folder the command made
        except OSError:
            continue


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command: library errors become click errors, warnings become notes.

    An :class:`EcozoneError` prints its message and exits with code 1, no traceback.
    A full disk (wherever it is reported) prints one line saying what could not be
    written and how much space is free, and exits with code 1. When a command fails,
    the files it created beside its outputs (``--out``, ``--report``, ``--errors``:
    a results file's ``.errors.csv``, a report's ``report.json``) are removed, so
    nothing partial is left. Warnings (repaired geometry, generated ids, ...) are
    collected and printed to standard error as ``warning: ...`` lines after the
    command, so a user sees every repair without the noise of Python's warning format.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outputs = _outputs(kwargs)
        snap = _snapshot(outputs)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return func(*args, **kwargs)
            except (click.exceptions.Exit, click.Abort):
                raise
            except BaseException as exc:
                _remove_new(snap)
                full = disk_full_error(exc)
                if full is None and _write_failure(exc) and _nearly_full(outputs):
                    full = exc
                if full is not None:
                    raise click.ClickException(disk_full_message(full, outputs)) from exc
                if isinstance(exc, EcozoneError):
                    raise click.ClickException(cli_words(str(exc))) from exc
                if isinstance(exc, FileNotFoundError):
                    msg = f"file not found: {exc.filename or exc}"
                    raise click.ClickException(msg) from exc
                raise
            finally:
                for w in caught:
                    if issubclass(w.category, UserWarning):
                        click.echo(f"warning: {cli_words(str(w.message))}", err=True)

    return wrapper
