"""The package's imports form no circle and run downward only: every module's imports (at the
top and inside functions alike), read with `ast`, walked for strongly connected components and
checked against the layers (the core under everything, the stages side by side above it, the
command line and `curate run` on top)."""

from __future__ import annotations

import ast
from pathlib import Path

import curate

PACKAGE = Path(curate.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> the curate modules it imports (`from curate.x import y` counts as curate.x.y
    when that is a module, else as curate.x), and the packages Python runs on the way: importing
    curate.queue.argilla runs curate/queue/__init__.py first."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if not target:
                    continue
                # the target and each package above it, but this module and the packages it
                # is in (being imported already, they are not run again)
                while target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
                    target = target.rpartition(".")[0]
                break
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_a_circle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_walk_reads_every_kind_of_import():
    graph = import_graph()
    assert (
        "curate.core.workspace" in graph["curate.core.project"]
    )  # from curate.core.workspace import ...
    assert "curate.queue.argilla" in graph["curate.queue.stage"]  # a submodule by name
    assert "curate.core.text" in graph["curate.queue.judge"]  # an import inside a function
    # a submodule runs its package first: judge -> queue.argilla -> queue/__init__ -> judge
    # was the circle of issue 25
    assert {"curate.ingest.formats.base", "curate.ingest.formats"} <= graph["curate.ingest.stage"]
    # but not the package a module is in: it is being imported already
    assert "curate.queue" not in graph["curate.queue.preview"]
    assert "curate.queue.records" in graph["curate.queue.preview"]
    circle = graph | {"curate.core.text": graph["curate.core.text"] | {"curate.queue.judge"}}
    found = cycles(circle)
    assert len(found) == 1 and {"curate.core.text", "curate.queue.judge"} <= set(found[0])


def test_no_module_imports_itself_round_a_circle():
    assert cycles(import_graph()) == []


STAGES = ("ingest", "detect", "balance", "queue", "export", "report")
TOP = ("curate", "curate.__main__", "curate.run", "curate.rewards", "curate.cli")


def layer(module: str) -> str:
    """core, stack, a stage's name, or top."""
    parts = module.split(".")
    if module in TOP or module.startswith("curate.cli."):
        return "top"
    if len(parts) > 1 and parts[1] in ("core", "stack", *STAGES):
        return parts[1]
    raise AssertionError(f"{module} is in no layer: put it in a stage's folder or the core")


def allowed(importer: str, imported: str) -> bool:
    """The core imports only the core (and the package's version); the stack, the core; a
    stage, the core, the stack and itself; the top, anything."""
    mine, theirs = layer(importer), layer(imported)
    if imported == "curate":  # curate/__init__.py: the version and the lazy public names
        return mine != "core" or importer == "curate.core.workspace"
    if mine == "top":
        return True
    if mine == "core":
        return theirs == "core"
    if mine == "stack":
        return theirs in ("core", "stack")
    return theirs in ("core", "stack", mine)


def test_every_module_is_in_a_layer():
    for module in import_graph():
        layer(module)


def test_imports_run_downward_only():
    graph = import_graph()
    wrong = sorted(
        f"{importer} imports {imported} ({layer(importer)} -> {layer(imported)})"
        for importer, imported_set in graph.items()
        for imported in imported_set
        if not allowed(importer, imported)
    )
    assert not wrong, "\n".join(wrong)


def test_the_layer_rule_sees_an_upward_import():
    assert not allowed("curate.core.project", "curate.detect.stage")
    assert not allowed("curate.report.stage", "curate.export.stage")
    assert not allowed("curate.queue.stage", "curate.cli.render")
    assert allowed("curate.queue.stage", "curate.queue.argilla")
    assert allowed("curate.export.stage", "curate.core.redact")
    assert allowed("curate.cli.stages", "curate.report.stage")


MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def sizes(source: str) -> tuple[int, dict[str, int]]:
    """(the module's lines, each function's lines from its `def` to its last line, by name)."""
    tree = ast.parse(source)
    functions = {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    return len(source.splitlines()), functions


def test_no_module_over_500_lines_and_no_function_over_80():
    """A long module holds two jobs, a long function a loop of special cases: split them."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines, functions = sizes(path.read_text())
        name = path.relative_to(PACKAGE.parent)
        if lines > MAX_MODULE_LINES:
            wrong.append(f"{name}: {lines} lines")
        wrong += [
            f"{name}: {f}() {n} lines" for f, n in functions.items() if n > MAX_FUNCTION_LINES
        ]
    assert not wrong, "\n".join(wrong)


def test_the_size_rule_counts_what_it_says():
    body = "\n".join(f"    x = {i}" for i in range(80))
    lines, functions = sizes(f"def long():\n{body}\n\n\ndef short():\n    pass\n")
    assert lines == 85 and functions == {"long": 81, "short": 2}
