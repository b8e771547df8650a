"""The package's layering: each module imports only modules below it in the pipeline order."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "anogan"
# Bottom to top: a module may import only the ones before it.
ORDER = ["errors", "artifacts", "images", "data", "domain", "models", "training", "scoring", "thresholds", "recipes",
         "inputs",
         "results", "evaluation", "pipeline", "benchmark", "ray_engine", "detector", "cli"]
ENTRY_POINTS = {"__init__", "__main__"}


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("anogan."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("anogan."))
    return found


def test_every_module_has_a_place_in_the_order():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - ENTRY_POINTS
    assert modules == set(ORDER)


def test_no_module_imports_one_above_it():
    back_edges = [
        f"{path.stem} imports {name}"
        for path in PACKAGE.glob("*.py") if path.stem not in ENTRY_POINTS
        for name in _imported_modules(path)
        if ORDER.index(name) > ORDER.index(path.stem)
    ]
    assert back_edges == []
