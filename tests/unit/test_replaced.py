"""A replaced battery: told once, every alert of it clears and its analysis starts afresh; untold,
only a hint. The failing pack of sos-replaced is swapped for a new one on day 78 at 10:00."""

from __future__ import annotations

from typing import Any

import pytest

from battwatch import config, scenarios
from battwatch.core.analysis import build_analyzer
from battwatch.core.analysis.analyzer import BatteryAnalyzer
from battwatch.core.events import Replaced
from battwatch.core.model import AlertTransition, Reading
from battwatch.scenarios.catalogue import DEFAULT_START, REPLACED_SOS_AT

DAY_S = 86400.0
NAME = "sos-replaced"


@pytest.fixture(scope="module")
def readings() -> list[Reading]:
    return list(scenarios.generate(NAME))


def _analyzer(raw: dict[str, Any] | None = None) -> BatteryAnalyzer:
    return build_analyzer(config.from_dict(raw or scenarios.scenario_config(NAME), env={}))


def _run(an: BatteryAnalyzer, rs: list[Reading], told_at: float | None = None,
         when: float = REPLACED_SOS_AT, note: str = "") -> list[AlertTransition]:
    """Feed ``rs``; the owner tells of the replacement when the data reaches ``told_at``."""
    out: list[AlertTransition] = []
    for r in rs:
        if told_at is not None and r.t >= told_at:
            assert an.schedule_replacement("sos", when, note)
            told_at = None
        out += _alerts(an.feed(r))
    out += _alerts(an.tick(rs[-1].t))
    return out


def _alerts(outs: list[Any]) -> list[AlertTransition]:
    return [o for o in outs if isinstance(o, AlertTransition)]


def _day(tr: AlertTransition) -> float:
    return (tr.t - DEFAULT_START) / DAY_S


def test_told_in_time_every_sos_alert_clears_at_the_replacement_and_none_follows(readings: list[Reading]) -> None:
    an = _analyzer()
    trs = _run(an, readings, told_at=readings[0].t, note="dealer")
    before = [tr for tr in trs if tr.t < REPLACED_SOS_AT]
    at = [tr for tr in trs if tr.t == REPLACED_SOS_AT]
    after = [tr for tr in trs if tr.t > REPLACED_SOS_AT]
    # the failing pack raised its alerts before the garage visit
    assert {(tr.alert, tr.severity) for tr in before if tr.state == "raised"} >= {
        ("decline", "critical"), ("low_voltage", "warning")}
    active_then = {tr.alert for tr in at}
    assert active_then == {"decline", "low_voltage"}, at
    for tr in at:
        assert tr.battery == "sos" and tr.state == "cleared"
        assert tr.message.startswith("cleared: battery replaced on 2025-03-25 (dealer).")
        # what the transition did, for every output: cleared, from the severity it had
        j = tr.to_json_dict()
        assert (tr.change, j["change"], j["previous_severity"]) == ("cleared", "cleared", tr.severity)
    assert after == []  # the new pack is healthy: no alert, no hint, nothing
    s = an.summary(readings[-1].t).to_json()["sos"]
    assert (s["fitted"], s["fitted_from"], s["replaced_note"]) == ("2025-03-25", "replaced", "dealer")
    assert s["age_years"] == pytest.approx((readings[-1].t - REPLACED_SOS_AT) / (365.25 * DAY_S), abs=0.01)
    assert s["alerts"] == [] and s["health"] == "good"
    # its trend restarted with the new pack: nothing of the old pack's decline is left
    assert s["trend"]["projected_end_of_life_date"] is None
    assert an.summary(readings[-1].t).to_json()["main"]["fitted_from"] == "installed"


def test_untold_the_alerts_stay_and_the_hint_is_said_once(readings: list[Reading]) -> None:
    an = _analyzer()
    trs = _run(an, readings)
    assert not any("cleared: battery replaced" in tr.message for tr in trs)
    hints = [tr for tr in trs if tr.alert == "replaced_hint"]
    assert len(hints) == 1, hints
    hint = hints[0]
    assert (hint.battery, hint.severity, hint.state) == ("sos", "info", "raised")
    assert 80.9 <= _day(hint) <= 82.1  # three whole days on the new level after the garage day
    assert "battwatch replaced --battery sos --date 2025-03-25" in hint.message
    assert "Nothing is reset until then" in hint.message
    s = an.summary(readings[-1].t).to_json()["sos"]
    active = {a["alert"]: a["severity"] for a in s["alerts"]}
    assert active == {"decline": "critical", "replaced_hint": "info"}  # the alerts stay; the hint shows
    assert (s["fitted"], s["fitted_from"]) == ("2022-06-01", "installed")


def test_told_late_the_reset_comes_with_the_next_reading(readings: list[Reading]) -> None:
    """The daemon learns of it days after the garage visit: the reset is at the first reading
    after it learnt, the age still counts from the day of the replacement."""
    an = _analyzer()
    told = REPLACED_SOS_AT + 5 * DAY_S
    trs = _run(an, readings, told_at=told)
    cleared = [tr for tr in trs if "battery replaced on 2025-03-25" in tr.message]
    first_after = next(r.t for r in readings if r.t >= told)
    assert cleared and all(tr.t == first_after and tr.state == "cleared" and tr.change == "cleared"
                           and tr.previous == tr.severity for tr in cleared)
    # the hint (raised before it was told) is cleared with the rest
    assert {tr.alert for tr in cleared} == {"decline", "replaced_hint"}
    assert [tr for tr in trs if tr.t > first_after] == []
    s = an.summary(readings[-1].t).to_json()["sos"]
    assert s["fitted"] == "2025-03-25"


def test_a_restart_after_the_replacement_carries_on_as_if_none_happened(readings: list[Reading]) -> None:
    whole = _run(_analyzer(), readings, told_at=readings[0].t)
    cut = next(i for i, r in enumerate(readings) if r.t >= REPLACED_SOS_AT + 4 * DAY_S)
    first = _analyzer()
    trs = _run(first, readings[:cut], told_at=readings[0].t)
    second = _analyzer()
    # as the daemon restarts: the store's replacements are scheduled again, then the state loaded
    assert second.schedule_replacement("sos", REPLACED_SOS_AT)
    second.import_state(first.export_state())
    assert second.pending == []  # applied already: not again
    trs += _run(second, readings[cut:])
    assert trs == whole
    assert second.summary(readings[-1].t).to_json()["sos"]["fitted"] == "2025-03-25"


def test_an_installed_date_later_than_the_replacement_wins(readings: list[Reading]) -> None:
    raw = scenarios.scenario_config(NAME)
    raw["battery"]["sos"]["installed"] = "2025-03-27"  # type: ignore[index]
    an = _analyzer(raw)
    trs = _run(an, readings, told_at=readings[0].t)
    assert not any("cleared: battery replaced" in tr.message for tr in trs)
    s = an.summary(readings[-1].t).to_json()["sos"]
    assert (s["fitted"], s["fitted_from"]) == ("2025-03-27", "installed")


def test_a_replacement_is_applied_once(readings: list[Reading]) -> None:
    an = _analyzer()
    _run(an, readings[:100], told_at=readings[0].t, when=readings[50].t)
    assert not an.schedule_replacement("sos", readings[50].t)  # applied already
    assert not an.schedule_replacement("sos", readings[10].t)  # older than the one applied
    assert not an.schedule_replacement("tyre", readings[60].t)


NOW = 1_765_000_000.0  # 2025-12-06 05:46:40 UTC


@pytest.mark.parametrize(("payload", "says"), [
    (b"\xff\xfe", "the command is not UTF-8 text"),
    (b"tyre", "the command 'tyre' is neither a battery name (main, sos) nor a JSON object"),
    (b"[1, 2]", "the command is not a JSON object"),
    (b'{"battery": "sos", "when": "today"}', "unknown keys in the command: when; expected battery, date, note"),
    (b'{"battery": 1}', "battery: expected a string"),
    (b'{"note": "x"}', "battery: required (main, sos)"),
])
def test_a_bad_command_says_what_is_wrong(payload: bytes, says: str) -> None:
    from battwatch.replacement import ReplacementError, parse_command

    with pytest.raises(ReplacementError) as e:
        parse_command(payload)
    assert str(e.value).startswith(says)


def test_commands_and_dates_as_the_button_and_the_phone_send_them() -> None:
    from battwatch.replacement import ReplacementError, clean_note, parse_command, parse_when

    assert parse_command(b"sos") == {"battery": "sos"}  # the Home Assistant button
    assert parse_command(b'{"battery": "main", "date": "2025-11-30"}') == {"battery": "main", "date": "2025-11-30"}
    assert parse_when(None, NOW) == NOW
    assert parse_when("2025-11-30", NOW) == 1_764_547_199.0  # the end of that UTC day
    assert parse_when("2025-12-06", NOW) == NOW  # today: not later than now
    assert parse_when("2025-12-06T05:00:00+01:00", NOW) == 1_764_993_600.0
    with pytest.raises(ReplacementError, match="the date is in the future"):
        parse_when("2025-12-07", NOW)
    assert clean_note("garage\nX\x00 " + "y" * 300) == ("garage X  " + "y" * 300)[:200]



def _worn_12v(swap: bool) -> list[Reading]:
    """A sulfating 12 V battery with rising resistance (main-rested-decline's wear and
    main-decline's), replaced by a new one on day 110 at 10:00 when ``swap``."""
    import random

    from battwatch.scenarios.catalogue import at, commute, plan_days
    from battwatch.scenarios.climate import MILD
    from battwatch.scenarios.engine import simulate
    from battwatch.scenarios.faults import Fault
    from battwatch.scenarios.lead_acid import MainAgeing

    day0 = DEFAULT_START
    ageing = MainAgeing(start=day0, end=at(day0, 160), r_factor=1.75, capacity_factor=1.0,
                        soc_ceiling=1.0 - 0.004 * 160, self_discharge_factor=1.0, shape=1.0)
    faults = (Fault("new-battery", at(day0, 110, 10.0)),) if swap else ()
    plan = plan_days(day0, 130, commute(random.Random("worn-12v"), day0, range(130)), MILD, main_ageing=ageing,
                 faults=faults)
    return list(simulate(plan, day0, "worn-12v"))


def test_a_new_12v_battery_is_hinted_from_its_rest_level_and_starts_and_cleared_when_told() -> None:
    raw = scenarios.scenario_config("main-rested-decline")
    swapped = _worn_12v(True)
    an = build_analyzer(config.from_dict(raw, env={}))
    trs = [tr for r in swapped for tr in _alerts(an.feed(r))]
    hints = [tr for tr in trs if tr.alert == "replaced_hint"]
    assert len(hints) == 1 and hints[0].battery == "main"
    assert 110.9 <= _day(hints[0]) <= 116.0
    assert "battwatch replaced --battery main --date 2025-04-26" in hints[0].message
    assert "its starts dip to" in hints[0].message
    active = {s.alert for s in an.engine.active("main")}
    assert "decline" in active  # untold, the old battery's decline stays

    told = build_analyzer(config.from_dict(raw, env={}))
    when = DEFAULT_START + 110 * DAY_S + 10 * 3600.0
    told.schedule_replacement("main", when)
    outs = [o for r in swapped for o in told.feed(r)]
    # the mark first, then the alerts it clears, all at the replacement's time
    marks = [i for i, o in enumerate(outs) if isinstance(o, Replaced)]
    assert len(marks) == 1 and outs[marks[0]] == Replaced(when, told.vehicle, "main", when, "")
    trs = _alerts(outs)
    assert all(outs.index(tr) > marks[0] for tr in trs if tr.t == when)
    at_swap = [tr for tr in trs if tr.t == when]
    assert at_swap and all(tr.state == "cleared" and tr.battery == "main" and
                           tr.message.startswith("cleared: battery replaced on 2025-04-26") for tr in at_swap)
    assert "decline" in {tr.alert for tr in at_swap}
    assert [tr for tr in trs if tr.t > when and tr.battery == "main"] == []


def test_a_worn_12v_battery_kept_gets_no_hint() -> None:
    an = build_analyzer(config.from_dict(scenarios.scenario_config("main-rested-decline"), env={}))
    assert not [tr for r in _worn_12v(False) for tr in _alerts(an.feed(r)) if tr.alert == "replaced_hint"]
