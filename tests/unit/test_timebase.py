"""Device uptime to wall time, and the decoder's link bookkeeping."""

from __future__ import annotations

from battwatch.core.calibration import Calibration, FrameCalibrator
from battwatch.core.decoder import DeviceDecoder
from battwatch.core.model import DeviceTime, Frame, Hello
from battwatch.core.protocol import encode_frame, encode_hello, encode_time
from battwatch.core.timebase import Timebase


def _frame(seq: int, uptime: int, mv: int = 12600) -> bytes:
    return encode_frame(Frame(seq, uptime, 1000, mv, mv, mv, 5200, 5200, 5200, None, 0))


H = 1_735_689_600.0  # host clock: 2025-01-01


def _decoder() -> DeviceDecoder:
    return DeviceDecoder(FrameCalibrator(Calibration(), Calibration(), 0.0, "car"))


def test_host_anchor_spaces_readings_by_uptime_not_by_arrival() -> None:
    tb = Timebase()
    assert tb.to_time(10_000, host_t=1000.0) == 1000.0
    # arrives late (serial latency): still exactly one second after the previous frame
    assert tb.to_time(11_000, host_t=1003.7) == 1001.0


def test_device_clock_wins_over_the_host_clock() -> None:
    tb = Timebase()
    tb.to_time(10_000, host_t=5000.0)
    shift = tb.device_time(10_000, 1_735_689_600_000)
    assert shift == 1_735_689_600.0 - 5000.0
    assert tb.to_time(12_500, host_t=5002.5) == 1_735_689_602.5
    tb.anchor(12_500, 9999.0)  # a later hello does not override a real clock
    assert tb.to_time(13_500, host_t=5003.5) == 1_735_689_603.5


def test_uptime_going_backwards_means_a_reboot() -> None:
    tb = Timebase()
    tb.to_time(50_000, 100.0)
    assert tb.to_time(1_000, 200.0) == 200.0
    assert tb.reboots == 1


def test_decoder_counts_sequence_gaps_and_bad_lines() -> None:
    d = _decoder()
    assert d.feed(_frame(0, 1000), H + 10.0) is not None
    assert d.feed(_frame(1, 2000), H + 11.0) is not None
    assert d.feed(_frame(5, 6000), H + 15.0) is not None
    assert d.feed(b"$BWD,6,7000*0000", H + 16.0) is None
    assert d.feed(b"\xffnoise", H + 16.0) is None
    st = d.stats
    assert st.frames == 3 and st.lost_frames == 3
    assert st.errors["partial"] == 1 or st.errors["checksum"] == 1
    assert st.errors["garbage"] == 1
    assert st.lines == 5


def test_decoder_uses_hello_and_device_time() -> None:
    d = _decoder()
    assert d.feed(encode_hello(Hello(1, "fw", "board", 16, 1.0, 4000)), H + 100.0) is None
    assert d.stats.hello is not None and d.stats.hello.board == "board"
    r = d.feed(_frame(0, 5000), H + 100.9)
    assert r is not None and r.t == H + 101.0  # anchored on the hello's uptime
    d.feed(encode_time(DeviceTime(5000, 1_000_000_000_000)), H + 101.0)
    r = d.feed(_frame(1, 6000), H + 101.5)
    assert r is not None and r.t == 1_000_000_001.0


def test_decoder_refuses_an_unknown_protocol_version() -> None:
    d = _decoder()
    d.feed(encode_hello(Hello(2, "fw", "board", 16, 1.0, 4000)), H + 100.0)
    assert d.stats.errors["protocol"] == 1 and d.stats.hello is None


def test_device_reboot_resets_sequence_without_counting_loss() -> None:
    d = _decoder()
    d.feed(_frame(100, 500_000), H + 10.0)
    r = d.feed(_frame(0, 1_000), H + 20.0)
    assert r is not None and r.t == H + 20.0
    assert d.stats.lost_frames == 0 and d.stats.reboots == 1
