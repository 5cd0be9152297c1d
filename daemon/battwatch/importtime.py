"""The time formats ``battwatch import`` recognises in other loggers' files, and their reading (pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from battwatch.core.timefmt import MAX_T, MIN_T

# units a numeric time column may be given in with --column time=NAME:UNIT (seconds each)
TIME_UNITS = {"s": 1.0, "ms": 0.001, "min": 60.0, "h": 3600.0, "d": 86400.0}
# the order of day and month in a date written with slashes, given as the time column's unit
DATE_ORDERS = ("dmy", "mdy")

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)?$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?$")
_YMD_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

# what a person calls each kind in the detection report
KIND_TEXT = {
    "iso": "ISO 8601 with a UTC offset",
    "iso-local": "YYYY-MM-DD HH:MM:SS (ISO 8601 without an offset)",
    "dotted": "DD.MM.YYYY HH:MM:SS",
    "dmy": "DD/MM/YYYY HH:MM:SS",
    "mdy": "MM/DD/YYYY HH:MM:SS",
    "ymd": "YYYY/MM/DD HH:MM:SS",
    "unix": "Unix seconds",
    "unix-ms": "Unix milliseconds",
    "relative": "time since the start",
}
LOCAL_KINDS = frozenset({"iso-local", "dotted", "dmy", "mdy", "ymd"})
FORMATS_KNOWN = ("ISO 8601, DD.MM.YYYY HH:MM:SS, YYYY-MM-DD HH:MM:SS, DD/MM/YYYY or MM/DD/YYYY, "
                 "Unix seconds or milliseconds, or seconds since the start")


class TimeRefused(ValueError):
    """The time column cannot be read as it stands; the message says which option settles it."""


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.match(text) else None


def classify(values: Sequence[str], unit: str | None = None) -> str:
    """The kind of times in ``values`` (a sample of non-empty fields); TimeRefused when none fits
    or when day and month cannot be told apart."""
    if unit in TIME_UNITS:
        return "relative"
    if all(_ISO.match(v) for v in values):
        aware = [bool(re.search(r"(Z|z|[+-]\d{2}(:?\d{2})?)$", v.split(" ", 1)[-1].split("T", 1)[-1]))
                 for v in values]
        if all(aware):
            return "iso"
        if not any(aware):
            return "iso-local"
        raise TimeRefused("some times carry a UTC offset and some do not")
    if all(_DOTTED.match(v) for v in values):
        return "dotted"
    if all(_YMD_SLASHED.match(v) for v in values):
        return "ymd"
    if all(_SLASHED.match(v) for v in values):
        if unit in DATE_ORDERS:
            return unit
        return _day_or_month(values)
    numbers = [_number(v) for v in values]
    if all(n is not None for n in numbers):
        lo = min(n for n in numbers if n is not None)
        hi = max(n for n in numbers if n is not None)
        if MIN_T <= lo and hi < MAX_T:
            return "unix"
        if MIN_T * 1000 <= lo and hi < MAX_T * 1000:
            return "unix-ms"
        return "relative"
    bad = next(v for v in values if not (_ISO.match(v) or _DOTTED.match(v) or _SLASHED.match(v)
                                         or _number(v) is not None))
    raise TimeRefused(f"times like {bad!r} are in no format battwatch import knows ({FORMATS_KNOWN})")


def _day_or_month(values: Sequence[str]) -> str:
    firsts = [int(m.group(1)) for v in values if (m := _SLASHED.match(v))]
    seconds = [int(m.group(2)) for v in values if (m := _SLASHED.match(v))]
    if any(f > 12 for f in firsts):
        return "dmy"
    if any(s > 12 for s in seconds):
        return "mdy"
    raise TimeRefused(f"dates like {values[0]!r} can be day/month or month/day")


@dataclass(slots=True)
class TimeReader:
    """Reads one column's times as Unix seconds, the way ``classify`` found them written.

    Local times (no offset) are placed in ``zone``; in the hour a clock goes back, a time that
    occurs twice is taken in the first pass unless that would go back in time, so a log
    written straight through a change keeps moving forward. Relative times count from
    ``start`` in ``scale`` seconds per unit.
    """

    kind: str
    zone: tzinfo | None = None
    start: float | None = None
    scale: float = 1.0
    _prev: float = float("-inf")

    def __call__(self, text: str) -> float:
        kind = self.kind
        if kind == "iso":
            t = datetime.fromisoformat(_upper(text)).timestamp()
        elif kind == "unix":
            t = float(text)
        elif kind == "unix-ms":
            t = float(text) / 1000.0
        elif kind == "relative":
            assert self.start is not None
            t = self.start + float(text) * self.scale
        else:
            t = self._local(self._naive(text))
        self._prev = t
        return t

    def _naive(self, text: str) -> datetime:
        kind = self.kind
        if kind == "iso-local":
            return datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        pattern = {"dotted": _DOTTED, "dmy": _SLASHED, "mdy": _SLASHED, "ymd": _YMD_SLASHED}[kind]
        m = pattern.match(text)
        if m is None:
            raise ValueError(f"{text!r} is not written as {KIND_TEXT[kind]}")
        a, b, c, hh, mm, ss, frac = m.groups()
        if kind == "ymd":
            y, mo, d = int(a), int(b), int(c)
        elif kind == "mdy":
            y, mo, d = int(c), int(a), int(b)
        else:
            y, mo, d = int(c), int(b), int(a)
        us = int((frac or "0")[:6].ljust(6, "0"))
        return datetime(y, mo, d, int(hh), int(mm), int(ss or 0), us)

    def _local(self, naive: datetime) -> float:
        zone = self.zone
        assert zone is not None
        first = naive.replace(tzinfo=zone, fold=0).timestamp()
        second = naive.replace(tzinfo=zone, fold=1).timestamp()
        if first != second and first <= self._prev < second:
            return second  # the repeated hour after the clocks went back
        return first


def _upper(text: str) -> str:
    text = text.strip()
    return text[:-1] + "Z" if text.endswith("z") else text


def parse_start(text: str, zone: tzinfo | None) -> float:
    """``--start``: ISO 8601, with an offset or in ``zone``; ValueError with a reason otherwise."""
    try:
        dt = datetime.fromisoformat(_upper(text))
    except ValueError:
        raise ValueError(f"--start {text!r} is not an ISO 8601 time (e.g. 2021-04-28T20:34:26+02:00)") from None
    if dt.tzinfo is None:
        if zone is None:
            raise ValueError(f"--start {text!r} has no UTC offset: add one (e.g. {text}+00:00) or give --tz")
        dt = dt.replace(tzinfo=zone)
    return dt.astimezone(UTC).timestamp()
