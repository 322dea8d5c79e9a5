"""Which coordinate system a file's own words name (the ``--coords`` guard).

Planners copy points out of AMap (高德, GCJ-02) and Baidu (百度, BD-09) every day;
read as WGS84 they land 300–600 m off, and a verdict can change. A forgotten
``coords=`` cannot be told from the numbers alone (shifted points look just as
plausible), so ecozone decides from the words around them: column headers
(``gcj_lng``, ``高德经度``, ``bd09_lat``…), the file name and, for GeoJSON/KML,
the declared system. When those words name a system other than the one the reader
was told, the reader warns and names the option; it does not convert silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["strip_system_words", "system_named_in"]

# Words that name a system, as they appear in headers and file names.
_SYSTEM_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "bd09",
        re.compile(r"bd-?09|baidu|百度|(?:^|[^a-z])bd(?:[^a-z]|$)|^bd(?=lng|lon|lat)|bmap", re.I),
    ),
    (
        "gcj02",
        re.compile(r"gcj-?0?2?|amap|gaode|高德|火星|tencent|腾讯|qq地图|autonavi", re.IGNORECASE),
    ),
    ("wgs84", re.compile(r"wgs-?84|cgcs-?2000|gps|天地图|tianditu", re.IGNORECASE)),
)
_STRIP = re.compile(
    r"bd-?09|baidu|百度|bmap|gcj-?0?2?|amap|gaode|高德|火星|tencent|腾讯|autonavi|"
    r"wgs-?84|cgcs-?2000|gps|(?:^|(?<=[_\s-]))bd(?=[_\s-])|^bd(?=[a-z])",
    re.IGNORECASE,
)


def system_named_in(texts: Iterable[str]) -> str | None:
    """The coordinate system ("wgs84", "gcj02", "bd09") the texts name, if exactly one.

    Parameters
    ----------
    texts
        Column headers, a file name, a declared system name.

    Returns
    -------
    str or None
        The one system named; ``None`` when none or several are named.
    """
    found = set()
    for text in texts:
        for system, pattern in _SYSTEM_WORDS:
            if pattern.search(str(text)):
                found.add(system)
                break  # "bd09" contains no "gcj"; first match wins per text
    return found.pop() if len(found) == 1 else None


def strip_system_words(header: str) -> str:
    """A normalised header without its system words: "gcj02lng" → "lng", "高德经度" → "经度"."""
    return _STRIP.sub("", header).strip("_- ")
