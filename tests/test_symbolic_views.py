"""Symbolic views: the Piecewise is the network (exactly, on walls too); the shallow formula is
the three-layer network once 0·oo is read as 0."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.construction import to_shallow
from deep2shallow_exact.domain import box
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.network import ReluNetwork
from deep2shallow_exact.numbers import NEG_INF, POS_INF, Extended, ext_add, ext_mul, ext_relu
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

def extended_value(expr: sp.Basic, point: dict[sp.Symbol, Fraction]) -> Extended:
    """The formula evaluated with the networks' arithmetic, 0·oo = 0 (sympy would say nan)."""
    if expr.is_Symbol:
        return point[expr]
    if expr == sp.oo:
        return POS_INF
    if expr == -sp.oo:
        return NEG_INF
    if expr.is_Rational:
        return Fraction(int(expr.p), int(expr.q))
    values = [extended_value(a, point) for a in expr.args]
    if isinstance(expr, sp.Add):
        total: Extended = Fraction(0)
        for v in values:
            total = ext_add(total, v, "formula")
        return total
    if isinstance(expr, sp.Mul):
        product: Extended = Fraction(1)
        for v in values:
            product = ext_mul(product, v)
        return product
    if isinstance(expr, sp.Max):
        assert values[0] == 0 and len(values) == 2
        return ext_relu(values[1])
    raise AssertionError(f"unexpected node {expr.func} in the shallow formula")


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(net=small_nets, data=st.data())
def test_shallow_formula_is_the_shallow_network_with_zero_times_infinity_zero(net, data):
    shallow = to_shallow(net, verify=False).network
    formula = shallow_formula(shallow)
    outputs = formula if isinstance(formula, tuple) else (formula,)
    xs = input_symbols(net.input_dim)
    for x in (data.draw(points(net.input_dim)), data.draw(points_on_walls(net))):
        at = dict(zip(xs, x))
        assert tuple(extended_value(f, at) for f in outputs) == evaluate(shallow, x)


def test_shallow_formula_of_the_gating_identity_by_hand():
    net = ReluNetwork.from_lists([([[1], [-1]], [0, 0]), ([[1, "-inf"]], [0]), ([[1]], [0])])
    formula = shallow_formula(net)
    # y = Max(0, Max(0, x1) − oo·Max(0, −x1)): the gate is the only infinite term.
    (gate,) = [m for m in formula.atoms(sp.Mul) if any(a.is_infinite for a in m.args)]
    assert set(gate.args) == {-sp.oo, sp.Max(0, -x1)}
    assert isinstance(formula, sp.Max) and formula.args[0] == 0
    assert set(formula.args[1].args) == {sp.Max(0, x1), gate}


def test_shallow_formula_prints_in_text_and_latex_with_infinity():
    net = ReluNetwork.from_lists([([[1, 0], [0, 1]], [0, 0]), ([[1, 1]], [-1]), ([[1]], [0])])
    shallow = to_shallow(net, verify=False).network
    text, latex = show(shallow), show(shallow, latex=True)
    assert text.startswith("y = ") and "oo" in text and "Max" in text
    assert latex.startswith("y = ") and r"\infty" in latex and r"\max" in latex
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
