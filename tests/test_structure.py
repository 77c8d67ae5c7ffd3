"""The house rules a reader relies on: the card's modules at the top, small modules and functions, no import
cycle among the project's modules, and no `sys.path` tricks."""

import ast
from pathlib import Path

from cookbook.paths import PROJECT_DIR

CARD_MODULES = {"run_act.py", "evaluate.py", "optimizer.py", "phoenix_experiments.py"}
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80


def project_modules() -> dict[str, Path]:
    """{dotted name: path} of the project's own Python modules (not the bundled benchmark's packages)."""
    found = {path.stem: path for path in PROJECT_DIR.glob("*.py")}
    for folder in ("cookbook", "tests", "benchmarks", "tools"):
        for path in (PROJECT_DIR / folder).rglob("*.py"):
            parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def test_the_top_holds_exactly_the_cards_modules():
    assert {p.name for p in PROJECT_DIR.glob("*.py")} == CARD_MODULES


def test_modules_and_functions_are_small():
    too_long = []
    for name, path in project_modules().items():
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert not too_long


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The project modules a module imports (at any depth of the file, so lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in modules}
    return found


def test_no_import_cycle_among_the_projects_modules():
    modules = project_modules()
    graph = {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for imported in sorted(graph[name]):
            assert state.get(imported) != "open", " -> ".join([*trail, name, imported])
            if imported not in state:
                visit(imported, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_no_sys_path_manipulation():
    offenders = [name for name, path in project_modules().items() if "sys.path" in path.read_text()]
    assert offenders == ["tests.test_structure"]
