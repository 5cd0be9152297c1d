"""The store's disk fills and later gets room back: every sink goes on, nothing is torn."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import logging
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_mqtt_sink import Subscriber

from battwatch import config
from battwatch.app import App
from battwatch.commands import status
from battwatch.core.csvlog import RowParser
from battwatch.core.model import Reading, Tick
from battwatch.emulator.adc_sim import AdcEmulator
from battwatch.sinks.influx import SPILL_MAX
from servers import InfluxDB1, Mosquitto, wait_until

pytestmark = [pytest.mark.servers, pytest.mark.serial]

T0 = 1_736_121_600.0  # 2025-01-06T00:00:00Z
N, FULL_AT, ROOM_AT = 4000, 1000, 3000  # readings; the disk fills before FULL_AT, has room from ROOM_AT
TIMEOUT = 180.0
DB = "battwatch"


@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (as root, as `make test` runs in CI)."""
    assert os.geteuid() == 0, "this test mounts a 2 MB filesystem: run it as root"
    path.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of the filesystem with one file."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as fh:
        while True:
            try:
                fh.write(chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                chunk = chunk[: len(chunk) // 2]
                if len(chunk) < 512:
                    break
    return filler


def reading(i: int) -> Reading:
    v = 12.6 - 0.0001 * i
    return Reading(T0 + i + 1, v, v - 0.01, v + 0.01, 5.21, 5.2, 5.22, 8.0, 1.0, "car")


def test_a_full_disk_stops_no_sink_tears_no_row_and_everything_resumes(
    tmp_path: Path, mosquitto: Mosquitto, influxdb1: InfluxDB1, caplog: pytest.LogCaptureFixture
) -> None:
    influxdb1.create_database(DB)
    gates = {FULL_AT: threading.Event(), ROOM_AT: threading.Event()}

    def paced() -> Iterator[Reading]:
        for i in range(N):
            if i in gates:
                assert gates[i].wait(TIMEOUT)
            yield reading(i)

    caplog.set_level(logging.INFO, logger="battwatch")
    with tiny_filesystem(tmp_path / "small") as small:
        emu = AdcEmulator(paced(), speed=0, link=tmp_path / "adc", wait_hello=True)
        emu.start()
        cfg = config.from_dict({
            "vehicle": {"id": "car"},
            # one frame per reading, asleep or not
            "adc": {"port": str(tmp_path / "adc"), "reconnect_min_s": 0.1, "reconnect_max_s": 0.3,
                    "sleep_rate_hz": 1.0},
            "store": {"path": str(small / "store"), "commit_interval_s": 0.5},
            "clock": {"host": "trusted"},
            "mqtt": {"host": mosquitto.host, "port": mosquitto.port, "reconnect_min_s": 0.1,
                     "reconnect_max_s": 0.5},
            "influx": {"url": influxdb1.url, "api": "v1", "database": DB, "window_s": 10,
                       "flush_interval_s": 0.2},
        }, env={})
        sub = Subscriber(mosquitto.host, mosquitto.port, ("battwatch/car/readings", "battwatch/car/state")).ready()
        routed: list[Reading] = []
        built: list[App] = []

        def daemon() -> None:  # built on its own thread: SQLite connections stay on theirs
            built.append(App(cfg, use_scheduler=False, on_reading=routed.append))
            built[0].run()

        runner = threading.Thread(target=daemon, name="daemon")
        runner.start()
        wait_until(lambda: bool(built), TIMEOUT, "the daemon built")
        app = built[0]
        try:
            wait_until(lambda: len(routed) >= FULL_AT and app.store.readings_written >= FULL_AT, TIMEOUT,
                       "the readings before the disk fills, committed")
            filler = fill(small)
            gates[FULL_AT].set()
            wait_until(lambda: len(routed) >= ROOM_AT and app.store.unwritten > 0, TIMEOUT,
                       "the readings while the disk is full")
            app.inbox.put(Tick(time.time()))  # the minute's summary: status and the MQTT state
            state = sub.wait(lambda g: any(b'"ok": false' in x.payload or b'"ok":false' in x.payload
                                           for x in g if x.topic.endswith("/state")), TIMEOUT,
                             "the MQTT state telling of the full disk")
            told = json.loads(next(x.payload for x in state if x.topic.endswith("/state")))["store"]
            assert told["ok"] is False and "disk full" in told["problem"] and told["unwritten"] > 0
            st = app.store.status()
            assert "disk full" in (st["last_error"] or "") and st["failing_since"] is not None
            info = status.collect(cfg)
            assert info["disk"]["full"] is True and "disk     FULL: readings cannot be stored" in status.render(info)
            assert app.sinks[2].status()["spilled"] <= SPILL_MAX  # bounded memory
            filler.unlink()  # room again
            gates[ROOM_AT].set()
            wait_until(lambda: len(routed) >= N and app.store.readings_written + app.store.unwritten >= N,
                       TIMEOUT, "the readings after the disk has room again")
        finally:
            app.stop_requested.set()
            runner.join(TIMEOUT)
            emu.close()
        assert not runner.is_alive()
        influx_thread = app.sinks[2]._thread  # type: ignore[attr-defined]
        # -- the store: what the database has plus what it could not take is every reading
        db = sqlite3.connect(small / "store" / "battwatch.sqlite3")
        try:
            stored, last = db.execute("SELECT count(*), max(t) FROM readings").fetchone()
        finally:
            db.close()
        unwritten = app.store.unwritten
        assert 0 < unwritten < N and stored + unwritten == N
        assert last == reading(N - 1).t  # it resumed by itself
        # -- the daily log: only whole rows, each one a reading; the rest counted
        parsed: list[Reading] = []
        for path in sorted((small / "store" / "logs").glob("*.csv")):
            with path.open(newline="") as fh:
                header, *rows = list(csv.reader(fh))
            parser = RowParser(header)
            parsed += [parser.parse(row) for row in rows]  # raises on a torn row
        logged = {r.t for r in parsed}
        assert len(logged) == len(parsed) and logged <= {reading(i).t for i in range(N)}
        assert len(parsed) + app.store.csv.trouble.lost == N  # type: ignore[union-attr]
        assert reading(N - 1).t in logged  # the log resumed by itself too
    # -- InfluxDB and MQTT got every reading, during the full disk too
    points = influxdb1.points('SELECT count("v") FROM "readings" WHERE "battery" = \'main\'', DB)
    assert points and points[0]["count"] == N // 10
    msgs = [json.loads(x.payload) for x in sub.got if x.topic.endswith("/readings")]
    assert sum(m["samples"] for m in msgs) == N
    sub.close()
    assert influx_thread is not None and not influx_thread.is_alive()  # stopped at close, never died
    text = caplog.text
    assert "Traceback" not in text and "influx sender failed" not in text
    store_warnings = [r for r in caplog.records if r.getMessage().startswith("store database")]
    assert store_warnings and "failed: disk full" in store_warnings[0].getMessage()
    assert len(store_warnings) <= 4, [r.getMessage() for r in store_warnings]  # once, counts, back
    assert "works again" in store_warnings[-1].getMessage()
