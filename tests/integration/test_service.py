"""battwatch as a systemd service: sd_notify exchange, watchdog on a hung loop, installer, unit."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from battwatch import config
from battwatch.adapters.sdnotify import Notifier
from battwatch.app import App
from battwatch.core.csvlog import write_csv
from battwatch.core.model import AlertTransition, HealthSummary, Reading
from battwatch.emulator.adc_sim import AdcEmulator
from helpers import Proc, battwatch

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "battwatch.service"
RULE = ROOT / "systemd" / "99-battwatch-adc.rules"
INSTALL = ROOT / "scripts" / "install-pi.sh"
VENV_BATTWATCH = Path(sys.executable).parent / "battwatch"


# -- a test notification socket ---------------------------------------------------------------


class NotifySocket:
    """The systemd side of sd_notify: a datagram socket that records every message."""

    def __init__(self, path: Path) -> None:
        assert len(str(path)) < 100, f"{path} too long for an AF_UNIX address"
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[tuple[float, list[str]]] = []  # (monotonic arrival, fields)

    def recv(self, timeout: float) -> list[str] | None:
        """One datagram's fields, or None if nothing came within ``timeout``."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        fields = data.decode().split("\n")
        self.messages.append((time.monotonic(), fields))
        return fields

    def wait_for(self, done: Callable[[], bool], timeout: float, what: str,
                 sender: Proc | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout} s; got {self.fields()[-20:]}")
            if sender is not None and sender.p.poll() is not None:
                sender.stop()
                raise AssertionError(f"sender exited ({sender.p.returncode}) before {what}:\n{sender.output}")
            self.recv(min(left, 0.5))

    def drain(self) -> list[str]:
        """Everything already queued, without waiting."""
        self.sock.setblocking(False)
        got = []
        try:
            while True:
                fields = self.sock.recv(4096).decode().split("\n")
                self.messages.append((time.monotonic(), fields))
                got += fields
        except BlockingIOError:
            return got

    def fields(self) -> list[str]:
        return [f for _, fs in self.messages for f in fs]

    def count(self, field: str) -> int:
        return sum(fs.count(field) for _, fs in self.messages)

    def times_of(self, field: str) -> list[float]:
        return [t for t, fs in self.messages if field in fs]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    ns = NotifySocket(tmp_path / "notify.sock")
    yield ns
    ns.close()


def readings(n: int, t0: float = 1_714_560_000.0) -> Iterator[Reading]:
    for i in range(n):
        main = 12.60 - (i % 7) * 0.001
        yield Reading(t0 + i, main, main - 0.01, main + 0.01, 4.95, 4.94, 4.96, 20.0, 1.0)


def write_config(path: Path, port: Path, store: Path) -> Path:
    path.write_text(
        f'[vehicle]\nid = "svc-test"\n[adc]\nport = "{port}"\nsilent_after_s = 60\n'
        f'[store]\npath = "{store}"\ncommit_interval_s = 1\n'
    )
    return path


# -- (a) the sd_notify exchange with the real daemon --------------------------------------------


@pytest.mark.serial
def test_sd_notify_ready_watchdog_status_stopping(tmp_path: Path, notify_socket: NotifySocket) -> None:
    csv_path = tmp_path / "log.csv"
    with csv_path.open("w", encoding="utf-8") as fh:
        write_csv(fh, readings(3000), "svc-test")
    link = tmp_path / "adc"
    sim = Proc(battwatch("adc-sim", "--csv", str(csv_path), "--speed", "20", "--link", str(link)))
    daemon: Proc | None = None
    try:
        sim.wait_for(r"adc-sim: serving on")
        cfg = write_config(tmp_path / "battwatch.toml", link, tmp_path / "store")
        daemon = Proc(
            battwatch("run", "-c", str(cfg)),
            env={"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "200000", "WATCHDOG_PID": ""},
        )
        notify_socket.wait_for(lambda: notify_socket.count("READY=1") == 1, 30, "READY=1", daemon)
        notify_socket.wait_for(lambda: notify_socket.count("WATCHDOG=1") >= 5, 15, "5 watchdog pings", daemon)
        fields = notify_socket.fields()
        assert fields.index("READY=1") < fields.index("WATCHDOG=1")
        assert any(f.startswith("STATUS=") and len(f) > len("STATUS=") for f in fields), fields
        # WATCHDOG_USEC is honoured: pings at half of it (0.1 s), not at every loop turn
        pings = notify_socket.times_of("WATCHDOG=1")
        assert len(pings) - 1 <= (pings[-1] - pings[0]) / 0.1 + 1

        daemon.signal(signal.SIGTERM)
        notify_socket.wait_for(lambda: notify_socket.count("STOPPING=1") == 1, 15, "STOPPING=1")
        assert daemon.stop(timeout=20) == 0, daemon.output
        assert notify_socket.count("READY=1") == 1  # a restart would have sent it again
    finally:
        if daemon is not None:
            daemon.kill()
        sim.stop()
    # the pings came from a loop that was doing real work: readings reached the store
    db = sqlite3.connect(tmp_path / "store" / "battwatch.sqlite3")
    assert db.execute("SELECT count(*) FROM readings").fetchone()[0] > 0
    db.close()


# -- (b) a hung main loop stops the pings -------------------------------------------------------


class BlockingSink:
    """Blocks the main loop inside reading() once armed, until released."""

    name = "blocking"

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def start(self) -> None:
        pass

    def reading(self, r: Reading, state: str) -> None:
        if self.armed.is_set() and not self.entered.is_set():
            self.entered.set()
            self.release.wait(60)

    def transition(self, tr: AlertTransition) -> None:
        pass

    def summary(self, s: HealthSummary) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self, timeout: float = 5.0) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {}


@pytest.mark.serial
def test_watchdog_pings_stop_while_the_main_loop_hangs(tmp_path: Path, notify_socket: NotifySocket) -> None:
    interval_s = 0.05  # WATCHDOG_USEC = 100 ms, pinged at half
    emu = AdcEmulator(readings(100_000), speed=20, link=tmp_path / "adc")
    emu.start()
    cfg = config.from_dict({
        "vehicle": {"id": "wd-test"},
        "adc": {"port": str(tmp_path / "adc"), "silent_after_s": 60},
        # readings reach the sinks at the store's commit: commit each one
        "store": {"path": str(tmp_path / "store"), "commit_interval_s": 0},
    })
    sink = BlockingSink()
    notifier = Notifier(env={"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "100000"})
    stop = threading.Event()
    errors: list[BaseException] = []

    def run_app() -> None:
        # built in the thread that runs it: the store's SQLite connection belongs to one thread
        try:
            app = App(cfg, store_dir=tmp_path / "store", sinks=[sink], notifier=notifier,
                      use_scheduler=False, stop_when=lambda _app: stop.is_set())
            app.run()
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)

    runner = threading.Thread(target=run_app, name="app", daemon=True)
    runner.start()
    try:
        notify_socket.wait_for(lambda: notify_socket.count("WATCHDOG=1") >= 3, 15, "3 watchdog pings")

        sink.armed.set()
        assert sink.entered.wait(15), "no reading reached the sink"
        notify_socket.drain()  # pings sent before the loop entered the sink
        hung_since = len(notify_socket.messages)
        deadline = time.monotonic() + 10 * interval_s
        while (left := deadline - time.monotonic()) > 0:
            got = notify_socket.recv(left)
            assert got is None or "WATCHDOG=1" not in got, "pinged while the main loop was stuck"
        assert runner.is_alive()  # hung, not dead: exactly what the watchdog is for
        assert len(notify_socket.messages) == hung_since

        sink.release.set()
        notify_socket.wait_for(
            lambda: any("WATCHDOG=1" in fs for _, fs in notify_socket.messages[hung_since:]),
            10, "pings after the loop recovered",
        )
    finally:
        sink.release.set()
        stop.set()
        runner.join(20)
        emu.close()
        notifier.close()
    assert not runner.is_alive() and errors == []
    notify_socket.drain()
    assert notify_socket.count("STOPPING=1") == 1


# -- (c) the installer, into a scratch root ---------------------------------------------------


def snapshot_checkout(dest: Path) -> Path:
    """A frozen copy of what the installer needs: the real checkout changes under parallel work."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "*.so")
    for name in ("daemon", "config", "systemd", "scripts"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


def stub_system_commands(bin_dir: Path, log: Path) -> dict[str, str]:
    """useradd, systemctl, udevadm... that only log: under --root none of them may run."""
    bin_dir.mkdir()
    for name in ("useradd", "usermod", "userdel", "systemctl", "udevadm", "chown"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        stub.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[Any, ...]]:
    """Every path under root with type, mode, content hash and modification time."""
    out: dict[str, tuple[Any, ...]] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if any(part in skip for part in p.parts):
            continue
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            out[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(p.read_bytes()).hexdigest(),
                        st.st_mtime_ns)
    return out


def run_install(src: Path, *args: str, env: dict[str, str], ok: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["bash", str(src / "scripts" / "install-pi.sh"), *args], env=env,
                         capture_output=True, text=True, timeout=timeout, check=False)
    if ok:
        assert res.returncode == 0, f"{args}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def test_install_into_scratch_root_is_idempotent_and_uninstalls(tmp_path: Path) -> None:
    src = snapshot_checkout(tmp_path / "src")
    root = tmp_path / "root"
    calls = tmp_path / "calls.log"
    env = stub_system_commands(tmp_path / "bin", calls)

    bad = run_install(src, "--root", str(root), "--no-venv", "--vehicle", "my car", env=env, ok=False)
    assert bad.returncode == 1 and "--vehicle my car: use letters" in bad.stderr and not root.exists()

    first = run_install(src, "--root", str(root), "--no-venv", "--vehicle", "test-car", env=env)
    etc = root / "etc"
    unit, rule = etc / "systemd/system/battwatch.service", etc / "udev/rules.d/99-battwatch-adc.rules"
    cfg = etc / "battwatch/battwatch.toml"
    assert unit.read_bytes() == UNIT.read_bytes() and stat.S_IMODE(unit.stat().st_mode) == 0o644
    assert rule.read_bytes() == RULE.read_bytes() and stat.S_IMODE(rule.stat().st_mode) == 0o644
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640
    assert stat.S_IMODE((etc / "battwatch/credentials").stat().st_mode) == 0o700
    assert os.readlink(root / "usr/local/bin/battwatch") == "/opt/battwatch/bin/battwatch"
    text = cfg.read_text()
    assert 'id = "test-car"' in text and "#installed = " in text and "x1-f48-ab123" not in text
    check = subprocess.run([str(VENV_BATTWATCH), "check-config", "-c", str(cfg)],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    assert "OK (vehicle test-car; ADC /dev/battwatch-adc; sinks: store)" in check.stdout
    out = first.stdout
    assert re.search(r"would run: useradd --system .*--groups dialout battwatch", out), out
    for cmd in ("systemctl daemon-reload", "systemctl enable battwatch.service", "udevadm control --reload"):
        assert f"would run: {cmd}" in out
    assert "skipped: start (no /opt/battwatch/bin/battwatch yet)" in out  # --no-venv: nothing to start
    assert "done: 6 change(s)" in out

    # idempotent: nothing changes, not even a modification time
    before = tree(root)
    second = run_install(src, "--root", str(root), "--no-venv", "--vehicle", "other", env=env)
    assert tree(root) == before
    assert "done: 0 change(s)" in second.stdout

    # an owner's configuration is never overwritten; a changed unit is replaced
    cfg.write_text(text.replace("level = \"info\"", "level = \"debug\""))
    (src / "systemd/battwatch.service").write_text(UNIT.read_text() + "# local change\n")
    third = run_install(src, "--root", str(root), "--no-venv", env=env)
    assert 'level = "debug"' in cfg.read_text()
    assert unit.read_text().endswith("# local change\n")
    assert "done: 1 change(s)" in third.stdout

    # uninstall keeps configuration and data
    data = root / "var/lib/battwatch/battwatch.sqlite3"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"store")
    gone = run_install(src, "--root", str(root), "--uninstall", env=env)
    assert not unit.exists() and not rule.exists() and not (root / "usr/local/bin/battwatch").is_symlink()
    assert cfg.exists() and data.exists()
    assert "would run: systemctl disable --now battwatch.service" in gone.stdout
    assert "would run: userdel battwatch" in gone.stdout
    again = run_install(src, "--root", str(root), "--uninstall", env=env)
    assert "done: 0 change(s)" in again.stdout

    refused = run_install(src, "--root", str(root), "--purge", env=env, ok=False)
    assert refused.returncode != 0 and "--purge goes with --uninstall" in refused.stderr
    run_install(src, "--root", str(root), "--uninstall", "--purge", env=env)
    assert not (etc / "battwatch").exists() and not (root / "var/lib/battwatch").exists()

    # under --root not one system command ran
    assert not calls.exists(), calls.read_text()


@pytest.mark.slow
def test_install_creates_a_working_virtual_environment(tmp_path: Path) -> None:
    src = snapshot_checkout(tmp_path / "src")
    root = tmp_path / "root"
    env = stub_system_commands(tmp_path / "bin", tmp_path / "calls.log")
    # the timeouts only stop a hung install: on a loaded 2-core machine pip and mypyc took
    # more than 10 min, so they are far above any normal run
    first = run_install(src, "--root", str(root), "--vehicle", "venv-car", env=env, timeout=2400)
    bw = root / "opt/battwatch/bin/battwatch"
    assert "changed: /opt/battwatch (battwatch from" in first.stdout
    # the installer ran the venv's own check-config on the new file
    assert f"{root}/etc/battwatch/battwatch.toml: OK (vehicle venv-car" in first.stdout
    assert "would run: systemctl start battwatch.service" in first.stdout
    # a machine with a compiler and over 1 GB of RAM gets the core compiled by pip's own build
    assert "core: compiling with mypyc" in first.stdout
    version = subprocess.run([str(bw), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("battwatch ") and "(compiled core)" in version.stdout
    # installed from a copy, not in place: the checkout gets no build/ or egg-info
    assert not (src / "build").exists() and not list((src / "daemon").glob("*.egg-info"))

    before = tree(root, skip=("__pycache__",))
    second = run_install(src, "--root", str(root), env=env, timeout=2400)
    assert "ok:      /opt/battwatch (battwatch from" in second.stdout
    assert "done: 0 change(s)" in second.stdout
    assert tree(root, skip=("__pycache__",)) == before

    run_install(src, "--root", str(root), "--uninstall", env=env)
    assert not (root / "opt/battwatch").exists()
    assert not (tmp_path / "calls.log").exists()


# -- (d) the unit file and the udev rule --------------------------------------------------------


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that ExecStart= names an executable; on a build machine that is the venv's
    unit = tmp_path / "battwatch.service"
    original = UNIT.read_text()
    rewritten = original.replace("/opt/battwatch/bin/battwatch", str(VENV_BATTWATCH))
    assert rewritten.count(str(VENV_BATTWATCH)) == 1
    unit.write_text(rewritten)
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0 and res.stderr == "" and res.stdout == "", res.stderr + res.stdout


def test_unit_hardening_exposure_stays_low(tmp_path: Path) -> None:
    unit = tmp_path / "battwatch.service"
    unit.write_text(UNIT.read_text().replace("/opt/battwatch/bin/battwatch", str(VENV_BATTWATCH)))
    res = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                         capture_output=True, text=True, check=False)
    m = re.search(r"Overall exposure level for battwatch\.service: (\d+\.\d+)", res.stdout)
    assert m, res.stdout + res.stderr
    assert float(m.group(1)) <= 2.0, res.stdout  # 1.9 since adjtimex is allowed; see systemd/README.md
    # the serial port must stay visible: PrivateDevices= would hide it
    assert "✗ PrivateDevices=" in res.stdout
    settings = dict(
        line.split("=", 1) for line in UNIT.read_text().splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings["Type"] == "notify" and settings["NotifyAccess"] == "main"
    assert settings["WatchdogSec"] == "30" and settings["Restart"] == "on-failure"
    # the store shows when the car is driven and parked: its group may read it, nobody else
    assert settings["UMask"] == "0027" and settings["StateDirectoryMode"] == "0750"


UDEV_TOKEN = re.compile(
    r'^(ACTION|SUBSYSTEM|SUBSYSTEMS|KERNEL|KERNELS|DRIVERS|ATTRS\{[a-zA-Z_]+\}|ENV\{[A-Z_]+\}|SYMLINK|GROUP|MODE'
    r'|GOTO|LABEL)(==|!=|=|\+=)"[^"]*"$'
)


def test_udev_rule_is_well_formed_and_has_one_active_match() -> None:
    lines = [ln for ln in RULE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    for ln in lines:
        for token in ln.split(", "):
            assert UDEV_TOKEN.match(token), f"bad token {token!r} in {ln!r}"
    matches = [ln for ln in lines if 'SYMLINK+="battwatch-adc"' in ln]
    assert len(matches) == 1
    assert 'ATTRS{product}=="battwatch ADC*"' in matches[0]
    gotos = {m for ln in lines for m in re.findall(r'GOTO="([^"]+)"', ln)}
    labels = {m for ln in lines for m in re.findall(r'LABEL="([^"]+)"', ln)}
    assert gotos == labels == {"battwatch_adc_end"}
    # every commented alternative is a complete rule too, once uncommented
    alternatives = [ln[1:] for ln in RULE.read_text().splitlines() if ln.startswith("#SUBSYSTEMS==")]
    assert len(alternatives) == 5
    for ln in alternatives:
        assert all(UDEV_TOKEN.match(t) for t in ln.split(", ")), ln
        assert 'SYMLINK+="battwatch-adc"' in ln
