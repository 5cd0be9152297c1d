"""Home Assistant MQTT discovery: one device per car, its sensors, a binary sensor per alert kind (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from battwatch.core.model import HEALTH_WORDS
from battwatch.core.mqtt_encode import (
    BATTERIES,
    BATTERY_LABEL,
    Message,
    Topics,
    dumps,
    topic_part,
    vehicle_label,
)

# The oldest Home Assistant release the discovery payloads are tested against (its own MQTT
# schemas, tests/integration/test_ha_schemas.py; docs/mqtt.md "Home Assistant").
HA_MIN_VERSION = "2024.3"

@dataclass(frozen=True, slots=True)
class SensorSpec:
    object_id: str
    name: str
    template: str
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = "measurement"
    icon: str | None = None
    precision: int | None = None
    options: tuple[str, ...] | None = None  # an enum sensor: every value it may take
    attributes: str | None = None  # a template of extra attributes read from the state topic


# The sensors every vehicle gets; their value templates read the retained state topic.
SENSORS: tuple[SensorSpec, ...] = (
    SensorSpec("main_voltage", "12 V battery voltage", "{{ value_json.main.voltage_v }}", "V", "voltage", precision=2),
    SensorSpec("sos_voltage", "SOS battery voltage", "{{ value_json.sos.voltage_v }}", "V", "voltage", precision=2),
    SensorSpec("main_soc", "12 V battery state of charge", "{{ value_json.main.soc_pct }}", "%", "battery", precision=0),
    SensorSpec("sos_soc", "SOS battery state of charge", "{{ value_json.sos.soc_pct }}", "%", "battery", precision=0),
    SensorSpec("main_age", "12 V battery age", "{{ value_json.main.age_years }}", "years", None,
               icon="mdi:calendar-clock", precision=1),
    SensorSpec("sos_age", "SOS battery age", "{{ value_json.sos.age_years }}", "years", None,
               icon="mdi:calendar-clock", precision=1),
    SensorSpec("main_remaining_life", "12 V battery remaining life",
               "{{ value_json.main.remaining_life_years }}", "years", None, icon="mdi:timer-sand", precision=1),
    SensorSpec("sos_remaining_life", "SOS battery remaining life",
               "{{ value_json.sos.remaining_life_years }}", "years", None, icon="mdi:timer-sand", precision=1),
    SensorSpec("temperature", "Temperature", "{{ value_json.temp_c }}", "°C", "temperature", precision=1),
    SensorSpec("vehicle_state", "Vehicle state", "{{ value_json.state }}", None, None, None, "mdi:car-info"),
    SensorSpec("alerts_active", "Active battery alerts", "{{ value_json.alerts_active }}", None, None,
               icon="mdi:alert", precision=0),
    # Home Assistant rejects an enum sensor's value that is not among its options: every
    # verdict the analysis gives is listed, and a state without one reads "unknown"
    *(SensorSpec(f"{b}_health", f"{BATTERY_LABEL[b]} health",
                 f"{{{{ value_json.{b}.health or 'unknown' }}}}", None, "enum", None, "mdi:heart-pulse",
                 options=HEALTH_WORDS,
                 attributes=f"{{{{ {{'reason': value_json.{b}.health_reason}} | tojson }}}}")
      for b in BATTERIES),
)


def entity_id(domain: str, name: str) -> str:
    """A valid Home Assistant entity id (lower case, digits and '_'): ``sensor.battwatch_x1_f48``."""
    return f"{domain}.{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}"


def _ids(domain: str, topics: Topics, oid: str) -> dict[str, str]:
    """The same entity id on every Home Assistant release: ``object_id`` names it up to 2025.9
    (and is accepted, deprecated, until 2026.4), ``default_entity_id`` from 2025.10; each
    release reads the key it knows and passes over the other (both are in its schema or
    ignored by it: tests/integration/test_ha_schemas.py checks 2024.3)."""
    eid = entity_id(domain, f"{topics.node_id}_{oid}")
    return {
        "unique_id": f"{topics.node_id}_{oid}",
        "object_id": eid.split(".", 1)[1],
        "default_entity_id": eid,
    }


def _device(topics: Topics, model: str | None, sw_version: str) -> dict[str, Any]:
    return {
        "identifiers": [topics.node_id],
        "name": vehicle_label(topics.vehicle, model),
        "manufacturer": "battwatch",
        "model": model or "vehicle battery monitor",
        "sw_version": sw_version,
    }


def _availability(topics: Topics) -> list[dict[str, str]]:
    return [{"topic": topics.status, "payload_available": "online", "payload_not_available": "offline"}]


def discovery_messages(
    topics: Topics,
    *,
    model: str | None,
    sw_version: str,
    alert_kinds: Iterable[tuple[str, str]] = (),
) -> list[Message]:
    """Retained Home Assistant discovery configs: the sensors, a binary sensor per alert kind
    (its retained state: ``alert_state_messages``/``inactive_alert_message``) and the buttons."""
    device = _device(topics, model, sw_version)
    out: list[Message] = []
    for spec in SENSORS:
        cfg: dict[str, Any] = {
            "name": spec.name,
            **_ids("sensor", topics, spec.object_id),
            "state_topic": topics.state,
            "value_template": spec.template,
            "availability": _availability(topics),
            "device": device,
        }
        if spec.unit:
            cfg["unit_of_measurement"] = spec.unit
        if spec.device_class:
            cfg["device_class"] = spec.device_class
        if spec.state_class:
            cfg["state_class"] = spec.state_class
        if spec.icon:
            cfg["icon"] = spec.icon
        if spec.precision is not None:
            cfg["suggested_display_precision"] = spec.precision
        if spec.options is not None:
            cfg["options"] = list(spec.options)
        if spec.attributes is not None:
            cfg["json_attributes_topic"] = topics.state
            cfg["json_attributes_template"] = spec.attributes
        out.append(Message("discovery", topics.discovery("sensor", spec.object_id), dumps(cfg), True))
    for battery, alert in sorted(set(alert_kinds)):
        oid = f"alert_{topic_part(battery)}_{topic_part(alert)}"
        cfg = {
            "name": f"{BATTERY_LABEL.get(battery, battery)} {alert.replace('_', ' ')}",
            **_ids("binary_sensor", topics, oid),
            "state_topic": topics.alert(battery, alert),
            "value_template": "{{ 'ON' if value_json.active else 'OFF' }}",
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": "problem",
            "json_attributes_topic": topics.alert(battery, alert),
            "json_attributes_template": (
                "{{ {'severity': value_json.severity, 'headline': value_json.headline,"
                " 'action': value_json.action, 'message': value_json.message,"
                " 'since': value_json.since, 'value': value_json.value, 'limit': value_json.limit}"
                " | tojson }}"
            ),
            "availability": _availability(topics),
            "device": device,
        }
        out.append(Message("discovery", topics.discovery("binary_sensor", oid), dumps(cfg), True))
    for battery in BATTERIES:
        # a press tells the car this battery is new (docs/mqtt.md "After a replacement")
        oid = f"replaced_{battery}"
        cfg = {
            "name": f"{BATTERY_LABEL[battery]} replaced",
            **_ids("button", topics, oid),
            "command_topic": topics.replace_command,
            "payload_press": battery,
            "qos": 1,
            "retain": False,
            "entity_category": "config",
            "icon": "mdi:battery-sync",
            "availability": _availability(topics),
            "device": device,
        }
        out.append(Message("discovery", topics.discovery("button", oid), dumps(cfg), True))
    return out


