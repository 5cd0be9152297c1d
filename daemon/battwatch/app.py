"""The daemon: wires source, pipeline and sinks; the main loop, the one owner of state; ordered shutdown."""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from battwatch.adapters.clock import HostClock
from battwatch.adapters.sdnotify import Notifier
from battwatch.adapters.serial_source import RawLine, SerialSource
from battwatch.adapters.store import Batch
from battwatch.adapters.trouble import Trouble
from battwatch.board import Board
from battwatch.config import Config
from battwatch.core.events import Replaced
from battwatch.core.model import (
    AlertTransition,
    HealthSummary,
    LinkDown,
    LinkUp,
    Reading,
    Tick,
)
from battwatch.core.pipeline import Outbound
from battwatch.healthlog import HEALTH_LOG_S, HealthSchedule, health_line
from battwatch.parts import build_decoder, build_pipeline, open_store
from battwatch.replacement import ReplaceCommand, answer_command
from battwatch.retention import Retention
from battwatch.router import Router
from battwatch.sinks import Sink, build_sinks
from battwatch.timers import LoopTimers, PollReplaced

logger = logging.getLogger(__name__)

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl+C, and `kill`/systemd stop


class App:
    """Owns every moving part. Only the thread that calls ``run()`` touches the pipeline."""

    def __init__(
        self,
        cfg: Config,
        *,
        store_dir: Path | None = None,
        on_reading: Callable[[Reading], None] | None = None,
        on_transition: Callable[[AlertTransition], None] | None = None,
        stop_when: Callable[[App], bool] | None = None,
        use_scheduler: bool = True,
        sinks: list[Sink] | None = None,
        notifier: Notifier | None = None,
        stop_requested: threading.Event | None = None,
        health_log_s: float = HEALTH_LOG_S,
        final: bool = False,
    ) -> None:
        self.cfg = cfg
        self.health_log = HealthSchedule(health_log_s)
        self.inbox: queue.Queue[Any] = queue.Queue(maxsize=100_000)
        self.pipeline = build_pipeline(cfg)
        self.decoder = build_decoder(cfg)
        self.host_clock = HostClock(cfg.clock.host)
        self.store = open_store(cfg, store_dir)
        # the store first: a reading reaches the network sinks at the store's commit point,
        # so they never hold one that a power cut took from the store
        extra = build_sinks(cfg, store_dir=self.store.directory) if sinks is None else sinks
        self.sinks: list[Sink] = [self.store, *extra]
        self.network: list[Sink] = list(extra)
        self.store.on_commit = self._committed
        # the store takes readings now, the network sinks at its commit (_committed); events
        # go to the network sinks once the readings before them are committed
        self.router = Router(self.pipeline, readings=[self.store], events=self.network, call=self._call,
                             before_event=self._commit_store)
        self._sink_trouble: dict[tuple[str, str], Trouble] = {}
        self.notifier = notifier or Notifier()
        self.timers = LoopTimers(self.notifier, enabled=use_scheduler)
        self.source = SerialSource(
            cfg.adc.port,
            cfg.adc.baudrate,
            self.inbox,
            reconnect_min_s=cfg.adc.reconnect_min_s,
            reconnect_max_s=cfg.adc.reconnect_max_s,
        )
        self.board = Board(cfg.adc, self.source, self.decoder, self.store, self.pipeline, self.host_clock,
                           flush=self._flush_sinks)
        self.on_reading = on_reading
        self.on_transition = on_transition
        self.stop_when = stop_when
        # given when a signal may arrive before the App exists (cli: handlers set first thing)
        self.stop_requested = stop_requested or threading.Event()
        self.force_exit = False
        # the readings end with this run (the demo): close and judge what is open at the stop.
        # Never for the daemon: its saved state keeps an open drive for the next start.
        self.final = final
        self.transitions = 0
        self._last_frame_mono = time.monotonic()
        self._silence_reported = False
        self._awaiting_first_frame = False
        self._ever_linked = False  # the adapter has been there at least once since the start
        self._last_reading_t: float | None = None
        self.retention = Retention(self.store, self.host_clock)
        self._replaced_seen = 0  # the last replacement record handed to the analysis
        self.commands = {"received": 0, "refused": 0}  # replacement commands over MQTT
        self._restore()
        self._poll_replaced()
        for sink in self.sinks:
            if hasattr(sink, "on_replace_command"):
                # paho's thread calls it: it only enqueues, the main loop records and answers
                sink.on_replace_command = self._enqueue_command

    # -- state across restarts -----------------------------------------------------------
    def _restore(self) -> None:
        saved = self.store.get("analyzer")
        if saved is not None and self.pipeline.analysing:
            try:
                self.pipeline.import_state(saved)
                logger.info("restored analysis state from %s", self.store.directory)
            except Exception:  # noqa: BLE001 - a stale state must not keep the daemon down
                logger.exception("saved analysis state unusable; starting afresh")

    def _save(self) -> None:
        state = self.pipeline.export_state()
        if state is not None:
            self.store.put("analyzer", state)
        self._publish_summary()

    def _checkpoint(self, trs: list[AlertTransition]) -> None:
        """Store alert transitions together with the analysis state that raised or cleared them."""
        state = self.pipeline.export_state()
        if state is None:
            for tr in trs:
                self.store.transition(tr)
        else:
            self.store.record_transitions(trs, "analyzer", state)

    # -- replaced batteries ----------------------------------------------------------------
    def _enqueue_command(self, payload: bytes) -> None:
        self.inbox.put(ReplaceCommand(payload, time.time()))

    def _poll_replaced(self) -> None:
        """Hand replacements recorded in the store since the last look to the analysis."""
        rows = self.store.replacements(self._replaced_seen)
        for rid, battery, t, note, source, _ in rows:
            self._replaced_seen = rid
            if self.pipeline.schedule_replacement(battery, t, note):
                logger.info("replacement recorded (%s): %s battery fitted %s; applied from that time in the data",
                            source, battery, datetime.fromtimestamp(t, UTC).isoformat())
        if rows and self.pipeline.analysing and self._last_reading_t is not None:
            # told after the fact (the data is past it): the reset happens now, not at the next reading
            self._take(self.pipeline.tick(self._last_reading_t))
            self._publish_summary()

    def _replace_command(self, cmd: ReplaceCommand) -> None:
        """A replacement asked for over MQTT: recorded (or refused), answered, handed on."""
        answer = answer_command(self.store, self.cfg, cmd, self.commands)
        for sink in self.network:
            publish = getattr(sink, "replace_answer", None)
            if publish is not None:
                self._call(sink, "replace_answer", publish, answer)
        self._poll_replaced()

    def _publish_summary(self, sinks: list[Sink] | None = None) -> None:
        t = self._last_reading_t or time.time()
        link = self.decoder.stats.as_dict()
        link["connected"] = self.board.link_up
        link["held_for_clock"] = self.decoder.holding
        link["host_clock"] = self.host_clock.state
        data = self.pipeline.summary(t).with_daemon(
            link=link, sinks={s.name: s.status() for s in self.sinks}, commands=dict(self.commands),
            store=self.store.health(),
            updated=time.time(),  # wall clock of this summary: status shows its age
        )
        summary = HealthSummary(t, self.cfg.vehicle.id, data)
        for sink in self.sinks if sinks is None else sinks:
            self._call(sink, "summary", sink.summary, summary)

    def _call(self, sink: Sink, what: str, fn: Callable[..., None], *args: Any) -> None:
        """One sink's call, isolated: a sink that fails (its disk is full, say) must not keep
        the others from their data; told once, then counted (adapters/trouble.py)."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - any sink failure, whatever its kind
            trouble = self._sink_trouble.get((sink.name, what))
            if trouble is None:
                trouble = self._sink_trouble[sink.name, what] = Trouble(logger, f"sink {sink.name} ({what})")
                logger.error("sink %s failed in %s", sink.name, what, exc_info=True)
            trouble.failed(e, 1 if what == "reading" else 0, consequence=f"{what} lost for this sink")
        else:
            if self._sink_trouble:
                trouble = self._sink_trouble.get((sink.name, what))
                if trouble is not None and trouble.active:
                    trouble.ok()

    def _committed(self, batch: Batch) -> None:
        """The store's commit point: these readings are on disk (or the disk could not take
        them, which the store counts); now the network sinks may have them."""
        for r, state in batch:
            for sink in self.network:
                self._call(sink, "reading", sink.reading, r, state)

    # -- signals -------------------------------------------------------------------------
    def handle_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.stop_requested.is_set() and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl+C: skip draining
        self.stop_requested.set()

    def install_signal_handlers(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        for sig in HANDLED_SIGNALS:
            previous[sig] = signal.signal(sig, self.handle_signal)
        return previous

    # -- what the pipeline hands out ------------------------------------------------------
    def _commit_store(self) -> None:
        self._call(self.store, "flush", self.store.flush)

    def _take(self, outs: Sequence[Outbound]) -> None:
        """The daemon's part in what the pipeline handed out; the router gives it to the sinks."""
        if not outs:
            return
        first = outs[0]
        if type(first) is Reading:
            self._last_reading_t = first.t
            if self.health_log.due(first.t):
                logger.info("%s", health_line(self.pipeline.summary(first.t), self.decoder.stats.as_dict()))
            if self.retention.due(first.t):
                self.retention.run(first.t)
        self.router.route(outs)
        if type(first) is Reading:
            if self.on_reading is not None:
                self.on_reading(first)
            if len(outs) == 1:
                return
        trs: list[AlertTransition] = []
        for out in outs:
            if isinstance(out, AlertTransition):
                trs.append(out)
            elif isinstance(out, Replaced):
                logger.info("%s battery replaced (fitted %s): its analysis starts afresh",
                            out.battery, datetime.fromtimestamp(out.fitted, UTC).date().isoformat())
        if not trs:
            return
        # after the network outboxes took them: a power cut in between repeats an alert on
        # restart, it never forgets one
        self._checkpoint(trs)
        # told only once durable, so whoever sees the log line can rely on the store
        for tr in trs:
            self.transitions += 1
            logger.log(
                logging.WARNING if tr.change in ("raised", "escalated") else logging.INFO,
                "alert %s %s/%s %s: %s", tr.change, tr.battery, tr.alert, tr.severity, tr.message,
            )
            if self.on_transition is not None:
                self.on_transition(tr)
        self._publish_summary()  # the retained state must never lag an alert

    def _handle(self, ev: Any) -> None:
        self._handle_event(ev)
        self.board.ack_stored()

    def _handle_event(self, ev: Any) -> None:
        if isinstance(ev, RawLine):
            board = self.board
            if board.hold(ev):
                if board.prelude_overdue(ev.t):
                    self._end_prelude()  # no hello in sight: go on without it
                return
            dec = self.decoder
            arrived = dec.arrived
            hello, ack = dec.stats.hello, dec.last_ack
            r = dec.feed(ev.line, ev.t, self.host_clock.synced())
            if dec.jumps:
                for t, delta in dec.jumps:
                    self.pipeline.time_jump(t, delta)
                dec.jumps.clear()
                self.retention.reset()  # the schedule was on the old timeline
            if dec.released:
                # readings held while the clock was unsynchronised, now with true times
                for held in dec.take_released():
                    self._take(self.pipeline.reading(held))
            if dec.arrived != arrived:
                self._frame_arrived()
            if r is not None:
                self._take(self.pipeline.reading(r))
                board.follow(r)
            if dec.arrived != arrived:
                board.frame_routed()
            if board.answered(hello, ack):
                self._end_prelude()  # the hello, or a board that will not send them again
            board.after_line(ev.t, hello)
        elif isinstance(ev, PollReplaced):
            self._poll_replaced()
        elif isinstance(ev, ReplaceCommand):
            self._replace_command(ev)
        elif isinstance(ev, LinkUp):
            self._ever_linked = True
            self._awaiting_first_frame = True
            self.decoder.link_reset()
            self._last_frame_mono = time.monotonic()
            self.board.connected()
            self.notifier.status(f"link up on {self.cfg.adc.port}")
        elif isinstance(ev, LinkDown):
            self.board.disconnected()
            self.notifier.status(f"link DOWN: waiting for {self.cfg.adc.port}")
        elif isinstance(ev, Tick):
            self._poll_replaced()
            self._take(self.pipeline.tick(self._last_reading_t or ev.t))
            for rem in self.pipeline.reminders():
                for sink in self.sinks:
                    self._call(sink, "reminder", sink.reminder, rem)
            self._flush_sinks()
            self._save()
            st = self.decoder.stats
            n_held = self.decoder.holding
            self.notifier.status(
                f"{'link up' if self.board.link_up else 'link DOWN'}; {st.frames} frames, "
                f"{st.lost_frames} lost, {sum(st.errors.values())} bad"
                + (f", {n_held} held for clock sync" if n_held else "")
                + f"; {self.transitions} alert transitions"
            )

    def _frame_arrived(self) -> None:
        """A good data frame came in, passed on or held: the ADC is alive."""
        self._last_frame_mono = time.monotonic()
        if self._silence_reported or self._awaiting_first_frame:
            held = self.decoder.holding
            logger.info(
                "ADC data flowing%s%s", " again" if self._silence_reported else "",
                f" (frames held until the host clock is synchronised, {held} so far)" if held else "",
            )
        self._silence_reported = self._awaiting_first_frame = False

    def _end_prelude(self) -> None:
        """The lines held for the board's hello go on now (none when the board sends them again)."""
        for ev in self.board.end_prelude():
            self._handle_event(ev)

    def _check_silence(self) -> None:
        silent_s = time.monotonic() - self._last_frame_mono
        if self._silence_reported or silent_s < self.cfg.adc.silent_after_s:
            return
        self._silence_reported = True
        if not self._ever_linked:
            reason = f"no ADC adapter at {self.cfg.adc.port}"
            told = f"{reason} since the daemon started"
        else:
            reason = told = "unplugged" if not self.board.link_up else "no valid frame"
        logger.warning("ADC silent for %.0f s (%s)", silent_s, told)
        self.notifier.status(f"ADC silent for {silent_s:.0f} s ({told})")
        base = self._last_reading_t if self._last_reading_t is not None else time.time() - silent_s
        self._take(self.pipeline.link_lost(base + silent_s, f"{reason} for {silent_s:.0f} s"))

    # -- lifecycle -------------------------------------------------------------------------
    def run(self) -> int:
        logger.info("battwatch starting: vehicle %s, ADC %s, store %s", self.cfg.vehicle.id,
                    self.cfg.adc.port, self.store.directory)
        self.timers.start()
        for sink in self.sinks:
            sink.start()
        self.source.start()
        self.notifier.ready(f"reading {self.cfg.adc.port}")
        try:
            while not self.stop_requested.is_set():
                self.timers.watchdog()
                if self.stop_when is not None and self.stop_when(self):
                    break
                ev = self.timers.due()
                if ev is None:
                    try:
                        ev = self.inbox.get(timeout=self.timers.wait_s)
                    except queue.Empty:
                        self._check_silence()
                        continue
                try:
                    self._handle(ev)
                except Exception:  # noqa: BLE001 - one bad event must never kill the daemon
                    logger.exception("error handling %r", ev)
                self._check_silence()
        finally:
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        """Ordered: stop producers, drain what they queued, flush, close."""
        logger.info("battwatch stopping")
        self.notifier.stopping()
        steps: list[tuple[str, Callable[[], None]]] = [
            ("serial", self._stop_source),
            ("drain", self._drain),
            ("held", self._release_held),
            ("end of data", self._end_of_data),
            ("flush", self._flush_sinks),
            # the board may forget what is on disk now; then the port closes
            ("ack", self._final_ack),
            # after the flush, so the snapshot `battwatch status` reads says link down, 0 pending
            ("state", self._save),
        ]
        # network sinks first (they flush to their outbox in the store directory), store last
        network = self.network
        for sink in reversed(network):
            steps.append((sink.name, sink.close))
        if network:
            # the store's copy of the summary then tells the network sinks' final backlog
            steps.append(("summary", lambda: self._publish_summary([self.store])))
        steps.append((self.store.name, self.store.close))
        for name, step in steps:
            try:
                step()
            except Exception:  # noqa: BLE001 - each step is isolated so the rest still runs
                logger.exception("shutdown step %s failed", name)
        logger.info("battwatch stopped")
        self.notifier.close()

    def _stop_source(self) -> None:
        self.source.stop(close=False)  # open until the final ACK
        self.board.stopped()

    def _final_ack(self) -> None:
        try:
            self.board.ack_stored(final=True)
            if self.board.acked is not None:
                logger.info("ADC told that frames up to %d are stored", self.board.acked)
        finally:
            self.source.close()

    def _flush_sinks(self) -> None:
        for sink in self.sinks:  # the store first: its commit hands readings to the others
            self._call(sink, "flush", sink.flush)

    def _release_held(self) -> None:
        """Readings held for an unsynchronised host clock are stored, never lost at a stop:
        stamped on that clock, as when [clock] hold_max_s runs out."""
        held = self.decoder.holding
        if not held:
            return
        n = self.decoder.release_held()
        for r in self.decoder.take_released():
            self._take(self.pipeline.reading(r))
        self.board.frame_routed()
        logger.warning(
            "stopping before the host clock was synchronised: %d held readings stamped by estimate "
            "(the unsynchronised host clock)%s", n,
            f"; {held - n} could not be placed in time order" if held != n else "",
        )

    def _end_of_data(self) -> None:
        if self.final and self._last_reading_t is not None:
            self._take(self.pipeline.end_of_data(self._last_reading_t))

    def _drain(self) -> None:
        if self.force_exit:
            return
        while True:
            try:
                ev = self.inbox.get_nowait()
            except queue.Empty:
                return
            self._handle(ev)
