"""The CSV log contract: parsing rows, skipping bad ones with reasons, writing logs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from battwatch.core.csvlog import CsvFormatError, RowError, RowParser, write_csv
from battwatch.core.model import Reading
from battwatch.core.pipeline import Pipeline
from battwatch.replay import open_log, replay_rows

T = 1735689600  # 2025-01-01T00:00:00Z: a time within the range a reading may have


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
    r = p.parse([str(T + 100), "12.5"])
    assert r.main_v == 12.5 and r.sos_v is None


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["", "12.5", "5.1"], "time is empty"),
        (["yesterday", "12.5", "5.1"], "neither ISO 8601 nor Unix seconds"),
        (["2025-01-01T00:00:00", "12.5", "5.1"], "no UTC offset"),
        ([str(T), "twelve", "5.1"], "main_v: 'twelve' is not a number"),
        ([str(T), "nan", "5.1"], "not a finite number"),
        ([str(T), "", ""], "neither main_v nor sos_v"),
        ([str(T), "12.5", "5.1", "extra"], "4 fields, the header has 3"),
    ],
)
def test_bad_rows_say_why(row: list[str], reason: str) -> None:
    p = RowParser(["time", "main_v", "sos_v"])
    with pytest.raises(RowError, match=reason):
        p.parse(row)


def test_rows_must_move_forward_in_time() -> None:
    p = RowParser(["time", "main_v"])
    p.parse([str(T + 200), "12.5"])
    with pytest.raises(RowError, match="not after the previous row"):
        p.parse([str(T + 200), "12.4"])
    assert p.parse([str(T + 201), "12.4"]).t == T + 201.0


def test_min_above_average_is_rejected() -> None:
    p = RowParser(["time", "main_v", "main_v_min"])
    with pytest.raises(RowError, match="outside its own min/max"):
        p.parse([str(T), "12.0", "12.5"])


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
    res = replay_rows(buf, Pipeline("car"), route=lambda outs: seen.append(outs[0]))
    assert res.readings == 2 and res.skipped == 0
    assert [(r.t, r.main_v, r.main_min_v, r.sos_v, r.temp_c) for r in seen] == [
        (r.t, r.main_v, r.main_min_v, r.sos_v, r.temp_c) for r in rs
    ]


def test_utf16_logs_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(f"time,main_v\n{T},12.5\n{T + 60},12.4\n", encoding="utf-16")
    with open_log(path) as fh:
        res = replay_rows(fh, Pipeline("car"))
    assert res.readings == 2


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ([str(T), "inf", "5.1"], "not a finite number"),
        ([str(T), "12.5", "-inf"], "not a finite number"),
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
        r = p.parse([str(T + i), text, "5.30", "-0.5"])
        assert r.main_v == float(text) and r.sos_v == 5.3 and r.temp_c == -0.5
    for i in range(2):
        with pytest.raises(RowError, match="not a finite number"):
            p.parse([str(T + 200 + i), "nan", "5.30", ""])
        with pytest.raises(RowError, match="not a number"):
            p.parse([str(T + 300 + i), "12,5", "5.30", ""])


def test_the_number_memo_is_bounded() -> None:
    """A log of all-distinct values (microvolts, noise) must not grow the memo without limit."""
    from battwatch.core import csvlog

    p = RowParser(["time", "main_v"])
    n = 3 * csvlog._MEMO_MAX
    for i in range(n):
        text = f"12.{i:06d}"
        assert p.parse([str(T + i), text]).main_v == float(text)
    assert 0 < len(p._memo) <= csvlog._MEMO_MAX


def _feed(text: str, **kw: object) -> tuple[list[Reading], list[str], object]:
    seen: list[Reading] = []
    warnings: list[str] = []
    res = replay_rows(io.StringIO(text), Pipeline("car"), name="log", warn=warnings.append,
                      route=lambda outs: seen.append(outs[0]), **kw)  # type: ignore[arg-type]
    return seen, warnings, res


@pytest.mark.parametrize("full_width", [True, False], ids=["fast path", "careful path"])
@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("1736145060000", "looks like Unix milliseconds (2025-01-06T06:31:00.000+00:00): write seconds"),
        ("1e300", "outside 2000-01-01..2099-12-31"),
        ("-37900000000", "outside 2000-01-01..2099-12-31"),
        ("946684799.999", "outside 2000-01-01..2099-12-31"),
        ("4102444800", "outside 2000-01-01..2099-12-31"),
        ("1999-12-31T23:59:59+00:00", "outside 2000-01-01..2099-12-31"),
        ("2000-01-01T00:30:00+01:00", "outside 2000-01-01..2099-12-31"),
        ("9999-12-31T23:59:59+00:00", "outside 2000-01-01..2099-12-31"),
        ("1e400", "not a finite number"),
    ],
)
def test_a_time_outside_2000_to_2099_is_a_bad_row_and_never_the_previous_time(
    time: str, reason: str, full_width: bool
) -> None:
    p = RowParser(["time", "main_v", "sos_v"])
    assert p.parse([str(T), "12.5", "5.1"]).t == T
    with pytest.raises(RowError, match=re.escape(reason)):
        p.parse([time, "12.5", "5.1"] if full_width else [time, "12.5"])
    # the refused time did not move the clock: the next row in order is taken
    assert p.parse([str(T + 60), "12.5", "5.1"]).t == T + 60


def test_the_first_and_last_instants_of_the_range_are_readings() -> None:
    p = RowParser(["time", "main_v"])
    assert p.parse(["946684800", "12.5"]).t == 946684800.0
    assert p.parse(["2099-12-31T23:59:59.999Z", "12.5"]).t == 4102444799.999


def test_a_log_in_milliseconds_is_refused_row_by_row_with_the_hint_and_good_rows_go_on() -> None:
    text = f"time,main_v\n{T * 1000},12.5\n{T + 60},12.5\n{(T + 120) * 1000},12.4\n{T + 180},12.4\n"
    seen, warnings, _ = _feed(text)
    assert [r.t for r in seen] == [T + 60, T + 180]  # the huge times did not hide the rows after them
    assert [w.split(": row skipped")[0] for w in warnings] == ["log:2", "log:4"]
    assert all("Unix milliseconds" in w for w in warnings)


@pytest.mark.parametrize("full_width", [True, False], ids=["fast path", "careful path"])
@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (("1e300", "", "", ""), "main_v: 1e300 is outside -100..100 V"),
        (("12.5", "-101", "", ""), "main_v_min: -101 is outside -100..100 V"),
        (("12.5", "", "5.1", "200"), "temp_c: 200 is outside -60..150 °C"),
        (("12.5", "", "5.1", "-61"), "temp_c: -61 is outside -60..150 °C"),
        (("", "", "150", ""), "sos_v: 150 is outside -100..100 V"),
    ],
)
def test_values_beyond_what_a_car_can_show_are_bad_rows(
    values: tuple[str, str, str, str], reason: str, full_width: bool
) -> None:
    p = RowParser(["time", "main_v", "main_v_min", "sos_v", "temp_c", "vehicle"])
    row = [str(T), *values] + ([""] if full_width else [])
    with pytest.raises(RowError, match=reason):
        p.parse(row)


def test_values_at_the_physical_limits_are_readings() -> None:
    p = RowParser(["time", "main_v", "main_v_min", "main_v_max", "sos_v", "temp_c"])
    r = p.parse([str(T), "12", "-100", "100", "-100", "-60"])
    assert (r.main_min_v, r.main_max_v, r.sos_v, r.temp_c) == (-100.0, 100.0, -100.0, -60.0)
    assert p.parse([str(T + 1), "12", "", "", "", "150"]).temp_c == 150.0


def test_a_huge_voltage_never_reaches_a_written_log() -> None:
    seen, warnings, _ = _feed(f"time,main_v\n{T},1e300\n{T + 60},12.5\n")
    assert [r.main_v for r in seen] == [12.5]
    buf = io.StringIO()
    write_csv(buf, seen)
    assert max(len(line) for line in buf.getvalue().splitlines()) < 80


def test_a_lower_case_z_means_utc_on_both_paths() -> None:
    """RFC 3339 allows 'z'; Python 3.11's datetime.fromisoformat does not, so battwatch maps it."""
    p = RowParser(["time", "main_v", "sos_v"])
    assert p.parse(["2025-01-01T00:00:00z", "12.5", "5.1"]).t == T  # first: read in full
    assert p.parse(["2025-01-01T00:01:00.250z", "12.5", "5.1"]).t == T + 60.25  # then by its clock digits
    assert p.parse(["2025-01-01T00:02:00z", "12.5"]).t == T + 120  # the careful path (a short row)
    assert RowParser(["time", "main_v"]).parse(["2025-01-01t00:00:00z", "12.5"]).t == T


def test_a_stray_quote_is_reported_where_it_is_and_costs_only_its_row() -> None:
    text = (
        "time,main_v,sos_v\n"
        f"{T},12.6,5.2\n"
        f'{T + 60},"12.6,5.2\n'  # line 3: a quote that never closes
        f"{T + 120},12.6,5.2\n"
        f"{T + 180},12.6,5.2\n"
        f'{T + 240},"12.5",5.2\n'  # line 6: well quoted
        f"{T + 300},12.5,5.2\n"
    )
    seen, warnings, res = _feed(text)
    assert [r.t - T for r in seen] == [0, 120, 180, 240, 300]
    assert len(warnings) == 1 and warnings[0].startswith("log:3: row skipped: a quote opened on this line")
    assert res.rows == 6 and res.skipped == 1  # type: ignore[attr-defined]
    # the same stray quote at the end of the log
    seen, warnings, _ = _feed(f'time,main_v\n{T},12.6\n{T + 60},"12.6\n{T + 120},12.6\n')
    assert [r.t - T for r in seen] == [0, 120] and warnings[0].startswith("log:3: row skipped")


def test_a_quoted_field_across_lines_is_one_row_and_line_numbers_stay_right() -> None:
    text = (
        "time,main_v,note\n"
        f'{T},12.6,"first line\nsecond line, with a comma"\n'
        f"{T + 60},twelve,\n"  # line 4
    )
    seen, warnings, _ = _feed(text)
    assert [r.t for r in seen] == [T]
    assert warnings == ["log:4: row skipped: main_v: 'twelve' is not a number"]


def test_every_bad_row_is_reported_unless_a_cap_is_asked_for() -> None:
    text = "time,main_v\n" + "".join(f"{T + i},x\n" for i in range(80)) + f"{T + 100},12.5\n"
    _, warnings, res = _feed(text)
    assert len(warnings) == 80 and warnings[-1].startswith("log:81: row skipped")
    _, warnings, res = _feed(text, max_warnings=5)
    assert len(warnings) == 6 and warnings[-1] == "log: 75 more skipped rows not shown"
    assert res.skipped == 80 and res.readings == 1  # type: ignore[attr-defined]
    _, warnings, _ = _feed(text, max_warnings=0)
    assert warnings == ["log: 80 more skipped rows not shown"]
