"""The InfluxDB sink against real servers: InfluxDB 1.6 (api v1) and VictoriaMetrics (api v2)."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from battwatch import config
from battwatch.config import Config
from battwatch.core import influx_encode as enc
from battwatch.core.events import Rested, Start
from battwatch.core.healthsummary import from_json
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.timefmt import iso_utc
from battwatch.sinks.influx import OUTBOX_NAME, InfluxSink
from helpers import Proc
from servers import InfluxDB1, VictoriaMetrics, wait_until

pytestmark = pytest.mark.servers

DB = "battwatch"
T0 = 1_736_121_600.0  # 2025-01-06T00:00:00Z
TIMEOUT = 30.0


def v1_config(url: str, **influx: Any) -> Config:
    return config.from_dict({
        "vehicle": {"id": "car-1", "model": "BMW X1 F48", "site": "Zürich Süd", "owner_group": "pool"},
        "battery": {"sos": {"installed": "2020-01-06"}, "main": {"installed": "2023-01-06"}},
        "influx": {"url": url, "api": "v1", "database": DB, "tags": {"region": "eu"}, **influx},
    }, env={})


def v2_config(url: str, **influx: Any) -> Config:
    return config.from_dict({
        "vehicle": {"id": "car-2"},
        "influx": {"url": url, "api": "v2", "org": "fleet", "bucket": "battwatch", "token": "t0ken", **influx},
    }, env={})


def readings(n: int, start: float = T0, step: float = 60.0) -> list[Reading]:
    """A parked car that wakes, starts and drives every ~4 hours (60-s windows)."""
    out = []
    for i in range(n):
        phase = i % 240
        if phase == 200:  # the crank window
            main, lo, hi = 13.8, 9.6, 14.5
        elif 200 < phase < 230:  # driving
            main, lo, hi = 14.1, 13.9, 14.4
        else:  # asleep, slowly discharging
            main = round(12.70 - 0.0002 * phase, 4)
            lo, hi = main - 0.002, main + 0.002
        sos = round(5.20 - 0.00005 * i, 5)
        out.append(Reading(start + step * (i + 1), main, lo, hi, sos, sos - 0.003, sos + 0.003, 4.0, step))
    return out


def expected_lines(cfg: Config, rs: list[Reading], *, close: bool = True) -> list[str]:
    """What the sink should write for these readings: the encoder run offline."""
    assert cfg.influx is not None
    v = cfg.vehicle
    tags = enc.fleet_tags(v.id, model=v.model, site=v.site, owner_group=v.owner_group, extra=cfg.influx.tags)
    e = enc.ReadingEncoder(v.id, tags)
    points: list[enc.Point] = []
    for r in rs:
        points += e.reading(r, "")
    if close:
        points += e.close()
    return enc.to_lines(points)


def series_times(lines: list[str], measurement: str, battery: str) -> list[int]:
    return sorted(
        int(ln.rsplit(" ", 1)[1]) for ln in lines
        if ln.startswith(measurement + ",") and f",battery={battery}," in ln
    )


def db_times(db: InfluxDB1, measurement: str, field: str, battery: str) -> list[int]:
    q = f'SELECT "{field}" FROM "{measurement}" WHERE "battery" = \'{battery}\''
    series = db.query(q, DB, epoch="ns")["results"][0].get("series", [])
    return [row[0] for s in series for row in s["values"]]


def feed(sink: InfluxSink, rs: list[Reading]) -> None:
    for r in rs:
        sink.reading(r, "")


def transition(t: float, severity: str, state: str = "raised", alert: str = "rest_low") -> AlertTransition:
    return AlertTransition(t, "car-1", "main", alert, severity, state, 12.05, f"{alert} {severity}")  # type: ignore[arg-type]


# -- InfluxDB 1.6 through api = "v1" -----------------------------------------------------------


def test_v1_sink_lands_readings_transitions_and_summaries(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    influxdb1.create_database(DB)
    cfg = v1_config(influxdb1.url)
    sink = InfluxSink(cfg, tmp_path)
    sink.start()
    rs = readings(480)
    feed(sink, rs)
    # what the analysis found in them, as the router hands it over
    starts = [Start(r.t, "car-1", 9.6, 12.66, 3.06, 14.1, 4.0, 9.5, False, False, False, "ok") for r in rs if r.main_min_v == 9.6]
    for ev in starts:
        sink.started(ev)
    sink.rested(Rested(rs[150].t, "car-1", "sos", rs[150].sos_v or 0.0, 9000.0, 4.0))
    t_alert = rs[100].t + 0.0004
    sink.transition(transition(t_alert, "warning"))
    sink.transition(transition(t_alert, "critical"))  # escalated in the same millisecond
    end = rs[-1].t
    sink.summary(HealthSummary(end, "car-1", from_json({
        "main": {"soc_pct": 72, "age_years": 2.0, "remaining_life_years": 3.2, "health": "good"},
        "sos": {"age_years": 5.0, "life_window_years": [4, 7], "rested_voltage": 5.18, "rested_at": end - 3600,
                "health": "attention",
                "alerts": [{"alert": "age", "severity": "warning", "since": end - 86400}],
                # -0.3 V a year: 4.40 V after 2.6 years
                "trend": {"v_per_day": -0.3 / 365.25, "significant": True,
                          "projected_end_of_life_date": iso_utc(end + 2.6 * 365.25 * 86400)[:10]}},
    }, vehicle="car-1", t=end)))
    sink.close(TIMEOUT)

    st = sink.status()
    assert st["backlog"] == 0 and st["connected"] is True and st["dropped"] == 0 and st["rejected"] == 0
    want = expected_lines(cfg, rs)
    for battery in ("main", "sos"):
        assert db_times(influxdb1, "readings", "v", battery) == series_times(want, "readings", battery)
    first = influxdb1.points('SELECT * FROM "readings" WHERE "battery" = \'main\' LIMIT 1', DB)[0]
    assert first == {
        "time": int(rs[0].t), "battery": "main", "vehicle": "car-1", "model": "BMW X1 F48",
        "site": "Zürich Süd", "owner_group": "pool", "region": "eu", "v": 12.7,
        "min_v": pytest.approx(12.698), "max_v": pytest.approx(12.702), "temp_c": 4.0, "n": 1,
    }
    cranks = influxdb1.points('SELECT "min_v", "pre_v", "recovery_v", "limit_v", "verdict" FROM "cranks"', DB)
    assert [(c["time"], c["min_v"], c["pre_v"], c["recovery_v"], c["limit_v"], c["verdict"]) for c in cranks] == [
        (int(ev.t), 9.6, 12.66, 14.1, 9.5, "ok") for ev in starts]
    assert len(starts) == 2
    assert influxdb1.points('SELECT count("v") FROM "rested" WHERE "battery" = \'sos\'', DB)[0]["count"] == 1

    alerts = influxdb1.query('SELECT "severity", "active", "value" FROM "alerts"', DB, epoch="ns")
    values = alerts["results"][0]["series"][0]["values"]
    assert [(v[1], v[2], v[3]) for v in values] == [("warning", 1, 12.05), ("critical", 1, 12.05)]
    assert values[0][0] // 1_000_000 == round(t_alert * 1000)

    health = influxdb1.points('SELECT * FROM "health" GROUP BY "battery"', DB)
    by = {h["battery"]: h for h in health}
    assert by["main"]["soc_pct"] == 72 and by["main"]["age_years"] == 2.0
    assert by["sos"]["life_min_years"] == 4 and by["sos"]["worst_severity"] == 2
    assert by["sos"]["rest_v"] == 5.18 and by["sos"]["health"] == "attention"
    fleet = influxdb1.points('SELECT "urgency", "main_soc_pct", "sos_age_years" FROM "fleet"', DB)
    assert fleet[0]["main_soc_pct"] == 72 and fleet[0]["urgency"] >= 200
    proj = influxdb1.points('SELECT "v" FROM "projection"', DB)
    assert len(proj) > 2 and proj[-1]["v"] < 4.4


def test_database_stopped_mid_stream_loses_nothing_and_duplicates_nothing(
    influxdb1: InfluxDB1, tmp_path: Path
) -> None:
    influxdb1.create_database(DB)
    cfg = v1_config(influxdb1.url, batch_size=25, flush_interval_s=0.2)
    sink = InfluxSink(cfg, tmp_path, backoff_min_s=0.1, backoff_max_s=0.5)
    sink.start()
    rs = readings(900)
    feed(sink, rs[:300])
    wait_until(lambda: sink.status()["written"] > 0, TIMEOUT, "first writes")

    influxdb1.stop()
    feed(sink, rs[300:600])
    wait_until(lambda: sink.status()["connected"] is False, TIMEOUT, "the sink to notice the outage")
    down = sink.status()
    assert down["backlog"] > 0 and down["last_error"] and down["oldest_age_s"] is not None

    influxdb1.start()
    feed(sink, rs[600:])
    sink.close(TIMEOUT)

    st = sink.status()
    assert st["backlog"] == 0 and st["connected"] is True and st["dropped"] == 0
    want = expected_lines(cfg, rs)
    for battery in ("main", "sos"):
        got = db_times(influxdb1, "readings", "v", battery)
        assert got == series_times(want, "readings", battery)  # each window once, none missing
    assert len(want) == 1800  # both batteries, each window; the sink finds no starts or rests itself


def test_replaying_the_same_backlog_twice_writes_no_duplicates(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    influxdb1.create_database(DB)
    cfg = v1_config(influxdb1.url)
    rs = readings(300)
    for run in ("first", "second"):
        sink = InfluxSink(cfg, tmp_path / run)
        sink.start()
        feed(sink, rs)
        sink.transition(transition(rs[10].t, "warning"))
        sink.transition(transition(rs[20].t, "warning", "cleared"))
        sink.close(TIMEOUT)
        assert sink.status()["backlog"] == 0
    counts = influxdb1.points('SELECT count("v") FROM "readings" GROUP BY "battery"', DB)
    assert sorted((c["battery"], c["count"]) for c in counts) == [("main", 300), ("sos", 300)]
    assert influxdb1.points('SELECT count("active") FROM "alerts"', DB)[0]["count"] == 2


def test_new_sink_delivers_the_outbox_left_by_a_killed_process(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    influxdb1.create_database(DB)
    url = influxdb1.url
    influxdb1.stop()  # the database is away while the first process runs
    store = tmp_path / "store"
    script = textwrap.dedent(f"""
        import sys, threading
        here = {str(Path(__file__).resolve().parent)!r}
        sys.path[:0] = [here, here + "/.."]
        from test_influx_sink import v1_config, readings, feed, expected_lines
        from servers import wait_until
        from battwatch.sinks.influx import InfluxSink
        cfg = v1_config({url!r})
        n = len(expected_lines(cfg, readings(200), close=False))
        sink = InfluxSink(cfg, {str(store)!r}, backoff_min_s=5, backoff_max_s=5)
        sink.start()
        feed(sink, readings(200))
        # status() counts queued lines too; the outbox alone must hold them before the kill
        wait_until(lambda: sink._queued_lines == 0 and sink.status()["backlog"] == n, 20, "persisted")
        print("persisted", sink.status()["backlog"], flush=True)
        threading.Event().wait()
    """)
    cfg = v1_config(url)
    want = expected_lines(cfg, readings(200), close=False)
    proc = Proc([sys.executable, "-c", script])
    try:
        proc.wait_for(rf"^persisted {len(want)}$", TIMEOUT)
    finally:
        proc.kill()  # SIGKILL: no close(), no flush
    assert (store / OUTBOX_NAME).exists()

    influxdb1.start()
    sink = InfluxSink(cfg, store)
    assert sink.status()["backlog"] == 0  # nothing known before the sender opened the outbox
    sink.start()
    sink.close(TIMEOUT)
    assert sink.status()["backlog"] == 0 and sink.status()["written"] == len(want)
    for battery in ("main", "sos"):
        assert db_times(influxdb1, "readings", "v", battery) == series_times(want, "readings", battery)


def test_refused_line_is_found_set_aside_and_counted_while_the_rest_lands(
    influxdb1: InfluxDB1, tmp_path: Path
) -> None:
    influxdb1.create_database(DB)
    # a float "message" in the alerts measurement makes the string "message" a type conflict
    influxdb1.write([f'alerts,vehicle=other message=1.5 {int(T0) + 1}'], DB)  # same shard (week)
    cfg = v1_config(influxdb1.url, batch_size=64)
    sink = InfluxSink(cfg, tmp_path)
    sink.start()
    rs = readings(100)
    feed(sink, rs[:50])
    sink.transition(transition(rs[49].t, "critical"))
    feed(sink, rs[50:])
    sink.close(TIMEOUT)
    st = sink.status()
    assert st["rejected"] == 1 and st["backlog"] == 0 and "type conflict" in st["last_error"]
    counts = influxdb1.points('SELECT count("v") FROM "readings" GROUP BY "battery"', DB)
    assert sorted((c["battery"], c["count"]) for c in counts) == [("main", 100), ("sos", 100)]


def test_backlog_is_bounded_and_drops_the_oldest(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    influxdb1.create_database(DB)
    url = influxdb1.url
    influxdb1.stop()
    cfg = v1_config(url, backlog_max=100)
    sink = InfluxSink(cfg, tmp_path, backoff_min_s=0.1, backoff_max_s=0.2)
    sink.start()
    trs = [transition(T0 + i, "warning", "raised" if i % 2 == 0 else "cleared") for i in range(250)]
    for tr in trs:
        sink.transition(tr)
    wait_until(lambda: sink.status()["dropped"] == 150, TIMEOUT, "the oldest lines to be dropped")
    assert sink.status()["backlog"] == 100
    influxdb1.start()
    sink.close(TIMEOUT)
    got = [p["time"] for p in influxdb1.points('SELECT "active" FROM "alerts"', DB)]
    assert got == [int(tr.t) for tr in trs[150:]]


def test_close_with_the_database_away_keeps_the_outbox(influxdb1: InfluxDB1, tmp_path: Path) -> None:
    influxdb1.create_database(DB)
    influxdb1.stop()
    sink = InfluxSink(v1_config(influxdb1.url), tmp_path, backoff_min_s=0.1, backoff_max_s=0.2)
    sink.start()
    feed(sink, readings(50))
    began = time.monotonic()
    sink.close(1.0)
    assert time.monotonic() - began < 10.0
    st = sink.status()
    assert st["backlog"] == 100 and st["connected"] is False and st["written"] == 0


# -- VictoriaMetrics through the v2 write API -------------------------------------------------------


def test_v2_sink_writes_old_timestamps_to_victoriametrics(victoriametrics: VictoriaMetrics, tmp_path: Path) -> None:
    three_years_ago = (int(time.time()) // 86400 - 3 * 365) * 86400.0
    cfg = v2_config(victoriametrics.url)
    sink = InfluxSink(cfg, tmp_path)
    sink.start()
    rs = readings(240, start=three_years_ago)
    feed(sink, rs)
    tr = AlertTransition(rs[5].t, "car-2", "sos", "age", "info", "raised", 5.6, "pack older than 4 years")
    sink.transition(tr)
    sink.close(TIMEOUT)
    st = sink.status()
    assert st["backlog"] == 0 and st["connected"] is True

    series = victoriametrics.export('{__name__="readings_v"}')
    by = {s["metric"]["battery"]: s for s in series}
    assert set(by) == {"main", "sos"}
    assert by["main"]["metric"]["vehicle"] == "car-2"
    assert by["main"]["timestamps"] == [int(r.t * 1000) for r in rs]
    assert by["sos"]["values"][0] == rs[0].sos_v
    alert = victoriametrics.export('{__name__="alerts_active"}')
    assert [(a["metric"]["alert"], a["values"], a["timestamps"]) for a in alert] == [
        ("age", [1], [int(tr.t * 1000)])
    ]


def test_v2_sink_stopped_mid_stream_victoriametrics(victoriametrics: VictoriaMetrics, tmp_path: Path) -> None:
    cfg = v2_config(victoriametrics.url, batch_size=20, flush_interval_s=0.2)
    sink = InfluxSink(cfg, tmp_path, backoff_min_s=0.1, backoff_max_s=0.5)
    sink.start()
    rs = readings(300)
    feed(sink, rs[:100])
    wait_until(lambda: sink.status()["written"] > 0, TIMEOUT, "first writes")
    victoriametrics.stop()
    feed(sink, rs[100:200])
    wait_until(lambda: sink.status()["connected"] is False, TIMEOUT, "the sink to notice the outage")
    victoriametrics.start()
    feed(sink, rs[200:])
    sink.close(TIMEOUT)
    assert sink.status()["backlog"] == 0
    series = victoriametrics.export('{__name__="readings_v"}')
    for s in series:
        assert s["timestamps"] == [int(r.t * 1000) for r in rs]  # each once, in order, none missing


def test_health_is_thinned_to_every_five_minutes_unless_an_alert_changed(
    influxdb1: InfluxDB1, tmp_path: Path
) -> None:
    influxdb1.create_database(DB)
    sink = InfluxSink(v1_config(influxdb1.url), tmp_path)
    sink.start()
    data = {"main": {"soc_pct": 80.0}}
    for dt in (0, 60, 120, 400, 430):
        sink.summary(HealthSummary(T0 + dt, "car-1", from_json(data, vehicle="car-1", t=T0 + dt)))
    sink.transition(transition(T0 + 450, "warning"))
    sink.summary(HealthSummary(T0 + 450, "car-1", from_json(data, vehicle="car-1", t=T0 + 450)))  # right after an alert: always written
    sink.close(TIMEOUT)
    got = [p["time"] for p in influxdb1.points('SELECT "soc_pct" FROM "health" WHERE "battery" = \'main\'', DB)]
    assert got == [int(T0), int(T0) + 400, int(T0) + 450]
