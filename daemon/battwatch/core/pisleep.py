"""When the daemon asks the ADC board to cut the Pi's supply (SLEEP, firmware-notes/power.md)."""

from __future__ import annotations

from typing import Final

ON: Final = "on"
ASKED: Final = "asked"
GRANTED: Final = "granted"
REFUSED: Final = "refused"


class PiSleep:
    """Decides from live readings when SLEEP is due, and what the board's answer means.

    The car must have been asleep (by the analysis) for ``after_s`` of reading time, counted
    from the first live reading of this run, so that a visit after a wake lasts that long too.
    An unanswered SLEEP is asked again after ``retry_s``; a refusal (a board without a power
    switch) ends the asking for this run."""

    def __init__(self, after_s: float, retry_s: float = 30.0) -> None:
        self.after_s = after_s
        self.retry_s = retry_s
        self.state = ON
        self.asleep_since: float | None = None
        self.asked_at: float | None = None

    def reading(self, t: float, awake: bool | None) -> bool:
        """A live reading at ``t`` with the car awake, asleep or unknown (None): True when
        SLEEP is to be sent now."""
        if self.after_s <= 0 or self.state in (GRANTED, REFUSED):
            return False
        if awake is not False:
            self.asleep_since = None
            self.state = ON  # an unanswered request is void once the car wakes
            return False
        if self.asleep_since is None:
            self.asleep_since = t
        if t - self.asleep_since < self.after_s:
            return False
        if self.state == ASKED and self.asked_at is not None and t - self.asked_at < self.retry_s:
            return False
        self.state = ASKED
        self.asked_at = t
        return True

    def answered(self, ok: bool) -> bool:
        """The board's answer to SLEEP: True when the Pi is to power off now."""
        if self.state != ASKED:
            return False
        self.state = GRANTED if ok else REFUSED
        return ok
