"""Compliance reports (三线一单符合性分析) from a site check: JSON, HTML, DOCX, PDF.

:func:`build_report` turns one site of a :class:`zoning.result.CheckResult` into a plain,
JSON-safe dict (schema ``ecozone.report/1``, documented in ``docs/report-schema.md``).
:func:`write_reports` renders that dict as

- ``report.json`` — everything, machine-readable;
- ``report.html`` — one self-contained page (no external URL), Chinese headings,
  the 三线一单 table, every finding with its citation, and the site map when given;
- ``report.docx`` — the same table and findings for Word/WPS (East Asian font set);
- ``report.pdf`` — when a PDF engine is available (headless Chromium or WeasyPrint).

Every report stamps the ecozone version, the pack, each layer's name, version and
checksum, and a checksum of the input, so the verdict can be reproduced later.
The map is drawn by ``maps`` and passed in as PNG bytes: zoning does not import maps.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from geo.errors import InputFormatError

log = logging.getLogger(__name__)

SCHEMA = "ecozone.report/1"

_UMASK = os.umask(0)
os.umask(_UMASK)

#: The four columns of the 三线一单 table, in the order EIA reports use.
SECTIONS: dict[str, tuple[str, str]] = {
    "redline": ("生态保护红线", "Ecological protection red line"),
    "quality_floor": ("环境质量底线", "Environmental quality bottom line"),
    "resource_cap": ("资源利用上线", "Resource-use ceiling"),
    "access_list": ("生态环境准入清单", "Ecological-environment access list"),
}

OUTCOMES: dict[str, tuple[str, str]] = {
    "prohibited": ("禁止", "prohibited"),
    "restricted": ("限制（需论证）", "restricted: needs demonstration"),
    "requirements": ("须落实管控要求", "requirements apply"),
    "information": ("信息", "information"),
}

VERDICTS: dict[str, tuple[str, str]] = {
    "prohibited": ("不符合（禁止类）", "not compliant (prohibited)"),
    "restricted": ("需论证", "needs demonstration (restricted)"),
    "requirements": ("符合（须落实管控要求）", "compliant, requirements apply"),
    "compliant": ("符合", "compliant"),
}

#: Section conclusion as EIA reports phrase it: 符合 / 不符合 / 需论证.
CONCLUSIONS: dict[str, tuple[str, str]] = {
    "noncompliant": ("不符合", "not compliant"),
    "needs_demonstration": ("需论证", "needs demonstration"),
    "compliant": ("符合", "compliant"),
}

RELATIONS_ZH = {
    "inside": "位于其内",
    "overlaps": "部分重叠",
    "within_distance": "在距离范围内",
    "outside": "位于其外",
}


def _json_safe(value: Any) -> Any:
    """Convert numpy/pandas values into plain JSON types (NaN → None)."""
    t = type(value)  # the plain types first: reports convert thousands of values
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        return value if math.isfinite(value) else None
    if t is dict:
        return {str(k): _json_safe(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [_json_safe(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
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
    return str(value)


def _section_conclusion(outcomes: Iterable[str]) -> str:
    outcomes = set(outcomes)
    if "prohibited" in outcomes:
        return "noncompliant"
    if "restricted" in outcomes:
        return "needs_demonstration"
    return "compliant"


def _finding_summary(f: Mapping[str, Any]) -> str:
    """One line of the 三线一单 table: the rule's title and the measured figures."""
    parts = [str(f.get("title") or f.get("rule_id"))]
    if f.get("overlap_m2") is not None and (f.get("overlap_m2") or 0) > 0:
        pct = f.get("overlap_pct")
        pct_text = f"，占场址 {pct:.2f}%" if pct is not None else ""
        parts.append(f"重叠 {f['overlap_m2']:,.1f} m²{pct_text}")
    elif f.get("distance_m") is not None:
        parts.append(f"距离 {f['distance_m']:,.1f} m")
    parts.append(OUTCOMES.get(str(f.get("outcome")), (str(f.get("outcome")), ""))[0])
    return "：".join(parts[:1]) + ("（" + "；".join(parts[1:]) + "）" if len(parts) > 1 else "")


_REPORT_FINDING_KEYS = (
    "rule_id", "outcome", "section", "title", "requirement", "requirement_en", "citations",
    "feature_ids", "distance_m", "overlap_m2", "overlap_pct", "access_entries",
)  # fmt: skip
_REPORT_RELATION_KEYS = (
    "kind", "feature_id", "feature_name", "relation", "overlap_m2", "overlap_pct", "distance_m",
)  # fmt: skip


def _site_rows(result: Any, site_id: Any) -> tuple[Any, dict[str, Any]]:
    """The site's id and rows (:meth:`zoning.result.CheckResult._site_rows`).

    A :class:`~zoning.result.CheckResult` answers itself (a single-site check from its
    arrays, without building frames); any other object with ``sites`` / ``findings``
    / ``relations`` frames is read the same way from the frames.
    """
    from zoning.result import _rows_from_frames

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
        rows = _rows_from_frames(sites, result.relations, result.findings, site_id)
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


def build_report(
    result: Any,
    *,
    site_id: Any = None,
    project: Any = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Build the report dict for one site of a check result.

    Parameters
    ----------
    result
        A :class:`zoning.result.CheckResult` (``sites``, ``findings``, ``relations``,
        ``stamp``).
    site_id
        Which site; default the first (single-site checks).
    project
        The :class:`zoning.project.Project` checked, recorded in the report.
    title
        Report title; default "建设项目三线一单符合性分析".

    Returns
    -------
    dict
        JSON-safe report, schema ``ecozone.report/1``.

    Raises
    ------
    InputFormatError
        If ``site_id`` is not in the result.
    """
    site_id, rows = _site_rows(result, site_id)
    geom = rows["geometry"]
    geom_ll, area, length = _measure(geom, rows["crs"])
    centroid = geom_ll.centroid

    finding_records = []
    for f in rows["findings"]:
        rec = {key: _json_safe(f.get(key)) for key in _REPORT_FINDING_KEYS}
        rec["outcome_zh"], rec["outcome_en"] = OUTCOMES.get(rec["outcome"], (rec["outcome"], ""))
        finding_records.append(rec)

    table = []
    for key, (label_zh, label_en) in SECTIONS.items():
        in_section = [f for f in finding_records if f.get("section") == key]
        deciding = [f for f in in_section if f["outcome"] != "information"]
        conclusion = _section_conclusion(f["outcome"] for f in deciding)
        sources: list[str] = []
        for f in in_section:
            for c in f.get("citations") or []:
                if c not in sources:
                    sources.append(c)
        table.append(
            {
                "section": key,
                "label_zh": label_zh,
                "label_en": label_en,
                "findings": [_finding_summary(f) for f in in_section] or ["未涉及相关管控要求"],
                "conclusion": conclusion,
                "conclusion_zh": CONCLUSIONS[conclusion][0],
                "conclusion_en": CONCLUSIONS[conclusion][1],
                "sources": sources,
            }
        )

    verdict = str(rows["verdict"])
    deciding_rules = [r for r in str(rows["deciding_rules"] or "").split(";") if r]
    project_dict = None
    if project is not None:
        from zoning.project import DEVELOPMENT, FLAGS, PROJECT_TYPES

        project_dict = _json_safe(
            {k: getattr(project, k) for k in getattr(project, "__dataclass_fields__", {})}
        )
        project_dict["project_type_zh"] = PROJECT_TYPES.get(project.project_type or "", "未指定")
        project_dict["flags_zh"] = [FLAGS[f] for f in sorted(project.flags) if f in FLAGS]
        project_dict["development_zh"] = DEVELOPMENT.get(project.development, "")
    return {
        "schema": SCHEMA,
        "title": title or "建设项目三线一单符合性分析",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stamp": _json_safe(result.stamp),
        "project": project_dict,
        "site": {
            "site_id": _json_safe(site_id),
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
            "deciding_rules": deciding_rules,
        },
        "sanxian_table": table,
        "findings": finding_records,
        "relations": [
            {
                **{k: _json_safe(r.get(k)) for k in _REPORT_RELATION_KEYS},
                "relation_zh": RELATIONS_ZH.get(str(r.get("relation")), str(r.get("relation"))),
            }
            for r in rows["relations"]
        ],
    }


# --- rendering -------------------------------------------------------------------------

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("zoning", "templates"),
    autoescape=True,  # every user string (project name, feature names) is escaped
    undefined=jinja2.StrictUndefined,
)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


_env.filters["fmt"] = _fmt


def render_html(report: Mapping[str, Any], *, map_png: bytes | None = None) -> str:
    """Render the report as one self-contained HTML page.

    Parameters
    ----------
    report
        A dict from :func:`build_report`.
    map_png
        The site map as PNG bytes, embedded as a ``data:`` URI.

    Returns
    -------
    str
        HTML with no external URL.
    """
    map_uri = None
    if map_png:
        map_uri = "data:image/png;base64," + base64.b64encode(map_png).decode("ascii")
    return _env.get_template("report.html").render(r=report, map_uri=map_uri)


def _set_east_asian_font(run_or_style: Any, name: str = "SimSun") -> None:
    """Word picks CJK glyphs from the eastAsia font attribute, not the ASCII one."""
    from docx.oxml.ns import qn

    element = run_or_style.element if hasattr(run_or_style, "element") else run_or_style._element
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def write_docx(report: Mapping[str, Any], path: Path, *, map_png: bytes | None = None) -> Path:
    """Write the report as a Word document (python-docx) that opens in Word and WPS.

    Parameters
    ----------
    report
        A dict from :func:`build_report`.
    path
        Output ``.docx`` path.
    map_png
        Optional site map inserted after the summary.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import io

    from docx import Document
    from docx.shared import Cm, Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "SimSun"
    normal.font.size = Pt(10.5)
    _set_east_asian_font(normal, "SimSun")
    for style_name in ("Heading 1", "Heading 2", "Title"):
        _set_east_asian_font(doc.styles[style_name], "SimHei")

    doc.add_heading(report["title"], level=1)
    project = report.get("project") or {}
    verdict = report["verdict"]
    summary = doc.add_paragraph()
    summary.add_run("项目名称：").bold = True
    summary.add_run(str(project.get("name") or "—"))
    if project:
        summary.add_run("\n项目类型：").bold = True
        summary.add_run(
            f"{project.get('project_type_zh', '')}（{project.get('development_zh', '')}）"
        )
    summary.add_run("\n结论：").bold = True
    summary.add_run(f"{verdict['label_zh']}（{verdict['label_en']}）")
    site = report["site"]
    summary.add_run("\n场址：").bold = True
    summary.add_run(
        f"{site['geometry_type']}，中心 {site['centroid_lonlat'][0]:.6f}, "
        f"{site['centroid_lonlat'][1]:.6f}（WGS84/CGCS2000），面积 {site['area_m2']:,.1f} m²"
    )
    if map_png:
        doc.add_picture(io.BytesIO(map_png), width=Cm(15))

    doc.add_heading("三线一单符合性分析", level=2)
    table = doc.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("类别", "分析内容", "结论", "依据"), strict=True):
        cell.text = text
        cell.paragraphs[0].runs[0].bold = True
    for row in report["sanxian_table"]:
        cells = table.add_row().cells
        cells[0].text = row["label_zh"]
        cells[1].text = "\n".join(row["findings"])
        cells[2].text = row["conclusion_zh"]
        cells[3].text = "\n".join(row["sources"]) or "—"

    doc.add_heading("管控要求与依据", level=2)
    for f in report["findings"]:
        p = doc.add_paragraph(style="List Number")
        p.add_run(f"{f['title']}（{f['outcome_zh']}）").bold = True
        p.add_run(f"\n{f['requirement']}")
        if f.get("requirement_en"):
            p.add_run(f"\n{f['requirement_en']}").italic = True
        if f.get("citations"):
            p.add_run("\n依据：" + "；".join(f["citations"]))
        for entry in f.get("access_entries") or []:
            p.add_run(
                f"\n· [{entry.get('dimension_zh', entry.get('dimension'))}] {entry.get('text')}"
            )

    doc.add_heading("可复核信息", level=2)
    stamp = report["stamp"]
    doc.add_paragraph(json.dumps(stamp, ensure_ascii=False, indent=1))
    for p in doc.paragraphs:
        for run in p.runs:
            _set_east_asian_font(run)
    _atomic_write_bytes(path, _docx_bytes(doc))
    return path


def _docx_bytes(doc: Any) -> bytes:
    import io

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename: no half-written report."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; reports are for sharing
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def find_pdf_engine() -> str | None:
    """Name the PDF engine available here: "chromium", "weasyprint" or None."""
    if _chromium_path():
        return "chromium"
    try:
        import weasyprint  # noqa: F401
    except Exception:
        return None
    return "weasyprint"


def _chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 120) -> Path:
    """Print an HTML file to PDF with headless Chromium (or WeasyPrint).

    Raises
    ------
    RuntimeError
        If no PDF engine is installed (``apt-get install chromium``) or printing fails.
    """
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    chromium = _chromium_path()
    if chromium:
        with tempfile.TemporaryDirectory() as profile:
            cmd = [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf_path}",
                html_path.as_uri(),
            ]
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not pdf_path.exists():
            msg = f"Chromium could not print {html_path} to PDF: {proc.stderr.decode()[-500:]}"
            raise RuntimeError(msg)
        return pdf_path
    try:
        import weasyprint
    except Exception as exc:
        msg = "no PDF engine: install Debian 'chromium' or 'pip install weasyprint'"
        raise RuntimeError(msg) from exc
    weasyprint.HTML(filename=str(html_path)).write_pdf(str(pdf_path))
    return pdf_path


def write_reports(
    report: Mapping[str, Any],
    outdir: str | Path,
    *,
    formats: Iterable[str] = ("json", "html", "docx", "pdf"),
    map_png: bytes | None = None,
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
        engine is available; it needs the HTML.
    map_png
        Site map PNG to embed in HTML and DOCX.

    Returns
    -------
    dict
        Format → written path.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    formats = set(formats)
    written: dict[str, Path] = {}
    if "json" in formats:
        path = outdir / "report.json"
        _atomic_write_bytes(path, json.dumps(report, ensure_ascii=False, indent=2).encode())
        written["json"] = path
    if formats & {"html", "pdf"}:
        path = outdir / "report.html"
        _atomic_write_bytes(path, render_html(report, map_png=map_png).encode("utf-8"))
        written["html"] = path
    if "docx" in formats:
        written["docx"] = write_docx(report, outdir / "report.docx", map_png=map_png)
    if "pdf" in formats:
        if find_pdf_engine() is None:
            log.warning("no PDF engine (chromium or weasyprint): report.pdf not written")
        else:
            html_to_pdf(written["html"], outdir / "report.pdf")
            written["pdf"] = outdir / "report.pdf"  # as the others (the engine needs it absolute)
    return written
