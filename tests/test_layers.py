"""Import layers: the library never imports Prefect (orchestration stays in pipelines/)."""

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "neurofeedback"


def test_library_never_imports_prefect():
    offenders = []
    for path in LIB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(LIB.parent)}:{node.lineno} {n}" for n in names
                          if n == "prefect" or n.startswith("prefect.")]
    assert not offenders, offenders
    assert len(list(LIB.rglob("*.py"))) > 5  # the walk really saw the library
