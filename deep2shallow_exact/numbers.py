"""Exact rationals and the extended rationals Q ∪ {−∞, +∞} (DESIGN section 1).

Rationals are :class:`fractions.Fraction`. The two infinities are the singletons
:data:`POS_INF` and :data:`NEG_INF`; an *extended* number is either.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from fractions import Fraction

from .errors import InputError, UndefinedError


@dataclass(frozen=True)
class Infinity:
    """+∞ (sign 1) or −∞ (sign −1)."""

    sign: int

    def __neg__(self) -> Infinity:
        return NEG_INF if self.sign > 0 else POS_INF

    def __repr__(self) -> str:
        return "inf" if self.sign > 0 else "-inf"


# Fraction("1e-100000000") would build a hundred-million-digit integer before failing.
MAX_EXPONENT = 10_000
_EXPONENT = re.compile(r"[eE]\s*([+-]?\d+)\s*$")

POS_INF = Infinity(1)
NEG_INF = Infinity(-1)

Extended = Fraction | Infinity


def is_infinite(value: Extended) -> bool:
    return isinstance(value, Infinity)


def sign(value: Extended) -> int:
    if isinstance(value, Infinity):
        return value.sign
    return (value > 0) - (value < 0)


def parse_rational(text: object, where: str) -> Fraction:
    """Read an integer, a "p/q" string or an exact decimal; ``where`` names the field."""
    value = parse_extended(text, where)
    if isinstance(value, Infinity):
        raise InputError(f"{where}: infinite entry {text!r} where a finite number is required")
    return value


def parse_extended(text: object, where: str) -> Extended:
    """Read a number of the network format: integer, "p/q", decimal, "inf" or "-inf"."""
    if isinstance(text, bool):
        raise InputError(f"{where}: {text!r} is not a number")
    if isinstance(text, Infinity):
        return text
    if isinstance(text, numbers.Rational):  # int, Fraction, NumPy integers
        return Fraction(int(text.numerator), int(text.denominator))
    if isinstance(text, float):
        # Only reached for floats handed in by the API; JSON numbers never arrive as floats.
        if text != text or text in (float("inf"), float("-inf")):
            raise InputError(f"{where}: {text!r} is not a rational number")
        return Fraction(text)
    if isinstance(text, str):
        stripped = text.strip()
        lowered = stripped.lower()
        if lowered in ("inf", "+inf", "infinity", "+infinity"):
            return POS_INF
        if lowered in ("-inf", "-infinity"):
            return NEG_INF
        exponent = _EXPONENT.search(stripped)
        if exponent and abs(int(exponent.group(1))) > MAX_EXPONENT:
            raise InputError(f"{where}: {text!r} has an exponent beyond ±{MAX_EXPONENT}")
        try:
            return Fraction(stripped)
        except (ValueError, ZeroDivisionError):
            raise InputError(f"{where}: {text!r} is not a rational number") from None
    raise InputError(f"{where}: {text!r} is not a number")


def format_number(value: Extended) -> str:
    """The canonical text of a number: "p/q", "p", "inf" or "-inf"."""
    if isinstance(value, Infinity):
        return repr(value)
    return str(value)


def ext_add(a: Extended, b: Extended, where: str) -> Extended:
    if isinstance(a, Infinity):
        if isinstance(b, Infinity) and b.sign != a.sign:
            raise UndefinedError(f"{where}: ∞ − ∞ is undefined")
        return a
    if isinstance(b, Infinity):
        return b
    return a + b


def ext_mul(a: Extended, b: Extended) -> Extended:
    """Product with 0 · (±∞) = 0."""
    sa, sb = sign(a), sign(b)
    if sa == 0 or sb == 0:
        return Fraction(0)
    if isinstance(a, Infinity) or isinstance(b, Infinity):
        return POS_INF if sa * sb > 0 else NEG_INF
    return a * b


def ext_relu(a: Extended) -> Extended:
    if isinstance(a, Infinity):
        return a if a.sign > 0 else Fraction(0)
    return a if a > 0 else Fraction(0)
