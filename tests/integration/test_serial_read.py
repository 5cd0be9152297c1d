"""How the serial reader takes bytes: straight from a tty's descriptor, through pyserial for a URL port."""

from __future__ import annotations

import os
import queue
import socket
import threading
from pathlib import Path

import pytest

from battwatch.adapters.serial_source import RawLine, SerialSource
from battwatch.core.model import LinkDown, LinkUp

pytestmark = pytest.mark.serial

TIMEOUT = 10.0


def _next(inbox: queue.Queue[object], kind: type) -> object:
    while True:
        ev = inbox.get(timeout=TIMEOUT)
        if isinstance(ev, kind):
            return ev


def test_lines_split_across_writes_and_many_in_one_write_arrive_whole_from_a_pty() -> None:
    master, slave = os.openpty()
    inbox: queue.Queue[object] = queue.Queue()
    src = SerialSource(os.ttyname(slave), 115200, inbox, reconnect_min_s=0.05)
    src.start()
    try:
        _next(inbox, LinkUp)
        os.write(master, b"$BWD,1,2")
        os.write(master, b",3*00\n$BWD,4*00\r\n\n$BWD,5*00\n$BWD,")  # the last one is finished below
        os.write(master, b"6*00\n")
        got = [_next(inbox, RawLine).line for _ in range(4)]  # type: ignore[attr-defined]
        assert got == [b"$BWD,1,2,3*00", b"$BWD,4*00\r", b"$BWD,5*00", b"$BWD,6*00"]
        os.close(master)  # the adapter goes away: the reader says so instead of spinning
        master = -1
        down = _next(inbox, LinkDown)
        assert down.reason  # type: ignore[attr-defined]
    finally:
        src.stop()
        os.close(slave)
        if master >= 0:
            os.close(master)


def test_a_port_without_a_descriptor_is_read_through_pyserial(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    ready = threading.Event()

    def accept() -> None:
        conn, _ = server.accept()
        accepted.append(conn)
        ready.set()

    threading.Thread(target=accept, daemon=True).start()
    inbox: queue.Queue[object] = queue.Queue()
    src = SerialSource(f"socket://127.0.0.1:{port}", 115200, inbox, reconnect_min_s=0.05)
    src.start()
    try:
        _next(inbox, LinkUp)
        assert ready.wait(TIMEOUT)
        accepted[0].sendall(b"$BWD,7*00\n$BWD,8")
        accepted[0].sendall(b"*00\n")
        got = [_next(inbox, RawLine).line for _ in range(2)]  # type: ignore[attr-defined]
        assert got == [b"$BWD,7*00", b"$BWD,8*00"]
    finally:
        src.stop()
        for conn in accepted:
            conn.close()
        server.close()
