"""The InfluxDB encoder: line protocol, timestamps, windows, cranks, rests, health, alerts."""

from __future__ import annotations

import math
from typing import Any

import pytest

from battwatch.core import influx_encode as enc
from battwatch.core.events import Rested, Start
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


# -- starts and rested readings, as the analysis found them --------------------------------------


def test_crank_point_carries_the_analysis_verdict() -> None:
    ev = Start(T0, "car-1", 9.7, 12.45, 12.45 - 9.7, None, 3.0, 9.9, False, False, False, "below")
    p = enc.crank_point(ev, TAGS)
    assert p is not None and p.measurement == "cranks" and p.tag("battery") == "main"
    assert dict(p.fields) == {"min_v": 9.7, "pre_v": 12.45, "dip_v": 2.75, "temp_c": 3.0, "limit_v": 9.9,
                              "verdict": "below", "failed": False, "restart": False, "low_charge": False}
    assert p.time_ns == enc.time_ns(T0)


def test_rested_point() -> None:
    p = enc.rested_point(Rested(T0, "car-1", "sos", 5.12, 7200.0, None), TAGS)
    assert p is not None and p.measurement == "rested" and p.tag("battery") == "sos"
    assert dict(p.fields) == {"v": 5.12, "rest_h": 2.0}


# -- the reading side as a whole --------------------------------------------------------------


def test_reading_encoder_writes_windows_and_the_analysis_events_and_remembers_latest() -> None:
    e = enc.ReadingEncoder("car-1", TAGS)
    points: list[enc.Point] = []
    for i in range(1, 31):
        points += e.reading(_r(T0 + 600 * i, 12.6, lo=12.599, hi=12.601, w=600.0), "asleep")
    points += e.rested(Rested(T0 + 18000, "car-1", "main", 12.6, 5 * 3600.0, 5.0))
    points += e.started(Start(T0 + 18120, "car-1", 9.6, 12.5, 2.9, 14.0, 5.0, 9.9, False, False, False, "below"))
    points += e.close()
    assert {p.measurement for p in points} == {"readings", "rested", "cranks"}
    assert e.latest.crank_min_v == 9.6 and e.latest.rest_v == {"main": 12.6}
    assert e.latest.voltage_v == {"main": 12.6, "sos": 5.1}
    readings = [p for p in points if p.measurement == "readings"]
    keys = [(p.tag("battery"), p.time_ns) for p in readings]
    assert len(keys) == len(set(keys)) == 60  # never two points on one series and timestamp
    assert {p.field("state") for p in readings} == {"asleep"}


@pytest.mark.parametrize("name", ["battwatch.influx.example.toml", "battwatch.influx-v1.example.toml"])
def test_influx_example_configs_pass_check_config(name: str, root: Any, battwatch_bin: str) -> None:
    import subprocess

    done = subprocess.run(
        [battwatch_bin, "check-config", "-c", str(root / "config" / name)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sinks: store, influx" in done.stdout
