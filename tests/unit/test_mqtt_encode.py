"""MQTT topics and payloads: layout, envelope fields, windows, alert changes, HA discovery."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import pytest

from battwatch.core import ha_discovery
from battwatch.core import mqtt_encode as enc
from battwatch.core.csvlog import RowParser, write_csv
from battwatch.core.model import AlertTransition, Facts, Reading
from battwatch.core.windows import WindowAggregator

T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z, a multiple of 60


def _r(t: float, main: float | None = 12.6, sos: float | None = 5.1, temp: float | None = 8.0) -> Reading:
    lo = None if main is None else main - 0.05
    hi = None if main is None else main + 0.04
    return Reading(t, main, lo, hi, sos, None if sos is None else sos - 0.01,
                   None if sos is None else sos + 0.01, temp, 1.0, "car-1")


def _tr(state: str = "raised", severity: str = "warning", t: float = T0, msg: str = "SOS backup battery low (4.71 V)") -> AlertTransition:
    return AlertTransition(t, "car-1", "sos", "low_voltage", severity, state, 4.71, msg)  # type: ignore[arg-type]


def _envelope_ok(body: dict[str, object], t: float) -> None:
    assert body["schema"] == enc.SCHEMA_VERSION
    assert body["vehicle"] == "car-1"
    assert body["t"] == pytest.approx(t)
    assert isinstance(body["time"], str) and body["time"].endswith("+00:00")
    assert body["units"] == enc.UNITS


def test_topic_layout() -> None:
    tp = enc.Topics("fleet/bw", "car-1", "ha")
    assert tp.status == "fleet/bw/car-1/status"
    assert tp.state == "fleet/bw/car-1/state"
    assert tp.readings == "fleet/bw/car-1/readings"
    assert tp.events == "fleet/bw/car-1/events"
    assert tp.notify == "fleet/bw/car-1/notify"
    assert tp.alert("sos", "low_voltage") == "fleet/bw/car-1/alerts/sos/low_voltage"
    assert tp.ha_status == "ha/status"
    assert tp.discovery("sensor", "main_voltage") == "ha/sensor/battwatch_car-1/main_voltage/config"


@pytest.mark.parametrize(("raw", "safe"), [("a/b", "a_b"), ("x+#", "x__"), (" low v ", "low_v"), ("", "_")])
def test_topic_levels_never_carry_wildcards_or_separators(raw: str, safe: str) -> None:
    assert enc.topic_part(raw) == safe


def test_vehicle_with_a_dot_gives_a_valid_ha_node_id() -> None:
    assert enc.Topics("battwatch", "x1.f48", "homeassistant").node_id == "battwatch_x1_f48"


def test_window_aggregates_min_max_mean_count_and_states() -> None:
    agg = WindowAggregator(60)
    assert agg.add(_r(T0 + 1, 12.60), "parked") is None
    assert agg.add(_r(T0 + 2, 12.70), "parked") is None
    assert agg.add(_r(T0 + 60, 12.80), "running") is None  # its end: this window's last reading
    closed = agg.add(_r(T0 + 60.5, 12.5), "running")
    assert closed is not None
    body = json.loads(enc.readings_payload("car-1", closed))
    _envelope_ok(body, T0 + 60)
    assert body["window"]["start_t"] == T0 and body["window"]["end_t"] == T0 + 60
    assert body["window"]["interval_s"] == 60
    assert body["samples"] == 3
    assert body["main"] == {"mean_v": 12.7, "min_v": 12.55, "max_v": 12.84, "samples": 3}
    assert body["sos"]["samples"] == 3 and body["sos"]["min_v"] == 5.09
    assert body["temp"]["mean_c"] == 8.0
    assert body["states"] == {"parked": 2, "running": 1} and body["state"] == "running"
    tail = agg.flush()
    assert tail is not None and tail.samples == 1 and agg.flush() is None


def test_window_with_a_missing_channel_says_null_not_zero() -> None:
    agg = WindowAggregator(10)
    agg.add(_r(T0, main=12.6, sos=None))
    w = agg.flush()
    assert w is not None
    body = json.loads(enc.readings_payload("car-1", w))
    assert body["sos"] is None and body["main"]["samples"] == 1


def test_a_reading_back_in_time_starts_a_new_window() -> None:
    agg = WindowAggregator(60)
    agg.add(_r(T0 + 30))
    closed = agg.add(_r(T0 + 10))
    assert closed is not None and closed.samples == 1


def test_replaying_the_csv_log_gives_the_same_window_messages_as_live() -> None:
    # live readings carry more digits than the log keeps; the messages must still match
    live = [
        Reading(T0 + i * 0.7, 12.6 + math.sin(i) / 7, 12.3 + math.sin(i) / 9, 12.9 + math.cos(i) / 11,
                5.05 + i / 3001, 5.0, 5.2, 7.0 + i / 97, 0.7, "car-1", 1)
        for i in range(400)
    ]
    buf = io.StringIO()
    write_csv(buf, live, "car-1")
    rows = buf.getvalue().splitlines()
    parser = RowParser(rows[0].split(","))
    replayed = [parser.parse(line.split(",")) for line in rows[1:]]

    def messages(readings: list[Reading]) -> list[bytes]:
        agg = WindowAggregator(60)
        out = [enc.readings_payload("car-1", w) for r in readings if (w := agg.add(r, "parked"))]
        tail = agg.flush()
        assert tail is not None
        return [*out, enc.readings_payload("car-1", tail)]

    assert len(messages(live)) == 6  # the first reading, at a minute, ends the window before
    assert messages(live) == messages(replayed)


@pytest.mark.parametrize(
    ("state", "severity", "previous", "refreshed", "change"),
    [
        ("raised", "warning", None, False, "raised"),
        ("raised", "critical", "warning", False, "escalated"),
        ("raised", "warning", "critical", False, "de-escalated"),
        ("raised", "warning", "warning", True, "refreshed"),
        ("cleared", "warning", "warning", False, "cleared"),
    ],
)
def test_the_alert_payload_says_what_the_transition_changed(
    state: str, severity: str, previous: str | None, refreshed: bool, change: str,
) -> None:
    """The transition says what it changed: no table of active alerts in the sink decides."""
    tr = AlertTransition(T0, "car-1", "sos", "low_voltage", severity, state, 4.71, "m",  # type: ignore[arg-type]
                         previous, refreshed=refreshed)  # type: ignore[arg-type]
    assert json.loads(enc.alert_payload(tr, "X1"))["change"] == change


def test_alert_and_event_payloads_carry_the_typed_words_and_facts() -> None:
    tr = AlertTransition(T0, "car-1", "sos", "low_voltage", "warning", "raised", 4.71, "full text.",
                         headline="Rested at 4.71 V, below the 4.88 V warning level", action="Plan a replacement",
                         cost="typically $150-300", since=T0 - 60, limit=4.88,
                         facts=Facts(temp_c=18.2, per_cell_v=1.1775, rate_mv_per_day=-1.91, crossing_date="2025-10-08"))
    alert = json.loads(enc.alert_payload(tr, "X1"))
    _envelope_ok(alert, T0)
    assert alert["active"] is True and alert["severity"] == "warning" and alert["value"] == 4.71
    assert alert["limit"] == 4.88 and alert["headline"].startswith("Rested at 4.71 V")
    assert alert["action"] == "Plan a replacement" and alert["cost"] == "typically $150-300"
    assert alert["facts"] == {"temp_c": 18.2, "per_cell_v": 1.1775, "rate_mv_per_day": -1.91,
                              "crossing_date": "2025-10-08"}
    assert alert["since"].startswith("2024-12-31T23:59:00")
    assert alert["notification"]["tag"] == "battwatch-car-1-sos-low_voltage"
    cleared = json.loads(enc.alert_payload(_tr("cleared", t=T0 + 5), "X1"))
    assert cleared["active"] is False and cleared["state"] == "cleared"
    event = json.loads(enc.event_payload(tr, "X1"))
    _envelope_ok(event, T0)
    assert event["event_id"] == enc.event_id(tr) and event["change"] == "raised"


def test_an_inactive_alert_state_is_off_for_home_assistant() -> None:
    body = json.loads(enc.inactive_alert_payload("car-1", "main", "overvoltage", T0))
    _envelope_ok(body, T0)
    assert body["active"] is False and body["state"] == "inactive" and body["notification"] is None


def test_event_ids_are_stable_and_distinct() -> None:
    assert enc.event_id(_tr()) == enc.event_id(_tr())
    reminder = AlertTransition(T0, "car-1", "sos", "low_voltage", "warning", "raised", 4.71, "m", "warning",
                               refreshed=True)
    assert len({enc.event_id(_tr()), enc.event_id(_tr("cleared")), enc.event_id(_tr(t=T0 + 1)),
                enc.event_id(_tr(severity="critical")), enc.event_id(reminder)}) == 5


def test_transition_messages_order_and_retain() -> None:
    tp = enc.Topics("battwatch", "car-1")
    msgs = enc.transition_messages(tp, _tr(), car="car")
    assert [(m.stream, m.retain) for m in msgs] == [("events", False), ("alerts", True), ("notify", False)]
    cleared = enc.transition_messages(tp, _tr("cleared"), car="car")
    # a recovery reaches the phone too: a short all-clear under the alert's tag
    assert [m.stream for m in cleared] == ["events", "alerts", "notify"]
    assert json.loads(cleared[2].payload)["title"].startswith("All clear: SOS backup battery")
    reminder = AlertTransition(T0, "car-1", "sos", "low_voltage", "warning", "raised", 4.71, "m", "warning",
                               refreshed=True)
    # a reminder refreshes the retained state and the phone; it is no transition for the collector
    assert [m.stream for m in enc.transition_messages(tp, reminder, car="car")] == ["alerts", "notify"]


def test_discovery_has_one_device_sensors_and_a_binary_sensor_per_alert_kind() -> None:
    tp = enc.Topics("battwatch", "car-1", "homeassistant")
    msgs = ha_discovery.discovery_messages(tp, model="X1", sw_version="0.1.0",
                                  alert_kinds=[("sos", "low_voltage"), ("main", "low_rest"), ("sos", "low_voltage")])
    assert all(m.retain and m.stream == "discovery" for m in msgs)
    configs = {m.topic: json.loads(m.payload) for m in msgs}
    assert len(configs) == len(msgs)
    sensors = {t.split("/")[3] for t in configs if t.startswith("homeassistant/sensor/")}
    assert {"main_voltage", "sos_voltage", "main_soc", "sos_soc", "main_age", "sos_age",
            "main_remaining_life", "sos_remaining_life"} <= sensors
    binaries = [c for t, c in configs.items() if t.startswith("homeassistant/binary_sensor/")]
    assert sorted(c["state_topic"] for c in binaries) == [
        "battwatch/car-1/alerts/main/low_rest", "battwatch/car-1/alerts/sos/low_voltage"]
    assert {json.dumps(c["device"], sort_keys=True) for c in configs.values()} == {
        json.dumps(configs[next(iter(configs))]["device"], sort_keys=True)}
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    assert len({c["default_entity_id"] for c in configs.values()}) == len(configs)
    # the same entity id on every Home Assistant release: object_id (to 2025.9), default_entity_id (after)
    assert all(c["default_entity_id"].split(".", 1)[1] == c["object_id"] for c in configs.values())
    assert all(re.fullmatch(r"(sensor|binary_sensor|button)\.[a-z0-9_]+", c["default_entity_id"])
               for c in configs.values())
    for c in configs.values():
        assert c["availability"] == [{"topic": "battwatch/car-1/status", "payload_available": "online",
                                      "payload_not_available": "offline"}]
    volt = configs["homeassistant/sensor/battwatch_car-1/main_voltage/config"]
    assert volt["unit_of_measurement"] == "V" and volt["device_class"] == "voltage"
    assert volt["state_topic"] == "battwatch/car-1/state"


# The options of Home Assistant's MQTT button (https://www.home-assistant.io/integrations/button.mqtt/):
# a key outside them makes HA refuse the discovery config.
HA_BUTTON_KEYS = {
    "availability", "availability_mode", "availability_template", "availability_topic", "command_template",
    "command_topic", "device", "device_class", "enabled_by_default", "encoding", "entity_category",
    "entity_picture", "icon", "json_attributes_template", "json_attributes_topic", "name", "default_entity_id",
    "object_id",
    "payload_available", "payload_not_available", "payload_press", "platform", "qos", "retain", "unique_id",
}


def test_discovery_has_a_replaced_button_per_battery_that_sends_the_command() -> None:
    tp = enc.Topics("battwatch", "car-1", "homeassistant")
    msgs = ha_discovery.discovery_messages(tp, model="X1", sw_version="0.1.0")
    buttons = {m.topic: json.loads(m.payload) for m in msgs if m.topic.startswith("homeassistant/button/")}
    assert set(buttons) == {"homeassistant/button/battwatch_car-1/replaced_main/config",
                            "homeassistant/button/battwatch_car-1/replaced_sos/config"}
    for battery in ("main", "sos"):
        b = buttons[f"homeassistant/button/battwatch_car-1/replaced_{battery}/config"]
        assert set(b) <= HA_BUTTON_KEYS, set(b) - HA_BUTTON_KEYS
        assert b["command_topic"] == "battwatch/car-1/command/replaced" and b["payload_press"] == battery
        assert b["entity_category"] in ("config", "diagnostic") and b["qos"] in (0, 1, 2) and b["retain"] is False
        assert re.fullmatch(r"button\.[a-z0-9_]+", b["default_entity_id"])
    assert buttons["homeassistant/button/battwatch_car-1/replaced_sos/config"]["name"] == "SOS backup battery replaced"


def test_docs_show_exactly_what_the_encoder_produces(root: Path) -> None:
    """docs/mqtt.md's example payloads are the encoder's: regenerate them when this fails."""
    text = (root / "docs" / "mqtt.md").read_text(encoding="utf-8")
    examples = enc.example_messages()
    blocks = dict(re.findall(r"<!-- example:([\w-]+) -->\n```\w+\n(.*?)\n```", text, re.S))
    assert set(blocks) == set(examples)
    for name, msg in examples.items():
        assert blocks[name] == enc.example_text(msg), f"docs/mqtt.md example {name!r} is out of date"
    for name in ("readings", "state", "alert-raised", "alert-cleared", "event"):
        assert {"schema", "vehicle", "time", "t", "units"} <= set(json.loads(examples[name].payload))


@pytest.mark.parametrize("vehicle", ["x1.f48", "golf_7-XY789", "car"])
def test_a_collector_for_listed_vehicles_subscribes_to_the_topics_the_car_publishes(vehicle: str) -> None:
    """`[collect] vehicles = ["x1.f48"]` once subscribed to battwatch/x1_f48/..., which no car uses."""
    from paho.mqtt.client import topic_matches_sub

    from battwatch.core.fleet_points import KINDS, subscriptions

    car = enc.Topics("battwatch", vehicle)
    filters = [f.split("/", 2)[2] for f in subscriptions("battwatch", "battwatch-collectors", [vehicle])]
    for kind in KINDS:
        topic = getattr(car, kind)
        assert [f for f in filters if topic_matches_sub(f, topic)] == [topic]
