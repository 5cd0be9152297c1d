"""`battwatch demo`: the whole job with no hardware and no services, through the real pty path."""

from __future__ import annotations

import re
import subprocess

import pytest

pytestmark = [pytest.mark.serial, pytest.mark.slow]


def test_demo_runs_the_serial_path_and_shows_the_sos_decline(battwatch_bin: str) -> None:
    res = subprocess.run(
        [battwatch_bin, "demo", "--seconds", "8"], capture_output=True, text=True, timeout=300,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    out = res.stdout
    assert res.returncode == 0, res.stderr
    windows = int(re.search(r"([\d,]+) ADC windows", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    decoded = int(re.search(r"serial: ([\d,]+) frames decoded, 0 lost, 0 bad lines", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert decoded == windows  # every window crossed the pty and was decoded
    assert "RAISED  sos/decline (warning)" in out
    assert "SOS Call System Failure" in out  # the message says what it means for the owner
    assert "Health at the end of the run" in out and "by trend" in out
    assert "Traceback" not in res.stderr
