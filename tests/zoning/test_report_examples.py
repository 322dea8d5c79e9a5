"""The golden example reports in docs/examples/ are what the code makes today.

Each scenario of ``scripts/make_examples.py`` is checked again on a copy of the demo
dataset; its report must equal the golden ``report.json`` (times and the tool version
left out, numbers to 0.01), and its HTML and DOCX must have the golden documents'
structure (headings, table headers). When a verdict changes on purpose, run
``python scripts/make_examples.py`` and commit the examples.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document

from zoning.report.build import render_html, write_reports

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
_spec = importlib.util.spec_from_file_location(
    "make_examples", ROOT / "scripts" / "make_examples.py"
)
make_examples = importlib.util.module_from_spec(_spec)
sys.modules["make_examples"] = make_examples  # (its dataclasses look their module up)
_spec.loader.exec_module(make_examples)

pytestmark = pytest.mark.skipif(
    __import__("layers", fromlist=["x"]).embedded_dataset_path() is None,
    reason="embedded demo dataset not built (make data)",
)
FIX = "run `python scripts/make_examples.py` and commit docs/examples/ if the change is intended"


def _stable(value, key=""):
    """The report without times and tool version; numbers rounded to 0.01."""
    if isinstance(value, dict):
        drop = {"generated_at", "checked_at", "ecozone_version"}
        return {k: _stable(v, k) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, float):
        return round(value, 2)
    return value


def _html_outline(html: str) -> list[str]:
    heads = re.findall(r"<(h[1-3])[^>]*>(.*?)</\1>", html, flags=re.S)
    ths = re.findall(r"<th>(.*?)</th>", html)
    return [f"{t}:{re.sub(r'<[^>]+>', '', x).strip()}" for t, x in heads] + ths


def _docx_outline(path: Path) -> list[str]:
    doc = Document(str(path))
    heads = [
        f"{p.style.name}:{p.text}" for p in doc.paragraphs if p.style.name.startswith("Heading")
    ]
    return heads + ["|".join(c.text for c in t.rows[0].cells) for t in doc.tables]


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 6), "white").save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with make_examples.demo_store(tmp_path_factory.mktemp("examples")) as st:
        yield st


@pytest.mark.parametrize("scenario", make_examples.SCENARIOS, ids=lambda s: s.pack)
def test_example_is_current(scenario, store, tmp_path):
    golden_dir = EXAMPLES / scenario.pack
    golden = json.loads((golden_dir / "report.json").read_text(encoding="utf-8"))
    report, _, _ = make_examples.example_report(scenario, store)
    assert _stable(report) == _stable(golden), FIX
    png = _tiny_png()  # the goldens have a site map: the structure has its section
    fresh = write_reports(report, tmp_path, formats=["docx"], map_png=png)
    assert _docx_outline(fresh["docx"]) == _docx_outline(golden_dir / "report.docx"), FIX
    golden_html = (golden_dir / "report.html").read_text(encoding="utf-8")
    assert _html_outline(render_html(report, map_png=png)) == _html_outline(golden_html), FIX


@pytest.mark.parametrize("scenario", make_examples.SCENARIOS, ids=lambda s: s.pack)
def test_example_pdf_has_real_fonts(scenario):
    pdf = EXAMPLES / scenario.pack / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdffonts") is None:
        pytest.skip("poppler-utils not installed")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    assert "Type 3" not in fonts.stdout and "CID TrueType" in fonts.stdout


@pytest.mark.parametrize("scenario", make_examples.SCENARIOS, ids=lambda s: s.pack)
def test_example_docx_has_no_latin_only_sentences(scenario):
    doc = Document(str(EXAMPLES / scenario.pack / "report.docx"))
    texts = [p.text for p in doc.paragraphs]
    texts += [c.text for t in doc.tables for r in t.rows for c in r.cells]
    cjk = re.compile(r"[\u3400-\u9fff]")
    latin = re.compile(r"[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}")
    assert [t for t in texts if latin.search(t) and not cjk.search(t)] == []
