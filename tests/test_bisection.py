"""Bound leaves (proofs/CERTIFICATE.md section 11) and the bisection that writes them (issue
14): the kernel's affine bounds checked against exact evaluation at points of the box (its
vertices, centre and random rational points), a hand-worked bound leaf and the changes to it
the kernel must refuse, and properties decided by bisection against answers known in closed
form — the maximum of a convex network over a box is taken at a vertex."""

from __future__ import annotations

import copy
import itertools
import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact import bisection, kernel
from deep2shallow_exact.cli import main
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats import load_vnnlib_property, network_to_document
from deep2shallow_exact.kernel import BoxRelaxation, verify
from deep2shallow_exact.network import Layer, ReluNetwork
from deep2shallow_exact.properties import decide_property
from deep2shallow_exact.strategies import rationals, relu_networks

F = Fraction

RELU = {"format": "deep2shallow-exact/network", "version": 1, "kind": "relu",
        "layers": [{"weights": [["1"]], "bias": ["0"]}, {"weights": [["1"]], "bias": ["0"]}]}


def bound_cert(upper: str = "1", witness: str = "0") -> dict:
    """relu(x) on [−1, upper], unsafe y ≥ 2, closed by one bound leaf at the root. Over
    [−1, 1] the neuron's z = x lies in [−1, 1], the chord of ReLU there is (x + 1)/2, so
    y − 2 ≤ (x + 1)/2 − 2 ≤ −1 < 0 on the box."""
    return {"format": "deep2shallow-exact/certificate", "version": 5, "claim": "property",
            "networks": [copy.deepcopy(RELU)],
            "domain": {"dim": 1, "inequalities": [["1", "1"], ["-1", upper]], "equalities": []},
            "scope": "open", "unsafe": [{"nonstrict": [["1", "-2"]], "strict": []}],
            "tree": [{"bound": {"witness": [witness]}}]}


def test_a_hand_worked_bound_leaf_is_accepted() -> None:
    verdict = verify(bound_cert(), (RELU,))
    assert verdict.valid, verdict.reason
    assert (verdict.bounded, verdict.pieces, verdict.nodes) == (1, 0, 1)
    assert "outside the unsafe set" in verdict.claim and verdict.scope == "open"
    assert verdict.domain == "the subset of R^1 cut out by the 2 domain rows"


def refused(doc: dict) -> str:
    verdict = verify(doc)
    assert not verdict.valid and not verdict.reason.startswith("internal error"), verdict.reason
    return verdict.reason


def test_changes_to_a_bound_leaf_are_refused() -> None:
    # The box widened to x ≤ 3: relu(3) = 3 ≥ 2. On x ≤ 2.5 the bound is (2.5/3.5)(x + 1) − 2,
    # 1/2 at x = 2.5: not below 0, although no point reaches y ≥ 2 but x ≥ 2.
    assert "no row of unsafe[0]" in refused(bound_cert(upper="3"))
    assert "witness" in refused(bound_cert(witness="3"))
    doc = bound_cert()
    doc["version"] = 4
    assert "version 5" in refused(doc)
    doc = bound_cert()
    doc["networks"][0]["layers"][0]["bias"][0] = "-inf"
    assert "finite ReLU" in refused(doc)
    doc = bound_cert()
    doc["domain"]["inequalities"].pop()  # x ≤ 1 dropped: the box is unbounded
    assert "bounded" in refused(doc)
    doc = bound_cert()
    doc["unsafe"][0]["nonstrict"][0][-1] = "-1/2"  # y ≥ 1/2, which x = 1/2 reaches
    refused(doc)
    doc = bound_cert()
    doc["unsafe"].append({"nonstrict": [["-1", "0"]], "strict": []})  # y ≤ 0: x = 0 reaches it
    assert "unsafe[1]" in refused(doc)
    doc = bound_cert()
    doc["tree"][0]["bound"]["unsafe"] = [["1"]]
    assert "exactly the key" in refused(doc)


def test_a_bound_leaf_belongs_to_a_property_certificate() -> None:
    doc = bound_cert()
    doc["claim"] = "equal"
    doc["networks"].append(copy.deepcopy(RELU))
    del doc["unsafe"]
    assert "property certificate" in refused(doc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=relu_networks(input_dim=2, hidden_widths=st.sampled_from([(3,), (4, 3), (3, 3, 2)]),
                         output_dim=2),
       corner=st.tuples(rationals(), rationals()),
       size=st.tuples(rationals(4, 3).map(abs), rationals(4, 3).map(abs)),
       row=st.tuples(rationals(), rationals(), rationals()),
       inside=st.lists(st.tuples(st.fractions(0, 1, max_denominator=9),
                                 st.fractions(0, 1, max_denominator=9)), max_size=6))
def test_the_bounds_hold_at_every_point_of_the_box(net: ReluNetwork, corner: tuple, size: tuple,
                                                  row: tuple, inside: list) -> None:
    # Ground truth by exact evaluation: c·N(x) + d ≤ R(x) at the vertices, the centre and
    # random points of the box (a flat box, of width 0, included).
    lows = list(corner)
    highs = [a + s for a, s in zip(corner, size)]
    bound = BoxRelaxation.of_document(network_to_document(net), 2).over(lows, highs)(row)
    fractions = [*itertools.product((F(0), F(1)), repeat=2), (F(1, 2), F(1, 2)), *inside]
    for t in fractions:
        x = [lo + ti * (hi - lo) for lo, ti, hi in zip(lows, t, highs)]
        y = evaluate(net, x)
        assert row[0] * y[0] + row[1] * y[1] + row[2] <= F(bound, 2**128)


def convex_net(seed: int, width: int = 10) -> ReluNetwork:
    """Σ_k v_k relu(w_k·x + b_k) with v_k > 0: convex, so its maximum over a box is at one of
    the box's vertices."""
    import random
    rng = random.Random(seed)
    weights = [[F(rng.randint(-9, 9), 3) for _ in range(2)] for _ in range(width)]
    bias = [F(rng.randint(-6, 6), 4) for _ in range(width)]
    return ReluNetwork((Layer(weights, bias),
                        Layer([[F(rng.randint(1, 5), 2) for _ in range(width)]], [F(0)])))


def vnnlib(tmp_path: Path, threshold: Fraction, name: str = "p") -> Path:
    path = tmp_path / f"{name}.vnnlib"
    path.write_text("(declare-const X_0 Real)\n(declare-const X_1 Real)\n"
                    "(assert (>= X_0 -1))\n(assert (<= X_0 1))\n"
                    "(assert (>= X_1 -1))\n(assert (<= X_1 1))\n"
                    f"(assert (>= Y_0 {threshold.numerator}/{threshold.denominator}))\n")
    return path


@pytest.mark.parametrize("seed", range(4))
def test_a_convex_network_is_decided_by_bisection(tmp_path: Path, monkeypatch, seed: int) -> None:
    # Nothing handed to the enumeration: every leaf below the bisection is a bound leaf.
    monkeypatch.setattr(bisection, "HAND_OVER", -1)
    net = convex_net(seed)
    top = max(evaluate(net, v)[0] for v in itertools.product((F(-1), F(1)), repeat=2))
    prop = load_vnnlib_property(vnnlib(tmp_path, top + F(1, 100)), 2, 1)
    safe = decide_property(net, prop)
    assert safe.holds and safe.boxes is not None and safe.boxes.bound_leaves >= 1
    cert = safe.certificate
    verdict = verify(cert, (network_to_document(net),))  # type: ignore[arg-type]
    assert verdict.valid and verdict.bounded == safe.boxes.bound_leaves and verdict.pieces == 0
    assert cert["domain"] == prop.domain.to_document()  # type: ignore[index]
    assert cert["unsafe"] == [{"nonstrict": [["1", str(-(top + F(1, 100)))]],  # type: ignore
                               "strict": []}]
    hit = decide_property(net, load_vnnlib_property(vnnlib(tmp_path, top, "q"), 2, 1))
    assert hit.verdict == "violated" and evaluate(net, hit.counterexample)[0] >= top  # type: ignore


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=relu_networks(input_dim=2, hidden_widths=st.sampled_from([(6, 5), (8,), (4, 4, 3)])),
       k=st.integers(0, 24), lift=st.sampled_from([F(0), F(1, 10**6), F(1, 3)]),
       hand_over=st.sampled_from([-1, 2, 6]))
def test_bisection_agrees_with_exact_evaluation_on_a_grid(tmp_path_factory, net: ReluNetwork,
                                                          k: int, lift: Fraction,
                                                          hand_over: int) -> None:
    grid = [(F(a, 2), F(b, 2)) for a in range(-2, 3) for b in range(-2, 3)]
    values = [evaluate(net, x)[0] for x in grid]
    threshold = values[k] + lift
    path = vnnlib(tmp_path_factory.mktemp("p"), threshold)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bisection, "HAND_OVER", hand_over)
        patch.setattr(bisection, "MAX_DEPTH", 12)
        result = decide_property(net, load_vnnlib_property(path, 2, 1))
    if result.holds:
        assert all(v < threshold for v in values)
        assert verify(result.certificate, (network_to_document(net),)).valid  # type: ignore
    else:
        assert evaluate(net, result.counterexample)[0] >= threshold  # type: ignore[arg-type]
    if lift == 0:
        assert not result.holds


def test_an_interrupted_bisection_resumes_from_its_checkpoint(tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    # Ctrl-C during the bisection: undecided, the closed boxes saved; the run that resumes
    # enumerates the rest and proves the property, its certificate holding both kinds of leaf.
    net = convex_net(1)
    top = max(evaluate(net, v)[0] for v in itertools.product((F(-1), F(1)), repeat=2))
    net_path = tmp_path / "net.json"
    net_path.write_text(json.dumps(network_to_document(net)))
    prop = vnnlib(tmp_path, top + F(1, 100))
    monkeypatch.setattr(bisection, "HAND_OVER", -1)
    looks = 0
    original = bisection._FloatNetwork.look

    def interrupted(self, lo, hi):
        nonlocal looks
        looks += 1
        if looks == 4:
            raise KeyboardInterrupt
        return original(self, lo, hi)
    monkeypatch.setattr(bisection._FloatNetwork, "look", interrupted)
    saved = tmp_path / "run.checkpoint"
    args = ["property", str(net_path), "--vnnlib", str(prop), "--checkpoint", str(saved),
            "--workers", "1", "--json"]
    assert main(args) == 130
    first = json.loads(capsys.readouterr().out)
    assert first["verdict"] == "undecided" and saved.exists()
    closed = first["bisection"]["bound_leaves"]
    cert = tmp_path / "c.json"
    assert main([*args, "--certificate", str(cert)]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "holds"
    verdict = verify(json.loads(cert.read_text()), (network_to_document(net),))
    assert verdict.valid and verdict.bounded == closed and verdict.pieces >= 1


def test_the_worked_example_of_section_11() -> None:
    page = (Path(__file__).parent.parent / "proofs" / "CERTIFICATE.md").read_text()
    section = page.split("## 11. Bound leaves", 1)[1]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    verdict = verify(example, (RELU,))
    assert verdict.valid and verdict.bounded == 1 and "outside the unsafe set" in verdict.claim
    example["domain"]["inequalities"][1][-1] = 3  # x ≤ 3: relu(3) = 3 reaches y ≥ 2
    assert not verify(example).valid


def test_a_bound_taken_before_the_inputs_closes_a_leaf() -> None:
    """y = relu(x) − relu(−x) (= x) on [−1, 1], unsafe y ≥ 5/4. Both neurons are undecided,
    with u = 1, lines h₁ ≤ (x + 1)/2 and h₂ ≥ −x/2. Back-substituted down to x, y ≤ (x + 1)/2 +
    x/2 ≤ 3/2, which misses; at the hidden layer, 0 ≤ h ≤ 1 gives y ≤ h₁ ≤ 1 < 5/4 (section 11,
    item 3: the least of the bounds met on the way down). y ≥ 1 is met at x = 1 and refused."""
    net = {**RELU, "layers": [{"weights": [["1"], ["-1"]], "bias": ["0", "0"]},
                              {"weights": [["1", "-1"]], "bias": ["0"]}]}
    doc = bound_cert()
    doc["networks"] = [net]
    doc["unsafe"] = [{"nonstrict": [["1", "-5/4"]], "strict": []}]
    verdict = verify(doc, (net,))
    assert verdict.valid and verdict.bounded == 1, verdict.reason
    doc["unsafe"] = [{"nonstrict": [["1", "-1"]], "strict": []}]
    assert "no row of unsafe[0] is bounded below 0" in refused(doc)


@given(st.lists(st.lists(st.integers(-2 ** 300, 2 ** 300), min_size=3, max_size=3),
                min_size=0, max_size=8),
       st.data())
def test_packed_integers_combine_exactly(vectors: list[list[int]], data: st.DataObject) -> None:
    """The kernel's Kronecker substitution against the plain sum, with extreme entries."""
    vectors = [*vectors, [2 ** 300, -2 ** 300, -1]]
    coeffs = data.draw(st.lists(st.integers(-2 ** 90, 2 ** 90), min_size=len(vectors),
                                max_size=len(vectors)))
    coeffs[-1] = -2 ** 90
    size = max(abs(c).bit_length() for c in coeffs) + \
        max(abs(v).bit_length() for vector in vectors for v in vector)
    bits = kernel._pack_bits(size, len(vectors))
    packed = [kernel._pack(v, bits) for v in vectors]
    combined = kernel._unpack(sum(c * p for c, p in zip(coeffs, packed)), 3, bits)
    assert combined == [sum(c * v[j] for c, v in zip(coeffs, vectors)) for j in range(3)]
