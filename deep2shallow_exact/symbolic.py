"""Symbolic evaluation of a network on a set of inputs where some signs are known (DESIGN §2-3).

Inside a node of the search every neuron is an affine function of x or a constant ±∞. A
:class:`Program` evaluates a network layer by layer and stops with :class:`Need` as soon as it
needs the sign of an affine function the node does not know; the search splits on that function
and resumes each child from the returned state, so no work before the split is repeated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import flint

from .affine import Affine
from .network import GatedNetwork, Layer, Network, ReluNetwork
from .numbers import Extended, Infinity

Value = Affine | Infinity
SignOracle = Callable[[Affine], "int | None"]
"""The sign (−1, 0, 1) of an affine function on the current node, or None if not known."""


def _fmpq(v: Fraction) -> flint.fmpq:
    return flint.fmpq(v.numerator, v.denominator)


def _fraction(v: flint.fmpq) -> Fraction:
    return Fraction(int(v.p), int(v.q))


@dataclass(frozen=True)
class RunState:
    """Where an evaluation stopped: gate layer ``stage``, its inputs and the signs decided."""

    stage: int
    inputs: tuple[Value, ...]
    pre: tuple[Value, ...] | None = None
    decided: tuple[int, ...] = ()
    history: tuple[tuple[int, ...], ...] = ()
    input_signs: tuple[int, ...] | None = None  # known after a ReLU: 1 active, 0 off


@dataclass(frozen=True)
class Need:
    """The evaluation needs the sign of ``function`` to go on from ``state``."""

    function: Affine
    state: RunState


@dataclass(frozen=True)
class Finished:
    """The network is the affine map (or ±∞) ``outputs`` on the node; ``signs`` per gate layer."""

    outputs: tuple[Value, ...]
    signs: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Undefined:
    """An ∞ − ∞ at ``neuron`` of weight layer ``layer`` (both 1-based) on the whole node."""

    layer: int
    neuron: int
    state: RunState | None = None


Outcome = Need | Finished | Undefined


class _CompiledLayer:
    """A layer with its finite weights held as a flint matrix for fast symbolic products."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.finite = not any(isinstance(v, Infinity) for v in layer.entries())
        # 0 · anything = 0, so zero weights never matter; the gated layers are mostly zeros.
        self.sparse_rows = [[(k, w) for k, w in enumerate(row) if w != 0]
                            for row in layer.weights]
        if self.finite:
            self.weights = flint.fmpq_mat(layer.out_dim, layer.in_dim,
                                          [_fmpq(w) for row in layer.weights for w in row])
            self.bias = [_fmpq(b) for b in layer.bias]

    def apply(self, inputs: Sequence[Value], n: int, oracle: SignOracle,
              signs: Sequence[int] | None = None) -> tuple[Value, ...] | Affine | int:
        """W·inputs + b; an Affine whose sign is needed, or the index of an undefined neuron.

        ``signs`` are the inputs' signs when already known (after a ReLU)."""
        if self.finite and all(isinstance(a, Affine) for a in inputs):
            return self._apply_finite(inputs, n)
        return self._apply_extended(inputs, n, oracle, signs)

    def _apply_finite(self, inputs: Sequence[Value], n: int) -> tuple[Value, ...]:
        rows = flint.fmpq_mat(len(inputs), n + 1,
                              [_fmpq(c) for a in inputs for c in (*a.coeffs, a.const)])
        product = self.weights * rows if inputs else None
        out = []
        for j, b in enumerate(self.bias):
            if product is None:
                out.append(Affine.constant(n, _fraction(b)))
                continue
            coeffs = tuple(_fraction(product[j, i]) for i in range(n))
            out.append(Affine(coeffs, _fraction(product[j, n] + b)))
        return tuple(out)

    def _apply_extended(self, inputs: Sequence[Value], n: int, oracle: SignOracle,
                        signs: Sequence[int] | None) -> tuple[Value, ...] | Affine | int:
        out: list[Value] = []
        for j, (row, b) in enumerate(zip(self.sparse_rows, self.layer.bias)):
            finite_terms: list[tuple[Fraction, Affine]] = []
            infinite_signs: set[int] = set()
            if isinstance(b, Infinity):
                infinite_signs.add(b.sign)
            else:
                finite_terms.append((b, Affine.constant(n, 1)))
            for k, w in row:
                a = inputs[k]
                if isinstance(a, Infinity):
                    infinite_signs.add(a.sign * (w.sign if isinstance(w, Infinity)
                                                 else (1 if w > 0 else -1)))
                elif isinstance(w, Infinity):
                    s = signs[k] if signs is not None else _known_sign(a, oracle)
                    if s is None:
                        return a
                    if s:
                        infinite_signs.add(w.sign * s)
                else:
                    finite_terms.append((w, a))
            if len(infinite_signs) == 2:
                return j
            if infinite_signs:
                out.append(Infinity(infinite_signs.pop()))
            else:
                out.append(_combine(finite_terms, n))
        return tuple(out)


def _combine(terms: Sequence[tuple[Extended, Affine]], n: int) -> Affine:
    coeffs = [Fraction(0)] * n
    const = Fraction(0)
    for w, a in terms:
        for i, c in enumerate(a.coeffs):
            if c:
                coeffs[i] += w * c
        const += w * a.const
    return Affine(tuple(coeffs), const)


def _known_sign(value: Value, oracle: SignOracle) -> int | None:
    if isinstance(value, Infinity):
        return value.sign
    if value.is_constant:
        return (value.const > 0) - (value.const < 0)
    return oracle(value)


class Program:
    """A network prepared for symbolic evaluation; states are immutable and shareable."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.n = net.input_dim
        if isinstance(net, ReluNetwork):
            self.gate_layers = [_CompiledLayer(layer) for layer in net.layers[:-1]]
            self.output_layer = _CompiledLayer(net.layers[-1])
            self.value_layers: list[_CompiledLayer] = []
        else:
            self.gate_layers = [_CompiledLayer(layer) for layer in net.gating]
            self.value_layers = [_CompiledLayer(layer) for layer in net.value]

    def start(self) -> RunState:
        return RunState(0, tuple(Affine.coordinate(self.n, i) for i in range(self.n)))

    def run(self, state: RunState, oracle: SignOracle) -> Outcome:
        """Evaluate from ``state`` until a needed sign is unknown or the output is reached."""
        while state.stage < len(self.gate_layers):
            layer = self.gate_layers[state.stage]
            pre = state.pre
            if pre is None:
                applied = layer.apply(state.inputs, self.n, oracle, state.input_signs)
                if isinstance(applied, Affine):
                    return Need(applied, state)
                if isinstance(applied, int):
                    return Undefined(state.stage + 1, applied + 1, state)
                pre = applied
            decided = list(state.decided)
            for value in pre[len(decided):]:
                s = _known_sign(value, oracle)
                if s is None:
                    return Need(value, RunState(state.stage, state.inputs, pre, tuple(decided),
                                                state.history, state.input_signs))
                decided.append(s)
            state = self._next_stage(state, pre, tuple(decided))
        return self._finish(state, oracle)

    def _next_stage(self, state: RunState, pre: tuple[Value, ...],
                    signs: tuple[int, ...]) -> RunState:
        zero = Affine.constant(self.n, 0)
        if isinstance(self.net, GatedNetwork) and self.net.kind == "dlgn":
            return RunState(state.stage + 1, pre, None, (), (*state.history, signs))
        signal = tuple(v if s > 0 else zero for v, s in zip(pre, signs))
        return RunState(state.stage + 1, signal, None, (), (*state.history, signs),
                        tuple(max(s, 0) for s in signs))

    def _finish(self, state: RunState, oracle: SignOracle) -> Outcome:
        if isinstance(self.net, ReluNetwork):
            applied = self.output_layer.apply(state.inputs, self.n, oracle, state.input_signs)
            if isinstance(applied, Affine):
                return Need(applied, state)
            if isinstance(applied, int):
                return Undefined(len(self.gate_layers) + 1, applied + 1, state)
            return Finished(applied, state.history)
        n = self.n
        zero = Affine.constant(n, 0)
        h: tuple[Value, ...] = (tuple(Affine.coordinate(n, i) for i in range(n))
                                if self.net.value_input == "x"
                                else tuple(Affine.constant(n, 1) for _ in range(n)))
        for layer, gates in zip(self.value_layers, state.history):
            applied = layer.apply(h, n, oracle)
            assert isinstance(applied, tuple)  # gated networks are finite
            h = tuple(v if g > 0 else zero for v, g in zip(applied, gates))
        applied = self.value_layers[-1].apply(h, n, oracle)
        assert isinstance(applied, tuple)
        return Finished(applied, state.history)
