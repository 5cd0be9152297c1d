"""Frames kept by the firmware until the daemon has them on disk: a daemon restarted, a Pi
power cut, and the board's own sleep/wake of the Pi, on the real ELF in board-sim."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from test_firmware_link import STEADY, Client

from battwatch.core.model import FLAG_BUFFERED, Ack
from firmware_board import Board, bad_lines, daemon_config, readings, start_daemon

pytestmark = pytest.mark.serial


def _every_frame_stored(board: Board, store: Path) -> list:
    """The store holds every frame the board made up to the daemon's last acknowledgement (sent
    after its last commit), once each: as many rows as frames, and their windows add up to the
    board's uptime at that frame."""
    rows = readings(store)
    _, last_ack = board.wait_ack(len(rows) - 1)
    assert len(rows) == last_ack + 1, (len(rows), last_ack)
    end = [f for f in board.frames() if f.seq == last_ack][-1]
    assert round(sum(r["window_s"] for r in rows) * 1000) == end.uptime_ms
    return rows


def test_a_daemon_stopped_and_restarted_gets_every_frame_in_between(tmp_path: Path) -> None:
    board = Board(tmp_path, STEADY)
    store = tmp_path / "store"
    cfg = daemon_config(tmp_path, board.link, store)
    try:
        first = start_daemon(cfg)
        try:
            board.wait_ack(3)
        finally:
            assert first.stop() == 0
        start = i = len(board.proc.lines) - 1
        # the board goes on while nobody reads
        for _ in range(3):
            i, _ = board.wait(r"x \$BWD,", i + 1)
        unread = [f.seq for f in board.frames(start, i + 1) if not f.delivered]
        second = start_daemon(cfg)
        try:
            board.wait_ack(unread[-1] + 2, i)
        finally:
            assert second.stop() == 0
        rows = _every_frame_stored(board, store)
    finally:
        board.stop()
    buffered = [r for r in rows if r["flags"] & FLAG_BUFFERED]
    assert len(buffered) >= len(unread)
    assert bad_lines(first) == [] and bad_lines(second) == []


def test_a_pi_power_cut_loses_no_reading(tmp_path: Path) -> None:
    board = Board(tmp_path, STEADY)
    store = tmp_path / "store"
    try:
        # the first daemon never commits: everything it received dies with it
        first = start_daemon(daemon_config(tmp_path, board.link, store, "cut.toml", commit_s=3600))
        i, _ = board.wait(r"> \$BWH,")
        for _ in range(3):
            i, _ = board.wait(r"> \$BWD,", i + 1)
        first.signal(signal.SIGKILL)
        first.wait(30)
        assert board.acks() == []
        i, _ = board.wait(r"x \$BWD,", i + 1)
        second = start_daemon(daemon_config(tmp_path, board.link, store))
        try:
            board.wait_ack(board.frames()[-1].seq + 2, i)
        finally:
            assert second.stop() == 0
        _every_frame_stored(board, store)
    finally:
        board.stop()
    assert bad_lines(second) == []


def test_the_board_cuts_the_pi_on_sleep_and_powers_it_when_the_engine_runs(tmp_path: Path) -> None:
    board = Board(tmp_path, STEADY)
    store = tmp_path / "store"
    try:
        # the Pi's last words before it halts: it acknowledges, then asks to sleep an hour
        c = Client(board.link)
        c.seen = []
        c.cmd("BWC,ACK")
        assert c.next(Ack) == Ack("ACK", True, "")
        c.cmd("BWC,SLEEP,3600")
        assert c.next(Ack) == Ack("SLEEP", True, "")
        c.close()
        i, m = board.wait(r"^(\S+) pi 0")
        t_off = float(m.group(1))
        assert board.pi_file.read_text().split()[0] == "0"
        # parked: the board measures and keeps its frames, and sends nothing
        j = board.set_volts([(0, 12.6, 5.2, 20.0), (2000, 12.6, 5.2, 20.0), (2500, 14.2, 5.2, 20.0)])
        k, m = board.wait(r"^(\S+) pi 1", j)
        t_on = float(m.group(1))
        assert t_on - t_off >= 2 + 5  # 2 s parked, then 5 s of charging voltage
        # (a line already on the wire when the supply went ends in the first few ms)
        assert not [ln for ln in board.proc.lines[i:k] if "$BWD," in ln and float(ln.split()[0]) > t_off + 0.02]
        assert board.pi_file.read_text().split()[0] == "1"
        # the Pi boots; its daemon gets what the board kept, flagged buffered
        daemon = start_daemon(daemon_config(tmp_path, board.link, store))
        try:
            newest = board.wait(r"> \$BWD,(\d+),", k)[1]
            board.wait_ack(int(newest.group(1)) + 1, k)
        finally:
            assert daemon.stop() == 0
        rows = _every_frame_stored(board, store)
    finally:
        board.stop()
    parked = [r for r in rows if r["flags"] & FLAG_BUFFERED and r["main_v"] > 13.5]
    assert parked, "the engine's charging voltage, measured while the Pi was off"
    assert bad_lines(daemon) == []
