"""Thresholds and timings of the health analysis: the ``[analysis]`` configuration section."""

from __future__ import annotations

from typing import Annotated

from battwatch.analysis_config_base import (
    DAY,
    BelowLevels,
    Count,
    Debounce,
    H,
    Seconds,
    SocTable,
    TempCoeff,
    Volts,
    below_order,
    table_check,
)
from battwatch.analysis_config_main import (
    AGM_OCV,
    CRANK_INFO_TABLE,
    CRANK_TABLE,
    EFB_OCV,
    FLOODED_OCV,
    ChargingConfig,
    CrankingConfig,
    DrainConfig,
    MainAgeConfig,
    MainConfig,
    MainDeclineConfig,
    MainLowVoltage,
    OcvTable,
    OcvTables,
    OvervoltageConfig,
)
from battwatch.analysis_config_sos import (
    CellLimits,
    Chemistries,
    LifepoLimits,
    LiIonLimits,
    NimhLimits,
    SosAgeConfig,
    SosConfig,
    SosLowVoltage,
    SosSelfDischarge,
    SosStep,
)
from battwatch.configbase import Range, Section, section
from battwatch.core.tables import Table

# Every default carries its source: [SRC n] is listed in docs/sources.md, a dotted § mark
# names the section of the team's working notes it came from (docs/sources.md explains),
# [ENG] marks an engineering choice to tune with real data. docs/analysis.md lists them all
# with the reasoning. The 12 V and SOS parts live in analysis_config_main/_sos; every name
# stays importable from here.
__all__ = [
    "AGM_OCV", "AlertsConfig", "AnalysisConfig", "BelowLevels", "CRANK_INFO_TABLE", "CRANK_TABLE",
    "CellLimits", "ChargingConfig", "Chemistries", "Count", "CrankingConfig", "DAY", "Debounce",
    "DrainConfig", "EFB_OCV", "FLOODED_OCV", "H", "LiIonLimits", "LifeConfig", "LifepoLimits",
    "MainAgeConfig", "MainConfig", "MainDeclineConfig", "MainLowVoltage", "NimhLimits", "OcvTable",
    "OcvTables", "OvervoltageConfig", "ReplacedConfig", "Seconds", "SensorConfig", "SocTable",
    "SosAgeConfig", "SosConfig", "SosLowVoltage", "SosSelfDischarge", "SosStep", "StateConfig",
    "Table", "TempCoeff", "TrendConfig", "Volts", "below_order", "table_check",
]

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
