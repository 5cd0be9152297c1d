"""The core modules compiled with mypyc: the rules they must keep, and what the build gave."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def compiled_sources() -> list[str]:
    """The COMPILED list of setup.py, read without running the build."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "COMPILED" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, list)
            return [str(v) for v in value]
    raise AssertionError("setup.py has no COMPILED list")


@pytest.mark.parametrize("source", compiled_sources())
def test_no_exception_name_is_reused_for_another_type(source: str) -> None:
    """Compiled, a local keeps the type of its first binding: ``except A as e`` and later
    ``except B as e`` in one function make the second handler itself raise TypeError."""
    tree = ast.parse((ROOT / source).read_text())
    clashes = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        bound: dict[str, str] = {}
        for node in ast.walk(fn):
            if isinstance(node, ast.ExceptHandler) and node.name and node.type is not None:
                kind = ast.unparse(node.type)
                if bound.setdefault(node.name, kind) != kind:
                    clashes.append(f"{source}:{node.lineno} {fn.name}: {node.name} is {bound[node.name]} and {kind}")
    assert not clashes


@pytest.mark.parametrize("source", compiled_sources())
def test_every_listed_module_exists_and_imports(source: str) -> None:
    module = source.removeprefix("daemon/").removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    assert importlib.import_module(module) is not None
