"""The MQTT sink's sender thread: the outbox's rows to paho in order, deleted once delivered."""

from __future__ import annotations

import queue
from typing import TYPE_CHECKING, Any

from battwatch.adapters.outbox import Stored

if TYPE_CHECKING:
    from battwatch.sinks.mqtt import MqttSink

IN_FLIGHT = 128  # messages handed to paho and not yet acknowledged


class OutboxSender:
    """Publishes the MQTT outbox's rows in id order: at most IN_FLIGHT unacknowledged, a row
    deleted once acknowledged (QoS 1/2) or written to the socket (QoS 0). Its state lives on
    the sink's sender thread only; paho's callbacks reach it as notes on the sink's queue."""

    def __init__(self, sink: MqttSink) -> None:
        self.sink = sink
        self.outbox = sink.outbox
        self.handed: dict[int, tuple[int, int, str]] = {}  # paho mid -> (row id, qos, stream)
        self.resend: list[int] = []  # QoS 0 rows paho dropped with a connection: send first
        self.high = 0  # every row id <= high has been handed to paho once
        self.connected = False
        self.discovery_due = False
        self.stopping = False

    def run(self) -> None:
        notes = self.sink._notes
        while not self.stopping:
            try:
                items = [notes.get(timeout=1.0)]
            except queue.Empty:
                items = []
            while True:
                try:
                    items.append(notes.get_nowait())
                except queue.Empty:
                    break
            acked: list[tuple[int, str]] = []
            for item in items:
                self._note(item, acked)
            if acked:
                self._delete(acked)
            if self.connected and not self.stopping:
                self._pump()

    def _note(self, item: tuple[Any, ...], acked: list[tuple[int, str]]) -> None:
        kind = item[0]
        if kind == "ack":
            entry = self.handed.pop(item[1], None)
            if entry is not None:
                acked.append((entry[0], entry[2]))
        elif kind == "connected":
            self.connected = True
            self.discovery_due = self.sink.role == "daemon" and self.sink.m.homeassistant
        elif kind == "disconnected":
            self.connected = False
            # paho re-sends QoS 1/2 messages itself after reconnecting; QoS 0 ones it forgets
            lost = sorted((row for mid, (row, qos, _) in self.handed.items() if qos == 0))
            self.handed = {mid: e for mid, e in self.handed.items() if e[1] != 0}
            self.resend = sorted(set(self.resend) | set(lost))
        elif kind == "discovery":
            self.discovery_due = self.sink.role == "daemon" and self.sink.m.homeassistant
        elif kind == "stop":
            self.stopping = True

    def _delete(self, acked: list[tuple[int, str]]) -> None:
        sink = self.sink
        self.outbox.delivered([row for row, _ in acked])
        with sink._stats_lock:
            for _, stream in acked:
                sink.delivered[stream] = sink.delivered.get(stream, 0) + 1
        with sink._drained:
            sink._drained.notify_all()

    def _pump(self) -> None:
        client = self.sink._client
        if client is None:
            return
        if self.discovery_due:
            self.discovery_due = False
            for msg in self.sink._discovery():
                client.publish(msg.topic, msg.payload, qos=1, retain=True)
        room = IN_FLIGHT - len(self.handed)
        while room > 0 and self.connected:
            rows, from_resend = self._next_rows(room)
            if not rows:
                return
            for row in rows:
                rid = row[0]
                if from_resend:
                    self.resend.remove(rid)
                # a False return means the row is already taken care of (left to paho, or
                # back on the resend list) and the connection is gone: stop here, and let
                # the high-water mark cover only rows really dealt with
                ok = self._publish(client, row)
                if not from_resend:
                    self.high = rid
                if not ok:
                    return
                room -= 1

    def _next_rows(self, limit: int) -> tuple[list[Stored], bool]:
        """The next rows to publish: QoS 0 rows lost with a connection first, then new ones."""
        while self.resend:
            ids = self.resend[:limit]
            rows = self.outbox.with_ids(ids)
            if rows:
                return rows, True
            del self.resend[: len(ids)]  # all dropped from the backlog meanwhile
        return self.outbox.after(self.high, limit), False

    def _publish(self, client: Any, row: Stored) -> bool:
        from paho.mqtt.enums import MQTTErrorCode

        rid, stream, topic, payload, qos, retain = row
        try:
            info = client.publish(topic, payload, qos=qos, retain=bool(retain))
        except ValueError as e:  # a message the broker can never take: set it aside, say so
            self.outbox.set_aside([row], f"unpublishable on {topic}: {e}")
            return True
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            self.handed[info.mid] = (rid, qos, stream)
            return True
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            # the connection dropped under us; paho's on_connect will tell us when it is back
            self.connected = False
            if qos > 0:
                # paho keeps a QoS 1/2 message queued and sends it after reconnecting
                self.handed[info.mid] = (rid, qos, stream)
                return False
        self.resend = sorted({*self.resend, rid})
        return False
