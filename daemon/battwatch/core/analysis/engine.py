"""The alert engine: one alert per (battery, kind), debounce, hysteresis, flap damping, reminders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from battwatch.analysis_config import AlertsConfig, Debounce
from battwatch.core.analysis.briefs import Brief, brief
from battwatch.core.model import AlertTransition

NONE: Final = 0
INFO: Final = 1
WARNING: Final = 2
CRITICAL: Final = 3
SEVERITY_NAMES = ("none", "info", "warning", "critical")
SEVERITY_OF = {"info": INFO, "warning": WARNING, "critical": CRITICAL}
MAX_PENDING_REMINDERS: Final = 100
NEVER: Final = float("inf")

# message(severity, ctx) -> text; severity NONE asks for the "cleared" text
MessageFn = Callable[[int, Any], str]


class Slot:
    """The state of one alert: its level, the pending changes, its recent history."""

    __slots__ = (
        "battery", "alert", "for_s", "for_n", "clear_for_s", "clear_for_n", "renotify_s",
        "level", "since", "level_since", "raised_level", "value", "message", "last_notified",
        "up_since", "up_n", "busy", "down_since", "down_n", "down_max", "history", "flapping",
        "sensor", "down_value", "down_ctx", "refresh", "now_message", "now_value", "now_t", "refresh_at",
        "muted", "brief",
    )

    def __init__(
        self, battery: str, alert: str, d: Debounce, *, crit_for_s: float | None = None,
        renotify_s: float | None = None, refresh: bool = True,
    ) -> None:
        self.battery = battery
        self.alert = alert
        self.for_s = (0.0, d.for_s, d.for_s, d.for_s if crit_for_s is None else crit_for_s)
        self.for_n = d.for_n
        self.clear_for_s = d.clear_for_s
        self.clear_for_n = d.clear_for_n
        self.renotify_s = renotify_s  # None: the engine's per-severity periods
        self.sensor = alert == "sensor_fault"
        # verdicts are ignored: the readings cannot belong to the configured battery
        # (config_mismatch), so nothing they say is about this battery
        self.muted = False
        self.level = NONE
        self.since = 0.0  # when it was raised (from no alert)
        self.level_since = 0.0  # when it reached its current severity
        self.raised_level = NONE  # the severity it was raised at
        self.value: float | None = None
        self.message = ""
        self.last_notified = 0.0
        self.up_since: list[float | None] = [None, None, None, None]
        self.up_n = [0, 0, 0, 0]
        self.busy = False  # some escalation or clearing is pending
        self.down_since: float | None = None
        self.down_n = 0
        self.down_max = NONE
        self.history: list[float] = []
        self.flapping = False
        # the verdict a de-escalation goes to (the latest one at ``down_max``): its value and
        # context word the step down, so the message describes the reading that justifies it
        self.down_value: float | None = None
        self.down_ctx: Any = None
        # the message and value of the latest verdict that still supports the level, for the
        # summary; ``message`` stays the one of the transition (reminders repeat that one).
        # ``refresh`` is False for an alert whose message describes the event that raised it.
        self.refresh = refresh
        self.now_message = ""
        self.now_value: float | None = None
        self.now_t = 0.0
        self.refresh_at = NEVER  # data time from which a verdict refreshes ``now_message``
        self.brief: Brief | None = None  # the short words of the last transition (reminders repeat them)

    def drop_pending_up(self, sev: int) -> None:
        """Forget the evidence gathered towards ``sev`` (and above): it was not a steady state."""
        for k in range(sev, CRITICAL + 1):
            self.up_since[k] = None
            self.up_n[k] = 0
        self.busy = self.down_since is not None or any(x is not None for x in self.up_since)

    def reset_pending(self) -> None:
        self.up_since = [None, None, None, None]
        self.up_n = [0, 0, 0, 0]
        self.down_since = None
        self.down_n = 0
        self.down_max = NONE
        self.down_value = None
        self.down_ctx = None
        self.busy = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level, "since": self.since, "level_since": self.level_since,
            "raised_level": self.raised_level, "value": self.value, "message": self.message,
            "last_notified": self.last_notified, "up_since": self.up_since, "up_n": self.up_n,
            "down_since": self.down_since, "down_n": self.down_n, "down_max": self.down_max,
            "history": self.history, "flapping": self.flapping, "down_value": self.down_value,
            "down_ctx": self.down_ctx, "now_message": self.now_message, "now_value": self.now_value,
            "now_t": self.now_t, "refresh_at": None if self.refresh_at == NEVER else self.refresh_at,
            "brief": None if self.brief is None else [
                self.brief.headline, self.brief.action, self.brief.cost, self.brief.limit],
        }

    def load(self, d: dict[str, Any]) -> None:
        self.level = int(d["level"])
        self.since = float(d["since"])
        # states saved before these existed: the first raise stands in
        self.level_since = float(d.get("level_since", self.since))
        self.raised_level = int(d.get("raised_level", self.level))
        self.value = None if d["value"] is None else float(d["value"])
        self.message = str(d["message"])
        self.last_notified = float(d["last_notified"])
        self.up_since = [None if x is None else float(x) for x in d["up_since"]][:4]
        self.up_n = [int(x) for x in d["up_n"]][:4]
        self.down_since = None if d["down_since"] is None else float(d["down_since"])
        self.down_n = int(d["down_n"])
        self.down_max = int(d["down_max"])
        self.history = [float(x) for x in d["history"]]
        self.flapping = bool(d["flapping"])
        # states saved before these existed: the transition's message is the current one, and
        # a pending step down words itself from the next verdict at its level
        dv = d.get("down_value")
        self.down_value = None if dv is None else float(dv)
        self.down_ctx = d.get("down_ctx")
        self.now_message = str(d.get("now_message", self.message))
        nv = d.get("now_value", self.value)
        self.now_value = None if nv is None else float(nv)
        self.now_t = float(d.get("now_t", self.last_notified))
        ra = d.get("refresh_at", self.now_t)  # missing: refresh at the next supporting verdict
        self.refresh_at = NEVER if ra is None or not self.refresh or self.level == NONE else float(ra)
        self.busy = self.down_since is not None or any(x is not None for x in self.up_since)
        # the reminders' short words (the measured facts are not kept; states saved before
        # this existed: the generic words until the next transition)
        b = d.get("brief")
        if isinstance(b, list) and len(b) == 4:
            self.brief = Brief(str(b[0]), str(b[1]), str(b[2]), None if b[3] is None else float(b[3]))


class AlertEngine:
    """Turns per-rule verdicts ("this alert should be at severity X now") into transitions.

    Semantics (docs/analysis.md "Alert engine"):
    * a raise or an escalation needs the verdict at or above the new severity continuously
      for ``for_s`` seconds of data time and ``for_n`` observations (``immediate`` skips that);
    * a de-escalation or a clear needs the verdict below the current severity for
      ``clear_for_s`` and ``clear_for_n``; hysteresis (separate clear levels) is applied by
      the rules when they compute the verdict;
    * every change is one transition: "raised" with the new severity (up or down), or
      "cleared"; it carries the severity before (``previous``), so its ``change`` tells a
      raise from an escalation or an easing;
    * an alert that was raised or cleared ``flap_max`` times within ``flap_window_s`` is
      flapping: it only goes down after ``flap_hold_s`` of steady verdicts below it;
    * reminders of still-active alerts are not transitions: see ``take_renotifications``.
    """

    def __init__(self, vehicle: str, cfg: AlertsConfig) -> None:
        self.vehicle = vehicle
        self.cfg = cfg
        self.slots: dict[tuple[str, str], Slot] = {}
        self.slot_list: list[Slot] = []  # the slots' values, for the hourly walk (compiled, a list walks faster)
        self.out: list[AlertTransition] = []
        self.renotifications: list[AlertTransition] = []
        self._renotify = (0.0, 0.0, cfg.renotify_warning_s, cfg.renotify_critical_s)

    def slot(
        self, battery: str, alert: str, debounce: Debounce, *, crit_for_s: float | None = None,
        renotify_s: float | None = None, refresh: bool = True,
    ) -> Slot:
        s = Slot(battery, alert, debounce, crit_for_s=crit_for_s, renotify_s=renotify_s, refresh=refresh)
        self.slots[(battery, alert)] = s
        self.slot_list = list(self.slots.values())
        return s

    # -- verdicts ------------------------------------------------------------------------------
    def observe(
        self, s: Slot, t: float, t0: float, target: int, value: float | None, message: MessageFn,
        ctx: Any = None, *, immediate: bool = False,
    ) -> None:
        """One verdict for alert ``s``: it should be at ``target`` now, on evidence since ``t0``."""
        if s.muted:
            return
        level = s.level
        if t >= s.refresh_at and target >= level:
            # the verdict still supports the level (or a higher one being confirmed): its words
            # become the summary's current message, at most once per ``message_refresh_s``
            self._refresh(s, t, value, message, ctx)
        if target == level and not s.busy:
            return
        up_since = s.up_since
        up_n = s.up_n
        # track how long each severity above the current one has been supported
        pending_up = False
        for sev in (INFO, WARNING, CRITICAL):
            if sev <= level:
                continue
            if sev <= target:
                if up_since[sev] is None:
                    up_since[sev] = t0
                    up_n[sev] = 0
                up_n[sev] += 1
                pending_up = True
            else:
                up_since[sev] = None
                up_n[sev] = 0
        if target > level:
            s.down_since = None
            s.down_n = 0
            s.down_max = NONE
            for sev in range(target, level, -1):
                since = up_since[sev]
                assert since is not None
                if immediate or (t - since >= s.for_s[sev] and up_n[sev] >= s.for_n):
                    self._change(s, t, sev, value, message, ctx)
                    return
            s.busy = True
            return
        if target < level:
            if s.down_since is None:
                s.down_since = t0
                s.down_n = 0
                s.down_max = target
            s.down_n += 1
            if target >= s.down_max:
                s.down_max = target
                s.down_value = value
                s.down_ctx = ctx
            need_s = s.clear_for_s
            if s.flapping and self.cfg.flap_hold_s > need_s:
                need_s = self.cfg.flap_hold_s
            if t - s.down_since >= need_s and s.down_n >= s.clear_for_n:
                # worded from the verdict at the level it goes to, not from the latest one
                # (which may be lower still: "below the warning level" at a reading above it)
                self._change(s, t, s.down_max, s.down_value, message, s.down_ctx)
                return
            s.busy = True
            return
        # target == level: nothing goes down; escalations above stay reset
        s.down_since = None
        s.down_n = 0
        s.down_max = NONE
        s.busy = pending_up

    def _change(self, s: Slot, t: float, new: int, value: float | None, message: MessageFn, ctx: Any) -> None:
        old = s.level
        if old == NONE or new == NONE:
            # flapping counts on/off toggles; a severity change within an episode is not one
            hist = s.history
            hist.append(t)
            cfg = self.cfg
            if len(hist) > cfg.flap_max:
                del hist[0]
            if len(hist) >= cfg.flap_max and t - hist[0] <= cfg.flap_window_s:
                s.flapping = True
            elif new == NONE:
                s.flapping = False
        text = message(new, ctx)
        if s.flapping and new != NONE:
            text += self._flap_note(s, t)
        words = brief(s.battery, s.alert, new, ctx)
        s.brief = words
        if self.renotifications:
            # a reminder not yet taken is stale now: sent after this transition, it would put
            # the old state back on the retained alert topic
            self.renotifications = [r for r in self.renotifications
                                    if r.battery != s.battery or r.alert != s.alert]
        s.level = new
        s.value = None if value is None else round(value, 4)
        s.message = text
        s.now_message = text
        s.now_value = s.value
        s.now_t = t
        s.refresh_at = t + self.cfg.message_refresh_s if new != NONE and s.refresh else NEVER
        s.reset_pending()
        if old == NONE:
            s.since = t
            s.raised_level = new
        if new != old:
            s.level_since = t
        s.last_notified = t
        if new == NONE:
            state = "cleared"
            sev_name = SEVERITY_NAMES[old]
        else:
            state = "raised"
            sev_name = SEVERITY_NAMES[new]
        # the severity before: outputs say "eased" for a step down, never "raised" again
        prev = None if old == NONE else SEVERITY_NAMES[old]
        self.out.append(
            AlertTransition(
                t, self.vehicle, s.battery, s.alert, sev_name, state, s.value, text, prev,  # type: ignore[arg-type]
                headline=words.headline, action=words.action, cost=words.cost, since=s.since,
                limit=words.limit, facts=words.facts,
            )
        )

    def _refresh(self, s: Slot, t: float, value: float | None, message: MessageFn, ctx: Any) -> None:
        """The current words of an active alert, from a verdict that supports its level: the
        summary shows them; no transition, and reminders keep the words of the transition."""
        text = message(s.level, ctx)
        if s.flapping:
            text += self._flap_hold(s)
        s.now_message = text
        s.now_value = None if value is None else round(value, 4)
        s.now_t = t
        s.refresh_at = t + self.cfg.message_refresh_s

    def carry(self, s: Slot, sev: int, not_before: float = -1e18) -> None:
        """The verdict grew to ``sev`` within one event that is still pending (a fall caught
        half-way through a window, then seen whole): date the evidence for ``sev`` from the
        event's first sign, but not before ``not_before``, so the event is raised once at its
        true severity instead of at the lower one first."""
        if sev <= s.level or s.up_since[sev] is not None:
            return
        for lower in range(sev - 1, s.level, -1):
            since = s.up_since[lower]
            if since is not None:
                s.up_since[sev] = max(since, not_before)
                s.up_n[sev] = s.up_n[lower]
                return

    def _flap_note(self, s: Slot, t: float) -> str:
        """What a flapping alert's message adds: that it flaps, and how it is damped."""
        cfg = self.cfg
        n = sum(1 for x in s.history if t - x <= cfg.flap_window_s)
        return (
            f" This alert has been raised or cleared {n} times within {cfg.flap_window_s / 3600.0:.0f} h "
            f"(flapping): the condition sits at its limit, so it now stays raised until it has been "
            f"clear for {self._hold_h(s)} h."
        )

    def _flap_hold(self, s: Slot) -> str:
        """The flapping note of a refreshed message (the count belongs to the raise)."""
        return f" The alert is flapping: it stays raised until it has been clear for {self._hold_h(s)} h."

    def _hold_h(self, s: Slot) -> str:
        return f"{max(self.cfg.flap_hold_s, s.clear_for_s) / 3600.0:.0f}"

    def force(self, s: Slot, t: float, new: int, value: float | None, message: MessageFn, ctx: Any = None) -> None:
        """Change an alert now, bypassing the debounce (sensor faults debounce themselves)."""
        if new != s.level:
            self._change(s, t, new, value, message, ctx)

    def mute(self, battery: str, t: float, on: bool, quiet: bool = False) -> None:
        """The battery's readings do not fit its configuration (``on``), or fit again: its
        alerts (all but sensor_fault and config_mismatch) ignore every verdict meanwhile, and
        those active are withdrawn (cleared, saying why) unless ``quiet`` (a restored state)."""
        for s in self.slots.values():
            if s.battery != battery or s.sensor or s.alert == "config_mismatch":
                continue
            s.muted = on
            if on:
                s.reset_pending()
                if s.level > NONE and not quiet:
                    self._change(s, t, NONE, None, _withdrawn, {"battery": battery, "withdrawn": True})

    def hold(self, battery: str) -> None:
        """A sensor fault: forget the pending changes of the battery's alerts (they stay put)."""
        for s in self.slots.values():
            if s.battery == battery and not s.sensor:
                s.reset_pending()

    # -- reminders -----------------------------------------------------------------------------
    def housekeep(self, t: float) -> None:
        """Queue reminders of alerts still active after their re-notification period."""
        for s in self.slot_list:
            if s.level < WARNING and s.renotify_s is None:
                continue
            if s.level == NONE:
                continue
            period = s.renotify_s if s.renotify_s is not None else self._renotify[s.level]
            if period > 0.0 and t - s.last_notified >= period:
                s.last_notified = t
                if len(self.renotifications) >= MAX_PENDING_REMINDERS:
                    del self.renotifications[0]  # nobody collects them (replay): keep the newest
                words = s.brief if s.brief is not None else brief(s.battery, s.alert, s.level, None)
                self.renotifications.append(
                    AlertTransition(
                        t, self.vehicle, s.battery, s.alert, SEVERITY_NAMES[s.level], "raised",  # type: ignore[arg-type]
                        s.value, f"Reminder, active since {_day(s.since)}: {s.message}",
                        SEVERITY_NAMES[s.level],  # type: ignore[arg-type]
                        headline=words.headline, action=words.action, cost=words.cost, since=s.since,
                        limit=words.limit, facts=words.facts, refreshed=True,
                    )
                )

    def shift(self, delta_s: float) -> None:
        """The wall clock stepped: move every timer with it, so a pending alert neither
        matures in hours that never passed nor waits for hours that did."""
        for s in self.slots.values():
            s.since += delta_s
            s.level_since += delta_s
            s.last_notified += delta_s
            s.now_t += delta_s
            s.refresh_at += delta_s
            s.up_since = [None if x is None else x + delta_s for x in s.up_since]
            if s.down_since is not None:
                s.down_since += delta_s
            s.history = [x + delta_s for x in s.history]

    def take(self) -> list[AlertTransition]:
        out = self.out
        self.out = []
        return out

    def take_renotifications(self) -> list[AlertTransition]:
        out = self.renotifications
        self.renotifications = []
        return out

    def active(self, battery: str) -> list[Slot]:
        return [s for s in self.slots.values() if s.battery == battery and s.level > NONE]

    # -- persistence ---------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        return {
            f"{b}/{a}": s.as_dict()
            for (b, a), s in self.slots.items()
            if s.level > NONE or s.busy or s.history
        }

    def load(self, data: dict[str, Any]) -> None:
        for key, d in data.items():
            battery, _, alert = key.partition("/")
            s = self.slots.get((battery, alert))
            if s is not None:
                s.load(d)


def _withdrawn(sev: int, ctx: Any) -> str:
    name = "12 V battery" if ctx["battery"] == "main" else "SOS backup battery"
    return (f"Withdrawn: the {name} readings do not fit the configured battery (see config_mismatch), "
            f"so they say nothing about it until they do.")


def _day(t: float) -> str:
    from battwatch.core.timefmt import iso_utc

    return iso_utc(t)[:16].replace("T", " ") + " UTC"
