"""Thresholds and timings of the health analysis: the ``[analysis]`` configuration section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

from battwatch.configbase import Check, Range, Section, section
from battwatch.core.tables import Table, interp

# Every default below carries its source: [SRC n] is listed in docs/sources.md, a dotted §
# mark names the section of the team's working notes it came from (docs/sources.md explains),
# [ENG] marks an engineering choice to tune with real data. docs/analysis.md lists them all
# with the reasoning.

Volts = Annotated[float, Range(ge=0.0, le=40.0)]
Seconds = Annotated[float, Range(ge=0.0, le=400 * 86400.0)]
Count = Annotated[int, Range(ge=1, le=1000)]

H = 3600.0
DAY = 86400.0


def _table(what: str) -> Check:
    """The rule of a lookup table: two points or more, the first column rising, the second never falling."""

    def rule(v: Table) -> None:
        if len(v) < 2:
            raise ValueError(f"{what} needs at least two points")
        xs = [p[0] for p in v]
        ys = [p[1] for p in v]
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError(f"{what}: the first column must rise strictly")
        if any(b < a for a, b in zip(ys, ys[1:], strict=False)):
            raise ValueError(f"{what}: the second column must not fall")

    return Check(rule)


# the subclasses of CellLimits declare their own default, so the rule lives in the type
SocTable = Annotated[Table, _table("soc_table")]
TempCoeff = Annotated[float, Range(ge=-0.01, le=0.01)]


@section
class Debounce(Section):
    """How long a condition must hold before an alert changes (data time)."""

    for_s: Seconds = 0.0  # the condition held this long before raising or escalating
    for_n: Count = 1  # ... and over at least this many observations
    clear_for_s: Seconds = 0.0  # the clear condition held this long before clearing/de-escalating
    clear_for_n: Count = 1


def _below_order(
    info: float | None, info_clear: float | None, warn: float, warn_clear: float, crit: float, crit_clear: float
) -> None:
    """The levels of a 'too low' alert: enter below X, clear above X_clear."""
    if not crit < warn:
        raise ValueError(f"crit_v ({crit}) must be below warn_v ({warn})")
    if not warn_clear > warn:
        raise ValueError(f"warn_clear_v ({warn_clear}) must be above warn_v ({warn})")
    if not crit_clear > crit:
        raise ValueError(f"crit_clear_v ({crit_clear}) must be above crit_v ({crit})")
    if (info is None) != (info_clear is None):
        raise ValueError("info_v and info_clear_v go together")
    if info is not None and info_clear is not None:
        if not info > warn:
            raise ValueError(f"info_v ({info}) must be above warn_v ({warn})")
        if not info_clear > info:
            raise ValueError(f"info_clear_v ({info_clear}) must be above info_v ({info})")


@section
class BelowLevels(Section):
    """Levels of a 'too low' alert: enter below X, clear above X_clear (X_clear > X)."""

    info_v: Volts | None = None
    info_clear_v: Volts | None = None
    warn_v: Volts
    warn_clear_v: Volts
    crit_v: Volts
    crit_clear_v: Volts

    def check(self) -> None:
        _below_order(self.info_v, self.info_clear_v, self.warn_v, self.warn_clear_v, self.crit_v, self.crit_clear_v)


# -- vehicle state -------------------------------------------------------------------------------


@section
class StateConfig(Section):
    """Vehicle state from the 12 V channel (§2.2, §2.4, §2.5, §3.2 step 1)."""

    # A window whose lowest sample sits this far below its average saw loads switching:
    # the car is awake [ENG: asleep windows spread a few mV, awake ones 20-150 mV].
    activity_dip_v: Volts = 0.03
    # A change of the average between consecutive readings this large is activity [ENG].
    activity_step_v: Volts = 0.05
    activity_step_max_gap_s: Seconds = 1800.0  # only between readings this close [ENG]
    # Alternator or charger: an average at or above this means charging (§2.5: 13.5-14.8 V
    # when charging; BMW's smart alternator sits at 12.5-13.0 V between bursts) [ENG].
    charging_v: Volts = 13.2
    # A window maximum this high while awake or running is a charging burst [ENG].
    charging_max_v: Volts = 13.6
    asleep_after_s: Seconds = 900.0  # no activity this long: asleep (BMW sleeps within 60 min, §2.6) [ENG]
    run_exit_s: Seconds = 900.0  # running -> awake after this long without charging evidence [ENG]
    # Cranking: "a drop > 1.0 V within 50 ms while awake" (§2.4) [ENG].
    crank_drop_v: Volts = 1.0
    crank_floor_v: Volts = 3.0  # a dip below this is a dropout or glitch, not a start [ENG]
    crank_pre_min_v: Volts = 10.5  # a battery below this before the dip is not cranking a 12 V engine [ENG]
    # The pre-crank reference is the battery's own voltage: anything above this is the
    # alternator's, so dips while running are measured from here [ENG].
    crank_ref_max_v: Volts = 12.9
    crank_pre_max_age_s: Seconds = 900.0  # the pre-crank voltage must be this recent [ENG]
    crank_confirm_s: Seconds = 900.0  # a dip seen while asleep counts only if activity follows this soon [ENG]
    # Dips closer than this belong to one start: in fast mode (1-s windows) a crank spans a
    # few windows [ENG].
    crank_merge_s: Seconds = 10.0
    # A start attempt followed within this long by another one, with no sign of charging in
    # between, did not start the engine (§0.1 "start failed"): a driver retries within
    # seconds, and with 60-s windows the retry lands in the next window [ENG].
    failed_start_s: Seconds = 120.0
    # A start while the engine was running, within this long of the last charging evidence,
    # is a warm restart (BMW MSA stop-start, §2.4): it continues the drive, is judged like any
    # start, and stays out of the crank-dip trend. Before an MSA stop the car brakes, and BMW
    # charges on braking (§2.5), so the last charging evidence is recent [ENG].
    restart_window_s: Seconds = 300.0
    # Time not covered by any reading while the car is awake or running: the drive (and an
    # open start) ends at the last reading before it, and the rest clock starts afresh after
    # it. An ignition-switched logger leaves such a gap every time the key is off [ENG].
    gap_close_s: Seconds = 600.0
    # Rest: "≥ 4 h, better ≥ 6-24 h after key-off" (§0.1, §2.2 [SRC 27, 28]).
    rest_min_s: Seconds = 4 * H
    # SOS pack rested: vehicle asleep ≥ 2 h (§1.4 item 1).
    sos_rest_min_s: Seconds = 2 * H
    max_window_s: Seconds = 900.0  # the most time one reading without a window stands for [ENG]

    def check(self) -> None:
        if self.crank_floor_v >= self.crank_pre_min_v:
            raise ValueError("crank_floor_v must be below crank_pre_min_v")


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


OcvTable = Annotated[Table, _table("OCV table"), Check(_percent)]


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

    limit_by_temp_c: Annotated[Table, _table("limit_by_temp_c")] = CRANK_TABLE
    # §0.1 "< 8.5 V, or start failed": one such start raises critical at once.
    crit_v: Volts = 8.5
    # §0.1 info "< 10.5 V" at ≥ 21 °C. In the cold a healthy start dips further than the load
    # test's table falls (thicker oil: more starter current; higher resistance), so the level
    # falls to 9.2 V at -12 °C, about 0.5 V above the load-test limit there, and 8.85 V at
    # -20 °C, where a healthy battery cranks to ~8.9-9.3 V [ENG].
    info_by_temp_c: Annotated[Table, _table("info_by_temp_c")] = CRANK_INFO_TABLE
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
        _below_order(self.info_v, self.info_clear_v, self.warn_v, self.warn_clear_v, self.crit_v, self.crit_clear_v)
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


# -- sensors, trends, alerting ---------------------------------------------------------------------


@section
class SensorConfig(Section):
    """Data quality: never a battery alert (§4 "Data quality")."""

    main_open_v: Volts = 1.0  # a 12 V battery never reads this low, even cranking
    sos_open_v: Volts = 0.5
    # Below this a reading is reversed or offset, not merely open [ENG].
    negative_v: Annotated[float, Range(ge=-40.0, le=0.0)] = -0.2
    main_max_v: Volts = 20.0  # above ISO 16750-2 jump-start levels: the ADC, not the car [ENG]
    fault_for_s: Seconds = 60.0  # open / out of range must persist this long [ENG]
    fault_for_n: Count = 3  # ... over this many readings: one glitch raises nothing
    # 0 V with no sign of contact in between is an open wire only after this long: a loose
    # contact in a moving car comes back within minutes and is named as one [ENG]
    open_for_s: Seconds = 600.0
    loose_count: Count = 3  # readings touching 0 V within loose_window_s: a loose contact [ENG]
    loose_window_s: Seconds = H
    stuck_for_s: Seconds = H  # "σ ≈ 0 for hours" (§4) [ENG: one hour of identical windows]
    stuck_min_n: Count = 6
    # Rows without window extremes (average-only logs) carry no noise to judge, and a coarse
    # ADC or a quiet parked battery may repeat a value for hours. There, a value counts as
    # frozen only when something that must move a real reading happened meanwhile [ENG]:
    # the engine ran and charged (12 V) for stuck_running_s ...
    stuck_running_s: Seconds = 600.0
    # ... the car went from rested to charging (SOS: the pack reads 0.1-0.4 V higher on charge)
    # - both only on a channel whose finest step between readings is at most stuck_fine_step_v ...
    stuck_fine_step_v: Volts = 0.01
    # ... or the battery's temperature moved enough to shift a real 12 V reading (3 mV/°C,
    # main.ocv_temp_coeff_v_per_c) by stuck_expect_steps steps of the channel's resolution
    # and by stuck_min_move_v at least, over stuck_for_s and stuck_min_n readings.
    stuck_expect_steps: Count = 5
    stuck_min_move_v: Volts = 0.03
    # When one channel is found frozen, the other one, repeating one value since no later than
    # this after the first one's run began, comes from the same ADC: frozen too.
    stuck_same_start_s: Seconds = 900.0
    silent_gap_s: Seconds = 2 * H  # a gap in the data this long is a silent sensor [ENG]
    silent_gap_factor: Annotated[float, Range(ge=1, le=1000)] = 10.0  # ... and this many usual intervals
    clear_after_s: Seconds = 600.0  # clean data this long clears a fault [ENG]
    loose_clear_after_s: Seconds = H


@section
class TrendConfig(Section):
    """Decline detection and remaining life (§3.2 steps 4-7, §4 trend alerts)."""

    window_days: Annotated[float, Range(ge=7, le=730)] = 90.0
    min_points: Count = 30
    confidence: Annotated[float, Range(gt=0.5, lt=1.0)] = 0.90
    warn_days: Annotated[float, Range(gt=0, le=3650)] = 90.0
    crit_days: Annotated[float, Range(gt=0, le=3650)] = 30.0
    clear_days: Annotated[float, Range(gt=0, le=3650)] = 120.0
    # The trends are refitted this often (days of data): decline is a matter of months, and a
    # robust fit over 90 days costs about a millisecond [ENG].
    fit_every_days: Annotated[int, Range(ge=1, le=60)] = 7
    daily_sample_s: Seconds = 300.0  # at most one rested value per 5 min enters a day's median [ENG]
    # A day's value comes from the first hours of each rest only (§2.2: "median of the readings
    # in key-off + 6 h ... + 8 h"), so a long park's slow self-drain is not read as wear [ENG].
    rest_window_s: Seconds = 4 * H
    # A decline counts only when its slope is steeper than this, per cell, whatever its
    # significance: years of data make a tiny slope significant, and a line falling 0.01 mV a
    # day crosses a level decades away. The floor sits above what neither the battery nor its
    # wear can cause: a temperature coefficient off by half (0.25 mV per cell per °C for NiMH
    # and lead-acid) over a 15 °C seasonal swing within the 90-day window makes 0.04 mV per
    # cell per day; an ADC reference drifting 0.1 % a year moves a 1.3 V cell by 0.004 mV a
    # day [ENG]. 0.05 mV per cell per day is 0.2 mV a day for a 4-cell NiMH pack and 0.3 mV a
    # day for a 12 V battery: about 18 mV (4-cell pack) to 110 mV (12 V) a year.
    min_slope_v_per_cell_day: Annotated[float, Range(ge=0, le=0.01)] = 0.00005
    # A projected crossing later than the end of the battery's expected life (the longest
    # lifespan: SOS lifespan_years max, 12 V main.age.crit_years) plus this many years says
    # "no decline in sight" rather than a date: age decides long before [ENG].
    horizon_years_past_life: Annotated[float, Range(ge=0, le=50)] = 2.0
    # The SOS pack's remaining life never promises more than the last days show: the daily
    # values of the last short_days, once there are short_min_points of them, are fitted every
    # day as well, and where that line reaches the critical level sooner than the long-term one
    # (or there is no long-term one yet) the remaining life and the projected dates follow it.
    # It speaks only for crossings within clear_days; the decline alert stays on the long-term
    # trend [ENG].
    short_days: Annotated[float, Range(ge=3, le=90)] = 14.0
    short_min_points: Annotated[int, Range(ge=3, le=90)] = 5

    def check(self) -> None:
        if not self.crit_days < self.warn_days < self.clear_days:
            raise ValueError("need crit_days < warn_days < clear_days")


@section
class AlertsConfig(Section):
    """Re-notification and flap damping (§4)."""

    renotify_warning_s: Seconds = 24 * H
    renotify_critical_s: Seconds = 2 * H
    renotify_age_s: Seconds = 30 * DAY  # §4: age reminders repeat monthly
    flap_window_s: Seconds = 24 * H  # §4: ≥ 4 toggles in 24 h is flapping
    flap_max: Annotated[int, Range(ge=2, le=100)] = 4
    flap_hold_s: Seconds = 6 * H  # while flapping, clear only after this long clear [ENG]
    # An active alert's current message (health summary, retained MQTT state, `battwatch
    # status`) follows its latest supporting verdict at most this often, so the retained state
    # does not churn with every reading; transitions keep their words [ENG].
    message_refresh_s: Annotated[float, Range(ge=60, le=7 * DAY)] = 1 * H


@section
class LifeConfig(Section):
    """Remaining life in the health summary (docs/analysis.md §6 "Remaining life")."""

    # While a warning about the battery's condition is active (a weak start, a leaking or
    # falling pack: the messages say "plan a replacement"), remaining life is at most this:
    # about one season [ENG].
    warning_cap_years: Annotated[float, Range(gt=0, le=10)] = 0.5
    # Within this of the end of the expected life, remaining life reads "due now" rather than
    # a few weeks either way [ENG].
    due_now_years: Annotated[float, Range(ge=0, le=1)] = 1.0 / 12.0


@section
class ReplacedConfig(Section):
    """The hint that a battery looks new (docs/analysis.md "After a replacement"): said once,
    as information; nothing is reset until the owner confirms the replacement."""

    # the daily rested values compared: this many steady days before the step, this many after
    before_days: Annotated[int, Range(ge=3, le=30)] = 5
    after_days: Annotated[int, Range(ge=2, le=14)] = 3
    # the days before a step must be a steady level (a battery running down or recharging
    # rises and falls gradually; a new one steps) [ENG]
    steady_v_per_cell: Annotated[float, Range(gt=0, le=0.5)] = 0.025
    # pack: every day after at least this far above the level before, per cell: a sagging
    # pack gives way to a fresh one, a shorted cell to four good ones [ENG]
    sos_step_v_per_cell: Annotated[float, Range(gt=0, le=2)] = 0.1
    # 12 V: the rested level (at 25 °C) steps up by this much ...
    main_step_v: Annotated[float, Range(gt=0, le=3)] = 0.1
    # ... and the starts since the step sag at least this much less than the ones before [ENG]
    main_crank_step_v: Annotated[float, Range(gt=0, le=5)] = 0.3


@section
class AnalysisConfig(Section):
    """Every number the analysis uses, with sourced defaults (../docs/analysis.md)."""

    state: StateConfig = StateConfig()
    main: MainConfig = MainConfig()
    sos: SosConfig = SosConfig()
    sensor: SensorConfig = SensorConfig()
    trend: TrendConfig = TrendConfig()
    alerts: AlertsConfig = AlertsConfig()
    life: LifeConfig = LifeConfig()
    replaced: ReplacedConfig = ReplacedConfig()
