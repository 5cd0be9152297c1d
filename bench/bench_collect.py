"""Benchmark: `battwatch collect` end to end, 1,000 simulated cars through Mosquitto into InfluxDB 1.6."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # servers.py and helpers.Proc

VEHICLES = 1_000
MINUTES = 10  # simulated minutes: each car sends a readings window and a state message per minute
PUBLISHERS = 4  # connections sharing the cars between them
T0 = 1_736_121_600.0  # 2025-01-06T00:00:00Z
PREFIX = "battwatch"
TIMEOUT_S = 600.0


def _messages() -> list[list[tuple[str, bytes]]]:
    """Per publisher, its cars' messages in time order (minute by minute, as a fleet sends)."""
    from battwatch.core import mqtt_encode as me
    from battwatch.core.model import HealthSummary, Reading
    from battwatch.core.timefmt import iso_utc

    out: list[list[tuple[str, bytes]]] = [[] for _ in range(PUBLISHERS)]
    for m in range(1, MINUTES + 1):
        for v in range(VEHICLES):
            vehicle = f"car-{v:05d}"
            tp = me.Topics(PREFIX, vehicle)
            agg = me.WindowAggregator(60)
            start = T0 + 60.0 * (m - 1)
            for k in range(6):
                main = 12.6 - 0.001 * m - 0.0001 * (v % 50)
                agg.add(Reading(start + 5 + 10 * k, main, main - 0.01, main + 0.01, 5.2, 5.19, 5.21, 4.0, 10.0, vehicle),
                        "parked")
            w = agg.flush()
            assert w is not None
            t = start + 60.0
            state = me.state_payload(HealthSummary(t, vehicle, {
                "state": "parked",
                "main": {"voltage": 12.6, "rested_voltage": 12.62, "rested_at": iso_utc(t - 30), "soc_pct": 82,
                         "age_years": 2.5, "remaining_life_years": 3.0, "remaining_life_basis": "age", "alerts": []},
                # no trend: the daily projection (about 120 points a car, once a day) would swamp
                # ten minutes of data and say nothing about the steady rate
                "sos": {"voltage": 5.2, "rested_voltage": 5.2, "rested_at": iso_utc(t - 30), "soc_pct": 71,
                        "age_years": 4.1, "remaining_life_years": 1.9, "remaining_life_basis": "age", "alerts": []},
            }))
            box = out[v % PUBLISHERS]
            box.append((tp.readings, me.readings_payload(vehicle, w)))
            box.append((tp.state, state))
    return out


PUBLISHER = r"""
import pickle, signal, sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
# blocked before paho starts its thread, which inherits the mask: a "go" signal that reached
# a thread not waiting for it would kill the publisher (SIGUSR1's default action)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
msgs = pickle.load(open(sys.argv[1], "rb"))
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=sys.argv[2], protocol=mqtt.MQTTv311)
c.max_inflight_messages_set(1000)
c.connect("127.0.0.1", int(sys.argv[3]))
c.loop_start()
print("ready", flush=True)
signal.sigwait({signal.SIGUSR1})  # go
infos = [c.publish(topic, payload, qos=1) for topic, payload in msgs]
for info in infos:
    info.wait_for_publish(600)
c.disconnect()
c.loop_stop()
print("published", flush=True)
"""


def _publishers(tmp: Path, port: int, boxes: list[list[tuple[str, bytes]]], tag: str) -> list[Any]:
    """One process per connection, connected and waiting for the word to go."""
    import pickle

    from helpers import Proc

    procs = []
    for i, box in enumerate(boxes):
        data = tmp / f"pub-{i}.pickle"
        if not data.exists():
            data.write_bytes(pickle.dumps(box))
        procs.append(Proc([sys.executable, "-c", PUBLISHER, str(data), f"bench-pub-{tag}-{i}", str(port)]))
    for p in procs:
        p.wait_for(r"^ready$", 30)
    return procs


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _config(path: Path, name: str, store: Path, broker_port: int, db_url: str, db: str) -> Path:
    path.write_text(f"""
[vehicle]
id = "{name}"
[store]
path = "{store}"
[mqtt]
host = "127.0.0.1"
port = {broker_port}
[influx]
url = "{db_url}"
api = "v1"
database = "{db}"
batch_size = 5000
flush_interval_s = 1.0
backlog_max = 10000000
[collect]
client_id = "bench-{name}"
status_interval_s = 5
""", encoding="utf-8")
    return path


def _round(
    n_collectors: int, backlog: bool, tmp: Path, broker: Any, influx: Any, boxes: list[list[tuple[str, bytes]]]
) -> dict[str, Any]:
    """One measurement. ``backlog``: the collectors are frozen (SIGSTOP) while the whole fleet
    publishes, and the clock starts when they are released: their drain rate, without the
    publishers competing for the CPU."""
    import signal

    from helpers import Proc
    from servers import wait_until

    tag = f"{n_collectors}{'b' if backlog else 'l'}"
    db = f"bench_{tag}"
    influx.create_database(db)
    procs = []
    for i in range(n_collectors):
        name = f"collector-{tag}-{i + 1}"
        cfg = _config(tmp / f"{name}.toml", name, tmp / name, broker.port, influx.url, db)
        p = Proc([sys.executable, "-m", "battwatch.commands.collect", "-c", str(cfg)])
        p.wait_for(r"subscribed: ", 30)
        procs.append(p)
    total = sum(len(b) for b in boxes)
    readings_points = VEHICLES * MINUTES * 2  # main and sos per window

    def readings_in_db() -> bool:
        rows = influx.points('SELECT count("v") FROM "readings"', db)
        return bool(rows) and rows[0]["count"] >= readings_points

    pubs = _publishers(tmp, broker.port, boxes, tag)
    cpu0 = [_cpu_s(p.p.pid) for p in procs]  # a frozen collector uses none meanwhile
    if backlog:
        for p in procs:
            p.signal(signal.SIGSTOP)
    began = time.perf_counter()
    for pub in pubs:
        pub.signal(signal.SIGUSR1)
    for pub in pubs:
        pub.wait_for(r"^published$", TIMEOUT_S)
        assert pub.wait(30) == 0, pub.output
    published = time.perf_counter() - began
    if backlog:
        began = time.perf_counter()
        for p in procs:
            p.signal(signal.SIGCONT)
    wait_until(readings_in_db, TIMEOUT_S, "every readings point in InfluxDB")
    took = time.perf_counter() - began
    cpu = sum(_cpu_s(p.p.pid) - c for p, c in zip(procs, cpu0, strict=True))
    finals = []
    for p in procs:
        assert p.stop(120) == 0, p.output[-2000:]
        m = p.wait_for(r"collector stopped: messages=(\d+) points=(\d+)", 5)
        finals.append((int(m.group(1)), int(m.group(2))))
    messages = sum(f[0] for f in finals)
    points = sum(f[1] for f in finals)
    assert messages == total, (messages, total)
    return {
        "collectors": n_collectors, "mode": "backlog" if backlog else "live", "messages": total, "points": points,
        "published_s": published, "took_s": took, "msg_rate": total / took, "pt_rate": points / took,
        "cpu_ms_per_msg": 1000.0 * cpu / total, "shares": [f[0] for f in finals],
    }


def run() -> str:
    from servers import start_influxdb1, start_mosquitto

    boxes = _messages()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-collect-") as tmp_name:
        tmp = Path(tmp_name)
        with start_mosquitto(tmp / "servers", conf_extra="max_queued_messages 0\n") as broker, \
                start_influxdb1(tmp / "servers") as influx:
            for backlog in (False, True):
                for n in (1, 2):
                    results.append(_round(n, backlog, tmp, broker, influx, boxes))
    rows = [
        f"| {r['mode']} | {r['collectors']} | {r['messages']:,} | {r['points']:,} | {r['published_s']:.1f} "
        f"| {r['took_s']:.1f} | {r['msg_rate']:,.0f} | {r['pt_rate']:,.0f} | {r['cpu_ms_per_msg']:.2f} "
        f"| {' / '.join(f'{s:,}' for s in r['shares'])} |"
        for r in results
    ]
    return "\n".join([
        "## Fleet collector: MQTT to InfluxDB end to end",
        "",
        f"{VEHICLES:,} simulated cars each send a readings window and a state message for every one of "
        f"{MINUTES} simulated minutes, all at once ({PUBLISHERS} publisher processes, one connection each, "
        "QoS 1), through Mosquitto 2.0 into `battwatch collect` (one or two processes on one shared "
        "subscription) and InfluxDB 1.6. *live*: the clock runs from the first publish until the last "
        "readings point is queryable in InfluxDB. *backlog*: the collectors are frozen while the fleet "
        "publishes (the broker queues their shares) and the clock starts when they are released, which "
        "is a reconnect after an outage and isolates the collectors' rate from the publishers'. "
        "Points are what the collectors encoded: readings 2 per window, plus health and fleet rows "
        "thinned by the default `health_every_s = 300` (each collector thins on its own, so two write "
        "more of them); the once-a-day projection is left out. CPU is the "
        "collectors' user + system time per message. Every message was acknowledged only after its lines "
        "were committed to the collector's outbox. Everything (broker, database, publishers, "
        "collectors) shares this machine's cores, so a second collector cannot add CPU here: on "
        "separate machines the rate adds up, and the CPU figure is what sizes a deployment "
        "(docs/collect.md).",
        "",
        "| mode | collectors | messages | points | publishing done (s) | in InfluxDB (s) | messages/s | points/s "
        "| collector CPU ms/message | messages per collector |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
    ])


if __name__ == "__main__":
    print(run())
