"""An independent Z3 decision procedure for "do two networks agree on a domain" (benchmark only).

    python benchmarks/z3_peer.py A.json B.json [--box lo:hi,...] [--timeout S] [--json]

Reads deep2shallow-exact network files (DESIGN section 8) with its own small reader — it imports
nothing from the package, so it is a peer, not a second copy of the engine — and asks Z3
(z3-solver, exact rational arithmetic, QF_LRA) for a point x of the domain (all of R^n, or a
closed box) where the two networks' exact outputs differ, or where one of them is undefined
(an ∞ − ∞ in some neuron) or infinite. unsat means PROVEN equal on the domain; a model is
REFUTED only after the point, read from Z3 as exact rationals, has been re-evaluated in
Fractions by this file's own evaluator and found to differ. Exit status: 0 PROVEN, 1 REFUTED,
2 bad input, 3 timeout or unknown, 4 a model the exact re-check does not confirm (a bug here).

Extended-real semantics (DESIGN section 1), encoded exactly. Every neuron value v is a Real
``fin`` (its value when finite; unconstrained otherwise) and two Bools ``pinf`` / ``ninf``,
kept as Python ``False`` where the value cannot be infinite, so that finite networks are plain
linear arithmetic. A term w·v with finite w ≠ 0 adds w·fin and passes the flags on (swapped for
w < 0); w = 0 drops the term (0·∞ = 0); w = ±∞ adds no finite part and is ±∞ exactly where
v > 0 and ∓∞ where v < 0, with v > 0 ⟺ pinf ∨ (¬ninf ∧ fin > 0). A sum is +∞ if some term is
+∞, −∞ if some term is −∞, and undefined (for the whole network, as in the exact evaluator) if
both. ReLU(v) = +∞ if v is +∞, else max(fin, 0) with fin read as 0 when v is −∞; a ReLU output
is never −∞ and is ≥ 0, so an ∞-weight term on it needs one comparison, ``z > 0`` of the
pre-activation z. This makes the shallow networks' second layer, ReLU(ReLU(h) − ∞·Σ violations),
one disjunction of strict comparisons per gadget. Values of undefined neurons are whatever the
formulas give: the query asks for "undefined somewhere, or the outputs differ", and wherever
nothing is undefined every formula is the exact value.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

NETWORK_FORMAT = "deep2shallow-exact/network"


class BadInput(Exception):
    """A file this reader cannot use; the message names the file and field."""


class Undefined(Exception):
    """An ∞ − ∞ in a neuron's sum; the message names the layer and neuron (from 1)."""


@dataclass(frozen=True)
class Inf:
    """+∞ (sign 1) or −∞ (sign −1)."""

    sign: int

    def __str__(self) -> str:
        return "inf" if self.sign > 0 else "-inf"


POS_INF, NEG_INF = Inf(1), Inf(-1)
Number = Fraction | Inf
Row = list[tuple[int, Number]]  # the nonzero entries of a weight row: (column, weight)


@dataclass(frozen=True)
class Layer:
    rows: list[Row]
    bias: list[Number]
    cols: int


@dataclass(frozen=True)
class Net:
    """kind "relu": ``layers`` (the last one affine); "dgn"/"dlgn": ``gating`` and ``value``."""

    kind: str
    layers: list[Layer]
    gating: list[Layer]
    value_input: str = "x"

    @property
    def input_dim(self) -> int:
        return (self.gating or self.layers)[0].cols

    @property
    def output_dim(self) -> int:
        return len(self.layers[-1].rows)


# -- reading -----------------------------------------------------------------------------------

def parse_number(value: Any, where: str, allow_inf: bool) -> Number:
    """A JSON int, a "p/q" or decimal string (or a decimal literal, read exactly), or
    "inf"/"-inf" where allowed."""
    if isinstance(value, bool):
        raise BadInput(f"{where}: expected a number, found {value!r}")
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("inf", "+inf", "infinity", "+infinity", "-inf", "-infinity"):
            if not allow_inf:
                raise BadInput(f"{where}: infinite entry not allowed here")
            return NEG_INF if text.startswith("-") else POS_INF
        try:
            return Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise BadInput(f"{where}: {value!r} is not an exact number") from None
    raise BadInput(f"{where}: expected a number, found {type(value).__name__}")


def _read_layer(item: Any, where: str, allow_inf: bool, cols: int | None) -> Layer:
    if not isinstance(item, dict):
        raise BadInput(f"{where}: expected an object with weights and bias")
    weights, bias = item.get("weights"), item.get("bias")
    if not isinstance(bias, list):
        raise BadInput(f"{where}: bias: expected a list of numbers")
    m = len(bias)
    rows: list[Row] = [[] for _ in range(m)]
    if isinstance(weights, dict):  # sparse {"rows": m, "cols": n, "entries": [[i, j, w], ...]}
        n = weights.get("cols")
        if weights.get("rows") != m or not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise BadInput(f"{where}: weights: sparse form needs rows = {m} (the bias length) "
                           "and a column count")
        entries = weights.get("entries")
        if not isinstance(entries, list):
            raise BadInput(f"{where}: weights.entries: expected a list of [i, j, w]")
        seen: set[tuple[int, int]] = set()
        for k, entry in enumerate(entries):
            at = f"{where}: weights.entries[{k}]"
            if not (isinstance(entry, list) and len(entry) == 3
                    and all(isinstance(v, int) and not isinstance(v, bool) for v in entry[:2])):
                raise BadInput(f"{at}: expected [i, j, w] with integer i, j")
            i, j = entry[0], entry[1]
            if not (0 <= i < m and 0 <= j < n) or (i, j) in seen:
                raise BadInput(f"{at}: index ({i}, {j}) out of range or repeated")
            seen.add((i, j))
            w = parse_number(entry[2], at, allow_inf)
            if w != 0:
                rows[i].append((j, w))
        for row in rows:
            row.sort(key=lambda e: e[0])
    elif isinstance(weights, list) and len(weights) == m:
        n = len(weights[0]) if weights else 0
        for i, dense in enumerate(weights):
            if not isinstance(dense, list) or len(dense) != n:
                raise BadInput(f"{where}: weights[{i}]: expected a row of {n} numbers")
            for j, v in enumerate(dense):
                w = parse_number(v, f"{where}: weights[{i}][{j}]", allow_inf)
                if w != 0:
                    rows[i].append((j, w))
    else:
        raise BadInput(f"{where}: weights: expected {m} rows (one per bias entry) or the "
                       "sparse form {rows, cols, entries}")
    if cols is not None and n != cols:
        raise BadInput(f"{where}: weights have {n} columns, the layer before has {cols} outputs")
    return Layer(rows, [parse_number(v, f"{where}: bias[{i}]", allow_inf)
                        for i, v in enumerate(bias)], n)


def _read_layers(doc: dict, field: str, where: str, allow_inf: bool,
                 cols: int | None = None) -> list[Layer]:
    items = doc.get(field)
    if not isinstance(items, list) or not items:
        raise BadInput(f"{where}: {field}: expected a non-empty list of layers")
    layers = []
    for i, item in enumerate(items):
        layers.append(_read_layer(item, f"{where}: {field}[{i}]", allow_inf, cols))
        cols = len(layers[-1].rows)
    return layers


def network_from_document(doc: Any, where: str) -> Net:
    if not isinstance(doc, dict) or doc.get("format") != NETWORK_FORMAT:
        raise BadInput(f"{where}: not a {NETWORK_FORMAT} document")
    kind = doc.get("kind", "relu")
    if kind == "relu":
        return Net("relu", _read_layers(doc, "layers", where, True), [])
    if kind in ("dgn", "dlgn"):
        gating = _read_layers(doc, "gating", where, False)
        value = _read_layers(doc, "value", where, False, gating[0].cols)
        if len(value) != len(gating) + 1 or any(
                len(g.rows) != len(v.rows) for g, v in zip(gating, value)):
            raise BadInput(f"{where}: value: needs one layer per gating layer (same widths), "
                           "then the output layer")
        value_input = doc.get("value_input", "x")
        if value_input not in ("x", "ones"):
            raise BadInput(f"{where}: value_input: expected \"x\" or \"ones\"")
        return Net(kind, value, gating, value_input)
    raise BadInput(f"{where}: kind: {kind!r} is not relu, dgn or dlgn")


def read_network(path: str | Path) -> Net:
    where = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise BadInput(f"{where}: cannot read: {exc}") from None
    try:
        doc = json.loads(text, parse_float=Fraction, parse_constant=_refuse)
    except ValueError as exc:
        raise BadInput(f"{where}: malformed JSON: {exc}") from None
    return network_from_document(doc, where)


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not allowed; write \"inf\" as a string")


def parse_box(text: str, n: int) -> list[tuple[Fraction, Fraction]]:
    parts = text.split(",")
    if len(parts) != n:
        raise BadInput(f"--box: {len(parts)} intervals for {n} inputs")
    box = []
    for k, part in enumerate(parts):
        lo, sep, hi = part.partition(":")
        if not sep:
            raise BadInput(f"--box: interval {k + 1}: expected lo:hi")
        a, b = (parse_number(v, f"--box interval {k + 1}", False) for v in (lo, hi))
        if a > b:
            raise BadInput(f"--box: interval {k + 1} is empty")
        box.append((a, b))
    return box


# -- exact evaluation --------------------------------------------------------------------------

def _mul(w: Number, a: Number) -> Number:
    if isinstance(w, Inf) or isinstance(a, Inf):
        s = _sign(w) * _sign(a)
        return Fraction(0) if s == 0 else Inf(s)
    return w * a


def _sign(v: Number) -> int:
    return v.sign if isinstance(v, Inf) else (v > 0) - (v < 0)


def _relu(v: Number) -> Number:
    if isinstance(v, Inf):
        return v if v.sign > 0 else Fraction(0)
    return max(v, Fraction(0))


def _affine(layer: Layer, inputs: list[Number], where: str) -> list[Number]:
    out: list[Number] = []
    for j, (row, b) in enumerate(zip(layer.rows, layer.bias)):
        finite, signs = Fraction(0), set()
        for v in [b, *(_mul(w, inputs[i]) for i, w in row)]:
            if isinstance(v, Inf):
                signs.add(v.sign)
            else:
                finite += v
        if len(signs) > 1:
            raise Undefined(f"{where}, neuron {j + 1}: inf - inf")
        out.append(Inf(signs.pop()) if signs else finite)
    return out


def evaluate(net: Net, x: list[Fraction]) -> list[Number]:
    """The exact output at x; raises Undefined for an ∞ − ∞ in any neuron."""
    if net.kind == "relu":
        acts: list[Number] = list(x)
        for index, layer in enumerate(net.layers):
            acts = _affine(layer, acts, f"layer {index + 1}")
            if index < len(net.layers) - 1:
                acts = [_relu(v) for v in acts]
        return acts
    signal: list[Number] = list(x)
    h: list[Number] = list(x) if net.value_input == "x" else [Fraction(1)] * len(x)
    for index, (g, v) in enumerate(zip(net.gating, net.layers)):
        q = _affine(g, signal, f"gating {index + 1}")
        h = [u if gate > 0 else Fraction(0)
             for u, gate in zip(_affine(v, h, f"value {index + 1}"), q)]
        signal = q if net.kind == "dlgn" else [max(u, Fraction(0)) for u in q]
    return _affine(net.layers[-1], h, "output")


def outputs_disagree(a: Net, b: Net, x: list[Fraction]) -> tuple[bool, list[str]]:
    """Whether x refutes equality (outputs differ, or one is undefined or infinite), and the
    two outputs as text."""
    outs = []
    for net in (a, b):
        try:
            outs.append(evaluate(net, x))
        except Undefined as exc:
            outs.append(f"undefined ({exc})")
    texts = [o if isinstance(o, str) else ", ".join(map(str, o)) for o in outs]
    bad = any(isinstance(o, str) or any(isinstance(v, Inf) for v in o) for o in outs)
    return bad or outs[0] != outs[1], texts


# -- the Z3 encoding ---------------------------------------------------------------------------

@dataclass
class Val:
    """One neuron's value: ``fin`` (z3 term or Fraction), the Bools ``pinf`` / ``ninf`` (z3
    terms, or Python False where the value cannot be infinite), ``nonneg`` (fin ≥ 0 whenever
    the value is finite, known statically) and ``pos``, a z3 term for "value > 0" when a cheaper
    one than the generic pinf ∨ (¬ninf ∧ fin > 0) is known (a ReLU output: its input > 0)."""

    fin: Any
    pinf: Any = False
    ninf: Any = False
    nonneg: bool = False
    pos: Any = None


class Encoder:
    """Builds the formulas of one query; constants are folded in Python (a Fraction for a
    known finite value, Python bools for known flags), so finite networks stay linear."""

    def __init__(self) -> None:
        import z3

        self.z3 = z3
        self.undefined: list = []  # one condition per neuron that may see ∞ − ∞
        self.neurons = 0  # ReLUs and value neurons encoded as if-then-else terms

    def term(self, v: Any) -> Any:
        return self.z3.RealVal(v) if isinstance(v, Fraction) else v

    def any_of(self, items: list) -> Any:
        items = [t for t in items if t is not False]
        if any(t is True for t in items):
            return True
        return False if not items else items[0] if len(items) == 1 else self.z3.Or(items)

    def both(self, a: Any, b: Any) -> Any:
        if a is False or b is False:
            return False
        if a is True:
            return b
        return a if b is True else self.z3.And(a, b)

    def negate(self, a: Any) -> Any:
        return (not a) if isinstance(a, bool) else self.z3.Not(a)

    def ite(self, c: Any, a: Any, b: Any) -> Any:
        if isinstance(c, bool):
            return a if c else b
        return self.z3.If(c, self.term(a), self.term(b))

    def positive(self, v: Val) -> Any:
        """v > 0: +∞, or finite with fin > 0."""
        if v.pos is not None:
            return v.pos
        return self.any_of([v.pinf, self.both(self.negate(v.ninf), v.fin > 0)])

    def negative(self, v: Val) -> Any:
        """v < 0: −∞, or finite with fin < 0 (never, where fin is known to be ≥ 0)."""
        if v.nonneg:
            return v.ninf
        return self.any_of([v.ninf, self.both(self.negate(v.pinf), v.fin < 0)])

    def affine(self, layer: Layer, inputs: list[Val]) -> list[Val]:
        out = []
        for row, b in zip(layer.rows, layer.bias):
            terms: list = []
            const = b if isinstance(b, Fraction) else Fraction(0)
            plus: list = [b == POS_INF]
            minus: list = [b == NEG_INF]
            nonneg = isinstance(b, Fraction) and b >= 0
            for i, w in row:
                v = inputs[i]
                if isinstance(w, Inf):  # no finite part; ±∞ where v ≠ 0, 0 where v = 0
                    up, down = self.positive(v), self.negative(v)
                    plus.append(up if w.sign > 0 else down)
                    minus.append(down if w.sign > 0 else up)
                    continue
                plus.append(v.pinf if w > 0 else v.ninf)
                minus.append(v.ninf if w > 0 else v.pinf)
                nonneg = nonneg and w > 0 and v.nonneg
                if isinstance(v.fin, Fraction):
                    const += w * v.fin
                else:
                    terms.append(v.fin if w == 1 else self.z3.RealVal(w) * v.fin)
            if terms and const != 0:
                terms.append(self.z3.RealVal(const))
            fin: Any = const if not terms else terms[0] if len(terms) == 1 else self.z3.Sum(terms)
            pinf, ninf = self.any_of(plus), self.any_of(minus)
            if pinf is not False and ninf is not False:
                self.undefined.append(self.both(pinf, ninf))
            out.append(Val(fin, pinf, ninf, nonneg))
        return out

    def relu(self, z: Val) -> Val:
        """ReLU(z): +∞ where z is +∞; 0 where z is −∞ or fin ≤ 0; fin otherwise."""
        if z.nonneg:
            fin = self.ite(z.ninf, Fraction(0), z.fin)
        else:
            fin = self.ite(self.both(self.negate(z.ninf), z.fin > 0), z.fin, Fraction(0))
        pos = self.positive(z)
        self.neurons += not isinstance(fin, Fraction)
        return Val(fin, z.pinf, False, True, None if isinstance(pos, bool) else pos)

    def network(self, net: Net, xs: list) -> list[Val]:
        inputs = [Val(x) for x in xs]
        if net.kind == "relu":
            acts = inputs
            for index, layer in enumerate(net.layers):
                acts = self.affine(layer, acts)
                if index < len(net.layers) - 1:
                    acts = [self.relu(v) for v in acts]
            return acts
        signal = inputs
        h = inputs if net.value_input == "x" else [Val(Fraction(1), nonneg=True)] * len(xs)
        for g, v in zip(net.gating, net.layers):
            q = self.affine(g, signal)
            h = [Val(self.ite(gate.fin > 0, u.fin, Fraction(0))) for gate, u in
                 zip(q, self.affine(v, h))]
            self.neurons += len(h)
            signal = q if net.kind == "dlgn" else [self.relu(u) for u in q]
        return self.affine(net.layers[-1], h)


def build_query(a: Net, b: Net, box: list[tuple[Fraction, Fraction]] | None):
    """The solver, the input variables and the size of the query."""
    import z3

    enc = Encoder()
    xs = [z3.Real(f"x{i + 1}") for i in range(a.input_dim)]
    ya, yb = enc.network(a, xs), enc.network(b, xs)
    bad = list(enc.undefined)
    for u, v in zip(ya, yb):
        flags = [u.pinf, u.ninf, v.pinf, v.ninf]
        bad += flags  # an infinite output refutes, as in the project's checker
        differ = (u.fin != v.fin if isinstance(u.fin, Fraction) and isinstance(v.fin, Fraction)
                  else enc.term(u.fin) != enc.term(v.fin))
        for flag in flags:  # the finite parts count only where both outputs are finite
            differ = enc.both(enc.negate(flag), differ)
        bad.append(differ)
    solver = z3.SolverFor("QF_LRA")
    for x, (lo, hi) in zip(xs, box or []):
        solver.add(x >= z3.RealVal(lo), x <= z3.RealVal(hi))
    goal = enc.any_of(bad)
    solver.add(z3.BoolVal(goal) if isinstance(goal, bool) else goal)
    return solver, xs, {"ite_neurons": enc.neurons, "undefined_conditions": len(enc.undefined)}


def decide(a: Net, b: Net, box: list[tuple[Fraction, Fraction]] | None = None,
           timeout: float | None = None) -> dict:
    """Ask Z3 whether a and b agree on the domain. The answer's "result" is "unsat" (PROVEN),
    "sat" (REFUTED, with an exactly re-checked counterexample), "timeout" or "unknown"."""
    import z3

    if a.input_dim != b.input_dim or a.output_dim != b.output_dim:
        raise BadInput(f"the networks have different shapes: {a.input_dim} inputs and "
                       f"{a.output_dim} outputs vs {b.input_dim} and {b.output_dim}")
    if box is not None and len(box) != a.input_dim:
        raise BadInput(f"box has {len(box)} intervals for {a.input_dim} inputs")
    started = time.perf_counter()
    solver, xs, size = build_query(a, b, box)
    encode = time.perf_counter() - started
    if timeout is not None:
        solver.set("timeout", max(1, int(timeout * 1000)))
    started = time.perf_counter()
    answer = solver.check()
    solve = time.perf_counter() - started
    doc: dict = {"z3": z3.get_version_string(), "encode_seconds": encode,
                 "solve_seconds": solve, **size}
    if answer == z3.unsat:
        doc.update(result="unsat", verdict="PROVEN")
    elif answer == z3.sat:
        model = solver.model()
        point = []
        for x in xs:
            value = model.eval(x, model_completion=True)
            point.append(Fraction(value.numerator_as_long(), value.denominator_as_long()))
        confirmed, outputs = outputs_disagree(a, b, point)
        doc.update(result="sat", verdict="REFUTED" if confirmed else "ERROR",
                   counterexample=[str(v) for v in point], outputs=outputs,
                   confirmed=confirmed)
    else:
        reason = solver.reason_unknown()
        timed_out = "timeout" in reason or "canceled" in reason
        doc.update(result="timeout" if timed_out else "unknown", verdict="UNKNOWN",
                   reason=reason)
    return doc


EXIT = {"PROVEN": 0, "REFUTED": 1, "UNKNOWN": 3, "ERROR": 4}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--box", help="closed box lo:hi,... of exact numbers; write --box=-1:1 "
                                      "when it starts with a minus sign")
    parser.add_argument("--timeout", type=float, default=None, help="Z3 time limit, seconds")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        a, b = read_network(args.first), read_network(args.second)
        box = parse_box(args.box, a.input_dim) if args.box else None
        read = time.perf_counter() - started
        doc = decide(a, b, box, args.timeout)
    except BadInput as exc:
        print(f"z3_peer: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"z3_peer: error: cannot import z3 ({exc}); pip install z3-solver",
              file=sys.stderr)
        return 2
    doc["read_seconds"] = read
    doc["total_seconds"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(doc))
    else:
        line = f"{doc['verdict']} ({doc['result']}, Z3 solve {doc['solve_seconds']:.3f} s)"
        print(line)
        if "counterexample" in doc:
            print(f"  counterexample x = ({', '.join(doc['counterexample'])})")
            print(f"  {args.first}: {doc['outputs'][0]}")
            print(f"  {args.second}: {doc['outputs'][1]}")
            if not doc["confirmed"]:
                print("  the exact re-check does NOT confirm Z3's model (a bug in z3_peer)")
        elif "reason" in doc:
            print(f"  Z3: {doc['reason']}")
    return EXIT[doc["verdict"]]


if __name__ == "__main__":
    sys.exit(main())
