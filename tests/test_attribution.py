"""Exact Shapley values and integrated gradients: hand-worked values and the axioms."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from math import factorial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.attribution import (
    attributions,
    format_attributions,
    integrated_gradients,
    shapley_values,
)
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.local import local_view
from deep2shallow_exact.network import GatedNetwork, Layer, ReluNetwork
from deep2shallow_exact.numbers import POS_INF
from deep2shallow_exact.strategies import gated_networks, points, relu_networks

F = Fraction
SMALL = settings(max_examples=30, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])

# max(x1, x2) = ReLU(x1 − x2) + ReLU(x2) − ReLU(−x2).
MAX = ReluNetwork.from_lists([([[1, -1], [0, 1], [0, -1]], [0, 0, 0]), ([[1, 1, -1]], [0])])


def shapley_by_definition(net, x, b) -> list[Fraction]:
    """φ_i from the textbook sum over coalitions, written independently of the module."""
    n = len(x)

    def v(coalition) -> Fraction:
        return evaluate(net, [x[i] if i in coalition else b[i] for i in range(n)])[0]

    values = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        total = F(0)
        for size in range(n):
            for s in combinations(others, size):
                weight = F(factorial(size) * factorial(n - size - 1), factorial(n))
                total += weight * (v({*s, i}) - v(set(s)))
        values.append(total)
    return values


def test_max_hand_worked() -> None:
    # v(∅) = 0, v({1}) = 2, v({2}) = 1, v({1, 2}) = 2: φ1 = (2 + 1)/2, φ2 = (1 + 0)/2.
    result = shapley_values(MAX, (2, 1))
    assert result.method == "coalitions"
    assert result.values == ((F(3, 2), F(1, 2)),)
    # On the segment t ↦ (2t, t), x1 > x2: the gradient is (1, 0) throughout.
    ig = integrated_gradients(MAX, (2, 1))
    assert ig.values == ((F(2), F(0)),)
    assert [(s.start, s.end) for s in ig.segments] == [(0, 1)]


def test_integrated_gradients_across_a_breakpoint() -> None:
    # ReLU(x − 1) from 0 to 3: flat on t < 1/3, slope 1 after; IG = 3 · (2/3) = 2.
    net = ReluNetwork.from_lists([([[1]], [-1]), ([[1]], [0])])
    ig = integrated_gradients(net, (3,))
    assert [(s.start, s.end, s.A) for s in ig.segments] == [
        (0, F(1, 3), ((0,),)), (F(1, 3), 1, ((1,),))]
    assert ig.values == ((F(2),),) and ig.completeness_gap == (0,)


def test_segment_inside_a_wall() -> None:
    # The path from (0, 0) to (2, 0) runs inside the wall x2 = 0 of ReLU(x2) + x1: the
    # gradient there is taken with ReLU'(0) = 0.
    net = ReluNetwork.from_lists([([[0, 1], [1, 0], [-1, 0]], [0, 0, 0]), ([[1, 1, -1]], [0])])
    ig = integrated_gradients(net, (2, 0))
    assert ig.values == ((F(2), F(0)),) and ig.completeness_gap == (0,)


def test_one_region_formula() -> None:
    # ReLU(x1) + ReLU(x2) is x1 + x2 on the box [1/2, 1] × [1/2, 2].
    net = ReluNetwork.from_lists([([[1, 0], [0, 1]], [0, 0]), ([[1, 1]], [0])])
    fast = shapley_values(net, (1, 2), (F(1, 2), F(1, 2)))
    assert fast.method == "one-region" and fast.values == ((F(1, 2), F(3, 2)),)
    slow = shapley_values(net, (1, 2), (F(1, 2), F(1, 2)), method="coalitions")
    assert slow.values == fast.values
    # The closed box [0, 1] × [0, 2] touches the walls: still one region's closure.
    assert shapley_values(net, (1, 2)).method == "one-region"
    with pytest.raises(InputError, match="one piece"):
        shapley_values(net, (1, 2), (-1, 0), method="one-region")


def test_same_region_is_not_enough_for_the_formula() -> None:
    # x = (3, 2) and b = (0, −1) both lie in x1 > x2, where ReLU(x1 − x2) = x1 − x2, but the
    # coalition point (0, 2) does not: v(∅) = 1, v({1}) = 4, v({2}) = 0, v({1, 2}) = 1, so
    # φ = (2, −2), not A (x − b) = (3, −3).
    net = ReluNetwork.from_lists([([[1, -1]], [0]), ([[1]], [0])])
    result = shapley_values(net, (3, 2), (0, -1))
    assert result.method == "coalitions" and result.values == ((F(2), F(-2)),)


def test_refused_above_the_limit_unless_one_region() -> None:
    n = 17
    net = ReluNetwork.from_lists([([[1, -1] + [0] * (n - 2)], [0]), ([[1]], [0])])
    across = (1, 2) + (0,) * (n - 2)
    with pytest.raises(InputError, match="2\\^17"):
        shapley_values(net, across)
    inside = (2, 1) + (1,) * (n - 2)
    result = shapley_values(net, inside, (1, 0) + (0,) * (n - 2))
    assert result.method == "one-region"
    assert result.values[0][:3] == (F(1), F(-1), F(0))


def test_bad_input() -> None:
    with pytest.raises(InputError, match="baseline"):
        shapley_values(MAX, (1, 2), (0,))
    with pytest.raises(InputError, match="method"):
        shapley_values(MAX, (1, 2), method="sampling")
    extended = ReluNetwork((Layer(((POS_INF,),), (F(0),)), Layer(((F(1),),), (F(0),))))
    with pytest.raises(InputError, match="inf"):
        shapley_values(extended, (1,))


def test_gated_jump_shows_as_a_completeness_gap() -> None:
    # y = 1{x > 0} (a DLGN on the all-ones input): zero gradient everywhere, a jump of 1.
    net = GatedNetwork("dlgn", (Layer.build([[1]], [0], "g"),),
                       (Layer.build([[1]], [0], "v0"), Layer.build([[1]], [0], "v1")), "ones")
    ig = integrated_gradients(net, (1,), (-1,))
    assert ig.values == ((F(0),),) and ig.completeness_gap == (F(1),)
    assert shapley_values(net, (1,), (-1,)).values == ((F(1),),)


def test_document_and_text() -> None:
    doc = attributions(MAX, (2, 1))
    assert doc["shapley"]["values"] == [["3/2", "1/2"]]
    assert doc["integrated_gradients"]["values"] == [["2", "0"]]
    text = format_attributions(doc)
    assert "x1: 3/2, x2: 1/2" in text and "1 piece on" in text


@SMALL
@given(st.data())
def test_shapley_efficiency_and_definition(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 3))
    net = data.draw(st.one_of(relu_networks(input_dim=n),
                              gated_networks(kind=st.sampled_from(["dgn", "dlgn"]),
                                             input_dim=n)))
    x, b = data.draw(points(n)), data.draw(points(n))
    result = shapley_values(net, x, b)
    assert sum(result.values[0]) == evaluate(net, x)[0] - evaluate(net, b)[0]
    assert list(result.values[0]) == shapley_by_definition(net, x, b)


@SMALL
@given(st.data())
def test_shapley_symmetry(data: st.DataObject) -> None:
    # Equal first-layer columns for x1 and x2 and x1 − b1 = x2 − b2: the two inputs are
    # interchangeable in every coalition, so they get equal values.
    net = data.draw(relu_networks(input_dim=3))
    first = net.layers[0]
    twin = Layer(tuple((row[0], row[0], row[2]) for row in first.weights), first.bias)
    net = ReluNetwork((twin, *net.layers[1:]))
    x, b = data.draw(points(3)), data.draw(points(3))
    x = (x[0], x[0] - b[0] + b[1], x[2])
    values = shapley_values(net, x, b, method="coalitions").values[0]
    assert values[0] == values[1]


@SMALL
@given(st.data())
def test_integrated_gradients_complete_and_piecewise_exact(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 3))
    net = data.draw(relu_networks(input_dim=n, output_dim=st.integers(1, 2)))
    x, b = data.draw(points(n)), data.draw(points(n))
    ig = integrated_gradients(net, x, b)
    assert ig.completeness_gap == (0,) * net.output_dim
    for k in range(net.output_dim):
        assert sum(ig.values[k]) == evaluate(net, x)[k] - evaluate(net, b)[k]
    assert ig.segments[0].start == 0 and ig.segments[-1].end == 1
    assert all(s.end == t.start for s, t in zip(ig.segments, ig.segments[1:]))
    d = [u - v for u, v in zip(x, b)]
    for s in ig.segments:
        def at(t: Fraction) -> list[Fraction]:
            return [v + t * e for v, e in zip(b, d)]
        # The slope along the path on the stretch, from exact evaluations at its ends and
        # middle, matches the stretch's gradient.
        middle = (s.start + s.end) / 2
        for k in range(net.output_dim):
            slope = sum(a * e for a, e in zip(s.A[k], d))
            for t0, t1 in ((s.start, middle), (middle, s.end)):
                assert evaluate(net, at(t1))[k] - evaluate(net, at(t0))[k] == slope * (t1 - t0)
        assert tuple(f.coeffs for f in local_view(net, at(middle)).output) == s.A


@SMALL
@given(st.data())
def test_one_region_formula_matches_the_coalitions(data: st.DataObject) -> None:
    net = data.draw(relu_networks(input_dim=2))
    x = data.draw(points(2))
    step = data.draw(st.tuples(st.sampled_from([F(0), F(1, 8), F(-1, 8)]),
                               st.sampled_from([F(0), F(1, 8), F(-1, 8)])))
    b = tuple(v + s for v, s in zip(x, step))
    fast = shapley_values(net, x, b)
    assert fast.values == shapley_values(net, x, b, method="coalitions").values
