"""Values that cross module boundaries: readings, device frames, link events, outbound records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from battwatch.core.healthsummary import VehicleSummary

Battery = Literal["main", "sos"]
Severity = Literal["info", "warning", "critical"]
AlertState = Literal["raised", "cleared"]
# What a transition did to its alert, in the words the text outputs print: raised (from no
# alert), escalated (to a higher severity), eased (to a lower one, still active), cleared;
# repeated: a reminder at the same severity. MQTT's `change` calls an easing "de-escalated".
Change = Literal["raised", "escalated", "eased", "repeated", "cleared"]
HealthWord = Literal["good", "attention", "action needed", "unknown"]
HEALTH_WORDS: tuple[HealthWord, ...] = ("good", "attention", "action needed", "unknown")

SEVERITY_RANK: dict[str, int] = {"info": 1, "warning": 2, "critical": 3}


def change_of(state: str, severity: str, previous: str | None) -> Change:
    """What a transition to ``state``/``severity`` did to an alert whose severity was
    ``previous`` (None: it was not active)."""
    if state == "cleared":
        return "cleared"
    if previous is None:
        return "raised"
    new, old = SEVERITY_RANK.get(severity, 0), SEVERITY_RANK.get(previous, 0)
    return "escalated" if new > old else "eased" if new < old else "repeated"


@dataclass(frozen=True, slots=True)
class Health:
    """The one-word verdict on a battery, and for "unknown" what evidence is missing.

    Made once by the analysis (battwatch.core.analysis.summary) and carried in the summary
    as ``health`` and ``health_reason``; every output formats this value, none works it out.
    """

    word: HealthWord
    reason: str | None = None  # only with "unknown": why there is no verdict

    def text(self) -> str:
        """For people: "good", "attention", "unknown: no SOS readings"."""
        return self.word if self.reason is None else f"{self.word}: {self.reason}"

    def fields(self) -> dict[str, str | None]:
        return {"health": self.word, "health_reason": self.reason}

    @staticmethod
    def of(section: Any) -> Health | None:
        """The verdict a summary section holds (None: it holds none)."""
        if not isinstance(section, Mapping):
            return None
        word = section.get("health")
        reason = section.get("health_reason")
        reason = reason if isinstance(reason, str) and reason else None
        if not isinstance(word, str):
            return None
        for known in HEALTH_WORDS:
            if word == known:
                return Health(known, reason if known == "unknown" else None)
        if word.startswith("unknown"):  # summaries stored before health_reason: "unknown (sensor fault)"
            return Health("unknown", reason or word[len("unknown"):].strip(" ()") or None)
        return None


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
    """The current health of both batteries, typed (battwatch.core.healthsummary)."""

    t: float
    vehicle: str
    data: VehicleSummary


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
    # the severity the alert had before (None: it was not active); says what the transition did
    previous: Severity | None = None

    @property
    def change(self) -> Change:
        return change_of(self.state, self.severity, self.previous)

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
            "change": self.change,
            "previous_severity": self.previous,
            "value": self.value,
            "message": self.message,
        }
