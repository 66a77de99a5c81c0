"""The input box and the unsafe output set of a VNN-LIB property (the SMT-LIB dialect of the
VNN-COMP benchmarks).

Inputs are the constants X_0, X_1, ...; the box is read from assertions that bound one input by
a constant: ``(assert (<= X_i c))``, ``(assert (>= X_i c))``, the mirrored forms with the
constant first, ``=``, and conjunctions ``(and ...)`` of these. Constants are exact decimals
(or ``(- c)``), read with the kernel's number grammar (integers, "p/q", decimals such as
``-1.25e-3``; ASCII digits). Any other constraint on the inputs is not a box and is refused.

Assertions that mention only outputs (Y_j) state the unsafe set: their conjunction, where each
is a Boolean combination (``and``, ``or``) of linear comparisons ``<=``, ``>=``, ``<``, ``>``,
``=`` between expressions built from Y_j, constants, ``+``, ``-`` and ``*`` by a constant.
:func:`load_vnnlib_box` skips them; :func:`load_vnnlib_property` reads them exactly into a
disjunction of conjunctions of :class:`OutputConstraint`. An assertion mixing inputs and outputs
is refused: the reader supports one input box and output constraints over it, nothing coupling
the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from ..domain import Domain, box
from ..errors import InputError, read_text
from ..numbers import parse_rational
from ._shared import located

SExpr = str | list["SExpr"]

_TOKEN = re.compile(r";[^\n]*|\(|\)|[^\s()]+")
_INPUT = re.compile(r"X_(\d+)")
_OUTPUT = re.compile(r"Y_(\d+)")


# Far deeper than any box assertion; the readers below recurse, and Python's stack does not
# go much past a thousand frames.
MAX_DEPTH = 200


def _parse(text: str, where: str) -> list[SExpr]:
    """The top-level S-expressions of the file, with line numbers for bracket errors."""
    stack: list[list[SExpr]] = [[]]
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token.startswith(";"):
            continue
        if token == "(":
            if len(stack) > MAX_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                raise InputError(f"{where}: line {line}: brackets nested too deeply")
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                line = text.count("\n", 0, match.start()) + 1
                raise InputError(f"{where}: line {line}: unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise InputError(f"{where}: the file ends inside an unclosed '('")
    return stack[0]


def _show(expr: SExpr) -> str:
    return expr if isinstance(expr, str) else "(" + " ".join(_show(e) for e in expr) + ")"


def _mentions(expr: SExpr, pattern: re.Pattern[str]) -> bool:
    if isinstance(expr, str):
        return pattern.fullmatch(expr) is not None
    return any(_mentions(e, pattern) for e in expr)


def _constant(expr: SExpr, what: str) -> Fraction:
    if isinstance(expr, list) and len(expr) == 2 and expr[0] == "-":
        return -_constant(expr[1], what)
    if not isinstance(expr, str):
        raise InputError(f"{what}: {_show(expr)} is not a constant")
    return parse_rational(expr, what)


_MIRROR = {"<=": ">=", ">=": "<=", "=": "="}


def _bounds(expr: SExpr, n: int, lows: list[Fraction | None], highs: list[Fraction | None],
            where: str) -> None:
    """Tighten the box by one input constraint (or a conjunction of them)."""
    what = f"{where}: assertion {_show(expr)}"
    if isinstance(expr, list) and expr and expr[0] == "and":
        for part in expr[1:]:
            _bounds(part, n, lows, highs, where)
        return
    if isinstance(expr, list) and expr and expr[0] == "or":
        # VNN-COMP writes a union of boxes this way; each box would be a separate problem.
        raise InputError(f"{what}: a union of input boxes; only a single input box is "
                         "supported")
    if not (isinstance(expr, list) and len(expr) == 3 and expr[0] in _MIRROR):
        raise InputError(f"{what}: not a bound X_i <= c, X_i >= c or X_i = c, so the inputs "
                         "do not form a box")
    op, left, right = expr
    if isinstance(right, str) and _INPUT.fullmatch(right):
        op, left, right = _MIRROR[op], right, left
    match = _INPUT.fullmatch(left) if isinstance(left, str) else None
    if match is None:
        raise InputError(f"{what}: not a bound of one input by a constant")
    i = int(match.group(1))
    if i >= n:
        raise InputError(f"{what}: input X_{i} does not exist; the network takes {n} inputs")
    value = _constant(right, what)
    if op in (">=", "="):
        low = lows[i]
        lows[i] = value if low is None else max(low, value)
    if op in ("<=", "="):
        high = highs[i]
        highs[i] = value if high is None else min(high, value)


def _read(path: str | Path, n: int, m: int | None) -> tuple[Domain, list[SExpr]]:
    """The input box of the file and its output-only assertions, in file order.

    With ``m`` (the number of outputs) the declarations of outputs are checked against it too;
    without it (the box alone) outputs are neither checked nor read."""
    where = str(path)
    text = read_text(path)
    lows: list[Fraction | None] = [None] * n
    highs: list[Fraction | None] = [None] * n
    outputs: list[SExpr] = []
    for form in _parse(text, where):
        if not isinstance(form, list) or not form or not isinstance(form[0], str):
            raise InputError(f"{where}: unexpected top-level form {_show(form)}")
        if form[0] == "declare-const" and len(form) == 3 and isinstance(form[1], str):
            match = _INPUT.fullmatch(form[1])
            if match and int(match.group(1)) >= n:
                raise InputError(f"{where}: declares input {form[1]} but the network takes "
                                 f"{n} inputs")
            match = _OUTPUT.fullmatch(form[1])
            if m is not None and match and int(match.group(1)) >= m:
                raise InputError(f"{where}: declares output {form[1]} but the network has "
                                 f"{m} outputs")
        elif form[0] == "assert" and len(form) == 2:
            inputs, outs = _mentions(form[1], _INPUT), _mentions(form[1], _OUTPUT)
            if inputs and outs:
                raise InputError(f"{where}: assertion {_show(form[1])} mixes inputs X_i and "
                                 "outputs Y_j; only an input box and constraints on the "
                                 "outputs alone are supported")
            if inputs:
                _bounds(form[1], n, lows, highs, where)
            elif outs:
                outputs.append(form[1])
            else:
                raise InputError(f"{where}: assertion {_show(form[1])} mentions neither "
                                 "inputs X_i nor outputs Y_j")
        else:
            raise InputError(f"{where}: unexpected form {_show(form)}; expected "
                             "declare-const or assert")
    missing = [f"X_{i} has no {side} bound"
               for i in range(n) for side, bound in (("lower", lows[i]), ("upper", highs[i]))
               if bound is None]
    if missing:
        raise InputError(f"{where}: the input assertions are not a box: {'; '.join(missing)}")
    with located(where):
        domain = box([lo for lo in lows if lo is not None], [hi for hi in highs if hi is not None])
    return replace(domain, description=f"{domain.description} from {Path(path).name}"), outputs


def load_vnnlib_box(path: str | Path, n: int) -> Domain:
    """The box that the input assertions of the VNN-LIB file ``path`` describe, in n inputs."""
    return _read(path, n, None)[0]


# --- the unsafe output set --------------------------------------------------------------------

@dataclass(frozen=True)
class OutputConstraint:
    """coeffs·y + const ≥ 0 (strict: > 0) over the network's m outputs; Fractions."""

    coeffs: tuple[Fraction, ...]
    const: Fraction
    strict: bool = False

    def holds(self, y: tuple[Fraction, ...] | list[Fraction]) -> bool:
        value = sum((a * v for a, v in zip(self.coeffs, y)), self.const)
        return value > 0 if self.strict else value >= 0


@dataclass(frozen=True)
class VnnlibProperty:
    """The input box and the unsafe set: y is unsafe when every constraint of some disjunct
    holds."""

    domain: Domain
    unsafe: tuple[tuple[OutputConstraint, ...], ...]
    outputs: int
    description: str

    def is_unsafe(self, y: tuple[Fraction, ...] | list[Fraction]) -> bool:
        return self.disjunct_met(y) is not None

    def disjunct_met(self, y: tuple[Fraction, ...] | list[Fraction]) -> int | None:
        """The first disjunct whose every constraint the outputs y satisfy, if any."""
        return next((d for d, conjunct in enumerate(self.unsafe)
                     if all(c.holds(y) for c in conjunct)), None)


# Multiplying out a conjunction of disjunctions grows as the product of their sizes; past this
# many disjuncts the property is better split by hand than decided as one.
MAX_DISJUNCTS = 10_000

# A linear expression over the outputs: (coefficients, constant).
_Linear = tuple[list[Fraction], Fraction]
_DNF = list[tuple[OutputConstraint, ...]]

_COMPARISONS = ("<=", ">=", "<", ">", "=")


def _linear(expr: SExpr, m: int, what: str) -> _Linear:
    """The exact linear form of an expression over Y_0..Y_{m-1}; anything else is refused."""
    if isinstance(expr, str):
        match = _OUTPUT.fullmatch(expr)
        if match:
            j = int(match.group(1))
            if j >= m:
                raise InputError(f"{what}: output {expr} does not exist; the network has "
                                 f"{m} outputs")
            coeffs = [Fraction(0)] * m
            coeffs[j] = Fraction(1)
            return coeffs, Fraction(0)
        # Numbers start with a digit, a sign or a point; a name is a variable we do not know
        # (the number grammar's own message would call it a malformed number).
        if expr[:1].isalpha() or expr[:1] == "_":
            raise InputError(f"{what}: unknown variable {expr}; the outputs are Y_0 to "
                             f"Y_{m - 1}")
        return [Fraction(0)] * m, parse_rational(expr, what)
    if not expr or not isinstance(expr[0], str):
        raise InputError(f"{what}: {_show(expr)} is not a linear expression")
    op, args = expr[0], [_linear(e, m, what) for e in expr[1:]]
    if op == "+" and args:
        return ([sum(column, Fraction(0)) for column in zip(*(a for a, _ in args))],
                sum((c for _, c in args), Fraction(0)))
    if op == "-" and len(args) == 1:
        (coeffs, const), = args
        return [-a for a in coeffs], -const
    if op == "-" and len(args) >= 2:
        (first, first_const), rest = args[0], args[1:]
        return ([f - sum(column, Fraction(0)) for f, column in
                 zip(first, zip(*(a for a, _ in rest)))],
                first_const - sum((c for _, c in rest), Fraction(0)))
    if op == "*" and args:
        variable = [i for i, (coeffs, _) in enumerate(args) if any(coeffs)]
        if len(variable) > 1:
            raise InputError(f"{what}: {_show(expr)} multiplies outputs together; only linear "
                             "constraints (products with a constant factor) are supported")
        factor = Fraction(1)
        for i, (_, const) in enumerate(args):
            if i not in variable:
                factor *= const
        if not variable:
            return [Fraction(0)] * m, factor
        coeffs, const = args[variable[0]]
        return [factor * a for a in coeffs], factor * const
    raise InputError(f"{what}: {_show(expr)} is not a linear expression (constants, Y_j, +, -, "
                     "and * by a constant)")


def _product(left: _DNF, right: _DNF, what: str) -> _DNF:
    """The conjunction of two disjunctions, multiplied out into one."""
    if len(left) * len(right) > MAX_DISJUNCTS:
        raise InputError(f"{what}: the output constraints multiply out to more than "
                         f"{MAX_DISJUNCTS} disjuncts; split the property into several files")
    return [a + b for a in left for b in right]


def _dnf(expr: SExpr, m: int, what: str) -> _DNF:
    """An output formula as a disjunction of conjunctions of constraints."""
    if not (isinstance(expr, list) and len(expr) >= 2 and isinstance(expr[0], str)):
        raise InputError(f"{what}: {_show(expr)} is not a comparison, nor an and or or of "
                         "comparisons")
    op = expr[0]
    if op == "and":
        result: _DNF = [()]
        for part in expr[1:]:
            result = _product(result, _dnf(part, m, what), what)
        return result
    if op == "or":
        result = [conjunct for part in expr[1:] for conjunct in _dnf(part, m, what)]
        if len(result) > MAX_DISJUNCTS:
            raise InputError(f"{what}: more than {MAX_DISJUNCTS} disjuncts; split the property "
                             "into several files")
        return result
    if op not in _COMPARISONS or len(expr) != 3:
        raise InputError(f"{what}: {_show(expr)} is not a comparison (<= a b), (>= a b), "
                         "(< a b), (> a b) or (= a b), nor an and or or of them")
    (a, a_const), (b, b_const) = _linear(expr[1], m, what), _linear(expr[2], m, what)
    # Everything is brought to the form  g(y) ≥ 0  (or > 0) with g = larger side − smaller.
    b_minus_a = OutputConstraint(tuple(q - p for p, q in zip(a, b)), b_const - a_const,
                                 strict=op == "<")
    a_minus_b = OutputConstraint(tuple(p - q for p, q in zip(a, b)), a_const - b_const,
                                 strict=op == ">")
    if op in ("<=", "<"):
        return [(b_minus_a,)]
    if op in (">=", ">"):
        return [(a_minus_b,)]
    return [(b_minus_a, a_minus_b)]


def _count(k: int, word: str) -> str:
    return f"{k} {word}" if k == 1 else f"{k} {word}s"


def load_vnnlib_property(path: str | Path, n: int, m: int) -> VnnlibProperty:
    """The input box (as :func:`load_vnnlib_box` reads it) and the unsafe output set of the
    VNN-LIB file ``path``, for a network with n inputs and m outputs."""
    where = str(path)
    domain, assertions = _read(path, n, m)
    if not assertions:
        raise InputError(f"{where}: states no output assertion, so there is no unsafe set to "
                         "decide")
    unsafe: _DNF = [()]
    for assertion in assertions:
        what = f"{where}: assertion {_show(assertion)}"
        unsafe = _product(unsafe, _dnf(assertion, m, what), what)
    sizes = sorted({len(conjunct) for conjunct in unsafe})
    if len(sizes) == 1:
        shape = _count(sizes[0], "constraint")
        if len(unsafe) > 1:
            shape += " each"
    else:
        shape = f"{sizes[0]} to {sizes[-1]} constraints"
    description = f"{Path(path).name}: {_count(len(unsafe), 'disjunct')} of {shape}"
    return VnnlibProperty(domain, tuple(unsafe), m, description)
