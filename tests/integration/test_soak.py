"""Long-run budget: 30 simulated days through the live path with no growth in memory or files."""

from __future__ import annotations

import gc
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from battwatch import config, scenarios
from battwatch.app import App
from battwatch.core.model import Reading
from battwatch.emulator.adc_sim import AdcEmulator

pytestmark = [pytest.mark.serial, pytest.mark.slow]

DAY = 86400.0
START = datetime(2025, 1, 6, tzinfo=UTC).timestamp()


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_thirty_days_through_the_pty_keep_memory_and_files_bounded(tmp_path: Path) -> None:
    """Objects and RSS stop growing after the first days; store, WAL and logs stay bounded."""
    readings = [r for r in scenarios.generate("long-healthy-year", seed=7, start=START) if r.t < START + 30 * DAY]
    link, store = tmp_path / "adc", tmp_path / "store"
    cfg = config.from_dict(
        {
            "vehicle": {"id": "soak"},
            "adc": {"port": str(link), "silent_after_s": 30},
            "store": {"path": str(store), "retention_days": 7, "csv_retention_days": 7,
                      "commit_rows": 200, "commit_interval_s": 1},
        }
    )
    emu = AdcEmulator(readings, speed=0, link=link, wait_hello=True)
    marks: dict[int, tuple[int, int]] = {}
    done = threading.Event()
    n = {"seen": 0}

    def on_reading(r: Reading) -> None:
        n["seen"] += 1
        day = int((r.t - START) // DAY)
        if day in (10, 29) and day not in marks:
            gc.collect()
            marks[day] = (len(gc.get_objects()), _rss_kb())
        if n["seen"] == len(readings):
            done.set()

    holder: list[App] = []
    made = threading.Event()

    def run() -> None:
        # the App is built on the thread that runs it: it owns the SQLite connection
        app = App(cfg, on_reading=on_reading, use_scheduler=False, stop_when=lambda a: done.is_set())
        holder.append(app)
        made.set()
        app.run()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    assert made.wait(30)
    emu.start()
    try:
        assert done.wait(240), f"only {n['seen']} of {len(readings)} readings arrived"
        th.join(60)
    finally:
        holder[0].stop_requested.set()
        emu.close()
        th.join(30)
    app = holder[0]
    assert not th.is_alive()
    assert app.decoder.stats.frames == len(readings) and app.decoder.stats.lost_frames == 0
    (objs10, rss10), (objs29, rss29) = marks[10], marks[29]
    # no memory growth between day 10 and day 29 (analysis state, queues, caches are bounded)
    assert objs29 - objs10 < 0.02 * objs10 + 2000, (objs10, objs29)
    assert rss29 - rss10 < 8 * 1024, (rss10, rss29)
    # files: one CSV log per kept day, a WAL that checkpoints, readings within retention
    logs = sorted(p.name for p in (store / "logs").glob("*.csv"))
    assert 7 <= len(logs) <= 9, logs
    wal = store / "battwatch.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size < 8 * 1024 * 1024
    db = sqlite3.connect(store / "battwatch.sqlite3")
    oldest, newest, count = db.execute("SELECT min(t), max(t), count(*) FROM readings").fetchone()
    db.close()
    assert newest == readings[-1].t
    assert newest - oldest <= 7 * DAY + 6 * 3600  # retention, applied every 6 h of data time
    assert count < len(readings) / 3
