"""12 V starter battery rules: resting voltage, starts, charging, over-voltage, drain, decline, age."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from battwatch.analysis_config import AnalysisConfig, Debounce, Table
from battwatch.core.analysis import messages as msg
from battwatch.core.analysis.daily import (
    DAY_S,
    FIT_SAMPLE_S,
    YEAR_S,
    DailyRules,
    DailySeries,
    installed_ts,
)
from battwatch.core.analysis.drain import DrainRule
from battwatch.core.analysis.engine import CRITICAL, INFO, NONE, WARNING, AlertEngine
from battwatch.core.analysis.levels import WindowMean, above, below, days_target
from battwatch.core.analysis.replaced import HINT_ALERT, hint_text, step_up
from battwatch.core.analysis.state import CrankEvent, Drive
from battwatch.core.analysis.trend import SlidingTheilSen, TrendFit, median, ols3, z_two_sided
from battwatch.core.tables import interp, inverse

# pack.py takes these from here
__all__ = ["DAY_S", "FIT_SAMPLE_S", "YEAR_S", "DailyRules", "DailySeries", "MainRules", "below", "days_target",
           "installed_ts", "interp"]


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
        self.s_low = engine.slot("main", "low_voltage", lv.debounce)
        self.s_crank = engine.slot("main", "weak_cranking", m.cranking.debounce)
        self.s_charge = engine.slot("main", "undercharging", m.charging.debounce)
        self.s_over = engine.slot("main", "overvoltage", m.overvoltage.debounce)
        self.drain = DrainRule(m.drain, self.table, self.capacity_ah, self.monitor_ma, engine, self.k,
                               cfg.state.gap_close_s)
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
        self.sen = SlidingTheilSen()  # the trend window's fit, moved along rather than redone
        self.next_fit_day = 0
        # what the summary shows
        self.last_v: float | None = None
        self.last_rest_v: float | None = None
        self.last_rest_v25: float | None = None
        self.last_rest_t: float | None = None
        self.soc_v25 = math.nan  # the voltage soc_pct was looked up for (nan: none yet)
        self.soc_pct: float | None = None
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
        self.fit_t = -1e18  # the last rested point given to the drain rule
        self.ov_avg = WindowMean(m.overvoltage.average_s)
        # a start without a temperature waits for the charging voltage after it (settle), and
        # the charging peaks of the last minutes (t, V) are kept for it: a start is handed on
        # only once its outcome is known, up to failed_start_s after it
        self.pending: tuple[CrankEvent, float | None, bool] | None = None
        self.peaks: deque[tuple[float, float]] = deque()
        self.thermometer_s = m.cranking.thermometer_s
        self.charge_floor_v = m.cranking.charge_floor_v
        self.peaks_keep_s = m.cranking.thermometer_s + cfg.state.failed_start_s + 60.0

    # -- per reading ---------------------------------------------------------------------------
    def rested(self, t: float, t0: float, v: float, temp: float | None, since: float) -> None:
        """A resting reading (asleep long enough for the surface charge to fade)."""
        dr = self.drain
        if dr.charged or t0 - dr.seen_t > dr.gap_s:  # the drain's look at the charge, when it has one
            dr.sleeping(t, t0)
        dr.seen_t = t
        if self.pending is not None:
            self.settle(t)
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
            self.drain.point(t, v25, temp, since, self.soc)

    def asleep(self, t: float, t0: float, v: float, temp: float | None, since: float) -> None:
        """A reading of the car asleep but not rested yet: the drain's bounded looks use it."""
        dr = self.drain
        if dr.charged or t0 - dr.seen_t > dr.gap_s:  # the drain's look at the charge, when it has one
            dr.sleeping(t, t0)
        dr.seen_t = t
        if self.pending is not None:
            self.settle(t)
        if t - self.fit_t >= FIT_SAMPLE_S:
            self.fit_t = t
            self.drain.soc = self.soc
            self.drain.bound_point(t, v if temp is None else v + self.k * (25.0 - temp), temp, since)

    @property
    def soc(self) -> float | None:
        """State of charge (%) from the last resting voltage and the battery type's table."""
        v25 = self.last_rest_v25
        if v25 is None:
            return None
        if v25 != self.soc_v25:  # a resting voltage mostly repeats: the table is walked on a change
            self.soc_v25 = v25
            self.soc_pct = inverse(self.table, v25)
        return self.soc_pct

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

    def active_reading(self, t: float, t0: float, v: float, running: bool, cranking: bool, state: str,
                       vmax: float = 0.0, temp: float | None = None) -> None:
        """A reading while awake, cranking or running (``vmax``: its maximum, or its value)."""
        if vmax >= self.charge_floor_v and (vmax > v or t - t0 <= 1.0):
            # it shows the regulator's set-point: its own maximum, or a single sample. A longer
            # window's average mixes in the low set-point and would read warm, which errs the
            # unsafe way (a stricter limit), so average-only logs give no bound
            peaks = self.peaks
            peaks.append((t, vmax))
            while peaks[0][0] < t - self.peaks_keep_s:
                peaks.popleft()
        if self.pending is not None and t >= self.pending[0].t + self.thermometer_s:
            self.settle(t)
        self.drain.watch_charge(t, t0, v if temp is None else v + self.k * (25.0 - temp), running)
        if running:
            self._overvoltage(t, t0, v)
        elif self.ov_avg.n:
            self.ov_avg.clear()
            self._ov_episode_end()
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

    def _overvoltage(self, t: float, t0: float, v: float) -> None:
        """A running reading: over-voltage on the recent average (OvervoltageConfig.average_s),
        when it shows the charging system; the minutes after the engine stops say nothing
        about the regulator."""
        ov = self.cfg.overvoltage
        s = self.s_over
        if v >= ov.immediate_v:
            self.engine.observe(s, t, t0, CRITICAL, v, msg.overvoltage,
                                {"v": v, "limit": ov.immediate_v, "immediate": True}, immediate=True)
            return
        va = self.ov_avg.add(t0, t, v)
        if va < self.charging_v:
            self._ov_episode_end()
            return
        if not (s.level or s.busy or va > ov.info_v):
            return
        level = s.level
        target = above(va, level, ov.info_v, ov.info_clear_v, ov.warn_v, ov.warn_clear_v, ov.crit_v, ov.crit_clear_v)
        if target == level and not s.busy and t < s.refresh_at:
            return
        if target > level and s.busy:
            # the mean lags a step by up to average_s: the higher level's evidence began with
            # the episode's first sign, within that span
            self.engine.carry(s, target, t - ov.average_s)
        pending = list(s.up_since)
        counts = list(s.up_n)
        clear = ov.crit_clear_v if level == CRITICAL else ov.warn_clear_v if level == WARNING else ov.info_clear_v
        self.engine.observe(s, t, t0, target, va, msg.overvoltage,
                            {"v": va, "info": ov.info_v, "warn": ov.warn_v, "crit": ov.crit_v, "clear": clear,
                             "info_clear": ov.info_clear_v, "warn_clear": ov.warn_clear_v,
                             "crit_clear": ov.crit_clear_v, "from": level if target < level else NONE})
        if level < s.level < target:
            # a lower level was raised while a higher one is still gathering evidence: that
            # evidence holds (the engine starts every level afresh after a change)
            for k in range(s.level + 1, target + 1):
                since = pending[k]
                s.up_since[k] = t0 if since is None else since
                s.up_n[k] = counts[k] + 1
            s.busy = True

    def _ov_episode_end(self) -> None:
        """The charging system stopped showing (engine off, or the voltage sagged under the
        charging level): evidence towards a higher over-voltage level must be sustained, so
        what was gathered is forgotten; the current level stays (it clears on readings)."""
        s = self.s_over
        if s.busy and any(x is not None for x in s.up_since):
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
        if temp is None and not ev.failed and ev.v_min >= cc.crit_v and cc.thermometer_s > 0.0:
            # no thermometer: the charging voltage of the next minutes tells how warm it was
            self.settle(ev.t)
            self.pending = (ev, soc, low_charge)
            return
        self._judge(ev, ev.t, soc, low_charge, temp, None)

    def settle(self, t: float) -> None:
        """Judge the start waiting for its charging voltage (``crank``), with what was seen."""
        if self.pending is None:
            return
        ev, soc, low_charge = self.pending
        self.pending = None
        cc = self.cfg.cranking
        end = ev.t + cc.thermometer_s
        peak = max((v for ts, v in self.peaks if ev.t < ts <= end), default=None)
        self._judge(ev, t, soc, low_charge, None, peak)

    def _warmest_bound(self, peak: float | None) -> float | None:
        """The lowest temperature the battery can have had for the regulator to charge at
        ``peak`` (CrankingConfig.charge_*); None when it bounds nothing."""
        cc = self.cfg.cranking
        if peak is None or not cc.charge_floor_v <= peak < cc.charge_top_v:
            return None
        return 25.0 - (peak - cc.charge_25c_v) / cc.charge_comp_v_per_c

    def _judge(self, ev: CrankEvent, t_obs: float, soc: float | None, low_charge: bool, temp: float | None,
               peak: float | None) -> None:
        cc = self.cfg.cranking
        table = cc.limit_by_temp_c
        warm_limit = max(v for _, v in table)
        bound = None
        if temp is None:
            # the coldest it may have been: the configured one, or what the charging showed
            bound = self._warmest_bound(peak)
            t_used = cc.assumed_temp_c if bound is None else max(cc.assumed_temp_c, min(bound, table[-1][0]))
        else:
            t_used = temp
        limit = interp(table, t_used)
        info = interp(cc.info_by_temp_c, t_used)
        # without a thermometer a start under the warm limit may be a worn battery on a warm day
        # or a used one on a cold morning: information that says so, not a verdict
        unsure = temp is None and limit < warm_limit
        info_top = max(info, warm_limit) if unsure else info
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
        elif v < info_top or (level >= INFO and v < info_top + cc.info_clear_margin_v):
            target = INFO
        else:
            target = NONE
        # a start that cannot be judged says nothing either way about a warning: it neither
        # confirms nor breaks a run of starts under their limit by evidence
        keep = (s.up_since[WARNING], s.up_n[WARNING]) if unsure and target == INFO else None
        self.crank_low_charge = low_charge
        self.engine.observe(s, t_obs, t_obs, target, v, msg.weak_cranking,
                            {"v_min": v, "temp": t_used, "assumed": temp is None, "limit": limit, "info": info,
                             "crit": cc.crit_v, "dip": ev.dip_v, "failed": ev.failed, "restart": ev.restart,
                             "soc": soc, "low_charge": low_charge, "min_soc": cc.min_soc_pct, "t": ev.t,
                             "margin": cc.low_charge_margin_v, "info_end": info_top + cc.info_clear_margin_v,
                             "warn_end": limit + cc.warn_clear_margin_v, "crit_end": cc.crit_v + cc.crit_clear_margin_v,
                             "failed_s": self.failed_start_s, "unsure": unsure and target == INFO,
                             "warm_limit": warm_limit, "charge_v": None if bound is None else peak,
                             "limit_table": table},
                            immediate=immediate)
        if keep is not None and keep[0] is not None and s.level < WARNING and s.up_since[WARNING] is None:
            s.up_since[WARNING], s.up_n[WARNING] = keep
            s.busy = True

    def drive(self, d: Drive) -> None:
        if self.drive_log is not None:
            self.drive_log.append(d)
        ch = self.cfg.charging
        if d.duration_s < ch.min_drive_s:
            return
        self.last_judged_drive = d.end
        s = self.s_charge
        level = s.level
        # the maximum is judged where it is known: half the drive or more seen at peak resolution
        max_low = (d.duration_s >= ch.max_min_drive_s and d.peak_s >= 0.5 * d.duration_s
                   and d.peak_v < ch.max_warn_v)
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
        self.settle(t)
        self.drain.park_end(t, self.soc)

    def shift(self, delta_s: float) -> None:
        """The wall clock stepped: the park's drain fits move with it."""
        self.drain.shift(delta_s)
        self.fit_t += delta_s

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
            fit = self.sen.fit(xs, ys, self.z)
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
            **self.drain.export(), "fit_t": self.fit_t, "next_fit_day": self.next_fit_day,
            "ocv_fit": None if self.ocv_fit is None else self.ocv_fit.to_list(), "dip": self.dip,
            "dip_level": self.dip_level, "crank_low_charge": self.crank_low_charge,
            "rul": [self.rul_trend_days, self.rul_trend_what],
            "last_judged_drive": self.last_judged_drive,
            "pending_start": None if self.pending is None else [
                self.pending[0].t, self.pending[0].v_min, self.pending[0].v_pre, self.pending[0].restart,
                self.pending[1], self.pending[2]],
            "charge_peaks": [list(p) for p in self.peaks],
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
        self.drain.load(d)
        self.fit_t = float(d["fit_t"])
        self.next_fit_day = int(d["next_fit_day"])
        self.ocv_fit = TrendFit.of(d["ocv_fit"])
        self.dip = d["dip"]
        self.dip_level = int(d.get("dip_level", NONE))
        self.crank_low_charge = bool(d.get("crank_low_charge", False))
        self.rul_trend_days, self.rul_trend_what = d["rul"]
        self.hint_day = float(d.get("hint_day", -1.0))
        self.starts = deque(((float(a), float(b)) for a, b in d.get("starts", [])), maxlen=64)
        ps = d.get("pending_start")  # saved before it existed: no start waiting
        self.pending = None if ps is None else (CrankEvent(ps[0], ps[1], ps[2], None, bool(ps[3])), ps[4], bool(ps[5]))
        self.peaks = deque((float(a), float(b)) for a, b in d.get("charge_peaks", []))
        ld = d.get("last_judged_drive")  # saved before it existed: none known
        self.last_judged_drive = None if ld is None else float(ld)

