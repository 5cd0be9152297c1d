"""The health summary of both batteries, built from the analysis' state (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from battwatch.core.analysis.engine import CRITICAL, SEVERITY_NAMES, WARNING, AlertEngine, Slot
from battwatch.core.analysis.messages import span
from battwatch.core.analysis.rundown import hand_life, run_life
from battwatch.core.healthsummary import (
    ActiveAlert,
    BatterySummary,
    Fault,
    Remaining,
    SelfDischarge,
    Start,
    Trend,
)
from battwatch.core.model import Health
from battwatch.core.record import Record, record
from battwatch.core.timefmt import iso_utc

if TYPE_CHECKING:
    from battwatch.analysis_config import LifeConfig
    from battwatch.core.analysis.analyzer import BatteryAnalyzer
    from battwatch.core.analysis.pack import PackRules

YEAR_DAYS: Final = 365.25

# Which active alerts say something about how long the battery will last (docs/analysis.md §6).
# (battery, alert) -> the severity from which it means "replace now", and the one from which
# it caps the remaining life at life.warning_cap_years. Left out on purpose: sensor faults (not
# a verdict), a low charge that a recharge fixes (main low_voltage info/warning, sos
# low_voltage info), problems of the car rather than the battery (undercharging, overvoltage,
# parasitic_drain), and decline and age, which enter through the trend and the age estimates.
REPLACE_NOW: Final = {
    ("main", "weak_cranking"): CRITICAL,  # below 8.5 V: "replace now"
    ("sos", "step_drop"): CRITICAL,  # a shorted cell
    ("sos", "low_voltage"): CRITICAL,  # cannot hold an emergency call
    ("sos", "decline"): CRITICAL,  # reaches the critical level within 30 days
}
SHORTENS: Final = {
    ("main", "weak_cranking"): WARNING,  # losing its cranking power
    ("main", "low_voltage"): CRITICAL,  # below 12.0 V: damaged for good [SRC 14], load-test it
    ("sos", "step_drop"): WARNING,  # a failing cell or connection
    ("sos", "low_voltage"): WARNING,  # running down
    ("sos", "self_discharge"): WARNING,  # leaking
}


def _r(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(v, digits)


def alerts(engine: AlertEngine, battery: str) -> tuple[ActiveAlert, ...]:
    return tuple(
        ActiveAlert(s.alert, SEVERITY_NAMES[s.level], s.since, s.level_since, SEVERITY_NAMES[s.raised_level],
                    s.now_value, s.now_message, s.now_t, s.flapping)
        for s in engine.active(battery)
    )


def life_verdicts(
    active: list[Slot], dead_cell_v: float | None = None, crank_low_charge: bool = False,
) -> tuple[Slot | None, Slot | None]:
    """The alert that means "replace now", and the one that caps the remaining life, if any.

    ``dead_cell_v``: a 12 V ``low_voltage`` critical at or below it is a shorted cell, not a
    flat battery: replace now. ``crank_low_charge``: the start behind ``weak_cranking`` came
    from a battery below the charge gate, so a recharge and a new start decide; until then it
    only caps the remaining life.
    """
    now: Slot | None = None
    cap: Slot | None = None
    for s in active:
        key = (s.battery, s.alert)
        need = None if (crank_low_charge and key == ("main", "weak_cranking")) else REPLACE_NOW.get(key)
        dead = (key == ("main", "low_voltage") and s.level >= CRITICAL and dead_cell_v is not None
                and s.value is not None and s.value <= dead_cell_v)
        if dead or (need is not None and s.level >= need):
            if now is None or s.since < now.since:
                now = s
            continue
        need = SHORTENS.get(key)
        if need is not None and s.level >= need and (cap is None or s.since < cap.since):
            cap = s
    return now, cap


@record
class AgeLife(Record):
    """What the age rule of a battery says about its life, in years (docs/analysis.md §6).

    ``typical``: the expected life (12 V: per type; pack: the middle of ``lifespan_years``);
    ``start``/``end``: the replacement window, i.e. the ages at which the age alert turns
    warning and critical (12 V: ``warn_years``/``crit_years``; pack: ``lifespan_years``).
    """

    typical: float
    start: float
    end: float

    def remaining(self, age: float) -> float:
        """Expected remaining life by age alone: never negative, never above the typical life,
        falling steadily with age and 0 exactly when the age alert turns critical.

        Before the window it is the typical life minus the age; once a battery has outlived
        that, half of what is left of the window (the mean remaining life if the failures
        still ahead are spread evenly over the rest of the window) [ENG]. For the pack, whose
        typical life is the middle of its window, the two meet where the window opens.
        """
        return max(0.0, min(self.typical, max(self.typical - age, 0.5 * (self.end - age))))


def remaining_life(
    age: float | None, by_trend: float | None, trend_what: str, now: Slot | None, cap: Slot | None,
    cfg: LifeConfig, life: AgeLife | None = None, note: str | None = None,
) -> dict[str, Any]:
    """Remaining life in years, what it rests on and the same in words (pure).

    ``age``: the battery's age in years (None: unknown); ``life``: its age rule (None: no
    estimate by age); ``by_trend``: years until the trend reaches its limit. An alert meaning
    "replace now" wins; otherwise the most pessimistic of age, trend and (while a condition
    warning is active and no trend is known) ``cfg.warning_cap_years``. ``note`` is added to
    the words (why the age is unknown).
    """
    by_age = None if age is None or life is None else life.remaining(age)
    out: dict[str, Any] = {
        "remaining_life_years": None, "remaining_life_basis": None, "remaining_life_alert": None,
        "remaining_life_text": None, "overdue_years": None,
        "remaining_life_by_age_years": _r(by_age, 2), "remaining_life_by_trend_years": _r(by_trend, 2),
    }
    if age is not None and life is not None and age > life.end:
        out["overdue_years"] = _r(age - life.end, 2)  # past the window: the age alert is critical
    out.update(_life_words(age, by_age, by_trend, trend_what, now, cap, cfg, life))
    if note is not None:
        text = out["remaining_life_text"]
        out["remaining_life_text"] = note if text is None else f"{text}; {note}"
    return out


def _life_words(
    age: float | None, by_age: float | None, by_trend: float | None, trend_what: str, now: Slot | None,
    cap: Slot | None, cfg: LifeConfig, life: AgeLife | None,
) -> dict[str, Any]:
    if now is not None:
        return {"remaining_life_years": 0.0, "remaining_life_basis": "alert", "remaining_life_alert": now.alert,
                # since it is critical: "raised" with the day of its first information read as
                # critical for months it was not
                "remaining_life_text": f"replace now ({_named(now)} since {iso_utc(now.level_since)[:10]})"}
    options: list[tuple[float, str]] = []
    if by_age is not None:
        options.append((by_age, "age"))
    if by_trend is not None:
        options.append((by_trend, "trend"))
    if cap is not None and by_trend is None:
        # the cap stands in for the trend the data cannot give yet; a significant trend is a
        # measured projection and says better how long the warning leaves
        options.append((cfg.warning_cap_years, "alert"))
    if not options:
        return {}
    years, basis = min(options, key=lambda o: o[0])
    due = cfg.due_now_years
    out: dict[str, Any] = {"remaining_life_years": _r(max(0.0, years), 2), "remaining_life_basis": basis}
    if basis == "alert":
        assert cap is not None
        out["remaining_life_alert"] = cap.alert
        text = f"at most {span(years)} (while {_named(cap)} is active)"
    elif basis == "age":
        assert age is not None and life is not None
        text = _age_words(age, years, life, due)
    else:
        days = years * YEAR_DAYS
        # a crossing days away is said in days: "less than a month" hides how soon
        text = "due now" if years < due else (
            f"about {days:.0f} days" if days < 45.0 else f"about {span(years)}")
        text += f" (by the trend of its {trend_what})"
    out["remaining_life_text"] = text
    return out


def _age_words(age: float, years: float, life: AgeLife, due: float) -> str:
    """The words of the age estimate, in step with the age alert: "overdue" only once it is
    critical (past the window), "in its replacement window" while it is a warning."""
    typical = f"expected life of {life.typical:g} years"
    left = life.end - age  # at most this is left: the window closes
    if left <= 0.0:
        return f"overdue by {span(-left)} (past the end of its replacement window at {life.end:g} years)"
    if left < due:
        return f"due now (its replacement window closes within a month, at {life.end:g} years)"
    reached = f"{typical} reached, " if age >= life.typical else ""
    if age >= life.start:
        return f"in its replacement window: {reached}at most {span(left)} left"
    if reached:
        return f"about {span(years)} (by age: {reached}at most {span(left)})"
    return f"about {span(years)} (by age, {typical})"


def _named(s: Slot) -> str:
    return f"{s.alert} {SEVERITY_NAMES[s.level]}"


def fault(an: BatteryAnalyzer, battery: str) -> Fault | None:
    """The channel's active sensor fault: its kind, when it was raised and its first sign
    (readings from then on are not to be trusted; the rested values are from before the
    raise, and from before the first sign only when ``rested_at`` says so)."""
    w = an.w_main if battery == "main" else an.w_sos
    if w.active is None:
        return None
    return Fault(w.active, w.slot.since if w.slot.level else None, w.first_sign)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600.0:g} h" if seconds >= 3600.0 else f"{seconds / 60.0:g} min"


def health(engine: AlertEngine, battery: str, fault: str | None, missing: list[str] | None) -> Health:
    """The verdict on one battery: action needed (a critical alert), attention (a warning),
    good, or unknown with the reason.

    "Good" needs evidence: ``missing`` is None when the data hold some, else what would give
    it. A warning or critical alert is evidence of its own; a sensor fault leaves nothing to
    judge by. An information alert alone is no verdict on the battery (age, a start from a
    low charge), so it does not make "good" either.
    """
    if fault is not None:
        return Health("unknown", f"sensor fault ({fault}): the readings are not the battery's")
    mismatch = engine.slots.get((battery, "config_mismatch"))
    if mismatch is not None and mismatch.level:
        # what the readings look like, in the words the alert's own brief gave them
        seen = "" if mismatch.brief is None else f": {mismatch.brief.headline[:1].lower()}{mismatch.brief.headline[1:]}"
        return Health("unknown", f"the readings do not fit the configured battery (config_mismatch){seen}")
    worst = max((s.level for s in engine.active(battery) if not s.sensor), default=0)
    if worst >= CRITICAL:
        return Health("action needed")
    if worst == WARNING:
        return Health("attention")
    if missing:
        return Health("unknown", "; ".join(missing))
    return Health("good")


def main_missing(an: BatteryAnalyzer, t: float) -> list[str] | None:
    """What the 12 V verdict lacks (None: a rested reading, a judged start or a judged drive)."""
    main = an.main
    if main.last_rest_t is not None or main.last_crank is not None or main.last_judged_drive is not None:
        return None
    if not an.main_seen:
        return ["no 12 V channel in the readings"]
    st = an.cfg.state
    min_drive = an.cfg.main.charging.min_drive_s
    d_start = an.tracker.d_start
    # a drive long enough to judge that has not ended yet (the log or the store stops mid-drive)
    drive = (f"the drive under way ({(t - d_start) / 60.0:.0f} min so far) is judged when it ends"
             if d_start is not None and t - d_start >= min_drive else f"no drive of {_hours(min_drive)} or more")
    return [
        f"no rested reading yet: the car has not been parked {_hours(st.rest_min_s)}",
        f"no engine start, and {drive}",
    ]


def sos_missing(an: BatteryAnalyzer) -> list[str] | None:
    """What the SOS verdict lacks (None: a rested reading after the pack's rest time)."""
    if an.sos.last_rest_t is not None:
        return None
    if not an.w_sos.seen:
        return ["no SOS readings"]
    rest = _hours(an.cfg.state.sos_rest_min_s)
    if not an.main_seen:  # an SOS-only log: rest counts from the pack's own last charge
        return [f"no rested reading yet: the pack has not been off charge {rest} (no 12 V channel: by its own voltage)"]
    return [f"no rested reading yet: the car has not been parked {rest}"]


def _age_note(installed: object, installed_t: float | None, t: float) -> str | None:
    """Why the age is unknown: no fitted date, or data from before it."""
    if installed_t is None:
        return "no installation date (set installed in the configuration)"
    if t >= installed_t:
        return None
    return f"the installation date {installed} is after the data ({iso_utc(t)[:10]})"


def _remaining(d: dict[str, Any]) -> Remaining:
    return Remaining(d["remaining_life_years"], d["remaining_life_basis"], d["remaining_life_alert"],
                     d["remaining_life_text"], d["overdue_years"], d["remaining_life_by_age_years"],
                     d["remaining_life_by_trend_years"])


def _fitted(an: BatteryAnalyzer, battery: str) -> dict[str, Any]:
    """When the battery was fitted, and whether the configuration or a replacement said so."""
    day, source = an.fitted_date(battery)
    return {
        "fitted": day, "fitted_from": source,
        "replaced_note": an.fitted_note.get(battery) if source == "replaced" else None,
        "replacement_pending": next((iso_utc(p[0])[:10] for p in an.pending if p[1] == battery), None),
    }


def build(an: BatteryAnalyzer, t: float) -> tuple[BatterySummary, BatterySummary]:
    """Both batteries' summaries at data time ``t`` for the sinks and ``battwatch status``."""
    return _main(an, t), _sos(an, t)


def _main(an: BatteryAnalyzer, t: float) -> BatterySummary:
    main = an.main
    a = main.cfg.age
    age = main.age_years(t)
    note = _age_note(main.installed, main.installed_t, t)
    now, cap = life_verdicts(an.engine.active("main"), main.cfg.low_voltage.dead_cell_v, main.crank_low_charge)
    life = AgeLife(main.expected_life(), a.warn_years, a.crit_years)
    remaining = remaining_life(
        age, None if main.rul_trend_days is None else main.rul_trend_days / YEAR_DAYS,
        main.rul_trend_what, now, cap, an.cfg.life, life,
        f"age unknown: {note}" if note is not None and main.installed_t is not None else None,
    )
    crank = main.last_crank
    ocv = main.ocv_fit
    soc = main.soc
    return BatterySummary(
        battery="main",
        health=health(an.engine, "main", an.w_main.active, main_missing(an, t)),
        # False: no 12 V reading ever came (an SOS-only tap, a bench log): nothing was judged
        channel_seen=an.main_seen,
        voltage=_r(main.last_v), rested_voltage=_r(main.last_rest_v), rested_at=main.last_rest_t,
        soc_pct=None if soc is None else round(soc),
        age_years=_r(age, 2), age_note=None if age is not None else note,
        life_window=(a.warn_years, a.crit_years),
        remaining=_remaining(remaining),
        trend=Trend(
            v_per_day=None if ocv is None else _r(ocv.slope, 5),
            significant=None if ocv is None else ocv.falling,
            n_days=None if ocv is None else ocv.n,
            limit=main.rul_trend_what if main.rul_trend_days is not None else None,
            crank_dip_ratio=None if main.dip is None else _r(main.dip["ratio"], 3),
        ),
        last_start=None if crank is None else Start(_r(crank.v_min) or 0.0, crank.t, crank.temp_c),
        fault=fault(an, "main"),
        alerts=alerts(an.engine, "main"),
        rested_voltage_25c=_r(main.last_rest_v25),
        **_fitted(an, "main"),
    )


def _sos(an: BatteryAnalyzer, t: float) -> BatterySummary:
    sos = an.sos
    s_age = sos.age_years(t)
    note = _age_note(sos.installed, sos.installed_t, t)
    sos_vc = sos.last_rest_vc()
    lo, hi = sos.life
    now, cap = life_verdicts(an.engine.active("sos"))
    # the long-term trend, or the last days' (daily values, or the run-down of the rested
    # readings) where it reaches the critical level sooner
    tr, days_warn, days_crit, short = sos.life_trend()
    life_days, life_what = days_crit, "rested voltage towards the critical level"
    n_days = None if tr is None else tr.n  # the daily values behind the trend shown
    run = run_life(sos)
    if run is not None and tr is run[2]:
        life_what = (f"rested readings of the last {run[1]:.0f} h, falling {-tr.slope * 1000.0:.0f} mV a day, "
                     "towards the critical level")
        n_days = max(1, round(run[1] / 24.0))  # hourly readings: the days they span
    # ... or, while the pack is low, the fall of its readings since the last charge if sooner
    hand = hand_life(sos)
    if hand is not None:
        life_days, life_what = hand[0], f"readings of the last {hand[1]:.0f} h towards the critical level"
    remaining = remaining_life(
        s_age, None if life_days is None else life_days / YEAR_DAYS, life_what, now, cap, an.cfg.life,
        AgeLife(0.5 * (lo + hi), lo, hi),  # typical: the middle of lifespan_years
        f"age unknown: {note}" if note is not None and sos.installed_t is not None else None,
    )
    s_soc = sos.soc()
    warn_date = crit_date = None
    if tr is not None and tr.falling and sos.last_rest_t is not None:
        if days_warn is not None:
            warn_date = iso_utc(sos.last_rest_t + days_warn * 86400.0)[:10]
        if days_crit is not None:
            crit_date = iso_utc(sos.last_rest_t + days_crit * 86400.0)[:10]
    return BatterySummary(
        battery="sos",
        health=health(an.engine, "sos", an.w_sos.active, sos_missing(an)),
        channel_seen=an.w_sos.seen,
        voltage=_r(sos.last_v), rested_voltage=_r(sos.last_rest_v), rested_at=sos.last_rest_t,
        soc_pct=None if s_soc is None else round(s_soc),
        age_years=_r(s_age, 2), age_note=None if s_age is not None else note,
        life_window=(lo, hi),
        remaining=_remaining(remaining),
        trend=Trend(
            v_per_day=None if tr is None else _r(tr.slope, 5),
            significant=None if tr is None else tr.falling,
            n_days=n_days,
            limit="the critical level" if days_crit is not None else None,
            # falling steeply enough to matter and towards a level reached within the horizon;
            # False: "no decline in sight", whatever the statistics
            in_sight=None if tr is None else crit_date is not None or warn_date is not None,
            warning_date=warn_date, end_date=crit_date,
            # the fit above is the last trend.short_days' (falling faster than the long-term one)
            short_term=short,
        ),
        fault=fault(an, "sos"),
        alerts=alerts(an.engine, "sos"),
        rested_voltage_corrected=_r(sos_vc), temp_ref_c=sos.t_ref,
        per_cell_v=None if sos_vc is None else _r(sos_vc / sos.cells),
        chemistry=sos.chem, cells=sos.cells,
        # what the level rules judge: readings rested by the 12 V channel's states, or without
        # one, readings off charge by the pack's own voltage (docs/analysis.md §5)
        judged_on="own voltage" if an.own_mode else "rested readings",
        self_discharge=_self_discharge(sos),
        **_fitted(an, "sos"),
    )


def _self_discharge(sos: PackRules) -> SelfDischarge:
    base = sos.baseline
    learned = None
    if base is not None:  # the baseline in force on the last park's band, as the rule judges
        base, learned = sos.in_force(sos.last_band, base)
    judged = sos.judged if sos.s_sd.level >= WARNING else None  # the park the active alert judged
    judged_learned = None
    if judged is not None:
        learned_base = sos.baselines[judged[2]]
        judged_learned = learned_base is not None and sos.in_force(judged[2], learned_base)[1]
    mv = 1000.0 * sos.cells
    return SelfDischarge(
        last_mv_per_day=None if sos.last_rate is None else _r(sos.last_rate * mv, 2),
        # the baseline in force for the last park: its band's learned one, or the chemistry's
        # healthy rate where that is higher (baseline_learned False)
        baseline_mv_per_day=None if base is None else _r(base * mv, 2),
        baseline_learned=learned,
        # as charge lost (% per day at 20 °C) on the band of the SoC table the last park was on
        last_pct_per_day=_r(sos.pct_per_day(sos.last_rate), 3),
        baseline_pct_per_day=_r(sos.pct_per_day(base), 3),
        healthy_pct_per_day=_r(sos.healthy_pct_day, 3),
        # while self_discharge is active: the park it judged and the baseline it judged against
        # (a later park on another band of the SoC table does not change it)
        alert_mv_per_day=None if judged is None else _r(judged[0] * mv, 2),
        alert_baseline_mv_per_day=None if judged is None else _r(judged[1] * mv, 2),
        alert_pct_per_day=None if judged is None else _r(sos.band_pct_per_day(judged[0], judged[2]), 4),
        alert_baseline_learned=judged_learned,
        alert_baseline_pct_per_day=None if judged is None else _r(sos.band_pct_per_day(judged[1], judged[2]), 4),
    )
