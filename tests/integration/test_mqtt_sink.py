"""MqttSink against a real Mosquitto: topics, payloads, retained state, store and forward, TLS."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from battwatch import config
from battwatch.config import Config
from battwatch.core import ha_discovery
from battwatch.core import mqtt_encode as enc
from battwatch.core.healthsummary import from_json
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.sinks.mqtt import CONNECT_FAILED, MqttSink, catalogue_kinds
from servers import Mosquitto, make_test_pki, start_mosquitto, wait_until

pytestmark = pytest.mark.servers

T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z
VEHICLE = "car-1"
TIMEOUT = 30.0


# -- a subscriber that records everything, for this file and the other MQTT test files ---------


@dataclass(frozen=True)
class Got:
    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """A paho client subscribed to ``topics``; waits on a Condition, never sleeps."""

    def __init__(
        self,
        host: str,
        port: int,
        topics: tuple[str, ...] = ("battwatch/#",),
        *,
        client_id: str | None = None,
        clean: bool = True,
        username: str | None = None,
        password: str | None = None,
        qos: int = 2,
    ) -> None:
        self.topics = topics
        self.qos = qos
        self.got: list[Got] = []
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.connect_reason: Any = None
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-sub-{uuid.uuid4().hex[:8]}",
            clean_session=clean,
        )
        self.client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # floats work
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect_async(host, port, 10)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connect_reason = reason
        self.connected.set()
        if not reason.is_failure:
            client.subscribe([(t, self.qos) for t in self.topics])

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, _codes: Any, _p: Any) -> None:
        self.subscribed.set()

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.got.append(Got(m.topic, bytes(m.payload), m.qos, bool(m.retain)))
            self.cond.notify_all()

    def ready(self, timeout: float = TIMEOUT) -> Subscriber:
        assert self.subscribed.wait(timeout), "subscriber never got its SUBACK"
        return self

    def on(self, topic: str) -> list[Got]:
        with self.cond:
            return [g for g in self.got if g.topic == topic]

    def wait(self, predicate: Callable[[list[Got]], bool], timeout: float = TIMEOUT, what: str = "") -> list[Got]:
        with self.cond:
            ok = self.cond.wait_for(lambda: predicate(self.got), timeout)
            got = list(self.got)
        assert ok, f"timed out waiting for {what or predicate}; got {len(got)}: {[g.topic for g in got][-20:]}"
        return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_one(host: str, port: int, topic: str, payload: bytes, *, retain: bool = False,
                username: str | None = None, password: str | None = None) -> Any:
    """Publish with QoS 1 from a fresh client and wait for the PUBACK; returns the CONNACK reason."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
    if username:
        c.username_pw_set(username, password)
    connected = threading.Event()
    reasons: list[Any] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        reasons.append(reason)
        connected.set()

    c.on_connect = on_connect
    c.connect(host, port, 10)
    c.loop_start()
    try:
        assert connected.wait(TIMEOUT)
        if not reasons[0].is_failure:
            c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(TIMEOUT)
    finally:
        c.disconnect()
        c.loop_stop()
    return reasons[0]


# -- helpers -------------------------------------------------------------------------------------


def stop_fresh_broker(broker: Mosquitto) -> None:
    """Stop a broker that was started a moment ago, gracefully.

    Mosquitto 2.0.11 can miss a SIGTERM that arrives right after its "running" line (the
    stop then ends in SIGKILL after 10 s); one client round trip first closes that window.
    """
    publish_one(broker.host, broker.port, "battwatch-test/warm-up", b"")
    assert broker.stop() == 0


def make_cfg(broker: Mosquitto, **mqtt_over: Any) -> Config:
    section: dict[str, Any] = {
        "host": broker.host,
        "port": broker.port,
        "keepalive": 10,
        "readings_interval": 10,
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
    }
    section.update(mqtt_over)
    return config.defaults(
        VEHICLE,
        mqtt=section,
        battery={"sos": {"installed": "2021-06-01"}},
    )


def reading(i: float, main: float = 12.6, sos: float = 5.1) -> Reading:
    return Reading(T0 + i, main, main - 0.02, main + 0.02, sos, sos - 0.01, sos + 0.01, 9.0, 1.0, VEHICLE)


def transition(i: float, state: str = "raised", severity: str = "warning", alert: str = "low_voltage",
               since: float | None = None) -> AlertTransition:
    msg = "SOS backup battery low (4.71 V)" if state == "raised" else "SOS backup battery recovered"
    return AlertTransition(T0 + i, VEHICLE, "sos", alert, severity, state, 4.71, msg,  # type: ignore[arg-type]
                           None if state == "raised" else severity, since=since)  # type: ignore[arg-type]


def envelope_ok(body: dict[str, Any]) -> None:
    assert body["schema"] == enc.SCHEMA_VERSION
    assert body["vehicle"] == VEHICLE
    assert isinstance(body["time"], str) and isinstance(body["t"], int | float)
    assert body["units"]["_v"] == "V" and body["units"]["_c"] == "°C"


# -- tests ---------------------------------------------------------------------------------------


def test_topics_payloads_and_retained_state(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sub = Subscriber(mosquitto.host, mosquitto.port, ("battwatch/#", "homeassistant/#")).ready()
    sink = MqttSink(make_cfg(mosquitto), tmp_path / "store")
    sink.start()
    try:
        sub.wait(lambda g: any(x.payload == b"online" for x in g), what="status online")
        for i in range(1, 26):  # three 10 s windows, each up to its end: 10 + 10 + 5 readings
            sink.reading(reading(i, 12.6 + i / 1000), "parked")
        sink.transition(transition(12))
        sink.summary(HealthSummary(T0 + 20, VEHICLE, from_json({
            "vehicle": VEHICLE, "main": {"soc_pct": 80, "health": "good"},
            "sos": {"age_years": 3.59, "health": "attention",
                    "alerts": [{"alert": "low_voltage", "severity": "warning", "since": T0 + 12}]},
        }, vehicle=VEHICLE, t=T0 + 20)))
        sink.transition(transition(21, "cleared", since=T0 + 12))  # the analysis says when it was raised
    finally:
        sink.close(TIMEOUT)
    base = f"battwatch/{VEHICLE}"
    got = sub.wait(lambda g: any(x.topic == f"{base}/status" and x.payload == b"offline" for x in g),
                   what="offline on close")
    topics = {g.topic for g in got}
    assert {f"{base}/{t}" for t in ("status", "state", "readings", "events", "notify")} <= topics
    assert f"{base}/alerts/sos/low_voltage" in topics

    windows = [g.json() for g in sub.on(f"{base}/readings")]
    assert [w["samples"] for w in windows] == [10, 10, 5]
    assert [w["window"]["start_t"] for w in windows] == [T0, T0 + 10, T0 + 20]
    assert windows[0]["main"]["min_v"] == 12.581 and windows[0]["main"]["max_v"] == 12.63
    assert windows[1]["t"] == T0 + 20  # measurement time, not the time of sending
    for g in got:
        if g.topic.startswith(base) and g.topic != f"{base}/status":
            envelope_ok(g.json())

    events = sub.on(f"{base}/events")
    assert [e.json()["change"] for e in events] == ["raised", "cleared"]
    assert all(e.qos == 1 and not e.retain for e in events)  # QoS 1, not retained
    pushes = [n.json() for n in sub.on(f"{base}/notify")]
    assert [(p["title"], p["change"], p["priority"]) for p in pushes] == [
        ("Warning: SOS backup battery, car-1", "raised", "default"),
        ("All clear: SOS backup battery, car-1", "cleared", "low")]
    assert {p["tag"] for p in pushes} == {"battwatch-car-1-sos-low_voltage"}
    state = sub.on(f"{base}/state")[-1].json()
    assert state["main"]["soc_pct"] == 80
    # the summary's own figures and alert list, as the analysis gave them
    assert [(a["alert"], a["severity"]) for a in state["sos"]["alerts"]] == [("low_voltage", "warning")]
    assert state["sos"]["age_years"] == 3.59 and state["sos"]["health"] == "attention"
    assert [g.payload for g in sub.on(f"{base}/status")] == [b"online", b"offline"]
    sub.close()

    # a phone that connects later sees the truth: retained status, state and the CLEARED alert
    late = Subscriber(mosquitto.host, mosquitto.port, ("battwatch/#", "homeassistant/#")).ready()
    # status, state, every alert kind's state, and Home Assistant's sensors, binary sensors and buttons
    n_kinds = len(catalogue_kinds(make_cfg(mosquitto)))
    n_ha = len(ha_discovery.SENSORS) + n_kinds + len(enc.BATTERIES)  # and the buttons
    retained = late.wait(lambda g: len({x.topic for x in g}) >= 2 + n_kinds + n_ha, what="retained")
    by_topic = {g.topic: g for g in retained}
    assert all(g.retain for g in retained)
    assert by_topic[f"{base}/status"].payload == b"offline"
    alert = by_topic[f"{base}/alerts/sos/low_voltage"].json()
    assert alert["active"] is False and alert["state"] == "cleared" and alert["t"] == T0 + 21
    assert alert["since"] == "2025-01-01T00:00:12.000+00:00"  # when it had been raised
    assert by_topic[f"{base}/state"].json()["t"] == T0 + 20
    assert f"{base}/events" not in by_topic and f"{base}/readings" not in by_topic
    binary = by_topic[f"homeassistant/binary_sensor/battwatch_{VEHICLE}/alert_sos_low_voltage/config"].json()
    assert binary["state_topic"] == f"{base}/alerts/sos/low_voltage"
    assert binary["availability"][0]["topic"] == f"{base}/status"
    late.close()


def test_start_does_not_wait_for_a_broker_and_delivers_when_it_comes(mosquitto: Mosquitto, tmp_path: Path) -> None:
    stop_fresh_broker(mosquitto)
    sink = MqttSink(make_cfg(mosquitto, readings_interval=1), tmp_path / "store")
    began = time.monotonic()
    sink.start()
    assert time.monotonic() - began < 1.0  # no connect attempt blocks the caller
    try:
        for i in range(20):
            sink.reading(reading(i), "parked")
        sink.transition(transition(5))
        st = sink.status()
        assert st["connected"] is False and st["backlog"] == 19 + 3
        mosquitto.start()
        sub = Subscriber(mosquitto.host, mosquitto.port).ready()
        # nothing retained yet for readings/events: the sink is the one delivering them now
        assert sink.wait_drained(TIMEOUT)
        got = sub.wait(lambda g: len([x for x in g if x.topic.endswith("/readings")]) == 19,
                       what="19 windows")
        assert [x.json()["t"] for x in got if x.topic.endswith("/readings")] == [T0 + i for i in range(19)]
        assert sink.status()["connected"] is True and sink.status()["backlog"] == 0
        sub.close()
    finally:
        sink.close(TIMEOUT)


@pytest.mark.slow
@pytest.mark.parametrize("events_qos", [1, 2])
def test_broker_stopped_mid_stream_loses_nothing(mosquitto: Mosquitto, tmp_path: Path, events_qos: int) -> None:
    """Broker SIGTERM'd while messages are in flight, fed while down, restarted on the same port."""
    sub = Subscriber(mosquitto.host, mosquitto.port, (f"battwatch/{VEHICLE}/#",),
                     client_id=f"persistent-{events_qos}", clean=False).ready()
    cfg = make_cfg(mosquitto, readings_interval=1, qos={"readings": 1, "events": events_qos})
    sink = MqttSink(cfg, tmp_path / "store")
    sink.start()
    n = 900
    expected_events = []
    try:
        wait_until(lambda: sink.status()["connected"], TIMEOUT, "sink connected")
        for i in range(n):
            sink.reading(reading(i, 12.6 + (i % 50) / 1000), "parked")
            if i % 30 == 29:
                tr = transition(i, "raised" if (i // 30) % 2 == 0 else "cleared")
                sink.transition(tr)
                expected_events.append(enc.event_id(tr))
            if i == n // 3:
                # graceful (exit 0): the broker saves its sessions; messages are in flight now
                assert mosquitto.stop() == 0
            if i == 2 * n // 3:
                assert sink.status()["backlog"] > 0  # the down phase really queued
                mosquitto.start()
    finally:
        sink.close(TIMEOUT)
    assert sink.status()["backlog"] == 0 and sink.status()["dropped_total"] == 0
    base = f"battwatch/{VEHICLE}"
    got = sub.wait(
        lambda g: {x.json()["window"]["end_t"] for x in g if x.topic == f"{base}/readings"}
        >= {T0 + i for i in range(n)}
        and {x.json()["event_id"] for x in g if x.topic == f"{base}/events"} >= set(expected_events),
        timeout=60, what="every window and every event",
    )
    sub.close()
    readings = [x.json() for x in got if x.topic == f"{base}/readings"]
    ends = [r["window"]["end_t"] for r in readings]
    distinct = list(dict.fromkeys(ends))
    assert distinct == [T0 + i for i in range(n)]  # zero lost, in order, original timestamps
    assert all(r["t"] == r["window"]["end_t"] for r in readings)  # a 1 s window ends at its reading
    events = [x for x in got if x.topic == f"{base}/events"]
    ids = [e.json()["event_id"] for e in events]
    assert list(dict.fromkeys(ids)) == expected_events  # zero lost, in order
    if events_qos == 2:
        assert ids == expected_events  # exactly once, even across the broker restart
    else:
        # QoS 1 is at-least-once: a redelivered copy is byte-identical, so event_id de-duplicates
        for eid in set(ids):
            assert len({e.payload for e in events if e.json()["event_id"] == eid}) == 1


_BACKLOG_SCRIPT = """
import sys, threading
from pathlib import Path
from battwatch import config
from battwatch.core.model import AlertTransition, Reading
from battwatch.sinks.mqtt import CONNECT_FAILED, MqttSink, catalogue_kinds
host, port, store, n = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
cfg = config.defaults("car-1", mqtt={"host": host, "port": port, "readings_interval": 1,
                      "reconnect_min_s": 0.1, "reconnect_max_s": 0.5})
sink = MqttSink(cfg, store)
sink.start()
for i in range(n):
    t = 1735689600.0 + i
    sink.reading(Reading(t, 12.6, 12.5, 12.7, 5.1, 5.0, 5.2, 9.0, 1.0, "car-1"), "parked")
    if i % 10 == 9:
        sink.transition(AlertTransition(t, "car-1", "sos", "low_voltage", "warning",
                        "raised" if i % 20 == 9 else "cleared", 4.7, "low"))
print("queued", sink.status()["backlog"], flush=True)
threading.Event().wait()
"""


def test_kill9_with_undelivered_backlog_then_a_new_sink_delivers_it(mosquitto: Mosquitto, tmp_path: Path) -> None:
    store = tmp_path / "store"
    stop_fresh_broker(mosquitto)
    child = subprocess.Popen(
        [sys.executable, "-c", _BACKLOG_SCRIPT, mosquitto.host, str(mosquitto.port), str(store), "200"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("queued "), line
        queued = int(line.split()[1])
        # 199 closed windows, 20 events, 20 notifications (10 alerts, 10 all-clears), and ONE
        # alert state: a retained topic keeps only its newest undelivered value
        assert queued == 199 + 20 + 20 + 1
    finally:
        os.kill(child.pid, signal.SIGKILL)  # no close(), no flush: a crash
        child.wait(TIMEOUT)
        if child.stdout is not None:
            child.stdout.close()
    mosquitto.start()
    sub = Subscriber(mosquitto.host, mosquitto.port, (f"battwatch/{VEHICLE}/#",)).ready()
    sink = MqttSink(make_cfg(mosquitto, readings_interval=1), store)
    assert sink.status()["backlog"] == queued
    sink.start()
    try:
        assert sink.wait_drained(TIMEOUT)
        got = sub.wait(lambda g: len([x for x in g if x.topic.endswith("/events")]) == 20, what="20 events")
        windows = [x.json()["t"] for x in got if x.topic.endswith("/readings")]
        assert windows == [T0 + i for i in range(199)]
        events = [x.json() for x in got if x.topic.endswith("/events")]
        assert [e["t"] for e in events] == [T0 + i for i in range(9, 200, 10)]
        assert [e["state"] for e in events] == ["raised", "cleared"] * 10
    finally:
        sink.close(TIMEOUT)
        sub.close()


def test_full_backlog_drops_oldest_readings_first_and_says_so(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stop_fresh_broker(mosquitto)
    sink = MqttSink(make_cfg(mosquitto, readings_interval=1, backlog_max=100), tmp_path / "store")
    sink.start()
    events = []
    try:
        with caplog.at_level(logging.WARNING, logger="battwatch.sinks.mqtt"):
            for i in range(300):
                sink.reading(reading(i), "parked")
                if i % 50 == 0:
                    tr = transition(i, "raised" if i % 100 == 0 else "cleared")
                    sink.transition(tr)
                    events.append(tr.t)
        st = sink.status()
        assert st["backlog"] <= 100
        assert st["dropped"].get("readings", 0) >= 200 and "events" not in st["dropped"]
        assert any("backlog full" in r.getMessage() and "readings" in r.getMessage() for r in caplog.records)
        mosquitto.start()
        sub = Subscriber(mosquitto.host, mosquitto.port, (f"battwatch/{VEHICLE}/#",)).ready()
        assert sink.wait_drained(TIMEOUT)
        got = sub.wait(lambda g: len([x for x in g if x.topic.endswith("/events")]) == len(events)
                       and any(x.topic.endswith("/readings") and x.json()["t"] == T0 + 298 for x in g),
                       what="every event and the newest window")
        assert [x.json()["t"] for x in got if x.topic.endswith("/events")] == events
        windows = [x.json()["t"] for x in got if x.topic.endswith("/readings")]
        assert windows == sorted(windows) and windows[-1] == T0 + 298  # the newest survived
        sub.close()
    finally:
        sink.close(TIMEOUT)


def test_home_assistant_birth_resends_discovery(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sub = Subscriber(mosquitto.host, mosquitto.port, ("homeassistant/+/+/+/config",)).ready()
    cfg = make_cfg(mosquitto)
    kinds = catalogue_kinds(cfg)
    assert ("sos", "low_voltage") in kinds and ("main", "weak_cranking") in kinds
    count = len(ha_discovery.SENSORS) + len(kinds) + len(enc.BATTERIES)  # and a "replaced" button per battery
    sink = MqttSink(cfg, tmp_path / "store")
    sink.start()
    try:
        first = sub.wait(lambda g: len(g) >= count, what="discovery on connect")
        binaries = {g.topic.split("/")[3] for g in first if g.topic.split("/")[1] == "binary_sensor"}
        assert binaries == {f"alert_{b}_{a}" for b, a in kinds}  # one per alert kind, from the start
        publish_one(mosquitto.host, mosquitto.port, "homeassistant/status", b"online")
        again = sub.wait(lambda g: len(g) >= 2 * count, what="discovery after birth")
        assert {g.topic for g in again[count:]} == {g.topic for g in first}
    finally:
        sink.close(TIMEOUT)
        sub.close()


# paho 2.2 leaves the socket of a failed TLS handshake to the garbage collector, which warns
# about it; only that warning is tolerated here (and collected before the test ends).
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <ssl.SSLSocket:pytest.PytestUnraisableExceptionWarning"
)
def test_tls_with_a_test_ca_and_client_certificate(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki")
    with start_mosquitto(tmp_path / "srv", tls=pki.server_tls(require_certificate=True)) as broker:
        assert broker.tls_port is not None
        sub = Subscriber(broker.host, broker.port, (f"battwatch/{VEHICLE}/#",)).ready()
        good = make_cfg(broker, port=broker.tls_port, tls={
            "ca_file": str(pki.ca_cert), "cert_file": str(pki.client_cert), "key_file": str(pki.client_key)})
        sink = MqttSink(good, tmp_path / "store")
        sink.start()
        try:
            sink.transition(transition(1))
            got = sub.wait(lambda g: any(x.topic.endswith("/events") for x in g), what="event over TLS")
            assert any(x.topic.endswith("/status") and x.payload == b"online" for x in got)
            assert sink.status()["connected"] is True
        finally:
            sink.close(TIMEOUT)
        # a broker certificate from another CA is refused, and the message stays queued
        other = make_test_pki(tmp_path / "other-pki")
        bad = make_cfg(broker, port=broker.tls_port, client_id="battwatch-wrong-ca", tls={
            "ca_file": str(other.ca_cert), "cert_file": str(pki.client_cert), "key_file": str(pki.client_key)})
        wrong = MqttSink(bad, tmp_path / "store-bad")
        wrong.start()
        try:
            wrong.transition(transition(2))
            wait_until(lambda: wrong.status()["last_error"] == CONNECT_FAILED, TIMEOUT, "TLS refusal")
            assert wrong.status()["connected"] is False and wrong.status()["backlog"] == 3
        finally:
            wrong.close(0.5)
        assert wrong.status()["backlog"] == 3  # kept in the outbox for a later start
        sub.close()
        gc.collect()


@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <ssl.SSLSocket:pytest.PytestUnraisableExceptionWarning"
)
def test_a_client_certificate_the_broker_rejects_is_one_error_and_shown_in_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = make_test_pki(tmp_path / "pki")
    stranger = make_test_pki(tmp_path / "stranger")  # a client certificate from another CA
    with start_mosquitto(tmp_path / "srv", tls=pki.server_tls(require_certificate=True)) as broker:
        assert broker.tls_port is not None
        cfg = make_cfg(broker, port=broker.tls_port, tls={
            "ca_file": str(pki.ca_cert), "cert_file": str(stranger.client_cert),
            "key_file": str(stranger.client_key)})
        sink = MqttSink(cfg, tmp_path / "store")
        caplog.set_level(logging.DEBUG, logger="battwatch")
        sink.start()
        try:
            sink.transition(transition(1))
            wait_until(lambda: "certificate" in (sink.status()["last_error"] or ""), TIMEOUT,
                       "the rejected certificate in status")
            # several more attempts, each refused the same way, add no second error
            attempts = broker.log_path.read_text().count("OpenSSL Error")
            wait_until(lambda: broker.log_path.read_text().count("OpenSSL Error") >= attempts + 3, TIMEOUT,
                       "three more attempts")
            st = sink.status()
            assert st["connected"] is False and st["backlog"] == 3
        finally:
            sink.close(0.5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("battwatch")]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "certificate" in errors[0].getMessage() and "Traceback" not in errors[0].getMessage()
    gc.collect()
