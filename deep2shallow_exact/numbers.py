"""Exact rationals and the extended rationals Q ∪ {−∞, +∞} (DESIGN section 1).

Rationals are :class:`fractions.Fraction`. The two infinities are the singletons
:data:`POS_INF` and :data:`NEG_INF`; an *extended* number is either.

A number written as text is read with the trusted kernel's grammar
(:func:`~deep2shallow_exact.kernel.parse_number`), and nothing else: what a file says is read
the same way by the package and by the kernel that checks its certificates.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

from . import kernel
from .errors import InputError, UndefinedError


@dataclass(frozen=True)
class Infinity:
    """+∞ (sign 1) or −∞ (sign −1)."""

    sign: int

    def __neg__(self) -> Infinity:
        return NEG_INF if self.sign > 0 else POS_INF

    def __repr__(self) -> str:
        return "inf" if self.sign > 0 else "-inf"


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


# The kernel's spellings of the infinities (kernel._number), and no others.
_INFINITIES = {"inf": POS_INF, "+inf": POS_INF, "-inf": NEG_INF}


def parse_extended(text: object, where: str) -> Extended:
    """Read a number of the network format: integer, "p/q", decimal, "inf", "+inf" or "-inf".

    Text follows the kernel's grammar exactly (ASCII digits; no spaces, underscores or other
    spellings of infinity; exponents within ±kernel.MAX_EXPONENT). Python and NumPy integers,
    Fractions and finite floats handed in through the API are read as the exact values they
    are (a float is its binary value; JSON numbers never arrive as floats)."""
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
        infinity = _INFINITIES.get(text)
        if infinity is not None:
            return infinity
        value = kernel.parse_number(text)
        if value is None:
            raise InputError(f"{where}: {_refusal(text)}")
        return value
    raise InputError(f"{where}: {text!r} is not a number")


_NUMBER_CHARACTERS = frozenset("0123456789+-/.eE")


def _refusal(text: str) -> str:
    """Why ``text``, refused by kernel.parse_number, is not a number (one line, short)."""
    shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "…"
    # Well formed, yet refused: say which bound it passes. (The character test first spares
    # most refusals a second run of the kernel's regex.)
    if set(text) <= _NUMBER_CHARACTERS and kernel.NUMBER.fullmatch(text):
        mantissa, _, exponent = text.lower().partition("e")
        digits = exponent.lstrip("+-").lstrip("0")  # no int(): it may have 10**5 digits
        if len(digits) > len(str(kernel.MAX_EXPONENT)) or int(digits or 0) > kernel.MAX_EXPONENT:
            return f"{shown} has an exponent beyond ±{kernel.MAX_EXPONENT}"
        if "/" in mantissa and not mantissa.partition("/")[2].strip("0"):
            return f"{shown} is not a rational number (its denominator is 0)"
        return f"{shown} is not a rational number this tool reads (too many digits)"
    if text.strip().lower().lstrip("+-").strip() in ("inf", "infinity"):
        return f'{shown} is not a number: write an infinity as "inf", "+inf" or "-inf"'
    return (f"{shown} is not a rational number (an integer, \"p/q\" or a decimal such as "
            "-1.25e-3, in ASCII digits without spaces or underscores)")


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
