"""The report's one picture: both batteries' panels, the vehicle states and the alert timeline (matplotlib)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from battwatch.report.data import ALERT_ORDER, BATTERY_LABEL, DAY_S, AlertSpan, ReportData
from battwatch.report.text import chemistry_label, count_of, day_text, duration_text, quiet_words, verdict

STATE_COLOURS = {"asleep": "#e8eef7", "resting": "#d9ecd9", "awake": "#fff1c9", "running": "#f7d3c7"}
SEVERITY_COLOURS = {"info": "#6fa8dc", "warning": "#f0a030", "critical": "#d03030"}
SENSOR_COLOUR = "#9a8fb8"
MAIN_COLOUR = "#4a6fa5"
SOS_COLOUR = "#2e8b57"
TREND_COLOUR = "#6a1b9a"
SENSOR_FILL = "#e6e1f2"


def plot_report(data: ReportData, out_png: Path, title: str | None = None) -> None:
    """Write the picture: 12 V panel, SOS panel and alert timeline on one date axis (1600x1000 px)."""
    fig = draw_report(data, title)  # selects the Agg backend before pyplot is imported here
    import matplotlib.pyplot as plt

    _save_png(fig, out_png)
    plt.close(fig)


def _fit_width(fig: Any, text: Any, min_size: float = 7.0) -> None:
    """Shrink a line of text until it fits inside the figure's width (8 px spare)."""
    renderer = fig.canvas.get_renderer()
    limit = fig.bbox.x1 - 8.0
    while text.get_window_extent(renderer).x1 > limit and text.get_fontsize() > min_size:
        text.set_fontsize(text.get_fontsize() - 0.5)


def _headline(fig: Any, title: str, subtitle: str) -> float:
    """Title and verdict across the top; returns the figure fraction the panels may start below.

    The verdict is one line when it fits; otherwise one line per battery (the SOS part of a long
    verdict used to run off the right edge), each shrunk if it still does not fit.
    """
    head = fig.text(0.012, 0.975, title, fontsize=15, fontweight="bold", ha="left", va="top")
    _fit_width(fig, head, 9.0)
    sub = fig.text(0.012, 0.935, subtitle, fontsize=11.5, ha="left", va="top")
    renderer = fig.canvas.get_renderer()
    if sub.get_window_extent(renderer).x1 <= fig.bbox.x1 - 8.0 or " · " not in subtitle:
        _fit_width(fig, sub)
        return 0.9
    sub.remove()
    y = 0.935
    for part in subtitle.split(" · "):
        line = fig.text(0.012, y, part, fontsize=11.5, ha="left", va="top")
        _fit_width(fig, line)
        y -= 0.024
    return y - 0.011


def default_title(data: ReportData) -> str:
    """"car: 2025-01-06 to 2025-01-13  (7.0 days, 1,433 readings, 12 engine starts)"."""
    assert data.start is not None and data.end is not None
    span = duration_text(data.end - data.start)
    if data.log_start is not None and data.start > data.log_start:
        what = f"the last {span} of a {duration_text(data.end - data.log_start)} log"
    else:
        what = f"{span}, {data.readings:,} readings"
    # a log without the 12 V channel (or whose readings are no 12 V battery's) has no engine
    # starts to count, not zero of them
    counted = data.main_line and (data.starts or not _mismatched(data, "main"))
    starts = f", {count_of(len(data.starts), 'engine start')}" if counted else ""
    return f"{data.vehicle}: {day_text(data.start)} to {day_text(data.end)}  ({what}{starts})"


def draw_report(data: ReportData, title: str | None = None) -> Any:
    """The report's matplotlib figure (see plot_report); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    if data.start is None or data.end is None:
        raise ValueError("no readings to plot")
    epoch = float(mdates.date2num(datetime(1970, 1, 1, tzinfo=UTC)))

    def x(t: float) -> float:
        return epoch + t / DAY_S

    x_end = _axis_end(data)
    pad = 0.01 * max(x_end - data.start, 3600.0)  # a log of one reading still gets an axis
    x_lo, x_hi = x(data.start - pad), x(x_end + pad)

    rows = _timeline_rows(data.spans)
    # a channel the log does not have gets no panel
    has_main, has_sos = bool(data.main_line), bool(data.sos_line) or not data.main_line
    fig = plt.figure(figsize=(16, 10 if has_main and has_sos else 7.5), dpi=100)
    top = _headline(fig, default_title(data) if title is None else title, verdict(data))
    ratios = [r for r, keep in ((4.2, has_main), (3.2, has_sos)) if keep] + [0.9 + 0.3 * max(len(rows), 1)]
    gs = fig.add_gridspec(len(ratios), 1, height_ratios=ratios, hspace=0.07,
                          left=0.095, right=0.775, top=top, bottom=0.065 * 10 / fig.get_figheight())
    panels = [fig.add_subplot(gs[i]) for i in range(len(ratios))]
    for ax in panels[1:]:
        ax.sharex(panels[0])
    ax_main = panels[0] if has_main else None
    ax_sos = panels[1 if has_main else 0] if has_sos else None
    ax_tl = panels[-1]
    batteries = [(ax, b) for ax, b in ((ax_main, "main"), (ax_sos, "sos")) if ax is not None]
    for ax in panels:
        ax.set_xlim(x_lo, x_hi)
    legend_x = 0.866  # right of the threshold labels

    def legend(handles: list[Any], title: str, top: float) -> None:
        leg = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(legend_x, top), fontsize=8.5,
                         frameon=False, title=title, title_fontsize=9.5, alignment="left",
                         borderaxespad=0.0, handlelength=1.8)
        leg.get_title().set_fontweight("bold")

    # -- vehicle states behind the battery panels, sensor faults hatched over them
    state_handles = [_shade_states(ax, data, x) for ax, _ in batteries][0]
    _shade_sensor_faults(batteries, data, x)
    if ax_main is not None:
        _draw_main(ax_main, data, x, legend, state_handles)
    if ax_sos is not None:
        _draw_sos(ax_sos, data, x, x_end, legend)

    # -- alert timeline
    tl_handles = _timeline(ax_tl, data, rows, x)
    legend(tl_handles, "alerts", ax_tl.get_position().y1)
    if ax_main is None and data.states:
        legend(state_handles, "vehicle state", panels[0].get_position().y0 + 0.16)

    for ax in panels:
        ax.grid(axis="x", color="#a0a0a0", lw=0.5, alpha=0.5)
        if data.end < x_end:
            ax.axvline(x(data.end), color="#555555", lw=0.9, ls="--", zorder=4)
    if data.end < x_end:
        panels[0].annotate(" end of data", (x(data.end), 1.0), xycoords=("data", "axes fraction"),
                           xytext=(2, -4), textcoords="offset points", fontsize=8.5, color="#444444",
                           va="top", ha="left")
    for ax, _ in batteries:
        ax.grid(axis="y", color="#c8c8c8", lw=0.4, alpha=0.6)
        ax.tick_params(labelbottom=False)
    locator = mdates.AutoDateLocator(minticks=6, maxticks=14, tz=UTC)
    ax_tl.xaxis.set_major_locator(locator)
    ax_tl.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax_tl.set_xlabel("date (UTC)")
    return fig


def _draw_main(ax_main: Any, data: ReportData, x: Callable[[float], float],
               legend: Callable[[list[Any], str, float], None], state_handles: list[Any]) -> None:
    """The 12 V panel: window averages, daily rested values, starts and their limits."""
    th = data.thresholds
    mx, my = _line(data.main_line, data.gaps, x)
    ax_main.plot(mx, my, color=MAIN_COLOUR, lw=0.6, alpha=0.8, zorder=3, label="window average")
    if data.main_daily:
        ax_main.plot([x(t) for t, _ in data.main_daily], [v for _, v in data.main_daily], "o-",
                     color="#14305c", ms=3.2, lw=0.9, zorder=5, label="daily rested value\n(at 25 °C)")
    values = _plausible(data, "main", th.main_open_v) + [v for _, v in data.main_daily]
    if data.starts:
        # the limit each start was judged against, as a step line through the starts
        ax_main.step([x(s.t) for s in data.starts], [s.limit_v for s in data.starts], where="mid",
                     color="#c0504d", lw=0.9, ls=(0, (3, 2)), alpha=0.8, zorder=3,
                     label="start limit at its\ntemperature")
        marks = (("ok", 14, "#2a4d8f", "start minimum"),
                 ("low charge", 14, "#9a9a9a", "start minimum\n(charge too low to judge)"),
                 ("below", 36, "#ff2a2a", "start minimum\nbelow the limit"),
                 ("critical", 44, "#8b0000", f"start minimum\nbelow {th.crank_crit_v:.1f} V (critical)"))
        for verdict_, size, colour, label in marks:
            sel = [s for s in data.starts if s.verdict == verdict_]  # critical includes failed starts
            if sel:
                ax_main.scatter([x(s.t) for s in sel], [s.min_v for s in sel], s=size, color=colour,
                                edgecolors="black" if verdict_ in ("below", "critical") else "none", linewidths=0.5,
                                marker="v", zorder=6, label=label)
        values += [s.min_v for s in data.starts] + [s.limit_v for s in data.starts]
    levels_main: list[tuple[float, str, str]] = [
        (th.main_warn_v, f"rest warn {th.main_warn_v:.2f} V", SEVERITY_COLOURS["warning"]),
        (th.main_crit_v, f"rest crit {th.main_crit_v:.2f} V", SEVERITY_COLOURS["critical"]),
        (th.overvoltage_warn_v, f"over warn {th.overvoltage_warn_v:.1f} V", SEVERITY_COLOURS["warning"]),
        (th.overvoltage_crit_v, f"over crit {th.overvoltage_crit_v:.1f} V", SEVERITY_COLOURS["critical"]),
    ]
    if th.main_info_v is not None:
        levels_main.append((th.main_info_v, f"rest info {th.main_info_v:.2f} V", SEVERITY_COLOURS["info"]))
    if data.starts:
        levels_main.append((th.crank_crit_v, f"start crit {th.crank_crit_v:.1f} V", SEVERITY_COLOURS["critical"]))
    if _mismatched(data, "main"):
        levels_main = _not_its_levels(ax_main)
    lo_v, hi_v = _fit_range(values, [lv for lv, _, _ in levels_main], 12.0, 13.0)
    ax_main.set_ylim(lo_v, hi_v)
    _levels(ax_main, [lv for lv in levels_main if lo_v <= lv[0] <= hi_v])
    _below_axis(ax_main, data.main_line, th.main_open_v, x)
    ax_main.set_ylabel("12 V battery (V)", fontsize=11)
    box = ax_main.get_position()
    legend(ax_main.get_legend_handles_labels()[0], "12 V battery", box.y1)
    legend(state_handles, "vehicle state", box.y0 + 0.16)


def _draw_sos(ax_sos: Any, data: ReportData, x: Callable[[float], float], x_end: float,
              legend: Callable[[list[Any], str, float], None]) -> None:
    """The SOS panel: window averages, daily rested values, the trend and its projection."""
    th = data.thresholds
    sx, sy = _line(data.sos_line, data.gaps, x)
    ax_sos.plot(sx, sy, color=SOS_COLOUR, lw=0.6, alpha=0.6, zorder=3, label="window average")
    if data.sos_daily:
        ax_sos.plot([x(t) for t, _ in data.sos_daily], [v for _, v in data.sos_daily], "o",
                    color="#0b3d24", ms=3.2, zorder=5, label="daily rested value")
    values = _plausible(data, "sos", th.sos_open_v) + [v for _, v in data.sos_daily]
    s_lo, s_hi = (min(values), max(values)) if values else (th.sos_warn_v, th.sos_warn_v)
    n = th.sos_cells
    s_levels = [(th.sos_warn_v, f"warn {th.sos_warn_v:.2f} V\n({th.sos_warn_v / n:.2f} V/cell)",
                 SEVERITY_COLOURS["warning"]),
                (th.sos_crit_v, f"crit {th.sos_crit_v:.2f} V\n({th.sos_crit_v / n:.2f} V/cell)",
                 SEVERITY_COLOURS["critical"])]
    if th.sos_info_v is not None:
        s_levels.append((th.sos_info_v, f"info {th.sos_info_v:.2f} V\n({th.sos_info_v / n:.2f} V/cell)",
                         SEVERITY_COLOURS["info"]))
    s_lo, s_hi = _plot_trend(ax_sos, data, x, x_end, s_lo, s_hi)
    if _mismatched(data, "sos"):
        s_levels = _not_its_levels(ax_sos)
    lo, hi = _fit_range([s_lo, s_hi], [lv for lv, _, _ in s_levels], th.sos_warn_v, th.sos_warn_v)
    ax_sos.set_ylim(lo, hi)
    _levels(ax_sos, [lv for lv in s_levels if lo <= lv[0] <= hi], label_h_px=22.0)
    _below_axis(ax_sos, data.sos_line, th.sos_open_v, x)
    ax_sos.set_ylabel(f"SOS pack (V), {n}-cell {chemistry_label(th.sos_chemistry)}", fontsize=11)
    if not data.sos_line:
        _no_data(ax_sos, "no SOS readings in this log")
    legend(ax_sos.get_legend_handles_labels()[0], "SOS pack", ax_sos.get_position().y1)


def _mismatched(data: ReportData, battery: str) -> bool:
    """Whether the log's readings were found not to fit the configured battery (config_mismatch)."""
    return any(sp.battery == battery and sp.alert == "config_mismatch" for sp in data.spans)


def _not_its_levels(ax: Any) -> list[tuple[float, str, str]]:
    """No levels for readings that are not the configured battery's: every reading under its
    critical line would read as a verdict the analysis does not give."""
    ax.text(0.01, 0.97, "levels not drawn: the readings do not fit the configured battery (config_mismatch)",
            transform=ax.transAxes, ha="left", va="top", fontsize=9, color="#616161")
    return []


def _save_png(fig: Any, out_png: Path) -> None:
    """Save as a 256-colour PNG: a chart has few colours, and the file is a third of the size."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out_png, format="PNG",
                                                                                    optimize=True)


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#555555",
            fontweight="bold", bbox={"boxstyle": "round,pad=0.4", "fc": "white", "ec": "#999999"})


def _plausible(data: ReportData, battery: str, open_v: float) -> list[float]:
    """A channel's values that may be the battery's: not an open input, not inside a sensor fault."""
    faults = [(s.start, math.inf if s.end is None else s.end) for s in data.spans
              if s.sensor and s.battery == battery]
    points = data.main_line if battery == "main" else data.sos_line
    return [v for t, v in points if v >= open_v and not any(a <= t <= b for a, b in faults)]


def _axis_end(data: ReportData) -> float:
    """Where the time axis ends: past the data when the SOS trend's projected dates are near.

    The axis reaches at most half the period further (at least two weeks), so months of data are
    not squeezed into a corner for a date years ahead; dates beyond get a label at the edge.
    """
    assert data.start is not None and data.end is not None
    cap = data.end + max(0.5 * (data.end - data.start), 14 * DAY_S)
    ahead = [t for t in (data.sos_warning_t, data.sos_end_of_life_t) if t is not None and t > data.end]
    if not ahead or min(ahead) > cap:
        return data.end
    return min(max(ahead), cap)


def _fit_range(values: Sequence[float], levels: Sequence[float], lo: float, hi: float) -> tuple[float, float]:
    """A panel's y limits: every value (spikes and start dips included), and the threshold levels
    near them (within a quarter of the span, at least 0.3 V), so a small fall fills the panel
    instead of being squeezed under a line far away. ``lo``/``hi`` stand in without values."""
    if values:
        lo, hi = min(values), max(values)
    near = max(0.3, 0.25 * (hi - lo))
    for level in levels:
        if lo - near <= level <= hi + near:
            lo, hi = min(lo, level), max(hi, level)
    pad = 0.05 * (hi - lo) + 0.02
    return lo - pad, hi + pad


def _below_axis(ax: Any, points: Sequence[tuple[float, float]], open_v: float, x: Callable[[float], float]) -> None:
    """Readings of an open input (below ``open_v``: no battery reads that) are kept off the scale,
    which would squash the battery to a line; a mark at the foot of the panel shows each."""
    off = [(t, v) for t, v in points if v < open_v]
    if not off:
        return
    lo = ax.get_ylim()[0]
    ax.scatter([x(t) for t, _ in off], [lo] * len(off), marker="v", s=30, color="#555555", clip_on=False,
               zorder=7, label=f"below the axis: open\ninput (to {min(v for _, v in off):.2f} V)")


def _line(points: Sequence[tuple[float, float]], gaps: Sequence[tuple[float, float]],
          x: Callable[[float], float]) -> tuple[list[float], list[float]]:
    """x and y of a reduced line, broken (NaN) across each silent stretch of the log."""
    xs: list[float] = []
    ys: list[float] = []
    i = 0
    for t, v in points:
        broke = False
        while i < len(gaps) and t >= gaps[i][1]:
            broke = True
            i += 1
        if broke and xs:
            xs.append(math.nan)
            ys.append(math.nan)
        xs.append(x(t))
        ys.append(v)
    return xs, ys


def _plot_trend(ax: Any, data: ReportData, x: Callable[[float], float], x_end: float,
                s_lo: float, s_hi: float) -> tuple[float, float]:
    """The Theil-Sen line over its fit, extended to the projected warning and end-of-life dates."""
    fit = data.sos_trend
    th = data.thresholds
    assert data.start is not None
    if fit is None:
        return s_lo, s_hi
    t_a = max(fit.first_day * DAY_S, data.start)
    t_fit = fit.last_day * DAY_S
    label = f"robust trend {fit.slope * 1000:+.2f} mV/day\nover {fit.n} days"
    if not fit.falling:
        label += ", no decline"
    if t_fit > t_a:
        ys = [fit.at(t_a / DAY_S), fit.at(t_fit / DAY_S)]
        ax.plot([x(t_a), x(t_fit)], ys, color=TREND_COLOUR, lw=2.2, ls="-" if fit.falling else ":", zorder=7,
                label=label)
        s_lo, s_hi = min(s_lo, *ys), max(s_hi, *ys)
    if not fit.falling:
        return s_lo, s_hi
    ends = [t for t in (data.sos_warning_t, data.sos_end_of_life_t) if t is not None]
    if ends:
        t_b = min(max(ends), x_end)
        if t_b > t_fit:
            ys = [fit.at(t_fit / DAY_S), fit.at(t_b / DAY_S)]
            ax.plot([x(t_fit), x(t_b)], ys, color=TREND_COLOUR, lw=1.8, ls=(0, (5, 3)), zorder=7,
                    label="projection")
            s_lo = min(s_lo, *ys)
    off_edge = 0  # labels of dates beyond the axis, stacked at its right edge
    for t, level, name, colour in (
        (data.sos_warning_t, th.sos_warn_v, "warning level", SEVERITY_COLOURS["warning"]),
        (data.sos_end_of_life_t, th.sos_crit_v, "end of life", SEVERITY_COLOURS["critical"]),
    ):
        if t is None:
            continue
        text = f"{name} ≈ {day_text(t)}"
        bbox = {"boxstyle": "round,pad=0.25", "fc": "white", "ec": colour, "lw": 1.5, "alpha": 0.95}
        if t <= x_end:
            ax.plot([x(t)], [level], "D", color=colour, ms=9, mec="black", mew=0.8, zorder=8)
            ax.annotate(text, (x(t), level), xytext=(0, 12), textcoords="offset points", ha="center",
                        va="bottom", fontsize=10, fontweight="bold", bbox=bbox, zorder=9)
        else:
            ax.annotate(f"{text} →", (1.0, 0.0), xycoords="axes fraction", xytext=(-6, 8 + 22 * off_edge),
                        textcoords="offset points", ha="right", va="bottom", fontsize=10, fontweight="bold",
                        bbox=bbox, zorder=9)
            off_edge += 1
    return s_lo, s_hi


def _levels(ax: Any, levels: Sequence[tuple[float, str, str]], label_h_px: float = 11.0) -> None:
    """Horizontal threshold lines, labelled just right of the panel and nudged apart when close."""
    lo, hi = ax.get_ylim()
    height_px = max(ax.get_window_extent().height, 1.0)
    min_gap = (hi - lo) * label_h_px / height_px  # one label's height in data units
    placed: list[float] = []
    for v, text, colour in sorted(levels, key=lambda p: p[0]):
        ax.axhline(v, color=colour, lw=1.0, ls="--", alpha=0.95, zorder=2)
        y = v if not placed else max(v, placed[-1] + min_gap)
        placed.append(y)
        ax.annotate(text, (1.0, y), xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", fontsize=8, color=colour, va="center", ha="left",
                    fontweight="bold", annotation_clip=False, linespacing=1.0)


def _boxes(spans: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Rectangles over the whole height of a panel (y in axes fraction)."""
    return [[(a, 0.0), (b, 0.0), (b, 1.0), (a, 1.0)] for a, b in spans]


def _shade_states(ax: Any, data: ReportData, x: Callable[[float], float]) -> list[Any]:
    """One rectangle collection per vehicle state; returns the legend handles."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    spans: dict[str, list[tuple[float, float]]] = {s: [] for s in STATE_COLOURS}
    for r in data.states:
        spans[r.state].append((x(r.start), x(r.end)))
    handles = []
    for state, colour in STATE_COLOURS.items():
        if spans[state]:
            # crisp pixel edges: blended slivers of short runs only muddy the colours (and the file)
            ax.add_collection(PolyCollection(_boxes(spans[state]), facecolors=colour, edgecolors="none",
                                             antialiased=False, transform=ax.get_xaxis_transform(), zorder=0))
        handles.append(Patch(facecolor=colour, edgecolor="#999999", lw=0.5, label=state))
    return handles


def _shade_sensor_faults(axes: Sequence[tuple[Any, str]], data: ReportData, x: Callable[[float], float]) -> None:
    """Hatch a battery's panel while its sensor was faulted: those readings are no verdicts."""
    from matplotlib.collections import PolyCollection

    assert data.start is not None and data.end is not None
    for ax, battery in axes:
        spans = [(x(max(s.start, data.start)), x(data.end if s.end is None else s.end))
                 for s in data.spans if s.sensor and s.battery == battery]
        if spans:
            ax.add_collection(PolyCollection(_boxes(spans), facecolors="none", edgecolors=SENSOR_COLOUR,
                                             hatch="///", linewidths=0.0, transform=ax.get_xaxis_transform(),
                                             zorder=1))


def _timeline_rows(spans: Sequence[AlertSpan]) -> list[tuple[str, str]]:
    def order(k: tuple[str, str]) -> tuple[int, int, str]:
        b, a = k
        return (0 if b == "main" else 1, ALERT_ORDER.index(a) if a in ALERT_ORDER else len(ALERT_ORDER), a)

    return sorted({(s.battery, s.alert) for s in spans}, key=order)


def _timeline(ax: Any, data: ReportData, rows: list[tuple[str, str]], x: Callable[[float], float]) -> list[Any]:
    """One row per (battery, alert): spans coloured by severity, sensor faults hatched."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    assert data.start is not None and data.end is not None
    ax.set_facecolor("#fafafa")
    handles: list[Any] = [Patch(facecolor=c, label=n) for n, c in SEVERITY_COLOURS.items()]
    handles.append(Patch(facecolor=SENSOR_FILL, edgecolor=SENSOR_COLOUR, hatch="///", label="sensor fault"))
    handles.append(Line2D([], [], ls="none", marker="|", color="black", ms=11, mew=1.4, label="raised"))
    handles.append(Line2D([], [], ls="none", marker=">", color="black", ms=6, label="still active at the end"))
    if not rows:
        ax.set_yticks([])
        words, good = quiet_words(data)
        ax.text(0.5, 0.5, words, transform=ax.transAxes, ha="center", va="center", fontsize=12,
                color="#2e7d32" if good else "#616161", fontweight="bold")
        return handles
    lo, hi = ax.get_xlim()
    min_w = (hi - lo) / 400.0  # a brief alert stays visible
    top = len(rows) - 1
    index = {k: top - i for i, k in enumerate(rows)}
    for s in data.spans:
        i = index[(s.battery, s.alert)]
        stop = data.end if s.end is None else s.end
        for j, (t, sev) in enumerate(s.levels):
            last = j + 1 == len(s.levels)
            a = x(max(t, data.start))
            b = x(stop if last else s.levels[j + 1][0])
            if last:
                b = max(b, a + min_w)
            if b <= a:
                continue
            if s.sensor:
                ax.broken_barh([(a, b - a)], (i - 0.32, 0.64), facecolors=SENSOR_FILL, edgecolors=SENSOR_COLOUR,
                               hatch="///", linewidth=0.8)
            else:
                ax.broken_barh([(a, b - a)], (i - 0.32, 0.64), facecolors=SEVERITY_COLOURS[sev],
                               edgecolors="none")
        if s.end is None:
            ax.plot([x(data.end)], [i], marker=">", color="black", ms=6, zorder=5)
        if s.start >= data.start:
            ax.plot([x(s.start)], [i], marker="|", color="black", ms=13, mew=1.4, zorder=5)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{BATTERY_LABEL.get(b, b)} {a.replace('_', ' ')}" for b, a in reversed(rows)],
                       fontsize=9.5)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    return handles
