"""Verdicts that rest on evidence: "unknown" with what is missing, the last drive of a log
judged, and transitions that say whether they raised, escalated, eased or cleared an alert."""

from __future__ import annotations

from typing import Any

import pytest

from battwatch import config
from battwatch.analysis_config import AlertsConfig, Debounce
from battwatch.core.analysis import build_analyzer
from battwatch.core.analysis.analyzer import BatteryAnalyzer
from battwatch.core.analysis.engine import CRITICAL, INFO, NONE, WARNING, AlertEngine
from battwatch.core.influx_encode import transition_from_dict
from battwatch.core.model import AlertTransition, Health, Reading
from battwatch.core.pipeline import Pipeline

T0 = 1_736_121_600.0  # 2025-01-06 00:00 UTC
H = 3600.0


def make() -> BatteryAnalyzer:
    an = build_analyzer(config.from_dict({"vehicle": {"id": "car"}}, env={}), record=True)
    assert isinstance(an, BatteryAnalyzer)
    return an


class Log:
    """Readings of a car, one per ``step`` seconds, fed through a pipeline."""

    def __init__(self, *, main: bool = True, sos: bool = True) -> None:
        self.an = make()
        self.pipe = Pipeline("car", self.an)
        self.t = T0
        self.main = main
        self.sos = sos
        self.out: list[AlertTransition] = []

    def row(self, v: float, lo: float, hi: float, s: float, dt: float) -> None:
        self.t += dt
        r = Reading(self.t, v if self.main else None, lo if self.main else None, hi if self.main else None,
                    s if self.sos else None, s - 0.002 if self.sos else None, s + 0.002 if self.sos else None,
                    12.0, dt)
        self.out += [o for o in self.pipe.reading(r) if isinstance(o, AlertTransition)]

    def drive(self, minutes: float, avg: float = 14.1, sos: float = 5.45) -> None:
        """Engine running, no start seen (the log begins on the road): charging at ``avg``."""
        for _ in range(int(minutes)):
            self.row(avg, avg - 0.12, max(avg + 0.05, 14.4 if avg > 13.5 else avg + 0.05), sos, 60.0)

    def trip(self, minutes: float, avg: float) -> None:
        """A start after a few minutes awake, then ``minutes`` of driving at ``avg``."""
        for _ in range(3):
            self.row(12.55, 12.47, 12.56, 5.30, 60.0)
        self.row(avg, 10.6, avg + 0.05, 5.30, 60.0)
        for _ in range(int(minutes)):
            self.row(avg, avg - 0.1, avg + 0.05, 5.35, 60.0)

    def park(self, hours: float, v: float = 12.70, sos: float = 5.30) -> None:
        for _ in range(int(hours * H / 600.0)):
            self.row(v, v - 0.003, v + 0.003, sos, 600.0)

    def end(self) -> None:
        self.out += [o for o in self.pipe.end_of_data(self.t) if isinstance(o, AlertTransition)]

    def health(self, battery: str) -> Health:
        h = Health.of(self.pipe.summary(self.t).to_json()[battery])
        assert h is not None
        return h


# -- class 5: "good" needs evidence -----------------------------------------------------------------


def test_a_short_drive_alone_gives_no_verdict_and_says_what_is_missing() -> None:
    log = Log()
    log.drive(8)  # under the 10 min the charging rule needs, no start, no rest
    log.end()
    main, sos = log.health("main"), log.health("sos")
    assert main.word == "unknown" and sos.word == "unknown"
    assert main.reason == ("no rested reading yet: the car has not been parked 4 h; "
                           "no engine start, and no drive of 10 min or more")
    assert sos.reason == "no rested reading yet: the car has not been parked 2 h"
    assert main.text().startswith("unknown: no rested reading yet")


def test_a_rested_reading_is_evidence_for_both_batteries() -> None:
    log = Log()
    log.park(1.5)
    assert (log.health("main").word, log.health("sos").word) == ("unknown", "unknown")
    log.park(1.0)  # 2.5 h: the pack has rested, the 12 V battery not yet
    assert (log.health("main").word, log.health("sos").word) == ("unknown", "good")
    log.park(2.0)  # 4.5 h
    assert log.health("main") == Health("good")


def test_a_judged_drive_is_evidence_for_the_12v_battery() -> None:
    log = Log()
    log.drive(30)
    assert log.health("main").word == "unknown"  # still open: nothing judged yet
    log.end()
    assert log.health("main") == Health("good")
    assert log.health("sos").word == "unknown"  # a drive says nothing of the pack at rest


def test_a_missing_channel_is_named() -> None:
    sos_only = Log(main=False)
    sos_only.park(1.0)
    sos_only.end()
    assert sos_only.health("main") == Health("unknown", "no 12 V channel in the readings")
    assert sos_only.health("sos") == Health(
        "unknown", "no rested reading yet: the pack has not been off charge 2 h (no 12 V channel: by its own voltage)")
    main_only = Log(sos=False)
    main_only.park(5)
    assert main_only.health("sos") == Health("unknown", "no SOS readings")
    assert main_only.health("main") == Health("good")


def test_a_warning_is_its_own_evidence_but_an_information_alert_is_not() -> None:
    eng = AlertEngine("car", AlertsConfig())
    s = eng.slot("main", "low_voltage", Debounce())
    from battwatch.core.analysis.summary import health

    missing = ["no rested reading yet"]
    assert health(eng, "main", None, missing) == Health("unknown", "no rested reading yet")
    eng.observe(s, T0, T0, INFO, 12.5, lambda sev, ctx: "x", immediate=True)
    assert health(eng, "main", None, missing).word == "unknown"
    assert health(eng, "main", None, None).word == "good"
    eng.observe(s, T0 + 1, T0 + 1, WARNING, 12.3, lambda sev, ctx: "x", immediate=True)
    assert health(eng, "main", None, missing) == Health("attention")
    eng.observe(s, T0 + 2, T0 + 2, CRITICAL, 11.9, lambda sev, ctx: "x", immediate=True)
    assert health(eng, "main", None, missing) == Health("action needed")
    fault = health(eng, "main", "open", None)
    assert fault.word == "unknown" and fault.reason is not None and fault.reason.startswith("sensor fault (open)")


@pytest.mark.parametrize("section, expected", [
    ({"health": "good", "health_reason": None}, Health("good")),
    ({"health": "unknown", "health_reason": "no SOS readings"}, Health("unknown", "no SOS readings")),
    ({"health": "attention", "health_reason": "stray"}, Health("attention")),
    ({"health": "unknown (sensor fault)"}, Health("unknown", "sensor fault")),  # stored before health_reason
    ({"health": "splendid"}, None),
    ({}, None),
    ("good", None),
])
def test_a_stored_verdict_reads_back_as_it_was_made(section: Any, expected: Health | None) -> None:
    assert Health.of(section) == expected


# -- class 6: the last drive of a log -----------------------------------------------------------


def test_the_only_drive_of_a_log_is_counted_and_judged() -> None:
    log = Log()
    log.drive(78)
    assert log.an.report_data().drives == []  # open until the data end
    log.end()
    (drive,) = log.an.report_data().drives
    assert drive.duration_s >= 70 * 60 and drive.charged


def test_both_trips_of_a_failing_alternator_reach_the_charging_rule() -> None:
    """Two drives averaging 12.6 V: the rule needs two such drives to raise undercharging, and
    the second is the last of the log."""
    log = Log()
    log.trip(35, avg=12.6)
    log.park(1)
    log.trip(35, avg=12.6)
    assert not [tr for tr in log.out if tr.alert == "undercharging"]
    log.end()
    assert [(tr.alert, tr.severity, tr.change) for tr in log.out if tr.alert == "undercharging"] == [
        ("undercharging", "warning", "raised")]
    assert len(log.an.report_data().drives) == 2
    assert log.health("main") == Health("attention")


def test_end_of_data_judges_nothing_twice() -> None:
    log = Log()
    log.drive(30)
    log.park(6)  # the drive ended when the car fell asleep
    log.end()
    log.end()
    assert len(log.an.report_data().drives) == 1


@pytest.mark.parametrize("gap_h", [0.0, 3.0])
def test_a_daemon_restarted_mid_drive_judges_the_drive_once(gap_h: float) -> None:
    """The daemon saves its state at a stop without closing the drive: after a quick restart
    the drive goes on, after a long one it ends at its last reading; either way it is judged
    exactly once."""
    first = Log()
    first.trip(20, avg=12.6)
    saved = first.an.export_state()
    second = Log()
    second.an.import_state(saved)
    second.t = first.t + gap_h * H
    second.drive(20, avg=12.6)
    second.park(6)
    second.end()
    (drive,) = second.an.report_data().drives  # this run's drives (the record is not saved)
    assert drive.start == pytest.approx(T0 + 240.0)  # the start before the stop
    if gap_h:  # ended at its last reading before the stop; what follows shows no drive
        assert drive.end == pytest.approx(first.t) and drive.duration_s < 21 * 60
    else:  # went on through the restart
        assert drive.duration_s > 39 * 60


# -- class 8: what a transition did ---------------------------------------------------------------


def test_transitions_say_raised_escalated_eased_cleared() -> None:
    eng = AlertEngine("car", AlertsConfig())
    s = eng.slot("main", "weak_cranking", Debounce())
    for i, level in enumerate((WARNING, CRITICAL, WARNING, INFO, NONE)):
        eng.observe(s, T0 + i, T0 + i, level, 9.0, lambda sev, ctx: "x", immediate=True)
    out = eng.take()
    assert [(tr.severity, tr.state, tr.previous, tr.change) for tr in out] == [
        ("warning", "raised", None, "raised"),
        ("critical", "raised", "warning", "escalated"),
        ("warning", "raised", "critical", "eased"),
        ("info", "raised", "warning", "eased"),
        ("info", "cleared", "info", "cleared"),
    ]
    # the JSON lines of a replay carry it, and read back to the same transition
    for tr in out:
        d = tr.to_json_dict()
        assert d["change"] == tr.change and d["previous_severity"] == tr.previous
        assert transition_from_dict(d) == tr


def test_a_transition_drops_the_reminder_it_makes_stale() -> None:
    """A reminder queued before a clear (a replacement) and taken after it would say the alert
    is still active on the retained topic."""
    eng = AlertEngine("car", AlertsConfig())
    s = eng.slot("sos", "decline", Debounce())
    other = eng.slot("main", "low_voltage", Debounce())
    eng.observe(s, T0, T0, WARNING, 4.9, lambda sev, ctx: "x", immediate=True)
    eng.observe(other, T0, T0, WARNING, 12.3, lambda sev, ctx: "x", immediate=True)
    eng.take()
    eng.housekeep(T0 + 30 * 86400.0)
    eng.force(s, T0 + 30 * 86400.0 + 1, NONE, None, lambda sev, ctx: "cleared")
    assert [(r.battery, r.alert) for r in eng.take_renotifications()] == [("main", "low_voltage")]
    assert [tr.state for tr in eng.take()] == ["cleared"]


def test_a_reminder_is_a_refresh() -> None:
    eng = AlertEngine("car", AlertsConfig())
    s = eng.slot("main", "low_voltage", Debounce())
    eng.observe(s, T0, T0, WARNING, 12.3, lambda sev, ctx: "x", immediate=True)
    eng.take()
    eng.housekeep(T0 + 30 * 86400.0)
    (rem,) = eng.take_renotifications()
    assert rem.change == "refreshed"
