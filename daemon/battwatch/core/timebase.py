"""Maps the device's uptime to wall-clock time (pure: host time is passed in)."""

from __future__ import annotations


class Timebase:
    """Device uptime (ms) → Unix seconds.

    The device's own clock (``BWT``) wins when it has one; otherwise the host clock at an
    anchor point (the hello, or the first frame after a connect) is carried forward by
    uptime, so serial latency and an accelerated emulator never distort the spacing of
    readings.
    """

    __slots__ = ("_anchor_uptime", "_anchor_t", "device_clock", "_last_uptime", "reboots")

    def __init__(self) -> None:
        self._anchor_uptime: int | None = None
        self._anchor_t = 0.0
        self.device_clock = False
        self._last_uptime = -1
        self.reboots = 0

    def reset(self) -> None:
        """Forget the anchor (the link was reopened: it may be another boot of the device)."""
        self._anchor_uptime = None
        self.device_clock = False
        self._last_uptime = -1

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

    def to_time(self, uptime_ms: int, host_t: float) -> float:
        if uptime_ms < self._last_uptime:
            # uptime went backwards: the device rebooted, its old anchor means nothing now
            self.reboots += 1
            self.reset()
        self._last_uptime = uptime_ms
        if self._anchor_uptime is None:
            self._anchor_uptime, self._anchor_t = uptime_ms, host_t
        return self._anchor_t + (uptime_ms - self._anchor_uptime) / 1000.0
