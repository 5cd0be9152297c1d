"""The mypyc-compiled core and the plain-Python sources give the same replay, byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_scenario_replays import toml

from battwatch import core, scenarios

ROOT = Path(__file__).resolve().parents[2]

# one scenario per rule family, with transitions in both directions; the decline ones run
# months of daily medians and weekly trend fits
CHOSEN = [
    "main-weak-crank", "main-overvoltage", "main-parasitic-drain", "sos-step-drop",
    "sos-self-discharge", "sensor-loose-wire", "sensor-stuck", "main-decline", "sos-decline",
    "age-old-batteries", "main-undercharging", "main-low-voltage", "main-failed-start", "main-recharge",
]


def test_core_is_compiled_unless_asked_not_to() -> None:
    """`make test` builds the core with mypyc; a silent fall-back to plain Python would go unseen."""
    assert core.compiled() is (os.environ.get("BATTWATCH_PURE", "") in ("", "0"))


@pytest.fixture(scope="module")
def pure_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's sources without any compiled module, importable from a directory of their own."""
    dest = tmp_path_factory.mktemp("pure") / "battwatch"
    shutil.copytree(ROOT / "daemon" / "battwatch", dest, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return dest.parent


def _replay(log: Path, cfg: Path, pythonpath: str | None) -> str:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    cmd = [sys.executable, "-m", "battwatch", "replay", str(log), "-c", str(cfg), "--jsonl"]
    if pythonpath is not None:  # prove which build ran
        cmd = [sys.executable, "-c", "from battwatch import core; assert not core.compiled(); "
               "from battwatch.cli import main; raise SystemExit(main())", *cmd[3:]]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=True)
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", CHOSEN)
def test_compiled_and_pure_replays_are_identical(name: str, tmp_path: Path, pure_sources: Path) -> None:
    log = tmp_path / f"{name}.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", name, "-o", str(log)], check=True,
                   capture_output=True, timeout=300)
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text("\n".join(toml(scenarios.scenario_config(name))) + "\n")
    compiled = _replay(log, cfg, None)
    pure = _replay(log, cfg, str(pure_sources))
    assert compiled.strip(), "the scenario raised nothing: it proves nothing here"
    assert compiled == pure
