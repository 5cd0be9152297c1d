"""The retained MQTT state payload, formatted from the typed health summary (pure)."""

from __future__ import annotations

from typing import Any

from battwatch.core.healthsummary import SUMMARY_VERSION, BatterySummary, alert_json, battery_json
from battwatch.core.model import HealthSummary, Reading
from battwatch.core.mqtt_encode import BATTERIES, _r, dumps, envelope
from battwatch.core.timefmt import iso_utc


def battery_state(b: BatterySummary | None, latest_v: float | None) -> dict[str, Any]:
    """One battery's unit-suffixed figures, its verdict, its alerts and the summary's own
    section as ``detail`` (what the collector reads back).

    A faulted channel's readings are not the battery's: Home Assistant shows the voltage and
    charge as unknown, and the last good rested reading stands in. ``latest_v`` (the last
    reading's) fills the voltage of a summary without one, unless the channel is faulted.
    """
    if b is None:  # no analysis: none of its figures is made up here
        return {"voltage_v": latest_v, "rest_v": None, "rest_at": None, "soc_pct": None, "age_years": None,
                "remaining_life_years": None, "remaining_life_basis": None, "sensor_fault": None,
                "health": None, "health_reason": None, "alerts": [], "detail": None}
    good = b.good_rested()
    voltage = b.trusted_voltage()
    detail = battery_json(b)
    del detail["alerts"]  # carried once, beside it
    return {
        "voltage_v": latest_v if voltage is None and b.fault is None else voltage,
        "rest_v": None if good is None else good.voltage,
        "rest_at": None if good is None else iso_utc(good.at),
        "soc_pct": b.trusted_soc(),
        "age_years": b.age_years,  # None before the fitted date or without one: HA's "unknown"
        "remaining_life_years": b.remaining.years,
        "remaining_life_basis": b.remaining.basis,
        "sensor_fault": None if b.fault is None else b.fault.kind,
        **b.health.fields(),
        "alerts": [alert_json(a) for a in b.alerts],
        "detail": detail,
    }


def state_payload(s: HealthSummary, *, latest: Reading | None = None, vehicle_state: str | None = None) -> bytes:
    """The retained health summary of both batteries; ``vehicle_state`` stands in for a
    summary without a state (no analysis)."""
    data = s.data
    body = envelope(s.vehicle, s.t)
    body["summary_version"] = SUMMARY_VERSION
    body["state"] = data.state or vehicle_state
    n_active = 0
    for battery in BATTERIES:
        b = data.battery(battery)
        latest_v = None if latest is None else _r(latest.main_v if battery == "main" else latest.sos_v, 3)
        body[battery] = battery_state(b, latest_v)
        n_active += 0 if b is None else len(b.alerts)
    body["temp_c"] = _r(latest.temp_c, 1) if latest is not None else None
    body["alerts_active"] = n_active
    body["link"] = None if data.link is None else dict(data.link)
    if data.store is not None:  # is the car's own store writing? (a full SD card: ok false, the problem)
        body["store"] = dict(data.store)
    return dumps(body)
