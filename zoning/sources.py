"""The plans, laws, standards and notices that rule packs cite: records a reviewer can cite.

A rule pack cites a seed plan by file name and line (``001_1c6d450321da7557.txt``,
``line = "148"``) or a law by name and article. A reviewer cannot cite a file hash:
this module turns such a citation into what an EIA chapter prints — the official
title in 《》, the chapter/section heading that contains the line, and the quoted
sentence — from data kept in the project:

- ``zoning/data/sources.toml``: one record per source (id, kind, full official title,
  its English title, issuing body, document number where it has one, date, the seed
  file it is stored as, other names the packs use);
- ``zoning/data/source_sections.toml``: the section headings of each seed file by line
  range, derived from the texts by ``scripts/source_headings.py`` (章 / 一、 level 1,
  节 / （一） level 2, 1. level 3 inside a level-2 section).

The project holds these records, not copies of the documents. Where the full texts
are available locally (the folder named by ``$ECOZONE_SOURCES``, holding the seed
files under their names), :func:`source_excerpt` shows a source around a cited line
(``ecozone sources show ID --line N`` and the web app's source page).

Contents
--------
- :class:`Source`, :class:`Section`; :func:`load_sources`, :func:`get_source`,
  :func:`find_source`;
- :func:`cite` — a citation (pack :class:`~zoning.pack.Citation`, its dict form or its
  short string form) → a JSON-safe dict with title, section, quote and line;
- :func:`format_citation` — the printed form, ``lang`` "zh" or "en";
- :func:`sources_folder`, :func:`source_lines`, :func:`source_excerpt` — the texts.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from geo.errors import SourceError

__all__ = [
    "SOURCES_ENV",
    "Section",
    "Source",
    "cite",
    "find_source",
    "format_citation",
    "get_source",
    "load_sources",
    "source_excerpt",
    "source_lines",
    "sources_folder",
]

#: Environment variable naming the folder with the full texts of the seed plans.
SOURCES_ENV = "ECOZONE_SOURCES"
_DATA = Path(__file__).resolve().parent / "data"
_SEED_RE = re.compile(r"(\d{3}_[0-9a-f]+\.txt)")
_LINE_RE = re.compile(r"(?:第\s*|l\.\s*|line\s*)([\d][\d,\s\-]*)")
#: Scripts a stored copy can be in (``Source.script``).
_SCRIPTS = ("simplified", "traditional")
_KIND_ZH = {"plan": "规划", "work_plan": "工作计划", "law": "法律", "regulation": "行政法规",
            "standard": "标准", "notice": "通知"}  # fmt: skip
_KIND_EN = {"plan": "plan", "work_plan": "work plan", "law": "law", "regulation": "regulation",
            "standard": "standard", "notice": "notice"}  # fmt: skip


@dataclass(frozen=True)
class Section:
    """A heading of a source text and the lines it covers (1-based, inclusive)."""

    level: int
    line: int
    end: int
    heading: str


@dataclass(frozen=True)
class Source:
    """One plan, law, standard or notice.

    Attributes
    ----------
    id
        Short name (``ecozone sources show ID``).
    kind
        "plan", "work_plan", "law", "regulation", "standard" or "notice".
    title, title_en
        Full official title (without 《》) and its English rendering.
    issuer, issuer_en
        Issuing body.
    number
        Document number (发文字号 / standard number), "" when it has none.
    date
        Date of issue, ``YYYY-MM-DD`` (or ``YYYY`` when only the year is certain).
    file
        Seed file name the citations' lines refer to ("" for laws and standards).
    printed
        The title as the stored copy prints it (e.g. in traditional characters).
    script
        The stored copy's script: "simplified" or "traditional" (a government site's
        繁體 page). Mainland plans are issued in simplified characters, and an EIA
        chapter quotes them so: :meth:`official` gives a traditional copy's quotes and
        headings in simplified characters.
    names
        Other names the packs use for it.
    sections
        Headings with line ranges (seed files only).
    """

    id: str
    kind: str
    title: str
    title_en: str
    issuer: str = ""
    issuer_en: str = ""
    number: str = ""
    date: str = ""
    file: str = ""
    printed: str = ""
    script: str = "simplified"
    note: str = ""
    names: tuple[str, ...] = ()
    sections: tuple[Section, ...] = field(default=(), repr=False)

    def headings_at(self, line: int) -> list[Section]:
        """The headings whose range contains ``line``, outermost first."""
        found = [s for s in self.sections if s.line <= line <= s.end]
        return sorted(found, key=lambda s: (s.level, s.line))

    def official_headings_at(self, line: int) -> list[str]:
        """The headings of ``line`` (outermost first) as reports print them (:meth:`official`)."""
        return [self.official(h.heading) for h in self.headings_at(line)]

    def official(self, text: str) -> str:
        """``text`` of the stored copy in the official script (simplified characters).

        A traditional copy's text is converted by OpenCC's ``t2s`` (phrases first,
        then characters); a simplified copy's is returned as it is. The line numbers
        cited still refer to the stored copy, where the text is found as it was quoted.
        """
        if self.script != "traditional" or not text:
            return text
        return _to_simplified()(text)

    def script_note(self, lang: str = "zh") -> str:
        """What a reader of a citation needs to know of the copy's script ("" when simplified).

        Printed beside the line numbers (reports' appendix A, the source pages), which
        refer to the stored copy, where the quotes are found as it prints them.
        """
        if self.script != "traditional":
            return ""
        if lang == "zh":
            return "存档文本为繁体字版：引文和章节标题按简体（原件所用字体）列出，行号指存档文本"
        return (
            "the stored copy is in traditional characters: quotes and headings are given in "
            "simplified characters, as the document was issued; line numbers refer to the "
            "stored copy"
        )

    def kind_label(self, lang: str = "zh") -> str:
        """The kind in words ("规划", "law", ...)."""
        return (_KIND_ZH if lang == "zh" else _KIND_EN).get(self.kind, self.kind)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe record (without the sections)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "title_en": self.title_en,
            "issuer": self.issuer,
            "issuer_en": self.issuer_en,
            "number": self.number,
            "date": self.date,
            "file": self.file,
            "script": self.script,
            "script_note": self.script_note("zh"),
            "script_note_en": self.script_note("en"),
            "note": self.note,
        }


@lru_cache(maxsize=1)
def _to_simplified() -> Callable[[str], str]:
    import opencc  # (only a traditional copy's citations need it: 10 ms to load)

    return opencc.OpenCC("t2s").convert


def _norm(name: str) -> str:
    """A name for matching: no 《》, no spaces, half-width brackets."""
    name = name.strip().strip("《》")
    name = name.replace("（", "(").replace("）", ")").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", "", name).lower()


@lru_cache(maxsize=1)
def load_sources() -> dict[str, Source]:
    """Every source record, by id (read once from ``zoning/data``).

    Returns
    -------
    dict
        id → :class:`Source`, in the order of ``sources.toml``.

    Raises
    ------
    SourceError
        When a record lacks ``id``, ``kind``, ``title`` or ``title_en``, or an id repeats.
    """
    records = tomllib.loads((_DATA / "sources.toml").read_text(encoding="utf-8"))["source"]
    sections_path = _DATA / "source_sections.toml"
    sections = tomllib.loads(sections_path.read_text(encoding="utf-8"))
    out: dict[str, Source] = {}
    for i, rec in enumerate(records, start=1):
        missing = [k for k in ("id", "kind", "title", "title_en") if not rec.get(k)]
        if missing:
            msg = f"zoning/data/sources.toml record {i}: missing {', '.join(missing)}"
            raise SourceError(msg)
        if rec["id"] in out:
            msg = f"zoning/data/sources.toml record {i}: id {rec['id']!r} used twice"
            raise SourceError(msg)
        script = rec.get("script", "simplified")
        if script not in _SCRIPTS:
            msg = (
                f"zoning/data/sources.toml record {i} ({rec['id']}): script {script!r} "
                f"is not one of {', '.join(_SCRIPTS)}"
            )
            raise SourceError(msg)
        secs = tuple(
            Section(int(s["level"]), int(s["line"]), int(s["end"]), str(s["heading"]))
            for s in sections.get(rec.get("file", ""), [])
        )
        out[rec["id"]] = Source(
            id=rec["id"],
            kind=rec["kind"],
            title=rec["title"],
            title_en=rec["title_en"],
            issuer=rec.get("issuer", ""),
            issuer_en=rec.get("issuer_en", ""),
            number=rec.get("number", ""),
            date=str(rec.get("date", "")),
            file=rec.get("file", ""),
            printed=rec.get("printed", ""),
            script=script,
            note=rec.get("note", ""),
            names=tuple(rec.get("names", ())),
            sections=secs,
        )
    return out


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for src in load_sources().values():
        for name in (src.id, src.file, src.title, src.number, *src.names):
            if name:
                index.setdefault(_norm(name), src.id)
    return index


def find_source(name: str) -> Source | None:
    """The source a pack names (id, seed file name, title, number or another name).

    Parameters
    ----------
    name
        As a pack's citation ``source`` gives it, e.g. "001_1c6d450321da7557.txt",
        "中华人民共和国水污染防治法" or
        "关于加强生态保护红线管理的通知(试行)(自然资发〔2022〕142号)".

    Returns
    -------
    Source or None
        None when no record matches.
    """
    if not name:
        return None
    key = _index().get(_norm(name))
    if key is None:
        seed = _SEED_RE.search(name)
        if seed:
            key = _index().get(_norm(seed.group(1)))
    return load_sources()[key] if key else None


def get_source(source_id: str) -> Source:
    """The source with id ``source_id`` (or any name :func:`find_source` knows).

    Raises
    ------
    SourceError
        Unknown id; the message lists the known ids.
    """
    src = find_source(source_id)
    if src is None:
        known = ", ".join(load_sources())
        msg = f"unknown source {source_id!r}: known sources are {known} (ecozone sources list)"
        raise SourceError(msg)
    return src


def _parse_str(text: str) -> dict[str, Any]:
    """The parts of a citation's short string form (``str(Citation)``)."""
    text = text.strip()
    seed = _SEED_RE.search(text)
    if seed:
        m = _LINE_RE.search(text[seed.end() :])
        line = m.group(1).strip().rstrip(",-").replace(" ", "") if m else None
        return {"source": seed.group(1), "line": line, "text": ""}
    m = re.match(r"^《([^》]+)》\s*(.*)$", text)
    if m:
        rest = m.group(2)
        src = find_source(m.group(1))
        for name in src.names if src else ():
            rest = rest.replace(f"({name})", "")  # str(Citation) appends the English name
        return {"source": m.group(1), "article": rest.strip() or None, "text": ""}
    src = next((s for s in load_sources().values() if s.number and s.number in text), None)
    if src is not None:
        rest = text.split(src.number, 1)[1].strip()
        return {"source": src.number, "article": rest or None, "text": ""}
    return {"source": text, "article": None, "text": ""}


def _lines(line: str | None) -> list[int]:
    out: list[int] = []
    for part in (line or "").split(","):
        a, _, b = part.strip().partition("-")
        if a.isdigit():
            out.extend(range(int(a), int(b if b.isdigit() else a) + 1))
    return out


def _article(article: str | None, lang: str) -> str:
    """The article in one language: "第六十五条 (art. 65)" → zh "第六十五条", en "art. 65"."""
    if not article:
        return ""
    if lang == "zh":
        return re.sub(r"\s*\([\x20-\x7e]*\)", "", article).strip()
    english = re.findall(r"\(([\x20-\x7e]+)\)", article)
    return "; ".join(english) if english else article.strip()


def cite(citation: Any) -> dict[str, Any]:
    """A citation with its source record resolved: what a reader needs without the file.

    Parameters
    ----------
    citation
        A :class:`zoning.pack.Citation`, its dict form (``source``, ``line``, ``law``,
        ``article``, ``text``), a dict already returned by :func:`cite`, or its short
        string form ("001_….txt 第362行 (l.362)", "《中华人民共和国水污染防治法》第六十五条 …").

    Returns
    -------
    dict
        ``source_id`` (None when no record matches), ``source`` (as the pack names it),
        ``kind``, ``title``, ``title_en``, ``issuer``, ``number``, ``date``, ``line``
        (as cited, e.g. "672-674"), ``lines`` (ints), ``article``, ``section`` (for
        each place cited, its headings joined by ／, outermost first), ``section_line`` (line
        of the innermost heading), ``quote`` (the quoted sentence), ``text`` and
        ``text_en`` (the printed forms of :func:`format_citation`). ``section`` and
        ``quote`` are in the official script (:meth:`Source.official`): where the
        stored copy is traditional (``script``), ``section_stored`` and
        ``quote_stored`` keep them as the copy prints them at ``line``.
    """
    if isinstance(citation, Mapping) and "text_en" in citation and "section" in citation:
        return dict(citation)
    if isinstance(citation, str):
        raw = _parse_str(citation)
    elif isinstance(citation, Mapping):
        raw = dict(citation)
    else:
        raw = {k: getattr(citation, k, None) for k in ("source", "line", "law", "article", "text")}
    key = tuple(str(raw.get(k) or "") for k in ("source", "line", "law", "article", "text"))
    return dict(_cite(key))


@lru_cache(maxsize=4096)
def _cite(key: tuple[str, ...]) -> dict[str, Any]:
    """:func:`cite` of (source, line, law, article, text), computed once per citation."""
    raw = dict(zip(("source", "line", "law", "article", "text"), key, strict=True))
    raw = {k: (v or None) for k, v in raw.items()}
    name = str(raw.get("source") or "")
    src = find_source(name) or (find_source(str(raw["law"])) if raw.get("law") else None)
    line = raw.get("line")
    line = None if line is None else str(line)
    lines = _lines(line)
    quote = str(raw.get("text") or "")
    chains: list[list[Section]] = []
    for part in (line or "").split(","):  # "59,148": the headings of each cited place
        first = _lines(part)
        chain = src.headings_at(first[0]) if (src is not None and first) else []
        if chain and chain not in chains:
            chains.append(chain)
    stored = ["／".join(h.heading for h in chain) for chain in chains]  # as the copy prints them
    official = src.official if src is not None else str
    out: dict[str, Any] = {
        "source_id": src.id if src else None,
        "source": name,
        "kind": src.kind if src else None,
        "title": src.title if src else name.strip("《》"),
        "title_en": src.title_en if src else str(raw.get("law") or name),
        "issuer": src.issuer if src else "",
        "number": src.number if src else "",
        "date": src.date if src else "",
        "line": line,
        "lines": lines,
        "article": raw.get("article"),
        "section": [official(h) for h in stored],
        "section_line": chains[0][-1].line if chains else None,
        "quote": official(quote),
        "script": src.script if src else None,
        "section_stored": stored,
        "quote_stored": quote,
    }
    out["text"] = format_citation(out, "zh")
    out["text_en"] = format_citation(out, "en")
    return out


def format_citation(
    citation: Any, lang: str = "zh", *, with_line: bool = False, quote: bool = True
) -> str:
    """The printed form of a citation: 《title》 + section heading + the quoted sentence.

    Parameters
    ----------
    citation
        Anything :func:`cite` takes (a pack Citation, a dict, a string).
    lang
        "zh": ``《北京市“十四五”时期生态环境保护规划》二、指导思想和目标／(三)规划目标：“…”``;
        "en": ``Beijing Eco-Environmental Protection Plan for the 14th Five-Year Period,
        section 二、… › (三)…: “…”`` (the headings and quotes in Chinese, in the
        official script: :meth:`Source.official`).
    with_line
        Append the line number (for the appendix that traces each citation).
    quote
        Include the quoted sentence (False: title and section only, for narrow tables).

    Returns
    -------
    str
        One line of text.

    Examples
    --------
    >>> format_citation({"source": "001_1c6d450321da7557.txt", "line": "362", "text": "…"})[:20]
    '《北京市“十四五”时期生态环境保护规划》'
    """
    c = citation if (isinstance(citation, Mapping) and "section" in citation) else None
    if c is None:
        c = cite(citation)
    kind, number = c.get("kind"), c.get("number") or ""
    quoted = (c.get("quote") or "") if quote else ""
    heads = list(c.get("section") or [])
    article = _article(c.get("article"), lang)
    if lang == "zh":
        text = f"《{c['title']}》"
        if kind == "notice" and number:
            text += f"（{number}）"
        elif kind == "standard" and number:
            text += number
        where = "；".join(heads) if heads else article
        if where:
            text += where
        if quoted:
            text += f"：“{quoted}”"
        if with_line and c.get("line"):
            text += f"（第{c['line']}行）"
        return text
    text = str(c.get("title_en") or c.get("title"))
    if number and kind in ("notice", "standard"):
        text += f" ({number})"
    if heads:
        text += ", section " + "; ".join(h.replace("／", " › ") for h in heads)
    elif article:
        text += f", {article}"
    if quoted:
        text += f": “{quoted}”"
    if with_line and c.get("line"):
        text += f" (line {c['line']})"
    return text


def sources_folder() -> Path | None:
    """The folder of full texts named by ``$ECOZONE_SOURCES`` (None when unset)."""
    value = os.environ.get(SOURCES_ENV, "").strip()
    return Path(value).expanduser() if value else None


def source_lines(source: str | Source, *, folder: str | Path | None = None) -> list[str]:
    """The full text of a seed source, one string per line (line 1 first).

    Parameters
    ----------
    source
        A :class:`Source` or an id/name :func:`get_source` knows.
    folder
        Folder holding the texts; default ``$ECOZONE_SOURCES``.

    Raises
    ------
    SourceError
        Unknown source, a law/standard (its text does not travel with the project),
        no folder configured, or the file missing from it.
    """
    src = source if isinstance(source, Source) else get_source(source)
    if not src.file:
        msg = (
            f"source {src.id!r} ({src.title}) is a {src.kind_label('en')}: ecozone holds its "
            "record and the quoted passages, not its full text"
        )
        raise SourceError(msg)
    base = Path(folder) if folder is not None else sources_folder()
    if base is None:
        msg = (
            f"the full text of {src.id!r} is not available: set {SOURCES_ENV} to the folder "
            f"holding {src.file}"
        )
        raise SourceError(msg)
    path = base / src.file
    if not path.is_file():
        msg = f"{path} not found: {SOURCES_ENV}={base} does not hold {src.file}"
        raise SourceError(msg)
    return path.read_text(encoding="utf-8").splitlines()


def source_excerpt(
    source: str | Source,
    line: int | None = None,
    *,
    context: int = 8,
    folder: str | Path | None = None,
) -> list[tuple[int, str, bool]]:
    """The lines of a source around ``line``: ``(number, text, is_cited)`` tuples.

    Parameters
    ----------
    source
        Id or name of a seed source.
    line
        The cited line; None for the whole text.
    context
        Lines shown before and after ``line``.
    folder
        Folder of texts; default ``$ECOZONE_SOURCES``.

    Raises
    ------
    SourceError
        As :func:`source_lines`, or ``line`` outside the text.
    """
    lines = source_lines(source, folder=folder)
    if line is None:
        return [(i, t, False) for i, t in enumerate(lines, start=1)]
    if not 1 <= line <= len(lines):
        msg = f"line {line} is outside the text (1–{len(lines)})"
        raise SourceError(msg)
    lo, hi = max(1, line - context), min(len(lines), line + context)
    return [(i, lines[i - 1], i == line) for i in range(lo, hi + 1)]
