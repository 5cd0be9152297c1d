"""Sweeps of the SOS pack rules over what matters, on two models of the pack.

Each grid below is a fixed, small sample of the space the rule must hold in (chemistry x cells x
climate x driving x ageing rate; the hour and state a cell shorts in; sample periods; with and
without the 12 V channel). The readings come from tests/sosgen.py, a model written apart from
battwatch.scenarios (the pack charged only with the engine running, a two-part relaxation, its
own OCV curves), and for the shorted cell from the project's simulator as well. Every case runs
through the real analysis and checks when the alert comes and that healthy packs raise nothing
above information. The expectations come from the physics of each case (when the rested level
crosses the level, when the cell shorts), not from a first run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from battwatch import config, scenarios
from battwatch.core.analysis import build_analyzer
from battwatch.core.model import AlertTransition, Reading
from battwatch.scenarios.engine import simulate
from battwatch.scenarios.faults import Fault
from sosgen import (
    COMMUTE,
    DAY,
    OCV,
    ONE_A_DAY,
    START,
    WEEKLY,
    Case,
    Climate,
    Drives,
    bench,
    generate,
    interp,
)


def alerts(outs: list[Any]) -> list[AlertTransition]:
    """The alert transitions among what the analysis hands out (its other events aside)."""
    return [o for o in outs if isinstance(o, AlertTransition)]

H = 3600.0
COLD = Climate(-8.0, 5.0)
MILD = Climate(15.0, 5.0)
HOT = Climate(30.0, 8.0)
WARN_V = {"nimh": 1.22, "li-ion": 3.60, "lifepo4": 3.15}  # the analysis' defaults, per cell
CRIT_V = {"nimh": 1.10, "li-ion": 3.40, "lifepo4": 3.00}


def analyse(readings: Iterable[Reading], chem: str, cells: int, *, every_day: bool = False,
            ) -> tuple[list[AlertTransition], list[tuple[float, dict[str, Any]]]]:
    """Transitions of a run through the analysis, and (with ``every_day``) the summary at the
    first reading of every UTC day."""
    raw = {"vehicle": {"id": "sweep"}, "battery": {"main": {"type": "agm", "capacity_ah": 70},
                                                   "sos": {"chemistry": chem, "cells": cells}}}
    an = build_analyzer(config.from_dict(raw, env={}))
    out: list[AlertTransition] = []
    daily: list[tuple[float, dict[str, Any]]] = []
    day = -1
    last = None
    for r in readings:
        out += alerts(an.feed(r))
        last = r
        if every_day and int(r.t // DAY) != day:
            day = int(r.t // DAY)
            daily.append((r.t, an.summary(r.t).to_json()["sos"]))
    assert last is not None
    out += alerts(an.tick(last.t))
    return out, daily


def iso_day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).date().isoformat()


def sos_of(out: list[AlertTransition], alert: str | None = None) -> list[AlertTransition]:
    return [x for x in out if x.battery == "sos" and (alert is None or x.alert == alert)]


def worst(out: list[AlertTransition]) -> str:
    sev = {"info": 1, "warning": 2, "critical": 3}
    raised = [x.severity for x in sos_of(out) if x.state == "raised" and x.alert != "age"]
    return max(raised, key=lambda s: sev[s], default="none")


def first(out: list[AlertTransition], alert: str, severity: str) -> AlertTransition | None:
    return next((x for x in sos_of(out, alert) if x.severity == severity and x.state == "raised"), None)


# -- class 1: a pack sinking through the warning level in a car that is driven ---------------------

SINK_GRID = [
    # (chemistry, cells, climate, drives, days until the rested level crosses the warning level)
    ("nimh", 4, MILD, COMMUTE, 12.0),
    ("nimh", 4, COLD, COMMUTE, 30.0),
    ("nimh", 3, HOT, ONE_A_DAY, 20.0),
    ("nimh", 6, MILD, WEEKLY, 25.0),
    ("li-ion", 1, HOT, COMMUTE, 15.0),
    ("li-ion", 2, COLD, ONE_A_DAY, 25.0),
    ("lifepo4", 1, MILD, COMMUTE, 15.0),
]


def sink_case(chem: str, cells: int, climate: Climate, drives: Drives, cross: float, main: bool) -> Case:
    rest0 = interp(OCV[chem], 1.0)  # the drives keep the pack about full
    return Case(chem=chem, cells=cells, climate=climate, drives=drives, main=main, days=cross + 6.0,
                soc0=0.95, sink_v_day=(rest0 - WARN_V[chem]) / cross)


def parked_days(message: str) -> float:
    """The days a park's self-discharge excuse counts ("after about 3 days parked")."""
    after = message.split(" after ", 1)[1]
    if after.startswith("less than a day"):
        return 0.75
    if after.startswith("about a day"):
        return 1.5
    return float(after.split()[1])


def crossing(truth: list[tuple[float, float]], level: float) -> float:
    """When the true rested cell voltage goes below ``level`` for good (Unix s)."""
    above = [t for t, v in truth if v >= level]
    assert above and above[-1] < truth[-1][0], "the case never crosses the level"
    return above[-1]


@pytest.mark.parametrize("main", [True, False], ids=["with-12v", "sos-only"])
@pytest.mark.parametrize(("chem", "cells", "climate", "drives", "cross"), SINK_GRID)
def test_a_pack_sinking_through_the_warning_level_is_a_warning_within_days(
    chem: str, cells: int, climate: Climate, drives: Drives, cross: float, main: bool,
) -> None:
    """The rested level crosses the warning level on day ``cross`` (the charge stays near full:
    the car is driven); the warning must come within three days of it, never before the level
    is nearly reached, and never as a park's self-discharge excuse (it was not parked long)."""
    truth: list[tuple[float, float]] = []
    out, _ = analyse(generate(sink_case(chem, cells, climate, drives, cross, main), truth), chem, cells)
    w = first(out, "low_voltage", "warning")
    assert w is not None, [(x.alert, x.severity, x.message) for x in sos_of(out)]
    level = WARN_V[chem]
    late = (w.t - crossing(truth, level)) / DAY
    early = (w.t - next(t for t, v in truth if v < level)) / DAY
    # within 3 days of the level crossed for good (24 h held, 3 rested readings, the next
    # rest); never a day before it is first crossed (a long park dips below it before the drive
    # recharges the pack; the temperature correction moves the rested level a little)
    assert late <= 3.0 and early >= -1.0, (late, early)
    gap = DAY * drives.every  # the longest the pack goes without a drive
    for x in sos_of(out, "low_voltage"):
        if "explains the fall" in x.message:  # a park's self-discharge: only at information
            assert x.severity == "info"
            # ... and it counts the time since the last drive (or charge), not since the start
            assert parked_days(x.message) <= gap / DAY + 0.5, x.message


def test_a_healthy_pack_parked_for_weeks_is_information_at_most() -> None:
    """A month's park of a healthy NiMH pack in the heat: it loses a fifth of its charge and
    may be noted, never warned about; the excuse counts the days since the last drive."""
    for main in (True, False):
        c = Case(days=40.0, climate=HOT, drives=Drives(stop_day=6), main=main)
        out, _ = analyse(generate(c), "nimh", 4)
        assert worst(out) in ("none", "info"), [(x.alert, x.severity, x.message) for x in sos_of(out)]
        for x in sos_of(out, "low_voltage"):
            if "explains the fall" in x.message:  # parked from day 5 17:30 on
                assert parked_days(x.message) <= (x.t - START) / DAY - 5.5, x.message


@pytest.mark.parametrize("main", [True, False], ids=["with-12v", "sos-only"])
@pytest.mark.parametrize(("chem", "cells", "climate", "drives"), [
    ("nimh", 4, COLD, COMMUTE), ("nimh", 6, HOT, WEEKLY), ("li-ion", 1, MILD, ONE_A_DAY),
    ("lifepo4", 2, HOT, COMMUTE),
])
def test_healthy_packs_raise_nothing(chem: str, cells: int, climate: Climate, drives: Drives, main: bool) -> None:
    out, _ = analyse(generate(Case(chem=chem, cells=cells, climate=climate, drives=drives, main=main, days=21.0)),
                     chem, cells)
    assert worst(out) in ("none", "info"), [(x.alert, x.severity, x.message) for x in sos_of(out)]
    assert not sos_of(out, "step_drop")


# -- class 2: a shorted cell, at any hour and in any state ------------------------------------------

# the commute drives at 07:30 (30 min) and 17:30 (35 min); hours chosen to fall asleep and
# rested, driving, awake after the drive, relaxing after it, and late in the evening
SHORT_HOURS = [3.0, 7.7, 8.05, 8.6, 13.0, 17.6, 18.12, 19.0, 23.5]


@pytest.mark.parametrize("hour", SHORT_HOURS)
@pytest.mark.parametrize(("chem", "cells", "climate", "period"), [
    ("nimh", 4, MILD, 600.0), ("nimh", 6, COLD, 60.0), ("nimh", 3, HOT, 600.0), ("li-ion", 2, MILD, 60.0),
    ("lifepo4", 2, COLD, 600.0),
])
def test_a_shorted_cell_is_critical_within_an_hour(hour: float, chem: str, cells: int, climate: Climate,
                                                   period: float) -> None:
    short = START + 3 * DAY + hour * H
    c = Case(chem=chem, cells=cells, climate=climate, period_s=period, days=4.0, short_at=short)
    out, _ = analyse(generate(c), chem, cells)
    step = sos_of(out, "step_drop")
    assert step, [(x.alert, x.severity, x.message) for x in sos_of(out)]
    assert (step[0].severity, step[0].state) == ("critical", "raised")
    assert short < step[0].t <= short + H, (step[0].t - short) / H
    assert "a cell has probably shorted" in step[0].message


@pytest.mark.parametrize("period", [1.0, 5.0])
def test_a_shorted_cell_on_fast_readings_while_driving(period: float) -> None:
    """Live hardware sends 1-s windows while the car is awake: the step is found in minutes."""
    short = START + DAY + 7.75 * H
    c = Case(period_s=60.0, awake_period_s=period, days=1.4, short_at=short)
    out, _ = analyse(generate(c), "nimh", 4)
    step = sos_of(out, "step_drop")
    assert step and step[0].severity == "critical", [(x.alert, x.severity) for x in sos_of(out)]
    assert short < step[0].t <= short + H


@pytest.mark.parametrize("cells", [4, 6])
@pytest.mark.parametrize("hour", [2.0, 7.3, 8.0, 8.25, 9.0, 14.0, 17.2, 18.0, 18.3, 20.5])
def test_a_shorted_cell_in_the_simulator_at_any_hour(hour: float, cells: int) -> None:
    """The project's simulator, which charges the pack whenever the car is awake and relaxes it
    with one time constant: the same verdict within the hour."""
    p = scenarios.plan("sos-step-drop")
    short = p.day0 + 5 * DAY + hour * H
    p = dataclasses.replace(p, faults=(Fault("shorted-cell", short),), end=p.day0 + 7 * DAY,
                            pack=dataclasses.replace(p.pack, cells=cells))
    out, _ = analyse(simulate(p, scenarios.DEFAULT_START, "sos-step-drop/0"), "nimh", cells)
    step = sos_of(out, "step_drop")
    assert step and (step[0].severity, step[0].state) == ("critical", "raised"), [
        (x.alert, x.severity, x.message) for x in sos_of(out)]
    assert short < step[0].t <= short + H, (step[0].t - short) / H


@pytest.mark.parametrize("cells", [4, 6])
def test_the_simulators_healthy_pack_has_no_step(cells: int) -> None:
    p = scenarios.plan("sos-step-drop")
    p = dataclasses.replace(p, faults=(), pack=dataclasses.replace(p.pack, cells=cells))
    out, _ = analyse(simulate(p, scenarios.DEFAULT_START, "sos-step-drop/0"), "nimh", cells)
    assert worst(out) in ("none", "info"), [(x.alert, x.severity, x.message) for x in sos_of(out)]


@pytest.mark.parametrize(("hour", "split_after"), [(7.7, 0.2), (8.6, 0.25), (13.0, 0.3)])
def test_a_restart_during_a_step_neither_repeats_nor_forgets_it(hour: float, split_after: float) -> None:
    """The state saved while a step is being confirmed (the daemon stopped) carries the level
    before the step, per kind of reading: the same transitions as without the restart."""
    import json

    short = START + 3 * DAY + hour * H
    rows = list(generate(Case(days=4.0, short_at=short)))
    raw = {"vehicle": {"id": "sweep"}, "battery": {"main": {"type": "agm", "capacity_ah": 70},
                                                   "sos": {"chemistry": "nimh", "cells": 4}}}

    def run(split: bool) -> list[tuple[str, str, str, float]]:
        an = build_analyzer(config.from_dict(raw, env={}))
        out: list[AlertTransition] = []
        for r in rows:
            if split and short + split_after * H <= r.t < short + split_after * H + 1.0 + r.window_s:
                state = json.loads(json.dumps(an.export_state()))
                an = build_analyzer(config.from_dict(raw, env={}))
                an.import_state(state)
                split = False
            out += alerts(an.feed(r))
        return [(x.alert, x.severity, x.state, x.t) for x in out if x.battery == "sos"]

    whole = run(False)
    assert whole and whole[0][:3] == ("step_drop", "critical", "raised")
    assert run(True) == whole


@pytest.mark.parametrize("cells", [3, 4, 6])
@pytest.mark.parametrize("period", [60.0, 600.0])
def test_relaxation_and_weather_are_no_step(cells: int, period: float) -> None:
    """A healthy pack through charges, relaxation, cold nights and hot days: no step at all."""
    for climate in (COLD, HOT):
        out, _ = analyse(generate(Case(cells=cells, period_s=period, climate=climate, days=5.0)), "nimh", cells)
        assert not sos_of(out, "step_drop"), [x.message for x in sos_of(out, "step_drop")]


# -- class 4: logs with only the SOS channel ---------------------------------------------------------

@pytest.mark.parametrize(("chem", "cells", "period"), [
    ("li-ion", 1, 5.0), ("li-ion", 3, 60.0), ("nimh", 8, 6.0), ("nimh", 4, 60.0), ("lifepo4", 4, 10.0),
])
def test_a_bench_discharge_is_judged(chem: str, cells: int, period: float) -> None:
    """A pack run down on the bench over 6 h (no 12 V channel, no window extremes): off charge
    from the first reading, so from 2 h on the levels apply. Each level the pack stays below
    for half an hour (own_for_s) is raised by then, and none before the pack is below it."""
    rows = list(bench(chem, cells, 6.0, period))
    out, _ = analyse(rows, chem, cells)
    sev = {"info": 1, "warning": 2, "critical": 3}
    raised = [(x.t, sev[x.severity]) for x in sos_of(out, "low_voltage") if x.state == "raised"]
    assert raised, "nothing raised"
    for name, level in (("warning", WARN_V[chem]), ("critical", CRIT_V[chem])):
        below = [r.t for r in rows if r.sos_v is not None and r.sos_v < level * cells]
        last_above = max((r.t for r in rows if r.sos_v is not None and r.sos_v >= level * cells), default=START)
        if below:  # never raised before the pack is below the level
            assert all(t >= below[0] for t, s in raised if s >= sev[name]), name
        # below it for good from a time the rules look at (2 h off charge): held for 30 min
        due = max(last_above, START + 2 * H) + 1800.0 + 3 * period
        if due <= rows[-1].t:
            assert any(s >= sev[name] and t <= due for t, s in raised), (name, (due - START) / H, raised)
    assert all("off charge" in x.message and "rested" not in x.message for x in sos_of(out, "low_voltage"))
    assert not sos_of(out, "step_drop") and not sos_of(out, "sensor_fault")


def test_a_charger_on_the_bench_restarts_the_rest_clock() -> None:
    """A pack on charge (above its float level or rising) is not judged; 2 h after the charger
    goes, it is: a cycle of charge, rest at full and a discharge raises nothing while charged."""
    rows: list[Reading] = []
    t = START
    for i in range(360):  # 6 h on a charger at 10-min steps: 1.42-1.45 V per cell, rising
        rows.append(Reading(t, None, None, None, 4 * (1.42 + 0.03 * i / 360), None, None))
        t += 60.0
    for _ in range(6 * 60):  # 6 h off it: relaxes to a full pack's rested 1.33 V
        rows.append(Reading(t, None, None, None, 4 * 1.33, None, None))
        t += 60.0
    out, _ = analyse(rows, "nimh", 4)
    assert not sos_of(out)


@pytest.mark.parametrize(("chem", "cells", "drives"), [("nimh", 4, COMMUTE), ("li-ion", 1, WEEKLY)])
def test_an_sos_only_tap_in_a_driven_car_sees_the_drives_as_charges(chem: str, cells: int, drives: Drives) -> None:
    """No 12 V channel: each drive shows in the pack's own voltage, so a month of healthy driving
    and parking says nothing, and the summary says no 12 V reading was ever seen."""
    raw = {"vehicle": {"id": "x"}, "battery": {"sos": {"chemistry": chem, "cells": cells}}}
    an = build_analyzer(config.from_dict(raw, env={}))
    out: list[AlertTransition] = []
    last = None
    for r in generate(Case(chem=chem, cells=cells, drives=drives, main=False, days=30.0)):
        out += alerts(an.feed(r))
        last = r
    assert last is not None
    assert worst(out) in ("none", "info")
    s = an.summary(last.t).to_json()
    assert s["main"]["channel_seen"] is False and s["sos"]["channel_seen"] is True
    assert s["sos"]["judged_on"] == "own voltage"
    assert s["sos"]["rested_at"] is not None


# -- class 10: remaining life that the log already contradicts ---------------------------------------

@pytest.mark.parametrize("main", [True, False], ids=["with-12v", "sos-only"])
@pytest.mark.parametrize(("chem", "cells", "fall_days", "drives"), [
    ("li-ion", 1, 9.0, COMMUTE), ("li-ion", 1, 20.0, ONE_A_DAY), ("nimh", 4, 12.0, COMMUTE),
    ("lifepo4", 1, 15.0, COMMUTE),
])
def test_remaining_life_never_promises_more_than_the_readings_show(
    chem: str, cells: int, fall_days: float, drives: Drives, main: bool,
) -> None:
    """The rested level runs from full to the critical level in ``fall_days``. From the day the
    last week's values show the fall, every daily summary's remaining life is at most what the
    readings leave (with a margin of a third for the line's noise), never "months" inside the
    last month, and the projected end-of-life date is not later than that either."""
    rest0 = interp(OCV[chem], 0.95)
    sink = (rest0 - CRIT_V[chem]) / fall_days
    c = Case(chem=chem, cells=cells, drives=drives, main=main, days=fall_days, sink_v_day=sink)
    _, daily = analyse(generate(c), chem, cells, every_day=True)
    checked = 0
    for t, s in daily:
        left = fall_days - (t - START) / DAY
        if (t - START) / DAY < 7.0 or left < 0.5:
            continue
        checked += 1
        years = s["remaining_life_years"]
        assert years is not None and s["remaining_life_basis"] in ("trend", "alert"), s
        allowed = (left * 1.34 + 1.0) / 365.25
        assert years <= allowed + 0.005, (left, s["remaining_life_text"])  # given to 0.01 years
        assert "month" not in s["remaining_life_text"] or left > 30.0, s["remaining_life_text"]
        if s["remaining_life_basis"] == "trend":
            assert s["trend"]["v_per_day"] is not None and s["trend"]["significant"]
            date = s["trend"]["projected_end_of_life_date"]
            assert date is not None and date <= iso_day(t + allowed * 365.25 * DAY), (date, left)
    assert checked >= 1


def test_a_healthy_pack_keeps_its_life_by_age() -> None:
    """No fall in the readings: no trend-based remaining life, short or long."""
    _, daily = analyse(generate(Case(days=21.0)), "nimh", 4, every_day=True)
    for _, s in daily:
        assert s["remaining_life_basis"] in (None, "age"), s["remaining_life_text"]
        assert not s["trend"].get("short_term"), s["trend"]



def test_a_gap_in_an_sos_only_log_restarts_the_rest() -> None:
    """Without a 12 V channel a gap of hours may have held a charge: the pack's rest clock starts
    afresh at the first reading after it (as the 12 V rest clock does), so the readings of the
    next 2 h are not judged, and no self-discharge verdict comes from the stretch before it."""
    raw = {"vehicle": {"id": "x"}, "battery": {"sos": {"chemistry": "nimh", "cells": 4}}}
    an = build_analyzer(config.from_dict(raw, env={}))
    rows = list(bench("nimh", 4, 10.0, 60.0))
    for r in rows:
        alerts(an.feed(r))
    after = rows[-1]._replace(t=rows[-1].t + 3 * H)
    alerts(an.feed(after))
    assert an.sos.own_t == after.t
    assert an.sos.fit.n == 0 and not sos_of(an.engine.take(), "self_discharge")


def test_the_step_rule_keeps_the_last_entries_of_each_kind_across_a_restart() -> None:
    # the entries of a kind are the last RING_LEN, oldest first, however many came; a saved
    # state gives the same entries and the same newest one back
    from battwatch.core.analysis.packstep import AWAKE, RESTED, RING_LEN, RING_S

    cfg = config.defaults("ring-car")
    steps = build_analyzer(cfg).sos.steps
    got = []
    for i in range(5 * RING_LEN + 7):
        t = 1.75e9 + i * RING_S
        v = 5.3 + 0.001 * (i % 5)
        steps.feed(t, t - RING_S, v, RESTED)
        got.append((t, v))
        assert steps.ring(RESTED) == got[-RING_LEN:]
        assert (steps.last_t[RESTED], steps.last_v[RESTED]) == got[-1]
    assert steps.ring(AWAKE) == []
    saved = steps.export()
    assert saved["rings"][RESTED] == [list(p) for p in got[-RING_LEN:]]
    again = build_analyzer(cfg).sos.steps
    again.load(saved)
    assert again.export() == saved
    assert (again.last_t[RESTED], again.last_v[RESTED]) == got[-1]
    assert again.last_t[AWAKE] == -math.inf
