"""The package's layout keeps its promises: nothing imports the command line back, docs name every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "daemon" / "battwatch"
DESIGN = Path(__file__).resolve().parents[2] / "docs" / "design.md"


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_module_imports_the_command_line_back() -> None:
    offenders = [p.relative_to(PACKAGE).as_posix() for p in _modules()
                 if p.name not in ("cli.py", "__main__.py") and "battwatch.cli" in _imports(p)]
    assert offenders == []


def test_the_core_imports_nothing_outside_it() -> None:
    """The pure core is fed by adapters; it never reaches out to them, the sinks or the commands."""
    outside = re.compile(r"^battwatch\.(?!core\b|analysis_config\b|configbase\b|config\b)")
    offenders = {p.relative_to(PACKAGE).as_posix(): sorted(n for n in _imports(p) if outside.match(n))
                 for p in (PACKAGE / "core").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_design_doc_names_every_module() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    missing = [rel for p in _modules()
               if p.name not in ("__init__.py", "__main__.py")
               and (rel := p.relative_to(PACKAGE).as_posix()) not in text]
    assert missing == []
