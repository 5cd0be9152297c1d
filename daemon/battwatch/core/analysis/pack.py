"""SOS backup pack rules: rested voltage, step drop, self-discharge, decline, age (pure)."""

from __future__ import annotations

import math
from collections import deque
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
from battwatch.core.analysis.replaced import HINT_ALERT, hint_text, step_up
from battwatch.core.analysis.trend import RunningFit, TrendFit, median, theil_sen, z_two_sided

RING_S: Final = 300.0  # one rested value per 5 min is kept for the step reference
RING_LEN: Final = 48  # 4 h of them [ENG]
MONTH_DAYS: Final = 30.4375  # "% per month" of the datasheets


def band_of(table: tuple[tuple[float, float], ...], v: float) -> int:
    """The segment of the SoC table a voltage lies on (the end segments carried on beyond the ends).

    Within one segment a volt is worth the same % of charge, so rates in volts compare like with
    like there; across segments they do not (NiMH: 5 mV per % near full, 0.7 on the plateau).
    """
    i = 1
    n = len(table)
    while i < n - 1 and v > table[i][0]:
        i += 1
    return i - 1


def v_per_pct(table: tuple[tuple[float, float], ...], band: int) -> float:
    (x0, y0), (x1, y1) = table[band], table[band + 1]
    return (x1 - x0) / (y1 - y0) if y1 > y0 else math.inf


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
        self.k_temp = lim.temp_coeff_v_per_c * n  # pack volts per °C
        self.t_ref = s.temp_ref_c
        self.top = self.levels[2] if info is None else info  # above this nothing can be raised
        self.step_pre_v = 0.5 * lim.step_warn_v  # a step shows first as a fall against the last kept value
        self.sd_rest_s = s.self_discharge.rest_min_s
        self.s_low = engine.slot("sos", "low_voltage", s.low_voltage.debounce, crit_for_s=s.low_voltage.crit_for_s)
        # its words describe the step that raised it (from what, to what): a later reading
        # while it is held says nothing about the step, so the message is not refreshed
        self.s_step = engine.slot("sos", "step_drop", s.step.debounce, refresh=False)
        self.s_sd = engine.slot("sos", "self_discharge", s.self_discharge.debounce)
        self.s_decline = engine.slot("sos", "decline", s.decline)
        self.s_age = engine.slot("sos", "age", Debounce(), renotify_s=cfg.alerts.renotify_age_s)
        self.s_hint = engine.slot("sos", HINT_ALERT, Debounce(), refresh=False)
        self.hint_cfg = cfg.replaced
        self.hint_day = -1.0  # the step the hint was given for (day number): said once
        keep = int(cfg.trend.window_days) + 7
        self.daily = DailySeries(cfg.trend.daily_sample_s, keep, record)
        self.z = z_two_sided(cfg.trend.confidence)
        self.next_fit_day = 0
        self.daily_until_s = cfg.state.sos_rest_min_s + cfg.trend.rest_window_s
        self.ring: deque[tuple[float, float]] = deque(maxlen=RING_LEN)  # recent rested values
        # the newest ring entry as plain floats, read on every rested reading (-inf: empty ring)
        self.ring_t = -math.inf
        self.ring_v = 0.0
        self.step_ref: float | None = None  # the rested level of the last hours
        self.step_frozen: float | None = None  # the level before an active step
        self.fit = RunningFit()  # self-discharge of the current park: V per cell
        self.fit_t = -1e18
        self.park_v0 = 0.0  # the first point of the park's fit (V per cell at t_ref)
        # the healthy self-discharge at 20 °C (% per day): the floor of every baseline
        self.healthy_pct_day = lim.healthy_pct_month / MONTH_DAYS
        # per segment of the SoC table (band): the rates of its first parks and their median,
        # V per cell per day at 20 °C. A park is judged against the baseline of its own band.
        bands = len(lim.soc_table) - 1
        self.base_rates: list[list[float]] = [[] for _ in range(bands)]
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
        self.last_v: float | None = None
        # the last rested reading as plain floats (no boxing on the per-reading path);
        # rest_t < 0: none yet. Read them as last_rest_v / last_rest_t.
        self.rest_v = 0.0
        self.rest_t = -1.0
        self.last_rest_temp: float | None = None
        # the SOS channel's resolution when it is known to matter (average-only rows, see
        # ChannelWatch.step); 0: fine
        self.step_v = 0.0

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
                parked = self._self_discharged(t, v)
                if parked is not None and target == WARNING:
                    # a park's normal self-discharge, which the next drives recharge
                    target = INFO if self.levels[0] is not None else NONE
            if target != s.level or s.busy or t >= s.refresh_at:
                ctx = self._low_ctx(target, v, temp)
                if parked is not None:
                    ctx.update(parked)
                self.engine.observe(s, t, t0, target, v, msg.sos_low_voltage, ctx)
        if known:
            rt = self.ring_t
            if self.step_frozen is not None or self.s_step.busy or rt == -math.inf or v <= self.ring_v - self.step_pre_v:
                self._step(t, t0, v)
            elif t - rt >= RING_S:  # the common case, inlined: one kept value per 5 min
                self.ring.append((t, v))
                self.ring_t = t
                self.ring_v = v
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

    def _step(self, t: float, t0: float, v: float) -> None:
        """A sudden fall against the rested level of the last hours (or before the last drive)."""
        st = self.s_step
        frozen = self.step_frozen
        lim = self.lim
        if frozen is None and not st.busy:
            if self.ring_t != -math.inf and v > self.ring_v - self.step_pre_v:
                if t - self.ring_t >= RING_S:
                    self._ring_add(t, v)
                return
            self.step_ref = self._step_reference(t)  # a pending step keeps the level from before it
        if t - self.ring_t >= RING_S:  # an empty ring's -inf passes too
            self._ring_add(t, v)
        ref = self.step_ref
        if frozen is None:
            if ref is None:
                return
            drop = ref - v
            target = CRITICAL if drop >= lim.step_crit_v else WARNING if drop >= lim.step_warn_v else NONE
            if target > st.level:
                # the window in which a cell shorts averages the levels before and after it: a
                # fall first seen at warning size and then whole is one step, raised once at
                # its full severity
                self.engine.carry(st, target)
            if target != st.level or st.busy:
                self.engine.observe(st, t, t0, target, v, msg.step_drop, self._step_ctx(ref, v))
                if st.level > NONE:
                    self.step_frozen = ref  # judge recovery against the level before the step
            return
        if v >= frozen - self.cfg.step.clear_margin_v:
            target = NONE
        else:
            target = max(st.level, CRITICAL if frozen - v >= lim.step_crit_v else WARNING)
        if target != st.level or st.busy:
            self.engine.observe(st, t, t0, target, v, msg.step_drop, self._step_ctx(frozen, v))
            if st.level == NONE:
                self.step_frozen = None

    def _self_discharged(self, t: float, v: float) -> dict[str, Any] | None:
        """Whether a healthy pack's self-discharge over this park explains a low rested voltage.

        NiMH loses about 20 % a month at 20 °C, doubling per +10 °C (§0.2, §1.4 item 2 [SRC 9]),
        and the telematics unit recharges it whenever the car is driven: a pack that was above
        the warning's clear level when the park began, and has lost no more charge since than
        ``warn_ratio`` × that expectation, is not running down. The critical level is never
        explained away: a pack that low cannot hold an emergency call, whatever the cause.
        Returns the park's figures for the message, or None.
        """
        fit = self.fit
        if fit.n == 0 or self.park_v0 * self.cells < self.levels[3]:
            return None
        days = t / DAY_S - fit.x0
        sd = self.cfg.self_discharge
        temp = fit.mean_z()
        expected = self.healthy_pct_day * days * 2.0 ** ((temp - 20.0) / sd.temp_doubling_c)
        table = self.lim.soc_table
        lost = interp(table, self.park_v0) - interp(table, v / self.cells)
        if lost > sd.warn_ratio * expected:
            return None
        return {"parked_days": days, "expected_pct": min(100.0, expected), "park_temp": temp,
                "healthy_pct_month": self.lim.healthy_pct_month}

    def _ring_add(self, t: float, v: float) -> None:
        self.ring.append((t, v))
        self.ring_t = t
        self.ring_v = v

    def _step_reference(self, t: float) -> float | None:
        ring = self.ring
        if not ring:
            return None
        window = self.cfg.step.window_s
        recent = [v for tt, v in ring if t - tt <= window]
        if recent:
            return median(recent)
        if t - ring[-1][0] <= self.cfg.step.max_gap_s:
            return median([v for _, v in list(ring)[-3:]])
        return None

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
        tr = self.trend
        if tr is not None and tr.falling and self.trend_days_crit is not None and self.last_rest_t is not None:
            ctx["trend_date"] = msg.day(self.last_rest_t + self.trend_days_crit * DAY_S)
        return ctx

    def _step_ctx(self, ref: float, v: float) -> dict[str, Any]:
        return {"ref": ref, "v": v, "cells": self.cells, "chem": self.chem, "warn": self.lim.step_warn_v,
                "margin": self.cfg.step.clear_margin_v,
                "ref_c": self.t_ref if self.k_temp != 0.0 and self.last_rest_temp is not None else None}

    # -- events --------------------------------------------------------------------------------
    def park_end(self, t: float) -> None:
        """The car woke up: the park's self-discharge rate, against the pack's baseline.

        Like with like (§1.4 item 2): the rested voltage of a NiMH pack falls about seven times
        faster per % of charge near full than on the flat middle of its curve, so each segment
        of the SoC table (a band) learns its own baseline from its first parks, and a park is
        judged against the baseline of the band its mean voltage lies in. A baseline is never
        taken below the healthy self-discharge of the chemistry in that band.
        """
        fit = self.fit
        sd = self.cfg.self_discharge
        slope = fit.slope() if fit.span * DAY_S >= sd.min_span_s else None
        span_h = fit.span * 24.0
        temp = fit.mean_z()
        band = band_of(self.lim.soc_table, fit.sy / fit.n) if fit.n else 0
        fit.reset()
        if slope is None:
            return
        if abs(slope) * span_h / 24.0 * self.cells < sd.min_fall_steps * self.step_v:
            return  # the fall is a step or two of a coarse ADC: the park says nothing
        rate = -slope / 2.0 ** ((temp - 20.0) / sd.temp_doubling_c)  # V per cell per day at 20 °C
        self.last_rate = rate
        self.last_band = band
        baseline = self.baselines[band]
        if baseline is None:
            rates = self.base_rates[band]
            rates.append(rate)
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
        self.judged = (rate, base, band)
        target = WARNING if ratio >= sd.warn_ratio or (level >= WARNING and ratio >= sd.warn_clear_ratio) else NONE
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
    def _decline(self, t: float) -> None:
        tc = self.trend_cfg
        today = t / DAY_S
        xs, ys = self.daily.window(today, tc.window_days)
        fit = theil_sen(xs, ys, self.z) if len(xs) >= tc.min_points else None
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
            "installed": str(self.installed), "daily": self.daily.export(), "ring": [list(x) for x in self.ring], "step_ref": self.step_ref,
            "step_frozen": self.step_frozen, "fit": self.fit.to_list(), "last_rate": self.last_rate,
            "last_v": self.last_v, "park_v0": self.park_v0, "band_rates": self.base_rates, "baselines": self.baselines,
            "last_band": self.last_band, "sd_band": self.sd_band,
            "judged": None if self.judged is None else list(self.judged),
            "last_rest": [self.last_rest_v, self.last_rest_t, self.last_rest_temp],
            "fit_t": self.fit_t,
            "next_fit_day": self.next_fit_day, "trend": None if self.trend is None else self.trend.to_list(),
            "trend_days": [self.trend_days_warn, self.trend_days_crit], "hint_day": self.hint_day,
        }

    def load(self, d: dict[str, Any]) -> None:
        if d.get("installed") != str(self.installed):
            return  # a new pack: baselines start afresh
        self.daily.load(d["daily"])
        self.ring = deque(((float(a), float(b)) for a, b in d["ring"]), maxlen=RING_LEN)
        self.ring_t, self.ring_v = self.ring[-1] if self.ring else (-math.inf, 0.0)
        self.step_ref = d["step_ref"]
        self.step_frozen = d["step_frozen"]
        self.last_v = d["last_v"]
        self.fit.load(d["fit"])
        self.last_rate = d["last_rate"]
        if "band_rates" in d and len(d["band_rates"]) == len(self.base_rates):
            self.park_v0 = float(d["park_v0"])
            self.base_rates = [[float(x) for x in rates] for rates in d["band_rates"]]
            self.baselines = [None if b is None else float(b) for b in d["baselines"]]
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
        self.hint_day = float(d.get("hint_day", -1.0))

