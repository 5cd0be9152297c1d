"""A replaced battery told from the phone or Home Assistant, through a real Mosquitto with the
example dynamic-security roles: only the owner may send it, the daemon answers on a retained topic, and applies it
at its time in the data (the failing pack of sos-replaced, replaced on day 78)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_mqtt_acl import DYNSEC, USERS, A, B, _try_subscribe
from test_mqtt_sink import Got, Subscriber, publish_one
from test_replaced_live import _last_row_t, _wait_stored

from battwatch.core.fleet_points import Translator
from helpers import Proc, battwatch
from replaced_logs import WHEN, events, write_config, write_logs
from servers import Mosquitto, copy_dynsec_config, start_mosquitto, write_mosquitto_password_file

pytestmark = [pytest.mark.servers, pytest.mark.serial, pytest.mark.slow]

TIMEOUT = 60.0
SPEED = "100000"
COMMAND = f"battwatch/{A}/command/replaced"
ANSWER = f"battwatch/{A}/replaced"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    passwd = write_mosquitto_password_file(tmp_path / "passwd", USERS)
    roles = copy_dynsec_config(DYNSEC, tmp_path / "dynsec")
    with start_mosquitto(tmp_path / "srv", password_file=passwd, dynsec_file=roles, allow_anonymous=False) as b:
        yield b


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_logs(tmp_path_factory.mktemp("logs"))


def _pub(b: Mosquitto, user: str, payload: bytes, topic: str = COMMAND) -> None:
    reason = publish_one(b.host, b.port, topic, payload, username=user, password=USERS[user])
    assert not reason.is_failure, reason


def test_only_the_owner_can_send_the_command(broker: Mosquitto) -> None:
    car = Subscriber(broker.host, broker.port, (f"battwatch/{A}/command/#",), username=A, password=USERS[A]).ready()
    for forger in ("owner-mini", "homeassistant", "collector", B):
        _pub(broker, forger, f"sos from {forger}".encode())
    _pub(broker, "owner-x1", b"sos")
    got = car.wait(lambda g: any(x.payload == b"sos" for x in g), what="the owner's command")
    assert [(x.topic, x.payload) for x in got] == [(COMMAND, b"sos")]  # none of the forgeries
    *answers, thief = _try_subscribe(broker, B, [f"battwatch/{A}/command/#"])
    thief.disconnect()
    thief.loop_stop()
    assert answers and all(a.is_failure for a in answers), answers  # another car may not even ask
    other = Subscriber(broker.host, broker.port, (f"battwatch/{A}/command/#", f"battwatch/{B}/command/#"),
                       username=B, password=USERS[B]).ready()
    _pub(broker, "owner-x1", b"main")
    _pub(broker, "owner-mini", b"marker", f"battwatch/{B}/command/replaced")
    seen = other.wait(lambda g: any(x.payload == b"marker" for x in g), what="B's own command")
    assert [x.payload for x in seen] == [b"marker"]  # another car never reads A's commands
    car.close()
    other.close()


def _answers(got: list[Got]) -> list[dict[str, object]]:
    return [x.json() for x in got if x.topic == ANSWER]


def test_the_button_and_the_phone_reach_the_running_daemon(
    broker: Mosquitto, tmp_path: Path, logs: dict[str, Path]
) -> None:
    link, store = tmp_path / "adc", tmp_path / "store"
    cfg = write_config(tmp_path / "c.toml", store)
    text = cfg.read_text().replace('id = "car-r"', f'id = "{A}"').replace(
        "[store]\n",
        f'[adc]\nport = "{link}"\nsilent_after_s = 3600\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
        "[store]\ncommit_interval_s = 0.5\n",
    )
    text += (f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nusername = "{A}"\n'
             f'password = "{USERS[A]}"\nreconnect_min_s = 0.2\nreconnect_max_s = 1\n')
    cfg.write_text(text)
    owner = Subscriber(broker.host, broker.port, (ANSWER, f"battwatch/{A}/events", f"battwatch/{A}/alerts/sos/#"),
                       username="owner-x1", password=USERS["owner-x1"]).ready()
    ha = Subscriber(broker.host, broker.port, (f"homeassistant/button/battwatch_{A}/+/config",),
                    username="homeassistant", password=USERS["homeassistant"]).ready()
    # paced (70 days in about a minute): at full speed the emulator outruns a daemon slowed by its
    # MQTT outbox, and a board that lags behind its reader stops taking commands
    sim = Proc(battwatch("adc-sim", "--csv", str(logs["part1"]), "--speed", SPEED, "--link", str(link),
                         "--wait-hello"))
    sim.wait_for("serving on")
    daemon = Proc(battwatch("run", "-c", str(cfg)))
    sim2 = None
    try:
        _wait_stored(store, _last_row_t(logs["part1"]), "the first part")
        assert sim.stop() == 0
        buttons = {x.json()["payload_press"]: x.json() for x in ha.wait(lambda g: len(g) >= 2, what="the buttons")}
        assert set(buttons) == {"main", "sos"}
        assert buttons["sos"]["command_topic"] == COMMAND and buttons["sos"]["name"] == "SOS backup battery replaced"
        # a bad command until the daemon answers: then it listens (its subscription is in place)
        for _ in range(int(TIMEOUT)):
            _pub(broker, "owner-x1", b'{"battery": "tyre"}')
            try:
                owner.wait(lambda g: bool(_answers(g)), timeout=1.0, what="an answer")
                break
            except AssertionError:
                continue
        refused = _answers(owner.got)[0]
        assert refused["result"] == "refused" and "unknown battery 'tyre'" in str(refused["error"])
        _pub(broker, "owner-x1", json.dumps({"battery": "sos", "date": WHEN, "note": "dealer"}).encode())
        got = owner.wait(lambda g: any(a.get("result") == "recorded" for a in _answers(g)), what="recorded")
        ok = next(a for a in _answers(got) if a.get("result") == "recorded")
        assert (ok["battery"], ok["fitted"], ok["fitted_t"], ok["note"]) == ("sos", "2025-03-25", 1_742_896_800.0, "dealer")
        daemon.wait_for(r"replacement recorded \(mqtt\): sos battery fitted 2025-03-25T10:00:00", TIMEOUT)
        _pub(broker, "owner-x1", b"main")  # the 12 V button: replaced now
        owner.wait(lambda g: any(a.get("battery") == "main" and a.get("result") == "recorded" for a in _answers(g)),
                   what="the 12 V button's answer")
        sim2 = Proc(battwatch("adc-sim", "--csv", str(logs["part2"]), "--speed", SPEED, "--link", str(link),
                              "--wait-hello"))
        got = owner.wait(lambda g: any(x.topic.endswith("/events") and x.json().get("type") == "replaced" for x in g),
                         timeout=180, what="the replacement event")
        _wait_stored(store, _last_row_t(logs["part2"]), "the second part")
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        sim.kill()
        if sim2 is not None:
            sim2.stop()
        ha.close()
    cleared = [x.json() for x in owner.got if x.topic == f"battwatch/{A}/alerts/sos/decline"]
    assert cleared[-1]["active"] is False
    assert cleared[-1]["message"].startswith("cleared: battery replaced on 2025-03-25 (dealer).")
    event = next(x.json() for x in owner.got if x.topic.endswith("/events") and x.json().get("type") == "replaced")
    assert (event["battery"], event["fitted"], event["note"], event["t"]) == ("sos", "2025-03-25", "dealer",
                                                                              1_742_896_800.0)
    # the fleet collector turns that event into the point the dashboards' annotation reads
    [point] = Translator().points("events", A, event)
    assert point.measurement == "replacements" and point.field("text") == "SOS backup battery replaced on 2025-03-25 (dealer)"
    # and the retained answer is there for whoever looks later: the last command's
    late = Subscriber(broker.host, broker.port, (ANSWER,), username="owner-x1", password=USERS["owner-x1"]).ready()
    got = late.wait(lambda g: len(g) >= 1, what="the retained answer")
    assert got[0].retain and got[0].json()["battery"] == "main" and got[0].json()["result"] == "recorded"
    late.close()
    owner.close()
    assert not [e for e in events(store) if e[0] > 1_742_896_800.0 and e[1] == "sos"]
