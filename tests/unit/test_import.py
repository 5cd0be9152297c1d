"""battwatch import: what it detects in other loggers' files, what it refuses, and the log it writes."""

from __future__ import annotations

import codecs
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from battwatch.importlog import Counts, Override, Refused, convert, decode, detect

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*a: int) -> float:
    return datetime(*a, tzinfo=UTC).timestamp()


def rows(text: str, *overrides: str, zone: ZoneInfo | None = None, start: float | None = None) -> list[tuple[float, dict]]:
    layout = detect(text, [Override.parse(o) for o in overrides], zone=zone, start=start)
    return [(r.t, r.values) for r in convert(text, layout, zone=zone, start=start)]


def test_encodings_are_told_by_their_marks_and_bytes() -> None:
    text = "time,volt\n2024-01-01T00:00:00Z,12.5\n"
    assert decode(text.encode("utf-8")) == (text, "UTF-8")
    assert decode(codecs.BOM_UTF8 + text.encode())[1] == "UTF-8 with a byte-order mark"
    assert decode(text.encode("utf-16"))[0] == text  # the mark, little- or big-endian
    assert decode(codecs.BOM_UTF16_BE + text.encode("utf-16-be")) == (text, "UTF-16 with a byte-order mark")
    assert decode(text.encode("utf-16-le")) == (text, "UTF-16 without a byte-order mark")
    assert decode("time;Spannung °C\n".encode("cp1252"))[1].startswith("Windows-1252")


def test_semicolons_and_decimal_commas() -> None:
    text = "Zeit;Batterie;Temp\n2024-01-01T00:00:00Z;12,61;4,5\n2024-01-01T00:01:00Z;12,60;4,4\n"
    layout = detect(text)
    assert (layout.delimiter, layout.decimal_comma) == (";", True)
    assert rows(text) == [(utc(2024, 1, 1), {"main_v": 12.61, "temp_c": 4.5}),
                          (utc(2024, 1, 1, 0, 1), {"main_v": 12.6, "temp_c": 4.4})]


def test_tabs_quotes_and_padded_names() -> None:
    text = '"Timestamp   "\t" battV "\n"1704067200"\t"12.7"\n"1704067260"\t"12.6"\n'
    layout = detect(text)
    assert layout.delimiter == "\t" and layout.time_kind == "unix"
    assert layout.columns["main_v"].name == "battV"
    assert [t for t, _ in rows(text)] == [utc(2024, 1, 1), utc(2024, 1, 1, 0, 1)]


@pytest.mark.parametrize(("stamp", "kind"), [
    ("2024-01-01T01:00:00+01:00", "iso"),
    ("2024-01-01 00:00:00Z", "iso"),
    ("1704067200000", "unix-ms"),
    ("1704067200", "unix"),
])
def test_time_formats_with_their_own_zone(stamp: str, kind: str) -> None:
    text = f"time,voltage\n{stamp},12.5\n"
    assert detect(text).time_kind == kind
    assert rows(text)[0][0] == utc(2024, 1, 1)


@pytest.mark.parametrize("stamp", ["01.01.2024 01:00:00", "2024-01-01 01:00:00", "2024-01-01T01:00", "31/01/2024 01:00:00"])
def test_local_times_need_a_zone_and_get_it_from_tz(stamp: str) -> None:
    text = f"Date Time,Battery Voltage\n{stamp},12.5\n"
    with pytest.raises(Refused, match="--tz"):
        detect(text)
    t = rows(text, zone=BERLIN)[0][0]
    assert t in (utc(2024, 1, 1), utc(2024, 1, 31))  # CET, an hour ahead of UTC


def test_day_and_month_that_cannot_be_told_apart_are_refused_until_named() -> None:
    text = "time,volt\n03/05/2024 10:00:00,12.5\n04/05/2024 10:00:00,12.4\n"
    with pytest.raises(Refused, match=r"day/month.*--column time=time:dmy"):
        detect(text, zone=BERLIN)
    assert rows(text, "time=time:mdy", zone=BERLIN)[0][0] == utc(2024, 3, 5, 9)
    assert rows(text, "time=time:dmy", zone=BERLIN)[0][0] == utc(2024, 5, 3, 8)


def test_a_dst_change_keeps_local_times_moving_forward() -> None:
    """Berlin's clocks went back at 03:00 CEST on 27 Oct 2024: 02:00-02:59 happened twice."""
    stamps = ["27.10.2024 01:30:00", "27.10.2024 02:00:00", "27.10.2024 02:30:00", "27.10.2024 02:00:00",
              "27.10.2024 02:30:00", "27.10.2024 03:00:00"]
    text = "Timestamp,Voltage(V)\n" + "".join(f"{s},12.5\n" for s in stamps)
    got = [t for t, _ in rows(text, zone=BERLIN)]
    assert got == [utc(2024, 10, 26, 23, 30), utc(2024, 10, 27, 0), utc(2024, 10, 27, 0, 30),
                   utc(2024, 10, 27, 1), utc(2024, 10, 27, 1, 30), utc(2024, 10, 27, 2)]


def test_relative_times_need_start() -> None:
    text = '"Time (s)","Volts (mV)"\n"0","4138"\n"5","4141"\n'
    with pytest.raises(Refused, match="--start"):
        detect(text)
    got = rows(text, start=utc(2021, 4, 28, 20))
    assert got == [(utc(2021, 4, 28, 20), {"main_v": 4.138}), (utc(2021, 4, 28, 20, 0, 5), {"main_v": 4.141})]
    assert rows(text, "time=Time (s):min", start=utc(2021, 4, 28, 20))[1][0] == utc(2021, 4, 28, 20, 5)


@pytest.mark.parametrize(("name", "unit", "volts"), [
    ("Volts (mV)", "mv", 4.138), ("vbat_mv", "mv", 4.138), ("Voltage(V)", "v", 4138.0), ("voltage [cV]", "cv", 41.38),
])
def test_units_from_column_names(name: str, unit: str, volts: float) -> None:
    text = f"time,{name}\n2024-01-01T00:00:00Z,4138\n"
    assert detect(text).columns["main_v"].unit == unit
    assert rows(text)[0][1]["main_v"] == volts


def test_a_unit_that_cannot_be_told_is_refused_and_can_be_given() -> None:
    text = "time,battery\n2024-01-01T00:00:00Z,1261\n"
    with pytest.raises(Refused, match=r"too large for volts.*--column main_v=battery:mV \(or :cV\)"):
        detect(text)
    assert rows(text, "main_v=battery:cV")[0][1] == {"main_v": 12.61}


def test_one_voltage_is_the_12v_battery_and_the_note_says_how_to_make_it_the_sos_pack() -> None:
    text = "time,Battery Voltage\n2024-01-01T00:00:00Z,4.9\n"
    layout = detect(text)
    assert "main_v" in layout.columns
    assert any("--column sos_v='Battery Voltage'" in n for n in layout.notes)
    layout = detect(text, [Override.parse("sos_v=Battery Voltage")])
    assert set(layout.columns) == {"time", "sos_v"} and not layout.notes


def test_two_voltages_named_for_their_batteries_and_two_that_are_not() -> None:
    both = "time,starter volts,backup volts\n2024-01-01T00:00:00Z,12.6,4.9\n"
    assert rows(both)[0][1] == {"main_v": 12.6, "sos_v": 4.9}
    either = "time,voltage 1,voltage 2\n2024-01-01T00:00:00Z,12.6,4.9\n"
    with pytest.raises(Refused, match=r"could each be the battery voltage: say which with --column main_v=NAME"):
        detect(either)
    assert rows(either, "main_v=voltage 2")[0][1] == {"main_v": 4.9}


def test_the_native_columns_pass_through_and_other_columns_are_ignored() -> None:
    text = "time,current,main_v,sos_v\n2024-01-01T00:00:00Z,3.2,12.6,4.9\n"
    layout = detect(text)
    assert rows(text)[0][1] == {"main_v": 12.6, "sos_v": 4.9}
    assert layout.ignored == ["current"]


def test_no_header_columns_by_number() -> None:
    text = "1704067200,12.6,17\n1704067260,12.5,17\n"
    with pytest.raises(Refused, match="--column main_v=NAME"):
        detect(text)
    assert rows(text, "main_v=2")[0] == (utc(2024, 1, 1), {"main_v": 12.6})


def test_rows_without_a_voltage_bad_rows_and_repeated_headers_are_counted_not_written() -> None:
    text = ("time,volt\n2024-01-01T00:00:00Z,12.6\n2024-01-01T00:01:00Z,\n2024-01-01T00:02:00Z,x\n"
            "time,volt\n2024-01-01T00:03:00Z,12.5\n2024-01-01T00:03:00Z,12.5\n")
    n = Counts()
    layout = detect(text)
    got = [r.t for r in convert(text, layout, counts=n)]
    assert got == [utc(2024, 1, 1), utc(2024, 1, 1, 0, 3)]
    assert (n.rows, n.no_voltage, n.bad_total, n.back_in_time) == (5, 1, 1, 1)
    assert n.bad == ["line 4: volt: 'x' is not a number", "line 7: 2024-01-01T00:03:00Z is not after the row before it"]


@pytest.mark.parametrize(("spec", "why"), [
    ("main_v", "write FIELD=SOURCE"), ("volts=x", "not a battwatch column"), ("main_v=x:ms", "not a unit of main_v"),
])
def test_bad_column_options(spec: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Override.parse(spec)


def _import(tmp_path: Path, text: str | bytes, *args: str) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "src.csv"
    src.write_bytes(text if isinstance(text, bytes) else text.encode())
    return subprocess.run([sys.executable, "-m", "battwatch", "import", str(src), *args],
                          capture_output=True, text=True, timeout=60)


def test_the_command_says_what_it_found_and_writes_a_log_replay_accepts(tmp_path: Path) -> None:
    text = '"Index","Timestamp","Voltage(V)"\n"0","24.09.2022 14:48:23","6,48"\n"1","24.09.2022 14:48:33","6,49"\n'
    out = tmp_path / "out.csv"
    done = _import(tmp_path, text.encode("utf-16"), "--tz", "Europe/Berlin", "-o", str(out), "--vehicle", "r27")
    assert done.returncode == 0, done.stderr
    for said in ("UTF-16 with a byte-order mark", "delimiter ','", "decimal comma", "header on line 1",
                 "'Timestamp' (DD.MM.YYYY HH:MM:SS, local time in Europe/Berlin", "'Voltage(V)' (V", "ignored: 'Index'",
                 "--column sos_v='Voltage(V)'", "2 readings from 2022-09-24T12:48:23.000+00:00"):
        assert said in done.stderr, said
    assert out.read_text() == ("time,vehicle,main_v\n2022-09-24T12:48:23.000+00:00,r27,6.48\n"
                               "2022-09-24T12:48:33.000+00:00,r27,6.49\n")
    replayed = subprocess.run([sys.executable, "-m", "battwatch", "replay", str(out)], capture_output=True,
                              text=True, timeout=60)
    assert "replayed 2 readings (0 rows skipped)" in replayed.stderr


def test_the_command_refuses_with_the_option_to_add_and_exit_2(tmp_path: Path) -> None:
    done = _import(tmp_path, "Date Time,Battery Voltage\n2019-05-05 10:44:19,8.438\n")
    assert done.returncode == 2 and done.stdout == ""
    assert "carry no UTC offset: give the zone they were written in with --tz" in done.stderr
    assert "Traceback" not in done.stderr


def test_several_files_are_joined_in_time_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("time,volt\n2024-01-02T00:00:00Z,12.4\n2024-01-02T00:01:00Z,12.3\n")
    b.write_text("time;volt\n2024-01-01T00:00:00Z;12,6\n2024-01-02T00:00:00Z;12,5\n")
    done = subprocess.run([sys.executable, "-m", "battwatch", "import", str(a), str(b)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["time,main_v", "2024-01-01T00:00:00.000+00:00,12.6",
                                        "2024-01-02T00:00:00.000+00:00,12.5", "2024-01-02T00:01:00.000+00:00,12.3"]
    assert "1 rows at or before the end of the file before them" in done.stderr
