"""The firmware's real ELF in board-sim against the real daemon: from a voltage at the tap to
a row in the store, the crank dip, RATE/FAST, bad input, calibration."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import serial

from battwatch.core.model import FLAG_FAST, Ack, Frame, Hello
from battwatch.core.protocol import frame_line, parse_line
from firmware_board import (
    MAIN_LSB_V,
    SOS_LSB_V,
    TEMP_LSB_C,
    Board,
    Watched,
    bad_lines,
    daemon_config,
    readings,
    start_daemon,
)
from helpers import battwatch

pytestmark = pytest.mark.serial

STEADY = [(0, 12.6, 5.2, 20.0)]


def _dip(at_ms: float, low: float = 9.8, ms: float = 50) -> list[tuple[float, float, float, float | None]]:
    """12.6 V with a dip to ``low`` for ``ms`` starting ``at_ms`` after the switch."""
    return [(0, 12.6, 5.2, None), (at_ms, 12.6, 5.2, None), (at_ms + 0.2, low, 5.2, None),
            (at_ms + ms, low, 5.2, None), (at_ms + ms + 0.2, 12.6, 5.2, None)]


def test_a_voltage_at_the_tap_becomes_a_row_in_the_store(tmp_path: Path) -> None:
    board = Board(tmp_path, STEADY)
    store = tmp_path / "store"
    try:
        daemon = start_daemon(daemon_config(tmp_path, board.link, store))
        try:
            board.wait_ack(5)
        finally:
            assert daemon.stop() == 0
        rows = readings(store)
        # the daemon's last ACK (sent after its final commit) names the newest stored frame:
        # every frame since the board booted is in the store, frame 0 included
        _, last = board.wait_ack(len(rows) - 1)
    finally:
        board.stop()
    assert last == len(rows) - 1
    assert len(rows) >= 6
    for r in rows:
        for col in ("main_v", "main_min_v", "main_max_v"):
            assert abs(r[col] - 12.6) <= MAIN_LSB_V, (col, r[col])
        for col in ("sos_v", "sos_min_v", "sos_max_v"):
            assert abs(r[col] - 5.2) <= SOS_LSB_V, (col, r[col])
        assert abs(r["temp_c"] - 20.0) <= TEMP_LSB_C
        assert r["window_s"] == 1.0
        assert not r["flags"] & 0x07  # neither fast nor saturated
    assert rows[0]["flags"] & 0x08  # first frame after boot
    assert bad_lines(daemon) == []
    assert "ADC: bw-nano-r1 firmware 1.0.0, 10-bit, 1 Hz" in daemon.output


def _dip_run(tmp_path: Path, trigger_mv: int) -> tuple[list, Board]:
    """A 50 ms dip to 9.8 V while the daemon runs; returns the stored rows."""
    board = Board(tmp_path, STEADY)
    store = tmp_path / "store"
    try:
        daemon = start_daemon(daemon_config(tmp_path, board.link, store, trigger_mv=trigger_mv))
        try:
            i, _ = board.wait(r"> \$BWA,TRIG,OK")  # the daemon's start-detector setting is in
            i, _ = board.wait_ack(1, i)
            switch = board.set_volts(_dip(1500))
            t_switch = float(board.proc.lines[switch].split()[0])
            # a frame whose window ends a second after the dip, stored and acknowledged
            after_ms = (t_switch + 2.6) * 1000
            j, m = board.proc.wait_until(r"> \$BWD,(\d+),(\d+),", lambda m: int(m.group(2)) > after_ms, switch)
            board.wait_ack(int(m.group(1)), j)
        finally:
            assert daemon.stop() == 0
    finally:
        board.stop()
    assert bad_lines(daemon) == []
    return readings(store), board


def test_a_50_ms_crank_dip_is_in_the_window_minimum_at_1_hz(tmp_path: Path) -> None:
    rows, _ = _dip_run(tmp_path, trigger_mv=0)
    dipped = [r for r in rows if r["main_min_v"] < 12.0]
    assert len(dipped) == 1, [(r["t"], r["main_min_v"]) for r in rows]
    r = dipped[0]
    assert abs(r["main_min_v"] - 9.8) <= 0.1
    assert r["window_s"] == 1.0 and not r["flags"] & FLAG_FAST
    # 50 ms of 9.8 V in a 1 s window: the average moves by about 0.14 V, the maximum not at all
    assert abs(r["main_v"] - (12.6 - 0.05 * 2.8)) <= 0.03
    assert abs(r["main_max_v"] - 12.6) <= MAIN_LSB_V


def test_the_start_detector_switches_to_fast_frames_on_the_dip(tmp_path: Path) -> None:
    rows, _ = _dip_run(tmp_path, trigger_mv=1000)
    fast = [r for r in rows if r["flags"] & FLAG_FAST]
    assert len(fast) >= 50  # 100 Hz after the trigger
    assert all(abs(r["window_s"] - 0.01) < 1e-9 for r in fast[:-1])
    # the dip's lowest sample is in a window minimum near the trigger, whichever row it is in
    first_fast = fast[0]["t"]
    near = [r for r in rows if abs(r["t"] - first_fast) <= 1.5]
    assert abs(min(r["main_min_v"] for r in near) - 9.8) <= 0.1
    assert any(abs(r["main_v"] - 9.8) <= 0.1 for r in fast)  # a whole 10 ms window inside the dip


class Client:
    """A bare serial client on the board's link, reading with the daemon's own parser."""

    def __init__(self, link: Path) -> None:
        self.port = serial.Serial(str(link), 115200, timeout=0.2)

    def send(self, raw: bytes) -> None:
        self.port.write(raw)

    def cmd(self, body: str) -> None:
        self.send(frame_line(body))

    def next(self, want: type, timeout: float = 60.0, *, skip: type | None = None) -> object:
        """The next message of type ``want`` (others are kept in ``seen``); every line must parse."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.port.readline()
            if not line:
                continue
            if not self.seen and not line.startswith(b"$"):
                continue  # the tail of a line the board was sending when the port opened
            msg = parse_line(line)  # a bad CRC or field raises: the test fails on it
            self.seen.append(msg)
            if isinstance(msg, want):
                return msg
        raise AssertionError(f"no {want.__name__} within {timeout} s; seen {self.seen[-10:]}")

    seen: list[object] = []

    def close(self) -> None:
        self.port.close()


def test_rate_and_fast_change_the_frame_rate(tmp_path: Path) -> None:
    board = Board(tmp_path, STEADY)
    c = Client(board.link)
    c.seen = []
    try:
        c.cmd("BWC,RATE,5")
        ack = c.next(Ack)
        assert ack == Ack("RATE", True, "")
        frames = [c.next(Frame) for _ in range(4)]
        assert [f.window_ms for f in frames[1:]] == [200, 200, 200]
        c.cmd("BWC,FAST,1,50")
        assert c.next(Ack) == Ack("FAST", True, "")
        fast: list[Frame] = []
        while True:
            f = c.next(Frame)
            assert isinstance(f, Frame)
            if not f.flags & FLAG_FAST:
                if fast:
                    break
                continue
            fast.append(f)
        # one simulated second of 20 ms windows, then back to the base rate
        assert 45 <= len(fast) <= 52 and all(f.window_ms == 20 for f in fast[1:-1])
        assert sum(f.window_ms for f in fast) <= 1000
        back = [c.next(Frame) for _ in range(3)]
        assert all(f.window_ms == 200 and not f.flags & FLAG_FAST for f in back[1:])
        # a rate a whole-millisecond window cannot give exactly: the OK says what is delivered
        c.cmd("BWC,RATE,30")
        assert c.next(Ack) == Ack("RATE", True, "30.3030303")
    finally:
        c.close()
        board.stop()


def test_bad_input_gets_an_error_and_sampling_goes_on(tmp_path: Path) -> None:
    board = Board(tmp_path, STEADY)
    c = Client(board.link)
    c.seen = []
    try:
        c.cmd("BWC,RATE,20")  # quick frames; never acknowledged, like an older daemon
        assert c.next(Ack) == Ack("RATE", True, "")
        cases: list[tuple[bytes, Ack]] = [
            (b"\x00\xffgarbage%%\r\n", Ack("?", False, "syntax")),
            (b"$BWC,RATE,1*0000\r\n", Ack("?", False, "checksum")),
            (b"$BWC," + b"9" * 200 + b"*1234\r\n", Ack("?", False, "syntax")),
            (frame_line("BWC,RATE,1000"), Ack("RATE", False, "range")),
            (frame_line("BWC,RATE,0"), Ack("RATE", False, "range")),
            (frame_line("BWC,FAST,700,10"), Ack("FAST", False, "range")),
            (frame_line("BWC,RATE,fast"), Ack("RATE", False, "syntax")),
            (frame_line("BWC,TRIG,1000"), Ack("TRIG", False, "syntax")),
            (frame_line("BWC,RESET"), Ack("RESET", False, "unknown")),
            (frame_line("BWC,TIME,1735689600000"), Ack("TIME", False, "unsupported")),
            (frame_line("BWD,1,2,3"), Ack("?", False, "syntax")),
        ]
        for raw, want in cases:
            c.send(raw)
            assert c.next(Ack) == want, raw[:40]
        # frames went on through all of it, none missing, at the rate asked
        frames = [m for m in c.seen if isinstance(m, Frame)]
        more = [c.next(Frame) for _ in range(60)]  # more than the board keeps: it keeps streaming
        frames += more
        seqs = [f.seq for f in frames]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert all(f.window_ms == 50 for f in frames[1:])
        # a hello: no frames sent again to a client that never acknowledged
        c.cmd("BWC,HELLO")
        assert isinstance(c.next(Hello), Hello)
        nxt = c.next(Frame)
        assert isinstance(nxt, Frame) and nxt.seq > seqs[-1] and not nxt.flags & 0x10
    finally:
        c.close()
        board.stop()


def test_calibrate_against_the_board(tmp_path: Path) -> None:
    board = Board(tmp_path, [(0, 11.0, 5.2, None)])
    cfg = daemon_config(tmp_path, board.link, tmp_path / "store")
    tool = Watched(battwatch("calibrate", "-c", str(cfg), "--channel", "main", "--samples", "3"), stdin=True)
    try:
        tool.type("\n11.00\n")
        tool.wait_after(r"ADC reads 1[01]\.\d+ V")
        # the second reference voltage, then Enter once the board has a whole window of it
        switch = board.set_volts([(0, 14.5, 5.2, None)])
        t_ms = float(board.proc.lines[switch].split()[0]) * 1000
        board.proc.wait_until(r"[>x] \$BWD,\d+,(\d+),(\d+),", lambda m: int(m.group(1)) - int(m.group(2)) > t_ms,
                              switch)
        tool.type("\n14.50\n", end=True)
        assert tool.wait(120) == 0, tool.output
    finally:
        tool.kill()
        board.stop()
    raws = [float(v) for v in re.findall(r"ADC reads (\d+\.\d+) V", tool.output)]
    assert abs(raws[0] - 11.0) <= MAIN_LSB_V and abs(raws[1] - 14.5) <= MAIN_LSB_V, raws
    gain = float(re.search(r"gain = (\S+)", tool.output).group(1))  # type: ignore[union-attr]
    offset = float(re.search(r"offset = (\S+)", tool.output).group(1))  # type: ignore[union-attr]
    assert "[adc.calibration.main]" in tool.output
    # the nominal divider is exact in the simulator: what is left is the ADC's quantisation
    assert abs(gain - 1.0) <= 2 * MAIN_LSB_V / 3.5 and abs(offset) <= 0.1
