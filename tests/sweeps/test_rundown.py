"""Issue 13 (class 10): the pack's remaining life never promises more than its readings show.

A pack whose rested voltage runs from full to below the critical level within days (speeds x
chemistries x 12 V channel or none x both pack models): on every day of the run-down, the
remaining life in the summary is at most the time the readings really took to reach the
critical level from then, plus a margin (``MARGIN_*``), once a day of the run-down is in hand.
Healthy packs of the sos-level grid never get a life from the days-scale projections (the
run-down in hand, the last days' trend) on any day: normal self-discharge after a drive, a hot
week and the day's temperature swing are no run-down.
"""

from __future__ import annotations

from typing import Any

import pytest
from grids import (
    CLIMATES,
    CRIT_CELL,
    PACKS,
    at,
    build_sos,
    config,
    crossing,
    pack_params,
    pattern_drives,
    rng_for,
    run_plan,
    strip,
    true_coeff,
)
from harness import Case

from battwatch import config as config_mod
from battwatch.core.analysis import build_analyzer
from battwatch.core.model import Reading
from battwatch.scenarios.backup import CHEMISTRIES, PackAgeing
from battwatch.scenarios.climate import DAY_S

YEAR_DAYS = 365.25
# The expectation, written before the rule: life (days) <= MARGIN_FACTOR x the days the readings
# still took to the critical level + MARGIN_DAYS, checked from IN_HAND_DAYS into the run-down
# (the truth's crossing is a day's rested median below the level, so it lags the level by up to
# a day; a straight line through a lithium cell's curve is a little late near its knee).
MARGIN_FACTOR = 1.25
MARGIN_DAYS = 1.0
IN_HAND_DAYS = 2.0
SPEEDS = (5, 9, 20)  # days for the rested voltage to go from full to past the critical level
RUN_PACKS = ("nimh4", "li-ion1", "lifepo4-4")


def build_rundown(case: Case) -> tuple[list[Reading], dict[str, Any], float | None]:
    """A pack kept near full by a commute that sags, from day 2 on, to 40 mV a cell under its
    critical level (from the top of its curve) within ``speed_days``; its true crossing of the critical level."""
    p = case.p()
    speed = int(p["speed_days"])
    chem, cells = PACKS[p["pack"]]
    days = 2 + speed + 3
    drives = pattern_drives(rng_for(case), "twice-daily", days)
    full = CHEMISTRIES[chem].rest_curve[-1][1]  # the top of its curve: past the level whatever its charge
    ageing = PackAgeing(start=at(2), end=at(2 + speed), capacity_factor=0.9, self_discharge_factor=1.0,
                        depression_v_per_cell=full - CRIT_CELL[chem] + 0.04)
    readings = run_plan(case, at(days), drives, CLIMATES["mild"], pack=pack_params(p["pack"]), pack_ageing=ageing)
    crit = crossing(readings, drives, cells, true_coeff(case.model, chem), CRIT_CELL[chem])
    if p["channels"] == "sos-only":
        readings = strip(readings, "main")
    return readings, config(pack=p["pack"]), crit


def daily_lives(readings: list[Reading], cfg: dict[str, Any]) -> list[tuple[float, float | None, str | None, bool]]:
    """(time, remaining life in days, its words, whether a days-scale projection gives it) of
    the SOS pack at the end of every day of data."""
    an = build_analyzer(config_mod.from_dict(cfg, env={}))
    out = []
    next_day = (readings[0].t // DAY_S + 1.0) * DAY_S
    for r in readings:
        if r.t >= next_day:
            s = an.summary(next_day).sos
            assert s is not None
            years = s.remaining.years
            text = s.remaining.text
            days_scale = s.remaining.basis == "trend" and (bool(s.trend.short_term) or "readings of the last" in (text or ""))
            out.append((next_day, None if years is None else years * YEAR_DAYS, text, days_scale))
            next_day += DAY_S
        an.feed(r)
    return out


RUN_CASES = [Case("rundown", (("speed_days", sp), ("pack", pk), ("channels", ch)), m)
             for sp in SPEEDS for pk in RUN_PACKS for ch, m in (("both", "A"), ("both", "B"), ("sos-only", "A"))]


@pytest.mark.parametrize("case", RUN_CASES, ids=lambda c: c.label())
def test_life_never_more_than_the_run_down_in_hand_shows(case: Case) -> None:
    readings, cfg, crit = build_rundown(case)
    assert crit is not None, "the case must cross the critical level"
    start = at(2 + IN_HAND_DAYS)
    bad = []
    for t, life, text, _ in daily_lives(readings, cfg):
        if t < start or t >= crit:
            continue
        left = (crit - t) / DAY_S
        if life is None or life > MARGIN_FACTOR * left + MARGIN_DAYS:
            bad.append(f"day {(t - at(0)) / DAY_S:.0f}: {left:.1f} days left, life {text!r}")
    assert not bad, "\n".join(bad)


HEALTHY = [Case("sos-level", (("rate_days", 0), ("pack", pk), ("climate", cl), ("pattern", pa)), m)
           for pk, cl, pa, m in (("nimh4", "hot-south", "twice-daily", "B"), ("nimh3", "hot-south", "weekly", "B"),
                                 ("lifepo4-1", "cold-winter", "twice-daily", "A"), ("li-ion1", "mild", "parked-weeks", "B"),
                                 ("nimh4", "cold-winter", "weekly", "A"))]


@pytest.mark.parametrize("case", HEALTHY, ids=lambda c: c.label())
def test_a_healthy_pack_gets_no_life_from_days_of_readings(case: Case) -> None:
    built = build_sos(case)
    short = [f"day {(t - at(0)) / DAY_S:.0f}: {text!r}"
             for t, _, text, days_scale in daily_lives(built.readings, built.config) if days_scale]
    assert not short, "\n".join(short[:5])


@pytest.mark.parametrize("case", [*HEALTHY, Case("sos-level", (("rate_days", 0), ("pack", "nimh3"), ("climate", "hot-south"),
                                                           ("pattern", "twice-daily")), "B")],
                         ids=lambda c: c.label())
def test_a_healthy_pack_climbing_out_of_a_dip_is_promised_no_crossing(case: Case) -> None:
    """A NiMH pack that charges poorly through a hot month loses a third of a volt and wins it
    back; the long-term line through that dip (36 daily values, falling 9 mV a day) read "about
    3 months" from day 36 while the last week rose. No day of a healthy pack's summary gives it
    less than a year."""
    built = build_sos(case)
    short = [f"day {(t - at(0)) / DAY_S:.0f}: {text!r}" for t, life, text, _ in daily_lives(built.readings, built.config)
             if life is not None and life < YEAR_DAYS]
    assert not short, "\n".join(short[:5])


def test_the_run_down_in_hand_survives_a_restart() -> None:
    """The last days' rested readings are kept in the saved state (JSON): a daemon restarted in
    the middle of a run-down tells the same remaining life as one that ran through."""
    import json

    case = Case("rundown", (("speed_days", 9), ("pack", "li-ion1"), ("channels", "both")), "A")
    readings, cfg, _ = build_rundown(case)
    cut = at(5)
    whole = build_analyzer(config_mod.from_dict(cfg, env={}))
    first = build_analyzer(config_mod.from_dict(cfg, env={}))
    for r in readings:
        if r.t < cut:
            first.feed(r)
    again = build_analyzer(config_mod.from_dict(cfg, env={}))
    again.import_state(json.loads(json.dumps(first.export_state())))
    for r in readings:
        if r.t >= at(6):
            break
        whole.feed(r)
        if r.t >= cut:
            again.feed(r)
    a, b = whole.summary(at(6)).sos, again.summary(at(6)).sos
    assert a is not None and b is not None
    assert a.remaining.text == b.remaining.text and "rested readings of the last" in (a.remaining.text or "")
