"""Hypothesis strategies for property-based tests of exact networks.

Every strategy draws exact rationals, and the point strategies find their points exactly: a
wall point really has a pre-activation equal to 0, found by walking a segment through the
exact local affine structure of the network (:mod:`deep2shallow_exact.local`), never by a
float search. Each strategy is a deterministic function of hypothesis's draws, so failures
shrink and replay.

Example::

    from hypothesis import given
    from deep2shallow_exact.evaluation import evaluate
    from deep2shallow_exact.strategies import points, relu_networks

    @given(relu_networks(input_dim=2), points(2))
    def test_one_value_per_output(net, x):
        assert len(evaluate(net, x)) == net.output_dim

Needs the ``hypothesis`` package (a test dependency, not a runtime one).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import TypeVar

from hypothesis import reject
from hypothesis import strategies as st

from .local import local_view
from .network import GatedNetwork, Layer, Network, ReluNetwork

T = TypeVar("T")
Point = tuple[Fraction, ...]
Widths = tuple[int, ...]

# Segments tried before a point strategy gives up on a draw; more tries mean fewer rejected
# examples for networks whose walls are far from the drawn points.
_SEGMENT_TRIES = 3


def rationals(max_numerator: int = 10, max_denominator: int = 4) -> st.SearchStrategy[Fraction]:
    """Fractions p/q with |p| ≤ max_numerator and 1 ≤ q ≤ max_denominator (bounded height).

    Shrinks towards 0. Example: ``rationals(max_numerator=3, max_denominator=2)`` draws from
    {0, ±1/2, ±1, ±3/2, ±2, ±3}.
    """
    if max_numerator < 0 or max_denominator < 1:
        raise ValueError("rationals needs max_numerator >= 0 and max_denominator >= 1")
    return st.builds(Fraction, st.integers(-max_numerator, max_numerator),
                     st.integers(1, max_denominator))


def _pick(draw: st.DrawFn, given: T | st.SearchStrategy[T] | None,
          default: st.SearchStrategy[T]) -> T:
    """A fixed value as it is, a strategy drawn from, None drawn from ``default``."""
    if given is None:
        return draw(default)
    if isinstance(given, st.SearchStrategy):
        return draw(given)
    return given


_INPUT_DIMS = st.integers(1, 3)
_HIDDEN_WIDTHS = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
_WEIGHTS = rationals(max_numerator=5, max_denominator=3)


def _layer(draw: st.DrawFn, in_dim: int, out_dim: int,
           weights: st.SearchStrategy[Fraction]) -> Layer:
    rows = tuple(tuple(draw(weights) for _ in range(in_dim)) for _ in range(out_dim))
    return Layer(rows, tuple(draw(weights) for _ in range(out_dim)))


def _layers(draw: st.DrawFn, widths: Sequence[int],
            weights: st.SearchStrategy[Fraction]) -> tuple[Layer, ...]:
    return tuple(_layer(draw, a, b, weights) for a, b in zip(widths, widths[1:]))


@st.composite
def relu_networks(draw: st.DrawFn,
                  input_dim: int | st.SearchStrategy[int] | None = None,
                  hidden_widths: Widths | st.SearchStrategy[Widths] | None = None,
                  output_dim: int | st.SearchStrategy[int] = 1,
                  weights: st.SearchStrategy[Fraction] = _WEIGHTS) -> ReluNetwork:
    """Finite ReLU networks with rational weights drawn from ``weights``.

    A shape argument may be a number, a strategy, or None for a small default (1-3 inputs,
    1-3 hidden layers of width 1-4). Example::

        @given(relu_networks(input_dim=2, hidden_widths=(3, 2)))
        def test_two_inputs(net):
            assert net.widths == (2, 3, 2, 1)
    """
    n = _pick(draw, input_dim, _INPUT_DIMS)
    hidden = _pick(draw, hidden_widths, _HIDDEN_WIDTHS)
    m = _pick(draw, output_dim, st.just(1))
    return ReluNetwork(_layers(draw, (n, *hidden, m), weights))


@st.composite
def gated_networks(draw: st.DrawFn,
                   kind: str | st.SearchStrategy[str] = "dgn",
                   input_dim: int | st.SearchStrategy[int] | None = None,
                   hidden_widths: Widths | st.SearchStrategy[Widths] | None = None,
                   output_dim: int | st.SearchStrategy[int] = 1,
                   value_input: str | st.SearchStrategy[str] = "x",
                   weights: st.SearchStrategy[Fraction] = _WEIGHTS) -> GatedNetwork:
    """DGNs or DLGNs whose gating and value networks have the same hidden widths.

    ``kind`` is "dgn" or "dlgn" (or a strategy such as ``st.sampled_from(["dgn", "dlgn"])``),
    ``value_input`` "x" or "ones"; the shapes default as in :func:`relu_networks`. Example::

        @given(gated_networks(kind="dlgn", value_input="ones"))
        def test_dlgn(net):
            assert net.kind == "dlgn" and net.value_input == "ones"
    """
    chosen_kind = _pick(draw, kind, st.just("dgn"))
    n = _pick(draw, input_dim, _INPUT_DIMS)
    hidden = _pick(draw, hidden_widths, _HIDDEN_WIDTHS)
    m = _pick(draw, output_dim, st.just(1))
    source = _pick(draw, value_input, st.just("x"))
    gating = _layers(draw, (n, *hidden), weights)
    value = _layers(draw, (n, *hidden, m), weights)
    return GatedNetwork(chosen_kind, gating, value, source)


_COORDINATES = rationals(max_numerator=10, max_denominator=4)


def points(dim: int, coordinates: st.SearchStrategy[Fraction] = _COORDINATES
           ) -> st.SearchStrategy[Point]:
    """Tuples of ``dim`` rationals drawn from ``coordinates``.

    Example: ``points(2)`` draws pairs such as ``(Fraction(3, 2), Fraction(-7, 4))``;
    ``points(3, rationals(1, 1))`` draws from {-1, 0, 1}^3.
    """
    return st.tuples(*(coordinates for _ in range(dim)))


def _first_zero(net: Network, start: Point, end: Point) -> Point | None:
    """The first point of the segment (start, end] where a gate-deciding pre-activation that is
    nonzero at ``start`` reaches 0, or None if none does.

    The caller guarantees that every pre-activation that is 0 at ``start`` stays 0 along the
    segment (on the affine maps of start's piece). Then start's pattern holds until the first
    such zero, so the affine maps of start's piece are the true pre-activations up to it, and by
    continuity at it.
    """
    view = local_view(net, start)
    best: Fraction | None = None
    for layer, layer_signs in zip(view.preactivations, view.signs):
        for f, s in zip(layer, layer_signs):
            at_end = f(end)
            if s != 0 and (at_end == 0 or (at_end > 0) != (s > 0)):
                at_start = f(start)
                t = at_start / (at_start - at_end)
                if best is None or t < best:
                    best = t
    if best is None:
        return None
    return tuple(a + best * (b - a) for a, b in zip(start, end))


def _wall_point(net: Network, x0: Point, x1: Point) -> Point | None:
    view = local_view(net, x0)
    for layer, layer_signs in zip(view.preactivations, view.signs):
        for f, s in zip(layer, layer_signs):
            # x0 lies on a wall that the segment leaves at once, so x0's pattern does not hold
            # along it; such a start is dropped rather than walked from.
            if s == 0 and f(x1) != 0:
                return None
    return _first_zero(net, x0, x1)


@st.composite
def points_on_walls(draw: st.DrawFn, net: Network,
                    coordinates: st.SearchStrategy[Fraction] = _COORDINATES) -> Point:
    """A rational point where some gate-deciding pre-activation of ``net`` (a hidden ReLU
    neuron, or a gating neuron of a DGN or DLGN) is exactly 0, while nonzero at the points of
    the drawn segment just before it (so it is a genuine wall, not a dead neuron).

    Draws segments x0 → x1 and returns the first point where the activation pattern of x0
    changes along one; draws whose segments meet no wall are rejected (``hypothesis.reject``).
    Example::

        @given(st.data())
        def test_wall(data):
            net = data.draw(relu_networks(input_dim=2))
            x = data.draw(points_on_walls(net))
            assert 0 in (s for layer in local_view(net, x).signs for s in layer)
    """
    box = points(net.input_dim, coordinates)
    for _ in range(_SEGMENT_TRIES):
        found = _wall_point(net, draw(box), draw(box))
        if found is not None:
            return found
    reject()


def _independent(u: Sequence[Fraction], v: Sequence[Fraction]) -> bool:
    return any(u[i] * v[k] != u[k] * v[i] for i in range(len(u)) for k in range(i + 1, len(u)))


def _vanishing_gradients(net: Network, x: Point) -> list[tuple[Fraction, ...]]:
    """Gradients, on x's piece, of the pre-activations that are 0 at x but not constant."""
    view = local_view(net, x)
    return [f.coeffs for layer, layer_signs in zip(view.preactivations, view.signs)
            for f, s in zip(layer, layer_signs) if s == 0 and not f.is_constant]


def _has_independent_pair(gradients: list[tuple[Fraction, ...]]) -> bool:
    return any(_independent(g, h) for i, g in enumerate(gradients) for h in gradients[i + 1:])


def _within_wall(gradient: Sequence[Fraction], w: Point, target: Point) -> Point:
    """The orthogonal projection of ``target`` onto the hyperplane through ``w`` normal to
    ``gradient``: moving from w towards it keeps that pre-activation at 0."""
    offset = [t - a for t, a in zip(target, w)]
    ratio = sum(g * o for g, o in zip(gradient, offset)) / sum(g * g for g in gradient)
    return tuple(a + o - ratio * g for a, o, g in zip(w, offset, gradient))


def points_on_vertices(net: Network, coordinates: st.SearchStrategy[Fraction] = _COORDINATES
                       ) -> st.SearchStrategy[Point]:
    """A rational point where at least two gate-deciding pre-activations vanish with linearly
    independent gradients (on the piece of the point): a vertex of the arrangement when the
    network has two inputs, a ridge of codimension 2 in general. Needs ``input_dim >= 2``.

    Finds a wall point as :func:`points_on_walls` does, then walks inside that wall, towards
    the projection of a further drawn point onto it, to the first point where another
    pre-activation reaches 0. Draws where no such point exists are rejected
    (``hypothesis.reject``).
    Example::

        @given(st.data())
        def test_vertex(data):
            net = data.draw(relu_networks(input_dim=2, hidden_widths=(4,)))
            x = data.draw(points_on_vertices(net))
            signs = local_view(net, x).signs
            assert sum(s == 0 for layer in signs for s in layer) >= 2
    """
    if net.input_dim < 2:
        raise ValueError("points_on_vertices needs a network with at least 2 inputs")
    return _vertices(net, points(net.input_dim, coordinates))


@st.composite
def _vertices(draw: st.DrawFn, net: Network, box: st.SearchStrategy[Point]) -> Point:
    for _ in range(_SEGMENT_TRIES):
        w = _wall_point(net, draw(box), draw(box))
        if w is None:
            continue
        gradients = _vanishing_gradients(net, w)
        if _has_independent_pair(gradients):
            return w
        # Every pre-activation vanishing at w has a gradient parallel to gradients[0], so the
        # walk keeps them all at 0 and w's pattern holds until the next zero.
        end = _within_wall(gradients[0], w, draw(box))
        vertex = _first_zero(net, w, end)
        # Ties, where several pre-activations reach 0 together, can make the gradients at the
        # vertex dependent; those draws are rejected rather than returned.
        if vertex is not None and _has_independent_pair(_vanishing_gradients(net, vertex)):
            return vertex
    reject()
