"""Compliance reports (三线一单符合性分析) from a site check: JSON, HTML, DOCX, PDF.

:func:`build_report` turns one site of a :class:`zoning.check.result.CheckResult` into a plain,
JSON-safe dict (schema ``ecozone.report/1``, documented in ``docs/report-schema.md``).
:func:`write_reports` renders that dict, in one language (``lang`` "zh" or "en"), as

- ``report.json`` — everything, machine-readable (both languages, line numbers);
- ``report.html`` — one self-contained page (no external URL): numbered headings, the
  三线一单 table (类别 / 管控要求 / 项目情况 / 符合性分析 / 结论 / 依据), every finding
  with its sources, every note of the check, the site map, and two appendices (the
  sources with the cited line numbers; the reproducibility stamp as a table);
- ``report.docx`` — the same document for Word/WPS (:mod:`zoning.report.docx`: A4,
  宋体/黑体, Word heading styles);
- ``report.pdf`` — the HTML printed on A4 by headless Chromium with real embedded
  fonts (:mod:`zoning.report.pdf`).

Citations print as 《title》 + the section heading containing the cited line + the
quoted sentence (:func:`zoning.sources.format_citation`), never as a file name.
Every report stamps the ecozone version, the pack, each layer's name, version and
checksum, and a checksum of the input, so the verdict can be reproduced later.
The map is drawn by ``maps`` and passed in as PNG bytes: zoning does not import maps.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import InputFormatError, PackError
from zoning.report.common import (
    SCHEMA,
    _atomic_write_bytes,
    _fmt_num,
    _kind_label,
    _measured,
    _normalise_note,
    report_notes,
)
from zoning.report.pdf import find_pdf_engine, html_to_pdf
from zoning.report.text import (
    CONCLUSIONS,
    DIMENSIONS_EN,
    EFFECTS_EN,
    FLAGS_EN,
    JUDGEMENTS,
    OUTCOME_CONCLUSION,
    OUTCOMES,
    PROJECT_TYPES_EN,
    RELATIONS,
    SECTIONS,
    VERDICTS,
    check_lang,
    label,
    pick,
)
from zoning.sources import cite

log = logging.getLogger(__name__)

__all__ = [
    "CONCLUSIONS",
    "OUTCOMES",
    "SCHEMA",
    "SECTIONS",
    "VERDICTS",
    "build_report",
    "find_pdf_engine",
    "html_to_pdf",
    "render_html",
    "report_notes",
    "write_reports",
]


CONCLUSIONS = {
    **CONCLUSIONS,
    "not_assessed": (
        "本规则包未设此类空间规则（需另行分析）",
        "not assessed: the pack has no rule",
    ),
}
_CONCLUSION_ORDER = (
    "noncompliant", "needs_demonstration", "insufficient_data", "needs_review", "requirements",
    "compliant", "not_assessed",
)  # fmt: skip
RELATIONS_ZH = {k: v[0] for k, v in RELATIONS.items()}
_MAX_LISTED = 4  # requirements / sources listed for a table row without findings


def _json_safe(value: Any) -> Any:
    """Convert numpy/pandas values into plain JSON types (NaN → None; ``_keys`` dropped)."""
    t = type(value)  # the plain types first: reports convert thousands of values
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray | pd.Series):
        return [_json_safe(v) for v in list(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | bool):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "__geo_interface__"):
        return _json_safe(value.__geo_interface__)
    return str(value)


def _site_rows(result: Any, site_id: Any) -> tuple[Any, dict[str, Any]]:
    """The site's id and rows (:meth:`zoning.check.result.CheckResult._site_rows`)."""
    from zoning.check.result import rows_from_frames

    own = getattr(result, "_site_rows", None)
    if own is not None:
        first = result._first_site_id()
        if first is None:
            raise InputFormatError("the check result holds no site: nothing to report")
        if site_id is None:
            site_id = first
        rows = own(site_id)
    else:
        sites = result.sites
        if len(sites) == 0:
            raise InputFormatError("the check result holds no site: nothing to report")
        if site_id is None:
            site_id = sites["site_id"].iloc[0]
        rows = rows_from_frames(sites, result.relations, result.findings, site_id)
    if rows is None:
        raise InputFormatError(f"site {site_id!r} is not in the check result")
    return site_id, rows


def _measure(geom: Any, crs: Any) -> tuple[Any, float, float]:
    """The site in lon/lat, and its ellipsoidal area and length (m², m)."""
    import shapely

    from geo.measure import geodesic_area, geodesic_length  # measured, not projected

    if crs is not None and crs != "EPSG:4326":
        import geopandas as gpd

        geom = gpd.GeoSeries([geom], crs=crs).to_crs("EPSG:4326").iloc[0]
    if shapely.get_dimensions(geom) == 0:  # points: no area, no length
        return geom, 0.0, 0.0
    area = float(geodesic_area([geom], "EPSG:4326")[0])
    length = float(geodesic_length([geom], "EPSG:4326")[0])
    return geom, area, length


def _pack_of(result: Any, pack: Any) -> Any:
    """The rule pack of the check (given, or loaded by the name in the stamp)."""
    if pack is not None and not isinstance(pack, str):
        return pack
    stamped = (getattr(result, "stamp", None) or {}).get("pack") or {}
    name = pack or stamped.get("name")
    if not name:
        return None
    try:
        loaded = _load_pack_cached(str(name))
        if stamped.get("version") and str(loaded.version) != str(stamped["version"]):
            _load_pack_cached.cache_clear()  # the pack file changed since: read it again
            loaded = _load_pack_cached(str(name))
        return loaded
    except (PackError, OSError):  # a pack file no longer at hand: the string citations
        log.info("pack %r not loadable: citations without quotes", name)
        return None


@functools.lru_cache(maxsize=16)
def _load_pack_cached(name: str) -> Any:
    """A built-in pack by name, read once (reports of the web app's fast path)."""
    from zoning.pack import load_pack

    return load_pack(name)


def _entry_line(e: Mapping[str, Any], lang: str) -> str:
    """One access-list entry with its judgement."""
    dim = e.get("dimension") or ""
    effect = e.get("effect") or ""
    if lang == "zh":
        head = "／".join(x for x in (e.get("dimension_zh") or dim, e.get("effect_zh")) if x)
        text = e.get("text") or ""
    else:
        head = "/".join(
            x for x in (DIMENSIONS_EN.get(dim, dim), EFFECTS_EN.get(effect, effect)) if x
        )
        text = e.get("text_en") or e.get("text") or ""
    unit = e.get("unit_code")
    line = f"[{unit} {head}] {text}" if unit else f"[{head}] {text}"
    judgement = e.get("judgement")
    if judgement:
        line += f" — {pick(JUDGEMENTS.get(judgement), lang, judgement)}"
        if e.get("reason"):
            line += f"（{e['reason']}）" if lang == "zh" else f" ({e['reason']})"
    return line


def _exception_line(ex: Mapping[str, Any], lang: str) -> str:
    """An exception of a rule (a condition on the project that changes the outcome)."""
    zh = lang == "zh"
    title = str((ex.get("title") if zh else ex.get("title_en") or ex.get("title")) or "")
    req = ex.get("requirement") if zh else (ex.get("requirement_en") or ex.get("requirement"))
    outcome = ex.get("outcome")
    text = title + (f"{label('colon', lang)}{req}" if req else "")
    if outcome:
        text += f"（{pick(OUTCOMES.get(outcome), 'zh', outcome)}）" if zh else \
            f" ({pick(OUTCOMES.get(outcome), 'en', outcome)})"  # fmt: skip
    return text


def _finding_record(f: Mapping[str, Any], rule_cites: Mapping[str, Sequence[Any]]) -> dict:
    """One finding for the report: every engine field, plus resolved sources and words."""
    rec = {k: _json_safe(v) for k, v in f.items() if k != "band" and not k.startswith("_")}
    raw = rule_cites.get(str(f.get("rule_id"))) or list(f.get("citations") or ())
    sources = [cite(c) for c in raw]
    for ex in f.get("exceptions") or ():  # an exception's own citations
        for c in (ex or {}).get("citations") or ():
            sources.append(cite(c))
    rec["sources"] = sources
    rec["citations"] = [s["text"] for s in sources]
    rec["citations_en"] = [s["text_en"] for s in sources]
    outcome = str(rec.get("outcome"))
    rec["outcome_zh"], rec["outcome_en"] = OUTCOMES.get(outcome, (outcome, outcome))
    for lang in ("zh", "en"):
        title = rec.get("title") if lang == "zh" else (rec.get("title_en") or rec.get("title"))
        rec[f"situation_{lang}"] = "；".join([str(title), *_measured(rec, lang)]) if lang == "zh" \
            else "; ".join([str(title), *_measured(rec, lang)])  # fmt: skip
        rec[f"entries_{lang}"] = [_entry_line(e, lang) for e in rec.get("access_entries") or ()]
        rec[f"exceptions_{lang}"] = [
            _exception_line(ex, lang) for ex in rec.get("exceptions") or ()
        ]
    return rec


def _table_row(
    key: str,
    findings: list[dict[str, Any]],
    relations: list[dict[str, Any]],
    pack: Any,
    skipped: set[str],
) -> dict[str, Any]:
    """One row of the 三线一单 table: 类别 / 管控要求 / 项目情况 / 符合性分析 / 结论 / 依据."""
    in_section = [f for f in findings if f.get("section") == key]
    deciding = [f for f in in_section if f.get("outcome") != "information"]
    rules = [r for r in (pack.rules if pack is not None else ()) if r.section == key]
    codes = {OUTCOME_CONCLUSION.get(str(f.get("outcome")), "requirements") for f in deciding}
    if any(r.id in skipped for r in rules):
        codes.add("insufficient_data")
    if not codes:
        codes.add("compliant" if (rules or pack is None) else "not_assessed")
    conclusion = min(codes, key=_CONCLUSION_ORDER.index)
    row: dict[str, Any] = {
        "section": key,
        "label_zh": SECTIONS[key][0],
        "label_en": SECTIONS[key][1],
        "conclusion": conclusion,
        "conclusion_zh": CONCLUSIONS[conclusion][0],
        "conclusion_en": CONCLUSIONS[conclusion][1],
    }
    # 管控要求, 符合性分析 and 依据 come from the findings that decide something; the
    # information findings (distances to the nearest feature) add to 项目情况 only
    citations: list[dict[str, Any]] = []
    for f in deciding or in_section:
        for s in f["sources"]:
            if s["text"] not in [c["text"] for c in citations]:
                citations.append(s)
    if not citations:
        controls = [r for r in rules if r.outcome != "information"] or rules
        for c in (c for r in controls for c in r.citations):
            s = cite(c)
            if s["text"] not in [x["text"] for x in citations]:
                citations.append(s)
            if len(citations) == _MAX_LISTED:
                break
    kinds = list(dict.fromkeys(r.layer for r in rules if r.layer not in ("site_exit", "boundary")))
    for lang in ("zh", "en"):
        sep = "；" if lang == "zh" else "; "
        req_key = "requirement" if lang == "zh" else "requirement_en"
        if deciding:
            reqs = list(dict.fromkeys(str(f.get(req_key) or f.get("requirement") or "")
                                      for f in deciding))  # fmt: skip
            for f in deciding:
                reqs.extend(f[f"entries_{lang}"])
            analysis = []
            for f in deciding:
                title = f.get("title") if lang == "zh" else (f.get("title_en") or f.get("title"))
                outcome = f["outcome_zh"] if lang == "zh" else f["outcome_en"]
                text = f"{title}{label('colon', lang)}{outcome}"
                if f[f"exceptions_{lang}"]:
                    text += sep + label("exceptions", lang) + label("colon", lang)
                    text += sep.join(f[f"exceptions_{lang}"])
                analysis.append(text)
        else:
            controls = [r for r in rules if r.outcome != "information"]
            reqs = list(dict.fromkeys(
                str((r.requirement if lang == "zh" else r.requirement_en) or r.requirement)
                for r in controls))[:_MAX_LISTED]  # fmt: skip
            analysis = [CONCLUSIONS[conclusion][0 if lang == "zh" else 1]]
        situation = [f[f"situation_{lang}"] for f in deciding]
        situation += [f[f"situation_{lang}"] for f in in_section if f not in deciding]
        if not deciding:
            situation.insert(0, label("not_involved", lang))
            if not in_section:
                for rel in relations:
                    if rel.get("kind") in kinds and rel.get("distance_m") is not None:
                        name = _kind_label(str(rel["kind"]), lang, pack)
                        dist = _fmt_num(float(rel["distance_m"]))
                        situation.append(
                            f"距最近的{name} {dist} m" if lang == "zh"
                            else f"nearest {name.lower()}: {dist} m"
                        )  # fmt: skip
        row[f"requirements_{lang}"] = reqs or [label("no_rule", lang)]
        row[f"situation_{lang}"] = situation
        row[f"analysis_{lang}"] = analysis
    row["findings"] = row["situation_zh"]  # the one-line summaries (schema 1)
    row["citations"] = citations
    row["sources"] = [c["text"] for c in citations]
    row["sources_en"] = [c["text_en"] for c in citations]
    return row


def _collect_notes(result: Any, rows: Mapping[str, Any], extra: Iterable[Any]) -> list[dict]:
    """The check's notes for this site, then the caller's; duplicates dropped."""
    notes: list[Any] = list(rows.get("notes") or ())
    if not notes:
        make = getattr(result, "_notes", None)
        try:
            notes = list(make(rows, list(rows["findings"]))) if callable(make) else []
        except (TypeError, KeyError):  # an engine without per-site notes
            notes = []
    if not notes:
        notes = list((getattr(result, "stamp", None) or {}).get("notes") or ())
    out: list[dict[str, Any]] = []
    for n in [*notes, *extra]:
        n = _normalise_note(n)
        if n not in out:
            out.append(n)
    stamp = getattr(result, "stamp", None) or {}
    skipped = [str(r) for r in stamp.get("skipped_rules") or ()]
    if skipped and not any(n["kind"] == "missing_data" for n in out):
        out.append(
            {
                "kind": "missing_data",
                "text": label("skipped", "zh", rules="、".join(skipped)),
                "text_en": label("skipped", "en", rules=", ".join(skipped)),
            }
        )
    return out


def _project_dict(project: Any, attribute_sources: Mapping[str, Any] | None) -> dict | None:
    if project is None:
        return None
    from zoning.project import DEVELOPMENT, FLAGS, PROJECT_TYPES

    out = _json_safe({k: getattr(project, k) for k in getattr(project, "__dataclass_fields__", {})})
    ptype = project.project_type or ""
    out["project_type_zh"] = PROJECT_TYPES.get(ptype, label("unspecified", "zh"))
    out["project_type_en"] = PROJECT_TYPES_EN.get(ptype, label("unspecified", "en"))
    out["flags_zh"] = [FLAGS[f] for f in sorted(project.flags) if f in FLAGS]
    out["flags_en"] = [FLAGS_EN.get(f, f) for f in sorted(project.flags)]
    out["development_zh"] = DEVELOPMENT.get(project.development, "")
    out["development_en"] = label("dev_expansion" if project.development == "expansion"
                                  else "dev_new", "en")  # fmt: skip
    out["attribute_sources"] = _json_safe(dict(attribute_sources or {}))
    return out


def _sources_used(findings: list[dict[str, Any]], table: list[dict[str, Any]]) -> list[dict]:
    """Each cited source once, with every place it is cited (line numbers kept here)."""
    from zoning.sources import find_source

    used: dict[str, dict[str, Any]] = {}
    every = [s for f in findings for s in f["sources"]] + [c for r in table for c in r["citations"]]
    for s in every:
        key = s.get("source_id") or s.get("source")
        entry = used.get(key)
        if entry is None:
            src = find_source(s["source_id"]) if s.get("source_id") else None
            record = src.as_dict() if src else {"id": None, "title": s["title"],
                                                  "title_en": s["title_en"]}  # fmt: skip
            entry = used[key] = {**record, "places": []}
        place = {k: s.get(k) for k in ("line", "article", "section", "quote")}
        if place not in entry["places"]:
            entry["places"].append(place)
    return list(used.values())


def build_report(
    result: Any,
    *,
    site_id: Any = None,
    project: Any = None,
    title: str | None = None,
    pack: Any = None,
    notes: Iterable[Any] = (),
    lang: str = "zh",
    attribute_sources: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the report dict for one site of a check result.

    Parameters
    ----------
    result
        A :class:`zoning.check.result.CheckResult` (``sites``, ``findings``, ``relations``,
        ``stamp``).
    site_id
        Which site; default the first (single-site checks).
    project
        The :class:`zoning.project.Project` checked, recorded in the report.
    title
        Report title; default 建设项目三线一单符合性分析 (or its English form).
    pack
        The :class:`zoning.pack.Pack` checked (or its name); default the pack named in
        the result's stamp. Gives the quoted sentence of each citation and the rules
        of each column of the 三线一单 table.
    notes
        More notes (``{"kind", "text", "text_en"}`` or strings) besides the check's own.
    lang
        The document language, "zh" (default) or "en" (the dict holds both).
    attribute_sources
        Where each project attribute came from (field → description), as
        :func:`zoning.report.project.project_from_input` gives it.

    Returns
    -------
    dict
        JSON-safe report, schema ``ecozone.report/1`` (``docs/report-schema.md``).

    Raises
    ------
    InputFormatError
        If ``site_id`` is not in the result.
    ValueError
        ``lang`` is neither "zh" nor "en".
    """
    check_lang(lang)
    site_id, rows = _site_rows(result, site_id)
    geom = rows["geometry"]
    geom_ll, area, length = _measure(geom, rows["crs"])
    centroid = geom_ll.centroid
    pack_obj = _pack_of(result, pack)
    rule_cites = {r.id: list(r.citations) for r in pack_obj.rules} if pack_obj else {}
    findings = [_finding_record(f, rule_cites) for f in rows["findings"]]
    relations = [
        {
            **{k: _json_safe(v) for k, v in r.items()},
            "relation_zh": RELATIONS.get(str(r.get("relation")), (str(r.get("relation")),))[0],
        }
        for r in rows["relations"]
    ]
    stamp = _json_safe(result.stamp)
    skipped = {str(r) for r in stamp.get("skipped_rules") or ()}
    table = [_table_row(k, findings, relations, pack_obj, skipped) for k in SECTIONS]
    verdict = str(rows["verdict"])
    return {
        "schema": SCHEMA,
        "lang": lang,
        "title": title or label("title", lang),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stamp": stamp,
        "project": _project_dict(project, attribute_sources),
        "site": {
            "site_id": _json_safe(site_id),
            "source_row": _json_safe(rows.get("source_row")),
            "geometry_type": geom.geom_type,
            "geometry": _json_safe(json.loads(json.dumps(geom_ll.__geo_interface__))),
            "area_m2": area,
            "length_m": length,
            "centroid_lonlat": [round(centroid.x, 7), round(centroid.y, 7)],
        },
        "verdict": {
            "code": verdict,
            "label_zh": VERDICTS.get(verdict, (verdict, verdict))[0],
            "label_en": VERDICTS.get(verdict, (verdict, verdict))[1],
            "deciding_rules": [r for r in str(rows["deciding_rules"] or "").split(";") if r],
        },
        "sanxian_table": table,
        "findings": findings,
        "relations": relations,
        "notes": _collect_notes(result, rows, notes),
        "sources": _sources_used(findings, table),
    }


def render_html(report: Mapping[str, Any], **kwargs: Any) -> str:
    """Render the report as one self-contained HTML page (see :mod:`zoning.report.html`)."""
    from zoning.report.html import render_html as _render

    return _render(report, **kwargs)


def write_docx(report: Mapping[str, Any], path: Path, **kwargs: Any) -> Path:
    """Write the report as DOCX (see :func:`zoning.report.docx.write_docx`)."""
    from zoning.report.docx import write_docx as _write

    return _write(report, path, **kwargs)


def write_reports(
    report: Mapping[str, Any],
    outdir: str | Path,
    *,
    formats: Iterable[str] = ("json", "html", "docx", "pdf"),
    map_png: bytes | None = None,
    lang: str | None = None,
    map_page: str = "a4",
) -> dict[str, Path]:
    """Write the report in each format to ``outdir``.

    Parameters
    ----------
    report
        A dict from :func:`build_report`.
    outdir
        Folder, created when missing.
    formats
        Any of "json", "html", "docx", "pdf". PDF is skipped (and logged) when no
        engine is available.
    map_png
        Site map PNG to embed in HTML, DOCX and PDF.
    lang
        Document language, "zh" or "en"; default the report's ``lang``.
    map_page
        "a4" (default) or "a3": the map on its own A3 landscape page (DOCX, PDF).

    Returns
    -------
    dict
        Format → written path.
    """
    from zoning.report.pdf import pdf_font_css

    lang = check_lang(lang or str(report.get("lang") or "zh"))
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    formats = set(formats)
    written: dict[str, Path] = {}
    if "json" in formats:
        path = outdir / "report.json"
        _atomic_write_bytes(path, json.dumps(report, ensure_ascii=False, indent=2).encode())
        written["json"] = path
    if "html" in formats:
        path = outdir / "report.html"
        html = render_html(report, map_png=map_png, lang=lang, map_page=map_page)
        _atomic_write_bytes(path, html.encode("utf-8"))
        written["html"] = path
    if "docx" in formats:
        written["docx"] = write_docx(
            report, outdir / "report.docx", map_png=map_png, lang=lang, map_page=map_page
        )
    if "pdf" in formats:
        if find_pdf_engine() is None:
            log.warning("no PDF engine (chromium): report.pdf not written")
        else:
            plain = render_html(report, map_png=map_png, lang=lang, map_page=map_page)
            html = render_html(
                report, map_png=map_png, lang=lang, map_page=map_page,
                font_css=pdf_font_css(plain),
            )  # fmt: skip
            with tempfile.TemporaryDirectory(prefix="ecozone-pdf-") as tmp:
                src = Path(tmp) / "print.html"
                src.write_text(html, encoding="utf-8")
                html_to_pdf(src, outdir / "report.pdf")
            written["pdf"] = outdir / "report.pdf"
    return written
