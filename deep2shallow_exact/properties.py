"""Decide a VNN-LIB property exactly: does any input of the box reach the unsafe set?

The network's pieces on the box are enumerated (DESIGN section 3); on each the network is an
affine map Y, and for each disjunct of the unsafe set one exact LP decides whether a point of
the piece — of its closure in scope open, where Y still equals the network by continuity —
has Y(x) in the disjunct. A point that does is a counterexample, confirmed by exact evaluation;
otherwise the LP's Motzkin multipliers go into a property certificate (proofs/CERTIFICATE.md
section 10), which the trusted kernel re-verifies before "holds" is returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from . import kernel
from .affine import Affine, combination
from .bisection import BisectionInterrupted, BoxStats, bisect_boxes
from .checker import open_scope_suffices
from .domain import Domain
from .errors import InputError, KernelRejected, read_text
from .evaluation import evaluate
from .feasibility import Emptiness, LinearSystem, Solver, Witness
from .formats import network_to_document, parse_json_text, write_json_atomically
from .formats.vnnlib import OutputConstraint, VnnlibProperty
from .kernel import CERTIFICATE_FORMAT, CERTIFICATE_VERSION, Verdict
from .network import Network
from .numbers import Infinity, format_number, parse_rational
from .piece import Piece
from .regions import PieceEnumeration
from .search import PathRow, SearchStats, piece_paths

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
    boxes: BoxStats | None = None  # the bisection's, where the box was bisected first

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
        if self.boxes is not None:
            doc["bisection"] = {"boxes": self.boxes.boxes,
                                "bound_leaves": self.boxes.bound_leaves,
                                "handed_over": self.boxes.handed_over,
                                "seconds": round(self.boxes.seconds, 3)}
        if self.certificate is not None:
            doc["certificate_nodes"] = len(self.certificate["tree"])
        return doc


def property_scope(net: Network, domain: Domain, solver: Solver) -> str:
    """``open`` where continuity makes the open regions enough (a finite ReLU network on a
    full-dimensional box), else ``everywhere``."""
    return "open" if open_scope_suffices((net,), domain, solver) else "everywhere"


def decide_property(net: Network, prop: VnnlibProperty, backend: str = "auto",
                    workers: int = 1, cluster: str | None = None,
                    progress: Callable[[int, PieceEnumeration], None] | None = None,
                    checkpoint: str | Path | None = None,
                    box_progress: Callable[[BoxStats], None] | None = None,
                    bisect: bool = True,
                    kernel_progress: Callable[[int, int], None] | None = None
                    ) -> PropertyResult:
    """``holds`` (with a certificate the trusted kernel has accepted) iff no point of the
    property's box has its network output in the unsafe set; else ``violated`` at an exact
    rational counterexample. The first counterexample found ends the run; Ctrl-C (or
    SIGTERM) ends it ``undecided``. With ``checkpoint`` the run resumes from that file if it
    exists, and saves its progress there every half minute and when it is interrupted.

    A finite ReLU network on a bounded box is first bisected (:mod:`.bisection`): the boxes
    its affine bounds close become bound leaves, and only the rest are enumerated piece by
    piece (``box_progress`` reports the bisection as it goes); ``bisect=False`` enumerates
    the pieces of the whole box instead. ``kernel_progress`` reports the kernel's check of the
    certificate (nodes checked, nodes); Ctrl-C there ends the run ``undecided`` too, with the
    finished search saved to ``checkpoint``, so that a resumed run only checks."""
    if prop.outputs != net.output_dim:
        raise InputError(f"the property is about {prop.outputs} outputs, the network has "
                         f"{net.output_dim}")
    domain = prop.domain
    solver = Solver(backend)
    scope = property_scope(net, domain, solver)
    job = PieceEnumeration(net, domain, scope, backend, workers, record_tree=True,
                           cluster=cluster)
    run = _Run(net, prop, scope, job, solver)
    if checkpoint is not None and Path(checkpoint).exists():
        run.restore(str(checkpoint))
    elif bisect and scope == "open" and domain.bounds.bounded:
        try:
            top = bisect_boxes(net, prop, box_progress)
        except BisectionInterrupted as stop:
            # What the bisection closed is kept; the pieces of the rest are for a later run.
            job.start_from(stop.result.tree, stop.result.open_nodes)
            run.boxes = stop.result.stats
            if checkpoint is not None:
                write_json_atomically(run.checkpoint(), checkpoint)
            return PropertyResult("undecided", scope, 0, 0, stats=job.stats,
                                  boxes=stop.result.stats)
        run.boxes = top.stats
        if top.counterexample is not None:
            point, d = top.counterexample
            return _violated(net, prop, point, d, scope, 0, run.lp_calls, job, top.stats)
        job.start_from(top.tree, top.open_nodes)
    saved = time.monotonic()
    try:
        for _ in job:
            # Every piece kept so far, the one just handed on included, gets its proofs.
            violation = run.check_pending()
            if violation is not None:
                return violation
            if progress is not None:
                progress(len(job.found), job)
            if checkpoint is not None and time.monotonic() - saved > CHECKPOINT_SECONDS:
                write_json_atomically(run.checkpoint(), checkpoint)
                saved = time.monotonic()
    except KeyboardInterrupt:
        # Neither answer is established; the pieces found are checked and kept, and the search
        # can go on from the checkpoint.
        try:
            violation = run.check_pending()
        except KeyboardInterrupt:
            violation = None
        if violation is not None:
            return violation
        if checkpoint is not None and not run.pending():
            write_json_atomically(run.checkpoint(), checkpoint)
        return PropertyResult("undecided", scope, len(run.proofs), run.lp_calls,
                              stats=job.stats, boxes=run.boxes)
    certificate = {
        "format": CERTIFICATE_FORMAT, "version": CERTIFICATE_VERSION, "claim": "property",
        "networks": [network_to_document(net)], "domain": domain.to_document(),
        "scope": scope, "unsafe": [_disjunct_document(d) for d in prop.unsafe],
        "tree": _certificate_tree(job.search.tree, run.proofs, domain, scope),
    }
    if checkpoint is not None:
        write_json_atomically(run.checkpoint(), checkpoint)
    try:
        verdict = kernel.verify(certificate, workers=workers, progress=kernel_progress)
    except KeyboardInterrupt:
        return PropertyResult("undecided", scope, len(run.proofs), run.lp_calls,
                              stats=job.stats, boxes=run.boxes)
    if not verdict.valid:
        raise KernelRejected(f"internal error: the trusted kernel rejects the property "
                             f"certificate, at {verdict.path or 'the top'}: {verdict.reason}")
    return PropertyResult("holds", scope, len(run.proofs), run.lp_calls,
                          certificate=certificate, kernel=verdict, stats=job.stats,
                          boxes=run.boxes)


# How often a run with a checkpoint saves it.
CHECKPOINT_SECONDS = 30.0


class _Run:
    """A property's search in progress: the proofs of the pieces checked (by leaf index), and
    how they are saved and restored. ``job.found[base + i]`` is the piece at leaf
    ``job.leaf_of[i]`` (a restored job would hold the pieces found before, ``base`` of them;
    checkpoints keep their proofs, not the pieces)."""

    def __init__(self, net: Network, prop: VnnlibProperty, scope: str, job: PieceEnumeration,
                 solver: Solver) -> None:
        self.net, self.prop, self.scope, self.job, self.solver = net, prop, scope, job, solver
        self.proofs: dict[int, list[Emptiness]] = {}
        self.lp_calls = 0
        self.base = 0
        self.checked = 0  # leaves of job.leaf_of checked so far
        self.boxes: BoxStats | None = None

    def pending(self) -> bool:
        return self.checked < len(self.job.leaf_of)

    def check_pending(self) -> PropertyResult | None:
        """Check every piece kept but not yet checked; the first violation, if any."""
        job, domain = self.job, self.prop.domain
        while self.pending():
            piece = job.found[self.base + self.checked]
            found: list[Emptiness] = []
            for d, disjunct in enumerate(self.prop.unsafe):
                answer = _box_proof(piece, disjunct, domain, self.scope)
                if answer is None:
                    self.lp_calls += 1
                    answer = self.solver.solve(_system(piece, disjunct, domain, self.scope))
                if isinstance(answer, Witness):
                    return _violated(self.net, self.prop, answer.point, d, self.scope,
                                     len(self.proofs) + 1, self.lp_calls, job, self.boxes)
                found.append(answer)
            self.proofs[job.leaf_of[self.checked]] = found
            self.checked += 1
        return None

    def checkpoint(self) -> dict:
        doc = self.job.checkpoint(network_to_document(self.net))
        # A checked piece is its leaf's proofs now; its rows and map are not needed again.
        doc.update({"pieces": [],
            "command": "property", "unsafe": [_disjunct_document(d) for d in self.prop.unsafe],
            "tree": self.job.search.tree, "lp_calls": self.lp_calls,
            "proofs": {str(leaf): [{part: [format_number(v) for v in getattr(p, part)]
                                    for part in ("strict", "nonstrict", "equal")}
                                   for p in proofs]
                       for leaf, proofs in self.proofs.items()}})
        return doc

    def restore(self, path: str) -> None:
        doc = parse_json_text(read_text(path), path)
        if not isinstance(doc, dict) or doc.get("command") != "property":
            raise InputError(f"{path}: not a checkpoint of a property run")
        if doc.get("network") != network_to_document(self.net):
            raise InputError(f"{path}: checkpoint is for a different network")
        if doc.get("unsafe") != [_disjunct_document(d) for d in self.prop.unsafe]:
            raise InputError(f"{path}: checkpoint is for a different unsafe set")
        self.job.restore(doc, path)
        try:
            tree, proofs = doc["tree"], doc["proofs"]
            if not isinstance(tree, list) or len(tree) < len(self.job.search.tree):
                raise ValueError("tree shorter than its open nodes")
            self.job.search.tree = tree
            self.proofs = {int(leaf): [Emptiness(*(tuple(parse_rational(v, path)
                                                         for v in p[part])
                                                   for part in ("strict", "nonstrict",
                                                                "equal")))
                                       for p in items] for leaf, items in proofs.items()}
            self.lp_calls = int(doc.get("lp_calls", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{path}: malformed checkpoint ({exc!r})") from None
        self.base = len(self.job.found)


def _violated(net: Network, prop: VnnlibProperty, point: tuple[Fraction, ...], d: int,
              scope: str, count: int, lp_calls: int, job: PieceEnumeration,
              boxes: BoxStats | None) -> PropertyResult:
    """The LP's point, confirmed by exact evaluation (a mismatch is a bug, never an answer)."""
    outputs = evaluate(net, point)
    if not prop.domain.contains(point) or any(isinstance(v, Infinity) for v in outputs) or \
            not all(c.holds(outputs) for c in prop.unsafe[d]):  # type: ignore[arg-type]
        raise AssertionError(f"internal error: counterexample {point} not confirmed by "
                             "exact evaluation")
    return PropertyResult("violated", scope, count, lp_calls, point,
                          tuple(outputs), d, stats=job.stats, boxes=boxes)  # type: ignore


def _in_x(c: OutputConstraint, maps: Sequence[Affine], n: int) -> Affine:
    """c·Y(x) + d as a function of x."""
    return combination(list(zip(c.coeffs, maps)), n) + Affine.constant(n, c.const)


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
    for index, path, _ in piece_paths(tree):
        tree[index] = {"piece": {
            "witness": tree[index]["piece"]["witness"],  # type: ignore[index]
            "unsafe": [[format_number(m) for m in _multipliers(p, path, domain, scope)]
                       for p in proofs[index]]}}
    return tree


def _disjunct_document(disjunct: Sequence[OutputConstraint]) -> dict:
    def rows(strict: bool) -> list[list[str]]:
        return [[*(format_number(a) for a in c.coeffs), format_number(c.const)]
                for c in disjunct if c.strict == strict]
    return {"nonstrict": rows(False), "strict": rows(True)}
