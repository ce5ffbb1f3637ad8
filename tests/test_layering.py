"""The package layering, checked by parsing the imports of every module under src/raycurator.

Layers, bottom to top: `perf`/`errors` → `tasks` → `stages` → `backends` → `pipeline` → `cli`.
A module may import raycurator modules of its own layer or below only. `raycurator/__init__.py`,
`raycurator/demo.py` and `raycurator/cli/**` are top level and may import anything. Imports
inside functions count too, except in the functions listed in `LAZY_IMPORT_WHITELIST`. Imports
under `if TYPE_CHECKING:` count for the layering but not for cycles (they never run). There
must be no import cycle between modules.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "raycurator"
SRC_ROOT = Path(__file__).resolve().parents[1] / "src" / PACKAGE

LAYERS: dict[str, int] = {
    "perf": 0,
    "errors": 0,
    # NeMo Curator 1.4's `utils.performance_utils` path; re-exports `perf` only (docs/compat.md)
    "utils": 0,
    "tasks": 1,
    "stages": 2,
    "backends": 3,
    "pipeline": 4,
    "cli": 100,  # the top: like the package root and the demo, the CLI may import anything
}
TOP = 100
TOP_LEVEL_MODULES = {PACKAGE, f"{PACKAGE}.demo"}

# (module, function) whose function-level imports are exempt from every check.
LAZY_IMPORT_WHITELIST: set[tuple[str, str]] = {
    # the default executor lazily imports the Ray backend (and falls back to the local one)
    (f"{PACKAGE}.pipeline.pipeline", "default_executor"),
    # NeMo Curator's module paths of the exact and fuzzy dedup workflows are under `stages`; the
    # workflows run pipelines, so they live in the pipeline layer and these module-level
    # `__getattr__`s load them on first use (nothing in `stages` imports them at import time)
    (f"{PACKAGE}.stages.deduplication", "__getattr__"),
    (f"{PACKAGE}.stages.deduplication.exact", "__getattr__"),
    (f"{PACKAGE}.stages.deduplication.exact.workflow", "__getattr__"),
    (f"{PACKAGE}.stages.deduplication.fuzzy", "__getattr__"),
    (f"{PACKAGE}.stages.deduplication.fuzzy.workflow", "__getattr__"),
    # NeMo Curator 1.4's import path of TextDuplicatesRemovalWorkflow is in `stages`, but the
    # workflow runs a Pipeline, so it lives in `pipeline`; the stage-layer modules import it on
    # first attribute access only (module `__getattr__`), never when they load
    (f"{PACKAGE}.stages.text.deduplication", "__getattr__"),
    (f"{PACKAGE}.stages.text.deduplication.removal_workflow", "__getattr__"),
    # NeMo Curator's module paths of the semantic dedup workflows are under `stages`; the
    # workflows run pipelines, so they live in the pipeline layer and these module-level
    # `__getattr__`s load them on first use (nothing in `stages` imports them at import time)
    (f"{PACKAGE}.stages.deduplication.semantic", "__getattr__"),
    (f"{PACKAGE}.stages.text.deduplication.semantic", "__getattr__"),
}


@dataclass(frozen=True)
class ImportRef:
    """One import of a raycurator module found in a source file."""

    importer: str
    target: str
    lineno: int
    function: str | None  # enclosing function's qualified name, None at module level
    type_checking: bool


# -- the checker ------------------------------------------------------------------------------------
def collect_modules(root: Path, package: str = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """`{module name: (path, is_package)}` for every .py file under `root`."""
    modules: dict[str, tuple[Path, bool]] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def parse_imports(
    module: str, source: str, is_package: bool, known: set[str], package: str = PACKAGE
) -> list[ImportRef]:
    """Every import of a `package` module in `source`, with its context."""
    refs: list[ImportRef] = []

    def add(target: str, node: ast.stmt, function: str | None, type_checking: bool) -> None:
        if target == package or target.startswith(package + "."):
            refs.append(ImportRef(module, target, node.lineno, function, type_checking))

    def visit(node: ast.AST, scope: list[str], function: str | None, type_checking: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node, function, type_checking)
            return
        if isinstance(node, ast.ImportFrom):
            base = _resolve_from(module, is_package, node)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                add(candidate if candidate in known else base, node, function, type_checking)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inner = [*scope, node.name]
            for child in node.body:
                visit(child, inner, ".".join(inner), type_checking)
            return
        if isinstance(node, ast.ClassDef):
            inner = [*scope, node.name]
            for child in node.body:
                visit(child, inner, function, type_checking)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, scope, function, True)
            for child in node.orelse:
                visit(child, scope, function, type_checking)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, scope, function, type_checking)

    visit(ast.parse(source), [], None, False)
    return refs


def layer_of(module: str, package: str = PACKAGE) -> int:
    """The layer of a module; unknown top-level components are an error."""
    if module in TOP_LEVEL_MODULES or module == package:
        return TOP
    component = module.split(".")[1]
    if component not in LAYERS:
        raise AssertionError(
            f"module {module}: '{package}.{component}' belongs to no layer; add it to LAYERS in "
            f"tests/test_layering.py (and to the architecture in the README)"
        )
    return LAYERS[component]


def effective_refs(refs: list[ImportRef]) -> list[ImportRef]:
    """The imports that count: those in whitelisted functions are dropped."""

    def whitelisted(ref: ImportRef) -> bool:
        return ref.function is not None and any(
            ref.importer == module and (ref.function == name or ref.function.startswith(name + "."))
            for module, name in LAZY_IMPORT_WHITELIST
        )

    return [r for r in refs if not whitelisted(r)]


def layer_violations(refs: list[ImportRef]) -> list[str]:
    """Human-readable descriptions of imports that go up the layers."""
    problems = []
    for ref in refs:
        if layer_of(ref.importer) < layer_of(ref.target):
            where = f" (in {ref.function})" if ref.function else ""
            problems.append(f"{ref.importer}:{ref.lineno}{where} imports {ref.target}, a higher layer")
    return problems


def import_graph(refs: list[ImportRef], known: set[str]) -> dict[str, set[str]]:
    """Module → modules it imports at run time (TYPE_CHECKING imports left out)."""
    graph: dict[str, set[str]] = {m: set() for m in known}
    for ref in refs:
        if not ref.type_checking and ref.target in known:
            graph[ref.importer].add(ref.target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def strongconnect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                strongconnect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return cycles


def analyse(root: Path, package: str = PACKAGE) -> tuple[dict[str, tuple[Path, bool]], list[ImportRef]]:
    """Modules under `root` and every raycurator import they contain."""
    modules = collect_modules(root, package)
    known = set(modules)
    refs: list[ImportRef] = []
    for name, (path, is_package) in modules.items():
        refs.extend(parse_imports(name, path.read_text(encoding="utf-8"), is_package, known, package))
    return modules, refs


# -- the checks on the real package -----------------------------------------------------------------
@pytest.fixture(scope="module")
def package_imports():
    return analyse(SRC_ROOT)


def test_analysis_sees_the_package(package_imports):
    modules, refs = package_imports
    for expected in (
        "raycurator",
        "raycurator.perf",
        "raycurator.tasks.tasks",
        "raycurator.stages.base",
        "raycurator.backends.local.executor",
        "raycurator.pipeline.pipeline",
    ):
        assert expected in modules
    targets = {(r.importer, r.target) for r in refs}
    assert ("raycurator.stages.base", "raycurator.tasks") in targets
    assert ("raycurator.backends.base", "raycurator.stages.base") in targets
    lazy = [r for r in refs if r.function == "default_executor"]
    assert lazy, "the lazy import in default_executor should be found"


def test_every_module_belongs_to_a_layer(package_imports):
    modules, _ = package_imports
    for name in modules:
        layer_of(name)  # raises with a hint when a new top-level component appears


def test_no_import_goes_up_the_layers(package_imports):
    _, refs = package_imports
    problems = layer_violations(effective_refs(refs))
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_no_import_cycles(package_imports):
    modules, refs = package_imports
    cycles = find_cycles(import_graph(effective_refs(refs), set(modules)))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_whitelisted_functions_exist(package_imports):
    modules, _ = package_imports
    for module, function in LAZY_IMPORT_WHITELIST:
        assert module in modules, f"whitelisted module {module} is gone; update LAZY_IMPORT_WHITELIST"
        tree = ast.parse(modules[module][0].read_text(encoding="utf-8"))
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        assert function in names, f"whitelisted {module}.{function} is gone; update LAZY_IMPORT_WHITELIST"


# -- the checker itself, on synthetic packages ------------------------------------------------------
def write_package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / PACKAGE
    for relative, source in files.items():
        path = pkg / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return pkg


def test_checker_flags_upward_imports(tmp_path):
    pkg = write_package(
        tmp_path,
        {
            "__init__.py": "from raycurator.pipeline import Pipeline\n",
            "errors.py": "",
            "tasks/__init__.py": "from raycurator.errors import E\n",
            "stages/__init__.py": "",
            "stages/base.py": """
                from raycurator.tasks import Task
                def helper():
                    from raycurator.backends.local import LocalExecutor
                """,
            "backends/__init__.py": "",
            "backends/local.py": "from ..pipeline import Pipeline\n",
            "pipeline/__init__.py": "from .pipeline import Pipeline\n",
            "pipeline/pipeline.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from raycurator.cli import app
                def default_executor():
                    from raycurator.cli import app
                """,
            "cli/__init__.py": "import raycurator.pipeline.pipeline\nfrom raycurator import demo\n",
            "demo.py": "from raycurator.cli import main\n",
        },
    )
    _, refs = analyse(pkg)
    problems = layer_violations(effective_refs(refs))
    joined = "\n".join(problems)
    assert "raycurator.stages.base" in joined and "(in helper)" in joined
    assert "raycurator.backends.local:" in joined and "imports raycurator.pipeline" in joined
    # the TYPE_CHECKING import still counts for layering; the whitelisted function does not
    assert sum("raycurator.pipeline.pipeline" in p for p in problems) == 1
    assert len(problems) == 3
    # top-level modules and imports downwards are fine
    assert not any(p.startswith(("raycurator:", "raycurator.cli", "raycurator.tasks")) for p in problems)


def test_checker_resolves_relative_and_submodule_imports(tmp_path):
    pkg = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "stages/__init__.py": "from . import base\nfrom .base import Stage\n",
            "stages/base.py": "from .. import tasks\nfrom ..tasks.tasks import Task\n",
            "tasks/__init__.py": "",
            "tasks/tasks.py": "",
        },
    )
    _, refs = analyse(pkg)
    targets = sorted((r.importer, r.target) for r in refs)
    assert targets == [
        ("raycurator.stages", "raycurator.stages.base"),
        ("raycurator.stages", "raycurator.stages.base"),
        ("raycurator.stages.base", "raycurator.tasks"),
        ("raycurator.stages.base", "raycurator.tasks.tasks"),
    ]


def test_checker_finds_cycles(tmp_path):
    pkg = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "tasks/__init__.py": "from raycurator.tasks.a import A\n",
            "tasks/a.py": "from raycurator.tasks.b import B\n",
            "tasks/b.py": "def f():\n    from raycurator.tasks import A\n",
            "stages/__init__.py": "",
            "stages/x.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from raycurator.stages.y import Y
                """,
            "stages/y.py": "from raycurator.stages.x import X\n",
        },
    )
    modules, refs = analyse(pkg)
    cycles = find_cycles(import_graph(effective_refs(refs), set(modules)))
    # the function-level import closes a cycle; the TYPE_CHECKING one does not
    assert cycles == [["raycurator.tasks", "raycurator.tasks.a", "raycurator.tasks.b"]]


def test_find_cycles_self_loop_and_acyclic():
    assert find_cycles({"a": {"a"}}) == [["a"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    two = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "a"}}
    assert sorted(find_cycles(two)) == [["a", "b"], ["c", "d"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_unknown_component_needs_a_layer():
    with pytest.raises(AssertionError, match="LAYERS"):
        layer_of("raycurator.mystery.module")
    assert layer_of("raycurator.demo") == TOP
    assert layer_of("raycurator.cli.main") == TOP
    assert layer_of("raycurator.pipeline.pipeline") < layer_of("raycurator.cli.main")
