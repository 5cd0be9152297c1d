"""The words of the SOS backup pack's alerts: what was measured, against which limit, what it means, what to do."""

from __future__ import annotations

from typing import Any

from battwatch.core.analysis.briefs import PLAN_SOS, REPLACE_SOS, SOS_PACK_COST
from battwatch.core.analysis.engine import CRITICAL, INFO, NONE, WARNING
from battwatch.core.analysis.messages_base import days_words, level_words, span, years_words

# the price and the two actions are the short words' (briefs), whole sentences here
PLAN = f"{PLAN_SOS} ({SOS_PACK_COST}) before the car reports 'SOS Call System Failure'."
REPLACE = f"{REPLACE_SOS} ({SOS_PACK_COST})."
SOS_NEXT_SUSPECTS = (
    "If the car already shows 'SOS Call System Failure' and a new pack does not cure it, the next "
    "suspects are a telematics software update ($100-250), the antenna ($200-600) and the "
    "telematics unit itself ($800-1,500)."
)

CHEM_NAMES = {"nimh": "NiMH", "li-ion": "Li-ion", "lifepo4": "LiFePO4"}


def _pack(c: dict[str, Any]) -> str:
    return f"{c['cells']}-cell {CHEM_NAMES.get(c['chem'], c['chem'])} pack"


def _a_pack(c: dict[str, Any]) -> str:
    """"a 4-cell NiMH pack", or "an" where the number is said with a vowel first (8, 11, 18, 80 ...)."""
    n = str(c["cells"])
    return f"{'an' if n.startswith('8') or n in ('11', '18') else 'a'} {_pack(c)}"


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
        return f"SOS backup battery {_sos_rested(c)}, back above {c['clear']:.2f} V for {_a_pack(c)}."
    coming_down = int(c.get("from") or NONE) > sev  # a de-escalation: the words say why the lower level holds
    head = f"SOS backup battery {_sos_rested(c)}, {level_words(sev, c['v'], c, low=True)} "
    trend = c.get("trend_date")
    if sev == INFO and c.get("parked_days") is not None:
        own = bool(c.get("own"))
        return head + (
            f"for {_a_pack(c)}, after {days_words(c['parked_days'])} "
            f"{'off charge' if own else 'parked'} at {c['park_temp']:.0f} °C on average. A healthy pack "
            f"loses about {c['expected_pct']:.0f} % of its charge in that time ({c['healthy_pct_month']:g} % "
            f"a month at 20 °C, faster when warm), which explains the fall: "
            f"{'a charge restores it' if own else 'the telematics unit recharges it while the car is driven'}. "
            f"Still enough for an emergency call; if it stays this low after "
            f"{'its next charge' if own else 'a week of driving'}, have it checked."
        )
    if sev == INFO:
        return head + (
            f"for {_a_pack(c)}. Still enough for an emergency call; watch the trend."
        )
    if sev == WARNING and coming_down:
        return head + (
            f"for {_a_pack(c)}. The pack is taking charge again, but one that ran this low "
            f"is likely worn: {PLAN[:1].lower()}{PLAN[1:]}"
        )
    if sev == WARNING:
        ahead = f"; at the current trend it reaches the critical level around {trend}" if trend else ""
        return head + (
            f"for {_a_pack(c)}. The pack is running down{ahead}. {PLAN}"
        )
    return head + (
        f"for {_a_pack(c)}: it can probably no longer hold an emergency call for the "
        f"required minutes. {REPLACE} {SOS_NEXT_SUSPECTS}"
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
            f"cannot hold an emergency call. {REPLACE} {SOS_NEXT_SUSPECTS}"
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
        f"charge for an emergency call after a long park. {PLAN}"
    )


def sos_decline(sev: int, c: dict[str, Any]) -> str:
    if sev == NONE:
        return (
            f"The SOS backup battery's rested voltage is no longer heading for the {c['warn_level']:.2f} V "
            f"warning level within {c['clear_days']:.0f} days."
        )
    reach = (
        f"is already at the {c['warn_level']:.2f} V warning level for {_a_pack(c)}"
        if c.get("warn_past") else
        f"reaches the {c['warn_level']:.2f} V warning level for {_a_pack(c)} around {c['warn_date']}"
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
        f". {PLAN}"
    )


def sos_age(sev: int, c: dict[str, Any]) -> str:
    age, lo, hi = c["age"], c["life_min"], c["life_max"]
    head = (
        f"The SOS backup battery is {years_words(age)} old (installed {c['installed']}); "
        f"{CHEM_NAMES.get(c['chem'], c['chem'])} backup packs last {lo:g}-{hi:g} years"
    )
    if sev == NONE:
        return f"The SOS backup battery's installation date is {c['installed']}: it is {years_words(age)} old."
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
