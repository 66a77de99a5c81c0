"""The trusted kernel against certificates derived by hand (no package code builds them).

Every valid certificate below was worked out on paper; the comments give the derivation. Each is
then tampered with in the ways a wrong or dishonest checker could go astray, and every tampered
version must be rejected with a reason and a path naming the failing node.
"""

from __future__ import annotations

import copy
import json
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats.json_format import network_from_document
from deep2shallow_exact.kernel import Verdict, verify, verify_text


def relu_net(*layers: tuple[list, list]) -> dict:
    return {"format": "deep2shallow-exact/network", "version": 1, "kind": "relu",
            "layers": [{"weights": w, "bias": b} for w, b in layers]}


def gated_net(kind: str, gating: list, value: list, value_input: str = "x") -> dict:
    return {"format": "deep2shallow-exact/network", "version": 1, "kind": kind,
            "gating": [{"weights": w, "bias": b} for w, b in gating],
            "value": [{"weights": w, "bias": b} for w, b in value], "value_input": value_input}


def cert(a: dict, b: dict, tree: list, dim: int = 1, inequalities: list | None = None,
         equalities: list | None = None, scope: str = "everywhere") -> dict:
    # Copies, so that a test tampering with one certificate leaves the shared networks alone.
    networks = [copy.deepcopy(a), copy.deepcopy(b)]
    return {"format": "deep2shallow-exact/certificate", "version": 3, "networks": networks,
            "domain": {"dim": dim, "inequalities": inequalities or [],
                       "equalities": equalities or []},
            "scope": scope, "tree": tree}


def split(row: list, plus: int, minus: int, zero: int | None = None) -> dict:
    children = {"+": plus, "-": minus} if zero is None else {"+": plus, "0": zero, "-": minus}
    return {"split": row, "children": children}


def piece(witness: list, lambdas: list) -> dict:
    return {"piece": {"witness": witness, "lambda": lambdas}}


RELU = relu_net(([[1]], [0]), ([[1]], [0]))                 # x ↦ relu(x)
IDENTITY = relu_net(([[1]], [0]))                           # x ↦ x, no hidden layer
RELU_MINUS_RELU = relu_net(([[1], [-1]], [0, 0]), ([[1, -1]], [0]))   # relu(x) − relu(−x)


def relu_vs_relu() -> dict:
    # Split on x: on x > 0 both are x, on x = 0 and x < 0 both are 0.
    return cert(RELU, RELU, [split([1, 0], 1, 3, zero=2), piece([1], [[]]),
                             piece([0], [[0]]), piece([-1], [[]])])


def identity_cert() -> dict:
    # relu(x) − relu(−x) vs x: the pair a·ReLU(g) − a·ReLU(−g) is a·g at every point, so the
    # first network's output is x with no sign asked for, and one piece covers R.
    return cert(RELU_MINUS_RELU, IDENTITY, [piece([5], [[]])])


def equality_domain_cert() -> dict:
    # On the line x1 = x2: x1 − x2 = 1 · (x1 − x2), the domain equality.
    return cert(relu_net(([[1, 0]], [0])), relu_net(([[0, 1]], [0])),
                [piece([3, 3], [[1]])], dim=2, equalities=[[1, -1, 0]])


def gating_identity_cert() -> dict:
    # relu(relu(x) − ∞·relu(−x)) vs relu(x). x > 0: relu(−x) = 0 and ∞·0 = 0, so x.
    # x = 0: everything is 0. x < 0: relu(x) = 0, −∞·(−x) = −∞ as −x > 0, relu(−∞) = 0.
    extended = relu_net(([[1], [-1]], [0, 0]), ([[1, "-inf"]], [0]), ([[1]], [0]))
    return cert(extended, RELU, [split([1, 0], 1, 3, zero=2), piece([1], [[]]),
                                 piece([0], [[0]]), piece([-1], [[]])])


def dgn_vs_dlgn_cert() -> dict:
    # DGN: q1 = x − 1, g1 = relu(q1), q2 = g1; gates 1{x > 1} twice; out = 1{x>1}·1{x>1}·x.
    # DLGN: q1 = x − 1; out = 1{x > 1}·x. Split on x − 1; at x = 1 every gate is closed.
    dgn = gated_net("dgn", [([[1]], [-1]), ([[1]], [0])], [([[1]], [0]), ([[1]], [0]),
                                                          ([[1]], [0])])
    dlgn = gated_net("dlgn", [([[1]], [-1])], [([[1]], [0]), ([[1]], [0])])
    return cert(dgn, dlgn, [split([1, -1], 1, 3, zero=2), piece([2], [[]]), piece([1], [[0]]),
                            piece([0], [[]])])


def dlgn_ones_cert() -> dict:
    # value_input "ones": 3 + G·(2·1) vs 3 + G'·(1·1 + 1) with G = 1{x > 0}, G' = 1{5x > 0}.
    # The split is on −2x, so side "+" is x < 0 and the gate signs need the canonical-form rule.
    a = gated_net("dlgn", [([[1]], [0])], [([[2]], [0]), ([[1]], [3])], "ones")
    b = gated_net("dlgn", [([[5]], [0])], [([[1]], [1]), ([[1]], [3])], "ones")
    return cert(a, b, [split([-2, 0], 1, 3, zero=2), piece([-1], [[]]), piece([0], [[0]]),
                       piece([1], [[]])])


def step_nets() -> tuple[dict, dict]:
    # 1{x > 0} and 1 − 1{−x > 0}: equal off x = 0, but 0 ≠ 1 at x = 0.
    return (gated_net("dlgn", [([[1]], [0])], [([[1]], [0]), ([[1]], [0])], "ones"),
            gated_net("dlgn", [([[-1]], [0])], [([[-1]], [0]), ([[1]], [1])], "ones"))


def two_empties_cert() -> dict:
    # Split on x, then again on 2x under x > 0: {x > 0, 2x = 0} is empty by 2·x − 1·(2x) = 0
    # with a positive strict multiplier (κ = 0), and {x > 0, −2x > 0} by 2·x + 1·(−2x) = 0.
    return cert(RELU, RELU, [split([1, 0], 1, 3, zero=2), split([2, 0], 4, 6, zero=5),
                             piece([0], [[0]]), piece([-1], [[]]), piece([1], [[]]),
                             {"empty": [2, -1]}, {"empty": [2, 1]}])


def box_cert() -> dict:
    # relu(x) = x on [0, 1], rows x ≥ 0 and −x + 1 ≥ 0. The side x − 2 ≥ 0 is empty with
    # κ < 0: 1·(−x + 1) + 1·(x − 2) = −1. Under x < 2 a split on x is still needed, since the
    # box [0, 1] reaches x = 0 (it fixes a sign only strictly); its side x < 0 is empty by
    # 1·x + 1·(−x) = 0, κ = 0.
    return cert(RELU, IDENTITY, [split([1, -2], 1, 3, zero=2), {"empty": [0, 1, 1]},
                                 {"empty": [0, 1, 1]}, split([1, 0], 4, 6, zero=5),
                                 piece(["1/2"], [[]]), piece([0], [[-1]]),
                                 {"empty": [1, 0, 0, 1]}],
                inequalities=[[1, 0], [-1, 1]])


def indicator_cert() -> dict:
    # relu(1 − ∞·relu(1 + ∞·x)) is 1{x < 0}: for x > 0 the inner neuron is +∞ and the outer
    # one relu(−∞) = 0; at x = 0 it is relu(1 − ∞·1) = 0; for x < 0 the inner one is
    # relu(−∞) = 0 and the outer one relu(1 − ∞·0) = 1. The DLGN gives 1{−x > 0}.
    extended = relu_net(([["inf"]], [1]), ([["-inf"]], [1]), ([[1]], [0]))
    step = gated_net("dlgn", [([[-1]], [0])], [([[1]], [0]), ([[1]], [0])], "ones")
    return cert(extended, step, [split([1, 0], 1, 3, zero=2), piece([1], [[]]),
                                 piece([0], [[0]]), piece([-1], [[]])])


def two_outputs_cert() -> dict:
    # (relu(x), relu(−x)) vs (½·relu(2x), ⅓·relu(−3x)).
    a = relu_net(([[1], [-1]], [0, 0]), ([[1, 0], [0, 1]], [0, 0]))
    b = relu_net(([[2], [-3]], [0, 0]), ([["1/2", 0], [0, "1/3"]], [0, 0]))
    return cert(a, b, [split([1, 0], 1, 3, zero=2), piece([1], [[], []]),
                       piece([0], [[0], [0]]), piece([-1], [[], []])])


def open_cert() -> dict:
    return cert(*step_nets(), [split([1, 0], 1, 2), piece([1], [[]]), piece([-1], [[]])],
                scope="open")


VALID = {"relu_vs_relu": relu_vs_relu, "identity": identity_cert,
         "equality_domain": equality_domain_cert, "gating_identity": gating_identity_cert,
         "dgn_vs_dlgn": dgn_vs_dlgn_cert, "dlgn_ones": dlgn_ones_cert,
         "two_empties": two_empties_cert, "box": box_cert, "indicator": indicator_cert,
         "two_outputs": two_outputs_cert, "open": open_cert}


def rejected(document: object) -> Verdict:
    verdict = verify(document)
    assert not verdict.valid
    assert verdict.reason and not verdict.reason.startswith("internal error"), verdict.reason
    return verdict


# --- valid certificates --------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(VALID))
def test_hand_built_certificates_are_valid(name: str) -> None:
    verdict = verify(VALID[name]())
    assert verdict.valid, verdict
    assert verdict.path == ""
    assert verdict.nodes == len(VALID[name]()["tree"])


@pytest.mark.parametrize(("name", "pieces", "empties"),
                         [("relu_vs_relu", 3, 0), ("two_empties", 3, 2), ("box", 2, 3),
                          ("indicator", 3, 0),
                          ("open", 2, 0), ("equality_domain", 1, 0)])
def test_counts(name: str, pieces: int, empties: int) -> None:
    verdict = verify(VALID[name]())
    assert (verdict.pieces, verdict.empties) == (pieces, empties)


def test_reason_states_scope_and_domain() -> None:
    assert "R^1" in verify(relu_vs_relu()).reason
    assert "scope everywhere" in verify(relu_vs_relu()).reason
    assert "scope open" in verify(open_cert()).reason
    assert "2 domain rows" in verify(box_cert()).reason


@pytest.mark.parametrize("name", sorted(VALID))
def test_reordered_keys_and_text_round_trip(name: str) -> None:
    def reverse(value: object) -> object:
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        return [reverse(v) for v in value] if isinstance(value, list) else value
    assert verify(reverse(VALID[name]())).valid
    assert verify_text(json.dumps(VALID[name](), sort_keys=True, indent=1)).valid


def test_number_spellings() -> None:
    doc = box_cert()
    doc["tree"][4]["piece"]["witness"] = ["0.25"]
    doc["tree"][5]["piece"]["lambda"] = [[Fraction(-1)]]
    doc["tree"][6]["empty"] = ["1", "0.0", "0/5", "1e0"]
    assert verify(doc).valid
    text = json.dumps(box_cert()).replace('"witness": ["1/2"]', '"witness": [1e-3]')
    assert '1e-3' in text and verify_text(text).valid
    text = json.dumps(relu_vs_relu()).replace('"witness": [-1]', '"witness": [-0.125]')
    assert '-0.125' in text and verify_text(text).valid


def test_worked_example_of_the_format_page() -> None:
    page = (Path(__file__).parent.parent / "proofs" / "CERTIFICATE.md").read_text()
    example = page.split("```json\n", 1)[1].split("```", 1)[0]
    verdict = verify_text(example)
    assert verdict.valid
    assert verdict.reason in " ".join(page.split())
    assert json.loads(example) == box_cert()


def test_domain_equality_fixes_a_sign() -> None:
    # relu(x1 − x2) vs 0 on the line x1 = x2: the domain equality says x1 − x2 = 0.
    doc = cert(relu_net(([[1, -1]], [0]), ([[1]], [0])), relu_net(([[0, 0]], [0])),
               [piece([1, 1], [[0]])], dim=2, equalities=[[-2, 2, 0]])
    assert verify(doc).valid


def test_pair_rule_needs_no_sign() -> None:
    # relu(x) − relu(−x) is x everywhere; relu(x) + relu(−x) is |x| and needs the sign of x.
    assert verify(identity_cert()).valid
    absolute = relu_net(([[1], [-1]], [0, 0]), ([[1, 1]], [0]))
    verdict = rejected(cert(absolute, absolute, [piece([5], [[]])]))
    assert "needs the sign of x1" in verdict.reason


GATE = relu_net(([[1, 0], [0, 1]], [0, 0]), ([[1, "-inf"]], [0]), ([[1]], [0]))
SCALED_GATE = relu_net(([[1, 0], [0, 3]], [0, 0]), ([[2, "-inf"]], [0]), ([["1/2"]], [0]))


def gate_cert() -> dict:
    # relu(relu(x1) − ∞·relu(x2)), and the same with relu(3x2) and 2·relu(x1) halved after.
    # Where x2 > 0 the −∞ term is known, so both are 0 without the sign of x1 (rule 4). Where
    # x2 = 0 (x2 reduces to 0) or x2 < 0 the gate is relu(x1), a lone positive atom, and the
    # output resolves it: the sign of x1 is split on there.
    return cert(GATE, SCALED_GATE, [
        split([0, 1, 0], 1, 3, zero=2),
        piece([-5, 1], [[]]),
        split([1, 0, 0], 4, 6, zero=5),
        split([1, 0, 0], 7, 9, zero=8),
        piece([1, 0], [[0]]), piece([0, 0], [[0, 0]]), piece([-1, 0], [[0]]),
        piece([1, -1], [[]]), piece([0, -1], [[0]]), piece([-1, -1], [[]])], dim=2)


def test_gate_closes_without_the_sign_of_its_other_input() -> None:
    assert verify(gate_cert()).valid
    doc = gate_cert()
    doc["tree"][0]["children"] = {"+": 1, "0": 3, "-": 2}  # "+" and "0" sides swapped
    rejected(doc)
    # Without the split on x2, nothing decides the gate.
    verdict = rejected(cert(GATE, SCALED_GATE, [piece([1, 1], [[]])], dim=2))
    assert "needs the sign of x2" in verdict.reason or "needs the sign of x1" in verdict.reason


def test_a_sign_known_modulo_an_equality() -> None:
    # relu(x1 + x2) vs 2·relu(x1) on the line x1 = x2. Where x1 > 0, x1 + x2 reduces (modulo
    # x1 − x2) to 2·x2 and the row x1 > 0 to x2: the sign of x1 + x2 is known, +, without a
    # split of its own, and A − B = x2 − x1 = −1 · (x1 − x2).
    a = relu_net(([[1, 1]], [0]), ([[1]], [0]))
    b = relu_net(([[1, 0]], [0]), ([[2]], [0]))
    doc = cert(a, b, [split([1, 0, 0], 1, 3, zero=2), piece([1, 1], [[-1]]),
                      piece([0, 0], [[0, 0]]), piece([-1, -1], [[0]])],
               dim=2, equalities=[[1, -1, 0]])
    assert verify(doc).valid
    doc["tree"][1]["piece"]["lambda"] = [[0]]
    assert rejected(doc).path == "tree[1] (root/+).piece.lambda[0]"
    doc = cert(a, b, [split([1, 0, 0], 1, 3, zero=2), piece([1, 1], [[]]),
                      piece([0, 0], [[0]]), piece([-1, -1], [[]])], dim=2)
    assert "needs the sign of x1 + x2" in rejected(doc).reason   # off the line it is unknown


def sparse(doc: dict) -> dict:
    """The same network with every layer's weights in the sparse form."""
    out = copy.deepcopy(doc)
    for layer in out["layers"]:
        rows = layer["weights"]
        layer["weights"] = {"rows": len(rows), "cols": len(rows[0]), "entries": [
            [i, j, w] for i, row in enumerate(rows) for j, w in enumerate(row) if w != 0]}
    return out


def test_sparse_layers_read_like_dense_ones() -> None:
    dense = gating_identity_cert()
    doc = copy.deepcopy(dense)
    doc["networks"] = [sparse(net) for net in doc["networks"]]
    assert verify(doc).valid
    assert verify(doc).networks == verify(dense).networks  # the hashes name the weights
    weights = doc["networks"][0]["layers"][1]["weights"]
    for bad, path in [
            ({**weights, "entries": [*weights["entries"], weights["entries"][0]]},
             "networks[0].layers[1].weights.entries[2]"),
            ({**weights, "entries": [[0, 2, 1]]}, "networks[0].layers[1].weights.entries[0]"),
            ({**weights, "entries": [[1, 0, 1]]}, "networks[0].layers[1].weights.entries[0]"),
            ({**weights, "cols": 3}, "networks[0].layers[1].weights.cols"),
            ({**weights, "rows": 0}, "networks[0].layers[1].weights.rows"),
            ({**weights, "extra": 1}, "networks[0].layers[1].weights"),
            ({**weights, "entries": [[0, 0, "x"]]},
             "networks[0].layers[1].weights.entries[0][2]"),
            ({**weights, "entries": [[True, 0, 1]]}, "networks[0].layers[1].weights.entries[0]"),
            ({**weights, "entries": [[0, 0, 1], [0, 1, "0"], [0, 1, 0]]},
             "networks[0].layers[1].weights.entries[2]")]:
        tampered = copy.deepcopy(doc)
        tampered["networks"][0]["layers"][1]["weights"] = bad
        assert rejected(tampered).path == path
    # An explicit zero entry, as text or as a JSON integer, names the same weights as a dense
    # zero (the hashes agree, so the zero was dropped, not kept as a weight).
    for zero in ("0", 0, "0/5"):
        padded = copy.deepcopy(doc)
        last = padded["networks"][1]["layers"][1]["weights"]
        last["entries"] = [[0, 0, zero]]
        plain = copy.deepcopy(dense)
        plain["networks"][1]["layers"][1]["weights"] = [[zero]]
        assert verify(padded).networks == verify(plain).networks


def test_verify_against_the_given_networks() -> None:
    doc = gating_identity_cert()
    a, b = doc["networks"]
    assert verify(doc, (a, b)).valid
    assert verify(doc, (sparse(a), b)).valid          # the same weights, written sparse
    verdict = rejected_with(doc, (b, a))
    assert verdict.path == "networks[0]" and "given network 1" in verdict.reason
    other = copy.deepcopy(b)
    other["layers"][1]["weights"] = [["1/2"]]
    assert rejected_with(doc, (a, other)).path == "networks[1]"


def rejected_with(doc: dict, networks: tuple) -> Verdict:
    verdict = verify(doc, networks)
    assert not verdict.valid and not verdict.reason.startswith("internal error")
    return verdict


def test_open_scope_proves_everywhere_for_finite_relu_networks() -> None:
    half = relu_net(([[2]], [0]), ([["1/2"]], [0]))
    doc = cert(RELU, half, [split([1, 0], 1, 2), piece([1], [[]]), piece([-1], [[]])],
               scope="open")
    verdict = verify(doc)
    assert verdict.valid and verdict.claim.startswith(
        "both networks are defined, finite and equal at every point of R^1 (both are finite")
    # Step functions are not continuous: their open certificate claims less.
    assert "off the hyperplanes" in verify(open_cert()).claim
    assert "off the hyperplanes" in verify(cert(GATE, SCALED_GATE, [
        split([0, 1, 0], 1, 2), piece([0, 1], [[]]), split([1, 0, 0], 3, 4),
        piece([1, -1], [[]]), piece([-1, -1], [[]])], dim=2, scope="open")).claim


def test_open_scope_split_with_two_empty_children_is_refused() -> None:
    # On the point domain {0} both strict sides of a split on x are empty: the split's
    # hyperplane holds the whole domain, and scope open cannot speak about it.
    doc = cert(RELU, RELU, [split([1, 0], 1, 2), {"empty": [0, 1, 1]}, {"empty": [1, 0, 1]}],
               inequalities=[[1, 0], [-1, 0]], scope="open")
    assert rejected(doc).path == "tree[0] (root).children"
    doc["scope"] = "everywhere"
    doc["tree"][0]["children"]["0"] = 3
    doc["tree"].append(piece([0], [[0]]))
    assert verify(doc).valid


def test_many_inputs_cost_about_the_certificate_size() -> None:
    # Issue 12: with n = 2000 inputs and three leaves the kernel once built n coordinate
    # vectors of n + 1 entries at every leaf (27 s for 36 KB). Its work now stays within a
    # small multiple of the certificate's size.
    n = 2000
    first = [[1] + [0] * (n - 1), [0, 1] + [0] * (n - 2)]
    net = relu_net((first, [0, 0]), ([[1, 1]], [0]))
    doc = cert(net, net, [split([1] + [0] * n, 1, 3, zero=2), piece([1] * n, [[]]),
                          piece([0] * n, [[0]]), piece([-1] * n, [[]])], dim=n, scope="open")
    doc["tree"] = [split([1] + [0] * n, 1, 2), split([0, 1] + [0] * (n - 1), 3, 4),
                   split([0, 1] + [0] * (n - 1), 5, 6), piece([1, 1] + [0] * (n - 2), [[]]),
                   piece([1, -1] + [0] * (n - 2), [[]]), piece([-1, 1] + [0] * (n - 2), [[]]),
                   piece([-1, -1] + [0] * (n - 2), [[]])]
    check = kernel_check()
    verdict = check.run(doc, None)
    assert verdict.valid and verdict.pieces == 4
    assert check.work < 20 * (8 * (n + 1) + 2 * n)


def kernel_check():
    from deep2shallow_exact.kernel import _Check
    return _Check()


# --- tampering -----------------------------------------------------------------------------

def test_missing_sign_is_rejected() -> None:
    verdict = rejected(cert(RELU, RELU, [piece([1], [[]])]))
    assert "needs the sign of x1" in verdict.reason
    assert verdict.path == "tree[0] (root)"


def test_sign_of_another_function_does_not_help() -> None:
    # The path fixes the sign of x1, the network needs that of x1 + x2.
    net = relu_net(([[1, 1]], [0]), ([[1]], [0]))
    doc = cert(net, net, [split([1, 0, 0], 1, 3, zero=2), piece([1, 0], [[]]),
                          piece([0, 0], [[0]]), piece([-1, 0], [[]])], dim=2)
    verdict = rejected(doc)
    assert "x1 + x2" in verdict.reason and verdict.path == "tree[1] (root/+)"


def test_domain_inequality_fixes_no_sign() -> None:
    # relu(x) = x on [0, 1] is true, but x ≥ 0 is a domain row, not an asserted sign.
    verdict = rejected(cert(RELU, IDENTITY, [piece(["1/2"], [[]])],
                            inequalities=[[1, 0], [-1, 1]]))
    assert "needs the sign" in verdict.reason


def test_dropped_child() -> None:
    doc = relu_vs_relu()
    del doc["tree"][0]["children"]["0"]
    assert rejected(doc).path == "tree[0] (root).children"


def test_open_scope_children() -> None:
    doc = open_cert()
    doc["tree"][0]["children"]["0"] = 2
    assert rejected(doc).path == "tree[0] (root).children"
    doc = open_cert()
    doc["scope"] = "everywhere"
    rejected(doc)


def test_open_certificate_does_not_prove_everywhere() -> None:
    # The step functions differ at 0: with the "0" leaf no lambda can fix the constant 1.
    doc = cert(*step_nets(), [split([1, 0], 1, 3, zero=2), piece([1], [[]]), piece([0], [[5]]),
                              piece([-1], [[]])])
    verdict = rejected(doc)
    assert verdict.path == "tree[2] (root/0).piece.lambda[0]"


def test_witness_outside_its_piece() -> None:
    doc = relu_vs_relu()
    doc["tree"][1]["piece"]["witness"] = [-1]
    verdict = rejected(doc)
    assert verdict.path == "tree[1] (root/+).piece.witness"
    doc = box_cert()
    doc["tree"][4]["piece"]["witness"] = [2]       # inside the piece's splits, outside the box
    assert "domain.inequalities[1]" in rejected(doc).reason


def test_swapped_sides() -> None:
    doc = relu_vs_relu()
    children = doc["tree"][0]["children"]
    children["+"], children["-"] = children["-"], children["+"]
    assert rejected(doc).path == "tree[3] (root/+).piece.witness"   # "+" is visited first


@pytest.mark.parametrize(("node", "multipliers", "path"),
                         [(6, [1, 1], "tree[6] (root/+/-).empty"),
                          (5, [0, 0], "tree[5] (root/+/0).empty"),
                          (6, [-2, -1], "tree[6] (root/+/-).empty[0]"),
                          (6, [2], "tree[6] (root/+/-).empty"),
                          (6, [2, "x"], "tree[6] (root/+/-).empty[1]")])
def test_altered_motzkin_multipliers(node: int, multipliers: list, path: str) -> None:
    doc = two_empties_cert()
    doc["tree"][node]["empty"] = multipliers
    assert rejected(doc).path == path


def test_negative_multiplier_on_a_domain_inequality() -> None:
    doc = box_cert()
    doc["tree"][1]["empty"] = [-1, 0, 1]   # −x + (x − 2) = −2, but μ of x ≥ 0 must be ≥ 0
    assert rejected(doc).path == "tree[1] (root/+).empty[0]"


def test_zero_kappa_needs_a_strict_row() -> None:
    # The domain x ≥ 0, −x ≥ 0 is the point 0; 1·x + 1·(−x) = 0 proves nothing.
    doc = cert(RELU, RELU, [{"empty": [1, 1]}], inequalities=[[1, 0], [-1, 0]])
    assert rejected(doc).path == "tree[0] (root).empty"


def test_positive_kappa_and_unused_strict_row() -> None:
    doc = box_cert()
    doc["tree"][1]["empty"] = [0, 0, 1]     # κ: x − 2 is not constant
    rejected(doc)
    doc["tree"][1]["empty"] = [1, 1, 0]     # x + (−x + 1) = 1 > 0
    assert "constant 1" in rejected(doc).reason


def test_altered_weight_changes_the_function() -> None:
    doc = relu_vs_relu()
    doc["networks"][1]["layers"][1]["weights"] = [[2]]
    verdict = rejected(doc)
    assert verdict.path == "tree[1] (root/+).piece.lambda[0]"
    assert "2*x1" in verdict.reason


def test_dropped_lambda() -> None:
    doc = box_cert()
    doc["tree"][5]["piece"]["lambda"] = [[0]]
    assert rejected(doc).path == "tree[5] (root/-/0).piece.lambda[0]"
    doc["tree"][5]["piece"]["lambda"] = [[]]
    assert rejected(doc).path == "tree[5] (root/-/0).piece.lambda[0]"
    doc = equality_domain_cert()
    doc["tree"][0]["piece"]["lambda"] = [[2]]
    rejected(doc)


def test_two_outputs_need_two_lambda_lists() -> None:
    doc = two_outputs_cert()
    doc["tree"][2]["piece"]["lambda"] = [[0]]
    assert rejected(doc).path == "tree[2] (root/0).piece.lambda"
    doc = two_outputs_cert()
    doc["networks"][1]["layers"][1]["weights"][1][1] = "1/2"
    verdict = rejected(doc)
    assert verdict.path == "tree[3] (root/-).piece.lambda[1]" and "output 1" in verdict.reason


def test_infinite_output() -> None:
    doc = gating_identity_cert()
    doc["networks"][0]["layers"][1]["weights"] = [[1, "inf"]]   # relu(+∞) reaches the output
    verdict = rejected(doc)
    assert "+∞" in verdict.reason and verdict.path == "tree[3] (root/-)"


def test_infinity_minus_infinity() -> None:
    both = relu_net(([[1], [1]], [0, 0]), ([["inf", "-inf"]], [0]), ([[1]], [0]))
    doc = gating_identity_cert()
    doc["networks"][0] = both
    verdict = rejected(doc)
    assert "∞ − ∞" in verdict.reason and verdict.path == "tree[1] (root/+)"
    assert "networks[0].layers[1] row 0" in verdict.reason


@pytest.mark.parametrize("where", ["witness", "domain", "dgn"])
def test_infinity_only_in_relu_weights(where: str) -> None:
    if where == "witness":
        doc = relu_vs_relu()
        doc["tree"][1]["piece"]["witness"] = ["inf"]
    elif where == "domain":
        doc = box_cert()
        doc["domain"]["inequalities"][0] = ["inf", 0]
    else:
        doc = dgn_vs_dlgn_cert()
        doc["networks"][0]["gating"][0]["bias"] = ["-inf"]
    rejected(doc)


@pytest.mark.parametrize("bad", [True, "nan", "NaN", "1/0", 0.5, None, [1], "1e99999",
                                 "١", " 1", "1_0", "inf/2", ""])
def test_bad_numbers(bad: object) -> None:
    doc = relu_vs_relu()
    doc["networks"][1]["layers"][1]["weights"][0][0] = bad
    assert rejected(doc).path == "networks[1].layers[1].weights[0][0]"


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda d: d["tree"][0]["children"].update({"0": 1}), 'tree[0] (root).children["0"]'),
    (lambda d: d["tree"][0]["children"].update({"+": 0}), 'tree[0] (root).children["+"]'),
    (lambda d: d["tree"][0]["children"].update({"-": 4}), 'tree[0] (root).children["-"]'),
    (lambda d: d["tree"][0]["children"].update({"-": True}), 'tree[0] (root).children["-"]'),
    (lambda d: d["tree"][0]["children"].update({"x": 3}), "tree[0] (root).children"),
    (lambda d: d["tree"].append(piece([1], [[]])), "tree[4]"),
    (lambda d: d["tree"][2].update({"empty": [1]}), "tree[2] (root/0)"),
    (lambda d: d["tree"][1].update({"children": {}}), "tree[1] (root/+)"),
    (lambda d: d["tree"][0].update({"split": [0, 1]}), "tree[0] (root).split"),
    (lambda d: d["tree"][0].update({"split": [1]}), "tree[0] (root).split"),
    (lambda d: d["tree"].__setitem__(3, "leaf"), "tree[3] (root/-)"),
    (lambda d: d["tree"].clear(), "tree"),
    (lambda d: d.update({"version": True}), "version"),
    (lambda d: d.update({"format": "other"}), "format"),
    (lambda d: d.update({"scope": ["open"]}), "scope"),
    (lambda d: d.pop("domain"), "domain"),
    (lambda d: d["domain"].update({"dim": 2}), "networks[0].layers[0].weights[0]"),
    (lambda d: d["domain"].update({"dim": True}), "domain.dim"),
    (lambda d: d["domain"].update({"equalities": [[1]]}), "domain.equalities[0]"),
    (lambda d: d["networks"].pop(), "networks"),
    (lambda d: d["networks"][1].update({"kind": "cnn"}), "networks[1].kind"),
    (lambda d: d["networks"][1].update({"layers": []}), "networks[1].layers"),
    (lambda d: d["networks"][1]["layers"][0].update({"bias": [0, 0]}),
     "networks[1].layers[0].bias"),
    (lambda d: d["networks"][1]["layers"][1].update({"weights": [[1, 1]]}),
     "networks[1].layers[1].weights[0]"),
    (lambda d: d["networks"][1]["layers"][1].update({"weights": [[1], [1]], "bias": [0, 0]}),
     "networks[1]"),
])
def test_malformed_structure(mutate, path: str) -> None:
    doc = relu_vs_relu()
    mutate(doc)
    assert rejected(doc).path == path


def test_child_before_its_parent() -> None:
    # Still a tree, but the inner split moves to index 6, after its children 1, 4 and 5.
    doc = two_empties_cert()
    tree = doc["tree"]
    tree[0]["children"]["+"] = 6
    tree[1], tree[6] = tree[6], split([2, 0], 4, 1, zero=5)
    assert rejected(doc).path == 'tree[6] (root/+).children["+"]'


def test_gated_shapes() -> None:
    doc = dgn_vs_dlgn_cert()
    doc["networks"][1]["value"].pop()
    assert rejected(doc).path == "networks[1].value"
    doc = dgn_vs_dlgn_cert()
    doc["networks"][1]["value_input"] = "zeros"
    assert rejected(doc).path == "networks[1].value_input"
    doc = dgn_vs_dlgn_cert()
    doc["networks"][0]["gating"][1] = {"weights": [[1], [1]], "bias": [0, 0]}
    assert rejected(doc).path == "networks[0].value[1]"


def test_dgn_is_not_dlgn() -> None:
    # Gating q1 = x, then q2 = −g1; value h1 = G1·x, h2 = G2·(h1 + 1). As a DGN g1 = relu(x),
    # so q2 = −relu(x) ≤ 0 closes G2 everywhere and the output is 0. As a DLGN g1 = x, and on
    # x < 0 the gate 1{−x > 0} opens: the output is 1 there.
    net = gated_net("dgn", [([[1]], [0]), ([[-1]], [0])],
                    [([[1]], [0]), ([[1]], [1]), ([[1]], [0])])
    doc = cert(net, relu_net(([[0]], [0])), [split([1, 0], 1, 3, zero=2), piece([1], [[]]),
                                             piece([0], [[0]]), piece([-1], [[]])])
    assert verify(doc).valid
    doc["networks"][0]["kind"] = "dlgn"
    verdict = rejected(doc)
    assert verdict.path == "tree[3] (root/-).piece.lambda[0]"


def test_cyclic_and_nested_python_objects() -> None:
    doc = relu_vs_relu()
    doc["tree"].append(doc["tree"])
    assert rejected(doc).path == "tree[4]"
    doc = relu_vs_relu()
    nested: list = [1]
    for _ in range(100_000):
        nested = [nested]
    doc["tree"][1]["piece"]["witness"] = nested
    assert rejected(doc).path == "tree[1] (root/+).piece.witness[0]"


def test_bad_text() -> None:
    for text in ["", "{", "[" * 100_000, '{"format": NaN}', '{"a": 1, "a": 2}', "1e999999999",
                 "9" * 5000, json.dumps(relu_vs_relu())[:-1]]:
        verdict = verify_text(text)
        assert not verdict.valid and verdict.reason.startswith("not a valid JSON document")
    assert not verify_text(None).valid  # type: ignore[arg-type]
    assert not verify_text("[]").valid


def test_refusing_a_long_number_takes_linear_time() -> None:
    # The grammar once backtracked: refusing "1"*n + "_" took time growing as n².
    from deep2shallow_exact.kernel import NUMBER
    for text in ("1" * 200_000 + "_", "1" * 200_000 + "e", "." + "1" * 200_000 + "e+"):
        assert NUMBER.fullmatch(text) is None
        assert NUMBER.fullmatch(text[:-1] if not text.endswith("e+") else text[:-2])


def test_floats_are_not_exact() -> None:
    doc = json.loads(json.dumps(relu_vs_relu()).replace('"witness": [1]', '"witness": [0.5]'))
    assert "float" in rejected(doc).reason


def chain(depth: int) -> dict:
    # relu(x) vs relu(x): split on x, then on x − 1, x − 2, ... down the "+" side. Level k
    # (nodes 3k, 3k+1, 3k+2) splits on x − k; under x − (k−1) > 0 its "0" side holds k, its
    # "-" side k − 1/2 (−1 at level 0), and the last "+" side holds depth + 1.
    tree: list = []
    for k in range(depth + 1):
        below = Fraction(2 * k - 1, 2) if k else -1
        tree += [split([1, -k], 3 * k + 3, 3 * k + 2, zero=3 * k + 1), piece([k], [[0]]),
                 piece([below], [[]])]
    tree.append(piece([depth + 1], [[]]))
    return cert(RELU, RELU, tree)


def check_chain(depth: int) -> None:
    doc = chain(depth)
    tree = doc["tree"]
    verdict = verify(doc)
    assert verdict.valid, verdict
    assert (verdict.pieces, verdict.nodes) == (2 * (depth + 1) + 1, len(tree))
    doc["tree"][-1]["piece"]["witness"] = [depth]
    verdict = rejected(doc)
    assert verdict.path == f"tree[{len(tree) - 1}] (root{'/+' * (depth + 1)}).piece.witness"


def test_tree_deeper_than_the_recursion_limit() -> None:
    frames, frame = 0, sys._getframe()
    while frame is not None:
        frames, frame = frames + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(frames + 60)   # the chain below is 300 splits deep
    try:
        check_chain(300)
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.slow
def test_very_deep_tree() -> None:
    check_chain(1200)


# --- fuzzing -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6)
    | st.sampled_from(["inf", "-inf", "1/2", "0", "-1", "nan", "1/0", "+", "0.5e1"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["split", "empty", "piece", "children", "+", "0", "-", "witness",
                         "lambda", "weights", "bias", "kind", "x"]), inner, max_size=4),
    max_leaves=12)


def _locations(value: object, trail: tuple = ()) -> list[tuple]:
    found = [trail]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _locations(item, (*trail, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _locations(item, (*trail, index))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VALID)), st.data(), json_values, st.booleans())
def test_random_mutations_never_raise(name: str, data, replacement: object,
                                      delete: bool) -> None:
    doc = VALID[name]()
    places = [p for p in _locations(doc) if p]
    trail = data.draw(st.sampled_from(places))
    parent = doc
    for step in trail[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[trail[-1]]
    else:
        parent[trail[-1]] = copy.deepcopy(replacement)
    verdict = verify(doc)
    assert isinstance(verdict, Verdict)
    assert not verdict.reason.startswith("internal error"), verdict.reason


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_random_json_never_raises(document: object) -> None:
    verdict = verify(document)
    assert not verdict.valid and not verdict.reason.startswith("internal error")
    assert not verify_text(json.dumps(document)).valid


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_random_text_never_raises(text: str) -> None:
    verdict = verify_text(text)
    assert not verdict.valid and not verdict.reason.startswith("internal error")


def _numeric_places(value: object, trail: tuple = ()) -> list[tuple]:
    if isinstance(value, list) and value and all(not isinstance(v, (list, dict)) for v in value):
        return [(*trail, i) for i in range(len(value))]
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    return [p for key, item in items if key not in ("format", "scope")
            for p in _numeric_places(item, (*trail, key))]


def _grid(dim: int) -> list[tuple[Fraction, ...]]:
    if dim == 1:
        return [(Fraction(k, 4),) for k in range(-16, 17)]
    return [(Fraction(i, 2), Fraction(j, 2)) for i in range(-6, 7) for j in range(-6, 7)]


def _tampered(name: str) -> list[tuple[tuple, object, dict]]:
    """Every certificate obtained from VALID[name] by changing one number."""
    out = []
    for trail in _numeric_places(VALID[name]()):
        for number in (-2, -1, 0, 1, 2, "1/2", "-1/3", "inf", "-inf"):
            doc = VALID[name]()
            parent = doc
            for step in trail[:-1]:
                parent = parent[step]
            parent[trail[-1]] = number
            out.append((trail, number, doc))
    return out


@pytest.mark.parametrize("name", sorted(VALID))
def test_tampered_certificates_that_pass_are_true(name: str) -> None:
    # Ground truth, independent of the kernel: the package's reader and exact evaluator at
    # every grid point of the domain (off the split hyperplanes in scope "open").
    passed = 0
    for trail, number, doc in _tampered(name):
        if verify(doc).valid:
            passed += 1
            _assert_agree_on_grid(doc, (trail, number))
    assert passed > 0      # some changes keep the statement true: witnesses, idle weights


def _assert_agree_on_grid(doc: dict, change: object) -> None:
    a, b = (network_from_document(net, "test") for net in doc["networks"])
    domain = doc["domain"]
    splits = [node["split"] for node in doc["tree"] if "split" in node]

    def value(row: list, x: tuple[Fraction, ...]) -> Fraction:
        return Fraction(row[-1]) + sum(Fraction(c) * v for c, v in zip(row, x))

    for x in _grid(domain["dim"]):
        if any(value(g, x) < 0 for g in domain["inequalities"]) or any(
                value(e, x) != 0 for e in domain["equalities"]):
            continue
        if doc["scope"] == "open" and any(value(phi, x) == 0 for phi in splits):
            continue
        assert evaluate(a, x) == evaluate(b, x), (change, x)


# --- signs fixed by the domain's box (version 3) ---------------------------------------------

def box_rows(*bounds: tuple[int, int]) -> list[list[int]]:
    """Rows x_i − lo ≥ 0 and hi − x_i ≥ 0 of the box Π [lo, hi]."""
    n, rows = len(bounds), []
    for i, (lo, hi) in enumerate(bounds):
        unit = [int(j == i) for j in range(n)]
        rows += [[*unit, -lo], [*(-u for u in unit), hi]]
    return rows


def test_a_sign_the_box_fixes_needs_no_split() -> None:
    # relu(x1 + x2 − 1/2) on [1, 2] × [0, 3]: x1 + x2 − 1/2 ≥ 1/2 > 0 on the box, so the
    # network is x1 + x2 − 1/2 there, by hand; one piece, no split.
    net = relu_net(([[1, 1]], ["-1/2"]), ([[1]], [0]))
    affine = relu_net(([[1, 1]], ["-1/2"]))
    doc = cert(net, affine, [piece([1, 0], [[]])], dim=2, inequalities=box_rows((1, 2), (0, 3)))
    verdict = verify(doc)
    assert verdict.valid and verdict.pieces == 1, verdict.reason
    # The same tree on a polytope with the same points but no one-coordinate row: no bounds.
    rotated = [[1, 1, -1], [-1, -1, 5], [1, -1, -1], [-1, 1, 5]]  # 1 ≤ x1 ± x2 ≤ 5 (a diamond)
    doc = cert(net, affine, [piece([2, 0], [[]])], dim=2, inequalities=rotated)
    assert "needs the sign of" in rejected(doc).reason


def test_a_box_that_only_touches_zero_fixes_no_sign() -> None:
    # x − 1 on [1, 2] is 0 at x = 1: the box leaves its sign open, strictly.
    net = relu_net(([[1]], [-1]), ([[1]], [0]))
    affine = relu_net(([[1]], [-1]))
    doc = cert(net, affine, [piece(["3/2"], [[]])], inequalities=box_rows((1, 2)))
    assert "needs the sign of" in rejected(doc).reason
    doc["domain"]["inequalities"] = box_rows((2, 3))  # now x − 1 ≥ 1 > 0
    doc["tree"] = [piece([2], [[]])]
    assert verify(doc).valid


def test_the_box_bounds_a_sign_below_a_split_and_an_equality() -> None:
    # On [0, 1] × [0, 1] split on x1 − x2: relu(x1 + 2) is x1 + 2 everywhere (x1 + 2 ≥ 2 on the
    # box); on the side x1 = x2 the kernel reduces modulo x1 − x2 and still bounds it.
    net = relu_net(([[1, 0]], [2]), ([[1]], [0]))
    affine = relu_net(([[1, 0]], [2]))
    tree = [split([1, -1, 0], 1, 3, zero=2), piece([1, 0], [[]]), piece(["1/2", "1/2"], [[0]]),
            piece([0, 1], [[]])]
    assert verify(cert(net, affine, tree, dim=2, inequalities=box_rows((0, 1), (0, 1)))).valid
    # Widened to x1 ≥ −3 the same tree must fail: x1 + 2 may be negative.
    assert "needs the sign of" in rejected(cert(net, affine, tree, dim=2,
                                                inequalities=box_rows((-3, 1), (0, 1)))).reason


def test_one_sided_bounds_fix_a_sign_only_in_their_direction() -> None:
    # x ≥ 1 alone (no upper bound): x + 1 > 0 is known, x − 5 is not.
    up = relu_net(([[1]], [1]), ([[1]], [0]))
    doc = cert(up, relu_net(([[1]], [1])), [piece([7], [[]])], inequalities=[[1, -1]])
    assert verify(doc).valid
    down = relu_net(([[1]], [-5]), ([[1]], [0]))
    doc = cert(down, relu_net(([[1]], [-5])), [piece([7], [[]])], inequalities=[[1, -1]])
    assert "needs the sign of" in rejected(doc).reason


def test_version_2_certificates_are_still_read() -> None:
    doc = relu_vs_relu()
    doc["version"] = 2
    assert verify(doc).valid
    doc["version"] = 6
    assert "version must be one of" in rejected(doc).reason


def joined_sides_cert(domain_row: list, multipliers: list, version: int = 4) -> dict:
    # relu(x) vs x on the domain domain_row · (x, 1) ≥ 0: split on x; side + is a piece where
    # both are x, and one empty leaf covers x ≤ 0 (side "-0": the row −x ≥ 0, nonstrict).
    doc = cert(RELU, IDENTITY, [{"split": [1, 0], "children": {"+": 1, "-0": 2}},
                                piece([2], [[]]), {"empty": multipliers}],
               inequalities=[domain_row])
    doc["version"] = version
    return doc


def test_one_empty_leaf_covers_both_sides_of_a_split_in_version_4() -> None:
    # On x ≥ 1: 1·(x − 1) + 1·(−x) = −1 < 0, so x ≤ 0 holds nowhere and x > 0 everywhere.
    verdict = verify(joined_sides_cert([1, -1], ["1", "1"]), (RELU, IDENTITY))
    assert verdict.valid, verdict
    assert (verdict.pieces, verdict.empties, verdict.nodes) == (1, 1, 3)
    assert verdict.scope == "everywhere"
    assert verdict.domain == "the subset of R^1 cut out by the 1 domain rows"
    # The same with the sides the other way round: split on −x, side "-" and "+0".
    doc = joined_sides_cert([1, -1], ["1", "1"])
    doc["tree"][0] = {"split": [-1, 0], "children": {"-": 1, "+0": 2}}
    assert verify(doc).valid


def test_a_joined_side_is_read_as_nonstrict() -> None:
    # On x ≥ 0, 1·x + 1·(−x) = 0 proves −x > 0 empty (a strict row with a positive multiplier)
    # but not −x ≥ 0: x = 0 is left out, so the certificate is refused.
    assert "Motzkin" in rejected(joined_sides_cert([1, 0], ["1", "1"])).reason
    strict_only = cert(RELU, IDENTITY, [split([1, 0], 1, 3, zero=2), piece([2], [[]]),
                                        piece([0], [["-1"]]), {"empty": ["1", "1"]}],
                       inequalities=[[1, 0]])
    assert verify(strict_only).valid  # the two sides apart: x = 0 is its own piece


def test_joined_sides_are_refused_unless_version_4_scope_everywhere_and_an_empty_leaf() -> None:
    assert "children must be" in rejected(joined_sides_cert([1, -1], ["1", "1"], 3)).reason
    doc = joined_sides_cert([1, -1], ["1", "1"])
    doc["scope"] = "open"
    assert "children must be" in rejected(doc).reason
    doc = joined_sides_cert([1, -1], ["1", "1"])
    doc["tree"][2] = piece([-1], [[]])
    assert "must be an empty leaf" in rejected(doc).reason
    doc = joined_sides_cert([1, -1], ["1", "1"])
    doc["tree"][0]["children"] = {"+": 1, "-0": 2, "0": 2}
    assert "children must be" in rejected(doc).reason


def test_box_bounds_with_many_coprime_denominators_stay_within_the_work_bound() -> None:
    # n = 400 coordinates bounded by 1/p for the first 400 primes: one common denominator of
    # thousands of digits. The kernel charges for those digits (the work bound holds) and still
    # decides a small certificate exactly.
    primes, k = [], 2
    while len(primes) < 400:
        if all(k % p for p in primes):
            primes.append(k)
        k += 1
    n = len(primes)
    rows = []
    for i, p in enumerate(primes):
        unit = [0] * n
        unit[i] = 1
        rows += [[*unit, f"-1/{p}"], [*(-u for u in unit), 1]]  # 1/p ≤ x_i ≤ 1
    first = [[1] * n]
    net = relu_net((first, [0]), ([[1]], [0]))  # relu(Σ x_i), and Σ x_i > 0 on the box
    affine = relu_net((first, [0]))
    doc = cert(net, affine, [piece([1] * n, [[]])], dim=n, inequalities=rows)
    check = kernel_check()
    verdict = check.run(doc, None)
    assert verdict.valid and verdict.pieces == 1
    # The one sign it needed was charged by the digits of the common denominator Π p.
    common = 1
    for p in primes:
        common *= p
    assert check.work >= (n + 1) * (1 + common.bit_length() // 64)
