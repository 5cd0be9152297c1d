"""Readings as the board's frames: rows merged into one window, the frame's integer fields, line damage."""

from __future__ import annotations

import math
import random

from battwatch.core.model import FLAG_MAIN_SATURATED, FLAG_SOS_SATURATED, Frame, Reading


def _mv(v: float | None) -> int | None:
    return None if v is None else int(round(v * 1000))


def reading_to_frame(r: Reading, seq: int, uptime_ms: int, window_ms: int, flags: int) -> Frame:
    return Frame(
        seq & 0xFFFFFFFF, uptime_ms, window_ms,
        _mv(r.main_v), _mv(r.main_min_v), _mv(r.main_max_v),
        _mv(r.sos_v), _mv(r.sos_min_v), _mv(r.sos_max_v),
        None if r.temp_c is None else int(round(r.temp_c * 10)),
        flags,
    )


def corrupt(line: bytes, rng: random.Random) -> bytes:
    """One kind of line damage a real cable produces: a flipped byte, a cut, or noise."""
    kind = rng.randrange(3)
    if kind == 0 and len(line) > 8:
        i = rng.randrange(1, len(line) - 7)
        return line[:i] + bytes([line[i] ^ 0x04]) + line[i + 1 :]
    if kind == 1:
        return line[: rng.randrange(2, max(3, len(line) - 6))] + b"\r\n"
    return bytes(rng.randrange(33, 127) for _ in range(rng.randrange(5, 40))) + b"\r\n"


class _Channel:
    """One voltage channel of a window: its mean weighted by each row's window, its extremes."""

    __slots__ = ("total", "weight", "lo", "hi")

    def __init__(self) -> None:
        self.total = self.weight = 0.0
        self.lo: float | None = None
        self.hi: float | None = None

    def add(self, mean: float | None, lo: float | None, hi: float | None, w: float) -> None:
        if mean is None:
            return
        self.total += mean * w
        self.weight += w
        lo = mean if lo is None else lo
        hi = mean if hi is None else hi
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)

    def mean(self) -> float | None:
        return self.total / self.weight if self.weight > 0 else None


class FrameWindow:
    """Rows of the data gathered into one frame (a frame rate below the data's own)."""

    __slots__ = ("rows", "window_s", "t", "fast", "main", "sos", "temp", "flags")

    def __init__(self, fast: bool) -> None:
        self.rows = 0
        self.window_s = 0.0
        self.t = 0.0
        self.fast = fast
        self.main = _Channel()
        self.sos = _Channel()
        self.temp: float | None = None
        self.flags = 0

    def add(self, r: Reading, w: float) -> None:
        self.rows += 1
        self.window_s += w
        self.t = r.t
        self.main.add(r.main_v, r.main_min_v, r.main_max_v, w)
        self.sos.add(r.sos_v, r.sos_min_v, r.sos_max_v, w)
        if r.temp_c is not None:
            self.temp = r.temp_c
        self.flags |= r.flags & (FLAG_MAIN_SATURATED | FLAG_SOS_SATURATED)

    def reading(self) -> Reading:
        """The window as one reading: time-weighted mean, lowest minimum, highest maximum."""
        m, s = self.main, self.sos
        return Reading(self.t, m.mean(), m.lo, m.hi, s.mean(), s.lo, s.hi, self.temp,
                       self.window_s, None, self.flags)


def frame_window_s(period_s: float, row_s: float) -> float:
    """The window of the frames the emulator sends for a frame period, from rows ``row_s``
    long: whole rows, as many as come closest to the period (at least one)."""
    return row_s * max(1, math.ceil(period_s / row_s - 0.5 - 1e-9))
