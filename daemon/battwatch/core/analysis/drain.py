"""The 12 V battery's parasitic_drain rule: the fall of the rested voltage through a park."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Final

from battwatch.analysis_config import DrainConfig, Table
from battwatch.core.analysis import messages as msg
from battwatch.core.analysis.engine import CRITICAL, WARNING, AlertEngine
from battwatch.core.analysis.levels import above
from battwatch.core.tables import interp

# the sustained-drain bar is a multiple of the expected sleep current, but never of less than
# this (a configuration that expects none would otherwise call any fall a drain) [ENG]
SUSTAINED_MIN_MA: Final = 10.0


def surface_fall_bound(a_v: float, s1: float, s2: float) -> float:
    """The most a surface charge of at most ``a_v`` volts, fading since time 0, can fall
    between ``s1`` and ``s2`` (any unit, 0 < s1 < s2).

    One exponential a·e^(-s/τ) falls most over [s1, s2] with τ = (s2 - s1) / ln(s2 / s1). A
    relaxation that is a mix of exponentials (diffusion, two time constants, a power-law tail
    like a / (1 + s/s0)^k) with the same total falls no more than its worst part alone, so the
    bound holds whatever the battery's shape and time constants.
    """
    if a_v <= 0.0 or s1 <= 0.0 or s2 <= s1:
        return a_v if s1 <= 0.0 < s2 else 0.0
    tau = (s2 - s1) / math.log(s2 / s1)
    return a_v * (math.exp(-s1 / tau) - math.exp(-s2 / tau))


Series = tuple[float, float, float, float]  # V25, the sensor's temperature, two candidate cores


class Lines:
    """Least-squares lines of the four series of a drain point (the rested V25, the sensor's
    and the two candidate cores' temperatures) over the same hours, in O(1) per point. With
    ``keep`` the points are kept, so that the oldest can be dropped again (the bounded looks'
    window). The sums are written out per series: this runs for every rested reading.

    x and every series are summed about the first point (no cancellation against hours since
    1970 or 12 V when a point is taken out again).
    """

    __slots__ = ("keep", "track", "pts", "n", "x0", "first_x", "last_x", "head_s", "sx", "sxx", "sz", "temps",
                 "v0", "t0", "c0", "d0", "sv", "st", "sc", "sd", "sxv", "sxt", "sxc", "sxd")

    def __init__(self, keep: bool = False, track: bool = True) -> None:
        self.keep = keep
        self.track = track  # False: the V25 alone (the temperatures' sums stay 0)
        self.pts: deque[tuple[float, Series, float, float]] = deque()
        self.reset()

    def reset(self) -> None:
        self.pts.clear()
        self.n = 0
        self.temps = True  # the temperature series are known for every point (see load)
        self.x0 = self.first_x = self.last_x = self.sx = self.sxx = self.sz = 0.0
        self.head_s = 0.0  # the oldest kept point's s_h (``keep``), read on every bounded point
        self.v0 = self.t0 = self.c0 = self.d0 = 0.0
        self.sv = self.st = self.sc = self.sd = 0.0
        self.sxv = self.sxt = self.sxc = self.sxd = 0.0

    def add(self, x: float, ys: Series, z: float, s_h: float = 0.0) -> None:
        if self.n == 0:
            self.reset()
            self.x0 = self.first_x = x
            self.head_s = s_h
            self.v0, self.t0, self.c0, self.d0 = ys
        if self.keep:
            self.pts.append((x, ys, z, s_h))
        self.n += 1
        self.last_x = x
        dx = x - self.x0
        v = ys[0] - self.v0
        self.sx += dx
        self.sxx += dx * dx
        self.sz += z
        self.sv += v
        self.sxv += dx * v
        if self.track:
            t = ys[1] - self.t0
            c = ys[2] - self.c0
            d = ys[3] - self.d0
            self.st += t
            self.sc += c
            self.sd += d
            self.sxt += dx * t
            self.sxc += dx * c
            self.sxd += dx * d

    def popleft(self) -> None:
        """Drop the oldest point (``keep`` only)."""
        x, ys, z, _ = self.pts.popleft()
        self.n -= 1
        if self.pts:
            head = self.pts[0]
            self.first_x = head[0]
            self.head_s = head[3]
        else:
            self.head_s = -math.inf  # the next popleft fails as pts[0] did
        dx = x - self.x0
        v = ys[0] - self.v0
        self.sx -= dx
        self.sxx -= dx * dx
        self.sz -= z
        self.sv -= v
        self.sxv -= dx * v
        if self.track:
            t = ys[1] - self.t0
            c = ys[2] - self.c0
            d = ys[3] - self.d0
            self.st -= t
            self.sc -= c
            self.sd -= d
            self.sxt -= dx * t
            self.sxc -= dx * c
            self.sxd -= dx * d

    def shift(self, dx: float) -> None:
        """Move every point ``dx`` along x (a wall-clock step): the sums are about x0, which moves too."""
        if self.n:
            self.x0 += dx
            self.first_x += dx
            self.last_x += dx
        if self.keep:
            self.pts = deque((x + dx, ys, z, s_h) for x, ys, z, s_h in self.pts)

    @property
    def span(self) -> float:
        return self.last_x - self.first_x if self.n else 0.0

    def _den(self) -> float:
        n = self.n
        return n * self.sxx - self.sx * self.sx if n >= 3 else 0.0

    def slope(self) -> float | None:
        """The V25's slope (per hour); None with fewer than 3 points or no spread."""
        den = self._den()
        return (self.n * self.sxv - self.sx * self.sv) / den if den > 0.0 else None

    def temp_slopes(self) -> tuple[float, float, float] | None:
        """The slopes (°C per hour) of the sensor's temperature and of the two candidate cores."""
        den = self._den()
        if den <= 0.0 or not self.track:
            return None
        n, sx = self.n, self.sx
        return ((n * self.sxt - sx * self.st) / den, (n * self.sxc - sx * self.sc) / den,
                (n * self.sxd - sx * self.sd) / den)

    def mean_z(self) -> float:
        return self.sz / self.n if self.n else 0.0

    def to_list(self) -> list[Any]:
        return [self.n, self.x0, self.first_x, self.last_x, self.sx, self.sxx, self.sz,
                [self.v0, self.t0, self.c0, self.d0], [self.sv, self.st, self.sc, self.sd],
                [self.sxv, self.sxt, self.sxc, self.sxd]]

    def load(self, d: list[Any]) -> None:
        """A state of to_list(); or of the RunningFit kept before (the V25 alone): the
        temperatures then start with the next park."""
        self.reset()
        if len(d) == 10 and isinstance(d[7], list):
            n, self.x0, self.first_x, self.last_x, self.sx, self.sxx, self.sz = d[:7]
            self.n = int(n)
            self.v0, self.t0, self.c0, self.d0 = (float(v) for v in d[7])
            self.sv, self.st, self.sc, self.sd = (float(v) for v in d[8])
            self.sxv, self.sxt, self.sxc, self.sxd = (float(v) for v in d[9])
            return
        n, x0, sx, sy, sxx, sxy, last_x, sz = (float(v) for v in d[:8])
        self.n, self.x0, self.first_x, self.last_x = int(n), x0, x0, last_x
        self.sx, self.sxx, self.sz = sx, sxx, sz
        self.sv, self.sxv = sy, sxy  # about v0 = 0: the same slope
        self.temps = self.n == 0


class DrainRule:
    """Fits the rested voltage of each park and judges its fall against the sleep current."""

    def __init__(self, cfg: DrainConfig, table: Table, capacity_ah: float, monitor_ma: float,
                 engine: AlertEngine, ocv_coeff_v_per_c: float = 0.003, gap_s: float = 600.0) -> None:
        self.cfg = cfg
        self.table = table
        self.capacity_ah = capacity_ah
        self.monitor_ma = monitor_ma
        self.engine = engine
        self.k = ocv_coeff_v_per_c  # the correction that made the V25 the rule is given
        self.slot = engine.slot("main", "parasitic_drain", cfg.debounce)
        # what every point reads, as float attributes: compiled, no look-up in the configuration
        # and no unboxing per row
        self.rest_min_s: float = cfg.rest_min_s
        self.min_span_s: float = cfg.min_span_s
        self.early_span_s: float = cfg.early_span_s
        self.first_span_s: float = cfg.first_span_s
        self.early_every_h: float = cfg.early_every_s / 3600.0
        self.verdict_every_h: float = cfg.verdict_every_s / 3600.0
        self.early_factor: float = cfg.early_factor
        self.first_factor: float = cfg.first_factor
        self.lag_h: float = cfg.core_lag_max_s / 3600.0
        self.bound_until_s: float = cfg.bound_until_s
        self.surface_max_v: float = cfg.surface_max_v
        self.bound_ratio: float = cfg.bound_ratio
        self.bound_min_span_s: float = cfg.bound_min_span_s
        self.bound_every_s: float = cfg.bound_every_s
        self.bound_factor: float = cfg.bound_factor
        # ... and what every verdict reads before its first way out (a bounded look every 15 min)
        self.sleep_ma: float = cfg.car_sleep_ma + monitor_ma
        self.warn_mv: float = cfg.warn_mv_12h
        self.crit_mv: float = cfg.crit_mv_12h
        self.soc: float | None = None  # of the last rested reading, set by the caller
        self.mv_soc = math.nan  # the charge _mv_per_pct last answered for (a rested charge mostly repeats)
        self.mv_pct = 1.0
        # the park's rested fit: the V25, the sensor's temperature and two candidate cores behind it
        self.fit = Lines()
        self.next_verdict_h = cfg.min_span_s / 3600.0
        self.next_early_h = cfg.early_span_s / 3600.0  # the next early look at a heavy drain
        # the first looks: fits over stretches of rested readings, until the fit above
        # reaches early_span_s (the V25 alone: their factor is their margin)
        self.fit0 = Lines(track=False)
        self.verdicts = 0  # verdicts of this park at the normal span (not the early looks)
        # the bounded looks (DrainConfig.surface_max_v): the park's sleep from since / bound_ratio on
        self.win = Lines(keep=True, track=False)  # the V25 alone: bound_factor is their margin
        self.next_bound_t = 0.0
        # the candidate cores (core_lag_max_s / 2 and core_lag_max_s behind the sensor) since
        # the sleep began
        self.has_cores = False  # core_fast and core_slow follow this sleep (else: not yet)
        self.core_fast = self.core_slow = 0.0
        self.core_ts = 0.0  # the sensor's last temperature
        self.decay_dt = -1.0  # the step (h) the candidates' decay factors below are for
        self.decay_fast = self.decay_slow = 1.0
        self.last_since = -1.0
        # The charging's end (see watch_charge): the surface charge fades, and a drain draws, from there,
        # not from the last activity after it. None until seen, and after a gap in the readings.
        self.charge_t: float | None = None
        self.full_v25 = interp(table, 100.0)
        self.charged = False  # the last awake reading may have charged: its successor ends the charge
        self.awake_v25 = math.inf  # the last awake reading's V25
        self.awake_t = -math.inf
        self.seen_t = -math.inf  # the last reading of any state (the caller sets it for the sleeping ones)
        self.gap_s = gap_s
        self.win_since = -1.0  # the bounded looks' sleep clock (a new sleep restarts their window)
        self.drain_start_t: float | None = None  # the charging's end if known, else the sleep's start
        self.confirm_h: float | None = None  # set by a verdict whose raise wants an earlier second

    def _series(self, t: float, v25: float, temp: float | None, since: float) -> Series:
        """The point's values of the four series, the candidate cores followed to ``t``."""
        if since < self.last_since:
            self.has_cores = False  # new activity: a new sleep
        # the time since the last point by the sleep's own clock: a wall-clock step moves
        # the last activity with it, so the cores follow only the hours that passed
        dt_h = max(0.0, since - self.last_since) / 3600.0
        self.last_since = since
        ct = self.charge_t
        self.drain_start_t = t - since if ct is None else ct
        lag_h = self.lag_h
        if temp is None:
            if not self.has_cores:
                return (v25, 0.0, 0.0, 0.0)
            return (v25, self.core_ts, self.core_fast, self.core_slow)  # held where the sensor is silent
        tc: float = temp
        if not self.has_cores or lag_h <= 0.0:
            # at the sleep's start the core is taken at the sensor's temperature: the drive
            # warmed both (the core cools slowest from there)
            self.has_cores = True
            fast = slow = tc
        else:
            if dt_h != self.decay_dt:  # rows come at a steady pace: the two factors are kept
                self.decay_dt = dt_h
                self.decay_fast = math.exp(-2.0 * dt_h / lag_h)
                self.decay_slow = math.exp(-dt_h / lag_h)
            fast = tc + (self.core_fast - tc) * self.decay_fast
            slow = tc + (self.core_slow - tc) * self.decay_slow
        self.core_fast = fast
        self.core_slow = slow
        self.core_ts = tc
        return (v25, tc, fast, slow)

    def point(self, t: float, v25: float, temp: float | None, since: float, soc: float | None) -> None:
        """A rested point for the drain fits (at most one per FIT_SAMPLE_S); ``soc``: the state
        of charge of the last rested reading."""
        self.soc = soc
        ys = self._series(t, v25, temp, since)
        z = 0.0 if temp is None else 1.0
        if since <= self.bound_until_s:
            self._bound(t, ys, z, since)
        fit = self.fit
        x = t / 3600.0
        span_h = 0.0
        if since >= self.rest_min_s:
            fit.add(x, ys, z)
            span_h = fit.last_x - fit.x0
            if span_h >= self.next_verdict_h:
                pace = self._verdict(t, fit)
                # a fall this heavy (or a modest one already past the sustained bar) is judged
                # again within the hour, so that the debounce's second verdict comes before the
                # battery is half empty; a raise to confirm, before the drain as measured could
                # have taken a quarter of the charge; otherwise as before
                if pace:
                    self.next_verdict_h = span_h + self.early_every_h
                elif self.confirm_h is not None:
                    self.next_verdict_h = span_h + self.confirm_h
                else:
                    self.next_verdict_h += self.verdict_every_h
            elif span_h >= self.next_early_h and span_h * 3600.0 < self.min_span_s:
                self.next_early_h = span_h + self.early_every_h
                self._verdict(t, fit, self.early_factor)
        if fit.n == 0 or span_h * 3600.0 < self.early_span_s:
            # Before the fit above speaks, the first looks at a drain that cannot wait, each on
            # its own stretch of first_span_s: the surface charge slows down from one stretch
            # to the next, a drain does not, and the debounce wants two stretches in a row.
            f0 = self.fit0
            f0.add(x, ys, z)
            if (f0.last_x - f0.x0) * 3600.0 >= self.first_span_s:
                if not self._verdict(t, f0, self.first_factor):
                    s = self.slot
                    if s.busy and s.level < WARNING:
                        s.drop_pending_up(s.level + 1)
                f0.reset()
                f0.add(x, ys, z)

    def watch_charge(self, t: float, t0: float, v25: float, running: bool) -> None:
        """A reading of the car awake or running over ``t0``-``t``: may it have charged?

        Charging is seen as the running state, and, where a long row's average hides it, as a
        V25 above the table's 100 % that is not falling (a fading surface charge only falls; a
        load that stops lets it recover, which only counts the charge as later). The charge may
        have ended anywhere inside the next row, so that row's end is taken.
        """
        if t0 - self.seen_t > self.gap_s:
            self.charge_t = None  # a drive may have gone on unseen
            self.charged = False
        prev = self.awake_v25 if self.awake_t == self.seen_t else math.inf
        charged = running or (v25 > self.full_v25 and v25 >= prev)
        if charged or self.charged:
            self.charge_t = t
        self.charged = charged
        self.awake_v25 = v25
        self.awake_t = self.seen_t = t

    def sleeping(self, t: float, t0: float) -> None:
        """A reading of the car asleep, rested or not, after one that may have charged: the
        charge ended in it at the latest (a sleeping car's rows are steady and below the charging
        level: a V25 above 100 % that holds still there is a full battery, not a charge); or
        after a gap: the charge is forgotten. The caller keeps seen_t on the other rows."""
        self.charge_t = None if t0 - self.seen_t > self.gap_s else t
        self.charged = False
        self.seen_t = t

    def bound_point(self, t: float, v25: float, temp: float | None, since: float) -> None:
        """A point of the car asleep but not rested yet (at most one per FIT_SAMPLE_S)."""
        self._bound(t, self._series(t, v25, temp, since), 0.0 if temp is None else 1.0, since)

    def _bound(self, t: float, ys: Series, z: float, since: float) -> None:
        """From the first minutes of sleep on: every bound_every_s, the fall over the last part
        of the sleep (from since / bound_ratio to now) beyond the most the surface charge can
        explain is a lower bound on the drain, judged at bound_factor x the levels."""
        if since > self.bound_until_s or self.surface_max_v <= 0.0:
            return
        win = self.win
        if since < self.win_since:
            win.reset()  # new activity without a wake: a new sleep
        self.win_since = since
        # the hours the surface charge has faded: since the charging's end when it is known
        start = self.drain_start_t
        s_h = (since if start is None else t - start) / 3600.0
        win.add(t / 3600.0, ys, z, s_h)
        lo = s_h / self.bound_ratio
        while win.head_s < lo:
            win.popleft()
        if t < self.next_bound_t:
            return
        s1 = win.head_s
        if (s_h - s1) * 3600.0 < self.bound_min_span_s or win.n < 5:
            return
        self.next_bound_t = t + self.bound_every_s
        if win.span <= 0.0:
            return
        bound = surface_fall_bound(self.surface_max_v, s1, s_h) * 1000.0
        self._verdict(t, win, self.bound_factor, bound / win.span * 12.0)

    def park_end(self, t: float, soc: float | None) -> None:
        """The car woke up: judge the park's drain if it was long enough and not judged yet."""
        self.soc = soc
        fit = self.fit
        dc = self.cfg
        if fit.n and self.verdicts == 0 and fit.span * 3600.0 >= dc.min_span_s:
            self._verdict(t, fit)
        fit.reset()
        self.fit0.reset()
        self.win.reset()
        self.next_bound_t = 0.0
        self.verdicts = 0
        self.next_verdict_h = dc.min_span_s / 3600.0
        self.next_early_h = dc.early_span_s / 3600.0

    def shift(self, delta_s: float) -> None:
        """The wall clock stepped by ``delta_s``: the park goes on, its times move with the clock."""
        for line in (self.fit, self.fit0, self.win):
            line.shift(delta_s / 3600.0)
        if self.next_bound_t:
            self.next_bound_t += delta_s
        if self.drain_start_t is not None:
            self.drain_start_t += delta_s
        if self.charge_t is not None:
            self.charge_t += delta_s
        self.awake_t += delta_s
        self.seen_t += delta_s

    def temp_allowance(self, fit: Lines) -> float:
        """The most of the line's fall (mV per 12 h) that the temperature correction can have
        added: the V25 is corrected with the sensor's temperature at ``k`` per °C, the battery's
        OCV may move ``k`` ± temp_coeff_spread_v_per_c with a core up to core_lag_max_s behind
        the sensor. Its error's slope is c·(core's slope) - k·(sensor's slope), linear in c: the
        worst case is at an end of the spread, with the sensor itself or one candidate core."""
        dc = self.cfg
        if not fit.temps or fit.mean_z() < 0.5:
            return 0.0
        slopes = fit.temp_slopes()
        if slopes is None:
            return 0.0
        sensor = slopes[0]
        k = self.k
        worst = 0.0
        for c in (max(0.0, k - dc.temp_coeff_spread_v_per_c), k + dc.temp_coeff_spread_v_per_c):
            for core in slopes:
                worst = max(worst, k * sensor - c * core)
        return worst * 12.0 * 1000.0

    def _mv_per_pct(self) -> float:
        soc = self.soc
        if soc is None:
            soc = self.cfg.assumed_soc_pct
        if soc == self.mv_soc:
            return self.mv_pct
        lo, hi = max(0.0, soc - 5.0), min(100.0, soc + 5.0)
        self.mv_soc = soc
        self.mv_pct = max(1.0, (interp(self.table, hi) - interp(self.table, lo)) / (hi - lo) * 1000.0)
        return self.mv_pct

    def _verdict(self, t: float, fit: Lines, factor: float = 0.0, surface: float | None = None) -> bool:
        """Judge the park's fall so far (``fit``); True when the next verdict is due within the
        hour: the fall is heavy (early_factor x the warning level) or a sustained drain.

        A look with a ``factor`` (early: less than min_span_s measured; first: before
        rest_min_s) only speaks of a heavy fall, and then only to raise: warning past ``factor``
        x the warning level, critical past ``factor`` x the critical level. ``surface``: the
        most of the fall (mV per 12 h) that the surface charge can explain, left out of the
        excess (the bounded looks). On the park's rested fit, whatever raises the alert (an early
        look, a level, the sustained bar, the hourly pace) counts only the excess beyond the most
        the temperature correction can have added (temp_allowance); holding and stepping down
        go by the excess as measured.
        """
        # read just after the look that set it (a reset here, not before the call, because
        # mypy, and so the compiled core, would take the attribute for None after it)
        self.confirm_h = None
        slope = fit.slope()  # V per hour
        if slope is None:
            return False
        dc = self.cfg
        mv_pct = self._mv_per_pct()
        rate = -slope * 12.0 * 1000.0
        sleep_ma = self.sleep_ma
        expected = sleep_ma / 1000.0 * 12.0 / self.capacity_ah * 100.0 * mv_pct
        surface = surface or 0.0
        excess = rate - expected - surface
        doubt = self.temp_allowance(fit) if fit is self.fit else 0.0
        heavy = excess - doubt >= self.early_factor * self.warn_mv
        extra_a = max(0.0, excess) / mv_pct / 100.0 * self.capacity_ah / 12.0
        s = self.slot
        sustained = False
        held_back = False  # a warning or more that only the temperature's doubt keeps down
        if factor > 0.0:
            sure = excess - doubt
            if sure < factor * self.warn_mv:
                return False
            target = CRITICAL if sure >= factor * self.crit_mv else WARNING
            if target <= s.level:
                # a short span's look never counts towards stepping down, nor resets the
                # evidence a longer fit gathers towards the next level
                return True
        else:
            self.verdicts += 1
            lv = (dc.info_mv_12h, dc.info_clear_mv_12h, dc.warn_mv_12h, dc.warn_clear_mv_12h, dc.crit_mv_12h,
                  dc.crit_clear_mv_12h)
            target = above(excess, s.level, *lv)
            if target > s.level:
                # a raise counts only the fall the temperature correction cannot have made;
                # holding and stepping down go by the fall as measured
                face = target
                target = max(s.level, above(excess - doubt, s.level, *lv))
                held_back = face >= WARNING and target < face
            if target < WARNING:
                # a modest drain shows over a long park: the extra current against the expected
                # sleep current, once the fall it caused is more than a healthy park can show
                held = s.level >= WARNING
                sure = excess if held else excess - doubt
                fall = sure / 12.0 * fit.span
                bar = dc.sustained_clear_factor if held else dc.sustained_factor
                sure_a = max(0.0, sure) / mv_pct / 100.0 * self.capacity_ah / 12.0
                if sure_a * 1000.0 >= bar * max(sleep_ma, SUSTAINED_MIN_MA) and fall >= dc.sustained_fall_mv:
                    target = WARNING
                    sustained = True
        total_a = extra_a + sleep_ma / 1000.0
        raising = target > s.level and target >= WARNING and not sustained
        if factor == 0.0 and (raising or held_back) and self.drain_start_t is not None:
            # a raise past the temperature's doubt is confirmed, and one that only the doubt
            # holds back looked at again over a longer fit (a smaller doubt), at the latest
            # halfway to the moment the fall would have taken a quarter of the charge since
            # the charging ended (else the sleep began), not 12 h later
            left_h = self.drain_start_t / 3600.0 + 0.25 * self.capacity_ah / total_a - t / 3600.0
            self.confirm_h = min(dc.verdict_every_s / 3600.0, max(dc.early_every_s / 3600.0, 0.5 * left_h))
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
                             "quarter_h": 0.25 * self.capacity_ah / total_a if total_a > 0.0 else None,
                             "surface_mv_12h": surface, "temp_mv_12h": doubt})
        return heavy or (sustained and s.level < WARNING)

    # -- persistence ---------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        return {"fit": self.fit.to_list(), "next_verdict_h": self.next_verdict_h, "verdicts": self.verdicts,
                "next_early_h": self.next_early_h, "fit0": self.fit0.to_list(),
                "bound": [[x, list(ys), z, sh] for x, ys, z, sh in self.win.pts], "next_bound_t": self.next_bound_t,
                "cores": [self.core_fast, self.core_slow] if self.has_cores else None, "core_ts": self.core_ts, "last_since": self.last_since,
                "charge_t": self.charge_t, "charged": self.charged, "win_since": self.win_since,
                "seen_t": None if self.seen_t == -math.inf else self.seen_t}

    def load(self, d: dict[str, Any]) -> None:
        self.fit.load(d["fit"])
        self.next_verdict_h = float(d["next_verdict_h"])
        self.verdicts = int(d["verdicts"])
        self.next_early_h = float(d.get("next_early_h", self.cfg.early_span_s / 3600.0))
        if "fit0" in d:  # states from before the first looks: none taken in this park
            self.fit0.load(d["fit0"])
        # states from before the bounded looks: none taken in this park; from before the
        # temperatures: the V25 alone, the temperatures from the next sleep on
        self.win.reset()
        for x, ys, z, sh in d.get("bound", []):
            if isinstance(ys, list):
                a, b, c, e = (float(y) for y in ys)
                self.win.add(float(x), (a, b, c, e), float(z), float(sh))
            else:
                self.win.add(float(x), (float(ys), 0.0, 0.0, 0.0), float(z), float(sh))
                self.win.temps = False
        self.next_bound_t = float(d.get("next_bound_t", 0.0))
        cores = d.get("cores")
        self.has_cores = cores is not None
        if cores is not None:
            self.core_fast, self.core_slow = (float(c) for c in cores)
        self.core_ts = float(d.get("core_ts", 0.0))
        self.last_since = float(d.get("last_since", -1.0))
        # states from before the charging's end was kept: the sleep's start, as then
        ct, st = d.get("charge_t"), d.get("seen_t")
        self.charge_t = None if ct is None else float(ct)
        self.charged = bool(d.get("charged", False))
        self.seen_t = -math.inf if st is None else float(st)
        self.awake_t = -math.inf
        self.win_since = float(d.get("win_since", self.last_since))
