"""The trusted kernel: an independent checker for deep2shallow-exact certificates.

This module is the whole trusted base of a PROVEN result. It imports only the Python standard
library, and nothing else of the package, so a referee can read it in one sitting and judge it
alone. The format is specified in proofs/CERTIFICATE.md.

What a valid certificate proves. Let A and B be the functions computed by ``networks[0]`` and
``networks[1]`` (exact arithmetic in Q ∪ {−∞, +∞}, 0·(±∞) = 0, ∞ − ∞ undefined, hard gates
1{q > 0}), and D = {x : g(x) ≥ 0 for every domain inequality g, e(x) = 0 for every domain
equality e}. Then, for every point x of D (rational or real):

- scope "everywhere": A(x) and B(x) are defined, finite, and equal;
- scope "open": the same holds whenever no split function of the tree vanishes at x — that is,
  on D minus finitely many hyperplanes, none of which contains D. If both networks are finite
  ReLU networks, which are continuous, A = B then holds at every point of D.

Why. Each node stands for the set P of points of D that satisfy the rows of its path. A split's
children cover its own set (φ > 0, φ = 0, φ < 0; without φ = 0 in scope "open"), so the leaves
cover D (off the split hyperplanes in scope "open"). An empty leaf's Motzkin multipliers make
Σ μ_r f_r a constant κ on all of R^n, while every point of P would give Σ μ_r f_r(x) ≥ 0, and
> 0 if some strict row has μ_r > 0; κ < 0 (or κ = 0 with such a row) leaves P empty. At a piece
leaf every sign the symbolic evaluation uses holds at every point of P, because it follows from
the rows that hold on P, or from the box that the domain's one-coordinate rows give, which
contains P; every other step of the evaluation is an identity of the arithmetic
that holds at every point; so on P each network equals the affine map computed, and their
difference Σ_j λ_j E_j vanishes on P since every equality row E_j does. The witness adds that
P is nonempty, so ``pieces`` counts nonempty pieces. In scope "open" every split has a child
that is not an empty leaf, hence a piece below it whose witness, a point of D, makes φ ≠ 0: so
φ does not vanish on D, the points of D off the split hyperplanes are dense in D, and two
continuous functions equal there are equal on all of D (which is closed).

A property certificate ("claim": "property", one network N, an unsafe set U given as a union of
polyhedra in the output space) proves that N(x) is defined, finite and outside U at every point
x of D. Its tree is checked as above; at each piece leaf N is an affine map Y on P, and for each
disjunct of U Motzkin multipliers show that no point of P has Y(x) in it — of the closure of P in
scope "open", which needs N to be a finite ReLU network: every point of D is then in the closure
of some piece (the pieces are dense in D), where N = Y by continuity. A bound leaf (version 5,
finite ReLU networks) closes a node without its pieces: over the box B that the node's
one-coordinate rows give, which holds the node, the rules of CERTIFICATE.md section 11 give a
number R ≥ c·N(x) + d for each output row, every step an inequality valid on all of B; in each
disjunct some row has R < 0, so no point of B is in it.

Not checked here, and trusted: the Python interpreter, its integers and ``fractions.Fraction``,
and the modules ``json``, ``re``, ``math``, ``operator``, ``functools`` (a cache),
``dataclasses`` and ``hashlib`` (the last only names the networks in the verdict), and
``multiprocessing`` with ``signal`` where subtrees are checked on several processes. Bound
leaves use Python's integers also through ``int.to_bytes`` / ``int.from_bytes``, which read
the entries of a packed integer (``_unpack``).
"""

from __future__ import annotations

import collections
import hashlib
import json
import multiprocessing
import re
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from math import gcd
from operator import itemgetter, mul

CERTIFICATE_FORMAT = "deep2shallow-exact/certificate"
# Version 2: demand-driven evaluation (CERTIFICATE.md section 7), signs modulo the equality
# rows, sparse layers, and scope "open" as a proof everywhere for finite ReLU networks.
# Version 3 adds signs known from the domain's coordinate bounds, and property certificates;
# a version 2 certificate means the same under its rules, which only know fewer signs.
# Version 4 lets a split in scope everywhere cover φ ≤ 0 (side "-0") or φ ≥ 0 ("+0") by one
# empty leaf, where its two sides would need two.
# Version 5 adds bound leaves to property certificates: a node closed by affine bounds of the
# network over its box, without enumerating its pieces.
CERTIFICATE_VERSION = 5
_VERSIONS = (2, 3, 4, 5)
NETWORK_FORMAT = "deep2shallow-exact/network"

# Integers, "p/q", and decimals such as "-1.25e-3". ASCII digits only: Fraction() alone would
# also take Unicode digits, underscores and spaces, which a second checker might not.
# (Each digit run has one way to match, so refusing a long string takes linear time.)
NUMBER = re.compile(
    r"[+-]?(?:[0-9]+/[0-9]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
# "1e999999999" would make Fraction build a billion-digit integer; the same bound as Python's
# default limit on integer digits keeps every accepted number cheap.
MAX_EXPONENT = 4300
# Symbolic evaluation in n variables costs about n operations per weight it uses, which a
# certificate can make far larger than itself (a huge n, few leaves); past this many
# operations per number it holds, the kernel stops instead of running for hours.
WORK_PER_NUMBER = 1000
WORK_BASE = 10**6


# Below this many nodes a tree is walked in one process: forking costs more than it saves.
_PARALLEL_NODES = 20000
# A subtree to walk: its root (index, depth, side, row) and the rows, sides, frames above it.
_Task = tuple[int, int, str, "_Row | None", list, list, list]
# What a forked worker walks (set just before the fork, so the processes share it unpickled).
_FORKED: tuple | None = None


def _leave_signals_to_the_parent() -> None:
    # Ctrl-C reaches every process of the terminal; the parent decides, and ends its workers
    # with SIGTERM (whatever handler of it they inherited).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _walk_task(k: int) -> tuple[int, tuple]:
    """Walk subtree k in a worker: k and (pieces, empty leaves, bound leaves, work, node
    indices reached), or k and the rejection (reason, path)."""
    assert _FORKED is not None
    check, tree, seen, tasks = _FORKED
    check.pieces = check.empties = check.bounded = check.work = 0
    check.marked, check.progress = [], None
    try:
        check._subtree(tree, seen, tasks[k])  # this process's own copy of ``seen``
    except _Reject as reject:
        return k, (reject.reason, reject.path)
    return k, (check.pieces, check.empties, check.bounded, check.work, check.marked)


@dataclass(frozen=True)
class Verdict:
    """The kernel's answer; ``path`` locates the first failing node or field. When valid,
    ``claim`` says what is proven, about the networks named by ``networks`` (content hashes of
    the two network documents as the kernel reads them), on the domain ``domain``."""

    valid: bool
    reason: str
    path: str
    pieces: int
    empties: int
    nodes: int
    scope: str = ""
    claim: str = ""
    networks: tuple[str, ...] = ()
    domain: str = ""
    bounded: int = 0


@dataclass(frozen=True)
class _Inf:
    """+∞ (sign 1) or −∞ (sign −1)."""

    sign: int


# An affine function a·x + c is the tuple (a_1, ..., a_n, c); a finite value is a _Form.
Affine = tuple[Fraction, ...]
Number = Fraction | _Inf
_ZERO = Fraction(0)
_SIDES = {"everywhere": ("+", "0", "-"), "open": ("+", "-")}


@dataclass(frozen=True)
class _Form:
    """const + Σ c · ReLU(g) over ``atoms`` (g, c): g the coprime integer row positively
    proportional to the function (so g and −g are opposite atoms), c ≠ 0. The rules of
    CERTIFICATE.md section 7 make every finite value one of these."""

    const: Affine
    atoms: tuple[tuple[tuple[int, ...], Fraction], ...] = ()

    def __post_init__(self) -> None:
        # A single atom c·ReLU(g) with c > 0 and nothing else is ≥ 0: ReLU leaves it.
        object.__setattr__(self, "passes_relu", len(self.atoms) == 1 and self.atoms[0][1] > 0
                           and not any(self.const))


Value = _Form | _Inf


@dataclass(frozen=True)
class _Layer:
    # Row j lists (k, W_jk) for the nonzero weights only: 0 ⊙ anything = 0, even ±∞.
    rows: tuple[tuple[tuple[int, Number], ...], ...]
    bias: tuple[Number, ...]


@dataclass(frozen=True)
class _Network:
    kind: str                       # "relu", "dgn" or "dlgn"
    layers: tuple[_Layer, ...]      # relu: all layers; dgn/dlgn: the value network
    gating: tuple[_Layer, ...] = ()
    ones: bool = False              # dgn/dlgn: the value network reads the all-ones vector

    @property
    def finite_relu(self) -> bool:
        return self.kind == "relu" and not any(
            isinstance(v, _Inf) for layer in self.layers
            for v in (*layer.bias, *(w for row in layer.rows for _, w in row)))


@dataclass(frozen=True)
class _Row:
    kind: str        # ">" strict, "≥" non-strict, "=" equality: f(x) kind 0
    f: Affine
    origin: str

    def __post_init__(self) -> None:
        # f = scale · ints with coprime integers: Motzkin sums add integers, not Fractions.
        ints = _ray(self.f) if any(self.f) else tuple(0 for _ in self.f)
        k = next((i for i, c in enumerate(ints) if c), None)
        object.__setattr__(self, "ints", ints)
        object.__setattr__(self, "scale", self.f[k] / ints[k] if k is not None else _ZERO)


class _Reject(Exception):
    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason, self.path = reason, path


def verify_text(text: str, networks: tuple[object, ...] | None = None,
                workers: int = 1, progress: Callable[[int, int], None] | None = None
                ) -> Verdict:
    """Verify a certificate given as JSON text (JSON decimals are read as exact decimals)."""
    try:
        document = json.loads(text, parse_float=_json_decimal, parse_constant=_json_constant,
                              object_pairs_hook=json_object)
    except (ValueError, TypeError, RecursionError) as error:
        return Verdict(False, f"not a valid JSON document: {_cut(str(error))}", "", 0, 0, 0)
    return verify(document, networks, workers, progress)


def verify(document: object, networks: tuple[object, ...] | None = None,
           workers: int = 1, progress: Callable[[int, int], None] | None = None) -> Verdict:
    """Verify a parsed certificate. Never raises; any defect gives ``valid=False``. With
    ``networks`` (network documents: two, or one for a property), it is also checked that the
    certificate is about exactly those networks (equal weights, read exactly, in either
    layout). ``workers`` processes share a large tree (forked; the verdict is the same for any
    number). ``progress``, if given, is called now and then with the number of nodes checked
    and the number in the tree."""
    check = _Check(workers, progress)
    try:
        return check.run(document, networks)
    except _Reject as reject:
        return Verdict(False, reject.reason, reject.path, check.pieces, check.empties,
                       check.nodes)
    except Exception as error:  # a kernel bug must end in "invalid", never in a crash or a pass
        return Verdict(False, f"internal error: {type(error).__name__}: {_cut(str(error))}", "",
                       check.pieces, check.empties, check.nodes)


class _Check:
    def __init__(self, workers: int = 1,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.pieces = self.empties = self.nodes = self.bounded = 0
        self.workers = workers
        self.progress = progress
        self.visited = 0
        self.relaxation: BoxRelaxation | None = None
        self.marked: list[int] = []  # the nodes reached (as children), for a worker's report

    def run(self, doc: object, given: tuple[object, ...] | None) -> Verdict:
        doc = _object(doc, "certificate")
        if _get(doc, "format", "") != CERTIFICATE_FORMAT:
            raise _Reject(f"format must be {CERTIFICATE_FORMAT!r}", "format")
        if not any(_same_int(_get(doc, "version", ""), v) for v in _VERSIONS):
            raise _Reject(f"version must be one of {_VERSIONS} (this kernel's evaluation "
                          "rules)", "version")
        self.version = doc["version"]
        self.scope = _get(doc, "scope", "")
        if not isinstance(self.scope, str) or self.scope not in _SIDES:
            raise _Reject('scope must be "everywhere" or "open"', "scope")
        self._domain(_get(doc, "domain", ""))
        self.claim_kind = doc.get("claim", "equal")
        if self.claim_kind not in ("equal", "property"):
            raise _Reject('claim must be "equal" (the default) or "property"', "claim")
        if self.claim_kind == "property":
            self._property_header(doc, given)
        else:
            self._equal_header(doc, given)
        tree = _get(doc, "tree", "")
        if not isinstance(tree, list) or not tree:
            raise _Reject("tree must be a nonempty list of nodes", "tree")
        self.nodes = len(tree)
        self.work = 0
        self.budget = WORK_BASE + WORK_PER_NUMBER * (
            _size(tree) + _size(self.unsafe_doc) + sum(
                len(layer.bias) + sum(map(len, layer.rows))
                for net in self.networks for layer in (*net.layers, *net.gating)))
        self.programs = [_Program(net, f"networks[{k}]", self)
                         for k, net in enumerate(self.networks)]
        self._walk(tree)
        continuous = self.scope == "open" and all(net.finite_relu for net in self.networks)
        if self.scope == "everywhere" or continuous:
            claim = f"at every point of {self.domain_text}"
            if continuous:
                what = "both are finite ReLU networks" if len(self.networks) == 2 else \
                    "it is a finite ReLU network"
                claim += (f" ({what}, hence continuous, and the open regions are dense in the "
                          "domain)")
        else:
            claim = f"at every point of {self.domain_text} off the hyperplanes of the splits"
        if self.claim_kind == "property":
            count = f"{len(self.unsafe)} disjunct{'s' if len(self.unsafe) > 1 else ''}"
            claim = (f"the network is defined and finite, and its output lies outside the unsafe "
                     f"set ({count}), {claim}")
        else:
            claim = f"both networks are defined, finite and equal {claim}"
        hashes = tuple(_hash(net) for net in self.networks)
        return Verdict(True, f"{claim} (scope {self.scope}); {self.pieces} pieces, "
                       f"{self.empties} empty leaves, "
                       f"{f'{self.bounded} bound leaves, ' if self.bounded else ''}"
                       f"{self.nodes} nodes", "", self.pieces, self.empties, self.nodes,
                       self.scope, claim, hashes, self.domain_text, self.bounded)

    def _equal_header(self, doc: dict, given: tuple[object, ...] | None) -> None:
        nets = _get(doc, "networks", "")
        if not isinstance(nets, list) or len(nets) != 2:
            raise _Reject("networks must be a list of two network documents", "networks")
        self._networks(nets, given)
        if len(self.networks[1].layers[-1].bias) != self.outputs:
            raise _Reject(f"networks[0] has {self.outputs} outputs, networks[1] has "
                          f"{len(self.networks[1].layers[-1].bias)}", "networks[1]")
        self.unsafe_doc: list = []
        self.unsafe: list[tuple[list[Affine], list[Affine]]] = []

    def _property_header(self, doc: dict, given: tuple[object, ...] | None) -> None:
        """One network, and the unsafe set: a list of disjuncts, each {"nonstrict": rows,
        "strict": rows} of output rows [c_1, ..., c_m, d] meaning c·y + d ≥ 0 (> 0)."""
        if self.version < 3:
            raise _Reject("a property certificate needs version 3 or 4", "version")
        nets = _get(doc, "networks", "")
        if not isinstance(nets, list) or len(nets) != 1:
            raise _Reject("networks must be a list of one network document", "networks")
        self._networks(nets, given)
        if self.scope == "open" and not self.networks[0].finite_relu:
            raise _Reject("scope open proves a property only of a finite ReLU network "
                          "(continuity); use scope everywhere", "scope")
        self.unsafe_doc = _get(doc, "unsafe", "")
        if not isinstance(self.unsafe_doc, list) or not self.unsafe_doc:
            raise _Reject("unsafe must be a nonempty list of disjuncts", "unsafe")
        self.unsafe = []
        for d, disjunct in enumerate(self.unsafe_doc):
            where = f"unsafe[{d}]"
            disjunct = _object(disjunct, where)
            if set(disjunct) != {"nonstrict", "strict"}:
                raise _Reject('a disjunct has exactly the keys "nonstrict" and "strict"', where)
            parts = []
            for part in ("nonstrict", "strict"):
                rows = disjunct[part]
                if not isinstance(rows, list):
                    raise _Reject("must be a list of rows", f"{where}.{part}")
                parts.append([_affine(row, self.outputs, f"{where}.{part}[{r}]")
                              for r, row in enumerate(rows)])
            self.unsafe.append((parts[0], parts[1]))

    def _networks(self, nets: list, given: tuple[object, ...] | None) -> None:
        self.networks = [_network(net, f"networks[{k}]", self.n) for k, net in enumerate(nets)]
        self.outputs = len(self.networks[0].layers[-1].bias)
        if given is not None:
            if len(given) != len(nets):
                raise _Reject(f"the certificate holds {len(nets)} networks, {len(given)} were "
                              "given", "networks")
            for k, net in enumerate(given):
                if _network(net, f"the given network {k + 1}", self.n) != self.networks[k]:
                    raise _Reject(f"networks[{k}] is not the given network {k + 1}",
                                  f"networks[{k}]")

    def _domain(self, value: object) -> None:
        domain = _object(value, "domain")
        self.n = _get(domain, "dim", "domain.")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise _Reject("dim must be a positive integer", "domain.dim")
        self.base_rows: list[_Row] = []
        for part, kind in (("inequalities", "≥"), ("equalities", "=")):
            rows = _get(domain, part, "domain.")
            if not isinstance(rows, list):
                raise _Reject("must be a list of rows", f"domain.{part}")
            for r, row in enumerate(rows):
                where = f"domain.{part}[{r}]"
                self.base_rows.append(_Row(kind, _affine(row, self.n, where), where))
        self._bounds()
        count = len(self.base_rows)
        self.domain_text = (f"R^{self.n}" if count == 0 else
                            f"the subset of R^{self.n} cut out by the {count} domain rows")

    def _bounds(self) -> None:
        """lo_i ≤ x_i ≤ hi_i from the domain rows that hold one coordinate, as integers over
        one common denominator (None where unbounded): the box around the domain."""
        lows, highs = _box(self.base_rows, self.n)
        common = 1
        for v in (*lows, *highs):
            if v is not None:
                common = common * v.denominator // gcd(common, v.denominator)
        self.box = [tuple(None if v is None else v.numerator * (common // v.denominator)
                          for v in side) for side in (lows, highs)]
        self.box_common = common
        self.box_signs: dict[tuple[int, ...], int | None] = {}

    def box_sign(self, key: tuple[int, ...]) -> int | None:
        """The sign of the function ``key`` on the domain's box, if that fixes it: its least
        value there > 0, or its greatest < 0 (every node lies in the domain, so in the box)."""
        if key in self.box_signs:
            return self.box_signs[key]
        # Bounds over one common denominator: charge the size of its integers too, so that
        # many coprime denominators cannot make a short certificate cost far more than it says.
        self.spend(len(key) * (1 + self.box_common.bit_length() // 64))
        low = high = key[-1] * self.box_common
        answer: int | None = None
        for a, lo, hi in zip(key, *self.box):
            if a:
                least, most = (lo, hi) if a > 0 else (hi, lo)
                low = None if low is None or least is None else low + a * least
                high = None if high is None or most is None else high + a * most
                if low is None and high is None:
                    break
        else:
            answer = 1 if low is not None and low > 0 else \
                -1 if high is not None and high < 0 else None
        self.box_signs[key] = answer
        return answer

    def spend(self, work: int) -> None:
        self.work += work
        if self.work > self.budget:
            raise _Reject(f"the certificate needs more than {WORK_PER_NUMBER} arithmetic "
                          "operations per number it holds; the kernel stops there")

    def _walk(self, tree: list) -> None:
        """Depth-first from the root, every node checked once. A subtree needs nothing but
        its own nodes and the frame of its root, so with ``workers`` > 1 the top of the tree is
        walked here breadth first and its subtrees are walked by forked worker processes; the
        node indices each reaches are merged here, so that a node shared by two subtrees or
        reached by none is refused as in one process."""
        seen = [False] * len(tree)
        seen[0] = True
        start: _Task = (0, 0, "", None, [], [], [])
        if self.workers < 2 or len(tree) < _PARALLEL_NODES or \
                "fork" not in multiprocessing.get_all_start_methods():
            self._subtree(tree, seen, start)
        else:
            # Many more subtrees than workers: their sizes differ by orders of magnitude.
            tasks = self._top(tree, seen, start, 16 * self.workers)
            global _FORKED
            _FORKED = (self, tree, seen, tasks)
            results: list = [None] * len(tasks)
            try:
                with multiprocessing.get_context("fork").Pool(
                        self.workers, initializer=_leave_signals_to_the_parent) as pool:
                    for k, result in pool.imap_unordered(_walk_task, range(len(tasks))):
                        results[k] = result
                        if self.progress is not None and not isinstance(result[0], str):
                            self.visited += 1 + len(result[-1])  # its root and the rest
                            self.progress(self.visited, len(tree))
            finally:
                _FORKED = None
            for result in results:  # in the tree's order, so that the same defect is named
                if isinstance(result[0], str):
                    raise _Reject(result[0], result[1])
            for pieces, empties, bounded, work, reached in results:  # type: ignore[misc]
                self.pieces += pieces
                self.bounded += bounded
                self.empties += empties
                self.spend(work)
                for index in reached:
                    if seen[index]:
                        raise _Reject("the child of two splits", f"tree[{index}]")
                    seen[index] = True
        for index, reached in enumerate(seen):
            if not reached:
                raise _Reject("no split has this node as a child (unreachable)", f"tree[{index}]")

    def _top(self, tree: list, seen: list[bool], start: _Task, count: int) -> list[_Task]:
        """Walk the tree breadth first until ``count`` subtrees are left: their roots, with
        the rows, sides and frames of their paths."""
        queue = collections.deque([start])
        while queue and len(queue) < count:
            index, depth, side, row, rows, sides, frames = queue.popleft()
            self.visited += 1
            rows, sides, frames = list(rows), list(sides), list(frames)
            children = self._visit(tree, seen, index, side, row, rows, sides, frames)
            queue.extend((c, d, s, r, rows, sides, frames) for c, d, s, r in reversed(children))
        return list(queue)

    def _subtree(self, tree: list, seen: list[bool], task: _Task) -> None:
        """Depth-first below one node, with an explicit stack: ``rows``, ``sides`` and
        ``frames`` hold the path. A node's frame is what it knows (its signs) and how far each
        network's evaluation has got there, which its children start from."""
        index, depth, side, row, rows, sides, frames = task
        rows, sides, frames = list(rows), list(sides), list(frames)
        stack: list[tuple[int, int, str, _Row | None]] = [(index, depth, side, row)]
        while stack:
            index, depth, side, row = stack.pop()
            del rows[depth:], sides[depth:], frames[depth + (row is not None):]
            stack.extend(self._visit(tree, seen, index, side, row, rows, sides, frames))
            self.visited += 1
            if self.progress is not None and self.visited % 1024 == 0:
                self.progress(self.visited, len(tree))

    def _visit(self, tree: list, seen: list[bool], index: int, side: str, row: _Row | None,
               rows: list[_Row], sides: list[str], frames: list) -> list:
        """Check one node given its path (``rows`` etc. up to its parent); extend the path by
        the node, and return its children for the stack."""
        if row is not None:
            rows.append(row)
            sides.append(side)
        try:
            node = tree[index]
            if not isinstance(node, dict):
                raise _Reject(f"a node must be an object, found {_brief(node)}")
            # An empty or bound leaf evaluates nothing; every other node starts from its parent.
            frame = None if "empty" in node or "bound" in node else \
                self._frame(frames[-1] if frames else None, row)
            frames.append(frame)
            return self._node(node, tree, index, rows, seen, frame)
        except _Reject as reject:
            label = f"tree[{index}] ({'/'.join(['root', *sides])})"
            raise _Reject(reject.reason, label + reject.path) from None

    def _frame(self, parent: tuple[_Signs, tuple] | None, row: _Row | None
               ) -> tuple[_Signs, tuple]:
        """A node's signs and evaluations, from its parent's and its own last row."""
        if parent is None:
            signs = self._root_signs()
            return signs, tuple(p.advance(p.start(), signs, None, True) for p in self.programs)
        signs, states = parent
        assert row is not None
        if row.kind == "=":
            signs = signs.with_equality(row.f)
            return signs, tuple(p.advance(s, signs, None, True)
                                for p, s in zip(self.programs, states))
        signs, key = signs.with_strict(row.f)
        return signs, tuple(p.advance(s, signs, key, False) for p, s in zip(self.programs, states))

    def _root_signs(self) -> _Signs:
        signs = _Signs(self, (), {}, ())
        for row in self.base_rows:
            if row.kind == "=":
                signs = signs.with_equality(row.f)
        return signs

    def _node(self, node: dict, tree: list, index: int, path: list[_Row], seen: list[bool],
              frame: tuple[_Signs, tuple] | None) -> list[tuple[int, int, str, _Row]]:
        """Check one node; return its children (last visited first) for the stack."""
        kinds = [key for key in ("split", "empty", "piece", "bound") if key in node]
        if len(kinds) != 1:
            raise _Reject('a node must have exactly one of "split", "empty", "piece", "bound"')
        if kinds != ["split"] and "children" in node:
            raise _Reject('only a split node may have "children"')
        if kinds == ["empty"]:
            self._empty(node["empty"], self.base_rows + path)
            self.empties += 1
            return []
        if kinds == ["bound"]:
            if self.claim_kind != "property" or self.version < 5 or \
                    not self.networks[0].finite_relu:
                raise _Reject("a bound leaf belongs to a property certificate of version 5 "
                              "about a finite ReLU network")
            self._bound(node["bound"], self.base_rows + path)
            self.bounded += 1
            return []
        assert frame is not None
        if kinds == ["piece"]:
            self._piece(node["piece"], self.base_rows + path, frame)
            self.pieces += 1
            return []
        phi = _affine(node["split"], self.n, ".split")
        if not any(phi[:-1]):
            raise _Reject("the split function is constant; it must be a hyperplane", ".split")
        children = _get(node, "children", "")
        sides = _SIDES[self.scope]
        merged = self.scope == "everywhere" and self.version >= 4 and \
            isinstance(children, dict) and set(children) in ({"+", "-0"}, {"-", "+0"})
        if merged:
            sides = ("+", "-0") if "+" in children else ("-", "+0")
        elif not isinstance(children, dict) or set(children) != set(sides):
            raise _Reject(f'children must be an object with exactly the keys {", ".join(sides)} '
                          f"(scope {self.scope}"
                          f"{'; or +, -0; or -, +0' if self.scope == 'everywhere' else ''})",
                          ".children")
        origin = f"split of tree[{index}]"
        minus = tuple(-c for c in phi)
        asserted = {"+": _Row(">", phi, origin + ", side +"),
                    "0": _Row("=", phi, origin + ", side 0"),
                    "-": _Row(">", minus, origin + ", side -"),
                    "-0": _Row("≥", minus, origin + ", side -0"),
                    "+0": _Row("≥", phi, origin + ", side +0")}
        out = []
        for side in sides:
            child = children[side]
            where = f'.children["{side}"]'
            if isinstance(child, bool) or not isinstance(child, int):
                raise _Reject(f"a child must be a node index, found {_brief(child)}", where)
            if not index < child < len(tree):
                raise _Reject(f"child index {_brief(child)} must lie in {index + 1}.."
                              f"{len(tree) - 1} (children come after their parent)", where)
            if len(side) == 2 and not (isinstance(tree[child], dict) and "empty" in tree[child]):
                raise _Reject(f"side {side} joins two sides and must be an empty leaf", where)
            if seen[child]:
                raise _Reject(f"tree[{child}] is the child of two splits", where)
            seen[child] = True
            self.marked.append(child)
            out.append((child, len(path), side, asserted[side]))
        if self.scope == "open" and all(isinstance(tree[c], dict) and "empty" in tree[c]
                                        for c, _, _, _ in out):
            raise _Reject("in scope open a split needs a child that is not an empty leaf "
                          "(else its hyperplane may hold the whole domain)", ".children")
        return out[::-1]

    def _empty(self, value: object, rows: list[_Row], where: str = ".empty") -> None:
        """Motzkin: Σ μ_r f_r has zero x-part and constant κ < 0, or κ = 0 with a strict μ_r > 0."""
        if not isinstance(value, list) or len(value) != len(rows):
            raise _Reject(f"expected a list of {len(rows)} multipliers, one per row", where)
        strict_used = False
        terms = []
        for r, (item, row) in enumerate(zip(value, rows)):
            if item == "0":  # most multipliers: nothing to add or check
                continue
            mu = _rational(item, f"{where}[{r}]")
            if row.kind != "=" and mu < 0:
                raise _Reject(f"multiplier {_num(mu)} of the {row.kind} row ({row.origin}) "
                              "is negative", f"{where}[{r}]")
            strict_used = strict_used or (row.kind == ">" and mu > 0)
            if mu:
                terms.append((mu * row.scale, row.ints))  # type: ignore[attr-defined]
        # Σ μ_r f_r = Σ c_r · ints_r, summed over the common denominator of the c_r.
        common = 1
        for c, _ in terms:
            common = common * c.denominator // gcd(common, c.denominator)
        total = [0] * (self.n + 1)
        for c, ints in terms:
            factor = c.numerator * (common // c.denominator)
            for i, a in enumerate(ints):
                if a:
                    total[i] += factor * a
        self.spend(len(rows) + len(terms) * (self.n + 1))
        if any(total[:-1]):
            shown = tuple(Fraction(t, common) for t in total)
            raise _Reject(f"Σ μ·row = {_show(shown)} is not constant", where)
        kappa = Fraction(total[-1], common)
        if kappa > 0 or (kappa == 0 and not strict_used):
            raise _Reject(f"Σ μ·row is the constant {_num(kappa)}; a Motzkin certificate needs "
                          "κ < 0, or κ = 0 with a positive multiplier on a strict row", where)

    def _witness(self, leaf: dict, rows: list[_Row], where: str) -> None:
        """The leaf's witness, a point that satisfies every row of the node."""
        witness = _get(leaf, "witness", where + ".")
        if not isinstance(witness, list) or len(witness) != self.n:
            raise _Reject(f"the witness must list {self.n} coordinates", where + ".witness")
        point = [_rational(v, f"{where}.witness[{i}]") for i, v in enumerate(witness)]
        # The sign of f at the point is that of ints · (common · point, common): integers only.
        common = 1
        for v in point:
            common = common * v.denominator // gcd(common, v.denominator)
        scaled = [v.numerator * (common // v.denominator) for v in point] + [common]
        for row in rows:
            at = sum(a * v for a, v in zip(row.ints, scaled) if a)  # type: ignore[attr-defined]
            if at < 0 or (at == 0 and row.kind == ">") or (at > 0 and row.kind == "="):
                raise _Reject(f"the witness violates {_show(row.f)} {row.kind} 0 ({row.origin}); "
                              f"the value there is {_num(_at(row.f, point))}", where + ".witness")
        self.spend(len(rows) * (self.n + 1))

    def _piece(self, value: object, rows: list[_Row], frame: tuple[_Signs, tuple]) -> None:
        """Witness inside the piece; both maps finite; their difference is Σ λ_j E_j."""
        piece = _object(value, ".piece")
        self._witness(piece, rows, ".piece")
        if self.claim_kind == "property":
            self._outside(piece, rows, frame)
            return
        equalities = [row.f for row in rows if row.kind == "="]
        lambdas = _get(piece, "lambda", ".piece.")
        if not isinstance(lambdas, list) or len(lambdas) != self.outputs:
            raise _Reject(f"lambda must hold one list per output ({self.outputs})", ".piece.lambda")
        for k, lams in enumerate(lambdas):
            if not isinstance(lams, list) or len(lams) != len(equalities):
                raise _Reject(f"expected {len(equalities)} multipliers, one per equality row",
                              f".piece.lambda[{k}]")
        signs, states = frame
        first, second = (program.outputs(program.settle(state, signs), signs)
                         for program, state in zip(self.programs, states))
        for k, (a, b, lams) in enumerate(zip(first, second, lambdas)):
            rest = [x - y for x, y in zip(a, b)]
            for j, (lam, e) in enumerate(zip(lams, equalities)):
                _add(rest, -_rational(lam, f".piece.lambda[{k}][{j}]"), e)
            self.spend(len(equalities) * (self.n + 1))
            if any(rest):
                raise _Reject(f"output {k}: networks[0] gives {_show(a)}, networks[1] gives "
                              f"{_show(b)}; their difference minus Σ λ·E is {_show(tuple(rest))}",
                              f".piece.lambda[{k}]")


    def _outside(self, piece: dict, rows: list[_Row], frame: tuple[_Signs, tuple]) -> None:
        """The network is an affine map Y(x) on the piece; for each disjunct, Motzkin
        multipliers show that no point of the piece (of its closure in scope open, where the
        map extends by continuity) has Y(x) in it."""
        signs, states = frame
        program = self.programs[0]
        maps = program.outputs(program.settle(states[0], signs), signs)
        proofs = _get(piece, "unsafe", ".piece.")
        if not isinstance(proofs, list) or len(proofs) != len(self.unsafe):
            raise _Reject(f"unsafe must hold one list of multipliers per disjunct "
                          f"({len(self.unsafe)})", ".piece.unsafe")
        if self.scope == "open":  # the closure: every point of it is a limit of the piece
            rows = [_Row("≥", row.f, row.origin) if row.kind == ">" else row for row in rows]
        for d, ((nonstrict, strict), proof) in enumerate(zip(self.unsafe, proofs)):
            extra = []
            for kind, part, name in (("≥", nonstrict, "nonstrict"), (">", strict, "strict")):
                for r, c in enumerate(part):
                    f = [_ZERO] * self.n + [c[-1]]
                    for k, ck in enumerate(c[:-1]):
                        if ck:
                            _add(f, ck, maps[k])
                    self.spend(self.outputs * (self.n + 1))
                    extra.append(_Row(kind, tuple(f), f"unsafe[{d}].{name}[{r}] at this piece"))
            self._empty(proof, rows + extra, f".piece.unsafe[{d}]")

    def _bound(self, value: object, rows: list[_Row]) -> None:
        """No point of the node's box B has its output in a disjunct: over B, section 11's
        bounds give a number R ≥ c·N(x) + d for each output row, and in every disjunct some
        row has R < 0 (R ≤ 0 for a strict row), so it fails at every point of B."""
        leaf = _object(value, ".bound")
        if set(leaf) != {"witness"}:
            raise _Reject('a bound leaf has exactly the key "witness"', ".bound")
        self._witness(leaf, rows, ".bound")
        lows, highs = _box(rows, self.n)
        if None in lows or None in highs:
            raise _Reject("a bound leaf needs every coordinate bounded below and above by the "
                          "domain's or the path's one-coordinate rows", ".bound")
        if self.relaxation is None:
            self.relaxation = BoxRelaxation(self.networks[0], self.n)
        bound = self.relaxation.over(lows, highs)  # type: ignore[arg-type]
        for d, (nonstrict, strict) in enumerate(self.unsafe):
            if not any(bound(c) < 0 for c in nonstrict) and \
                    not any(bound(c) <= 0 for c in strict):
                raise _Reject(f"over the node's box no row of unsafe[{d}] is bounded below 0 "
                              "(section 11)", ".bound")


class _Signs:
    """What a node knows. Functions are compared modulo the node's equality rows E (domain
    equalities and path "0" sides), on coprime integer forms: reducing f by a basis row b of E
    (pivot p, b_p > 0, b zero at every earlier pivot) replaces f by b_p·f − f_p·b, a positive
    multiple of f minus a multiple of b, then divides by the gcd; so reduce(f) is a positive
    multiple of f plus a combination of E, and two functions agree on the node's affine hull up
    to a positive factor iff their reductions are equal. The sign of f is known if its
    reduction is a constant, or ± the reduction of a strict row of the path (``known`` maps
    each reduced strict row, first nonzero x-coefficient made positive, to its sign), or if the
    domain's box fixes the sign of the reduction (which is a positive multiple of f on the
    node, and the node lies in the box)."""

    def __init__(self, check: _Check, basis: tuple[tuple[int, tuple[int, ...]], ...],
                 known: dict[tuple[int, ...], int], strict: tuple[Affine, ...],
                 cache: dict | None = None) -> None:
        self.check = check
        self.basis = basis
        self.known = known
        self.strict = strict
        # Canonical forms depend on the basis only, so nodes sharing it share the cache, and
        # the index from a key to the gate functions (see _Gate) that have it.
        self._cache: dict = {} if cache is None else cache
        self.gates: dict[tuple[int, ...], list] = self._cache.setdefault("gates", {})

    def with_equality(self, e: Affine) -> _Signs:
        r = self.reduce(_ray(e))
        pivot = next((i for i, c in enumerate(r[:-1]) if c), None)
        if pivot is None:  # implied by the others (or contradicting them: the set is empty)
            return self
        basis = (*self.basis, (pivot, r if r[pivot] > 0 else tuple(-c for c in r)))
        signs = _Signs(self.check, basis, {}, self.strict)
        for f in self.strict:
            key, s = signs.canonical(f)
            if key is not None:
                signs.known[key] = s
        return signs

    def with_strict(self, f: Affine) -> tuple[_Signs, tuple[int, ...] | None]:
        """The signs once f > 0 is known too, and f's key (None for a constant)."""
        key, s = self.canonical(f)
        known = dict(self.known)
        if key is not None:
            known[key] = s
        return _Signs(self.check, self.basis, known, (*self.strict, f), self._cache), key

    def reduce(self, ints: tuple[int, ...]) -> tuple[int, ...]:
        for p, b in self.basis:
            a = ints[p]
            if a:
                ints = tuple(b[p] * x - a * y for x, y in zip(ints, b))
                g = gcd(*ints)
                if g > 1:
                    ints = tuple(x // g for x in ints)
        self.check.spend(len(self.basis) * len(ints))
        return ints

    def canonical(self, f: tuple) -> tuple[tuple[int, ...] | None, int]:
        """(key, s): s·(the reduction of f) is a positive multiple of the function ``key``,
        coprime integers with first nonzero x-coefficient positive; (None, its sign) when the
        reduction is a constant."""
        answer = self._cache.get(f)
        if answer is None:
            r = self.reduce(_ray(f)) if any(f) else f
            first = next((c for c in r[:-1] if c), 0)
            if not first:
                answer = (None, _sign(r[-1]))
            elif first > 0:
                answer = (tuple(r), 1)
            else:
                answer = (tuple(-c for c in r), -1)
            self._cache[f] = answer
        return answer

    def sign(self, f: tuple) -> int | None:
        key, s = self.canonical(f)
        if key is None:
            return s
        known = self.of_key(key)
        return None if known is None else known * s

    def of_key(self, key: tuple[int, ...]) -> int | None:
        """The sign of the function ``key``: asserted by the path, or fixed by the box."""
        known = self.known.get(key)
        return self.check.box_sign(key) if known is None else known

    def register(self, functions: frozenset) -> None:
        """Index gate functions by their keys on the nodes that share this basis."""
        seen = self._cache.setdefault("registered", set())
        for f in functions - seen:
            key, s = self.canonical(f)
            if key is not None:
                self.gates.setdefault(key, []).append((f, s))
        seen |= functions


# -- symbolic evaluation (CERTIFICATE.md section 7) ---------------------------------------

class _Wait:
    """An undecided neuron (other than a _Gate): it needs the signs of the functions in
    ``needs`` (by key: for each key, the functions and the sign each has where the key's
    function is > 0), or the undecided neuron ``input`` of the previous layer. A newly known
    sign, by ``kind``: "all" — every one is needed, so it counts down ``remaining``; "maybe" —
    they are functions of ±∞ terms that hold where they are > 0 (of both signs, or against a
    known infinity), so one found > 0 makes it look again and one found ≤ 0 counts down; "one"
    — it decides. This only saves work: looking at the neuron again would give the same. (A
    key known twice along a path, by a redundant split, only makes it look again sooner.)
    Never changed once made; a plain class, as the walk makes and drops very many."""

    __slots__ = ("needs", "input", "kind", "remaining")

    def __init__(self, needs: dict | None = None, input: int | None = None, kind: str = "one",
                 remaining: int = 0) -> None:
        self.needs = {} if needs is None else needs
        self.input, self.kind, self.remaining = input, kind, remaining

    def after(self, key: tuple[int, ...], signs: _Signs) -> _Wait | None:
        if self.kind == "one" or self.remaining <= 1 or (
                self.kind == "maybe" and any(signs.known[key] * s > 0
                                             for _, s in self.needs[key])):
            return None
        return _Wait(self.needs, None, self.kind, self.remaining - 1)

    def functions(self) -> list:
        return [f for pairs in self.needs.values() for f, _ in pairs]

    def rekeyed(self, signs: _Signs) -> _Wait | None:
        """The wait on a node whose new equality changed every key: what :meth:`after` gives
        for every function at once (None: look at the neuron again). A function's new key is
        its old key's (an old key is a reduced function, and reducing it further is reducing
        the function), so each old key is reduced once, whatever number of functions it has."""
        if self.input is not None or not self.needs:
            return self if self.input is not None else None
        needs: dict[tuple[int, ...], tuple] = {}
        for old, pairs in self.needs.items():
            key, s = signs.canonical(old)
            known = s if key is None else signs.of_key(key)
            if known is None:
                needs[key] = needs.get(key, ()) + tuple((f, o * s) for f, o in pairs)
                continue
            if key is not None:
                known *= s
            if self.kind == "one" or (self.kind == "maybe" and any(known * o > 0
                                                                    for _, o in pairs)):
                return None
        if not needs:
            return None
        return _Wait(needs, None, self.kind, len(needs))


class _Gate:
    """An undecided neuron whose only undecided terms are ±∞ · c·ReLU(g) of one infinite sign
    ``decides`` (the gates of the shallow networks): it is ``decides``·∞ as soon as one g of
    ``functions`` is known > 0, and ``finite``, the sum of its finite terms and bias, once every
    g is known ≤ 0. Its other terms do not change below the node that made it: its inputs were
    all decided there, and a sign known on a node is known on its children. It is looked at
    again only where its value is needed (``_Program.settle``) or when a new sign decides it,
    which the index of gate functions by key (``_Signs.register``) and one set intersection per
    gate find without going through each gate's functions: that is what keeps wide shallow
    networks cheap."""

    __slots__ = ("functions", "decides", "finite")
    input = None

    def __init__(self, functions: frozenset, decides: int, finite: _Form) -> None:
        self.functions, self.decides, self.finite = functions, decides, finite

    def value(self, signs: _Signs) -> Value | None:
        """Its input on a node (±∞ or the finite sum), or None while a g has no known sign."""
        undecided = False
        for g in self.functions:
            s = signs.sign(g)
            if s is None:
                undecided = True
            elif s > 0:
                return _Inf(self.decides)
        return None if undecided else self.finite


@dataclass(frozen=True)
class _State:
    """A ReLU network on a node: per layer the decided nonzero values and the undecided
    neurons, or the neuron where +∞ and −∞ met. Gated networks are evaluated at the leaves."""

    values: tuple[dict[int, object], ...] = ()
    pending: tuple[dict[int, _Wait], ...] = ()
    undefined: str = ""


class _Program:
    """One network prepared for evaluation on the nodes of the tree."""

    def __init__(self, net: _Network, name: str, check: _Check) -> None:
        self.net, self.name, self.check = net, name, check
        self.n = check.n
        self.zero: Affine = (Fraction(0),) * (self.n + 1)
        self.coordinates = [tuple(Fraction(int(i == j)) for j in range(self.n + 1))
                            for i in range(self.n)] if net.kind != "relu" else []
        # Only neurons with a path of nonzero weights to an output are ever evaluated.
        live = [set(range(len(net.layers[-1].bias)))]
        for layer in reversed(net.layers[1:]):
            live.append({k for j in live[-1] for k, _ in layer.rows[j]})
        self.live = live[::-1]
        self.row_dicts: dict[tuple[int, int], dict[int, Number]] = {}

    def start(self) -> _State:
        if self.net.kind != "relu":
            return _State()
        return _State(tuple({} for _ in self.net.layers),
                      tuple({j: _Wait() for j in sorted(live)} for live in self.live))

    def advance(self, state: _State, signs: _Signs, key: Affine | None,
                everything: bool, finish: bool = False) -> _State:
        """The state on a child knowing its parent's signs and ``key``; with ``everything``
        (the root, or new equalities, which change every key) every undecided neuron is
        looked at again, else only those waiting for ``key`` or a neuron decided just now."""
        if self.net.kind != "relu" or state.undefined or not state.pending[-1]:
            return state
        values, pendings = list(state.values), list(state.pending)
        decided: set[int] = set()
        opened = None
        if key is not None:  # the gate functions the new row makes positive
            sign = signs.known[key]
            opened = {f for f, s in signs.gates.get(key, ()) if sign * s > 0}
        for li in range(len(self.net.layers)):
            retry, shrunk, now = [], {}, {}
            if everything and not finish:  # new keys: the gate functions positive now
                functions = frozenset().union(*(w.functions for w in pendings[li].values()
                                                if isinstance(w, _Gate)))
                signs.register(functions)
                opened = {f for f in functions if (signs.sign(f) or 0) > 0}
            for j, wait in pendings[li].items():
                if isinstance(wait, _Gate):
                    if opened and not wait.functions.isdisjoint(opened):
                        now[j] = _Inf(wait.decides)
                        retry.append(j)
                    elif finish:
                        value = wait.value(signs)
                        if value is not None:
                            now[j] = value
                            retry.append(j)
                    continue
                if wait.input in decided:
                    retry.append(j)
                    continue
                if everything:
                    after = wait.rekeyed(signs)
                elif key is not None and key in wait.needs:
                    after = wait.after(key, signs)
                else:
                    continue
                if after is None:
                    retry.append(j)
                elif after is not wait:
                    shrunk[j] = after
            decided = set()
            if not retry and not shrunk:
                continue
            pending, mine = {**pendings[li], **shrunk}, dict(values[li])
            for j in retry:
                result = self._activate(li, now[j], signs) if j in now \
                    else self._neuron(li, j, values, pendings, signs)
                if isinstance(result, (_Wait, _Gate)):
                    pending[j] = result
                    continue
                del pending[j]
                decided.add(j)
                if isinstance(result, str):
                    return _State(state.values, state.pending, result)
                if result is not None:
                    mine[j] = result
            values[li], pendings[li] = mine, pending
        return _State(tuple(values), tuple(pendings))

    def settle(self, state: _State, signs: _Signs) -> _State:
        """The state where every neuron's value is needed (a piece leaf): each undecided one
        looked at again, every gate too."""
        return self.advance(state, signs, None, True, finish=True)

    def outputs(self, state: _State, signs: _Signs) -> list[Affine]:
        """The affine map of every output on a piece leaf, or a rejection saying why not."""
        if self.net.kind != "relu":
            return self._gated(signs)
        if state.undefined:
            raise _Reject(state.undefined)
        for li, pending in enumerate(state.pending):
            for j, wait in pending.items():
                functions = wait.functions if isinstance(wait, _Gate) else wait.functions()
                for f in (f for f in functions if signs.sign(f) is None):
                    raise _Reject(f"{self.name}.layers[{li}] row {j} needs the sign of "
                                  f"{_show(f)}, which no row on the path asserts")
        out = []
        for k in range(len(self.net.layers[-1].bias)):
            value = state.values[-1].get(k, self.zero)
            if isinstance(value, _Inf):
                raise _Reject(f"{self.name} output {k} is {'+∞' if value.sign > 0 else '−∞'} "
                              "on this piece")
            out.append(value)
        return out

    def _neuron(self, li: int, j: int, values: list, pendings: list, signs: _Signs) -> object:
        """Neuron j of layer li: its decided value (ReLU(z) for a hidden layer, the affine map
        or ±∞ for an output; None for 0), a _Wait, or the message of an ∞ − ∞."""
        layer = self.net.layers[li]
        row, bias = layer.rows[j], layer.bias[j]
        where = f"{self.name}.layers[{li}] row {j}"
        known: set[int] = set()
        maybe: dict[int, list[Affine]] = {}
        finite: list[tuple[Fraction, _Form]] = []
        if isinstance(bias, _Inf):
            known.add(bias.sign)
            bias = Fraction(0)
        if li == 0:  # x_k times ±∞ needs the sign of x_k
            const = [Fraction(0)] * self.n + [bias]
            for k, w in row:
                if isinstance(w, _Inf):
                    x = tuple(Fraction(int(i == k)) for i in range(self.n + 1))
                    s = signs.sign(x)
                    if s is None:
                        return _wait([x], signs)
                    if s:
                        known.add(w.sign * s)
                else:
                    const[k] = w
            self.check.spend(self.n + 1)
            z: _Form | None = _Form(tuple(const))
        else:
            previous, inputs = pendings[li - 1], values[li - 1]
            # Look up by the shorter side: the shallow networks' output rows read thousands
            # of neurons, of which only a few are undecided or nonzero on a node.
            if previous:
                if len(previous) < len(row):
                    d = self._row_dict(li, j)
                    hit = next((k for k in previous if k in d), None)
                else:
                    hit = next((k for k, _ in row if k in previous), None)
                if hit is not None:
                    return _Wait(input=hit)
            if len(inputs) < len(row):
                d = self._row_dict(li, j)
                pairs = [(d[k], a) for k, a in inputs.items() if k in d]
            else:
                pairs = [(w, inputs[k]) for k, w in row if k in inputs]
            for w, a in pairs:
                if isinstance(a, _Inf):
                    known.add(a.sign * (w.sign if isinstance(w, _Inf) else _sign(w)))
                elif not isinstance(w, _Inf):
                    finite.append((w, a))
                elif a.passes_relu:  # ±∞ · c·ReLU(g): ±∞ where g > 0, 0 elsewhere
                    s = signs.sign(a.atoms[0][0])
                    if s is None:
                        maybe.setdefault(w.sign, []).append(a.atoms[0][0])
                    elif s > 0:
                        known.add(w.sign)
                else:
                    f = self._resolve(a, signs)
                    if isinstance(f, _Wait):
                        return f
                    s = signs.sign(f)
                    if s is None:
                        return _wait([f], signs)
                    if s:
                        known.add(w.sign * s)
            z = None
        if len(known) == 2:
            return f"{where}: +∞ and −∞ meet in one sum (∞ − ∞ is undefined)"
        if known:
            (s,) = known
            if -s in maybe:
                return _wait(maybe[-s], signs, "maybe")
            return self._activate(li, _Inf(s), signs)
        if len(maybe) == 1:
            ((t, gs),) = maybe.items()
            gate = _Gate(frozenset(gs), t, self._combine(finite, bias))
            signs.register(gate.functions)
            return gate
        if maybe:
            return _wait([g for gs in maybe.values() for g in gs], signs, "maybe")
        return self._activate(li, z if z is not None else self._combine(finite, bias), signs)

    def _activate(self, li: int, z: Value, signs: _Signs) -> object:
        """ReLU of a hidden neuron: ±∞ gives +∞ or 0; a lone positive atom stays; anything
        else is resolved to an affine z, which becomes the atom ReLU(z). An output is
        resolved to its affine map."""
        if li == len(self.net.layers) - 1:
            return z if isinstance(z, _Inf) else self._resolve(z, signs)
        if isinstance(z, _Inf):
            return z if z.sign > 0 else None
        if z.passes_relu:
            return z
        f = self._resolve(z, signs)
        if isinstance(f, _Wait):
            return f
        if not any(f[:-1]):
            return _Form(f) if f[-1] > 0 else None
        g = _ray(f)
        k = next(i for i, c in enumerate(g) if c)
        return _Form(self.zero, ((g, f[k] / g[k]),))

    def _combine(self, terms: list[tuple[Fraction, _Form]], bias: Fraction) -> _Form:
        """bias + Σ w·F: equal atoms added, each pair c·ReLU(g) − c·ReLU(−g) made c·g."""
        const = [_ZERO] * self.n + [bias]
        atoms: dict[tuple[int, ...], Fraction] = {}
        for w, form in terms:
            if form.const is not self.zero:
                _add(const, w, form.const)
            for g, c in form.atoms:
                before = atoms.get(g)
                atoms[g] = w * c if before is None else before + w * c
        self.check.spend((len(terms) + len(atoms)) * (self.n + 1))
        linear = []
        for g in list(atoms):
            c = atoms.get(g)
            if c is None:
                continue
            opposite = tuple(-v for v in g)
            other = atoms.get(opposite)
            if not c or (other is not None and other + c == 0):
                del atoms[g]
                if c:
                    del atoms[opposite]
                    linear.append((c, g))
        return _Form(_plus(const, linear), tuple(atoms.items()))

    def _resolve(self, form: _Form, signs: _Signs) -> Affine | _Wait:
        """The affine map a Form is on the node: ReLU(g) is g where g > 0, else 0."""
        unknown, taken = [], []
        for g, c in form.atoms:
            s = signs.sign(g)
            if s is None:
                unknown.append(g)
            elif s > 0:
                taken.append((c, g))
        if unknown:
            return _wait(unknown, signs, "all")
        self.check.spend(len(form.atoms) * (self.n + 1))
        return _plus(form.const, taken)

    def _row_dict(self, li: int, j: int) -> dict[int, Number]:
        d = self.row_dicts.get((li, j))
        if d is None:
            d = self.row_dicts[li, j] = dict(self.net.layers[li].rows[j])
        return d

    def _gated(self, signs: _Signs) -> list[Affine]:
        """A DGN or DLGN on a piece leaf: every gate needs the sign of its pre-activation."""
        net, name = self.net, self.name
        gates: list[list[bool]] = []
        signal: list[Affine] = list(self.coordinates)
        for i, layer in enumerate(net.gating):
            who = f"{name}.gating[{i}]"
            q = self._affine_layer(layer, signal)
            gate = []
            for j, v in enumerate(q):
                s = signs.sign(v)
                if s is None:
                    raise _Reject(f"{who} row {j} needs the sign of {_show(v)}, which no row "
                                  "on the path asserts")
                gate.append(s > 0)
            gates.append(gate)
            signal = q if net.kind == "dlgn" else [v if g else self.zero for v, g in zip(q, gate)]
        one = self.zero[:-1] + (Fraction(1),)
        h: list[Affine] = [one] * self.n if net.ones else list(self.coordinates)
        for layer, gate in zip(net.layers, gates):
            h = [v if g else self.zero for v, g in zip(self._affine_layer(layer, h), gate)]
        return self._affine_layer(net.layers[-1], h)

    def _affine_layer(self, layer: _Layer, inputs: list[Affine]) -> list[Affine]:
        out = []
        for row, b in zip(layer.rows, layer.bias):
            total = [Fraction(0)] * self.n + [b]
            for k, w in row:
                _add(total, w, inputs[k])  # type: ignore[arg-type]  # gated nets are finite
            self.check.spend(len(row) * (self.n + 1))
            out.append(tuple(total))
        return out


def _wait(functions: list, signs: _Signs, kind: str = "one") -> _Wait:
    needs: dict[tuple[int, ...], tuple] = {}
    for f in functions:
        key, s = signs.canonical(f)
        if key is not None:
            needs[key] = (*needs.get(key, ()), (f, s))
    return _Wait(needs, None, kind, len(needs))


# -- bound leaves (CERTIFICATE.md section 11) ----------------------------------------------

# A bound leaf's affine bounds are kept on the grid of multiples of 2^-GRID_BITS, each rounded
# outward, so that their numbers stay about that size instead of growing layer by layer.
GRID_BITS = 64
_GRID = 1 << GRID_BITS
_G2 = _GRID * _GRID


@dataclass(frozen=True)
class _IntLayer:
    """A finite layer over the common denominator q of its numbers: W = weights / q (dense
    rows, also split by sign), b = bias / q; ``bits`` bounds the weights' bit lengths."""

    positive: tuple[tuple[int, ...], ...]
    negative: tuple[tuple[int, ...], ...]
    weights: tuple[tuple[int, ...], ...]
    bias: tuple[int, ...]
    q: int
    bits: int
    _packed: dict[int, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def packed(self, bits: int) -> tuple[int, ...]:
        """The weight rows, each packed into one integer with ``bits`` bits per column."""
        if bits not in self._packed:
            self._packed[bits] = tuple(_pack(row, bits) for row in self.weights)
        return self._packed[bits]

    @staticmethod
    def of_rows(rows: list[tuple[dict[int, Fraction], Fraction]], width: int) -> _IntLayer:
        """The layer whose row j has the weights rows[j][0] (by column) and bias rows[j][1]."""
        q = 1
        for weights, b in rows:
            for v in (b, *weights.values()):
                q = q * v.denominator // gcd(q, v.denominator)
        dense = []
        for weights, _ in rows:
            line = [0] * width
            for c, w in weights.items():
                line[c] = w.numerator * (q // w.denominator)
            dense.append(tuple(line))
        return _IntLayer(tuple(tuple(max(v, 0) for v in r) for r in dense),
                         tuple(tuple(min(v, 0) for v in r) for r in dense), tuple(dense),
                         tuple(b.numerator * (q // b.denominator) for _, b in rows), q,
                         max((abs(v).bit_length() for r in dense for v in r), default=0))


class BoxRelaxation:
    """Section 11's bounds of one finite ReLU network over boxes, with which the kernel checks
    bound leaves (the search proposes them with the same steps in floating point,
    ``bisection._FloatNetwork``; the tests check these against exact evaluation)."""

    def __init__(self, net: _Network, n: int) -> None:
        self.n = n
        self.last = net.layers[-1]
        self.layers = [_IntLayer.of_rows([(dict(row), b) for row, b in zip(layer.rows,
                                                                            layer.bias)],
                                         len(net.layers[i - 1].bias) if i else n)
                       for i, layer in enumerate(net.layers[:-1])]
        self.rows: dict[Affine, _IntLayer] = {}  # output rows over the last layer's inputs

    @staticmethod
    def of_document(doc: object, n: int) -> BoxRelaxation:
        net = _network(doc, "network", n)
        if not net.finite_relu:
            raise _Reject("bounds over a box are for finite ReLU networks", "network")
        return BoxRelaxation(net, n)

    def over(self, lows: list[Fraction], highs: list[Fraction]) -> Callable[[Affine], int]:
        """For the box lows ≤ x ≤ highs: the map from an output row c·y + d (the tuple
        (c_1, ..., c_m, d)) to an integer R with R/G² ≥ c·N(x) + d at every x of the box."""
        # The grid box holds the box: lower ends rounded down, upper ends up.
        lo = [v.numerator * _GRID // v.denominator for v in lows]
        hi = [-(-v.numerator * _GRID // v.denominator) for v in highs]
        relaxed = _Relaxed(self.layers, lo, hi, self.n)

        def row_bound(c: Affine) -> Fraction:
            if c not in self.rows:
                width = len(self.layers[-1].bias) if self.layers else self.n
                self.rows[c] = _IntLayer.of_rows([_combined(c, self.last)], width)
            row = self.rows[c]
            return relaxed.most(len(self.layers), list(row.weights[0]), row.q,
                                Fraction(row.bias[0], row.q))
        return row_bound


class _Relaxed:
    """The relaxation of every hidden neuron over one grid box lo/G ≤ x ≤ hi/G (G = _GRID):
    from bounds l ≤ z ≤ u of its pre-activation z, the lines ReLU(z) ≤ (a·z + b)/G and
    ReLU(z) ≥ λ·z/G, which hold wherever l ≤ z ≤ u (section 11, item 3). The bounds l, u (G²
    times them, integers) come from affine forms L ≤ z ≤ U carried forward layer by layer
    (item 2), tightened by back-substitution (:meth:`most`, item 4) for each neuron they
    leave undecided."""

    def __init__(self, layers: list[_IntLayer], lo: list[int], hi: list[int], n: int) -> None:
        self.layers, self.lo, self.hi = layers, lo, hi
        self.widths = [n, *(len(layer.bias) for layer in layers)]  # of x and of each h
        # Per layer: the picker of the neurons not inactive, and their a, b, λ, u⁺ and bias.
        self.lines: list[tuple] = []
        lower = upper = [[_GRID if k == i else 0 for k in range(n + 1)] for i in range(n)]
        for k, layer in enumerate(layers):
            keep_l = _picker([i for i, f in enumerate(lower) if any(f)])
            keep_u = _picker([i for i, f in enumerate(upper) if any(f)])
            # Each form packed into one integer: a combination of forms is one sum.
            bits = _pack_bits(layer.bits + max(abs(c).bit_length() for f in (*lower, *upper)
                                               for c in f), 2 * len(lower))
            packed = keep_l([_pack(f, bits) for f in lower]) + \
                keep_u([_pack(f, bits) for f in upper])
            forms_l, forms_u, a, b, lam, top = [], [], [], [], [], []
            zero = [0] * (n + 1)
            for j, (pos, neg, bias) in enumerate(zip(layer.positive, layer.negative,
                                                     layer.bias)):
                high = _unpack(sum(map(mul, keep_l(neg) + keep_u(pos), packed)), n + 1, bits)
                high[n] += bias * _GRID
                form_u = _outward(high, layer.q, hi, 1)
                most = _greatest(form_u, lo, hi)
                if most <= 0:  # inactive on the box: ReLU(z) = 0, whatever z's lower form
                    for line in (a, b, lam, top):
                        line.append(0)
                    forms_l.append(zero)
                    forms_u.append(zero)
                    continue
                low = _unpack(sum(map(mul, keep_l(pos) + keep_u(neg), packed)), n + 1, bits)
                low[n] += bias * _GRID
                form_l = _outward(low, layer.q, lo, -1)
                least = _least(form_l, lo, hi)
                if k and least < 0:  # undecided: back-substitution through the lines below
                    row = list(layer.weights[j])
                    most = min(most, self.most(k, row, layer.q, Fraction(bias, layer.q)))
                    if most > 0:  # else the neuron is inactive, whatever its least value
                        least = max(least, -self.most(k, [-w for w in row], layer.q,
                                                      Fraction(-bias, layer.q)))
                slope, intercept, under = _lines(least, most)
                a.append(slope)
                b.append(intercept)
                lam.append(under)
                top.append(max(most, 0))
                if slope == _GRID and intercept == 0:  # z ≥ 0 on the box: ReLU(z) = z
                    forms_l.append(form_l)
                    forms_u.append(form_u)
                    continue
                above = [slope * c for c in form_u]
                above[-1] += intercept * _GRID
                forms_u.append(_outward(above, _GRID, hi, 1))
                forms_l.append(_outward([under * c for c in form_l], _GRID, lo, -1))
            live = _picker([i for i, u in enumerate(top) if u])
            self.lines.append((live, live(a), live(b), live(lam), live(top), live(layer.bias)))
            lower, upper = forms_l, forms_u

    def most(self, k: int, t: list[int], s: int, const: Fraction) -> int:
        """G² times a number ≥ Σ_i (t_i / s)·h_i + const at every x of the box, h the
        outputs of hidden layer k (k = 0: the inputs x). Down from layer k: the coefficients
        are rounded down onto the grid, t_i/s = C_i/G + e_i with e_i ≥ 0, and e_i·h_i ≤
        e_i·max h_i as h_i ≥ 0; each h_i is replaced by its line above where C_i > 0, below
        where C_i < 0; then z = W h' + b by the layer's weights. Constants are kept over G²,
        rounded up."""
        total = _ceil(const * _G2)
        best = None
        while k > 0:
            # Only the neurons not inactive on the box (most are, on a small box): h_i = 0
            # for the others.
            live, a, b, lam, top, bias = self.lines[k - 1]
            t = live(t)
            # The bound at this depth, from 0 ≤ h_i ≤ top_i: only its sign is used once < 0.
            here = total + -(-sum(c * u for c, u in zip(t, top) if c > 0) // s)
            if best is None or here < best:
                best = here
            if best < 0 or not t:  # not t: the sum over h is 0, and here is its bound
                return best
            layer = self.layers[k - 1]
            coeffs, rests = zip(*(divmod(c * _GRID, s) for c in t))
            lifted = [g * (up if g > 0 else down) for g, up, down in zip(coeffs, a, lam)]
            total += -(-sum(map(mul, rests, top)) // (s * _GRID)) + \
                sum(g * c for g, c in zip(coeffs, b) if g > 0) + \
                -(-sum(map(mul, lifted, bias)) // layer.q)
            bits = _pack_bits(layer.bits + max(abs(g) for g in lifted).bit_length(),
                              len(lifted))
            t = _unpack(sum(map(mul, lifted, live(layer.packed(bits)))), self.widths[k - 1],
                        bits)
            s = _G2 * layer.q
            k -= 1
        at_ends = sum(c * (h if c > 0 else low) for c, low, h in zip(t, self.lo, self.hi))
        final = total + -(-at_ends * _GRID // s)
        return final if best is None or final < best else best


def _lines(least: int, most: int) -> tuple[int, int, int]:
    """(a, b, λ) over G: ReLU(z) ≤ (a·z + b)/G and ReLU(z) ≥ λ·z/G wherever l ≤ z ≤ u, for
    l = least/G², u = most/G². Undecided (l < 0 < u): the chord through (l, 0) and (u, u),
    its slope rounded up and b the least intercept that keeps the line on or above ReLU at
    l and at u (so between them: ReLU is convex); λ the chord's slope rounded down, in
    [0, 1), and λ·z ≤ ReLU(z) for every z."""
    if most <= 0:
        return 0, 0, 0
    if least >= 0:
        return _GRID, 0, _GRID
    a = -(-most * _GRID // (most - least))
    b = -(-max(-a * least, (_GRID - a) * most) // _G2)
    return a, b, most * _GRID // (most - least)


def _ceil(v: Fraction) -> int:
    return -(-v.numerator // v.denominator)


def _combined(c: Affine, last: _Layer) -> tuple[dict[int, Fraction], Fraction]:
    """The output row c·y + d over the last layer's inputs h, y = W h + b: (c W, c·b + d)."""
    v: dict[int, Fraction] = {}
    const = c[-1]
    for r, cr in enumerate(c[:-1]):
        if cr:
            const += cr * last.bias[r]  # type: ignore[operator]
            for j, w in last.rows[r]:
                v[j] = v.get(j, _ZERO) + cr * w  # type: ignore[operator]
    return v, const


def _pack(vector: Sequence[int], bits: int) -> int:
    """Σ_j v_j·2^(j·bits): the vector as one integer, so that a linear combination of vectors
    is one sum of products of integers (Kronecker substitution), unpacked by :func:`_unpack`."""
    return sum(v << (j * bits) for j, v in enumerate(vector) if v)


def _pack_bits(size: int, count: int) -> int:
    """Bits per entry enough for a combination of ``count`` packed vectors with coefficients
    and entries whose bit lengths sum to at most ``size``: every entry of the result is
    below count·2^size ≤ 2^(bits−1) in absolute value. A multiple of 64, for reuse."""
    return -(-(size + count.bit_length() + 1) // 64) * 64


@cache
def _offset(width: int, bits: int) -> int:
    return _pack([1 << (bits - 1)] * width, bits)


def _unpack(total: int, width: int, bits: int) -> list[int]:
    """The vector t of ``width`` entries with Σ_j t_j·2^(j·bits) = total, each |t_j| below
    h = 2^(bits−1): total + Σ_j h·2^(j·bits) has the base-2^bits digits t_j + h, in [0, 2^bits)."""
    step, half = bits // 8, 1 << (bits - 1)
    raw = (total + _offset(width, bits)).to_bytes(width * step, "little")
    return [int.from_bytes(raw[i:i + step], "little") - half for i in range(0, width * step, step)]


def _picker(indices: list[int]) -> Callable[[Sequence], tuple]:
    """The function that takes the items at ``indices`` of a sequence, as a tuple."""
    if len(indices) > 1:
        return itemgetter(*indices)
    return lambda items: tuple(items[i] for i in indices)


def _outward(t: list[int], q: int, ends: list[int], direction: int) -> list[int]:
    """The form t / (G·q) moved onto the grid: a lower bound of it on the box (direction −1,
    ``ends`` its lower ends) or an upper bound (1, its upper ends). Each coefficient is
    rounded down, t_k = q·a_k + e_k with 0 ≤ e_k < q, and Σ e_k x_k / (G·q) is bounded by
    its value at ``ends``, then the constant rounded outward."""
    coeffs = [c // q for c in t[:-1]]
    errors = [c - a * q for c, a in zip(t[:-1], coeffs)]
    total = t[-1] * _GRID + sum(map(mul, errors, ends))
    den = _GRID * q
    return [*coeffs, total // den if direction < 0 else -(-total // den)]


def _least(f: list[int], lo: list[int], hi: list[int]) -> int:
    """G² times the least value of the form f over the grid box."""
    return sum(a * (low if a > 0 else high) for a, low, high in zip(f, lo, hi) if a) + \
        f[-1] * _GRID


def _greatest(f: list[int], lo: list[int], hi: list[int]) -> int:
    """G² times the greatest value of the form f over the grid box."""
    return sum(a * (high if a > 0 else low) for a, low, high in zip(f, lo, hi) if a) + \
        f[-1] * _GRID


def _box(rows: list[_Row], n: int) -> tuple[list[Fraction | None], list[Fraction | None]]:
    """lo_i ≤ x_i ≤ hi_i from the rows that hold one coordinate (None where none does): the
    least box that holds the closure of the set the rows describe."""
    lows: list[Fraction | None] = [None] * n
    highs: list[Fraction | None] = [None] * n
    for row in rows:
        used = [i for i, a in enumerate(row.f[:-1]) if a]
        if len(used) != 1:
            continue
        (i,) = used
        a, bound = row.f[i], -row.f[-1] / row.f[i]  # a·x_i + c kind 0
        if row.kind == "=" or a > 0:
            lows[i] = bound if lows[i] is None else max(lows[i], bound)
        if row.kind == "=" or a < 0:
            highs[i] = bound if highs[i] is None else min(highs[i], bound)
    return lows, highs


def _ray(f: tuple) -> tuple[int, ...]:
    """The coprime integers positively proportional to f (not all zero)."""
    lcm = 1
    for c in f:
        d = c.denominator
        if d != 1:
            lcm = lcm * d // gcd(lcm, d)
    ints = [c.numerator * (lcm // c.denominator) for c in f]
    g = gcd(*ints)
    return tuple(c // g for c in ints) if g > 1 else tuple(ints)


# -- reading the document -----------------------------------------------------------------

def _network(value: object, where: str, n: int) -> _Network:
    doc = _object(value, where)
    if _get(doc, "format", where + ".") != NETWORK_FORMAT:
        raise _Reject(f"format must be {NETWORK_FORMAT!r}", where + ".format")
    if not _same_int(_get(doc, "version", where + "."), 1):
        raise _Reject("version must be 1", where + ".version")
    kind = _get(doc, "kind", where + ".")
    if kind == "relu":
        return _Network("relu", _layers(_get(doc, "layers", where + "."), where + ".layers", n,
                                        infinite_ok=True))
    if kind not in ("dgn", "dlgn"):
        raise _Reject('kind must be "relu", "dgn" or "dlgn"', where + ".kind")
    gating = _layers(_get(doc, "gating", where + "."), where + ".gating", n, infinite_ok=False)
    values = _layers(_get(doc, "value", where + "."), where + ".value", n, infinite_ok=False)
    if len(values) != len(gating) + 1:
        raise _Reject(f"{len(gating)} gating layers need {len(gating) + 1} value layers",
                      where + ".value")
    for i, (g, v) in enumerate(zip(gating, values)):
        if len(g.bias) != len(v.bias):
            raise _Reject(f"has {len(v.bias)} neurons, gating[{i}] has {len(g.bias)} gates",
                          f"{where}.value[{i}]")
    value_input = doc.get("value_input", "x")
    if value_input not in ("x", "ones"):
        raise _Reject('value_input must be "x" or "ones"', where + ".value_input")
    return _Network(str(kind), values, gating, value_input == "ones")


def _layers(value: object, where: str, n: int, infinite_ok: bool) -> tuple[_Layer, ...]:
    """A nonempty list of layers; layer 0 reads the n inputs, each next one the previous."""
    if not isinstance(value, list) or not value:
        raise _Reject("must be a nonempty list of layers", where)
    layers = []
    width = n
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        layer = _object(item, at)
        weights, bias = _get(layer, "weights", at + "."), _get(layer, "bias", at + ".")
        if isinstance(weights, dict):
            rows = _sparse(weights, at + ".weights", width, infinite_ok)
        elif isinstance(weights, list) and weights:
            rows = _dense(weights, at + ".weights", width, infinite_ok)
        else:
            raise _Reject("weights must be a nonempty list of rows, or "
                          '{"rows": m, "cols": n, "entries": [[i, j, w], ...]}', at + ".weights")
        if not isinstance(bias, list) or len(bias) != len(rows):
            raise _Reject(f"bias must list {len(rows)} numbers, one per row", at + ".bias")
        layers.append(_Layer(rows, tuple(_number(v, f"{at}.bias[{r}]", infinite_ok)
                                         for r, v in enumerate(bias))))
        width = len(rows)
    return tuple(layers)


def _dense(weights: list, where: str, width: int, infinite_ok: bool) -> tuple:
    rows = []
    for r, row in enumerate(weights):
        if not isinstance(row, list) or len(row) != width:
            raise _Reject(f"a row must list {width} numbers (the width of its input)",
                          f"{where}[{r}]")
        entries = [(c, _number(v, f"{where}[{r}][{c}]", infinite_ok)) for c, v in enumerate(row)]
        rows.append(tuple((c, w) for c, w in entries if isinstance(w, _Inf) or w))
    return tuple(rows)


def _sparse(weights: dict, where: str, width: int, infinite_ok: bool) -> tuple:
    """{"rows": m, "cols": n, "entries": [[i, j, w], ...]}: 0-based, each (i, j) once."""
    if set(weights) != {"rows", "cols", "entries"}:
        raise _Reject('a sparse matrix has exactly the keys "rows", "cols" and "entries"', where)
    m, cols, entries = weights["rows"], weights["cols"], weights["entries"]
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise _Reject("rows must be a positive integer", where + ".rows")
    if not _same_int(cols, width):
        raise _Reject(f"cols must be {width} (the width of its input)", where + ".cols")
    if not isinstance(entries, list):
        raise _Reject("entries must be a list of [row, column, weight]", where + ".entries")
    rows: list[dict[int, Number]] = [{} for _ in range(m)]
    # A shallow network has hundreds of thousands of entries and few distinct weights ("1",
    # "-inf", ...): each text is read once, and a place is named only where it is refused.
    read: dict[str, Number] = {}
    zeros = False
    for k, entry in enumerate(entries):
        if not isinstance(entry, list) or len(entry) != 3:
            raise _Reject("an entry must be [row, column, weight]", f"{where}.entries[{k}]")
        i, j, w = entry
        if not (type(i) is int and 0 <= i < m and type(j) is int and 0 <= j < width):
            for name, index, size in (("row", i, m), ("column", j, width)):
                if type(index) is not int or not 0 <= index < size:
                    raise _Reject(f"the {name} must be an index in 0..{size - 1}",
                                  f"{where}.entries[{k}]")
        row = rows[i]
        if j in row:
            raise _Reject(f"entry ({i}, {j}) is given twice", f"{where}.entries[{k}]")
        value = read.get(w) if isinstance(w, str) else None
        if value is None:
            value = _number(w, f"{where}.entries[{k}][2]", infinite_ok)
            if isinstance(w, str):
                read[w] = value
            zeros = zeros or not (isinstance(value, _Inf) or value)
        row[j] = value
    if zeros:  # kept until here so that a zero given twice is refused too
        rows = [{c: w for c, w in row.items() if isinstance(w, _Inf) or w} for row in rows]
    return tuple(tuple(sorted(row.items())) for row in rows)


def _size(tree: list) -> int:
    """About how many numbers the tree holds (the work bound is proportional to it)."""
    total = 0
    for node in tree:
        if isinstance(node, dict):
            for value in node.values():
                if isinstance(value, list):
                    total += len(value)
                elif isinstance(value, dict):
                    total += sum(len(v) if isinstance(v, list) else 1 for v in value.values())
    return total + len(tree)


def _hash(net: _Network) -> str:
    """sha256 of a canonical text of the network as read: the same for any spelling of the
    same weights (dense or sparse rows, "0.5" or "1/2")."""
    def text(v: Number) -> str:
        return ("inf" if v.sign > 0 else "-inf") if isinstance(v, _Inf) else str(v)
    parts = [net.kind, "ones" if net.ones else "x"]
    for name, layers in (("gating", net.gating), ("layers", net.layers)):
        for layer in layers:
            parts.append(name + ":" + ";".join(
                ",".join(f"{c}:{text(w)}" for c, w in row) for row in layer.rows)
                + "|" + ",".join(map(text, layer.bias)))
    return "sha256:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _affine(value: object, n: int, where: str) -> Affine:
    if not isinstance(value, list) or len(value) != n + 1:
        raise _Reject(f"expected a row of {n + 1} numbers [a_1, ..., a_{n}, c]", where)
    return tuple(_rational(v, f"{where}[{i}]") for i, v in enumerate(value))


def _number(value: object, where: str, infinite_ok: bool) -> Number:
    if isinstance(value, str) and value in ("inf", "+inf", "-inf"):
        if not infinite_ok:
            raise _Reject("±∞ is allowed only in the weights and biases of relu networks", where)
        return _Inf(-1 if value == "-inf" else 1)
    return _rational(value, where)


def _rational(value: object, where: str) -> Fraction:
    """An integer (not a bool), a Fraction from parsed JSON, or a "p/q" or decimal string."""
    if isinstance(value, Fraction):
        return value
    if value == "0":  # by far the most common number of a certificate: cheap to read
        return _ZERO
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    parsed = parse_number(value) if isinstance(value, str) else None
    if parsed is None:
        raise _Reject(f'{_brief(value)} is not an exact number (an integer, "p/q" or a decimal)',
                      where)
    return parsed


def parse_number(text: str) -> Fraction | None:
    """The exact value of a number of the certificate grammar (CERTIFICATE.md section 3), or
    None if ``text`` is not one."""
    if not NUMBER.fullmatch(text):
        return None
    exponent = text.lower().partition("e")[2]
    try:
        if exponent and abs(int(exponent)) > MAX_EXPONENT:
            return None
        if "/" in text:  # "p/q" (the grammar has no other slash): two integers, read fast
            p, q = text.split("/")
            return Fraction(int(p), int(q))
        return Fraction(text)
    except (ValueError, ZeroDivisionError):  # "1/0", or more digits than Python converts
        return None


def _json_decimal(text: str) -> Fraction:
    value = parse_number(text)
    if value is None:
        raise ValueError(f"number {_brief(text)} is out of range")
    return value


def _json_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def json_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object that refuses a repeated key: two readers of the same text could
    otherwise see different documents."""
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {_brief(key)}")
        out[key] = value
    return out


def _object(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise _Reject(f"expected an object, found {_brief(value)}", where)
    return value


def _get(obj: dict, key: str, prefix: str) -> object:
    if key not in obj:
        raise _Reject(f'missing key "{key}"', prefix + key)
    return obj[key]


def _same_int(value: object, target: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value == target


def _add(total: list[Fraction], factor: Fraction, f: Affine) -> None:
    """total += factor · f, entry by entry."""
    for i, c in enumerate(f):
        if c:
            total[i] += factor * c


def _plus(f: Affine | list[Fraction], terms: list[tuple[Fraction, tuple[int, ...]]]) -> Affine:
    """f + Σ c·g for integer rows g, summed in integers over the common denominator of the c
    (one Fraction per coordinate, not one per term)."""
    if not terms:
        return tuple(f)
    common = 1
    for c, _ in terms:
        d = c.denominator
        if d != 1:
            common = common * d // gcd(common, d)
    total = [0] * len(f)
    for c, g in terms:
        m = c.numerator * (common // c.denominator)
        for i, a in enumerate(g):
            if a:
                total[i] += m * a
    return tuple(v + Fraction(t, common) if t else v for v, t in zip(f, total))


def _sign(value: Fraction | int) -> int:
    return (value > 0) - (value < 0)


def _at(f: Affine, point: list[Fraction]) -> Fraction:
    total = f[-1]
    for a, v in zip(f[:-1], point):
        if a:
            total += a * v
    return total


def _show(f: Affine) -> str:
    """a·x + c as text, e.g. "x1 - 2*x2 + 1/2"."""
    terms = [(c, f"x{i + 1}") for i, c in enumerate(f[:-1]) if c]
    if f[-1] or not terms:
        terms.append((f[-1], ""))
    text = ""
    for k, (c, name) in enumerate(terms):
        size = _num(abs(c))
        body = name if name and abs(c) == 1 else f"{size}*{name}" if name else size
        text += ("-" if c < 0 else "") + body if k == 0 else f" {'-' if c < 0 else '+'} {body}"
    return text


def _num(value: Fraction) -> str:
    if value.numerator.bit_length() + value.denominator.bit_length() > 3000:
        return "(a number of some 1000 digits or more)"
    return str(value)


def _brief(value: object) -> str:
    """A short description of a user value for a message (never its full text)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return repr(value[:40]) + ("…" if len(value) > 40 else "")
    if isinstance(value, (int, Fraction)):
        return _num(Fraction(value))
    if isinstance(value, float):
        return f"the float {value!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return "an object" if isinstance(value, dict) else f"a {type(value).__name__}"


def _cut(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "…"
