"""The ADC wire protocol: CRC, parsing, encoding and the examples of firmware-notes/protocol.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from battwatch.core.model import Ack, Command, DeviceTime, Frame, Hello
from battwatch.core.protocol import (
    MAX_LINE,
    FrameError,
    crc16,
    encode_ack,
    encode_command,
    encode_frame,
    encode_hello,
    encode_time,
    frame_line,
    parse_command,
    parse_line,
    seq_gap,
)

DOC = Path(__file__).resolve().parents[2] / "firmware-notes" / "protocol.md"


def test_crc_matches_the_published_check_value() -> None:
    """CRC-16/CCITT-FALSE of '123456789' is 0x29B1 (the catalogue check value)."""
    assert crc16(b"123456789") == 0x29B1


def test_every_example_line_in_the_protocol_doc_is_valid() -> None:
    """A firmware author copies these examples: each must carry a correct CRC."""
    examples = re.findall(r"^(\$BW[A-Z],[^\s]*\*[0-9A-F]{4})$", DOC.read_text(), re.M)
    assert len(examples) >= 4
    for line in examples:
        body = line[1:-5]
        assert frame_line(body).rstrip(b"\r\n").decode() == line


def test_data_frame_example_parses_to_its_fields() -> None:
    fr = parse_line(b"$BWD,41,41250,1000,12640,12631,12652,5210,5208,5213,85,0*C641\r\n")
    assert fr == Frame(41, 41250, 1000, 12640, 12631, 12652, 5210, 5208, 5213, 85, 0)


def test_frame_round_trip_with_absent_channels_and_flags() -> None:
    fr = Frame(7, 123456789012, 10, None, None, None, 4801, 4790, 4820, -123, 0x19)
    line = encode_frame(fr)
    assert line.endswith(b"\r\n") and b",,,4801," in line
    assert parse_line(line) == fr


def test_hello_time_ack_round_trip() -> None:
    h = Hello(1, "1.2.0", "bw-adc-r1", 16, 0.2, 5210)
    assert parse_line(encode_hello(h)) == h
    d = DeviceTime(5210, 1735689600123)
    assert parse_line(encode_time(d)) == d
    a = Ack("RATE", False, "range")
    assert parse_line(encode_ack(a)) == a


def test_command_round_trip() -> None:
    c = Command("FAST", ("30", "100"))
    assert encode_command(c) == b"$BWC,FAST,30,100*7CD0\r\n"
    assert parse_command(encode_command(c)) == c


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"$BWD,41,41250,1000,12640,12631,12652,5210,5208,5213,85,0*C642", "checksum"),
        (b"BWD,41,41250*C641", "garbage"),
        (b"\x00\xff\x13garbage", "garbage"),
        (b"$BWD,41,41250,1000,126", "partial"),
        (b"$BWD,41,41250,1000,12640*ZZZZ", "garbage"),
        (b"$" + b"A" * MAX_LINE + b"*0000", "garbage"),
    ],
)
def test_bad_lines_raise_frame_error_with_their_kind(line: bytes, kind: str) -> None:
    with pytest.raises(FrameError) as e:
        parse_line(line)
    assert e.value.kind == kind


def test_valid_crc_but_wrong_field_count_is_malformed() -> None:
    with pytest.raises(FrameError) as e:
        parse_line(frame_line("BWD,1,2,3"))
    assert e.value.kind == "malformed"


def test_valid_crc_but_non_numeric_field_is_malformed() -> None:
    with pytest.raises(FrameError) as e:
        parse_line(frame_line("BWD,x,2,1000,1,1,1,1,1,1,,0"))
    assert e.value.kind == "malformed"


def test_unknown_frame_type_is_counted_not_fatal() -> None:
    with pytest.raises(FrameError) as e:
        parse_line(frame_line("BWZ,1"))
    assert e.value.kind == "unknown"


def test_non_ascii_body_with_matching_crc_is_garbage() -> None:
    body = "BWT,1,2é".encode("latin-1")
    line = b"$%s*%04X" % (body, crc16(body))
    with pytest.raises(FrameError) as e:
        parse_line(line)
    assert e.value.kind == "garbage"


def test_sequence_gap_counts_lost_frames_across_the_32_bit_wrap() -> None:
    assert seq_gap(5, 6) == 0
    assert seq_gap(5, 9) == 3
    assert seq_gap(0xFFFFFFFF, 0) == 0
    assert seq_gap(0xFFFFFFFE, 2) == 3


GOOD = "BWD,41,41250,1000,12640,12631,12652,5210,5208,5213,85,0"


def _with(index: int, value: str) -> bytes:
    f = GOOD.split(",")
    f[index] = value
    return frame_line(",".join(f))


@pytest.mark.parametrize(
    ("fields", "channel"),
    [
        ({4: "12640", 5: "12700"}, "main"),  # min above the average
        ({4: "12640", 6: "12600"}, "main"),  # max below the average
        ({4: "", 5: "12700", 6: "12600"}, "main"),  # no average, min above max
        ({7: "5200", 8: "5300"}, "sos"),
    ],
)
def test_a_channel_whose_min_avg_max_are_out_of_order_is_refused(fields: dict[int, str], channel: str) -> None:
    f = GOOD.split(",")
    for index, value in fields.items():
        f[index] = value
    with pytest.raises(FrameError) as e:
        parse_line(frame_line(",".join(f)))
    assert e.value.kind == "range" and f"BWD {channel} min" in str(e.value)


def test_a_channel_with_only_some_of_its_values_is_accepted_in_order() -> None:
    f = GOOD.split(",")
    f[5], f[6] = "", ""  # an average alone
    fr = parse_line(frame_line(",".join(f)))
    assert isinstance(fr, Frame) and fr.main_min_mv is None and fr.main_max_mv is None
    f[4], f[5], f[6] = "", "12500", "12700"  # extremes without an average
    fr = parse_line(frame_line(",".join(f)))
    assert isinstance(fr, Frame) and fr.main_avg_mv is None and fr.main_min_mv == 12500


@pytest.mark.parametrize(
    ("index", "value", "field"),
    [
        (2, "99999999999999999999999", "uptime_ms"),  # the audit's frame: above 64 bits
        (2, "18446744073709551616", "uptime_ms"),  # 2**64
        (1, "4294967296", "seq"),  # 2**32
        (3, "0", "window_ms"),
        (3, "86400001", "window_ms"),
        (4, "100000", "main_avg"),
        (9, "-100000", "sos_max"),
        (10, "2000", "temp"),
        (11, "20", "flags"),  # bit 5 is reserved
        (11, "80000000", "flags"),
    ],
)
def test_a_valid_crc_with_a_field_out_of_the_protocol_range_is_refused(index: int, value: str, field: str) -> None:
    with pytest.raises(FrameError) as e:
        parse_line(_with(index, value))
    assert e.value.kind == "range"
    assert field in str(e.value)


def test_the_largest_values_the_protocol_allows_still_parse() -> None:
    fr = parse_line(frame_line("BWD,4294967295,18446744073709551615,86400000,-99999,,99999,,,,-999,1F"))
    assert isinstance(fr, Frame)
    assert fr.seq == 0xFFFFFFFF and fr.uptime_ms == 2**64 - 1 and fr.window_ms == 86_400_000
    assert fr.flags == 0x1F and fr.temp_dc == -999


@pytest.mark.parametrize("value", [" 5", "+5", "1_000", "5 "])
def test_integers_are_plain_decimal_digits(value: str) -> None:
    """int() would take these; the protocol does not, so a firmware bug is seen, not masked."""
    with pytest.raises(FrameError) as e:
        parse_line(_with(1, value))
    assert e.value.kind == "malformed"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("BWH,1,fw,board,16,nan,5210", "range"),
        ("BWH,1,fw,board,16,inf,5210", "range"),
        ("BWH,1,fw,board,16,0,5210", "range"),
        ("BWH,1,fw,board,16,1,-1", "range"),
        ("BWH,1,fw,board,99,1,5210", "range"),
        ("BWT,5210,-1", "range"),
        ("BWT,5210,9223372036854775808", "range"),
        ("BWT,99999999999999999999999,1", "range"),
    ],
)
def test_hello_and_clock_fields_out_of_range_are_refused(body: str, kind: str) -> None:
    with pytest.raises(FrameError) as e:
        parse_line(frame_line(body))
    assert e.value.kind == kind


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"$BWC,RATE,1*9E9F\r\n", "checksum"),
        (b"BWC,RATE,1*9E9E\r\n", "syntax"),
        (frame_line("BWX,RATE"), "syntax"),
        (frame_line("BWC"), "syntax"),
    ],
)
def test_a_command_the_device_cannot_read_carries_its_ack_reason(line: bytes, reason: str) -> None:
    with pytest.raises(FrameError) as e:
        parse_command(line)
    assert e.value.kind == reason


def _ack_section() -> str:
    text = DOC.read_text()
    return text[text.index("### `BWA`") : text.index("## Pi → device")]


def test_the_error_reasons_in_the_doc_are_exactly_the_ones_a_device_sends() -> None:
    from battwatch.core.protocol import ACK_REASONS

    listed = re.findall(r"^\| `(\w+)` \|", _ack_section(), re.M)
    assert sorted(listed) == sorted(ACK_REASONS)
    examples = re.findall(r"^\$BWA,[^,]+,ERR,(\w+)\*", _ack_section(), re.M)
    assert sorted(examples) == sorted(ACK_REASONS)  # one example line for each reason
