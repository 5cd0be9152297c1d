"""adc-sim as a device: its answers, and RATE and FAST honoured as far as its data allows."""

from __future__ import annotations

import os
import re
import select
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from battwatch.core.model import FLAG_FAST, Ack, Command, DeviceMessage, Frame, Hello, Reading
from battwatch.core.protocol import encode_command, frame_line, parse_line
from battwatch.emulator.adc_sim import AdcEmulator

pytestmark = pytest.mark.serial

DOC = Path(__file__).resolve().parents[2] / "firmware-notes" / "protocol.md"
T0 = 1_736_121_600.0


class Peer:
    """The Pi's end of the emulator's pty, without pyserial: raw bytes in, parsed lines out."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.raw: list[bytes] = []
        self._buf = b""

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def command(self, name: str, *args: str) -> None:
        self.send(encode_command(Command(name, args)))

    def until(self, done: Callable[[list[DeviceMessage]], bool], timeout: float = 10.0) -> list[DeviceMessage]:
        """Every line so far, parsed, once ``done`` holds for them."""
        deadline = time.monotonic() + timeout
        while True:
            got = [parse_line(line) for line in self.raw]
            if done(got):
                return got
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; lines so far: {self.raw[-10:]!r}"
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                self._buf += os.read(self.fd, 65536)
                *lines, self._buf = self._buf.split(b"\n")
                self.raw += [line + b"\n" for line in lines]

    def close(self) -> None:
        os.close(self.fd)


@contextmanager
def emulator(readings: list[Reading], tmp_path: Path, **kw: object) -> Iterator[tuple[AdcEmulator, Peer]]:
    emu = AdcEmulator(readings, speed=0, link=tmp_path / "adc", wait_hello=True, **kw)  # type: ignore[arg-type]
    peer = Peer(emu.device_path)
    emu.start()
    try:
        yield emu, peer
    finally:
        emu.close()
        peer.close()


def _rows(n: int, step: float, v0: float = 12.6) -> list[Reading]:
    return [
        Reading(T0 + (i + 1) * step, v0 + 0.001 * i, v0 + 0.001 * i - 0.01 * (i % 3), v0 + 0.001 * i + 0.02,
                5.2, 5.19, 5.21, 9.0 + i, step)
        for i in range(n)
    ]


def _frames(got: list[DeviceMessage]) -> list[Frame]:
    return [m for m in got if isinstance(m, Frame)]


def _acks(got: list[DeviceMessage]) -> list[Ack]:
    return [m for m in got if isinstance(m, Ack)]


def test_its_answers_are_the_doc_examples_byte_for_byte(tmp_path: Path) -> None:
    """Every reason protocol.md lists, and an OK with the rate delivered, as the doc writes them."""
    doc = set(re.findall(r"^(\$BWA,\S*\*[0-9A-F]{4})$", DOC.read_text(), re.M))
    with emulator(_rows(50, 0.1), tmp_path) as (_emu, peer):
        peer.send(b"$BWC,RATE,1*9E9F\r\n")  # one bit off in the CRC
        peer.send(frame_line("BWX,RATE"))  # not a command line
        peer.command("RATE", "1000")
        peer.command("RESET")
        peer.command("TIME", "1735689600000")
        peer.command("RATE", "1")
        peer.command("FAST", "30", "100")  # the data has ten rows a second
        peer.until(lambda got: len(_acks(got)) == 7)
        answers = [line.rstrip(b"\r\n").decode() for line in peer.raw]
    assert answers == [
        "$BWA,?,ERR,checksum*F6F6",
        "$BWA,?,ERR,syntax*DE89",
        "$BWA,RATE,ERR,range*2F99",
        "$BWA,RESET,ERR,unknown*0886",
        "$BWA,TIME,ERR,unsupported*6456",
        "$BWA,RATE,OK*E8E9",
        "$BWA,FAST,OK,10*214B",
    ]
    assert set(answers) <= doc


@pytest.mark.parametrize(
    ("args", "reason"),
    [(("x",), "syntax"), ((), "syntax"), (("1", "2"), "syntax"), (("nan",), "syntax"), (("0.001",), "range")],
)
def test_a_bad_rate_is_refused_with_its_reason(tmp_path: Path, args: tuple[str, ...], reason: str) -> None:
    with emulator(_rows(5, 1.0), tmp_path) as (emu, peer):
        peer.command("RATE", *args)
        got = peer.until(lambda got: bool(_acks(got)))
    assert _acks(got) == [Ack("RATE", False, reason)]
    assert emu.base_rate_hz == 1.0


def test_a_rate_below_the_data_merges_rows_into_one_frame(tmp_path: Path) -> None:
    rows = _rows(20, 1.0)
    with emulator(rows, tmp_path) as (emu, peer):
        peer.command("RATE", "0.2")
        peer.command("HELLO")
        got = peer.until(lambda got: len(_frames(got)) == 4)
        assert emu.done.wait(10)
    hello = next(m for m in got if isinstance(m, Hello))
    assert hello.rate_hz == 0.2
    frames = _frames(got)
    assert [f.window_ms for f in frames] == [5000] * 4
    assert [f.seq for f in frames] == [0, 1, 2, 3]
    for k, f in enumerate(frames):
        part = rows[5 * k : 5 * k + 5]
        assert f.uptime_ms - frames[0].uptime_ms == 5000 * k
        assert f.main_avg_mv == round(sum(r.main_v for r in part) / 5 * 1000)  # type: ignore[misc]
        assert f.main_min_mv == round(min(r.main_min_v for r in part) * 1000)  # type: ignore[type-var]
        assert f.main_max_mv == round(max(r.main_max_v for r in part) * 1000)  # type: ignore[type-var]
        assert f.temp_dc == round(part[-1].temp_c * 10)  # type: ignore[operator]


def test_a_rate_above_the_data_is_acknowledged_with_the_rate_it_gets(tmp_path: Path) -> None:
    """A log of one row a minute cannot give 1 Hz: the ack and the hello say 1/60 Hz."""
    with emulator(_rows(5, 60.0), tmp_path) as (_emu, peer):
        peer.command("RATE", "1")
        peer.command("HELLO")
        got = peer.until(lambda got: len(_frames(got)) == 5)
    assert _acks(got) == [Ack("RATE", True, "0.0166667")]
    hello = next(m for m in got if isinstance(m, Hello))
    assert [f.window_ms for f in _frames(got)] == [60000] * 5
    assert 1000 / hello.rate_hz == pytest.approx(60000, rel=1e-5)


@pytest.mark.parametrize(("row_s", "rate"), [(0.1, "1"), (0.3, "1"), (1.0, "0.1"), (60.0, "0.0166667"), (600.0, "1")])
def test_the_hello_announces_the_windows_it_sends(tmp_path: Path, row_s: float, rate: str) -> None:
    with emulator(_rows(40, row_s), tmp_path) as (emu, peer):
        peer.command("RATE", rate)
        peer.command("HELLO")
        assert emu.done.wait(10)
        got = peer.until(lambda got: len(_frames(got)) == emu.frames_written)
    hello = next(m for m in got if isinstance(m, Hello))
    windows = {f.window_ms for f in _frames(got)[:-1]}  # the last may be the data's short rest
    assert windows == {round(1000 / hello.rate_hz)}


def test_fast_mode_sends_every_row_flagged_for_its_seconds_then_the_base_rate(tmp_path: Path) -> None:
    rows = _rows(100, 0.1)
    with emulator(rows, tmp_path) as (emu, peer):
        peer.command("FAST", "2", "100")
        peer.command("HELLO")
        assert emu.done.wait(10)
        got = peer.until(lambda got: len(_frames(got)) == emu.frames_written)
    frames = _frames(got)
    fast = [f for f in frames if f.flags & FLAG_FAST]
    assert len(fast) == 20 and all(f.window_ms == 100 for f in fast)
    assert frames[:20] == fast  # two seconds of data from the start
    assert [f.window_ms for f in frames[20:]] == [1000] * 8  # then 1 Hz, the base rate
    assert _acks(got) == [Ack("FAST", True, "10")]
    assert emu.fast_frames == 20


def test_fast_zero_zero_ends_fast_mode_and_a_bad_fast_is_refused(tmp_path: Path) -> None:
    with emulator(_rows(5, 1.0), tmp_path) as (emu, peer):
        peer.command("FAST", "601", "100")
        peer.command("FAST", "30", "0")
        peer.command("FAST", "30")
        peer.command("FAST", "30", "100")
        peer.command("FAST", "0", "0")
        got = peer.until(lambda got: len(_acks(got)) == 5)
    assert _acks(got) == [
        Ack("FAST", False, "range"), Ack("FAST", False, "range"), Ack("FAST", False, "syntax"),
        Ack("FAST", True, "1"), Ack("FAST", True),
    ]
    assert emu.fast_until is None


def test_a_board_without_a_clock_sends_no_clock_frames(tmp_path: Path) -> None:
    with emulator(_rows(70, 1.0), tmp_path, clock=False) as (emu, peer):
        peer.command("HELLO")
        assert emu.done.wait(10)
        got = peer.until(lambda got: len(_frames(got)) == 70)
    assert not [line for line in peer.raw if line.startswith(b"$BWT")]
    assert isinstance(got[0], Hello)


def test_a_command_arriving_in_pieces_is_understood(tmp_path: Path) -> None:
    """A serial line delivers bytes as they come: half a command now, the rest later."""
    emu = AdcEmulator(_rows(5, 1.0), speed=0, link=tmp_path / "adc", wait_hello=True)
    peer = Peer(emu.device_path)
    try:
        line = encode_command(Command("RATE", ("0.2",)))
        peer.send(line[:6])
        emu._serve_commands(timeout=5.0)  # reads the first piece only: the line has not ended
        assert emu.received == [] and emu.answers == []
        peer.send(line[6:])
        emu._serve_commands(timeout=5.0)
        assert emu.received == [Command("RATE", ("0.2",))]
        assert emu.answers == [Ack("RATE", True)] and emu.base_rate_hz == 0.2
    finally:
        emu.close()
        peer.close()


def test_a_closed_emulator_never_reads_the_next_ones_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """close() frees the pty's descriptor numbers and the next pty gets the same ones: a
    thread of the old emulator that looked its number up just before must not take the new
    emulator's commands. The unlucky moment is made certain: the old one is closed and the new
    one opened between the look-up and the wait."""
    from battwatch.emulator import adc_sim as sim

    old = AdcEmulator(_rows(5, 1.0), speed=0, link=tmp_path / "old", wait_hello=True)
    stale = old._master
    made: list[tuple[AdcEmulator, Peer]] = []
    real_select = select.select

    def unlucky(r: list[int], w: list[int], x: list[int], timeout: float | None = None) -> tuple[list[int], ...]:
        if not made:
            old.close()
            new = AdcEmulator(_rows(5, 1.0), speed=0, link=tmp_path / "new", wait_hello=True)
            peer = Peer(new.device_path)
            made.append((new, peer))
            assert new._master == stale  # the kernel handed out the same number again
            peer.command("RATE", "0.5")
        return real_select(r, w, x, timeout)

    monkeypatch.setattr(sim.select, "select", unlucky)
    old._serve_commands(timeout=1.0)
    monkeypatch.setattr(sim.select, "select", real_select)
    new, peer = made[0]
    try:
        assert old.received == []  # the old emulator read nothing of the new one's
        new._serve_commands(timeout=5.0)
        assert [c.name for c in new.received] == ["RATE"] and new.base_rate_hz == 0.5
    finally:
        new.close()
        peer.close()


def test_the_data_waits_while_no_reader_has_the_port_open(tmp_path: Path) -> None:
    """A daemon restarting closes the port and opens it again, flushing what it finds there:
    frames sent meanwhile would be lost and leave a hole in the data (a silent sensor). The
    emulator holds its data instead: the next reader's first frame follows the last one read."""
    import termios

    rows = _rows(20_000, 60.0)  # minute windows, paced at an hour a second: 60 frames a second
    emu = AdcEmulator(rows, speed=3600.0, link=tmp_path / "adc", wait_hello=True)
    peer = Peer(emu.device_path)
    emu.start()
    try:
        peer.command("HELLO")
        got = _frames(peer.until(lambda g: len(_frames(g)) >= 30, timeout=60))
        last_read = got[-1].uptime_ms
        peer.close()
        assert emu.waiting_for_reader.wait(30), "the emulator went on sending to nobody"
        assert not emu.reader_attached()
        peer = Peer(emu.device_path)
        termios.tcflush(peer.fd, termios.TCIFLUSH)  # as pyserial does when a daemon opens the port
        peer.command("HELLO")
        after = _frames(peer.until(lambda g: len(_frames(g)) >= 5, timeout=60))
    finally:
        emu.close()
        peer.close()
    # at most the few frames sent between the last read and the close are lost: minutes, not hours
    assert 0 < after[0].uptime_ms - last_read <= 10 * 60_000, (after[0].uptime_ms - last_read) / 60_000


def test_a_window_closed_by_fast_mode_carries_its_own_time_and_the_daemon_takes_every_frame(
    tmp_path: Path,
) -> None:
    """FAST arriving in the middle of a 1 Hz window closes it: that frame's uptime is its last
    row's, not the next row's (the next frame, alone in its fast window, then had the same
    time and the daemon refused it)."""
    import threading

    from battwatch.core.calibration import Calibration, FrameCalibrator
    from battwatch.core.decoder import DeviceDecoder

    rows = _rows(30, 0.1)
    fast_sent = threading.Event()

    def paced() -> Iterator[Reading]:
        for i, r in enumerate(rows):
            if i == 16:  # FAST is on the line by the time row 16 is served
                assert fast_sent.wait(10)
            yield r

    with emulator(paced(), tmp_path) as (emu, peer):  # type: ignore[arg-type]
        peer.command("HELLO")
        peer.until(lambda got: len(_frames(got)) == 1)  # rows 0-9 as one 1 Hz frame
        peer.command("FAST", "1", "100")
        fast_sent.set()
        assert emu.done.wait(10)
        got = peer.until(lambda got: len(_frames(got)) == emu.frames_written)
    frames = _frames(got)
    windows = [f.window_ms for f in frames]
    # Which row FAST reaches depends on when the pty hands its bytes over and which thread runs
    # (usually one of rows 10-15, mid-window): whatever it is, the window it closes carries its
    # own end, so the windows run end to end, fast ones follow, and every frame is taken.
    assert windows[0] == 1000 and windows.count(100) >= 5, windows
    assert sum(windows) == 3000  # every row in exactly one frame
    for before, f in zip(frames, frames[1:], strict=False):
        assert f.uptime_ms - before.uptime_ms == f.window_ms, (before, f)  # windows end to end
    decoder = DeviceDecoder(FrameCalibrator(Calibration(), Calibration(), 0.0, "car"))
    readings = [r for r in (decoder.feed(line, T0, True) for line in peer.raw) if r is not None]
    assert not decoder.stats.errors and len(readings) == emu.frames_written
    ends = [sum(windows[: i + 1]) / 1000 for i in range(len(windows))]
    assert [round(r.t - T0, 3) for r in readings] == ends  # each reading at its own window's end


def test_commands_are_answered_after_the_data_ends(tmp_path: Path) -> None:
    """A daemon still catching up sends RATE and FAST after the last frame was written; an
    emulator that stopped reading then let the daemon's writes block for good (the demo hung)."""
    with emulator(_rows(5, 1.0), tmp_path) as (emu, peer):
        peer.command("HELLO")
        assert emu.done.wait(30)
        peer.command("RATE", "0.5")
        got = peer.until(lambda g: any(a.command == "RATE" for a in _acks(g)), timeout=30)
    assert any(a.command == "RATE" and a.ok for a in _acks(got))
