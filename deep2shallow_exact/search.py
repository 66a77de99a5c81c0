"""The search tree that partitions a domain into pieces (DESIGN section 3).

One tree serves every caller: piece enumeration walks it over one network, the checker over two.
At each node every network is evaluated symbolically until one needs the sign of an affine
function φ the path does not fix; the node then splits into φ > 0, φ = 0, φ < 0 (scope
``everywhere``) or φ > 0, φ < 0 (scope ``open``). Each child is decided exactly: a rational
witness point, or Motzkin multipliers proving it empty. A child whose side of φ holds at the
parent's witness inherits that witness, and when both strict sides are nonempty the zero side
gets the point where the segment between their witnesses crosses φ = 0 — so a split costs about
one LP, and the work grows with the pieces found, not with 2^(number of neurons). A proof that a
side is empty is also kept at the shallowest node that has every row it uses, and every later
node below that one (or below the next sibling, see PathRow.previous) that splits on the same
function reuses it, re-checked exactly, instead of an LP: the children of a split mostly need
the same facts about the next neurons.

The tree is recorded in the certificate layout of proofs/CERTIFICATE.md as it is built.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import flint

from .affine import Affine
from .domain import Domain
from .errors import InputError
from .feasibility import Emptiness, LinearSystem, Solver, Witness
from .network import Network
from .numbers import format_number
from .symbolic import Finished, Need, Program, RunState, Undefined

SIGNS = {"+": 1, "0": 0, "-": -1}
SIGN_TEXT = {1: "+", 0: "0", -1: "-"}
_ZERO = Fraction(0)
SCOPES = ("everywhere", "open")
FactKey = tuple[str, tuple[int, ...]]  # see _fact_keys
# The sibling explored just before a side whose kept proofs carry over (see PathRow.previous).
_PREVIOUS_SIBLING = {"0": "+", "-": "0"}


def primitive(f: Affine) -> Affine:
    """f scaled by a positive factor to coprime integer coefficients (sign-preserving)."""
    ints = f.integers()
    return Affine(tuple(map(Fraction, ints[:-1])), Fraction(ints[-1]))


def equality_rank(rows: Sequence[Affine], n: int) -> int:
    if not rows:
        return 0
    return flint.fmpq_mat(len(rows), n, [flint.fmpq(c.numerator, c.denominator)
                                         for f in rows for c in f.coeffs]).rank()


@dataclass(frozen=True)
class PathRow:
    """A split on the way from the root: ``function`` is >0, =0 or <0 as ``side`` says.

    ``implied`` marks a strict row the node's other rows already imply (the opposite sides
    were proven empty); it stays on the path, which the certificate needs for signs, but is
    left out of the linear systems, which keeps every LP about as small as the piece's facets.
    """

    function: Affine
    side: str
    implied: bool = False
    # Emptiness proofs that hold below this row (see Search._remember); an optimisation only.
    facts: dict[FactKey, _Fact] = field(default_factory=dict, compare=False, repr=False)
    # The sibling explored just before this one whose facts also hold here once its row's
    # multiplier is read for this row: φ > 0 before φ = 0 (same multiplier), φ = 0 before
    # φ < 0 (negated). Checked like any recalled proof.
    previous: PathRow | None = field(default=None, compare=False, repr=False)

    @cached_property
    def asserted(self) -> Affine:
        """The row as the certificate states it: φ > 0, −φ > 0, or φ = 0."""
        return -self.function if self.side == "-" else self.function


@dataclass(frozen=True)
class _Fact:
    """A proof that one side of a split is empty: ``used`` holds the nonzero multipliers of the
    domain rows and of the path rows down to the node keeping the fact (by certificate row
    index); the split's own row gets ``own``."""

    used: tuple[tuple[int, Fraction], ...]
    own: Fraction


Proof = dict[int, Fraction]
"""An emptiness proof: its nonzero multipliers by certificate row index (see
Search._certificate_multipliers); certificates are sparse, so checks look at these only."""


@dataclass
class Node:
    index: int
    path: tuple[PathRow, ...]
    known: dict[tuple[int, ...], int]  # sign per Affine.direction key
    witness: tuple[Fraction, ...]
    states: tuple[RunState | Finished, ...]
    dim: int  # of the affine hull of the node's equalities

    def sign_at_witness(self, f: Affine) -> int:
        """The sign of f at the witness, in integer arithmetic (Fractions are slow here)."""
        numerators, denominator = self._scaled_witness
        ints = f.integers()
        value = ints[-1] * denominator + sum(a * p for a, p in zip(ints, numerators) if a)
        return (value > 0) - (value < 0)

    @cached_property
    def _scaled_witness(self) -> tuple[tuple[int, ...], int]:
        denominator = math.lcm(*(v.denominator for v in self.witness))
        return tuple(v.numerator * (denominator // v.denominator) for v in self.witness), \
            denominator


@dataclass(frozen=True)
class Leaf:
    """A nonempty piece on which every network finished, or one was undefined."""

    index: int
    path: tuple[PathRow, ...]
    witness: tuple[Fraction, ...]
    outcomes: tuple[Finished | Undefined, ...]
    equalities: tuple[Affine, ...]
    dim: int


@dataclass
class SearchStats:
    nodes: int = 0
    leaves: int = 0
    empty: int = 0
    splits: int = 0
    free_witnesses: int = 0
    derived_proofs: int = 0
    reused_proofs: int = 0
    lp_calls: int = 0
    open_nodes: int = 0


@dataclass
class Search:
    """Depth-first search over ``networks`` (same input dimension) on ``domain``.

    Iterate :meth:`leaves`; the caller records each leaf's verdict in :attr:`tree` with
    :meth:`record` (splits and empty leaves are recorded as they are made, unless
    ``record_tree`` is off). ``split_domain_walls`` also splits every leaf by the domain's
    facets, so that pieces on a box's boundary are pieces of their own.
    """

    networks: Sequence[Network]
    domain: Domain
    scope: str = "everywhere"
    solver: Solver = field(default_factory=Solver)
    split_domain_walls: bool = False
    record_tree: bool = True
    tree: list[dict | None] = field(default_factory=list)
    stats: SearchStats = field(default_factory=SearchStats)

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise InputError(f"scope: {self.scope!r} must be one of {', '.join(SCOPES)}")
        self.n = self.domain.dim
        for i, net in enumerate(self.networks):
            if net.input_dim != self.n:
                raise InputError(f"network {i + 1} takes {net.input_dim} inputs, "
                                 f"the domain has dimension {self.n}")
        self.programs = [Program(net) for net in self.networks]
        self.stack: list[Node] = []
        self._root_facts: dict[FactKey, _Fact] = {}
        self._domain_rows = len(self.domain.inequalities) + len(self.domain.equalities)

    # -- starting and resuming ---------------------------------------------------------------

    def start(self) -> None:
        witness = self._root_witness()
        self.tree = [None]
        self.stack = [self._node(0, (), witness)]

    def resume(self, tree: list[dict | None],
               open_nodes: Sequence[tuple[int, tuple[PathRow, ...], tuple[Fraction, ...]]]
               ) -> None:
        """Continue a search saved with :meth:`open_nodes` (states are recomputed)."""
        self.tree = list(tree)
        self.stack = [self._node(i, path, w) for i, path, w in reversed(open_nodes)]

    def open_nodes(self) -> list[tuple[int, tuple[PathRow, ...], tuple[Fraction, ...]]]:
        """The unexplored nodes, next first."""
        return [(node.index, node.path, node.witness) for node in reversed(self.stack)]

    def _root_witness(self) -> tuple[Fraction, ...]:
        if self.domain.is_everything:
            return (_ZERO,) * self.n
        answer = self._solve((), None)
        if isinstance(answer, Emptiness):
            raise InputError(f"domain: {self.domain.description} is empty")
        return answer.point

    def _node(self, index: int, path: tuple[PathRow, ...],
              witness: tuple[Fraction, ...]) -> Node:
        known = {e.direction()[0]: 0 for e in self.domain.equalities if not e.is_constant}
        for row in path:
            g, s = row.function.direction()
            known[g] = SIGNS[row.side] * s
        return Node(index, path, known, witness, tuple(p.start() for p in self.programs),
                    self._hull_dim(path))

    # -- the walk ----------------------------------------------------------------------------

    def leaves(self) -> Iterator[Leaf]:
        while self.stack:
            node = self.stack.pop()
            self.stats.nodes += 1
            self.stats.open_nodes = len(self.stack)
            need, outcomes = self._evaluate(node)
            if need is None and self.split_domain_walls:
                need = self._open_domain_wall(node)
            if need is not None:
                self._split(node, need)
                continue
            self.stats.leaves += 1
            yield Leaf(node.index, node.path, node.witness, outcomes,
                       self._equalities(node.path), node.dim)

    def record(self, leaf: Leaf, entry: dict) -> None:
        self.tree[leaf.index] = entry

    def refine(self, leaf: Leaf, function: Affine) -> None:
        """Split a leaf once more, on a function the caller needs the sign of."""
        known = self._node(leaf.index, leaf.path, leaf.witness).known
        self.stats.leaves -= 1
        self._split(Node(leaf.index, leaf.path, known, leaf.witness, leaf.outcomes, leaf.dim),
                    function)

    def _evaluate(self, node: Node) -> tuple[Affine | None,
                                             tuple[Finished | Undefined, ...]]:
        def oracle(f: Affine) -> int | None:
            g, s = f.direction()
            known = node.known.get(g)
            if known is None and point:
                return node.sign_at_witness(f)
            return None if known is None else known * s

        # On a single point every sign is its value there. Without a recorded tree nothing
        # needs the split that would otherwise prove it (the certificate checker does).
        point = node.dim == 0 and not self.record_tree

        states: list[RunState | Finished] = []
        outcomes: list[Finished | Undefined] = []
        need: Affine | None = None
        for program, state in zip(self.programs, node.states):
            outcome = state if isinstance(state, Finished) else program.run(state, oracle)
            if isinstance(outcome, Need):
                if need is None:
                    need = outcome.function
                states.append(outcome.state)
            else:
                if isinstance(outcome, Undefined):
                    return None, (outcome,)
                states.append(outcome)
                outcomes.append(outcome)
        node.states = tuple(states)
        return need, tuple(outcomes)

    def _open_domain_wall(self, node: Node) -> Affine | None:
        if node.dim == 0 and not self.record_tree:
            return None  # a point is one piece whichever walls it lies on
        for g in self.domain.inequalities:
            if not g.is_constant and g.direction()[0] not in node.known:
                return g
        return None

    def _split(self, node: Node, function: Affine) -> None:
        self.stats.splits += 1
        phi = primitive(function)
        sides = ("+", "0", "-") if self.scope == "everywhere" else ("+", "-")
        first = len(self.tree)
        children = {side: first + k for k, side in enumerate(sides)}
        if self.record_tree:
            self.tree[node.index] = {"split": phi.to_row(), "children": children}
        self.tree.extend([None] * len(sides))
        witnesses = self._child_witnesses(node, phi, sides, children)
        if not any(witnesses.values()):
            raise InputError(f"scope open needs regions of full dimension, but {phi} vanishes "
                             f"on all of {self.domain.description}; use scope everywhere")
        alone = sum(w is not None for w in witnesses.values()) == 1
        rows: dict[str, PathRow] = {}
        for side in sides:
            if witnesses[side] is not None:
                rows[side] = PathRow(phi, side, alone and side != "0",
                                     previous=rows.get(_PREVIOUS_SIBLING.get(side, "")))
        for side in reversed(sides):
            w = witnesses[side]
            if w is None:
                continue
            path = (*node.path, rows[side])
            known = dict(node.known)
            g, s = phi.direction()
            known[g] = SIGNS[side] * s
            dim = self._hull_dim(path) if side == "0" else node.dim
            self.stack.append(Node(children[side], path, known, w, node.states, dim))

    def _child_witnesses(self, node: Node, phi: Affine, sides: Sequence[str],
                         children: dict[str, int]) -> dict[str, tuple[Fraction, ...] | None]:
        here = SIGN_TEXT[node.sign_at_witness(phi)]
        found: dict[str, tuple[Fraction, ...] | None] = {}
        if here in sides:
            found[here] = node.witness
            self.stats.free_witnesses += 1
        proofs: dict[str, Proof] = {}
        keys = _fact_keys(phi)
        for side in ("+", "-", "0"):
            if side in found or side not in sides:
                continue
            if side == "0" and found.get("+") and found.get("-"):
                found["0"] = _crossing(found["+"], found["-"], phi)
                self.stats.free_witnesses += 1
                continue
            path = (*node.path, PathRow(phi, side))
            proof = self._recall(path, keys[side])
            if proof is None and side == "0":
                proof = self._zero_side_from(proofs, path)
                if proof is not None:
                    self._remember(path, proof, keys[side])
            if proof is None:
                self.stats.lp_calls += 1
                answer = self.solver.solve(self.system(path))
                if isinstance(answer, Witness):
                    found[side] = answer.point
                    continue
                proof = {i: m for i, m in enumerate(self._certificate_multipliers(path, answer))
                         if m}
                self._remember(path, proof, keys[side])
            found[side] = None
            proofs[side] = proof
            self.stats.empty += 1
            if self.record_tree:
                self.tree[children[side]] = {"empty": [
                    format_number(proof.get(i, _ZERO))
                    for i in range(self._domain_rows + len(node.path) + 1)]}
        return found

    def _recall(self, path: tuple[PathRow, ...], keys: tuple[FactKey, int]) -> Proof | None:
        """A kept proof that the last row of ``path`` cannot hold, if one applies here."""
        key, sign = keys
        own = self._domain_rows + len(path) - 1
        for facts, flip in _fact_sources(self._root_facts, path[:-1]):
            fact = facts.get(key)
            if fact is None:
                continue
            proof = dict(fact.used)
            if flip < 0:
                last = fact.used[-1][0]
                proof[last] = -proof[last]
            proof[own] = fact.own * sign
            if self._certifies(path, proof):
                self.stats.reused_proofs += 1
                return proof
        return None

    def _remember(self, path: tuple[PathRow, ...], proof: Proof,
                  keys: tuple[FactKey, int]) -> None:
        """Keep the proof at the deepest row it uses: it holds at every node below that row."""
        own = self._domain_rows + len(path) - 1
        used = tuple(sorted((i, m) for i, m in proof.items() if i != own))
        deepest = used[-1][0] - self._domain_rows if used else -1
        key, sign = keys
        facts = self._root_facts if deepest < 0 else path[deepest].facts
        facts[key] = _Fact(used, proof[own] * sign)

    def _zero_side_from(self, proofs: dict[str, Proof],
                        path: tuple[PathRow, ...]) -> Proof | None:
        """Reuse the proof that one strict side of φ is empty for the side φ = 0.

        Its last row is ±φ > 0 with multiplier μ; as the equality φ = 0 with multiplier ±μ it
        leaves the combination unchanged, which still proves emptiness unless μ was the only
        strict multiplier and the constant is 0 (then φ = 0 may hold on the boundary)."""
        own = self._domain_rows + len(path) - 1
        for side, proof in proofs.items():
            candidate = dict(proof)
            if side == "-":
                candidate[own] = -candidate[own]
            if self._certifies(path, candidate):
                self.stats.derived_proofs += 1
                return candidate
        return None

    def _certifies(self, path: Sequence[PathRow], proof: Proof) -> bool:
        """Whether ``proof`` proves the node of ``path`` empty."""
        inequalities = len(self.domain.inequalities)
        terms = []
        for i, m in proof.items():
            if i < inequalities:
                terms.append(("nonstrict", self.domain.inequalities[i], m))
            elif i < self._domain_rows:
                terms.append(("equal", self.domain.equalities[i - inequalities], m))
            else:
                row = path[i - self._domain_rows]
                terms.append(("equal", row.function, m) if row.side == "0"
                             else ("strict", row.asserted, m))
        return self.solver.certifies(self.n, terms)

    # -- linear systems ----------------------------------------------------------------------

    def _hull_dim(self, path: Sequence[PathRow]) -> int:
        return self.n - equality_rank(self._equalities(path), self.n)

    def _equalities(self, path: Sequence[PathRow]) -> tuple[Affine, ...]:
        return (*self.domain.equalities, *(r.function for r in path if r.side == "0"))

    def system(self, path: Sequence[PathRow]) -> LinearSystem:
        """The node's rows as a linear system, without the implied ones."""
        return LinearSystem(self.n,
                            strict=tuple(r.asserted for r in path
                                         if r.side != "0" and not r.implied),
                            nonstrict=self.domain.inequalities,
                            equal=self._equalities(path))

    def _solve(self, path: Sequence[PathRow], hint: Sequence[Fraction] | None
               ) -> Witness | Emptiness:
        self.stats.lp_calls += 1
        return self.solver.solve(self.system(path), hint)

    def _certificate_multipliers(self, path: Sequence[PathRow],
                                 cert: Emptiness) -> list[Fraction]:
        """Reorder solver multipliers into the certificate's row order (proofs/CERTIFICATE.md):
        domain inequalities, domain equalities, then one row per path split, root first."""
        out = list(cert.nonstrict)
        out.extend(cert.equal[:len(self.domain.equalities)])
        strict = iter(cert.strict)
        zeros = iter(cert.equal[len(self.domain.equalities):])
        out.extend(_ZERO if r.implied else next(zeros) if r.side == "0" else next(strict)
                   for r in path)
        return out


def _fact_sources(root: dict[FactKey, _Fact], path: Sequence[PathRow]
                  ) -> Iterator[tuple[dict[FactKey, _Fact], int]]:
    """Where facts holding at the end of ``path`` are kept, shallowest first, each with the
    factor (±1) to apply to its last multiplier (see PathRow.previous)."""
    yield root, 1
    for row in path:
        yield row.facts, 1
        if row.previous is not None:
            yield row.previous.facts, 1 if row.side == "0" else -1


def _fact_keys(phi: Affine) -> dict[str, tuple[FactKey, int]]:
    """Per side of a split on ``phi``, the key naming the set that side asserts and the sign
    relating the side's row to the key: an open half-space is named by its asserted function,
    a hyperplane by its function with the first nonzero coefficient positive (so ±φ = 0 share
    a key). Split functions are primitive, so integers name them, and hash far faster than
    Fractions."""
    values = phi.integers()
    line, sign = phi.direction()
    return {"+": (("strict", values), 1), "-": (("strict", tuple(-a for a in values)), 1),
            "0": (("zero", line), sign)}


def _crossing(a: tuple[Fraction, ...], b: tuple[Fraction, ...],
              phi: Affine) -> tuple[Fraction, ...]:
    """The point of segment [a, b] where φ vanishes, given φ(a) > 0 > φ(b).

    Every strict row of the node holds at both ends, hence on the whole segment."""
    fa, fb = phi(a), phi(b)
    t = fa / (fa - fb)
    return tuple(x + t * (y - x) for x, y in zip(a, b))
