"""Battery health analysis: vehicle state, per-battery rules and the alert engine (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from battwatch.config import Config
    from battwatch.core.pipeline import Analyzer


def build_analyzer(cfg: Config) -> Analyzer | None:
    """The analyzer for a configuration (none yet: alerts arrive with the health issue)."""
    return None
