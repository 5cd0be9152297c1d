"""The store's retention, run in data time: the daemon and `replay --store` keep the same data."""

from __future__ import annotations

import logging
import time

from battwatch.adapters.clock import HostClock
from battwatch.adapters.store import Store

logger = logging.getLogger(__name__)

PRUNE_EVERY_S = 6 * 3600.0  # retention pass, in data time
PRUNE_AHEAD_MAX_S = 86400.0  # retention never runs further ahead of a synchronised host clock


class Retention:
    """The store's retention, run in data time: at the first reading, then every PRUNE_EVERY_S
    of data (the daemon and `replay --store` alike, so the same log keeps the same data)."""

    def __init__(self, store: Store, host_clock: HostClock) -> None:
        self.store = store
        self.host_clock = host_clock
        self.next_t = float("-inf")

    def due(self, t: float) -> bool:
        return t >= self.next_t

    def reset(self) -> None:
        """The data's timeline moved (a clock step): run again at the next reading."""
        self.next_t = float("-inf")

    def run(self, t: float) -> int:
        """Apply retention as of data time ``t``; returns the number of readings deleted."""
        # Data time, so an accelerated or replayed run is bounded too; but a data time far
        # ahead of a trustworthy host clock is a wrong time, and must not delete the real
        # readings before it.
        if self.host_clock.synced():
            t = min(t, time.time() + PRUNE_AHEAD_MAX_S)
        self.next_t = t + PRUNE_EVERY_S
        n = self.store.prune(t)
        if n:
            logger.info("retention: %d old readings deleted", n)
        return n
