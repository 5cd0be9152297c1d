"""Is the host clock synchronised? (a Pi has no RTC and may boot with a stale clock)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import time

logger = logging.getLogger(__name__)

TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised
STA_UNSYNC = 0x0040


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux); only status and the return value are used
    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


class HostClock:
    """Answers "may the host clock be trusted?", re-checking at most once a second.

    ``state`` is "synchronised", "unsynchronised" or "unknown": a kernel that will not tell
    (adjtimex() refused, as under systemd's ProtectClock=yes) is never taken as synchronised,
    or a Pi that booted with a stale clock would stamp readings with it.
    """

    def __init__(self, policy: str = "auto") -> None:
        # "auto": ask the kernel; "trusted": the host has an RTC or GPS; "untrusted": it never
        # has a network or an RTC, so only the board's clock (BWT) is ever taken as true time
        self.policy = policy
        self._checked = float("-inf")
        self._synced = True
        self._state = "synchronised" if policy == "trusted" else "unsynchronised" if policy == "untrusted" else ""
        self._refusal_logged = False
        self._adjtimex = None
        if policy == "auto":
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
                self._adjtimex = libc.adjtimex
            except (OSError, AttributeError):
                self._adjtimex = None  # not Linux: nothing to ask, trust the clock
                self._state = "synchronised"

    def synced(self) -> bool:
        if self.policy == "untrusted":
            return False
        if self._adjtimex is None:
            return True
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            tx = _Timex()  # modes = 0: read only
            ctypes.set_errno(0)
            state = self._adjtimex(ctypes.byref(tx))
            if state == -1:
                self._refused(ctypes.get_errno())
                self._synced = False
            else:
                self._synced = state != TIME_ERROR and not tx.status & STA_UNSYNC
                self._state = "synchronised" if self._synced else "unsynchronised"
        return self._synced

    @property
    def state(self) -> str:
        if not self._state:
            self.synced()  # not asked yet
        return self._state

    def _refused(self, errno: int) -> None:
        self._state = "unknown"
        if self._refusal_logged:
            return
        self._refusal_logged = True
        logger.warning(
            "cannot read whether the host clock is synchronised (adjtimex: %s); treating it as "
            "unsynchronised: readings wait for a board clock or go out as estimates after "
            "[clock] hold_max_s. Under systemd, the unit must allow adjtimex (no ProtectClock=yes; "
            "see systemd/README.md); or set [clock] host = \"trusted\" if this host has an RTC",
            os.strerror(errno) if errno else "failed",
        )
