"""Local affine structure at a point: hand-worked maps and agreement with exact evaluation."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deep2shallow_exact.affine import Affine
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate, gates_at
from deep2shallow_exact.local import local_view
from deep2shallow_exact.network import GatedNetwork, Layer, ReluNetwork
from deep2shallow_exact.numbers import sign
from deep2shallow_exact.strategies import gated_networks, points, relu_networks

F = Fraction
A = Affine.of

# z1 = x1 − x2, z2 = 2 x1 + x2 − 1; z3 = a1 + a2 − 1; y = (2 a3 + 1, −a3).
RELU = ReluNetwork.from_lists([
    ([[1, -1], [2, 1]], [0, -1]),
    ([[1, 1]], [-1]),
    ([[2], [-1]], [1, 0]),
])
Z1, Z2 = A([1, -1], 0), A([2, 1], -1)


@pytest.mark.parametrize(("x", "signs", "z3", "output"), [
    # Everything active: z3 = 3 x1 − 2.
    ((F(2), F(0)), ((1, 1), (1,)), A([3, 0], -2), (A([6, 0], -3), A([-3, 0], 2))),
    # z1 off: z3 = 2 x1 + x2 − 2.
    ((F(3), F(4)), ((-1, 1), (1,)), A([2, 1], -2), (A([4, 2], -3), A([-2, -1], 2))),
    # z3 = 0 at the point, so its neuron is off and the outputs are constant.
    ((F(0), F(2)), ((-1, 1), (0,)), A([2, 1], -2), (A([0, 0], 1), A([0, 0], 0))),
    # z1 = 0 is off as well; z3 = 2 x1 + x2 − 2 = −1/2 here.
    ((F(1, 2), F(1, 2)), ((0, 1), (-1,)), A([2, 1], -2), (A([0, 0], 1), A([0, 0], 0))),
    # Both first-layer neurons off: z3 is the constant −1.
    ((F(0), F(0)), ((0, -1), (-1,)), A([0, 0], -1), (A([0, 0], 1), A([0, 0], 0))),
    # z2 = 0 is off: z3 = x1 − x2 − 1.
    ((F(1), F(-1)), ((1, 0), (1,)), A([1, -1], -1), (A([2, -2], -1), A([-1, 1], 1))),
])
def test_relu_hand_example(x: tuple, signs: tuple, z3: Affine, output: tuple) -> None:
    view = local_view(RELU, x)
    assert view.point == x
    assert view.preactivations == ((Z1, Z2), (z3,))
    assert view.signs == signs
    assert view.output == output


# Gating: q1 = x1, q2 = x1 + x2 − 1; q3 = g1 − g2 + 1. Value: (x1 + x2, 2 x2 + 1), then
# 3 h1 − h2 + 2, then y = h − 1.
def hand_gated(kind: str, value_input: str = "x") -> GatedNetwork:
    gating = (Layer.build([[1, 0], [1, 1]], [0, -1], "g0"), Layer.build([[1, -1]], [1], "g1"))
    value = (Layer.build([[1, 1], [0, 2]], [0, 1], "v0"), Layer.build([[3, -1]], [2], "v1"),
             Layer.build([[1]], [-1], "v2"))
    return GatedNetwork(kind, gating, value, value_input)


Q1, Q2 = A([1, 0], 0), A([1, 1], -1)


@pytest.mark.parametrize(("kind", "value_input", "x", "signs", "q3", "y"), [
    # dgn, both gates of layer 1 on: q3 = x1 − (x1 + x2 − 1) + 1.
    ("dgn", "x", (F(2), F(1)), ((1, 1), (1,)), A([0, -1], 2), A([3, 1], 0)),
    # dgn, q1 off: q3 = −(x1 + x2 − 1) + 1, which is 0 here, so the output is constant.
    ("dgn", "x", (F(-1), F(3)), ((-1, 1), (0,)), A([-1, -1], 2), A([0, 0], -1)),
    # dgn, both off: q3 = 1; the value neurons of layer 1 are masked.
    ("dgn", "x", (F(-1), F(1)), ((-1, -1), (1,)), A([0, 0], 1), A([0, 0], 1)),
    # dgn, q2 off: q3 = x1 + 1; y = 3 (x1 + x2) + 2 − 1.
    ("dgn", "x", (F(1), F(-1)), ((1, -1), (1,)), A([1, 0], 1), A([3, 3], 1)),
    # dlgn: q3 = q1 − q2 + 1 = 2 − x2 whatever the signs.
    ("dlgn", "x", (F(-1), F(1)), ((-1, -1), (1,)), A([0, -1], 2), A([0, 0], 1)),
    ("dlgn", "x", (F(2), F(3)), ((1, 1), (-1,)), A([0, -1], 2), A([0, 0], -1)),
    ("dlgn", "x", (F(1, 2), F(2)), ((1, 1), (0,)), A([0, -1], 2), A([0, 0], -1)),
    # dlgn on the all-ones input: h = (2, 3), 3·2 − 3 + 2 = 5, y = 4.
    ("dlgn", "ones", (F(2), F(1)), ((1, 1), (1,)), A([0, -1], 2), A([0, 0], 4)),
    # ... and only the first value neuron (1 + 1) on: 3·2 + 2 − 1 = 7.
    ("dlgn", "ones", (F(1), F(-1)), ((1, -1), (1,)), A([0, -1], 2), A([0, 0], 7)),
])
def test_gated_hand_examples(kind: str, value_input: str, x: tuple, signs: tuple, q3: Affine,
                             y: Affine) -> None:
    net = hand_gated(kind, value_input)
    view = local_view(net, x)
    assert view.preactivations == ((Q1, Q2), (q3,))
    assert view.signs == signs
    assert view.output == (y,)
    assert (y(x),) == evaluate(net, x)


def test_extended_network_is_refused() -> None:
    net = ReluNetwork.from_lists([([[1]], [0]), ([["inf"]], [0]), ([[1]], [0])])
    with pytest.raises(InputError, match="local view needs a finite network"):
        local_view(net, (F(1),))


def test_point_of_the_wrong_length() -> None:
    with pytest.raises(InputError, match="point has 1 coordinates, the network takes 2"):
        local_view(RELU, (F(1),))
    with pytest.raises(InputError, match="point has 3 coordinates, the network takes 2"):
        local_view(hand_gated("dgn"), (F(1), F(2), F(3)))


def hidden_preactivations(net: ReluNetwork, x: tuple) -> list[tuple]:
    """Each hidden layer's pre-activations, by evaluating the network cut after that layer
    (whose last layer is then affine, without ReLU)."""
    return [evaluate(ReluNetwork(net.layers[:depth]), x) for depth in range(1, len(net.layers))]


@given(st.data())
def test_relu_view_agrees_with_evaluation(data: st.DataObject) -> None:
    net = data.draw(relu_networks(output_dim=st.integers(1, 2)))
    x = data.draw(points(net.input_dim))
    view = local_view(net, x)
    assert tuple(f(x) for f in view.output) == evaluate(net, x)
    actual = hidden_preactivations(net, x)
    assert [tuple(f(x) for f in layer) for layer in view.preactivations] == actual
    assert view.signs == tuple(tuple(sign(v) for v in layer) for layer in actual)


@given(st.data())
def test_relu_view_holds_on_the_whole_piece(data: st.DataObject) -> None:
    net = data.draw(relu_networks())
    x, y = data.draw(points(net.input_dim)), data.draw(points(net.input_dim))
    view = local_view(net, x)
    actual = hidden_preactivations(net, y)
    if view.signs == tuple(tuple(sign(v) for v in layer) for layer in actual):
        assert tuple(f(y) for f in view.output) == evaluate(net, y)
        assert [tuple(f(y) for f in layer) for layer in view.preactivations] == actual


@given(st.data())
def test_gated_view_agrees_with_evaluation(data: st.DataObject) -> None:
    net = data.draw(gated_networks(kind=st.sampled_from(["dgn", "dlgn"]),
                                   value_input=st.sampled_from(["x", "ones"]),
                                   output_dim=st.integers(1, 2)))
    x = data.draw(points(net.input_dim))
    view = local_view(net, x)
    assert tuple(f(x) for f in view.output) == evaluate(net, x)
    assert gates_at(net, x) == tuple(tuple(s > 0 for s in layer) for layer in view.signs)
    assert all(sign(f(x)) == s for layer, signs in zip(view.preactivations, view.signs)
               for f, s in zip(layer, signs))


@given(st.data())
def test_dlgn_preactivations_do_not_depend_on_the_point(data: st.DataObject) -> None:
    net = data.draw(gated_networks(kind="dlgn"))
    x, y = data.draw(points(net.input_dim)), data.draw(points(net.input_dim))
    assert local_view(net, x).preactivations == local_view(net, y).preactivations


@given(st.data())
def test_relu_network_and_its_dgn_form_have_the_same_view(data: st.DataObject) -> None:
    net = data.draw(relu_networks())
    x = data.draw(points(net.input_dim))
    view = local_view(net, x)
    as_dgn = local_view(GatedNetwork("dgn", net.layers[:-1], net.layers), x)
    assert (as_dgn.preactivations, as_dgn.signs, as_dgn.output) == (
        view.preactivations, view.signs, view.output)
