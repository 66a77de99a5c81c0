"""Exact piece enumeration: every piece of a network's domain with its affine map (DESIGN §3).

:func:`enumerate_pieces` streams :class:`Piece` values as the search finds them.
:class:`PieceEnumeration` is the same walk with a resumable state, which the command line saves
to a checkpoint file so an interrupted run can go on where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from fractions import Fraction

from .affine import Affine
from .cluster import check_cluster, executor_for, local_workers
from .domain import Domain, domain_dimension, domain_from_document, everywhere
from .errors import InputError
from .feasibility import Solver
from .network import Network
from .numbers import format_number, parse_rational
from .parallel import SEQUENTIAL_SECONDS, ParallelExploration, handled_leaves, piece_leaf
from .piece import Piece, counts_by_dim
from .search import OpenNode, PathRow, Search

__all__ = ["CHECKPOINT_FORMAT", "Piece", "PieceEnumeration", "counts_by_dim",
           "enumerate_pieces"]

CHECKPOINT_FORMAT = "deep2shallow-exact/checkpoint"


class PieceEnumeration:
    """The pieces of ``net`` on ``domain`` (default all of Q^n) in the given scope.

    In scope ``everywhere`` the pieces partition the domain, a closed domain's facets counting
    as walls; in scope ``open`` only the full-dimensional activation regions are found.

    With ``workers`` > 1 a run still going after ``sequential_seconds`` goes on in that many
    processes (:mod:`.parallel`); pieces then arrive in no fixed order, and a batch at a time.
    With ``cluster`` (``local:N``, or a Dask scheduler's address such as ``tcp://host:8786``;
    :mod:`.cluster`) it goes on there instead, whatever ``workers`` says: a scheduler is
    reached when the iteration starts, a local cluster is started only when the run outlasts
    ``sequential_seconds``, and either is let go when the iteration ends. The pieces are the
    same wherever they were found.
    """

    def __init__(self, net: Network, domain: Domain | None = None, scope: str = "everywhere",
                 backend: str = "auto", workers: int = 1,
                 sequential_seconds: float = SEQUENTIAL_SECONDS, record_tree: bool = False,
                 cluster: str | None = None) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InputError(f"workers: must be a positive integer, got {workers!r}")
        if cluster is not None:
            check_cluster(cluster)
        self.cluster = cluster
        self.net = net
        self.domain = domain if domain is not None else everywhere(net.input_dim)
        self.scope = scope
        self.backend = backend
        self.workers = workers
        self.sequential_seconds = sequential_seconds
        # Pieces need no certificate; with ``record_tree`` the tree is kept in the certificate
        # layout all the same (``search.tree``, piece leaves with witnesses only, at
        # ``leaf_of[k]`` for found[k]), for a proof that reuses it (construction.to_shallow).
        self.search = Search([net], self.domain, scope, Solver(backend),
                             split_domain_walls=scope == "everywhere", sign_classes=True,
                             record_tree=record_tree)
        self.found: list[Piece] = []
        self.leaf_of: list[int] = []
        self._started = False
        self._parallel: ParallelExploration | None = None

    @property
    def stats(self):
        return self.search.stats

    def regions(self) -> int:
        """How many of the pieces found are regions: of the domain's own dimension (in scope
        open every piece is one)."""
        if self.scope == "open":
            return len(self.found)
        dim = domain_dimension(self.domain, self.search.solver)
        return sum(p.dim == dim for p in self.found)

    @property
    def complete(self) -> bool:
        # Workers' nodes are counted in open_nodes, not on the stack.
        return self._started and not self.search.stack and not self.search.stats.open_nodes

    def __iter__(self) -> Iterator[Piece]:
        if not self._started:
            self.search.start()
            self._started = True
        parallel = self.workers > 1 or self.cluster is not None
        with ExitStack() as held:
            executor = None
            if self.cluster is not None and local_workers(self.cluster) is None \
                    and self.search.stack:
                # A scheduler is cheap to reach: an unreachable one is reported at once.
                executor = held.enter_context(executor_for(self.cluster))
            for index, piece in handled_leaves(self.search, piece_leaf,
                                               self.sequential_seconds if parallel else None):
                self._keep(piece, index)
                yield piece
            if parallel and self.search.stack:
                if self.cluster is not None and executor is None:
                    # Not on a thread while the search goes on here: the local cluster's
                    # scheduler runs in this process and would wait for the GIL.
                    executor = held.enter_context(executor_for(self.cluster))
                self._parallel = ParallelExploration(self.search, self.backend, self.workers,
                                                     self._keep, executor)
                try:
                    yield from self._parallel
                finally:
                    self._parallel = None

    def _keep(self, piece: Piece, index: int) -> None:
        self.found.append(piece)
        self.leaf_of.append(index)

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
                      "witness": [format_number(v) for v in w], "basis": [list(c) for c in b]}
                     for i, path, w, b in (self.search.open_nodes() if self._parallel is None
                                           else self._parallel.open_nodes())],
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
                # Only where the next LPs start: a wrong one is dropped by the simplex.
                basis = tuple((int(g), int(r), int(c)) for g, r, c in item.get("basis", ()))
                open_nodes.append((int(item["index"]), path, witness, basis))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{where}: malformed checkpoint ({exc!r})") from None
        # Only the node indices matter for a regions run; the tree itself is not kept.
        size = 1 + max((i for i, _, _, _ in open_nodes), default=0)
        self.start_from([None] * size, open_nodes)

    def start_from(self, tree: list[dict | None], open_nodes: Sequence[OpenNode]) -> None:
        """Search below ``open_nodes`` only, in a tree whose other nodes are done (written
        in ``tree``, or not kept)."""
        self.search.resume(tree, open_nodes)
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
