"""A power cut (SIGKILL) right after an alert: the restarted daemon neither forgets nor repeats it."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_mqtt_sink import Subscriber

from battwatch import config, scenarios
from battwatch.core.analysis import build_analyzer
from battwatch.core.model import Reading
from battwatch.emulator.adc_sim import AdcEmulator
from helpers import Proc, battwatch
from servers import InfluxDB1, Mosquitto, wait_until

pytestmark = pytest.mark.serial

TIMEOUT = 120.0
SCENARIO = "sos-step-drop"  # a shorted cell (critical at once), then the pack's low voltage


def _config(tmp: Path, link: Path, store: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenarios"))
    from test_scenario_replays import toml

    cfg = tmp / "car.toml"
    # a long commit interval: only the alert's own commit can have saved anything
    cfg.write_text(
        "\n".join(toml(scenarios.scenario_config(SCENARIO)))
        # no silence check: a loaded machine may pause the emulator for seconds, and a silence
        # alert in the middle would change what the analysis raises
        + f'\n[adc]\nport = "{link}"\nsilent_after_s = 3600\nreconnect_min_s = 0.1\nreconnect_max_s = 0.3\n'
        + f'[store]\npath = "{store}"\ncommit_interval_s = 3600\ncommit_rows = 100000\n'
        # the emulator replays a log: only its clock (BWT) tells the data's time; frames before
        # it (the second run starts mid-stream) wait for it instead of taking the host clock
        + '[clock]\nhost = "untrusted"\nhold_max_s = 86400\n'
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
            # the flat pack near the end of the log: waited for by what the data raises, not by time
            second.wait_for(r"alert raised sos/low_voltage critical", timeout=120)
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


# -- a cut between two commits: the network sinks hold nothing the store lost ------------------

COMMIT_ROWS = 7
SENT = 41  # readings the board sends before the cut: the store commits 35 of them (5 x 7)


def _cut_reading(i: int) -> Reading:
    v = 12.6 - 0.001 * i
    return Reading(CUT_T0 + i + 1, v, v - 0.01, v + 0.01, 5.21, 5.2, 5.22, 8.0, 1.0, "car")


CUT_T0 = 1_736_121_600.0  # 2025-01-06T00:00:00Z, a multiple of the 10 s windows


@pytest.mark.servers
def test_after_a_kill_9_the_network_sinks_hold_no_reading_the_store_lost(
    tmp_path: Path, mosquitto: Mosquitto, influxdb1: InfluxDB1
) -> None:
    """Readings reach MQTT and InfluxDB at the store's commit point: a cut between two commits
    loses the same readings everywhere (before, InfluxDB and MQTT had windows of readings the
    store and the daily log never got)."""
    influxdb1.create_database("bw")
    store = tmp_path / "store"
    release = threading.Event()

    def board() -> Iterator[Reading]:
        for i in range(SENT + 10):
            if i == SENT:
                release.wait(TIMEOUT)  # the cut comes while the board waits here
            yield _cut_reading(i)

    emu = AdcEmulator(board(), speed=0, link=tmp_path / "adc", wait_hello=True)
    emu.start()
    sub = Subscriber(mosquitto.host, mosquitto.port, ("battwatch/car/readings",)).ready()
    cfg = tmp_path / "car.toml"
    cfg.write_text(
        f'[vehicle]\nid = "car"\n[adc]\nport = "{tmp_path / "adc"}"\nsleep_rate_hz = 1.0\nsilent_after_s = 3600\n'
        f'[store]\npath = "{store}"\ncommit_rows = {COMMIT_ROWS}\ncommit_interval_s = 3600\n'
        '[clock]\nhost = "trusted"\n'
        f'[mqtt]\nhost = "{mosquitto.host}"\nport = {mosquitto.port}\nreadings_interval = 10\nreconnect_min_s = 0.1\n'
        f'[influx]\nurl = "{influxdb1.url}"\napi = "v1"\ndatabase = "bw"\nwindow_s = 10\nflush_interval_s = 0.1\n'
    )
    daemon = Proc(battwatch("run", "-c", str(cfg)))
    try:
        wait_until(lambda: _stored(store) >= (SENT // COMMIT_ROWS) * COMMIT_ROWS, TIMEOUT, "the commits")
        wait_until(lambda: emu.frames_written >= SENT, TIMEOUT, "every frame before the cut sent")
    finally:
        daemon.kill()  # SIGKILL: a power cut as far as the process can tell
        release.set()
        emu.close()
    stored = _stored(store)
    last = _cut_reading(stored - 1).t
    assert stored == (SENT // COMMIT_ROWS) * COMMIT_ROWS  # the readings after the last commit are gone
    logged = _log_rows(store)
    assert logged == stored  # the daily log and the database lost the same readings
    # every window any network sink holds (delivered or still in its outbox) is of stored readings
    delivered = [json.loads(g.payload)["window"]["last_t"] for g in sub.got]
    sub.close()
    windows = _influx_windows(store, influxdb1) + _mqtt_windows(store) + delivered
    assert windows and max(windows) <= last, (windows, last)
    assert "Traceback" not in daemon.output


def _stored(store: Path) -> int:
    path = store / "battwatch.sqlite3"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM readings").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet
    finally:
        db.close()


def _log_rows(store: Path) -> int:
    return sum(len(p.read_text().splitlines()) - 1 for p in (store / "logs").glob("*.csv"))


def _influx_windows(store: Path, influxdb1: InfluxDB1) -> list[float]:
    """The last reading of every readings window InfluxDB or the sink's outbox holds: a point
    stands at its window's end, holds the readings of the 10 s up to it (one a second from the
    first at CUT_T0 + 1), and counts them (``n``)."""
    found = [(float(p["time"]), int(p["n"])) for p in influxdb1.points('SELECT "v", "n" FROM "readings"', "bw")]
    db = sqlite3.connect(store / "influx-outbox.sqlite3")
    try:
        lines = [row[0] for row in db.execute("SELECT payload FROM outbox")]
    finally:
        db.close()
    for ln in lines:
        if ln.startswith("readings,"):
            n = re.search(r"[ ,]n=(\d+)i?[ ,]", ln)
            assert n is not None, ln
            found.append((int(ln.rsplit(" ", 1)[1]) / 1e9, int(n.group(1))))
    return [max(end - 9, CUT_T0 + 1) + n - 1 for end, n in found]


def _mqtt_windows(store: Path) -> list[float]:
    """The last reading of every readings window the MQTT outbox holds or has delivered."""
    db = sqlite3.connect(store / "mqtt-outbox.sqlite3")
    try:
        payloads = [row[0] for row in db.execute("SELECT payload FROM outbox WHERE stream = 'readings'")]
    finally:
        db.close()
    return [json.loads(p)["window"]["last_t"] for p in payloads]
