"""The health summary of both batteries, as plain JSON-able data (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from battwatch.core.analysis.engine import SEVERITY_NAMES, AlertEngine
from battwatch.core.analysis.pack import remaining_pack_life
from battwatch.core.timefmt import iso_utc

if TYPE_CHECKING:
    from battwatch.core.analysis.analyzer import BatteryAnalyzer


def _r(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(v, digits)


def _iso(t: float | None) -> str | None:
    return None if t is None else iso_utc(t)


def alerts(engine: AlertEngine, battery: str) -> list[dict[str, Any]]:
    return [
        {"alert": s.alert, "severity": SEVERITY_NAMES[s.level], "since": iso_utc(s.since), "value": s.value,
         "message": s.message}
        for s in engine.active(battery)
    ]


def health(engine: AlertEngine, battery: str, fault: str | None) -> str:
    """One word for a dashboard: good, attention (a warning) or action needed (critical)."""
    if fault is not None:
        return "unknown (sensor fault)"
    worst = max((s.level for s in engine.active(battery) if not s.sensor), default=0)
    return "action needed" if worst >= 3 else "attention" if worst == 2 else "good"


def build(an: BatteryAnalyzer, t: float) -> dict[str, Any]:
    """``{"state", "main": {...}, "sos": {...}}`` for the sinks and ``battwatch status``."""
    main = an.main
    sos = an.sos
    # 12 V: remaining life is the more pessimistic of age and trend
    age = main.age_years(t)
    by_age = None if age is None else max(0.0, main.expected_life() - age)
    by_trend = None if main.rul_trend_days is None else main.rul_trend_days / 365.25
    rul: float | None
    if by_trend is not None and (by_age is None or by_trend < by_age):
        rul, basis = by_trend, "trend"
    else:
        rul, basis = by_age, "age"
    crank = main.last_crank
    ocv = main.ocv_fit
    soc = main.soc
    main_d: dict[str, Any] = {
        "voltage": _r(main.last_v),
        "rested_voltage": _r(main.last_rest_v),
        "rested_voltage_25c": _r(main.last_rest_v25),
        "rested_at": _iso(main.last_rest_t),
        "soc_pct": None if soc is None else round(soc),
        "age_years": _r(age, 2),
        "remaining_life_years": _r(rul, 2),
        "remaining_life_basis": basis if rul is not None else None,
        "last_crank_min_v": None if crank is None else _r(crank.v_min),
        "last_crank_at": None if crank is None else _iso(crank.t),
        "last_crank_temp_c": None if crank is None else crank.temp_c,
        "trend": {
            "rested_v_per_day": None if ocv is None else _r(ocv.slope, 5),
            "rested_significant": None if ocv is None else ocv.falling,
            "crank_dip_ratio": None if main.dip is None else _r(main.dip["ratio"], 3),
            "trend_limit": main.rul_trend_what if main.rul_trend_days is not None else None,
        },
        "sensor_fault": an.w_main.active,
        "health": health(an.engine, "main", an.w_main.active),
        "alerts": alerts(an.engine, "main"),
    }
    s_age = sos.age_years(t)
    s_rul, s_basis = remaining_pack_life(sos, t)
    tr = sos.trend
    s_soc = sos.soc()
    warn_date = crit_date = None
    if tr is not None and tr.falling and sos.last_rest_t is not None:
        if sos.trend_days_warn is not None:
            warn_date = iso_utc(sos.last_rest_t + sos.trend_days_warn * 86400.0)[:10]
        if sos.trend_days_crit is not None:
            crit_date = iso_utc(sos.last_rest_t + sos.trend_days_crit * 86400.0)[:10]
    base = sos.baseline
    sos_d: dict[str, Any] = {
        "voltage": _r(sos.last_v),
        "rested_voltage": _r(sos.last_rest_v),
        "rested_voltage_corrected": _r(sos.last_rest_vc),  # at temp_ref_c: what the rules judge
        "temp_ref_c": sos.t_ref,
        "rested_at": _iso(sos.last_rest_t),
        "per_cell_v": None if sos.last_rest_vc is None else _r(sos.last_rest_vc / sos.cells),
        "soc_pct": None if s_soc is None else round(s_soc),
        "chemistry": sos.chem,
        "cells": sos.cells,
        "age_years": _r(s_age, 2),
        "remaining_life_years": _r(s_rul, 2),
        "remaining_life_basis": s_basis if s_rul is not None else None,
        "trend": {
            "slope_v_per_day": None if tr is None else _r(tr.slope, 5),
            "n_days": None if tr is None else tr.n,
            "significant": None if tr is None else tr.falling,
            "projected_warning_date": warn_date,
            "projected_end_of_life_date": crit_date,
        },
        "self_discharge": {
            "last_mv_per_day": None if sos.last_rate is None else _r(sos.last_rate * sos.cells * 1000.0, 2),
            "baseline_mv_per_day": None if base is None else _r(base * sos.cells * 1000.0, 2),
        },
        "sensor_fault": an.w_sos.active,
        "health": health(an.engine, "sos", an.w_sos.active),
        "alerts": alerts(an.engine, "sos"),
    }
    return {"state": an.state_name, "main": main_d, "sos": sos_d}
