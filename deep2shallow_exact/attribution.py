"""Exact attributions of a network's outputs at x relative to a baseline b (default the origin).

Shapley values treat the inputs as players: a coalition S is scored by v(S) = f(z_S), where z_S
takes x_i for i in S and b_i elsewhere, and

    φ_i = Σ_{S ∌ i} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S)).

:func:`shapley_values` evaluates the 2^n coalitions exactly (refused above
:data:`MAX_SHAPLEY_INPUTS` inputs), unless every coalition point lies where one affine map
A z + c gives f. That holds when the box spanned by x and b lies in the closure of the piece of
x or of b (for a ReLU network, continuous, so its map holds on the closure; for a gated network,
which may jump, the box must lie in the piece itself), decided exactly from the piece's
constraints in O(n) per constraint. The game is then additive and φ_i = A_ki (x_i − b_i).

Integrated gradients IG_i = (x_i − b_i) ∫_0^1 ∂_i f(b + t (x − b)) dt are computed exactly by
walking the segment through the pieces it crosses (:func:`integrated_gradients`); on a stretch
of the segment that lies inside a wall the gradient is that of the wall's piece with
ReLU'(0) = 0, as automatic differentiation takes it. For a continuous network the values sum to
f(x) − f(b) exactly; a gated network's jumps show up as a completeness gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import factorial

from .affine import Affine
from .errors import InputError, UndefinedError
from .evaluation import evaluate
from .network import Network, ReluNetwork
from .numbers import Infinity, format_number, sign
from .search import SIGN_TEXT
from .symbolic import Finished, Program

MAX_SHAPLEY_INPUTS = 16
SHAPLEY_METHODS = ("auto", "coalitions", "one-region")

Point = tuple[Fraction, ...]


def _numbers(values: Sequence[Fraction]) -> list[str]:
    return [format_number(v) for v in values]


def _points(net: Network, x: Sequence[Fraction | int],
            baseline: Sequence[Fraction | int] | None) -> tuple[Point, Point]:
    n = net.input_dim
    if len(x) != n:
        raise InputError(f"point has {len(x)} coordinates, the network takes {n}")
    b = (0,) * n if baseline is None else baseline
    if len(b) != n:
        raise InputError(f"baseline has {len(b)} coordinates, the network takes {n}")
    return tuple(Fraction(v) for v in x), tuple(Fraction(v) for v in b)


def _value(net: Network, z: Point) -> tuple[Fraction, ...]:
    try:
        out = evaluate(net, z)
    except UndefinedError as exc:
        raise InputError(f"the network is undefined at {_numbers(z)}: {exc}") from None
    finite = []
    for k, v in enumerate(out):
        if isinstance(v, Infinity):
            raise InputError(f"output {k + 1} is {v!r} at {_numbers(z)}")
        finite.append(v)
    return tuple(finite)


@dataclass(frozen=True)
class Shapley:
    """``values[k][i]``: the Shapley value of input i for output k; ``method`` is
    "coalitions" (2^n exact evaluations) or "one-region" (the additive formula)."""

    point: Point
    baseline: Point
    values: tuple[tuple[Fraction, ...], ...]
    at_point: tuple[Fraction, ...]
    at_baseline: tuple[Fraction, ...]
    method: str

    def to_document(self) -> dict:
        return {"method": self.method, "values": [_numbers(row) for row in self.values],
                "f_point": _numbers(self.at_point), "f_baseline": _numbers(self.at_baseline)}


@dataclass(frozen=True)
class _Probe:
    """The piece of ``point``: its non-constant gate-deciding pre-activations (affine maps
    valid on the piece) with their signs at the point, its sign vector and output maps.
    Constant pre-activations are left out: their signs hold everywhere."""

    point: Point
    preactivations: tuple[tuple[Affine, int], ...]
    signs: str
    outputs: tuple[Affine, ...]


def _probe(program: Program, point: Point) -> _Probe:
    # The symbolic engine with signs read off the point: it is exact like local_view and,
    # multiplying flint matrices, about ten times faster on wide networks.
    seen: list[tuple[Affine, int]] = []

    def oracle(f: Affine) -> int:
        seen.append((f, sign(f(point))))
        return seen[-1][1]

    outcome = program.run(program.start(), oracle)
    if not isinstance(outcome, Finished) or not all(isinstance(f, Affine)
                                                    for f in outcome.outputs):
        raise InputError("attributions need a finite network")
    return _Probe(point, tuple(seen),
                  "".join(SIGN_TEXT[v] for layer in outcome.signs for v in layer),
                  outcome.outputs)  # type: ignore[arg-type]


def _box_in_piece(probe: _Probe, lows: Point, highs: Point, closed: bool) -> bool:
    """Whether every point of the box [lows, highs] has the sign vector of the probe's point
    (``closed``: or lies in the closure of its piece). The minimum of a·z + c over a box takes
    each coordinate at the end that a_i prefers."""
    for f, s in probe.preactivations:
        if s == 0:
            if any(a and lo != hi for a, lo, hi in zip(f.coeffs, lows, highs)):
                return False
            continue
        g = f if s > 0 else -f
        low = g.const + sum((a * (lo if a > 0 else hi) for a, lo, hi
                             in zip(g.coeffs, lows, highs) if a), Fraction(0))
        if low < 0 or (low == 0 and not closed):
            return False
    return True


def _common_map(net: Network, x: Point, b: Point) -> tuple[Affine, ...] | None:
    """The affine maps that give f at every corner of the box spanned by x and b, if the box
    lies in the piece (or, for a continuous ReLU network, its closure) of x or of b."""
    lows = tuple(min(u, v) for u, v in zip(x, b))
    highs = tuple(max(u, v) for u, v in zip(x, b))
    closed = isinstance(net, ReluNetwork)
    program = Program(net)
    for p in (x, b):
        probe = _probe(program, p)
        if _box_in_piece(probe, lows, highs, closed):
            return probe.outputs
    return None


def shapley_values(net: Network, x: Sequence[Fraction | int],
                   baseline: Sequence[Fraction | int] | None = None,
                   method: str = "auto") -> Shapley:
    """Exact Shapley values of every output at ``x`` relative to ``baseline`` (default 0).

    ``method`` "auto" uses the one-region formula when it applies and the coalitions
    otherwise; "coalitions" always evaluates all 2^n coalitions; "one-region" refuses when the
    box spanned by x and the baseline is not inside one piece. Extended-real networks are
    evaluated exactly and refused where an output is infinite or undefined."""
    if method not in SHAPLEY_METHODS:
        raise InputError(f"Shapley method {method!r}: expected one of {', '.join(SHAPLEY_METHODS)}")
    point, base = _points(net, x, baseline)
    n = net.input_dim
    at_point, at_base = _value(net, point), _value(net, base)
    if method != "coalitions" and not net.is_extended:
        maps = _common_map(net, point, base)
        if maps is not None:
            values = tuple(tuple(a * (u - v) for a, u, v in zip(f.coeffs, point, base))
                           for f in maps)
            return Shapley(point, base, values, at_point, at_base, "one-region")
    if method == "one-region":
        raise InputError("Shapley one-region formula: the box spanned by the point and the "
                         "baseline does not lie in one piece; use the coalitions")
    if n > MAX_SHAPLEY_INPUTS:
        raise InputError(f"exact Shapley values need 2^{n} network evaluations for {n} inputs; "
                         f"the limit is {MAX_SHAPLEY_INPUTS} inputs unless the point and the "
                         "baseline span a box inside one region")
    game = [_value(net, tuple(point[i] if mask >> i & 1 else base[i] for i in range(n)))
            for mask in range(1 << n)]
    weights = [Fraction(factorial(s) * factorial(n - s - 1), factorial(n)) for s in range(n)]
    outputs = len(at_point)
    values = [[Fraction(0)] * n for _ in range(outputs)]
    for mask in range((1 << n) - 1):  # the full coalition has no one left to join
        w = weights[bin(mask).count("1")]
        for i in range(n):
            if not mask >> i & 1:
                joined = game[mask | 1 << i]
                for k in range(outputs):
                    values[k][i] += w * (joined[k] - game[mask][k])
    return Shapley(point, base, tuple(tuple(row) for row in values), at_point, at_base,
                   "coalitions")


@dataclass(frozen=True)
class Segment:
    """The segment's parameters t in (start, end) lie in one piece: sign vector ``signs``,
    output gradients ``A`` (one row per output)."""

    start: Fraction
    end: Fraction
    signs: str
    A: tuple[tuple[Fraction, ...], ...]


@dataclass(frozen=True)
class IntegratedGradients:
    """``values[k][i]``: the integrated gradient of input i for output k; ``segments``: the
    pieces of the straight path b + t (x − b), 0 ≤ t ≤ 1, in order."""

    point: Point
    baseline: Point
    values: tuple[tuple[Fraction, ...], ...]
    segments: tuple[Segment, ...]
    at_point: tuple[Fraction, ...]
    at_baseline: tuple[Fraction, ...]

    @property
    def completeness_gap(self) -> tuple[Fraction, ...]:
        """f_k(x) − f_k(b) − Σ_i IG_ki: zero for a continuous network."""
        return tuple(u - v - sum(row, Fraction(0))
                     for u, v, row in zip(self.at_point, self.at_baseline, self.values))

    def to_document(self) -> dict:
        return {"values": [_numbers(row) for row in self.values],
                "f_point": _numbers(self.at_point), "f_baseline": _numbers(self.at_baseline),
                "completeness_gap": _numbers(self.completeness_gap),
                "segments": [{"t": [format_number(s.start), format_number(s.end)],
                              "signs": s.signs, "gradient": [_numbers(r) for r in s.A]}
                             for s in self.segments]}


def _earliest_violation(probe: _Probe, p: Point) -> Fraction | None:
    """The smallest τ in (0, 1] at which some pre-activation of the probe's piece leaves its
    sign at q = probe.point on the segment p + τ (q − p), or None when the piece of q holds on
    the whole of (p, q]. A pre-activation that is 0 at q must be 0 at p too: then it is 0 on
    the line, and by induction over the layers the piece's maps are the network's there."""
    q = probe.point
    best: Fraction | None = None
    for f, s in probe.preactivations:
        at_p = f(p)
        if s == 0:
            tau = Fraction(1) if at_p else None
        else:
            tau = at_p / (at_p - f(q)) if at_p and sign(at_p) != s else None
        if tau is not None and (best is None or tau < best):
            best = tau
    return best


def _zeros_ahead(probe: _Probe, e: Point) -> list[Fraction]:
    """The τ in (0, 1], ascending, at which pre-activations nonzero at q = probe.point reach 0
    on q + τ (e − q)."""
    q = probe.point
    found = set()
    for f, s in probe.preactivations:
        at_e = f(e)
        if s != 0 and (at_e == 0 or sign(at_e) != s):
            at_q = f(q)
            found.add(at_q / (at_q - at_e))
    return sorted(found)


def path_segments(net: Network, start: Sequence[Fraction], end: Sequence[Fraction]
                  ) -> tuple[Segment, ...]:
    """The pieces the straight path start + t (end − start), 0 ≤ t ≤ 1, runs through.

    From the current t, a probe point q = path(s) is moved towards path(t) until the piece of
    q holds on all of (t, s] (checked exactly on q's own affine maps); the piece then lasts
    until the first pre-activation of it that is nonzero at q reaches 0. The next probe is
    first tried halfway to the next zero of those maps, where the next piece usually ends."""
    if net.is_extended:
        raise InputError("integrated gradients need a finite network")
    program = Program(net)
    a = tuple(Fraction(v) for v in start)
    d = tuple(Fraction(v) - u for v, u in zip(end, a))

    def at(t: Fraction) -> Point:
        return tuple(u + t * v for u, v in zip(a, d))

    one = Fraction(1)
    segments: list[Segment] = []
    t, guess = Fraction(0), one
    while t < one:
        p, s = at(t), guess
        probe = _probe(program, at(s))
        while (tau := _earliest_violation(probe, p)) is not None:
            s = t + (s - t) * tau / 2
            probe = _probe(program, at(s))
        ahead = [s + (one - s) * tau for tau in _zeros_ahead(probe, at(one))]
        end_t = ahead[0] if ahead else one
        guess = (end_t + ahead[1]) / 2 if len(ahead) > 1 else one
        segments.append(Segment(t, end_t, probe.signs, tuple(f.coeffs for f in probe.outputs)))
        t = end_t
    return tuple(segments)


def integrated_gradients(net: Network, x: Sequence[Fraction | int],
                         baseline: Sequence[Fraction | int] | None = None
                         ) -> IntegratedGradients:
    """Exact integrated gradients of every output at ``x`` from ``baseline`` (default 0);
    needs a finite network (ReLU, DGN or DLGN)."""
    point, base = _points(net, x, baseline)
    segments = path_segments(net, base, point)
    d = [u - v for u, v in zip(point, base)]
    outputs = len(segments[0].A)
    values = tuple(tuple(d[i] * sum(((s.end - s.start) * s.A[k][i] for s in segments),
                                    Fraction(0)) for i in range(len(d)))
                   for k in range(outputs))
    return IntegratedGradients(point, base, values, segments, _value(net, point),
                               _value(net, base))


def attributions(net: Network, x: Sequence[Fraction | int],
                 baseline: Sequence[Fraction | int] | None = None,
                 shapley_method: str = "auto", integrated: bool = True) -> dict:
    """Shapley values (and integrated gradients) as plain data: numbers as "p/q" strings."""
    shapley = shapley_values(net, x, baseline, shapley_method)
    doc: dict = {"point": _numbers(shapley.point), "baseline": _numbers(shapley.baseline),
                 "shapley": shapley.to_document()}
    if integrated:
        doc["integrated_gradients"] = integrated_gradients(net, x, baseline).to_document()
    return doc


def format_attributions(doc: dict) -> str:
    """The text a person reads for a document made by :func:`attributions`."""
    point, base = ", ".join(doc["point"]), ", ".join(doc["baseline"])
    shapley = doc["shapley"]
    lines = [f"attributions at x = ({point}) relative to the baseline b = ({base})",
             f"Shapley values ({shapley['method']}, exact):"]
    for k, row in enumerate(shapley["values"]):
        lines.append(f"  y{k + 1}: " + ", ".join(f"x{i + 1}: {v}" for i, v in enumerate(row))
                     + f"; f(x) = {shapley['f_point'][k]}, f(b) = {shapley['f_baseline'][k]}")
    ig = doc.get("integrated_gradients")
    if ig is not None:
        count = len(ig["segments"])
        lines.append(f"integrated gradients (exact, {count} piece{'s' * (count != 1)} on the "
                     "segment from b to x):")
        for k, row in enumerate(ig["values"]):
            gap = ig["completeness_gap"][k]
            note = "" if gap == "0" else f"; jump of the gated network: gap {gap}"
            lines.append(f"  y{k + 1}: " + ", ".join(f"x{i + 1}: {v}" for i, v in enumerate(row))
                         + note)
        for s in ig["segments"]:
            lines.append(f"    t in ({s['t'][0]}, {s['t'][1]}): signs {s['signs']}, gradient "
                         + "; ".join("(" + ", ".join(r) + ")" for r in s["gradient"]))
    return "\n".join(lines)
