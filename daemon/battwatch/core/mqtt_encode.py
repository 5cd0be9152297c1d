"""MQTT topic layout and payloads: the one place their names and fields are defined (pure)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from battwatch.core.events import Rested, Start
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.model import Change as ModelChange
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

BATTERIES: tuple[str, str] = ("main", "sos")
BATTERY_LABEL = {"main": "12 V battery", "sos": "SOS backup battery"}

Stream = Literal["status", "state", "readings", "alerts", "events", "notify", "discovery"]
# MQTT's words for what a transition did (battwatch.core.model.Change, an easing "de-escalated")
Change = Literal["raised", "escalated", "refreshed", "de-escalated", "cleared"]

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
    if tr.refreshed:  # a reminder is its own event, not a copy of the raise it repeats
        key += "|refreshed"
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]


def mqtt_change(change: ModelChange) -> Change:
    """The word MQTT's ``change`` uses: docs/mqtt.md promised "de-escalated" for an easing."""
    return "de-escalated" if change == "eased" else change


def _alert_fields(tr: AlertTransition, car: str) -> dict[str, Any]:
    from battwatch.core.notification import notification

    return {
        "battery": tr.battery,
        "alert": tr.alert,
        "active": tr.state == "raised",
        "state": tr.state,
        "change": mqtt_change(tr.change),
        "severity": tr.severity,
        "previous_severity": tr.previous,
        "value": _r(tr.value, 4),
        "limit": _r(tr.limit, 4),
        "headline": tr.headline,
        "action": tr.action or None,
        "cost": tr.cost or None,
        "facts": tr.facts.as_dict(),
        "message": tr.message,
        "event_id": event_id(tr),
        "since": iso_utc(tr.raised_at),
        "notification": notification(tr, car).fields(),
    }


def alert_payload(tr: AlertTransition, car: str) -> bytes:
    """The retained current state of one alert (a cleared alert says so: active false), with
    the phone notification of its last transition: automations trigger on this retained topic."""
    body = envelope(tr.vehicle, tr.t)
    body.update(_alert_fields(tr, car))
    return dumps(body)


def inactive_alert_payload(vehicle: str, battery: str, alert: str, t: float) -> bytes:
    """The retained state of an alert that has never been raised: Home Assistant shows it off."""
    body = envelope(vehicle, t)
    body.update(battery=battery, alert=alert, active=False, state="inactive", change=None, severity=None,
                previous_severity=None, value=None, limit=None, headline=None, action=None, cost=None,
                facts={}, message=None, event_id=None, since=None, notification=None)
    return dumps(body)


def event_payload(tr: AlertTransition, car: str) -> bytes:
    body = envelope(tr.vehicle, tr.t)
    body.update(_alert_fields(tr, car))
    return dumps(body)


def notify_payload(tr: AlertTransition, car: str) -> bytes:
    """The push for the ``notify`` stream: title, short text, full text, tag, priority."""
    from battwatch.core.notification import notification

    body = envelope(tr.vehicle, tr.t)
    body.update(battery=tr.battery, alert=tr.alert, event_id=event_id(tr))
    body.update(notification(tr, car).fields())
    return dumps(body)


def vehicle_label(vehicle: str, model: str | None) -> str:
    """How a person names the car: 'BMW X1 F48 (x1-f48-ab123)' or just the id."""
    return f"{model} ({vehicle})" if model else vehicle




# -- the messages for each input ---------------------------------------------------------------


def transition_messages(topics: Topics, tr: AlertTransition, *, car: str) -> list[Message]:
    """Event, retained alert state and the phone notification, in that order: every change
    (an easing, an all-clear too) reaches the phone under the alert's own tag. A reminder
    (``refreshed``) changes nothing: it refreshes the retained state and the phone, and is no
    event (the fleet collector records transitions)."""
    out = [] if tr.refreshed else [Message("events", topics.events, event_payload(tr, car), False)]
    return out + [
        Message("alerts", topics.alert(tr.battery, tr.alert), alert_payload(tr, car), True),
        Message("notify", topics.notify, notify_payload(tr, car), False),
    ]


def inactive_alert_message(topics: Topics, battery: str, alert: str, t: float) -> Message:
    return Message("alerts", topics.alert(battery, alert), inactive_alert_payload(topics.vehicle, battery, alert, t),
                   True)


def replace_answer_message(topics: Topics, answer: Mapping[str, Any], t: float) -> Message:
    """The retained answer to a replacement command: recorded, already recorded or refused (why)."""
    body = envelope(topics.vehicle, t)
    body.update(answer)
    return Message("alerts", topics.replaced, dumps(body), True)


def replaced_messages(topics: Topics, t: float, battery: str, fitted: float, note: str, *,
                      car: str) -> list[Message]:
    """A replacement the analysis applied at data time ``t``: an event (the fleet collector
    marks it in InfluxDB) and a phone notification."""
    from battwatch.core.notification import replaced_notification

    body = envelope(topics.vehicle, t)
    day = iso_utc(fitted)[:10]
    eid = hashlib.sha1(f"{topics.vehicle}|replaced|{battery}|{round(fitted * 1000)}".encode(),
                       usedforsecurity=False).hexdigest()[:16]
    body.update(type="replaced", battery=battery, fitted=day, fitted_t=fitted, note=note, event_id=eid)
    push = envelope(topics.vehicle, t)
    push.update(battery=battery, alert=None, event_id=eid)
    push.update(replaced_notification(topics.vehicle, battery, day, car).fields())
    return [Message("events", topics.events, dumps(body), False),
            Message("notify", topics.notify, dumps(push), False)]


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
    from battwatch.core.analysis import briefs
    from battwatch.core.ha_discovery import discovery_messages
    from battwatch.core.notification import car_name
    vehicle, model = "x1-f48-ab123", "BMW X1 F48"
    tp = Topics("battwatch", vehicle)
    car = car_name(vehicle, model)
    t0 = 1_736_150_400.0  # 2025-01-06T08:00:00Z
    agg = WindowAggregator(60)
    for i in range(1, 61):  # 08:00:01 to 08:01:00: the window that ends at 08:01:00
        state = "parked" if i <= 40 else "cranking" if i <= 42 else "running"
        main = 12.58 if i <= 40 else 9.91 if i <= 42 else 14.21
        agg.add(Reading(t0 + i, main, main - 0.02, main + 0.02, 5.21, 5.2, 5.22, 3.5, 1.0, vehicle), state)
    window = agg.flush()
    assert window is not None
    ctx = {"v": 4.86, "raw": 4.82, "temp": 12.0, "ref": 20.0, "cells": 4, "chem": "nimh",
           "info": 5.0, "warn": 4.9, "crit": 4.7, "info_clear": 5.05, "warn_clear": 4.95, "crit_clear": 4.75,
           "clear": 5.05}
    words = briefs.sos_low_voltage(2, ctx)
    raised = AlertTransition(
        t0 + 600, vehicle, "sos", "low_voltage", "warning", "raised", 4.86,
        "SOS backup battery rested at 4.82 V at 12.0 °C, 4.86 V at 20 °C (1.22 V per cell), below the "
        "4.90 V warning level for a 4-cell NiMH pack. The pack is running down. Plan a replacement of "
        "the SOS backup battery (typically $150-300) before the car reports 'SOS Call System Failure'.",
        headline=words.headline, action=words.action, cost=words.cost, since=t0 + 600, limit=words.limit,
        facts=words.facts,
    )
    back = briefs.sos_low_voltage(0, {**ctx, "v": 5.08, "raw": 5.08})
    cleared = AlertTransition(
        t0 + 86_400, vehicle, "sos", "low_voltage", "warning", "cleared", 5.08,
        "SOS backup battery rested at 5.08 V at 12.0 °C (1.27 V per cell), back above 5.05 V for a "
        "4-cell NiMH pack.", "warning", headline=back.headline, action=back.action, since=t0 + 600,
        facts=back.facts,
    )
    from battwatch.core.healthsummary import from_json
    from battwatch.core.mqtt_state import state_payload

    summary = HealthSummary(t0 + 660, vehicle, from_json({
        "vehicle": vehicle, "time": t0 + 660, "readings": 86_412, "state": "parked",
        "main": {"voltage": 12.58, "rested_voltage": 12.61, "rested_at": "2025-01-06T06:00:00.000+00:00",
                 "soc_pct": 86, "age_years": 2.81, "remaining_life_years": 2.19,
                 "remaining_life_basis": "age", "sensor_fault": None, "health": "good", "health_reason": None,
                 "alerts": []},
        "sos": {"voltage": 4.86, "rested_voltage": 4.86, "rested_at": "2025-01-06T08:10:00.000+00:00",
                "soc_pct": 20, "chemistry": "nimh", "cells": 4, "age_years": 5.6,
                "remaining_life_years": 0.3, "remaining_life_basis": "trend", "sensor_fault": None,
                "health": "attention", "health_reason": None,
                "alerts": [{"alert": "low_voltage", "severity": "warning",
                            "since": "2025-01-06T08:10:00.000+00:00", "value": 4.86,
                            "message": "SOS backup battery rested at 4.86 V ..."}]},
        "link": {"frames": 86_412, "lost_frames": 3, "bad_lines": 1, "connected": True},
    }))
    latest = Reading(t0 + 660, 12.58, 12.56, 12.6, 4.86, 4.85, 4.87, 3.5, 60.0, vehicle)
    ha = discovery_messages(tp, model=model, sw_version="0.1.0", alert_kinds=[("sos", "low_voltage")])
    return {
        "status": Message("status", tp.status, b"online", True),
        "readings": readings_message(tp, window),
        "state": state_message(tp, state_payload(summary, latest=latest)),
        "alert-raised": transition_messages(tp, raised, car=car)[1],
        "alert-cleared": transition_messages(tp, cleared, car=car)[1],
        "alert-inactive": inactive_alert_message(tp, "main", "overvoltage", t0),
        "event": transition_messages(tp, raised, car=car)[0],
        "notify": transition_messages(tp, raised, car=car)[2],
        "notify-cleared": transition_messages(tp, cleared, car=car)[2],
        "ha-sensor": next(m for m in ha if m.topic.endswith("/sos_voltage/config")),
        "ha-binary-sensor": next(m for m in ha if "/binary_sensor/" in m.topic),
        "ha-health": next(m for m in ha if m.topic.endswith("/main_health/config")),
        "ha-button": next(m for m in ha if m.topic.endswith("/replaced_sos/config")),
        "replaced-answer": replace_answer_message(tp, {
            "received": "2025-03-25T16:02:11+00:00", "battery": "sos", "result": "recorded", "note": "dealer",
            "fitted": "2025-03-25", "fitted_t": 1_742_896_800.0, "notes": []}, 1_742_918_531.0),
        "replaced-event": replaced_messages(tp, 1_742_896_800.0, "sos", 1_742_896_800.0, "dealer", car=car)[0],
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
