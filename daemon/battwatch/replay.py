"""CSV replay: the daemon's pipeline on a virtual clock taken from the log (no sleeping)."""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from battwatch.core.csvlog import CsvFormatError, ReplayResult, RowError, RowParser, feed_log
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.pipeline import Outbound, Pipeline, build_pipeline
from battwatch.core.timefmt import iso_utc
from battwatch.router import Router

# the store, the clock and the sinks load only when a replay writes to them: a plain replay
# starts in a fraction of the time (bench/RESULTS.md, replay speed)
if TYPE_CHECKING:
    from battwatch.adapters.store import Store
    from battwatch.config import Config
    from battwatch.retention import Retention
    from battwatch.sinks import Sink

__all__ = ["ReplayError", "ReplayResult", "damage_note", "feed_logs", "first_reading", "log_source", "log_sources", "logs_label",
           "open_log", "replay_file", "replay_rows", "spool_stdin", "stderr_warn"]


class ReplayError(Exception):
    """The replay cannot go ahead as asked (a store whose analysis the log does not continue)."""


GZIP_MAGIC = b"\x1f\x8b"


class _Gunzip(io.RawIOBase):
    """A gzip stream's lines, ending cleanly where the stream is cut short or damaged.

    A field log copied off a car is often truncated. Everything up to the last whole line
    before the damage is given (the unfinished line is dropped: a number cut in half would
    still parse), and what went wrong is appended to ``damage`` for the caller to report.
    zlib is fed small pieces of the file directly, so a damaged piece costs only its own
    output, and a stream that just stops is noticed at its end without losing what came out.
    """

    CHUNK = 4096  # compressed bytes per step: what a damaged step can cost at most

    def __init__(self, raw: IO[bytes], damage: list[str]) -> None:
        import zlib

        self._zlib = zlib
        self._raw = raw
        self._damage = damage
        self._d = zlib.decompressobj(wbits=31)  # gzip framing, CRC and length checked
        self._out = b""
        self._tail = b""  # an unfinished line, held back until its newline arrives
        self._done = False

    def readable(self) -> bool:
        return True

    def _step(self) -> bytes:
        """The next piece of decompressed text; sets _done at the end of the file."""
        data = self._raw.read(self.CHUNK)
        if not data:
            self._done = True
            if not self._d.eof:
                self._damage.append("the compressed data ends before the end-of-stream marker")
                self._tail = b""
            return b""
        try:
            out = self._d.decompress(data)
            while self._d.eof and self._d.unused_data:  # concatenated gzip members
                rest = self._d.unused_data
                self._d = self._zlib.decompressobj(wbits=31)
                out += self._d.decompress(rest)
        except self._zlib.error as e:
            self._damage.append(str(e))
            self._done, self._tail = True, b""
            return b""
        return out

    def _ended(self) -> bool:
        return self._done

    def readinto(self, b: Any) -> int:
        while not self._out:
            if self._done:
                return 0
            chunk = self._step()
            # the attribute again through a method: after the test above mypy would take it
            # for False here, and a compiled build would leave the branch out
            if self._ended() and not self._damage:
                self._out, self._tail = self._tail + chunk, b""
                continue
            data = self._tail + chunk
            cut = data.rfind(b"\n") + 1
            self._out, self._tail = data[:cut], data[cut:]
        n = min(len(b), len(self._out))
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_log(path: Path, damage: list[str] | None = None) -> TextIO:
    """Open a CSV log as text: gzip-compressed or not (told by its first bytes, whatever its
    name), honouring a UTF-8 or UTF-16 byte-order mark. A compressed log that is cut short or
    damaged ends at its last whole line, with the reason appended to ``damage``."""
    raw: IO[bytes] = path.open("rb")
    if raw.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]  # a buffered reader
        raw = io.BufferedReader(_Gunzip(raw, [] if damage is None else damage))
    head = raw.peek(4)[:4]  # type: ignore[attr-defined]  # both readers can peek
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    return io.TextIOWrapper(raw, encoding=encoding, newline="", errors="replace")


def damage_note(name: str, damage: list[str]) -> str:
    """The warning for a compressed log that ended early."""
    return (f"{name}: the compressed log is cut short or damaged ({damage[0]}): "
            f"everything before that point was read, the rest is lost")


LOG_SUFFIXES = (".csv", ".csv.gz", ".gz")


@contextmanager
def log_sources(args: Sequence[str]) -> Iterator[list[tuple[Path, str]]]:
    """The logs a command was given, as (path, name in messages), in time order: files,
    directories (their ``*.csv`` and ``*.csv.gz`` files, as a store's ``logs/``), and "-" for
    standard input. ReplayError for a directory without logs; missing files are given as they
    are, for the caller to report."""
    spooled: Path | None = None
    found: list[tuple[Path, str]] = []
    try:
        for arg in args:
            if arg == "-":
                if spooled is None:
                    spooled = spool_stdin()
                    found.append((spooled, "<stdin>"))
                continue
            path = Path(arg)
            if path.is_dir():
                inside = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(LOG_SUFFIXES))
                if not inside:
                    raise ReplayError(f"{path}: a directory without CSV logs (*.csv, *.csv.gz)")
                found += [(p, str(p)) for p in inside]
            else:
                found.append((path, str(path)))
        yield in_time_order(found)
    finally:
        if spooled is not None:
            spooled.unlink(missing_ok=True)


def logs_label(logs: Sequence[tuple[Path, str]]) -> str:
    """What several logs are called in messages: a store's year of daily logs is not listed."""
    if len(logs) == 1:
        return logs[0][1]
    folders = {Path(name).parent for _, name in logs}
    if len(folders) == 1:
        return f"{len(logs)} logs in {folders.pop()}"
    return f"{logs[0][1]} and {len(logs) - 1} more logs"


def in_time_order(logs: Sequence[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Logs ordered by their first usable reading (those without one, or unreadable, last)."""
    if len(logs) < 2:
        return list(logs)

    def first_t(log: tuple[Path, str]) -> float:
        try:
            first = first_reading(log[0])
        except OSError:
            return float("inf")
        return float("inf") if first is None else first.t

    return sorted(logs, key=first_t)


def feed_logs(
    logs: Sequence[tuple[Path, str]],
    pipeline: Pipeline,
    *,
    warn: Callable[[str], None] | None = None,
    route: Callable[[list[Outbound]], None] | None = None,
    max_warnings: int = -1,
    readings_too: bool = True,
) -> ReplayResult:
    """Every log through ``pipeline`` one after the other, as one log: each must start after the
    one before it ends (rows that do not are skipped like any row that goes back in time), and
    at most ``max_warnings`` skipped rows are shown in all (when that is 0 or more)."""
    total = ReplayResult()
    left = max_warnings
    for path, name in logs:
        damage: list[str] = []
        with open_log(path, damage) as fh:
            res = feed_log(fh, pipeline, name, warn, route, left, pipeline.last_t, readings_too)
        if damage and warn is not None:
            warn(damage_note(name, damage))
        if left >= 0:
            left = max(0, left - res.skipped)
        total.rows += res.rows
        total.readings += res.readings
        total.skipped += res.skipped
        total.transitions += res.transitions
        if total.first_t is None:
            total.first_t = res.first_t
        total.last_t = res.last_t if res.last_t is not None else total.last_t
        total.unknown_columns += [c for c in res.unknown_columns if c not in total.unknown_columns]
    return total


@contextmanager
def log_source(arg: str) -> Iterator[Path]:
    """The log a command was given: a path, or "-" for standard input (spooled, then removed)."""
    if arg != "-":
        yield Path(arg)
        return
    spooled = spool_stdin()
    try:
        yield spooled
    finally:
        spooled.unlink(missing_ok=True)


def spool_stdin(directory: Path | None = None) -> Path:
    """Standard input copied to a temporary file (the caller removes it): a replay reads its
    log twice, once for where it starts and once for the readings, and a pipe reads once."""
    import shutil
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="battwatch-stdin-", suffix=".csv", dir=directory,
                                     delete=False) as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return Path(out.name)


def first_reading(path: Path) -> Reading | None:
    """The log's first usable row (its vehicle as written, None when it has none), or None.

    Read ahead of a replay, which needs it before the first reading arrives: the vehicle to
    replay as, and where the log starts against a store's analysis.
    """
    with open_log(path) as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                return None
            parser = RowParser(header)
            for row in reader:
                if row:
                    try:
                        return parser.parse(row)
                    except RowError:
                        continue
        except (CsvFormatError, csv.Error):
            return None  # the replay itself says what is wrong with the file
    return None


def replay_rows(
    fh: TextIO,
    pipeline: Pipeline,
    *,
    name: str = "<csv>",
    warn: Callable[[str], None] | None = None,
    route: Callable[[list[Outbound]], None] | None = None,
    max_warnings: int = -1,
) -> ReplayResult:
    """Push every row through ``pipeline``, what it hands out to ``route``; bad rows are skipped,
    counted and reported (each one, or the first ``max_warnings`` when that is 0 or more)."""
    return feed_log(fh, pipeline, name, warn, route, max_warnings)


def replay_file(
    path: Path | Sequence[tuple[Path, str]],
    cfg: Config,
    *,
    jsonl: TextIO | None = None,
    warn: Callable[[str], None] | None = None,
    store_dir: Path | None = None,
    publish: bool = False,
    sinks: list[Sink] | None = None,
    close_timeout_s: float = 30.0,
    fresh: bool = False,
    max_warnings: int = -1,
    name: str | None = None,
) -> ReplayResult:
    """Replay one log through a pipeline built from ``cfg`` (``name`` is what its warnings call
    it: the path unless given), or several, given as (path, name) in time order, as one.

    With ``store_dir``, readings and alerts also go to that store, and the analysis goes on
    from the state the store holds, as the daemon does after a restart: a log replayed in
    parts gives the alerts the whole log would. ``fresh`` ignores that state. A log that
    starts before the last reading of that state raises ReplayError (before anything is
    written). ``publish`` sends readings, transitions and summaries through the sinks the
    configuration turns on (MQTT, InfluxDB), exactly as the daemon would: a backfill.
    Their outbox lives in ``store_dir`` (default: the configured store path).
    """
    logs = [(path, str(path) if name is None else name)] if isinstance(path, Path) else list(path)
    pipeline = build_pipeline(cfg)
    store: Store | None = None
    if store_dir is not None:
        from battwatch.parts import open_store

        store = open_store(cfg, store_dir)
    if store is not None and not fresh and logs:
        try:
            _continue_analysis(store, pipeline, logs[0][0])
        except ReplayError:
            store.close()
            raise
    if store is not None:
        # the owner's replacements are facts about the car, kept whatever the analysis state
        # (--fresh too): each one is an event at its own time in the data
        for _, battery, t, note, _, _ in store.replacements():
            pipeline.schedule_replacement(battery, t, note)
    out_sinks: list[Sink] = list(sinks or [])
    if publish:
        from battwatch.sinks import build_sinks

        out_sinks += build_sinks(cfg, store_dir=store_dir or cfg.store.path, role="backfill")
    targets: list[Sink] = ([store] if store is not None else []) + out_sinks
    for sink in out_sinks:
        sink.start()
    router = Router(pipeline, readings=targets, events=([JsonlWriter(jsonl)] if jsonl is not None else []) + targets)

    def publish_summary(t: float) -> None:
        summary = HealthSummary(t, cfg.vehicle.id, pipeline.summary(t))
        for sink in targets:
            sink.summary(summary)

    # the store's retention, in data time, as the daemon applies it
    retention: Retention | None = None
    if store is not None:
        from battwatch.adapters.clock import HostClock
        from battwatch.retention import Retention

        retention = Retention(store, HostClock(cfg.clock.host))

    def route(outs: Sequence[Outbound]) -> None:
        if not outs:
            return
        first = outs[0]
        if retention is not None and type(first) is Reading and retention.due(first.t):
            retention.run(first.t)
        router.route(outs)
        if targets and (len(outs) > 1 or type(first) is not Reading):
            trs = [o for o in outs if isinstance(o, AlertTransition)]
            if trs:
                publish_summary(trs[-1].t)  # the retained state must never lag an alert

    res = ReplayResult()
    try:
        # without a sink (replay --jsonl, or plain) no reading needs routing: only the events
        res = feed_logs(logs, pipeline, warn=warn, route=route if targets or jsonl is not None else None,
                        max_warnings=max_warnings, readings_too=bool(targets))
        if res.last_t is not None:
            # The log's end is the end of the data, unless a store keeps the analysis for the
            # next part of it: then, as when the daemon stops, an open drive stays open in the
            # saved state and the next part continues or closes it (judged once either way).
            final = store is None
            outs = list(pipeline.end_of_data(res.last_t) if final else pipeline.tick(res.last_t))
            res.transitions += [o for o in outs if isinstance(o, AlertTransition)]
            route(outs)
            if retention is not None:
                # at the end too: what the store keeps then does not hang on where the
                # periodic passes fell
                retention.run(res.last_t)
    finally:
        if targets and pipeline.last_t is not None:
            publish_summary(pipeline.last_t)
        if store is not None:
            state = pipeline.export_state()
            if state is not None:
                store.put("analyzer", state)
        for sink in reversed(targets):
            sink.close(close_timeout_s)
    return res


class JsonlWriter:
    """``replay --jsonl``: each alert transition as one JSON line, as soon as it happens."""

    def __init__(self, out: TextIO) -> None:
        import json

        self.out = out
        self._dumps = json.dumps

    def transition(self, tr: AlertTransition) -> None:
        self.out.write(self._dumps(tr.to_json_dict(), ensure_ascii=False) + "\n")
        self.out.flush()


def _continue_analysis(store: Store, pipeline: Pipeline, path: Path) -> None:
    """Load the analysis state ``store`` holds into ``pipeline``, if the log continues it."""
    saved = store.get("analyzer")
    if not pipeline.analysing or not isinstance(saved, dict):
        return
    where = store.directory
    choices = "replay with --fresh to analyse this log afresh (alerts may be raised again), or use another store"
    if saved.get("vehicle") != pipeline.vehicle:
        raise ReplayError(f"the store {where} holds the analysis of vehicle {saved.get('vehicle')!r}, "
                          f"and this log is replayed as {pipeline.vehicle!r}: {choices}")
    last_t = saved.get("last_t")
    first = first_reading(path)
    if isinstance(last_t, float | int) and first is not None and first.t <= last_t:
        raise ReplayError(f"{path} starts at {iso_utc(first.t)}, not after the last reading the store "
                          f"{where} has analysed ({iso_utc(last_t)}): replay only what follows it, "
                          f"or {choices}")
    try:
        pipeline.import_state(saved)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ReplayError(f"the analysis state in the store {where} cannot be used ({e}): {choices}") from None


def stderr_warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)
