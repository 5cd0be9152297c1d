"""The InfluxDB encoder: line protocol, timestamps, windows, cranks, rests, health, alerts."""

from __future__ import annotations

import math
from typing import Any

import pytest

from battwatch.core import influx_encode as enc
from battwatch.core.model import AlertTransition, Reading

T0 = 1_736_121_600.0  # 2025-01-06T00:00:00Z
TAGS = {"vehicle": "car-1"}


def _r(t: float, main: float | None = 12.6, sos: float | None = 5.1, *, lo: float | None = None,
       hi: float | None = None, w: float = 60.0, temp: float | None = 5.0) -> Reading:
    lo = main if lo is None else lo
    hi = main if hi is None else hi
    return Reading(t, main, lo, hi, sos, sos, sos, temp, w)


def _tr(t: float, severity: str = "warning", state: str = "raised", alert: str = "rest_low") -> AlertTransition:
    return AlertTransition(t, "car-1", "main", alert, severity, state, 12.1, "rest voltage low")  # type: ignore[arg-type]


# -- line protocol -----------------------------------------------------------------------------


def test_line_protocol_escapes_every_part() -> None:
    p = enc.make_point(
        "my meas,x",
        {"vehicle": "car-1", "site": "Zürich, Süd=1", "path": "a\\b", "empty": "  ", "none": None},
        {"msg": 'say "hi"\\ now\nplease', "n": 3, "ok": True, "v": 12.5, "field key": 1.0},
        1_700_000_000_123_000_000,
    )
    assert p is not None
    assert p.to_line() == (
        'my\\ meas\\,x,path=a/b,site=Zürich\\,\\ Süd\\=1,vehicle=car-1 '
        'msg="say \\"hi\\"\\\\ now please",n=3i,ok=true,v=12.5,field\\ key=1.0 1700000000123000000'
    )


def test_tags_are_sorted_and_bad_fields_dropped() -> None:
    p = enc.make_point("m", {"z": "1", "a": "2"}, {"nan": math.nan, "inf": math.inf, "none": None, "v": 1.5}, 5)
    assert p is not None
    assert p.tags == (("a", "2"), ("z", "1"))
    assert p.fields == (("v", 1.5),)


def test_point_without_usable_field_is_none() -> None:
    assert enc.make_point("m", {"a": "1"}, {"v": None, "w": math.nan}, 1) is None


def test_floats_keep_full_precision_and_ints_are_typed() -> None:
    p = enc.make_point("m", {}, {"a": 0.1 + 0.2, "b": 1e-05, "c": 7}, 1)
    assert p is not None
    line = p.to_line()
    assert "a=0.30000000000000004" in line and "b=1e-05" in line and "c=7i" in line


def test_fleet_tags_builtin_names_win_and_blanks_go() -> None:
    tags = enc.fleet_tags("car-1", model="X1", site=" ", owner_group=None,
                          extra={"vehicle": "evil", "battery": "x", "region": "eu"})
    assert tags == {"region": "eu", "model": "X1", "vehicle": "car-1"}


# -- timestamps ----------------------------------------------------------------------------------


def test_time_ns_rounds_to_the_millisecond() -> None:
    assert enc.time_ns(1.0004) == 1_000_000_000
    assert enc.time_ns(1.0006) == 1_001_000_000
    assert enc.time_ns(T0 + 0.123) == enc.time_ns(T0 + 0.1230000001)


def test_alert_timestamps_same_transition_same_stamp_different_transitions_differ() -> None:
    t = T0 + 0.5
    stamps = {
        enc.alert_time_ns(_tr(t, sev, st)) for sev in ("info", "warning", "critical") for st in ("raised", "cleared")
    }
    assert len(stamps) == 6  # all six kinds in one millisecond stay six points
    assert enc.alert_time_ns(_tr(t)) == enc.alert_time_ns(_tr(t))
    # every raise sorts after every clear within one millisecond: last(active) reads active
    assert enc.alert_time_ns(_tr(t, "info", "raised")) > enc.alert_time_ns(_tr(t, "critical", "cleared"))
    # and never reaches the next millisecond
    assert max(stamps) < enc.time_ns(t + 0.001)


def test_alert_point_fields() -> None:
    p = enc.alert_point(_tr(T0, "critical"), {"vehicle": "car-1", "site": "s1"})
    assert p is not None
    assert dict(p.tags) == {"vehicle": "car-1", "battery": "main", "alert": "rest_low", "site": "s1"}
    assert dict(p.fields) == {
        "severity": "critical", "severity_rank": 3, "state": "raised", "active": 1, "value": 12.1,
        "message": "rest voltage low",
    }


def test_transition_from_dict_inverts_to_json_dict() -> None:
    tr = _tr(T0 + 12.25, "critical", "cleared")
    back = enc.transition_from_dict(tr.to_json_dict())
    assert back == tr


@pytest.mark.parametrize(
    ("patch", "key"),
    [({"time": "yesterday"}, "time"), ({"battery": "aux"}, "battery"), ({"state": None}, "state")],
)
def test_transition_from_dict_names_the_bad_key(patch: dict[str, object], key: str) -> None:
    d = {**_tr(T0).to_json_dict(), **patch}
    with pytest.raises(ValueError, match=f"^{key}:"):
        enc.transition_from_dict(d)


# -- windows -------------------------------------------------------------------------------------


def test_windows_align_to_the_grid_and_weight_by_length() -> None:
    agg = enc.WindowAggregator("car-1", 60.0)
    out: list[enc.WindowAggregate] = []
    # 1 Hz readings from 00:00:01 to 00:02:00: two full windows ending 00:01:00 and 00:02:00
    for i in range(1, 121):
        v = 12.0 if i <= 60 else 13.0
        out += agg.add(_r(T0 + i, v, 5.0, lo=v - 0.1 if i != 30 else 9.9, hi=v + 0.1, w=1.0))
    assert [a.t for a in out] == [T0 + 60]
    first = out[0]
    assert (first.n, first.main_v, first.main_min_v, first.main_max_v) == (60, 12.0, 9.9, 12.1)
    second = agg.partial()
    assert second is not None and second.t == T0 + 120 and second.main_v == 13.0
    assert agg.partial() is None  # unchanged since last asked


def test_partial_window_is_overwritten_by_the_complete_one() -> None:
    agg = enc.WindowAggregator("car-1", 60.0)
    agg.add(_r(T0 + 10, 12.0, w=10.0))
    part = agg.partial()
    agg.add(_r(T0 + 20, 14.0, w=10.0))
    done = agg.add(_r(T0 + 70, 12.0, w=10.0))
    assert part is not None and done[0].t == part.t  # same timestamp: InfluxDB keeps the newer
    assert done[0].n == 2 and done[0].main_v == 13.0


def test_long_readings_and_mean_weighting() -> None:
    agg = enc.WindowAggregator("car-1", 60.0)
    agg.add(_r(T0 + 30, 12.0, w=30.0))
    agg.add(_r(T0 + 40, 15.0, w=10.0))
    a = agg.partial()
    assert a is not None and a.main_v == pytest.approx(12.75)


def test_window_points_per_battery_and_missing_channel() -> None:
    a = enc.WindowAggregate(T0 + 60, "car-1", 60.0, 3, 12.5, 12.4, 12.6, None, None, None, 4.0, "asleep")
    points = enc.window_points(a, TAGS)
    assert [(p.measurement, p.tag("battery")) for p in points] == [("readings", "main")]
    assert dict(points[0].fields) == {"v": 12.5, "min_v": 12.4, "max_v": 12.6, "temp_c": 4.0, "n": 3, "state": "asleep"}
    assert points[0].time_ns == enc.time_ns(T0 + 60)


def test_window_aggregate_dict_round_trip_and_errors() -> None:
    a = enc.WindowAggregate(T0 + 60, "car-1", 60.0, 3, 12.5, 12.4, 12.6, 5.1, 5.0, 5.2, 4.0, "running")
    assert enc.WindowAggregate.from_dict(a.to_dict()) == a
    with pytest.raises(ValueError, match="^t:"):
        enc.WindowAggregate.from_dict({"vehicle": "x"})
    with pytest.raises(ValueError, match="^vehicle:"):
        enc.WindowAggregate.from_dict({"t": 1.0})


def test_replaying_the_same_readings_gives_identical_lines() -> None:
    def run() -> list[str]:
        e = enc.ReadingEncoder("car-1", TAGS)
        lines: list[str] = []
        for i in range(200):
            lines += enc.to_lines(e.reading(_r(T0 + 37 * i, 12.5 + (i % 7) * 0.01, w=37.0)))
        return lines + enc.to_lines(e.close())

    assert run() == run()


# -- cranks --------------------------------------------------------------------------------------


def test_crank_in_minute_windows() -> None:
    d = enc.CrankDetector("car-1")
    events = []
    events += d.add(_r(T0, 12.45, lo=12.40, hi=12.5))  # awake before the start
    events += d.add(_r(T0 + 60, 13.9, lo=9.7, hi=14.6))  # the crank window
    assert events == []
    events += d.add(_r(T0 + 120, 14.2, lo=13.8, hi=14.5))  # running: the recovery
    assert events == [enc.CrankEvent(T0 + 60, "car-1", 9.7, 12.45, 14.2, 5.0)]


def test_crank_in_fast_mode_with_retry_is_one_event() -> None:
    d = enc.CrankDetector("car-1")
    events = d.add(_r(T0, 12.5, lo=12.49, hi=12.51, w=1.0))
    t = T0 + 1
    # 10 ms windows: min equals average, so only the calm reference shows the dip
    for v in (10.2, 9.9, 10.4, 11.8, 12.3, 10.0, 9.5, 10.8, 12.9):
        t += 0.01
        events += d.add(_r(t, v, w=0.01))
    t_min = T0 + 1 + 0.07
    assert events == []
    events += d.add(_r(t + 5, 14.0, w=1.0))  # too soon to judge the recovery
    assert events == []
    events += d.add(_r(t + 11, 14.1, w=1.0))
    assert len(events) == 1
    ev = events[0]
    assert (ev.min_v, ev.pre_v, ev.recovery_v) == (9.5, 12.5, 14.1)
    assert ev.t == pytest.approx(t_min)


def test_alternator_swing_is_not_a_crank() -> None:
    d = enc.CrankDetector("car-1")
    d.add(_r(T0, 14.0, lo=13.8, hi=14.6))
    assert d.add(_r(T0 + 60, 13.6, lo=12.45, hi=14.8)) == []
    assert not d.is_crank(_r(T0 + 120, 13.6, lo=12.45, hi=14.8))


def test_crank_without_timely_recovery_and_on_close() -> None:
    d = enc.CrankDetector("car-1")
    d.add(_r(T0, 12.4))
    d.add(_r(T0 + 60, 11.0, lo=9.0))
    late = d.add(_r(T0 + 3600, 12.3))
    assert [(e.min_v, e.recovery_v) for e in late] == [(9.0, None)]
    d.add(_r(T0 + 3660, 11.2, lo=9.2))
    closed = d.close()
    assert [(e.min_v, e.pre_v, e.recovery_v) for e in closed] == [(9.2, 12.3, None)]
    assert d.close() == []


def test_cranking_state_counts_even_without_a_dip() -> None:
    d = enc.CrankDetector("car-1")
    assert d.is_crank(_r(T0, 12.0, lo=11.9), "cranking")


def test_crank_point() -> None:
    p = enc.crank_point(enc.CrankEvent(T0, "car-1", 9.7, 12.45, None, 3.0), TAGS)
    assert p is not None and p.measurement == "cranks" and p.tag("battery") == "main"
    assert dict(p.fields) == {"min_v": 9.7, "pre_v": 12.45, "dip_v": 2.75, "temp_c": 3.0}


# -- rests ---------------------------------------------------------------------------------------


def test_rested_readings_after_rest_time_once_per_hour() -> None:
    d = enc.RestDetector("car-1")
    out: list[enc.RestedReading] = []
    out += d.add(_r(T0, 14.2, lo=14.0, hi=14.4))  # running
    for i in range(1, 61):  # ten hours asleep in 10-minute windows
        out += d.add(_r(T0 + 600 * i, 12.6, lo=12.598, hi=12.602, w=600.0))
    sos = [r for r in out if r.battery == "sos"]
    main = [r for r in out if r.battery == "main"]
    assert sos[0].t == T0 + 600 * 13 and sos[0].rest_s == 2 * 3600  # window 13 starts 2 h after
    assert main[0].t == T0 + 600 * 25 and main[0].rest_s == 4 * 3600
    hours = [int(r.t // 3600) for r in main]
    assert hours == sorted(set(hours))  # at most one per hour
    assert len(main) == 7 and len(sos) == 9  # hours 4-10 and 2-10


def test_activity_restarts_the_rest_clock() -> None:
    d = enc.RestDetector("car-1")
    d.add(_r(T0, 12.6))
    assert d.add(_r(T0 + 3600, 12.6, w=600.0)) == []  # 50 min of rest
    assert [r.battery for r in d.add(_r(T0 + 7800, 12.6, w=600.0))] == ["sos"]  # 2 h
    assert d.add(_r(T0 + 3 * 3600, 12.6, w=600.0), "running") == []  # the analysis says awake
    assert d.add(_r(T0 + 4 * 3600, 12.6, w=600.0), "asleep") == []  # 50 min since
    assert [r.battery for r in d.add(_r(T0 + 5 * 3600 + 600, 12.6, w=600.0), "asleep")] == ["sos"]
    assert d.add(_r(T0 + 5 * 3600 + 1200, 12.6, lo=12.5, hi=12.7, w=600.0), "asleep") == []  # a load


def test_first_reading_counts_as_activity() -> None:
    d = enc.RestDetector("car-1")
    assert d.add(_r(T0, 12.6, w=600.0)) == []
    assert d.add(_r(T0 + 600, 12.6, w=600.0)) == []


# -- the reading side as a whole --------------------------------------------------------------


def test_reading_encoder_emits_all_kinds_and_remembers_latest() -> None:
    e = enc.ReadingEncoder("car-1", TAGS)
    points: list[enc.Point] = []
    points += e.reading(_r(T0, 14.1, lo=13.9, hi=14.3))
    for i in range(1, 31):
        points += e.reading(_r(T0 + 600 * i, 12.6, lo=12.599, hi=12.601, w=600.0))
    points += e.reading(_r(T0 + 18060, 12.5, lo=12.49, hi=12.52))
    points += e.reading(_r(T0 + 18120, 13.8, lo=9.6, hi=14.5))
    points += e.reading(_r(T0 + 18180, 14.2, lo=14.0, hi=14.4))
    points += e.close()
    kinds = {p.measurement for p in points}
    assert kinds == {"readings", "rested", "cranks"}
    assert e.latest.crank_min_v == 9.6 and e.latest.rest_v == {"main": 12.6, "sos": 5.1}
    readings = [p for p in points if p.measurement == "readings"]
    keys = [(p.tag("battery"), p.time_ns) for p in readings]
    assert len(keys) == len(set(keys))  # never two points on one series and timestamp


@pytest.mark.parametrize("name", ["battwatch.influx.example.toml", "battwatch.influx-v1.example.toml"])
def test_influx_example_configs_pass_check_config(name: str, root: Any, battwatch_bin: str) -> None:
    import subprocess

    done = subprocess.run(
        [battwatch_bin, "check-config", "-c", str(root / "config" / name)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sinks: store, influx" in done.stdout
