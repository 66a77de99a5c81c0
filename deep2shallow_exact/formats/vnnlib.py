"""The input box of a VNN-LIB property (the SMT-LIB dialect of the VNN-COMP benchmarks).

Inputs are the constants X_0, X_1, ...; the box is read from assertions that bound one input by
a constant: ``(assert (<= X_i c))``, ``(assert (>= X_i c))``, the mirrored forms with the
constant first, ``=``, and conjunctions ``(and ...)`` of these. Constants are exact decimals
(or ``(- c)``), read with the kernel's number grammar (integers, "p/q", decimals such as
``-1.25e-3``; ASCII digits). Assertions that mention only outputs (Y_j) are the property, not
the domain, and are skipped. Any other constraint on the inputs is not a box and is refused.
"""

from __future__ import annotations

import re
from dataclasses import replace
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


def load_vnnlib_box(path: str | Path, n: int) -> Domain:
    """The box that the input assertions of the VNN-LIB file ``path`` describe, in n inputs."""
    where = str(path)
    text = read_text(path)
    lows: list[Fraction | None] = [None] * n
    highs: list[Fraction | None] = [None] * n
    for form in _parse(text, where):
        if not isinstance(form, list) or not form or not isinstance(form[0], str):
            raise InputError(f"{where}: unexpected top-level form {_show(form)}")
        if form[0] == "declare-const" and len(form) == 3 and isinstance(form[1], str):
            match = _INPUT.fullmatch(form[1])
            if match and int(match.group(1)) >= n:
                raise InputError(f"{where}: declares input {form[1]} but the network takes "
                                 f"{n} inputs")
        elif form[0] == "assert" and len(form) == 2:
            if _mentions(form[1], _INPUT):
                _bounds(form[1], n, lows, highs, where)
            elif not _mentions(form[1], _OUTPUT):
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
    return replace(domain, description=f"{domain.description} from {Path(path).name}")
