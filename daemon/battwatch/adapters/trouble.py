"""A failing resource (a full disk, say) told once, counted while it lasts, and told when it is over."""

from __future__ import annotations

import errno
import logging
import sqlite3
import time
from typing import Any

REPORT_EVERY_S = 60.0


def describe(e: BaseException) -> str:
    """What went wrong, in the words a person looks for ("disk full", not a traceback)."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full ({e.strerror})"
    if isinstance(e, sqlite3.Error):
        text = str(e)
        if "full" in text:
            return f"disk full ({text})"
        return text
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return f"{type(e).__name__}: {e}"


class Trouble:
    """One warning when ``what`` starts failing, then a count every ``every_s`` while it goes
    on, and one line when it works again; ``status()`` holds what `battwatch status` shows."""

    def __init__(self, log: logging.Logger, what: str, *, every_s: float = REPORT_EVERY_S) -> None:
        self.log = log
        self.what = what
        self.every_s = every_s
        self.last_error: str | None = None
        self.last_error_at: float | None = None  # wall clock
        self.since: float | None = None  # wall clock of the first failure of this spell
        self.lost = 0  # items it could not keep, over the daemon's life
        self._lost_spell = 0
        self._failures = 0
        self._told_at = 0.0  # monotonic

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self, e: BaseException | str, lost: int = 0, *, consequence: str = "") -> None:
        detail = e if isinstance(e, str) else describe(e)
        now = time.time()
        self.last_error, self.last_error_at = detail, now
        self.lost += lost
        self._lost_spell += lost
        self._failures += 1
        mono = time.monotonic()
        if self.since is None:
            self.since = now
            self._told_at = mono
            self.log.warning("%s failed: %s%s; going on, and retrying by itself", self.what, detail,
                             f" ({consequence})" if consequence else "")
        elif mono - self._told_at >= self.every_s:
            self._told_at = mono
            self.log.warning("%s still failing (%s): %d failures, %d items not kept since %s",
                             self.what, detail, self._failures, self._lost_spell,
                             time.strftime("%H:%M:%S", time.localtime(self.since)))

    def ok(self) -> None:
        if self.since is None:
            return
        self.log.warning("%s works again after %.0f s: %d items could not be kept meanwhile",
                         self.what, time.time() - self.since, self._lost_spell)
        self.since = None
        self._lost_spell = self._failures = 0

    def status(self) -> dict[str, Any]:
        return {"failing_since": self.since, "last_error": self.last_error,
                "last_error_at": self.last_error_at, "lost": self.lost}
