"""The short words of every alert: headline, action, cost and the measured facts, as typed pieces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from battwatch.core.model import NO_FACTS, Facts
from battwatch.core.record import Record, record

# the engine's severities (battwatch.core.analysis.engine imports this module: no import back)
NONE: Final = 0
INFO: Final = 1
WARNING: Final = 2
CRITICAL: Final = 3
LEVEL_WORDS: Final = ("", "information", "warning", "critical")
# what a level's clearing point ends: "the 5.04 V that ends the warning" (not "the critical")
HELD_WORDS: Final = ("", "information alert", "warning", "critical alert")

# Repair prices the outputs quote (issue "Battery health analysis and alerts"). Only the SOS
# pack has a price in the project's sources; a 12 V battery's action carries none.
SOS_PACK_COST: Final = "typically $150-300"
REPLACE_SOS: Final = "Replace the SOS backup battery"
PLAN_SOS: Final = "Plan a replacement of the SOS backup battery"
CHECK_TAP: Final = "Check the tap, its fuse and connector, and the logger"
NO_ACTION: Final = "No action needed"


@record
class Brief(Record):
    """What a phone shows of one alert at one severity: made here, never cut from the full text.

    ``headline`` is the key measurement against its limit, a sentence without its full stop;
    ``action`` what to do ("" for nothing); ``cost`` its price ("" for none); ``limit`` the level
    the value was judged against (None: no single level).
    """

    headline: str
    action: str = ""
    cost: str = ""
    limit: float | None = None
    facts: Facts = NO_FACTS


BriefFn = Callable[[int, dict[str, Any]], Brief]


def _f(c: dict[str, Any], key: str) -> float | None:
    v = c.get(key)
    return None if v is None or isinstance(v, bool) else float(v)


def _limit(sev: int, c: dict[str, Any]) -> float | None:
    """The level of severity ``sev`` from a context holding "info", "warn" and "crit"."""
    key = "crit" if sev == CRITICAL else "warn" if sev == WARNING else "info"
    return _f(c, key)


def _held(value: float, sev: int, c: dict[str, Any], *, low: bool, digits: int = 2, unit: str = "V") -> str:
    """"below the 4.88 V warning level", or, inside the hysteresis, "under the 4.93 V that
    ends the warning" (short: an eased alert's phone text must keep the action whole)."""
    lim = _limit(sev, c)
    if lim is None:
        return ""
    name = LEVEL_WORDS[sev]
    past = value < lim if low else value > lim
    if past:
        return f", {'below' if low else 'above'} the {lim:.{digits}f} {unit} {name} level"
    clear = _f(c, "crit_clear" if sev == CRITICAL else "warn_clear" if sev == WARNING else "info_clear")
    if clear is None:
        return f", near the {lim:.{digits}f} {unit} {name} level"
    return f", {'under' if low else 'over'} the {clear:.{digits}f} {unit} that ends the {HELD_WORDS[sev]}"


def _volts(raw: float, corrected: float | None, temp: float | None, ref: float | None) -> str:
    """"4.71 V at 12.0 °C (4.76 V at 20 °C)"; a correction that changes nothing is not repeated."""
    if temp is None:
        return f"{raw:.2f} V"
    if corrected is None or ref is None or f"{corrected:.2f}" == f"{raw:.2f}":
        return f"{raw:.2f} V at {temp:.0f} °C"
    return f"{raw:.2f} V at {temp:.0f} °C ({corrected:.2f} V at {ref:.0f} °C)"


# -- 12 V battery ----------------------------------------------------------------------------------


def main_low_voltage(sev: int, c: dict[str, Any]) -> Brief:
    v, v25, temp = float(c["v"]), float(c.get("v25", c["v"])), _f(c, "temp")
    facts = Facts(temp_c=temp, corrected_v=None if temp is None else v25,
                  corrected_to_c=None if temp is None else 25.0, soc_pct=_f(c, "soc"))
    if c.get("dead_cell"):
        return Brief(f"Reads {v:.2f} V while {c.get('state', 'parked')}: a cell has probably shorted",
                     "Have the battery tested and replaced", limit=_f(c, "limit"), facts=facts)
    read = f"Rested at {_volts(v, v25, temp, 25.0)}"
    if sev == NONE:
        return Brief(f"{read}, back above {float(c['clear']):.2f} V", NO_ACTION, facts=facts)
    action = ("Drive longer or charge it" if sev == INFO
              else "Drive for an hour or charge it" if sev == WARNING
              else "Charge it today, then have it load-tested")
    return Brief(read + _held(v25, sev, c, low=True), action, limit=_limit(sev, c), facts=facts)


def weak_cranking(sev: int, c: dict[str, Any]) -> Brief:
    v, temp = float(c["v_min"]), _f(c, "temp")
    facts = Facts(temp_c=temp, soc_pct=_f(c, "soc"))
    at = "" if temp is None else f" at {temp:.0f} °C"
    if sev == NONE:
        return Brief(f"Starts hold {v:.2f} V or more{at} again", NO_ACTION, facts=facts)
    limit = _f(c, "crit") if sev == CRITICAL else _f(c, "info") if sev == INFO else _f(c, "limit")
    if c.get("failed"):
        head = f"A start failed, the battery falling to {v:.2f} V{at}"
    else:
        what = "A stop-start restart" if c.get("restart") else "A start"
        head = f"{what} pulled it down to {v:.2f} V{at}"
        if limit is not None:
            head += f", {'below' if v < limit else 'just above'} the {limit:.2f} V {LEVEL_WORDS[sev]} limit"
    if c.get("low_charge") and c.get("soc") is not None:
        action = "Charge it fully, then watch the next starts"
    elif sev == INFO:
        action = "Have it tested at the next service"
    elif sev == WARNING:
        action = "Have it load-tested and plan a replacement"
    else:
        action = "Have it load-tested and replaced now"
    return Brief(head, action, limit=limit, facts=facts)


def undercharging(sev: int, c: dict[str, Any]) -> Brief:
    avg, vmax = float(c["avg"]), float(c["max"])
    facts = Facts(span_h=round(float(c["duration_s"]) / 3600.0, 2))
    head = f"The last drive averaged {avg:.2f} V, peak {vmax:.2f} V"
    if sev == NONE:
        return Brief(f"{head}: charging again", NO_ACTION, facts=facts)
    limit = _f(c, "avg_crit") if sev == CRITICAL else _f(c, "avg_warn")
    action = ("Have the alternator, belt and wiring checked before longer trips" if sev == CRITICAL
              else "Have the charging system checked soon")
    if limit is not None:
        head += f" (at least {limit:.1f} V expected)" if sev != CRITICAL else f" ({LEVEL_WORDS[sev]} below {limit:.1f} V)"
    return Brief(head, action, limit=limit, facts=facts)


def overvoltage(sev: int, c: dict[str, Any]) -> Brief:
    v = float(c["v"])
    if sev == NONE:
        return Brief(f"Charging at {v:.2f} V again, below {float(c['clear']):.1f} V", NO_ACTION)
    if c.get("immediate"):
        return Brief(f"Charging at {v:.2f} V, above the {float(c['limit']):.1f} V 12 V equipment takes",
                     "Stop when safe and have the alternator checked", limit=_f(c, "limit"))
    action = ("Have the voltage regulator checked if it recurs" if sev == INFO
              else "Have the alternator and regulator checked")
    return Brief(f"Charging at {v:.2f} V" + _held(v, sev, c, low=False, digits=1), action, limit=_limit(sev, c))


def parasitic_drain(sev: int, c: dict[str, Any]) -> Brief:
    rate = float(c["rate_mv_12h"])
    amps = _f(c, "extra_a")
    facts = Facts(rate_mv_per_day=round(-2.0 * rate, 1), span_h=_f(c, "span_h"), current_a=amps,
                  soc_pct=_f(c, "soc"))
    head = f"Asleep, it loses {rate:.0f} mV per 12 h"
    if sev == NONE:
        return Brief(f"{head}: back to normal", NO_ACTION, facts=facts)
    if amps is not None:
        head += f", about {amps:.2f} A more than the car should draw"
    action = ("Have the closed-circuit current measured if it persists" if sev == INFO
              else "Have the closed-circuit current measured")
    return Brief(head, action, limit=_limit(sev, c), facts=facts)


def main_decline(sev: int, c: dict[str, Any]) -> Brief:
    if sev == NONE:
        return Brief("Rested voltage and start dips no longer trending to their limits", NO_ACTION)
    slope = _f(c, "ocv_slope_mv")
    if c.get("ocv_date") and slope is not None:
        head = (f"Rested voltage falling {abs(slope):.1f} mV a day, {float(c['ocv_level']):.2f} V "
                f"around {c['ocv_date']}")
        facts = Facts(rate_mv_per_day=-abs(slope), crossing_date=str(c["ocv_date"]))
        limit = _f(c, "ocv_level")
    else:
        head = f"Start dips {float(c.get('dip_pct', 0.0)):+.0f} % deeper than in its first weeks"
        date = c.get("dip_date")
        facts = Facts(crossing_date=None if date is None else str(date))
        limit = None
    action = ("Have it tested at the next service" if sev == INFO
              else "Have it tested and plan a replacement" if sev == WARNING
              else "Plan a replacement soon")
    return Brief(head, action, limit=limit, facts=facts)


def main_age(sev: int, c: dict[str, Any]) -> Brief:
    age = float(c["age"])
    facts = Facts(age_years=round(age, 2))
    if sev == NONE:
        return Brief(f"{age:.1f} years old (installed {c['installed']})", NO_ACTION, facts=facts)
    head = f"{age:.1f} years old; such batteries last about {float(c['life']):g} years"
    action = ("Have it tested at the next service" if sev == INFO
              else "Have it load-tested and budget for a replacement" if sev == WARNING
              else "Replace it before it leaves you stranded")
    return Brief(head, action, limit=_limit(sev, c), facts=facts)


# -- SOS backup pack -------------------------------------------------------------------------------


def _sos_facts(c: dict[str, Any]) -> Facts:
    v, cells, temp = float(c["v"]), int(c.get("cells") or 1), _f(c, "temp")
    return Facts(temp_c=temp, corrected_v=None if temp is None else v,
                 corrected_to_c=None if temp is None else _f(c, "ref"),
                 per_cell_v=round(v / cells, 3))


def _sos_read(c: dict[str, Any]) -> str:
    v, temp = float(c["v"]), _f(c, "temp")
    raw = float(c.get("raw", v))
    verb = "Reads" if c.get("own") else "Rested at"
    return f"{verb} {_volts(raw, v, temp, _f(c, 'ref'))}"


def sos_low_voltage(sev: int, c: dict[str, Any]) -> Brief:
    facts = _sos_facts(c)
    v = float(c["v"])
    if sev == NONE:
        return Brief(f"{_sos_read(c)}, back above {float(c['clear']):.2f} V", NO_ACTION, facts=facts)
    head = _sos_read(c) + _held(v, sev, c, low=True)
    if sev == INFO:
        return Brief(head, "Nothing to do yet; watch the trend", limit=_limit(sev, c), facts=facts)
    if sev == WARNING:
        return Brief(head, PLAN_SOS, SOS_PACK_COST, _limit(sev, c), facts)
    return Brief(head, REPLACE_SOS, SOS_PACK_COST, _limit(sev, c), facts)


def step_drop(sev: int, c: dict[str, Any]) -> Brief:
    v, ref = float(c["v"]), float(c["ref"])
    facts = Facts(drop_v=round(ref - v, 3))
    if sev == NONE:
        return Brief(f"Rests at {v:.2f} V again, near its {ref:.2f} V before the drop", NO_ACTION, facts=facts)
    head = f"Dropped from {ref:.2f} V to {v:.2f} V"
    if sev == CRITICAL:
        return Brief(head + ": about one shorted cell", REPLACE_SOS, SOS_PACK_COST, _f(c, "crit"), facts)
    return Brief(head + ": a failing cell or a poor connection", "Have the pack checked",
                 SOS_PACK_COST, _f(c, "warn"), facts)


def self_discharge(sev: int, c: dict[str, Any]) -> Brief:
    rate, ratio = float(c["rate_pct"]), float(c["ratio"])
    facts = Facts(rate_mv_per_day=-abs(float(c["rate_mv"])), span_h=_f(c, "span_h"))
    head = f"Loses {rate:.2f} % of its charge a day asleep, {ratio:.1f} x its normal rate"
    if sev == NONE:
        return Brief(head + ": back to normal", NO_ACTION, facts=facts)
    return Brief(head, PLAN_SOS, SOS_PACK_COST, _f(c, "warn_ratio"), facts)


def sos_decline(sev: int, c: dict[str, Any]) -> Brief:
    if sev == NONE:
        return Brief(f"Rested voltage no longer heading for {float(c['warn_level']):.2f} V", NO_ACTION)
    slope = -float(c["slope_mv"])
    critical = sev == CRITICAL
    level = float(c["crit_level"] if critical else c["warn_level"])
    date = str(c["crit_date"] if critical else c.get("warn_date") or "")
    facts = Facts(rate_mv_per_day=-slope, crossing_date=date or None)
    if c.get("warn_past") and not critical:
        head = f"Falling {slope:.2f} mV a day, already at the {level:.2f} V warning level"
    else:
        head = f"Falling {slope:.2f} mV a day, at {level:.2f} V ({LEVEL_WORDS[sev]}) around {date}"
    if critical:
        return Brief(head, REPLACE_SOS + " now", SOS_PACK_COST, level, facts)
    return Brief(head, PLAN_SOS, SOS_PACK_COST, level, facts)


def sos_age(sev: int, c: dict[str, Any]) -> Brief:
    age, lo, hi = float(c["age"]), float(c["life_min"]), float(c["life_max"])
    facts = Facts(age_years=round(age, 2))
    if sev == NONE:
        return Brief(f"{age:.1f} years old (installed {c['installed']})", NO_ACTION, facts=facts)
    head = f"{age:.1f} years old; such packs last {lo:g}-{hi:g} years"
    if sev == INFO:
        return Brief(head, "Budget for a new pack", SOS_PACK_COST, lo, facts)
    if sev == WARNING:
        return Brief(head, "Replace it soon", SOS_PACK_COST, lo, facts)
    return Brief(head, REPLACE_SOS, SOS_PACK_COST, hi, facts)


# -- both batteries --------------------------------------------------------------------------------

_FAULT_HEAD = {
    "open": "disconnected or its fuse blown",
    "range": "out of range",
    "loose": "a loose contact",
    "stuck": "a frozen value",
    "silent": "no data from the logger",
}


def sensor_fault(sev: int, c: dict[str, Any]) -> Brief:
    channel = "12 V" if c.get("battery") == "main" else "SOS"
    if sev == NONE:
        return Brief(f"{channel} channel readings are plausible again", NO_ACTION)
    kind = str(c.get("kind", "silent"))
    v = _f(c, "v")
    seen = "" if v is None or kind in ("loose", "silent") else f" at {v:.2f} V"
    return Brief(f"{channel} channel{seen}: {_FAULT_HEAD.get(kind, kind)} (the sensor, not the battery)", CHECK_TAP)


# What to change when a channel's readings cannot be the configured battery's: battwatch
# judges 12 V starter batteries only, so for the 12 V channel it is the divider's calibration
MISMATCH_KEYS: Final = {
    "main": "If it is 12 V, check [adc.calibration.main] gain",
    "sos": "Set [battery.sos] chemistry and cells",
}
PACK_ON_MAIN_KEY: Final = "If so, import it with --column sos_v=COLUMN"


def _configured(c: dict[str, Any]) -> str:
    """"a 12 V starter battery" or "the configured 4 NiMH cells" (its nominal voltage left out)."""
    words = str(c["configured"]).split(",")[0]
    return words if words.startswith(("a ", "an ")) else f"the configured {words}"


def _look_alike(battery: str, alike: Any) -> str | None:
    """The likeliest battery the readings fit: "a 6 V battery", "1 Li-ion cell"."""
    if not alike:
        return None
    chem, n, nominal = alike[0]
    if battery == "main":
        return f"a {float(nominal):g} V battery"
    return f"{int(n)} {chem} cell{'s' if int(n) > 1 else ''}"


def config_mismatch(sev: int, c: dict[str, Any]) -> Brief:
    battery = str(c.get("battery", ""))
    if sev == NONE:
        return Brief(f"Readings fit {_configured(c)} again", NO_ACTION)
    seen = f"Readings of {float(c['lo']):.2f}-{float(c['hi']):.2f} V"
    if c.get("pack"):
        cells = _look_alike("sos", c.get("alike"))
        return Brief(f"{seen} look like an SOS pack ({cells}) on the 12 V column", PACK_ON_MAIN_KEY)
    alike = _look_alike(battery, c.get("alike"))
    if alike is None:
        head = f"{seen} cannot come from {_configured(c)}"
    elif battery == "main":
        head = f"{seen} look like {alike}, not a 12 V one"
    else:
        head = f"{seen} look like {alike}, not {_configured(c)}"
    return Brief(head, MISMATCH_KEYS.get(battery, "Correct the battery in the configuration"))


def replaced_hint(sev: int, c: dict[str, Any]) -> Brief:
    if sev == NONE:
        return Brief("No longer looks newly replaced", NO_ACTION)
    return Brief(f"Rested voltage stepped up from {float(c['before']):.2f} to {float(c['after']):.2f} V "
                 f"around {c['day']}: a new battery?", "If it was replaced, press its 'replaced' button")


BRIEFS: dict[str, BriefFn] = {
    "main/low_voltage": main_low_voltage,
    "main/weak_cranking": weak_cranking,
    "main/undercharging": undercharging,
    "main/overvoltage": overvoltage,
    "main/parasitic_drain": parasitic_drain,
    "main/decline": main_decline,
    "main/age": main_age,
    "sos/low_voltage": sos_low_voltage,
    "sos/step_drop": step_drop,
    "sos/self_discharge": self_discharge,
    "sos/decline": sos_decline,
    "sos/age": sos_age,
}
SHARED: dict[str, BriefFn] = {
    "sensor_fault": sensor_fault,
    "config_mismatch": config_mismatch,
    "replaced_hint": replaced_hint,
}


def generic(alert: str, sev: int) -> Brief:
    """For a context no brief reads (a withdrawn alert, a rule added without one)."""
    words = alert.replace("_", " ")
    if sev == NONE:
        return Brief(f"{words[:1].upper()}{words[1:]}: cleared", NO_ACTION)
    return Brief(f"{words[:1].upper()}{words[1:]} ({LEVEL_WORDS[sev]})", "See the full text")


def brief(battery: str, alert: str, sev: int, ctx: Any) -> Brief:
    """The brief of alert ``battery``/``alert`` at severity ``sev`` (NONE: its all-clear)."""
    if isinstance(ctx, dict) and sev == NONE:
        # cleared by something other than its rule: a replacement, or readings that do not fit
        if "replaced_on" in ctx:
            return Brief(f"Battery replaced on {ctx['replaced_on']}: its alerts start afresh", NO_ACTION)
        if ctx.get("withdrawn"):
            return Brief("Withdrawn: the readings do not fit the configured battery", "See config mismatch")
    fn = BRIEFS.get(f"{battery}/{alert}") or SHARED.get(alert)
    if fn is None or not isinstance(ctx, dict):
        return generic(alert, sev)
    try:
        return fn(sev, ctx)
    except (KeyError, TypeError, ValueError):  # a context a rule changed: the generic words stand in
        return generic(alert, sev)
