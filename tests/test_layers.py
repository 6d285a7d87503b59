"""Import layers run one way, with no cycles, and Prefect stays out of the library.

The whole import graph is walked with :mod:`ast`, imports inside functions included (they run as
surely as top-level ones, only later), as MNE's ``test_import_nesting`` does. Each module of
``neurofeedback`` belongs to a layer (:data:`LAYERS`); a module may import its own layer or the
layers below it, never above. ``pipelines/`` (Prefect flows) sits above the library and below the
command line, which is the only library-side place that starts flows.

Adding a module: put its name in :data:`LAYERS` (the test fails for an unplaced module, so every
new room is placed deliberately).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("neurofeedback", "pipelines")

#: Bottom to top. The unit of a module is its first name under ``neurofeedback`` (``io`` for
#: ``neurofeedback.io.openbci``); ``pipelines`` is one unit.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "_validate", "_logging", "_csv", "_multitest"),
    ("config", "boards", "home"),
    ("quality", "spectral", "periodic", "ocular", "muscle"),
    ("io",),
    ("provenance", "reference", "preprocessing", "blocks", "features", "metrics"),
    ("process",),
    ("simulate",),
    ("acquisition",),
    ("feedback",),
    ("store", "trends", "cohort"),
    ("statements", "event_change"),
    ("recording",),
    ("report",),
    ("pipelines",),
    ("cli", "__main__"),
)
#: Outside libraries only the top layers may import.
ORCHESTRATION = ("prefect", "prefect_dask", "dask", "distributed")


# ---------------------------------------------------------------------------------------------
# the graph


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, set[tuple[str, int]]]:
    """``{module: {(imported module, line), ...}}`` over every import statement, nested or not.

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module of the
    tree, else of ``pkg``. Third-party imports are kept by their full dotted name.
    """
    files = {module_name(p, root): p for pkg in packages for p in (root / pkg).rglob("*.py")}
    graph: dict[str, set[tuple[str, int]]] = {}
    for mod, path in files.items():
        edges = graph.setdefault(mod, set())
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                edges.update((a.name, node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, is_package, node)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    edges.add((sub if sub in files else target, node.lineno))
    return graph


def unit(module: str) -> str | None:
    """The layer unit of one of our modules (``None`` for third-party modules)."""
    parts = module.split(".")
    if parts[0] == "pipelines":
        return "pipelines"
    if parts[0] != "neurofeedback":
        return None
    return parts[1] if len(parts) > 1 else ""  # "" = the package root (public API, lazy)


def rank_of(layers=LAYERS) -> dict[str, int]:
    return {name: i for i, layer in enumerate(layers) for name in layer}


# ---------------------------------------------------------------------------------------------
# the rules (functions, so the test below can prove each one fails when it should)


def unplaced_modules(graph, layers=LAYERS) -> list[str]:
    ranks = rank_of(layers)
    return sorted(m for m in graph if unit(m) not in ranks and unit(m) != "")


def upward_edges(graph, layers=LAYERS) -> list[str]:
    """Imports of a higher layer, and of orchestration libraries below ``pipelines``."""
    ranks = rank_of(layers)
    top = ranks["pipelines"]
    bad = []
    for mod, edges in sorted(graph.items()):
        src = ranks.get(unit(mod), 0)  # the package root is the public API: layer 0 for its own imports
        for target, line in sorted(edges):
            dst_unit = unit(target)
            if dst_unit is None:
                if target.split(".")[0] in ORCHESTRATION and src < top:
                    bad.append(f"{mod}:{line} imports {target} (orchestration below pipelines/)")
                continue
            if dst_unit == "":
                continue  # `from neurofeedback import __version__`: the root is lazy, no edge
            if ranks.get(dst_unit, -1) > src:
                bad.append(f"{mod}:{line} imports {target} ({unit(mod) or 'root'} is below "
                           f"{dst_unit})")
    return bad


def cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module among our own modules (Tarjan)."""
    ours = {m: sorted({t for t, _ in e if t in graph and t != m}) for m, e in graph.items()}
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]

    def visit(v):  # recursion depth is bounded by the module count (~100)
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in ours[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(ours):
        if v not in index:
            visit(v)
    return found


def reaches(graph, start: str, targets=("pipelines",) + ORCHESTRATION) -> list[str]:
    """A path of imports from ``start`` to pipelines/Prefect, or ``[]``."""
    prev, todo = {start: None}, [start]
    while todo:
        v = todo.pop()
        for t, _ in sorted(graph.get(v, ())):
            if t.split(".")[0] in targets:
                path = [t, v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return path[::-1]
            if t in graph and t not in prev:
                prev[t] = v
                todo.append(t)
    return []


# ---------------------------------------------------------------------------------------------
# the tests


@pytest.fixture(scope="module")
def graph():
    g = import_graph()
    assert len([m for m in g if m.startswith("neurofeedback.")]) > 40  # the walk saw the library
    return g


def test_every_module_is_placed_in_a_layer(graph):
    bad = unplaced_modules(graph)
    assert not bad, "add these to LAYERS in tests/test_layers.py: " + ", ".join(bad)


def test_no_upward_imports(graph):
    bad = upward_edges(graph)
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_import_cycles(graph):
    bad = cycles(graph)
    assert not bad, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in bad)


def test_library_never_reaches_prefect_or_pipelines(graph):
    """Only the command line may start flows; everything else never imports them, even lazily."""
    paths = {m: reaches(graph, m) for m in graph
             if m.startswith("neurofeedback") and unit(m) not in ("cli", "__main__")}
    bad = [" -> ".join(p) for p in paths.values() if p]
    assert not bad, "Prefect/pipelines reachable from the library:\n" + "\n".join(bad)
    # and the cli does reach them: the walk follows function-level imports
    assert reaches(graph, "neurofeedback.cli") or any(
        reaches(graph, m) for m in graph if unit(m) == "cli")


def test_pipelines_never_import_the_cli(graph):
    assert not [f"{m} -> {t}" for m, e in graph.items() if unit(m) == "pipelines"
                for t, _ in e if unit(t) in ("cli", "__main__")]


# the checks themselves must be able to fail ---------------------------------------------------


def _tree(tmp_path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_checks_catch_an_upward_import_inside_a_function(tmp_path):
    root = _tree(tmp_path, {
        "neurofeedback/__init__.py": "",
        "neurofeedback/errors.py": "",
        "neurofeedback/io/__init__.py": "",
        "neurofeedback/io/reader.py": "from ..errors import x\n\ndef f():\n    from ..store import Catalog\n",
        "neurofeedback/store/__init__.py": "from ..io.reader import f\n",
        "pipelines/__init__.py": "import prefect\n",
    })
    g = import_graph(root)
    assert upward_edges(g) == [
        "neurofeedback.io.reader:4 imports neurofeedback.store (io is below store)"]
    assert cycles(g) == [["neurofeedback.io.reader", "neurofeedback.store"]]


def test_checks_catch_prefect_reached_through_a_chain(tmp_path):
    root = _tree(tmp_path, {
        "neurofeedback/__init__.py": "",
        "neurofeedback/report/__init__.py": "def f():\n    import pipelines.flows\n",
        "neurofeedback/trends.py": "from .report import f\n",
        "pipelines/__init__.py": "",
        "pipelines/flows.py": "from prefect import flow\n",
    })
    g = import_graph(root)
    assert reaches(g, "neurofeedback.trends") == ["neurofeedback.trends", "neurofeedback.report",
                                                  "pipelines.flows"]
    assert any("imports pipelines.flows" in e for e in upward_edges(g))


def test_checks_catch_an_unplaced_module(tmp_path):
    root = _tree(tmp_path, {"neurofeedback/__init__.py": "", "neurofeedback/newroom.py": ""})
    assert unplaced_modules(import_graph(root)) == ["neurofeedback.newroom"]
