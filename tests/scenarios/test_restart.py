"""A daemon restart in the middle of a scenario neither repeats nor forgets an alert."""

from __future__ import annotations

import json
from typing import Any

import pytest

from battwatch import config, scenarios
from battwatch.core.analysis import build_analyzer
from battwatch.core.model import AlertTransition, Reading


def alerts(outs: list[Any]) -> list[AlertTransition]:
    """The alert transitions among what the analysis hands out (its other events aside)."""
    return [o for o in outs if isinstance(o, AlertTransition)]


def run(readings: list[Reading], cfg: config.Config, cuts: tuple[int, ...]) -> list[AlertTransition]:
    an = build_analyzer(cfg)
    out: list[AlertTransition] = []
    for i, r in enumerate(readings):
        if i in cuts:
            # what the daemon does: save to the store (JSON), stop, start a fresh process, restore
            saved = json.loads(json.dumps(an.export_state()))
            an = build_analyzer(cfg)
            an.import_state(saved)
        out.extend(alerts(an.feed(r)))
    out.extend(alerts(an.tick(readings[-1].t)))
    return out


@pytest.mark.parametrize("name", [
    "main-parasitic-drain", "main-heavy-drain", "main-undercharging", "main-weak-crank", "main-overvoltage",
    "main-failed-start", "main-recharge",
    "sos-step-drop", "sos-self-discharge", "sos-low-voltage", "sensor-loose-wire", "sensor-stuck",
    "sensor-stuck-average-only", "sensor-stuck-running", "sos-low-voltage-recovery",
])
def test_restart_at_any_point_gives_the_same_transitions(name: str) -> None:
    cfg = config.from_dict(scenarios.scenario_config(name), env={})
    readings = list(scenarios.generate(name))
    whole = run(readings, cfg, ())
    assert whole, "the scenario raises something"
    n = len(readings)
    # cut before, during and after the interesting parts, including inside drives
    cuts = tuple(sorted({n // 7, n // 3, n // 2 + 17, (2 * n) // 3 + 5, n - 40}))
    assert run(readings, cfg, cuts) == whole
    # and cut right where each transition happened (the state saved just before it)
    at = tuple(i for i, r in enumerate(readings) if any(tr.t == r.t for tr in whole))
    assert run(readings, cfg, at) == whole


@pytest.mark.slow
@pytest.mark.parametrize("name", ["main-decline", "sos-decline", "sos-decline-critical"])
def test_restart_during_months_of_trend_keeps_the_trend(name: str) -> None:
    cfg = config.from_dict(scenarios.scenario_config(name), env={})
    readings = list(scenarios.generate(name))
    whole = run(readings, cfg, ())
    n = len(readings)
    assert run(readings, cfg, tuple(n * k // 9 for k in range(1, 9))) == whole


def test_saved_state_is_small() -> None:
    name = "main-decline"  # half a year of starts, daily values and drives
    cfg = config.from_dict(scenarios.scenario_config(name), env={})
    an = build_analyzer(cfg)
    for r in scenarios.generate(name):
        alerts(an.feed(r))
    size = len(json.dumps(an.export_state()))
    assert size < 150_000, size


def test_a_state_saved_before_this_version_still_restores_the_alerts() -> None:
    name = "sos-step-drop"
    cfg = config.from_dict(scenarios.scenario_config(name), env={})
    readings = list(scenarios.generate(name))
    an = build_analyzer(cfg)
    for r in readings[:-200]:
        alerts(an.feed(r))
    saved = json.loads(json.dumps(an.export_state()))
    # the shape the daemon saved before temperature correction and average-only stuck runs
    saved["sos"]["last_rest"] = saved["sos"]["last_rest"][:2]
    for w in ("w_main", "w_sos"):
        for key in ("why", "step", "run"):
            del saved[w][key]
        saved[w]["streak"] = saved[w]["streak"][:3]
    old = build_analyzer(cfg)
    old.import_state(saved)
    assert {s.alert for s in old.engine.active("sos")} == {"step_drop", "low_voltage"}
    out = [tr for r in readings[-200:] for tr in alerts(old.feed(r))]
    assert out == []  # nothing repeated, nothing forgotten
