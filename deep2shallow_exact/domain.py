"""Input domains: all of Q^n, a closed box, or a polytope (DESIGN section 3).

A domain is a list of closed constraints g(x) ≥ 0 and e(x) = 0. Its facets count as walls, so
the pieces on a box's boundary are pieces of their own.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path

from .affine import Affine
from .errors import InputError, read_text
from .feasibility import Emptiness, LinearSystem, Solver
from .kernel import json_object
from .linalg import equality_rank
from .numbers import parse_rational

POLYTOPE_FORMAT = "deep2shallow-exact/polytope"


@dataclass(frozen=True)
class Domain:
    """{x ∈ Q^n : g(x) ≥ 0 for g in inequalities, e(x) = 0 for e in equalities}."""

    dim: int
    inequalities: tuple[Affine, ...] = ()
    equalities: tuple[Affine, ...] = ()
    description: str = "all of Q^n"

    @property
    def is_everything(self) -> bool:
        return not self.inequalities and not self.equalities

    def contains(self, x: tuple[Fraction, ...]) -> bool:
        return all(g(x) >= 0 for g in self.inequalities) and all(e(x) == 0
                                                                  for e in self.equalities)

    @cached_property
    def bounds(self) -> Bounds:
        """The box around the domain that its one-coordinate rows give."""
        return Bounds.of(self)

    @cached_property
    def box_signs(self) -> BoxSigns:
        """The signs that box fixes, as they are asked for (one table per domain object)."""
        return BoxSigns(self.bounds)

    def to_document(self) -> dict:
        """The certificate form: rows [a_1, ..., a_n, c] meaning a·x + c ≥ 0 (or = 0)."""
        return {"dim": self.dim, "inequalities": [f.to_row() for f in self.inequalities],
                "equalities": [f.to_row() for f in self.equalities]}


@dataclass(frozen=True)
class Bounds:
    """lo_i ≤ x_i ≤ hi_i as integer numerators over one common denominator (None where a side
    is unbounded). A function whose least value on the box is > 0 (or greatest < 0) has that
    sign on every node of a search over the domain, without an LP: the kernel's rule
    (proofs/CERTIFICATE.md section 7), which it checks itself."""

    common: int
    lows: tuple[int | None, ...]
    highs: tuple[int | None, ...]
    # Per coordinate, the domain inequality giving its lower and its upper bound (indices into
    # Domain.inequalities), where every coordinate has both from inequalities; else None.
    rows: tuple[tuple[int, int], ...] | None = None

    @staticmethod
    def of(domain: Domain) -> Bounds:
        n = domain.dim
        lows: list[Fraction | None] = [None] * n
        highs: list[Fraction | None] = [None] * n
        low_rows: list[int | None] = [None] * n
        high_rows: list[int | None] = [None] * n
        rows = [(">=", g) for g in domain.inequalities] + [("=", e) for e in domain.equalities]
        for r, (kind, f) in enumerate(rows):
            used = [i for i, a in enumerate(f.coeffs) if a]
            if len(used) != 1:
                continue
            (i,) = used
            a = f.coeffs[i]
            bound = -f.const / a
            inequality = r < len(domain.inequalities)
            lower, upper = kind == "=" or a > 0, kind == "=" or a < 0
            if lower and (lows[i] is None or bound > lows[i]):  # type: ignore[operator]
                lows[i], low_rows[i] = bound, r if inequality else None
            if upper and (highs[i] is None or bound < highs[i]):  # type: ignore[operator]
                highs[i], high_rows[i] = bound, r if inequality else None
        common = math.lcm(*(v.denominator for v in (*lows, *highs) if v is not None))
        complete = all(r is not None for r in (*low_rows, *high_rows))
        return Bounds(common, *(tuple(None if v is None else v.numerator * (common // v.denominator)
                                      for v in side) for side in (lows, highs)),
                      tuple(zip(low_rows, high_rows)) if complete else None)  # type: ignore

    @property
    def useful(self) -> bool:
        return any(v is not None for v in (*self.lows, *self.highs))

    @property
    def bounded(self) -> bool:
        """Every coordinate bounded on both sides."""
        return all(v is not None for v in (*self.lows, *self.highs))

    def sign(self, ints: tuple[int, ...]) -> int | None:
        """The sign the box fixes for a·x + c, given as integers (a_1, …, a_n, c), if any."""
        low: int | None = ints[-1] * self.common
        high: int | None = low
        for a, lo, hi in zip(ints, self.lows, self.highs):
            if a:
                least, most = (lo, hi) if a > 0 else (hi, lo)
                low = None if low is None or least is None else low + a * least
                high = None if high is None or most is None else high + a * most
                if low is None and high is None:
                    return None
        return 1 if low is not None and low > 0 else -1 if high is not None and high < 0 \
            else None


class BoxSigns:
    """A cache of :meth:`Bounds.sign` by integer form, and how many functions it fixed (a
    statistic: the search reports the neurons the box decided without an LP)."""

    def __init__(self, bounds: Bounds) -> None:
        self.bounds = bounds if bounds.useful else None
        self.signs: dict[tuple[int, ...], int | None] = {}
        self.fixed = 0

    def sign(self, ints: tuple[int, ...]) -> int | None:
        if self.bounds is None:
            return None
        try:
            return self.signs[ints]
        except KeyError:
            answer = self.signs[ints] = self.bounds.sign(ints)
            self.fixed += answer is not None
            return answer


def implicit_equalities(domain: Domain, solver: Solver) -> tuple[Affine, ...]:
    """The inequalities g ≥ 0 of the domain that are 0 on all of it (a flat box side, say):
    each one exactly where {domain, g > 0} has an emptiness certificate."""
    return tuple(g for g in domain.inequalities if isinstance(solver.solve(
        LinearSystem(domain.dim, (g,), domain.inequalities, domain.equalities)), Emptiness))


def domain_dimension(domain: Domain, solver: Solver) -> int:
    """The dimension of the domain's affine hull (−1 if it is empty), however it was given:
    box sides, polytope equalities, repeated or implied ones."""
    if isinstance(solver.solve(LinearSystem(domain.dim, (), domain.inequalities,
                                            domain.equalities)), Emptiness):
        return -1
    rows = (*domain.equalities, *implicit_equalities(domain, solver))
    return domain.dim - equality_rank([e for e in rows if not e.is_constant], domain.dim)


def everywhere(n: int) -> Domain:
    return Domain(n, description=f"all of Q^{n}")


def box(lows: list[Fraction], highs: list[Fraction]) -> Domain:
    n = len(lows)
    if len(highs) != n:
        raise InputError(f"box: {n} lower bounds but {len(highs)} upper bounds")
    ineqs = []
    for i, (lo, hi) in enumerate(zip(lows, highs)):
        if lo > hi:
            raise InputError(f"box: coordinate {i + 1} has lower bound {lo} above upper {hi}")
        ineqs.append(Affine.coordinate(n, i) - Affine.constant(n, lo))
        ineqs.append(Affine.constant(n, hi) - Affine.coordinate(n, i))
    text = " × ".join(f"[{lo}, {hi}]" for lo, hi in zip(lows, highs))
    return Domain(n, tuple(ineqs), (), f"box {text}")


def parse_box(text: str, n: int) -> Domain:
    """Read "lo:hi,lo:hi,..." (one interval per input) or a single "lo:hi" for every input."""
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) == 1 and n > 1:
        parts = parts * n
    if len(parts) != n:
        raise InputError(f"--box: gives {len(parts)} intervals, the network takes {n} inputs")
    lows, highs = [], []
    for i, part in enumerate(parts):
        # Spaces around "," and ":" separate; the numbers themselves follow the kernel's grammar.
        bounds = [bound.strip() for bound in part.split(":")]
        if len(bounds) != 2:
            raise InputError(f"--box: interval {i + 1} {part!r} is not of the form lo:hi")
        lows.append(parse_rational(bounds[0], f"--box interval {i + 1} lower bound"))
        highs.append(parse_rational(bounds[1], f"--box interval {i + 1} upper bound"))
    return box(lows, highs)


def load_polytope(path: str | Path, n: int) -> Domain:
    """Read a polytope file: {"format": "deep2shallow-exact/polytope", "version": 1,
    "inequalities": [{"a": [...], "b": ...}] meaning a·x ≤ b, "equalities": [...] a·x = b}."""
    where = str(path)
    text = read_text(path)

    def refuse_constant(name: str) -> object:
        raise InputError(f"{where}: {name} is not valid JSON")

    # As formats.json_format.parse_json_text (which this module cannot import: the formats
    # import it): the kernel's number grammar (decimals read exactly, exponents bounded), its
    # duplicate-key rule, and one line for brackets nested past the recursion limit.
    try:
        doc = json.loads(text, parse_float=lambda number: parse_rational(number, where),
                         parse_constant=refuse_constant, object_pairs_hook=json_object)
    except InputError:
        raise
    except ValueError as exc:  # JSONDecodeError, a duplicate key, an integer too long to convert
        raise InputError(f"{where}: malformed JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{where}: malformed JSON: brackets nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("format") != POLYTOPE_FORMAT:
        raise InputError(f"{where}: format: expected {POLYTOPE_FORMAT!r}")
    if doc.get("version") != 1:
        raise InputError(f"{where}: version: expected 1, found {doc.get('version')!r}")

    def rows(field: str) -> tuple[Affine, ...]:
        items = doc.get(field, [])
        if not isinstance(items, list):
            raise InputError(f"{where}: {field}: expected a list")
        out = []
        for r, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("a"), list):
                raise InputError(f"{where}: {field}[{r}]: expected {{\"a\": [...], \"b\": ...}}")
            if len(item["a"]) != n:
                raise InputError(f"{where}: {field}[{r}].a has {len(item['a'])} entries, "
                                 f"the network takes {n} inputs")
            a = [parse_rational(v, f"{where}: {field}[{r}].a[{c}]")
                 for c, v in enumerate(item["a"])]
            b = parse_rational(item.get("b"), f"{where}: {field}[{r}].b")
            # a·x ≤ b  ⇔  b − a·x ≥ 0
            out.append(Affine(tuple(-v for v in a), b))
        return tuple(out)

    return Domain(n, rows("inequalities"), rows("equalities"), f"polytope {where}")


def domain_from_document(doc: object, where: str) -> Domain:
    """Inverse of :meth:`Domain.to_document` (used by checkpoints)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("dim"), int):
        raise InputError(f"{where}: domain: expected {{\"dim\": n, ...}}")
    n = doc["dim"]

    def rows(field: str) -> tuple[Affine, ...]:
        items = doc.get(field, [])
        if not isinstance(items, list) or any(not isinstance(r, list) or len(r) != n + 1
                                               for r in items):
            raise InputError(f"{where}: domain.{field}: expected rows of {n + 1} numbers")
        return tuple(Affine.from_row(r, f"{where}: domain.{field}[{i}]")
                     for i, r in enumerate(items))

    ineqs, eqs = rows("inequalities"), rows("equalities")
    return Domain(n, ineqs, eqs, f"all of Q^{n}" if not ineqs and not eqs else "saved domain")
