"""The broker example in config/mosquitto/: accounts and dynamic-security roles keep vehicles,
owners and the collectors' shared subscription apart."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from test_mqtt_sink import Subscriber, publish_one  # the recording helpers shared by the MQTT tests

from battwatch import config
from battwatch.core import ha_discovery
from battwatch.core import mqtt_encode as enc
from battwatch.core.healthsummary import from_json
from battwatch.core.model import HealthSummary
from battwatch.sinks.mqtt import MqttSink, catalogue_kinds
from helpers import Proc
from servers import (
    Mosquitto,
    copy_dynsec_config,
    dynsec_plugin,
    find_binary,
    free_port,
    make_test_pki,
    start_mosquitto,
    wait_until,
    write_mosquitto_password_file,
)

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parents[2]
DYNSEC = ROOT / "config" / "mosquitto" / "dynamic-security.json"
TIMEOUT = 30.0
A, B = "x1-f48-ab123", "mini-r56-cd456"  # the two example vehicles in the roles file
USERS = {A: "pw-a", B: "pw-b", "owner-x1": "pw-oa", "owner-mini": "pw-ob",
         "collector": "pw-c", "homeassistant": "pw-ha"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """Mosquitto with the example dynamic-security roles as shipped, a password file, no
    anonymous access."""
    passwd = write_mosquitto_password_file(tmp_path / "passwd", USERS)
    roles = copy_dynsec_config(DYNSEC, tmp_path / "dynsec")
    with start_mosquitto(tmp_path / "srv", password_file=passwd, dynsec_file=roles, allow_anonymous=False) as b:
        yield b


def _sub(b: Mosquitto, user: str, *topics: str) -> Subscriber:
    return Subscriber(b.host, b.port, topics, username=user, password=USERS[user]).ready()


def _pub(b: Mosquitto, user: str, topic: str, payload: bytes) -> None:
    reason = publish_one(b.host, b.port, topic, payload, username=user, password=USERS[user])
    assert not reason.is_failure, reason


def test_a_vehicle_cannot_write_into_another_vehicles_topics(broker: Mosquitto) -> None:
    collector = _sub(broker, "collector", "battwatch/#")
    _pub(broker, A, f"battwatch/{B}/state", b"forged by A")
    _pub(broker, A, f"battwatch/{B}/alerts/sos/low_voltage", b"forged by A")
    _pub(broker, A, f"battwatch/{A}/state", b"marker")  # allowed; published after the forgeries
    got = collector.wait(lambda g: any(x.payload == b"marker" for x in g), what="A's own message")
    assert [x.topic for x in got] == [f"battwatch/{A}/state"]  # the forgeries never arrived
    collector.close()


def test_an_owner_reads_only_their_own_vehicle(broker: Mosquitto) -> None:
    owner = _sub(broker, "owner-x1", f"battwatch/{A}/#")
    _pub(broker, B, f"battwatch/{B}/notify", b"for the mini's owner only")
    _pub(broker, A, f"battwatch/{A}/notify", b"for the x1's owner")
    got = owner.wait(lambda g: any(x.payload == b"for the x1's owner" for x in g), what="own vehicle")
    assert [x.topic for x in got] == [f"battwatch/{A}/notify"]
    owner.close()


def test_an_owner_cannot_publish_into_their_vehicles_topics(broker: Mosquitto) -> None:
    collector = _sub(broker, "collector", "battwatch/#")
    _pub(broker, "owner-x1", f"battwatch/{A}/alerts/main/low_rest", b"forged by the owner")
    _pub(broker, A, f"battwatch/{A}/state", b"marker")
    got = collector.wait(lambda g: any(x.payload == b"marker" for x in g), what="marker")
    assert [x.payload for x in got] == [b"marker"]
    collector.close()


def test_anonymous_and_wrong_passwords_are_refused(broker: Mosquitto) -> None:
    for user, password in ((None, None), (A, "wrong")):
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"anon-{uuid.uuid4().hex[:8]}")
        if user:
            c.username_pw_set(user, password)
        answered = threading.Event()
        reasons: list[Any] = []

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any,
                       reasons: list[Any] = reasons, answered: threading.Event = answered) -> None:
            reasons.append(reason)
            answered.set()

        c.on_connect = on_connect
        c.connect(broker.host, broker.port, 10)
        c.loop_start()
        try:
            assert answered.wait(TIMEOUT)
        finally:
            c.disconnect()
            c.loop_stop()
        assert reasons[0].is_failure and str(reasons[0]) == "Not authorized"  # CONNACK 5


def test_the_sink_works_within_the_vehicle_acl(broker: Mosquitto, tmp_path: Path) -> None:
    """Status with will, state, alerts and HA discovery are all inside what the ACL grants A."""
    owner = _sub(broker, "owner-x1", f"battwatch/{A}/#")
    ha = _sub(broker, "homeassistant", "homeassistant/#")
    cfg = config.defaults(A, mqtt={
        "host": broker.host, "port": broker.port, "username": A, "password": USERS[A],
        "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
    })
    sink = MqttSink(cfg, tmp_path / "store")
    sink.start()
    try:
        got = owner.wait(lambda g: any(x.payload == b"online" for x in g), what="A online")
        assert got[0].topic == f"battwatch/{A}/status"
        n = len(ha_discovery.SENSORS) + len(catalogue_kinds(cfg)) + len(enc.BATTERIES)  # and the "replaced" buttons
        discovery = ha.wait(lambda g: len(g) >= n, what="discovery configs")
        assert all(f"/battwatch_{A}/" in x.topic for x in discovery)
        _pub(broker, "homeassistant", "homeassistant/status", b"online")  # HA's birth reaches A
        ha.wait(lambda g: len([x for x in g if x.topic.endswith("/config")]) == 2 * n,
                what="discovery re-sent after the birth message")
    finally:
        sink.close(TIMEOUT)
    owner.wait(lambda g: any(x.payload == b"offline" for x in g), what="A offline")
    owner.close()
    ha.close()


def test_the_owner_alone_tells_the_vehicles_sink_a_battery_was_replaced(broker: Mosquitto, tmp_path: Path) -> None:
    """The owner's role may write the command topic of their own vehicle (and no other topic);
    the vehicle's role may subscribe to it, so the daemon's sink receives the owner's command
    and none sent by another account."""
    got: list[bytes] = []
    cond = threading.Condition()

    def command(payload: bytes) -> None:
        with cond:
            got.append(payload)
            cond.notify_all()

    cfg = config.defaults(A, mqtt={
        "host": broker.host, "port": broker.port, "username": A, "password": USERS[A],
        "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
    })
    sink = MqttSink(cfg, tmp_path / "store")
    sink.on_replace_command = command
    sink.start()
    topic = f"battwatch/{A}/command/replaced"
    try:
        # the owner's command, again until the sink has it: then its subscription is in place
        # (a subscription the roles refused never delivers one, and the wait runs out)
        with cond:
            for _ in range(int(TIMEOUT)):
                _pub(broker, "owner-x1", topic, b"sos")
                if cond.wait_for(lambda: bool(got), 1.0):
                    break
            assert got, "the owner's command never reached the vehicle's sink"
        collector = _sub(broker, "collector", f"battwatch/{A}/command/#")
        for forger in ("owner-mini", "homeassistant", "collector", B):
            _pub(broker, forger, topic, f"sos from {forger}".encode())
        _pub(broker, "owner-x1", f"battwatch/{A}/command/other", b"not the command topic")
        _pub(broker, "owner-x1", topic, b"main")  # after the forgeries: they had their chance
        with cond:
            assert cond.wait_for(lambda: b"main" in got, TIMEOUT), got
            assert set(got) == {b"sos", b"main"}, got
        seen = collector.wait(lambda g: any(x.payload == b"main" for x in g), what="the owner's second command")
        assert [(x.topic, x.payload) for x in seen] == [(topic, b"main")]  # the owner writes that topic only
        collector.close()
    finally:
        sink.close(TIMEOUT)


def test_a_broker_that_refuses_the_command_subscription_is_said_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Roles without the command topic (as before it existed): the sink logs the refusal at
    warning, since the owner's buttons would otherwise fail in silence."""
    roles = json.loads(DYNSEC.read_text())
    for role in roles["roles"]:
        role["acls"] = [a for a in role["acls"] if "/command/" not in a["topic"]]
    old_roles = tmp_path / "dynsec" / "old.json"
    old_roles.parent.mkdir()
    old_roles.write_text(json.dumps(roles))
    passwd = write_mosquitto_password_file(tmp_path / "passwd", USERS)
    caplog.set_level(logging.WARNING, logger="battwatch.sinks.mqtt")
    with start_mosquitto(tmp_path / "srv", password_file=passwd, dynsec_file=old_roles, allow_anonymous=False) as b:
        cfg = config.defaults(A, mqtt={
            "host": b.host, "port": b.port, "username": A, "password": USERS[A],
            "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
        })
        sink = MqttSink(cfg, tmp_path / "store")
        sink.on_replace_command = lambda payload: None
        sink.start()
        try:
            wait_until(lambda: any("refused our subscription" in r.getMessage() for r in caplog.records),
                       TIMEOUT, "the refusal logged")
        finally:
            sink.close(TIMEOUT)
    [told] = [r for r in caplog.records if "refused our subscription" in r.getMessage()]
    assert told.levelno == logging.WARNING
    assert f"battwatch/{A}/command/replaced" in told.getMessage()
    assert "the owner's \"replaced\" commands cannot reach this daemon" in told.getMessage()


def test_the_example_broker_config_serves_cars_over_tls(tmp_path: Path) -> None:
    """config/mosquitto/mosquitto.conf as shipped (paths and ports adapted): TLS for the car,
    loopback for the collector, the roles and password file in force."""
    pki = make_test_pki(tmp_path / "pki")
    passwd = write_mosquitto_password_file(tmp_path / "passwd", USERS)
    plain, tls = free_port(), free_port()
    conf = (ROOT / "config" / "mosquitto" / "mosquitto.conf").read_text()
    for old, new in {
        "/etc/mosquitto/battwatch.passwd": str(passwd),
        "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so": str(dynsec_plugin()),
        "/var/lib/mosquitto/battwatch-dynsec.json": str(copy_dynsec_config(DYNSEC, tmp_path / "dynsec")),
        "listener 1883 127.0.0.1": f"listener {plain} 127.0.0.1",
        "listener 8883": f"listener {tls} 127.0.0.1",
        "/etc/mosquitto/certs/server.pem": str(pki.server_cert),
        "/etc/mosquitto/certs/server.key": str(pki.server_key),
        "/etc/mosquitto/certs/ca.pem": str(pki.ca_cert),
    }.items():
        assert old in conf, old
        conf = conf.replace(old, new)
    # what Debian's main mosquitto.conf adds before including conf.d/
    head = f"persistence true\npersistence_location {tmp_path}/\nlog_dest stderr\n"
    if os.geteuid() == 0:
        head += "user root\n"  # as root, mosquitto would switch to a user that cannot read tmp
    (tmp_path / "mosquitto.conf").write_text(head + conf)
    broker = Proc([find_binary("mosquitto"), "-c", str(tmp_path / "mosquitto.conf")])
    try:
        broker.wait_for(r"mosquitto version \S+ running")
        collector = Subscriber("127.0.0.1", plain, ("battwatch/#",), username="collector",
                               password=USERS["collector"]).ready()
        cfg = config.defaults(A, mqtt={
            "host": "127.0.0.1", "port": tls, "username": A, "password": USERS[A],
            "tls": {"ca_file": str(pki.ca_cert)}, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
        })
        sink = MqttSink(cfg, tmp_path / "store")
        sink.start()
        try:
            got = collector.wait(lambda g: any(x.payload == b"online" for x in g), what="A over TLS")
            assert got[0].topic == f"battwatch/{A}/status"
        finally:
            sink.close(TIMEOUT)
        collector.close()
    finally:
        broker.stop()


def test_a_sink_with_a_wrong_password_keeps_queueing_and_says_why(broker: Mosquitto, tmp_path: Path) -> None:
    cfg = config.defaults(A, mqtt={
        "host": broker.host, "port": broker.port, "username": A, "password": "not-the-password",
        "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
    })
    sink = MqttSink(cfg, tmp_path / "store")
    sink.start()
    try:
        sink.summary(HealthSummary(1_735_689_600.0, A, from_json({"vehicle": A}, vehicle=A, t=1_735_689_600.0)))
        wait_until(lambda: (sink.status()["last_error"] or "").startswith("broker refused"), TIMEOUT,
                   "the refusal reported")
        st = sink.status()
        assert st["connected"] is False and st["backlog"] == 1 and "Not authorized" in st["last_error"]
    finally:
        sink.close(0.2)


def _try_subscribe(b: Mosquitto, user: str | None, topics: list[str]) -> list[Any]:
    """Connect as ``user`` (None: anonymous) and ask for ``topics``; the CONNACK reason when
    refused, else the SUBACK's reason codes. The client stays connected (returned last) so
    that a share it was granted would take its turns."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"thief-{uuid.uuid4().hex[:8]}")
    if user is not None:
        c.username_pw_set(user, USERS[user])
    answered = threading.Event()
    result: list[Any] = []

    def on_connect(cl: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            result.append(reason)
            answered.set()
        else:
            cl.subscribe([(t, 1) for t in topics])

    def on_subscribe(_c: Any, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        result.extend(codes)
        answered.set()

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.connect(b.host, b.port, 10)
    c.loop_start()
    assert answered.wait(TIMEOUT), f"no answer to {user}'s subscription"
    return [*result, c]


def test_only_the_collector_account_can_join_the_collectors_shared_subscription(broker: Mosquitto) -> None:
    """A car, an owner's phone or an anonymous client that joined the share group would take
    its round-robin turn of every car's data (and the ACL would then throw it away)."""
    from battwatch.core.fleet_points import subscriptions

    share = subscriptions("battwatch", "battwatch-collectors", None)
    collector = _sub(broker, "collector", *share)
    thieves = {user: _try_subscribe(broker, user, share) for user in (A, "owner-x1", None)}
    try:
        for user, (*answers, _client) in thieves.items():
            assert answers and all(a.is_failure for a in answers), (user, answers)
        for i in range(200):
            _pub(broker, A, f"battwatch/{A}/readings", f"reading {i}".encode())
        got = collector.wait(lambda g: len(g) >= 200, what="all 200 readings")
        assert sorted(x.payload for x in got) == sorted(f"reading {i}".encode() for i in range(200))
    finally:
        for *_, client in thieves.values():
            client.disconnect()
            client.loop_stop()
        collector.close()
