"""proofs/THEOREM.md: its generated blocks are what the tool prints today, and the worked
example's numbers agree with the ones worked out by hand below."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

from deep2shallow_exact.affine import Affine
from deep2shallow_exact.construction import closure_of, distinct, terms_faces, to_shallow
from deep2shallow_exact.domain import box, everywhere
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.regions import counts_by_dim, enumerate_pieces
from deep2shallow_exact.search import primitive

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import theorem_example  # noqa: E402

F = Fraction
THEOREM = (ROOT / "proofs" / "THEOREM.md").read_text()


# -- the document cannot drift from the tool -----------------------------------------------------

def test_example_block_is_what_the_script_generates():
    assert theorem_example.block(THEOREM, "example") == theorem_example.example_markdown()


@pytest.mark.slow
def test_cost_block_is_what_the_script_generates():
    assert theorem_example.block(THEOREM, "cost") == theorem_example.cost_markdown()


# -- the example by hand -------------------------------------------------------------------------

def f(x1: Fraction, x2: Fraction) -> Fraction:
    return max(max(x1, 0) + max(x2, 0) - 1, F(0))


def sign(v: Fraction) -> str:
    return "+" if v > 0 else "-" if v < 0 else "0"


def signs_at(x1: Fraction, x2: Fraction) -> str:
    return sign(x1) + sign(x2) + sign(max(x1, 0) + max(x2, 0) - 1)


def affine(a1: int, a2: int, c: int) -> Affine:
    return Affine.of((a1, a2), c)


# The second neuron is x1 + x2 − 1 in the first quadrant, x1 − 1 for x2 < 0 < x1, x2 − 1 for
# x1 < 0 < x2 and −1 in the third: 7 regions, 9 edges, 3 vertices.
PIECES_BY_HAND = {
    "+++": 2, "++-": 2, "+-+": 2, "+--": 2, "-++": 2, "-+-": 2, "---": 2,
    "++0": 1, "+-0": 1, "+0+": 1, "+0-": 1, "-+0": 1, "-0-": 1, "0++": 1, "0+-": 1, "0--": 1,
    "+00": 0, "0+0": 0, "00-": 0,
}
# f_T on the pieces where it is not 0, and h_T = (−1)^(2 − dim T) f_T.
F_BY_HAND = {"+++": affine(1, 1, -1), "+-+": affine(1, 0, -1), "-++": affine(0, 1, -1),
             "+0+": affine(1, 0, -1), "0++": affine(0, 1, -1)}
H_BY_HAND = {"+++": affine(1, 1, -1), "+-+": affine(1, 0, -1), "-++": affine(0, 1, -1),
             "+0+": affine(-1, 0, 1), "0++": affine(0, -1, 1)}
# Regions as (closure constraints g ≥ 0, map): the closed-cells sum adds the maps of all the
# regions whose closure contains the point.
REGIONS_BY_HAND = [
    ((affine(1, 0, 0), affine(0, 1, 0), affine(1, 1, -1)), affine(1, 1, -1)),
    ((affine(1, 0, 0), affine(0, 1, 0), affine(-1, -1, 1)), affine(0, 0, 0)),
    ((affine(1, 0, -1), affine(0, -1, 0)), affine(1, 0, -1)),
    ((affine(1, 0, 0), affine(-1, 0, 1), affine(0, -1, 0)), affine(0, 0, 0)),
    ((affine(0, 1, -1), affine(-1, 0, 0)), affine(0, 1, -1)),
    ((affine(0, 1, 0), affine(0, -1, 1), affine(-1, 0, 0)), affine(0, 0, 0)),
    ((affine(-1, 0, 0), affine(0, -1, 0)), affine(0, 0, 0)),
]


@pytest.fixture(scope="module")
def pieces():
    return list(enumerate_pieces(theorem_example.example_network()))


def test_pieces_by_hand(pieces):
    assert counts_by_dim(pieces) == {0: 3, 1: 9, 2: 7}
    assert {p.signs: p.dim for p in pieces} == PIECES_BY_HAND
    assert sum((-1) ** p.dim for p in pieces) == 1
    for p in pieces:
        assert signs_at(*p.witness) == p.signs
        assert p.maps[0](p.witness) == f(*p.witness)
        assert p.maps[0] == F_BY_HAND.get(p.signs, affine(0, 0, 0))


def test_h_by_hand(pieces):
    terms = terms_faces(pieces, everywhere(2), continuous=True)
    nonzero = {t.piece.signs: t.h[0] for t in terms if not t.h[0].is_zero}
    assert nonzero == H_BY_HAND
    # The general sum at the vertex (1, 0): above it lie +++, ++-, +-+, +--, the edges
    # ++0, +-0, +0+, +0- and the vertex, and only +++ (+1), +-+ (+1) and +0+ (−1) have f ≠ 0.
    general = {t.piece.signs: t.h[0] for t in terms_faces(pieces, everywhere(2), False)}
    assert general["+00"] == affine(1, 1, -1) + affine(1, 0, -1) - affine(1, 0, -1)


def test_gate_rows_by_hand(pieces):
    (region,) = [p for p in pieces if p.signs == "+-+"]
    rows = distinct(closure_of(region))
    # cl = {x1 ≥ 0, x2 ≤ 0, x1 ≥ 1}: x1 ≥ 0 follows from x1 ≥ 1 but stays (one row per neuron,
    # so that outside cl T some single row is violated on a whole piece).
    assert set(rows.nonneg) == {affine(1, 0, 0), affine(0, -1, 0), affine(1, 0, -1)}
    assert rows.zero == ()


def test_shallow_network_by_hand():
    result = to_shallow(theorem_example.example_network(), backend="exact")
    assert result.verified and result.terms == 5
    # First layer: the closure violations and ±h of the five terms, up to a positive factor.
    first = {primitive(Affine(row, b)) for row, b in zip(result.network.layers[0].weights,
                                                         result.network.layers[0].bias)}
    assert first == {affine(-1, 0, 0), affine(0, -1, 0), affine(-1, -1, 1), affine(1, 1, -1),
                     affine(-1, 0, 1), affine(1, 0, -1), affine(0, 1, 0), affine(0, -1, 1),
                     affine(1, 0, 0), affine(0, 1, -1)}
    # Second layer: each term keeps one of p_T, q_T; for the other, ±h_T is a positive multiple
    # of a violation of cl T, so ReLU(±h_T) vanishes wherever 1_{cl T} is 1.
    assert result.network.widths == (2, 10, 5, 1)
    for x in [(F(2), F(0)), (F(1), F(0)), (F(1, 2), F(1, 2)), (F(-1), F(3)), (F(0), F(0))]:
        assert evaluate(result.network, x) == (f(*x),)


def test_closed_cells_counterexample_by_hand():
    result = to_shallow(theorem_example.example_network(), method="closed-cells",
                        backend="exact")
    assert result.verdict is not None and not result.verdict.proven
    x = result.verdict.counterexample
    assert "0" in signs_at(*x)  # on a wall
    double_count = sum((m(x) for rows, m in REGIONS_BY_HAND if all(g(x) >= 0 for g in rows)),
                       F(0))
    assert result.verdict.outputs == ((f(*x),), (double_count,))
    assert double_count != f(*x)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_sawtooth_pieces_by_hand(depth):
    # 2^L regions of [0, 1] and their 2^L + 1 endpoints.
    pieces = list(enumerate_pieces(theorem_example.sawtooth(depth), box([F(0)], [F(1)])))
    assert counts_by_dim(pieces) == {0: 2 ** depth + 1, 1: 2 ** depth}
