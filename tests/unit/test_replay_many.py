"""``replay`` and ``report`` over several logs and directories: one log, in time order."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from battwatch import scenarios
from battwatch.core.csvlog import write_csv
from battwatch.core.model import Reading

NAME = "sos-step-drop"  # a few days, with transitions


def _write(path: Path, readings: list[Reading]) -> Path:
    with path.open("w") as fh:
        write_csv(fh, readings)
    return path


def _run(bin_: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bin_, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    d = tmp_path_factory.mktemp("many")
    readings = list(scenarios.generate(NAME))
    third = len(readings) // 3
    whole = _write(d / "whole.csv", readings)
    chunks = [readings[:third], readings[third:2 * third], readings[2 * third:]]
    # names that sort against time order: the order must come from the data
    paths = [_write(d / f"{'zyx'[i]}.csv", chunk) for i, chunk in enumerate(chunks)]
    return whole, paths


def test_several_logs_in_any_order_replay_as_the_whole_log(battwatch_bin: str, parts: tuple[Path, list[Path]]) -> None:
    whole, paths = parts
    one = _run(battwatch_bin, "replay", str(whole), "--jsonl")
    many = _run(battwatch_bin, "replay", str(paths[2]), str(paths[0]), str(paths[1]), "--jsonl")
    assert one.returncode == many.returncode == 0, many.stderr
    assert one.stdout.strip() and many.stdout == one.stdout
    n = whole.read_text().count("\n") - 1
    assert f"replayed {n} readings from 3 logs (0 rows skipped)" in many.stderr


def test_a_directory_of_logs_and_logs_joined_with_their_headers(battwatch_bin: str, parts: tuple[Path, list[Path]],
                                                               tmp_path: Path) -> None:
    whole, paths = parts
    one = _run(battwatch_bin, "replay", str(whole), "--jsonl").stdout
    assert _run(battwatch_bin, "replay", str(paths[0].parent), "--jsonl").returncode == 0  # whole.csv too: overlaps
    d = tmp_path / "logs"
    d.mkdir()
    for p in paths:
        (d / p.name).write_bytes(p.read_bytes())
    (d / "README.txt").write_text("not a log\n")
    by_dir = _run(battwatch_bin, "replay", str(d), "--jsonl")
    assert by_dir.stdout == one and "0 rows skipped" in by_dir.stderr, by_dir.stderr
    report = _run(battwatch_bin, "report", str(d))
    assert f"from 3 logs in {d}" in report.stdout and report.stdout.startswith(f"3 logs in {d}: "), report.stdout[:300]
    joined = tmp_path / "joined.csv"  # `cat` of the parts: the header comes back at each join
    joined.write_text("".join(p.read_text() for p in paths))
    res = _run(battwatch_bin, "replay", str(joined), "--jsonl")
    assert res.stdout == one and "(0 rows skipped)" in res.stderr, res.stderr


def test_overlapping_logs_skip_what_goes_back_in_time(battwatch_bin: str, parts: tuple[Path, list[Path]],
                                                     tmp_path: Path) -> None:
    whole, paths = parts
    res = _run(battwatch_bin, "replay", str(whole), str(paths[1]), "--max-warnings", "2")
    assert res.returncode == 0, res.stderr
    rows = paths[1].read_text().count("\n") - 1
    assert f"({rows} rows skipped)" in res.stderr
    assert f"{paths[1]}:2: row skipped: time" in res.stderr and "is not after the previous row's" in res.stderr
    assert f"{paths[1]}: {rows - 2} more skipped rows not shown" in res.stderr


def test_a_store_replays_from_its_own_logs_directory(battwatch_bin: str, parts: tuple[Path, list[Path]],
                                                    tmp_path: Path) -> None:
    whole, _ = parts
    store = tmp_path / "store"
    first = _run(battwatch_bin, "replay", str(whole), "--store", str(store), "--jsonl")
    assert first.returncode == 0, first.stderr
    again = _run(battwatch_bin, "replay", str(store / "logs"), "--jsonl")
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout


def test_report_takes_several_logs_and_max_warnings(battwatch_bin: str, parts: tuple[Path, list[Path]],
                                                   tmp_path: Path) -> None:
    whole, paths = parts
    bad = tmp_path / "bad.csv"
    bad.write_text("time,main_v\n" + "".join(f"x{i},12.6\n" for i in range(5)))
    res = _run(battwatch_bin, "report", str(paths[1]), str(paths[0]), str(bad), "--max-warnings", "1")
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("row skipped") == 1 and f"{bad}: 4 more skipped rows not shown" in res.stderr
    one = _run(battwatch_bin, "report", str(whole)).stdout
    # the same analysis over the first two thirds: its readings line counts both logs
    n = sum(p.read_text().count("\n") - 1 for p in paths[:2])
    # three logs in two folders: named by the first, not listed (a store's year of daily logs)
    assert f"readings: {n} (5 rows skipped), from {paths[0]} and 2 more logs" in res.stdout, res.stdout[:600]
    assert one != res.stdout
    refused = _run(battwatch_bin, "report", str(paths[0]), "--max-warnings", "-1")
    assert refused.returncode == 2 and "--max-warnings must be 0 or more" in refused.stderr


def test_report_of_logs_without_a_usable_row_fails(battwatch_bin: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,main_v\nyesterday,12.6\n")
    res = _run(battwatch_bin, "report", str(bad))
    assert res.returncode == 1 and "no readings to report" in res.stderr
