"""The words of the 12 V battery's alerts: what was measured, against which limit, what it means, what to do."""

from __future__ import annotations

import math
from typing import Any

from battwatch.core.analysis.briefs import LEVEL_WORDS
from battwatch.core.analysis.engine import CRITICAL, INFO, NONE, WARNING
from battwatch.core.analysis.messages_base import (
    days_words,
    level_of,
    level_words,
    span,
    when,
    years_words,
)
from battwatch.core.tables import inverse

# advice the 12 V texts end with (issue "Battery health analysis and alerts")
WEAK_12V_SOS = "A weak 12 V battery is also a common trigger of the 'SOS Call System Failure' message."
REGISTER = "On a BMW the new battery must be registered to the car so that charging adapts to it."

TYPE_NAMES = {"agm": "AGM", "efb": "EFB", "flooded": "flooded"}


def _temp(temp_c: float | None) -> str:
    return "" if temp_c is None else f" at {temp_c:.1f} °C"


def _soc(soc: float | None) -> str:
    return "" if soc is None else f"about {soc:.0f} % charged"


def _pending_worse(sev: int, value: float, c: dict[str, Any], *, low: bool) -> str:
    """Words for a value already past the next level up, while that level is being confirmed."""
    if sev == CRITICAL:
        return ""
    for higher in (CRITICAL, WARNING):
        if higher <= sev:
            continue
        lim = level_of(higher, c)
        if (value < lim) if low else (value > lim):
            return (f" It is already past the {lim:.2f} V {LEVEL_WORDS[higher]} level; if that holds, "
                    f"this becomes {LEVEL_WORDS[higher]}.")
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
    return days_words(h / 24.0)


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
                 f"{level_of(sev, c):.0f} mV {LEVEL_WORDS[sev]} level, the bar for a measurement this short")
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
        level = f", {excess:.0f} mV more, past the {level_of(sev, c):.0f} mV per 12 h {LEVEL_WORDS[sev]} level"
        doubt = c.get("temp_mv_12h") or 0.0
        nxt = level_of(sev + 1, c) if sev < CRITICAL else math.inf
        if excess - doubt >= nxt:
            # past the next level even without the fall the temperature may have made: that
            # level is raised once the debounce's later verdicts find it too
            level += (f" (and past the {nxt:.0f} mV {LEVEL_WORDS[sev + 1]} level too: this becomes "
                      f"{LEVEL_WORDS[sev + 1]} if later verdicts confirm it)")
        elif doubt >= 1.0 and excess > nxt:
            # past the next level as measured, held below it by the temperature's doubt
            level += (f" (up to {doubt:.0f} mV of it may come from the temperature correction, with the battery "
                      f"lagging its sensor: not yet the {LEVEL_WORDS[sev + 1]} level)")
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
                dips += f"; {LEVEL_WORDS[lvl]} from +{limit:.0f} %"
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
    head = f"The 12 V battery is {years_words(age)} old (installed {installed}); {kind} batteries typically last about {life:g} years"
    if sev == NONE:
        return f"The 12 V battery's installation date is {installed}: it is {years_words(age)} old."
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
