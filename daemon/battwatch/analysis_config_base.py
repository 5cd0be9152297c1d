"""The pieces every part of the ``[analysis]`` section is built from: units, debounces, levels."""

from __future__ import annotations

from typing import Annotated

from battwatch.configbase import Check, Range, Section, section
from battwatch.core.tables import Table

# Every default below carries its source: [SRC n] is listed in docs/sources.md, a dotted §
# mark names the section of the team's working notes it came from (docs/sources.md explains),
# [ENG] marks an engineering choice to tune with real data. docs/analysis.md lists them all
# with the reasoning.

Volts = Annotated[float, Range(ge=0.0, le=40.0)]
Seconds = Annotated[float, Range(ge=0.0, le=400 * 86400.0)]
Count = Annotated[int, Range(ge=1, le=1000)]

H = 3600.0
DAY = 86400.0


def table_check(what: str) -> Check:
    """The rule of a lookup table: two points or more, the first column rising, the second never falling."""

    def rule(v: Table) -> None:
        if len(v) < 2:
            raise ValueError(f"{what} needs at least two points")
        xs = [p[0] for p in v]
        ys = [p[1] for p in v]
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError(f"{what}: the first column must rise strictly")
        if any(b < a for a, b in zip(ys, ys[1:], strict=False)):
            raise ValueError(f"{what}: the second column must not fall")

    return Check(rule)


# the subclasses of CellLimits declare their own default, so the rule lives in the type
SocTable = Annotated[Table, table_check("soc_table")]
TempCoeff = Annotated[float, Range(ge=-0.01, le=0.01)]


@section
class Debounce(Section):
    """How long a condition must hold before an alert changes (data time)."""

    for_s: Seconds = 0.0  # the condition held this long before raising or escalating
    for_n: Count = 1  # ... and over at least this many observations
    clear_for_s: Seconds = 0.0  # the clear condition held this long before clearing/de-escalating
    clear_for_n: Count = 1


def below_order(
    info: float | None, info_clear: float | None, warn: float, warn_clear: float, crit: float, crit_clear: float
) -> None:
    """The levels of a 'too low' alert: enter below X, clear above X_clear."""
    if not crit < warn:
        raise ValueError(f"crit_v ({crit}) must be below warn_v ({warn})")
    if not warn_clear > warn:
        raise ValueError(f"warn_clear_v ({warn_clear}) must be above warn_v ({warn})")
    if not crit_clear > crit:
        raise ValueError(f"crit_clear_v ({crit_clear}) must be above crit_v ({crit})")
    if (info is None) != (info_clear is None):
        raise ValueError("info_v and info_clear_v go together")
    if info is not None and info_clear is not None:
        if not info > warn:
            raise ValueError(f"info_v ({info}) must be above warn_v ({warn})")
        if not info_clear > info:
            raise ValueError(f"info_clear_v ({info_clear}) must be above info_v ({info})")


@section
class BelowLevels(Section):
    """Levels of a 'too low' alert: enter below X, clear above X_clear (X_clear > X)."""

    info_v: Volts | None = None
    info_clear_v: Volts | None = None
    warn_v: Volts
    warn_clear_v: Volts
    crit_v: Volts
    crit_clear_v: Volts

    def check(self) -> None:
        below_order(self.info_v, self.info_clear_v, self.warn_v, self.warn_clear_v, self.crit_v, self.crit_clear_v)
