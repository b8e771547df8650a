"""The package's layout: stages as sub-packages in one order, no cycles, small modules and functions."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "anogan"
# Bottom to top: a module may import its own stage and the ones before it, never one after.
STAGES = ["errors", "storage", "data", "gan", "scoring", "results", "engines", "experiments", "serve", "detector",
          "cli"]
ENTRY_POINTS = {"__init__.py", "__main__.py"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package but its entry points."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if path.name in ENTRY_POINTS and len(parts) == 1:
            continue
        name = ".".join(("anogan",) + (parts[:-1] if path.name == "__init__.py" else parts))
        found[name] = path
    return found


def _stage(module: str) -> str:
    return module.split(".")[1]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("anogan."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("anogan."))
    return found


def test_every_module_belongs_to_a_stage():
    assert {_stage(m) for m in _modules()} <= set(STAGES)


def test_every_sub_package_states_its_contract():
    for init in PACKAGE.glob("*/__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(docstring.split()) >= 20, f"{init.parent.name}/__init__.py needs a docstring of its contract"


def test_no_module_imports_a_later_stage():
    back_edges = [
        f"{module} imports {imported}"
        for module, path in _modules().items()
        for imported in _imports(path)
        if STAGES.index(_stage(imported)) > STAGES.index(_stage(module))
    ]
    assert back_edges == []


def test_no_import_cycles():
    modules = _modules()
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    done, on_path, cycles = set(), [], []

    def visit(module):
        if module in on_path:
            cycles.append(on_path[on_path.index(module):] + [module])
            return
        if module in done:
            return
        on_path.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        on_path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert cycles == []


def test_modules_and_functions_stay_small():
    too_long = []
    for module, path in _modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{module}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{module}.{node.name}: {length} lines")
    assert too_long == []
