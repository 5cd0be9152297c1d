"""The SOS backup pack's scenarios: low charge, decline, leaks, a shorted cell, a new pack, other chemistries."""

from __future__ import annotations

import random

from battwatch.scenarios.backup import LI_ION, LIFEPO4, PackAgeing, PackParams
from battwatch.scenarios.catalogue.entry import DEFAULT_START, Scenario, at, commute, mild_week, plan_days
from battwatch.scenarios.climate import DAY_S, HOT_AND_COLD, HOT_SOUTH, MILD, TEMPERATE
from battwatch.scenarios.engine import Plan
from battwatch.scenarios.faults import Fault
from battwatch.scenarios.lead_acid import AgmParams
from battwatch.scenarios.usage import HOUR_S


def sos_low_voltage(rng: random.Random, day0: float) -> Plan:
    # A dying pack (25 % of its capacity, 7x the self-discharge) still looks fine while the car
    # is driven daily and runs down within about a week once it is parked.
    pack = PackParams(capacity_factor=0.25, self_discharge_factor=7.0)
    # Parked for two weeks: the pack is empty after about ten days in any weather the seeds
    # draw (a cool spell slows its self-discharge by days), and stays empty to the end.
    return plan_days(day0, 20, commute(rng, day0, range(5)), MILD, pack=pack)


def sos_low_voltage_recovery(rng: random.Random, day0: float) -> Plan:
    # The dying pack of sos-low-voltage, parked for two weeks until it is empty, then driven
    # daily again: the telematics unit recharges it a little more each drive than it leaks.
    pack = PackParams(capacity_factor=0.25, self_discharge_factor=7.0)
    days = [*range(5), *range(19, 30)]
    return plan_days(day0, 30, commute(rng, day0, days), MILD, pack=pack)


def sos_decline_critical(rng: random.Random, day0: float) -> Plan:
    # A pack whose rested voltage sags 10 mV a day (0.3 V per cell over 120 days [ENG]: cells
    # drying out), with some capacity fade: the trend reaches the critical level within 30
    # days long before the level itself does.
    days = 112
    ageing = PackAgeing(start=day0, end=at(day0, 120), capacity_factor=0.8, self_discharge_factor=1.0,
                        depression_v_per_cell=0.3)
    return plan_days(day0, days, commute(rng, day0, range(days)), MILD, pack_ageing=ageing)


def sos_replaced(rng: random.Random, day0: float) -> Plan:
    # The failing pack of sos-decline-critical, replaced at a garage on day 78 at 10:00 (the
    # car is driven there and home again) by a new, healthy pack; then three weeks of commuting.
    days = 100
    ageing = PackAgeing(start=day0, end=at(day0, 120), capacity_factor=0.8, self_discharge_factor=1.0,
                        depression_v_per_cell=0.3)
    swap = Fault("new-pack", at(day0, 78, 10.0))
    return plan_days(day0, days, commute(rng, day0, range(days)), MILD, pack_ageing=ageing, faults=(swap,))


REPLACED_SOS_AT = DEFAULT_START + 78 * DAY_S + 10 * HOUR_S  # sos-replaced: when the garage fits the new pack


def sos_long_park_normal(rng: random.Random, day0: float) -> Plan:
    days = [*range(14), *range(28, 31)]
    return plan_days(day0, 31, commute(rng, day0, days), MILD)


def sos_step_drop(rng: random.Random, day0: float) -> Plan:
    short = Fault("shorted-cell", at(day0, 9, 11.0))
    return plan_days(day0, 14, commute(rng, day0, range(14)), MILD, faults=(short,))


def sos_self_discharge(rng: random.Random, day0: float) -> Plan:
    leak = Fault("leaky-pack", at(day0, 21), value=4.0)
    return plan_days(day0, 42, commute(rng, day0, range(42)), MILD, faults=(leak,))


def sos_decline(rng: random.Random, day0: float) -> Plan:
    days = 243  # about eight months
    ageing = PackAgeing(start=day0, end=at(day0, days))
    return plan_days(day0, days, commute(rng, day0, range(days)), TEMPERATE, pack_ageing=ageing)


def sos_liion_long_park(rng: random.Random, day0: float) -> Plan:
    pack = PackParams(chemistry=LI_ION, cells=1, capacity_mah=1000.0, charge_current_ma=200.0)
    days = [*range(14), *range(28, 31)]
    return plan_days(day0, 31, commute(rng, day0, days), MILD, pack=pack)


def sos_lifepo4_long_park(rng: random.Random, day0: float) -> Plan:
    pack = PackParams(chemistry=LIFEPO4, cells=1, capacity_mah=1000.0, charge_current_ma=200.0)
    days = [*range(14), *range(28, 31)]
    return plan_days(day0, 31, commute(rng, day0, days), MILD, pack=pack)


def sos_hot_and_cold(rng: random.Random, day0: float) -> Plan:
    # A year inland: a week parked in the February cold and two weeks in the July heat, so the
    # pack's rested voltage and its self-discharge are seen at both ends of the year.
    parked = {*range(35, 42), *range(190, 204)}
    days = [d for d in range(365) if d not in parked]
    return plan_days(day0, 365, commute(rng, day0, days), HOT_AND_COLD)


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
    return plan_days(day0, 63, commute(rng, day0, days), HOT_SOUTH, main=main, pack=pack)



SCENARIOS: tuple[Scenario, ...] = (
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
        "sos-age-overdue", mild_week,
        "A week of healthy commuting with an SOS pack installed on 2018-01-10: 6.99 years old at "
        "the start, inside its 4-7 year window, and past its end on day 4.",
        ("sos:age",), sos_installed="2018-01-10",
    ),
)
