"""Certified feasibility: hand-worked systems, independent oracles, both backends, validator."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.affine import Affine
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.feasibility import (
    Emptiness,
    LinearSystem,
    Solver,
    Witness,
    is_emptiness_certificate,
    is_witness,
)

F = Fraction
A = Affine.of
BACKENDS = ("exact", "float")


@pytest.fixture(scope="module", params=BACKENDS)
def solver(request) -> Solver:
    return Solver(request.param)


def confirmed(system: LinearSystem, answer: Witness | Emptiness) -> bool:
    if isinstance(answer, Witness):
        return is_witness(system, answer.point)
    return is_emptiness_certificate(system, answer)


def holds(system: LinearSystem, x) -> bool:
    """Plain Fraction evaluation, independent of the module's fmpq checks."""
    return (all(f(x) > 0 for f in system.strict) and all(f(x) >= 0 for f in system.nonstrict)
            and all(f(x) == 0 for f in system.equal))


def combination(system: LinearSystem, cert: Emptiness) -> Affine:
    total = Affine.constant(system.dim, 0)
    for mults, rows in ((cert.strict, system.strict), (cert.nonstrict, system.nonstrict),
                        (cert.equal, system.equal)):
        for mu, f in zip(mults, rows):
            total = total + f.scale(mu)
    return total


def solve(solver: Solver, system: LinearSystem, hint=None) -> Witness | Emptiness:
    answer = solver.solve(system, hint)
    assert confirmed(system, answer)
    if isinstance(answer, Witness):
        assert holds(system, answer.point)
        assert all(isinstance(v, Fraction) for v in answer.point)
    else:
        total = combination(system, answer)
        assert total.is_constant
        assert total.const < 0 or (total.const == 0 and any(m > 0 for m in answer.strict))
        assert all(isinstance(v, Fraction)
                   for v in (*answer.strict, *answer.nonstrict, *answer.equal))
    return answer


# -- hand-worked systems ----------------------------------------------------------------------

def test_strict_against_nonstrict_is_empty_with_kappa_zero(solver):
    # x > 0 and -x >= 0: the only certificates are mu (1, 1) up to scale, with kappa = 0.
    system = LinearSystem(1, (A([1], 0),), (A([-1], 0),))
    cert = solve(solver, system)
    assert isinstance(cert, Emptiness)
    assert cert.strict[0] > 0 and cert.strict[0] == cert.nonstrict[0]
    assert combination(system, cert).const == 0


def test_both_closed_sides_meet_in_zero(solver):
    system = LinearSystem(1, nonstrict=(A([1], 0), A([-1], 0)))
    assert solve(solver, system) == Witness((F(0),))


def test_opposite_strict_sides_are_empty(solver):
    assert isinstance(solve(solver, LinearSystem(1, (A([1], 0), A([-1], 0)))), Emptiness)


def test_open_triangle_and_its_complement(solver):
    inside = LinearSystem(2, (A([1, 0], 0), A([0, 1], 0), A([-1, -1], 1)))
    point = solve(solver, inside).point
    assert point[0] > 0 and point[1] > 0 and point[0] + point[1] < 1
    # x > 0, y > 0, x + y < 0: the three rows sum to zero.
    assert isinstance(solve(solver, LinearSystem(2, (A([1, 0], 0), A([0, 1], 0),
                                                     A([-1, -1], 0)))), Emptiness)


def test_lower_dimensional_face(solver):
    # x >= 0, -x >= 0, y > 0: every solution has x = 0.
    system = LinearSystem(2, (A([0, 1], 0),), (A([1, 0], 0), A([-1, 0], 0)))
    point = solve(solver, system).point
    assert point[0] == 0 and point[1] > 0


def test_equalities_only(solver):
    system = LinearSystem(2, equal=(A([1, 1], -1), A([1, -1], 0)))
    assert solve(solver, system) == Witness((F(1, 2), F(1, 2)))
    ugly = LinearSystem(3, equal=(A([F(3, 7), F(11, 13), 0], F(-5, 17)),
                                  A([0, F(2, 9), F(-1, 3)], F(1, 101))))
    assert isinstance(solve(solver, ugly), Witness)


def test_inconsistent_equalities_need_negative_kappa(solver):
    system = LinearSystem(2, equal=(A([1, 1], -1), A([2, 2], 0)))
    cert = solve(solver, system)
    assert isinstance(cert, Emptiness) and combination(system, cert).const < 0


def test_farkas_on_nonstrict_rows(solver):
    system = LinearSystem(2, (A([1, 0], 0),), (A([1, 1], -1), A([-1, -1], 0)))
    cert = solve(solver, system)
    assert isinstance(cert, Emptiness) and combination(system, cert).const < 0


def test_unbounded_regions(solver):
    assert isinstance(solve(solver, LinearSystem(2, (A([1, 0], -5), A([1, 1], -7)))), Witness)
    assert isinstance(solve(solver, LinearSystem(3, nonstrict=(A([1, 2, 3], -100),))), Witness)


def test_no_rows_gives_the_origin(solver):
    assert solve(solver, LinearSystem(3)) == Witness((F(0),) * 3)
    assert solve(solver, LinearSystem(0)) == Witness(())


@pytest.mark.parametrize("kind,const,empty", [
    ("strict", 0, True), ("strict", 1, False), ("strict", -1, True),
    ("nonstrict", 0, False), ("nonstrict", -1, True), ("equal", 0, False), ("equal", 2, True)])
def test_constant_rows(solver, kind, const, empty):
    for dim in (0, 2):
        system = LinearSystem(dim, **{kind: (Affine.constant(dim, const),)})
        assert isinstance(solve(solver, system), Emptiness) is empty


def test_coordinates_the_rows_do_not_use(solver):
    # Only x2 appears; x0, x1, x3 are free directions of every row.
    x2 = A([0, 0, 1, 0], 0)
    assert isinstance(solve(solver, LinearSystem(4, (x2, -x2 + Affine.constant(4, 1)))), Witness)
    assert isinstance(solve(solver, LinearSystem(4, (x2,), (-x2,))), Emptiness)


def test_thin_and_huge_systems_still_answer_exactly(solver):
    tiny = F(1, 10**15)
    thin = LinearSystem(1, (A([1], -1), A([-1], 1 + tiny)))
    assert F(1) < solve(solver, thin).point[0] < 1 + tiny
    assert isinstance(solve(solver, LinearSystem(1, (A([1], -1), A([-1], 1)))), Emptiness)
    # Coefficients too large for a float: the float backend must fall back, not fail.
    huge = 10**400
    far = LinearSystem(1, (A([1], -huge), A([-1], huge + 1)))
    assert huge < solve(solver, far).point[0] < huge + 1
    assert isinstance(solve(solver, LinearSystem(1, (A([1], -huge), A([-1], huge)))),
                      Emptiness)
    small = LinearSystem(2, (A([F(1, huge), 0], 0), A([-1, 0], F(1, huge))))
    assert isinstance(solve(solver, small), Witness)


def test_what_floats_cannot_resolve(solver):
    # An open interval of width 2e-8 near 1e9, narrower than a float's spacing there: no
    # float lies inside, yet the exact answer is a witness.
    c = 10**9 + F(1, 3)
    narrow = LinearSystem(1, (A([1], -c), A([-1], c + F(2, 10**8))))
    assert c < solve(solver, narrow).point[0] < c + F(2, 10**8)
    # Equalities that agree within any float tolerance but not exactly.
    close = LinearSystem(2, (A([0, 1], 0),), (), (A([1, 0], -1), A([1, 0], -1 - F(1, 10**12))))
    assert isinstance(solve(solver, close), Emptiness)


def test_witnesses_have_small_denominators(solver):
    cube = LinearSystem(3, tuple(A([int(i == j) for j in range(3)], 0) for i in range(3))
                        + tuple(A([-int(i == j) for j in range(3)], 1) for i in range(3)))
    assert all(v.denominator <= 2 for v in solve(solver, cube).point)
    big = LinearSystem(2, (A([1, 0], 0), A([0, 1], 0), A([-1, -1], 1000)))
    assert all(v.denominator == 1 for v in solve(solver, big).point)


def test_hint_is_used_only_when_it_satisfies(solver):
    system = LinearSystem(2, (A([1, 0], 0), A([0, 1], 0), A([-1, -1], 1)))
    hint = (F(1, 7), F(2, 7))
    assert solver.solve(system, hint) == Witness(hint)
    for bad in ((F(1), F(1)), (F(1, 7),), (F(0), F(1, 2))):
        answer = solve(solver, system, bad)
        assert answer.point != tuple(bad)
    assert isinstance(solve(solver, LinearSystem(1, (A([1], 0), A([-1], 0))), (F(0),)),
                      Emptiness)


def test_many_rows_through_one_point(solver):
    # Rows through (1, 1), all oriented to contain (2, 3) or its reflection (0, -1).
    dirs = [(1, 0), (0, 1), (1, 1), (1, -1), (2, 1), (1, 2), (3, -1), (-1, 3)]
    rows = []
    for a, b in dirs:
        f = A([a, b], -a - b)
        rows.append(f if f((F(2), F(3))) > 0 else -f)
    assert isinstance(solve(solver, LinearSystem(2, tuple(rows))), Witness)
    assert isinstance(solve(solver, LinearSystem(2, tuple(rows) + tuple(-f for f in rows))),
                      Emptiness)
    pinned = LinearSystem(2, nonstrict=tuple(rows) + tuple(-f for f in rows))
    assert solve(solver, pinned) == Witness((F(1), F(1)))


# -- API and stats ----------------------------------------------------------------------------

def test_bad_backend_and_bad_rows_are_input_errors():
    with pytest.raises(InputError, match="backend"):
        Solver("gpu")
    with pytest.raises(InputError, match="strict row 1"):
        LinearSystem(2, (A([1, 0], 0), A([1], 0)))
    with pytest.raises(InputError, match="dimension"):
        LinearSystem(-1)


def test_stats_count_calls():
    system = LinearSystem(1, (A([1], 0),), (A([-1], 1),))
    exact = Solver("exact")
    for _ in range(3):
        exact.solve(system)
    assert (exact.stats.calls, exact.stats.exact_calls, exact.stats.float_confirmed) == (3, 3, 0)
    floating = Solver("float")
    for _ in range(3):
        floating.solve(system)
    floating.solve(system, (F(1, 2),))
    stats = floating.stats
    assert stats.calls == 4 and stats.float_confirmed + stats.exact_fallbacks == 3
    assert stats.seconds > 0


# -- the validator ----------------------------------------------------------------------------

def test_validator_accepts_and_rejects_by_definition():
    open_vs_closed = LinearSystem(1, (A([1], 0),), (A([-1], 0),))
    assert is_emptiness_certificate(open_vs_closed, Emptiness((F(1),), (F(1),), ()))
    assert is_emptiness_certificate(open_vs_closed, Emptiness((F(3),), (F(3),), ()))
    # kappa = 0 with no strict multiplier positive.
    assert not is_emptiness_certificate(open_vs_closed, Emptiness((F(0),), (F(0),), ()))
    closed = LinearSystem(1, nonstrict=(A([1], 0), A([-1], 0)))
    assert not is_emptiness_certificate(closed, Emptiness((), (F(1), F(1)), ()))
    # kappa > 0.
    segment = LinearSystem(1, nonstrict=(A([1], 0), A([-1], 1)))
    assert not is_emptiness_certificate(segment, Emptiness((), (F(1), F(1)), ()))
    # nonzero x-sum, negative multipliers, wrong lengths.
    assert not is_emptiness_certificate(open_vs_closed, Emptiness((F(1),), (F(2),), ()))
    opposite = LinearSystem(1, (A([1], 0), A([-1], 0)))
    assert not is_emptiness_certificate(opposite, Emptiness((F(-1), F(-1)), (), ()))
    assert not is_emptiness_certificate(open_vs_closed, Emptiness((F(1),), (F(1), F(0)), ()))
    # Equality multipliers may be negative.
    eqs = LinearSystem(1, equal=(A([1], 0), A([1], 1)))
    assert is_emptiness_certificate(eqs, Emptiness((), (), (F(1), F(-1))))
    assert not is_emptiness_certificate(eqs, Emptiness((), (), (F(-1), F(1))))


def test_is_witness_by_definition():
    system = LinearSystem(2, (A([1, 0], 0),), (A([0, 1], 0),), (A([1, 1], -1),))
    assert is_witness(system, (F(1), F(0)))
    assert not is_witness(system, (F(0), F(1)))     # strict row is 0
    assert not is_witness(system, (F(2), F(-1)))    # nonstrict row negative
    assert not is_witness(system, (F(1, 2), F(1, 3)))  # equality violated
    assert not is_witness(system, (F(1),))


# -- random systems ---------------------------------------------------------------------------

small = st.fractions(min_value=-4, max_value=4, max_denominator=6)
ANY_DIM = st.integers(1, 4)


@st.composite
def systems(draw, dims=ANY_DIM):
    """Mixed rows with duplicates, scaled and parallel copies, and rows through one point."""
    n = draw(dims)
    center = [draw(small) for _ in range(n)]
    rows: list[tuple[str, Affine]] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["strict"] * 3 + ["nonstrict"] * 2 + ["equal"]))
        how = draw(st.sampled_from(["fresh", "fresh", "through", "copy", "scaled", "parallel"]))
        if how in ("copy", "scaled", "parallel") and rows:
            base = draw(st.sampled_from(rows))[1]
            if how == "scaled":
                base = base.scale(draw(st.sampled_from([F(-2), F(-1, 3), F(1, 2), F(5)])))
            elif how == "parallel":
                base = base + Affine.constant(n, draw(small))
        else:
            base = A([draw(small) for _ in range(n)], draw(small))
            if how == "through":
                base = base - Affine.constant(n, base(center))
        rows.append((kind, base))
    return LinearSystem(n, *(tuple(f for k, f in rows if k == kind)
                             for kind in ("strict", "nonstrict", "equal")))


SOLVERS = {b: Solver(b) for b in BACKENDS}
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(systems())
def test_backends_agree_and_confirm(system):
    answers = {b: solve(s, system) for b, s in SOLVERS.items()}
    assert type(answers["exact"]) is type(answers["float"])


@FAST
@given(systems(st.just(1)))
def test_one_dimensional_oracle(system):
    # In one dimension the solution set is an interval whose ends are roots of rows, so it
    # meets the roots, the midpoints between them, or a point beyond them.
    roots = sorted({-f.const / f.coeffs[0] for f in system.rows if f.coeffs[0]})
    probes = [F(0), *roots, *((a + b) / 2 for a, b in zip(roots, roots[1:]))]
    if roots:
        probes += [roots[0] - 1, roots[-1] + 1]
    feasible = any(holds(system, (p,)) for p in probes)
    for s in SOLVERS.values():
        assert isinstance(solve(s, system), Witness) is feasible


@FAST
@given(systems(), st.data())
def test_feasible_by_construction(system, data):
    # Reorient every row to hold at a chosen point: the system cannot be empty.
    n = system.dim
    p = [data.draw(small) for _ in range(n)]

    def holding(f: Affine, strict: bool) -> Affine:
        v = f(p)
        if v == 0 and strict:
            return f + Affine.constant(n, 1)
        return f if v >= 0 else -f

    feasible = LinearSystem(n, tuple(holding(f, True) for f in system.strict),
                            tuple(holding(f, False) for f in system.nonstrict),
                            tuple(f - Affine.constant(n, f(p)) for f in system.equal))
    for s in SOLVERS.values():
        assert isinstance(solve(s, feasible), Witness)


@FAST
@given(systems(), st.data())
def test_tampered_certificates_are_rejected(system, data):
    n = system.dim
    f = A([data.draw(small) for _ in range(n)], data.draw(small))
    empty = LinearSystem(n, (*system.strict, f), (*system.nonstrict, -f), system.equal)
    for s in SOLVERS.values():
        cert = solve(s, empty)
        assert isinstance(cert, Emptiness)
        k = data.draw(st.integers(0, len(cert.strict) - 1))
        negative = list(cert.strict)
        negative[k] = F(-1)
        assert not is_emptiness_certificate(empty, Emptiness(tuple(negative), cert.nonstrict,
                                                             cert.equal))
        used = [i for i, g in enumerate(empty.strict) if not g.is_constant]
        if used:
            shifted = list(cert.strict)
            shifted[used[0]] += 1
            assert not is_emptiness_certificate(empty, Emptiness(tuple(shifted), cert.nonstrict,
                                                                 cert.equal))
        zero = tuple(F(0) for _ in cert.strict)
        total = combination(empty, Emptiness(zero, cert.nonstrict, cert.equal))
        if total.is_constant and total.const >= 0:
            assert not is_emptiness_certificate(empty, Emptiness(zero, cert.nonstrict,
                                                                 cert.equal))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(10, 50), st.booleans(), st.randoms(use_true_random=False))
def test_large_denominators_and_many_rows(n, m, oriented, rng):
    # Rows with big denominators, as products of network weights give: float duals and points
    # do not round to exact ones, so the support and exact paths must carry the answer.
    def coeff() -> Fraction:
        return F(rng.randint(-3 * 10**9, 3 * 10**9), rng.randint(1, 10**9))

    p = [coeff() for _ in range(n)]
    rows = [A([coeff() for _ in range(n)], coeff()) for _ in range(m)]
    if oriented:
        rows = [f if f(p) > 0 else -f for f in rows]
    system = LinearSystem(n, tuple(rows), tuple(rng.sample(rows, 2)))
    answers = {b: solve(s, system) for b, s in SOLVERS.items()}
    assert type(answers["exact"]) is type(answers["float"])
    assert isinstance(answers["exact"], Witness) or not oriented


# -- starting from a parent's basis --------------------------------------------------------------

def boxed(system: LinearSystem, half: int = 5) -> LinearSystem:
    """The system inside the box [−half, half]^n (one-coordinate rows, which a start needs)."""
    n = system.dim
    sides = tuple(f for i in range(n) for f in (Affine.coordinate(n, i) + Affine.constant(n, half),
                                                Affine.constant(n, half) - Affine.coordinate(n, i)))
    return LinearSystem(n, system.strict, (*system.nonstrict, *sides), system.equal)


@FAST
@given(systems(), st.data())
def test_a_parents_basis_changes_no_answer(system, data):
    # A child's system is its parent's plus one row at the end of a group; started from the
    # parent's basis, or from a basis of unrelated rows, the exact simplex answers as cold.
    parent = boxed(system)
    cold = Solver("exact")
    first = cold.solve(parent)
    n = parent.dim
    extra = A([data.draw(small) for _ in range(n)], data.draw(small))
    group = data.draw(st.sampled_from(["strict", "nonstrict", "equal"]))
    child = LinearSystem(n, parent.strict + ((extra,) if group == "strict" else ()),
                         parent.nonstrict + ((extra,) if group == "nonstrict" else ()),
                         parent.equal + ((extra,) if group == "equal" else ()))
    expected = type(cold.solve(child))
    junk = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 6)),
                  data.draw(st.sampled_from([1, -1]))) for _ in range(n))
    for start in (first.basis, junk):
        answer = Solver("exact").solve(child, basis=start)
        assert confirmed(child, answer) and type(answer) is expected


def test_a_start_of_a_lower_rank_system_is_not_taken_for_full_rank():
    # Rows in x2 only (rank 1 of 2): a start naming two columns (s not among them) must not
    # make the simplex keep x1; the answer is a true witness, x2 in (−1, −1/2).
    system = LinearSystem(2, (A([0, -1], 0), A([0, 1], 1), A([0, -2], -1)))
    for start in (((0, 1, 1), (0, 0, 1)), ((0, 0, 1), (0, 2, 1)), ()):
        answer = Solver("exact").solve(system, basis=start)
        assert isinstance(answer, Witness) and holds(system, answer.point)
