"""The owner's health line in the log: each battery's verdict, the active alerts, the link; every few hours of data."""

from __future__ import annotations

from typing import Any

from battwatch.core.healthsummary import VehicleSummary

HEALTH_LOG_S = 6 * 3600.0  # a health line in the log this often, in data time (wakes and sleeps: debug)


def health_line(summary: VehicleSummary, link: dict[str, Any]) -> str:
    """One log line for the owner: each battery's verdict and rested voltage, the active
    alerts, and the serial link's counts."""
    parts = []
    for b in summary.batteries():
        text = f"{'12 V' if b.battery == 'main' else 'SOS'} {b.health.word}"
        if b.rested_voltage is not None:
            text += f", rested {b.rested_voltage:.2f} V" + ("" if b.soc_pct is None else f" ({b.soc_pct} %)")
        parts.append(text)
    alerts = [f"{b.battery}/{a.alert} {a.severity}" for b in summary.batteries() for a in b.alerts]
    frames = link.get("frames", 0)
    lost = link.get("lost_frames", 0)
    return (f"health: {'; '.join(parts) or 'no readings analysed yet'}; "
            f"alerts: {', '.join(alerts) if alerts else 'none'}; link: {frames:,} frames, {lost:,} lost")


class HealthSchedule:
    """When the next health line is due, in data time: ``every_s`` after the first reading,
    then every ``every_s`` (so a replayed or accelerated run logs as often per day of data)."""

    def __init__(self, every_s: float = HEALTH_LOG_S) -> None:
        self.every_s = every_s
        self.next_t: float | None = None

    def due(self, t: float) -> bool:
        if self.next_t is None:
            self.next_t = t + self.every_s
            return False
        if t < self.next_t:
            return False
        self.next_t = t + self.every_s
        return True
