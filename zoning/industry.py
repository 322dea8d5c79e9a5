"""The GB/T 4754-2017 industry catalogue (国民经济行业分类) and named industry classes.

The catalogue (``zoning/data/gbt4754_2017.csv``) lists every section (门类, a letter
A–T) and division (大类, two digits) of GB/T 4754-2017, and the groups (中类) and
classes (小类) that the rule packs and access lists name. Codes are written as the
project writes them: the section letter followed by the digits (``"C2641"``).

:data:`INDUSTRY_CLASSES` maps the industry names access lists use in their text
(石化, 化工, 水泥, 电镀, ...) to code prefixes, so that an entry such as
"禁止新建、扩建石化、化工项目" can be checked against the project's industry code
(:mod:`zoning.access_list`). The mapping is a reading of the names, documented in
docs/rules.md; a list whose wording is not covered stays 需人工核实.

The Beijing plans ask that new industry be checked against Beijing's catalogue of
prohibited and restricted new industries (001 l.192, 000 l.41); that catalogue is
keyed by these codes.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from geo.errors import InputFormatError

__all__ = [
    "CATALOGUE_PATH",
    "INDUSTRY_CLASSES",
    "Industry",
    "catalogue",
    "code_of_prefix",
    "describe_industry",
    "lookup_industry",
    "validate_industry_code",
]

#: The catalogue file shipped with ecozone.
CATALOGUE_PATH = Path(__file__).with_name("data") / "gbt4754_2017.csv"

#: Industry names used in access-list text → GB/T 4754-2017 code prefixes.
#: Longer names are matched first (so 有色金属冶炼 before 冶炼).
INDUSTRY_CLASSES: dict[str, tuple[str, ...]] = {
    "石化": ("C251",),  # 精炼石油产品制造
    "炼化": ("C251",),
    "炼油": ("C251",),
    "焦化": ("C2521",),
    "炼焦": ("C2521",),
    "化工": ("C26",),  # 化学原料和化学制品制造业
    "化学原料": ("C26",),
    "涂料": ("C2641",),
    "油墨": ("C2642",),
    "染料": ("C2645",),
    "农药": ("C263",),
    "化肥": ("C262",),
    "医药制造": ("C27",),
    "制药": ("C27",),
    "化学纤维": ("C28",),
    "化纤": ("C28",),
    "非金属矿物制品": ("C30",),
    "水泥": ("C3011",),
    "平板玻璃": ("C3041",),
    "陶瓷": ("C307",),
    "钢铁": ("C31",),
    "炼钢": ("C312",),
    "炼铁": ("C311",),
    "有色金属冶炼": ("C321",),
    "有色金属矿采选": ("B091",),
    "电镀": ("C3360",),
    "铅蓄电池": ("C3843",),
    "皮革鞣制": ("C1910",),
    "制革": ("C1910",),
    "造纸": ("C22",),
    "印染": ("C1713", "C1723", "C1733", "C1743", "C1752"),
    "煤炭开采": ("B06",),
    "采矿": ("B",),
    "汽车整车制造": ("C361",),
    "集成电路制造": ("C3973",),
    "显示器件制造": ("C3974",),
    "房地产": ("K70",),
}


@dataclass(frozen=True)
class Industry:
    """One catalogue entry: code ("C26"), level, Chinese and English names."""

    code: str
    level: str  # section | division | group | class
    name_zh: str
    name_en: str


@cache
def catalogue() -> dict[str, Industry]:
    """The GB/T 4754-2017 catalogue, code → :class:`Industry`.

    Returns
    -------
    dict
        Sections ("C"), divisions ("C26") and the groups/classes the packs use.
    """
    with CATALOGUE_PATH.open(encoding="utf-8", newline="") as fh:
        return {
            r["code"]: Industry(r["code"], r["level"], r["name_zh"], r["name_en"])
            for r in csv.DictReader(fh)
        }


def lookup_industry(code: str) -> list[Industry]:
    """The catalogue entries a code belongs to, from its section down.

    Parameters
    ----------
    code
        A project industry code such as ``"C2641"``.

    Returns
    -------
    list of Industry
        E.g. for ``"C2641"``: 制造业, 化学原料和化学制品制造业, 涂料、油墨、颜料及类似产品制造,
        涂料制造 (only the levels the catalogue holds).
    """
    cat = catalogue()
    code = code.strip().upper()
    return [cat[code[:n]] for n in range(1, len(code) + 1) if code[:n] in cat]


def validate_industry_code(code: str, *, where: str = "--industry-code") -> str:
    """Check a code against the catalogue: its division must exist in its section.

    Parameters
    ----------
    code
        The code, e.g. ``"C2641"``.
    where
        How to name the input in the error (a CLI option, a column).

    Returns
    -------
    str
        The code in upper case.

    Raises
    ------
    geo.errors.InputFormatError
        The section letter is unknown or the division does not belong to it (e.g.
        ``"A26"``: division 26 is in section C); the message names the right one.
    """
    cat = catalogue()
    c = code.strip().upper()
    if c[:1] not in cat:
        msg = f"{where}: {code!r}: unknown GB/T 4754-2017 section {c[:1]!r}; sections are A–T"
        raise InputFormatError(msg)
    if len(c) >= 3 and c[:3] not in cat:
        right = [k for k in cat if len(k) == 3 and k[1:] == c[1:3]]
        hint = f"; division {c[1:3]} is {right[0]} ({cat[right[0]].name_zh})" if right else ""
        msg = (
            f"{where}: {code!r}: division {c[1:3]} is not in section {c[0]} "
            f"({cat[c[0]].name_zh}) of GB/T 4754-2017{hint}; fix the code"
        )
        raise InputFormatError(msg)
    return c


def describe_industry(code: str | None) -> str:
    """Chinese name of a code's most specific catalogue level ("" when unknown).

    Examples
    --------
    >>> describe_industry("C2641")
    'C2641 涂料制造'
    >>> describe_industry("C2699")
    'C2699 (化学原料和化学制品制造业)'
    """
    if not code:
        return ""
    found = lookup_industry(code)
    if not found:
        return code
    last = found[-1]
    return f"{code} {last.name_zh}" if last.code == code else f"{code} ({last.name_zh})"


def code_of_prefix(prefix: str) -> str:
    """A code a project may give (:class:`zoning.project.Project`) starting with ``prefix``.

    A normalised prefix (:func:`normalise_prefixes`) is a section letter with up to four
    digits; a code has none or two to four, and its division must be its section's. A
    prefix of one digit takes the first division of the catalogue that starts with it
    ("C2" → "C20", "B0" → "B06"). Used to ask what a rule for an industry would say of a
    project whose code was not given.

    Examples
    --------
    >>> [code_of_prefix(p) for p in ("C", "C2", "B0", "C26", "C2614")]
    ['C', 'C20', 'B06', 'C26', 'C2614']
    """
    if len(prefix) != 2:
        return prefix
    return min((c for c in catalogue() if len(c) == 3 and c.startswith(prefix)), default=prefix)


def normalise_prefixes(
    values: list[str] | None, *, what: str = "industry prefix"
) -> list[str] | None:
    """GB/T 4754 codes or prefixes ("c26" → "C26"), for pack and access-list conditions.

    Raises
    ------
    ValueError
        A value that is not a section letter with up to four digits.
    """
    if values is None:
        return None
    try:  # the access lists of many units repeat the same conditions: normalised once
        return list(_normalised(tuple(values), what))
    except TypeError:  # values that cannot be a cache key (not hashable)
        return list(_normalised.__wrapped__(tuple(values), what))


@lru_cache(maxsize=4096)
def _normalised(values: tuple[Any, ...], what: str) -> tuple[str, ...]:
    out = []
    for p in values:
        code = str(p).strip().upper()
        if not re.match(r"^[A-T]\d{0,4}$", code):
            msg = f"{what} {p!r} is not a GB/T 4754 code prefix like 'C' or 'C26'"
            raise ValueError(msg)
        out.append(code)
    return tuple(out)
