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

from .affine import Affine, Scaled, primitive, scaled, sign_at
from .demand import DemandProgram, Evaluation, Key
from .domain import BoxSigns, Domain
from .errors import InputError
from .feasibility import Basis, Emptiness, LinearSystem, Solver, Witness
from .network import Network, ReluNetwork
from .numbers import format_number
from .symbolic import Finished, Need, Program, RunState, Undefined

SIGNS = {"+": 1, "0": 0, "-": -1}
SIGN_TEXT = {1: "+", 0: "0", -1: "-"}
_ZERO = Fraction(0)
SCOPES = ("everywhere", "open")
FactKey = tuple[str, tuple[int, ...]]  # see _fact_keys
# The sibling explored just before a side whose kept proofs carry over (see PathRow.previous).
_PREVIOUS_SIBLING = {"0": "+", "-": "0"}


class Reduction:
    """Affine functions modulo a node's equality rows, on their integer forms: f ↦ b_p·f − f_p·b
    for each basis row b (pivot p, b_p > 0, zero at every earlier pivot), then divided by the
    gcd. That is a positive multiple of f minus a combination of the equalities, so two
    functions agree on the node's affine hull up to a positive factor exactly when their
    reductions are equal, and the sign of f is known when its reduction is a constant or a
    positive multiple of a reduced row the path asserts (DESIGN section 5). Integers, not
    Fractions: the search reduces the same functions at every wall."""

    def __init__(self, basis: tuple[tuple[int, tuple[int, ...]], ...] = (),
                 box: BoxSigns | None = None) -> None:
        self.basis = basis
        # A key's sign on the box does not depend on the basis: one table for the domain.
        self.box = box
        # By object: the same functions are looked up again and again, and comparing equal
        # Affines entry by entry costs more than reducing them. The entry keeps its object.
        self._signed: dict[int, tuple[Affine, Key | None, int]] = {}

    @property
    def rank(self) -> int:
        return len(self.basis)

    def with_row(self, e: Affine) -> Reduction:
        r = self.reduce(e.integers())
        pivot = next((i for i, a in enumerate(r[:-1]) if a), None)
        if pivot is None:  # implied by the rows there already (or contradicting them)
            return self
        return Reduction((*self.basis, (pivot, r if r[pivot] > 0 else tuple(-a for a in r))),
                         self.box)

    def reduce(self, ints: tuple[int, ...]) -> tuple[int, ...]:
        for p, b in self.basis:
            a = ints[p]
            if a:
                bp = b[p]
                ints = tuple(bp * x - a * y for x, y in zip(ints, b))
                g = math.gcd(*ints)
                if g > 1:
                    ints = tuple(x // g for x in ints)
        return ints

    def signed(self, f: Affine) -> tuple[Key | None, int]:
        """(key, s): s·(the reduced f) is a positive multiple of the function named by key;
        (None, sign) for an f constant on the hull."""
        if not self.basis:
            return (None, _constant_sign(f)) if f.is_constant else f.direction()
        entry = self._signed.get(id(f))
        if entry is None or entry[0] is not f:
            r = self.reduce(f.integers())
            first = next((a for a in r[:-1] if a), 0)
            if not first:
                entry = (f, None, (r[-1] > 0) - (r[-1] < 0))
            else:
                entry = (f, r if first > 0 else tuple(-a for a in r), 1 if first > 0 else -1)
            self._signed[id(f)] = entry
        return entry[1], entry[2]

    def box_sign(self, key: Key) -> int | None:
        """The sign the domain's box fixes for the function ``key`` (a reduced function, which
        is a positive multiple of the original on the node), if any."""
        return None if self.box is None else self.box.sign(key)


def _constant_sign(f: Affine) -> int:
    return (f.const > 0) - (f.const < 0)


class NodeSigns:
    """The signs a node knows (demand.Signs): ``known`` maps keys to signs."""

    __slots__ = ("known", "reduction")

    def __init__(self, reduction: Reduction, known: dict[Key, int]) -> None:
        self.reduction = reduction
        self.known = known

    def sign(self, f: Affine) -> int | None:
        key, s = self.reduction.signed(f)
        if key is None:
            return s
        known = self.known.get(key)
        if known is None:
            known = self.reduction.box_sign(key)
        return None if known is None else known * s

    def key(self, f: Affine) -> Key | None:
        return self.reduction.signed(f)[0]


def child_signs(signs: NodeSigns, phi: Affine, side: str,
                path: Sequence[PathRow]) -> tuple[NodeSigns, Key | None, bool]:
    """What the child on ``side`` of a split on φ knows: its signs, its new key, and whether
    every key changed (on the side φ = 0 the equalities, so the reduction, change; ``path`` is
    the child's path)."""
    if side == "0":
        reduction = signs.reduction.with_row(phi)
        return NodeSigns(reduction, known_signs(reduction, path)), None, True
    key, scale = signs.reduction.signed(phi)
    known = dict(signs.known)
    if key is not None:
        known[key] = SIGNS[side] * scale
    return NodeSigns(signs.reduction, known), key, False


def known_signs(reduction: Reduction, path: Sequence[PathRow]) -> dict[Key, int]:
    """The signs the path's strict rows assert, by reduced key (equalities reduce to 0)."""
    known: dict[Key, int] = {}
    for row in path:
        if row.side != "0":
            key, s = reduction.signed(row.function)
            if key is not None:
                known[key] = SIGNS[row.side] * s
    return known


def root_signs(domain: Domain) -> NodeSigns:
    """What the root knows: the domain's equalities (its inequalities fix no sign)."""
    reduction = Reduction(box=domain.box_signs)
    for e in domain.equalities:
        reduction = reduction.with_row(e)
    return NodeSigns(reduction, {})


def path_signs(domain: Domain, path: Sequence[PathRow]) -> NodeSigns:
    """What the node at the end of ``path`` knows."""
    reduction = root_signs(domain).reduction
    for row in path:
        if row.side == "0":
            reduction = reduction.with_row(row.function)
    return NodeSigns(reduction, known_signs(reduction, path))


Step = tuple["State", tuple[Affine, ...], "Finished | Undefined | None"]


def step(program: Program | DemandProgram, state: State, signs: NodeSigns,
         new_key: Key | None, everything: bool) -> Step:
    """Run one network as far as a node's signs allow: its state there, the functions whose
    signs it needs next (if it has not finished), and its outcome (Finished or Undefined)."""
    if isinstance(state, Finished):
        return state, (), state
    if isinstance(program, DemandProgram):
        assert isinstance(state, Evaluation)
        evaluation = program.advance(state, signs, new_key, everything)
        if evaluation.undefined is not None:
            undefined = Undefined(evaluation.undefined.layer, evaluation.undefined.neuron)
            return evaluation, (), undefined
        if evaluation.outputs is not None:
            finished = Finished(evaluation.outputs, ())
            return finished, (), finished
        return evaluation, evaluation.needs(signs), None
    assert isinstance(state, RunState)
    outcome = program.run(state, signs.sign)
    if isinstance(outcome, Need):
        return outcome.state, (outcome.function,), None
    return (outcome if isinstance(outcome, Finished) else state), (), outcome


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


def piece_paths(tree: Sequence[dict | None], domain: Domain | None = None
                ) -> Iterator[tuple[int, tuple[PathRow, ...], NodeSigns | None]]:
    """Each piece leaf of a recorded tree (certificate layout) with the path that reaches it
    and, given the ``domain``, what the leaf knows (its signs, made from its parent's as the
    search makes them, not replayed from the root for every leaf)."""
    start = root_signs(domain) if domain is not None else None
    stack: list[tuple[int, tuple[PathRow, ...], NodeSigns | None]] = [(0, (), start)]
    # One neuron's function is split on at many nodes: its text is read once.
    functions: dict[tuple[str, ...], Affine] = {}
    while stack:
        index, path, signs = stack.pop()
        entry = tree[index]
        if entry is None or "empty" in entry or "bound" in entry:
            continue
        if "split" in entry:
            text = tuple(entry["split"])
            phi = functions.get(text)
            if phi is None:
                phi = functions[text] = Affine.from_row(text, "tree")
            for side, child in reversed(list(entry["children"].items())):
                if "empty" in (tree[child] or {}):
                    continue
                below = (*path, PathRow(phi, side))
                stack.append((child, below, None if signs is None
                              else child_signs(signs, phi, side, below)[0]))
            continue
        yield index, path, signs


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


State = RunState | Finished | Evaluation


OpenNode = tuple[int, tuple["PathRow", ...], tuple[Fraction, ...], Basis]
"""A node still to explore: its index, path, witness, and the basis its next LPs start from
(kept with it, so that its subtree comes out the same wherever and whenever it is explored)."""


@dataclass
class Node:
    index: int
    path: tuple[PathRow, ...]
    signs: NodeSigns
    witness: tuple[Fraction, ...]
    states: tuple[State, ...]  # the parent's, until the node is evaluated
    new_key: Key | None = None  # what the node knows beyond its parent (its last row's key)
    everything: bool = True  # whether every undecided neuron is to be looked at again
    basis: Basis = ()  # of the last LP on the way here (its system's rows are the node's)

    @property
    def dim(self) -> int:
        """Of the affine hull of the node's equalities."""
        return len(self.witness) - self.signs.reduction.rank

    def sign_at_witness(self, f: Affine) -> int:
        return sign_at(f, self._scaled_witness)

    @cached_property
    def _scaled_witness(self) -> Scaled:
        return scaled(self.witness)


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
    bound_fixed: int = 0  # functions whose sign the domain's box fixed (no split, no LP)


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
    sign_classes: bool = False
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
        self.programs: list[Program | DemandProgram] = [
            DemandProgram(net) if isinstance(net, ReluNetwork) and not self.sign_classes
            else Program(net) for net in self.networks]
        self._sizes = [sum(net.hidden_widths) for net in self.networks]
        self.stack: list[Node] = []
        self._root_facts: dict[FactKey, _Fact] = {}
        self._domain_rows = len(self.domain.inequalities) + len(self.domain.equalities)
        self._fixed_seen = self.domain.box_signs.fixed

    # -- starting and resuming ---------------------------------------------------------------

    def start(self) -> None:
        witness, basis = self._root_witness()
        self.tree = [None]
        self.stack = [self._node(0, (), witness, basis)]

    def resume(self, tree: list[dict | None], open_nodes: Sequence[OpenNode]) -> None:
        """Continue a search saved with :meth:`open_nodes` (states are recomputed)."""
        self.tree = list(tree)
        self.stack = [self._node(*node) for node in reversed(open_nodes)]

    def open_nodes(self) -> list[OpenNode]:
        """The unexplored nodes, next first."""
        return [(node.index, node.path, node.witness, node.basis)
                for node in reversed(self.stack)]

    def _root_witness(self) -> tuple[tuple[Fraction, ...], Basis]:
        if self.domain.is_everything:
            return (_ZERO,) * self.n, ()
        answer = self._solve((), None)
        if isinstance(answer, Emptiness):
            raise InputError(f"domain: {self.domain.description} is empty")
        return answer.point, answer.basis

    def _node(self, index: int, path: tuple[PathRow, ...], witness: tuple[Fraction, ...],
              basis: Basis = ()) -> Node:
        return Node(index, path, path_signs(self.domain, path), witness,
                    tuple(p.start() for p in self.programs), basis=basis)

    # -- the walk ----------------------------------------------------------------------------

    def leaves(self) -> Iterator[Leaf]:
        while self.stack:
            node = self.stack.pop()
            self.stats.nodes += 1
            self.stats.open_nodes = len(self.stack)
            need, outcomes = self._evaluate(node)
            fixed = self.domain.box_signs.fixed
            self.stats.bound_fixed += fixed - self._fixed_seen
            self._fixed_seen = fixed
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
        node = self._node(leaf.index, leaf.path, leaf.witness)
        node.states = leaf.outcomes
        self.stats.leaves -= 1
        self._split(node, function)

    def _evaluate(self, node: Node) -> tuple[Affine | None,
                                             tuple[Finished | Undefined, ...]]:
        """Run every network as far as the node's signs allow; the function to split on next
        (None at a leaf) and, at a leaf, each network's outcome. The smallest network that
        still needs a sign asks first: a deep network's splits then shape the tree, and a
        shallow one's many first-layer functions are only asked for where still needed."""
        states: list[State] = []
        outcomes: list[Finished | Undefined] = []
        needs: list[tuple[int, tuple[Affine, ...]]] = []
        for k, (program, state) in enumerate(zip(self.programs, node.states)):
            state, functions, outcome = step(program, state, node.signs, node.new_key,
                                             node.everything)
            if isinstance(outcome, Undefined):
                return None, (outcome,)
            states.append(state)
            if outcome is not None:
                outcomes.append(outcome)
            else:
                needs.append((k, functions))
        node.states = tuple(states)
        if not needs:
            return None, tuple(outcomes)
        _, candidates = min(needs, key=lambda kc: (self._sizes[kc[0]], kc[0]))
        # A function positive at the witness closes the most on its side (for a gate: the
        # side where it is −∞ and its neuron 0).
        return next((f for f in candidates if node.sign_at_witness(f) > 0), candidates[0]), ()

    def _open_domain_wall(self, node: Node) -> Affine | None:
        for g in self.domain.inequalities:
            if node.signs.sign(g) is None:
                return g
        return None

    def _split(self, node: Node, function: Affine) -> None:
        self.stats.splits += 1
        phi = primitive(function)
        sides = ("+", "0", "-") if self.scope == "everywhere" else ("+", "-")
        witnesses, proofs, bases = self._child_witnesses(node, phi, sides)
        if not any(witnesses.values()):
            raise InputError(f"scope open needs regions of full dimension, but {phi} vanishes "
                             f"on all of {self.domain.description}; use scope everywhere")
        nonempty = [side for side in sides if witnesses[side] is not None]
        # A strict side that alone is nonempty holds on the whole node, so later LPs leave it
        # out — but only once φ = 0 is excluded too: in scope open that side is never looked
        # at, and the opposite side's proof must show φ ≠ 0 by itself.
        implied = len(nonempty) == 1 and nonempty[0] != "0" and (
            self.scope == "everywhere" or self._excludes_zero(node.path, phi, nonempty[0],
                                                               proofs))
        children = self._record(node, phi, sides, witnesses, proofs, implied)
        rows: dict[str, PathRow] = {}
        for side in nonempty:
            rows[side] = PathRow(phi, side, implied,
                                 previous=rows.get(_PREVIOUS_SIBLING.get(side, "")))
        for side in reversed(nonempty):
            path = (*node.path, rows[side])
            signs, key, everything = child_signs(node.signs, phi, side, path)
            self.stack.append(Node(children[side], path, signs, witnesses[side],  # type: ignore
                                   node.states, key, everything, bases.get(side, node.basis)))

    def _record(self, node: Node, phi: Affine, sides: Sequence[str],
                witnesses: dict[str, tuple[Fraction, ...] | None], proofs: dict[str, Proof],
                implied: bool) -> dict[str, int]:
        """The split's children, numbered from the end of the tree, with its empty leaves
        written. In scope everywhere, a split whose one nonempty side is strict and whose
        opposite side's proof excludes φ = 0 as well (:meth:`_excludes_zero`) gets one empty
        leaf for both, the side "-0" (φ ≤ 0) or "+0" (φ ≥ 0): the proof is the same
        multipliers with the split's row read as nonstrict (proofs/CERTIFICATE.md section 5)."""
        empty = [side for side in sides if witnesses[side] is None]
        if self.scope == "everywhere" and implied and len(empty) == 2 and self.record_tree:
            (kept,) = (side for side in sides if side not in empty)
            opposite = "-" if kept == "+" else "+"
            if self._excludes_zero(node.path, phi, kept, proofs):
                sides, empty = (kept, opposite + "0"), [opposite + "0"]
                proofs = {opposite + "0": proofs[opposite]}
        first = len(self.tree)
        children = {side: first + k for k, side in enumerate(sides)}
        self.tree.extend([None] * len(sides))
        self.stats.empty += len(empty)
        if self.record_tree:
            self.tree[node.index] = {"split": phi.to_row(), "children": children}
            rows = self._domain_rows + len(node.path) + 1
            for side in empty:
                multipliers = ["0"] * rows  # most are 0: only the proof's nonzero ones to write
                for i, m in proofs[side].items():
                    multipliers[i] = format_number(m)
                self.tree[children[side]] = {"empty": multipliers}
        return children

    def _excludes_zero(self, path: tuple[PathRow, ...], phi: Affine, side: str,
                       proofs: dict[str, Proof]) -> bool:
        """Whether the proof that the side opposite ``side`` is empty shows that φ cannot
        vanish on the node either: its constant is < 0, or a strict row other than the split's
        own has a positive multiplier."""
        opposite = "-" if side == "+" else "+"
        proof = proofs.get(opposite)
        if proof is None:
            return False
        rows = self._certificate_rows((*path, PathRow(phi, opposite)))
        own = len(rows) - 1
        kappa = sum((m * rows[i][1].const for i, m in proof.items()), _ZERO)
        return kappa < 0 or any(m > 0 and rows[i][0] == "strict"
                                for i, m in proof.items() if i != own)

    def _child_witnesses(self, node: Node, phi: Affine, sides: Sequence[str]
                         ) -> tuple[dict[str, tuple[Fraction, ...] | None], dict[str, Proof],
                                    dict[str, Basis]]:
        """Per side, a witness, or None with the side's emptiness proof; and the basis of
        the LP that found a witness."""
        here = SIGN_TEXT[node.sign_at_witness(phi)]
        found: dict[str, tuple[Fraction, ...] | None] = {}
        if here in sides:
            found[here] = node.witness
            self.stats.free_witnesses += 1
        proofs: dict[str, Proof] = {}
        bases: dict[str, Basis] = {}
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
                answer = self.solver.solve(self.system(path), basis=node.basis)
                if isinstance(answer, Witness):
                    found[side] = answer.point
                    bases[side] = answer.basis
                    continue
                proof = {i: m for i, m in enumerate(self._certificate_multipliers(path, answer))
                         if m}
                self._remember(path, proof, keys[side])
            found[side] = None
            proofs[side] = proof
        return found, proofs, bases

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

    def _certificate_rows(self, path: Sequence[PathRow]) -> list[tuple[str, Affine]]:
        """(kind, function) per row in certificate order (proofs/CERTIFICATE.md section 5)."""
        rows = [("nonstrict", g) for g in self.domain.inequalities]
        rows.extend(("equal", e) for e in self.domain.equalities)
        rows.extend(("equal", r.function) if r.side == "0" else ("strict", r.asserted)
                    for r in path)
        return rows

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
