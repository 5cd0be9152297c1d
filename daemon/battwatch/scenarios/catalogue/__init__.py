"""The named scenarios: one per alert kind, each with a false-alarm twin, plus the demo."""

from __future__ import annotations

from battwatch.scenarios.catalogue import main_battery, sensors, sos_pack, whole_car
from battwatch.scenarios.catalogue.entry import (
    DEFAULT_START,
    MAIN_INSTALLED,
    SOS_INSTALLED,
    Scenario,
    at,
    commute,
    drives_on,
    plan_days,
)
from battwatch.scenarios.catalogue.main_battery import WORN, with_restarts
from battwatch.scenarios.catalogue.sos_pack import REPLACED_SOS_AT

__all__ = [
    "CATALOGUE", "DEFAULT_START", "MAIN_INSTALLED", "REPLACED_SOS_AT", "SOS_INSTALLED", "WORN", "Scenario",
    "at", "commute", "drives_on", "plan_days", "with_restarts",
]

CATALOGUE: dict[str, Scenario] = {
    s.name: s for family in (main_battery, sos_pack, sensors, whole_car) for s in family.SCENARIOS
}
