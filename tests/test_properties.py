"""Exact decisions of VNN-LIB properties (issue 14), against answers known by construction:
hand-worked networks whose maximum over the box is known in closed form, a margin of 1/10^9,
violations at a single vertex and only on a face, counterexamples re-evaluated exactly, and
property certificates tampered with until the kernel refuses them."""

from __future__ import annotations

import copy
import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deep2shallow_exact.cli import main
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats import load_vnnlib_property, network_to_document
from deep2shallow_exact.kernel import verify
from deep2shallow_exact.network import Layer, ReluNetwork
from deep2shallow_exact.properties import PropertyResult, decide_property
from deep2shallow_exact.strategies import relu_networks

F = Fraction


def relu_net(*layers: tuple[list, list]) -> ReluNetwork:
    return ReluNetwork(tuple(Layer([[F(w) for w in row] for row in weights],
                                   [F(b) for b in bias]) for weights, bias in layers))


# relu(x1) + relu(x2): on [-1, 1]^2 its maximum 2 is taken at the vertex (1, 1) only.
SUM = relu_net(([[1, 0], [0, 1]], [0, 0]), ([[1, 1]], [0]))
# relu(x1): its maximum 1 on [-1, 1]^2 is taken on the face x1 = 1.
FACE = relu_net(([[1, 0]], [0]), ([[1]], [0]))
# (x1, x2) through relu(x) − relu(−x), two outputs.
IDENTITY2 = relu_net(([[1, 0], [-1, 0], [0, 1], [0, -1]], [0, 0, 0, 0]),
                     ([[1, -1, 0, 0], [0, 0, 1, -1]], [0, 0]))


def vnnlib(tmp_path: Path, box: list[tuple[str, str]], outputs: str, name: str = "p") -> Path:
    lines = [f"(declare-const X_{i} Real)" for i in range(len(box))]
    for i, (lo, hi) in enumerate(box):
        lines += [f"(assert (>= X_{i} {lo}))", f"(assert (<= X_{i} {hi}))"]
    lines.append(outputs)
    path = tmp_path / f"{name}.vnnlib"
    path.write_text("\n".join(lines) + "\n")
    return path


def decide(net: ReluNetwork, tmp_path: Path, box: list[tuple[str, str]], outputs: str,
           bisect: bool = False) -> PropertyResult:
    """The property decided, by enumerating its pieces (or bisecting first), its answer
    checked: a certificate about this network and box, or a counterexample re-evaluated."""
    prop = load_vnnlib_property(vnnlib(tmp_path, box, outputs), net.input_dim, net.output_dim)
    result = decide_property(net, prop, bisect=bisect)
    if result.holds:
        assert_about(result, net, prop.domain.to_document())
    else:
        assert result.counterexample is not None and result.outputs is not None
        assert prop.domain.contains(result.counterexample)
        assert tuple(evaluate(net, result.counterexample)) == result.outputs
        assert prop.is_unsafe(result.outputs)
    return result


def assert_about(result: PropertyResult, net: ReluNetwork, domain: dict) -> None:
    """The certificate passes the kernel, about exactly this network and this box."""
    cert = result.certificate
    assert cert is not None and result.kernel is not None
    verdict = verify(cert, (network_to_document(net),))
    assert verdict.valid, (verdict.path, verdict.reason)
    assert verdict.claim == result.kernel.claim and "outside the unsafe set" in verdict.claim
    assert "off the hyperplanes" not in verdict.claim
    assert cert["domain"] == domain and cert["claim"] == "property"


SQUARE = [("-1", "1"), ("-1", "1")]


@pytest.mark.parametrize("bisect", [False, True])
def test_a_margin_of_one_billionth_is_decided_both_ways(tmp_path: Path, bisect: bool) -> None:
    assert decide(SUM, tmp_path, SQUARE, "(assert (>= Y_0 2.000000001))", bisect).holds
    below = decide(SUM, tmp_path, SQUARE, "(assert (>= Y_0 1.999999999))", bisect)
    assert below.verdict == "violated"
    assert sum(below.outputs) >= F(1999999999, 10**9)  # type: ignore[arg-type]


@pytest.mark.parametrize("bisect", [False, True])
def test_violated_at_a_single_vertex_only(tmp_path: Path, bisect: bool) -> None:
    result = decide(SUM, tmp_path, SQUARE, "(assert (>= Y_0 2))", bisect)
    assert result.verdict == "violated" and result.counterexample == (1, 1)
    assert decide(SUM, tmp_path, SQUARE, "(assert (> Y_0 2))", bisect).holds


@pytest.mark.parametrize("bisect", [False, True])
def test_violated_only_on_a_face_of_the_box(tmp_path: Path, bisect: bool) -> None:
    result = decide(FACE, tmp_path, SQUARE, "(assert (>= Y_0 1))", bisect)
    assert result.verdict == "violated" and result.counterexample is not None
    assert result.counterexample[0] == 1
    assert decide(FACE, tmp_path, SQUARE, "(assert (> Y_0 1))", bisect).holds


def test_a_disjunction_over_two_outputs(tmp_path: Path) -> None:
    unsafe = ("(assert (or (and (>= Y_0 0.5) (>= Y_1 0.5)) (and (<= Y_0 -2))))")
    hit = decide(IDENTITY2, tmp_path, [("0", "1"), ("0", "1")], unsafe)
    assert hit.verdict == "violated" and hit.disjunct == 0
    assert min(hit.counterexample) >= F(1, 2)  # type: ignore[type-var]
    safe = decide(IDENTITY2, tmp_path, [("0", "0.25"), ("0", "1")], unsafe)
    assert safe.holds
    pieces = [n["piece"] for n in safe.certificate["tree"] if n and "piece" in n]  # type: ignore
    assert pieces and all(len(p["unsafe"]) == 2 for p in pieces)


def test_a_flat_box_is_decided_in_scope_everywhere(tmp_path: Path) -> None:
    # x2 is fixed at 1/2: no open region, so no continuity argument; every piece is checked.
    result = decide(SUM, tmp_path, [("-1", "1"), ("0.5", "0.5")], "(assert (>= Y_0 1.6))")
    assert result.holds and result.scope == "everywhere"
    edge = decide(SUM, tmp_path, [("-1", "1"), ("0.5", "0.5")], "(assert (>= Y_0 1.5))")
    assert edge.verdict == "violated" and edge.counterexample == (1, F(1, 2))


# -- tampering: every change that makes the claim false, or unjustified, is refused ---------------

@pytest.fixture()
def certificate(tmp_path: Path) -> dict:
    result = decide(SUM, tmp_path, SQUARE, "(assert (>= Y_0 2.5))")
    assert result.certificate is not None
    return result.certificate


def refused(doc: dict) -> str:
    verdict = verify(doc)
    assert not verdict.valid and not verdict.reason.startswith("internal error"), verdict.reason
    return verdict.reason


def pieces_of(doc: dict) -> list[dict]:
    return [node["piece"] for node in doc["tree"] if isinstance(node, dict) and "piece" in node]


def test_the_untouched_certificate_is_valid(certificate: dict) -> None:
    assert verify(certificate).valid


def test_a_dropped_leaf_is_refused(certificate: dict) -> None:
    doc = copy.deepcopy(certificate)
    index = next(i for i, n in enumerate(doc["tree"]) if n and "piece" in n)
    del doc["tree"][index]
    refused(doc)
    doc = copy.deepcopy(certificate)
    doc["tree"][index] = {"empty": pieces_of(doc)[0]["unsafe"][0]}
    refused(doc)


def test_a_weakened_multiplier_is_refused(certificate: dict) -> None:
    # The last multiplier is the unsafe row's (y − 5/2 ≥ 0); the others are the piece's rows,
    # each with a nonzero x-part, so halving one leaves an x-part. Without the unsafe row the
    # piece's own rows would have to be contradictory, but its witness satisfies them.
    weakened = 0
    for k in range(len(pieces_of(certificate))):
        doc = copy.deepcopy(certificate)
        proof = pieces_of(doc)[k]["unsafe"][0]
        r = next((i for i, m in enumerate(proof[:-1]) if Fraction(m)), None)
        if r is not None:
            proof[r] = str(Fraction(proof[r]) / 2)
            refused(doc)
            weakened += 1
        doc = copy.deepcopy(certificate)
        pieces_of(doc)[k]["unsafe"][0][-1] = "0"
        refused(doc)
    assert weakened


def test_a_widened_box_is_refused(certificate: dict) -> None:
    # x1 ≤ 1 becomes x1 ≤ 2: there relu(x1) + relu(x2) reaches 3 > 2.5.
    doc = copy.deepcopy(certificate)
    rows = doc["domain"]["inequalities"]
    upper = next(r for r in rows if Fraction(r[0]) < 0)
    upper[-1] = "2"
    refused(doc)


def test_a_lowered_threshold_and_a_lost_disjunct_are_refused(certificate: dict) -> None:
    doc = copy.deepcopy(certificate)
    doc["unsafe"][0]["nonstrict"][0][-1] = "-3/2"  # y ≥ 3/2, which (1, 1) reaches
    refused(doc)
    doc = copy.deepcopy(certificate)
    doc["unsafe"].append({"nonstrict": [["-1", "-3"]], "strict": []})  # y ≤ −3: no proof for it
    assert "one list of multipliers per disjunct" in refused(doc)


def test_scope_open_needs_a_finite_relu_network(certificate: dict) -> None:
    doc = copy.deepcopy(certificate)
    doc["networks"][0]["layers"][0]["bias"][0] = "-inf"
    assert "finite ReLU network" in refused(doc)


def test_the_certificate_names_its_network(certificate: dict) -> None:
    other = network_to_document(FACE)
    verdict = verify(certificate, (other,))
    assert not verdict.valid and "is not the given network" in verdict.reason
    assert not verify(certificate, (network_to_document(SUM), other)).valid


# -- against exact evaluation at grid points: what "holds" claims, every grid point obeys -------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=relu_networks(input_dim=2, hidden_widths=st.sampled_from([(2,), (3,), (2, 2), (3, 2)])),
       k=st.integers(0, 24), lift=st.sampled_from([F(0), F(1, 10**6), F(1, 7)]))
def test_answers_agree_with_exact_evaluation_on_a_grid(tmp_path_factory: pytest.TempPathFactory,
                                                      net: ReluNetwork, k: int,
                                                      lift: Fraction) -> None:
    grid = [(F(a, 2), F(b, 2)) for a in range(-2, 3) for b in range(-2, 3)]
    values = [evaluate(net, x)[0] for x in grid]
    threshold = values[k] + lift  # the grid point k reaches it exactly when lift = 0
    path = vnnlib(tmp_path_factory.mktemp("p"), SQUARE,
                  f"(assert (>= Y_0 {threshold.numerator}/{threshold.denominator}))")
    result = decide_property(net, load_vnnlib_property(path, 2, 1))
    if result.holds:
        assert all(v < threshold for v in values)
        assert_about(result, net, result.certificate["domain"])  # type: ignore[index]
    else:
        assert evaluate(net, result.counterexample)[0] >= threshold  # type: ignore[arg-type]
    if lift == 0:
        assert not result.holds


# -- the command --------------------------------------------------------------------------------

def test_command_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    net = tmp_path / "sum.json"
    net.write_text(json.dumps(network_to_document(SUM)))
    safe = vnnlib(tmp_path, SQUARE, "(assert (>= Y_0 3))", "safe")
    cert = tmp_path / "c.json"
    assert main(["property", str(net), "--vnnlib", str(safe), "--certificate", str(cert)]) == 0
    assert "HOLDS" in capsys.readouterr().out
    assert main(["verify", str(cert), "--networks", str(net)]) == 0
    capsys.readouterr()
    unsafe = vnnlib(tmp_path, SQUARE, "(assert (>= Y_0 2))", "unsafe")
    assert main(["property", str(net), "--vnnlib", str(unsafe), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "violated" and doc["counterexample"] == ["1", "1"]
    assert doc["outputs"] == ["2"]


def test_command_refuses_bad_input_in_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    net = tmp_path / "sum.json"
    net.write_text(json.dumps(network_to_document(SUM)))
    wrong = vnnlib(tmp_path, SQUARE, "(assert (>= Y_3 0))", "wrong")
    assert main(["property", str(net), "--vnnlib", str(wrong)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "wrong.vnnlib" in err and "Y_3" in err
    nothing = vnnlib(tmp_path, SQUARE, "", "nothing")
    assert main(["property", str(net), "--vnnlib", str(nothing)]) == 2
    assert "no output assertion" in capsys.readouterr().err
    with pytest.raises(InputError, match="outputs"):
        decide_property(SUM, load_vnnlib_property(
            vnnlib(tmp_path, SQUARE, "(assert (>= Y_1 0))", "two"), 2, 2))


def test_worked_example_of_the_format_page() -> None:
    page = (Path(__file__).parent.parent / "proofs" / "CERTIFICATE.md").read_text()
    section = page.split("## 10. Property certificates", 1)[1]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    relu = relu_net(([[1]], [0]), ([[1]], [0]))
    verdict = verify(example, (network_to_document(relu),))
    assert verdict.valid and "outside the unsafe set" in verdict.claim
    assert verdict.pieces == 2 and verdict.scope == "open"
    example["unsafe"][0]["nonstrict"][0][-1] = -1  # y ≥ 1, which x = 1 reaches
    assert not verify(example).valid


def interrupt_after_two_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C, as the enumeration hands on its second piece."""
    from deep2shallow_exact import properties

    class Interrupted(properties.PieceEnumeration):
        def __iter__(self):
            for count, piece in enumerate(super().__iter__(), 1):
                yield piece
                if count == 2:
                    raise KeyboardInterrupt

    monkeypatch.setattr(properties, "PieceEnumeration", Interrupted)


def test_an_interrupted_run_is_undecided_never_a_verdict(tmp_path: Path, capsys, monkeypatch
                                                         ) -> None:
    # Ctrl-C once two pieces are checked: no counterexample was found, nothing was proven.
    interrupt_after_two_pieces(monkeypatch)
    net = tmp_path / "sum.json"
    net.write_text(json.dumps(network_to_document(SUM)))
    safe = vnnlib(tmp_path, SQUARE, "(assert (>= Y_0 3))", "safe")
    cert = tmp_path / "c.json"
    code = main(["property", str(net), "--vnnlib", str(safe), "--certificate", str(cert),
                 "--workers", "1", "--no-bisect"])
    out = capsys.readouterr().out
    assert code == 130 and out.startswith("UNDECIDED") and "nothing is proven" in out
    assert "2 pieces checked" in out and not cert.exists()


def test_pieces_the_box_cannot_rule_out_get_an_lp(tmp_path: Path) -> None:
    # relu(x) − relu(x − 1/2) on [−1, 1] is 0, x, 1/2 on its three pieces; its maximum is 1/2.
    # On 0 < x < 1/2 the map x reaches 1 on the box, so only the piece's own rows (an exact
    # LP) rule out y ≥ 3/4 there; the constant pieces are ruled out by the box alone.
    net = relu_net(([[1], [1]], [0, "-1/2"]), ([[1, -1]], [0]))
    result = decide(net, tmp_path, [("-1", "1")], "(assert (>= Y_0 0.75))")
    assert result.holds and result.lp_calls == 1 and result.pieces_checked == 3
    assert decide(net, tmp_path, [("-1", "1")], "(assert (>= Y_0 0.5))").verdict == "violated"


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path: Path, capsys,
                                                        monkeypatch) -> None:
    # Interrupted after two pieces with --checkpoint, then run again: the pieces are checked
    # once each, the verdict and the certificate are those of an uninterrupted run.
    from deep2shallow_exact import properties
    net_path = tmp_path / "sum.json"
    net_path.write_text(json.dumps(network_to_document(SUM)))
    safe = vnnlib(tmp_path, SQUARE, "(assert (>= Y_0 3))", "safe")
    whole = decide_property(SUM, load_vnnlib_property(safe, 2, 1), bisect=False)
    original = properties.PieceEnumeration
    interrupt_after_two_pieces(monkeypatch)
    saved = tmp_path / "run.checkpoint"
    args = ["property", str(net_path), "--vnnlib", str(safe), "--checkpoint", str(saved),
            "--workers", "1", "--json", "--no-bisect"]
    assert main(args) == 130
    first = json.loads(capsys.readouterr().out)
    assert first["verdict"] == "undecided" and first["pieces_checked"] == 2 and saved.exists()
    monkeypatch.setattr(properties, "PieceEnumeration", original)
    cert = tmp_path / "c.json"
    assert main([*args, "--certificate", str(cert)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["verdict"] == "holds" and second["pieces_checked"] == whole.pieces_checked
    doc = json.loads(cert.read_text())
    assert verify(doc, (network_to_document(SUM),)).valid
    assert len(pieces_of(doc)) == whole.pieces_checked
    # A checkpoint of another property is refused in one line.
    other = vnnlib(tmp_path, SQUARE, "(assert (>= Y_0 4))", "other")
    assert main(["property", str(net_path), "--vnnlib", str(other), "--checkpoint",
                 str(saved)]) == 2
    assert "different unsafe set" in capsys.readouterr().err


def test_ctrl_c_in_the_kernel_check_keeps_the_finished_search(tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    # Interrupted while the kernel checks the certificate: undecided, never holds; the
    # checkpoint holds the finished search, so the resumed run enumerates nothing again.
    from deep2shallow_exact import properties
    net_path = tmp_path / "sum.json"
    net_path.write_text(json.dumps(network_to_document(SUM)))
    safe = vnnlib(tmp_path, SQUARE, "(assert (>= Y_0 3))", "safe")
    checked = properties.kernel.verify

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(properties.kernel, "verify", interrupted)
    saved = tmp_path / "run.checkpoint"
    args = ["property", str(net_path), "--vnnlib", str(safe), "--checkpoint", str(saved),
            "--workers", "1", "--json", "--no-bisect"]
    assert main(args) == 130
    first = json.loads(capsys.readouterr().out)
    assert first["verdict"] == "undecided" and saved.exists()
    monkeypatch.setattr(properties.kernel, "verify", checked)
    enumerated = []
    original = properties.PieceEnumeration

    class Counted(original):  # type: ignore[valid-type, misc]
        def __iter__(self):
            for piece in super().__iter__():
                enumerated.append(piece)
                yield piece

    monkeypatch.setattr(properties, "PieceEnumeration", Counted)
    cert = tmp_path / "c.json"
    assert main([*args, "--certificate", str(cert)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["verdict"] == "holds" and second["pieces_checked"] == first["pieces_checked"]
    assert enumerated == [] and verify(json.loads(cert.read_text()),
                                       (network_to_document(SUM),)).valid
