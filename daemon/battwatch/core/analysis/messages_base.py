"""What the texts of both batteries share: dates, spans of time, and the words of a level held."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from battwatch.core.analysis.briefs import LEVEL_WORDS
from battwatch.core.analysis.engine import CRITICAL, NONE, WARNING


def day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).date().isoformat()


def when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def days_words(d: float) -> str:
    return "less than a day" if d < 0.75 else "about a day" if d < 1.5 else f"about {d:.0f} days"


def years_words(y: float) -> str:
    return f"{y:.1f} years"


def span(years: float) -> str:
    """A stretch of time in words that stay sensible near zero: "2.9 years", "5 months",
    "less than a month" (never "0.0 years")."""
    months = round(years * 12.0)
    if months >= 12:
        return f"{max(1.0, years):.1f} years"
    if months >= 2:
        return f"{months} months"
    return "about a month" if years * 12.0 >= 0.75 else "less than a month"


def level_of(sev: int, c: dict[str, Any]) -> float:
    """The limit of severity ``sev`` from a context holding "info", "warn" and "crit"."""
    return float(c["crit"] if sev == CRITICAL else c["warn"] if sev == WARNING else c["info"])


def clear_of(sev: int, c: dict[str, Any]) -> float:
    """The level that ends severity ``sev``, from "info_clear", "warn_clear" and "crit_clear"."""
    return float(c["crit_clear"] if sev == CRITICAL else c["warn_clear"] if sev == WARNING else c["info_clear"])


def level_words(sev: int, value: float, c: dict[str, Any], *, low: bool, digits: int = 2) -> str:
    """Why ``value`` holds an alert at severity ``sev``, true on both sides of the hysteresis.

    Past the level: "below the 12.40 V warning level". Back past it but not yet past the level
    that ends it: "back above the 12.40 V warning level but still below the 12.50 V that ends
    it". Coming down from a higher severity (``c["from"]``, set by the rule when its verdict is
    below the alert's level), it says first what ended that one: "back above the 12.10 V that
    ends the critical level but still below the 12.40 V warning level". ``c`` holds the limits
    ("info", "warn", "crit") and the levels that end them ("info_clear", ...); ``low``: the
    alert is about a value that is too low.
    """
    name = LEVEL_WORDS[sev]
    lim = level_of(sev, c)
    under, over = ("below", "above") if low else ("above", "below")
    past = value < lim if low else value > lim
    held = f"the {lim:.{digits}f} V {name} level" if past else (
        f"the {clear_of(sev, c):.{digits}f} V that ends the {name} level")
    prior = int(c.get("from") or NONE)
    if prior > sev:
        # the value is past the level that ends the severity just above this one (for a low
        # value: above it), which ends every severity up to the one it comes from
        ended = " and ".join(LEVEL_WORDS[x] for x in range(sev + 1, prior + 1))
        plural = "levels" if prior > sev + 1 else "level"
        return (f"back {over} the {clear_of(sev + 1, c):.{digits}f} V that ends the {ended} {plural} "
                f"but still {under} {held}")
    if past:
        return f"{under} {held}"
    return f"back {over} the {lim:.{digits}f} V {name} level but still {under} the {clear_of(sev, c):.{digits}f} V that ends it"
