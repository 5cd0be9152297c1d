"""Every discovery payload passes the MQTT schemas of the oldest supported Home Assistant release."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from battwatch import __version__
from battwatch.core import ha_discovery
from battwatch.core.mqtt_encode import Topics
from battwatch.sinks.mqtt import catalogue_kinds

ROOT = Path(__file__).resolve().parents[2]


def _ha_python() -> str:
    # cached after the first run (make test provisions it first; a bare pytest does it here)
    done = subprocess.run(["bash", str(ROOT / "scripts/provision-ha.sh")], capture_output=True, text=True,
                          timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_discovery_passes_home_assistant_minimum_version_schemas(tmp_path: Path) -> None:
    from battwatch.config import load

    cfg_path = tmp_path / "b.toml"
    cfg_path.write_text('[vehicle]\nid = "x1-f48-ab123"\nmodel = "BMW X1 F48"\n')
    kinds = catalogue_kinds(load(cfg_path))
    msgs = ha_discovery.discovery_messages(Topics("battwatch", "x1-f48-ab123"), model="BMW X1 F48",
                                           sw_version=__version__, alert_kinds=kinds)
    sent = [{"topic": m.topic, "payload": json.loads(m.payload)} for m in msgs]
    done = subprocess.run([_ha_python(), str(ROOT / "tests/ha_schema_check.py")], input=json.dumps(sent),
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["version"].startswith(ha_discovery.HA_MIN_VERSION + ".")
    errors = [(r["topic"], r["error"]) for r in report["results"] if r["error"]]
    assert errors == []
    assert len(report["results"]) == len(sent) and any("/binary_sensor/" in r["topic"] for r in report["results"])
    for r, item in zip(report["results"], sent, strict=True):
        # the key that names the entity on this release is one the schema keeps
        assert "object_id" in r["kept"], r["topic"]
        assert item["payload"]["object_id"] == item["payload"]["default_entity_id"].split(".", 1)[1]
