"""Cost of the health analysis per reading (collected by bench/run.py into RESULTS.md)."""

from __future__ import annotations

from common import best_of


def run() -> str:
    from battwatch import config, scenarios
    from battwatch.core.analysis import build_analyzer
    from battwatch.core.model import Reading

    cfg = config.defaults("bench-car")

    # 1. the common path: a parked car at rest, 1-s windows from live hardware (a day of them)
    t0 = 1_736_121_600.0
    parked = [
        Reading(t0 + i, 12.65 + (i % 7) * 0.0003, 12.648, 12.653, 5.30, 5.299, 5.301, 10.0, 1.0, "bench-car")
        for i in range(86_400)
    ]

    def feed_parked() -> None:
        an = build_analyzer(cfg)
        for r in parked:
            an.feed(r)

    t_parked = best_of(5, feed_parked) / len(parked)

    # 2. a realistic mix: a simulated year of windows (600 s parked, 60 s awake and driving)
    year = list(scenarios.generate("long-healthy-year"))
    ycfg = config.from_dict(scenarios.scenario_config("long-healthy-year"))

    def feed_year() -> None:
        an = build_analyzer(ycfg)
        for r in year:
            an.feed(r)

    t_year = best_of(3, feed_year) / len(year)

    return "\n".join([
        "## Health analysis cost per reading",
        "",
        "`BatteryAnalyzer.feed` timed with `time.perf_counter`, best of several runs, in one process",
        "(no store, no sinks). Trend fits run once a week of data, medians once a day.",
        "",
        "| workload | readings | cost per reading |",
        "|---|---|---|",
        f"| parked car at rest, 1-s windows (the common path) | {len(parked):,} | {t_parked * 1e6:.2f} µs |",
        f"| `long-healthy-year` scenario (600 s parked, 60 s driving windows) | {len(year):,} | {t_year * 1e6:.2f} µs |",
        "",
        "The replay of a year of 5-minute rows, with and without the analysis, is in the replay section.",
        "",
    ])


if __name__ == "__main__":
    print(run())
