"""Robust trends and projections: Theil-Sen with Sen's interval, streaming least squares (pure)."""

from __future__ import annotations

import math
from typing import Final


class TrendFit:
    """A straight line through (day, value) points with its slope interval."""

    # a plain class, its fields Final (read-only once compiled), not a frozen dataclass: in a
    # compiled module dataclass() still writes its methods at import, for every start-up
    def __init__(self, slope: float, intercept: float, lower: float, upper: float, n: int,
                 first_day: float, last_day: float) -> None:
        self.slope: Final = slope  # value units per day
        self.intercept: Final = intercept  # value at day 0
        self.lower: Final = lower  # slope interval at the chosen confidence
        self.upper: Final = upper
        self.n: Final = n
        self.first_day: Final = first_day
        self.last_day: Final = last_day

    # compared, hashed and shown by value, as the dataclass it was (a refit is checked equal)
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrendFit):
            return NotImplemented
        return self.to_list() == other.to_list()

    def __hash__(self) -> int:
        return hash(tuple(self.to_list()))

    def __repr__(self) -> str:
        return (f"TrendFit(slope={self.slope!r}, intercept={self.intercept!r}, lower={self.lower!r}, "
                f"upper={self.upper!r}, n={self.n!r}, first_day={self.first_day!r}, last_day={self.last_day!r})")

    def at(self, day: float) -> float:
        return self.intercept + self.slope * day

    @property
    def falling(self) -> bool:
        """The whole slope interval is below zero: a significant decline."""
        return self.upper < 0.0

    @property
    def rising(self) -> bool:
        return self.lower > 0.0

    def declining(self, min_slope: float) -> bool:
        """A decline that matters: significant (``falling``) and steeper than ``min_slope`` (> 0).

        Years of daily values make a slope of hundredths of a mV a day significant; only the
        floor tells sensor drift and seasons from wear (TrendConfig.min_slope_v_per_cell_day).
        """
        return self.upper < 0.0 and self.slope <= -min_slope

    def to_list(self) -> list[float]:
        return [self.slope, self.intercept, self.lower, self.upper, self.n, self.first_day, self.last_day]

    @classmethod
    def of(cls, d: list[float] | None) -> TrendFit | None:
        if d is None:
            return None
        slope, intercept, lower, upper, n, first, last = d
        return cls(float(slope), float(intercept), float(lower), float(upper), int(n), float(first), float(last))

    def days_until(self, level: float, day: float, horizon: float = math.inf) -> float | None:
        """Days from ``day`` until the line reaches ``level`` (0 if past it).

        None if flat, or if the crossing lies more than ``horizon`` days ahead: a date decades
        out is no projection, only a line drawn too far.
        """
        now = self.at(day)
        s = self.slope
        if s < 0.0:
            days = 0.0 if now <= level else (level - now) / s
        elif s > 0.0:
            days = 0.0 if now >= level else (level - now) / s
        else:
            return None
        return days if days <= horizon else None


def falling_lately(xs: list[float], ys: list[float], z: float) -> bool:
    """Whether the values still fall (robust slope below zero); True when there are too few
    (under 3) to say they stopped."""
    if len(xs) < 3:
        return True
    fit = theil_sen(xs, ys, z)
    return fit is None or fit.slope < 0.0


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def z_two_sided(confidence: float) -> float:
    """The standard normal quantile for a two-sided interval (1.645 for 90 %)."""
    # Newton's method on erfc, which math has: importing statistics for NormalDist pulled in
    # random, fractions and decimal, ~15 ms of every replay's start-up.
    tail = 1.0 - confidence  # P(|Z| > z) = erfc(z / sqrt 2)
    z = 1.6
    for _ in range(60):
        step = (math.erfc(z * _SQRT_HALF) - tail) / (_SQRT_2_OVER_PI * math.exp(-0.5 * z * z))
        z += step
        if abs(step) < 1e-15 * z:
            break
    return z


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    m = n // 2
    return s[m] if n % 2 else 0.5 * (s[m - 1] + s[m])


def theil_sen(xs: list[float], ys: list[float], z: float = 1.645) -> TrendFit | None:
    """Median of pairwise slopes, with Sen's distribution-free interval.

    The interval uses the normal approximation of Kendall's S (Gilbert 1987, §16.4): with
    N pairwise slopes sorted, C = z·sqrt(n(n-1)(2n+5)/18), the bounds are the slopes of rank
    (N - C)/2 and (N + C)/2 + 1. Ties in x are skipped. O(n² log n): call it once a day.
    """
    n = len(xs)
    if n < 3:
        return None
    if len(ys) != n:
        raise ValueError("theil_sen: xs and ys differ in length")
    slopes = _slopes_from(xs, ys, n)
    slopes.sort()
    return _fit(slopes, xs, ys, z)


def _slopes_from(xs: list[float], ys: list[float], first: int) -> list[float]:
    """The slopes of the pairs (i < j) with ``i < first``; ties in x are skipped."""
    slopes: list[float] = []
    n = len(xs)
    # by index, without a slice of pairs per point: compiled, the two loops run on plain floats
    for i in range(min(first, n - 1)):
        xi = xs[i]
        yi = ys[i]
        for j in range(i + 1, n):
            xj = xs[j]
            if xj != xi:
                slopes.append((ys[j] - yi) / (xj - xi))
    return slopes


def _slopes_to(xs: list[float], ys: list[float], last: int) -> list[float]:
    """The slopes of the pairs (i < j) with ``j >= last``; ties in x are skipped."""
    slopes: list[float] = []
    for j in range(max(last, 1), len(xs)):
        xj = xs[j]
        yj = ys[j]
        for i in range(j):
            xi = xs[i]
            if xj != xi:
                slopes.append((yj - ys[i]) / (xj - xi))
    return slopes


def _fit(slopes: list[float], xs: list[float], ys: list[float], z: float) -> TrendFit | None:
    """The Theil-Sen line and Sen's interval from the sorted pairwise slopes of (xs, ys)."""
    n = len(xs)
    big_n = len(slopes)
    if big_n < 2:
        return None
    m = big_n // 2
    slope = slopes[m] if big_n % 2 else 0.5 * (slopes[m - 1] + slopes[m])
    intercept = median([y - slope * x for x, y in zip(xs, ys, strict=True)])
    c = z * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    lo_rank = int(math.floor((big_n - c) / 2.0))  # 1-based rank -> 0-based index below
    hi_rank = int(math.ceil((big_n + c) / 2.0))
    lower = slopes[max(0, min(big_n - 1, lo_rank - 1))]
    upper = slopes[max(0, min(big_n - 1, hi_rank))]
    return TrendFit(slope, intercept, lower, upper, n, min(xs), max(xs))


def _plain(slopes: list[float]) -> bool:
    """No NaN and no negative zero: equal slopes are then interchangeable, so a sorted list
    built in another order is the same list."""
    for s in slopes:
        if s != s or (s == 0.0 and math.copysign(1.0, s) < 0.0):
            return False
    return True


class SlidingTheilSen:
    """theil_sen over a window that moves a few points between fits (the daily series' trend
    window: points join at its end and leave at its start).

    The sorted slopes of the last fit are kept; a fit takes out the slopes of the pairs whose
    points left and merges in those of the pairs with a point that joined, O(n * changed +
    pairs) instead of all the pairs sorted again. The slopes are the same numbers in the same
    sorted order, so the fit is exactly theil_sen's; any other window is fitted afresh.
    """

    __slots__ = ("xs", "ys", "slopes", "max_pairs")

    def __init__(self, max_pairs: int = 5000) -> None:
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.slopes: list[float] = []
        self.max_pairs = max_pairs  # a wider window (default: 90 days, 4005 pairs) is not kept: memory

    def fit(self, xs: list[float], ys: list[float], z: float) -> TrendFit | None:
        n = len(xs)
        if n < 3:
            return None
        if len(ys) != n:
            raise ValueError("theil_sen: xs and ys differ in length")
        slopes = self._moved(xs, ys)
        plain = slopes is not None  # kept slopes and checked new ones: plain already
        if slopes is None:  # as theil_sen: the same slopes in the same order before the sort
            slopes = _slopes_from(xs, ys, n)
            slopes.sort()
        if len(slopes) <= self.max_pairs and (plain or _plain(slopes)):
            self.xs, self.ys, self.slopes = list(xs), list(ys), slopes
        else:
            self.xs, self.ys, self.slopes = [], [], []
        return _fit(slopes, xs, ys, z)

    def _moved(self, xs: list[float], ys: list[float]) -> list[float] | None:
        """The sorted slopes of (xs, ys) from those of the last window, or None when the
        window did not move that way."""
        old_x, old_y = self.xs, self.ys
        if not old_x:
            return None
        gone = 0
        while gone < len(old_x) and old_x[gone] < xs[0]:
            gone += 1
        kept = len(old_x) - gone
        if kept < 2 or kept > len(xs) or old_x[gone:] != xs[:kept] or old_y[gone:] != ys[:kept]:
            return None
        removed = _slopes_from(old_x, old_y, gone)
        added = _slopes_to(xs, ys, kept)
        if not (_plain(removed) and _plain(added)):
            return None
        removed.sort()
        # both sorted: each removed slope is looked for from the last one found, and the runs
        # of kept slopes between them are copied whole rather than one by one
        old = self.slopes
        n_old = len(old)
        slopes: list[float] = []
        lo = 0
        for r in removed:
            i = lo
            while i < n_old and old[i] < r:
                i += 1
            if i == n_old or old[i] != r:
                return None
            slopes += old[lo:i]
            lo = i + 1
        slopes += old[lo:]
        added.sort()
        slopes += added  # two sorted runs: the sort merges them in one pass
        slopes.sort()
        return slopes


class RunningFit:
    """Least-squares line over a stream of points in O(1) memory (x relative to the first point)."""

    __slots__ = ("n", "x0", "sx", "sy", "sxx", "sxy", "last_x", "sz", "syy", "y0")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.x0 = 0.0
        self.sx = self.sy = self.sxx = self.sxy = self.sz = self.syy = self.y0 = 0.0
        self.last_x = 0.0

    def add(self, x: float, y: float, z: float = 0.0) -> None:
        """Add a point; ``z`` is averaged alongside (e.g. temperature)."""
        if self.n == 0:
            self.x0 = x
            self.y0 = y  # the scatter is summed about the first value: no cancellation
        dx = x - self.x0
        self.n += 1
        self.sx += dx
        self.sy += y
        self.sxx += dx * dx
        self.sxy += dx * y
        self.syy += (y - self.y0) * (y - self.y0)
        self.sz += z
        self.last_x = x

    @property
    def span(self) -> float:
        return self.last_x - self.x0 if self.n else 0.0

    def slope(self) -> float | None:
        n = self.n
        if n < 3:
            return None
        den = n * self.sxx - self.sx * self.sx
        if den <= 0.0:
            return None
        return (n * self.sxy - self.sx * self.sy) / den

    def slope_se(self) -> float:
        """The standard error of ``slope`` from the scatter about the line (0 with fewer than 4
        points or none to speak of). Consecutive readings are not independent, so this is
        the least the uncertainty can be, not all of it."""
        n = self.n
        if n < 4:
            return 0.0
        sxx = self.sxx - self.sx * self.sx / n
        if sxx <= 0.0:
            return 0.0
        sy = self.sy - n * self.y0
        sxy = self.sxy - self.sx * self.y0 - self.sx * sy / n
        rss = self.syy - sy * sy / n - sxy * sxy / sxx
        return math.sqrt(rss / (n - 2) / sxx) if rss > 0.0 else 0.0

    def trend(self, z: float) -> TrendFit | None:
        """The line as a TrendFit (x absolute), its slope interval ``z`` standard errors wide."""
        slope = self.slope()
        if slope is None:
            return None
        n = self.n
        half = z * self.slope_se()
        return TrendFit(slope, self.sy / n - slope * (self.x0 + self.sx / n), slope - half, slope + half, n,
                        self.x0, self.last_x)

    def mean_z(self) -> float:
        return self.sz / self.n if self.n else 0.0

    def to_list(self) -> list[float]:
        return [self.n, self.x0, self.sx, self.sy, self.sxx, self.sxy, self.last_x, self.sz, self.syy, self.y0]

    def load(self, data: list[float]) -> None:
        (n, self.x0, self.sx, self.sy, self.sxx, self.sxy, self.last_x, self.sz) = data[:8]
        self.n = int(n)
        # states from before the scatter was kept: the line's own points give no spread
        if len(data) > 9:
            self.syy, self.y0 = float(data[8]), float(data[9])
        else:  # no scatter to speak of: the points' mean as the reference, and none about it
            self.y0 = self.sy / self.n if self.n else 0.0
            self.syy = 0.0


def ols3(rows: list[tuple[float, float, float]]) -> tuple[float, float, float, float, float] | None:
    """y = a + b·u + c·w by least squares over (u, w, y) rows.

    Returns (a, b, c, se_c, residual sd), or None when the design is degenerate. Used for the
    crank dip: log dip against temperature and time, so seasons are not mistaken for wear.
    """
    n = len(rows)
    if n < 5:
        return None
    mu = sum(r[0] for r in rows) / n
    mw = sum(r[1] for r in rows) / n
    my = sum(r[2] for r in rows) / n
    suu = suw = sww = suy = swy = 0.0
    for u, w, y in rows:
        du, dw, dy = u - mu, w - mw, y - my
        suu += du * du
        suw += du * dw
        sww += dw * dw
        suy += du * dy
        swy += dw * dy
    det = suu * sww - suw * suw
    if det <= 1e-12 * max(1.0, suu * sww):
        return None
    b = (suy * sww - swy * suw) / det
    c = (swy * suu - suy * suw) / det
    a = my - b * mu - c * mw
    sse = 0.0
    for u, w, y in rows:
        e = y - a - b * u - c * w
        sse += e * e
    dof = n - 3
    if dof <= 0:
        return None
    s2 = sse / dof
    se_c = math.sqrt(s2 * suu / det)
    return a, b, c, se_c, math.sqrt(s2)
