"""CSV replay: the daemon's pipeline on a virtual clock taken from the log (no sleeping)."""

from __future__ import annotations

import codecs
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TextIO

from battwatch.config import Config
from battwatch.core.csvlog import ReplayResult, feed_log
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.pipeline import Pipeline
from battwatch.sinks import Sink

__all__ = ["ReplayResult", "open_log", "replay_file", "replay_rows", "stderr_warn"]


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
    return feed_log(fh, pipeline, name, warn, on_transition, on_reading)


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
