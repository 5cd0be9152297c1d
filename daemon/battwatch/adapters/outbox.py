"""The durable outbox every network sink sends from: bounded, batched, and never stuck on a bad file."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from battwatch.adapters import sqlitedb
from battwatch.adapters.trouble import Trouble

logger = logging.getLogger(__name__)

Payload = bytes | str
Row = tuple[str, str, Payload, int, bool]  # stream, topic, payload, qos, retain
Stored = tuple[int, str, str, Payload, int, bool]  # the row's id first
DROP_LOG_EVERY_S = 60.0
SET_ASIDE_LOGGED = 20
SET_ASIDE_MAX = 10_000  # rows kept for a person to look at; the oldest go first
DAMAGED = "damaged"  # the stream under which rows lost with a damaged file are counted

OUTBOX_TABLE = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the senders' high-water marks rely on it
    stream TEXT NOT NULL,                  -- what kind (readings, state, influx): the drop order's key
    topic TEXT NOT NULL,                   -- MQTT topic; '' for InfluxDB lines
    payload BLOB NOT NULL,                 -- bytes (MQTT) or text (a line of line protocol)
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL                  -- wall clock when queued (the oldest-age figure)
);
"""
# only an outbox that drops by stream needs this index (a page per ~200 rows more to write)
STREAM_INDEX = "CREATE INDEX IF NOT EXISTS outbox_stream ON outbox (stream, id);\n"
SCHEMA = OUTBOX_TABLE + """
CREATE INDEX IF NOT EXISTS outbox_retained ON outbox (topic) WHERE retain = 1;
CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY,
    stream TEXT, topic TEXT, payload BLOB,
    why TEXT NOT NULL, at REAL NOT NULL    -- what the server or the sender said, and when
);
"""


def _upgrade(db: sqlite3.Connection) -> None:
    """An InfluxDB outbox of an earlier version (id, line, queued) becomes the common table."""
    cols = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
    if "line" not in cols:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("ALTER TABLE outbox RENAME TO outbox_v1")
        db.execute(OUTBOX_TABLE)
        db.execute("INSERT INTO outbox (id, stream, topic, payload, qos, retain, created)"
                   " SELECT id, 'influx', '', line, 0, 0, queued FROM outbox_v1")
        db.execute("DROP TABLE outbox_v1")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _rollback(db: sqlite3.Connection) -> None:
    """End a failed transaction, if SQLite has not ended it itself (it does on a full disk)."""
    try:
        if db.in_transaction:
            db.execute("ROLLBACK")
    except sqlite3.Error:
        logger.debug("rollback failed", exc_info=True)


class Outbox:
    """Rows waiting for a server, in order, in one SQLite file (WAL, no fsync per commit).

    Any thread may call any method (one connection behind a lock). ``append`` commits a
    whole batch in one transaction; past ``backlog_max`` rows the oldest go, in
    ``drop_order`` of their streams first (then any other, unless ``drop_others`` is False),
    counted in ``dropped`` and logged once a minute.
    A retained row replaces the undelivered one of its topic. A sender reads rows with
    ``after`` and removes them with ``delivered`` once the server has them, or with
    ``set_aside`` when the server will never take them (kept in the file, counted, logged).

    What the file cannot take (a full disk, a file that cannot be opened) waits in ``spill``,
    in memory, at most ``spill_max`` rows (the oldest go, counted), and goes into the file
    at the next append that succeeds. A file found damaged, on opening or while running, is
    moved aside and replaced by a fresh one: the rows it held are counted as dropped
    (stream "damaged") and row ids carry on from where they were, so no sender skips one.
    """

    def __init__(self, path: Path, what: str, backlog_max: int, *, spill_max: int,
                 drop_order: Sequence[str] = (), drop_others: bool = True, extra_schema: str = "") -> None:
        self.path = path
        self.what = what
        self.backlog_max = backlog_max
        self.spill_max = spill_max
        self.drop_order = tuple(drop_order)
        self.drop_others = drop_others
        self.schema = SCHEMA + (STREAM_INDEX if self.drop_order else "") + extra_schema
        self.lock = threading.RLock()
        self.trouble = Trouble(logger, f"{what} {path}")
        self.spill: deque[tuple[Row, float]] = deque()
        self.dropped: dict[str, int] = {}
        self.set_aside_count = 0
        self.damaged_files = 0
        self.count = 0  # rows in the file, delivered ones not yet deleted included
        self._doomed: set[int] = set()  # delivered rows whose delete failed (a full disk)
        self._max_id = 0
        self._dropped_since_log: dict[str, int] = {}
        self._last_drop_log = float("-inf")
        self.db: sqlite3.Connection | None = None
        self._open()

    # -- the file ------------------------------------------------------------------------------
    def _open(self) -> bool:
        """Open (or make) the file; False, with the trouble told, when it cannot be."""
        moved: list[Path] = []
        try:
            db = sqlitedb.open_db(self.path, self.schema, self.what, check_same_thread=False,
                                  prepare=_upgrade, moved=moved)
            (count,) = db.execute("SELECT count(*) FROM outbox").fetchone()
            row = db.execute("SELECT max(id) FROM outbox").fetchone()
            seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        except (sqlitedb.Unusable, sqlite3.Error) as e:
            self.trouble.failed(str(e) if isinstance(e, sqlitedb.Unusable) else e,
                                consequence="rows kept in memory until it can be opened")
            return False
        self.damaged_files += len(moved)
        last = max(int(row[0] or 0), int(seq[0]) if seq else 0)
        if last < self._max_id:  # a fresh file after a damaged one: ids never go back
            db.execute("INSERT OR REPLACE INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)",
                       (self._max_id,))
        self._max_id = max(self._max_id, last)
        self.db, self.count = db, int(count)
        self._doomed.clear()
        return True

    def _damaged(self, e: sqlite3.Error) -> None:
        """The file went bad under us: move it aside, start a fresh one, count what it held."""
        lost = max(0, self.count - len(self._doomed))
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
        self.db, self.count = None, 0
        try:
            sqlitedb.move_aside(self.path, str(e), self.what)
        except sqlitedb.Unusable as err:
            self.trouble.failed(str(err))
            return
        self.damaged_files += 1
        if lost:
            self.dropped[DAMAGED] = self.dropped.get(DAMAGED, 0) + lost
            logger.error("%s %s: %d rows were in the damaged file and are not sent", self.what, self.path, lost)
        self._open()

    def _guard(self, e: sqlite3.Error) -> bool:
        """True when ``e`` was a damaged file, now replaced by a fresh one."""
        if not sqlitedb.is_damage(e):
            return False
        self._damaged(e)
        return self.db is not None

    # -- writing -------------------------------------------------------------------------------
    def append(self, rows: Iterable[Row], now: float) -> None:
        """Queue rows in one transaction; see the class for what happens when that fails."""
        with self.lock:
            self.spill.extend((row, now) for row in rows)
            if not self.spill:
                return
            if self.db is None and not self._open():
                self._bound_spill()
                return
            batch = list(self.spill)
            try:
                removed = self._insert(batch)
            except sqlite3.Error as e:
                if self._guard(e):
                    self.append((), now)  # the fresh file takes them
                    return
                self.trouble.failed(e, self._bound_spill(), consequence="rows kept in memory until it has room")
                return
            self.spill.clear()
            self.trouble.ok()
            self.count += len(batch) - removed
            over = self.count - len(self._doomed) - self.backlog_max
            if over > 0:
                self._shed(over)
            if self._doomed:
                self._retry_deletes()

    def retry(self) -> None:
        """Try the file again for what waits in memory (a full disk may have room now)."""
        self.append((), time.time())

    def _bound_spill(self) -> int:
        over = len(self.spill) - self.spill_max
        for _ in range(max(0, over)):
            self._count_dropped(self.spill.popleft()[0][0], 1)
        return max(0, over)

    def _insert(self, rows: Sequence[tuple[Row, float]]) -> int:
        db = self.db
        assert db is not None
        removed = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for (stream, topic, payload, qos, retain), now in rows:
                if retain:  # a retained topic only needs its newest value delivered
                    removed += db.execute("DELETE FROM outbox WHERE topic = ? AND retain = 1", (topic,)).rowcount
                cur = db.execute(
                    "INSERT INTO outbox (stream, topic, payload, qos, retain, created) VALUES (?, ?, ?, ?, ?, ?)",
                    (stream, topic, payload, qos, int(retain), now),
                )
                self._max_id = max(self._max_id, cur.lastrowid or 0)
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        return removed

    def _shed(self, over: int) -> None:
        db = self.db
        assert db is not None
        floor = max(self._doomed, default=0)  # rows delivered already are not dropped
        want = over
        for stream in (*self.drop_order, None) if self.drop_others else self.drop_order:
            if want <= 0:
                break
            where = "stream = ? AND id > ?" if stream is not None else "id > ?"
            params = (stream, floor, want) if stream is not None else (floor, want)
            try:
                victims = db.execute(f"SELECT id, stream FROM outbox WHERE {where} ORDER BY id LIMIT ?",
                                     params).fetchall()
                db.execute("BEGIN IMMEDIATE")
                db.executemany("DELETE FROM outbox WHERE id = ?", ((v[0],) for v in victims))
                db.execute("COMMIT")
            except sqlite3.Error as e:
                _rollback(db)
                if not self._guard(e):
                    self.trouble.failed(e, consequence="the backlog is trimmed at the next append")
                return
            want -= len(victims)
            self.count -= len(victims)
            for _, name in victims:
                self._count_dropped(name, 1)

    def _count_dropped(self, stream: str, n: int) -> None:
        self.dropped[stream] = self.dropped.get(stream, 0) + n
        self._dropped_since_log[stream] = self._dropped_since_log.get(stream, 0) + n
        mono = time.monotonic()
        if mono - self._last_drop_log >= DROP_LOG_EVERY_S:
            self._last_drop_log = mono
            logger.warning(
                "%s: backlog full (%d rows, backlog_max %d, at most %d in memory): dropped the oldest %s"
                " (total so far: %s)",
                self.what, self.count, self.backlog_max, self.spill_max,
                ", ".join(f"{k} {s}" for s, k in self._dropped_since_log.items()),
                ", ".join(f"{k} {s}" for s, k in self.dropped.items()),
            )
            self._dropped_since_log.clear()

    # -- reading and removing (a sender) -------------------------------------------------------
    def after(self, last_id: int, limit: int) -> list[Stored]:
        """Up to ``limit`` undelivered rows with ids above ``last_id``, oldest first."""
        return self._select("WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit + len(self._doomed)), limit)

    def with_ids(self, ids: Sequence[int]) -> list[Stored]:
        """Those of ``ids`` still waiting, in id order."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return self._select(f"WHERE id IN ({marks}) ORDER BY id", tuple(ids), len(ids))

    def _select(self, where: str, params: tuple[object, ...], limit: int) -> list[Stored]:
        with self.lock:
            if self.db is None:
                return []
            try:
                got = self.db.execute(
                    f"SELECT id, stream, topic, payload, qos, retain FROM outbox {where}", params
                ).fetchall()
            except sqlite3.Error as e:
                if not self._guard(e):
                    self.trouble.failed(e, consequence="sending waits for the file")
                return []
            doomed = self._doomed
            return [(int(r[0]), r[1], r[2], r[3], r[4], bool(r[5])) for r in got if r[0] not in doomed][:limit]

    def delivered(self, ids: Sequence[int]) -> int:
        """Remove rows the server has; returns how many were still there. A delete the disk
        cannot take is kept in mind (never sent again) and retried at the next append."""
        with self.lock:
            self._doomed.update(ids)
            return self._retry_deletes()

    def _retry_deletes(self) -> int:
        if self.db is None:
            self._doomed.clear()
            return 0
        ids = sorted(self._doomed)
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            gone = sum(db.execute("DELETE FROM outbox WHERE id = ?", (i,)).rowcount for i in ids)
            db.execute("COMMIT")
        except sqlite3.Error as e:
            _rollback(db)
            if not self._guard(e):
                self.trouble.failed(e, consequence="delivered rows deleted later, not sent again")
            return 0
        self._doomed.clear()
        self.count -= gone
        return gone

    def set_aside(self, rows: Sequence[Stored], why: str) -> None:
        """Rows the server will never take: out of the queue, into the file's ``set_aside``
        table for a person (the newest SET_ASIDE_MAX), counted and logged. A row with id 0
        (from ``spill``) is the caller's to remove from there."""
        if not rows:
            return
        with self.lock:
            before = self.set_aside_count
            self.set_aside_count += len(rows)
            # the first few in full, then a line per thousand: a bad batch must not flood the log
            if before < SET_ASIDE_LOGGED or before // 1000 != self.set_aside_count // 1000:
                logger.error("%s: %d row(s) set aside, not sent (%d so far): %s; first: %.300r",
                             self.what, len(rows), self.set_aside_count, why, rows[0][3])
            db = self.db
            if db is not None:
                try:
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany("INSERT INTO set_aside (stream, topic, payload, why, at) VALUES (?, ?, ?, ?, ?)",
                                   ((r[1], r[2], r[3], why, time.time()) for r in rows))
                    db.execute("DELETE FROM set_aside WHERE id <= (SELECT max(id) FROM set_aside) - ?",
                               (SET_ASIDE_MAX,))
                    db.execute("COMMIT")
                except sqlite3.Error as e:
                    _rollback(db)
                    if not self._guard(e):
                        self.trouble.failed(e, consequence="rows set aside are not kept")
        self.delivered([r[0] for r in rows if r[0] > 0])  # id 0: a row only memory held

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """One statement on the file's other tables (a sink's own bookkeeping), committed at
        once; raises sqlite3.Error when the file is away or cannot take it."""
        with self.lock:
            if self.db is None:
                raise sqlite3.OperationalError(f"{self.what} {self.path} is not open")
            try:
                return self.db.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as e:
                self._guard(e)
                raise

    # -- figures -------------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        """Rows not yet delivered: in the file and in memory."""
        return self.count - len(self._doomed) + len(self.spill)

    @property
    def in_file(self) -> int:
        """Rows in the file not yet delivered."""
        return self.count - len(self._doomed)

    def oldest_created(self) -> float | None:
        with self.lock:
            if self.spill and not self.count:
                return self.spill[0][1]
            if self.db is None:
                return None
            try:
                row = self.db.execute("SELECT created FROM outbox ORDER BY id LIMIT 1").fetchone()
            except sqlite3.Error:
                return None
            return None if row is None else float(row[0])

    def status(self) -> dict[str, object]:
        with self.lock:
            return {"backlog": self.waiting, "spilled": len(self.spill), "dropped": dict(self.dropped),
                    "set_aside": self.set_aside_count, "damaged_files": self.damaged_files,
                    "outbox_error": self.trouble.last_error if self.trouble.active else None}

    def close(self) -> None:
        with self.lock:
            if self.db is not None:
                self.db.close()
                self.db = None
