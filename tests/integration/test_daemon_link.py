"""The daemon's link handling through a real pty and the real App: bad times, silence, fast mode."""

from __future__ import annotations

import json
import logging
import os
import select
import sqlite3
import threading
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from battwatch import config
from battwatch.app import App
from battwatch.commands import status
from battwatch.core.model import FLAG_FAST, Ack, AlertTransition, Command, Reading
from battwatch.core.protocol import frame_line
from battwatch.emulator.adc_sim import AdcEmulator

pytestmark = pytest.mark.serial


class Seen:
    """What the App's callbacks saw (on the App's thread), with a wait on a condition."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.transitions: list[AlertTransition] = []
        self._cv = threading.Condition()

    def reading(self, r: Reading) -> None:
        with self._cv:
            self.readings.append(r)
            self._cv.notify_all()

    def transition(self, tr: AlertTransition) -> None:
        with self._cv:
            self.transitions.append(tr)
            self._cv.notify_all()

    def wait(self, check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        with self._cv:
            if not self._cv.wait_for(check, timeout):
                raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def running(cfg: config.Config, seen: Seen, stop_when: Callable[[App], bool] | None = None,
            **app_kw: Any) -> Iterator[App]:
    """The App on its own thread (it owns the store's SQLite connection); stopped on exit."""
    holder: list[App] = []
    made = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            app = App(cfg, on_reading=seen.reading, on_transition=seen.transition,
                      use_scheduler=False, sinks=[], stop_when=stop_when, **app_kw)
            holder.append(app)
        except BaseException as e:  # noqa: BLE001 - reported by the test thread
            failed.append(e)
            raise
        finally:
            made.set()
        app.run()

    th = threading.Thread(target=run, name="app", daemon=True)
    th.start()
    assert made.wait(30) and not failed, failed
    try:
        yield holder[0]
    finally:
        holder[0].stop_requested.set()
        th.join(30)
        assert not th.is_alive()


def _cfg(tmp_path: Path, port: Path, **sections: dict[str, Any]) -> config.Config:
    raw: dict[str, Any] = {
        "vehicle": {"id": "link-car"},
        "adc": {"port": str(port), "silent_after_s": 0.5, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
        "store": {"path": str(tmp_path / "store"), "commit_interval_s": 0},
    }
    for name, table in sections.items():
        raw.setdefault(name, {}).update(table)
    return config.from_dict(raw, env={})


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


class RawDevice:
    """A pty with hand-written lines: a board whose firmware does exactly what a test says."""

    def __init__(self, link: Path) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        link.symlink_to(os.ttyname(self.slave))
        self._got = b""

    def wait_command(self, name: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        want = b"$BWC," + name.encode()
        while want not in self._got:
            left = deadline - time.monotonic()
            assert left > 0, f"no {name} command; got {self._got!r}"
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                self._got += os.read(self.master, 4096)

    def send(self, *bodies: str) -> None:
        for body in bodies:
            os.write(self.master, frame_line(body))

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


def _bwd(seq: int, uptime_ms: int) -> str:
    return f"BWD,{seq},{uptime_ms},1000,12640,12631,12652,5210,5208,5213,85,0"


def test_absurd_frames_never_reach_the_store_nor_block_later_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The audit's frame (uptime above 64 bits), then a board clock 20 years ahead, then a
    reboot: every real frame is stored, nothing is deleted, no traceback."""
    caplog.set_level(logging.INFO)
    now_ms = int(time.time() * 1000) - 3_600_000  # an hour ago, so every real reading is in the past
    later_ms = now_ms + 20 * 365 * 86400 * 1000
    dev = RawDevice(tmp_path / "adc")
    seen = Seen()
    cfg = _cfg(tmp_path, tmp_path / "adc", clock={"host": "trusted"}, adc={"silent_after_s": 30})
    try:
        with running(cfg, seen) as app:
            dev.wait_command("HELLO")
            dev.wait_command("TIME")  # a trusted host clock sets the board's clock
            dev.send("BWH,1,fw,raw,16,1,4000", f"BWT,4000,{now_ms}")
            dev.send(*(_bwd(i, 5000 + i * 1000) for i in range(5)))
            dev.send("BWD,5,99999999999999999999999,1000,12640,12631,12652,5210,5208,5213,85,0")
            dev.send(*(_bwd(i, 5000 + i * 1000) for i in range(6, 10)))
            seen.wait(lambda: len(seen.readings) == 9, "the nine good frames")
            dev.send(f"BWT,14500,{later_ms - 500}", _bwd(10, 15000))  # the clock goes wrong once
            seen.wait(lambda: len(seen.readings) == 10, "the reading at the wrong time")
            # the board reboots and knows the time again
            dev.send("BWH,1,fw,raw,16,1,500", f"BWT,500,{now_ms + 60_000}")
            dev.send(*(_bwd(i, 1000 + i * 1000) for i in range(5)))
            seen.wait(lambda: len(seen.readings) == 15, "the frames after the reboot")
            stats = app.decoder.stats
            assert stats.errors["range"] == 1 and stats.reboots == 1
    finally:
        dev.close()
    times = [r.t for r in seen.readings]
    assert times[:9] == [now_ms / 1000 + 1 + i for i in (0, 1, 2, 3, 4, 6, 7, 8, 9)]
    assert times[10:] == [now_ms / 1000 + 60 + 0.5 + i for i in range(5)]
    db = sqlite3.connect(tmp_path / "store" / "battwatch.sqlite3")
    try:
        stored = [t for (t,) in db.execute("SELECT t FROM readings ORDER BY t")]
    finally:
        db.close()
    # retention ran at the wrong time too, but not past the host clock: nothing real deleted
    assert sorted(times) == stored
    assert not [m for m in _messages(caplog) if "Traceback" in m or "error handling" in m]
    assert any("re-anchored" in m for m in _messages(caplog))


def test_an_adapter_missing_from_the_start_is_a_sensor_fault(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Like an unplug during the run: after silent_after_s, a 12 V sensor_fault is raised."""
    caplog.set_level(logging.INFO)
    seen = Seen()
    with running(_cfg(tmp_path, tmp_path / "absent"), seen):
        seen.wait(lambda: any(t.alert == "sensor_fault" for t in seen.transitions), "a sensor fault")
    fault = next(t for t in seen.transitions if t.alert == "sensor_fault")
    assert fault.state == "raised" and fault.battery == "main"
    assert "no ADC adapter" in fault.message
    assert any("ADC silent for" in m and "since the daemon started" in m for m in _messages(caplog))


def test_frames_held_for_the_clock_are_not_reported_as_silence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No NTP and a board without a clock: frames arrive and are held; the log says so, and
    the silence watchdog stays quiet (it used to report "no valid frame")."""
    caplog.set_level(logging.INFO)
    t0 = time.time() - 86400
    rows = [Reading(t0 + i, 12.6, 12.59, 12.61, 5.2, 5.2, 5.2, 9.0, 1.0) for i in range(10_000)]
    emu = AdcEmulator(rows, speed=10, link=tmp_path / "adc", wait_hello=True, clock=False)
    seen = Seen()
    cfg = _cfg(tmp_path, tmp_path / "adc", clock={"host": "untrusted", "hold_max_s": 3600})
    # 20 frames at 10 a second: four times silent_after_s
    with running(cfg, seen, stop_when=lambda a: a.decoder.holding >= 20):
        emu.start()
        deadline = time.monotonic() + 20
        while emu.frames_written < 20:
            assert time.monotonic() < deadline, "the emulator did not send"
            emu.done.wait(0.05)
    emu.close()
    messages = _messages(caplog)
    # every reading was held until the stop, which let them out by estimate
    assert any(f"{len(seen.readings)} held readings stamped by estimate" in m for m in messages)
    assert any("holding readings until" in m for m in messages)
    assert any(m.startswith("ADC data flowing (frames held") for m in messages)
    assert not [m for m in messages if "ADC silent" in m]


def _car_day(t0: float) -> list[Reading]:
    """Ten rows a second: 60 s parked and quiet, then the engine runs for 60 s."""
    out = []
    for i in range(1200):
        t = t0 + (i + 1) * 0.1
        v = 12.60 if i < 600 else 14.2
        out.append(Reading(t, v, v - 0.002, v + 0.002, 5.2, 5.2, 5.2, 9.0, 0.1))
    return out


def test_the_daemon_asks_for_fast_mode_when_the_car_wakes_and_gets_fast_frames(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Asleep: RATE drops and the emulator merges rows; the engine starts: FAST, and the
    emulator sends every row, flagged fast, for fast_seconds; then the base rate again."""
    caplog.set_level(logging.DEBUG)
    t0 = 1_736_121_600.0
    rows = _car_day(t0)
    wake = t0 + 60.0
    emu = AdcEmulator(rows, speed=20, link=tmp_path / "adc", wait_hello=True)
    seen = Seen()
    cfg = _cfg(
        tmp_path, tmp_path / "adc",
        adc={"frame_rate_hz": 1.0, "sleep_rate_hz": 0.2, "fast_rate_hz": 100.0, "fast_seconds": 10},
        analysis={"state": {"asleep_after_s": 20.0}},
    )
    with running(cfg, seen, stop_when=lambda a: emu.done.is_set() and a.decoder.stats.lines >= emu.lines_written) as app:
        emu.start()
        assert emu.done.wait(60)
        seen.wait(lambda: app.decoder.stats.lines >= emu.lines_written, "every line read")
    emu.close()
    asked = emu.received
    assert Command("RATE", ("0.2",)) in asked
    fast_at = asked.index(Command("FAST", ("10", "100")))
    assert asked.count(Command("FAST", ("10", "100"))) == 1
    assert Command("RATE", ("1",)) in asked[fast_at - 1 : fast_at]  # the base rate comes back first
    assert Ack("FAST", True, "10") in emu.answers  # the data has ten rows a second, no more
    assert any(r.getMessage() == "ADC accepted FAST: 10" and r.levelno == logging.DEBUG for r in caplog.records)
    hello = app.decoder.stats.hello
    assert hello is not None and hello.rate_hz == 1.0  # one-second windows outside fast mode
    parked = [r for r in seen.readings if r.t <= wake]
    fast = [r for r in seen.readings if r.flags & FLAG_FAST]
    assert any(r.window_s == 5.0 for r in parked), "asleep: rows merged into 5 s frames"
    assert all(r.window_s in (1.0, 5.0) for r in parked[:-1])
    assert 80 <= len(fast) <= 100 and all(r.window_s == pytest.approx(0.1) for r in fast)
    assert fast[0].t >= wake and fast[-1].t <= fast[0].t + 10.0
    assert all(r.main_v == 14.2 for r in fast)
    after = [r for r in seen.readings if r.t > fast[-1].t]
    assert after and all(r.window_s == 1.0 and not r.flags & FLAG_FAST for r in after[:-1])


def _store_rows(store: Path) -> tuple[list[float], dict[str, Any]]:
    """The stored reading times and the last summary snapshot."""
    db = sqlite3.connect(store / "battwatch.sqlite3")
    try:
        times = [t for (t,) in db.execute("SELECT t FROM readings ORDER BY t")]
        (summary,) = db.execute("SELECT value FROM kv WHERE key = 'summary'").fetchone()
    finally:
        db.close()
    return times, json.loads(summary)


def test_readings_held_for_the_clock_are_stored_by_estimate_at_a_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No NTP, a board without a clock, and a stop before hold_max_s: the held readings are
    stamped on the host clock (as when hold_max_s runs out), analysed, stored and logged to
    the daily CSV, and the log says how many; the last snapshot holds none back."""
    caplog.set_level(logging.INFO)
    rows = [Reading(1_736_121_600.0 + i, 12.6, 12.6, 12.6, 5.3, 5.3, 5.3, 9.0, 1.0) for i in range(300)]
    emu = AdcEmulator(rows, speed=10, link=tmp_path / "adc", wait_hello=True, clock=False)
    seen = Seen()
    cfg = _cfg(tmp_path, tmp_path / "adc", clock={"host": "untrusted", "hold_max_s": 3600},
               store={"commit_interval_s": 3600, "commit_rows": 100_000}, adc={"silent_after_s": 30})
    started = time.time()
    with running(cfg, seen, stop_when=lambda a: a.decoder.holding >= 20) as app:
        emu.start()
        # the stop (at 20 held) releases them: nothing reaches the callbacks before it
        seen.wait(lambda: len(seen.readings) >= 20, "the held readings, released at the stop")
    emu.close()
    assert app.decoder.holding == 0
    said = [m for m in _messages(caplog) if "stamped by estimate" in m]
    assert len(said) == 1, said
    n = len(seen.readings)
    assert f"{n} held readings stamped by estimate" in said[0] and "could not be placed" not in said[0]
    times = [r.t for r in seen.readings]
    # on the host clock at the hello, a second apart as the board's uptime says (the emulator
    # sends ten of its one-second frames a second)
    assert started - 5 < times[0] < started + 5
    assert [round(b - a, 3) for a, b in zip(times, times[1:], strict=False)] == [1.0] * (n - 1)
    stored, summary = _store_rows(tmp_path / "store")
    assert stored == times
    logs = list((tmp_path / "store" / "logs").glob("link-car-*.csv"))
    logged = [line for p in logs for line in p.read_text().splitlines()[1:]]
    assert len(logged) == n and all(",12.600,12.600,12.600,5.300," in line for line in logged)
    assert summary["link"]["held_for_clock"] == 0


def test_the_last_snapshot_after_a_stop_says_link_down_and_nothing_awaiting_commit(
    tmp_path: Path,
) -> None:
    """`battwatch status` after a clean stop: the final flush came before the last snapshot."""
    rows = [Reading(1_736_121_600.0 + i, 12.6, 12.6, 12.6, 5.3, 5.3, 5.3, 9.0, 1.0) for i in range(300)]
    emu = AdcEmulator(rows, speed=20, link=tmp_path / "adc", wait_hello=True)
    seen = Seen()
    # batches far larger than the run: only the stop commits the readings
    cfg = _cfg(tmp_path, tmp_path / "adc", clock={"host": "trusted"}, adc={"silent_after_s": 30},
               store={"commit_interval_s": 3600, "commit_rows": 100_000})
    with running(cfg, seen, stop_when=lambda a: len(seen.readings) >= 20):
        emu.start()
        seen.wait(lambda: len(seen.readings) >= 20, "20 readings")
    emu.close()
    stored, summary = _store_rows(tmp_path / "store")
    assert stored == [r.t for r in seen.readings]
    assert summary["link"]["connected"] is False
    assert summary["sinks"]["store"]["pending"] == 0
    assert summary["sinks"]["store"]["readings_written"] == len(stored)
    shown = status.render(status.collect(cfg, systemd=lambda: None))
    assert "Serial link   DOWN" in shown
    assert "awaiting commit" not in shown
    assert f"{len(stored):,} readings written since start" in shown


def test_at_info_the_log_has_health_lines_not_every_wake_and_sleep(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A car that sleeps and wakes: the rate changes are debug detail; what an owner reading
    the journal gets is a health line every health_log_s of data (6 h in the daemon)."""
    caplog.set_level(logging.INFO)
    t0 = 1_736_121_600.0
    rows = _car_day(t0)
    emu = AdcEmulator(rows, speed=20, link=tmp_path / "adc", wait_hello=True)
    seen = Seen()
    cfg = _cfg(tmp_path, tmp_path / "adc", adc={"frame_rate_hz": 1.0, "sleep_rate_hz": 0.2, "fast_seconds": 10},
               analysis={"state": {"asleep_after_s": 20.0}})
    with running(cfg, seen, stop_when=lambda a: emu.done.is_set() and a.decoder.stats.lines >= emu.lines_written,
                 health_log_s=40.0) as app:
        emu.start()
        assert emu.done.wait(60)
        seen.wait(lambda: app.decoder.stats.lines >= emu.lines_written, "every line read")
    emu.close()
    assert Command("RATE", ("0.2",)) in emu.received and Command("FAST", ("10", "100")) in emu.received
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("battwatch")]
    assert not any(m.startswith(("car awake", "car asleep", "ADC accepted")) for m in info), info
    health = [m for m in info if m.startswith("health: ")]
    assert 2 <= len(health) <= 3, info  # 120 s of data, one line per 40 s after the first reading
    assert health[-1].startswith("health: 12 V ") and "; alerts: " in health[-1] and " frames, 0 lost" in health[-1]


def test_a_daemon_restarted_against_the_emulator_finds_its_data_where_it_left_it(tmp_path: Path) -> None:
    """The daemon stops and starts again (an upgrade): the emulator's data waits meanwhile, so
    the second run continues the first without a hole and no silent-sensor fault is raised."""
    t0 = 1_736_121_600.0
    rows = [Reading(t0 + (i + 1) * 60.0, 12.60 - 0.00001 * i, 12.59, 12.61, 5.2, 5.2, 5.2, 9.0, 60.0)
            for i in range(20_000)]  # a parked car, minute windows
    emu = AdcEmulator(rows, speed=3600.0, link=tmp_path / "adc", wait_hello=True)
    cfg = _cfg(tmp_path, tmp_path / "adc", adc={"silent_after_s": 30.0})
    first, second = Seen(), Seen()
    try:
        with running(cfg, first) as app:
            emu.start()
            first.wait(lambda: len(first.readings) >= 300, "readings before the restart", timeout=60)
        assert emu.waiting_for_reader.wait(30), "the emulator sent on with nobody reading"
        with running(cfg, second) as app:
            second.wait(lambda: len(second.readings) >= 300, "readings after the restart", timeout=60)
            assert app.decoder.stats.frames >= 300
    finally:
        emu.close()
    gap = second.readings[0].t - first.readings[-1].t
    assert 0 < gap <= 20 * 60.0, gap / 60  # a few minutes of frames lost at the close, not hours
    faults = [tr for tr in first.transitions + second.transitions if tr.alert == "sensor_fault"]
    assert faults == [], [(tr.state, tr.message) for tr in faults]
