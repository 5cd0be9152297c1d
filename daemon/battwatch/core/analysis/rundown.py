"""The pack's fall in hand: its readings of the last hours and days, and when they reach the critical level (pure)."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final

from battwatch.core.analysis.engine import WARNING
from battwatch.core.analysis.trend import TrendFit, theil_sen
from battwatch.core.tables import interp

if TYPE_CHECKING:
    from battwatch.core.analysis.pack import PackRules

DAY_S: Final = 86400.0
# The readings behind the projection: at most one rested reading an hour, of the last 3
# days, spanning a day at least (a whole day's temperature swing, so that the part of it the
# configured temperature coefficient leaves in the readings is no fall), 12 readings at
# least [ENG]. A run-down that leaves days is seen within a day; one of hours is hand_life's.
RUN_SAMPLE_S: Final = 3600.0
RUN_WINDOW_DAYS: Final = 3.0
RUN_MIN_SPAN_DAYS: Final = 1.0
RUN_MIN_POINTS: Final = 12
# A fall is a run-down only when it loses charge this many times faster than a healthy pack's
# self-discharge at the readings' temperature (doubling per temp_doubling_c): a healthy pack's
# fall after a drive (over-voltage relaxing, self-discharge near full) stays under it [ENG].
RUN_HEALTHY_FACTOR: Final = 4.0
# The line is fitted afresh at most every 6 h of readings: the low-voltage message asks for it
# at every rested reading of a low pack, and a run-down of days moves little in 6 h [ENG].
RUN_REFIT_DAYS: Final = 0.25
HAND_MIN_S: Final = 3600.0  # rested readings a fall in hand needs before it projects anything [ENG]


class RunDown:
    """The rested pack voltages (brought to ``temp_ref_c``) of the last ``RUN_WINDOW_DAYS``,
    across drives and charges: a pack that runs down in days shows it here before the daily
    values have the points for a trend (``PackRules._short_trend``)."""

    __slots__ = ("points", "last_t", "memo")

    def __init__(self) -> None:
        self.points: deque[tuple[float, float, float]] = deque()  # (day, pack V, °C)
        self.last_t = -1e18
        # (the last reading's day, what it projected): refitted every RUN_REFIT_DAYS
        self.memo: tuple[float, tuple[float, float, TrendFit] | None] | None = None

    def add(self, t: float, v: float, temp: float | None) -> None:
        if t - self.last_t < RUN_SAMPLE_S:
            return
        self.last_t = t
        day = t / DAY_S
        pts = self.points
        pts.append((day, v, 20.0 if temp is None else temp))
        while pts[0][0] < day - RUN_WINDOW_DAYS:
            pts.popleft()

    def reset(self) -> None:
        self.points.clear()
        self.last_t = -1e18
        self.memo = None

    def export(self) -> list[Any]:
        # the memo too: a restart that refitted at once would project from other points than
        # a run without one until the next refit
        memo: list[Any] | None = None
        if self.memo is not None:
            day, out = self.memo
            line = None
            if out is not None:
                line = [out[0], out[1], out[2].to_list()]
            memo = [day, line]
        return [self.last_t, [list(p) for p in self.points], memo]

    def load(self, d: list[Any]) -> None:
        self.last_t = float(d[0])
        self.points = deque((float(a), float(b), float(c)) for a, b, c in d[1])
        self.memo = None
        if len(d) > 2 and d[2] is not None:  # states saved before the memo was kept have none
            day, line = d[2]
            fit = None if line is None else TrendFit.of(line[2])
            out = None if line is None or fit is None else (float(line[0]), float(line[1]), fit)
            self.memo = (float(day), out)


def run_life(p: PackRules) -> tuple[float, float, TrendFit] | None:
    """(days to the critical level, hours of readings, their line: pack V against day number)
    by the pack's last days of rested readings, when they fall steadily enough to be a
    run-down; None otherwise.

    A run-down: while no step_drop explains the fall, a day or more of rested readings
    (``RunDown``) whose Theil-Sen slope is
    significantly below zero and steeper than ``trend.min_slope_v_per_cell_day``, losing charge
    (on the SoC table's segment of the last reading) more than ``RUN_HEALTHY_FACTOR`` times
    the chemistry's healthy self-discharge at the readings' mean temperature, and reaching
    the critical level within ``trend.clear_days``. No remaining life may promise more than
    that (issue 13, class 10), whatever the age says.
    """
    run = p.run
    pts = run.points
    if p.s_step.level or len(pts) < RUN_MIN_POINTS or pts[-1][0] - pts[0][0] < RUN_MIN_SPAN_DAYS:
        return None  # a step (a shorted cell) explains the fall: no line through it projects
    last = pts[-1][0]
    memo = run.memo
    if memo is not None and 0.0 <= last - memo[0] < RUN_REFIT_DAYS:
        # the line of a few hours ago, its crossing counted from now
        out = memo[1]
        return None if out is None else (max(0.0, out[0] - (last - memo[0])), out[1], out[2])
    out = _project(p, pts)
    run.memo = (last, out)
    return out


def _project(p: PackRules, pts: deque[tuple[float, float, float]]) -> tuple[float, float, TrendFit] | None:
    xs = [x for x, _, _ in pts]
    ys = [y for _, y, _ in pts]
    # a crude look first: a pack that is not falling (the usual case) costs no fit
    if ys[-1] >= ys[0] and min(ys[-3:]) >= max(ys[:3]):
        return None
    # Theil-Sen: the sawtooth of parks and drives, and a park's first hours, do not tilt it
    fit = theil_sen(xs, ys, p.z)
    if fit is None or not fit.declining(p.min_slope) or not beyond_healthy(p, fit, xs[-1]):
        return None
    days = fit.days_until(p.levels[4], xs[-1], p.trend_cfg.clear_days)
    if days is None:
        return None
    return days, (xs[-1] - xs[0]) * 24.0, fit


def beyond_healthy(p: PackRules, fit: TrendFit, day: float) -> bool:
    """Whether the pack voltage line ``fit`` loses charge, at its value on ``day``, more than
    ``RUN_HEALTHY_FACTOR`` times the chemistry's healthy self-discharge at the temperature of
    the last days' rested readings (20 °C without any), or is below the warning level there.

    Self-discharge is what excuses a healthy pack's fall between drives, and a healthy pack
    stays above its warning level; below it, near the bottom of the curve where a volt is
    little charge, the same loss takes it to the critical level within days, and that is
    what the remaining life must tell."""
    if fit.at(day) < p.levels[2]:
        return True
    pts = p.run.points
    temp = sum(z for _, _, z in pts) / len(pts) if pts else 20.0
    n = p.cells
    vc = fit.at(day) / n
    # the charge one day's fall takes, just above that level (% of the SoC table)
    pct_day = interp(p.lim.soc_table, vc - fit.slope / n) - interp(p.lim.soc_table, vc)
    healthy = p.healthy_pct_day * 2.0 ** ((temp - 20.0) / p.cfg.self_discharge.temp_doubling_c)
    return pct_day > RUN_HEALTHY_FACTOR * healthy


def hand_life(p: PackRules) -> tuple[float, float] | None:
    """(days to the critical level, hours of readings) by the fall of the current stretch
    off charge, where it gets there sooner than ``life_trend``; None otherwise.

    Only while the pack is low (low_voltage at warning or above) and no step explains the
    fall: the daily values need days to speak, and a pack already low that loses a tenth
    of a volt an hour (a cell run down by a load, a leak) reaches the critical level within
    hours; no remaining life may promise more than that fall leaves. It needs an hour of
    rested readings falling significantly. A healthy pack is not low, and a low one parked
    loses millivolts a day, which project months, never less than the daily trends.
    """
    h = p.hand
    if p.s_low.level < WARNING or p.s_step.level or h.n < 4 or h.span * DAY_S < HAND_MIN_S:
        return None
    fit = h.trend(p.z)
    if fit is None or not fit.declining(p.min_slope):
        return None
    days = fit.days_until(p.levels[4], h.last_x, p.trend_cfg.clear_days)
    other = p.life_trend()[2]
    if days is None or (other is not None and other <= days):
        return None
    return days, h.span * 24.0
