"""What the analysis makes of the simulated drives and starts, against the plan that made them."""

from __future__ import annotations

import pytest

from battwatch import config, scenarios
from battwatch.core.analysis import build_analyzer
from battwatch.core.analysis.analyzer import BatteryAnalyzer
from battwatch.scenarios.usage import Drive


def analysed(name: str) -> tuple[BatteryAnalyzer, list[str]]:
    an = build_analyzer(config.from_dict(scenarios.scenario_config(name), env={}), record=True)
    states = []
    for r in scenarios.generate(name):
        an.feed(r)
        states.append(an.vehicle_state)
    return an, states


def planned(name: str, t: float) -> Drive:
    """The planned drive whose engine ran at ``t`` (a minute of slack for the windows)."""
    return next(d for d in scenarios.plan(name).drives if d.crank - 60.0 <= t <= d.stop + 60.0)


def test_an_ignition_switched_log_gives_the_planned_drives_and_no_rest() -> None:
    name = "main-ignition-switched"
    an, states = analysed(name)
    plan = scenarios.plan(name).drives
    drives = an.report_data().drives
    # every drive but the last (still open when the log ends) is closed at the night's gap
    assert len(drives) == len(plan) - 1
    for d in drives:
        p = planned(name, d.start)
        assert planned(name, d.end) == p, "a drive ran across a night the logger was off"
        assert d.duration_s <= p.stop - p.crank + 60.0
        assert d.charged and 13.0 <= d.avg_v <= 13.6
    # a key-on after a night unseen is not a rested reading
    assert "resting" not in states and "asleep" not in states
    # the quick starts (key-on to crank under the logger's 90 s boot) are not seen; the rest are
    seen = an.report_data().cranks
    assert 0 < len(seen) < len(plan)
    assert all(not c.failed for c in seen)


def test_stop_start_restarts_are_warm_restarts_inside_one_drive_each() -> None:
    name = "main-stop-start"
    an, _ = analysed(name)
    plan = scenarios.plan(name).drives
    rd = an.report_data()
    assert len([c for c in rd.cranks if c.restart]) == sum(len(d.restarts) for d in plan)
    assert len([c for c in rd.cranks if not c.restart]) == len(plan)
    assert not any(c.failed for c in rd.cranks)
    # one drive per planned drive, however many restarts it holds
    assert len(rd.drives) == len(plan)
    for d in rd.drives:
        p = planned(name, d.start)
        assert d.duration_s == pytest.approx(p.stop - p.crank, abs=180.0)
    # only the starts after a park feed the crank-dip trend
    assert len(an.main.cranks) <= len(plan)


def test_the_failed_attempt_is_the_one_planned() -> None:
    name = "main-failed-start"
    an, _ = analysed(name)
    failed = [c for c in an.report_data().cranks if c.failed]
    (attempt,) = [f for d in scenarios.plan(name).drives for f in d.failed_cranks]
    assert len(failed) == 1 and 0.0 < failed[0].t - attempt <= 60.0
