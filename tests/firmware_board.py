"""The firmware's real binary in board-sim (simavr), and `battwatch run` on its link, for tests."""

from __future__ import annotations

import os
import queue
import re
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers import Proc, battwatch

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "firmware" / "build"
ELF = BUILD / "battwatch-adc.elf"
SIM = BUILD / "board-sim"

# hal_avr.c's analogue front end: tap volts per ADC code (4.096 V reference, nominal dividers)
MAIN_LSB_V = 4.096 / 1024 * 1255 / 255
SOS_LSB_V = 4.096 / 1024 * 2210 / 1210
TEMP_LSB_C = 0.4  # 4 mV per code, 10 mV per degC

_build_lock = threading.Lock()
_built = False


def build_firmware() -> None:
    """`make -C firmware sim` once per test session (a fresh clone builds it here)."""
    global _built
    with _build_lock:
        if _built:
            return
        done = subprocess.run(["make", "-C", str(ROOT / "firmware"), "sim"], capture_output=True, text=True)
        assert done.returncode == 0, f"make -C firmware sim failed:\n{done.stdout}\n{done.stderr}"
        _built = True


class Watched(Proc):
    """A process whose output lines can be awaited from a given line onwards; with
    ``stdin=True`` the test types into it (``type``)."""

    def __init__(self, args: Sequence[str], *, stdin: bool = False) -> None:
        self.args = list(args)
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self.p = subprocess.Popen(self.args, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def type(self, text: str, *, end: bool = False) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(text)
        self.p.stdin.flush()
        if end:
            self.p.stdin.close()

    def wait_after(self, pattern: str, start: int = 0, timeout: float = 90.0) -> tuple[int, re.Match[str]]:
        """The first line at index ``start`` or later matching ``pattern``: (index, match)."""
        rx = re.compile(pattern)
        i = start
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                if deadline.is_set():
                    break
                try:
                    line = self._q.get(timeout=0.1)
                except queue.Empty:
                    continue
                if line is None:
                    break
                self.lines.append(line)
        finally:
            timer.cancel()
        raise AssertionError(f"no line matching {pattern!r} after line {start} within {timeout} s from "
                             f"{self.args[0]}; last lines:\n" + "\n".join(self.lines[-30:]))

    def wait_until(self, pattern: str, ok: object, start: int = 0, timeout: float = 90.0) -> tuple[int, re.Match[str]]:
        """Like wait_after, for the first match that ``ok(match)`` accepts."""
        assert callable(ok)
        i = start
        while True:
            i, m = self.wait_after(pattern, i, timeout)
            if ok(m):
                return i, m
            i += 1


Row = tuple[float, float, float, float | None] | tuple[float, float, float, float | None, float]


def volts_csv(path: Path, rows: Sequence[Row]) -> Path:
    """t_ms, main_v, sos_v (the pack's own voltage), temp_c and, optionally, sos_minus_v (the
    pack's minus against the board's ground)."""
    path.write_text("t_ms,main_v,sos_v,temp_c,sos_minus_v\n" + "".join(
        f"{r[0]},{r[1]},{r[2]},{'' if r[3] is None else r[3]},{r[4] if len(r) > 4 else 0}\n"  # type: ignore[misc]
        for r in rows))
    return path


@dataclass
class TraceFrame:
    """A BWD line the board sent, from board-sim's trace."""

    sim_s: float
    delivered: bool
    seq: int
    uptime_ms: int
    window_ms: int
    flags: int


class Board:
    """board-sim running the firmware, its trace on standard output."""

    def __init__(self, tmp: Path, rows: Sequence[Row], *, reset_on_open: bool = False) -> None:
        build_firmware()
        self.tmp = tmp
        self.link = tmp / "adc-link"
        self.pi_file = tmp / "pi-power"
        self.volts = volts_csv(tmp / "volts.csv", rows)
        self.proc = Watched([str(SIM), str(ELF), "--link", str(self.link), "--volts", str(self.volts),
                             "--pi-power", str(self.pi_file), "--trace", "-"]
                            + (["--reset-on-open"] if reset_on_open else []))
        self.proc.wait_after(r"board-sim: .* on ", timeout=30)

    def set_volts(self, rows: Sequence[Row]) -> int:
        """New voltages from now on (t_ms counted from now); returns the trace index of the switch."""
        volts_csv(self.volts, rows)
        start = len(self.proc.lines)
        self.proc.signal(signal.SIGUSR1)
        i, _ = self.proc.wait_after(r"^\S+ volts ", start)
        return i

    def wait(self, pattern: str, start: int = 0, timeout: float = 90.0) -> tuple[int, re.Match[str]]:
        return self.proc.wait_after(pattern, start, timeout)

    def wait_ack(self, at_least: int, start: int = 0, timeout: float = 90.0) -> tuple[int, int]:
        """An ACK from the daemon for frame ``at_least`` or later: (trace index, seq)."""
        i, m = self.proc.wait_until(r"^\S+ < \$BWC,ACK,(\d+)\*", lambda m: int(m.group(1)) >= at_least,
                                    start, timeout)
        return i, int(m.group(1))

    def frames(self, start: int = 0, end: int | None = None) -> list[TraceFrame]:
        out = []
        for line in self.proc.lines[start:end]:
            m = re.match(r"^(\S+) ([>x]) \$BWD,(\d+),(\d+),(\d+),(?:[^,]*,){7}([0-9A-F]+)\*", line)
            if m:
                out.append(TraceFrame(float(m.group(1)), m.group(2) == ">", int(m.group(3)), int(m.group(4)),
                                      int(m.group(5)), int(m.group(6), 16)))
        return out

    def acks(self) -> list[int]:
        return [int(m.group(1)) for line in self.proc.lines
                if (m := re.match(r"^\S+ < \$BWC,ACK,(\d+)\*", line))]

    def stop(self) -> None:
        self.proc.stop()


def daemon_config(tmp: Path, link: Path, store: Path, name: str = "car.toml", *, commit_s: float = 1.0,
                  rate_hz: float = 1.0, trigger_mv: int = 0, extra: str = "", adc_extra: str = "") -> Path:
    """A configuration for `battwatch run` on the board: a pinned frame rate (no sleep rate, no
    fast mode from the analysis), commits every ``commit_s``, a trusted host clock (the board
    has none)."""
    cfg = tmp / name
    cfg.write_text(
        '[vehicle]\nid = "sim-car"\n'
        f'[adc]\nport = "{link}"\nframe_rate_hz = {rate_hz}\nsleep_rate_hz = {rate_hz}\nfast_seconds = 0\n'
        f"crank_trigger_mv = {trigger_mv}\nsilent_after_s = 30\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n"
        + adc_extra +
        f'[store]\npath = "{store}"\ncommit_interval_s = {commit_s}\ncommit_rows = 100000\n'
        '[clock]\nhost = "trusted"\n' + extra
    )
    return cfg


def start_daemon(cfg: Path) -> Watched:
    p = Watched(battwatch("run", "-c", str(cfg), "--log-level", "debug"))
    p.wait_after(r"battwatch starting", timeout=60)
    return p


def readings(store: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(store / "battwatch.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM readings ORDER BY t").fetchall()
    finally:
        db.close()


def assert_every_frame_stored(board: Board, store: Path, daemon: Proc) -> list[sqlite3.Row]:
    """The store holds every window the board measured up to the frame the (stopped) daemon
    last acknowledged, once: their lengths add up to the board's uptime at that frame's end.
    (Frames the board had to merge while nobody read are fewer rows, covering the same time.)"""
    told = re.findall(r"ADC told that frames up to (\d+) are stored", daemon.output)
    assert told, "the daemon acknowledged nothing at its stop"
    last = int(told[-1])
    _, m = board.proc.wait_until(r"[>x] \$BWD,(\d+),(\d+),", lambda m: int(m.group(1)) == last)
    rows = readings(store)
    assert round(sum(r["window_s"] for r in rows) * 1000) == int(m.group(2)), (len(rows), last)
    assert len(rows) <= last + 1
    assert all(r["flags"] & 0x10 for r in rows if r["window_s"] > 1.0), "merged windows are buffered"
    return rows


def bad_lines(daemon: Proc) -> list[str]:
    """The daemon's complaints about what came over the link, and any traceback."""
    return [line for line in daemon.lines if re.search(r"line #\d+ skipped|Traceback|ERROR", line)]
