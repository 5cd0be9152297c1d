"""Command line: ``battwatch <command>``. The only module that exits the process."""

from __future__ import annotations

import gc


class _Lifelong:
    """A block whose imports live as long as the process (modules, classes, functions, the
    configuration's sections): the cyclic collector, which ran twenty times over them in a
    one-row replay's start-up (a tenth of it), can free nothing there, so it is off while they
    load and they are frozen out of its sight after; then it is on again if it was."""

    def __enter__(self) -> None:
        self.collecting = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        gc.freeze()
        if self.collecting:
            gc.enable()


with _Lifelong():
    import argparse
    import os
    import sys
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from battwatch import __version__, core
    from battwatch.commands import EXIT_FAIL, EXIT_OK, EXIT_USAGE
    from battwatch.config import DEFAULT_PATH
    from battwatch.config import load_or_defaults as load_config

DEFAULT_CONFIG = str(DEFAULT_PATH)


# -- commands -------------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    import json

    from battwatch import config

    cfg = config.load(args.config)
    sinks = ["store"] + [n for n in ("mqtt", "influx") if getattr(cfg, n) is not None]
    # with --show, stdout is the JSON alone (for jq and scripts): the verdict goes to stderr
    print(f"{args.config}: OK (vehicle {cfg.vehicle.id}; ADC {cfg.adc.port}; sinks: {', '.join(sinks)})",
          file=sys.stderr if args.show else sys.stdout)
    problem = store_dir_problem(cfg.store.path)
    if problem is not None:
        # a warning only: the file may be checked on another machine than the one it is for
        print(f"warning: [store] path: {problem}", file=sys.stderr)
    if args.show:
        print(json.dumps(config.redacted(cfg), indent=2, default=str))
    return EXIT_OK


def store_dir_problem(path: Path) -> str | None:
    """Why an existing store path cannot be used by this user, or None (absent paths are created)."""
    if not path.exists():
        return None
    if not path.is_dir():
        return f"{path} exists but is not a directory"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"{path} is not writable by this user (uid {os.getuid()})"
    return None


def cmd_run(args: argparse.Namespace) -> int:
    # First thing, before the imports, the configuration and the store: a stop asked for
    # while the daemon loads (systemd stopping it at once) still gets the ordered exit 0,
    # never the default death by the signal (143).
    import signal
    import threading

    stop = threading.Event()

    def stop_early(sig: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop_early)
    # the store, logs and outboxes tell when the car is driven and parked: nothing for others
    # (the unit says UMask=0027 too; this covers a daemon started by hand)
    os.umask(os.umask(0o027) | 0o027)
    import logging

    from battwatch.app import App
    from battwatch.logsetup import setup_logging

    cfg = load_config(args.config, required=True)
    setup_logging(args.log_level or cfg.logging.level)
    app = App(cfg, stop_requested=stop)
    app.install_signal_handlers()
    if stop.is_set():
        logging.getLogger("battwatch.app").info("stop asked for while starting")
    return app.run()


def replay_vehicle(path: Path) -> str:
    """The vehicle a log is replayed as without a configuration: the ``vehicle`` of its first
    usable row when that is a valid vehicle id, else "replay"."""
    import re

    from battwatch.config import VEHICLE_ID
    from battwatch.replay import first_reading, stderr_warn

    first = first_reading(path)
    name = None if first is None else first.vehicle
    if name is None:
        return "replay"
    if re.search(VEHICLE_ID, name) is None:
        stderr_warn(f"{path}: vehicle {name!r} is not a valid vehicle id; replaying as 'replay'")
        return "replay"
    return name


LOG_HELP = ("CSV logs in the replay format, gzip-compressed or not, or directories of them (a store's "
            "logs/), replayed as one in time order; - reads standard input")


def log_problem(path: Path) -> str | None:
    """Why a log given on the command line cannot be read, or None."""
    if not path.exists():
        return "no such file"
    if not os.access(path, os.R_OK):
        return "not readable by this user"
    return None


def cmd_replay(args: argparse.Namespace) -> int:
    with _Lifelong():  # a replay's own modules (see the imports above)
        from battwatch.replay import ReplayError, log_sources

    try:
        with log_sources(args.log) as logs:
            return _replay(args, logs)
    except ReplayError as e:
        print(f"battwatch replay: {e}", file=sys.stderr)
        return EXIT_USAGE


def _replay(args: argparse.Namespace, logs: list[tuple[Path, str]]) -> int:
    from battwatch.core.csvlog import CsvFormatError
    from battwatch.replay import ReplayError, logs_label, replay_file, stderr_warn

    for path, name in logs:
        problem = log_problem(path)
        if problem is not None:
            print(f"battwatch replay: {name}: {problem}", file=sys.stderr)
            return EXIT_USAGE
    path, name = logs[0]
    if args.max_warnings is not None and args.max_warnings < 0:
        print("battwatch replay: --max-warnings must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    if args.fresh and not args.store:
        print("battwatch replay: --fresh goes with --store (without one the analysis always starts afresh)",
              file=sys.stderr)
        return EXIT_USAGE
    cfg = load_config(args.config, required=False,
                      vehicle=replay_vehicle(path) if args.config is None else "replay")
    if args.store or args.publish:
        from battwatch.logsetup import setup_logging

        setup_logging("warning", stream=sys.stderr)  # the store's and sinks' warnings; stdout is the output
    try:
        res = replay_file(
            logs,
            cfg,
            jsonl=sys.stdout if args.jsonl else None,
            warn=stderr_warn,
            store_dir=Path(args.store) if args.store else None,
            publish=args.publish,
            fresh=args.fresh,
            max_warnings=-1 if args.max_warnings is None else args.max_warnings,
        )
    except CsvFormatError as e:
        print(f"battwatch replay: {e} (battwatch import converts logs in other formats)", file=sys.stderr)
        return EXIT_USAGE
    except ReplayError as e:
        print(f"battwatch replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"battwatch replay: {name}: cannot read: {e.strerror}", file=sys.stderr)
        return EXIT_FAIL
    if res.unknown_columns:
        stderr_warn(f"{name}: columns ignored: {', '.join(res.unknown_columns)}")
    if not args.jsonl:
        for tr in res.transitions:
            print(f"{tr.to_json_dict()['time']}  {tr.battery:4} {tr.alert:16} {tr.severity:8} {tr.change:9} {tr.message}")
    files = f" from {len(logs)} logs" if len(logs) > 1 else ""
    print(
        f"replayed {res.readings} readings{files} ({res.skipped} rows skipped), "
        f"{len(res.transitions)} alert transitions",
        file=sys.stderr,
    )
    if res.readings == 0:
        print(f"battwatch replay: no usable row in {logs_label(logs)}: nothing was replayed "
              "(battwatch import converts logs in other formats)", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from battwatch.commands.report import run_report

    return run_report(args)


def cmd_import(args: argparse.Namespace) -> int:
    from battwatch.commands.import_logs import run_import

    return run_import(args)


def cmd_adc_sim(args: argparse.Namespace) -> int:
    from battwatch.commands.adc_sim import run_adc_sim

    return run_adc_sim(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from battwatch.commands.demo import run_demo

    return run_demo(scenario=args.scenario, seconds=args.seconds, keep=args.keep)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from battwatch.commands.calibrate import run_calibrate

    return run_calibrate(args)


def cmd_collect(args: argparse.Namespace) -> int:
    from battwatch.commands.collect import run_collect

    return run_collect(args)


def cmd_replaced(args: argparse.Namespace) -> int:
    from battwatch.replacement import run_replaced

    return run_replaced(args)


def cmd_status(args: argparse.Namespace) -> int:
    from battwatch.commands.status import run_status

    return run_status(args)


# -- parser ---------------------------------------------------------------------------------


def terminal_columns() -> int:
    """The terminal's width as shutil.get_terminal_size() gives it: $COLUMNS, else the width
    of the terminal on standard output, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    out = sys.__stdout__
    if out is None:
        return 80
    try:
        return os.get_terminal_size(out.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class Formatter(argparse.HelpFormatter):
    """argparse's help formatter, given the width it would find itself: without one it imports
    shutil (and with it bz2, lzma and fnmatch, ~2 ms) for every option a command adds."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


def _config_arg(p: argparse.ArgumentParser, required_default: bool) -> None:
    if required_default:
        p.add_argument("-c", "--config", default=DEFAULT_CONFIG, metavar="PATH",
                       help=f"configuration file (default {DEFAULT_CONFIG})")
    else:
        p.add_argument("-c", "--config", default=None, metavar="PATH",
                       help="configuration file (default: embedded defaults)")


def _run_args(s: argparse.ArgumentParser) -> None:
    _config_arg(s, True)
    s.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                   help="how much the daemon logs (default: [logging] level of the configuration, info)")
    s.set_defaults(func=cmd_run)


def _check_config_args(s: argparse.ArgumentParser) -> None:
    _config_arg(s, True)
    s.add_argument("--show", action="store_true", help="print the effective configuration (secrets masked)")
    s.set_defaults(func=cmd_check_config)


def _replay_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("log", metavar="LOG", nargs="+", help=LOG_HELP)
    s.add_argument("-c", "--config", default=None, metavar="PATH",
                   help="configuration file (default: embedded defaults, as the vehicle the log's first row names)")
    s.add_argument("--jsonl", action="store_true", help="print alert transitions as JSON lines")
    s.add_argument("--store", metavar="DIR",
                   help="also write readings and alerts to a store in DIR, continuing the analysis it holds")
    s.add_argument("--fresh", action="store_true",
                   help="with --store: ignore the analysis state the store holds and start afresh")
    s.add_argument("--max-warnings", type=int, metavar="N",
                   help="show only the first N skipped-row warnings (default: every one; the count is always given)")
    s.add_argument("--publish", action="store_true",
                   help="send readings and alerts through the configured sinks (MQTT, InfluxDB): a backfill")
    s.set_defaults(func=cmd_replay)


def _report_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("log", metavar="LOG", nargs="+", help=LOG_HELP)
    _config_arg(s, False)
    s.add_argument("--plot", metavar="FILE.png", help="also draw the history as one PNG picture")
    s.add_argument("--days", type=float, metavar="N",
                   help="show only the last N days (the analysis still runs over the whole log)")
    s.add_argument("--max-warnings", type=int, metavar="N",
                   help="show only the first N skipped-row warnings (default: every one; the count is always given)")
    s.set_defaults(func=cmd_report)


def _import_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("sources", nargs="+", metavar="SRC", help="a CSV or text log from another logger")
    s.add_argument("-o", "--output", metavar="OUT.csv", help="the battwatch CSV log to write (default: standard output)")
    s.add_argument("--tz", metavar="ZONE",
                   help="the zone of times written without a UTC offset, e.g. Europe/Berlin (a DST change is handled)")
    s.add_argument("--start", metavar="TIME",
                   help="when a log that counts time from its start began (ISO 8601; without an offset: in --tz)")
    s.add_argument("--column", action="append", default=[], metavar="FIELD=SOURCE[:UNIT]",
                   help="take a battwatch column (time, main_v, sos_v, temp_c, ...) from the named or numbered "
                        "source column; units: V, mV, cV for voltages; s, ms, min, h, d or dmy, mdy for times")
    s.add_argument("--vehicle", metavar="ID", help="write this vehicle id on every row")
    s.set_defaults(func=cmd_import)


def _adc_sim_args(s: argparse.ArgumentParser) -> None:
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", metavar="LOG.csv", help="replay this log")
    src.add_argument("--scenario", metavar="NAME", help="a built-in scenario (--list-scenarios)")
    src.add_argument("--list-scenarios", action="store_true", help="list built-in scenarios")
    s.add_argument("--speed", type=float, default=1.0,
                   help="time compression: 1 = real time, 3600 = an hour a second, 0 = as fast as read")
    s.add_argument("--link", metavar="PATH", help="keep a symlink to the pty at PATH")
    s.add_argument("--noise", type=float, default=0.0, metavar="P",
                   help="probability of damaging each line (bad CRC, cut, garbage)")
    s.add_argument("--seed", type=int, default=0,
                   help="random seed of the scenario's data and of --noise (default 0): the same seed, the same run")
    s.add_argument("--unplug-after", type=float, metavar="S", help="unplug after S real seconds")
    s.add_argument("--unplug-for", type=float, default=5.0, metavar="S", help="stay unplugged S seconds")
    s.add_argument("--exit-at-end", action="store_true", help="exit when the data ends (default: stay open)")
    s.add_argument("--wait-hello", action="store_true",
                   help="start streaming when the reader sends HELLO (no frames lost to its open)")
    s.add_argument("--no-clock", action="store_true",
                   help="a board without a real-time clock: send no BWT clock frames")
    s.set_defaults(func=cmd_adc_sim)


def _demo_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--scenario", default="demo", help="built-in scenario (default: demo)")
    s.add_argument("--seconds", type=float, default=60.0, help="target duration (default 60)")
    s.add_argument("--keep", metavar="DIR", help="keep the demo's store in DIR")
    s.set_defaults(func=cmd_demo)


def _calibrate_args(s: argparse.ArgumentParser) -> None:
    _config_arg(s, True)  # read for the live procedure (port, baud rate); --point needs none
    s.add_argument("--channel", choices=["main", "sos"], required=True,
                   help="the tap to calibrate: main (the 12 V battery) or sos (the backup pack)")
    s.add_argument("--point", action="append", metavar="RAW:TRUE",
                   help="a reference point in volts (give two for offline use)")
    s.add_argument("--samples", type=int, default=20, help="frames to average per live point")
    s.add_argument("--port", help="ADC port (default: [adc] port of the configuration)")
    s.set_defaults(func=cmd_calibrate)


def _status_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("-c", "--config", default=None, metavar="PATH",
                   help=f"configuration file (default {DEFAULT_CONFIG}; with --store alone: none, the store names the vehicle)")
    s.add_argument("--store", metavar="DIR",
                   help="the store to read (default: [store] path of the configuration), e.g. one kept by demo --keep")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_status)


def _replaced_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("-c", "--config", default=None, metavar="PATH",
                   help=f"configuration file (default {DEFAULT_CONFIG}; with --store alone: none needed)")
    s.add_argument("--battery", required=True, choices=["sos", "main"], help="which battery is new")
    s.add_argument("--date", metavar="DATE",
                   help="when it was fitted: 2025-03-25, or 2025-03-25T10:00+01:00 (default: now)")
    s.add_argument("--note", metavar="TEXT", help="a few words kept with it (garage, part number)")
    s.add_argument("--store", metavar="DIR", help="the store to record it in (default: [store] path)")
    s.set_defaults(func=cmd_replaced)


def _collect_args(s: argparse.ArgumentParser) -> None:
    _config_arg(s, True)
    s.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                   help="how much the collector logs (default: [logging] level of the configuration, info)")
    s.set_defaults(func=cmd_collect)


# command: (its line in the help, what adds its options); in the order the help lists them
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "run": ("run the daemon (logs to stdout for journald)", _run_args),
    "check-config": ("validate a configuration file and list every problem", _check_config_args),
    "replay": ("run a CSV log through the daemon's pipeline", _replay_args),
    "report": ("history of a CSV log as text and one picture (--plot)", _report_args),
    "import": ("convert other loggers' voltage files into a battwatch CSV log", _import_args),
    "adc-sim": ("emulate the ADC firmware on a pseudo-terminal", _adc_sim_args),
    "demo": ("months of a car in about a minute, no hardware, no services", _demo_args),
    "calibrate": ("derive gain and offset from two multimeter readings", _calibrate_args),
    "status": ("health of both batteries, alerts and link from the store", _status_args),
    "replaced": ("tell battwatch a battery was replaced: its alerts, age and trends start afresh", _replaced_args),
    "collect": ("fleet collector: many cars' MQTT messages into InfluxDB (docs/collect.md)", _collect_args),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command``, only that command's options are added (the others'
    sixty-odd arguments took longer to build than a short log takes to replay)."""
    p = argparse.ArgumentParser(
        prog="battwatch",
        description="12 V starter battery and SOS backup battery monitor for vehicles.",
        formatter_class=Formatter,
    )
    build = "compiled core" if core.compiled() else "pure-Python core"
    p.add_argument("--version", action="version", version=f"battwatch {__version__} ({build})")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (text, add) in COMMANDS.items():
        if command is None or name == command:
            add(sub.add_parser(name, help=text, formatter_class=Formatter))
    return p


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    # a command named first is the only one parsed: help, --version and mistakes get them all
    only = words[0] if words and words[0] in COMMANDS else None
    args = build_parser(only).parse_args(words)
    from battwatch.config import ConfigError, StoreError

    try:
        return int(args.func(args))
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE
    except StoreError as e:
        # a store path that cannot be used is a configuration problem, like a bad key
        print(f"battwatch {args.command}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `battwatch replay ... | head`: the reader left; not an error worth a traceback
        sys.stderr.close()
        return EXIT_OK


def _entry() -> Any:  # pragma: no cover - console-script shim
    sys.exit(main())
