"""The web app's source pages: a cited line shown in its text, and nothing but known sources."""

from __future__ import annotations

import httpx
import pytest

from ecozone.web.app import create_app
from ecozone.web.settings import WebSettings
from tests.conftest import SEEDS
from tests.ecozone._webdata import build_store, live_server


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    store = build_store(tmp_path_factory.mktemp("websrc") / "store.gpkg")
    app = create_app(str(store), settings=WebSettings(threads=1))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_sources_index_lists_the_records(client):
    page = client.get("/sources")
    assert page.status_code == 200
    assert "《北京市“十四五”时期生态环境保护规划》" in page.text
    assert 'href="/sources/water-pollution-law"' in page.text


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed texts not beside the checkout")
def test_source_page_marks_the_cited_line(client):
    page = client.get("/sources/beijing-14th-eco-plan", params={"line": 362})
    assert page.status_code == 200
    text = (SEEDS / "001_1c6d450321da7557.txt").read_text(encoding="utf-8").splitlines()
    cited = page.text.split('id="L362"')[1].split("</li>")[0]
    assert 'class="cited"' in cited and text[361].strip()[:20] in cited
    assert page.text.count('class="cited"') == 1
    assert "京政发〔2021〕35号" in page.text and "五、提升生態系統品質和穩定性" in page.text
    # the text as stored (traditional); its section as reports print it, and why
    section = page.text.split("所在章节</dt><dd>")[1].split("</dd>")[0]
    assert section.startswith("五、提升生态系统品质和稳定性／")
    assert "存档文本为繁体字版：引文和章节标题按简体" in page.text


def test_law_page_shows_the_record_only(client):
    page = client.get("/sources/water-pollution-law")
    assert page.status_code == 200
    assert "中华人民共和国主席令第七十号" in page.text and "不保存全文" in page.text


@pytest.mark.parametrize(
    "path",
    ["/sources/no-such-source", "/sources/..%2F..%2Fetc%2Fpasswd",
     "/sources/001_1c6d450321da7557.txt", "/sources/beijing-14th-eco-plan?line=999999"],
)  # fmt: skip
def test_only_known_ids_and_lines(client, path):
    assert client.get(path).status_code in (404, 422)


def test_report_html_links_citations(client):
    from ecozone.web.checks import source_href

    assert source_href({"source_id": "beijing-14th-eco-plan", "lines": [362]}) == (
        "/sources/beijing-14th-eco-plan?line=362#L362"
    )
    assert source_href({"source_id": None}) is None
