"""adc-sim: a firmware emulator that speaks the ADC protocol on a pseudo-terminal."""

from __future__ import annotations

import logging
import math
import os
import random
import select
import threading
import time
import tty
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from battwatch.core.model import (
    FLAG_BOOT,
    FLAG_FAST,
    Ack,
    Command,
    DeviceTime,
    Hello,
    Reading,
)
from battwatch.core.protocol import (
    FrameError,
    encode_ack,
    encode_frame,
    encode_hello,
    encode_time,
    parse_command,
)
from battwatch.emulator.frames import FrameWindow, corrupt, frame_window_s, reading_to_frame

logger = logging.getLogger(__name__)

FIRMWARE = "sim-1.0"
BOARD = "adc-sim"
BOOT_UPTIME_MS = 5_000  # a real board needs a few seconds before its first frame
TIME_EVERY = 60  # frames between BWT clock frames, like a board with an RTC sending once a minute
RATE_MIN_HZ, RATE_MAX_HZ = 0.01, 100.0  # RATE and FAST limits of protocol.md
FAST_MAX_S = 600.0


class AdcEmulator:
    """Replays readings as frames on a pty, paced by ``speed`` (0: as fast as the reader takes).

    Each reading is one window of the data. The frame rate the Pi asks for (``RATE``, and
    ``FAST`` for a while) is honoured as far as the data allows: for a lower rate several
    readings are merged into one frame (mean weighted by window, lowest minimum, highest
    maximum); a rate above the data's own cannot add detail, so each reading stays one frame
    and the acknowledgement names the rate actually delivered. ``TRIG`` is acknowledged but has
    nothing to act on: the data holds no samples inside a window.

    ``unplug()``/``replug()`` imitate a USB adapter pulled out and put back: the pty goes
    away (the reader sees an I/O error), the link path disappears, then a new pty appears
    under the same link path.

    While no reader has the port open (a daemon restarting) the emulator holds its data, as
    if the car waited: frames written into an unread port would be thrown away by the next
    reader's open, and the hole they leave would read as a silent sensor.
    """

    def __init__(
        self,
        readings: Iterable[Reading],
        *,
        speed: float = 1.0,
        link: Path | None = None,
        noise: float = 0.0,
        seed: int = 0,
        default_window_s: float = 1.0,
        wait_hello: bool = False,
        clock: bool = True,
    ) -> None:
        self._source: Iterator[Reading] = iter(readings)
        self._ahead: deque[Reading] = deque()  # readings looked at before their turn
        self.speed = speed
        self.link = link
        self.noise = noise
        self.default_window_s = default_window_s
        # Opening a serial port flushes its input, so frames written before the reader is
        # there are lost; with wait_hello the stream starts when the Pi says HELLO.
        self.wait_hello = wait_hello
        self.clock = clock  # False: a board without a real-time clock (no BWT frames)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._master: int | None = None
        self._slave: int | None = None
        self.device_path = ""
        self.stop_event = threading.Event()
        self.done = threading.Event()  # set when every reading has been written
        self.waiting_for_reader = threading.Event()  # set while the data waits for a reader
        self.frames_written = 0
        self.fast_frames = 0
        self.lines_written = 0
        self.corrupted = 0
        self.commands: list[str] = []
        self.received: list[Command] = []
        self.answers: list[Ack] = []
        self.base_rate_hz = 1.0  # like a board after boot, until the Pi sends RATE
        self.fast_rate_hz = 0.0
        self._fast_for_s: float | None = None  # FAST received, starting at the next reading
        self.fast_until: float | None = None  # data time at which fast mode ends
        self._row_s: float | None = None  # the window of the data's latest reading
        self._data_t: float | None = None  # data time of the latest reading sent
        self._plugged = threading.Event()
        self._uptime_ms = BOOT_UPTIME_MS
        self._clock: tuple[int, int] | None = None  # (uptime_ms, unix_ms) of the last frame
        self._cmd_buf = b""  # bytes of a command line not yet ended by its newline
        self._cable = 0
        self._open_pty()

    # -- pty handling ------------------------------------------------------------------
    def _open_pty(self) -> None:
        master, slave = os.openpty()
        # raw and no echo, or the kernel would echo our own frames back to us as "commands"
        tty.setraw(slave)
        tty.setraw(master)
        self._master, self._slave = master, None
        self.device_path = os.ttyname(slave)
        # Only readers hold the other end: with none, the master reports a hang-up, which is
        # how the emulator knows nobody is listening. The pty itself lives while the master does.
        os.close(slave)
        # Which pty the descriptors belong to. unplug() and close() close them under the lock,
        # and the kernel may hand the same numbers to the next open at once (the next
        # emulator's pty, the daemon's port): I/O checks this under the lock before it uses a
        # number it looked up earlier, so a stale one is never read or written.
        self._cable += 1
        self._cmd_buf = b""  # a new cable: nothing half-received
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".tmp")
            try:
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(self.device_path)
                tmp.replace(self.link)  # atomic: a reader never sees a half-made link
            except OSError:
                self._close_fds()
                raise
        self._plugged.set()
        self._pending_hello = True

    def _close_fds(self) -> None:
        self._cable += 1  # whatever number a thread looked up before this is stale from now
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    def _close_pty(self) -> None:
        self._close_fds()
        if self.link is not None:
            self.link.unlink(missing_ok=True)

    @property
    def port(self) -> str:
        """What a reader should open: the stable link if there is one."""
        return str(self.link) if self.link is not None else self.device_path

    def unplug(self) -> None:
        with self._lock:
            self._plugged.clear()
            self._close_pty()
        logger.info("adc-sim: unplugged")

    def replug(self) -> None:
        with self._lock:
            if not self._plugged.is_set():
                try:
                    self._open_pty()
                except OSError as e:
                    logger.error("adc-sim: cannot plug in again: %s", e)
                    return
        logger.info("adc-sim: plugged in at %s", self.port)

    def close(self) -> None:
        self.stop_event.set()
        with self._lock:
            self._close_pty()

    # -- the data ----------------------------------------------------------------------
    def _next_reading(self) -> Reading | None:
        if self._ahead:
            return self._ahead.popleft()
        return next(self._source, None)

    def _peek(self, i: int = 0) -> Reading | None:
        """The reading ``i`` places ahead of the next one to send, without using it up."""
        while len(self._ahead) <= i:
            r = next(self._source, None)
            if r is None:
                return None
            self._ahead.append(r)
        return self._ahead[i]

    def _window_of(self, r: Reading, prev_t: float | None, ahead: int = 0) -> float:
        """How long the reading stands for: its own window, else the gap to its neighbour
        (the reading before it, or for the first one the reading ``ahead`` in the queue)."""
        if r.window_s > 0:
            w = r.window_s
        elif prev_t is not None:
            w = r.t - prev_t
        else:
            nxt = self._peek(ahead)
            w = nxt.t - r.t if nxt is not None and nxt.t > r.t else self.default_window_s
        return min(max(w, 0.001), 3600.0)

    def _data_row_s(self) -> float:
        """The window of the data just now (looked up before the first reading is sent)."""
        if self._row_s is None:
            first = self._peek()
            if first is None:
                return self.default_window_s
            self._row_s = self._window_of(first, None, ahead=1)
        return self._row_s

    def delivered_hz(self, asked_hz: float) -> float:
        """The frame rate sent for ``asked_hz``, given the data's own rate."""
        return 1.0 / frame_window_s(1.0 / asked_hz, self._data_row_s())

    @property
    def rate_hz(self) -> float:
        """The base rate the emulator delivers, as its hello announces it."""
        return self.delivered_hz(self.base_rate_hz)

    def _in_fast(self, start_t: float) -> bool:
        if self.fast_until is None:
            return False
        if start_t < self.fast_until:
            return True
        self.fast_until = None  # over: back to the base rate
        logger.info("adc-sim: fast mode over")
        return False

    # -- device behaviour --------------------------------------------------------------
    def reader_attached(self) -> bool:
        """Whether a reader has the port open (unplugged: no)."""
        with self._lock:
            fd = self._master
            if fd is None:
                return False
            poller = select.poll()
            poller.register(fd, select.POLLHUP)
            try:
                return not any(ev & select.POLLHUP for _, ev in poller.poll(0))
            except OSError:
                return False

    def _await_reader(self) -> float:
        """Wait while the port is plugged in but nobody reads it; the seconds waited."""
        if not self._plugged.is_set() or self.reader_attached():
            return 0.0
        t0 = time.monotonic()
        logger.info("adc-sim: no reader: the data waits")
        self.waiting_for_reader.set()
        while not self.stop_event.is_set() and self._plugged.is_set() and not self.reader_attached():
            self.stop_event.wait(0.05)
        self.waiting_for_reader.clear()
        if self.reader_attached():
            self._serve_commands(timeout=0.05)  # the new reader's HELLO, answered first
        logger.info("adc-sim: a reader is back after %.1f s", time.monotonic() - t0)
        return time.monotonic() - t0

    def _write(self, data: bytes) -> bool:
        """Write a whole line; blocks while the reader lags (the pty buffer is the backpressure)."""
        while not self.stop_event.is_set():
            with self._lock:
                fd, cable = self._master, self._cable
            if fd is None:
                return False
            try:
                _, w, _ = select.select([], [fd], [], 0.2)
                if not w:
                    self._serve_commands()  # the Pi may be waiting on an answer before it reads
                    continue
                with self._lock:
                    if self._cable != cable:
                        continue  # unplugged meanwhile: the number may now be another file's
                    n = os.write(fd, data)
            except OSError:
                return False
            data = data[n:]
            if not data:
                self.lines_written += 1
                return True
        return False

    def _send(self, line: bytes) -> bool:
        if self.noise and self._rng.random() < self.noise:
            self.corrupted += 1
            line = corrupt(line, self._rng)
        return self._write(line)

    def _hello(self) -> bytes:
        return encode_hello(Hello(1, FIRMWARE, BOARD, 16, self.rate_hz, self._uptime_ms))

    def _answer(self, ack: Ack) -> None:
        self.answers.append(ack)
        self._write(encode_ack(ack))

    def _serve_commands(self, timeout: float = 0.0) -> None:
        """Answer whatever the Pi sent (HELLO, RATE, FAST, TRIG, TIME, SLEEP)."""
        with self._lock:
            fd, cable = self._master, self._cable
        if fd is None:
            return
        try:
            r, _, _ = select.select([fd], [], [], timeout)
            if not r:
                return
            with self._lock:
                if self._cable != cable:
                    return  # as in _write: never read a number that may have been reused
                data = os.read(fd, 4096)
        except OSError:
            return
        # a command can arrive in pieces: keep the unfinished line for the next read
        *lines, self._cmd_buf = (self._cmd_buf + data).split(b"\n")
        if len(self._cmd_buf) > 4096:
            self._cmd_buf = b""  # no command is that long: garbage, dropped like a firmware would
        for raw in lines:
            if not raw.strip():
                continue
            try:
                cmd = parse_command(raw)
            except FrameError as e:
                self._answer(Ack("?", False, e.kind))  # checksum or syntax, as protocol.md says
                continue
            self.commands.append(cmd.name)
            self.received.append(cmd)
            self._command(cmd)

    def _command(self, cmd: Command) -> None:
        name = cmd.name
        if name == "HELLO":
            self._write(self._hello())
            if self._clock is not None and self.clock:
                # like a board with an RTC: the clock follows the hello
                self._write(encode_time(DeviceTime(*self._clock)))
        elif name == "RATE":
            nums = _numbers(cmd.args, 1)
            if nums is None:
                self._answer(Ack(name, False, "syntax"))
            elif not RATE_MIN_HZ <= nums[0] <= RATE_MAX_HZ:
                self._answer(Ack(name, False, "range"))
            else:
                self.base_rate_hz = nums[0]
                self._answer(Ack(name, True, self._shortfall(nums[0])))
        elif name == "FAST":
            nums = _numbers(cmd.args, 2)
            if nums is None:
                self._answer(Ack(name, False, "syntax"))
                return
            seconds, hz = nums
            if seconds == 0 and hz == 0:
                self._fast_for_s = None
                self.fast_until = None
                self._answer(Ack(name, True))
            elif not (0 < seconds <= FAST_MAX_S and 0 < hz <= RATE_MAX_HZ):
                self._answer(Ack(name, False, "range"))
            else:
                self.fast_rate_hz = hz
                self._fast_for_s = seconds
                self._answer(Ack(name, True, self._shortfall(hz)))
        elif name == "TRIG":
            nums = _numbers(cmd.args, 2)
            if nums is None:
                self._answer(Ack(name, False, "syntax"))
            elif nums[0] < 0 or nums[1] < 0:
                self._answer(Ack(name, False, "range"))
            else:
                # a log holds no samples inside a window: nothing for a start detector to see
                self._answer(Ack(name, True, "not emulated"))
        elif name in ("TIME", "SLEEP", "ACK"):
            # no clock, no power switch, and frames are not kept for a Pi that was away
            self._answer(Ack(name, False, "unsupported"))
        else:
            self._answer(Ack(name, False, "unknown"))

    def _shortfall(self, asked_hz: float) -> str:
        """The detail of an OK: the rate delivered when the data cannot give the one asked."""
        got = self.delivered_hz(asked_hz)
        return f"{got:g}" if got < asked_hz * 0.999 else ""

    def _frame(self, win: FrameWindow, seq: int) -> None:
        """Send one window as a frame (or lose it, unplugged, as a real board's would be)."""
        if not self._plugged.is_set():
            return
        if self._pending_hello:
            self._pending_hello = False
            self._write(self._hello())
            self._since_time = TIME_EVERY
        if self.clock and self._since_time >= TIME_EVERY and self._clock is not None:
            self._since_time = 0
            self._write(encode_time(DeviceTime(*self._clock)))
        self._since_time += 1
        flags = win.flags | (FLAG_BOOT if seq == 0 else 0) | (FLAG_FAST if win.fast else 0)
        # the window's own end: a change of mode closes it when the next row is already read
        uptime_ms = self._uptime_ms - int(round((self._data_t - win.t) * 1000)) if self._data_t is not None else self._uptime_ms
        fr = reading_to_frame(win.reading(), seq, uptime_ms, max(1, int(round(win.window_s * 1000))), flags)
        if self._send(encode_frame(fr)):
            self.frames_written += 1
            if win.fast:
                self.fast_frames += 1

    def run(self) -> None:
        """Write every reading as frames, paced to ``speed``; returns at the end or on close()."""
        t0: float | None = None
        prev_t: float | None = None
        seq = 0
        self._since_time = TIME_EVERY
        win: FrameWindow | None = None
        while self.wait_hello and "HELLO" not in self.commands and not self.stop_event.is_set():
            if not self.reader_attached():
                self.stop_event.wait(0.05)  # a hung-up port reads as ready: do not spin on it
                continue
            self._serve_commands(timeout=0.2)
        real0 = time.monotonic()
        while not self.stop_event.is_set():
            r = self._next_reading()
            if r is None:
                break  # the end of the data: nothing to wait for a reader with
            real0 += self._await_reader()  # the data's clock stands still meanwhile
            if t0 is None:
                t0 = r.t
            if self.speed > 0:
                due = real0 + (r.t - t0) / self.speed
                while not self.stop_event.is_set():
                    self._serve_commands()
                    left = due - time.monotonic()
                    if left <= 0:
                        break
                    self.stop_event.wait(min(left, 0.05))
            w = self._window_of(r, prev_t)
            prev_t = r.t
            self._row_s = w
            start = r.t - w
            if self._fast_for_s is not None:
                # fast mode runs from here for the seconds asked, in the data's time
                self.fast_until = (self._data_t if self._data_t is not None else start) + self._fast_for_s
                self._fast_for_s = None
                logger.info("adc-sim: fast mode until %.0f (%g Hz asked)", self.fast_until, self.fast_rate_hz)
            self._data_t = r.t
            # the board keeps running while unplugged: its uptime and clock go on
            self._uptime_ms = BOOT_UPTIME_MS + int(round((r.t - t0) * 1000))
            self._clock = (self._uptime_ms, int(round(r.t * 1000)))
            fast = self._in_fast(start)
            if win is not None and win.fast != fast:
                self._frame(win, seq)  # a change of mode closes the window
                seq += 1
                win = None
            if win is None:
                win = FrameWindow(fast)
            win.add(r, w)
            period = 1.0 / (self.fast_rate_hz if fast else self.base_rate_hz)
            if win.window_s + w / 2 >= period - 1e-9:
                self._frame(win, seq)
                seq += 1
                win = None
            self._serve_commands()
        if win is not None and not self.stop_event.is_set():
            self._frame(win, seq)  # the rest of the data, a shorter window
        self.done.set()
        # A board goes on answering after its data ends: a Pi still catching up sends RATE,
        # FAST and ACK, and its writes would block for good once the port's buffer is full.
        while not self.stop_event.is_set():
            if not self.reader_attached():
                self.stop_event.wait(0.05)  # a hung-up port reads as ready: do not spin on it
                continue
            self._serve_commands(timeout=0.2)

    def start(self) -> threading.Thread:
        th = threading.Thread(target=self.run, name="adc-sim", daemon=True)
        th.start()
        return th


def _numbers(args: tuple[str, ...], n: int) -> tuple[float, ...] | None:
    """Exactly ``n`` finite decimal numbers, or None (a syntax error)."""
    if len(args) != n:
        return None
    try:
        out = tuple(float(a) for a in args)
    except ValueError:
        return None
    return out if all(math.isfinite(x) for x in out) else None
