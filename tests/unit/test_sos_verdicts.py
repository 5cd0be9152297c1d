"""Issue 13 on the SOS pack: a leak needs more than one night's scatter, a remaining life no longer
than the fall in hand, a park's fit that knows its own uncertainty."""

from __future__ import annotations

import math
import random

from battwatch import config
from battwatch.core.analysis import build_analyzer
from battwatch.core.analysis.summary import build as build_summary
from battwatch.core.analysis.trend import RunningFit
from battwatch.core.healthsummary import Remaining
from battwatch.core.model import AlertTransition, Reading

T0 = 1_736_121_600.0  # 2025-01-06 00:00 UTC


def test_the_slope_error_is_zero_on_a_line_and_grows_with_the_scatter() -> None:
    line = RunningFit()
    for i in range(20):
        line.add(i / 24.0, 5.0 - 0.01 * i)
    assert line.slope_se() < 1e-9
    rng = random.Random(3)
    ses = []
    for sigma in (0.001, 0.004):
        f = RunningFit()
        for i in range(200):
            f.add(i / 24.0, 5.0 + rng.gauss(0.0, sigma))
        ses.append(f.slope_se())
    # a straight line's slope error: sigma / sqrt(sum (x - mean)^2)
    xs = [i / 24.0 for i in range(200)]
    m = sum(xs) / len(xs)
    expect = [s / math.sqrt(sum((x - m) ** 2 for x in xs)) for s in (0.001, 0.004)]
    for got, want in zip(ses, expect, strict=True):
        assert 0.8 * want < got < 1.2 * want
    # a state saved before the scatter was kept loads with no scatter, not a wrong one
    old = RunningFit()
    old.load(line.to_list()[:8])
    assert old.slope_se() == 0.0 and old.slope() == line.slope()


def _sos_only(cfg: dict[str, object], rows: list[tuple[float, float]]) -> tuple[list[AlertTransition], Remaining]:
    an = build_analyzer(config.from_dict({"vehicle": {"id": "t"}, "battery": {"sos": cfg}}, env={}))
    out: list[AlertTransition] = []
    for t, v in rows:
        out += [o for o in an.feed(Reading(t, None, None, None, v, v - 0.002, v + 0.002, 20.0, 60.0))
                if isinstance(o, AlertTransition)]
    return out, build_summary(an, rows[-1][0])[1].remaining


def test_a_cell_running_down_within_hours_is_given_hours_not_months() -> None:
    """One Li-ion cell under a load, 0.15 V an hour from 4.10 V, SOS channel only: once below
    the 3.60 V warning level it is 15 minutes from the 3.40 V critical level, and the
    remaining life must say so (issue 13, class 10)."""
    rows = [(T0 + i * 60.0, 4.10 - 0.15 * i / 60.0) for i in range(int(4.4 * 60))]  # down to 3.44 V
    out, remaining = _sos_only({"chemistry": "li-ion", "cells": 1}, rows)
    assert ("sos", "low_voltage", "warning") in [(t.battery, t.alert, t.severity) for t in out]
    life, text = remaining.years, remaining.text or ""
    assert life is not None and life * 365.25 < 1.0, (life, text)
    assert "month" not in text and "year" not in text, text


def test_a_low_pack_holding_its_level_keeps_the_warnings_cap() -> None:
    """The same cell resting at 3.55 V (below the warning level, not falling): no fall in hand,
    so the remaining life is the warning's cap, not a projection from noise."""
    rng = random.Random(5)
    rows = [(T0 + i * 60.0, 3.55 + rng.gauss(0.0, 0.002)) for i in range(6 * 60)]
    out, remaining = _sos_only({"chemistry": "li-ion", "cells": 1}, rows)
    assert ("sos", "low_voltage", "warning") in [(t.battery, t.alert, t.severity) for t in out]
    assert remaining.basis == "alert", remaining.text
