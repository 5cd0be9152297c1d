"""Readings folded into time-aligned windows: the one aggregator behind MQTT and InfluxDB (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from battwatch.core.model import Reading


def _f(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


@dataclass(frozen=True, slots=True)
class WindowAggregate:
    """One closed (or, for InfluxDB, still open) window as both outputs write it.

    The same values whichever way they travel: the direct InfluxDB path encodes this object,
    the MQTT readings message carries exactly these numbers, and the collector rebuilds this
    object from the message (``battwatch collect``), so both write the same points.
    """

    t: float  # end of the window (Unix s), a multiple of span_s
    vehicle: str
    span_s: float
    n: int
    main_v: float | None = None
    main_min_v: float | None = None
    main_max_v: float | None = None
    sos_v: float | None = None
    sos_min_v: float | None = None
    sos_max_v: float | None = None
    temp_c: float | None = None
    state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": self.t, "vehicle": self.vehicle, "span_s": self.span_s, "n": self.n,
            "main_v": self.main_v, "main_min_v": self.main_min_v, "main_max_v": self.main_max_v,
            "sos_v": self.sos_v, "sos_min_v": self.sos_min_v, "sos_max_v": self.sos_max_v,
            "temp_c": self.temp_c, "state": self.state,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WindowAggregate:
        """Inverse of ``to_dict``; raises ValueError naming the bad key."""
        t = _f(d.get("t"))
        if t is None:
            raise ValueError("t: missing or not a number")
        vehicle = d.get("vehicle")
        if not isinstance(vehicle, str) or not vehicle:
            raise ValueError("vehicle: missing or not a string")
        state = d.get("state")
        n = d.get("n", 1)
        return cls(
            t=t, vehicle=vehicle, span_s=_f(d.get("span_s")) or 0.0,
            n=n if isinstance(n, int) and not isinstance(n, bool) else 1,
            main_v=_f(d.get("main_v")), main_min_v=_f(d.get("main_min_v")),
            main_max_v=_f(d.get("main_max_v")), sos_v=_f(d.get("sos_v")),
            sos_min_v=_f(d.get("sos_min_v")), sos_max_v=_f(d.get("sos_max_v")),
            temp_c=_f(d.get("temp_c")), state=state if isinstance(state, str) and state else None,
        )


# Digits kept: the CSV log's precision (millivolts, tenths of a degree), one more for a mean.
V_DIGITS = 3
C_DIGITS = 1


@dataclass(slots=True)
class Channel:
    n: int = 0
    total: float = 0.0
    lo: float = math.inf  # unrounded: rounding keeps order, so low() rounds the lowest once
    hi: float = -math.inf
    last: float = math.nan  # the last mean folded in and its rounded value: a steady battery
    last_rounded: float = 0.0  # repeats its value, and round() is most of this class's cost

    def add(self, mean: float | None, lo: float | None, hi: float | None, digits: int) -> None:
        """Fold in one reading's mean and range (a mean that is missing or not finite is left
        out; a missing bound is the mean). The mean is rounded to ``digits`` first, as the CSV
        log keeps it, so a replay of that log sums the same values; ``digits`` is the same at
        every call on one channel."""
        if mean is None or not math.isfinite(mean):
            return
        if mean != self.last:
            self.last = mean
            self.last_rounded = round(mean, digits)
        self.n += 1
        self.total += self.last_rounded
        low = mean if lo is None or not math.isfinite(lo) else lo
        if low < self.lo:
            self.lo = low
        high = mean if hi is None or not math.isfinite(hi) else hi
        if high > self.hi:
            self.hi = high

    def mean(self, digits: int) -> float | None:
        return None if self.n == 0 else round(self.total / self.n, digits + 1)

    def low(self, digits: int) -> float | None:
        return None if self.n == 0 else round(self.lo, digits)

    def high(self, digits: int) -> float | None:
        return None if self.n == 0 else round(self.hi, digits)


@dataclass(slots=True)
class WindowStats:
    """Every reading whose time falls in (start, end]: a reading is stamped at the end of what
    it measured, so one at 12:01:00 belongs to the window that ends then."""

    start: float
    end: float
    first_t: float
    last_t: float = 0.0
    samples: int = 0
    main: Channel = field(default_factory=Channel)
    sos: Channel = field(default_factory=Channel)
    temp: Channel = field(default_factory=Channel)
    states: dict[str, int] = field(default_factory=dict)
    last_state: str = ""

    def aggregate(self, vehicle: str) -> WindowAggregate:
        m, s = self.main, self.sos
        return WindowAggregate(
            t=round(self.end, 3), vehicle=vehicle, span_s=self.end - self.start, n=self.samples,
            main_v=m.mean(V_DIGITS), main_min_v=m.low(V_DIGITS), main_max_v=m.high(V_DIGITS),
            sos_v=s.mean(V_DIGITS), sos_min_v=s.low(V_DIGITS), sos_max_v=s.high(V_DIGITS),
            temp_c=self.temp.mean(C_DIGITS), state=self.last_state or None,
        )


class WindowAggregator:
    """Folds readings into one window per ``span_s`` of DATA time, aligned to its multiples.

    Only values the CSV log keeps are used (millivolts, tenths of a degree, the time to the
    millisecond), and means are plain means of the readings' means: so a replayed log gives
    the same windows as the live car did. A reading out of time order starts a new window.
    """

    def __init__(self, span_s: float) -> None:
        if span_s <= 0:
            raise ValueError("span_s must be positive")
        self.span_s = float(span_s)
        self.current: WindowStats | None = None
        self._dirty = False

    def end_of(self, t: float) -> float:
        # rounded first so float noise (t = 120.00000001) does not push a reading a window late
        return math.ceil(round(t / self.span_s, 6)) * self.span_s

    def add(self, r: Reading, state: str = "") -> WindowStats | None:
        """Fold ``r`` in; returns the window it closed, if any."""
        t = round(r.t, 3)
        closed: WindowStats | None = None
        cur = self.current
        if cur is not None and not (cur.start < t <= cur.end and t >= cur.last_t):
            closed, cur = cur, None
        if cur is None:
            end = self.end_of(t)
            cur = self.current = WindowStats(end - self.span_s, end, t)
        cur.samples += 1
        cur.last_t = t
        # quantised as the CSV log keeps them, so a replay of that log gives the same windows
        cur.main.add(r.main_v, r.main_min_v, r.main_max_v, V_DIGITS)
        cur.sos.add(r.sos_v, r.sos_min_v, r.sos_max_v, V_DIGITS)
        cur.temp.add(r.temp_c, None, None, C_DIGITS)
        if state:
            cur.states[state] = cur.states.get(state, 0) + 1
            cur.last_state = state
        self._dirty = True
        return closed

    def partial(self) -> WindowStats | None:
        """The open window so far, if it changed since last asked (it stays open: its complete
        version overwrites it in InfluxDB, having the same time)."""
        if not self._dirty or self.current is None:
            return None
        self._dirty = False
        return self.current

    def flush(self) -> WindowStats | None:
        """Close the open window (end of a replay, clean stop, long silence)."""
        cur, self.current = self.current, None
        self._dirty = False
        return cur
