"""Gates of gated networks: effective hyperplanes, ReLU → DGN, the hand-worked jump, soft gates."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deep2shallow_exact import kernel
from deep2shallow_exact.checker import check
from deep2shallow_exact.construction import to_shallow
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate, gates_at
from deep2shallow_exact.formats import load_network
from deep2shallow_exact.gates import (
    GateHyperplane,
    as_dgn,
    effective_hyperplanes,
    soft_evaluate,
    soft_gap,
)
from deep2shallow_exact.local import local_view
from deep2shallow_exact.network import GatedNetwork, Layer, ReluNetwork
from deep2shallow_exact.regions import counts_by_dim, enumerate_pieces
from deep2shallow_exact.strategies import gated_networks, points, points_on_walls, relu_networks

sys.path.insert(0, str(Path(__file__).parent))
from test_regions import arrangement_faces, general_position  # noqa: E402

F = Fraction
EXAMPLES = Path(__file__).parent.parent / "deep2shallow_exact" / "examples"
JUMP = load_network(EXAMPLES / "dlgn_jump.json")


# -- effective hyperplanes ---------------------------------------------------------------------

def multiplied_out(net: GatedNetwork) -> list[tuple[tuple[Fraction, ...], Fraction]]:
    """(w, b) of every gate by composing the linear gating layers as matrices [U | c]."""
    n = net.input_dim
    # rows of the current affine map x ↦ M x + d, starting from the identity
    current = [([F(int(i == k)) for k in range(n)], F(0)) for i in range(n)]
    result = []
    for layer in net.gating:
        current = [([sum((u * m[k] for u, (m, _) in zip(row, current)), F(0))
                     for k in range(n)],
                    c + sum((u * d for u, (_, d) in zip(row, current)), F(0)))
                   for row, c in zip(layer.weights, layer.bias)]
        result.extend((tuple(m), d) for m, d in current)
    return result


def test_hyperplanes_of_the_hand_worked_dlgn():
    planes = effective_hyperplanes(JUMP)
    # q^1 = (x1, x1 + x2 − 1) and q^2 = q^1_1 − q^1_2 + 1 = 2 − x2
    assert planes == [GateHyperplane(1, 1, (F(1), F(0)), F(0)),
                      GateHyperplane(1, 2, (F(1), F(1)), F(-1)),
                      GateHyperplane(2, 1, (F(0), F(-1)), F(2))]
    assert [p.formula() for p in planes] == ["x1", "x1 + x2 - 1", "-x2 + 2"]
    assert planes[2].to_document() == {"layer": 2, "index": 1, "weights": ["0", "-1"],
                                       "bias": "2", "formula": "-x2 + 2"}


def test_formula_text():
    assert GateHyperplane(1, 1, (F(0), F(0)), F(0)).formula() == "0"
    assert GateHyperplane(1, 1, (F(0), F(0)), F(-3)).formula() == "-3"
    assert GateHyperplane(1, 1, (F(-3, 2), F(1), F(0)), F(1, 2)).formula() == \
        "-3/2*x1 + x2 + 1/2"


@settings(max_examples=60, deadline=None)
@given(net=gated_networks(kind="dlgn", value_input=st.sampled_from(["x", "ones"])),
       data=st.data())
def test_gate_is_on_iff_its_hyperplane_is_positive(net, data):
    planes = effective_hyperplanes(net)
    assert [(p.weights, p.bias) for p in planes] == multiplied_out(net)
    assert [(p.layer, p.index) for p in planes] == [
        (layer + 1, j + 1) for layer, width in enumerate(net.hidden_widths)
        for j in range(width)]
    for x in (data.draw(points(net.input_dim)), data.draw(points_on_walls(net))):
        gates = gates_at(net, x)
        for p in planes:
            assert gates[p.layer - 1][p.index - 1] == (p(x) > 0)


def test_gates_of_other_kinds_are_not_hyperplanes():
    dgn = GatedNetwork("dgn", JUMP.gating, JUMP.value)
    with pytest.raises(InputError, match="gates of a dgn are not hyperplanes; use regions"):
        effective_hyperplanes(dgn)
    with pytest.raises(InputError, match="gates of a relu are not hyperplanes"):
        effective_hyperplanes(load_network(EXAMPLES / "tiny.json"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(net=gated_networks(kind="dlgn", input_dim=st.integers(1, 2),
                          hidden_widths=st.lists(st.integers(1, 3), min_size=1,
                                                 max_size=2).map(tuple)))
def test_dlgn_pieces_are_the_faces_of_its_arrangement(net):
    rows = [(*p.weights, p.bias) for p in effective_hyperplanes(net)]
    n = net.input_dim
    assume(general_position(rows, n))
    counts = counts_by_dim(enumerate_pieces(net))
    for k in range(n + 1):
        assert counts.get(k, 0) == arrangement_faces(len(rows), n, k)


# -- ReLU networks as DGNs ---------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(net=relu_networks(output_dim=st.integers(1, 2)), data=st.data())
def test_as_dgn_evaluates_equal(net, data):
    dgn = as_dgn(net)
    assert (dgn.kind, dgn.value_input) == ("dgn", "x")
    for x in (data.draw(points(net.input_dim)), data.draw(points_on_walls(net))):
        assert evaluate(dgn, x) == evaluate(net, x)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=relu_networks(input_dim=st.integers(1, 2), output_dim=st.integers(1, 2),
                         hidden_widths=st.lists(st.integers(1, 3), min_size=1,
                                                max_size=2).map(tuple)))
def test_as_dgn_is_proven_equal_with_a_valid_certificate(net):
    result = check(net, as_dgn(net))
    assert result.verdict == "PROVEN"
    assert kernel.verify(result.certificate).valid


def test_as_dgn_of_the_tiny_example_is_proven():
    net = load_network(EXAMPLES / "tiny.json")
    result = check(net, as_dgn(net))
    assert result.proven and kernel.verify(result.certificate).valid


def test_as_dgn_refuses_networks_without_gates():
    with pytest.raises(InputError, match="finite network is required"):
        as_dgn(load_network(EXAMPLES / "gating_identity.json"))
    with pytest.raises(InputError, match="no hidden layer"):
        as_dgn(ReluNetwork.from_lists([([[1, 2]], [0])]))


# -- the hand-worked DLGN with a jump ----------------------------------------------------------

# y = [x2 < 2]·([x1 > 0]·(x1 + 1) + [x1 + x2 > 1]·x2), each gate off on its own wall.
@pytest.mark.parametrize(("x", "y"), [
    # across x1 = 0 at x2 = 1/2: 0 on the left, 1 + x1 on the right, 0 on the wall
    ((F(-1, 2), F(1, 2)), 0), ((F(1, 4), F(1, 2)), F(5, 4)), ((F(0), F(1, 2)), 0),
    # across x1 + x2 = 1 at x1 = 1/2: the term x2 switches on above, not on the wall
    ((F(1, 2), F(1, 4)), F(3, 2)), ((F(1, 2), F(3, 4)), F(9, 4)), ((F(1, 2), F(1, 2)), F(3, 2)),
    # across x2 = 2 at x1 = 1: 2 + x2 below, 0 above and on the wall
    ((F(1), F(3, 2)), F(7, 2)), ((F(1), F(3)), 0), ((F(1), F(2)), 0),
    # the three vertices (0, 1), (0, 2), (−1, 2): every gate through the point is off
    ((F(0), F(1)), 0), ((F(0), F(2)), 0), ((F(-1), F(2)), 0),
])
def test_jump_values_by_hand(x, y):
    assert evaluate(JUMP, x) == (y,)


def test_jump_pieces_are_those_of_three_lines_in_general_position():
    assert counts_by_dim(enumerate_pieces(JUMP)) == {0: 3, 1: 9, 2: 7}


def test_jump_converts_to_a_proven_shallow_network():
    result = to_shallow(JUMP)
    assert result.verdict is not None and result.verdict.verdict == "PROVEN", (
        result.verdict and result.verdict.to_document())
    assert kernel.verify(result.verdict.certificate).valid
    shallow = result.network
    assert len(shallow.layers) == 3
    for x, y in [((F(0), F(1, 2)), 0), ((F(1, 4), F(1, 2)), F(5, 4)), ((F(1), F(2)), 0),
                 ((F(1, 2), F(1, 2)), F(3, 2)), ((F(0), F(1)), 0)]:
        assert evaluate(shallow, x) == (y,)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=gated_networks(kind=st.sampled_from(["dgn", "dlgn"]), input_dim=st.integers(1, 2),
                          hidden_widths=st.lists(st.integers(1, 2), min_size=1,
                                                 max_size=2).map(tuple),
                          value_input=st.sampled_from(["x", "ones"])))
def test_gated_networks_convert_to_proven_shallow_networks(net):
    result = to_shallow(net)
    assert result.verdict is not None and result.verdict.proven, result.verdict.to_document()
    assert kernel.verify(result.verdict.certificate).valid


def test_closed_cells_double_counts_the_jump_and_is_refuted():
    result = to_shallow(JUMP, method="closed-cells")
    assert result.verdict is not None and result.verdict.verdict == "REFUTED"
    x = result.verdict.counterexample
    assert evaluate(result.network, x) != evaluate(JUMP, x)


# -- soft gates --------------------------------------------------------------------------------

def one_gate() -> GatedNetwork:
    """y = 1{x > 0}·x."""
    one = Layer(((F(1),),), (F(0),))
    return GatedNetwork("dlgn", (one,), (one, one))


def test_soft_gate_by_hand():
    # soft y(1) = sigmoid(β)·1, so the gap to the hard value 1 is 1/(1 + e^β), falling with β
    gaps = []
    for beta in (1, 10, 100):
        soft, hard, gap = soft_gap(one_gate(), (1,), beta, dps=50)
        assert hard == (1,)
        with mpmath.workdps(50):
            assert abs(gap - 1 / (1 + mpmath.exp(beta))) < mpmath.mpf(10) ** -45
            assert abs(soft[0] - 1 / (1 + mpmath.exp(-beta))) < mpmath.mpf(10) ** -45
        gaps.append(gap)
    assert gaps[0] > gaps[1] > gaps[2] > 0


def test_soft_gates_on_a_wall_tend_to_one_half():
    # At (0, 1/2): q = (0, −1/2, 3/2); the soft gate on the wall x1 = 0 is 1/2 at every β, so
    # soft y → 1/2·(0 + 1) while the hard gate is off there and y = 0.
    soft, hard, gap = soft_gap(JUMP, (0, F(1, 2)), 1000, dps=40)
    assert hard == (0,)
    assert abs(soft[0] - mpmath.mpf(1) / 2) < mpmath.mpf(10) ** -35
    assert abs(gap - mpmath.mpf(1) / 2) < mpmath.mpf(10) ** -35


@settings(max_examples=50, deadline=None)
@given(net=st.one_of(relu_networks(output_dim=st.integers(1, 2)),
                     gated_networks(kind=st.sampled_from(["dgn", "dlgn"]),
                                    value_input=st.sampled_from(["x", "ones"]),
                                    output_dim=st.integers(1, 2))),
       data=st.data())
def test_soft_output_converges_to_hard_off_the_walls(net, data):
    x = data.draw(points(net.input_dim))
    q = [abs(f(x)) for layer in local_view(net, x).preactivations for f in layer]
    assume(all(q))
    # Each soft gate is within e^{−β|q|} ≤ e^{−200} of its hard value; the weights (≤ 5), widths
    # (≤ 4), depth (≤ 4) and |x| ≤ 10 amplify that by far less than 10^20.
    beta = 200 / min(q)
    soft, hard, gap = soft_gap(net, x, beta, dps=60)
    assert hard == evaluate(net, x)
    assert gap < mpmath.mpf(10) ** -40
    assert len(soft) == net.output_dim


def test_relu_network_soft_evaluates_as_its_dgn():
    net = load_network(EXAMPLES / "tiny.json")
    x = (F(1, 2), F(-1, 3))
    assert soft_evaluate(net, x, 7) == soft_evaluate(as_dgn(net), x, 7)
    # a low precision is stated and used: 10 bits are about 3 decimal digits
    coarse = soft_evaluate(net, x, 7, precision_bits=10)[0]
    fine = soft_evaluate(net, x, 7, precision_bits=200)[0]
    assert coarse != fine and abs(coarse - fine) < mpmath.mpf(2) ** -5 * (1 + abs(fine))


def test_soft_evaluation_refuses_bad_input():
    with pytest.raises(InputError, match="beta must be positive"):
        soft_evaluate(one_gate(), (1,), 0)
    with pytest.raises(InputError, match="point has 2 coordinates"):
        soft_evaluate(one_gate(), (1, 2), 1)
    with pytest.raises(InputError, match="at least 1 digit"):
        soft_gap(one_gate(), (1,), 1, dps=0)
