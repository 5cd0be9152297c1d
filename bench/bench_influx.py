"""Benchmark: InfluxDB points per second, encoded and written through the sink (1.x and VictoriaMetrics)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # tests/servers.py starts the real servers

READINGS = 60_000  # 1-minute windows: about 42 days of one car, two points per window
BATCH = 5_000


def _readings(n: int) -> list:  # type: ignore[type-arg]
    from battwatch.core.model import Reading

    t0 = 1_736_121_600.0
    out = []
    for i in range(n):
        main = 12.6 - 0.0001 * (i % 500)
        sos = 5.2 - 0.00001 * i
        out.append(Reading(t0 + 60.0 * (i + 1), main, main - 0.003, main + 0.003, sos, sos - 0.002, sos + 0.002, 5.0, 60.0))
    return out


def _encode_rate(rs: list) -> tuple[float, int]:  # type: ignore[type-arg]
    from battwatch.core import influx_encode as enc

    e = enc.ReadingEncoder("bench-car", enc.fleet_tags("bench-car", model="BMW X1 F48", site="bench"))
    began = time.perf_counter()
    lines = 0
    for r in rs:
        lines += len(enc.to_lines(e.reading(r, "")))
    return lines / (time.perf_counter() - began), lines


def _sink_rate(influx: dict[str, object], store: Path, rs: list) -> tuple[float, int, dict[str, object]]:  # type: ignore[type-arg]
    from battwatch import config
    from battwatch.sinks.influx import InfluxSink

    cfg = config.from_dict({
        "vehicle": {"id": "bench-car", "model": "BMW X1 F48", "site": "bench"},
        "influx": {**influx, "batch_size": BATCH, "flush_interval_s": 1.0},
    }, env={})
    sink = InfluxSink(cfg, store)
    sink.start()
    began = time.perf_counter()
    for r in rs:
        sink.reading(r, "")
    sink.close(300)
    took = time.perf_counter() - began
    st = sink.status()
    return st["written"] / took, int(st["written"]), st  # type: ignore[call-overload]


def run() -> str:
    from servers import start_influxdb1, start_victoriametrics

    rs = _readings(READINGS)
    enc_rate, lines = _encode_rate(rs)
    rows = [f"| encode only (no I/O) | {lines:,} | {enc_rate:,.0f} |"]
    with tempfile.TemporaryDirectory(prefix="bench-influx-") as tmp_name:
        tmp = Path(tmp_name)
        with start_influxdb1(tmp / "servers") as db:
            db.create_database("battwatch")
            rate, n, st = _sink_rate({"url": db.url, "api": "v1", "database": "battwatch"}, tmp / "s1", rs)
            assert st["backlog"] == 0, st
            count = db.points('SELECT count("v") FROM "readings"', "battwatch")[0]["count"]
            rows.append(f"| sink → InfluxDB 1.6 (api v1, /write, gzip) | {n:,} ({count:,} in the database) | {rate:,.0f} |")
        with start_victoriametrics(tmp / "servers") as vm:
            rate, n, st = _sink_rate(
                {"url": vm.url, "api": "v2", "org": "o", "bucket": "b", "token": "x"}, tmp / "s2", rs
            )
            assert st["backlog"] == 0, st
            rows.append(f"| sink → VictoriaMetrics (api v2, /api/v2/write, gzip) | {n:,} | {rate:,.0f} |")
    return "\n".join([
        "## InfluxDB sink: points per second",
        "",
        f"{READINGS:,} one-minute readings of one car (two `readings` points each, plus rested "
        f"readings) fed to `InfluxSink` as fast as the main thread can; the clock stops when "
        f"`close()` returns with an empty outbox. `batch_size = {BATCH:,}`. Every line goes "
        "through the SQLite outbox (WAL) before it is sent; servers run on this machine "
        "(tests/servers.py), so this is the sink's ceiling, not a network's.",
        "",
        "| path | points | points/s |",
        "|---|---:|---:|",
        *rows,
        "",
    ])


if __name__ == "__main__":
    print(run())
