"""The Makefile's first contact: the demo needs no compiled core; the build says no deprecation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _dry_run(tmp_path: Path, target: str, installed: bool = True) -> str:
    """What ``make TARGET`` would run in a copy of the checkout whose venv is installed (or not) but not compiled."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "*.so", "__pycache__", "*.egg-info"))
    venv = copy / ".venv"
    (venv / "bin").mkdir(parents=True)
    if installed:
        (venv / ".installed").touch()
    done = subprocess.run(["make", "-n", target], cwd=copy, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_make_demo_runs_on_plain_python_without_waiting_for_the_compiler(tmp_path: Path) -> None:
    plan = _dry_run(tmp_path, "demo")
    assert "battwatch demo" in plan
    assert "build_ext" not in plan and "mypy" not in plan, plan


def test_make_test_compiles_the_core_and_provisions_the_servers(tmp_path: Path) -> None:
    plan = _dry_run(tmp_path, "test")
    assert plan.index("build_ext --inplace") < plan.index("provision-servers.sh") < plan.index("-m pytest")
    # Home Assistant 2024.3's schemas are provisioned before the tests that check discovery with them
    assert plan.index("provision-ha.sh") < plan.index("-m pytest")


def test_the_setuptools_the_makefile_installs_is_the_one_the_build_asks_for(tmp_path: Path) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"  # an SPDX string: the table form is deprecated
    wanted = next(r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools"))
    assert wanted == "setuptools>=77"  # the first to read an SPDX license
    plan = _dry_run(tmp_path, "demo", installed=False)
    assert "pip install --progress-bar off --no-compile --quiet 'setuptools>=77'" in plan
    assert plan.index("'setuptools>=77'") < plan.index("--no-build-isolation -e .") < plan.index("battwatch demo")


@pytest.mark.slow
def test_building_the_package_prints_no_deprecation_warning(tmp_path: Path) -> None:
    """pip builds in an isolated environment with [build-system] requires: what a Pi install does."""
    src = tmp_path / "src"  # a copy: a build in place would leave build/ and egg-info in the checkout
    shutil.copytree(ROOT / "daemon", src / "daemon", ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    env = {**os.environ, "BATTWATCH_PURE": "1"}
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "out"),
                           str(src)], capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout + done.stderr
    assert "Deprecat" not in out, [ln for ln in out.splitlines() if "eprecat" in ln]
