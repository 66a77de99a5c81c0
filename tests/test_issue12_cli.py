"""Issue 12, at the command line: every answer right, every error one line (exit 2, no traceback).

Each test reproduces one item of the issue; the expected values are worked out by hand or taken
from an independent source (torch's own forward pass, NumPy's matrix product), never from the
code under test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from deep2shallow_exact.cli import EXAMPLES, main

F = Fraction
TINY = str(EXAMPLES / "tiny.json")
JUMP = str(EXAMPLES / "dlgn_jump.json")
GATE = str(EXAMPLES / "gating_identity.json")
ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deep2shallow: error: "), err
    assert "Traceback" not in err
    return lines[0]


def write(tmp_path: Path, name: str, doc) -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def relu_doc(layers):
    return {"format": "deep2shallow-exact/network", "version": 1, "kind": "relu",
            "layers": [{"weights": w, "bias": b} for w, b in layers]}


def tiny_by_hand(x1: Fraction, x2: Fraction) -> Fraction:
    """examples/tiny.json written out: hidden widths 3 and 2, one output."""
    relu = lambda v: max(v, F(0))  # noqa: E731
    a = (relu(x1 - x2), relu(x1 / 2 + x2 - F(1, 2)), relu(-x1 - x2 / 3 + F(1, 4)))
    b = (relu(a[0] + a[1] - 2 * a[2] - F(1, 5)), relu(-a[0] + F(2, 3) * a[1] + a[2]))
    return 2 * b[0] - b[1] + F(1, 2)


# -- item 3: a PyTorch state_dict is never read with a guessed architecture ----------------------

def _torch():
    return pytest.importorskip("torch")


def _seeded(model):
    torch = _torch()
    torch.manual_seed(12)
    with torch.no_grad():
        for param in model.parameters():
            # Multiples of 1/8: every float is exact and the hand of torch agrees to the bit.
            param.copy_(torch.randint(-16, 17, param.shape).double() / 8)
    return model.double()


def _torch_output(model, point) -> list[float]:
    torch = _torch()
    with torch.no_grad():
        return model(torch.tensor([[float(v) for v in point]], dtype=torch.float64))[0].tolist()


POINTS = [(F(0), F(0)), (F(1, 2), F(-3, 4)), (F(-2), F(5, 4)), (F(3), F(1)), (F(-1), F(-1))]


def _sequentials():
    torch = _torch()
    nn = torch.nn
    return {
        "linear,linear,relu,linear": nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 3), nn.ReLU(),
                                                   nn.Linear(3, 1)),
        "linear,relu,linear,relu": nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2),
                                                 nn.ReLU()),
        "linear,tanh,linear": nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)),
    }


@pytest.mark.torch
@pytest.mark.parametrize("spec", ["linear,linear,relu,linear", "linear,relu,linear,relu",
                                  "linear,tanh,linear"])
def test_state_dict_without_architecture_is_refused_saying_how_to_save(capsys, tmp_path, spec):
    torch = _torch()
    model = _seeded(_sequentials()[spec])
    torch.save(model.state_dict(), tmp_path / "state.pt")
    code, out, err = run(capsys, "evaluate", str(tmp_path / "state.pt"), "--at", "1,2")
    line = one_line_error(code, err)
    assert out == ""
    assert "state_dict" in line and "torch.save(model" in line and "ONNX" in line
    assert "--architecture" in line


@pytest.mark.torch
@pytest.mark.parametrize("spec", ["linear,linear,relu,linear", "linear,relu,linear,relu"])
def test_state_dict_with_its_architecture_evaluates_as_torch_does(capsys, tmp_path, spec):
    torch = _torch()
    model = _seeded(_sequentials()[spec])
    torch.save(model.state_dict(), tmp_path / "state.pt")
    for point in POINTS:
        at = ",".join(str(v) for v in point)
        code, out, err = run(capsys, "evaluate", str(tmp_path / "state.pt"), "--architecture",
                             spec, f"--at={at}", "--json")
        assert code == 0, err
        exact = [F(v) for v in json.loads(out)["output"]]
        # Weights are multiples of 1/8 and points small: float64 is exact here, so equal.
        assert [float(v) for v in exact] == _torch_output(model, point)


@pytest.mark.torch
def test_state_dict_architecture_must_match_the_keys(capsys, tmp_path):
    torch = _torch()
    model = _seeded(_sequentials()["linear,linear,relu,linear"])  # Linear at 0, 1, 3
    torch.save(model.state_dict(), tmp_path / "state.pt")
    code, _, err = run(capsys, "info", str(tmp_path / "state.pt"),
                       "--architecture", "linear,relu,linear")
    line = one_line_error(code, err)
    assert "0, 1, 3" in line and "0, 2" in line
    tanh = _seeded(_sequentials()["linear,tanh,linear"])
    torch.save(tanh.state_dict(), tmp_path / "tanh.pt")
    code, _, err = run(capsys, "info", str(tmp_path / "tanh.pt"),
                       "--architecture", "linear,tanh,linear")
    assert "'tanh'" in one_line_error(code, err)


@pytest.mark.torch
def test_whole_module_needs_no_architecture_and_checks_a_given_one(capsys, tmp_path):
    torch = _torch()
    model = _seeded(_sequentials()["linear,relu,linear,relu"])
    torch.save(model, tmp_path / "whole.pt")
    point = (F(1, 2), F(-3, 4))
    code, out, _ = run(capsys, "evaluate", str(tmp_path / "whole.pt"), "--at=1/2,-3/4",
                       "--json")
    assert code == 0
    assert [float(F(v)) for v in json.loads(out)["output"]] == _torch_output(model, point)
    code, _, err = run(capsys, "info", str(tmp_path / "whole.pt"), "--architecture",
                       "linear,relu,linear")
    assert "not the stated architecture" in one_line_error(code, err)


def test_architecture_is_refused_for_other_files(capsys):
    code, _, err = run(capsys, "info", TINY, "--architecture", "linear,relu,linear")
    assert "PyTorch" in one_line_error(code, err)


def _reference_state(torch):
    t = torch.tensor
    return {
        "gating_network.list_of_modules.0.weight": t([[1.0, -1.0], [0.5, 0.5]]),
        "gating_network.list_of_modules.0.bias": t([0.0, -1.0]),
        "gating_network.list_of_modules.1.weight": t([[1.0, -2.0]]),
        "gating_network.list_of_modules.1.bias": t([0.25]),
        "value_network.list_of_modules.0.weight": t([[2.0, 1.0], [-1.0, 3.0]]),
        "value_network.list_of_modules.0.bias": t([0.5, 0.0]),
        "value_network.list_of_modules.1.weight": t([[1.0, -1.0]]),
        "value_network.list_of_modules.1.bias": t([1.0]),
        "value_network.output_layer.weight": t([[2.0], [-0.5]]),
        "value_network.output_layer.bias": t([0.0, 1.0]),
    }


def _reference_forward(torch, state, x, relu_gating: bool) -> list[float]:
    """The forward pass of the DLGN reference code's DLGN_FC_Network (relu_gating False) or
    DGN_FC_Network (True) with hard gates 1{q > 0} (its sigmoid(β q) as β → ∞)."""
    def linear(name, v):
        return state[f"{name}.weight"].double() @ v + state[f"{name}.bias"].double()

    prev = torch.tensor([float(v) for v in x], dtype=torch.float64)
    gates = []
    for k in range(2):
        prev = linear(f"gating_network.list_of_modules.{k}", prev)
        gates.append((prev > 0).double())
        if relu_gating:
            prev = torch.relu(prev)
    h = torch.ones(2, dtype=torch.float64)  # the reference code's all-ones value input
    for k in range(2):
        h = linear(f"value_network.list_of_modules.{k}", h) * gates[k]
    return linear("value_network.output_layer", h).tolist()


@pytest.mark.torch
def test_dlgn_reference_state_dict_needs_dlgn_or_dgn(capsys, tmp_path):
    # DLGN_FC_Network and DGN_FC_Network of the reference code have the same keys and differ
    # only in a ReLU between the gating layers: the keys cannot say which one was saved.
    torch = _torch()
    state = _reference_state(torch)
    torch.save(state, tmp_path / "ref.pt")
    code, _, err = run(capsys, "evaluate", str(tmp_path / "ref.pt"), "--at", "1,1")
    assert "dlgn / dgn" in one_line_error(code, err)
    differ = 0
    for x in [(F(3), F(1)), (F(-1), F(2)), (F(5), F(4)), (F(1), F(-4)), (F(4), F(-1))]:
        at = ",".join(str(v) for v in x)
        values = {}
        for kind in ("dlgn", "dgn"):
            code, out, err = run(capsys, "evaluate", str(tmp_path / "ref.pt"), "--architecture",
                                 kind, f"--at={at}", "--json")
            assert code == 0, err
            values[kind] = [float(F(v)) for v in json.loads(out)["output"]]
            assert values[kind] == _reference_forward(torch, state, x, kind == "dgn")
        differ += values["dlgn"] != values["dgn"]
    assert differ  # the two readings really are different networks


@pytest.mark.torch
def test_check_takes_an_architecture_for_the_pytorch_file(capsys, tmp_path):
    torch = _torch()
    nn = torch.nn
    model = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        model[0].bias.zero_()
        model[2].weight.copy_(torch.tensor([[1.0, 1.0]]))
        model[2].bias.zero_()
    torch.save(model.state_dict(), tmp_path / "abs.pt")
    absolute = write(tmp_path, "abs.json", relu_doc([([[1], [-1]], [0, 0]), ([[1, 1]], [0])]))
    code, out, _ = run(capsys, "check", str(tmp_path / "abs.pt"), absolute,
                       "--architecture", "linear,relu,linear")
    assert code == 0 and out.startswith("PROVEN")
    code, _, err = run(capsys, "check", absolute, absolute, "--architecture", "linear,relu")
    one_line_error(code, err)


# -- item 4: convert --to dgn of a network that has no DGN form ---------------------------------

def test_convert_to_dgn_of_a_gated_network_is_a_one_line_error(capsys, tmp_path):
    code, _, err = run(capsys, "convert", JUMP, "-o", str(tmp_path / "x.json"), "--to", "dgn")
    line = one_line_error(code, err)
    assert "already a dlgn network" in line
    assert not (tmp_path / "x.json").exists()


def test_convert_to_dgn_of_an_extended_relu_network_says_what_it_is(capsys, tmp_path):
    code, _, err = run(capsys, "convert", GATE, "-o", str(tmp_path / "x.json"), "--to", "dgn")
    line = one_line_error(code, err)
    assert "gated network" not in line and "extended-real" in line and "-inf" in line


# -- item 5: deeply nested brackets --------------------------------------------------------------

@pytest.mark.parametrize("command", ["info", "show"])
def test_deeply_nested_file_is_a_one_line_error(tmp_path, command):
    path = tmp_path / "d.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    proc = subprocess.run([sys.executable, "-m", "deep2shallow_exact.cli", command, str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"deep2shallow: error: {path}: malformed JSON: brackets nested too deeply"]


# -- item 6: soft-gate precision is bounded ------------------------------------------------------

def test_soft_precision_is_bounded(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "deep2shallow_exact.cli", "evaluate", JUMP,
                           "--at=1,1", "--soft", "10", "--precision", "100000000"],
                          capture_output=True, text=True, timeout=60)
    line = one_line_error(proc.returncode, proc.stderr)
    assert "--precision" in line and "10000" in line


def test_soft_precision_at_the_bound_still_runs(capsys):
    code, out, err = run(capsys, "evaluate", JUMP, "--at=1,1", "--soft", "10", "--precision",
                         "10000", "--json")
    assert code == 0, err
    assert json.loads(out)["precision_digits"] == 10000


# -- item 8: negative numbers as a user types them -----------------------------------------------

def test_negative_point_after_at(capsys):
    expected = tiny_by_hand(F(-1, 2), F(3))
    assert expected == F(31, 10)  # by hand: a1 = (0, 9/4, 0), a2 = (41/20, 3/2)
    for argv in (["--at", "-1/2,3"], ["--at=-1/2,3"], ["--at", "-0.5,3"]):
        code, out, err = run(capsys, "evaluate", TINY, *argv, "--json")
        assert code == 0, err
        assert json.loads(out) == {"output": ["31/10"]}


def test_negative_box_and_other_point_options(capsys, tmp_path):
    code, typed, err = run(capsys, "regions", TINY, "--box", "-2:3,0:1", "--json")
    assert code == 0, err
    code, joined, _ = run(capsys, "regions", TINY, "--box=-2:3,0:1", "--json")
    assert json.loads(typed) == json.loads(joined)
    assert json.loads(typed)["domain"].startswith("box [-2, 3]")
    code, out, err = run(capsys, "explain", TINY, "--at", "-1/2,3", "--attributions",
                         "--baseline", "-1,-1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["output"] == ["31/10"]
    assert doc["point"] == ["-1/2", "3"] and doc["attributions"]["baseline"] == ["-1", "-1"]
    # A value that is not a number still reads as an option, so mistakes stay errors.
    code, _, err = run(capsys, "evaluate", TINY, "--at", "--json")
    assert code == 2 and "--at" in err


# -- item 9: regions in text mode lists the pieces -----------------------------------------------

RELU = relu_doc([([[1]], [0]), ([[1]], [0])])  # y = ReLU(x1)


def test_regions_text_lists_every_piece_as_a_table(capsys, tmp_path):
    net = write(tmp_path, "relu.json", RELU)
    code, out, _ = run(capsys, "regions", net, "--box", "-1:1")
    assert code == 0
    # On the closed box [-1, 1]: the open intervals (-1, 0) and (0, 1), the wall {0} and the
    # box's two end points, each a piece of its own.
    rows = [line.split(None, 3) for line in out.splitlines()
            if re.match(r"\s+[01]\s+[-+0]\s+\(", line)]
    by_witness = {(int(dim), signs): (F(w.strip("()")), m) for dim, signs, w, m in rows}
    assert len(rows) == 5
    assert by_witness[(1, "+")][1].strip() == "y = x1"
    assert by_witness[(1, "-")][1].strip() == "y = 0"
    assert 0 < by_witness[(1, "+")][0] < 1 and -1 < by_witness[(1, "-")][0] < 0
    assert by_witness[(0, "0")][0] == 0
    assert {w for (dim, _), (w, _) in by_witness.items() if dim == 0} == {-1, 0, 1}
    assert "total 5 pieces, 2 full-dimensional regions" in out


def test_regions_summary_gives_counts_only(capsys, tmp_path):
    net = write(tmp_path, "relu.json", RELU)
    code, out, _ = run(capsys, "regions", net, "--box", "-1:1", "--summary")
    assert code == 0
    assert "witness" not in out and "y = " not in out
    assert "total 5 pieces, 2 full-dimensional regions" in out


# -- item 10: npk points as a plain JSON list; the README says what the user needs --------------

def test_npk_accepts_a_plain_list_of_points(capsys, tmp_path):
    points = [[1, "1/2"], ["-1", 2], [0, 0]]
    plain = write(tmp_path, "plain.json", points)
    wrapped = write(tmp_path, "wrapped.json", {"points": points})
    code, out_plain, err = run(capsys, "npk", JUMP, "--points", plain, "--json")
    assert code == 0, err
    code, out_wrapped, _ = run(capsys, "npk", JUMP, "--points", wrapped, "--json")
    assert json.loads(out_plain) == json.loads(out_wrapped)
    assert json.loads(out_plain)["points"] == 3


def test_readme_documents_what_a_newcomer_needs():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"deep2shallow check A B .*--scope auto\|everywhere\|open", readme)
    assert "--to dgn" in readme
    assert "(out, in)" in readme and "torch.nn.Linear.weight" in readme
    assert '{"points": [[...], ...]}' in readme and "[[1, 2], [3, \"1/2\"]]" in readme
    assert "--architecture linear,relu,linear" in readme
    assert "--at -1/2,3" in readme


# -- item 11: evaluate shows a short decimal next to the exact value -----------------------------

def test_evaluate_text_shows_a_marked_approximation(capsys):
    code, out, _ = run(capsys, "evaluate", TINY, "--at", "1/2,-1/3")
    assert code == 0
    exact, approx = out.splitlines()
    assert exact == "53/30" == str(tiny_by_hand(F(1, 2), F(-1, 3)))
    assert approx.startswith(f"≈ {53 / 30:.6g} ") and "approximate" in approx


def test_evaluate_approximation_of_a_huge_fraction_is_short(capsys, tmp_path):
    third = "1/" + "3" * 70
    net = write(tmp_path, "big.json", relu_doc([([[third]], [0])]))
    code, out, _ = run(capsys, "evaluate", net, "--at", "1")
    exact, approx = out.splitlines()
    assert exact == third
    shown = approx.split()[1]
    assert len(shown) <= 12 and shown.endswith("e-70")
    assert abs(float(shown) - 1 / float("3" * 70)) <= 1e-5 * 3e-70


def test_evaluate_json_has_no_approximation(capsys):
    code, out, _ = run(capsys, "evaluate", TINY, "--at", "1/2,-1/3", "--json")
    assert json.loads(out) == {"output": ["53/30"]}


# -- item 12: show of an extended network evaluates in sympy -------------------------------------

def test_show_of_the_gating_identity_has_no_infinity_times_relu(capsys):
    code, out, _ = run(capsys, "show", GATE)
    assert code == 0
    assert "oo" not in out and "nan" not in out
    code, latex, _ = run(capsys, "show", GATE, "--latex")
    assert r"\infty" not in latex and "cases" in latex


# -- item 14: the report is titled with the network's name ---------------------------------------

def test_report_title_names_the_network(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "rep.html"
    code, _, err = run(capsys, "report", TINY, "-o", str(out), "--no-shallow", "--box", "0:1")
    assert code == 0, err
    title = re.search(r"<title>(.*)</title>", out.read_text())
    assert title is not None and "tiny.json" in title.group(1) and "rep" not in title.group(1)
    heading = re.search(r"<h1>(.*)</h1>", out.read_text())
    assert heading is not None and "tiny.json" in heading.group(1)


# -- item 15: start-up imports no heavy library --------------------------------------------------

HEAVY = ("sympy", "mpmath", "matplotlib", "highspy", "onnx", "torch")


def test_importing_the_cli_loads_no_heavy_library():
    code = ("import sys, deep2shallow_exact.cli; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.strip() == "[]"


def test_help_loads_no_heavy_library():
    code = ("import sys\nfrom deep2shallow_exact.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print('loaded:', [m for m in {HEAVY!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert "usage: deep2shallow" in proc.stdout
    assert proc.stdout.strip().endswith("loaded: []")


# -- item 13: one number grammar and one duplicate-key rule for every JSON reader ----------------

NESTED = "[" * 100_000 + "]" * 100_000


def run_subprocess(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deep2shallow_exact.cli", *argv],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("option", ["--polytope", "--checkpoint"])
def test_deeply_nested_polytope_or_checkpoint_is_a_one_line_error(tmp_path, option):
    path = write(tmp_path, "d.json", NESTED)
    proc = run_subprocess("regions", TINY, option, path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"deep2shallow: error: {path}: malformed JSON: brackets nested too deeply"]


def test_polytope_with_a_repeated_key_is_refused(capsys, tmp_path):
    text = ('{"format": "deep2shallow-exact/polytope", "version": 1, "inequalities": '
            '[{"a": [1, 0], "b": 5, "b": 1}]}')
    path = write(tmp_path, "p.json", text)
    code, out, err = run(capsys, "regions", TINY, "--polytope", path)
    line = one_line_error(code, err)
    assert line == f"deep2shallow: error: {path}: malformed JSON: duplicate key 'b'"
    assert out == ""


@pytest.mark.parametrize(("entry", "fragment"), [
    ('"1_000"', "'1_000'"), ('" 1/2 "', "' 1/2 '"), ('"Infinity"', "'Infinity'"),
    ("1e99999", "exponent"), ('"\\u0661"', "inequalities[0].b"), ("NaN", "NaN"),
])
def test_polytope_numbers_follow_the_kernel_grammar(capsys, tmp_path, entry, fragment):
    text = ('{"format": "deep2shallow-exact/polytope", "version": 1, "inequalities": '
            f'[{{"a": [1, 0], "b": {entry}}}]}}')
    path = write(tmp_path, "p.json", text)
    code, _, err = run(capsys, "regions", TINY, "--polytope", path)
    line = one_line_error(code, err)
    assert line.startswith(f"deep2shallow: error: {path}: ") and fragment in line, line


def test_checkpoint_with_a_repeated_key_is_refused(capsys, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    code, _, err = run(capsys, "regions", TINY, "--max-pieces", "2", "--checkpoint", str(ckpt))
    assert code == 0, err
    text = ckpt.read_text()
    assert text.count('"scope": "everywhere"') == 1
    ckpt.write_text(text.replace('"scope": "everywhere"',
                                 '"scope": "open", "scope": "everywhere"'))
    code, _, err = run(capsys, "regions", TINY, "--checkpoint", str(ckpt))
    line = one_line_error(code, err)
    assert line == f"deep2shallow: error: {ckpt}: malformed JSON: duplicate key 'scope'"


def test_points_file_with_a_repeated_key_is_refused(capsys, tmp_path):
    path = write(tmp_path, "p.json", '{"points": [[1, 2]], "points": [[0, 0], [1, 1]]}')
    code, _, err = run(capsys, "npk", JUMP, "--points", path)
    line = one_line_error(code, err)
    assert line == f"deep2shallow: error: {path}: malformed JSON: duplicate key 'points'"


def test_network_file_with_a_repeated_key_or_loose_number_is_refused(capsys, tmp_path):
    doc = json.dumps(relu_doc([([[1]], [0]), ([[1]], [0])]))
    repeated = write(tmp_path, "r.json", doc.replace('"bias": [0]', '"bias": [0], "bias": [5]', 1))
    code, _, err = run(capsys, "evaluate", repeated, "--at=1", "--json")
    assert one_line_error(code, err) == (
        f"deep2shallow: error: {repeated}: malformed JSON: duplicate key 'bias'")
    for text in ("1_000", " 1/2 ", "Infinity"):
        loose = write(tmp_path, "l.json", doc.replace('"bias": [0]', f'"bias": ["{text}"]', 1))
        code, _, err = run(capsys, "evaluate", loose, "--at=1", "--json")
        line = one_line_error(code, err)
        assert f"{loose}: layers[0].bias[0]: {text!r}" in line, line


# -- item 1: open scope on a box keeps witnesses inside their pieces ---------------------------

RELU_DOC = {"format": "deep2shallow-exact/network", "version": 1, "kind": "relu"}


def test_open_scope_witnesses_stay_inside_their_pieces(capsys, tmp_path):
    # relu(x1) + relu(x2 − 1/2) on the unit square: the piece ++ is {x1 > 0, x2 > 1/2}, so no
    # witness of it may have x1 = 0 (the box face), as (0, 1) once did.
    net = tmp_path / "O.json"
    net.write_text(json.dumps({**RELU_DOC, "layers": [
        {"weights": [[1, 0], [0, 1]], "bias": [0, "-1/2"]}, {"weights": [[1, 1]], "bias": [0]}]}))
    code, out, _ = run(capsys, "regions", str(net), "--scope", "open", "--box=0:1,0:1", "--json")
    assert code == 0
    pieces = json.loads(out)["pieces"]
    assert sorted(p["signs"] for p in pieces) == ["++", "+-"]
    for p in pieces:
        x1, x2 = (F(v) for v in p["witness"])
        assert 0 < x1 <= 1 and 0 <= x2 <= 1 and (x2 > F(1, 2)) == (p["signs"] == "++")
        assert x2 != F(1, 2)
    cert = tmp_path / "c.json"
    code, out, _ = run(capsys, "check", str(net), str(net), "--scope", "open", "--box=0:1,0:1",
                       "--certificate", str(cert))
    assert code == 0 and out.startswith("PROVEN")
    assert run(capsys, "verify", str(cert))[0] == 0


def test_open_scope_check_refutes_instead_of_crashing(capsys, tmp_path):
    # A = 1 − relu(1 − ∞·relu(x1)): 1 where x1 > 0, 0 where x1 = 0; B = 0. They differ on the
    # open square, so the answer is REFUTED with a point where A is 1 (an AssertionError once).
    a, b = tmp_path / "A.json", tmp_path / "B.json"
    a.write_text(json.dumps({**RELU_DOC, "layers": [
        {"weights": [[1, 0]], "bias": [0]}, {"weights": [["-inf"]], "bias": [1]},
        {"weights": [[-1]], "bias": [1]}]}))
    b.write_text(json.dumps({**RELU_DOC, "layers": [
        {"weights": [[0, 1]], "bias": ["-1/2"]}, {"weights": [[0]], "bias": [0]}]}))
    code, out, err = run(capsys, "check", str(a), str(b), "--scope", "open", "--box=0:1,0:1",
                         "--json")
    assert code == 1 and not err
    doc = json.loads(out)
    x = [F(v) for v in doc["counterexample"]]
    assert doc["verdict"] == "REFUTED" and x[0] > 0 and doc["outputs"] == [["1"], ["0"]]


def test_check_prints_only_what_the_kernel_accepted(capsys):
    code, out, _ = run(capsys, "check", TINY, TINY, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["verdict"] == "PROVEN"
    assert doc["proves"].startswith("both networks are defined, finite and equal at every point")
    assert len(doc["networks"]) == 2 and doc["networks"][0] == doc["networks"][1]


# -- item 2: the regions of a flat domain --------------------------------------------------------

def test_regions_of_a_flat_box_are_its_pieces_of_its_own_dimension(capsys):
    # The box {0} × [−1, 1] is a segment: its regions are its 1-dimensional pieces.
    code, out, _ = run(capsys, "regions", TINY, "--box=0:0,-1:1", "--json", "--summary")
    doc = json.loads(out)
    assert code == 0 and doc["regions"] == doc["counts_by_dim"]["1"] > 0
    code, out, _ = run(capsys, "regions", TINY, "--box=0:1,-1:1", "--json", "--summary")
    doc = json.loads(out)
    assert doc["regions"] == doc["counts_by_dim"]["2"]
