"""CSV replay: the daemon's pipeline on a virtual clock taken from the log (no sleeping)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

from battwatch.config import Config
from battwatch.core.csvlog import CsvFormatError, RowError, RowParser
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.pipeline import Pipeline
from battwatch.sinks import Sink

MAX_WARNINGS = 50  # per file; the count in the summary still includes every skipped row


@dataclass(slots=True)
class ReplayResult:
    rows: int = 0
    readings: int = 0
    skipped: int = 0
    transitions: list[AlertTransition] = field(default_factory=list)
    first_t: float | None = None
    last_t: float | None = None
    unknown_columns: list[str] = field(default_factory=list)


def open_log(path: Path) -> TextIO:
    """Open a CSV log as text, honouring a UTF-8 or UTF-16 byte-order mark."""
    raw: IO[bytes] = path.open("rb")
    head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    return io.TextIOWrapper(raw, encoding=encoding, newline="", errors="replace")


def replay_rows(
    fh: TextIO,
    pipeline: Pipeline,
    *,
    name: str = "<csv>",
    warn: Callable[[str], None] | None = None,
    on_transition: Callable[[AlertTransition], None] | None = None,
    on_reading: Callable[[Reading], None] | None = None,
) -> ReplayResult:
    """Push every row through ``pipeline``; bad rows are skipped, counted and reported."""
    res = ReplayResult()
    reader = csv.reader(fh)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFormatError(f"{name}: empty file") from None
    try:
        parser = RowParser(header, default_vehicle=pipeline.vehicle)
    except CsvFormatError as e:
        raise CsvFormatError(f"{name}:1: {e}") from None
    res.unknown_columns = parser.unknown_columns
    parse = parser.parse
    feed = pipeline.reading
    transitions = res.transitions
    rows = skipped = 0
    r = None
    # the hot loop of replay: locals only, one call into the pipeline per row
    for row in reader:
        if not row:
            continue
        rows += 1
        try:
            r = parse(row)
        except RowError as e:
            skipped += 1
            if warn is not None and skipped <= MAX_WARNINGS:
                warn(f"{name}:{reader.line_num}: row skipped: {e}")
            continue
        if res.first_t is None:
            res.first_t = r.t
        outs = feed(r)
        if on_reading is not None:
            on_reading(r)
        if len(outs) > 1:
            for out in outs[1:]:
                if isinstance(out, AlertTransition):
                    transitions.append(out)
                    if on_transition is not None:
                        on_transition(out)
    res.rows, res.skipped = rows, skipped
    res.last_t = pipeline.last_t
    res.readings = res.rows - res.skipped
    if warn is not None and res.skipped > MAX_WARNINGS:
        warn(f"{name}: {res.skipped - MAX_WARNINGS} more skipped rows not shown")
    return res


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
) -> ReplayResult:
    """Replay one log through a fresh pipeline built from ``cfg``.

    ``publish`` sends readings, transitions and summaries through the sinks the
    configuration turns on (MQTT, InfluxDB), exactly as the daemon would: a backfill.
    Their outbox lives in ``store_dir`` (default: the configured store path).
    """
    from battwatch.app import build_pipeline, open_store
    from battwatch.sinks import build_sinks

    pipeline = build_pipeline(cfg)
    store = open_store(cfg, store_dir) if store_dir is not None else None
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

    on_reading = None
    if targets:
        analyzer = pipeline.analyzer

        def on_reading(r: Reading) -> None:
            state = analyzer.state_of(r) if analyzer is not None else ""
            for sink in targets:
                sink.reading(r, state)

    res = ReplayResult()
    try:
        with open_log(path) as fh:
            res = replay_rows(
                fh, pipeline, name=str(path), warn=warn, on_transition=emit, on_reading=on_reading
            )
        if res.last_t is not None:
            for out in pipeline.tick(res.last_t):
                if isinstance(out, AlertTransition):
                    res.transitions.append(out)
                    emit(out)
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


def stderr_warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)
