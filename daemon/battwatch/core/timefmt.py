"""Conversions between Unix seconds and ISO 8601 text (pure)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(t: float) -> str:
    """Unix seconds as ISO 8601 in UTC with an explicit offset, to the millisecond."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def parse_time(text: str) -> float:
    """ISO 8601 with an offset, or Unix seconds, to Unix seconds.

    Raises ValueError for anything else, including an ISO time without an offset:
    a naive local time would be read differently on every machine.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty time")
    c = text[0]
    if (c.isdigit() or c in "+-.") and ("-" not in text[1:]) and ":" not in text:
        return float(text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither ISO 8601 nor Unix seconds") from None
    if dt.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return dt.timestamp()
