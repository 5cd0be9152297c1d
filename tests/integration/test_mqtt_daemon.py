"""The real daemon and replay against a real Mosquitto: last will, clean stop, backfill."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_mqtt_sink import Subscriber, stop_fresh_broker  # shared by the MQTT tests

from battwatch import scenarios
from battwatch.core import mqtt_encode as enc
from battwatch.core.csvlog import write_csv
from battwatch.core.model import AlertTransition
from battwatch.core.timefmt import parse_time
from helpers import Proc, battwatch
from servers import Mosquitto

pytestmark = [pytest.mark.servers, pytest.mark.serial]

T0 = 1_735_689_600.0
VEHICLE = "will-car"
TIMEOUT = 30.0


def _write_log(path: Path, n: int, step: float = 1.0) -> None:
    lines = ["time,vehicle,main_v,main_v_min,main_v_max,sos_v,sos_v_min,sos_v_max,temp_c"]
    for i in range(n):
        main = 12.6 - i * 1e-4
        sos = 5.2 - i * 0.004 if i > n // 2 else 5.2  # the SOS pack sags in the second half
        # each row stamped at the end of its window: the first window ends at T0 + step
        lines.append(f"{T0 + (i + 1) * step:.0f},{VEHICLE},{main:.4f},{main - 0.05:.4f},{main + 0.03:.4f},"
                     f"{sos:.3f},{sos - 0.01:.3f},{sos + 0.01:.3f},8.5")
    path.write_text("\n".join(lines) + "\n")


def _alert_event(x: Any, base: str) -> bool:
    """An alert transition on the events topic (starts, rested readings and replacements have a type)."""
    return bool(x.topic == f"{base}/events" and "type" not in x.json())


def _battery_toml(scenario: str) -> str:
    """The [battery.*] tables a scenario assumes (install dates drive the age rules)."""
    out = []
    batteries: dict[str, dict[str, object]] = scenarios.scenario_config(scenario)["battery"]  # type: ignore[assignment]
    for name, table in batteries.items():
        out.append(f"[battery.{name}]")
        for key, value in table.items():
            out.append(f"{key} = {json.dumps(value)}" if not (key == "installed") else f"{key} = {value}")
    return "\n".join(out) + "\n"


def _config(path: Path, broker: Mosquitto, link: Path, store: Path, *, keepalive: int, interval: float,
            extra: str = "") -> Path:
    path.write_text(
        extra +
        f'[vehicle]\nid = "{VEHICLE}"\nmodel = "Test X1"\n'
        f'[adc]\nport = "{link}"\nsilent_after_s = 1.5\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
        f'[store]\npath = "{store}"\ncommit_interval_s = 0.5\n'
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nkeepalive = {keepalive}\n'
        f"readings_interval = {interval}\nreconnect_min_s = 0.2\nreconnect_max_s = 1\n"
        f'[mqtt.qos]\nreadings = 1\n'
    )
    return path


def _outbox_rows(store: Path, name: str = "mqtt-outbox.sqlite3") -> int:
    db = sqlite3.connect(store / name)
    try:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        db.close()


def test_last_will_after_kill9_of_the_daemon(mosquitto: Mosquitto, tmp_path: Path) -> None:
    log, link, store = tmp_path / "log.csv", tmp_path / "adc", tmp_path / "store"
    _write_log(log, 100_000, step=60.0)
    cfg = _config(tmp_path / "c.toml", mosquitto, link, store, keepalive=5, interval=60)
    base = f"battwatch/{VEHICLE}"
    sub = Subscriber(mosquitto.host, mosquitto.port, (f"{base}/status", f"{base}/readings")).ready()
    sim = Proc(battwatch("adc-sim", "--csv", str(log), "--speed", "600", "--link", str(link), "--wait-hello"))
    sim.wait_for("serving on")
    daemon = Proc(battwatch("run", "-c", str(cfg)))
    try:
        sub.wait(lambda g: any(x.topic == f"{base}/status" and x.payload == b"online" for x in g),
                 what="online from the daemon")
        got = sub.wait(lambda g: len([x for x in g if x.topic == f"{base}/readings"]) >= 3, what="readings")
        first = [x.json() for x in got if x.topic == f"{base}/readings"][0]
        assert first["window"]["start_t"] == T0 and first["main"]["max_v"] == 12.63  # data from the pty
        daemon.kill()  # SIGKILL: no offline message from the daemon itself
        got = sub.wait(lambda g: any(x.topic == f"{base}/status" and x.payload == b"offline" for x in g),
                       what="the last will")
    finally:
        daemon.kill()
        sim.stop()
        sub.close()
    assert "battwatch stopped" not in daemon.output  # it really died without a clean shutdown
    statuses = [x.payload for x in got if x.topic == f"{base}/status"]
    assert statuses == [b"online", b"offline"]


def test_clean_stop_says_offline_and_leaves_an_empty_outbox(mosquitto: Mosquitto, tmp_path: Path) -> None:
    log, link, store = tmp_path / "log.csv", tmp_path / "adc", tmp_path / "store"
    _write_log(log, 300)
    cfg = _config(tmp_path / "c.toml", mosquitto, link, store, keepalive=60, interval=60)
    base = f"battwatch/{VEHICLE}"
    sub = Subscriber(mosquitto.host, mosquitto.port, (f"{base}/#",)).ready()
    sim = Proc(battwatch("adc-sim", "--csv", str(log), "--speed", "0", "--link", str(link), "--wait-hello"))
    sim.wait_for("serving on")
    daemon = Proc(battwatch("run", "-c", str(cfg)))
    try:
        daemon.wait_for(r"ADC silent for")  # every frame has been read
        assert daemon.stop() == 0
        # offline arrives at once: with keepalive 60 the will could not have fired yet
        got = sub.wait(lambda g: any(x.topic == f"{base}/status" and x.payload == b"offline" for x in g),
                       timeout=5, what="offline on SIGTERM")
    finally:
        daemon.kill()
        sim.stop()
        sub.close()
    windows = [x.json() for x in got if x.topic == f"{base}/readings"]
    assert [w["window"]["start_t"] for w in windows] == [T0 + 60 * k for k in range(5)]
    assert sum(w["samples"] for w in windows) == 300  # the last, partial window too
    assert _outbox_rows(store) == 0


def test_replay_publish_backfills_the_same_messages_the_live_daemon_sent(
    mosquitto: Mosquitto, tmp_path: Path, battwatch_bin: str
) -> None:
    """Live through the pty, then `replay --publish` of the daemon's own CSV log: same windows."""
    log, link, store = tmp_path / "log.csv", tmp_path / "adc", tmp_path / "store"
    _write_log(log, 600)
    cfg = _config(tmp_path / "c.toml", mosquitto, link, store, keepalive=30, interval=60)
    base = f"battwatch/{VEHICLE}"
    live = Subscriber(mosquitto.host, mosquitto.port, (f"{base}/readings",)).ready()
    sim = Proc(battwatch("adc-sim", "--csv", str(log), "--speed", "0", "--link", str(link), "--wait-hello"))
    sim.wait_for("serving on")
    daemon = Proc(battwatch("run", "-c", str(cfg)))
    try:
        daemon.wait_for(r"ADC silent for")
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        sim.stop()
    live_windows = live.wait(lambda g: sum(x.json()["samples"] for x in g) == 600, what="600 live samples")
    live.close()

    daily = sorted((store / "logs").glob("*.csv"))
    assert len(daily) == 1
    backfill = Subscriber(mosquitto.host, mosquitto.port, (f"{base}/#",)).ready()
    res = subprocess.run([battwatch_bin, "replay", str(daily[0]), "-c", str(cfg), "--publish"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    jsonl = subprocess.run([battwatch_bin, "replay", str(daily[0]), "-c", str(cfg), "--jsonl"],
                           capture_output=True, text=True, timeout=120)
    expected_events = []
    for line in jsonl.stdout.splitlines():
        d = json.loads(line)
        tr = AlertTransition(parse_time(d["time"]), d["vehicle"], d["battery"], d["alert"], d["severity"],
                             d["state"], d["value"], d["message"])
        expected_events.append(enc.event_id(tr))
    got = backfill.wait(
        lambda g: sum(x.json()["samples"] for x in g if x.topic == f"{base}/readings") == 600
        and len([x for x in g if _alert_event(x, base)]) == len(expected_events)
        and any(x.topic == f"{base}/state" for x in g),
        what="the backfill",
    )
    backfill.close()
    # byte for byte: a backfill from the log is indistinguishable from what the car sent live
    assert [x.payload for x in got if x.topic == f"{base}/readings"] == [x.payload for x in live_windows]
    assert [x.json()["event_id"] for x in got if _alert_event(x, base)] == expected_events
    state = [x.json() for x in got if x.topic == f"{base}/state"][-1]
    assert state["t"] == T0 + 600 and state["main"]["voltage_v"] == pytest.approx(12.6 - 599e-4, abs=1e-3)
    assert _outbox_rows(store) == 0


def test_sigterm_during_an_outage_keeps_the_backlog_for_the_next_start(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """Broker down: the daemon queues, stops cleanly, and the next daemon run delivers."""
    log, link, store = tmp_path / "log.csv", tmp_path / "adc", tmp_path / "store"
    _write_log(log, 300)
    cfg = _config(tmp_path / "c.toml", mosquitto, link, store, keepalive=30, interval=60)
    stop_fresh_broker(mosquitto)
    sim = Proc(battwatch("adc-sim", "--csv", str(log), "--speed", "0", "--link", str(link), "--wait-hello"))
    sim.wait_for("serving on")
    daemon = Proc(battwatch("run", "-c", str(cfg)))
    try:
        daemon.wait_for(r"ADC silent for")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(TIMEOUT) == 0
    finally:
        daemon.kill()
        sim.stop()
    queued = _outbox_rows(store)
    assert queued >= 5  # five windows and the summaries, all waiting
    mosquitto.start()
    base = f"battwatch/{VEHICLE}"
    sub = Subscriber(mosquitto.host, mosquitto.port, (f"{base}/readings",)).ready()
    # a fresh daemon on the same store; the ADC is gone, the backlog is what it has to send
    again = Proc(battwatch("run", "-c", str(cfg)))
    try:
        got = sub.wait(lambda g: sum(x.json()["samples"] for x in g) == 300, what="the backlog")
        assert again.stop() == 0
    finally:
        again.kill()
        sub.close()
    assert [x.json()["window"]["start_t"] for x in got] == [T0 + 60 * k for k in range(5)]
    assert _outbox_rows(store) == 0


SCENARIO = "sos-step-drop"  # a cell shorts on day 9: step_drop and low_voltage, both critical


def test_alerts_from_frames_on_the_pty_reach_a_phone_subscriber(mosquitto: Mosquitto, tmp_path: Path) -> None:
    link, store = tmp_path / "adc", tmp_path / "store"
    cfg = _config(tmp_path / "c.toml", mosquitto, link, store, keepalive=30, interval=3600,
                  extra=_battery_toml(SCENARIO))
    expected = {(a.split(":")[0], a.split(":")[1]) for a in scenarios.expected_alerts(SCENARIO)}
    base = f"battwatch/{VEHICLE}"
    sub = Subscriber(mosquitto.host, mosquitto.port, (f"{base}/#",)).ready()
    sim = Proc(battwatch("adc-sim", "--scenario", SCENARIO, "--speed", "0", "--link", str(link), "--wait-hello"))
    sim.wait_for("serving on")
    daemon = Proc(battwatch("run", "-c", str(cfg)))
    try:
        got = sub.wait(
            lambda g: {(x.json()["battery"], x.json()["alert"]) for x in g
                       if _alert_event(x, base) and x.json()["state"] == "raised"} >= expected
            and len([x for x in g if x.topic == f"{base}/notify"]) >= len(expected),
            timeout=90, what="the scenario's alerts",
        )
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        sim.stop()
        sub.close()
    notes = [x.json() for x in got if x.topic == f"{base}/notify"]
    assert all(n["title"].endswith(", Test X1") and len(n["title"]) + len(n["message"]) <= 180 for n in notes)
    assert any("SOS backup battery" in n["title"] for n in notes)
    late = Subscriber(mosquitto.host, mosquitto.port, (f"{base}/alerts/#",)).ready()
    # every alert kind has a retained state (inactive ones too): wait for the scenario's own
    retained = late.wait(lambda g: {(x.json()["battery"], x.json()["alert"]) for x in g} >= expected,
                         what="retained alert states")
    late.close()
    states = {(x.json()["battery"], x.json()["alert"]): x.json() for x in retained}
    for key in expected:
        assert states[key]["active"] is True and states[key]["severity"] == "critical"


def test_replay_publish_sends_every_alert_transition(mosquitto: Mosquitto, tmp_path: Path, battwatch_bin: str) -> None:
    log, store = tmp_path / "scenario.csv", tmp_path / "store"
    with log.open("w") as fh:
        rows = write_csv(fh, scenarios.generate(SCENARIO, seed=0), VEHICLE)
    cfg = _config(tmp_path / "c.toml", mosquitto, tmp_path / "no-adc", store, keepalive=30, interval=3600,
                  extra=_battery_toml(SCENARIO))
    jsonl = subprocess.run([battwatch_bin, "replay", str(log), "-c", str(cfg), "--jsonl"],
                           capture_output=True, text=True, timeout=120)
    transitions = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert {(d["battery"], d["alert"]) for d in transitions} >= {
        tuple(a.split(":")) for a in scenarios.expected_alerts(SCENARIO)}
    expected_ids = [
        enc.event_id(AlertTransition(parse_time(d["time"]), d["vehicle"], d["battery"], d["alert"],
                                     d["severity"], d["state"], d["value"], d["message"]))
        for d in transitions
    ]
    base = f"battwatch/{VEHICLE}"
    sub = Subscriber(mosquitto.host, mosquitto.port, (f"{base}/#",)).ready()
    res = subprocess.run([battwatch_bin, "replay", str(log), "-c", str(cfg), "--publish"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    got = sub.wait(
        lambda g: len([x for x in g if _alert_event(x, base)]) == len(expected_ids)
        and sum(x.json()["samples"] for x in g if x.topic == f"{base}/readings") == rows,
        what="every transition and every reading",
    )
    sub.close()
    events = [x.json() for x in got if _alert_event(x, base)]
    assert [e["event_id"] for e in events] == expected_ids  # none lost, none doubled, in order
    assert [e["time"] for e in events] == [d["time"] for d in transitions]  # original timestamps
    # every transition reaches the phone (a recovery as an all-clear), each under its alert's tag
    notes = [x.json() for x in got if x.topic == f"{base}/notify"]
    assert [n["event_id"] for n in notes] == expected_ids
    assert {n["tag"] for n in notes} == {f"battwatch-{VEHICLE}-{d['battery']}-{d['alert']}" for d in transitions}
    windows = [x.json()["window"]["start_t"] for x in got if x.topic == f"{base}/readings"]
    assert windows == sorted(windows) and len(windows) == len(set(windows))
    # replay --publish is a backfill: its own outbox, no will, the car's identity untouched
    assert _outbox_rows(store, "mqtt-backfill-outbox.sqlite3") == 0
