"""InfluxDB sink: a durable SQLite outbox of line protocol, drained by a sender thread."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from battwatch.adapters.trouble import Trouble
from battwatch.core import influx_encode as enc
from battwatch.core.events import Replaced, Rested, Start
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.sinks.influx_writers import HTTP_TIMEOUT_S, V2Writer, WriteError, Writer, v1_writer

if TYPE_CHECKING:
    from battwatch.config import Config

logger = logging.getLogger(__name__)

OUTBOX_NAME = "influx-outbox.sqlite3"
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0

HEALTH_EVERY_S = 300.0  # data time between health points unless an alert changed meanwhile
MAX_BAD_LINES_LOGGED = 20
DROP_LOG_EVERY_S = 60.0
SPILL_MAX = 20_000  # lines kept in memory while the outbox file cannot take them (a full disk)
SENDER_RESTART_S = 5.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL,
    queued REAL NOT NULL           -- Unix s when it entered the outbox (for the oldest-age figure)
);
"""


@dataclass(frozen=True, slots=True)
class _Close:
    deadline: float  # time.monotonic()


@dataclass(frozen=True, slots=True)
class _Persisted:
    callback: Callable[[], None]  # runs on the sender thread once earlier lines are committed


_FLUSH = "flush"


class InfluxSink:
    """Writes readings, crank events, rested readings, health and alerts to InfluxDB.

    The main thread only encodes and enqueues. A sender thread owns the outbox (SQLite, WAL)
    in the store directory: it persists what arrives, then writes batches and deletes rows
    only after the server acknowledged them. An outage therefore loses nothing (up to
    ``backlog_max`` lines; beyond that the oldest go first, counted and logged), and since
    every point has a deterministic timestamp, sending a batch twice creates no duplicates.
    """

    name = "influx"

    def __init__(
        self,
        cfg: Config,
        store_dir: Path | str,
        *,
        backoff_min_s: float = BACKOFF_MIN_S,
        backoff_max_s: float = BACKOFF_MAX_S,
    ) -> None:
        if cfg.influx is None:
            raise ValueError("InfluxSink needs an [influx] section")
        self.cfg = cfg
        self.icfg = cfg.influx
        self.path = Path(store_dir) / OUTBOX_NAME
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = max(backoff_max_s, backoff_min_s)
        v = cfg.vehicle
        ignored = sorted(set(self.icfg.tags) & enc.RESERVED_TAGS)
        if ignored:
            logger.warning("[influx] tags: %s reserved by battwatch, ignored", ", ".join(ignored))
        self.tags = enc.fleet_tags(v.id, model=v.model, site=v.site, owner_group=v.owner_group,
                                   extra=self.icfg.tags)
        span_s = self.icfg.window_s
        self.encoder = enc.ReadingEncoder(v.id, self.tags, span_s=span_s)
        self._projection_day: int | None = None
        self._health_t: float | None = None
        self._alert_since_health = False
        self._queue: queue.Queue[list[str] | str | _Close | _Persisted] = queue.Queue()
        self._lock = threading.Lock()
        self._stats: dict[str, Any] = {
            "connected": None, "last_error": None, "last_error_at": None, "backlog": 0,
            "oldest_age_s": None, "written": 0, "dropped": 0, "rejected": 0, "batches": 0,
        }
        self._queued_lines = 0  # lines handed to the sender and not yet in the outbox
        self._thread: threading.Thread | None = None
        self._closed = False
        self._closing = threading.Event()  # set by close(): a failed sender is not restarted
        self._ready = threading.Event()

    # -- sink protocol (main thread) ---------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="influx-sender", daemon=True)
        self._thread.start()

    def reading(self, r: Reading, state: str) -> None:
        self._put(enc.to_lines(self.encoder.reading(r, state)))

    def transition(self, tr: AlertTransition) -> None:
        self._put(enc.to_lines([enc.alert_point(tr, self.tags)]))
        self._alert_since_health = True
        self._queue.put(_FLUSH)  # alerts go out now, not at the next batch

    def started(self, ev: Start) -> None:
        self._put(enc.to_lines(self.encoder.started(ev)))

    def rested(self, ev: Rested) -> None:
        self._put(enc.to_lines(self.encoder.rested(ev)))

    def replaced(self, ev: Replaced) -> None:
        """A battery replaced: a point the dashboards mark with an annotation."""
        from battwatch.core.timefmt import iso_utc

        self._put(enc.to_lines([enc.replaced_point(self.tags[enc.TAG_VEHICLE], ev.t, ev.battery,
                                                   iso_utc(ev.fitted)[:10], ev.note, self.tags)]))
        self._queue.put(_FLUSH)

    def summary(self, s: HealthSummary) -> None:
        points = self.encoder.flush()  # the open window, so the dashboards see the latest
        recent = self._health_t is not None and 0.0 <= s.t - self._health_t < HEALTH_EVERY_S
        if recent and not self._alert_since_health:
            # the daemon summarises every minute; health moves slowly, alerts are sent apart
            self._put(enc.to_lines(points))
            return
        self._health_t = s.t
        self._alert_since_health = False
        data = self._enrich(s.data, s.t)
        points += enc.health_points(data, s.vehicle, s.t, self.tags)
        day = int(s.t // enc.DAY_S)
        if day != self._projection_day:  # the trend moves slowly: once a day is plenty
            projection = enc.projection_points(data, s.vehicle, s.t, self.tags)
            if projection:
                self._projection_day = day
                points += projection
        self._put(enc.to_lines(points))

    def flush(self) -> None:
        self._put(enc.to_lines(self.encoder.flush()))
        self._queue.put(_FLUSH)

    def close(self, timeout: float = 5.0) -> None:
        """Send what can be sent within ``timeout``; the rest stays in the outbox for next start."""
        if self._closed:
            return
        self._closed = True
        self._put(enc.to_lines(self.encoder.close()))
        if self._thread is None:
            # never started: persist the lines anyway so the next start sends them
            self._queue.put(_Close(time.monotonic()))
            self._run()
            return
        self._queue.put(_Close(time.monotonic() + max(timeout, 0.0)))
        self._closing.set()
        self._thread.join(max(timeout, 0.0) + HTTP_TIMEOUT_S + 5.0)
        if self._thread.is_alive():
            logger.warning("influx sender did not stop in time; the outbox keeps the rest")

    def write_lines(self, lines: list[str], on_persisted: Callable[[], None] | None = None) -> None:
        """Queue ready-made line protocol (``battwatch collect`` encodes its own points).

        ``on_persisted`` is called on the sender thread once these lines and everything queued
        before them are committed to the outbox file, so it must only enqueue. Without a
        started sender it runs during ``close()``, when the lines are persisted for next start.
        """
        self._put(list(lines))
        if on_persisted is not None:
            self._queue.put(_Persisted(on_persisted))

    def status(self) -> dict[str, Any]:
        with self._lock:
            st = dict(self._stats)
            st["backlog"] += self._queued_lines
        return st

    # -- helpers -----------------------------------------------------------------------------
    def _put(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._lock:
            self._queued_lines += len(lines)
        self._queue.put(lines)

    def _enrich(self, data: dict[str, Any], t: float) -> dict[str, Any]:
        """Fill what the summary lacks from config and from what the readings showed."""
        data = dict(data)
        nested = data.get("batteries")
        holder: dict[str, Any] = dict(nested) if isinstance(nested, dict) else data
        bat = self.cfg.battery
        latest = self.encoder.latest
        defaults: dict[str, dict[str, Any]] = {
            "main": {"installed": bat.main.installed, enc.F_REST_V: latest.rest_v.get("main"),
                     enc.F_VOLTAGE_V: latest.voltage_v.get("main"),
                     enc.F_LAST_CRANK_MIN_V: latest.crank_min_v},
            "sos": {"installed": bat.sos.installed, "lifespan_years": list(bat.sos.lifespan_years),
                    enc.F_REST_V: latest.rest_v.get("sos"), enc.F_VOLTAGE_V: latest.voltage_v.get("sos")},
        }
        for battery, extra in defaults.items():
            section = holder.get(battery)
            if section is not None and not isinstance(section, dict):
                continue
            merged = dict(section or {})
            for key, value in extra.items():
                # the analysis's own value, under whichever name it uses, always wins
                if value is not None and not enc.has_value(merged, key):
                    merged[key] = value
            holder[battery] = merged
        if isinstance(nested, dict):
            data["batteries"] = holder
        return data

    # -- sender thread -----------------------------------------------------------------------
    def _set(self, **kw: Any) -> None:
        with self._lock:
            self._stats.update(kw)

    def _run(self) -> None:
        spill: deque[str] = deque()  # outlives a sender that failed: nothing is dropped by a restart
        while True:
            try:
                _Sender(self, spill).run()
                return
            except Exception as e:  # noqa: BLE001 - the thread must never die: say why, go on
                logger.exception("influx sender failed; restarting in %.0f s", SENDER_RESTART_S)
                self._set(last_error=f"sender failed: {type(e).__name__}: {e}", last_error_at=time.time())
                if self._thread is None or self._closing.wait(SENDER_RESTART_S):
                    return


class _Sender:
    """The sender thread's state: its own SQLite connection, the writer and the backoff."""

    def __init__(self, sink: InfluxSink, spill: deque[str]) -> None:
        self.sink = sink
        self.icfg = sink.icfg
        self.db = sqlite3.connect(sink.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.backlog = int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        # Lines the outbox file could not take (a full disk): kept in memory, bounded (the
        # oldest go first, counted), sent from here, and moved to the file when it has room.
        self.spill = spill
        self.spill_max = min(SPILL_MAX, self.icfg.backlog_max)
        self.trouble = Trouble(logger, f"influx outbox {sink.path}")
        # rows up to this id are delivered; their DELETE waits for a disk with room
        self.delivered_id = 0
        self.writer: Writer | None = None
        self.backoff = 0.0
        self.next_try = 0.0  # time.monotonic()
        # a leftover backlog from the last run goes out at once
        self.pending_since: float | None = 0.0 if self.backlog else None
        self.flush_wanted = False
        self.close_at: float | None = None
        self.dropped_logged_at = float("-inf")
        self.dropped_unlogged = 0
        self.bad_logged = 0
        self._publish_backlog()
        if self.backlog:
            logger.info("influx outbox holds %d lines from an earlier run", self.backlog)

    # -- main loop ---------------------------------------------------------------------------
    def run(self) -> None:
        try:
            while True:
                self._take(self._wait_s())
                if self._should_send():
                    self._send_all()
                if self.close_at is not None and (self.waiting == 0 or time.monotonic() >= self.close_at):
                    if self.waiting:
                        logger.warning("influx: %d lines left in the outbox for the next start", self.waiting)
                    return
        finally:
            self._take(0.0)  # whatever arrived meanwhile is persisted before leaving
            self.db.close()
            if isinstance(self.writer, V2Writer):
                self.writer.close()

    def _wait_s(self) -> float | None:
        now = time.monotonic()
        waits: list[float] = []
        if self.waiting:
            start = max(self.next_try, now)
            if not (self.flush_wanted or self.close_at is not None or self.waiting >= self.icfg.batch_size):
                assert self.pending_since is not None
                start = max(start, self.pending_since + self.icfg.flush_interval_s)
            waits.append(start - now)
        if self.close_at is not None:
            waits.append(self.close_at - now)
        if not waits:
            return None  # nothing to do until something arrives
        return max(0.0, min(waits))

    def _take(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` s for work (None: until something comes), then persist all
        that is queued."""
        q = self.sink._queue
        items: list[list[str] | str | _Close | _Persisted] = []
        try:
            if timeout is None:
                items.append(q.get())  # idle: nothing to send and no deadline
            elif timeout > 0:
                items.append(q.get(timeout=timeout))
        except queue.Empty:
            pass
        while True:
            try:
                items.append(q.get_nowait())
            except queue.Empty:
                break
        batch: list[str] = []
        persisted: list[_Persisted] = []
        for item in items:
            if isinstance(item, list):
                batch += item
            elif isinstance(item, _Close):
                self.close_at = item.deadline
            elif isinstance(item, _Persisted):
                persisted.append(item)
            elif item == _FLUSH:
                self.flush_wanted = True
        if batch:
            self._persist(batch)
        for note in persisted:  # the queue is FIFO: every line queued before it is committed now
            try:
                note.callback()
            except Exception:  # noqa: BLE001 - a caller's callback must not stop the sender
                logger.exception("influx: on_persisted callback failed")

    def _persist(self, lines: list[str]) -> None:
        with self.sink._lock:
            self.sink._queued_lines -= len(lines)
        self.spill.extend(lines)
        self._store_spill()
        if self.pending_since is None:
            self.pending_since = time.monotonic()
        self._publish_backlog()

    def _store_spill(self) -> None:
        """Move the lines waiting in memory into the outbox file; if it cannot take them,
        they stay (bounded) and are sent from memory."""
        if not self.spill:
            return
        now = time.time()
        lines = list(self.spill)
        try:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany("INSERT INTO outbox (line, queued) VALUES (?, ?)", ((ln, now) for ln in lines))
                excess = self.backlog + len(lines) - self.icfg.backlog_max
                if excess > 0:
                    self.db.execute(
                        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE id > ? ORDER BY id LIMIT ?)",
                        (self.delivered_id, excess),
                    )
        except sqlite3.Error as e:
            excess = len(self.spill) - self.spill_max
            if excess > 0:
                for _ in range(excess):
                    self.spill.popleft()
                self._note_dropped(excess)
            self.trouble.failed(e, max(excess, 0), consequence="lines kept in memory and sent from there")
            return
        self.spill.clear()
        self.backlog += len(lines)
        if excess > 0:
            self.backlog -= excess
            self._note_dropped(excess)
        self.trouble.ok()

    def _note_dropped(self, n: int) -> None:
        with self.sink._lock:
            self.sink._stats["dropped"] += n
        self.dropped_unlogged += n
        now = time.monotonic()
        if now - self.dropped_logged_at >= DROP_LOG_EVERY_S:
            logger.warning(
                "influx outbox full (backlog_max %d): dropped the %d oldest lines",
                self.icfg.backlog_max, self.dropped_unlogged,
            )
            self.dropped_logged_at = now
            self.dropped_unlogged = 0

    @property
    def waiting(self) -> int:
        """Lines not yet delivered: in the outbox file and in memory."""
        return self.backlog + len(self.spill)

    def _publish_backlog(self) -> None:
        oldest = None
        if self.backlog:
            row = self.db.execute("SELECT queued FROM outbox WHERE id > ? ORDER BY id LIMIT 1",
                                  (self.delivered_id,)).fetchone()
            if row is not None:
                oldest = round(max(0.0, time.time() - row[0]), 1)
        self.sink._set(backlog=self.waiting, oldest_age_s=oldest, outbox_error=self.trouble.last_error
                       if self.trouble.active else None, spilled=len(self.spill))

    def _should_send(self) -> bool:
        if not self.waiting:
            self.flush_wanted = False
            return False
        now = time.monotonic()
        if now < self.next_try:
            return False
        if self.flush_wanted or self.close_at is not None or self.waiting >= self.icfg.batch_size:
            return True
        return self.pending_since is not None and now - self.pending_since >= self.icfg.flush_interval_s

    # -- sending -----------------------------------------------------------------------------
    def _writer(self) -> Writer:
        if self.writer is None:
            self.writer = v1_writer(self.icfg) if self.icfg.api == "v1" else V2Writer(self.icfg)
        return self.writer

    def _timeout(self) -> float:
        if self.close_at is None:
            return HTTP_TIMEOUT_S
        return max(1.0, min(HTTP_TIMEOUT_S, self.close_at - time.monotonic()))

    def _send_all(self) -> None:
        """Send batches until nothing waits, an error calls for a pause, or close time is up:
        the outbox file first, then what only memory holds (the file could not take it)."""
        while self.waiting:
            from_file = bool(self.backlog)
            if from_file:
                rows = self.db.execute(
                    "SELECT id, line FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                    (self.delivered_id, self.icfg.batch_size),
                ).fetchall()
                if not rows:
                    self.backlog = 0
                    continue
                lines = [line for _, line in rows]
            else:
                lines = [self.spill[i] for i in range(min(len(self.spill), self.icfg.batch_size))]
            try:
                self._deliver(lines)
            except WriteError as e:
                self._failed(e)
                break
            if from_file:
                self.delivered_id = rows[-1][0]
                self.backlog = max(0, self.backlog - len(rows))
                self._forget_delivered()
            else:
                for _ in lines:
                    self.spill.popleft()
            self.backoff = 0.0
            self.next_try = 0.0
            with self.sink._lock:
                self.sink._stats["batches"] += 1
            self._publish_backlog()
            if self.sink._queue.qsize():
                self._take(0.0)  # keep persisting while a long backlog drains
            if self.close_at is not None and time.monotonic() >= self.close_at:
                break
        if not self.waiting:
            self.pending_since = None
            self.flush_wanted = False
        else:
            self.pending_since = time.monotonic()

    def _forget_delivered(self) -> None:
        """Delete the delivered rows; on a full disk they wait (never sent twice meanwhile)."""
        try:
            with self.db:
                self.db.execute("DELETE FROM outbox WHERE id <= ?", (self.delivered_id,))
        except sqlite3.Error as e:
            self.trouble.failed(e, consequence="delivered lines deleted later")
        else:
            self._store_spill()  # the deletes made room

    def _deliver(self, lines: list[str]) -> None:
        """Write ``lines``; a batch refused for its content is split until the bad lines are
        found, which are logged and counted (the good ones land: rewriting them is harmless)."""
        write = self._writer()
        try:
            write(lines, self._timeout())
        except WriteError as e:
            if not e.bad_data:
                raise
            if len(lines) > 1:
                mid = len(lines) // 2
                self._deliver(lines[:mid])
                self._deliver(lines[mid:])
                return
            self._reject(lines[0], e)
            return
        with self.sink._lock:
            st = self.sink._stats
            st["written"] += len(lines)
            st["connected"] = True

    def _reject(self, line: str, e: WriteError) -> None:
        with self.sink._lock:
            self.sink._stats["rejected"] += 1
            self.sink._stats["last_error"] = f"rejected line: {e}"
            self.sink._stats["last_error_at"] = time.time()
        self.bad_logged += 1
        if self.bad_logged <= MAX_BAD_LINES_LOGGED:
            logger.error("influx refused a line (dropped): %s; line: %.300s", e, line)

    def _failed(self, e: WriteError) -> None:
        self.backoff = min(self.backoff_max, max(self.backoff_min, self.backoff * 2))
        self.next_try = time.monotonic() + self.backoff
        self.pending_since = time.monotonic()
        with self.sink._lock:
            was = self.sink._stats["connected"]
            self.sink._stats.update(connected=False, last_error=str(e), last_error_at=time.time())
        level = logging.WARNING if was is not False else logging.DEBUG
        logger.log(level, "influx write failed (%s); %d lines kept, retry in %.0f s", e, self.waiting, self.backoff)

    @property
    def backoff_min(self) -> float:
        return self.sink.backoff_min_s

    @property
    def backoff_max(self) -> float:
        return self.sink.backoff_max_s
