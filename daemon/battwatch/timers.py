"""The main loop's own clock: the minute tick, the look for replacements, the watchdog ping."""

from __future__ import annotations

import time
from dataclasses import dataclass

from battwatch.adapters.sdnotify import Notifier
from battwatch.core.model import Tick

TICK_S = 60.0  # housekeeping cadence: summary, flush, silence check backstop
REPLACED_POLL_S = 5.0  # how soon a `battwatch replaced` in the store reaches the analysis


@dataclass(frozen=True, slots=True)
class PollReplaced:
    """Look in the store for replacements the owner recorded (battwatch replaced)."""


class LoopTimers:
    """What falls due on the main loop's monotonic clock.

    A scheduler thread would only enqueue these; the loop wakes at least every ``wait_s``
    anyway, so it serves as the timer and no thread or library is needed."""

    def __init__(self, notifier: Notifier, *, enabled: bool = True) -> None:
        self.notifier = notifier
        self.enabled = enabled  # False: no Tick or replacement look (tests and the demo drive these)
        self.next_tick = self.next_poll = float("inf")  # monotonic times, set by start()
        self._last_ping = 0.0
        # the idle wait must be shorter than the watchdog ping interval, however short
        self.wait_s = min(0.25, notifier.watchdog_interval_s or 0.25)

    def start(self) -> None:
        """The loop starts: the first of each comes one interval from now."""
        now = time.monotonic()
        self.next_tick = now + TICK_S
        self.next_poll = now + REPLACED_POLL_S

    def due(self) -> Tick | PollReplaced | None:
        """The housekeeping due now: a Tick every TICK_S, a look for replacements every
        REPLACED_POLL_S."""
        if not self.enabled:
            return None
        now = time.monotonic()
        if now >= self.next_tick:
            # from now, not from the missed time: a loop busy for minutes ticks once, not in a burst
            self.next_tick = now + TICK_S
            return Tick(time.time())
        if now >= self.next_poll:
            self.next_poll = now + REPLACED_POLL_S
            return PollReplaced()
        return None

    def watchdog(self) -> None:
        # pinged from the main loop itself: if the loop hangs, systemd restarts us
        interval = self.notifier.watchdog_interval_s
        if interval is not None:
            now = time.monotonic()
            if now - self._last_ping >= interval:
                self._last_ping = now
                self.notifier.watchdog()
