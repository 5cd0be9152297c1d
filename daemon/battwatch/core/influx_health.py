"""InfluxDB health, fleet and projection points, formatted from the typed health summary (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from battwatch.core.healthsummary import BatterySummary, VehicleSummary
from battwatch.core.influx_encode import (
    DAY_S,
    F_ACTIVE_ALERTS,
    F_AGE_YEARS,
    F_EOL_MS,
    F_HEALTH,
    F_HEALTH_REASON,
    F_LAST_CRANK_MIN_V,
    F_LAST_SEEN_MS,
    F_LIFE_MAX_YEARS,
    F_LIFE_MIN_YEARS,
    F_REMAINING_LIFE_BASIS,
    F_REMAINING_LIFE_YEARS,
    F_REST_V,
    F_SOC_PCT,
    F_TREND_V_PER_YEAR,
    F_URGENCY,
    F_V,
    F_VOLTAGE_V,
    F_WORST_SEVERITY,
    MEAS_FLEET,
    MEAS_HEALTH,
    MEAS_PROJECTION,
    TAG_BATTERY,
    TAG_VEHICLE,
    YEAR_S,
    Point,
    make_point,
    time_ns,
)
from battwatch.core.model import SEVERITY_RANK

PROJECTION_STEP_S = 30 * DAY_S  # a fixed grid, so each new projection overwrites the last one
PROJECTION_MAX_S = 10 * YEAR_S


def _date_end_t(day: str | None) -> float | None:
    """Unix seconds of the start of a projected date (YYYY-MM-DD, UTC)."""
    if day is None:
        return None
    d = date.fromisoformat(day[:10])
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def health_fields(b: BatterySummary) -> dict[str, Any]:
    """The health fields of one battery; an unknown value is absent, never 0 or made up.

    A faulted channel's voltage and charge are left out and its rested voltage is the last one
    known good, as in the MQTT state."""
    good = b.good_rested()
    tr = b.trend
    out: dict[str, Any] = {
        F_VOLTAGE_V: b.trusted_voltage(),
        F_REST_V: None if good is None else good.voltage,
        F_SOC_PCT: None if b.trusted_soc() is None else float(b.trusted_soc() or 0),
        F_AGE_YEARS: b.age_years,
        F_REMAINING_LIFE_YEARS: b.remaining.years,
        F_REMAINING_LIFE_BASIS: b.remaining.basis,
        F_LAST_CRANK_MIN_V: None if b.last_start is None else b.last_start.min_v,
        F_LIFE_MIN_YEARS: None if b.life_window is None else b.life_window[0],
        F_LIFE_MAX_YEARS: None if b.life_window is None else b.life_window[1],
        F_ACTIVE_ALERTS: len(b.alerts),
        F_WORST_SEVERITY: max((SEVERITY_RANK.get(a.severity, 0) for a in b.alerts), default=0),
        F_HEALTH: b.health.word,
        F_HEALTH_REASON: b.health.reason or "",  # "": none, so last() never shows a stale one
        F_TREND_V_PER_YEAR: None if tr.v_per_day is None else round(tr.v_per_day * 365.25, 5),
    }
    end = _date_end_t(tr.end_date)
    if end is not None:
        out[F_EOL_MS] = float(round(end * 1000.0))
    return out


def urgency(fields_by_battery: Mapping[str, Mapping[str, Any]]) -> float:
    """Sort key of the fleet table, worst first: 100 per severity step, plus up to 99 as the
    shortest remaining life (any battery) falls from 10 years to none."""
    worst = max((int(f.get(F_WORST_SEVERITY) or 0) for f in fields_by_battery.values()), default=0)
    lives = [float(v) for f in fields_by_battery.values() if (v := f.get(F_REMAINING_LIFE_YEARS)) is not None]
    life_term = min(99.0, max(0.0, 99.0 - 9.9 * min(lives))) if lives else 0.0
    return round(100.0 * worst + life_term, 2)


def health_points(summary: VehicleSummary, tags: Mapping[str, str]) -> list[Point]:
    """``health`` per battery plus the vehicle's ``fleet`` row, stamped with the summary time."""
    ts = time_ns(summary.t)
    vehicle = summary.vehicle
    by_battery = {b.battery: health_fields(b) for b in summary.batteries()}
    points: list[Point | None] = [
        make_point(MEAS_HEALTH, {**tags, TAG_VEHICLE: vehicle, TAG_BATTERY: b}, f, ts)
        for b, f in by_battery.items()
    ]
    flat: dict[str, Any] = {f"{b}_{k}": v for b, f in by_battery.items() for k, v in f.items()}
    flat[F_ACTIVE_ALERTS] = sum(int(f.get(F_ACTIVE_ALERTS) or 0) for f in by_battery.values())
    flat[F_WORST_SEVERITY] = max((int(f.get(F_WORST_SEVERITY) or 0) for f in by_battery.values()), default=0)
    flat[F_URGENCY] = urgency(by_battery)
    flat[F_LAST_SEEN_MS] = float(round(summary.t * 1000.0))
    points.append(make_point(MEAS_FLEET, {**tags, TAG_VEHICLE: vehicle}, flat, ts))
    return [p for p in points if p is not None]


def projection_points(summary: VehicleSummary, tags: Mapping[str, str], battery: str = "sos") -> list[Point]:
    """The battery's falling rested-voltage trend on a fixed 30-day grid, from the step of its
    last rested reading on.

    The line starts at the last rested voltage at its own time (where the analysis projects
    its dates from), so a summary written later draws the same line. Only a significant fall
    is drawn (a steady or rising pack has no end in sight). The grid is absolute (multiples
    of 30 days since the epoch), so a newer projection writes the same timestamps and
    replaces the older one instead of piling up beside it. It stops at the first step past
    the projected end of life, or after 10 years.
    """
    b = summary.battery(battery)
    if b is None or b.rested_voltage is None or b.rested_at is None:
        return []
    tr = b.trend
    if tr.v_per_day is None or not tr.significant or tr.v_per_day >= 0.0:
        return []
    t0, v0 = b.rested_at, b.rested_voltage
    end = _date_end_t(tr.end_date)
    step = PROJECTION_STEP_S
    first = math.floor(t0 / step) * step
    out: list[Point] = []
    k = 0
    while first + k * step <= t0 + PROJECTION_MAX_S:
        at = first + k * step
        v = round(v0 + tr.v_per_day * (at - t0) / DAY_S, 4)
        p = make_point(MEAS_PROJECTION, {**tags, TAG_VEHICLE: summary.vehicle, TAG_BATTERY: battery},
                       {F_V: v}, time_ns(at))
        if p is not None:
            out.append(p)
        if end is not None and at > end:
            break
        k += 1
    return out
