"""Home Assistant against a real Mosquitto: every advertised alert entity has a retained state from the start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_mqtt_sink import TIMEOUT, Subscriber, make_cfg, transition  # shared by the MQTT tests

from battwatch import config
from battwatch.core.model import AlertTransition
from battwatch.sinks.mqtt import MqttSink, catalogue_kinds
from servers import Mosquitto

pytestmark = pytest.mark.servers

VEHICLE = "car-1"


def make_cfg_for_count() -> config.Config:
    return config.defaults(VEHICLE, battery={"sos": {"installed": "2021-06-01"}})


def _advertised_alert_topics(got: list) -> set[str]:
    """The state topics of every binary sensor (alert entity) the discovery configs advertise."""
    return {json.loads(g.payload)["state_topic"] for g in got
            if g.topic.startswith("homeassistant/binary_sensor/") and g.payload}


KINDS = len(catalogue_kinds(make_cfg_for_count()))


def _all_states_in(got: list) -> bool:
    """Every alert kind advertised, and a state on each advertised state topic."""
    advertised = _advertised_alert_topics(got)
    return len(advertised) == KINDS and advertised <= {x.topic for x in got}


def _retained_after_start(mosquitto: Mosquitto) -> tuple[set[str], dict[str, dict]]:
    """What a client that connects now (Home Assistant after a restart) gets at once: only
    retained messages (the sink has sent everything before it subscribes)."""
    topics = (f"battwatch/{VEHICLE}/alerts/#", "homeassistant/#")
    late = Subscriber(mosquitto.host, mosquitto.port, topics).ready()
    try:
        got = late.wait(_all_states_in, what="a retained state per alert entity")
        assert all(g.retain for g in got)
        return _advertised_alert_topics(got), {g.topic: json.loads(g.payload) for g in got
                                               if g.topic.startswith("battwatch/")}
    finally:
        late.close()


def _sent_everything(mosquitto: Mosquitto, sink: MqttSink) -> None:
    """Wait until the sink has published discovery and the alert states (live, to a watcher)."""
    watch = Subscriber(mosquitto.host, mosquitto.port, (f"battwatch/{VEHICLE}/alerts/#", "homeassistant/#"))
    watch.ready()
    try:
        sink.start()
        watch.wait(_all_states_in, what="discovery and the alert states")
        assert sink.wait_drained(TIMEOUT)
    finally:
        watch.close()


def test_every_advertised_alert_entity_has_a_retained_state_after_start(
    mosquitto: Mosquitto, tmp_path: Path,
) -> None:
    """Issue 14: the alert binary sensors that never fired stayed "unknown" in Home Assistant."""
    sink = MqttSink(make_cfg(mosquitto), tmp_path / "store")
    try:
        _sent_everything(mosquitto, sink)
        advertised, states = _retained_after_start(mosquitto)
    finally:
        sink.close(TIMEOUT)
    assert len(advertised) >= 10  # the whole alert catalogue, not only what fired
    assert set(states) == advertised
    for topic, body in states.items():
        # the binary sensor's value template reads `active`: False is Home Assistant's "off"
        assert body["active"] is False and body["state"] == "inactive", topic


def test_a_restart_keeps_a_raised_alerts_retained_state(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """The inactive state is only for an alert that never had a transition: a raised one stays on."""
    store = tmp_path / "store"
    sink = MqttSink(make_cfg(mosquitto), store)
    try:
        _sent_everything(mosquitto, sink)
        raised: AlertTransition = transition(12)
        sink.transition(raised)
        assert sink.wait_drained(TIMEOUT)
    finally:
        sink.close(TIMEOUT)
    again = MqttSink(make_cfg(mosquitto), store)
    watch = Subscriber(mosquitto.host, mosquitto.port, ("homeassistant/#",)).ready()
    try:
        again.start()
        # the second start re-sends discovery (an inactive state would go just before it)
        watch.wait(lambda g: len(_advertised_alert_topics([x for x in g if not x.retain])) == KINDS,
                   what="discovery again")
        assert again.wait_drained(TIMEOUT)
        _, states = _retained_after_start(mosquitto)
    finally:
        watch.close()
        again.close(TIMEOUT)
    mine = states[f"battwatch/{VEHICLE}/alerts/sos/low_voltage"]
    assert mine["active"] is True and mine["state"] == "raised" and mine["notification"]["change"] == "raised"
    assert sum(1 for b in states.values() if b["active"]) == 1
