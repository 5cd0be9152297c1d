"""The paho client the MQTT sink and the collector both build: protocol, login, callbacks."""

from __future__ import annotations

from typing import Any

from battwatch import config
from battwatch.sinks.mqtt_client import paho_client


class Owner:
    """Has some of the callbacks paho knows, and a method that only looks like one."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def _on_connect(self, *args: Any) -> None:
        self.seen.append("connect")

    def _on_message(self, *args: Any) -> None:
        self.seen.append("message")

    def _on_something_else(self, *args: Any) -> None:
        self.seen.append("something else")


def test_the_client_gets_the_owners_callbacks_and_no_others() -> None:
    import paho.mqtt.client as mqtt

    cfg = config.from_dict({"vehicle": {"id": "car-1"}, "mqtt": {"host": "127.0.0.1", "username": "car-1",
                                                                "password": "secret"}})
    assert cfg.mqtt is not None
    owner = Owner()
    client = paho_client(cfg.mqtt, "battwatch-car-1", owner, "test", clean_session=False)
    assert client.on_connect == owner._on_connect and client.on_message == owner._on_message
    assert client.on_disconnect is None and client.on_publish is None and client.on_subscribe is None
    assert client.protocol == mqtt.MQTTv311 and client._client_id == b"battwatch-car-1"
    assert client._username == b"car-1" and client._password == b"secret"


def test_the_collectors_client_speaks_mqtt_5_with_manual_acknowledgements() -> None:
    import paho.mqtt.client as mqtt

    cfg = config.from_dict({"vehicle": {"id": "fleet"}, "mqtt": {"host": "127.0.0.1"}})
    assert cfg.mqtt is not None
    client = paho_client(cfg.mqtt, "collector-1", Owner(), "test", v5=True, manual_ack=True)
    assert client.protocol == mqtt.MQTTv5 and client._manual_ack is True
    assert client._username is None
