"""A power cut (SIGKILL) right after an alert: the restarted daemon neither forgets nor repeats it."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from battwatch import config, scenarios
from battwatch.core.analysis import build_analyzer
from helpers import Proc, battwatch

pytestmark = pytest.mark.serial

SCENARIO = "sos-step-drop"  # a shorted cell (critical at once), then the pack's low voltage


def _config(tmp: Path, link: Path, store: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))
    from test_scenario_replays import toml

    cfg = tmp / "car.toml"
    # a long commit interval: only the alert's own commit can have saved anything
    cfg.write_text(
        "\n".join(toml(scenarios.scenario_config(SCENARIO)))
        + f'\n[adc]\nport = "{link}"\nsilent_after_s = 2\nreconnect_min_s = 0.1\nreconnect_max_s = 0.3\n'
        + f'[store]\npath = "{store}"\ncommit_interval_s = 3600\ncommit_rows = 100000\n'
        + '[clock]\nhost = "trusted"\n'
    )
    return cfg


def _saved_state(store: Path) -> dict[str, Any]:
    db = sqlite3.connect(store / "battwatch.sqlite3")
    try:
        row = db.execute("SELECT value FROM kv WHERE key = 'analyzer'").fetchone()
    finally:
        db.close()
    assert row is not None, "no analysis state was saved"
    state: dict[str, Any] = json.loads(row[0])
    return state


def _events(store: Path) -> list[tuple[str, str, str, str]]:
    db = sqlite3.connect(store / "battwatch.sqlite3")
    try:
        return db.execute("SELECT battery, alert, severity, state FROM events ORDER BY t").fetchall()
    finally:
        db.close()


def test_alert_survives_a_kill_9_and_is_not_raised_again(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", SCENARIO, "-o", str(log)], check=True,
                   capture_output=True, timeout=120)
    link, store = tmp_path / "adc", tmp_path / "store"
    cfg = _config(tmp_path, link, store)
    sim = Proc(battwatch("adc-sim", "--csv", str(log), "--speed", "300000", "--link", str(link), "--wait-hello"))
    try:
        sim.wait_for("serving on")
        first = Proc(battwatch("run", "-c", str(cfg)))
        try:
            first.wait_for(r"alert raised sos/step_drop critical", timeout=60)
        finally:
            first.kill()  # SIGKILL: no shutdown, no flush, no final save
            # the emulator pauses while no daemon runs, so the rest of the log is still to come
            sim.signal(signal.SIGSTOP)
        # durable at the moment it was logged: the event and the state that knows it is raised
        assert ("sos", "step_drop", "critical", "raised") in _events(store)
        analyzer = build_analyzer(config.load(cfg))
        analyzer.import_state(_saved_state(store))
        assert [s.alert for s in analyzer.engine.active("sos")] == ["step_drop"]

        second = Proc(battwatch("run", "-c", str(cfg)))
        try:
            second.wait_for("restored analysis state")
            second.wait_for(r"serial: .* open")
            sim.signal(signal.SIGCONT)
            second.wait_for(r"ADC silent for", timeout=60)  # the rest of the log has been read
            assert second.stop() == 0
        finally:
            second.kill()
    finally:
        sim.signal(signal.SIGCONT)
        sim.kill()
    assert "alert raised sos/step_drop" not in second.output
    events = _events(store)
    raised = [e for e in events if e[3] == "raised"]
    # each alert once across both runs: the shorted cell and, later, the flat pack
    assert raised.count(("sos", "step_drop", "critical", "raised")) == 1
    assert raised.count(("sos", "low_voltage", "critical", "raised")) == 1, events
    assert "Traceback" not in first.output + second.output
