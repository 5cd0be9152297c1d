"""The ADC wire protocol of firmware-notes/protocol.md: CRC, parsing and encoding (pure)."""

from __future__ import annotations

from binascii import crc_hqx

from battwatch.core.model import Ack, Command, DeviceMessage, DeviceTime, Frame, Hello

PROTO_VERSION = 1
MAX_LINE = 120  # bytes including the terminator; longer input is garbage by definition
_BWD_FIELDS = 12


class FrameError(ValueError):
    """A line that is not a valid frame. ``kind`` names the counter it is booked under."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def crc16(body: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); binascii does it in C."""
    return crc_hqx(body, 0xFFFF)


def frame_line(body: str) -> bytes:
    """Wrap a body in ``$...*CRC\\r\\n``."""
    raw = body.encode("ascii")
    return b"$%s*%04X\r\n" % (raw, crc16(raw))


def _opt_int(text: str) -> int | None:
    return int(text) if text else None


def unwrap(line: bytes) -> str:
    """Check framing and CRC; return the body. Raises FrameError."""
    line = line.rstrip(b"\r\n")
    if not line.startswith(b"$"):
        raise FrameError("garbage", "does not start with '$'")
    star = line.rfind(b"*")
    if star < 0 or len(line) - star != 5:
        raise FrameError("partial", "no '*CRC' at the end")
    body = line[1:star]
    try:
        want = int(line[star + 1 :], 16)
    except ValueError:
        raise FrameError("garbage", "CRC is not hexadecimal") from None
    if crc16(body) != want:
        raise FrameError("checksum", f"CRC mismatch (got {want:04X}, computed {crc16(body):04X})")
    try:
        return body.decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("garbage", "non-ASCII bytes") from None


def parse_line(line: bytes) -> DeviceMessage:
    """Parse one received line into a device message. Raises FrameError."""
    if len(line) > MAX_LINE:
        raise FrameError("garbage", f"line of {len(line)} bytes is longer than {MAX_LINE}")
    body = unwrap(line)
    f = body.split(",")
    kind = f[0]
    try:
        if kind == "BWD":
            if len(f) != _BWD_FIELDS:
                raise FrameError("malformed", f"BWD has {len(f)} fields, expected {_BWD_FIELDS}")
            return Frame(
                int(f[1]),
                int(f[2]),
                int(f[3]),
                _opt_int(f[4]),
                _opt_int(f[5]),
                _opt_int(f[6]),
                _opt_int(f[7]),
                _opt_int(f[8]),
                _opt_int(f[9]),
                _opt_int(f[10]),
                int(f[11], 16) if f[11] else 0,
            )
        if kind == "BWH":
            if len(f) != 7:
                raise FrameError("malformed", f"BWH has {len(f)} fields, expected 7")
            return Hello(int(f[1]), f[2], f[3], int(f[4]), float(f[5]), int(f[6]))
        if kind == "BWT":
            if len(f) != 3:
                raise FrameError("malformed", f"BWT has {len(f)} fields, expected 3")
            return DeviceTime(int(f[1]), int(f[2]))
        if kind == "BWA":
            if len(f) < 3:
                raise FrameError("malformed", "BWA needs a command and a status")
            return Ack(f[1], f[2] == "OK", ",".join(f[3:]))
    except ValueError as e:
        raise FrameError("malformed", f"{kind}: {e}") from None
    raise FrameError("unknown", f"unknown frame type {kind[:8]!r}")


def encode_frame(fr: Frame) -> bytes:
    """A data frame as the device sends it."""

    def o(v: int | None) -> str:
        return "" if v is None else str(v)

    return frame_line(
        f"BWD,{fr.seq},{fr.uptime_ms},{fr.window_ms},{o(fr.main_avg_mv)},{o(fr.main_min_mv)},"
        f"{o(fr.main_max_mv)},{o(fr.sos_avg_mv)},{o(fr.sos_min_mv)},{o(fr.sos_max_mv)},"
        f"{o(fr.temp_dc)},{fr.flags:X}"
    )


def encode_hello(h: Hello) -> bytes:
    return frame_line(f"BWH,{h.proto},{h.firmware},{h.board},{h.adc_bits},{h.rate_hz:g},{h.uptime_ms}")


def encode_time(d: DeviceTime) -> bytes:
    return frame_line(f"BWT,{d.uptime_ms},{d.unix_ms}")


def encode_ack(a: Ack) -> bytes:
    tail = f",{a.detail}" if a.detail else ""
    return frame_line(f"BWA,{a.command},{'OK' if a.ok else 'ERR'}{tail}")


def encode_command(c: Command) -> bytes:
    return frame_line(",".join(("BWC", c.name, *c.args)))


def parse_command(line: bytes) -> Command:
    """Device side: a ``BWC`` line from the Pi. Raises FrameError."""
    f = unwrap(line).split(",")
    if f[0] != "BWC" or len(f) < 2:
        raise FrameError("unknown", "not a BWC command")
    return Command(f[1], tuple(f[2:]))


def seq_gap(prev: int, cur: int) -> int:
    """Frames lost between two sequence numbers (32-bit wrap aware)."""
    return (cur - prev - 1) & 0xFFFFFFFF
