"""The CSV log contract: read rows into Readings and write Readings as rows (pure)."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from types import FunctionType
from typing import TYPE_CHECKING, Final, TextIO

from battwatch.core.model import AlertTransition, Reading
from battwatch.core.numscan import scan_number
from battwatch.core.pipeline import Outbound, Pipeline
from battwatch.core.timefmt import MAX_T, MIN_T, IsoTimes, iso_utc, parse_time, time_range_problem

if TYPE_CHECKING:
    from mypy_extensions import i64  # a machine integer compiled, an annotation only otherwise

# tuple.__new__ skips the NamedTuple's Python-level constructor: a third of a microsecond a row
_new_reading: Final = tuple.__new__

# Column order used when battwatch writes a log; readers accept any order.
COLUMNS: tuple[str, ...] = (
    "time",
    "vehicle",
    "main_v",
    "main_v_min",
    "main_v_max",
    "sos_v",
    "sos_v_min",
    "sos_v_max",
    "temp_c",
)
_KNOWN = frozenset(COLUMNS)

# What a value may be, beyond which a row is refused as impossible (a wrong unit, a broken
# sensor, a corrupt file) rather than stored: no battery in a car shows more than 100 V either
# way, and no cabin or engine bay is colder than -60 °C or hotter than 150 °C. Times must lie
# in timefmt.MIN_T..MAX_T (2000-2099).
V_LIMIT: Final = 100.0
TEMP_MIN_C: Final = -60.0
TEMP_MAX_C: Final = 150.0

# Logs hold millivolts and tenths of a degree, so a year of rows has only a few thousand
# distinct numbers: looking a field up is four times cheaper than float() on it. The memo
# is bounded (cleared when full) so an unusual log cannot grow it without limit.
_MEMO_MAX: Final = 16384


# RowParser.scan's field kinds besides a value's place in COLUMNS[2:] (0..6)
_TIME: Final = -1
_VEHICLE: Final = -2
_IGNORED: Final = -3

def _window(avg: float, lo: float, hi: float) -> tuple[float, float, bool]:
    """A channel's extremes as a Reading holds them, and whether they are usable: none (nan)
    without an average, whatever the row says; the average for an empty one; unusable when
    out of order or beyond the physical range (a nan or inf anywhere fails that too)."""
    if avg != avg:
        return math.nan, math.nan, True
    if lo != lo:
        lo = avg
    if hi != hi:
        hi = avg
    return lo, hi, -V_LIMIT <= lo <= avg <= hi <= V_LIMIT


def _or_none(v: float) -> float | None:
    return None if v != v else v


# Whether this module runs compiled: then feed_log reads lines with RowParser.scan (a third
# of the cost of split() and parse()); as plain Python a loop over characters costs more
# than they do, so a plain run (a Pi Zero) keeps split() and the number memo.
SCAN: Final = not isinstance(_or_none, FunctionType)


class CsvFormatError(ValueError):
    """The header cannot be used at all (no ``time`` column, no voltage column)."""


class RowError(ValueError):
    """One row cannot be used; the replay skips it, counts it and says why."""


def _value(text: str, column: str) -> float | None:
    """A field's number (None when empty), within the physical range of its column."""
    if not text:
        return None
    try:
        v = float(text)
    except ValueError:
        raise RowError(f"{column}: {text.strip()!r} is not a number") from None
    if not math.isfinite(v):
        raise RowError(f"{column}: {text.strip()!r} is not a finite number")
    if column == "temp_c":
        if not TEMP_MIN_C <= v <= TEMP_MAX_C:
            raise RowError(f"temp_c: {text.strip()} is outside {TEMP_MIN_C:g}..{TEMP_MAX_C:g} °C")
    elif not -V_LIMIT <= v <= V_LIMIT:
        raise RowError(f"{column}: {text.strip()} is outside -{V_LIMIT:g}..{V_LIMIT:g} V")
    return v


class RowParser:
    """Turns the rows of one CSV log into Readings, given its header."""

    def __init__(self, header: Sequence[str], default_vehicle: str | None = None,
                 after_t: float | None = None) -> None:
        names = [h.strip().lstrip("\ufeff").lower() for h in header]
        index = {n: i for i, n in enumerate(names) if n}
        if "time" not in index:
            raise CsvFormatError("the header has no 'time' column")
        if "main_v" not in index and "sos_v" not in index:
            raise CsvFormatError("the header has neither a 'main_v' nor a 'sos_v' column")
        self.unknown_columns = [n for n in names if n and n not in _KNOWN]
        self.width = len(names)
        self._time = index["time"]
        self._cols = tuple(index.get(c, -1) for c in COLUMNS[2:])
        self._vehicle = index.get("vehicle", -1)
        self.default_vehicle = default_vehicle  # rows without a vehicle column or value
        # the time of the last good row; before the first, just under the earliest time allowed,
        # so that the fast path's one ordering test also checks the lower bound (or the last time
        # of the log before this one, when several are replayed as one)
        self._last_t = math.nextafter(MIN_T, -math.inf) if after_t is None else max(after_t, MIN_T)
        self._iso = IsoTimes()
        self._new: Callable[[type[Reading], tuple[object, ...]], Reading] = _new_reading
        self._reading = Reading  # compiled, an attribute is read without a lookup in globals
        self._memo: dict[str, float] = {}
        # what each field of a line is, for scan(): _TIME, _VEHICLE, a value (its place in
        # COLUMNS[2:]) or _IGNORED (an unknown column, an unnamed one, a repeated name's first)
        kinds = [_IGNORED] * self.width
        kinds[self._time] = _TIME
        if self._vehicle >= 0:
            kinds[self._vehicle] = _VEHICLE
        for k, col in enumerate(self._cols):
            if col >= 0:
                kinds[col] = k
        self._kinds = tuple(kinds)

    def _num(self, x: str) -> float | None:
        """A field's number (None when empty); ValueError if it is not one."""
        v = self._memo.get(x)
        if v is not None:
            return v
        if not x:
            return None
        v = float(x)
        memo = self._memo
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[x] = v
        return v

    def parse(self, row: list[str]) -> Reading:
        """One row to a Reading; raises RowError with a reason a person can act on.

        Well-formed rows take a fast path (a year of rows is replayed in well under a
        second); anything unusual falls through to the careful path that says what is wrong.
        """
        if len(row) == self.width:
            try:
                r = self._fast(row)
            except ValueError:
                r = None
            if r is not None:
                return r
        return self._careful(row)

    def _fast(self, row: list[str]) -> Reading | None:
        ts = row[self._time]
        if len(ts) > 10 and ts[4] == "-":
            iso = self._iso.parse(ts)
            if iso is None:
                return None  # no offset: the careful path says so
            t = iso
        else:
            t = float(ts)
        # in order and in range (2000-2099); nan and inf fail these comparisons too
        if not self._last_t < t < MAX_T:
            return None
        row.append("")  # absent columns point at index -1: this empty field
        cm, cmn, cmx, cs, csn, csx, ctemp = self._cols
        main = self._num(row[cm])
        sos = self._num(row[cs])
        temp = self._num(row[ctemp])
        if temp is not None and not TEMP_MIN_C <= temp <= TEMP_MAX_C:
            return None
        # a window extreme left empty stands for a single sample: its average. The extremes
        # stay the memo's own float objects (declared optional, compiled code keeps them boxed):
        # a float-typed helper unboxed each one and boxed a new copy for the Reading.
        main_min: float | None = None
        main_max: float | None = None
        sos_min: float | None = None
        sos_max: float | None = None
        if main is not None:
            main_min = self._num(row[cmn])
            if main_min is None:
                main_min = main
            main_max = self._num(row[cmx])
            if main_max is None:
                main_max = main
            # in order and within the physical range; a nan or inf anywhere fails it too
            if not -V_LIMIT <= main_min <= main <= main_max <= V_LIMIT:
                return None
        elif sos is None:
            return None
        if sos is not None:
            sos_min = self._num(row[csn])
            if sos_min is None:
                sos_min = sos
            sos_max = self._num(row[csx])
            if sos_max is None:
                sos_max = sos
            if not -V_LIMIT <= sos_min <= sos <= sos_max <= V_LIMIT:
                return None
        vehicle = row[self._vehicle] or self.default_vehicle
        self._last_t = t
        return self._new(Reading, (t, main, main_min, main_max, sos, sos_min, sos_max, temp, 0.0, vehicle, 0))

    def scan(self, line: str) -> Reading | None:
        """One line without a quote to a Reading, read where its fields lie (no split, no
        field strings); None for anything it does not take on sight (a bad row, an unusual
        number or time), which parse() then reads from the split line as it always did.

        What it returns is what parse() gives for the same line. Compiled, it costs a third
        of split() and parse(); as plain Python it is slower than they are (see SCAN)."""
        n: i64 = len(line)
        while n > 0 and (ord(line[n - 1]) == 10 or ord(line[n - 1]) == 13):
            n -= 1
        nan = math.nan
        t = main = main_min = main_max = sos = sos_min = sos_max = temp = nan
        vehicle = self.default_vehicle
        i: i64 = 0
        j: i64 = 0
        last: i64 = self.width - 1
        for k, kind in enumerate(self._kinds):
            if kind >= 0:
                v, j = scan_number(line, i, n)
                if j < 0:
                    return None  # not a number it reads
                if kind == 0:
                    main = v
                elif kind == 1:
                    main_min = v
                elif kind == 2:
                    main_max = v
                elif kind == 3:
                    sos = v
                elif kind == 4:
                    sos_min = v
                elif kind == 5:
                    sos_max = v
                else:
                    temp = v
            elif kind == _TIME:
                t, j = self._iso.at(line, i, n)
                if j < 0:  # not the date and offset of the row before
                    j = line.find(",", i, n)
                    if j < 0:
                        j = n
                    if j - i > 10 and ord(line[i + 4]) == 45:  # "-": ISO 8601
                        try:
                            iso = self._iso.parse(line[i:j])
                        except ValueError:
                            return None
                        if iso is None:
                            return None
                        t = iso
                    else:
                        t, j = scan_number(line, i, n)
                        if j < 0:
                            return None
            else:
                j = line.find(",", i, n)
                if j < 0:
                    j = n
                if kind == _VEHICLE and j > i:
                    vehicle = line[i:j]
            # j is at the comma after the field, or at the end of the line after the last one
            if (j == n) != (k == last):
                return None  # fewer or more fields than the header
            i = j + 1
        # in order and in range (2000-2099); nan (an empty time) fails these comparisons too
        if not self._last_t < t < MAX_T:
            return None
        if temp == temp and not TEMP_MIN_C <= temp <= TEMP_MAX_C:
            return None
        main_min, main_max, ok = _window(main, main_min, main_max)
        if not ok:
            return None
        sos_min, sos_max, ok = _window(sos, sos_min, sos_max)
        if not ok or (main != main and sos != sos):
            return None
        self._last_t = t
        return self._new(self._reading, (
            t, _or_none(main), _or_none(main_min), _or_none(main_max), _or_none(sos),
            _or_none(sos_min), _or_none(sos_max), _or_none(temp), 0.0, vehicle, 0))

    def _careful(self, row: Sequence[str]) -> Reading:
        if row and row[-1] == "" and len(row) == self.width + 1:
            row = row[:-1]  # the fast path's sentinel
        if len(row) > self.width:
            raise RowError(f"{len(row)} fields, the header has {self.width}")
        n = len(row)
        it = self._time
        if it >= n or not row[it].strip():
            raise RowError("time is empty")
        try:
            t = parse_time(row[it])
        except ValueError as e:
            raise RowError(f"time: {e}") from None
        if not math.isfinite(t):
            raise RowError(f"time {row[it].strip()} is not a finite number")
        problem = time_range_problem(t, row[it].strip())
        if problem is not None:
            raise RowError(problem)
        if t <= self._last_t:
            raise RowError(f"time {row[it].strip()} is not after the previous row's")
        vals: list[float | None] = []
        for col, name in zip(self._cols, COLUMNS[2:], strict=True):
            vals.append(_value(row[col].strip(), name) if 0 <= col < n else None)
        main, main_min, main_max, sos, sos_min, sos_max, temp = vals
        if main is None and sos is None:
            raise RowError("neither main_v nor sos_v has a value")
        # A row without extremes stands for a single sample: its window is its average.
        if main is not None:
            main_min = main if main_min is None else main_min
            main_max = main if main_max is None else main_max
            if not main_min <= main <= main_max:
                raise RowError(f"main_v {main} is outside its own min/max [{main_min}, {main_max}]")
        if sos is not None:
            sos_min = sos if sos_min is None else sos_min
            sos_max = sos if sos_max is None else sos_max
            if not sos_min <= sos <= sos_max:
                raise RowError(f"sos_v {sos} is outside its own min/max [{sos_min}, {sos_max}]")
        vc = self._vehicle
        vehicle = (row[vc].strip() or None) if 0 <= vc < n else None
        self._last_t = t
        return Reading(
            t, main, main_min, main_max, sos, sos_min, sos_max, temp, 0.0,
            vehicle or self.default_vehicle,
        )


class ReplayResult:
    """What a replay did: rows read, readings analysed, rows skipped, the alerts' transitions."""

    # a plain class, not a dataclass: in a compiled module dataclass() still writes its
    # methods at import, for every start-up
    def __init__(self) -> None:
        self.rows = 0
        self.readings = 0
        self.skipped = 0
        self.transitions: list[AlertTransition] = []
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.unknown_columns: list[str] = []


class _Taken:
    """The lines an iterator hands out, remembered (the lines a quoted record spans)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.taken.append(line)
        return line


def _one_line(line: str) -> list[str]:
    """The fields of one line on its own (a quote left open ends with the line)."""
    try:
        return next(csv.reader((line,)), [])
    except csv.Error:
        return []


def _quoted(
    line: str, rest: Iterator[str], first: int, parser: RowParser
) -> tuple[list[tuple[int, Reading | None, str]], int]:
    """A line with a quote, and the lines a quoted field carries it over: (results, lines used).

    Each result is (line number, reading or None, why it was skipped). A record across lines
    is what RFC 4180 allows (a note column with line breaks); when it turns out bad, the quote
    was a stray one, so the record is reported at the line it starts on and the lines it took
    are read again on their own: one stray quote costs one row, not the rest of the log.
    """
    more = _Taken(rest)
    reader = csv.reader(chain((line,), more))
    why = ""
    try:
        row = next(reader, [])
    except csv.Error as err:
        row, why = [], f"unreadable CSV ({err})"
    used = 1 + len(more.taken)
    if not why:
        if not row or row == [""]:
            return [], used
        try:
            return [(first, parser.parse(row), "")], used
        except RowError as e:
            why = str(e)
    if used == 1:
        return [(first, None, why)], used
    out: list[tuple[int, Reading | None, str]] = [
        (first, None, f"a quote opened on this line runs on to line {first + used - 1}; "
                      "read as one row it is not usable, so the lines after it are read on their own")
    ]
    for k, later in enumerate(more.taken):
        fields = _one_line(later)
        if not fields or fields == [""]:
            continue
        try:
            out.append((first + 1 + k, parser.parse(fields), ""))
        except RowError as e:
            out.append((first + 1 + k, None, str(e)))
    return out, used


def feed_log(
    lines: Iterable[str],
    pipeline: Pipeline,
    name: str = "<csv>",
    warn: Callable[[str], None] | None = None,
    route: Callable[[list[Outbound]], None] | None = None,
    max_warnings: int = -1,
    after_t: float | None = None,
    readings_too: bool = True,
    scan: bool = SCAN,
) -> ReplayResult:
    """Push every row of a CSV log through ``pipeline``, handing what it gives out to ``route``
    (a Router's route; with ``readings_too`` false, only what holds more than the reading, so
    a replay whose outputs take no readings pays nothing per row); bad rows are skipped,
    counted and reported.

    Each skipped row gets a warning with its line number, or only the first ``max_warnings``
    of them when that is 0 or more (then one more line says how many were not shown).

    A row that repeats the header (logs joined end to end) is passed over. With ``after_t``,
    rows must come after that time (the end of the log replayed before this one).

    Logs are plain numbers and ISO times, so a line without a quote is split on commas,
    which gives the fields csv.reader would at a fraction of its cost (compiled, the line is
    first read in place by RowParser.scan, cheaper still; ``scan`` says whether to try it); a
    line with a quote goes to the csv module itself (quoted commas, fields across lines).
    """
    res = ReplayResult()
    it = iter(lines)
    line_num = 0
    header: list[str] = []
    for line in it:
        line_num += 1
        if '"' in line:
            try:
                header = next(csv.reader((line,)), [])
            except csv.Error as err:
                raise CsvFormatError(f"{name}:{line_num}: unreadable CSV ({err})") from None
        else:
            header = line.rstrip("\r\n").split(",")
        if header and header != [""]:
            break
    else:
        raise CsvFormatError(f"{name}: empty file")
    header_text = line.rstrip("\r\n")
    try:
        parser = RowParser(header, default_vehicle=pipeline.vehicle, after_t=after_t)
    except CsvFormatError as e:
        raise CsvFormatError(f"{name}:{line_num}: {e}") from None
    res.unknown_columns = parser.unknown_columns
    transitions = res.transitions
    rows = skipped = 0
    shown = max_warnings if max_warnings >= 0 else -1
    first_t: float | None = None
    # the hot loop of replay and report: one scan (or split and parse), one call into the
    # pipeline per row
    for line in it:
        line_num += 1
        if '"' in line:
            if line.rstrip("\r\n") == header_text:
                continue  # the header again
            results, used = _quoted(line, it, line_num, parser)
            line_num += used - 1
            for at, got, reason in results:
                rows += 1
                if got is None:
                    skipped += 1
                    if warn is not None and shown != 0:
                        shown -= 1
                        warn(f"{name}:{at}: row skipped: {reason}")
                    continue
                if first_t is None:
                    first_t = got.t
                outs = pipeline.reading(got)
                if route is not None and (readings_too or len(outs) > 1):
                    route(outs)
                for out in outs[1:]:
                    if isinstance(out, AlertTransition):
                        transitions.append(out)
            continue
        r = parser.scan(line) if scan else None
        if r is None:
            row = line.rstrip("\r\n").split(",")
            if len(row) == 1 and not row[0]:
                continue  # a blank line, which csv.reader skips too
            try:
                r = parser.parse(row)
            except RowError as why:
                if row == header:
                    continue  # the header again, where another log was appended
                rows += 1
                skipped += 1
                if warn is not None and shown != 0:
                    shown -= 1
                    warn(f"{name}:{line_num}: row skipped: {why}")
                continue
        rows += 1
        if first_t is None:
            first_t = r.t
        outs = pipeline.reading(r)
        if route is not None and (readings_too or len(outs) > 1):
            route(outs)
        if len(outs) > 1:
            for out in outs[1:]:
                if isinstance(out, AlertTransition):
                    transitions.append(out)
    res.rows, res.skipped, res.first_t = rows, skipped, first_t
    res.last_t = pipeline.last_t
    res.readings = rows - skipped
    if warn is not None and 0 <= max_warnings < skipped:
        warn(f"{name}: {skipped - max_warnings} more skipped rows not shown")
    return res


def _num(v: float | None, digits: int) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def format_row(r: Reading, vehicle: str | None = None) -> list[str]:
    """A Reading as a row in ``COLUMNS`` order (millivolt precision)."""
    return [
        iso_utc(r.t),
        r.vehicle or vehicle or "",
        _num(r.main_v, 3),
        _num(r.main_min_v, 3),
        _num(r.main_max_v, 3),
        _num(r.sos_v, 3),
        _num(r.sos_min_v, 3),
        _num(r.sos_max_v, 3),
        _num(r.temp_c, 1),
    ]


def write_csv(fh: TextIO, readings: Iterable[Reading], vehicle: str | None = None) -> int:
    """Write a header and one row per reading; returns the number of rows."""
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(COLUMNS)
    n = 0
    for r in readings:
        w.writerow(format_row(r, vehicle))
        n += 1
    return n
