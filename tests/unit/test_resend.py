"""Frames a board keeps until acknowledged and sends again: the decoder leaves out the ones it has."""

from __future__ import annotations

from battwatch.core.calibration import Calibration, FrameCalibrator
from battwatch.core.decoder import DeviceDecoder
from battwatch.core.model import FLAG_BUFFERED, Frame, Hello
from battwatch.core.protocol import encode_frame, encode_hello

T0 = 1_767_225_600.0  # 2026-01-01


def _decoder() -> DeviceDecoder:
    return DeviceDecoder(FrameCalibrator(Calibration(), Calibration(), 0.0, "car"))


def _frame(seq: int, uptime_ms: int, flags: int = 0, window_ms: int = 1000) -> bytes:
    return encode_frame(Frame(seq, uptime_ms, window_ms, 12640, 12631, 12652, 5210, 5208, 5213, 85, flags))


def _hello(uptime_ms: int) -> bytes:
    return encode_hello(Hello(1, "1.0.0", "bw-nano-r1", 10, 1.0, uptime_ms))


def test_frames_sent_again_after_a_reconnect_are_left_out_once_each() -> None:
    dec = _decoder()
    dec.feed(_hello(500), T0)
    got = [dec.feed(_frame(s, 1000 * (s + 1)), T0 + s + 0.5) for s in range(5)]
    assert all(r is not None for r in got)
    dec.link_reset()  # the port was opened again; the board did not reboot
    dec.feed(_hello(7100), T0 + 6.6)
    # not yet acknowledged: 3 and 4 come again, flagged buffered, then 5 and 6 it kept
    again = [dec.feed(_frame(s, 1000 * (s + 1), FLAG_BUFFERED), T0 + 6.7) for s in (3, 4, 5, 6)]
    assert again[:2] == [None, None]
    assert again[2] is not None and again[3] is not None
    assert dec.stats.resent == 2
    assert dec.stats.errors.total() == 0
    assert dec.stats.frames == 7 and dec.stats.lost_frames == 0


def test_a_merged_kept_window_is_no_lost_frame_and_a_reboot_starts_the_numbers_afresh() -> None:
    dec = _decoder()
    dec.feed(_hello(100), T0)
    assert dec.feed(_frame(0, 1000), T0 + 0.9) is not None
    # frames 1-3 merged by the board into one window numbered 3: a gap on purpose
    r = dec.feed(_frame(3, 4000, FLAG_BUFFERED, window_ms=3000), T0 + 4)
    assert r is not None and r.window_s == 3.0
    assert dec.stats.lost_frames == 0
    # a live gap is still a loss
    dec.feed(_frame(5, 6000), T0 + 5.9)
    assert dec.stats.lost_frames == 1
    # the board rebooted: its frames 0 and 1 are new ones, even flagged buffered
    dec.feed(_hello(300), T0 + 10)
    assert dec.feed(_frame(0, 1000, FLAG_BUFFERED), T0 + 10.1) is not None
    assert dec.feed(_frame(1, 2000, FLAG_BUFFERED), T0 + 10.1) is not None
    assert dec.stats.resent == 0 and dec.stats.reboots == 1
