"""A piece of a network's input domain: where its sign vector, and so its affine map, is
constant (DESIGN §3), as found at a leaf of the search."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from .affine import Affine
from .errors import InputError
from .numbers import Infinity, format_number
from .search import SIGN_TEXT, Leaf
from .symbolic import Finished


@dataclass(frozen=True)
class Piece:
    """A nonempty relatively open polyhedron {strict > 0, equal = 0} on which the network is
    x ↦ A x + c. ``signs`` has one of + − 0 per gate-deciding neuron, layers in order."""

    dim: int
    signs: str
    witness: tuple[Fraction, ...]
    A: tuple[tuple[Fraction, ...], ...]
    c: tuple[Fraction, ...]
    strict: tuple[Affine, ...]
    equal: tuple[Affine, ...]

    @property
    def maps(self) -> tuple[Affine, ...]:
        return tuple(Affine(row, c) for row, c in zip(self.A, self.c))

    def to_document(self) -> dict:
        return {"dim": self.dim, "signs": self.signs,
                "witness": [format_number(v) for v in self.witness],
                "A": [[format_number(v) for v in row] for row in self.A],
                "c": [format_number(v) for v in self.c]}


def counts_by_dim(pieces: Iterable[Piece]) -> dict[int, int]:
    return dict(sorted(Counter(p.dim for p in pieces).items()))


def piece_of_leaf(leaf: Leaf) -> Piece:
    """The piece a leaf of a one-network search stands for; pieces need finite affine maps."""
    (outcome,) = leaf.outcomes
    if not isinstance(outcome, Finished) or any(
            isinstance(v, Infinity) for v in outcome.outputs):
        what = "undefined (∞ − ∞)" if not isinstance(outcome, Finished) else "infinite"
        point = ", ".join(format_number(v) for v in leaf.witness)
        raise InputError(f"the network is {what} on a whole piece, e.g. at x = "
                         f"({point}); pieces need finite affine maps")
    return Piece(
        dim=leaf.dim,
        signs="".join(SIGN_TEXT[s] for layer in outcome.signs for s in layer),
        witness=leaf.witness,
        A=tuple(f.coeffs for f in outcome.outputs),
        c=tuple(f.const for f in outcome.outputs),
        # An implied row changes neither the piece nor its closure.
        strict=tuple(r.asserted for r in leaf.path if r.side != "0"),
        equal=leaf.equalities,
    )
