"""The wings' boundaries: what each part of bench/ may import, and no import cycles.

Static checks read every module's import statements (ast); the runtime checks import each wing in a
fresh interpreter and look at ``sys.modules``, so a dependency hidden behind another module is caught too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "results"
BENCH = REPO / "bench"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(BENCH.rglob("*.py"))}


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Absolute names of the modules ``path`` imports (``from a.b import c`` gives ``a.b.c`` when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # module level: the statements of the module body (an `if TYPE_CHECKING:` block never runs)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}: relative import; the package uses absolute imports")
            base = node.module or ""
            names.add(base)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    names.add(f"{base}.{alias.name}")
    return names


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_every_module_is_seen():
    assert {"bench.core.evaluator", "bench.analysis.report", "bench.learned.zoo", "bench.cli"} <= MODULES.keys()


@pytest.mark.parametrize("name", [n for n in MODULES if _in(n, "bench.core")])
def test_core_imports_neither_learned_nor_analysis_nor_torch_at_module_level(name):
    imported = _imports(MODULES[name], top_level_only=True)
    bad = sorted(i for i in imported if _in(i, "bench.learned") or _in(i, "bench.analysis")
                 or _in(i, "torch") or _in(i, "compressai"))
    assert not bad, f"{name} imports {bad} at module level"


@pytest.mark.parametrize("name", [n for n in MODULES if _in(n, "bench.core")])
def test_core_never_imports_the_learned_wing(name):
    imported = _imports(MODULES[name], top_level_only=False)
    assert not [i for i in imported if _in(i, "bench.learned")], name


@pytest.mark.parametrize("name", [n for n in MODULES if _in(n, "bench.analysis")])
def test_analysis_never_imports_torch(name):
    imported = _imports(MODULES[name], top_level_only=False)
    bad = sorted(i for i in imported if _in(i, "torch") or _in(i, "compressai") or _in(i, "fvcore"))
    assert not bad, f"{name} imports {bad}"


def _graph(modules: dict[str, Path], *, top_level_only: bool) -> dict[str, set[str]]:
    return {name: {i for i in _imports(path, top_level_only=top_level_only) if i in modules and i != name}
            for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (``a -> b -> a``), or None when it has none (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_module_level_import_graph_has_no_cycles():
    cycle = _cycle(_graph(MODULES, top_level_only=True))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_cycles_through_imports_inside_functions_either():
    """An import inside a function still ties two modules together: a circle of them is a circle."""
    cycle = _cycle(_graph(MODULES, top_level_only=False))
    assert cycle is None, "import cycle (imports inside functions included): " + " -> ".join(cycle or [])


def test_a_circle_planted_inside_functions_is_found(tmp_path):
    (tmp_path / "first.py").write_text("import json\n\ndef f():\n    from bench.second import g\n    return g()\n")
    (tmp_path / "second.py").write_text("def g():\n    import bench.first\n    return bench.first\n")
    (tmp_path / "third.py").write_text("from bench.second import g\n")
    planted = {"bench.first": tmp_path / "first.py", "bench.second": tmp_path / "second.py",
               "bench.third": tmp_path / "third.py"}
    assert _cycle(_graph(planted, top_level_only=True)) is None  # invisible at module level
    assert _cycle(_graph(planted, top_level_only=False)) == ["bench.first", "bench.second", "bench.first"]


def _fresh_import(modules: list[str]) -> set[str]:
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print('\\n'.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_the_core_wing_loads_neither_torch_nor_the_learned_wing():
    loaded = _fresh_import([n for n in MODULES if _in(n, "bench.core")])
    assert "torch" not in loaded
    assert not [m for m in loaded if _in(m, "bench.learned") or _in(m, "bench.analysis")]


def test_importing_the_analysis_wing_loads_no_torch():
    loaded = _fresh_import([n for n in MODULES if _in(n, "bench.analysis")])
    assert "torch" not in loaded
    assert "compressai" not in loaded


def test_a_report_of_learned_rows_loads_no_torch(tmp_path):
    """``bench report`` on rows with zoo-named learned points (the committed fixture) names each weights
    file's origin from CompressAI's zoo table without importing CompressAI or torch."""
    code = ("import sys\n"
            "from bench.analysis.report import write_report\n"
            f"write_report({str(FIXTURE)!r}, 'kodak', {str(tmp_path)!r}, n_boot=10)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'compressai')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert ("| bmshj2018-factorized | lambda0.0067 | `1db0e823d6f5f0a7ab029cea34846a36d16bf7d2ecce4f95544ac55390bc40d5` | "
            "not the CompressAI zoo's `bmshj2018-factorized-prior-3-5c6f152b.pth.tar`: a user checkpoint |"
            in (tmp_path / "REPORT.md").read_text())
