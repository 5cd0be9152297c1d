"""Device lines to calibrated Readings: framing errors, sequence gaps, time mapping (pure)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from battwatch.core.calibration import FrameCalibrator
from battwatch.core.model import Ack, DeviceTime, Frame, Hello, Reading
from battwatch.core.protocol import PROTO_VERSION, FrameError, parse_line, seq_gap
from battwatch.core.timebase import Timebase

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class LinkStats:
    """What the serial link did: the numbers `battwatch status` shows."""

    lines: int = 0
    frames: int = 0
    lost_frames: int = 0  # sequence gaps
    errors: Counter[str] = field(default_factory=Counter)  # checksum, garbage, partial, ...
    reboots: int = 0
    hello: Hello | None = None
    last_frame_t: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "frames": self.frames,
            "lost_frames": self.lost_frames,
            "bad_lines": sum(self.errors.values()),
            "errors": dict(self.errors),
            "device_reboots": self.reboots,
            "firmware": self.hello.firmware if self.hello else None,
            "board": self.hello.board if self.hello else None,
        }


class DeviceDecoder:
    """Feeds raw lines from the ADC; returns a Reading for each good data frame.

    Bad lines are counted by kind and logged (rate-limited by the counter), never raised:
    a noisy cable must not stop the daemon.
    """

    def __init__(self, calibrator: FrameCalibrator, *, max_logged: int = 20) -> None:
        self.calibrator = calibrator
        self.timebase = Timebase()
        self.stats = LinkStats()
        self._last_seq: int | None = None
        self._last_t = float("-inf")
        self._max_logged = max_logged

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

    def feed(self, line: bytes, host_t: float) -> Reading | None:
        self.stats.lines += 1
        try:
            msg = parse_line(line)
        except FrameError as e:
            self._bad(e.kind, str(e), line)
            return None
        if isinstance(msg, Frame):
            return self._frame(msg, host_t)
        if isinstance(msg, Hello):
            if msg.proto != PROTO_VERSION:
                self._bad("protocol", f"device speaks protocol {msg.proto}", line)
                return None
            self.stats.hello = msg
            self.timebase.anchor(msg.uptime_ms, host_t)
            logger.info(
                "ADC: %s firmware %s, %d-bit, %g Hz", msg.board, msg.firmware, msg.adc_bits, msg.rate_hz
            )
        elif isinstance(msg, DeviceTime):
            shift = self.timebase.device_time(msg.uptime_ms, msg.unix_ms)
            if shift and self._last_t != float("-inf"):
                # the board's clock replaces our host-clock guess: trust it, even backwards
                logger.warning("ADC clock adopted; readings move by %+.0f s", shift)
                self._last_t = float("-inf")
        elif isinstance(msg, Ack) and not msg.ok:
            logger.warning("ADC refused %s: %s", msg.command, msg.detail)
        return None

    def _frame(self, fr: Frame, host_t: float) -> Reading | None:
        st = self.stats
        reboots = self.timebase.reboots
        t = self.timebase.to_time(fr.uptime_ms, host_t)
        if self.timebase.reboots != reboots:
            st.reboots += 1
            self._last_seq = None
        if self._last_seq is not None:
            st.lost_frames += seq_gap(self._last_seq, fr.seq)
        self._last_seq = fr.seq
        if t <= self._last_t:
            # the mapping moved backwards (a re-anchor after a reconnect): keep time monotonic
            self._bad("time", f"frame time {t:.3f} not after {self._last_t:.3f}", b"")
            return None
        self._last_t = t
        st.frames += 1
        st.last_frame_t = t
        return self.calibrator.to_reading(fr, t)
