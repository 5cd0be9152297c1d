"""12 V starter battery rules: resting voltage, starts, charging, over-voltage, drain, decline, age."""

from __future__ import annotations

import math
from collections import deque
from datetime import UTC, date, datetime
from typing import Any, Final

from battwatch.analysis_config import AnalysisConfig, Debounce, Table
from battwatch.core.analysis import messages as msg
from battwatch.core.analysis.engine import CRITICAL, INFO, NONE, WARNING, AlertEngine
from battwatch.core.analysis.replaced import HINT_ALERT, hint_text, step_up
from battwatch.core.analysis.state import CrankEvent, Drive
from battwatch.core.analysis.trend import RunningFit, TrendFit, median, ols3, theil_sen, z_two_sided
from battwatch.core.tables import interp, inverse

DAY_S: Final = 86400.0
YEAR_S: Final = 365.25 * DAY_S
# the sustained-drain bar is a multiple of the expected sleep current, but never of less than
# this (a configuration that expects none would otherwise call any fall a drain) [ENG]
SUSTAINED_MIN_MA: Final = 10.0
FIT_SAMPLE_S: Final = 240.0  # rested points for the drain and self-discharge fits: at most one per 4 min


def below(v: float, level: int, info: float | None, info_clear: float | None, warn: float,
          warn_clear: float, crit: float, crit_clear: float) -> int:
    """Target severity of a 'too low' value with hysteresis around the current level."""
    if v < crit or (level >= CRITICAL and v < crit_clear):
        return CRITICAL
    if v < warn or (level >= WARNING and v < warn_clear):
        return WARNING
    if info is not None and info_clear is not None and (v < info or (level >= INFO and v < info_clear)):
        return INFO
    return NONE


def above(v: float, level: int, info: float | None, info_clear: float | None, warn: float,
          warn_clear: float, crit: float, crit_clear: float) -> int:
    """Target severity of a 'too high' value with hysteresis around the current level."""
    if v > crit or (level >= CRITICAL and v > crit_clear):
        return CRITICAL
    if v > warn or (level >= WARNING and v > warn_clear):
        return WARNING
    if info is not None and info_clear is not None and (v > info or (level >= INFO and v > info_clear)):
        return INFO
    return NONE


def days_target(days: float | None, level: int, warn_days: float, crit_days: float, clear_days: float) -> int:
    """Severity of a projected threshold crossing ``days`` ahead (None: no significant trend)."""
    if days is None:
        return NONE
    if days <= crit_days or (level >= CRITICAL and days <= warn_days):
        return CRITICAL
    if days <= warn_days or (level >= WARNING and days <= clear_days):
        return WARNING
    return NONE


def installed_ts(d: date | None) -> float | None:
    if d is None:
        return None
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


class DailySeries:
    """One value per UTC day: the median of the day's samples (at most one per ``sample_s``)."""

    __slots__ = ("sample_s", "today", "day", "last_sample", "points", "history", "keep")

    def __init__(self, sample_s: float, keep_days: int, record: bool) -> None:
        self.sample_s = sample_s
        self.today: list[float] = []
        self.day = -1
        self.last_sample = -1e18
        self.keep = keep_days
        self.points: deque[tuple[float, float]] = deque(maxlen=keep_days)  # (day number, value)
        self.history: list[tuple[float, float]] | None = [] if record else None

    def add(self, t: float, v: float) -> None:
        if t - self.last_sample >= self.sample_s:
            self.last_sample = t
            d = int(t // DAY_S)
            if d != self.day:
                self.close()
                self.day = d
            self.today.append(v)

    def close(self) -> tuple[float, float] | None:
        """End the current day: its median joins the series."""
        if not self.today:
            return None
        p = (self.day + 0.5, median(self.today))
        self.today = []
        self.points.append(p)
        if self.history is not None:
            self.history.append(p)
        return p

    def window(self, last_day: float, days: float) -> tuple[list[float], list[float]]:
        xs, ys = [], []
        for x, y in self.points:
            if x > last_day - days:
                xs.append(x)
                ys.append(y)
        return xs, ys

    def export(self) -> dict[str, Any]:
        return {"today": self.today[-300:], "day": self.day, "last_sample": self.last_sample,
                "points": [list(p) for p in self.points]}

    def load(self, d: dict[str, Any]) -> None:
        self.today = [float(x) for x in d["today"]]
        self.day = int(d["day"])
        self.last_sample = float(d["last_sample"])
        self.points = deque(((float(x), float(y)) for x, y in d["points"]), maxlen=self.keep)


class DailyRules:
    """What both batteries do when a UTC day of data ends: close the daily value, refit the
    trend when it is due (or every day while a decline alert is pending), judge the age."""

    daily: DailySeries
    next_fit_day: int
    s_decline: Any
    trend_cfg: Any
    installed_t: float | None

    def _decline(self, t: float) -> None:
        raise NotImplementedError

    def age_years(self, t: float) -> float | None:
        """Age at data time ``t``; None when unknown, also before the installation date (data
        from before it are not this battery's: no age alert, no life by age)."""
        if self.installed_t is None or t < self.installed_t:
            return None
        return (t - self.installed_t) / YEAR_S

    def age(self, t: float) -> None:
        raise NotImplementedError

    def hint(self, t: float) -> None:
        raise NotImplementedError

    def daily_close(self, t: float) -> None:
        """A UTC day ended (data time ``t``): daily value, trends, age, the new-battery hint."""
        self.daily.close()
        day = int(t // DAY_S)
        if day >= self.next_fit_day or self.s_decline.level or self.s_decline.busy:
            self.next_fit_day = day + self.trend_cfg.fit_every_days
            self._decline(t)
        self.age(t)
        self.hint(t)


class MainRules(DailyRules):
    """The 12 V battery: every rule, fed by the analyzer with readings already classified."""

    def __init__(self, cfg: AnalysisConfig, battery: Any, engine: AlertEngine, record: bool = False) -> None:
        m = cfg.main
        self.cfg = m
        self.trend_cfg = cfg.trend
        self.engine = engine
        self.type: str = battery.type
        self.capacity_ah: float = battery.capacity_ah
        self.monitor_ma: float = battery.monitor_draw_ma
        self.installed = battery.installed
        self.installed_t = installed_ts(battery.installed)
        self.table: Table = getattr(m.ocv, self.type)
        self.k = m.ocv_temp_coeff_v_per_c
        lv = m.low_voltage
        self.lv_levels = (lv.info_v, lv.info_clear_v, lv.warn_v, lv.warn_clear_v, lv.crit_v, lv.crit_clear_v)
        self.lv_top = lv.warn_v if lv.info_v is None else lv.info_v  # above this nothing can be raised
        self.drain_rest_s = m.drain.rest_min_s
        self.s_low = engine.slot("main", "low_voltage", lv.debounce)
        self.s_crank = engine.slot("main", "weak_cranking", m.cranking.debounce)
        self.s_charge = engine.slot("main", "undercharging", m.charging.debounce)
        self.s_over = engine.slot("main", "overvoltage", m.overvoltage.debounce)
        self.s_drain = engine.slot("main", "parasitic_drain", m.drain.debounce)
        self.s_decline = engine.slot("main", "decline", m.decline.debounce)
        self.s_age = engine.slot("main", "age", Debounce(), renotify_s=cfg.alerts.renotify_age_s)
        self.s_hint = engine.slot("main", HINT_ALERT, Debounce(), refresh=False)
        self.hint_cfg = cfg.replaced
        self.hint_day = -1.0  # the step the hint was given for (day number): said once
        self.starts: deque[tuple[float, float]] = deque(maxlen=64)  # (t, lowest V) of starts after a park
        keep = int(cfg.trend.window_days) + 7
        self.daily = DailySeries(cfg.trend.daily_sample_s, keep, record)
        self.cranks: deque[tuple[float, float, float]] = deque(maxlen=4000)  # (day, temp, ln dip)
        self.base_cranks: list[tuple[float, float]] = []  # (temp, ln dip) of the baseline period
        self.first_crank_day: float | None = None
        self.crank_log: list[CrankEvent] | None = [] if record else None
        self.drive_log: list[Drive] | None = [] if record else None
        self.charging_v = cfg.state.charging_v
        self.failed_start_s = cfg.state.failed_start_s
        self.daily_until_s = cfg.state.rest_min_s + cfg.trend.rest_window_s
        self.z = z_two_sided(cfg.trend.confidence)
        self.next_fit_day = 0
        # what the summary shows
        self.last_v: float | None = None
        self.last_rest_v: float | None = None
        self.last_rest_v25: float | None = None
        self.last_rest_t: float | None = None
        self.last_crank: CrankEvent | None = None
        self.last_judged_drive: float | None = None  # end of the last drive the charging rule judged
        # the last start that weak_cranking judged came from a battery below the charge gate:
        # its verdict is about the charge first, so the summary does not call it "replace now"
        self.crank_low_charge = False
        self.ocv_fit: TrendFit | None = None
        self.dip: dict[str, Any] | None = None
        self.dip_level = NONE  # the verdict of the start dip against its baseline, alone
        self.rul_trend_days: float | None = None
        self.rul_trend_what = ""
        # drain measurement of the current park
        self.fit = RunningFit()
        self.fit_t = -1e18
        self.next_verdict_h = m.drain.min_span_s / 3600.0
        self.next_early_h = m.drain.early_span_s / 3600.0  # the next early look at a heavy drain
        # the first looks: fits over stretches of rested readings, until the fit above
        # reaches early_span_s
        self.fit0 = RunningFit()
        self.verdicts = 0  # verdicts of this park at the normal span (not the early looks)

    # -- per reading ---------------------------------------------------------------------------
    def rested(self, t: float, t0: float, v: float, temp: float | None, since: float) -> None:
        """A resting reading (asleep long enough for the surface charge to fade)."""
        v25 = v if temp is None else v + self.k * (25.0 - temp)
        self.last_rest_v = v
        self.last_rest_v25 = v25
        self.last_rest_t = t
        s = self.s_low
        if s.level or s.busy or v25 < self.lv_top:
            target = below(v25, s.level, *self.lv_levels)
            if target != s.level or s.busy or t >= s.refresh_at:
                self.engine.observe(s, t, t0, target, v, msg.main_low_voltage, self._low_ctx(target, v, v25, temp))
        if since <= self.daily_until_s:
            d = self.daily
            if t - d.last_sample >= d.sample_s:
                d.add(t, v25)
        if t - self.fit_t >= FIT_SAMPLE_S:
            self.fit_t = t
            self._drain_point(t, v25, temp, since)

    def _drain_point(self, t: float, v25: float, temp: float | None, since: float) -> None:
        """A rested point for the drain fits (at most one per FIT_SAMPLE_S)."""
        fit = self.fit
        dc = self.cfg.drain
        x = t / 3600.0
        z = 0.0 if temp is None else 1.0
        span_h = 0.0
        if since >= self.drain_rest_s:
            fit.add(x, v25, z)
            span_h = fit.last_x - fit.x0
            if span_h >= self.next_verdict_h:
                pace = self._drain_verdict(t, fit)
                # a fall this heavy (or a modest one already past the sustained bar) is judged
                # again within the hour, so that the debounce's second verdict comes before the
                # battery is half empty; otherwise as before
                if pace:
                    self.next_verdict_h = span_h + dc.early_every_s / 3600.0
                else:
                    self.next_verdict_h += dc.verdict_every_s / 3600.0
            elif span_h >= self.next_early_h and span_h * 3600.0 < dc.min_span_s:
                self.next_early_h = span_h + dc.early_every_s / 3600.0
                self._drain_verdict(t, fit, dc.early_factor)
        if fit.n == 0 or span_h * 3600.0 < dc.early_span_s:
            # Before the fit above speaks, the first looks at a drain that cannot wait, each on
            # its own stretch of first_span_s: the surface charge slows down from one stretch
            # to the next, a drain does not, and the debounce wants two stretches in a row.
            f0 = self.fit0
            f0.add(x, v25, z)
            if (f0.last_x - f0.x0) * 3600.0 >= dc.first_span_s:
                if not self._drain_verdict(t, f0, dc.first_factor):
                    s = self.s_drain
                    if s.busy and s.level < WARNING:
                        s.drop_pending_up(s.level + 1)
                f0.reset()
                f0.add(x, v25, z)

    @property
    def soc(self) -> float | None:
        """State of charge (%) from the last resting voltage and the battery type's table."""
        v25 = self.last_rest_v25
        return None if v25 is None else inverse(self.table, v25)

    def _low_ctx(self, target: int, v: float, v25: float, temp: float | None) -> dict[str, Any]:
        # every level goes into the context: the engine may raise a lower severity than the
        # verdict (the higher one is still being confirmed), and the words follow the severity
        lv = self.cfg.low_voltage
        # a cleared alert is above every clear level: the information level's, if there is one
        clear = lv.warn_clear_v if lv.info_clear_v is None else lv.info_clear_v
        if target == CRITICAL and v <= lv.dead_cell_v:
            return {"v": v, "v25": v25, "temp": temp, "soc": None, "dead_cell": True, "limit": lv.dead_cell_v,
                    "state": "resting", "type": self.type}
        return {"v": v, "v25": v25, "temp": temp, "soc": inverse(self.table, v25), "info": lv.info_v,
                "warn": lv.warn_v, "crit": lv.crit_v, "clear": clear, "type": self.type,
                "info_clear": lv.info_clear_v, "warn_clear": lv.warn_clear_v, "crit_clear": lv.crit_clear_v,
                "from": self.s_low.level if target < self.s_low.level else NONE}

    def active_reading(self, t: float, t0: float, v: float, running: bool, cranking: bool, state: str) -> None:
        """A reading while awake, cranking or running."""
        # Over-voltage is judged on readings where the charging system shows itself: the
        # minutes after the engine stops say nothing about the regulator.
        if running and v >= self.charging_v:
            ov = self.cfg.overvoltage
            s = self.s_over
            if v >= ov.immediate_v:
                self.engine.observe(s, t, t0, CRITICAL, v, msg.overvoltage,
                                    {"v": v, "limit": ov.immediate_v, "immediate": True}, immediate=True)
            elif s.level or s.busy or v > ov.info_v:
                target = above(v, s.level, ov.info_v, ov.info_clear_v, ov.warn_v, ov.warn_clear_v, ov.crit_v,
                               ov.crit_clear_v)
                if target != s.level or s.busy or t >= s.refresh_at:
                    level = s.level
                    clear = (ov.crit_clear_v if level == CRITICAL else ov.warn_clear_v if level == WARNING
                             else ov.info_clear_v)
                    self.engine.observe(s, t, t0, target, v, msg.overvoltage,
                                        {"v": v, "info": ov.info_v, "warn": ov.warn_v, "crit": ov.crit_v,
                                         "clear": clear, "info_clear": ov.info_clear_v,
                                         "warn_clear": ov.warn_clear_v, "crit_clear": ov.crit_clear_v,
                                         "from": level if target < level else NONE})
        if cranking:
            return
        s = self.s_low
        if v <= self.cfg.low_voltage.dead_cell_v:
            self.engine.observe(s, t, t0, CRITICAL, v, msg.main_low_voltage,
                                {"v": v, "v25": v, "temp": None, "soc": None, "dead_cell": True,
                                 "limit": self.cfg.low_voltage.dead_cell_v, "state": state, "type": self.type})
        elif s.level < CRITICAL and s.up_since[CRITICAL] is not None:
            # A reading back above the dead-cell level while awake: what pointed at a critical
            # level was no steady state (a start an average-only log did not show as one, a
            # load), so it counts for nothing towards any level above the current one; an
            # alert needs a run of evidence, never isolated samples days apart.
            s.drop_pending_up(s.level + 1)

    # -- events --------------------------------------------------------------------------------
    def crank(self, ev: CrankEvent) -> None:
        self.last_crank = ev
        if self.crank_log is not None:
            self.crank_log.append(ev)
        if not ev.restart and not ev.failed:
            self.starts.append((ev.t, ev.v_min))
        cc = self.cfg.cranking
        temp = ev.temp_c
        dip = ev.dip_v
        # A start is a load test only at a charged battery ("only load-test at ≥ 75 % SoC",
        # §2.4): the state of charge is the last rested one, from the park before the start.
        soc = self.soc
        low_charge = soc is not None and soc < cc.min_soc_pct
        if (not low_charge and not ev.restart and not ev.failed and dip is not None
                and dip > self.cfg.decline.min_dip_v and temp is not None):
            # the dip trend compares like with like: starts after a park (warm stop-start
            # restarts draw less, §2.4), of a charged battery, that ran the engine
            day = ev.t / DAY_S
            y = math.log(dip)
            self.cranks.append((day, temp, y))
            if self.first_crank_day is None:
                self.first_crank_day = day
            if day - self.first_crank_day <= self.cfg.decline.crank_baseline_days and len(self.base_cranks) < 1000:
                self.base_cranks.append((temp, y))
        t_used = cc.assumed_temp_c if temp is None else temp
        limit = interp(cc.limit_by_temp_c, t_used)
        info = interp(cc.info_by_temp_c, t_used)
        s = self.s_crank
        level = s.level
        v = ev.v_min
        immediate = False
        if ev.failed or v < cc.crit_v:
            target = CRITICAL  # §0.1: one such start is enough
            immediate = True
        elif low_charge:
            # not a load test: it neither clears nor steps down (a critical one was caught
            # above). Just under the gate (resting at or above the low_voltage warning level,
            # 60-75 % on AGM) a start further under the limit than that charge explains
            # (low_charge_margin_v) raises a warning that asks for a charge and a re-test;
            # further down the low charge explains any start, and low_voltage asks for the charge
            v25 = self.last_rest_v25
            near_gate = v25 is not None and v25 >= self.cfg.low_voltage.warn_v
            if not near_gate or v >= limit - cc.low_charge_margin_v or level > WARNING:
                return
            target = WARNING
        elif level >= CRITICAL and v < cc.crit_v + cc.crit_clear_margin_v:
            target = CRITICAL
        elif v < limit or (level >= WARNING and v < limit + cc.warn_clear_margin_v):
            target = WARNING
        elif v < info or (level >= INFO and v < info + cc.info_clear_margin_v):
            target = INFO
        else:
            target = NONE
        self.crank_low_charge = low_charge
        self.engine.observe(s, ev.t, ev.t, target, v, msg.weak_cranking,
                            {"v_min": v, "temp": t_used, "assumed": temp is None, "limit": limit, "info": info,
                             "crit": cc.crit_v, "dip": dip, "failed": ev.failed, "restart": ev.restart,
                             "soc": soc, "low_charge": low_charge, "min_soc": cc.min_soc_pct, "t": ev.t,
                             "margin": cc.low_charge_margin_v, "info_end": info + cc.info_clear_margin_v,
                             "warn_end": limit + cc.warn_clear_margin_v, "crit_end": cc.crit_v + cc.crit_clear_margin_v,
                             "failed_s": self.failed_start_s},
                            immediate=immediate)

    def drive(self, d: Drive) -> None:
        if self.drive_log is not None:
            self.drive_log.append(d)
        ch = self.cfg.charging
        if d.duration_s < ch.min_drive_s:
            return
        self.last_judged_drive = d.end
        s = self.s_charge
        level = s.level
        max_low = d.duration_s >= ch.max_min_drive_s and d.max_v < ch.max_warn_v
        if d.avg_v < ch.avg_crit_v or (level >= CRITICAL and d.avg_v < ch.avg_warn_v):
            target = CRITICAL
        elif d.avg_v < ch.avg_warn_v or max_low or (level >= WARNING and d.avg_v < ch.avg_clear_v):
            target = WARNING
        else:
            target = NONE
        # Post-start recovery (§0.1): the alternator should be charging 10 s after a start,
        # but BMW may hold the voltage low at a high charge, so it only counts in a drive whose
        # average did not show healthy charging either.
        rec = d.recovery_v
        rec_target = NONE
        if rec is not None and d.avg_v < ch.recovery_gate_avg_v:
            rec_target = CRITICAL if rec < ch.recovery_crit_v else WARNING if rec < ch.recovery_warn_v else NONE
            if rec_target > target:
                target = rec_target
        self.engine.observe(s, d.end, d.start, target, d.avg_v, msg.undercharging,
                            {"duration_s": d.duration_s, "avg": d.avg_v, "max": d.max_v, "max_low": max_low,
                             "avg_warn": ch.avg_warn_v, "avg_crit": ch.avg_crit_v, "max_warn": ch.max_warn_v,
                             "avg_clear": ch.avg_clear_v,
                             "max_min_s": ch.max_min_drive_s, "rec": rec, "rec_low": rec_target > NONE,
                             "rec_warn": ch.recovery_warn_v, "rec_crit": ch.recovery_crit_v,
                             "rec_after_s": ch.recovery_after_s})

    def park_end(self, t: float) -> None:
        """The car woke up: judge the park's drain if it was long enough and not judged yet."""
        fit = self.fit
        dc = self.cfg.drain
        if fit.n and self.verdicts == 0 and fit.span * 3600.0 >= dc.min_span_s:
            self._drain_verdict(t, fit)
        fit.reset()
        self.fit0.reset()
        self.verdicts = 0
        self.next_verdict_h = dc.min_span_s / 3600.0
        self.next_early_h = dc.early_span_s / 3600.0

    def _mv_per_pct(self) -> float:
        soc = self.soc
        if soc is None:
            soc = self.cfg.drain.assumed_soc_pct
        lo, hi = max(0.0, soc - 5.0), min(100.0, soc + 5.0)
        return max(1.0, (interp(self.table, hi) - interp(self.table, lo)) / (hi - lo) * 1000.0)

    def _drain_verdict(self, t: float, fit: RunningFit, factor: float = 0.0) -> bool:
        """Judge the park's fall so far (``fit``); True when the next verdict is due within the
        hour: the fall is heavy (early_factor x the warning level) or a sustained drain.

        A look with a ``factor`` (early: less than min_span_s measured; first: before
        rest_min_s) only speaks of a heavy fall, and then only to raise: warning past ``factor``
        x the warning level, critical past ``factor`` x the critical level.
        """
        slope = fit.slope()  # V per hour
        if slope is None:
            return False
        dc = self.cfg.drain
        mv_pct = self._mv_per_pct()
        rate = -slope * 12.0 * 1000.0
        sleep_ma = dc.car_sleep_ma + self.monitor_ma
        expected = sleep_ma / 1000.0 * 12.0 / self.capacity_ah * 100.0 * mv_pct
        excess = rate - expected
        heavy = excess >= dc.early_factor * dc.warn_mv_12h
        extra_a = max(0.0, excess) / mv_pct / 100.0 * self.capacity_ah / 12.0
        s = self.s_drain
        sustained = False
        if factor > 0.0:
            if excess < factor * dc.warn_mv_12h:
                return False
            target = CRITICAL if excess >= factor * dc.crit_mv_12h else WARNING
            if target < s.level:
                return True  # a short span's look never counts towards stepping down
        else:
            self.verdicts += 1
            target = above(excess, s.level, dc.info_mv_12h, dc.info_clear_mv_12h, dc.warn_mv_12h,
                           dc.warn_clear_mv_12h, dc.crit_mv_12h, dc.crit_clear_mv_12h)
            if target < WARNING:
                # a modest drain shows over a long park: the extra current against the expected
                # sleep current, once the fall it caused is more than a healthy park can show
                fall = excess / 12.0 * fit.span
                bar = dc.sustained_clear_factor if s.level >= WARNING else dc.sustained_factor
                if extra_a * 1000.0 >= bar * max(sleep_ma, SUSTAINED_MIN_MA) and fall >= dc.sustained_fall_mv:
                    target = WARNING
                    sustained = True
        total_a = extra_a + sleep_ma / 1000.0
        soc = self.soc
        hours = None
        if soc is not None and total_a > 0:
            hours = max(0.0, soc - 50.0) / 100.0 * self.capacity_ah / total_a
        self.engine.observe(s, t, t - fit.span * 3600.0, target, excess, msg.parasitic_drain,
                            {"rate_mv_12h": rate, "expected_mv_12h": expected, "span_h": fit.span,
                             "temp_known": fit.mean_z() > 0.5, "sleep_ma": sleep_ma, "extra_a": extra_a,
                             "soc": soc, "hours_to_half": hours, "capacity_ah": self.capacity_ah,
                             "excess_mv_12h": excess, "info": dc.info_mv_12h, "warn": dc.warn_mv_12h,
                             "crit": dc.crit_mv_12h, "early": factor > 0.0, "early_factor": factor,
                             "early_warn": factor * dc.warn_mv_12h, "early_crit": factor * dc.crit_mv_12h,
                             "sustained": sustained, "fall_mv": excess / 12.0 * fit.span,
                             "sustained_factor": dc.sustained_factor, "ref_ma": max(sleep_ma, SUSTAINED_MIN_MA),
                             "quarter_h": 0.25 * self.capacity_ah / total_a if total_a > 0.0 else None})
        return heavy or (sustained and s.level < WARNING)

    # -- once a day: DailyRules.daily_close ------------------------------------------------------
    def _decline(self, t: float) -> None:
        tc = self.trend_cfg
        dc = self.cfg.decline
        today = t / DAY_S
        s = self.s_decline
        ctx: dict[str, Any] = {}
        days_ocv = days_dip = None
        xs, ys = self.daily.window(today, tc.window_days)
        fit = None
        if len(xs) >= tc.min_points:
            fit = theil_sen(xs, ys, self.z)
        self.ocv_fit = fit
        # a decline that matters (TrendConfig.min_slope_v_per_cell_day, 6 cells), reaching the
        # level before age decides (horizon_years_past_life past age.crit_years)
        horizon = (self.cfg.age.crit_years + tc.horizon_years_past_life - (self.age_years(t) or 0.0)) * YEAR_S / DAY_S
        if fit is not None and fit.declining(tc.min_slope_v_per_cell_day * 6.0):
            days_ocv = fit.days_until(dc.ocv_level_v, today, max(0.0, horizon))
            if days_ocv is not None:
                ctx.update(ocv_slope_mv=-fit.slope * 1000.0, ocv_n=fit.n, ocv_level=dc.ocv_level_v,
                           ocv_date=msg.day(t + days_ocv * DAY_S))
        self.dip = None
        rows = [(temp, d, y) for d, temp, y in self.cranks if d > today - tc.window_days]
        baseline_done = self.first_crank_day is not None and today - self.first_crank_day >= dc.crank_baseline_days
        t_level = NONE
        if baseline_done and len(rows) >= dc.min_cranks and len(self.base_cranks) >= 5:
            res = ols3(rows)
            if res is not None:
                a, b, c, se_c, _ = res
                base = median([y - b * (temp - 25.0) for temp, y in self.base_cranks])
                now = a + b * 25.0 + c * today
                ratio = math.exp(now - base)
                self.dip = {"ratio": ratio, "per_day": c, "n": len(rows)}
                pct = (ratio - 1.0) * 100.0
                # §0.1: today's temperature-normalised dip against the battery's own first weeks
                # (its own hysteresis: the alert's level may come from the other evidence)
                t_level = above(pct, self.dip_level, dc.dip_info_pct, dc.dip_info_clear_pct, dc.dip_warn_pct,
                                dc.dip_warn_clear_pct, dc.dip_crit_pct, dc.dip_crit_clear_pct)
                ctx.update(dip_pct=pct, dip_n=len(rows), dip_info=dc.dip_info_pct, dip_warn=dc.dip_warn_pct,
                           dip_crit=dc.dip_crit_pct)
                if c - self.z * se_c > 0.0:
                    goal = base + math.log(dc.crank_dip_factor)
                    days_dip = 0.0 if now >= goal else (goal - now) / c
                    if days_dip > horizon:
                        days_dip = None
                    if days_dip is not None:
                        ctx.update(dip_factor=dc.crank_dip_factor, dip_date=msg.day(t + days_dip * DAY_S))
        self.dip_level = t_level
        known = [d for d in (days_ocv, days_dip) if d is not None]
        self.rul_trend_days = min(known) if known else None
        self.rul_trend_what = "start dips" if days_dip is not None and days_dip == self.rul_trend_days else "rested voltage"
        t_ocv = days_target(days_ocv, s.level, tc.warn_days, tc.crit_days, tc.clear_days)
        t_dip = days_target(days_dip, s.level, tc.warn_days, tc.crit_days, tc.clear_days)
        if t_ocv == NONE:
            ctx.pop("ocv_date", None)
        if t_dip == NONE:
            ctx.pop("dip_date", None)
        ctx["t_ocv"], ctx["t_dip"], ctx["t_level"] = t_ocv, t_dip, t_level
        target = max(t_ocv, t_dip, t_level)
        # the value is the days to the projected crossing, or the dip's rise in % when only
        # the level speaks
        value = days_ocv if t_ocv >= t_dip else days_dip
        if t_level > max(t_ocv, t_dip):
            value = ctx["dip_pct"]
        self.engine.observe(s, t, t, target, value, msg.main_decline, ctx)

    def expected_life(self) -> float:
        a = self.cfg.age
        return {"agm": a.expected_life_agm_years, "efb": a.expected_life_efb_years}.get(
            self.type, a.expected_life_flooded_years)

    def age(self, t: float) -> None:
        age = self.age_years(t)
        if age is None:
            return
        a = self.cfg.age
        target = CRITICAL if age >= a.crit_years else WARNING if age >= a.warn_years else INFO if age >= a.info_years else NONE
        self.engine.observe(self.s_age, t, t, target, round(age, 2), msg.main_age,
                            {"age": age, "installed": str(self.installed), "life": self.expected_life(),
                             "type": self.type, "warn": a.warn_years, "crit": a.crit_years})

    def hint(self, t: float) -> None:
        """A rested level and starts that jumped to a new battery's: said once, as information
        with the command that confirms it (nothing is reset without that)."""
        if self.s_hint.level:
            return
        rc = self.hint_cfg
        step = step_up(self.daily.points, rc.before_days, rc.after_days, 6.0 * rc.steady_v_per_cell, rc.main_step_v)
        if step is None or step[0] <= self.hint_day:
            return
        day, before, after = step
        cut = (day - 0.5) * DAY_S
        old = [v for ts, v in self.starts if cut - rc.before_days * DAY_S <= ts < cut]
        new = [v for ts, v in self.starts if ts >= cut]
        if len(old) < 2 or len(new) < 2:
            return
        v_old, v_new = sum(old) / len(old), sum(new) / len(new)
        if v_new - v_old < rc.main_crank_step_v:
            return
        self.hint_day = day
        self.engine.force(self.s_hint, t, INFO, after, hint_text,
                          {"battery": "main", "day": msg.day(cut), "before": before, "after": after,
                           "crank_before": v_old, "crank_after": v_new})

    # -- persistence ---------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        return {
            "installed": str(self.installed), "daily": self.daily.export(),
            "hint_day": self.hint_day, "starts": [list(x) for x in self.starts],
            "cranks": [list(c) for c in list(self.cranks)[-1500:]], "base_cranks": [list(c) for c in self.base_cranks],
            "first_crank_day": self.first_crank_day, "last_v": self.last_v,
            "last_rest": [self.last_rest_v, self.last_rest_v25, self.last_rest_t],
            "last_crank": None if self.last_crank is None else [
                self.last_crank.t, self.last_crank.v_min, self.last_crank.v_pre, self.last_crank.temp_c],
            "fit": self.fit.to_list(), "next_verdict_h": self.next_verdict_h, "verdicts": self.verdicts,
            "next_early_h": self.next_early_h, "fit0": self.fit0.to_list(),
            "fit_t": self.fit_t, "next_fit_day": self.next_fit_day,
            "ocv_fit": None if self.ocv_fit is None else self.ocv_fit.to_list(), "dip": self.dip,
            "dip_level": self.dip_level, "crank_low_charge": self.crank_low_charge,
            "rul": [self.rul_trend_days, self.rul_trend_what],
            "last_judged_drive": self.last_judged_drive,
        }

    def load(self, d: dict[str, Any]) -> None:
        if d.get("installed") != str(self.installed):
            return  # a new battery: its history starts afresh
        self.daily.load(d["daily"])
        self.cranks = deque(((float(a), float(b), float(c)) for a, b, c in d["cranks"]), maxlen=4000)
        self.base_cranks = [(float(a), float(b)) for a, b in d["base_cranks"]]
        self.first_crank_day = d["first_crank_day"]
        self.last_v = d["last_v"]
        self.last_rest_v, self.last_rest_v25, self.last_rest_t = d["last_rest"]
        lc = d["last_crank"]
        self.last_crank = None if lc is None else CrankEvent(lc[0], lc[1], lc[2], lc[3])
        self.fit.load(d["fit"])
        self.next_verdict_h = float(d["next_verdict_h"])
        self.verdicts = int(d["verdicts"])
        self.next_early_h = float(d.get("next_early_h", self.cfg.drain.early_span_s / 3600.0))
        if "fit0" in d:  # states from before the first looks: none taken in this park
            self.fit0.load(d["fit0"])
        self.fit_t = float(d["fit_t"])
        self.next_fit_day = int(d["next_fit_day"])
        self.ocv_fit = TrendFit.of(d["ocv_fit"])
        self.dip = d["dip"]
        self.dip_level = int(d.get("dip_level", NONE))
        self.crank_low_charge = bool(d.get("crank_low_charge", False))
        self.rul_trend_days, self.rul_trend_what = d["rul"]
        self.hint_day = float(d.get("hint_day", -1.0))
        self.starts = deque(((float(a), float(b)) for a, b in d.get("starts", [])), maxlen=64)
        ld = d.get("last_judged_drive")  # saved before it existed: none known
        self.last_judged_drive = None if ld is None else float(ld)

