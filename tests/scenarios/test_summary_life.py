"""Remaining life at the end of the scenarios: the verdicts count, not only the age."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import analyse_scenario


def summary_at_end(name: str) -> dict[str, Any]:
    an, end = analyse_scenario(name)
    return an.summary(end).to_json()


@pytest.mark.parametrize(("name", "battery", "years", "basis", "alert", "text"), [
    # a shorted cell: two critical alerts, so "replace now", not the 2.9 years its age leaves
    ("sos-step-drop", "sos", 0.0, "alert", "step_drop", "replace now (step_drop critical since 2025-01-15)"),
    # every start below the limit: the warning caps the 1.6 years of age
    ("main-weak-crank", "main", 0.5, "alert", "weak_cranking", "at most 6 months (while weak_cranking warning"),
    # rested below 12.0 V for a week: damaged, not only flat
    ("main-low-voltage", "main", 0.5, "alert", "low_voltage", "at most 6 months (while low_voltage critical"),
    # a dying pack, empty after two weeks parked
    ("sos-low-voltage", "sos", 0.0, "alert", "low_voltage", "replace now (low_voltage critical"),
    # past their expected life by age alone, inside the window of their age warning: the words
    # and the numbers agree with the warnings ("at most 1.1 years" for the pack), not "overdue"
    ("age-old-batteries", "main", 0.36, "age", None,
     "in its replacement window: expected life of 5 years reached, at most 9 months left"),
    ("age-old-batteries", "sos", 0.56, "age", None,
     "in its replacement window: expected life of 5.5 years reached, at most 1.1 years left"),
    # a falling trend that reaches the critical level within 30 days: replace now
    # critical since April: its information was raised in February ("raised 2025-02-03" read as
    # critical since then)
    ("sos-decline-critical", "sos", 0.0, "alert", "low_voltage", "replace now (low_voltage critical since 2025-04-15)"),
    # seven years old, its window closed on day 4
    ("sos-age-overdue", "sos", 0.0, "age", None,
     "overdue by less than a month (past the end of its replacement window at 7 years)"),
    # a pack that ran empty and was recharged: no active verdict holds its life short any more
    ("sos-low-voltage-recovery", "sos", 2.82, "age", None, "about 2.8 years (by age"),
    # the healthy pack of a decline-free run: age only
    ("sos-long-park-normal", "sos", 2.81, "age", None, "about 2.8 years (by age, expected life of 5.5 years)"),
    # six weeks parked in the heat, then charged full again: normal NiMH self-discharge caps
    # nothing (it read as a leak against a baseline learned half charged: "at most 6 months")
    ("sos-hot-long-park", "sos", 2.74, "age", None, "about 2.7 years (by age, expected life of 5.5 years)"),
])
def test_remaining_life_follows_the_verdicts(
    name: str, battery: str, years: float, basis: str, alert: str | None, text: str,
) -> None:
    b = summary_at_end(name)[battery]
    assert b["remaining_life_years"] == pytest.approx(years, abs=0.02)
    assert (b["remaining_life_basis"], b["remaining_life_alert"]) == (basis, alert)
    assert b["remaining_life_text"].startswith(text), b["remaining_life_text"]
