"""The real ELF in board-sim against the real daemon: the daemon puts the Pi to sleep (SLEEP),
the board parks at a divided clock and keeps its frames; a Nano reset by the port opening
keeps its frames; the SOS tap is differential."""

from __future__ import annotations

import os
import queue
import re
import termios
import threading
from pathlib import Path

import pytest
from test_firmware_link import STEADY, Client

from battwatch.adapters.serial_source import SerialSource
from battwatch.core.model import FLAG_BOOT, FLAG_BUFFERED, Frame, LinkUp
from firmware_board import (
    SOS_LSB_V,
    Board,
    assert_every_frame_stored,
    bad_lines,
    daemon_config,
    readings,
    start_daemon,
)

pytestmark = pytest.mark.serial


def _wait_for(check: object, what: str, timeout: float = 60.0) -> None:
    assert callable(check)
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not check():
            assert not done.wait(0.05), f"timed out waiting for {what}"
    finally:
        deadline.cancel()


def test_the_daemon_puts_the_pi_to_sleep_and_gets_what_the_board_kept_after_the_wake(tmp_path: Path) -> None:
    board = Board(tmp_path, STEADY)
    store = tmp_path / "store"
    halted = tmp_path / "halted"
    cfg = daemon_config(
        tmp_path, board.link, store,
        adc_extra=f'sleep_after_s = 2\nvisit_s = 3600\npoweroff_command = ["touch", "{halted}"]\n',
        extra="[analysis.state]\nasleep_after_s = 3\n")
    try:
        first = start_daemon(cfg)
        try:
            i, _ = board.wait(r"< \$BWC,SLEEP,3600\*")
            board.wait(r"> \$BWA,SLEEP,OK\*", i)
            first.wait_after(r"powering off for the ADC board's sleep: touch ")
            _wait_for(halted.exists, "the poweroff command")
        finally:
            assert first.stop() == 0  # systemd stops the daemon as the Pi halts
        # acknowledged before SLEEP: the board forgot what was on disk
        assert board.acks(), "the daemon acknowledged its frames"
        k, m = board.wait(r"^(\S+) pi 0", i)
        t_off = float(m.group(1))
        assert t_off - float(board.proc.lines[i].split()[0]) >= 19.9  # the 20 s grace
        # parked: the clock divided by 16 at once
        p, _ = board.wait(r"^\S+ clock 1000000$", k)
        assert p <= k + 3
        # the car stands 3 s, then the engine runs: 14.2 V for 5 s powers the Pi
        j = board.set_volts([(0, 12.6, 5.2, 20.0), (3000, 12.6, 5.2, 20.0), (3100, 14.2, 5.2, 20.0)])
        w, m = board.wait(r"^(\S+) pi 1", j)
        t_on = float(m.group(1))
        assert t_on - float(board.proc.lines[j].split()[0]) >= 3 + 5
        _, m = board.wait(r"^(\S+) clock 16000000$", j)
        assert abs(float(m.group(1)) - t_on) < 0.05  # the full clock is back with the Pi
        # nothing was sent while the Pi was off (a line on the wire at the cut ends in a few ms)
        assert not [ln for ln in board.proc.lines[k:w] if "$BWD," in ln and float(ln.split()[0]) > t_off + 0.02]
        second = start_daemon(cfg)
        try:
            newest = board.wait(r"> \$BWD,(\d+),\d+,\d+,\d+,\d+,\d+,\d+,\d+,\d+,\d*,0\*", w)[1]  # a live one
            board.wait_ack(int(newest.group(1)), w)
        finally:
            assert second.stop() == 0
        rows = assert_every_frame_stored(board, store, second)
    finally:
        board.stop()
    parked = [r for r in rows if r["flags"] & FLAG_BUFFERED]
    assert parked, "frames kept while the Pi was off"
    assert any(abs(r["main_v"] - 12.6) < 0.05 for r in parked)
    assert any(r["main_max_v"] > 14.0 for r in parked), "the engine's voltage, measured parked"
    assert all(b["t"] > a["t"] for a, b in zip(rows, rows[1:], strict=False)), "in time order"
    assert bad_lines(first) == [] and bad_lines(second) == []
    # the duty cycle of each state, for firmware/README.md's current estimate
    m = re.search(r"Pi off at 1 MHz (\S+) % of (\S+) s", board.proc.output)
    assert m, board.proc.output[-500:]
    assert float(m.group(1)) < 90, "parked, the CPU keeps up with its samples at 1 MHz"


def test_opening_the_port_leaves_dtr_raised_when_it_closes(tmp_path: Path) -> None:
    master, slave = os.openpty()
    link = tmp_path / "adc"
    link.symlink_to(os.ttyname(slave))
    # as a USB serial adapter comes up: DTR drops when the last user closes it
    attrs = termios.tcgetattr(slave)
    attrs[2] |= termios.HUPCL
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    inbox: queue.Queue[object] = queue.Queue()
    src = SerialSource(str(link), 115200, inbox, reconnect_min_s=0.05)
    src.start()
    try:
        while not isinstance(inbox.get(timeout=10), LinkUp):
            pass
        assert not termios.tcgetattr(slave)[2] & termios.HUPCL
    finally:
        src.stop()
        os.close(master)
        os.close(slave)


def test_a_nano_reset_by_the_port_opening_keeps_its_frames(tmp_path: Path) -> None:
    board = Board(tmp_path, STEADY, reset_on_open=True)
    store = tmp_path / "store"
    cfg = daemon_config(tmp_path, board.link, store)
    try:
        first = start_daemon(cfg)
        try:
            board.wait_ack(3)
        finally:
            assert first.stop() == 0
        start = i = len(board.proc.lines) - 1
        for _ in range(3):
            i, _ = board.wait(r"x \$BWD,", i + 1)
        unread = [f.seq for f in board.frames(start, i + 1) if not f.delivered]
        second = start_daemon(cfg)
        try:
            # (whether the bootloader's second eats the daemon's first commands depends on how
            # fast it starts; test_ack_link.py has the daemon's answer to that)
            r, _ = board.wait(r"^\S+ reset$", i)
            board.wait_ack(unread[-1] + 2, r)
        finally:
            assert second.stop() == 0
    finally:
        board.stop()
    told = re.findall(r"ADC told that frames up to (\d+) are stored", second.output)
    last = int(told[-1])
    rows = readings(store)
    # every frame since the first boot, none lost to the reset: numbers go on across it
    assert len(rows) == last + 1, (len(rows), last)
    # the first boot, then each open (the first daemon's too): the first frame after each
    resets = [ln for ln in board.proc.lines if re.match(r"^\S+ reset$", ln)]
    assert len(resets) == 2
    # a reset before the first window of the power-on boot closed leaves one frame for both
    # (how soon the first daemon opens the port is the machine's pace, not the board's)
    assert [r["flags"] & FLAG_BOOT for r in rows].count(FLAG_BOOT) in (len(resets), 1 + len(resets))
    kept = [r for r in rows if r["flags"] & FLAG_BUFFERED]
    assert len(kept) >= len(unread)
    # the time goes on too: the windows cover the uptime but for the ones cut by the resets
    _, m = board.proc.wait_until(r"[>x] \$BWD,(\d+),(\d+),", lambda m: int(m.group(1)) == last)
    gap = int(m.group(2)) / 1000 - sum(rw["window_s"] for rw in rows)
    assert 0 <= gap < len(resets), gap
    assert all(b["t"] > a["t"] for a, b in zip(rows, rows[1:], strict=False))
    assert bad_lines(first) == [] and bad_lines(second) == []


def test_the_sos_tap_is_measured_across_the_pack_not_against_ground(tmp_path: Path) -> None:
    # the pack's minus 0.4 V above the board's ground (its own return path carries current)
    board = Board(tmp_path, [(0, 12.6, 5.2, 20.0, 0.4)])
    c = Client(board.link)
    c.seen = []
    try:
        c.cmd("BWC,RATE,5")

        def frames_from(i: int | None, n: int = 3) -> list[Frame]:
            """n frames whose windows began after the volts switch at trace line i."""
            t_ms = 0.0 if i is None else float(board.proc.lines[i].split()[0]) * 1000
            out: list[Frame] = []
            while len(out) < n:
                f = c.next(Frame)
                assert isinstance(f, Frame)
                if f.uptime_ms - f.window_ms >= t_ms:
                    out.append(f)
            return out

        def check(frames: list[Frame], want_mv: float) -> None:
            for f in frames:
                for v in (f.sos_avg_mv, f.sos_min_mv, f.sos_max_mv):
                    assert v is not None and abs(v - want_mv) <= SOS_LSB_V * 1000, f
                assert not f.flags & 0x04, f

        check(frames_from(None), 5200)
        # below ground, within the legs' bias
        check(frames_from(board.set_volts([(0, 12.6, 5.2, 20.0, -0.3)])), 5200)
        # a pack whose minus is 0.6 V below ground is out of range: flagged, not misread
        assert all(f.flags & 0x04 for f in frames_from(board.set_volts([(0, 12.6, 5.2, 20.0, -0.6)])))
    finally:
        c.close()
        board.stop()
