"""The real logs of /work/shared/real-logs, converted, replayed through the CLI and held to EXPECTATIONS.md.

Shared by ``test_real_log_expectations.py`` and the detection benchmark (``bench/bench_detection.py``).
Each check returns what is wrong (an empty list when the log is judged as written down before
it was ever replayed). The logs are converted into the CSV log contract in a temporary
directory: they are not ours to commit.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

LOGS = Path("/work/shared/real-logs")
Row = tuple[float, float | None, float | None, float | None]
HEADER = ["time", "main_v", "sos_v", "temp_c"]
LEVEL = {"info": 1, "warning": 2, "critical": 3}


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def write_contract(path: Path, rows: list[Row]) -> int:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for t, main, sos, temp in rows:
            w.writerow([iso(t), "" if main is None else f"{main:.3f}", "" if sos is None else f"{sos:.4f}",
                        "" if temp is None else f"{temp:.1f}"])
    return len(rows)


def _dedup(rows: list[Row]) -> list[Row]:
    rows = sorted(rows)
    return [r for i, r in enumerate(rows) if i == 0 or r[0] > rows[i - 1][0]]


def upsplus() -> list[Row]:
    base = datetime(2021, 4, 28, 20, 34, 26, tzinfo=UTC).timestamp()
    with (LOGS / "upsplusv5_liion_rpi_discharge_2021-04-28.csv").open(newline="") as fh:
        return _dedup([(base + float(rec[0]), None, float(rec[1]) / 1000.0, None) for rec in list(csv.reader(fh))[1:]])


def r27() -> list[Row]:
    text = (LOGS / "bmw_r27_6v_rest_and_ride_2022-09-24.utf16.csv").read_bytes().decode("utf-16")
    berlin = ZoneInfo("Europe/Berlin")
    rows: list[Row] = []
    for rec in list(csv.reader(io.StringIO(text)))[1:]:
        if len(rec) < 3 or not rec[2].strip():
            continue
        local = datetime.strptime(rec[1].strip(), "%d.%m.%Y %H:%M:%S").replace(tzinfo=berlin)
        rows.append((local.timestamp(), float(rec[2].replace(",", ".")), None, None))
    return _dedup(rows)


def carl() -> list[Row]:
    ny = ZoneInfo("America/New_York")
    rows: list[Row] = []
    with (LOGS / "carl_nimh8_battV-3-charge-discharge-cycles.csv").open(newline="") as fh:
        for rec in list(csv.reader(fh))[1:]:
            if len(rec) < 2 or not rec[1].strip():
                continue
            local = datetime.strptime(rec[0].strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=ny)
            rows.append((local.timestamp(), None, float(rec[1]), None))
    return _dedup(rows)


def nasa_summary() -> list[Row]:
    base = datetime(2008, 4, 2, 12, tzinfo=UTC).timestamp()
    with (LOGS / "nasa_B0005_cycle_summary.csv").open(newline="") as fh:
        return _dedup([(base + (int(r["discharge"]) - 1) * 86400.0, None, float(r["voltage"]), float(r["temperature"]))
                       for r in csv.DictReader(fh)])


def nasa_cycle(cycle: str) -> Callable[[], list[Row]]:
    def rows() -> list[Row]:
        base = datetime(2008, 4, 2, 12, tzinfo=UTC).timestamp()
        with (LOGS / f"nasa_B0005_discharge_cycle{cycle}.csv").open(newline="") as fh:
            return _dedup([(base + float(r["discharge_time"]), None, float(r["voltage"]), float(r["temperature"]))
                           for r in csv.DictReader(fh)])
    return rows


@dataclass
class Verdict:
    """What the CLI said about one log: the --jsonl transitions and `status --json`'s summary."""

    rows: int
    transitions: list[dict[str, Any]]
    summary: dict[str, Any]
    stderr: str

    def raised(self, battery: str | None = None) -> list[dict[str, Any]]:
        return [d for d in self.transitions if d["state"] == "raised" and battery in (None, d["battery"])]

    def active_at_end(self, battery: str, alert: str) -> int:
        """The severity level of an alert at the end of the log (0 when not active)."""
        level = 0
        for d in self.transitions:
            if (d["battery"], d["alert"]) == (battery, alert):
                level = LEVEL[d["severity"]] if d["state"] == "raised" else 0
        return level


def replay(rows: list[Row], config: str, tmp: Path, battwatch_bin: str | None = None) -> Verdict:
    """``battwatch replay --jsonl --store`` then ``battwatch status --json``, as a user would."""
    exe = battwatch_bin or str(Path(sys.executable).parent / "battwatch")
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "log.csv"
    n = write_contract(log, rows)
    store = tmp / "store"
    cfg = tmp / "battwatch.toml"
    cfg.write_text(f'[vehicle]\nid = "reallog"\n{config}\n[store]\npath = "{store}"\n')
    done = subprocess.run([exe, "replay", str(log), "-c", str(cfg), "--jsonl", "--store", str(store)],
                          check=True, capture_output=True, text=True, timeout=600)
    trs = [json.loads(x) for x in done.stdout.splitlines() if x.strip()]
    st = subprocess.run([exe, "status", "-c", str(cfg), "--json"], check=True, capture_output=True, text=True,
                        timeout=120)
    return Verdict(n, trs, json.loads(st.stdout).get("summary") or {}, done.stderr)


def is_config_alert(alert: str) -> bool:
    return "config" in alert or "mismatch" in alert


def common(v: Verdict, channels: set[str]) -> list[str]:
    """What holds for every log: rows read, no sensor faults, nothing about a missing channel."""
    bad = []
    if f"replayed {v.rows} readings (0 rows skipped)" not in v.stderr:
        bad.append(f"rows skipped or missing: {v.stderr.strip()[-200:]}")
    for d in v.transitions:
        if d["alert"] == "sensor_fault":
            bad.append(f"sensor_fault on {d['battery']} at {d['time']}")
        if d["battery"] not in channels and d["state"] == "raised" and not is_config_alert(d["alert"]):
            bad.append(f"{d['battery']}/{d['alert']} {d['severity']} with no {d['battery']} channel in the log")
        if "nan" in d["message"].lower().split() or not d["message"].endswith("."):
            bad.append(f"odd message: {d['message'][:80]!r}")
    return bad


def health(v: Verdict, battery: str) -> str:
    return str((v.summary.get(battery) or {}).get("health"))


def want_level(v: Verdict, battery: str, alert: str, level: str, bad: list[str], after: float | None = None,
               by: float | None = None) -> None:
    hits = [d for d in v.raised(battery) if d["alert"] == alert and LEVEL[d["severity"]] >= LEVEL[level]]
    if not hits:
        got = sorted({f"{d['battery']}/{d['alert']} {d['severity']}" for d in v.raised()})
        bad.append(f"no {battery}/{alert} {level} or above (raised: {got or 'nothing'})")
        return
    t = datetime.fromisoformat(hits[0]["time"]).timestamp()
    if after is not None and t < after:
        bad.append(f"{battery}/{alert} {hits[0]['severity']} at {hits[0]['time']}, before the data justify it")
    if by is not None and t > by:
        bad.append(f"{battery}/{alert} {hits[0]['severity']} only at {hits[0]['time']}")


def none_of(v: Verdict, battery: str, alerts: set[str], bad: list[str], above: str = "info") -> None:
    for d in v.raised(battery):
        if d["alert"] in alerts and LEVEL[d["severity"]] > LEVEL.get(above, 0):
            bad.append(f"{battery}/{d['alert']} {d['severity']} at {d['time']}")


def one_config_problem(v: Verdict, battery: str, bad: list[str], words: tuple[str, ...] = ()) -> None:
    cfg = [d for d in v.raised(battery) if is_config_alert(d["alert"])]
    if not cfg:
        bad.append(f"no configuration problem for {battery}")
    elif len({d["alert"] for d in cfg}) != 1 or len(cfg) > 2:
        bad.append(f"{len(cfg)} configuration-problem transitions for {battery}")
    else:
        for w in words:
            if w not in cfg[0]["message"]:
                bad.append(f"the configuration problem does not say {w!r}: {cfg[0]['message'][:160]!r}")
    others = sorted({f"{d['alert']} {d['severity']}" for d in v.raised(battery)
                     if not is_config_alert(d["alert"]) and d["severity"] != "info"})
    if others:
        bad.append(f"{battery} battery alerts besides the configuration problem: {others}")
    if any("$" in d["message"] for d in v.raised(battery)):
        bad.append(f"a {battery} message quotes a repair price")


LI1 = '[battery.sos]\nchemistry = "li-ion"\ncells = 1'
NIMH8 = '[battery.sos]\nchemistry = "nimh"\ncells = 8'


def check_upsplus_li1(v: Verdict, rows: list[Row]) -> list[str]:
    bad = common(v, {"sos"})
    below = next(t for t, _, s, _ in rows if s is not None and s < 3.60)
    want_level(v, "sos", "low_voltage", "warning", bad, after=below)
    if v.active_at_end("sos", "low_voltage") < 2:
        bad.append("no sos/low_voltage warning or critical active at the end")
    none_of(v, "sos", {"step_drop", "decline"}, bad, above="")
    if any(is_config_alert(d["alert"]) for d in v.raised()):
        bad.append("a configuration problem for a correctly configured cell")
    sos = v.summary.get("sos") or {}
    life, text = sos.get("remaining_life_years"), str(sos.get("remaining_life_text"))
    if life is None or life > 7 / 365.25 or "month" in text or "year" in text:
        bad.append(f"remaining life promises more than the data show: {life} ({text!r})")
    if not health(v, "main").startswith("unknown"):
        bad.append(f"12 V verdict {health(v, 'main')!r} without a 12 V channel")
    return bad


def check_upsplus_default(v: Verdict, rows: list[Row]) -> list[str]:
    bad = common(v, {"sos"})
    one_config_problem(v, "sos", bad, ("[battery.sos]",))
    return bad


def check_r27(v: Verdict, rows: list[Row]) -> list[str]:
    bad = common(v, {"main"})
    # there is no [battery.main] key for another system voltage (EXPECTATIONS.md, correction):
    # the message says what the readings look like and names the key that does exist
    one_config_problem(v, "main", bad, ("6 V", "12 V starter batteries only", "[adc.calibration.main]"))
    return bad


def check_carl_nimh8(v: Verdict, rows: list[Row]) -> list[str]:
    bad = common(v, {"sos"})
    want_level(v, "sos", "low_voltage", "warning", bad)
    none_of(v, "sos", {"step_drop"}, bad, above="")
    if any(is_config_alert(d["alert"]) for d in v.raised()):
        bad.append("a configuration problem for a correctly configured pack")
    return bad


def check_carl_default(v: Verdict, rows: list[Row]) -> list[str]:
    bad = common(v, {"sos"})
    one_config_problem(v, "sos", bad, ("[battery.sos]",))
    return bad


def check_nasa_summary(v: Verdict, rows: list[Row]) -> list[str]:
    bad = common(v, {"sos"})
    want_level(v, "sos", "low_voltage", "warning", bad, by=rows[0][0] + 3 * 86400.0)
    none_of(v, "sos", {"decline"}, bad, above="")
    none_of(v, "sos", {"step_drop"}, bad, above="warning")
    if any(is_config_alert(d["alert"]) for d in v.raised()):
        bad.append("a configuration problem for a correctly configured cell")
    return bad


def check_nasa_cycle(v: Verdict, rows: list[Row]) -> list[str]:
    bad = common(v, {"sos"})
    none_of(v, "sos", {"step_drop"}, bad, above="")
    none_of(v, "sos", {"low_voltage"}, bad, above="info")
    if any(is_config_alert(d["alert"]) for d in v.raised()):
        bad.append("a configuration problem for a correctly configured cell")
    if health(v, "sos") == "good":
        bad.append("the pack is called good after an hour under load")
    return bad


@dataclass(frozen=True)
class RealLog:
    name: str
    file: str
    rows: Callable[[], list[Row]]
    config: str
    check: Callable[[Verdict, list[Row]], list[str]]
    expectation: str


REAL_LOGS = (
    RealLog("upsplus-li-ion-1", "upsplusv5_liion_rpi_discharge_2021-04-28.csv", upsplus, LI1, check_upsplus_li1,
            "1-cell Li-ion: sos/low_voltage ≥ warning after it passes 3.60 V, active at the end; life under a week; 12 V unknown"),
    RealLog("upsplus-default", "upsplusv5_liion_rpi_discharge_2021-04-28.csv", upsplus, "", check_upsplus_default,
            "default 4-cell NiMH: one configuration problem naming [battery.sos], no SOS battery alerts or prices"),
    RealLog("r27-default", "bmw_r27_6v_rest_and_ride_2022-09-24.utf16.csv", r27, "", check_r27,
            "default 12 V: one configuration problem (\"6 V\", 12 V only, [adc.calibration.main]), no 12 V battery alerts"),
    RealLog("carl-nimh8", "carl_nimh8_battV-3-charge-discharge-cycles.csv", carl, NIMH8, check_carl_nimh8,
            "8-cell NiMH: sos/low_voltage ≥ warning; no step_drop at dock/undock; no configuration problem"),
    RealLog("carl-default", "carl_nimh8_battV-3-charge-discharge-cycles.csv", carl, "", check_carl_default,
            "default 4-cell NiMH: one configuration problem naming [battery.sos]"),
    RealLog("nasa-b0005-daily", "nasa_B0005_cycle_summary.csv", nasa_summary, LI1, check_nasa_summary,
            "1-cell Li-ion, daily: sos/low_voltage ≥ warning within 3 days; no decline, no critical step"),
    RealLog("nasa-b0005-cycle001", "nasa_B0005_discharge_cycle001.csv", nasa_cycle("001"), LI1, check_nasa_cycle,
            "1-cell Li-ion, one hour under load: no warning owed, but not called good; no step, no fault"),
    RealLog("nasa-b0005-cycle168", "nasa_B0005_discharge_cycle168.csv", nasa_cycle("168"), LI1, check_nasa_cycle,
            "1-cell Li-ion, one aged discharge: as cycle 1"),
)


def judge(log: RealLog, tmp: Path, battwatch_bin: str | None = None) -> tuple[Verdict, list[str]]:
    rows = log.rows()
    v = replay(rows, log.config, tmp, battwatch_bin)
    return v, log.check(v, rows)
