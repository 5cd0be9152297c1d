"""A damaged outbox file, a damaged row, a refused batch, a server away: no sender stops for good."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_influx_sink import DB, db_times, expected_lines, feed, readings, series_times, v1_config, v2_config
from test_mqtt_sink import VEHICLE, Subscriber, make_cfg, reading, stop_fresh_broker

from battwatch.sinks.influx import OUTBOX_NAME, InfluxSink
from battwatch.sinks.mqtt import OUTBOX_NAME as MQTT_OUTBOX_NAME
from battwatch.sinks.mqtt import MqttSink
from servers import InfluxDB1, Mosquitto, VictoriaMetrics, wait_until

pytestmark = pytest.mark.servers

TIMEOUT = 30.0


def damage_pages(path: Path) -> None:
    """What a power cut during an SD card's own write can leave: the header intact, the pages not."""
    db = sqlite3.connect(path, isolation_level=None, timeout=TIMEOUT)
    try:
        # everything into the main file, so the damage below is all there is
        wait_until(lambda: db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0, TIMEOUT,
                   "a checkpoint of the outbox")
    finally:
        db.close()
    size = path.stat().st_size
    assert size > 4096
    with path.open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\xa5" * (size - 4096))


def queued_outbox(store: Path, url: str, n: int) -> int:
    """An outbox file holding the lines of ``n`` readings, written while the server is away."""
    sink = InfluxSink(v1_config(url), store, backoff_min_s=5, backoff_max_s=5)
    sink.start()
    feed(sink, readings(n))
    sink.close(0.5)
    backlog = int(sink.status()["backlog"])
    assert backlog > n
    return backlog


@pytest.mark.parametrize("damage", ["not a database", "damaged pages"])
def test_a_damaged_influx_outbox_is_moved_aside_and_the_sender_delivers_what_comes(
    influxdb1: InfluxDB1, tmp_path: Path, damage: str
) -> None:
    """Before the fix the sender failed on the file for good, every 5 s, while lines piled up."""
    influxdb1.create_database(DB)
    store = tmp_path / "store"
    store.mkdir()
    if damage == "not a database":
        (store / OUTBOX_NAME).write_bytes(b"this is not a database, the SD card hiccupped " * 200)
    else:
        url = influxdb1.url
        influxdb1.stop()
        queued_outbox(store, url, 300)
        damage_pages(store / OUTBOX_NAME)
        influxdb1.start()
    cfg = v1_config(influxdb1.url, flush_interval_s=0.2)
    sink = InfluxSink(cfg, store, backoff_min_s=0.1, backoff_max_s=0.5)
    sink.start()
    rs = readings(200, start=readings(300)[-1].t + 3600)
    feed(sink, rs)
    sink.close(TIMEOUT)
    st = sink.status()
    assert st["backlog"] == 0 and st["damaged_files"] == 1 and st["connected"] is True
    assert len(list(store.glob(f"{OUTBOX_NAME}.damaged-*"))) == 1
    want = expected_lines(cfg, rs)
    for battery in ("main", "sos"):
        assert db_times(influxdb1, "readings", "v", battery) == series_times(want, "readings", battery)


def test_an_outbox_damaged_while_the_server_is_away_recovers_and_sends_on(
    victoriametrics: VictoriaMetrics, tmp_path: Path
) -> None:
    """VictoriaMetrics stopped, the outbox file damaged under the running sender, the server
    back: what came after the damage arrives; what the damaged file held is counted as lost."""
    cfg = v2_config(victoriametrics.url, batch_size=200, flush_interval_s=0.2)
    sink = InfluxSink(cfg, tmp_path, backoff_min_s=0.1, backoff_max_s=0.3)
    sink.start()
    victoriametrics.stop()
    before = readings(3000)  # more than the sender's page cache holds
    feed(sink, before)
    n = len(expected_lines(cfg, before, close=False))
    wait_until(lambda: sink._queued_lines == 0 and sink.status()["backlog"] == n, TIMEOUT, "the lines persisted")
    damage_pages(tmp_path / OUTBOX_NAME)
    after = readings(100, start=before[-1].t + 3600)
    feed(sink, after)  # the sender meets the damage while it queues these
    wait_until(lambda: sink.status().get("damaged_files") == 1, TIMEOUT, "the damage found and the file replaced")
    victoriametrics.start()
    sink.close(TIMEOUT)
    st = sink.status()
    assert st["backlog"] == 0 and st["connected"] is True
    assert len(list(tmp_path.glob(f"{OUTBOX_NAME}.damaged-*"))) == 1
    assert st["dropped"] > 0  # what the damaged file held, counted
    got = {s["metric"]["battery"]: set(s["timestamps"]) for s in victoriametrics.export('{__name__="readings_v"}')}
    for battery in ("main", "sos"):
        assert {int(r.t * 1000) for r in after} <= got[battery]


def test_a_damaged_row_is_set_aside_and_the_rest_is_delivered(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    """An outbox an earlier version left, with one row that is not text: before the fix the
    sender failed on that row for good."""
    influxdb1.create_database(DB)
    cfg = v1_config(influxdb1.url)
    want = expected_lines(cfg, readings(50))
    old = sqlite3.connect(tmp_path / OUTBOX_NAME, isolation_level=None)
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL, queued REAL NOT NULL)")
    rows: list[object] = [*want[:40], b"\xff\xfe damaged \x00", *want[40:]]
    old.executemany("INSERT INTO outbox (line, queued) VALUES (?, 0)", ((r,) for r in rows))
    old.close()
    sink = InfluxSink(cfg, tmp_path, backoff_min_s=0.1, backoff_max_s=0.5)
    sink.start()
    sink.close(TIMEOUT)
    st = sink.status()
    assert st["backlog"] == 0 and st["rejected"] == 1 and st["written"] == len(want)
    for battery in ("main", "sos"):
        assert db_times(influxdb1, "readings", "v", battery) == series_times(want, "readings", battery)
    kept = sqlite3.connect(tmp_path / OUTBOX_NAME).execute("SELECT payload, why FROM set_aside").fetchall()
    assert kept == [(b"\xff\xfe damaged \x00", "not a line of text (a damaged row)")]


def test_a_refused_line_is_set_aside_in_the_outbox_file_for_a_person(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    """HTTP 400 on one batch: its bad line is found and kept aside, the rest lands, nothing blocks."""
    influxdb1.create_database(DB)
    rs = readings(60)
    cfg = v1_config(influxdb1.url, batch_size=16)
    want = expected_lines(cfg, rs)
    # a string where the readings' "v" is a float: a type conflict for this one line
    bad = want[7].replace(" v=", ' v="x",x=', 1)
    influxdb1.write([want[0]], DB, precision="ns")  # "v" is a float in this shard
    sink = InfluxSink(cfg, tmp_path, backoff_min_s=0.1, backoff_max_s=0.5)
    sink.start()
    sink.write_lines(want[:20] + [bad] + want[20:])
    sink.close(TIMEOUT)
    st = sink.status()
    assert st["backlog"] == 0 and st["rejected"] == 1 and "conflict" in st["last_error"]
    kept = sqlite3.connect(tmp_path / OUTBOX_NAME).execute("SELECT payload, why FROM set_aside").fetchall()
    assert [k[0] for k in kept] == [bad] and "HTTP 400" in kept[0][1]
    for battery in ("main", "sos"):
        assert db_times(influxdb1, "readings", "v", battery) == series_times(want, "readings", battery)


def test_a_damaged_mqtt_outbox_with_the_broker_away_recovers_and_delivers_what_comes(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Mosquitto stopped, messages queued, the file damaged at a power cut, the broker back."""
    store = tmp_path / "store"
    stop_fresh_broker(mosquitto)
    first = MqttSink(make_cfg(mosquitto, readings_interval=1), store)
    first.start()
    for i in range(2000):
        first.reading(reading(i), "parked")
    first.close(0.5)
    assert first.status()["backlog"] >= 1999
    damage_pages(store / MQTT_OUTBOX_NAME)
    mosquitto.start()
    sub = Subscriber(mosquitto.host, mosquitto.port, (f"battwatch/{VEHICLE}/readings",)).ready()
    sink = MqttSink(make_cfg(mosquitto, readings_interval=1), store)
    sink.start()
    try:
        for i in range(5000, 5050):
            sink.reading(reading(i), "parked")
        got = sub.wait(lambda g: len(g) >= 49, TIMEOUT, "the windows after the damage")
        assert [x.json()["t"] for x in got] == [reading(i).t for i in range(5000, 5049)]
        assert sink.status()["damaged_files"] == 1 and len(list(store.glob(f"{MQTT_OUTBOX_NAME}.damaged-*"))) == 1
    finally:
        sink.close(TIMEOUT)
        sub.close()
