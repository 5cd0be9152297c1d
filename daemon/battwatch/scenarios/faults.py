"""Battery/vehicle faults (physics) and sensor/ADC artefacts (applied to finished windows)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from battwatch.core.model import Reading

FaultKind = Literal[
    "drain", "weak-alternator", "regulator", "load-dump", "shorted-cell", "leaky-pack", "new-pack", "new-battery",
]
ArtefactKind = Literal["spike", "zero", "loose-wire", "open-wire", "stuck", "silent", "out-of-range"]
Channel = Literal["main", "sos", "both"]


@dataclass(frozen=True, slots=True)
class Fault:
    """Something wrong with the car or a battery between two Unix times.

    ``value`` by kind: drain: extra closed-circuit current (A); weak-alternator: the most the
    alternator still delivers (A); regulator: the voltage it holds (V); load-dump: the peak (V)
    of a 1 s spike at ``start``; leaky-pack: self-discharge multiplier; shorted-cell: unused
    (one cell shorts at ``start`` and stays shorted); new-pack / new-battery: unused (a garage
    fits a new backup pack / 12 V battery at ``start``: the plan's parameters, no ageing).
    """

    kind: FaultKind
    start: float
    end: float = math.inf
    value: float = 0.0

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class Artefact:
    """A sensor or ADC problem; the batteries underneath are unaffected.

    spike/zero: the one window containing ``start`` gets a single bad sample (``value`` volts
    for a spike, 0 V for zero). loose-wire: intermittent 0 V contact for windows in
    [start, end). open-wire: the channel reads ~0 V from ``start``. stuck: every channel repeats
    its last good value exactly. silent: no windows at all. out-of-range: the channel reads
    ``value`` volts (e.g. a saturated 25 V).
    """

    kind: ArtefactKind
    channel: Channel
    start: float
    end: float = math.inf
    value: float = 0.0

    def overlaps(self, a: float, b: float) -> bool:
        return a < self.end and b > self.start

    def hits_window(self, a: float, b: float) -> bool:
        """A single-sample artefact falls in the window (a, b]."""
        return a < self.start <= b


Triple = tuple[float | None, float | None, float | None]


def _r(v: float) -> float:
    return round(v, 3)


def _one_sample(ch: Triple, value: float, n_samples: float) -> Triple:
    """One of ``n_samples`` samples read ``value``: it shows in min or max, barely in the mean."""
    avg, lo, hi = ch
    if avg is None or lo is None or hi is None:
        return ch
    avg = _r(avg + (value - avg) / n_samples)
    return avg, _r(min(lo, value, avg)), _r(max(hi, value, avg))


def _loose(ch: Triple, rng: random.Random) -> Triple:
    """A wire losing contact now and then: some samples read about 0 V, sometimes all of them."""
    avg, lo, hi = ch
    if avg is None or hi is None:
        return ch
    x = rng.random()
    if x < 0.4:
        return ch  # contact held for this whole window
    if x < 0.8:
        share = rng.uniform(0.05, 0.6)
        bad = rng.uniform(0.0, 0.05)
        avg = _r(avg * (1.0 - share) + bad * share)
        return avg, _r(min(bad, avg)), hi
    floor = _r(rng.uniform(0.0, 0.15))
    return floor, 0.0, _r(floor + rng.uniform(0.0, 0.1))


def _open(rng: random.Random) -> Triple:
    """An open input with a pull-down: near 0 V with a little pick-up."""
    avg = _r(rng.uniform(0.0, 0.06))
    return avg, 0.0, _r(avg + rng.uniform(0.0, 0.12))


def _level(value: float, rng: random.Random) -> Triple:
    avg = _r(value + rng.gauss(0.0, 0.003))
    return avg, _r(avg - rng.uniform(0.0, 0.01)), _r(avg + rng.uniform(0.0, 0.01))


def apply_artefacts(
    readings: Iterable[Reading], artefacts: tuple[Artefact, ...], rng: random.Random, adc_rate_hz: float
) -> Iterator[Reading]:
    """Pass readings through, altered or dropped where an artefact applies."""
    if not artefacts:
        yield from readings
        return
    held: Reading | None = None  # the last reading before a stuck period
    for r in readings:
        a, b = r.t - r.window_s, r.t
        live = [x for x in artefacts if x.overlaps(a, b) or x.hits_window(a, b)]
        if not live:
            held = r
            yield r
            continue
        if any(x.kind == "silent" and x.start <= b < x.end for x in live):
            continue
        main: Triple = (r.main_v, r.main_min_v, r.main_max_v)
        sos: Triple = (r.sos_v, r.sos_min_v, r.sos_max_v)
        n_samples = max(1.0, r.window_s * adc_rate_hz)
        stuck = False
        for x in live:
            for name in ("main", "sos"):
                if x.channel not in (name, "both"):
                    continue
                ch = main if name == "main" else sos
                if x.kind in ("spike", "zero"):
                    if not x.hits_window(a, b):
                        continue
                    ch = _one_sample(ch, x.value if x.kind == "spike" else 0.0, n_samples)
                elif x.kind == "loose-wire":
                    ch = _loose(ch, rng)
                elif x.kind == "open-wire":
                    ch = _open(rng)
                elif x.kind == "out-of-range":
                    ch = _level(x.value, rng)
                elif x.kind == "stuck" and held is not None:
                    stuck = True
                    v = held.main_v if name == "main" else held.sos_v
                    ch = (v, v, v)
                if name == "main":
                    main = ch
                else:
                    sos = ch
        if not stuck:
            held = r
        yield r._replace(
            main_v=main[0], main_min_v=main[1], main_max_v=main[2],
            sos_v=sos[0], sos_min_v=sos[1], sos_max_v=sos[2],
        )
