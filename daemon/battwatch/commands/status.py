"""``battwatch status``: the one screen for an owner or a mechanic, read from the store."""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from battwatch.commands.status_text import _dict, _number, render
from battwatch.core.healthsummary import (
    BatterySummary,
    SummaryError,
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
        cells = getattr(battery_cfg, "cells", "?")
        out["type"] = f"{getattr(battery_cfg, 'chemistry', '?')}, {cells} cell{'' if cells == 1 else 's'}"
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
         "previous_severity": e[7] if e[6] == "raised" else None, "message": e[5]}
        for e in events
    ]
    for a in info["alerts"]:
        # what brought the alert to its severity, when the recent transitions hold it: an
        # easing is said as one, not read as a new alert
        last = next((e for e in info["recent_events"] if (e["battery"], e["alert"]) == (a["battery"], a["alert"])),
                    None)
        moved = last is not None and last["time"] == a["since"] and last["change"] in ("escalated", "eased")
        a["change"] = last["change"] if moved and last is not None else None
        a["previous_severity"] = last["previous_severity"] if moved and last is not None else None
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

