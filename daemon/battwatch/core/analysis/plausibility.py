"""Whether a channel's readings can belong to the configured battery at all (config_mismatch)."""

from __future__ import annotations

from typing import Any, Final

from battwatch.analysis_config import Debounce
from battwatch.core.analysis import messages as msg
from battwatch.core.analysis.engine import NONE, WARNING, AlertEngine, Slot

# The voltage of one cell of each chemistry that a battery of it can show while it is in use:
# nearly empty to on charge (lead-acid down to a start's load, up to a motorcycle generator's
# overcharge; NiMH 1.0 V end of discharge to 1.55 V on charge [SRC 8]; Li-ion 3.0-4.25 V;
# LiFePO4 2.8-3.65 V) [ENG]. What no cell of the configured kind can read, in any number of
# cells, tells the configuration is wrong, not the battery.
CELL_SPAN: Final = {"lead_acid": (1.80, 2.65), "nimh": (1.00, 1.55), "li-ion": (3.00, 4.25), "lifepo4": (2.80, 3.65)}
# The lowest a cell of the configured kind reads while it is still recognisably one, worn,
# under a load or with a sibling shorted (a 12 V battery with a shorted cell rests ~10.5 V,
# 1.75 V a cell; a NiMH pack run down past its 1.10 V critical level; lithium at its cut-off)
# [ENG]. NiMH stops at 1.06 V so that one Li-ion cell, full at 4.2 V, is no 4-cell NiMH pack;
# a 4-cell pack found below 4.24 V at the first readings (dead, or a cell shorted) is then
# taken for a configuration problem: its voltages are one Li-ion cell's or three NiMH cells'.
CELL_FLOOR: Final = {"lead_acid": 1.60, "nimh": 1.06, "li-ion": 3.00, "lifepo4": 2.80}
CELL_NOMINAL: Final = {"lead_acid": 2.0, "nimh": 1.2, "li-ion": 3.6, "lifepo4": 3.2}
CHEM_NAMES: Final = {"lead_acid": "lead-acid", "nimh": "NiMH", "li-ion": "Li-ion", "lifepo4": "LiFePO4"}
MAX_CELLS: Final = 16
# The backup packs a 12 V column's readings may really be (one voltage column fills the 12 V
# channel on import): the most cells of each chemistry an SOS / eCall pack is made of [ENG].
# They are taken for such a pack only when no lead-acid battery of 3 cells or more (6 V up)
# reads the same: a 6 V motorcycle battery stays one.
PACK_LOOKS: Final = {"li-ion": 2, "lifepo4": 2, "nimh": 10}
PACK_KEYS: Final = ("If the readings are an SOS backup pack's, put them on the SOS channel: import the file "
                    "again with 'battwatch import FILE --column sos_v=COLUMN' (a file with one voltage "
                    "column fills the 12 V column), or on a board wire the pack to the SOS input.")
# The most any pack battwatch can be configured for reads on charge ([battery.sos] cells <= 16).
PACK_CEILING_V: Final = MAX_CELLS * max(hi for _, hi in CELL_SPAN.values()) * 1.05


def fits(chem: str, cells: int, lo: float, hi: float) -> bool:
    """Whether readings from ``lo`` to ``hi`` volts can come from ``cells`` cells of ``chem``."""
    a, b = CELL_SPAN[chem]
    return cells * a <= lo and hi <= cells * b


def look_alikes(lo: float, hi: float, chems: tuple[str, ...]) -> list[tuple[str, int]]:
    """The (chemistry, cells) whose packs can read from ``lo`` to ``hi``, fewest cells first."""
    return [(c, n) for n in range(1, MAX_CELLS + 1) for c in chems if fits(c, n, lo, hi)]


def pack_look_alikes(lo: float, hi: float) -> list[tuple[str, int]]:
    """The backup packs (PACK_LOOKS) that 12 V channel readings from ``lo`` to ``hi`` volts look
    like, fewest cells first; none when a lead-acid battery of 6 V or more reads the same."""
    if any(n >= 3 for _, n in look_alikes(lo, hi, ("lead_acid",))):
        return []
    return [(c, n) for c, n in look_alikes(lo, hi, tuple(PACK_LOOKS)) if n <= PACK_LOOKS[c]]


class FitWatch:
    """Watches one channel until its readings are seen to fit the configured battery.

    ``lo``..``hi`` is what the configured battery can read while it is in use, down to a worn
    or part-shorted one (a 12 V battery with a shorted cell rests ~10.5 V, a worn NiMH pack
    falls to its critical level). The first reading inside confirms the configuration and the
    watch ends for good: one comparison per reading until then, none after. If for
    ``judge_s`` of data (and ``min_n`` readings) not one reading fits, and they fit another
    system, the configuration is wrong: ``config_mismatch`` is raised once, naming what the
    readings look like and the keys to change, and the battery's other alerts are withdrawn
    and held (``AlertEngine.mute``) until a reading fits again. On the 12 V channel
    (``packs``), readings that look like a backup pack and like no 6 V or bigger battery are
    said to be an SOS pack on the 12 V column, with the import option that moves them.
    """

    __slots__ = ("battery", "lo", "hi", "judge_s", "min_n", "configured", "chems", "keys", "engine", "slot", "own",
                 "packs", "pack", "done", "active", "t_first", "n", "v_lo", "v_hi")

    def __init__(self, battery: str, lo: float, hi: float, configured: str, own: tuple[str, int],
                 chems: tuple[str, ...], keys: str, engine: AlertEngine, judge_s: float, min_n: int,
                 packs: bool = False) -> None:
        self.battery = battery
        self.lo = lo
        self.hi = hi
        self.configured = configured  # how the configuration describes the battery
        self.chems = chems  # the chemistries the readings may be compared with
        self.own = own  # the configured (chemistry, cells): a worn one of them is no mismatch
        self.keys = keys  # the configuration keys to check, for the message
        self.engine = engine
        self.packs = packs  # the 12 V channel: its readings may be a backup pack's
        self.pack = False  # the mismatch raised is a backup pack on the 12 V channel
        self.judge_s = judge_s
        self.min_n = min_n
        self.slot: Slot = engine.slot(battery, "config_mismatch", Debounce(), refresh=False)
        self.done = False  # a reading fitted the configuration: nothing more to watch
        self.active = False  # config_mismatch is raised: the battery's rules are off
        self.t_first = -1.0
        self.n = 0
        self.v_lo = 0.0
        self.v_hi = 0.0

    def fits(self) -> bool:
        """True once a reading fitted the configuration. Callers read it just after feed():
        an attribute test there would be narrowed to False by mypy, and the compiled core
        leaves out the code mypy calls unreachable."""
        return self.done

    def feed(self, t: float, v: float) -> bool:
        """One plausible (sensor-wise) window average; True while the mismatch stands."""
        if self.lo <= v <= self.hi:
            self.done = True
            if self.active:
                self.active = False
                self.engine.force(self.slot, t, NONE, v, msg.config_mismatch, self._ctx(v))
                self.engine.mute(self.battery, t, False)
            return False
        if self.n == 0:
            self.t_first = t
            self.v_lo = self.v_hi = v
        elif v < self.v_lo:
            self.v_lo = v
        elif v > self.v_hi:
            self.v_hi = v
        self.n += 1
        if not self.active and self.n >= self.min_n and t - self.t_first >= self.judge_s:
            alike = pack_look_alikes(self.v_lo, self.v_hi) if self.packs else []
            self.pack = bool(alike)
            if not alike:
                alike = [a for a in look_alikes(self.v_lo, self.v_hi, self.chems) if a != self.own]
            if alike:
                self.active = True
                self.engine.force(self.slot, t, WARNING, v, msg.config_mismatch, self._ctx(v, alike))
                self.engine.mute(self.battery, t, True)
        return self.active

    def takes(self, t: float, v: float) -> bool:
        """A reading above the sensor's range: True when this watch judges it instead of the
        sensor watch (the configuration is not confirmed yet, or the mismatch stands, and some
        battery of ``chems`` reads that much: a 24 V pair of 12 V batteries is a configuration
        problem, not a broken divider). A confirmed channel's out-of-range reading is the
        sensor's."""
        if self.done or not any(CELL_SPAN[c][1] * MAX_CELLS >= v for c in self.chems):
            return False
        self.feed(t, v)
        return True

    def _ctx(self, v: float, alike: list[tuple[str, int]] | None = None) -> dict[str, Any]:
        return {"battery": self.battery, "lo": self.v_lo, "hi": self.v_hi, "v": v, "configured": self.configured,
                "fit_lo": self.lo, "fit_hi": self.hi, "keys": PACK_KEYS if self.pack else self.keys,
                "pack": self.pack,
                "alike": [(CHEM_NAMES[c], n, n * CELL_NOMINAL[c]) for c, n in self._likeliest(alike or [])[:3]]}

    def _likeliest(self, alike: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """The look-alikes whose resting voltage lies nearest the readings' middle first (25 V
        is a 24 V pair of batteries before it is a 20 V one)."""
        mid = (self.v_lo + self.v_hi) / 2.0
        return sorted(alike, key=lambda a: abs(a[1] * CELL_NOMINAL[a[0]] * 1.05 - mid))

    def export(self) -> list[float]:
        return [float(self.done), float(self.active), self.t_first, float(self.n), self.v_lo, self.v_hi,
                float(self.pack)]

    def load(self, d: list[float]) -> None:
        done, active, self.t_first, n, self.v_lo, self.v_hi, pack = (list(d) + [0.0])[:7]  # older: no pack
        self.pack = bool(pack)
        self.done = bool(done)
        self.active = bool(active)
        self.n = int(n)
        if self.active:
            self.engine.mute(self.battery, self.t_first, True, quiet=True)
