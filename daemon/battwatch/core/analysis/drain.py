"""The 12 V battery's parasitic_drain rule: the fall of the rested voltage through a park."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Final, Protocol

from battwatch.analysis_config import DrainConfig, Table
from battwatch.core.analysis import messages as msg
from battwatch.core.analysis.engine import CRITICAL, WARNING, AlertEngine
from battwatch.core.analysis.levels import above
from battwatch.core.analysis.trend import RunningFit
from battwatch.core.tables import interp

# the sustained-drain bar is a multiple of the expected sleep current, but never of less than
# this (a configuration that expects none would otherwise call any fall a drain) [ENG]
SUSTAINED_MIN_MA: Final = 10.0


def surface_fall_bound(a_v: float, s1: float, s2: float) -> float:
    """The most a surface charge of at most ``a_v`` volts, fading since time 0, can fall
    between ``s1`` and ``s2`` (any unit, 0 < s1 < s2).

    One exponential a·e^(-s/τ) falls most over [s1, s2] with τ = (s2 - s1) / ln(s2 / s1). A
    relaxation that is a mix of exponentials (diffusion, two time constants, a power-law tail
    like a / (1 + s/s0)^k) with the same total falls no more than its worst part alone, so the
    bound holds whatever the battery's shape and time constants.
    """
    if a_v <= 0.0 or s1 <= 0.0 or s2 <= s1:
        return a_v if s1 <= 0.0 < s2 else 0.0
    tau = (s2 - s1) / math.log(s2 / s1)
    return a_v * (math.exp(-s1 / tau) - math.exp(-s2 / tau))


class Line(Protocol):
    """A least-squares line over a park's points, as the verdicts read it."""

    @property
    def span(self) -> float: ...

    def slope(self) -> float | None: ...

    def mean_z(self) -> float: ...


class SleepWindow:
    """The bounded looks' points (hour, V25, temperature known, hours asleep), added at the end
    and dropped from the front, with the sums of their least-squares line kept as they go: a
    look costs O(1) instead of a refit over the window.

    x and y are summed about the sleep's first point, so that dropping a point subtracts small
    numbers from small sums (no cancellation against hours since 1970 or 12 V).
    """

    __slots__ = ("pts", "x0", "y0", "sx", "sy", "sxx", "sxy", "sz")

    def __init__(self) -> None:
        self.pts: deque[tuple[float, float, float, float]] = deque()
        self.clear()

    def clear(self) -> None:
        self.pts.clear()
        self.x0 = self.y0 = self.sx = self.sy = self.sxx = self.sxy = self.sz = 0.0

    def append(self, x: float, y: float, z: float, s_h: float) -> None:
        if not self.pts:
            self.clear()
            self.x0, self.y0 = x, y
        self.pts.append((x, y, z, s_h))
        self._sum(x - self.x0, y - self.y0, z, 1.0)

    def popleft(self) -> None:
        x, y, z, _ = self.pts.popleft()
        self._sum(x - self.x0, y - self.y0, z, -1.0)

    def _sum(self, dx: float, dy: float, z: float, sign: float) -> None:
        self.sx += sign * dx
        self.sy += sign * dy
        self.sxx += sign * dx * dx
        self.sxy += sign * dx * dy
        self.sz += sign * z

    @property
    def n(self) -> int:
        return len(self.pts)

    @property
    def span(self) -> float:
        return self.pts[-1][0] - self.pts[0][0] if self.pts else 0.0

    def slope(self) -> float | None:
        n = len(self.pts)
        if n < 3:
            return None
        den = n * self.sxx - self.sx * self.sx
        if den <= 0.0:
            return None
        return (n * self.sxy - self.sx * self.sy) / den

    def mean_z(self) -> float:
        return self.sz / len(self.pts) if self.pts else 0.0


class DrainRule:
    """Fits the rested voltage of each park and judges its fall against the sleep current."""

    def __init__(self, cfg: DrainConfig, table: Table, capacity_ah: float, monitor_ma: float,
                 engine: AlertEngine) -> None:
        self.cfg = cfg
        self.table = table
        self.capacity_ah = capacity_ah
        self.monitor_ma = monitor_ma
        self.engine = engine
        self.slot = engine.slot("main", "parasitic_drain", cfg.debounce)
        self.soc: float | None = None  # of the last rested reading, set by the caller
        self.fit = RunningFit()
        self.next_verdict_h = cfg.min_span_s / 3600.0
        self.next_early_h = cfg.early_span_s / 3600.0  # the next early look at a heavy drain
        # the first looks: fits over stretches of rested readings, until the fit above
        # reaches early_span_s
        self.fit0 = RunningFit()
        self.verdicts = 0  # verdicts of this park at the normal span (not the early looks)
        # the bounded looks (DrainConfig.surface_max_v): (hour, V25, temperature known, hours
        # since the last activity) of the park's sleep, from since / bound_ratio on
        self.win = SleepWindow()
        self.next_bound_t = 0.0

    def point(self, t: float, v25: float, temp: float | None, since: float, soc: float | None) -> None:
        """A rested point for the drain fits (at most one per FIT_SAMPLE_S); ``soc``: the state
        of charge of the last rested reading."""
        self.soc = soc
        self.bound_point(t, v25, temp, since)
        fit = self.fit
        dc = self.cfg
        x = t / 3600.0
        z = 0.0 if temp is None else 1.0
        span_h = 0.0
        if since >= self.cfg.rest_min_s:
            fit.add(x, v25, z)
            span_h = fit.last_x - fit.x0
            if span_h >= self.next_verdict_h:
                pace = self._verdict(t, fit)
                # a fall this heavy (or a modest one already past the sustained bar) is judged
                # again within the hour, so that the debounce's second verdict comes before the
                # battery is half empty; otherwise as before
                if pace:
                    self.next_verdict_h = span_h + dc.early_every_s / 3600.0
                else:
                    self.next_verdict_h += dc.verdict_every_s / 3600.0
            elif span_h >= self.next_early_h and span_h * 3600.0 < dc.min_span_s:
                self.next_early_h = span_h + dc.early_every_s / 3600.0
                self._verdict(t, fit, dc.early_factor)
        if fit.n == 0 or span_h * 3600.0 < dc.early_span_s:
            # Before the fit above speaks, the first looks at a drain that cannot wait, each on
            # its own stretch of first_span_s: the surface charge slows down from one stretch
            # to the next, a drain does not, and the debounce wants two stretches in a row.
            f0 = self.fit0
            f0.add(x, v25, z)
            if (f0.last_x - f0.x0) * 3600.0 >= dc.first_span_s:
                if not self._verdict(t, f0, dc.first_factor):
                    s = self.slot
                    if s.busy and s.level < WARNING:
                        s.drop_pending_up(s.level + 1)
                f0.reset()
                f0.add(x, v25, z)

    def bound_point(self, t: float, v25: float, temp: float | None, since: float) -> None:
        """A point of the car asleep (at most one per FIT_SAMPLE_S), from the first minutes of
        sleep on: every bound_every_s, the fall over the last part of the sleep (from since /
        bound_ratio to now) beyond the most the surface charge can explain is a lower bound on
        the drain, judged at bound_factor x the levels."""
        dc = self.cfg
        if since > dc.bound_until_s or dc.surface_max_v <= 0.0:
            return
        win = self.win
        pts = win.pts
        s_h = since / 3600.0
        if pts and s_h < pts[-1][3]:
            win.clear()  # new activity without a wake: a new sleep
        win.append(t / 3600.0, v25, 0.0 if temp is None else 1.0, s_h)
        lo = s_h / dc.bound_ratio
        while pts[0][3] < lo:
            win.popleft()
        if t < self.next_bound_t:
            return
        s1 = pts[0][3]
        if (s_h - s1) * 3600.0 < dc.bound_min_span_s or len(pts) < 5:
            return
        self.next_bound_t = t + dc.bound_every_s
        if win.span <= 0.0:
            return
        bound = surface_fall_bound(dc.surface_max_v, s1, s_h) * 1000.0
        self._verdict(t, win, dc.bound_factor, bound / win.span * 12.0)

    def park_end(self, t: float, soc: float | None) -> None:
        """The car woke up: judge the park's drain if it was long enough and not judged yet."""
        self.soc = soc
        fit = self.fit
        dc = self.cfg
        if fit.n and self.verdicts == 0 and fit.span * 3600.0 >= dc.min_span_s:
            self._verdict(t, fit)
        fit.reset()
        self.fit0.reset()
        self.win.clear()
        self.next_bound_t = 0.0
        self.verdicts = 0
        self.next_verdict_h = dc.min_span_s / 3600.0
        self.next_early_h = dc.early_span_s / 3600.0

    def _mv_per_pct(self) -> float:
        soc = self.soc
        if soc is None:
            soc = self.cfg.assumed_soc_pct
        lo, hi = max(0.0, soc - 5.0), min(100.0, soc + 5.0)
        return max(1.0, (interp(self.table, hi) - interp(self.table, lo)) / (hi - lo) * 1000.0)

    def _verdict(self, t: float, fit: Line, factor: float = 0.0, surface: float = 0.0) -> bool:
        """Judge the park's fall so far (``fit``); True when the next verdict is due within the
        hour: the fall is heavy (early_factor x the warning level) or a sustained drain.

        A look with a ``factor`` (early: less than min_span_s measured; first: before
        rest_min_s) only speaks of a heavy fall, and then only to raise: warning past ``factor``
        x the warning level, critical past ``factor`` x the critical level. ``surface``: the
        most of the fall (mV per 12 h) that the surface charge can explain, left out of the
        excess (the bounded looks).
        """
        slope = fit.slope()  # V per hour
        if slope is None:
            return False
        dc = self.cfg
        mv_pct = self._mv_per_pct()
        rate = -slope * 12.0 * 1000.0
        sleep_ma = dc.car_sleep_ma + self.monitor_ma
        expected = sleep_ma / 1000.0 * 12.0 / self.capacity_ah * 100.0 * mv_pct
        excess = rate - expected - surface
        heavy = excess >= dc.early_factor * dc.warn_mv_12h
        extra_a = max(0.0, excess) / mv_pct / 100.0 * self.capacity_ah / 12.0
        s = self.slot
        sustained = False
        if factor > 0.0:
            if excess < factor * dc.warn_mv_12h:
                return False
            target = CRITICAL if excess >= factor * dc.crit_mv_12h else WARNING
            if target <= s.level:
                # a short span's look never counts towards stepping down, nor resets the
                # evidence a longer fit gathers towards the next level
                return True
        else:
            self.verdicts += 1
            target = above(excess, s.level, dc.info_mv_12h, dc.info_clear_mv_12h, dc.warn_mv_12h,
                           dc.warn_clear_mv_12h, dc.crit_mv_12h, dc.crit_clear_mv_12h)
            if target < WARNING:
                # a modest drain shows over a long park: the extra current against the expected
                # sleep current, once the fall it caused is more than a healthy park can show
                fall = excess / 12.0 * fit.span
                bar = dc.sustained_clear_factor if s.level >= WARNING else dc.sustained_factor
                if extra_a * 1000.0 >= bar * max(sleep_ma, SUSTAINED_MIN_MA) and fall >= dc.sustained_fall_mv:
                    target = WARNING
                    sustained = True
        total_a = extra_a + sleep_ma / 1000.0
        soc = self.soc
        hours = None
        if soc is not None and total_a > 0:
            hours = max(0.0, soc - 50.0) / 100.0 * self.capacity_ah / total_a
        self.engine.observe(s, t, t - fit.span * 3600.0, target, excess, msg.parasitic_drain,
                            {"rate_mv_12h": rate, "expected_mv_12h": expected, "span_h": fit.span,
                             "temp_known": fit.mean_z() > 0.5, "sleep_ma": sleep_ma, "extra_a": extra_a,
                             "soc": soc, "hours_to_half": hours, "capacity_ah": self.capacity_ah,
                             "excess_mv_12h": excess, "info": dc.info_mv_12h, "warn": dc.warn_mv_12h,
                             "crit": dc.crit_mv_12h, "early": factor > 0.0, "early_factor": factor,
                             "early_warn": factor * dc.warn_mv_12h, "early_crit": factor * dc.crit_mv_12h,
                             "sustained": sustained, "fall_mv": excess / 12.0 * fit.span,
                             "sustained_factor": dc.sustained_factor, "ref_ma": max(sleep_ma, SUSTAINED_MIN_MA),
                             "quarter_h": 0.25 * self.capacity_ah / total_a if total_a > 0.0 else None,
                             "surface_mv_12h": surface})
        return heavy or (sustained and s.level < WARNING)

    # -- persistence ---------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        return {"fit": self.fit.to_list(), "next_verdict_h": self.next_verdict_h, "verdicts": self.verdicts,
                "next_early_h": self.next_early_h, "fit0": self.fit0.to_list(),
                "bound": [list(p) for p in self.win.pts], "next_bound_t": self.next_bound_t}

    def load(self, d: dict[str, Any]) -> None:
        self.fit.load(d["fit"])
        self.next_verdict_h = float(d["next_verdict_h"])
        self.verdicts = int(d["verdicts"])
        self.next_early_h = float(d.get("next_early_h", self.cfg.early_span_s / 3600.0))
        if "fit0" in d:  # states from before the first looks: none taken in this park
            self.fit0.load(d["fit0"])
        # states from before the bounded looks: none taken in this park
        self.win.clear()
        for a, b, c, e in d.get("bound", []):
            self.win.append(float(a), float(b), float(c), float(e))
        self.next_bound_t = float(d.get("next_bound_t", 0.0))
