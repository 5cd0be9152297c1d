"""What of a battery's summary can still be trusted while its channel has a sensor fault."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from battwatch.core.timefmt import iso_utc


def number(value: Any) -> float | None:
    """A finite number, or None for anything else (missing, text, NaN, bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def as_time(value: Any) -> float | None:
    """Unix seconds from a number or an ISO 8601 string; None if neither."""
    n = number(value)
    if n is not None:
        return n
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    return None


def faulted(section: Mapping[str, Any]) -> bool:
    """The summary section names an active sensor fault (its kind)."""
    kind = section.get("sensor_fault")
    return isinstance(kind, str) and bool(kind)


def last_good_rested(section: Mapping[str, Any]) -> dict[str, Any] | None:
    """The last rested reading from before the fault's first sign (or, for a summary without
    one, before the raise), with its charge; None when no rested reading is known to be good.

    A reading stamps the end of its window and the first sign is the start of the first bad
    window, so a rested reading at that very time is still a good one.
    """
    rested = number(section.get("rested_voltage"))
    rested_t = as_time(section.get("rested_at"))
    first = as_time(section.get("sensor_fault_first_sign"))
    if first is None:
        first = as_time(section.get("sensor_fault_since"))
    if rested is None or rested_t is None or (first is not None and rested_t > first):
        return None
    return {"voltage": rested, "at": iso_utc(rested_t), "soc_pct": section.get("soc_pct")}
