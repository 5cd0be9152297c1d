"""The SOS pack's step rule: a sudden fall against like-for-like readings, in any vehicle state (pure)."""

from __future__ import annotations

import math
from typing import Any, Final

from battwatch.analysis_config import CellLimits, SosStep
from battwatch.core.analysis import messages as msg
from battwatch.core.analysis.engine import CRITICAL, NONE, WARNING, AlertEngine, Slot
from battwatch.core.analysis.trend import median

RING_S: Final = 300.0  # one value per 5 min is kept per kind of reading
RING_LEN: Final = 48  # 4 h of them [ENG]
# The kinds of reading compared like with like. The pack reads differently in each: rested
# (the open-circuit voltage), asleep but still relaxing from the last charge, awake (the
# telematics unit powered: on charge or not, depending on the car) and running (on charge).
RESTED: Final = 0
RELAXING: Final = 1
AWAKE: Final = 2
RUNNING: Final = 3
# Without a 12 V channel the pack's own voltage tells only on charge from off charge: readings
# off charge (settled after the last charge) are their own kind, compared within their stretch.
OWN: Final = 4
KINDS: Final = 5
KIND_WORDS: Final = ("with the car asleep", "with the car asleep", "with the car awake", "with the engine running",
                     "off charge")


class StepRule:
    """``step_drop``: a fall of the pack against the readings of the same kind just before it.

    Rested readings are judged as before (docs/analysis.md §5): against the rested level of the
    last ``window_s``, or the last rested values before a drive, at warning and critical size.
    Every other kind is compared with its own readings of this stretch within
    ``fast_window_s`` and with the last rested level (charging and relaxation only add to it),
    and only a fall of about one cell counts (critical): over minutes, relaxation after a
    charge and temperature move a pack by a fraction of that, a shorted cell by a whole cell.

    A step opens an *episode*: the level before it is kept for every kind of reading that had
    one (rested: within ``max_gap_s``; running: its last values within ``max_gap_s``, since the
    on-charge level hardly depends on the charge; awake and relaxing: only when recent). Later
    readings are judged against the level of their own kind, so a drive after the step
    confirms it with on-charge readings instead of contradicting it with a rested reference.
    The alert clears only when a reading is back within ``clear_margin_v`` of its kind's level.
    """

    def __init__(self, cfg: SosStep, lim: CellLimits, engine: AlertEngine) -> None:
        self.cfg = cfg
        self.lim = lim
        self.engine = engine
        self.slot: Slot = engine.slot("sos", "step_drop", cfg.debounce, refresh=False)
        # each kind's entries as two plain lists of times and values, of which ring() gives the
        # last RING_LEN: compiled, an entry costs two appends (a deque of tuples cost a method
        # call and a tuple more, every reading)
        self.ring_t: list[list[float]] = [[] for _ in range(KINDS)]
        self.ring_v: list[list[float]] = [[] for _ in range(KINDS)]
        # the newest ring entry of each kind as plain floats, read on every reading
        self.last_t = [-math.inf] * KINDS
        self.last_v = [-math.inf] * KINDS
        # the episode: the level before the step, per kind (None: nothing to compare with);
        # None while there is no step
        self.ep: list[float | None] | None = None
        self.ep_kind = RESTED  # the kind of reading that saw the step
        self.kind_was = RESTED  # the kind of the reading before
        self.stretch_t = -math.inf  # when the current stretch of readings of one kind began
        self.floor_used = False  # the last reference was the rested level (for the words)
        self.ep_src = [False] * KINDS  # the episode's level of each kind is the rested one
        # cheap pre-checks (rested, others) and the gap a rested level stays good for, as
        # attributes: read on every reading, no tuple or configuration look-up
        self.pre_rested: float = 0.5 * lim.step_warn_v
        self.pre_other: float = 0.5 * lim.step_crit_v
        self.max_gap_s: float = cfg.max_gap_s
        self.cells = 1
        self.chem = ""
        self.ref_c: float | None = None  # the temperature rested values were brought to

    def feed(self, t: float, t0: float, v: float, kind: int) -> None:
        """One reading of ``kind``; O(1) unless it falls by half a step or a step is open."""
        was = self.kind_was
        if kind != was:
            self.kind_was = kind
            self.stretch_t = t
        if self.ep is None and not self.slot.busy:
            if kind == RESTED:
                high = self.last_v[RESTED] - self.pre_rested
            else:
                # against its own kind, and the rested level while that is recent
                high = self.last_v[kind]
                if self.last_v[RESTED] > high and t - self.last_t[RESTED] <= self.max_gap_s:
                    high = self.last_v[RESTED]
                high -= self.pre_other
            if v > high:  # the common case (an empty ring's -inf passes too)
                if t - self.last_t[kind] >= RING_S:
                    self._add(kind, t, v)
                return
            self._open(t, t0, v, kind)
        else:
            if kind != was and self.ep is not None:
                # relaxing and awake readings are alike only within one stretch (before and
                # after a drive the pack reads differently: charged, or on charge while
                # awake); across stretches the rested level before the step stays a floor
                self.ep[RELAXING] = self.ep[AWAKE] = self.ep[RESTED]
                self.ep_src[RELAXING] = self.ep_src[AWAKE] = True
            self._judge(t, t0, v, kind)
        if t - self.last_t[kind] >= RING_S:
            self._add(kind, t, v)

    def interrupt(self) -> None:
        """Readings that are not compared (the pack on charge, seen without a 12 V channel) came
        between: the next reading starts a new stretch."""
        self.kind_was = -1

    def _add(self, kind: int, t: float, v: float) -> None:
        rt = self.ring_t[kind]
        rv = self.ring_v[kind]
        rt.append(t)
        rv.append(v)
        if len(rt) >= 2 * RING_LEN:  # the older half goes at once: O(1) a reading on average
            del rt[:RING_LEN]
            del rv[:RING_LEN]
        self.last_t[kind] = t
        self.last_v[kind] = v

    def ring(self, kind: int) -> list[tuple[float, float]]:
        """The (t, V) of the last RING_LEN entries of ``kind``, oldest first."""
        return list(zip(self.ring_t[kind][-RING_LEN:], self.ring_v[kind][-RING_LEN:], strict=True))

    def _set_ring(self, kind: int, pairs: Any) -> None:
        """Fill ``kind``'s entries from saved (t, V) pairs (the last RING_LEN of them are kept)."""
        kept = [(float(a), float(b)) for a, b in pairs][-RING_LEN:]
        self.ring_t[kind] = [a for a, _ in kept]
        self.ring_v[kind] = [b for _, b in kept]

    def reference(self, kind: int, t: float) -> float | None:
        """The level of ``kind`` just before ``t`` (None: nothing to compare with).

        Rested: the median of the last ``window_s``, or of the last rested values within
        ``max_gap_s`` (across a drive). Any other kind: the higher of the median of its own
        values in this stretch within ``fast_window_s`` and the last rested level: charging
        and the relaxation after it only add to the open-circuit voltage, so a healthy pack
        never reads a cell's voltage below its last rested level while the car is in use.
        Running also falls back on the last on-charge values within ``max_gap_s`` (the
        on-charge level hardly depends on the charge).
        """
        ring = self.ring(kind)
        if kind == RESTED:
            if not ring:
                return None
            recent = [v for tt, v in ring if t - tt <= self.cfg.window_s]
            if recent:
                return median(recent)
            if t - ring[-1][0] <= self.cfg.max_gap_s:
                return median([v for _, v in list(ring)[-3:]])
            return None
        since = max(t - self.cfg.fast_window_s, self.stretch_t)
        own = [v for tt, v in ring if tt >= since]
        ref = median(own) if own else None
        if ref is None and kind == RUNNING and ring and t - ring[-1][0] <= self.cfg.max_gap_s:
            ref = median([v for _, v in list(ring)[-3:]])
        floor = self.reference(RESTED, t)
        if floor is not None and (ref is None or floor > ref):
            self.floor_used = True
            return floor
        self.floor_used = False
        return ref

    def _target(self, ref: float, v: float, kind: int) -> int:
        drop = ref - v
        lim = self.lim
        if drop >= lim.step_crit_v:
            return CRITICAL
        if kind == RESTED and drop >= lim.step_warn_v:
            return WARNING
        return NONE

    def _open(self, t: float, t0: float, v: float, kind: int) -> None:
        ref = self.reference(kind, t)
        if ref is None or self._target(ref, v, kind) == NONE:
            return
        src = [False] * KINDS
        src[kind] = kind != RESTED and self.floor_used
        # relaxing and awake levels only hold within their stretch (the one this reading is
        # in); for the others the rested level stands in
        rested = ref if kind == RESTED else self.reference(RESTED, t)
        running = ref if kind == RUNNING else self.reference(RUNNING, t)
        if kind != RUNNING:
            src[RUNNING] = self.floor_used
        self.ep = [ref if k == kind else rested if k != RUNNING else running for k in range(KINDS)]
        for k in (RELAXING, AWAKE):
            if k != kind:
                src[k] = True
        self.ep_src = src
        self.ep_kind = kind
        self._judge(t, t0, v, kind)

    def _judge(self, t: float, t0: float, v: float, kind: int) -> None:
        st = self.slot
        ep = self.ep
        if ep is None:  # a pending step whose episode was lost (an old saved state): start afresh
            st.reset_pending()
            return
        ref = ep[kind]
        if ref is None:
            return  # no reading of this kind before the step: it says nothing either way
        if st.level == NONE:
            target = self._target(ref, v, kind)
            if target == NONE and self.ep_src[kind] and v < ref - self.cfg.clear_margin_v:
                # against the rested level a pack in use may still carry its charge's
                # over-voltage, which hides part of a step: only a reading back at that level
                # speaks against it
                return
            if target > st.level:
                # the window in which a cell shorts averages the levels before and after it: a
                # fall first seen at warning size and then whole is one step, raised once at
                # its full severity
                self.engine.carry(st, target)
        elif v >= ref - self.cfg.clear_margin_v:
            target = NONE
        else:
            target = max(st.level, CRITICAL if ref - v >= self.lim.step_crit_v else WARNING)
        if target != st.level or st.busy:
            self.engine.observe(st, t, t0, target, v, msg.step_drop, self._ctx(ref, v, kind))
        if st.level == NONE and not st.busy:
            self.ep = None  # not a step after all, or a new pack: the next fall opens a new episode

    def _ctx(self, ref: float, v: float, kind: int) -> dict[str, Any]:
        return {"ref": ref, "v": v, "cells": self.cells, "chem": self.chem, "warn": self.lim.step_warn_v,
                "margin": self.cfg.clear_margin_v, "like": KIND_WORDS[kind],
                "fast": kind != RESTED, "ref_c": self.ref_c if kind == RESTED else None,
                "floor": kind != RESTED and self.ep_src[kind]}

    # -- persistence ---------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        return {"rings": [[[a, b] for a, b in self.ring(k)] for k in range(KINDS)], "ep": self.ep, "ep_kind": self.ep_kind,
                "ep_src": self.ep_src, "kind_was": self.kind_was, "stretch_t": self.stretch_t}

    def load(self, d: dict[str, Any]) -> None:
        if "rings" in d:
            for k, ring in enumerate(d["rings"][:KINDS]):
                self._set_ring(k, ring)
            ep = d.get("ep")  # states from before OWN have one kind fewer
            self.ep = None if ep is None else [None if x is None else float(x) for x in ep] + [None] * (KINDS - len(ep))
            self.ep_kind = int(d.get("ep_kind", RESTED))
            src = d.get("ep_src", [])
            self.ep_src = [bool(x) for x in src] + [False] * (KINDS - len(src))
            self.kind_was = int(d.get("kind_was", RESTED))
            self.stretch_t = float(d.get("stretch_t", -math.inf))
        else:  # a state from before the kinds: its rested ring and the level before its step
            self._set_ring(RESTED, d["ring"])
            before = d.get("step_frozen")
            if before is None and self.slot.busy:
                before = d.get("step_ref")
            self.ep = None if before is None else [float(before)] + [None] * (KINDS - 1)
        for k in range(KINDS):
            rt = self.ring_t[k]
            self.last_t[k], self.last_v[k] = (rt[-1], self.ring_v[k][-1]) if rt else (-math.inf, -math.inf)
