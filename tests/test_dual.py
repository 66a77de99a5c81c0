"""Neural paths and the neural path kernel against ground truth computed here by other means."""

from __future__ import annotations

import json
from fractions import Fraction
from itertools import product
from math import prod
from pathlib import Path as FilePath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deep2shallow_exact.dual import (
    Path,
    is_positive_semidefinite,
    load_points,
    npk,
    npk_gram,
    path_count,
    path_features,
    path_value,
    paths,
)
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate, gates_at
from deep2shallow_exact.formats import load_network
from deep2shallow_exact.network import GatedNetwork, Layer, ReluNetwork
from deep2shallow_exact.strategies import (
    gated_networks,
    points,
    points_on_walls,
    rationals,
    relu_networks,
)

F = Fraction
EXAMPLES = FilePath(__file__).parent.parent / "deep2shallow_exact" / "examples"

small_relu = relu_networks(output_dim=st.integers(1, 2))
small_gated = gated_networks(kind=st.sampled_from(["dgn", "dlgn"]),
                             value_input=st.sampled_from(["x", "ones"]),
                             output_dim=st.integers(1, 2))
any_network = st.one_of(small_relu, small_gated)


def relu_gates(net: ReluNetwork, x) -> tuple[tuple[bool, ...], ...]:
    """The activation pattern by a plain forward pass (independent of the code under test)."""
    a, gates = list(x), []
    for layer in net.layers[:-1]:
        z = [b + sum(w * v for w, v in zip(row, a)) for row, b in zip(layer.weights, layer.bias)]
        gates.append(tuple(v > 0 for v in z))
        a = [max(v, F(0)) for v in z]
    return tuple(gates)


def hidden_gates(net, x):
    return relu_gates(net, x) if isinstance(net, ReluNetwork) else gates_at(net, x)


def source(net, x):
    ones = isinstance(net, GatedNetwork) and net.value_input == "ones"
    return tuple(F(1) for _ in x) if ones else tuple(x)


def dot(u, v) -> Fraction:
    return sum((a * b for a, b in zip(u, v)), F(0))


# -- paths -------------------------------------------------------------------------------------

def test_paths_of_a_hand_worked_network():
    # y = 1·ReLU(x1 + 2 x2 + 1) − 1·ReLU(3 x1 − x2 − 1) + 2
    net = ReluNetwork.from_lists([([[1, 2], [3, -1]], [1, -1]), ([[1, -1]], [2])])
    listed = [(p.text(), path_value(net, p)) for p in paths(net)]
    assert listed == [
        ("x1 -> h1[1] -> y1", 1), ("x1 -> h1[2] -> y1", -3),
        ("x2 -> h1[1] -> y1", 2), ("x2 -> h1[2] -> y1", 1),
        ("bias@layer 1 -> h1[1] -> y1", 1), ("bias@layer 1 -> h1[2] -> y1", 1),
        ("bias@layer 2 -> y1", 2),
    ]
    assert path_count(net) == 7
    # At (1, 1) both neurons are on (4 and 1): every feature is x_i or 1, and the sum is
    # 1 − 3 + 2 + 1 + 1 + 1 + 2 = 5 = ReLU(4) − ReLU(1) + 2.
    assert [phi for _, phi in path_features(net, (1, 1))] == [1] * 7
    # At (0, 1) neuron 2 is off (−2): the paths through h1[2] vanish; 2·1 + 1 + 2 = 5.
    features = dict(path_features(net, (0, 1)))
    assert [features[p] for p in paths(net)] == [0, 0, 1, 0, 1, 0, 1]
    assert evaluate(net, (0, 1)) == (5,)
    assert Path(0, 2, (), 1).to_document() == {"source": "bias@layer 2", "neurons": [],
                                               "output": 1}


@settings(max_examples=60, deadline=None)
@given(net=any_network)
def test_path_count_is_the_product_of_widths(net):
    listed = list(paths(net))
    assert len(listed) == path_count(net) == len(set(listed))
    w = net.widths
    # input paths n·w_1···w_{L−1}·m, then one family per layer whose bias starts the path
    expected = prod(w) + sum(prod(w[start:]) for start in range(1, len(w)))
    assert path_count(net) == expected
    assert sum(not p.is_bias for p in listed) == prod(w)


@settings(max_examples=80, deadline=None)
@given(net=any_network, data=st.data())
def test_output_is_the_sum_over_paths_of_feature_times_value(net, data):
    assert_path_sum_is_the_output(net, data.draw(points(net.input_dim)))


@settings(max_examples=40, deadline=None)
@given(net=any_network, data=st.data())
def test_path_sum_identity_holds_on_the_walls(net, data):
    # Some gate has q = 0 at these points and is off.
    assert_path_sum_is_the_output(net, data.draw(points_on_walls(net)))


def assert_path_sum_is_the_output(net, x) -> None:
    totals = [F(0)] * net.output_dim
    for p, phi in path_features(net, x):
        totals[p.output - 1] += phi * path_value(net, p)
    assert tuple(totals) == evaluate(net, x)


@settings(max_examples=40, deadline=None)
@given(net=any_network, data=st.data())
def test_features_are_input_times_gates(net, data):
    x = data.draw(points(net.input_dim))
    gates, h0 = hidden_gates(net, x), source(net, x)
    for p, phi in path_features(net, x):
        on = all(gates[p.layer - 1 + d][j - 1] for d, j in enumerate(p.neurons))
        start = F(1) if p.is_bias else h0[p.input - 1]
        assert phi == (start if on else 0)


def test_paths_refuse_an_extended_network():
    net = load_network(EXAMPLES / "gating_identity.json")
    with pytest.raises(InputError, match="finite network is required"):
        path_count(net)


def test_paths_of_a_network_without_hidden_layers():
    net = ReluNetwork.from_lists([([[2, -3]], [F(1, 2)])])
    assert path_count(net) == 3
    x = (F(1, 3), 5)
    assert sum(phi * path_value(net, p) for p, phi in path_features(net, x)) == \
        F(2, 3) - 15 + F(1, 2)
    assert npk(net, x, (1, 1)) == F(1, 3) + 5


# -- the neural path kernel --------------------------------------------------------------------

def enumerated_kernel(net, x, y, bias_paths: bool) -> Fraction:
    """⟨φ(x), φ(y)⟩ by listing every path."""
    fx, fy = list(path_features(net, x)), list(path_features(net, y))
    return sum((a * b for (p, a), (_, b) in zip(fx, fy) if bias_paths or not p.is_bias), F(0))


def without_biases(net):
    def zero(layer: Layer) -> Layer:
        return Layer(layer.weights, (F(0),) * layer.out_dim)
    if isinstance(net, ReluNetwork):
        return ReluNetwork(tuple(zero(layer) for layer in net.layers))
    return GatedNetwork(net.kind, tuple(zero(layer) for layer in net.gating),
                        tuple(zero(layer) for layer in net.value), net.value_input)


@settings(max_examples=60, deadline=None)
@given(net=st.one_of(relu_networks(), gated_networks(kind=st.sampled_from(["dgn", "dlgn"]))),
       data=st.data())
def test_npk_of_a_bias_free_single_output_network_factors_by_layers(net, data):
    net = without_biases(net)
    xs = data.draw(st.lists(points(net.input_dim), min_size=1, max_size=4))
    gram = npk_gram(net, xs)
    for i, j in product(range(len(xs)), repeat=2):
        gx, gy = hidden_gates(net, xs[i]), hidden_gates(net, xs[j])
        expected = dot(xs[i], xs[j]) * prod(sum(a and b for a, b in zip(u, v))
                                            for u, v in zip(gx, gy))
        assert gram[i][j] == expected


@settings(max_examples=60, deadline=None)
@given(net=any_network, data=st.data(), bias_paths=st.booleans())
def test_npk_dynamic_programming_equals_path_enumeration(net, data, bias_paths):
    xs = data.draw(st.lists(points(net.input_dim), min_size=1, max_size=3))
    gram = npk_gram(net, xs, bias_paths)
    for i, j in product(range(len(xs)), repeat=2):
        assert gram[i][j] == enumerated_kernel(net, xs[i], xs[j], bias_paths)


@settings(max_examples=40, deadline=None)
@given(net=any_network, data=st.data(), bias_paths=st.booleans())
def test_npk_gram_is_symmetric_and_positive_semidefinite(net, data, bias_paths):
    xs = data.draw(st.lists(points(net.input_dim), min_size=1, max_size=6))
    gram = npk_gram(net, xs, bias_paths)
    assert all(gram[i][j] == gram[j][i] for i in range(len(xs)) for j in range(len(xs)))
    assert is_positive_semidefinite(gram)
    assert all(gram[i][i] >= 0 for i in range(len(xs)))


def test_npk_of_the_hand_worked_dlgn():
    net = load_network(EXAMPLES / "dlgn_jump.json")
    x, y = (F(1, 4), F(1, 2)), (F(1), F(1, 2))
    # Gates at x: x1 > 0 on, x1 + x2 − 1 = −1/4 off, 2 − x2 on; at y: all on. Input paths:
    # ⟨x, y⟩·(common gates of layer 1 = 1)·(layer 2 = 1) = (1/4 + 1/4)·1·1.
    assert npk(net, x, y) == F(1, 2)
    # Bias paths add: bias@1 through h1[1] (on at both) → 1, bias@2 → 1, bias@3 → 1.
    assert npk(net, x, y, bias_paths=True) == F(1, 2) + 3
    # On the wall x1 = 0 gate 1.1 is off; x1 + x2 − 1 = −1/2 is off too: no input path is on.
    assert npk(net, (0, F(1, 2)), y) == 0


def test_npk_with_ones_as_value_input_counts_common_gates():
    net = GatedNetwork("dlgn", (Layer(((F(1),), (F(-1),)), (F(0), F(1))),),
                       (Layer(((F(5),), (F(7),)), (F(0), F(0))), Layer(((F(1), F(1)),), (F(0),))),
                       "ones")
    # gates 1{x > 0}, 1{1 − x > 0}: at 1/2 both on, at 2 only the first, at −1 only the second
    assert npk_gram(net, [(F(1, 2),), (2,), (-1,)]) == [[2, 1, 1], [1, 1, 0], [1, 0, 1]]


# -- the exact PSD test ------------------------------------------------------------------------

@pytest.mark.parametrize("matrix", [
    [], [[0]], [[3]], [[0, 0], [0, 1]], [[1, 1], [1, 1]], [[2, -1, 0], [-1, 2, -1], [0, -1, 2]],
    [[1, 2, 3], [2, 4, 6], [3, 6, 9]], [[F(1, 3), F(1, 6)], [F(1, 6), F(1, 12)]],
])
def test_positive_semidefinite_by_hand(matrix):
    assert is_positive_semidefinite(matrix)


@pytest.mark.parametrize("matrix", [
    [[-1]], [[1, 2], [2, 1]], [[0, 1], [1, 0]], [[0, 1], [1, 1]], [[1, 0], [0, -1]],
    [[1, 1, 1], [1, 1, 1], [1, 1, F(1, 2)]], [[2, -1, 0], [-1, 2, -1], [0, -1, F(1, 2)]],
])
def test_not_positive_semidefinite_by_hand(matrix):
    assert not is_positive_semidefinite(matrix)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.data())
def test_gram_matrices_are_psd_and_a_negative_direction_is_found(rows, size, data):
    b = [[data.draw(rationals(6, 3)) for _ in range(size)] for _ in range(rows)]
    a = [[sum((b[k][i] * b[k][j] for k in range(rows)), F(0)) for j in range(size)]
         for i in range(size)]
    assert is_positive_semidefinite(a)  # BᵀB
    u = [data.draw(rationals(4, 2)) for _ in range(size)]
    if not any(u):
        return
    # A' = A − (uᵀAu + 1)·w wᵀ with w = u/|u|² has uᵀA'u = −1 < 0: a witness against PSD.
    quad = sum(u[i] * a[i][j] * u[j] for i in range(size) for j in range(size))
    w = [v / dot(u, u) for v in u]
    shifted = [[a[i][j] - (quad + 1) * w[i] * w[j] for j in range(size)] for i in range(size)]
    assert not is_positive_semidefinite(shifted)


def test_psd_test_refuses_non_square_and_non_symmetric_matrices():
    with pytest.raises(InputError, match="not square"):
        is_positive_semidefinite([[1, 0]])
    with pytest.raises(InputError, match="not symmetric at rows 1 and 2"):
        is_positive_semidefinite([[1, 0], [1, 1]])


# -- points files ------------------------------------------------------------------------------

def test_load_points_from_json_and_text(tmp_path):
    doc = tmp_path / "p.json"
    doc.write_text('{"points": [[1, "1/3"], [0.1, -2]]}')
    assert load_points(doc, 2) == [(1, F(1, 3)), (F(1, 10), -2)]
    text = tmp_path / "p.txt"
    text.write_text("# a comment\n1, 1/3\n\n 0.1 ,-2\n")
    assert load_points(text, 2) == [(1, F(1, 3)), (F(1, 10), -2)]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("a.txt", "1,2\n3\n", "a.txt: line 2 has 1 coordinates, the network takes 2"),
    ("a.txt", "1,2\n1,x\n", "a.txt: line 2, coordinate 2: 'x' is not a rational number"),
    ("a.txt", "# nothing\n\n", "a.txt: no points"),
    ("a.json", '{"points": [[1, 2], [1]]}', r"a.json: points\[1\] has 1 coordinates"),
    ("a.json", '{"points": [[1, "1/0"]]}', r"a.json: points\[0\]\[1\]: '1/0' is not"),
    ("a.json", '{"points": [[1, true]]}', r"a.json: points\[0\]\[1\]: True is not a number"),
    ("a.json", '{"points": [[1, 2], 3]}', r"a.json: points\[1\]: expected a list"),
    ("a.json", '{"points": 3}', "a.json: points: expected"),
    ("a.json", '{"points": [[1, 2]', "a.json: malformed JSON"),
    ("a.json", '{"points": [[1, NaN]]}', "a.json: NaN is not valid JSON"),
])
def test_load_points_names_the_bad_line_or_point(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_points(path, 2)


def test_load_points_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_points(tmp_path / "none.json", 2)


def test_wrong_point_dimension_is_input_error():
    net = ReluNetwork.from_lists([([[1, 2]], [0]), ([[1]], [0])])
    with pytest.raises(InputError, match="point 2 has 1 coordinates, the network takes 2"):
        npk_gram(net, [(1, 2), (1,)])
    with pytest.raises(InputError, match="point has 3 coordinates"):
        next(path_features(net, (1, 2, 3)))
    assert json.dumps([p.to_document() for p in paths(net)])  # plain data
