"""``battwatch collect``: MQTT messages of a whole fleet into InfluxDB, shared among collectors."""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import fcntl
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
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from battwatch.core import influx_encode as enc
from battwatch.core.fleet_points import (
    KINDS,
    BadPayload,
    Translator,
    decode,
    parse_topic,
    subscriptions,
)

if TYPE_CHECKING:
    from battwatch.config import CollectConfig, Config
    from battwatch.sinks.influx import InfluxSink

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

BATCH_MAX = 2000  # messages decoded per outbox commit
BAD_LOGGED_PER_INTERVAL = 10
QUIET_S = 0.3  # at a stop: no message for this long means the broker has nothing more for us
PAUSE_AT = 0.95  # of [influx] backlog_max: stop taking messages, let them wait at the broker
SUBSCRIBE_CHUNK = 100  # topic filters per SUBSCRIBE packet
SESSION_TAKEN_OVER = 142  # MQTT 5 reason code: another client connected with our client id
FLEET_COLUMNS = ("vehicle", "model", "site", "owner_group")
FLAPPING = (3, 60.0)  # this many lost connections within this many seconds: say what may cause it


class CollectSetupError(Exception):
    """A problem that keeps the collector from starting (exit 2, no traceback)."""


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
        from battwatch.sinks.mqtt_client import paho_client

        m = self.m
        client = paho_client(m, self.client_id, self, __name__, v5=True, manual_ack=True)
        client.reconnect_delay_set(int(math.ceil(m.reconnect_min_s)), int(math.ceil(m.reconnect_max_s)))
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
            from battwatch.sinks.mqtt_client import stop_client

            stop_client(client, logger)
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
