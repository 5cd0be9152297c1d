"""Calibration maths, the two-point fit and ``battwatch calibrate`` offline mode."""

from __future__ import annotations

import subprocess

import pytest

from battwatch.core.calibration import Calibration, FrameCalibrator, fit_two_point
from battwatch.core.model import Frame


def test_two_point_fit_recovers_gain_and_offset() -> None:
    true = Calibration(1.0123, -0.045)
    p1 = (11.0, true.apply(11.0))
    p2 = (14.5, true.apply(14.5))
    got = fit_two_point(p1, p2)
    assert got.gain == pytest.approx(1.0123, abs=1e-9)
    assert got.offset == pytest.approx(-0.045, abs=1e-9)


def test_points_too_close_are_refused() -> None:
    with pytest.raises(ValueError, match="less than 1.5 V apart"):
        fit_two_point((12.0, 12.1), (13.0, 13.1), min_span_v=1.5)


def test_implausible_gain_is_refused() -> None:
    with pytest.raises(ValueError, match="implausible"):
        fit_two_point((10.0, 10.0), (12.0, 20.0))


def test_calibrator_converts_millivolts_and_keeps_absent_channels_absent() -> None:
    cal = FrameCalibrator(Calibration(1.01, 0.02), Calibration(0.99, 0.0), -1.5, "car")
    fr = Frame(1, 1000, 1000, 12000, 9500, 12100, None, None, None, 215, 0)
    r = cal.to_reading(fr, 100.0)
    assert r.main_v == pytest.approx(12.14)
    assert r.main_min_v == pytest.approx(9.615)
    assert r.main_max_v == pytest.approx(12.241)
    assert r.sos_v is None and r.sos_min_v is None
    assert r.temp_c == pytest.approx(20.0)
    assert r.window_s == 1.0 and r.vehicle == "car" and r.t == 100.0


def test_calibrate_offline_prints_a_config_snippet(battwatch_bin: str) -> None:
    out = subprocess.run(
        [battwatch_bin, "calibrate", "--channel", "main", "--point", "11.93:12.00", "--point", "14.21:14.31"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "[adc.calibration.main]" in out
    gain = float(out.split("gain = ")[1].split()[0])
    offset = float(out.split("offset = ")[1].split()[0])
    assert gain == pytest.approx((14.31 - 12.00) / (14.21 - 11.93), abs=1e-6)
    assert gain * 11.93 + offset == pytest.approx(12.00, abs=1e-3)


def test_calibrate_rejects_close_points_without_traceback(battwatch_bin: str) -> None:
    res = subprocess.run(
        [battwatch_bin, "calibrate", "--channel", "sos", "--point", "4.80:4.81", "--point", "4.9:4.95"],
        capture_output=True, text=True,
    )
    assert res.returncode == 2
    assert "less than 0.5 V apart" in res.stderr and "Traceback" not in res.stderr
