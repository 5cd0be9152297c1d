"""Piecewise-linear tables (x, y), as the configuration, the analysis and the simulator read them."""

from __future__ import annotations

import math

Table = tuple[tuple[float, float], ...]

# Both walk the points by index: a zip over a slice of the table cost a new tuple and an
# iterator per call, and the analysis looks the charge up for most rested readings.


def interp(table: Table, x: float) -> float:
    """y at x, linear between the points and held flat beyond the first and last."""
    x0, y0 = table[0]
    if x <= x0:
        return y0
    for i in range(1, len(table)):
        x1, y1 = table[i]
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        x0, y0 = x1, y1
    return y0


def inverse(table: Table, y: float) -> float:
    """x for a value y of a rising table (clamped to the table's ends)."""
    x0, y0 = table[0]
    if y <= y0:
        return x0
    for i in range(1, len(table)):
        x1, y1 = table[i]
        if y <= y1:
            return x0 if y1 == y0 else x0 + (x1 - x0) * (y - y0) / (y1 - y0)
        x0, y0 = x1, y1
    return x0


def band_of(table: tuple[tuple[float, float], ...], v: float) -> int:
    """The segment of the SoC table a voltage lies on (the end segments carried on beyond the ends).

    Within one segment a volt is worth the same % of charge, so rates in volts compare like with
    like there; across segments they do not (NiMH: 5 mV per % near full, 0.7 on the plateau).
    """
    i = 1
    n = len(table)
    while i < n - 1 and v > table[i][0]:
        i += 1
    return i - 1


def v_per_pct(table: tuple[tuple[float, float], ...], band: int) -> float:
    (x0, y0), (x1, y1) = table[band], table[band + 1]
    return (x1 - x0) / (y1 - y0) if y1 > y0 else math.inf
