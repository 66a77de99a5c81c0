"""Certified feasibility of linear systems over the rationals.

A system {f > 0 (strict), f ≥ 0 (nonstrict), f = 0 (equal)} is either nonempty, shown by a
rational :class:`Witness` point, or empty, shown by a Motzkin certificate (:class:`Emptiness`):
multipliers μ (≥ 0 on inequality rows) with Σ μ_r f_r constant κ, and κ < 0, or κ = 0 with some
strict multiplier positive. Both are checked exactly in a few dot products.

:class:`Solver` finds one of the two. Its "exact" backend runs a rational simplex
(:mod:`.rational_simplex`); its "float" backend lets HiGHS solve the same margin LP in floats and
only proposes: a rounded point, rounded duals, or the support of the duals on which a tiny exact
LP is solved. Whatever fails to confirm goes to the exact backend, so every answer is exact.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from typing import Any

from flint import fmpq, fmpq_mat

from .affine import Affine
from .errors import InputError
from .rational_simplex import pivot_columns, solve_margin

# Denominators tried, smallest first, when rounding a proposed point or multipliers: small ones
# give printable witnesses, 10**6 recovers vertices with moderate denominators from floats.
_DENOMINATORS = (1, 2, 4, 16, 256, 10**6)
# A float margin above this counts as "nonempty" for choosing what to propose first.
_MARGIN_TOL = 1e-9
_ZERO = fmpq(0)
_ONE = fmpq(1)
_FRACTION_ZERO = Fraction(0)
# Float duals below this fraction of the largest one are taken as zero (outside the support).
_SUPPORT_TOL = 1e-9


@dataclass(frozen=True)
class LinearSystem:
    """{x ∈ Q^dim : f(x) > 0 for f in strict, f(x) ≥ 0 for f in nonstrict, f(x) = 0 for f in
    equal}."""

    dim: int
    strict: tuple[Affine, ...] = ()
    nonstrict: tuple[Affine, ...] = ()
    equal: tuple[Affine, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 0:
            raise InputError(f"linear system: dimension must be a nonnegative int, "
                             f"got {self.dim!r}")
        for kind in ("strict", "nonstrict", "equal"):
            rows = getattr(self, kind)
            if type(rows) is not tuple:
                rows = tuple(rows)
                object.__setattr__(self, kind, rows)
            if any(len(f.coeffs) != self.dim for f in rows):
                i, f = next((i, f) for i, f in enumerate(rows) if f.dim != self.dim)
                raise InputError(f"linear system: {kind} row {i} has {f.dim} coefficients, "
                                 f"expected {self.dim}")

    @property
    def rows(self) -> tuple[Affine, ...]:
        """All rows: strict, then nonstrict, then equal (the order multipliers follow)."""
        return (*self.strict, *self.nonstrict, *self.equal)


Basis = tuple[tuple[int, int, int], ...]
"""An exact LP's last basis: (group, row in group, sign) per column — groups 0 strict,
1 nonstrict, 2 equal — so that it names the same rows in a system with rows appended to its
groups, as a child node's system is its parent's plus one row (rational_simplex ``start``)."""


@dataclass(frozen=True)
class Witness:
    """A point satisfying every row of the system."""

    point: tuple[Fraction, ...]
    basis: Basis = field(default=(), compare=False)


@dataclass(frozen=True)
class Emptiness:
    """Motzkin multipliers, aligned with the system's strict, nonstrict and equal rows."""

    strict: tuple[Fraction, ...]
    nonstrict: tuple[Fraction, ...]
    equal: tuple[Fraction, ...]
    basis: Basis = field(default=(), compare=False)


def is_witness(system: LinearSystem, point: Sequence[Fraction]) -> bool:
    return _ExactRows(system).satisfied(point)


def is_emptiness_certificate(system: LinearSystem, cert: Emptiness) -> bool:
    """Valid iff the strict and nonstrict multipliers are ≥ 0, Σ μ_r f_r has no x-term, and its
    constant κ is < 0, or κ = 0 with some strict multiplier > 0."""
    if (len(cert.strict), len(cert.nonstrict), len(cert.equal)) != (
            len(system.strict), len(system.nonstrict), len(system.equal)):
        return False
    return is_motzkin_combination(system.dim, [
        (kind, f, m) for kind, rows, mu in (("strict", system.strict, cert.strict),
                                            ("nonstrict", system.nonstrict, cert.nonstrict),
                                            ("equal", system.equal, cert.equal))
        for f, m in zip(rows, mu) if m])


def is_motzkin_combination(dim: int, terms: Iterable[tuple[str, Affine, Fraction]],
                           _cache: _RowCache | None = None) -> bool:
    """:func:`is_emptiness_certificate` for the rows with nonzero multipliers only, given as
    (kind, row, multiplier) with kind "strict", "nonstrict" or "equal": the cheap check of a
    proof that is already known by the rows it uses."""
    return _motzkin(dim, ((_STRICT if kind == "strict" else _NONSTRICT if kind == "nonstrict"
                           else _EQUAL, (_entry(f) if _cache is None else _cache.get(f))[1], m)
                          for kind, f, m in terms))


BACKENDS = ("auto", "float", "exact")
# Measured (benchmarks/): below this many rows the rational simplex beats HiGHS's per-call cost.
AUTO_EXACT_ROWS = 40


@dataclass
class SolverStats:
    """calls: solve() calls; float_confirmed: float-backend answers confirmed without a full
    exact solve (possibly after an exact solve restricted to the rows the float duals
    support); exact_fallbacks: float-backend calls that needed a full exact solve;
    exact_calls: runs of the rational simplex, on full systems or on such supports;
    seconds: total time inside solve()."""

    calls: int = 0
    float_confirmed: int = 0
    exact_fallbacks: int = 0
    exact_calls: int = 0
    seconds: float = 0.0


class Solver:
    """Decides linear systems; every answer is confirmed exactly before it is returned."""

    def __init__(self, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise InputError(f"solver backend: unknown {backend!r}, expected one of "
                             f"{', '.join(BACKENDS)}")
        self.backend = backend
        self.stats = SolverStats()
        self._highs: Any = None  # made on the first system that goes to HiGHS
        self._cache = _RowCache()

    def solve(self, system: LinearSystem, hint: Sequence[Fraction] | None = None,
              basis: Basis = ()) -> Witness | Emptiness:
        """``basis``: the answer's basis for a system with a subset of these rows (a parent
        node's), where the exact simplex may start; answers never depend on it."""
        start = time.perf_counter()
        self.stats.calls += 1
        rows = _ExactRows(system, self._cache)
        answer: Witness | Emptiness | None = None
        if hint is not None and rows.satisfied(hint):
            answer = Witness(tuple(Fraction(v) for v in hint))
        elif self.backend == "float" or (self.backend == "auto"
                                         and len(rows.rows) > AUTO_EXACT_ROWS):
            answer = self._solve_float(rows)
            if answer is None:
                self.stats.exact_fallbacks += 1
            else:
                self.stats.float_confirmed += 1
        if answer is None:
            answer = self._solve_exact(rows, basis)
        self.stats.seconds += time.perf_counter() - start
        return answer

    def certifies(self, dim: int, terms: Iterable[tuple[str, Affine, Fraction]]) -> bool:
        """:func:`is_motzkin_combination`, reusing this solver's converted rows."""
        return is_motzkin_combination(dim, terms, self._cache)

    def _solve_exact(self, rows: _ExactRows, basis: Basis = ()) -> Witness | Emptiness:
        self.stats.exact_calls += 1
        offsets = (0, rows.counts[0], rows.counts[0] + rows.counts[1])
        start = [(offsets[g] + r, sign) for g, r, sign in basis
                 if 0 <= g < 3 and 0 <= r < rows.counts[g]]
        result = solve_margin(rows.rows, rows.counts[0], rows.counts[1], rows.dim,
                              start if len(start) == len(basis) else ())
        group = [0] * offsets[1] + [1] * rows.counts[1] + [2] * rows.counts[2]
        final = tuple((group[r], r - offsets[group[r]], sign) for r, sign in result.basis)
        if result.point is not None:
            # The last candidate is the vertex itself, so one always confirms.
            point = next((p for p in rows.candidates([(int(v.p), int(v.q))
                                                      for v in result.point])
                          if rows.satisfied(p)), None)
            if point is None:
                raise AssertionError("rational simplex returned a point that is no witness")
            return Witness(tuple(_fraction(v) for v in point), final)
        assert result.multipliers is not None
        if not rows.certifies(result.multipliers):
            raise AssertionError("rational simplex returned an invalid emptiness certificate")
        return replace(rows.emptiness(result.multipliers), basis=final)

    def _solve_float(self, rows: _ExactRows) -> Witness | Emptiness | None:
        """Propose with HiGHS and confirm exactly; None when nothing proposed confirms."""
        if not rows.rows:
            return Witness((Fraction(0),) * rows.dim)
        constant = rows.false_constant_row()
        if constant is not None and rows.certifies(constant):
            return rows.emptiness(constant)
        from .highs_lp import FloatLP, quiet_highs

        try:
            lp = FloatLP(rows.float_forms(), rows.counts, rows.dim)
        except OverflowError:
            return None
        if self._highs is None:
            self._highs = quiet_highs()
        status, margin, point, duals = lp.run(self._highs)
        if status == "optimal" and margin > _MARGIN_TOL:
            for p in rows.candidates([v.as_integer_ratio() for v in point]):
                if lp.plausible(p) and rows.satisfied(p):
                    return Witness(tuple(_fraction(v) for v in p))
            return None
        big = max(map(abs, duals), default=0.0)
        if status not in ("optimal", "infeasible") or big == 0.0 or not math.isfinite(big):
            return None
        # Certificates are invariant under positive scaling: make the largest multiplier 1.
        duals = [v / big if abs(v) > _SUPPORT_TOL * big else 0.0 for v in duals]
        for multipliers in _rounded(duals):
            if rows.certifies(multipliers):
                return rows.emptiness(multipliers)
        return self._solve_support(rows, duals)

    def _solve_support(self, rows: _ExactRows, duals: list[float]) -> Emptiness | None:
        """Exact LP on the rows the float duals use; its certificate, padded with zeros, is
        one for the whole system."""
        support = [r for r, v in enumerate(duals) if v]
        self.stats.exact_calls += 1
        result = solve_margin([rows.rows[r] for r in support],
                              sum(r < rows.counts[0] for r in support),
                              sum(rows.counts[0] <= r < rows.counts[0] + rows.counts[1]
                                  for r in support), rows.dim)
        if result.multipliers is None:
            return None
        multipliers = [_ZERO] * len(rows.rows)
        for r, v in zip(support, result.multipliers):
            multipliers[r] = v
        return rows.emptiness(multipliers) if rows.certifies(multipliers) else None


class _ExactRows:
    """A system's rows as one exact matrix [coefficients | constant]: a check is one flint
    matrix product instead of per-entry Fraction arithmetic, which is ~20x slower."""

    def __init__(self, system: LinearSystem, cache: _RowCache | None = None) -> None:
        self.dim = system.dim
        self.counts = (len(system.strict), len(system.nonstrict), len(system.equal))
        self._entries = [_entry(f) if cache is None else cache.get(f) for f in system.rows]
        self.rows = [e[1] for e in self._entries]
        self._solved_equalities: tuple[list[int], fmpq_mat] | None = None

    @cached_property
    def matrix(self) -> fmpq_mat:
        # Only point checks need it; most systems of the search only check a certificate.
        return fmpq_mat(len(self.rows), self.dim + 1, [a for r in self.rows for a in r])

    def float_forms(self) -> list[tuple[float, list[float]]]:
        """Each row's :func:`_float_form`, computed once per cached row."""
        for e in self._entries:
            if e[2] is None:
                e[2] = _float_form(e[0])
        return [e[2] for e in self._entries]

    def satisfied(self, point: Sequence[Fraction | fmpq]) -> bool:
        if len(point) != self.dim:
            return False
        values = self.matrix * fmpq_mat(self.dim + 1, 1, [*map(_fmpq, point), 1])
        # Signs of the values are those of their numerators over a positive common
        # denominator, and fmpz comparisons are ten times cheaper than fmpq ones.
        signs = values.numer_denom()[0].entries()
        s, n, _ = self.counts
        return (all(v > 0 for v in signs[:s]) and all(v >= 0 for v in signs[s:s + n])
                and not any(signs[s + n:]))

    def certifies(self, multipliers: Sequence[Fraction | fmpq]) -> bool:
        s, n, _ = self.counts
        return _motzkin(self.dim, ((_STRICT if r < s else _NONSTRICT if r < s + n else _EQUAL,
                                    self.rows[r], v) for r, v in enumerate(multipliers) if v))

    def false_constant_row(self) -> list[fmpq] | None:
        """Multipliers singling out a row with no x-term that fails, if there is one. HiGHS
        rejects such a row before its simplex runs, so it gives no dual ray for it."""
        s, n, _ = self.counts
        for r, row in enumerate(self.rows):
            c = row[self.dim]
            if not any(row[:self.dim]) and (c <= 0 if r < s else c < 0 if r < s + n else c):
                multipliers = [_ZERO] * len(self.rows)
                multipliers[r] = -c if r >= s + n else _ONE
                return multipliers
        return None

    def emptiness(self, multipliers: Sequence[fmpq]) -> Emptiness:
        s, n, _ = self.counts
        mu = tuple(_fraction(v) for v in multipliers)
        return Emptiness(mu[:s], mu[s:s + n], mu[s + n:])

    def candidates(self, approx: Sequence[tuple[int, int]]) -> Iterator[list[fmpq]]:
        """Points near approx (coordinates as numerator, denominator), smallest denominators
        first, ending with approx itself; each is moved onto the equalities' affine hull when
        they are consistent, so that rounding does not break them."""
        previous: list[fmpq] | None = None
        for bound in (*_DENOMINATORS, None):
            point = self._onto_equalities(
                [fmpq(*(v if bound is None else _limit_denominator(*v, bound))) for v in approx])
            # Roundings only get finer, so a repeat is always of the previous candidate.
            if point != previous:
                previous = point
                yield point

    def _onto_equalities(self, point: list[fmpq]) -> list[fmpq]:
        """Keep the free coordinates of the equalities' echelon form and solve for the pivot
        ones, which changes the point by about as much as the rounding did."""
        s, n, e = self.counts
        if not e:
            return point
        if self._solved_equalities is None:
            reduced = fmpq_mat([self.rows[r] for r in range(s + n, s + n + e)]).rref()[0]
            self._solved_equalities = (pivot_columns(reduced), reduced)
        pivots, reduced = self._solved_equalities
        if pivots and pivots[-1] == self.dim:
            return point
        pivot_set = set(pivots)
        out = list(point)
        for i, p in enumerate(pivots):
            out[p] = -reduced[i, self.dim] - sum(
                (reduced[i, j] * point[j] for j in range(self.dim)
                 if j not in pivot_set and reduced[i, j]), _ZERO)
        return out


_STRICT, _NONSTRICT, _EQUAL = range(3)


def _motzkin(dim: int, terms: Iterable[tuple[int, list[fmpq], Fraction | fmpq]]) -> bool:
    """The Motzkin test on (kind, exact row, multiplier) for the nonzero multipliers only.
    Certificates are sparse (at most dim + 1 rows in a basic one): summing just their rows
    beats a matrix product over the whole system."""
    total = [_ZERO] * (dim + 1)
    strict_used = False
    for kind, row, v in terms:
        # Signs by numerators: far cheaper than comparing Fractions.
        if kind != _EQUAL:
            if v.numerator < 0:
                return False
            strict_used = strict_used or kind == _STRICT
        q = _fmpq(v)
        for i, a in enumerate(row):
            if a:
                total[i] += q * a
    if any(total[:dim]):
        return False
    kappa = total[dim]
    return kappa < 0 or (kappa == 0 and strict_used)


class _RowCache:
    """Exact (and, on demand, float) forms of rows, keyed by object identity: the search
    engine passes the same Affine objects (domain rows, path rows) in call after call, and
    converting Fractions dominates the cost of small systems. Each entry holds its Affine, so
    an id cannot be reused by another object while it is cached."""

    _LIMIT = 20000

    def __init__(self) -> None:
        self._entries: dict[int, list[Any]] = {}

    def get(self, f: Affine) -> list[Any]:
        entry = self._entries.get(id(f))
        if entry is None:
            if len(self._entries) >= self._LIMIT:
                self._entries.clear()
            entry = self._entries[id(f)] = _entry(f)
        return entry


def _entry(f: Affine) -> list[Any]:
    """[f, exact row [a_1, …, a_n, c], float form or None until needed]."""
    return [f, [fmpq(a.numerator, a.denominator) for a in (*f.coeffs, f.const)], None]


def _float_form(f: Affine) -> tuple[float, list[float]]:
    """(σ, σ · [a_1, …, a_n, c]) with σ the power of two that puts the largest |a_i| (|c| for a
    constant row) in [1/2, 1): HiGHS then sees rows of one size, the margin t means about
    the same in every row, and σ is exact in binary. OverflowError if a value is too large
    for a float."""
    row = [a.numerator / a.denominator for a in (*f.coeffs, f.const)]
    size = max(map(abs, row[:-1]), default=0.0) or abs(row[-1])
    scale = math.ldexp(1.0, -math.frexp(size)[1])
    return scale, [v * scale for v in row]


def _rounded(duals: list[float]) -> Iterator[list[fmpq]]:
    """Rational multipliers near the float duals, smallest denominators first."""
    ratios = [v.as_integer_ratio() if v else None for v in duals]
    for bound in (*_DENOMINATORS, None):
        yield [_ZERO if r is None else fmpq(*(r if bound is None else
                                              _limit_denominator(*r, bound)))
               for r in ratios]


def _limit_denominator(n: int, d: int, bound: int) -> tuple[int, int]:
    """The closest fraction to n/d (d > 0) with denominator at most bound, as
    Fraction.limit_denominator computes it, on plain ints: several times faster."""
    if d <= bound:
        return n, d
    p0, q0, p1, q1 = 0, 1, 1, 0
    num, den = n, d
    while True:
        a = num // den
        q2 = q0 + a * q1
        if q2 > bound:
            break
        p0, q0, p1, q1 = p1, q1, p0 + a * p1, q2
        num, den = den, num - a * den
    k = (bound - q0) // q1
    # The two candidates are p1/q1 and (p0 + k p1)/(q0 + k q1); see Fraction.limit_denominator.
    if 2 * den * (q0 + k * q1) <= d:
        return p1, q1
    return p0 + k * p1, q0 + k * q1


def _fmpq(v: Fraction | fmpq | int) -> fmpq:
    return v if isinstance(v, fmpq) else fmpq(v.numerator, v.denominator)


def _fraction(v: fmpq) -> Fraction:
    return Fraction(int(v.p), int(v.q)) if v else _FRACTION_ZERO
