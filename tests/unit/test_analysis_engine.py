"""The alert engine: debounce, escalation, de-escalation, flap damping, reminders, persistence."""

from __future__ import annotations

import json
from typing import Any

from battwatch.analysis_config import AlertsConfig, Debounce
from battwatch.core.analysis import summary
from battwatch.core.analysis.engine import CRITICAL, INFO, NONE, WARNING, AlertEngine

H = 3600.0
T0 = 1_736_121_600.0


def text(sev: int, ctx: Any) -> str:
    return f"sev={sev} ctx={ctx}"


def engine(**alerts: Any) -> AlertEngine:
    return AlertEngine("car", AlertsConfig(**alerts))


def states(e: AlertEngine) -> list[tuple[str, str, str]]:
    return [(tr.alert, tr.severity, tr.state) for tr in e.take()]


def test_raise_waits_for_duration_and_count() -> None:
    e = engine()
    s = e.slot("main", "low_voltage", Debounce(for_s=2 * H, for_n=3))
    e.observe(s, T0, T0 - 600, WARNING, 12.3, text)
    e.observe(s, T0 + 600, T0, WARNING, 12.3, text)
    assert states(e) == [] and s.busy
    e.observe(s, T0 + 2 * H - 700, T0, WARNING, 12.3, text)  # 3 observations, not yet 2 h
    assert states(e) == []
    e.observe(s, T0 + 2 * H - 600, T0, WARNING, 12.29, text)
    out = e.take()
    assert [(t.alert, t.severity, t.state) for t in out] == [("low_voltage", "warning", "raised")]
    assert out[0].t == T0 + 2 * H - 600 and out[0].value == 12.29 and out[0].vehicle == "car"
    assert out[0].message == "sev=2 ctx=None"
    assert s.level == WARNING and s.since == T0 + 2 * H - 600 and not s.busy


def test_a_gap_in_the_condition_restarts_the_wait() -> None:
    e = engine()
    s = e.slot("main", "low_voltage", Debounce(for_s=H, for_n=1))
    e.observe(s, T0, T0, WARNING, 12.3, text)
    e.observe(s, T0 + 1800, T0 + 1800, NONE, 12.6, text)  # back up: the pending raise is dropped
    e.observe(s, T0 + 3700, T0 + 3700, WARNING, 12.3, text)
    assert states(e) == []
    e.observe(s, T0 + 3700 + H, T0 + 3700 + H, WARNING, 12.3, text)
    assert states(e) == [("low_voltage", "warning", "raised")]


def test_immediate_skips_the_wait() -> None:
    e = engine()
    s = e.slot("main", "overvoltage", Debounce(for_s=30, for_n=1))
    e.observe(s, T0, T0, CRITICAL, 16.4, text, immediate=True)
    assert states(e) == [("overvoltage", "critical", "raised")]


def test_escalation_and_de_escalation_are_raised_transitions() -> None:
    e = engine()
    s = e.slot("sos", "low_voltage", Debounce(for_n=1, clear_for_n=2))
    e.observe(s, T0, T0, INFO, 5.0, text)
    e.observe(s, T0 + 60, T0 + 60, WARNING, 4.8, text)
    e.observe(s, T0 + 120, T0 + 120, CRITICAL, 4.3, text)
    assert states(e) == [
        ("low_voltage", "info", "raised"), ("low_voltage", "warning", "raised"), ("low_voltage", "critical", "raised"),
    ]
    assert s.since == T0  # the episode started with the first raise
    e.observe(s, T0 + 180, T0 + 180, WARNING, 4.8, text)
    assert states(e) == []  # clear_for_n = 2
    e.observe(s, T0 + 240, T0 + 240, WARNING, 4.8, text)
    assert states(e) == [("low_voltage", "warning", "raised")]
    e.observe(s, T0 + 300, T0 + 300, NONE, 5.2, text)
    e.observe(s, T0 + 360, T0 + 360, NONE, 5.2, text)
    out = e.take()
    # a clear carries the severity it ends, and the clear text (severity NONE asked of the rule)
    assert [(t.severity, t.state, t.message) for t in out] == [("warning", "cleared", "sev=0 ctx=None")]


def test_de_escalation_goes_to_the_highest_level_seen_while_coming_down() -> None:
    e = engine()
    s = e.slot("main", "undercharging", Debounce(clear_for_n=3))
    e.observe(s, T0, T0, CRITICAL, 12.3, text)
    e.take()
    for i, target in enumerate((NONE, WARNING, NONE)):
        e.observe(s, T0 + 100 * (i + 1), T0, target, 12.9, text)
    assert states(e) == [("undercharging", "warning", "raised")]


def test_carry_raises_one_event_at_its_full_severity() -> None:
    def run(carry: bool) -> list[tuple[str, str, str]]:
        e = engine()
        s = e.slot("sos", "step_drop", Debounce(for_s=1800, for_n=3))
        e.observe(s, T0 + 600, T0, WARNING, 4.7, text)  # the window the cell shorted in: half the fall
        for k in range(2, 10):
            if carry:
                e.carry(s, CRITICAL)
            e.observe(s, T0 + k * 600, T0 + (k - 1) * 600, CRITICAL, 4.0, text)
        return states(e)

    assert run(carry=False) == [("step_drop", "warning", "raised"), ("step_drop", "critical", "raised")]
    assert run(carry=True) == [("step_drop", "critical", "raised")]
    e = engine()
    s = e.slot("sos", "step_drop", Debounce(for_s=1800))
    e.carry(s, CRITICAL)  # nothing pending below: nothing to carry
    assert s.up_since == [None, None, None, None]


def test_flapping_alert_is_held_until_it_stays_clear() -> None:
    e = engine(flap_window_s=24 * H, flap_max=4, flap_hold_s=6 * H)
    s = e.slot("main", "overvoltage", Debounce())
    t = T0
    for _ in range(2):  # raise, clear, raise, clear: four changes within hours
        e.observe(s, t, t, WARNING, 15.1, text)
        t += 600
        e.observe(s, t, t, NONE, 14.5, text)
        t += 600
    assert len(e.take()) == 4 and s.flapping
    e.observe(s, t, t, WARNING, 15.1, text)
    out = e.take()
    assert [(x.alert, x.severity, x.state) for x in out] == [("overvoltage", "warning", "raised")]
    # the held alert tells the user that it flaps and how long it is held
    assert out[0].message == (
        "sev=2 ctx=None This alert has been raised or cleared 4 times within 24 h (flapping): the "
        "condition sits at its limit, so it now stays raised until it has been clear for 6 h."
    )
    assert s.message == out[0].message
    t += 600
    e.observe(s, t, t, NONE, 14.5, text)
    e.observe(s, t + 5 * H, t + 5 * H, NONE, 14.5, text)
    assert states(e) == []  # held: clear for 5 h only
    e.observe(s, t + 6 * H, t + 6 * H, NONE, 14.5, text)
    assert states(e) == [("overvoltage", "warning", "cleared")]


def test_reminders_are_not_transitions() -> None:
    e = engine(renotify_warning_s=24 * H, renotify_critical_s=2 * H, renotify_age_s=30 * 24 * H)
    w = e.slot("main", "low_voltage", Debounce())
    c = e.slot("sos", "step_drop", Debounce())
    i = e.slot("main", "decline", Debounce())
    age = e.slot("sos", "age", Debounce(), renotify_s=30 * 24 * H)
    e.observe(w, T0, T0, WARNING, 12.3, text)
    e.observe(c, T0, T0, CRITICAL, 4.0, text)
    e.observe(i, T0, T0, INFO, 1.0, text)
    e.observe(age, T0, T0, WARNING, 5.1, text)
    assert len(e.take()) == 4
    e.housekeep(T0 + H)
    assert e.take_renotifications() == []
    e.housekeep(T0 + 2 * H)
    r = e.take_renotifications()
    assert [(x.battery, x.alert, x.severity, x.state) for x in r] == [("sos", "step_drop", "critical", "raised")]
    assert r[0].message.startswith("Reminder, active since 2025-01-06 00:00 UTC: sev=3")
    e.housekeep(T0 + 24 * H)
    assert {x.alert for x in e.take_renotifications()} == {"low_voltage", "step_drop"}  # not info, not age yet
    e.housekeep(T0 + 30 * 24 * H)
    assert "age" in {x.alert for x in e.take_renotifications()}
    assert e.take() == []  # reminders never show up as transitions


def test_hold_forgets_pending_changes() -> None:
    e = engine()
    s = e.slot("main", "low_voltage", Debounce(for_s=H))
    f = e.slot("main", "sensor_fault", Debounce())
    e.observe(s, T0, T0, WARNING, 12.3, text)
    assert s.busy
    e.force(f, T0 + 60, WARNING, 0.0, text)
    e.hold("main")
    assert not s.busy and s.up_since == [None, None, None, None]
    assert f.level == WARNING  # the sensor alert itself is not touched


def test_state_survives_export_and_import_through_json() -> None:
    e = engine()
    s = e.slot("sos", "low_voltage", Debounce(for_s=H))
    p = e.slot("main", "low_voltage", Debounce(for_s=H))
    e.observe(s, T0, T0, WARNING, 4.8, text)
    e.observe(s, T0 + H, T0 + H, WARNING, 4.8, text)
    e.observe(p, T0 + H, T0 + H, WARNING, 12.3, text)  # pending, not raised
    e.take()
    data = json.loads(json.dumps(e.export()))
    e2 = engine()
    s2 = e2.slot("sos", "low_voltage", Debounce(for_s=H))
    p2 = e2.slot("main", "low_voltage", Debounce(for_s=H))
    e2.load(data)
    assert (s2.level, s2.since, s2.value, s2.message) == (s.level, s.since, s.value, s.message)
    # the restart neither repeats the raise ...
    e2.observe(s2, T0 + 2 * H, T0 + 2 * H, WARNING, 4.8, text)
    assert e2.take() == []
    # ... nor forgets the pending one
    e2.observe(p2, T0 + 2 * H, T0 + 2 * H, WARNING, 12.3, text)
    assert states(e2) == [("low_voltage", "warning", "raised")]
    assert e2.active("sos") == [s2] and e2.active("main") == [p2]


def test_a_step_down_is_worded_from_the_verdict_at_its_new_level() -> None:
    e = engine()
    s = e.slot("main", "low_voltage", Debounce(clear_for_n=3))
    e.observe(s, T0, T0, CRITICAL, 11.8, text, "critical reading")
    e.take()
    # coming down: one verdict at warning, then readings that would clear it
    e.observe(s, T0 + 100, T0 + 100, WARNING, 12.3, text, "warning reading")
    e.observe(s, T0 + 200, T0 + 200, NONE, 12.7, text, "clear reading")
    e.observe(s, T0 + 300, T0 + 300, NONE, 12.7, text, "clear reading")
    out = e.take()
    # the alert goes to warning: value and words of the reading that justifies warning, not of
    # the last one (a clear reading) nor of the critical raise
    assert [(x.severity, x.state, x.value, x.message) for x in out] == [
        ("warning", "raised", 12.3, "sev=2 ctx=warning reading")]
    assert (s.value, s.message) == (12.3, "sev=2 ctx=warning reading")


def test_step_down_words_say_why_the_lower_level_holds() -> None:
    from battwatch.core.analysis.messages import main_low_voltage

    lv = {"temp": None, "soc": 50.0, "type": "agm", "info": 12.6, "warn": 12.4, "crit": 12.0, "clear": 12.7,
          "info_clear": 12.7, "warn_clear": 12.5, "crit_clear": 12.2}
    e = engine()
    s = e.slot("main", "low_voltage", Debounce())
    e.observe(s, T0, T0, CRITICAL, 11.9, main_low_voltage, {**lv, "v": 11.9, "v25": 11.9})
    assert "below the 12.00 V critical level" in e.take()[0].message
    # 12.45 V: above the warning level, but not yet above the 12.50 V that ends it
    e.observe(s, T0 + 60, T0 + 60, WARNING, 12.45, main_low_voltage,
              {**lv, "v": 12.45, "v25": 12.45, "from": CRITICAL})
    (down,) = e.take()
    assert down.severity == "warning" and down.value == 12.45
    assert down.message.startswith(
        "12 V battery rested at 12.45 V (no temperature reading: judged as read, not corrected to "
        "25 °C), back above the 12.20 V that ends the critical level but still "
        "below the 12.50 V that ends the warning level: about 50 % charged.")
    assert "critical level:" not in down.message and "damaged for good" not in down.message
    # straight from critical to information: both higher levels have ended
    e2 = engine()
    s2 = e2.slot("main", "low_voltage", Debounce())
    e2.observe(s2, T0, T0, CRITICAL, 11.9, main_low_voltage, {**lv, "v": 11.9, "v25": 11.9})
    e2.observe(s2, T0 + 60, T0 + 60, INFO, 12.55, main_low_voltage, {**lv, "v": 12.55, "v25": 12.55, "from": CRITICAL})
    assert "back above the 12.50 V that ends the warning and critical levels but still below the 12.60 V " \
           "information level" in e2.take()[-1].message


def test_an_active_alert_shows_its_current_words_without_new_transitions() -> None:
    e = engine(renotify_warning_s=24 * H, message_refresh_s=H)
    s = e.slot("main", "low_voltage", Debounce(for_s=H, clear_for_n=2))
    e.observe(s, T0, T0, WARNING, 12.3, text, "raised at 12.3", immediate=True)
    assert len(e.take()) == 1
    assert (s.now_message, s.now_value, s.now_t) == ("sev=2 ctx=raised at 12.3", 12.3, T0)
    e.observe(s, T0 + 1800, T0 + 1800, WARNING, 12.25, text, "12.25")
    assert s.now_message == "sev=2 ctx=raised at 12.3"  # within the hour: no churn
    e.observe(s, T0 + H, T0 + H, WARNING, 12.2, text, "12.2")
    assert (s.now_message, s.now_value, s.now_t) == ("sev=2 ctx=12.2", 12.2, T0 + H)
    # the health summary (and so the retained MQTT state and `battwatch status`) shows them
    (shown,) = summary.alerts(e, "main")
    assert (shown.message, shown.value, shown.message_at) == ("sev=2 ctx=12.2", 12.2, T0 + H)
    assert shown.since == T0
    # a verdict below the level does not support it: the words stay
    e.observe(s, T0 + 3 * H, T0 + 3 * H, NONE, 12.8, text, "clear")
    assert s.now_message == "sev=2 ctx=12.2"
    # one above it (still being confirmed) does, at the alert's own level
    e.observe(s, T0 + 4 * H, T0 + 4 * H, CRITICAL, 11.9, text, "11.9")
    assert (s.now_message, s.now_value) == ("sev=2 ctx=11.9", 11.9)
    # never a transition; the transition's words and the reminders stay those of the raise
    assert e.take() == []
    assert (s.message, s.value) == ("sev=2 ctx=raised at 12.3", 12.3)
    e.housekeep(T0 + 24 * H)
    (reminder,) = e.take_renotifications()
    assert reminder.message.endswith(": sev=2 ctx=raised at 12.3")
    # a transition sets both
    e.observe(s, T0 + 25 * H, T0 + 25 * H, NONE, 12.8, text, "clear")
    e.observe(s, T0 + 26 * H, T0 + 26 * H, NONE, 12.8, text, "clear")
    assert states(e) == [("low_voltage", "warning", "cleared")]
    assert s.now_message == s.message == "sev=0 ctx=clear"


def test_an_event_alert_keeps_the_words_of_its_event() -> None:
    e = engine(message_refresh_s=H)
    s = e.slot("sos", "step_drop", Debounce(), refresh=False)
    e.observe(s, T0, T0, CRITICAL, 4.0, text, "the step")
    e.observe(s, T0 + 2 * H, T0 + 2 * H, CRITICAL, 4.6, text, "a later reading")
    assert s.now_message == "sev=3 ctx=the step"


def test_current_words_and_a_pending_step_down_survive_a_restart() -> None:
    e = engine(message_refresh_s=H)
    s = e.slot("main", "overvoltage", Debounce(clear_for_n=2))
    e.observe(s, T0, T0, CRITICAL, 15.6, text, "raise")
    e.observe(s, T0 + 2 * H, T0 + 2 * H, CRITICAL, 15.7, text, "refresh")
    e.observe(s, T0 + 2 * H + 60, T0 + 2 * H + 60, WARNING, 15.2, text, {"v": 15.2})  # pending step down
    e.take()
    data = json.loads(json.dumps(e.export()))
    e2 = engine(message_refresh_s=H)
    s2 = e2.slot("main", "overvoltage", Debounce(clear_for_n=2))
    e2.load(data)
    assert (s2.now_message, s2.now_value, s2.refresh_at) == ("sev=3 ctx=refresh", 15.7, T0 + 3 * H)
    e2.observe(s2, T0 + 2 * H + 120, T0 + 2 * H + 120, NONE, 14.5, text, {"v": 14.5})
    (down,) = e2.take()
    assert (down.severity, down.value, down.message) == ("warning", 15.2, "sev=2 ctx={'v': 15.2}")
    # a state saved before the current words existed shows the transition's words
    old = {k: v for k, v in data["main/overvoltage"].items()
           if k not in ("now_message", "now_value", "now_t", "refresh_at", "down_value", "down_ctx")}
    e3 = engine(message_refresh_s=H)
    s3 = e3.slot("main", "overvoltage", Debounce(clear_for_n=2))
    e3.load({"main/overvoltage": old})
    assert (s3.now_message, s3.now_value) == ("sev=3 ctx=raise", 15.6)
    e3.observe(s3, T0 + 3 * H, T0 + 3 * H, CRITICAL, 15.8, text, "after restart")
    assert s3.now_message == "sev=3 ctx=after restart"


def test_an_escalated_alert_knows_when_it_reached_its_severity_and_how_it_was_raised() -> None:
    """Raised at info on day 0, critical from day 13: the summary says both, and they persist."""
    e = engine()
    s = e.slot("main", "low_voltage", Debounce(for_s=0.0, for_n=1))
    e.observe(s, T0, T0, INFO, 12.45, text)
    e.observe(s, T0 + 13 * 24 * H, T0 + 13 * 24 * H, CRITICAL, 11.9, text)
    assert (s.since, s.level_since, s.raised_level) == (T0, T0 + 13 * 24 * H, INFO)
    (a,) = summary.alerts(e, "main")
    assert (a.severity, a.raised_severity) == ("critical", "info")
    assert (a.since, a.severity_since) == (T0, T0 + 13 * 24 * H)
    e.observe(s, T0 + 14 * 24 * H, T0 + 14 * 24 * H, WARNING, 12.3, text)  # stepping down is a new severity too
    assert s.level == WARNING and s.level_since == T0 + 14 * 24 * H and s.since == T0
    saved = json.loads(json.dumps(s.as_dict()))
    back = engine().slot("main", "low_voltage", Debounce())
    back.load(saved)
    assert (back.since, back.level_since, back.raised_level) == (T0, T0 + 14 * 24 * H, INFO)
    # a state saved before these existed: the first raise stands in
    del saved["level_since"], saved["raised_level"]
    old = engine().slot("main", "low_voltage", Debounce())
    old.load(saved)
    assert (old.level_since, old.raised_level) == (T0, WARNING)


def _drain_ctx(excess: float, doubt: float) -> dict[str, Any]:
    """A parasitic_drain verdict's context as drain.py builds it (the default levels: 25, 50 and 150 mV)."""
    return {"rate_mv_12h": excess + 20.0, "expected_mv_12h": 20.0, "span_h": 14.0, "temp_known": True,
            "sleep_ma": 50.0, "extra_a": 0.1, "soc": 85.0, "hours_to_half": 200.0, "capacity_ah": 80.0,
            "excess_mv_12h": excess, "info": 25.0, "warn": 50.0, "crit": 150.0, "early": False,
            "early_factor": 0.0, "early_warn": 0.0, "early_crit": 0.0, "sustained": False,
            "fall_mv": excess / 12.0 * 14.0, "sustained_factor": 3.0, "ref_ma": 50.0, "quarter_h": 200.0,
            "surface_mv_12h": 0.0, "temp_mv_12h": doubt}


def test_a_drain_information_while_a_warning_waits_says_so() -> None:
    """Issue 13 class 4: a drain information whose latest verdict reached the warning level (the
    warning waiting for the debounce's next verdict) said "not yet the warning level"."""
    from battwatch.core.analysis.messages_main import parasitic_drain

    e = engine()
    s = e.slot("main", "parasitic_drain", Debounce(for_n=2))
    for k in range(2):
        e.observe(s, T0 + k * H, T0 - 12 * H, INFO, 30.0, parasitic_drain, _drain_ctx(30.0, 4.0))
    assert [(t.severity, t.state) for t in e.take()] == [("info", "raised")]
    # the next verdict: 62 mV, of which at most 4 mV the temperature's: past the warning level
    t = T0 + 2 * H + e.cfg.message_refresh_s
    e.observe(s, t, T0 - 12 * H, WARNING, 62.0, parasitic_drain, _drain_ctx(62.0, 4.0))
    assert s.level == INFO and s.busy and e.take() == []  # the warning waits
    assert s.now_t == t
    msg = s.now_message  # the alert's current words (status, the MQTT state)
    assert "not yet the warning level" not in msg, msg
    assert ("62 mV more, past the 25 mV per 12 h information level (and past the 50 mV warning level too: this "
            "becomes warning if later verdicts confirm it)") in msg, msg
    # past the warning level only as measured: the temperature's doubt holds it back, as said
    held = parasitic_drain(INFO, _drain_ctx(52.0, 4.0))
    assert "(up to 4 mV of it may come from the temperature correction" in held and "not yet the warning" in held
