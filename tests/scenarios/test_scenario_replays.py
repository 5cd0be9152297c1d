"""Every simulated scenario through ``battwatch replay --jsonl``: exactly its expected transitions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from expected import EXPECTED, INFO_ALLOWED, MESSAGES, SLOW

from battwatch import scenarios
from battwatch.core.analysis import briefs
from battwatch.core.timefmt import parse_time

DAY_S = 86400.0
RANK = {"info": 1, "warning": 2, "critical": 3}


def toml(data: dict[str, Any], prefix: str = "") -> list[str]:
    """A nested dict of scalars and lists as TOML tables (enough for scenario_config)."""
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    if prefix and scalars:
        lines.append(f"[{prefix}]")
    for k, v in scalars.items():
        # a date is a TOML date, not text: installed = 2021-10-15
        lines.append(f"{k} = {v}" if k == "installed" else f"{k} = {json.dumps(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            lines += toml(v, f"{prefix}.{k}" if prefix else k)
    return lines


def replay(name: str, tmp: Path, battwatch_bin: str) -> list[dict[str, Any]]:
    log = tmp / f"{name}.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", name, "-o", str(log)], check=True,
                   capture_output=True, timeout=300)
    cfg = tmp / f"{name}.toml"
    cfg.write_text("\n".join(toml(scenarios.scenario_config(name))) + "\n")
    done = subprocess.run([battwatch_bin, "replay", str(log), "-c", str(cfg), "--jsonl"], check=True,
                          capture_output=True, text=True, timeout=300)
    assert "rows skipped" in done.stderr and "(0 rows skipped)" in done.stderr, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def params() -> list[Any]:
    return [
        pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
        for n in scenarios.names()
    ]


def test_every_scenario_has_an_expectation() -> None:
    assert set(scenarios.names()) == set(EXPECTED)
    for name in scenarios.names():
        meant = set(scenarios.expected_alerts(name))
        raised = {f"{b}:{a}" for b, a, sev, state, *_ in EXPECTED[name] if state == "raised" and sev != "info"}
        # what the simulator means a scenario to raise is raised (extra findings are explained
        # in expected.py)
        assert meant <= raised, (name, meant - raised)


@pytest.mark.parametrize("name", params())
def test_scenario_transitions(name: str, tmp_path: Path, battwatch_bin: str) -> None:
    got = replay(name, tmp_path, battwatch_bin)
    start = scenarios.DEFAULT_START
    seen = [(d["battery"], d["alert"], d["severity"], d["state"]) for d in got]
    want = [e[:4] for e in EXPECTED[name]]
    assert seen == want, "\n".join(
        f"{(parse_time(d['time']) - start) / DAY_S:7.2f} {d['battery']} {d['alert']} {d['severity']} {d['state']}: {d['message']}"
        for d in got
    )
    for d, (_, _, _, _, lo, hi) in zip(got, EXPECTED[name], strict=True):
        day = (parse_time(d["time"]) - start) / DAY_S
        assert lo <= day <= hi, f"{d['alert']} {d['severity']} {d['state']} on day {day:.2f}, expected {lo}-{hi}"
        assert d["vehicle"] == f"sim-{name}"
        assert len(d["message"]) > 40 and d["message"].endswith("."), d["message"]
        # the short words come from the alert's own brief, not the generic stand-in
        sev = 0 if d["state"] == "cleared" else RANK[d["severity"]]
        assert d["headline"] and d["headline"] != briefs.generic(d["alert"], sev).headline, d
    for battery, alert, severity, state, words in MESSAGES.get(name, []):
        msgs = [d["message"] for d in got if (d["battery"], d["alert"], d["severity"], d["state"])
                == (battery, alert, severity, state)]
        assert any(words in m for m in msgs), (alert, words, msgs)
    if not scenarios.expected_alerts(name):
        allowed = {"info"} if name in INFO_ALLOWED else set()
        assert {d["severity"] for d in got} <= allowed, f"false-alarm twin {name} raised {seen}"
