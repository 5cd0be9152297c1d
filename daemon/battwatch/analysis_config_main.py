"""The ``[analysis.main]`` section: the 12 V battery's thresholds and timings."""

from __future__ import annotations

from typing import Annotated

from battwatch.analysis_config_base import (
    BelowLevels,
    Count,
    Debounce,
    H,
    Seconds,
    Volts,
    table_check,
)
from battwatch.configbase import Check, Range, Section, section
from battwatch.core.tables import Table, interp

# -- 12 V battery ----------------------------------------------------------------------------------

# Resting OCV at 25 °C by state of charge (% -> V). Flooded: BCI table [SRC 26]. AGM: the
# default of §2.1 anchored on BMW's "12.5 V ≈ 71 %" [SRC 14] [ENG]. EFB sits between
# the two [ENG].
AGM_OCV: Table = ((0.0, 11.80), (25.0, 12.05), (50.0, 12.30), (75.0, 12.55), (100.0, 12.80))
EFB_OCV: Table = ((0.0, 11.85), (25.0, 12.06), (50.0, 12.27), (75.0, 12.50), (100.0, 12.72))
FLOODED_OCV: Table = ((0.0, 11.89), (25.0, 12.06), (50.0, 12.24), (75.0, 12.45), (100.0, 12.65))


def _percent(v: Table) -> None:
    if v[0][0] != 0.0 or v[-1][0] != 100.0:
        raise ValueError("OCV table must run from 0 to 100 %")


OcvTable = Annotated[Table, table_check("OCV table"), Check(_percent)]


@section
class OcvTables(Section):
    """State of charge (%) to resting open-circuit voltage at 25 °C, per battery type (§2.1)."""

    agm: OcvTable = AGM_OCV
    efb: OcvTable = EFB_OCV
    flooded: OcvTable = FLOODED_OCV


@section
class MainLowVoltage(BelowLevels):
    """Resting voltage at 25 °C (§0.1: BMW recharge below 12.5 V [SRC 14]; BCI table [SRC 26])."""

    info_v: Volts | None = 12.60
    info_clear_v: Volts | None = 12.65  # [ENG]
    warn_v: Volts = 12.40
    warn_clear_v: Volts = 12.50
    crit_v: Volts = 12.00  # "below 12.0 V permanently reduces battery life" [SRC 14]
    crit_clear_v: Volts = 12.20
    dead_cell_v: Volts = 10.5  # any state but cranking: a shorted cell [SRC 18] [ENG]
    # two hours of rested readings below the level; §4 suggests 2 daily rests, shortened so a
    # car that may not start tomorrow is reported today [ENG]
    debounce: Debounce = Debounce(for_s=2 * H, for_n=3, clear_for_s=H, clear_for_n=2)


# BCI-style load-test minimum by battery temperature (§0.1, Kia workshop manual [SRC 29]).
# BCI's load-test table [SRC 29] from -12 °C to 21 °C, and its 0 °F row (8.5 V at -18 °C)
# kept 0.05 V above crit_v, so that a warning can still come before critical in deep cold.
CRANK_TABLE: Table = ((-18.0, 8.55), (-12.0, 8.7), (-7.0, 8.9), (-1.0, 9.1), (4.0, 9.3), (10.0, 9.4), (17.0, 9.5),
                      (21.0, 9.6))
CRANK_INFO_TABLE: Table = ((-20.0, 8.85), (-12.0, 9.2), (21.0, 10.5))


@section
class CrankingConfig(Section):
    """Start minimum against the temperature-adjusted limit (§0.1, §2.4)."""

    limit_by_temp_c: Annotated[Table, table_check("limit_by_temp_c")] = CRANK_TABLE
    # §0.1 "< 8.5 V, or start failed": one such start raises critical at once.
    crit_v: Volts = 8.5
    # §0.1 info "< 10.5 V" at ≥ 21 °C. In the cold a healthy start dips further than the load
    # test's table falls (thicker oil: more starter current; higher resistance), so the level
    # falls to 9.2 V at -12 °C, about 0.5 V above the load-test limit there, and 8.85 V at
    # -20 °C, where a healthy battery cranks to ~8.9-9.3 V [ENG].
    info_by_temp_c: Annotated[Table, table_check("info_by_temp_c")] = CRANK_INFO_TABLE
    info_clear_margin_v: Volts = 0.2  # a start must beat the info level by this to clear it [ENG]
    warn_clear_margin_v: Volts = 0.2  # a start must beat the limit by this to count as good [ENG]
    crit_clear_margin_v: Volts = 0.3  # [ENG]
    # A start without a temperature reading (a logger with no sensor) may have been at any
    # temperature: a frosty morning's start of a used battery and a warm weak one's reach the
    # same minimum (docs/analysis.md). It is warned about only under the limit of the coldest
    # temperature it may have been at: this one (the BCI table's coldest row, 0 °F), or the
    # bound the charging voltage after the start gives (below). Between that limit and the
    # warm one (9.6 V) it is information that says the two cannot be told apart [ENG].
    assumed_temp_c: Annotated[float, Range(ge=-40.0, le=40.0)] = -18.0
    # The charging voltage as a thermometer: regulators raise the set-point in the cold by
    # 18-30 mV/°C per battery (§2.3 [SRC 33-35]) from 14.4-14.7 V at 25 °C [SRC 34], up to
    # BMW's 14.8 V ceiling (§2.5 [SRC 20]). The highest charging voltage seen within
    # thermometer_s of a start bounds the battery's temperature then from below, taking the
    # least compensation (charge_comp_v_per_c) from the lowest set-point (charge_25c_v): the
    # start was at least that warm. At the ceiling (charge_top_v) or below charge_floor_v (no
    # charging plateau: the low set-point of a full battery, a window average) it bounds nothing.
    thermometer_s: Annotated[float, Range(ge=0.0, le=3600.0)] = 300.0
    charge_comp_v_per_c: Annotated[float, Range(ge=0.001, le=0.1)] = 0.018
    charge_25c_v: Volts = 14.4
    charge_top_v: Volts = 14.8
    charge_floor_v: Volts = 14.2
    # "Only load-test at ≥ 75 % SoC; otherwise charge first" (§2.4 [SRC 29, 31]): a start of
    # a battery whose last rested state of charge is below this is only judged when it falls
    # under crit_v or fails, and then the message names the low charge [ENG threshold source].
    min_soc_pct: Annotated[float, Range(ge=0, le=100)] = 75.0
    # Below the gate a start still says something when it falls this far under the limit: a
    # battery at 60-75 % instead of full rests ~0.15-0.25 V lower (AGM: ~10 mV per %) and its
    # start dip is a little deeper, so a healthy one cranks up to ~0.3 V under its charged self.
    # Further down, the start raises a warning that asks for a charge and a re-test (not a
    # replacement). Only just under the gate: while the battery rests at or above the
    # low_voltage warning level (12.40 V at 25 °C, 60 % on AGM), where this margin holds; an
    # emptier battery's start says nothing (low_voltage asks for the charge). Below crit_v a
    # start is critical at any charge [ENG].
    low_charge_margin_v: Annotated[float, Range(ge=0.0, le=3.0)] = 0.3
    # Info and warning need this many starts in a row (one start can be a hard one); the
    # critical level needs one (§0.1) [ENG].
    debounce: Debounce = Debounce(for_n=2, clear_for_n=3)

    def check(self) -> None:
        if self.crit_v >= min(v for _, v in self.limit_by_temp_c):
            raise ValueError("crit_v must be below every temperature-adjusted limit")
        temps = sorted({x for x, _ in self.limit_by_temp_c} | {x for x, _ in self.info_by_temp_c})
        if any(interp(self.info_by_temp_c, x) <= interp(self.limit_by_temp_c, x) for x in temps):
            raise ValueError("info_by_temp_c must lie above limit_by_temp_c at every temperature")
        if not self.charge_floor_v < self.charge_top_v:
            raise ValueError("charge_floor_v must be below charge_top_v")


@section
class ChargingConfig(Section):
    """Per-drive charging judgement (§0.1 running rows, §2.5)."""

    avg_warn_v: Volts = 12.8
    avg_crit_v: Volts = 12.5  # the battery is discharging while driving
    avg_clear_v: Volts = 13.0  # [ENG]
    max_warn_v: Volts = 13.8  # the alternator never charged during a drive of ≥ max_min_drive_s
    min_drive_s: Seconds = 600.0  # judge the average of drives of at least 10 min (§0.1)
    max_min_drive_s: Seconds = 1200.0  # judge the maximum of drives of at least 20 min (§0.1)
    # ... and only where the maximum is known: over the windows that reported their own
    # maximum or were this short, when they cover half the drive or more. The highest of 5- or
    # 10-min averages without extremes blends the alternator's set-point with the sags between
    # (a BMW charges mostly on overrun): healthy drives top out at 13.4-13.6 V there, so only
    # their average is judged [ENG].
    peak_window_s: Annotated[float, Range(ge=1.0, le=3600.0)] = 120.0
    post_start_skip_s: Seconds = 60.0  # §4: suppress charging judgement in the first 60 s after a start
    # Post-start recovery (§0.1, §3.1 HI5): the voltage after 10 s of running, from the first
    # reading that ends this long after the start.
    recovery_after_s: Seconds = 10.0
    recovery_warn_v: Volts = 13.0  # §0.1 [ENG]
    recovery_crit_v: Volts = 12.6  # §0.1 [ENG]
    # §0.1: "BMW may hold low if SoC high: gate on drive average": a low post-start voltage
    # only counts in a drive whose average fails too (below the drive-average warning level);
    # it then decides between warning and critical. Healthy BMW drives average 13.0-13.6 V
    # with the post-start minute at 12.6-12.8 V now and then [ENG].
    recovery_gate_avg_v: Volts = 12.8
    debounce: Debounce = Debounce(for_n=2, clear_for_n=2)

    def check(self) -> None:
        if not self.avg_crit_v < self.avg_warn_v < self.avg_clear_v:
            raise ValueError("need avg_crit_v < avg_warn_v < avg_clear_v")
        if not self.recovery_crit_v < self.recovery_warn_v:
            raise ValueError("need recovery_crit_v < recovery_warn_v")
        if self.max_min_drive_s < self.min_drive_s:
            raise ValueError("max_min_drive_s must not be shorter than min_drive_s")


@section
class OvervoltageConfig(Section):
    """Over-voltage with the engine running (§0.1: BMW max 14.8 V [SRC 20]; ISO 16750-2 16 V [SRC 39])."""

    info_v: Volts = 14.9  # §0.1: just above BMW's 14.8 V maximum
    info_clear_v: Volts = 14.7  # [ENG]
    warn_v: Volts = 15.0
    warn_clear_v: Volts = 14.8
    crit_v: Volts = 15.5
    crit_clear_v: Volts = 15.0
    immediate_v: Volts = 16.0  # a window average this high raises critical at once
    # §0.1 says "sustained ≥ 30 s", but VW/Audi and BMW EfficientDynamics cars charge a
    # healthy AGM at 15.4-15.6 V for 20-40 s on overrun (a real recording: 26 s), again and
    # again: 90 s tells a failed regulator (above 15 V for minutes) from that, within two
    # minutes of 60-s windows [ENG]
    debounce: Debounce = Debounce(for_s=90.0, for_n=1, clear_for_s=60.0, clear_for_n=2)
    # The levels are judged on the time-weighted average of the running readings over the last
    # average_s (§0.1 "sustained ≥ 30 s"), not on each row: 1-s rows of a charging car swing
    # ±0.2-0.3 V with the loads and the alternator's ripple, so a regulator stuck at 15.6 V
    # reads under 15.5 V every few seconds and would never hold the critical level for 90 s.
    # Rows of average_s or longer are judged as they are [ENG].
    average_s: Annotated[float, Range(ge=0.0, le=600.0)] = 30.0

    def check(self) -> None:
        if not self.info_v < self.warn_v < self.crit_v <= self.immediate_v:
            raise ValueError("need info_v < warn_v < crit_v <= immediate_v")
        if not self.info_clear_v < self.info_v:
            raise ValueError("info_clear_v must be below info_v (an over-voltage clears lower down)")
        if not self.warn_clear_v < self.warn_v:
            raise ValueError("warn_clear_v must be below warn_v (an over-voltage clears lower down)")
        if not self.crit_clear_v < self.crit_v:
            raise ValueError("crit_clear_v must be below crit_v")


@section
class DrainConfig(Section):
    """Parasitic drain from the fall of the rested voltage (§0.1 overnight change, §2.6)."""

    # Thresholds on the fall per 12 h beyond what the expected sleep current explains (mV).
    info_mv_12h: Annotated[float, Range(ge=0)] = 25.0
    info_clear_mv_12h: Annotated[float, Range(ge=0)] = 18.0  # [ENG]
    warn_mv_12h: Annotated[float, Range(ge=0)] = 50.0  # ≈ 0.3-0.4 A on 70-90 Ah
    warn_clear_mv_12h: Annotated[float, Range(ge=0)] = 35.0  # [ENG]
    crit_mv_12h: Annotated[float, Range(ge=0)] = 150.0  # ≈ 1 A
    crit_clear_mv_12h: Annotated[float, Range(ge=0)] = 110.0  # [ENG]
    # The car's own closed-circuit current: BMW limit < 80 mA [SRC 15, 16], typical 30-50 mA.
    car_sleep_ma: Annotated[float, Range(ge=0, le=5000)] = 50.0
    # Surface charge: measure from 8 h after the last activity ("6+ h to dissipate" [SRC 27],
    # "≥ 8 h, preferably 24 h" [SRC 28]).
    rest_min_s: Seconds = 8 * H
    min_span_s: Seconds = 8 * H  # a verdict needs this much rested time measured [ENG]
    verdict_every_s: Seconds = 12 * H  # a long park gives a verdict this often [ENG]
    # Early verdicts for a heavy drain: 1.2 A takes an 80 Ah battery from 80 % to 50 % in about
    # 17 h, before the 12-hourly verdicts above could confirm anything. From early_span_s of
    # rested data (instead of min_span_s) a verdict is taken every early_every_s, but it only
    # counts when the excess fall is at least early_factor times the level it raises (warning:
    # 2 x 50 = 100 mV per 12 h, ~0.7 A on 80 Ah; critical: 300 mV, ~2 A), a margin over what
    # the short span can mistake for a drain (the surface charge's tail after 8 h rest, ≲ 30 mV
    # per 12 h, and a temperature correction off by 1 mV/°C over a cooling night) [ENG]. Once
    # min_span_s is covered, a fall that stays that heavy is judged every early_every_s instead
    # of every verdict_every_s, at the normal levels, so the two-verdict debounce is met within
    # the hour. A modest drain (below early_factor x warn_mv_12h) is judged as before.
    early_span_s: Seconds = 4 * H
    early_every_s: Annotated[float, Range(ge=600.0, le=400 * 86400.0)] = 1 * H
    early_factor: Annotated[float, Range(ge=1.0, le=100.0)] = 2.0
    # First looks, before rest_min_s: from the first rested reading of the park (the state's
    # 4 h) each stretch of first_span_s is fitted on its own and counts only past
    # first_factor times the level it raises (warning 150 mV per 12 h, ~1 A on 80 Ah); two
    # stretches in a row raise. The surface charge slows down from one stretch to the next (a
    # 0.3 V charge fading with a 2.5 h time constant falls ~200 mV per 12 h over 4-6 h after
    # key-off, ~90 over 6-8 h), a drain does not: 1 A from 40 Ah, a quarter gone in under
    # 10 h, is only caught this way [ENG].
    first_span_s: Seconds = 2 * H
    first_factor: Annotated[float, Range(ge=1.0, le=100.0)] = 3.0
    # Bounded looks, from the first minutes of sleep: a drain that takes a quarter of a 40 Ah
    # battery in 5-9 h (1.2-2 A) is past that before any rested reading exists. The surface
    # charge a drive leaves is "often 0.1-0.3 V" (domain §2.6 [SRC 27]); whatever its shape (a
    # mix of exponential decays: one or two time constants, a power-law tail), a charge of at
    # most surface_max_v fading since the last activity can fall no more between s1 and s2 than
    # a single exponential with τ = (s2 - s1) / ln(s2 / s1) does (drain.surface_fall_bound).
    # Every bound_every_s the fall over the last part of the sleep, from since / bound_ratio to
    # now (at least bound_min_span_s), minus that bound and the expected sleep current, is a
    # lower bound on the drain; it counts past bound_factor x the level it raises (warning:
    # 100 mV per 12 h, above the ≲ 8 mV/h a temperature correction off by 1.5 mV/°C, or a
    # sensor 3-6 h ahead of the battery through a ±10 °C day, can add), two looks in a row. A
    # ratio of 1.5 leaves 15 % of the charge's size to explain: 2 A from 40 Ah is called
    # about 3 h after the last activity, 1.2 A about 6 h after [ENG]. surface_max_v = 0 turns
    # the bounded looks off.
    surface_max_v: Annotated[float, Range(ge=0.0, le=2.0)] = 0.30
    bound_ratio: Annotated[float, Range(gt=1.0, le=10.0)] = 1.5
    bound_every_s: Annotated[float, Range(ge=60.0, le=86400.0)] = 900.0
    bound_min_span_s: Seconds = 1800.0
    bound_until_s: Seconds = 24 * H
    bound_factor: Annotated[float, Range(ge=1.0, le=100.0)] = 2.0
    # The temperature correction's doubt: the rested voltage is brought to 25 °C with the
    # sensor's temperature at ocv_temp_coeff_v_per_c, but a battery's OCV may move that
    # ± temp_coeff_spread_v_per_c (1.5-4.5 mV/°C around the 3 of [SRC 36], a quarter of a mV
    # per cell either way [ENG]) and its core may be up to core_lag_max_s behind the sensor
    # (20 kg of lead and acid, warm from the drive or through a ±10 °C day [ENG]). A normal
    # verdict that wants a raise is confirmed before the drain it measures could take a
    # quarter of the charge (instead of verdict_every_s later) only when its fall is past the
    # warning level even after the most such a battery's V25 can fall over the fit, from the
    # sensor's own history (DrainRule.temp_allowance). 0 and 0: every such raise confirmed early.
    temp_coeff_spread_v_per_c: Annotated[float, Range(ge=0.0, le=0.01)] = 0.0015
    core_lag_max_s: Annotated[float, Range(ge=0.0, le=48 * H)] = 6 * H
    # A modest drain over a long park: 3x the expected sleep current from a 110 Ah battery is
    # only ~16 mV per 12 h, under every level above, yet takes a quarter of the charge in six
    # days. So once the fit has measured the extra current to be at least sustained_factor x
    # the expected sleep current (car_sleep_ma + monitor_draw_ma) and the fall beyond the
    # expected one has reached sustained_fall_mv, the verdict is a warning. The fall is the
    # evidence: more than the surface charge's slow tail after rest_min_s (≲ 35 mV) and a
    # temperature correction off by 1-2 mV/°C over a day's swing (≲ 25 mV) can make [ENG].
    sustained_factor: Annotated[float, Range(gt=0.0, le=100.0)] = 1.0
    sustained_clear_factor: Annotated[float, Range(gt=0.0, le=100.0)] = 0.6
    sustained_fall_mv: Annotated[float, Range(ge=0.0)] = 70.0
    # The state of charge used to turn mV into % (the OCV table's slope) before any resting
    # reading has been seen: a typical well-used battery [ENG].
    assumed_soc_pct: Annotated[float, Range(ge=0, le=100)] = 80.0
    debounce: Debounce = Debounce(for_n=2, clear_for_n=2)

    def check(self) -> None:
        if not self.info_mv_12h < self.warn_mv_12h < self.crit_mv_12h:
            raise ValueError("need info_mv_12h < warn_mv_12h < crit_mv_12h")
        for level in ("info", "warn", "crit"):
            if not getattr(self, f"{level}_clear_mv_12h") < getattr(self, f"{level}_mv_12h"):
                raise ValueError(f"{level}_clear_mv_12h must be below {level}_mv_12h")
        if not self.sustained_clear_factor < self.sustained_factor:
            raise ValueError("sustained_clear_factor must be below sustained_factor")
        if self.early_span_s > self.min_span_s:
            raise ValueError("early_span_s must not exceed min_span_s")
        if self.early_every_s > self.verdict_every_s:
            raise ValueError("early_every_s must not exceed verdict_every_s")


@section
class MainDeclineConfig(Section):
    """Decline of the 12 V battery (§3.1 HI1 and HI2, §3.2 steps 4-5)."""

    ocv_level_v: Volts = 12.2  # §3.2 step 5: rested OCV at 25 °C projected to 12.2 V
    crank_dip_factor: Annotated[float, Range(gt=1.0, le=5.0)] = 1.5  # §3.2 step 5: dip at 1.5 x baseline
    crank_baseline_days: Annotated[float, Range(ge=1, le=365)] = 30.0  # §3.2 step 3
    min_cranks: Count = 30  # §3.2 step 5: n ≥ 30
    # A start dip smaller than this is no measurement of the internal resistance (the trend
    # works on log dips, and a few mV of noise would dominate) [ENG].
    min_dip_v: Volts = 0.05
    # §0.1 "cranking dip ΔV = V_pre - V_min (temperature-normalised) vs own baseline": the
    # current dip against the first weeks', in per cent above (clear levels [ENG]).
    dip_info_pct: Annotated[float, Range(gt=0, le=1000)] = 15.0
    dip_info_clear_pct: Annotated[float, Range(ge=0, le=1000)] = 10.0
    dip_warn_pct: Annotated[float, Range(gt=0, le=1000)] = 25.0
    dip_warn_clear_pct: Annotated[float, Range(ge=0, le=1000)] = 20.0
    dip_crit_pct: Annotated[float, Range(gt=0, le=1000)] = 50.0
    dip_crit_clear_pct: Annotated[float, Range(ge=0, le=1000)] = 40.0
    debounce: Debounce = Debounce(for_n=2, clear_for_n=3)

    def check(self) -> None:
        if not self.dip_info_pct < self.dip_warn_pct < self.dip_crit_pct:
            raise ValueError("need dip_info_pct < dip_warn_pct < dip_crit_pct")
        for level in ("info", "warn", "crit"):
            if not getattr(self, f"dip_{level}_clear_pct") < getattr(self, f"dip_{level}_pct"):
                raise ValueError(f"dip_{level}_clear_pct must be below dip_{level}_pct")


@section
class MainAgeConfig(Section):
    """Calendar age of the 12 V battery (§0.1, §2.7 [SRC 41])."""

    info_years: Annotated[float, Range(gt=0, le=30)] = 4.0
    warn_years: Annotated[float, Range(gt=0, le=30)] = 5.0
    crit_years: Annotated[float, Range(gt=0, le=30)] = 7.0
    # Expected life per type for the remaining-life estimate: AGM 4-6 y, flooded 3-5 y [SRC 41].
    expected_life_agm_years: Annotated[float, Range(gt=0, le=30)] = 5.0
    expected_life_efb_years: Annotated[float, Range(gt=0, le=30)] = 4.5  # [ENG] between the two
    expected_life_flooded_years: Annotated[float, Range(gt=0, le=30)] = 4.0

    def check(self) -> None:
        if not self.info_years < self.warn_years < self.crit_years:
            raise ValueError("need info_years < warn_years < crit_years")


@section
class MainConfig(Section):
    """The 12 V starter battery rules."""

    ocv: OcvTables = OcvTables()
    # OCV reads ≈ 3 mV/°C lower in the cold (§2.3 [SRC 36]).
    ocv_temp_coeff_v_per_c: Annotated[float, Range(ge=0, le=0.05)] = 0.003
    low_voltage: MainLowVoltage = MainLowVoltage()
    cranking: CrankingConfig = CrankingConfig()
    charging: ChargingConfig = ChargingConfig()
    overvoltage: OvervoltageConfig = OvervoltageConfig()
    drain: DrainConfig = DrainConfig()
    decline: MainDeclineConfig = MainDeclineConfig()
    age: MainAgeConfig = MainAgeConfig()
