"""``battwatch report``: a log's history as one picture and a short text (states, starts, alerts, SOS trend)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from battwatch.report.data import collect_report
from battwatch.report.plot import plot_report
from battwatch.report.text import format_summary

logger = logging.getLogger(__name__)



def run_report(args: argparse.Namespace) -> int:
    """``battwatch report LOG... [-c CONFIG] [--plot FILE.png] [--days N] [--max-warnings N]``;
    returns the exit code."""
    from battwatch.replay import ReplayError, log_sources

    try:
        with log_sources([args.log] if isinstance(args.log, str) else args.log) as logs:
            return _report(args, logs)
    except ReplayError as e:
        print(f"battwatch report: {e}", file=sys.stderr)
        return 2


def _report(args: argparse.Namespace, logs: list[tuple[Path, str]]) -> int:
    from battwatch.commands import EXIT_FAIL, EXIT_OK, EXIT_USAGE
    from battwatch.config import load_or_defaults as load_config
    from battwatch.core.csvlog import CsvFormatError
    from battwatch.replay import logs_label, stderr_warn

    for path, shown in logs:
        if not path.is_file():
            print(f"battwatch report: {shown}: no such file", file=sys.stderr)
            return EXIT_USAGE
    max_warnings = getattr(args, "max_warnings", None)
    if max_warnings is not None and max_warnings < 0:
        print("battwatch report: --max-warnings must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    path = logs[0][0]
    name = logs_label(logs) if len(logs) > 1 or logs[0][1] != str(path) else None
    days = getattr(args, "days", None)
    if days is not None and not days > 0:
        print("battwatch report: --days must be positive", file=sys.stderr)
        return EXIT_USAGE
    plot = getattr(args, "plot", None)
    cfg = load_config(args.config, required=False, vehicle="report")
    try:
        data = collect_report(logs, cfg, days=days, warn=stderr_warn,
                              vehicle=cfg.vehicle.id if args.config else None,
                              max_warnings=-1 if max_warnings is None else max_warnings)
    except CsvFormatError as e:
        print(f"battwatch report: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.config is None and data.vehicle == cfg.vehicle.id:
        # no config, no vehicle column: name the file
        data = dataclasses.replace(data, vehicle=path.name if name is None else name)
    if data.unknown_columns:
        stderr_warn(f"{name or path}: columns ignored: {', '.join(data.unknown_columns)}")
    print(format_summary(data))
    if data.start is None:
        print(f"battwatch report: {name or path}: no readings to report", file=sys.stderr)
        return EXIT_FAIL
    if plot:
        try:
            plot_report(data, Path(plot))
        except OSError as e:
            print(f"battwatch report: cannot write {plot}: {e.strerror or e}", file=sys.stderr)
            return EXIT_FAIL
        print(f"picture: {plot}")
    return EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``battwatch report`` (also used by ``python -m battwatch.commands.report``)."""
    p.add_argument("log", metavar="LOG", nargs="+",
                   help="CSV logs in the replay format, gzip-compressed or not, or directories of them; "
                        "- reads standard input")
    p.add_argument("--max-warnings", type=int, metavar="N",
                   help="show only the first N skipped-row warnings (default: every one)")
    p.add_argument("-c", "--config", default=None, metavar="PATH",
                   help="configuration file (default: embedded defaults)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the history as one picture")
    p.add_argument("--days", type=float, metavar="N",
                   help="show only the last N days (the analysis still runs over the whole log)")


def main(argv: Sequence[str] | None = None) -> int:
    from battwatch.config import ConfigError

    p = argparse.ArgumentParser(prog="python -m battwatch.commands.report",
                                description="History of a CSV log as text and one picture.")
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return run_report(args)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`: the reader left
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
