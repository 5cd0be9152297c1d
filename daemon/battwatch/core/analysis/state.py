"""Vehicle state from the 12 V channel: asleep, resting, awake, cranking, running (pure)."""

from __future__ import annotations

from typing import Any, Final

from battwatch.analysis_config import ChargingConfig, StateConfig

ASLEEP: Final = 0
RESTING: Final = 1
AWAKE: Final = 2
CRANKING: Final = 3
RUNNING: Final = 4
STATE_NAMES: Final = ("asleep", "resting", "awake", "cranking", "running")
# while the 12 V channel has a sensor fault its readings tell no state, and the last one
# known would be a guess presented as a fact
UNKNOWN_STATE: Final = "unknown"
NO_TIME: Final = -1e18  # "never happened" for the clocks below
NOT_DUE: Final = 1e18  # "nothing pending" for a time something is due


# CrankEvent and Drive are plain classes, their fields Final (read-only once compiled), not frozen
# dataclasses: in a compiled module dataclass() still writes their methods at import, a
# millisecond of every start-up, and nothing compares, hashes or prints them.


class CrankEvent:
    """One engine start: the lowest voltage and the voltage just before it."""

    def __init__(self, t: float, v_min: float, v_pre: float | None, temp_c: float | None,
                 restart: bool = False, failed: bool = False) -> None:
        self.t: Final = t
        self.v_min: Final = v_min
        self.v_pre: Final = v_pre  # None when no reading close enough before the start
        self.temp_c: Final = temp_c
        self.restart: Final = restart  # a warm restart with the engine hot (stop-start), not a start after a park
        self.failed: Final = failed  # another attempt followed with no sign of the engine running in between

    @property
    def dip_v(self) -> float | None:
        return None if self.v_pre is None else self.v_pre - self.v_min


class Drive:
    """One drive as the charging rule judges it."""

    def __init__(self, start: float, end: float, duration_s: float, avg_v: float, max_v: float, charged: bool,
                 recovery_v: float | None = None, peak_s: float = 0.0, peak_v: float = 0.0) -> None:
        self.start: Final = start
        self.end: Final = end
        self.duration_s: Final = duration_s  # start to the last charging evidence (or to the last running reading)
        self.avg_v: Final = avg_v
        self.max_v: Final = max_v
        self.charged: Final = charged  # the charging system showed itself at least once
        self.recovery_v: Final = recovery_v  # the voltage about 10 s after the start (None: not seen)
        # the part of the drive seen at peak resolution (windows that reported their own maximum,
        # or short enough, ChargingConfig.peak_window_s, for the average to follow the alternator's
        # set-point) and the highest voltage in it
        self.peak_s: Final = peak_s
        self.peak_v: Final = peak_v


class VehicleTracker:
    """Classifies each 12 V reading and keeps the clocks the rules need.

    Activity (the car is awake) shows as a window minimum well below its average (loads
    switching), a jump of the average between readings, or charging. The car is asleep once
    ``asleep_after_s`` passes without activity, and a reading is *resting* once ``rest_min_s``
    has passed since the last activity. A start is a dip of ``crank_drop_v`` below the voltage
    just before it (at most ``crank_ref_max_v``: the battery's, not the alternator's); a lone
    dip while asleep only counts if activity follows (else it was a glitch). Running starts
    with a start or with charging and ends when the charging system has been silent for
    ``run_exit_s``; a drive with no charging at all (a dead alternator) runs until the car
    falls asleep, and is judged up to its last load activity.

    A start is handed on (``crank_out``) once its outcome is known: charging seen after it
    (the engine runs), another attempt within ``failed_start_s`` before any charging (it
    failed), or ``failed_start_s`` passed with neither (unknown: judged on its voltage). A start
    while the engine runs, soon after charging evidence, is a warm restart (stop-start): it
    continues the drive. A stretch of ``gap_close_s`` not covered by readings while awake or
    running ends the drive at the last reading before it and restarts the rest clock.
    """

    __slots__ = (
        "cfg", "_charging_v", "_dip_v", "_step_v", "_step_gap", "_rest_min", "_gap_close", "_charging_max",
        "_asleep_after", "_run_exit", "post_start_s", "max_dt", "state", "last_activity", "last_charge", "prev_v", "prev_t",
        "pending_dip", "open_crank", "crank_out", "drive_out", "woke", "slept",
        "d_start", "d_sum", "d_dt", "d_max", "d_last", "d_charged", "snap", "act_snap",
        "merge_s", "failed_s", "recovery_after_s", "oc_ran", "rec_t", "d_recovery", "peak_window_s", "d_peak_s",
        "d_peak_v", "peak_snap", "act_peak_snap",
    )

    def __init__(self, cfg: StateConfig, charging: ChargingConfig) -> None:
        self.cfg = cfg
        self._charging_v = cfg.charging_v
        self._dip_v = cfg.activity_dip_v
        self._step_v = cfg.activity_step_v
        self._step_gap = cfg.activity_step_max_gap_s
        self._rest_min = cfg.rest_min_s
        self._gap_close = cfg.gap_close_s
        self._charging_max = cfg.charging_max_v
        self._asleep_after = cfg.asleep_after_s
        self._run_exit = cfg.run_exit_s
        self.post_start_s = charging.post_start_skip_s
        self.recovery_after_s = charging.recovery_after_s
        self.peak_window_s = charging.peak_window_s
        self.merge_s = cfg.crank_merge_s
        self.failed_s = cfg.failed_start_s
        self.max_dt = cfg.max_window_s
        self.state = AWAKE
        self.last_activity: float | None = None
        self.last_charge = NO_TIME
        self.prev_v: float | None = None
        self.prev_t = NO_TIME
        self.pending_dip: CrankEvent | None = None
        self.open_crank: CrankEvent | None = None  # a start whose outcome is not known yet
        self.oc_ran = False  # charging seen since the open start: the engine runs
        self.rec_t = NOT_DUE  # take the post-start voltage at the first running reading from here
        self.crank_out: CrankEvent | None = None  # set when a start is complete; the caller clears it
        self.drive_out: Drive | None = None  # set when a drive ends; the caller clears it
        self.woke = False  # this reading ended a sleep (a park is over)
        self.slept = False
        self.d_start: float | None = None
        self.d_recovery: float | None = None
        self.d_sum = 0.0
        self.d_dt = 0.0
        self.d_max = 0.0
        self.d_last = 0.0
        self.d_charged = False
        self.d_peak_s = 0.0  # Drive.peak_s and peak_v of the open drive
        self.d_peak_v = 0.0
        self.snap = (0.0, 0.0, 0.0, 0.0)  # (sum, dt, max, t) at the last charging evidence
        self.act_snap = (0.0, 0.0, 0.0, 0.0)  # ... at the last activity (a drive without charging)
        self.peak_snap = (0.0, 0.0)  # (peak_s, peak_v) at the last charging evidence
        self.act_peak_snap = (0.0, 0.0)  # ... at the last activity

    def since_activity(self, t: float) -> float:
        la = self.last_activity
        return 0.0 if la is None else t - la

    def update(self, t: float, v: float, vmin: float, vmax: float, dt: float, temp: float | None) -> int:
        """Classify one plausible 12 V reading; may set ``crank_out``, ``drive_out``, ``woke``."""
        # the common case first: a sleeping car, nothing moving (a few attribute reads)
        if self.state <= RESTING and self.pending_dip is None and self.open_crank is None:
            pv = self.prev_v
            if (
                pv is not None and v < self._charging_v and v - vmin < self._dip_v
                and -self._step_v < v - pv < self._step_v and t - self.prev_t <= self._step_gap
            ):
                self.prev_v = v
                self.prev_t = t
                act: float = self.last_activity  # type: ignore[assignment]  # compiled: a float subtraction
                st = RESTING if t - act >= self._rest_min else ASLEEP
                self.state = st
                return st
        c = self.cfg
        la = self.last_activity
        if la is None:
            # nothing known before the first reading: start the rest clock now (conservative)
            la = self.last_activity = t
        was = self.state
        self.woke = False
        if was >= AWAKE and self.prev_t > NO_TIME and t - dt - self.prev_t > self._gap_close:
            # Nothing was measured for a while with the car awake or running (an ignition-
            # switched logger, a lost link): whatever happened then is unknown, so the drive
            # ends at the last reading before the gap and the rest clock starts afresh.
            self._data_gap()
            la = self.last_activity = t
            was = AWAKE
        asleep_before = was <= RESTING
        oc = self.open_crank
        if oc is not None and t - oc.t > self.merge_s and (self.oc_ran or oc.restart or t - oc.t > self.failed_s):
            self.crank_out = oc
            self.open_crank = oc = None
        prev_v = self.prev_v
        recent = prev_v is not None and t - self.prev_t <= self._step_gap
        charging = v >= self._charging_v or (vmax >= self._charging_max and not asleep_before)
        activity = charging or v - vmin >= self._dip_v
        if recent:
            step = v - prev_v  # type: ignore[operator]
            if step >= self._step_v or -step >= self._step_v:
                activity = True
        # -- a start? -------------------------------------------------------------------------
        if activity and vmin >= c.crank_floor_v:
            pre = prev_v if prev_v is not None and t - self.prev_t <= c.crank_pre_max_age_s else None
            ref = vmax if pre is None else pre
            if ref > c.crank_ref_max_v:
                ref = c.crank_ref_max_v
            if pre is not None and pre > c.crank_ref_max_v:
                pre = None  # the alternator's voltage, not the battery's: no dip to measure
            # With the engine running, a start (an automatic stop-start restart) shows as a
            # brief dip inside a window; a whole window that sits low is the engine stopping
            # with loads on, not a start.
            transient = was != RUNNING or v - vmin >= c.crank_drop_v
            if transient and ref >= c.crank_pre_min_v and vmin <= ref - c.crank_drop_v:
                if oc is not None and t - oc.t <= self.merge_s:
                    if vmin < oc.v_min:
                        self.open_crank = CrankEvent(oc.t, vmin, oc.v_pre, oc.temp_c, oc.restart)
                    if charging:
                        self.oc_ran = True
                    if not oc.restart:
                        self.rec_t = t + self.recovery_after_s
                elif asleep_before and not charging and t - la >= self._asleep_after:
                    # a lone dip in a sleeping car: a start only if the car turns out to be awake
                    self.pending_dip = CrankEvent(t, vmin, pre, temp)
                    return self._quiet(t, la)
                else:
                    if oc is not None:
                        # the previous attempt is still open: no charging came before this one
                        self.crank_out = CrankEvent(oc.t, oc.v_min, oc.v_pre, oc.temp_c, oc.restart, True)
                    restart = (
                        was == RUNNING and self.d_start is not None and self.d_charged
                        and t - self.last_charge <= c.restart_window_s
                    )
                    self._start(t, CrankEvent(t, vmin, pre, temp, restart), charging)
                    self.prev_v = v
                    self.prev_t = t
                    self.last_activity = t
                    if charging:
                        self.last_charge = t
                    self.state = CRANKING
                    return CRANKING
        pd = self.pending_dip
        if pd is not None:
            if t - pd.t > c.crank_confirm_s:
                self.pending_dip = None  # nothing followed: it was a glitch
            elif activity:
                self.pending_dip = None
                self._start(pd.t, pd, False)
                was = RUNNING
        self.prev_v = v
        self.prev_t = t
        if activity:
            self.last_activity = la = t
        if charging:
            self.last_charge = t
            if self.open_crank is not None:
                self.oc_ran = True
            if self.d_start is None:
                # running without a start seen (the log began mid-drive, or a charger)
                self._open_drive(t)
                self.d_charged = True
            state = RUNNING
        elif t - la < self._asleep_after:
            if (was == RUNNING or was == CRANKING) and (
                not self.d_charged or t - self.last_charge < self._run_exit
            ):
                state = RUNNING
            else:
                state = AWAKE
        else:
            state = RESTING if t - la >= self._rest_min else ASLEEP
        if state >= AWAKE:
            if asleep_before:
                self.woke = True
            if t >= self.rec_t:
                # the post-start voltage: the first reading this long after the start, if the
                # engine is still deemed running then
                self.rec_t = NOT_DUE
                if state == RUNNING and self.d_start is not None:
                    self.d_recovery = v
            if self.d_start is not None and state != AWAKE and t - self.d_start >= self.post_start_s:
                if dt <= 0.0:
                    dt = t - self.d_last if self.d_last else 0.0
                    if dt > self.max_dt:
                        dt = self.max_dt
                self.d_sum += v * dt
                self.d_dt += dt
                if vmax > self.d_max:
                    self.d_max = vmax
                if vmax > v or dt <= self.peak_window_s:
                    self.d_peak_s += dt
                    if vmax > self.d_peak_v:
                        self.d_peak_v = vmax
                if charging:
                    self.d_charged = True
                    self.snap = (self.d_sum, self.d_dt, self.d_max, t)
                    self.peak_snap = (self.d_peak_s, self.d_peak_v)
                if v - vmin >= self._dip_v:  # loads switching: the engine still runs
                    self.act_snap = (self.d_sum, self.d_dt, self.d_max, t)
                    self.act_peak_snap = (self.d_peak_s, self.d_peak_v)
            if state != AWAKE:
                self.d_last = t
        elif self.d_start is not None:
            self._close_drive()
        self.state = state
        return state

    def _quiet(self, t: float, la: float) -> int:
        state = RESTING if t - la >= self.cfg.rest_min_s else ASLEEP
        self.state = state
        return state

    def _start(self, t: float, ev: CrankEvent, charging: bool) -> None:
        self.open_crank = ev
        self.oc_ran = charging  # a window that holds the start may already show the engine charging
        if ev.restart:
            return  # the engine was running a moment ago: the same drive goes on
        self.rec_t = t + self.recovery_after_s
        if self.d_start is not None:
            self._close_drive()
        self._open_drive(t)

    def _open_drive(self, t: float) -> None:
        self.d_start = t
        self.d_sum = self.d_dt = self.d_max = 0.0
        self.d_last = t
        self.d_charged = False
        self.d_peak_s = self.d_peak_v = 0.0
        self.d_recovery = None
        self.snap = (0.0, 0.0, 0.0, t)
        self.act_snap = (0.0, 0.0, 0.0, t)
        self.peak_snap = self.act_peak_snap = (0.0, 0.0)

    def _close_drive(self) -> None:
        start = self.d_start
        assert start is not None
        self.d_start = None
        # the drive ends with the last sign of the engine: charging, or (with a dead
        # alternator) the last load activity; quiet readings after it were the car parked
        s, dt, vmax, end = self.snap if self.d_charged else self.act_snap
        peak_s, peak_v = self.peak_snap if self.d_charged else self.act_peak_snap
        if dt > 0.0:
            self.drive_out = Drive(start, end, end - start, s / dt, vmax, self.d_charged, self.d_recovery,
                                   peak_s, peak_v)

    def _data_gap(self) -> None:
        oc = self.open_crank
        if oc is not None:
            self.crank_out = oc  # its outcome is unknown: judged on its voltage alone
            self.open_crank = None
        self.pending_dip = None
        self.rec_t = NOT_DUE
        if self.d_start is not None:
            self._close_drive()
        self.prev_v = None
        self.state = AWAKE

    def end(self) -> None:
        """The data end for good: a start still open is handed on (judged on its voltage) and
        an open drive closed at its last sign of the engine, as at a gap in the data."""
        if self.d_start is not None or self.open_crank is not None:
            self._data_gap()
        self.pending_dip = None  # a lone dip nothing confirmed

    def settle(self, t: float) -> CrankEvent | None:
        """At data time ``t`` with no reading (a tick): the open start, if its time is up."""
        oc = self.open_crank
        if oc is not None and t - oc.t > self.merge_s and (self.oc_ran or oc.restart or t - oc.t > self.failed_s):
            self.open_crank = None
            return oc
        return None

    def link_gap(self) -> None:
        """No data for a while: forget the step reference (the next reading stands alone)."""
        self.prev_v = None

    # -- persistence ---------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        return {
            "state": self.state, "last_activity": self.last_activity, "last_charge": self.last_charge,
            "prev_v": self.prev_v, "prev_t": self.prev_t, "d_start": self.d_start,
            "d": [self.d_sum, self.d_dt, self.d_max, self.d_last, self.d_charged, list(self.snap), list(self.act_snap)],
            "pending_dip": _crank_list(self.pending_dip),
            "open_crank": _crank_list(self.open_crank),
            "oc_ran": self.oc_ran, "rec_t": self.rec_t, "d_recovery": self.d_recovery,
            "d_peak": [self.d_peak_s, self.d_peak_v, *self.peak_snap, *self.act_peak_snap],
        }

    def load(self, d: dict[str, Any]) -> None:
        self.state = int(d["state"])
        self.last_activity = d["last_activity"]
        self.last_charge = float(d["last_charge"])
        self.prev_v = d["prev_v"]
        self.prev_t = float(d["prev_t"])
        self.d_start = d["d_start"]
        s, dt, vmax, last, charged, snap, act = d["d"]
        self.d_sum, self.d_dt, self.d_max, self.d_last = float(s), float(dt), float(vmax), float(last)
        self.d_charged = bool(charged)
        # saved before it existed: the drive so far as seen at peak resolution, as judged then
        pk = [float(x) for x in d.get("d_peak", [self.d_dt, self.d_max, snap[1], snap[2], act[1], act[2]])]
        self.d_peak_s, self.d_peak_v = pk[0], pk[1]
        self.peak_snap = (pk[2], pk[3])
        self.act_peak_snap = (pk[4], pk[5])
        self.snap = (float(snap[0]), float(snap[1]), float(snap[2]), float(snap[3]))
        self.act_snap = (float(act[0]), float(act[1]), float(act[2]), float(act[3]))
        self.pending_dip = _crank_of(d.get("pending_dip"))
        self.open_crank = _crank_of(d.get("open_crank"))
        # saved before these existed: nothing was pending
        self.oc_ran = bool(d.get("oc_ran", True))
        self.rec_t = float(d.get("rec_t", NOT_DUE))
        rec = d.get("d_recovery")
        self.d_recovery = None if rec is None else float(rec)


def _crank_list(c: CrankEvent | None) -> list[float | None] | None:
    return None if c is None else [c.t, c.v_min, c.v_pre, c.temp_c, float(c.restart), float(c.failed)]


def _crank_of(d: list[float | None] | None) -> CrankEvent | None:
    if d is None:
        return None
    t, v_min, v_pre, temp = d[:4]
    assert t is not None and v_min is not None
    flags = d[4:]
    restart = bool(flags[0]) if flags else False
    failed = bool(flags[1]) if len(flags) > 1 else False
    return CrankEvent(float(t), float(v_min), v_pre, temp, restart, failed)
