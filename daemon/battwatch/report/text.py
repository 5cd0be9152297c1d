"""The report's short text: the period, each battery's starts, rests, health and alerts."""

from __future__ import annotations

from datetime import UTC, datetime

from battwatch.core.healthsummary import NO_TREND, BatterySummary, life_words, trend_gap_words
from battwatch.core.timefmt import iso_utc
from battwatch.report.data import DAY_S, ReportData


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def day_text(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def duration_text(seconds: float) -> str:
    if seconds < 3600.0:
        return f"{seconds / 60.0:.0f} min"
    if seconds < 2 * DAY_S:
        return f"{seconds / 3600.0:.1f} h"
    return f"{seconds / DAY_S:.0f} days" if seconds >= 20 * DAY_S else f"{seconds / DAY_S:.1f} days"


def _life(b: BatterySummary | None) -> str:
    """The analysis' own words for the remaining life, with what they rest on (or why none)."""
    if b is None:
        return "remaining life unknown"
    words = life_words(b)
    return "remaining life unknown" if words == "unknown" else f"remaining life: {words}"


def chemistry_label(chem: str) -> str:
    return {"nimh": "NiMH", "li-ion": "Li-ion", "lifepo4": "LiFePO4"}.get(chem, chem)


def quiet_words(data: ReportData) -> tuple[str, bool]:
    """The alert row of a log that raised none, and whether it is good news: a green "no
    alerts" only where a battery was judged; with no verdict at all it is no all-clear."""
    s = data.summary
    judged = s is not None and any(b.health.word != "unknown" for b in s.batteries() if b.channel_seen)
    return ("no alerts", True) if judged else ("no alerts, but nothing judged yet (health unknown)", False)


def _life_short(b: BatterySummary | None) -> str:
    """The picture's headline keeps the analysis' estimate; why there is none is in the text."""
    text = None if b is None else b.remaining.text
    return "remaining life unknown" if text is None else f"remaining life: {text}"


def verdict(data: ReportData) -> str:
    """One line for the picture's title: what needs doing, and how long each battery has left."""
    parts = []
    for key, name, line in (("main", "12 V battery", data.main_line), ("sos", "SOS pack", data.sos_line)):
        part = None if data.summary is None else data.summary.battery(key)
        if not line:
            parts.append(f"{name}: no readings")
        else:
            parts.append(f"{name}: {_health(part)}, {_life_short(part)}")
    return " · ".join(parts)


def count_of(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _health(b: BatterySummary | None) -> str:
    """The analysis' verdict as words ("unknown: no SOS readings")."""
    return "unknown" if b is None else b.health.text()


def _mismatch(b: BatterySummary) -> bool:
    return any(a.alert == "config_mismatch" for a in b.alerts)


def _fault_caveat(b: BatterySummary) -> str:
    """What the last rested reading is worth while the channel has a sensor fault at the end."""
    if b.fault is None:
        return ""
    if b.good_rested() is None:
        return " (after the first sign of the sensor fault active at the end: not known to be good)"
    return " (before the sensor fault active at the end)"


def _at(t: float | None) -> str:
    return "?" if t is None else iso_utc(t)[:16].replace("T", " ")


def _main_summary(data: ReportData, main: BatterySummary | None) -> list[str]:
    lines: list[str] = []
    below = [s for s in data.starts if s.verdict in ("below", "critical")]
    failed = sum(1 for s in data.starts if s.failed)
    low_charge = sum(1 for s in data.starts if s.verdict == "low charge")
    starts = count_of(len(data.starts), "engine start")
    if data.starts:
        low = min(data.starts, key=lambda s: s.min_v)
        temp = "" if low.temp_c is None else f", {low.temp_c:.1f} °C"
        starts += (f", {len(below)} below the temperature-adjusted limit"
                   + (f" ({count_of(failed, 'failed start')})" if failed else "")
                   + (f", {low_charge} at too low a charge to judge" if low_charge else "")
                   + f"; lowest {low.min_v:.2f} V on {_when(low.t)}{temp}")
    if main is not None and not data.starts and not data.drives and _mismatch(main):
        # the readings are not a 12 V battery's: "0 engine starts; 0 drives" would be a count of nothing
        lines.append("12 V battery: no starts or drives judged (the readings do not fit the configured battery)")
    else:
        lines.append(f"12 V battery: {starts}; {count_of(len(data.drives), 'drive')}")
    if main is not None and main.rested_voltage is not None:
        v25 = main.rested_voltage_25c
        at25 = "" if v25 is None else f" ({v25:.2f} V at 25 °C)"
        lines.append(f"  last rested {main.rested_voltage:.2f} V{at25} on {_at(main.rested_at)}"
                     f"{_fault_caveat(main)}")
    lines.append(f"  health {_health(main)}; {_life(main)}")
    return lines


def _sos_summary(data: ReportData, sos: BatterySummary | None) -> list[str]:
    lines: list[str] = []
    th = data.thresholds
    lines.append(f"SOS pack ({th.sos_cells}-cell {chemistry_label(th.sos_chemistry)}):")
    if sos is not None and sos.rested_voltage is not None:
        s_rested = sos.rested_voltage
        lines.append(f"  last rested {s_rested:.2f} V ({s_rested / th.sos_cells:.3f} V per cell) on "
                     f"{_at(sos.rested_at)}{_fault_caveat(sos)}")
    fit = data.sos_trend
    if fit is None:
        lines.append(f"  trend: {NO_TREND if sos is None else trend_gap_words(sos)}")
    else:
        projected = data.sos_warning_t is not None or data.sos_end_of_life_t is not None
        word = ("significant fall" if fit.falling and projected
                else "slight fall, no decline in sight" if fit.falling
                else "rising" if fit.rising else "no significant change")
        lines.append(f"  trend: {fit.slope * 1000:+.2f} mV/day over {fit.n} days "
                     f"(90 % range {fit.lower * 1000:+.2f} to {fit.upper * 1000:+.2f}): {word}")
    for t, what in ((data.sos_warning_t, f"projected warning level ({th.sos_warn_v:.2f} V)"),
                    (data.sos_end_of_life_t, f"projected end of life (critical level {th.sos_crit_v:.2f} V)")):
        if t is not None:
            # the analysis projects from its last fit: a crossing at or before it is already reached
            reached = " (already reached by the trend)" if data.end is not None and t <= data.end else ""
            lines.append(f"  {what}: {day_text(t)}{reached}")
    lines.append(f"  health {_health(sos)}; {_life(sos)}")
    return lines


def format_summary(data: ReportData) -> str:
    """The short text ``battwatch report`` prints."""
    lines: list[str] = []
    if data.start is None or data.end is None:
        return f"{data.vehicle}: {data.source} holds no readings ({data.skipped} rows skipped)"
    span = duration_text(data.end - data.start)
    lines.append(f"{data.vehicle}: {_when(data.start)} to {_when(data.end)} UTC ({span})")
    if data.log_start is not None and data.start > data.log_start:
        lines.append(f"  (the last {span} of a log from {_when(data.log_start)}; the analysis ran over all of it)")
    lines.append(f"readings: {data.readings} ({data.skipped} rows skipped), from {data.source}")
    th = data.thresholds

    main = None if data.summary is None else data.summary.main
    if not data.main_line:
        lines.append("12 V battery: no readings in this log")
    else:
        lines += _main_summary(data, main)
    sos = None if data.summary is None else data.summary.sos
    if not data.sos_line:
        lines.append(f"SOS pack ({th.sos_cells}-cell {chemistry_label(th.sos_chemistry)}): no readings in this log")
    else:
        lines += _sos_summary(data, sos)

    shown = [tr for tr in data.transitions if tr.t >= data.start]
    # alerts, not transitions: one alert that escalates and eases is raised once
    n = {c: sum(1 for tr in shown if tr.change == c) for c in ("raised", "escalated", "eased", "cleared")}
    steps = f" ({n['escalated']} escalated, {n['eased']} eased)" if n["escalated"] or n["eased"] else ""
    lines.append(f"alerts: {n['raised']} raised, {n['cleared']} cleared{steps}")
    for sp in data.spans:
        if sp.start < data.start:  # raised before the period shown, still active in it
            sev = [sev for t, sev in sp.levels if t < data.start][-1]
            lines.append(f"  {_when(sp.start)}  {sp.battery:4} {sp.alert:15} {sev:8} raised earlier")
    for tr in shown:
        lines.append(f"  {_when(tr.t)}  {tr.battery:4} {tr.alert:15} {tr.severity:8} {tr.change}")
    active = [s for s in data.spans if s.end is None]
    if active:
        lines.append("still active: " + ", ".join(f"{s.battery}/{s.alert} ({s.levels[-1][1]})" for s in active))
    return "\n".join(lines)
