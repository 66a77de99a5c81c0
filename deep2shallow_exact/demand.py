"""Demand-driven symbolic evaluation of a ReLU network on a node of the search (DESIGN §5).

The eager walk of :mod:`.symbolic` asks for the sign of every pre-activation before it reads the
next layer; that is what piece enumeration needs (a piece is a sign class). A proof needs less:
only the signs the outputs depend on. Here a hidden neuron's output ReLU(z) is kept as an
*atom* — a finite value ≥ 0 that is not yet an affine map — and its sign is asked for only where
an affine form of it is used. The rules, exactly as the kernel applies them
(proofs/CERTIFICATE.md section 7):

- A finite value is a :class:`Form` c(x) + Σ_g a_g · ReLU(g(x)) over primitive affine g. In a
  sum, atoms with the same g are added, and a pair a·ReLU(g) − a·ReLU(−g) becomes a·g (an
  identity at every point).
- ReLU(Z) of a hidden neuron: Z itself if Z is a single atom a·ReLU(g) with a > 0 and no other
  part (it is ≥ 0); otherwise Z's atoms are resolved (each needs the sign of its g: ReLU(g) is
  g where g > 0, else 0) to an affine z, and the result is the atom ReLU(z) (a constant z
  gives max(z, 0)).
- A weight ±∞ on an input a·ReLU(g) (a > 0) gives ±∞ where g > 0 and 0 elsewhere; while the
  sign of g is unknown it may give ±∞ or 0, never the opposite infinity. On any other input
  the input is resolved and its sign decides.
- A sum with a term known to be s·∞ is s·∞ if no term may be −s·∞, whatever its finite terms;
  +∞ and −∞ together are undefined; otherwise the signs of the undecided terms are needed.
- The outputs are resolved to affine maps.

So the gadget ReLU(ReLU(±h) − ∞·Σ ReLU(v)) of the shallow network is 0 as soon as one v is
known positive, and a·ReLU(h) when every v is known ≤ 0 — without the sign of h, which the
output's pair a·ReLU(h) − a·ReLU(−h) = a·h does not need either.

Evaluation is incremental along the tree: a child's :class:`Evaluation` starts from its
parent's, and only neurons that wait for what the child newly knows are evaluated again.
Everything computed is a function of the known signs only, never of the order of the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Protocol

import flint

from .affine import Affine, primitive
from .network import ReluNetwork
from .numbers import Extended, Infinity

_ZERO = Fraction(0)
Key = tuple[int, ...]


class Signs(Protocol):
    """What a node knows: the sign of a function, and the key naming it (None for a function
    constant on the node) — two functions share a key iff their signs are tied on the node."""

    def sign(self, f: Affine) -> int | None: ...

    def key(self, f: Affine) -> Key | None: ...


@dataclass(frozen=True)
class Form:
    """const + Σ coef · ReLU(g) over ``atoms`` (g primitive, coef ≠ 0): a finite value."""

    const: Affine
    atoms: tuple[tuple[Affine, Fraction], ...] = ()

    @property
    def is_zero(self) -> bool:
        return not self.atoms and self.const.is_zero

    @cached_property
    def passes_relu(self) -> bool:
        """A single atom a·ReLU(g) with a > 0 and nothing else: ≥ 0, so ReLU leaves it."""
        return len(self.atoms) == 1 and self.atoms[0][1] > 0 and self.const.is_zero


Value = Form | Infinity


@dataclass(frozen=True)
class Wait:
    """Why a neuron is not decided yet: the unknown signs of the functions in ``needs`` (by
    key), or its input neuron ``input`` of the previous layer, still undecided. ``kind`` says
    what a newly known sign does: "all" — every one is needed, so it only counts down
    ``remaining``; "maybe" — they are the functions of ±∞ terms that hold where they are > 0,
    so one found > 0 decides the neuron (as ``decides``·∞ if that is nonzero, else it is looked
    at again) and one found ≤ 0 counts down; "one" — it decides. Each key becomes known at most
    once along a path, so the count is exact; the dict itself is shared, never changed."""

    needs: dict[Key, tuple[Affine, ...]] = field(default_factory=dict)
    input: int | None = None
    kind: str = "one"
    remaining: int = 0
    decides: int = 0

    def unknown(self, signs: Signs) -> tuple[Affine, ...]:
        return tuple(f for fs in self.needs.values() for f in fs if signs.sign(f) is None)

    def after(self, key: Key, signs: Signs) -> Wait | Infinity | None:
        """The wait once ``key`` is known, the value it decides, or None to look again."""
        if self.kind == "one" or self.remaining <= 1:
            return None
        if self.kind == "maybe" and any(signs.sign(f) > 0  # type: ignore[operator]
                                        for f in self.needs[key]):
            return Infinity(self.decides) if self.decides else None
        return Wait(self.needs, None, self.kind, self.remaining - 1, self.decides)

    def rekeyed(self, signs: Signs) -> Wait | Infinity | None:
        """The wait on a node whose new equalities changed every key; what :meth:`after`
        gives, for every function at once (None: look at the neuron again)."""
        if self.input is not None:
            return self
        unknown = []
        for fs in self.needs.values():
            for f in fs:
                s = signs.sign(f)
                if s is None:
                    unknown.append(f)
                elif s > 0 and self.kind != "all":
                    return Infinity(self.decides) if self.decides and self.kind == "maybe" \
                        else None
        if not unknown or (self.kind == "one" and len(unknown) < len(self.functions)):
            return None
        return _wait(unknown, signs, self.kind, self.decides)

    @property
    def functions(self) -> tuple[Affine, ...]:
        return tuple(f for fs in self.needs.values() for f in fs)


@dataclass(frozen=True)
class Undefined:
    """+∞ and −∞ meet at ``neuron`` of weight layer ``layer`` (both 1-based) on the node."""

    layer: int
    neuron: int


@dataclass(frozen=True)
class Evaluation:
    """A network's neurons on a node: per weight layer, the decided nonzero values and the
    undecided neurons with what each waits for. ``outputs`` once every output is an affine map
    (or ±∞); ``undefined`` once an ∞ − ∞ is certain."""

    values: tuple[dict[int, Value], ...]
    pending: tuple[dict[int, Wait], ...]
    outputs: tuple[Affine | Infinity, ...] | None = None
    undefined: Undefined | None = None

    def needs(self, signs: Signs) -> tuple[Affine, ...]:
        """Functions of unknown sign that would let the first undecided neuron go on."""
        for pending in self.pending:
            for wait in pending.values():
                functions = wait.unknown(signs)
                if functions:
                    return functions
        return ()


def atom(z: Affine) -> Form | None:
    """ReLU(z) as a Form: the atom c·ReLU(g) for z = c·g, c > 0; None for the zero value."""
    if z.is_constant:
        return Form(z) if z.const > 0 else None
    g = primitive(z)
    k = next(i for i, a in enumerate(g.coeffs) if a)
    return Form(Affine.constant(z.dim, 0), ((g, z.coeffs[k] / g.coeffs[k]),))


def combine(terms: Iterable[tuple[Fraction, Form]], bias: Fraction, n: int) -> Form:
    """bias + Σ w · F, with equal atoms added and every pair a·ReLU(g) − a·ReLU(−g) made a·g."""
    coeffs = [_ZERO] * n
    const = bias
    atoms: dict[Affine, Fraction] = {}
    for w, form in terms:
        f = form.const
        for i, a in enumerate(f.coeffs):
            if a:
                coeffs[i] += w * a
        const += w * f.const
        for g, c in form.atoms:
            atoms[g] = atoms.get(g, _ZERO) + w * c
    for g in list(atoms):
        c = atoms.get(g)
        if c is None:
            continue
        opposite = -g
        if not c or atoms.get(opposite) == -c:
            del atoms[g]
            if c:
                del atoms[opposite]
                for i, a in enumerate(g.coeffs):
                    if a:
                        coeffs[i] += c * a
                const += c * g.const
    return Form(Affine(tuple(coeffs), const), tuple(atoms.items()))


def resolve(form: Form, signs: Signs) -> Affine | Wait:
    """The affine map a Form equals on the node, or the unknown signs it needs."""
    if not form.atoms:
        return form.const
    unknown = []
    taken = []
    for g, c in form.atoms:
        s = signs.sign(g)
        if s is None:
            unknown.append(g)
        elif s > 0:
            taken.append((c, g))
    if unknown:
        return _wait(unknown, signs, "all")
    if not taken:
        return form.const
    f = form.const
    coeffs = list(f.coeffs)
    const = f.const
    for c, g in taken:
        for i, a in enumerate(g.coeffs):
            if a:
                coeffs[i] += c * a
        const += c * g.const
    return Affine(tuple(coeffs), const)


def _wait(functions: Sequence[Affine], signs: Signs, kind: str = "one",
          decides: int = 0) -> Wait:
    needs: dict[Key, tuple[Affine, ...]] = {}
    for f in functions:
        key = signs.key(f)
        if key is not None:
            needs[key] = (*needs.get(key, ()), f)
    return Wait(needs, None, kind, len(needs), decides)


class _Layer:
    """A weight layer prepared for evaluation: sparse rows, a dict per row for lookups by
    column, and for finite layers a flint matrix for the batch product."""

    def __init__(self, net: ReluNetwork, index: int, live: set[int]) -> None:
        layer = net.layers[index]
        self.index = index
        self.rows = layer.rows
        self.bias = layer.bias
        self.live = live
        self.row_dicts: list[dict[int, Extended] | None] = [None] * layer.out_dim
        self.finite = not any(isinstance(v, Infinity) for v in layer.entries())
        # The batch product gives the same maps as the neuron-by-neuron rules only when no
        # neuron is a lone positive atom that ReLU passes on unresolved.
        self.batch = self.finite and index > 0 and all(
            not (len(row) == 1 and row[0][1] > 0 and not b) for row, b in zip(self.rows,
                                                                               self.bias))
        self._matrix: flint.fmpq_mat | None = None

    def row_dict(self, j: int) -> dict[int, Extended]:
        d = self.row_dicts[j]
        if d is None:
            d = self.row_dicts[j] = dict(self.rows[j])
        return d

    def matrix(self, in_dim: int) -> flint.fmpq_mat:
        if self._matrix is None:
            entries = [flint.fmpq(0)] * (len(self.rows) * in_dim)
            for j, row in enumerate(self.rows):
                for k, w in row:
                    entries[j * in_dim + k] = flint.fmpq(w.numerator, w.denominator)
            self._matrix = flint.fmpq_mat(len(self.rows), in_dim, entries)
        return self._matrix


class DemandProgram:
    """A ReLU network (finite or extended) prepared for demand-driven evaluation."""

    def __init__(self, net: ReluNetwork) -> None:
        self.net = net
        self.n = net.input_dim
        self.zero = Affine.constant(self.n, 0)
        # Only neurons with a path of nonzero weights to an output are ever needed.
        live = [set(range(net.output_dim))]
        for layer in reversed(net.layers[1:]):
            live.append({k for j in live[-1] for k, _ in layer.rows[j]})
        live.reverse()
        self.layers = [_Layer(net, i, live[i]) for i in range(len(net.layers))]
        self.coordinates = tuple(Affine.coordinate(self.n, i) for i in range(self.n))
        self._first: dict[int, Value] | None = None
        self._open: dict[tuple[int, int], Value] = {}

    def start(self) -> Evaluation:
        """Nothing evaluated yet: every live neuron waits (first evaluated at the root)."""
        return Evaluation(tuple({} for _ in self.layers),
                          tuple({j: Wait() for j in sorted(layer.live)} for layer in self.layers))

    def advance(self, parent: Evaluation, signs: Signs, new_key: Key | None,
                everything: bool) -> Evaluation:
        """The evaluation on a child that knows what its parent knew and ``new_key`` (the
        key of its last row); ``everything`` re-examines every undecided neuron (at the root,
        and where the node's equalities changed every key)."""
        if parent.outputs is not None or parent.undefined is not None:
            return parent
        values = list(parent.values)
        pendings = list(parent.pending)
        decided: set[int] = set()
        for li, layer in enumerate(self.layers):
            pending = pendings[li]
            retry = []
            shrunk: dict[int, Wait] = {}
            decided_now: dict[int, Infinity] = {}
            for j, wait in pending.items():
                if wait.input is not None and wait.input in decided:
                    retry.append(j)
                    continue
                if everything:
                    after = wait.rekeyed(signs) if wait.needs or wait.input is not None \
                        else None
                elif new_key is not None and new_key in wait.needs:
                    after = wait.after(new_key, signs)
                else:
                    continue
                if after is None:
                    retry.append(j)
                elif isinstance(after, Infinity):
                    decided_now[j] = after
                elif after is not wait:
                    shrunk[j] = after
            decided = set()
            if not retry and not shrunk and not decided_now:
                continue
            pending = dict(pending)
            pending.update(shrunk)
            mine = dict(values[li])
            for j, infinity in decided_now.items():
                del pending[j]
                decided.add(j)
                result = self._activate(li, infinity, signs)
                if result is not None:
                    mine[j] = result
            results = self._batch(li, retry, values, pendings, signs) if layer.batch else None
            for j in retry:
                result = results[j] if results is not None else self._neuron(
                    li, j, values, pendings, signs)
                if isinstance(result, Wait):
                    pending[j] = result
                    continue
                del pending[j]
                decided.add(j)
                if isinstance(result, Undefined):
                    return Evaluation(tuple(values), tuple(pendings), None, result)
                if result is not None:
                    mine[j] = result
            values[li], pendings[li] = mine, pending
        outputs = None
        if not pendings[-1]:
            last = values[-1]
            outputs = tuple(last.get(j, self.zero)  # type: ignore[misc]
                            for j in range(len(self.layers[-1].bias)))
        return Evaluation(tuple(values), tuple(pendings), outputs)

    def outputs_if(self, signs: Signs, nonzero: Sequence[Iterable[int]]
                   ) -> tuple[Affine | Infinity, ...] | None:
        """The outputs on a node if, in each hidden layer after the first, only the neurons
        ``nonzero`` lists may be nonzero (the others 0), and their infinite terms are all 0 —
        the gates of the shallow networks open exactly there — by the rules of
        :meth:`advance`. A guess from outside (from the construction of the network), cheap
        where the network is wide and a node uses little of it; the kernel checks it in full.
        None if something is undecided. The first layer must be finite: it needs no sign and,
        with the finite part of the second, is computed once."""
        if not self.layers[0].finite or len(nonzero) != len(self.layers) - 2:
            return None
        if self._first is None:
            empty: list[dict[int, Wait]] = [{} for _ in self.layers]
            self._first = {}
            for j in range(len(self.layers[0].bias)):
                value = self._neuron(0, j, [], empty, signs)
                if value is not None:
                    self._first[j] = value  # type: ignore[assignment]
        values: list[dict[int, Value]] = [self._first]
        for li, neurons in enumerate(nonzero, start=1):
            mine: dict[int, Value] = {}
            for j in neurons:
                value = self._open.get((li, j)) if li == 1 else None
                if value is None:
                    value = self._open_value(li, j, values[li - 1], signs)
                    if value is None or isinstance(value, Wait):
                        return None
                if isinstance(value, Form) and value.is_zero:
                    continue
                mine[j] = value
            values.append(mine)
        pendings: list[dict[int, Wait]] = [{} for _ in self.layers]
        outputs = []
        for j in range(len(self.layers[-1].bias)):
            value = self._neuron(len(self.layers) - 1, j, values, pendings, signs)
            if not isinstance(value, (Affine, Infinity)):
                return None
            outputs.append(value)
        return tuple(outputs)

    def _open_value(self, li: int, j: int, inputs: dict[int, Value], signs: Signs
                    ) -> Value | Wait | None:
        """Neuron j of hidden layer li with its infinite terms taken as 0 (see outputs_if)."""
        layer = self.layers[li]
        bias = layer.bias[j]
        if isinstance(bias, Infinity):
            return None
        terms = []
        for k, w in layer.rows[j]:
            a = inputs.get(k)
            if a is None or isinstance(w, Infinity):
                continue
            if isinstance(a, Infinity):
                return None
            terms.append((w, a))
        z = combine(terms, bias, self.n)
        if z.passes_relu:
            if li == 1:
                self._open[li, j] = z
            return z
        value = self._activate(li, z, signs)
        return value if value is not None else Form(self.zero)

    # -- one neuron -----------------------------------------------------------------------

    def _neuron(self, li: int, j: int, values: Sequence[dict[int, Value]],
                pendings: Sequence[dict[int, Wait]], signs: Signs
                ) -> Value | Affine | Wait | Undefined | None:
        """The neuron's decided value (post-activation for hidden layers; the affine output
        or ±∞ for the output layer; None for 0), or what it waits for."""
        layer = self.layers[li]
        row = layer.rows[j]
        bias = layer.bias[j]
        known: set[int] = set()
        maybe: dict[int, list[Affine]] = {}
        if isinstance(bias, Infinity):
            known.add(bias.sign)
            finite_bias = _ZERO
        else:
            finite_bias = bias
        finite: list[tuple[Fraction, Form]] = []
        if li == 0:
            coeffs = [_ZERO] * self.n
            for k, w in row:
                if isinstance(w, Infinity):
                    s = signs.sign(self.coordinates[k])
                    if s is None:
                        return _wait((self.coordinates[k],), signs)
                    if s:
                        known.add(w.sign * s)
                else:
                    coeffs[k] = w
            pre_finite = Form(Affine(tuple(coeffs), finite_bias))
        else:
            previous = pendings[li - 1]
            if previous:
                d = layer.row_dict(j)
                for k in (previous if len(previous) < len(row) else (k for k, _ in row)):
                    if k in d and k in previous:
                        return Wait(input=k)
            inputs = values[li - 1]
            if len(inputs) < len(row):
                d = layer.row_dict(j)
                pairs = [(d[k], a) for k, a in inputs.items() if k in d]
            else:
                pairs = [(w, inputs[k]) for k, w in row if k in inputs]
            for w, a in pairs:
                if isinstance(a, Infinity):
                    known.add(a.sign * (w.sign if isinstance(w, Infinity) else
                                        (1 if w > 0 else -1)))
                elif isinstance(w, Infinity):
                    if a.passes_relu:
                        g = a.atoms[0][0]
                        s = signs.sign(g)
                        if s is None:
                            maybe.setdefault(w.sign, []).append(g)
                        elif s > 0:
                            known.add(w.sign)
                        continue
                    z = resolve(a, signs)
                    if isinstance(z, Wait):
                        return z
                    s = _constant_or_known(z, signs)
                    if s is None:
                        return _wait((z,), signs)
                    if s:
                        known.add(w.sign * s)
                else:
                    finite.append((w, a))
            pre_finite = None
        if len(known) == 2:
            return Undefined(li + 1, j + 1)
        if known:
            (s,) = known
            if -s not in maybe:
                return self._activate(li, Infinity(s), signs)
            return _wait(maybe[-s], signs, "maybe")
        if maybe:
            # With terms of one infinite sign only, the first found > 0 decides the sum.
            return _wait([g for gs in maybe.values() for g in gs], signs, "maybe",
                         next(iter(maybe)) if len(maybe) == 1 else 0)
        z = pre_finite if pre_finite is not None else combine(finite, finite_bias, self.n)
        return self._activate(li, z, signs)

    def _activate(self, li: int, z: Value, signs: Signs) -> Value | Affine | Wait | None:
        """ReLU for a hidden layer; resolution to an affine map for the output layer."""
        if li == len(self.layers) - 1:
            if isinstance(z, Infinity):
                return z
            return resolve(z, signs)
        if isinstance(z, Infinity):
            return z if z.sign > 0 else None
        if z.passes_relu:
            return z
        f = resolve(z, signs)
        return f if isinstance(f, Wait) else atom(f)

    def _batch(self, li: int, retry: list[int], values: Sequence[dict[int, Value]],
               pendings: Sequence[dict[int, Wait]], signs: Signs
               ) -> dict[int, Value | Affine | Wait | Undefined | None] | None:
        """Every retried neuron of a finite layer at once, by one flint product, where that
        gives exactly what :meth:`_neuron` would: every input decided, each an atom or a
        constant, no two atoms with the same function or opposite ones, all signs known."""
        if pendings[li - 1]:
            return None
        inputs = values[li - 1]
        seen: set[Affine] = set()
        resolved = []
        for k in sorted(inputs):
            a = inputs[k]
            if isinstance(a, Infinity) or len(a.atoms) > 1:
                return None
            if not a.atoms:
                resolved.append((k, a.const))
                continue
            g, c = a.atoms[0]
            if g in seen or -g in seen or not a.const.is_zero:
                return None
            seen.add(g)
            s = signs.sign(g)
            if s is None:
                return None
            if s > 0:
                resolved.append((k, g.scale(c)))
        layer = self.layers[li]
        in_dim = len(self.layers[li - 1].bias)
        n = self.n
        columns = [flint.fmpq(0)] * (in_dim * (n + 1))
        for k, f in resolved:
            for i, v in enumerate((*f.coeffs, f.const)):
                if v:
                    columns[k * (n + 1) + i] = flint.fmpq(v.numerator, v.denominator)
        product = layer.matrix(in_dim) * flint.fmpq_mat(in_dim, n + 1, columns)
        out: dict[int, Value | Affine | Wait | Undefined | None] = {}
        for j in retry:
            b = layer.bias[j]
            z = Affine(tuple(_fraction(product[j, i]) for i in range(n)),
                       _fraction(product[j, n]) + b)
            out[j] = self._activate(li, Form(z), signs)
        return out


def _constant_or_known(z: Affine, signs: Signs) -> int | None:
    if z.is_constant:
        return (z.const > 0) - (z.const < 0)
    return signs.sign(z)


def _fraction(v: flint.fmpq) -> Fraction:
    return Fraction(int(v.p), int(v.q)) if v else _ZERO
