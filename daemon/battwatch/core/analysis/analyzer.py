"""The analyzer: sensor checks, vehicle state and both batteries' rules behind one feed() (pure)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final, cast

from battwatch.core.analysis import persist, refit
from battwatch.core.analysis import summary as summary_mod
from battwatch.core.analysis.engine import AlertEngine
from battwatch.core.analysis.faults import NO_STEP, ChannelWatch
from battwatch.core.analysis.lead_acid import DAY_S, MainRules
from battwatch.core.analysis.pack import PackRules
from battwatch.core.analysis.packstep import AWAKE as K_AWAKE
from battwatch.core.analysis.packstep import RELAXING as K_RELAXING
from battwatch.core.analysis.packstep import RUNNING as K_RUNNING
from battwatch.core.analysis.plausibility import CELL_FLOOR, CELL_SPAN, PACK_CEILING_V, FitWatch
from battwatch.core.analysis.state import (
    ASLEEP,
    AWAKE,
    CRANKING,
    RESTING,
    RUNNING,
    STATE_NAMES,
    UNKNOWN_STATE,
    CrankEvent,
    Drive,
    VehicleTracker,
)
from battwatch.core.analysis.trend import TrendFit
from battwatch.core.events import Drive as DriveEvent
from battwatch.core.events import Event, Rested, Start, StartVerdict
from battwatch.core.healthsummary import VehicleSummary
from battwatch.core.model import AlertTransition, Battery, Reading
from battwatch.core.tables import interp

if TYPE_CHECKING:
    from battwatch.config import Config

HOUSEKEEP_S: Final = 3600.0  # reminders are checked at most once an hour of data time
REST_EVERY_S: Final = 3600.0  # at most one Rested event per battery per hour of data time
# config_mismatch: this much data time, and this many readings, none of them fitting [ENG]:
# well inside the 2 h that low_voltage's dead-cell verdict needs, so a 6 V battery is never
# called a 12 V one with dead cells first
FIT_JUDGE_S: Final = 1800.0
FIT_MIN_N: Final = 3


class ReportData:
    """What ``battwatch report`` plots, collected by an analyzer built with ``record=True``."""

    # a plain class, not a dataclass: in a compiled module dataclass() still writes its
    # methods at import, for every start-up
    def __init__(self, cranks: list[CrankEvent], drives: list[Drive], main_daily: list[tuple[float, float]],
                 sos_daily: list[tuple[float, float]], sos_trend: TrendFit | None) -> None:
        self.cranks = cranks
        self.drives = drives
        self.main_daily = main_daily  # (day number, V at 25 °C)
        self.sos_daily = sos_daily  # (day number, V)
        self.sos_trend = sos_trend
        self.sos_warning_day: float | None = None  # day number the trend reaches the warning level
        self.sos_end_of_life_day: float | None = None  # ... and the critical level


class BatteryAnalyzer:
    """The analysis of one vehicle, behind ``battwatch.core.pipeline.Pipeline``.

    Every decision uses the time carried by the readings, so a replay gives exactly what the
    live daemon gave. Per reading the work is O(1); medians, trends and age run once per UTC
    day of data, reminders once per hour.
    """

    def __init__(self, cfg: Config, *, record: bool = False) -> None:
        a = cfg.analysis
        self.cfg = a
        self.vehicle = cfg.vehicle.id
        self.engine = AlertEngine(self.vehicle, a.alerts)
        self.tracker = VehicleTracker(a.state, a.main.charging)
        self.main = MainRules(a, cfg.battery.main, self.engine, record)
        self.sos = PackRules(a, cfg.battery.sos, self.engine, record)
        sc = a.sensor
        self.w_main = ChannelWatch("main", sc.main_open_v, sc.main_max_v, sc, self.engine,
                                   a.main.ocv_temp_coeff_v_per_c)
        # until a reading fits the configured pack, a reading some other pack could show is a
        # question for the configuration (fit_sos), not a sensor fault: the pack's own ceiling
        # applies once the configuration is confirmed
        self.w_sos = ChannelWatch("sos", sc.sos_open_v, PACK_CEILING_V, sc, self.engine)
        self.w_main.partner = self.w_sos
        self.w_sos.partner = self.w_main
        self.fit_main = FitWatch(
            "main", 6 * CELL_FLOOR["lead_acid"], sc.main_max_v, "a 12 V starter battery", ("lead_acid", 6), ("lead_acid",),
            "battwatch judges 12 V starter batteries only. If the battery is a 12 V one, the divider "
            "or the calibration is wrong: check the tap and [adc.calibration.main] gain.",
            self.engine, FIT_JUDGE_S, FIT_MIN_N, packs=True)
        bs = cfg.battery.sos
        lim = self.sos.lim
        self.fit_sos = FitWatch(
            "sos", CELL_FLOOR[bs.chemistry] * bs.cells, CELL_SPAN[bs.chemistry][1] * bs.cells * 1.05,
            f"{bs.cells} {'NiMH' if bs.chemistry == 'nimh' else bs.chemistry} cell{'s' if bs.cells > 1 else ''}, "
            f"{lim.nominal_v * bs.cells:g} V", (bs.chemistry, bs.cells), ("nimh", "li-ion", "lifepo4"),
            "Set [battery.sos] chemistry and [battery.sos] cells to the pack's (a BMW TCB pack is 4 NiMH cells, "
            "4.8 V); if they are right, check the tap and [adc.calibration.sos] gain.",
            self.engine, FIT_JUDGE_S, FIT_MIN_N)
        self.max_dt = a.state.max_window_s
        self.sos_rest_s = a.state.sos_rest_min_s
        self.gap_s = sc.silent_gap_s
        self.gap_factor = sc.silent_gap_factor
        self.record = record
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.dt_ref: float | None = None
        self.day_end = 0.0
        self.next_hk = 0.0
        self.state = AWAKE
        self.state_name = STATE_NAMES[AWAKE]
        self.main_seen = False
        self.own_mode = False  # the pack is judged on its own readings (no 12 V channel seen)
        self._empty: list[Event] = []  # returned when nothing happened; never mutated
        # what the outputs are told besides alerts (starts, rests, drives, replacements), in
        # the order it happened; handed out before the alerts of the same call
        self.events: list[Event] = []
        self.next_rest_main = 0.0  # data time of the next hour a Rested event may go out
        self.next_rest_sos = 0.0
        self.gaps_seen = 0  # silent stretches in the data so far, the last one in last_gap
        self.last_gap: tuple[float, float] | None = None
        self.battery_cfg = cfg.battery
        # replacements told by the owner (battwatch replaced): those still to come, in time
        # order as (data time, battery, note), the first one's time in next_replaced (inf: none),
        # and per battery the date of the last one applied
        self.pending: list[tuple[float, str, str]] = []
        self.next_replaced = math.inf
        self.fitted: dict[str, float] = {}
        self.fitted_note: dict[str, str] = {}

    # -- what the pipeline calls -----------------------------------------------------------------
    def feed(self, r: Reading) -> list[Event]:
        # Hot path: a handful of comparisons for a reading of a sleeping car; everything
        # heavier (trends, medians, age) runs at the first reading of a new UTC day.
        # unpacking the NamedTuple is the cheapest way to its fields (model.Reading's order)
        t, v, vmin, vmax, s, smin, smax, temp, dt, _, _ = r
        if t >= self.next_replaced:
            self._replaced_due(t)
        last = self.last_t
        if last is None:
            self._first(t)
        else:
            gap = t - last
            ref = self.dt_ref
            if ref is None:
                self.dt_ref = gap
            else:
                if gap >= self.gap_s and gap >= self.gap_factor * ref:
                    self._gap(last, t, max(self.gap_s, self.gap_factor * ref))
                self.dt_ref = ref + 0.1 * (gap - ref)
            if t >= self.day_end:
                self._new_day(t)
            if dt <= 0.0:
                dt = gap if gap < self.max_dt else self.max_dt
        if t >= self.next_hk:
            self.next_hk = t + HOUSEKEEP_S
            self.engine.housekeep(t)
        self.last_t = t
        tb = self.last_t  # t boxed once: the channels' last_t take this object rather than a box each
        t0 = t - dt
        main_ok = False
        if v is not None:
            # plain floats from here on: compiled, each use of an optional one unboxes it again
            vf: float = v
            lo: float = vf if vmin is None else vmin
            hi: float = vf if vmax is None else vmax
            if not self.main_seen:
                self.main_seen = True
            w = self.w_main
            if w.quiet and lo >= w.open_v and hi <= w.max_v and (lo != hi) == w.has_spread:
                w.last_t = tb
                main_ok = True
                if not w.has_spread:  # average-only rows: follow runs of identical values
                    if vf != w.run_v:
                        w.new_run(t0, vf, self.state)
                    else:
                        w.run_n += 1
                        if t >= w.run_check:
                            self._judge_run(w, t, temp)
                            main_ok = w.active is None
            elif vf > w.max_v and self.fit_main.takes(t, vf):
                main_ok = False  # more than a 12 V battery reads: the configuration's problem
            else:
                main_ok = w.check(t, t0, vf, lo, hi)
            if main_ok:
                fm = self.fit_main
                if fm.done or not fm.feed(t, vf):
                    if self.own_mode:  # a 12 V channel that fits after all: rested readings again
                        self.own_mode = False
                        self.sos.own_mode(False)
                    self._main(t, t0, vf, lo, hi, dt, temp)
                else:
                    main_ok = False  # not the configured battery: no states, no verdicts
        elif self.main_seen:
            self._missing(self.w_main, t)
        if s is not None:
            sf: float = s
            slo: float = sf if smin is None else smin
            shi: float = sf if smax is None else smax
            w = self.w_sos
            if w.quiet and slo >= w.open_v and shi <= w.max_v and (slo != shi) == w.has_spread:
                w.last_t = tb
                ok = True
                if not w.has_spread:
                    if sf != w.run_v:
                        w.new_run(t0, sf, self.state)
                    else:
                        w.run_n += 1
                        if t >= w.run_check:
                            self._judge_run(w, t, temp)
                            ok = w.active is None
            else:
                ok = w.check(t, t0, sf, slo, shi)
            if ok and not self.fit_sos.done:
                if self.fit_sos.feed(t, sf):
                    ok = False
                elif self.fit_sos.fits():
                    w.max_v = self.sos.max_v
            if ok:
                sos = self.sos
                sos.last_v = sf
                if main_ok:
                    st = self.state
                    if self.tracker.pending_dip is not None:
                        # a dip in a sleeping car that may be a start (activity decides within
                        # minutes): the window may hold key-on, and the pack on charge with it
                        pass
                    elif st <= RESTING:
                        # a float local: compiled, a float subtraction rather than a generic one
                        act: float = self.tracker.last_activity  # type: ignore[assignment]
                        since = t - act
                        if since >= self.sos_rest_s:
                            sos.rested(t, t0, sf, temp, since)
                            if t >= self.next_rest_sos:
                                self._rested("sos", t, sf, temp, since)
                        else:
                            sos.unrested(t, t0, sf, temp, K_RELAXING)
                    elif st != CRANKING:
                        # a shorted cell is found in any state, against readings of the same kind
                        sos.unrested(t, t0, sf, temp, K_AWAKE if st == AWAKE else K_RUNNING)
                elif not self.main_seen or self.fit_main.active:
                    # no 12 V channel at all (or one that fits no configured battery): the pack's own voltage shows when it is on
                    # charge, and its level and trend are judged on the readings off charge
                    # for sos_rest_min_s; a step is judged among readings off charge
                    # (PackRules.own_step), self-discharge not (nothing tells a park from a load)
                    if not self.own_mode:
                        self.own_mode = True
                        sos.own_mode(True)
                    if not sos.own_charge(t, sf):
                        since = t - (self.first_t if sos.own_t is None else sos.own_t)  # type: ignore[operator]
                        sos.own_step(t, t0, sf, temp, since)
                        if since >= self.sos_rest_s:
                            sos.rested(t, t0, sf, temp, since, known=False)
                            if t >= self.next_rest_sos:
                                self._rested("sos", t, sf, temp, since)
        elif self.w_sos.seen:
            self._missing(self.w_sos, t)
        if self.engine.out or self.events:
            return self._take()
        return self._empty

    def _take(self) -> list[Event]:
        """What happened since the last call: events first, then the alerts they led to."""
        if not self.events:
            return cast("list[Event]", self.engine.take())
        out, self.events = self.events, []
        if self.engine.out:
            out += self.engine.take()
        return out

    def _start(self, ev: CrankEvent) -> None:
        """A start whose outcome is known: judged by the 12 V rules, told to the outputs."""
        main = self.main
        cc = self.cfg.main.cranking
        soc = main.soc  # the charge before the start: the rules judge against this one
        low_charge = soc is not None and soc < cc.min_soc_pct
        main.crank(ev)
        limit = interp(cc.limit_by_temp_c, cc.assumed_temp_c if ev.temp_c is None else ev.temp_c)
        v = ev.v_min
        verdict: StartVerdict = ("critical" if ev.failed or v < cc.crit_v else "low charge" if low_charge
                                 else "below" if v < limit else "ok")
        tr = self.tracker
        # the voltage the tracker took after this start, if its drive is the one still open
        recovery = tr.d_recovery if tr.d_start == ev.t and not ev.failed else None
        self.events.append(Start(ev.t, self.vehicle, v, ev.v_pre, ev.dip_v, recovery, ev.temp_c, limit, ev.failed,
                                 ev.restart, low_charge, verdict))

    def _drive(self, d: Drive) -> None:
        self.main.drive(d)
        self.events.append(DriveEvent(d.end, self.vehicle, d.start, d.duration_s, d.avg_v, d.max_v, d.charged,
                                      d.recovery_v))

    def _rested(self, battery: Battery, t: float, v: float, temp: float | None, since: float) -> None:
        """A rested reading worth telling: the first of each hour of data time."""
        nxt = (t // REST_EVERY_S + 1.0) * REST_EVERY_S
        if battery == "main":
            self.next_rest_main = nxt
        else:
            self.next_rest_sos = nxt
        # what Rested(...) does, without its __new__: a Python function (namedtuple's), ~10 times
        # the cost of the tuple when the analysis is compiled
        self.events.append(tuple.__new__(Rested, (t, self.vehicle, battery, v, since, temp)))

    def _sos_park_end(self, t: float) -> None:
        if self.own_mode:
            # no 12 V channel: nothing tells a park from a load, so no self-discharge verdict;
            # whatever happened (a gap, a clock step) the rest starts afresh
            self.sos.fit.reset()
            self.sos.hand.reset()
            self.sos.own_t = t
            return
        w = self.w_sos
        # the self-discharge fit must span a few steps of a coarse average-only logger
        self.sos.step_v = 0.0 if w.has_spread or w.step >= NO_STEP else w.step
        self.sos.park_end(t)

    def _judge_run(self, w: ChannelWatch, t: float, temp: float | None) -> None:
        """A few minutes more of identical average-only values: ask the channel's watch."""
        st = self.state
        la = self.tracker.last_activity
        rested = st <= RESTING and la is not None and t - la >= self.sos_rest_s
        # the states come from the 12 V channel: they tell the SOS watch about charging only
        # while that channel is healthy
        charging_ok = w is self.w_main or (self.main_seen and self.w_main.active is None)
        w.judge_run(t, temp, st, rested, charging_ok)

    def _main(self, t: float, t0: float, v: float, vmin: float, vmax: float, dt: float, temp: float | None) -> None:
        tr = self.tracker
        st = tr.update(t, v, vmin, vmax, dt, temp)
        main = self.main
        main.last_v = v
        if tr.crank_out is not None:
            self._start(tr.crank_out)
            tr.crank_out = None
        if tr.drive_out is not None:
            self._drive(tr.drive_out)
            tr.drive_out = None
        # set by update() (a float local: compiled, float subtractions rather than generic ones)
        la: float = tr.last_activity  # type: ignore[assignment]
        if st == RESTING:
            since = t - la
            main.rested(t, t0, v, temp, since)
            if t >= self.next_rest_main:
                self._rested("main", t, v, temp, since)
        elif st == ASLEEP:
            main.asleep(t, t0, v, temp, t - la)
        elif st >= AWAKE:
            if tr.woke:
                main.park_end(t)
                self._sos_park_end(t)
            main.active_reading(t, t0, v, st == RUNNING, st == CRANKING, STATE_NAMES[st], vmax, temp)
        if st != self.state:
            self.state = st
            self.state_name = STATE_NAMES[st]

    def link_lost(self, t: float, reason: str) -> list[Event]:
        last = self.last_t if self.last_t is not None else t
        # a link that never delivered anything (the adapter missing from the start): the 12 V
        # channel is always wired, so its silence is a sensor fault like an unplug later on
        self.w_main.silent(t, last, reason, expected=self.last_t is None)
        self.w_sos.silent(t, last, reason)
        self.tracker.link_gap()
        return self._take()

    def tick(self, t: float) -> list[Event]:
        """Time-based work at data time ``t``: a start still open is judged, age, reminders."""
        if t >= self.next_replaced:
            self._replaced_due(t)
        if not self.w_main.faulted:
            oc = self.tracker.settle(t)
            if oc is not None:
                self._start(oc)
        if self.last_t is not None and t >= self.day_end:
            self._new_day(t)
        self.main.age(t)
        self.sos.age(t)
        self.engine.housekeep(t)
        return self._take()

    def end_of_data(self, t: float) -> list[Event]:
        """The readings end here for good (the last row of a replayed log or a report, the
        demo's end): a drive still open is closed and judged like any other, a start still
        open is judged on its voltage, then what ``tick`` does.

        Not for a daemon that stops: its saved state keeps the drive open, and after the
        restart the next reading continues it (a short stop) or, after a gap, closes and
        judges it then; closing it at the stop as well would judge it twice.
        """
        if self.last_t is not None and not self.w_main.faulted:
            tr = self.tracker
            tr.end()
            if tr.crank_out is not None:
                self._start(tr.crank_out)
                tr.crank_out = None
            if tr.drive_out is not None:
                self._drive(tr.drive_out)
                tr.drive_out = None
            self.main.settle(self.last_t)
        return self.tick(t)

    def summary(self, t: float, vehicle: str = "", readings: int = 0) -> VehicleSummary:
        main, sos = summary_mod.build(self, t)
        return VehicleSummary(vehicle, t, readings, self.vehicle_state, main, sos)

    @property
    def vehicle_state(self) -> str:
        """The vehicle state now: "unknown" until the 12 V channel, which tells the states
        apart, has given a reading (an SOS-only log has no evidence of the car at all), while
        it has a sensor fault, or while its readings have not fitted the configured battery
        (config_mismatch, or on the way to it): the states' thresholds are a 12 V battery's,
        and a 6 V battery at rest would read as a car awake."""
        fm = self.fit_main
        if not self.main_seen or self.w_main.active is not None or fm.active or (not fm.done and fm.n):
            return UNKNOWN_STATE
        return self.state_name


    def take_renotifications(self) -> list[AlertTransition]:
        """Reminders of alerts still active after their period (not transitions; see docs)."""
        return self.engine.take_renotifications()

    def time_jump(self, t: float, delta_s: float) -> None:
        """The wall clock stepped by ``delta_s`` at ``t`` (a Pi without RTC meeting NTP).

        Elapsed durations are kept, not invented: a park's drain fits and every timer (rest
        since key-off, pending alerts, reminders, silence) move with the clock, so no rest
        window, drain rate or trend sees hours that never passed.
        """
        if self.last_t is None:
            return
        self.main.shift(delta_s)
        self._sos_park_end(self.last_t)
        tr = self.tracker
        for name in ("last_activity", "last_charge", "prev_t", "d_start", "rec_t"):
            value = getattr(tr, name)
            if value is not None:
                setattr(tr, name, value + delta_s)
        for w in (self.w_main, self.w_sos):
            w.shift(delta_s)
        if self.sos.own_t is not None:
            self.sos.own_t += delta_s  # the pack's own rest clock (no 12 V channel)
        self.engine.shift(delta_s)
        if self.first_t is not None:
            self.first_t += delta_s
        self.last_t += delta_s
        self.day_end = (self.last_t // DAY_S + 1.0) * DAY_S
        self.next_hk = self.last_t + HOUSEKEEP_S

    # -- a battery replaced (docs/analysis.md "After a replacement") -----------------------------
    def schedule_replacement(self, battery: str, when: float, note: str = "") -> bool:
        """The owner says ``battery`` was replaced at data time ``when`` (see ``refit.schedule``)."""
        return refit.schedule(self, battery, when, note)

    def _replaced_due(self, t: float) -> None:
        refit.apply_due(self, t)

    def replace_battery(self, battery: str, when: float, at: float, note: str = "") -> bool:
        """A new ``battery`` fitted at ``when``, applied at data time ``at`` (see ``refit.replace_battery``)."""
        return refit.replace_battery(self, battery, when, at, note)

    def fitted_date(self, battery: str) -> tuple[str | None, str]:
        """The date the battery counts its age from and where it comes from (see ``refit.fitted_date``)."""
        return refit.fitted_date(self, battery)

    # -- time ----------------------------------------------------------------------------------
    def _first(self, t: float) -> None:
        self.first_t = t
        self.day_end = (t // DAY_S + 1.0) * DAY_S
        self.main.age(t)
        self.sos.age(t)

    def _new_day(self, t: float) -> None:
        self.day_end = (t // DAY_S + 1.0) * DAY_S
        if self.w_main.faulted:
            self.main.daily.close()  # keep the data, hold the verdicts
            self.main.age(t)
        else:
            self.main.daily_close(t)
        if self.w_sos.faulted:
            self.sos.daily.close()
            self.sos.age(t)
        else:
            self.sos.daily_close(t)

    def _gap(self, last: float, t: float, threshold: float) -> None:
        self.gaps_seen += 1  # the report shades these; counted, so the hot path stays untouched
        self.last_gap = (last, t)
        hours = (t - last) / 3600.0
        for w in (self.w_main, self.w_sos):
            if w.last_t is not None and w.last_t >= last:
                w.silent(last + threshold, last, f"a {hours:.1f} h gap in the data")
        # nothing is known about the gap: the car may have been used, so rest starts afresh
        tr = self.tracker
        tr.link_gap()
        self.main.park_end(t)
        self._sos_park_end(t)
        tr.last_activity = t

    def _missing(self, w: ChannelWatch, t: float) -> None:
        """One channel stopped while the other goes on."""
        if w.active is None and w.last_t is not None and t - w.last_t >= self.gap_s:
            w.silent(w.last_t + self.gap_s, w.last_t, "no values from this channel")

    # -- reports ---------------------------------------------------------------------------------
    def report_data(self) -> ReportData:
        """Everything ``battwatch report`` needs besides per-reading states and transitions."""
        main, sos = self.main, self.sos
        main.daily.close()
        sos.daily.close()
        # the trend the summary's remaining life rests on: the last days' where it is steeper
        fit, days_warn, days_crit, _ = sos.life_trend()
        rd = ReportData(
            cranks=list(main.crank_log or []),
            drives=list(main.drive_log or []),
            main_daily=list(main.daily.history or main.daily.points),
            sos_daily=list(sos.daily.history or sos.daily.points),
            sos_trend=fit,
        )
        if fit is not None and sos.last_rest_t is not None:
            today = sos.last_rest_t / DAY_S
            if days_warn is not None:
                rd.sos_warning_day = today + days_warn
            if days_crit is not None:
                rd.sos_end_of_life_day = today + days_crit
        return rd

    # -- persistence (persist.py) ---------------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        """Everything a restart needs (alerts, clocks, baselines, daily series); bounded in size."""
        return persist.export_state(self)

    def import_state(self, d: dict[str, Any]) -> None:
        persist.import_state(self, d)
        if self.last_t is not None:
            self.day_end = (self.last_t // DAY_S + 1.0) * DAY_S
            self.next_hk = self.last_t + HOUSEKEEP_S
            # hourly Rested events pick up where the saved analysis left them
            self.next_rest_main = self.next_rest_sos = (self.last_t // REST_EVERY_S + 1.0) * REST_EVERY_S
