"""The trusted kernel rejects every tampered version of certificates made by the checker.

Certificates come from check() on several pairs of equal networks (ReLU, a box domain, a domain
equality, an extended-real network, DGNs and DLGNs). Each kind of change of DESIGN section 5 is
applied to them, and each must be rejected. Whether a change must be rejected is decided in the
test itself from first principles — the node's rows are recomputed here from the tree, and an
altered network is evaluated exactly at points of the domain — never by asking the package.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from fractions import Fraction
from functools import cache
from itertools import product

import pytest

from deep2shallow_exact.affine import Affine
from deep2shallow_exact.checker import check
from deep2shallow_exact.domain import Domain, box
from deep2shallow_exact.errors import UndefinedError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats import network_from_document
from deep2shallow_exact.kernel import verify, verify_text
from deep2shallow_exact.network import GatedNetwork, Layer, Network, ReluNetwork
from deep2shallow_exact.numbers import Infinity, format_number

F = Fraction
Row = tuple[str, tuple[Fraction, ...]]  # (">" | "≥" | "=", (a_1, ..., a_n, c))
# Enough of each kind of node to cover every shape of certificate, few enough to stay fast.
PER_KIND = 8


def relu_net(*layers: tuple[list, list]) -> ReluNetwork:
    return ReluNetwork.from_lists(list(layers))


def gated(kind: str, gating: list, value: list, value_input: str = "x") -> GatedNetwork:
    return GatedNetwork(kind, tuple(Layer.build(w, b, "gating") for w, b in gating),
                        tuple(Layer.build(w, b, "value") for w, b in value), value_input)


def _tiny() -> ReluNetwork:
    return relu_net(([[1, -1], ["1/2", 1], [-1, "-1/3"]], [0, "-1/2", "1/4"]),
                    ([[1, 1, -2], [-1, "2/3", 1]], ["-1/5", 0]), ([[2, -1]], ["1/2"]))


def _sawtooth() -> ReluNetwork:
    tent = ([[2, -4], [2, -4]], [0, "-1/2"])
    return relu_net(([[1], [1]], [0, "-1/2"]), tent, tent, ([[2, -4]], [0]))


GATING_IDENTITY = relu_net(([[1], [-1]], [0, 0]), ([[1, "-inf"]], [0]), ([[1]], [0]))
RELU = relu_net(([[1]], [0]), ([[1]], [0]))


def _shallow(net: ReluNetwork) -> ReluNetwork:
    from deep2shallow_exact.construction import to_shallow
    return to_shallow(net, verify=False).network


def _pairs() -> dict[str, tuple[Network, Network, Domain | None]]:
    tiny, saw = _tiny(), _sawtooth()
    return {
        # relu(x) = x on [0, 2]: the piece x = 0 needs λ = −1.
        "identity": (RELU, relu_net(([[1]], [0])), box([F(0)], [F(2)])),
        "tiny-dgn": (tiny, GatedNetwork("dgn", tiny.layers[:-1], tiny.layers), None),
        "sawtooth-box": (saw, GatedNetwork("dgn", saw.layers[:-1], saw.layers),
                         box([F(0)], [F(1)])),
        "relu-sum-box": (relu_net(([[1, 0], [0, 1]], [0, 0]), ([[1, 1]], [0])),
                         relu_net(([[1, 1]], [0])), box([F(0), F(0)], [F(1), F(1)])),
        "extended": (GATING_IDENTITY, RELU, None),
        "extended-box": (GATING_IDENTITY, relu_net(([[1]], [0])), box([F(0)], [F(2)])),
        # Gates are signs, so scaling a gate row by 3 or 2 changes nothing; value rows are
        # scaled and the output undoes it.
        "dlgn": (gated("dlgn", [([[1, -1], [1, 1]], [0, -1])],
                       [([[1, 0], [0, 1]], [1, 0]), ([[1, 2]], [0])]),
                 gated("dlgn", [([[3, -3], [2, 2]], [0, -2])],
                       [([[2, 0], [0, 3]], [2, 0]), ([["1/2", "2/3"]], [0])]), None),
        "line": (relu_net(([[1, 0]], [0])), relu_net(([[0, 1]], [0])),
                 Domain(2, (), (Affine.of([1, -1], 0),), "the line x1 = x2")),
        # A deep network against its three-layer form: gates decided on demand (the −∞
        # terms first), pairs a·ReLU(h) − a·ReLU(−h) without the sign of h.
        "tiny-shallow": (tiny, _shallow(tiny), None),
        # Finite ReLU networks in scope open: by continuity a proof everywhere.
        "tiny-open": (tiny, relu_net(*((tuple(map(list, layer.weights)), list(layer.bias))
                                       for layer in tiny.layers)), None),
        "sawtooth-box-open": (saw, saw, box([F(0)], [F(1)])),
    }


PAIRS = _pairs()


@cache
def _certificate(name: str) -> str:
    a, b, domain = PAIRS[name]
    result = check(a, b, domain, "open" if name.endswith("open") else "everywhere")
    assert result.proven and result.certificate is not None
    return json.dumps(result.certificate)


def certificate(name: str) -> dict:
    """A fresh copy of the certificate (tests mutate it)."""
    return json.loads(_certificate(name))


def rejected(doc: dict) -> bool:
    verdict = verify(doc)
    return not verdict.valid and bool(verdict.reason)


# -- reading a certificate independently of the kernel -----------------------------------------

def number(value: object) -> Fraction:
    return Fraction(str(value))


def row(values: Sequence[object]) -> tuple[Fraction, ...]:
    return tuple(number(v) for v in values)


def value_at(f: tuple[Fraction, ...], x: Sequence[Fraction]) -> Fraction:
    return f[-1] + sum((a * v for a, v in zip(f, x)), Fraction(0))


def node_rows(doc: dict) -> dict[int, list[Row]]:
    """The rows of every node (proofs/CERTIFICATE.md section 5), recomputed from the tree."""
    domain = doc["domain"]
    base = ([("≥", row(g)) for g in domain["inequalities"]]
            + [("=", row(e)) for e in domain["equalities"]])
    tree = doc["tree"]
    rows: dict[int, list[Row]] = {}
    stack = [(0, base)]
    while stack:
        index, path = stack.pop()
        rows[index] = path
        node = tree[index]
        if "split" in node:
            phi = row(node["split"])
            minus = tuple(-v for v in phi)
            asserted = {"+": (">", phi), "0": ("=", phi), "-": (">", minus),
                        "-0": ("≥", minus), "+0": ("≥", phi)}
            for side, child in node["children"].items():
                stack.append((child, [*path, asserted[side]]))
    return rows


def satisfies(rows: Sequence[Row], x: Sequence[Fraction]) -> bool:
    checks = {">": lambda v: v > 0, "≥": lambda v: v >= 0, "=": lambda v: v == 0}
    return all(checks[kind](value_at(f, x)) for kind, f in rows)


def nodes(doc: dict, kind: str) -> list[int]:
    """Indices of nodes of one kind, spread over the tree, at most PER_KIND of them."""
    found = [i for i, node in enumerate(doc["tree"]) if kind in node]
    step = max(1, len(found) // PER_KIND)
    return found[::step][:PER_KIND]


def subtree_has_piece(doc: dict, index: int) -> bool:
    node = doc["tree"][index]
    if "split" in node:
        return any(subtree_has_piece(doc, c) for c in node["children"].values())
    return "piece" in node


NAMES = list(PAIRS)


def test_certificates_are_valid_to_start_with() -> None:
    for name in NAMES:
        doc = certificate(name)
        assert verify(doc).valid, name
        rows = node_rows(doc)
        assert len(rows) == len(doc["tree"])  # one tree: every node reached once
        for i in nodes(doc, "piece"):
            witness = row(doc["tree"][i]["piece"]["witness"])
            assert satisfies(rows[i], witness)
    kinds = {kind for name in NAMES for node in certificate(name)["tree"] for kind in node}
    assert {"split", "empty", "piece"} <= kinds


# -- the tampering ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_dropping_a_child_of_a_split_is_rejected(name: str) -> None:
    doc = certificate(name)
    splits = nodes(doc, "split")
    if not splits:
        pytest.skip("this certificate is a single piece")
    for index in splits:
        for side in doc["tree"][index]["children"]:
            tampered = copy.deepcopy(doc)
            del tampered["tree"][index]["children"][side]
            assert rejected(tampered), (index, side)
            # the same child twice, the other one dropped: still a missing side of φ
            tampered = copy.deepcopy(doc)
            children = tampered["tree"][index]["children"]
            other = next(s for s in children if s != side)
            children[side] = children[other]
            assert rejected(tampered), (index, side)


def _outside(f: tuple[Fraction, ...], x: tuple[Fraction, ...]) -> tuple[Fraction, ...]:
    """x moved along the gradient of f to where f = −1."""
    gradient = f[:-1]
    t = (-1 - value_at(f, x)) / sum(a * a for a in gradient)
    return tuple(v + t * a for v, a in zip(x, gradient))


@pytest.mark.parametrize("name", NAMES)
def test_moving_a_witness_outside_its_piece_is_rejected(name: str) -> None:
    doc = certificate(name)
    rows = node_rows(doc)
    pieces = nodes(doc, "piece")
    moved = 0
    for index in pieces:
        entry = doc["tree"][index]["piece"]
        witness = row(entry["witness"])
        usable = [f for _, f in rows[index] if any(f[:-1])]
        # The first row (a domain row, or the root's split) and the last (the newest split).
        for f in dict.fromkeys(usable[:1] + usable[-1:]):
            point = _outside(f, witness)
            assert not satisfies(rows[index], point)
            entry["witness"] = [format_number(v) for v in point]
            assert rejected(doc), (index, point)
            moved += 1
        # Pieces are disjoint: another piece's witness lies outside this one.
        others = [row(doc["tree"][i]["piece"]["witness"]) for i in pieces if i != index]
        for point in [x for x in others if not satisfies(rows[index], x)][:2]:
            entry["witness"] = [format_number(v) for v in point]
            assert rejected(doc), (index, point)
        entry["witness"] = [format_number(v) for v in witness]
    assert verify(doc).valid  # every change was undone
    if rows[pieces[0]]:
        assert moved > 0


@pytest.mark.parametrize("name", [n for n in NAMES if any(
    "empty" in node for node in certificate(n)["tree"])])
def test_altering_a_motzkin_multiplier_is_rejected(name: str) -> None:
    doc = certificate(name)
    rows = node_rows(doc)
    for index in nodes(doc, "empty"):
        multipliers = doc["tree"][index]["empty"]
        assert len(multipliers) == len(rows[index])
        for r, (old, (kind, f)) in enumerate(zip(list(multipliers), rows[index])):
            mu = number(old)
            # Σ μ f has zero x-part; changing one μ_r by δ ≠ 0 adds δ·(x-part of f_r) ≠ 0.
            assert any(f[:-1])
            changes = [2 * mu if r % 2 else Fraction(0)] if mu else [Fraction(1)]
            if mu > 0 and kind != "=":
                changes.append(-mu)  # a negative multiplier on an inequality
            for new in changes:
                multipliers[r] = format_number(new)
                assert rejected(doc), (index, r, new)
            multipliers[r] = old
    assert verify(doc).valid  # every change was undone


def _entries(doc: dict) -> Iterator[tuple[str, int, str, int, int]]:
    """(list name, layer, "weights" | "bias", row, column) of every entry of a network; for
    a sparse layer, (..., "entry", k, 2) for the weight of its k-th entry."""
    for field in ("layers", "gating", "value"):
        for i, layer in enumerate(doc.get(field, [])):
            weights = layer["weights"]
            if isinstance(weights, dict):
                for k in range(len(weights["entries"])):
                    yield field, i, "entry", k, 2
            else:
                for r, row in enumerate(weights):
                    for c in range(len(row)):
                        yield field, i, "weights", r, c
            for r in range(len(layer["bias"])):
                yield field, i, "bias", r, -1


def _cell(layer: dict, part: str, r: int, c: int) -> tuple[list, int]:
    """The list holding an entry found by _entries, and its index there."""
    if part == "bias":
        return layer["bias"], r
    if part == "entry":
        return layer["weights"]["entries"][r], 2
    return layer["weights"][r], c


def _alterations(value: object) -> list[str]:
    if value in ("inf", "-inf"):
        return ["0", "-inf" if value == "inf" else "inf"]
    v = number(value)
    return [format_number(v + 1), format_number(-v - F(1, 2))]


def _outputs(net: Network, x: Sequence[Fraction]) -> object:
    try:
        out = evaluate(net, x)
    except UndefinedError:
        return "undefined"
    return "infinite" if any(isinstance(v, Infinity) for v in out) else out


def _domain_points(doc: dict) -> list[tuple[Fraction, ...]]:
    """Points of the certificate's domain: every piece witness, and small grid points."""
    n = doc["domain"]["dim"]
    base = node_rows(doc)[0]
    points = [row(node["piece"]["witness"]) for node in doc["tree"] if "piece" in node]
    grid = [F(k, 3) for k in range(-6, 7)]
    points += [x for x in product(grid, repeat=n) if satisfies(base, x)]
    return list(dict.fromkeys(points))


@pytest.mark.parametrize("name", NAMES)
def test_altering_a_weight_that_changes_a_function_is_rejected(name: str) -> None:
    doc = certificate(name)
    points = _domain_points(doc)
    changed = 0
    for k in (0, 1):
        other = network_from_document(doc["networks"][1 - k], "other")
        expected = [_outputs(other, x) for x in points]
        entries = list(_entries(doc["networks"][k]))
        for field, i, part, r, c in entries[::max(1, len(entries) // PER_KIND)]:
            cells, at = _cell(doc["networks"][k][field][i], part, r, c)
            for new in _alterations(cells[at]):
                tampered = copy.deepcopy(doc)
                target, at = _cell(tampered["networks"][k][field][i], part, r, c)
                target[at] = new
                try:
                    altered = network_from_document(tampered["networks"][k], "altered")
                except Exception:
                    continue  # e.g. ±∞ in a gated network: malformed, tested elsewhere
                # The certificate claims both networks agree at every point of the domain; a
                # point where the altered one differs from the other one makes that false.
                if any(_outputs(altered, x) != e for x, e in zip(points, expected)):
                    changed += 1
                    assert rejected(tampered), (k, field, i, part, r, c, new)
    assert changed >= 4


@pytest.mark.parametrize("name", NAMES)
def test_flipping_an_asserted_sign_is_rejected(name: str) -> None:
    doc = certificate(name)
    flipped = 0
    for index in nodes(doc, "split"):
        children = doc["tree"][index]["children"]
        # The two sides other than φ = 0: + and −, or one of them and the other joined with 0.
        a, b = (side for side in children if side != "0")
        if not (subtree_has_piece(doc, children[a]) or subtree_has_piece(doc, children[b])):
            continue  # both strict sides are empty: swapping them proves the same thing
        tampered = copy.deepcopy(doc)
        swapped = tampered["tree"][index]["children"]
        swapped[a], swapped[b] = swapped[b], swapped[a]
        assert rejected(tampered), index
        # The same flip written as a negated split function.
        tampered = copy.deepcopy(doc)
        tampered["tree"][index]["split"] = [format_number(-number(v))
                                            for v in tampered["tree"][index]["split"]]
        assert rejected(tampered), index
        flipped += 1
    if nodes(doc, "split"):
        assert flipped > 0


@pytest.mark.parametrize("name", [n for n in NAMES if any(
    "piece" in node and any(number(v) for lam in node["piece"]["lambda"] for v in lam)
    for node in certificate(n)["tree"])])
def test_dropping_an_equality_row_from_a_hull_proof_is_rejected(name: str) -> None:
    doc = certificate(name)
    rows = node_rows(doc)
    dropped = 0
    for index in nodes(doc, "piece"):
        lambdas = doc["tree"][index]["piece"]["lambda"]
        equalities = [f for kind, f in rows[index] if kind == "="]
        for k, lam in enumerate(lambdas):
            assert len(lam) == len(equalities)
            for j, value in enumerate(lam):
                if not number(value):
                    continue
                # Without E_j the sum Σ λ E changes by λ_j E_j, which is not the zero function.
                assert any(equalities[j])
                tampered = copy.deepcopy(doc)
                del tampered["tree"][index]["piece"]["lambda"][k][j]
                assert rejected(tampered), (index, k, j)
                tampered = copy.deepcopy(doc)
                tampered["tree"][index]["piece"]["lambda"][k][j] = "0"
                assert rejected(tampered), (index, k, j)
                dropped += 1
    assert dropped > 0


def test_dropping_a_domain_equality_is_rejected() -> None:
    # x1 = x2 holds only on the domain; (0, 1) is a point of R^2 where the networks differ.
    doc = certificate("line")
    a, b = (network_from_document(net, "net") for net in doc["networks"])
    assert evaluate(a, (F(0), F(1))) != evaluate(b, (F(0), F(1)))
    tampered = copy.deepcopy(doc)
    tampered["domain"]["equalities"] = []
    for node in tampered["tree"]:
        if "piece" in node:
            node["piece"]["lambda"] = [lam[1:] for lam in node["piece"]["lambda"]]
    assert rejected(tampered)


def test_widening_the_box_is_rejected() -> None:
    # ReLU(x1) + ReLU(x2) = x1 + x2 only where both are ≥ 0; the box [−1, 1]^2 is too wide.
    doc = certificate("relu-sum-box")
    tampered = copy.deepcopy(doc)
    tampered["domain"]["inequalities"] = [[1, 0, 1], [-1, 0, 1], [0, 1, 1], [0, -1, 1]]
    assert rejected(tampered)


def test_changing_the_scope_is_rejected() -> None:
    doc = certificate("identity")
    doc["scope"] = "open"  # its splits have three children
    assert rejected(doc)


def test_swapping_the_networks_needs_negated_lambdas() -> None:
    # A − B = Σ λ E exactly when B − A = Σ (−λ) E: swapping alone breaks the nonzero λ.
    doc = certificate("identity")
    doc["networks"].reverse()
    assert rejected(doc)
    for node in doc["tree"]:
        if "piece" in node:
            node["piece"]["lambda"] = [[format_number(-number(v)) for v in lam]
                                       for lam in node["piece"]["lambda"]]
    assert verify(doc).valid


# -- re-serialising changes nothing ------------------------------------------------------------

def reversed_keys(value: object) -> object:
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


@pytest.mark.parametrize("name", NAMES)
def test_reordered_keys_stay_valid(name: str) -> None:
    doc = certificate(name)
    assert verify_text(json.dumps(doc, sort_keys=True)).valid
    assert verify_text(json.dumps(reversed_keys(doc), indent=3)).valid
    assert verify(reversed_keys(doc)).valid
    assert verify(json.loads(json.dumps(doc, sort_keys=True, separators=(",", ":")))).valid
