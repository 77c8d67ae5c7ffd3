"""The house rules a reader relies on: the card's modules at the top, every module opening with what it does,
no import cycle among the project's modules nor between its folders, and no `sys.path` tricks.

A folder is a part of the package map (`cookbook/__init__.py`): shared pieces sit below their users, so the
folders import each other one way only. (This replaces caps of 400 lines a module and 80 a function, which
cut code to fit a number rather than along its meaning.)"""

import ast
from itertools import pairwise
from pathlib import Path

from cookbook.paths import PROJECT_DIR

CARD_MODULES = {"run_act.py", "evaluate.py", "optimizer.py", "phoenix_experiments.py"}


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


def test_every_module_opens_with_what_it_does():
    """A module does one thing and says which in its opening docstring: the card's modules and every module
    of cookbook/ (a folder's `__init__` says what the folder holds)."""
    silent = [
        name
        for name, path in project_modules().items()
        if (name.startswith("cookbook") or f"{name}.py" in CARD_MODULES)
        and not (ast.get_docstring(ast.parse(path.read_text())) or "").strip()
    ]
    assert not silent, f"modules without a docstring saying what they do: {', '.join(sorted(silent))}"


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


def find_cycle(graph: dict) -> list[str] | None:
    """A cycle of `graph` ({node: the nodes it imports}) as its nodes, the first one again at the end; None
    when there is none (a depth-first walk: a node reached again while it is still open closes a cycle)."""
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node], trail = "open", [*trail, node]
        for imported in sorted(graph.get(node, ())):
            if state.get(imported) == "open":
                return [*trail[trail.index(imported) :], imported]
            if imported not in state and (cycle := visit(imported, trail)):
                return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return None


def test_no_import_cycle_among_the_projects_modules():
    modules = project_modules()
    graph = {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def folder_of(name: str, path: Path) -> str:
    """A module's node in the graph of folders: its package (`cookbook.images.instance` → `cookbook.images`,
    `tests.test_loop` → `tests`; a folder's `__init__` is the folder). A module at the top of cookbook/
    (`cookbook.stats`) or of the repository (a card module) is a node of its own."""
    if path.name == "__init__.py":
        return name
    package = name.rpartition(".")[0]
    return name if package in ("", "cookbook") else package


def folder_graph(modules: dict[str, Path]) -> dict[str, dict[str, str]]:
    """{folder: {a folder it imports: one import that makes the edge, `module imports module`}}."""
    graph: dict[str, dict[str, str]] = {}
    for name, path in sorted(modules.items()):
        here = folder_of(name, path)
        edges = graph.setdefault(here, {})
        for imported in sorted(imports_of(path, set(modules))):
            there = folder_of(imported, modules[imported])
            if there != here:
                edges.setdefault(there, f"{name} imports {imported}")
    return graph


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, str]]) -> str:
    edges = "".join(f"\n  {a} -> {b}: {graph[a][b]}" for a, b in pairwise(cycle))
    return f"folders import each other: {' -> '.join(cycle)}{edges}"


def test_no_import_cycle_between_folders():
    graph = folder_graph(project_modules())
    cycle = find_cycle(graph)
    assert cycle is None, describe_cycle(cycle, graph)


def test_a_cycle_between_folders_is_found_where_modules_have_none(tmp_path):
    """a.x imports b.y, which imports a.z lazily: no module cycle, but a cycle of the folders a and b, named with
    an import for each edge; without b.y's import there is none."""
    sources = {
        "cookbook/a/x.py": "from cookbook.b.y import f\n",
        "cookbook/a/z.py": "",
        "cookbook/b/y.py": "def f():\n    import cookbook.a.z\n",
        "cookbook/stats.py": "",
    }
    modules = {}
    for relative, source in sources.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        modules[relative.removesuffix(".py").replace("/", ".")] = path
    module_graph = {name: imports_of(path, set(modules)) for name, path in modules.items()}
    assert find_cycle(module_graph) is None
    graph = folder_graph(modules)
    cycle = find_cycle(graph)
    assert cycle == ["cookbook.a", "cookbook.b", "cookbook.a"]
    assert describe_cycle(cycle, graph).splitlines()[1:] == [
        "  cookbook.a -> cookbook.b: cookbook.a.x imports cookbook.b.y",
        "  cookbook.b -> cookbook.a: cookbook.b.y imports cookbook.a.z",
    ]
    assert folder_of("cookbook.stats", modules["cookbook.stats"]) == "cookbook.stats"
    modules["cookbook.b.y"].write_text("def f():\n    pass\n")
    assert find_cycle(folder_graph(modules)) is None


def test_no_sys_path_manipulation():
    offenders = [name for name, path in project_modules().items() if "sys.path" in path.read_text()]
    assert offenders == ["tests.test_structure"]
