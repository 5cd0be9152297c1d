"""A battery replaced: the step up that hints at a new one, and the words of hint and reset (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Final

from battwatch.core.analysis.trend import median

BATTERY_NAMES: Final = {"main": "12 V battery", "sos": "SOS backup battery"}
HINT_ALERT: Final = "replaced_hint"  # the information alert of a battery that looks new


def utc_date(t: float) -> date:
    return datetime.fromtimestamp(t, UTC).date()


def step_up(
    points: Iterable[tuple[float, float]], before_n: int, after_n: int, steady_v: float, step_v: float,
) -> tuple[float, float, float] | None:
    """The daily rested values end in a step up that stayed: (day number of the first day on
    the new level, the level before, the lowest day since), or None.

    The ``before_n`` days before the step must be a steady level (within ``steady_v``): a
    battery running down or being recharged moves gradually, a new one steps. Every one of the
    last ``after_n`` days must be at least ``step_v`` above the highest of them. One day in
    between may be left out: the day of the garage visit mixes the old battery and the new.
    """
    pts = list(points)
    for gap in (0, 1):
        need = before_n + gap + after_n
        if len(pts) < need:
            return None
        window = pts[-need:]
        before = [v for _, v in window[:before_n]]
        after = [v for _, v in window[before_n + gap:]]
        top = max(before)
        if top - min(before) > steady_v:
            continue
        low = min(after)
        if low - top >= step_v:
            return window[before_n + gap][0], median(before), low
    return None


def cleared_text(battery: str, when: float, note: str) -> str:
    """The message of every alert a confirmed replacement clears."""
    extra = f" ({note})" if note else ""
    return (f"cleared: battery replaced on {utc_date(when).isoformat()}{extra}. The new "
            f"{BATTERY_NAMES.get(battery, battery)}'s age counts from that day; its trend, "
            "baselines and references start afresh.")


def hint_text(sev: int, c: dict[str, Any]) -> str:
    """The hint that a battery looks new, with the command that confirms it."""
    battery = c["battery"]
    name = BATTERY_NAMES.get(battery, battery)
    day = c["day"]
    if sev == 0:
        return f"The {name} no longer looks newly replaced."
    starts = ""
    if c.get("crank_before") is not None:
        starts = (f", and its starts dip to {c['crank_after']:.2f} V instead of "
                  f"{c['crank_before']:.2f} V")
    return (
        f"The {name}'s rested voltage stepped up from {c['before']:.2f} V to {c['after']:.2f} V "
        f"around {day} and stayed there{starts}: this looks like a new battery. If it was "
        f"replaced, confirm it with `battwatch replaced --battery {battery} --date {day}` (or the "
        f"'{name} replaced' button in Home Assistant), so its age, trends and alerts start "
        "afresh. Nothing is reset until then."
    )
