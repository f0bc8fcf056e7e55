"""Layers point one way: tui -> core, never core -> tui or textual; core's own imports form no cycle.

Checked two ways: statically over every import statement in core/ (including the ones inside
functions, which run only on some paths), and by importing every core module in a fresh
interpreter where importing textual or tui fails.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = sorted((ROOT / "core").glob("*.py"))
UPWARD = ("tui", "textual")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"core.{a.name}" for a in node.names} if node.module == "core" else {node.module}
    return names


def test_no_core_module_imports_tui_or_textual_anywhere() -> None:
    offenders = {path.name: sorted(n for n in imports_of(path) if n.split(".")[0] in UPWARD) for path in CORE}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_core_import_graph_has_no_cycle() -> None:
    graph = {f"core.{p.stem}": {n for n in imports_of(p) if n.startswith("core.")} for p in CORE}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join(path + (module,))}"
        if module in done:
            return
        for dep in sorted(graph.get(module, ())):
            visit(dep, path + (module,))
        done.add(module)

    for module in graph:
        visit(module, ())


BLOCKED_IMPORT = """
import importlib, importlib.abc, pkgutil, sys

class Upward(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tui", "textual"):
            raise ImportError(f"core imported {name}")
        return None

sys.meta_path.insert(0, Upward())
import core
for module in pkgutil.iter_modules(core.__path__):
    importlib.import_module(f"core.{module.name}")
print(len([m for m in sys.modules if m.startswith("core.")]))
"""


def test_every_core_module_imports_with_textual_and_tui_blocked() -> None:
    done = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) == len([p for p in CORE if p.stem != "__init__"])


def test_importing_the_command_line_loads_neither_textual_nor_torch() -> None:
    """`python -X importtime -c "import core.cli"`: what `mnist-tui --help` and --list-presets pay."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import core.cli"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "core.cli" in modules
    assert not {m for m in modules if m.split(".")[0] in ("textual", "tui", "torch")}


def test_test_only_fault_injection_is_not_in_the_engine_package() -> None:
    assert not (ROOT / "core" / "faults.py").exists()
