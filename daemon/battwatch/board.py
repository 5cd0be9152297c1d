"""The daemon's side of the talk with the ADC board: HELLO, RATE with the car, ACK of stored frames, SLEEP, TIME."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from battwatch.adapters.clock import HostClock
from battwatch.adapters.serial_source import RawLine, SerialSource
from battwatch.adapters.store import Store
from battwatch.config import AdcConfig
from battwatch.core.decoder import DeviceDecoder
from battwatch.core.model import FLAG_BUFFERED, Ack, Command, Hello, Reading
from battwatch.core.pipeline import Pipeline
from battwatch.core.pisleep import PiSleep

logger = logging.getLogger(__name__)

AWAKE_STATES = frozenset(("awake", "cranking", "running"))  # the analysis' vehicle states
PRELUDE_MAX = 200  # data lines held back waiting for a hello before they go on without one
PRELUDE_MAX_S = 5.0  # ... or seconds (a board that ignores HELLO)
CONFIGURE_AGAIN_S = 2.0  # a hello and no answer this long after: the commands were lost
ACKS_MAX = 100_000  # frames awaiting their commit, at most (a board that never answers ACK)


class Board:
    """What the daemon tells the board and what its answers mean (protocol.md, power.md).

    Only the main loop calls it, like everything that touches state: the commands go out
    through the serial source, the answers come back decoded by the main loop's decoder."""

    def __init__(
        self,
        adc: AdcConfig,
        source: SerialSource,
        decoder: DeviceDecoder,
        store: Store,
        pipeline: Pipeline,
        host_clock: HostClock,
        flush: Callable[[], None],
    ) -> None:
        self.adc = adc
        self.source = source
        self.decoder = decoder
        self.store = store
        self.pipeline = pipeline
        self.host_clock = host_clock
        self.flush = flush  # the store's commit and the sinks' flush, before a SLEEP
        self.link_up = False
        self._told_awake: bool | None = None  # the vehicle state the board's rate was set for
        self.pi_sleep = PiSleep(adc.sleep_after_s)  # SLEEP to the board, then power off
        self._poweroff: Any = None  # the poweroff command's process, once started
        self._time_sent = False  # TIME sent to the board on this link
        # Frames kept by the board until acknowledged (protocol.md, ACK): data lines from a
        # link-up to the board's hello wait here; a board that keeps frames sends them again
        # after the hello, in order with the ones it kept while nobody read them.
        self.prelude: list[RawLine] | None = None
        self.keeps: bool | None = None  # its answer to ACK on this link
        self._hello_at: float | None = None  # the first hello on this link (host time)
        self._configured_again = False
        self._acks: deque[tuple[int, int]] = deque()  # (store.accepted after the frame, seq)
        self._ack_due: int | None = None  # newest frame on disk the board has not been told of
        self.acked: int | None = None  # ... and the newest it has been told of
        self._reboots = 0

    # -- the link ----------------------------------------------------------------------------
    def connected(self) -> None:
        """The port opened: hold data lines until the hello, and configure the board."""
        self.link_up = True
        self.prelude = []
        self.keeps = None
        self._hello_at = None
        self._configured_again = False
        self.configure()

    def disconnected(self) -> None:
        self.link_up = False

    def stopped(self) -> None:
        """The serial source stopped (the daemon's stop): no LinkDown event comes for it."""
        if self._poweroff is not None:
            self._poweroff.poll()  # reaped (systemd stops us while it runs, or it is done)
        self.link_up = False

    def configure(self) -> None:
        adc = self.adc
        # first: a board that keeps frames until acknowledged then sends them after its hello
        self.source.send(Command("ACK"))
        self.source.send(Command("HELLO"))
        # a car not known asleep (no 12 V reading yet) gets the full rate, as an awake one would
        self._told_awake = self._car_awake() is not False
        rate = adc.frame_rate_hz if self._told_awake else self._sleep_rate_hz()
        self.source.send(Command("RATE", (f"{rate:g}",)))
        self.source.send(Command("TRIG", (str(adc.crank_trigger_mv), "50")))
        self._time_sent = False
        self.send_time()

    # -- what a line told of the board -------------------------------------------------------
    def hold(self, ev: RawLine) -> bool:
        """A data line before the board's hello waits (True) until the hello tells whether
        the board sends it again."""
        if self.prelude is None or not ev.line.startswith(b"$BWD"):
            return False
        self.prelude.append(ev)
        return True

    def prelude_overdue(self, t: float) -> bool:
        """No hello in sight after PRELUDE_MAX lines or PRELUDE_MAX_S: go on without one."""
        held = self.prelude
        if not held:
            return False
        return len(held) >= PRELUDE_MAX or t - held[0].t > PRELUDE_MAX_S

    def end_prelude(self) -> list[RawLine]:
        """The hello came (or never will): the lines held before it, to be handled now, unless
        the board keeps frames, which then come again after the hello."""
        lines, self.prelude = self.prelude or [], None
        if self.keeps:
            if lines:
                logger.debug("%d frames from before the hello left to the board's resend", len(lines))
            return []
        return lines

    def answered(self, hello: Hello | None, ack: Ack | None) -> bool:
        """The board's answers in the line just decoded (``hello`` and ``ack``: the decoder's
        before it). True when the held lines are to go on now: the hello came, or a board that
        will not send them again said so."""
        dec = self.decoder
        last = dec.last_ack
        if last is not ack and last is not None:
            if last.command == "ACK":
                self.keeps = last.ok
            elif last.command == "SLEEP":
                self._sleep_answered(last.ok)
        return self.prelude is not None and (dec.stats.hello is not hello or self.keeps is False)

    def after_line(self, t: float, hello: Hello | None) -> None:
        """A line was handled at host time ``t``: the commands sent again when the board talks
        but never answered, the clock set once the host's is trustworthy."""
        if self.decoder.stats.hello is not hello and self._hello_at is None:
            self._hello_at = t
        if (self.keeps is None and self._hello_at is not None and not self._configured_again
                and t - self._hello_at > CONFIGURE_AGAIN_S and self.link_up):
            # a board that talks but never answered: what was sent on connecting was lost
            # (a Nano resets when the port opens and its bootloader takes the first second)
            self._configured_again = True
            logger.info("ADC: no answer to the commands sent on connecting; sending them again")
            self.prelude = []
            self.configure()
        if not self._time_sent and self.link_up:
            self.send_time()

    # -- frames kept by the board until they are on disk (protocol.md, ACK) ------------------
    def frame_routed(self) -> None:
        """A data frame went to the store (or was refused for good): note its number, to be
        acknowledged once the store has committed it."""
        dec = self.decoder
        if dec.stats.reboots != self._reboots:
            # numbers from before a reboot mean other frames now
            self._reboots = dec.stats.reboots
            self._acks.clear()
            self._ack_due = self.acked = None
        if self.keeps is False or dec.holding or dec.high_seq is None:
            return
        if self._acks and self._acks[-1][1] == dec.high_seq:
            return
        self._acks.append((self.store.accepted, dec.high_seq))
        if len(self._acks) > ACKS_MAX:
            self._acks.popleft()

    def ack_stored(self, *, final: bool = False) -> None:
        """Tell the board the newest frame the store has committed (after each commit)."""
        if self.keeps is False:
            self._acks.clear()
            return
        # past the commit point: a reading a full disk could not take is counted there, and
        # the board is not asked to keep it forever (it would hold every later frame back)
        done = self.store.settled
        while self._acks and self._acks[0][0] <= done:
            self._ack_due = self._acks.popleft()[1]
        if (self._ack_due is None or not self.keeps or self.prelude is not None
                or not (self.link_up or final)):
            return
        if self.source.send(Command("ACK", (str(self._ack_due),))):
            self.acked, self._ack_due = self._ack_due, None

    # -- the rate follows the car; SLEEP when it has slept long enough -----------------------
    def _sleep_rate_hz(self) -> float:
        adc = self.adc
        return min(adc.sleep_rate_hz, adc.frame_rate_hz)

    def _car_awake(self) -> bool | None:
        state = self.pipeline.state
        return None if not state or state == "unknown" else state in AWAKE_STATES

    def follow(self, r: Reading) -> None:
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
        adc = self.adc
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
        adc = self.adc
        self.flush()
        self.ack_stored()
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

        cmd = list(self.adc.poweroff_command)
        logger.warning("powering off for the ADC board's sleep: %s", " ".join(cmd))
        try:
            self._poweroff = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            logger.error("cannot run [adc] poweroff_command %s: %s; the board cuts the supply anyway",
                         cmd[0], e)

    def send_time(self) -> None:
        """Set the board's clock once the host clock is trustworthy (protocol.md, TIME)."""
        if self.host_clock.synced() and self.source.send(Command("TIME", (str(int(time.time() * 1000)),))):
            self._time_sent = True
