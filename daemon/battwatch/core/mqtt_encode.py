"""MQTT topic layout and payloads: the one place their names and fields are defined (pure)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from battwatch.core.events import Rested, Start
from battwatch.core.faultview import faulted, last_good_rested
from battwatch.core.model import HEALTH_WORDS, SEVERITY_RANK, AlertTransition, Health, HealthSummary, Reading
from battwatch.core.timefmt import iso_utc
from battwatch.core.windows import C_DIGITS, V_DIGITS, Channel, WindowAggregator, WindowStats

# Bump when a field is renamed or its meaning changes; adding a field does not bump it.
SCHEMA_VERSION = 1

# Every JSON payload names its units by field-name suffix: `main.mean_v` is in volts.
UNITS: dict[str, str] = {
    "_v": "V",
    "_c": "°C",
    "_s": "s",
    "_pct": "%",
    "_years": "a",
    "_v_per_day": "V/d",
    "_mv_per_day": "mV/d",
}

NOTIFY_MAX_CHARS = 199
BATTERIES: tuple[str, str] = ("main", "sos")
BATTERY_LABEL = {"main": "12 V battery", "sos": "SOS backup battery"}

Stream = Literal["status", "state", "readings", "alerts", "events", "notify", "discovery"]
Change = Literal["raised", "escalated", "repeated", "de-escalated", "cleared"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def topic_part(text: str) -> str:
    """One topic level made safe: no '/', '+', '#', spaces or other surprises."""
    return _UNSAFE.sub("_", text.strip()) or "_"


# -- topics ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one vehicle under ``prefix``."""

    prefix: str
    vehicle: str
    ha_prefix: str = "homeassistant"

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.vehicle}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def readings(self) -> str:
        return f"{self.base}/readings"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    @property
    def notify(self) -> str:
        return f"{self.base}/notify"

    def alert(self, battery: str, alert: str) -> str:
        return f"{self.base}/alerts/{topic_part(battery)}/{topic_part(alert)}"

    @property
    def replace_command(self) -> str:
        """Where the owner (the Home Assistant button) says a battery was replaced."""
        return f"{self.base}/command/replaced"

    @property
    def replaced(self) -> str:
        """The retained answer to the last replacement command."""
        return f"{self.base}/replaced"

    @property
    def ha_status(self) -> str:
        """Where Home Assistant announces itself (its birth and last-will messages)."""
        return f"{self.ha_prefix}/status"

    @property
    def node_id(self) -> str:
        return f"battwatch_{topic_part(self.vehicle)}"

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self.ha_prefix}/{component}/{self.node_id}/{topic_part(object_id)}/config"


@dataclass(frozen=True, slots=True)
class Message:
    """One message for the broker, before QoS is chosen from the configuration."""

    stream: Stream
    topic: str
    payload: bytes
    retain: bool


# -- JSON helpers -----------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, tuples lists, dates ISO text, the rest str()."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def dumps(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; never NaN (a strict parser on a phone would reject it)."""
    return json.dumps(_clean(obj), separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def envelope(vehicle: str, t: float) -> dict[str, Any]:
    """The fields every JSON payload starts with."""
    return {
        "schema": SCHEMA_VERSION,
        "vehicle": vehicle,
        "time": iso_utc(t),
        "t": round(t, 3),
        "units": dict(UNITS),
    }


def _r(v: float | None, digits: int) -> float | None:
    return None if v is None or not math.isfinite(v) else round(v, digits)


# -- readings windows -------------------------------------------------------------------------


def _channel(c: Channel, unit: str, digits: int) -> dict[str, Any] | None:
    if c.n == 0:
        return None
    return {f"mean{unit}": c.mean(digits), f"min{unit}": c.low(digits), f"max{unit}": c.high(digits),
            "samples": c.n}


def readings_payload(vehicle: str, w: WindowStats) -> bytes:
    body = envelope(vehicle, w.last_t)
    body.update(
        {
            "window": {
                "start": iso_utc(w.start),
                "end": iso_utc(w.end),
                "start_t": round(w.start, 3),
                "end_t": round(w.end, 3),
                "interval_s": w.end - w.start,
                "first_t": w.first_t,
                "last_t": w.last_t,
            },
            "samples": w.samples,
            "state": w.last_state or None,
            "states": dict(w.states),
            "main": _channel(w.main, "_v", V_DIGITS),
            "sos": _channel(w.sos, "_v", V_DIGITS),
            "temp": _channel(w.temp, "_c", C_DIGITS),
        }
    )
    return dumps(body)


def _event_id(vehicle: str, kind: str, key: str, t: float) -> str:
    return hashlib.sha1(f"{vehicle}|{kind}|{key}|{round(t * 1000)}".encode(), usedforsecurity=False).hexdigest()[:16]


def start_payload(vehicle: str, ev: Start) -> bytes:
    """An engine start as the analysis judged it (events topic, ``type`` "start")."""
    body = envelope(vehicle, ev.t)
    body.update(type="start", battery="main", min_v=ev.min_v, pre_v=ev.pre_v, dip_v=ev.dip_v,
                recovery_v=ev.recovery_v, temp_c=ev.temp_c,
                limit_v=ev.limit_v, verdict=ev.verdict, failed=ev.failed, restart=ev.restart,
                low_charge=ev.low_charge, event_id=_event_id(vehicle, "start", "main", ev.t))
    return dumps(body)


def rested_payload(vehicle: str, ev: Rested) -> bytes:
    """A rested reading (events topic, ``type`` "rested"): at most one per battery per hour."""
    body = envelope(vehicle, ev.t)
    body.update(type="rested", battery=ev.battery, v=ev.v, rest_s=ev.rest_s, temp_c=ev.temp_c,
                event_id=_event_id(vehicle, "rested", ev.battery, ev.t))
    return dumps(body)


def _num(body: Mapping[str, Any], key: str, *, required: bool = False) -> float | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key}: missing or not a number")
    return float(value)


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key}: not true or false")
    return value


def start_from_dict(body: Mapping[str, Any], vehicle: str) -> Start:
    """Inverse of ``start_payload``; ValueError naming the bad key."""
    verdict = body.get("verdict")
    if verdict not in ("ok", "below", "critical", "low charge"):
        raise ValueError(f"verdict: {verdict!r} is none of ok, below, critical, low charge")
    t, min_v, limit_v = (_num(body, k, required=True) for k in ("t", "min_v", "limit_v"))
    assert t is not None and min_v is not None and limit_v is not None
    return Start(t, vehicle, min_v, _num(body, "pre_v"), _num(body, "dip_v"), _num(body, "recovery_v"),
                 _num(body, "temp_c"), limit_v,
                 _flag(body, "failed"), _flag(body, "restart"), _flag(body, "low_charge"), verdict)


def rested_from_dict(body: Mapping[str, Any], vehicle: str) -> Rested:
    """Inverse of ``rested_payload``; ValueError naming the bad key."""
    battery = body.get("battery")
    if battery not in ("main", "sos"):
        raise ValueError(f"battery: {battery!r} is neither main nor sos")
    t, v, rest_s = (_num(body, k, required=True) for k in ("t", "v", "rest_s"))
    assert t is not None and v is not None and rest_s is not None
    return Rested(t, vehicle, battery, v, rest_s, _num(body, "temp_c"))


# -- alerts -----------------------------------------------------------------------------------


def event_id(tr: AlertTransition) -> str:
    """Stable id of a transition: the live daemon and a replay of its log give the same one,
    so a subscriber can drop a copy (QoS 1 redelivery, a backfill over a live period)."""
    key = f"{tr.vehicle}|{tr.battery}|{tr.alert}|{tr.state}|{tr.severity}|{round(tr.t * 1000)}"
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]


def classify(tr: AlertTransition, previous: str | None) -> Change:
    """What ``tr`` does to an alert whose active severity was ``previous`` (None: inactive)."""
    if tr.state == "cleared":
        return "cleared"
    if previous is None:
        return "raised"
    new, old = SEVERITY_RANK.get(tr.severity, 0), SEVERITY_RANK.get(previous, 0)
    if new > old:
        return "escalated"
    if new < old:
        return "de-escalated"
    return "repeated"


def _alert_fields(tr: AlertTransition, change: Change) -> dict[str, Any]:
    return {
        "battery": tr.battery,
        "alert": tr.alert,
        "active": tr.state == "raised",
        "state": tr.state,
        "change": change,
        "severity": tr.severity,
        "value": _r(tr.value, 4),
        "message": tr.message,
        "event_id": event_id(tr),
    }


def alert_payload(tr: AlertTransition, change: Change, since: float | None = None) -> bytes:
    """The retained current state of one alert (a cleared alert says so: active false)."""
    body = envelope(tr.vehicle, tr.t)
    body.update(_alert_fields(tr, change))
    body["since"] = iso_utc(since if since is not None else tr.t)
    return dumps(body)


def event_payload(tr: AlertTransition, change: Change) -> bytes:
    body = envelope(tr.vehicle, tr.t)
    body.update(_alert_fields(tr, change))
    return dumps(body)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9'\"(])")
# A sentence starting with one of these tells the owner what to do: it earns its place in
# the phone text before any further detail of the measurement.
ACTION_VERBS = frozenset({
    "Replace", "Charge", "Have", "Check", "Drive", "Plan", "Stop", "Book", "Put", "Test", "Measure",
})


def _with_severity(text: str, severity: str) -> str:
    """``low (4.71 V)`` becomes ``low (4.71 V, warning).``; the severity is added once only."""
    bare = text.rstrip(" .")
    if severity in bare.lower():
        return bare + "."
    if bare.endswith(")") and "(" in bare:
        return f"{bare[:-1]}, {severity})."
    return f"{bare} ({severity})."


def notify_text(tr: AlertTransition, change: Change, label: str) -> str | None:
    """One short text for a phone, or None when the change is not worth a notification.

    Built from the alert's message: its first sentence (up to a colon) says what was
    measured against which limit, and the first sentence that starts with an action verb
    says what to do. The longest of these combinations that fits NOTIFY_MAX_CHARS wins:
    measurement and action, then alert name and action, then measurement alone.
    """
    if change not in ("raised", "escalated"):
        return None
    head = (f"{label}: " if label else "") + ("now " if change == "escalated" else "")
    name = f"{BATTERY_LABEL.get(tr.battery, tr.battery)} {tr.alert.replace('_', ' ')}"
    sentences = _SENTENCE_END.split(" ".join(tr.message.split()))
    first = sentences[0] or name
    before_colon = first.split(": ", 1)[0]
    # "X rested at 4.05 V, below ...: it can probably no longer ..." keeps the measurement;
    # a short lead-in such as "Critical: ..." is not cut off from what follows
    headline = before_colon if len(before_colon) >= 40 else first
    action = next((x for x in sentences[1:] if x.split(" ", 1)[0] in ACTION_VERBS), None)
    candidates = []
    if action:
        candidates += [f"{_with_severity(headline, tr.severity)} {action}",
                       f"{_with_severity(name, tr.severity)} {action}"]
    candidates += [_with_severity(headline, tr.severity), _with_severity(name, tr.severity)]
    for text in candidates:
        if len(head) + len(text) <= NOTIFY_MAX_CHARS:
            return head + text
    cut = (head + candidates[-1])[: NOTIFY_MAX_CHARS - 1]
    return cut.rsplit(" ", 1)[0] + "…"


def vehicle_label(vehicle: str, model: str | None) -> str:
    """How a person names the car: 'BMW X1 F48 (x1-f48-ab123)' or just the id."""
    return f"{model} ({vehicle})" if model else vehicle


# -- state ------------------------------------------------------------------------------------

# The figures of each battery in the state payload, and where the analysis summary
# (battwatch.core.analysis.summary) keeps them: the first key found wins.
SUMMARY_KEYS: dict[str, tuple[str, ...]] = {
    "voltage_v": ("voltage", "voltage_v"),
    "rest_v": ("rested_voltage", "rest_v"),
    "rest_at": ("rested_at",),
    "soc_pct": ("soc_pct",),
    "age_years": ("age_years",),
    "remaining_life_years": ("remaining_life_years",),
    "remaining_life_basis": ("remaining_life_basis",),
    "sensor_fault": ("sensor_fault",),
}
# a summary without the analysis' verdict (no analysis, an older daemon's store): none is made
# up here; Home Assistant's template reads the null as "unknown"
NO_HEALTH: dict[str, str | None] = {"health": None, "health_reason": None}
_TOP_LEVEL_HANDLED = frozenset({"vehicle", "time", "state", "main", "sos", "link", "sinks", "store"})


def _pick(section: Mapping[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        value = section.get(name)
        if value is not None:
            return value
    return None


def _age_years(installed: date | None, t: float) -> float | None:
    if installed is None:
        return None
    start = datetime(installed.year, installed.month, installed.day, tzinfo=UTC).timestamp()
    return round(max(0.0, t - start) / (365.25 * 86400.0), 2)


def state_payload(
    s: HealthSummary,
    *,
    latest: Reading | None = None,
    vehicle_state: str | None = None,
    active: Mapping[tuple[str, str], str] | None = None,
    installed: Mapping[str, date | None] | None = None,
) -> bytes:
    """The retained health summary of both batteries.

    Each battery gets the same unit-suffixed figures whatever the analysis provides, plus
    the analysis's own section as ``detail``. ``latest`` fills the voltages and ``installed``
    the ages when the summary has none; ``active`` (the alerts the sink saw raised and not
    cleared) stands in for the analysis's alert list when there is none.
    """
    data: Mapping[str, Any] = s.data if isinstance(s.data, Mapping) else {}
    body = envelope(s.vehicle, s.t)
    state = data.get("state")
    body["state"] = state if isinstance(state, str) and state else vehicle_state
    mine = active or {}
    n_active = 0
    for battery in BATTERIES:
        sec = data.get(battery)
        sec = sec if isinstance(sec, Mapping) else {}
        out: dict[str, Any] = {k: _pick(sec, names) for k, names in SUMMARY_KEYS.items()}
        verdict = Health.of(sec)
        out.update(NO_HEALTH if verdict is None else verdict.fields())
        if faulted(sec):
            # a faulted channel's readings are not the battery's: Home Assistant shows the
            # voltage and charge as unknown, and the last good rested reading stands in
            out["voltage_v"] = out["soc_pct"] = None
            good = last_good_rested(sec)
            out["rest_v"] = None if good is None else good["voltage"]
            out["rest_at"] = None if good is None else good["at"]
        elif out["voltage_v"] is None and latest is not None:
            out["voltage_v"] = _r(latest.main_v if battery == "main" else latest.sos_v, 3)
        if out["age_years"] is None:
            out["age_years"] = _age_years((installed or {}).get(battery), s.t)
        listed = sec.get("alerts")
        if isinstance(listed, list):
            alerts = [a for a in listed if isinstance(a, Mapping)]
        else:
            alerts = [{"alert": a, "severity": sev} for (b, a), sev in sorted(mine.items()) if b == battery]
        out["alerts"] = alerts
        n_active += len(alerts)
        out["detail"] = {k: v for k, v in sec.items() if k != "alerts"} or None
        body[battery] = out
    body["temp_c"] = _r(latest.temp_c, 1) if latest is not None else None
    body["alerts_active"] = n_active
    body["link"] = data.get("link")
    if "store" in data:  # is the car's own store writing? (a full SD card: ok false, the problem)
        body["store"] = data["store"]
    extra = {k: v for k, v in data.items() if k not in _TOP_LEVEL_HANDLED}
    if extra:
        body["extra"] = extra
    return dumps(body)


# -- Home Assistant discovery ----------------------------------------------------------------


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
    """A valid Home Assistant entity id (lower case, digits and '_'): ``sensor.battwatch_x1_f48``.

    Discovery sets it with ``default_entity_id`` (Home Assistant 2025.10 and later; the older
    ``object_id`` stopped working in 2026.4).
    """
    return f"{domain}.{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}"


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
    """Retained Home Assistant discovery configs: the sensors and a binary sensor per alert kind."""
    device = _device(topics, model, sw_version)
    out: list[Message] = []
    for spec in SENSORS:
        cfg: dict[str, Any] = {
            "name": spec.name,
            "unique_id": f"{topics.node_id}_{spec.object_id}",
            "default_entity_id": entity_id("sensor", f"{topics.node_id}_{spec.object_id}"),
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
            "unique_id": f"{topics.node_id}_{oid}",
            "default_entity_id": entity_id("binary_sensor", f"{topics.node_id}_{oid}"),
            "state_topic": topics.alert(battery, alert),
            "value_template": "{{ 'ON' if value_json.active else 'OFF' }}",
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": "problem",
            "json_attributes_topic": topics.alert(battery, alert),
            "json_attributes_template": (
                "{{ {'severity': value_json.severity, 'message': value_json.message,"
                " 'since': value_json.since, 'value': value_json.value} | tojson }}"
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
            "unique_id": f"{topics.node_id}_{oid}",
            "default_entity_id": entity_id("button", f"{topics.node_id}_{oid}"),
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


# -- the messages for each input ---------------------------------------------------------------


def transition_messages(
    topics: Topics, tr: AlertTransition, change: Change, *, label: str, since: float | None = None
) -> list[Message]:
    """Event, retained alert state and (for raised/escalated) the phone sentence, in that order."""
    out = [
        Message("events", topics.events, event_payload(tr, change), False),
        Message("alerts", topics.alert(tr.battery, tr.alert), alert_payload(tr, change, since), True),
    ]
    text = notify_text(tr, change, label)
    if text is not None:
        out.append(Message("notify", topics.notify, text.encode(), False))
    return out


def replace_answer_message(topics: Topics, answer: Mapping[str, Any], t: float) -> Message:
    """The retained answer to a replacement command: recorded, already recorded or refused (why)."""
    body = envelope(topics.vehicle, t)
    body.update(answer)
    return Message("alerts", topics.replaced, dumps(body), True)


def replaced_messages(topics: Topics, t: float, battery: str, fitted: float, note: str, *,
                      label: str) -> list[Message]:
    """A replacement the analysis applied at data time ``t``: an event (the fleet collector
    marks it in InfluxDB) and a phone sentence."""
    body = envelope(topics.vehicle, t)
    day = iso_utc(fitted)[:10]
    body.update(type="replaced", battery=battery, fitted=day, fitted_t=fitted, note=note,
                event_id=hashlib.sha1(f"{topics.vehicle}|replaced|{battery}|{round(fitted * 1000)}".encode(),
                                      usedforsecurity=False).hexdigest()[:16])
    text = (f"{label}: {BATTERY_LABEL.get(battery, battery)} replaced on {day}. Its alerts are cleared "
            "and its age, trend and baselines start afresh.")
    return [Message("events", topics.events, dumps(body), False),
            Message("notify", topics.notify, text.encode(), False)]


def readings_message(topics: Topics, w: WindowStats) -> Message:
    return Message("readings", topics.readings, readings_payload(topics.vehicle, w), False)


def start_message(topics: Topics, ev: Start) -> Message:
    return Message("events", topics.events, start_payload(topics.vehicle, ev), False)


def rested_message(topics: Topics, ev: Rested) -> Message:
    return Message("events", topics.events, rested_payload(topics.vehicle, ev), False)


def state_message(topics: Topics, payload: bytes) -> Message:
    return Message("state", topics.state, payload, True)


# -- documentation examples ---------------------------------------------------------------------


def example_messages() -> dict[str, Message]:
    """One message of every kind from fixed inputs: docs/mqtt.md shows exactly these."""
    vehicle, model = "x1-f48-ab123", "BMW X1 F48"
    tp = Topics("battwatch", vehicle)
    label = vehicle_label(vehicle, model)
    t0 = 1_736_150_400.0  # 2025-01-06T08:00:00Z
    agg = WindowAggregator(60)
    for i in range(1, 61):  # 08:00:01 to 08:01:00: the window that ends at 08:01:00
        state = "parked" if i <= 40 else "cranking" if i <= 42 else "running"
        main = 12.58 if i <= 40 else 9.91 if i <= 42 else 14.21
        agg.add(Reading(t0 + i, main, main - 0.02, main + 0.02, 5.21, 5.2, 5.22, 3.5, 1.0, vehicle), state)
    window = agg.flush()
    assert window is not None
    raised = AlertTransition(
        t0 + 600, vehicle, "sos", "low_voltage", "warning", "raised", 4.86,
        "SOS backup battery rested at 4.86 V (1.22 V per cell), below the 4.90 V warning level for a "
        "4-cell NiMH pack: about 20 % charged. Plan a replacement of the SOS backup battery "
        "(typically $150-300) within weeks.",
    )
    cleared = AlertTransition(
        t0 + 86_400, vehicle, "sos", "low_voltage", "warning", "cleared", 5.08,
        "SOS backup battery rested at 5.08 V, back above 5.05 V. No action needed.",
    )
    summary = HealthSummary(t0 + 660, vehicle, {
        "vehicle": vehicle, "time": t0 + 660, "readings": 86_412, "state": "parked",
        "main": {"voltage": 12.58, "rested_voltage": 12.61, "rested_at": "2025-01-06T06:00:00.000+00:00",
                 "soc_pct": 86, "age_years": 2.81, "remaining_life_years": 2.19,
                 "remaining_life_basis": "age", "sensor_fault": False, "health": "good", "health_reason": None,
                 "alerts": []},
        "sos": {"voltage": 4.86, "rested_voltage": 4.86, "rested_at": "2025-01-06T08:10:00.000+00:00",
                "soc_pct": 20, "chemistry": "nimh", "cells": 4, "age_years": 5.6,
                "remaining_life_years": 0.3, "remaining_life_basis": "trend", "sensor_fault": False,
                "health": "attention", "health_reason": None,
                "alerts": [{"alert": "low_voltage", "severity": "warning",
                            "since": "2025-01-06T08:10:00.000+00:00", "value": 4.86,
                            "message": "SOS backup battery rested at 4.86 V ..."}]},
        "link": {"frames": 86_412, "lost_frames": 3, "bad_lines": 1, "connected": True},
    })
    latest = Reading(t0 + 660, 12.58, 12.56, 12.6, 4.86, 4.85, 4.87, 3.5, 60.0, vehicle)
    ha = discovery_messages(tp, model=model, sw_version="0.1.0", alert_kinds=[("sos", "low_voltage")])
    sentence = notify_text(raised, "raised", label)
    assert sentence is not None
    return {
        "status": Message("status", tp.status, b"online", True),
        "readings": readings_message(tp, window),
        "state": state_message(tp, state_payload(summary, latest=latest)),
        "alert-raised": transition_messages(tp, raised, "raised", label=label)[1],
        "alert-cleared": transition_messages(tp, cleared, "cleared", label=label, since=t0 + 600)[1],
        "event": transition_messages(tp, raised, "raised", label=label)[0],
        "notify": Message("notify", tp.notify, sentence.encode(), False),
        "ha-sensor": next(m for m in ha if m.topic.endswith("/sos_voltage/config")),
        "ha-binary-sensor": next(m for m in ha if "/binary_sensor/" in m.topic),
        "ha-health": next(m for m in ha if m.topic.endswith("/main_health/config")),
        "ha-button": next(m for m in ha if m.topic.endswith("/replaced_sos/config")),
        "replaced-answer": replace_answer_message(tp, {
            "received": "2025-03-25T16:02:11+00:00", "battery": "sos", "result": "recorded", "note": "dealer",
            "fitted": "2025-03-25", "fitted_t": 1_742_896_800.0, "notes": []}, 1_742_918_531.0),
        "replaced-event": replaced_messages(tp, 1_742_896_800.0, "sos", 1_742_896_800.0, "dealer", label=label)[0],
        "start-event": start_message(tp, Start(t0 + 41.0, vehicle, 9.91, 12.58, 12.58 - 9.91, 14.21, 3.5, 9.6, False,
                                               False, False, "ok")),
        "rested-event": rested_message(tp, Rested(t0 - 3600.0, vehicle, "sos", 5.214, 6.5 * 3600.0, 3.4)),
    }


def example_text(m: Message) -> str:
    """How docs/mqtt.md prints a payload: indented JSON, or the text as is."""
    try:
        return json.dumps(json.loads(m.payload), indent=2, ensure_ascii=False)
    except ValueError:
        return m.payload.decode()
