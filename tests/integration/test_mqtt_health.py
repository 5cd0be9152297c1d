"""The health verdict over a real Mosquitto: `unknown` with its reason in the retained state, and
Home Assistant's enum sensors advertised with every value the state can carry."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from test_mqtt_sink import Subscriber  # shared by the MQTT tests

from battwatch import config
from battwatch.core import ha_discovery
from battwatch.core.healthsummary import from_json
from battwatch.core.model import HEALTH_WORDS, HealthSummary
from battwatch.sinks.mqtt import MqttSink
from servers import Mosquitto

pytestmark = pytest.mark.servers

T0 = 1_735_725_600  # 2025-01-01 10:00 UTC
VEHICLE = "health-car"
HEADER = "time,main_v,main_v_min,main_v_max,sos_v,sos_v_min,sos_v_max,temp_c"


def _log(path: Path, parked_h: float) -> Path:
    """Eight minutes of driving (no start, too short to judge), then ``parked_h`` hours parked."""
    rows = [HEADER]
    t = T0
    for i in range(48):
        v = 14.1 + 0.01 * (i % 5)
        rows.append(f"{t},{v:.3f},{v - 0.15:.3f},{v + 0.3:.3f},5.450,5.448,5.452,12.0")
        t += 10
    for i in range(int(parked_h * 6)):
        v = 12.70 - 0.0005 * i
        rows.append(f"{t},{v:.4f},{v - 0.003:.4f},{v + 0.003:.4f},{5.30 - 0.0002 * i:.4f},"
                    f"{5.298 - 0.0002 * i:.4f},{5.302 - 0.0002 * i:.4f},12.0")
        t += 600
    path.write_text("\n".join(rows) + "\n")
    return path


def _config(path: Path, broker: Mosquitto, store: Path) -> Path:
    path.write_text(
        f'[vehicle]\nid = "{VEHICLE}"\n[store]\npath = "{store}"\n'
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nkeepalive = 10\n'
        "readings_interval = 3600\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n"
    )
    return path


@pytest.mark.parametrize("parked_h, main, sos", [
    (0.0, ("unknown", "no rested reading yet: the car has not been parked 4 h; no engine start, and no "
                      "drive of 10 min or more"),
     ("unknown", "no rested reading yet: the car has not been parked 2 h")),
    (3.0, ("unknown", "no rested reading yet: the car has not been parked 4 h; no engine start, and no "
                      "drive of 10 min or more"), ("good", None)),
    (5.0, ("good", None), ("good", None)),
])
def test_replay_publish_states_the_verdict_and_home_assistant_accepts_it(
    mosquitto: Mosquitto, tmp_path: Path, battwatch_bin: str, parked_h: float,
    main: tuple[str, str | None], sos: tuple[str, str | None],
) -> None:
    store = tmp_path / "store"
    cfg = _config(tmp_path / "c.toml", mosquitto, store)
    log = _log(tmp_path / "log.csv", parked_h)
    last_t = float(log.read_text().splitlines()[-1].split(",")[0])
    base = f"battwatch/{VEHICLE}"
    sub = Subscriber(mosquitto.host, mosquitto.port, (f"{base}/#", "homeassistant/#")).ready()
    res = subprocess.run([battwatch_bin, "replay", str(log), "-c", str(cfg), "--publish", "--store", str(store)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    got = sub.wait(lambda g: any(x.topic == f"{base}/state" and x.json()["t"] == last_t for x in g),
                   what="the state at the end of the log")
    state = [x for x in got if x.topic == f"{base}/state"][-1].json()
    assert (state["main"]["health"], state["main"]["health_reason"]) == main
    assert (state["sos"]["health"], state["sos"]["health_reason"]) == sos
    # the daemon's sink (a backfill sends no discovery) with the summary the replay stored
    db = sqlite3.connect(store / "battwatch.sqlite3")
    try:
        summary = json.loads(db.execute("SELECT value FROM kv WHERE key = 'summary'").fetchone()[0])
    finally:
        db.close()
    sink = MqttSink(config.load(cfg, env={}), tmp_path / "live")
    sink.start()
    try:
        sink.summary(HealthSummary(last_t, VEHICLE, from_json(summary, vehicle=VEHICLE, t=last_t)))
    finally:
        sink.close(30)
    n_ha = sum(1 for spec in ha_discovery.SENSORS)
    got = sub.wait(lambda g: len({x.topic for x in g if x.topic.startswith("homeassistant/sensor/")}) >= n_ha,
                   what="the sensors' discovery")
    sub.close()
    live = [x for x in got if x.topic == f"{base}/state"][-1].json()
    for battery in ("main", "sos"):
        assert live[battery]["health"] == state[battery]["health"]
        topic = f"homeassistant/sensor/battwatch_{VEHICLE}/{battery}_health/config"
        (ha,) = [x.json() for x in got if x.topic == topic]
        assert ha["device_class"] == "enum" and "state_class" not in ha
        assert ha["options"] == list(HEALTH_WORDS) and state[battery]["health"] in ha["options"]
        assert ha["state_topic"] == f"{base}/state" and ha["json_attributes_topic"] == f"{base}/state"
        assert ha["value_template"] == f"{{{{ value_json.{battery}.health or 'unknown' }}}}"
