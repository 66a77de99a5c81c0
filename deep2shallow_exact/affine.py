"""Affine functions x ↦ a·x + c over the rationals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

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
        return Affine(tuple(-a for a in self.coeffs), -self.const)

    def scale(self, factor: Fraction | int) -> Affine:
        return Affine(tuple(a * factor for a in self.coeffs), self.const * factor)

    @property
    def is_constant(self) -> bool:
        return not any(self.coeffs)

    @property
    def is_zero(self) -> bool:
        return self.is_constant and self.const == 0

    def canonical(self) -> tuple[Affine, Fraction]:
        """(g, s) with self = s · g, s ≠ 0, and g's first nonzero coefficient equal to 1.

        Two non-constant functions that are nonzero multiples of each other share g, so a
        sign known for one gives the sign of the other. Constants are returned as they are.
        """
        for a in self.coeffs:
            if a:
                return self.scale(1 / a), a
        return self, Fraction(1)


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
