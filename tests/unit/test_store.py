"""The local SQLite store and daily CSV logs."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from battwatch.adapters.store import Store, StoreError
from battwatch.core.model import AlertTransition, Reading

DAY = 86400.0
T0 = 1735689600.0  # 2025-01-01T00:00:00Z


def _r(t: float, v: float = 12.6) -> Reading:
    return Reading(t, v, v, v, 5.2, 5.2, 5.2, 10.0, 60.0, "car")


def _count(path: Path) -> int:
    db = sqlite3.connect(path / "battwatch.sqlite3")
    try:
        return int(db.execute("SELECT count(*) FROM readings").fetchone()[0])
    finally:
        db.close()


def test_store_uses_wal_and_batches_commits(tmp_path: Path) -> None:
    s = Store(tmp_path, "car", commit_rows=10, commit_interval_s=3600)
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for i in range(9):
        s.write_reading(_r(T0 + i))
    assert _count(tmp_path) == 0  # still pending: one transaction per batch spares the SD card
    s.write_reading(_r(T0 + 9))
    assert _count(tmp_path) == 10
    s.close()


def test_alert_transitions_commit_at_once_after_pending_readings(tmp_path: Path) -> None:
    s = Store(tmp_path, "car", commit_rows=1000, commit_interval_s=3600)
    s.write_reading(_r(T0))
    s.write_transition(AlertTransition(T0, "car", "sos", "age", "warning", "raised", 5.1, "old pack"))
    assert _count(tmp_path) == 1
    db = sqlite3.connect(tmp_path / "battwatch.sqlite3")
    assert db.execute("SELECT alert, state FROM events").fetchall() == [("age", "raised")]
    s.close()


def test_writing_the_same_reading_twice_keeps_one_row(tmp_path: Path) -> None:
    s = Store(tmp_path, "car")
    s.write_reading(_r(T0, 12.5))
    s.write_reading(_r(T0, 12.6))
    s.close()
    s = Store(tmp_path, "car")
    assert s.count_readings() == 1
    last = s.last_reading()
    assert last is not None and last.main_v == 12.6
    s.close()


def test_key_values_survive_a_reopen(tmp_path: Path) -> None:
    s = Store(tmp_path, "car")
    s.put("analyzer", {"alerts": [1, 2]})
    s.close()
    assert Store(tmp_path, "car").get("analyzer") == {"alerts": [1, 2]}


def test_daily_logs_roll_over_at_utc_midnight_and_retention_prunes(tmp_path: Path) -> None:
    s = Store(tmp_path, "car", retention_days=2, csv_retention_days=2)
    for day in range(5):
        s.write_reading(_r(T0 + day * DAY + 100))
    s.flush()
    logs = sorted(p.name for p in (tmp_path / "logs").glob("*.csv"))
    assert logs == [f"car-2025-01-0{d}.csv" for d in range(1, 6)]
    deleted = s.prune(now=T0 + 4 * DAY + 50)
    assert deleted == 2  # readings of Jan 1 and Jan 2 are older than two days
    logs = sorted(p.name for p in (tmp_path / "logs").glob("*.csv"))
    assert logs == ["car-2025-01-03.csv", "car-2025-01-04.csv", "car-2025-01-05.csv"]
    assert s.count_readings() == 3
    s.close()


def test_daily_log_appends_after_a_restart_without_a_second_header(tmp_path: Path) -> None:
    s = Store(tmp_path, "car")
    s.write_reading(_r(T0 + 10))
    s.close()
    s = Store(tmp_path, "car")
    s.write_reading(_r(T0 + 20))
    s.close()
    text = (tmp_path / "logs" / "car-2025-01-01.csv").read_text().splitlines()
    assert text[0].startswith("time,") and len(text) == 3
    assert sum(1 for line in text if line.startswith("time,")) == 1


def test_a_restart_that_repeats_times_never_puts_the_daily_log_back_in_time(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from battwatch.core.csvlog import RowParser

    s = Store(tmp_path, "car")
    for i in range(6):
        s.write_reading(_r(T0 + 600 * (i + 1)))
    s.close()
    s = Store(tmp_path, "car")  # a device restarted from its start: the same times again
    with caplog.at_level(logging.WARNING):
        for i in range(8):
            s.write_reading(_r(T0 + 600 * (i + 1)))
    s.close()
    assert "is not after its last row; left out of the log" in caplog.text
    lines = (tmp_path / "logs" / "car-2025-01-01.csv").read_text().splitlines()
    parser = RowParser(lines[0].split(","))
    times = [parser.parse(line.split(",")).t for line in lines[1:]]
    assert times == [T0 + 600 * (i + 1) for i in range(8)]  # the six, then the two new ones
    assert _count(tmp_path) == 8  # as the database holds them


@pytest.mark.parametrize("t", [1e300, -1e300, float("inf"), float("-inf"), float("nan"), 1736145060000.0, -37900000000.0, 0.0])
def test_a_time_no_day_can_hold_is_refused_and_counted_never_raised(tmp_path: Path, t: float, caplog: pytest.LogCaptureFixture) -> None:
    s = Store(tmp_path, "car", commit_rows=1)
    with caplog.at_level(logging.ERROR, logger="battwatch.adapters.store"):
        s.write_reading(_r(t))
        s.write_transition(AlertTransition(t, "car", "sos", "age", "warning", "raised", 5.1, "old pack"))
        assert s.prune(now=t) == 0
    s.write_reading(_r(T0))  # the store goes on
    s.flush()
    assert s.status()["refused"] == 2 and s.count_readings() == 1
    assert "reading at time" in caplog.text and "refused: outside 2000-2099" in caplog.text
    assert [p.name for p in (tmp_path / "logs").glob("*.csv")] == ["car-2025-01-01.csv"]
    s.close()


def test_a_damaged_database_is_moved_aside_kept_and_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    junk = b"SQLite format 3\x00" + bytes(range(256)) * 20  # a header, then garbage
    (tmp_path / "battwatch.sqlite3").write_bytes(junk)
    with caplog.at_level(logging.WARNING, logger="battwatch"):
        s = Store(tmp_path, "car")
    assert "not a usable SQLite database" in caplog.text
    (aside,) = tmp_path.glob("battwatch.sqlite3.damaged-*")
    assert aside.read_bytes() == junk
    s.write_reading(_r(T0))
    s.close()
    assert _count(tmp_path) == 1


@pytest.mark.parametrize(("where", "says"), [
    ("file", "exists but is not a directory"),
    ("file/sub", "cannot create the directory: Not a directory"),
    ("/proc/nope", "cannot create the directory"),
])
def test_a_store_path_that_cannot_be_used_is_a_store_error(tmp_path: Path, where: str, says: str) -> None:
    (tmp_path / "file").write_text("")
    path = Path(where) if where.startswith("/") else tmp_path / where
    with pytest.raises(StoreError, match=f"store {path}: {says}"):
        Store(path, "car")


def test_the_store_is_readable_by_its_group_only_whatever_the_umask(tmp_path: Path) -> None:
    """Readings show when the car is driven and parked: nothing in the store for others,
    also when an older version left it world-readable."""
    import os
    import stat

    old = tmp_path / "old"
    (old / "logs").mkdir(parents=True)
    old.chmod(0o755)
    (old / "battwatch.sqlite3").touch(mode=0o644)
    (old / "battwatch.sqlite3").chmod(0o644)
    previous = os.umask(0o022)
    try:
        for directory in (tmp_path / "new", old):
            store = Store(directory, "car", commit_rows=1)
            store.write_reading(Reading(T0, 12.6, 12.5, 12.7, 13.0, 13.0, 13.0, 20.0, 10.0, "car", 0))
            store.close()
            for path in [directory, *directory.rglob("*")]:
                assert not stat.S_IMODE(path.stat().st_mode) & stat.S_IRWXO, (path, oct(path.stat().st_mode))
            assert stat.S_IMODE(directory.stat().st_mode) & stat.S_IRGRP
    finally:
        os.umask(previous)
