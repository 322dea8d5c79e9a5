"""The shape of the code: package order, no import cycles, no private names across packages.

Read statically (``ast``), without importing anything:

- the package order ``geo ← layers ← zoning ← maps ← ecozone``: no module imports a
  package to its right (anywhere in the module, function bodies included);
- no import cycle among the modules of those packages, counting the imports that run
  when a module is loaded (module level, ``if``/``try`` blocks included; imports inside
  functions and ``if TYPE_CHECKING:`` blocks excluded); and none either when imports
  inside functions count too (two modules that need each other, however late), but
  for the cycles listed in ``KNOWN_CYCLES``;
- no ``_private`` module or name imported from another package or subpackage (e.g.
  ``maps`` importing ``zoning.coverage.metrics``, or ``geo.convert`` importing
  ``geo.io._tabular``); a package may use its own private modules and names.

``ALLOWED_PRIVATE`` and ``KNOWN_CYCLES`` list the known exceptions that wait for the
engine split; they must only shrink (a listed entry that no longer exists fails too).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("geo", "layers", "zoning", "maps", "ecozone")

# (importing module, imported module, imported name or "" for the module itself).
# Each waits for files another issue is changing now (zoning/check/engine.py, relations.py,
# batch.py, _evidence.py, result.py, _sites.py); empty this list with the engine split.
ALLOWED_PRIVATE: dict[tuple[str, str, str], str] = {}

# Cycles through imports inside functions, inside zoning (sorted module names → reason).
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in ORDER:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package_of(module: str) -> str:
    """The package a module belongs to (a package's ``__init__`` belongs to itself)."""
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(module: str) -> list[tuple[str, str, int, bool]]:
    """``(imported module, name or "", line, at load time)`` for every import of a module."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = _package_of(module)
    out: list[tuple[str, str, int, bool]] = []

    def visit(node: ast.AST, load: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(ast.Module(body=[sub], type_ignores=[]), load)
            elif isinstance(child, ast.Import):
                out.extend((a.name, "", child.lineno, load) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for a in child.names:
                    sub = f"{base}.{a.name}"
                    if sub in MODULES:  # ``from pkg import module``
                        out.append((sub, "", child.lineno, load))
                    else:
                        out.append((base, a.name, child.lineno, load))
            else:
                visit(child, load)

    visit(tree, True)
    return [i for i in out if i[0].split(".")[0] in ORDER]


IMPORTS = {m: _imports(m) for m in MODULES}


def _private_part(target: str, name: str) -> str | None:
    """The owner package of the first private part of ``target[.name]``, if any."""
    parts = target.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    if name.startswith("_") and not name.startswith("__"):
        return _package_of(target) if target in MODULES else target.rpartition(".")[0]
    return None


def private_imports() -> dict[tuple[str, str, str], int]:
    """Every import of a private module or name from another package or subpackage."""
    found: dict[tuple[str, str, str], int] = {}
    for module, imports in IMPORTS.items():
        for target, name, line, _ in imports:
            owner = _private_part(target, name)
            if owner is not None and owner != _package_of(module):
                found[(module, target, name)] = line
    return found


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def import_graph(*, load_time_only: bool) -> dict[str, set[str]]:
    """Module → the modules it imports (at load time only, or anywhere)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imports in IMPORTS.items():
        edges[module]
        for target, _, _, load in imports:
            if (load or not load_time_only) and target in MODULES and target != module:
                edges[module].add(target)
    return edges


def test_the_scanner_sees_imports_cycles_and_private_names():
    """The checks below can fail: the scanner finds what they look for."""
    assert "layers.store.gpkg" in MODULES
    assert any(t == "layers.store.base" for t, *_ in IMPORTS["layers.store.gpkg"])
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _private_part("zoning.coverage._metric", "") == "zoning.coverage"
    assert _private_part("geo.crs", "_epsg") == "geo"
    assert _private_part("geo.crs", "transformer") is None


def test_packages_import_only_to_their_left():
    rank = {p: i for i, p in enumerate(ORDER)}
    bad = [
        f"{module}:{line} imports {target}"
        for module, imports in IMPORTS.items()
        for target, _, line, _ in imports
        if rank[target.split(".")[0]] > rank[module.split(".")[0]]
    ]
    assert not bad, "imports against geo ← layers ← zoning ← maps ← ecozone:\n" + "\n".join(bad)


def test_no_import_cycles():
    cycles = _cycles(import_graph(load_time_only=True))
    assert not cycles, "import cycles (module-level imports):\n" + "\n".join(
        " ↔ ".join(c) for c in cycles
    )


def test_no_import_cycles_through_function_imports():
    cycles = {tuple(c) for c in _cycles(import_graph(load_time_only=False))}
    new = sorted(cycles - set(KNOWN_CYCLES))
    assert not new, "import cycles (imports inside functions included):\n" + "\n".join(
        " ↔ ".join(c) for c in new
    )
    stale = sorted(set(KNOWN_CYCLES) - cycles)
    assert not stale, f"KNOWN_CYCLES lists cycles that are gone; remove them: {stale}"


def test_no_private_names_across_packages():
    found = private_imports()
    new = {k: v for k, v in found.items() if k not in ALLOWED_PRIVATE}
    assert not new, "private names imported from another package:\n" + "\n".join(
        f"{m}:{line} imports {t}{'.' + n if n else ''}" for (m, t, n), line in sorted(new.items())
    )
    stale = sorted(k for k in ALLOWED_PRIVATE if k not in found)
    assert not stale, f"ALLOWED_PRIVATE lists imports that are gone; remove them: {stale}"
