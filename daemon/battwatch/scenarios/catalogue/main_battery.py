"""The 12 V battery's scenarios: rest, drains, starts, charging, decline."""

from __future__ import annotations

import random
from dataclasses import replace

from battwatch.scenarios.catalogue.entry import Scenario, at, commute, drives_on, mild_week, plan_days
from battwatch.scenarios.climate import COLD_WINTER, MILD, TEMPERATE
from battwatch.scenarios.engine import Plan, Windowing
from battwatch.scenarios.faults import Fault
from battwatch.scenarios.lead_acid import AgmParams, MainAgeing
from battwatch.scenarios.usage import MINUTE_S, SHORT_TRIPS, Drive, Usage

# A battery already worn when the run starts (progress is 1 from 1970 on): internal resistance
# +55 % but still charging to ~90 %, so its cranks are valid load tests (SoC ≥ 75 %, §2.4).
WORN = MainAgeing(
    start=0.0, end=0.0, r_factor=1.55, capacity_factor=0.75, soc_ceiling=0.9, self_discharge_factor=2.0
)


def main_healthy_week_park(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, [0, 7])
    return plan_days(day0, 8, drives, MILD)


def main_low_voltage(rng: random.Random, day0: float) -> Plan:
    # Winter school runs: short drives and long key-on waits with blower, heated seats and
    # lights on (16 A); the car starts the run somewhat under-charged already (80 %).
    main = AgmParams(awake_current_a=16.0, initial_soc=0.80)
    return plan_days(day0, 18, commute(rng, day0, range(18), SHORT_TRIPS), TEMPERATE, main=main)


def main_parasitic_drain(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, [0, 4])
    # A module that never goes to sleep: 400 mA on top of the normal closed-circuit current.
    return plan_days(day0, 5, drives, MILD, faults=(Fault("drain", day0, value=0.40),))


def main_heavy_drain(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, [0])
    # From Monday evening's key-off an amplifier (or a light) stays on: 1.2 A on top of the
    # normal closed-circuit current, on a 70 Ah battery (F48: 70-90 Ah). The car stands for
    # the rest of the run, two days in all: the battery passes half charge about 19 h after
    # key-off and is about a quarter charged by the end.
    main = AgmParams(capacity_ah=70.0)
    key_off = drives[-1].key_off
    return plan_days(day0, 2, drives, MILD, main=main, faults=(Fault("drain", key_off, value=1.20),))


def main_weak_crank(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(7))
    return plan_days(day0, 7, drives, TEMPERATE, main_ageing=WORN)


def main_healthy_winter_cranks(rng: random.Random, day0: float) -> Plan:
    return plan_days(day0, 7, commute(rng, day0, range(7)), COLD_WINTER)


def main_undercharging(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(3))
    # From day 1 the alternator delivers at most 22 A against ~28 A of running load.
    return plan_days(day0, 3, drives, MILD, faults=(Fault("weak-alternator", at(day0, 1), value=22.0),))



def main_overvoltage(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(3))
    return plan_days(day0, 3, drives, MILD, faults=(Fault("regulator", at(day0, 1), value=15.5),))


def main_load_dump_spike(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(3))
    first = drives_on(drives, day0, 1)[0]
    spike = Fault("load-dump", first.crank + 12 * MINUTE_S + 30.0, value=15.7)
    return plan_days(day0, 3, drives, MILD, faults=(spike,))


def main_decline(rng: random.Random, day0: float) -> Plan:
    days = 183
    ageing = MainAgeing(start=day0, end=at(day0, days), r_factor=1.75, shape=2.0)
    return plan_days(day0, days, commute(rng, day0, range(days)), TEMPERATE, main_ageing=ageing)


def main_crank_critical(rng: random.Random, day0: float) -> Plan:
    # A battery worn further than main-weak-crank's (internal resistance +85 %) in a cold
    # winter: the very first start sinks below 8.5 V.
    worn_out = replace(WORN, r_factor=1.85)
    return plan_days(day0, 4, commute(rng, day0, range(4)), COLD_WINTER, main_ageing=worn_out)


def main_failed_start(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(7))
    first = drives_on(drives, day0, 2)[0]
    # On day 2 the engine does not catch on the first attempt (4 s of cranking); the driver
    # tries again 45 s later and it starts. The key-on windows are whole minutes before the
    # start, so the failed attempt has a window of its own.
    retried = replace(first, failed_cranks=(first.crank - 45.0,))
    return plan_days(day0, 7, [retried if d is first else d for d in drives], TEMPERATE)


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
    return plan_days(day0, 14, drives, TEMPERATE)


def main_rested_decline(rng: random.Random, day0: float) -> Plan:
    # Sulfation only: the charge the battery can take falls 0.4 % a day (4 mV of rested voltage
    # a day on the AGM table once it is below the usual ~90 %); its resistance stays as new.
    days = 160
    ageing = MainAgeing(start=day0, end=at(day0, days), r_factor=1.0, capacity_factor=1.0,
                        soc_ceiling=1.0 - 0.004 * days, self_discharge_factor=1.0, shape=1.0)
    return plan_days(day0, days, commute(rng, day0, range(days)), MILD, main_ageing=ageing)


def main_recharge(rng: random.Random, day0: float) -> Plan:
    # The winter school runs of main-low-voltage from a charge already down to 55 %, then two
    # long drives recharge the battery: an hour on day 13, three hours on day 16.
    main = AgmParams(awake_current_a=16.0, initial_soc=0.55)
    drives = commute(rng, day0, range(11), SHORT_TRIPS)

    def trip(day: int, minutes: float) -> Drive:
        crank = at(day0, day, 10.0)
        return Drive(crank - 2 * MINUTE_S, crank, crank + minutes * MINUTE_S, crank + (minutes + 3) * MINUTE_S)

    return plan_days(day0, 19, [*drives, trip(13, 60.0), trip(16, 180.0)], TEMPERATE, main=main)


def main_ignition_switched(rng: random.Random, day0: float) -> Plan:
    every_day = Usage(weekend_outing_prob=1.0)  # never two days without a drive: no silent sensor
    plan = plan_days(day0, 14, commute(rng, day0, range(14), every_day), MILD)
    return replace(plan, windowing=Windowing(ignition_only=True))


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
        "main-smart-alternator", mild_week,
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
)
