"""scripts/wait-apt-lock.sh: `make test` waits for the package manager instead of failing on its lock."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "wait-apt-lock.sh"


def test_it_names_the_holder_waits_while_the_lock_is_held_and_goes_on_when_it_is_released(tmp_path: Path) -> None:
    lock = tmp_path / "lock-frontend"
    other = tmp_path / "lock"
    other.touch()  # a lock file nobody holds is no reason to wait
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.lockf(fd, fcntl.LOCK_EX)  # a POSIX record lock, as apt and dpkg take
    env = {**os.environ, "APT_LOCKS": f"{other} {lock}"}
    proc = subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the script has seen the lock
        assert "waiting for the package manager" in first
        assert f"{lock} held by process {os.getpid()} (" in first
        assert proc.poll() is None, "it went on while the lock was held"
        fcntl.lockf(fd, fcntl.LOCK_UN)
        rest = proc.communicate(timeout=60)[0]
    finally:
        os.close(fd)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "the package manager is free after" in rest


def test_it_says_nothing_and_returns_at_once_when_nothing_holds_the_locks(tmp_path: Path) -> None:
    free = tmp_path / "lock"
    free.touch()
    done = subprocess.run(["bash", str(SCRIPT)], env={**os.environ, "APT_LOCKS": f"{free} {tmp_path / 'absent'}"},
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_it_gives_up_after_its_limit_with_the_holder_named(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    try:
        done = subprocess.run(["bash", str(SCRIPT)], env={**os.environ, "APT_LOCKS": str(lock), "APT_LOCK_WAIT_S": "0"},
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(fd)
    assert done.returncode == 1
    assert f"gave up after 0 s: {lock} held by process {os.getpid()}" in done.stderr


@pytest.mark.parametrize("script", ["provision-servers.sh", "provision-firmware.sh"])
def test_provisioning_waits_before_apt_get(script: str) -> None:
    text = (ROOT / "scripts" / script).read_text()
    assert text.index("wait-apt-lock.sh") < text.index("apt-get -o DPkg::Lock::Timeout=600 update")
