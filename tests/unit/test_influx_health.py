"""InfluxDB health, fleet and projection points from the typed summary, on both paths."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from test_summary_drift import summary_installed

from battwatch.core import influx_encode as enc
from battwatch.core import influx_health as ih
from battwatch.core.fleet_points import health_summary
from battwatch.core.healthsummary import (
    ActiveAlert,
    BatterySummary,
    Fault,
    Remaining,
    Start,
    Trend,
    VehicleSummary,
)
from battwatch.core.model import Health, HealthSummary
from battwatch.core.mqtt_state import state_payload

T0 = 1_736_121_600.0  # 2025-01-06T00:00:00Z
TAGS = {"vehicle": "car-1"}
DAY = 86_400.0

MAIN = BatterySummary(
    "main", Health("attention"), channel_seen=True, voltage=12.41, rested_voltage=12.38, rested_at=T0 - 3600,
    soc_pct=61, age_years=4.0, life_window=(4.0, 6.0),
    remaining=Remaining(1.5, "age", text="about 1.5 years"), last_start=Start(9.9, T0 - 7200, 4.0),
    alerts=(ActiveAlert("low_voltage", "warning", T0 - DAY, T0 - DAY, "warning", 12.1, "low"),),
)
SOS = BatterySummary(
    "sos", Health("unknown", "no rested reading yet: the car has not been parked 12 h"), channel_seen=True,
    voltage=5.02, rested_voltage=5.0, rested_at=T0 - 600, age_years=5.6, life_window=(4.0, 7.0),
    remaining=Remaining(0.9, "trend"),
    trend=Trend(v_per_day=-0.4 / 365.25, significant=True, n_days=40, end_date="2026-07-01"),
)
SUMMARY = VehicleSummary("car-1", T0, 100, "parked", MAIN, SOS)


def fields(points: list[enc.Point]) -> dict[tuple[str, str | None], dict[str, object]]:
    return {(p.measurement, p.tag("battery")): dict(p.fields) for p in points}


def test_health_points_per_battery_and_fleet_row() -> None:
    points = ih.health_points(SUMMARY, TAGS)
    by = fields(points)
    assert set(by) == {("health", "main"), ("health", "sos"), ("fleet", None)}
    main, sos, fleet = by["health", "main"], by["health", "sos"], by["fleet", None]
    assert (main["soc_pct"], main["rest_v"], main["last_crank_min_v"], main["age_years"]) == (61.0, 12.38, 9.9, 4.0)
    assert main["active_alerts"] == 1 and main["worst_severity"] == 2
    assert (sos["life_min_years"], sos["life_max_years"]) == (4.0, 7.0)
    assert sos["trend_v_per_year"] == pytest.approx(-0.4)
    assert sos["eol_ms"] == enc.iso_to_t("2026-07-01") * 1000  # type: ignore[operator]
    assert "soc_pct" not in sos  # unknown: absent, never 0
    # the verdict as the analysis gave it; "" for no reason, so last() never shows a stale one
    assert (main["health"], main["health_reason"]) == ("attention", "")
    assert sos["health_reason"] == "no rested reading yet: the car has not been parked 12 h"
    assert fleet["main_soc_pct"] == 61.0 and fleet["sos_age_years"] == 5.6
    assert fleet["urgency"] == pytest.approx(200 + 99 - 9.9 * 0.9)
    assert fleet["last_seen_ms"] == T0 * 1000
    assert all(p.time_ns == enc.time_ns(T0) for p in points)


def test_a_faulted_channel_writes_no_current_voltage_and_its_last_good_rested_voltage() -> None:
    faulted = replace(MAIN, fault=Fault("open_wire", T0 - 1800, T0 - 7200 + 60), rested_at=T0 - 7200)
    main = fields(ih.health_points(replace(SUMMARY, main=faulted), TAGS))["health", "main"]
    assert "voltage_v" not in main and "soc_pct" not in main and main["rest_v"] == 12.38
    after = replace(faulted, rested_at=T0 - 600)  # rested after the first sign: not known good
    assert "rest_v" not in fields(ih.health_points(replace(SUMMARY, main=after), TAGS))["health", "main"]


def test_no_analysis_writes_only_the_fleet_row() -> None:
    points = ih.health_points(VehicleSummary("car-1", T0), TAGS)
    assert [p.measurement for p in points] == ["fleet"]
    assert ih.projection_points(VehicleSummary("car-1", T0), TAGS) == []


def test_projection_starts_at_the_last_rested_reading_and_stops_past_the_end() -> None:
    a = ih.projection_points(SUMMARY, TAGS)
    step_ns = int(ih.PROJECTION_STEP_S * 1e9)
    assert all(p.time_ns % step_ns == 0 for p in a)
    first_t = a[0].time_ns / 1e9
    assert first_t <= SOS.rested_at < first_t + ih.PROJECTION_STEP_S  # type: ignore[operator]
    # on the line through the rested reading with the trend's slope
    assert a[1].field("v") == pytest.approx(5.0 + SOS.trend.v_per_day * (a[1].time_ns / 1e9 - SOS.rested_at) / DAY,  # type: ignore[operator]
                                            abs=1e-4)
    values = [float(p.field("v") or 0.0) for p in a]
    assert values == sorted(values, reverse=True)
    end = enc.iso_to_t("2026-07-01")
    assert a[-1].time_ns / 1e9 > end >= a[-2].time_ns / 1e9  # type: ignore[operator]
    # a summary written a day later, from the same rested reading: the same points
    assert ih.projection_points(replace(SUMMARY, t=T0 + DAY), TAGS) == a


def test_no_projection_without_a_significant_fall() -> None:
    for trend in (Trend(v_per_day=-0.001, significant=False), Trend(v_per_day=0.001, significant=True), Trend()):
        assert ih.projection_points(replace(SUMMARY, sos=replace(SOS, trend=trend)), TAGS) == []


@pytest.mark.parametrize("installed", ["2021-06-01", "2030-01-01"])
def test_the_direct_and_the_collector_path_write_the_same_health_points(installed: str) -> None:
    """The car's sink formats the summary; the collector reads it back from the MQTT state."""
    _, s = summary_installed(installed)
    direct = ih.health_points(s.data, TAGS) + ih.projection_points(s.data, TAGS)
    body = json.loads(state_payload(s))
    via = health_summary(body, s.vehicle, s.t)
    collected = ih.health_points(via, TAGS) + ih.projection_points(via, TAGS)
    assert [p.to_line() for p in collected] == [p.to_line() for p in direct]
    assert any(p.measurement == "health" for p in direct)


def test_a_state_from_a_newer_battwatch_is_refused_with_why() -> None:
    from battwatch.core.fleet_points import BadPayload

    body = json.loads(state_payload(HealthSummary(T0, "car-1", SUMMARY)))
    body["summary_version"] = 99
    with pytest.raises(BadPayload, match="newer battwatch"):
        health_summary(body, "car-1", T0)
    body["summary_version"] = 2
    body["main"]["detail"]["soc_pct"] = "lots"
    with pytest.raises(BadPayload, match=r"main\.detail\.soc_pct: expected a number"):
        health_summary(body, "car-1", T0)
