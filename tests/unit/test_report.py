"""``battwatch report``: the text, the picture and the data behind them, on simulated and broken logs."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from battwatch import config, scenarios
from battwatch.core.model import AlertTransition
from battwatch.report.data import Envelope, ReportData, alert_spans, collect_report
from battwatch.report.plot import plot_report
from battwatch.report.text import format_summary

DAY_S = 86400.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- helpers --------------------------------------------------------------------------------------


def toml_lines(data: dict[str, Any], prefix: str = "") -> list[str]:
    """A nested dict of scalars and lists as TOML tables (enough for scenario_config)."""
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    if prefix and scalars:
        lines.append(f"[{prefix}]")
    # a date is a TOML date, not text: installed = 2021-10-15
    lines += [f"{k} = {v}" if k == "installed" else f"{k} = {json.dumps(v)}" for k, v in scalars.items()]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += toml_lines(v, f"{prefix}.{k}" if prefix else k)
    return lines


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the PNG signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def report(bin_: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bin_, "report", *args], capture_output=True, text=True, timeout=300)


def day_of(when: str) -> float:
    """Days since the scenarios' default start for a 'YYYY-MM-DD HH:MM' of the text."""
    t = datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()
    return (t - scenarios.DEFAULT_START) / DAY_S


class Scenario:
    def __init__(self, name: str, csv: Path, toml: Path) -> None:
        self.name = name
        self.csv = csv
        self.toml = toml

    def cfg(self) -> config.Config:
        return config.load(self.toml)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """scenario(name) -> the scenario's CSV log (written by `python -m battwatch.scenarios`) and config."""
    base = tmp_path_factory.mktemp("report-scenarios")
    _made: dict[str, Scenario] = {}  # each scenario is written once per module

    def make(name: str) -> Scenario:
        if name not in _made:
            csv = base / f"{name}.csv"
            subprocess.run([sys.executable, "-m", "battwatch.scenarios", name, "-o", str(csv)], check=True,
                           capture_output=True, timeout=300)
            toml = base / f"{name}.toml"
            toml.write_text("\n".join(toml_lines(scenarios.scenario_config(name))) + "\n")
            _made[name] = Scenario(name, csv, toml)
        return _made[name]

    return make


def transitions_of_replay(bin_: str, sc: Scenario) -> list[dict[str, Any]]:
    done = subprocess.run([bin_, "replay", str(sc.csv), "-c", str(sc.toml), "--jsonl"], check=True,
                          capture_output=True, text=True, timeout=300)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


# -- the command on scenario logs --------------------------------------------------------------


@pytest.mark.slow
def test_sos_decline_picture_and_text_name_the_alerts_and_the_projected_dates(
    battwatch_bin: str, scenario: Any, tmp_path: Path
) -> None:
    sc = scenario("sos-decline")
    png = tmp_path / "sos.png"
    res = report(battwatch_bin, str(sc.csv), "-c", str(sc.toml), "--plot", str(png))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert png_size(png) == (1600, 1000)
    assert png.stat().st_size < 300_000

    out = res.stdout
    assert out.startswith("sim-sos-decline: 2025-01-06 00:00 to ")
    assert "readings: 51269 (0 rows skipped)" in out
    # every alert the scenario must raise is listed with its time, inside its expected window
    for battery, alert, severity, lo, hi in (
        ("sos", "age", "info", 0.0, 0.01),
        ("sos", "self_discharge", "warning", 60.0, 243.0),
        ("sos", "low_voltage", "info", 120.0, 243.0),
        ("sos", "decline", "warning", 160.0, 243.0),
    ):
        m = re.search(rf"^  (\d{{4}}-\d\d-\d\d \d\d:\d\d)  {battery}\s+{alert}\s+{severity}\s+raised$", out, re.M)
        assert m, f"{battery}/{alert} {severity} missing from:\n{out}"
        assert lo <= day_of(m.group(1)) <= hi
    # the projected dates: after the data, warning before end of life, and the same dates the
    # health summary (MQTT, status) gives
    warn = re.search(r"projected warning level \(4\.88 V\): (\d{4}-\d\d-\d\d)$", out, re.M)
    eol = re.search(r"projected end of life \(critical level 4\.40 V\): (\d{4}-\d\d-\d\d)$", out, re.M)
    assert warn and eol, out
    assert "2025-09-06" < warn.group(1) < eol.group(1)
    data = collect_report(sc.csv, sc.cfg())
    assert data.summary is not None and data.summary.sos is not None
    trend = data.summary.sos.trend
    assert (warn.group(1), eol.group(1)) == (trend.warning_date, trend.end_date)
    # a decline warning is held only while the crossing is at most 120 days ahead
    assert data.end is not None and data.sos_warning_t is not None
    assert 0 < data.sos_warning_t - data.end <= 120 * DAY_S
    assert re.search(r"remaining life: about \d+ months \(by the trend of its rested voltage towards the critical level\)", out)
    assert "still active: " in out and "sos/decline (warning)" in out


def test_weak_crank_report_marks_every_start_and_the_alert(battwatch_bin: str, scenario: Any,
                                                          tmp_path: Path) -> None:
    sc = scenario("main-weak-crank")
    png = tmp_path / "crank.png"
    res = report(battwatch_bin, str(sc.csv), "-c", str(sc.toml), "--plot", str(png))
    assert res.returncode == 0, res.stderr
    assert png_size(png) == (1600, 1000)
    m = re.search(r"^  (\S+ \S+)  main weak_cranking\s+warning\s+raised$", res.stdout, re.M)
    assert m, res.stdout
    assert 0.2 <= day_of(m.group(1)) <= 1.5  # tests/scenarios/expected.py: the second start of day 0
    starts = len(scenarios.plan("main-weak-crank").drives)
    assert f"12 V battery: {starts} engine starts, " in res.stdout


def test_bad_rows_are_reported_with_line_numbers_and_the_report_goes_on(battwatch_bin: str, tmp_path: Path,
                                                                        bad_rows_log: Path) -> None:
    log = bad_rows_log
    png = tmp_path / "out.png"
    res = report(battwatch_bin, str(log), "--plot", str(png))
    assert res.returncode == 0, res.stderr
    assert f"{log}:3: row skipped" in res.stderr
    assert f"{log}:4: row skipped: sos_v: 'five' is not a number" in res.stderr
    assert "readings: 2 (2 rows skipped)" in res.stdout
    assert "Traceback" not in res.stderr
    assert png_size(png) == (1600, 1000)


def test_without_plot_only_the_text_is_written(battwatch_bin: str, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("time,main_v,sos_v\n" + "".join(f"{1735689600 + i * 600},12.6,5.2\n" for i in range(10)))
    res = report(battwatch_bin, str(log))
    assert res.returncode == 0, res.stderr
    assert "readings: 10 (0 rows skipped)" in res.stdout
    assert "picture:" not in res.stdout
    assert list(tmp_path.iterdir()) == [log]


def test_a_gzip_log_or_standard_input_gives_the_same_report(battwatch_bin: str, tmp_path: Path) -> None:
    import gzip

    text = "time,main_v,sos_v\n" + "".join(f"{1735689600 + i * 600},12.6,5.2\n" for i in range(10))
    packed = tmp_path / "log.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    res = report(battwatch_bin, str(packed))
    assert res.returncode == 0, res.stderr
    assert f"readings: 10 (0 rows skipped), from {packed}" in res.stdout
    piped = subprocess.run([battwatch_bin, "report", "-"], input=text, capture_output=True, text=True,
                           timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert "readings: 10 (0 rows skipped), from <stdin>" in piped.stdout


@pytest.mark.parametrize(("column", "present", "absent"), [
    ("sos_v", "SOS pack (4-cell NiMH):", "12 V battery: no readings in this log"),
    ("main_v", "12 V battery: 0 engine starts", "SOS pack (4-cell NiMH): no readings in this log"),
])
def test_a_battery_without_readings_gets_no_verdict(battwatch_bin: str, tmp_path: Path, column: str,
                                                   present: str, absent: str) -> None:
    """A log of one channel says nothing about the health of the other battery."""
    log = tmp_path / "log.csv"
    value = "5.2" if column == "sos_v" else "12.6"
    log.write_text(f"time,{column}\n" + "".join(f"{1735689600 + i * 600},{value}\n" for i in range(200)))
    res = report(battwatch_bin, str(log))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert absent in lines and any(line.startswith(present) for line in lines), res.stdout
    # the only health verdict is the measured battery's
    assert sum("health" in line for line in lines) == 1, res.stdout


def test_missing_file_exits_2_without_traceback(battwatch_bin: str, tmp_path: Path) -> None:
    res = report(battwatch_bin, str(tmp_path / "absent.csv"), "--plot", str(tmp_path / "x.png"))
    assert res.returncode == 2
    assert "no such file" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.png").exists()


def test_unusable_header_exits_2_without_traceback(battwatch_bin: str, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("when,volts\n1,2\n")
    res = report(battwatch_bin, str(log), "--plot", str(tmp_path / "x.png"))
    assert res.returncode == 2
    assert "no 'time' column" in res.stderr and "Traceback" not in res.stderr


def test_a_log_without_readings_fails_without_traceback(battwatch_bin: str, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("time,main_v,sos_v\nnot-a-time,1,2\n")
    res = report(battwatch_bin, str(log), "--plot", str(tmp_path / "x.png"))
    assert res.returncode == 1
    assert "no readings to report" in res.stderr and "Traceback" not in res.stderr
    assert f"{log}:2: row skipped" in res.stderr


def test_unwritable_picture_fails_without_traceback(battwatch_bin: str, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("time,main_v,sos_v\n1735689600,12.6,5.2\n1735690200,12.6,5.2\n")
    res = report(battwatch_bin, str(log), "--plot", str(tmp_path / "no" / "such" / "dir" / "x.png"))
    assert res.returncode == 1
    assert "cannot write" in res.stderr and "Traceback" not in res.stderr


# -- the data behind the picture ---------------------------------------------------------------


def test_every_start_of_the_scenario_is_one_crank_minimum(scenario: Any) -> None:
    sc = scenario("main-weak-crank")
    data = collect_report(sc.csv, sc.cfg())
    drives = scenarios.plan("main-weak-crank").drives
    assert len(data.starts) == len(drives)
    for start, drive in zip(data.starts, drives, strict=True):
        # the window holding the crank ends at most one 60-s window after it
        assert 0.0 <= start.t - drive.crank <= 120.0
        assert start.pre_v is not None and start.min_v < start.pre_v - 1.0
    # minima of 8.3-9.2 V around 0 °C against limits of 9.0-9.3 V (expected.py): most are below
    below = [s for s in data.starts if s.verdict in ("below", "critical")]
    assert len(below) >= len(drives) // 2
    for s in data.starts:  # the verdicts are the analysis' own (core/events.Start)
        if s.failed or s.min_v < data.thresholds.crank_crit_v:
            assert s.verdict == "critical"
        elif s.low_charge:
            assert s.verdict == "low charge"
        else:
            assert (s.verdict == "ok") == (s.min_v >= s.limit_v)


def test_a_failed_start_shows_as_the_analysis_judged_it(scenario: Any) -> None:
    """The report used to judge starts again on their voltage alone: a failed attempt at 9.9 V
    (above the critical level) came out as an ordinary start."""
    sc = scenario("main-failed-start")
    data = collect_report(sc.csv, sc.cfg())
    failed = [s for s in data.starts if s.failed]
    assert len(failed) == 1 and failed[0].verdict == "critical"
    assert failed[0].min_v > data.thresholds.crank_crit_v  # critical for failing, not for its voltage
    assert "(1 failed start)" in format_summary(data)


def test_alert_spans_start_and_end_at_the_replay_transitions(battwatch_bin: str, scenario: Any) -> None:
    sc = scenario("sensor-silent")
    data = collect_report(sc.csv, sc.cfg())
    spans = {(s.battery, s.alert): s for s in data.spans}
    assert set(spans) == {("main", "sensor_fault"), ("sos", "sensor_fault")}
    replayed = transitions_of_replay(battwatch_bin, sc)
    assert [tr.to_json_dict() for tr in data.transitions] == replayed
    for key, span in spans.items():
        raised = [tr for tr in data.transitions if (tr.battery, tr.alert) == key and tr.state == "raised"]
        cleared = [tr for tr in data.transitions if (tr.battery, tr.alert) == key and tr.state == "cleared"]
        assert span.start == raised[0].t and span.end == cleared[-1].t
        assert span.sensor and span.levels == ((raised[0].t, "warning"),)
        # expected.py: no windows from day 2 10:00 to day 3 09:00; raised 2 h after the last
        # window, cleared once the readings are back
        assert 2.45 <= (span.start - scenarios.DEFAULT_START) / DAY_S <= 2.55
        assert span.end is not None and 3.37 <= (span.end - scenarios.DEFAULT_START) / DAY_S <= 3.42
    # the silence is a gap in the plotted lines
    assert any(b - a > 12 * 3600 for a, b in data.gaps)


def test_alert_spans_follow_severity_changes_and_stay_open_at_the_end() -> None:
    def tr(t: float, alert: str, severity: str, state: str) -> AlertTransition:
        return AlertTransition(t, "car", "main", alert, severity, state, None, "")  # type: ignore[arg-type]

    spans = alert_spans([
        tr(10, "overvoltage", "warning", "raised"),
        tr(20, "overvoltage", "critical", "raised"),
        tr(25, "low_voltage", "info", "raised"),
        tr(30, "overvoltage", "warning", "raised"),
        tr(40, "overvoltage", "warning", "cleared"),
        tr(50, "overvoltage", "warning", "raised"),
    ])
    assert [(s.alert, s.start, s.end, s.levels) for s in spans] == [
        ("overvoltage", 10, 40, ((10, "warning"), (20, "critical"), (30, "warning"))),
        ("low_voltage", 25, None, ((25, "info"),)),
        ("overvoltage", 50, None, ((50, "warning"),)),
    ]
    assert spans[0].worst == "critical"


def test_days_narrows_what_is_shown_but_not_the_analysis(scenario: Any) -> None:
    sc = scenario("main-weak-crank")
    full = collect_report(sc.csv, sc.cfg())
    last2 = collect_report(sc.csv, sc.cfg(), days=2.0)
    assert full.end is not None and last2.start is not None
    assert full.end == last2.end and last2.start == full.end - 2 * DAY_S
    assert last2.log_start == full.start
    cut = last2.start
    assert last2.starts == tuple(s for s in full.starts if s.t >= cut)
    assert 0 < len(last2.starts) < len(full.starts)
    # the alert raised on day 0 is still shown, as active through the period
    assert [(s.alert, s.start, s.end) for s in last2.spans] == [(s.alert, s.start, s.end) for s in full.spans]
    assert last2.transitions == full.transitions
    assert last2.main_line and all(t >= cut for t, _ in last2.main_line)
    assert last2.states[0].start == cut and all(r.start >= cut for r in last2.states)


def test_plot_writes_one_png_of_the_expected_size(scenario: Any, tmp_path: Path) -> None:
    import matplotlib.image

    sc = scenario("sensor-loose-wire")
    data = collect_report(sc.csv, sc.cfg())
    assert isinstance(data, ReportData)
    out = tmp_path / "loose.png"
    plot_report(data, out)
    img = matplotlib.image.imread(str(out))
    assert img.shape[:2] == (1000, 1600)


def test_states_are_runs_in_time_order_covering_the_log(scenario: Any) -> None:
    sc = scenario("main-weak-crank")
    data = collect_report(sc.csv, sc.cfg())
    assert {r.state for r in data.states} == {"asleep", "resting", "awake", "running"}
    for a, b in zip(data.states, data.states[1:], strict=False):
        assert a.end == b.start and a.state != b.state
    assert data.states[0].start == data.start and data.states[-1].end == data.end
    # every start lies in a running stretch (a start counts as running)
    for s in data.starts:
        assert any(r.state == "running" and r.start <= s.t <= r.end for r in data.states)


# -- reduction of long logs --------------------------------------------------------------------


def test_envelope_is_bounded_and_keeps_every_spike() -> None:
    env = Envelope(limit=2500)
    for i in range(200_000):  # 2.3 days of 1-s windows
        env.add(float(i), 12.6 + (i % 10) * 0.001)
    env.add(200_000.0, 8.9)  # one crank-like dip
    env.add(200_001.0, 15.2)  # one spike
    for i in range(200_002, 400_000):
        env.add(float(i), 12.6)
    pts = env.points()
    assert len(pts) <= 5000
    assert [t for t, _ in pts] == sorted(t for t, _ in pts)
    values = [v for _, v in pts]
    assert min(values) == 8.9 and max(values) == 15.2
    assert (200_000.0, 8.9) in pts and (200_001.0, 15.2) in pts


def test_envelope_with_a_horizon_keeps_only_recent_buckets_at_full_resolution() -> None:
    env = Envelope(limit=100, horizon_s=1000.0)
    for i in range(100_000):
        env.add(float(i), float(i % 7))
    pts = env.points(100_000 - 1000)
    assert len(pts) <= 200
    width = 1000.0 / 99  # 99 whole buckets over the horizon
    assert pts[0][0] >= 100_000 - 1000 and pts[-1][0] > 99_999 - width
    assert len(env.keys) <= 100 and env.width == width  # never coarsened
    # each bucket (10 readings cycling 0..6) keeps both extremes
    assert {v for _, v in pts} == {0.0, 6.0}


def test_importing_the_report_module_does_not_load_matplotlib() -> None:
    code = "import sys, battwatch.commands.report; sys.exit(1 if 'matplotlib' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_the_verdict_under_the_title_fits_the_picture_however_long(scenario: Any) -> None:
    import matplotlib.pyplot as plt

    from battwatch.report.plot import draw_report

    sc = scenario("sensor-loose-wire")
    data = collect_report(sc.csv, sc.cfg())
    assert isinstance(data, ReportData)
    s = data.summary
    assert s is not None and s.main is not None and s.sos is not None
    main = replace(s.main, remaining=replace(s.main.remaining, text="about 2.9 years (by age, expected life of 5 years)"))
    sos = replace(s.sos, remaining=replace(s.sos.remaining, text=(
        "at most 6 months (while self_discharge warning is active), overdue by 1.5 years (past its expected "
        "life of 5.5 years), and more words still so that the line alone is longer than the picture is wide")))
    data = replace(data, summary=replace(s, main=main, sos=sos))
    fig = draw_report(data)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        box = fig.bbox
        texts = [t for t in fig.texts if "SOS pack:" in t.get_text() or "12 V battery:" in t.get_text()]
        # one line per battery: the single line would be wider than the picture
        assert [t.get_text().split(":")[0] for t in texts] == ["12 V battery", "SOS pack"]
        for t in texts:
            ext = t.get_window_extent(renderer)
            assert box.x0 <= ext.x0 and ext.x1 <= box.x1 and box.y0 <= ext.y0 and ext.y1 <= box.y1, t.get_text()
        # and clear of the panels below
        top_axes = max(ax.get_window_extent(renderer).y1 for ax in fig.axes)
        assert all(t.get_window_extent(renderer).y0 >= top_axes for t in texts)
    finally:
        plt.close(fig)


def test_the_title_and_the_age_warning_agree_about_an_old_battery(scenario: Any) -> None:
    """age-old-batteries: both batteries inside the window of their age warning. The title used
    to say "overdue by 4 months" of a pack whose warning gave it "at most 1.1 years"."""
    from battwatch.report.text import verdict

    sc = scenario("age-old-batteries")
    data = collect_report(sc.csv, sc.cfg())
    assert isinstance(data, ReportData)
    title = verdict(data)
    assert "overdue" not in title, title
    assert ("SOS pack: attention, remaining life: in its replacement window: expected life of 5.5 years reached, "
            "at most 1.1 years left") in title, title
    assert data.summary is not None and data.summary.sos is not None
    (age,) = [a for a in data.summary.sos.alerts if a.alert == "age"]
    assert age.severity == "warning" and "at most 1.1 years" in age.message


def test_a_rested_reading_after_the_first_sign_of_an_active_fault_is_not_given_as_good(
        battwatch_bin: str, tmp_path: Path) -> None:
    from battwatch import scenarios
    from battwatch.core.csvlog import write_csv

    cut = 1736424960.0  # 2025-01-09T12:16:00Z
    log = tmp_path / "stuck.csv"
    with log.open("w") as fh:  # a stuck channel, the log ending while the fault is active
        write_csv(fh, (r for r in scenarios.generate("sensor-stuck") if r.t <= cut))
    res = report(battwatch_bin, str(log))
    assert res.returncode == 0, res.stderr
    rested = [line for line in res.stdout.splitlines() if "last rested" in line]
    assert len(rested) == 2
    assert all(line.endswith("(after the first sign of the sensor fault active at the end: not known to be good)")
               for line in rested), rested
    # without the fault the line carries no caveat
    healthy = tmp_path / "park.csv"
    with healthy.open("w") as fh:
        write_csv(fh, scenarios.generate("main-healthy-week-park"))
    res = report(battwatch_bin, str(healthy))
    assert "last rested" in res.stdout and "sensor fault" not in res.stdout


def _picture(tmp_path: Path, rows: list[str], header: str = "time,main_v,sos_v") -> tuple[Any, ReportData]:
    """The report figure of a log written from ``rows``."""
    from battwatch import config
    from battwatch.report.plot import draw_report

    log = tmp_path / "log.csv"
    log.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    data = collect_report(log, config.defaults("car"))
    return draw_report(data), data


def _battery_axes(fig: Any) -> list[Any]:
    return [ax for ax in fig.axes if ax.get_ylabel()]


T0 = 1735689600  # 2025-01-01


def test_a_quarter_volt_fall_while_parked_fills_the_12v_panel(tmp_path: Path) -> None:
    """Two days parked, 12.70 V falling to 12.45 V: the axis fits the data, not the far thresholds."""
    n = 2 * 24 * 12
    rows = [f"{T0 + i * 300},{12.70 - 0.25 * i / (n - 1):.4f},5.30" for i in range(n)]
    fig, _ = _picture(tmp_path, rows)
    main = next(ax for ax in _battery_axes(fig) if ax.get_ylabel().startswith("12 V"))
    lo, hi = main.get_ylim()
    assert lo <= 12.45 and hi >= 12.70
    assert 0.25 / (hi - lo) > 0.5, (lo, hi)  # the fall takes more than half the panel's height


def test_a_single_spike_is_inside_the_axis(tmp_path: Path) -> None:
    rows = [f"{T0 + i * 60},{16.4 if i == 1000 else 12.6},5.30" for i in range(2000)]  # a regulator spike
    fig, _ = _picture(tmp_path, rows)
    main = next(ax for ax in _battery_axes(fig) if ax.get_ylabel().startswith("12 V"))
    assert main.get_ylim()[1] >= 16.4  # one reading among 2000: still not cut off


@pytest.mark.parametrize(("header", "value", "label"), [("time,sos_v", "5.3", "SOS"), ("time,main_v", "12.6", "12 V")])
def test_a_log_of_one_channel_draws_one_battery_panel(tmp_path: Path, header: str, value: str, label: str) -> None:
    fig, _ = _picture(tmp_path, [f"{T0 + i * 600},{value}" for i in range(200)], header)
    axes = _battery_axes(fig)
    assert len(axes) == 1 and axes[0].get_ylabel().startswith(label), [ax.get_ylabel() for ax in axes]
    assert len(fig.axes) == 2  # and the alert timeline


def test_lines_and_state_bands_break_where_the_analysis_ends_a_drive(tmp_path: Path) -> None:
    """A 26-minute hole with the engine running: longer than gap_close_s (10 min), shorter than
    a silent sensor (2 h). The analysis ends the drive there; the picture shows a hole, not a
    band of 'running' or 'awake' across it."""
    rows = [f"{T0 + i * 10},12.60,5.30" for i in range(60)]  # parked
    rows += [f"{T0 + 600},9.80,5.30"]  # a start
    rows += [f"{T0 + 610 + i * 10},14.20,5.30" for i in range(60)]  # running, charging
    hole_from = T0 + 610 + 59 * 10
    hole_to = hole_from + 26 * 60
    rows += [f"{hole_to + i * 10},14.20,5.30" for i in range(60)]
    _, data = _picture(tmp_path, rows)
    assert (float(hole_from), float(hole_to)) in data.gaps
    assert not any(r.start < hole_to and r.end > hole_from for r in data.states), data.states
