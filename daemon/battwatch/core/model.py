"""Values that cross module boundaries: readings, device frames, link events, outbound records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from battwatch.core.record import Record, record

if TYPE_CHECKING:
    from battwatch.core.healthsummary import VehicleSummary

Battery = Literal["main", "sos"]
Severity = Literal["info", "warning", "critical"]
AlertState = Literal["raised", "cleared"]
# What a transition did to its alert, in the words the text outputs print: raised (from no
# alert), escalated (to a higher severity), eased (to a lower one, still active), cleared;
# refreshed: a reminder that it is still active at the same severity. MQTT's `change` calls
# an easing "de-escalated" (docs/mqtt.md promised that word).
Change = Literal["raised", "escalated", "eased", "refreshed", "cleared"]
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
    return "escalated" if new > old else "eased" if new < old else "refreshed"


@record
class Health(Record):
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


@record
class Hello(Record):
    """A ``BWH`` frame: who the device is."""

    proto: int
    firmware: str
    board: str
    adc_bits: int
    rate_hz: float
    uptime_ms: int


@record
class DeviceTime(Record):
    """A ``BWT`` frame: the device's own clock at a given uptime."""

    uptime_ms: int
    unix_ms: int


@record
class Ack(Record):
    """A ``BWA`` frame: the device's answer to a command."""

    command: str
    ok: bool
    detail: str = ""


@record
class Command(Record):
    """A ``BWC`` command from the Pi to the device."""

    name: str
    args: tuple[str, ...] = ()


DeviceMessage = Frame | Hello | DeviceTime | Ack


@record
class LinkUp(Record):
    """The serial link is open again."""

    t: float
    port: str


@record
class LinkDown(Record):
    """The serial link closed (unplugged adapter, device gone) or stayed silent too long."""

    t: float
    reason: str
    silent: bool = False  # True: the port is open but no valid frame arrived in time


@record
class Tick(Record):
    """Periodic housekeeping (retention, summaries); carries the time it stands for."""

    t: float


@record
class HealthSummary(Record):
    """The current health of both batteries, typed (battwatch.core.healthsummary)."""

    t: float
    vehicle: str
    data: VehicleSummary


@record
class Facts(Record):
    """What was measured, as numbers: each output formats these, none parses them from text.

    Field names end in their unit (docs/mqtt.md "Payloads"); None: not measured for this alert.
    """

    temp_c: float | None = None  # battery temperature at the measurement
    corrected_v: float | None = None  # the value brought to ``corrected_to_c``
    corrected_to_c: float | None = None
    per_cell_v: float | None = None
    soc_pct: float | None = None
    rate_mv_per_day: float | None = None  # a trend's slope (negative: falling)
    crossing_date: str | None = None  # when the trend reaches the next limit (YYYY-MM-DD)
    span_h: float | None = None  # how long the evidence covers (a rest, a park, a drive)
    age_years: float | None = None
    drop_v: float | None = None
    current_a: float | None = None

    def as_dict(self) -> dict[str, float | str]:
        """The measured fields only, in declaration order."""
        out: dict[str, float | str] = {}
        for name in FACT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


FACT_FIELDS: tuple[str, ...] = (
    "temp_c", "corrected_v", "corrected_to_c", "per_cell_v", "soc_pct", "rate_mv_per_day",
    "crossing_date", "span_h", "age_years", "drop_v", "current_a",
)
NO_FACTS = Facts()


@record
class AlertTransition(Record):
    """An alert was raised, escalated, eased, refreshed (a reminder) or cleared.

    Every word an output shows is here, made once by the analysis
    (battwatch.core.analysis.briefs and .messages): ``headline`` (the measurement against its
    limit, a few words), ``action`` and ``cost`` (what to do, what it costs), ``facts`` (the
    numbers) and ``message`` (the full text). The JSONL replay contract.
    """

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
    headline: str = ""  # "rested at 4.71 V, below the 4.88 V warning level"
    action: str = ""  # "Plan a replacement of the SOS backup battery"; "" for none
    cost: str = ""  # "typically $150-300"; "" when no repair is involved
    since: float | None = None  # when the alert was raised (None: at ``t``)
    limit: float | None = None  # the level ``value`` was judged against, in its unit
    facts: Facts = NO_FACTS
    refreshed: bool = False  # a reminder: nothing changed, the alert is still active

    @property
    def change(self) -> Change:
        if self.refreshed and self.state == "raised":
            return "refreshed"
        return change_of(self.state, self.severity, self.previous)

    @property
    def raised_at(self) -> float:
        return self.t if self.since is None else self.since

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
            "since": None if self.since is None else iso_utc(self.since),
            "value": self.value,
            "limit": self.limit,
            "headline": self.headline,
            "action": self.action,
            "cost": self.cost,
            "facts": self.facts.as_dict(),
            "message": self.message,
        }


def transition_words(d: Mapping[str, Any]) -> dict[str, Any]:
    """The typed words of a transition read back from ``to_json_dict``'s form (absent in logs
    written before they existed: the defaults), as keyword arguments of AlertTransition."""
    from datetime import datetime

    def text(key: str) -> str:
        v = d.get(key)
        return v if isinstance(v, str) else ""

    def number(v: Any) -> float | None:
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    since = d.get("since")
    try:
        since_t = datetime.fromisoformat(since).timestamp() if isinstance(since, str) else None
    except ValueError:
        since_t = None
    raw = d.get("facts")
    facts: dict[str, Any] = {}
    if isinstance(raw, Mapping):
        for name in FACT_FIELDS:
            v = raw.get(name)
            if name == "crossing_date":
                facts[name] = v if isinstance(v, str) else None
            else:
                facts[name] = number(v)
    return {"headline": text("headline"), "action": text("action"), "cost": text("cost"), "since": since_t,
            "limit": number(d.get("limit")), "facts": Facts(**facts) if facts else NO_FACTS,
            "refreshed": d.get("change") == "refreshed"}
