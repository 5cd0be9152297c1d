"""One summary, the same facts in every output: the store's status, MQTT and InfluxDB."""

from __future__ import annotations

import json
import queue
from pathlib import Path
from typing import Any

from test_mqtt_sender import RecordingClient

from battwatch import config, scenarios
from battwatch.adapters.store import Store
from battwatch.commands import status
from battwatch.core.analysis import build_analyzer
from battwatch.core.model import HealthSummary
from battwatch.core.pipeline import Pipeline
from battwatch.sinks.influx import InfluxSink
from battwatch.sinks.mqtt import MqttSink
from battwatch.sinks.mqtt_sender import OutboxSender

SCENARIO = "sos-long-park-normal"  # data from 2025
VEHICLE = "car-1"


def summary_installed(installed: str) -> tuple[config.Config, HealthSummary]:
    """The summary at the end of the scenario, both batteries installed on ``installed``."""
    raw: dict[str, Any] = scenarios.scenario_config(SCENARIO)
    raw["vehicle"] = {"id": VEHICLE}
    for battery in ("main", "sos"):
        raw["battery"][battery]["installed"] = installed
    raw["mqtt"] = {"host": "127.0.0.1", "homeassistant": False}
    raw["influx"] = {"url": "http://127.0.0.1:9", "org": "o", "bucket": "b"}
    cfg = config.from_dict(raw, env={})
    pipeline = Pipeline(VEHICLE, build_analyzer(cfg))
    last = None
    for r in scenarios.generate(SCENARIO):
        pipeline.reading(r)
        last = r
    assert last is not None
    pipeline.end_of_data(last.t)
    return cfg, HealthSummary(last.t, VEHICLE, pipeline.summary(last.t))


def mqtt_state(cfg: config.Config, s: HealthSummary, tmp_path: Path) -> dict[str, Any]:
    sink = MqttSink(cfg, tmp_path)
    client = RecordingClient()
    sink._client = client  # type: ignore[assignment]
    sender = OutboxSender(sink)
    sender._note(("connected",), [])
    sink.summary(s)
    sender._pump()
    sink.close(0)
    (payload,) = [p for topic, p, _ in client.sent if topic.endswith("/state")]
    body: dict[str, Any] = json.loads(payload)
    return body


def influx_health_lines(cfg: config.Config, s: HealthSummary, tmp_path: Path) -> list[str]:
    sink = InfluxSink(cfg, tmp_path)  # never started: its lines stay in its queue
    sink.summary(s)
    lines: list[str] = []
    while True:
        try:
            item = sink._queue.get_nowait()
        except queue.Empty:
            return [line for line in lines if line.startswith(("health,", "fleet,"))]
        if isinstance(item, list):
            lines += item


def test_data_from_before_installed_has_no_age_in_any_output(tmp_path: Path) -> None:
    """The analysis and status said "unknown"; MQTT said 0.0 years and InfluxDB -4.9."""
    cfg, s = summary_installed("2030-01-01")

    body = mqtt_state(cfg, s, tmp_path / "mqtt")
    assert body["main"]["age_years"] is None and body["sos"]["age_years"] is None

    lines = influx_health_lines(cfg, s, tmp_path / "influx")
    assert lines and not any("age_years=" in line for line in lines), lines

    store = Store(tmp_path / "store", VEHICLE)
    store.summary(s)
    store.close()
    cfg_store = config.defaults(VEHICLE, store={"path": str(tmp_path / "store")},
                                battery={"main": {"installed": "2030-01-01"}, "sos": {"installed": "2030-01-01"}})
    info = status.collect(cfg_store, now=s.t, systemd=lambda: None)
    text = status.render(info)
    assert "age               unknown: the installation date 2030-01-01 is after the data" in text, text


def test_every_output_gives_the_same_age_after_installed(tmp_path: Path) -> None:
    """The counterpart: with data after the installation date all three give the analysis' age."""
    cfg, s = summary_installed("2021-06-01")
    body = mqtt_state(cfg, s, tmp_path / "mqtt")
    ages = {b: body[b]["age_years"] for b in ("main", "sos")}
    assert all(isinstance(a, float) and 3.0 < a < 5.0 for a in ages.values()), ages
    lines = influx_health_lines(cfg, s, tmp_path / "influx")
    for battery, age in ages.items():
        (line,) = [ln for ln in lines if ln.startswith("health,") and f"battery={battery}" in ln]
        assert f"age_years={age!r}" in line, line
