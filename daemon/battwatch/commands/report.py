"""``battwatch report``: a log's history as one picture and a short text (states, starts, alerts, SOS trend)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from battwatch.core.events import Drive, Outbound, Start
from battwatch.core.model import SEVERITY_RANK, AlertTransition, Health, Reading

if TYPE_CHECKING:
    from battwatch.config import Config
    from battwatch.core.analysis.analyzer import BatteryAnalyzer
    from battwatch.core.analysis.trend import TrendFit

logger = logging.getLogger(__name__)

DAY_S = 86400.0
MAX_BUCKETS = 2500  # a plotted line keeps each bucket's lowest and highest value: ≤ 5000 points
# The vehicle states the picture shades; a start is a moment, drawn as a marker, so its few
# seconds count as running.
SHADED_STATE = {"asleep": "asleep", "resting": "resting", "awake": "awake", "cranking": "running",
                "running": "running"}
# Alert rows of the timeline, in the catalogue's order (docs/analysis.md §9).
ALERT_ORDER = ("config_mismatch", "low_voltage", "weak_cranking", "undercharging", "overvoltage", "parasitic_drain",
               "step_drop", "self_discharge", "decline", "age", "sensor_fault")
BATTERY_LABEL = {"main": "12 V", "sos": "SOS"}


# -- values ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateRun:
    """A stretch of readings in one vehicle state (start = end of the reading before)."""

    start: float
    end: float
    state: str


@dataclass(frozen=True, slots=True)
class AlertSpan:
    """One alert from raised to cleared, with every change of severity in between."""

    battery: str
    alert: str
    start: float
    end: float | None  # None: still active at the end of the log
    levels: tuple[tuple[float, str], ...]  # (from this time, severity), in time order

    @property
    def sensor(self) -> bool:
        return self.alert == "sensor_fault"

    @property
    def worst(self) -> str:
        return max((sev for _, sev in self.levels), key=lambda s: SEVERITY_RANK[s])


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The levels drawn as lines, from ``[analysis]`` and the battery facts."""

    main_open_v: float  # below this a channel reads an open input, not a battery
    sos_open_v: float
    main_info_v: float | None  # resting voltage at 25 °C
    main_warn_v: float
    main_crit_v: float
    crank_limits: tuple[tuple[float, float], ...]  # (°C, V): the load-test table
    crank_crit_v: float
    crank_assumed_temp_c: float
    overvoltage_warn_v: float
    overvoltage_crit_v: float
    sos_info_v: float | None  # whole pack
    sos_warn_v: float
    sos_crit_v: float
    sos_chemistry: str
    sos_cells: int


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the text and the picture show, for the period shown (``start`` to ``end``)."""

    vehicle: str
    source: str
    start: float | None  # the period shown; None when the log held no readings
    end: float | None
    log_start: float | None  # the whole log (the analysis always runs over all of it)
    log_end: float | None
    readings: int
    skipped: int
    main_line: tuple[tuple[float, float], ...]  # window averages, reduced to ≤ 5000 points
    sos_line: tuple[tuple[float, float], ...]
    gaps: tuple[tuple[float, float], ...]  # (last reading, next reading) across silent stretches
    states: tuple[StateRun, ...]
    starts: tuple[Start, ...]  # as the analysis judged them
    drives: tuple[Drive, ...]
    main_daily: tuple[tuple[float, float], ...]  # (mid-day Unix s, rested V at 25 °C)
    sos_daily: tuple[tuple[float, float], ...]  # (mid-day Unix s, rested V)
    sos_trend: TrendFit | None
    sos_warning_t: float | None  # the trend reaches the warning level
    sos_end_of_life_t: float | None  # ... and the critical level
    transitions: tuple[AlertTransition, ...]  # of the whole log, as ``battwatch replay`` prints them
    spans: tuple[AlertSpan, ...]  # overlapping the period shown
    thresholds: Thresholds
    summary: Mapping[str, Any]  # the analyzer's health summary at the end of the log
    unknown_columns: tuple[str, ...] = ()


# -- collection ----------------------------------------------------------------------------------------


class Envelope:
    """Lowest and highest value per time bucket of one channel, in bounded memory.

    Without a horizon the buckets double in width whenever there are too many, so a year of
    1-s windows costs no more than a week; with one, buckets have a fixed width and those
    older than the horizon before the newest reading are dropped. Keeping both extremes keeps
    every spike and dip visible in the reduced line.
    """

    __slots__ = ("width", "limit", "horizon_n", "keys", "lo", "t_lo", "hi", "t_hi")

    def __init__(self, *, limit: int = MAX_BUCKETS, horizon_s: float | None = None) -> None:
        if limit < 2:
            raise ValueError("an envelope needs at least two buckets")
        self.limit = limit
        # with a horizon: limit - 1 whole buckets cover it, plus the newest, partial one
        self.width = 1.0 if horizon_s is None else horizon_s / (limit - 1)
        self.horizon_n = None if horizon_s is None else limit - 1
        self.keys: deque[int] = deque()
        self.lo: deque[float] = deque()
        self.t_lo: deque[float] = deque()
        self.hi: deque[float] = deque()
        self.t_hi: deque[float] = deque()

    def add(self, t: float, v: float) -> None:
        k = int(t // self.width)
        keys = self.keys
        if keys and keys[-1] == k:
            if v < self.lo[-1]:
                self.lo[-1] = v
                self.t_lo[-1] = t
            elif v > self.hi[-1]:
                self.hi[-1] = v
                self.t_hi[-1] = t
            return
        keys.append(k)
        self.lo.append(v)
        self.t_lo.append(t)
        self.hi.append(v)
        self.t_hi.append(t)
        if self.horizon_n is not None:
            oldest = k - self.horizon_n
            while keys[0] < oldest:
                for q in (keys, self.lo, self.t_lo, self.hi, self.t_hi):
                    q.popleft()
        elif len(keys) > self.limit:
            self._coarsen()

    def _coarsen(self) -> None:
        """Merge neighbouring buckets: twice the width, half the count."""
        keys: deque[int] = deque()
        lo: deque[float] = deque()
        t_lo: deque[float] = deque()
        hi: deque[float] = deque()
        t_hi: deque[float] = deque()
        for k, a, ta, b, tb in zip(self.keys, self.lo, self.t_lo, self.hi, self.t_hi, strict=True):
            k //= 2
            if keys and keys[-1] == k:
                if a < lo[-1]:
                    lo[-1], t_lo[-1] = a, ta
                if b > hi[-1]:
                    hi[-1], t_hi[-1] = b, tb
            else:
                keys.append(k)
                lo.append(a)
                t_lo.append(ta)
                hi.append(b)
                t_hi.append(tb)
        self.width *= 2.0
        self.keys, self.lo, self.t_lo, self.hi, self.t_hi = keys, lo, t_lo, hi, t_hi

    def points(self, t_from: float = -math.inf) -> list[tuple[float, float]]:
        """Each bucket's extremes in time order (one point when they coincide)."""
        out: list[tuple[float, float]] = []
        for a, ta, b, tb in zip(self.lo, self.t_lo, self.hi, self.t_hi, strict=True):
            if ta == tb:
                pts: tuple[tuple[float, float], ...] = ((ta, a),)
            elif ta < tb:
                pts = ((ta, a), (tb, b))
            else:
                pts = ((tb, b), (ta, a))
            out.extend(p for p in pts if p[0] >= t_from)
        return out


class _Collector:
    """What the report keeps of the replay, as a sink of the router: reduced lines, state runs,
    gaps, and the analysis' starts and drives."""

    def __init__(self, analyzer: BatteryAnalyzer, horizon_s: float | None, gap_close_s: float = math.inf) -> None:
        self.analyzer = analyzer
        self.gap_close_s = gap_close_s
        self._gaps_seen = 0
        self.starts: list[Start] = []
        self.drives: list[Drive] = []
        self.main = Envelope(horizon_s=horizon_s)
        self.sos = Envelope(horizon_s=horizon_s)
        self.runs: list[StateRun] = []
        self.gaps: list[tuple[float, float]] = []
        self.vehicle: str | None = None
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.run_state: str | None = None  # None: not known (no 12 V value)
        self.run_start = 0.0

    def started(self, ev: Start) -> None:
        self.starts.append(ev)

    def drove(self, ev: Drive) -> None:
        self.drives.append(ev)

    def reading(self, r: Reading, vehicle_state: str) -> None:
        t = r.t
        # the 12 V channel tells the vehicle state; without it in a reading the state is unknown
        # (and while the channel is faulted its readings tell none)
        state = None if r.main_v is None else SHADED_STATE.get(vehicle_state)
        last = self.last_t
        if last is None:
            self.first_t = t
            self.vehicle = r.vehicle
            self.run_state, self.run_start = state, t - r.window_s
        else:
            silent = self.analyzer.gaps_seen != self._gaps_seen
            # the analyzer judged the stretch before this reading silent, or, with the car awake
            # or running, long enough to end the drive (gap_close_s): either way nothing is known
            # of it, so no line and no state band crosses it
            if silent or (self.run_state in ("awake", "running") and t - r.window_s - last > self.gap_close_s):
                self._gaps_seen = self.analyzer.gaps_seen
                self.gaps.append((last, t))
                self._close(last)
                self.run_state, self.run_start = state, t - min(r.window_s, t - last)
            if state != self.run_state:
                self._close(last)
                self.run_state, self.run_start = state, last
        self.last_t = t
        if r.main_v is not None:
            self.main.add(t, r.main_v)
        if r.sos_v is not None:
            self.sos.add(t, r.sos_v)

    def _close(self, end: float) -> None:
        if self.run_state is not None and end > self.run_start:
            self.runs.append(StateRun(self.run_start, end, self.run_state))

    def finish(self) -> None:
        if self.last_t is not None:
            self._close(self.last_t)
            self.run_state = None


def alert_spans(transitions: Sequence[AlertTransition]) -> list[AlertSpan]:
    """Raised → cleared per (battery, alert); a raise while active is a change of severity."""
    open_: dict[tuple[str, str], tuple[float, list[tuple[float, str]]]] = {}
    spans: list[AlertSpan] = []
    for tr in transitions:
        key = (tr.battery, tr.alert)
        if tr.state == "raised":
            if key in open_:
                open_[key][1].append((tr.t, tr.severity))
            else:
                open_[key] = (tr.t, [(tr.t, tr.severity)])
        elif key in open_:
            start, levels = open_.pop(key)
            spans.append(AlertSpan(tr.battery, tr.alert, start, tr.t, tuple(levels)))
    for (battery, alert), (start, levels) in open_.items():
        spans.append(AlertSpan(battery, alert, start, None, tuple(levels)))
    spans.sort(key=lambda s: s.start)
    return spans


def thresholds_of(cfg: Config) -> Thresholds:
    a = cfg.analysis
    lv = a.main.low_voltage
    cc = a.main.cranking
    ov = a.main.overvoltage
    sos = cfg.battery.sos
    lim = a.sos.chemistry.get(sos.chemistry)
    n = sos.cells
    return Thresholds(
        main_open_v=a.sensor.main_open_v, sos_open_v=a.sensor.sos_open_v,
        main_info_v=lv.info_v, main_warn_v=lv.warn_v, main_crit_v=lv.crit_v,
        crank_limits=tuple((float(x), float(y)) for x, y in cc.limit_by_temp_c),
        crank_crit_v=cc.crit_v, crank_assumed_temp_c=cc.assumed_temp_c,
        overvoltage_warn_v=ov.warn_v, overvoltage_crit_v=ov.crit_v,
        sos_info_v=None if lim.info_v is None else lim.info_v * n,
        sos_warn_v=lim.warn_v * n, sos_crit_v=lim.crit_v * n,
        sos_chemistry=sos.chemistry, sos_cells=n,
    )


def collect_report(
    path: Path | Sequence[tuple[Path, str]],
    cfg: Config,
    *,
    days: float | None = None,
    warn: Callable[[str], None] | None = None,
    vehicle: str | None = None,
    name: str | None = None,
    max_warnings: int = -1,
) -> ReportData:
    """Replay ``path`` (called ``name`` in warnings and the text, when given), or several logs
    given as (path, name) in time order, through the analysis and gather what the report shows.

    The analysis always runs over the whole log (baselines and trends need its history);
    ``days`` only narrows what is shown to the last ``days`` days. Bad rows are skipped and
    reported through ``warn`` exactly as ``battwatch replay`` does. ``vehicle`` names the car
    (default: the log's vehicle column, else the configuration's id). Raises CsvFormatError
    for a log without a usable header.
    """
    from battwatch.core.analysis import build_analyzer
    from battwatch.core.pipeline import Pipeline
    from battwatch.replay import feed_logs, logs_label
    from battwatch.router import Router

    logs = [(path, str(path) if name is None else name)] if isinstance(path, Path) else list(path)
    analyzer = build_analyzer(cfg, record=True)
    pipeline = Pipeline(cfg.vehicle.id, analyzer)
    horizon = None if days is None else days * DAY_S
    col = _Collector(analyzer, horizon, cfg.analysis.state.gap_close_s)
    router = Router(pipeline, readings=[col], events=[col])
    res = feed_logs(logs, pipeline, warn=warn, route=router.route, max_warnings=max_warnings)
    col.finish()
    transitions = list(res.transitions)
    if res.last_t is not None:
        # what `battwatch replay` does at the end of a log: a drive or start still open is
        # closed and judged, age
        outs: list[Outbound] = list(pipeline.end_of_data(res.last_t))
        router.route(outs)
        transitions += [o for o in outs if isinstance(o, AlertTransition)]
    rd = analyzer.report_data()
    summary = analyzer.summary(res.last_t) if res.last_t is not None else {}

    log_start, log_end = res.first_t, res.last_t
    start = log_start
    if horizon is not None and log_end is not None and log_start is not None:
        start = max(log_start, log_end - horizon)
    lo = -math.inf if start is None else start

    runs = tuple(
        StateRun(max(r.start, lo), r.end, r.state) for r in col.runs if r.end > lo
    )
    spans = tuple(s for s in alert_spans(transitions) if s.end is None or s.end >= lo)
    return ReportData(
        vehicle=vehicle or col.vehicle or cfg.vehicle.id,
        source=logs_label(logs),
        start=start,
        end=log_end,
        log_start=log_start,
        log_end=log_end,
        readings=res.readings,
        skipped=res.skipped,
        main_line=tuple(col.main.points(lo)),
        sos_line=tuple(col.sos.points(lo)),
        gaps=tuple(g for g in col.gaps if g[1] > lo),
        states=runs,
        starts=tuple(s for s in col.starts if s.t >= lo),
        drives=tuple(d for d in col.drives if d.t >= lo),
        main_daily=tuple((d * DAY_S, v) for d, v in rd.main_daily if d * DAY_S >= lo),
        sos_daily=tuple((d * DAY_S, v) for d, v in rd.sos_daily if d * DAY_S >= lo),
        sos_trend=rd.sos_trend,
        sos_warning_t=None if rd.sos_warning_day is None else rd.sos_warning_day * DAY_S,
        sos_end_of_life_t=None if rd.sos_end_of_life_day is None else rd.sos_end_of_life_day * DAY_S,
        transitions=tuple(transitions),
        spans=spans,
        thresholds=thresholds_of(cfg),
        summary=summary,
        unknown_columns=tuple(res.unknown_columns),
    )


# -- text ---------------------------------------------------------------------------------------------


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def _date(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def _duration(seconds: float) -> str:
    if seconds < 3600.0:
        return f"{seconds / 60.0:.0f} min"
    if seconds < 2 * DAY_S:
        return f"{seconds / 3600.0:.1f} h"
    return f"{seconds / DAY_S:.0f} days" if seconds >= 20 * DAY_S else f"{seconds / DAY_S:.1f} days"


def _life(part: Mapping[str, Any]) -> str:
    text = part.get("remaining_life_text")
    if isinstance(text, str) and text:
        return f"remaining life: {text}"  # the analysis' own words, with what they rest on
    years = part.get("remaining_life_years")
    if years is None:
        return "remaining life unknown (no installation date)"
    basis = part.get("remaining_life_basis") or "age"
    if years <= 0:
        return f"at or past the end of its expected life (by {basis})"
    if years < 1.0:
        return f"remaining life about {years * 12:.0f} months (by {basis})"
    return f"remaining life about {years:.1f} years (by {basis})"


def chemistry_label(chem: str) -> str:
    return {"nimh": "NiMH", "li-ion": "Li-ion", "lifepo4": "LiFePO4"}.get(chem, chem)


def verdict(data: ReportData) -> str:
    """One line for the picture's title: what needs doing, and how long each battery has left."""
    parts = []
    for key, name, line in (("main", "12 V battery", data.main_line), ("sos", "SOS pack", data.sos_line)):
        part = data.summary.get(key) or {}
        if not line:
            parts.append(f"{name}: no readings")
        else:
            parts.append(f"{name}: {_health(part)}, {_life(part)}")
    return " · ".join(parts)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _health(section: Mapping[str, Any]) -> str:
    """The analysis' verdict as words ("unknown: no SOS readings")."""
    h = Health.of(section)
    return "unknown" if h is None else h.text()


def _fault_caveat(section: Mapping[str, Any]) -> str:
    """What the last rested reading is worth while the channel has a sensor fault at the end."""
    from battwatch.core.faultview import faulted, last_good_rested

    if not faulted(section):
        return ""
    if last_good_rested(section) is None:
        return " (after the first sign of the sensor fault active at the end: not known to be good)"
    return " (before the sensor fault active at the end)"


def _main_summary(data: ReportData, main: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    below = [s for s in data.starts if s.verdict in ("below", "critical")]
    failed = sum(1 for s in data.starts if s.failed)
    low_charge = sum(1 for s in data.starts if s.verdict == "low charge")
    starts = _count(len(data.starts), "engine start")
    if data.starts:
        low = min(data.starts, key=lambda s: s.min_v)
        temp = "" if low.temp_c is None else f", {low.temp_c:.1f} °C"
        starts += (f", {len(below)} below the temperature-adjusted limit"
                   + (f" ({_count(failed, 'failed start')})" if failed else "")
                   + (f", {low_charge} at too low a charge to judge" if low_charge else "")
                   + f"; lowest {low.min_v:.2f} V on {_when(low.t)}{temp}")
    lines.append(f"12 V battery: {starts}; {_count(len(data.drives), 'drive')}")
    rested = main.get("rested_voltage")
    if rested is not None:
        v25 = main.get("rested_voltage_25c")
        at25 = "" if v25 is None else f" ({v25:.2f} V at 25 °C)"
        lines.append(f"  last rested {rested:.2f} V{at25} on {str(main.get('rested_at'))[:16].replace('T', ' ')}"
                     f"{_fault_caveat(main)}")
    lines.append(f"  health {_health(main)}; {_life(main)}")
    return lines


def _sos_summary(data: ReportData, sos: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    th = data.thresholds
    lines.append(f"SOS pack ({th.sos_cells}-cell {chemistry_label(th.sos_chemistry)}):")
    s_rested = sos.get("rested_voltage")
    if s_rested is not None:
        lines.append(f"  last rested {s_rested:.2f} V ({s_rested / th.sos_cells:.3f} V per cell) on "
                     f"{str(sos.get('rested_at'))[:16].replace('T', ' ')}{_fault_caveat(sos)}")
    fit = data.sos_trend
    if fit is None:
        lines.append("  trend: not enough rested days yet for a trend")
    else:
        projected = data.sos_warning_t is not None or data.sos_end_of_life_t is not None
        word = ("significant fall" if fit.falling and projected
                else "slight fall, no decline in sight" if fit.falling
                else "rising" if fit.rising else "no significant change")
        lines.append(f"  trend: {fit.slope * 1000:+.2f} mV/day over {fit.n} days "
                     f"(90 % range {fit.lower * 1000:+.2f} to {fit.upper * 1000:+.2f}): {word}")
    for t, what in ((data.sos_warning_t, f"projected warning level ({th.sos_warn_v:.2f} V)"),
                    (data.sos_end_of_life_t, f"projected end of life (critical level {th.sos_crit_v:.2f} V)")):
        if t is not None:
            # the analysis projects from its last fit: a crossing at or before it is already reached
            reached = " (already reached by the trend)" if data.end is not None and t <= data.end else ""
            lines.append(f"  {what}: {_date(t)}{reached}")
    lines.append(f"  health {_health(sos)}; {_life(sos)}")
    return lines


def format_summary(data: ReportData) -> str:
    """The short text ``battwatch report`` prints."""
    lines: list[str] = []
    if data.start is None or data.end is None:
        return f"{data.vehicle}: {data.source} holds no readings ({data.skipped} rows skipped)"
    span = _duration(data.end - data.start)
    lines.append(f"{data.vehicle}: {_when(data.start)} to {_when(data.end)} UTC ({span})")
    if data.log_start is not None and data.start > data.log_start:
        lines.append(f"  (the last {span} of a log from {_when(data.log_start)}; the analysis ran over all of it)")
    lines.append(f"readings: {data.readings} ({data.skipped} rows skipped), from {data.source}")
    th = data.thresholds

    main = data.summary.get("main") or {}
    if not data.main_line:
        lines.append("12 V battery: no readings in this log")
    else:
        lines += _main_summary(data, main)
    sos = data.summary.get("sos") or {}
    if not data.sos_line:
        lines.append(f"SOS pack ({th.sos_cells}-cell {chemistry_label(th.sos_chemistry)}): no readings in this log")
    else:
        lines += _sos_summary(data, sos)

    shown = [tr for tr in data.transitions if tr.t >= data.start]
    # alerts, not transitions: one alert that escalates and eases is raised once
    n = {c: sum(1 for tr in shown if tr.change == c) for c in ("raised", "escalated", "eased", "cleared")}
    steps = f" ({n['escalated']} escalated, {n['eased']} eased)" if n["escalated"] or n["eased"] else ""
    lines.append(f"alerts: {n['raised']} raised, {n['cleared']} cleared{steps}")
    for sp in data.spans:
        if sp.start < data.start:  # raised before the period shown, still active in it
            sev = [sev for t, sev in sp.levels if t < data.start][-1]
            lines.append(f"  {_when(sp.start)}  {sp.battery:4} {sp.alert:15} {sev:8} raised earlier")
    for tr in shown:
        lines.append(f"  {_when(tr.t)}  {tr.battery:4} {tr.alert:15} {tr.severity:8} {tr.change}")
    active = [s for s in data.spans if s.end is None]
    if active:
        lines.append("still active: " + ", ".join(f"{s.battery}/{s.alert} ({s.levels[-1][1]})" for s in active))
    return "\n".join(lines)


# -- picture ------------------------------------------------------------------------------------------

STATE_COLOURS = {"asleep": "#e8eef7", "resting": "#d9ecd9", "awake": "#fff1c9", "running": "#f7d3c7"}
SEVERITY_COLOURS = {"info": "#6fa8dc", "warning": "#f0a030", "critical": "#d03030"}
SENSOR_COLOUR = "#9a8fb8"
MAIN_COLOUR = "#4a6fa5"
SOS_COLOUR = "#2e8b57"
TREND_COLOUR = "#6a1b9a"
SENSOR_FILL = "#e6e1f2"


def plot_report(data: ReportData, out_png: Path, title: str | None = None) -> None:
    """Write the picture: 12 V panel, SOS panel and alert timeline on one date axis (1600x1000 px)."""
    fig = draw_report(data, title)  # selects the Agg backend before pyplot is imported here
    import matplotlib.pyplot as plt

    _save_png(fig, out_png)
    plt.close(fig)


def _fit_width(fig: Any, text: Any, min_size: float = 7.0) -> None:
    """Shrink a line of text until it fits inside the figure's width (8 px spare)."""
    renderer = fig.canvas.get_renderer()
    limit = fig.bbox.x1 - 8.0
    while text.get_window_extent(renderer).x1 > limit and text.get_fontsize() > min_size:
        text.set_fontsize(text.get_fontsize() - 0.5)


def _headline(fig: Any, title: str, subtitle: str) -> float:
    """Title and verdict across the top; returns the figure fraction the panels may start below.

    The verdict is one line when it fits; otherwise one line per battery (the SOS part of a long
    verdict used to run off the right edge), each shrunk if it still does not fit.
    """
    head = fig.text(0.012, 0.975, title, fontsize=15, fontweight="bold", ha="left", va="top")
    _fit_width(fig, head, 9.0)
    sub = fig.text(0.012, 0.935, subtitle, fontsize=11.5, ha="left", va="top")
    renderer = fig.canvas.get_renderer()
    if sub.get_window_extent(renderer).x1 <= fig.bbox.x1 - 8.0 or " · " not in subtitle:
        _fit_width(fig, sub)
        return 0.9
    sub.remove()
    y = 0.935
    for part in subtitle.split(" · "):
        line = fig.text(0.012, y, part, fontsize=11.5, ha="left", va="top")
        _fit_width(fig, line)
        y -= 0.024
    return y - 0.011


def draw_report(data: ReportData, title: str | None = None) -> Any:
    """The report's matplotlib figure (see plot_report); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    if data.start is None or data.end is None:
        raise ValueError("no readings to plot")
    epoch = float(mdates.date2num(datetime(1970, 1, 1, tzinfo=UTC)))

    def x(t: float) -> float:
        return epoch + t / DAY_S

    x_end = _axis_end(data)
    pad = 0.01 * max(x_end - data.start, 3600.0)  # a log of one reading still gets an axis
    x_lo, x_hi = x(data.start - pad), x(x_end + pad)

    rows = _timeline_rows(data.spans)
    # a channel the log does not have gets no panel
    has_main, has_sos = bool(data.main_line), bool(data.sos_line) or not data.main_line
    fig = plt.figure(figsize=(16, 10 if has_main and has_sos else 7.5), dpi=100)
    if title is None:
        span = _duration(data.end - data.start)
        if data.log_start is not None and data.start > data.log_start:
            what = f"the last {span} of a {_duration(data.end - data.log_start)} log"
        else:
            what = f"{span}, {data.readings:,} readings"
        title = (f"{data.vehicle}: {_date(data.start)} to {_date(data.end)}  ({what}, "
                 f"{_count(len(data.starts), 'engine start')})")
    top = _headline(fig, title, verdict(data))
    ratios = [r for r, keep in ((4.2, has_main), (3.2, has_sos)) if keep] + [0.9 + 0.3 * max(len(rows), 1)]
    gs = fig.add_gridspec(len(ratios), 1, height_ratios=ratios, hspace=0.07,
                          left=0.095, right=0.775, top=top, bottom=0.065 * 10 / fig.get_figheight())
    panels = [fig.add_subplot(gs[i]) for i in range(len(ratios))]
    for ax in panels[1:]:
        ax.sharex(panels[0])
    ax_main = panels[0] if has_main else None
    ax_sos = panels[1 if has_main else 0] if has_sos else None
    ax_tl = panels[-1]
    batteries = [(ax, b) for ax, b in ((ax_main, "main"), (ax_sos, "sos")) if ax is not None]
    for ax in panels:
        ax.set_xlim(x_lo, x_hi)
    legend_x = 0.866  # right of the threshold labels

    def legend(handles: list[Any], title: str, top: float) -> None:
        leg = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(legend_x, top), fontsize=8.5,
                         frameon=False, title=title, title_fontsize=9.5, alignment="left",
                         borderaxespad=0.0, handlelength=1.8)
        leg.get_title().set_fontweight("bold")

    # -- vehicle states behind the battery panels, sensor faults hatched over them
    state_handles = [_shade_states(ax, data, x) for ax, _ in batteries][0]
    _shade_sensor_faults(batteries, data, x)
    if ax_main is not None:
        _draw_main(ax_main, data, x, legend, state_handles)
    if ax_sos is not None:
        _draw_sos(ax_sos, data, x, x_end, legend)

    # -- alert timeline
    tl_handles = _timeline(ax_tl, data, rows, x)
    legend(tl_handles, "alerts", ax_tl.get_position().y1)
    if ax_main is None and data.states:
        legend(state_handles, "vehicle state", panels[0].get_position().y0 + 0.16)

    for ax in panels:
        ax.grid(axis="x", color="#a0a0a0", lw=0.5, alpha=0.5)
        if data.end < x_end:
            ax.axvline(x(data.end), color="#555555", lw=0.9, ls="--", zorder=4)
    if data.end < x_end:
        panels[0].annotate(" end of data", (x(data.end), 1.0), xycoords=("data", "axes fraction"),
                           xytext=(2, -4), textcoords="offset points", fontsize=8.5, color="#444444",
                           va="top", ha="left")
    for ax, _ in batteries:
        ax.grid(axis="y", color="#c8c8c8", lw=0.4, alpha=0.6)
        ax.tick_params(labelbottom=False)
    locator = mdates.AutoDateLocator(minticks=6, maxticks=14, tz=UTC)
    ax_tl.xaxis.set_major_locator(locator)
    ax_tl.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax_tl.set_xlabel("date (UTC)")
    return fig


def _draw_main(ax_main: Any, data: ReportData, x: Callable[[float], float],
               legend: Callable[[list[Any], str, float], None], state_handles: list[Any]) -> None:
    """The 12 V panel: window averages, daily rested values, starts and their limits."""
    th = data.thresholds
    mx, my = _line(data.main_line, data.gaps, x)
    ax_main.plot(mx, my, color=MAIN_COLOUR, lw=0.6, alpha=0.8, zorder=3, label="window average")
    if data.main_daily:
        ax_main.plot([x(t) for t, _ in data.main_daily], [v for _, v in data.main_daily], "o-",
                     color="#14305c", ms=3.2, lw=0.9, zorder=5, label="daily rested value\n(at 25 °C)")
    values = _plausible(data, "main", th.main_open_v) + [v for _, v in data.main_daily]
    if data.starts:
        # the limit each start was judged against, as a step line through the starts
        ax_main.step([x(s.t) for s in data.starts], [s.limit_v for s in data.starts], where="mid",
                     color="#c0504d", lw=0.9, ls=(0, (3, 2)), alpha=0.8, zorder=3,
                     label="start limit at its\ntemperature")
        marks = (("ok", 14, "#2a4d8f", "start minimum"),
                 ("low charge", 14, "#9a9a9a", "start minimum\n(charge too low to judge)"),
                 ("below", 36, "#ff2a2a", "start minimum\nbelow the limit"),
                 ("critical", 44, "#8b0000", f"start minimum\nbelow {th.crank_crit_v:.1f} V (critical)"))
        for verdict_, size, colour, label in marks:
            sel = [s for s in data.starts if s.verdict == verdict_]  # critical includes failed starts
            if sel:
                ax_main.scatter([x(s.t) for s in sel], [s.min_v for s in sel], s=size, color=colour,
                                edgecolors="black" if verdict_ in ("below", "critical") else "none", linewidths=0.5,
                                marker="v", zorder=6, label=label)
        values += [s.min_v for s in data.starts] + [s.limit_v for s in data.starts]
    levels_main: list[tuple[float, str, str]] = [
        (th.main_warn_v, f"rest warn {th.main_warn_v:.2f} V", SEVERITY_COLOURS["warning"]),
        (th.main_crit_v, f"rest crit {th.main_crit_v:.2f} V", SEVERITY_COLOURS["critical"]),
        (th.overvoltage_warn_v, f"over warn {th.overvoltage_warn_v:.1f} V", SEVERITY_COLOURS["warning"]),
        (th.overvoltage_crit_v, f"over crit {th.overvoltage_crit_v:.1f} V", SEVERITY_COLOURS["critical"]),
    ]
    if th.main_info_v is not None:
        levels_main.append((th.main_info_v, f"rest info {th.main_info_v:.2f} V", SEVERITY_COLOURS["info"]))
    if data.starts:
        levels_main.append((th.crank_crit_v, f"start crit {th.crank_crit_v:.1f} V", SEVERITY_COLOURS["critical"]))
    lo_v, hi_v = _fit_range(values, [lv for lv, _, _ in levels_main], 12.0, 13.0)
    ax_main.set_ylim(lo_v, hi_v)
    _levels(ax_main, [lv for lv in levels_main if lo_v <= lv[0] <= hi_v])
    _below_axis(ax_main, data.main_line, th.main_open_v, x)
    ax_main.set_ylabel("12 V battery (V)", fontsize=11)
    box = ax_main.get_position()
    legend(ax_main.get_legend_handles_labels()[0], "12 V battery", box.y1)
    legend(state_handles, "vehicle state", box.y0 + 0.16)


def _draw_sos(ax_sos: Any, data: ReportData, x: Callable[[float], float], x_end: float,
              legend: Callable[[list[Any], str, float], None]) -> None:
    """The SOS panel: window averages, daily rested values, the trend and its projection."""
    th = data.thresholds
    sx, sy = _line(data.sos_line, data.gaps, x)
    ax_sos.plot(sx, sy, color=SOS_COLOUR, lw=0.6, alpha=0.6, zorder=3, label="window average")
    if data.sos_daily:
        ax_sos.plot([x(t) for t, _ in data.sos_daily], [v for _, v in data.sos_daily], "o",
                    color="#0b3d24", ms=3.2, zorder=5, label="daily rested value")
    values = _plausible(data, "sos", th.sos_open_v) + [v for _, v in data.sos_daily]
    s_lo, s_hi = (min(values), max(values)) if values else (th.sos_warn_v, th.sos_warn_v)
    n = th.sos_cells
    s_levels = [(th.sos_warn_v, f"warn {th.sos_warn_v:.2f} V\n({th.sos_warn_v / n:.2f} V/cell)",
                 SEVERITY_COLOURS["warning"]),
                (th.sos_crit_v, f"crit {th.sos_crit_v:.2f} V\n({th.sos_crit_v / n:.2f} V/cell)",
                 SEVERITY_COLOURS["critical"])]
    if th.sos_info_v is not None:
        s_levels.append((th.sos_info_v, f"info {th.sos_info_v:.2f} V\n({th.sos_info_v / n:.2f} V/cell)",
                         SEVERITY_COLOURS["info"]))
    s_lo, s_hi = _plot_trend(ax_sos, data, x, x_end, s_lo, s_hi)
    lo, hi = _fit_range([s_lo, s_hi], [lv for lv, _, _ in s_levels], th.sos_warn_v, th.sos_warn_v)
    ax_sos.set_ylim(lo, hi)
    _levels(ax_sos, [lv for lv in s_levels if lo <= lv[0] <= hi], label_h_px=22.0)
    _below_axis(ax_sos, data.sos_line, th.sos_open_v, x)
    ax_sos.set_ylabel(f"SOS pack (V), {n}-cell {chemistry_label(th.sos_chemistry)}", fontsize=11)
    if not data.sos_line:
        _no_data(ax_sos, "no SOS readings in this log")
    legend(ax_sos.get_legend_handles_labels()[0], "SOS pack", ax_sos.get_position().y1)


def _save_png(fig: Any, out_png: Path) -> None:
    """Save as a 256-colour PNG: a chart has few colours, and the file is a third of the size."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out_png, format="PNG",
                                                                                    optimize=True)


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#555555",
            fontweight="bold", bbox={"boxstyle": "round,pad=0.4", "fc": "white", "ec": "#999999"})


def _plausible(data: ReportData, battery: str, open_v: float) -> list[float]:
    """A channel's values that may be the battery's: not an open input, not inside a sensor fault."""
    faults = [(s.start, math.inf if s.end is None else s.end) for s in data.spans
              if s.sensor and s.battery == battery]
    points = data.main_line if battery == "main" else data.sos_line
    return [v for t, v in points if v >= open_v and not any(a <= t <= b for a, b in faults)]


def _axis_end(data: ReportData) -> float:
    """Where the time axis ends: past the data when the SOS trend's projected dates are near.

    The axis reaches at most half the period further (at least two weeks), so months of data are
    not squeezed into a corner for a date years ahead; dates beyond get a label at the edge.
    """
    assert data.start is not None and data.end is not None
    cap = data.end + max(0.5 * (data.end - data.start), 14 * DAY_S)
    ahead = [t for t in (data.sos_warning_t, data.sos_end_of_life_t) if t is not None and t > data.end]
    if not ahead or min(ahead) > cap:
        return data.end
    return min(max(ahead), cap)


def _fit_range(values: Sequence[float], levels: Sequence[float], lo: float, hi: float) -> tuple[float, float]:
    """A panel's y limits: every value (spikes and start dips included), and the threshold levels
    near them (within a quarter of the span, at least 0.3 V), so a small fall fills the panel
    instead of being squeezed under a line far away. ``lo``/``hi`` stand in without values."""
    if values:
        lo, hi = min(values), max(values)
    near = max(0.3, 0.25 * (hi - lo))
    for level in levels:
        if lo - near <= level <= hi + near:
            lo, hi = min(lo, level), max(hi, level)
    pad = 0.05 * (hi - lo) + 0.02
    return lo - pad, hi + pad


def _below_axis(ax: Any, points: Sequence[tuple[float, float]], open_v: float, x: Callable[[float], float]) -> None:
    """Readings of an open input (below ``open_v``: no battery reads that) are kept off the scale,
    which would squash the battery to a line; a mark at the foot of the panel shows each."""
    off = [(t, v) for t, v in points if v < open_v]
    if not off:
        return
    lo = ax.get_ylim()[0]
    ax.scatter([x(t) for t, _ in off], [lo] * len(off), marker="v", s=30, color="#555555", clip_on=False,
               zorder=7, label=f"below the axis: open\ninput (to {min(v for _, v in off):.2f} V)")


def _line(points: Sequence[tuple[float, float]], gaps: Sequence[tuple[float, float]],
          x: Callable[[float], float]) -> tuple[list[float], list[float]]:
    """x and y of a reduced line, broken (NaN) across each silent stretch of the log."""
    xs: list[float] = []
    ys: list[float] = []
    i = 0
    for t, v in points:
        broke = False
        while i < len(gaps) and t >= gaps[i][1]:
            broke = True
            i += 1
        if broke and xs:
            xs.append(math.nan)
            ys.append(math.nan)
        xs.append(x(t))
        ys.append(v)
    return xs, ys


def _plot_trend(ax: Any, data: ReportData, x: Callable[[float], float], x_end: float,
                s_lo: float, s_hi: float) -> tuple[float, float]:
    """The Theil-Sen line over its fit, extended to the projected warning and end-of-life dates."""
    fit = data.sos_trend
    th = data.thresholds
    assert data.start is not None
    if fit is None:
        return s_lo, s_hi
    t_a = max(fit.first_day * DAY_S, data.start)
    t_fit = fit.last_day * DAY_S
    label = f"robust trend {fit.slope * 1000:+.2f} mV/day\nover {fit.n} days"
    if not fit.falling:
        label += ", no decline"
    if t_fit > t_a:
        ys = [fit.at(t_a / DAY_S), fit.at(t_fit / DAY_S)]
        ax.plot([x(t_a), x(t_fit)], ys, color=TREND_COLOUR, lw=2.2, ls="-" if fit.falling else ":", zorder=7,
                label=label)
        s_lo, s_hi = min(s_lo, *ys), max(s_hi, *ys)
    if not fit.falling:
        return s_lo, s_hi
    ends = [t for t in (data.sos_warning_t, data.sos_end_of_life_t) if t is not None]
    if ends:
        t_b = min(max(ends), x_end)
        if t_b > t_fit:
            ys = [fit.at(t_fit / DAY_S), fit.at(t_b / DAY_S)]
            ax.plot([x(t_fit), x(t_b)], ys, color=TREND_COLOUR, lw=1.8, ls=(0, (5, 3)), zorder=7,
                    label="projection")
            s_lo = min(s_lo, *ys)
    off_edge = 0  # labels of dates beyond the axis, stacked at its right edge
    for t, level, name, colour in (
        (data.sos_warning_t, th.sos_warn_v, "warning level", SEVERITY_COLOURS["warning"]),
        (data.sos_end_of_life_t, th.sos_crit_v, "end of life", SEVERITY_COLOURS["critical"]),
    ):
        if t is None:
            continue
        text = f"{name} ≈ {_date(t)}"
        bbox = {"boxstyle": "round,pad=0.25", "fc": "white", "ec": colour, "lw": 1.5, "alpha": 0.95}
        if t <= x_end:
            ax.plot([x(t)], [level], "D", color=colour, ms=9, mec="black", mew=0.8, zorder=8)
            ax.annotate(text, (x(t), level), xytext=(0, 12), textcoords="offset points", ha="center",
                        va="bottom", fontsize=10, fontweight="bold", bbox=bbox, zorder=9)
        else:
            ax.annotate(f"{text} →", (1.0, 0.0), xycoords="axes fraction", xytext=(-6, 8 + 22 * off_edge),
                        textcoords="offset points", ha="right", va="bottom", fontsize=10, fontweight="bold",
                        bbox=bbox, zorder=9)
            off_edge += 1
    return s_lo, s_hi


def _levels(ax: Any, levels: Sequence[tuple[float, str, str]], label_h_px: float = 11.0) -> None:
    """Horizontal threshold lines, labelled just right of the panel and nudged apart when close."""
    lo, hi = ax.get_ylim()
    height_px = max(ax.get_window_extent().height, 1.0)
    min_gap = (hi - lo) * label_h_px / height_px  # one label's height in data units
    placed: list[float] = []
    for v, text, colour in sorted(levels, key=lambda p: p[0]):
        ax.axhline(v, color=colour, lw=1.0, ls="--", alpha=0.95, zorder=2)
        y = v if not placed else max(v, placed[-1] + min_gap)
        placed.append(y)
        ax.annotate(text, (1.0, y), xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", fontsize=8, color=colour, va="center", ha="left",
                    fontweight="bold", annotation_clip=False, linespacing=1.0)


def _boxes(spans: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Rectangles over the whole height of a panel (y in axes fraction)."""
    return [[(a, 0.0), (b, 0.0), (b, 1.0), (a, 1.0)] for a, b in spans]


def _shade_states(ax: Any, data: ReportData, x: Callable[[float], float]) -> list[Any]:
    """One rectangle collection per vehicle state; returns the legend handles."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    spans: dict[str, list[tuple[float, float]]] = {s: [] for s in STATE_COLOURS}
    for r in data.states:
        spans[r.state].append((x(r.start), x(r.end)))
    handles = []
    for state, colour in STATE_COLOURS.items():
        if spans[state]:
            # crisp pixel edges: blended slivers of short runs only muddy the colours (and the file)
            ax.add_collection(PolyCollection(_boxes(spans[state]), facecolors=colour, edgecolors="none",
                                             antialiased=False, transform=ax.get_xaxis_transform(), zorder=0))
        handles.append(Patch(facecolor=colour, edgecolor="#999999", lw=0.5, label=state))
    return handles


def _shade_sensor_faults(axes: Sequence[tuple[Any, str]], data: ReportData, x: Callable[[float], float]) -> None:
    """Hatch a battery's panel while its sensor was faulted: those readings are no verdicts."""
    from matplotlib.collections import PolyCollection

    assert data.start is not None and data.end is not None
    for ax, battery in axes:
        spans = [(x(max(s.start, data.start)), x(data.end if s.end is None else s.end))
                 for s in data.spans if s.sensor and s.battery == battery]
        if spans:
            ax.add_collection(PolyCollection(_boxes(spans), facecolors="none", edgecolors=SENSOR_COLOUR,
                                             hatch="///", linewidths=0.0, transform=ax.get_xaxis_transform(),
                                             zorder=1))


def _timeline_rows(spans: Sequence[AlertSpan]) -> list[tuple[str, str]]:
    def order(k: tuple[str, str]) -> tuple[int, int, str]:
        b, a = k
        return (0 if b == "main" else 1, ALERT_ORDER.index(a) if a in ALERT_ORDER else len(ALERT_ORDER), a)

    return sorted({(s.battery, s.alert) for s in spans}, key=order)


def _timeline(ax: Any, data: ReportData, rows: list[tuple[str, str]], x: Callable[[float], float]) -> list[Any]:
    """One row per (battery, alert): spans coloured by severity, sensor faults hatched."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    assert data.start is not None and data.end is not None
    ax.set_facecolor("#fafafa")
    handles: list[Any] = [Patch(facecolor=c, label=n) for n, c in SEVERITY_COLOURS.items()]
    handles.append(Patch(facecolor=SENSOR_FILL, edgecolor=SENSOR_COLOUR, hatch="///", label="sensor fault"))
    handles.append(Line2D([], [], ls="none", marker="|", color="black", ms=11, mew=1.4, label="raised"))
    handles.append(Line2D([], [], ls="none", marker=">", color="black", ms=6, label="still active at the end"))
    if not rows:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no alerts", transform=ax.transAxes, ha="center", va="center", fontsize=12,
                color="#2e7d32", fontweight="bold")
        return handles
    lo, hi = ax.get_xlim()
    min_w = (hi - lo) / 400.0  # a brief alert stays visible
    top = len(rows) - 1
    index = {k: top - i for i, k in enumerate(rows)}
    for s in data.spans:
        i = index[(s.battery, s.alert)]
        stop = data.end if s.end is None else s.end
        for j, (t, sev) in enumerate(s.levels):
            last = j + 1 == len(s.levels)
            a = x(max(t, data.start))
            b = x(stop if last else s.levels[j + 1][0])
            if last:
                b = max(b, a + min_w)
            if b <= a:
                continue
            if s.sensor:
                ax.broken_barh([(a, b - a)], (i - 0.32, 0.64), facecolors=SENSOR_FILL, edgecolors=SENSOR_COLOUR,
                               hatch="///", linewidth=0.8)
            else:
                ax.broken_barh([(a, b - a)], (i - 0.32, 0.64), facecolors=SEVERITY_COLOURS[sev],
                               edgecolors="none")
        if s.end is None:
            ax.plot([x(data.end)], [i], marker=">", color="black", ms=6, zorder=5)
        if s.start >= data.start:
            ax.plot([x(s.start)], [i], marker="|", color="black", ms=13, mew=1.4, zorder=5)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{BATTERY_LABEL.get(b, b)} {a.replace('_', ' ')}" for b, a in reversed(rows)],
                       fontsize=9.5)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    return handles


# -- command --------------------------------------------------------------------------------------------


def run_report(args: argparse.Namespace) -> int:
    """``battwatch report LOG... [-c CONFIG] [--plot FILE.png] [--days N] [--max-warnings N]``;
    returns the exit code."""
    from battwatch.replay import ReplayError, log_sources

    try:
        with log_sources([args.log] if isinstance(args.log, str) else args.log) as logs:
            return _report(args, logs)
    except ReplayError as e:
        print(f"battwatch report: {e}", file=sys.stderr)
        return 2


def _report(args: argparse.Namespace, logs: list[tuple[Path, str]]) -> int:
    from battwatch.commands import EXIT_FAIL, EXIT_OK, EXIT_USAGE
    from battwatch.config import load_or_defaults as load_config
    from battwatch.core.csvlog import CsvFormatError
    from battwatch.replay import logs_label, stderr_warn

    for path, shown in logs:
        if not path.is_file():
            print(f"battwatch report: {shown}: no such file", file=sys.stderr)
            return EXIT_USAGE
    max_warnings = getattr(args, "max_warnings", None)
    if max_warnings is not None and max_warnings < 0:
        print("battwatch report: --max-warnings must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    path = logs[0][0]
    name = logs_label(logs) if len(logs) > 1 or logs[0][1] != str(path) else None
    days = getattr(args, "days", None)
    if days is not None and not days > 0:
        print("battwatch report: --days must be positive", file=sys.stderr)
        return EXIT_USAGE
    plot = getattr(args, "plot", None)
    cfg = load_config(args.config, required=False, vehicle="report")
    try:
        data = collect_report(logs, cfg, days=days, warn=stderr_warn,
                              vehicle=cfg.vehicle.id if args.config else None,
                              max_warnings=-1 if max_warnings is None else max_warnings)
    except CsvFormatError as e:
        print(f"battwatch report: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.config is None and data.vehicle == cfg.vehicle.id:
        # no config, no vehicle column: name the file
        data = dataclasses.replace(data, vehicle=path.name if name is None else name)
    if data.unknown_columns:
        stderr_warn(f"{name or path}: columns ignored: {', '.join(data.unknown_columns)}")
    print(format_summary(data))
    if data.start is None:
        print(f"battwatch report: {name or path}: no readings to report", file=sys.stderr)
        return EXIT_FAIL
    if plot:
        try:
            plot_report(data, Path(plot))
        except OSError as e:
            print(f"battwatch report: cannot write {plot}: {e.strerror or e}", file=sys.stderr)
            return EXIT_FAIL
        print(f"picture: {plot}")
    return EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``battwatch report`` (also used by ``python -m battwatch.commands.report``)."""
    p.add_argument("log", metavar="LOG", nargs="+",
                   help="CSV logs in the replay format, gzip-compressed or not, or directories of them; "
                        "- reads standard input")
    p.add_argument("--max-warnings", type=int, metavar="N",
                   help="show only the first N skipped-row warnings (default: every one)")
    p.add_argument("-c", "--config", default=None, metavar="PATH",
                   help="configuration file (default: embedded defaults)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the history as one picture")
    p.add_argument("--days", type=float, metavar="N",
                   help="show only the last N days (the analysis still runs over the whole log)")


def main(argv: Sequence[str] | None = None) -> int:
    from battwatch.config import ConfigError

    p = argparse.ArgumentParser(prog="python -m battwatch.commands.report",
                                description="History of a CSV log as text and one picture.")
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return run_report(args)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`: the reader left
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
