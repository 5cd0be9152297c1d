"""``battwatch import``: other loggers' voltage files into one battwatch CSV log."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import TextIO

from battwatch.core.timefmt import iso_utc, time_range_problem
from battwatch.importlog import FIELDS, Converted, Counts, Layout, Override, Refused, convert, decode, detect
from battwatch.importtime import KIND_TEXT, LOCAL_KINDS, parse_start

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
SHOW_BAD = 10  # unreadable rows listed one by one; the rest are counted
# rows that go back in time beyond which the chosen column is not the log's clock at all
BACK_LIMIT_FRACTION = 0.01


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def _zone(name: str | None) -> tzinfo | None:
    if name is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--tz {name!r} is not a time zone this machine knows (e.g. Europe/Berlin, UTC)") from None


def describe(src: str, layout: Layout, zone_name: str | None, start: float | None) -> list[str]:
    """What was detected in one file, as the lines the command prints."""
    head = f"header on line {layout.header_line}" if layout.header_line else "no header row"
    delim = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}[layout.delimiter]
    out = [f"{src}: {layout.encoding}, delimiter {delim}, "
           f"{'decimal comma' if layout.decimal_comma else 'decimal point'}, {head}"]
    for f in FIELDS:
        col = layout.columns.get(f)
        if col is None:
            continue
        if f == "time":
            what = KIND_TEXT[layout.time_kind]
            if layout.time_kind in LOCAL_KINDS:
                what += f", local time in {zone_name}"
            elif layout.time_kind == "relative" and start is not None:
                what += f" ({col.unit or 's'}), from {iso_utc(start)}"
        elif f == "temp_c":
            what = "°C"
        else:
            what = {"v": "V", "mv": "mV", "cv": "cV"}[col.unit or "v"]
        out.append(f"  {f:8} <- {col.name!r} ({what}; {col.how})")
    if layout.ignored:
        out.append(f"  ignored: {', '.join(repr(n) for n in layout.ignored)}")
    out.extend(f"  note: {n}" for n in layout.notes)
    return out


def run_import(args: argparse.Namespace) -> int:
    try:
        overrides = [Override.parse(c) for c in args.column]
        zone = _zone(args.tz)
        start = parse_start(args.start, zone) if args.start is not None else None
    except ValueError as e:
        _say(f"battwatch import: {e}")
        return EXIT_USAGE
    if args.vehicle is not None:
        from battwatch.config import VEHICLE_ID

        if re.search(VEHICLE_ID, args.vehicle) is None:
            _say(f"battwatch import: --vehicle {args.vehicle!r}: letters, digits, '-', '_' and '.' only (up to 64)")
            return EXIT_USAGE
    files: list[tuple[str, list[Converted], Layout]] = []
    for src in args.sources:
        try:
            data = Path(src).read_bytes() if src != "-" else sys.stdin.buffer.read()
        except OSError as e:
            _say(f"battwatch import: {src}: cannot read: {e.strerror}")
            return EXIT_FAIL
        text, encoding = decode(data)
        try:
            layout = detect(text, overrides, encoding=encoding, zone=zone, start=start)
            rows, counts = _convert(src, text, layout, zone, start)
        except Refused as e:
            _say(f"battwatch import: {src}: {e}")
            return EXIT_USAGE
        for line in describe(src, layout, args.tz, start):
            _say(line)
        _report_counts(counts)
        if not rows:
            _say(f"battwatch import: {src}: no row holds a voltage with a readable time: nothing to write")
            return EXIT_FAIL
        files.append((src, rows, layout))
    files.sort(key=lambda f: f[1][0].t)
    merged, overlap = _merge([rows for _, rows, _ in files])
    if overlap:
        _say(f"  {overlap} rows at or before the end of the file before them (the files overlap) were left out")
    fields = [f for f in FIELDS[1:] if any(f in layout.columns for _, _, layout in files)]
    if args.output:
        try:
            with open(args.output, "w", newline="", encoding="utf-8") as out:
                _write(out, merged, fields, args.vehicle)
        except OSError as e:
            _say(f"battwatch import: {args.output}: cannot write: {e.strerror}")
            return EXIT_FAIL
    else:
        _write(sys.stdout, merged, fields, args.vehicle)
    where = args.output or "standard output"
    _say(f"battwatch import: {len(merged)} readings from {iso_utc(merged[0].t)} to {iso_utc(merged[-1].t)} "
         f"written to {where}")
    if args.output:
        _say(f"  next: battwatch replay {args.output}  (or battwatch report {args.output} --plot history.png)")
    return EXIT_OK


def _convert(src: str, text: str, layout: Layout, zone: tzinfo | None,
             start: float | None) -> tuple[list[Converted], Counts]:
    counts = Counts()
    rows = list(convert(text, layout, zone=zone, start=start, counts=counts))
    tname = layout.columns["time"].name
    if counts.back_in_time > max(5, BACK_LIMIT_FRACTION * counts.rows):
        raise Refused(f"the times in {tname!r} go back {counts.back_in_time} times in {counts.rows} rows: "
                      f"it is not the log's clock; name the column that is with --column time=NAME[:UNIT]")
    for r in rows[:1] + rows[-1:]:
        problem = time_range_problem(r.t, iso_utc(r.t) if 0 < r.t < 4e9 else str(r.t))
        if problem is not None:
            hint = ("a different --start" if layout.time_kind == "relative"
                    else f"another unit or column with --column time={tname}:UNIT")
            raise Refused(f"line {r.line}: {problem}; try {hint}")
    return rows, counts


def _report_counts(counts: Counts) -> None:
    _say(f"  {counts.converted} rows converted")
    if counts.no_voltage:
        _say(f"  {counts.no_voltage} rows without a voltage left out")
    if counts.bad:
        _say(f"  {len(counts.bad)} rows left out:")
        for line in counts.bad[:SHOW_BAD]:
            _say(f"    {line}")
        if len(counts.bad) > SHOW_BAD:
            _say(f"    ... and {len(counts.bad) - SHOW_BAD} more")


def _merge(parts: Sequence[list[Converted]]) -> tuple[list[Converted], int]:
    """The files one after the other (already in order of their first row); rows of a file at or
    before the last row of the files before it are left out, counted."""
    out: list[Converted] = []
    dropped = 0
    for rows in parts:
        last = out[-1].t if out else None
        if last is None:
            out.extend(rows)
            continue
        keep = [r for r in rows if r.t > last]
        dropped += len(rows) - len(keep)
        out.extend(keep)
    return out, dropped


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _write(out: TextIO, rows: Sequence[Converted], fields: Sequence[str], vehicle: str | None) -> None:
    head = ["time", *(["vehicle"] if vehicle else []), *fields]
    out.write(",".join(head) + "\n")
    for r in rows:
        cells = [iso_utc(r.t), *([vehicle] if vehicle else []), *(_fmt(r.values.get(f)) for f in fields)]
        out.write(",".join(cells) + "\n")
