"""``battwatch status``: the one screen for an owner or a mechanic, read from the store."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from typing import Any

from battwatch.core.timefmt import iso_utc


def collect(cfg: Any) -> dict[str, Any]:
    """Everything status shows, as plain data (read-only: the daemon may be running)."""
    path = cfg.store.path / "battwatch.sqlite3"
    if not path.exists():
        return {"vehicle": cfg.vehicle.id, "store": str(path), "error": "no store yet: has the daemon run?"}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        kv = dict(db.execute("SELECT key, value FROM kv").fetchall())
        summary = json.loads(kv.get("summary", "{}"))
        last = db.execute(
            "SELECT t, main_v, sos_v, temp_c FROM readings ORDER BY t DESC LIMIT 1"
        ).fetchone()
        count = db.execute("SELECT count(*) FROM readings").fetchone()[0]
        events = db.execute(
            "SELECT t, battery, alert, severity, state, message FROM events ORDER BY t DESC, id DESC LIMIT 10"
        ).fetchall()
    finally:
        db.close()
    return {
        "vehicle": cfg.vehicle.id,
        "store": str(path),
        "readings": count,
        "last_reading": None if last is None else {
            "time": iso_utc(last[0]), "main_v": last[1], "sos_v": last[2], "temp_c": last[3],
        },
        "summary": summary,
        "recent_events": [
            {"time": iso_utc(e[0]), "battery": e[1], "alert": e[2], "severity": e[3],
             "state": e[4], "message": e[5]}
            for e in events
        ],
    }


def render(info: dict[str, Any]) -> str:
    lines = [f"battwatch status: vehicle {info['vehicle']}"]
    if "error" in info:
        return "\n".join(lines + [f"  {info['error']} ({info['store']})"])
    last = info["last_reading"]
    lines.append(f"  store: {info['store']} ({info['readings']} readings)")
    if last:
        lines.append(
            f"  last reading {last['time']}: 12 V {last['main_v']} V, SOS {last['sos_v']} V, "
            f"{last['temp_c']} °C"
        )
    summary = info["summary"]
    for battery in ("main", "sos"):
        b = summary.get(battery)
        if not b:
            continue
        lines.append(f"  {battery}:")
        for key, value in b.items():
            if key != "alerts":
                lines.append(f"    {key}: {value}")
        for a in b.get("alerts", []):
            lines.append(f"    ALERT {a['alert']} ({a['severity']}): {a['message']}")
    link = summary.get("link")
    if link:
        lines.append(
            "  serial: {frames} frames, {lost_frames} lost, {bad_lines} bad lines, "
            "{device_reboots} device reboots".format(**link)
        )
    if info["recent_events"]:
        lines.append("  recent alert transitions:")
        for e in info["recent_events"]:
            lines.append(f"    {e['time']} {e['battery']}/{e['alert']} {e['severity']} {e['state']}")
    return "\n".join(lines)


def run_status(args: argparse.Namespace) -> int:
    from battwatch.cli import load_config

    cfg = load_config(args.config, required=True)
    info = collect(cfg)
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        print()
    else:
        print(render(info))
    return 0 if "error" not in info else 1
