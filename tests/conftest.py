"""Shared pytest fixtures: paths, the battwatch executable, config writers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # so tests can import helpers/servers as plain modules


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def battwatch_bin() -> str:
    """The console script of the environment running the tests."""
    exe = Path(sys.executable).parent / "battwatch"
    assert exe.exists(), f"{exe} missing: install the package (make test does)"
    return str(exe)
