"""The brain shared by the daemon and replay: readings in, records for the sinks out (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from battwatch.core.events import Event, Outbound
from battwatch.core.healthsummary import VehicleSummary
from battwatch.core.model import AlertTransition, Reading

if TYPE_CHECKING:
    from battwatch.config import Config
    from battwatch.core.analysis.analyzer import BatteryAnalyzer

__all__ = ["Event", "Outbound", "Pipeline", "build_pipeline"]


def build_pipeline(cfg: Config) -> Pipeline:
    """The same pipeline for the daemon and for replay."""
    from battwatch.core.analysis import build_analyzer

    return Pipeline(cfg.vehicle.id, build_analyzer(cfg))


class Pipeline:
    """Feeds readings through the analysis in time order; the one owner of domain state.

    The analyzer is the concrete class, not a protocol: compiled, a call to it is a direct
    C call instead of a method lookup per reading.
    """

    def __init__(self, vehicle: str, analyzer: BatteryAnalyzer | None = None) -> None:
        self.vehicle = vehicle
        self.analyzer = analyzer
        self.readings = 0
        self.last_t: float | None = None

    @property
    def analysing(self) -> bool:
        return self.analyzer is not None

    @property
    def state(self) -> str:
        """The vehicle state of the reading just handed out ("" without an analysis): it rides
        beside the reading rather than in it, so a reading costs no second object."""
        return "" if self.analyzer is None else self.analyzer.vehicle_state

    def reading(self, r: Reading) -> list[Outbound]:
        self.readings += 1
        self.last_t = r.t
        if r.vehicle is None:
            r = r._replace(vehicle=self.vehicle)
        if self.analyzer is not None:
            found = self.analyzer.feed(r)
            if found:
                return [r, *found]
        return [r]

    def link_lost(self, t: float, reason: str) -> list[Event]:
        """No data is coming (unplugged adapter, silent device): a sensor fault, not a flat battery."""
        if self.analyzer is None:
            return []
        return list(self.analyzer.link_lost(t, reason))

    def time_jump(self, t: float, delta_s: float) -> None:
        """The wall clock stepped by ``delta_s``: shift the analysis' time references with it,
        so rest windows, drain rates and trends see no hours that never passed."""
        if self.analyzer is not None:
            self.analyzer.time_jump(t, delta_s)

    def tick(self, t: float) -> list[Event]:
        if self.analyzer is None:
            return []
        return list(self.analyzer.tick(t))

    def end_of_data(self, t: float) -> list[Event]:
        """No reading will follow (a log's end): what is still open is closed and judged.
        A daemon's stop is not this: see BatteryAnalyzer.end_of_data."""
        if self.analyzer is None:
            return []
        return list(self.analyzer.end_of_data(t))

    def reminders(self) -> list[AlertTransition]:
        """Still-active alerts due for re-notification (not transitions: see docs/analysis.md)."""
        return [] if self.analyzer is None else self.analyzer.take_renotifications()

    def export_state(self) -> dict[str, Any] | None:
        """The analysis state to save across restarts (None: no analysis)."""
        return None if self.analyzer is None else self.analyzer.export_state()

    def import_state(self, saved: dict[str, Any]) -> None:
        """Carry on from a saved analysis state; ValueError, KeyError, TypeError or IndexError
        when it cannot be used."""
        if self.analyzer is not None:
            self.analyzer.import_state(saved)

    @property
    def analysed_last_t(self) -> float | None:
        """The data time the analysis has reached (restored state included)."""
        return None if self.analyzer is None else self.analyzer.last_t

    def schedule_replacement(self, battery: str, t: float, note: str) -> bool:
        """A replacement the owner recorded, applied at the first reading at or after ``t``
        (a Replaced event then); False when it changes nothing."""
        return self.analyzer is not None and self.analyzer.schedule_replacement(battery, t, note)

    def summary(self, t: float) -> VehicleSummary:
        """The typed health summary at data time ``t`` (no batteries without an analysis)."""
        if self.analyzer is None:
            return VehicleSummary(self.vehicle, t, self.readings)
        return self.analyzer.summary(t, self.vehicle, self.readings)
