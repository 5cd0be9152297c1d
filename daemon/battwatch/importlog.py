"""Another logger's voltage file read as battwatch readings: what it holds, told from its text (pure)."""

from __future__ import annotations

import codecs
import csv
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

from battwatch.importtime import (
    DATE_ORDERS,
    KIND_TEXT,
    LOCAL_KINDS,
    TIME_UNITS,
    TimeReader,
    TimeRefused,
    classify,
)

# the battwatch CSV columns an import can fill, in the order they are written
FIELDS = ("time", "main_v", "main_v_min", "main_v_max", "sos_v", "sos_v_min", "sos_v_max", "temp_c")
VOLT_UNITS = {"v": 1.0, "mv": 0.001, "cv": 0.01}
VOLT_FIELDS = frozenset(FIELDS[1:7])
SAMPLE_ROWS = 200  # data rows looked at to tell formats and units apart

# words in a column name that make it a voltage, a time, a temperature; or rule it out
_VOLT_WORDS = frozenset({"v", "u", "vbat", "vbatt", "battv", "battvolt", "battvolts", "batt", "bat",
                         "battery", "ubat", "ubatt", "vbattery", "vin", "vcc", "vdd",
                         "batterie", "spannung", "tension"})
_NOT_VOLT = frozenset({"%", "soc", "percent", "remaining", "current", "power", "mw", "ma", "a", "w",
                       "capacity", "ah", "mah", "soh", "temp", "temperature", "index", "serial", "name",
                       "id", "number", "ic"})
_WEAKER = frozenset({"load", "charger", "charge", "cell", "min", "max", "avg", "mean", "set", "target",
                     "ref", "input", "output", "solar", "pv", "usb"})
_SOS_WORDS = frozenset({"sos", "backup", "ecall", "aux", "tcu", "telematics", "emergency"})
_MAIN_WORDS = frozenset({"main", "starter", "start", "12v", "crank", "car", "vehicle", "lead"})
_TIME_WORDS = {"timestamp": 10, "datetime": 10, "time": 8, "epoch": 8, "unix": 8, "utc": 8, "ts": 7,
               "date": 6, "zeit": 8, "zeitstempel": 10, "datum": 6, "t": 5, "seconds": 4, "elapsed": 4, "sec": 4, "s": 3}
_TEMP_WORDS = frozenset({"temp", "temperature", "temperatur", "tempc", "degc", "°c", "celsius"})
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_COMMA_NUMBER = re.compile(r"^[+-]?\d+,\d+$")


class Refused(ValueError):
    """The log cannot be converted as it stands; the message names the option that settles it."""


@dataclass(frozen=True, slots=True)
class Override:
    """One ``--column FIELD=SOURCE[:UNIT]``: a battwatch column from a named (or numbered) source column."""

    field: str
    source: str
    unit: str | None = None

    @staticmethod
    def parse(text: str) -> Override:
        name, eq, source = text.partition("=")
        name = name.strip().lower()
        if not eq or not source.strip():
            raise ValueError(f"--column {text!r}: write FIELD=SOURCE[:UNIT], e.g. main_v=Battery or sos_v='Volts (mV)':mV")
        if name not in FIELDS:
            raise ValueError(f"--column {text!r}: {name!r} is not a battwatch column ({', '.join(FIELDS)})")
        unit = None
        head, colon, tail = source.rpartition(":")
        if colon and tail.strip().lower() in (*VOLT_UNITS, *TIME_UNITS, *DATE_ORDERS):
            source, unit = head, tail.strip().lower()
            allowed = (TIME_UNITS.keys() | set(DATE_ORDERS)) if name == "time" else (
                VOLT_UNITS.keys() if name in VOLT_FIELDS else set())
            if unit not in allowed:
                raise ValueError(f"--column {text!r}: {unit!r} is not a unit of {name} "
                                 f"({', '.join(sorted(allowed)) or 'none'})")
        return Override(name, source.strip(), unit)


def decode(data: bytes) -> tuple[str, str]:
    """A file's text and what its encoding was found to be."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "UTF-8 with a byte-order mark"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "UTF-16 with a byte-order mark"
    head = data[:2000]
    if len(head) >= 4 and head.count(b"\x00") * 3 > len(head):
        # every other byte zero: UTF-16 without its mark, the side the zeros sit on tells the order
        le = head[1::2].count(0) > head[0::2].count(0)
        return data.decode("utf-16-le" if le else "utf-16-be", errors="replace"), "UTF-16 without a byte-order mark"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "Windows-1252 (it is not UTF-8)"


def _tokens(name: str) -> list[str]:
    return re.findall(r"[a-z0-9%°]+", name.lower())


def name_unit(name: str) -> str | None:
    """The voltage unit a column name states ("Volts (mV)", "vbat_mv", "Voltage(V)"), or None."""
    toks = _tokens(name)
    for unit in ("mv", "cv"):
        if unit in toks or any(t.endswith(unit) and t[:-2] in _VOLT_WORDS for t in toks) or "milli" + "volts" in toks:
            return unit
    if "v" in toks[1:] or re.search(r"[\(\[]\s*v\s*[\)\]]", name.lower()):
        return "v"
    return None


def _volt_score(name: str) -> int:
    toks = _tokens(name)
    if not toks or any(t in _NOT_VOLT for t in toks):
        return 0
    if not any(t.startswith("volt") or t in _VOLT_WORDS or t in ("mv", "cv") for t in toks):
        return 0
    return 10 - 4 * sum(t in _WEAKER for t in toks)


def _time_score(name: str) -> int:
    toks = _tokens(name)
    if "".join(toks) in ("datetime", "timestamp"):
        return 10
    return max((_TIME_WORDS.get(t, 0) for t in toks), default=0)


def _is_temp(name: str) -> bool:
    toks = _tokens(name)
    return any(t in _TEMP_WORDS or t.startswith("temp") for t in toks)


@dataclass(slots=True)
class Column:
    """Where one battwatch column comes from, and how it was decided."""

    field: str
    index: int
    name: str
    unit: str | None = None  # voltage: v, mv or cv; time: a TIME_UNITS key or a date order
    how: str = ""  # "by name", "as asked", ...


@dataclass(slots=True)
class Layout:
    """What a file was found to hold: enough to convert every row, and to say what was found."""

    encoding: str
    delimiter: str
    decimal_comma: bool
    header_line: int  # 1-based; 0 when the file has no header
    names: list[str]
    columns: dict[str, Column]
    time_kind: str
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _delimiter(lines: Sequence[str]) -> str:
    best, best_score = ",", (-1.0, 0)
    for d in (",", ";", "\t", "|"):
        widths = [len(r) for r in csv.reader(lines, delimiter=d) if r]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) / len(widths) if common > 1 else 0.0, common)
        if score > best_score:
            best, best_score = d, score
    return best


def _looks_like_data(row: Sequence[str]) -> bool:
    """A row of numbers and times only (a first row like this means the file has no header)."""
    cells = [c.strip() for c in row if c.strip()]
    return bool(cells) and all(_NUMBER.match(c) or _COMMA_NUMBER.match(c) or re.match(r"^[\d.:/ T+-]+Z?$", c)
                               for c in cells)


def _find(names: Sequence[str], source: str, what: str) -> int:
    """The index of a source column given by name (case and padding ignored) or by number (1-based)."""
    want = source.strip().strip("'\"").strip().lower()
    for i, n in enumerate(names):
        if n.strip().lower() == want:
            return i
    if want.isdigit() and 1 <= int(want) <= len(names):
        return int(want) - 1
    shown = ", ".join(repr(n.strip()) for n in names)
    raise Refused(f"--column {what}={source}: no column of that name or number (the columns are {shown})")


def detect(text: str, overrides: Sequence[Override] = (), *, encoding: str = "UTF-8",
           zone: tzinfo | None = None, start: float | None = None) -> Layout:
    """How ``text`` is laid out and which of its columns become which battwatch column.

    Raises Refused when something cannot be told from the text: the message names the option
    (``--tz``, ``--start``, ``--column``) that settles it.
    """
    lines = [ln for ln in text.splitlines()[: SAMPLE_ROWS + 20] if ln.strip()]
    if not lines:
        raise Refused("the file is empty")
    delim = _delimiter(lines)
    all_lines = text.splitlines()
    rows = list(csv.reader(all_lines[: SAMPLE_ROWS + 50], delimiter=delim))
    hi = next((i for i, r in enumerate(rows) if len([c for c in r if c.strip()]) >= 2), None)
    if hi is None:
        raise Refused("no line has two or more fields: this is not a table of times and voltages")
    if _looks_like_data(rows[hi]):
        names = [str(i + 1) for i in range(len(rows[hi]))]
        header_line, data = 0, rows[hi:]
    else:
        names = [c.strip() for c in rows[hi]]
        header_line, data = hi + 1, rows[hi + 1:]
    head_key = [n.lower() for n in names]
    data = [r for r in data if any(c.strip() for c in r) and [c.strip().lower() for c in r] != head_key][:SAMPLE_ROWS]
    given = {o.field: o for o in overrides}
    columns: dict[str, Column] = {}
    for o in overrides:
        at = _find(names, o.source, o.field)
        columns[o.field] = Column(o.field, at, names[at], o.unit, "as asked")
    taken = {c.index for c in columns.values()}

    def values(i: int) -> list[str]:
        return [r[i].strip() for r in data if i < len(r) and r[i].strip()]

    # the time: by name, else the first column whose values read as times
    if "time" not in columns:
        scored = sorted(((_time_score(n), i) for i, n in enumerate(names) if i not in taken), reverse=True)
        pick = next((i for s, i in scored if s > 0 and values(i)), None)
        if pick is None:
            for i in range(len(names)):
                if i in taken or not values(i):
                    continue
                try:
                    if classify(values(i)[:50]) != "relative":
                        pick = i
                        break
                except TimeRefused:
                    continue
        if pick is None:
            raise Refused("no column holds the times: name it with --column time=NAME")
        columns["time"] = Column("time", pick, names[pick], None, "by name" if header_line else "by its values")
        taken.add(pick)
    tcol = columns["time"]
    sample = values(tcol.index)[:50]
    if not sample:
        raise Refused(f"the time column {tcol.name!r} is empty: name another with --column time=NAME")
    try:
        kind = classify(sample, tcol.unit)
    except TimeRefused as e:
        option = (f"--column time={tcol.name}:dmy (or :mdy)" if "day/month" in str(e)
                  else "--column time=NAME for the column that holds the times")
        raise Refused(f"the time column {tcol.name!r}: {e}: {option}") from None
    if kind in LOCAL_KINDS and zone is None:
        raise Refused(f"the times in {tcol.name!r} ({sample[0]!r}) carry no UTC offset: give the zone "
                      f"they were written in with --tz (e.g. --tz Europe/Berlin, or --tz UTC)")
    if kind == "relative" and start is None:
        unit = tcol.unit or "s"
        raise Refused(f"the times in {tcol.name!r} ({sample[0]} ... {sample[-1]}) count {_unit_word(unit)} from "
                      f"the start of the log: say when that was with --start (e.g. --start 2021-04-28T20:34:26+02:00)")

    notes: list[str] = []
    # voltages: the battwatch names themselves, else by name, else the one numeric column left
    native = {n.strip().lower(): i for i, n in enumerate(names)}
    for f in FIELDS[1:]:
        if f not in columns and f in native and native[f] not in taken:
            columns[f] = Column(f, native[f], names[native[f]], "v" if f in VOLT_FIELDS else None, "by name")
            taken.add(native[f])
    if not any(f in columns for f in ("main_v", "sos_v")):
        scored = sorted(((_volt_score(n), i) for i, n in enumerate(names) if i not in taken and values(i)),
                        reverse=True)
        scored = [(s, i) for s, i in scored if s > 0]
        if scored:
            best = [i for s, i in scored if s == scored[0][0]]
            if len(best) > 1:
                by_role = {i: _role(names[i]) for i in best}
                mains = [i for i in best if by_role[i] == "main_v"]
                soses = [i for i in best if by_role[i] == "sos_v"]
                if len(best) == 2 and len(mains) == 1 and len(soses) == 1:
                    for i in best:
                        role = by_role[i] or "main_v"
                        columns[role] = Column(role, i, names[i], None, "by name")
                        taken.add(i)
                else:
                    shown = " and ".join(repr(names[i]) for i in best)
                    raise Refused(f"{shown} could each be the battery voltage: say which with "
                                  f"--column main_v=NAME (12 V battery) or --column sos_v=NAME (SOS pack)")
            else:
                i = best[0]
                role = _role(names[i]) or "main_v"
                columns[role] = Column(role, i, names[i], None, "by name")
                taken.add(i)
                if _role(names[i]) is None:
                    notes.append(f"one voltage column: taken as main_v, the 12 V starter battery; if it is the "
                                 f"SOS/backup pack, import with --column sos_v={_quote(names[i])}")
        else:
            raise Refused("no column is named like a voltage (volt, voltage, battery, battV, ...): "
                          "name it with --column main_v=NAME (12 V battery) or --column sos_v=NAME (SOS pack)")
    if "temp_c" not in columns:
        temps = [i for i, n in enumerate(names) if i not in taken and _is_temp(n) and values(i)]
        if temps:
            columns["temp_c"] = Column("temp_c", temps[0], names[temps[0]], None, "by name")
            taken.add(temps[0])

    decimal_comma = False
    for f, col in columns.items():
        if f == "time":
            continue
        vals = values(col.index)
        if vals and any(_COMMA_NUMBER.match(v) for v in vals):
            decimal_comma = True
        bad = next((v for v in vals if not (_NUMBER.match(v) or _COMMA_NUMBER.match(v))), None)
        if bad is not None and len([v for v in vals if _NUMBER.match(v) or _COMMA_NUMBER.match(v)]) == 0:
            raise Refused(f"{f} from {col.name!r}: {bad!r} is not a number: pick the column with --column {f}=NAME")
        if f in VOLT_FIELDS:
            _settle_unit(col, vals, given.get(f))
    ignored = [n or f"column {i + 1}" for i, n in enumerate(names) if i not in taken]
    return Layout(encoding, delim, decimal_comma, header_line, names, columns, kind, ignored, notes)


def _unit_word(unit: str) -> str:
    return {"s": "seconds", "ms": "milliseconds", "min": "minutes", "h": "hours", "d": "days"}.get(unit, unit)


def _quote(name: str) -> str:
    return f"'{name}'" if re.search(r"[^A-Za-z0-9_.-]", name) else name


def _role(name: str) -> str | None:
    toks = set(_tokens(name))
    if toks & _SOS_WORDS:
        return "sos_v"
    if toks & _MAIN_WORDS:
        return "main_v"
    return None


def _settle_unit(col: Column, vals: Sequence[str], asked: Override | None) -> None:
    """A voltage column's unit: as asked, else as its name says, else volts when the values fit."""
    if asked is not None and asked.unit is not None:
        col.unit = asked.unit
        return
    stated = name_unit(col.name)
    nums = sorted(abs(float(v.replace(",", "."))) for v in vals if _NUMBER.match(v) or _COMMA_NUMBER.match(v))
    typical = nums[len(nums) // 2] if nums else 0.0
    if stated is not None:
        col.unit = stated
        return
    if typical > 100.0:
        raise Refused(f"{col.field} from {col.name!r}: values like {typical:g} are too large for volts and the "
                      f"name says no unit: give it with --column {col.field}={_quote(col.name)}:mV (or :cV)")
    col.unit = "v"


@dataclass(slots=True)
class Converted:
    """One converted row: Unix seconds and the battwatch columns' values (None: empty)."""

    line: int
    t: float
    values: dict[str, float | None]


@dataclass(slots=True)
class Counts:
    rows: int = 0
    converted: int = 0
    no_voltage: int = 0
    back_in_time: int = 0
    bad: list[str] = field(default_factory=list)  # "line N: why", every one
    bad_total: int = 0


def convert(text: str, layout: Layout, *, zone: tzinfo | None = None, start: float | None = None,
            counts: Counts | None = None) -> Iterator[Converted]:
    """Every data row of ``text`` as a Converted row, in the file's order.

    Rows without a voltage are counted, not given; a row whose time or value cannot be read is
    counted with its line and reason; a row not after the row before it is counted too (a
    clock that steps back, a repeated row), since the battwatch log only moves forward.
    """
    n = counts if counts is not None else Counts()
    tcol = layout.columns["time"]
    scale = TIME_UNITS.get(tcol.unit or "s", 1.0)
    reader = TimeReader(layout.time_kind, zone=zone, start=start, scale=scale)
    wanted = [(f, c.index, VOLT_UNITS.get(c.unit or "v", 1.0) if f in VOLT_FIELDS else 1.0)
              for f, c in layout.columns.items() if f != "time"]
    volt_cols = [f for f, _, _ in wanted if f in VOLT_FIELDS]
    header = [x.strip().lower() for x in layout.names]
    ti = tcol.index
    last = -math.inf
    lines = text.splitlines()
    start_at = layout.header_line  # the header's own line is skipped; data follow it
    line_no = start_at
    rows = csv.reader(lines[start_at:], delimiter=layout.delimiter)
    for row in rows:
        line_no = start_at + rows.line_num
        if not any(c.strip() for c in row):
            continue
        if [x.strip().lower() for x in row] == header:
            continue  # the header again (logs joined end to end)
        n.rows += 1
        try:
            text_t = row[ti].strip() if ti < len(row) else ""
            vals: dict[str, float | None] = {}
            for f, i, scale_v in wanted:
                cell = row[i].strip() if i < len(row) else ""
                if not cell:
                    vals[f] = None
                    continue
                if layout.decimal_comma:
                    cell = cell.replace(",", ".")
                try:
                    v = float(cell)
                except ValueError:
                    raise ValueError(f"{layout.columns[f].name}: {cell!r} is not a number") from None
                if not math.isfinite(v):
                    raise ValueError(f"{layout.columns[f].name}: {cell!r} is not a finite number")
                vals[f] = round(v * scale_v, 6)
            if all(vals.get(f) is None for f in volt_cols):
                n.no_voltage += 1
                continue
            if not text_t:
                raise ValueError("the time is empty")
            try:
                t = reader(text_t)
            except (ValueError, OverflowError):
                raise ValueError(f"{tcol.name}: {text_t!r} is not written as {KIND_TEXT[layout.time_kind]}") from None
        except ValueError as e:
            n.bad_total += 1
            n.bad.append(f"line {line_no}: {e}")
            continue
        if t <= last:
            n.back_in_time += 1
            n.bad.append(f"line {line_no}: {text_t} is not after the row before it")
            continue
        last = t
        n.converted += 1
        yield Converted(line_no, t, vals)
