"""InfluxDB schema and line-protocol encoding: readings, cranks, rests, health, alerts (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from battwatch.core.model import SEVERITY_RANK, AlertTransition, Reading, transition_words

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


@dataclass(frozen=True, slots=True)
class WindowAggregate:
    """Readings of one vehicle folded over an aligned window (the MQTT readings message too)."""

    t: float  # end of the window (Unix s), aligned to a multiple of span_s
    vehicle: str
    span_s: float
    n: int
    main_v: float | None = None
    main_min_v: float | None = None
    main_max_v: float | None = None
    sos_v: float | None = None
    sos_min_v: float | None = None
    sos_max_v: float | None = None
    temp_c: float | None = None
    state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": self.t, "vehicle": self.vehicle, "span_s": self.span_s, "n": self.n,
            "main_v": self.main_v, "main_min_v": self.main_min_v, "main_max_v": self.main_max_v,
            "sos_v": self.sos_v, "sos_min_v": self.sos_min_v, "sos_max_v": self.sos_max_v,
            "temp_c": self.temp_c, "state": self.state,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WindowAggregate:
        """Inverse of ``to_dict``; raises ValueError naming the bad key."""
        t = _f(d.get("t"))
        if t is None:
            raise ValueError("t: missing or not a number")
        vehicle = d.get("vehicle")
        if not isinstance(vehicle, str) or not vehicle:
            raise ValueError("vehicle: missing or not a string")
        state = d.get("state")
        n = d.get("n", 1)
        return cls(
            t=t, vehicle=vehicle, span_s=_f(d.get("span_s")) or 0.0,
            n=n if isinstance(n, int) and not isinstance(n, bool) else 1,
            main_v=_f(d.get("main_v")), main_min_v=_f(d.get("main_min_v")),
            main_max_v=_f(d.get("main_max_v")), sos_v=_f(d.get("sos_v")),
            sos_min_v=_f(d.get("sos_min_v")), sos_max_v=_f(d.get("sos_max_v")),
            temp_c=_f(d.get("temp_c")), state=state if isinstance(state, str) and state else None,
        )


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


class _Channel:
    __slots__ = ("wsum", "vsum", "lo", "hi")

    def __init__(self) -> None:
        self.wsum = 0.0
        self.vsum = 0.0
        self.lo: float | None = None
        self.hi: float | None = None

    def add(self, v: float | None, lo: float | None, hi: float | None, w: float) -> None:
        if v is None:
            return
        self.wsum += w
        self.vsum += v * w
        lo = v if lo is None else lo
        hi = v if hi is None else hi
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)

    def mean(self) -> float | None:
        return round(self.vsum / self.wsum, 4) if self.wsum > 0 else None


class WindowAggregator:
    """Folds Readings into windows aligned to multiples of ``span_s`` (clock-free).

    A reading belongs to the window whose end is the first multiple of ``span_s`` at or after
    its own end, and the aggregate is stamped with that end. The alignment is what makes a
    replay idempotent: the same readings always land on the same timestamps. Averages are
    weighted by each reading's ``window_s`` (1 when unknown); min/max keep the extremes.
    """

    def __init__(self, vehicle: str, span_s: float = 60.0) -> None:
        if span_s <= 0:
            raise ValueError("span_s must be positive")
        self.vehicle = vehicle
        self.span_s = span_s
        self._end: float | None = None
        self._main = _Channel()
        self._sos = _Channel()
        self._tsum = 0.0
        self._tn = 0
        self._n = 0
        self._state: str | None = None
        self._dirty = False

    def _bucket_end(self, t: float) -> float:
        # Round first so float noise (t = 120.00000001) doesn't push a reading a window late.
        return math.ceil(round(t / self.span_s, 6)) * self.span_s

    def add(self, r: Reading, state: str = "") -> list[WindowAggregate]:
        """Add a reading; returns the window it closed, if any."""
        out: list[WindowAggregate] = []
        end = self._bucket_end(r.t)
        if self._end is not None and end != self._end:
            if self._n:
                out.append(self._snapshot())
            self._reset()
        self._end = end
        w = r.window_s if r.window_s > 0 else 1.0
        self._main.add(r.main_v, r.main_min_v, r.main_max_v, w)
        self._sos.add(r.sos_v, r.sos_min_v, r.sos_max_v, w)
        if r.temp_c is not None:
            self._tsum += r.temp_c
            self._tn += 1
        self._n += 1
        if state:
            self._state = state
        self._dirty = True
        return out

    def partial(self) -> WindowAggregate | None:
        """The open window so far, if it changed since last asked (it stays open: a later,
        fuller version overwrites this one in InfluxDB because it has the same timestamp)."""
        if not self._dirty or not self._n:
            return None
        self._dirty = False
        return self._snapshot()

    def _snapshot(self) -> WindowAggregate:
        assert self._end is not None
        m, s = self._main, self._sos
        return WindowAggregate(
            t=self._end, vehicle=self.vehicle, span_s=self.span_s, n=self._n,
            main_v=m.mean(), main_min_v=m.lo, main_max_v=m.hi,
            sos_v=s.mean(), sos_min_v=s.lo, sos_max_v=s.hi,
            temp_c=round(self._tsum / self._tn, 2) if self._tn else None,
            state=self._state,
        )

    def _reset(self) -> None:
        self._main = _Channel()
        self._sos = _Channel()
        self._tsum = 0.0
        self._tn = 0
        self._n = 0
        self._state = None
        self._dirty = False


# --------------------------------------------------------------------------------------------
# Crank events


@dataclass(frozen=True, slots=True)
class CrankEvent:
    """An engine start seen on the 12 V channel."""

    t: float  # end of the reading that holds the minimum
    vehicle: str
    min_v: float
    pre_v: float | None  # the last calm reading before the crank
    recovery_v: float | None  # first calm reading at least RECOVERY_AFTER_S after the minimum
    temp_c: float | None


def crank_point(ev: CrankEvent, tags: Mapping[str, str]) -> Point | None:
    dip = None if ev.pre_v is None else round(ev.pre_v - ev.min_v, 4)
    return make_point(
        MEAS_CRANKS,
        {**tags, TAG_BATTERY: "main"},
        {F_MIN_V: ev.min_v, F_PRE_V: ev.pre_v, F_RECOVERY_V: ev.recovery_v, F_DIP_V: dip,
         F_TEMP_C: ev.temp_c},
        time_ns(ev.t),
    )


class CrankDetector:
    """Finds engine starts in the readings (clock-free; the analysis may also report them).

    A reading is part of a crank when the analysis says "cranking", or when its minimum lies
    at least ``drop_v`` below the reference (the larger of its own average and the last calm
    reading within ``pre_max_s``) and below ``crank_max_v``. The absolute bound keeps the
    swings of a smart alternator (12.5-14.8 V inside one window) from counting as starts.
    Crank readings closer together than ``recovery_after_s`` are one event (a retried start).
    """

    def __init__(
        self,
        vehicle: str,
        *,
        drop_v: float = 1.0,
        crank_max_v: float = 11.5,
        pre_max_s: float = 300.0,
        recovery_after_s: float = 10.0,
        recovery_max_s: float = 120.0,
    ) -> None:
        self.vehicle = vehicle
        self.drop_v = drop_v
        self.crank_max_v = crank_max_v
        self.pre_max_s = pre_max_s
        self.recovery_after_s = recovery_after_s
        self.recovery_max_s = recovery_max_s
        self._calm_v: float | None = None
        self._calm_t: float | None = None
        self._open: dict[str, Any] | None = None

    def is_crank(self, r: Reading, state: str = "") -> bool:
        if state == "cranking":
            return True
        if r.main_min_v is None:
            return False
        ref = r.main_v if r.main_v is not None else r.main_min_v
        if self._calm_v is not None and self._calm_t is not None and r.t - self._calm_t <= self.pre_max_s:
            ref = max(ref, self._calm_v)
        return ref - r.main_min_v >= self.drop_v and r.main_min_v < self.crank_max_v

    def add(self, r: Reading, state: str = "") -> list[CrankEvent]:
        out: list[CrankEvent] = []
        ep = self._open
        if ep is not None and r.t - ep["min_t"] > self.recovery_max_s:
            out.append(self._close(None))  # no reading soon enough to judge the recovery
            ep = None
        crank = r.main_v is not None and self.is_crank(r, state)
        if crank:
            assert r.main_min_v is not None
            if ep is None:
                recent = self._calm_t is not None and r.t - self._calm_t <= self.pre_max_s
                self._open = ep = {
                    "pre_v": self._calm_v if recent else None,
                    "min_v": r.main_min_v, "min_t": r.t, "temp_c": r.temp_c,
                }
            elif r.main_min_v < ep["min_v"]:
                ep.update(min_v=r.main_min_v, min_t=r.t, temp_c=r.temp_c)
            return out
        if r.main_v is None:
            return out
        if ep is not None:
            if r.t - ep["min_t"] < self.recovery_after_s:
                return out  # still settling: neither calm reference nor recovery yet
            out.append(self._close(r.main_v))
        self._calm_v, self._calm_t = r.main_v, r.t
        return out

    def close(self) -> list[CrankEvent]:
        """The open event, if any, without its recovery (a later replay fills it in)."""
        return [self._close(None)] if self._open is not None else []

    def _close(self, recovery_v: float | None) -> CrankEvent:
        ep = self._open
        assert ep is not None
        self._open = None
        return CrankEvent(ep["min_t"], self.vehicle, ep["min_v"], ep["pre_v"], recovery_v, ep["temp_c"])


# --------------------------------------------------------------------------------------------
# Rested readings

REST_STATES = frozenset({"asleep", "parked", "sleeping", "off", "rest", "resting"})


@dataclass(frozen=True, slots=True)
class RestedReading:
    """A battery's open-circuit voltage after the vehicle slept at least the rest time."""

    t: float
    vehicle: str
    battery: str
    v: float
    rest_s: float
    temp_c: float | None


def rested_point(rr: RestedReading, tags: Mapping[str, str]) -> Point | None:
    return make_point(
        MEAS_RESTED,
        {**tags, TAG_BATTERY: rr.battery},
        {F_V: rr.v, F_REST_H: round(rr.rest_s / 3600.0, 3), F_TEMP_C: rr.temp_c},
        time_ns(rr.t),
    )


class RestDetector:
    """Picks rested readings: one per battery per ``every_s`` once the vehicle has been quiet
    for the battery's rest time (clock-free).

    Activity is any state the analysis does not call asleep/parked, or, whatever the state,
    electrical evidence: charging (``main_max_v >= charge_v``), a crank, or load swings
    (``main_max_v - main_min_v >= swing_v``; a sleeping battery moves by millivolts). Without
    an analysis (state "") only the electrical evidence counts. The first reading after a start counts as activity, since
    nobody knows how long the vehicle slept before.
    """

    def __init__(
        self,
        vehicle: str,
        *,
        main_rest_s: float = 4 * 3600.0,
        sos_rest_s: float = 2 * 3600.0,
        every_s: float = 3600.0,
        charge_v: float = 13.2,
        swing_v: float = 0.05,
    ) -> None:
        self.vehicle = vehicle
        self.rest_s = {"main": main_rest_s, "sos": sos_rest_s}
        self.every_s = every_s
        self.charge_v = charge_v
        self.swing_v = swing_v
        self._active_t: float | None = None
        self._last_slot: dict[str, int] = {}

    def is_active(self, r: Reading, state: str = "") -> bool:
        if state and state not in REST_STATES:
            return True
        if r.main_max_v is not None and r.main_max_v >= self.charge_v:
            return True
        return (
            r.main_max_v is not None and r.main_min_v is not None
            and r.main_max_v - r.main_min_v >= self.swing_v
        )

    def add(self, r: Reading, state: str = "", *, crank: bool = False) -> list[RestedReading]:
        if self._active_t is None or crank or self.is_active(r, state):
            self._active_t = r.t
            return []
        start = r.t - max(r.window_s, 0.0)  # the whole window must be rested
        rest = start - self._active_t
        slot = int(r.t // self.every_s)
        out: list[RestedReading] = []
        for battery, v in (("main", r.main_v), ("sos", r.sos_v)):
            if v is None or rest < self.rest_s[battery] or self._last_slot.get(battery) == slot:
                continue
            self._last_slot[battery] = slot
            out.append(RestedReading(r.t, self.vehicle, battery, v, rest, r.temp_c))
        return out


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
    """Readings in, points out: window aggregates, crank events and rested readings (clock-free)."""

    def __init__(
        self,
        vehicle: str,
        tags: Mapping[str, str],
        *,
        span_s: float = 60.0,
        crank_drop_v: float = 1.0,
    ) -> None:
        self.vehicle = vehicle
        self.tags = dict(tags)
        self.windows = WindowAggregator(vehicle, span_s)
        self.cranks = CrankDetector(vehicle, drop_v=crank_drop_v)
        self.rests = RestDetector(vehicle)
        self.latest = Latest()

    def reading(self, r: Reading, state: str = "") -> list[Point]:
        points: list[Point | None] = []
        for agg in self.windows.add(r, state):
            points += window_points(agg, self.tags)
        crank = r.main_v is not None and self.cranks.is_crank(r, state)
        for ev in self.cranks.add(r, state):
            self.latest.crank_min_v = ev.min_v
            points.append(crank_point(ev, self.tags))
        for rr in self.rests.add(r, state, crank=crank):
            self.latest.rest_v[rr.battery] = rr.v
            points.append(rested_point(rr, self.tags))
        if r.main_v is not None:
            self.latest.voltage_v["main"] = r.main_v
        if r.sos_v is not None:
            self.latest.voltage_v["sos"] = r.sos_v
        return [p for p in points if p is not None]

    def flush(self) -> list[Point]:
        """The open window so far (later overwritten by its complete version)."""
        agg = self.windows.partial()
        return window_points(agg, self.tags) if agg is not None else []

    def close(self) -> list[Point]:
        points = self.flush()
        points += [p for ev in self.cranks.close() if (p := crank_point(ev, self.tags)) is not None]
        return points
