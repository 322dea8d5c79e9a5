"""zoning.report: site reports: build the report, render HTML / DOCX / PDF.

The public names of the modules below, imported on first use
(``from zoning.report import X`` keeps working after the modules moved here).
"""

from geo.lazy import lazy_exports

_EXPORTS = {
    "CONCLUSIONS": "zoning.report.build",
    "OUTCOMES": "zoning.report.build",
    "SCHEMA": "zoning.report.build",
    "SECTIONS": "zoning.report.build",
    "VERDICTS": "zoning.report.build",
    "build_report": "zoning.report.build",
    "find_pdf_engine": "zoning.report.build",
    "html_to_pdf": "zoning.report.build",
    "render_html": "zoning.report.build",
    "report_notes": "zoning.report.build",
    "write_reports": "zoning.report.build",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
