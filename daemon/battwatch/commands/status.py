"""``battwatch status``: the one screen for an owner or a mechanic, read from the store."""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import math
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from battwatch.core.healthsummary import (
    BatterySummary,
    Fault,
    Remaining,
    SelfDischarge,
    SummaryError,
    Trend,
    VehicleSummary,
    battery_json,
    from_json,
)
from battwatch.core.model import change_of
from battwatch.core.timefmt import iso_utc

logger = logging.getLogger(__name__)

UNIT = "battwatch.service"
# The daemon rewrites the summary every 60 s tick: three missed ticks mean it is not running.
STALE_AFTER_S = 180.0
RECENT_EVENTS = 10
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# What sinks call their count of undelivered records; the first one present is the backlog.
BACKLOG_KEYS = ("backlog", "queued")

SystemdProbe = Callable[[], str | None]

# -- collecting -------------------------------------------------------------------------------


def systemd_state(unit: str = UNIT) -> str | None:
    """``systemctl is-active`` for the unit, or None when this host does not run systemd."""
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").is_dir():
        return None
    try:
        out = subprocess.run(
            ["systemctl", "is-active", unit], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        logger.debug("systemctl is-active failed: %s", e)
        return None
    return out.stdout.strip() or None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    """A finite number from the daemon's own statistics (link, sinks, store), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _as_time(iso: Any) -> float | None:
    """Unix seconds of an ISO 8601 text this command wrote itself."""
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _store_written_t(db_path: Path) -> float | None:
    """When the daemon last wrote the store: the newest of the database and its WAL file."""
    times = []
    for p in (db_path, db_path.with_name(db_path.name + "-wal")):
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            continue
    return max(times) if times else None


def store_holder(db_path: Path) -> tuple[int, str] | None:
    """The process that has the store open (pid, command line), or None.

    Every SQLite connection to a WAL database holds a shared POSIX lock on the ``-shm`` file
    for as long as it is open, so asking the kernel for a conflicting lock finds the daemon
    without trusting any clock. A cleanly stopped daemon leaves no ``-shm`` file at all.
    """
    shm = db_path.with_name(db_path.name + "-shm")
    try:
        fd = os.open(shm, os.O_RDONLY)
    except OSError:
        return None
    try:
        # struct flock: l_type, l_whence, l_start, l_len (0 = to the end), l_pid
        query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    except OSError as e:
        logger.debug("F_GETLK on %s failed: %s", shm, e)
        return None
    finally:
        os.close(fd)
    l_type, _, _, _, pid = struct.unpack("hhqqi", answer)
    if l_type == fcntl.F_UNLCK or pid <= 0:
        return None
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = "?"
    return pid, cmd


def _open_readonly(path: Path) -> tuple[sqlite3.Connection, str | None]:
    """A read-only connection that never blocks the daemon; a note if it is a snapshot."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db, None
    except sqlite3.OperationalError:
        db.close()
    # A user without write access to the WAL index (the store belongs to the battwatch
    # user) can still read the last checkpointed state.
    db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    return db, "store read as a snapshot (no access to its WAL): the newest minutes may be missing"


def _battery(b: BatterySummary | None, kind: str, cfg: Any) -> dict[str, Any]:
    """What status adds to a battery's summary: its configured type and installation date,
    and the notes that follow from the summary (a shorted cell hides the charge)."""
    battery_cfg = getattr(getattr(cfg, "battery", None), kind, None)
    installed = getattr(battery_cfg, "installed", None)
    out: dict[str, Any] = {"present": b is not None,
                           "installed": installed.isoformat() if isinstance(installed, date) else None}
    if kind == "main" and battery_cfg is not None:
        out["type"] = f"{getattr(battery_cfg, 'type', '?')}, {getattr(battery_cfg, 'capacity_ah', 0):g} Ah"
    elif battery_cfg is not None:
        out["type"] = f"{getattr(battery_cfg, 'chemistry', '?')}, {getattr(battery_cfg, 'cells', '?')} cells"
    if b is not None and kind == "sos" and any(a.alert == "step_drop" and a.severity == "critical" for a in b.alerts):
        # a shorted cell takes a whole cell's voltage away: the level no longer tells the charge
        out["soc_note"] = "a cell has probably shorted, so the voltage no longer tells the charge"
    return out


def _alerts(summary: VehicleSummary | None) -> list[dict[str, Any]]:
    """The active alerts of both batteries, worst and oldest first. "since": when each reached
    the severity it has now; "raised": when it was first raised, and at what."""
    alerts: list[dict[str, Any]] = [
        {"battery": b.battery, "alert": a.alert, "severity": a.severity, "since": iso_utc(a.severity_since),
         "raised": iso_utc(a.since), "raised_severity": a.raised_severity, "value": a.value, "message": a.message}
        for b in ([] if summary is None else summary.batteries()) for a in b.alerts
    ]
    alerts.sort(key=lambda a: (SEVERITY_ORDER.get(str(a["severity"]), 9), str(a["since"])))
    return alerts


def _sinks(sinks: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, raw in (sinks or {}).items():
        st = _dict(raw)
        backlog = next((st[k] for k in BACKLOG_KEYS if _number(st.get(k)) is not None), None)
        connected = st.get("connected")
        out[str(name)] = {
            "connected": connected if isinstance(connected, bool) else None,
            "backlog": int(backlog) if backlog is not None else None,
            "last_error": st.get("last_error") if isinstance(st.get("last_error"), str) else None,
            "detail": st,
        }
    return out


DISK_LOW_BYTES = 256 * 1024  # below this (and 5 % of the disk) the store is about to fail


def _disk(directory: Path, store_said: Mapping[str, Any] | None) -> dict[str, Any]:
    """The store's disk, measured now (a full disk cannot save the summary that would say so),
    and what the daemon last said about writing to it."""
    import shutil

    out: dict[str, Any] = {"free_bytes": None, "total_bytes": None, "full": None}
    try:
        usage = shutil.disk_usage(directory)
    except OSError:
        pass
    else:
        out.update(free_bytes=usage.free, total_bytes=usage.total,
                   full=usage.free < DISK_LOW_BYTES and usage.free < 0.05 * usage.total)
    store = dict(store_said or {})
    out["problem"] = store.get("problem") if isinstance(store.get("problem"), str) else None
    out["unwritten"] = int(_number(store.get("unwritten")) or 0)
    out["csv_unwritten"] = int(_number(store.get("csv_unwritten")) or 0)
    return out


def _link(said: Mapping[str, Any] | None) -> dict[str, Any] | None:
    link = dict(said or {})
    if not link:
        return None
    frames = _number(link.get("frames")) or 0.0
    lost = _number(link.get("lost_frames")) or 0.0
    errors = {str(k): v for k, v in _dict(link.get("errors")).items() if _number(v)}
    return {
        "connected": link.get("connected") if isinstance(link.get("connected"), bool) else None,
        "frames": int(frames),
        "lost_frames": int(lost),
        "loss_pct": round(100.0 * lost / (frames + lost), 3) if frames + lost else None,
        "bad_lines": int(_number(link.get("bad_lines")) or 0),
        "errors": errors,
        "device_reboots": int(_number(link.get("device_reboots")) or 0),
        "firmware": link.get("firmware") if isinstance(link.get("firmware"), str) else None,
        "board": link.get("board") if isinstance(link.get("board"), str) else None,
        "held_for_clock": int(_number(link.get("held_for_clock")) or 0),
        "host_clock": link.get("host_clock") if isinstance(link.get("host_clock"), str) else None,
    }


def _daemon(updated: float | None, written_t: float | None, now: float,
            systemd: str | None, holder: tuple[int, str] | None) -> dict[str, Any]:
    """Is the daemon running? Honest about how it knows."""
    # When the store was last written: a wall-clock stamp in the summary if the daemon
    # writes one, else the store's modification time (it commits at least once per tick).
    updated = updated if updated is not None else written_t
    age = None if updated is None else max(0.0, now - updated)
    if systemd is not None:
        running = systemd in ("active", "reloading", "activating", "deactivating")
        state, basis = systemd, "systemctl is-active"
    else:
        running = holder is not None
        state = "running" if running else "not running"
        basis = "a process holds the store open" if running else "no process holds the store open"
    return {"running": running, "state": state, "systemd": systemd, "basis": basis,
            "pid": holder[0] if holder else None, "command": holder[1] if holder else None,
            "store_updated": iso_utc(updated) if updated is not None else None,
            "store_updated_age_s": None if age is None else round(age, 1),
            "stale": age is not None and age > STALE_AFTER_S}


def _recorded_replacements(db: sqlite3.Connection) -> dict[str, tuple[float, str]]:
    """The latest replacement recorded per battery (battwatch replaced, MQTT): (time, note)."""
    try:
        rows = db.execute("SELECT battery, max(t), note FROM replacements GROUP BY battery").fetchall()
    except sqlite3.OperationalError:
        return {}  # a store from before replacements were recorded
    return {str(b): (float(t), str(n)) for b, t, n in rows}


def _fitted(out: dict[str, Any], b: BatterySummary | None, kind: str, recorded: tuple[float, str] | None) -> None:
    """Which date the battery's age counts from, and why: the configured ``installed`` or a
    recorded replacement (the later one wins); a replacement the analysis has not applied yet."""
    installed = out.get("installed")
    source = None if b is None else b.fitted_from
    fitted = None if b is None else b.fitted
    if b is not None and source == "replaced" and fitted is not None:
        why = "told with `battwatch replaced`"
        if installed:
            why += f"; later than [battery.{kind}] installed = {installed}"
        out["fitted_text"] = f"{fitted} (replaced: {why})"
        if b.replaced_note:
            out["fitted_text"] += f"; note: {b.replaced_note}"
    if recorded is None:
        return
    day = iso_utc(recorded[0])[:10]
    if installed and day < installed:
        out["fitted_text"] = (f"{installed} ([battery.{kind}] installed; later than the replacement "
                              f"recorded on {day}, so it wins)")
    elif source != "replaced" or fitted != day:
        out["replacement_text"] = (f"recorded for {day}, not applied yet: the daemon applies it within "
                                 "seconds, or at the next reading of that time")


def store_vehicle(db: sqlite3.Connection) -> str | None:
    """The vehicle whose analysis a store holds (None before its first analysis)."""
    for key in ("analyzer", "summary"):
        row = db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            continue
        try:
            vehicle = json.loads(row[0]).get("vehicle")
        except (json.JSONDecodeError, AttributeError):
            continue
        if isinstance(vehicle, str) and vehicle:
            return vehicle
    return None


def read_store_vehicle(directory: Path) -> str | None:
    """``store_vehicle`` of the store in ``directory``, or None when there is none to read."""
    path = directory / "battwatch.sqlite3"
    if not path.is_file():
        return None
    try:
        db, _ = _open_readonly(path)
        try:
            return store_vehicle(db)
        finally:
            db.close()
    except sqlite3.Error:
        return None


def collect(cfg: Any, *, now: float | None = None, systemd: SystemdProbe = systemd_state) -> dict[str, Any]:
    """Everything status shows, as plain data (read-only: the daemon may be running).

    A store that holds another vehicle's analysis than the configuration's is shown under its
    own vehicle, said in a note, and without the configuration's battery facts (they are
    another car's)."""
    now = time.time() if now is None else now
    path = Path(cfg.store.path) / "battwatch.sqlite3"
    info: dict[str, Any] = {"vehicle": cfg.vehicle.id, "store": str(path), "now": iso_utc(now)}
    sd = systemd()
    holder = store_holder(path)  # before we open it ourselves
    if not path.exists():
        info["daemon"] = _daemon(None, None, now, sd, holder)
        info["error"] = "no store yet: has the daemon run?"
        return info
    note = None
    try:
        db, note = _open_readonly(path)
        try:
            kv = dict(db.execute("SELECT key, value FROM kv WHERE key IN ('summary')").fetchall())
            last = db.execute(
                "SELECT t, main_v, sos_v, temp_c, state FROM readings ORDER BY t DESC LIMIT 1"
            ).fetchone()
            count = db.execute("SELECT count(*) FROM readings").fetchone()[0]
            recorded = _recorded_replacements(db)
            # each with the severity its alert had before (what the transition did: eased
            # is not raised); the events table is small, alerts being rare
            events = db.execute(
                "SELECT t, battery, alert, severity, state, message, prev_state, prev_severity FROM ("
                " SELECT *, lag(state) OVER w AS prev_state, lag(severity) OVER w AS prev_severity"
                " FROM events WINDOW w AS (PARTITION BY battery, alert ORDER BY t, id))"
                " ORDER BY t DESC, id DESC LIMIT ?", (RECENT_EVENTS,)
            ).fetchall()
            held = store_vehicle(db)
        finally:
            db.close()
    except sqlite3.Error as e:
        info["daemon"] = _daemon(None, _store_written_t(path), now, sd, holder)
        info["error"] = f"cannot read the store: {e} (try as root or as the battwatch user)"
        return info
    summary, why = read_summary(kv.get("summary"))
    if why is not None:
        note = why if note is None else f"{why}; {note}"
    info["daemon"] = _daemon(None if summary is None else summary.updated, _store_written_t(path), now, sd, holder)
    if held is not None and held != cfg.vehicle.id:
        info["vehicle"], info["config_vehicle"] = held, cfg.vehicle.id
        other = (f"this store holds vehicle {held!r}, not {cfg.vehicle.id!r} of the configuration: "
                 "shown under its own name, without the configuration's battery facts")
        note = other if note is None else f"{other}; {note}"
        cfg = None
    if note:
        info["note"] = note
    info["readings"] = count
    info["last_reading"] = None if last is None else {
        "time": iso_utc(last[0]), "age_s": round(now - last[0], 1),
        "main_v": last[1], "sos_v": last[2], "temp_c": last[3], "state": last[4] or None,
    }
    info["vehicle_state"] = None if summary is None else summary.state
    info["batteries"] = {k: _battery(None if summary is None else summary.battery(k), k, cfg) for k in ("main", "sos")}
    for kind, extra in info["batteries"].items():
        b = None if summary is None else summary.battery(kind)
        _fitted(extra, b, kind, recorded.get(kind))
    info["alerts"] = _alerts(summary)
    info["sinks"] = _sinks(None if summary is None else summary.sinks)
    info["disk"] = _disk(path.parent, None if summary is None else summary.store)
    info["link"] = _link(None if summary is None else summary.link)
    info["recent_events"] = [
        {"time": iso_utc(e[0]), "battery": e[1], "alert": e[2], "severity": e[3],
         "state": e[4], "change": change_of(e[4], e[3], e[7] if e[6] == "raised" else None),
         "message": e[5]}
        for e in events
    ]
    info["summary"] = summary
    return info


def read_summary(stored: str | None) -> tuple[VehicleSummary | None, str | None]:
    """The stored summary, typed, or None and why it cannot be shown (a store from before the
    first summary, a damaged value, a newer battwatch's form)."""
    if stored is None:
        return None, None
    try:
        return from_json(json.loads(stored), path="stored summary"), None
    except json.JSONDecodeError:
        return None, "the stored summary is not valid JSON; showing readings and events only"
    except SummaryError as e:
        return None, f"the stored summary cannot be read ({e}); showing readings and events only"


def as_json(info: Mapping[str, Any]) -> dict[str, Any]:
    """``status --json``: each battery's summary in its stored JSON form with what status adds."""
    out = dict(info)
    summary = info.get("summary")
    if isinstance(summary, VehicleSummary):
        out["summary"] = summary.to_json()
        out["batteries"] = {k: {**v, **(battery_json(b) if (b := summary.battery(k)) is not None else {})}
                            for k, v in info["batteries"].items()}
    return out


# -- rendering --------------------------------------------------------------------------------


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 0:
        return "in the future (clock?)"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _when(iso: Any) -> str:
    """ISO 8601 (as in --json) shortened for people: to the second, in UTC."""
    t = _as_time(iso)
    return "?" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _at(t: float | None) -> str:
    return "?" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _volts(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} V"


def _life(r: Remaining) -> str:
    if r.text:
        return r.text  # the analysis' own words: "replace now (...)", "overdue by 4 months (...)"
    if r.years is None:
        return "unknown (the analysis has not estimated it yet)"
    text = "due now" if r.years <= 0.0 else f"about {r.years:.1f} years"
    return f"{text} (basis: {r.basis})" if r.basis else text


def _voltage_line(b: BatterySummary) -> str | None:
    """The last reading and the last rested one, e.g. '12.64 V now; rested 12.61 V (...) at ...'."""
    parts = []
    if b.voltage is not None:
        parts.append(f"{b.voltage:.2f} V now")
    rested = b.rested_voltage
    if rested is not None:
        extra = []
        if b.rested_voltage_25c is not None:
            extra.append(f"{b.rested_voltage_25c:.2f} V at 25 °C")
        corrected, ref = b.rested_voltage_corrected, b.temp_ref_c
        if corrected is not None and ref is not None and abs(corrected - rested) >= 0.005:
            extra.append(f"{corrected:.2f} V at {ref:g} °C")
        if b.per_cell_v is not None:
            extra.append(f"{b.per_cell_v:.3f} V per cell")
        when = f" at {_at(b.rested_at)}" if b.rested_at is not None else ""
        parts.append(f"rested {rested:.2f} V" + (f" ({', '.join(extra)})" if extra else "") + when)
    return "; ".join(parts) or None


def _main_trend(tr: Trend) -> str:
    if tr.v_per_day is None:
        words = "rested voltage: not enough rested days yet for a trend"
    elif tr.significant:
        words = f"rested voltage falling {-tr.v_per_day * 1000:.1f} mV a day"
    else:
        words = "rested voltage steady (no significant fall)"
    if tr.crank_dip_ratio is not None:
        words += f"; start dip {tr.crank_dip_ratio:.2f}× its first weeks'"
    return words


def _sos_trend(tr: Trend) -> str:
    over = f" over {tr.n_days} rested days" if tr.n_days is not None else ""
    if tr.v_per_day is None:
        return "rested voltage: not enough rested days yet for a trend"
    if not tr.significant:
        return f"rested voltage steady{over} (no significant fall)"
    words = f"rested voltage falling {-tr.v_per_day * 1000:.1f} mV a day{over}"
    if tr.warning_date:
        words += f"; reaches the warning level around {tr.warning_date}"
    if tr.end_date:
        words += f", the critical level around {tr.end_date}"
    return words


def _self_discharge(sd: SelfDischarge) -> str | None:
    """The self-discharge line, with the baseline the rule judged against (the one in force)."""
    last, base = sd.last_mv_per_day, sd.baseline_mv_per_day
    judged, judged_base = sd.alert_mv_per_day, sd.alert_baseline_mv_per_day
    if last is None and base is None and judged is None:
        return None

    def rate(mv: float) -> str:
        # a park can end higher than it began (warmer, or recovering from a charge): no loss seen
        return f"{mv:.1f} mV a day" if mv > 0.0 else "no measurable loss"

    def against(mv: float, learned: bool | None, pct: float | None) -> str:
        pct_words = f", {pct:.2f} % a day" if pct is not None else ""
        if learned is False:  # the chemistry's healthy rate stands in, being higher
            return f"judged against a healthy pack's {rate(mv)}{pct_words}"
        return f"its own baseline: {rate(mv)}{pct_words}"

    if judged is not None and judged_base is not None:
        # an active self_discharge alert: the park and the baseline it judged, as its message says
        pct = sd.alert_pct_per_day
        text = f"{rate(judged)}" + (f" ({pct:.2f} % a day)" if pct is not None else "")
        text += (f" in the park the warning judged ({against(judged_base, sd.alert_baseline_learned, sd.alert_baseline_pct_per_day)}"
                 f", {judged / judged_base:.1f} x)")
        if last is not None and abs(last - judged) > 0.05:
            text += f"; last long park {rate(last)}, on another part of the charge curve"
        return text
    text = "no park judged yet" if last is None else f"{rate(last)} in the last long park"
    if base is None:
        return text + "; its own baseline is still being learned"
    return text + f" ({against(base, sd.baseline_learned, sd.baseline_pct_per_day)})"


def _faulted_lines(b: BatterySummary, f: Fault) -> list[str]:
    """The voltage and charge lines of a faulted channel: what is known, and from when."""
    since = f" since {_at(f.since)}" if f.since is not None else ""
    good = b.good_rested()
    first = f"its first sign at {_at(f.first_sign)}" if f.first_sign is not None else "it"
    if good is not None:
        last = f"last good rested reading {good.voltage:.2f} V at {_at(good.at)}"
    elif b.rested_voltage is not None and b.rested_at is not None:
        last = (f"no rested reading known good: the last one ({b.rested_voltage:.2f} V at "
                f"{_at(b.rested_at)}) is after {first}")
    else:
        last = f"no rested reading before {first}"
    at_good = "" if good is None or good.soc_pct is None else f" ({good.soc_pct} % at the last good rested reading)"
    return [
        f"  voltage           readings not trustworthy (sensor fault{since}); {last}",
        f"  state of charge   unknown while the sensor is faulted{at_good}",
    ]


def _age_line(b: BatterySummary, extra: Mapping[str, Any]) -> str:
    if b.age_years is None:
        why = b.age_note or "set `installed` in the configuration"
        return f"  age               unknown: {why}"
    # the date the analysis counted from (a summary from before it said so: the configuration's)
    installed = b.fitted if b.fitted_from == "installed" else extra.get("installed")
    inst = f", installed {installed}" if installed and b.fitted_from != "replaced" else ""
    return f"  age               {b.age_years:.1f} years{inst}"


def _render_battery(title: str, b: BatterySummary | None, extra: Mapping[str, Any]) -> list[str]:
    kind_text = f" ({extra['type']})" if extra.get("type") else ""
    lines = [f"{title}{kind_text}"]
    if b is None:
        return [*lines, "  no analysis in the store yet"]
    lines.append(f"  health            {b.health.text()}")
    if b.fault is not None:
        lines.append(f"  sensor fault      {b.fault.kind} (its alerts are held until the readings are plausible)")
        lines += _faulted_lines(b, b.fault)  # neither the voltage nor the charge is current
    else:
        volts = _voltage_line(b)
        if volts:
            lines.append(f"  voltage           {volts}")
        if extra.get("soc_note"):
            lines.append(f"  state of charge   unknown: {extra['soc_note']}")
        else:
            soc = b.soc_pct
            lines.append(f"  state of charge   {'unknown' if soc is None else f'{soc} % (from the rested voltage)'}")
    lines.append(_age_line(b, extra))
    if extra.get("fitted_text"):
        lines.append(f"  fitted            {extra['fitted_text']}")
    if extra.get("replacement_text"):
        lines.append(f"  replacement       {extra['replacement_text']}")
    lines.append(f"  remaining life    {_life(b.remaining)}")
    st = b.last_start
    if st is not None:
        when = f", {_at(st.at)}" if st.at is not None else ""
        temp = f" at {st.temp_c:.1f} °C" if st.temp_c is not None else ""
        lines.append(f"  last start        lowest {_volts(st.min_v)}{when}{temp}")
    lines.append(f"  trend             {_sos_trend(b.trend) if b.battery == 'sos' else _main_trend(b.trend)}")
    sd = None if b.self_discharge is None else _self_discharge(b.self_discharge)
    if sd:
        lines.append(f"  self-discharge    {sd}")
    return lines


def render(info: dict[str, Any]) -> str:
    lines = [f"battwatch status: vehicle {info['vehicle']}    (now {_when(info['now'])})"]
    d = _dict(info.get("daemon"))
    if d:
        seen = f"store updated {_ago(d.get('store_updated_age_s'))}" if d.get("store_updated") else "store never written"
        if d.get("systemd"):
            via = f"systemd: {d['systemd']}"
        elif d.get("pid"):
            via = f"pid {d['pid']} has the store open: {d.get('command') or '?'}"
        else:
            via = "no systemd here, and no process has the store open"
        stale = "; nothing written for a while: is it stuck?" if d.get("running") and d.get("stale") else ""
        lines.append(f"Daemon        {'running' if d.get('running') else 'NOT RUNNING'} ({via}; {seen}{stale})")
    if "error" in info:
        lines.append(f"  {info['error']} ({info['store']})")
        return "\n".join(lines)
    if info.get("note"):
        lines.append(f"Note          {info['note']}")
    last = info.get("last_reading")
    if last:
        state = f", {last['state']}" if last.get("state") else ""
        temp = f", {last['temp_c']:.1f} °C" if _number(last.get("temp_c")) is not None else ""
        summary = info.get("summary")

        def mark(kind: str) -> str:
            b = summary.battery(kind) if isinstance(summary, VehicleSummary) else None
            return " (not trustworthy: sensor fault)" if b is not None and b.fault is not None else ""

        lines.append(
            f"Last reading  {_when(last['time'])} ({_ago(last['age_s'])}): 12 V {_volts(last['main_v'])}{mark('main')}, "
            f"SOS {_volts(last['sos_v'])}{mark('sos')}{temp}{state}"
        )
    else:
        lines.append("Last reading  none yet")
    n = info["readings"]
    lines.append(f"Store         {info['store']} ({n:,} reading{'' if n == 1 else 's'})")
    if info.get("vehicle_state"):
        state = info["vehicle_state"]
        if state == "unknown":
            state = "unknown (the 12 V channel, which tells the states apart, has a sensor fault)"
        lines.append(f"Vehicle       {state}")
    lines.append("")
    summary = info.get("summary")
    for kind, title in (("main", "Starter battery 12 V"), ("sos", "SOS backup battery")):
        b = summary.battery(kind) if isinstance(summary, VehicleSummary) else None
        lines += _render_battery(title, b, info["batteries"][kind])
    lines.append("")
    alerts = info["alerts"]
    lines.append(f"Alerts        {len(alerts)} active" if alerts else "Alerts        none active")
    for a in alerts:
        since = f" since {_when(a['since'])}" if a["since"] else ""
        if a.get("raised") and a["raised"] != a["since"]:
            what = f" as {a['raised_severity']}" if a.get("raised_severity") else ""
            since += f" (raised {_when(a['raised'])}{what})"
        lines.append(f"  {a['severity'].upper():8} {a['battery']}/{a['alert']}{since}: {a['message']}")
    lines.append("")
    lines.append("Sinks")
    if not info["sinks"]:
        lines.append("  none reported yet")
    for name, s in info["sinks"].items():
        parts = []
        if s["connected"] is not None:
            parts.append("connected" if s["connected"] else "DISCONNECTED")
        if s["backlog"] is not None:
            parts.append(f"backlog {s['backlog']:,}")
        if name == "store":
            detail = s["detail"]
            if _number(detail.get("readings_written")) is not None:
                parts.append(f"{int(detail['readings_written']):,} readings written since start")
            if _number(detail.get("pending")):
                parts.append(f"{int(detail['pending']):,} awaiting commit")
        if s["last_error"]:
            parts.append(f"last error: {s['last_error']}")
        lines.append(f"  {name:8} {', '.join(parts) or 'no details'}")
    disk = _dict(info.get("disk"))
    if disk.get("total_bytes"):
        mib = 1024 * 1024
        room = f"{disk['free_bytes'] / mib:.1f} MiB free of {disk['total_bytes'] / mib:.1f} MiB"
        lines.append(f"  {'disk':8} {'FULL: readings cannot be stored, ' if disk['full'] else ''}{room}")
    if disk.get("problem"):
        lines.append(f"  {'':8} store writing failed: {disk['problem']}")
    if disk.get("unwritten") or disk.get("csv_unwritten"):
        lines.append(f"  {'':8} {disk['unwritten']:,} readings not stored in the database and "
                     f"{disk['csv_unwritten']:,} rows not in the daily log (disk full or failing)")
    link = info.get("link")
    lines.append("")
    if link is None:
        lines.append("Serial link   no statistics yet")
    else:
        up = {True: "up", False: "DOWN", None: "state unknown"}[link["connected"]]
        who = f" — {link['board'] or '?'} firmware {link['firmware']}" if link["firmware"] else ""
        loss = f" ({link['loss_pct']:.2f} %)" if link["loss_pct"] is not None else ""
        kinds = f" ({', '.join(f'{k} {v}' for k, v in link['errors'].items())})" if link["errors"] else ""
        lines.append(f"Serial link   {up}{who}")
        lines.append(
            f"  {link['frames']:,} frames, {link['lost_frames']:,} lost{loss}, "
            f"{link['bad_lines']:,} bad lines{kinds}, {link['device_reboots']} device reboots"
        )
        if link.get("held_for_clock"):
            lines.append(f"  {link['held_for_clock']:,} readings held until the host clock is synchronised (NTP)")
        if link.get("host_clock") == "unknown":
            lines.append("  host clock: cannot tell whether it is synchronised (adjtimex refused); "
                         "taken as unsynchronised")
    if info["recent_events"]:
        lines.append("")
        lines.append("Recent alert transitions")
        for e in info["recent_events"]:
            # a message may begin with what happened ("cleared: battery replaced on ..."): say it once
            said = f"{e['change']}: "
            text = e["message"] if str(e["message"]).startswith(said) else said + str(e["message"])
            lines.append(f"  {_when(e['time'])} {e['battery']}/{e['alert']} {e['severity']} {text}")
    return "\n".join(lines)


def run_status(args: argparse.Namespace) -> int:
    import dataclasses

    from battwatch.config import DEFAULT_PATH, VEHICLE_ID
    from battwatch.config import load_or_defaults as load_config

    store = getattr(args, "store", None)
    if store is not None and args.config is None:
        # no configuration: the vehicle is the one the store holds, the rest the defaults
        held = read_store_vehicle(Path(store))
        import re

        vehicle = held if held is not None and re.search(VEHICLE_ID, held) else "unknown"
        cfg = load_config(None, required=False, vehicle=vehicle)
    else:
        cfg = load_config(args.config or str(DEFAULT_PATH), required=True)
    if store is not None:
        cfg = dataclasses.replace(cfg, store=dataclasses.replace(cfg.store, path=Path(store)))
    info = collect(cfg)
    if args.json:
        json.dump(as_json(info), sys.stdout, indent=2, default=str)
        print()
    else:
        print(render(info))
    return 0 if "error" not in info else 1

