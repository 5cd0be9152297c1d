"""``battwatch replay``: bad rows are skipped with their line numbers, the stream goes on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def _run(bin_: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bin_, "replay", *args], capture_output=True, text=True)


def test_bad_rows_are_counted_with_line_numbers_and_replay_goes_on(battwatch_bin: str, bad_rows_log: Path) -> None:
    log = bad_rows_log
    res = _run(battwatch_bin, str(log), "--jsonl")
    assert res.returncode == 0, res.stderr
    assert f"{log}:3: row skipped" in res.stderr
    assert f"{log}:4: row skipped: sos_v: 'five' is not a number" in res.stderr
    assert "replayed 2 readings (2 rows skipped)" in res.stderr
    assert "Traceback" not in res.stderr
    for line in res.stdout.splitlines():  # the stream is JSON lines only
        json.loads(line)


def test_unusable_header_is_an_error_without_traceback(battwatch_bin: str, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("when,volts\n1,2\n")
    res = _run(battwatch_bin, str(log))
    assert res.returncode == 2
    assert "no 'time' column" in res.stderr and "Traceback" not in res.stderr


def test_missing_file_is_an_error_without_traceback(battwatch_bin: str, tmp_path: Path) -> None:
    res = _run(battwatch_bin, str(tmp_path / "absent.csv"))
    assert res.returncode == 2 and "no such file" in res.stderr


def test_replay_with_store_writes_readings_and_daily_logs(battwatch_bin: str, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    rows = ["time,main_v,sos_v"] + [f"{1735689600 + i * 3600},12.6,5.2" for i in range(30)]
    log.write_text("\n".join(rows) + "\n")
    store = tmp_path / "store"
    res = _run(battwatch_bin, str(log), "--store", str(store))
    assert res.returncode == 0, res.stderr
    days = sorted(p.name for p in (store / "logs").glob("*.csv"))
    assert days == ["replay-2025-01-01.csv", "replay-2025-01-02.csv"]
    again = _run(battwatch_bin, str(store / "logs" / days[0]), "--jsonl")
    assert "replayed 24 readings (0 rows skipped)" in again.stderr
