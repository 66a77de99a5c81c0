"""The Z3 peer of the convert benchmark (benchmarks/z3_peer.py) on hand-worked cases.

Skipped without z3-solver (the benchmark-only extra: pip install -e '.[bench]').
"""

import json
import sys
from fractions import Fraction as F
from pathlib import Path

import pytest

pytest.importorskip("z3")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import z3_peer  # noqa: E402

EXAMPLES = ROOT / "deep2shallow_exact" / "examples"


def net(*layers, kind="relu"):
    doc = {"format": "deep2shallow-exact/network", "version": 1, "kind": kind,
           "layers": [{"weights": w, "bias": b} for w, b in layers]}
    return z3_peer.network_from_document(doc, "test")


IDENTITY = net(([[1]], [0]))
RELU = net(([[1]], [0]), ([[1]], [0]))
ZERO = net(([[0]], [0]))


def decide(a, b, box=None):
    return z3_peer.decide(a, b, box, timeout=30)


def test_relu_difference_is_the_identity():
    odd = net(([[1], [-1]], [0, 0]), ([[1, -1]], [0]))
    assert decide(odd, IDENTITY)["verdict"] == "PROVEN"


def test_gating_identity_example_is_relu():
    # relu(relu(x) - inf * relu(-x)) = relu(x): at x < 0 the gate is -inf, at x = 0 it is
    # 0 * inf = 0, at x > 0 the -inf weight meets relu(-x) = 0.
    gated = z3_peer.read_network(EXAMPLES / "gating_identity.json")
    assert decide(gated, RELU)["verdict"] == "PROVEN"
    result = decide(gated, IDENTITY)
    assert result["verdict"] == "REFUTED" and F(result["counterexample"][0]) < 0


def test_a_difference_at_the_origin_alone_is_found_exactly():
    # relu(1 - inf * relu(x) - inf * relu(-x)) is 1 at x = 0 and 0 elsewhere.
    spike = net(([[1], [-1]], [0, 0]), ([["-inf", "-inf"]], [1]), ([[1]], [0]))
    result = decide(spike, ZERO)
    assert result["result"] == "sat" and result["confirmed"]
    assert result["counterexample"] == ["0"]
    assert result["outputs"] == ["1", "0"]
    assert decide(spike, ZERO, [(F(1, 10**6), F(1))])["verdict"] == "PROVEN"


# relu(x) + relu(-inf * relu(x) + inf * relu(x - 1)): relu(x) for x <= 1 (the gadget is 0, then
# relu(-inf) = 0), undefined (inf - inf) for x > 1. Never infinite.
UNDEFINED_ABOVE_1 = net(([[1], [1]], [0, -1]), ([[1, 0], ["-inf", "inf"]], [0, 0]),
                        ([[1, 1]], [0]))


def test_an_undefined_neuron_refutes():
    result = decide(UNDEFINED_ABOVE_1, RELU)
    assert result["result"] == "sat" and result["confirmed"]
    assert F(result["counterexample"][0]) > 1
    assert result["outputs"][0].startswith("undefined")
    with pytest.raises(z3_peer.Undefined):
        z3_peer.evaluate(UNDEFINED_ABOVE_1, [F(3, 2)])
    assert z3_peer.evaluate(UNDEFINED_ABOVE_1, [F(1)]) == [F(1)]
    assert decide(UNDEFINED_ABOVE_1, RELU, [(F(-5), F(1))])["verdict"] == "PROVEN"


def test_an_infinite_output_refutes():
    infinite = net(([["inf"]], [0]), ([[1]], [0]))  # relu(inf * x): +inf for x > 0
    result = decide(infinite, RELU)
    assert result["confirmed"] and F(result["counterexample"][0]) > 0
    assert decide(infinite, ZERO, [(F(-1), F(0))])["verdict"] == "PROVEN"


def test_sparse_and_dense_layers_read_alike(tmp_path):
    doc = json.loads((EXAMPLES / "gating_identity.json").read_text())
    doc["layers"][1]["weights"] = {"rows": 1, "cols": 2, "entries": [[0, 0, 1], [0, 1, "-inf"]]}
    path = tmp_path / "sparse.json"
    path.write_text(json.dumps(doc))
    sparse = z3_peer.read_network(path)
    assert sparse == z3_peer.read_network(EXAMPLES / "gating_identity.json")
    doc["layers"][1]["weights"]["entries"].append([0, 2, 1])
    with pytest.raises(z3_peer.BadInput, match="out of range"):
        z3_peer.network_from_document(doc, "bad")


def test_numbers_are_read_exactly(tmp_path):
    path = tmp_path / "numbers.json"
    path.write_text('{"format": "deep2shallow-exact/network", "version": 1, "kind": "relu", '
                    '"layers": [{"weights": [[0.1, "1/3", "-inf"]], "bias": ["2.5"]}]}')
    layer = z3_peer.read_network(path).layers[0]
    assert layer.rows[0] == [(0, F(1, 10)), (1, F(1, 3)), (2, z3_peer.NEG_INF)]
    assert layer.bias == [F(5, 2)]


def test_dlgn_jump_against_a_moved_copy():
    doc = json.loads((EXAMPLES / "dlgn_jump.json").read_text())
    dlgn = z3_peer.network_from_document(doc, "dlgn")
    assert decide(dlgn, dlgn)["verdict"] == "PROVEN"
    doc["gating"][1]["bias"] = ["1000001/1000000"]  # the wall x2 = 2 moves by 10^-6
    moved = z3_peer.network_from_document(doc, "moved")
    result = decide(dlgn, moved)
    assert result["confirmed"] and F(2) - F(1, 10**6) <= F(result["counterexample"][1]) <= 2


def test_command_line(tmp_path, capsys):
    gated = EXAMPLES / "gating_identity.json"
    assert z3_peer.main([str(gated), str(gated), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "PROVEN"
    relu = tmp_path / "relu.json"
    relu.write_text(json.dumps({"format": "deep2shallow-exact/network", "version": 1,
                                "layers": [{"weights": [[1]], "bias": [0]},
                                           {"weights": [[1]], "bias": [1]}]}))
    assert z3_peer.main([str(gated), str(relu), "--box=-1:1"]) == 1
    assert "REFUTED" in capsys.readouterr().out
    assert z3_peer.main([str(gated), str(tmp_path / "missing.json")]) == 2
