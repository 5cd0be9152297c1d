"""The sos-replaced scenario as logs, a configuration and a store's events, for the replacement tests."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from battwatch import scenarios
from battwatch.core.csvlog import write_csv
from battwatch.core.model import Reading
from battwatch.scenarios.catalogue import REPLACED_SOS_AT

NAME = "sos-replaced"
WHEN = "2025-03-25T10:00:00+00:00"  # REPLACED_SOS_AT


def run(bin_: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bin_, *args], capture_output=True, text=True, timeout=300)


def write_config(path: Path, store: Path) -> Path:
    lines = ['[vehicle]\nid = "car-r"', f'[store]\npath = "{store}"']
    for name, table in scenarios.scenario_config(NAME)["battery"].items():  # type: ignore[attr-defined]
        lines.append(f"[battery.{name}]")
        lines += [f"{k} = {v}" if k == "installed" else f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_logs(d: Path) -> dict[str, Path]:
    """The whole log, and the same cut in two on day 70 (before the garage visit)."""
    rs: list[Reading] = list(scenarios.generate(NAME))
    cut = next(i for i, r in enumerate(rs) if r.t >= REPLACED_SOS_AT - 8 * 86400.0)
    out = {}
    for name, part in (("whole", rs), ("part1", rs[:cut]), ("part2", rs[cut:])):
        with (d / f"{name}.csv").open("w") as fh:
            write_csv(fh, part, "car-r")
        out[name] = d / f"{name}.csv"
    return out


def events(store: Path) -> list[tuple[float, str, str, str, str, str]]:
    db = sqlite3.connect(store / "battwatch.sqlite3")
    try:
        return db.execute("SELECT t, battery, alert, severity, state, message FROM events ORDER BY t, id").fetchall()
    finally:
        db.close()
