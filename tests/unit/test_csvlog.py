"""The CSV log contract: parsing rows, skipping bad ones with reasons, writing logs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from battwatch.core.csvlog import CsvFormatError, RowError, RowParser, write_csv
from battwatch.core.model import Reading
from battwatch.core.pipeline import Pipeline
from battwatch.replay import open_log, replay_rows


def test_iso_and_unix_times_and_optional_columns() -> None:
    p = RowParser(["time", "main_v", "sos_v", "temp_c", "vehicle"])
    r = p.parse(["2025-01-01T00:00:00+01:00", "12.61", "", "-3.5", "car-7"])
    assert r.t == 1735686000.0
    assert (r.main_v, r.main_min_v, r.main_max_v) == (12.61, 12.61, 12.61)
    assert r.sos_v is None and r.sos_min_v is None
    assert r.temp_c == -3.5 and r.vehicle == "car-7"
    r2 = p.parse(["1735686060", "", "5.2", "", ""])
    assert r2.t == 1735686060.0 and r2.main_v is None and r2.sos_v == 5.2 and r2.vehicle is None


def test_column_order_is_free_and_extremes_are_read() -> None:
    p = RowParser(["sos_v", "main_v_min", "time", "main_v", "main_v_max"])
    r = p.parse(["5.1", "9.8", "2025-01-01T00:00:00Z", "12.2", "12.4"])
    assert (r.main_min_v, r.main_v, r.main_max_v) == (9.8, 12.2, 12.4)


def test_a_short_row_treats_missing_trailing_fields_as_empty() -> None:
    p = RowParser(["time", "main_v", "sos_v"])
    r = p.parse(["100", "12.5"])
    assert r.main_v == 12.5 and r.sos_v is None


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["", "12.5", "5.1"], "time is empty"),
        (["yesterday", "12.5", "5.1"], "neither ISO 8601 nor Unix seconds"),
        (["2025-01-01T00:00:00", "12.5", "5.1"], "no UTC offset"),
        (["100", "twelve", "5.1"], "main_v: 'twelve' is not a number"),
        (["100", "nan", "5.1"], "not a finite number"),
        (["100", "", ""], "neither main_v nor sos_v"),
        (["100", "12.5", "5.1", "extra"], "4 fields, the header has 3"),
    ],
)
def test_bad_rows_say_why(row: list[str], reason: str) -> None:
    p = RowParser(["time", "main_v", "sos_v"])
    with pytest.raises(RowError, match=reason):
        p.parse(row)


def test_rows_must_move_forward_in_time() -> None:
    p = RowParser(["time", "main_v"])
    p.parse(["200", "12.5"])
    with pytest.raises(RowError, match="not after the previous row"):
        p.parse(["200", "12.4"])
    assert p.parse(["201", "12.4"]).t == 201.0


def test_min_above_average_is_rejected() -> None:
    p = RowParser(["time", "main_v", "main_v_min"])
    with pytest.raises(RowError, match="outside its own min/max"):
        p.parse(["1", "12.0", "12.5"])


def test_header_without_time_or_voltage_is_a_format_error() -> None:
    with pytest.raises(CsvFormatError, match="'time'"):
        RowParser(["when", "main_v"])
    with pytest.raises(CsvFormatError, match="neither"):
        RowParser(["time", "volts"])


def test_written_logs_replay_to_the_same_readings() -> None:
    rs = [
        Reading(1735689600.0, 12.6, 12.55, 12.65, 5.21, 5.2, 5.22, 8.5, 60.0, "car"),
        Reading(1735689660.0, None, None, None, 5.2, 5.2, 5.2, None, 60.0, "car"),
    ]
    buf = io.StringIO()
    assert write_csv(buf, rs) == 2
    buf.seek(0)
    seen: list[Reading] = []
    res = replay_rows(buf, Pipeline("car"), on_reading=seen.append)
    assert res.readings == 2 and res.skipped == 0
    assert [(r.t, r.main_v, r.main_min_v, r.sos_v, r.temp_c) for r in seen] == [
        (r.t, r.main_v, r.main_min_v, r.sos_v, r.temp_c) for r in rs
    ]


def test_utf16_logs_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("time,main_v\n100,12.5\n160,12.4\n", encoding="utf-16")
    with open_log(path) as fh:
        res = replay_rows(fh, Pipeline("car"))
    assert res.readings == 2


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["100", "inf", "5.1"], "not a finite number"),
        (["100", "12.5", "-inf"], "not a finite number"),
        (["inf", "12.5", "5.1"], "neither ISO 8601 nor Unix seconds"),
    ],
)
def test_the_fast_path_still_refuses_infinities(row: list[str], reason: str) -> None:
    p = RowParser(["time", "main_v", "sos_v"])
    with pytest.raises(RowError, match=reason):
        p.parse(row)


def test_fast_and_careful_paths_agree() -> None:
    """A full-width row (fast path) and the same row one field short (careful path) match."""
    header = ["time", "main_v", "main_v_min", "main_v_max", "sos_v", "temp_c", "vehicle"]
    fast = RowParser(header, default_vehicle="dflt").parse(
        ["2025-01-01T00:00:00.250+02:00", "12.5", "9.9", "12.7", "5.2", "-3", ""]
    )
    careful = RowParser(header, default_vehicle="dflt").parse(
        ["2025-01-01T00:00:00.250+02:00", "12.5", "9.9", "12.7", "5.2", "-3"]
    )
    assert fast == careful
    assert fast.t == 1735682400.25 and fast.vehicle == "dflt" and fast.sos_min_v == 5.2


def test_remembered_numbers_are_exactly_what_float_reads_and_bad_ones_stay_bad() -> None:
    """The fast path looks numbers up once seen; a lookup must never change a value or let
    a refused value through on its second appearance."""
    p = RowParser(["time", "main_v", "sos_v", "temp_c"])
    for i, text in enumerate(["12.593", "12.593", "1e1", " 12.6 ", "0.1", "0.1"]):
        r = p.parse([str(100 + i), text, "5.30", "-0.5"])
        assert r.main_v == float(text) and r.sos_v == 5.3 and r.temp_c == -0.5
    for i in range(2):
        with pytest.raises(RowError, match="not a finite number"):
            p.parse([str(200 + i), "nan", "5.30", ""])
        with pytest.raises(RowError, match="not a number"):
            p.parse([str(300 + i), "12,5", "5.30", ""])


def test_the_number_memo_is_bounded() -> None:
    """A log of all-distinct values (microvolts, noise) must not grow the memo without limit."""
    from battwatch.core import csvlog

    p = RowParser(["time", "main_v"])
    n = 3 * csvlog._MEMO_MAX
    for i in range(n):
        text = f"12.{i:06d}"
        assert p.parse([str(i), text]).main_v == float(text)
    assert 0 < len(p._memo) <= csvlog._MEMO_MAX
