"""Decide whether two networks agree on a whole domain, with evidence (DESIGN section 5).

One search tree runs over both networks. At a leaf both are affine maps on a nonempty piece;
they agree on it iff their difference D x + d is a combination Λ of the piece's equality rows
(the affine hull of the piece is exactly their zero set). Otherwise a point of the piece where D
does not vanish is a counterexample. Every verdict is confirmed by exact evaluation before it is
returned, and PROVEN comes with a certificate the trusted kernel re-verifies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from . import kernel
from .affine import Affine
from .domain import Domain, domain_dimension, everywhere
from .errors import InputError, KernelRejected, UndefinedError
from .evaluation import evaluate
from .feasibility import LinearSystem, Solver, Witness
from .formats import network_to_document
from .kernel import CERTIFICATE_FORMAT, CERTIFICATE_VERSION, Verdict
from .linalg import express
from .network import Network, ReluNetwork
from .numbers import Extended, Infinity, format_number
from .parallel import SEQUENTIAL_SECONDS, ParallelExploration, fork_map, handled_leaves
from .search import Leaf, NodeSigns, Search, SearchStats, piece_paths
from .symbolic import Finished

Output = tuple[Extended, ...] | str
"""A network's exact output at a point, or "undefined" (an ∞ − ∞ on the way)."""


@dataclass(frozen=True)
class CheckResult:
    """PROVEN — then ``certificate`` has passed the trusted kernel, whose verdict ``kernel``
    says what it proves — or REFUTED at ``counterexample``."""

    verdict: str  # "PROVEN" or "REFUTED"
    scope: str
    pieces_checked: int
    counterexample: tuple[Fraction, ...] | None = None
    outputs: tuple[Output, Output] | None = None
    certificate: dict | None = None
    kernel: Verdict | None = None
    stats: SearchStats | None = None

    @property
    def proven(self) -> bool:
        return self.verdict == "PROVEN"

    def to_document(self) -> dict:
        doc: dict = {"verdict": self.verdict, "scope": self.scope,
                     "pieces_checked": self.pieces_checked}
        if self.kernel is not None:
            doc["proves"] = self.kernel.claim
            doc["networks"] = list(self.kernel.networks)
        if self.counterexample is not None and self.outputs is not None:
            doc["counterexample"] = [format_number(v) for v in self.counterexample]
            doc["outputs"] = [_output_text(o) for o in self.outputs]
        if self.stats is not None:
            doc["stats"] = {"nodes": self.stats.nodes, "leaves": self.stats.leaves,
                            "empty_leaves": self.stats.empty, "lp_calls": self.stats.lp_calls}
        return doc


def _output_text(output: Output) -> str | list[str]:
    if isinstance(output, str):
        return output
    if any(isinstance(v, Infinity) for v in output):
        return "infinite"
    return [format_number(v) for v in output]


def _disagree(first: Output, second: Output) -> bool:
    return any(isinstance(o, str) or any(isinstance(v, Infinity) for v in o)
               for o in (first, second)) or first != second


def exact_output(net: Network, x: Sequence[Fraction]) -> Output:
    try:
        return evaluate(net, x)
    except UndefinedError:
        return "undefined"


class Refuted(Exception):
    """Internal: stops the walk at the first confirmed counterexample."""

    def __init__(self, point: tuple[Fraction, ...]) -> None:
        super().__init__(point)  # args, so that it pickles: a worker process raises it too
        self.point = point


def continuous_pair(a: Network, b: Network) -> bool:
    """Whether both are finite ReLU networks: continuous, so a proof on the open regions of
    a full-dimensional domain proves equality on all of it (DESIGN section 5)."""
    return all(_continuous(net) for net in (a, b))


def open_scope_suffices(networks: Sequence[Network], domain: Domain, solver: Solver) -> bool:
    """Whether scope open proves a statement about every point of ``domain``: the networks
    are finite ReLU networks (continuous) and the domain has interior points."""
    return all(_continuous(net) for net in networks) and not domain.equalities and \
        domain_dimension(domain, solver) == domain.dim


def _continuous(net: Network) -> bool:
    return isinstance(net, ReluNetwork) and not net.is_extended


def check(a: Network, b: Network, domain: Domain | None = None, scope: str = "auto",
          backend: str = "auto",
          progress: Callable[[SearchStats], None] | None = None,
          workers: int = 1) -> CheckResult:
    """PROVEN (with a certificate the trusted kernel has accepted) iff ``a`` and ``b`` agree at
    every point of ``domain`` (scope ``everywhere``, or ``open`` for two finite ReLU networks,
    which are continuous) or off the walls of the search (scope ``open`` otherwise); else
    REFUTED at a rational point where their exact outputs differ or one is undefined or
    infinite. Scope ``auto`` is ``open`` where that proves equality everywhere (two finite
    ReLU networks, a domain with interior points), else ``everywhere``. ``workers`` processes
    share the search (after its first SEQUENTIAL_SECONDS) and the kernel's re-verification."""
    if a.input_dim != b.input_dim:
        raise InputError(f"the networks take {a.input_dim} and {b.input_dim} inputs")
    if a.output_dim != b.output_dim:
        raise InputError(f"the networks have {a.output_dim} and {b.output_dim} outputs")
    domain = domain if domain is not None else everywhere(a.input_dim)
    solver = Solver(backend)
    if scope == "auto":
        scope = "open" if open_scope_suffices((a, b), domain, solver) else "everywhere"
    search = Search([a, b], domain, scope, solver)
    search.start()
    try:
        for _ in handled_leaves(search, check_leaf, SEQUENTIAL_SECONDS if workers > 1 else None):
            if progress is not None:
                progress(search.stats)
        if search.stack:
            for _ in ParallelExploration(search, backend, workers, lambda _item, _index: None,
                                         handle=check_leaf):
                if progress is not None:
                    progress(search.stats)
    except Refuted as refuted:
        outputs = (exact_output(a, refuted.point), exact_output(b, refuted.point))
        if not _disagree(*outputs):
            raise AssertionError(
                f"counterexample {refuted.point} not confirmed by evaluation") from None
        return CheckResult("REFUTED", scope, search.stats.leaves, refuted.point, outputs,
                           stats=search.stats)
    certificate = {
        "format": CERTIFICATE_FORMAT, "version": CERTIFICATE_VERSION,
        "networks": [network_to_document(a), network_to_document(b)],
        "domain": domain.to_document(), "scope": scope, "tree": search.tree,
    }
    verdict = kernel.verify(certificate, workers=workers)
    if not verdict.valid:
        raise KernelRejected(f"internal error: the trusted kernel rejects the certificate the "
                             f"checker wrote, at {verdict.path or 'the top'}: {verdict.reason}")
    return CheckResult("PROVEN", scope, search.stats.leaves, certificate=certificate,
                       kernel=verdict, stats=search.stats)


def prove_on_tree(a: Network, b: Network, domain: Domain, tree: list[dict | None],
                  maps_at: Callable[[int, NodeSigns],
                                    tuple[Sequence[Affine], Sequence[Affine]] | None],
                  workers: int = 1) -> CheckResult | None:
    """PROVEN on a tree made already — by the enumeration of ``a``'s pieces, say, whose piece
    leaves hold their witnesses — if the kernel accepts it: its splits and empty leaves are
    taken as they are, and every piece leaf gets the λ of the affine maps that ``maps_at``
    says the two networks are there (by the leaf's index, from the signs its path gives).
    Scope everywhere. None where that does not do — no maps, or maps that differ on a piece,
    or a certificate the kernel does not accept — and a search must decide instead."""
    tree = list(tree)
    found = list(piece_paths(tree, domain))

    def lambdas_at(k: int) -> list[list[str]] | None:
        index, path, signs = found[k]
        assert signs is not None
        maps = maps_at(index, signs)
        if maps is None or any(isinstance(v, Infinity) for m in maps for v in m):
            return None
        equalities = (*domain.equalities, *(r.function for r in path if r.side == "0"))
        lambdas = []
        for first, second in zip(*maps):
            combination = express(first - second, equalities)
            if combination is None:
                return None
            lambdas.append([format_number(v) for v in combination])
        return lambdas

    for (index, _, _), lambdas in zip(found, fork_map(lambdas_at, len(found), workers)):
        if lambdas is None:
            return None
        entry = tree[index]
        assert entry is not None
        tree[index] = {"piece": {"witness": entry["piece"]["witness"], "lambda": lambdas}}
    leaves = len(found)
    certificate = {
        "format": CERTIFICATE_FORMAT, "version": CERTIFICATE_VERSION,
        "networks": [network_to_document(a), network_to_document(b)],
        "domain": domain.to_document(), "scope": "everywhere", "tree": tree,
    }
    verdict = kernel.verify(certificate, workers=workers)
    if not verdict.valid:
        return None
    return CheckResult("PROVEN", "everywhere", leaves, certificate=certificate, kernel=verdict)


def check_leaf(leaf: Leaf, search: Search) -> tuple[bool, dict | None]:
    """A check's leaf handler (:mod:`.parallel`): (True, the leaf's certificate entry; None if
    the leaf had to be split once more); Refuted where the networks differ on it."""
    return True, _piece_entry(leaf, search, search.networks[0].output_dim)


def _piece_entry(leaf: Leaf, search: Search, outputs: int) -> dict | None:
    """The certificate entry of a leaf; None if the leaf had to be split once more."""
    if len(leaf.outcomes) != 2 or any(
            isinstance(v, Infinity) for o in leaf.outcomes
            if isinstance(o, Finished) for v in o.outputs):
        raise Refuted(leaf.witness)  # undefined or infinite on the whole piece
    first, second = leaf.outcomes
    assert isinstance(first, Finished) and isinstance(second, Finished)
    lambdas = []
    for k in range(outputs):
        difference = first.outputs[k] - second.outputs[k]
        combination = express(difference, leaf.equalities)
        if combination is None:
            point = _point_where_nonzero(leaf, difference, search)
            if point is None:
                # D vanishes on the piece through an equality the rows only imply (a flat box
                # side, say): split on D, whose "0" side then states it.
                search.refine(leaf, difference)
                return None
            raise Refuted(point)
        lambdas.append([format_number(v) for v in combination])
    return {"piece": {"witness": [format_number(v) for v in leaf.witness], "lambda": lambdas}}


def _point_where_nonzero(leaf: Leaf, difference: Affine,
                         search: Search) -> tuple[Fraction, ...] | None:
    if difference(leaf.witness) != 0:
        return leaf.witness
    piece = search.system(leaf.path)
    for side in (difference, -difference):
        system = LinearSystem(piece.dim, (*piece.strict, side), piece.nonstrict, piece.equal)
        answer = search.solver.solve(system)
        if isinstance(answer, Witness):
            return answer.point
    return None
