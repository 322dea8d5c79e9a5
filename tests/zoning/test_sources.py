"""Source records: titles checked against the texts, headings derived from them, citations."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from geo.errors import SourceError
from tests.conftest import SEEDS
from zoning.pack import iter_citations, list_packs, load_pack
from zoning.sources import (
    cite,
    find_source,
    format_citation,
    get_source,
    load_sources,
    source_excerpt,
    source_lines,
)

ROOT = Path(__file__).resolve().parents[2]
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason="seed texts not beside the checkout")
SEED_FILES = ["000_4634842d810f1cbf.txt", "001_1c6d450321da7557.txt", "002_735b581d06638fbb.txt",
              "003_b5f3f724744312c3.txt", "004_3cddcdd23bf796cf.txt"]  # fmt: skip


def test_every_record_is_complete():
    records = load_sources()
    assert len(records) >= 12
    for src in records.values():
        assert src.title and src.title_en and src.issuer and src.date, src.id
        assert re.match(r"^\d{4}(-\d{2}-\d{2})?$", src.date), src.id
        assert "《" not in src.title


@pytest.mark.parametrize("name", sorted(list_packs()))
def test_every_pack_citation_has_a_record(name):
    pack = load_pack(name)
    missing = {c.source for _, c in iter_citations(pack) if find_source(c.source) is None}
    assert missing == set()


def test_laws_standards_and_notices_are_records():
    assert get_source("GB/T 50563-2010").title == "城市园林绿化评价标准"
    assert get_source("GB/T 51346-2019").title == "城市绿地规划标准"
    notice = get_source("关于加强生态保护红线管理的通知(试行)(自然资发〔2022〕142号)")
    assert notice.number == "自然资发〔2022〕142号" and notice.kind == "notice"
    assert get_source("中华人民共和国水污染防治法").kind == "law"
    assert get_source("中华人民共和国长江保护法").number.endswith("第六十五号")


@needs_seeds
@pytest.mark.parametrize("file", SEED_FILES)
def test_titles_match_the_documents_own_first_lines(file):
    src = find_source(file)
    head = (SEEDS / file).read_text(encoding="utf-8").splitlines()[:30]
    assert any(src.printed in line for line in head), (src.printed, head[:5])
    # the official (simplified) title has the printed title's characters, one for one
    assert len(src.title) == len(src.printed)
    simplified = "\n".join(head).replace("發", "发").replace("號", "号")
    if src.number:
        assert src.number in simplified
    assert src.date in simplified  # the date the copy states


def test_beijing_plan_title_is_simplified():
    src = find_source("001_1c6d450321da7557.txt")
    assert src.title == "北京市“十四五”时期生态环境保护规划"
    assert src.printed == "北京市“十四五”時期生態環境保護規劃"


@needs_seeds
def test_heading_file_is_what_the_texts_give():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "source_headings.py"), str(SEEDS), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _chapter_above(file: str, line: int) -> str:
    """The nearest 一、 chapter heading above ``line``, read from the text (independent)."""
    lines = (SEEDS / file).read_text(encoding="utf-8").splitlines()
    for i in range(line - 1, -1, -1):
        if re.match(r"^\s*[一二三四五六七八九十]+、", lines[i]):
            return lines[i].strip().split("。")[0]
    raise AssertionError(f"no chapter above {file}:{line}")


@needs_seeds
@pytest.mark.parametrize(
    ("file", "line"),
    [("001_1c6d450321da7557.txt", 362), ("001_1c6d450321da7557.txt", 148),
     ("002_735b581d06638fbb.txt", 202), ("002_735b581d06638fbb.txt", 672),
     ("003_b5f3f724744312c3.txt", 34), ("004_3cddcdd23bf796cf.txt", 21)],
)  # fmt: skip
def test_section_of_a_line(file, line):
    src = find_source(file)
    heads = src.headings_at(line)
    assert heads and heads[0].level == 1
    assert heads[0].heading == _chapter_above(file, line)
    assert all(h.line <= line <= h.end for h in heads)


def test_format_citation_zh_and_en():
    c = {
        "source": "001_1c6d450321da7557.txt",
        "line": "362",
        "text": "生態控制區面積力爭達到市域面積的75%",
    }
    zh = format_citation(c, "zh")
    assert zh.startswith("《北京市“十四五”时期生态环境保护规划》五、")
    # the stored copy is traditional; the plan was issued, and is quoted, in simplified
    assert zh.endswith("：“生态控制区面积力争达到市域面积的75%”")
    assert "362" not in zh and "001_" not in zh
    assert format_citation(c, "zh", with_line=True).endswith("（第362行）")
    en = format_citation(c, "en")
    assert en.startswith("Beijing Eco-Environmental Protection Plan for the 14th Five-Year Period")
    law = {
        "source": "中华人民共和国水污染防治法",
        "article": "第六十六条 (art. 66)",
        "text": "禁止",
    }
    assert format_citation(law, "zh") == "《中华人民共和国水污染防治法》第六十六条：“禁止”"
    assert "art. 66" in format_citation(law, "en") and "第六十六条" not in format_citation(
        law, "en"
    )


def test_cite_reads_the_short_string_form():
    pack = load_pack("beijing")
    _, citation = next((o, c) for o, c in iter_citations(pack) if c.is_seed)
    from_obj, from_str = cite(citation), cite(str(citation))
    assert from_str["source_id"] == from_obj["source_id"]
    assert from_str["line"] == from_obj["line"] and from_str["section"] == from_obj["section"]
    unknown = cite({"source": "某不存在的文件", "article": "第一条"})
    assert unknown["source_id"] is None and unknown["text"].startswith("《某不存在的文件》")


@needs_seeds
def test_excerpt_marks_the_cited_line():
    got = source_excerpt("beijing-14th-eco-plan", 362, context=2)
    assert [n for n, _, _ in got] == [360, 361, 362, 363, 364]
    cited = [t for _, t, c in got if c]
    assert cited == [(SEEDS / "001_1c6d450321da7557.txt").read_text(encoding="utf-8")
                     .splitlines()[361]]  # fmt: skip
    with pytest.raises(SourceError, match="outside the text"):
        source_excerpt("beijing-14th-eco-plan", 99999)


def test_text_errors_name_the_fix(monkeypatch):
    monkeypatch.delenv("ECOZONE_SOURCES", raising=False)
    with pytest.raises(SourceError, match="ECOZONE_SOURCES"):
        source_lines("beijing-14th-eco-plan")
    with pytest.raises(SourceError, match="not its full text"):
        source_lines("water-pollution-law")
    with pytest.raises(SourceError, match="ecozone sources list"):
        get_source("no-such-source")


def test_a_traditional_copy_is_quoted_in_the_official_script():
    c = cite({"source": "001_1c6d450321da7557.txt", "line": "370", "text": "嚴守生態保護紅線"})
    assert c["script"] == "traditional"
    assert c["quote"] == "严守生态保护红线" and c["quote_stored"] == "嚴守生態保護紅線"
    assert c["section"] == ["五、提升生态系统品质和稳定性／(一)全力保护重要绿色生态空间／"
                            "3.优化调整重要生态空间"]  # fmt: skip
    assert c["section_stored"][0].startswith("五、提升生態系統品質和穩定性")
    assert "嚴" not in c["text"] and "嚴" not in c["text_en"]
    # a simplified copy's text is printed as it was quoted, character for character
    simple = cite({"source": "002_735b581d06638fbb.txt", "line": "202", "text": "乾隆 後 髮"})
    assert simple["script"] == "simplified" and simple["quote"] == "乾隆 後 髮"
    assert simple["section"] == simple["section_stored"]


def test_traditional_titles_convert_to_the_official_titles():
    """OpenCC's t2s turns every traditional copy's printed title into the official one."""
    traditional = [s for s in load_sources().values() if s.script == "traditional"]
    assert traditional
    for src in traditional:
        assert src.printed != src.title
        assert src.official(src.printed) == src.title, src.id


@needs_seeds
def test_stored_quotes_are_found_at_their_lines():
    """The stored form of each quote of a traditional copy is in the copy, at its line."""
    pack = load_pack("beijing")
    checked = 0
    for _, citation in iter_citations(pack):
        c = cite(citation)
        if c["script"] != "traditional" or not c["quote_stored"]:
            continue
        lines = (SEEDS / c["source"]).read_text(encoding="utf-8").splitlines()
        text = "".join(lines[n - 1] for n in c["lines"])
        first = c["quote_stored"].split("……")[0]
        assert first in text, (c["line"], first)
        assert c["quote"] != c["quote_stored"]
        checked += 1
    assert checked >= 5


def test_an_unknown_script_is_refused(tmp_path, monkeypatch):
    import zoning.sources as sources

    data = sources._DATA
    (tmp_path / "source_sections.toml").write_text(
        (data / "source_sections.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "sources.toml").write_text(
        '[[source]]\nid = "x"\nkind = "plan"\ntitle = "某规划"\ntitle_en = "A plan"\n'
        'script = "繁体"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(sources, "_DATA", tmp_path)
    sources.load_sources.cache_clear()
    try:
        with pytest.raises(SourceError, match="script '繁体' is not one of simplified"):
            sources.load_sources()
    finally:
        monkeypatch.undo()
        sources.load_sources.cache_clear()


@needs_seeds
@pytest.mark.parametrize("file", SEED_FILES)
def test_a_records_script_is_its_copys(file):
    """A record says traditional exactly when its stored copy is written in it."""
    import opencc

    text = (SEEDS / file).read_text(encoding="utf-8")
    simplified = opencc.OpenCC("t2s").convert(text)
    changed = sum(a != b for a, b in zip(text, simplified, strict=False))
    expected = "traditional" if changed > 0.05 * len(text) else "simplified"
    assert find_source(file).script == expected, (file, changed)
