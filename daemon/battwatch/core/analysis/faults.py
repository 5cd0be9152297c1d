"""Sensor faults per channel: open wire, out of range, loose contact, stuck, silent (pure)."""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from battwatch.analysis_config import SensorConfig
from battwatch.core.analysis import messages as msg
from battwatch.core.analysis.engine import NONE, WARNING, AlertEngine, Slot

OPEN: Final = "open"
RANGE: Final = "range"
LOOSE: Final = "loose"
STUCK: Final = "stuck"
SILENT: Final = "silent"
RUN_CHECK_S: Final = 300.0  # an identical run of average-only rows is looked at this often
NO_STEP: Final = 1e9  # the resolution of a channel that never changed value
RUNNING: Final = 4  # state.RUNNING (the analyzer passes states as numbers)


class ChannelWatch:
    """Judges the plausibility of one channel and owns its ``sensor_fault`` alert.

    ``check`` returns whether a reading may feed the battery rules: a reading touching 0 V or
    beyond the physical range is never used, and nothing is used while a fault is active.
    A fault needs persistent evidence (``fault_for_s`` and ``fault_for_n`` readings, or
    ``loose_count`` touches within ``loose_window_s``, or ``stuck_for_s`` of identical
    noiseless windows), so one glitch raises nothing. It clears after ``clear_after_s`` of
    clean readings.

    Rows without window extremes have no noise to judge: there the analyzer follows runs of
    identical values (``new_run``) and asks ``judge_run`` every few minutes of a run whether
    something happened that must have moved a real reading (docs/analysis.md §3).
    """

    __slots__ = (
        "battery", "cfg", "engine", "slot", "open_v", "max_v", "lo_v", "active", "streak_kind",
        "streak_since", "streak_n", "streak_touches", "touches", "stuck_v", "stuck_since", "stuck_n", "has_spread",
        "clean_since", "last_t", "seen", "last_v", "partial_t", "quiet", "why",
        "run_v", "run_since", "run_n", "run_check", "run_tmin", "run_tmax", "run_rested", "run_charging",
        "step", "temp_k", "partner", "first_sign",
    )

    def __init__(
        self, battery: str, open_v: float, max_v: float, cfg: SensorConfig, engine: AlertEngine,
        temp_k: float = 0.0,
    ) -> None:
        from battwatch.analysis_config import Debounce

        self.battery = battery
        self.cfg = cfg
        self.engine = engine
        self.slot: Slot = engine.slot(battery, "sensor_fault", Debounce())
        self.open_v = open_v
        self.max_v = max_v
        self.lo_v = cfg.negative_v  # below this: reversed or offset, not merely open
        self.active: str | None = None
        self.streak_kind: str | None = None
        self.streak_since = 0.0
        self.streak_n = 0
        self.streak_touches = 0  # readings of the current streak that touched 0 V
        self.touches: deque[float] = deque()
        self.stuck_v: float | None = None
        self.stuck_since = 0.0
        self.stuck_n = 0
        self.has_spread = False  # the source reports real window extremes (not one sample per row)
        self.clean_since: float | None = None
        self.last_t: float | None = None
        self.seen = False
        self.last_v: float | None = None
        self.partial_t = -1e18
        self.quiet = False  # nothing pending: the analyzer may take its fast path
        self.why = ""  # what showed an average-only channel frozen (for the message)
        # the current run of identical values in average-only rows
        self.run_v = -1.0
        self.run_since = 0.0
        self.run_n = 0
        self.run_check = 0.0
        self.run_tmin = 1e9
        self.run_tmax = -1e9
        self.run_rested = False  # the run covered a rested reading ...
        self.run_charging = -1.0  # ... and has been charging since (the car running), or -1
        self.step = NO_STEP  # the finest change between consecutive values: the resolution
        self.temp_k = temp_k  # a real rested reading moves this much per °C (0: no such rule)
        self.partner: ChannelWatch | None = None  # the other channel of the same ADC
        # the start of the active fault's evidence: readings from then on are not to be trusted
        # (a frozen average-only channel fed the rules until it was found out)
        self.first_sign: float | None = None

    def check(self, t: float, t0: float, v: float, vmin: float, vmax: float) -> bool:
        """Judge one reading; True when the battery rules may use it.

        The analyzer skips this call for a plausible reading while ``quiet`` is set (no
        fault, nothing pending): see ``BatteryAnalyzer.feed``.
        """
        ok = self._check(t, t0, v, vmin, vmax)
        self.quiet = self._is_quiet()
        return ok

    def _is_quiet(self) -> bool:
        return (
            self.active is None and self.streak_kind is None and not self.touches
            and (self.stuck_n == 0 or not self.has_spread)
        )

    def _check(self, t: float, t0: float, v: float, vmin: float, vmax: float) -> bool:
        self.seen = True
        self.last_t = t
        touches = self.touches
        while touches and t - touches[0] > self.cfg.loose_window_s:
            touches.popleft()
        cfg = self.cfg
        open_v = self.open_v
        kind: str | None = None
        if v < open_v:
            kind = RANGE if v < self.lo_v else OPEN
        elif v > self.max_v:
            kind = RANGE
        suspect = kind is not None or vmin < open_v or vmax > self.max_v
        # -- open / out of range: persistent -----------------------------------------------
        if kind is not None:
            if self.streak_kind != kind:
                self.streak_kind = kind
                self.streak_since = t0
                self.streak_n = 0
                self.streak_touches = 0
            self.streak_n += 1
            if vmin < open_v:
                self.streak_touches += 1
        elif self.streak_kind is not None:
            self.streak_kind = None
        # -- loose contact: repeated touches of 0 V -----------------------------------------
        if vmin < open_v:
            if kind is None:
                self.partial_t = t  # the average is fine but some samples touched 0 V
            touches.append(t)
        # -- stuck: identical, noiseless windows ------------------------------------------------
        stuck = False
        if vmin == vmax:
            if not self.has_spread:
                # average-only rows: frozen is judged on runs (judge_run); a frozen value that
                # was raised stays suspect while it repeats
                stuck = self.active == STUCK and v == self.stuck_v
            elif v == self.stuck_v:
                self.stuck_n += 1
                stuck = self.stuck_n >= 2
            else:
                self.stuck_v = v
                self.stuck_since = t0
                self.stuck_n = 1
        else:
            self.has_spread = True
            self.stuck_v = None
            self.stuck_n = 0
        self.last_v = v
        if self.active is None:
            if not suspect and not stuck:
                return True
            found = self._verdict(t)
            if found is not None:
                self._raise(t, found, v)
            return False
        # a fault is active: wait for clean data
        if suspect or stuck:
            self.clean_since = None
            if kind is None and self.active == OPEN:
                self.active = LOOSE  # it makes contact again now and then: loose, not open
            elif self.active in (LOOSE, SILENT):
                found = self._verdict(t)
                if found is not None and found != self.active:
                    self.active = found  # e.g. a loose contact that came off for good
            return False
        if self.clean_since is None:
            self.clean_since = t  # counted from the end of the first clean reading
        need = cfg.loose_clear_after_s if self.active == LOOSE else cfg.clear_after_s
        if t - self.clean_since >= need:
            self.active = None
            self.clean_since = None
            self.first_sign = None
            self.engine.force(self.slot, t, NONE, v, msg.sensor_fault, {"battery": self.battery, "v": v})
            return True
        return False

    def _verdict(self, t: float) -> str | None:
        cfg = self.cfg
        k = self.streak_kind
        n = len(self.touches)
        # an intermittent contact: some readings were only partly at 0 V, or the channel came
        # back between touches (touches outside the current streak)
        intermittent = t - self.partial_t <= cfg.loose_window_s or (
            n > (self.streak_touches if k is not None else 0))
        if n >= cfg.loose_count and intermittent:
            return LOOSE
        if k is not None and self.streak_n >= cfg.fault_for_n and t - self.streak_since >= cfg.fault_for_s:
            if k != OPEN or t - self.streak_since >= cfg.open_for_s:
                return k
            return None  # 0 V for minutes: an open wire, or a loose contact about to come back
        if self.stuck_n >= cfg.stuck_min_n and t - self.stuck_since >= cfg.stuck_for_s:
            return STUCK
        return None

    # -- average-only rows: runs of identical values ----------------------------------------------
    def new_run(self, t0: float, v: float, state: int) -> None:
        """A value different from the last one starts a run (average-only rows, hot path)."""
        d = v - self.run_v
        if d < 0.0:
            d = -d
        if self.run_n > 0 and 0.0 < d < self.step:
            self.step = d
        self.run_v = v
        self.run_since = t0
        self.run_n = 1
        self.run_check = t0 + RUN_CHECK_S
        self.run_tmin = 1e9
        self.run_tmax = -1e9
        self.run_rested = False
        self.run_charging = t0 if state == RUNNING else -1.0

    def judge_run(self, t: float, temp: float | None, state: int, rested: bool, charging_ok: bool) -> None:
        """Every few minutes of a run of identical values: did anything happen that must have
        moved a real reading? ``rested``: the car has been asleep long enough for a rested SOS
        reading; ``charging_ok``: the state comes from a healthy 12 V channel."""
        cfg = self.cfg
        self.run_check = t + RUN_CHECK_S
        if temp is not None:
            if temp < self.run_tmin:
                self.run_tmin = temp
            if temp > self.run_tmax:
                self.run_tmax = temp
        if rested:
            self.run_rested = True
        if state == RUNNING and charging_ok:
            if self.run_charging < 0.0:
                self.run_charging = t
        else:
            self.run_charging = -1.0
        if self.active is not None or self.run_n < cfg.stuck_min_n:
            return
        fine = self.step <= cfg.stuck_fine_step_v
        why = ""
        if self.battery == "main":
            if fine and self.run_charging >= 0.0 and t - self.run_charging >= cfg.stuck_running_s:
                why = "while the engine ran and the alternator charged, which always moves a real reading"
            elif self.temp_k > 0.0 and self.run_tmax > self.run_tmin and t - self.run_since >= cfg.stuck_for_s:
                move = self.temp_k * (self.run_tmax - self.run_tmin)
                if move >= cfg.stuck_min_move_v and move >= cfg.stuck_expect_steps * self.step:
                    why = (f"while the battery's temperature went between {self.run_tmin:.1f} and "
                           f"{self.run_tmax:.1f} °C, which moves a real battery by about {move * 1000.0:.0f} mV")
        elif fine and self.run_rested and self.run_charging >= 0.0 and t - self.run_since >= cfg.stuck_for_s:
            why = "both while the car slept and while it charged the pack, which reads 0.1-0.4 V higher on charge"
        if why:
            self.freeze(t, why)

    def freeze(self, t: float, why: str) -> None:
        """Raise this channel's run as a frozen value. The other channel, if it has repeated
        one value since about the same moment (or longer) through what showed this one frozen,
        comes from the same ADC: frozen too."""
        self.stuck_v = self.run_v
        self.stuck_since = self.run_since
        self.why = why
        self._raise(t, STUCK, self.run_v)
        p = self.partner
        cfg = self.cfg
        if (
            p is not None and p.active is None and not p.has_spread and p.run_n >= cfg.stuck_min_n
            and t - p.run_since >= cfg.stuck_for_s and p.run_since <= self.run_since + cfg.stuck_same_start_s
        ):
            other = msg.CHANNEL_NAMES[self.battery]
            p.freeze(t, f"through the same hours as the {other} channel, which is frozen too")

    def _raise(self, t: float, kind: str, v: float | None, **extra: Any) -> None:
        if kind == STUCK:
            first = self.stuck_since
        elif kind == SILENT:
            first = float(extra.get("last_t", t))
        elif kind == LOOSE:
            first = self.touches[0] if self.touches else t
        else:
            first = self.streak_since
        self.first_sign = min(first, t)
        self.active = kind
        self.quiet = False
        self.clean_since = None
        ctx: dict[str, Any] = {"battery": self.battery, "kind": kind, "v": v, "limit": self.open_v,
                               "lo": 0.0, "hi": self.max_v, "count": len(self.touches),
                               "window_h": self.cfg.loose_window_s / 3600.0,
                               "hours": (t - self.stuck_since) / 3600.0,
                               "why": self.why if kind == STUCK and not self.has_spread else ""}
        ctx.update(extra)
        self.engine.force(self.slot, t, WARNING, v, msg.sensor_fault, ctx)
        self.engine.hold(self.battery)

    def silent(self, t: float, last_t: float, reason: str, expected: bool = False) -> None:
        """No data since ``last_t``: a silent channel (only if it ever delivered data, or is
        ``expected`` to)."""
        if not (self.seen or expected):
            return
        if self.active is None:
            self._raise(t, SILENT, None, last_t=last_t, reason=reason)
        self.clean_since = None
        self.quiet = False
        # the next reading starts a fresh stuck/streak count
        self.stuck_v = None
        self.stuck_n = 0
        self.run_v = -1.0
        self.run_n = 0

    def shift(self, delta_s: float) -> None:
        """The wall clock stepped: move this channel's timers with it."""
        if self.last_t is not None:
            self.last_t += delta_s
        if self.first_sign is not None:
            self.first_sign += delta_s
        self.run_since += delta_s
        self.run_check += delta_s
        if self.run_charging >= 0.0:
            self.run_charging += delta_s

    @property
    def faulted(self) -> bool:
        return self.active is not None

    # -- persistence ---------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        return {
            "active": self.active, "has_spread": self.has_spread, "seen": self.seen, "last_t": self.last_t,
            "clean_since": self.clean_since, "touches": list(self.touches)[-50:], "partial_t": self.partial_t,
            "streak": [self.streak_kind, self.streak_since, self.streak_n, self.streak_touches],
            "stuck": [self.stuck_v, self.stuck_since, self.stuck_n], "last_v": self.last_v,
            "why": self.why, "step": self.step, "first_sign": self.first_sign,
            "run": [self.run_v, self.run_since, self.run_n, self.run_check, self.run_tmin, self.run_tmax,
                    self.run_rested, self.run_charging],
        }

    def load(self, d: dict[str, Any]) -> None:
        self.active = d["active"]
        self.has_spread = bool(d["has_spread"])
        self.seen = bool(d["seen"])
        self.last_t = d["last_t"]
        self.clean_since = d["clean_since"]
        self.touches = deque(float(x) for x in d["touches"])
        self.partial_t = float(d["partial_t"])
        streak = list(d["streak"]) + [0]  # states saved before streak_touches existed have three
        self.streak_kind, self.streak_since, self.streak_n, self.streak_touches = streak[:4]
        self.stuck_v, self.stuck_since, self.stuck_n = d["stuck"]
        self.last_v = d["last_v"]
        # states saved before average-only runs were followed lack these: a fresh run
        self.why = str(d.get("why", ""))
        self.step = float(d.get("step", NO_STEP))
        fs = d.get("first_sign")  # saved before it existed: unknown
        self.first_sign = None if fs is None else float(fs)
        (self.run_v, self.run_since, self.run_n, self.run_check, self.run_tmin, self.run_tmax,
         self.run_rested, self.run_charging) = d.get("run", [-1.0, 0.0, 0, 0.0, 1e9, -1e9, False, -1.0])
        self.run_n = int(self.run_n)
        self.run_rested = bool(self.run_rested)
        self.quiet = self.seen and self._is_quiet()  # as after the last reading: a restart takes the same path
