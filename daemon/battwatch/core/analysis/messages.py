"""The words of every alert: what was measured, against which limit, what it means, what to do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from battwatch.core.analysis.engine import CRITICAL, INFO, NONE, WARNING
from battwatch.core.tables import inverse

# Typical repair costs quoted in the messages (issue "Battery health analysis and alerts").
SOS_PACK_COST = "typically $150-300"
SOS_NEXT_SUSPECTS = (
    "If the car already shows 'SOS Call System Failure' and a new pack does not cure it, the next "
    "suspects are a telematics software update ($100-250), the antenna ($200-600) and the "
    "telematics unit itself ($800-1,500)."
)
WEAK_12V_SOS = "A weak 12 V battery is also a common trigger of the 'SOS Call System Failure' message."
REGISTER = "On a BMW the new battery must be registered to the car so that charging adapts to it."

CHEM_NAMES = {"nimh": "NiMH", "li-ion": "Li-ion", "lifepo4": "LiFePO4"}
TYPE_NAMES = {"agm": "AGM", "efb": "EFB", "flooded": "flooded"}
CHANNEL_NAMES = {"main": "12 V", "sos": "SOS"}


def day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).date().isoformat()


def when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _temp(temp_c: float | None) -> str:
    return "" if temp_c is None else f" at {temp_c:.1f} °C"


def _soc(soc: float | None) -> str:
    return "" if soc is None else f"about {soc:.0f} % charged"


def _days(d: float) -> str:
    return "less than a day" if d < 0.75 else "about a day" if d < 1.5 else f"about {d:.0f} days"


def _years(y: float) -> str:
    return f"{y:.1f} years"


def span(years: float) -> str:
    """A stretch of time in words that stay sensible near zero: "2.9 years", "5 months",
    "less than a month" (never "0.0 years")."""
    months = round(years * 12.0)
    if months >= 12:
        return f"{max(1.0, years):.1f} years"
    if months >= 2:
        return f"{months} months"
    return "about a month" if years * 12.0 >= 0.75 else "less than a month"


# -- 12 V battery ----------------------------------------------------------------------------------


_LEVEL_NAMES = {INFO: "information", WARNING: "warning", CRITICAL: "critical"}


def _level_of(sev: int, c: dict[str, Any]) -> float:
    """The limit of severity ``sev`` from a context holding "info", "warn" and "crit"."""
    return float(c["crit"] if sev == CRITICAL else c["warn"] if sev == WARNING else c["info"])


def _clear_of(sev: int, c: dict[str, Any]) -> float:
    """The level that ends severity ``sev``, from "info_clear", "warn_clear" and "crit_clear"."""
    return float(c["crit_clear"] if sev == CRITICAL else c["warn_clear"] if sev == WARNING else c["info_clear"])


def level_words(sev: int, value: float, c: dict[str, Any], *, low: bool, digits: int = 2) -> str:
    """Why ``value`` holds an alert at severity ``sev``, true on both sides of the hysteresis.

    Past the level: "below the 12.40 V warning level". Back past it but not yet past the level
    that ends it: "back above the 12.40 V warning level but still below the 12.50 V that ends
    it". Coming down from a higher severity (``c["from"]``, set by the rule when its verdict is
    below the alert's level), it says first what ended that one: "back above the 12.10 V that
    ends the critical level but still below the 12.40 V warning level". ``c`` holds the limits
    ("info", "warn", "crit") and the levels that end them ("info_clear", ...); ``low``: the
    alert is about a value that is too low.
    """
    name = _LEVEL_NAMES[sev]
    lim = _level_of(sev, c)
    under, over = ("below", "above") if low else ("above", "below")
    past = value < lim if low else value > lim
    held = f"the {lim:.{digits}f} V {name} level" if past else (
        f"the {_clear_of(sev, c):.{digits}f} V that ends the {name} level")
    prior = int(c.get("from") or NONE)
    if prior > sev:
        # the value is past the level that ends the severity just above this one (for a low
        # value: above it), which ends every severity up to the one it comes from
        ended = " and ".join(_LEVEL_NAMES[x] for x in range(sev + 1, prior + 1))
        plural = "levels" if prior > sev + 1 else "level"
        return (f"back {over} the {_clear_of(sev + 1, c):.{digits}f} V that ends the {ended} {plural} "
                f"but still {under} {held}")
    if past:
        return f"{under} {held}"
    return f"back {over} the {lim:.{digits}f} V {name} level but still {under} the {_clear_of(sev, c):.{digits}f} V that ends it"


def _pending_worse(sev: int, value: float, c: dict[str, Any], *, low: bool) -> str:
    """Words for a value already past the next level up, while that level is being confirmed."""
    if sev == CRITICAL:
        return ""
    for higher in (CRITICAL, WARNING):
        if higher <= sev:
            continue
        lim = _level_of(higher, c)
        if (value < lim) if low else (value > lim):
            return (f" It is already past the {lim:.2f} V {_LEVEL_NAMES[higher]} level; if that holds, "
                    f"this becomes {_LEVEL_NAMES[higher]}.")
    return ""


def main_low_voltage(sev: int, c: dict[str, Any]) -> str:
    v, v25, temp, soc = c["v"], c["v25"], c["temp"], c["soc"]
    corr = (" (no temperature reading: judged as read, not corrected to 25 °C)" if temp is None
            else f" at {temp:.1f} °C (the same corrected to 25 °C)" if f"{v25:.2f}" == f"{v:.2f}"
            else f" ({v25:.2f} V corrected to 25 °C from {temp:.1f} °C)")
    if c.get("dead_cell"):
        return (
            f"12 V battery reads {v:.2f} V while {c['state']}, at or below {c['limit']:.1f} V: one or more "
            f"cells are probably shorted, and the car may not start. Have the battery tested and replaced. "
            f"{REGISTER} {WEAK_12V_SOS}"
        )
    if sev == NONE:
        return (
            f"12 V battery rested at {v:.2f} V{corr}, back above {c['clear']:.2f} V: {_soc(soc)}. "
            f"No action needed."
        )
    head = f"12 V battery rested at {v:.2f} V{corr}, {level_words(sev, v25, c, low=True)}: "
    worse = _pending_worse(sev, v25, c, low=True)
    if sev == INFO:
        return head + (
            f"{_soc(soc)}. Nothing to do yet; a longer drive tops it up. If it "
            f"keeps resting this low, check how the car is used (many short trips).{worse}"
        )
    if sev == WARNING:
        return head + (
            f"{_soc(soc)}. A battery left this low sulfates and may not start the "
            f"car on a cold morning. Drive for an hour or put it on a charger suited to "
            f"{TYPE_NAMES.get(c['type'], c['type'])} batteries (BMW says recharge below 12.5 V).{worse} "
            f"{WEAK_12V_SOS}"
        )
    return head + (
        f"{_soc(soc)}. Below 12.0 V a lead-acid battery is damaged for good and "
        f"the next start may fail. Charge it today with a proper charger, then have it load-tested; "
        f"if it does not hold the charge, replace it. {REGISTER} {WEAK_12V_SOS}"
    )


def weak_cranking(sev: int, c: dict[str, Any]) -> str:
    v, temp, limit = c["v_min"], c["temp"], c["limit"]
    # the limits in force are the ones at this temperature: say which, and when it is assumed
    if c.get("assumed") and c.get("charge_v") is not None:
        at = (f" (no battery temperature reading; the {c['charge_v']:.2f} V the alternator charged at "
              f"after the start shows at least {temp:.1f} °C: regulators charge higher in the cold)")
        here = f"at {temp:.1f} °C"
    elif c.get("assumed"):
        at = f" (no battery temperature reading: judged as if at {temp:.0f} °C, the coldest it may have been)"
        here = f"at {temp:.0f} °C"
    else:
        at = _temp(temp)
        here = f"at {temp:.1f} °C"
    if sev == NONE:
        return (
            f"The last starts kept the 12 V battery at {v:.2f} V or more{at}, above the "
            f"{c['info']:.2f} V a healthy battery holds {here}: cranking is healthy again."
        )
    dip = "" if c.get("dip") is None else f" (a {c['dip']:.2f} V dip)"
    what = "A stop-start restart" if c.get("restart") else "Engine start"
    soc = c.get("soc")
    low_charge = (
        f" The battery was only about {soc:.0f} % charged when it last rested (a start is a fair "
        f"test from {c['min_soc']:.0f} %), so the low charge is the likely reason: charge it fully "
        f"with a proper charger, then re-test the starts; if they stay this low, replace it. "
        f"{WEAK_12V_SOS}"
    ) if c.get("low_charge") and soc is not None else ""
    if c.get("failed"):
        head = (
            f"An engine start attempt at {when(c['t'])} did not start the engine: another attempt followed "
            f"within {c['failed_s'] / 60.0:.0f} min with no sign of the alternator charging in between. The "
            f"battery fell to {v:.2f} V{dip}{at} during that attempt"
        )
        if low_charge:
            return head + "." + low_charge
        return head + (
            ". A battery that can no longer turn the engine over fast enough is the usual cause, above "
            "all in the cold; if the starter turned briskly, look at the engine (fuel, ignition) instead. "
            f"Have the battery load-tested now and replaced if it fails. {REGISTER} {WEAK_12V_SOS}"
        )
    head = f"{what} pulled the 12 V battery down to {v:.2f} V{dip}{at}"
    if sev == CRITICAL:
        # a start just above the limit keeps a raised level (the alert ends only clear of it)
        past = f"below {c['crit']:.1f} V" if v < c["crit"] else (
            f"only just above {c['crit']:.1f} V (the alert ends from {c['crit_end']:.2f} V)")
        if low_charge:
            return head + f", {past}, the critical level.{low_charge}"
        return head + (
            f", {past}: the battery can barely turn the engine over and the next "
            f"cold start may fail. Have it load-tested and replaced now. {REGISTER} {WEAK_12V_SOS}"
        )
    if sev == INFO and c.get("unsure"):
        warm = c["warm_limit"]
        from_c = inverse(c["limit_table"], v)
        return (
            f"{what} pulled the 12 V battery down to {v:.2f} V{dip}. Without a battery temperature reading "
            f"battwatch cannot tell whether the battery is worn or the morning was cold: a used but sound "
            f"battery starts this low in frost, a weak one on a warm day. It is above {limit:.2f} V, the "
            f"load-test limit at {temp:.0f} °C, the coldest it may have been"
            + ("" if c.get("charge_v") is None else f" by the {c['charge_v']:.2f} V the alternator charged at")
            + f", and below {warm:.2f} V, the limit at 21 °C and above. If the car was warmer than about "
            f"{from_c:.0f} °C when it started, have the battery load-tested; a temperature reading "
            f"would settle it."
        )
    if sev == INFO:
        level = f"the {c['info']:.2f} V information level {here} (10.5 V at 21 °C and above)"
        past = f"below {level}" if v < c["info"] else (
            f"only just above {level}, short of the {c['info_end']:.2f} V that ends the alert")
        if v < limit:
            # a warning still being confirmed (two starts in a row): the words follow the start
            return head + (
                f", {past}, and under the {limit:.2f} V load-test limit {here} as well: if the next "
                f"start is as low, this becomes a warning. The battery may be losing its cranking power."
            )
        return head + (
            f", {past}, but above the {limit:.2f} V load-test limit: the battery is not as strong as a "
            f"new one. Nothing to do yet: have it tested at the next service."
        )
    if c.get("low_charge") and soc is not None:
        # under the charge gate: weak for its charge, but no verdict on the battery yet
        return head + (
            f", more than {c['margin']:.2f} V under the {limit:.2f} V load-test limit {here}, further "
            f"than a low charge alone explains. But the battery was only about {soc:.0f} % charged when "
            f"it last rested, and a start is a fair load test only from {c['min_soc']:.0f} %: charge the "
            f"battery and re-test (a full charge with a proper charger, or a long drive, then watch the "
            f"next starts). If the starts of a charged battery stay this low, it is losing its cranking "
            f"power. {WEAK_12V_SOS}"
        )
    just = "" if v < limit else f", only just above the limit (the alert ends from {c['warn_end']:.2f} V)"
    return head + (
        f"{just}; a healthy battery stays above the {limit:.2f} V load-test limit {here} (9.6 V at 21 °C "
        f"and above, lower in the cold). The battery is losing its cranking power: have "
        f"it load-tested and plan a replacement before a cold morning leaves you stranded. "
        f"{WEAK_12V_SOS}"
    )


def undercharging(sev: int, c: dict[str, Any]) -> str:
    mins = c["duration_s"] / 60.0
    avg, vmax = c["avg"], c["max"]
    if sev == NONE:
        return (
            f"The last drive ({mins:.0f} min) averaged {avg:.2f} V with peaks of {vmax:.2f} V: the "
            f"charging system is charging the battery again."
        )
    head = f"The last drive ({mins:.0f} min) averaged {avg:.2f} V and peaked at {vmax:.2f} V"
    rec = c.get("rec")
    rec_words = (
        f"{c['rec_after_s']:.0f} s after the start it read only {rec:.2f} V (a charging alternator holds "
        f"{c['rec_warn']:.1f} V or more by then)"
    ) if rec is not None and c.get("rec_low") else ""
    if sev == CRITICAL:
        if avg < c["avg_crit"]:
            cause = f", below {c['avg_crit']:.1f} V on average: the battery is discharging while you drive"
        elif not rec_words:  # held by the level that ends it (the warning's)
            cause = (f", back above the {c['avg_crit']:.1f} V critical level but still below the "
                     f"{c['avg_warn']:.1f} V that ends it: the battery is barely charged while you drive")
        else:
            cause = f"; {rec_words}, below {c['rec_crit']:.1f} V: the alternator did not take over from the battery"
        return head + (
            f"{cause}, so the car may stall or not restart. Have the alternator, its belt and wiring "
            f"checked before longer trips. {WEAK_12V_SOS}"
        )
    why: list[str] = []
    if avg < c["avg_warn"]:
        why.append(f"a drive should average at least {c['avg_warn']:.1f} V")
    if c.get("max_low"):
        why.append(f"the charging voltage should reach {c['max_warn']:.1f} V at some point in a drive of "
                   f"{c['max_min_s'] / 60.0:.0f} min or more")
    if rec_words:
        why.append(rec_words)
    # nothing else: the average holds the warning above its level but below the one that ends it
    reason = "; ".join(why) or (
        f"its average is back above the {c['avg_warn']:.1f} V warning level but still below the "
        f"{c['avg_clear']:.1f} V that ends it")
    worse = (
        f" This drive averaged below {c['avg_crit']:.1f} V, the critical level: if the next drives are "
        f"as low, this becomes critical."
    ) if avg < c["avg_crit"] else ""
    return head + (
        f"; {reason}. The alternator is not keeping the battery charged (BMW's smart charging "
        f"sits at 12.5-13 V between braking phases, but not for a whole drive). Have the charging "
        f"system checked soon.{worse}"
    )


def overvoltage(sev: int, c: dict[str, Any]) -> str:
    v = c["v"]
    if sev == NONE:
        return f"Charging voltage is back to {v:.2f} V, below {c['clear']:.1f} V."
    if c.get("immediate"):
        return (
            f"The 12 V system averaged {v:.2f} V with the engine running, above the {c['limit']:.1f} V "
            f"that 12 V equipment is built for (ISO 16750-2): the voltage regulator has failed. Stop "
            f"driving when safe and have the alternator checked; electronics can be damaged."
        )
    head = f"The 12 V system held {v:.2f} V with the engine running, {level_words(sev, v, c, low=False, digits=1)}"
    if sev == CRITICAL:
        return head + (
            " (BMW charges at 14.8 V at most). Overcharging dries out an AGM battery "
            "and stresses every control unit: have the alternator and regulator checked before "
            "driving far."
        )
    worse = _pending_worse(sev, v, c, low=False)
    if sev == INFO:
        return head + (
            f" (BMW charges at 14.8 V at most). Nothing to do yet; if "
            f"it happens on every drive or climbs, have the voltage regulator checked.{worse}"
        )
    return head + (
        f" (BMW charges at 14.8 V at most). A faulty voltage regulator overcharges "
        f"the battery: have the alternator checked.{worse}"
    )


def _hours(h: float) -> str:
    if h < 1.0:
        return "less than an hour"
    if h < 36.0:
        return f"about {h:.0f} hours"
    return _days(h / 24.0)


def parasitic_drain(sev: int, c: dict[str, Any]) -> str:
    rate, expected, span_h = c["rate_mv_12h"], c["expected_mv_12h"], c["span_h"]
    head = (
        f"While the car slept, the rested 12 V voltage fell {rate:.0f} mV per 12 h (measured over "
        f"{span_h:.0f} h{', corrected to 25 °C' if c['temp_known'] else ''}); the expected sleep current "
        f"({c['sleep_ma']:.0f} mA) explains about {expected:.0f} mV"
    )
    if sev == NONE:
        return head + ". The drain is back to normal."
    excess = c["excess_mv_12h"]
    if c.get("early"):
        # a short span only speaks of a heavy fall: it says which bar it cleared
        bar = c["early_crit"] if sev == CRITICAL else c["early_warn"]
        level = (f", {excess:.0f} mV more: past {bar:.0f} mV per 12 h, {c['early_factor']:g}x the "
                 f"{_level_of(sev, c):.0f} mV {_LEVEL_NAMES[sev]} level, the bar for a measurement this short")
    elif c.get("sustained") and sev >= WARNING:
        # under the per-12-h levels, but kept up long enough to show: the current, not the rate
        # (a sustained drain draws at least SUSTAINED_MIN_MA, so quarter_h is known); the
        # information a sustained verdict can raise first (its debounce) says the level it passed
        extra_ma = c["extra_a"] * 1000.0
        level = (f", {excess:.0f} mV more: about {extra_ma:.0f} mA beyond the expected sleep current "
                 f"({extra_ma / c['ref_ma']:.1f}x it; a warning from {c['sustained_factor']:g}x), kept up over "
                 f"{span_h:.0f} h ({c['fall_mv']:.0f} mV more than expected, more than a healthy park can lose). "
                 f"A drain this size takes a quarter of the charge in {_hours(c['quarter_h'])}")
    else:
        level = f", {excess:.0f} mV more, past the {_level_of(sev, c):.0f} mV per 12 h {_LEVEL_NAMES[sev]} level"
        doubt = c.get("temp_mv_12h") or 0.0
        if sev < CRITICAL and doubt >= 1.0 and excess > _level_of(sev + 1, c):
            # past the next level as measured, held below it by the temperature's doubt
            level += (f" (up to {doubt:.0f} mV of it may come from the temperature correction, with the battery "
                      f"lagging its sensor: not yet the {_LEVEL_NAMES[sev + 1]} level)")
    amps = c["extra_a"]
    hours = c.get("hours_to_half")
    soc = c.get("soc")
    if hours is None:
        runway = ""
    elif hours <= 0.0:
        runway = f" The battery is already below half charge (about {soc:.0f} %): charge it before the next start."
    else:
        runway = (f" At this rate the battery (about {soc:.0f} % charged, {c['capacity_ah']:.0f} Ah) is at "
                  f"half charge in {_hours(hours)}.")
    tail = (
        f". Something draws roughly {amps:.2f} A extra with the car asleep: a module that does not "
        f"go to sleep, an aftermarket device, a light left on, or a battery with a soft short."
        f"{runway} Have the closed-circuit current measured (BMW's limit is 80 mA)."
    )
    if sev == INFO:
        return head + level + tail.replace(
            "Have the closed-circuit", "Worth watching; if it persists, have the closed-circuit")
    return head + level + tail


def main_decline(sev: int, c: dict[str, Any]) -> str:
    if sev == NONE:
        return "The 12 V battery's rested voltage and start dips are no longer trending towards their limits."
    parts = []
    if c.get("ocv_date"):
        parts.append(
            f"its rested voltage (corrected to 25 °C) is falling {c['ocv_slope_mv']:.1f} mV per day "
            f"({c['ocv_n']} daily values) and reaches {c['ocv_level']:.2f} V around {c['ocv_date']}"
        )
    if c.get("dip_date") or c.get("t_level"):
        dips = (
            f"its start dips are {c['dip_pct']:+.0f} % against its first weeks at the same temperature "
            f"({c['dip_n']} starts"
        )
        lvl = c.get("t_level", NONE)
        if lvl:
            limit = c["dip_crit"] if lvl == CRITICAL else c["dip_warn"] if lvl == WARNING else c["dip_info"]
            if c["dip_pct"] >= limit:  # (not while it only holds above the clear level)
                dips += f"; {_LEVEL_NAMES[lvl]} from +{limit:.0f} %"
        dips += ")"
        if c.get("dip_date"):
            if c["dip_pct"] >= (c["dip_factor"] - 1.0) * 100.0:
                # the fitted trend crosses "now": say where the dips are, not a date already past
                dips += f", already past {c['dip_factor']:.1f} x that baseline"
            else:
                dips += f" and reach {c['dip_factor']:.1f} x that baseline around {c['dip_date']}"
        parts.append(dips)
    what = "; ".join(parts)
    if sev == INFO:
        return (
            f"The 12 V battery is starting to wear: {what}. A deeper start dip means a higher internal "
            f"resistance. Nothing to do yet: have it tested at the next service."
        )
    act = (
        "Plan a replacement soon; lead-acid batteries often fail suddenly at the end."
        if sev == CRITICAL
        else "Have it tested at the next opportunity and plan a replacement."
    )
    return f"The 12 V battery is wearing out: {what}. {act} {REGISTER}"


def main_age(sev: int, c: dict[str, Any]) -> str:
    age, installed, life = c["age"], c["installed"], c["life"]
    kind = TYPE_NAMES.get(c["type"], c["type"])
    head = f"The 12 V battery is {_years(age)} old (installed {installed}); {kind} batteries typically last about {life:g} years"
    if sev == NONE:
        return f"The 12 V battery's installation date is {installed}: it is {_years(age)} old."
    if sev == INFO:
        return head + ". Nothing wrong yet: have it tested at the next service."
    if sev == WARNING:
        left = c["crit"] - age  # the same words as the summary's remaining life (§6)
        ahead = (
            "it closes within a month" if left * 12.0 < 0.75
            else f"at most {span(left)} left before the {c['crit']:g}-year mark"
        )
        return head + (
            f", so it is past the {c['warn']:g}-year mark and in its replacement window: {ahead}. "
            f"Have it load-tested before winter and budget for a replacement. {WEAK_12V_SOS}"
        )
    return head + (
        f", so it is past the {c['crit']:g}-year mark: replace it before it leaves you stranded. "
        f"{REGISTER} {WEAK_12V_SOS}"
    )


# -- SOS backup pack -------------------------------------------------------------------------------


def _pack(c: dict[str, Any]) -> str:
    return f"{c['cells']}-cell {CHEM_NAMES.get(c['chem'], c['chem'])} pack"


def _sos_rested(c: dict[str, Any]) -> str:
    """"rested at 4.84 V (1.21 V per cell)", with the temperature correction when one was made."""
    v, cells, temp = c["v"], c["cells"], c.get("temp")
    # without a 12 V channel nothing tells rest from a load: only that the pack is off charge
    verb = "read" if c.get("own") else "rested at"
    off = " off charge" if c.get("own") else ""
    if temp is None:
        return f"{verb} {v:.2f} V{off} ({v / cells:.2f} V per cell)"
    if f"{c['raw']:.2f}" == f"{v:.2f}":  # a correction that changes nothing is not repeated
        return f"{verb} {v:.2f} V{off} at {temp:.1f} °C ({v / cells:.2f} V per cell)"
    return (
        f"{verb} {c['raw']:.2f} V{off} at {temp:.1f} °C, {v:.2f} V at {c['ref']:.0f} °C "
        f"({v / cells:.2f} V per cell)"
    )


def sos_low_voltage(sev: int, c: dict[str, Any]) -> str:
    if sev == NONE:
        return f"SOS backup battery {_sos_rested(c)}, back above {c['clear']:.2f} V for a {_pack(c)}."
    coming_down = int(c.get("from") or NONE) > sev  # a de-escalation: the words say why the lower level holds
    head = f"SOS backup battery {_sos_rested(c)}, {level_words(sev, c['v'], c, low=True)} "
    trend = c.get("trend_date")
    if sev == INFO and c.get("parked_days") is not None:
        own = bool(c.get("own"))
        return head + (
            f"for a {_pack(c)}, after {_days(c['parked_days'])} "
            f"{'off charge' if own else 'parked'} at {c['park_temp']:.0f} °C on average. A healthy pack "
            f"loses about {c['expected_pct']:.0f} % of its charge in that time ({c['healthy_pct_month']:g} % "
            f"a month at 20 °C, faster when warm), which explains the fall: "
            f"{'a charge restores it' if own else 'the telematics unit recharges it while the car is driven'}. "
            f"Still enough for an emergency call; if it stays this low after "
            f"{'its next charge' if own else 'a week of driving'}, have it checked."
        )
    if sev == INFO:
        return head + (
            f"for a {_pack(c)}. Still enough for an emergency call; watch the trend."
        )
    if sev == WARNING and coming_down:
        return head + (
            f"for a {_pack(c)}. The pack is taking charge again, but one that ran this low "
            f"is likely worn: plan a replacement of the SOS backup battery ({SOS_PACK_COST}) before the "
            f"car reports 'SOS Call System Failure'."
        )
    if sev == WARNING:
        ahead = f"; at the current trend it reaches the critical level around {trend}" if trend else ""
        return head + (
            f"for a {_pack(c)}. The pack is running down{ahead}. Plan a replacement of "
            f"the SOS backup battery ({SOS_PACK_COST}) before the car reports 'SOS Call System Failure'."
        )
    return head + (
        f"for a {_pack(c)}: it can probably no longer hold an emergency call for the "
        f"required minutes. Replace the SOS backup battery ({SOS_PACK_COST}). {SOS_NEXT_SUSPECTS}"
    )


def _at_ref(c: dict[str, Any]) -> str:
    return "" if c.get("ref_c") is None else f" and brought to {c['ref_c']:.0f} °C"


def step_drop(sev: int, c: dict[str, Any]) -> str:
    if sev == NONE:
        return (
            f"SOS backup battery rests at {c['v']:.2f} V again, within {c['margin']:.1f} V of its "
            f"{c['ref']:.2f} V before the drop (a new pack?)."
        )
    drop = c["ref"] - c["v"]
    like = c.get("like", "with the car asleep")
    if c.get("floor"):  # against the rested level: charging and relaxation only add to it
        head = (
            f"SOS backup battery read {c['v']:.2f} V {like}, {drop:.2f} V below its rested level of "
            f"{c['ref']:.2f} V before (a pack in use never reads below it)"
        )
    else:
        head = (
            f"SOS backup battery dropped from {c['ref']:.2f} V to {c['v']:.2f} V (-{drop:.2f} V) within "
            f"{'minutes' if c.get('fast') else 'hours'}, both measured {like}{_at_ref(c)}"
        )
    if sev == CRITICAL:
        return head + (
            f": that is about one cell of the {_pack(c)}, so a cell has probably shorted and the pack "
            f"cannot hold an emergency call. Replace the SOS backup battery ({SOS_PACK_COST}). "
            f"{SOS_NEXT_SUSPECTS}"
        )
    return head + (
        f" (warning at {c['warn']:.2f} V). A cell is failing or a connection is poor: have the pack "
        f"checked and plan its replacement ({SOS_PACK_COST})."
    )


def self_discharge(sev: int, c: dict[str, Any]) -> str:
    rate, base, ratio = c["rate_pct"], c["base_pct"], c["ratio"]
    if c["learned"]:
        normal = (
            f"its own normal rate of {base:.2f} % a day, learned over its first {c['n_base']} parks "
            f"this charged"
        )
    else:  # the parks it learned from barely moved: the chemistry's healthy rate stands in
        normal = (
            f"the {base:.2f} % a day ({c['healthy_pct_month']:g} % a month) of a healthy "
            f"{CHEM_NAMES.get(c['chem'], c['chem'])} pack, more than it showed over its first "
            f"{c['n_base']} parks this charged"
        )
    head = (
        f"While the car slept, the SOS backup battery lost about {rate:.2f} % of its charge per day "
        f"({c['rate_mv']:.1f} mV per day, measured over {c['span_h']:.0f} h, brought to 20 °C), "
        f"{ratio:.1f} x {normal}"
    )
    if sev == NONE:
        return head + ": its self-discharge is back to normal."
    held = "" if ratio >= c["warn_ratio"] else f"; it ends below {c['warn_clear_ratio']:.1f} x"
    return head + (
        f" (warning from {c['warn_ratio']:.1f} x{held}). A pack that leaks this fast may not have the "
        f"charge for an emergency call after a long park. Plan a replacement of the SOS backup "
        f"battery ({SOS_PACK_COST}) before the car reports 'SOS Call System Failure'."
    )


def sos_decline(sev: int, c: dict[str, Any]) -> str:
    if sev == NONE:
        return (
            f"The SOS backup battery's rested voltage is no longer heading for the {c['warn_level']:.2f} V "
            f"warning level within {c['clear_days']:.0f} days."
        )
    reach = (
        f"is already at the {c['warn_level']:.2f} V warning level for a {_pack(c)}"
        if c.get("warn_past") else
        f"reaches the {c['warn_level']:.2f} V warning level for a {_pack(c)} around {c['warn_date']}"
    )
    head = (
        f"The SOS backup battery's rested voltage is falling {-c['slope_mv']:.2f} mV per day "
        f"(robust trend over {c['n']} days, 90 % range {-c['upper_mv']:.2f}-{-c['lower_mv']:.2f} mV/day) "
        f"and {reach}"
    )
    if sev == CRITICAL:
        return head + (
            f", and {'reaches ' if c.get('warn_past') else ''}the {c['crit_level']:.2f} V critical level "
            f"around {c['crit_date']}. Replace the "
            f"SOS backup battery now ({SOS_PACK_COST}). {SOS_NEXT_SUSPECTS}"
        )
    return head + (
        f". Plan a replacement of the SOS backup battery ({SOS_PACK_COST}) before the car reports "
        f"'SOS Call System Failure'."
    )


def sos_age(sev: int, c: dict[str, Any]) -> str:
    age, lo, hi = c["age"], c["life_min"], c["life_max"]
    head = (
        f"The SOS backup battery is {_years(age)} old (installed {c['installed']}); "
        f"{CHEM_NAMES.get(c['chem'], c['chem'])} backup packs last {lo:g}-{hi:g} years"
    )
    if sev == NONE:
        return f"The SOS backup battery's installation date is {c['installed']}: it is {_years(age)} old."
    if sev == INFO:
        return head + (
            f", so its replacement window opens in {_within(lo - age)}. Nothing to do yet; "
            f"budget for a new pack ({SOS_PACK_COST})."
        )
    if sev == WARNING:
        left = hi - age
        ahead = (
            "the window closes within a month" if left * 12.0 < 0.75
            else f"expected remaining life at most {span(left)}"
        )
        return head + (
            f", so it is inside its replacement window: {ahead}. Replacing it now ({SOS_PACK_COST}) "
            f"avoids an 'SOS Call System Failure' message."
        )
    return head + (
        f", and it is {span(age - hi)} past the end of that window: replace it ({SOS_PACK_COST}) "
        f"before it fails. {SOS_NEXT_SUSPECTS}"
    )


def _within(years: float) -> str:
    """"about 2.1 years", "about 5 months", "less than a month" for a time still ahead."""
    words = span(max(0.0, years))
    return words if words.startswith(("less", "about")) else f"about {words}"


# -- sensors ---------------------------------------------------------------------------------------

_FAULT_WHAT = {
    "open": "the tap is disconnected, its fuse has blown or the wire is open",
    "range": "the ADC input is saturated, reversed or wrongly calibrated",
    "loose": (
        "the contact is intermittent: a loose connector, terminal or crimp makes and breaks the "
        "circuit, so the reading drops to 0 V now and then"
    ),
    "stuck": "the ADC or its firmware is repeating a frozen value",
    "silent": "the logger, its power or its link is not delivering data",
}


def sensor_fault(sev: int, c: dict[str, Any]) -> str:
    ch = CHANNEL_NAMES[c["battery"]]
    battery = "12 V battery" if c["battery"] == "main" else "SOS backup battery"
    if sev == NONE:
        v = c.get("v")
        now = "" if v is None else f" ({v:.2f} V)"
        return f"{ch} channel readings are plausible again{now}; {battery} alerts resume."
    kind = c["kind"]
    if kind == "open":
        seen = f"reads {c['v']:.2f} V, below the {c['limit']:.1f} V no real {battery} can show"
    elif kind == "range":
        seen = f"reads {c['v']:.2f} V, outside the possible {c['lo']:.1f}-{c['hi']:.1f} V"
    elif kind == "loose":
        seen = f"touched 0 V in {c['count']} readings within {c['window_h']:.0f} h and read normally in between"
    elif kind == "stuck" and c.get("why"):
        seen = f"repeated exactly {c['v']:.3f} V for {c['hours']:.1f} h, {c['why']}"
    elif kind == "stuck":
        seen = f"repeated exactly {c['v']:.3f} V with no noise at all for {c['hours']:.1f} h"
    else:
        seen = f"has sent nothing since {when(c['last_t'])} ({c['reason']})"
    return (
        f"{ch} channel {seen}: {_FAULT_WHAT[kind]}. This is a sensor problem, not a battery verdict: "
        f"{battery} alerts are held as they are until the readings are plausible again. Check the "
        f"tap, its fuse and connector, and the logger."
    )


def config_mismatch(sev: int, c: dict[str, Any]) -> str:
    main = c["battery"] == "main"
    name = "12 V battery" if main else "SOS backup battery"
    if sev == NONE:
        return (f"The {name} readings fit the configuration again ({c['v']:.2f} V, as {c['configured']} "
                f"can read); its alerts resume.")
    kind = "battery" if main else "pack"
    if c.get("pack"):  # a backup pack's readings in the 12 V column
        alike = "an SOS backup pack on the 12 V column (" + ", or ".join(
            f"{n} {chem} cell{'s' if n > 1 else ''}, {nominal:g} V" for chem, n, nominal in c["alike"]) + ")"
    else:
        alike = ", or ".join(
            f"a {nominal:g} V {kind} ({n} {chem} cell{'s' if n > 1 else ''})" for chem, n, nominal in c["alike"])
    reads = (f"at least {c['fit_lo']:.1f} V in use, even worn" if c["hi"] < c["fit_lo"]
             else f"{c['fit_lo']:.1f}-{c['fit_hi']:.1f} V in use")
    return (f"The {name} readings cannot come from the configured battery ({c['configured']}, which reads "
            f"{reads}): they stay between {c['lo']:.2f} and {c['hi']:.2f} V, "
            f"which looks like {alike}. This is a configuration problem, not a battery verdict: the {name}'s "
            f"other alerts are withdrawn and nothing is judged until the readings fit. {c['keys']}")
