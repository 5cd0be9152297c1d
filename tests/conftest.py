"""Shared pytest fixtures: paths, the battwatch executable, config writers."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # so tests can import helpers/servers as plain modules

# A test run started in the background by a non-interactive shell (`make test &`, nohup) inherits
# SIGINT ignored, and so would every process the tests start: Ctrl-C tests would then test
# nothing but the shell. The children get SIGINT as a terminal's foreground process has it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def bad_rows_log(tmp_path: Path) -> Path:
    """A log with a garbage time on line 3 and a non-number on line 4, good rows around them."""
    log = tmp_path / "log.csv"
    log.write_text(
        "time,main_v,sos_v\n"
        "2025-01-01T00:00:00+00:00,12.6,5.2\n"
        "garbage,1,2\n"
        "2025-01-01T00:10:00+00:00,12.6,five\n"
        "\n"
        "2025-01-01T00:20:00+00:00,12.59,5.19\n"
    )
    return log


@pytest.fixture
def battwatch_bin() -> str:
    """The console script of the environment running the tests."""
    exe = Path(sys.executable).parent / "battwatch"
    assert exe.exists(), f"{exe} missing: install the package (make test does)"
    return str(exe)
