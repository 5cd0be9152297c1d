"""The daemon's side of frames kept until acknowledged (protocol.md, ACK), against hand-written
boards: one that keeps frames, and an older one that does not know ACK."""

from __future__ import annotations

import contextlib
import os
import select
import time
from pathlib import Path

import pytest
from test_daemon_link import RawDevice, Seen, _cfg, running

pytestmark = pytest.mark.serial


def _bwd(seq: int, uptime_ms: int, flags: int = 0) -> str:
    return f"BWD,{seq},{uptime_ms},1000,12640,12631,12652,5210,5208,5213,85,{flags:X}"


def _rest(dev: RawDevice) -> bytes:
    """Whatever the daemon wrote that the test has not read yet (it has stopped)."""
    while select.select([dev.master], [], [], 0)[0]:
        try:
            chunk = os.read(dev.master, 4096)
        except OSError:
            break
        if not chunk:
            break
        dev._got += chunk
    return dev._got


def test_the_daemon_acknowledges_what_it_committed_to_a_board_that_keeps_frames(tmp_path: Path) -> None:
    dev = RawDevice(tmp_path / "adc")
    seen = Seen()
    cfg = _cfg(tmp_path, tmp_path / "adc", clock={"host": "trusted"})
    try:
        with running(cfg, seen) as app:
            dev.wait_command("HELLO")
            # a live frame that raced the hello, then the answers, then what the board kept
            # (frame 7 among them) and a live one
            dev.send(_bwd(7, 8000), "BWA,ACK,OK", "BWH,1,1.0.0,bw-nano-r1,10,1,8100")
            dev.send(*(_bwd(s, 1000 * (s + 1), 0x10) for s in (5, 6, 7)), _bwd(8, 9000))
            seen.wait(lambda: len(seen.readings) >= 4, "four readings")
            dev.wait_command("ACK,8")  # committed (commit_interval_s = 0), then acknowledged
            assert app.decoder.stats.errors.total() == 0
    finally:
        got = _rest(dev)
        dev.close()
    # the announcement comes before the hello, so the board knows to keep and resend
    assert got.index(b"$BWC,ACK*") < got.index(b"$BWC,HELLO*")
    assert [r.flags for r in seen.readings] == [0x10, 0x10, 0x10, 0]
    assert [round(b.t - a.t, 3) for a, b in zip(seen.readings, seen.readings[1:], strict=False)] == [1.0] * 3


def test_an_older_board_gets_no_acknowledgements_and_loses_nothing(tmp_path: Path) -> None:
    dev = RawDevice(tmp_path / "adc")
    seen = Seen()
    cfg = _cfg(tmp_path, tmp_path / "adc", clock={"host": "trusted"})
    try:
        with running(cfg, seen) as app:
            dev.wait_command("HELLO")
            dev.send(_bwd(0, 1000), "BWA,ACK,ERR,unknown", "BWH,1,0.9,old-board,12,1,1100")
            dev.send(_bwd(1, 2000), _bwd(2, 3000))
            seen.wait(lambda: len(seen.readings) >= 3, "three readings")
            assert app.store.readings_written == 3
    finally:
        got = _rest(dev)
        dev.close()
    # the frame before its hello is kept for a board that will not send it again
    assert [r.flags for r in seen.readings] == [0, 0, 0]
    assert got.count(b"$BWC,ACK") == 1 and b"$BWC,ACK," not in got


def test_a_board_that_never_answers_hello_has_its_frames_stored_after_5_s(tmp_path: Path) -> None:
    dev = RawDevice(tmp_path / "adc")
    seen = Seen()
    cfg = _cfg(tmp_path, tmp_path / "adc", clock={"host": "trusted"})
    sent: list[float] = []
    try:
        with running(cfg, seen) as app:
            dev.wait_command("HELLO")
            # a board that takes no commands: no BWA, no BWH, a frame a second on its own clock
            t0 = time.monotonic()
            while not seen.readings:
                assert len(sent) < 30, "frames never stored"
                now = time.monotonic()
                dev.send(f"BWD,{len(sent)},{round((now - t0) * 1000) + 1000},1000,12640,12631,12652,"
                         "5210,5208,5213,85,0")
                sent.append(now)
                with contextlib.suppress(AssertionError):
                    seen.wait(lambda: bool(seen.readings), "a reading", timeout=1.0)
            seen.wait(lambda: len(seen.readings) == len(sent), "every frame sent")
            assert app.decoder.stats.errors.total() == 0
            assert app.store.readings_written == len(sent)
    finally:
        dev.close()
    # held while they span up to 5 s of arrivals (the daemon's stamps; the test's are near), then
    # every one of them goes on, in order; a daemon that held them for good fails above
    assert sent[-1] - sent[0] > 4.0 and len(sent) >= 5
    ts = [r.t for r in seen.readings]
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False))


def test_commands_lost_to_a_board_that_was_starting_are_sent_again(tmp_path: Path) -> None:
    dev = RawDevice(tmp_path / "adc")
    seen = Seen()
    cfg = _cfg(tmp_path, tmp_path / "adc", clock={"host": "trusted"})
    try:
        with running(cfg, seen):
            dev.wait_command("TRIG")
            # a Nano reset by the port opening: its bootloader took what the daemon sent; the
            # firmware then starts with its hello and frames, and has answered nothing
            dev.send("BWH,1,1.0.0,bw-nano-r1,10,1,1000")
            t0 = time.monotonic()
            n = 0
            while dev._got.count(b"$BWC,HELLO*") < 2:
                assert n < 30, "the commands were never sent again"
                n += 1
                dev.send(f"BWD,{n},{round((time.monotonic() - t0) * 1000) + 1000},1000,12640,12631,12652,"
                         "5210,5208,5213,85,0")
                if select.select([dev.master], [], [], 1.0)[0]:  # a frame a second, or the answer
                    dev._got += os.read(dev.master, 4096)
            # this time the board answers: no third round
            dev.send("BWA,ACK,OK", "BWH,1,1.0.0,bw-nano-r1,10,1,9000")
            for k in range(3):
                dev.send(f"BWD,{n + 1 + k},{9000 + 1000 * (k + 1)},1000,12640,12631,12652,5210,5208,5213,85,0")
            dev.wait_command("ACK,")
    finally:
        got = _rest(dev)
        dev.close()
    assert got.count(b"$BWC,HELLO*") == 2 and got.count(b"$BWC,RATE,") == 2
    assert n >= 2  # not before 2 s of a board talking without answering
