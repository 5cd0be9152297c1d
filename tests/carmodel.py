"""A second model of a parked car and its starts, independent of battwatch.scenarios.

The simulator shares the analysis' assumptions (a single-exponential surface charge with a
2.5 h time constant, an OCV moving exactly 3 mV/°C, the sensor reading the battery's own
temperature). This model breaks each one on purpose, so a sweep over it tests the rules and
not the model they were written against:

* the surface charge is a fast part (τ 45 min) plus a slow tail that has faded to 10 mV
  only ``fade_h`` hours after key-off, shaped as an exponential or as a power law;
* the battery's OCV moves ``coeff_v_per_c`` per °C (the analysis assumes 0.003);
* the battery's temperature lags the sensor's by ``lag_h`` hours (a 20 kg block against a
  sensor in the air next to it), and the battery area is warm after a drive;
* the quiescent current, the drain and the capacity are whatever the case says, the OCV
  table may be the flooded one while the analysis assumes AGM.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from battwatch.core.model import Reading

T0 = 1_736_121_600.0  # 2025-01-06 00:00 UTC
H = 3600.0
AGM = ((0.0, 11.80), (25.0, 12.05), (50.0, 12.30), (75.0, 12.55), (100.0, 12.80))
FLOODED = ((0.0, 11.89), (25.0, 12.06), (50.0, 12.24), (75.0, 12.45), (100.0, 12.65))


def ocv_of(table: tuple[tuple[float, float], ...], soc: float) -> float:
    soc = min(100.0, max(0.0, soc))
    for (x0, y0), (x1, y1) in zip(table, table[1:], strict=False):
        if soc <= x1:
            return y0 + (y1 - y0) * (soc - x0) / (x1 - x0)
    return table[-1][1]


@dataclass
class Park:
    """One park after a drive, and what the battery does during it."""

    capacity_ah: float = 80.0
    soc0: float = 88.0  # % at key-off
    sleep_a: float = 0.040  # the car's real closed-circuit current
    drain_a: float = 0.0  # an extra current from key-off on
    hours: float = 144.0
    temp_c: float = 10.0  # mean ambient
    swing_c: float = 5.0  # ± day-night
    drift_c_per_day: float = 0.0  # a weather change over the park
    coeff_v_per_c: float = 0.003
    lag_h: float = 0.0
    surface_v: float = 0.25  # at key-off
    fade_h: float = 10.0  # the surface charge is down to 10 mV this long after key-off
    shape: str = "exp"  # or "power"
    table: tuple[tuple[float, float], ...] = AGM
    self_discharge_pct_day: float = 0.1  # at 25 °C, doubling per +10 °C
    window_s: float = 600.0
    seed: int = 0
    start_hour: float = 17.5  # local (UTC) time of key-off


def _surface(p: Park, h: float) -> float:
    """Surface charge h hours after key-off: a fast part and a slow tail at 10 mV at fade_h."""
    slow = min(0.08, 0.5 * p.surface_v)
    fast = p.surface_v - slow
    v = fast * math.exp(-h / 0.75)
    if p.shape == "exp":
        tau = p.fade_h / math.log(slow / 0.010)
        return v + slow * math.exp(-h / tau)
    # power law slow / (1 + h/t0)^1.5, at 10 mV at fade_h
    t0 = p.fade_h / ((slow / 0.010) ** (1 / 1.5) - 1.0)
    return v + slow / (1.0 + h / t0) ** 1.5


def ambient(p: Park, h: float) -> float:
    clock = (p.start_hour + h) % 24.0
    return p.temp_c + p.swing_c * math.cos(2 * math.pi * (clock - 15.0) / 24.0) + p.drift_c_per_day * h / 24.0


def trip(t: float, temp: float, rng: random.Random, v_min: float = 10.4, pre: float = 12.55,
         minutes: int = 30) -> Iterator[Reading]:
    """Key-on, a start, a drive with BMW-style charging bursts, key-off: 60-s windows."""
    for _ in range(3):
        t += 60.0
        yield Reading(t, pre, pre - 0.09, pre + 0.01, 5.30, 5.29, 5.31, temp, 60.0)
    t += 60.0
    yield Reading(t, 13.6, v_min, 14.6, 5.35, 5.33, 5.37, temp, 60.0)
    for _ in range(minutes):
        t += 60.0
        avg = 13.3 + rng.uniform(-0.2, 0.3)
        yield Reading(t, avg, avg - 0.4, 14.6, 5.45, 5.43, 5.47, temp, 60.0)
    for _ in range(3):
        t += 60.0
        yield Reading(t, 12.95, 12.85, 12.97, 5.42, 5.41, 5.43, temp, 60.0)


def park_readings(p: Park, t_key_off: float) -> Iterator[tuple[float, Reading]]:
    """(hours after key-off, reading) of the park: BMW wake-ups at 30 and 70 min included."""
    rng = random.Random(f"park/{p.seed}")
    soc = p.soc0
    i_total = p.sleep_a + p.drain_a
    t_batt = ambient(p, 0.0) + 12.0  # warm from the drive
    sensor = t_batt
    h = 0.0
    step_h = p.window_s / H
    while h < p.hours:
        h += step_h
        amb = ambient(p, h)
        # the battery area cools towards ambient (2 h); the battery block lags behind it
        sensor += (amb - sensor) * (1.0 - math.exp(-step_h / 2.0))
        t_batt = sensor if p.lag_h <= 0 else t_batt + (sensor - t_batt) * (1.0 - math.exp(-step_h / p.lag_h))
        wake = 0.5 <= h < 0.5 + step_h or 1.17 <= h < 1.17 + step_h
        amps = i_total + (3.0 if wake else 0.0)
        sd = p.self_discharge_pct_day / 24.0 * 2.0 ** ((t_batt - 25.0) / 10.0)
        soc -= amps * step_h / p.capacity_ah * 100.0 + sd * step_h
        v = (ocv_of(p.table, soc) + p.coeff_v_per_c * (t_batt - 25.0) + _surface(p, h) - amps * 0.016
             + rng.gauss(0.0, 0.0006))
        v = round(v, 3)
        spread = 0.08 if wake else 0.002
        yield h, Reading(t_key_off + h * H, v, round(v - spread, 3), round(v + 0.002, 3),
                         5.30, 5.298, 5.302, round(sensor, 1), p.window_s)


def quarter_lost_h(p: Park) -> float:
    """Hours after key-off until the battery has lost a quarter of its charge (25 % points)."""
    return 0.25 * p.capacity_ah / (p.sleep_a + p.drain_a)


def crank_min_v(temp_c: float, r_factor: float = 1.0, soc: float = 90.0) -> float:
    """A start's minimum at ``temp_c``: a model of its own (not the simulator's constants).

    Starter current rises in the cold (thicker oil: +1.5 %/°C below 20 °C from 150 A), the
    cranking-path resistance rises 1.2 %/°C below 25 °C from 9 mΩ and with a lower charge;
    ``r_factor`` ages the battery.
    """
    amps = 150.0 * (1.0 + 0.015 * max(0.0, 20.0 - temp_c))
    r = 0.009 * r_factor * (1.0 + 0.012 * max(0.0, 25.0 - temp_c)) * (1.0 + 0.3 * (1.0 - soc / 100.0))
    pre = ocv_of(AGM, soc) + 0.003 * (temp_c - 25.0) - 15.0 * r
    return pre - amps * r
