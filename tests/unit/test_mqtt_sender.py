"""The MQTT outbox and sender bookkeeping, driven step by step with a recording client."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.enums import MQTTErrorCode

from battwatch import config
from battwatch.core.healthsummary import from_json
from battwatch.core.model import HealthSummary
from battwatch.sinks.mqtt import MqttSink
from battwatch.sinks.mqtt_sender import IN_FLIGHT, OutboxSender

T0 = 1_735_689_600.0


@dataclass
class Info:
    mid: int
    rc: MQTTErrorCode


@dataclass
class RecordingClient:
    """Stands in for paho's client object: records publishes, can be 'down'."""

    down_after: int | None = None  # publishes accepted before the connection drops
    sent: list[tuple[str, bytes, int]] = field(default_factory=list)
    mid: int = 0

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> Info:
        self.mid += 1
        if self.down_after is not None and len(self.sent) >= self.down_after:
            return Info(self.mid, MQTTErrorCode.MQTT_ERR_NO_CONN)
        self.sent.append((topic, payload, qos))
        return Info(self.mid, MQTTErrorCode.MQTT_ERR_SUCCESS)


def _setup(tmp_path: Path, **mqtt: Any) -> tuple[MqttSink, OutboxSender, RecordingClient]:
    cfg = config.defaults("car-1", mqtt={"host": "127.0.0.1", "homeassistant": False, **mqtt})
    sink = MqttSink(cfg, tmp_path)
    client = RecordingClient()
    sink._client = client
    sender = OutboxSender(sink)
    sender._note(("connected",), [])
    return sink, sender, client


def _queue(sink: MqttSink, n: int, qos: int = 0, start: int = 0) -> None:
    sink.outbox.append([("readings", "t/r", str(start + i).encode(), qos, False) for i in range(n)], T0)


def _ack_all(sender: OutboxSender) -> None:
    acked: list[tuple[int, str]] = []
    for mid in list(sender.handed):
        sender._note(("ack", mid), acked)
    sender._delete(acked)


def test_rows_go_out_in_order_with_a_bounded_window_and_leave_when_acknowledged(tmp_path: Path) -> None:
    sink, sender, client = _setup(tmp_path)
    _queue(sink, IN_FLIGHT + 10)
    sender._pump()
    assert [p for _, p, _ in client.sent] == [str(i).encode() for i in range(IN_FLIGHT)]
    assert sink.outbox.count == IN_FLIGHT + 10  # nothing is deleted before the acknowledgement
    _ack_all(sender)
    assert sink.outbox.count == 10 and sink.status()["delivered"] == {"readings": IN_FLIGHT}
    sender._pump()
    _ack_all(sender)
    assert [p for _, p, _ in client.sent][-10:] == [str(i).encode() for i in range(IN_FLIGHT, IN_FLIGHT + 10)]
    assert sink.outbox.count == 0 and sink.status()["backlog"] == 0
    sink.close(0)


def test_qos0_messages_lost_with_the_connection_are_sent_again_first(tmp_path: Path) -> None:
    sink, sender, client = _setup(tmp_path)
    _queue(sink, 5, qos=0)
    _queue(sink, 3, qos=1, start=5)
    sender._pump()
    acked: list[tuple[int, str]] = []
    sender._note(("ack", 1), acked)  # row 0 reached the socket; 1..4 (QoS 0) did not
    sender._delete(acked)
    sender._note(("disconnected",), [])
    _queue(sink, 2, qos=0, start=8)
    sender._note(("connected",), [])
    client.sent.clear()
    sender._pump()
    # QoS 0 rows 1-4 again, then only new rows: paho itself re-sends the QoS 1 rows 5-7
    assert [p for _, p, _ in client.sent] == [b"1", b"2", b"3", b"4", b"8", b"9"]
    sink.close(0)


def test_a_connection_lost_mid_batch_skips_no_row(tmp_path: Path) -> None:
    sink, sender, client = _setup(tmp_path)
    _queue(sink, 20, qos=0)
    client.down_after = 7
    sender._pump()
    assert sender.connected is False and len(client.sent) == 7
    sender._note(("disconnected",), [])
    client.down_after = None
    sender._note(("connected",), [])
    sender._pump()
    _ack_all(sender)
    sent = [p for _, p, _ in client.sent]
    assert sorted(set(sent), key=int) == [str(i).encode() for i in range(20)]  # every row went out
    assert sent[7:14] == sent[:7]  # the 7 unconfirmed QoS 0 rows first, then the rest in order
    assert sent[14:] == [str(i).encode() for i in range(7, 20)]
    sink.close(0)


def test_a_retained_topic_keeps_only_its_newest_undelivered_value(tmp_path: Path) -> None:
    sink, sender, client = _setup(tmp_path)
    for k in range(5):
        sink.summary(HealthSummary(T0 + k, "car-1", from_json({"vehicle": "car-1"}, vehicle="car-1", t=T0 + k)))
    assert sink.outbox.count == 1
    sender._pump()
    assert len(client.sent) == 1 and b'"t":1735689604' in client.sent[0][1]
    sink.close(0)


def test_undelivered_rows_survive_a_new_sink_on_the_same_store(tmp_path: Path) -> None:
    sink, _, _ = _setup(tmp_path)
    _queue(sink, 4, qos=1)
    sink.close(0)
    again, sender, client = _setup(tmp_path)
    assert again.status()["backlog"] == 4
    sender._pump()
    assert [p for _, p, _ in client.sent] == [b"0", b"1", b"2", b"3"]
    again.close(0)


def test_a_second_process_on_the_same_store_does_not_share_the_outbox(tmp_path: Path) -> None:
    first, _, _ = _setup(tmp_path)
    second, _, _ = _setup(tmp_path)
    assert first.role == "daemon" and second.role == "backfill"
    assert second.outbox_path != first.outbox_path and second.client_id == "battwatch-car-1-backfill"
    second.close(0)
    first.close(0)


def test_a_damaged_outbox_is_set_aside_and_the_sink_starts_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "mqtt-outbox.sqlite3").write_bytes(b"this is not a database, the SD card hiccupped" * 100)
    sink, sender, client = _setup(tmp_path)
    assert sink.status()["backlog"] == 0
    assert any("not a usable SQLite database" in r.getMessage() for r in caplog.records)
    assert sink.status()["damaged_files"] == 1
    assert len(list(tmp_path.glob("mqtt-outbox.sqlite3.damaged-*"))) == 1
    _queue(sink, 2, qos=1)
    sender._pump()
    assert len(client.sent) == 2
    sink.close(0)
