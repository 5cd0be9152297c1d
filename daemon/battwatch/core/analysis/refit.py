"""A battery the owner replaced (battwatch replaced): scheduled, applied at its date, its rules built afresh."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from battwatch.core.analysis.lead_acid import MainRules
from battwatch.core.analysis.pack import PackRules
from battwatch.core.analysis.replaced import cleared_text, utc_date
from battwatch.core.events import Replaced
from battwatch.core.record import replace as dc_replace

if TYPE_CHECKING:
    from battwatch.core.analysis.analyzer import BatteryAnalyzer


def schedule(an: BatteryAnalyzer, battery: str, when: float, note: str = "") -> bool:
    """The owner says ``battery`` was replaced at data time ``when``.

    It takes effect at the first reading at or after ``when`` (at the next one when the
    analysis is past it already), so a log replayed across it gives what the daemon gave.
    False when it changes nothing: applied already, or older than a later one applied.
    """
    if battery not in ("main", "sos") or when <= an.fitted.get(battery, -math.inf):
        return False
    if any(p[0] == when and p[1] == battery for p in an.pending):
        return False
    an.pending.append((when, battery, note))
    an.pending.sort()
    an.next_replaced = an.pending[0][0]
    return True


def apply_due(an: BatteryAnalyzer, t: float) -> None:
    last = an.last_t
    while an.pending and an.pending[0][0] <= t:
        when, battery, note = an.pending.pop(0)
        # told late (the analysis is past the date): the reset is at the first data after
        replace_battery(an, battery, when, when if last is None or when > last else t, note)
    an.next_replaced = an.pending[0][0] if an.pending else math.inf


def replace_battery(an: BatteryAnalyzer, battery: str, when: float, at: float, note: str = "") -> bool:
    """A new ``battery`` fitted at ``when``, applied at data time ``at``: its alerts clear
    ("cleared: battery replaced on ..."), its age counts from ``when``, and its trend,
    baselines, drain and start references start afresh. A replacement dated before the
    configured ``installed`` changes nothing: the later date wins. False: nothing changed."""
    old: MainRules | PackRules = an.main if battery == "main" else an.sos
    if old.installed_t is not None and when < old.installed_t:
        return False
    if when <= an.fitted.get(battery, -math.inf):
        return False
    text = cleared_text(battery, when, note)

    def cleared(sev: int, ctx: Any) -> str:
        return text

    engine = an.engine
    for slot in list(engine.slots.values()):
        if slot.battery == battery and not slot.sensor and slot.level > 0:
            engine.force(slot, at, 0, None, cleared, {"replaced_on": utc_date(when).isoformat()})
    an.fitted[battery] = when
    an.fitted_note[battery] = note
    refit(an, battery, when, old)
    an.events.append(Replaced(at, an.vehicle, "main" if battery == "main" else "sos", when, note))
    return True


def refit(an: BatteryAnalyzer, battery: str, when: float, old: MainRules | PackRules | None = None) -> None:
    """Fresh rules for the battery fitted at ``when`` (its own slots: no pending verdict,
    no flapping history); the report's full histories carry on across the change."""
    installed = utc_date(when)
    if battery == "main":
        main = MainRules(an.cfg, dc_replace(an.battery_cfg.main, installed=installed), an.engine,
                         an.record)
        main.installed_t = when
        if isinstance(old, MainRules):
            main.last_v = old.last_v
            main.crank_log = old.crank_log
            main.drive_log = old.drive_log
            main.daily.history = old.daily.history
        an.main = main
    else:
        sos = PackRules(an.cfg, dc_replace(an.battery_cfg.sos, installed=installed), an.engine,
                        an.record)
        sos.installed_t = when
        if isinstance(old, PackRules):
            sos.last_v = old.last_v
            sos.step_v = old.step_v
            sos.daily.history = old.daily.history
        if an.own_mode:  # no 12 V channel: the new pack is judged on its own readings too
            sos.own_mode(True)
        an.sos = sos


def fitted_date(an: BatteryAnalyzer, battery: str) -> tuple[str | None, str]:
    """The date the battery counts its age from and where it comes from: "installed" (the
    configuration), "replaced" (battwatch replaced; the later date wins) or none."""
    rules: MainRules | PackRules = an.main if battery == "main" else an.sos
    when = an.fitted.get(battery)
    if when is not None and rules.installed_t == when:
        return utc_date(when).isoformat(), "replaced"
    configured = an.battery_cfg.main.installed if battery == "main" else an.battery_cfg.sos.installed
    return (None, "none") if configured is None else (str(configured), "installed")
