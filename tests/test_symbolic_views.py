"""Symbolic views: the Piecewise is the network (exactly, on walls too), and so is the shallow
formula: sympy, substituting a point, gives the three-layer network's value (0·∞ = 0 included)."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.construction import to_shallow
from deep2shallow_exact.domain import box
from deep2shallow_exact.errors import InputError, UndefinedError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.network import ReluNetwork
from deep2shallow_exact.numbers import NEG_INF, POS_INF, Extended
from deep2shallow_exact.strategies import (
    gated_networks,
    points,
    points_on_vertices,
    points_on_walls,
    relu_networks,
)
from deep2shallow_exact.symbolic_views import deep_piecewise, input_symbols, shallow_formula, show

F = Fraction
R = sp.Rational
small_nets = relu_networks(input_dim=st.integers(1, 2),
                           hidden_widths=st.lists(st.integers(1, 2), min_size=1,
                                                  max_size=2).map(tuple),
                           output_dim=st.integers(1, 2))


def as_fraction(value: sp.Basic) -> Fraction:
    assert isinstance(value, sp.Rational), value  # nan would mean no branch holds
    return Fraction(int(value.p), int(value.q))


def piecewise_at(formula, x) -> tuple[Fraction, ...]:
    outputs = formula if isinstance(formula, tuple) else (formula,)
    values = dict(zip(input_symbols(len(x)), (R(v.numerator, v.denominator) for v in x)))
    return tuple(as_fraction(f.subs(values)) for f in outputs)


# -- the Piecewise agrees with exact evaluation --------------------------------------------------

@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(net=small_nets, data=st.data())
def test_piecewise_equals_network_at_points_walls_and_vertices(net, data):
    formula = deep_piecewise(net)
    n = net.input_dim
    samples = [data.draw(points(n)) for _ in range(3)]
    samples.append(data.draw(points_on_walls(net)))
    if n == 2:
        samples.append(data.draw(points_on_vertices(net)))
    for x in samples:
        assert piecewise_at(formula, x) == evaluate(net, x)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(net=gated_networks(input_dim=st.just(2), hidden_widths=st.just((2,))), data=st.data())
def test_piecewise_of_gated_networks_jumps_where_they_do(net, data):
    formula = deep_piecewise(net)
    for x in (data.draw(points(2)), data.draw(points_on_walls(net))):
        assert piecewise_at(formula, x) == evaluate(net, x)


def test_piecewise_on_a_box_covers_the_box_boundary():
    net = ReluNetwork.from_lists([([[1, -1], [1, 1]], [0, -1]), ([[1, -2]], [F(1, 3)])])
    formula = deep_piecewise(net, box([F(-1), F(0)], [F(2), F(1)]))
    for x in [(F(-1), F(0)), (F(2), F(1)), (F(1, 2), F(1, 2)), (F(0), F(1)), (F(2), F(1, 3))]:
        assert piecewise_at(formula, x) == evaluate(net, x)


def test_vector_outputs_give_one_piecewise_each():
    net = ReluNetwork.from_lists([([[1], [-1]], [0, 0]), ([[1, 0], [0, 1], [1, 1]], [0, 0, 0])])
    formula = deep_piecewise(net)
    assert isinstance(formula, tuple) and len(formula) == 3
    for v in (F(-3), F(0), F(5, 2)):
        assert piecewise_at(formula, (v,)) == (max(v, 0), max(-v, 0), abs(v))
    latex = show(net, latex=True)
    assert all(f"y_{{{k}}}" in latex for k in (1, 2, 3))


# -- a tent written out by hand ------------------------------------------------------------------

TENT = ReluNetwork.from_lists([([[1], [1]], [0, F(-1, 2)]), ([[2, -4]], [0])])
x1 = sp.Symbol("x1")
# t(x) = 2 ReLU(x) − 4 ReLU(x − 1/2): 0 left of 0, 2x up to 1/2, 2 − 2x after; two vertices.
TENT_BY_HAND = [
    (sp.Integer(0), sp.Interval.open(-sp.oo, 0)),
    (sp.Integer(0), sp.FiniteSet(0)),
    (2 * x1, sp.Interval.open(0, R(1, 2))),
    (sp.Integer(1), sp.FiniteSet(R(1, 2))),
    (2 - 2 * x1, sp.Interval.open(R(1, 2), sp.oo)),
]


def test_tent_piecewise_matches_the_hand_written_one():
    formula = deep_piecewise(TENT)
    assert isinstance(formula, sp.Piecewise)
    branches = [(sp.expand(e), c.as_set()) for e, c in formula.args]
    assert len(branches) == len(TENT_BY_HAND)
    for expression, where in TENT_BY_HAND:
        matches = [b for b in branches if b[1] == where]
        assert len(matches) == 1, where
        # On a vertex only the value is determined; on an open interval the map itself.
        if isinstance(where, sp.FiniteSet):
            (point,) = where
            assert matches[0][0].subs(x1, point) == expression
        else:
            assert sp.expand(matches[0][0] - expression) == 0
    # Regions come before their walls.
    dims = [0 if isinstance(c.as_set(), sp.FiniteSet) else 1 for _, c in formula.args]
    assert dims == sorted(dims, reverse=True)
    for text in (show(TENT), show(TENT, latex=True)):
        assert "x" in text and ("for" in text)


# -- the shallow formula -------------------------------------------------------------------------

def sympy_value(expr: sp.Basic, x: tuple[Fraction, ...]) -> Extended | None:
    """What sympy itself makes of the formula at x: a rational, ±oo, or nan (None)."""
    value = expr.subs(dict(zip(input_symbols(len(x)), (R(v.numerator, v.denominator)
                                                        for v in x))))
    if value is sp.nan:
        return None
    if value in (sp.oo, -sp.oo):
        return POS_INF if value == sp.oo else NEG_INF
    return as_fraction(value)


def network_value(net: ReluNetwork, x: tuple[Fraction, ...]) -> tuple[Extended | None, ...]:
    try:
        return evaluate(net, x)
    except UndefinedError:  # ∞ − ∞
        return (None,) * net.output_dim


def formula_value(formula, x) -> tuple[Extended | None, ...]:
    outputs = formula if isinstance(formula, tuple) else (formula,)
    return tuple(sympy_value(f, x) for f in outputs)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(net=small_nets, data=st.data())
def test_shallow_formula_substituted_in_sympy_is_the_shallow_network(net, data):
    shallow = to_shallow(net, verify=False).network
    formula = shallow_formula(shallow)
    samples = [data.draw(points(net.input_dim)), data.draw(points_on_walls(net))]
    if net.input_dim == 2:
        samples.append(data.draw(points_on_vertices(net)))
    for x in samples:
        # Plain sympy substitution, no special reading of 0·oo: no nan where the network is 0.
        assert formula_value(formula, x) == evaluate(shallow, x) == evaluate(net, x)


GATE = ReluNetwork.from_lists([([[1], [-1]], [0, 0]), ([[1, "-inf"]], [0]), ([[1]], [0])])


def test_shallow_formula_of_the_gating_identity_by_hand():
    # y = ReLU(ReLU(x1) − ∞·ReLU(−x1)): ReLU(x1) where −x1 ≤ 0, i.e. x1 ≥ 0, and 0 elsewhere.
    formula = shallow_formula(GATE)
    assert isinstance(formula, sp.Piecewise)
    (inside, where), (outside, otherwise) = formula.args
    assert inside == sp.Max(0, x1) and outside == 0 and otherwise == sp.true
    assert where == sp.GreaterThan(x1, 0)
    assert "oo" not in str(formula)
    for v, by_hand in [(F(-5), F(0)), (F(0), F(0)), (F(3, 2), F(3, 2)), (F(-1, 7), F(0))]:
        assert formula_value(formula, (v,)) == (by_hand,) == evaluate(GATE, (v,))


def test_the_old_product_form_gives_nan_where_the_network_gives_zero():
    # Why the gate is written as a Piecewise: sympy takes 0·oo to be nan.
    old = sp.Add(sp.Max(0, x1), sp.Mul(-sp.oo, sp.Max(0, -x1), evaluate=False), evaluate=False)
    assert old.subs(x1, 0) is sp.nan  # the pre-activation; Max(0, nan) is even an error
    assert evaluate(GATE, (F(0),)) == (F(0),)


@pytest.mark.parametrize(("second", "first", "by_hand"), [
    # y = ReLU(ReLU(x) + ∞·ReLU(−x)): ReLU(x) for x ≥ 0, +∞ for x < 0.
    ([[1, "inf"]], [[1], [-1]], lambda v: max(v, F(0)) if v >= 0 else POS_INF),
    # −∞ on ReLU(x), +∞ on ReLU(−x): 0 for x > 0, +∞ for x < 0, 0 at 0.
    ([["-inf", "inf"]], [[1], [-1]], lambda v: F(0) if v >= 0 else POS_INF),
    # −∞ and +∞ on the same ReLU(x): ∞ − ∞ (undefined) for x > 0, else 0.
    ([["-inf", "inf"]], [[1], [1]], lambda v: None if v > 0 else F(0)),
])
def test_shallow_formula_with_positive_infinity_and_undefined_points(second, first, by_hand):
    net = ReluNetwork.from_lists([(first, [0, 0]), (second, [0]), ([[1]], [0])])
    formula = shallow_formula(net)
    for v in (F(-2), F(-1, 3), F(0), F(1, 5), F(4)):
        assert formula_value(formula, (v,)) == (by_hand(v),) == network_value(net, (v,))


@pytest.mark.parametrize(("bias", "by_hand"), [
    ("-inf", lambda v: F(0)),                           # ReLU(−∞ + ...) = 0 everywhere
    ("inf", lambda v: POS_INF if v <= 0 else None),     # +∞, and ∞ − ∞ where the gate opens
])
def test_shallow_formula_with_an_infinite_bias(bias, by_hand):
    net = ReluNetwork.from_lists([([[1], [-1]], [0, 0]), ([["-inf", 1]], [bias]), ([[2]], [1])])
    formula = shallow_formula(net)
    for v in (F(-2), F(0), F(3, 4)):
        expected = by_hand(v)
        expected = expected if expected in (None, POS_INF) else 2 * expected + 1
        assert formula_value(formula, (v,)) == (expected,) == network_value(net, (v,))


def test_shallow_formula_prints_in_text_and_latex_with_infinity():
    net = ReluNetwork.from_lists([([[1, 0], [0, 1]], [0, 0]), ([[1, 1]], [-1]), ([[1]], [0])])
    shallow = to_shallow(net, verify=False).network
    text, latex = show(shallow), show(shallow, latex=True)
    assert "y = " in text and "Max" in text and "otherwise" in text
    assert latex.startswith("y = ") and r"\begin{cases}" in latex and r"\max" in latex
    assert "oo" not in text and r"\infty" not in latex
    assert "nan" not in text and "nan" not in latex
    # One top-level summand per second-layer neuron: the structure is kept, not simplified.
    assert len(shallow_formula(shallow).args) == shallow.layers[1].out_dim


def test_extended_networks_of_other_shapes_are_shown_as_piecewise():
    # ReLU(ReLU(x) − ∞·ReLU(−x)) = ReLU(x), then one more hidden layer: 2·ReLU(x) + 1.
    net = ReluNetwork.from_lists([([[1], [-1]], [0, 0]), ([[1, "-inf"]], [0]), ([[2]], [1]),
                                  ([[1]], [0])])
    formula = deep_piecewise(net)
    for v in (F(-2), F(0), F(3, 4)):
        assert piecewise_at(formula, (v,)) == (2 * max(v, 0) + 1,)
    assert "oo" not in show(net)


def test_show_refuses_what_it_cannot_write():
    # ReLU(−∞·x) is +∞ for x < 0: no finite map there, so no Piecewise either.
    two_layers = ReluNetwork.from_lists([([[1], ["-inf"]], [0, 0]), ([[1, 1]], [0])])
    with pytest.raises(InputError, match="infinite"):
        show(two_layers)
    with pytest.raises(InputError, match="three"):
        shallow_formula(TENT)
    infinite_first = ReluNetwork.from_lists([([["inf"]], [0]), ([[1]], [0]), ([[1]], [0])])
    with pytest.raises(InputError, match="layers\\[0\\]"):
        shallow_formula(infinite_first)
