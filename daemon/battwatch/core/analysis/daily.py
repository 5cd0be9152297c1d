"""What both batteries keep per UTC day: the daily series, and the rules run when a day ends."""

from __future__ import annotations

from collections import deque
from datetime import UTC, date, datetime
from typing import Any, Final

from battwatch.core.analysis.trend import median

DAY_S: Final = 86400.0
YEAR_S: Final = 365.25 * DAY_S
FIT_SAMPLE_S: Final = 240.0  # rested points for the drain and self-discharge fits: at most one per 4 min


def installed_ts(d: date | None) -> float | None:
    if d is None:
        return None
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


class DailySeries:
    """One value per UTC day: the median of the day's samples (at most one per ``sample_s``)."""

    __slots__ = ("sample_s", "today", "day", "last_sample", "points", "history", "keep")

    def __init__(self, sample_s: float, keep_days: int, record: bool) -> None:
        self.sample_s = sample_s
        self.today: list[float] = []
        self.day = -1
        self.last_sample = -1e18
        self.keep = keep_days
        self.points: deque[tuple[float, float]] = deque(maxlen=keep_days)  # (day number, value)
        self.history: list[tuple[float, float]] | None = [] if record else None

    def add(self, t: float, v: float) -> None:
        if t - self.last_sample >= self.sample_s:
            self.last_sample = t
            d = int(t // DAY_S)
            if d != self.day:
                self.close()
                self.day = d
            self.today.append(v)

    def close(self) -> tuple[float, float] | None:
        """End the current day: its median joins the series."""
        if not self.today:
            return None
        p = (self.day + 0.5, median(self.today))
        self.today = []
        self.points.append(p)
        if self.history is not None:
            self.history.append(p)
        return p

    def window(self, last_day: float, days: float) -> tuple[list[float], list[float]]:
        xs, ys = [], []
        for x, y in self.points:
            if x > last_day - days:
                xs.append(x)
                ys.append(y)
        return xs, ys

    def export(self) -> dict[str, Any]:
        return {"today": self.today[-300:], "day": self.day, "last_sample": self.last_sample,
                "points": [list(p) for p in self.points]}

    def load(self, d: dict[str, Any]) -> None:
        self.today = [float(x) for x in d["today"]]
        self.day = int(d["day"])
        self.last_sample = float(d["last_sample"])
        self.points = deque(((float(x), float(y)) for x, y in d["points"]), maxlen=self.keep)


class DailyRules:
    """What both batteries do when a UTC day of data ends: close the daily value, refit the
    trend when it is due (or every day while a decline alert is pending), judge the age."""

    daily: DailySeries
    next_fit_day: int
    s_decline: Any
    trend_cfg: Any
    installed_t: float | None

    def _decline(self, t: float) -> None:
        raise NotImplementedError

    def age_years(self, t: float) -> float | None:
        """Age at data time ``t``; None when unknown, also before the installation date (data
        from before it are not this battery's: no age alert, no life by age)."""
        if self.installed_t is None or t < self.installed_t:
            return None
        return (t - self.installed_t) / YEAR_S

    def age(self, t: float) -> None:
        raise NotImplementedError

    def hint(self, t: float) -> None:
        raise NotImplementedError

    def daily_close(self, t: float) -> None:
        """A UTC day ended (data time ``t``): daily value, trends, age, the new-battery hint."""
        self.daily.close()
        day = int(t // DAY_S)
        if day >= self.next_fit_day or self.s_decline.level or self.s_decline.busy:
            self.next_fit_day = day + self.trend_cfg.fit_every_days
            self._decline(t)
        self.age(t)
        self.hint(t)
