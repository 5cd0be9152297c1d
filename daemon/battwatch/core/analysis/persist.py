"""The analysis' state out and in: everything a restart needs, versioned."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

from battwatch.core.analysis.lead_acid import MainRules
from battwatch.core.analysis.pack import PackRules
from battwatch.core.analysis.refit import refit
from battwatch.core.analysis.state import STATE_NAMES

if TYPE_CHECKING:
    from battwatch.core.analysis.analyzer import BatteryAnalyzer

STATE_VERSION: Final = 1


def export_state(an: BatteryAnalyzer) -> dict[str, Any]:
    """Everything a restart needs (alerts, clocks, baselines, daily series); bounded in size."""
    return {
        "version": STATE_VERSION,
        "vehicle": an.vehicle,
        "first_t": an.first_t,
        "last_t": an.last_t,
        "dt_ref": an.dt_ref,
        "main_seen": an.main_seen,
        "own_mode": an.own_mode,
        "state": an.state,
        "engine": an.engine.export(),
        "tracker": an.tracker.export(),
        "main": an.main.export(),
        "sos": an.sos.export(),
        "w_main": an.w_main.export(),
        "w_sos": an.w_sos.export(),
        "fit": [an.fit_main.export(), an.fit_sos.export()],
        "replaced": {b: [when, an.fitted_note.get(b, "")] for b, when in an.fitted.items()},
    }


def import_state(an: BatteryAnalyzer, d: dict[str, Any]) -> None:
    """The state ``export_state`` gave, into a fresh analyzer of the same configuration (its clocks
    excepted: the analyzer resumes those)."""
    if d.get("version") != STATE_VERSION:
        raise ValueError(f"analysis state version {d.get('version')!r}, expected {STATE_VERSION}")
    # the batteries replaced so far first: their rules (and alert slots) are built anew
    for battery, (when, note) in dict(d.get("replaced", {})).items():
        if battery in ("main", "sos"):
            rules: MainRules | PackRules = an.main if battery == "main" else an.sos
            if rules.installed_t is None or float(when) >= rules.installed_t:
                refit(an, battery, float(when))
            an.fitted[battery] = float(when)
            an.fitted_note[battery] = str(note)
    an.pending = [p for p in an.pending if p[0] > an.fitted.get(p[1], -math.inf)]
    an.next_replaced = an.pending[0][0] if an.pending else math.inf
    an.first_t = d["first_t"]
    an.last_t = d["last_t"]
    an.dt_ref = d["dt_ref"]
    an.main_seen = bool(d["main_seen"])
    an.own_mode = bool(d.get("own_mode", False))
    an.sos.own_mode(an.own_mode)
    an.state = int(d["state"])
    an.state_name = STATE_NAMES[an.state]
    an.engine.load(d["engine"])
    an.tracker.load(d["tracker"])
    an.main.load(d["main"])
    an.sos.load(d["sos"])
    an.w_main.load(d["w_main"])
    an.w_sos.load(d["w_sos"])
    if "fit" in d:  # states from before config_mismatch: watched afresh
        an.fit_main.load(d["fit"][0])
        an.fit_sos.load(d["fit"][1])
        if an.fit_sos.done:
            an.w_sos.max_v = an.sos.max_v
