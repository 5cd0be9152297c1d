"""The SQLite helper and the durable outbox: damaged files, the bound, set-aside rows, upgrades."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from battwatch.adapters import sqlitedb
from battwatch.adapters.outbox import DAMAGED, Outbox, Row

T0 = 1_735_689_600.0


def _rows(n: int, stream: str = "influx", start: int = 0) -> list[Row]:
    return [(stream, "", f"m v={start + i} {start + i}", 0, False) for i in range(n)]


def _damage_pages(path: Path) -> None:
    """What a power cut during an SD card's own write can leave: the header intact, the pages not."""
    size = path.stat().st_size
    assert size > 4096
    with path.open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\xa5" * (size - 4096))


def test_a_file_that_is_not_a_database_is_moved_aside_named_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "x.sqlite3"
    junk = b"not a database at all, the SD card hiccupped " * 100
    path.write_bytes(junk)
    moved: list[Path] = []
    with caplog.at_level(logging.WARNING, logger="battwatch"):
        db = sqlitedb.open_db(path, "CREATE TABLE IF NOT EXISTS t (a);", "test file", moved=moved)
    (aside,) = tmp_path.glob("x.sqlite3.damaged-*")
    assert moved == [aside] and aside in sqlitedb.moved_aside() and aside.read_bytes() == junk
    assert f"test file {path}: not a usable SQLite database" in caplog.text and aside.name in caplog.text
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("INSERT INTO t VALUES (1)")
    db.close()


def test_damaged_pages_behind_a_good_header_are_found_by_the_check_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    db = sqlitedb.open_db(path, "CREATE TABLE IF NOT EXISTS t (a);", "test file")
    db.executemany("INSERT INTO t VALUES (?)", ((("x" * 500),) for _ in range(200)))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    _damage_pages(path)
    moved: list[Path] = []
    db = sqlitedb.open_db(path, "CREATE TABLE IF NOT EXISTS t (a);", "test file", moved=moved)
    assert len(moved) == 1 and db.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    db.close()


def test_a_file_that_cannot_be_opened_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "x.sqlite3"
    with pytest.raises(sqlitedb.Unusable, match=f"test file {path}: cannot open the database: .*writable"):
        sqlitedb.open_db(path, "", "test file")


def test_the_bound_drops_the_oldest_in_drop_order_and_counts_them(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", "test outbox", 100, spill_max=10, drop_order=("readings",))
    box.append([("state", "s", b"x", 1, False)] * 10, T0)
    box.append([("readings", "r", str(i).encode(), 0, False) for i in range(100)], T0)
    assert box.waiting == 100 and box.dropped == {"readings": 10}
    # readings go first; the ten state rows are all still there
    assert sum(1 for r in box.after(0, 200) if r[1] == "state") == 10
    assert [r[3] for r in box.after(0, 200) if r[1] == "readings"][0] == b"10"
    box.append([("state", "s", b"y", 1, False)] * 95, T0)
    assert box.waiting == 100 and box.dropped == {"readings": 100, "state": 5}
    box.close()


def test_a_retained_row_replaces_the_undelivered_one_of_its_topic(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", "test outbox", 100, spill_max=10)
    box.append([("state", "car/state", b"1", 1, True), ("state", "car/state", b"2", 1, True)], T0)
    assert [r[3] for r in box.after(0, 10)] == [b"2"] and box.waiting == 1
    box.close()


def test_delivered_rows_go_and_the_rest_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, "test outbox", 1000, spill_max=10)
    box.append(_rows(10), T0)
    first = box.after(0, 4)
    assert box.delivered([r[0] for r in first]) == 4
    box.close()
    again = Outbox(path, "test outbox", 1000, spill_max=10)
    assert [r[3] for r in again.after(0, 100)] == [r[2] for r in _rows(10)][4:]
    again.close()


def test_a_file_damaged_while_open_is_replaced_and_ids_carry_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, "test outbox", 100_000, spill_max=10)
    # more than the page cache holds, so the oldest rows are read from the file again
    box.append([("influx", "", f"m v={i},pad=\"{'x' * 400}\" {i}", 0, False) for i in range(2000)], T0)
    high = 2000  # the rows' ids: a new file numbers from 1
    box.query("PRAGMA wal_checkpoint(TRUNCATE)")
    _damage_pages(path)
    with caplog.at_level(logging.WARNING, logger="battwatch"):
        assert box.after(0, 10) == []  # the damage is met, the file moved aside
    assert len(list(tmp_path.glob("o.sqlite3.damaged-*"))) == 1
    assert box.status()["damaged_files"] == 1 and box.dropped == {DAMAGED: 2000}
    assert "2000 rows were in the damaged file" in caplog.text
    box.append(_rows(3, start=5000), T0)
    fresh = box.after(0, 10)
    # a sender that had handed out rows up to `high` misses none of the new ones
    assert [r[3] for r in box.after(high, 10)] == [r[3] for r in fresh] and len(fresh) == 3
    assert fresh[0][0] > high
    box.close()


def test_rows_set_aside_leave_the_queue_and_stay_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, "test outbox", 1000, spill_max=10)
    box.append(_rows(3), T0)
    bad = box.after(0, 3)[1]
    box.set_aside([bad], "HTTP 400: field type conflict")
    assert box.waiting == 2 and box.status()["set_aside"] == 1
    assert bad[0] not in [r[0] for r in box.after(0, 10)]
    box.close()
    kept = sqlite3.connect(path).execute("SELECT payload, why FROM set_aside").fetchall()
    assert kept == [(bad[3], "HTTP 400: field type conflict")]


def test_an_influx_outbox_of_the_earlier_version_is_upgraded_keeping_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "influx-outbox.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL, queued REAL NOT NULL)")
    old.executemany("INSERT INTO outbox (line, queued) VALUES (?, ?)", ((f"m v={i} {i}", T0) for i in range(5)))
    old.close()
    box = Outbox(path, "influx outbox", 1000, spill_max=10)
    assert [(r[1], r[3]) for r in box.after(0, 10)] == [("influx", f"m v={i} {i}") for i in range(5)]
    assert box.oldest_created() == T0
    box.close()


def test_a_file_that_cannot_be_opened_keeps_rows_in_bounded_memory_until_it_can(tmp_path: Path) -> None:
    where = tmp_path / "later"
    where.write_text("a file where the directory should be")
    box = Outbox(where / "o.sqlite3", "test outbox", 1000, spill_max=5)
    box.append(_rows(8), time.time())
    assert box.db is None and len(box.spill) == 5 and box.dropped == {"influx": 3}
    assert box.status()["outbox_error"] is not None
    where.unlink()
    where.mkdir()
    box.retry()
    assert box.db is not None and not box.spill and [r[3] for r in box.after(0, 10)] == [r[2] for r in _rows(8)][3:]
    box.close()


@pytest.mark.parametrize("section", ["mqtt", "influx"])
@pytest.mark.parametrize("value", [5, 20_000_000, "many"])
def test_the_outbox_bound_is_a_checked_key(section: str, value: object) -> None:
    from battwatch import config

    extra = {"host": "h"} if section == "mqtt" else {"url": "http://h:8086", "api": "v1", "database": "d"}
    with pytest.raises(config.ConfigError) as e:
        config.from_dict({"vehicle": {"id": "c"}, section: {**extra, "backlog_max": value}}, env={})
    assert any(f"{section}.backlog_max" in p for p in e.value.problems)
