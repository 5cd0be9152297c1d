"""Per-channel gain/offset calibration and the two-point fit (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from battwatch.core.model import Frame, Reading


@dataclass(frozen=True, slots=True)
class Calibration:
    """true_v = gain * raw_v + offset, raw_v being what the device reports (nominal divider)."""

    gain: float = 1.0
    offset: float = 0.0

    def apply(self, raw_v: float) -> float:
        return self.gain * raw_v + self.offset


def fit_two_point(
    p1: tuple[float, float], p2: tuple[float, float], *, min_span_v: float = 0.5
) -> Calibration:
    """Gain and offset through two (raw, true) points taken with a multimeter.

    Points closer than ``min_span_v`` (raw) are refused: the ADC's noise would dominate
    the slope.
    """
    (r1, t1), (r2, t2) = p1, p2
    if abs(r2 - r1) < min_span_v:
        raise ValueError(
            f"the two raw readings {r1:.3f} V and {r2:.3f} V are less than {min_span_v} V apart"
        )
    gain = (t2 - t1) / (r2 - r1)
    if not 0.5 <= gain <= 2.0:
        raise ValueError(f"gain {gain:.4f} is implausible (expected 0.5-2): check the points")
    return Calibration(gain, t1 - gain * r1)


class FrameCalibrator:
    """Turns raw device frames into calibrated Readings."""

    __slots__ = ("_mg", "_mo", "_sg", "_so", "_to", "_vehicle")

    def __init__(
        self, main: Calibration, sos: Calibration, temp_offset_c: float, vehicle: str
    ) -> None:
        # millivolts in, volts out: fold the 1/1000 into the gain once
        self._mg, self._mo = main.gain / 1000.0, main.offset
        self._sg, self._so = sos.gain / 1000.0, sos.offset
        self._to = temp_offset_c
        self._vehicle = vehicle

    def to_reading(self, fr: Frame, t: float) -> Reading:
        mg, mo, sg, so = self._mg, self._mo, self._sg, self._so
        main = sos = main_min = main_max = sos_min = sos_max = None
        if fr.main_avg_mv is not None:
            main = round(fr.main_avg_mv * mg + mo, 4)
            main_min = main if fr.main_min_mv is None else round(fr.main_min_mv * mg + mo, 4)
            main_max = main if fr.main_max_mv is None else round(fr.main_max_mv * mg + mo, 4)
        if fr.sos_avg_mv is not None:
            sos = round(fr.sos_avg_mv * sg + so, 4)
            sos_min = sos if fr.sos_min_mv is None else round(fr.sos_min_mv * sg + so, 4)
            sos_max = sos if fr.sos_max_mv is None else round(fr.sos_max_mv * sg + so, 4)
        temp = None if fr.temp_dc is None else fr.temp_dc / 10.0 + self._to
        return Reading(
            t, main, main_min, main_max, sos, sos_min, sos_max, temp,
            fr.window_ms / 1000.0, self._vehicle, fr.flags,
        )
