"""Is the host clock synchronised? (a Pi has no RTC and may boot with a stale clock)."""

from __future__ import annotations

import ctypes
import ctypes.util
import time

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
    """Answers "may the host clock be trusted?", re-checking at most once a second."""

    def __init__(self, policy: str = "auto") -> None:
        # "auto": ask the kernel; "trusted": the host has an RTC or GPS; "untrusted": it never
        # has a network or an RTC, so only the board's clock (BWT) is ever taken as true time
        self.policy = policy
        self._checked = float("-inf")
        self._synced = True
        self._adjtimex = None
        if policy == "auto":
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
                self._adjtimex = libc.adjtimex
            except (OSError, AttributeError):
                self._adjtimex = None  # not Linux: nothing to ask, trust the clock

    def synced(self) -> bool:
        if self.policy == "untrusted":
            return False
        if self._adjtimex is None:
            return True
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            tx = _Timex()  # modes = 0: read only
            state = self._adjtimex(ctypes.byref(tx))
            self._synced = state != TIME_ERROR and not tx.status & STA_UNSYNC
        return self._synced
