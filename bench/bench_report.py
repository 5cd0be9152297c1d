"""Cost of ``battwatch report`` on a year of data (collected by bench/run.py into RESULTS.md)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from common import best_of


def run() -> str:
    from battwatch import config, scenarios
    from battwatch.app import build_pipeline
    from battwatch.commands.report import collect_report, plot_report
    from battwatch.core.csvlog import write_csv
    from battwatch.replay import open_log, replay_rows

    name = "long-healthy-year"
    sc = scenarios.scenario_config(name)
    cfg = config.from_dict(sc)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / f"{name}.csv"
        with log.open("w", encoding="utf-8", newline="") as fh:
            rows = write_csv(fh, scenarios.generate(name), f"sim-{name}")

        def plain_replay() -> None:
            with open_log(log) as fh:
                replay_rows(fh, build_pipeline(cfg))

        t_replay = best_of(3, plain_replay)
        t_collect = best_of(3, lambda: collect_report(log, cfg))
        data = collect_report(log, cfg)
        png = Path(tmp) / "year.png"
        t_plot = best_of(3, lambda: plot_report(data, png))
        size_kb = png.stat().st_size / 1000.0
        points = max(len(data.main_line), len(data.sos_line))
        t_days = best_of(3, lambda: collect_report(log, cfg, days=30.0))

    return "\n".join([
        "## Report (`battwatch report --plot`)",
        "",
        f"One year of the `{name}` scenario: {rows:,} CSV rows (10-min windows parked, 1-min awake),",
        f"{len(data.starts)} starts, {len(data.states):,} vehicle-state stretches. Best of 3 runs each.",
        "",
        "| step | time |",
        "|---|---|",
        f"| plain `replay` of the log (parse + analysis) | {t_replay:.2f} s |",
        f"| `collect_report` (the same, recording histories, reduced lines, state runs) | {t_collect:.2f} s |",
        f"| `collect_report` with `--days 30` | {t_days:.2f} s |",
        f"| `plot_report` (matplotlib Agg, 1600x1000, 256-colour PNG) | {t_plot:.2f} s |",
        "",
        f"Longest plotted line: {points:,} points (cap 5,000); PNG {size_kb:.0f} kB.",
        "Measured with `time.perf_counter` around each call in one process (matplotlib already imported",
        "after the first plot).",
        "",
    ])


if __name__ == "__main__":
    print(run())
