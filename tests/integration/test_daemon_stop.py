"""`battwatch run` stopped by a signal: from its first instant, and with readings held for the clock."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from battwatch.core.csvlog import write_csv
from battwatch.core.model import Reading
from helpers import Proc, battwatch

pytestmark = pytest.mark.serial


def _config(tmp: Path, link: Path, **clock: str | float) -> Path:
    cfg = tmp / "run.toml"
    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in clock.items())
    cfg.write_text(
        f'[vehicle]\nid = "stop-car"\n[adc]\nport = "{link}"\nsilent_after_s = 60\n'
        f'[store]\npath = "{tmp / "store"}"\n[clock]\n{extra}'
    )
    return cfg


# A signal the moment the daemon reads its configuration, or opens its store: both come before
# the App exists (and, before the fix, before any handler did: the process died of it, 143).
EARLY = """
import os, signal, sys
from battwatch import app, cli, config

where = sys.argv[2]
real = config.load if where == "config" else app.open_store


def stop_here(*args, **kw):
    os.kill(os.getpid(), signal.SIGTERM)
    return real(*args, **kw)


if where == "config":
    config.load = stop_here
else:
    app.open_store = stop_here
sys.exit(cli.main(["run", "-c", sys.argv[1]]))
"""


@pytest.mark.parametrize("where", ["config", "store"])
def test_a_sigterm_while_the_daemon_loads_is_an_ordered_exit_0(tmp_path: Path, where: str) -> None:
    cfg = _config(tmp_path, tmp_path / "no-adc")
    res = subprocess.run([sys.executable, "-c", EARLY, str(cfg), where], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res
    out = res.stdout + res.stderr
    assert "stop asked for while starting" in out
    assert "battwatch stopping" in out and "battwatch stopped" in out
    assert "Traceback" not in out


def test_sigterm_stores_the_readings_held_for_the_host_clock(tmp_path: Path) -> None:
    """The reviewer's run: a board without a clock, no NTP, SIGTERM before hold_max_s."""
    log = tmp_path / "s1.csv"
    with log.open("w", encoding="utf-8") as fh:
        write_csv(fh, (Reading(1_736_121_600.0 + i, 12.6, 12.6, 12.6, 5.3, 5.3, 5.3, 9.0, 1.0)
                       for i in range(300)), "stop-car")
    link = tmp_path / "adc"
    cfg = _config(tmp_path, link, host="untrusted", hold_max_s=3600)
    sim = Proc(battwatch("adc-sim", "--csv", str(log), "--speed", "10", "--no-clock", "--wait-hello",
                         "--link", str(link)))
    try:
        sim.wait_for("serving on")
        daemon = Proc(battwatch("run", "-c", str(cfg)))
        try:
            daemon.wait_for(r"ADC data flowing \(frames held")
            assert daemon.stop() == 0
        finally:
            daemon.kill()
    finally:
        sim.kill()
    m = re.search(r"(\d+) held readings stamped by estimate", daemon.output)
    assert m is not None, daemon.output
    n = int(m.group(1))
    assert n >= 1
    db = sqlite3.connect(tmp_path / "store" / "battwatch.sqlite3")
    try:
        assert db.execute("SELECT count(*) FROM readings").fetchone()[0] == n
    finally:
        db.close()
    logged = [line for p in (tmp_path / "store" / "logs").glob("stop-car-*.csv")
              for line in p.read_text().splitlines()[1:]]
    assert len(logged) == n
    shown = subprocess.run(battwatch("status", "-c", str(cfg)), capture_output=True, text=True, timeout=60)
    assert "held until the host clock" not in shown.stdout, shown.stdout
    assert "Serial link   DOWN" in shown.stdout, shown.stdout
    assert f"({n:,} reading" in shown.stdout, shown.stdout
