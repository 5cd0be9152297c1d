"""The running daemon takes up `battwatch replaced` without a restart: against the emulator, the
failing pack replaced mid-log clears its alerts at the replacement and nothing follows, exactly
as `replay --store` of the same log does."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from helpers import Proc, battwatch
from replaced_logs import WHEN, events, run, write_config, write_logs

pytestmark = [pytest.mark.serial, pytest.mark.slow]

TIMEOUT = 180.0


def _last_t(store: Path) -> float | None:
    try:
        db = sqlite3.connect(f"file:{store / 'battwatch.sqlite3'}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.OperationalError:
        return None
    try:
        row = db.execute("SELECT max(t) FROM readings").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
    return None if row is None or row[0] is None else float(row[0])


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_logs(tmp_path_factory.mktemp("logs"))


def _wait_stored(store: Path, t: float, what: str) -> None:
    """Until the store holds the reading at ``t`` (committed every 0.5 s), with a deadline."""
    deadline = time.monotonic() + TIMEOUT
    tick = threading.Event()
    while (_last_t(store) or 0.0) < t:
        assert time.monotonic() < deadline, f"the daemon did not store {what} within {TIMEOUT} s"
        tick.wait(0.2)


def _last_row_t(log: Path) -> float:
    from battwatch.core.timefmt import parse_time

    last = log.read_text().rstrip("\n").rsplit("\n", 1)[1]
    return parse_time(last.split(",", 1)[0])


def test_the_running_daemon_takes_up_a_replacement_as_replay_does(
    battwatch_bin: str, tmp_path: Path, logs: dict[str, Path]
) -> None:
    link, store = tmp_path / "adc", tmp_path / "store"
    cfg = write_config(tmp_path / "c.toml", store)
    text = cfg.read_text().replace(
        "[store]\n",
        f'[adc]\nport = "{link}"\nsilent_after_s = 3600\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
        "[store]\ncommit_interval_s = 0.5\n",
    )
    cfg.write_text(text)
    sim = Proc(battwatch("adc-sim", "--csv", str(logs["part1"]), "--speed", "0", "--link", str(link), "--wait-hello"))
    sim.wait_for("serving on")
    daemon = Proc(battwatch("run", "-c", str(cfg)))
    sim2 = None
    try:
        daemon.wait_for("battwatch starting")
        _wait_stored(store, _last_row_t(logs["part1"]), "the first part")
        assert sim.stop() == 0  # the board goes away for a while; the daemon keeps running
        told = run(battwatch_bin, "replaced", "--battery", "sos", "--date", WHEN, "--note", "dealer", "-c", str(cfg))
        assert told.returncode == 0, told.stderr
        # taken up without a restart: the store is polled from the main loop
        daemon.wait_for(r"replacement recorded \(cli\): sos battery fitted 2025-03-25T10:00:00", TIMEOUT)
        sim2 = Proc(battwatch("adc-sim", "--csv", str(logs["part2"]), "--speed", "0", "--link", str(link),
                              "--wait-hello"))
        daemon.wait_for(r"alert cleared sos/decline critical: cleared: battery replaced on 2025-03-25 \(dealer\)",
                        TIMEOUT)
        _wait_stored(store, _last_row_t(logs["part2"]), "the second part")
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        sim.kill()
        if sim2 is not None:
            sim2.stop()
    live = events(store)
    cleared = [e for e in live if "battery replaced" in e[5]]
    assert {(e[1], e[2], e[4]) for e in cleared} == {("sos", "decline", "cleared"), ("sos", "low_voltage", "cleared")}
    assert all(e[0] == 1_742_896_800.0 for e in cleared)  # 2025-03-25 10:00 UTC, in data time
    assert [e for e in live if e[0] > 1_742_896_800.0] == []  # and nothing after it

    # the same log replayed into a store that knows of the replacement: the same transitions
    other = tmp_path / "replayed"
    cfg_r = write_config(tmp_path / "r.toml", other)
    assert run(battwatch_bin, "replay", str(logs["part1"]), "-c", str(cfg_r), "--store", str(other)).returncode == 0
    assert run(battwatch_bin, "replaced", "--battery", "sos", "--date", WHEN, "--note", "dealer",
                "-c", str(cfg_r)).returncode == 0
    assert run(battwatch_bin, "replay", str(logs["part2"]), "-c", str(cfg_r), "--store", str(other)).returncode == 0
    assert live == events(other)
