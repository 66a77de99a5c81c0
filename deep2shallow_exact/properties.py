"""Decide a VNN-LIB property exactly: does any input of the box reach the unsafe set?

The network's pieces on the box are enumerated (DESIGN section 3); on each the network is an
affine map Y, and for each disjunct of the unsafe set one exact LP decides whether a point of
the piece — of its closure in scope open, where Y still equals the network by continuity —
has Y(x) in the disjunct. A point that does is a counterexample, confirmed by exact evaluation;
otherwise the LP's Motzkin multipliers go into a property certificate (proofs/CERTIFICATE.md
section 10), which the trusted kernel re-verifies before "holds" is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from . import kernel
from .affine import Affine
from .domain import Domain, domain_dimension
from .errors import InputError, KernelRejected
from .evaluation import evaluate
from .feasibility import Emptiness, LinearSystem, Solver, Witness
from .formats import network_to_document
from .formats.vnnlib import OutputConstraint, VnnlibProperty
from .kernel import CERTIFICATE_FORMAT, CERTIFICATE_VERSION, Verdict
from .network import Network, ReluNetwork
from .numbers import Infinity, format_number
from .piece import Piece
from .regions import PieceEnumeration
from .search import PathRow, SearchStats

_ZERO = Fraction(0)
_ONE = Fraction(1)


@dataclass(frozen=True)
class PropertyResult:
    """``holds`` — then ``certificate`` has passed the trusted kernel, whose verdict ``kernel``
    says what it proves — or ``violated`` at ``counterexample``, where the network's exact
    output ``outputs`` meets disjunct ``disjunct`` of the unsafe set."""

    verdict: str  # "holds", "violated", or "undecided" (interrupted)
    scope: str
    pieces_checked: int
    lp_calls: int
    counterexample: tuple[Fraction, ...] | None = None
    outputs: tuple[Fraction, ...] | None = None
    disjunct: int | None = None
    certificate: dict | None = None
    kernel: Verdict | None = None
    stats: SearchStats | None = None

    @property
    def holds(self) -> bool:
        return self.verdict == "holds"

    def to_document(self) -> dict:
        doc: dict = {"verdict": self.verdict, "scope": self.scope,
                     "pieces_checked": self.pieces_checked, "lp_calls": self.lp_calls}
        if self.kernel is not None:
            doc["proves"] = self.kernel.claim
            doc["networks"] = list(self.kernel.networks)
        if self.counterexample is not None and self.outputs is not None:
            doc["counterexample"] = [format_number(v) for v in self.counterexample]
            doc["outputs"] = [format_number(v) for v in self.outputs]
            doc["disjunct"] = self.disjunct
        if self.stats is not None:
            doc["stats"] = {"nodes": self.stats.nodes, "splits": self.stats.splits,
                            "search_lp_calls": self.stats.lp_calls,
                            "bound_fixed": self.stats.bound_fixed}
        if self.certificate is not None:
            doc["certificate_nodes"] = len(self.certificate["tree"])
        return doc


def property_scope(net: Network, domain: Domain, solver: Solver) -> str:
    """``open`` where continuity makes the open regions enough (a finite ReLU network on a
    full-dimensional box), else ``everywhere``."""
    finite = isinstance(net, ReluNetwork) and not net.is_extended
    return "open" if finite and not domain.equalities and \
        domain_dimension(domain, solver) == domain.dim else "everywhere"


def decide_property(net: Network, prop: VnnlibProperty, backend: str = "auto",
                    workers: int = 1, cluster: str | None = None,
                    progress: Callable[[int, PieceEnumeration], None] | None = None
                    ) -> PropertyResult:
    """``holds`` (with a certificate the trusted kernel has accepted) iff no point of the
    property's box has its network output in the unsafe set; else ``violated`` at an exact
    rational counterexample. The first counterexample found ends the run."""
    if prop.outputs != net.output_dim:
        raise InputError(f"the property is about {prop.outputs} outputs, the network has "
                         f"{net.output_dim}")
    domain = prop.domain
    solver = Solver(backend)
    scope = property_scope(net, domain, solver)
    job = PieceEnumeration(net, domain, scope, backend, workers, record_tree=True,
                           cluster=cluster)
    proofs: dict[int, list[Emptiness]] = {}
    lp_calls = 0
    try:
        for count, piece in enumerate(job, 1):
            # The piece's leaf: pieces are kept with their leaves just before they are handed on.
            assert job.found[count - 1] is piece
            found: list[Emptiness] = []
            for d, disjunct in enumerate(prop.unsafe):
                answer = _box_proof(piece, disjunct, domain, scope)
                if answer is None:
                    lp_calls += 1
                    answer = solver.solve(_system(piece, disjunct, domain, scope))
                if isinstance(answer, Witness):
                    return _violated(net, prop, answer.point, d, scope, count, lp_calls, job)
                found.append(answer)
            proofs[job.leaf_of[count - 1]] = found
            if progress is not None:
                progress(count, job)
    except KeyboardInterrupt:
        # Ctrl-C (or SIGTERM): neither answer is established; say how far the search got.
        return PropertyResult("undecided", scope, len(proofs), lp_calls, stats=job.stats)
    certificate = {
        "format": CERTIFICATE_FORMAT, "version": CERTIFICATE_VERSION, "claim": "property",
        "networks": [network_to_document(net)], "domain": domain.to_document(),
        "scope": scope, "unsafe": [_disjunct_document(d) for d in prop.unsafe],
        "tree": _certificate_tree(job.search.tree, proofs, domain, scope),
    }
    verdict = kernel.verify(certificate, workers=workers)
    if not verdict.valid:
        raise KernelRejected(f"internal error: the trusted kernel rejects the property "
                             f"certificate, at {verdict.path or 'the top'}: {verdict.reason}")
    return PropertyResult("holds", scope, len(proofs), lp_calls, certificate=certificate,
                          kernel=verdict, stats=job.stats)


def _violated(net: Network, prop: VnnlibProperty, point: tuple[Fraction, ...], d: int,
              scope: str, count: int, lp_calls: int, job: PieceEnumeration) -> PropertyResult:
    """The LP's point, confirmed by exact evaluation (a mismatch is a bug, never an answer)."""
    outputs = evaluate(net, point)
    if not prop.domain.contains(point) or any(isinstance(v, Infinity) for v in outputs) or \
            not all(c.holds(outputs) for c in prop.unsafe[d]):  # type: ignore[arg-type]
        raise AssertionError(f"internal error: counterexample {point} not confirmed by "
                             "exact evaluation")
    return PropertyResult("violated", scope, count, lp_calls, point,
                          tuple(outputs), d, stats=job.stats)  # type: ignore[arg-type]


def _in_x(c: OutputConstraint, maps: Sequence[Affine], n: int) -> Affine:
    """c·Y(x) + d as a function of x."""
    coeffs = [_ZERO] * n
    const = c.const
    for ck, f in zip(c.coeffs, maps):
        if ck:
            const += ck * f.const
            for i, a in enumerate(f.coeffs):
                coeffs[i] += ck * a
    return Affine(tuple(coeffs), const)


def _system(piece: Piece, disjunct: Sequence[OutputConstraint], domain: Domain,
            scope: str) -> LinearSystem:
    """The piece (its closure in scope open) with the disjunct's constraints on Y(x). Rows
    are in the order :func:`_multipliers` expects."""
    maps = piece.maps
    unsafe_strict = tuple(_in_x(c, maps, domain.dim) for c in disjunct if c.strict)
    unsafe_nonstrict = tuple(_in_x(c, maps, domain.dim) for c in disjunct if not c.strict)
    if scope == "open":
        return LinearSystem(domain.dim, unsafe_strict,
                            (*domain.inequalities, *piece.strict, *unsafe_nonstrict),
                            piece.equal)
    return LinearSystem(domain.dim, (*piece.strict, *unsafe_strict),
                        (*domain.inequalities, *unsafe_nonstrict), piece.equal)


def _box_proof(piece: Piece, disjunct: Sequence[OutputConstraint], domain: Domain,
               scope: str) -> Emptiness | None:
    """Without an LP, where the box alone rules the disjunct out on the piece: one of its rows
    u(x) = c·Y(x) + d has max u < 0 over the domain's box (≤ 0 for a strict row). Then u plus
    the box rows x_i − lo_i ≥ 0 and hi_i − x_i ≥ 0, weighted by |u_i|, is the constant max u:
    a Motzkin certificate in the system's own row order, every path row weighted 0."""
    rows = domain.bounds.rows
    if rows is None:
        return None
    n = domain.dim
    maps = piece.maps
    nonstrict = [c for c in disjunct if not c.strict]
    strict = [c for c in disjunct if c.strict]
    for group, members in ((1, nonstrict), (0, strict)):
        for k, c in enumerate(members):
            u = _in_x(c, maps, n)
            weights: dict[int, Fraction] = {}
            top = u.const
            for i, a in enumerate(u.coeffs):
                if a:
                    # The row a_r·x_i + c_r ≥ 0 that bounds x_i on the side a pushes u to.
                    r = rows[i][1 if a > 0 else 0]
                    g = domain.inequalities[r]
                    bound = -g.const / g.coeffs[i]
                    weights[r] = weights.get(r, _ZERO) + abs(a / g.coeffs[i])
                    top += a * bound
            if top < 0 or (top == 0 and group == 0):
                return _emptiness(piece, domain, scope, len(nonstrict), len(strict), weights,
                                  group, k)
    return None


def _emptiness(piece: Piece, domain: Domain, scope: str, nonstrict: int, strict: int,
               weights: dict[int, Fraction], group: int, k: int) -> Emptiness:
    """The box proof laid out as :func:`_system` orders the rows."""
    ineqs, path = len(domain.inequalities), len(piece.strict)
    box = [weights.get(r, _ZERO) for r in range(ineqs)]
    unsafe_nonstrict = [_ONE if group == 1 and j == k else _ZERO for j in range(nonstrict)]
    unsafe_strict = [_ONE if group == 0 and j == k else _ZERO for j in range(strict)]
    equal = (_ZERO,) * len(piece.equal)
    if scope == "open":
        return Emptiness(tuple(unsafe_strict), (*box, *(_ZERO,) * path, *unsafe_nonstrict),
                         equal)
    return Emptiness((*(_ZERO,) * path, *unsafe_strict), (*box, *unsafe_nonstrict), equal)


def _multipliers(proof: Emptiness, path: Sequence[PathRow], domain: Domain,
                 scope: str) -> list[Fraction]:
    """The LP's multipliers in the certificate's row order: domain inequalities, domain
    equalities, one per path row (root first), then the disjunct's nonstrict and strict rows."""
    ineqs, eqs = len(domain.inequalities), len(domain.equalities)
    strict_rows = sum(r.side != "0" for r in path)
    if scope == "open":
        path_strict = list(proof.nonstrict[ineqs:ineqs + strict_rows])
        unsafe_nonstrict = proof.nonstrict[ineqs + strict_rows:]
        unsafe_strict = proof.strict
    else:
        path_strict = list(proof.strict[:strict_rows])
        unsafe_nonstrict = proof.nonstrict[ineqs:]
        unsafe_strict = proof.strict[strict_rows:]
    strict, zeros = iter(path_strict), iter(proof.equal[eqs:])
    return [*proof.nonstrict[:ineqs], *proof.equal[:eqs],
            *(next(zeros) if r.side == "0" else next(strict) for r in path),
            *unsafe_nonstrict, *unsafe_strict]


def _certificate_tree(tree: list[dict | None], proofs: dict[int, list[Emptiness]],
                      domain: Domain, scope: str) -> list[dict | None]:
    """The enumeration's tree with each piece leaf's multipliers, one list per disjunct."""
    tree = list(tree)
    stack: list[tuple[int, tuple[PathRow, ...]]] = [(0, ())]
    while stack:
        index, path = stack.pop()
        entry = tree[index]
        if entry is None or "empty" in entry:
            continue
        if "split" in entry:
            phi = Affine.from_row(entry["split"], "tree")
            stack.extend((child, (*path, PathRow(phi, side)))
                         for side, child in entry["children"].items())
            continue
        tree[index] = {"piece": {
            "witness": entry["piece"]["witness"],
            "unsafe": [[format_number(m) for m in _multipliers(p, path, domain, scope)]
                       for p in proofs[index]]}}
    return tree


def _disjunct_document(disjunct: Sequence[OutputConstraint]) -> dict:
    def rows(strict: bool) -> list[list[str]]:
        return [[*(format_number(a) for a in c.coeffs), format_number(c.const)]
                for c in disjunct if c.strict == strict]
    return {"nonstrict": rows(False), "strict": rows(True)}
