"""A replaced battery told by its owner (CLI, MQTT, Home Assistant): parsed, checked, recorded."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

from battwatch.core.timefmt import iso_utc, parse_time

if TYPE_CHECKING:
    from battwatch.adapters.store import Store
    from battwatch.config import Config

logger = logging.getLogger(__name__)

BATTERIES: Final = ("main", "sos")
NAMES: Final = {"main": "12 V battery", "sos": "SOS backup battery"}
NOTE_MAX: Final = 200  # characters of the owner's note kept
FUTURE_SLACK_S: Final = 60.0  # a time this far ahead of the clock is a typo, not a clock skew
DATE_HELP: Final = "a date (2025-03-25) or a time with its UTC offset (2025-03-25T10:00+01:00)"


class ReplacementError(ValueError):
    """A replacement that cannot be recorded; the text says why and what to do."""


@dataclass(frozen=True, slots=True)
class Replacement:
    battery: str
    t: float  # data time from which the new battery is analysed
    note: str
    source: str  # "cli" or "mqtt"


def parse_when(text: str | None, now: float) -> float:
    """When the new battery was fitted: now without a date; a date alone means the end of that
    UTC day (or now, if that is earlier), so that day's readings of the old battery are not
    taken for the new one's; a time with its offset is taken as it is."""
    if text is None or not text.strip():
        return now
    text = text.strip()
    try:
        d = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        raise ReplacementError(f"--date {text!r}: not a valid date; expected {DATE_HELP}") from None
    if d is not None:
        start = datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()
        if start > now:
            raise ReplacementError(f"--date {text}: the date is in the future (today is {iso_utc(now)[:10]} UTC)")
        return min(start + 86399.0, now)
    try:
        t = parse_time(text)
    except ValueError as e:
        raise ReplacementError(f"--date {text!r}: {e}; expected {DATE_HELP}") from None
    if t > now + FUTURE_SLACK_S:
        raise ReplacementError(f"--date {text}: the time is in the future (now is {iso_utc(now)[:19]}Z)")
    return t


def check(store: Store, cfg: Config, rep: Replacement) -> tuple[bool, list[str]]:
    """Whether ``rep`` is new (False: exactly this is recorded already), and notes for the
    owner. Raises ReplacementError for an unknown battery, a time before the data the store
    holds, or one before a later replacement already recorded."""
    if rep.battery not in BATTERIES:
        raise ReplacementError(f"unknown battery {rep.battery!r}: expected one of {', '.join(BATTERIES)}")
    first = store.first_reading_t()
    if first is not None and rep.t < first:
        raise ReplacementError(
            f"{iso_utc(rep.t)[:10]} is before the data the store holds (from {iso_utc(first)[:10]}): a "
            f"battery fitted before that is not a replacement the data can show; set "
            f"[battery.{rep.battery}] installed = {iso_utc(rep.t)[:10]} in the configuration instead")
    notes: list[str] = []
    for _, battery, t, _, _, _ in store.replacements():
        if battery != rep.battery:
            continue
        if t == rep.t:
            return False, [f"this replacement is recorded already ({iso_utc(t)[:10]})"]
        if t > rep.t:
            raise ReplacementError(
                f"a later replacement of the {NAMES[rep.battery]} is recorded already ({iso_utc(t)[:10]}): "
                "the latest one counts")
    installed = getattr(cfg.battery, rep.battery).installed
    if installed is not None and datetime(installed.year, installed.month, installed.day,
                                          tzinfo=UTC).timestamp() > rep.t:
        notes.append(f"[battery.{rep.battery}] installed = {installed} in the configuration is later: "
                     "that date wins, and this replacement changes nothing")
    return True, notes


def clean_note(text: str | None) -> str:
    """The owner's note on one line, without control characters, at most NOTE_MAX long."""
    if not text:
        return ""
    return "".join(c if c.isprintable() else " " for c in text).strip()[:NOTE_MAX]


def parse_command(payload: bytes) -> dict[str, Any]:
    """An MQTT command: a battery name alone (what the Home Assistant button sends) or a JSON
    object {"battery": ..., "date": ..., "note": ...}. Raises ReplacementError."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ReplacementError("the command is not UTF-8 text") from None
    if text in BATTERIES:
        return {"battery": text}
    try:
        body = json.loads(text)
    except ValueError:
        raise ReplacementError(
            f"the command {text[:40]!r} is neither a battery name ({', '.join(BATTERIES)}) nor a JSON "
            "object") from None
    if not isinstance(body, dict):
        raise ReplacementError("the command is not a JSON object")
    unknown = sorted(set(body) - {"battery", "date", "note"})
    if unknown:
        raise ReplacementError(f"unknown keys in the command: {', '.join(unknown)}; expected battery, date, note")
    for key in ("battery", "date", "note"):
        if key in body and body[key] is not None and not isinstance(body[key], str):
            raise ReplacementError(f"{key}: expected a string")
    if not body.get("battery"):
        raise ReplacementError(f"battery: required ({', '.join(BATTERIES)})")
    return body



@dataclass(frozen=True, slots=True)
class ReplaceCommand:
    """A replacement asked for over MQTT (the Home Assistant button): raw payload, wall time."""

    payload: bytes
    received: float


def answer_command(store: Store, cfg: Config, cmd: ReplaceCommand, counts: dict[str, int]) -> dict[str, Any]:
    """A replacement asked for over MQTT, checked as the CLI checks it and recorded: the answer
    to publish. ``counts`` (received, refused) are the daemon's, shown in its summary."""
    counts["received"] += 1
    answer: dict[str, Any] = {"received": datetime.fromtimestamp(cmd.received, UTC).isoformat()}
    try:
        body = parse_command(cmd.payload)
        answer["battery"] = body["battery"]
        rep = Replacement(body["battery"], parse_when(body.get("date"), cmd.received),
                          clean_note(body.get("note")), "mqtt")
        new, notes = check(store, cfg, rep)
        if new:
            store.record_replacement(rep.battery, rep.t, rep.note, rep.source, cmd.received)
        answer.update(result="recorded" if new else "already recorded", note=rep.note,
                      fitted=datetime.fromtimestamp(rep.t, UTC).date().isoformat(), fitted_t=rep.t, notes=notes)
    except ReplacementError as e:
        counts["refused"] += 1
        logger.warning("replacement command refused (%d so far): %s", counts["refused"], e)
        answer.update(result="refused", error=str(e))
    except sqlite3.Error as e:  # a full or failing disk: the owner must hear it was not kept
        counts["refused"] += 1
        logger.error("replacement command not stored (%d refused so far): %s", counts["refused"], e)
        answer.update(result="not stored",
                      error=f"the store could not record it ({e}); send it again once the store's disk has room")
    return answer

def run_replaced(args: Any) -> int:
    """``battwatch replaced``: record a new battery in the store; 0 recorded (or already), 2 refused."""
    import sys
    import time
    from pathlib import Path

    from battwatch.adapters.store import DB_NAME, Store
    from battwatch.config import defaults, load

    if args.config is None and args.store:
        cfg = defaults("replaced")  # a store alone (the demo's): no installed dates to weigh
    else:
        cfg = load(args.config or "/etc/battwatch/battwatch.toml")
    directory = Path(args.store) if args.store else cfg.store.path
    if not (directory / DB_NAME).is_file():
        print(f"battwatch replaced: no battwatch store in {directory} ({DB_NAME} missing): give the "
              "daemon's store with --store DIR, or start the daemon once", file=sys.stderr)
        return 2
    now = time.time()
    store = Store(directory, cfg.vehicle.id, csv_logs=False)
    try:
        rep = Replacement(args.battery, parse_when(args.date, now), clean_note(args.note), "cli")
        new, notes = check(store, cfg, rep)
        if new:
            store.record_replacement(rep.battery, rep.t, rep.note, rep.source, now)
        state = store.get("analyzer")
        vehicle = state.get("vehicle") if isinstance(state, dict) else None
    except ReplacementError as e:
        print(f"battwatch replaced: {e}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if new:
        print(f"recorded: {NAMES[rep.battery]} of {vehicle or cfg.vehicle.id} replaced on {iso_utc(rep.t)[:10]} "
              f"(from {iso_utc(rep.t)[:19]}Z) in {directory}. The daemon takes it up within seconds, "
              "without a restart: the battery's alerts clear, its age counts from that date, and its "
              "trend and baselines start afresh; `battwatch status` shows the fitted date.")
    return 0
