"""``battwatch calibrate``: a two-point gain/offset fit from multimeter readings."""

from __future__ import annotations

import argparse
import sys
import time

from battwatch.core.calibration import Calibration, FrameCalibrator, fit_two_point

MIN_SPAN_V = {"main": 1.5, "sos": 0.5}  # closer points make the slope noise-dominated


def parse_point(text: str) -> tuple[float, float]:
    """``RAW:TRUE`` in volts."""
    try:
        raw, true = text.split(":")
        return float(raw), float(true)
    except ValueError:
        raise ValueError(f"point {text!r} is not RAW:TRUE (volts, e.g. 11.93:12.00)") from None


def snippet(channel: str, cal: Calibration) -> str:
    return f"[adc.calibration.{channel}]\ngain = {cal.gain:.6f}\noffset = {cal.offset:.4f}\n"


def read_raw_average(port: str, baudrate: int, channel: str, samples: int, timeout_s: float) -> float:
    """Average ``samples`` uncalibrated window averages of one channel from the live ADC."""
    import serial

    from battwatch.core.decoder import DeviceDecoder

    decoder = DeviceDecoder(FrameCalibrator(Calibration(), Calibration(), 0.0, "calibrate"))
    values: list[float] = []
    deadline = time.monotonic() + timeout_s
    with serial.serial_for_url(port, baudrate=baudrate, timeout=0.5) as ser:
        while len(values) < samples:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(values)} of {samples} frames from {port} in {timeout_s:.0f} s")
            line = ser.readline()
            if not line:
                continue
            r = decoder.feed(line, time.time())
            v = None if r is None else (r.main_v if channel == "main" else r.sos_v)
            if v is not None:
                values.append(v)
    return sum(values) / len(values)


def run_calibrate(args: argparse.Namespace) -> int:
    channel: str = args.channel
    span = MIN_SPAN_V[channel]
    try:
        if args.point:
            if len(args.point) != 2:
                print("calibrate: give exactly two --point RAW:TRUE values", file=sys.stderr)
                return 2
            p1, p2 = (parse_point(p) for p in args.point)
        else:
            p1, p2 = _interactive(args, channel)
        cal = fit_two_point(p1, p2, min_span_v=span)
    except (ValueError, TimeoutError, OSError) as e:
        print(f"calibrate: {e}", file=sys.stderr)
        return 2
    print(f"# {channel}: raw {p1[0]:.3f} V -> {p1[1]:.3f} V, raw {p2[0]:.3f} V -> {p2[1]:.3f} V")
    print(snippet(channel, cal), end="")
    return 0


def _interactive(args: argparse.Namespace, channel: str) -> tuple[tuple[float, float], tuple[float, float]]:
    from battwatch.cli import load_config

    cfg = load_config(args.config, required=False, vehicle="calibrate")
    port = args.port or cfg.adc.port
    points = []
    for n in (1, 2):
        input(f"Point {n}: apply the reference voltage to the {channel} tap, then press Enter ")
        raw = read_raw_average(port, cfg.adc.baudrate, channel, args.samples, timeout_s=60 + args.samples * 5)
        print(f"  ADC reads {raw:.4f} V (average of {args.samples} frames)")
        true = float(input("  Multimeter reading in volts: ").replace(",", "."))
        points.append((raw, true))
    return points[0], points[1]
