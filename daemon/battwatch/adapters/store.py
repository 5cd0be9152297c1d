"""Local store: SQLite (WAL) for readings, events and alert state, plus daily CSV logs."""

from __future__ import annotations

import csv
import json
import logging
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from battwatch.config import StoreError
from battwatch.core.csvlog import COLUMNS, format_row
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.timefmt import MAX_T, MIN_T, iso_utc, parse_time

logger = logging.getLogger(__name__)

DB_NAME = "battwatch.sqlite3"
# SQLite's primary result codes for a file that is damaged or is not a database at all
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26

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
    """Appends readings to one CSV file per UTC day, in the replay format."""

    def __init__(self, directory: Path, vehicle: str) -> None:
        self.directory = directory
        self.vehicle = vehicle
        self._day: str | None = None
        self._fh: IO[str] | None = None
        self._writer: Any = None
        self._day_end = float("-inf")
        self._day_start = float("inf")
        # the last time written to the open file: a log a replay must accept never goes back
        # in time, so a reading at or before it (a device restarted with repeated times, a
        # replay into a store that has the day already) is left out, as the database's
        # primary key leaves it out there
        self._last_t = float("-inf")
        self.out_of_order = 0

    def path_for(self, day: str) -> Path:
        return self.directory / f"{self.vehicle}-{day}.csv"

    def _open(self, t: float) -> None:
        self.close()
        self._day = _utc_day(t)
        start = datetime.strptime(self._day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        self._day_start, self._day_end = start, start + 86400.0
        path = self.path_for(self._day)
        self.directory.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        self._last_t = float("-inf") if new else _last_time(path)
        self._fh = path.open("a", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        if new:
            self._writer.writerow(COLUMNS)

    def write(self, r: Reading) -> None:
        if not self._day_start <= r.t < self._day_end:
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

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
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
            if day < cutoff and path != (self._fh and Path(self._fh.name)):
                path.unlink(missing_ok=True)
                gone += 1
        return gone


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash may
        # lose the last transaction, which is the trade the SD card wants.
        db.execute("PRAGMA synchronous=NORMAL")
        # writes are batched and reads are rare: a 512 kB page cache instead of 2 MB (Pi Zero)
        db.execute("PRAGMA cache_size=-512")
        db.executescript(SCHEMA)
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


class Store:
    """The embedded default sink: everything the daemon learns lands here first.

    Writes are batched into one transaction per ``commit_rows`` readings or
    ``commit_interval_s`` seconds (whichever comes first) to spare the SD card; alert
    transitions commit at once because they must survive a power cut.
    """

    name = "store"

    def __init__(
        self,
        directory: Path,
        vehicle: str,
        *,
        csv_logs: bool = True,
        commit_rows: int = 500,
        commit_interval_s: float = 30.0,
        retention_days: int = 730,
        csv_retention_days: int = 0,
    ) -> None:
        self.directory = Path(directory)
        self.vehicle = vehicle
        self.commit_rows = commit_rows
        self.commit_interval_s = commit_interval_s
        self.retention_days = retention_days
        self.csv_retention_days = csv_retention_days
        self.refused = 0  # readings and transitions whose time no day can hold (see _refuse)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StoreError(f"store {self.directory}: exists but is not a directory") from None
        except OSError as e:
            raise StoreError(f"store {self.directory}: cannot create the directory: {e.strerror}") from None
        self.db = self._open_db()
        self.csv = DailyCsvLog(self.directory / "logs", vehicle) if csv_logs else None
        self._pending: list[tuple[Any, ...]] = []
        self._last_commit = time.monotonic()
        self.readings_written = 0

    def _open_db(self) -> sqlite3.Connection:
        """The database, set up; a damaged one is moved aside (kept) and a new one started."""
        path = self.directory / DB_NAME
        try:
            return _connect(path)
        except sqlite3.DatabaseError as e:
            if e.sqlite_errorcode & 0xFF not in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
                raise StoreError(f"store {path}: cannot open the database: {e} "
                                 f"(check that {self.directory} is writable by this user)") from None
            damage = str(e)
        # Keeping the car's monitoring going matters more than the old file, which is kept
        # under another name for a person to look at (sqlite3 DB .recover can rescue rows).
        aside = path.with_name(f"{DB_NAME}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
        try:
            for suffix in ("", "-wal", "-shm"):
                side = Path(f"{path}{suffix}")
                if side.exists():
                    side.rename(Path(f"{aside}{suffix}"))
        except OSError as e:
            raise StoreError(f"store {path}: not a usable SQLite database ({damage}) and it cannot be "
                             f"moved aside ({e.strerror}): move it away by hand") from None
        logger.warning("store %s: not a usable SQLite database (%s); moved it to %s and started a new one",
                       path, damage, aside.name)
        try:
            return _connect(path)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"store {path}: cannot create a new database: {e}") from None

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
        self._pending.append(
            (r.t, r.main_v, r.main_min_v, r.main_max_v, r.sos_v, r.sos_min_v, r.sos_max_v,
             r.temp_c, r.window_s, r.flags, state)
        )
        if self.csv is not None:
            self.csv.write(r)
        if (
            len(self._pending) >= self.commit_rows
            or time.monotonic() - self._last_commit >= self.commit_interval_s
        ):
            self.flush()

    def write_transition(self, tr: AlertTransition) -> None:
        if not MIN_T <= tr.t < MAX_T:
            self._refuse("alert transition", tr.t)
            return
        self.flush()  # keep order: readings before the alert they caused
        self._insert_event(tr)

    def record_transitions(self, trs: list[AlertTransition], state_key: str, state: Any) -> None:
        """Alert transitions and the analysis state that produced them, in one transaction.

        A power cut can then never leave an alert stored without the state that knows it is
        raised (a restart would raise it again) or the reverse (a restart would forget it).
        """
        self.flush()
        with self.db:
            self.db.execute("BEGIN")
            for tr in trs:
                self._insert_event(tr)
            self.put(state_key, state)

    def _insert_event(self, tr: AlertTransition) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO events (t, battery, alert, severity, state, value, message)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tr.t, tr.battery, tr.alert, tr.severity, tr.state, tr.value, tr.message),
        )

    def flush(self) -> None:
        if self._pending:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany(
                    "INSERT OR REPLACE INTO readings VALUES (?,?,?,?,?,?,?,?,?,?,?)", self._pending
                )
            self.readings_written += len(self._pending)
            self._pending.clear()
        if self.csv is not None:
            self.csv.flush()
        self._last_commit = time.monotonic()

    def close(self, timeout: float = 5.0) -> None:
        self.flush()
        if self.csv is not None:
            self.csv.close()
        self.db.close()

    def reading(self, r: Reading, state: str) -> None:
        self.write_reading(r, state)

    def transition(self, tr: AlertTransition) -> None:
        self.write_transition(tr)

    def summary(self, s: HealthSummary) -> None:
        self.put("summary", s.data)

    def reminder(self, tr: AlertTransition) -> None:
        pass  # the store keeps transitions; a reminder changes nothing it holds

    def status(self) -> dict[str, Any]:
        return {"path": str(self.directory), "readings_written": self.readings_written,
                "pending": len(self._pending), "refused": self.refused}

    # -- state that must survive a restart -------------------------------------------
    def put(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- housekeeping ------------------------------------------------------------------
    def prune(self, now: float) -> int:
        """Apply retention; returns the number of readings deleted."""
        self.flush()
        if not MIN_T <= now < MAX_T:
            return 0  # no cutoff can be reckoned from a time no day holds
        cutoff = now - self.retention_days * 86400.0
        cur = self.db.execute("DELETE FROM readings WHERE t < ?", (cutoff,))
        self.db.execute("DELETE FROM events WHERE t < ?", (cutoff,))
        if self.csv is not None:
            self.csv.prune(self.csv_retention_days, now)
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
