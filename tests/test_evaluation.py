"""Exact evaluation of ReLU, extended-real and gated networks on hand-worked examples."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deep2shallow_exact.errors import InputError, UndefinedError
from deep2shallow_exact.evaluation import evaluate, evaluate_gated, gates_at
from deep2shallow_exact.network import GatedNetwork, Layer, ReluNetwork
from deep2shallow_exact.numbers import NEG_INF, POS_INF
from deep2shallow_exact.strategies import gated_networks, points, relu_networks

F = Fraction

# y = (2 ReLU(x1 - x2) + ReLU(2 x1 + x2 - 1) - 1/2, -ReLU(2 x1 + x2 - 1))
RELU = ReluNetwork.from_lists([
    ([[1, -1], [2, 1]], [0, -1]),
    ([[2, 1], [0, -1]], ["-1/2", 0]),
])


@pytest.mark.parametrize(("x", "y"), [
    ((0, 0), (F(-1, 2), 0)),                    # both hidden neurons off (z = 0 and z = -1)
    ((3, 1), (4 + 6 - F(1, 2), -6)),            # both on: z = (2, 6)
    ((F(1, 3), F(1, 2)), (F(1, 6) - F(1, 2), F(-1, 6))),  # z = (-1/6, 1/6)
    ((F(1, 3), F(1, 3)), (F(-1, 2), 0)),        # z = (0, 0): on both walls
    ((-1, 4), (1 - F(1, 2), -1)),               # z = (-5, 1)
    ((F(1, 2), 0), (1 + 0 - F(1, 2), 0)),       # z = (1/2, 0): the second sits on its wall
])
def test_relu_hand_examples(x: tuple, y: tuple) -> None:
    assert evaluate(RELU, x) == y


def test_evaluate_returns_fractions_for_int_points() -> None:
    assert all(isinstance(v, Fraction) for v in evaluate(RELU, (1, 2)))


def test_output_layer_has_no_relu() -> None:
    net = ReluNetwork.from_lists([([[1]], [0]), ([[-1]], [-5])])
    assert evaluate(net, (3,)) == (-8,)


def test_point_of_the_wrong_length() -> None:
    with pytest.raises(InputError, match="point has 3 coordinates, the network takes 2"):
        evaluate(RELU, (1, 2, 3))


# Hidden layer 1: a = (ReLU(x1), ReLU(x2)). Layer 2: ReLU(∞ a1 − ∞ a2 + 1) and the constant
# ReLU(2). Output: both layer-2 neurons.
EXTENDED = ReluNetwork.from_lists([
    ([[1, 0], [0, 1]], [0, 0]),
    ([["inf", "-inf"], [0, 0]], [1, 2]),
    ([[1, 0], [0, 1]], [0, 0]),
])


@pytest.mark.parametrize(("x", "y"), [
    ((0, 0), (1, 2)),            # 0 · ∞ = 0 twice
    ((1, 0), (POS_INF, 2)),      # ∞ + 1 = ∞ survives the ReLU
    ((0, 1), (0, 2)),            # −∞ + 1 = −∞, ReLU gives 0
    ((-3, 5), (0, 2)),
    ((7, -2), (POS_INF, 2)),
])
def test_extended_hand_examples(x: tuple, y: tuple) -> None:
    assert evaluate(EXTENDED, x) == y


def test_extended_undefined_names_layer_and_neuron() -> None:
    with pytest.raises(UndefinedError, match=r"^layer 2, neuron 1: ∞ − ∞ is undefined"):
        evaluate(EXTENDED, (1, 1))


def test_zero_weight_times_infinite_activation_is_zero() -> None:
    # The output takes 0 · (∞ from layer 2, neuron 1) + neuron 2.
    net = ReluNetwork.from_lists([
        ([[1, 0], [0, 1]], [0, 0]),
        ([["inf", "-inf"], [0, 0]], [1, 2]),
        ([[0, 1], ["-inf", 0]], [0, 0]),
    ])
    assert evaluate(net, (1, 0)) == (2, NEG_INF)
    assert evaluate(net, (0, 0)) == (2, NEG_INF)
    assert evaluate(net, (0, 1)) == (2, 0)


def test_infinite_gate_of_the_shallow_construction() -> None:
    # p = ReLU(ReLU(x) − ∞ · ReLU(x − 1)) = 1{x ≤ 1} · ReLU(x) (DESIGN section 4).
    net = ReluNetwork.from_lists([([[1], [1]], [0, -1]), ([[1, "-inf"]], [0]), ([[1]], [0])])
    for x, y in [(F(-2), 0), (F(0), 0), (F(1, 2), F(1, 2)), (F(1), 1), (F(3, 2), 0), (F(9), 0)]:
        assert evaluate(net, (x,)) == (y,)


# One input; gating layer 1: q = (x, 1 − x); gating layer 2 (dgn): ReLU(x) + ReLU(1 − x) − 2,
# (dlgn, second row only): x − (1 − x) = 2x − 1. Value: (2x + 1, 3x), then h1 + h2 + 1, then
# y = 5 h + 7.
def hand_gated(kind: str, value_input: str = "x") -> GatedNetwork:
    second = [[1, 1]] if kind == "dgn" else [[1, -1]]
    gating = (Layer.build([[1], [-1]], [0, 1], "g0"),
              Layer.build(second, [-2 if kind == "dgn" else 0], "g1"))
    value = (Layer.build([[2], [3]], [1, 0], "v0"),
             Layer.build([[1, 1]], [1], "v1"),
             Layer.build([[5]], [7], "v2"))
    return GatedNetwork(kind, gating, value, value_input)


@pytest.mark.parametrize(("x", "gates", "y"), [
    (F(3), ((True, False), (True,)), 5 * (7 + 0 + 1) + 7),
    (F(-2), ((False, True), (True,)), 5 * (0 - 6 + 1) + 7),
    (F(1, 2), ((True, True), (False,)), 7),
    (F(2), ((True, False), (False,)), 7),       # q = 2 + 0 − 2 = 0: gate off
    (F(-1), ((False, True), (False,)), 7),      # q = 0 + 2 − 2 = 0: gate off
    (F(0), ((False, True), (False,)), 7),       # q1 = 0: gate off
    (F(5, 2), ((True, False), (True,)), 5 * (6 + 0 + 1) + 7),
])
def test_dgn_hand_examples(x: Fraction, gates: tuple, y: Fraction) -> None:
    net = hand_gated("dgn")
    assert gates_at(net, (x,)) == gates
    assert evaluate(net, (x,)) == (y,)
    assert evaluate_gated(net, (x,)) == (y,)


@pytest.mark.parametrize(("x", "gates", "y_x", "y_ones"), [
    (F(3), ((True, False), (True,)), 5 * (7 + 1) + 7, 5 * (3 + 1) + 7),
    (F(1, 2), ((True, True), (False,)), 7, 7),          # 2x − 1 = 0: gate off
    (F(3, 4), ((True, True), (True,)), 5 * (F(5, 2) + F(9, 4) + 1) + 7, 5 * (3 + 3 + 1) + 7),
    (F(-1), ((False, True), (False,)), 7, 7),
    (F(1), ((True, False), (True,)), 5 * (3 + 1) + 7, 5 * (3 + 1) + 7),
])
def test_dlgn_hand_examples_with_both_value_inputs(x: Fraction, gates: tuple, y_x: Fraction,
                                                   y_ones: Fraction) -> None:
    for value_input, y in (("x", y_x), ("ones", y_ones)):
        net = hand_gated("dlgn", value_input)
        assert gates_at(net, (x,)) == gates
        assert evaluate(net, (x,)) == (y,)


def test_dlgn_with_ones_is_piecewise_constant() -> None:
    net = hand_gated("dlgn", "ones")
    assert evaluate(net, (F(3, 4),)) == evaluate(net, (F(9, 10),)) == (42,)


def test_gated_point_of_the_wrong_length() -> None:
    with pytest.raises(InputError, match="point has 2 coordinates, the network takes 1"):
        evaluate(hand_gated("dgn"), (1, 2))


@given(st.data())
def test_relu_network_equals_its_dgn_gated_by_itself(data: st.DataObject) -> None:
    net = data.draw(relu_networks(output_dim=st.integers(1, 2)))
    x = data.draw(points(net.input_dim))
    as_dgn = GatedNetwork("dgn", net.layers[:-1], net.layers)
    assert evaluate(as_dgn, x) == evaluate(net, x)


@given(st.data())
def test_gates_are_the_signs_of_the_relu_preactivations(data: st.DataObject) -> None:
    net = data.draw(relu_networks())
    x = data.draw(points(net.input_dim))
    as_dgn = GatedNetwork("dgn", net.layers[:-1], net.layers)
    for depth, gates in enumerate(gates_at(as_dgn, x), start=1):
        # The first `depth` layers as a network output the layer's pre-activations.
        z = evaluate(ReluNetwork(net.layers[:depth]), x)
        assert gates == tuple(v > 0 for v in z)


@given(st.data())
def test_a_gate_with_zero_preactivation_is_off(data: st.DataObject) -> None:
    net = data.draw(gated_networks(kind=st.sampled_from(["dgn", "dlgn"]), hidden_widths=(2,),
                                   value_input=st.sampled_from(["x", "ones"])))
    x = data.draw(points(net.input_dim))
    # Gate 1 now has q = 0 everywhere, so only value neuron 2 can reach the output.
    gate = net.gating[0]
    stuck = Layer(((Fraction(0),) * net.input_dim, gate.weights[1]), (Fraction(0), gate.bias[1]))
    off = GatedNetwork(net.kind, (stuck,), net.value, net.value_input)
    h0 = x if net.value_input == "x" else (Fraction(1),) * net.input_dim
    q2 = sum(w * v for w, v in zip(gate.weights[1], x)) + gate.bias[1]
    value2 = sum(w * v for w, v in zip(net.value[0].weights[1], h0)) + net.value[0].bias[1]
    out = net.value[1]
    expected = out.bias[0] + (out.weights[0][1] * value2 if q2 > 0 else 0)
    assert gates_at(off, x)[0][0] is False
    assert evaluate(off, x) == (expected,)
