"""SOS backup pack rules: rested voltage, step drop, self-discharge, decline, age (pure)."""

from __future__ import annotations

import math
from typing import Any, Final

from battwatch.analysis_config import AnalysisConfig, Debounce
from battwatch.core.analysis import messages as msg
from battwatch.core.analysis.engine import CRITICAL, INFO, NONE, WARNING, AlertEngine
from battwatch.core.analysis.lead_acid import (
    DAY_S,
    FIT_SAMPLE_S,
    YEAR_S,
    DailyRules,
    DailySeries,
    below,
    days_target,
    installed_ts,
    interp,
)
from battwatch.core.analysis.packstep import OWN, RESTED, StepRule
from battwatch.core.analysis.replaced import HINT_ALERT, hint_text, step_up
from battwatch.core.analysis.rundown import RunDown, beyond_healthy, run_life
from battwatch.core.analysis.trend import (
    RunningFit,
    SlidingTheilSen,
    TrendFit,
    falling_lately,
    median,
    theil_sen,
    z_two_sided,
)
from battwatch.core.tables import band_of, v_per_pct

MONTH_DAYS: Final = 30.4375  # "% per month" of the datasheets
LATELY_DAYS: Final = 7.0  # the last days that must still fall for a long-term line to project


class PackRules(DailyRules):
    """The SOS / eCall backup pack, judged on readings taken with the car asleep."""

    def __init__(self, cfg: AnalysisConfig, battery: Any, engine: AlertEngine, record: bool = False) -> None:
        s = cfg.sos
        self.cfg = s
        self.trend_cfg = cfg.trend
        self.engine = engine
        self.chem: str = battery.chemistry
        self.cells: int = battery.cells
        self.installed = battery.installed
        self.installed_t = installed_ts(battery.installed)
        lo, hi = battery.lifespan_years
        self.life: tuple[float, float] = (float(lo), float(hi))
        lim = s.chemistry.get(self.chem)
        self.lim = lim
        n = self.cells
        info = None if lim.info_v is None else lim.info_v * n
        info_clear = None if lim.info_clear_v is None else lim.info_clear_v * n
        self.levels = (info, info_clear, lim.warn_v * n, lim.warn_clear_v * n, lim.crit_v * n, lim.crit_clear_v * n)
        self.max_v = s.max_factor * lim.nominal_v * n + 1.0
        self.k_temp: float = lim.temp_coeff_v_per_c * n  # pack V per °C (float: compiled, native arithmetic)
        self.t_ref = s.temp_ref_c
        self.top: float = self.levels[2] if info is None else info  # above this nothing can be raised
        self.sd_rest_s = s.self_discharge.rest_min_s
        self.s_low = engine.slot("sos", "low_voltage", s.low_voltage.debounce, crit_for_s=s.low_voltage.crit_for_s)
        # its words describe the step that raised it (from what, to what): a later reading
        # while it is held says nothing about the step, so the message is not refreshed
        self.steps = StepRule(s.step, lim, engine)
        self.steps.cells = self.cells
        self.steps.chem = self.chem
        self.s_step = self.steps.slot
        self.fast_s = s.step.fast_window_s
        self.s_sd = engine.slot("sos", "self_discharge", s.self_discharge.debounce)
        self.s_decline = engine.slot("sos", "decline", s.decline)
        self.s_age = engine.slot("sos", "age", Debounce(), renotify_s=cfg.alerts.renotify_age_s)
        self.s_hint = engine.slot("sos", HINT_ALERT, Debounce(), refresh=False)
        self.hint_cfg = cfg.replaced
        self.hint_day = -1.0  # the step the hint was given for (day number): said once
        keep = int(cfg.trend.window_days) + 7
        self.daily = DailySeries(cfg.trend.daily_sample_s, keep, record)
        self.z = z_two_sided(cfg.trend.confidence)
        self.sen = SlidingTheilSen()  # the trend window's fit, moved along rather than redone
        self.next_fit_day = 0
        self.daily_until_s = cfg.state.sos_rest_min_s + cfg.trend.rest_window_s
        self.fit = RunningFit()  # self-discharge of the current park: V per cell
        # the rested pack voltage of the current stretch off charge (pack V at t_ref against
        # days): the fall in hand, which the remaining life may not contradict (life_trend)
        self.hand = RunningFit()
        self.hand_t = -1e18
        self.run = RunDown()  # ... and of the last days, across drives (rundown.run_life)
        self.fit_t = -1e18
        self.park_v0 = 0.0  # the first point of the park's fit (V per cell at t_ref)
        # the healthy self-discharge at 20 °C (% per day): the floor of every baseline
        self.healthy_pct_day = lim.healthy_pct_month / MONTH_DAYS
        # per segment of the SoC table (band): the rates of its first parks and their median,
        # V per cell per day at 20 °C. A park is judged against the baseline of its own band.
        bands = len(lim.soc_table) - 1
        self.base_rates: list[list[float]] = [[] for _ in range(bands)]
        # ... and the mean voltage (V per cell) of each of those parks: the fullest is the top of
        # what the baseline knows (inf: not known, a state saved before it was kept)
        self.base_means: list[list[float]] = [[] for _ in range(bands)]
        self.baselines: list[float | None] = [None] * bands
        self.last_rate: float | None = None  # V per cell per day at 20 °C
        self.last_band = -1
        self.sd_band = -1  # the band of the park that raised self_discharge
        # the last park the self_discharge rule judged: (rate, baseline in force, band), V per
        # cell per day at 20 °C; the summary shows these, so its figures are the alert's
        self.judged: tuple[float, float, int] | None = None
        self.min_slope = cfg.trend.min_slope_v_per_cell_day * self.cells  # pack V per day
        self.horizon_years = float(hi) + cfg.trend.horizon_years_past_life
        self.trend: TrendFit | None = None
        self.trend_days_warn: float | None = None
        self.trend_days_crit: float | None = None
        self.short: TrendFit | None = None  # the last short_days' trend, when it is falling
        self.short_days_warn: float | None = None
        self.short_days_crit: float | None = None
        self.last_v: float | None = None
        # the last rested reading as plain floats (no boxing on the per-reading path);
        # rest_t < 0: none yet. Read them as last_rest_v / last_rest_t.
        self.rest_v = 0.0
        self.rest_t = -1.0
        self.last_rest_temp: float | None = None
        # the SOS channel's resolution when it is known to matter (average-only rows, see
        # ChannelWatch.step); 0: fine
        self.step_v = 0.0
        # without a 12 V channel: the pack's own charge evidence (own_charge)
        self.own_charge_v = lim.charge_v * n
        self.own_rise_v = lim.charge_rise_v * n
        self.own_low = math.inf  # the lowest reading since the last charge evidence
        self.own_t: float | None = None  # the last charge evidence
        self.own_on = False

    # -- per reading ---------------------------------------------------------------------------
    def rested(self, t: float, t0: float, v: float, temp: float | None, since: float, known: bool = True) -> None:
        """A reading with the car asleep long enough for the on-charge over-voltage to relax.

        ``known`` is False when there is no 12 V channel to tell: then only the level and the
        long-term trend are judged, since a step needs like-for-like readings.

        Every rule sees the voltage brought to ``temp_ref_c`` (``temp_coeff_v_per_c``), so a
        cold night or a hot summer is neither a low level, nor a step, nor a decline.
        """
        self.rest_v = v
        self.rest_t = t
        self.last_rest_temp = temp
        if temp is not None:
            v -= self.k_temp * (temp - self.t_ref)
        s = self.s_low
        if s.level or s.busy or v < self.top:
            target = below(v, s.level, *self.levels)
            parked = None
            if (target == WARNING or (target == INFO and s.level < INFO)) and s.level < WARNING:
                parked = self._self_discharged(t, v, since)
                if parked is not None and target == WARNING:
                    # a park's normal self-discharge, which the next drives recharge
                    target = INFO if self.levels[0] is not None else NONE
            if s.busy and self._in_pending_band(target, v):
                pass  # neither confirms nor cancels (see _in_pending_band)
            elif target != s.level or s.busy or t >= s.refresh_at:
                ctx = self._low_ctx(target, v, temp)
                ctx["own"] = not known
                if parked is not None:
                    ctx.update(parked)
                self.engine.observe(s, t, t0, target, v, msg.sos_low_voltage, ctx)
        if known:
            self.steps.ref_c = self.t_ref if self.k_temp != 0.0 and temp is not None else None
            self.steps.feed(t, t0, v, RESTED)
        if t - self.hand_t >= FIT_SAMPLE_S:
            self.hand_t = t
            self.hand.add(t / DAY_S, v)
        self.run.add(t, v, temp)
        if since <= self.daily_until_s:
            d = self.daily
            if t - d.last_sample >= d.sample_s:
                d.add(t, v)
        if since >= self.sd_rest_s and t - self.fit_t >= FIT_SAMPLE_S:
            self.fit_t = t
            vc = v / self.cells
            if self.fit.n == 0:
                self.park_v0 = vc
            self.fit.add(t / DAY_S, vc, 20.0 if temp is None else temp)

    def _in_pending_band(self, target: int, v: float) -> bool:
        """Whether a reading is back above a level still being confirmed (warning or critical)
        but not above the level that would end it.

        §4 asks for "3 rested readings over 24 h", not for 24 h without a single reading above
        the level: the first readings of each rest still carry the tail of the last charge's
        over-voltage (hours for NiMH), and a pack just at the level would restart the 24 h every
        day and never be reported. Such a reading neither confirms the level nor cancels it; one
        above the level that ends it does."""
        s = self.s_low
        if s.level >= CRITICAL or target >= CRITICAL:
            return False
        up = s.up_since
        if up[CRITICAL] is not None and below(v, CRITICAL, *self.levels) == CRITICAL:
            return True
        return (target < WARNING and s.level < WARNING and up[WARNING] is not None
                and below(v, WARNING, *self.levels) == WARNING)

    def own_charge(self, t: float, v: float) -> bool:
        """Without a 12 V channel: whether the pack's own voltage shows it on charge (at or above
        ``charge_v`` per cell, or ``charge_rise_v`` per cell above its lowest value since the
        last charge). A charge after a stretch off charge ends that stretch's fit, unjudged."""
        if v >= self.own_charge_v or v >= self.own_low + self.own_rise_v:
            if not self.own_on:
                self.own_on = True
                self.fit.reset()  # the park (off charge) is over: the excuse ends with it
                self.hand.reset()
                self.steps.interrupt()
            self.own_low = v
            self.own_t = t
            return True
        self.own_on = False
        if v < self.own_low:
            self.own_low = v
        return False

    def own_step(self, t: float, t0: float, v: float, temp: float | None, since: float) -> None:
        """Without a 12 V channel: a reading off charge for ``since`` seconds, for the step rule.

        Off charge, a pack's voltage moves slowly (self-discharge, a load's gradual drain); a
        shorted cell takes a whole cell's voltage at once. The first ``fast_window_s`` after a
        charge are left out: there the charger's end and a load taking over move the pack by
        more than a cell (a robot leaving its dock) and say nothing about its cells.
        """
        if since < self.fast_s:
            return
        if temp is not None:
            v -= self.k_temp * (temp - self.t_ref)
        self.steps.feed(t, t0, v, OWN)

    def own_mode(self, on: bool) -> None:
        """Judge the levels on the pack's own readings (no 12 V channel), or on rested ones."""
        lv = self.cfg.low_voltage
        d = lv.debounce
        s = self.s_low
        s.for_s = (0.0, lv.own_for_s, lv.own_for_s, lv.own_for_s) if on else (0.0, d.for_s, d.for_s, lv.crit_for_s)

    def unrested(self, t: float, t0: float, v: float, temp: float | None, kind: int) -> None:
        """A reading that is not rested (relaxing after a charge, awake, on charge): only the
        step rule compares it, with readings of its own kind and the rested level."""
        if temp is not None:
            v -= self.k_temp * (temp - self.t_ref)
        self.steps.feed(t, t0, v, kind)

    def _self_discharged(self, t: float, v: float, since: float) -> dict[str, Any] | None:
        """Whether a healthy pack's self-discharge since its last charge explains a low rested
        voltage.

        NiMH loses about 20 % a month at 20 °C, doubling per +10 °C (§0.2, §1.4 item 2 [SRC 9]),
        and the telematics unit recharges it whenever the car is driven: a pack that was above
        the warning's clear level when this park began, and has lost no more charge since than
        ``warn_ratio`` × that expectation over the time since its last charge (``since``: the
        last drive, or the pack's own last charge without a 12 V channel), is not running down.
        Each park stands alone: the fit behind ``park_v0`` starts afresh at every drive, so the
        excuse ends there, and a pack that comes back from a drive below the clear level has
        none. The critical level is never explained away: a pack that low cannot hold an
        emergency call, whatever the cause. Returns the park's figures for the message, or None.
        """
        fit = self.fit
        if fit.n == 0 or self.park_v0 * self.cells < self.levels[3]:
            return None
        days = since / DAY_S
        sd = self.cfg.self_discharge
        temp = fit.mean_z()
        expected = self.healthy_pct_day * days * 2.0 ** ((temp - 20.0) / sd.temp_doubling_c)
        table = self.lim.soc_table
        lost = interp(table, self.park_v0) - interp(table, v / self.cells)
        if lost > sd.warn_ratio * expected:
            return None
        return {"parked_days": days, "expected_pct": min(100.0, expected), "park_temp": temp,
                "healthy_pct_month": self.lim.healthy_pct_month}

    def _low_ctx(self, target: int, v: float, temp: float | None) -> dict[str, Any]:
        info, info_clear, warn, warn_clear, crit, crit_clear = self.levels
        level = self.s_low.level
        clear = {CRITICAL: crit_clear, WARNING: warn_clear, INFO: info_clear or warn_clear}.get(level, warn_clear)
        # every level and the level that ends it (messages.level_words); "from": coming down
        ctx = {"v": v, "cells": self.cells, "chem": self.chem, "clear": clear,
               "info": warn if info is None else info, "warn": warn, "crit": crit,
               "info_clear": warn_clear if info_clear is None else info_clear, "warn_clear": warn_clear,
               "crit_clear": crit_clear, "from": level if target < level else NONE,
               "raw": self.last_rest_v, "temp": temp if self.k_temp != 0.0 else None, "ref": self.t_ref}
        tr, _, days_crit, _ = self.life_trend()
        if tr is not None and tr.falling and days_crit is not None and self.last_rest_t is not None:
            ctx["trend_date"] = msg.day(self.last_rest_t + days_crit * DAY_S)
        return ctx

    # -- events --------------------------------------------------------------------------------
    def park_end(self, t: float) -> None:
        """The car woke up: the park's self-discharge rate, against the pack's baseline.

        Like with like (§1.4 item 2): the rested voltage of a NiMH pack falls about seven times
        faster per % of charge near full than on the flat middle of its curve, so each segment
        of the SoC table (a band) learns its own baseline from its first parks, and a park is
        judged against the baseline of the band its mean voltage lies in. A baseline is never
        taken below the healthy self-discharge of the chemistry in that band.
        """
        self.hand.reset()
        fit = self.fit
        sd = self.cfg.self_discharge
        slope = fit.slope() if fit.span * DAY_S >= sd.min_span_s else None
        se = fit.slope_se()
        span_h = fit.span * 24.0
        temp = fit.mean_z()
        mean_vc = fit.sy / fit.n if fit.n else 0.0
        band = band_of(self.lim.soc_table, mean_vc) if fit.n else 0
        fit.reset()
        if slope is None:
            return
        if abs(slope) * span_h / 24.0 * self.cells < sd.min_fall_steps * self.step_v:
            return  # the fall is a step or two of a coarse ADC: the park says nothing
        to20 = 2.0 ** ((temp - 20.0) / sd.temp_doubling_c)
        rate = -slope / to20  # V per cell per day at 20 °C
        # the least leak the park's own readings show (its fit's lower bound): a flat pack
        # (LiFePO4, NiMH's plateau) falls a few mV a day, the size of the ADC's scatter over
        # one night, and that scatter alone must not make a leak
        least = (-slope - self.z * se) / to20
        self.last_rate = rate
        self.last_band = band
        baseline = self.baselines[band]
        if baseline is None:
            rates = self.base_rates[band]
            rates.append(rate)
            self.base_means[band].append(mean_vc)
            if len(rates) >= sd.baseline_parks:
                self.baselines[band] = median(rates)
            return
        per_pct = v_per_pct(self.lim.soc_table, band)
        base, learned = self.in_force(band, baseline)
        ratio = rate / base
        s = self.s_sd
        level = s.level
        if level >= WARNING and band != self.sd_band:
            return  # a leak found on one band is cleared on that band, like with like
        means = self.base_means[band]
        if level < WARNING and means and mean_vc > max(means):
            # fuller than every park the baseline was learned from: near full a NiMH pack leaks
            # fastest and its voltage falls most per % of charge, so such a park has no like to
            # be compared with. A leaking pack sits lower, not higher, and stays judged.
            return
        self.judged = (rate, base, band)
        target = (WARNING if least / base >= sd.warn_ratio or (level >= WARNING and ratio >= sd.warn_clear_ratio)
                  else NONE)
        n = self.cells
        self.engine.observe(s, t, t - span_h * 3600.0, target, round(ratio, 2), msg.self_discharge,
                            {"rate_mv": rate * n * 1000.0, "base_mv": base * n * 1000.0, "rate_pct": rate / per_pct,
                             "base_pct": base / per_pct, "ratio": ratio, "learned": learned,
                             "healthy_pct_month": self.lim.healthy_pct_month, "chem": self.chem,
                             "span_h": span_h, "n_base": len(self.base_rates[band]), "warn_ratio": sd.warn_ratio,
                             "warn_clear_ratio": sd.warn_clear_ratio})
        if target == WARNING:
            self.sd_band = band

    def in_force(self, band: int, baseline: float) -> tuple[float, bool]:
        """The baseline a park on ``band`` is judged against, and whether it is the learned one
        (False: the chemistry's healthy self-discharge stands in, being higher)."""
        healthy = self.healthy_pct_day * v_per_pct(self.lim.soc_table, band)
        return (baseline, True) if baseline >= healthy else (healthy, False)

    def band_pct_per_day(self, rate: float, band: int) -> float:
        """A rate on ``band`` as % of charge per day."""
        return rate / v_per_pct(self.lim.soc_table, band)

    @property
    def baseline(self) -> float | None:
        """The baseline of the band of the last judged park (V per cell per day at 20 °C)."""
        return self.baselines[self.last_band] if self.last_band >= 0 else None

    def pct_per_day(self, rate: float | None) -> float | None:
        """A rate of the last park's band as % of charge per day."""
        if rate is None or self.last_band < 0:
            return None
        return rate / v_per_pct(self.lim.soc_table, self.last_band)

    # -- once a day: DailyRules.daily_close ------------------------------------------------------
    def daily_close(self, t: float) -> None:
        DailyRules.daily_close(self, t)
        self._short_trend(t)

    def _short_trend(self, t: float) -> None:
        """The trend of the last ``short_days`` of daily values (docs/analysis.md §6): a pack
        running down within days must not be promised months by a long-term fit that has too
        few points yet, or that averages the fall with the calm weeks before it."""
        tc = self.trend_cfg
        today = t / DAY_S
        xs, ys = self.daily.window(today, tc.short_days)
        self.short = None
        self.short_days_warn = self.short_days_crit = None
        if len(xs) < tc.short_min_points:
            return
        _, _, warn, _, crit, _ = self.levels
        # it speaks for crossings within clear_days (months are the long-term trend's): a line
        # through the first and last values that does not get there is not fitted (this runs
        # daily, and a healthy pack's line is flat)
        crude = (ys[-1] - ys[0]) / (xs[-1] - xs[0])
        if crude >= 0.0 or (ys[-1] - crit) / -crude > tc.clear_days:
            return
        fit = theil_sen(xs, ys, self.z)
        # a healthy pack's days of self-discharge in the heat, or a cool spell, is no run-down
        if fit is None or not fit.declining(self.min_slope) or not beyond_healthy(self, fit, xs[-1]):
            return
        days_crit = fit.days_until(crit, today, min(tc.clear_days, self.horizon_days(t)))
        if days_crit is None:
            return
        self.short = fit
        self.short_days_warn = fit.days_until(warn, today, tc.clear_days)
        self.short_days_crit = days_crit

    def life_trend(self) -> tuple[TrendFit | None, float | None, float | None, bool]:
        """(fit, days to the warning level, days to the critical level, short-term): the trend the
        remaining life and the projected dates rest on. The long-term one, unless the last days'
        line reaches the critical level sooner (or only it reaches it), or sooner still the
        run-down of the last days' rested readings (rundown.run_life)."""
        sc = self.short_days_crit
        dw, dc = self.trend_days_warn, self.trend_days_crit
        if (dw is not None or dc is not None) and self.s_decline.level < WARNING and not self._still_falling():
            # decline rises only on a line its last week confirms, and the remaining life and the
            # dates stand on the same evidence: a healthy NiMH pack that charged poorly through a
            # hot month and climbs back is promised no crossing (once the alert stands, its line does)
            dw = dc = None
        run = run_life(self)
        if run is not None and (dc is None or run[0] < dc) and (sc is None or run[0] < sc):
            fit = run[2]
            return fit, fit.days_until(self.levels[2], fit.last_day, self.trend_cfg.clear_days), run[0], True
        if self.short is not None and sc is not None and (dc is None or sc < dc):
            return self.short, self.short_days_warn, sc, True
        return self.trend, dw, dc, False

    def _still_falling(self) -> bool:
        """Whether the last ``LATELY_DAYS`` of daily values still fall (True without any)."""
        pts = self.daily.points
        return not pts or falling_lately(*self.daily.window(pts[-1][0] + 0.5, LATELY_DAYS), self.z)

    def _decline(self, t: float) -> None:
        tc = self.trend_cfg
        today = t / DAY_S
        xs, ys = self.daily.window(today, tc.window_days)
        fit = self.sen.fit(xs, ys, self.z) if len(xs) >= tc.min_points else None
        self.trend = fit
        _, _, warn, _, crit, _ = self.levels
        s = self.s_decline
        if fit is None or not fit.declining(self.min_slope):
            self.trend_days_warn = self.trend_days_crit = None
            if s.level != NONE or s.busy:
                self.engine.observe(s, t, t, NONE, None, msg.sos_decline, self._decline_ctx(fit, t))
            return
        horizon = self.horizon_days(t)
        self.trend_days_warn = fit.days_until(warn, today, horizon)
        self.trend_days_crit = fit.days_until(crit, today, horizon)
        if self.trend_days_warn is None and self.trend_days_crit is None:
            # falling, but not reaching the warning level before age decides: no decline in sight
            if s.level != NONE or s.busy:
                self.engine.observe(s, t, t, NONE, None, msg.sos_decline, self._decline_ctx(fit, t))
            return
        level = s.level
        t_warn = days_target(self.trend_days_warn, level, tc.warn_days, tc.crit_days, tc.clear_days)
        target = WARNING if t_warn else NONE
        if self.trend_days_crit is not None and (
            self.trend_days_crit <= tc.crit_days or (level >= CRITICAL and self.trend_days_crit <= tc.warn_days)
        ):
            target = CRITICAL
        if target > level and not falling_lately(*self.daily.window(today, LATELY_DAYS), self.z):
            # wear takes a pack down week after week; a level that fell and is coming back (a
            # pack settling to the car's charging after it was fitted, a cold spell) is a line
            # through a dip, which the last week contradicts: a worn pack's next week decides
            target = level
        self.engine.observe(s, t, t, target, self.trend_days_warn, msg.sos_decline, self._decline_ctx(fit, t))

    def _decline_ctx(self, fit: TrendFit | None, t: float) -> dict[str, Any]:
        _, _, warn, _, crit, _ = self.levels
        ctx: dict[str, Any] = {"warn_level": warn, "crit_level": crit, "cells": self.cells, "chem": self.chem,
                               "clear_days": self.trend_cfg.clear_days}
        if fit is not None:
            ctx.update(slope_mv=fit.slope * 1000.0, lower_mv=fit.lower * 1000.0, upper_mv=fit.upper * 1000.0,
                       n=fit.n)
        dw, dc = self.trend_days_warn, self.trend_days_crit
        ctx["warn_date"] = "" if dw is None else msg.day(t + dw * DAY_S)
        ctx["warn_past"] = dw is not None and dw <= 0.0  # the trend line is below it already
        ctx["crit_date"] = "" if dc is None else msg.day(t + dc * DAY_S)
        return ctx

    def horizon_days(self, t: float) -> float:
        """How far ahead a projection may reach: the longest expected life plus a margin, from
        installation (or from now when the installation date is unknown)."""
        age = self.age_years(t) or 0.0
        return max(0.0, self.horizon_years - age) * YEAR_S / DAY_S

    def age(self, t: float) -> None:
        age = self.age_years(t)
        if age is None:
            return
        lo, hi = self.life
        target = (
            CRITICAL if age >= hi else WARNING if age >= lo else INFO if age >= lo - self.cfg.age.info_lead_years else NONE
        )
        self.engine.observe(self.s_age, t, t, target, round(age, 2), msg.sos_age,
                            {"age": age, "installed": str(self.installed), "life_min": lo, "life_max": hi,
                             "chem": self.chem})

    def hint(self, t: float) -> None:
        """A rested level that stepped up to a new pack's and stayed there: said once, as
        information with the command that confirms it (nothing is reset without that)."""
        if self.s_hint.level:
            return
        rc = self.hint_cfg
        n = self.cells
        step = step_up(self.daily.points, rc.before_days, rc.after_days, rc.steady_v_per_cell * n,
                       rc.sos_step_v_per_cell * n)
        if step is None or step[0] <= self.hint_day:
            return
        day, before, after = step
        self.hint_day = day
        self.engine.force(self.s_hint, t, INFO, after, hint_text,
                          {"battery": "sos", "day": msg.day((day - 0.5) * DAY_S), "before": before,
                           "after": after})

    def soc(self) -> float | None:
        """A rough state of charge (%) from the last rested voltage (flat curves: §1.5)."""
        v = self.last_rest_vc()
        return None if v is None else interp(self.lim.soc_table, v / self.cells)

    @property
    def last_rest_v(self) -> float | None:
        return self.rest_v if self.rest_t >= 0.0 else None

    @property
    def last_rest_t(self) -> float | None:
        return self.rest_t if self.rest_t >= 0.0 else None

    def last_rest_vc(self) -> float | None:
        """The last rested voltage brought to temp_ref_c: what the rules judged."""
        v, temp = self.last_rest_v, self.last_rest_temp
        if v is None or temp is None:
            return v
        return v - self.k_temp * (temp - self.t_ref)

    # -- persistence ---------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        return {
            "installed": str(self.installed), "daily": self.daily.export(), "step": self.steps.export(),
            "fit": self.fit.to_list(), "last_rate": self.last_rate, "hand": self.hand.to_list(),
            "hand_t": self.hand_t, "run": self.run.export(),
            "last_v": self.last_v, "park_v0": self.park_v0, "band_rates": self.base_rates, "baselines": self.baselines,
            "band_means": self.base_means,
            "last_band": self.last_band, "sd_band": self.sd_band,
            "judged": None if self.judged is None else list(self.judged),
            "last_rest": [self.last_rest_v, self.last_rest_t, self.last_rest_temp],
            "fit_t": self.fit_t,
            "next_fit_day": self.next_fit_day, "trend": None if self.trend is None else self.trend.to_list(),
            "trend_days": [self.trend_days_warn, self.trend_days_crit],
            "own": [None if self.own_low == math.inf else self.own_low, self.own_t, self.own_on],
            "short": None if self.short is None else self.short.to_list(),
            "short_days": [self.short_days_warn, self.short_days_crit],
            "hint_day": self.hint_day,
        }

    def load(self, d: dict[str, Any]) -> None:
        if d.get("installed") != str(self.installed):
            return  # a new pack: baselines start afresh
        self.daily.load(d["daily"])
        self.steps.load(d.get("step", d))  # older states: their rested ring and step level
        self.last_v = d["last_v"]
        self.fit.load(d["fit"])
        if "hand" in d:  # older states: the stretch's fall is measured afresh
            self.hand.load(d["hand"])
            self.hand_t = float(d["hand_t"])
        if "run" in d:  # older states: the last days are gathered afresh
            self.run.load(d["run"])
        self.last_rate = d["last_rate"]
        if "band_rates" in d and len(d["band_rates"]) == len(self.base_rates):
            self.park_v0 = float(d["park_v0"])
            self.base_rates = [[float(x) for x in rates] for rates in d["band_rates"]]
            self.baselines = [None if b is None else float(b) for b in d["baselines"]]
            means = d.get("band_means")  # older states: the top is not known, every park is judged
            if means is not None and len(means) == len(self.base_means):
                self.base_means = [[float(x) for x in m] for m in means]
            self.last_band = int(d["last_band"])
            self.sd_band = int(d["sd_band"])
            j = d.get("judged")  # states from before it: shown again from the next judged park
            self.judged = None if j is None else (float(j[0]), float(j[1]), int(j[2]))
        # else: a state from before the baselines per band (one baseline for the whole curve):
        # they are learnt afresh
        rest_v, rest_t, self.last_rest_temp = (list(d["last_rest"]) + [None])[:3]  # older states: no temperature
        self.rest_v = 0.0 if rest_v is None else float(rest_v)
        self.rest_t = -1.0 if rest_t is None else float(rest_t)
        self.fit_t = float(d["fit_t"])
        self.next_fit_day = int(d["next_fit_day"])
        self.trend = TrendFit.of(d["trend"])
        self.trend_days_warn, self.trend_days_crit = d["trend_days"]
        low, own_t, own_on = d.get("own", [None, None, False])  # older states: no charge seen yet
        self.own_low = math.inf if low is None else float(low)
        self.own_t = None if own_t is None else float(own_t)
        self.own_on = bool(own_on)
        self.short = TrendFit.of(d.get("short"))
        self.short_days_warn, self.short_days_crit = d.get("short_days", [None, None])
        self.hint_day = float(d.get("hint_day", -1.0))

