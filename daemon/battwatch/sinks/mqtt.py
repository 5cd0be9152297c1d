"""MQTT sink: paho-mqtt 2.x behind a durable SQLite outbox, so nothing waits only in memory."""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from battwatch.adapters.outbox import Outbox
from battwatch.core import mqtt_encode as enc
from battwatch.core.events import Replaced, Rested, Start
from battwatch.core.ha_discovery import discovery_messages
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.core.mqtt_state import state_payload
from battwatch.core.notification import car_name
from battwatch.core.windows import WindowAggregator
from battwatch.sinks.mqtt_client import paho_client, stop_client
from battwatch.sinks.mqtt_sender import IN_FLIGHT, OutboxSender

if TYPE_CHECKING:
    from battwatch.config import Config, MqttConfig

logger = logging.getLogger(__name__)

Role = Literal["daemon", "backfill"]

OUTBOX_NAME = "mqtt-outbox.sqlite3"
BACKFILL_OUTBOX_NAME = "mqtt-backfill-outbox.sqlite3"
# what goes when the backlog is full, first to last; retained state and alerts never go (a
# retained topic keeps only its newest row anyway)
DROP_ORDER = ("readings", "notify", "events")
SILENCE_CLOSES_WINDOW_S = 120.0  # a window with no new reading for this long (wall clock) is sent
SENDER_RESTART_S = 5.0
SPILL_MAX = 5000  # messages kept in memory while the outbox file cannot take them (a full disk)
CONNECT_FAILED = "cannot connect (broker down, network, DNS or TLS handshake)"

# the sink's own tables, in its outbox file
SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_kinds (
    battery TEXT NOT NULL, alert TEXT NOT NULL, PRIMARY KEY (battery, alert)
) WITHOUT ROWID;
DROP TABLE IF EXISTS active_alerts;  -- each transition says what it changed (since, previous)
"""



def _lock(path: Path) -> int | None:
    """An exclusive lock on ``path`` for this process's lifetime, or None if another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


class MqttSink:
    """Readings, alerts and health summaries to an MQTT broker, with store and forward.

    Main thread: ``reading``/``transition``/``summary`` encode and append to the outbox
    (SQLite, committed before returning) and never touch the network. Paho's thread runs
    the connection; its callbacks only put notes on a queue. A sender thread owns the
    publishing: in outbox order, at most ``IN_FLIGHT`` unacknowledged, deleting rows once
    acknowledged (QoS 1/2) or written to the socket (QoS 0).
    """

    name = "mqtt"

    def __init__(self, cfg: Config, store_dir: Path | str, *, role: Role = "daemon") -> None:
        if cfg.mqtt is None:
            raise ValueError("MqttSink needs an [mqtt] section")
        self.cfg = cfg
        self.m: MqttConfig = cfg.mqtt
        self.vehicle = cfg.vehicle.id
        self.topics = enc.Topics(self.m.prefix, self.vehicle, self.m.homeassistant_prefix)
        self.car = car_name(self.vehicle, cfg.vehicle.model)
        self.store_dir = Path(store_dir)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.role: Role = role
        self._lock_fd = self._claim_outbox()
        self.outbox = Outbox(self.outbox_path, "MQTT outbox", self.m.backlog_max, spill_max=SPILL_MAX,
                             drop_order=DROP_ORDER, drop_others=False, extra_schema=SCHEMA)
        self.client_id = (self.m.client_id or f"battwatch-{self.vehicle}") + (
            "-backfill" if self.role == "backfill" else ""
        )
        self._qos = {
            "readings": self.m.qos.readings,
            "state": self.m.qos.state,
            "alerts": self.m.qos.alerts,
            "events": self.m.qos.events,
            "notify": self.m.qos.notify,
        }
        self._agg = WindowAggregator(self.m.readings_interval)
        self._latest: Reading | None = None
        self._latest_state = ""
        self._last_arrival = time.monotonic()
        self._kinds: set[tuple[str, str]] = set(self._saved("SELECT battery, alert FROM alert_kinds"))
        # -- shared with paho's and the sender's threads -------------------------------------
        self._notes: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._connected = threading.Event()
        self._drained = threading.Condition()
        self._stats_lock = threading.Lock()
        self.delivered: dict[str, int] = {}
        self.connects = 0
        self.last_error: str | None = None
        self._socket_error: str | None = None  # paho's last socket error, from its log
        self._tls_logged: str | None = None  # the TLS refusal told at error level
        self._client: Any = None
        self._catalogue: list[tuple[str, str]] | None = None  # filled by the sender thread
        self._sender: threading.Thread | None = None
        self._restart = threading.Event()  # set on close: no sender restarts after that
        # set by the daemon: called on paho's thread with a replacement command's payload (it
        # only enqueues); None: commands are not listened to (a backfill, a test)
        self.on_replace_command: Callable[[bytes], None] | None = None
        self._subscribing: dict[int, str] = {}  # paho's thread only: mid -> topic awaiting its SUBACK
        self._refusals_told: set[str] = set()  # subscriptions whose refusal was logged at warning
        self._started = False
        self._closed = False

    # -- setup ----------------------------------------------------------------------------
    def _saved(self, sql: str) -> list[tuple[Any, ...]]:
        """What an earlier run kept in the outbox file; nothing when the file is away."""
        try:
            return self.outbox.query(sql)
        except sqlite3.Error:
            return []

    def _claim_outbox(self) -> int | None:
        """Lock our outbox file; a second process on the same store gets its own file.

        Two senders on one outbox would deliver every message twice.
        """
        name = OUTBOX_NAME if self.role == "daemon" else BACKFILL_OUTBOX_NAME
        self.outbox_path = self.store_dir / name
        fd = _lock(self.store_dir / f"{name}.lock")
        if fd is not None:
            return fd
        if self.role == "daemon":
            logger.warning(
                "%s is in use by another battwatch process; this one publishes as a backfill",
                self.outbox_path,
            )
            self.role = "backfill"
            return self._claim_outbox()
        private = f"mqtt-backfill-{os.getpid()}.sqlite3"
        logger.warning("%s is in use; this backfill queues in %s", self.outbox_path, private)
        self.outbox_path = self.store_dir / private
        return None

    def _build_client(self) -> Any:
        m = self.m
        client = paho_client(m, self.client_id, self, __name__, clean_session=m.clean_session)
        client.reconnect_delay_set(m.reconnect_min_s, m.reconnect_max_s)
        client.max_inflight_messages_set(IN_FLIGHT + 32)
        if self.role == "daemon":
            # set before connecting: the broker keeps it for the session
            client.will_set(self.topics.status, "offline", qos=1, retain=True)
        return client

    def start(self) -> None:
        """Start connecting in the background; returns at once (the broker may be down)."""
        if self._started:
            return
        self._started = True
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)
        self._sender.start()
        try:
            self._client = self._build_client()
            self._client.connect_async(self.m.host, self.m.port, self.m.keepalive)
            self._client.loop_start()
        except Exception as e:  # noqa: BLE001 - unreadable TLS files etc.: keep queueing, say why
            self._client = None
            self.last_error = f"{type(e).__name__}: {e}"
            logger.error(
                "MQTT client for %s:%d cannot start (%s); messages keep queueing in %s",
                self.m.host, self.m.port, self.last_error, self.outbox_path,
            )
        logger.info(
            "MQTT sink: %s:%d as %s (%s), %d queued in %s",
            self.m.host, self.m.port, self.client_id, self.role, self.outbox.count, self.outbox_path,
        )

    # -- paho callbacks (paho's thread): guarded, and they only enqueue or touch own state ------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            if reason.is_failure:
                error = f"broker refused the connection: {reason}"
                # paho retries with backoff: say it once, not at every attempt
                log = logger.warning if error != self.last_error else logger.debug
                self.last_error = error
                log("MQTT %s:%d refused us (%s); retrying with backoff", self.m.host, self.m.port, reason)
                return
            self._connected.set()
            with self._stats_lock:
                self.connects += 1
            self.last_error = None
            self._tls_logged = self._socket_error = None
            if self.role == "daemon":
                client.publish(self.topics.status, "online", qos=1, retain=True)
                if self.m.homeassistant:
                    self._subscribe(client, self.topics.ha_status)
                if self.on_replace_command is not None:
                    self._subscribe(client, self.topics.replace_command)
            logger.info(
                "MQTT connected to %s:%d (session present: %s)",
                self.m.host, self.m.port, bool(getattr(flags, "session_present", False)),
            )
            self._notes.put(("connected",))
        except Exception:  # noqa: BLE001 - an exception here would kill paho's thread
            logger.exception("MQTT on_connect failed")

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        try:
            first = self.last_error is None
            self.last_error = CONNECT_FAILED
            log = logger.info if first else logger.debug
            log("MQTT %s:%d: %s; retrying with backoff", self.m.host, self.m.port, CONNECT_FAILED)
        except Exception:  # noqa: BLE001
            logger.exception("MQTT on_connect_fail failed")

    def _on_log(self, client: Any, userdata: Any, level: int, buf: str) -> None:
        # paho tells why a socket failed only in its log: keep it for _on_disconnect
        if buf.startswith(("failed to receive on socket: ", "failed to send on socket: ")):
            self._socket_error = buf.split(": ", 1)[1]

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            was = self._connected.is_set()
            self._connected.clear()
            self._notes.put(("disconnected",))
            detail, self._socket_error = self._socket_error, None
            if not was and not self._closed and self.m.tls is not None and detail and "SSL" in detail:
                self._tls_refused(detail)
            if was and not self._closed:
                logger.warning(
                    "MQTT connection to %s:%d lost (%s); %d messages wait in the outbox",
                    self.m.host, self.m.port, reason, self.outbox.count,
                )
        except Exception:  # noqa: BLE001
            logger.exception("MQTT on_disconnect failed")

    def _tls_refused(self, detail: str) -> None:
        """The broker ended the TLS session before its CONNACK: with TLS 1.3 that is how a
        client certificate it does not accept shows (the handshake itself succeeded)."""
        self.last_error = (f"TLS refused by the broker before it accepted the connection ({detail}): "
                           "is the client certificate ([mqtt.tls] cert_file) signed by a CA the broker trusts?")
        if detail != self._tls_logged:
            self._tls_logged = detail
            logger.error("MQTT %s:%d: %s; retrying with backoff, messages keep queueing",
                         self.m.host, self.m.port, self.last_error)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        try:
            self._notes.put(("ack", mid))
        except Exception:  # noqa: BLE001
            logger.exception("MQTT on_publish failed")

    def _subscribe(self, client: Any, topic: str) -> None:
        _, mid = client.subscribe(topic, qos=1)
        if mid is not None:
            self._subscribing[mid] = topic

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        """A subscription the broker refused (its roles): nothing would ever arrive on it, so
        say so instead of waiting in silence; once at warning, at every reconnect at debug."""
        try:
            topic = self._subscribing.pop(mid, None)
            refused = [r for r in reasons if getattr(r, "is_failure", False)]
            if topic is None or not refused:
                return
            what = ("the owner's \"replaced\" commands cannot reach this daemon"
                    if topic == self.topics.replace_command else "Home Assistant restarts go unseen")
            log = logger.debug if topic in self._refusals_told else logger.warning
            self._refusals_told.add(topic)
            log("MQTT broker refused our subscription to %s (%s): %s; the broker's roles must let "
                "account %r read it (config/mosquitto/README.md)", topic, refused[0], what, self.m.username)
        except Exception:  # noqa: BLE001 - an exception here would kill paho's thread
            logger.exception("MQTT on_subscribe failed")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            if msg.topic == self.topics.replace_command and self.on_replace_command is not None:
                if msg.retain:
                    # a command someone published retained would replace the battery again at
                    # every reconnect: it is ignored, and says so
                    logger.warning("retained message on %s ignored: commands must not be retained", msg.topic)
                    return
                self.on_replace_command(bytes(msg.payload))
            elif msg.topic == self.topics.ha_status and msg.payload.strip() == b"online":
                logger.info("Home Assistant came online: re-sending discovery")
                self._notes.put(("discovery",))
        except Exception:  # noqa: BLE001
            logger.exception("MQTT on_message failed")

    # -- the sender thread ----------------------------------------------------------------
    def _send_loop(self) -> None:
        while not self._closed:
            try:
                OutboxSender(self).run()
                return
            except Exception:  # noqa: BLE001 - e.g. a disk error: say so, and try again
                # a fresh sender starts from the oldest row again: at worst a copy, never a gap
                logger.exception("MQTT sender failed; restarting in %.0f s", SENDER_RESTART_S)
                self._restart.wait(SENDER_RESTART_S)

    def _wake(self) -> None:
        self._notes.put(("wake",))

    # -- main-thread side: the Sink protocol ------------------------------------------------
    def _append(self, messages: Iterable[enc.Message]) -> None:
        rows = [(m.stream, m.topic, m.payload, self._qos.get(m.stream, 1), m.retain) for m in messages]
        self.outbox.append(rows, time.time())
        if self.outbox.spill:
            self._publish_spill()
        self._wake()

    def _publish_spill(self) -> None:
        """The outbox file cannot take messages (a full disk): while connected, hand them to
        paho straight away (it keeps QoS 1/2 ones until acknowledged), so the broker still
        hears from the car, its state saying what is wrong included; else they wait, bounded."""
        client = self._client
        if client is None or not self._connected.is_set():
            return
        spill = self.outbox.spill
        while spill:
            (stream, topic, payload, qos, retain), _ = spill[0]
            try:
                info = client.publish(topic, payload, qos=qos, retain=retain)
            except ValueError as e:  # unpublishable: set aside, as by the sender
                spill.popleft()
                self.outbox.set_aside([(0, stream, topic, payload, qos, retain)], f"unpublishable: {e}")
                continue
            if info.rc != 0:
                return  # the connection went: the rest waits
            spill.popleft()
            with self._stats_lock:
                self.delivered[stream] = self.delivered.get(stream, 0) + 1

    def reading(self, r: Reading, state: str) -> None:
        self._latest, self._latest_state = r, state
        self._last_arrival = time.monotonic()
        closed = self._agg.add(r, state)
        if closed is not None:
            self._append([enc.readings_message(self.topics, closed)])

    def transition(self, tr: AlertTransition) -> None:
        key = (tr.battery, tr.alert)
        if key not in self._kinds:
            try:
                self.outbox.query("INSERT OR IGNORE INTO alert_kinds VALUES (?, ?)", key)
                self._kinds.add(key)
                self._notes.put(("discovery",))  # a binary sensor for the new kind
            except sqlite3.Error as e:  # a full disk: the messages below still go (from memory)
                self.outbox.trouble.failed(e, consequence="the alert kind is saved with the next alert")
        self._append(enc.transition_messages(self.topics, tr, car=self.car))

    def replace_answer(self, answer: dict[str, Any]) -> None:
        """The answer to a replacement command, retained for whoever asked."""
        self._append([enc.replace_answer_message(self.topics, answer, time.time())])

    def replaced(self, ev: Replaced) -> None:
        """A replacement the analysis applied: an event for the collector, a phone sentence."""
        self._append(enc.replaced_messages(self.topics, ev.t, ev.battery, ev.fitted, ev.note, car=self.car))

    def started(self, ev: Start) -> None:
        """An engine start as judged: an event the fleet collector writes like the direct path."""
        self._append([enc.start_message(self.topics, ev)])

    def rested(self, ev: Rested) -> None:
        self._append([enc.rested_message(self.topics, ev)])

    def reminder(self, tr: AlertTransition) -> None:
        """A reminder that an alert is still active (``change`` refreshed): its retained state
        and a push under the alert's tag, like any transition."""
        self.transition(tr)

    def summary(self, s: HealthSummary) -> None:
        payload = state_payload(s, latest=self._latest, vehicle_state=self._latest_state or None)
        self._append([enc.state_message(self.topics, payload)])

    def flush(self) -> None:
        """Periodic: send a window the data stopped in (an unplugged ADC must not hold it back)."""
        if self.outbox.spill:
            self._append([])  # messages a full disk kept in memory: try the file again
        if self._agg.current is not None and (
            time.monotonic() - self._last_arrival > max(SILENCE_CLOSES_WINDOW_S, 2 * self.m.readings_interval)
        ):
            self._flush_window()

    def _flush_window(self) -> None:
        w = self._agg.flush()
        if w is not None:
            self._append([enc.readings_message(self.topics, w)])

    def wait_drained(self, timeout: float) -> bool:
        """Block until every queued message is acknowledged, or ``timeout`` passes."""
        with self._drained:
            return self._drained.wait_for(lambda: self.outbox.in_file <= 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Send the open window, wait up to ``timeout`` for the outbox to drain, say offline,
        disconnect. Whatever is undelivered stays in the outbox file for the next start."""
        if self._closed:
            return
        deadline = time.monotonic() + timeout
        try:
            self._flush_window()
        except Exception:  # noqa: BLE001 - the rest of the close must still run
            logger.exception("MQTT: could not queue the last readings window")
        client = self._client
        if self._started and client is not None:
            drained = self.wait_drained(max(0.0, deadline - time.monotonic()))
            if not drained:
                logger.warning(
                    "MQTT: %d messages not delivered within %.0f s; they stay in %s for the next start",
                    self.outbox.in_file, timeout, self.outbox_path,
                )
            if self.role == "daemon" and self._connected.is_set():
                try:
                    info = client.publish(self.topics.status, "offline", qos=1, retain=True)
                    info.wait_for_publish(max(0.1, min(2.0, deadline - time.monotonic())))
                except Exception as e:  # noqa: BLE001 - connection went away meanwhile
                    logger.info("MQTT: offline status not confirmed: %s", e)
        self._closed = True
        self._restart.set()
        self._notes.put(("stop",))
        if self._sender is not None:
            self._sender.join(max(1.0, deadline - time.monotonic()) + 1.0)
        if client is not None:
            stop_client(client, logger)
        self.outbox.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def status(self) -> dict[str, Any]:
        oldest = None if self._closed else self.outbox.oldest_created()
        box = self.outbox.status()
        dropped = box["dropped"]
        assert isinstance(dropped, dict)
        with self._stats_lock:
            delivered = dict(self.delivered)
            connects = self.connects
        return {
            "connected": self._connected.is_set(),
            "broker": f"{self.m.host}:{self.m.port}",
            "client_id": self.client_id,
            "role": self.role,
            "backlog": box["backlog"],
            "oldest_undelivered_age_s": None if oldest is None else round(max(0.0, time.time() - oldest), 1),
            "dropped": dropped,
            "dropped_total": sum(dropped.values()),
            "delivered": delivered,
            "delivered_total": sum(delivered.values()),
            "connects": connects,
            "last_error": self.last_error,
            "outbox": str(self.outbox_path),
            "outbox_error": box["outbox_error"],
            "set_aside": box["set_aside"],
            "damaged_files": box["damaged_files"],
        }

    # -- used by the sender -----------------------------------------------------------------
    def _discovery(self) -> list[enc.Message]:
        """Discovery configs, and before them an inactive retained state (off) for every advertised alert
        that never had a transition here: each entity has a state from the first connection. An
        alert that had one keeps what its transition left retained (the outbox sends it)."""
        from battwatch import __version__

        try:
            published = set(self.outbox.query("SELECT battery, alert FROM alert_kinds"))
        except sqlite3.Error:  # the file is away: the kinds seen this run
            published = set(self._kinds)
        if self._catalogue is None:
            self._catalogue = catalogue_kinds(self.cfg)
        kinds = published | set(self._catalogue)
        # the states go first: an entity has its state by the time Home Assistant reads its config
        now = time.time()
        out = [enc.inactive_alert_message(self.topics, b, a, now) for b, a in sorted(kinds - published)]
        return out + discovery_messages(self.topics, model=self.cfg.vehicle.model, sw_version=__version__,
                                        alert_kinds=kinds)


def catalogue_kinds(cfg: Config) -> list[tuple[str, str]]:
    """Every (battery, alert) the analysis can raise, for one binary sensor each in HA.

    Taken from ``battwatch.core.analysis.ALERT_KINDS`` when it exists, else from the alert
    slots of an analyzer built for ``cfg``; empty if neither works (kinds are then learnt
    from the transitions as they come).
    """
    try:
        from battwatch.core import analysis

        kinds = getattr(analysis, "ALERT_KINDS", None)
        if kinds is None:
            kinds = list(analysis.build_analyzer(cfg).engine.slots)
        return sorted({(str(b), str(a)) for b, a in kinds})
    except Exception:  # noqa: BLE001 - discovery must not depend on the analysis' internals
        logger.debug("no alert catalogue from the analysis", exc_info=True)
        return []
