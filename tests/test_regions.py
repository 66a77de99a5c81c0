"""Piece enumeration against ground truth the engine did not produce."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from math import comb

import flint
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.domain import box, everywhere
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.network import ReluNetwork
from deep2shallow_exact.regions import PieceEnumeration, counts_by_dim, enumerate_pieces
from deep2shallow_exact.strategies import relu_networks

F = Fraction


def pieces_of(net, domain=None, scope="everywhere", backend="float"):
    return list(enumerate_pieces(net, domain, scope, backend))


def direct_signs(net: ReluNetwork, x) -> str:
    """Sign of every hidden pre-activation by a plain forward pass (independent of the engine)."""
    a = list(x)
    out = []
    for layer in net.layers[:-1]:
        z = [b + sum(w * v for w, v in zip(row, a)) for row, b in zip(layer.weights, layer.bias)]
        out.extend("+" if v > 0 else "-" if v < 0 else "0" for v in z)
        a = [max(v, F(0)) for v in z]
    return "".join(out)


def rank(rows) -> int:
    if not rows:
        return 0
    return flint.fmpq_mat(len(rows), len(rows[0]), [flint.fmpq(v.numerator, v.denominator)
                                                    for r in rows for v in r]).rank()


def arrangement_faces(N: int, n: int, k: int) -> int:
    """k-faces of N affine hyperplanes in general position in R^n."""
    if n - k > N:
        return 0
    return comb(N, n - k) * sum(comb(N - n + k, i) for i in range(k + 1))


def general_position(rows, n) -> bool:
    for size in range(1, min(len(rows), n) + 1):
        for subset in combinations(rows, size):
            if rank([r[:n] for r in subset]) < size:
                return False
    if len(rows) > n:
        for subset in combinations(rows, n + 1):
            if rank([list(r) for r in subset]) < n + 1:
                return False
    return True


def check_pieces(net, pieces, domain):
    for p in pieces:
        assert domain.contains(p.witness)
        assert p.signs == direct_signs(net, p.witness)
        assert all(f(p.witness) > 0 for f in p.strict)
        assert all(e(p.witness) == 0 for e in p.equal)
        out = evaluate(net, p.witness)
        assert tuple(m(p.witness) for m in p.maps) == out
        assert p.dim == net.input_dim - rank([list(e.coeffs) for e in p.equal])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), N=st.integers(1, 5), data=st.data())
def test_one_hidden_layer_is_a_hyperplane_arrangement(n, N, data):
    ints = st.integers(-6, 6)
    rows = [tuple(F(data.draw(ints)) for _ in range(n + 1)) for _ in range(N)]
    assume(general_position(rows, n))
    net = ReluNetwork.from_lists([([r[:n] for r in rows], [r[n] for r in rows]),
                                  ([[1] * N], [0])])
    pieces = pieces_of(net)
    check_pieces(net, pieces, everywhere(n))
    counts = counts_by_dim(pieces)
    for k in range(n + 1):
        assert counts.get(k, 0) == arrangement_faces(N, n, k)


def sawtooth(L: int) -> ReluNetwork:
    layers = [([[1], [1]], [0, F(-1, 2)])]
    layers += [([[2, -4], [2, -4]], [0, F(-1, 2)])] * (L - 1)
    layers += [([[2, -4]], [0])]
    return ReluNetwork.from_lists(layers)


@pytest.mark.parametrize("L", [1, 2, 3, 4])
def test_sawtooth_has_2_to_the_L_regions_on_the_unit_interval(L):
    domain = box([F(0)], [F(1)])
    pieces = pieces_of(sawtooth(L), domain)
    check_pieces(sawtooth(L), pieces, domain)
    assert counts_by_dim(pieces) == {0: 2 ** L + 1, 1: 2 ** L}
    assert sorted(p.witness[0] for p in pieces if p.dim == 0) == [F(k, 2 ** L)
                                                                  for k in range(2 ** L + 1)]
    opened = pieces_of(sawtooth(L), domain, scope="open")
    assert len(opened) == 2 ** L and all(p.dim == 1 for p in opened)


def euler(pieces) -> int:
    return sum((-1) ** p.dim for p in pieces)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=relu_networks(input_dim=st.integers(1, 2), hidden_widths=st.lists(
    st.integers(1, 3), min_size=1, max_size=3).map(tuple)))
def test_euler_relation_and_witnesses_on_random_networks(net):
    n = net.input_dim
    pieces = pieces_of(net)
    check_pieces(net, pieces, everywhere(n))
    assert euler(pieces) == (-1) ** n
    domain = box([F(-1)] * n, [F(2)] * n)
    boxed = pieces_of(net, domain)
    check_pieces(net, boxed, domain)
    assert euler(boxed) == 1
    # Every sign vector is one convex class, so it appears once (boundary pieces aside).
    assert len({p.signs for p in pieces}) == len(pieces)


def test_both_backends_find_the_same_pieces():
    net = ReluNetwork.from_lists([([[1, 2], [F(-1, 3), 1], [1, -1]], [0, F(1, 2), -1]),
                                  ([[1, -1, 2], [2, 1, -1]], [F(1, 4), 0]),
                                  ([[1, 1]], [0])])
    fast = {(p.signs, p.dim) for p in pieces_of(net, backend="float")}
    exact = {(p.signs, p.dim) for p in pieces_of(net, backend="exact")}
    assert fast == exact


# -- degenerate networks, counted by hand ---------------------------------------------------------

def one_layer(rows, n):
    return ReluNetwork.from_lists([([r[:n] for r in rows], [r[n] for r in rows]),
                                   ([[1] * len(rows)], [0])])


def test_duplicate_and_scaled_neurons_add_no_walls():
    net = one_layer([(1, 0), (1, 0), (3, 0), (F(1, 7), 0)], 1)
    assert counts_by_dim(pieces_of(net)) == {0: 1, 1: 2}


def test_all_zero_row_is_never_split():
    net = one_layer([(0, 0, 0), (1, 0, 0)], 2)
    pieces = pieces_of(net)
    assert counts_by_dim(pieces) == {1: 1, 2: 2}
    assert all(p.signs[0] == "0" for p in pieces)


def test_parallel_walls():
    net = one_layer([(1, 1, 0), (1, 1, -1), (2, 2, 5)], 2)
    assert counts_by_dim(pieces_of(net)) == {2: 4, 1: 3}


@pytest.mark.parametrize("k", [2, 3, 5])
def test_many_walls_through_one_point(k):
    rows = [(i, 1, -(i + 1)) for i in range(k)]  # lines i·x + y = i + 1, all through (1, 1)
    net = one_layer(rows, 2)
    pieces = pieces_of(net)
    check_pieces(net, pieces, everywhere(2))
    assert counts_by_dim(pieces) == {2: 2 * k, 1: 2 * k, 0: 1}
    assert [p.witness for p in pieces if p.dim == 0] == [(F(1), F(1))]


def test_neuron_identically_zero_on_a_region():
    # z2 = ReLU(x) + ReLU(-x) - |x| is 0 everywhere; its sign is decided by emptiness proofs.
    net = ReluNetwork.from_lists([([[1], [-1]], [0, 0]), ([[1, 1], [-1, -1]], [0, 0]),
                                  ([[1, 1]], [0])])
    pieces = pieces_of(net)
    check_pieces(net, pieces, everywhere(1))
    assert counts_by_dim(pieces) == {1: 2, 0: 1}


def test_width_one_bottleneck():
    net = ReluNetwork.from_lists([([[1, 1], [1, -1]], [0, 0]), ([[1, 1]], [-1]),
                                  ([[1], [-1]], [0, 1]), ([[1, 1]], [0])])
    pieces = pieces_of(net)
    check_pieces(net, pieces, everywhere(2))
    assert euler(pieces) == 1


def test_a_proof_found_below_a_split_is_reused_by_its_siblings():
    # Hidden neurons x2 - 1/2 (asked first) and x1 + 1 on the unit square: x1 + 1 < 0 and
    # x1 + 1 = 0 are empty by the box alone, so the proofs found in the first child of the
    # split on x2 = 1/2 serve the other two. The square cut by one horizontal line has
    # 2 regions, 7 edges (the cut, top, bottom, two halves of each side) and 6 vertices.
    net = ReluNetwork.from_lists([([[0, 1], [1, 0]], [F(-1, 2), 1]), ([[1, 1]], [0])])
    square = box([F(0), F(0)], [F(1), F(1)])
    for backend in ("exact", "float"):
        run = PieceEnumeration(net, square, "everywhere", backend)
        pieces = list(run)
        check_pieces(net, pieces, square)
        assert counts_by_dim(pieces) == {0: 6, 1: 7, 2: 2}
        assert run.stats.reused_proofs >= 4


def test_points_are_not_split_further():
    # Many walls of a deeper layer pass through the vertex (1, 1) of the first layer's lines:
    # at a point every sign is known, so the only splits are those that find the point.
    rows = [(1, 0, -1), (0, 1, -1)]
    deeper = [[1, 1], [1, -1], [2, 1], [1, 3]]
    net = ReluNetwork.from_lists([([r[:2] for r in rows], [r[2] for r in rows]),
                                  (deeper, [0] * 4), ([[1] * 4], [0])])
    run = PieceEnumeration(net, everywhere(2), "everywhere", "exact")
    pieces = list(run)
    check_pieces(net, pieces, everywhere(2))
    assert euler(pieces) == 1
    vertex = [p for p in pieces if p.witness == (F(1), F(1))]
    assert len(vertex) == 1 and vertex[0].dim == 0
    assert vertex[0].signs == direct_signs(net, (F(1), F(1)))
    assert len(vertex[0].strict) + len(vertex[0].equal) == 2


def test_huge_and_tiny_rationals():
    big, tiny = F(10 ** 30 + 1, 3), F(1, 10 ** 25 + 7)
    net = one_layer([(big, 1, -big), (tiny, -1, tiny)], 2)
    pieces = pieces_of(net)
    check_pieces(net, pieces, everywhere(2))
    assert counts_by_dim(pieces) == {2: 4, 1: 4, 0: 1}


def test_max_pieces_then_resume_from_checkpoint():
    from deep2shallow_exact.formats import network_to_document
    net = sawtooth(3)
    domain = box([F(0)], [F(1)])
    job = PieceEnumeration(net, domain)
    for _ in job:
        if len(job.found) == 5:
            break
    assert not job.complete
    saved = job.checkpoint(network_to_document(net))
    again = PieceEnumeration(net, domain)
    again.restore(saved, "checkpoint")
    list(again)
    assert again.complete
    assert counts_by_dim(again.found) == {0: 9, 1: 8}
    assert len({p.witness for p in again.found}) == 17
