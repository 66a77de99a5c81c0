"""Affine functions x ↦ a·x + c over the rationals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from .numbers import format_number, parse_rational

_ZERO = Fraction(0)


@dataclass(frozen=True)
class Affine:
    """x ↦ coeffs · x + const."""

    coeffs: tuple[Fraction, ...]
    const: Fraction

    @staticmethod
    def constant(n: int, value: Fraction | int) -> Affine:
        return Affine((_ZERO,) * n, Fraction(value))

    @staticmethod
    def coordinate(n: int, i: int) -> Affine:
        return Affine(tuple(Fraction(int(j == i)) for j in range(n)), _ZERO)

    @staticmethod
    def of(coeffs: Sequence[Fraction | int], const: Fraction | int) -> Affine:
        return Affine(tuple(Fraction(c) for c in coeffs), Fraction(const))

    def __str__(self) -> str:
        return formula(self)

    def __reduce__(self) -> tuple:
        # Pickled (to worker processes) without the cached forms, which are rebuilt on demand.
        return Affine, (self.coeffs, self.const)

    def to_row(self) -> list[str]:
        """The file form [a_1, ..., a_n, c] of certificates, checkpoints and domains."""
        return [format_number(a) for a in (*self.coeffs, self.const)]

    @staticmethod
    def from_row(row: Sequence[object], where: str) -> Affine:
        """Inverse of :meth:`to_row`; every entry must be a rational."""
        values = [parse_rational(v, where) for v in row]
        return Affine(tuple(values[:-1]), values[-1])

    @property
    def dim(self) -> int:
        return len(self.coeffs)

    def __call__(self, x: Sequence[Fraction]) -> Fraction:
        return self.const + sum((a * v for a, v in zip(self.coeffs, x) if a), _ZERO)

    def __add__(self, other: Affine) -> Affine:
        return Affine(tuple(a + b for a, b in zip(self.coeffs, other.coeffs)),
                      self.const + other.const)

    def __sub__(self, other: Affine) -> Affine:
        return Affine(tuple(a - b for a, b in zip(self.coeffs, other.coeffs)),
                      self.const - other.const)

    def __neg__(self) -> Affine:
        return self._negated

    @cached_property
    def _negated(self) -> Affine:
        # Kept, and linked back, so that ±f stay the same two objects: the search negates
        # the same split functions over and over, and caches converted rows by object.
        negated = Affine(tuple(-a for a in self.coeffs), -self.const)
        negated.__dict__["_negated"] = self
        return negated

    def scale(self, factor: Fraction | int) -> Affine:
        return Affine(tuple(a * factor for a in self.coeffs), self.const * factor)

    @property
    def is_constant(self) -> bool:
        return self._is_constant

    @cached_property
    def _is_constant(self) -> bool:
        return not any(self.coeffs)

    @property
    def is_zero(self) -> bool:
        return self.is_constant and self.const == 0

    def __hash__(self) -> int:
        return self._hash

    @cached_property
    def _hash(self) -> int:
        # Hashing Fractions is slow and the search looks the same functions up again and again.
        return hash((self.coeffs, self.const))

    def direction(self) -> tuple[tuple[int, ...], int]:
        """(key, s) with s = ±1 such that two non-constant functions share a key exactly when
        each is a nonzero multiple of the other, and then s · f is a positive multiple of the
        same function for both: a sign known for one gives the sign of the other."""
        return self._direction

    @cached_property
    def _direction(self) -> tuple[tuple[int, ...], int]:
        # Integers, not Fractions: the search asks for keys constantly, and the integer form
        # hashes and compares far faster.
        ints = self.integers()
        s = -1 if next((a for a in ints[:-1] if a), 1) < 0 else 1
        return (ints if s > 0 else tuple(-a for a in ints)), s

    def integers(self) -> tuple[int, ...]:
        """Coprime integers (a_1, …, a_n, c) that are a positive multiple of (coeffs, const)."""
        return self._integers

    @cached_property
    def _integers(self) -> tuple[int, ...]:
        values = (*self.coeffs, self.const)
        lcm = math.lcm(*(v.denominator for v in values))
        ints = [v.numerator * (lcm // v.denominator) for v in values]
        g = math.gcd(*ints) or 1
        return tuple(v // g for v in ints)


Scaled = tuple[tuple[int, ...], int]
"""A rational point as integer numerators over one positive common denominator."""


def scaled(point: Sequence[Fraction]) -> Scaled:
    denominator = math.lcm(*(v.denominator for v in point))
    return tuple(v.numerator * (denominator // v.denominator) for v in point), denominator


def sign_at(f: Affine, point: Scaled) -> int:
    """The sign of f at a scaled point, in integer arithmetic (Fractions are slow here)."""
    numerators, denominator = point
    ints = f.integers()
    value = ints[-1] * denominator + sum(a * p for a, p in zip(ints, numerators) if a)
    return (value > 0) - (value < 0)


def primitive(f: Affine) -> Affine:
    """f scaled by a positive factor to coprime integer coefficients (sign-preserving)."""
    ints = f.integers()
    return Affine(tuple(map(Fraction, ints[:-1])), Fraction(ints[-1]))


def combination(terms: Sequence[tuple[Fraction, Affine]], n: int) -> Affine:
    """Σ factor · f over the given terms."""
    coeffs = [_ZERO] * n
    const = _ZERO
    for factor, f in terms:
        if factor:
            for i, a in enumerate(f.coeffs):
                if a:
                    coeffs[i] += factor * a
            const += factor * f.const
    return Affine(tuple(coeffs), const)


def formula(f: Affine, names: Sequence[str] | None = None) -> str:
    """a·x + c as text, e.g. "x1 - 3/2*x2 + 1"; ``names`` replaces x1, x2, ..."""
    labels = names if names is not None else [f"x{i + 1}" for i in range(f.dim)]
    terms = [(a, labels[i]) for i, a in enumerate(f.coeffs) if a]
    if f.const or not terms:
        terms.append((f.const, ""))
    text = ""
    for k, (a, name) in enumerate(terms):
        size = format_number(abs(a))
        body = name if name and abs(a) == 1 else f"{size}*{name}" if name else size
        text += (("-" if a < 0 else "") + body) if k == 0 else f" {'-' if a < 0 else '+'} {body}"
    return text
