"""Exact evaluation at a rational point, with the extended arithmetic of DESIGN section 1."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from .errors import InputError
from .network import GatedNetwork, Layer, Network
from .numbers import Extended, ext_add, ext_mul, ext_relu


def evaluate(net: Network, x: Sequence[Fraction | int]) -> tuple[Extended, ...]:
    """The exact output of ``net`` at ``x``; gated networks use hard gates.

    Raises :class:`InputError` for a point of the wrong length and
    :class:`~deep2shallow_exact.errors.UndefinedError` for an ∞ − ∞, naming layer and neuron
    (both counted from 1).
    """
    if isinstance(net, GatedNetwork):
        return evaluate_gated(net, x)
    if len(x) != net.input_dim:
        raise InputError(f"point has {len(x)} coordinates, the network takes {net.input_dim}")
    activations: tuple[Extended, ...] = tuple(Fraction(v) for v in x)
    last = len(net.layers) - 1
    for index, layer in enumerate(net.layers):
        outputs = []
        for j, (row, b) in enumerate(zip(layer.weights, layer.bias)):
            where = f"layer {index + 1}, neuron {j + 1}"
            total: Extended = b
            for w, a in zip(row, activations):
                total = ext_add(total, ext_mul(w, a), where)
            outputs.append(total)
        activations = tuple(outputs) if index == last else tuple(ext_relu(v) for v in outputs)
    return activations


def _affine(layer: Layer, inputs: Sequence[Fraction]) -> list[Fraction]:
    return [b + sum((w * a for w, a in zip(row, inputs)), Fraction(0))
            for row, b in zip(layer.weights, layer.bias)]


def gates_at(net: GatedNetwork, x: Sequence[Fraction]) -> tuple[tuple[bool, ...], ...]:
    """The hard gates G^l(x) = 1{q^l(x) > 0} of every gating layer."""
    gates = []
    signal: Sequence[Fraction] = x
    for layer in net.gating:
        q = _affine(layer, signal)
        gates.append(tuple(v > 0 for v in q))
        signal = q if net.kind == "dlgn" else [max(v, Fraction(0)) for v in q]
    return tuple(gates)


def evaluate_gated(net: GatedNetwork, x: Sequence[Fraction | int]) -> tuple[Fraction, ...]:
    """The exact output of a DGN or DLGN with hard gates."""
    if len(x) != net.input_dim:
        raise InputError(f"point has {len(x)} coordinates, the network takes {net.input_dim}")
    point = [Fraction(v) for v in x]
    h: Sequence[Fraction] = point if net.value_input == "x" else [Fraction(1)] * len(point)
    for layer, gate in zip(net.value, gates_at(net, point)):
        h = [v if g else Fraction(0) for v, g in zip(_affine(layer, h), gate)]
    return tuple(_affine(net.value[-1], h))
