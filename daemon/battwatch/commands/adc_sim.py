"""`battwatch adc-sim`: its arguments checked, the emulator served until the data ends or a signal."""

from __future__ import annotations

import argparse
import math
import threading
from pathlib import Path

from battwatch.emulator.adc_sim import AdcEmulator
from battwatch.emulator.feed import SimError, readings_for


def _check_args(args: argparse.Namespace) -> None:
    """Every number and path adc-sim takes, checked before anything starts."""

    def number(name: str, value: float | None, lo: float, hi: float = math.inf) -> None:
        if value is not None and not (math.isfinite(value) and lo <= value <= hi):
            span = f"at least {lo:g}" if hi == math.inf else f"{lo:g} to {hi:g}"
            raise SimError(f"--{name} {value:g}: expected a number {span}")

    number("speed", args.speed, 0.0)
    number("noise", args.noise, 0.0, 1.0)
    number("unplug-after", args.unplug_after, 0.0)
    number("unplug-for", args.unplug_for, 0.0)
    if args.csv and not Path(args.csv).is_file():
        raise SimError(f"{args.csv}: no such file")
    if args.link:
        link = Path(args.link)
        if not link.parent.is_dir():
            raise SimError(f"--link {link}: directory {link.parent} does not exist")
        if (link.exists() or link.is_symlink()) and not link.is_symlink():
            raise SimError(f"--link {link}: exists and is not a symlink; refusing to replace it")


def run_adc_sim(args: argparse.Namespace) -> int:
    """``battwatch adc-sim``: serve until the data ends (with --exit-at-end) or a signal."""
    import signal
    import sys

    from battwatch import scenarios

    if args.list_scenarios:
        for name in scenarios.names():
            print(f"{name:28} {scenarios.describe(name).splitlines()[0]}")
        return 0
    name = args.scenario
    if name and name not in scenarios.names():
        print(f"adc-sim: unknown scenario {name!r}; try --list-scenarios", file=sys.stderr)
        return 2
    link = Path(args.link) if args.link else None
    try:
        _check_args(args)
        readings = readings_for(args.csv, args.scenario, int(args.seed))
        emu = AdcEmulator(
            readings,
            speed=float(args.speed),
            link=link,
            noise=float(args.noise),
            seed=int(args.seed),
            wait_hello=bool(args.wait_hello),
            clock=not args.no_clock,
        )
    except SimError as e:
        print(f"adc-sim: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # no pty left, a link directory that is not writable
        where = f" {e.filename}" if e.filename else ""
        print(f"adc-sim: cannot set up the pseudo-terminal{where}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"adc-sim: serving on {emu.device_path}" + (f" (link {link})" if link else ""), flush=True)
    stop = threading.Event()

    def on_signal(sig: int, frame: object) -> None:
        if sig == signal.SIGUSR1:
            emu.unplug()
        elif sig == signal.SIGUSR2:
            emu.replug()
        else:
            stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, on_signal)
    errors: list[str] = []

    def run() -> None:
        try:
            emu.run()
        except Exception as e:  # noqa: BLE001 - reported as one line; the main thread exits 2
            errors.append(f"{type(e).__name__}: {e}" if not isinstance(e, SimError | OSError) else str(e))
            stop.set()

    th = threading.Thread(target=run, name="adc-sim", daemon=True)
    th.start()
    unplug_after = args.unplug_after
    if unplug_after is not None:
        def script() -> None:
            if not stop.wait(unplug_after):
                emu.unplug()
                if not stop.wait(float(args.unplug_for)):
                    emu.replug()

        threading.Thread(target=script, daemon=True).start()
    exit_at_end = bool(args.exit_at_end)
    while not stop.is_set():
        if exit_at_end and emu.done.is_set():
            break
        stop.wait(0.2)  # wakes for signals; the emulator thread does the work
    emu.close()
    th.join(2)
    if errors:
        print(f"adc-sim: {errors[0]}", file=sys.stderr)
        return 2
    print(
        f"adc-sim: {emu.frames_written} frames written, {emu.corrupted} damaged on purpose",
        file=sys.stderr,
    )
    return 0
