"""Run by Home Assistant's own Python (scripts/provision-ha.sh): validate discovery payloads.

Reads [{"topic", "payload"}] as JSON on stdin; for each, expands the abbreviations and applies
the component's DISCOVERY_SCHEMA the way Home Assistant's MQTT discovery does; prints
[{"topic", "error", "kept"}] as JSON (``kept``: the keys the schema let through).
"""

from __future__ import annotations

import importlib
import json
import sys

import homeassistant.const
import voluptuous as vol
from homeassistant.components.mqtt.abbreviations import ABBREVIATIONS, DEVICE_ABBREVIATIONS


def expand(payload: dict) -> dict:
    out = {ABBREVIATIONS.get(k, k): v for k, v in payload.items()}
    if isinstance(out.get("device"), dict):
        out["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in out["device"].items()}
    return out


def main() -> None:
    results = []
    for item in json.load(sys.stdin):
        component = item["topic"].split("/")[1]
        module = importlib.import_module(f"homeassistant.components.mqtt.{component}")
        payload = expand(item["payload"])
        try:
            kept = module.DISCOVERY_SCHEMA(payload)
            results.append({"topic": item["topic"], "error": None, "kept": sorted(kept)})
        except vol.Invalid as e:
            results.append({"topic": item["topic"], "error": str(e), "kept": []})
    print(json.dumps({"version": homeassistant.const.__version__, "results": results}))


if __name__ == "__main__":
    main()
