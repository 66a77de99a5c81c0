"""The three-layer construction: always proven equal, checked again by exact evaluation."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact import kernel
from deep2shallow_exact.construction import to_shallow
from deep2shallow_exact.domain import box, everywhere
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats import network_to_document
from deep2shallow_exact.network import ReluNetwork
from deep2shallow_exact.numbers import Infinity
from deep2shallow_exact.strategies import (
    points,
    points_on_vertices,
    points_on_walls,
    relu_networks,
)

F = Fraction
EXAMPLES = Path(__file__).resolve().parents[1] / "deep2shallow_exact" / "examples"
small_nets = relu_networks(input_dim=st.integers(1, 3),
                           hidden_widths=st.lists(st.integers(1, 2), min_size=1,
                                                  max_size=3).map(tuple))


def assert_three_layer_shape(net: ReluNetwork) -> None:
    assert len(net.layers) == 3
    first, second, third = net.layers
    assert not any(isinstance(v, Infinity) for v in (*first.entries(), *third.entries()))
    assert not any(isinstance(v, Infinity) for v in second.bias)
    assert all(not isinstance(v, Infinity) or v.sign < 0 for v in second.entries())


def assert_proven(net, shallow_result, domain=None):
    assert shallow_result.verified
    assert_three_layer_shape(shallow_result.network)
    # The certificate is about this network and the shallow one written, on this domain.
    certificate = shallow_result.verdict.certificate
    verdict = kernel.verify(certificate, (network_to_document(net),
                                          network_to_document(shallow_result.network)))
    assert verdict.valid, verdict.reason
    expected = (domain if domain is not None else everywhere(net.input_dim)).to_document()
    assert certificate["domain"] == expected and certificate["scope"] == "everywhere"


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(net=small_nets, data=st.data())
def test_random_networks_convert_and_agree_everywhere(net, data):
    result = to_shallow(net)
    assert_proven(net, result)
    shallow = result.network
    n = net.input_dim
    samples = [data.draw(points(n)) for _ in range(3)]
    samples.append(data.draw(points_on_walls(net)))
    if n >= 2:
        samples.append(data.draw(points_on_vertices(net)))
    for x in samples:
        assert evaluate(shallow, x) == evaluate(net, x)


def one_layer(rows, n):
    return ReluNetwork.from_lists([([r[:n] for r in rows], [r[n] for r in rows]),
                                   ([[1] * len(rows)], [0])])


DEGENERATE = {
    "duplicate and scaled": one_layer([(1, 0), (1, 0), (3, 0), (F(1, 7), 0)], 1),
    "all-zero row": one_layer([(0, 0, 0), (1, 0, 0)], 2),
    "parallel walls": one_layer([(1, 1, 0), (1, 1, -1), (2, 2, 5)], 2),
    "concurrent walls": one_layer([(i, 1, -(i + 1)) for i in range(4)], 2),
    "identically zero neuron": ReluNetwork.from_lists([
        ([[1], [-1]], [0, 0]), ([[1, 1], [-1, -1]], [0, 0]), ([[1, 1]], [0])]),
    "bottleneck": ReluNetwork.from_lists([
        ([[1, 1], [1, -1]], [0, 0]), ([[1, 1]], [-1]), ([[1], [-1]], [0, 1]),
        ([[1, 1]], [0])]),
    "huge and tiny": one_layer([(F(10 ** 30 + 1, 3), 1, -F(10 ** 30 + 1, 3)),
                                (F(1, 10 ** 25 + 7), -1, F(1, 10 ** 25 + 7))], 2),
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_networks_convert_and_are_proven(name):
    assert_proven(DEGENERATE[name], to_shallow(DEGENERATE[name]))


def test_vector_outputs():
    net = ReluNetwork.from_lists([([[1, -1], [1, 2]], [0, -1]), ([[1, 1], [2, -1]], [0, 3])])
    result = to_shallow(net)
    assert_proven(net, result)
    assert result.network.output_dim == 2


def test_box_domain_uses_the_general_sum():
    net = ReluNetwork.from_lists([([[1], [1]], [0, F(-1, 2)]), ([[2, -4]], [0])])
    domain = box([F(0)], [F(1)])
    result = to_shallow(net, domain=domain)
    assert_proven(net, result, domain)
    for k in range(9):
        x = (F(k, 8),)
        assert evaluate(result.network, x) == evaluate(net, x)


def test_tent_map_by_hand():
    # t(x) = 2 ReLU(x) − 4 ReLU(x − 1/2): pieces x<0, 0, (0,1/2), 1/2, x>1/2 on the line.
    net = ReluNetwork.from_lists([([[1], [1]], [0, F(-1, 2)]), ([[2, -4]], [0])])
    result = to_shallow(net)
    assert_proven(net, result)
    assert result.pieces == 5
    # h_T = (−1)^{1 − dim T} f_T: f = 0 on x<0, 2x on (0, 1/2), 2 − 2x on x > 1/2; at the walls
    # −f_T = 0 and −1 are the terms, and the zero ones get no neurons.
    assert result.terms == 3
    for x in (F(-1), F(0), F(1, 4), F(1, 2), F(3, 4), F(2)):
        assert evaluate(result.network, (x,)) == evaluate(net, (x,))


def test_zero_function_gives_a_trivial_network():
    net = ReluNetwork.from_lists([([[1], [-1]], [0, 0]), ([[0, 0]], [0])])
    result = to_shallow(net)
    assert_proven(net, result)
    assert result.terms == 0


def test_pruning_never_grows_the_network():
    net = DEGENERATE["concurrent walls"]
    result = to_shallow(net)
    assert result.network.widths[1] <= result.unpruned_widths[1]
    assert result.network.widths[2] <= result.unpruned_widths[2]


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(net=relu_networks(input_dim=st.integers(1, 2), hidden_widths=st.just((2,))),
       data=st.data())
def test_closed_cells_is_refuted_on_a_wall(net, data):
    result = to_shallow(net, method="closed-cells")
    first = net.layers[0]

    def on_wall(x):
        return any(b + sum(w * v for w, v in zip(row, x)) == 0 and any(row)
                   for row, b in zip(first.weights, first.bias))

    wall_point = data.draw(points_on_walls(net))
    if evaluate(net, wall_point) != (0,):
        # Two closed cells meet there and both count f: the sum is 2 f ≠ f.
        assert not result.verdict.proven
    if not result.verdict.proven:
        x = result.verdict.counterexample
        assert evaluate(result.network, x) != evaluate(net, x)
        assert on_wall(x)  # off the walls exactly one closed cell contains x


def test_closed_cells_double_counts_the_tent_peak():
    net = ReluNetwork.from_lists([([[1], [1]], [0, F(-1, 2)]), ([[2, -4]], [0])])
    result = to_shallow(net, method="closed-cells")
    assert result.verdict is not None and not result.verdict.proven
    # At x = 1/2 both closed cells [0, 1/2] and [1/2, ∞) contribute f = 1: the sum is 2.
    # (x = 0 is no counterexample: both neighbouring maps vanish there.)
    assert result.verdict.counterexample == (F(1, 2),)
    assert evaluate(result.network, (F(1, 2),)) == (F(2),)


def test_arrangement_refinement_is_proven_too():
    # The fallback for degenerate networks: faces of the arrangement of every bounding function.
    from deep2shallow_exact import construction
    from deep2shallow_exact.domain import everywhere
    from deep2shallow_exact.regions import enumerate_pieces
    net = ReluNetwork.from_lists([([[1, -1], [1, 2]], [0, -1]), ([[1, 1]], [F(-1, 2)]),
                                  ([[2]], [1])])
    pieces = list(enumerate_pieces(net))
    faces = construction.refine_to_arrangement(net, pieces, everywhere(2))
    assert len(faces) > len(pieces)
    # Euler relation on the plane holds for the arrangement's faces as well.
    assert sum((-1) ** f.dim for f in faces) == 1
    result = construction._assemble(net, construction.terms_faces(faces, everywhere(2), False),
                                    len(faces), "faces", everywhere(2), "float", True)
    assert_proven(net, result)


@pytest.mark.slow
@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(net=relu_networks(input_dim=st.integers(1, 3),
                         hidden_widths=st.lists(st.integers(1, 3), min_size=1,
                                                max_size=3).map(tuple)),
       data=st.data())
def test_many_random_networks_convert_and_agree_on_walls(net, data):
    """The opt-in heavy version: wider layers and many more examples."""
    result = to_shallow(net)
    assert_proven(net, result)
    x = data.draw(points_on_walls(net))
    assert evaluate(result.network, x) == evaluate(net, x)


def test_convert_proves_on_the_enumerations_own_tree():
    # The proof reuses the enumeration's tree: one certificate leaf per piece, the two
    # networks of the certificate are the deep one and the shallow one, on the domain given.
    from deep2shallow_exact.formats import load_network, network_to_document
    from deep2shallow_exact.regions import PieceEnumeration
    net = load_network(EXAMPLES / "tiny.json")
    result = to_shallow(net)
    pieces = list(PieceEnumeration(net))
    assert result.pieces == len(pieces) == result.verdict.pieces_checked
    verdict = kernel.verify(result.verdict.certificate,
                            (network_to_document(net), network_to_document(result.network)))
    assert verdict.valid and verdict.pieces == len(pieces)
    assert result.verdict.certificate["domain"] == {"dim": 2, "inequalities": [],
                                                    "equalities": []}
    square = box([F(-1), F(-1)], [F(1), F(1)])
    boxed = to_shallow(net, domain=square)
    assert boxed.verdict.certificate["domain"] == square.to_document()
    assert kernel.verify(boxed.verdict.certificate).pieces == boxed.pieces


def test_convert_falls_back_to_a_search_when_the_tree_does_not_do(monkeypatch):
    import deep2shallow_exact.construction as construction
    from deep2shallow_exact.formats import load_network
    net = load_network(EXAMPLES / "tiny.json")
    monkeypatch.setattr(construction, "prove_pieces", lambda *args, **kwargs: None)
    result = to_shallow(net)
    assert_proven(net, result)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(net=relu_networks(input_dim=st.integers(1, 3),
                         hidden_widths=st.lists(st.integers(1, 3), min_size=1,
                                                max_size=3).map(tuple)),
       on_box=st.booleans())
def test_sign_patterns_alone_decide_which_pieces_are_above(net, on_box):
    # Lemma 3 (c): for the pieces of a finite ReLU network, a piece whose sign vector fills in
    # T's zeros contains T in its closure; the witness test must never drop one of them.
    from deep2shallow_exact.construction import pieces_above
    from deep2shallow_exact.regions import PieceEnumeration
    n = net.input_dim
    domain = box([F(-1)] * n, [F(2)] * n) if on_box else everywhere(n)
    pieces = list(PieceEnumeration(net, domain))
    tested, by_signs = pieces_above(pieces, domain), pieces_above(pieces, domain, True)
    assert {t: sorted(v) for t, v in tested.items()} == {t: sorted(v) for t, v in by_signs.items()}
    for t, above in by_signs.items():
        for s in above:  # and each is above T: T's witness is in cl S
            assert all(g(pieces[t].witness) >= 0 for g in pieces[s].strict)
            assert all(e(pieces[t].witness) == 0 for e in pieces[s].equal)
