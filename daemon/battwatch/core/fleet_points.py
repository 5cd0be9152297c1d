"""A fleet's MQTT messages as InfluxDB points: topics, payload checks, the translation (pure)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from battwatch.core import influx_encode as enc
from battwatch.core import mqtt_encode as mqtt_enc
from battwatch.core.healthsummary import (
    BatterySummary,
    SummaryError,
    VehicleSummary,
    battery_from_json,
    version_of,
)
from battwatch.core.influx_health import health_points, projection_points
from battwatch.core.mqtt_encode import SCHEMA_VERSION

# The streams a collector needs. `alerts/<battery>/<alert>` repeats what `events` carries (and
# a shared subscription gets no retained messages anyway); `status` and `notify` hold no data.
Kind = Literal["readings", "state", "events"]
KINDS: tuple[Kind, ...] = ("readings", "state", "events")


class BadPayload(ValueError):
    """A message that cannot become points; the text says what is wrong with it."""


def subscriptions(prefix: str, group: str, vehicles: Sequence[str] | None) -> list[str]:
    """The shared-subscription filters: every vehicle, or only the listed ones."""
    # a vehicle id is topic-safe as it is ([vehicle] id's pattern), and the car publishes under
    # exactly that id: x1.f48 stays x1.f48
    levels = ["+"] if vehicles is None else list(vehicles)
    return [f"$share/{group}/{prefix}/{v}/{kind}" for v in levels for kind in KINDS]


def parse_topic(prefix: str, topic: str) -> tuple[str, Kind] | None:
    """``<prefix>/<vehicle>/<kind>`` -> (vehicle, kind); None for any other topic."""
    head = prefix + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head):].split("/")
    if len(parts) != 2 or not parts[0]:
        return None
    vehicle, kind = parts
    for k in KINDS:
        if kind == k:
            return vehicle, k
    return None


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _section(body: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BadPayload(f"{key}: not an object")
    return value


def decode(payload: bytes, vehicle: str) -> dict[str, Any]:
    """The JSON object of a message, checked against the envelope every payload starts with."""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as e:
        raise BadPayload(f"not JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadPayload("not a JSON object")
    schema = body.get("schema")
    if schema != SCHEMA_VERSION:
        # a newer car may mean something else by the same field names: refuse, don't guess
        raise BadPayload(f"schema {schema!r}, this collector reads schema {SCHEMA_VERSION}")
    if body.get("vehicle") != vehicle:
        # the topic is what the broker's ACL vouches for
        raise BadPayload(f"vehicle {body.get('vehicle')!r} in a message on vehicle {vehicle!r}'s topic")
    return body


def window_aggregate(body: Mapping[str, Any], vehicle: str) -> enc.WindowAggregate:
    """A readings message as the aggregate the InfluxDB schema writes (stamped at the window end)."""
    window = _section(body, "window")
    if window is None:
        raise BadPayload("window: missing")
    end_t = _num(window.get("end_t"))
    if end_t is None:
        raise BadPayload("window.end_t: missing or not a number")
    flat: dict[str, Any] = {
        "t": end_t, "vehicle": vehicle, "span_s": _num(window.get("interval_s")),
        "n": body.get("samples"), "state": body.get("state"),
    }
    for name, unit, out in (("main", "_v", "main"), ("sos", "_v", "sos"), ("temp", "_c", "temp")):
        sec = _section(body, name)
        if sec is None:
            continue
        if out == "temp":
            flat["temp_c"] = _num(sec.get(f"mean{unit}"))
        else:
            flat[f"{out}_v"] = _num(sec.get(f"mean{unit}"))
            flat[f"{out}_min_v"] = _num(sec.get(f"min{unit}"))
            flat[f"{out}_max_v"] = _num(sec.get(f"max{unit}"))
    try:
        return enc.WindowAggregate.from_dict(flat)
    except ValueError as e:
        raise BadPayload(str(e)) from None


def health_summary(body: Mapping[str, Any], vehicle: str, t: float) -> VehicleSummary:
    """A state message as the typed summary the car's own sinks format: each battery from its
    ``detail`` (the summary's JSON section) and its ``alerts``; BadPayload says where it is bad."""
    try:
        version_of({"version": body.get("summary_version", 1)}, "state")
        batteries: dict[str, BatterySummary] = {}
        for battery in enc.BATTERIES:
            sec = _section(body, battery)
            detail = None if sec is None else sec.get("detail")
            if sec is None or detail is None:
                continue  # a car without an analysis: no health to write
            if not isinstance(detail, Mapping):
                raise BadPayload(f"{battery}.detail: expected an object")
            batteries[battery] = battery_from_json({**detail, "alerts": sec.get("alerts") or []}, battery,
                                                   f"{battery}.detail")
    except SummaryError as e:
        raise BadPayload(str(e)) from None
    state = body.get("state")
    return VehicleSummary(vehicle, t, state=state if isinstance(state, str) else None,
                          main=batteries.get("main"), sos=batteries.get("sos"))


@dataclass(slots=True)
class _Memo:
    """What one collector remembers of one vehicle, only to keep slow measurements sparse."""

    health_slot: int | None = None
    alerts: tuple[tuple[str, str, str], ...] | None = None
    projection_day: int | None = None


def _alert_key(summary: VehicleSummary) -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted((b.battery, a.alert, a.severity) for b in summary.batteries() for a in b.alerts))


class Translator:
    """MQTT messages in, InfluxDB points out (clock-free).

    Every point is a function of one message alone (its data time, the vehicle from the topic,
    the fleet tags), so whichever collector writes it, and however often, it lands on the same
    series and timestamp with the same fields. The per-vehicle memory only decides whether the
    slow measurements (health, projection) are worth writing again; losing it
    (a restart, another collector) means a few more writes, never different points.
    """

    def __init__(
        self,
        *,
        extra_tags: Mapping[str, str] | None = None,
        fleet: Mapping[str, Mapping[str, str]] | None = None,
        health_every_s: float = 300.0,
    ) -> None:
        self.extra_tags = dict(extra_tags or {})
        self.fleet = {k: dict(v) for k, v in (fleet or {}).items()}
        self.health_every_s = health_every_s
        self._tags: dict[str, dict[str, str]] = {}
        self._memo: dict[str, _Memo] = {}

    def tags(self, vehicle: str) -> dict[str, str]:
        tags = self._tags.get(vehicle)
        if tags is None:
            f = self.fleet.get(vehicle, {})
            tags = self._tags[vehicle] = enc.fleet_tags(
                vehicle, model=f.get("model"), site=f.get("site"), owner_group=f.get("owner_group"),
                extra=self.extra_tags,
            )
        return tags

    def points(self, kind: Kind, vehicle: str, body: Mapping[str, Any]) -> list[enc.Point]:
        """Raises BadPayload naming the problem."""
        tags = self.tags(vehicle)
        if kind == "readings":
            return enc.window_points(window_aggregate(body, vehicle), tags)
        if kind == "events" and body.get("type") in ("start", "rested"):
            try:
                if body.get("type") == "start":
                    point = enc.crank_point(mqtt_enc.start_from_dict(body, vehicle), tags)
                else:
                    point = enc.rested_point(mqtt_enc.rested_from_dict(body, vehicle), tags)
            except ValueError as e:
                raise BadPayload(str(e)) from None
            return [] if point is None else [point]
        if kind == "events" and body.get("type") == "replaced":
            try:
                t, battery, fitted, note = enc.replaced_from_dict(body)
            except ValueError as e:
                raise BadPayload(str(e)) from None
            rp = enc.replaced_point(vehicle, t, battery, fitted, note, tags)
            return [] if rp is None else [rp]
        if kind == "events":
            try:
                tr = enc.transition_from_dict(body)
            except ValueError as e:
                raise BadPayload(str(e)) from None
            p = enc.alert_point(tr, tags)
            return [] if p is None else [p]
        return self._state(body, vehicle, tags)

    def _state(self, body: Mapping[str, Any], vehicle: str, tags: Mapping[str, str]) -> list[enc.Point]:
        t = _num(body.get("t"))
        if t is None:
            t = enc.iso_to_t(body.get("time"))
        if t is None:
            raise BadPayload("t: missing or not a number")
        summary = health_summary(body, vehicle, t)
        memo = self._memo.get(vehicle)
        if memo is None:
            memo = self._memo[vehicle] = _Memo()
        points: list[enc.Point] = []
        alerts = _alert_key(summary)
        slot = int(t // self.health_every_s) if self.health_every_s > 0 else None
        if slot is None or slot != memo.health_slot or alerts != memo.alerts:
            memo.health_slot, memo.alerts = slot, alerts
            points += health_points(summary, tags)
        day = int(t // enc.DAY_S)
        if day != memo.projection_day:  # the trend moves slowly: once a day, like the car's sink
            projection = projection_points(summary, tags)
            if projection:
                memo.projection_day = day
                points += projection
        return points
