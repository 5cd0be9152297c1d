"""A catalogue entry, and the plan helpers every family of scenarios builds with."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from battwatch.scenarios.backup import PackAgeing, PackParams
from battwatch.scenarios.climate import DAY_S, MILD, Climate
from battwatch.scenarios.engine import Plan, Windowing
from battwatch.scenarios.faults import Artefact, Fault
from battwatch.scenarios.lead_acid import AgmParams, MainAgeing
from battwatch.scenarios.usage import COMMUTE, HOUR_S, Drive, Usage, plan_drives, tidy

DEFAULT_START = 1_736_121_600.0  # 2025-01-06T00:00:00+00:00, a Monday

Builder = Callable[[random.Random, float], Plan]

# Installation dates assumed by the scenarios, relative to DEFAULT_START: below every age band
# (4 y) throughout, unless a scenario is about age.
MAIN_INSTALLED = "2023-03-15"
SOS_INSTALLED = "2022-06-01"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A catalogue entry: how to build the run and what the health analysis should make of it."""

    name: str
    build: Builder
    summary: str  # what happens, in a sentence or three
    alerts: tuple[str, ...]  # "battery:alert" meant to be raised; empty for a twin
    twin_of: tuple[str, ...] = ()  # for a false-alarm twin: the scenarios it mirrors
    main_installed: str = MAIN_INSTALLED
    sos_installed: str = SOS_INSTALLED
    alias_of: str | None = None  # same random streams as that scenario: the very same readings
    # [analysis] settings the run needs (an ignition-switched logger's silence threshold)
    analysis: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.alerts:
            meant = "Meant to raise: " + ", ".join(self.alerts) + "."
        else:
            meant = "Meant to raise: none: false-alarm twin of " + " and ".join(self.twin_of) + "."
        return f"{self.summary} {meant}"


def at(day0: float, day: float, hour: float = 0.0) -> float:
    """Unix time of ``hour`` o'clock (UTC) on schedule day ``day``."""
    return day0 + day * DAY_S + hour * HOUR_S


def commute(rng: random.Random, day0: float, days: Iterable[int], usage: Usage = COMMUTE) -> list[Drive]:
    return plan_drives(rng, day0, days, usage)


def plan_days(
    day0: float,
    days: int,
    drives: Iterable[Drive],
    climate: Climate,
    *,
    main: AgmParams | None = None,
    pack: PackParams | None = None,
    main_ageing: MainAgeing | None = None,
    pack_ageing: PackAgeing | None = None,
    faults: tuple[Fault, ...] = (),
    artefacts: tuple[Artefact, ...] = (),
    windowing: Windowing | None = None,
) -> Plan:
    """A plan of ``days`` days from ``day0``; unnamed batteries are healthy defaults."""
    return Plan(
        day0=day0,
        end=at(day0, days),
        drives=tuple(tidy(drives)),
        climate=climate,
        main=main or AgmParams(),
        pack=pack or PackParams(),
        main_ageing=main_ageing,
        pack_ageing=pack_ageing,
        faults=faults,
        artefacts=artefacts,
        windowing=windowing or Windowing(),
    )


def drives_on(drives: list[Drive], day0: float, day: int) -> list[Drive]:
    return [d for d in drives if at(day0, day) <= d.crank < at(day0, day + 1)]


def mild_week(rng: random.Random, day0: float) -> Plan:
    """A week of commuting in mild weather with the default batteries: the plan of every scenario
    whose point is in its settings (an installation date) or in what a healthy car does anyway."""
    return plan_days(day0, 7, commute(rng, day0, range(7)), MILD)
