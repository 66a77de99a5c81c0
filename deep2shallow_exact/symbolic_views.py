"""Symbolic views through sympy: the deep network as a Piecewise over its pieces, and the
three-layer extended network as one formula (`deep2shallow show NET [--latex]`).

Inputs are the symbols x1..xn and every coefficient is an exact sympy Rational. Both views are
faithful functions: substituting a rational point gives the network's exact output.

- :func:`deep_piecewise` selects the one piece containing the point (the pieces partition the
  domain).
- :func:`shallow_formula` writes each second-layer neuron with infinite weights as a Piecewise
  instead of a product with oo: a weight −∞ on a first-layer neuron Max(0, v) contributes 0
  where v ≤ 0 and −∞ where v > 0 (0·∞ = 0, DESIGN section 1), so the neuron
  Max(0, F − ∞·Σ Max(0, v)) is ``Piecewise((Max(0, F), v1 <= 0 & v2 <= 0 & ...), (0, True))``:
  its finite part F on the closed polyhedron where every gate is shut, 0 elsewhere. sympy's own
  arithmetic would take 0·oo to be nan, so a literal −oo·Max(0, v) would not evaluate to the
  network's value on the polyhedron. A +∞ weight gives oo where its neuron is positive, and
  both at once (∞ − ∞, undefined in the network) give nan.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import sympy as sp

from .affine import Affine
from .domain import Domain
from .errors import InputError
from .network import Network, ReluNetwork
from .numbers import Extended, Infinity
from .piece import Piece
from .regions import enumerate_pieces

SymbolicOutput = sp.Expr | tuple[sp.Expr, ...]
"""One expression for a single-output network, a tuple with one per output otherwise."""


def input_symbols(n: int) -> tuple[sp.Symbol, ...]:
    """The inputs x1..xn, without assumptions, so that ``sp.Symbol("x1")`` is the same symbol."""
    return tuple(sp.Symbol(f"x{i + 1}") for i in range(n))


def _rational(value: Fraction) -> sp.Rational:
    return sp.Rational(value.numerator, value.denominator)


def _linear(f: Affine, xs: Sequence[sp.Symbol]) -> sp.Expr:
    return sp.Add(*(_rational(a) * x for a, x in zip(f.coeffs, xs) if a), _rational(f.const))


def _leading_negative(f: Affine) -> bool:
    return next((a < 0 for a in f.coeffs if a), False)


def _strict(f: Affine, xs: Sequence[sp.Symbol]) -> sp.Basic:
    # −x1 > 0 reads better as x1 < 0; the two relations hold at the same points.
    if _leading_negative(f):
        return sp.StrictLessThan(_linear(-f, xs), 0, evaluate=False)
    return sp.StrictGreaterThan(_linear(f, xs), 0, evaluate=False)


def _equal(f: Affine, xs: Sequence[sp.Symbol]) -> sp.Basic:
    return sp.Eq(_linear(-f if _leading_negative(f) else f, xs), 0, evaluate=False)


def piece_condition(piece: Piece, xs: Sequence[sp.Symbol]) -> sp.Basic:
    """The piece as a sympy condition: its strict rows > 0 and equality rows = 0."""
    relations = [*(_strict(f, xs) for f in piece.strict), *(_equal(f, xs) for f in piece.equal)]
    if not relations:
        return sp.true
    if len(relations) == 1:
        return relations[0]
    return sp.And(*relations, evaluate=False)


def _one_or_tuple(expressions: Sequence[sp.Expr]) -> SymbolicOutput:
    return expressions[0] if len(expressions) == 1 else tuple(expressions)


def deep_piecewise(net: Network, domain: Domain | None = None,
                   backend: str = "auto") -> SymbolicOutput:
    """``net`` as a sympy Piecewise with one branch per piece (scope ``everywhere``).

    Branches list the full-dimensional pieces first, then walls, edges and vertices; the
    conditions are disjoint and cover the domain, so their order does not change the value.
    A network that is one affine map with no wall at all gives that map itself."""
    pieces = sorted(enumerate_pieces(net, domain, "everywhere", backend), key=lambda p: -p.dim)
    xs = input_symbols(net.input_dim)
    conditions = [piece_condition(p, xs) for p in pieces]
    # evaluate=False keeps one branch per piece: sympy would otherwise merge branches with the
    # same expression into one long disjunction of conditions.
    return _one_or_tuple([
        sp.Piecewise(*((_linear(p.maps[k], xs), c) for p, c in zip(pieces, conditions)),
                     evaluate=False)
        for k in range(net.output_dim)])


# The shallow formula keeps its structure unevaluated (evaluate=False), except where a part is a
# constant: sympy's subs rebuilds only the parts that contain a symbol, so an unevaluated
# Max(0, 1) would stay one after a point is substituted instead of becoming 1.

def _relu(expr: sp.Expr) -> sp.Expr:
    if not expr.free_symbols:
        return sp.Max(sp.Integer(0), expr)
    return sp.Max(sp.Integer(0), expr, evaluate=False)


def _scaled(weight: Fraction, expr: sp.Expr) -> sp.Expr:
    if weight == 1:
        return expr
    if not expr.free_symbols:
        return _rational(weight) * expr
    return sp.Mul(_rational(weight), expr, evaluate=False)


def _sum(terms: Sequence[sp.Expr]) -> sp.Expr:
    if not terms:
        return sp.Integer(0)
    if len(terms) == 1:
        return terms[0]
    if not any(t.free_symbols for t in terms):
        return sp.Add(*terms)
    return sp.Add(*terms, evaluate=False)


def _nonpositive(f: Affine, xs: Sequence[sp.Symbol]) -> sp.Basic:
    if not any(f.coeffs):
        return sp.true if f.const <= 0 else sp.false
    # −x1 ≤ 0 reads better as x1 ≥ 0; the two relations hold at the same points.
    if _leading_negative(f):
        return sp.GreaterThan(_linear(-f, xs), 0, evaluate=False)
    return sp.LessThan(_linear(f, xs), 0, evaluate=False)


def _all(relations: Sequence[sp.Basic]) -> sp.Basic:
    if any(r is sp.false for r in relations):
        return sp.false
    relations = [r for r in relations if r is not sp.true]
    if not relations:
        return sp.true
    return relations[0] if len(relations) == 1 else sp.And(*relations, evaluate=False)


def _both(a: sp.Basic, b: sp.Basic) -> sp.Basic:
    if a is sp.false or b is sp.false:
        return sp.false
    if a is sp.true:
        return b
    return a if b is sp.true else sp.And(a, b, evaluate=False)


def _branches(*pairs: tuple[sp.Expr, sp.Basic]) -> sp.Expr:
    """Piecewise of the pairs, without those that never hold or are never reached."""
    kept: list[tuple[sp.Expr, sp.Basic]] = []
    for expr, condition in pairs:
        if condition is sp.false:
            continue
        kept.append((expr, condition))
        if condition is sp.true:
            break
    if kept[0][1] is sp.true:
        return kept[0][0]
    return sp.Piecewise(*kept, evaluate=False)


def _second_layer_neuron(row: Sequence[Extended], bias: Extended, first: Sequence[sp.Expr],
                         first_affine: Sequence[Affine], xs: Sequence[sp.Symbol]) -> sp.Expr:
    """ReLU(F ± ∞·(gate neurons)) with the networks' 0·∞ = 0, as a Piecewise (module docstring).

    F is the finite part (finite weights and bias). The gates of sign s are shut where every
    first-layer neuron with weight s·∞ is 0, that is where its affine function is ≤ 0; an
    infinite bias of sign s is a gate that is never shut."""
    weights = [(w, a) for w, a in zip(row, first) if not isinstance(w, Infinity) and w != 0]
    terms = [_scaled(w, a) for w, a in weights]
    constant = Fraction(0) if isinstance(bias, Infinity) else bias
    if constant != 0:
        terms.append(_rational(constant))
    # With no negative weight or bias the finite part is ≥ 0 (a sum of ReLUs), so its ReLU is
    # itself: Max(0, F) is written F, as the construction's c·Max(0, h) with c > 0 is.
    nonnegative = constant >= 0 and all(w > 0 for w, _ in weights)
    finite = _sum(terms) if nonnegative else _relu(_sum(terms))
    shut = {}
    for sign in (-1, 1):
        if isinstance(bias, Infinity) and bias.sign == sign:
            shut[sign] = sp.false
        else:
            shut[sign] = _all([_nonpositive(g, xs) for w, g in zip(row, first_affine)
                               if isinstance(w, Infinity) and w.sign == sign])
    if shut[1] is sp.true:  # only −∞ gates: ReLU(−∞) = 0 where one is open
        return _branches((finite, shut[-1]), (sp.Integer(0), sp.true))
    if shut[-1] is sp.true:  # only +∞ gates: +∞ where one is open
        return _branches((finite, shut[1]), (sp.oo, sp.true))
    return _branches((finite, _both(shut[-1], shut[1])), (sp.Integer(0), shut[1]),
                     (sp.oo, shut[-1]), (sp.nan, sp.true))


def shallow_formula(net: Network) -> SymbolicOutput:
    """The three-layer extended network as y_k = Σ ± Piecewise((Max(0, c·Max(0, g)), v ≤ 0
    for every gate v), (0, True)), which sympy evaluates to the network's value at every point.

    Needs exactly three layers with finite first and output layers (the shape `convert` writes);
    the second layer may hold ±oo (see the module docstring)."""
    if not isinstance(net, ReluNetwork) or len(net.layers) != 3:
        raise InputError("show: the shallow formula needs a relu network with exactly three "
                         f"layers, this one has widths {' -> '.join(map(str, net.widths))}")
    first_layer, second_layer, output_layer = net.layers
    for name, layer in (("layers[0]", first_layer), ("layers[2]", output_layer)):
        if any(isinstance(v, Infinity) for v in layer.entries()):
            raise InputError(f"show: {name} has infinite entries; the shallow formula allows "
                             "them only in the second layer")
    xs = input_symbols(net.input_dim)
    first_affine = [Affine(row, b) for row, b in zip(first_layer.weights, first_layer.bias)]
    first = [_relu(_linear(g, xs)) for g in first_affine]
    second = [_second_layer_neuron(row, b, first, first_affine, xs)
              for row, b in zip(second_layer.weights, second_layer.bias)]
    outputs = []
    for row, b in zip(output_layer.weights, output_layer.bias):
        terms = [_scaled(w, a) for w, a in zip(row, second) if w != 0 and a != 0]
        if b != 0:
            terms.append(_rational(b))
        outputs.append(_sum(terms))
    return _one_or_tuple(outputs)


def _is_shallow_extended(net: Network) -> bool:
    return (isinstance(net, ReluNetwork) and len(net.layers) == 3
            and any(isinstance(v, Infinity) for v in net.layers[1].entries()))


def show(net: Network, latex: bool = False, domain: Domain | None = None,
         backend: str = "auto") -> str:
    """The network as text (sympy.pretty) or LaTeX (sympy.latex), one line ``y = ...`` per
    output (y1, y2, ... when there are several): the shallow formula for a three-layer network
    with infinite second-layer entries, otherwise the Piecewise over the pieces of ``domain``
    (``domain`` and ``backend`` are used for the Piecewise only)."""
    # Any other network goes to the Piecewise, which needs a finite affine map on every piece
    # (piece enumeration says where an extended network is infinite or undefined instead).
    formula = (shallow_formula(net) if _is_shallow_extended(net)
               else deep_piecewise(net, domain, backend))
    outputs = formula if isinstance(formula, tuple) else (formula,)
    names = ["y"] if len(outputs) == 1 else [f"y{k + 1}" for k in range(len(outputs))]
    equations = [sp.Eq(sp.Symbol(name), expr, evaluate=False)
                 for name, expr in zip(names, outputs)]
    if latex:
        return "\n".join(sp.latex(e) for e in equations)
    return "\n\n".join(sp.pretty(e, wrap_line=False) for e in equations)
