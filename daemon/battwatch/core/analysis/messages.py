"""The words of every alert: the sensors' and the configuration's here, both batteries' re-exported from messages_main and messages_sos."""

from __future__ import annotations

from typing import Any

from battwatch.core.analysis.engine import NONE
from battwatch.core.analysis.messages_base import day, level_words, span, when
from battwatch.core.analysis.messages_main import (
    REGISTER,
    TYPE_NAMES,
    WEAK_12V_SOS,
    main_age,
    main_decline,
    main_low_voltage,
    overvoltage,
    parasitic_drain,
    undercharging,
    weak_cranking,
)
from battwatch.core.analysis.messages_sos import (
    CHEM_NAMES,
    SOS_NEXT_SUSPECTS,
    SOS_PACK_COST,
    self_discharge,
    sos_age,
    sos_decline,
    sos_low_voltage,
    step_drop,
)

__all__ = [
    "CHANNEL_NAMES",
    "CHEM_NAMES",
    "REGISTER",
    "SOS_NEXT_SUSPECTS",
    "SOS_PACK_COST",
    "TYPE_NAMES",
    "WEAK_12V_SOS",
    "config_mismatch",
    "day",
    "level_words",
    "main_age",
    "main_decline",
    "main_low_voltage",
    "overvoltage",
    "parasitic_drain",
    "self_discharge",
    "sensor_fault",
    "sos_age",
    "sos_decline",
    "sos_low_voltage",
    "span",
    "step_drop",
    "undercharging",
    "weak_cranking",
    "when",
]

CHANNEL_NAMES = {"main": "12 V", "sos": "SOS"}

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
