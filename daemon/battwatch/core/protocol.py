"""The ADC wire protocol of firmware-notes/protocol.md: CRC, parsing and encoding (pure)."""

from __future__ import annotations

import math
from binascii import crc_hqx
from typing import Final

from battwatch.core.model import Ack, Command, DeviceMessage, DeviceTime, Frame, Hello

PROTO_VERSION = 1
MAX_LINE = 120  # bytes including the terminator; longer input is garbage by definition
_BWD_FIELDS = 12

# Field ranges of firmware-notes/protocol.md. A line with a valid CRC and a value outside them
# is refused as a whole ("range"): a firmware bug must not reach the time mapping or the store.
SEQ_MAX: Final = 0xFFFFFFFF  # 32-bit, wraps to 0
UPTIME_MAX: Final = 0xFFFFFFFFFFFFFFFF  # 64-bit milliseconds
WINDOW_MIN_MS: Final = 1
WINDOW_MAX_MS: Final = 86_400_000  # a day: the longest a board may merge buffered windows
MV_LIMIT: Final = 99_999  # |mV| on a channel, nominal divider: far beyond any 12 V system
TEMP_MIN_DC: Final = -999  # -99.9 °C
TEMP_MAX_DC: Final = 1999  # 199.9 °C
FLAGS_DEFINED: Final = 0x1F  # bits 0-4; the others are reserved and must be 0
ADC_BITS_MAX: Final = 32
HELLO_RATE_MAX_HZ: Final = 100.0
UNIX_MS_MAX: Final = 0x7FFFFFFFFFFFFFFF

# The reasons a device gives with ERR in a BWA acknowledgement (protocol.md lists the same).
ACK_REASONS: Final = ("checksum", "syntax", "range", "unknown", "unsupported")


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


def _int(kind: str, name: str, text: str, lo: int, hi: int) -> int:
    """A decimal field within [lo, hi]; int() alone would also take ' 5', '+5' and '1_000'."""
    digits = text[1:] if text.startswith("-") else text
    if not digits.isdigit() or not digits.isascii():
        raise FrameError("malformed", f"{kind} {name} {text[:24]!r} is not a decimal integer")
    v = int(text)
    if v < lo or v > hi:
        raise FrameError("range", f"{kind} {name} {text[:24]} is outside {lo}..{hi}")
    return v


def _opt(name: str, text: str, lo: int, hi: int) -> int | None:
    return _int("BWD", name, text, lo, hi) if text else None


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


def _data(f: list[str]) -> Frame:
    if len(f) != _BWD_FIELDS:
        raise FrameError("malformed", f"BWD has {len(f)} fields, expected {_BWD_FIELDS}")
    flags_text = f[11]
    flags = 0
    if flags_text:
        if len(flags_text) > 8 or any(c not in "0123456789abcdefABCDEF" for c in flags_text):
            raise FrameError("malformed", f"BWD flags {flags_text[:24]!r} is not hexadecimal")
        flags = int(flags_text, 16)
        if flags & ~FLAGS_DEFINED:
            raise FrameError("range", f"BWD flags {flags_text} set reserved bits (only 0x{FLAGS_DEFINED:02X} defined)")
    main = _channel("main", f[4], f[5], f[6])
    sos = _channel("sos", f[7], f[8], f[9])
    return Frame(
        _int("BWD", "seq", f[1], 0, SEQ_MAX),
        _int("BWD", "uptime_ms", f[2], 0, UPTIME_MAX),
        _int("BWD", "window_ms", f[3], WINDOW_MIN_MS, WINDOW_MAX_MS),
        main[0], main[1], main[2], sos[0], sos[1], sos[2],
        _opt("temp", f[10], TEMP_MIN_DC, TEMP_MAX_DC),
        flags,
    )


def _channel(name: str, avg_text: str, min_text: str, max_text: str) -> tuple[int | None, int | None, int | None]:
    """One channel's average, minimum and maximum, which must be in that order: a frame that
    says otherwise comes from a firmware bug, and as a reading it would be a row that no
    replay of the daily log accepts."""
    avg = _opt(f"{name}_avg", avg_text, -MV_LIMIT, MV_LIMIT)
    lo = _opt(f"{name}_min", min_text, -MV_LIMIT, MV_LIMIT)
    hi = _opt(f"{name}_max", max_text, -MV_LIMIT, MV_LIMIT)
    if (lo is not None and ((avg is not None and lo > avg) or (hi is not None and lo > hi))) or (
            hi is not None and avg is not None and avg > hi):
        raise FrameError("range", f"BWD {name} min {lo}, avg {avg}, max {hi}: expected min <= avg <= max")
    return avg, lo, hi


def _hello(f: list[str]) -> Hello:
    if len(f) != 7:
        raise FrameError("malformed", f"BWH has {len(f)} fields, expected 7")
    try:
        rate = float(f[5])
    except ValueError:
        raise FrameError("malformed", f"BWH rate_hz {f[5][:24]!r} is not a number") from None
    if not (math.isfinite(rate) and 0.0 < rate <= HELLO_RATE_MAX_HZ):
        raise FrameError("range", f"BWH rate_hz {f[5][:24]} is outside (0, {HELLO_RATE_MAX_HZ:g}]")
    return Hello(
        _int("BWH", "proto", f[1], 0, 999),
        f[2],
        f[3],
        _int("BWH", "adc_bits", f[4], 1, ADC_BITS_MAX),
        rate,
        _int("BWH", "uptime_ms", f[6], 0, UPTIME_MAX),
    )


def parse_line(line: bytes) -> DeviceMessage:
    """Parse one received line into a device message. Raises FrameError."""
    if len(line) > MAX_LINE:
        raise FrameError("garbage", f"line of {len(line)} bytes is longer than {MAX_LINE}")
    body = unwrap(line)
    f = body.split(",")
    kind = f[0]
    if kind == "BWD":
        return _data(f)
    if kind == "BWH":
        return _hello(f)
    if kind == "BWT":
        if len(f) != 3:
            raise FrameError("malformed", f"BWT has {len(f)} fields, expected 3")
        return DeviceTime(_int("BWT", "uptime_ms", f[1], 0, UPTIME_MAX), _int("BWT", "unix_ms", f[2], 0, UNIX_MS_MAX))
    if kind == "BWA":
        if len(f) < 3:
            raise FrameError("malformed", "BWA needs a command and a status")
        return Ack(f[1], f[2] == "OK", ",".join(f[3:]))
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
    # ten digits: 1000 / rate_hz must give back the window to the millisecond (1/600 Hz too)
    return frame_line(f"BWH,{h.proto},{h.firmware},{h.board},{h.adc_bits},{h.rate_hz:.10g},{h.uptime_ms}")


def encode_time(d: DeviceTime) -> bytes:
    return frame_line(f"BWT,{d.uptime_ms},{d.unix_ms}")


def encode_ack(a: Ack) -> bytes:
    tail = f",{a.detail}" if a.detail else ""
    return frame_line(f"BWA,{a.command},{'OK' if a.ok else 'ERR'}{tail}")


def encode_command(c: Command) -> bytes:
    return frame_line(",".join(("BWC", c.name, *c.args)))


def parse_command(line: bytes) -> Command:
    """Device side: a ``BWC`` line from the Pi. Raises FrameError whose kind is the ERR reason
    the device answers with: ``checksum`` for a bad CRC, ``syntax`` for anything else."""
    if len(line) > MAX_LINE:
        raise FrameError("syntax", f"line of {len(line)} bytes is longer than {MAX_LINE}")
    try:
        body = unwrap(line)
    except FrameError as e:
        raise FrameError("checksum" if e.kind == "checksum" else "syntax", str(e)) from None
    f = body.split(",")
    if f[0] != "BWC" or len(f) < 2 or not f[1]:
        raise FrameError("syntax", "not a BWC command")
    return Command(f[1], tuple(f[2:]))


def seq_gap(prev: int, cur: int) -> int:
    """Frames lost between two sequence numbers (32-bit wrap aware)."""
    return (cur - prev - 1) & 0xFFFFFFFF
