"""Population tables (常住人口) for per-person metrics, with their source and year.

A population table is a CSV with one row per administrative area:

=============  ==========================================================
column         meaning
=============  ==========================================================
``adcode``     6-digit administrative code (matches the boundary layer)
``name``       area name
``population`` resident population (常住人口), persons
``year``       the year the figure refers to
``source``     the publication it comes from
``kind``       ``published`` (a figure as published) or ``demo`` (made up)
``note``       optional remark
=============  ==========================================================

The default table, ``data/population.csv``, holds the resident population of Beijing
and its 16 districts from the 7th national census (北京市第七次全国人口普查公报（第二号）,
2021-05-19, census date 2020-11-01): published figures, transcribed by hand (their sum
equals the published municipal total 21 893 095); check them against the bulletin before
citing them officially. Jurisdictions without rows get "无数据" for per-person metrics
until a table is given (``ecozone coverage --population FILE.csv``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from geo.errors import InputFormatError

__all__ = ["POPULATION_COLUMNS", "default_population_path", "load_population"]

#: Required columns of a population table.
POPULATION_COLUMNS = ("adcode", "name", "population", "year", "source")

_FILE = "population.csv"


def default_population_path() -> Path | None:
    """The bundled population table: ``data/population.csv`` of a checkout or install.

    Returns
    -------
    pathlib.Path or None
        None when no table is installed.
    """
    for candidate in (
        Path(__file__).resolve().parents[2] / "data" / _FILE,
        Path(sys.prefix) / "share" / "ecozone" / _FILE,
    ):
        if candidate.is_file():
            return candidate
    return None


def load_population(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate a population table.

    Parameters
    ----------
    path
        A CSV file (UTF-8, with or without BOM); None for the bundled table.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`POPULATION_COLUMNS` plus ``kind`` and ``note``; ``adcode``
        as text, ``population`` as float; ``attrs["path"]`` the file read.

    Raises
    ------
    InputFormatError
        The file is missing, lacks a column, or a row has a bad adcode, a population
        that is not a positive number, or a duplicated adcode (every problem listed).

    Examples
    --------
    >>> table = load_population()
    >>> int(table.set_index("adcode").loc["110000", "population"])
    21893095
    """
    if path is None:
        path = default_population_path()
        if path is None:
            msg = (
                "no population table installed (data/population.csv): pass one with "
                "`--population FILE.csv` (columns adcode,name,population,year,source)"
            )
            raise InputFormatError(msg)
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"adcode": str}, encoding="utf-8-sig")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        msg = f"{path}: cannot read the population table: {exc}"
        raise InputFormatError(msg) from exc
    missing = [c for c in POPULATION_COLUMNS if c not in table.columns]
    if missing:
        msg = (
            f"{path}: the population table lacks column(s) {missing}; "
            f"expected {list(POPULATION_COLUMNS)} (plus optional kind, note)"
        )
        raise InputFormatError(msg)
    for col, default in (("kind", "published"), ("note", "")):
        if col not in table.columns:
            table[col] = default
    table["adcode"] = table["adcode"].astype(str).str.strip()
    pop = pd.to_numeric(table["population"], errors="coerce")
    problems = []
    for i in range(len(table)):
        row = i + 2  # header is line 1
        code = table["adcode"].iloc[i]
        if not (len(code) == 6 and code.isdigit()):
            problems.append(f"row {row}: adcode {code!r} is not 6 digits")
        if not (pop.iloc[i] > 0):
            problems.append(
                f"row {row}: population {table['population'].iloc[i]!r} is not a positive number"
            )
    dup = table["adcode"][table["adcode"].duplicated()].unique().tolist()
    if dup:
        problems.append(f"adcode(s) {dup} appear more than once")
    if problems:
        msg = f"{path}: bad population table: " + "; ".join(problems) + "; fix those rows"
        raise InputFormatError(msg)
    table["population"] = pop.astype(float)
    table["kind"] = table["kind"].fillna("published").astype(str)
    table["note"] = table["note"].fillna("").astype(str)
    table.attrs["path"] = str(path)
    return table.reset_index(drop=True)
