"""Remaining life in the health summary: age, trend and the active verdicts, and its words."""

from __future__ import annotations

from typing import Any

import pytest

from battwatch.analysis_config import Debounce, LifeConfig
from battwatch.core.analysis.engine import CRITICAL, INFO, WARNING, Slot
from battwatch.core.analysis.messages import main_age, sos_age, span
from battwatch.core.analysis.summary import AgeLife, life_verdicts, remaining_life

T0 = 1_736_121_600.0  # 2025-01-06 00:00 UTC
CFG = LifeConfig()
MAIN = AgeLife(5.0, 5.0, 7.0)  # an AGM 12 V battery: expected 5 years, age warning 5, critical 7
SOS = AgeLife(5.5, 4.0, 7.0)  # a NiMH pack: lifespan_years [4, 7]


def slot(battery: str, alert: str, level: int, value: float | None = None, since: float = T0) -> Slot:
    s = Slot(battery, alert, Debounce())
    s.level = level
    s.value = value
    s.since = since
    s.level_since = since
    return s


def life(age: float | None, by_trend: float | None = None, active: list[Slot] | None = None,
         dead_cell_v: float | None = 10.5, rule: AgeLife = MAIN) -> dict[str, Any]:
    now, cap = life_verdicts(active or [], dead_cell_v)
    return remaining_life(age, by_trend, "rested voltage", now, cap, CFG, rule)


def test_the_more_pessimistic_of_age_and_trend_saying_which() -> None:
    got = life(2.1)
    assert (got["remaining_life_years"], got["remaining_life_basis"]) == (2.9, "age")
    assert got["remaining_life_text"] == "about 2.9 years (by age, expected life of 5 years)"
    got = life(2.1, by_trend=0.4)
    assert (got["remaining_life_years"], got["remaining_life_basis"]) == (0.4, "trend")
    assert got["remaining_life_text"] == "about 5 months (by the trend of its rested voltage)"
    assert got["remaining_life_by_age_years"] == 2.9 and got["remaining_life_by_trend_years"] == 0.4
    assert life(None)["remaining_life_years"] is None and life(None)["remaining_life_text"] is None


def test_an_active_critical_about_the_battery_means_replace_now() -> None:
    for battery, alert in [("sos", "step_drop"), ("sos", "low_voltage"), ("main", "weak_cranking"),
                           ("sos", "decline")]:
        got = life(2.1, active=[slot(battery, alert, CRITICAL, 4.05)])
        assert (got["remaining_life_years"], got["remaining_life_basis"], got["remaining_life_alert"]) == (
            0.0, "alert", alert)
        assert got["remaining_life_text"] == f"replace now ({alert} critical since 2025-01-06)"
    # a shorted 12 V cell (a reading at or below 10.5 V) too, but not a flat battery
    dead = life(2.1, active=[slot("main", "low_voltage", CRITICAL, 10.2)])
    assert dead["remaining_life_text"].startswith("replace now (low_voltage critical")
    flat = life(2.1, active=[slot("main", "low_voltage", CRITICAL, 11.9)])
    assert (flat["remaining_life_years"], flat["remaining_life_basis"]) == (0.5, "alert")
    assert flat["remaining_life_text"] == "at most 6 months (while low_voltage critical is active)"


def test_condition_warnings_cap_it_and_charge_or_car_problems_do_not() -> None:
    weak = life(3.4, active=[slot("main", "weak_cranking", WARNING, 9.1)])
    assert (weak["remaining_life_years"], weak["remaining_life_alert"]) == (0.5, "weak_cranking")
    assert life(6.2, active=[slot("sos", "self_discharge", WARNING)])["remaining_life_basis"] == "age"  # less already
    # a significant trend is a measured projection: it replaces the cap
    trend = life(3.4, by_trend=0.8, active=[slot("sos", "self_discharge", WARNING)])
    assert (trend["remaining_life_years"], trend["remaining_life_basis"]) == (0.8, "trend")
    for battery, alert, level in [("main", "low_voltage", WARNING), ("sos", "low_voltage", INFO),
                                  ("main", "undercharging", CRITICAL), ("main", "overvoltage", CRITICAL),
                                  ("main", "parasitic_drain", CRITICAL), ("sos", "sensor_fault", WARNING),
                                  ("main", "sensor_fault", WARNING)]:
        got = life(2.1, active=[slot(battery, alert, level, 12.3)])
        assert (got["remaining_life_years"], got["remaining_life_basis"]) == (2.9, "age"), alert


def test_the_oldest_verdict_names_the_reason() -> None:
    got = life(2.1, active=[slot("sos", "low_voltage", CRITICAL, since=T0 + 600),
                            slot("sos", "step_drop", CRITICAL, since=T0)])
    assert got["remaining_life_alert"] == "step_drop"


def test_age_boundaries_read_due_now_or_overdue_never_zero_years() -> None:
    assert life(6.98)["remaining_life_text"] == "due now (its replacement window closes within a month, at 7 years)"
    # from the end of the window the age alert is critical: overdue, in words that never read "0 years"
    assert life(7.02)["remaining_life_text"] == (
        "overdue by less than a month (past the end of its replacement window at 7 years)")
    over = life(7.4)
    assert over["remaining_life_text"] == "overdue by 5 months (past the end of its replacement window at 7 years)"
    assert (over["remaining_life_years"], over["overdue_years"]) == (0.0, 0.4)
    assert life(3.7)["overdue_years"] is None
    assert life(2.1, by_trend=0.01)["remaining_life_text"] == "due now (by the trend of its rested voltage)"


def test_inside_the_window_the_summary_says_what_the_age_warning_says() -> None:
    # a pack of 5.8 years, lifespan_years [4, 7]: the age warning gives at most 1.2 years, and
    # the summary must not call it overdue (it used to: past the 5.5-year middle)
    got = life(5.8, rule=SOS)
    warning = sos_age(WARNING, {"age": 5.8, "life_min": 4.0, "life_max": 7.0, "installed": "2019-03-01",
                                "chem": "nimh"})
    assert "at most 1.2 years" in warning
    assert got["remaining_life_text"] == (
        "in its replacement window: expected life of 5.5 years reached, at most 1.2 years left")
    assert (got["remaining_life_years"], got["remaining_life_basis"], got["overdue_years"]) == (0.6, "age", None)
    # the window opened, the middle not reached yet
    assert life(4.5, rule=SOS)["remaining_life_text"] == "in its replacement window: at most 2.5 years left"
    # a 12 V battery of 6.3 years (age warning from 5, critical from 7)
    main = life(6.3)
    assert main["remaining_life_text"] == (
        "in its replacement window: expected life of 5 years reached, at most 8 months left")
    assert main["overdue_years"] is None and main["remaining_life_years"] == 0.35
    warning = main_age(WARNING, {"age": 6.3, "installed": "2018-10-01", "life": 5.0, "type": "agm", "warn": 5.0,
                                 "crit": 7.0})
    assert "in its replacement window: at most 8 months left before the 7-year mark" in warning
    # a trend that leaves less still wins, saying so
    assert life(5.8, by_trend=0.3, rule=SOS)["remaining_life_basis"] == "trend"


def test_past_its_expected_life_before_the_window_opens() -> None:
    flooded = AgeLife(4.0, 5.0, 7.0)  # the 12 V age warning comes a year after the expected life
    got = life(4.5, rule=flooded)
    assert got["remaining_life_text"] == "about 1.2 years (by age: expected life of 4 years reached, at most 2.5 years)"
    assert got["overdue_years"] is None


@pytest.mark.parametrize("rule", [MAIN, SOS, AgeLife(4.0, 5.0, 7.0), AgeLife(4.5, 5.0, 7.0)])
def test_life_by_age_falls_steadily_to_zero_where_the_age_alert_turns_critical(rule: AgeLife) -> None:
    # a dashboard sorted by remaining_life_years, worst first, puts the older of two alike first
    ages = [i / 100.0 for i in range(0, 900)]
    years = [rule.remaining(a) for a in ages]
    assert all(later <= earlier for earlier, later in zip(years, years[1:], strict=False))
    assert all(y < earlier for y, earlier, a in zip(years[1:], years, ages[1:], strict=False) if a <= rule.end)
    assert max(years) <= rule.typical
    assert all((y == 0.0) == (a >= rule.end) for a, y in zip(ages, years, strict=True))


def test_no_age_before_the_installation_date() -> None:
    note = "age unknown: the installation date 2030-01-01 is after the data (2025-01-06)"
    now, cap = life_verdicts([])
    got = remaining_life(None, None, "rested voltage", now, cap, CFG, MAIN, note)
    assert (got["remaining_life_years"], got["remaining_life_text"]) == (None, note)
    got = remaining_life(None, 0.8, "rested voltage", now, cap, CFG, MAIN, note)
    assert got["remaining_life_basis"] == "trend" and got["remaining_life_text"].endswith(note)


def test_span_words() -> None:
    assert [span(y) for y in (0.0, 0.03, 0.08, 0.45, 0.97, 2.94)] == [
        "less than a month", "less than a month", "about a month", "5 months", "1.0 years", "2.9 years"]


@pytest.mark.parametrize(("age", "sev", "words"), [
    (3.999, INFO, "opens in less than a month"),
    (3.6, INFO, "opens in about 5 months"),
    (6.99, WARNING, "the window closes within a month"),
    (6.5, WARNING, "expected remaining life at most 6 months"),
    (7.0, CRITICAL, "less than a month past the end of that window"),
    (7.4, CRITICAL, "5 months past the end of that window"),
    (8.6, CRITICAL, "1.6 years past the end of that window"),
])
def test_sos_age_messages_at_the_window_edges(age: float, sev: int, words: str) -> None:
    text = sos_age(sev, {"age": age, "life_min": 4.0, "life_max": 7.0, "installed": "2018-01-01", "chem": "nimh"})
    assert words in text and "0.0 years" not in text
