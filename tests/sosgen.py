"""A second model of a car and its SOS backup pack, written apart from battwatch.scenarios.

The project's simulator and the SOS rules share two assumptions: that the telematics unit charges
the pack whenever the car is awake, and that the on-charge over-voltage fades with one 30-minute
time constant. This model differs on purpose: the pack is charged only while the engine runs,
its over-voltage fades in two parts (a fast 8-minute one and a slow 70-minute tail), its OCV
curves and temperature coefficient are its own, and its 12 V channel is a plain key-on/key-off
trace. The sweeps in tests/unit/test_sweep_sos.py run the SOS rules on both.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from battwatch.core.model import Reading
from battwatch.core.tables import interp

DAY = 86400.0
START = 1735862400.0  # 2025-01-03 00:00 UTC, a Friday

# per-cell rested voltage against state of charge (fraction): this model's own curves
OCV = {
    "nimh": ((0.0, 1.05), (0.05, 1.15), (0.15, 1.21), (0.5, 1.235), (0.85, 1.26), (1.0, 1.33)),
    "li-ion": ((0.0, 3.20), (0.1, 3.50), (0.5, 3.75), (0.9, 4.00), (1.0, 4.08)),
    "lifepo4": ((0.0, 2.70), (0.1, 3.15), (0.5, 3.27), (0.9, 3.31), (1.0, 3.36)),
}
# on charge: the terminal voltage per cell sits this much above the rested one (NiMH trickle),
# or at the float level (lithium), whichever is higher
OVER = {"nimh": 0.16, "li-ion": 0.10, "lifepo4": 0.12}
FLOAT = {"nimh": 0.0, "li-ion": 4.15, "lifepo4": 3.45}
SELF_DISCHARGE = {"nimh": 0.6, "li-ion": 0.08, "lifepo4": 0.08}  # % a day at 20 °C
TEMP_COEFF = {"nimh": 0.0004, "li-ion": 0.0, "lifepo4": 0.0}  # V per cell per °C


@dataclass(frozen=True)
class Drives:
    """When the car is driven: (hour of day, minutes) per day, on days ``every`` apart."""

    trips: tuple[tuple[float, float], ...] = ((7.5, 30.0), (17.5, 35.0))
    every: int = 1
    first_day: int = 1  # day 0 is parked: the log starts with a rest
    stop_day: int = 10_000  # no drives from this day on (a long park)

    def at(self, day: int) -> list[tuple[float, float]]:
        if day < self.first_day or day >= self.stop_day or (day - self.first_day) % self.every:
            return []
        return [(day * DAY + h * 3600.0, m * 60.0) for h, m in self.trips]


COMMUTE = Drives()
WEEKLY = Drives(trips=((10.0, 45.0),), every=7)
ONE_A_DAY = Drives(trips=((12.0, 25.0),))


@dataclass(frozen=True)
class Climate:
    mean_c: float = 15.0
    swing_c: float = 5.0  # half the day-night range; the coldest at 05:00

    def temp(self, t: float) -> float:
        h = (t % DAY) / 3600.0
        return self.mean_c - self.swing_c * math.cos(2.0 * math.pi * (h - 5.0) / 24.0)


@dataclass(frozen=True)
class Case:
    chem: str = "nimh"
    cells: int = 4
    days: float = 10.0
    period_s: float = 600.0  # the reading period while parked
    awake_period_s: float = 60.0  # ... while awake or driving (at most period_s)
    drives: Drives = COMMUTE
    climate: Climate = Climate()
    main: bool = True  # a 12 V channel
    soc0: float = 0.95
    capacity_mah: float = 600.0
    charge_ma: float = 60.0
    sd_factor: float = 1.0  # x the chemistry's healthy self-discharge
    sink_v_day: float = 0.0  # ageing: the rested voltage per cell sinks this much a day
    sink_from: float = 0.0  # days from the start
    short_at: float | None = None  # Unix s: one cell shorts
    seed: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def car_state(c: Case, t: float) -> tuple[str, float, float]:
    """("driving" | "awake" | "parked", seconds since the last key-off or -1, drive start or -1)."""
    t -= START
    day = int(t // DAY)
    last_off = -1.0
    for d in (day - 1, day):
        for start, length in c.drives.at(d):
            if start - 300.0 <= t < start:
                return "awake", -1.0, start  # unlocked, about to start
            if start <= t < start + length:
                return "driving", -1.0, start
            if t >= start + length:
                last_off = max(last_off, start + length)
    if last_off >= 0.0 and t - last_off < 900.0:
        return "awake", t - last_off, -1.0
    return "parked", (t - last_off) if last_off >= 0.0 else 1e9, -1.0


def generate(c: Case, truth: list[tuple[float, float]] | None = None) -> Iterator[Reading]:
    """The readings of a case; ``truth`` gets (time, rested cell voltage at 20 °C) per reading:
    what a perfect rest would show, for the tests' expectations."""
    rnd = random.Random(c.seed)
    ocv = OCV[c.chem]
    over = OVER[c.chem]
    flt = FLOAT[c.chem]
    soc = c.soc0
    ov_fast = ov_slow = 0.0  # per cell, above the rested voltage
    t = START
    end = START + c.days * DAY
    started_at = -1.0
    while t < end:
        state, since_off, start = car_state(c, t)
        dt = c.period_s if state == "parked" else min(c.period_s, c.awake_period_s)
        t_next = t + dt
        temp = c.climate.temp(t_next)
        charging = state == "driving"
        # the pack: charge, self-discharge, over-voltage
        sd = SELF_DISCHARGE[c.chem] * c.sd_factor / 100.0 / DAY * 2.0 ** ((temp - 20.0) / 10.0)
        gain = 0.8 * c.charge_ma / c.capacity_mah / 3600.0 if charging and soc < 1.0 else 0.0
        soc = min(1.0, max(0.0, soc + (gain - sd) * dt))
        rest_cell = interp(ocv, soc) + TEMP_COEFF[c.chem] * (temp - 20.0)
        if t_next > START + c.sink_from * DAY:
            rest_cell -= c.sink_v_day * (t_next - START - c.sink_from * DAY) / DAY
        if truth is not None:
            truth.append((t_next, rest_cell - TEMP_COEFF[c.chem] * (temp - 20.0)))
        if charging:
            target = max(over, flt - rest_cell) if flt else over
            k = math.exp(-dt / 120.0)
            ov_fast = 0.6 * target + (ov_fast - 0.6 * target) * k
            ov_slow = 0.4 * target + (ov_slow - 0.4 * target) * k
        else:
            ov_fast *= math.exp(-dt / 480.0)
            ov_slow *= math.exp(-dt / 4200.0)
        per_cell = rest_cell + ov_fast + ov_slow
        whole = c.cells * per_cell + rnd.gauss(0.0, 0.001)
        s_v, s_min, s_max = whole, whole - 0.002, whole + 0.002
        if c.short_at is not None and t_next > c.short_at:
            after = whole - per_cell  # one cell adds nothing any more
            if t < c.short_at:  # the window that holds the short averages both levels
                share = (t_next - c.short_at) / dt
                s_v, s_min, s_max = whole - share * per_cell, after - 0.002, whole + 0.002
            else:
                s_v, s_min, s_max = after, after - 0.002, after + 0.002
        # the 12 V channel: key-on, crank, charging, key-off loads, sleep with a fading surface charge
        main = None
        if c.main:
            if state == "driving":
                if start != started_at:
                    started_at = start
                    main = (11.8 if dt > 5 else 10.9, 10.7, 12.6)
                else:
                    v = 14.05 + rnd.gauss(0.0, 0.03)
                    main = (v, v - 0.12, v + 0.15)
            elif state == "awake":
                v = 12.45 + rnd.gauss(0.0, 0.01)
                main = (v, v - 0.12, v + 0.02)
            else:
                base = 12.68 + 0.003 * (temp - 25.0)
                if since_off < 1e8:
                    base += 0.18 * math.exp(-since_off / 10800.0)
                v = base + rnd.gauss(0.0, 0.001)
                main = (v, v - 0.004, v + 0.004)
        t = t_next
        yield Reading(
            t, None if main is None else round(main[0], 4), None if main is None else round(main[1], 4),
            None if main is None else round(main[2], 4), round(s_v, 4), round(s_min, 4), round(s_max, 4),
            round(temp, 2), dt,
        )


def bench(chem: str, cells: int, hours: float, period_s: float, *, load_ohm_cell: float = 0.02,
          current_a: float = 0.5, ripple: float = 0.3, seed: int = 0) -> Iterator[Reading]:
    """A pack on the bench, taken off its charger full and run down under a load that comes and
    goes (``ripple``: the share by which the current swings), from 100 % to 0 % in ``hours``;
    no 12 V channel and no window extremes (a CSV-like log)."""
    rnd = random.Random(seed)
    t = START
    n = int(hours * 3600.0 / period_s)
    for i in range(n + 1):
        soc = 1.0 - i / n
        amps = current_a * (1.0 + ripple * math.sin(i * period_s / 600.0) + 0.1 * rnd.uniform(-1.0, 1.0))
        v = cells * (interp(OCV[chem], soc) - amps * load_ohm_cell) + rnd.gauss(0.0, 0.002)
        yield Reading(t, None, None, None, round(v, 4), None, None, None, 0.0)
        t += period_s
