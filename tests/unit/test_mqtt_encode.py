"""MQTT topics and payloads: layout, envelope fields, windows, alert changes, HA discovery."""

from __future__ import annotations

import io
import json
import math
import re
from datetime import date
from pathlib import Path

import pytest

from battwatch.core import mqtt_encode as enc
from battwatch.core.csvlog import RowParser, write_csv
from battwatch.core.model import AlertTransition, HealthSummary, Reading
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
    ("state", "severity", "previous", "change"),
    [
        ("raised", "warning", None, "raised"),
        ("raised", "critical", "warning", "escalated"),
        ("raised", "warning", "critical", "de-escalated"),
        ("raised", "warning", "warning", "repeated"),
        ("cleared", "warning", "warning", "cleared"),
    ],
)
def test_classify(state: str, severity: str, previous: str | None, change: str) -> None:
    assert enc.classify(_tr(state, severity), previous) == change


def test_alert_and_event_payloads() -> None:
    tr = _tr()
    alert = json.loads(enc.alert_payload(tr, "raised", since=T0 - 60))
    _envelope_ok(alert, T0)
    assert alert["active"] is True and alert["severity"] == "warning" and alert["value"] == 4.71
    assert alert["since"].startswith("2024-12-31T23:59:00")
    cleared = json.loads(enc.alert_payload(_tr("cleared", t=T0 + 5), "cleared"))
    assert cleared["active"] is False and cleared["state"] == "cleared"
    event = json.loads(enc.event_payload(tr, "raised"))
    _envelope_ok(event, T0)
    assert event["event_id"] == enc.event_id(tr) and event["change"] == "raised"


def test_event_ids_are_stable_and_distinct() -> None:
    assert enc.event_id(_tr()) == enc.event_id(_tr())
    assert len({enc.event_id(_tr()), enc.event_id(_tr("cleared")), enc.event_id(_tr(t=T0 + 1)),
                enc.event_id(_tr(severity="critical"))}) == 4


def test_notify_is_one_short_sentence_for_raised_and_escalated_only() -> None:
    label = enc.vehicle_label("x1-f48-ab123", "X1")
    text = enc.notify_text(_tr(), "raised", label)
    assert text == "X1 (x1-f48-ab123): SOS backup battery low (4.71 V, warning)."
    esc = enc.notify_text(_tr(severity="critical"), "escalated", label)
    assert esc == "X1 (x1-f48-ab123): now SOS backup battery low (4.71 V, critical)."
    for change in ("cleared", "de-escalated", "repeated"):
        assert enc.notify_text(_tr(), change, label) is None


def test_notify_keeps_the_measurement_and_the_action_and_drops_the_rest() -> None:
    label = "BMW X1 F48 (x1-f48-ab123)"
    msg = ("SOS backup battery rested at 4.05 V (1.01 V per cell), below the 4.40 V critical level for a "
           "4-cell NiMH pack: it can probably no longer hold an emergency call for the required minutes. "
           "Replace the SOS backup battery (typically $150-300). If the car already shows 'SOS Call System "
           "Failure' and a new pack does not cure it, the next suspects are the software and the antenna.")
    text = enc.notify_text(_tr(severity="critical", msg=msg), "raised", label)
    assert text == (
        "BMW X1 F48 (x1-f48-ab123): SOS backup battery rested at 4.05 V (1.01 V per cell), below the 4.40 V "
        "critical level for a 4-cell NiMH pack. Replace the SOS backup battery (typically $150-300).")
    assert len(text) < 200


def test_notify_falls_back_to_the_alert_name_when_the_measurement_is_long() -> None:
    msg = ("SOS backup battery dropped from 5.39 V to 4.05 V rested (-1.34 V) against its level of the past "
           "days, compared like for like with the car asleep: that is about one cell of the pack. "
           "Replace the SOS backup battery (typically $150-300).")
    tr = AlertTransition(T0, "car-1", "sos", "step_drop", "critical", "raised", -1.34, msg)
    text = enc.notify_text(tr, "raised", "BMW X1 F48 (x1-f48-ab123)")
    assert text == ("BMW X1 F48 (x1-f48-ab123): SOS backup battery step drop (critical). "
                    "Replace the SOS backup battery (typically $150-300).")


def test_notify_never_exceeds_the_limit() -> None:
    for msg in ("word " * 100, "A" * 400, "Short. " + "Replace " + "x " * 300):
        text = enc.notify_text(_tr(msg=msg), "raised", "label " * 10)
        assert text is not None and 0 < len(text) < 200


def test_notify_keeps_a_message_that_already_names_the_severity() -> None:
    text = enc.notify_text(_tr(severity="critical", msg="Critical: 12 V battery flat"), "raised", "car")
    assert text == "car: Critical: 12 V battery flat."


def test_transition_messages_order_and_retain() -> None:
    tp = enc.Topics("battwatch", "car-1")
    msgs = enc.transition_messages(tp, _tr(), "raised", label="car")
    assert [(m.stream, m.retain) for m in msgs] == [("events", False), ("alerts", True), ("notify", False)]
    cleared = enc.transition_messages(tp, _tr("cleared"), "cleared", label="car")
    assert [m.stream for m in cleared] == ["events", "alerts"]


def test_state_payload_reads_the_summary_and_fills_gaps() -> None:
    summary = HealthSummary(T0, "car-1", {
        "vehicle": "car-1",
        "time": T0,
        "readings": 42,
        "state": "parked",
        "main": {"voltage": 12.63, "soc_pct": 81, "remaining_life_years": 2.5, "rested_voltage": 12.61,
                 "alerts": [{"alert": "low_voltage", "severity": "info", "since": "x", "message": "m"}]},
        "sos": {"age_years": 3.2, "remaining_life_years": None, "trend": {"slope_v_per_day": math.nan}},
        "link": {"frames": 10},
        "sinks": {"mqtt": {"backlog": 3}},
    })
    body = json.loads(enc.state_payload(
        summary,
        latest=_r(T0, 12.64, 5.12, 6.5),
        active={("sos", "step_drop"): "critical"},
        installed={"main": date(2023, 1, 1), "sos": None},
    ))
    _envelope_ok(body, T0)
    assert body["state"] == "parked"
    main, sos = body["main"], body["sos"]
    assert main["voltage_v"] == 12.63 and main["soc_pct"] == 81 and main["rest_v"] == 12.61
    assert main["remaining_life_years"] == 2.5
    assert main["age_years"] == pytest.approx(2.0, abs=0.01)  # from the configured install date
    assert main["alerts"][0]["alert"] == "low_voltage"  # the analysis's own list wins
    assert main["detail"]["voltage"] == 12.63 and "alerts" not in main["detail"]
    assert sos["voltage_v"] == 5.12  # the summary has none: the latest reading
    assert sos["age_years"] == 3.2 and sos["remaining_life_years"] is None
    assert sos["alerts"] == [{"alert": "step_drop", "severity": "critical"}]  # the sink's own record
    assert sos["detail"]["trend"]["slope_v_per_day"] is None  # NaN never reaches a JSON parser
    assert body["alerts_active"] == 2 and body["temp_c"] == 6.5
    assert body["link"] == {"frames": 10} and body["extra"] == {"readings": 42}
    assert "sinks" not in json.dumps(body)


def test_state_payload_without_analysis_or_readings() -> None:
    body = json.loads(enc.state_payload(HealthSummary(T0, "car-1", {"vehicle": "car-1"})))
    assert body["main"]["voltage_v"] is None and body["state"] is None and body["alerts_active"] == 0
    assert body["main"]["detail"] is None


def test_state_payload_from_the_real_analysis_summary() -> None:
    from battwatch import config
    from battwatch.core.analysis import build_analyzer

    cfg = config.defaults("car-1", battery={"main": {"installed": "2022-01-01"}, "sos": {"installed": "2020-01-01"}})
    an = build_analyzer(cfg)
    for i in range(600):
        an.feed(_r(T0 + i * 60, 12.62, 5.15, 10.0))
    body = json.loads(enc.state_payload(HealthSummary(T0 + 599 * 60, "car-1", an.summary(T0 + 599 * 60))))
    for battery in ("main", "sos"):
        figures = body[battery]
        assert set(enc.SUMMARY_KEYS) <= set(figures)
        assert figures["voltage_v"] == pytest.approx(12.62 if battery == "main" else 5.15)
        assert figures["age_years"] is not None and figures["remaining_life_years"] is not None
        assert isinstance(figures["alerts"], list) and figures["detail"]
    assert isinstance(body["state"], str) and body["state"]


def test_state_payload_of_a_faulted_channel_shows_no_current_voltage_or_charge() -> None:
    good = {"voltage": 0.0, "soc_pct": 0, "rested_voltage": 12.61, "rested_at": "2025-01-01T06:00:00Z",
            "sensor_fault": "open_wire", "sensor_fault_since": "2025-01-01T09:00:00Z",
            "sensor_fault_first_sign": "2025-01-01T08:00:00Z"}
    late = {**good, "rested_voltage": 0.01, "rested_at": "2025-01-01T08:30:00Z"}
    summary = HealthSummary(T0, "car-1", {"main": good, "sos": late})
    body = json.loads(enc.state_payload(summary, latest=_r(T0, 0.0, 0.0, 6.5)))
    main, sos = body["main"], body["sos"]
    for figures in (main, sos):
        # Home Assistant shows these as unknown rather than a flat battery
        assert figures["voltage_v"] is None and figures["soc_pct"] is None
        assert figures["sensor_fault"] == "open_wire"
    # the rested reading from before the first sign still stands; one after it does not
    assert main["rest_v"] == 12.61 and main["rest_at"].startswith("2025-01-01T06:00:00")
    assert sos["rest_v"] is None and sos["rest_at"] is None
    assert main["detail"]["voltage"] == 0.0  # the raw figures stay in the detail


def test_state_payload_after_an_open_wire_in_the_real_analysis() -> None:
    from battwatch import config
    from battwatch.core.analysis import build_analyzer

    cfg = config.defaults("car-1")
    an = build_analyzer(cfg)
    t = T0

    def window(v: float, dt: float) -> None:  # a device window of dt seconds ending at t
        nonlocal t
        t += dt
        an.feed(Reading(t, v, v - 0.003 if v else 0.0, v + 0.003 if v else 0.0, 5.15, 5.148, 5.152, 10.0, dt))

    for _ in range(30):  # a drive, so the park that follows is a rest
        window(14.2, 60.0)
    for _ in range(24 * 6):  # a day parked, 10-min windows
        window(12.62, 600.0)
    for _ in range(6 * 6):  # then the 12 V tap reads 0 V for six hours
        window(0.0, 600.0)
    summary = an.summary(t)
    assert summary["main"]["sensor_fault"]  # the analysis saw the fault
    body = json.loads(enc.state_payload(HealthSummary(t, "car-1", summary)))
    assert body["main"]["voltage_v"] is None and body["main"]["soc_pct"] is None
    assert body["main"]["rest_v"] == pytest.approx(12.62)
    assert body["sos"]["voltage_v"] == pytest.approx(5.15)  # the other channel is untouched


def test_discovery_has_one_device_sensors_and_a_binary_sensor_per_alert_kind() -> None:
    tp = enc.Topics("battwatch", "car-1", "homeassistant")
    msgs = enc.discovery_messages(tp, model="X1", sw_version="0.1.0",
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
    "payload_available", "payload_not_available", "payload_press", "platform", "qos", "retain", "unique_id",
}


def test_discovery_has_a_replaced_button_per_battery_that_sends_the_command() -> None:
    tp = enc.Topics("battwatch", "car-1", "homeassistant")
    msgs = enc.discovery_messages(tp, model="X1", sw_version="0.1.0")
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
