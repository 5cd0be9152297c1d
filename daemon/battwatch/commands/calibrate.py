"""``battwatch calibrate``: a two-point gain/offset fit from multimeter readings."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from battwatch.core.calibration import Calibration, FrameCalibrator, fit_two_point

MIN_SPAN_V = {"main": 1.5, "sos": 0.5}  # closer points make the slope noise-dominated
EXIT_ABANDONED = 1  # the input ended (Ctrl-D, a closed pipe) before both points were taken
PORT_CHECK_S = 15.0  # a board sends a frame a second: this long without one, it is not there


class Abandoned(Exception):
    """The person at the prompt ended the input: nothing to fit."""


def _volts(text: str) -> float:
    """A number of volts as typed (a decimal comma is fine); ValueError naming it otherwise."""
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number of volts") from None


def parse_point(text: str) -> tuple[float, float]:
    """``RAW:TRUE`` in volts; ValueError naming the part that is wrong."""
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"point {text!r} is not RAW:TRUE (volts, e.g. 11.93:12.00)")
    try:
        return _volts(parts[0]), _volts(parts[1])
    except ValueError as e:
        raise ValueError(f"point {text!r}: {e} (RAW:TRUE in volts, e.g. 11.93:12.00)") from None


def snippet(channel: str, cal: Calibration) -> str:
    return f"[adc.calibration.{channel}]\ngain = {cal.gain:.6f}\noffset = {cal.offset:.4f}\n"


def read_raw_average(port: str, baudrate: int, channel: str, samples: int, timeout_s: float) -> float:
    """Average ``samples`` uncalibrated window averages of one channel from the live ADC.

    Only the frames' millivolts matter here, so they are parsed without the daemon's mapping
    of device uptime to wall time (and without its notes about the host clock).
    """
    import serial

    from battwatch.core.model import Frame
    from battwatch.core.protocol import FrameError, parse_line

    identity = FrameCalibrator(Calibration(), Calibration(), 0.0, "calibrate")
    values: list[float] = []
    deadline = time.monotonic() + timeout_s
    with serial.serial_for_url(port, baudrate=baudrate, timeout=0.5) as ser:
        while len(values) < samples:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(values)} of {samples} frames from {port} in {timeout_s:.0f} s")
            line = ser.readline()
            if not line:
                continue
            try:
                msg = parse_line(line)
            except FrameError:
                continue  # a damaged line; the next frame comes within a second
            if not isinstance(msg, Frame):
                continue
            r = identity.to_reading(msg, 0.0)
            v = r.main_v if channel == "main" else r.sos_v
            if v is not None:
                values.append(v)
    return sum(values) / len(values)


def run_calibrate(args: argparse.Namespace) -> int:
    channel: str = args.channel
    span = MIN_SPAN_V[channel]
    try:
        if args.point:
            points = [parse_point(p) for p in args.point]  # a bad value is named before the count
            if len(points) != 2:
                print(f"calibrate: give exactly two --point RAW:TRUE values ({len(points)} given)", file=sys.stderr)
                return 2
            p1, p2 = points
        else:
            p1, p2 = _interactive(args, channel)
        cal = fit_two_point(p1, p2, min_span_v=span)
    except Abandoned:
        print("\ncalibrate: input ended before both points were taken; nothing changed", file=sys.stderr)
        return EXIT_ABANDONED
    except (ValueError, TimeoutError, OSError) as e:
        print(f"calibrate: {e}", file=sys.stderr)
        return 2
    print(f"# {channel}: raw {p1[0]:.3f} V -> {p1[1]:.3f} V, raw {p2[0]:.3f} V -> {p2[1]:.3f} V")
    print(snippet(channel, cal), end="")
    return 0


def ask(prompt: str, read: Callable[[str], str] = input) -> str:
    """One answer; Abandoned at the end of the input."""
    try:
        return read(prompt)
    except EOFError:
        raise Abandoned from None


def ask_volts(prompt: str, read: Callable[[str], str] = input) -> float:
    """A number of volts, asked again after a typo rather than abandoning the calibration."""
    while True:
        answer = ask(prompt, read)
        try:
            return _volts(answer)
        except ValueError as e:
            print(f"  {e}; type the multimeter's reading, e.g. 12.04", file=sys.stderr)


def _interactive(args: argparse.Namespace, channel: str) -> tuple[tuple[float, float], tuple[float, float]]:
    from battwatch import config

    cfg = config.load(args.config)  # the car's file: its port and baud rate
    port = args.port or cfg.adc.port
    # the board must answer before anyone is asked to set up a reference voltage
    try:
        now = read_raw_average(port, cfg.adc.baudrate, channel, 1, timeout_s=PORT_CHECK_S)
    except TimeoutError:
        raise TimeoutError(f"no frame with a {channel} reading from {port} in {PORT_CHECK_S:.0f} s: is the board "
                           "plugged in and running the battwatch firmware? (nothing was asked yet)") from None
    except OSError as e:
        raise OSError(f"cannot read the ADC at {port}: {e} (check [adc] port, or give --port)") from None
    print(f"ADC at {port} answers: the {channel} tap reads {now:.3f} V before calibration")
    points = []
    for n in (1, 2):
        ask(f"Point {n}: apply the reference voltage to the {channel} tap, then press Enter ")
        raw = read_raw_average(port, cfg.adc.baudrate, channel, args.samples, timeout_s=60 + args.samples * 5)
        print(f"  ADC reads {raw:.4f} V (average of {args.samples} frames)")
        true = ask_volts("  Multimeter reading in volts: ")
        points.append((raw, true))
    return points[0], points[1]
