"""Values that cross module boundaries: readings, device frames, link events, outbound records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

Battery = Literal["main", "sos"]
Severity = Literal["info", "warning", "critical"]
AlertState = Literal["raised", "cleared"]

SEVERITY_RANK: dict[str, int] = {"info": 1, "warning": 2, "critical": 3}


# Readings are NamedTuples, not dataclasses: replay builds one per CSV row and a tuple is
# several times cheaper to create than a frozen dataclass.
class Reading(NamedTuple):
    """One window of both channels, calibrated, in volts, stamped at the window's end."""

    t: float  # Unix seconds (UTC) at the end of the window
    main_v: float | None  # window average of the 12 V battery
    main_min_v: float | None  # lowest sample in the window (keeps a crank dip)
    main_max_v: float | None
    sos_v: float | None  # window average of the SOS backup pack
    sos_min_v: float | None
    sos_max_v: float | None
    temp_c: float | None = None
    window_s: float = 0.0  # 0 when the source does not say (a CSV row)
    vehicle: str | None = None
    flags: int = 0  # device flags (fast mode, saturation); 0 for CSV rows


class Frame(NamedTuple):
    """A ``BWD`` data frame as sent by the device: raw millivolts, before calibration."""

    seq: int
    uptime_ms: int
    window_ms: int
    main_avg_mv: int | None
    main_min_mv: int | None
    main_max_mv: int | None
    sos_avg_mv: int | None
    sos_min_mv: int | None
    sos_max_mv: int | None
    temp_dc: int | None  # tenths of a degree Celsius
    flags: int


FLAG_FAST = 0x01
FLAG_MAIN_SATURATED = 0x02
FLAG_SOS_SATURATED = 0x04
FLAG_BOOT = 0x08
FLAG_BUFFERED = 0x10


@dataclass(frozen=True, slots=True)
class Hello:
    """A ``BWH`` frame: who the device is."""

    proto: int
    firmware: str
    board: str
    adc_bits: int
    rate_hz: float
    uptime_ms: int


@dataclass(frozen=True, slots=True)
class DeviceTime:
    """A ``BWT`` frame: the device's own clock at a given uptime."""

    uptime_ms: int
    unix_ms: int


@dataclass(frozen=True, slots=True)
class Ack:
    """A ``BWA`` frame: the device's answer to a command."""

    command: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Command:
    """A ``BWC`` command from the Pi to the device."""

    name: str
    args: tuple[str, ...] = ()


DeviceMessage = Frame | Hello | DeviceTime | Ack


@dataclass(frozen=True, slots=True)
class LinkUp:
    """The serial link is open again."""

    t: float
    port: str


@dataclass(frozen=True, slots=True)
class LinkDown:
    """The serial link closed (unplugged adapter, device gone) or stayed silent too long."""

    t: float
    reason: str
    silent: bool = False  # True: the port is open but no valid frame arrived in time


@dataclass(frozen=True, slots=True)
class Tick:
    """Periodic housekeeping (retention, summaries); carries the time it stands for."""

    t: float


@dataclass(frozen=True, slots=True)
class HealthSummary:
    """The current health of both batteries (see battwatch.core.analysis.summary)."""

    t: float
    vehicle: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """An alert was raised, escalated, de-escalated or cleared: the JSONL replay contract."""

    t: float
    vehicle: str
    battery: Battery
    alert: str
    severity: Severity
    state: AlertState
    value: float | None
    message: str

    def to_json_dict(self) -> dict[str, object]:
        """The object printed by ``battwatch replay --jsonl``."""
        from battwatch.core.timefmt import iso_utc

        return {
            "time": iso_utc(self.t),
            "vehicle": self.vehicle,
            "battery": self.battery,
            "alert": self.alert,
            "severity": self.severity,
            "state": self.state,
            "value": self.value,
            "message": self.message,
        }
