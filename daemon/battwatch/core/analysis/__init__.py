"""Battery health analysis: vehicle state, per-battery rules and the alert engine (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from battwatch.config import Config
    from battwatch.core.analysis.analyzer import BatteryAnalyzer


def build_analyzer(cfg: Config, *, record: bool = False) -> BatteryAnalyzer:
    """The analyzer for a configuration; ``record`` keeps full histories for ``battwatch report``."""
    from battwatch.core.analysis.analyzer import BatteryAnalyzer

    return BatteryAnalyzer(cfg, record=record)
