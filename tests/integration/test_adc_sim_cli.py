"""`battwatch adc-sim` with bad arguments or input: one clear line and exit 2, never a traceback or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import Proc, battwatch


def _run(*args: str) -> tuple[int, list[str]]:
    p = Proc(battwatch("adc-sim", *args))
    try:
        rc = p.wait(30)  # a hang fails here instead of blocking the suite
    finally:
        p.kill()
    return rc, [line for line in p.lines if line.strip()]


def _log(tmp_path: Path, text: str) -> str:
    path = tmp_path / "log.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty file"),
        ("main_v,sos_v\n12.6,5.2\n", "no 'time' column"),
        ("time,temp_c\n2025-01-01T00:00:00+00:00,8\n", "neither a 'main_v' nor a 'sos_v'"),
    ],
)
def test_a_log_that_cannot_be_used_is_one_line_and_exit_2(tmp_path: Path, text: str, says: str) -> None:
    rc, lines = _run("--csv", _log(tmp_path, text), "--speed", "0", "--exit-at-end", "--link", str(tmp_path / "adc"))
    assert rc == 2
    assert len(lines) == 1 and lines[0].startswith("adc-sim: ") and says in lines[0], lines
    assert not (tmp_path / "adc").exists()


def test_a_log_with_only_a_header_ends_at_once(tmp_path: Path) -> None:
    rc, lines = _run("--csv", _log(tmp_path, "time,main_v\n"), "--speed", "0", "--exit-at-end")
    assert rc == 0
    assert lines[-1] == "adc-sim: 0 frames written, 0 damaged on purpose"
    assert not [line for line in lines if "Traceback" in line]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--speed", "-1"), "--speed -1: expected a number at least 0"),
        (("--speed", "nan"), "--speed nan"),
        (("--speed", "inf"), "--speed inf"),
        (("--noise", "1.5"), "--noise 1.5: expected a number 0 to 1"),
        (("--unplug-after", "-2"), "--unplug-after -2"),
        (("--link", "/nonexistent/dir/x"), "directory /nonexistent/dir does not exist"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    log = _log(tmp_path, "time,main_v\n2025-01-01T00:00:00+00:00,12.6\n")
    rc, lines = _run("--csv", log, "--exit-at-end", *args)
    assert rc == 2
    assert len(lines) == 1 and lines[0].startswith("adc-sim: ") and says in lines[0], lines


def test_a_link_path_that_is_a_file_is_not_replaced(tmp_path: Path) -> None:
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    log = _log(tmp_path, "time,main_v\n2025-01-01T00:00:00+00:00,12.6\n")
    rc, lines = _run("--csv", log, "--exit-at-end", "--link", str(keep))
    assert rc == 2 and "is not a symlink" in lines[0]
    assert keep.read_text() == "mine"


def test_a_missing_log_is_one_line_and_exit_2(tmp_path: Path) -> None:
    rc, lines = _run("--csv", str(tmp_path / "nope.csv"), "--exit-at-end")
    assert rc == 2 and lines == [f"adc-sim: {tmp_path / 'nope.csv'}: no such file"]
