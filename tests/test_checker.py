"""The checker (DESIGN section 5) against facts known independently of it.

Refutations: pairs of networks that differ only on a point, a line or one wall — sets that
random sampling never hits — must be refuted at a point of exactly that set, confirmed by exact
evaluation. Proofs: the same function written differently (scaled, duplicated or reordered
neurons, a different depth, the gated form) must be proven, and the certificate must pass the
trusted kernel. Every expected value below follows from the construction of the networks, not
from the code under test.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from itertools import product
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.affine import Affine
from deep2shallow_exact.checker import CheckResult, check, continuous_pair, prove_on_tree
from deep2shallow_exact.domain import Domain, box, everywhere
from deep2shallow_exact.errors import InputError, UndefinedError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats import load_network, network_to_document
from deep2shallow_exact.kernel import verify
from deep2shallow_exact.network import GatedNetwork, Layer, Network, ReluNetwork
from deep2shallow_exact.numbers import Infinity
from deep2shallow_exact.strategies import gated_networks, points, rationals, relu_networks

F = Fraction
EXAMPLES = Path(__file__).resolve().parents[1] / "deep2shallow_exact" / "examples"
LayerLists = list[tuple[list[list[object]], list[object]]]

# A grid of points with small denominators: what a sampling test would try.
GRID_1D = [(F(k, 4),) for k in range(-12, 13)]
GRID_2D = [(F(a, 2), F(b, 2)) for a, b in product(range(-5, 6), repeat=2)]


def relu_net(*layers: tuple[list, list]) -> ReluNetwork:
    return ReluNetwork.from_lists(list(layers))


def gated(kind: str, gating: LayerLists, value: LayerLists, value_input: str = "x"
          ) -> GatedNetwork:
    return GatedNetwork(kind, tuple(Layer.build(w, b, "gating") for w, b in gating),
                        tuple(Layer.build(w, b, "value") for w, b in value), value_input)


def outputs_or_undefined(net: Network, x: Sequence[Fraction]) -> object:
    try:
        return evaluate(net, x)
    except UndefinedError:
        return "undefined"


def assert_refuted(result: CheckResult, a: Network, b: Network) -> tuple[Fraction, ...]:
    """REFUTED, and the reported outputs are the exact outputs there, which really differ."""
    assert result.verdict == "REFUTED" and not result.proven
    assert result.certificate is None
    x = result.counterexample
    assert x is not None and all(isinstance(v, Fraction) for v in x)
    first, second = outputs_or_undefined(a, x), outputs_or_undefined(b, x)
    assert result.outputs == (first, second)
    assert first != second or any(isinstance(v, Infinity) for v in first)
    return x


def assert_proven(result: CheckResult, a: Network, b: Network,
                  samples: Sequence[Sequence[Fraction]] = ()) -> None:
    """PROVEN with a certificate the kernel accepts; the two agree at the sample points."""
    assert result.verdict == "PROVEN" and result.counterexample is None
    assert result.certificate is not None
    # About exactly these two networks, and the claim the checker reports is the kernel's.
    verdict = verify(result.certificate, (network_to_document(a), network_to_document(b)))
    assert verdict.valid, (verdict.path, verdict.reason)
    assert verdict.pieces == result.pieces_checked
    assert result.kernel is not None and result.kernel.claim == verdict.claim
    if result.scope == "everywhere" or continuous_pair(a, b):
        assert "off the hyperplanes" not in verdict.claim
    for x in samples:
        assert evaluate(a, x) == evaluate(b, x)


# -- networks that differ on a set sampling misses ---------------------------------------------

def with_indicator(hidden: LayerLists, out: list[object], out_bias: object,
                   zero_set: LayerLists, extra: list[object]) -> tuple[ReluNetwork, ReluNetwork]:
    """f = Σ_j out_j ReLU(h_j) + out_bias, and g = f + Σ_k extra_k · 1_Z, where Z is the set on
    which every function of ``zero_set`` vanishes.

    1_Z = ReLU(1 − ∞ · Σ_z (ReLU(z) + ReLU(−z))): the sum is 0 on Z and > 0 elsewhere, and
    ∞ · 0 = 0. f's hidden values pass through the second layer unchanged (ReLU(a) = a for
    a ≥ 0), so g has one more layer than f. With extra = ["inf", "-inf"] g is undefined on Z."""
    (hidden_w, hidden_b), = hidden
    walls = [(row, c) for (rows, consts) in zero_set for row, c in zip(rows, consts)]
    f = relu_net((hidden_w, hidden_b), ([out], [out_bias]))
    k = len(hidden_w)
    first_w = [*hidden_w, *(r for row, _ in walls for r in (row, [-F(v) for v in row]))]
    first_b = [*hidden_b, *(c for _, const in walls for c in (const, -F(const)))]
    gate = [0] * k + ["-inf"] * (2 * len(walls))
    second_w = [[int(i == j) for i in range(len(first_w))] for j in range(k)]
    second_w += [gate] * len(extra)
    second_b = [0] * k + [1] * len(extra)
    g = relu_net((first_w, first_b), (second_w, second_b), ([[*out, *extra]], [out_bias]))
    return f, g


ABS_1D: LayerLists = [([[1], [-1]], [0, 0])]          # ReLU(x), ReLU(−x)
ABS_2D: LayerLists = [([[1, 0], [-1, 0], [0, 1], [1, 1]], [0, 0, "1/2", -1])]


def test_differ_at_a_single_point_in_1d() -> None:
    f, g = with_indicator(ABS_1D, [1, 2], "1/5", [([[1]], ["-1/3"])], [5])
    for x in GRID_1D:  # 1/3 is not on the grid, and nowhere else do f and g differ
        assert evaluate(f, x) == evaluate(g, x)
    for a, b in ((f, g), (g, f)):
        result = check(a, b)
        assert assert_refuted(result, a, b) == (F(1, 3),)
    assert check(f, g).outputs == ((F(1, 3) + F(1, 5),), (F(1, 3) + F(1, 5) + 5,))


def test_differ_at_a_single_point_in_2d() -> None:
    f, g = with_indicator(ABS_2D, [1, -1, 2, "1/3"], 0,
                          [([[1, 0], [0, 1]], ["-1/3", "2/5"])], ["-1/7"])
    for x in GRID_2D:
        assert evaluate(f, x) == evaluate(g, x)
    assert assert_refuted(check(f, g), f, g) == (F(1, 3), F(-2, 5))


def test_differ_on_a_single_line_in_2d() -> None:
    # Z is the line x1 − 2 x2 − 1/3 = 0, which no grid point of GRID_2D meets.
    f, g = with_indicator(ABS_2D, [1, -1, 2, "1/3"], 0, [([[1, -2]], ["-1/3"])], [3])
    for x in GRID_2D:
        assert evaluate(f, x) == evaluate(g, x)
    x = assert_refuted(check(f, g), f, g)
    assert x[0] - 2 * x[1] == F(1, 3)


def test_dlgns_that_differ_only_on_one_wall() -> None:
    # a = (x1 + 1) · 1{x1 − x2 > 0}; b = (x1 + 1) · 1{1 > 0} − (x1 + 1) · 1{x2 − x1 > 0}
    #   = (x1 + 1) · 1{x1 − x2 ≥ 0}. They differ exactly on the wall x1 = x2 (off x1 = −1).
    a = gated("dlgn", [([[1, -1]], [0])], [([[1, 0]], [1]), ([[1]], [0])])
    b = gated("dlgn", [([[-1, 1], [0, 0]], [0, 1])], [([[1, 0], [1, 0]], [1, 1]), ([[-1, 1]], [0])])
    for x in GRID_2D:
        assert (evaluate(a, x) == evaluate(b, x)) == (x[0] != x[1] or x[0] == -1)
    x = assert_refuted(check(a, b), a, b)
    assert x[0] == x[1] and x[0] != -1
    assert check(a, b).outputs == ((F(0),), (x[0] + 1,))


def test_extended_network_and_dlgn_that_differ_only_on_the_wall() -> None:
    # e = ReLU(1 − ∞ · ReLU(1 − x1 − x2)) = 1{x1 + x2 ≥ 1};  d = 1{x1 + x2 − 1 > 0}.
    e = relu_net(([[-1, -1]], [1]), ([["-inf"]], [1]), ([[1]], [0]))
    d = gated("dlgn", [([[1, 1]], [-1])], [([[0, 0]], [1]), ([[1]], [0])], "ones")
    for x in GRID_2D:
        assert (evaluate(e, x) == evaluate(d, x)) == (x[0] + x[1] != 1)
    x = assert_refuted(check(e, d), e, d)
    assert x[0] + x[1] == 1
    assert check(e, d).outputs == ((F(1),), (F(0),))


def test_extended_networks_that_differ_only_at_the_wall_in_1d() -> None:
    # ReLU(1 − ∞ · ReLU(−x)) = 1{x ≥ 0} and 1 − ReLU(1 − ∞ · ReLU(x)) = 1 − 1{x ≤ 0} = 1{x > 0}.
    closed = relu_net(([[-1]], [0]), ([["-inf"]], [1]), ([[1]], [0]))
    opened = relu_net(([[1]], [0]), ([["-inf"]], [1]), ([[-1]], [1]))
    assert assert_refuted(check(closed, opened), closed, opened) == (F(0),)
    # Scope "open" leaves out the walls, where alone they differ.
    result = check(closed, opened, scope="open")
    assert result.proven and result.scope == "open"
    assert verify(result.certificate).valid


def test_extended_network_undefined_at_one_point() -> None:
    f, g = with_indicator(ABS_1D, [1, 1], 0, [([[1]], ["-1/3"])], ["inf", "-inf"])
    for x in GRID_1D:
        assert evaluate(f, x) == evaluate(g, x)
    with pytest.raises(UndefinedError):
        evaluate(g, (F(1, 3),))
    result = check(f, g)
    assert assert_refuted(result, f, g) == (F(1, 3),)
    assert result.outputs == ((F(1, 3),), "undefined")
    assert result.to_document()["outputs"] == [["1/3"], "undefined"]


def test_extended_network_undefined_on_one_open_piece() -> None:
    # ReLU(x) + ∞ · ReLU(x − 1) − ∞ · ReLU(x − 1): undefined exactly on x > 1.
    g = relu_net(([[1], [1], [1]], [0, -1, -1]), ([[1, "inf", "-inf"]], [0]))
    f = relu_net(([[1]], [0]), ([[1]], [0]))
    for x in GRID_1D:
        assert outputs_or_undefined(g, x) == ("undefined" if x[0] > 1 else evaluate(f, x))
    x = assert_refuted(check(f, g), f, g)
    assert x[0] > 1


def test_extended_network_infinite_at_one_point() -> None:
    f, g = with_indicator(ABS_1D, [1, 1], 0, [([[1]], ["-1/3"])], ["inf"])
    result = check(g, f)
    assert assert_refuted(result, g, f) == (F(1, 3),)
    assert result.to_document()["outputs"] == ["infinite", ["1/3"]]


# -- the same function written differently ------------------------------------------------------

TINY = load_network(EXAMPLES / "tiny.json")
SAWTOOTH = load_network(EXAMPLES / "sawtooth3.json")
assert isinstance(TINY, ReluNetwork) and isinstance(SAWTOOTH, ReluNetwork)


def as_lists(net: ReluNetwork) -> LayerLists:
    return [([list(row) for row in layer.weights], list(layer.bias)) for layer in net.layers]


def scale_neuron(layers: LayerLists, layer: int, j: int, c: Fraction) -> LayerLists:
    """ReLU(c z) / c = ReLU(z) for c > 0: scale neuron j's row by c, its outgoing weights by 1/c."""
    (w, b), (w2, b2) = layers[layer], layers[layer + 1]
    w = [[v * c for v in row] if i == j else row for i, row in enumerate(w)]
    b = [v * c if i == j else v for i, v in enumerate(b)]
    w2 = [[v / c if k == j else v for k, v in enumerate(row)] for row in w2]
    return [*layers[:layer], (w, b), (w2, b2), *layers[layer + 2:]]


def duplicate_neuron(layers: LayerLists, layer: int, j: int, t: Fraction) -> LayerLists:
    """Copy neuron j; the copy takes the share t of its outgoing weights, j keeps 1 − t."""
    (w, b), (w2, b2) = layers[layer], layers[layer + 1]
    w2 = [[v * (1 - t) if k == j else v for k, v in enumerate(row)] + [row[j] * t]
          for row in w2]
    return [*layers[:layer], ([*w, w[j]], [*b, b[j]]), (w2, b2), *layers[layer + 2:]]


def permute_neurons(layers: LayerLists, layer: int, order: Sequence[int]) -> LayerLists:
    (w, b), (w2, b2) = layers[layer], layers[layer + 1]
    w2 = [[row[k] for k in order] for row in w2]
    return [*layers[:layer], ([w[k] for k in order], [b[k] for k in order]), (w2, b2),
            *layers[layer + 2:]]


def identity_after_output(layers: LayerLists) -> LayerLists:
    """y = ReLU(y) − ReLU(−y): the output layer becomes a hidden layer of ±y."""
    w, b = layers[-1]
    hidden = ([*w, *([-v for v in row] for row in w)], [*b, *(-v for v in b)])
    m = len(b)
    out = [[int(k == i) - int(k == i + m) for k in range(2 * m)] for i in range(m)]
    return [*layers[:-1], hidden, (out, [0] * m)]


def identity_after_hidden(layers: LayerLists, layer: int) -> LayerLists:
    """ReLU(I a) = a for the nonnegative outputs a of a hidden layer."""
    width = len(layers[layer][1])
    eye = [[int(i == k) for k in range(width)] for i in range(width)]
    return [*layers[:layer + 1], (eye, [0] * width), *layers[layer + 1:]]


def test_scaled_neuron_in_one_dimension() -> None:
    a = relu_net(([[2]], [0]), ([["1/2"]], [0]))   # ReLU(2x) / 2
    b = relu_net(([[1]], [0]), ([[1]], [0]))       # ReLU(x)
    assert_proven(check(a, b), a, b, GRID_1D)


@pytest.mark.parametrize("rewrite", [
    pytest.param(lambda ls: scale_neuron(ls, 0, 1, F(3)), id="scale-up"),
    pytest.param(lambda ls: scale_neuron(scale_neuron(ls, 1, 0, F(2, 7)), 0, 2, F(5)),
                 id="scale-two-layers"),
    pytest.param(lambda ls: duplicate_neuron(ls, 0, 0, F(1, 3)), id="duplicate"),
    pytest.param(lambda ls: duplicate_neuron(ls, 1, 1, F(1)), id="duplicate-move-all"),
    pytest.param(lambda ls: permute_neurons(ls, 0, [2, 0, 1]), id="reorder-layer-1"),
    pytest.param(lambda ls: permute_neurons(ls, 1, [1, 0]), id="reorder-layer-2"),
    pytest.param(identity_after_output, id="deeper-after-output"),
    pytest.param(lambda ls: identity_after_hidden(ls, 0), id="deeper-inside"),
    pytest.param(lambda ls: identity_after_output(permute_neurons(
        duplicate_neuron(scale_neuron(ls, 0, 0, F(1, 4)), 0, 2, F(2, 3)), 0, [3, 1, 0, 2])),
        id="all-at-once"),
])
def test_equal_networks_written_differently_are_proven(rewrite) -> None:
    other = ReluNetwork.from_lists(rewrite(as_lists(TINY)))
    assert other != TINY
    for a, b in ((TINY, other), (other, TINY)):
        assert_proven(check(a, b), a, b, GRID_2D[::7])


def test_deeper_sawtooth_is_proven() -> None:
    other = ReluNetwork.from_lists(identity_after_output(as_lists(SAWTOOTH)))
    assert_proven(check(SAWTOOTH, other), SAWTOOTH, other, GRID_1D)


@pytest.mark.parametrize("net", [TINY, SAWTOOTH], ids=["tiny", "sawtooth3"])
def test_relu_network_equals_its_dgn_form(net: ReluNetwork) -> None:
    # A ReLU network is the DGN gated by its own hidden layers (DESIGN section 2).
    dgn = GatedNetwork("dgn", net.layers[:-1], net.layers)
    samples = GRID_2D[::5] if net.input_dim == 2 else GRID_1D
    assert_proven(check(net, dgn), net, dgn, samples)
    assert_proven(check(dgn, net), dgn, net, samples)


def test_gating_identity_example_equals_relu() -> None:
    identity = load_network(EXAMPLES / "gating_identity.json")
    relu = relu_net(([[1]], [0]), ([[1]], [0]))
    assert_proven(check(identity, relu), identity, relu, GRID_1D)
    # and it is not the identity: refuted exactly where x < 0
    x_net = relu_net(([[1]], [0]))
    assert assert_refuted(check(identity, x_net), identity, x_net)[0] < 0


def test_domain_equality_is_used() -> None:
    # x1 and x2 agree on the line x1 = x2 and nowhere else.
    a, b = relu_net(([[1, 0]], [0])), relu_net(([[0, 1]], [0]))
    line = Domain(2, (), (Affine.of([1, -1], 0),), "the line x1 = x2")
    assert_proven(check(a, b, line), a, b, [(x, x) for x in range(-3, 4)])
    x = assert_refuted(check(a, b), a, b)
    assert x[0] != x[1]


# -- box domains -------------------------------------------------------------------------------

def test_equal_on_a_box_but_not_outside() -> None:
    a = relu_net(([[1, 0], [0, 1]], [0, 0]), ([[1, 1]], [0]))  # ReLU(x1) + ReLU(x2)
    b = relu_net(([[1, 1]], [0]))                              # x1 + x2
    unit = box([F(0), F(0)], [F(1), F(1)])
    assert_proven(check(a, b, unit), a, b, [x for x in GRID_2D if unit.contains(x)])
    x = assert_refuted(check(a, b), a, b)
    assert not unit.contains(x) and min(x) < 0
    # Touching the negative side anywhere is enough: the box [−1/8, 1] × [0, 1] refutes.
    wider = box([F(-1, 8), F(0)], [F(1), F(1)])
    x = assert_refuted(check(a, b, wider), a, b)
    assert wider.contains(x) and x[0] < 0


def test_box_is_closed_and_tight() -> None:
    kink = relu_net(([[1]], [-1]), ([[1]], [0]))  # ReLU(x − 1), zero on x ≤ 1
    zero = relu_net(([[0]], [0]))
    assert_proven(check(kink, zero, box([F(-5)], [F(1)])), kink, zero)
    x = assert_refuted(check(kink, zero, box([F(0)], [F(1) + F(1, 100)])), kink, zero)
    assert F(1) < x[0] <= F(101, 100)
    assert assert_refuted(check(kink, zero), kink, zero)[0] > 1
    # A jump exactly at the box's edge: 1{x ≥ 1} is refuted at x = 1, 1{x > 1} is not.
    closed_step = relu_net(([[-1]], [1]), ([["-inf"]], [1]), ([[1]], [0]))
    open_step = gated("dlgn", [([[1]], [-1])], [([[0]], [1]), ([[1]], [0])], "ones")
    unit = box([F(0)], [F(1)])
    assert assert_refuted(check(closed_step, zero, unit), closed_step, zero) == (F(1),)
    assert_proven(check(open_step, zero, unit), open_step, zero)


# -- random networks ---------------------------------------------------------------------------

SMALL = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SHAPES = dict(input_dim=st.integers(1, 2),
              hidden_widths=st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple))


def perturbed(net: ReluNetwork, data: st.DataObject) -> ReluNetwork:
    layers = as_lists(net)
    i = data.draw(st.integers(0, len(layers) - 1), label="layer")
    w, b = layers[i]
    row = data.draw(st.integers(0, len(b) - 1), label="row")
    col = data.draw(st.integers(-1, len(w[0]) - 1), label="column (-1: bias)")
    delta = data.draw(rationals(3, 3).filter(bool), label="delta")
    if col < 0:
        b = [v + delta if r == row else v for r, v in enumerate(b)]
    else:
        w = [[v + delta if (r, c) == (row, col) else v for c, v in enumerate(rw)]
             for r, rw in enumerate(w)]
    return ReluNetwork.from_lists([*layers[:i], (w, b), *layers[i + 1:]])


@SMALL
@given(st.data())
def test_random_network_against_a_perturbed_copy(data: st.DataObject) -> None:
    net = data.draw(relu_networks(**SHAPES), label="network")
    other = perturbed(net, data)
    samples = data.draw(st.lists(points(net.input_dim), min_size=1, max_size=6), label="points")
    result = check(net, other)
    if any(evaluate(net, x) != evaluate(other, x) for x in samples):
        assert result.verdict == "REFUTED"
    if result.proven:
        assert_proven(result, net, other, samples)
    else:
        assert_refuted(result, net, other)


@SMALL
@given(relu_networks(**SHAPES))
def test_random_network_against_itself(net: ReluNetwork) -> None:
    assert_proven(check(net, net), net, net)


@SMALL
@given(gated_networks(kind=st.sampled_from(["dgn", "dlgn"]), value_input=st.sampled_from(
    ["x", "ones"]), **SHAPES))
def test_random_gated_network_against_itself(net: GatedNetwork) -> None:
    assert_proven(check(net, net), net, net)


@SMALL
@given(relu_networks(**SHAPES), st.data())
def test_random_network_against_its_dgn_form(net: ReluNetwork, data: st.DataObject) -> None:
    dgn = GatedNetwork("dgn", net.layers[:-1], net.layers)
    samples = data.draw(st.lists(points(net.input_dim), max_size=4), label="points")
    assert_proven(check(dgn, net), dgn, net, samples)


# -- backends and bad input --------------------------------------------------------------------

def _backend_cases() -> list[tuple[str, Network, Network, Domain | None, str]]:
    f, g = with_indicator(ABS_1D, [1, 2], 0, [([[1]], ["-1/3"])], [1])
    kink = relu_net(([[1]], [-1]), ([[1]], [0]))
    zero = relu_net(([[0]], [0]))
    scaled = ReluNetwork.from_lists(scale_neuron(as_lists(TINY), 0, 1, F(3)))
    a = gated("dlgn", [([[1, -1]], [0])], [([[1, 0]], [1]), ([[1]], [0])])
    b = gated("dlgn", [([[-1, 1], [0, 0]], [0, 1])], [([[1, 0], [1, 0]], [1, 1]),
                                                       ([[-1, 1]], [0])])
    return [("point", f, g, None, "REFUTED"),
            ("box", kink, zero, box([F(0)], [F(1)]), "PROVEN"),
            ("outside-box", kink, zero, everywhere(1), "REFUTED"),
            ("scaled", TINY, scaled, None, "PROVEN"),
            ("dlgn-wall", a, b, None, "REFUTED")]


@pytest.mark.parametrize("name, a, b, domain, expected", _backend_cases(),
                         ids=[c[0] for c in _backend_cases()])
def test_backends_agree(name: str, a: Network, b: Network, domain: Domain | None,
                        expected: str) -> None:
    for backend in ("float", "exact"):
        result = check(a, b, domain, backend=backend)
        assert result.verdict == expected, backend
        if result.proven:
            assert_proven(result, a, b)
        else:
            assert_refuted(result, a, b)


def test_mismatched_dimensions_are_input_errors() -> None:
    one = relu_net(([[1]], [0]))
    two = relu_net(([[1, 1]], [0]))
    two_out = relu_net(([[1], [2]], [0, 0]))
    with pytest.raises(InputError, match="inputs"):
        check(one, two)
    with pytest.raises(InputError, match="outputs"):
        check(one, two_out)
    with pytest.raises(InputError, match="scope"):
        check(one, one, scope="closed")
    with pytest.raises(InputError):
        check(one, one, box([F(0), F(0)], [F(1), F(1)]))


def test_degenerate_box_is_decided() -> None:
    x = relu_net(([[1]], [0]))
    zero = relu_net(([[0]], [0]))
    assert_proven(check(x, zero, box([F(0)], [F(0)])), x, zero, [(F(0),)])
    flat = box([F(2), F(0)], [F(2), F(1)])
    a, b = relu_net(([[1, 0]], [0])), relu_net(([[0, 0]], [2]))
    assert_proven(check(a, b, flat), a, b, [(F(2), F(1, 2))])


def test_open_scope_on_a_flat_domain_is_refused_not_vacuous() -> None:
    # Both strict sides of x are empty on the box [0, 0]: there is no open region to cover.
    x = relu_net(([[1]], [0]), ([[1]], [5]))
    zero = relu_net(([[0]], [0]))
    with pytest.raises(InputError, match="full dimension"):
        check(x, zero, box([F(0)], [F(0)]), scope="open")


def test_reused_emptiness_proofs_pass_the_kernel():
    # The proofs that −x1 − 1 > 0 and −x1 − 1 = 0 are empty on the square are found once,
    # under the first child of the split on x2 = 1/2 (asked for first: at the root witness
    # (0, 0) neither function is positive, so the first one needed is split on), and reused in
    # the others; the certificate built from them must still pass the trusted kernel. The
    # domain is a diamond, not a box: on a box the bounds alone fix these signs, without LPs.
    a = relu_net(([[0, 1], [-1, 0]], [F(-1, 2), -1]), ([[1, 1]], [0]))
    b = relu_net(([[0, 2], [-3, 0], [1, 0]], [-1, -3, 2]), ([[F(1, 2), F(1, 3), 0]], [0]))
    seen = []
    diamond = Domain(2, tuple(Affine((F(u), F(v)), F(c)) for u, v, c in
                              ((1, 1, 0), (-1, -1, 2), (1, -1, 1), (-1, 1, 1))))
    result = check(a, b, diamond, "everywhere", progress=seen.append)
    assert_proven(result, a, b, [(F(0), F(1, 2)), (F(1), F(1))])
    assert seen and seen[-1].reused_proofs >= 2



# -- scope auto, and proofs on a tree made already ---------------------------------------------

def test_auto_scope_is_open_for_finite_relu_networks_and_proves_everywhere():
    net = load_network(EXAMPLES / "tiny.json")
    doubled = ReluNetwork(net.layers[:-1] + (Layer(
        tuple(tuple(2 * w for w in row) for row in net.layers[-1].weights),
        tuple(2 * b for b in net.layers[-1].bias)),))
    half = ReluNetwork((*doubled.layers[:-1], Layer(
        tuple(tuple(w / 2 for w in row) for row in doubled.layers[-1].weights),
        tuple(b / 2 for b in doubled.layers[-1].bias))))
    result = check(net, half)
    assert result.scope == "open"
    assert_proven(result, net, half, GRID_2D)
    assert result.kernel.claim.startswith("both networks are defined, finite and equal at "
                                          "every point of R^2")
    # An extended network keeps scope everywhere.
    gate = load_network(EXAMPLES / "gating_identity.json")
    relu = ReluNetwork.from_lists([([[1]], [0]), ([[1]], [0])])
    assert check(gate, relu).scope == "everywhere"
    # A flat box has no interior: scope everywhere too.
    flat = box([F(0), F(-1)], [F(0), F(1)])
    assert check(net, half, flat).scope == "everywhere"


def test_proof_on_a_given_tree_and_what_makes_it_fail():
    # relu(x) and x on [0, 2]: the tree splits on x; the maps the caller gives fill λ.
    relu = ReluNetwork.from_lists([([[1]], [0]), ([[1]], [0])])
    identity = ReluNetwork.from_lists([([[1]], [0])])
    domain = box([F(0)], [F(2)])
    x, zero = Affine.of([1], 0), Affine.of([0], 0)
    tree = [{"split": ["1", "0"], "children": {"+": 1, "0": 2, "-": 3}},
            {"piece": {"witness": ["1"]}}, {"piece": {"witness": ["0"]}},
            {"empty": ["1", "0", "1"]}]
    maps = {1: ((x,), (x,)), 2: ((zero,), (x,))}
    result = prove_on_tree(relu, identity, domain, tree, lambda i, signs: maps[i])
    assert result is not None and result.proven and result.pieces_checked == 2
    assert_proven(result, relu, identity)
    assert result.certificate["tree"][2]["piece"]["lambda"] == [["-1"]]
    # Maps that differ on a piece, missing maps, maps the kernel does not compute: no proof.
    assert prove_on_tree(relu, identity, domain, tree,
                         lambda i, signs: ((x,), (x.scale(2),))) is None
    assert prove_on_tree(relu, identity, domain, tree, lambda i, signs: None) is None
    wrong = {1: ((x,), (x,)), 2: ((x,), (x,))}   # relu(x) is 0, not x, on the piece x = 0
    assert prove_on_tree(relu, identity, domain, tree, lambda i, signs: wrong[i]) is None
