"""The public hypothesis strategies: shapes as requested, wall and vertex points exact."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deep2shallow_exact.local import local_view
from deep2shallow_exact.network import GatedNetwork, Network, ReluNetwork
from deep2shallow_exact.strategies import (
    gated_networks,
    points,
    points_on_vertices,
    points_on_walls,
    rationals,
    relu_networks,
)

F = Fraction


def preactivations(net: Network, x: tuple[Fraction, ...]) -> list[list[Fraction]]:
    """Every gate-deciding pre-activation at x, by a plain exact forward pass."""
    layers = net.gating if isinstance(net, GatedNetwork) else net.layers[:-1]
    linear = isinstance(net, GatedNetwork) and net.kind == "dlgn"
    signal, found = list(x), []
    for layer in layers:
        z = [b + sum(w * a for w, a in zip(row, signal)) for row, b in zip(layer.weights,
                                                                           layer.bias)]
        found.append(z)
        signal = z if linear else [max(v, F(0)) for v in z]
    return found


def zeros(net: Network, x: tuple[Fraction, ...]) -> list[tuple[int, int]]:
    return [(depth, j) for depth, layer in enumerate(preactivations(net, x))
            for j, v in enumerate(layer) if v == 0]


def independent(u: tuple[Fraction, ...], v: tuple[Fraction, ...]) -> bool:
    """Some 2×2 minor of the matrix with rows u and v is nonzero."""
    return any(u[i] * v[k] - u[k] * v[i] for i in range(len(u)) for k in range(len(u)))


@given(rationals(max_numerator=7, max_denominator=3))
def test_rationals_have_bounded_height(value: Fraction) -> None:
    assert isinstance(value, Fraction)
    assert abs(value.numerator) <= 7 and value.denominator <= 3


def test_rationals_refuses_empty_ranges() -> None:
    with pytest.raises(ValueError):
        rationals(max_denominator=0)


@given(points(3, rationals(1, 1)))
def test_points(x: tuple) -> None:
    assert len(x) == 3 and all(isinstance(v, Fraction) and v in (-1, 0, 1) for v in x)


@given(relu_networks(input_dim=2, hidden_widths=(3, 2), output_dim=2, weights=rationals(2, 1)))
def test_relu_networks_fixed_shape(net: ReluNetwork) -> None:
    assert net.kind == "relu"
    assert net.widths == (2, 3, 2, 2)
    assert all(isinstance(v, Fraction) and v in range(-2, 3)
               for layer in net.layers for v in layer.entries())


@given(relu_networks())
def test_relu_networks_default_shapes_are_small(net: ReluNetwork) -> None:
    assert 1 <= net.input_dim <= 3
    assert 1 <= len(net.hidden_widths) <= 3
    assert all(1 <= w <= 4 for w in net.hidden_widths)
    assert net.output_dim == 1
    assert not net.is_extended


@given(relu_networks(input_dim=st.just(4), hidden_widths=st.just((5,)),
                     output_dim=st.integers(2, 3)))
def test_relu_networks_shapes_from_strategies(net: ReluNetwork) -> None:
    assert net.widths[:3] == (4, 5, net.output_dim)
    assert net.output_dim in (2, 3)


@given(gated_networks(kind="dlgn", input_dim=3, hidden_widths=(2, 4), output_dim=2,
                      value_input="ones"))
def test_gated_networks_fixed_shape(net: GatedNetwork) -> None:
    assert (net.kind, net.value_input) == ("dlgn", "ones")
    assert net.widths == (3, 2, 4, 2)
    assert tuple(layer.out_dim for layer in net.value) == (2, 4, 2)


@given(gated_networks())
def test_gated_networks_defaults(net: GatedNetwork) -> None:
    assert (net.kind, net.value_input) == ("dgn", "x")
    assert 1 <= net.input_dim <= 3 and 1 <= len(net.hidden_widths) <= 3
    assert net.output_dim == 1


@given(st.data())
def test_wall_points_of_relu_networks(data: st.DataObject) -> None:
    net = data.draw(relu_networks())
    x = data.draw(points_on_walls(net))
    assert len(x) == net.input_dim
    assert zeros(net, x)


@given(st.data())
def test_wall_points_of_gated_networks(data: st.DataObject) -> None:
    net = data.draw(gated_networks(kind=st.sampled_from(["dgn", "dlgn"])))
    x = data.draw(points_on_walls(net))
    assert zeros(net, x)


@settings(max_examples=30)
@given(st.data())
def test_walls_of_a_hand_network(data: st.DataObject) -> None:
    # z1 = x, z2 = ReLU(x) − 1: the walls are x = 0 and x = 1.
    net = ReluNetwork.from_lists([([[1]], [0]), ([[1]], [-1]), ([[1]], [0])])
    assert data.draw(points_on_walls(net)) in ((0,), (1,))


@settings(max_examples=30)
@given(st.data())
def test_a_neuron_that_is_zero_everywhere_is_not_a_wall(data: st.DataObject) -> None:
    # Neuron 1 is 0 at every point; the only wall is x = 1/2 of neuron 2.
    net = ReluNetwork.from_lists([([[0], [2]], [0, -1]), ([[1, 1]], [0])])
    assert data.draw(points_on_walls(net)) == (F(1, 2),)


@settings(max_examples=30)
@given(st.data())
def test_vertex_of_a_hand_network(data: st.DataObject) -> None:
    # Walls x1 = 1 and x2 = 2 (and the line through both vertices is no wall): one vertex.
    net = ReluNetwork.from_lists([([[1, 0], [0, 1]], [-1, -2]), ([[1, 1]], [0])])
    assert data.draw(points_on_vertices(net)) == (F(1), F(2))


@settings(max_examples=30)
@given(st.data())
def test_vertices_of_the_coordinate_arrangement(data: st.DataObject) -> None:
    net = ReluNetwork.from_lists([([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [0, 0, 0]),
                                  ([[1, 1, 1]], [0])])
    x = data.draw(points_on_vertices(net))
    assert sum(v == 0 for v in x) >= 2


@given(st.data())
def test_vertices_of_one_hidden_layer_use_independent_weight_rows(data: st.DataObject) -> None:
    net = data.draw(relu_networks(input_dim=st.integers(2, 3),
                                  hidden_widths=st.tuples(st.integers(2, 4))))
    x = data.draw(points_on_vertices(net))
    rows = [net.layers[0].weights[j] for _, j in zeros(net, x)]
    assert any(independent(u, v) for u in rows for v in rows)


@given(st.data())
def test_vertices_of_deep_networks(data: st.DataObject) -> None:
    net = data.draw(st.one_of(relu_networks(input_dim=st.integers(2, 3)),
                              gated_networks(kind=st.sampled_from(["dgn", "dlgn"]),
                                             input_dim=st.integers(2, 3))))
    x = data.draw(points_on_vertices(net))
    zero = zeros(net, x)
    assert len(zero) >= 2
    # The gradients on the piece of x come from the local view, tested on its own.
    view = local_view(net, x)
    gradients = [view.preactivations[depth][j].coeffs for depth, j in zero]
    assert any(independent(u, v) for u in gradients for v in gradients)


def test_vertices_need_two_inputs() -> None:
    net = ReluNetwork.from_lists([([[1]], [0]), ([[1]], [0])])
    with pytest.raises(ValueError, match="at least 2 inputs"):
        points_on_vertices(net)
