"""Serial source: reads ADC lines on a thread, reconnects with capped backoff, only enqueues."""

from __future__ import annotations

import logging
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from battwatch.core.model import Command, LinkDown, LinkUp
from battwatch.core.protocol import MAX_LINE, encode_command

logger = logging.getLogger(__name__)

READ_MAX = 65536  # bytes per read: many frames when the board sends what it kept
# Lines are taken at most this often: at 100 frames/s, ten frames per wake-up of this thread and
# of the main loop instead of one each. A wake-up costs more than a frame's Python on a Pi (and
# ~150 us of CPU on a loaded VM): going from 50 to 100 ms took the daemon from about 130 to 95 us
# per frame. 100 ms of delay means nothing to the readings, which carry the board's own times,
# nor to the silence watchdog (seconds); the kernel's 4 KB tty buffer holds over half a second.
BATCH_S = 0.1
# A read of this much means lines arrive faster than one batch holds (a board sending what it
# kept, a pty fed without pause): read again at once. A tty hands at most 4 KB per read; a
# batch of 100 frames/s is about 600 bytes.
BACKLOG_BYTES = 2048


def _keep_dtr_on_close(port: Any) -> None:
    """Clear HUPCL, so that closing the port leaves DTR raised. An Arduino Nano or Uno resets
    whenever its USB bridge raises DTR; with DTR left high a daemon that stops and starts again
    raises nothing, and the board keeps its frames (firmware/README.md). Only the first open
    after the adapter appears resets the board (the firmware keeps its frames across that)."""
    fd = getattr(port, "fd", None)
    if not isinstance(fd, int):
        return  # not a local tty (rfc2217://, socket://, loop://)
    import termios  # a local tty: a POSIX system

    try:
        attrs = termios.tcgetattr(fd)
        if attrs[2] & termios.HUPCL:
            attrs[2] &= ~termios.HUPCL
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except (OSError, termios.error) as e:
        logger.debug("serial: cannot clear HUPCL: %s", e)


class RawLine(NamedTuple):
    """One line as it came off the wire, stamped with the host clock on arrival."""

    t: float
    line: bytes


class SerialSource:
    """Owns the port. Everything it learns goes on ``inbox``; it never touches analysis state."""

    def __init__(
        self,
        url: str,
        baudrate: int,
        inbox: queue.Queue[Any],
        *,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        read_timeout_s: float = 0.2,
        batch_s: float = BATCH_S,
        write_timeout_s: float = 1.0,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.inbox = inbox
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.read_timeout_s = read_timeout_s
        self.batch_s = batch_s
        self.write_timeout_s = write_timeout_s
        self.send_timeouts = 0  # commands the board did not take within write_timeout_s
        self._stop = threading.Event()
        self._keep_open = False  # stop(close=False): the port outlives the reader for a last word
        self._port: Any = None
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="serial", daemon=True)
        self.connects = 0
        self.disconnects = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0, *, close: bool = True) -> None:
        """Stop reading. With ``close=False`` the port stays open, so ``send`` can still say a
        last word (the daemon's final ACK) until ``close()``."""
        self._keep_open = not close
        self._stop.set()
        port = self._port
        if port is not None:
            try:
                port.cancel_read()  # wake the blocking read at once instead of waiting it out
            except Exception:  # noqa: BLE001 - not every port type can cancel
                pass
        self._thread.join(timeout)

    def close(self) -> None:
        """Close a port that ``stop(close=False)`` left open."""
        with self._write_lock:
            port, self._port = self._port, None
            if port is not None:
                try:
                    port.close()
                except Exception:  # noqa: BLE001
                    pass

    def send(self, cmd: Command) -> bool:
        """Write a command to the device (any thread); False when the link is down."""
        port = self._port
        if port is None:
            return False
        import serial  # pyserial; already loaded by the open that made the port

        try:
            with self._write_lock:
                port.write(encode_command(cmd))
            return True
        except serial.SerialTimeoutException:
            # A board that stopped reading its input (busy, wedged, an emulator past its data)
            # fills the line's buffer; the main loop must not wait on it. The next ACK says
            # again what this one said, and a lost RATE is sent again at the next change.
            self.send_timeouts += 1
            if self.send_timeouts == 1:
                logger.warning("serial: the board does not take commands (%s not sent within %.1f s)",
                               cmd.name, self.write_timeout_s)
            return False
        except Exception as e:  # noqa: BLE001 - a dying port raises many kinds of errors
            logger.debug("serial: cannot send %s: %s", cmd.name, e)
            return False

    # -- reader thread -----------------------------------------------------------------
    def _open(self) -> Any:
        import serial  # pyserial; imported here so the CLI's --help stays light

        port = serial.serial_for_url(self.url, do_not_open=True)
        port.baudrate = self.baudrate
        port.timeout = self.read_timeout_s
        port.write_timeout = self.write_timeout_s  # the main loop writes commands: never wait long
        if hasattr(port, "exclusive"):
            try:
                port.exclusive = True  # a second battwatch on the same adapter is a mistake
            except (ValueError, AttributeError):
                pass
        port.open()  # DTR stays raised (pyserial's default): no falling edge to reset a Nano
        _keep_dtr_on_close(port)
        return port

    def _run(self) -> None:
        delay = self.reconnect_min_s
        down_reported = False
        while not self._stop.is_set():
            try:
                port = self._open()
            except Exception as e:  # noqa: BLE001 - SerialException, OSError, ValueError (bad URL)
                if not down_reported:
                    logger.warning("serial: cannot open %s: %s (retrying)", self.url, e)
                    self.inbox.put(LinkDown(time.time(), f"cannot open {self.url}: {e}"))
                    down_reported = True
                self._stop.wait(delay)
                delay = min(delay * 2, self.reconnect_max_s)
                continue
            self._port = port
            self.connects += 1
            down_reported = False
            delay = self.reconnect_min_s
            logger.info("serial: %s open", self.url)
            self.inbox.put(LinkUp(time.time(), self.url))
            reason = self._read_loop(port)
            if self._stop.is_set() and self._keep_open:
                break
            # closed under the write lock: a send() from another thread then finds the port
            # closed (and says the link is down) instead of writing to a descriptor number the
            # kernel may already have handed to another file
            with self._write_lock:
                self._port = None
                try:
                    port.close()
                except Exception:  # noqa: BLE001
                    pass
            if self._stop.is_set():
                break
            self.disconnects += 1
            logger.warning("serial: %s lost: %s", self.url, reason)
            self.inbox.put(LinkDown(time.time(), reason))
            down_reported = True
            self._stop.wait(delay)

    def _reader(self, port: Any) -> Callable[[], bytes]:
        """What reads whatever bytes have arrived (b"" after ``read_timeout_s`` of nothing).

        A port with a descriptor (a tty, a pty) is read with one select() and one os.read()
        per wake-up: all the lines that have arrived. pyserial's read(1)-then-the-rest took three
        of its reads (each a select, a read and a timeout object) for every frame. A port without
        a descriptor (socket://, rfc2217://) is read through pyserial.
        """
        try:
            fd = port.fileno()
        except Exception:  # noqa: BLE001 - io.UnsupportedOperation, or a URL handler's own error
            return lambda: bytes(port.read(port.in_waiting or 1))
        abort = getattr(port, "pipe_abort_read_r", None)  # pyserial's cancel_read() writes here
        watch = [fd] if abort is None else [fd, abort]
        timeout = self.read_timeout_s
        select_ = select.select
        read = os.read

        def read_fd() -> bytes:
            ready = select_(watch, [], [], timeout)[0]
            if not ready:
                return b""
            if abort is not None and abort in ready:
                read(abort, 1000)  # stop() woke us: the loop looks at the stop flag
                return b""
            try:
                data = read(fd, READ_MAX)
            except (BlockingIOError, InterruptedError):  # the port is non-blocking; a signal
                return b""
            if not data:  # what an unplugged USB adapter looks like on Linux
                raise OSError("device reports readiness to read but returned no data (device disconnected?)")
            return data

        return read_fd

    def _read_loop(self, port: Any) -> str:
        buf = b""
        put = self.inbox.put
        read = self._reader(port)
        while not self._stop.is_set():
            try:
                chunk = read()
            except Exception as e:  # noqa: BLE001 - unplugged USB shows up as SerialException/OSError
                return str(e) or type(e).__name__
            if not chunk:
                continue
            now = time.time()
            buf += chunk
            if b"\n" not in buf:
                if len(buf) > MAX_LINE:
                    put(RawLine(now, buf))  # the decoder counts it as garbage; resync at next \n
                    buf = b""
                continue
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    put(RawLine(now, line))
            if self.batch_s > 0 and len(chunk) < BACKLOG_BYTES:
                self._stop.wait(self.batch_s)  # let the next frames gather (BATCH_S)
        return "stopped"
