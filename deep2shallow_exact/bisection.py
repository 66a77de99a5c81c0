"""Close a property's box by affine bounds, bisecting it where they are too loose.

Over a box, a finite ReLU network lies between affine bounds (proofs/CERTIFICATE.md section
11), which turn each row c·y + d of the unsafe set into an affine upper bound R(x); where no
point of the box satisfies one disjunct's R rows, no input there reaches that disjunct. A box
that every disjunct misses this way is a bound leaf of the property certificate, closed
without enumerating its pieces. Otherwise the box is halved across the coordinate that moves
the nearest-to-closed row the most (the bounds tighten as the box shrinks), and a box on which
few neurons are still undecided is handed to the piece enumeration.

Floats (NumPy) only propose: a bound leaf is written only after the kernel's own exact bounds
(:class:`kernel.BoxRelaxation`) and an exact LP have proven it, and a counterexample only after
exact evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .affine import Affine
from .evaluation import evaluate
from .feasibility import Emptiness, LinearSystem, Solver
from .formats import network_to_document
from .formats.vnnlib import OutputConstraint, VnnlibProperty
from .kernel import BoxRelaxation
from .network import Network
from .numbers import Infinity, format_number
from .parallel import fork_map
from .search import OpenNode, PathRow

# A box with at most this many neurons of undecided sign goes to the piece enumeration, where
# it has at most 2^HAND_OVER pieces and usually far fewer; so does a box this many halvings deep.
HAND_OVER = 6
MAX_DEPTH = 60
# The float bounds must close a box by this margin before the exact ones are computed.
MARGIN = 1e-9
# Boxes whose exact proofs are made together (on the workers): about a second of work.
PROOF_BATCH = 128


@dataclass
class BoxStats:
    boxes: int = 0          # boxes looked at
    bound_leaves: int = 0   # closed by bounds
    handed_over: int = 0    # given to the piece enumeration
    lp_calls: int = 0
    exact_failed: int = 0   # float bounds closed it, the exact proof did not
    open_boxes: int = 0     # still to look at
    seconds: float = 0.0


@dataclass
class BoxSearch:
    """The top of a property's certificate tree: bisection splits, bound leaves, and the open
    nodes (index, path, witness, basis) left to the piece enumeration; or a counterexample
    (an exact point and the disjunct its exact output meets)."""

    tree: list[dict | None]
    open_nodes: list[OpenNode]
    stats: BoxStats
    counterexample: tuple[tuple[Fraction, ...], int] | None = None
    outputs: tuple[Fraction, ...] | None = None


def bisect_boxes(net: Network, prop: VnnlibProperty, solver: Solver, workers: int = 1,
                 progress: Callable[[BoxStats], None] | None = None) -> BoxSearch:
    """Bisect the property's box until every part is closed by bounds or handed over. The
    float bounds pick the parts to close; their exact proofs, which cost far more, are made a
    batch at a time on ``workers`` processes. On Ctrl-C the parts not yet looked at or not
    yet proven become open nodes, so nothing is lost."""
    started = time.monotonic()
    domain = prop.domain
    lows, highs = _domain_box(prop)
    floats = _FloatNetwork(net, prop.unsafe)
    relaxation = BoxRelaxation.of_document(network_to_document(net), domain.dim)
    unsafe_rows = [[(*c.coeffs, c.const) for c in disjunct] for disjunct in prop.unsafe]
    result = BoxSearch([None], [], BoxStats())
    stats = result.stats
    to_prove: list[tuple[int, tuple[PathRow, ...], list[Fraction], list[Fraction]]] = []

    def prove() -> None:
        def leaf(k: int) -> dict | None:
            _, path, lo, hi = to_prove[k]
            return _bound_leaf(relaxation, unsafe_rows, prop.unsafe, domain.inequalities,
                               path, lo, hi, solver)
        for (index, _, _, _), found in zip(to_prove, fork_map(leaf, len(to_prove), workers,
                                                              min_items=2 * workers)):
            if found is None:  # then its pieces are enumerated
                stats.exact_failed += 1
                continue
            result.tree[index] = found
            stats.bound_leaves += 1
            stats.lp_calls += len(prop.unsafe)
        to_prove.clear()

    # The tree is the state: a node still None is open (to look at, or handed over), and
    # :func:`_open_nodes` finds them from it, also after Ctrl-C at any point of this loop.
    stack: list[tuple[int, tuple[PathRow, ...], list[Fraction], list[Fraction]]] = [
        (0, (), lows, highs)]
    try:
        while stack:
            index, path, lo, hi = stack.pop()
            stats.boxes += 1
            center = tuple((a + b) / 2 for a, b in zip(lo, hi))
            look = floats.look(np.array(lo, dtype=float), np.array(hi, dtype=float))
            if look.center_meets is not None:
                outputs = evaluate(net, center)
                d = _met(prop.unsafe, outputs)
                if d is not None:
                    result.counterexample, result.outputs = (center, d), outputs  # type: ignore
                    return result
            if look.closed:
                to_prove.append((index, path, lo, hi))
                if len(to_prove) >= PROOF_BATCH:
                    prove()
                continue
            if look.undecided <= HAND_OVER or len(path) >= MAX_DEPTH:
                stats.handed_over += 1
                continue
            i = look.split
            mid = (lo[i] + hi[i]) / 2
            phi = Affine(tuple(Fraction(int(k == i)) for k in range(domain.dim)), -mid)
            first = len(result.tree)
            result.tree[index] = {"split": phi.to_row(), "children": {"+": first,
                                                                      "-": first + 1}}
            result.tree.extend([None, None])
            upper_lo, lower_hi = list(lo), list(hi)
            upper_lo[i], lower_hi[i] = mid, mid
            stack.append((first + 1, (*path, PathRow(phi, "-")), lo, lower_hi))
            stack.append((first, (*path, PathRow(phi, "+")), upper_lo, hi))
            if progress is not None and stats.boxes % 16 == 0:
                stats.seconds, stats.open_boxes = time.monotonic() - started, len(stack)
                progress(stats)
        prove()
    except KeyboardInterrupt:
        result.open_nodes = _open_nodes(result.tree, lows, highs)
        stats.seconds = time.monotonic() - started
        raise BisectionInterrupted(result) from None
    result.open_nodes = _open_nodes(result.tree, lows, highs)
    stats.seconds = time.monotonic() - started
    return result


def _domain_box(prop: VnnlibProperty) -> tuple[list[Fraction], list[Fraction]]:
    bounds = prop.domain.bounds
    return ([Fraction(v, bounds.common) for v in bounds.lows],  # type: ignore[arg-type]
            [Fraction(v, bounds.common) for v in bounds.highs])  # type: ignore[arg-type]


def _open_nodes(tree: list[dict | None], lows: list[Fraction], highs: list[Fraction]
                ) -> list[OpenNode]:
    """The nodes still None below the root, each with its path and its box's centre as the
    witness (strictly inside the halving rows of its path). A split written just before its
    children were appended gets them here."""
    found: list[OpenNode] = []
    stack: list[tuple[int, tuple[PathRow, ...], list[Fraction], list[Fraction]]] = [
        (0, (), lows, highs)]
    while stack:
        index, path, lo, hi = stack.pop()
        if index >= len(tree):
            tree.extend([None] * (index + 1 - len(tree)))
        node = tree[index]
        if node is None:
            found.append((index, path, tuple((a + b) / 2 for a, b in zip(lo, hi)), ()))
        elif "split" in node:
            phi = Affine.from_row(node["split"], "tree")
            i = next(k for k, a in enumerate(phi.coeffs) if a)
            upper_lo, lower_hi = list(lo), list(hi)
            upper_lo[i] = lower_hi[i] = -phi.const
            stack.append((node["children"]["-"], (*path, PathRow(phi, "-")), lo, lower_hi))
            stack.append((node["children"]["+"], (*path, PathRow(phi, "+")), upper_lo, hi))
    return found


class BisectionInterrupted(KeyboardInterrupt):
    """Ctrl-C during the bisection, carrying what it had: its open nodes include the boxes it
    had not looked at."""

    def __init__(self, result: BoxSearch) -> None:
        super().__init__()
        self.result = result


def _met(unsafe: Sequence[Sequence[OutputConstraint]], outputs: Sequence) -> int | None:
    if any(isinstance(v, Infinity) for v in outputs):
        return None
    return next((d for d, disjunct in enumerate(unsafe)
                 if all(c.holds(outputs) for c in disjunct)), None)


def _bound_leaf(relaxation: BoxRelaxation, unsafe_rows: list[list[tuple]],
                unsafe: Sequence[Sequence[OutputConstraint]], domain_rows: Sequence[Affine],
                path: tuple[PathRow, ...], lo: list[Fraction], hi: list[Fraction],
                solver: Solver) -> dict | None:
    """The bound leaf of the box, if the kernel's bounds and one exact LP per disjunct prove
    it: the node's rows (closed) and the disjunct's R rows have no common point. Multipliers
    in the kernel's order: domain rows, path rows, the disjunct's nonstrict then strict rows."""
    row_of = relaxation.over(lo, hi)
    closed_path = tuple(row.asserted for row in path)
    proofs = []
    for rows, disjunct in zip(unsafe_rows, unsafe):
        bounded = [(c.strict, Affine(tuple(f[:-1]), f[-1]))
                   for c, f in zip(disjunct, map(row_of, rows))]
        system = LinearSystem(len(lo), tuple(f for strict, f in bounded if strict),
                              (*domain_rows, *closed_path,
                               *(f for strict, f in bounded if not strict)))
        answer = solver.solve(system)
        if not isinstance(answer, Emptiness):
            return None
        proofs.append([format_number(m) for m in (*answer.nonstrict, *answer.strict)])
    center = [format_number((a + b) / 2) for a, b in zip(lo, hi)]
    return {"bound": {"witness": center, "unsafe": proofs}}


@dataclass(frozen=True)
class _Look:
    closed: bool                # the float bounds close every disjunct, with MARGIN
    undecided: int              # neurons whose sign the float bounds leave open
    split: int                  # the coordinate to halve
    center_meets: int | None    # a disjunct the float output at the center meets


class _FloatNetwork:
    """The same bounds as the kernel's, in floats and without its rounding: a proposal."""

    def __init__(self, net: Network, unsafe: Sequence[Sequence[OutputConstraint]]) -> None:
        layers = [(np.array([[float(w) for w in row] for row in layer.weights]),
                   np.array([float(b) for b in layer.bias])) for layer in net.layers]
        self.hidden = layers[:-1]
        w_last, b_last = layers[-1]
        # Per disjunct, its rows c·y + d as rows over the last hidden layer: (c W, c·b + d).
        self.rows = []
        for disjunct in unsafe:
            c = np.array([[float(a) for a in con.coeffs] for con in disjunct])
            d = np.array([float(con.const) for con in disjunct])
            self.rows.append((c @ w_last, c @ b_last + d))
        self.net_layers = layers

    def look(self, lo: np.ndarray, hi: np.ndarray) -> _Look:
        n = len(lo)
        lower = upper = np.hstack([np.eye(n), np.zeros((n, 1))])
        undecided = 0
        masks = []
        for w, b in self.hidden:
            wp, wn = np.maximum(w, 0), np.minimum(w, 0)
            lz, uz = wp @ lower + wn @ upper, wp @ upper + wn @ lower
            lz[:, -1] += b
            uz[:, -1] += b
            l_min, l_max = _extent(lz, lo, hi)
            u_min, u_max = _extent(uz, lo, hi)
            dead, alive = u_max <= 0, l_min >= 0
            undecided += int(np.count_nonzero(~dead & ~alive))
            masks.append((alive, ~dead & ~alive))
            # Upper: the chord over [u_min, u_max] where U crosses 0.
            cross = (u_min < 0) & (u_max > 0)
            slope = np.where(cross, u_max / np.where(cross, u_max - u_min, 1), 1.0)
            upper = uz * slope[:, None]
            upper[:, -1] -= np.where(cross, slope * u_min, 0.0)
            upper[u_max <= 0] = 0.0
            # Lower: λ·L, λ = max L / (max L − min L), where L crosses 0.
            cross = (l_min < 0) & (l_max > 0)
            lam = np.where(cross, l_max / np.where(cross, l_max - l_min, 1), 1.0)
            lower = lz * lam[:, None]
            lower[l_max <= 0] = 0.0
            upper[dead], lower[dead] = 0.0, 0.0
        open_rows = None
        for cw, cb in self.rows:
            pos, neg = np.maximum(cw, 0), np.minimum(cw, 0)
            r = pos @ upper + neg @ lower
            r[:, -1] += cb
            top = _extent(r, lo, hi)[1]
            if np.min(top) >= -MARGIN:
                open_rows = cw  # a disjunct the bounds do not close: every row is open
                break
        if open_rows is None:  # closed: halve the widest side if the exact proof fails
            split = int(np.argmax(hi - lo))
        else:
            split = int(np.argmax(self._smear(open_rows, masks) * (hi - lo)))
        return _Look(open_rows is None, undecided, split, self._meets((lo + hi) / 2))

    def _smear(self, rows: np.ndarray, masks: list[tuple[np.ndarray, np.ndarray]]
               ) -> np.ndarray:
        """Per input, how far the rows' gradient can reach over the box (ReluVal's smear):
        interval gradients back through the layers, a neuron of undecided sign passing
        [min(g, 0), max(g, 0)], a stable inactive one 0."""
        g_low = g_high = rows
        for (alive, undecided), (w, _) in zip(reversed(masks), reversed(self.hidden)):
            g_low = np.where(alive, g_low, np.where(undecided, np.minimum(g_low, 0), 0))
            g_high = np.where(alive, g_high, np.where(undecided, np.maximum(g_high, 0), 0))
            wp, wn = np.maximum(w, 0), np.minimum(w, 0)
            g_low, g_high = g_low @ wp + g_high @ wn, g_high @ wp + g_low @ wn
        return np.maximum(np.abs(g_low), np.abs(g_high)).sum(axis=0)

    def _meets(self, x: np.ndarray) -> int | None:
        h = x
        for w, b in self.hidden:
            h = np.maximum(w @ h + b, 0)
        for d, (cw, cb) in enumerate(self.rows):
            if np.all(cw @ h + cb >= 0):
                return d
        return None


def _extent(forms: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least and greatest value over the box of each affine form (rows a·x + c)."""
    a = forms[:, :-1]
    least = np.where(a > 0, a * lo, a * hi).sum(axis=1) + forms[:, -1]
    most = np.where(a > 0, a * hi, a * lo).sum(axis=1) + forms[:, -1]
    return least, most
