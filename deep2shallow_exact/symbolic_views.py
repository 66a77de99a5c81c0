"""Symbolic views through sympy: the deep network as a Piecewise over its pieces, and the
three-layer extended network as one formula (`deep2shallow show NET [--latex]`).

Inputs are the symbols x1..xn and every coefficient is an exact sympy Rational. The Piecewise of
:func:`deep_piecewise` is a faithful function: substituting a rational point selects the one
piece containing it (the pieces partition the domain) and gives the exact output. The formula
of :func:`shallow_formula` is for reading only: it keeps every −oo·(Σ Max(0, v)) unevaluated so
that the gating structure shows, but sympy's own arithmetic takes 0·oo to be nan, not 0 as the
networks do (DESIGN section 1), so substituting numbers into it is meaningless.
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


def _relu(expr: sp.Expr) -> sp.Expr:
    return sp.Max(sp.Integer(0), expr, evaluate=False)


def _scaled(weight: Fraction, expr: sp.Expr) -> sp.Expr:
    return expr if weight == 1 else sp.Mul(_rational(weight), expr, evaluate=False)


def _sum(terms: Sequence[sp.Expr]) -> sp.Expr:
    if not terms:
        return sp.Integer(0)
    return terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)


def _second_layer_neuron(row: Sequence[Extended], bias: Extended,
                         first: Sequence[sp.Expr]) -> sp.Expr:
    """Max(0, Σ c·Max(0, g) + b − oo·(Σ Max(0, v)) + oo·(Σ Max(0, u))), left unevaluated."""
    terms = [_scaled(w, a) for w, a in zip(row, first)
             if not isinstance(w, Infinity) and w != 0]
    if not isinstance(bias, Infinity) and bias != 0:
        terms.append(_rational(bias))
    for sign in (-1, 1):
        gated = [a for w, a in zip(row, first) if isinstance(w, Infinity) and w.sign == sign]
        if gated:
            terms.append(sp.Mul(sign * sp.oo, _sum(gated), evaluate=False))
        if isinstance(bias, Infinity) and bias.sign == sign:
            terms.append(sign * sp.oo)
    return _relu(_sum(terms))


def shallow_formula(net: Network) -> SymbolicOutput:
    """The three-layer extended network as y_k = Σ ± Max(0, c·Max(0, g) − oo·(Σ Max(0, v))).

    Needs exactly three layers with finite first and output layers (the shape `convert` writes);
    the second layer may hold ±oo. For display only: see the module docstring on 0·oo."""
    if not isinstance(net, ReluNetwork) or len(net.layers) != 3:
        raise InputError("show: the shallow formula needs a relu network with exactly three "
                         f"layers, this one has widths {' -> '.join(map(str, net.widths))}")
    first_layer, second_layer, output_layer = net.layers
    for name, layer in (("layers[0]", first_layer), ("layers[2]", output_layer)):
        if any(isinstance(v, Infinity) for v in layer.entries()):
            raise InputError(f"show: {name} has infinite entries; the shallow formula allows "
                             "them only in the second layer")
    xs = input_symbols(net.input_dim)
    first = [_relu(_linear(Affine(row, b), xs))
             for row, b in zip(first_layer.weights, first_layer.bias)]
    second = [_second_layer_neuron(row, b, first)
              for row, b in zip(second_layer.weights, second_layer.bias)]
    outputs = []
    for row, b in zip(output_layer.weights, output_layer.bias):
        terms = [_scaled(w, a) for w, a in zip(row, second) if w != 0]
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
