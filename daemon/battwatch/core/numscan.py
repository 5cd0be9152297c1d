"""A decimal number read where it lies in a CSV line, exactly as float() reads it (pure)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_extensions import i64  # a machine integer compiled, an annotation only otherwise

# The exact float of "d.ddd" is d.ddd's digits as a whole number over a power of ten when
# both are exact doubles (below 2**53 and at most 1e22): IEEE division rounds once, as
# float() does. Up to 15 digits keeps every such number exact.
_MAX_DIGITS: Final = 15


def scan_number(s: str, i: i64, n: i64) -> tuple[float, i64]:
    """The number written from s[i] up to the next comma (or s[n]) as ``[-]digits[.digits]``,
    exactly float()'s, and the index where it ends; (nan, that index) for an empty field,
    (nan, -1) for one written otherwise (an exponent, a space, more than 15 digits)."""
    neg = i < n and ord(s[i]) == 45  # "-"
    k: i64 = i + 1 if neg else i
    m: i64 = 0
    digits: i64 = 0
    point: i64 = -1  # digits after the decimal point; -1 before one
    while k < n:
        c: i64 = ord(s[k])
        if 48 <= c <= 57:
            digits += 1
            if digits > _MAX_DIGITS:
                return math.nan, -1  # before m could outgrow 64 bits
            m = m * 10 + c - 48
            if point >= 0:
                point += 1
        elif c == 46 and point < 0:  # "."
            point = 0
        elif c == 44:  # ","
            break
        else:
            return math.nan, -1
        k += 1
    if digits == 0:
        return math.nan, (k if k == i else -1)  # an empty field, or a sign or point alone
    v = float(m)
    if point > 0:
        scale = 10.0
        while point > 1:  # a power of ten up to 1e15: every step exact
            scale *= 10.0
            point -= 1
        v /= scale
    return (-v if neg else v), k
