"""CSV replay: the daemon's pipeline on a virtual clock taken from the log (no sleeping)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

from battwatch.config import Config
from battwatch.core.csvlog import CsvFormatError, ReplayResult, RowError, RowParser, feed_log
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.pipeline import Pipeline
from battwatch.core.timefmt import iso_utc
from battwatch.sinks import Sink

if TYPE_CHECKING:
    from battwatch.adapters.store import Store

__all__ = ["ReplayError", "ReplayResult", "first_reading", "open_log", "replay_file", "log_source", "replay_rows", "spool_stdin",
           "stderr_warn"]


class ReplayError(Exception):
    """The replay cannot go ahead as asked (a store whose analysis the log does not continue)."""


GZIP_MAGIC = b"\x1f\x8b"


def open_log(path: Path) -> TextIO:
    """Open a CSV log as text: gzip-compressed or not (told by its first bytes, whatever its
    name), honouring a UTF-8 or UTF-16 byte-order mark."""
    raw: IO[bytes] = path.open("rb")
    if raw.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]  # a buffered reader
        import gzip  # only a compressed log pays for it

        raw = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    head = raw.peek(4)[:4]  # type: ignore[attr-defined]  # both readers can peek
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    return io.TextIOWrapper(raw, encoding=encoding, newline="", errors="replace")


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
    on_transition: Callable[[AlertTransition], None] | None = None,
    on_reading: Callable[[Reading], None] | None = None,
    max_warnings: int = -1,
) -> ReplayResult:
    """Push every row through ``pipeline``; bad rows are skipped, counted and reported
    (each one, or the first ``max_warnings`` when that is 0 or more)."""
    return feed_log(fh, pipeline, name, warn, on_transition, on_reading, max_warnings)


def replay_file(
    path: Path,
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
    it: the path unless given).

    With ``store_dir``, readings and alerts also go to that store, and the analysis goes on
    from the state the store holds, as the daemon does after a restart: a log replayed in
    parts gives the alerts the whole log would. ``fresh`` ignores that state. A log that
    starts before the last reading of that state raises ReplayError (before anything is
    written). ``publish`` sends readings, transitions and summaries through the sinks the
    configuration turns on (MQTT, InfluxDB), exactly as the daemon would: a backfill.
    Their outbox lives in ``store_dir`` (default: the configured store path).
    """
    from battwatch.adapters.clock import HostClock
    from battwatch.app import Retention, build_pipeline, open_store
    from battwatch.sinks import build_sinks

    pipeline = build_pipeline(cfg)
    store = open_store(cfg, store_dir) if store_dir is not None else None
    if store is not None and not fresh:
        try:
            _continue_analysis(store, pipeline, path)
        except ReplayError:
            store.close()
            raise
    out_sinks: list[Sink] = list(sinks or [])
    if publish:
        out_sinks += build_sinks(cfg, store_dir=store_dir or cfg.store.path, role="backfill")
    targets: list[Sink] = ([store] if store is not None else []) + out_sinks
    for sink in out_sinks:
        sink.start()

    def publish_summary(t: float) -> None:
        summary = HealthSummary(t, cfg.vehicle.id, pipeline.summary(t))
        for sink in targets:
            sink.summary(summary)

    def emit(tr: AlertTransition) -> None:
        if jsonl is not None:
            jsonl.write(json.dumps(tr.to_json_dict(), ensure_ascii=False) + "\n")
            jsonl.flush()
        for sink in targets:
            sink.transition(tr)
        if targets:
            publish_summary(tr.t)

    # the store's retention, in data time, as the daemon applies it
    retention = Retention(store, HostClock(cfg.clock.host)) if store is not None else None
    on_reading = None
    if targets:
        analyzer = pipeline.analyzer

        def on_reading(r: Reading) -> None:
            if retention is not None and retention.due(r.t):
                retention.run(r.t)
            state = analyzer.state_of(r) if analyzer is not None else ""
            for sink in targets:
                sink.reading(r, state)

    res = ReplayResult()
    try:
        with open_log(path) as fh:
            res = replay_rows(
                fh, pipeline, name=str(path) if name is None else name, warn=warn, on_transition=emit, on_reading=on_reading,
                max_warnings=max_warnings,
            )
        if res.last_t is not None:
            for out in pipeline.tick(res.last_t):
                if isinstance(out, AlertTransition):
                    res.transitions.append(out)
                    emit(out)
            if retention is not None:
                # at the end too: what the store keeps then does not hang on where the
                # periodic passes fell
                retention.run(res.last_t)
    finally:
        if targets and pipeline.last_t is not None:
            publish_summary(pipeline.last_t)
        if store is not None:
            analyzer = pipeline.analyzer
            if analyzer is not None:
                store.put("analyzer", analyzer.export_state())
        for sink in reversed(targets):
            sink.close(close_timeout_s)
    return res


def _continue_analysis(store: Store, pipeline: Pipeline, path: Path) -> None:
    """Load the analysis state ``store`` holds into ``pipeline``, if the log continues it."""
    analyzer = pipeline.analyzer
    saved = store.get("analyzer")
    if analyzer is None or not isinstance(saved, dict):
        return
    where = store.directory
    choices = "replay with --fresh to analyse this log afresh (alerts may be raised again), or use another store"
    if saved.get("vehicle") != analyzer.vehicle:
        raise ReplayError(f"the store {where} holds the analysis of vehicle {saved.get('vehicle')!r}, "
                          f"and this log is replayed as {analyzer.vehicle!r}: {choices}")
    last_t = saved.get("last_t")
    first = first_reading(path)
    if isinstance(last_t, float | int) and first is not None and first.t <= last_t:
        raise ReplayError(f"{path} starts at {iso_utc(first.t)}, not after the last reading the store "
                          f"{where} has analysed ({iso_utc(last_t)}): replay only what follows it, "
                          f"or {choices}")
    try:
        analyzer.import_state(saved)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ReplayError(f"the analysis state in the store {where} cannot be used ({e}): {choices}") from None


def stderr_warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)
