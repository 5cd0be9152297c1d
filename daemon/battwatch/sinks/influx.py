"""InfluxDB sink: a durable SQLite outbox of line protocol, drained by a sender thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from battwatch.adapters.outbox import Outbox, Stored
from battwatch.core import influx_encode as enc
from battwatch.core.events import Replaced, Rested, Start
from battwatch.core.influx_health import health_points, projection_points
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.sinks.influx_writers import HTTP_TIMEOUT_S, V2Writer, WriteError, Writer, v1_writer

if TYPE_CHECKING:
    from battwatch.config import Config

logger = logging.getLogger(__name__)

OUTBOX_NAME = "influx-outbox.sqlite3"
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0

HEALTH_EVERY_S = 300.0  # data time between health points unless an alert changed meanwhile
SPILL_MAX = 20_000  # lines kept in memory while the outbox file cannot take them (a full disk)
SENDER_RESTART_S = 5.0

STREAM = "influx"  # the outbox rows' stream: one kind, so the oldest go first


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
            "spilled": 0, "damaged_files": 0, "outbox_error": None,
        }
        self._queued_lines = 0  # lines handed to the sender and not yet in the outbox
        self._thread: threading.Thread | None = None
        self._closed = False
        self._closing = threading.Event()  # set by close(): a failed sender is not restarted
        self._ready = threading.Event()
        self.outbox: Outbox | None = None  # opened by the sender thread

    # -- sink protocol (main thread) ---------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="influx-sender", daemon=True)
        self._thread.start()

    def reading(self, r: Reading, state: str) -> None:
        points = self.encoder.reading(r, state)
        if points:  # a window closed (most readings only fold into the open one)
            self._put(enc.to_lines(points))

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
        points += health_points(s.data, self.tags)
        day = int(s.t // enc.DAY_S)
        if day != self._projection_day:  # the trend moves slowly: once a day is plenty
            projection = projection_points(s.data, self.tags)
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

    # -- sender thread -----------------------------------------------------------------------
    def _set(self, **kw: Any) -> None:
        with self._lock:
            self._stats.update(kw)

    def _run(self) -> None:
        # the outbox (and what it keeps in memory) outlives a sender that failed: a restart
        # drops nothing
        outbox = Outbox(self.path, "influx outbox", self.icfg.backlog_max,
                        spill_max=min(SPILL_MAX, self.icfg.backlog_max))
        self.outbox = outbox
        try:
            while True:
                try:
                    _Sender(self, outbox).run()
                    return
                except Exception as e:  # noqa: BLE001 - the thread must never die: say why, go on
                    logger.exception("influx sender failed; restarting in %.0f s", SENDER_RESTART_S)
                    self._set(last_error=f"sender failed: {type(e).__name__}: {e}", last_error_at=time.time())
                    if self._thread is None or self._closing.wait(SENDER_RESTART_S):
                        return
        finally:
            outbox.close()


class _Sender:
    """The sender thread's state: the writer, the backoff, what is due and when."""

    def __init__(self, sink: InfluxSink, outbox: Outbox) -> None:
        self.sink = sink
        self.icfg = sink.icfg
        self.outbox = outbox
        self.writer: Writer | None = None
        self.backoff = 0.0
        self.next_try = 0.0  # time.monotonic()
        # a leftover backlog from the last run goes out at once
        self.pending_since: float | None = 0.0 if outbox.waiting else None
        self.flush_wanted = False
        self.close_at: float | None = None
        self._publish_backlog()
        if outbox.count:
            logger.info("influx outbox holds %d lines from an earlier run", outbox.count)

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
        elif self.outbox.spill:
            self.outbox.retry()  # a full disk may have room again
        for note in persisted:  # the queue is FIFO: every line queued before it is committed now
            try:
                note.callback()
            except Exception:  # noqa: BLE001 - a caller's callback must not stop the sender
                logger.exception("influx: on_persisted callback failed")

    def _persist(self, lines: list[str]) -> None:
        with self.sink._lock:
            self.sink._queued_lines -= len(lines)
        # one transaction for all that arrived since the last look, no fsync (WAL, NORMAL)
        self.outbox.append([(STREAM, "", ln, 0, False) for ln in lines], time.time())
        if self.pending_since is None:
            self.pending_since = time.monotonic()
        self._publish_backlog()

    @property
    def waiting(self) -> int:
        """Lines not yet delivered: in the outbox file and in memory."""
        return self.outbox.waiting

    def _publish_backlog(self) -> None:
        oldest = self.outbox.oldest_created()
        st = self.outbox.status()
        dropped = st["dropped"]
        assert isinstance(dropped, dict)
        self.sink._set(backlog=self.waiting, oldest_age_s=None if oldest is None else
                       round(max(0.0, time.time() - oldest), 1), outbox_error=st["outbox_error"],
                       spilled=st["spilled"], dropped=sum(dropped.values()), rejected=st["set_aside"],
                       damaged_files=st["damaged_files"])

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

    def _next_batch(self) -> tuple[list[Stored], bool]:
        """The oldest undelivered rows: the outbox file's first, then what only memory holds
        (the file could not take it; those carry id 0). Rows that are not a line of text (a
        damaged row) are set aside here."""
        outbox = self.outbox
        while True:
            rows = outbox.after(0, self.icfg.batch_size)
            if not rows:
                break
            good = [r for r in rows if isinstance(r[3], str)]
            if len(good) == len(rows):
                return rows, True
            outbox.set_aside([r for r in rows if not isinstance(r[3], str)], "not a line of text (a damaged row)")
            if good:
                return good, True
        with outbox.lock:
            n = min(len(outbox.spill), self.icfg.batch_size)
            return [(0, *outbox.spill[i][0]) for i in range(n)], False

    def _send_all(self) -> None:
        """Send batches until nothing waits, an error calls for a pause, or close time is up."""
        while self.waiting:
            rows, from_file = self._next_batch()
            if not rows:
                break  # delivered rows whose delete waits for room: nothing to send
            try:
                self._deliver(rows)
            except WriteError as e:
                self._failed(e)
                break
            except Exception as e:  # noqa: BLE001 - a writer's surprise is one failed write, not a dead sender
                logger.debug("influx writer raised", exc_info=True)
                self._failed(WriteError(None, f"{type(e).__name__}: {e}"))
                break
            if from_file:
                self.outbox.delivered([r[0] for r in rows])
            else:
                with self.outbox.lock:
                    for _ in rows:
                        self.outbox.spill.popleft()
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
        self._publish_backlog()

    def _deliver(self, rows: list[Stored]) -> None:
        """Write ``rows``; a batch refused for its content is split until the bad lines are
        found, which are set aside (the good ones land: rewriting them is harmless)."""
        write = self._writer()
        try:
            write([str(r[3]) for r in rows], self._timeout())
        except WriteError as e:
            if not e.bad_data:
                raise
            if len(rows) > 1:
                mid = len(rows) // 2
                self._deliver(rows[:mid])
                self._deliver(rows[mid:])
                return
            self._reject(rows[0], e)
            return
        with self.sink._lock:
            st = self.sink._stats
            st["written"] += len(rows)
            st["connected"] = True

    def _reject(self, row: Stored, e: WriteError) -> None:
        self.outbox.set_aside([row], f"refused by the server: {e}")
        with self.sink._lock:
            self.sink._stats.update(rejected=self.outbox.set_aside_count, last_error=f"rejected line: {e}",
                                    last_error_at=time.time())

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
