"""Local store: SQLite (WAL) for readings, events and alert state, plus daily CSV logs."""

from __future__ import annotations

import csv
import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import IO, Any

from battwatch.adapters import sqlitedb
from battwatch.adapters.trouble import Trouble
from battwatch.config import StoreError
from battwatch.core.csvlog import COLUMNS, format_row
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.timefmt import MAX_T, MIN_T, iso_utc, parse_time

logger = logging.getLogger(__name__)

DB_NAME = "battwatch.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    t REAL PRIMARY KEY,            -- Unix seconds, end of window; replaying twice overwrites
    main_v REAL, main_min_v REAL, main_max_v REAL,
    sos_v REAL, sos_min_v REAL, sos_max_v REAL,
    temp_c REAL, window_s REAL, flags INTEGER, state TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL, battery TEXT, alert TEXT, severity TEXT, state TEXT,
    value REAL, message TEXT,
    UNIQUE (t, battery, alert, state, severity)
);
CREATE INDEX IF NOT EXISTS events_t ON events (t);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replacements (
    id INTEGER PRIMARY KEY,
    battery TEXT NOT NULL, t REAL NOT NULL,   -- the battery fitted new, from data time t
    note TEXT NOT NULL, source TEXT NOT NULL, -- the owner's words; cli or mqtt
    recorded REAL NOT NULL,                   -- wall clock of the record
    UNIQUE (battery, t)
);
"""


STORE_DIR_MODE = 0o750  # the service's group may read (status, replay); nobody else
NOT_OTHERS = ~(stat.S_IRWXO) & 0o7777


def keep_private(path: Path) -> None:
    """Take away every permission for others from ``path`` (the store tells when the car is
    driven and parked); one the process does not own is left as it is."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & stat.S_IRWXO:
            os.chmod(path, mode & NOT_OTHERS)
    except OSError:
        pass


def _utc_day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def _last_time(path: Path) -> float:
    """The time of a daily log's last row (its end is read, not the whole file); -inf when
    it has no readable row, so that anything may follow."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        tail = fh.read().decode("utf-8", "replace")
    for line in reversed(tail.splitlines()):
        first = line.split(",", 1)[0].strip()
        if not first or first == COLUMNS[0]:
            continue
        try:
            return parse_time(first)
        except ValueError:
            return float("-inf")  # a torn last line: the next reading decides
    return float("-inf")


class DailyCsvLog:
    """Appends readings to one CSV file per UTC day, in the replay format.

    Rows gather in memory and go to the file at ``flush()`` (the store's commit) as one
    write of whole lines, fsynced. A write the disk cannot take whole (full) is cut back to
    where the file ended, so the log never holds a torn row; those rows are counted.
    """

    def __init__(self, directory: Path, vehicle: str) -> None:
        self.directory = directory
        self.vehicle = vehicle
        self._day: str | None = None
        self._fh: IO[bytes] | None = None
        self._path: Path | None = None
        self._buf = StringIO()
        self._writer: Any = csv.writer(self._buf, lineterminator="\n")
        self._rows = 0  # rows in the buffer
        self._day_end = float("-inf")
        self._day_start = float("inf")
        # the last time written to the open file: a log a replay must accept never goes back
        # in time, so a reading at or before it (a device restarted with repeated times, a
        # replay into a store that has the day already) is left out, as the database's
        # primary key leaves it out there
        self._last_t = float("-inf")
        self.out_of_order = 0
        self.trouble = Trouble(logger, f"daily CSV log in {directory}")

    def path_for(self, day: str) -> Path:
        return self.directory / f"{self.vehicle}-{day}.csv"

    def _open(self, t: float) -> None:
        self.close()
        self._day = _utc_day(t)
        start = datetime.strptime(self._day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        self._day_start, self._day_end = start, start + 86400.0
        path = self.path_for(self._day)
        try:
            self.directory.mkdir(mode=STORE_DIR_MODE, parents=True, exist_ok=True)
            keep_private(self.directory)
            self._last_t = _last_time(path) if path.exists() and path.stat().st_size else float("-inf")
            self._fh = path.open("ab", buffering=0)
        except OSError as e:
            self._fh = None
            self.trouble.failed(e)
        self._path = path
        keep_private(path)

    def write(self, r: Reading) -> None:
        if not self._day_start <= r.t < self._day_end:
            # the day's last rows, not fsynced: the database has them durably already (this
            # runs inside the store's commit), and an accelerated replay crosses many days
            self.flush(sync=False)
            self._open(r.t)
        if r.t <= self._last_t:
            if self.out_of_order == 0 or self.out_of_order % 1000 == 0:
                logger.warning("daily log %s: a reading at %s is not after its last row; left out of the "
                               "log (%d so far), as the database leaves out a time it has",
                               self.path_for(self._day or ""), iso_utc(r.t), self.out_of_order + 1)
            self.out_of_order += 1
            return
        self._last_t = r.t
        self._writer.writerow(format_row(r, self.vehicle))
        self._rows += 1

    def flush(self, *, sync: bool = True) -> None:
        """Append the buffered rows as whole lines, durably (``sync``); on failure none of them."""
        if not self._rows:
            return
        text, rows = self._buf.getvalue(), self._rows
        self._buf.seek(0)
        self._buf.truncate()
        self._rows = 0
        fh = self._fh
        if fh is None and self._path is not None:
            try:  # the directory or file could not be opened before: try again
                self._fh = fh = self._path.open("ab", buffering=0)
            except OSError as e:
                self.trouble.failed(e, rows, consequence="rows left out of the daily log")
                return
        if fh is None:
            return
        end = os.lseek(fh.fileno(), 0, os.SEEK_END)
        data = ((",".join(COLUMNS) + "\n") if end == 0 else "").encode() + text.encode("utf-8")
        try:
            done = 0
            while done < len(data):
                n = fh.write(data[done:])
                done += n or 0
            if sync:
                os.fsync(fh.fileno())
        except OSError as e:
            try:
                os.ftruncate(fh.fileno(), end)  # never a torn row
            except OSError:
                logger.exception("daily log %s: could not cut a failed write back", self._path)
            self.trouble.failed(e, rows, consequence="rows left out of the daily log")
            return
        self.trouble.ok()

    def close(self) -> None:
        self.flush(sync=False)
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._day_start, self._day_end = float("inf"), float("-inf")

    def prune(self, keep_days: int, now: float) -> int:
        """Delete daily logs older than ``keep_days``; returns how many went."""
        if keep_days <= 0 or not self.directory.is_dir():
            return 0
        cutoff = _utc_day(now - keep_days * 86400.0)
        gone = 0
        for path in self.directory.glob(f"{self.vehicle}-*.csv"):
            day = path.stem[len(self.vehicle) + 1 :]
            if day < cutoff and path != (self._fh and self._path):
                path.unlink(missing_ok=True)
                gone += 1
        return gone


Batch = list[tuple[Reading, str]]


class Store:
    """The embedded default sink: everything the daemon learns lands here first.

    Writes are batched into one transaction per ``commit_rows`` readings or
    ``commit_interval_s`` seconds (whichever comes first) to spare the SD card; alert
    transitions commit at once because they must survive a power cut.

    ``on_commit`` is the commit point: it gets each batch of readings once the database and
    the daily log have them durably, or once they could not take them (a full disk: counted
    in ``unwritten``, and the readings must still reach the network sinks). The daemon hands
    readings to the network sinks there, so they never hold what a power cut took from the
    store. A full or failing disk never raises out of the store: it is one warning, a count
    every minute, and shown in ``status()``; each commit tries again.
    """

    name = "store"

    def __init__(
        self,
        directory: Path,
        vehicle: str,
        *,
        csv_logs: bool = True,
        commit_rows: int = 500,
        commit_interval_s: float = 5.0,
        retention_days: int = 730,
        csv_retention_days: int = 0,
        on_commit: Callable[[Batch], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.vehicle = vehicle
        self.commit_rows = commit_rows
        self.commit_interval_s = commit_interval_s
        self.retention_days = retention_days
        self.csv_retention_days = csv_retention_days
        self.refused = 0  # readings and transitions whose time no day can hold (see _refuse)
        self.unwritten = 0  # readings the database could not take (a full or failing disk)
        try:
            self.directory.mkdir(mode=STORE_DIR_MODE, parents=True, exist_ok=True)
        except FileExistsError:
            raise StoreError(f"store {self.directory}: exists but is not a directory") from None
        except OSError as e:
            raise StoreError(f"store {self.directory}: cannot create the directory: {e.strerror}") from None
        keep_private(self.directory)
        self.db = self._open_db()
        # SQLite gives the -wal and -shm files the database's own mode
        keep_private(self.directory / DB_NAME)
        self.csv = DailyCsvLog(self.directory / "logs", vehicle) if csv_logs else None
        self._pending: Batch = []
        self._last_commit = time.monotonic()
        self.readings_written = 0
        self.on_commit = on_commit
        self.trouble = Trouble(logger, f"store database {self.directory / DB_NAME}")

    def _open_db(self) -> sqlite3.Connection:
        """The database, set up; a damaged one is moved aside (kept) and a new one started."""
        try:
            # FULL: each commit is fsynced, so a power cut (an ignition-switched Pi, daily) loses
            # only what came after the last commit; commits are a few seconds apart
            # ([store] commit_interval_s), which keeps the SD card's writes low.
            return sqlitedb.open_db(self.directory / DB_NAME, SCHEMA, "store", synchronous="FULL")
        except sqlitedb.Unusable as e:
            raise StoreError(str(e)) from None

    # -- sink protocol ---------------------------------------------------------------
    def start(self) -> None:
        pass

    def _refuse(self, what: str, t: float) -> None:
        # Defence in depth: every source bounds its times already, but a time no calendar day
        # can hold must not become a traceback in the daemon or a NULL key in the database.
        self.refused += 1
        if self.refused == 1 or self.refused % 1000 == 0:
            logger.error("store: %s at time %r refused: outside 2000-2099 (%d refused so far)",
                         what, t, self.refused)

    def write_reading(self, r: Reading, state: str | None = None) -> None:
        if not MIN_T <= r.t < MAX_T:
            self._refuse("reading", r.t)
            return
        self._pending.append((r, state or ""))
        if (
            len(self._pending) >= self.commit_rows
            or time.monotonic() - self._last_commit >= self.commit_interval_s
        ):
            self.flush()

    @property
    def accepted(self) -> int:
        """Readings taken so far, committed or waiting for the next commit: a reading is
        settled once ``settled`` reaches the count this said just after it was written."""
        return self.settled + len(self._pending)

    @property
    def settled(self) -> int:
        """Readings past the commit point: on disk, or counted as unwritten (a full disk)."""
        return self.readings_written + self.unwritten

    def write_transition(self, tr: AlertTransition) -> None:
        if not MIN_T <= tr.t < MAX_T:
            self._refuse("alert transition", tr.t)
            return
        self.flush()  # keep order: readings before the alert they caused
        try:
            self._insert_event(tr)
        except sqlite3.Error as e:
            self.trouble.failed(e, consequence="an alert transition not stored")

    def record_transitions(self, trs: list[AlertTransition], state_key: str, state: Any) -> None:
        """Alert transitions and the analysis state that produced them, in one transaction.

        A power cut can then never leave an alert stored without the state that knows it is
        raised (a restart would raise it again) or the reverse (a restart would forget it).
        """
        self.flush()
        try:
            with self.db:
                self.db.execute("BEGIN")
                for tr in trs:
                    self._insert_event(tr)
                self._put(state_key, state)
        except sqlite3.Error as e:
            self.trouble.failed(e, consequence="alert transitions not stored; the analysis state "
                                               "is saved again at the next tick")
        else:
            self.trouble.ok()

    def _insert_event(self, tr: AlertTransition) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO events (t, battery, alert, severity, state, value, message)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tr.t, tr.battery, tr.alert, tr.severity, tr.state, tr.value, tr.message),
        )

    def flush(self) -> None:
        """Commit what is pending to the database and the daily log, then tell ``on_commit``."""
        self._last_commit = time.monotonic()
        batch, self._pending = self._pending, []
        if not batch:
            return
        rows = [(r.t, r.main_v, r.main_min_v, r.main_max_v, r.sos_v, r.sos_min_v, r.sos_max_v,
                 r.temp_c, r.window_s, r.flags, state or None) for r, state in batch]
        try:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany("INSERT OR REPLACE INTO readings VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        except sqlite3.Error as e:
            self.unwritten += len(batch)
            self.trouble.failed(e, len(batch), consequence="readings not stored; the network sinks still get them")
        else:
            self.readings_written += len(batch)
            self.trouble.ok()
        if self.csv is not None:
            for r, _ in batch:
                self.csv.write(r)
            self.csv.flush()
        if self.on_commit is not None:
            self.on_commit(batch)

    def close(self, timeout: float = 5.0) -> None:
        self.flush()
        if self.csv is not None:
            self.csv.close()
        self.db.close()

    @property
    def problem(self) -> str | None:
        """What keeps the store from writing right now (a full disk), or None."""
        parts = [t.last_error for t in self._troubles() if t.active and t.last_error]
        return "; ".join(dict.fromkeys(parts)) or None

    def _troubles(self) -> list[Trouble]:
        return [self.trouble] + ([self.csv.trouble] if self.csv is not None else [])

    def health(self) -> dict[str, Any]:
        """The store's side of the summary (and so of the MQTT state): is it writing?"""
        return {"ok": self.problem is None, "problem": self.problem, "unwritten": self.unwritten,
                "csv_unwritten": self.csv.trouble.lost if self.csv is not None else 0}

    def reading(self, r: Reading, state: str) -> None:
        self.write_reading(r, state)

    def transition(self, tr: AlertTransition) -> None:
        self.write_transition(tr)

    def summary(self, s: HealthSummary) -> None:
        self.put("summary", s.data.to_json())

    def reminder(self, tr: AlertTransition) -> None:
        pass  # the store keeps transitions; a reminder changes nothing it holds

    def status(self) -> dict[str, Any]:
        since = [t.since for t in self._troubles() if t.since is not None]
        return {"path": str(self.directory), "readings_written": self.readings_written,
                "pending": len(self._pending), "refused": self.refused, "unwritten": self.unwritten,
                "csv_unwritten": self.csv.trouble.lost if self.csv is not None else 0,
                "last_error": self.problem, "failing_since": min(since) if since else None}

    # -- state that must survive a restart -------------------------------------------
    def put(self, key: str, value: Any) -> None:
        try:
            self._put(key, value)
        except sqlite3.Error as e:
            self.trouble.failed(e, consequence=f"{key} not saved; saved again at the next tick")

    def _put(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- housekeeping ------------------------------------------------------------------
    def prune(self, now: float) -> int:
        """Apply retention; returns the number of readings deleted."""
        if not MIN_T <= now < MAX_T:
            return 0  # no cutoff can be reckoned from a time no day holds
        cutoff = now - self.retention_days * 86400.0
        if self._pending and self._pending[0][0].t < cutoff:
            self.flush()  # only then: a commit is an fsync, and a fast replay prunes often
        if self.csv is not None:
            self.csv.prune(self.csv_retention_days, now)
        try:
            cur = self.db.execute("DELETE FROM readings WHERE t < ?", (cutoff,))
            self.db.execute("DELETE FROM events WHERE t < ?", (cutoff,))
        except sqlite3.Error as e:
            self.trouble.failed(e, consequence="retention not applied")
            return 0
        return cur.rowcount

    # -- replacements told by the owner (battwatch replaced, MQTT) ----------------------
    def record_replacement(self, battery: str, t: float, note: str, source: str, recorded: float) -> bool:
        """Record a new battery fitted at data time ``t``; False when exactly that is recorded already."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO replacements (battery, t, note, source, recorded) VALUES (?, ?, ?, ?, ?)",
            (battery, t, note, source, recorded),
        )
        return cur.rowcount == 1

    def replacements(self, after_id: int = 0) -> list[tuple[int, str, float, str, str, float]]:
        """(id, battery, t, note, source, recorded) of the replacements recorded after ``after_id``."""
        return [
            (int(r[0]), str(r[1]), float(r[2]), str(r[3]), str(r[4]), float(r[5]))
            for r in self.db.execute(
                "SELECT id, battery, t, note, source, recorded FROM replacements WHERE id > ? ORDER BY id",
                (after_id,),
            )
        ]

    def first_reading_t(self) -> float | None:
        row = self.db.execute("SELECT min(t) FROM readings").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # -- queries (status, report) ------------------------------------------------------
    def count_readings(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM readings").fetchone()[0])

    def last_reading(self) -> Reading | None:
        row = self.db.execute(
            "SELECT t, main_v, main_min_v, main_max_v, sos_v, sos_min_v, sos_max_v, temp_c,"
            " window_s, flags FROM readings ORDER BY t DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        t, mv, mmin, mmax, sv, smin, smax, temp, window, flags = row
        return Reading(t, mv, mmin, mmax, sv, smin, smax, temp, window, self.vehicle, flags)

    def events(self, limit: int = 50) -> list[AlertTransition]:
        rows = self.db.execute(
            "SELECT t, battery, alert, severity, state, value, message FROM events"
            " ORDER BY t DESC, id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [AlertTransition(r[0], self.vehicle, r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]
