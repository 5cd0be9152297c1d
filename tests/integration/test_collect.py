"""`battwatch collect` against a real Mosquitto and InfluxDB 1.6: shared subscriptions, kills, outages."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from battwatch import config, scenarios
from battwatch.commands.collect import Collector
from battwatch.config import Config
from battwatch.core import influx_encode as enc
from battwatch.core import influx_health as ih
from battwatch.core import mqtt_encode as me
from battwatch.core.csvlog import write_csv
from battwatch.core.events import Rested, Start
from battwatch.core.healthsummary import from_json
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.mqtt_state import state_payload
from battwatch.core.timefmt import iso_utc
from battwatch.replay import replay_file
from battwatch.sinks.influx import OUTBOX_NAME
from battwatch.sinks.mqtt import MqttSink
from helpers import Proc, battwatch
from servers import (
    InfluxDB1,
    Mosquitto,
    copy_dynsec_config,
    start_mosquitto,
    wait_until,
    write_mosquitto_password_file,
)

pytestmark = pytest.mark.servers

DB = "battwatch"
PREFIX = "battwatch"
T0 = 1_736_121_600.0  # 2025-01-06T00:00:00Z
TIMEOUT = 60.0
MEASUREMENTS = ("readings", "health", "fleet", "alerts", "rested", "cranks", "projection")
# Collectors that fall behind must not lose their share at the broker (the default keeps 1000).
BROKER_CONF = "max_queued_messages 0\n"


# -- configuration ---------------------------------------------------------------------------


def collector_raw(
    name: str, store: Path, broker: Mosquitto, db: InfluxDB1, **collect: Any
) -> dict[str, dict[str, Any]]:
    return {
        "vehicle": {"id": name},
        "store": {"path": str(store)},
        "mqtt": {"host": broker.host, "port": broker.port, "prefix": PREFIX},
        "influx": {"url": db.url, "api": "v1", "database": DB, "flush_interval_s": 0.2, "batch_size": 2000},
        "collect": {"client_id": f"test-{name}", "status_interval_s": 0.2, **collect},
    }


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a TOML basic string


def write_toml(path: Path, raw: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_collector_process(path: Path) -> Proc:
    proc = Proc(battwatch("collect", "-c", str(path)))
    proc.wait_for(r"subscribed: ", 30)
    return proc


FINAL = re.compile(r"collector stopped: messages=(\d+) points=(\d+) bad=(\d+)")


def stop_collector_process(proc: Proc) -> tuple[int, int]:
    """SIGTERM; returns (messages, points) from the final log line after asserting exit 0."""
    rc = proc.stop(60)
    assert rc == 0, proc.output[-3000:]
    m = FINAL.search(proc.output)
    assert m is not None, proc.output[-3000:]
    return int(m.group(1)), int(m.group(2))


@contextlib.contextmanager
def running_collector(cfg: Config, store: Path) -> Iterator[Collector]:
    """A collector in this process, on a thread of its own (as its main loop)."""
    col = Collector(cfg, store_dir=store)
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.setdefault("rc", col.run()), name="collector")
    thread.start()
    try:
        wait_until(col.subscribed.is_set, 30, "the collector's subscription")
        yield col
    finally:
        col.stop()
        thread.join(TIMEOUT)
    assert not thread.is_alive() and result.get("rc") == 0


# -- what the cars send and what InfluxDB must hold --------------------------------------------


@dataclass(frozen=True)
class Msg:
    topic: str
    payload: bytes


def readings_points(payload: bytes, tags: dict[str, str]) -> list[enc.Point]:
    """The readings message's window as the schema's points: the documented mapping."""
    d = json.loads(payload)
    agg = enc.WindowAggregate(
        t=d["window"]["end_t"], vehicle=d["vehicle"], span_s=d["window"]["interval_s"], n=d["samples"],
        main_v=d["main"]["mean_v"], main_min_v=d["main"]["min_v"], main_max_v=d["main"]["max_v"],
        sos_v=d["sos"]["mean_v"], sos_min_v=d["sos"]["min_v"], sos_max_v=d["sos"]["max_v"],
        temp_c=d["temp"]["mean_c"], state=d["state"],
    )
    return enc.window_points(agg, tags)


def state_points(s: HealthSummary, tags: dict[str, str]) -> list[enc.Point]:
    """Health and fleet rows of the summary (starts and rested readings come as events)."""
    return ih.health_points(s.data, tags)


@dataclass
class FleetRun:
    messages: list[Msg]
    points: list[enc.Point]


def fleet(vehicles: int, minutes: int, names: list[str] | None = None) -> FleetRun:
    """Every car sends a readings window and a state message each minute; some raise and clear
    an alert. Returns the messages in fleet order (minute by minute) and the points InfluxDB
    must end up with, built from the car-side inputs with the schema's own encoder."""
    msgs: list[Msg] = []
    points: list[enc.Point] = []
    for m in range(1, minutes + 1):
        for v in range(vehicles):
            vehicle = names[v] if names else f"car-{v:03d}"
            tags = enc.fleet_tags(vehicle)
            tp = me.Topics(PREFIX, vehicle)
            start = T0 + 60.0 * (m - 1)
            running = (m + v) % 5 == 0
            agg = me.WindowAggregator(60)
            for k in range(6):
                main = 14.1 if running else round(12.6 - 0.001 * m - 0.01 * (v % 7), 3)
                sos = round(5.2 - 0.0005 * m, 4)
                agg.add(Reading(start + 5 + 10 * k, main, main - 0.01, main + 0.01, sos, sos - 0.002, sos + 0.002,
                                4.5 + 0.1 * (v % 3), 10.0, vehicle), "running" if running else "parked")
            w = agg.flush()
            assert w is not None
            payload = me.readings_payload(vehicle, w)
            msgs.append(Msg(tp.readings, payload))
            points += readings_points(payload, tags)
            t = start + 60.0
            crank_t = T0 + 60.0 * ((m // 5) * 5) + 7.25  # the last start: changes every 5 minutes
            data: dict[str, Any] = {
                "state": "running" if running else "parked",
                "main": {
                    "voltage": 12.6, "rested_voltage": round(12.64 - 0.001 * m, 4), "rested_at": iso_utc(t - 30),
                    "soc_pct": 80 - m % 3, "age_years": 2.5, "remaining_life_years": 3.1,
                    "remaining_life_basis": "age", "last_crank_min_v": 9.8 + 0.01 * (v % 4),
                    "last_crank_at": iso_utc(crank_t), "last_crank_temp_c": 4.5, "alerts": [],
                },
                "sos": {"voltage": 5.2, "rested_voltage": 5.21, "rested_at": iso_utc(t - 45), "soc_pct": 70,
                        "age_years": 4.0, "remaining_life_years": 1.5, "remaining_life_basis": "age",
                        "alerts": []},
            }
            if v % 4 == 1 and 3 <= m < 8:
                data["sos"]["alerts"] = [{"alert": "low_voltage", "severity": "warning", "since": iso_utc(T0 + 150)}]
            s = HealthSummary(t, vehicle, from_json(data, vehicle=vehicle, t=t))
            msgs.append(Msg(tp.state, state_payload(s)))
            points += state_points(s, tags)
            if m == 1 or m % 5 == 0:  # a start: at the first minute, then every 5 minutes
                ev = Start(crank_t, vehicle, 9.8 + 0.01 * (v % 4), 12.6, round(12.6 - 9.8 - 0.01 * (v % 4), 4), 14.1, 4.5,
                           9.4, False, False, v % 3 == 2, "low charge" if v % 3 == 2 else "ok")
                msgs.append(Msg(tp.events, me.start_payload(vehicle, ev)))
                points.append(not_none(enc.crank_point(ev, tags)))
            if m == 1:  # each battery rested, once in this hour of data
                for rested in (Rested(t - 30, vehicle, "main", 12.64, 5 * 3600.0, 4.5),
                               Rested(t - 45, vehicle, "sos", 5.21, 5 * 3600.0, None)):
                    msgs.append(Msg(tp.events, me.rested_payload(vehicle, rested)))
                    points.append(not_none(enc.rested_point(rested, tags)))
            if v % 4 == 1 and m in (3, 8):
                raised = m == 3
                tr = AlertTransition(start + 30.5, vehicle, "sos", "low_voltage", "warning",
                                     "raised" if raised else "cleared", 4.81 if raised else 5.07,
                                     "SOS backup battery low" if raised else "SOS backup battery back to normal")
                msgs.append(Msg(tp.events, me.event_payload(tr, "raised" if raised else "cleared")))
                p = enc.alert_point(tr, tags)
                assert p is not None
                points.append(p)
    return FleetRun(msgs, points)


def not_none(p: enc.Point | None) -> enc.Point:
    assert p is not None
    return p


def publish(
    broker: Mosquitto, msgs: list[Msg], client_id: str = "test-publisher", auth: tuple[str, str] | None = None,
    qos: int = 1,
) -> None:
    """Publish (QoS 1 by default) and return once the broker took every message."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    if auth is not None:
        c.username_pw_set(*auth)
    c.max_inflight_messages_set(500)
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        infos = [c.publish(m.topic, m.payload, qos=qos) for m in msgs]
        for info in infos:
            info.wait_for_publish(TIMEOUT)
            assert info.is_published()
    finally:
        c.disconnect()
        c.loop_stop()


Row = tuple[tuple[str, Any], ...]


def point_rows(points: list[enc.Point]) -> dict[str, set[Row]]:
    out: dict[str, set[Row]] = {m: set() for m in MEASUREMENTS}
    for p in points:
        out[p.measurement].add(tuple(sorted({"time": p.time_ns, **dict(p.tags), **dict(p.fields)}.items())))
    return out


def db_rows(db: InfluxDB1, measurement: str, database: str = DB) -> list[Row]:
    """Every point of ``measurement`` with its tags, fields and nanosecond time (a list: a
    duplicate would show twice)."""
    result = db.query(f'SELECT * FROM "{measurement}" GROUP BY *', database, epoch="ns")["results"][0]
    rows: list[Row] = []
    for series in result.get("series", []):
        # GROUP BY * names every tag key of the measurement; a series without one shows ""
        tags = {k: v for k, v in series.get("tags", {}).items() if v != ""}
        for values in series["values"]:
            row = {**tags, **{k: v for k, v in zip(series["columns"], values, strict=True) if v is not None}}
            rows.append(tuple(sorted(row.items())))
    return rows


def db_count(db: InfluxDB1) -> int:
    return sum(len(db_rows(db, m)) for m in MEASUREMENTS)


def assert_db_holds_exactly(db: InfluxDB1, points: list[enc.Point]) -> None:
    want = point_rows(points)
    for measurement in MEASUREMENTS:
        got = db_rows(db, measurement)
        assert len(got) == len(set(got)), f"{measurement}: a point is stored twice"
        missing = want[measurement] - set(got)
        extra = set(got) - want[measurement]
        assert not missing and not extra, (
            f"{measurement}: {len(missing)} missing, e.g. {sorted(missing)[:2]}; "
            f"{len(extra)} unexpected, e.g. {sorted(extra)[:2]}"
        )


def wait_for_points(db: InfluxDB1, points: list[enc.Point], what: str, tail: Any = None) -> None:
    total = sum(len(rows) for rows in point_rows(points).values())
    wait_until(lambda: db_count(db) >= total, TIMEOUT, f"{total} points in InfluxDB ({what})", tail=tail)


# -- the tests -------------------------------------------------------------------------------


def test_one_collector_writes_what_car_sinks_publish(
    mosquitto: Mosquitto, influxdb1: InfluxDB1, tmp_path: Path
) -> None:
    """Three cars' own MQTT sinks publish; one collector turns it into exactly the schema's points."""
    influxdb1.create_database(DB)
    fleet_file = tmp_path / "fleet.csv"
    fleet_file.write_text("vehicle,model,site\nx1-a,BMW X1 F48,Zürich\nx1-b,BMW X1 F48,Bern\n", encoding="utf-8")
    raw = collector_raw("collector-1", tmp_path / "col", mosquitto, influxdb1,
                        health_every_s=0, fleet_file=str(fleet_file))
    raw["influx"]["tags"] = {"region": "ch"}
    cfg = config.from_dict(raw, env={})
    fleet_tags = {"x1-a": {"model": "BMW X1 F48", "site": "Zürich"}, "x1-b": {"model": "BMW X1 F48", "site": "Bern"}}
    expected: list[enc.Point] = []
    n_messages = 0
    with running_collector(cfg, tmp_path / "col") as col:
        for i, vehicle in enumerate(("x1-a", "x1-b", "x1-c")):
            car = config.from_dict({
                "vehicle": {"id": vehicle, **fleet_tags.get(vehicle, {})},
                "battery": {"main": {"installed": "2022-07-01"}},
                "mqtt": {"host": mosquitto.host, "port": mosquitto.port, "homeassistant": False},
            }, env={})
            tags = enc.fleet_tags(vehicle, extra={"region": "ch"}, **fleet_tags.get(vehicle, {}))
            sink = MqttSink(car, tmp_path / vehicle)
            sink.start()
            windows = me.WindowAggregator(60)
            for k in range(72):  # twelve minutes, a reading every 10 s
                t = T0 + 10.0 * (k + 1) + i
                main = 14.2 if 30 <= k < 40 else 12.61 - 0.0005 * k
                r = Reading(t, main, main - 0.02, main + 0.02, 5.21, 5.2, 5.22, 3.5, 10.0, vehicle)
                state = "running" if 30 <= k < 40 else "parked"
                sink.reading(r, state)
                if (w := windows.add(r, state)) is not None:
                    expected += readings_points(me.readings_payload(vehicle, w), tags)
                    n_messages += 1
                if k % 6 == 5:  # a summary every minute of data
                    data: dict[str, Any] = {
                        "state": state,
                        "main": {"voltage": main, "rested_voltage": 12.63, "rested_at": iso_utc(T0 + 5),
                                 "soc_pct": 85, "age_years": 2.52, "remaining_life_years": 2.9,
                                 "remaining_life_basis": "age", "alerts": [],
                                 "last_crank_min_v": 9.95, "last_crank_at": iso_utc(T0 + 305), "last_crank_temp_c": 3.5},
                        "sos": {"voltage": 5.21, "rested_voltage": 5.21, "rested_at": iso_utc(T0 + 6),
                                "soc_pct": 72, "age_years": 5.5, "remaining_life_years": 0.8,
                                "remaining_life_basis": "trend", "alerts": [],
                                "trend": {"v_per_day": -0.0011, "significant": True,
                                          "projected_end_of_life_date": "2026-03-01"}},
                    }
                    s = HealthSummary(t, vehicle, from_json(data, vehicle=vehicle, t=t))
                    sink.summary(s)
                    # state is retained, and the car's outbox keeps only the newest undelivered
                    # one: let each go out before the next, so the collector sees them all
                    assert sink.wait_drained(TIMEOUT)
                    expected += state_points(s, tags)
                    if k == 5:  # the projection: from the first summary of the day
                        expected += ih.projection_points(s.data, tags)
                    n_messages += 1
                if vehicle == "x1-b" and k in (20, 50):
                    tr = AlertTransition(t, vehicle, "main", "low_voltage", "warning" if k == 20 else "critical",
                                         "raised", 11.9 if k == 20 else 11.6, "12 V battery low.")
                    sink.transition(tr)
                    p = enc.alert_point(tr, tags)
                    assert p is not None
                    expected.append(p)
                    n_messages += 1
            sink.close(TIMEOUT)  # queues the open window and waits for the broker's acknowledgements
            if (w := windows.flush()) is not None:
                expected += readings_points(me.readings_payload(vehicle, w), tags)
                n_messages += 1
            assert sink.status()["backlog"] == 0
        wait_until(lambda: col.counts["messages"] >= n_messages, TIMEOUT, f"{n_messages} messages at the collector",
                   tail=lambda: str(col.status()))
    st = col.status()
    assert st["messages"] == n_messages and st["bad"] == 0 and st["ignored"] == 0
    assert st["acked"] == n_messages and st["unacked"] == 0
    assert st["influx_backlog"] == 0 and st["influx_dropped"] == 0
    assert_db_holds_exactly(influxdb1, expected)
    # the fleet tags came from the fleet file: the dashboards' site filter finds the cars
    sites = {r["vehicle"]: r.get("site") or None for r in influxdb1.points('SELECT last("urgency") FROM "fleet" GROUP BY *', DB)}
    assert sites == {"x1-a": "Zürich", "x1-b": "Bern", "x1-c": None}
    assert len(influxdb1.points('SELECT "v" FROM "projection" WHERE "vehicle" = \'x1-c\'', DB)) > 3


def test_two_collectors_share_the_subscription_and_write_every_point_once(
    tmp_path: Path, influxdb1: InfluxDB1
) -> None:
    influxdb1.create_database(DB)
    run = fleet(vehicles=20, minutes=15)
    with start_mosquitto(tmp_path / "broker", conf_extra=BROKER_CONF) as broker:
        procs = []
        for name in ("collector-1", "collector-2"):
            raw = collector_raw(name, tmp_path / name, broker, influxdb1, health_every_s=0)
            procs.append(start_collector_process(write_toml(tmp_path / f"{name}.toml", raw)))
        try:
            publish(broker, run.messages)
            wait_for_points(influxdb1, run.points, "from two collectors", tail=lambda: procs[0].output[-2000:])
        finally:
            counts = [stop_collector_process(p) for p in procs]
    # the broker gave each message to one collector: both worked, none saw a message twice
    assert all(messages > 0 for messages, _ in counts), counts
    assert sum(messages for messages, _ in counts) == len(run.messages)
    assert_db_holds_exactly(influxdb1, run.points)


def test_collector_killed_mid_stream_loses_and_duplicates_nothing(tmp_path: Path, influxdb1: InfluxDB1) -> None:
    influxdb1.create_database(DB)
    run = fleet(vehicles=16, minutes=12)
    half = len(run.messages) // 2
    with start_mosquitto(tmp_path / "broker", conf_extra=BROKER_CONF) as broker:
        paths = []
        for name in ("collector-1", "collector-2"):
            raw = collector_raw(name, tmp_path / name, broker, influxdb1, health_every_s=0)
            paths.append(write_toml(tmp_path / f"{name}.toml", raw))
        victim = start_collector_process(paths[0])
        other = start_collector_process(paths[1])
        restarted: Proc | None = None
        try:
            publish(broker, run.messages[:half])
            victim.wait_for(r"status: messages=[1-9]", 30)
            # Hold the victim's outbox: its commits now wait, so the messages it receives are
            # decoded but not yet durable, and must not have been acknowledged to the broker.
            outbox = sqlite3.connect(tmp_path / "collector-1" / OUTBOX_NAME, isolation_level=None, timeout=30)
            try:
                outbox.execute("BEGIN EXCLUSIVE")
                publish(broker, run.messages[half:])
                victim.wait_for(r"status: .* unacked=[1-9]", 30)
                victim.kill()  # kill -9 between receive and outbox commit
            finally:
                outbox.execute("ROLLBACK")
                outbox.close()
            restarted = start_collector_process(paths[0])
            restarted.wait_for(r"session present: True", 30)
            wait_for_points(influxdb1, run.points, "after the kill", tail=lambda: restarted.output[-2000:] if restarted else "")
        finally:
            victim.kill()
            others = [stop_collector_process(p) for p in (other, restarted) if p is not None]
    # the restarted collector got the killed one's unacknowledged messages back from the broker
    assert others[1][0] > 0, others
    assert_db_holds_exactly(influxdb1, run.points)


def test_influxdb_stopped_mid_stream_loses_and_duplicates_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influxdb1: InfluxDB1
) -> None:
    influxdb1.create_database(DB)
    run = fleet(vehicles=10, minutes=12)
    half = len(run.messages) // 2
    raw = collector_raw("collector-1", tmp_path / "col", mosquitto, influxdb1, health_every_s=0)
    proc = start_collector_process(write_toml(tmp_path / "collector.toml", raw))
    try:
        publish(mosquitto, run.messages[:half])
        # the first half is in the database: nothing waits in the outbox
        proc.wait_for(rf"status: messages={half} .* unacked=0 influx_backlog=0 influx_written=[1-9]", TIMEOUT)
        influxdb1.stop()
        publish(mosquitto, run.messages[half:])
        # with the database away every message is still taken and acknowledged: its lines wait
        # in the outbox on disk
        proc.wait_for(rf"status: messages={len(run.messages)} .* unacked=0 influx_backlog=[1-9]", TIMEOUT)
        proc.wait_for(r"influx write failed", TIMEOUT)  # it tried, failed, and keeps the lines
        influxdb1.start()
        wait_for_points(influxdb1, run.points, "after the outage", tail=lambda: proc.output[-2000:])
    finally:
        messages, _ = stop_collector_process(proc)
    assert messages == len(run.messages)
    assert_db_holds_exactly(influxdb1, run.points)


def test_bad_payloads_are_counted_and_logged_not_fatal(
    tmp_path: Path, mosquitto: Mosquitto, influxdb1: InfluxDB1, caplog: pytest.LogCaptureFixture
) -> None:
    influxdb1.create_database(DB)
    cfg = config.from_dict(collector_raw("collector-1", tmp_path / "col", mosquitto, influxdb1), env={})
    good = fleet(vehicles=1, minutes=1)
    state = json.loads(next(m.payload for m in good.messages if m.topic.endswith("/state")))
    bad = [
        Msg(f"{PREFIX}/car-000/readings", b"\xff\xfe not json"),
        Msg(f"{PREFIX}/car-000/readings", b"[1, 2, 3]"),
        Msg(f"{PREFIX}/car-000/state", json.dumps({**state, "schema": 99}).encode()),
        Msg(f"{PREFIX}/car-001/state", json.dumps(state).encode()),  # someone else's vehicle id
        Msg(f"{PREFIX}/car-000/readings", json.dumps({"schema": 1, "vehicle": "car-000", "window": {}}).encode()),
        Msg(f"{PREFIX}/car-000/events", json.dumps({"schema": 1, "vehicle": "car-000", "time": "yesterday"}).encode()),
        Msg(f"{PREFIX}/car-000/state", json.dumps({**state, "main": "flat"}).encode()),
    ]
    with caplog.at_level(logging.WARNING, logger="battwatch.commands.collect"), running_collector(cfg, tmp_path / "col") as col:
        publish(mosquitto, bad + good.messages)
        total = len(bad) + len(good.messages)
        wait_until(lambda: col.counts["messages"] >= total, TIMEOUT, "every message at the collector")
        wait_for_points(influxdb1, good.points, "the good messages after the bad ones")
    st = col.status()
    assert st["bad"] == len(bad) and st["messages"] == total
    assert st["acked"] == total  # a bad payload is acknowledged: sending it again cannot help
    warnings = [r.getMessage() for r in caplog.records if "bad payload" in r.getMessage()]
    assert len(warnings) == len(bad)
    assert any("car-001/state" in w and "car-000" in w for w in warnings)
    assert any("schema 99" in w for w in warnings)
    assert_db_holds_exactly(influxdb1, good.points)


def test_qos0_messages_are_written_too(tmp_path: Path, mosquitto: Mosquitto, influxdb1: InfluxDB1) -> None:
    """A car that publishes with QoS 0 gets at most once, but what arrives is written."""
    influxdb1.create_database(DB)
    cfg = config.from_dict(collector_raw("collector-1", tmp_path / "col", mosquitto, influxdb1), env={})
    run = fleet(vehicles=2, minutes=1)
    with running_collector(cfg, tmp_path / "col") as col:
        publish(mosquitto, run.messages, qos=0)
        wait_until(lambda: col.counts["messages"] >= len(run.messages), TIMEOUT, "every message")
    st = col.status()
    assert st["acked"] == 0 and st["unacked"] == 0 and st["influx_backlog"] == 0
    assert_db_holds_exactly(influxdb1, run.points)


def test_slow_measurements_are_written_sparsely(tmp_path: Path, mosquitto: Mosquitto, influxdb1: InfluxDB1) -> None:
    """With the defaults, health at most every 5 min of data (and at once when the alerts
    change); starts and rested readings as the cars sent them."""
    influxdb1.create_database(DB)
    cfg = config.from_dict(collector_raw("collector-1", tmp_path / "col", mosquitto, influxdb1), env={})
    run = fleet(vehicles=2, minutes=12)  # car-001 raises an alert at minute 3, clears at minute 8
    with running_collector(cfg, tmp_path / "col") as col:
        publish(mosquitto, run.messages)
        wait_until(lambda: col.counts["messages"] >= len(run.messages), TIMEOUT, "every message")
    health = influxdb1.points('SELECT "voltage_v" FROM "health" WHERE "battery" = \'main\' GROUP BY "vehicle"', DB)
    times = {v: sorted(int(h["time"] - T0) for h in health if h["vehicle"] == v) for v in ("car-000", "car-001")}
    assert times["car-000"] == [60, 300, 600]  # the first state of each 5-minute slot
    assert times["car-001"] == [60, 180, 300, 480, 600]  # plus the states whose alerts changed
    rested = influxdb1.points('SELECT count("v") FROM "rested" GROUP BY "vehicle", "battery"', DB)
    assert [r["count"] for r in rested] == [1, 1, 1, 1]  # all in one hour of data
    cranks = influxdb1.points('SELECT "min_v" FROM "cranks" WHERE "vehicle" = \'car-000\'', DB)
    assert [int(c["time"] - T0) for c in cranks] == [7, 307, 607]
    assert col.status()["bad"] == 0


def test_a_cleanly_stopped_collector_leaves_the_group(tmp_path: Path, influxdb1: InfluxDB1) -> None:
    """Mosquitto keeps handing a share to a member that still has its subscription, even while
    it is away: a stop must unsubscribe, so the remaining collector gets every message."""
    influxdb1.create_database(DB)
    run = fleet(vehicles=8, minutes=6)
    with start_mosquitto(tmp_path / "broker", conf_extra=BROKER_CONF) as broker:
        procs = []
        for name in ("collector-1", "collector-2"):
            raw = collector_raw(name, tmp_path / name, broker, influxdb1, health_every_s=0)
            procs.append(start_collector_process(write_toml(tmp_path / f"{name}.toml", raw)))
        stopped, _ = stop_collector_process(procs[1])
        try:
            publish(broker, run.messages)
            wait_for_points(influxdb1, run.points, "with one collector left", tail=lambda: procs[0].output[-2000:])
        finally:
            remaining, _ = stop_collector_process(procs[0])
    assert stopped == 0 and remaining == len(run.messages)
    assert_db_holds_exactly(influxdb1, run.points)


def test_collector_account_of_the_example_broker_roles_reads_through_the_shared_subscription(
    tmp_path: Path, root: Path, influxdb1: InfluxDB1
) -> None:
    """The deployment in docs/collect.md: accounts, config/mosquitto's dynamic-security roles, a
    password file."""
    influxdb1.create_database(DB)
    users = {"collector": "c0llect", "x1-f48-ab123": "car-secret"}
    password_file = write_mosquitto_password_file(tmp_path / "passwd", users)
    (tmp_path / "collector-password").write_text("c0llect\n", encoding="utf-8")
    run = fleet(vehicles=1, minutes=3, names=["x1-f48-ab123"])
    roles = copy_dynsec_config(root / "config/mosquitto/dynamic-security.json", tmp_path / "dynsec")
    with start_mosquitto(tmp_path / "broker", password_file=password_file, dynsec_file=roles,
                         allow_anonymous=False) as broker:
        raw = collector_raw("collector-1", tmp_path / "col", broker, influxdb1, health_every_s=0)
        raw["mqtt"].update(username="collector", password_file=str(tmp_path / "collector-password"))
        with running_collector(config.from_dict(raw, env={}), tmp_path / "col") as col:
            publish(broker, run.messages, auth=("x1-f48-ab123", "car-secret"))
            wait_until(lambda: col.counts["messages"] >= len(run.messages), TIMEOUT, "the car's messages")
    assert col.status()["bad"] == 0
    assert_db_holds_exactly(influxdb1, run.points)


def test_collect_refuses_a_config_without_broker_or_database(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "c.toml", {"vehicle": {"id": "collector-1"}, "store": {"path": str(tmp_path)}})
    proc = Proc(battwatch("collect", "-c", str(path)))
    assert proc.wait(30) == 2
    assert "needs an [mqtt] section" in proc.output and "[influx]" in proc.output
    assert "Traceback" not in proc.output


def test_collect_refuses_a_bad_fleet_file_naming_the_row(tmp_path: Path, mosquitto: Mosquitto, influxdb1: InfluxDB1) -> None:
    fleet_file = tmp_path / "fleet.csv"
    fleet_file.write_text("vehicle,model,site\ncar-1,BMW X1,Bern\n,BMW X1,Basel\ncar-1,Mini,Bern\n", encoding="utf-8")
    raw = collector_raw("collector-1", tmp_path / "col", mosquitto, influxdb1, fleet_file=str(fleet_file))
    proc = Proc(battwatch("collect", "-c", str(write_toml(tmp_path / "c.toml", raw))))
    assert proc.wait(30) == 2
    assert f"{fleet_file}:3: no vehicle id" in proc.output
    assert f"{fleet_file}:4: vehicle 'car-1' listed twice" in proc.output
    assert "Traceback" not in proc.output


def test_second_collector_on_one_store_is_refused(tmp_path: Path, mosquitto: Mosquitto, influxdb1: InfluxDB1) -> None:
    raw = collector_raw("collector-1", tmp_path / "col", mosquitto, influxdb1)
    first = start_collector_process(write_toml(tmp_path / "a.toml", raw))
    try:
        raw["collect"]["client_id"] = "test-other"
        second = Proc(battwatch("collect", "-c", str(write_toml(tmp_path / "b.toml", raw))))
        assert second.wait(30) == 2
        assert "used by another collector" in second.output and "Traceback" not in second.output
    finally:
        stop_collector_process(first)


# -- the direct path and the collector path --------------------------------------------------

SAME_ON_BOTH_PATHS = ("readings", "cranks", "rested", "alerts", "replacements")


def test_the_same_log_gives_the_same_points_directly_and_through_the_collector(
    tmp_path: Path, mosquitto: Mosquitto, influxdb1: InfluxDB1
) -> None:
    """One log replayed twice with --publish: once by a car writing to InfluxDB itself, once by
    a car publishing MQTT that `battwatch collect` writes. Before one window aggregator and the
    analysis' own start and rest events, a reading on a minute boundary, every crank and every
    rested point differed between the two."""
    name = "main-failed-start"  # a week of commuting: starts (a failed one), rests, an alert
    log = tmp_path / "log.csv"
    with log.open("w", encoding="utf-8", newline="") as fh:
        write_csv(fh, scenarios.generate(name), f"sim-{name}")
    for db in ("direct", "collected"):
        influxdb1.create_database(db)
    car: dict[str, Any] = dict(scenarios.scenario_config(name))
    direct = config.from_dict({**car, "store": {"path": str(tmp_path / "direct")},
                               "influx": {"url": influxdb1.url, "api": "v1", "database": "direct",
                                          "flush_interval_s": 0.2}}, env={})
    via_mqtt = config.from_dict({**car, "store": {"path": str(tmp_path / "car")},
                                 "mqtt": {"host": mosquitto.host, "port": mosquitto.port, "prefix": PREFIX,
                                          "homeassistant": False}}, env={})
    raw = collector_raw("collector-1", tmp_path / "col", mosquitto, influxdb1)
    raw["influx"]["database"] = "collected"
    res = replay_file(log, direct, publish=True)
    assert res.transitions and res.readings > 1000
    with running_collector(config.from_dict(raw, env={}), tmp_path / "col") as col:
        replay_file(log, via_mqtt, publish=True)

        def rows(db: str) -> dict[str, list[Row]]:
            return {m: db_rows(influxdb1, m, db) for m in SAME_ON_BOTH_PATHS}

        want = rows("direct")
        assert all(want[m] for m in ("readings", "cranks", "rested", "alerts")), {m: len(v) for m, v in want.items()}
        wait_until(lambda: all(len(v) >= len(want[m]) for m, v in rows("collected").items()), TIMEOUT,
                   "the collector's points", tail=lambda: str(col.status()))
    got = rows("collected")
    assert col.status()["bad"] == 0
    for m in SAME_ON_BOTH_PATHS:
        missing, extra = set(want[m]) - set(got[m]), set(got[m]) - set(want[m])
        assert not missing and not extra and len(got[m]) == len(want[m]), (
            f"{m}: {len(missing)} only direct, e.g. {sorted(missing)[:2]}; {len(extra)} only collected, "
            f"e.g. {sorted(extra)[:2]}")
    assert any(dict(r).get("failed") for r in got["cranks"])  # the failed start, judged as such

