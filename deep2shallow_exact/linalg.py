"""Exact linear algebra on affine functions: ranks of equality rows, and combinations."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import flint

from .affine import Affine


def equality_rank(rows: Sequence[Affine], n: int) -> int:
    if not rows:
        return 0
    return flint.fmpq_mat(len(rows), n, [flint.fmpq(c.numerator, c.denominator)
                                         for f in rows for c in f.coeffs]).rank()


def express(target: Affine, rows: Sequence[Affine]) -> list[Fraction] | None:
    """Λ with target = Σ Λ_j rows_j (as vectors of coefficients and constant), or None."""
    n = target.dim + 1
    m = len(rows)
    # Gaussian elimination on the n × (m + 1) system [rows^T | target].
    matrix = [[r.coeffs[i] if i < n - 1 else r.const for r in rows]
              + [target.coeffs[i] if i < n - 1 else target.const] for i in range(n)]
    pivots: list[tuple[int, int]] = []
    r = 0
    for c in range(m):
        p = next((i for i in range(r, n) if matrix[i][c]), None)
        if p is None:
            continue
        matrix[r], matrix[p] = matrix[p], matrix[r]
        inv = 1 / matrix[r][c]
        matrix[r] = [v * inv for v in matrix[r]]
        for i in range(n):
            if i != r and matrix[i][c]:
                f = matrix[i][c]
                matrix[i] = [a - f * b for a, b in zip(matrix[i], matrix[r])]
        pivots.append((r, c))
        r += 1
    if any(matrix[i][m] for i in range(r, n)):
        return None
    solution = [Fraction(0)] * m
    for row, col in pivots:
        solution[col] = matrix[row][m]
    return solution
