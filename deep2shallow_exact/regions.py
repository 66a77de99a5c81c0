"""Exact piece enumeration: every piece of a network's domain with its affine map (DESIGN §3).

:func:`enumerate_pieces` streams :class:`Piece` values as the search finds them.
:class:`PieceEnumeration` is the same walk with a resumable state, which the command line saves
to a checkpoint file so an interrupted run can go on where it stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

from .affine import Affine
from .domain import Domain, domain_from_document, everywhere
from .errors import InputError
from .feasibility import Solver
from .network import Network
from .numbers import Infinity, format_number, parse_rational
from .search import SIGN_TEXT, PathRow, Search
from .symbolic import Finished

CHECKPOINT_FORMAT = "deep2shallow-exact/checkpoint"


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


class PieceEnumeration:
    """The pieces of ``net`` on ``domain`` (default all of Q^n) in the given scope.

    In scope ``everywhere`` the pieces partition the domain, a closed domain's facets counting
    as walls; in scope ``open`` only the full-dimensional activation regions are found.
    """

    def __init__(self, net: Network, domain: Domain | None = None, scope: str = "everywhere",
                 backend: str = "auto") -> None:
        self.net = net
        self.domain = domain if domain is not None else everywhere(net.input_dim)
        self.scope = scope
        # Pieces need no certificate, so the tree is not kept.
        self.search = Search([net], self.domain, scope, Solver(backend),
                             split_domain_walls=scope == "everywhere", record_tree=False)
        self.found: list[Piece] = []
        self._started = False

    @property
    def stats(self):
        return self.search.stats

    @property
    def complete(self) -> bool:
        return self._started and not self.search.stack

    def __iter__(self) -> Iterator[Piece]:
        if not self._started:
            self.search.start()
            self._started = True
        for leaf in self.search.leaves():
            (outcome,) = leaf.outcomes
            if not isinstance(outcome, Finished) or any(
                    isinstance(v, Infinity) for v in outcome.outputs):
                what = "undefined (∞ − ∞)" if not isinstance(outcome, Finished) else "infinite"
                point = ", ".join(format_number(v) for v in leaf.witness)
                raise InputError(f"the network is {what} on a whole piece, e.g. at x = "
                                 f"({point}); pieces need finite affine maps")
            piece = Piece(
                dim=leaf.dim,
                signs="".join(SIGN_TEXT[s] for layer in outcome.signs for s in layer),
                witness=leaf.witness,
                A=tuple(f.coeffs for f in outcome.outputs),
                c=tuple(f.const for f in outcome.outputs),
                # An implied row changes neither the piece nor its closure.
                strict=tuple(r.asserted for r in leaf.path if r.side != "0" and not r.implied),
                equal=leaf.equalities,
            )
            self.found.append(piece)
            yield piece

    # -- checkpoints ---------------------------------------------------------------------------

    def checkpoint(self, network_document: dict) -> dict:
        """Everything needed to go on later: the pieces so far and the unexplored nodes."""
        return {
            "format": CHECKPOINT_FORMAT, "version": 1, "command": "regions",
            "network": network_document, "domain": self.domain.to_document(),
            "scope": self.scope, "complete": self.complete,
            "pieces": [_piece_state(p) for p in self.found],
            "open": [{"index": i,
                      "path": [r.function.to_row() + [r.side, r.implied] for r in path],
                      "witness": [format_number(v) for v in w]}
                     for i, path, w in self.search.open_nodes()],
        }

    def restore(self, doc: dict, where: str) -> None:
        """Continue from a checkpoint made by :meth:`checkpoint` for the same job."""
        try:
            if doc.get("scope") != self.scope:
                raise InputError(f"{where}: checkpoint was made with scope {doc.get('scope')!r}")
            saved = domain_from_document(doc["domain"], where)
            if (saved.dim, saved.inequalities, saved.equalities) != (
                    self.domain.dim, self.domain.inequalities, self.domain.equalities):
                raise InputError(f"{where}: checkpoint was made for a different domain")
            n = self.net.input_dim
            self.found = [_piece_from_state(p, n, where) for p in doc["pieces"]]
            open_nodes = []
            for item in doc["open"]:
                path = tuple(PathRow(Affine.from_row(r[:-2], where), r[-2], r[-1] is True)
                             for r in item["path"])
                witness = tuple(parse_rational(v, where) for v in item["witness"])
                open_nodes.append((int(item["index"]), path, witness))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{where}: malformed checkpoint ({exc!r})") from None
        # Only the node indices matter for a regions run; the tree itself is not kept.
        size = 1 + max((i for i, _, _ in open_nodes), default=0)
        self.search.resume([None] * size, open_nodes)
        self._started = True


def _piece_state(p: Piece) -> dict:
    doc = p.to_document()
    doc["strict"] = [f.to_row() for f in p.strict]
    doc["equal"] = [f.to_row() for f in p.equal]
    return doc


def _piece_from_state(doc: dict, n: int, where: str) -> Piece:
    def numbers(values: list) -> tuple[Fraction, ...]:
        return tuple(parse_rational(v, where) for v in values)
    return Piece(int(doc["dim"]), str(doc["signs"]), numbers(doc["witness"]),
                 tuple(numbers(r) for r in doc["A"]), numbers(doc["c"]),
                 tuple(Affine.from_row(r, where) for r in doc["strict"]),
                 tuple(Affine.from_row(r, where) for r in doc["equal"]))


def enumerate_pieces(net: Network, domain: Domain | None = None, scope: str = "everywhere",
                     backend: str = "auto") -> Iterator[Piece]:
    """Stream the pieces of ``net`` on ``domain``; see :class:`PieceEnumeration`."""
    return iter(PieceEnumeration(net, domain, scope, backend))
