"""InfluxDB schema and line-protocol encoding: readings, cranks, rests, health, alerts (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from battwatch.core.events import Rested, Start
from battwatch.core.model import SEVERITY_RANK, AlertTransition, Reading, transition_words
from battwatch.core.windows import WindowAggregate, WindowAggregator

# --------------------------------------------------------------------------------------------
# The schema: every measurement, tag and field name lives here and nowhere else (docs/influx.md).

MEAS_READINGS = "readings"  # window aggregates, one point per battery per window
MEAS_CRANKS = "cranks"  # one point per engine start
MEAS_RESTED = "rested"  # open-circuit readings after the vehicle slept long enough
MEAS_HEALTH = "health"  # per-battery health summary
MEAS_FLEET = "fleet"  # one row per vehicle for the fleet overview (both batteries flattened)
MEAS_ALERTS = "alerts"  # alert transitions
MEAS_PROJECTION = "projection"  # the SOS rested-voltage trend carried into the future
MEAS_REPLACED = "replacements"  # a battery replaced (battwatch replaced): Grafana annotations

MEASUREMENTS = (
    MEAS_READINGS, MEAS_CRANKS, MEAS_RESTED, MEAS_HEALTH, MEAS_FLEET, MEAS_ALERTS, MEAS_PROJECTION,
    MEAS_REPLACED,
)

TAG_VEHICLE = "vehicle"
TAG_BATTERY = "battery"
TAG_ALERT = "alert"
FLEET_TAG_KEYS = ("model", "site", "owner_group")  # from [vehicle]
RESERVED_TAGS = frozenset({TAG_VEHICLE, TAG_BATTERY, TAG_ALERT})
BATTERIES = ("main", "sos")

# readings
F_V = "v"
F_MIN_V = "min_v"
F_MAX_V = "max_v"
F_TEMP_C = "temp_c"
F_N = "n"
F_STATE = "state"
# cranks
F_PRE_V = "pre_v"
F_RECOVERY_V = "recovery_v"
F_DIP_V = "dip_v"
F_LIMIT_V = "limit_v"  # the load-test limit at the start's temperature
F_VERDICT = "verdict"  # ok, below, critical, low charge
F_FAILED = "failed"
F_RESTART = "restart"
F_LOW_CHARGE = "low_charge"
# rested
F_REST_H = "rest_h"
# health (per battery; the fleet row carries them as <battery>_<field>)
F_VOLTAGE_V = "voltage_v"
F_REST_V = "rest_v"
F_SOC_PCT = "soc_pct"
F_AGE_YEARS = "age_years"
F_LIFE_MIN_YEARS = "life_min_years"
F_LIFE_MAX_YEARS = "life_max_years"
F_REMAINING_LIFE_YEARS = "remaining_life_years"
F_REMAINING_LIFE_BASIS = "remaining_life_basis"
F_LAST_CRANK_MIN_V = "last_crank_min_v"
F_TREND_V_PER_YEAR = "trend_v_per_year"
F_EOL_MS = "eol_ms"
F_ACTIVE_ALERTS = "active_alerts"
F_WORST_SEVERITY = "worst_severity"
F_HEALTH = "health"  # the analysis' verdict: good, attention, action needed, unknown
F_HEALTH_REASON = "health_reason"  # with unknown: what evidence is missing
# fleet (vehicle level)
F_URGENCY = "urgency"
F_LAST_SEEN_MS = "last_seen_ms"
# alerts
F_SEVERITY = "severity"
F_SEVERITY_RANK = "severity_rank"
F_ALERT_STATE = "state"
F_ACTIVE = "active"
F_VALUE = "value"
F_MESSAGE = "message"
# replacements
F_TEXT = "text"
F_FITTED = "fitted"
F_NOTE = "note"

YEAR_S = 365.25 * 86400.0
DAY_S = 86400.0

FieldValue = float | int | bool | str


# --------------------------------------------------------------------------------------------
# Points and line protocol


def _escape_key(text: str) -> str:
    # Tag keys, tag values and field keys: InfluxDB 1.x keeps "\\" literally in tags while 2.x
    # and VictoriaMetrics unescape it, and a trailing backslash breaks 1.x's parser, so
    # backslashes are replaced instead of escaped. Newlines cannot be escaped at all.
    text = text.replace("\\", "/").replace("\n", " ").replace("\r", " ")
    return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_measurement(text: str) -> str:
    text = text.replace("\\", "/").replace("\n", " ").replace("\r", " ")
    return text.replace(",", "\\,").replace(" ", "\\ ")


def _escape_string(text: str) -> str:
    # Newlines become spaces: a raw newline in a string field is not portable across servers.
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return _escape_string(value)


@dataclass(frozen=True, slots=True)
class Point:
    """One InfluxDB point; ``time_ns`` is an integer of nanoseconds since the epoch."""

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, FieldValue], ...]
    time_ns: int

    def to_line(self) -> str:
        parts = [_escape_measurement(self.measurement)]
        for key, value in self.tags:
            parts.append(f"{_escape_key(key)}={_escape_key(value)}")
        head = ",".join(parts)
        body = ",".join(f"{_escape_key(k)}={_format_value(v)}" for k, v in self.fields)
        return f"{head} {body} {self.time_ns}"

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)

    def field(self, key: str) -> FieldValue | None:
        return dict(self.fields).get(key)


def _clean_tag(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None  # InfluxDB rejects empty tag values


def make_point(
    measurement: str,
    tags: Mapping[str, object],
    fields: Mapping[str, object],
    time_ns: int,
) -> Point | None:
    """A point with empty tags and unusable fields (None, NaN, inf) left out; None if no field is left."""
    clean_tags = sorted((k, v) for k, raw in tags.items() if (v := _clean_tag(raw)) is not None)
    clean_fields: list[tuple[str, FieldValue]] = []
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        if not isinstance(value, bool | int | float | str):
            continue
        clean_fields.append((key, value))
    if not clean_fields:
        return None
    return Point(measurement, tuple(clean_tags), tuple(clean_fields), time_ns)


def to_lines(points: Iterable[Point | None]) -> list[str]:
    return [p.to_line() for p in points if p is not None]


def time_ns(t: float, offset_ns: int = 0) -> int:
    """Unix seconds to nanoseconds, rounded to the millisecond: the same data, the same stamp."""
    return int(round(t * 1000.0)) * 1_000_000 + offset_ns


def fleet_tags(
    vehicle: str,
    *,
    model: str | None = None,
    site: str | None = None,
    owner_group: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The tags on every point of one vehicle: its id, its fleet tags and ``[influx] tags``.

    The built-in tag names win over ``extra`` (a user tag named ``vehicle`` is ignored).
    """
    tags: dict[str, str] = {}
    for key, value in (extra or {}).items():
        if key not in RESERVED_TAGS and (v := _clean_tag(value)) is not None:
            tags[key] = v
    for key, fleet_value in zip(FLEET_TAG_KEYS, (model, site, owner_group), strict=True):
        if (clean := _clean_tag(fleet_value)) is not None:
            tags[key] = clean
    tags[TAG_VEHICLE] = vehicle
    return tags


def _f(value: Any) -> float | None:
    """A finite float, or None (bad or missing data never becomes a field)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


# --------------------------------------------------------------------------------------------
# Window aggregates


def window_points(agg: WindowAggregate, tags: Mapping[str, str]) -> list[Point]:
    """One ``readings`` point per battery that has data in the window."""
    out: list[Point] = []
    ts = time_ns(agg.t)
    for battery, v, lo, hi in (
        ("main", agg.main_v, agg.main_min_v, agg.main_max_v),
        ("sos", agg.sos_v, agg.sos_min_v, agg.sos_max_v),
    ):
        if v is None:
            continue
        p = make_point(
            MEAS_READINGS,
            {**tags, TAG_BATTERY: battery},
            {F_V: v, F_MIN_V: lo, F_MAX_V: hi, F_TEMP_C: agg.temp_c, F_N: agg.n, F_STATE: agg.state},
            ts,
        )
        if p is not None:
            out.append(p)
    return out


# --------------------------------------------------------------------------------------------
# Starts and rested readings, as the analysis found them (core/events.py)


def crank_point(ev: Start, tags: Mapping[str, str]) -> Point | None:
    """One ``cranks`` point per engine start, with the analysis' verdict on it."""
    return make_point(
        MEAS_CRANKS,
        {**tags, TAG_BATTERY: "main"},
        {F_MIN_V: ev.min_v, F_PRE_V: ev.pre_v, F_DIP_V: None if ev.dip_v is None else round(ev.dip_v, 4),
         F_RECOVERY_V: ev.recovery_v, F_TEMP_C: ev.temp_c, F_LIMIT_V: round(ev.limit_v, 4), F_VERDICT: ev.verdict, F_FAILED: ev.failed,
         F_RESTART: ev.restart, F_LOW_CHARGE: ev.low_charge},
        time_ns(ev.t),
    )


def rested_point(ev: Rested, tags: Mapping[str, str]) -> Point | None:
    """One ``rested`` point per battery per hour the car rested."""
    return make_point(
        MEAS_RESTED,
        {**tags, TAG_BATTERY: ev.battery},
        {F_V: ev.v, F_REST_H: round(ev.rest_s / 3600.0, 3), F_TEMP_C: ev.temp_c},
        time_ns(ev.t),
    )


# --------------------------------------------------------------------------------------------
# Alert transitions


def alert_time_ns(tr: AlertTransition) -> int:
    """The millisecond of the transition plus a nanosecond offset taken from its content.

    Two transitions of one alert in the same millisecond (an escalation right after a
    raise) then stay two points, and a replayed transition lands on its old timestamp.
    Raised sorts after cleared within one millisecond, so ``last(active)`` reads "active".
    """
    rank = SEVERITY_RANK.get(tr.severity, 0)
    return time_ns(tr.t, (4 if tr.state == "raised" else 0) + rank)


def alert_point(tr: AlertTransition, tags: Mapping[str, str]) -> Point | None:
    return make_point(
        MEAS_ALERTS,
        {**tags, TAG_VEHICLE: tr.vehicle, TAG_BATTERY: tr.battery, TAG_ALERT: tr.alert},
        {
            F_SEVERITY: tr.severity,
            F_SEVERITY_RANK: SEVERITY_RANK.get(tr.severity, 0),
            F_ALERT_STATE: tr.state,
            F_ACTIVE: 1 if tr.state == "raised" else 0,
            F_VALUE: _f(tr.value),
            F_MESSAGE: tr.message,
        },
        alert_time_ns(tr),
    )


def replaced_point(vehicle: str, t: float, battery: str, fitted: str, note: str,
                   tags: Mapping[str, str]) -> Point | None:
    """A battery replaced at data time ``t`` (fitted on the day ``fitted``): the dashboards'
    annotation reads ``text``."""
    label = {"main": "12 V battery", "sos": "SOS backup battery"}.get(battery, battery)
    return make_point(
        MEAS_REPLACED,
        {**tags, TAG_VEHICLE: vehicle, TAG_BATTERY: battery},
        {F_TEXT: f"{label} replaced on {fitted}" + (f" ({note})" if note else ""), F_FITTED: fitted,
         F_NOTE: note},
        time_ns(t),
    )


def replaced_from_dict(d: Mapping[str, Any]) -> tuple[float, str, str, str]:
    """(t, battery, fitted date, note) of a ``replaced`` event (docs/mqtt.md); ValueError names the key."""
    t = d.get("t")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ValueError("t: missing or not a number")
    battery, fitted, note = d.get("battery"), d.get("fitted"), d.get("note", "")
    if battery not in BATTERIES:
        raise ValueError(f"battery: {battery!r} is not one of {', '.join(BATTERIES)}")
    if not isinstance(fitted, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", fitted):
        raise ValueError("fitted: expected a date (YYYY-MM-DD)")
    if not isinstance(note, str):
        raise ValueError("note: expected a string")
    return float(t), battery, fitted, note


def transition_from_dict(d: Mapping[str, Any]) -> AlertTransition:
    """Parse the JSONL/MQTT form (``AlertTransition.to_json_dict``); ValueError names the bad key."""
    raw_time = d.get("time", d.get("t"))
    if isinstance(raw_time, int | float) and not isinstance(raw_time, bool):
        t = float(raw_time)
    elif isinstance(raw_time, str):
        try:
            t = datetime.fromisoformat(raw_time.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise ValueError(f"time: not an ISO 8601 time: {raw_time!r}") from None
    else:
        raise ValueError("time: missing")
    values: dict[str, str] = {}
    for key, allowed in (
        ("vehicle", None), ("battery", ("main", "sos")), ("alert", None),
        ("severity", tuple(SEVERITY_RANK)), ("state", ("raised", "cleared")),
    ):
        v = d.get(key)
        if not isinstance(v, str) or not v or (allowed is not None and v not in allowed):
            raise ValueError(f"{key}: missing or invalid: {v!r}")
        values[key] = v
    message = d.get("message")
    previous = d.get("previous_severity")  # absent in logs written before it existed
    return AlertTransition(
        t=t, vehicle=values["vehicle"], battery=values["battery"],  # type: ignore[arg-type]
        alert=values["alert"], severity=values["severity"],  # type: ignore[arg-type]
        state=values["state"], value=_f(d.get("value")),  # type: ignore[arg-type]
        message=message if isinstance(message, str) else "",
        previous=previous if previous in SEVERITY_RANK else None,
        **transition_words(d),
    )


# --------------------------------------------------------------------------------------------
# Times in payloads (health, projection: battwatch.core.influx_health)


def iso_to_t(value: Any) -> float | None:
    """Unix seconds of an ISO date or time string (UTC when no zone is given)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


# --------------------------------------------------------------------------------------------
# The reading side as one object: what the daemon's sink feeds


@dataclass(slots=True)
class Latest:
    """What the reading side last saw, to fill gaps in a summary that lacks them."""

    rest_v: dict[str, float] = field(default_factory=dict)
    voltage_v: dict[str, float] = field(default_factory=dict)
    crank_min_v: float | None = None


class ReadingEncoder:
    """Readings in, window points out (clock-free); the latest voltages for the health points."""

    def __init__(self, vehicle: str, tags: Mapping[str, str], *, span_s: float = 60.0) -> None:
        self.vehicle = vehicle
        self.tags = dict(tags)
        self.windows = WindowAggregator(span_s)
        self.latest = Latest()

    def reading(self, r: Reading, state: str = "") -> list[Point]:
        closed = self.windows.add(r, state)
        if r.main_v is not None:
            self.latest.voltage_v["main"] = r.main_v
        if r.sos_v is not None:
            self.latest.voltage_v["sos"] = r.sos_v
        return [] if closed is None else window_points(closed.aggregate(self.vehicle), self.tags)

    def started(self, ev: Start) -> list[Point]:
        self.latest.crank_min_v = ev.min_v
        p = crank_point(ev, self.tags)
        return [] if p is None else [p]

    def rested(self, ev: Rested) -> list[Point]:
        self.latest.rest_v[ev.battery] = ev.v
        p = rested_point(ev, self.tags)
        return [] if p is None else [p]

    def flush(self) -> list[Point]:
        """The open window so far (later overwritten by its complete version)."""
        w = self.windows.partial()
        return window_points(w.aggregate(self.vehicle), self.tags) if w is not None else []

    def close(self) -> list[Point]:
        return self.flush()
