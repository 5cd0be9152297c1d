"""Device lines to calibrated Readings: framing errors, sequence gaps, time mapping (pure)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from battwatch.core.calibration import FrameCalibrator
from battwatch.core.model import FLAG_BUFFERED, Ack, DeviceTime, Frame, Hello, Reading
from battwatch.core.protocol import PROTO_VERSION, FrameError, parse_line, seq_gap
from battwatch.core.timebase import T_MAX, T_MIN, Timebase, show_time

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class LinkStats:
    """What the serial link did: the numbers `battwatch status` shows."""

    lines: int = 0
    frames: int = 0
    lost_frames: int = 0  # sequence gaps
    resent: int = 0  # buffered frames sent again that had arrived already (left out)
    errors: Counter[str] = field(default_factory=Counter)  # checksum, garbage, partial, ...
    reboots: int = 0
    hello: Hello | None = None
    last_frame_t: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "frames": self.frames,
            "lost_frames": self.lost_frames,
            "resent_frames": self.resent,
            "bad_lines": sum(self.errors.values()),
            "errors": dict(self.errors),
            "device_reboots": self.reboots,
            "firmware": self.hello.firmware if self.hello else None,
            "board": self.hello.board if self.hello else None,
        }


def _after(seq: int, ref: int) -> bool:
    """``seq`` comes after ``ref`` in the 32-bit sequence (wrap aware)."""
    return 0 < ((seq - ref) & 0xFFFFFFFF) < 0x80000000


class DeviceDecoder:
    """Feeds raw lines from the ADC; returns a Reading for each good data frame.

    Bad lines are counted by kind and logged (rate-limited by the counter), never raised:
    a noisy cable must not stop the daemon.
    """

    def __init__(
        self,
        calibrator: FrameCalibrator,
        *,
        max_logged: int = 20,
        hold_max_s: float = 900.0,
        step_s: float = 2.0,
        jump_s: float = 60.0,
        t_min: float = T_MIN,
        t_max: float = T_MAX,
    ) -> None:
        self.calibrator = calibrator
        self.timebase = Timebase(t_min, t_max)
        self.stats = LinkStats()
        self._last_seq: int | None = None
        # the newest sequence number seen since the device booted, across reconnects: a board
        # that keeps frames until they are acknowledged sends again what was not (protocol.md)
        self.high_seq: int | None = None
        self._last_t = float("-inf")
        self._max_logged = max_logged
        # Host-clock handling when the board has no clock of its own (firmware-notes, power.md):
        self.hold_max_s = hold_max_s  # hold readings this long waiting for NTP, then estimate
        self.step_s = step_s  # a synced host clock this far from our mapping: re-anchor
        self.jump_s = jump_s  # ... and this far: tell the analysis time jumped
        self._held: list[Reading] = []
        # each held reading's uptime and the device boot it came from: a re-stamp places it
        # by its own uptime, whatever anchor (a hello, say) came after it was held
        self._held_at: list[tuple[int, int]] = []
        self._estimated = False  # readings went out on an unsynchronised host clock
        self.released: list[Reading] = []  # held readings re-stamped, for the caller to take
        self.jumps: list[tuple[float, float]] = []  # (time, seconds) for the caller to take
        self.arrived = 0  # good data frames, passed on or held: the link is alive
        self.last_ack: Ack | None = None  # the device's latest answer to a command
        # set by a hello, a device clock frame or a reboot: the next frame may find the time
        # mapping behind the last reading, and then the fresh anchor wins (see _rebase)
        self._rebase_by = ""
        self._on_host_clock = False  # readings went out on the current host-clock mapping

    @property
    def holding(self) -> int:
        """Readings held until the host clock is synchronised."""
        return len(self._held)

    def _years(self) -> str:
        tb = self.timebase
        return f"{show_time(tb.t_min)[:4]}..{int(show_time(tb.t_max)[:4]) - 1}"

    def link_reset(self) -> None:
        """The port was (re)opened: the sequence starts afresh.

        The time mapping stays: if the device kept running, its uptime continues and the
        mapping with it; if it rebooted, the uptime going backwards resets the mapping.
        """
        self._last_seq = None

    def _bad(self, kind: str, detail: str, line: bytes) -> None:
        self.stats.errors[kind] += 1
        n = self.stats.errors[kind]
        if n <= self._max_logged or n % 1000 == 0:
            logger.warning("serial: %s line #%d skipped (%s): %.60r", kind, n, detail, line)

    def feed(self, line: bytes, host_t: float, host_synced: bool = True) -> Reading | None:
        """One line in; a Reading out when it was a good data frame.

        ``host_synced`` says whether the host clock is trustworthy (NTP synchronised). While
        it is not and the board has no clock, readings are held (``released`` gets them,
        re-stamped, once the clock is synchronised).
        """
        self.stats.lines += 1
        try:
            msg = parse_line(line)
        except FrameError as e:
            self._bad(e.kind, str(e), line)
            return None
        if isinstance(msg, Frame):
            return self._frame(msg, host_t, host_synced, line)
        if isinstance(msg, Hello):
            self._hello(msg, host_t, line)
        elif isinstance(msg, DeviceTime):
            self._device_time(msg, line)
        elif isinstance(msg, Ack):
            self.last_ack = msg
            if not msg.ok:
                # a board without a clock or power switch says so for TIME and SLEEP, and an
                # older or simpler one for ACK: expected
                level = (logging.INFO if msg.detail == "unsupported"
                         or (msg.command == "ACK" and msg.detail == "unknown") else logging.WARNING)
                logger.log(level, "ADC refused %s: %s", msg.command, msg.detail)
            elif msg.detail:
                # at every change of rate (each wake and sleep): detail for debugging only
                logger.debug("ADC accepted %s: %s", msg.command, msg.detail)
        return None

    def _hello(self, msg: Hello, host_t: float, line: bytes) -> None:
        if msg.proto != PROTO_VERSION:
            self._bad("protocol", f"device speaks protocol {msg.proto}", line)
            return
        tb = self.timebase
        if tb.rebooted(msg.uptime_ms):
            self._rebooted()
        self.stats.hello = msg
        tb.anchor(msg.uptime_ms, host_t)
        self._rebase_by = "the hello"
        logger.info(
            "ADC: %s firmware %s, %d-bit, %g Hz", msg.board, msg.firmware, msg.adc_bits, msg.rate_hz
        )

    def _device_time(self, msg: DeviceTime, line: bytes) -> None:
        tb = self.timebase
        now = msg.unix_ms / 1000.0
        if not tb.plausible(now):
            self._bad("time", f"device clock reads {show_time(now)}, outside the years {self._years()}", line)
            return
        if tb.rebooted(msg.uptime_ms):
            self._rebooted()
        shift = tb.device_time(msg.uptime_ms, msg.unix_ms)
        on_host, self._on_host_clock = self._on_host_clock, False
        if abs(shift) >= self.step_s and on_host and self._last_t != float("-inf"):
            # the board's clock replaces our host-clock guess: trust it, even backwards
            logger.warning("ADC clock adopted; readings move by %+.0f s", shift)
            if abs(shift) >= self.jump_s:
                self.jumps.append((now, shift))
                self._last_t = float("-inf")
        self._rebase_by = "the device clock"
        if self._held:
            # held for an unsynchronised host clock: the board's clock places them now
            self._release(self._restamp(msg.uptime_ms, now, shift))

    def _rebooted(self) -> None:
        self.stats.reboots += 1
        self._last_seq = None
        self.high_seq = None
        self._on_host_clock = False
        self.timebase.reboot()

    def _rebase(self, t: float) -> None:
        """A fresh anchor puts this frame at ``t``, well before the last reading: the old
        mapping ran ahead (a bad frame, a clock set back). Go on from the new one, so one bad
        time can never hold back every later frame, and tell the analysis of the step."""
        delta = t - self._last_t
        logger.warning(
            "ADC time re-anchored by %s: the last reading (%s) is %.0f s after this frame; going on from %s",
            self._rebase_by, show_time(self._last_t), -delta, show_time(t),
        )
        self.jumps.append((t, delta))
        self._last_t = float("-inf")

    def _frame(self, fr: Frame, host_t: float, host_synced: bool, line: bytes) -> Reading | None:
        st = self.stats
        tb = self.timebase
        buffered = fr.flags & FLAG_BUFFERED
        if buffered and self.high_seq is not None and not _after(fr.seq, self.high_seq):
            # kept by the board until acknowledged, and here already. (Older than the last
            # frame, it is no sign of a reboot: a rebooted board says hello first, which
            # starts the numbers afresh.)
            st.resent += 1
            return None
        reboot = tb.rebooted(fr.uptime_ms)
        t = tb.peek(fr.uptime_ms, host_t)
        device_clock = tb.device_clock and not reboot
        holding = not device_clock and not host_synced and not self._estimated
        # Held readings are re-stamped later; only a host clock that is itself implausible
        # (no time at all since boot) leaves their provisional time unjudged until then.
        if not tb.plausible(t) and (not holding or tb.plausible(host_t)):
            self._bad(
                "time",
                f"frame {fr.seq} at uptime {fr.uptime_ms} ms would be at {show_time(t)}, "
                f"outside the years {self._years()}",
                line,
            )
            return None
        if reboot:
            self._rebooted()
        t = tb.to_time(fr.uptime_ms, host_t)
        if reboot:
            self._rebase_by = "a device reboot"
        if self._last_seq is not None and not buffered:
            # a board merging kept windows (power.md) skips their numbers on purpose
            st.lost_frames += seq_gap(self._last_seq, fr.seq)
        self._last_seq = fr.seq
        if self.high_seq is None or _after(fr.seq, self.high_seq):
            self.high_seq = fr.seq
        self.arrived += 1
        if not tb.device_clock:
            if not host_synced and not self._estimated:
                return self._hold(fr, t)
            if host_synced and not fr.flags & FLAG_BUFFERED:  # buffered ones arrive late by design
                t = self._check_host_clock(fr, t, host_t)
        if t <= self._last_t:
            if self._rebase_by and self._last_t - t > self.step_s:
                self._rebase(t)
            else:
                # a re-anchor after a reconnect moved the mapping back a little: keep time monotonic
                self._bad("time", f"frame {fr.seq} at {show_time(t)} is not after the last reading "
                                  f"at {show_time(self._last_t)}", line)
                return None
        self._rebase_by = ""
        self._on_host_clock = not tb.device_clock
        self._last_t = t
        st.frames += 1
        st.last_frame_t = t
        return self.calibrator.to_reading(fr, t)

    def _release(self, readings: list[Reading]) -> None:
        """Pass held readings on: in time order after the last one, at plausible times."""
        tb = self.timebase
        out: list[Reading] = []
        last = self._last_t
        for r in readings:
            if r.t > last and tb.plausible(r.t):
                out.append(r)
                last = r.t
            else:
                self._bad("time", f"held reading at {show_time(r.t)} cannot be placed "
                                  f"(years {self._years()}, after {show_time(last)})", b"")
        if out:
            self._last_t = last
            self._on_host_clock = not tb.device_clock
            self.stats.frames += len(out)
            self.stats.last_frame_t = last
        self.released.extend(out)

    # -- a host clock that is not (yet) to be trusted ------------------------------------
    def _hold(self, fr: Frame, t: float) -> Reading | None:
        """Keep the reading (stamped on the provisional mapping) until the clock is synced."""
        reading = self.calibrator.to_reading(fr, t)
        if not self._held:
            logger.info(
                "host clock not synchronised: holding readings until it is (at most %.0f s)",
                self.hold_max_s,
            )
        self._held.append(reading)
        self._held_at.append((fr.uptime_ms, self.timebase.reboots))
        if t - self._held[0].t < self.hold_max_s:
            return None
        # No NTP in sight (a car has no network most of the time): go on with estimates.
        logger.warning(
            "host clock still unsynchronised after %.0f s: using it, readings are estimates",
            self.hold_max_s,
        )
        self._estimated = True
        self._release(self._take_held())
        return None

    def _take_held(self) -> list[Reading]:
        held = self._held
        self._held, self._held_at = [], []
        return held

    def _restamp(self, uptime_ms: int, t: float, shift: float) -> list[Reading]:
        """Held readings on the true timeline: ``uptime_ms`` of this boot is at ``t``.

        A reading held in this boot is placed by its own uptime (the anchor may have moved
        since it was held: a hello re-anchors); one from an earlier boot has no uptime in
        common with this one, so it moves by ``shift``, the step of the current mapping."""
        boot = self.timebase.reboots
        out: list[Reading] = []
        for i, r in enumerate(self._held):
            up, held_boot = self._held_at[i]
            out.append(r._replace(t=t + (up - uptime_ms) / 1000.0 if held_boot == boot else r.t + shift))
        self._take_held()
        return out

    def _check_host_clock(self, fr: Frame, t: float, host_t: float) -> float:
        """Follow a synchronised host clock: re-stamp held readings, re-anchor after a step."""
        delta = host_t - t
        if not self._held and not self._estimated and abs(delta) <= self.step_s:
            return t
        self.timebase.anchor_now(fr.uptime_ms, host_t)
        if self._held:
            # the clock is synchronised now: the held readings get their true times
            logger.info("host clock synchronised: %d held readings re-stamped by %+.0f s",
                        len(self._held), delta)
            self._release(self._restamp(fr.uptime_ms, host_t, delta))
        elif abs(delta) >= self.jump_s:
            # rest windows, drain rates and trends must not read this as hours passing
            logger.warning("host clock stepped by %+.0f s: re-anchored", delta)
            self.jumps.append((host_t, delta))
            if delta < 0:
                self._last_t = float("-inf")
        self._estimated = False
        return host_t

    def release_held(self) -> int:
        """Pass every held reading on now, stamped on the unsynchronised host clock, as when
        ``hold_max_s`` runs out: at a stop nothing is kept back to wait for NTP. Returns how
        many went out (``released`` has them); later readings are estimates too."""
        if not self._held:
            return 0
        before = len(self.released)
        self._estimated = True
        self._release(self._take_held())
        return len(self.released) - before

    def take_released(self) -> list[Reading]:
        out, self.released = self.released, []
        return out
