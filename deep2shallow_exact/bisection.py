"""Close a property's box by bounds, bisecting it where they are too loose.

Over a box, a finite ReLU network lies between linear relaxations (proofs/CERTIFICATE.md
section 11), which bound each row c·y + d of the unsafe set from above; where in every
disjunct some row's bound is below 0, no input of the box reaches the unsafe set. Such a box is
a bound leaf of the property certificate, closed without enumerating its pieces. Otherwise the
box is halved across the input that moves the loosest row most (ReluVal's smear: the bounds
tighten as the box shrinks), and a box on which few neurons are still undecided is handed to
the piece enumeration.

Floats (NumPy) only propose: the same bounds in float64, a bound leaf only where they clear 0
by a margin far above the difference between them and the kernel's exact ones; the trusted
kernel then checks every bound leaf exactly, in the same run, before "holds" is returned. A
counterexample is reported only after exact evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .affine import Affine
from .evaluation import evaluate
from .formats.vnnlib import OutputConstraint, VnnlibProperty
from .network import Network
from .numbers import format_number
from .search import OpenNode, PathRow

# A box with at most this many neurons of undecided sign goes to the piece enumeration, where
# it has at most 2^HAND_OVER pieces and usually far fewer; so does a box this many halvings
# deep, and one that the bounds miss closing by less than the margin.
HAND_OVER = 6
MAX_DEPTH = 60
# The float bounds must close a box by this margin, relative to the row's size, for the box to
# be a bound leaf: the kernel's exact bounds (the same steps, rounded outward on a 2^-64 grid)
# differ from them by far less.
MARGIN = 1e-6


@dataclass
class BoxStats:
    boxes: int = 0          # boxes looked at
    bound_leaves: int = 0   # closed by bounds
    handed_over: int = 0    # given to the piece enumeration
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


def bisect_boxes(net: Network, prop: VnnlibProperty,
                 progress: Callable[[BoxStats], None] | None = None) -> BoxSearch:
    """Bisect the property's box until every part is closed by bounds or handed over. On
    Ctrl-C the parts not yet looked at become open nodes, so nothing is lost."""
    started = time.monotonic()
    domain = prop.domain
    lows, highs = _domain_box(prop)
    floats = _FloatNetwork(net, prop.unsafe)
    result = BoxSearch([None], [], BoxStats())
    stats = result.stats
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
                outputs = evaluate(net, center)  # finite: a finite ReLU network
                d = prop.disjunct_met(outputs)  # type: ignore[arg-type]
                if d is not None:
                    result.counterexample, result.outputs = (center, d), outputs  # type: ignore
                    return result
            if look.closed:
                result.tree[index] = {"bound": {"witness": [format_number(v) for v in center]}}
                stats.bound_leaves += 1
                continue
            # Near: smaller boxes may well stay within the margin too, all the way down.
            if look.undecided <= HAND_OVER or look.near or len(path) >= MAX_DEPTH:
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


@dataclass(frozen=True)
class _Look:
    closed: bool                # the float bounds close every disjunct, with MARGIN
    near: bool                  # they close the first one that is not closed, without it
    undecided: int              # neurons whose sign the float bounds leave open
    split: int                  # the coordinate to halve
    center_meets: int | None    # a disjunct the float output at the center meets


class _FloatNetwork:
    """The same bounds as the kernel's, in floats and without its rounding: a proposal."""

    def __init__(self, net: Network, unsafe: Sequence[Sequence[OutputConstraint]]) -> None:
        layers = [(np.array([[float(w) for w in row] for row in layer.weights]),
                   np.array([float(b) for b in layer.bias])) for layer in net.layers]
        self.hidden = layers[:-1]
        self.split_weights = [(np.maximum(w, 0), np.minimum(w, 0)) for w, _ in self.hidden]
        w_last, b_last = layers[-1]
        # Per disjunct, its rows c·y + d as rows over the last hidden layer: (c W, c·b + d).
        self.rows = []
        for disjunct in unsafe:
            c = np.array([[float(a) for a in con.coeffs] for con in disjunct])
            d = np.array([float(con.const) for con in disjunct])
            self.rows.append((c @ w_last, c @ b_last + d))

    def look(self, lo: np.ndarray, hi: np.ndarray) -> _Look:
        n = len(lo)
        lower = upper = np.hstack([np.eye(n), np.zeros((n, 1))])
        undecided = 0
        masks = []
        lines: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        mid, radius = (lo + hi) / 2, (hi - lo) / 2
        for k, ((w, b), (wp, wn)) in enumerate(zip(self.hidden, self.split_weights)):
            lz, uz = wp @ lower + wn @ upper, wp @ upper + wn @ lower
            lz[:, -1] += b
            uz[:, -1] += b
            least, most = _extent(lz, mid, -radius), _extent(uz, mid, radius)
            cross = (least < 0) & (most > 0)
            if k and cross.any():  # back-substitution through the lines below, z and −z
                count = int(np.count_nonzero(cross))
                bound = self._most(lines, np.vstack([w[cross], -w[cross]]),
                                   np.concatenate([b[cross], -b[cross]]), mid, radius)
                most[cross] = np.minimum(most[cross], bound[:count])
                least[cross] = np.maximum(least[cross], -bound[count:])
            dead, alive = most <= 0, least >= 0
            cross = ~dead & ~alive
            undecided += int(np.count_nonzero(cross))
            masks.append((alive, cross))
            width = np.where(cross, most - least, 1.0)
            a = np.where(cross, most / width, np.where(alive, 1.0, 0.0))
            intercept = np.where(cross, -a * least, 0.0)
            lines.append((a, intercept, a.copy(), np.maximum(most, 0)))
            upper = uz * a[:, None]
            upper[:, -1] += intercept
            lower = lz * a[:, None]
        open_rows, near = None, False
        for cw, cb in self.rows:
            top = np.min(self._most(lines, cw, cb, mid, radius))
            if top >= -MARGIN * (1 + np.abs(cw).sum()):
                open_rows, near = cw, top < 0  # a disjunct the bounds do not close
                break
        if open_rows is None:  # closed: then the split is not used
            split = int(np.argmax(hi - lo))
        else:
            split = int(np.argmax(self._smear(open_rows, masks) * (hi - lo)))
        return _Look(open_rows is None, near, undecided, split, self._meets(mid))

    def _most(self, lines: list, t: np.ndarray, const: np.ndarray, mid: np.ndarray,
              radius: np.ndarray) -> np.ndarray:
        """Upper bounds over the box mid ± radius of the rows t·h + const, h the outputs of the last
        hidden layer in ``lines``: back-substitution, as the kernel's ``_Relaxed.most``."""
        const = const.astype(float)  # a copy
        best = np.full(len(t), np.inf)
        for (a, intercept, lam, top), (w, b) in zip(reversed(lines),
                                                    reversed(self.hidden[:len(lines)])):
            positive = t > 0
            above = np.where(positive, t, 0.0)
            best = np.minimum(best, above @ top + const)
            const += above @ intercept
            t = np.where(positive, t * a, t * lam)
            const += t @ b
            t = t @ w
        return np.minimum(best, t @ mid + np.abs(t) @ radius + const)

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


def _extent(forms: np.ndarray, mid: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Over the box mid ± |radius|, the greatest value of each affine form (rows a·x + c) if
    radius ≥ 0, the least if radius ≤ 0."""
    a = forms[:, :-1]
    return a @ mid + np.abs(a) @ radius + forms[:, -1]
