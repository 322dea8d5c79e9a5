"""Jurisdictions are data: no shipped pack name, adcode or place name in the code.

Scans the string literals of every module of geo/, layers/, zoning/, maps/ and ecozone/
(not the pack TOML files, not data, not tests). Docstrings, comments and doctest lines
are documentation and are not scanned. A jurisdiction lives in ``zoning/packs/*.toml``
and in the layers; the code reads it from there. The only allowed literals are listed in
:data:`ALLOWED` with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geo", "layers", "zoning", "maps", "ecozone")
PACK_NAMES = sorted(p.stem for p in (ROOT / "zoning" / "packs").glob("*.toml"))
#: the shipped packs the issue names (the scan also covers every other shipped pack)
NAMED = ("beijing", "tongzhou", "daxing", "jiangjin", "guangxi")
PLACES = ("北京", "通州", "大兴", "江津", "广西")
#: a 6-digit administrative code: province prefix (GB/T 2260), not inside a longer token
#: such as a colour "#525252" or a file name "001_1c6d450321da7557.txt"
ADCODE = re.compile(r"(?<![#\w])(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])\d{4}(?!\w)")

#: a source plan file (``../shared/seeds/001_1c6d450321da7557.txt``): what a plan says and
#: where (a target value, a duty and its line) is pack data, cited from the pack
PLAN_FILE = re.compile(r"(?<![\w])\d{3}_[0-9a-f]{16}\.txt")

#: (file, literal) → why it may stay
ALLOWED: dict[tuple[str, str], str] = {
    ("ecozone/web/settings.py", "beijing"): "the default_pack setting (the CLI reads it too)",
    ("layers/kinds/registry.py", "tongzhou_key_area"): (
        "legacy kind name in layer stores written before the generic key_area kind: "
        "KIND_ALIASES reads old stores"
    ),
    ("layers/kinds/registry.py", "tongzhou_strict_zone"): (
        "legacy kind name in layer stores written before the generic strict_zone kind: "
        "KIND_ALIASES reads old stores"
    ),
}


def _names_pattern(names: list[str]) -> re.Pattern[str]:
    # a pack name as a word of a literal ("tongzhou", "tongzhou.toml", "tongzhou_x");
    # lower case only: "Beijing" in English prose (the 3° Gauss-Krüger zone of Beijing)
    # is geodesy, not a pack
    alts = "|".join(re.escape(n) for n in names)
    return re.compile(rf"(?<![a-z0-9])(?:{alts})(?![a-z0-9])")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                ids.add(id(first.value))
    return ids


def _doctest_free(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(ln for ln in lines if not ln.lstrip().startswith((">>>", "...")))


def jurisdiction_literals(path: Path, names: list[str]) -> list[tuple[int, str, str]]:
    """(line, what was found, literal) for each string literal naming a jurisdiction."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docs = _docstrings(tree)
    pattern = _names_pattern(names)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in docs:
            continue
        text = _doctest_free(node.value)
        hits = [m.group(0) for m in pattern.finditer(text)]
        hits += [m.group(0) for m in ADCODE.finditer(text)]
        hits += [p for p in PLACES if p in text]
        hits += [m.group(0) for m in PLAN_FILE.finditer(text)]
        found.extend((node.lineno, hit, node.value) for hit in hits)
    return found


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """The scanner flags literals, and only literals: not docstrings, comments, doctests."""
    src = tmp_path / "m.py"
    src.write_text(
        '"""Module docstring: tongzhou 110112 北京."""\n'
        "# comment: daxing 110115\n"
        "def f(x):\n"
        '    """Doc.\n\n    >>> f("jiangjin")\n    """\n'
        '    a = "tongzhou"\n'
        "    b = {'adcode': '110112'}\n"
        '    c = f"{x} 广西壮族自治区"\n'
        '    d = "#525252 Beijing 100000 tongzhou2"\n'
        '    e = "002_735b581d06638fbb.txt 第672行"\n'
        "    return a, b, c, d, e\n",
        encoding="utf-8",
    )
    got = {(line, hit) for line, hit, _ in jurisdiction_literals(src, list(NAMED))}
    assert got == {(8, "tongzhou"), (9, "110112"), (10, "广西"), (12, "002_735b581d06638fbb.txt")}


def test_every_shipped_pack_is_scanned_for():
    assert set(NAMED) <= set(PACK_NAMES)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_jurisdiction_in_code(path):
    rel = path.relative_to(ROOT).as_posix()
    bad = [
        f"{rel}:{line}: {hit!r} in {literal[:80]!r}"
        for line, hit, literal in jurisdiction_literals(path, sorted({*PACK_NAMES, *NAMED}))
        if (rel, literal) not in ALLOWED
    ]
    assert not bad, (
        "jurisdictions are data: read the pack (zoning/packs/*.toml) or the layers instead "
        "of naming a pack, adcode or place in code:\n" + "\n".join(bad)
    )


def test_allowed_literals_are_still_there():
    """An allow-list entry whose literal is gone must be removed (the list only shrinks)."""
    for (rel, literal), _why in ALLOWED.items():
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        values = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
        assert literal in values, f"{rel}: {literal!r} is allowed but no longer used"
