"""Linear pieces: activation regions merged across walls where the affine map does not change.

Two full-dimensional regions are adjacent when a wall piece of dimension one less lies in both
closures. Adjacent regions carrying the same affine map are one linear piece of the function;
the linear pieces are the classes of the transitive closure of that relation (union–find). Two
regions with one map that touch only at lower-dimensional pieces (a vertex, say) stay apart.
Every decision is exact: the pieces come from the exact enumeration, and "T lies in the closure
of S" is :func:`deep2shallow_exact.construction.pieces_above`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .affine import formula
from .construction import pieces_above
from .domain import Domain, everywhere
from .errors import InputError
from .network import Network
from .numbers import format_number
from .piece import Piece
from .regions import enumerate_pieces


@dataclass(frozen=True)
class LinearPiece:
    """The regions (indices into :attr:`Merging.regions`) joined into one piece, and its map."""

    regions: tuple[int, ...]
    A: tuple[tuple[Fraction, ...], ...]
    c: tuple[Fraction, ...]


@dataclass(frozen=True)
class Merging:
    """The activation regions of a domain and the linear pieces they form."""

    regions: tuple[Piece, ...]
    linear_pieces: tuple[LinearPiece, ...]

    def to_document(self) -> dict:
        return {"activation_regions": len(self.regions),
                "linear_pieces": len(self.linear_pieces),
                "pieces": [{"regions": [self.regions[r].signs for r in lp.regions],
                            "A": [[format_number(v) for v in row] for row in lp.A],
                            "c": [format_number(v) for v in lp.c],
                            "map": [formula(self.regions[lp.regions[0]].maps[k])
                                    for k in range(len(lp.c))]}
                           for lp in self.linear_pieces]}


def merge_regions(pieces: Sequence[Piece], domain: Domain | None = None) -> Merging:
    """Group the full-dimensional ``pieces`` into linear pieces.

    ``pieces`` must be a whole enumeration in scope "everywhere" of ``domain`` (default all of
    Q^n): the walls between regions are what shows them adjacent."""
    if not pieces:
        raise InputError("merging: no pieces given")
    top = max(p.dim for p in pieces)
    region_ids = [i for i, p in enumerate(pieces) if p.dim == top]
    walls = [i for i, p in enumerate(pieces) if p.dim == top - 1]
    if len(region_ids) > 1 and not walls:
        raise InputError("merging: the pieces have no walls; enumerate them in scope "
                         "'everywhere'")
    domain = domain if domain is not None else everywhere(len(pieces[0].witness))
    parent = {i: i for i in region_ids}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    closures = pieces_above(pieces, domain)
    for t in walls:
        around = [s for s in closures[t] if pieces[s].dim == top]
        for k, s in enumerate(around):
            for r in around[k + 1:]:
                if (pieces[s].A, pieces[s].c) == (pieces[r].A, pieces[r].c):
                    parent[root(s)] = root(r)
    position = {i: k for k, i in enumerate(region_ids)}
    classes: dict[int, list[int]] = {}
    for i in region_ids:
        classes.setdefault(root(i), []).append(position[i])
    linear = tuple(LinearPiece(tuple(members), pieces[region_ids[members[0]]].A,
                               pieces[region_ids[members[0]]].c)
                   for members in classes.values())
    return Merging(tuple(pieces[i] for i in region_ids), linear)


def linear_pieces(net: Network, domain: Domain | None = None, backend: str = "auto") -> dict:
    """Activation regions and linear pieces of ``net`` on ``domain`` as plain data."""
    pieces = list(enumerate_pieces(net, domain, "everywhere", backend))
    doc = merge_regions(pieces, domain).to_document()
    doc["domain"] = (domain or everywhere(net.input_dim)).description
    return doc


def format_merging(doc: dict) -> str:
    """The text a person reads for a document made by :func:`linear_pieces`."""
    lines = [f"on {doc['domain']}: {doc['activation_regions']} activation regions form "
             f"{doc['linear_pieces']} linear pieces"]
    for k, piece in enumerate(doc["pieces"]):
        lines.append(f"  piece {k + 1}: y = ({'; '.join(piece['map'])}) on "
                     f"{len(piece['regions'])} region(s): {', '.join(piece['regions'])}")
    return "\n".join(lines)
