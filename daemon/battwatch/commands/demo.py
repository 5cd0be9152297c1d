"""``battwatch demo``: months of a car in about a minute, through the real serial path."""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from battwatch.core.healthsummary import BatterySummary, VehicleSummary
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


# How the progress lines name what a transition did (upper case: a new alert or a worse one).
CHANGE_WORDS = {"raised": "RAISED   ", "escalated": "ESCALATED", "eased": "eased    ",
                "refreshed": "refreshed", "cleared": "cleared  "}


def alert_counts(transitions: list[AlertTransition]) -> str:
    """Alerts, not transitions: an alert that escalated and eased is still one alert."""
    n = {c: sum(1 for tr in transitions if tr.change == c) for c in ("raised", "escalated", "eased", "cleared")}
    return (f"alerts raised: {n['raised']} ({n['escalated']} escalated, {n['eased']} eased, "
            f"{n['cleared']} cleared; {len(transitions)} transitions)")


def _fmt(v: Any, unit: str = "", digits: int = 2) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


def _health_table(summary: VehicleSummary) -> Any:
    """Both batteries side by side: what an owner wants to know at the end of the demo."""
    from rich.table import Table

    table = Table(title="Health at the end of the run", show_lines=False)
    table.add_column("")
    table.add_column("12 V starter battery")
    table.add_column("SOS backup pack")
    main, sos = summary.main, summary.sos

    def cell(b: BatterySummary | None, value: Callable[[BatterySummary], str]) -> str:
        return "-" if b is None else value(b)

    def life(b: BatterySummary) -> str:
        r = b.remaining  # the analysis' words: "replace now (...)", "about ..."
        return r.text or ("-" if r.years is None else f"{r.years:.1f} years (by {r.basis})")

    def alerts(b: BatterySummary) -> str:
        return ", ".join(f"{a.alert} ({a.severity})" for a in b.alerts) or "none"

    def trend(b: BatterySummary) -> str:
        tr = b.trend  # no fit yet: a short run has too few rested days
        return "-" if tr.v_per_day is None else (
            f"{tr.v_per_day * 1000:.2f} mV/day, warning level {tr.warning_date or '-'}, "
            f"end of life {tr.end_date or '-'}")

    rows = [
        (what, cell(main, value), cell(sos, value)) for what, value in (
            ("health", lambda b: b.health.text()),
            ("rested voltage", lambda b: _fmt(b.rested_voltage, " V")),
            ("state of charge", lambda b: _fmt(b.soc_pct, " %")),
            ("age", lambda b: _fmt(b.age_years, " years", 1) if b.age_years is not None else f"unknown: {b.age_note}"),
            ("remaining life", life),
        )
    ]
    rows += [
        ("last engine start", _fmt(None if main is None or main.last_start is None else main.last_start.min_v,
                                   " V minimum"), ""),
        ("trend", "", cell(sos, trend)),
        ("active alerts", cell(main, alerts), cell(sos, alerts)),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def run_demo(scenario: str = "demo", seconds: float = 60.0, keep: str | None = None) -> int:
    """Run the demo; 0 when it ran to the end, 130 when Ctrl-C stopped it (after the summary
    so far), 2 for a bad argument. Its temporary directory is removed whatever happens."""
    from rich.console import Console

    from battwatch import scenarios

    console = Console(stderr=False, highlight=False)
    if scenario not in scenarios.names():
        import difflib

        close = difflib.get_close_matches(scenario, scenarios.names(), n=1, cutoff=0.5)
        tip = f"did you mean '{close[0]}'? " if close else ""
        print(f"battwatch demo: unknown scenario {scenario!r}; {tip}(battwatch adc-sim --list-scenarios lists them: "
              f"{', '.join(scenarios.names())})", file=sys.stderr)
        return 2
    console.print(f"[bold]battwatch demo[/bold]: {scenarios.describe(scenario).splitlines()[0]}")
    workdir: Path | None = None
    try:
        readings = list(scenarios.generate(scenario))
        if keep:
            workdir = Path(keep)
            try:
                workdir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                print(f"battwatch demo: --keep {keep}: cannot use it as a directory: {e.strerror}", file=sys.stderr)
                return 2
        else:
            workdir = Path(tempfile.mkdtemp(prefix="battwatch-demo-"))
        return _run(console, scenario, readings, seconds, workdir, keep is not None)
    except KeyboardInterrupt:  # Ctrl-C before the daemon's own handler was in place
        console.print("\ninterrupted before the run started")
        return 130
    finally:
        if workdir is not None and not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(console: Any, scenario: str, readings: list[Reading], seconds: float, workdir: Path, keep: bool) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from battwatch.app import App
    from battwatch.emulator.adc_sim import AdcEmulator

    span_s = readings[-1].t - readings[0].t
    speed = span_s / max(seconds, 1.0)
    link = workdir / "adc"
    cfg = _cfg(scenario, workdir / "store", str(link))
    console.print(
        f"{len(readings)} ADC windows over {span_s / 86400:.0f} days, replayed {speed:,.0f}x faster "
        f"through a pseudo-terminal ({link}) into the daemon's serial path."
    )
    logging.basicConfig(level=logging.ERROR)  # the progress display is the output here
    changes: list[AlertTransition] = []
    t0 = readings[0].t
    emu = AdcEmulator(readings, speed=speed, link=link, wait_hello=True)
    try:
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
                    progress.update(task, completed=state["n"],
                                    description=f"{iso_utc(r.t)[:10]} (day {(r.t - t0) / 86400:.0f})")

            def on_transition(tr: AlertTransition) -> None:
                changes.append(tr)
                colour = {"critical": "red", "warning": "yellow", "info": "cyan"}.get(tr.severity, "white")
                verb = CHANGE_WORDS[tr.change]
                progress.console.print(
                    f"[{colour}]{iso_utc(tr.t)[:16]} {verb} {tr.battery}/{tr.alert} ({tr.severity})[/{colour}]: "
                    f"{tr.message}"
                )

            app = App(
                cfg,
                on_reading=on_reading,
                on_transition=on_transition,
                stop_when=lambda a: emu.done.is_set() and a.decoder.stats.lines >= emu.lines_written,
                use_scheduler=False,
                final=True,  # the scenario ends here: its last drive is judged too
            )
            # from here Ctrl-C (SIGINT) asks the daemon to stop in order, as it does in a car
            app.install_signal_handlers()
            emu.start()
            app.run()
            progress.update(task, completed=state["n"])
    finally:
        emu.close()

    interrupted = app.stop_requested.is_set()
    stats = app.decoder.stats
    last_t = app._last_reading_t or t0
    summary = app.pipeline.summary(last_t)
    console.print()
    if interrupted:
        console.print(f"[bold]Interrupted[/bold] on day {(last_t - t0) / 86400:.0f} of {span_s / 86400:.0f}: "
                      "the summary so far")
    console.print("[bold]Summary[/bold]")
    console.print(
        f"  serial: {stats.frames:,} frames decoded, {stats.lost_frames} lost, "
        f"{sum(stats.errors.values())} bad lines"
    )
    console.print(f"  readings stored: {app.store.readings_written:,} in {cfg.store.path}")
    console.print(f"  {alert_counts(changes)}")
    console.print(_health_table(summary))
    if keep:
        # not wrapped: a command broken across lines cannot be copied
        console.print(f"  store kept in {cfg.store.path}; look at it with: battwatch status --store {cfg.store.path}",
                      soft_wrap=True)
    else:
        console.print("  the demo's store is removed on exit; to look at it afterwards run the demo with --keep DIR, "
                      "then: battwatch status --store DIR/store", soft_wrap=True)
    return 130 if interrupted else 0
