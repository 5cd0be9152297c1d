"""Prove that the real-server test infrastructure starts, serves, persists and restarts."""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from servers import (
    InfluxDB1,
    Mosquitto,
    ServerError,
    VictoriaMetrics,
    make_test_pki,
    start_mosquitto,
    wait_until,
)

pytestmark = pytest.mark.servers

TIMEOUT = 10.0


def _topic() -> str:
    # Unique per test so the shared session broker never mixes tests' messages.
    return f"battwatch-test/{uuid.uuid4().hex}"


class _Collector:
    """Subscribes to one topic and signals when the first message arrives."""

    def __init__(self, client: mqtt.Client, topic: str) -> None:
        self.topic = topic
        self.subscribed = threading.Event()
        self.received = threading.Event()
        self.messages: list[mqtt.MQTTMessage] = []
        self.granted: list[bool] = []
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reason_codes: list[ReasonCode],
        _props: object,
    ) -> None:
        self.granted = [not code.is_failure for code in reason_codes]
        self.subscribed.set()

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        self.messages.append(message)
        self.received.set()


def _client(name: str) -> mqtt.Client:
    # A unique id: a second client with the same id would kick the first off the broker.
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{uuid.uuid4().hex[:8]}")


def _publish(host: str, port: int, topic: str, payload: bytes, *, retain: bool = False) -> None:
    """Publish one QoS 1 message and wait until the broker acknowledged it."""
    publisher = _client("pub")
    publisher.connect(host, port)
    publisher.loop_start()
    try:
        info = publisher.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()
    finally:
        publisher.disconnect()
        publisher.loop_stop()


def _connects(client: mqtt.Client, host: str, port: int) -> bool:
    """True if the broker accepts the MQTT connection, False if it refuses or drops it."""
    outcome: list[bool] = []
    settled = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        outcome.append(not reason.is_failure)
        settled.set()

    def on_disconnect(*_args: object) -> None:
        outcome.append(False)
        settled.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(host, port)
    except (ssl.SSLError, OSError):
        return False
    client.loop_start()
    try:
        assert settled.wait(TIMEOUT), "neither CONNACK nor disconnect within timeout"
        return outcome[0]
    finally:
        client.disconnect()
        client.loop_stop()


def _receive_one(client: mqtt.Client, host: str, port: int, topic: str) -> _Collector:
    """Connect ``client``, subscribe to ``topic`` and return once the collector is subscribed."""
    collector = _Collector(client, topic)
    client.connect(host, port)
    client.loop_start()
    assert collector.subscribed.wait(TIMEOUT), "SUBACK not received"
    assert collector.granted == [True], "subscription refused"
    return collector


def test_mosquitto_delivers_publish_to_subscriber(mosquitto_session: Mosquitto) -> None:
    broker = mosquitto_session
    topic = _topic()
    subscriber = _client("sub-delivery")
    try:
        collector = _receive_one(subscriber, broker.host, broker.port, topic)
        _publish(broker.host, broker.port, topic, b"4.123")
        assert collector.received.wait(TIMEOUT), "message not delivered"
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()
    assert [(m.topic, m.payload) for m in collector.messages] == [(topic, b"4.123")]


def test_mosquitto_retained_message_survives_restart(mosquitto: Mosquitto) -> None:
    topic = _topic()
    _publish(mosquitto.host, mosquitto.port, topic, b"retained-1", retain=True)
    old_pid, port = mosquitto.pid, mosquitto.port

    mosquitto.restart()  # graceful stop writes the persistence file

    assert mosquitto.port == port and mosquitto.pid != old_pid
    subscriber = _client("sub-retained")
    try:
        collector = _receive_one(subscriber, mosquitto.host, mosquitto.port, topic)
        assert collector.received.wait(TIMEOUT), "retained message lost over restart"
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()
    assert collector.messages[0].payload == b"retained-1"
    assert collector.messages[0].retain


def test_mosquitto_kill_and_start_on_same_port(mosquitto: Mosquitto) -> None:
    port = mosquitto.port
    assert mosquitto.kill() == -9
    assert not mosquitto.running
    with pytest.raises(ConnectionRefusedError):
        _client("refused").connect(mosquitto.host, port)
    mosquitto.start()
    assert mosquitto.running and mosquitto.port == port
    _publish(mosquitto.host, port, _topic(), b"after-kill")


def test_mosquitto_tls_listener_with_client_certificate(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki")
    with start_mosquitto(tmp_path, tls=pki.server_tls(require_certificate=True)) as broker:
        assert broker.tls_port is not None
        topic = _topic()

        # Without a client certificate the broker refuses the connection. Under TLS 1.3 the
        # client may finish its side of the handshake first and only see the alert later,
        # so judge by whether an MQTT CONNACK ever arrives.
        no_cert = _client("tls-no-cert")
        no_cert.tls_set(ca_certs=str(pki.ca_cert))
        assert not _connects(no_cert, broker.host, broker.tls_port)
        wait_until(
            lambda: "peer did not return a certificate" in broker.log_tail(),
            TIMEOUT,
            "mosquitto to log the missing client certificate",
            tail=broker.log_tail,
        )

        subscriber = _client("tls-sub")
        subscriber.tls_set(
            ca_certs=str(pki.ca_cert), certfile=str(pki.client_cert), keyfile=str(pki.client_key)
        )
        try:
            collector = _receive_one(subscriber, broker.host, broker.tls_port, topic)
            # Publish over the plain listener: both listeners share one broker.
            _publish(broker.host, broker.port, topic, b"over-tls")
            assert collector.received.wait(TIMEOUT), "message not delivered over TLS"
        finally:
            subscriber.disconnect()
            subscriber.loop_stop()
        assert collector.messages[0].payload == b"over-tls"


def test_influxdb1_write_query_and_restart_keeps_data(influxdb1: InfluxDB1) -> None:
    influxdb1.create_database("battwatch")
    now = int(time.time())
    influxdb1.write(
        [
            f"battery,device=pack1 voltage=13.21,current=-2.5 {now - 60}",
            f"battery,device=pack1 voltage=13.19,current=-2.4 {now}",
        ],
        db="battwatch",
    )
    query = "SELECT voltage, current FROM battery WHERE device = 'pack1' ORDER BY time"
    expected = [
        {"time": now - 60, "voltage": 13.21, "current": -2.5},
        {"time": now, "voltage": 13.19, "current": -2.4},
    ]
    assert influxdb1.points(query, "battwatch") == expected

    old_pid = influxdb1.pid
    influxdb1.restart()
    assert influxdb1.pid != old_pid
    assert influxdb1.points(query, "battwatch") == expected


def test_influxdb1_reports_query_errors(influxdb1: InfluxDB1) -> None:
    with pytest.raises(ServerError, match="database not found"):
        influxdb1.query("SELECT * FROM battery", "missing")


def test_victoriametrics_keeps_three_year_old_point_from_influx_v2_api(
    victoriametrics: VictoriaMetrics,
) -> None:
    three_years_ago = int(time.time()) - 3 * 365 * 86400
    with InfluxDBClient(url=victoriametrics.url, token="x", org="o") as client:
        client.write_api(write_options=SYNCHRONOUS).write(
            bucket="b",
            org="o",
            record=f"battery,device=pack1 voltage=12.5 {three_years_ago}",
            write_precision=WritePrecision.S,
        )
    series = victoriametrics.export('{__name__="battery_voltage"}')
    assert series == [
        {
            "metric": {"__name__": "battery_voltage", "device": "pack1"},
            "values": [12.5],
            "timestamps": [three_years_ago * 1000],
        }
    ]


def test_victoriametrics_restart_keeps_data(victoriametrics: VictoriaMetrics) -> None:
    now = int(time.time())
    victoriametrics.write_influx(f"soc,device=pack1 value=87 {now}", precision="s")
    victoriametrics.restart()
    series = victoriametrics.export('{__name__="soc_value"}')
    assert [(s["values"], s["timestamps"]) for s in series] == [([87.0], [now * 1000])]


def test_wait_until_times_out_with_what_and_log_tail() -> None:
    with pytest.raises(ServerError, match=r"(?s)waiting for the impossible.*log tail.*last words"):
        wait_until(lambda: False, 0.2, "the impossible", tail=lambda: "last words")
