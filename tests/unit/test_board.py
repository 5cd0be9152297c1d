"""The daemon's talk with the ADC board through its main loop: the commands on connecting, sent
again when a starting board lost them, frames held for the hello, ACK once the store committed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from battwatch import config
from battwatch.adapters.serial_source import RawLine
from battwatch.app import App
from battwatch.core.model import Ack, Command, Frame, Hello, LinkUp
from battwatch.core.protocol import encode_ack, encode_frame, encode_hello

T0 = 1_765_000_000.0  # host time of the link-up (2025-12-06)


class Wire:
    """The serial port's writing side: what the daemon sent, in order."""

    def __init__(self) -> None:
        self.sent: list[Command] = []

    def send(self, cmd: Command) -> bool:
        self.sent.append(cmd)
        return True

    def names(self) -> list[str]:
        return [c.name for c in self.sent if c.name != "TIME"]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[App, Wire]]:
    cfg = config.defaults("car-b", store={"path": str(tmp_path / "store")},
                          adc={"port": str(tmp_path / "no-adc")}, clock={"host": "trusted"})
    app = App(cfg, sinks=[], use_scheduler=False)
    wire = Wire()
    app.board.source = wire  # type: ignore[assignment]
    try:
        yield app, wire
    finally:
        app.store.close()


def hello(uptime_ms: int) -> bytes:
    return encode_hello(Hello(1, "test-1", "test", 16, 1.0, uptime_ms))


def frame(seq: int) -> bytes:
    return encode_frame(Frame(seq, 6_000 + seq * 1_000, 1_000, 12_600, 12_600, 12_600, 5_200, 5_200, 5_200, 200, 0))


def test_commands_a_starting_board_lost_go_out_again_once(daemon: tuple[App, Wire]) -> None:
    app, wire = daemon
    app._handle(LinkUp(T0, "no-adc"))
    assert wire.names() == ["ACK", "HELLO", "RATE", "TRIG"]
    wire.sent.clear()
    app._handle(RawLine(T0 + 1.0, hello(5_000)))  # the board's own hello after its boot
    app._handle(RawLine(T0 + 2.0, frame(0)))
    assert wire.names() == []  # an answer may still come
    app._handle(RawLine(T0 + 3.5, frame(1)))  # 2.5 s after the hello, nothing answered
    assert wire.names() == ["ACK", "HELLO", "RATE", "TRIG"]
    wire.sent.clear()
    for i in range(2, 12):  # still no answer: the frames go on, the commands are not sent a third time
        app._handle(RawLine(T0 + 2.0 + i, frame(i)))
    assert "HELLO" not in wire.names()
    assert app.board.keeps is None and app.board.prelude is None


def test_a_board_that_keeps_frames_gets_them_acknowledged_after_the_commit(daemon: tuple[App, Wire]) -> None:
    app, wire = daemon
    app._handle(LinkUp(T0, "no-adc"))
    app._handle(RawLine(T0 + 0.1, frame(0)))  # before the hello: held
    app._handle(RawLine(T0 + 0.2, encode_ack(Ack("ACK", True))))
    assert app.board.keeps is True and app.board.prelude is not None
    app._handle(RawLine(T0 + 0.3, hello(7_000)))
    # the board sends what it kept again after its hello: the held line is not stored twice
    assert app.board.prelude is None and app.store.accepted == 0
    wire.sent.clear()
    for i in range(0, 3):
        app._handle(RawLine(T0 + 1.0 + i, frame(i)))
    assert app.store.accepted == 3
    assert [c for c in wire.sent if c.name == "ACK"] == []  # nothing is on disk yet
    app._flush_sinks()
    app.board.ack_stored()
    assert [c.args for c in wire.sent if c.name == "ACK"] == [("2",)]
    assert app.board.acked == 2
