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
  on D minus finitely many hyperplanes: the open activation regions.

Why. Each node stands for the set P of points of D that satisfy the rows of its path. A split's
children cover its own set (φ > 0, φ = 0, φ < 0; without φ = 0 in scope "open"), so the leaves
cover D (off the split hyperplanes in scope "open"). An empty leaf's Motzkin multipliers make
Σ μ_r f_r a constant κ on all of R^n, while every point of P would give Σ μ_r f_r(x) ≥ 0, and
> 0 if some strict row has μ_r > 0; κ < 0 (or κ = 0 with such a row) leaves P empty. At a piece
leaf every sign the symbolic evaluation uses holds at every point of P, because it comes from a
row that holds on P; so on P each network equals the affine map computed, and their difference
Σ_j λ_j E_j vanishes on P since every equality row E_j does. The witness adds that P is nonempty,
so ``pieces`` counts nonempty pieces.

Not checked here, and trusted: the Python interpreter, its integers and ``fractions.Fraction``,
and the modules ``json``, ``re``, ``dataclasses`` and ``functools``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache

CERTIFICATE_FORMAT = "deep2shallow-exact/certificate"
NETWORK_FORMAT = "deep2shallow-exact/network"

# Integers, "p/q", and decimals such as "-1.25e-3". ASCII digits only: Fraction() alone would
# also take Unicode digits, underscores and spaces, which a second checker might not.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+/[0-9]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
# "1e999999999" would make Fraction build a billion-digit integer; the same bound as Python's
# default limit on integer digits keeps every accepted number cheap.
_MAX_EXPONENT = 4300


@dataclass(frozen=True)
class Verdict:
    """The kernel's answer; ``path`` locates the first failing node or field."""

    valid: bool
    reason: str
    path: str
    pieces: int
    empties: int
    nodes: int


@dataclass(frozen=True)
class _Inf:
    """+∞ (sign 1) or −∞ (sign −1)."""

    sign: int


# An affine function a·x + c is the tuple (a_1, ..., a_n, c); a value is one of those or ±∞.
Affine = tuple[Fraction, ...]
Value = Affine | _Inf
Number = Fraction | _Inf
_SIDES = {"everywhere": ("+", "0", "-"), "open": ("+", "-")}


@dataclass(frozen=True)
class _Layer:
    # Row j lists (k, W_jk) for the nonzero weights only: 0 ⊙ anything = 0, even ±∞, so the
    # zero weights (most of a shallow network's) never contribute.
    weights: tuple[tuple[tuple[int, Number], ...], ...]
    bias: tuple[Number, ...]


@dataclass(frozen=True)
class _Network:
    kind: str                       # "relu", "dgn" or "dlgn"
    layers: tuple[_Layer, ...]      # relu: all layers; dgn/dlgn: the value network
    gating: tuple[_Layer, ...] = ()
    ones: bool = False              # dgn/dlgn: the value network reads the all-ones vector


@dataclass(frozen=True)
class _Row:
    kind: str        # ">" strict, "≥" non-strict, "=" equality: f(x) kind 0
    f: Affine
    origin: str

    @cached_property  # computed once per row, not once per leaf below it
    def signed(self) -> tuple[Affine, int] | None:
        """(key, sign of key) for a strict or equality row of a non-constant f = s · key."""
        if self.kind == "≥" or not any(self.f[:-1]):
            return None
        key, scale = _canonical(self.f)
        return key, (1 if self.kind == ">" else 0) * _sign(scale)


class _Reject(Exception):
    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason, self.path = reason, path


def verify_text(text: str) -> Verdict:
    """Verify a certificate given as JSON text (JSON decimals are read as exact decimals)."""
    try:
        document = json.loads(text, parse_float=_json_decimal, parse_constant=_json_constant,
                              object_pairs_hook=_json_object)
    except (ValueError, TypeError, RecursionError) as error:
        return Verdict(False, f"not a valid JSON document: {_cut(str(error))}", "", 0, 0, 0)
    return verify(document)


def verify(document: object) -> Verdict:
    """Verify a parsed certificate. Never raises; any defect gives ``valid=False``."""
    check = _Check()
    try:
        return check.run(document)
    except _Reject as reject:
        return Verdict(False, reject.reason, reject.path, check.pieces, check.empties,
                       check.nodes)
    except Exception as error:  # a kernel bug must end in "invalid", never in a crash or a pass
        return Verdict(False, f"internal error: {type(error).__name__}: {_cut(str(error))}", "",
                       check.pieces, check.empties, check.nodes)


class _Check:
    def __init__(self) -> None:
        self.pieces = self.empties = self.nodes = 0

    def run(self, doc: object) -> Verdict:
        doc = _object(doc, "certificate")
        if _get(doc, "format", "") != CERTIFICATE_FORMAT:
            raise _Reject(f"format must be {CERTIFICATE_FORMAT!r}", "format")
        if not _same_int(_get(doc, "version", ""), 1):
            raise _Reject("version must be 1", "version")
        self.scope = _get(doc, "scope", "")
        if not isinstance(self.scope, str) or self.scope not in _SIDES:
            raise _Reject('scope must be "everywhere" or "open"', "scope")
        self._domain(_get(doc, "domain", ""))
        nets = _get(doc, "networks", "")
        if not isinstance(nets, list) or len(nets) != 2:
            raise _Reject("networks must be a list of two network documents", "networks")
        self.networks = [_network(net, f"networks[{k}]", self.n) for k, net in enumerate(nets)]
        self.outputs = len(self.networks[0].layers[-1].bias)
        if len(self.networks[1].layers[-1].bias) != self.outputs:
            raise _Reject(f"networks[0] has {self.outputs} outputs, networks[1] has "
                          f"{len(self.networks[1].layers[-1].bias)}", "networks[1]")
        tree = _get(doc, "tree", "")
        if not isinstance(tree, list) or not tree:
            raise _Reject("tree must be a nonempty list of nodes", "tree")
        self.nodes = len(tree)
        self._walk(tree)
        if self.scope == "everywhere":
            claim = f"at every point of {self.domain_text}"
        else:
            claim = f"at every point of {self.domain_text} off the hyperplanes of the splits"
        return Verdict(True, f"both networks are defined, finite and equal {claim} "
                       f"(scope {self.scope}); {self.pieces} pieces, {self.empties} empty "
                       f"leaves, {self.nodes} nodes", "", self.pieces, self.empties, self.nodes)

    def _domain(self, value: object) -> None:
        domain = _object(value, "domain")
        self.n = _get(domain, "dim", "domain.")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise _Reject("dim must be a positive integer", "domain.dim")
        self.base_rows: list[_Row] = []
        for field, kind in (("inequalities", "≥"), ("equalities", "=")):
            rows = _get(domain, field, "domain.")
            if not isinstance(rows, list):
                raise _Reject("must be a list of rows", f"domain.{field}")
            for r, row in enumerate(rows):
                where = f"domain.{field}[{r}]"
                self.base_rows.append(_Row(kind, _affine(row, self.n, where), where))
        count = len(self.base_rows)
        self.domain_text = (f"R^{self.n}" if count == 0 else
                            f"the subset of R^{self.n} cut out by the {count} domain rows")

    def _walk(self, tree: list) -> None:
        """Depth-first from the root with an explicit stack; ``rows``/``sides`` hold the path."""
        seen = [False] * len(tree)
        seen[0] = True
        stack: list[tuple[int, int, str, _Row | None]] = [(0, 0, "", None)]
        rows: list[_Row] = []
        sides: list[str] = []
        while stack:
            index, depth, side, row = stack.pop()
            del rows[depth:], sides[depth:]
            if row is not None:
                rows.append(row)
                sides.append(side)
            try:
                stack.extend(self._node(tree[index], index, len(tree), rows, seen))
            except _Reject as reject:
                label = f"tree[{index}] ({'/'.join(['root', *sides])})"
                raise _Reject(reject.reason, label + reject.path) from None
        for index, reached in enumerate(seen):
            if not reached:
                raise _Reject("no split has this node as a child (unreachable)", f"tree[{index}]")

    def _node(self, node: object, index: int, size: int, path: list[_Row],
              seen: list[bool]) -> list[tuple[int, int, str, _Row]]:
        """Check one node; return its children (last visited first) for the stack."""
        if not isinstance(node, dict):
            raise _Reject(f"a node must be an object, found {_brief(node)}")
        kinds = [key for key in ("split", "empty", "piece") if key in node]
        if len(kinds) != 1:
            raise _Reject('a node must have exactly one of "split", "empty", "piece"')
        if kinds != ["split"] and "children" in node:
            raise _Reject('only a split node may have "children"')
        if kinds == ["empty"]:
            self._empty(node["empty"], self.base_rows + path)
            self.empties += 1
            return []
        if kinds == ["piece"]:
            self._piece(node["piece"], self.base_rows + path)
            self.pieces += 1
            return []
        phi = _affine(node["split"], self.n, ".split")
        if not any(phi[:-1]):
            raise _Reject("the split function is constant; it must be a hyperplane", ".split")
        children = _get(node, "children", "")
        sides = _SIDES[self.scope]
        if not isinstance(children, dict) or set(children) != set(sides):
            raise _Reject(f'children must be an object with exactly the keys {", ".join(sides)} '
                          f"(scope {self.scope})", ".children")
        origin = f"split of tree[{index}]"
        asserted = {"+": _Row(">", phi, origin + ", side +"),
                    "0": _Row("=", phi, origin + ", side 0"),
                    "-": _Row(">", tuple(-c for c in phi), origin + ", side -")}
        out = []
        for side in sides:
            child = children[side]
            where = f'.children["{side}"]'
            if isinstance(child, bool) or not isinstance(child, int):
                raise _Reject(f"a child must be a node index, found {_brief(child)}", where)
            if not index < child < size:
                raise _Reject(f"child index {_brief(child)} must lie in {index + 1}..{size - 1}"
                              " (children come after their parent)", where)
            if seen[child]:
                raise _Reject(f"tree[{child}] is the child of two splits", where)
            seen[child] = True
            out.append((child, len(path), side, asserted[side]))
        return out[::-1]

    def _empty(self, value: object, rows: list[_Row]) -> None:
        """Motzkin: Σ μ_r f_r has zero x-part and constant κ < 0, or κ = 0 with a strict μ_r > 0."""
        if not isinstance(value, list) or len(value) != len(rows):
            raise _Reject(f"expected a list of {len(rows)} multipliers, one per row", ".empty")
        total = [Fraction(0)] * (self.n + 1)
        strict_used = False
        for r, (item, row) in enumerate(zip(value, rows)):
            mu = _rational(item, f".empty[{r}]")
            if row.kind != "=" and mu < 0:
                raise _Reject(f"multiplier {_num(mu)} of the {row.kind} row ({row.origin}) "
                              "is negative", f".empty[{r}]")
            strict_used = strict_used or (row.kind == ">" and mu > 0)
            if mu:
                total = [t + mu * c for t, c in zip(total, row.f)]
        if any(total[:-1]):
            raise _Reject(f"Σ μ·row = {_show(tuple(total))} is not constant", ".empty")
        kappa = total[-1]
        if kappa > 0 or (kappa == 0 and not strict_used):
            raise _Reject(f"Σ μ·row is the constant {_num(kappa)}; a Motzkin certificate needs "
                          "κ < 0, or κ = 0 with a positive multiplier on a strict row", ".empty")

    def _piece(self, value: object, rows: list[_Row]) -> None:
        """Witness inside the piece; both maps finite; their difference is Σ λ_j E_j."""
        piece = _object(value, ".piece")
        witness = _get(piece, "witness", ".piece.")
        if not isinstance(witness, list) or len(witness) != self.n:
            raise _Reject(f"the witness must list {self.n} coordinates", ".piece.witness")
        point = [_rational(v, f".piece.witness[{i}]") for i, v in enumerate(witness)]
        for row in rows:
            at = _at(row.f, point)
            if at < 0 or (at == 0 and row.kind == ">") or (at > 0 and row.kind == "="):
                raise _Reject(f"the witness violates {_show(row.f)} {row.kind} 0 ({row.origin}); "
                              f"the value there is {_num(at)}", ".piece.witness")
        equalities = [row.f for row in rows if row.kind == "="]
        lambdas = _get(piece, "lambda", ".piece.")
        if not isinstance(lambdas, list) or len(lambdas) != self.outputs:
            raise _Reject(f"lambda must hold one list per output ({self.outputs})", ".piece.lambda")
        for k, lams in enumerate(lambdas):
            if not isinstance(lams, list) or len(lams) != len(equalities):
                raise _Reject(f"expected {len(equalities)} multipliers, one per equality row",
                              f".piece.lambda[{k}]")
        leaf = _Leaf(self.n, rows)
        first, second = (leaf.evaluate(net, f"networks[{k}]")
                         for k, net in enumerate(self.networks))
        for k, (a, b, lams) in enumerate(zip(first, second, lambdas)):
            rest = [x - y for x, y in zip(a, b)]
            for j, (lam, e) in enumerate(zip(lams, equalities)):
                lam = _rational(lam, f".piece.lambda[{k}][{j}]")
                rest = [r - lam * c for r, c in zip(rest, e)]
            if any(rest):
                raise _Reject(f"output {k}: networks[0] gives {_show(a)}, networks[1] gives "
                              f"{_show(b)}; their difference minus Σ λ·E is {_show(tuple(rest))}",
                              f".piece.lambda[{k}]")


class _Leaf:
    """Symbolic evaluation on a leaf's set P, using only the signs that its rows assert: a strict
    row f > 0 or an equality row f = 0 fixes the sign of every nonzero multiple of f, recognised
    by its canonical form. Domain inequalities (≥) fix no sign; a constant's sign is its own."""

    def __init__(self, n: int, rows: list[_Row]) -> None:
        self.n = n
        self.zero: Affine = (Fraction(0),) * (n + 1)
        self.known = dict(row.signed for row in rows if row.signed is not None)

    def sign(self, f: Affine, who: str) -> int:
        if not any(f[:-1]):
            return _sign(f[-1])
        key, scale = _canonical(f)
        if key not in self.known:
            raise _Reject(f"{who} needs the sign of {_show(f)}, which no row on the path asserts")
        return self.known[key] * _sign(scale)

    def evaluate(self, net: _Network, name: str) -> list[Affine]:
        """The affine map that each output of ``net`` equals on P."""
        x: list[Value] = [tuple(Fraction(int(i == j)) for j in range(self.n + 1))
                          for i in range(self.n)]
        if net.kind == "relu":
            values = x
            for i, layer in enumerate(net.layers):
                who = f"{name}.layers[{i}]"
                values = self.apply(layer, values, who)
                if i < len(net.layers) - 1:
                    values = [self.relu(v, f"{who} row {j}") for j, v in enumerate(values)]
            return _finite(values, f"{name} output")
        gates: list[list[bool]] = []
        signal = x
        for i, layer in enumerate(net.gating):
            who = f"{name}.gating[{i}]"
            q = _finite(self.apply(layer, signal, who), who)
            gates.append([self.sign(v, f"{who} row {j}") > 0 for j, v in enumerate(q)])
            signal = q if net.kind == "dlgn" else [v if g else self.zero
                                                   for v, g in zip(q, gates[-1])]
        h = [self.zero[:-1] + (Fraction(1),)] * self.n if net.ones else x
        for i, (layer, gate) in enumerate(zip(net.layers, gates)):
            pre = self.apply(layer, h, f"{name}.value[{i}]")
            h = [v if g else self.zero for v, g in zip(pre, gate)]
        return _finite(self.apply(net.layers[-1], h, f"{name}.value[{len(gates)}]"),
                       f"{name} output")

    def apply(self, layer: _Layer, inputs: list[Value], who: str) -> list[Value]:
        """z_j = b_j + Σ_k W_jk ⊙ a_k; +∞ and −∞ in one sum is undefined."""
        out: list[Value] = []
        for j, (weights, bias) in enumerate(zip(layer.weights, layer.bias)):
            where = f"{who} row {j}"
            constant = bias if isinstance(bias, _Inf) else self.zero[:-1] + (bias,)
            terms = [constant, *(self.times(w, inputs[k], where) for k, w in weights)]
            infinite = {t.sign for t in terms if isinstance(t, _Inf)}
            if len(infinite) == 2:
                raise _Reject(f"{where}: +∞ and −∞ meet in one sum (∞ − ∞ is undefined)")
            if infinite:
                out.append(_Inf(infinite.pop()))
                continue
            total = list(self.zero)
            for t in terms:
                if t is not None:
                    total = [s + c for s, c in zip(total, t)]
            out.append(tuple(total))
        return out

    def times(self, w: Number, a: Value, where: str) -> Value | None:
        """w ⊙ a for w ≠ 0; None stands for the zero function (from ±∞ · 0)."""
        w_sign = w.sign if isinstance(w, _Inf) else _sign(w)
        if isinstance(a, _Inf):
            return _Inf(w_sign * a.sign)
        if isinstance(w, _Inf):
            a_sign = self.sign(a, where)
            return None if a_sign == 0 else _Inf(w_sign * a_sign)
        return tuple(w * c for c in a)

    def relu(self, v: Value, where: str) -> Value:
        if isinstance(v, _Inf):
            return v if v.sign > 0 else self.zero
        return v if self.sign(v, where) > 0 else self.zero


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
        if not isinstance(weights, list) or not weights:
            raise _Reject("weights must be a nonempty list of rows", at + ".weights")
        if not isinstance(bias, list) or len(bias) != len(weights):
            raise _Reject(f"bias must list {len(weights)} numbers, one per row", at + ".bias")
        rows = []
        for r, row in enumerate(weights):
            if not isinstance(row, list) or len(row) != width:
                raise _Reject(f"a row must list {width} numbers (the width of its input)",
                              f"{at}.weights[{r}]")
            entries = [(c, _number(v, f"{at}.weights[{r}][{c}]", infinite_ok))
                       for c, v in enumerate(row)]
            rows.append(tuple((c, w) for c, w in entries if isinstance(w, _Inf) or w))
        layers.append(_Layer(tuple(rows), tuple(_number(v, f"{at}.bias[{r}]", infinite_ok)
                                                for r, v in enumerate(bias))))
        width = len(weights)
    return tuple(layers)


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
    if isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    parsed = _parse_number(value) if isinstance(value, str) else None
    if parsed is None:
        raise _Reject(f'{_brief(value)} is not an exact number (an integer, "p/q" or a decimal)',
                      where)
    return parsed


def _parse_number(text: str) -> Fraction | None:
    if not _NUMBER.fullmatch(text):
        return None
    exponent = text.lower().partition("e")[2]
    try:
        if exponent and abs(int(exponent)) > _MAX_EXPONENT:
            return None
        return Fraction(text)
    except (ValueError, ZeroDivisionError):  # "1/0", or more digits than Python converts
        return None


def _json_decimal(text: str) -> Fraction:
    value = _parse_number(text)
    if value is None:
        raise ValueError(f"number {_brief(text)} is out of range")
    return value


def _json_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def _json_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # A repeated key would let two readers of the same text see different certificates.
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


def _finite(values: list[Value], what: str) -> list[Affine]:
    for k, v in enumerate(values):
        if isinstance(v, _Inf):
            raise _Reject(f"{what} {k} is {'+∞' if v.sign > 0 else '−∞'} on this piece")
    return values  # type: ignore[return-value]  # every entry is an Affine now


@lru_cache(maxsize=1 << 16)  # the same neuron functions recur at many leaves
def _canonical(f: Affine) -> tuple[Affine, Fraction]:
    """(key, s) with f = s · key and key's first nonzero x-coefficient 1 (f not constant)."""
    s = next(c for c in f[:-1] if c)
    return tuple(c / s for c in f), s


def _sign(value: Fraction) -> int:
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
