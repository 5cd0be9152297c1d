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
NEGATIVE_V: Final = -0.2  # below this a reading is reversed or offset, not merely open [ENG]


class ChannelWatch:
    """Judges the plausibility of one channel and owns its ``sensor_fault`` alert.

    ``check`` returns whether a reading may feed the battery rules: a reading touching 0 V or
    beyond the physical range is never used, and nothing is used while a fault is active.
    A fault needs persistent evidence (``fault_for_s`` and ``fault_for_n`` readings, or
    ``loose_count`` touches within ``loose_window_s``, or ``stuck_for_s`` of identical
    noiseless windows), so one glitch raises nothing. It clears after ``clear_after_s`` of
    clean readings.
    """

    __slots__ = (
        "battery", "cfg", "engine", "slot", "open_v", "max_v", "lo_v", "active", "streak_kind",
        "streak_since", "streak_n", "streak_touches", "touches", "stuck_v", "stuck_since", "stuck_n", "has_spread",
        "clean_since", "last_t", "seen", "last_v", "partial_t", "quiet",
    )

    def __init__(self, battery: str, open_v: float, max_v: float, cfg: SensorConfig, engine: AlertEngine) -> None:
        from battwatch.analysis_config import Debounce

        self.battery = battery
        self.cfg = cfg
        self.engine = engine
        self.slot: Slot = engine.slot(battery, "sensor_fault", Debounce())
        self.open_v = open_v
        self.max_v = max_v
        self.lo_v = NEGATIVE_V
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

    def check(self, t: float, t0: float, v: float, vmin: float, vmax: float) -> bool:
        """Judge one reading; True when the battery rules may use it.

        The analyzer skips this call for a plausible reading while ``quiet`` is set (no
        fault, nothing pending): see ``BatteryAnalyzer.feed``.
        """
        ok = self._check(t, t0, v, vmin, vmax)
        self.quiet = (
            self.active is None and self.streak_kind is None and not self.touches
            and (self.stuck_n == 0 or not self.has_spread)
        )
        return ok

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
            if v == self.stuck_v and self.has_spread:
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

    def _raise(self, t: float, kind: str, v: float | None, **extra: Any) -> None:
        self.active = kind
        self.quiet = False
        self.clean_since = None
        ctx: dict[str, Any] = {"battery": self.battery, "kind": kind, "v": v, "limit": self.open_v,
                               "lo": 0.0, "hi": self.max_v, "count": len(self.touches),
                               "window_h": self.cfg.loose_window_s / 3600.0,
                               "hours": (t - self.stuck_since) / 3600.0}
        ctx.update(extra)
        self.engine.force(self.slot, t, WARNING, v, msg.sensor_fault, ctx)
        self.engine.hold(self.battery)

    def silent(self, t: float, last_t: float, reason: str) -> None:
        """No data since ``last_t``: a silent channel (only if it ever delivered data)."""
        if not self.seen:
            return
        if self.active is None:
            self._raise(t, SILENT, None, last_t=last_t, reason=reason)
        self.clean_since = None
        self.quiet = False
        # the next reading starts a fresh stuck/streak count
        self.stuck_v = None
        self.stuck_n = 0

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
        }

    def load(self, d: dict[str, Any]) -> None:
        self.active = d["active"]
        self.has_spread = bool(d["has_spread"])
        self.seen = bool(d["seen"])
        self.last_t = d["last_t"]
        self.clean_since = d["clean_since"]
        self.touches = deque(float(x) for x in d["touches"])
        self.partial_t = float(d["partial_t"])
        self.streak_kind, self.streak_since, self.streak_n, self.streak_touches = d["streak"]
        self.stuck_v, self.stuck_since, self.stuck_n = d["stuck"]
        self.last_v = d["last_v"]
        self.quiet = False
