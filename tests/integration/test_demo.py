"""`battwatch demo`: the whole job with no hardware and no services, through the real pty path."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from helpers import Proc

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
    assert re.search(r"RAISED +sos/decline \(warning\)", out)
    assert "SOS Call System Failure" in out  # the message says what it means for the owner
    # the table wraps long cells: the remaining life names the trend as its basis
    assert "Health at the end of the run" in out and "(by the" in out and "critical level)" in out
    assert "Traceback" not in res.stderr


def _workdir(out: str) -> Path:
    m = re.search(r"through a pseudo-terminal \((\S+)/adc\)", out)
    assert m, out
    return Path(m.group(1))


@pytest.mark.parametrize("scenario", ["main-healthy-week-park", "sensor-silent", "sos-step-drop", "main-weak-crank"])
def test_other_scenarios_run_to_their_summary_and_leave_nothing_behind(battwatch_bin: str, scenario: str) -> None:
    """Short runs have no trend yet (and a sensor fault, a step): the summary must still show."""
    res = subprocess.run(
        [battwatch_bin, "demo", "--scenario", scenario, "--seconds", "2"], capture_output=True, text=True,
        timeout=300, env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert "Health at the end of the run" in res.stdout
    assert re.search(r"│ trend +│ +│ -", res.stdout) or "mV/day" in res.stdout
    assert not _workdir(res.stdout).exists()


def test_ctrl_c_stops_the_demo_with_the_summary_so_far_and_exit_130(battwatch_bin: str) -> None:
    proc = Proc(battwatch_bin.split() + ["demo", "--seconds", "120"], env={"COLUMNS": "120"})
    try:
        proc.wait_for(r"RAISED", timeout=120)  # the daemon is running: its SIGINT handler is in place
        proc.signal(signal.SIGINT)
        rc = proc.wait(60)
    finally:
        proc.kill()
    out = proc.output
    assert rc == 130, out[-3000:]
    assert "Traceback" not in out
    assert re.search(r"Interrupted on day \d+ of \d+: the summary so far", out)
    assert "Health at the end of the run" in out
    assert not _workdir(out).exists()


def test_ctrl_c_before_the_run_starts_stops_cleanly(battwatch_bin: str) -> None:
    """SIGINT while the scenario is still being generated: no traceback, exit 130."""
    proc = Proc(battwatch_bin.split() + ["demo", "--scenario", "long-healthy-year", "--seconds", "60"])
    try:
        proc.wait_for(r"battwatch demo: ", timeout=60)  # printed before the year is generated
        proc.signal(signal.SIGINT)
        rc = proc.wait(60)
    finally:
        proc.kill()
    assert rc == 130 and "Traceback" not in proc.output, proc.output


@pytest.mark.parametrize("keep", ["/proc/nope", "file"])
def test_keep_in_a_place_that_cannot_be_a_directory_is_a_one_line_error(battwatch_bin: str, tmp_path: Path, keep: str) -> None:
    (tmp_path / "file").write_text("")
    where = keep if keep.startswith("/") else str(tmp_path / keep)
    res = subprocess.run([battwatch_bin, "demo", "--keep", where, "--seconds", "1"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 2
    assert res.stderr.strip() == res.stderr.strip().splitlines()[0] and res.stderr.startswith(f"battwatch demo: --keep {where}")


def test_the_closing_hint_is_a_command_that_works(battwatch_bin: str, tmp_path: Path) -> None:
    """With --keep the hint names the kept store, and that command shows it; without, it names none."""
    keep = tmp_path / "kept"
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    res = subprocess.run([battwatch_bin, "demo", "--scenario", "sos-step-drop", "--seconds", "2", "--keep", str(keep)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    m = re.search(r"look at it with: battwatch (status --store \S+)", res.stdout)
    assert m, res.stdout[-1500:]
    shown = subprocess.run([battwatch_bin, *m.group(1).split()], capture_output=True, text=True, timeout=60, env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.startswith("battwatch status: vehicle ") and "Traceback" not in shown.stderr
    assert "readings" in shown.stdout
    gone = subprocess.run([battwatch_bin, "demo", "--scenario", "sos-step-drop", "--seconds", "2"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert gone.returncode == 0
    workdir = _workdir(gone.stdout)
    assert not workdir.exists()
    hint = gone.stdout[gone.stdout.index("alerts raised"):]
    assert str(workdir) not in hint and "--keep DIR" in hint and "battwatch status --store DIR/store" in hint
