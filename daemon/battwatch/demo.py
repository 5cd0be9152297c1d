"""``battwatch demo``: months of a car in about a minute, through the real serial path."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from battwatch.core.model import AlertTransition, Reading
from battwatch.core.timefmt import iso_utc


def _cfg(scenario: str, store: Path, port: str) -> Any:
    from battwatch import config, scenarios

    facts: dict[str, Any] = scenarios.scenario_config(scenario)
    return config.from_dict(
        {
            "vehicle": {"id": facts.get("vehicle", {}).get("id", "demo-car")},
            "battery": facts.get("battery", {}),
            # the emulator replays minutes-long windows in milliseconds; silence is 5 real seconds
            "adc": {"port": port, "silent_after_s": 5.0, "reconnect_min_s": 0.1},
            "store": {"path": str(store), "commit_interval_s": 2.0, "commit_rows": 2000},
        },
        "demo",
    )


def _fmt(v: Any, unit: str = "", digits: int = 2) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


def _health_table(summary: dict[str, Any]) -> Any:
    """Both batteries side by side: what an owner wants to know at the end of the demo."""
    from rich.table import Table

    table = Table(title="Health at the end of the run", show_lines=False)
    table.add_column("")
    table.add_column("12 V starter battery")
    table.add_column("SOS backup pack")
    main, sos = summary.get("main") or {}, summary.get("sos") or {}

    def life(b: dict[str, Any]) -> str:
        years = b.get("remaining_life_years")
        return "-" if years is None else f"{years:.1f} years (by {b.get('remaining_life_basis', '?')})"

    def alerts(b: dict[str, Any]) -> str:
        return ", ".join(f"{a['alert']} ({a['severity']})" for a in b.get("alerts", [])) or "none"

    sos_trend = sos.get("trend") or {}
    rows = [
        ("health", _fmt(main.get("health")), _fmt(sos.get("health"))),
        ("rested voltage", _fmt(main.get("rested_voltage"), " V"), _fmt(sos.get("rested_voltage"), " V")),
        ("state of charge", _fmt(main.get("soc_pct"), " %"), _fmt(sos.get("soc_pct"), " %")),
        ("age", _fmt(main.get("age_years"), " years", 1), _fmt(sos.get("age_years"), " years", 1)),
        ("remaining life", life(main), life(sos)),
        ("last engine start", _fmt(main.get("last_crank_min_v"), " V minimum"), ""),
        ("trend", "", f"{_fmt(sos_trend.get('slope_v_per_day', 0) * 1000, ' mV/day')}, warning level "
                     f"{sos_trend.get('projected_warning_date') or '-'}, end of life "
                     f"{sos_trend.get('projected_end_of_life_date') or '-'}" if sos_trend else "-"),
        ("active alerts", alerts(main), alerts(sos)),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def run_demo(scenario: str = "demo", seconds: float = 60.0, keep: str | None = None) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from battwatch import scenarios
    from battwatch.adapters.sim import AdcEmulator
    from battwatch.app import App

    console = Console(stderr=False, highlight=False)
    if scenario not in scenarios.names():
        console.print(f"unknown scenario {scenario!r}; choose from: {', '.join(scenarios.names())}")
        return 2
    readings = list(scenarios.generate(scenario))
    span_s = readings[-1].t - readings[0].t
    speed = span_s / max(seconds, 1.0)
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="battwatch-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    link = workdir / "adc"
    cfg = _cfg(scenario, workdir / "store", str(link))
    console.print(f"[bold]battwatch demo[/bold]: {scenarios.describe(scenario).splitlines()[0]}")
    console.print(
        f"{len(readings)} ADC windows over {span_s / 86400:.0f} days, replayed {speed:,.0f}x faster "
        f"through a pseudo-terminal ({link}) into the daemon's serial path."
    )
    logging.basicConfig(level=logging.ERROR)  # the progress display is the output here
    emu = AdcEmulator(readings, speed=speed, link=link, wait_hello=True)
    raised: list[AlertTransition] = []
    t0 = readings[0].t

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} windows"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("day 0", total=len(readings))
        state = {"n": 0}

        def on_reading(r: Reading) -> None:
            state["n"] += 1
            if state["n"] % 200 == 0:
                progress.update(task, completed=state["n"], description=f"{iso_utc(r.t)[:10]} (day {(r.t - t0) / 86400:.0f})")

        def on_transition(tr: AlertTransition) -> None:
            if tr.state == "raised":
                raised.append(tr)
            colour = {"critical": "red", "warning": "yellow", "info": "cyan"}[tr.severity]
            verb = "RAISED " if tr.state == "raised" else "cleared"
            progress.console.print(
                f"[{colour}]{iso_utc(tr.t)[:16]} {verb} {tr.battery}/{tr.alert} ({tr.severity})[/{colour}]: {tr.message}"
            )

        app = App(
            cfg,
            on_reading=on_reading,
            on_transition=on_transition,
            stop_when=lambda a: emu.done.is_set() and a.decoder.stats.lines >= emu.lines_written,
            use_scheduler=False,
        )
        app.install_signal_handlers()
        emu.start()
        app.run()
        progress.update(task, completed=state["n"])
    emu.close()

    stats = app.decoder.stats
    summary = app.pipeline.summary(app._last_reading_t or t0)
    console.print()
    console.print("[bold]Summary[/bold]")
    console.print(
        f"  serial: {stats.frames:,} frames decoded, {stats.lost_frames} lost, "
        f"{sum(stats.errors.values())} bad lines"
    )
    console.print(f"  readings stored: {app.store.readings_written:,} in {cfg.store.path}")
    console.print(f"  alerts raised: {len(raised)}")
    console.print(_health_table(summary))
    if keep:
        console.print(f"  store kept in {workdir}; try: battwatch status -c <config with [store] path = \"{cfg.store.path}\">")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
