"""``python -m battwatch.scenarios NAME``: write a scenario as a CSV log."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from battwatch import scenarios
from battwatch.core.csvlog import write_csv
from battwatch.core.timefmt import parse_time


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m battwatch.scenarios", description="Write a simulated scenario as CSV."
    )
    ap.add_argument("name", nargs="?", help="scenario name (see --list)")
    ap.add_argument("-o", "--output", metavar="FILE.csv", help="write here instead of stdout")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--start", metavar="TIME", help="end of the first window: ISO 8601 or Unix s")
    ap.add_argument("--list", action="store_true", help="list the scenarios and what they should raise")
    args = ap.parse_args(argv)
    if args.list:
        for name in scenarios.names():
            print(f"{name:26} {', '.join(scenarios.expected_alerts(name)) or '-'}")
        return 0
    if not args.name:
        ap.error("a scenario name is required (or --list)")
    if args.name not in scenarios.names():
        print(f"unknown scenario {args.name!r}; try --list", file=sys.stderr)
        return 2
    try:
        start = None if args.start is None else parse_time(args.start)
    except ValueError as e:
        ap.error(f"--start: {e}")
    vehicle = str(scenarios.scenario_config(args.name)["vehicle"]["id"])  # type: ignore[index]
    readings = scenarios.generate(args.name, seed=args.seed, start=start)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            n = write_csv(fh, readings, vehicle)
        print(f"{args.output}: {n} windows of {args.name} (seed {args.seed})", file=sys.stderr)
    else:
        try:
            write_csv(sys.stdout, readings, vehicle)
            sys.stdout.flush()
        except BrokenPipeError:  # `| head` closed the pipe: not an error for a CSV dump
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
