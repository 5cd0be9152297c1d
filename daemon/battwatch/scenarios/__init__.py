"""Deterministic battery/vehicle scenarios: window Readings for tests, adc-sim and the demo."""

from __future__ import annotations

import random
from collections.abc import Iterator

from battwatch.core.model import Reading
from battwatch.scenarios.catalogue import CATALOGUE, DEFAULT_START, Scenario
from battwatch.scenarios.climate import DAY_S
from battwatch.scenarios.engine import Plan, simulate

__all__ = ["DEFAULT_START", "describe", "expected_alerts", "generate", "names", "plan", "scenario_config"]


def _get(name: str) -> Scenario:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(names())}") from None


def _key(name: str) -> str:
    """The name that seeds the random streams (an alias shares its original's)."""
    return _get(name).alias_of or name


def names() -> list[str]:
    """The catalogue's scenario names, sorted."""
    return sorted(CATALOGUE)


def describe(name: str) -> str:
    """One paragraph: what happens, and which alert the scenario is meant to raise."""
    return _get(name).describe()


def expected_alerts(name: str) -> tuple[str, ...]:
    """The alerts the scenario is meant to raise, as ``"battery:alert"``; empty for a twin."""
    return _get(name).alerts


def plan(name: str, *, seed: int = 0, start: float | None = None) -> Plan:
    """The inputs of a run (drives, climate, batteries, faults): handy to know when things happen."""
    s = _get(name)
    t = DEFAULT_START if start is None else float(start)
    day0 = (t // DAY_S) * DAY_S  # the schedule keeps clock times: day 0 is start's UTC midnight
    return s.build(random.Random(f"{_key(name)}/{seed}/schedule"), day0)


def generate(name: str, *, seed: int = 0, start: float | None = None) -> Iterator[Reading]:
    """The scenario's windows, in time order. The first window ends at ``start`` (Unix s).

    Same name, seed and start give the same readings, on any machine.
    """
    t = DEFAULT_START if start is None else float(start)
    return simulate(plan(name, seed=seed, start=t), t, f"{_key(name)}/{seed}")


def scenario_config(name: str) -> dict[str, object]:
    """The battery facts the scenario assumes, shaped like the ``[vehicle]``/``[battery]`` TOML
    (and ``[analysis]`` for the few scenarios that need a setting, such as an ignition-switched
    logger's silence threshold)."""
    s = _get(name)
    p = s.build(random.Random(0), DEFAULT_START)
    chem = p.pack.chemistry.name
    lifespan = [4, 8] if chem == "lifepo4" else [4, 7]  # the analysis' SOS age bands per chemistry
    out: dict[str, object] = {
        "vehicle": {"id": f"sim-{name}"},
        "battery": {
            "main": {"type": "agm", "installed": s.main_installed, "capacity_ah": round(p.main.capacity_ah)},
            "sos": {
                "chemistry": chem,
                "cells": p.pack.cells,
                "installed": s.sos_installed,
                "lifespan_years": lifespan,
            },
        },
    }
    if s.analysis:
        out["analysis"] = s.analysis
    return out
