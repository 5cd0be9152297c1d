"""Scenarios about both batteries at once: a healthy year, batteries past their age."""

from __future__ import annotations

import random

from battwatch.scenarios.catalogue.entry import Scenario, commute, mild_week, plan_days
from battwatch.scenarios.climate import TEMPERATE
from battwatch.scenarios.engine import Plan


def long_healthy_year(rng: random.Random, day0: float) -> Plan:
    holiday = range(201, 215)  # two weeks parked in late July / early August
    days = [d for d in range(365) if d not in holiday]
    return plan_days(day0, 365, commute(rng, day0, days), TEMPERATE)



SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "long-healthy-year", long_healthy_year,
        "A full year of commuting in a temperate climate with a two-week summer holiday park; "
        "both batteries healthy, seasons change the crank dips and rested voltages only.",
        (), ("main-decline", "sos-decline"),
    ),
    Scenario(
        "age-old-batteries", mild_week,
        "A week of healthy commuting; the 12 V battery was installed in October 2018 and the "
        "SOS pack in March 2019, so both are past five years.",
        ("main:age", "sos:age"), main_installed="2018-10-01", sos_installed="2019-03-01",
    ),
)
