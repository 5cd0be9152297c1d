"""The daemon's housekeeping on its main loop's own clock (no scheduler thread or library)."""

from __future__ import annotations

import time
from pathlib import Path

from battwatch import config
from battwatch.app import App
from battwatch.core.model import Tick
from battwatch.timers import REPLACED_POLL_S, TICK_S, PollReplaced


def _app(tmp_path: Path, **kw: object) -> App:
    cfg = config.defaults("car-t", store={"path": str(tmp_path / "store")}, adc={"port": str(tmp_path / "no-adc")})
    return App(cfg, sinks=[], **kw)  # type: ignore[arg-type]


def test_tick_and_replacement_look_come_when_due_and_once(tmp_path: Path) -> None:
    app = _app(tmp_path)
    try:
        assert app.timers.due() is None  # before run(): nothing is due
        now = time.monotonic()
        app.timers.next_tick, app.timers.next_poll = now - 1.0, now - 1.0
        first = app.timers.due()
        assert isinstance(first, Tick) and abs(first.t - time.time()) < 60
        assert app.timers.next_tick >= now + TICK_S
        assert isinstance(app.timers.due(), PollReplaced)  # both were due: the look follows the tick
        assert app.timers.next_poll >= now + REPLACED_POLL_S
        assert app.timers.due() is None  # each came once, however late the loop was
    finally:
        app.store.close()


def test_no_housekeeping_without_the_scheduler(tmp_path: Path) -> None:
    app = _app(tmp_path, use_scheduler=False)
    try:
        app.timers.next_tick = app.timers.next_poll = time.monotonic() - 1.0
        assert app.timers.due() is None
    finally:
        app.store.close()


def test_the_daemon_runs_without_a_scheduler_library(tmp_path: Path) -> None:
    import sys

    app = _app(tmp_path, stop_when=lambda a: True)
    assert app.run() == 0
    assert "apscheduler" not in sys.modules  # it cost 16 MB for two interval timers
