"""The brain shared by the daemon and replay: readings in, records for the sinks out (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from battwatch.core.healthsummary import VehicleSummary
from battwatch.core.model import AlertTransition, Reading

if TYPE_CHECKING:
    from battwatch.core.analysis.analyzer import BatteryAnalyzer

Outbound = Reading | AlertTransition


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

    def link_lost(self, t: float, reason: str) -> list[Outbound]:
        """No data is coming (unplugged adapter, silent device): a sensor fault, not a flat battery."""
        if self.analyzer is None:
            return []
        return list(self.analyzer.link_lost(t, reason))

    def time_jump(self, t: float, delta_s: float) -> None:
        """The wall clock stepped by ``delta_s``: shift the analysis' time references with it,
        so rest windows, drain rates and trends see no hours that never passed."""
        if self.analyzer is not None:
            self.analyzer.time_jump(t, delta_s)

    def tick(self, t: float) -> list[Outbound]:
        if self.analyzer is None:
            return []
        return list(self.analyzer.tick(t))

    def end_of_data(self, t: float) -> list[Outbound]:
        """No reading will follow (a log's end): what is still open is closed and judged.
        A daemon's stop is not this: see BatteryAnalyzer.end_of_data."""
        if self.analyzer is None:
            return []
        return list(self.analyzer.end_of_data(t))

    def reminders(self) -> list[AlertTransition]:
        """Still-active alerts due for re-notification (not transitions: see docs/analysis.md)."""
        return [] if self.analyzer is None else self.analyzer.take_renotifications()

    def summary(self, t: float) -> VehicleSummary:
        """The typed health summary at data time ``t`` (no batteries without an analysis)."""
        if self.analyzer is None:
            return VehicleSummary(self.vehicle, t, self.readings)
        return self.analyzer.summary(t, self.vehicle, self.readings)
