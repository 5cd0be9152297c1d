"""The unit's system call filter, loaded with seccomp: the daemon can read the clock's state."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "battwatch.service"

# Runs in a child: loads a seccomp filter that allows exactly the given system calls (every
# other one fails with EPERM, as SystemCallErrorNumber=EPERM makes it), then asks HostClock.
CHILD = r"""
import ctypes, ctypes.util, errno, json, logging, sys
allowed, denied = json.loads(sys.argv[1]), json.loads(sys.argv[2])
from battwatch.adapters.clock import HostClock  # imported before the filter: its libc lookup forks
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
lib = ctypes.CDLL(ctypes.util.find_library("seccomp"), use_errno=True)
lib.seccomp_init.restype = ctypes.c_void_p
lib.seccomp_init.argtypes = [ctypes.c_uint32]
lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
lib.seccomp_load.argtypes = [ctypes.c_void_p]
ALLOW, EPERM = 0x7FFF0000, 0x00050000 | errno.EPERM
default, rules, action = (EPERM, allowed, ALLOW) if allowed is not None else (ALLOW, denied, EPERM)
ctx = lib.seccomp_init(default)
for name in rules:
    nr = lib.seccomp_syscall_resolve_name(name.encode())
    if nr != -1:  # not a system call of this architecture
        lib.seccomp_rule_add(ctx, action, nr, 0)
assert lib.seccomp_load(ctx) == 0, "seccomp_load failed"
clock = HostClock("auto")
print(json.dumps({"synced": clock.synced(), "state": clock.state}), flush=True)
"""


@cache
def _group(name: str) -> frozenset[str]:
    """A system call group, expanded by systemd's own tables (systemd-analyze)."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True,
                         check=True).stdout
    calls: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        calls |= _group(item) if item.startswith("@") else {item}
    return frozenset(calls)


def _expand(item: str) -> frozenset[str]:
    return _group(item) if item.startswith("@") else frozenset({item})


def unit_allow_list(unit: str) -> set[str]:
    """The system calls a unit's SystemCallFilter= lines allow, merged as systemd merges them:
    the first line makes an allow list, later ones add to it or (with ~) take from it."""
    allowed: set[str] | None = None
    for value in re.findall(r"^SystemCallFilter=(.*)$", unit, re.M):
        deny = value.startswith("~")
        items = set().union(*(_expand(i) for i in value.lstrip("~").split()))
        assert allowed is not None or not deny, "a deny list first: not what this test reads"
        if allowed is None:
            allowed = set(items)
        elif deny:
            allowed -= items
        else:
            allowed |= items
    assert allowed is not None, "the unit has no system call filter"
    return allowed


def _host_clock_under(allowed: set[str] | None = None, denied: set[str] | None = None) -> tuple[dict[str, object], str]:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(sorted(allowed) if allowed is not None else None),
         json.dumps(sorted(denied or ()))],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), res.stderr


def test_the_units_filter_lets_the_daemon_read_the_clock_state_and_nothing_can_set_it() -> None:
    text = UNIT.read_text()
    settings = [ln.strip() for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    # systemd 252's ProtectClock=yes takes away @clock, the read-only adjtimex() with it
    assert not any(ln.startswith("ProtectClock=") and ln != "ProtectClock=no" for ln in settings)
    assert "SystemCallErrorNumber=EPERM" in settings
    allowed = unit_allow_list(text)
    assert {"adjtimex", "clock_adjtime"} <= allowed  # glibc's adjtimex() calls clock_adjtime
    assert not allowed & {"settimeofday", "clock_settime", "stime"}
    assert "CapabilityBoundingSet=" in settings  # no CAP_SYS_TIME: adjtimex cannot set the clock
    result, log = _host_clock_under(allowed=allowed)
    assert result["state"] in ("synchronised", "unsynchronised"), (result, log)


def test_a_clock_state_the_kernel_refuses_is_unknown_never_synchronised() -> None:
    """What ProtectClock=yes did: adjtimex() fails with EPERM."""
    result, log = _host_clock_under(denied=_group("@clock"))
    assert result == {"synced": False, "state": "unknown"}, (result, log)
    assert log.count("WARNING cannot read whether the host clock is synchronised (adjtimex: Operation not "
                     "permitted)") == 1, log
