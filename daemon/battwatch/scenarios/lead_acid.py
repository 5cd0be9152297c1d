"""12 V AGM starter battery and its charging system: OCV, surface charge, cranking, alternator."""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise

from battwatch.core.tables import Table

# Resting OCV at 25 °C by state of charge (fraction). AGM: the analysis' default table [ENG,
# anchored on BMW's "recharge below 12.5 V = 71 %", SRC 14]. Flooded: the BCI table [SRC 26].
AGM_OCV_TABLE: Table = ((0.0, 11.80), (0.25, 12.05), (0.50, 12.30), (0.75, 12.55), (1.0, 12.80))
FLOODED_OCV_TABLE: Table = ((0.0, 11.89), (0.25, 12.06), (0.50, 12.24), (0.75, 12.45), (1.0, 12.65))


class Curve:
    """A look-up table prepared once: the same result as ``interp``, several times faster."""

    __slots__ = ("xs", "ys", "slopes")

    def __init__(self, table: Table) -> None:
        self.xs = [x for x, _ in table]
        self.ys = [y for _, y in table]
        self.slopes = [(y1 - y0) / (x1 - x0) for (x0, y0), (x1, y1) in pairwise(table)]

    def __call__(self, x: float) -> float:
        xs = self.xs
        if x <= xs[0]:
            return self.ys[0]
        if x >= xs[-1]:
            return self.ys[-1]
        i = bisect_right(xs, x) - 1
        return self.ys[i] + self.slopes[i] * (x - xs[i])


def clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


@dataclass(frozen=True, slots=True)
class AgmParams:
    """A 12 V AGM battery and the loads of the car around it. Sources per line."""

    capacity_ah: float = 80.0  # a mid-size BMW battery [ENG]; F48 carries 70-90 Ah
    ocv_table: Table = AGM_OCV_TABLE
    ocv_temp_coeff_v_per_c: float = 0.003  # colder reads lower: ≈ 3 mV/°C per 12 V battery [SRC 36]
    # How long the battery's core takes to follow the temperature sensor (the electrolyte's
    # thermal mass, the sensor on the casing or in the cabin): two stages of core_lag_s / 2 each
    # in series, so a day's swing reaches the OCV about core_lag_s late. 0: the core is the
    # sensor's temperature [ENG].
    core_lag_s: float = 0.0
    # Effective resistance of the cranking path (cells, straps, cables) in the first tens of ms.
    # [ENG] chosen so that a new 80 Ah battery dips to ~10.8 V warm and ~9.5 V at -10 °C.
    r_int_25c_ohm: float = 0.008
    r_temp_coeff_per_c: float = 0.010  # +1 %/°C below 25 °C [ENG]: ≈ +40 % at -15 °C
    r_soc_coeff: float = 0.3  # an emptier battery is stiffer: R × (1 + 0.3 (1 - SoC)) [ENG]
    load_polarisation: float = 2.0  # a load lasting seconds to minutes sees ~2x the ohmic R [ENG]
    # Surface charge: after charging the terminals read 0.1-0.3 V high for hours; "6+ h to
    # dissipate", "a small load for ~1 h bleeds it" [SRC 27]. Exponential model [ENG].
    surface_max_v: float = 0.30
    surface_build_tau_s: float = 15 * 60.0  # builds within a drive of charging
    surface_rest_tau_s: float = 2.5 * 3600.0  # at rest: ~0.2 V left after 1 h, ~10 mV after 8 h
    surface_load_tau_s: float = 20 * 60.0  # drawn off faster by a load of amps
    sleep_current_a: float = 0.035  # healthy closed-circuit current; BMW limit < 80 mA [SRC 15, 16]
    self_discharge_per_day_25c: float = 0.001  # AGM ~3 %/month [ENG/typical]; doubles per +10 °C
    awake_current_a: float = 6.0  # unlocked / key-on, engine off: ECUs, lights, blower [ENG]
    wake_current_a: float = 3.0  # a brief network wake-up while parked [ENG]
    key_on_current_a: float = 15.0  # ignition on in the seconds before the starter engages [ENG]
    # Starter: 150-250 A while cranking, more when cold oil is thick (brief; [ENG]).
    starter_current_20c_a: float = 180.0
    starter_cold_coeff_per_c: float = 0.012  # +1.2 %/°C below 20 °C: ≈ 245 A at -10 °C
    starter_sd: float = 0.04  # start-to-start spread (piston position, oil) [ENG]
    crank_s_20c: float = 0.9  # cranking lasts about a second warm [ENG]
    crank_cold_coeff_per_c: float = 0.03  # and longer in the cold
    cranking_fraction: float = 0.55  # steady cranking current relative to the inrush peak [ENG]
    # A warm stop-start restart: a hot engine turns over easily and quickly (BMW MSA) [ENG].
    restart_current_factor: float = 0.75
    restart_crank_s: float = 0.4
    # A failed attempt cranks until the driver gives up or the engine management stops [ENG].
    failed_crank_s: float = 4.0
    # Engine stopped at a light (MSA): the battery carries what stays on (blower, lights,
    # electronics) without the alternator [ENG].
    stop_load_a: float = 18.0
    # Charge acceptance: up to ~0.5 C when empty, tapering to nothing at the SoC ceiling, and
    # lower in the cold [ENG]; EMF-to-terminal resistance while charging (ohmic + polarisation).
    charge_accept_c_rate: float = 0.5
    charge_taper_soc: float = 0.25
    charge_cold_coeff_per_c: float = 0.02
    charge_resistance_ohm: float = 0.04
    run_load_a: float = 28.0  # consumers while driving, which a healthy alternator covers [ENG]
    initial_soc: float = 0.87


@dataclass(frozen=True, slots=True)
class MainAgeing:
    """A battery wearing out between two times (Unix s); factors are reached at ``end``.

    Progress is ((t - start) / (end - start)) ** shape: shape > 1 accelerates towards the end,
    like lead-acid that "abruptly drops just before it fails" [SRC 46].
    """

    start: float
    end: float
    r_factor: float = 1.9  # internal resistance × this (IEEE 1188: replace at +20 % ohmic [SRC 44])
    capacity_factor: float = 0.7  # capacity × this (replace at < 80 % [SRC 44])
    soc_ceiling: float = 0.70  # sulfation: charging no longer reaches above this SoC
    self_discharge_factor: float = 4.0
    shape: float = 1.5

    def progress(self, t: float) -> float:
        if t <= self.start:
            return 0.0
        if t >= self.end:
            return 1.0
        return ((t - self.start) / (self.end - self.start)) ** self.shape


@dataclass(frozen=True, slots=True)
class AlternatorParams:
    """BMW intelligent alternator control: low set-point, charging bursts on overrun/braking."""

    # The DME holds roughly 12.5-13.0 V most of the time and charges mainly on overrun and
    # braking (Brake Energy Regeneration) [SRC 21, 22, 23].
    base_v: float = 12.78
    base_sd_v: float = 0.10
    base_range_v: tuple[float, float] = (12.5, 13.0)
    # Charging set-point: 14.4-14.8 V, raised in the cold, capped at 14.8 V [SRC 20, 33, 34].
    burst_v_25c: float = 14.5
    burst_temp_coeff_v_per_c: float = 0.012
    burst_range_v: tuple[float, float] = (14.4, 14.8)
    burst_prob: float = 0.55  # share of driving minutes with an overrun/braking phase [ENG]
    burst_fraction: tuple[float, float] = (0.1, 0.7)  # share of such a minute spent charging
    # Energy management: charge harder below a target SoC; below 8 °C switch to full charge
    # [SRC 24, 25]. Modelled as extra charging time [ENG].
    target_soc: float = 0.85
    need_gain: float = 0.7  # charging share when the SoC is 10 points below target
    cold_below_c: float = 8.0
    cold_share: float = 0.15
    post_start_share: float = 0.6  # first minute after a start replaces the crank charge [ENG]
    # Brake energy regeneration [SRC 22]: braking to a stop charges, so the window before a
    # stop-start restart holds at least this much charging [ENG].
    braking_share: float = 0.15
    ripple_v: float = 0.04  # alternator ripple on top of the set-point (max)
    dip_v: tuple[float, float] = (0.05, 0.25)  # load switching (fans, steering) in the min


class MainBattery:
    """The state of the 12 V battery (charge, surface charge) and its terminal voltage."""

    def __init__(self, p: AgmParams, ageing: MainAgeing | None = None) -> None:
        self.p = p
        self.ageing = ageing
        self.capacity_ah = p.capacity_ah
        self.r_factor = 1.0
        self.soc_ceiling = 1.0
        self.sd_factor = 1.0
        self.q_ah = p.initial_soc * p.capacity_ah
        self.surface_v = 0.0
        self._ocv = Curve(p.ocv_table)
        self.stages: list[float] | None = None  # the two lag stages' temperatures, once known

    def _follow(self, temp_c: float, dt_s: float) -> None:
        lag = self.p.core_lag_s
        if lag <= 0.0:
            return
        if self.stages is None:
            self.stages = [temp_c, temp_c]
            return
        k = math.exp(-dt_s / (0.5 * lag))
        outer = temp_c + (self.stages[0] - temp_c) * k
        self.stages = [outer, outer + (self.stages[1] - outer) * k]

    def core_temp(self, temp_c: float) -> float:
        """The temperature the OCV follows: the sensor's, or the lagging core's."""
        return temp_c if self.stages is None else self.stages[1]

    def age_to(self, t: float) -> None:
        """Apply the ageing reached at time ``t``."""
        a = self.ageing
        if a is None:
            return
        x = a.progress(t)
        self.capacity_ah = self.p.capacity_ah * (1.0 + (a.capacity_factor - 1.0) * x)
        self.r_factor = 1.0 + (a.r_factor - 1.0) * x
        self.soc_ceiling = 1.0 + (a.soc_ceiling - 1.0) * x
        self.sd_factor = 1.0 + (a.self_discharge_factor - 1.0) * x
        self.q_ah = min(self.q_ah, self.capacity_ah)

    @property
    def soc(self) -> float:
        return clamp(self.q_ah / self.capacity_ah, 0.0, 1.0)

    def ocv(self, temp_c: float) -> float:
        """Fully rested open-circuit voltage at this SoC and temperature."""
        p = self.p
        return self._ocv(self.soc) + p.ocv_temp_coeff_v_per_c * (self.core_temp(temp_c) - 25.0)

    def emf(self, temp_c: float) -> float:
        """Open-circuit voltage including what is left of the surface charge."""
        return self.ocv(temp_c) + self.surface_v

    def r_int(self, temp_c: float) -> float:
        p = self.p
        cold = max(0.8, 1.0 + p.r_temp_coeff_per_c * (25.0 - temp_c))
        return p.r_int_25c_ohm * self.r_factor * cold * (1.0 + p.r_soc_coeff * (1.0 - self.soc))

    def self_discharge_a(self, temp_c: float) -> float:
        p = self.p
        per_h = p.self_discharge_per_day_25c * self.sd_factor / 24.0
        return per_h * self.capacity_ah * 2.0 ** ((temp_c - 25.0) / 10.0)

    def draw(self, current_a: float, dt_s: float, temp_c: float, *, rested: bool) -> tuple[float, float]:
        """Terminal voltage at the start and end of ``dt_s`` seconds drawing ``current_a``."""
        p = self.p
        drop = current_a * self.r_int(temp_c) * p.load_polarisation
        v0 = self.emf(temp_c) - drop
        self._follow(temp_c, dt_s)
        self.q_ah = max(0.0, self.q_ah - (current_a + self.self_discharge_a(temp_c)) * dt_s / 3600.0)
        tau = p.surface_rest_tau_s if rested else p.surface_load_tau_s
        self.surface_v *= math.exp(-dt_s / tau)
        return v0, self.emf(temp_c) - drop

    def crank(self, temp_c: float, rng: random.Random, kind: str = "start") -> tuple[float, float, float]:
        """An engine start: (lowest voltage, mean voltage while cranking, cranking seconds).

        V_min = V_pre - I_starter × R_int(T, SoC, age), V_pre under the key-on load. ``kind``:
        "start" (after a park), "restart" (warm stop-start: less current, shorter) or "failed"
        (an attempt that does not start the engine: as a start, but cranking for seconds).
        """
        p = self.p
        cold = max(0.0, 20.0 - temp_c)
        i_peak = p.starter_current_20c_a * (1.0 + p.starter_cold_coeff_per_c * cold)
        i_peak *= 1.0 + rng.gauss(0.0, p.starter_sd)
        seconds = p.crank_s_20c * (1.0 + p.crank_cold_coeff_per_c * cold)
        if kind == "restart":
            i_peak *= p.restart_current_factor
            seconds = p.restart_crank_s
        elif kind == "failed":
            seconds = p.failed_crank_s
        r = self.r_int(temp_c)
        v_pre = self.emf(temp_c) - p.key_on_current_a * r  # seconds-long load: ohmic drop only
        self.q_ah = max(0.0, self.q_ah - p.cranking_fraction * i_peak * seconds / 3600.0)
        return v_pre - i_peak * r, v_pre - p.cranking_fraction * i_peak * r, seconds

    def charge_setpoint(self, a: AlternatorParams, temp_c: float) -> float:
        """The regulator's charging voltage: raised in the cold, within its range (§2.3, §2.5)."""
        return clamp(a.burst_v_25c + a.burst_temp_coeff_v_per_c * (25.0 - temp_c), *a.burst_range_v)

    def acceptance_a(self, temp_c: float) -> float:
        """The largest charging current the battery takes now."""
        p = self.p
        headroom = clamp((self.soc_ceiling - self.soc) / p.charge_taper_soc, 0.0, 1.0)
        cold = clamp(1.0 - p.charge_cold_coeff_per_c * (25.0 - temp_c), 0.3, 1.0)
        return p.charge_accept_c_rate * self.capacity_ah * headroom * cold

    def current_at(self, v_terminal: float, temp_c: float, accept_a: float) -> float:
        """Battery current (A, + charging) while the alternator holds the terminals at a voltage."""
        i = (v_terminal - self.emf(temp_c)) / self.p.charge_resistance_ohm
        return accept_a if i > accept_a else i

    def charge(self, current_a: float, dt_s: float, temp_c: float) -> None:
        """Book ``dt_s`` seconds of battery current (+ charging) while the engine runs."""
        p = self.p
        self._follow(temp_c, dt_s)
        self.q_ah -= self.self_discharge_a(temp_c) * dt_s / 3600.0
        self.q_ah = clamp(self.q_ah + current_a * dt_s / 3600.0, 0.0, self.capacity_ah)
        # Surface charge builds while a charging current of a few amps flows, else is drawn off.
        target = p.surface_max_v * clamp(current_a / (0.05 * self.capacity_ah), 0.0, 1.0)
        tau = p.surface_build_tau_s if target > self.surface_v else p.surface_load_tau_s
        self.surface_v = target + (self.surface_v - target) * math.exp(-dt_s / tau)


class RunWindow:
    """What the 12 V channel shows over one window with the engine running."""

    __slots__ = ("avg", "lo", "hi", "current_a")

    def __init__(self, avg: float, lo: float, hi: float, current_a: float) -> None:
        self.avg = avg
        self.lo = lo
        self.hi = hi
        self.current_a = current_a


def smart_alternator(
    bat: MainBattery,
    a: AlternatorParams,
    temp_c: float,
    ambient_c: float,
    post_start: bool,
    rng: random.Random,
    braking: bool = False,
) -> RunWindow:
    """A healthy BMW charging system over one window: base set-point plus charging bursts."""
    base = clamp(rng.gauss(a.base_v, a.base_sd_v), *a.base_range_v)
    burst = bat.charge_setpoint(a, temp_c)
    share = rng.uniform(*a.burst_fraction) if rng.random() < a.burst_prob else 0.0
    if braking and share < a.braking_share:
        share = a.braking_share
    need = clamp((a.target_soc - bat.soc) / 0.10, 0.0, 1.0) * a.need_gain
    if ambient_c < a.cold_below_c:
        need = max(need, a.cold_share)
    if post_start:
        need = max(need, a.post_start_share)
    share += (1.0 - share) * need
    accept = bat.acceptance_a(temp_c)
    i_base = bat.current_at(base, temp_c, accept)
    i_burst = bat.current_at(burst, temp_c, accept)
    current = (1.0 - share) * i_base + share * i_burst
    avg = (1.0 - share) * base + share * burst + rng.gauss(0.0, 0.01)
    lo = (burst if share >= 0.999 else base) - rng.uniform(*a.dip_v)
    hi = (burst if share > 0.0 else base) + rng.uniform(0.3, 1.0) * a.ripple_v
    return RunWindow(avg, lo, hi, current)


def weak_alternator(bat: MainBattery, max_output_a: float, temp_c: float, rng: random.Random) -> RunWindow:
    """A failing alternator that cannot cover the running load: the battery supplies the rest."""
    p = bat.p
    load = p.run_load_a * (1.0 + rng.gauss(0.0, 0.1))
    current = min(0.0, max_output_a - load)
    avg = bat.emf(temp_c) + current * bat.r_int(temp_c) * p.load_polarisation + rng.gauss(0.0, 0.01)
    return RunWindow(avg, avg - rng.uniform(0.03, 0.15), avg + rng.uniform(0.02, 0.08), current)


def stuck_regulator(bat: MainBattery, set_v: float, temp_c: float, rng: random.Random) -> RunWindow:
    """A regulator fault: the alternator holds a sustained over-voltage."""
    avg = set_v + rng.gauss(0.0, 0.08)
    current = bat.current_at(avg, temp_c, bat.acceptance_a(temp_c))
    return RunWindow(avg, avg - rng.uniform(0.05, 0.25), avg + rng.uniform(0.05, 0.2), current)
