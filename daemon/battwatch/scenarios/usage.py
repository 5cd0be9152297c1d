"""Vehicle usage: a seeded schedule of drives and the asleep/awake/running timeline it implies."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

from battwatch.scenarios.climate import DAY_S

MINUTE_S = 60.0
HOUR_S = 3600.0

# BMW KOMBI wakes the car about 30 and 70 min after terminal R off [SRC 16].
BMW_WAKEUPS_AFTER_KEY_OFF_S: tuple[float, ...] = (30 * MINUTE_S, 70 * MINUTE_S)
WAKEUP_MIN: tuple[float, float] = (1.0, 2.0)  # how long such a wake-up lasts [ENG]
MIN_PARK_BETWEEN_DRIVES_S = 10 * MINUTE_S  # drives closer than this are dropped from a schedule


class State(IntEnum):
    """What the vehicle is doing; decides the loads, the charging and the window length."""

    ASLEEP = 0  # bus asleep, only the closed-circuit current flows
    WAKE = 1  # a brief network wake-up while parked (no ignition)
    AWAKE = 2  # unlocked / key-on, engine off: before a start and after a stop
    RUNNING = 3  # engine running, alternator charging; a RUNNING segment starts with a crank


@dataclass(frozen=True, slots=True)
class Drive:
    """One use of the car, in Unix seconds: awake from key_on, engine from crank to stop.

    ``failed_cranks``: start attempts between key_on and crank that do not start the engine.
    ``restarts``: automatic stop-start (BMW MSA) restarts between crank and stop; the engine
    stopped ``restart_stop_s`` before each.
    """

    key_on: float
    crank: float
    stop: float
    key_off: float
    failed_cranks: tuple[float, ...] = ()
    restarts: tuple[float, ...] = ()
    restart_stop_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time in one vehicle state."""

    start: float
    end: float
    state: State


@dataclass(frozen=True, slots=True)
class Usage:
    """How the car is driven. Hours are UTC (treated as local time); durations in minutes."""

    weekday_departures_h: tuple[float, ...] = (7.5, 17.25)  # commute: to work and back
    departure_sd_h: float = 0.3
    drive_min: tuple[float, float] = (20.0, 40.0)
    weekend_outing_prob: float = 0.7  # chance of one outing (there and back) per weekend day
    weekend_departure_h: tuple[float, float] = (9.5, 15.0)
    weekend_drive_min: tuple[float, float] = (10.0, 45.0)
    weekend_stop_h: tuple[float, float] = (1.0, 4.0)
    # Unlocked or key-on with the engine off, before a start and after a stop (brief: 1-10 min).
    pre_start_awake_min: tuple[float, float] = (1.0, 10.0)
    post_stop_awake_min: tuple[float, float] = (1.0, 10.0)


COMMUTE = Usage()
SHORT_TRIPS = Usage(
    # School run and shopping in winter: short drives, long key-on stops with the heater on.
    weekday_departures_h=(8.0, 15.5),
    drive_min=(5.0, 9.0),
    weekend_outing_prob=0.6,
    weekend_drive_min=(5.0, 10.0),
    pre_start_awake_min=(4.0, 12.0),
    post_stop_awake_min=(4.0, 12.0),
)


def _minutes(rng: random.Random, span: tuple[float, float], skew: float = 1.0) -> float:
    """A duration in whole minutes from ``span``; ``skew`` > 1 favours the short end."""
    lo, hi = span
    return float(round(lo + (hi - lo) * rng.random() ** skew)) * MINUTE_S


def _drive(rng: random.Random, depart: float, minutes: tuple[float, float], usage: Usage) -> Drive:
    crank = round(depart / MINUTE_S) * MINUTE_S
    stop = crank + max(MINUTE_S, _minutes(rng, minutes))
    # Most people start within a minute or two of unlocking; a few sit and wait (skewed).
    pre = max(MINUTE_S, _minutes(rng, usage.pre_start_awake_min, skew=2.0))
    post = max(MINUTE_S, _minutes(rng, usage.post_stop_awake_min, skew=2.0))
    return Drive(crank - pre, crank, stop, stop + post)


def plan_drives(rng: random.Random, day0: float, days: Iterable[int], usage: Usage = COMMUTE) -> list[Drive]:
    """Drives on the given day numbers (day 0 starts at ``day0``, a UTC midnight)."""
    drives: list[Drive] = []
    for d in days:
        midnight = day0 + d * DAY_S
        weekday = datetime.fromtimestamp(midnight, UTC).weekday()
        if weekday < 5:
            for h in usage.weekday_departures_h:
                depart = midnight + (h + rng.gauss(0.0, usage.departure_sd_h)) * HOUR_S
                drives.append(_drive(rng, depart, usage.drive_min, usage))
        elif rng.random() < usage.weekend_outing_prob:
            lo, hi = usage.weekend_departure_h
            out = _drive(rng, midnight + rng.uniform(lo, hi) * HOUR_S, usage.weekend_drive_min, usage)
            back_at = out.key_off + rng.uniform(*usage.weekend_stop_h) * HOUR_S
            drives.append(out)
            drives.append(_drive(rng, back_at, usage.weekend_drive_min, usage))
    return tidy(drives)


def tidy(drives: Iterable[Drive]) -> list[Drive]:
    """Sorted drives, dropping any that would start before the previous one has gone to sleep."""
    out: list[Drive] = []
    for dr in sorted(drives, key=lambda x: x.key_on):
        if out and dr.key_on < out[-1].key_off + MIN_PARK_BETWEEN_DRIVES_S:
            continue
        out.append(dr)
    return out


def timeline(drives: Iterable[Drive], t0: float, end: float, rng: random.Random) -> list[Segment]:
    """The sequence of vehicle states from ``t0`` to ``end`` implied by the drives.

    Drives that do not fit wholly inside ``[t0, end)`` are left out. After each key-off the car
    wakes briefly at the BMW wake-up times when they fall well before the next key-on.
    """
    kept = [d for d in drives if d.key_on >= t0 and d.key_off <= end]
    segments: list[Segment] = []
    t = t0
    for i, d in enumerate(kept):
        if d.key_on > t:
            segments.append(Segment(t, d.key_on, State.ASLEEP))
        segments.append(Segment(d.key_on, d.crank, State.AWAKE))
        segments.append(Segment(d.crank, d.stop, State.RUNNING))
        segments.append(Segment(d.stop, d.key_off, State.AWAKE))
        t = d.key_off
        next_on = kept[i + 1].key_on if i + 1 < len(kept) else end
        for after in BMW_WAKEUPS_AFTER_KEY_OFF_S:
            w0 = d.key_off + after
            w1 = w0 + _minutes(rng, WAKEUP_MIN)
            if w1 + MIN_PARK_BETWEEN_DRIVES_S > next_on:
                break
            segments.append(Segment(t, w0, State.ASLEEP))
            segments.append(Segment(w0, w1, State.WAKE))
            t = w1
    if end > t:
        segments.append(Segment(t, end, State.ASLEEP))
    return segments
