"""Implausible installation dates: a floor in the config, and no age before the installation."""

from __future__ import annotations

from typing import Any

import pytest

from battwatch import config, scenarios
from helpers import analyse_scenario


def summary_with(installed: str, name: str = "sos-long-park-normal") -> tuple[dict[str, Any], list[Any]]:
    """The summary at the end of a scenario, and the age alerts active then."""
    raw: dict[str, Any] = scenarios.scenario_config(name)
    for battery in ("main", "sos"):
        raw["battery"][battery]["installed"] = installed
    an, end = analyse_scenario(name, raw)
    return an.summary(end).to_json(), [s for s in an.engine.slots.values() if s.alert == "age" and s.level]


def test_an_installation_date_after_the_data_gives_no_age_and_says_why() -> None:
    # it read "remaining life: about 10.0 years (by age, expected life of 5 years)"
    summary, active_age = summary_with("2030-01-01")
    assert active_age == []
    for battery in ("main", "sos"):
        b = summary[battery]
        assert b["age_years"] is None and b["remaining_life_by_age_years"] is None, battery
        assert b["remaining_life_text"].endswith("age unknown: the installation date 2030-01-01 is after the data "
                                                 f"({b['rested_at'][:10]})"), b["remaining_life_text"]
        assert b["remaining_life_basis"] != "age"


@pytest.mark.parametrize(("installed", "ok"), [("1900-01-01", False), ("1989-12-31", False), ("1990-01-01", True),
                                               ("2030-01-01", True)])
def test_check_config_refuses_installation_dates_before_1990(installed: str, ok: bool) -> None:
    raw = {"vehicle": {"id": "car-1"}, "battery": {"main": {"installed": installed}, "sos": {"installed": installed}}}
    if ok:
        assert config.from_dict(raw, env={}).battery.sos.installed is not None
        return
    with pytest.raises(config.ConfigError) as e:
        config.from_dict(raw, env={})
    problems = e.value.problems
    assert len(problems) == 2, problems
    for battery in ("main", "sos"):
        assert any(p.startswith(f"battery.{battery}.installed: ") and "from 1990-01-01 on" in p for p in problems), problems
