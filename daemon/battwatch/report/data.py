"""What `battwatch report` shows of a log: the replay through the router, reduced lines, state runs, alert spans."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from battwatch.core.events import Drive, Outbound, Start
from battwatch.core.healthsummary import VehicleSummary
from battwatch.core.model import SEVERITY_RANK, AlertTransition, Reading

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
    summary: VehicleSummary | None  # the analyzer's health summary at the end of the log
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
    summary = pipeline.summary(res.last_t) if res.last_t is not None else None

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
