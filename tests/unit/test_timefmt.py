"""ISO 8601 times: the quick reader of CSV logs agrees with datetime bit for bit."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from battwatch.core.timefmt import MAX_T, MIN_T, IsoTimes, iso_utc, parse_time, time_range_problem


def _reference(text: str) -> float | None:
    dt = datetime.fromisoformat(text)
    return None if dt.tzinfo is None else dt.timestamp()


def _outcome(fn: object, text: str) -> object:
    try:
        return fn(text)  # type: ignore[operator]
    except ValueError:
        return ValueError


def _random_times(rng: random.Random, n: int) -> list[str]:
    """Runs of times on one day and offset (the quick path), with changes and odd shapes mixed in."""
    offsets = ["+00:00", "Z", "+05:30", "-08:00", "+0100", "+14:00", "-00:30"]
    fractions = ["", ".000", ".250", ".999", ".123456", ".5", ".12", ".1234567"]
    out: list[str] = []
    date = "2025-01-06"
    offset = "+00:00"
    sep = "T"
    for _ in range(n):
        if rng.random() < 0.05:
            date = f"{rng.randint(1971, 2099):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if rng.random() < 0.05:
            offset = rng.choice(offsets)
        if rng.random() < 0.02:
            sep = rng.choice("T ")
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        frac = rng.choice(fractions) if rng.random() < 0.5 else ".000"
        text = f"{date}{sep}{clock}{frac}{offset}"
        roll = rng.random()
        if roll < 0.02:
            text = text.replace(clock, clock[:6] + "60")  # a leap second: datetime refuses it
        elif roll < 0.04:
            text = text.replace(clock, "24" + clock[2:])
        elif roll < 0.06:
            text = text.replace(clock, clock[:3] + "x" + clock[4:])
        elif roll < 0.08:
            text = text[: -len(offset)]  # no offset at all
        out.append(text)
    return out


def test_quick_iso_reader_matches_datetime_on_every_time() -> None:
    rng = random.Random(20261121)
    reader = IsoTimes()
    texts = _random_times(rng, 20_000)
    quick = 0
    for text in texts:
        before = reader.suffix
        got = _outcome(reader.parse, text)
        assert got == _outcome(_reference, text), text
        quick += bool(before) and text.endswith(before)
    assert quick > 10_000  # the runs really went the quick way


def test_reading_a_time_where_it_lies_in_a_line_matches_datetime() -> None:
    """IsoTimes.at, the compiled replay's reader: a time inside a line (first field or not,
    anything after it) is read as parse reads it alone, or left to parse (-1)."""
    rng = random.Random(20261207)
    reader = IsoTimes()
    read_in_place = 0
    for text in _random_times(rng, 20_000):
        head = rng.choice(["", "car,", "x,12.5,"])
        tail = rng.choice(["", ",12.5,5.3", ",car", "\r\n", ",Z,+00:00"])
        line = head + text + tail
        n = len(line.rstrip("\r\n"))
        t, j = reader.at(line, len(head), n)
        if j >= 0:
            read_in_place += 1
            assert (t, j) == (_reference(text), len(head) + len(text)), line
        else:
            assert t == -1.0
            _outcome(reader.parse, text)  # as the replay does: the date and offset of this time
    assert read_in_place > 10_000


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-30T00:59:59.999+00:00",
        "2025-03-30T01:00:00.000+01:00",
        "1970-01-01T00:00:00Z",
        "2038-01-19T03:14:08.000001+00:00",
        "2025-06-01 12:00:00+02:00",
    ],
)
def test_a_second_time_on_the_same_day_is_read_the_quick_way_and_right(text: str) -> None:
    reader = IsoTimes()
    first = text[:11] + "00:00:00" + text[19:]
    assert reader.parse(first) == datetime.fromisoformat(first).timestamp()
    assert reader.suffix  # the date and offset were kept
    assert reader.parse(text) == datetime.fromisoformat(text).timestamp()


def test_naive_times_are_none_and_garbage_is_a_value_error() -> None:
    reader = IsoTimes()
    assert reader.parse("2025-01-06T00:00:00") is None
    with pytest.raises(ValueError):
        reader.parse("2025-13-06T00:00:00+00:00")


def test_parse_time_reads_unix_seconds_and_iso_and_round_trips_iso_utc() -> None:
    assert parse_time("1735689600") == 1735689600.0
    assert parse_time(" 2025-01-01T00:00:00+00:00 ") == 1735689600.0
    assert parse_time(iso_utc(1735689600.25)) == 1735689600.25
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_time("2025-01-01T00:00:00")


def test_a_lower_case_z_is_utc_as_rfc_3339_allows() -> None:
    assert parse_time("2025-01-01T00:00:00z") == 1735689600.0
    reader = IsoTimes()
    assert reader.parse("2025-01-01T00:00:00z") == 1735689600.0
    assert reader.parse("2025-01-01T10:00:00.500z") == 1735725600.5  # by the clock digits
    assert reader.suffix == "z"


def test_the_plausible_time_range_and_the_milliseconds_hint() -> None:
    assert time_range_problem(MIN_T, "x") is None and time_range_problem(MAX_T - 0.001, "x") is None
    assert MIN_T == parse_time("2000-01-01T00:00:00Z") and MAX_T == parse_time("2100-01-01T00:00:00Z")
    for t in (MIN_T - 0.001, MAX_T, -1e300, 1e300, float("nan"), float("inf")):
        problem = time_range_problem(t, "T")
        assert problem is not None and "outside 2000-01-01..2099-12-31" in problem, t
    ms = time_range_problem(1736145060000.0, "1736145060000")
    assert ms is not None and "Unix milliseconds (2025-01-06T06:31:00.000+00:00)" in ms
