"""Shared by the benchmarks: best-of timing and the year of 5-minute rows."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime

YEAR_ROWS = 365 * 24 * 12  # a year of 5-minute rows


def best_of(n: int, fn: Callable[[], object]) -> float:
    """The fastest of ``n`` runs, in seconds (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def year_text() -> str:
    """A year of 5-minute rows from the simulator's `long-healthy-year` (both batteries)."""
    from battwatch import scenarios
    from battwatch.core.csvlog import write_csv

    start = datetime(2025, 1, 6, tzinfo=UTC).timestamp()
    by_slot: dict[int, object] = {}
    for r in scenarios.generate("long-healthy-year", seed=1, start=start):
        by_slot.setdefault(int((r.t - start) // 300), r)
    chosen = [by_slot[k] for k in sorted(by_slot)][:YEAR_ROWS]
    rows = [r._replace(t=start + i * 300.0, window_s=0.0) for i, r in enumerate(chosen)]  # type: ignore[attr-defined]
    while len(rows) < YEAR_ROWS:  # fill any slots the simulator left empty (gaps)
        rows.append(rows[-1]._replace(t=rows[-1].t + 300.0))
    buf = io.StringIO()
    write_csv(buf, rows, "bench-car")
    return buf.getvalue()
