"""Sensor and ADC artefacts on healthy batteries: glitches, loose and open wires, stuck and silent channels."""

from __future__ import annotations

import random
from dataclasses import replace

from battwatch.scenarios.backup import LIFEPO4, PackParams
from battwatch.scenarios.catalogue.entry import Scenario, at, commute, drives_on, plan_days
from battwatch.scenarios.climate import DAY_S, MILD
from battwatch.scenarios.engine import Plan, Windowing
from battwatch.scenarios.faults import Artefact, Channel
from battwatch.scenarios.usage import COMMUTE, MINUTE_S


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
    return plan_days(day0, 14, drives, MILD, artefacts=tuple(glitches))


def sensor_loose_wire(rng: random.Random, day0: float) -> Plan:
    drives = commute(rng, day0, range(7))
    evening = drives_on(drives, day0, 2)[-1]
    morning = drives_on(drives, day0, 4)[0]
    loose = (
        Artefact("loose-wire", "main", evening.crank + 5 * MINUTE_S, evening.crank + 25 * MINUTE_S),
        Artefact("loose-wire", "sos", morning.crank + 3 * MINUTE_S, morning.crank + 20 * MINUTE_S),
    )
    return plan_days(day0, 7, drives, MILD, artefacts=loose)


def sensor_open_wire(rng: random.Random, day0: float) -> Plan:
    opened = Artefact("open-wire", "sos", at(day0, 2, 14.0))
    return plan_days(day0, 5, commute(rng, day0, range(5)), MILD, artefacts=(opened,))


def sensor_stuck(rng: random.Random, day0: float) -> Plan:
    stuck = Artefact("stuck", "both", at(day0, 2, 6.0), at(day0, 3, 20.0))
    return plan_days(day0, 5, commute(rng, day0, range(5)), MILD, artefacts=(stuck,))


# A logger that writes the average only (no window minimum and maximum), one row per window.
AVERAGE_ONLY = Windowing(extremes=False)


def sensor_stuck_average_only(rng: random.Random, day0: float) -> Plan:
    return replace(sensor_stuck(rng, day0), windowing=AVERAGE_ONLY)


def sensor_stuck_running(rng: random.Random, day0: float) -> Plan:
    # Fast mode: 1-s rows while the car is awake or running, averages only. Drives of 45-60
    # min; on the day-2 morning drive the 12 V channel freezes for 30 minutes.
    drives = commute(rng, day0, range(5), replace(COMMUTE, drive_min=(45.0, 60.0)))
    first = drives_on(drives, day0, 2)[0]
    stuck = Artefact("stuck", "main", first.crank + 5 * MINUTE_S, first.crank + 35 * MINUTE_S)
    return plan_days(day0, 5, drives, MILD, artefacts=(stuck,),
                 windowing=Windowing(drive_window_s=1.0, extremes=False))


def quiet_park_coarse_adc(rng: random.Random, day0: float) -> Plan:
    # A logger printing 10 mV steps, averages only, and a LiFePO4 pack that barely moves while
    # parked: both channels repeat one value for hours or days, and nothing is frozen.
    pack = PackParams(chemistry=LIFEPO4, cells=1, capacity_mah=1000.0, charge_current_ma=200.0)
    return plan_days(day0, 8, commute(rng, day0, [0, 7]), MILD, pack=pack,
                 windowing=Windowing(resolution_v=0.01, extremes=False))


def sensor_silent(rng: random.Random, day0: float) -> Plan:
    silent = Artefact("silent", "both", at(day0, 2, 10.0), at(day0, 3, 9.0))
    return plan_days(day0, 5, commute(rng, day0, range(5)), MILD, artefacts=(silent,))


def sensor_out_of_range(rng: random.Random, day0: float) -> Plan:
    bad = (
        Artefact("out-of-range", "main", at(day0, 2, 9.0), at(day0, 2, 11.0), value=25.0),
        Artefact("out-of-range", "sos", at(day0, 3, 12.0), at(day0, 3, 13.0), value=-0.5),
    )
    return plan_days(day0, 5, commute(rng, day0, range(5)), MILD, artefacts=bad)


SCENARIOS: tuple[Scenario, ...] = (
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
)
