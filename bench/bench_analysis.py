"""Cost of the health analysis per reading (collected by bench/run.py into RESULTS.md)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime

YEAR_ROWS = 365 * 24 * 12


def _best(n: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _year_text() -> str:
    """A year of 5-minute rows from the simulator (the backbone's replay-speed file)."""
    from battwatch import scenarios
    from battwatch.core.csvlog import write_csv

    start = datetime(2025, 1, 6, tzinfo=UTC).timestamp()
    by_slot: dict[int, object] = {}
    for r in scenarios.generate("long-healthy-year", seed=1, start=start):
        by_slot.setdefault(int((r.t - start) // 300), r)
    chosen = [by_slot[k] for k in sorted(by_slot)][:YEAR_ROWS]
    rows = [r._replace(t=start + i * 300.0, window_s=0.0) for i, r in enumerate(chosen)]  # type: ignore[attr-defined]
    while len(rows) < YEAR_ROWS:
        rows.append(rows[-1]._replace(t=rows[-1].t + 300.0))
    buf = io.StringIO()
    write_csv(buf, rows, "bench-car")
    return buf.getvalue()


def run() -> str:
    from battwatch import config, scenarios
    from battwatch.core.analysis import build_analyzer
    from battwatch.core.model import Reading
    from battwatch.core.pipeline import Pipeline
    from battwatch.replay import replay_rows

    cfg = config.defaults("bench-car")

    # 1. the common path: a parked car at rest, 1-s windows from live hardware (a day of them)
    t0 = 1_736_121_600.0
    parked = [
        Reading(t0 + i, 12.65 + (i % 7) * 0.0003, 12.648, 12.653, 5.30, 5.299, 5.301, 10.0, 1.0, "bench-car")
        for i in range(86_400)
    ]

    def feed_parked() -> None:
        an = build_analyzer(cfg)
        for r in parked:
            an.feed(r)

    t_parked = _best(5, feed_parked) / len(parked)

    # 2. a realistic mix: a simulated year of windows (600 s parked, 60 s awake and driving)
    year = list(scenarios.generate("long-healthy-year"))
    ycfg = config.from_dict(scenarios.scenario_config("long-healthy-year"))

    def feed_year() -> None:
        an = build_analyzer(ycfg)
        for r in year:
            an.feed(r)

    t_year = _best(3, feed_year) / len(year)

    # 3. the backbone's replay goal: a year of 5-minute rows, with and without the analysis
    text = _year_text()

    def parse_only() -> None:
        for _ in csv.reader(io.StringIO(text)):
            pass

    def replay_without() -> None:
        replay_rows(io.StringIO(text), Pipeline("bench-car", None))

    def replay_with() -> None:
        replay_rows(io.StringIO(text), Pipeline("bench-car", build_analyzer(cfg)))

    t_csv = _best(5, parse_only)
    t_without = _best(5, replay_without)
    t_with = _best(5, replay_with)
    added = (t_with - t_without) / YEAR_ROWS
    return "\n".join([
        "## Health analysis cost per reading",
        "",
        "`BatteryAnalyzer.feed` timed with `time.perf_counter`, best of several runs, in one process",
        "(no store, no sinks). Trend fits run once a week of data, medians once a day.",
        "",
        "| workload | readings | cost per reading |",
        "|---|---|---|",
        f"| parked car at rest, 1-s windows (the common path) | {len(parked):,} | {t_parked * 1e6:.2f} µs |",
        f"| `long-healthy-year` scenario (600 s parked, 60 s driving windows) | {len(year):,} | {t_year * 1e6:.2f} µs |",
        f"| analysis added to replay of a year of 5-minute rows | {YEAR_ROWS:,} | {added * 1e6:.2f} µs |",
        "",
        "| replay of a year of 5-minute rows | time | ratio to `csv.reader` |",
        "|---|---|---|",
        f"| `csv.reader` only | {t_csv * 1000:.0f} ms | 1.0x |",
        f"| replay pipeline without analysis | {t_without * 1000:.0f} ms | {t_without / t_csv:.1f}x |",
        f"| replay pipeline with analysis | {t_with * 1000:.0f} ms | {t_with / t_csv:.1f}x |",
        "",
    ])


if __name__ == "__main__":
    print(run())
