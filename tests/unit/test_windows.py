"""The one window aggregator: where a reading lands, what a window holds, and that the MQTT and InfluxDB paths agree."""

from __future__ import annotations

import json

import pytest

from battwatch.core import influx_encode as influx
from battwatch.core import mqtt_encode as mqtt
from battwatch.core.fleet_points import window_aggregate
from battwatch.core.model import Reading
from battwatch.core.windows import WindowAggregate, WindowAggregator

T0 = 1_736_121_600.0  # 2025-01-06T00:00:00Z, a multiple of 60
TAGS = {"vehicle": "car-1"}


def _r(t: float, main: float | None = 12.6, sos: float | None = 5.1, *, lo: float | None = None,
       hi: float | None = None, w: float = 10.0, temp: float | None = 5.0) -> Reading:
    return Reading(t, main, main if lo is None else lo, main if hi is None else hi, sos, sos, sos, temp, w)


def _direct(readings: list[tuple[Reading, str]], span_s: float = 60.0) -> list[influx.Point]:
    """The points the daemon's own InfluxDB sink writes for these readings (closed windows and the last one)."""
    e = influx.ReadingEncoder("car-1", TAGS, span_s=span_s)
    out: list[influx.Point] = []
    for r, state in readings:
        out += e.reading(r, state)
    return out + e.close()


def _collected(readings: list[tuple[Reading, str]], span_s: float = 60.0) -> list[influx.Point]:
    """The points `battwatch collect` writes from the car's MQTT readings messages."""
    agg = WindowAggregator(span_s)
    stats = [w for r, state in readings if (w := agg.add(r, state)) is not None]
    tail = agg.flush()
    stats += [tail] if tail is not None else []
    out: list[influx.Point] = []
    for w in stats:
        body = json.loads(mqtt.readings_payload("car-1", w))
        out += influx.window_points(window_aggregate(body, "car-1"), TAGS)
    return out


def test_a_reading_on_a_window_boundary_belongs_to_the_window_that_ends_there() -> None:
    # a reading is stamped at the end of what it measured: the one at 00:01:00 is 00:00:50-00:01:00
    agg = WindowAggregator(60)
    assert agg.add(_r(T0 + 30, 12.0)) is None
    assert agg.add(_r(T0 + 60, 13.0)) is None
    closed = agg.add(_r(T0 + 60.001, 14.0))
    assert closed is not None and (closed.start, closed.end, closed.samples) == (T0, T0 + 60, 2)
    assert closed.aggregate("car-1").main_v == 12.5


def test_a_reading_on_a_boundary_gives_the_same_points_on_the_direct_and_the_collector_path() -> None:
    """The bug: the direct InfluxDB path put it in the window ending there (ceil), MQTT and
    `battwatch collect` in the next one (floor)."""
    readings = [(_r(T0 + 30, 12.0), "asleep"), (_r(T0 + 60, 13.0), "asleep"), (_r(T0 + 90, 14.0), "awake")]
    direct, collected = _direct(readings), _collected(readings)
    assert [p.to_line() for p in direct] == [p.to_line() for p in collected]
    main = [p for p in direct if p.tag("battery") == "main"]
    assert [(p.time_ns, p.field("v"), p.field("n")) for p in main] == [
        (influx.time_ns(T0 + 60), 12.5, 2), (influx.time_ns(T0 + 120), 14.0, 1)]


def test_many_readings_give_the_same_points_on_both_paths() -> None:
    readings = [(_r(T0 + 7.5 * i, 12.6 + (i % 13) / 1000, lo=12.5 + (i % 5) / 100, hi=12.9 - (i % 3) / 100,
                    temp=4.0 + (i % 7) / 10), "asleep" if i < 300 else "running") for i in range(1, 700)]
    direct, collected = _direct(readings), _collected(readings)
    assert len(direct) == 2 * 88
    assert [p.to_line() for p in direct] == [p.to_line() for p in collected]


def test_a_window_keeps_extremes_plain_means_at_the_log_precision_and_the_last_state() -> None:
    agg = WindowAggregator(60)
    agg.add(_r(T0 + 10, 12.6001, lo=12.1234, hi=12.7, temp=4.04), "awake")
    agg.add(_r(T0 + 20, 12.7, lo=12.5, hi=14.2, w=50.0, temp=5.0), "running")
    agg.add(_r(T0 + 30, 12.9, sos=None, temp=None), "running")
    w = agg.flush()
    assert w is not None and agg.flush() is None
    a = w.aggregate("car-1")
    assert a == WindowAggregate(T0 + 60, "car-1", 60.0, 3, round((12.6 + 12.7 + 12.9) / 3, 4), 12.123, 14.2,
                                5.1, 5.1, 5.1, 4.5, "running")
    assert w.states == {"awake": 1, "running": 2}


def test_partial_shows_the_open_window_once_per_change() -> None:
    agg = WindowAggregator(60)
    assert agg.partial() is None
    agg.add(_r(T0 + 10, 12.0))
    part = agg.partial()
    assert part is not None and part.aggregate("car-1").n == 1
    assert agg.partial() is None  # unchanged since last asked
    agg.add(_r(T0 + 20, 14.0))
    done = agg.add(_r(T0 + 70, 12.0))
    assert done is not None and done.aggregate("car-1").t == T0 + 60 and done.samples == 2


def test_a_reading_back_in_time_starts_a_new_window() -> None:
    agg = WindowAggregator(60)
    agg.add(_r(T0 + 30))
    closed = agg.add(_r(T0 + 10))
    assert closed is not None and closed.samples == 1


def test_float_noise_at_a_boundary_does_not_push_a_reading_a_window_late() -> None:
    agg = WindowAggregator(60)
    agg.add(_r(T0 + 60.0000001))
    w = agg.flush()
    assert w is not None and w.end == T0 + 60


def test_span_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        WindowAggregator(0)


def test_the_window_holds_what_rounding_every_value_as_the_log_does_would_give() -> None:
    """Means are summed as the CSV log keeps them (a steady value is rounded once) and the range
    is rounded when read: the same figures as rounding every value of every reading."""
    import random

    rnd = random.Random(14)
    agg = WindowAggregator(600)
    readings = []
    for i in range(1, 500):
        v = rnd.choice([12.6004999, 12.6005001, 12.61, 11.9996]) if i % 3 else 12.6 + rnd.uniform(-0.3, 0.3)
        lo = None if i % 7 == 0 else v - rnd.uniform(0.0, 0.2)
        hi = float("nan") if i % 11 == 0 else v + rnd.uniform(0.0, 0.2)
        readings.append(_r(T0 + i, v, lo=lo, hi=hi, temp=rnd.choice([4.05, 4.15, -0.04])))
    for r in readings:
        agg.add(r)
    w = agg.flush()
    assert w is not None
    got = w.aggregate("car-1")

    def kept(v: float | None, digits: int = 3) -> float | None:
        return None if v is None or v != v else round(v, digits)

    means = [kept(r.main_v) for r in readings]
    lows = [kept(r.main_min_v) or m for r, m in zip(readings, means, strict=True)]
    highs = [kept(r.main_max_v) or m for r, m in zip(readings, means, strict=True)]
    temps = [kept(r.temp_c, 1) for r in readings]
    assert got.n == len(readings)
    assert got.main_v == round(sum(m for m in means if m is not None) / len(means), 4)
    assert (got.main_min_v, got.main_max_v) == (min(v for v in lows if v), max(v for v in highs if v))
    assert got.temp_c == round(sum(t for t in temps if t is not None) / len(temps), 2)
