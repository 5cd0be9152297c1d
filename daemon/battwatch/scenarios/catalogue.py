"""The named scenarios: one per alert kind, each with a false-alarm twin, plus the demo."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from battwatch.scenarios.backup import LI_ION, LIFEPO4, PackAgeing, PackParams
from battwatch.scenarios.climate import COLD_WINTER, DAY_S, HOT_AND_COLD, HOT_SOUTH, MILD, TEMPERATE, Climate
from battwatch.scenarios.engine import Plan, Windowing
from battwatch.scenarios.faults import Artefact, Channel, Fault
from battwatch.scenarios.lead_acid import AgmParams, MainAgeing
from battwatch.scenarios.usage import COMMUTE, HOUR_S, MINUTE_S, SHORT_TRIPS, Drive, Usage, plan_drives, tidy

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


def _plan(
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


def _drives_on(drives: list[Drive], day0: float, day: int) -> list[Drive]:
    return [d for d in drives if at(day0, day) <= d.crank < at(day0, day + 1)]


# A battery already worn when the run starts (progress is 1 from 1970 on): internal resistance
# +55 % but still charging to ~90 %, so its cranks are valid load tests (SoC ≥ 75 %, §2.4).
WORN = MainAgeing(
    start=0.0, end=0.0, r_factor=1.55, capacity_factor=0.75, soc_ceiling=0.9, self_discharge_factor=2.0
)


# -- 12 V battery ------------------------------------------------------------------------------


def main_healthy_week_park(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, [0, 7])
    return _plan(day0, 8, drives, MILD)


def main_low_voltage(rng: random.Random, day0: float) -> Plan:
    # Winter school runs: short drives and long key-on waits with blower, heated seats and
    # lights on (16 A); the car starts the run somewhat under-charged already (80 %).
    main = AgmParams(awake_current_a=16.0, initial_soc=0.80)
    return _plan(day0, 18, commute(rng, day0, range(18), SHORT_TRIPS), TEMPERATE, main=main)


def main_parasitic_drain(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, [0, 4])
    # A module that never goes to sleep: 400 mA on top of the normal closed-circuit current.
    return _plan(day0, 5, drives, MILD, faults=(Fault("drain", day0, value=0.40),))


def main_heavy_drain(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, [0])
    # From Monday evening's key-off an amplifier (or a light) stays on: 1.2 A on top of the
    # normal closed-circuit current, on a 70 Ah battery (F48: 70-90 Ah). The car stands for
    # the rest of the run, two days in all: the battery passes half charge about 19 h after
    # key-off and is about a quarter charged by the end.
    main = AgmParams(capacity_ah=70.0)
    key_off = drives[-1].key_off
    return _plan(day0, 2, drives, MILD, main=main, faults=(Fault("drain", key_off, value=1.20),))


def main_weak_crank(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(7))
    return _plan(day0, 7, drives, TEMPERATE, main_ageing=WORN)


def main_healthy_winter_cranks(rng: random.Random, day0: float) -> Plan:
    return _plan(day0, 7, commute(rng, day0, range(7)), COLD_WINTER)


def main_undercharging(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(3))
    # From day 1 the alternator delivers at most 22 A against ~28 A of running load.
    return _plan(day0, 3, drives, MILD, faults=(Fault("weak-alternator", at(day0, 1), value=22.0),))


def main_smart_alternator(rng: random.Random, day0: float) -> Plan:
    return _plan(day0, 7, commute(rng, day0, range(7)), MILD)


def main_overvoltage(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(3))
    return _plan(day0, 3, drives, MILD, faults=(Fault("regulator", at(day0, 1), value=15.5),))


def main_load_dump_spike(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(3))
    first = _drives_on(drives, day0, 1)[0]
    spike = Fault("load-dump", first.crank + 12 * MINUTE_S + 30.0, value=15.7)
    return _plan(day0, 3, drives, MILD, faults=(spike,))


def main_decline(rng: random.Random, day0: float) -> Plan:
    days = 183
    ageing = MainAgeing(start=day0, end=at(day0, days), r_factor=1.75, shape=2.0)
    return _plan(day0, days, commute(rng, day0, range(days)), TEMPERATE, main_ageing=ageing)


def main_crank_critical(rng: random.Random, day0: float) -> Plan:
    # A battery worn further than main-weak-crank's (internal resistance +85 %) in a cold
    # winter: the very first start sinks below 8.5 V.
    worn_out = replace(WORN, r_factor=1.85)
    return _plan(day0, 4, commute(rng, day0, range(4)), COLD_WINTER, main_ageing=worn_out)


def main_failed_start(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(7))
    first = _drives_on(drives, day0, 2)[0]
    # On day 2 the engine does not catch on the first attempt (4 s of cranking); the driver
    # tries again 45 s later and it starts. The key-on windows are whole minutes before the
    # start, so the failed attempt has a window of its own.
    retried = replace(first, failed_cranks=(first.crank - 45.0,))
    return _plan(day0, 7, [retried if d is first else d for d in drives], TEMPERATE)


def with_restarts(rng: random.Random, d: Drive) -> Drive:
    """A drive with BMW MSA stop-start: after 5 min of warm-up, a stop every 2-6 min.

    Each stop lasts 15-35 s and ends with a warm restart inside one 60-s window (the
    simulator's running windows start at the crank, on whole minutes from it).
    """
    stop = rng.uniform(15.0, 35.0)
    restarts = []
    minute = 5 + rng.randint(0, 3)
    last = int((d.stop - d.crank) // MINUTE_S) - 2
    while minute < last:
        restarts.append(d.crank + minute * MINUTE_S + rng.uniform(stop + 5.0, 58.0))
        minute += rng.randint(2, 6)
    return replace(d, restarts=tuple(restarts), restart_stop_s=stop)


def main_stop_start(rng: random.Random, day0: float) -> Plan:
    drives = [with_restarts(rng, d) for d in commute(rng, day0, range(14))]
    return _plan(day0, 14, drives, TEMPERATE)


def main_rested_decline(rng: random.Random, day0: float) -> Plan:
    # Sulfation only: the charge the battery can take falls 0.4 % a day (4 mV of rested voltage
    # a day on the AGM table once it is below the usual ~90 %); its resistance stays as new.
    days = 160
    ageing = MainAgeing(start=day0, end=at(day0, days), r_factor=1.0, capacity_factor=1.0,
                        soc_ceiling=1.0 - 0.004 * days, self_discharge_factor=1.0, shape=1.0)
    return _plan(day0, days, commute(rng, day0, range(days)), MILD, main_ageing=ageing)


def main_recharge(rng: random.Random, day0: float) -> Plan:
    # The winter school runs of main-low-voltage from a charge already down to 55 %, then two
    # long drives recharge the battery: an hour on day 13, three hours on day 16.
    main = AgmParams(awake_current_a=16.0, initial_soc=0.55)
    drives = commute(rng, day0, range(11), SHORT_TRIPS)

    def trip(day: int, minutes: float) -> Drive:
        crank = at(day0, day, 10.0)
        return Drive(crank - 2 * MINUTE_S, crank, crank + minutes * MINUTE_S, crank + (minutes + 3) * MINUTE_S)

    return _plan(day0, 19, [*drives, trip(13, 60.0), trip(16, 180.0)], TEMPERATE, main=main)


def main_ignition_switched(rng: random.Random, day0: float) -> Plan:
    every_day = Usage(weekend_outing_prob=1.0)  # never two days without a drive: no silent sensor
    plan = _plan(day0, 14, commute(rng, day0, range(14), every_day), MILD)
    return replace(plan, windowing=Windowing(ignition_only=True))


def long_healthy_year(rng: random.Random, day0: float) -> Plan:
    holiday = range(201, 215)  # two weeks parked in late July / early August
    days = [d for d in range(365) if d not in holiday]
    return _plan(day0, 365, commute(rng, day0, days), TEMPERATE)


# -- SOS backup pack ---------------------------------------------------------------------------


def sos_low_voltage(rng: random.Random, day0: float) -> Plan:
    # A dying pack (25 % of its capacity, 7x the self-discharge) still looks fine while the car
    # is driven daily and runs down within about a week once it is parked.
    pack = PackParams(capacity_factor=0.25, self_discharge_factor=7.0)
    # Parked for two weeks: the pack is empty after about ten days in any weather the seeds
    # draw (a cool spell slows its self-discharge by days), and stays empty to the end.
    return _plan(day0, 20, commute(rng, day0, range(5)), MILD, pack=pack)


def sos_low_voltage_recovery(rng: random.Random, day0: float) -> Plan:
    # The dying pack of sos-low-voltage, parked for two weeks until it is empty, then driven
    # daily again: the telematics unit recharges it a little more each drive than it leaks.
    pack = PackParams(capacity_factor=0.25, self_discharge_factor=7.0)
    days = [*range(5), *range(19, 30)]
    return _plan(day0, 30, commute(rng, day0, days), MILD, pack=pack)


def sos_decline_critical(rng: random.Random, day0: float) -> Plan:
    # A pack whose rested voltage sags 10 mV a day (0.3 V per cell over 120 days [ENG]: cells
    # drying out), with some capacity fade: the trend reaches the critical level within 30
    # days long before the level itself does.
    days = 112
    ageing = PackAgeing(start=day0, end=at(day0, 120), capacity_factor=0.8, self_discharge_factor=1.0,
                        depression_v_per_cell=0.3)
    return _plan(day0, days, commute(rng, day0, range(days)), MILD, pack_ageing=ageing)


def sos_replaced(rng: random.Random, day0: float) -> Plan:
    # The failing pack of sos-decline-critical, replaced at a garage on day 78 at 10:00 (the
    # car is driven there and home again) by a new, healthy pack; then three weeks of commuting.
    days = 100
    ageing = PackAgeing(start=day0, end=at(day0, 120), capacity_factor=0.8, self_discharge_factor=1.0,
                        depression_v_per_cell=0.3)
    swap = Fault("new-pack", at(day0, 78, 10.0))
    return _plan(day0, days, commute(rng, day0, range(days)), MILD, pack_ageing=ageing, faults=(swap,))


REPLACED_SOS_AT = DEFAULT_START + 78 * DAY_S + 10 * HOUR_S  # sos-replaced: when the garage fits the new pack


def sos_long_park_normal(rng: random.Random, day0: float) -> Plan:
    days = [*range(14), *range(28, 31)]
    return _plan(day0, 31, commute(rng, day0, days), MILD)


def sos_step_drop(rng: random.Random, day0: float) -> Plan:
    short = Fault("shorted-cell", at(day0, 9, 11.0))
    return _plan(day0, 14, commute(rng, day0, range(14)), MILD, faults=(short,))


def sos_self_discharge(rng: random.Random, day0: float) -> Plan:
    leak = Fault("leaky-pack", at(day0, 21), value=4.0)
    return _plan(day0, 42, commute(rng, day0, range(42)), MILD, faults=(leak,))


def sos_decline(rng: random.Random, day0: float) -> Plan:
    days = 243  # about eight months
    ageing = PackAgeing(start=day0, end=at(day0, days))
    return _plan(day0, days, commute(rng, day0, range(days)), TEMPERATE, pack_ageing=ageing)


def sos_liion_long_park(rng: random.Random, day0: float) -> Plan:
    pack = PackParams(chemistry=LI_ION, cells=1, capacity_mah=1000.0, charge_current_ma=200.0)
    days = [*range(14), *range(28, 31)]
    return _plan(day0, 31, commute(rng, day0, days), MILD, pack=pack)


def sos_lifepo4_long_park(rng: random.Random, day0: float) -> Plan:
    pack = PackParams(chemistry=LIFEPO4, cells=1, capacity_mah=1000.0, charge_current_ma=200.0)
    days = [*range(14), *range(28, 31)]
    return _plan(day0, 31, commute(rng, day0, days), MILD, pack=pack)


def sos_hot_and_cold(rng: random.Random, day0: float) -> Plan:
    # A year inland: a week parked in the February cold and two weeks in the July heat, so the
    # pack's rested voltage and its self-discharge are seen at both ends of the year.
    parked = {*range(35, 42), *range(190, 204)}
    days = [d for d in range(365) if d not in parked]
    return _plan(day0, 365, commute(rng, day0, days), HOT_AND_COLD)


# -- sensor and ADC artefacts (healthy batteries) ----------------------------------------------


def adc_glitches(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(14))
    glitches: list[Artefact] = []
    cranks = [d.crank for d in drives]
    for i in range(12):
        t = day0 + (0.5 + i * 13.0 / 12.0 + rng.uniform(0.0, 0.8)) * DAY_S  # at least ~7 h apart
        while any(abs(t - c) < 3 * MINUTE_S for c in cranks):
            t += 10 * MINUTE_S  # a 0 V sample in a crank window would look like a failed start
        channel: Channel = "main" if i % 2 == 0 else "sos"
        if i % 4 < 2:
            glitches.append(Artefact("zero", channel, t))
        else:
            peak = rng.uniform(15.5, 19.0) if channel == "main" else rng.uniform(6.5, 8.0)
            glitches.append(Artefact("spike", channel, t, value=peak))
    return _plan(day0, 14, drives, MILD, artefacts=tuple(glitches))


def sensor_loose_wire(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(7))
    evening = _drives_on(drives, day0, 2)[-1]
    morning = _drives_on(drives, day0, 4)[0]
    loose = (
        Artefact("loose-wire", "main", evening.crank + 5 * MINUTE_S, evening.crank + 25 * MINUTE_S),
        Artefact("loose-wire", "sos", morning.crank + 3 * MINUTE_S, morning.crank + 20 * MINUTE_S),
    )
    return _plan(day0, 7, drives, MILD, artefacts=loose)


def sensor_open_wire(rng: random.Random, day0: float) -> Plan:
    opened = Artefact("open-wire", "sos", at(day0, 2, 14.0))
    return _plan(day0, 5, commute(rng, day0, range(5)), MILD, artefacts=(opened,))


def sensor_stuck(rng: random.Random, day0: float) -> Plan:
    stuck = Artefact("stuck", "both", at(day0, 2, 6.0), at(day0, 3, 20.0))
    return _plan(day0, 5, commute(rng, day0, range(5)), MILD, artefacts=(stuck,))


# A logger that writes the average only (no window minimum and maximum), one row per window.
AVERAGE_ONLY = Windowing(extremes=False)


def sensor_stuck_average_only(rng: random.Random, day0: float) -> Plan:
    return replace(sensor_stuck(rng, day0), windowing=AVERAGE_ONLY)


def sensor_stuck_running(rng: random.Random, day0: float) -> Plan:
    # Fast mode: 1-s rows while the car is awake or running, averages only. Drives of 45-60
    # min; on the day-2 morning drive the 12 V channel freezes for 30 minutes.
    drives = commute(rng, day0, range(5), replace(COMMUTE, drive_min=(45.0, 60.0)))
    first = _drives_on(drives, day0, 2)[0]
    stuck = Artefact("stuck", "main", first.crank + 5 * MINUTE_S, first.crank + 35 * MINUTE_S)
    return _plan(day0, 5, drives, MILD, artefacts=(stuck,),
                 windowing=Windowing(drive_window_s=1.0, extremes=False))


def quiet_park_coarse_adc(rng: random.Random, day0: float) -> Plan:
    # A logger printing 10 mV steps, averages only, and a LiFePO4 pack that barely moves while
    # parked: both channels repeat one value for hours or days, and nothing is frozen.
    pack = PackParams(chemistry=LIFEPO4, cells=1, capacity_mah=1000.0, charge_current_ma=200.0)
    return _plan(day0, 8, commute(rng, day0, [0, 7]), MILD, pack=pack,
                 windowing=Windowing(resolution_v=0.01, extremes=False))


def sensor_silent(rng: random.Random, day0: float) -> Plan:
    silent = Artefact("silent", "both", at(day0, 2, 10.0), at(day0, 3, 9.0))
    return _plan(day0, 5, commute(rng, day0, range(5)), MILD, artefacts=(silent,))


def sensor_out_of_range(rng: random.Random, day0: float) -> Plan:
    bad = (
        Artefact("out-of-range", "main", at(day0, 2, 9.0), at(day0, 2, 11.0), value=25.0),
        Artefact("out-of-range", "sos", at(day0, 3, 12.0), at(day0, 3, 13.0), value=-0.5),
    )
    return _plan(day0, 5, commute(rng, day0, range(5)), MILD, artefacts=bad)


def age_old_batteries(rng: random.Random, day0: float) -> Plan:
    return _plan(day0, 7, commute(rng, day0, range(7)), MILD)


def sos_age_overdue(rng: random.Random, day0: float) -> Plan:
    return _plan(day0, 7, commute(rng, day0, range(7)), MILD)


# -- the catalogue -----------------------------------------------------------------------------

def sos_hot_long_park(rng: random.Random, day0: float) -> Plan:
    # The car stood before the run, so the healthy pack starts half charged and its first parks
    # sit on the flat middle of the NiMH curve, where a % lost moves the voltage little. Five
    # days of commuting charge it; six weeks parked in a southern summer (days 5-48) take about
    # 40 % of its charge (20 %/month at 20 °C, about 1.4x that at 24 °C [SRC 9]); two weeks of
    # driving top it up again, and full, it loses volts several times faster per day.
    pack = PackParams(initial_soc=0.5)
    # The 12 V side is a twin too: a 90 Ah battery (F48: 70-90 Ah) in a car that sleeps at
    # 20 mA after its first days parked (BMW sheds loads in a long park; limit < 80 mA
    # [SRC 15, 16]) keeps above 60 % through the six weeks.
    main = AgmParams(capacity_ah=90.0, sleep_current_a=0.020)
    days = [*range(5), *range(49, 63)]
    return _plan(day0, 63, commute(rng, day0, days), HOT_SOUTH, main=main, pack=pack)


_TWIN_WEEK = ("main-low-voltage", "main-parasitic-drain")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "main-low-voltage", main_low_voltage,
        "Eighteen winter days of short trips (5-9 min) with long key-on waits (heater, 16 A): the "
        "drives never replace what the waits take, so the rested 12 V voltage sinks ~45 mV a day.",
        ("main:low_voltage",),
    ),
    Scenario(
        "main-healthy-week-park", main_healthy_week_park,
        "A healthy car in mild weather, driven on Monday, parked for a week, driven again: the "
        "rested 12 V voltage loses only what 35 mA takes and stays above 12.5 V.",
        (), _TWIN_WEEK,
    ),
    Scenario(
        "main-weak-crank", main_weak_crank,
        "A week of commuting in a temperate winter on a worn 12 V battery (internal resistance "
        "+55 %, 75 % capacity, still well charged): crank minima of about 8.3-9.2 V around 0 °C.",
        ("main:weak_cranking",), main_installed="2021-09-01",
    ),
    Scenario(
        "main-healthy-winter-cranks", main_healthy_winter_cranks,
        "A week of commuting in a cold winter (mornings near -10 °C) on a healthy battery: crank "
        "minima of about 9.3-10.0 V, above the temperature-adjusted limit.",
        (), ("main-weak-crank",),
    ),
    Scenario(
        "main-undercharging", main_undercharging,
        "Commuting in mild weather; from day 1 the alternator delivers at most 22 A, less than "
        "the running load, so drive averages sit at about 12.4-12.6 V with no charging bursts.",
        ("main:undercharging",),
    ),
    Scenario(
        "main-smart-alternator", main_smart_alternator,
        "A week of commuting with healthy BMW intelligent charging: 12.5-13.0 V most of the "
        "time with bursts to 14.4-14.8 V, drive averages 13.0-13.6 V.",
        (), ("main-undercharging",),
    ),
    Scenario(
        "main-overvoltage", main_overvoltage,
        "Commuting in mild weather; from day 1 a regulator fault holds about 15.5 V (15.2-15.8 V) "
        "for every minute the engine runs.",
        ("main:overvoltage",),
    ),
    Scenario(
        "main-load-dump-spike", main_load_dump_spike,
        "Three days of healthy commuting with one 1-second load-dump spike to 15.7 V on day 1; "
        "it shows only in one window's maximum, the averages stay normal.",
        (), ("main-overvoltage",),
    ),
    Scenario(
        "main-parasitic-drain", main_parasitic_drain,
        "A car in mild weather with a module that never sleeps (400 mA more than the normal 35 "
        "mA), parked for four days after Monday's drives: the rested voltage falls ~65 mV per 12 h.",
        ("main:parasitic_drain", "main:low_voltage"),
    ),
    Scenario(
        "main-heavy-drain", main_heavy_drain,
        "A car in mild weather, driven on Monday; from the evening key-off something draws 1.2 A "
        "more than the normal 35 mA from its 70 Ah battery and the car stands for the rest of the "
        "two days: the rested voltage falls ~20 mV an hour, through half charge ~19 h after key-off.",
        ("main:parasitic_drain", "main:low_voltage"),
    ),
    Scenario(
        "main-decline", main_decline,
        "Six months of commuting from January on a 12 V battery that wears out, slowly at first "
        "(internal resistance to 1.75x, capacity and charge ceiling to 70 %): crank dips deepen "
        "and the rested voltage falls; cranks fall under the load-test limit in the last two "
        "months, when the battery rests below 75 % charged, so they are no load test; in the last "
        "weeks two in a row fall more than 0.3 V under it at 60-75 % charged, more than that "
        "charge explains: charge and re-test.",
        ("main:decline",), main_installed="2021-10-01",
    ),
    Scenario(
        "main-crank-critical", main_crank_critical,
        "Four days of commuting in a cold winter on a 12 V battery worn further than in "
        "main-weak-crank (internal resistance +85 %, still well charged): the very first start "
        "pulls it to 7.8 V at -8 °C, below the 8.5 V critical level, and later starts stay at "
        "7.4-8.3 V.",
        ("main:weak_cranking",), main_installed="2021-09-01",
    ),
    Scenario(
        "main-failed-start", main_failed_start,
        "A healthy week of commuting in a temperate winter; on the morning of day 2 the engine "
        "does not catch on the first attempt (4 s of cranking down to 9.9 V, no charging after "
        "it) and starts on a second attempt 45 s later.",
        ("main:weak_cranking",),
    ),
    Scenario(
        "main-stop-start", main_stop_start,
        "Two weeks of commuting in a temperate winter with BMW automatic stop-start: after five "
        "minutes of each drive the engine stops for 15-35 s every 2-6 min and restarts warm "
        "(160 restarts with minima of 10.6-11.5 V, charging on the braking before each stop).",
        (), ("main-weak-crank", "main-failed-start"),
    ),
    Scenario(
        "main-rested-decline", main_rested_decline,
        "Five months of commuting in mild weather on a 12 V battery that sulfates: the charge it "
        "can take falls 0.4 % a day while its resistance stays as new, so the rested voltage "
        "(25 °C) slides about 4 mV a day from 12.72 V to 12.15 V; start dips barely change.",
        ("main:decline", "main:low_voltage"),
    ),
    Scenario(
        "main-recharge", main_recharge,
        "Eleven winter days of short trips with 16 A key-on waits from a charge of 55 % take the "
        "rested 12 V voltage below 12.00 V; an hour's drive on day 13 lifts it into the warning "
        "band and a three-hour trip on day 16 recharges it fully.",
        ("main:low_voltage",),
    ),
    Scenario(
        "main-ignition-switched", main_ignition_switched,
        "Two weeks of healthy commuting (an outing every weekend day) logged by a Pi on an "
        "ignition-switched feed: windows only from 90 s after key-on (so a quick start is missed) "
        "to key-off, a gap every night and between outings; configured with silent_gap_s = 2 days.",
        (), ("main-undercharging", "sensor-silent"),
        analysis={"sensor": {"silent_gap_s": 172800.0}},
    ),
    Scenario(
        "long-healthy-year", long_healthy_year,
        "A full year of commuting in a temperate climate with a two-week summer holiday park; "
        "both batteries healthy, seasons change the crank dips and rested voltages only.",
        (), ("main-decline", "sos-decline"),
    ),
    Scenario(
        "sos-low-voltage", sos_low_voltage,
        "A dying NiMH backup pack (25 % capacity, 7x self-discharge) is kept up by a week of "
        "daily drives, then the car is parked for two weeks and the pack runs down past "
        "1.22 V and then 1.10 V per cell.",
        ("sos:low_voltage",),
    ),
    Scenario(
        "sos-low-voltage-recovery", sos_low_voltage_recovery,
        "The dying NiMH pack of sos-low-voltage: driven for a week, parked for two weeks until "
        "it is empty, then driven daily again; each day's drives charge it more than it leaks, "
        "so the low-voltage alert comes down from critical to warning and then clears.",
        ("sos:low_voltage",),
    ),
    Scenario(
        "sos-decline-critical", sos_decline_critical,
        "Four months of commuting in mild weather with a NiMH pack whose rested voltage sags "
        "about 10 mV a day: the 90-day trend projects the warning level, then the critical level "
        "within 30 days, weeks before the pack gets there.",
        ("sos:decline", "sos:low_voltage"),
    ),
    Scenario(
        "sos-replaced", sos_replaced,
        "The failing pack of sos-decline-critical, replaced on day 78 by a healthy one, then three "
        "weeks of commuting. Told with `battwatch replaced`, every SOS alert clears then; untold, "
        "the analysis only hints that the pack looks new.",
        ("sos:decline", "sos:low_voltage"),
    ),
    Scenario(
        "sos-long-park-normal", sos_long_park_normal,
        "Two weeks of commuting, a two-week park in mild weather, then three days of driving: "
        "the NiMH pack self-discharges at its normal ~0.4-0.7 %/day and stays well charged.",
        (), ("sos-low-voltage", "sos-self-discharge"),
    ),
    Scenario(
        "sos-step-drop", sos_step_drop,
        "Two weeks of commuting; on day 9 at 11:00, while parked, one NiMH cell shorts and the "
        "pack voltage steps down by one cell (~1.3 V rested, ~1.45 V on charge) for good.",
        ("sos:step_drop", "sos:low_voltage"),
    ),
    Scenario(
        "sos-self-discharge", sos_self_discharge,
        "Six weeks of commuting in mild weather; from day 21 the NiMH pack leaks 4x its "
        "normal self-discharge, so its rested voltage falls several times faster while parked.",
        ("sos:self_discharge",),
    ),
    Scenario(
        "sos-decline", sos_decline,
        "Eight months of daily use from January whose NiMH backup pack wears out steadily "
        "(capacity to 70 %, self-discharge 2.5x, rested voltage 110 mV per cell lower): the "
        "nightly pack voltage slides from 5.33 V to ~4.92 V and a decline warning becomes due "
        "around day 180.",
        ("sos:decline",), sos_installed="2021-10-15",
    ),
    Scenario(
        "demo", sos_decline,
        "The demo: eight months of daily use whose NiMH backup pack declines (same run as "
        "sos-decline).",
        ("sos:decline",), sos_installed="2021-10-15", alias_of="sos-decline",
    ),
    Scenario(
        "sos-liion-long-park", sos_liion_long_park,
        "A car with a single-cell Li-ion backup pack: two weeks of commuting, a two-week park, "
        "three days of driving; ~4.15 V on charge, ~4.05 V rested, barely any self-discharge.",
        (), ("sos-low-voltage",),
    ),
    Scenario(
        "sos-lifepo4-long-park", sos_lifepo4_long_park,
        "A car with a single-cell LiFePO4 backup pack: two weeks of commuting, a two-week park, "
        "three days of driving; ~3.6 V on charge, 3.3-3.4 V rested.",
        (), ("sos-low-voltage",),
    ),
    Scenario(
        "sos-hot-and-cold", sos_hot_and_cold,
        "A healthy NiMH pack through a year inland: nights of -15 °C in a cold winter, afternoons "
        "of 34 °C in a hot summer, a week parked in February and two weeks in July. Its rested "
        "voltage follows the temperature (0.5 mV per cell per °C) and its self-discharge doubles "
        "per 10 °C; neither is wear.",
        (), ("sos-decline", "sos-self-discharge", "sos-low-voltage"), sos_installed="2024-03-01",
    ),
    Scenario(
        "sos-hot-long-park", sos_hot_long_park,
        "A healthy NiMH pack in a hot southern summer (about 24 °C on average, afternoons of 30 °C), "
        "half charged at the start: five days of commuting, six weeks parked (days 5-48), two weeks "
        "of driving. It loses about 40 % of its charge in the heat and the drives recharge it; full, "
        "its rested voltage falls several times faster per day than on the flat middle of its curve "
        "where its first parks were. Normal NiMH self-discharge, not a leak or a dying pack.",
        (), ("sos-self-discharge", "sos-low-voltage"),
    ),
    Scenario(
        "adc-glitches", adc_glitches,
        "Two weeks of healthy commuting with twelve single-sample ADC glitches, alternating "
        "channels: a 0 V minimum or a spike maximum in one window each, averages barely moved.",
        (), ("sos-step-drop", "sensor-loose-wire"),
    ),
    Scenario(
        "sensor-loose-wire", sensor_loose_wire,
        "A week of healthy commuting; a loose 12 V tap reads 0 V on and off for 20 minutes of "
        "the day-2 evening drive, and the SOS tap does the same on the day-4 morning drive.",
        ("main:sensor_fault", "sos:sensor_fault"),
    ),
    Scenario(
        "sensor-open-wire", sensor_open_wire,
        "Healthy batteries; on day 2 at 14:00 the SOS tap comes off and the channel reads "
        "0-0.2 V (an open input) until the end.",
        ("sos:sensor_fault",),
    ),
    Scenario(
        "sensor-stuck", sensor_stuck,
        "Healthy batteries; from day 2 06:00 to day 3 20:00 the ADC repeats its last values "
        "exactly on both channels through drives and parks, while the temperature still moves.",
        ("main:sensor_fault", "sos:sensor_fault"),
    ),
    Scenario(
        "sensor-stuck-average-only", sensor_stuck_average_only,
        "Like sensor-stuck, logged without window extremes (averages only): from day 2 06:00 "
        "to day 3 20:00 both channels repeat one value through drives and parks, and there is "
        "no noise to judge, only what the car did meanwhile.",
        ("main:sensor_fault", "sos:sensor_fault"),
    ),
    Scenario(
        "sensor-stuck-running", sensor_stuck_running,
        "A healthy car logged in fast mode (1-s rows while awake, averages only), drives of "
        "45-60 min; on the day-2 morning drive the 12 V channel repeats one charging voltage "
        "for 30 minutes while the engine runs.",
        ("main:sensor_fault",),
    ),
    Scenario(
        "quiet-park-coarse-adc", quiet_park_coarse_adc,
        "A healthy car with a LiFePO4 backup cell, logged in 10 mV steps without window extremes: "
        "driven on Monday, parked for a week, driven again. Both channels repeat one value for "
        "hours, the pack for days, because nothing moves them.",
        (), ("sensor-stuck-average-only", "sensor-stuck-running"),
    ),
    Scenario(
        "sensor-silent", sensor_silent,
        "Healthy batteries; no readings at all from day 2 10:00 to day 3 09:00 (a gap in time), "
        "then the windows resume.",
        ("main:sensor_fault", "sos:sensor_fault"),
    ),
    Scenario(
        "sensor-out-of-range", sensor_out_of_range,
        "Healthy batteries; the 12 V channel reads a saturated 25 V on day 2 09:00-11:00 and the "
        "SOS channel reads -0.5 V on day 3 12:00-13:00.",
        ("main:sensor_fault", "sos:sensor_fault"),
    ),
    Scenario(
        "sos-age-overdue", sos_age_overdue,
        "A week of healthy commuting with an SOS pack installed on 2018-01-10: 6.99 years old at "
        "the start, inside its 4-7 year window, and past its end on day 4.",
        ("sos:age",), sos_installed="2018-01-10",
    ),
    Scenario(
        "age-old-batteries", age_old_batteries,
        "A week of healthy commuting; the 12 V battery was installed in October 2018 and the "
        "SOS pack in March 2019, so both are past five years.",
        ("main:age", "sos:age"), main_installed="2018-10-01", sos_installed="2019-03-01",
    ),
)

CATALOGUE: dict[str, Scenario] = {s.name: s for s in SCENARIOS}
