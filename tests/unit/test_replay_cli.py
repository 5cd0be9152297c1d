"""``battwatch replay``: bad rows are skipped with their line numbers, the stream goes on."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest


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
    assert "(battwatch import converts logs in other formats)" in res.stderr


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


T = 1735689600  # 2025-01-01T00:00:00Z


def test_replay_into_a_store_applies_its_retention_in_data_time(battwatch_bin: str, tmp_path: Path) -> None:
    """As the daemon does: readings and events older than retention_days, and daily logs
    older than csv_retention_days, before the log's last reading are deleted."""
    log = tmp_path / "log.csv"
    hours = 240  # 2025-01-01 to 2025-01-10, a reading an hour
    log.write_text("time,main_v,sos_v\n" + "".join(f"{T + i * 3600},12.6,5.2\n" for i in range(hours)))
    store = tmp_path / "store"
    cfg = tmp_path / "car.toml"
    cfg.write_text(f'[vehicle]\nid = "car-1"\n[store]\npath = "{store}"\nretention_days = 3\n'
                   "csv_retention_days = 2\n")
    res = _run(battwatch_bin, str(log), "-c", str(cfg), "--store", str(store))
    assert res.returncode == 0, res.stderr
    last = T + (hours - 1) * 3600
    db = sqlite3.connect(store / "battwatch.sqlite3")
    try:
        times = [t for (t,) in db.execute("SELECT t FROM readings ORDER BY t")]
    finally:
        db.close()
    assert times == [float(T + i * 3600) for i in range(hours) if T + i * 3600 >= last - 3 * 86400]
    days = sorted(p.name for p in (store / "logs").glob("*.csv"))
    assert days == ["car-1-2025-01-08.csv", "car-1-2025-01-09.csv", "car-1-2025-01-10.csv"]


def _one_line_error(res: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert res.returncode == code, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    return res.stderr.strip()


def test_a_directory_without_logs_is_refused(battwatch_bin: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a log\n")
    err = _one_line_error(_run(battwatch_bin, str(tmp_path)))
    assert err == f"battwatch replay: {tmp_path}: a directory without CSV logs (*.csv, *.csv.gz)"


def test_times_in_milliseconds_are_bad_rows_and_nothing_reaches_the_store(battwatch_bin: str, tmp_path: Path) -> None:
    log = tmp_path / "ms.csv"
    log.write_text(f"time,main_v,sos_v\n{T * 1000},12.6,5.2\n{T * 1000 + 60000},12.6,5.2\n{T + 120},1e300,5.2\n")
    store = tmp_path / "store"
    res = _run(battwatch_bin, str(log), "--store", str(store))
    # no usable row at all: a failure, not a replay that happened to raise nothing
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.splitlines()[-1] == (f"battwatch replay: no usable row in {log}: nothing was replayed "
                                           "(battwatch import converts logs in other formats)")
    assert f"{log}:2: row skipped: time {T * 1000} is after 2099 as Unix seconds; it looks like Unix milliseconds" in res.stderr
    assert f"{log}:4: row skipped: main_v: 1e300 is outside -100..100 V" in res.stderr
    assert "replayed 0 readings (3 rows skipped)" in res.stderr
    assert list(store.glob("logs/*.csv")) == []
    db = sqlite3.connect(store / "battwatch.sqlite3")
    assert db.execute("SELECT count(*) FROM readings").fetchone() == (0,)
    db.close()


def test_every_bad_row_is_warned_about_unless_capped(battwatch_bin: str, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("time,main_v\n" + "".join(f"{T + i},x\n" for i in range(70)) + f"{T + 100},12.6\n")
    res = _run(battwatch_bin, str(log))
    assert res.stderr.count("row skipped") == 70 and f"{log}:71: row skipped" in res.stderr
    assert "replayed 1 readings (70 rows skipped)" in res.stderr
    res = _run(battwatch_bin, str(log), "--max-warnings", "3")
    assert res.stderr.count("row skipped") == 3 and f"{log}: 67 more skipped rows not shown" in res.stderr
    assert "replayed 1 readings (70 rows skipped)" in res.stderr


def _scenario_log(tmp_path: Path, vehicle: str, name: str = "sos-step-drop") -> Path:
    from battwatch import scenarios
    from battwatch.core.csvlog import write_csv

    log = tmp_path / f"{vehicle}.csv"
    with log.open("w") as fh:
        write_csv(fh, scenarios.generate(name), vehicle=vehicle)
    return log


def test_without_a_config_the_vehicle_is_the_one_the_log_names(battwatch_bin: str, tmp_path: Path) -> None:
    log = _scenario_log(tmp_path, "car-7")
    res = _run(battwatch_bin, str(log), "--jsonl", "--store", str(tmp_path / "store"))
    assert res.returncode == 0, res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert got and {d["vehicle"] for d in got} == {"car-7"}
    assert sorted(p.name for p in (tmp_path / "store" / "logs").glob("*.csv"))[0].startswith("car-7-")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[vehicle]\nid = "from-config"\n')
    res = _run(battwatch_bin, str(log), "--jsonl", "-c", str(cfg))
    assert {json.loads(line)["vehicle"] for line in res.stdout.splitlines()} == {"from-config"}
    # a vehicle column with a name that cannot be an id: the default, with a warning
    odd = tmp_path / "odd.csv"
    odd.write_text(f"time,vehicle,main_v\n{T},my car,12.6\n")
    res = _run(battwatch_bin, str(odd), "--store", str(tmp_path / "odd"))
    assert "vehicle 'my car' is not a valid vehicle id; replaying as 'replay'" in res.stderr
    assert [p.name for p in (tmp_path / "odd" / "logs").glob("*.csv")] == ["replay-2025-01-01.csv"]


def test_a_log_already_in_the_store_stops_with_a_hint_and_fresh_replays_it(battwatch_bin: str, tmp_path: Path) -> None:
    log = _scenario_log(tmp_path, "car-7")
    store = tmp_path / "store"
    assert _run(battwatch_bin, str(log), "--store", str(store)).returncode == 0
    err = _one_line_error(_run(battwatch_bin, str(log), "--store", str(store)))
    assert "starts at 2025-" in err and "not after the last reading the store" in err and "--fresh" in err
    res = _run(battwatch_bin, str(log), "--store", str(store), "--fresh")
    assert res.returncode == 0 and "0 rows skipped" in res.stderr
    assert _one_line_error(_run(battwatch_bin, str(log), "--fresh")).endswith("--fresh goes with --store "
                                                                              "(without one the analysis always starts afresh)")


@pytest.mark.parametrize("where", ["file", "/proc/x", "file/sub"])
def test_a_store_that_cannot_be_opened_is_a_one_line_error(battwatch_bin: str, tmp_path: Path, where: str) -> None:
    log = tmp_path / "log.csv"
    log.write_text(f"time,main_v\n{T},12.6\n")
    (tmp_path / "file").write_text("")
    store = where if where.startswith("/") else str(tmp_path / where)
    err = _one_line_error(_run(battwatch_bin, str(log), "--store", store))
    assert err.startswith(f"battwatch replay: store {store}: ")


def test_a_damaged_store_database_is_moved_aside_with_a_warning(battwatch_bin: str, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(f"time,main_v\n{T},12.6\n")
    store = tmp_path / "store"
    store.mkdir()
    (store / "battwatch.sqlite3").write_bytes(b"not a database at all" * 100)
    res = _run(battwatch_bin, str(log), "--store", str(store))
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "not a usable SQLite database (file is not a database); moved it to battwatch.sqlite3.damaged-" in res.stderr
    (aside,) = store.glob("battwatch.sqlite3.damaged-*")
    assert aside.read_bytes() == b"not a database at all" * 100
    assert "replayed 1 readings" in res.stderr


def test_a_gzip_log_and_standard_input_replay_as_the_plain_file_does(battwatch_bin: str, tmp_path: Path) -> None:
    import gzip

    log = _scenario_log(tmp_path, "car-7")
    plain = _run(battwatch_bin, str(log), "--jsonl")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip(), "the scenario should raise alerts to compare"
    # compressed, under a name that does not say so: told by its first bytes
    packed = tmp_path / "field-log.csv"
    packed.write_bytes(gzip.compress(log.read_bytes()))
    zipped = _run(battwatch_bin, str(packed), "--jsonl")
    assert zipped.returncode == 0, zipped.stderr
    assert zipped.stdout == plain.stdout
    # a pipe: `zcat log.csv.gz | battwatch replay - --jsonl`, the vehicle still taken from the log
    piped = subprocess.run([battwatch_bin, "replay", "-", "--jsonl"], input=log.read_text(),
                           capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == plain.stdout
    assert {json.loads(line)["vehicle"] for line in piped.stdout.splitlines()} == {"car-7"}


def test_a_small_cut_short_gzip_log_still_gives_its_whole_lines(battwatch_bin: str, tmp_path: Path) -> None:
    """Cut inside the first few kilobytes: what came out before the cut is still there."""
    import gzip

    rows = ["time,main_v,sos_v"] + [f"{T + i * 60},12.{600 + i % 100},5.2" for i in range(3000)]
    packed = gzip.compress(("\n".join(rows) + "\n").encode())
    cut = tmp_path / "small.csv.gz"
    cut.write_bytes(packed[:2000])
    whole = zlib.decompressobj(wbits=31).decompress(cut.read_bytes()).count(b"\n") - 1
    assert whole > 0
    res = _run(battwatch_bin, str(cut))
    assert res.returncode == 0, res.stderr
    assert f"replayed {whole} readings (0 rows skipped)" in res.stderr
    assert "cut short or damaged" in res.stderr


def test_bad_rows_from_standard_input_are_named_by_line(battwatch_bin: str, bad_rows_log: Path,
                                                       tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    res = subprocess.run([battwatch_bin, "replay", "-"], input=bad_rows_log.read_text(),
                         capture_output=True, text=True, env={**os.environ, "TMPDIR": str(spool)})
    assert res.returncode == 0, res.stderr
    assert "<stdin>:4: row skipped: sos_v: 'five' is not a number" in res.stderr
    assert "replayed 2 readings (2 rows skipped)" in res.stderr
    assert list(spool.iterdir()) == []  # the spooled copy of the input is removed


def test_a_cut_short_gzip_log_replays_up_to_its_last_whole_line(battwatch_bin: str, tmp_path: Path) -> None:
    import gzip

    rows = ["time,main_v,sos_v"] + [f"{T + i * 60},12.{600 + i % 100},5.2" for i in range(20000)]
    packed = gzip.compress(("\n".join(rows) + "\n").encode())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    store = tmp_path / "store"
    res = _run(battwatch_bin, str(cut), "--store", str(store))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert f"{cut}: the compressed log is cut short or damaged" in res.stderr
    got = int(re.search(r"replayed (\d+) readings \(0 rows skipped\)", res.stderr).group(1))  # type: ignore[union-attr]
    # every whole line that can be got out of the cut file is replayed (the header aside)
    whole = zlib.decompressobj(wbits=31).decompress(cut.read_bytes()).count(b"\n") - 1
    assert 0 < got == whole < 20000
    # every reading kept is a whole row of the original: none cut in the middle of a number
    with sqlite3.connect(store / "battwatch.sqlite3") as db:
        kept = db.execute("SELECT t, main_v FROM readings ORDER BY t").fetchall()
    assert len(kept) == got
    assert all(abs(v - (12.6 + ((t - T) // 60 % 100) / 1000)) < 1e-6 for t, v in kept)
    # the same from a pipe, and from report
    piped = subprocess.run([battwatch_bin, "replay", "-"], input=cut.read_bytes(), capture_output=True)
    assert piped.returncode == 0 and b"<stdin>: the compressed log is cut short" in piped.stderr
    rep = subprocess.run([battwatch_bin, "report", str(cut)], capture_output=True, text=True)
    assert rep.returncode == 0 and "cut short or damaged" in rep.stderr and "Traceback" not in rep.stderr


# what a plain replay must not load: each is used only with --store or --publish, by other
# commands, or for a configuration file (the user feels every import at each replay's start);
# dataclasses (with inspect, ast and dis) only when something asks a record for its dataclass
# side, shutil (with bz2 and lzma) only for a stdin spool, not for argparse's width
OPTION_ONLY_MODULES = ("battwatch.app", "battwatch.adapters.store", "battwatch.adapters.clock", "battwatch.sinks",
                       "battwatch.importlog", "battwatch.logsetup", "sqlite3", "logging", "tomllib", "json",
                       "dataclasses", "shutil")


def test_a_plain_replay_loads_no_store_sink_logging_or_toml_module(bad_rows_log: Path) -> None:
    probe = ("import sys\nfrom battwatch.cli import main\nrc = main(['replay', sys.argv[1]])\n"
             "print(rc, ' '.join(m for m in sys.argv[2:] if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", probe, str(bad_rows_log), *OPTION_ONLY_MODULES],
                         capture_output=True, text=True)
    assert res.stdout.split("\n")[0] == "0 ", res.stdout + res.stderr
