"""A second battery model, written apart from the simulator's: other curves, relaxation and charging.

The simulator (lead_acid.py, backup.py) and the health rules were written by the same hands, so
they share assumptions: one surface-charge time constant, 3 mV/°C on the 12 V battery, a pack
charged at a constant 0.1 C whenever the car is awake, one relaxation time constant. The detection
sweeps run every grid through this model as well. It keeps the simulator's interface (the engine
takes it through ``Plan.main_model`` / ``Plan.pack_model``) and its cranking and charging strategy, and
changes what the rules lean on, each from the physics in the domain notes:

* 12 V: an OCV curve of its own (steeper near full), 4 mV/°C instead of 3 ("12.6 V at 25 °C ≈
  12.5 V at 0 °C", [SRC 37]), a battery core that lags the temperature sensor by hours (the
  electrolyte's thermal mass), and a surface charge in two parts: polarisation that fades in
  minutes and a diffusion part that fades over ``fade_h`` hours (6-18 h: "6+ h to dissipate"
  [SRC 27], "≥ 8 h" [SRC 28]), and a charging voltage compensated by a law of its own (on the
  core temperature, full charge below 8 °C, 22 mV/°C above).
* SOS pack: a charger with its own law (lithium: constant current, then constant voltage with an
  exponential taper, off at C/10 until the rested cell falls to a restart level; NiMH: 0.1 C to
  full, then a C/50 trickle), an on-charge voltage from internal resistance and two-part
  polarisation, relaxation in two time constants (minutes and hours), a self-discharge that is
  faster near full (NiMH) and doubles per 8 °C instead of 10, and NiMH at 0.8 mV per cell per °C
  instead of 0.5.

All figures are [ENG] unless tagged; they are meant to be plausible and different, not tuned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from battwatch.scenarios.backup import BackupPack, PackAgeing, PackParams
from battwatch.scenarios.lead_acid import (
    AgmParams,
    AlternatorParams,
    Curve,
    MainAgeing,
    MainBattery,
    Table,
    clamp,
)

# A smooth AGM curve, a little steeper in the top 10 % (gassing-free AGM rests high when full).
AGM_OCV_B: Table = (
    (0.0, 11.76), (0.2, 11.99), (0.4, 12.20), (0.6, 12.40), (0.8, 12.60), (0.9, 12.70), (1.0, 12.83),
)


class TwoTauAgm(MainBattery):
    """The 12 V battery with a two-part surface charge and a core temperature that lags."""

    def __init__(self, p: AgmParams, ageing: MainAgeing | None = None, *, fade_h: float = 12.0,
                 temp_coeff_v_per_c: float = 0.004, core_tau_s: float = 3 * 3600.0) -> None:
        super().__init__(p, ageing)
        self._ocv_b = Curve(AGM_OCV_B)
        self.temp_coeff = temp_coeff_v_per_c
        self.core_tau_s = core_tau_s
        self.core_c: float | None = None
        self.fast_v = 0.0  # polarisation: fades in tens of minutes
        self.slow_v = 0.0  # acid diffusion: fades over fade_h
        self.fast_rest_tau_s = 40 * 60.0
        self.slow_rest_tau_s = fade_h * 3600.0 / 3.0  # 95 % gone after fade_h
        self.fast_max_v = 0.10
        self.slow_max_v = 0.20

    def charge_setpoint(self, a: AlternatorParams, temp_c: float) -> float:
        # A regulator of another make: compensated on the battery core (which lags the sensor),
        # at the full-charge ceiling below 8 °C (BMW [SRC 24]) and 22 mV/°C lower per degree
        # above (within -18..-30 mV/°C per battery [SRC 33-35]), never under 14.25 V; A's
        # follows the sensor at 12 mV/°C from 14.5 V at 25 °C. Same 14.8 V ceiling [SRC 20].
        core = temp_c if self.core_c is None else self.core_c
        top = a.burst_range_v[1]
        return top if core < 8.0 else max(14.25, top - 0.022 * (core - 8.0))

    def _follow(self, temp_c: float, dt_s: float) -> None:
        if self.core_c is None:
            self.core_c = temp_c
        else:
            self.core_c = temp_c + (self.core_c - temp_c) * math.exp(-dt_s / self.core_tau_s)

    def ocv(self, temp_c: float) -> float:
        core = temp_c if self.core_c is None else self.core_c
        return self._ocv_b(self.soc) + self.temp_coeff * (core - 25.0)

    def emf(self, temp_c: float) -> float:
        return self.ocv(temp_c) + self.fast_v + self.slow_v

    def draw(self, current_a: float, dt_s: float, temp_c: float, *, rested: bool) -> tuple[float, float]:
        p = self.p
        drop = current_a * self.r_int(temp_c) * p.load_polarisation
        v0 = self.emf(temp_c) - drop
        self._follow(temp_c, dt_s)
        self.q_ah = max(0.0, self.q_ah - (current_a + self.self_discharge_a(temp_c)) * dt_s / 3600.0)
        if rested:
            self.fast_v *= math.exp(-dt_s / self.fast_rest_tau_s)
            self.slow_v *= math.exp(-dt_s / self.slow_rest_tau_s)
        else:  # a load of amps draws both off faster
            self.fast_v *= math.exp(-dt_s / 300.0)
            self.slow_v *= math.exp(-dt_s / 3600.0)
        return v0, self.emf(temp_c) - drop

    def charge(self, current_a: float, dt_s: float, temp_c: float) -> None:
        self._follow(temp_c, dt_s)
        self.q_ah -= self.self_discharge_a(temp_c) * dt_s / 3600.0
        self.q_ah = clamp(self.q_ah + current_a * dt_s / 3600.0, 0.0, self.capacity_ah)
        push = clamp(current_a / (0.05 * self.capacity_ah), 0.0, 1.0)
        for name, top, build in (("fast_v", self.fast_max_v, 300.0), ("slow_v", self.slow_max_v, 2400.0)):
            v = getattr(self, name)
            target = top * push
            tau = build if target > v else 600.0
            setattr(self, name, target + (v - target) * math.exp(-dt_s / tau))


@dataclass(frozen=True, slots=True)
class ChargeLaw:
    """How the telematics unit charges one chemistry, and how that chemistry rests (per cell)."""

    rest_curve: Table
    cv_cell_v: float  # constant-voltage level (lithium); NiMH: none (0)
    restart_cell_v: float  # a lithium charger starts again below this rested cell voltage
    taper_tau_s: float
    r_cell_ohm: float
    polar_v: float  # polarisation at the full charging current, per cell
    temp_coeff_v_per_c: float
    self_discharge_per_day_20c: float
    full_bias: float  # self-discharge × (1 - bias + 2 bias soc²): faster near full


NIMH_B = ChargeLaw(
    rest_curve=((0.0, 1.02), (0.05, 1.13), (0.12, 1.19), (0.4, 1.225), (0.7, 1.245), (0.9, 1.28), (1.0, 1.37)),
    cv_cell_v=0.0, restart_cell_v=0.0, taper_tau_s=0.0, r_cell_ohm=0.14,  # V 450 HR [SRC 9]
    polar_v=0.10, temp_coeff_v_per_c=0.0008, self_discharge_per_day_20c=0.007, full_bias=0.6,
)
LI_ION_B = ChargeLaw(
    rest_curve=((0.0, 3.05), (0.05, 3.35), (0.15, 3.52), (0.4, 3.68), (0.6, 3.80), (0.8, 3.93), (1.0, 4.08)),
    cv_cell_v=4.10, restart_cell_v=3.97, taper_tau_s=25 * 60.0, r_cell_ohm=0.08,
    polar_v=0.03, temp_coeff_v_per_c=-0.0002, self_discharge_per_day_20c=0.001, full_bias=0.3,
)
LIFEPO4_B = ChargeLaw(
    rest_curve=((0.0, 2.6), (0.05, 3.0), (0.12, 3.17), (0.3, 3.24), (0.7, 3.29), (0.95, 3.33), (1.0, 3.40)),
    cv_cell_v=3.55, restart_cell_v=3.31, taper_tau_s=20 * 60.0, r_cell_ohm=0.05,
    polar_v=0.02, temp_coeff_v_per_c=0.0, self_discharge_per_day_20c=0.0012, full_bias=0.3,
)
LAWS: dict[str, ChargeLaw] = {"nimh": NIMH_B, "li-ion": LI_ION_B, "lifepo4": LIFEPO4_B}


class CcCvPack(BackupPack):
    """The backup pack charged by a charger of its own kind, relaxing in two time constants."""

    FAST_TAU_S = 5 * 60.0
    SLOW_TAU_S = 3 * 3600.0
    SLOW_SHARE = 0.3

    def __init__(self, p: PackParams, ageing: PackAgeing | None = None) -> None:
        super().__init__(p, ageing)
        self.law = LAWS[p.chemistry.name]
        self._rest_b = Curve(self.law.rest_curve)
        self.current_ma = 0.0
        self.fast_v = 0.0
        self.slow_v = 0.0
        self.mode = "cc"  # cc, cv, off (lithium); cc, trickle (NiMH)
        self.cv_s = 0.0

    def rest_cell_v(self) -> float:
        law = self.law
        return self._rest_b(self.soc) + law.temp_coeff_v_per_c * (self.temp_c - 20.0) - self.depression_v

    def cell_v(self) -> float:
        return self.rest_cell_v() + self.current_ma / 1000.0 * self.law.r_cell_ohm + self.fast_v + self.slow_v

    def _charger(self, dt_s: float) -> float:
        """The charging current (mA) the unit delivers over the next ``dt_s`` while powered."""
        law, i_cc = self.law, self.p.charge_current_ma
        if law.cv_cell_v == 0.0:  # NiMH: 0.1 C to full, then a trickle
            if self.mode == "cc" and self.soc >= 0.98:
                self.mode = "trickle"
            elif self.mode == "trickle" and self.soc < 0.90:
                self.mode = "cc"
            return i_cc if self.mode == "cc" else self.p.capacity_mah / 50.0
        if self.mode == "off":
            if self.rest_cell_v() < law.restart_cell_v:
                self.mode = "cc"
            else:
                return 0.0
        if self.mode == "cc":
            headroom = law.cv_cell_v - self.rest_cell_v() - self.fast_v - self.slow_v
            if headroom <= i_cc / 1000.0 * law.r_cell_ohm:
                self.mode, self.cv_s = "cv", 0.0
            else:
                return i_cc
        self.cv_s += dt_s
        i = i_cc * math.exp(-self.cv_s / law.taper_tau_s)
        if i < i_cc / 10.0:
            self.mode = "off"
            return 0.0
        return i

    def step(self, dt_s: float, temp_c: float, supply: bool) -> tuple[float, float]:
        law = self.law
        v0 = self.pack_v()
        self.temp_c = temp_c
        self.current_ma = self._charger(dt_s) if supply else 0.0
        if not supply and self.mode == "cv":
            self.mode = "cc"
        self.charging = self.current_ma > 0.0
        warm = 2.0 ** ((clamp(temp_c, -30.0, 70.0) - 20.0) / 8.0)
        soc = self.soc
        shape = 1.0 - law.full_bias + 2.0 * law.full_bias * soc * soc
        leak_ma = law.self_discharge_per_day_20c * shape * self.sd_factor * self.leak_factor * self.p.capacity_mah / 24.0
        gain = self.current_ma * (0.85 if law.cv_cell_v == 0.0 and soc > 0.9 else 0.97)
        self.q_mah = clamp(self.q_mah + (gain - leak_ma * warm) * dt_s / 3600.0, 0.0, self.capacity_mah)
        push = self.current_ma / max(1.0, self.p.charge_current_ma)
        full_rise = 0.06 if law.cv_cell_v == 0.0 and self.soc > 0.95 and self.current_ma > 0.0 else 0.0
        fast_t = law.polar_v * (1.0 - self.SLOW_SHARE) * push + full_rise
        slow_t = law.polar_v * self.SLOW_SHARE * push
        if self.current_ma > 0.0:
            self.fast_v = fast_t + (self.fast_v - fast_t) * math.exp(-dt_s / 120.0)
            self.slow_v = slow_t + (self.slow_v - slow_t) * math.exp(-dt_s / 1800.0)
        else:
            self.fast_v *= math.exp(-dt_s / self.FAST_TAU_S)
            self.slow_v *= math.exp(-dt_s / self.SLOW_TAU_S)
        return v0, self.pack_v()
