"""The health verdict on recorded logs from other people's hardware: a channel a log does not
have is "unknown" with that reason, never "good". The logs are converted with ``battwatch import``
as in test_real_logs.py.

Expectations written before the runs, from what each log holds (its README):
* UPSplus (one Li-ion cell, 4.1 h, no 12 V channel): 12 V "unknown: no 12 V channel in the
  readings"; the pack has rested readings (an SOS-only log rests from its first reading, 2 h),
  so its verdict is not "unknown".
* Carl's robot (8-cell NiMH, no 12 V channel): 12 V "unknown: no 12 V channel in the readings".
* BMW R27 (a 6 V motorcycle on the 12 V channel, no SOS tap): SOS "unknown: no SOS readings";
  23 h parked give the 12 V channel rested readings, so its verdict is not "unknown".
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from test_real_logs import import_log, r27_rows, write_config


def _verdicts(log: Path, cfg: Path, store: Path, battwatch_bin: str) -> dict[str, Any]:
    subprocess.run([battwatch_bin, "replay", str(log), "-c", str(cfg), "--store", str(store)], check=True,
                   capture_output=True, text=True, timeout=300)
    done = subprocess.run([battwatch_bin, "status", "-c", str(cfg), "--json"], check=True, capture_output=True,
                          text=True, timeout=120)
    batteries: dict[str, Any] = json.loads(done.stdout)["batteries"]
    return {b: (batteries[b]["health"], batteries[b]["health_reason"]) for b in ("main", "sos")}


def _config(tmp_path: Path, name: str, battery: str) -> tuple[Path, Path]:
    store = tmp_path / "store"
    return write_config(tmp_path / f"{name}.toml", name, f'{battery}\n[store]\npath = "{store}"'), store


def test_upsplus_sos_only_log_has_no_12v_verdict(tmp_path: Path, battwatch_bin: str) -> None:
    log = tmp_path / "ups.csv"
    import_log(battwatch_bin, "upsplusv5_liion_rpi_discharge_2021-04-28.csv", log,
               "--start", "2021-04-28T20:34:26Z", "--column", "sos_v=Volts (mV)")
    cfg, store = _config(tmp_path, "upsplus", '[battery.sos]\nchemistry = "li-ion"\ncells = 1')
    got = _verdicts(log, cfg, store, battwatch_bin)
    assert got["main"] == ("unknown", "no 12 V channel in the readings")
    assert got["sos"][0] != "unknown", got


def test_carl_sos_only_log_has_no_12v_verdict(tmp_path: Path, battwatch_bin: str) -> None:
    log = tmp_path / "carl.csv"
    import_log(battwatch_bin, "carl_nimh8_battV-3-charge-discharge-cycles.csv", log,
               "--tz", "America/New_York", "--column", "sos_v=Battery Voltage")
    cfg, store = _config(tmp_path, "carl", '[battery.sos]\nchemistry = "nimh"\ncells = 8')
    assert _verdicts(log, cfg, store, battwatch_bin)["main"] == ("unknown", "no 12 V channel in the readings")


def test_r27_log_without_an_sos_tap_has_no_sos_verdict(tmp_path: Path, battwatch_bin: str) -> None:
    r27_rows(tmp_path, battwatch_bin)  # imported into r27-imported.csv
    log = tmp_path / "r27-imported.csv"
    cfg, store = _config(tmp_path, "r27", "")
    got = _verdicts(log, cfg, store, battwatch_bin)
    assert got["sos"] == ("unknown", "no SOS readings")
    # a 6 V battery under the default 12 V configuration: no verdict on a 12 V battery, and
    # the reason says the configuration is the problem (config_mismatch, issue 13 class 7)
    assert got["main"][0] == "unknown", got
    assert got["main"][1].startswith("the readings do not fit the configured battery (config_mismatch): "), got
    assert "look like a 6 V battery, not a 12 V one" in got["main"][1], got
