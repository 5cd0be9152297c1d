"""What adc-sim plays: a scenario's run, or a CSV log's good rows (bad ones skipped with a note)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from battwatch.core.model import Reading

if TYPE_CHECKING:
    from battwatch.core.csvlog import RowParser


class SimError(Exception):
    """A problem with adc-sim's arguments or input, shown as one line."""


def readings_for(csv_path: str | None, scenario: str | None, seed: int) -> Iterable[Reading]:
    """What adc-sim plays: the CSV log when one is given, else the named scenario's run."""
    if csv_path:
        return _csv_readings(Path(csv_path))
    if scenario is None:
        raise SimError("no data to play: give --csv or --scenario")
    from battwatch import scenarios

    return scenarios.generate(scenario, seed=seed)


def _csv_readings(path: Path) -> Iterator[Reading]:
    """Good rows of a log; bad rows are skipped with a warning, like replay does.

    The header is read here, before the emulator starts, so a file that cannot be used at
    all is a one-line error and not a failure on the emulator's thread."""
    import csv

    from battwatch.core.csvlog import CsvFormatError, RowParser
    from battwatch.replay import open_log

    damage: list[str] = []
    try:
        fh = open_log(path, damage)
    except OSError as e:
        raise SimError(f"{path}: {e.strerror or e}") from None
    reader = csv.reader(fh)
    try:
        header = next(reader, None)
        if header is None:
            raise SimError(f"{path}: empty file (a CSV log starts with a header line)")
        parser = RowParser(header)
    except (CsvFormatError, csv.Error, UnicodeError) as e:
        fh.close()
        raise SimError(f"{path}:{reader.line_num}: {e}") from None
    except SimError:
        fh.close()
        raise
    return _csv_rows(path, fh, reader, parser, damage)


def _csv_rows(path: Path, fh: TextIO, reader: Any, parser: RowParser, damage: list[str]) -> Iterator[Reading]:
    import csv
    import sys

    from battwatch.core.csvlog import RowError
    from battwatch.replay import damage_note

    with fh:
        while True:
            try:
                row = next(reader, None)
            except csv.Error as e:  # a NUL byte, an unterminated quote at the end: skip it
                print(f"adc-sim: {path}:{reader.line_num}: row skipped: {e}", file=sys.stderr)
                continue
            if row is None:
                if damage:
                    print(f"adc-sim: {damage_note(str(path), damage)}", file=sys.stderr)
                return
            if not row:
                continue
            try:
                yield parser.parse(row)
            except RowError as e:
                print(f"adc-sim: {path}:{reader.line_num}: row skipped: {e}", file=sys.stderr)
