"""The daemon: wires source, pipeline and sinks; main loop; ordered shutdown."""

from __future__ import annotations

import logging
import queue
import signal
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from battwatch.adapters.clock import HostClock
from battwatch.adapters.sdnotify import Notifier
from battwatch.adapters.serial_source import RawLine, SerialSource
from battwatch.adapters.store import Batch, Store
from battwatch.adapters.trouble import Trouble
from battwatch.config import Config
from battwatch.core.calibration import Calibration, FrameCalibrator
from battwatch.core.decoder import DeviceDecoder
from battwatch.core.events import Replaced
from battwatch.core.healthsummary import VehicleSummary
from battwatch.core.model import (
    FLAG_BUFFERED,
    AlertTransition,
    Command,
    HealthSummary,
    LinkDown,
    LinkUp,
    Reading,
    Tick,
)
from battwatch.core.pipeline import Outbound, Pipeline
from battwatch.core.pisleep import PiSleep
from battwatch.router import Router
from battwatch.sinks import Sink, build_sinks

logger = logging.getLogger(__name__)

PRUNE_EVERY_S = 6 * 3600.0  # retention pass, in data time
PRUNE_AHEAD_MAX_S = 86400.0  # retention never runs further ahead of a synchronised host clock
TICK_S = 60.0  # housekeeping cadence: summary, flush, silence check backstop
REPLACED_POLL_S = 5.0  # how soon a `battwatch replaced` in the store reaches the analysis
HEALTH_LOG_S = 6 * 3600.0  # a health line in the log this often, in data time (wakes and sleeps: debug)
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl+C, and `kill`/systemd stop
AWAKE_STATES = frozenset(("awake", "cranking", "running"))  # the analysis' vehicle states
PRELUDE_MAX = 200  # data lines held back waiting for a hello before they go on without one
PRELUDE_MAX_S = 5.0  # ... or seconds (a board that ignores HELLO)
CONFIGURE_AGAIN_S = 2.0  # a hello and no answer this long after: the commands were lost
ACKS_MAX = 100_000  # frames awaiting their commit, at most (a board that never answers ACK)


def health_line(summary: VehicleSummary, link: dict[str, Any]) -> str:
    """One log line for the owner: each battery's verdict and rested voltage, the active
    alerts, and the serial link's counts."""
    parts = []
    for b in summary.batteries():
        text = f"{'12 V' if b.battery == 'main' else 'SOS'} {b.health.word}"
        if b.rested_voltage is not None:
            text += f", rested {b.rested_voltage:.2f} V" + ("" if b.soc_pct is None else f" ({b.soc_pct} %)")
        parts.append(text)
    alerts = [f"{b.battery}/{a.alert} {a.severity}" for b in summary.batteries() for a in b.alerts]
    frames = link.get("frames", 0)
    lost = link.get("lost_frames", 0)
    return (f"health: {'; '.join(parts) or 'no readings analysed yet'}; "
            f"alerts: {', '.join(alerts) if alerts else 'none'}; link: {frames:,} frames, {lost:,} lost")


@dataclass(frozen=True, slots=True)
class PollReplaced:
    """Look in the store for replacements the owner recorded (battwatch replaced)."""


@dataclass(frozen=True, slots=True)
class ReplaceCommand:
    """A replacement asked for over MQTT (the Home Assistant button): raw payload, wall time."""

    payload: bytes
    received: float


def build_pipeline(cfg: Config) -> Pipeline:
    """The same pipeline for the daemon and for replay."""
    from battwatch.core.analysis import build_analyzer

    return Pipeline(cfg.vehicle.id, build_analyzer(cfg))


def build_decoder(cfg: Config) -> DeviceDecoder:
    cal = cfg.adc.calibration
    return DeviceDecoder(
        FrameCalibrator(
            Calibration(cal.main.gain, cal.main.offset),
            Calibration(cal.sos.gain, cal.sos.offset),
            cal.temp_offset_c,
            cfg.vehicle.id,
        ),
        hold_max_s=cfg.clock.hold_max_s,
        step_s=cfg.clock.step_s,
        jump_s=cfg.clock.jump_s,
        t_min=datetime(cfg.clock.min_year, 1, 1, tzinfo=UTC).timestamp(),
        t_max=datetime(cfg.clock.max_year + 1, 1, 1, tzinfo=UTC).timestamp(),
    )


def open_store(cfg: Config, directory: Path | None = None) -> Store:
    s = cfg.store
    return Store(
        directory or s.path,
        cfg.vehicle.id,
        csv_logs=s.csv_logs,
        commit_rows=s.commit_rows,
        commit_interval_s=s.commit_interval_s,
        retention_days=s.retention_days,
        csv_retention_days=s.csv_retention_days,
    )


class Retention:
    """The store's retention, run in data time: at the first reading, then every PRUNE_EVERY_S
    of data (the daemon and `replay --store` alike, so the same log keeps the same data)."""

    def __init__(self, store: Store, host_clock: HostClock) -> None:
        self.store = store
        self.host_clock = host_clock
        self.next_t = float("-inf")

    def due(self, t: float) -> bool:
        return t >= self.next_t

    def reset(self) -> None:
        """The data's timeline moved (a clock step): run again at the next reading."""
        self.next_t = float("-inf")

    def run(self, t: float) -> int:
        """Apply retention as of data time ``t``; returns the number of readings deleted."""
        # Data time, so an accelerated or replayed run is bounded too; but a data time far
        # ahead of a trustworthy host clock is a wrong time, and must not delete the real
        # readings before it.
        if self.host_clock.synced():
            t = min(t, time.time() + PRUNE_AHEAD_MAX_S)
        self.next_t = t + PRUNE_EVERY_S
        n = self.store.prune(t)
        if n:
            logger.info("retention: %d old readings deleted", n)
        return n


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
        self.health_log_s = health_log_s
        self._next_health_t: float | None = None  # data time of the next health line
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
        self._last_ping = 0.0
        # the idle wait must be shorter than the watchdog ping interval, however short
        self._wait_s = min(0.25, self.notifier.watchdog_interval_s or 0.25)
        self.source = SerialSource(
            cfg.adc.port,
            cfg.adc.baudrate,
            self.inbox,
            reconnect_min_s=cfg.adc.reconnect_min_s,
            reconnect_max_s=cfg.adc.reconnect_max_s,
        )
        self.on_reading = on_reading
        self.on_transition = on_transition
        self.stop_when = stop_when
        self.use_scheduler = use_scheduler  # False: no Tick or replacement look on the loop's clock
        self._next_tick = self._next_poll = float("inf")  # monotonic times, set when run() starts
        # given when a signal may arrive before the App exists (cli: handlers set first thing)
        self.stop_requested = stop_requested or threading.Event()
        self.force_exit = False
        # the readings end with this run (the demo): close and judge what is open at the stop.
        # Never for the daemon: its saved state keeps an open drive for the next start.
        self.final = final
        self.transitions = 0
        self.link_up = False
        self._last_frame_mono = time.monotonic()
        self._silence_reported = False
        self._awaiting_first_frame = False
        self._ever_linked = False  # the adapter has been there at least once since the start
        self._told_awake: bool | None = None  # the vehicle state the board's rate was set for
        self.pi_sleep = PiSleep(cfg.adc.sleep_after_s)  # SLEEP to the board, then power off
        self._poweroff: Any = None  # the poweroff command's process, once started
        self._time_sent = False  # TIME sent to the board on this link
        self._last_reading_t: float | None = None
        # Frames kept by the board until acknowledged (protocol.md, ACK): data lines from a
        # link-up to the board's hello wait here; a board that keeps frames sends them again
        # after the hello, in order with the ones it kept while nobody read them.
        self._prelude: list[RawLine] | None = None
        self._board_keeps: bool | None = None  # its answer to ACK on this link
        self._hello_at: float | None = None  # the first hello on this link (host time)
        self._configured_again = False
        self._acks: deque[tuple[int, int]] = deque()  # (store.accepted after the frame, seq)
        self._ack_due: int | None = None  # newest frame on disk the board has not been told of
        self._acked: int | None = None  # ... and the newest it has been told of
        self._reboots = 0
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
        """A replacement asked for over MQTT: checked as the CLI checks it, recorded, answered."""
        from battwatch.replacement import (
            Replacement,
            ReplacementError,
            check,
            clean_note,
            parse_command,
            parse_when,
        )

        self.commands["received"] += 1
        answer: dict[str, Any] = {"received": datetime.fromtimestamp(cmd.received, UTC).isoformat()}
        try:
            body = parse_command(cmd.payload)
            answer["battery"] = body["battery"]
            rep = Replacement(body["battery"], parse_when(body.get("date"), cmd.received),
                              clean_note(body.get("note")), "mqtt")
            new, notes = check(self.store, self.cfg, rep)
            if new:
                self.store.record_replacement(rep.battery, rep.t, rep.note, rep.source, cmd.received)
            answer.update(result="recorded" if new else "already recorded", note=rep.note,
                          fitted=datetime.fromtimestamp(rep.t, UTC).date().isoformat(), fitted_t=rep.t, notes=notes)
        except ReplacementError as e:
            self.commands["refused"] += 1
            logger.warning("replacement command refused (%d so far): %s", self.commands["refused"], e)
            answer.update(result="refused", error=str(e))
        except sqlite3.Error as e:  # a full or failing disk: the owner must hear it was not kept
            self.commands["refused"] += 1
            logger.error("replacement command not stored (%d refused so far): %s", self.commands["refused"], e)
            answer.update(result="not stored",
                          error=f"the store could not record it ({e}); send it again once the store's disk has room")
        for sink in self.network:
            publish = getattr(sink, "replace_answer", None)
            if publish is not None:
                self._call(sink, "replace_answer", publish, answer)
        self._poll_replaced()

    def _publish_summary(self, sinks: list[Sink] | None = None) -> None:
        t = self._last_reading_t or time.time()
        link = self.decoder.stats.as_dict()
        link["connected"] = self.link_up
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
            if self._next_health_t is None:
                self._next_health_t = first.t + self.health_log_s
            elif first.t >= self._next_health_t:
                self._next_health_t = first.t + self.health_log_s
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
        self._ack_stored()

    def _handle_event(self, ev: Any) -> None:
        if isinstance(ev, RawLine):
            if self._prelude is not None and ev.line.startswith(b"$BWD"):
                self._prelude.append(ev)
                if len(self._prelude) >= PRELUDE_MAX or ev.t - self._prelude[0].t > PRELUDE_MAX_S:
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
                self._follow_vehicle(r)
            if dec.arrived != arrived:
                self._frame_routed()
            if dec.last_ack is not ack and dec.last_ack is not None and dec.last_ack.command == "ACK":
                self._board_keeps = dec.last_ack.ok
            if dec.last_ack is not ack and dec.last_ack is not None and dec.last_ack.command == "SLEEP":
                self._sleep_answered(dec.last_ack.ok)
            if self._prelude is not None and (dec.stats.hello is not hello or self._board_keeps is False):
                self._end_prelude()  # the hello, or a board that will not send them again
            if dec.stats.hello is not hello and self._hello_at is None:
                self._hello_at = ev.t
            if (self._board_keeps is None and self._hello_at is not None and not self._configured_again
                    and ev.t - self._hello_at > CONFIGURE_AGAIN_S and self.link_up):
                # a board that talks but never answered: what was sent on connecting was lost
                # (a Nano resets when the port opens and its bootloader takes the first second)
                self._configured_again = True
                logger.info("ADC: no answer to the commands sent on connecting; sending them again")
                self._prelude = []
                self._configure_device()
            if not self._time_sent and self.link_up:
                self._send_time()
        elif isinstance(ev, PollReplaced):
            self._poll_replaced()
        elif isinstance(ev, ReplaceCommand):
            self._replace_command(ev)
        elif isinstance(ev, LinkUp):
            self.link_up = True
            self._ever_linked = True
            self._awaiting_first_frame = True
            self.decoder.link_reset()
            self._last_frame_mono = time.monotonic()
            self._prelude = []
            self._board_keeps = None
            self._hello_at = None
            self._configured_again = False
            self._configure_device()
            self.notifier.status(f"link up on {self.cfg.adc.port}")
        elif isinstance(ev, LinkDown):
            self.link_up = False
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
                f"{'link up' if self.link_up else 'link DOWN'}; {st.frames} frames, "
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

    # -- commands to the board (main thread only, like everything that touches state) ------
    def _configure_device(self) -> None:
        adc = self.cfg.adc
        # first: a board that keeps frames until acknowledged then sends them after its hello
        self.source.send(Command("ACK"))
        self.source.send(Command("HELLO"))
        awake = self._car_awake()
        self._told_awake = awake
        rate = self._sleep_rate_hz() if awake is False else adc.frame_rate_hz
        self.source.send(Command("RATE", (f"{rate:g}",)))
        self.source.send(Command("TRIG", (str(adc.crank_trigger_mv), "50")))
        self._time_sent = False
        self._send_time()

    # -- frames kept by the board until they are on disk (protocol.md, ACK) ----------------
    def _end_prelude(self) -> None:
        """The hello came (or never will): what arrived before it goes on, unless the board
        keeps frames, which then come again after the hello."""
        lines, self._prelude = self._prelude or [], None
        if self._board_keeps:
            if lines:
                logger.debug("%d frames from before the hello left to the board's resend", len(lines))
            return
        for ev in lines:
            self._handle_event(ev)

    def _frame_routed(self) -> None:
        """A data frame went to the store (or was refused for good): note its number, to be
        acknowledged once the store has committed it."""
        dec = self.decoder
        if dec.stats.reboots != self._reboots:
            # numbers from before a reboot mean other frames now
            self._reboots = dec.stats.reboots
            self._acks.clear()
            self._ack_due = self._acked = None
        if self._board_keeps is False or dec.holding or dec.high_seq is None:
            return
        if self._acks and self._acks[-1][1] == dec.high_seq:
            return
        self._acks.append((self.store.accepted, dec.high_seq))
        if len(self._acks) > ACKS_MAX:
            self._acks.popleft()

    def _ack_stored(self, *, final: bool = False) -> None:
        """Tell the board the newest frame the store has committed (after each commit)."""
        if self._board_keeps is False:
            self._acks.clear()
            return
        # past the commit point: a reading a full disk could not take is counted there, and
        # the board is not asked to keep it forever (it would hold every later frame back)
        done = self.store.settled
        while self._acks and self._acks[0][0] <= done:
            self._ack_due = self._acks.popleft()[1]
        if (self._ack_due is None or not self._board_keeps or self._prelude is not None
                or not (self.link_up or final)):
            return
        if self.source.send(Command("ACK", (str(self._ack_due),))):
            self._acked, self._ack_due = self._ack_due, None

    def _sleep_rate_hz(self) -> float:
        adc = self.cfg.adc
        return min(adc.sleep_rate_hz, adc.frame_rate_hz)

    def _car_awake(self) -> bool | None:
        state = self.pipeline.state
        return None if not state or state == "unknown" else state in AWAKE_STATES

    def _follow_vehicle(self, r: Reading) -> None:
        """Fast mode when the car wakes, a lower rate while it sleeps (firmware-notes/power.md).

        Frames the board kept while the Pi was away (flag 0x10) tell of the past: a wake in
        them is over, so only live frames move the rate."""
        if r.flags & FLAG_BUFFERED or not self.link_up:
            return
        awake = self._car_awake()
        if self.pi_sleep.reading(r.t, awake):
            self._ask_sleep()
        if awake is None or awake == self._told_awake:
            return
        self._told_awake = awake
        adc = self.cfg.adc
        if awake:
            self.source.send(Command("RATE", (f"{adc.frame_rate_hz:g}",)))
            if adc.fast_seconds > 0:
                self.source.send(Command("FAST", (str(adc.fast_seconds), f"{adc.fast_rate_hz:g}")))
                logger.debug("car awake: ADC fast mode, %d s at %g Hz, then %g Hz",
                             adc.fast_seconds, adc.fast_rate_hz, adc.frame_rate_hz)
            else:
                logger.debug("car awake: ADC at %g Hz", adc.frame_rate_hz)
        else:
            rate = self._sleep_rate_hz()
            self.source.send(Command("RATE", (f"{rate:g}",)))
            logger.debug("car asleep: ADC rate lowered to %g Hz", rate)

    def _ask_sleep(self) -> None:
        """The car has slept [adc] sleep_after_s: what is on disk is acknowledged first, then
        the board is asked to cut the Pi's supply until the next visit (power.md)."""
        adc = self.cfg.adc
        self._flush_sinks()
        self._ack_stored()
        if self.source.send(Command("SLEEP", (str(adc.visit_s),))):
            logger.info("car asleep for %.0f s: asking the ADC board to switch the Pi off for %d s",
                        adc.sleep_after_s, adc.visit_s)

    def _sleep_answered(self, ok: bool) -> None:
        """The board cuts the supply 20 s after its OK: the Pi halts before that."""
        if not self.pi_sleep.answered(ok) or self._poweroff is not None:
            if not ok:
                logger.info("the ADC board cannot switch the Pi off: the Pi stays on")
            return
        import subprocess

        cmd = list(self.cfg.adc.poweroff_command)
        logger.warning("powering off for the ADC board's sleep: %s", " ".join(cmd))
        try:
            self._poweroff = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            logger.error("cannot run [adc] poweroff_command %s: %s; the board cuts the supply anyway",
                         cmd[0], e)

    def _send_time(self) -> None:
        """Set the board's clock once the host clock is trustworthy (protocol.md, TIME)."""
        if self.host_clock.synced() and self.source.send(Command("TIME", (str(int(time.time() * 1000)),))):
            self._time_sent = True

    def _check_silence(self) -> None:
        silent_s = time.monotonic() - self._last_frame_mono
        if self._silence_reported or silent_s < self.cfg.adc.silent_after_s:
            return
        self._silence_reported = True
        if not self._ever_linked:
            reason = f"no ADC adapter at {self.cfg.adc.port}"
            told = f"{reason} since the daemon started"
        else:
            reason = told = "unplugged" if not self.link_up else "no valid frame"
        logger.warning("ADC silent for %.0f s (%s)", silent_s, told)
        self.notifier.status(f"ADC silent for {silent_s:.0f} s ({told})")
        base = self._last_reading_t if self._last_reading_t is not None else time.time() - silent_s
        self._take(self.pipeline.link_lost(base + silent_s, f"{reason} for {silent_s:.0f} s"))

    # -- lifecycle -------------------------------------------------------------------------
    def _due(self) -> Tick | PollReplaced | None:
        """The housekeeping due now, on the main loop's own clock: a Tick every TICK_S, a look
        for replacements every REPLACED_POLL_S (the first of each one interval after the start).

        A scheduler thread would only enqueue these; the loop wakes at least every
        ``_wait_s`` anyway, so it serves as the timer and no thread or library is needed."""
        if not self.use_scheduler:
            return None
        now = time.monotonic()
        if now >= self._next_tick:
            # from now, not from the missed time: a loop busy for minutes ticks once, not in a burst
            self._next_tick = now + TICK_S
            return Tick(time.time())
        if now >= self._next_poll:
            self._next_poll = now + REPLACED_POLL_S
            return PollReplaced()
        return None

    def run(self) -> int:
        logger.info("battwatch starting: vehicle %s, ADC %s, store %s", self.cfg.vehicle.id,
                    self.cfg.adc.port, self.store.directory)
        self._next_tick = time.monotonic() + TICK_S
        self._next_poll = time.monotonic() + REPLACED_POLL_S
        for sink in self.sinks:
            sink.start()
        self.source.start()
        self.notifier.ready(f"reading {self.cfg.adc.port}")
        try:
            while not self.stop_requested.is_set():
                self._watchdog()
                if self.stop_when is not None and self.stop_when(self):
                    break
                ev = self._due()
                if ev is None:
                    try:
                        ev = self.inbox.get(timeout=self._wait_s)
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

    def _watchdog(self) -> None:
        # pinged from the main loop itself: if the loop hangs, systemd restarts us
        interval = self.notifier.watchdog_interval_s
        if interval is not None:
            now = time.monotonic()
            if now - self._last_ping >= interval:
                self._last_ping = now
                self.notifier.watchdog()

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
        if self._poweroff is not None:
            self._poweroff.poll()  # reaped (systemd stops us while it runs, or it is done)
        self.link_up = False  # the port is closed: no LinkDown event comes for a stop

    def _final_ack(self) -> None:
        try:
            self._ack_stored(final=True)
            if self._acked is not None:
                logger.info("ADC told that frames up to %d are stored", self._acked)
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
        self._frame_routed()
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
