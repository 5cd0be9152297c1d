"""Maps the device's uptime to wall-clock time (pure: host time is passed in)."""

from __future__ import annotations

from typing import Final

from battwatch.core.timefmt import iso_utc

# The plausible range of a reading's time by default: 2000-01-01 up to the end of 2100
# ([clock] min_year, max_year). Anything outside is a firmware or clock fault, not data.
T_MIN: Final = 946_684_800.0
T_MAX: Final = 4_133_980_800.0
_ISO_MIN: Final = -62_135_596_800.0  # 0001-01-01, the range datetime can show
_ISO_MAX: Final = 253_402_300_799.0  # 9999-12-31T23:59:59


def show_time(t: float) -> str:
    """A time for a log line, even an absurd one (datetime cannot show every float)."""
    if _ISO_MIN <= t <= _ISO_MAX:
        return iso_utc(t)
    return f"{t:.4g} s after 1970"


class Timebase:
    """Device uptime (ms) → Unix seconds.

    The device's own clock (``BWT``) wins when it has one; otherwise the host clock at an
    anchor point (the hello, or the first frame after a connect) is carried forward by
    uptime, so serial latency and an accelerated emulator never distort the spacing of
    readings. ``t_min``/``t_max`` bound the times the caller may accept (``plausible``).
    """

    __slots__ = ("_anchor_uptime", "_anchor_t", "device_clock", "_last_uptime", "reboots", "t_min", "t_max")

    def __init__(self, t_min: float = T_MIN, t_max: float = T_MAX) -> None:
        self._anchor_uptime: int | None = None
        self._anchor_t = 0.0
        self.device_clock = False
        self._last_uptime = -1
        self.reboots = 0
        self.t_min = t_min
        self.t_max = t_max

    def plausible(self, t: float) -> bool:
        return self.t_min <= t < self.t_max

    def reset(self) -> None:
        """Forget the anchor (the link was reopened: it may be another boot of the device)."""
        self._anchor_uptime = None
        self.device_clock = False
        self._last_uptime = -1

    def rebooted(self, uptime_ms: int) -> bool:
        """Would a message at ``uptime_ms`` mean the device rebooted (uptime went backwards)?"""
        return uptime_ms < self._last_uptime

    def reboot(self) -> None:
        """The device rebooted: its old anchor, and its old clock reading, mean nothing now."""
        self.reboots += 1
        self.reset()

    def anchor(self, uptime_ms: int, host_t: float) -> None:
        """Host clock anchor (from a hello); ignored while the device clock is known."""
        if not self.device_clock:
            self._anchor_uptime, self._anchor_t = uptime_ms, host_t

    def anchor_now(self, uptime_ms: int, host_t: float) -> None:
        """Re-anchor on the host clock whatever came before (it was just synchronised)."""
        if not self.device_clock:
            self._anchor_uptime, self._anchor_t = uptime_ms, host_t

    def device_time(self, uptime_ms: int, unix_ms: int) -> float:
        """The device's clock read ``unix_ms`` at ``uptime_ms``.

        Returns how far this moves the mapping (seconds) when it replaces a host-clock
        anchor, else 0.
        """
        shift = 0.0
        if not self.device_clock and self._anchor_uptime is not None:
            old = self._anchor_t + (uptime_ms - self._anchor_uptime) / 1000.0
            shift = unix_ms / 1000.0 - old
        self._anchor_uptime, self._anchor_t = uptime_ms, unix_ms / 1000.0
        self.device_clock = True
        return shift

    def peek(self, uptime_ms: int, host_t: float) -> float:
        """What ``to_time`` would return, changing nothing (so a refused frame leaves no trace)."""
        if self._anchor_uptime is None or uptime_ms < self._last_uptime:
            return host_t
        return self._anchor_t + (uptime_ms - self._anchor_uptime) / 1000.0

    def to_time(self, uptime_ms: int, host_t: float) -> float:
        if uptime_ms < self._last_uptime:
            self.reboot()
        self._last_uptime = uptime_ms
        if self._anchor_uptime is None:
            self._anchor_uptime, self._anchor_t = uptime_ms, host_t
        return self._anchor_t + (uptime_ms - self._anchor_uptime) / 1000.0
