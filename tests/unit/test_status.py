"""`battwatch status`: collect and render from a store built in tmp_path."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from battwatch import config
from battwatch.adapters.store import Store
from battwatch.cli import main
from battwatch.commands import status, status_text
from battwatch.config import Config
from battwatch.core.healthsummary import SUMMARY_VERSION, GoodRested, from_json
from battwatch.core.model import AlertTransition, HealthSummary, Reading

T0 = 1_714_560_000.0  # 2024-05-01T10:40:00Z


def make_cfg(store: Path, **battery: Any) -> Config:
    return config.defaults("car-1", store={"path": str(store)}, battery=battery)


def full_summary(t: float) -> dict[str, Any]:
    """A summary as a battwatch from before the versioned form stored it (version 1)."""
    return {
        "vehicle": "car-1",
        "time": t,
        "readings": 3,
        "state": "parked",
        "main": {
            "voltage": 12.62, "rested_voltage": 12.61, "rested_voltage_25c": 12.64,
            "rested_at": "2024-05-01T03:00:00.000+00:00", "soc_pct": 81, "age_years": 2.13,
            "remaining_life_years": 2.87, "remaining_life_basis": "age",
            "remaining_life_text": "about 2.9 years (by age, expected life of 5 years)",
            "last_crank_min_v": 10.42, "last_crank_at": "2024-05-01T07:00:00.000+00:00", "last_crank_temp_c": 12.0,
            "trend": {"rested_v_per_day": None, "rested_significant": None, "crank_dip_ratio": None,
                      "trend_limit": None},
            "channel_seen": True, "sensor_fault": None, "health": "good", "health_reason": None,
            "alerts": [],
        },
        "sos": {
            "voltage": 4.9, "rested_voltage": 4.41, "rested_at": "2024-05-01T08:00:00.000+00:00",
            "age_years": 5.9, "remaining_life_years": 0.0, "remaining_life_basis": "alert",
            "remaining_life_text": "replace now (low_voltage critical, raised 2024-05-01)",
            "trend": {"slope_v_per_day": -0.0004, "n_days": 30, "significant": True,
                      "projected_warning_date": None, "projected_end_of_life_date": "2024-06-01"},
            "channel_seen": True, "sensor_fault": None, "health": "action needed", "health_reason": None,
            "alerts": [
                {"alert": "age", "severity": "warning", "since": T0 - 86400, "value": 5.9,
                 "message": "SOS pack is 5.9 years old; plan a replacement"},
                {"alert": "low_voltage", "severity": "critical", "since": "2024-05-01T08:00:00+00:00",
                 "value": 4.41, "message": "SOS pack at 4.41 V at rest"},
            ],
        },
        "link": {"lines": 1003, "frames": 997, "lost_frames": 3, "bad_lines": 2,
                 "errors": {"checksum": 2}, "device_reboots": 1, "firmware": "1.2.0",
                 "board": "bw-adc-r1", "connected": True},
        "sinks": {
            "store": {"path": "/x", "readings_written": 997, "pending": 0},
            "mqtt": {"connected": False, "backlog": 1234, "last_error": "connection refused"},
            "influx": {"connected": True, "backlog": 0, "outbox": "/var/lib/battwatch/influx-outbox"},
        },
    }


def build_store(directory: Path, summary: dict[str, Any] | str | None) -> None:
    """A store with three readings, a transition and ``summary`` stored as it is (a dict as
    an older battwatch wrote it, a string as raw text)."""
    store = Store(directory, "car-1")
    for i in range(3):
        store.reading(Reading(T0 + i, 12.6 + i / 100, 12.5, 12.7, 4.9, 4.8, 5.0, 21.5, 1.0), "parked")
    store.transition(AlertTransition(T0 - 3600, "car-1", "sos", "low_voltage", "critical", "raised", 4.41,
                                     "SOS pack at 4.41 V at rest"))
    if summary is not None:
        raw = summary if isinstance(summary, str) else json.dumps(summary)
        store.db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES ('summary', ?)", (raw,))
    store.close()


def no_systemd() -> str | None:
    return None


def test_an_older_store_s_summary_is_shown_in_every_section(tmp_path: Path) -> None:
    build_store(tmp_path, full_summary(T0 + 2))
    cfg = make_cfg(tmp_path, main={"installed": "2022-03-15"})
    now = (tmp_path / "battwatch.sqlite3").stat().st_mtime + 30
    info = status.collect(cfg, now=now, systemd=no_systemd)

    # the store is closed and there is no systemd here: nothing runs, however fresh the file
    assert info["daemon"]["running"] is False
    assert info["daemon"]["store_updated_age_s"] == pytest.approx(30.0, abs=0.01)
    assert info["readings"] == 3
    assert info["last_reading"]["main_v"] == pytest.approx(12.62)
    assert info["last_reading"]["state"] == "parked"
    s = info["summary"]
    assert s.main.soc_pct == 81 and s.main.last_start.min_v == pytest.approx(10.42)
    assert s.sos.trend.v_per_day == -0.0004 and s.sos.trend.end_date == "2024-06-01"  # version 1 names
    # critical first, whatever order the analysis listed them in; both time formats read
    assert [a["alert"] for a in info["alerts"]] == ["low_voltage", "age"]
    assert info["alerts"][0]["since"] == "2024-05-01T08:00:00.000+00:00"
    assert info["sinks"]["mqtt"] == {"connected": False, "backlog": 1234, "last_error": "connection refused",
                                     "detail": full_summary(0)["sinks"]["mqtt"]}
    assert info["sinks"]["influx"]["backlog"] == 0
    assert info["link"]["loss_pct"] == pytest.approx(0.3)
    assert info["recent_events"][0]["alert"] == "low_voltage"

    text = status.render(info)
    for expected in (
        "Daemon        NOT RUNNING (no systemd here, and no process has the store open; store updated 30 s ago)",
        "Last reading  2024-05-01 10:40:02 UTC (",
        "Starter battery 12 V (agm, 80 Ah)",
        "12 V 12.62 V, SOS 4.90 V, 21.5 °C, parked",
        "  health            good",
        "  voltage           12.62 V now; rested 12.61 V (12.64 V at 25 °C) at 2024-05-01 03:00:00 UTC",
        "state of charge   81 %",
        "  age               2.1 years, installed 2022-03-15",
        "remaining life    about 2.9 years (by age, expected life of 5 years)",
        "last start        lowest 10.42 V, 2024-05-01 07:00:00 UTC at 12.0 °C",
        "  health            action needed",
        "remaining life    replace now (low_voltage critical, raised 2024-05-01)",
        "trend             rested voltage falling 0.4 mV a day over 30 rested days; reaches the critical level around 2024-06-01",
        "Alerts        2 active",
        "CRITICAL sos/low_voltage since 2024-05-01 08:00:00 UTC: SOS pack at 4.41 V at rest",
        "mqtt     DISCONNECTED, backlog 1,234, last error: connection refused",
        "influx   connected, backlog 0",
        "Serial link   up — bw-adc-r1 firmware 1.2.0",
        "997 frames, 3 lost (0.30 %), 2 bad lines (checksum 2), 1 device reboots",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"


def test_the_daemon_s_typed_summary_reads_back_as_it_was(tmp_path: Path) -> None:
    """What the store writes is what status reads: the versioned form round-trips."""
    summary = from_json(full_summary(T0 + 2))
    store = Store(tmp_path, "car-1")
    store.summary(HealthSummary(T0 + 2, "car-1", summary))
    store.close()
    stored = json.loads(sqlite3.connect(tmp_path / "battwatch.sqlite3").execute(
        "SELECT value FROM kv WHERE key = 'summary'").fetchone()[0])
    assert stored["version"] == SUMMARY_VERSION
    info = status.collect(make_cfg(tmp_path), now=T0, systemd=no_systemd)
    assert info["summary"] == summary and "note" not in info


def test_a_summary_from_a_newer_battwatch_is_said_not_misread(tmp_path: Path) -> None:
    build_store(tmp_path, {**full_summary(T0), "version": SUMMARY_VERSION + 1})
    info = status.collect(make_cfg(tmp_path), now=T0, systemd=no_systemd)
    assert info["summary"] is None and info["readings"] == 3
    assert (f"the stored summary cannot be read (stored summary: written by a newer battwatch (summary version "
            f"{SUMMARY_VERSION + 1}; this one reads up to {SUMMARY_VERSION}): update battwatch to read it)") in info["note"]
    text = status.render(info)
    assert "no analysis in the store yet" in text and "Recent alert transitions" in text


def test_an_installation_date_after_the_data_gives_no_age(tmp_path: Path) -> None:
    """The analysis found no age (its data are from before `installed`): status must not work
    one out from the wall clock ("-5.7 years"), and says why it is unknown."""
    sos = {**full_summary(T0)["sos"], "age_years": None,
           "age_note": "the installation date 2030-01-01 is after the data (2024-05-01)"}
    build_store(tmp_path, {"vehicle": "car-1", "time": T0, "readings": 3, "version": 2, "sos": sos})
    info = status.collect(make_cfg(tmp_path, sos={"installed": "2030-01-01"}), now=T0 + 10, systemd=no_systemd)
    assert info["summary"].sos.age_years is None
    assert "  age               unknown: the installation date 2030-01-01 is after the data (2024-05-01)" in (
        status.render(info))
    # an older battwatch's negative age reads as unknown too, never as "-5.7 years"
    build_store(tmp_path / "old", {"vehicle": "car-1", "time": T0, "sos": {**sos, "age_years": -5.7}})
    info = status.collect(make_cfg(tmp_path / "old"), now=T0 + 10, systemd=no_systemd)
    assert info["summary"].sos.age_years is None and "-5.7" not in status.render(info)


def test_a_store_before_its_first_analysis_shows_what_it_has(tmp_path: Path) -> None:
    # what the daemon stores before the analysis exists: no main/sos/sinks keys at all
    build_store(tmp_path, {"vehicle": "car-1", "time": T0, "readings": 3})
    info = status.collect(make_cfg(tmp_path, sos={"installed": "2019-06-01"}), now=T0 + 10, systemd=no_systemd)
    assert info["summary"].main is None and info["batteries"]["sos"]["present"] is False
    assert info["batteries"]["sos"]["installed"] == "2019-06-01"
    assert info["alerts"] == [] and info["sinks"] == {} and info["link"] is None
    text = status.render(info)
    assert "SOS backup battery (nimh, 4 cells)\n  no analysis in the store yet" in text
    assert "Alerts        none active" in text
    assert "Serial link   no statistics yet" in text


def test_wrong_types_in_a_stored_summary_are_said_with_their_key(tmp_path: Path) -> None:
    odd = full_summary(T0)
    odd["sos"]["soc_pct"] = "70"
    build_store(tmp_path, odd)
    info = status.collect(make_cfg(tmp_path), now=T0, systemd=no_systemd)
    assert info["summary"] is None and info["readings"] == 3
    assert "stored summary.sos.soc_pct: expected a number, got the text '70'" in info["note"]
    build_store(tmp_path / "b", {**full_summary(T0), "main": "broken"})
    info = status.collect(make_cfg(tmp_path / "b"), now=T0, systemd=no_systemd)
    assert "stored summary.main: expected an object, got the text 'broken'" in info["note"]


def test_corrupt_summary_json_is_reported_not_raised(tmp_path: Path) -> None:
    build_store(tmp_path, "{not json")
    info = status.collect(make_cfg(tmp_path), now=T0, systemd=no_systemd)
    assert "not valid JSON" in info["note"]
    assert info["readings"] == 3
    assert "Note          the stored summary is not valid JSON" in status.render(info)


HOLD_OPEN = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("SELECT count(*) FROM kv").fetchone()
print("open", flush=True)
sys.stdin.read()
"""


def test_daemon_found_by_the_lock_it_holds_on_the_store(tmp_path: Path) -> None:
    build_store(tmp_path, full_summary(T0))
    cfg = make_cfg(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_OPEN, str(tmp_path / "battwatch.sqlite3")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline() == "open\n"
        info = status.collect(cfg, now=T0, systemd=no_systemd)
        assert info["daemon"]["running"] is True
        assert info["daemon"]["pid"] == holder.pid
        assert "import sqlite3, sys" in info["daemon"]["command"]
        assert f"Daemon        running (pid {holder.pid} has the store open:" in status.render(info)
    finally:
        holder.stdin.close()
        holder.wait(10)
        holder.stdout.close()
    after = status.collect(cfg, now=T0, systemd=no_systemd)
    assert after["daemon"]["running"] is False and after["daemon"]["pid"] is None


def test_daemon_state_from_systemd(tmp_path: Path) -> None:
    build_store(tmp_path, full_summary(T0))
    cfg = make_cfg(tmp_path)
    mtime = (tmp_path / "battwatch.sqlite3").stat().st_mtime
    failed = status.collect(cfg, now=mtime + 5, systemd=lambda: "failed")
    assert failed["daemon"]["running"] is False and failed["daemon"]["state"] == "failed"
    assert "NOT RUNNING (systemd: failed; store updated 5 s ago)" in status.render(failed)
    active = status.collect(cfg, now=mtime + 5000, systemd=lambda: "active")
    assert active["daemon"]["running"] is True and active["daemon"]["stale"] is True
    assert "running (systemd: active; store updated 1.4 h ago; nothing written for a while: is it stuck?)" in (
        status.render(active))


def test_wall_clock_stamp_in_summary_wins_over_file_time(tmp_path: Path) -> None:
    summary = full_summary(T0)
    summary["updated"] = T0 - 1000
    build_store(tmp_path, summary)
    os.utime(tmp_path / "battwatch.sqlite3", (T0, T0))
    info = status.collect(make_cfg(tmp_path), now=T0, systemd=no_systemd)
    assert info["daemon"]["store_updated_age_s"] == pytest.approx(1000.0)
    assert info["daemon"]["stale"] is True


def test_no_store_is_an_error_with_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = tmp_path / "battwatch.toml"
    cfg_path.write_text(f'[vehicle]\nid = "car-1"\n[store]\npath = "{tmp_path / "none"}"\n')
    assert main(["status", "-c", str(cfg_path)]) == 1
    out = capsys.readouterr().out
    assert "no store yet: has the daemon run?" in out


def test_json_output_for_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_store(tmp_path / "store", full_summary(T0))
    cfg_path = tmp_path / "battwatch.toml"
    cfg_path.write_text(f'[vehicle]\nid = "car-1"\n[store]\npath = "{tmp_path / "store"}"\n')
    assert main(["status", "-c", str(cfg_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["vehicle"] == "car-1"
    assert data["batteries"]["main"]["soc_pct"] == 81 and data["summary"]["version"] == SUMMARY_VERSION
    assert data["alerts"][0]["severity"] == "critical"
    assert data["sinks"]["mqtt"]["backlog"] == 1234
    assert data["link"]["lost_frames"] == 3
    assert set(data["daemon"]) >= {"running", "state", "pid", "store_updated", "basis"}


def test_a_real_analysis_summary_reads_as_plain_words(tmp_path: Path) -> None:
    """After a shorted SOS cell: no raw dicts, no 0 % charge, and 'replace now' with its reason."""
    from battwatch import scenarios
    from battwatch.replay import replay_file

    log = tmp_path / "log.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", "sos-step-drop", "-o", str(log)], check=True,
                   capture_output=True, timeout=120)
    cfg = config.from_dict({**scenarios.scenario_config("sos-step-drop"), "store": {"path": str(tmp_path / "s")}},
                           env={})
    replay_file(log, cfg, store_dir=tmp_path / "s")
    text = status.render(status.collect(cfg, systemd=no_systemd))
    sos = text[text.index("SOS backup battery"):text.index("Alerts")]
    main_part = text[text.index("Starter battery"):text.index("SOS backup battery")]
    for line in (
        "  state of charge   unknown: a cell has probably shorted, so the voltage no longer tells the charge",
        "  remaining life    replace now (step_drop critical since 2025-01-15)",
    ):
        assert line in sos, f"{line!r} not in:\n{sos}"
    # a step drop explains the fall: no trend is drawn from it
    assert "  trend             rested voltage: not enough rested days yet for a trend" in sos, sos
    assert re.search(r"  voltage           4\.\d\d V now; rested 4\.\d\d V \(.*V per cell\) at 2025-01-20", sos), sos
    assert "  remaining life    about 3.1 years (by age, expected life of 5 years)" in main_part
    assert re.search(r"  last start        lowest 1\d\.\d\d V, 2025-01-\d\d \d\d:\d\d:00 UTC at -?\d+\.\d °C", main_part)
    # the analysis' internal names never reach the screen
    for raw in ("None", "{", "rested_v_per_day", "projected_warning_date", "per_cell_v"):
        assert raw not in sos + main_part, raw


def faulted_summary(rested_at: str, first_sign: str | None) -> dict[str, Any]:
    summary = full_summary(T0)
    summary["main"].update({
        "voltage": 0.02, "rested_voltage": 12.61, "rested_voltage_25c": 12.64, "rested_at": rested_at,
        "soc_pct": 81, "sensor_fault": "open", "sensor_fault_since": "2024-05-01T09:00:00+00:00",
        "sensor_fault_first_sign": first_sign, "health": "unknown (sensor fault)",
    })
    summary["state"] = "unknown"  # as the analysis says while the 12 V channel is faulted
    return summary


def test_a_faulted_channel_shows_no_current_voltage_or_charge(tmp_path: Path) -> None:
    build_store(tmp_path, faulted_summary("2024-05-01T03:00:00+00:00", "2024-05-01T08:50:00+00:00"))
    info = status.collect(make_cfg(tmp_path), now=T0 + 10, systemd=no_systemd)
    main_b = info["summary"].main
    assert main_b.trusted_voltage() is None and main_b.trusted_soc() is None
    assert main_b.good_rested() == GoodRested(12.61, status_text._as_time("2024-05-01T03:00:00+00:00"), 81)
    assert info["summary"].sos.fault is None  # the healthy channel is as it was
    text = status.render(info)
    assert "Vehicle       unknown (the 12 V channel, which tells the states apart, has a sensor fault)" in text
    main_part = text[text.index("Starter battery"):text.index("SOS backup battery")]
    assert ("  voltage           readings not trustworthy (sensor fault since 2024-05-01 09:00:00 UTC); "
            "last good rested reading 12.61 V at 2024-05-01 03:00:00 UTC") in main_part
    assert "  state of charge   unknown while the sensor is faulted (81 % at the last good rested reading)" in main_part
    for current in ("0.02 V now", "81 % (from the rested voltage)"):
        assert current not in main_part
    assert "12 V 12.62 V (not trustworthy: sensor fault), SOS 4.90 V, 21.5 °C" in text


def test_a_rested_reading_after_the_first_sign_is_not_called_good(tmp_path: Path) -> None:
    # a frozen channel fed the rules until it was found out: its last rested value is suspect
    build_store(tmp_path, faulted_summary("2024-05-01T08:55:00+00:00", "2024-05-01T05:00:00+00:00"))
    info = status.collect(make_cfg(tmp_path), now=T0 + 10, systemd=no_systemd)
    assert info["summary"].main.good_rested() is None
    text = status.render(info)
    assert ("readings not trustworthy (sensor fault since 2024-05-01 09:00:00 UTC); no rested reading known "
            "good: the last one (12.61 V at 2024-05-01 08:55:00 UTC) is after its first sign at "
            "2024-05-01 05:00:00 UTC") in text
    assert "  state of charge   unknown while the sensor is faulted\n" in text


def test_an_open_sos_wire_reads_as_not_trustworthy(tmp_path: Path) -> None:
    """The analysis' own summary after an SOS tap came off: no 0 V 'now', no charge."""
    from battwatch import scenarios
    from battwatch.replay import replay_file

    log = tmp_path / "log.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", "sensor-open-wire", "-o", str(log)], check=True,
                   capture_output=True, timeout=120)
    cfg = config.from_dict({**scenarios.scenario_config("sensor-open-wire"), "store": {"path": str(tmp_path / "s")}},
                           env={})
    replay_file(log, cfg, store_dir=tmp_path / "s")
    info = status.collect(cfg, systemd=no_systemd)
    fault = info["summary"].sos.fault
    assert fault.kind == "open" and fault.since == status_text._as_time("2025-01-08T14:20:00+00:00")
    good = info["summary"].sos.good_rested()
    assert good is not None and good.at <= fault.first_sign
    text = status.render(info)
    sos = text[text.index("SOS backup battery"):text.index("Alerts")]
    assert re.search(r"  voltage           readings not trustworthy \(sensor fault since 2025-01-08 14:20:00 UTC\); "
                     r"last good rested reading \d\.\d\d V at 2025-01-0[78] \d\d:\d\d:00 UTC\n", sos), sos
    assert re.search(r"  state of charge   unknown while the sensor is faulted \(\d+ % at the last good rested reading\)",
                     sos), sos
    assert " V now" not in sos
    assert "Vehicle       unknown" not in text  # a faulted SOS channel says nothing of the states


def test_an_active_alert_reads_with_its_current_words(tmp_path: Path) -> None:
    """A pack that kept running down after its critical raise: the alert line quotes the latest
    rested reading, the transition keeps the words it was raised with."""
    from battwatch import scenarios
    from battwatch.replay import replay_file

    log = tmp_path / "log.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", "sos-low-voltage", "-o", str(log)], check=True,
                   capture_output=True, timeout=120)
    cfg = config.from_dict({**scenarios.scenario_config("sos-low-voltage"), "store": {"path": str(tmp_path / "s")}},
                           env={})
    replay_file(log, cfg, store_dir=tmp_path / "s")
    info = status.collect(cfg, systemd=no_systemd)
    (now,) = [a for a in info["alerts"] if (a["battery"], a["alert"]) == ("sos", "low_voltage")]
    (raised,) = [e for e in info["recent_events"] if (e["battery"], e["alert"], e["severity"]) ==
                 ("sos", "low_voltage", "critical")]
    rested = info["summary"].sos.rested_voltage
    assert now["severity"] == "critical"
    assert now["message"].startswith(f"SOS backup battery rested at {rested:.2f} V")
    assert now["message"] != raised["message"] and "below the 4.40 V critical level" in now["message"]
    (stored,) = [a for a in info["summary"].sos.alerts if a.alert == "low_voltage"]
    assert stored.message_at > status_text._as_time(raised["time"])
    # since when it is critical, and when it was first raised, at what
    assert status_text._as_time(now["since"]) == stored.severity_since == status_text._as_time(raised["time"])
    assert status_text._as_time(now["raised"]) == stored.since < stored.severity_since and now["raised_severity"] == "info"
    text = status.render(info)
    assert (f"CRITICAL sos/low_voltage since {status_text._when(now['since'])} (raised {status_text._when(now['raised'])} "
            f"as info): {now['message']}") in text


def test_the_self_discharge_line_shows_the_baseline_the_active_warning_judged_against(tmp_path: Path) -> None:
    """sos-decline: the warning judged a park against the baseline of its band of the charge
    curve; the last park lay on another band with a much higher baseline of its own. The line
    must quote the warning's figures, not the other band's (it used to: 55.3 against 49.6)."""
    from battwatch import scenarios
    from battwatch.replay import replay_file

    log = tmp_path / "log.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", "sos-decline", "-o", str(log)], check=True,
                   capture_output=True, timeout=120)
    cfg = config.from_dict({**scenarios.scenario_config("sos-decline"), "store": {"path": str(tmp_path / "s")}},
                           env={})
    replay_file(log, cfg, store_dir=tmp_path / "s")
    info = status.collect(cfg, systemd=no_systemd)
    (alert,) = [a for a in info["alerts"] if (a["battery"], a["alert"]) == ("sos", "self_discharge")]
    m = re.search(r"\((\d+\.\d) mV per day.*its own normal rate of (\d+\.\d\d) % a day", alert["message"])
    assert m, alert["message"]
    text = status.render(info)
    (line,) = [x for x in text.splitlines() if x.startswith("  self-discharge")]
    assert f"{m[1]} mV a day" in line and "its own baseline: " in line and f"{m[2]} % a day" in line, (line, m[0])
    sd = info["summary"].sos.self_discharge
    assert sd.last_mv_per_day != sd.alert_mv_per_day  # the case at issue: the last park is another one
    assert f"last long park {sd.last_mv_per_day:.1f} mV a day" in line


def _replayed_store(tmp_path: Path, vehicle: str) -> Path:
    """A store written by a real replay of a short scenario, as the vehicle given."""
    from battwatch import config, scenarios
    from battwatch.core.csvlog import write_csv
    from battwatch.replay import replay_file

    log = tmp_path / "log.csv"
    with log.open("w") as fh:
        write_csv(fh, scenarios.generate("sos-step-drop"))
    store = tmp_path / f"store-{vehicle}"
    replay_file(log, config.defaults(vehicle), store_dir=store)
    return store


def test_status_of_a_store_without_a_configuration_names_the_store_vehicle(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _replayed_store(tmp_path, "van-7")
    assert main(["status", "--store", str(store), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["vehicle"] == "van-7" and data["store"] == str(store / "battwatch.sqlite3")
    assert data["readings"] > 0 and "config_vehicle" not in data
    assert main(["status", "--store", str(store)]) == 0
    assert capsys.readouterr().out.startswith("battwatch status: vehicle van-7 ")


def test_a_store_of_another_vehicle_is_said_not_shown_under_the_configured_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _replayed_store(tmp_path, "van-7")
    cfg_path = tmp_path / "battwatch.toml"
    cfg_path.write_text(f'[vehicle]\nid = "car-1"\n[battery.main]\ninstalled = 2020-01-01\n[store]\npath = "{store}"\n')
    assert main(["status", "-c", str(cfg_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["vehicle"], data["config_vehicle"]) == ("van-7", "car-1")
    assert "holds vehicle 'van-7', not 'car-1'" in data["note"]
    assert data["batteries"]["main"]["installed"] is None  # car-1's date is not van-7's
    assert main(["status", "-c", str(cfg_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("battwatch status: vehicle van-7 ") and "car-1" in out.splitlines()[2]
    # --store overrides the configuration's [store] path, the vehicle check still applies
    other = tmp_path / "battwatch2.toml"
    other.write_text(f'[vehicle]\nid = "van-7"\n[store]\npath = "{tmp_path / "nowhere"}"\n')
    assert main(["status", "-c", str(other), "--store", str(store), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["vehicle"] == "van-7" and "config_vehicle" not in data


def test_a_level_the_pack_is_already_below_is_not_projected_ahead(tmp_path: Path) -> None:
    """sos-decline-critical ends at 4.28 V, weeks below its 4.88 V warning and 4.40 V critical
    levels: not "reaches the warning level around <last day>"; and "replace now" dates the
    critical alert from its escalation, not from the information raised in February."""
    from battwatch import scenarios
    from battwatch.replay import replay_file

    log = tmp_path / "log.csv"
    subprocess.run([sys.executable, "-m", "battwatch.scenarios", "sos-decline-critical", "-o", str(log)],
                   check=True, capture_output=True, timeout=120)
    cfg = config.from_dict({**scenarios.scenario_config("sos-decline-critical"),
                            "store": {"path": str(tmp_path / "s")}}, env={})
    replay_file(log, cfg, store_dir=tmp_path / "s")
    text = status.render(status.collect(cfg, systemd=no_systemd))
    sos = text[text.index("SOS backup battery"):text.index("Alerts")]
    assert re.search(r"  trend             rested voltage falling 10\.\d mV a day over \d+ rested days; already "
                     r"below the warning and critical levels\n", sos), sos
    assert "reaches" not in sos
    assert "  remaining life    replace now (low_voltage critical since 2025-04-15)\n" in sos, sos
