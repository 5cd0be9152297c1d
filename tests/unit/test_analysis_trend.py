"""Theil-Sen with Sen's interval, projections, streaming least squares and the crank-dip regression."""

from __future__ import annotations

import math
import random

import pytest

from battwatch.core.analysis.trend import (
    RunningFit,
    SlidingTheilSen,
    TrendFit,
    median,
    ols3,
    theil_sen,
    z_two_sided,
)


def test_theil_sen_recovers_an_exact_line() -> None:
    xs = [float(i) for i in range(40)]
    ys = [5.3 - 0.002 * x for x in xs]
    fit = theil_sen(xs, ys)
    assert fit is not None
    assert fit.slope == pytest.approx(-0.002)
    assert fit.intercept == pytest.approx(5.3)
    assert fit.lower == pytest.approx(-0.002) and fit.upper == pytest.approx(-0.002)
    assert fit.falling and not fit.rising
    assert fit.n == 40 and fit.first_day == 0.0 and fit.last_day == 39.0


def test_theil_sen_ignores_outliers_that_wreck_least_squares() -> None:
    rng = random.Random(3)
    xs = [float(i) for i in range(60)]
    ys = [12.6 - 0.003 * x + rng.gauss(0, 0.002) for x in xs]
    for i in (50, 53, 56, 59):
        ys[i] = 9.0  # a few absurd days (a glitchy sensor, a flat battery after a light left on)
    fit = theil_sen(xs, ys)
    assert fit is not None
    assert fit.slope == pytest.approx(-0.003, abs=0.0004)
    # least squares is dragged far off by the same points
    ls = RunningFit()
    for x, y in zip(xs, ys, strict=True):
        ls.add(x, y)
    slope = ls.slope()
    assert slope is not None and abs(slope + 0.003) > 0.002


def test_sen_interval_covers_the_true_slope_and_says_when_there_is_no_trend() -> None:
    rng = random.Random(11)
    covered = 0
    for _ in range(40):
        xs = [float(i) for i in range(45)]
        ys = [5.0 - 0.001 * x + rng.gauss(0, 0.01) for x in xs]
        fit = theil_sen(xs, ys, z_two_sided(0.90))
        assert fit is not None
        covered += fit.lower <= -0.001 <= fit.upper
    assert covered >= 32  # a 90 % interval: about 36 of 40, allow for chance
    flat = theil_sen([float(i) for i in range(45)], [5.0 + rng.gauss(0, 0.01) for _ in range(45)])
    assert flat is not None and not flat.falling and not flat.rising


def test_days_until_a_level() -> None:
    fit = TrendFit(slope=-0.01, intercept=5.0, lower=-0.011, upper=-0.009, n=30, first_day=0, last_day=29)
    assert fit.days_until(4.5, 0.0) == pytest.approx(50.0)
    assert fit.days_until(4.5, 20.0) == pytest.approx(30.0)
    assert fit.days_until(4.9, 20.0) == 0.0  # already below
    rising = TrendFit(0.02, 1.0, 0.01, 0.03, 30, 0, 29)
    assert rising.days_until(1.5, 0.0) == pytest.approx(25.0)
    assert TrendFit(0.0, 1.0, -0.1, 0.1, 30, 0, 29).days_until(2.0, 0.0) is None


def test_z_is_the_normal_quantile_to_the_last_digits() -> None:
    from statistics import NormalDist

    for confidence in (0.51, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999):
        want = NormalDist().inv_cdf(0.5 + confidence / 2.0)
        assert z_two_sided(confidence) == pytest.approx(want, rel=1e-14, abs=1e-15)
    # far out the rounding of the confidence itself dominates: 0.5 + c/2 and 1 - c round apart
    assert z_two_sided(0.99999) == pytest.approx(NormalDist().inv_cdf(0.999995), rel=1e-11)


def test_z_and_median() -> None:
    assert z_two_sided(0.90) == pytest.approx(1.6449, abs=1e-3)
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert theil_sen([1.0, 2.0], [1.0, 2.0]) is None  # too few points


def test_running_fit_matches_exact_least_squares_and_round_trips() -> None:
    rng = random.Random(5)
    fit = RunningFit()
    pts = [(1_736_121_600 / 3600 + i * 0.1667, 12.7 - 0.004 * i + rng.gauss(0, 0.001)) for i in range(100)]
    for x, y in pts:
        fit.add(x, y, 10.0)
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    exact = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    slope = fit.slope()
    assert slope is not None and slope == pytest.approx(exact, rel=1e-6)
    assert fit.mean_z() == pytest.approx(10.0)
    assert fit.span == pytest.approx(pts[-1][0] - pts[0][0])
    copy = RunningFit()
    copy.load(fit.to_list())
    assert copy.slope() == slope
    fit.reset()
    assert fit.slope() is None and fit.span == 0.0


def test_ols3_separates_temperature_from_time() -> None:
    # log dip = 0.9 - 0.012 T + 0.002 day: colder starts dip deeper, wear adds slowly
    rng = random.Random(7)
    rows = []
    for day in range(90):
        for temp in (rng.uniform(-5, 5), rng.uniform(5, 15)):  # morning and evening starts
            seasonal = temp - 0.1 * day  # autumn: colder as time goes on
            rows.append((seasonal, float(day), 0.9 - 0.012 * seasonal + 0.002 * day + rng.gauss(0, 0.01)))
    res = ols3(rows)
    assert res is not None
    a, b, c, se_c, sd = res
    assert b == pytest.approx(-0.012, abs=0.002)
    assert c == pytest.approx(0.002, abs=0.0005)
    assert se_c < 0.0005 and sd == pytest.approx(0.01, rel=0.3)
    assert math.isfinite(a)
    assert ols3(rows[:4]) is None
    assert ols3([(1.0, 2.0, 3.0)] * 10) is None  # no spread: degenerate


def test_a_decline_must_matter_as_well_as_be_significant() -> None:
    tiny = TrendFit(slope=-0.00004, intercept=5.3, lower=-0.00005, upper=-0.00003, n=90, first_day=0, last_day=89)
    assert tiny.falling  # significant: the whole interval below zero
    assert not tiny.declining(0.0002)  # 0.04 mV a day is below the floor (0.05 mV per cell x 4)
    real = TrendFit(slope=-0.002, intercept=5.3, lower=-0.0025, upper=-0.0015, n=90, first_day=0, last_day=89)
    assert real.declining(0.0002)
    wide = TrendFit(slope=-0.002, intercept=5.3, lower=-0.005, upper=0.001, n=90, first_day=0, last_day=89)
    assert not wide.declining(0.0002)  # steep but not significant


def test_a_crossing_beyond_the_horizon_is_no_projection() -> None:
    fit = TrendFit(slope=-0.00004, intercept=5.3, lower=-0.00005, upper=-0.00003, n=90, first_day=0, last_day=89)
    assert fit.days_until(4.88, 89.0) == pytest.approx((5.3 - 0.00004 * 89 - 4.88) / 0.00004)  # ~29 years
    assert fit.days_until(4.88, 89.0, horizon=5 * 365.25) is None
    assert fit.days_until(5.29, 89.0, horizon=5 * 365.25) == pytest.approx((5.3 - 0.00004 * 89 - 5.29) / 0.00004)


def _window(points: list[tuple[float, float]], last: float, days: float) -> tuple[list[float], list[float]]:
    inside = [(x, y) for x, y in points if x > last - days]
    return [x for x, _ in inside], [y for _, y in inside]


def test_the_sliding_fit_is_theil_sens_fit_as_the_window_grows_slides_and_jumps() -> None:
    rnd = random.Random(7)
    sen = SlidingTheilSen()
    points: list[tuple[float, float]] = []
    day = 0.0
    moved = 0
    for step in range(300):
        for _ in range(rnd.choice([0, 1, 1, 2, 7])):
            # whole and half days (ties in x), values rounded to mV (ties in slope)
            day += rnd.choice([1.0, 1.0, 2.0, 0.5])
            points.append((day, round(12.6 - 1e-4 * day + rnd.gauss(0.0, 0.02), 3)))
        if step == 150:
            points = [(x, y + 0.01) for x, y in points]  # every value changed: fitted afresh
        xs, ys = _window(points, day, 40.0)
        kept_before = len(sen.slopes) > 0
        assert sen.fit(xs, ys, 1.645) == theil_sen(xs, ys, 1.645), step
        moved += kept_before and len(xs) >= 3
    assert moved > 200  # most fits had the slopes of the one before to start from


def test_the_sliding_fit_keeps_nothing_it_could_not_reuse_exactly() -> None:
    sen = SlidingTheilSen(max_pairs=100)
    xs = [float(i) for i in range(10)]
    ys = [12.5 - 0.01 * x for x in xs]
    ys[4] = math.nan  # a NaN sorts anywhere: its fit is theil_sen's, and it is not kept
    assert repr(sen.fit(xs, ys, 1.645)) == repr(theil_sen(xs, ys, 1.645))
    assert sen.slopes == []
    xs = [float(i) for i in range(20)]  # 190 pairs, above max_pairs
    ys = [12.5 - 0.01 * x for x in xs]
    assert sen.fit(xs, ys, 1.645) == theil_sen(xs, ys, 1.645)
    assert sen.slopes == []
    assert sen.fit(xs[:2], ys[:2], 1.645) is None
