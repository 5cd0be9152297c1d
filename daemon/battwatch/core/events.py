"""What the analysis tells the outputs besides readings and alerts: starts, rests, drives, replacements."""

from __future__ import annotations

from typing import Literal, NamedTuple

from battwatch.core.model import AlertTransition, Battery, Reading
from battwatch.core.record import Record, record

# How the analysis judged a start against the load-test limit at its temperature: ok,
# below (the limit), critical (under the critical voltage, or a failed start), or not
# judged as a load test because the battery was not charged enough (low charge) or the
# engine was warm (a stop-start restart).
StartVerdict = Literal["ok", "below", "critical", "low charge", "restart"]


@record
class Start(Record):
    """An engine start, handed on once its outcome is known (VehicleTracker), as judged."""

    t: float  # the reading that holds the minimum
    vehicle: str
    min_v: float
    pre_v: float | None  # the last calm reading before it (None: none close enough)
    dip_v: float | None  # pre_v - min_v
    recovery_v: float | None  # about 10 s after it, the engine running (None: not seen, or it failed)
    temp_c: float | None
    limit_v: float  # the load-test limit at its temperature (the assumed one without a sensor)
    failed: bool  # another attempt followed with no sign of the engine running in between
    restart: bool  # a warm stop-start restart, not a start after a park
    low_charge: bool  # the last rested charge was under the load-test gate: not a load test
    verdict: StartVerdict


# A NamedTuple like Reading, not a dataclass: a parked car makes one every hour of data
# for each battery, and a tuple is several times cheaper to build in a replay.
class Rested(NamedTuple):
    """A battery's open-circuit voltage after the car rested, at most one per battery per hour."""

    t: float
    vehicle: str
    battery: Battery
    v: float
    rest_s: float  # since the last activity (the pack on its own: since it was last on charge)
    temp_c: float | None


@record
class Drive(Record):
    """A drive, closed when the engine stopped or the data ended."""

    t: float  # its end
    vehicle: str
    start: float
    duration_s: float
    avg_v: float
    max_v: float
    charged: bool  # the charging system showed itself at least once
    recovery_v: float | None  # the voltage about 10 s after the start (None: not seen)


@record
class Replaced(Record):
    """A battery replacement the analysis applied at data time ``t`` (its alerts clear after it)."""

    t: float
    vehicle: str
    battery: Battery
    fitted: float  # when the new battery was fitted (Unix s)
    note: str


Event = AlertTransition | Start | Rested | Drive | Replaced
# What the pipeline hands out: a reading (first, alone per call) and what the analysis found.
Outbound = Reading | Event
