"""What `status` and `report` say where the data hold no evidence, or cannot be the configured
battery's (issue 13 classes 5, 7 and 10): one reason, said once, never contradicted."""

from __future__ import annotations

from pathlib import Path

from battwatch import config
from battwatch.commands import status
from battwatch.core.healthsummary import BatterySummary, Remaining, life_words, trend_gap_words
from battwatch.core.model import Health
from battwatch.replay import replay_file
from battwatch.report.data import collect_report
from battwatch.report.plot import default_title
from battwatch.report.text import format_summary, quiet_words, verdict

T0 = 1_735_725_600  # 2025-01-01 10:00 UTC
LI1 = {"sos": {"chemistry": "li-ion", "cells": 1}}


def _pack_running_down(path: Path) -> Path:
    """One Li-ion cell on a bench, SOS channel only: 4.10 V to 3.45 V in 8 h."""
    n = 8 * 60
    path.write_text("time,sos_v\n" + "".join(f"{T0 + 60 * i},{4.10 - 0.65 * i / n:.4f}\n" for i in range(n + 1)))
    return path


def _cfg(tmp_path: Path, **battery: object) -> config.Config:
    return config.defaults("bench", store={"path": str(tmp_path / "store")}, battery=battery)


def _status_text(tmp_path: Path, log: Path, cfg: config.Config) -> str:
    replay_file(log, cfg, store_dir=tmp_path / "store")
    return status.render(status.collect(cfg, systemd=lambda: None))


def test_a_projection_from_the_latest_readings_is_not_contradicted_by_the_trend_line(tmp_path: Path) -> None:
    """Class 10: "due now (by the trend of its readings ...)" next to "not enough rested days
    yet for a trend" read as if there were no trend at all."""
    log = _pack_running_down(tmp_path / "pack.csv")
    cfg = _cfg(tmp_path, **LI1)
    text = _status_text(tmp_path, log, cfg)
    sos = text[text.index("SOS backup battery"):text.index("Alerts")]
    assert "  remaining life    due now (by the trend of its readings of the last " in sos, sos
    assert ("  trend             rested voltage: not enough rested days yet for a long-term trend; the remaining "
            "life follows the fall of its latest readings\n") in sos, sos
    assert "SOS backup battery (li-ion, 1 cell)\n" in text  # not "1 cells"
    # the 12 V battery the log never reached: its health says why, once, and nothing unknown follows
    main = text[text.index("Starter battery"):text.index("SOS backup battery")]
    assert main.splitlines()[1:] == ["  health            unknown: no 12 V channel in the readings",
                                     "  age               unknown: no installation date (set installed in the "
                                     "configuration)"], main
    report = format_summary(collect_report(log, cfg))
    assert ("  trend: not enough rested days yet for a long-term trend; the remaining life follows the fall of "
            "its latest readings\n") in report, report


def test_a_log_without_the_12v_channel_counts_no_engine_starts_in_the_picture(tmp_path: Path) -> None:
    data = collect_report(_pack_running_down(tmp_path / "pack.csv"), _cfg(tmp_path, **LI1))
    title = default_title(data)
    assert "engine start" not in title and title.endswith("(8.0 h, 481 readings)"), title


def test_a_configuration_problem_is_said_once_and_counts_nothing(tmp_path: Path) -> None:
    """Class 7: a 6 V battery on the 12 V channel. The health says what the readings look like;
    the remaining life does not repeat it, and no start or drive is counted as if judged."""
    log = tmp_path / "six.csv"
    rows = [f"{T0 + 10 * i},{6.41 if i < 300 or i > 900 else 7.2:.2f}\n" for i in range(1500)]
    log.write_text("time,main_v\n" + "".join(rows))
    cfg = _cfg(tmp_path)
    text = _status_text(tmp_path, log, cfg)
    main = text[text.index("Starter battery"):text.index("SOS backup battery")]
    assert "look like a 6 V battery, not a 12 V one" in main, main
    assert "  remaining life    unknown\n" in main, main
    assert main.count("look like") == 1
    report = format_summary(collect_report(log, cfg))
    assert "12 V battery: no starts or drives judged (the readings do not fit the configured battery)\n" in report
    assert "0 engine starts" not in report and "0 drives" not in report
    assert "; remaining life unknown\n" in report, report
    assert "engine start" not in default_title(collect_report(log, cfg))


def test_an_unknown_remaining_life_says_what_is_missing() -> None:
    b = BatterySummary("main", Health("good"), channel_seen=True,
                       age_note="no installation date (set installed in the configuration)")
    assert life_words(b) == ("unknown: no installation date (set installed in the configuration), and not enough "
                             "rested days yet for a trend")
    assert life_words(BatterySummary("sos", Health("unknown", "no SOS readings"))) == "unknown"
    assert trend_gap_words(b) == "not enough rested days yet for a trend"
    by_trend = BatterySummary("sos", Health("attention"), channel_seen=True,
                              remaining=Remaining(0.01, "trend", text="due now (by the trend of ...)"))
    assert life_words(by_trend) == "due now (by the trend of ...)"
    assert "latest readings" in trend_gap_words(by_trend)


def test_a_log_with_no_verdict_is_no_all_clear_in_the_picture(tmp_path: Path) -> None:
    """Class 5 in the picture: a one-hour bench discharge judges nothing, so its empty alert row
    is not a green "no alerts", and the headline keeps to the verdicts."""
    log = tmp_path / "bench.csv"
    log.write_text("time,sos_v\n" + "".join(f"{T0 + 60 * i},{4.20 - 0.9 * i / 60:.4f}\n" for i in range(61)))
    data = collect_report(log, _cfg(tmp_path, **LI1))
    words, good = quiet_words(data)
    assert not good and "nothing judged" in words, words
    head = verdict(data)
    assert "SOS pack: unknown: no rested reading yet" in head and head.endswith(", remaining life unknown"), head
    healthy = tmp_path / "healthy.csv"
    healthy.write_text("time,main_v\n" + "".join(f"{T0 + 600 * i},12.70\n" for i in range(60)))
    assert quiet_words(collect_report(healthy, _cfg(tmp_path))) == ("no alerts", True)


def test_the_picture_draws_no_levels_of_a_battery_the_readings_are_not(tmp_path: Path) -> None:
    """Class 7 in the picture: one Li-ion cell read under the default 4-cell NiMH pack sits
    wholly under that pack's critical line, a verdict the analysis does not give."""
    import matplotlib.pyplot as plt

    from battwatch.report.plot import draw_report

    data = collect_report(_pack_running_down(tmp_path / "cell.csv"), _cfg(tmp_path))
    fig = draw_report(data)
    try:
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    finally:
        plt.close(fig)
    assert not [t for t in texts if t.startswith(("crit", "warn", "info"))], texts
    assert "levels not drawn: the readings do not fit the configured battery (config_mismatch)" in texts


class _States:
    """A sink of the router that keeps each reading's vehicle state (what the store, the MQTT
    readings and the InfluxDB windows are given)."""

    name = "states"

    def __init__(self) -> None:
        self.readings: list[tuple[object, str]] = []

    def start(self) -> None: ...
    def reading(self, r: object, state: str) -> None:
        self.readings.append((r, state))
    def transition(self, tr: object) -> None: ...
    def summary(self, s: object) -> None: ...
    def flush(self) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...
    def status(self) -> dict[str, object]:
        return {}


def test_a_log_without_the_12v_channel_tells_no_vehicle_state(tmp_path: Path, capsys: object) -> None:
    """Class 5: only the 12 V channel tells a car asleep from one awake; an SOS-only log was
    shown as "Vehicle awake". Every output that shows the state says unknown, and why."""
    import json

    from battwatch.cli import main
    from battwatch.core.ha_discovery import SENSORS
    from battwatch.core.influx_encode import F_STATE, ReadingEncoder
    from battwatch.core.model import HealthSummary
    from battwatch.core.mqtt_state import state_payload

    log = _pack_running_down(tmp_path / "pack.csv")
    cfg = _cfg(tmp_path, **LI1)
    sink = _States()
    replay_file(log, cfg, store_dir=tmp_path / "store", sinks=[sink])  # type: ignore[list-item]
    assert {state for _, state in sink.readings} == {"unknown"}
    info = status.collect(cfg, systemd=lambda: None)
    assert info["vehicle_state"] == "unknown" and info["last_reading"]["state"] == "unknown"
    text = status.render(info)
    assert "Vehicle       unknown (no 12 V channel in the readings, and only it tells the states apart)\n" in text
    assert "awake" not in text and "asleep" not in text and "parked" not in text
    assert "SOS 3.45 V\n" in text  # the last reading's line leaves the state to the line above
    cfg_path = tmp_path / "battwatch.toml"
    cfg_path.write_text(f'[vehicle]\nid = "bench"\n[store]\npath = "{tmp_path / "store"}"\n')
    assert main(["status", "-c", str(cfg_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert data["vehicle_state"] == "unknown" and data["summary"]["state"] == "unknown"
    # the retained MQTT state, and Home Assistant's sensor reading it
    summary = info["summary"]
    body = json.loads(state_payload(HealthSummary(summary.t, summary.vehicle, summary)))
    assert body["state"] == "unknown"
    assert next(s for s in SENSORS if s.object_id == "vehicle_state").template == "{{ value_json.state }}"
    # InfluxDB's windows
    enc = ReadingEncoder("bench", {"vehicle": "bench"})
    points = [p for r, state in sink.readings for p in enc.reading(r, state)]  # type: ignore[arg-type]
    assert points and {dict(p.fields).get(F_STATE) for p in points} == {"unknown"}
    # the report's picture shades no state
    assert collect_report(log, cfg).states == ()
