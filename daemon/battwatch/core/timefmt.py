"""Conversions between Unix seconds and ISO 8601 text (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    # a 64-bit machine integer when compiled (no tagging or overflow checks in the character
    # loops); only ever an annotation, so plain Python never imports it
    from mypy_extensions import i64

# The times a reading may carry: a clock before 2000 or after 2099 is a wrong clock or a wrong
# unit (Unix milliseconds read as seconds: year 56986), never data. Everything that stores or
# dates a reading can rely on this range, which datetime handles without overflow.
MIN_T: Final = 946684800.0  # 2000-01-01T00:00:00Z, the first time allowed
MAX_T: Final = 4102444800.0  # 2100-01-01T00:00:00Z, the first time refused


def time_range_problem(t: float, text: str) -> str | None:
    """Why ``t`` (read from ``text``) is not a plausible reading time, or None when it is."""
    if MIN_T <= t < MAX_T:
        return None
    if MIN_T <= t / 1000.0 < MAX_T:
        return (f"time {text} is after 2099 as Unix seconds; it looks like Unix milliseconds "
                f"({iso_utc(t / 1000.0)}): write seconds (divide by 1000)")
    return f"time {text} is outside 2000-01-01..2099-12-31 (UTC), the range a reading's time may have"


def iso_utc(t: float) -> str:
    """Unix seconds as ISO 8601 in UTC with an explicit offset, to the millisecond."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def parse_time(text: str) -> float:
    """ISO 8601 with an offset (``Z`` or ``z`` for UTC), or Unix seconds, to Unix seconds.

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
        dt = datetime.fromisoformat(_upper_z(text))
    except ValueError:
        raise ValueError(f"{text!r} is neither ISO 8601 nor Unix seconds") from None
    if dt.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return dt.timestamp()


def _upper_z(text: str) -> str:
    """RFC 3339 (section 5.6) allows a lower-case ``z`` for UTC, which datetime (3.11) refuses."""
    return text[:-1] + "Z" if text.endswith("z") else text


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def _digits(s: str, i: int, j: int) -> int:
    """The decimal number written in s[i:j], or -1 if any of it is not an ASCII digit."""
    n = 0
    while i < j:
        d = ord(s[i]) - 48
        if d < 0 or d > 9:
            return -1
        n = n * 10 + d
        i += 1
    return n


def _written_at(s: str, i: i64, word: str) -> bool:
    """Whether ``word`` is written in ``s`` at index ``i``: str.startswith at an index,
    which compiled code does character by character with no call and no slice."""
    n: i64 = len(word)
    for k in range(n):
        if ord(s[i + k]) != ord(word[k]):
            return False
    return True


def _two(s: str, i: i64) -> i64:
    """The two-digit number written at s[i], or -1."""
    a: i64 = ord(s[i])
    b: i64 = ord(s[i + 1])
    return a * 10 + b - 528 if 48 <= a <= 57 and 48 <= b <= 57 else -1  # 528: "00"


def _clock_us(s: str, i: i64, end: i64) -> i64:
    """IsoTimes.parse's reading of the clock for IsoTimes.at: the microseconds since midnight
    of a time "YYYY-MM-DDTHH:MM:SS[.mmm|.uuuuuu]" written in s[i:end], or -1 for any other
    shape. Written with machine integers and character codes for compiled code; parse keeps
    its own reading, which is quicker as plain Python."""
    if ord(s[i + 13]) != 58 or ord(s[i + 16]) != 58:  # ":"
        return -1
    h = _two(s, i + 11)
    m = _two(s, i + 14)
    sec = _two(s, i + 17)
    n = end - i
    us: i64 = -1
    if n == 19:
        us = 0
    elif n == 23 and ord(s[i + 19]) == 46:  # "." and milliseconds
        ms = _two(s, i + 20)
        d: i64 = ord(s[i + 22])
        if ms >= 0 and 48 <= d <= 57:
            us = (ms * 10 + d - 48) * 1000
    elif n == 26 and ord(s[i + 19]) == 46:  # microseconds
        u1 = _two(s, i + 20)
        u2 = _two(s, i + 22)
        u3 = _two(s, i + 24)
        if u1 >= 0 and u2 >= 0 and u3 >= 0:
            us = (u1 * 100 + u2) * 100 + u3
    if 0 <= h < 24 and 0 <= m < 60 and 0 <= sec < 60 and us >= 0:
        return ((h * 60 + m) * 60 + sec) * 1_000_000 + us
    return -1


class IsoTimes:
    """ISO 8601 text to Unix seconds, quick for a run of times sharing a date and an offset.

    A log's times keep their date and UTC offset for a whole day of rows: once datetime has
    read one of them, the others only need their clock digits. The result is bit for bit
    what ``datetime.fromisoformat(text).timestamp()`` gives (both divide whole microseconds).
    """

    __slots__ = ("prefix", "suffix", "day_us")

    def __init__(self) -> None:
        self.prefix = ""  # "YYYY-MM-DDT" of the last time read in full
        self.suffix = ""  # its offset as written ("+00:00", "Z"); empty: nothing to reuse yet
        self.day_us = 0  # microseconds from the epoch to 00:00:00 of that date at that offset

    def parse(self, text: str) -> float | None:
        """Unix seconds; None for a time without an offset; ValueError if it is not ISO 8601."""
        sfx = self.suffix
        end = len(text) - len(sfx)
        if sfx and end >= 19 and text.startswith(self.prefix) and text.endswith(sfx):
            if text[13] == ":" and text[16] == ":":
                h = _digits(text, 11, 13)
                m = _digits(text, 14, 16)
                s = _digits(text, 17, 19)
                us = -1  # milliseconds or microseconds, or none; anything else goes the long way
                if end == 19:
                    us = 0
                elif text[19] == "." and end == 23:
                    ms = _digits(text, 20, 23)
                    us = ms * 1000 if ms >= 0 else -1
                elif text[19] == "." and end == 26:
                    us = _digits(text, 20, 26)
                if 0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60 and us >= 0:
                    return (self.day_us + ((h * 60 + m) * 60 + s) * 1_000_000 + us) / 1e6
        return self._full(text)

    def at(self, s: str, i: i64, n: i64) -> tuple[float, i64]:
        """The quick path alone, for a time written in s from index i up to a comma or to
        index n, read where it lies: (Unix seconds, the index after it), or (-1.0, -1) when
        it is not written on the date and with the offset remembered."""
        sfx = self.suffix
        if not sfx or n - i < 19 + len(sfx):
            return -1.0, -1
        if not (s.startswith(self.prefix) if i == 0 else _written_at(s, i, self.prefix)):
            return -1.0, -1
        # the first offset after the clock ends the time; _clock_us then checks that only
        # the clock's digits lie before it
        end: i64 = s.find(sfx, i + 19, n)
        j: i64 = end + len(sfx)
        if end >= 0 and (j == n or ord(s[j]) == 44):  # "," or the end: the whole field
            us = _clock_us(s, i, end)
            if us >= 0:
                return float(self.day_us + us) / 1e6, j  # what int / float does
        return -1.0, -1

    def _full(self, text: str) -> float | None:
        dt = datetime.fromisoformat(_upper_z(text))
        if dt.tzinfo is None:
            return None
        n = len(text)
        # remember the date and offset when the text has the plain shape the quick path reads
        if n > 19 and text[4] == "-" and text[7] == "-" and text[13] == ":" and text[16] == ":":
            j = 19
            if text[j] == ".":
                j += 1
                while j < n and "0" <= text[j] <= "9":
                    j += 1
            if j < n and text[j] in "+-Zz":
                self.prefix = text[:11]
                self.suffix = text[j:]
                midnight = dt.replace(hour=0, minute=0, second=0, microsecond=0)
                self.day_us = (midnight - _EPOCH) // _ONE_US
        return dt.timestamp()
