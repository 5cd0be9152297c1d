"""The analyzer on hand-made readings: vehicle state, every rule, sensor faults, persistence."""

from __future__ import annotations

import json
import math
from collections import deque
from typing import Any

import pytest

from battwatch import config
from battwatch.core.analysis import build_analyzer
from battwatch.core.analysis.analyzer import BatteryAnalyzer
from battwatch.core.analysis.engine import CRITICAL, WARNING
from battwatch.core.healthsummary import SUMMARY_VERSION, from_json
from battwatch.core.model import AlertTransition, Reading

T0 = 1_736_121_600.0  # 2025-01-06 00:00 UTC
H = 3600.0


def make(main: dict[str, Any] | None = None, sos: dict[str, Any] | None = None,
         analysis: dict[str, Any] | None = None) -> BatteryAnalyzer:
    raw: dict[str, Any] = {"vehicle": {"id": "car"}, "battery": {"main": main or {}, "sos": sos or {}}}
    if analysis:
        raw["analysis"] = analysis
    an = build_analyzer(config.from_dict(raw, env={}), record=True)
    assert isinstance(an, BatteryAnalyzer)
    return an


class Car:
    """Feeds an analyzer readings shaped like the device's windows (600 s parked, 60 s awake)."""

    def __init__(self, an: BatteryAnalyzer, t: float = T0) -> None:
        self.an = an
        self.t = t
        self.out: list[AlertTransition] = []
        self.states: list[str] = []
        self.sos = 5.30
        self.temp: float | None = 15.0

    def feed(self, r: Reading) -> list[AlertTransition]:
        got = [x for x in self.an.feed(r) if isinstance(x, AlertTransition)]
        self.out.extend(got)
        self.states.append(self.an.vehicle_state)
        self.t = r.t
        return got

    def reading(self, v: float | None, lo: float | None, hi: float | None, dt: float,
                sos: float | None = None, window: bool = True) -> list[AlertTransition]:
        s = self.sos if sos is None else sos
        return self.feed(Reading(self.t + dt, v, lo, hi, s, s - 0.002, s + 0.002, self.temp, dt if window else 0.0))

    def park(self, hours: float, v: float = 12.70, dv_per_h: float = 0.0, sos_dv_per_h: float = 0.0,
             step: float = 600.0) -> None:
        for _ in range(int(hours * H / step)):
            self.reading(v, v - 0.003, v + 0.003, step)
            v += dv_per_h * step / H
            self.sos += sos_dv_per_h * step / H

    def awake(self, minutes: int, v: float = 12.55) -> None:
        for _ in range(minutes):
            self.reading(v, v - 0.08, v + 0.01, 60.0)

    def start(self, v_min: float, after: float = 13.8) -> None:
        self.reading(after, v_min, 14.6, 60.0)

    def drive(self, minutes: int, avg: float = 13.4, hi: float = 14.6, lo: float = 12.6) -> None:
        for _ in range(minutes):
            self.reading(avg, lo, hi, 60.0)

    def trip(self, v_min: float = 10.6, minutes: int = 30, avg: float = 13.4, hi: float = 14.6,
             pre: float = 12.55, post: float = 12.75) -> None:
        self.awake(3, pre)
        self.start(v_min)
        self.drive(minutes, avg, hi)
        self.awake(3, post)

    def seen(self) -> list[tuple[str, str, str, str]]:
        return [(tr.battery, tr.alert, tr.severity, tr.state) for tr in self.out]


# -- vehicle state ---------------------------------------------------------------------------------


def test_states_follow_the_car_through_a_day() -> None:
    car = Car(make())
    car.park(1)
    assert car.states[0] == "awake" and car.states[-1] == "asleep"  # nothing known before the log
    car.park(4)
    assert car.states[-1] == "resting"
    n = len(car.states)
    car.awake(3)
    car.start(10.6)
    car.drive(20)
    assert car.states[n:n + 3] == ["awake"] * 3
    assert car.states[n + 3] == "cranking"
    assert set(car.states[n + 4:]) == {"running"}
    car.awake(5, 12.75)
    car.park(5)
    assert car.states[-1] == "resting"
    assert "asleep" in car.states[-30:]
    rd = car.an.report_data()
    assert [round(c.v_min, 2) for c in rd.cranks] == [10.6]
    assert rd.cranks[0].v_pre == pytest.approx(12.55) and rd.cranks[0].dip_v == pytest.approx(1.95)
    assert len(rd.drives) == 1 and rd.drives[0].charged
    assert rd.drives[0].duration_s == pytest.approx(20 * 60, abs=60)
    assert car.out == []


def test_a_lone_dip_in_a_sleeping_car_is_a_glitch_unless_the_car_wakes() -> None:
    car = Car(make())
    car.park(6)
    car.reading(12.70, 9.0, 12.71, 600.0)  # one bad sample in a parked window
    car.park(2)
    assert car.an.report_data().cranks == []
    assert car.states[-1] == "resting"  # the glitch did not restart the rest clock
    # a window that holds both the key-on and the start (slow cadence): the activity after it confirms it
    car.reading(12.60, 9.5, 12.71, 600.0)
    car.drive(10)
    assert [round(c.v_min, 1) for c in car.an.report_data().cranks] == [9.5]


def test_engine_stop_with_heavy_loads_is_not_a_start() -> None:
    car = Car(make())
    car.park(6)
    car.trip(10.8)
    # the engine stops with the heater on: the whole window sits low, no brief dip
    car.reading(11.85, 11.75, 11.95, 60.0)
    car.awake(5, 11.85)
    assert len(car.an.report_data().cranks) == 1


def test_a_drive_without_charging_ends_with_its_last_activity() -> None:
    car = Car(make())
    car.park(6)
    car.awake(2)
    car.start(10.6, after=12.5)
    car.drive(25, avg=12.45, hi=12.55, lo=12.35)
    car.park(3, v=12.55)
    d = car.an.report_data().drives[-1]
    assert not d.charged
    assert d.duration_s == pytest.approx(25 * 60, abs=120)
    assert d.avg_v == pytest.approx(12.45, abs=0.01)


# -- 12 V rules ------------------------------------------------------------------------------------


def test_low_voltage_is_judged_at_rest_and_corrected_for_temperature() -> None:
    warm = Car(make())
    warm.temp = 25.0
    warm.park(4.5, v=12.35)
    assert warm.seen() == []  # not rested yet / not long enough
    warm.park(2, v=12.35)
    assert warm.seen() == [("main", "low_voltage", "warning", "raised")]
    assert "12.35 V" in warm.out[0].message and "about 55 % charged" in warm.out[0].message
    # the same 12.35 V at -10 °C is 12.455 V at 25 °C: a cold battery, not an empty one
    cold = Car(make())
    cold.temp = -10.0
    cold.park(8, v=12.35)
    assert cold.seen() == [("main", "low_voltage", "info", "raised")]
    # recovery: above the warning's clear level but below the information level's, then above all
    warm.park(8, v=12.62)
    assert warm.seen()[-1] == ("main", "low_voltage", "info", "raised")
    warm.park(8, v=12.70)
    assert warm.seen()[-1] == ("main", "low_voltage", "info", "cleared")


def test_low_voltage_critical_and_dead_cell() -> None:
    car = Car(make())
    car.temp = 25.0
    car.park(8, v=11.9)
    assert car.seen() == [("main", "low_voltage", "critical", "raised")]
    car2 = Car(make())
    car2.park(1)
    car2.awake(150, v=10.3)  # any state but cranking
    assert ("main", "low_voltage", "critical", "raised") in car2.seen()
    assert "cells are probably shorted" in car2.out[-1].message


def test_isolated_low_samples_of_an_ignition_switched_average_only_log_raise_nothing() -> None:
    """A logger powered with the ignition writes its first row at the start; without min/max
    columns that row is one low sample after a long gap, never shown as cranking. Such samples
    days apart are no dead cell: a run of evidence is."""
    car = Car(make(analysis={"sensor": {"silent_gap_s": 2 * 86400.0}}))  # as for such a logger

    def row(dt: float, v: float) -> None:  # an average-only row: no window, no extremes
        car.feed(Reading(car.t + dt, v, None, None, 5.3, None, None, 10.0, 0.0))

    for _ in range(6):  # a week of morning drives
        row(13 * H, 10.45)  # the start, caught as one sample after the night's gap
        for _ in range(30):
            row(60.0, 14.1)
        for _ in range(3):
            row(60.0, 12.7)
    assert car.seen() == []
    # the same battery held at 10.3 V while awake for hours (a logger with extremes shows the
    # car awake) is a dead cell
    car.awake(150, v=10.3)
    assert car.seen() == [("main", "low_voltage", "critical", "raised")]


def test_weak_cranking_uses_the_temperature_table_and_needs_two_starts() -> None:
    car = Car(make())
    car.temp = 20.0
    car.park(8)
    car.trip(9.3)
    assert car.seen() == []  # one weak start is not enough
    car.park(8)
    car.trip(9.25)
    assert car.seen() == [("main", "weak_cranking", "warning", "raised")]
    msg = car.out[0].message
    assert "9.25 V" in msg and "9.57 V" in msg and "20.0 °C" in msg  # 9.575 V between 17 °C and 21 °C
    # lower starts at -12 °C are fine (limit 8.7 V, information level 9.2 V)
    cold = Car(make())
    cold.temp = -12.0
    cold.park(8)
    for _ in range(3):
        cold.trip(9.3)
        cold.park(8)
    assert cold.seen() == []
    # good starts clear it after three (above the information level, 10.46 V at 20 °C, + 0.2 V)
    for _ in range(3):
        car.park(8)
        car.trip(10.8)
    assert car.seen()[-1] == ("main", "weak_cranking", "warning", "cleared")


def test_without_a_temperature_the_charging_voltage_after_a_start_bounds_its_temperature() -> None:
    car = Car(make())
    car.temp = None
    car.park(8)
    for v in (9.0, 8.95):
        car.trip(v)  # the alternator charges at 14.6 V after each start
        car.park(8)
    assert car.seen() == [("main", "weak_cranking", "warning", "raised")]
    msg = car.out[0].message
    # 14.6 V is 0.2 V above the lowest set-point at 25 °C (14.4 V); at the least compensation
    # (18 mV/°C) the battery was at least 25 - 11.1 = 13.9 °C: limit 9.45 V
    assert "the 14.60 V the alternator charged at after the start shows at least 13.9 °C" in msg
    assert "the 9.46 V load-test limit at 13.9 °C" in msg
    # judged once the charging voltage had shown (thermometer_s after the start), not before
    start = car.an.report_data().cranks[1].t
    assert car.out[0].t == pytest.approx(start + 300.0, abs=60.0)
    # the same starts at a measured 20 °C quote that temperature and its limit
    warm = Car(make())
    warm.temp = 20.0
    warm.park(8)
    for v in (9.0, 8.95):
        warm.trip(v)
        warm.park(8)
    assert "the 9.57 V load-test limit at 20.0 °C" in warm.out[0].message
    assert "no battery temperature reading" not in warm.out[0].message


def test_without_a_temperature_a_low_start_at_the_charging_ceiling_is_information_that_says_why() -> None:
    """At the regulator's ceiling (14.8 V) the start may have been on a frosty morning, when a
    used battery cranks this low, or on a warm day, when only a weak one does: information."""
    car = Car(make())
    car.temp = None
    car.park(8)
    for v in (9.0, 9.3, 8.9):
        car.trip(v, hi=14.82)
        car.park(8)
    assert car.seen() == [("main", "weak_cranking", "info", "raised")]
    msg = car.out[0].message
    assert "cannot tell whether the battery is worn or the morning was cold" in msg
    assert "above 8.55 V, the load-test limit at -18 °C, the coldest it may have been" in msg
    assert "below 9.60 V, the limit at 21 °C" in msg
    assert "warmer than about 4 °C" in msg  # 9.3 V fails the load test from 4 °C up
    # under the coldest limit it fails the load test whatever the temperature: a warning
    for v in (8.52, 8.53):
        car.trip(v, hi=14.82)
        car.park(8)
    assert car.seen()[-1] == ("main", "weak_cranking", "warning", "raised")
    assert "judged as if at -18 °C, the coldest it may have been" in car.out[-1].message
    # nor does a regen burst above the ceiling or a drive without a charging plateau tell a temperature
    rules = car.an.main
    assert rules._warmest_bound(15.4) is None and rules._warmest_bound(13.1) is None


def test_an_average_only_log_gives_no_charging_bound() -> None:
    """A minute's average mixes the low set-point in and would read warm: no bound from it."""
    car = Car(make())
    car.temp = None
    car.park(8)
    for v in (9.0, 8.95):
        car.awake(3)
        car.reading(13.8, v, 13.8, 60.0)  # the start's window: its minimum, no maximum above the average
        car.drive(30, avg=14.6, hi=14.6, lo=14.6)  # averages only
        car.awake(3, 12.75)
        car.park(8)
    assert [round(c.v_min, 2) for c in car.an.report_data().cranks] == [9.0, 8.95]
    assert car.seen() == [("main", "weak_cranking", "info", "raised")]
    assert "cannot tell" in car.out[0].message


def test_a_start_that_cannot_be_judged_does_not_break_a_run_of_weak_ones() -> None:
    car = Car(make())
    car.temp = None
    car.park(8)
    car.trip(9.0, hi=14.6)  # under the 9.46 V limit the charging voltage shows
    car.park(8)
    car.trip(8.9, hi=14.82)  # at the ceiling: cannot be judged
    car.park(8)
    car.trip(9.05, hi=14.6)
    car.park(2)
    assert [x[2] for x in car.seen()] == ["info", "warning"]


def test_a_start_just_above_the_limit_holds_the_warning_and_says_where_it_ends() -> None:
    car = Car(make())
    car.temp = 20.0
    for v in (9.3, 9.25):
        car.park(8)
        car.trip(v)
    assert car.seen() == [("main", "weak_cranking", "warning", "raised")]
    # 9.65 V beats the 9.57 V limit but not the 9.77 V that ends the alert (limit + 0.2 V)
    car.park(8)
    car.trip(9.65)
    assert car.seen() == [("main", "weak_cranking", "warning", "raised")]
    (slot,) = [s for s in car.an.engine.active("main") if s.alert == "weak_cranking"]
    assert "9.65 V" in slot.now_message
    assert "only just above the limit (the alert ends from 9.77 V)" in slot.now_message
    # the transition's own words stay those of the start that raised it
    assert "9.25 V" in car.out[0].message and "only just above" not in car.out[0].message


def test_weak_cranking_information_level_is_10_5_v_when_warm() -> None:
    car = Car(make())
    car.temp = 21.0
    for v in (10.4, 10.3):
        car.park(8)
        car.trip(v)
    assert car.seen() == [("main", "weak_cranking", "info", "raised")]
    assert "below the 10.50 V information level" in car.out[0].message and "9.60 V load-test" in car.out[0].message
    ok = Car(make())
    ok.temp = 21.0
    for _ in range(3):
        ok.park(8)
        ok.trip(10.6)
    assert ok.seen() == []


def test_one_start_below_8_5_v_is_critical_at_once() -> None:
    car = Car(make())
    car.temp = -8.0
    car.park(8)
    car.trip(7.8)
    assert car.seen() == [("main", "weak_cranking", "critical", "raised")]
    assert "7.80 V" in car.out[0].message and "below 8.5 V" in car.out[0].message
    # three good starts clear it
    for _ in range(3):
        car.park(8)
        car.trip(10.4)
    assert car.seen()[-1] == ("main", "weak_cranking", "critical", "cleared")


def failed_attempt(car: Car, v_min: float = 9.9) -> None:
    """A start attempt that does not start the engine: a dip, and no charging after it."""
    car.awake(2)
    car.reading(12.35, v_min, 12.5, 60.0)
    car.awake(1, 12.4)


def test_a_failed_start_is_critical_at_once_even_with_a_good_voltage() -> None:
    car = Car(make())
    car.temp = 5.0
    car.park(8)
    failed_attempt(car)  # the dip alone (9.9 V at 5 °C) is above every limit
    car.start(10.0)  # the second attempt starts the engine
    car.drive(20)
    assert car.seen() == [("main", "weak_cranking", "critical", "raised")]
    msg = car.out[0].message
    assert "did not start the engine" in msg and "9.90 V" in msg and "load-tested" in msg
    starts = car.an.report_data().cranks
    assert [c.failed for c in starts] == [True, False]
    assert len(car.an.main.cranks) == 1  # the failed attempt stays out of the dip trend
    assert len(car.an.report_data().drives) == 0 or car.an.report_data().drives[-1].duration_s < 600


def test_a_start_that_runs_the_engine_is_not_failed_by_a_later_restart() -> None:
    car = Car(make())
    car.temp = 15.0
    car.park(8)
    car.awake(2)
    car.start(10.6)  # the window holding the start already shows the alternator charging
    car.reading(12.4, 12.3, 12.5, 60.0)  # the engine stalls
    car.start(10.7)
    car.drive(20)
    assert not any(c.failed for c in car.an.report_data().cranks)
    assert car.seen() == []


def test_a_failed_start_at_a_low_charge_blames_the_charge() -> None:
    car = Car(make())
    car.temp = 25.0
    car.park(8, v=12.25)  # 45 % charged
    failed_attempt(car, 10.0)
    car.start(10.0, after=13.6)
    car.drive(20)
    assert ("main", "weak_cranking", "critical", "raised") in car.seen()
    msg = next(t.message for t in car.out if t.alert == "weak_cranking")
    assert "did not start the engine" in msg and "only about 45 % charged" in msg and "charge it fully" in msg


def test_starts_are_load_tests_only_at_75_percent_charge() -> None:
    car = Car(make())
    car.temp = 25.0
    car.park(8, v=12.45)  # 65 % on the AGM table: charge first, then load-test (§2.4)
    for _ in range(3):
        # under the 9.60 V limit at 25 °C, but within the 0.3 V the low charge explains
        car.trip(9.35, pre=12.3, post=12.4)
        car.park(8, v=12.45)
    assert [a for a in car.seen() if a[1] == "weak_cranking"] == []
    assert car.an.main.cranks == deque()  # nor do they feed the dip trend
    # ... unless a start falls under the critical level: raised at once, blaming the charge
    car.trip(8.2, pre=12.3, post=12.4)
    assert car.seen()[-1] == ("main", "weak_cranking", "critical", "raised")
    msg = car.out[-1].message
    assert "8.20 V" in msg and "only about 65 % charged" in msg and "re-test" in msg
    # the same starts at 80 % charged are judged
    full = Car(make())
    full.temp = 25.0
    full.park(8, v=12.62)
    for _ in range(2):
        full.trip(9.0)
        full.park(8, v=12.62)
    assert full.seen() == [("main", "weak_cranking", "warning", "raised")]


def test_a_start_far_under_the_limit_below_the_charge_gate_asks_for_a_charge() -> None:
    car = Car(make())
    car.temp = 25.0
    car.park(8, v=12.45)  # 65 %: not a load test
    car.trip(9.25, pre=12.3, post=12.4)  # 0.35 V under the 9.60 V limit: more than the charge explains
    car.park(8, v=12.45)
    def crank_alerts() -> list[tuple[str, str, str, str]]:
        return [x for x in car.seen() if x[1] == "weak_cranking"]

    assert crank_alerts() == []  # one start is not enough, as for a charged battery
    car.trip(9.2, pre=12.3, post=12.4)
    assert crank_alerts() == [("main", "weak_cranking", "warning", "raised")]
    msg = next(t.message for t in car.out if t.alert == "weak_cranking")
    assert "9.20 V" in msg and "0.30 V under the 9.60 V load-test limit at 25.0 °C" in msg
    assert "only about 65 % charged" in msg and "charge the battery and re-test" in msg
    assert "replace" not in msg.lower()
    # the summary does not call it "replace now" either
    assert car.an.main.crank_low_charge
    # a start between the limit and the margin neither clears it nor counts against it
    for _ in range(3):
        car.park(8, v=12.45)
        car.trip(9.5, pre=12.3, post=12.4)
    assert crank_alerts()[-1] == ("main", "weak_cranking", "warning", "raised")
    # below 8.5 V it is critical at once, as before
    car.park(8, v=12.45)
    car.trip(8.3, pre=12.3, post=12.4)
    assert crank_alerts()[-1] == ("main", "weak_cranking", "critical", "raised")
    # and a later low-charge start in the warning band does not step it down
    for _ in range(3):
        car.park(8, v=12.45)
        car.trip(9.0, pre=12.3, post=12.4)
    assert crank_alerts()[-1] == ("main", "weak_cranking", "critical", "raised")


def test_the_low_charge_margin_is_configurable() -> None:
    car = Car(make(analysis={"main": {"cranking": {"low_charge_margin_v": 0.8}}}))
    car.temp = 25.0
    car.park(8, v=12.45)
    for _ in range(3):
        car.trip(9.0, pre=12.3, post=12.4)  # 0.6 V under the limit: within a 0.8 V margin
        car.park(8, v=12.45)
    assert [x for x in car.seen() if x[1] == "weak_cranking"] == []


def test_the_charge_gate_is_configurable() -> None:
    car = Car(make(analysis={"main": {"cranking": {"min_soc_pct": 50.0}}}))
    car.temp = 25.0
    car.park(8, v=12.45)  # 65 %: a load test now
    for _ in range(2):
        car.trip(9.0, pre=12.3, post=12.4)
        car.park(8, v=12.45)
    assert ("main", "weak_cranking", "warning", "raised") in car.seen()


def test_stop_start_restarts_continue_the_drive_and_stay_out_of_the_dip_trend() -> None:
    car = Car(make())
    car.temp = 20.0
    car.park(8)
    car.awake(2)
    car.start(10.6)
    for _ in range(4):
        car.drive(5)
        car.reading(12.95, 12.4, 14.5, 60.0)  # braking charges, then the engine stops at a light
        car.reading(13.3, 11.3, 14.4, 60.0)  # ... and restarts warm within the window
    car.drive(10)
    car.awake(3, 12.75)
    car.park(2)
    rd = car.an.report_data()
    assert [c.restart for c in rd.cranks] == [False, True, True, True, True]
    assert len(rd.drives) == 1 and rd.drives[0].duration_s == pytest.approx(38 * 60, abs=60)
    assert len(car.an.main.cranks) == 1  # only the start after the park is trended
    assert car.seen() == []


def test_a_gap_while_awake_or_running_ends_the_drive_and_the_rest_clock() -> None:
    # an ignition-switched logger: nothing between key-off and the next key-on
    car = Car(make(analysis={"sensor": {"silent_gap_s": 172800.0}}))
    car.temp = 15.0
    car.park(1)
    car.trip(10.6, minutes=30)
    car.t += 14 * H  # the night: the logger was off
    # the logger boots after the start: the first reading already shows the engine running
    car.drive(25, avg=13.4)
    car.t += 9 * H
    car.reading(12.60, 12.59, 12.61, 60.0)  # a quiet key-on window: not a rested reading
    assert car.states[-1] != "resting"
    car.awake(3)
    car.start(10.6)
    car.drive(30)
    car.awake(2, 12.75)
    car.park(1)
    drives = car.an.report_data().drives
    assert len(drives) == 3
    assert [round(d.duration_s / 60) for d in drives] == [30, 24, 30]
    assert car.out == []


def test_an_open_start_is_judged_at_a_gap() -> None:
    car = Car(make(analysis={"sensor": {"silent_gap_s": 172800.0}}))
    car.temp = 20.0
    car.park(1)
    car.awake(2)
    car.reading(12.3, 8.0, 12.45, 60.0)  # the battery barely turns the engine, the driver gives up
    car.t += 10 * H
    car.awake(2)
    assert car.seen() == [("main", "weak_cranking", "critical", "raised")]
    assert not car.an.report_data().cranks[0].failed  # what happened next is unknown


def test_post_start_recovery_counts_in_drives_that_charge_poorly() -> None:
    car = Car(make())
    car.temp = 15.0
    car.park(8)
    # a healthy BMW may hold 12.6 V after a start at a high charge: the drive average decides
    for _ in range(2):
        car.awake(2)
        car.start(10.6, after=12.7)
        car.reading(12.6, 12.5, 12.7, 60.0)
        car.drive(25, avg=13.2, hi=14.6)
        car.park(8)
    assert car.seen() == []
    # a drive averaging 12.7 V (warning) whose start was followed by 12.5 V: critical
    for _ in range(2):
        car.awake(2)
        car.start(10.6, after=12.6)
        car.reading(12.5, 12.4, 12.6, 60.0)
        car.drive(25, avg=12.7, hi=13.9)
        car.park(8)
    assert car.seen() == [("main", "undercharging", "critical", "raised")]
    msg = car.out[0].message
    assert "10 s after the start it read only 12.50 V" in msg and "below 12.6 V" in msg
    assert car.an.report_data().drives[-1].recovery_v == pytest.approx(12.5)


def test_a_severity_is_worded_as_itself_while_a_higher_one_is_confirmed() -> None:
    car = Car(make())
    car.park(8)
    car.awake(2)
    car.start(10.6, after=12.6)
    car.drive(30, avg=12.65, hi=12.75, lo=12.5)  # warning territory
    car.park(8, v=12.6)
    car.awake(2)
    car.start(10.6, after=12.5)
    car.drive(30, avg=12.45, hi=12.55, lo=12.35)  # critical territory, not yet confirmed
    car.park(8, v=12.6)
    assert [a for a in car.seen() if a[1] == "undercharging"] == [("main", "undercharging", "warning", "raised")]
    msg = next(t.message for t in car.out if t.alert == "undercharging")
    assert "averaged 12.45 V" in msg and "this becomes critical" in msg
    assert "below 12.5 V on average: the battery is discharging" not in msg
    low = Car(make())
    low.temp = 25.0
    low.park(4.2, v=12.30)  # rested (4 h) below the warning level
    low.park(2.0, v=12.30, dv_per_h=-0.2)  # sinking: below 12.00 V after 1.5 h
    # (a fall of 0.2 V an hour is a drain too, by the bounded looks: parasitic_drain is its own)
    lows = [t for t in low.out if t.alert == "low_voltage"]
    assert [(t.severity, t.state) for t in lows] == [("warning", "raised")]  # 2 h below 12.40 V
    msg = lows[0].message
    assert "below the 12.40 V warning level" in msg and "already past the 12.00 V critical level" in msg
    low.park(2.0, v=11.90)
    lows = [t for t in low.out if t.alert == "low_voltage"]
    assert (lows[-1].severity, lows[-1].state) == ("critical", "raised")  # 2 h below 12.00 V
    assert "below the 12.00 V critical level" in lows[-1].message


def test_the_drive_maximum_is_judged_only_where_the_rows_show_peaks() -> None:
    # 5-min average-only rows of a healthy 25-min drive: the alternator holds 14.2-14.6 V on
    # overrun and sags to 13.0 V between, so no 5-min average reaches 13.8 V; the average
    # (13.4-13.5 V) is a healthy one, and the maximum of such rows is no peak
    car = Car(make())
    car.park(8)
    for _ in range(3):
        car.awake(2)
        car.start(10.6, after=13.5)
        for v in (13.45, 13.6, 13.4, 13.55, 13.5):
            car.reading(v, v, v, 300.0)
        car.awake(3, 12.75)
        car.park(8)
    assert [x for x in car.seen() if x[1] == "undercharging"] == []
    # the same averages in 60-s rows that report their peaks: a drive that never went above
    # 13.6 V is an alternator that never charged fully
    car = Car(make())
    car.park(8)
    for _ in range(2):
        car.awake(2)
        car.start(10.6, after=13.5)
        for v in (13.45, 13.6, 13.4, 13.55, 13.5):
            for _ in range(5):
                car.reading(v, v - 0.1, 13.6, 60.0)
        car.awake(3, 12.75)
        car.park(8)
    assert [x for x in car.seen() if x[1] == "undercharging"] == [("main", "undercharging", "warning", "raised")]


def test_undercharging_judges_whole_drives() -> None:
    car = Car(make())
    car.park(8)
    # a BMW smart alternator: 12.5-13.0 V most of the drive with charging bursts
    for _ in range(3):
        car.awake(2)
        car.start(10.6, after=13.8)
        for i in range(30):
            car.reading(12.75 if i % 3 else 13.9, 12.55, 12.9 if i % 3 else 14.6, 60.0)
        car.park(8)
    assert car.seen() == []
    # a failing alternator: no charging bursts, the battery barely holds its own
    for _ in range(2):
        car.awake(2)
        car.start(10.6, after=12.65)
        car.drive(30, avg=12.65, hi=12.72, lo=12.55)
        car.park(8, v=12.6)
    assert car.seen() == [("main", "undercharging", "warning", "raised")]
    assert "averaged 12.65" in car.out[0].message and "13.8 V" in car.out[0].message
    for _ in range(2):
        car.awake(2)
        car.start(10.6, after=12.4)
        car.drive(30, avg=12.35, hi=12.45, lo=12.25)
        car.park(8, v=12.5)
    assert car.seen()[-1] == ("main", "undercharging", "critical", "raised")


def test_overvoltage_sustained_immediate_and_held_between_drives() -> None:
    car = Car(make())
    car.park(8)
    car.awake(2)
    car.start(10.6, after=15.2)
    assert car.seen() == []  # the start's own window is not judged
    car.drive(1, avg=15.2, hi=15.3, lo=15.1)
    assert car.seen() == []  # one minute at 15.2 V may be a regenerative burst on overrun
    car.drive(1, avg=15.2, hi=15.3, lo=15.1)
    assert car.seen() == [("main", "overvoltage", "warning", "raised")]  # two 60 s windows: 120 s
    car.drive(1, avg=15.6, hi=15.8, lo=15.3)
    assert car.seen()[-1] == ("main", "overvoltage", "warning", "raised")
    car.drive(10, avg=15.6, hi=15.8, lo=15.3)
    assert car.seen()[-1] == ("main", "overvoltage", "critical", "raised")
    car.awake(3, 12.8)
    car.park(10)
    assert len(car.out) == 2  # parked: no evidence either way, the alert stays
    car.trip(10.6, avg=14.2, hi=14.6)
    assert car.seen()[-1] == ("main", "overvoltage", "critical", "cleared")
    fresh = Car(make())
    fresh.park(8)
    fresh.awake(2)
    fresh.start(10.6, after=14.0)
    fresh.reading(16.3, 15.9, 16.6, 60.0)
    assert fresh.seen() == [("main", "overvoltage", "critical", "raised")]
    assert "16 V" in fresh.out[0].message or "16.0 V" in fresh.out[0].message


def test_overvoltage_information_level_above_14_9_v() -> None:
    car = Car(make())
    car.park(8)
    car.awake(2)
    car.start(10.6)
    car.drive(3, avg=14.95, hi=15.0, lo=14.8)
    assert car.seen() == [("main", "overvoltage", "info", "raised")]
    assert "14.95 V" in car.out[0].message and "14.9 V information level" in car.out[0].message
    car.drive(3, avg=14.5, hi=14.7, lo=14.2)
    assert car.seen()[-1] == ("main", "overvoltage", "info", "cleared")
    ok = Car(make())
    ok.park(8)
    ok.trip(10.6, avg=14.6, hi=14.8)  # BMW's own maximum, 14.8 V
    assert ok.seen() == []


def test_a_load_dump_spike_in_one_window_maximum_is_not_an_overvoltage() -> None:
    car = Car(make())
    car.park(8)
    car.awake(2)
    car.start(10.6)
    car.drive(5)
    car.reading(13.9, 12.8, 17.5, 60.0)
    car.drive(10)
    assert car.seen() == []


def test_parasitic_drain_from_the_rested_slope() -> None:
    car = Car(make(main={"capacity_ah": 80}))
    car.temp = 20.0
    car.park(1.5)  # settles
    car.park(40, v=12.70, dv_per_h=-0.0060)  # 72 mV per 12 h
    got = [a for a in car.seen() if a[1] == "parasitic_drain"]
    assert got == [("main", "parasitic_drain", "warning", "raised")]
    msg = next(t.message for t in car.out if t.alert == "parasitic_drain")
    assert "fell 72 mV per 12 h" in msg and "50 mA" in msg
    assert "roughly 0.4" in msg or "roughly 0.5" in msg  # (72 - 7.5) mV / 10 mV per % of 80 Ah over 12 h
    healthy = Car(make())
    healthy.park(1.5)
    healthy.park(7 * 24, v=12.72, dv_per_h=-0.0004)  # 35 mA: 5 mV per 12 h
    assert [a for a in healthy.seen() if a[1] == "parasitic_drain"] == []


def drain_park(car: Car, hours: float, v25: float, mv_per_h: float, temp: float = 15.0,
               swing_c: float = 0.0, coeff_error: float = 0.0, surface_v: float = 0.0) -> float:
    """A park from key-off (``car.t``) on; returns the key-off time. The rested voltage at 25 °C
    falls ``mv_per_h``; the temperature swings ±``swing_c`` over the day and the battery's own
    temperature coefficient is off from the analysis' by ``coeff_error`` V/°C; a surface charge
    of ``surface_v`` fades with a 2.5 h time constant."""
    key_off = car.t
    for i in range(1, int(hours * 6) + 1):
        h = i / 6.0
        car.temp = temp + swing_c * math.sin(2.0 * math.pi * h / 24.0)
        v = (v25 - mv_per_h * h / 1000.0 - (0.003 + coeff_error) * (25.0 - car.temp)
             + surface_v * math.exp(-h / 2.5))
        car.reading(v, v - 0.003, v + 0.003, 600.0)
    return key_off


def drain_alerts(car: Car, since: float) -> list[tuple[float, str]]:
    """(hours after ``since``, severity) of each parasitic_drain transition."""
    return [((t.t - since) / H, t.severity) for t in car.out if t.alert == "parasitic_drain"]


def test_a_heavy_drain_warns_before_half_charge_and_is_critical_within_a_day() -> None:
    car = Car(make(main={"capacity_ah": 70}))
    car.trip()
    # 1.2 A extra (1.25 A in all) from a 70 Ah AGM: 1.8 % an hour, ~18 mV an hour; from 80 %
    # (12.60 V at 25 °C) it is at half charge (12.30 V) ~17 h after key-off
    key_off = drain_park(car, 30, v25=12.60, mv_per_h=17.9)
    got = drain_alerts(car, key_off)
    assert [sev for _, sev in got] == ["warning", "critical"]
    # the first looks fit 2-h stretches from the first rested reading (4 h after key-off):
    # ~215 mV per 12 h beyond the sleep current is past 3x the warning level in the stretch
    # to 6 h and in the one to 8 h, which raises (before, only the 8 h fit spoke: ~13 h)
    assert 7.5 <= got[0][0] <= 8.5
    # 8 h of fit give a normal verdict past the 150 mV critical level, and the next comes an
    # hour later instead of 12 h: the debounce's second verdict at ~17 h
    assert 16.5 <= got[1][0] <= 18.0
    warn = next(t.message for t in car.out if t.alert == "parasitic_drain")
    assert "roughly 1.2" in warn and "3x the 50 mV warning level" in warn
    # at ~8 h the battery is at ~66 %: about 9 hours to half charge
    assert "at half charge in about 9 hours" in warn or "at half charge in about 8 hours" in warn
    crit = [t.message for t in car.out if t.alert == "parasitic_drain"][-1]
    assert "past the 150 mV per 12 h critical level" in crit and "half charge" in crit


def test_a_modest_drain_is_judged_at_the_normal_pace() -> None:
    car = Car(make(main={"capacity_ah": 70}))
    car.trip()
    # 0.4 A extra: ~69 mV per 12 h, past the 50 mV warning level but under the 100 mV early bar
    key_off = drain_park(car, 40, v25=12.70, mv_per_h=5.7)
    got = drain_alerts(car, key_off)
    # verdicts at 16 h and 28 h after key-off (8 h rest + 8 h, then 12 h): raised by the second
    assert len(got) == 1 and got[0][1] == "warning" and 27.5 <= got[0][0] <= 28.5


def test_healthy_week_long_parks_stay_below_a_warning() -> None:
    # 50 mA of sleep current (0.7 mV an hour), a fresh surface charge, a day-night swing of
    # ±8-10 °C and the battery's temperature coefficient off by a third or two thirds (the last
    # one fools the short early looks into a warning with early_factor 1.5; 2 leaves a margin)
    for coeff_error, swing in ((0.0, 0.0), (0.001, 8.0), (-0.001, 8.0), (0.002, 10.0)):
        car = Car(make(main={"capacity_ah": 70}))
        car.trip()
        key_off = drain_park(car, 7 * 24, v25=12.72, mv_per_h=0.7, swing_c=swing,
                             coeff_error=coeff_error, surface_v=0.3)
        assert {sev for _, sev in drain_alerts(car, key_off)} <= {"info"}, (coeff_error, swing)


def test_early_drain_looks_are_configurable() -> None:
    # an early factor of 5 puts the bar of a heavy drain at 250 mV per 12 h: the 1.2 A drain
    # (~210 mV) gets no early looks, and is judged at the normal span: critical from the
    # verdict at 16 h after key-off, confirmed an hour later (by its own measure a quarter of
    # the charge is gone at ~15 h, so the second verdict cannot wait 12 h; bounded looks off)
    car = Car(make(main={"capacity_ah": 70},
                   analysis={"main": {"drain": {"early_factor": 5.0, "surface_max_v": 0.0}}}))
    car.trip()
    key_off = drain_park(car, 30, v25=12.60, mv_per_h=17.9)
    got = drain_alerts(car, key_off)
    assert [sev for _, sev in got] == ["critical"] and 16.5 <= got[0][0] <= 17.5


def test_the_monitor_draw_is_expected_not_blamed() -> None:
    heavy = Car(make(main={"monitor_draw_ma": 300}))
    heavy.temp = 20.0
    heavy.park(1.5)
    heavy.park(40, v=12.70, dv_per_h=-0.0035)  # 42 mV per 12 h: the Pi's own 300 mA
    assert [a for a in heavy.seen() if a[1] == "parasitic_drain"] == []


def test_start_dips_against_their_own_baseline() -> None:
    # short windows, so that a step in the dips leaves the trend's window within weeks: after
    # the first 10 days (the baseline) every dip is 20 % deeper at the same temperature
    car = Car(make(analysis={"trend": {"window_days": 20, "min_points": 5},
                             "main": {"decline": {"crank_baseline_days": 10, "min_cranks": 10}}}))

    def days(first: int, last: int, factor: float) -> None:
        for day in range(first, last):
            car.temp = 10.0 + 8.0 * math.sin(day)  # the dips are normalised for temperature
            car.park(20)
            car.trip(12.55 - 1.6 * (1.0 + 0.012 * (25.0 - car.temp)) * factor)

    days(0, 12, 1.0)
    assert car.seen() == []
    days(12, 50, 1.2)
    # while the window holds the step it is a steep trend (projected to 1.5 x soon); once the
    # window holds only the new level, that level decides: +20 % is the information level
    assert ("main", "decline", "critical", "raised") in car.seen()
    assert car.seen()[-1] == ("main", "decline", "info", "raised")
    msg = car.out[-1].message
    assert "start dips are +20 %" in msg and "information from +15 %" in msg and "Nothing to do yet" in msg
    assert car.an.summary(car.t).to_json()["main"]["trend"]["crank_dip_ratio"] == pytest.approx(1.2, abs=0.01)
    days(50, 85, 1.3)
    assert car.seen()[-1] == ("main", "decline", "warning", "raised")
    msg = car.out[-1].message
    assert "start dips are +30 %" in msg and "warning from +25 %" in msg and "1.5 x" not in msg


def test_age_bands_from_the_installation_date() -> None:
    car = Car(make(main={"installed": "2019-06-01", "type": "flooded"}, sos={"installed": "2020-02-01"}))
    car.park(1)
    assert car.seen() == [("main", "age", "warning", "raised"), ("sos", "age", "warning", "raised")]
    assert "5.6 years old" in car.out[0].message and "flooded" in car.out[0].message
    assert "4-7 years" in car.out[1].message and "at most 2.1 years" in car.out[1].message
    summary = car.an.summary(car.t).to_json()
    # inside the window of their age warnings: half of what is left of it (docs/analysis.md §6),
    # in the words of the warnings, not "overdue" (past the flooded battery's expected 4 years)
    main, sos = summary["main"], summary["sos"]
    assert main["remaining_life_basis"] == "age" and main["remaining_life_years"] == pytest.approx(0.7, abs=0.02)
    assert main["remaining_life_text"] == (
        "in its replacement window: expected life of 4 years reached, at most 1.4 years left")
    assert "at most 1.4 years left before the 7-year mark" in car.out[0].message
    assert sos["remaining_life_years"] == pytest.approx((7.0 - 4.93) / 2.0, abs=0.02)
    assert sos["remaining_life_text"] == "in its replacement window: at most 2.1 years left"


# -- SOS rules -------------------------------------------------------------------------------------


def test_sos_low_voltage_per_chemistry_and_cells() -> None:
    car = Car(make(sos={"chemistry": "li-ion", "cells": 1}))
    car.sos = 3.55
    car.park(30)
    assert car.seen() == [("sos", "low_voltage", "warning", "raised")]  # after 24 h rested
    assert "3.55 V" in car.out[0].message and "1-cell Li-ion" in car.out[0].message
    nimh = Car(make())
    nimh.sos = 4.30  # 1.075 V per cell
    nimh.park(9)
    assert nimh.seen() == [("sos", "low_voltage", "critical", "raised")]  # critical after 6 h
    assert "$150-300" in nimh.out[0].message and "TCU" not in nimh.out[0].message


def nimh_pack(**nimh: Any) -> BatteryAnalyzer:
    """An analyzer whose NiMH limits have some keys changed (``analysis.sos.chemistry.nimh``)."""
    raw: dict[str, Any] = {"vehicle": {"id": "car"}, "battery": {"main": {}, "sos": {}},
                           "analysis": {"sos": {"chemistry": {"nimh": nimh}}}}
    an = build_analyzer(config.from_dict(raw, env={}))
    assert isinstance(an, BatteryAnalyzer)
    return an


def test_pack_voltage_is_judged_at_the_reference_temperature() -> None:
    def cold_week(**nimh: Any) -> Car:
        car = Car(nimh_pack(**nimh))
        car.temp = -10.0
        car.sos = 5.14 - 0.002 * 30  # 1.285 V per cell at 20 °C, read 2 mV/°C lower at -10 °C
        car.park(40)
        return car

    assert cold_week().seen() == []
    raw = cold_week(temp_coeff_v_per_c=0.0)  # without the correction the cold reads as a low pack
    assert raw.seen() == [("sos", "low_voltage", "info", "raised")]
    s = cold_week().an.summary(T0).to_json()["sos"]
    assert s["rested_voltage"] == pytest.approx(5.08) and s["rested_voltage_corrected"] == pytest.approx(5.14)
    low = Car(make())
    low.temp = -10.0
    low.sos = 4.80 - 0.06
    low.park(30)
    assert "rested at 4.74 V at -10.0 °C, 4.80 V at 20 °C (1.20 V per cell)" in low.out[0].message


def test_cooling_nights_are_not_self_discharge() -> None:
    def nights(**nimh: Any) -> Car:
        car = Car(nimh_pack(**nimh))
        for night in range(12):
            cooling = 1.0 if night >= 8 else 0.2  # cold snaps after the baseline parks
            car.temp = 20.0
            for _ in range(14 * 6):  # 14 h parked, 12 mV a day of true self-discharge
                car.reading(12.70, 12.697, 12.703, 600.0)
                car.sos -= 0.012 / 144
                car.temp -= cooling * 15.0 / 84  # the night cools 3 or 15 °C ...
                car.sos -= 0.002 * cooling * 15.0 / 84  # ... and the pack reads 2 mV/°C lower
            car.trip()
            car.sos = 5.30
        return car

    assert [a for a in nights().seen() if a[1] == "self_discharge"] == []
    raw = nights(temp_coeff_v_per_c=0.0)
    assert ("sos", "self_discharge", "warning", "raised") in raw.seen()


def test_step_drop_is_sudden_a_slow_fall_is_not() -> None:
    car = Car(make())
    car.park(12)
    car.sos = 4.0  # a cell shorts
    car.park(2)
    assert car.seen() == [("sos", "step_drop", "critical", "raised")]
    assert "5.31 V to 4.01 V" in car.out[0].message and "brought to 20 °C" in car.out[0].message  # 15 °C readings
    slow = Car(make())
    slow.park(24, sos_dv_per_h=-0.04)  # a pack running down: ~1 V a day, 7 mV a window
    assert [a for a in slow.seen() if a[1] == "step_drop"] == []


def test_a_cell_shorting_inside_a_window_is_one_critical_step() -> None:
    car = Car(make())
    car.park(12)
    car.sos = 4.75  # the window the cell shorted in averages the levels before and after
    car.park(1 / 6)
    car.sos = 4.0
    car.park(1)
    assert car.seen() == [("sos", "step_drop", "critical", "raised")]
    assert "shorted" in car.out[0].message and "warning at" not in car.out[0].message


def test_self_discharge_against_the_packs_own_baseline() -> None:
    car = Car(make())
    car.temp = 20.0

    def night(rate_v_per_h: float) -> None:
        car.park(14, sos_dv_per_h=rate_v_per_h)
        car.trip()
        car.sos = 5.30

    for _ in range(8):
        night(-0.000625)  # 15 mV a day at 1.32 V per cell (5 mV per %): 0.75 % a day, the baseline
    assert car.an.sos.pct_per_day(car.an.sos.baselines[2]) == pytest.approx(0.75, abs=0.01)
    for _ in range(2):
        night(-0.002)
    assert [a for a in car.seen() if a[1] == "self_discharge"] == []  # 3 parks needed
    night(-0.002)
    assert [a for a in car.seen() if a[1] == "self_discharge"] == [("sos", "self_discharge", "warning", "raised")]
    msg = next(t.message for t in car.out if t.alert == "self_discharge")
    assert "3.2 x its own normal rate of 0.75 % a day, learned over its first 8 parks this charged" in msg, msg


def soc_volts(soc: float) -> float:
    """The 4-cell NiMH pack voltage at a state of charge, on the analysis' own table."""
    table = ((1.00, 0.0), (1.20, 10.0), (1.25, 80.0), (1.35, 100.0))
    for (v0, s0), (v1, s1) in zip(table, table[1:], strict=False):
        if soc <= s1:
            return 4 * (v0 + (v1 - v0) * (soc - s0) / (s1 - s0))
    return 4 * table[-1][0]


def test_self_discharge_is_compared_like_with_like_per_band_of_charge() -> None:
    # §1.4 item 2: like with like. The same healthy 0.7 % a day moves a half-charged NiMH pack
    # (flat curve, 0.7 mV per cell per %) a seventh as many volts as a full one (5 mV per %).
    car = Car(make())
    car.temp = 20.0

    def night(soc: float, pct_per_day: float) -> None:
        for i in range(14 * 6):
            car.sos = soc_volts(soc - pct_per_day * i / 144)
            car.reading(12.70, 12.697, 12.703, 600.0)
        car.trip()

    for _ in range(8):
        night(50.0, 0.7)  # the first parks: a pack still half charged, ~2 mV a day
    for _ in range(12):
        night(98.0, 0.7)  # charged: ~14 mV a day, the same charge lost
    assert [a for a in car.seen() if a[1] == "self_discharge"] == []
    assert all(b is not None for b in car.an.sos.baselines[1:])
    for _ in range(3):
        night(98.0, 2.0)  # a real leak at full charge is still seen
    assert ("sos", "self_discharge", "warning", "raised") in car.seen()


def test_a_baseline_below_the_healthy_rate_is_not_called_learned() -> None:
    car = Car(make())
    car.temp = 20.0

    def night(pct_per_day: float) -> None:
        for i in range(14 * 6):
            car.sos = soc_volts(95.0 - pct_per_day * i / 144)
            car.reading(12.70, 12.697, 12.703, 600.0)
        car.trip()

    for _ in range(8):
        night(0.2)  # parks that barely moved
    for _ in range(3):
        night(1.6)
    raised = [t for t in car.out if t.alert == "self_discharge"]
    assert [(t.severity, t.state) for t in raised] == [("warning", "raised")]
    # judged against the 20 %-a-month of a healthy NiMH pack (0.66 % a day), and said so
    assert "2.4 x the 0.66 % a day (20 % a month) of a healthy NiMH pack" in raised[0].message, raised[0].message
    assert "its own normal rate" not in raised[0].message


def hot_park(days: int, temp: float, pct_per_day: float) -> Car:
    car = Car(make())
    car.temp = temp
    car.sos = soc_volts(98.0)
    car.park(12)
    car.trip()
    for i in range(days * 144):
        car.sos = soc_volts(98.0 - pct_per_day * i / 144) + 0.002 * (temp - 20.0)  # reads warmer
        car.reading(12.70, 12.697, 12.703, 600.0)
    return car


def test_a_long_hot_park_of_a_healthy_pack_is_information_not_a_warning() -> None:
    # 45 days at 32 °C: a healthy pack loses 20 % a month x 2.3 (doubling per 10 °C), ~68 %
    # of its charge, and rests below the 4.88 V warning level; the drives will recharge it.
    car = hot_park(45, 32.0, 1.5)
    assert car.an.sos.last_rest_vc() < 4.88
    assert car.seen() == [("sos", "low_voltage", "info", "raised")], car.seen()
    msg = car.out[0].message
    assert "days parked at 32 °C on average" in msg and "recharges it while the car is driven" in msg, msg
    s = car.an.summary(car.t).to_json()["sos"]
    assert s["health"] == "good" and s["remaining_life_alert"] is None


def test_a_pack_losing_more_than_a_healthy_one_in_a_park_still_warns_and_empty_is_critical() -> None:
    leaky = hot_park(12, 20.0, 5.5)  # 5.5 % a day: eight times the healthy rate
    assert ("sos", "low_voltage", "warning", "raised") in leaky.seen()
    empty = hot_park(75, 32.0, 1.5)  # healthy, but a park this long and hot empties it
    assert ("sos", "low_voltage", "critical", "raised") in empty.seen()


# -- sensor faults ---------------------------------------------------------------------------------


def test_one_glitch_raises_nothing() -> None:
    car = Car(make())
    car.park(3)
    car.reading(12.70, 0.0, 12.71, 600.0)  # one sample at 0 V
    car.reading(12.70, 12.69, 19.5, 600.0)  # one spike
    car.feed(Reading(car.t + 600, 12.7, 12.69, 12.71, 5.3, 0.0, 5.31, 15.0, 600.0))
    car.park(3)
    assert car.seen() == []


def test_open_wire_holds_the_channels_alerts() -> None:
    car = Car(make())
    car.temp = 25.0
    car.park(8, v=12.35)
    assert car.seen() == [("main", "low_voltage", "warning", "raised")]
    for _ in range(6):
        car.reading(0.02, 0.0, 0.05, 600.0)
    assert car.seen()[-1] == ("main", "sensor_fault", "warning", "raised")
    assert "reads 0.02 V" in car.out[-1].message
    main = car.an.summary(car.t).to_json()["main"]
    assert main["health"] == "unknown" and main["health_reason"].startswith("sensor fault (open)")
    active = [a["alert"] for a in car.an.summary(car.t).to_json()["main"]["alerts"]]
    assert active == ["low_voltage", "sensor_fault"]  # held, not cleared as if recovered
    # the 12 V channel tells the vehicle states apart: faulted, it tells none
    assert car.states[-1] == "unknown" and car.an.summary(car.t).to_json()["state"] == "unknown"
    assert "unknown" not in car.states[:-6]
    car.park(3, v=12.35)
    assert car.seen()[-1] == ("main", "sensor_fault", "warning", "cleared")
    assert car.states[-1] != "unknown" and car.an.summary(car.t).to_json()["state"] != "unknown"
    assert car.seen().count(("main", "low_voltage", "warning", "cleared")) == 0


def test_loose_contact_stuck_value_and_range() -> None:
    car = Car(make())
    car.park(2)
    for i in range(6):
        if i % 2:
            car.reading(12.0, 0.01, 12.71, 60.0)
        else:
            car.reading(12.70, 12.69, 12.71, 60.0)
    assert car.seen() == [("main", "sensor_fault", "warning", "raised")]
    assert "loose" in car.out[0].message
    stuck = Car(make())
    stuck.park(2)
    for _ in range(8):
        stuck.feed(Reading(stuck.t + 600, 12.611, 12.611, 12.611, 5.3, 5.299, 5.301, 15.0, 600.0))
    assert stuck.seen() == [("main", "sensor_fault", "warning", "raised")]
    assert "repeated exactly 12.611 V" in stuck.out[0].message
    rng = Car(make())
    rng.park(2)
    rng.sos = 12.5  # above 2 x 4.8 V + 1 V
    rng.park(1)
    assert rng.seen() == [("sos", "sensor_fault", "warning", "raised")]


def test_a_contact_that_comes_back_is_intermittent_not_an_open_wire() -> None:
    car = Car(make())
    car.park(2)
    car.awake(3)
    for _ in range(4):  # four minutes fully open: could be either
        car.reading(0.08, 0.0, 0.15, 60.0)
    assert car.seen() == []
    car.awake(2)  # contact again
    car.reading(6.1, 0.01, 12.6, 60.0)  # partly open
    assert car.seen() == [("main", "sensor_fault", "warning", "raised")]
    assert "intermittent" in car.out[0].message and "open" not in car.out[0].message
    wire = Car(make())
    wire.park(2)
    wire.awake(3)
    for _ in range(9):
        wire.reading(0.03, 0.0, 0.1, 60.0)
    assert wire.seen() == []  # nine minutes at 0 V and nothing in between: not yet called open
    for _ in range(2):
        wire.reading(0.03, 0.0, 0.1, 60.0)
    assert wire.seen() == [("main", "sensor_fault", "warning", "raised")]
    assert "the wire is open" in wire.out[0].message


def test_rows_without_extremes_are_never_stuck() -> None:
    car = Car(make())
    for _ in range(40):  # a CSV log quantised to 10 mV: the same value for hours is normal
        car.feed(Reading(car.t + 600, 12.64, None, None, 5.3, None, None, 15.0, 0.0))
    assert car.seen() == []


def row(car: Car, v: float | None, sos: float | None, dt: float) -> None:
    """An average-only row (no window extremes), as a logger without them writes it."""
    car.feed(Reading(car.t + dt, v, None, None, sos, None, None, car.temp, 0.0))


def test_average_only_value_held_while_running_is_stuck_unless_the_adc_is_coarse() -> None:
    def run(step: float) -> Car:
        car = Car(make())
        for i in range(48):  # a night: the value moves by the logger's step now and then
            row(car, 12.70 + step * (i % 3 == 0), 5.30 + step * (i % 2), 600.0)
        row(car, 12.55, 5.30, 60.0)
        row(car, 13.80, 5.50, 60.0)  # key-on and start (in a slow row)
        for i in range(40 * 60):  # fast mode: 1-s rows, the 12 V channel frozen at 14.105 V
            row(car, 14.105 if step < 0.01 else 14.10, 5.60 + 0.001 * (i % 7), 1.0)
        return car

    fine = run(0.001)
    assert fine.seen() == [("main", "sensor_fault", "warning", "raised")]
    assert "while the engine ran" in fine.out[0].message and "14.105 V" in fine.out[0].message
    assert fine.out[0].t - T0 - 48 * 600 - 120 <= 16 * 60  # within 10 min + one 5-min look
    coarse = run(0.05)  # a logger in 50 mV steps may well show one value for minutes
    assert coarse.seen() == []


def test_average_only_pack_held_through_rest_and_charge_is_stuck() -> None:
    car = Car(make())
    for i in range(6):  # the pack's logger shows its 1 mV steps ...
        row(car, 12.70, 5.302 - 0.001 * (i % 2), 600.0)
    for i in range(60):  # ... then 10 h asleep: the 12 V channel moves, the pack repeats 5.300 V
        row(car, 12.70 - 0.001 * (i % 4), 5.30, 600.0)
    assert car.seen() == []  # a quiet pack may repeat a value while parked
    row(car, 12.55, 5.30, 60.0)
    row(car, 13.80, 5.30, 60.0)
    for i in range(30):
        row(car, 13.9 + 0.01 * (i % 5), 5.30, 60.0)  # charging, and the pack still reads 5.300 V
    assert car.seen() == [("sos", "sensor_fault", "warning", "raised")]
    assert "both while the car slept and while it charged the pack" in car.out[0].message


def test_average_only_value_held_through_a_temperature_swing_is_stuck_at_fine_resolution() -> None:
    def day(step: float, swing: float) -> Car:
        car = Car(make())
        car.temp = 5.0
        for i in range(24):
            row(car, 12.70 - step * (i % 2), 5.30 + step * (i % 2), 600.0)  # the logger's step
        for i in range(36):  # 6 h: the battery warms by ``swing`` °C, the value does not move
            car.temp = 5.0 + swing * i / 35
            row(car, 12.65, 5.30 + step * (i % 2), 600.0)
        return car

    def faults(car: Car) -> list[AlertTransition]:
        # (the 50 mV fall at 4 h and the temperature-corrected fall after it are a drain's by
        # the bounded looks, judged before the channel is found frozen: parasitic_drain's own)
        return [t for t in car.out if t.alert == "sensor_fault"]

    fine = faults(day(0.001, 12.0))  # 12 °C moves a real 12 V battery by 36 mV: 36 steps of 1 mV
    assert [(t.battery, t.severity, t.state) for t in fine] == [("main", "warning", "raised")]
    assert "while the battery's temperature went between" in fine[0].message
    assert faults(day(0.001, 6.0)) == []  # 18 mV: could be a lag of the battery behind the sensor
    assert faults(day(0.01, 12.0)) == []  # 36 mV in 10 mV steps: too few steps to be sure


def test_silence_gap_and_link_lost() -> None:
    car = Car(make())
    car.park(3)
    last = car.t
    car.t += 5 * H
    car.park(1)
    assert car.seen() == [("main", "sensor_fault", "warning", "raised"), ("sos", "sensor_fault", "warning", "raised"),
                          ("main", "sensor_fault", "warning", "cleared"), ("sos", "sensor_fault", "warning", "cleared")]
    assert car.out[0].t == last + 2 * H and "5.2 h gap" in car.out[0].message
    live = Car(make())
    live.park(1)
    out = live.an.link_lost(live.t + 10, "unplugged for 10 s")
    assert [(t.battery, t.state) for t in out] == [("main", "raised"), ("sos", "raised")]
    assert "unplugged for 10 s" in out[0].message
    live.park(1)
    assert [t.state for t in live.out] == ["cleared", "cleared"]


def test_a_link_that_never_delivered_is_a_12v_sensor_fault_until_data_comes() -> None:
    """The adapter missing from the start: the always-wired 12 V channel is reported silent
    (the SOS tap may not exist at all), and the first plausible data clears it."""
    car = Car(make())
    out = car.an.link_lost(T0, "unplugged for 10 s")
    assert [(t.battery, t.alert, t.state) for t in out] == [("main", "sensor_fault", "raised")]
    assert "unplugged for 10 s" in out[0].message
    car.park(1)
    assert [(t.battery, t.alert, t.state) for t in car.out] == [("main", "sensor_fault", "cleared")]


def test_a_missing_channel_goes_silent_but_a_never_seen_one_does_not() -> None:
    car = Car(make())
    for _ in range(30):
        car.feed(Reading(car.t + 600, 12.7, 12.69, 12.71, None, None, None, 15.0, 600.0))
    assert car.seen() == []  # no SOS tap at all
    car2 = Car(make())
    car2.park(1)
    for _ in range(20):
        car2.feed(Reading(car2.t + 600, 12.7, 12.69, 12.71, None, None, None, 15.0, 600.0))
    assert car2.seen() == [("sos", "sensor_fault", "warning", "raised")]


# -- summary, persistence, report ------------------------------------------------------------------


def test_summary_shape() -> None:
    car = Car(make(main={"installed": "2023-03-15"}, sos={"installed": "2022-06-01"}))
    car.park(6)
    car.trip(10.4)
    car.park(6)
    s = car.an.summary(car.t).to_json()
    json.dumps(s)
    assert s["state"] == "resting"
    m = s["main"]
    assert m["voltage"] == 12.7 and m["soc_pct"] == 93 and m["last_crank_min_v"] == 10.4
    assert m["age_years"] == pytest.approx(1.82, abs=0.01) and m["remaining_life_basis"] == "age"
    assert m["health"] == "good" and m["alerts"] == []
    sos = s["sos"]
    assert sos["per_cell_v"] == pytest.approx(1.3275, abs=0.001) and sos["chemistry"] == "nimh" and sos["cells"] == 4
    assert set(sos["trend"]) == {"v_per_day", "n_days", "significant", "limit", "crank_dip_ratio",
                                 "decline_in_sight", "projected_warning_date", "projected_end_of_life_date",
                                 "short_term"}
    assert s["version"] == SUMMARY_VERSION and from_json(s) == car.an.summary(car.t)  # the form round-trips
    assert m["channel_seen"] is True and sos["channel_seen"] is True and sos["judged_on"] == "rested readings"
    assert set(sos["self_discharge"]) == {"last_mv_per_day", "baseline_mv_per_day", "baseline_learned",
                                          "last_pct_per_day", "baseline_pct_per_day", "healthy_pct_per_day",
                                          "alert_mv_per_day", "alert_baseline_mv_per_day", "alert_pct_per_day",
                                          "alert_baseline_learned", "alert_baseline_pct_per_day"}


def test_restart_neither_repeats_nor_forgets() -> None:
    def run(split: bool) -> list[tuple[str, str, str, str, float]]:
        an = make()
        car = Car(an)
        car.temp = 25.0
        car.park(8, v=12.35)  # low_voltage raised
        car.park(1.0, v=12.35)
        if split:
            state = json.loads(json.dumps(an.export_state()))
            an2 = make()
            an2.import_state(state)
            car.an = an2
        car.trip(9.0)
        car.park(8, v=12.35)
        car.trip(9.0)
        car.park(8, v=12.62)
        return [(t.battery, t.alert, t.severity, t.state, t.t) for t in car.out]

    assert run(split=True) == run(split=False)


def test_a_restart_keeps_a_start_waiting_for_its_charging_voltage() -> None:
    """Without a temperature a start is judged minutes after it: a daemon restart in between
    neither loses it nor the charging voltage seen so far."""
    def run(split: bool) -> list[tuple[str, str, str, str, float]]:
        an = make()
        car = Car(an)
        car.temp = None
        car.park(8)
        car.trip(9.0, hi=14.6)
        car.park(8)
        car.awake(3)
        car.start(8.95)
        car.drive(3)  # the start is handed on and waits; 14.6 V seen
        if split:
            state = json.loads(json.dumps(an.export_state()))
            assert state["main"]["pending_start"] is not None and state["main"]["charge_peaks"]
            an2 = make()
            an2.import_state(state)
            car.an = an2
        car.drive(3, hi=13.0)  # the low set-point: no plateau
        car.drive(20, hi=14.82)  # later in the drive, after the thermometer's minutes: not counted
        car.park(2)
        return [(t.battery, t.alert, t.severity, t.state, t.t) for t in car.out]

    got = run(split=True)
    assert got == run(split=False)
    assert [x[2] for x in got] == ["warning"]


def test_state_of_a_new_battery_starts_afresh() -> None:
    an = make(main={"installed": "2019-01-01"})
    car = Car(an)
    car.park(8)
    assert car.seen() == [("main", "age", "warning", "raised")]
    state = json.loads(json.dumps(an.export_state()))
    an2 = make(main={"installed": "2025-01-01"})  # the battery was replaced
    an2.import_state(state)
    assert an2.tick(car.t + 60) and an2.engine.active("main") == []


def test_import_rejects_another_version() -> None:
    with pytest.raises(ValueError, match="version"):
        make().import_state({"version": 99})


def daily_line(rules: Any, days: int, v0: float, per_day: float, wobble: float) -> float:
    """``days`` daily values on a line with a small alternating wobble; returns the last day's end."""
    t = T0
    for d in range(days):
        t = T0 + d * 86400.0 + 3 * H
        rules.daily.add(t, v0 + per_day * d + (wobble if d % 2 else -wobble))
    rules.daily.close()
    return T0 + days * 86400.0


def test_a_tiny_significant_sos_slope_projects_no_date() -> None:
    # -0.04 mV a day over 90 days is significant (the wobble is smaller) but 0.01 mV per cell:
    # sensor drift or a season, not wear, and its line crosses 4.88 V in the 2050s
    an = make(sos={"installed": "2023-06-01"})
    t = daily_line(an.sos, 90, 5.30, -0.00004, 0.00001)
    an.sos._decline(t)
    assert an.sos.trend is not None and an.sos.trend.falling
    assert an.sos.trend_days_warn is None and an.sos.trend_days_crit is None
    s = an.summary(t).to_json()["sos"]
    assert s["trend"]["decline_in_sight"] is False and s["trend"]["projected_end_of_life_date"] is None
    assert s["remaining_life_basis"] == "age" and s["remaining_life_by_trend_years"] is None


def test_a_real_sos_decline_far_beyond_the_packs_life_projects_no_date() -> None:
    # 0.3 mV a day from 5.33 V reaches 4.40 V in about 8.5 years: past the 7-year lifespan plus
    # two of a pack installed 2.6 years ago, so no date (age decides long before)
    an = make(sos={"installed": "2022-06-01"})
    t = daily_line(an.sos, 90, 5.33, -0.0003, 0.00002)
    an.sos._decline(t)
    assert an.sos.trend is not None and an.sos.trend.declining(an.sos.min_slope)
    assert an.sos.trend_days_warn is not None  # 4.88 V within the horizon (about 4 years)
    assert an.sos.trend_days_crit is None
    fast = make(sos={"installed": "2022-06-01"})
    t = daily_line(fast.sos, 90, 5.33, -0.002, 0.00002)
    fast.sos._decline(t)
    assert fast.sos.trend_days_crit is not None


def test_a_tiny_significant_12v_slope_projects_no_date() -> None:
    an = make(main={"installed": "2024-01-01"})
    t = daily_line(an.main, 90, 12.70, -0.00004, 0.00001)
    an.main._decline(t)
    assert an.main.ocv_fit is not None and an.main.ocv_fit.falling
    assert an.main.rul_trend_days is None
    assert an.summary(t).to_json()["main"]["remaining_life_basis"] == "age"
    real = make(main={"installed": "2024-01-01"})
    t = daily_line(real.main, 90, 12.70, -0.003, 0.0001)
    real.main._decline(t)
    assert real.main.rul_trend_days is not None


def test_decline_words_a_dip_already_past_its_target_without_a_projected_date() -> None:
    from battwatch.core.analysis.messages import main_decline

    c = {"dip_pct": 84.0, "dip_n": 160, "t_level": CRITICAL, "dip_crit": 50.0, "dip_warn": 25.0, "dip_info": 15.0,
         "dip_date": "2025-07-08", "dip_factor": 1.5}
    text = main_decline(CRITICAL, c)
    assert "+84 %" in text and "already past 1.5 x that baseline" in text and "2025-07-08" not in text
    ahead = main_decline(WARNING, {**c, "dip_pct": 30.0, "t_level": WARNING})
    assert "reach 1.5 x that baseline around 2025-07-08" in ahead and "already past" not in ahead


def test_the_age_alert_quotes_the_typical_life_as_the_summary_does() -> None:
    car = Car(make(main={"type": "efb", "installed": "2020-07-01"}))
    car.park(1)
    car.an.tick(car.t)
    (age,) = [tr for tr in car.out if tr.alert == "age"]
    assert "EFB batteries typically last about 4.5 years" in age.message
