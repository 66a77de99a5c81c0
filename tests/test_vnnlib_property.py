"""The unsafe output set of a VNN-LIB property, read exactly (formats/vnnlib.py)."""

from __future__ import annotations

from fractions import Fraction as F
from pathlib import Path

import pytest

from deep2shallow_exact.domain import box
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.formats.vnnlib import (
    MAX_DISJUNCTS,
    OutputConstraint,
    load_vnnlib_box,
    load_vnnlib_property,
)

ACASXU = Path("/work/shared/data/acasxu")  # as in test_formats: the data no one here wrote

# A two-input box that every hand-written file below starts with.
BOX = ("(declare-const X_0 Real)\n(declare-const X_1 Real)\n"
       "(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (>= X_1 -1))\n(assert (<= X_1 1))\n")


def _c(coeffs: list[int | str], const: int | str = 0, strict: bool = False) -> OutputConstraint:
    return OutputConstraint(tuple(F(a) for a in coeffs), F(const), strict)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.vnnlib"
    path.write_text(BOX + text)
    return path


def test_acasxu_prop_1() -> None:
    # "(assert (>= Y_0 3.991125645861615))": Y_0 − 3.991125645861615 ≥ 0, the decimal exactly.
    prop = load_vnnlib_property(ACASXU / "prop_1.vnnlib", 5, 5)
    const = F(-3991125645861615, 10**15)
    assert prop.unsafe == ((OutputConstraint((F(1), F(0), F(0), F(0), F(0)), const),),)
    assert prop.outputs == 5
    assert prop.domain == load_vnnlib_box(ACASXU / "prop_1.vnnlib", 5)
    assert prop.description == "prop_1.vnnlib: 1 disjunct of 1 constraint"
    assert prop.is_unsafe([-const, F(0), F(0), F(0), F(0)])
    assert not prop.is_unsafe([-const - F(1, 10**30), F(0), F(0), F(0), F(0)])


def test_acasxu_prop_3() -> None:
    # Four top-level "(<= Y_0 Y_j)": one disjunct, Y_j − Y_0 ≥ 0 for j = 1..4 (COC minimal).
    prop = load_vnnlib_property(ACASXU / "prop_3.vnnlib", 5, 5)
    expected = tuple(_c([-1, *(1 if k == j else 0 for k in range(1, 5))]) for j in range(1, 5))
    assert prop.unsafe == (expected,)
    bounds = [("-0.303531156", "-0.298552812"), ("-0.009549297", "0.009549297"),
              ("0.493380324", "0.5"), ("0.3", "0.5"), ("0.3", "0.5")]
    assert prop.domain.inequalities == box([F(lo) for lo, _ in bounds],
                                           [F(hi) for _, hi in bounds]).inequalities
    assert prop.description == "prop_3.vnnlib: 1 disjunct of 4 constraints"


def test_vnncomp_disjunction(tmp_path: Path) -> None:
    path = _write(tmp_path, "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
                            "(assert (or (and (>= Y_0 Y_1) (<= Y_0 0.5))\n"
                            "            (and (<= Y_1 -1.25e-1))))\n")
    prop = load_vnnlib_property(path, 2, 2)
    assert prop.unsafe == ((_c([1, -1]), _c([-1, 0], "1/2")), (_c([0, -1], "-1/8"),))
    assert prop.description == "p.vnnlib: 2 disjuncts of 1 to 2 constraints"


def test_two_top_level_ors_distribute(tmp_path: Path) -> None:
    path = _write(tmp_path, "(assert (or (>= Y_0 1) (>= Y_0 2)))\n"
                            "(assert (or (<= Y_1 3) (<= Y_1 4)))\n")
    prop = load_vnnlib_property(path, 2, 2)
    a, b, c, d = _c([1, 0], -1), _c([1, 0], -2), _c([0, -1], 3), _c([0, -1], 4)
    assert prop.unsafe == ((a, c), (a, d), (b, c), (b, d))
    assert prop.description == "p.vnnlib: 4 disjuncts of 2 constraints each"


def test_top_level_and_and_strict_atoms(tmp_path: Path) -> None:
    path = _write(tmp_path, "(assert (and (< Y_0 Y_1) (> Y_0 -3)))\n(assert (= Y_1 2))\n")
    prop = load_vnnlib_property(path, 2, 2)
    assert prop.unsafe == ((_c([-1, 1], 0, True), _c([1, 0], 3, True),
                            _c([0, -1], 2), _c([0, 1], -2)),)
    assert prop.is_unsafe([F(1), F(2)])
    assert not prop.is_unsafe([F(2), F(2)])  # Y_0 < Y_1 fails on the boundary


def test_linear_expressions(tmp_path: Path) -> None:
    path = _write(tmp_path, "(assert (>= (* 2 Y_0) (- Y_0 Y_1)))\n"
                            "(assert (<= (+ Y_0 (* Y_1 -0.5) 1) (- (- Y_2) 3 1/3)))\n"
                            "(assert (>= (* 3 (+ Y_1 1) 2) (* 0 Y_0)))\n")
    prop = load_vnnlib_property(path, 2, 3)
    # 2y0 − (y0 − y1) ≥ 0;  (−y2 − 10/3) − (y0 − y1/2 + 1) ≥ 0;  6y1 + 6 ≥ 0.
    assert prop.unsafe == ((_c([1, 1, 0]), _c([-1, "1/2", -1], "-13/3"), _c([0, 6, 0], 6)),)


@pytest.mark.parametrize(("text", "m", "fragments"), [
    ("(assert (<= Y_0 X_0))", 2, ["(<= Y_0 X_0)", "mixes inputs X_i and outputs Y_j"]),
    ("(assert (or (and (<= X_0 1) (>= Y_0 2))))", 2, ["(>= Y_0 2)", "mixes"]),
    ("(assert (<= Y_7 1))", 5, ["(<= Y_7 1)", "Y_7 does not exist", "5 outputs"]),
    ("(declare-const Y_7 Real)\n(assert (<= Y_0 1))", 5, ["declares output Y_7", "5 outputs"]),
    ("(assert (>= (* Y_0 Y_1) 0))", 2, ["(* Y_0 Y_1)", "multiplies outputs together"]),
    ("(assert (>= Y_0 Z_1))", 2, ["(>= Y_0 Z_1)", "unknown variable Z_1"]),
    ("(assert (>= Y_0 1.5.2))", 2, ["(>= Y_0 1.5.2)", "'1.5.2'"]),
    ("(assert (>= (/ Y_0 2) 0))", 2, ["(/ Y_0 2)", "not a linear expression"]),
    ("(assert (not (>= Y_0 0)))", 2, ["(not (>= Y_0 0))", "not a comparison"]),
    ("(assert (<= Y_0 1 2))", 2, ["(<= Y_0 1 2)", "not a comparison"]),
    ("(assert (and))", 2, ["(and)", "mentions neither"]),
    ("(assert (and (<= Y_0 1) (or)))", 2, ["(or)", "not a comparison"]),
    ("", 2, ["states no output assertion, so there is no unsafe set to decide"]),
    ("(assert (or (<= X_0 1) (>= X_0 2)))", 2, ["(or (<= X_0 1) (>= X_0 2))",
                                                "only a single input box is supported"]),
])
def test_refusals(tmp_path: Path, text: str, m: int, fragments: list[str]) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_vnnlib_property(path, 2, m)
    message = str(info.value)
    assert message.startswith(f"{path}:")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_too_many_disjuncts(tmp_path: Path) -> None:
    # 14 two-way ors multiply out to 2**14 > MAX_DISJUNCTS disjuncts.
    assert MAX_DISJUNCTS < 2**14
    path = _write(tmp_path, "(assert (or (>= Y_0 1) (<= Y_0 0)))\n" * 14)
    with pytest.raises(InputError) as info:
        load_vnnlib_property(path, 2, 1)
    assert str(info.value).startswith(f"{path}: assertion (or (>= Y_0 1) (<= Y_0 0)):")
    assert f"more than {MAX_DISJUNCTS} disjuncts" in str(info.value)


def test_box_reader_still_ignores_outputs(tmp_path: Path) -> None:
    # load_vnnlib_box knows no m and reads no output: Y_7 and a product are not its business.
    path = _write(tmp_path, "(declare-const Y_7 Real)\n(assert (>= (* Y_0 Y_7) 0))\n")
    assert load_vnnlib_box(path, 2).inequalities == box([F(0), F(-1)], [F(1), F(1)]).inequalities
