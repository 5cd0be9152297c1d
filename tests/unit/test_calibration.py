"""Calibration maths, the two-point fit and ``battwatch calibrate`` offline mode."""

from __future__ import annotations

import os
import subprocess
import threading
import tty
from pathlib import Path

import pytest

from battwatch.core.calibration import Calibration, FrameCalibrator, fit_two_point
from battwatch.core.model import Frame
from battwatch.core.protocol import encode_frame


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


def _calibrate(bin_: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([bin_, "calibrate", *args], input=stdin, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("points", "says"),
    [
        (["5:x"], "point '5:x': 'x' is not a number of volts"),
        (["11.9:12", "abc:14.3"], "point 'abc:14.3': 'abc' is not a number of volts"),
        (["11.9-12", "14:14.3"], "point '11.9-12' is not RAW:TRUE"),
        (["11.9:12"], "give exactly two --point RAW:TRUE values (1 given)"),
    ],
)
def test_a_bad_point_is_named(battwatch_bin: str, points: list[str], says: str) -> None:
    res = _calibrate(battwatch_bin, "--channel", "main", *[a for p in points for a in ("--point", p)])
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == f"calibrate: {says}" or res.stderr.strip().startswith(f"calibrate: {says}")


def test_a_decimal_comma_is_read_in_points() -> None:
    from battwatch.commands.calibrate import parse_point

    assert parse_point("11,93:12,00") == (11.93, 12.0)


def test_the_live_procedure_reads_the_default_configuration() -> None:
    from battwatch.cli import DEFAULT_CONFIG, build_parser

    args = build_parser().parse_args(["calibrate", "--channel", "main"])
    assert args.config == DEFAULT_CONFIG == "/etc/battwatch/battwatch.toml"


def _config(tmp_path: Path, port: str) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[vehicle]\nid = "car-1"\n[adc]\nport = "{port}"\n')
    return cfg


def test_a_port_that_cannot_be_read_is_said_before_any_reference_voltage_is_asked_for(
        battwatch_bin: str, tmp_path: Path) -> None:
    port = tmp_path / "no-such-adc"
    res = _calibrate(battwatch_bin, "-c", str(_config(tmp_path, str(port))), "--channel", "main", stdin="\n12.0\n")
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "Point 1" not in res.stdout  # nobody was asked anything
    assert res.stderr.startswith(f"calibrate: cannot read the ADC at {port}: ")
    assert "(check [adc] port, or give --port)" in res.stderr


def _board(master: int, level: dict[str, int], stop: threading.Event) -> threading.Thread:
    """A board on a pty writing a frame every 10 ms at ``level['mv']`` on the 12 V channel."""

    def run() -> None:
        seq, uptime = 0, 1_000
        while not stop.wait(0.01):
            mv = level["mv"]
            uptime += 600_000  # ten minutes a frame, as from an accelerated emulator
            try:
                os.write(master, encode_frame(Frame(seq, uptime, 1000, mv, mv - 5, mv + 5, 5200, 5200, 5200, 200, 0)))
            except BlockingIOError:
                pass  # nobody reading yet: the tool flushes old frames when it opens the port anyway
            seq += 1

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def test_end_of_input_at_a_prompt_abandons_without_a_traceback(battwatch_bin: str, tmp_path: Path) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    stop = threading.Event()
    writer = _board(master, {"mv": 11_900}, stop)
    try:
        res = _calibrate(battwatch_bin, "-c", str(_config(tmp_path, os.ttyname(slave))), "--channel", "main", stdin="")
    finally:
        stop.set()
        writer.join(5)
        os.close(master)
        os.close(slave)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert "ADC at " in res.stdout and "the main tap reads 11.900 V before calibration" in res.stdout
    assert res.stderr.strip() == "calibrate: input ended before both points were taken; nothing changed"


def test_the_live_procedure_over_a_pty_asks_again_after_a_typo_and_says_nothing_about_clocks(
    battwatch_bin: str, tmp_path: Path
) -> None:
    """A board whose uptime runs far ahead of the host clock: the daemon's decoder would note a
    clock step at every frame; calibration needs no wall time and must stay quiet about it."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    level = {"mv": 11_900}
    stop = threading.Event()

    def board() -> None:
        seq, uptime = 0, 1_000
        while not stop.wait(0.01):
            mv = level["mv"]
            uptime += 600_000  # ten minutes a frame, as from an accelerated emulator
            try:
                os.write(master, encode_frame(Frame(seq, uptime, 1000, mv, mv - 5, mv + 5, 5200, 5200, 5200, 200, 0)))
            except BlockingIOError:
                pass  # nobody reading yet: the tool flushes old frames when it opens the port anyway
            seq += 1

    writer = threading.Thread(target=board, daemon=True)
    writer.start()
    proc = subprocess.Popen(
        [battwatch_bin, "calibrate", "-c", str(_config(tmp_path, os.ttyname(slave))), "--channel", "main",
         "--samples", "5"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("\n")
        proc.stdin.flush()
        check = proc.stdout.readline()  # the port answers before anything is asked
        assert "the main tap reads 11.900 V before calibration" in check, check
        first = proc.stdout.readline()  # the prompt, then the first average
        assert "ADC reads 11.9000 V" in first, first
        level["mv"] = 14_200  # the second reference voltage, before the tool opens the port again
        out, err = proc.communicate("12.00\n\nabc\n14,31\n", timeout=60)
    finally:
        stop.set()
        writer.join(5)
        proc.kill()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    assert "'abc' is not a number of volts; type the multimeter's reading" in err
    assert "clock" not in err and "anchor" not in err, err
    assert "ADC reads 14.2000 V" in out
    gain = float(out.split("gain = ")[1].split()[0])
    assert gain == pytest.approx((14.31 - 12.00) / (14.2 - 11.9), abs=1e-6)
