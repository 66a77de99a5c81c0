"""Extended arithmetic (DESIGN section 1) and the number syntax of the file formats."""

from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from deep2shallow_exact import kernel
from deep2shallow_exact.errors import InputError, UndefinedError
from deep2shallow_exact.numbers import (
    NEG_INF,
    POS_INF,
    Infinity,
    ext_add,
    ext_mul,
    ext_relu,
    format_number,
    is_infinite,
    parse_extended,
    parse_rational,
    sign,
)
from deep2shallow_exact.strategies import rationals

finite = rationals(max_numerator=50, max_denominator=7)
nonzero = finite.filter(lambda v: v != 0)


def test_infinities_are_singletons_with_negation() -> None:
    assert -POS_INF is NEG_INF
    assert -NEG_INF is POS_INF
    assert Infinity(1) == POS_INF
    assert is_infinite(POS_INF) and is_infinite(NEG_INF)
    assert not is_infinite(Fraction(10**30))


@pytest.mark.parametrize(("value", "expected"), [
    (POS_INF, 1), (NEG_INF, -1), (Fraction(0), 0), (Fraction(-1, 3), -1), (Fraction(7, 2), 1),
])
def test_sign(value: Fraction | Infinity, expected: int) -> None:
    assert sign(value) == expected


@given(finite, finite)
def test_finite_operations_are_ordinary_arithmetic(a: Fraction, b: Fraction) -> None:
    assert ext_add(a, b, "here") == a + b
    assert ext_mul(a, b) == a * b
    assert ext_relu(a) == max(a, Fraction(0))


@given(finite)
def test_finite_plus_infinity_is_that_infinity(a: Fraction) -> None:
    for inf in (POS_INF, NEG_INF):
        assert ext_add(a, inf, "here") is inf
        assert ext_add(inf, a, "here") is inf


def test_same_infinities_add() -> None:
    assert ext_add(POS_INF, POS_INF, "here") is POS_INF
    assert ext_add(NEG_INF, NEG_INF, "here") is NEG_INF


@pytest.mark.parametrize(("a", "b"), [(POS_INF, NEG_INF), (NEG_INF, POS_INF)])
def test_opposite_infinities_are_undefined_and_name_the_place(a: Infinity, b: Infinity) -> None:
    with pytest.raises(UndefinedError, match="layer 2, neuron 3"):
        ext_add(a, b, "layer 2, neuron 3")


def test_zero_times_infinity_is_zero() -> None:
    for inf in (POS_INF, NEG_INF):
        assert ext_mul(Fraction(0), inf) == 0
        assert ext_mul(inf, Fraction(0)) == 0
        assert not is_infinite(ext_mul(Fraction(0), inf))


@given(nonzero)
def test_nonzero_times_infinity_follows_the_signs(a: Fraction) -> None:
    positive = a > 0
    assert ext_mul(a, POS_INF) is (POS_INF if positive else NEG_INF)
    assert ext_mul(POS_INF, a) is (POS_INF if positive else NEG_INF)
    assert ext_mul(a, NEG_INF) is (NEG_INF if positive else POS_INF)
    assert ext_mul(NEG_INF, a) is (NEG_INF if positive else POS_INF)


def test_infinity_times_infinity() -> None:
    assert ext_mul(POS_INF, POS_INF) is POS_INF
    assert ext_mul(NEG_INF, NEG_INF) is POS_INF
    assert ext_mul(POS_INF, NEG_INF) is NEG_INF


def test_relu_of_infinities() -> None:
    assert ext_relu(POS_INF) is POS_INF
    assert ext_relu(NEG_INF) == 0
    assert ext_relu(Fraction(0)) == 0


@pytest.mark.parametrize(("text", "expected"), [
    (3, Fraction(3)),
    (-12, Fraction(-12)),
    (Fraction(2, 7), Fraction(2, 7)),
    ("5", Fraction(5)),
    ("+5", Fraction(5)),
    ("-0", Fraction(0)),
    ("3/4", Fraction(3, 4)),
    ("-3/4", Fraction(-3, 4)),
    ("6/8", Fraction(3, 4)),
    ("0.1", Fraction(1, 10)),
    ("-2.50", Fraction(-5, 2)),
    (".5", Fraction(1, 2)),
    ("1e-3", Fraction(1, 1000)),
    ("2.5E2", Fraction(250)),
    # A float handed in through the API is read as its exact binary value, not as 1/10.
    (0.1, Fraction(3602879701896397, 36028797018963968)),
    (0.5, Fraction(1, 2)),
])
def test_parse_rational_accepts(text: object, expected: Fraction) -> None:
    value = parse_rational(text, "field")
    assert isinstance(value, Fraction)
    assert value == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("inf", POS_INF), ("+inf", POS_INF), ("-inf", NEG_INF), ("7/2", Fraction(7, 2)),
])
def test_parse_extended_accepts(text: str, expected: Fraction | Infinity) -> None:
    assert parse_extended(text, "field") == expected


@pytest.mark.parametrize("text", [
    True, False, None, "nan", "NaN", "1/0", "abc", "", " ", "1/2/3", "3/-4", "1 / 2", "0x10",
    "∞", float("nan"), float("inf"), float("-inf"), [1], {"p": 1},
])
def test_parse_extended_rejects_with_the_field_name(text: object) -> None:
    with pytest.raises(InputError, match=r"^layers\[0\]\.bias\[1\]: "):
        parse_extended(text, "layers[0].bias[1]")


@pytest.mark.parametrize("text", ["inf", "+inf", "-inf"])
def test_parse_rational_rejects_infinity(text: str) -> None:
    with pytest.raises(InputError, match="finite number is required"):
        parse_rational(text, "point[0]")


@pytest.mark.parametrize(("value", "text"), [
    (Fraction(3, 4), "3/4"), (Fraction(-5), "-5"), (Fraction(0), "0"),
    (POS_INF, "inf"), (NEG_INF, "-inf"),
])
def test_format_number(value: Fraction | Infinity, text: str) -> None:
    assert format_number(value) == text


@given(st.one_of(finite, st.sampled_from([POS_INF, NEG_INF])))
def test_format_then_parse_round_trips(value: Fraction | Infinity) -> None:
    assert parse_extended(format_number(value), "field") == value


# -- one number grammar, the kernel's (issue 12, item 13) -------------------------------------

# Each is refused by the kernel (kernel.parse_number gives None, and "Infinity" & co. are not
# among the kernel's three spellings of an infinity), so the package must refuse it too.
KERNEL_REFUSES = [
    "1_000", " 1/2 ", "1/2 ", "\t3", "3\n", "Infinity", "-Infinity", "+Infinity", "infinity",
    "INF", "Inf", " inf", "inf ", "- inf", "1e99999", "1e5000", "-1E-4301", "\u0661",
    "\u0663/\u0664", "\uff11", "1 / 2", "1.5/2", "1/2e3", "1e", "e3", ".", "+", "--1", "1/0",
]


@pytest.mark.parametrize("text", KERNEL_REFUSES)
def test_what_the_kernel_refuses_is_a_one_line_error_naming_the_field(text: str) -> None:
    assert kernel.parse_number(text) is None
    for parse in (parse_extended, parse_rational):
        with pytest.raises(InputError) as info:
            parse(text, "layers[0].bias[1]")
        message = str(info.value)
        assert message.startswith("layers[0].bias[1]: ") and "\n" not in message, message


@pytest.mark.parametrize("text", ["1e99999", "1e5000", "-1E-4301"])
def test_an_exponent_beyond_the_kernels_bound_says_so(text: str) -> None:
    with pytest.raises(InputError, match=rf"^field: .*exponent beyond ±{kernel.MAX_EXPONENT}"):
        parse_rational(text, "field")


@pytest.mark.parametrize("text", ["Infinity", "-Infinity", "INF", " inf"])
def test_a_misspelt_infinity_says_how_to_write_one(text: str) -> None:
    with pytest.raises(InputError, match=r'^field: .*"inf", "\+inf" or "-inf"'):
        parse_extended(text, "field")


def test_a_very_long_bad_number_gives_a_short_message() -> None:
    # 4 000 digits, not more: kernel.NUMBER takes time quadratic in the length to refuse such a
    # string (about 300 s at 100 000 digits), which only the kernel can fix.
    with pytest.raises(InputError) as info:
        parse_rational("1" * 4_000 + "_", "field")
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(("text", "expected"), [
    ("1.", Fraction(1)), ("+.5e3", Fraction(500)), ("-0.0", Fraction(0)), ("007", Fraction(7)),
    ("1E+3", Fraction(1000)), ("+1/2", Fraction(1, 2)), ("-6/8", Fraction(-3, 4)),
    ("1e4300", Fraction(10**4300)), ("1e-4300", Fraction(1, 10**4300)),
])
def test_what_the_kernel_accepts_reads_to_the_same_value(text: str, expected: Fraction) -> None:
    assert kernel.parse_number(text) == expected
    assert parse_rational(text, "field") == expected
    assert parse_extended(text, "field") == expected


def test_numbers_from_the_api_are_still_read() -> None:
    np = pytest.importorskip("numpy")
    assert parse_rational(np.int64(-3), "field") == -3
    assert parse_rational(Fraction(5, 3), "field") == Fraction(5, 3)
    assert parse_rational(0.25, "field") == Fraction(1, 4)


def _kernel_extended(text: str) -> Fraction | Infinity | None:
    """What the kernel reads for a weight or bias of a relu network (its private reader)."""
    try:
        value = kernel._number(text, "here", True)
    except kernel._Reject:
        return None
    if isinstance(value, Fraction):
        return value
    return POS_INF if value.sign > 0 else NEG_INF


# Strings made of what numbers are made of, and of what is easily confused with it.
NUMBERISH = st.text(alphabet="0123456789+-/.eE _ifnItyI\t\u0661\uff11", max_size=12)
STRINGS = st.one_of(NUMBERISH, st.from_regex(kernel.NUMBER, fullmatch=True),
                    st.sampled_from(["inf", "+inf", "-inf", *KERNEL_REFUSES]), st.text(max_size=8))


@settings(max_examples=500, deadline=None)
@given(STRINGS)
@example(" 1")
@example("1_0")
@example("Infinity")
@example("+inf")
@example("1e5000")
@example("1e" + "9" * 5000)
def test_package_and_kernel_read_the_same_strings(text: str) -> None:
    expected = kernel.parse_number(text)
    try:
        value = parse_rational(text, "field")
    except InputError as exc:
        assert expected is None, (text, exc)
        assert str(exc).startswith("field: ") and "\n" not in str(exc)
    else:
        assert expected is not None and value == expected, text
    expected_extended = _kernel_extended(text)
    try:
        extended = parse_extended(text, "field")
    except InputError:
        assert expected_extended is None, text
    else:
        assert expected_extended is not None and extended == expected_extended, text
