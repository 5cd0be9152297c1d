"""A Pi without a real-time clock: readings before NTP sync, and clock steps while running."""

from __future__ import annotations

from battwatch.core.calibration import Calibration, FrameCalibrator
from battwatch.core.decoder import DeviceDecoder
from battwatch.core.model import Frame, Reading
from battwatch.core.protocol import encode_frame

BOOT = 1_500_000_000.0  # what a stale clock (fake-hwclock) says at boot
TRUE = 1_735_689_600.0  # the real time, learnt when NTP synchronises


def _frame(seq: int, uptime_ms: int, mv: int = 12600, flags: int = 0) -> bytes:
    return encode_frame(Frame(seq, uptime_ms, 1000, mv, mv, mv, 5200, 5200, 5200, None, flags))


def _dec(**kw: float) -> DeviceDecoder:
    return DeviceDecoder(FrameCalibrator(Calibration(), Calibration(), 0.0, "car"), **kw)


def test_readings_before_sync_are_held_then_restamped_on_the_true_timeline() -> None:
    d = _dec()
    # 10 frames, one a second, while the host clock still says 2017
    for i in range(10):
        assert d.feed(_frame(i, 10_000 + i * 1000), BOOT + i, host_synced=False) is None
    assert not d.released
    # NTP synchronises; the next frame arrives at the true time
    r = d.feed(_frame(10, 20_000), TRUE, host_synced=True)
    assert r is not None and r.t == TRUE
    held = d.take_released()
    assert [h.t for h in held] == [TRUE - 10 + i for i in range(10)]  # spacing kept by uptime
    assert d.stats.frames == 11 and not d.jumps


def test_without_sync_readings_go_out_as_estimates_after_the_hold_limit() -> None:
    d = _dec(hold_max_s=5.0)
    out: list[Reading] = []
    for i in range(8):
        r = d.feed(_frame(i, 10_000 + i * 1000), BOOT + i, host_synced=False)
        assert (r is None) == (i <= 5)  # held up to the limit, then passed on as estimates
        out += d.take_released() + ([r] if r else [])
    assert [round(r.t - BOOT) for r in out] == [0, 1, 2, 3, 4, 5, 6, 7]
    # a later sync that steps the clock by years is reported as a jump, not as years of rest
    r = d.feed(_frame(8, 18_000), TRUE, host_synced=True)
    assert r is not None and r.t == TRUE
    assert len(d.jumps) == 1
    t, delta = d.jumps[0]
    assert t == TRUE and delta == TRUE - (BOOT + 8)


def test_at_a_stop_held_readings_go_out_as_estimates_like_after_the_hold_limit() -> None:
    d = _dec(hold_max_s=900.0)
    for i in range(6):
        assert d.feed(_frame(i, 10_000 + i * 1000), BOOT + i, host_synced=False) is None
    assert d.holding == 6 and d.release_held() == 6
    assert d.holding == 0 and d.release_held() == 0
    assert [round(r.t - BOOT) for r in d.take_released()] == [0, 1, 2, 3, 4, 5]
    assert d.stats.frames == 6
    # from then on the unsynchronised clock is used, as after hold_max_s: nothing held again
    r = d.feed(_frame(6, 16_000), BOOT + 6, host_synced=False)
    assert r is not None and round(r.t - BOOT) == 6 and d.holding == 0


def test_a_synced_clock_that_steps_backwards_keeps_readings_flowing() -> None:
    d = _dec()
    assert d.feed(_frame(0, 1000), TRUE, True) is not None
    assert d.feed(_frame(1, 2000), TRUE + 1, True) is not None
    r = d.feed(_frame(2, 3000), TRUE - 3600 + 2, True)  # someone set the clock back an hour
    assert r is not None and r.t == TRUE - 3600 + 2
    assert d.jumps == [(TRUE - 3600 + 2, -3600.0)]
    r = d.feed(_frame(3, 4000), TRUE - 3600 + 3, True)
    assert r is not None and r.t == TRUE - 3600 + 3


def test_small_drift_is_absorbed_without_a_jump() -> None:
    d = _dec()
    d.feed(_frame(0, 0), TRUE, True)
    r = d.feed(_frame(1, 3_600_000), TRUE + 3600 + 3, True)  # 3 s of crystal drift in an hour
    assert r is not None and r.t == TRUE + 3603
    assert not d.jumps


def test_buffered_frames_from_a_sleeping_board_keep_their_uptime_times() -> None:
    d = _dec()
    d.feed(_frame(0, 1000), TRUE, True)
    # six hours of frames kept by the board while the Pi was off arrive at once
    r = d.feed(_frame(1, 1000 + 6 * 3600 * 1000, flags=0x10), TRUE + 6 * 3600 + 40, True)
    assert r is not None and r.t == TRUE + 6 * 3600
    assert not d.jumps


def test_a_board_clock_makes_the_host_clock_irrelevant() -> None:
    from battwatch.core.model import DeviceTime
    from battwatch.core.protocol import encode_time

    d = _dec()
    d.feed(encode_time(DeviceTime(1000, int(TRUE * 1000))), BOOT, host_synced=False)
    r = d.feed(_frame(0, 2000), BOOT + 1, host_synced=False)
    assert r is not None and r.t == TRUE + 1
