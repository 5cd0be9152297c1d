"""``battwatch collect``: MQTT messages of a whole fleet into InfluxDB, shared among collectors."""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import fcntl
import json
import logging
import math
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from battwatch.core import influx_encode as enc
from battwatch.core import mqtt_encode as mqtt_enc
from battwatch.core.mqtt_encode import SCHEMA_VERSION

if TYPE_CHECKING:
    from battwatch.config import CollectConfig, Config
    from battwatch.sinks.influx import InfluxSink

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

# The streams a collector needs. `alerts/<battery>/<alert>` repeats what `events` carries (and
# a shared subscription gets no retained messages anyway); `status` and `notify` hold no data.
Kind = Literal["readings", "state", "events"]
KINDS: tuple[Kind, ...] = ("readings", "state", "events")
BATCH_MAX = 2000  # messages decoded per outbox commit
BAD_LOGGED_PER_INTERVAL = 10
QUIET_S = 0.3  # at a stop: no message for this long means the broker has nothing more for us
PAUSE_AT = 0.95  # of [influx] backlog_max: stop taking messages, let them wait at the broker
SUBSCRIBE_CHUNK = 100  # topic filters per SUBSCRIBE packet
SESSION_TAKEN_OVER = 142  # MQTT 5 reason code: another client connected with our client id
FLEET_COLUMNS = ("vehicle", "model", "site", "owner_group")
FLAPPING = (3, 60.0)  # this many lost connections within this many seconds: say what may cause it


class BadPayload(ValueError):
    """A message that cannot become points; the text says what is wrong with it."""


class CollectSetupError(Exception):
    """A problem that keeps the collector from starting (exit 2, no traceback)."""


# --------------------------------------------------------------------------------------------
# Pure part: topics and payloads in, points out (no clock, no I/O)


def subscriptions(prefix: str, group: str, vehicles: Sequence[str] | None) -> list[str]:
    """The shared-subscription filters: every vehicle, or only the listed ones."""
    # a vehicle id is topic-safe as it is ([vehicle] id's pattern), and the car publishes under
    # exactly that id: x1.f48 stays x1.f48
    levels = ["+"] if vehicles is None else list(vehicles)
    return [f"$share/{group}/{prefix}/{v}/{kind}" for v in levels for kind in KINDS]


def parse_topic(prefix: str, topic: str) -> tuple[str, Kind] | None:
    """``<prefix>/<vehicle>/<kind>`` -> (vehicle, kind); None for any other topic."""
    head = prefix + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head):].split("/")
    if len(parts) != 2 or not parts[0]:
        return None
    vehicle, kind = parts
    for k in KINDS:
        if kind == k:
            return vehicle, k
    return None


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _section(body: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BadPayload(f"{key}: not an object")
    return value


def decode(payload: bytes, vehicle: str) -> dict[str, Any]:
    """The JSON object of a message, checked against the envelope every payload starts with."""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as e:
        raise BadPayload(f"not JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadPayload("not a JSON object")
    schema = body.get("schema")
    if schema != SCHEMA_VERSION:
        # a newer car may mean something else by the same field names: refuse, don't guess
        raise BadPayload(f"schema {schema!r}, this collector reads schema {SCHEMA_VERSION}")
    if body.get("vehicle") != vehicle:
        # the topic is what the broker's ACL vouches for
        raise BadPayload(f"vehicle {body.get('vehicle')!r} in a message on vehicle {vehicle!r}'s topic")
    return body


def window_aggregate(body: Mapping[str, Any], vehicle: str) -> enc.WindowAggregate:
    """A readings message as the aggregate the InfluxDB schema writes (stamped at the window end)."""
    window = _section(body, "window")
    if window is None:
        raise BadPayload("window: missing")
    end_t = _num(window.get("end_t"))
    if end_t is None:
        raise BadPayload("window.end_t: missing or not a number")
    flat: dict[str, Any] = {
        "t": end_t, "vehicle": vehicle, "span_s": _num(window.get("interval_s")),
        "n": body.get("samples"), "state": body.get("state"),
    }
    for name, unit, out in (("main", "_v", "main"), ("sos", "_v", "sos"), ("temp", "_c", "temp")):
        sec = _section(body, name)
        if sec is None:
            continue
        if out == "temp":
            flat["temp_c"] = _num(sec.get(f"mean{unit}"))
        else:
            flat[f"{out}_v"] = _num(sec.get(f"mean{unit}"))
            flat[f"{out}_min_v"] = _num(sec.get(f"min{unit}"))
            flat[f"{out}_max_v"] = _num(sec.get(f"max{unit}"))
    try:
        return enc.WindowAggregate.from_dict(flat)
    except ValueError as e:
        raise BadPayload(str(e)) from None


def health_summary(body: Mapping[str, Any]) -> dict[str, Any]:
    """A state message as the analysis summary the health encoder reads.

    Each battery's section is the analysis's own ``detail`` overlaid with the state's figures
    (``voltage_v``, ``rest_v``, ``alerts``...), which the encoder knows under those names too.
    """
    summary: dict[str, Any] = {"state": body.get("state")}
    for battery in enc.BATTERIES:
        sec = _section(body, battery)
        if sec is None:
            continue
        detail = sec.get("detail")
        merged: dict[str, Any] = dict(detail) if isinstance(detail, Mapping) else {}
        merged.update({k: v for k, v in sec.items() if k != "detail"})
        summary[battery] = merged
    return summary


@dataclass(slots=True)
class _Memo:
    """What one collector remembers of one vehicle, only to keep slow measurements sparse."""

    health_slot: int | None = None
    alerts: tuple[tuple[str, str, str], ...] | None = None
    projection_day: int | None = None


def _alert_key(summary: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    out: list[tuple[str, str, str]] = []
    for battery in enc.BATTERIES:
        sec = summary.get(battery)
        alerts = sec.get("alerts") if isinstance(sec, Mapping) else None
        if isinstance(alerts, list):
            out += [(battery, str(a.get("alert")), str(a.get("severity"))) for a in alerts if isinstance(a, Mapping)]
    return tuple(sorted(out))


class Translator:
    """MQTT messages in, InfluxDB points out (clock-free).

    Every point is a function of one message alone (its data time, the vehicle from the topic,
    the fleet tags), so whichever collector writes it, and however often, it lands on the same
    series and timestamp with the same fields. The per-vehicle memory only decides whether the
    slow measurements (health, projection) are worth writing again; losing it
    (a restart, another collector) means a few more writes, never different points.
    """

    def __init__(
        self,
        *,
        extra_tags: Mapping[str, str] | None = None,
        fleet: Mapping[str, Mapping[str, str]] | None = None,
        health_every_s: float = 300.0,
    ) -> None:
        self.extra_tags = dict(extra_tags or {})
        self.fleet = {k: dict(v) for k, v in (fleet or {}).items()}
        self.health_every_s = health_every_s
        self._tags: dict[str, dict[str, str]] = {}
        self._memo: dict[str, _Memo] = {}

    def tags(self, vehicle: str) -> dict[str, str]:
        tags = self._tags.get(vehicle)
        if tags is None:
            f = self.fleet.get(vehicle, {})
            tags = self._tags[vehicle] = enc.fleet_tags(
                vehicle, model=f.get("model"), site=f.get("site"), owner_group=f.get("owner_group"),
                extra=self.extra_tags,
            )
        return tags

    def points(self, kind: Kind, vehicle: str, body: Mapping[str, Any]) -> list[enc.Point]:
        """Raises BadPayload naming the problem."""
        tags = self.tags(vehicle)
        if kind == "readings":
            return enc.window_points(window_aggregate(body, vehicle), tags)
        if kind == "events" and body.get("type") in ("start", "rested"):
            try:
                if body.get("type") == "start":
                    point = enc.crank_point(mqtt_enc.start_from_dict(body, vehicle), tags)
                else:
                    point = enc.rested_point(mqtt_enc.rested_from_dict(body, vehicle), tags)
            except ValueError as e:
                raise BadPayload(str(e)) from None
            return [] if point is None else [point]
        if kind == "events" and body.get("type") == "replaced":
            try:
                t, battery, fitted, note = enc.replaced_from_dict(body)
            except ValueError as e:
                raise BadPayload(str(e)) from None
            rp = enc.replaced_point(vehicle, t, battery, fitted, note, tags)
            return [] if rp is None else [rp]
        if kind == "events":
            try:
                tr = enc.transition_from_dict(body)
            except ValueError as e:
                raise BadPayload(str(e)) from None
            p = enc.alert_point(tr, tags)
            return [] if p is None else [p]
        return self._state(body, vehicle, tags)

    def _state(self, body: Mapping[str, Any], vehicle: str, tags: Mapping[str, str]) -> list[enc.Point]:
        t = _num(body.get("t"))
        if t is None:
            t = enc.iso_to_t(body.get("time"))
        if t is None:
            raise BadPayload("t: missing or not a number")
        summary = health_summary(body)
        memo = self._memo.get(vehicle)
        if memo is None:
            memo = self._memo[vehicle] = _Memo()
        points: list[enc.Point] = []
        alerts = _alert_key(summary)
        slot = int(t // self.health_every_s) if self.health_every_s > 0 else None
        if slot is None or slot != memo.health_slot or alerts != memo.alerts:
            memo.health_slot, memo.alerts = slot, alerts
            points += enc.health_points(summary, vehicle, t, tags)
        day = int(t // enc.DAY_S)
        if day != memo.projection_day:  # the trend moves slowly: once a day, like the car's sink
            projection = enc.projection_points(summary, vehicle, t, tags)
            if projection:
                memo.projection_day = day
                points += projection
        return points


def read_fleet_file(path: Path) -> dict[str, dict[str, str]]:
    """``vehicle,model,site,owner_group`` rows -> fleet tags by vehicle; CollectSetupError lists bad rows."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise CollectSetupError(f"{path}: cannot read the fleet file: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise CollectSetupError(f"{path}: not UTF-8 text (byte {e.start})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    if "vehicle" not in header:
        raise CollectSetupError(f"{path}: the first line must name the columns, among them 'vehicle'")
    unknown = sorted(set(header) - set(FLEET_COLUMNS))
    if unknown:
        raise CollectSetupError(f"{path}: unknown column(s) {', '.join(unknown)}; known: {', '.join(FLEET_COLUMNS)}")
    out: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for row in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
        vehicle = clean.get("vehicle", "")
        where = f"{path}:{reader.line_num}"
        if not vehicle:
            problems.append(f"{where}: no vehicle id")
        elif vehicle in out:
            problems.append(f"{where}: vehicle {vehicle!r} listed twice")
        else:
            out[vehicle] = {k: v for k, v in clean.items() if k != "vehicle" and v}
    if problems:
        raise CollectSetupError("\n".join(problems[:20]))
    return out


# --------------------------------------------------------------------------------------------
# The imperative shell


@dataclass(frozen=True, slots=True)
class Incoming:
    """One MQTT message as paho's thread hands it over."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # the connection it came on: an acknowledgement is only valid there


@dataclass(frozen=True, slots=True)
class _Note:
    what: str  # connected | disconnected | subscribed | unsubscribed | persisted | wake
    generation: int = 0
    acks: tuple[tuple[int, int, int], ...] = ()  # (generation, mid, qos) now safe in the outbox
    detail: str = ""


_Item = Incoming | _Note


def default_client_id(cfg: Config) -> str:
    c = cfg.collect
    if c is not None and c.client_id:
        return c.client_id
    if cfg.mqtt is not None and cfg.mqtt.client_id:
        return cfg.mqtt.client_id
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0]) or "host"
    return f"battwatch-collect-{host}-{cfg.vehicle.id}"


class Collector:
    """Subscribes to a shared subscription and writes what arrives to InfluxDB through the
    durable outbox of ``InfluxSink``.

    Paho's thread only puts messages on the inbox. The main thread decodes them, queues their
    lines, and acknowledges a message to the broker only once its lines are committed to the
    outbox file, so a collector killed at any moment loses nothing: the broker delivers every
    unacknowledged message again (to this client id, from its persistent session).
    """

    def __init__(self, cfg: Config, *, store_dir: Path | str | None = None) -> None:
        if cfg.mqtt is None or cfg.influx is None:
            missing = [n for n in ("mqtt", "influx") if getattr(cfg, n) is None]
            raise CollectSetupError(
                f"battwatch collect needs an [mqtt] section (the broker) and an [influx] section "
                f"(the database); missing: {', '.join(f'[{n}]' for n in missing)}"
            )
        from battwatch.config import CollectConfig

        self.cfg = cfg
        self.m = cfg.mqtt
        self.c: CollectConfig = cfg.collect or CollectConfig()
        self.store_dir = Path(store_dir) if store_dir is not None else cfg.store.path
        self.client_id = default_client_id(cfg)
        self.topics = subscriptions(self.m.prefix, self.c.share_group, self.c.vehicles)
        self.only = frozenset(self.c.vehicles) if self.c.vehicles is not None else None
        fleet = read_fleet_file(self.c.fleet_file) if self.c.fleet_file is not None else {}
        self.translator = Translator(
            extra_tags=cfg.influx.tags, fleet=fleet,
            health_every_s=self.c.health_every_s,
        )
        self.inbox: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        # Set from a signal handler: a plain flag and SimpleQueue puts, no lock that the
        # interrupted main thread might be holding.
        self._stopping = False
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._force = False
        # paho's thread alone touches these two
        self._paho_generation = 0
        self._paho_connected = False
        self._paho_fail_logged = False
        # main thread state
        self.generation = 0
        self.connected = False
        self.subscribed = threading.Event()
        self.session_present: bool | None = None
        self.unacked = 0  # messages decoded and waiting for their outbox commit
        self.counts: dict[str, int] = {
            "messages": 0, "points": 0, "bad": 0, "ignored": 0, "acked": 0, "stale_acks": 0,
            "connects": 0, "paused": 0,
        }
        self.by_kind: dict[str, int] = {k: 0 for k in KINDS}
        self._bad_logged = 0
        self._bad_suppressed = 0
        self._losses: collections.deque[float] = collections.deque(maxlen=FLAPPING[0])
        self._lock_fd: int | None = None
        self._client: Any = None
        self.sink: InfluxSink | None = None
        self._last_status = (time.monotonic(), 0, 0)

    # -- setup ----------------------------------------------------------------------------
    def _claim_store(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        path = self.store_dir / "collect.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise CollectSetupError(
                f"{self.store_dir} is used by another collector: give each one its own [store] path"
            ) from None
        self._lock_fd = fd

    def _build_client(self) -> Any:

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        m = self.m
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True,
        )
        from battwatch.sinks.mqtt import prepare_client

        prepare_client(client, m, __name__)
        client.reconnect_delay_set(int(math.ceil(m.reconnect_min_s)), int(math.ceil(m.reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        return client

    def _connect_properties(self) -> Any:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        # the session (subscription and unacknowledged messages) outlives a crash or restart
        props.SessionExpiryInterval = self.c.session_expiry_s
        # broker-side flow control: at most this many messages wait for our acknowledgement,
        # which is what bounds the inbox (paho's thread must never block on a full queue)
        props.ReceiveMaximum = self.c.queue_max
        return props

    def start(self) -> None:
        """Open the outbox, start its sender, start connecting; returns at once."""
        from battwatch.sinks.influx import InfluxSink

        try:
            client = self._build_client()
        except (OSError, ValueError) as e:  # unreadable TLS files, bad key
            raise CollectSetupError(f"[mqtt]: cannot set up the MQTT client: {e}") from None
        self._claim_store()
        if self.m.clean_session:
            logger.warning("[mqtt] clean_session ignored: a collector always keeps a persistent session")
        self.sink = InfluxSink(self.cfg, self.store_dir)
        self.sink.start()
        self._client = client
        self._client.connect_async(
            self.m.host, self.m.port, self.m.keepalive, clean_start=False, properties=self._connect_properties()
        )
        self._client.loop_start()
        logger.info(
            "collector %s: %s:%d, %d subscription(s) in group %s, outbox in %s",
            self.client_id, self.m.host, self.m.port, len(self.topics), self.c.share_group, self.store_dir,
        )

    # -- paho callbacks (paho's thread): guarded; they only enqueue or touch their own state ----
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            if reason.is_failure:
                logger.warning("MQTT %s:%d refused us: %s; retrying", self.m.host, self.m.port, reason)
                return
            self._paho_generation += 1
            self._paho_connected = True
            self._paho_fail_logged = False
            present = bool(getattr(flags, "session_present", False))
            self.inbox.put(_Note("connected", self._paho_generation, detail=str(present)))
            # subscribing again on a present session is harmless, and needed after a clean stop
            for i in range(0, len(self.topics), SUBSCRIBE_CHUNK):
                client.subscribe([(t, 1) for t in self.topics[i:i + SUBSCRIBE_CHUNK]])
        except Exception:  # noqa: BLE001 - an exception here would kill paho's thread
            logger.exception("MQTT on_connect failed")

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        try:
            log = logger.debug if self._paho_fail_logged else logger.warning
            self._paho_fail_logged = True
            log("MQTT %s:%d: cannot connect (broker down, network, DNS or TLS); retrying with backoff",
                self.m.host, self.m.port)
        except Exception:  # noqa: BLE001
            logger.exception("MQTT on_connect_fail failed")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            if self._paho_connected:
                self._paho_connected = False
                self.inbox.put(_Note("disconnected", self._paho_generation, detail=str(reason)))
            if getattr(reason, "value", None) == SESSION_TAKEN_OVER:
                logger.error(
                    "MQTT: another client connected as %s and took our session over: every collector "
                    "needs its own client_id", self.client_id,
                )
        except Exception:  # noqa: BLE001
            logger.exception("MQTT on_disconnect failed")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            try:
                topic = msg.topic
            except UnicodeDecodeError:
                topic = "<topic not UTF-8>"
            self.inbox.put(Incoming(topic, bytes(msg.payload), msg.mid, msg.qos, self._paho_generation))
        except Exception:  # noqa: BLE001
            logger.exception("MQTT on_message failed")

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        try:
            failed = [str(r) for r in reasons if getattr(r, "is_failure", False)]
            self.inbox.put(_Note("subscribed", self._paho_generation, detail="; ".join(failed)))
        except Exception:  # noqa: BLE001
            logger.exception("MQTT on_subscribe failed")

    def _on_unsubscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        try:
            self.inbox.put(_Note("unsubscribed", self._paho_generation))
        except Exception:  # noqa: BLE001
            logger.exception("MQTT on_unsubscribe failed")

    # -- the outbox's sender thread -----------------------------------------------------------
    def _persisted(self, acks: tuple[tuple[int, int, int], ...]) -> None:
        self.inbox.put(_Note("persisted", acks=acks))

    # -- main thread -----------------------------------------------------------------------
    def stop(self, force: bool = False) -> None:
        """Ask for an ordered stop (safe from a signal handler)."""
        self._force = self._force or force
        self._stopping = True
        self.inbox.put(_Note("wake"))
        self._wake.put(None)

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            # a second signal skips the drain; what is unacknowledged comes back from the broker
            self.stop(force=self._stopping)

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self) -> int:
        """Start, collect until stop(), shut down in order; returns the exit code."""
        from battwatch.adapters.sdnotify import Notifier

        notifier = Notifier()
        self.start()
        notifier.ready(f"collecting as {self.client_id}")
        next_status = time.monotonic() + self.c.status_interval_s
        paused = False
        try:
            while not self._stopping:
                now = time.monotonic()
                notifier.watchdog()  # the loop comes round at least once a second
                if now >= next_status:
                    self._log_status(notifier)
                    next_status = now + self.c.status_interval_s
                if self._influx_full():
                    # messages wait at the broker instead of pushing old lines out of the outbox
                    if not paused:
                        logger.warning("InfluxDB outbox nearly full: not taking messages until it drains")
                    paused = True
                    self.counts["paused"] += 1
                    with contextlib.suppress(queue.Empty):
                        self._wake.get(timeout=min(1.0, max(0.0, next_status - now)))
                    continue
                paused = False
                self._pump(timeout=min(1.0, max(0.0, next_status - now)))
        finally:
            notifier.stopping()
            self.shutdown()
            notifier.close()
        return EXIT_OK

    def _influx_full(self) -> bool:
        assert self.sink is not None and self.cfg.influx is not None
        return bool(self.sink.status()["backlog"] >= PAUSE_AT * self.cfg.influx.backlog_max)

    def _pump(self, timeout: float) -> int:
        """Take what the inbox holds (waiting up to ``timeout`` for the first item) and handle it;
        returns the number of messages handled."""
        items: list[_Item] = []
        try:
            items.append(self.inbox.get(timeout=timeout) if timeout > 0 else self.inbox.get_nowait())
        except queue.Empty:
            return 0
        while len(items) < BATCH_MAX:
            try:
                items.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        lines: list[str] = []
        acks: list[tuple[int, int, int]] = []
        done_now: list[tuple[int, int, int]] = []
        handled = 0
        for item in items:
            if isinstance(item, _Note):
                self._note(item)
                continue
            handled += 1
            out = self._message(item)
            lines += out
            if item.qos == 0:
                continue  # at most once: nothing to acknowledge
            if out:
                acks.append((item.generation, item.mid, item.qos))
            else:
                done_now.append((item.generation, item.mid, item.qos))
        self._ack(done_now)
        if lines:
            assert self.sink is not None
            self.unacked += len(acks)
            frozen = tuple(acks)
            self.sink.write_lines(lines, (lambda: self._persisted(frozen)) if frozen else None)
        return handled

    def _message(self, m: Incoming) -> list[str]:
        self.counts["messages"] += 1
        where = parse_topic(self.m.prefix, m.topic)
        if where is None:
            self.counts["ignored"] += 1
            return []
        vehicle, kind = where
        if self.only is not None and vehicle not in self.only:
            self.counts["ignored"] += 1
            return []
        try:
            body = decode(m.payload, vehicle)
            points = self.translator.points(kind, vehicle, body)
        except BadPayload as e:
            self._bad(m, str(e))
            return []
        except Exception as e:  # noqa: BLE001 - one strange message must not stop a fleet
            self._bad(m, f"{type(e).__name__}: {e}")
            return []
        self.by_kind[kind] += 1
        self.counts["points"] += len(points)
        return enc.to_lines(points)

    def _bad(self, m: Incoming, why: str) -> None:
        self.counts["bad"] += 1
        if self._bad_logged < BAD_LOGGED_PER_INTERVAL:
            self._bad_logged += 1
            logger.warning("bad payload on %s (%d bytes), dropped: %s", m.topic, len(m.payload), why)
        else:
            self._bad_suppressed += 1

    def _note(self, n: _Note) -> None:
        if n.what == "persisted":
            self.unacked -= len(n.acks)
            self._ack(list(n.acks))
        elif n.what == "connected":
            self.generation = n.generation
            self.connected = True
            self.session_present = n.detail == "True"
            self.counts["connects"] += 1
            logger.info(
                "MQTT connected to %s:%d as %s (session present: %s)",
                self.m.host, self.m.port, self.client_id, n.detail,
            )
        elif n.what == "disconnected":
            if n.generation == self.generation:
                self.connected = False
            if not self._stopping:
                logger.warning(
                    "MQTT connection lost (%s); %d messages not yet acknowledged come back after the reconnect",
                    n.detail, self.unacked,
                )
                now = time.monotonic()
                self._losses.append(now)
                if len(self._losses) == FLAPPING[0] and now - self._losses[0] <= FLAPPING[1]:
                    # a broker closes the older of two connections with one client id; not all
                    # say so (Mosquitto 2.0 just closes it), so a quick series of losses is the clue
                    logger.error(
                        "MQTT connection lost %d times within %.0f s: is another collector using client id %s?",
                        FLAPPING[0], now - self._losses[0], self.client_id,
                    )
                    self._losses.clear()
        elif n.what == "subscribed":
            if n.detail:
                logger.error("MQTT refused a subscription (%s): check the broker's ACL for %s", n.detail, self.client_id)
            elif not self.subscribed.is_set():
                self.subscribed.set()
                logger.info("subscribed: %s", ", ".join(self.topics[:6]) + (" ..." if len(self.topics) > 6 else ""))

    def _ack(self, acks: list[tuple[int, int, int]]) -> None:
        for generation, mid, qos in acks:
            if generation != self.generation or not self.connected or self._client is None:
                # that connection is gone: the broker sends it again and its points are rewritten
                self.counts["stale_acks"] += 1
                continue
            try:
                self._client.ack(mid, qos)
            except Exception:  # noqa: BLE001 - the connection may just have dropped
                logger.debug("MQTT ack of %d failed", mid, exc_info=True)
                continue
            self.counts["acked"] += 1

    def status(self) -> dict[str, Any]:
        """Counters for logs and tests (main thread)."""
        sink = self.sink.status() if self.sink is not None else {}
        return {
            "client_id": self.client_id,
            "connected": self.connected,
            "subscribed": self.subscribed.is_set(),
            **self.counts,
            "by_kind": dict(self.by_kind),
            "inbox": self.inbox.qsize(),
            "unacked": self.unacked,
            "influx_backlog": sink.get("backlog"),
            "influx_written": sink.get("written"),
            "influx_connected": sink.get("connected"),
            "influx_dropped": sink.get("dropped"),
            "influx_error": sink.get("last_error"),
        }

    def _log_status(self, notifier: Any = None) -> None:
        st = self.status()
        now = time.monotonic()
        t0, msgs0, pts0 = self._last_status
        span = max(now - t0, 1e-6)
        rate = (st["messages"] - msgs0) / span
        prate = (st["points"] - pts0) / span
        self._last_status = (now, st["messages"], st["points"])
        line = (
            f"messages={st['messages']} ({rate:.0f}/s) points={st['points']} ({prate:.0f}/s) "
            f"bad={st['bad']} ignored={st['ignored']} inbox={st['inbox']} unacked={st['unacked']} "
            f"influx_backlog={st['influx_backlog']} influx_written={st['influx_written']} "
            f"connected={st['connected']}"
        )
        logger.info("status: %s", line)
        if self._bad_suppressed:
            logger.warning("%d more bad payloads not logged one by one", self._bad_suppressed)
        self._bad_logged = self._bad_suppressed = 0
        if st["influx_error"] and st["influx_connected"] is False:
            logger.warning("InfluxDB not reachable (%s): lines wait in the outbox", st["influx_error"])
        if notifier is not None:
            notifier.status(f"{rate:.0f} msg/s, outbox {st['influx_backlog']}")

    def shutdown(self) -> None:
        """Leave the group, finish and acknowledge what arrived, then let the outbox flush."""
        client = self._client
        if client is not None and not self._force:
            self._drain(client)
        if client is not None:
            try:
                client.disconnect()
                client.loop_stop()
            except Exception:  # noqa: BLE001
                logger.exception("MQTT disconnect failed")
        if self.sink is not None:
            self.sink.close(0.0 if self._force else self.c.close_timeout_s)
        st = self.status()
        logger.info(
            "collector stopped: messages=%d points=%d bad=%d ignored=%d acked=%d unacked=%d "
            "readings=%d state=%d events=%d influx_written=%s influx_backlog=%s",
            st["messages"], st["points"], st["bad"], st["ignored"], st["acked"], st["unacked"],
            st["by_kind"]["readings"], st["by_kind"]["state"], st["by_kind"]["events"],
            st["influx_written"], st["influx_backlog"],
        )
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _drain(self, client: Any) -> None:
        """Unsubscribe, so the broker stops sending us new messages (the group's other members
        get them while we are away; a killed collector keeps its share waiting for it instead),
        then handle and acknowledge whatever is still in flight."""
        deadline = time.monotonic() + self.c.drain_timeout_s
        if self.connected:
            try:
                client.unsubscribe(self.topics)
            except Exception:  # noqa: BLE001
                logger.debug("MQTT unsubscribe failed", exc_info=True)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and not self._force:
            handled = self._pump(timeout=0.1)
            now = time.monotonic()
            if handled:
                quiet_since = now
            if self.unacked == 0 and now - quiet_since >= QUIET_S:
                return
        if self.unacked:
            logger.warning("stopping with %d messages unacknowledged: the broker sends them again", self.unacked)


# --------------------------------------------------------------------------------------------
# Entry points


def run_collect(args: argparse.Namespace) -> int:
    """``battwatch collect -c CONFIG``: 0 after an ordered stop, 2 for a configuration problem."""
    from battwatch import config
    from battwatch.logsetup import setup_logging

    path = getattr(args, "config", None) or "/etc/battwatch/battwatch.toml"
    try:
        cfg = config.load(path)
    except config.ConfigError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE
    setup_logging(getattr(args, "log_level", None) or cfg.logging.level)
    try:
        collector = Collector(cfg)
        collector.install_signal_handlers()
        return collector.run()
    except CollectSetupError as e:
        print(f"battwatch collect: {path}: {e}", file=sys.stderr)
        return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="battwatch collect", description=__doc__)
    p.add_argument("-c", "--config", default="/etc/battwatch/battwatch.toml", metavar="PATH")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    return run_collect(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
