"""adc-sim: a firmware emulator that speaks the ADC protocol on a pseudo-terminal."""

from __future__ import annotations

import argparse
import logging
import os
import random
import select
import threading
import time
import tty
from collections.abc import Iterable, Iterator
from pathlib import Path

from battwatch.core.model import (
    FLAG_BOOT,
    Ack,
    DeviceTime,
    Frame,
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

logger = logging.getLogger(__name__)

FIRMWARE = "sim-1.0"
BOARD = "adc-sim"
BOOT_UPTIME_MS = 5_000  # a real board needs a few seconds before its first frame
TIME_EVERY = 60  # frames between BWT clock frames, like a board with an RTC sending once a minute


def _mv(v: float | None) -> int | None:
    return None if v is None else int(round(v * 1000))


def reading_to_frame(r: Reading, seq: int, uptime_ms: int, window_ms: int, flags: int) -> Frame:
    return Frame(
        seq & 0xFFFFFFFF, uptime_ms, window_ms,
        _mv(r.main_v), _mv(r.main_min_v), _mv(r.main_max_v),
        _mv(r.sos_v), _mv(r.sos_min_v), _mv(r.sos_max_v),
        None if r.temp_c is None else int(round(r.temp_c * 10)),
        flags,
    )


def corrupt(line: bytes, rng: random.Random) -> bytes:
    """One kind of line damage a real cable produces: a flipped byte, a cut, or noise."""
    kind = rng.randrange(3)
    if kind == 0 and len(line) > 8:
        i = rng.randrange(1, len(line) - 7)
        return line[:i] + bytes([line[i] ^ 0x04]) + line[i + 1 :]
    if kind == 1:
        return line[: rng.randrange(2, max(3, len(line) - 6))] + b"\r\n"
    return bytes(rng.randrange(33, 127) for _ in range(rng.randrange(5, 40))) + b"\r\n"


class AdcEmulator:
    """Replays readings as frames on a pty, paced by ``speed`` (0: as fast as the reader takes).

    ``unplug()``/``replug()`` imitate a USB adapter pulled out and put back: the pty goes
    away (the reader sees an I/O error), the link path disappears, then a new pty appears
    under the same link path.
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
    ) -> None:
        self._readings: Iterator[Reading] = iter(readings)
        self.speed = speed
        self.link = link
        self.noise = noise
        self.default_window_s = default_window_s
        # Opening a serial port flushes its input, so frames written before the reader is
        # there are lost; with wait_hello the stream starts when the Pi says HELLO.
        self.wait_hello = wait_hello
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._master: int | None = None
        self._slave: int | None = None
        self.device_path = ""
        self.stop_event = threading.Event()
        self.done = threading.Event()  # set when every reading has been written
        self.frames_written = 0
        self.lines_written = 0
        self.corrupted = 0
        self.commands: list[str] = []
        self.rate_hz = 1.0
        self._plugged = threading.Event()
        self._uptime_ms = BOOT_UPTIME_MS
        self._clock: tuple[int, int] | None = None  # (uptime_ms, unix_ms) of the last frame
        self._open_pty()

    # -- pty handling ------------------------------------------------------------------
    def _open_pty(self) -> None:
        master, slave = os.openpty()
        # raw and no echo, or the kernel would echo our own frames back to us as "commands"
        tty.setraw(slave)
        tty.setraw(master)
        self._master, self._slave = master, slave
        self.device_path = os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.device_path)
            tmp.replace(self.link)  # atomic: a reader never sees a half-made link
        self._plugged.set()
        self._pending_hello = True

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
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
                self._open_pty()
        logger.info("adc-sim: plugged in at %s", self.port)

    def close(self) -> None:
        self.stop_event.set()
        with self._lock:
            self._close_pty()

    # -- device behaviour --------------------------------------------------------------
    def _write(self, data: bytes) -> bool:
        """Write a whole line; blocks while the reader lags (the pty buffer is the backpressure)."""
        while not self.stop_event.is_set():
            with self._lock:
                fd = self._master
            if fd is None:
                return False
            try:
                _, w, _ = select.select([], [fd], [], 0.2)
                if not w:
                    self._serve_commands()
                    continue
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

    def _serve_commands(self, timeout: float = 0.0) -> None:
        """Answer whatever the Pi sent (HELLO, RATE, FAST, TRIG, TIME, SLEEP)."""
        with self._lock:
            fd = self._master
        if fd is None:
            return
        try:
            r, _, _ = select.select([fd], [], [], timeout)
            if not r:
                return
            data = os.read(fd, 4096)
        except OSError:
            return
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                cmd = parse_command(raw)
            except FrameError as e:
                self._write(encode_ack(Ack("?", False, e.kind)))
                continue
            self.commands.append(cmd.name)
            if cmd.name == "HELLO":
                self._write(self._hello())
                if self._clock is not None:
                    # like a board with an RTC: the clock follows the hello
                    self._write(encode_time(DeviceTime(*self._clock)))
            elif cmd.name == "RATE" and cmd.args:
                try:
                    rate = float(cmd.args[0])
                except ValueError:
                    rate = -1.0
                if 0.01 <= rate <= 100:
                    self.rate_hz = rate
                    self._write(encode_ack(Ack("RATE", True)))
                else:
                    self._write(encode_ack(Ack("RATE", False, "range")))
            elif cmd.name in ("FAST", "TRIG"):
                # a log replay cannot show more detail than it has; acknowledge honestly
                self._write(encode_ack(Ack(cmd.name, True, "replay")))
            elif cmd.name in ("TIME", "SLEEP"):
                self._write(encode_ack(Ack(cmd.name, False, "unsupported")))
            else:
                self._write(encode_ack(Ack(cmd.name, False, "unknown")))

    def run(self) -> None:
        """Write every reading as a frame, paced to ``speed``; returns at the end or on close()."""
        t0: float | None = None
        prev_t: float | None = None
        seq = 0
        since_time = TIME_EVERY
        while self.wait_hello and "HELLO" not in self.commands and not self.stop_event.is_set():
            self._serve_commands(timeout=0.2)
        real0 = time.monotonic()
        for r in self._readings:
            if self.stop_event.is_set():
                return
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
            if not self._plugged.is_set():
                # unplugged: the board keeps sampling but nobody hears it; the Pi will see
                # the sequence gap and count the frames as lost
                seq += 1
                prev_t = r.t
                continue
            self._uptime_ms = BOOT_UPTIME_MS + int(round((r.t - t0) * 1000))
            self._clock = (self._uptime_ms, int(round(r.t * 1000)))
            gap = (r.t - prev_t) if prev_t is not None else self.default_window_s
            window_s = r.window_s or min(gap, 3600.0)
            prev_t = r.t
            flags = FLAG_BOOT if seq == 0 else 0
            if self._pending_hello:
                self._pending_hello = False
                self._write(self._hello())
                since_time = TIME_EVERY
            if since_time >= TIME_EVERY:
                since_time = 0
                self._write(encode_time(DeviceTime(*self._clock)))
            since_time += 1
            fr = reading_to_frame(r, seq, self._uptime_ms, int(round(window_s * 1000)), flags)
            seq += 1
            if self._send(encode_frame(fr)):
                self.frames_written += 1
            self._serve_commands()
        self.done.set()

    def start(self) -> threading.Thread:
        th = threading.Thread(target=self.run, name="adc-sim", daemon=True)
        th.start()
        return th


def _readings_for(args: argparse.Namespace) -> Iterable[Reading]:
    csv_path = args.csv
    if csv_path:
        return _csv_readings(Path(csv_path))
    from battwatch import scenarios

    return scenarios.generate(args.scenario, seed=args.seed)


def _csv_readings(path: Path) -> Iterator[Reading]:
    """Good rows of a log; bad rows are skipped with a warning, like replay does."""
    import csv
    import sys

    from battwatch.core.csvlog import RowError, RowParser
    from battwatch.replay import open_log

    with open_log(path) as fh:
        reader = csv.reader(fh)
        parser = RowParser(next(reader))
        for row in reader:
            if not row:
                continue
            try:
                yield parser.parse(row)
            except RowError as e:
                print(f"adc-sim: {path}:{reader.line_num}: row skipped: {e}", file=sys.stderr)


def run_cli(args: argparse.Namespace) -> int:
    """``battwatch adc-sim``: serve until the data ends (with --exit-at-end) or a signal."""
    import signal
    import sys

    from battwatch import scenarios
    from battwatch.core.csvlog import CsvFormatError

    if args.list_scenarios:
        for name in scenarios.names():
            print(f"{name:28} {scenarios.describe(name).splitlines()[0][:100]}")
        return 0
    name = args.scenario
    if name and name not in scenarios.names():
        print(f"adc-sim: unknown scenario {name!r}; try --list-scenarios", file=sys.stderr)
        return 2
    csv_path = args.csv
    if csv_path and not Path(csv_path).is_file():
        print(f"adc-sim: {csv_path}: no such file", file=sys.stderr)
        return 2
    link = Path(args.link) if args.link else None
    emu = AdcEmulator(
        _readings_for(args),
        speed=float(args.speed),
        link=link,
        noise=float(args.noise),
        seed=int(args.seed),
        wait_hello=bool(args.wait_hello),
    )
    print(f"adc-sim: serving on {emu.device_path}" + (f" (link {link})" if link else ""), flush=True)
    stop = threading.Event()

    def on_signal(sig: int, frame: object) -> None:
        if sig == signal.SIGUSR1:
            emu.unplug()
        elif sig == signal.SIGUSR2:
            emu.replug()
        else:
            stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, on_signal)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            emu.run()
        except CsvFormatError as e:
            errors.append(e)
            stop.set()

    th = threading.Thread(target=run, name="adc-sim", daemon=True)
    th.start()
    unplug_after = args.unplug_after
    if unplug_after is not None:
        def script() -> None:
            if not stop.wait(unplug_after):
                emu.unplug()
                if not stop.wait(float(args.unplug_for)):
                    emu.replug()

        threading.Thread(target=script, daemon=True).start()
    exit_at_end = bool(args.exit_at_end)
    while not stop.is_set():
        if exit_at_end and emu.done.is_set():
            break
        stop.wait(0.2)  # wakes for signals; the emulator thread does the work
    emu.close()
    th.join(2)
    if errors:
        print(f"adc-sim: {errors[0]}", file=sys.stderr)
        return 2
    print(
        f"adc-sim: {emu.frames_written} frames written, {emu.corrupted} damaged on purpose",
        file=sys.stderr,
    )
    return 0
