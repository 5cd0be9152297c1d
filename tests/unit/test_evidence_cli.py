"""Through the real commands: `replay`, `report` and `status` give "unknown" with what is missing,
count a log's last drive, and say eased where an alert steps down."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

T0 = 1_735_725_600  # 2025-01-01 10:00 UTC
HEADER = "time,main_v,main_v_min,main_v_max,sos_v,sos_v_min,sos_v_max,temp_c"


def _row(t: float, v: float, lo: float, hi: float, s: float) -> str:
    return f"{t:.0f},{v:.3f},{lo:.3f},{hi:.3f},{s:.3f},{s - 0.002:.3f},{s + 0.002:.3f},12.0"


def _drive(t: float, minutes: int, avg: float = 14.15) -> tuple[list[str], float]:
    """A drive under way from the log's start (no start seen), a reading every 10 s."""
    rows = []
    for i in range(minutes * 6):
        v = avg + 0.05 * math.sin(i / 7)
        rows.append(_row(t, v, v - 0.15, v + 0.05, 5.45 + 0.002 * math.sin(i / 5)))
        t += 10
    return rows, t


def _trip(t: float, minutes: int, avg: float) -> tuple[list[str], float]:
    """Awake for 3 minutes, a start (the window's minimum at 10.6 V), then the drive."""
    rows = []
    for i in range(3):
        rows.append(_row(t, 12.55, 12.47, 12.56, 5.30 + 0.001 * i))
        t += 60
    rows.append(_row(t, avg, 10.6, avg + 0.05, 5.31))
    t += 60
    for i in range(minutes):
        v = avg + 0.01 * math.sin(i)
        rows.append(_row(t, v, v - 0.1, v + 0.05, 5.35 + 0.002 * math.sin(i / 3)))
        t += 60
    return rows, t


def _park(t: float, hours: float) -> tuple[list[str], float]:
    rows = []
    for i in range(int(hours * 6)):
        v = 12.70 - 0.0005 * i
        rows.append(_row(t, v, v - 0.003, v + 0.003, 5.30 - 0.0002 * i))
        t += 600
    return rows, t


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def _run(bin_: str, *args: str) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([bin_, *args], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in res.stderr, res.stderr
    return res


def test_report_of_one_drive_counts_and_judges_it(battwatch_bin: str, tmp_path: Path) -> None:
    """The workshop log of the issue: one 78-minute drive, no start, no rest."""
    rows, _ = _drive(T0, 78)
    res = _run(battwatch_bin, "report", str(_write(tmp_path / "one.csv", rows)))
    assert res.returncode == 0, res.stderr
    assert "12 V battery: 0 engine starts; 1 drive\n" in res.stdout
    assert "  health good; " in res.stdout  # the drive was judged: the charging system charged
    assert "  health unknown: no rested reading yet: the car has not been parked 2 h; " in res.stdout


def test_report_of_a_short_drive_says_what_is_missing(battwatch_bin: str, tmp_path: Path) -> None:
    rows, _ = _drive(T0, 8)
    png = tmp_path / "short.png"
    res = _run(battwatch_bin, "report", str(_write(tmp_path / "short.csv", rows)), "--plot", str(png))
    assert res.returncode == 0, res.stderr
    assert ("  health unknown: no rested reading yet: the car has not been parked 4 h; no engine start, "
            "and no drive of 10 min or more; ") in res.stdout
    assert "health good" not in res.stdout
    assert png.stat().st_size > 0


def test_two_trips_on_a_failing_alternator_raise_undercharging(battwatch_bin: str, tmp_path: Path) -> None:
    """The charging rule wants two such drives; the second is the log's last."""
    a, t = _trip(T0, 35, 12.6)
    b, t = _park(t, 1)
    c, _ = _trip(t, 35, 12.6)
    log = _write(tmp_path / "two.csv", a + b + c)
    rep = _run(battwatch_bin, "report", str(log))
    assert "12 V battery: 2 engine starts, " in rep.stdout and "; 2 drives\n" in rep.stdout
    assert re.search(r"^  \S+ \S+  main undercharging\s+warning\s+raised$", rep.stdout, re.M), rep.stdout
    assert "  health attention; " in rep.stdout
    res = _run(battwatch_bin, "replay", str(log), "--jsonl")
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(e["alert"], e["change"]) for e in events if e["battery"] == "main"] == [("undercharging", "raised")]


@pytest.fixture(scope="module")
def recovery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sos-low-voltage-recovery: a pack run flat (critical), then recharged by driving: the
    alert steps down through warning and information before it clears (docs/simulator.md)."""
    out = tmp_path_factory.mktemp("recovery") / "recovery.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", "sos-low-voltage-recovery", "-o", str(out)],
                   check=True, capture_output=True, timeout=300)
    return out


def _changes(lines: list[tuple[str, str, str, str]]) -> list[str]:
    """What each (battery, alert, severity, state) did, worked out from the sequence alone."""
    rank = {"info": 1, "warning": 2, "critical": 3}
    now: dict[tuple[str, str], str] = {}
    out = []
    for battery, alert, severity, state in lines:
        key = (battery, alert)
        before = now.get(key)
        if state == "cleared":
            out.append("cleared")
            now.pop(key, None)
            continue
        out.append("raised" if before is None else "escalated" if rank[severity] > rank[before] else "eased")
        now[key] = severity
    return out


def test_replay_and_report_say_eased_and_count_alerts(battwatch_bin: str, recovery: Path) -> None:
    jsonl = _run(battwatch_bin, "replay", str(recovery), "--jsonl")
    events = [json.loads(line) for line in jsonl.stdout.splitlines()]
    seq = [(e["battery"], e["alert"], e["severity"], e["state"]) for e in events]
    expected = _changes(seq)
    assert [e["change"] for e in events] == expected
    assert ("sos", "low_voltage", "warning", "eased") in [(b, a, s, c) for (b, a, s, _), c in zip(seq, expected, strict=True)]
    text = _run(battwatch_bin, "replay", str(recovery))
    words = [line.split()[4] for line in text.stdout.splitlines()]
    assert words == expected
    rep = _run(battwatch_bin, "report", str(recovery))
    listed = re.findall(r"^  \S+ \S+  (\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", rep.stdout, re.M)
    assert [c for *_, c in listed] == expected
    n = {c: expected.count(c) for c in ("raised", "escalated", "eased", "cleared")}
    assert n["eased"] >= 2 and n["raised"] < len([s for *_, s in seq if s == "raised"])
    assert (f"alerts: {n['raised']} raised, {n['cleared']} cleared ({n['escalated']} escalated, "
            f"{n['eased']} eased)\n") in rep.stdout


def _config(tmp_path: Path, store: Path) -> Path:
    cfg = tmp_path / "battwatch.toml"
    cfg.write_text(f'[vehicle]\nid = "car-1"\n[store]\npath = "{store}"\n')
    return cfg


def test_status_says_unknown_and_why(battwatch_bin: str, tmp_path: Path) -> None:
    rows, _ = _drive(T0, 8)
    store = tmp_path / "store"
    cfg = _config(tmp_path, store)
    assert _run(battwatch_bin, "replay", "-c", str(cfg), str(_write(tmp_path / "short.csv", rows)),
                "--store", str(store)).returncode == 0
    data = json.loads(_run(battwatch_bin, "status", "-c", str(cfg), "--json").stdout)
    main, sos = data["batteries"]["main"], data["batteries"]["sos"]
    assert (main["health"], sos["health"]) == ("unknown", "unknown")
    assert main["health_reason"].startswith("no rested reading yet: the car has not been parked 4 h")
    assert sos["health_reason"] == "no rested reading yet: the car has not been parked 2 h"
    text = _run(battwatch_bin, "status", "-c", str(cfg)).stdout
    assert "  health            unknown: no rested reading yet: the car has not been parked 4 h; no engine start" in text
    assert "  health            unknown: no rested reading yet: the car has not been parked 2 h\n" in text


def test_status_lists_an_easing_as_eased(battwatch_bin: str, tmp_path: Path, recovery: Path) -> None:
    store = tmp_path / "store"
    cfg = _config(tmp_path, store)
    assert _run(battwatch_bin, "replay", "-c", str(cfg), str(recovery), "--store", str(store)).returncode == 0
    data = json.loads(_run(battwatch_bin, "status", "-c", str(cfg), "--json").stdout)
    events = list(reversed(data["recent_events"]))  # newest first there
    seq = [(e["battery"], e["alert"], e["severity"], e["state"]) for e in events]
    assert [e["change"] for e in events] == _changes(seq)
    assert "eased" in [e["change"] for e in events]
    text = _run(battwatch_bin, "status", "-c", str(cfg)).stdout
    assert re.search(r"^  \S+ \S+ UTC sos/low_voltage warning eased: ", text, re.M), text


def test_status_after_a_stored_replay_names_the_drive_still_under_way(battwatch_bin: str, tmp_path: Path) -> None:
    """`replay --store` keeps a log's last drive open for the next part: status must not say
    there was no drive when the workshop log is one 78-minute drive."""
    rows, _ = _drive(T0, 78)
    store = tmp_path / "store"
    cfg = _config(tmp_path, store)
    assert _run(battwatch_bin, "replay", "-c", str(cfg), str(_write(tmp_path / "one.csv", rows)),
                "--store", str(store)).returncode == 0
    main = json.loads(_run(battwatch_bin, "status", "-c", str(cfg), "--json").stdout)["batteries"]["main"]
    assert main["health"] == "unknown"
    assert "no drive of" not in main["health_reason"], main["health_reason"]
    assert main["health_reason"].endswith("no engine start, and the drive under way (78 min so far) is judged "
                                          "when it ends"), main["health_reason"]


def test_status_says_an_active_alert_eased_to_its_severity(battwatch_bin: str, tmp_path: Path) -> None:
    """main-weak-crank ends on a weak_cranking warning eased from critical: the active alert
    says so, in the text and the JSON, and is not read as a new warning."""
    log = tmp_path / "weak.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", "main-weak-crank", "-o", str(log)], check=True,
                   capture_output=True, timeout=120)
    store = tmp_path / "store"
    cfg = _config(tmp_path, store)
    assert _run(battwatch_bin, "replay", "-c", str(cfg), str(log), "--store", str(store)).returncode == 0
    (alert,) = json.loads(_run(battwatch_bin, "status", "-c", str(cfg), "--json").stdout)["alerts"]
    assert (alert["alert"], alert["severity"], alert["change"], alert["previous_severity"]) == (
        "weak_cranking", "warning", "eased", "critical"), alert
    text = _run(battwatch_bin, "status", "-c", str(cfg)).stdout
    assert re.search(r"^  WARNING  main/weak_cranking since \S+ \S+ UTC, eased from critical \(raised ", text,
                     re.M), text
