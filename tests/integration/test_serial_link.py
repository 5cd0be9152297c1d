"""The serial path through a real pseudo-terminal: emulator, reader, resync, unplug and replug."""

from __future__ import annotations

import queue
import signal
import sqlite3
from pathlib import Path

import pytest

from battwatch.adapters.serial_source import RawLine, SerialSource
from battwatch.core.calibration import Calibration, FrameCalibrator
from battwatch.core.decoder import DeviceDecoder
from battwatch.core.model import Command, LinkDown, LinkUp, Reading
from battwatch.emulator.adc_sim import AdcEmulator
from helpers import Proc, battwatch

pytestmark = pytest.mark.serial

T0 = 1735689600.0


def _readings(n: int, start: float = T0, step: float = 60.0) -> list[Reading]:
    return [
        Reading(start + i * step, 12.6 - i * 1e-4, 12.5, 12.7, 5.2, 5.19, 5.21, 8.5, step)
        for i in range(n)
    ]


def _next(inbox: queue.Queue[object], kind: type, timeout: float = 10.0) -> object:
    """The next event of ``kind`` (others are collected), or fail after ``timeout``."""
    while True:
        ev = inbox.get(timeout=timeout)
        if isinstance(ev, kind):
            return ev


def _write_log(path: Path, n: int) -> None:
    lines = ["time,main_v,main_v_min,main_v_max,sos_v,temp_c"]
    lines += [f"{T0 + i * 60:.0f},{12.6 - i * 1e-4:.4f},12.5,12.7,5.2,8.5" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")


def _config(path: Path, port: Path, store: Path) -> Path:
    path.write_text(
        f'[vehicle]\nid = "pty-car"\n[adc]\nport = "{port}"\nsilent_after_s = 1.5\n'
        f'reconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
        f'[store]\npath = "{store}"\ncommit_interval_s = 0.5\n'
    )
    return path


def _stored(store: Path) -> list[tuple[float, float]]:
    db = sqlite3.connect(store / "battwatch.sqlite3")
    try:
        return db.execute("SELECT t, main_v FROM readings ORDER BY t").fetchall()
    finally:
        db.close()


def test_frames_cross_a_real_pty_and_decode_exactly(tmp_path: Path) -> None:
    """Every frame the emulator writes arrives through pyserial and decodes to its reading."""
    emu = AdcEmulator(_readings(50), speed=0, link=tmp_path / "adc", wait_hello=True)
    inbox: queue.Queue[object] = queue.Queue()
    src = SerialSource(emu.port, 115200, inbox, reconnect_min_s=0.05, reconnect_max_s=0.2)
    src.start()
    try:
        _next(inbox, LinkUp)
        assert src.send(Command("HELLO"))
        emu.start()
        dec = DeviceDecoder(FrameCalibrator(Calibration(), Calibration(), 0.0, "car"))
        got: list[Reading] = []
        while len(got) < 50:
            ev = _next(inbox, RawLine)
            r = dec.feed(ev.line, ev.t)  # type: ignore[attr-defined]
            if r is not None:
                got.append(r)
        assert [r.t for r in got] == [r.t for r in _readings(50)]  # device clock (BWT) honoured
        assert got[7].main_v == pytest.approx(12.6 - 7e-4, abs=6e-4)  # 1 mV on the wire
        assert got[0].window_s == 60.0 and got[0].temp_c == 8.5
        assert dec.stats.lost_frames == 0 and not dec.stats.errors
        assert "HELLO" in emu.commands
    finally:
        src.stop()
        emu.close()


def test_unplug_and_replug_reconnects_with_backoff(tmp_path: Path) -> None:
    """Pulling the adapter gives LinkDown; plugging it back gives LinkUp and frames again."""
    emu = AdcEmulator(_readings(100_000, step=1.0), speed=200, link=tmp_path / "adc", wait_hello=True)
    inbox: queue.Queue[object] = queue.Queue()
    src = SerialSource(emu.port, 115200, inbox, reconnect_min_s=0.05, reconnect_max_s=0.2)
    src.start()
    try:
        _next(inbox, LinkUp)
        src.send(Command("HELLO"))
        emu.start()
        _next(inbox, RawLine)
        emu.unplug()
        _next(inbox, LinkDown)
        assert not (tmp_path / "adc").exists()
        emu.replug()
        up = _next(inbox, LinkUp)
        assert up.port == str(tmp_path / "adc")
        assert src.connects == 2 and src.disconnects == 1
        _next(inbox, RawLine)  # data flows again
    finally:
        src.stop()
        emu.close()


def test_daemon_stores_every_frame_and_counts_damaged_lines(tmp_path: Path) -> None:
    """adc-sim with line noise into `battwatch run`: good frames stored, bad ones counted, no crash."""
    log = tmp_path / "log.csv"
    _write_log(log, 400)
    link, store = tmp_path / "adc", tmp_path / "store"
    sim = Proc(battwatch("adc-sim", "--csv", str(log), "--speed", "0", "--link", str(link),
                         "--noise", "0.1", "--seed", "3", "--wait-hello"))
    sim.wait_for("serving on")
    daemon = Proc(battwatch("run", "-c", str(_config(tmp_path / "c.toml", link, store))))
    try:
        daemon.wait_for(r"ADC silent for")  # the data ended: everything sent has been read
        assert daemon.stop() == 0
    finally:
        daemon.kill()
    sim.signal(signal.SIGTERM)
    sim.stop()
    damaged = int(sim.wait_for(r"(\d+) damaged on purpose").group(1))
    assert damaged > 10
    rows = _stored(store)
    assert len(rows) == 400 - damaged  # every undamaged frame, once
    assert "Traceback" not in daemon.output
    assert "skipped" in daemon.output  # bad lines are reported where they are
    status = Proc(battwatch("status", "-c", str(tmp_path / "c.toml"), "--json"))
    assert status.wait() == 0
    assert f'"frames": {400 - damaged}' in status.output
    assert f'"lost_frames": {damaged}' in status.output


def test_daemon_survives_unplug_replug_and_stops_cleanly(tmp_path: Path) -> None:
    """SIGUSR1/SIGUSR2 to adc-sim unplug and replug; the daemon reconnects; SIGTERM exits 0."""
    log = tmp_path / "log.csv"
    _write_log(log, 100_000)
    link, store = tmp_path / "adc", tmp_path / "store"
    sim = Proc(battwatch("adc-sim", "--csv", str(log), "--speed", "600", "--link", str(link), "--wait-hello"))
    sim.wait_for("serving on")
    daemon = Proc(battwatch("run", "-c", str(_config(tmp_path / "c.toml", link, store))))
    try:
        daemon.wait_for(r"serial: .* open")
        daemon.wait_for(r"ADC: adc-sim firmware")
        daemon.wait_for(r"ADC data flowing$")
        sim.signal(signal.SIGUSR1)
        daemon.wait_for(r"serial: .* lost")
        daemon.wait_for(r"ADC silent for .*unplugged")
        sim.signal(signal.SIGUSR2)
        daemon.wait_for(r"ADC data flowing again")
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        sim.stop()
    assert "battwatch stopped" in daemon.output
    times = [t for t, _ in _stored(store)]
    assert times == sorted(times) and len(times) >= 2
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # 1.5 s of silence at 10 rows/s: at least 15 one-minute rows are missing, not invented
    assert max(gaps) >= 15 * 60


def test_a_board_that_stops_reading_never_blocks_the_sender() -> None:
    """A board that takes no more input (an emulator past its data, a wedged firmware) fills the
    line's buffer. The daemon's main loop writes ACKs and RATEs: each write gives up after the
    write timeout instead of blocking the loop for good, and the source says so."""
    import os
    import pty
    import threading
    import tty

    master, slave = pty.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    inbox: queue.Queue[object] = queue.Queue()
    src = SerialSource(os.ttyname(slave), 115200, inbox, reconnect_min_s=0.05, write_timeout_s=0.2)
    src.start()
    refused = threading.Event()
    sent = [0]

    def keep_sending() -> None:
        # nobody reads the master: sooner or later the pty's input buffer is full
        while not refused.is_set() and sent[0] < 1_000_000:
            if src.send(Command("ACK", (str(sent[0]),))):
                sent[0] += 1
            else:
                refused.set()

    try:
        _next(inbox, LinkUp)
        sender = threading.Thread(target=keep_sending, daemon=True)
        sender.start()
        assert refused.wait(60), "a write into a full line blocked the sender"
        assert src.send_timeouts >= 1 and sent[0] > 0
    finally:
        refused.set()
        src.stop()
        os.close(master)
        os.close(slave)
