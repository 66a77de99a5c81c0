"""Network values: shape validation, derived properties, finiteness, gated networks."""

from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

import pytest

from deep2shallow_exact.errors import InputError
from deep2shallow_exact.network import GatedNetwork, Layer, ReluNetwork
from deep2shallow_exact.numbers import NEG_INF, POS_INF

# 2 inputs -> 3 hidden -> 1 output, entries in every accepted spelling.
SMALL = [
    ([[1, "-1/2"], ["0.25", 0], [2, 3]], [0, "1/3", -1]),
    ([[1, 1, "-7/6"]], ["2"]),
]


def test_build_reads_every_number_format() -> None:
    net = ReluNetwork.from_lists(SMALL)
    assert net.layers[0].weights == ((1, Fraction(-1, 2)), (Fraction(1, 4), 0), (2, 3))
    assert net.layers[0].bias == (0, Fraction(1, 3), -1)
    assert net.layers[1].weights == ((1, 1, Fraction(-7, 6)),)
    assert all(isinstance(v, Fraction) for layer in net.layers for v in layer.entries())


def test_shape_properties_on_a_hand_example() -> None:
    net = ReluNetwork.from_lists(SMALL)
    assert net.kind == "relu"
    assert (net.input_dim, net.output_dim) == (2, 1)
    assert net.hidden_widths == (3,)
    assert net.widths == (2, 3, 1)
    # 3 neurons with 2 weights and a bias, then 1 neuron with 3 weights and a bias.
    assert net.parameter_count == 3 * 3 + 1 * 4
    assert net.max_denominator == 6
    assert not net.is_extended


def test_layer_dimensions() -> None:
    layer = Layer.build([[1, 2, 3], [4, 5, 6]], [0, 0], "L")
    assert (layer.in_dim, layer.out_dim) == (3, 2)
    assert layer.entries() == [1, 2, 3, 4, 5, 6, 0, 0]


def test_a_single_affine_layer_is_a_network_without_hidden_layers() -> None:
    net = ReluNetwork.from_lists([([[1, 2]], [3])])
    assert net.hidden_widths == ()
    assert net.widths == (2, 1)


def test_max_denominator_of_an_integer_network_is_one() -> None:
    assert ReluNetwork.from_lists([([[1, 2]], [3])]).max_denominator == 1


@pytest.mark.parametrize(("layers", "message"), [
    ([([], [])], r"network: layers\[0\]: weights has no rows"),
    ([([[]], [0])], r"network: layers\[0\]: weights rows are empty"),
    ([([[1, 2], [3]], [0, 0])], r"network: layers\[0\]: weights row 1 has 1 entries, row 0 has 2"),
    ([([[1, 2]], [0, 0])], r"network: layers\[0\]: bias has 2 entries but weights has 1 rows"),
    ([([[1]], [0]), ([[1], [2]], [0, 0]), ([[1, 2, 3]], [0])],
     r"layers\[2\]: weights have 3 columns but layers\[1\] has 2 outputs"),
    ([([[1]], [0]), ([[1, "x"]], [0])], r"network: layers\[1\]\.weights\[0\]\[1\]: 'x'"),
    ([([[1]], [None])], r"network: layers\[0\]\.bias\[0\]: None is not a number"),
    ([], "network has no layers"),
])
def test_shape_errors_name_the_layer_and_row(layers: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        ReluNetwork.from_lists(layers)


def test_from_lists_uses_the_given_name() -> None:
    with pytest.raises(InputError, match=r"^deep\.json: layers\[0\]\.weights\[0\]\[0\]"):
        ReluNetwork.from_lists([([["nan"]], [0])], where="deep.json")


EXTENDED = [([[1], [1]], [0, -1]), ([[1, "-inf"]], [0]), ([[1]], [0])]


def test_extended_network_properties() -> None:
    net = ReluNetwork.from_lists(EXTENDED)
    assert net.is_extended
    assert net.layers[1].weights[0][1] is NEG_INF
    assert net.max_denominator == 1
    assert net.widths == (1, 2, 1, 1)


def test_require_finite_names_the_infinite_entry() -> None:
    with pytest.raises(InputError, match=r"^convert: layers\[1\]\.weights\[0\]\[1\] is -inf"):
        ReluNetwork.from_lists(EXTENDED).require_finite("convert")
    with pytest.raises(InputError, match=r"^regions: layers\[0\]\.bias\[0\] is inf"):
        ReluNetwork.from_lists([([[1]], ["inf"])]).require_finite("regions")
    ReluNetwork.from_lists(SMALL).require_finite("regions")


def test_networks_are_immutable_values() -> None:
    a, b = ReluNetwork.from_lists(SMALL), ReluNetwork.from_lists(SMALL)
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.layers = ()  # type: ignore[misc]


def layer(rows: list, bias: list) -> Layer:
    return Layer.build(rows, bias, "test")


def gated(kind: str = "dgn", value_input: str = "x") -> GatedNetwork:
    # 2 inputs, gating widths (3, 2), 1 output.
    gating = (layer([[1, 0], [0, 1], [1, 1]], [0, 0, 0]), layer([[1, 1, 1], [1, -1, 0]], [0, 0]))
    value = (layer([[1, 2], [3, 4], [5, 6]], [1, 1, 1]),
             layer([[1, 0, 0], [0, 1, "1/9"]], [0, 0]),
             layer([[2, 3]], [4]))
    return GatedNetwork(kind, gating, value, value_input)


def test_gated_network_properties() -> None:
    net = gated("dlgn", "ones")
    assert (net.kind, net.value_input) == ("dlgn", "ones")
    assert (net.input_dim, net.output_dim) == (2, 1)
    assert net.hidden_widths == (3, 2)
    assert net.widths == (2, 3, 2, 1)
    assert net.parameter_count == (3 * 3 + 2 * 4) + (3 * 3 + 2 * 4 + 1 * 3)
    assert net.max_denominator == 9
    assert not net.is_extended


def test_gated_network_defaults_to_value_input_x() -> None:
    net = gated()
    assert GatedNetwork("dgn", net.gating, net.value).value_input == "x"


GATED_ERRORS = [
    (lambda n: {"kind": "relu"}, "kind: 'relu' is not a gated network kind"),
    (lambda n: {"value_input": "zeros"}, "value_input: 'zeros' must be"),
    (lambda n: {"gating": ()}, "gating: a gated network needs at least one gating layer"),
    (lambda n: {"value": n.value[:-1]}, r"value: has 2 layers; 2 gating layers need 3"),
    (lambda n: {"gating": (n.gating[0], layer([[1, 1, 1, 1]] * 2, [0, 0]))},
     r"gating\[1\]: weights have 4 columns but gating\[0\] has 3"),
    (lambda n: {"gating": (layer([[1, "inf"], [0, 1], [1, 1]], [0] * 3), n.gating[1])},
     r"gating\[0\]: gated networks must have finite entries"),
    (lambda n: {"value": (*n.value[:-1], Layer(((Fraction(2), POS_INF),), (Fraction(4),)))},
     r"value\[2\]: gated networks must have finite entries"),
    (lambda n: {"value": (layer([[1, 2, 3]] * 3, [0] * 3), *n.value[1:])},
     r"value\[0\]: weights have 3 columns but the input dimension \(gating\[0\] columns\) is 2"),
    (lambda n: {"value": (layer([[1, 2]] * 2, [0] * 2), layer([[1, 0], [0, 1]], [0, 0]),
                          n.value[2])},
     r"value\[0\]: has 2 neurons but gating\[0\] has 3 gates"),
]


@pytest.mark.parametrize(("change", "message"), GATED_ERRORS)
def test_gated_validation_names_the_part(change: Callable[[GatedNetwork], dict],
                                         message: str) -> None:
    net = gated()
    with pytest.raises(InputError, match=message):
        replace(net, **change(net))


