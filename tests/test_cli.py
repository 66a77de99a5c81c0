"""The command line: outputs, exit codes, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deep2shallow_exact.cli import EXAMPLES, main

TINY = str(EXAMPLES / "tiny.json")
SAW = str(EXAMPLES / "sawtooth3.json")
GATE = str(EXAMPLES / "gating_identity.json")


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, doc) -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def relu_doc(layers):
    return {"format": "deep2shallow-exact/network", "version": 1, "kind": "relu",
            "layers": [{"weights": w, "bias": b} for w, b in layers]}


def test_evaluate_json_is_exact(capsys):
    code, out, _ = run(capsys, "evaluate", TINY, "--at", "1/2,-1/3", "--json")
    assert code == 0
    # By hand: z1 = (5/6, -1/12, -1/6) -> a1 = (5/6, 0, 0); z2 = (19/30, -5/6) -> a2 = (19/30, 0)
    # y = 2 * 19/30 + 1/2 = 53/30.
    assert json.loads(out) == {"output": ["53/30"]}


def test_evaluate_extended_network_uses_zero_times_infinity(capsys):
    # The first line is exact; a second one, "≈ ...", rounds the non-integer outputs.
    assert run(capsys, "evaluate", GATE, "--at", "0")[1].splitlines() == ["0"]
    assert run(capsys, "evaluate", GATE, "--at", "3/2")[1].splitlines()[0] == "3/2"
    assert run(capsys, "evaluate", GATE, "--at", "-5")[1].splitlines() == ["0"]


def test_undefined_is_an_error_naming_layer_and_neuron(capsys, tmp_path):
    net = write(tmp_path, "u.json", relu_doc([([[1], [-1]], [0, 0]), ([["inf", "inf"]], [0]),
                                              ([["inf"], ["inf"]], [0, 0]),
                                              ([[1, -1]], [0])]))
    code, _, err = run(capsys, "evaluate", net, "--at", "1")
    assert code == 2 and "layer 4, neuron 1" in err and len(err.strip().splitlines()) == 1


def test_info(capsys):
    code, out, _ = run(capsys, "info", TINY, "--json")
    info = json.loads(out)
    assert code == 0
    assert info["widths"] == [2, 3, 2, 1]
    assert info["parameters"] == 3 * 3 + 2 * 4 + 1 * 3
    assert info["max_denominator"] == 5
    assert info["infinite_entries"] is False
    assert json.loads(run(capsys, "info", GATE, "--json")[1])["infinite_entries"] is True


def test_regions_json_keys_and_counts(capsys):
    code, out, _ = run(capsys, "regions", SAW, "--box", "0:1", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["input_dim"] == 1 and doc["scope"] == "everywhere" and doc["partial"] is False
    assert doc["counts_by_dim"] == {"1": 8, "0": 9}
    assert doc["regions"] == 8
    assert len(doc["pieces"]) == 17
    assert set(doc["pieces"][0]) == {"dim", "signs", "witness", "A", "c"}
    summary = json.loads(run(capsys, "regions", SAW, "--box", "0:1", "--json", "--summary")[1])
    assert "pieces" not in summary
    opened = json.loads(run(capsys, "regions", SAW, "--box", "0:1", "--json",
                            "--scope", "open")[1])
    assert opened["regions"] == 8 and opened["counts_by_dim"] == {"1": 8}


def test_regions_output_does_not_depend_on_the_worker_count(capsys):
    one, two = (json.loads(run(capsys, "regions", TINY, "--json", "--workers", w)[1])
                for w in ("1", "2"))
    # The answer is the same; how the search went ("stats": nodes, LP calls) may differ.
    assert one.pop("stats")["lp_calls"] > 0 and two.pop("stats")
    assert one == two and one["regions"] == 15
    dims = [p["dim"] for p in one["pieces"]]
    assert dims == sorted(dims, reverse=True)


def test_regions_max_pieces_then_checkpoint_resume(capsys, tmp_path):
    ckpt = str(tmp_path / "run.ckpt")
    code, out, err = run(capsys, "regions", SAW, "--box", "0:1", "--json", "--max-pieces", "4",
                         "--checkpoint", ckpt)
    first = json.loads(out)
    assert code == 0 and first["partial"] is True and len(first["pieces"]) == 4
    assert "partial" in err
    code, out, _ = run(capsys, "regions", SAW, "--box", "0:1", "--json", "--checkpoint", ckpt)
    done = json.loads(out)
    assert done["partial"] is False and done["counts_by_dim"] == {"1": 8, "0": 9}
    code, _, err = run(capsys, "regions", TINY, "--checkpoint", ckpt)
    assert code == 2 and "different network" in err


def test_check_exit_codes_and_certificate(capsys, tmp_path):
    cert = str(tmp_path / "c.json")
    relu = write(tmp_path, "relu.json", relu_doc([([[1]], [0]), ([[1]], [0])]))
    code, out, _ = run(capsys, "check", GATE, relu, "--certificate", cert, "--json")
    assert code == 0 and json.loads(out)["verdict"] == "PROVEN"
    assert run(capsys, "verify", cert)[0] == 0
    doubled = write(tmp_path, "d.json", relu_doc([([[1]], [0]), ([[2]], [0])]))
    code, out, _ = run(capsys, "check", relu, doubled, "--json")
    doc = json.loads(out)
    assert code == 1 and doc["verdict"] == "REFUTED"
    x = doc["counterexample"]
    assert doc["outputs"] == [[x[0]], [str(2 * int(x[0]))]] and x[0] != "0"


def test_verify_rejects_a_tampered_certificate(capsys, tmp_path):
    cert = tmp_path / "c.json"
    run(capsys, "check", TINY, TINY, "--certificate", str(cert))
    doc = json.loads(cert.read_text())
    doc["networks"][1]["layers"][2]["bias"][0] = "1"
    cert.write_text(json.dumps(doc))
    code, out, _ = run(capsys, "verify", str(cert))
    assert code == 1 and out.startswith("INVALID at tree[")


def test_convert_writes_a_proven_network(capsys, tmp_path):
    out_path = tmp_path / "s.json"
    code, out, _ = run(capsys, "convert", SAW, "-o", str(out_path), "--box", "0:1")
    assert code == 0 and "PROVEN" in out
    doc = json.loads(out_path.read_text())
    assert doc["verified"] is True and len(doc["layers"]) == 3
    info = json.loads(run(capsys, "info", str(out_path), "--json")[1])
    assert info["verified"] is True and len(info["unpruned_widths"]) == 4
    code, _, err = run(capsys, "convert", SAW, "-o", str(out_path), "--method", "closed-cells")
    assert code == 2 and "--no-verify" in err
    code, _, _ = run(capsys, "convert", SAW, "-o", str(out_path), "--method", "closed-cells",
                     "--no-verify")
    assert code == 0 and json.loads(out_path.read_text())["verified"] is False
    code, out, _ = run(capsys, "check", SAW, str(out_path), "--json")
    assert code == 1


BAD_NETWORKS = {
    "malformed.json": ("{not json", "malformed JSON"),
    "tag.json": ({"format": "other", "version": 1, "layers": []}, "format"),
    "version.json": ({"format": "deep2shallow-exact/network", "version": 2, "layers": []},
                     "version"),
    "shape.json": (relu_doc([([[1, 2]], [0]), ([[1, 1]], [0])]), "layers[1]"),
    "nan.json": (relu_doc([([["nan"]], [0]), ([[1]], [0])]), "'nan'"),
    "zero_den.json": (relu_doc([([["1/0"]], [0]), ([[1]], [0])]), "'1/0'"),
    "abc.json": (relu_doc([([[1]], ["abc"]), ([[1]], [0])]), "'abc'"),
}


@pytest.mark.parametrize("name", sorted(BAD_NETWORKS))
def test_bad_networks_exit_2_with_one_line(capsys, tmp_path, name):
    doc, fragment = BAD_NETWORKS[name]
    path = write(tmp_path, name, doc)
    code, out, err = run(capsys, "info", path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert name in err and fragment in err


@pytest.mark.parametrize("argv, fragment", [
    (["info", "missing.json"], "no such file"),
    (["evaluate", TINY, "--at", "1,2,3"], "3 coordinates"),
    (["evaluate", TINY, "--at", "1,x"], "coordinate 2"),
    (["regions", TINY, "--box", "0:1,2"], "interval 2"),
    (["regions", TINY, "--box", "1:0"], "lower bound"),
    (["regions", TINY, "--max-pieces", "0"], "--max-pieces"),
    (["regions", TINY, "--workers", "0"], "--workers"),
    (["check", TINY, SAW], "inputs"),
    (["verify", "missing-cert.json"], "no such file"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_regions_of_a_network_infinite_on_a_piece_is_an_error(capsys, tmp_path):
    net = write(tmp_path, "inf.json", relu_doc([([["inf"]], [0]), ([[1]], [0])]))
    code, out, err = run(capsys, "regions", net)
    assert code == 2 and "infinite on a whole piece" in err and len(err.strip().splitlines()) == 1
    # The gating identity is finite everywhere, so its pieces are fine: x<0, x=0, x>0.
    doc = json.loads(run(capsys, "regions", GATE, "--json")[1])
    assert doc["counts_by_dim"] == {"1": 2, "0": 1}


def test_unsupported_onnx_operator_is_named(capsys, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    node = helper.make_node("Sigmoid", ["x"], ["y"], name="squash")
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    code, _, err = run(capsys, "info", str(path))
    assert code == 2 and "Sigmoid" in err and "m.onnx" in err


def test_no_traceback_from_the_installed_command(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    proc = subprocess.run([sys.executable, "-m", "deep2shallow_exact.cli", "evaluate", str(bad),
                           "--at", "1"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_acas_xu_onnx_and_vnnlib_box(capsys):
    pytest.importorskip("onnx")
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "acasxu"
    net = data / "ACASXU_run2a_1_1_batch_2000.onnx"
    if not net.exists():
        pytest.skip("ACAS Xu data not present")
    info = json.loads(run(capsys, "info", str(net), "--json")[1])
    assert info["widths"] == [5, 50, 50, 50, 50, 50, 50, 5]
    code, out, _ = run(capsys, "evaluate", str(net), "--at", "0,0,0,0,0", "--json")
    assert code == 0 and len(json.loads(out)["output"]) == 5


DLGN = str(EXAMPLES / "dlgn_jump.json")


def test_gates_lists_the_effective_hyperplanes(capsys):
    code, out, _ = run(capsys, "gates", DLGN, "--json")
    gates = json.loads(out)["gates"]
    assert code == 0 and [(g["layer"], g["index"]) for g in gates] == [(1, 1), (1, 2), (2, 1)]
    code, _, err = run(capsys, "gates", TINY)
    assert code == 2 and "not hyperplanes" in err


def test_npk_gram_is_exact_and_psd(capsys, tmp_path):
    points = write(tmp_path, "p.txt", "1,0\n0,1\n")
    code, out, _ = run(capsys, "npk", TINY, "--points", points, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["positive_semidefinite"] is True
    gram = doc["gram"]
    assert gram[0][1] == gram[1][0] == "0"  # ⟨x, x'⟩ = 0 for orthogonal inputs
    bad = write(tmp_path, "bad.txt", "1,0\n0,x\n")
    code, _, err = run(capsys, "npk", TINY, "--points", bad)
    assert code == 2 and "line 2" in err


def test_soft_evaluation_reports_the_gap(capsys):
    code, out, _ = run(capsys, "evaluate", DLGN, "--at", "1/3,1/5", "--soft", "40", "--json")
    doc = json.loads(out)
    assert code == 0 and float(doc["max_gap"]) < 0.01 and doc["beta"] == "40"


def test_explain_plot_report_and_merge(capsys, tmp_path):
    code, out, _ = run(capsys, "explain", TINY, "--at", "1/2,-1/3", "--json", "--attributions")
    doc = json.loads(out)
    assert code == 0 and doc["map"]["text"] == ["2*x1 - 2*x2 + 1/10"]
    shapley = doc["attributions"]["shapley"]
    assert shapley is not None
    picture = tmp_path / "r.png"
    code, out, _ = run(capsys, "plot", TINY, "-o", str(picture))
    assert code == 0 and picture.stat().st_size > 0 and "15 regions" in out
    report = tmp_path / "r.md"
    code, _, _ = run(capsys, "report", SAW, "-o", str(report), "--box", "0:1", "--no-shallow")
    assert code == 0 and "8" in report.read_text()
    doc = json.loads(run(capsys, "regions", TINY, "--merge", "--json", "--summary")[1])
    assert doc["regions"] == 15 and doc["linear_pieces"] <= 15


def test_convert_to_the_dgn_form(capsys, tmp_path):
    out_path = tmp_path / "g.json"
    code, out, _ = run(capsys, "convert", TINY, "-o", str(out_path), "--to", "dgn")
    assert code == 0 and "PROVEN" in out
    doc = json.loads(out_path.read_text())
    assert doc["kind"] == "dgn" and doc["verified"] is True
    # The gating network is the ReLU network's own hidden layers, the value network all layers.
    from deep2shallow_exact.formats import load_network
    relu, gated = load_network(TINY), load_network(out_path)
    assert gated.gating == relu.layers[:-1] and gated.value == relu.layers
    assert run(capsys, "check", TINY, str(out_path))[0] == 0
