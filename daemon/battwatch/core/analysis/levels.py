"""Severity targets with hysteresis, and the short running mean some levels are judged on."""

from __future__ import annotations

from collections import deque

from battwatch.core.analysis.engine import CRITICAL, INFO, NONE, WARNING


def below(v: float, level: int, info: float | None, info_clear: float | None, warn: float,
          warn_clear: float, crit: float, crit_clear: float) -> int:
    """Target severity of a 'too low' value with hysteresis around the current level."""
    if v < crit or (level >= CRITICAL and v < crit_clear):
        return CRITICAL
    if v < warn or (level >= WARNING and v < warn_clear):
        return WARNING
    if info is not None and info_clear is not None and (v < info or (level >= INFO and v < info_clear)):
        return INFO
    return NONE


def above(v: float, level: int, info: float | None, info_clear: float | None, warn: float,
          warn_clear: float, crit: float, crit_clear: float) -> int:
    """Target severity of a 'too high' value with hysteresis around the current level."""
    if v > crit or (level >= CRITICAL and v > crit_clear):
        return CRITICAL
    if v > warn or (level >= WARNING and v > warn_clear):
        return WARNING
    if info is not None and info_clear is not None and (v > info or (level >= INFO and v > info_clear)):
        return INFO
    return NONE


def days_target(days: float | None, level: int, warn_days: float, crit_days: float, clear_days: float) -> int:
    """Severity of a projected threshold crossing ``days`` ahead (None: no significant trend)."""
    if days is None:
        return NONE
    if days <= crit_days or (level >= CRITICAL and days <= warn_days):
        return CRITICAL
    if days <= warn_days or (level >= WARNING and days <= clear_days):
        return WARNING
    return NONE


class WindowMean:
    """The time-weighted mean of the last ``span_s`` seconds of readings, O(1) per reading.

    Each reading covers its window (``t0`` to ``t``); a window that ended ``span_s`` or more
    before the newest one leaves the mean. A span of 0 makes the mean the newest reading.
    """

    __slots__ = ("span_s", "rows", "sum_vw", "sum_w", "n")

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.rows: deque[tuple[float, float, float]] = deque()  # (end, window, v x window)
        self.sum_vw = 0.0
        self.sum_w = 0.0
        self.n = 0

    def add(self, t0: float, t: float, v: float) -> float:
        w = max(t - t0, 1e-3)
        rows = self.rows
        rows.append((t, w, v * w))
        self.sum_vw += v * w
        self.sum_w += w
        self.n += 1
        while self.n > 1 and rows[0][0] <= t - self.span_s:
            _, w0, vw0 = rows.popleft()
            self.sum_w -= w0
            self.sum_vw -= vw0
            self.n -= 1
        if self.n == 1:  # no rounding left over from the rows that went
            self.sum_w = w
            self.sum_vw = v * w
        return self.sum_vw / self.sum_w

    def clear(self) -> None:
        self.rows.clear()
        self.sum_vw = 0.0
        self.sum_w = 0.0
        self.n = 0
