"""The text ``battwatch status`` prints, from what ``status.collect`` gathered."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from battwatch.core.healthsummary import (
    BatterySummary,
    Fault,
    SelfDischarge,
    VehicleSummary,
    life_words,
    trend_gap_words,
)


def _why_no_state(main: BatterySummary | None) -> str:
    """Why the vehicle state is unknown: only the 12 V channel tells the states apart."""
    if main is not None and not main.channel_seen:
        return "no 12 V channel in the readings, and only it tells the states apart"
    if main is None or main.fault is not None:
        return "the 12 V channel, which tells the states apart, has a sensor fault"
    return "the 12 V readings have not fitted the configured battery, whose levels tell the states apart"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    """A finite number from the daemon's own statistics (link, sinks, store), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _as_time(iso: Any) -> float | None:
    """Unix seconds of an ISO 8601 text this command wrote itself."""
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 0:
        return "in the future (clock?)"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _when(iso: Any) -> str:
    """ISO 8601 (as in --json) shortened for people: to the second, in UTC."""
    t = _as_time(iso)
    return "?" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _at(t: float | None) -> str:
    return "?" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _volts(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} V"


def _voltage_line(b: BatterySummary) -> str | None:
    """The last reading and the last rested one, e.g. '12.64 V now; rested 12.61 V (...) at ...'."""
    parts = []
    if b.voltage is not None:
        parts.append(f"{b.voltage:.2f} V now")
    rested = b.rested_voltage
    if rested is not None:
        extra = []
        if b.rested_voltage_25c is not None:
            extra.append(f"{b.rested_voltage_25c:.2f} V at 25 °C")
        corrected, ref = b.rested_voltage_corrected, b.temp_ref_c
        if corrected is not None and ref is not None and abs(corrected - rested) >= 0.005:
            extra.append(f"{corrected:.2f} V at {ref:g} °C")
        if b.per_cell_v is not None:
            extra.append(f"{b.per_cell_v:.3f} V per cell")
        when = f" at {_at(b.rested_at)}" if b.rested_at is not None else ""
        parts.append(f"rested {rested:.2f} V" + (f" ({', '.join(extra)})" if extra else "") + when)
    return "; ".join(parts) or None


def _main_trend(b: BatterySummary) -> str:
    tr = b.trend
    if tr.v_per_day is None:
        words = f"rested voltage: {trend_gap_words(b)}"
    elif tr.significant:
        words = f"rested voltage falling {-tr.v_per_day * 1000:.1f} mV a day"
    else:
        words = "rested voltage steady (no significant fall)"
    if tr.crank_dip_ratio is not None:
        words += f"; start dip {tr.crank_dip_ratio:.2f}× its first weeks'"
    return words


def _sos_trend(b: BatterySummary) -> str:
    tr = b.trend
    over = f" over {tr.n_days} rested days" if tr.n_days is not None else ""
    if tr.v_per_day is None:
        return f"rested voltage: {trend_gap_words(b)}"
    if not tr.significant:
        return f"rested voltage steady{over} (no significant fall)"
    words = f"rested voltage falling {-tr.v_per_day * 1000:.1f} mV a day{over}"
    # a projected crossing on or before the last rested day is one the pack has made already
    last = None if b.rested_at is None else _at(b.rested_at)[:10]
    ahead = [(name, day) for name, day in (("warning", tr.warning_date), ("critical", tr.end_date)) if day]
    past = [name for name, day in ahead if last is not None and day <= last]
    if past:
        words += f"; already below the {' and '.join(past)} level{'s' if len(past) > 1 else ''}"
    to_come = [f"the {name} level around {day}" for name, day in ahead if name not in past]
    if to_come:
        words += f"; reaches {', '.join(to_come)}"
    return words


def _self_discharge(sd: SelfDischarge) -> str | None:
    """The self-discharge line, with the baseline the rule judged against (the one in force)."""
    last, base = sd.last_mv_per_day, sd.baseline_mv_per_day
    judged, judged_base = sd.alert_mv_per_day, sd.alert_baseline_mv_per_day
    if last is None and base is None and judged is None:
        return None

    def rate(mv: float) -> str:
        # a park can end higher than it began (warmer, or recovering from a charge): no loss seen
        return f"{mv:.1f} mV a day" if mv > 0.0 else "no measurable loss"

    def against(mv: float, learned: bool | None, pct: float | None) -> str:
        pct_words = f", {pct:.2f} % a day" if pct is not None else ""
        if learned is False:  # the chemistry's healthy rate stands in, being higher
            return f"judged against a healthy pack's {rate(mv)}{pct_words}"
        return f"its own baseline: {rate(mv)}{pct_words}"

    if judged is not None and judged_base is not None:
        # an active self_discharge alert: the park and the baseline it judged, as its message says
        pct = sd.alert_pct_per_day
        text = f"{rate(judged)}" + (f" ({pct:.2f} % a day)" if pct is not None else "")
        text += (f" in the park the warning judged ({against(judged_base, sd.alert_baseline_learned, sd.alert_baseline_pct_per_day)}"
                 f", {judged / judged_base:.1f} x)")
        if last is not None and abs(last - judged) > 0.05:
            text += f"; last long park {rate(last)}, on another part of the charge curve"
        return text
    text = "no park judged yet" if last is None else f"{rate(last)} in the last long park"
    if base is None:
        return text + "; its own baseline is still being learned"
    return text + f" ({against(base, sd.baseline_learned, sd.baseline_pct_per_day)})"


def _faulted_lines(b: BatterySummary, f: Fault) -> list[str]:
    """The voltage and charge lines of a faulted channel: what is known, and from when."""
    since = f" since {_at(f.since)}" if f.since is not None else ""
    good = b.good_rested()
    first = f"its first sign at {_at(f.first_sign)}" if f.first_sign is not None else "it"
    if good is not None:
        last = f"last good rested reading {good.voltage:.2f} V at {_at(good.at)}"
    elif b.rested_voltage is not None and b.rested_at is not None:
        last = (f"no rested reading known good: the last one ({b.rested_voltage:.2f} V at "
                f"{_at(b.rested_at)}) is after {first}")
    else:
        last = f"no rested reading before {first}"
    at_good = "" if good is None or good.soc_pct is None else f" ({good.soc_pct} % at the last good rested reading)"
    return [
        f"  voltage           readings not trustworthy (sensor fault{since}); {last}",
        f"  state of charge   unknown while the sensor is faulted{at_good}",
    ]


def _age_line(b: BatterySummary, extra: Mapping[str, Any]) -> str:
    if b.age_years is None:
        why = b.age_note or "set `installed` in the configuration"
        return f"  age               unknown: {why}"
    # the date the analysis counted from (a summary from before it said so: the configuration's)
    installed = b.fitted if b.fitted_from == "installed" else extra.get("installed")
    inst = f", installed {installed}" if installed and b.fitted_from != "replaced" else ""
    return f"  age               {b.age_years:.1f} years{inst}"


def _render_battery(title: str, b: BatterySummary | None, extra: Mapping[str, Any]) -> list[str]:
    kind_text = f" ({extra['type']})" if extra.get("type") else ""
    lines = [f"{title}{kind_text}"]
    if b is None:
        return [*lines, "  no analysis in the store yet"]
    lines.append(f"  health            {b.health.text()}")
    if not b.channel_seen and b.voltage is None and not b.alerts:
        # a battery the readings never reached (an SOS-only log): its health says so, and
        # lines of unknown charge, life and trend would only repeat it
        return [*lines, _age_line(b, extra)]
    if b.fault is not None:
        lines.append(f"  sensor fault      {b.fault.kind} (its alerts are held until the readings are plausible)")
        lines += _faulted_lines(b, b.fault)  # neither the voltage nor the charge is current
    else:
        volts = _voltage_line(b)
        if volts:
            lines.append(f"  voltage           {volts}")
        if extra.get("soc_note"):
            lines.append(f"  state of charge   unknown: {extra['soc_note']}")
        else:
            soc = b.soc_pct
            lines.append(f"  state of charge   {'unknown' if soc is None else f'{soc} % (from the rested voltage)'}")
    lines.append(_age_line(b, extra))
    if extra.get("fitted_text"):
        lines.append(f"  fitted            {extra['fitted_text']}")
    if extra.get("replacement_text"):
        lines.append(f"  replacement       {extra['replacement_text']}")
    lines.append(f"  remaining life    {life_words(b)}")
    st = b.last_start
    if st is not None:
        when = f", {_at(st.at)}" if st.at is not None else ""
        temp = f" at {st.temp_c:.1f} °C" if st.temp_c is not None else ""
        lines.append(f"  last start        lowest {_volts(st.min_v)}{when}{temp}")
    lines.append(f"  trend             {_sos_trend(b) if b.battery == 'sos' else _main_trend(b)}")
    sd = None if b.self_discharge is None else _self_discharge(b.self_discharge)
    if sd:
        lines.append(f"  self-discharge    {sd}")
    return lines


def render(info: dict[str, Any]) -> str:
    lines = [f"battwatch status: vehicle {info['vehicle']}    (now {_when(info['now'])})"]
    d = _dict(info.get("daemon"))
    if d:
        seen = f"store updated {_ago(d.get('store_updated_age_s'))}" if d.get("store_updated") else "store never written"
        if d.get("systemd"):
            via = f"systemd: {d['systemd']}"
        elif d.get("pid"):
            via = f"pid {d['pid']} has the store open: {d.get('command') or '?'}"
        else:
            via = "no systemd here, and no process has the store open"
        stale = "; nothing written for a while: is it stuck?" if d.get("running") and d.get("stale") else ""
        lines.append(f"Daemon        {'running' if d.get('running') else 'NOT RUNNING'} ({via}; {seen}{stale})")
    if "error" in info:
        lines.append(f"  {info['error']} ({info['store']})")
        return "\n".join(lines)
    if info.get("note"):
        lines.append(f"Note          {info['note']}")
    last = info.get("last_reading")
    if last:
        # an unknown state is said once, with its reason, on the Vehicle line
        state = f", {last['state']}" if last.get("state") and last["state"] != "unknown" else ""
        temp = f", {last['temp_c']:.1f} °C" if _number(last.get("temp_c")) is not None else ""
        summary = info.get("summary")

        def mark(kind: str) -> str:
            b = summary.battery(kind) if isinstance(summary, VehicleSummary) else None
            return " (not trustworthy: sensor fault)" if b is not None and b.fault is not None else ""

        lines.append(
            f"Last reading  {_when(last['time'])} ({_ago(last['age_s'])}): 12 V {_volts(last['main_v'])}{mark('main')}, "
            f"SOS {_volts(last['sos_v'])}{mark('sos')}{temp}{state}"
        )
    else:
        lines.append("Last reading  none yet")
    n = info["readings"]
    lines.append(f"Store         {info['store']} ({n:,} reading{'' if n == 1 else 's'})")
    summary = info.get("summary")
    if info.get("vehicle_state"):
        state = info["vehicle_state"]
        if state == "unknown":
            main = summary.battery("main") if isinstance(summary, VehicleSummary) else None
            state = f"unknown ({_why_no_state(main)})"
        lines.append(f"Vehicle       {state}")
    lines.append("")
    for kind, title in (("main", "Starter battery 12 V"), ("sos", "SOS backup battery")):
        b = summary.battery(kind) if isinstance(summary, VehicleSummary) else None
        lines += _render_battery(title, b, info["batteries"][kind])
    lines.append("")
    alerts = info["alerts"]
    lines.append(f"Alerts        {len(alerts)} active" if alerts else "Alerts        none active")
    for a in alerts:
        since = f" since {_when(a['since'])}" if a["since"] else ""
        if a.get("change") == "eased" and a.get("previous_severity"):
            # a step down is no new alert (an escalation shows in "raised ... as")
            since += f", eased from {a['previous_severity']}"
        if a.get("raised") and a["raised"] != a["since"]:
            what = f" as {a['raised_severity']}" if a.get("raised_severity") else ""
            since += f" (raised {_when(a['raised'])}{what})"
        lines.append(f"  {a['severity'].upper():8} {a['battery']}/{a['alert']}{since}: {a['message']}")
    lines.append("")
    lines.append("Sinks")
    if not info["sinks"]:
        lines.append("  none reported yet")
    for name, s in info["sinks"].items():
        parts = []
        if s["connected"] is not None:
            parts.append("connected" if s["connected"] else "DISCONNECTED")
        if s["backlog"] is not None:
            parts.append(f"backlog {s['backlog']:,}")
        if name == "store":
            detail = s["detail"]
            if _number(detail.get("readings_written")) is not None:
                parts.append(f"{int(detail['readings_written']):,} readings written since start")
            if _number(detail.get("pending")):
                parts.append(f"{int(detail['pending']):,} awaiting commit")
        if s["last_error"]:
            parts.append(f"last error: {s['last_error']}")
        lines.append(f"  {name:8} {', '.join(parts) or 'no details'}")
    disk = _dict(info.get("disk"))
    if disk.get("total_bytes"):
        mib = 1024 * 1024
        room = f"{disk['free_bytes'] / mib:.1f} MiB free of {disk['total_bytes'] / mib:.1f} MiB"
        lines.append(f"  {'disk':8} {'FULL: readings cannot be stored, ' if disk['full'] else ''}{room}")
    if disk.get("problem"):
        lines.append(f"  {'':8} store writing failed: {disk['problem']}")
    if disk.get("unwritten") or disk.get("csv_unwritten"):
        lines.append(f"  {'':8} {disk['unwritten']:,} readings not stored in the database and "
                     f"{disk['csv_unwritten']:,} rows not in the daily log (disk full or failing)")
    link = info.get("link")
    lines.append("")
    if link is None:
        lines.append("Serial link   no statistics yet")
    else:
        up = {True: "up", False: "DOWN", None: "state unknown"}[link["connected"]]
        who = f" — {link['board'] or '?'} firmware {link['firmware']}" if link["firmware"] else ""
        loss = f" ({link['loss_pct']:.2f} %)" if link["loss_pct"] is not None else ""
        kinds = f" ({', '.join(f'{k} {v}' for k, v in link['errors'].items())})" if link["errors"] else ""
        lines.append(f"Serial link   {up}{who}")
        lines.append(
            f"  {link['frames']:,} frames, {link['lost_frames']:,} lost{loss}, "
            f"{link['bad_lines']:,} bad lines{kinds}, {link['device_reboots']} device reboots"
        )
        if link.get("held_for_clock"):
            lines.append(f"  {link['held_for_clock']:,} readings held until the host clock is synchronised (NTP)")
        if link.get("host_clock") == "unknown":
            lines.append("  host clock: cannot tell whether it is synchronised (adjtimex refused); "
                         "taken as unsynchronised")
    if info["recent_events"]:
        lines.append("")
        lines.append("Recent alert transitions")
        for e in info["recent_events"]:
            # a message may begin with what happened ("cleared: battery replaced on ..."): say it once
            said = f"{e['change']}: "
            text = e["message"] if str(e["message"]).startswith(said) else said + str(e["message"])
            lines.append(f"  {_when(e['time'])} {e['battery']}/{e['alert']} {e['severity']} {text}")
    return "\n".join(lines)
