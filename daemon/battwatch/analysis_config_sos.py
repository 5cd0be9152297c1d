"""The ``[analysis.sos]`` section: the SOS backup pack's thresholds and timings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

from battwatch.analysis_config_base import (
    Count,
    Debounce,
    H,
    Seconds,
    SocTable,
    TempCoeff,
    Volts,
    below_order,
)
from battwatch.configbase import Range, Section, section

# -- SOS backup pack -------------------------------------------------------------------------------


@section
class CellLimits(Section):
    """Per-cell rested limits of one chemistry (§0.2)."""

    RETIRED: ClassVar[Mapping[str, str]] = {
        "min_rate_v_day": "the self-discharge floor is now healthy_pct_month, the chemistry's healthy "
                          "loss in % of capacity per month (NiMH 20, Li-ion and LiFePO4 3)",
    }

    info_v: Volts
    info_clear_v: Volts
    warn_v: Volts
    warn_clear_v: Volts
    crit_v: Volts
    crit_clear_v: Volts
    nominal_v: Volts
    step_warn_v: Volts  # a sudden fall of the pack (not per cell) this large
    step_crit_v: Volts  # about one cell: a shorted cell
    # Coarse resting voltage -> state of charge (V per cell, %); the curves are flat, so this
    # is only a rough gauge (§1.5).
    soc_table: SocTable
    # The self-discharge of a healthy pack of this chemistry at 20 °C, in % of its charge per
    # month. A pack's own baseline is never taken below it, so a baseline learned from parks
    # that barely moved (or a chemistry that barely self-discharges) does not make normal
    # self-discharge look like a leak; and a low rested voltage after a long park that this rate
    # explains is information, not a warning.
    healthy_pct_month: Annotated[float, Range(gt=0, le=100)]
    # How much the rested cell voltage rises per °C warmer (V per cell per °C). Every rested
    # reading is brought to sos.temp_ref_c with it before the level, step, trend and
    # self-discharge rules see it, so seasons are not read as wear or leakage.
    temp_coeff_v_per_c: TempCoeff = 0.0
    # Without a 12 V channel the pack's own voltage tells when it is on charge: at or above
    # charge_v per cell (above any rested voltage: the float or end-of-charge level), or risen by
    # charge_rise_v per cell above its lowest value since the last charge (more than a load
    # easing off or a warmer day moves it) [ENG].
    charge_v: Volts
    charge_rise_v: Volts

    def check(self) -> None:
        below_order(self.info_v, self.info_clear_v, self.warn_v, self.warn_clear_v, self.crit_v, self.crit_clear_v)
        if not self.step_warn_v < self.step_crit_v:
            raise ValueError("step_warn_v must be below step_crit_v")


@section
class NimhLimits(CellLimits):
    """NiMH: §0.2 (info/warn/crit [ENG]); nominal 1.2 V [SRC 1, 8]; a pack step ≥ 0.8 V means a
    shorted cell [ENG]; flat 1.20-1.25 V from ~10 % to ~80 %, 1.25-1.40 V charged, 1.0 V empty
    [SRC 8, 52]."""

    info_v: Volts = 1.28
    info_clear_v: Volts = 1.30
    warn_v: Volts = 1.22
    warn_clear_v: Volts = 1.26
    crit_v: Volts = 1.10
    crit_clear_v: Volts = 1.18
    nominal_v: Volts = 1.2
    step_warn_v: Volts = 0.4
    step_crit_v: Volts = 0.8
    soc_table: SocTable = ((1.00, 0.0), (1.20, 10.0), (1.25, 80.0), (1.35, 100.0))
    # Varta: 80 % left after a month at 20 °C (§0.2 [SRC 9]).
    healthy_pct_month: Annotated[float, Range(gt=0, le=100)] = 20.0
    # Varta: the NiMH open-circuit voltage "depends on temperature" [SRC 8], without a figure;
    # 0.5 mV per cell per °C, higher when warm, is an engineering estimate [ENG] (2 mV/°C for
    # a 4-cell pack: 60 mV between a -10 °C winter night and a 20 °C day). Tune with data.
    temp_coeff_v_per_c: TempCoeff = 0.0005
    # on charge: about 1.45 V at the end of a 0.1 C charge, 1.25-1.40 V rested (§0.2 [SRC 8]); a
    # charge lifts a cell by 0.1-0.2 V [ENG]
    charge_v: Volts = 1.40
    charge_rise_v: Volts = 0.05


@section
class LiIonLimits(CellLimits):
    """Li-ion: §0.2; a step ≥ 0.3 V WARN [ENG]; a shorted cell removes ~3.6 V: CRIT from 2.5 V [ENG].
    Rested voltage not temperature-corrected: lithium cells move a fraction of a mV per °C, with
    a sign that changes with the state of charge [ENG]."""

    info_v: Volts = 3.80
    info_clear_v: Volts = 3.85
    warn_v: Volts = 3.60
    warn_clear_v: Volts = 3.70
    crit_v: Volts = 3.40
    crit_clear_v: Volts = 3.50
    nominal_v: Volts = 3.6
    step_warn_v: Volts = 0.3
    step_crit_v: Volts = 2.5
    soc_table: SocTable = ((3.00, 0.0), (3.45, 10.0), (3.70, 50.0), (3.95, 90.0), (4.10, 100.0))
    healthy_pct_month: Annotated[float, Range(gt=0, le=100)] = 3.0  # "~2-3 %/month typical" (§0.2)
    # float-charged at 4.1-4.2 V, ~4.0-4.1 V rested (§0.2); a load easing off on a cell lifts
    # it by up to ~0.1 V (2-3 A through 50-100 mOhm) [ENG]
    charge_v: Volts = 4.12
    charge_rise_v: Volts = 0.15


@section
class LifepoLimits(CellLimits):
    """LiFePO4: §0.2; very flat 3.2-3.3 V [SRC 51]; a step ≥ 0.2 V WARN [ENG]; one cell ~3.2 V.
    Rested voltage not temperature-corrected, as for Li-ion [ENG]."""

    info_v: Volts = 3.25
    info_clear_v: Volts = 3.28
    warn_v: Volts = 3.15
    warn_clear_v: Volts = 3.22
    crit_v: Volts = 3.00
    crit_clear_v: Volts = 3.10
    nominal_v: Volts = 3.2
    step_warn_v: Volts = 0.2
    step_crit_v: Volts = 2.2
    soc_table: SocTable = ((2.50, 0.0), (3.10, 10.0), (3.25, 50.0), (3.32, 90.0), (3.40, 100.0))
    healthy_pct_month: Annotated[float, Range(gt=0, le=100)] = 3.0  # "low" (§0.2), as Li-ion [ENG]
    charge_v: Volts = 3.45  # 3.6-3.65 V on charge, ~3.3-3.4 V rested (§0.2)
    charge_rise_v: Volts = 0.08


@section
class Chemistries(Section):
    nimh: NimhLimits = NimhLimits()
    li_ion: LiIonLimits = LiIonLimits()
    lifepo4: LifepoLimits = LifepoLimits()

    def get(self, chemistry: str) -> CellLimits:
        """Limits for a ``[battery.sos] chemistry`` value ("nimh", "li-ion", "lifepo4")."""
        limits: CellLimits = getattr(self, chemistry.replace("-", "_"))
        return limits


@section
class SosLowVoltage(Section):
    # §4: "backup WARN: 3 rested samples over ≥ 24 h"; critical sooner [ENG].
    debounce: Debounce = Debounce(for_s=24 * H, for_n=3, clear_for_s=2 * H, clear_for_n=3)
    crit_for_s: Seconds = 6 * H
    # Without a 12 V channel (an SOS-only tap, a bench log) a reading counts once the pack has
    # been off charge for state.sos_rest_min_s, by its own voltage, and every level is held for
    # this long instead: the 24 h above give a car's next drive the chance to recharge the
    # pack, and here a recharge shows in the pack's own readings [ENG].
    own_for_s: Seconds = 1800.0


@section
class SosStep(Section):
    """A sudden fall of the rested pack voltage (§0.2 step change, §3.1 HB4)."""

    # §0.2 compares with a 7-day median; a pack that runs down over a long park would then look
    # like a step, so the reference is the rested level of the last hours instead [ENG]: a
    # shorted cell drops within one window, a flat pack loses < 0.1 V per hour.
    window_s: Seconds = 3 * H
    max_gap_s: Seconds = 48 * H  # across a drive: compare with the last rested values this recent
    # Readings that are not rested (relaxing after a charge, awake, on charge) are compared with
    # readings of the same kind this recent, and only a fall of step_crit_v (about a cell)
    # counts: within half an hour relaxation moves a pack of up to six NiMH cells by well under
    # one cell's voltage, a shorted cell by a whole one at once [ENG].
    fast_window_s: Seconds = 1800.0
    clear_margin_v: Volts = 0.2  # back within this of the level before the step clears it [ENG]
    debounce: Debounce = Debounce(for_s=1800.0, for_n=3, clear_for_s=6 * H, clear_for_n=3)


@section
class SosSelfDischarge(Section):
    """Self-discharge while the car sleeps vs the pack's own baseline (§1.4 item 2, §3.1 HB3)."""

    warn_ratio: Annotated[float, Range(gt=1, le=100)] = 2.0  # "≥ 2x the pack's own learned rate"
    warn_clear_ratio: Annotated[float, Range(gt=1, le=100)] = 1.6  # [ENG]
    rest_min_s: Seconds = 4 * H  # after the on-charge over-voltage has relaxed [ENG]
    min_span_s: Seconds = 6 * H  # a park gives a rate when this much rested time was measured [ENG]
    baseline_parks: Count = 8  # parks that make the baseline (§3.2 step 3: first valid days) [ENG]
    # Rates are brought to 20 °C: self-discharge roughly doubles per +10 °C ([SRC 9]; rule of thumb).
    temp_doubling_c: Annotated[float, Range(gt=0, le=100)] = 10.0
    # On a logger without window extremes, a park's fall must span this many steps of the
    # channel's resolution to say anything: 10 mV steps over an 8-h fit are staircase, not
    # slope [ENG]
    min_fall_steps: Annotated[float, Range(ge=0, le=100)] = 3.0
    debounce: Debounce = Debounce(for_n=3, clear_for_n=3)

    def check(self) -> None:
        if not self.warn_clear_ratio < self.warn_ratio:
            raise ValueError("warn_clear_ratio must be below warn_ratio")


@section
class SosAgeConfig(Section):
    info_lead_years: Annotated[float, Range(ge=0, le=10)] = 1.0  # a heads-up before the window opens [ENG]


@section
class SosConfig(Section):
    """The SOS / eCall backup pack rules (§0.2, §1)."""

    chemistry: Chemistries = Chemistries()
    # Rested pack voltages are compared at this temperature (Varta's data are at 20 °C ± 2 [SRC 8]).
    temp_ref_c: Annotated[float, Range(ge=-40, le=60)] = 20.0
    max_factor: Annotated[float, Range(gt=1, le=10)] = 2.0  # readings above factor x nominal + 1 V are out of range
    low_voltage: SosLowVoltage = SosLowVoltage()
    step: SosStep = SosStep()
    self_discharge: SosSelfDischarge = SosSelfDischarge()
    decline: Debounce = Debounce(for_n=2, clear_for_n=3)
    age: SosAgeConfig = SosAgeConfig()
