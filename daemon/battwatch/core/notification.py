"""What the owner's phone shows of an alert transition: title, short text, tag and priority (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from battwatch.core.model import AlertTransition, Change

# What a phone's lock screen and notification shade show of a title and its text together
# before "more": about 180 characters (docs/mqtt.md "Notification"). The full message rides
# along for the expanded view.
NOTIFY_MAX_CHARS: Final = 180
TITLE_CAR_MAX: Final = 40  # a long model name is cut (at a word) before the text is
BATTERY_WORDS: Final = {"main": "12 V battery", "sos": "SOS backup battery"}
ELLIPSIS: Final = "…"

Priority = Literal["low", "default", "high"]
Interruption = Literal["passive", "active", "time-sensitive"]
# info is never urgent; a warning shows at once; a critical breaks through Focus modes
PRIORITY: Final[dict[str, tuple[Priority, Interruption]]] = {
    "info": ("low", "passive"),
    "warning": ("default", "active"),
    "critical": ("high", "time-sensitive"),
}
ALL_CLEAR: Final[tuple[Priority, Interruption]] = ("low", "passive")

# alerts about the set-up, not the battery: their title says so, or an owner reads "Warning:
# 12 V battery" as a weak battery
SETUP_ALERTS: Final = frozenset({"config_mismatch"})
_LEAD: Final[dict[str, str]] = {
    "raised": "", "escalated": "Now ", "eased": "Eased to ", "refreshed": "Still ", "cleared": "",
}


@dataclass(frozen=True, slots=True)
class Notification:
    """One push to a phone. ``tag`` is one per car, battery and alert: a newer push of the same
    alert replaces the older one, and never one of another alert."""

    title: str
    text: str
    full: str  # the whole message, for the expanded view
    tag: str
    priority: Priority
    interruption: Interruption
    change: Change
    severity: str

    def fields(self) -> dict[str, str]:
        return {
            "title": self.title, "message": self.text, "full_message": self.full, "tag": self.tag,
            "priority": self.priority, "interruption_level": self.interruption,
            "change": self.change, "severity": self.severity,
        }


def car_name(vehicle: str, model: str | None) -> str:
    """How the owner names the car: its model ("BMW X1 F48") when configured, else its id."""
    return cut(model.strip(), TITLE_CAR_MAX) if model and model.strip() else vehicle


def cut(text: str, limit: int) -> str:
    """``text`` if it fits ``limit`` characters, else cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    room = text[: max(1, limit - len(ELLIPSIS))]
    head = room.rsplit(" ", 1)[0] if " " in room else room
    return head.rstrip(" ,;:.-(") + ELLIPSIS


def tag(tr: AlertTransition) -> str:
    return f"battwatch-{tr.vehicle}-{tr.battery}-{tr.alert}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?", ELLIPSIS)) else text + "."


def _lower_first(text: str) -> str:
    """"Rested at ..." after a colon reads "rested at ..."; "SOS ..." or "12 V ..." stay."""
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first[:1].isupper() and first[1:] == first[1:].lower() else text


def notification(tr: AlertTransition, car: str) -> Notification:
    """The push for transition ``tr`` of car ``car`` (see ``car_name``).

    Title: how bad, which battery in words, which car; for a problem of the set-up rather
    than the battery, "Set-up problem (warning)". Text: the alert, its key measurement
    against its limit, and what to do with its cost; when that does not fit NOTIFY_MAX_CHARS
    with the title, the alert's name goes first, then the cost's wording, and only then is the
    measurement cut, at a word. A recovery is a short all-clear.
    """
    change = tr.change
    battery = BATTERY_WORDS.get(tr.battery, tr.battery)
    alert = tr.alert.replace("_", " ")
    headline = (tr.headline or alert).strip().rstrip(".")
    if change == "cleared":
        title = f"All clear: {battery}, {car}"
        pri: tuple[Priority, Interruption] = ALL_CLEAR
        tail = ""
    else:
        how = f"set-up problem ({tr.severity})" if tr.alert in SETUP_ALERTS else tr.severity
        title = f"{_LEAD.get(change, '')}{how}: {battery}, {car}"
        title = title[:1].upper() + title[1:]
        pri = PRIORITY.get(tr.severity, PRIORITY["warning"])
        tail = tr.action.strip().rstrip(".")
    room = NOTIFY_MAX_CHARS - len(title)
    name = f"{alert[:1].upper()}{alert[1:]}"
    options: list[str] = []
    if tail and tr.cost:
        short = tr.cost.replace("typically ", "")
        options += [f"{name}: {_lower_first(headline)}. {tail} ({tr.cost}).",
                    f"{name}: {_lower_first(headline)}. {tail} ({short}).",
                    f"{_sentence(headline)} {tail} ({short})."]
    if tail:
        options += [f"{name}: {_lower_first(headline)}. {tail}.", f"{_sentence(headline)} {tail}."]
    else:
        options += [f"{name}: {_lower_first(headline)}.", _sentence(headline)]
    text = next((o for o in options if len(o) <= room), "")
    if not text:
        # the action is kept whole; the measurement gives way, cut at a word
        end = f" {tail}." if tail else ""
        text = cut(headline, max(12, room - len(end) - 1)) + end
        text = cut(text, room)
    return Notification(title, text, " ".join(tr.message.split()), tag(tr), pri[0], pri[1], change, tr.severity)


def replaced_notification(vehicle: str, battery: str, day: str, car: str) -> Notification:
    """The push when a replacement is applied: its alerts are cleared, the new battery counts afresh."""
    words = BATTERY_WORDS.get(battery, battery)
    return Notification(
        f"Replaced: {words}, {car}", f"Recorded as fitted on {day}: its alerts are cleared and its age, "
        "trend and baselines start afresh.", f"The {words} was replaced on {day}.",
        f"battwatch-{vehicle}-{battery}-replaced", ALL_CLEAR[0], ALL_CLEAR[1], "cleared", "info")
