"""Thresholds and timings of the health analysis: the ``[analysis]`` configuration section."""

from __future__ import annotations

from battwatch.configbase import Section


class AnalysisConfig(Section):
    """Every number the analysis uses, with sourced defaults (../docs/analysis.md)."""
