"""The compliance report in one language, as HTML (Jinja2, autoescaped) — and the view DOCX shares.

:func:`view` turns a report dict (:func:`zoning.report.build.build_report`) into what a
document prints in one language: the project facts, the notes, the 三线一单 table
(类别 / 管控要求 / 项目情况 / 符合性分析 / 结论 / 依据), the findings with their sources,
the spatial relations, appendix A (sources with issuer, number, date and the line
numbers cited) and appendix B (the reproducibility stamp as a small table).
:func:`render_html` renders it with ``templates/report.html``: A4 print CSS, numbered
headings, 宋体/黑体 font stacks, and optionally a link per citation (the web app's
source page).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import jinja2

from zoning.report.common import _GEOM_TYPES, SCHEMA, _kind_label, _measured, report_notes
from zoning.report.project import field_label
from zoning.report.text import CATEGORIES, LABELS, RELATIONS, check_lang, label, pick

__all__ = ["render_html", "source_places", "stamp_rows", "view"]

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("zoning", "templates"),
    autoescape=True,  # every user string (project name, feature names) is escaped
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


_env.filters["fmt"] = _fmt


def stamp_rows(report: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """The reproducibility stamp as (item, value) rows of a small table."""
    stamp = report.get("stamp") or {}
    pack = stamp.get("pack") or {}
    lineage = " → ".join(pack.get("lineage") or []) or str(pack.get("name", ""))
    rows = [
        (label("tool", lang), f"ecozone {stamp.get('ecozone_version', '')}"),
        (label("pack", lang), f"{pack.get('name', '')} {label('version', lang)} "
                              f"{pack.get('version', '')}（{lineage}）" if lang == "zh" else
                              f"{pack.get('name', '')} {label('version', lang)} "
                              f"{pack.get('version', '')} ({lineage})"),
    ]  # fmt: skip
    for kind, meta in sorted((stamp.get("layers") or {}).items()):
        name = meta.get("name", kind)
        synth = f" [{label('synthetic', lang)}]" if meta.get("synthetic") else ""
        rows.append(
            (
                f"{label('layer', lang)} {_kind_label(kind, lang)}",
                f"{name} {label('version', lang)} {meta.get('version', '')}{synth}; "
                f"{label('checksum', lang)} {meta.get('checksum', '')}",
            )
        )
    rows.append((label("input_checksum", lang), str(stamp.get("input_checksum", ""))))
    method = stamp.get("measurement")
    if method is None:  # a result stamped before the method was
        how = label("measurement_unknown", lang)
    elif f"measurement_{method}" in LABELS:
        how = label(f"measurement_{method}", lang)
    else:
        how = str(method)
    rows.append((label("measurement", lang), how))
    if stamp.get("checked_at"):
        rows.append((label("checked_at", lang), str(stamp["checked_at"])))
    rows.append((label("generated_at", lang), str(report.get("generated_at", ""))))
    return rows


def source_places(report: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    """Appendix A: each source with issuer, number, date and where it is cited (lines)."""
    out = []
    for s in report.get("sources") or ():
        places = []
        for p in s.get("places") or ():
            where = "；".join(p.get("section") or []) or (p.get("article") or "")
            if p.get("line"):
                where = (f"{label('line', lang, line=p['line'])} {where}").strip()
            places.append(where)
        out.append(
            {
                "id": s.get("id"),
                "title": f"《{s['title']}》" if lang == "zh" else s.get("title_en") or s["title"],
                "issuer": (s.get("issuer") if lang == "zh" else s.get("issuer_en")) or "—",
                "number": s.get("number") or "—",
                "date": s.get("date") or "—",
                "file": s.get("file") or "",
                "script_note": s.get("script_note" if lang == "zh" else "script_note_en") or "",
                "places": [p for p in places if p],
            }
        )
    return out


def _title(title: str | None, lang: str) -> str:
    """The report title; the default one in the document's language."""
    if not title or title in LABELS["title"]:
        return label("title", lang)
    return title


def _unit_line(u: Mapping[str, Any], lang: str) -> str:
    """A control unit: code, name and category."""
    cat = u.get("category", "")
    head = f"{u.get('unit_code', '')} {u.get('name', '')}"
    if lang == "zh":
        return f"{head}（{u.get('category_zh') or pick(CATEGORIES.get(cat), 'zh', cat)}）"
    return f"{head} ({pick(CATEGORIES.get(cat), 'en', cat)})"


def view(report: Mapping[str, Any], lang: str | None = None) -> dict[str, Any]:
    """Everything a renderer prints, in one language (shared by HTML and DOCX)."""
    lang = check_lang(lang or str(report.get("lang") or "zh"))
    zh = lang == "zh"
    project = report.get("project") or {}
    site = report["site"]
    verdict = report["verdict"]
    facts: list[tuple[str, str]] = [
        (label("project_name", lang), str(project.get("name") or "—")),
    ]
    if project:
        ptype = project.get("project_type_zh" if zh else "project_type_en") or "—"
        dev = project.get("development_zh" if zh else "development_en") or ""
        facts.append(
            (label("project_type", lang), f"{ptype}（{dev}）" if zh else f"{ptype} ({dev})")
        )
        if project.get("industry_code"):
            facts.append((label("industry_code", lang), str(project["industry_code"])))
        flags = project.get("flags_zh" if zh else "flags_en") or []
        if flags:
            facts.append((label("flags", lang), ("、" if zh else ", ").join(flags)))
    lon, lat = site["centroid_lonlat"]
    gtype = pick(_GEOM_TYPES.get(str(site["geometry_type"])), lang, str(site["geometry_type"]))
    where = f"{gtype}；{label('centre', lang)} {lon:.6f}, {lat:.6f}（{label('crs_lonlat', lang)}）"
    if not zh:
        where = (
            f"{gtype}; {label('centre', lang)} {lon:.6f}, {lat:.6f} ({label('crs_lonlat', lang)})"
        )
    if site.get("area_m2"):
        where += f"{label('sep', lang)}{label('area', lang)} {_fmt(site['area_m2'])} m²"
    if site.get("length_m") and not site.get("area_m2"):
        where += f"{label('sep', lang)}{label('length', lang)} {_fmt(site['length_m'])} m"
    facts.append((label("site", lang), where))
    facts.append((label("verdict", lang), verdict["label_zh" if zh else "label_en"]))
    if verdict.get("deciding_rules"):
        facts.append((label("deciding", lang), ", ".join(verdict["deciding_rules"])))
    table = [
        {
            "code": r["section"],
            "label": r["label_zh" if zh else "label_en"],
            "requirements": r.get(f"requirements_{lang}") or [],
            "situation": r.get(f"situation_{lang}") or r.get("findings") or [],
            "analysis": r.get(f"analysis_{lang}") or [],
            "conclusion": r["conclusion"],
            "conclusion_label": r["conclusion_zh" if zh else "conclusion_en"],
            "sources": r.get("sources" if zh else "sources_en") or r.get("sources") or [],
            "citations": r.get("citations") or [],
        }
        for r in report["sanxian_table"]
    ]
    findings = []
    for f in report["findings"]:
        findings.append(
            {
                "rule_id": f.get("rule_id"),
                "outcome": f.get("outcome"),
                "title": f.get("title") if zh else (f.get("title_en") or f.get("title")),
                "outcome_label": f.get("outcome_zh") if zh else f.get("outcome_en"),
                "requirement": f.get("requirement") if zh
                else (f.get("requirement_en") or f.get("requirement")),
                "measured": _measured(f, lang),
                "features": f.get("feature_ids") or [],
                "units": [_unit_line(u, lang) for u in f.get("units") or ()],
                "entries": f.get(f"entries_{lang}") or [],
                "exceptions": f.get(f"exceptions_{lang}") or [],
                "citations": f.get("sources") or [],
                "citation_texts": f.get("citations" if zh else "citations_en") or [],
            }
        )  # fmt: skip
    relations = [
        {
            "kind": _kind_label(str(r.get("kind")), lang),
            "feature": r.get("feature_name") or r.get("feature_id") or "—",
            "relation": pick(RELATIONS.get(str(r.get("relation"))), lang, str(r.get("relation"))),
            "distance_m": r.get("distance_m"),
            "overlap_m2": r.get("overlap_m2"),
        }
        for r in report.get("relations") or ()
    ]
    screening = [
        {
            "radius_m": r.get("radius_m"),
            "kind": _kind_label(str(r.get("kind")), lang),
            "feature": r.get("label") or r.get("feature_id") or "—",
            "distance_m": r.get("distance_m"),
            "direction": r.get("direction_zh" if zh else "direction_en") or "",
        }
        for r in report.get("screening") or ()
    ]
    sources_of = project.get("attribute_sources") or {}
    attr_lines = []
    for fld, src in sources_of.items():
        name = field_label(fld, lang)
        if isinstance(src, Mapping) and src.get("column"):
            attr_lines.append(
                f"{name}{label('colon', lang)}{label('from_input', lang, column=src['column'])}"
            )
        elif isinstance(src, Mapping) and src.get("option"):
            attr_lines.append(
                f"{name}{label('colon', lang)}{label('from_option', lang, option=src['option'])}"
            )
    return {
        "lang": lang,
        "L": lambda key, **kw: label(key, lang, **kw),
        "title": _title(report.get("title"), lang),
        "facts": facts,
        "verdict_code": verdict["code"],
        "verdict_label": verdict["label_zh" if zh else "label_en"],
        "table": table,
        "findings": findings,
        "relations": relations,
        "screening": screening,
        "notes": report_notes(report, lang),
        "sources": source_places(report, lang),
        "stamp": stamp_rows(report, lang),
        "attr_lines": attr_lines,
        "generated_at": report.get("generated_at", ""),
        "schema": report.get("schema", SCHEMA),
    }


def render_html(
    report: Mapping[str, Any],
    *,
    map_png: bytes | None = None,
    lang: str | None = None,
    source_link: Any = None,
    font_css: str = "",
    map_page: str = "a4",
) -> str:
    """Render the report as one self-contained HTML page in one language.

    Parameters
    ----------
    report
        A dict from :func:`build_report`.
    map_png
        The site map as PNG bytes, embedded as a ``data:`` URI.
    lang
        "zh" or "en"; default the report's ``lang``.
    source_link
        Optional callable ``(citation dict) -> str | None`` giving a link for each
        citation (the web app's source page); default no links.
    font_css
        Extra ``@font-face`` CSS (the PDF printer embeds its fonts this way).
    map_page
        "a4" (default) or "a3" (the map on its own A3 landscape page when printed).

    Returns
    -------
    str
        HTML with no external URL (unless ``source_link`` makes some).
    """
    map_uri = None
    if map_png:
        map_uri = "data:image/png;base64," + base64.b64encode(map_png).decode("ascii")
    v = view(report, lang)
    return _env.get_template("report.html").render(
        v=v,
        map_uri=map_uri,
        link=source_link or (lambda c: None),
        font_css=font_css,
        map_page=map_page,
    )
