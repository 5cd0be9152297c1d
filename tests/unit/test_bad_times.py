"""Frames with absurd fields or times: refused and counted, and never able to block later data."""

from __future__ import annotations

import random

from battwatch.core.calibration import Calibration, FrameCalibrator
from battwatch.core.decoder import DeviceDecoder
from battwatch.core.model import DeviceTime, Frame, Hello, Reading
from battwatch.core.protocol import encode_frame, encode_hello, encode_time, frame_line
from battwatch.core.timebase import T_MAX, T_MIN

H = 1_735_689_600.0  # 2025-01-01, the host clock
YEAR_MS = 365 * 86400 * 1000


def _frame(seq: int, uptime_ms: int, flags: int = 0) -> bytes:
    return encode_frame(Frame(seq, uptime_ms, 1000, 12600, 12590, 12610, 5200, 5200, 5200, 85, flags))


def _dec(**kw: float) -> DeviceDecoder:
    return DeviceDecoder(FrameCalibrator(Calibration(), Calibration(), 0.0, "car"), **kw)


def _feed(d: DeviceDecoder, line: bytes, host_t: float, synced: bool = True) -> Reading | None:
    return d.feed(line, host_t, synced)


def test_the_audit_frame_is_a_counted_range_error_and_data_goes_on() -> None:
    """`$BWD,7,99999999999999999999999,...` with a valid CRC used to reach the store."""
    d = _dec()
    assert _feed(d, _frame(5, 10_000), H) is not None
    assert _feed(d, _frame(6, 11_000), H + 1) is not None
    bad = frame_line("BWD,7,99999999999999999999999,1000,12640,12631,12652,5210,5208,5213,85,0")
    assert _feed(d, bad, H + 2) is None
    assert d.stats.errors["range"] == 1
    r = _feed(d, _frame(8, 13_000), H + 3)
    assert r is not None and r.t == H + 3
    assert d.stats.frames == 3 and d.stats.reboots == 0 and d.stats.lost_frames == 1


def test_an_uptime_that_maps_beyond_the_plausible_years_is_refused_without_a_trace() -> None:
    """In 64 bits but 5,000 years ahead: refused as a time error; the mapping is unchanged."""
    d = _dec()
    _feed(d, _frame(0, 10_000), H)
    assert _feed(d, _frame(1, 10_000 + 5000 * YEAR_MS), H + 1) is None
    assert d.stats.errors["time"] == 1
    r = _feed(d, _frame(2, 12_000), H + 2)
    assert r is not None and r.t == H + 2
    assert d.stats.reboots == 0  # the refused frame's uptime was not taken as the new normal
    assert not d.jumps


def test_a_device_clock_outside_the_plausible_years_is_not_adopted() -> None:
    d = _dec()
    _feed(d, _frame(0, 10_000), H)
    _feed(d, encode_time(DeviceTime(10_500, 0)), H + 0.5)  # an RTC that lost its battery: 1970
    _feed(d, encode_time(DeviceTime(10_600, int(4_200_000_000 * 1000))), H + 0.6)  # 2103
    assert d.stats.errors["time"] == 2
    assert not d.timebase.device_clock
    r = _feed(d, _frame(1, 11_000), H + 1)
    assert r is not None and r.t == H + 1


def test_the_plausible_years_are_the_callers_choice() -> None:
    d = _dec(t_min=H - 86400, t_max=H + 86400)
    assert _feed(d, _frame(0, 10_000), H) is not None
    assert _feed(d, _frame(1, 10_000 + 2 * 86400 * 1000), H + 1) is None
    assert d.stats.errors["time"] == 1


def test_no_frame_ever_maps_outside_the_plausible_range() -> None:
    """Random uptimes, hellos, clocks and reboots: every reading stays within the years."""
    rng = random.Random(11)
    d = _dec()
    host = H
    out: list[Reading] = []
    for seq in range(3000):
        host += 1.0
        kind = rng.random()
        if kind < 0.05:
            _feed(d, encode_hello(Hello(1, "fw", "b", 16, 1.0, rng.randrange(0, 2**64))), host)
        elif kind < 0.10:
            _feed(d, encode_time(DeviceTime(rng.randrange(0, 2**64), rng.randrange(0, 2**63))), host)
        else:
            uptime = rng.choice([rng.randrange(0, 2**64), rng.randrange(0, 10**7), seq * 1000])
            r = _feed(d, _frame(seq, uptime), host, rng.random() < 0.8)
            if r is not None:
                out.append(r)
        out += d.take_released()
    assert out, "some frames must get through"
    assert all(T_MIN <= r.t < T_MAX for r in out)


LATER = H + 20 * 365 * 86400.0  # 2044: plausible, and wrong


def test_one_frame_ahead_in_uptime_does_not_hold_back_the_next() -> None:
    """The next frame's uptime is smaller: by the protocol a reboot, which re-anchors."""
    d = _dec()
    _feed(d, encode_time(DeviceTime(10_000, int(H * 1000))), H)
    assert _feed(d, _frame(0, 11_000), H + 1) is not None
    wrong = _feed(d, _frame(1, 12_000 + 20 * YEAR_MS), H + 2)
    assert wrong is not None and wrong.t > LATER
    r = _feed(d, _frame(2, 13_000), H + 3)
    assert r is not None and r.t == H + 3
    assert d.jumps == [(H + 3, H + 3 - wrong.t)]  # the analysis follows time back


def test_a_wrong_device_clock_is_undone_by_the_next_reboot_and_hello() -> None:
    """A board clock reading 2044 used to block every later frame, even after the board
    rebooted and said hello with the right time, until the data was 20 years old."""
    d = _dec()
    _feed(d, encode_time(DeviceTime(10_000, int(LATER * 1000))), H)
    wrong = _feed(d, _frame(0, 11_000), H + 1)
    assert wrong is not None and wrong.t == LATER + 1
    # the board reboots: hello, its (now right) clock, frames from seq 0
    _feed(d, encode_hello(Hello(1, "fw", "b", 16, 1.0, 500)), H + 10)
    _feed(d, encode_time(DeviceTime(600, int((H + 10) * 1000))), H + 10)
    r = _feed(d, _frame(0, 1_600), H + 11)
    assert r is not None and r.t == H + 11
    r = _feed(d, _frame(1, 2_600), H + 12)
    assert r is not None and r.t == H + 12
    assert d.stats.reboots == 1 and not d.stats.errors
    assert d.jumps == [(H + 11, H + 11 - wrong.t)]


def test_a_corrected_device_clock_is_followed_within_a_minute() -> None:
    d = _dec()
    _feed(d, encode_time(DeviceTime(10_000, int(LATER * 1000))), H)
    assert _feed(d, _frame(0, 11_000), H + 1) is not None
    _feed(d, encode_time(DeviceTime(60_000, int((H + 50) * 1000))), H + 50)  # set right again
    r = _feed(d, _frame(1, 61_000), H + 51)
    assert r is not None and r.t == H + 51
    assert len(d.jumps) == 1


def test_a_new_hello_re_anchors_a_host_clock_mapping_that_ran_ahead() -> None:
    """Estimates on an unsynchronised clock that read 2044, then the clock is set by hand
    (still no NTP): the next hello anchors on it and the data goes on."""
    d = _dec(hold_max_s=0.0)
    _feed(d, _frame(0, 10_000), LATER, synced=False)
    assert [r.t for r in d.take_released()] == [LATER]
    r = _feed(d, _frame(1, 11_000), LATER + 1, synced=False)
    assert r is not None and r.t == LATER + 1
    _feed(d, encode_hello(Hello(1, "fw", "b", 16, 1.0, 20_000)), H + 10, False)
    r = _feed(d, _frame(2, 21_000), H + 11, synced=False)
    assert r is not None and r.t == H + 11
    assert d.jumps == [(H + 11, H + 11 - (LATER + 1))]


def test_a_small_overlap_after_a_reconnect_is_still_refused() -> None:
    """Re-anchoring only wins over a clearly wrong time, not over a few ms of latency."""
    d = _dec()
    _feed(d, encode_hello(Hello(1, "fw", "b", 16, 1.0, 9_000)), H - 1)
    assert _feed(d, _frame(0, 10_000), H) is not None
    _feed(d, encode_hello(Hello(1, "fw", "b", 16, 1.0, 10_000)), H - 0.5)  # a late hello
    assert _feed(d, _frame(1, 10_400), H + 0.4) is None
    assert d.stats.errors["time"] == 1 and not d.jumps


def test_readings_held_for_the_host_clock_are_placed_by_a_board_clock_that_turns_up() -> None:
    d = _dec()
    for i in range(3):
        assert _feed(d, _frame(i, 10_000 + i * 1000), H - 1e7 + i, synced=False) is None
    assert d.holding == 3
    _feed(d, encode_time(DeviceTime(12_000, int((H + 2) * 1000))), H - 1e7 + 2, False)
    assert [r.t for r in d.take_released()] == [H, H + 1, H + 2]
    r = _feed(d, _frame(3, 13_000), H - 1e7 + 3, synced=False)
    assert r is not None and r.t == H + 3 and d.holding == 0


def test_held_readings_are_placed_by_their_uptime_when_a_hello_re_anchored_in_between() -> None:
    """Frame held for the clock, then the hello (a fresh host anchor), then the board's clock:
    the held frame is placed by its own uptime on the board's clock, not shifted by how far
    the board's clock lies from the hello's anchor (that put it at 07:59:59.990)."""
    from datetime import UTC, datetime

    from battwatch.core.timefmt import iso_utc

    stale = 1_500_000_000.0  # the host clock at boot (fake-hwclock), never synchronised here
    boot = datetime(2025, 1, 6, 7, 59, tzinfo=UTC).timestamp()  # the board's uptime 0, by its clock
    d = _dec()
    assert _feed(d, _frame(0, 22_000), stale, synced=False) is None  # held, on the first anchor
    _feed(d, encode_hello(Hello(1, "fw", "b", 16, 1.0, 60_000)), stale + 0.010, False)
    _feed(d, encode_time(DeviceTime(60_100, int((boot + 60.1) * 1000))), stale + 0.110, False)
    assert [iso_utc(r.t) for r in d.take_released()] == [iso_utc(boot + 22.0)]
    assert iso_utc(boot + 22.0).startswith("2025-01-06T07:59:22")
    r = _feed(d, _frame(1, 61_000), stale + 1.0, synced=False)
    assert r is not None and r.t == boot + 61.0 and not d.stats.errors


def test_held_readings_are_placed_by_their_uptime_when_ntp_synchronises_after_a_hello() -> None:
    """The same with the host clock: NTP synchronises after a hello moved the anchor."""
    stale = 1_500_000_000.0
    d = _dec()
    assert _feed(d, _frame(0, 22_000), stale, synced=False) is None
    _feed(d, encode_hello(Hello(1, "fw", "b", 16, 1.0, 60_000)), stale + 0.010, False)
    r = _feed(d, _frame(1, 61_000), H, synced=True)  # the true time at uptime 61 s
    assert r is not None and r.t == H
    assert [r.t for r in d.take_released()] == [H - 39.0]
