"""The retained MQTT state payload, formatted from the typed health summary."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from battwatch.core import mqtt_encode as enc
from battwatch.core.healthsummary import (
    SUMMARY_VERSION,
    ActiveAlert,
    BatterySummary,
    Fault,
    Remaining,
    VehicleSummary,
    battery_from_json,
)
from battwatch.core.model import Health, HealthSummary, Reading
from battwatch.core.mqtt_state import state_payload

T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z
H = 3600.0

MAIN = BatterySummary(
    "main", Health("good"), channel_seen=True, voltage=12.63, rested_voltage=12.61, rested_at=T0 - 6 * H,
    soc_pct=81, age_years=2.81, remaining=Remaining(2.19, "age"),
    alerts=(ActiveAlert("low_voltage", "info", T0 - H, T0 - H, "info", 12.3, "m"),),
)
SOS = BatterySummary("sos", Health("unknown", "no SOS readings"), remaining=Remaining(None, None))


def _r(t: float, main: float | None, sos: float | None, temp: float | None = 6.5) -> Reading:
    return Reading(t, main, main, main, sos, sos, sos, temp, 1.0, "car-1")


def payload(summary: VehicleSummary, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(state_payload(HealthSummary(summary.t, summary.vehicle, summary), **kw))
    return body


def test_each_battery_gets_its_figures_verdict_alerts_and_detail() -> None:
    s = VehicleSummary("car-1", T0, 42, "parked", MAIN, SOS, link={"frames": 10}, sinks={"mqtt": {"backlog": 3}})
    body = payload(s, latest=_r(T0, 12.64, 5.12))
    assert body["schema"] == enc.SCHEMA_VERSION and body["summary_version"] == SUMMARY_VERSION
    assert body["state"] == "parked"
    main, sos = body["main"], body["sos"]
    assert (main["voltage_v"], main["rest_v"], main["soc_pct"], main["age_years"]) == (12.63, 12.61, 81, 2.81)
    assert (main["remaining_life_years"], main["remaining_life_basis"]) == (2.19, "age")
    assert (main["health"], main["health_reason"]) == ("good", None)
    assert main["alerts"][0]["alert"] == "low_voltage" and main["alerts"][0]["since"].startswith("2024-12-31T23:00")
    assert main["detail"]["rested_voltage"] == 12.61 and "alerts" not in main["detail"]
    assert sos["voltage_v"] == 5.12  # the summary has none: the latest reading
    assert sos["age_years"] is None and sos["health_reason"] == "no SOS readings"
    assert body["alerts_active"] == 1 and body["temp_c"] == 6.5 and body["link"] == {"frames": 10}
    assert "sinks" not in body  # the daemon's own bookkeeping is not the car's state


def test_without_an_analysis_nothing_is_made_up() -> None:
    body = payload(VehicleSummary("car-1", T0), vehicle_state="asleep")
    for battery in ("main", "sos"):
        assert body[battery]["voltage_v"] is None and body[battery]["health"] is None
        assert body[battery]["detail"] is None and body[battery]["alerts"] == []
    assert body["state"] == "asleep" and body["alerts_active"] == 0


def test_the_detail_reads_back_as_the_same_battery() -> None:
    """What the collector does with it: the detail and the alerts give the summary again."""
    body = payload(VehicleSummary("car-1", T0, 1, "parked", MAIN, SOS))
    for b in (MAIN, SOS):
        sec = body[b.battery]
        assert battery_from_json({**sec["detail"], "alerts": sec["alerts"]}, b.battery) == b


def test_a_faulted_channel_shows_no_current_voltage_or_charge() -> None:
    fault = Fault("open_wire", T0 - 3 * H, T0 - 4 * H)
    good = replace(MAIN, voltage=0.0, soc_pct=0, fault=fault, rested_at=T0 - 6 * H)
    late = replace(good, battery="sos", rested_voltage=0.01, rested_at=T0 - 3.5 * H)
    body = payload(VehicleSummary("car-1", T0, 1, None, good, late), latest=_r(T0, 0.0, 0.0))
    main, sos = body["main"], body["sos"]
    for figures in (main, sos):
        # Home Assistant shows these as unknown rather than a flat battery
        assert figures["voltage_v"] is None and figures["soc_pct"] is None
        assert figures["sensor_fault"] == "open_wire"
    # the rested reading from before the first sign still stands; one after it does not
    assert main["rest_v"] == 12.61 and main["rest_at"].startswith("2024-12-31T18:00:00")
    assert sos["rest_v"] is None and sos["rest_at"] is None
    assert main["detail"]["voltage"] == 0.0  # the raw figures stay in the detail


def test_the_real_analysis_summary_after_an_open_wire() -> None:
    from battwatch import config
    from battwatch.core.analysis import build_analyzer
    from battwatch.core.pipeline import Pipeline

    cfg = config.defaults("car-1", battery={"main": {"installed": "2022-01-01"}, "sos": {"installed": "2020-01-01"}})
    pipeline = Pipeline("car-1", build_analyzer(cfg))
    t = T0

    def window(v: float, dt: float) -> None:  # a device window of dt seconds ending at t
        nonlocal t
        t += dt
        pipeline.reading(Reading(t, v, v - 0.003 if v else 0.0, v + 0.003 if v else 0.0, 5.15, 5.148, 5.152, 10.0, dt))

    for _ in range(30):  # a drive, so the park that follows is a rest
        window(14.2, 60.0)
    for _ in range(24 * 6):  # a day parked, 10-min windows
        window(12.62, 600.0)
    body = payload(pipeline.summary(t))
    for battery in ("main", "sos"):
        assert body[battery]["voltage_v"] == pytest.approx(12.62 if battery == "main" else 5.15)
        assert body[battery]["age_years"] is not None and body[battery]["remaining_life_years"] is not None
    assert isinstance(body["state"], str) and body["state"]
    for _ in range(6 * 6):  # then the 12 V tap reads 0 V for six hours
        window(0.0, 600.0)
    s = pipeline.summary(t)
    assert s.main is not None and s.main.fault is not None  # the analysis saw the fault
    body = payload(s)
    assert body["main"]["voltage_v"] is None and body["main"]["soc_pct"] is None
    assert body["main"]["rest_v"] == pytest.approx(12.62)
    assert body["sos"]["voltage_v"] == pytest.approx(5.15)  # the other channel is untouched
