"""The file-format layer: exact reading and writing of networks and VNN-LIB boxes."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from deep2shallow_exact import kernel
from deep2shallow_exact.domain import box
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats import (
    load_network,
    load_vnnlib_box,
    network_from_document,
    network_to_document,
    parse_json_text,
    read_network_file,
    save_network,
)
from deep2shallow_exact.network import GatedNetwork, Layer, ReluNetwork
from deep2shallow_exact.numbers import NEG_INF, POS_INF

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # onnx comes with the test extra; without it the ONNX tests skip
    onnx = None
needs_onnx = pytest.mark.skipif(onnx is None, reason="needs the onnx package")

ACASXU = Path("/work/shared/data/acasxu")
ACASXU_ONNX = ACASXU / "ACASXU_run2a_1_1_batch_2000.onnx"
F = Fraction
# The exact values of the binary floats nearest to 0.1, written out by hand.
FLOAT64_TENTH = F(3602879701896397, 36028797018963968)  # 2**55 in the denominator
FLOAT32_TENTH = F(13421773, 134217728)  # 2**27 in the denominator


def raises_input_error(path: Path | str, *fragments: str,
                       architecture: str | None = None) -> pytest.ExceptionInfo:
    """Assert load_network(path) fails with a message naming the file and each fragment."""
    with pytest.raises(InputError) as info:
        load_network(path, architecture)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    return info


# --- JSON -------------------------------------------------------------------------------------

fractions = st.fractions(min_value=-20, max_value=20, max_denominator=15)
extended = st.one_of(fractions, fractions, st.sampled_from([POS_INF, NEG_INF]))


def _layer(draw: st.DrawFn, rows: int, cols: int, entries: st.SearchStrategy) -> Layer:
    return Layer(tuple(tuple(draw(entries) for _ in range(cols)) for _ in range(rows)),
                 tuple(draw(entries) for _ in range(rows)))


@st.composite
def relu_networks(draw: st.DrawFn, entries: st.SearchStrategy = fractions) -> ReluNetwork:
    widths = draw(st.lists(st.integers(1, 3), min_size=2, max_size=5))
    return ReluNetwork(tuple(_layer(draw, widths[i + 1], widths[i], entries)
                             for i in range(len(widths) - 1)))


@st.composite
def gated_networks(draw: st.DrawFn) -> GatedNetwork:
    kind = draw(st.sampled_from(["dgn", "dlgn"]))
    widths = draw(st.lists(st.integers(1, 3), min_size=3, max_size=5))
    hidden = range(len(widths) - 2)
    gating = tuple(_layer(draw, widths[i + 1], widths[i], fractions) for i in hidden)
    value = tuple(_layer(draw, widths[i + 1], widths[i], fractions)
                  for i in range(len(widths) - 1))
    return GatedNetwork(kind, gating, value, draw(st.sampled_from(["x", "ones"])))


def _numbers(doc: object) -> list[object]:
    if isinstance(doc, dict):
        return [v for key in ("layers", "gating", "value") for v in _numbers(doc.get(key, []))]
    if isinstance(doc, list):
        return [v for item in doc for v in _numbers(item)]
    return [doc]


@settings(max_examples=60, deadline=None)
@given(st.one_of(relu_networks(), relu_networks(extended), gated_networks()))
def test_json_round_trip(net: ReluNetwork | GatedNetwork) -> None:
    doc = network_to_document(net)
    assert doc["format"] == "deep2shallow-exact/network" and doc["version"] == 1
    assert doc["kind"] == net.kind
    assert all(isinstance(v, str) for layer in doc.get("layers", doc.get("value"))
               for v in layer["bias"])
    assert network_from_document(doc, "mem") == net
    assert network_from_document(json.loads(json.dumps(doc)), "mem") == net


def test_json_numbers_are_written_as_exact_strings() -> None:
    net = ReluNetwork((Layer(((F(3), F(-7, 2)),), (POS_INF,)), Layer(((F(1, 3),),), (F(0),))))
    doc = network_to_document(net, {"verified": True})
    assert doc["layers"][0] == {"weights": [["3", "-7/2"]], "bias": ["inf"]}
    assert doc["layers"][1] == {"weights": [["1/3"]], "bias": ["0"]}
    assert doc["verified"] is True
    with pytest.raises(InputError, match="kind"):
        network_to_document(net, {"kind": "dgn"})


def test_gated_document_fields() -> None:
    one = Layer(((F(1),),), (F(0),))
    doc = network_to_document(GatedNetwork("dlgn", (one,), (one, one), "ones"))
    assert set(doc) == {"format", "version", "kind", "gating", "value", "value_input"}
    assert doc["kind"] == "dlgn" and doc["value_input"] == "ones"
    assert len(doc["gating"]) == 1 and len(doc["value"]) == 2


def test_save_and_read_file_round_trip(tmp_path: Path) -> None:
    net = ReluNetwork((Layer(((F(1, 10), NEG_INF), (F(2), F(0))), (F(-5, 7), F(1))),
                       Layer(((F(1), F(-1)),), (F(3, 2),))))
    path = tmp_path / "net.json"
    extra = {"verified": True, "provenance": {"score": F(1, 4), "ratio": F(1, 3)}}
    save_network(net, path, extra)
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]  # no temporary file left
    loaded, meta = read_network_file(path)
    assert loaded == net
    # 1/4 is written as the JSON number 0.25 and read back exactly; 1/3 as the string "1/3".
    assert meta == {"verified": True, "provenance": {"score": F(1, 4), "ratio": "1/3"}}
    assert "0.25" in path.read_text()
    save_network(net, path)  # replacing an existing file
    assert read_network_file(path) == (net, {})


def test_decimal_string_and_literal_both_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    path.write_text('{"format": "deep2shallow-exact/network", "version": 1, "kind": "relu",'
                    ' "layers": [{"weights": [["0.1", 0.1, 1e-1, 3]], "bias": [-2.5e2]}],'
                    ' "note": 0.1}')
    net, extra = read_network_file(path)
    assert net.layers[0].weights == ((F(1, 10), F(1, 10), F(1, 10), F(3)),)
    assert net.layers[0].bias == (F(-250),)
    assert extra == {"note": F(1, 10)}


def _document(**changes: object) -> dict:
    doc: dict = {"format": "deep2shallow-exact/network", "version": 1, "kind": "relu",
                 "layers": [{"weights": [[1, 2], [3, 4]], "bias": [0, 0]},
                            {"weights": [[1, -1]], "bias": [0]}]}
    doc.update(changes)
    return doc


def _with_entry(layer: int, field: str, value: object) -> dict:
    doc = _document()
    if field == "bias":
        doc["layers"][layer]["bias"][0] = value
    else:
        doc["layers"][layer]["weights"][0][1] = value
    return doc


GATED_LAYER = {"weights": [[1]], "bias": [0]}

BAD_DOCUMENTS = [
    (_document(format="deep2shallow-exact/certificate"), ["format", "certificate"]),
    (_document(version=2), ["version", "2"]),
    (_document(version="1"), ["version"]),
    (_document(version=True), ["version"]),
    (_document(kind="cnn"), ["kind", "'cnn'"]),
    (_document(layers=[]), ["layers"]),
    (_document(layers="abc"), ["layers"]),
    (_document(layers=[{"weights": [[1]], "bias": [0]}, {"weights": [[1, 2]], "bias": [0]}]),
     ["layers[1]", "2 columns", "layers[0] has 1 outputs"]),
    (_document(layers=[{"weights": [[1, 2], [3]], "bias": [0, 0]}]),
     ["layers[0]", "weights row 1 has 1 entries"]),
    (_document(layers=[{"weights": [[1, 2]], "bias": [0, 0]}]),
     ["layers[0]", "bias has 2 entries"]),
    (_document(layers=[{"weights": [1, 2], "bias": [0]}]), ["layers[0]", "weights"]),
    (_document(layers=[{"weights": [[1, 2]]}]), ["layers[0]", "bias"]),
    (_with_entry(0, "weights", "nan"), ["layers[0].weights[0][1]", "'nan'"]),
    (_with_entry(1, "bias", "1/0"), ["layers[1].bias[0]", "'1/0'"]),
    (_with_entry(1, "bias", "abc"), ["layers[1].bias[0]", "'abc'"]),
    (_with_entry(0, "weights", True), ["layers[0].weights[0][1]", "True"]),
    (_with_entry(0, "bias", None), ["layers[0].bias[0]", "None"]),
    (_with_entry(0, "weights", [1]), ["layers[0].weights[0][1]"]),
    (_document(gating=[GATED_LAYER]), ["gating", "relu"]),
    ({"format": "deep2shallow-exact/network", "version": 1, "kind": "dgn",
      "gating": [GATED_LAYER], "value": [GATED_LAYER]}, ["value", "2"]),
    ({"format": "deep2shallow-exact/network", "version": 1, "kind": "dlgn",
      "gating": [{"weights": [["inf"]], "bias": [0]}], "value": [GATED_LAYER, GATED_LAYER]},
     ["gating[0]", "finite"]),
    ({"format": "deep2shallow-exact/network", "version": 1, "kind": "dlgn",
      "gating": [GATED_LAYER], "value": [GATED_LAYER, GATED_LAYER], "value_input": "zeros"},
     ["value_input", "zeros"]),
    ([1, 2], ["JSON object"]),
]


@pytest.mark.parametrize(("doc", "fragments"), BAD_DOCUMENTS)
def test_bad_json_documents(tmp_path: Path, doc: object, fragments: list[str]) -> None:
    path = tmp_path / "net.json"
    path.write_text(json.dumps(doc))
    raises_input_error(path, *fragments)
    with pytest.raises(InputError) as info:
        network_from_document(doc, "doc.json")
    assert str(info.value).startswith("doc.json:")


@pytest.mark.parametrize(("text", "fragment"), [
    ('{"format": "deep2shallow-exact/network", ', "malformed JSON"),
    ("", "malformed JSON"),
    ('{"format": "deep2shallow-exact/network", "version": 1, "layers": '
     '[{"weights": [[NaN]], "bias": [0]}]}', "NaN"),
    ('{"format": "deep2shallow-exact/network", "version": 1, "layers": '
     '[{"weights": [[-Infinity]], "bias": [0]}]}', "Infinity"),
])
def test_unreadable_json(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "net.json"
    path.write_text(text)
    raises_input_error(path, fragment)


# One number grammar and one duplicate-key rule with the kernel (issue 12, item 13).

@pytest.mark.parametrize("text", ["1_000", " 1/2 ", "Infinity", "-Infinity", "INF", " inf",
                                  "1e99999", "1e5000", "\u0661", "1 / 2", "0x10"])
def test_network_loader_refuses_what_the_kernel_refuses(tmp_path: Path, text: str) -> None:
    assert kernel.parse_number(text) is None
    for layer, field, at in ((0, "weights", "layers[0].weights[0][1]"),
                             (1, "bias", "layers[1].bias[0]")):
        path = tmp_path / "net.json"
        path.write_text(json.dumps(_with_entry(layer, field, text)))
        raises_input_error(path, at)


@pytest.mark.parametrize("literal", ["1e5000", "-1E99999", "1.5e-4301"])
def test_a_json_number_literal_beyond_the_exponent_bound_is_refused(tmp_path: Path,
                                                                     literal: str) -> None:
    path = tmp_path / "net.json"
    path.write_text(json.dumps(_document()).replace('"bias": [0, 0]', f'"bias": [{literal}, 0]'))
    raises_input_error(path, f"exponent beyond ±{kernel.MAX_EXPONENT}")


def _repeat(key: str, value: str, after: str) -> str:
    """The text of the standard document with ``"key": value`` written a second time, just
    after the first occurrence of ``after``."""
    text = json.dumps(_document())
    head, sep, tail = text.partition(after)
    assert sep
    return f'{head}{sep}"{key}": {value}, {tail}'


@pytest.mark.parametrize(("text", "key"), [
    (_repeat("bias", "[1, 1]", '{"weights": [[1, 2], [3, 4]], '), "bias"),
    (_repeat("weights", "[[0, 0], [0, 0]]", '{"weights": [[1, 2], [3, 4]], '), "weights"),
    (_repeat("version", "1", '"version": 1, '), "version"),
    (_repeat("kind", '"dgn"', '"kind": "relu", '), "kind"),
])
def test_network_file_with_a_repeated_key_is_refused(tmp_path: Path, text: str,
                                                     key: str) -> None:
    path = tmp_path / "net.json"
    path.write_text(text)
    raises_input_error(path, f"malformed JSON: duplicate key '{key}'")
    with pytest.raises(InputError, match=f"^x.json: malformed JSON: duplicate key '{key}'$"):
        parse_json_text(text, "x.json")


def _kernel_reads(text: str) -> bool:
    try:
        kernel._number(text, "here", True)
    except kernel._Reject:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(alphabet="0123456789+-/.eE _inf\u0661", max_size=10),
                 st.from_regex(kernel.NUMBER, fullmatch=True)))
@example(" 1")
@example("1_0")
@example("Infinity")
@example("+inf")
@example("1e5000")
@example("1e" + "9" * 5000)
def test_network_loader_reads_a_string_entry_iff_the_kernel_does(text: str) -> None:
    try:
        network_from_document(_with_entry(1, "bias", text), "doc.json")
    except InputError as exc:
        assert not _kernel_reads(text), (text, exc)
        assert str(exc).startswith("doc.json: layers[1].bias[0]: ") and "\n" not in str(exc)
    else:
        assert _kernel_reads(text), text


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    for name in ("absent.json", "absent.npz", "absent.nnet", "absent.onnx", "absent.pt"):
        raises_input_error(tmp_path / name, "no such file")
    (tmp_path / "net.txt").write_text("{}")
    raises_input_error(tmp_path / "net.txt", "unknown network file type '.txt'")
    (tmp_path / "dir.json").mkdir()
    raises_input_error(tmp_path / "dir.json", "directory")


def test_unwritable_destination(tmp_path: Path) -> None:
    net = ReluNetwork((Layer(((F(1),),), (F(0),)),))
    with pytest.raises(InputError, match="cannot write"):
        save_network(net, tmp_path / "missing-dir" / "net.json")


# --- NumPy .npz -------------------------------------------------------------------------------

def test_npz_reads_the_exact_binary_value(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    np.savez(path, W0=np.array([[0.1, -2.0]]), b0=np.array([0.5]),
             W1=np.array([[3]], dtype=np.int64), b1=np.array([0.1], dtype=np.float32))
    net = load_network(path)
    assert isinstance(net, ReluNetwork) and net.widths == (2, 1, 1)
    w = net.layers[0].weights[0][0]
    assert w == Fraction(0.1)
    assert (w.numerator, w.denominator) == (3602879701896397, 36028797018963968)
    assert w == FLOAT64_TENTH and w != F(1, 10)
    assert net.layers[0].weights[0][1] == F(-2) and net.layers[0].bias == (F(1, 2),)
    assert net.layers[1].weights == ((F(3),),)
    assert net.layers[1].bias == (FLOAT32_TENTH,)


def test_npz_weights_are_out_by_in_as_the_readme_says(tmp_path: Path) -> None:
    # A square layer and a non-square one: W_k @ a + b_k with W_k of shape (out, in), checked
    # against NumPy's own product (a transposed reading would give other numbers).
    w0 = np.array([[1.0, 2.0], [3.0, -4.0]])
    w1 = np.array([[0.5, -1.0]])
    b0, b1 = np.array([0.0, 1.0]), np.array([0.25])
    np.savez(tmp_path / "net.npz", W0=w0, b0=b0, W1=w1, b1=b1)
    net = load_network(tmp_path / "net.npz")
    assert net.widths == (2, 2, 1)
    for x in [(1.0, 0.0), (0.0, 1.0), (-2.0, 0.5), (3.0, 1.0)]:
        expected = w1 @ np.maximum(w0 @ np.array(x) + b0, 0) + b1
        assert evaluate(net, tuple(F(v) for v in x)) == (F(float(expected[0])),)


def test_npz_infinite_weights_make_an_extended_network(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    np.savez(path, W0=np.array([[np.inf], [-np.inf]]), b0=np.zeros(2),
             W1=np.ones((1, 2)), b1=np.zeros(1))
    net = load_network(path)
    assert isinstance(net, ReluNetwork) and net.is_extended
    assert net.layers[0].weights == ((POS_INF,), (NEG_INF,))


def test_npz_gated(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    np.savez(path, kind=np.array("dlgn"), value_input=np.array("ones"),
             U0=np.array([[1.0, -1.0]]), c0=np.array([0.25]),
             W0=np.array([[2.0, 0.5]]), b0=np.array([-1.0]),
             W1=np.array([[4.0]]), b1=np.array([0.0]))
    one = F(1)
    expected = GatedNetwork(
        "dlgn", (Layer(((one, -one),), (F(1, 4),)),),
        (Layer(((F(2), F(1, 2)),), (-one,)), Layer(((F(4),),), (F(0),))), "ones")
    assert load_network(path) == expected


@pytest.mark.parametrize(("arrays", "fragments"), [
    ({"W0": np.array([[1.0, np.nan]]), "b0": np.zeros(1)}, ["W0[0, 1]", "NaN"]),
    ({"W0": np.ones((1, 2)), "b0": np.array([np.nan])}, ["b0[0]", "NaN"]),
    ({"W0": np.ones((1, 2)), "b0": np.zeros(1), "W1": np.ones((1, 1))}, ["W1", "b1"]),
    ({"W0": np.ones((2, 2)), "b0": np.zeros(3)}, ["b0", "(3,)", "(2,)"]),
    ({"W0": np.ones((2, 2)), "b0": np.zeros(2), "W1": np.ones((1, 3)), "b1": np.zeros(1)},
     ["layers[1]", "3 columns"]),
    ({"W0": np.ones(3), "b0": np.zeros(3)}, ["W0", "(out, in)"]),
    ({"W0": np.ones((1, 1), dtype=bool), "b0": np.zeros(1)}, ["W0", "bool"]),
    ({"W1": np.ones((1, 1)), "b1": np.zeros(1)}, ["W0"]),
    ({"W0": np.ones((1, 1)), "b0": np.zeros(1), "extra": np.zeros(1)}, ["extra"]),
    ({"kind": np.array("cnn"), "W0": np.ones((1, 1)), "b0": np.zeros(1)}, ["kind", "cnn"]),
    ({"kind": np.array("dgn"), "U0": np.array([[np.inf]]), "c0": np.zeros(1),
      "W0": np.ones((1, 1)), "b0": np.zeros(1), "W1": np.ones((1, 1)), "b1": np.zeros(1)},
     ["U0[0, 0]", "inf"]),
])
def test_bad_npz(tmp_path: Path, arrays: dict, fragments: list[str]) -> None:
    path = tmp_path / "net.npz"
    np.savez(path, **arrays)
    raises_input_error(path, *fragments)


def test_npz_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    path.write_text("not a zip file")
    raises_input_error(path, "not a readable .npz")


# --- NNet -------------------------------------------------------------------------------------

TINY_NNET = """\
// A hand-written network: 2 inputs, one hidden layer of 2, 1 output.
// Normalization: mean (1.5, -2) range (4, 0.25); output mean 0.5 range 3.
2,2,1,2,
2,2,1,
0,
-10,-10,
10.5,10,
1.5,-2,0.5,
4,0.25,3,
1,-1,
0.5,2,
0.1,
-0.2,
3,-1,
0.7,
"""


def test_nnet_folds_the_normalization_exactly(tmp_path: Path) -> None:
    path = tmp_path / "tiny.nnet"
    path.write_text(TINY_NNET)
    net = load_network(path)
    assert isinstance(net, ReluNetwork) and net.widths == (2, 2, 1)

    def by_hand(x0: Fraction, x1: Fraction) -> Fraction:
        u0, u1 = (x0 - F("1.5")) / 4, (x1 + 2) / F("0.25")
        h0 = max(u0 - u1 + F("0.1"), F(0))
        h1 = max(F("0.5") * u0 + 2 * u1 - F("0.2"), F(0))
        return 3 * (3 * h0 - h1 + F("0.7")) + F("0.5")

    for point in [(F(2), F("-1.9")), (F(0), F(0)), (F(-7, 3), F(11, 5)), (F(100), F(-50))]:
        assert evaluate(net, point) == (by_hand(*point),)
    # The input clipping bounds [-10, 10.5] x [-10, 10] are not part of the function.
    assert evaluate(net, (F(100), F(-50))) != evaluate(net, (F("10.5"), F(-10)))


@pytest.mark.parametrize(("text", "fragments"), [
    (TINY_NNET.replace("4,0.25,3,", "4,0,3,"), ["ranges", "range 0"]),
    (TINY_NNET.replace("0.7,\n", ""), ["ends early", "layer 2 biases"]),
    (TINY_NNET + "5,\n", ["line 16", "unexpected value '5'"]),
    (TINY_NNET.replace("0.5,2,", "0.5,abc,"), ["line 11", "layer 1 weights row 1", "'abc'"]),
    (TINY_NNET.replace("2,2,1,\n", "3,2,1,\n"), ["layer sizes"]),
    (TINY_NNET.replace("2,2,1,2,", "x,2,1,2,"), ["numLayers", "'x'"]),
    # The kernel's number grammar: ASCII digits, no underscores (int() and Fraction() take both).
    (TINY_NNET.replace("2,2,1,2,", "\u0662,2,1,2,"), ["line 3", "numLayers", "'\u0662'"]),
    (TINY_NNET.replace("2,2,1,2,", "2,2,1,2_0,"), ["line 3", "maxLayerSize", "'2_0'"]),
    (TINY_NNET.replace("0.5,2,", "0.5,2_0,"), ["line 11", "layer 1 weights row 1", "'2_0'"]),
    (TINY_NNET.replace("0.7,\n", "Infinity,\n"), ["line 15", "layer 2 biases", "'Infinity'"]),
    (TINY_NNET.replace("0.7,\n", "7e-99999,\n"), ["line 15", "exponent"]),
], ids=["zero-range", "truncated", "trailing", "bad-number", "sizes", "bad-count",
        "unicode-count", "underscore-count", "underscore", "infinity", "exponent"])
def test_bad_nnet(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = tmp_path / "tiny.nnet"
    path.write_text(text)
    raises_input_error(path, *fragments)


def test_nnet_reads_scientific_notation_exactly(tmp_path: Path) -> None:
    plain, scientific = tmp_path / "plain.nnet", tmp_path / "sci.nnet"
    plain.write_text(TINY_NNET)
    scientific.write_text(TINY_NNET.replace("0.5,2,", "5e-1,2E0,").replace("0.7,", "+.7,"))
    assert load_network(scientific) == load_network(plain)


# --- ONNX -------------------------------------------------------------------------------------



def _save_onnx(path: Path, nodes: list, initializers: dict[str, np.ndarray],
               input_shape: list, output: str = "y") -> Path:
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k)
         for k, v in initializers.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@needs_onnx
def test_onnx_gemm_relu_matmul_add(tmp_path: Path) -> None:
    path = _save_onnx(tmp_path / "net.onnx", [
        helper.make_node("Gemm", ["x", "B", "C"], ["h"], name="fc1",
                         alpha=0.5, beta=2.0, transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "W"], ["m"], name="fc2"),
        helper.make_node("Add", ["m", "b"], ["y"], name="add"),
    ], {"B": [[1, -2], [0.5, 3], [-1.25, 0.75]], "C": [0.5, -1, 0.25],
        "W": [[2], [-1], [0.1]], "b": [-3]}, ["N", 2])
    net = load_network(path)
    assert isinstance(net, ReluNetwork) and net.widths == (2, 3, 1)

    def by_hand(x0: Fraction, x1: Fraction) -> Fraction:
        h = [F(1, 2) * (x0 - 2 * x1) + 2 * F(1, 2), F(1, 2) * (F(1, 2) * x0 + 3 * x1) + 2 * -1,
             F(1, 2) * (F(-5, 4) * x0 + F(3, 4) * x1) + 2 * F(1, 4)]
        r = [max(v, F(0)) for v in h]
        return 2 * r[0] - r[1] + FLOAT32_TENTH * r[2] - 3

    for point in [(F(0), F(0)), (F(3), F(-1, 7)), (F(-2), F(5, 3)), (F(9), F(4))]:
        assert evaluate(net, point) == (by_hand(*point),)


@needs_onnx
def test_onnx_sub_div_flatten_identity_fold_into_first_layer(tmp_path: Path) -> None:
    path = _save_onnx(tmp_path / "net.onnx", [
        helper.make_node("Sub", ["x", "mean"], ["s"], name="center"),
        helper.make_node("Div", ["s", "scale"], ["d"], name="scale"),
        helper.make_node("Flatten", ["d"], ["f"], name="flat", axis=1),
        helper.make_node("Identity", ["f"], ["i"], name="id"),
        helper.make_node("Gemm", ["i", "B"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Gemm", ["r", "B2", "C2"], ["y"], name="fc2", transB=1),
    ], {"mean": [[[0.5, -1]]], "scale": [[[2, 0.25]]], "B": [[1, 1], [-1, 2]],
        "B2": [[3, -0.5]], "C2": [1]}, [1, 1, 2])
    net = load_network(path)
    assert isinstance(net, ReluNetwork) and net.widths == (2, 2, 1)

    def by_hand(x0: Fraction, x1: Fraction) -> Fraction:
        u0, u1 = (x0 - F(1, 2)) / 2, (x1 + 1) / F(1, 4)
        r0, r1 = max(u0 - u1, F(0)), max(u0 + 2 * u1, F(0))
        return 3 * r0 - F(1, 2) * r1 + 1

    for point in [(F(0), F(0)), (F(5), F(-3, 4)), (F(-1, 3), F(2)), (F(1, 2), F(-1))]:
        assert evaluate(net, point) == (by_hand(*point),)


@needs_onnx
def test_onnx_transposed_input_and_trailing_relu(tmp_path: Path) -> None:
    path = _save_onnx(tmp_path / "net.onnx", [
        helper.make_node("Gemm", ["x", "B"], ["h"], name="fc", transA=1),
        helper.make_node("Relu", ["h"], ["y"], name="relu"),
    ], {"B": [[1, -1], [2, 0.5]]}, [2, 1])
    net = load_network(path)
    assert isinstance(net, ReluNetwork) and net.widths == (2, 2, 2)
    x0, x1 = F(1, 3), F(-2)
    assert evaluate(net, (x0, x1)) == (max(x0 + 2 * x1, F(0)), max(-x0 + x1 / 2, F(0)))


@needs_onnx
@pytest.mark.parametrize("op", ["Sigmoid", "Conv"])
def test_onnx_unsupported_operator(tmp_path: Path, op: str) -> None:
    inputs = ["h", "K"] if op == "Conv" else ["h"]
    path = _save_onnx(tmp_path / "net.onnx", [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="fc"),
        helper.make_node(op, inputs, ["y"], name="bad"),
    ], {"W": [[1.0]], "K": [[[1.0]]]}, [1, 1])
    raises_input_error(path, f"unsupported ONNX operator '{op}' (node 'bad')")


@needs_onnx
def test_onnx_refuses_branches_and_bad_constants(tmp_path: Path) -> None:
    path = _save_onnx(tmp_path / "branch.onnx", [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Add", ["r", "x"], ["y"], name="skip"),
    ], {}, [1, 2])
    raises_input_error(path, "node 'skip'", "single chain")
    path = _save_onnx(tmp_path / "div.onnx", [
        helper.make_node("Div", ["x", "d"], ["y"], name="div"),
    ], {"d": [1, 0]}, [1, 2])
    raises_input_error(path, "node 'div'", "division by zero")
    path = _save_onnx(tmp_path / "nan.onnx", [
        helper.make_node("MatMul", ["x", "W"], ["y"], name="fc"),
    ], {"W": [[1], [np.nan]]}, [1, 2])
    raises_input_error(path, "'W'[1, 0]", "NaN")
    path = _save_onnx(tmp_path / "shape.onnx", [
        helper.make_node("MatMul", ["x", "W"], ["y"], name="fc"),
    ], {"W": [[1], [2], [3]]}, [1, 2])
    raises_input_error(path, "node 'fc'", "(1, 2)", "(3, 1)")
    (tmp_path / "junk.onnx").write_bytes(b"\x00not a model")
    raises_input_error(tmp_path / "junk.onnx", "not a readable ONNX model")


@needs_onnx
def test_missing_onnx_package_names_the_extra(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save_onnx(tmp_path / "net.onnx", [helper.make_node("Relu", ["x"], ["y"])], {}, [1])
    monkeypatch.setitem(sys.modules, "onnx", None)
    raises_input_error(path, "pip install 'deep2shallow-exact[onnx]'")


@needs_onnx
def test_acasxu_onnx_exact_import() -> None:
    from onnx.reference import ReferenceEvaluator

    net = load_network(ACASXU_ONNX)
    assert isinstance(net, ReluNetwork)
    assert net.widths == (5, 50, 50, 50, 50, 50, 50, 5)
    model = onnx.load(str(ACASXU_ONNX))
    raw = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    # The Sub of the mean is folded into the first layer: W' = Wᵀ, b' = b − Wᵀ·mean, exactly.
    w, b = raw["Operation_1_MatMul_W"], raw["Operation_1_Add_B"]
    mean = raw["input_AvgImg"].ravel()
    for j in (0, 17, 49):
        assert net.layers[0].weights[j] == tuple(F(float(w[i, j])) for i in range(5))
        assert net.layers[0].bias[j] == F(float(b[j])) - sum(
            F(float(w[i, j])) * F(float(mean[i])) for i in range(5))
    assert net.layers[3].weights[7][11] == F(float(raw["Operation_4_MatMul_W"][11, 7]))

    # The float32 reference evaluator is only a sanity oracle for the exact outputs.
    oracle = ReferenceEvaluator(model)
    for point in ([0.6, -0.5, 0.5, 0.45, -0.5], [-0.3, 0.0095, 0.497, 0.4, 0.3],
                  [0.1, 0.2, -0.3, 0.0, 0.25]):
        x = np.array(point, dtype=np.float32)
        exact = evaluate(net, [F(float(v)) for v in x])
        (expected,) = oracle.run(None, {"input": x.reshape(1, 1, 1, 5)})
        scale = max(abs(float(v)) for v in expected.ravel())
        for e, f in zip(exact, expected.ravel()):
            assert abs(float(e) - float(f)) <= 1e-4 * scale


# --- VNN-LIB ----------------------------------------------------------------------------------

def _box(bounds: list[tuple[str, str]]):
    return box([F(lo) for lo, _ in bounds], [F(hi) for _, hi in bounds])


def test_vnnlib_acasxu_property_boxes() -> None:
    # Bounds copied by hand from the assertions in the two files.
    prop_1 = _box([("0.6", "0.679857769"), ("-0.5", "0.5"), ("-0.5", "0.5"),
                   ("0.45", "0.5"), ("-0.5", "-0.45")])
    prop_3 = _box([("-0.303531156", "-0.298552812"), ("-0.009549297", "0.009549297"),
                   ("0.493380324", "0.5"), ("0.3", "0.5"), ("0.3", "0.5")])
    for name, expected in (("prop_1.vnnlib", prop_1), ("prop_3.vnnlib", prop_3)):
        domain = load_vnnlib_box(ACASXU / name, 5)
        assert domain.dim == 5
        assert domain.inequalities == expected.inequalities
        assert domain.equalities == ()
        assert name in domain.description
    inside = (F("0.6"), F(0), F("-0.5"), F("0.47"), F("-0.45"))
    domain = load_vnnlib_box(ACASXU / "prop_1.vnnlib", 5)
    assert domain.contains(inside)
    assert not domain.contains((F("0.599999999"), *inside[1:]))


def test_vnnlib_forms(tmp_path: Path) -> None:
    path = tmp_path / "p.vnnlib"
    path.write_text("(declare-const X_0 Real)\n(declare-const X_1 Real)\n"
                    "(declare-const Y_0 Real)\n"
                    "(assert (and (>= X_0 -1.5) (<= X_0 2)))\n"
                    "(assert (<= 0.25 X_1)) ; the constant first\n(assert (>= 3 X_1))\n"
                    "(assert (<= X_0 1.75))\n(assert (>= Y_0 (- 2)))\n")
    domain = load_vnnlib_box(path, 2)
    assert domain.inequalities == box([F(-3, 2), F(1, 4)], [F(7, 4), F(3)]).inequalities


@pytest.mark.parametrize(("text", "fragments"), [
    ("(assert (>= X_0 0))", ["X_0 has no upper bound", "X_1 has no lower bound"]),
    ("(assert (>= X_0 0)) (assert (<= X_0 1)", ["unclosed"]),
    ("(assert (<= X_0 X_1))", ["(<= X_0 X_1)"]),
    ("(assert (or (<= X_0 1) (>= X_0 2)))", ["(or", "box"]),
    ("(assert (<= X_7 1))", ["X_7", "2 inputs"]),
    ("(assert (<= X_0 abc))", ["'abc'"]),
    ("(assert (<= X_0 1_000))", ["'1_000'"]),
    ("(assert (<= X_0 \u0661))", ["'\u0661'"]),
    ("(assert (<= X_0 1e99999))", ["exponent"]),
    ("(declare-const X_4 Real)", ["X_4", "2 inputs"]),
    ("(assert (>= X_0 1)) (assert (<= X_0 0)) (assert (>= X_1 0)) (assert (<= X_1 0))",
     ["lower bound 1 above upper 0"]),
])
def test_bad_vnnlib(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = tmp_path / "p.vnnlib"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_vnnlib_box(path, 2)
    assert str(info.value).startswith(f"{path}:")
    for fragment in fragments:
        assert fragment in str(info.value)


def test_vnnlib_deeply_nested_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "p.vnnlib"
    path.write_text("(assert " + "(" * 100_000 + "<= X_0 1" + ")" * 100_001)
    with pytest.raises(InputError) as info:
        load_vnnlib_box(path, 2)
    assert str(info.value) == f"{path}: line 1: brackets nested too deeply"


def test_vnnlib_scientific_constants(tmp_path: Path) -> None:
    path = tmp_path / "p.vnnlib"
    path.write_text("(assert (>= X_0 -1.5e-1))(assert (<= X_0 2E1))(assert (= X_1 (- 1/4)))")
    domain = load_vnnlib_box(path, 2)
    assert domain.inequalities == box([F(-3, 20), F(-1, 4)], [F(20), F(-1, 4)]).inequalities


def test_vnnlib_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_vnnlib_box(tmp_path / "absent.vnnlib", 2)


# --- PyTorch ----------------------------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch")


def _set(linear, weight: list[list[float]], bias: list[float]) -> None:
    torch = _torch()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight))
        linear.bias.copy_(torch.tensor(bias))


def _small_sequential():
    torch = _torch()
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    _set(model[0], [[1.0, -0.5], [0.1, 2.0]], [0.25, -1.0])
    _set(model[2], [[3.0, -2.0]], [0.5])
    return model


def _small_by_hand(x0: Fraction, x1: Fraction) -> Fraction:
    h0 = max(x0 - x1 / 2 + F(1, 4), F(0))
    h1 = max(FLOAT32_TENTH * x0 + 2 * x1 - 1, F(0))
    return 3 * h0 - 2 * h1 + F(1, 2)


@pytest.mark.torch
def test_torch_sequential_and_state_dict(tmp_path: Path) -> None:
    torch = _torch()
    model = _small_sequential()
    torch.save(model, tmp_path / "whole.pt")
    torch.save(model.state_dict(), tmp_path / "state.pth")
    whole = load_network(tmp_path / "whole.pt")
    state = load_network(tmp_path / "state.pth", "linear,relu,linear")
    assert whole == state
    assert isinstance(whole, ReluNetwork) and whole.widths == (2, 2, 1)
    assert whole.layers[0].weights[1][0] == FLOAT32_TENTH
    for point in [(F(0), F(0)), (F(1, 3), F(-2)), (F(4), F(1, 5)), (F(-7), F(3))]:
        assert evaluate(whole, point) == (_small_by_hand(*point),)
        float_out = model(torch.tensor([[float(v) for v in point]])).item()
        assert abs(float_out - float(_small_by_hand(*point))) < 1e-5


@pytest.mark.torch
def test_torch_consecutive_linears_compose(tmp_path: Path) -> None:
    torch = _torch()
    model = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Linear(2, 1, bias=False))
    _set(model[0], [[2.0], [-1.0]], [1.0, 0.5])
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[0.5, 4.0]]))
    torch.save(model, tmp_path / "net.pt")
    net = load_network(tmp_path / "net.pt")
    assert isinstance(net, ReluNetwork) and net.widths == (1, 1)
    x = F(-3, 7)
    assert evaluate(net, (x,)) == (F(1, 2) * (2 * x + 1) + 4 * (-x + F(1, 2)),)


@pytest.mark.torch
def test_torch_prefixed_state_dict(tmp_path: Path) -> None:
    torch = _torch()
    state = {f"net.{k}": v for k, v in _small_sequential().state_dict().items()}
    torch.save(state, tmp_path / "state.pt")
    net = load_network(tmp_path / "state.pt", "Linear, ReLU, Linear")
    assert evaluate(net, (F(1), F(1))) == (_small_by_hand(F(1), F(1)),)


@pytest.mark.torch
def test_torch_dlgn_reference_layout(tmp_path: Path) -> None:
    torch = _torch()
    t = torch.tensor
    state = {
        "gating_network.list_of_modules.0.weight": t([[1.0, -1.0], [0.5, 0.5]]),
        "gating_network.list_of_modules.0.bias": t([0.0, -1.0]),
        "gating_network.list_of_modules.1.weight": t([[1.0, 2.0]]),
        "gating_network.list_of_modules.1.bias": t([0.25]),
        "value_network.list_of_modules.0.weight": t([[2.0, 1.0], [-1.0, 3.0]]),
        "value_network.list_of_modules.0.bias": t([0.5, 0.0]),
        "value_network.list_of_modules.1.weight": t([[1.0, -1.0]]),
        "value_network.list_of_modules.1.bias": t([1.0]),
        "value_network.output_layer.weight": t([[2.0], [-0.5]]),
        "value_network.output_layer.bias": t([0.0, 1.0]),
    }
    torch.save(state, tmp_path / "dlgn.pt")
    # DLGN_FC_Network and DGN_FC_Network save the same keys: the reader does not guess.
    raises_input_error(tmp_path / "dlgn.pt", "state_dict", "dlgn / dgn")
    net = load_network(tmp_path / "dlgn.pt", "dlgn")
    assert isinstance(net, GatedNetwork)
    assert (net.kind, net.value_input, net.widths) == ("dlgn", "ones", (2, 2, 1, 2))

    def by_hand(x0: Fraction, x1: Fraction) -> tuple[Fraction, Fraction]:
        # Gating is linear; the value network starts from the all-ones vector.
        q1 = (x0 - x1, (x0 + x1) / 2 - 1)
        q2 = q1[0] + 2 * q1[1] + F(1, 4)
        h1 = [v if q > 0 else F(0) for v, q in zip((F(2 + 1) + F(1, 2), F(-1 + 3)), q1)]
        h2 = h1[0] - h1[1] + 1 if q2 > 0 else F(0)
        return (2 * h2, -h2 / 2 + 1)

    for point in [(F(3), F(1)), (F(-1), F(2)), (F(5), F(4)), (F(0), F(0)), (F(1), F(-4))]:
        assert evaluate(net, point) == by_hand(*point)

    # DGN_FC_Network: the same layers with a ReLU after each gating layer.
    dgn = load_network(tmp_path / "dlgn.pt", "dgn")
    assert isinstance(dgn, GatedNetwork) and (dgn.kind, dgn.value_input) == ("dgn", "ones")

    def dgn_by_hand(x0: Fraction, x1: Fraction) -> tuple[Fraction, Fraction]:
        q1 = (x0 - x1, (x0 + x1) / 2 - 1)
        q2 = max(q1[0], F(0)) + 2 * max(q1[1], F(0)) + F(1, 4)
        h1 = [v if q > 0 else F(0) for v, q in zip((F(2 + 1) + F(1, 2), F(-1 + 3)), q1)]
        h2 = h1[0] - h1[1] + 1 if q2 > 0 else F(0)
        return (2 * h2, -h2 / 2 + 1)

    for point in [(F(3), F(1)), (F(-1), F(2)), (F(5), F(4)), (F(0), F(0)), (F(-3), F(-4))]:
        assert evaluate(dgn, point) == dgn_by_hand(*point)
    assert evaluate(dgn, (F(-3), F(-4))) != evaluate(net, (F(-3), F(-4)))
    raises_input_error(tmp_path / "dlgn.pt", "architecture", architecture="linear,relu,linear")


@pytest.mark.torch
def test_torch_state_dicts_are_read_only_with_their_architecture(tmp_path: Path) -> None:
    # The three models of issue 12 item 3: the old reader put a ReLU between every two Linear
    # layers and none after the last, and read all three as something else.
    torch = _torch()
    nn = torch.nn
    models = {
        "linear,linear,relu,linear": nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(),
                                                   nn.Linear(2, 1)),
        "linear,relu,linear,relu": nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1),
                                                 nn.ReLU()),
        "linear,tanh,linear": nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)),
    }
    points = [(F(1), F(-1)), (F(-1, 2), F(3, 4)), (F(2), F(2)), (F(-3), F(1, 4))]
    for spec, model in models.items():
        torch.manual_seed(3)
        with torch.no_grad():
            for param in model.parameters():
                param.copy_(torch.randint(-8, 9, param.shape).float() / 4)
        torch.save(model.state_dict(), tmp_path / "state.pt")
        message = str(raises_input_error(tmp_path / "state.pt", "state_dict", "no activations",
                                         "torch.save(model, PATH)", "ONNX").value)
        assert "architecture" in message
        if "tanh" in spec:
            raises_input_error(tmp_path / "state.pt", "'tanh'", architecture=spec)
            continue
        net = load_network(tmp_path / "state.pt", spec)
        for x in points:
            with torch.no_grad():
                expected = model(torch.tensor([[float(v) for v in x]])).item()
            # Weights in quarters and small points: float32 is exact, so the outputs are equal.
            assert evaluate(net, x) == (F(expected),)
    # Linear at 0, 1, 3: an architecture with Linear at 0 and 2 does not match the keys.
    torch.save(models["linear,linear,relu,linear"].state_dict(), tmp_path / "state.pt")
    raises_input_error(tmp_path / "state.pt", "positions 0, 1, 3", "at 0, 2",
                       architecture="linear,relu,linear")
    raises_input_error(tmp_path / "state.pt", "no linear", architecture="relu")
    raises_input_error(tmp_path / "state.pt", "reference code's keys", architecture="dgn")


@pytest.mark.torch
def test_torch_whole_module_checks_a_stated_architecture(tmp_path: Path) -> None:
    torch = _torch()
    model = _small_sequential()
    torch.save(model, tmp_path / "whole.pt")
    assert load_network(tmp_path / "whole.pt", "linear,relu,linear") == load_network(
        tmp_path / "whole.pt")
    raises_input_error(tmp_path / "whole.pt", "linear,relu,linear",
                       "not the stated architecture linear,linear",
                       architecture="linear,linear")
    raises_input_error(tmp_path / "whole.pt", "whole Sequential", architecture="dlgn")


def test_architecture_only_for_pytorch_files() -> None:
    path = Path(__file__).resolve().parents[1] / "deep2shallow_exact" / "examples" / "tiny.json"
    raises_input_error(path, "PyTorch state_dict", architecture="linear,relu,linear")


@pytest.mark.torch
def test_bad_torch_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = _torch()
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1))
    torch.save(model, tmp_path / "sigmoid.pt")
    raises_input_error(tmp_path / "sigmoid.pt", "Sigmoid")
    torch.save({"0.weight": torch.ones(2, 2), "0.bias": torch.zeros(2),
                "2.weight": torch.ones(1, 3), "2.bias": torch.zeros(1)}, tmp_path / "shape.pt")
    raises_input_error(tmp_path / "shape.pt", "module 2", "takes 3 inputs but receives 2",
                       architecture="linear,relu,linear")
    torch.save({"0.weight": torch.tensor([[float("nan")]])}, tmp_path / "nan.pt")
    raises_input_error(tmp_path / "nan.pt", "0.weight[0, 0]", "NaN", architecture="linear")
    torch.save({"encoder.weight": torch.ones(1, 1)}, tmp_path / "keys.pt")
    raises_input_error(tmp_path / "keys.pt", "'encoder.weight'", architecture="linear")
    torch.save({"0.weight": torch.ones(1, 1), "0.bias": torch.zeros(2)}, tmp_path / "bias.pt")
    raises_input_error(tmp_path / "bias.pt", "0.bias", "(2,)", architecture="linear")
    torch.save([1, 2], tmp_path / "list.pt")
    raises_input_error(tmp_path / "list.pt", "list")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    raises_input_error(tmp_path / "junk.pt", "not a readable PyTorch file")
    monkeypatch.setitem(sys.modules, "torch", None)
    raises_input_error(tmp_path / "list.pt", "pip install 'deep2shallow-exact[torch]'")
