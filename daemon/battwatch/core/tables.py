"""Piecewise-linear tables (x, y), as the configuration, the analysis and the simulator read them."""

from __future__ import annotations

Table = tuple[tuple[float, float], ...]


def interp(table: Table, x: float) -> float:
    """y at x, linear between the points and held flat beyond the first and last."""
    if x <= table[0][0]:
        return table[0][1]
    for (x0, y0), (x1, y1) in zip(table, table[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return table[-1][1]


def inverse(table: Table, y: float) -> float:
    """x for a value y of a rising table (clamped to the table's ends)."""
    if y <= table[0][1]:
        return table[0][0]
    for (x0, y0), (x1, y1) in zip(table, table[1:], strict=False):
        if y <= y1:
            return x0 if y1 == y0 else x0 + (x1 - x0) * (y - y0) / (y1 - y0)
    return table[-1][0]
