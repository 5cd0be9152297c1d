"""RowParser.scan, the compiled replay's reader of whole lines: it gives what split and parse give."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta, timezone

import pytest

from battwatch.core import csvlog
from battwatch.core.csvlog import RowError, RowParser
from battwatch.core.pipeline import Pipeline

T = 1735689600  # 2025-01-01T00:00:00Z

NUMBERS = [
    "12.593", "12.6", "5.287", "-0.5", "0", "-0", "-0.000", "12.", ".5", "-.5", "007.10", "", "",
    "1e1", " 12.5", "12.5 ", "+1.5", "1_0", "nan", "inf", "-inf", "12.5.5", "--1", "-", ".", "abc",
    "123456789012.345", "1234567890123456", "0.1234567890123456", "99.999", "100.001", "-100", "150",
    "-60.1", "0.30000000000000004", "٣.٥",
]
OFFSETS = ["+00:00", "Z", "z", "+05:30", "+0100", ""]  # none later than the time: it would refuse all rows after it
FRACTIONS = ["", ".000", ".250", ".5", ".123456", ".1234567"]


def _time(rng: random.Random, t: float) -> str:
    roll = rng.random()
    if roll < 0.15:
        return f"{t:.3f}" if rng.random() < 0.5 else str(int(t))
    if roll < 0.2:
        return rng.choice(["", "x", "2025-01-06", " 1735689600", "1e9", "1736145060000", "9999999999",
                           "1999-12-31T23:59:59+00:00", "2025-01-06T12:00", "2025-01-06T12:60:00+00:00"])
    offset = "+00:00" if rng.random() < 0.8 else rng.choice(OFFSETS)
    zone = timezone(timedelta(hours=5, minutes=30) if offset == "+05:30" else timedelta(0))
    text = datetime.fromtimestamp(t, zone).isoformat(sep="T" if rng.random() < 0.95 else " ")
    if "+" in text:
        text = text[:text.index("+")]
    return text + rng.choice(FRACTIONS) + offset


def _line(rng: random.Random, header: list[str], t: float) -> str:
    main, sos = rng.uniform(11, 14.5), rng.uniform(3, 6)
    good = {"main_v": main, "main_v_min": main - rng.uniform(0, 2), "main_v_max": main + rng.uniform(0, 0.1),
            "sos_v": sos, "sos_v_min": sos - rng.uniform(0, 0.1), "sos_v_max": sos + rng.uniform(0, 0.1),
            "temp_c": rng.uniform(-20, 40)}
    fields = []
    for name in header:
        name = name.lower()
        if name == "time":
            fields.append(_time(rng, t))
        elif name == "vehicle":
            fields.append(rng.choice(["", "car", "car", " car ", "van 2"]))
        elif name in good:
            fields.append(rng.choice(NUMBERS) if rng.random() < 0.05 else f"{good[name]:.3f}")
        else:
            fields.append(rng.choice(["", "note", "1.5"]))
    roll = rng.random()
    if roll < 0.03:
        fields.pop()
    elif roll < 0.06:
        fields.append("extra")
    end = rng.choice(["\n", "\n", "\r\n", "", "\r"])
    return ",".join(fields) + end


def _outcome(parser: RowParser, line: str, scan: bool) -> tuple[str, bool]:
    """(the reading or the error, whether the scan read the line)"""
    r = parser.scan(line) if scan else None
    if r is not None:
        return repr(tuple(r)), True  # repr keeps every float's bits, -0.0 included
    try:
        return repr(tuple(parser.parse(line.rstrip("\r\n").split(",")))), False
    except RowError as e:
        return f"RowError: {e}", False


HEADERS = [
    list(csvlog.COLUMNS),
    ["time", "main_v", "sos_v", "temp_c", "vehicle"],
    ["vehicle", "sos_v", "time", "main_v_max", "main_v", "main_v_min"],
    ["time", "note", "main_v", "", "sos_v", "main_v"],
    ["Time", "MAIN_V", "sos_v_min", "sos_v", "sos_v_max", "temp_c"],
    ["time", "main_v"],
]


@pytest.mark.parametrize("header", HEADERS, ids=lambda h: ",".join(h))
def test_scan_gives_what_split_and_parse_give_line_for_line(header: list[str]) -> None:
    rng = random.Random(",".join(header))
    scanned, plain = RowParser(header, default_vehicle="dflt"), RowParser(header, default_vehicle="dflt")
    taken = 0
    for k in range(4000):
        line = _line(rng, header, T + 30 * k + rng.choice([0, 0, 0, -60]))
        got, by_scan = _outcome(scanned, line, True)
        assert got == _outcome(plain, line, False)[0], line
        taken += by_scan
    assert taken > 1000  # most plain lines are read by the scan itself


def test_scan_reads_exactly_what_float_and_datetime_read() -> None:
    p = RowParser(["time", "main_v", "sos_v", "temp_c"])
    for k, text in enumerate(["12.593", "0.1", "-0.000", "12.", ".5", "-.5", "99.999", "0.12345678901234"]):
        r = p.scan(f"2025-01-06T00:00:{k:02d}.125+05:30,{text},,\r\n")
        assert r is not None
        assert repr(r.main_v) == repr(float(text)) and r.sos_v is None and r.temp_c is None
        assert r.t == 1736101800.125 + k


@pytest.mark.parametrize("line", [
    "2025-01-06T00:00:00+00:00,1e1,5.2,20", "2025-01-06T00:00:00+00:00, 12.5,5.2,20",
    "2025-01-06T00:00:00+00:00,12.5,5.2", "2025-01-06T00:00:00+00:00,12.5,5.2,20,",
    "2025-01-06T00:00:00,12.5,5.2,20", "2025-01-06T00:00:00+00:00,1234567890123456,5.2,20",
    ",12.5,5.2,20", "1735689600,,,20", "2025-01-06T00:00:00+00:00,12.5,5.2,150.5",
])
def test_scan_leaves_anything_unusual_to_parse(line: str) -> None:
    assert RowParser(["time", "main_v", "sos_v", "temp_c"]).scan(line) is None


def test_feed_log_reports_the_same_rows_and_warnings_with_and_without_the_scan() -> None:
    rng = random.Random(7)
    header = list(csvlog.COLUMNS)
    lines = [",".join(header) + "\n"]
    for k in range(3000):
        lines.append(_line(rng, header, T + 30 * k) if rng.random() < 0.9 else rng.choice(
            ["\n", ",".join(header) + "\n", '"2025-01-06T00:00:00+00:00",car,12.5,,,5.2,,,20\n']))
    text = "".join(lines)

    def feed(scan: bool) -> str:
        seen: list[object] = []
        warnings: list[str] = []
        res = csvlog.feed_log(io.StringIO(text, newline=""), Pipeline("car"), "log", warnings.append,
                              lambda outs: seen.append(tuple(outs[0])), scan=scan)  # type: ignore[arg-type]
        done = (res.rows, res.readings, res.skipped, res.transitions, res.first_t, res.last_t,
                res.unknown_columns)
        return repr((done, seen, warnings))

    assert feed(True) == feed(False)
