"""The core names no concrete component, has no import cycle, and plugins use only its public API."""
import ast
import sys
from pathlib import Path

import pytest

import harness
from harness import get_registry
from harness.components import KINDS

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "harness"


def _strings(tree: ast.AST):
    """String constants, minus docstrings (module, class and function)."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node


def test_core_names_no_registered_component():
    # The core's own stages are part of the core; every other kind is plugins' business.
    from harness import FAMILIES

    names = {n: k for k in KINDS if k != "stages" for n in get_registry(k).names()}
    for f in FAMILIES:  # metric families are the core's own vocabulary (a report may share a word)
        names.pop(f, None)
    found = []
    for f in sorted(CORE.rglob("*.py")):
        for node in _strings(ast.parse(f.read_text())):
            if node.value in names:
                found.append(f"{f.relative_to(REPO)}:{node.lineno}: {node.value!r} ({names[node.value]})")
    assert not found, "the core names concrete components:\n" + "\n".join(found)


def _imports(f: Path):
    tree = ast.parse(f.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = f.relative_to(REPO).with_suffix("").parts[:-node.level] if f.name != "__init__.py" else \
                    f.relative_to(REPO).parent.parts[:len(f.relative_to(REPO).parent.parts) - node.level + 1]
                mod = ".".join(pkg + ((node.module,) if node.module else ()))
            else:
                mod = node.module
            yield mod, [a.name for a in node.names], node.lineno


@pytest.mark.parametrize("tree", ["plugins", "tests/third_party_plugin"])
def test_plugins_import_only_public_harness_names(tree):
    public = set(harness.__all__)
    bad = []
    for f in sorted((REPO / tree).rglob("*.py")):
        for mod, names, line in _imports(f):
            if mod is None or not (mod == "harness" or mod.startswith("harness.")):
                continue
            sub = mod.split(".", 1)[1] if "." in mod else ""
            if sub in public and names and set(names) <= set(getattr(getattr(harness, sub), "__all__", ())):
                continue  # a public submodule's own public names (harness.reporting)
            if mod != "harness" or names is None or not set(names) <= public:
                bad.append(f"{f.relative_to(REPO)}:{line}: {mod} {names or ''}")
    assert not bad, "plugins must import only `from harness import <public name>`:\n" + "\n".join(bad)


def _resolve(node: ast.ImportFrom, f: Path) -> str:
    parts = list(f.relative_to(REPO).with_suffix("").parts)
    pkg = parts[:-1]  # the package holding f (for __init__.py: the package itself)
    if node.level:
        pkg = pkg[:len(pkg) - (node.level - 1)]
        return ".".join(pkg + ([node.module] if node.module else []))
    return node.module or ""


def core_import_graph() -> dict:
    """Module-level imports between core modules (lazy imports inside functions don't count)."""
    graph = {}
    for f in sorted(CORE.rglob("*.py")):
        mod = ".".join(f.relative_to(REPO).with_suffix("").parts)
        mod = mod[: -len(".__init__")] if mod.endswith(".__init__") else mod
        deps = set()
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("harness"))
            elif isinstance(node, ast.ImportFrom):
                m = _resolve(node, f)
                if not m.startswith("harness"):
                    continue
                subs = [f"{m}.{a.name}" for a in node.names
                        if (CORE.parent / Path(*f"{m}.{a.name}".split("."))).with_suffix(".py").is_file()
                        or (CORE.parent / Path(*f"{m}.{a.name}".split("."))).is_dir()]
                deps.update(subs if len(subs) == len(node.names) else [m] + subs)
        graph[mod] = deps - {mod}
    return graph


def test_no_import_cycle_in_the_core():
    graph = core_import_graph()
    graph.pop("harness", None)  # the package's __init__ only re-exports; importing it is the user's entry
    cycles = set()

    def visit(m, path):
        if m in path:
            cycles.add(" -> ".join(path[path.index(m):] + [m]))
            return
        for d in sorted(graph.get(m, ())):
            visit(d, path + [m])

    for m in graph:
        visit(m, [])
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))
    assert not [m for m, d in graph.items() if "harness" in d], "core modules must not import the package itself"
