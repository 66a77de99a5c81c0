"""The exact affine structure of a network on the piece containing one point (DESIGN section 3).

Given the signs at ``x`` of every gate-deciding pre-activation, each pre-activation and each
output is an affine function of the input on the piece of ``x``. :func:`local_view` returns
those functions, computed exactly by pushing affine functions instead of numbers through the
network, with the convention that a neuron is active iff its pre-activation is > 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .affine import Affine, combination
from .errors import InputError
from .network import GatedNetwork, Layer, Network
from .numbers import sign


@dataclass(frozen=True)
class LocalView:
    """The affine maps of a network on the piece containing ``point``.

    ``preactivations[l][j]`` is neuron j of gate-deciding layer l (the hidden layers of a ReLU
    network, the gating layers of a DGN or DLGN) as an affine function of the input, valid on
    the piece; ``signs[l][j]`` is its sign at ``point``; ``output[k]`` is output k on the piece.
    """

    point: tuple[Fraction, ...]
    preactivations: tuple[tuple[Affine, ...], ...]
    signs: tuple[tuple[int, ...], ...]
    output: tuple[Affine, ...]


def _apply(layer: Layer, inputs: Sequence[Affine], n: int) -> tuple[Affine, ...]:
    one = Affine.constant(n, 1)
    # Only finite networks reach here, so every entry is a Fraction.
    return tuple(combination([*zip(row, inputs), (b, one)], n)
                 for row, b in zip(layer.weights, layer.bias))


def _gate(values: Sequence[Affine], signs: Sequence[int], n: int) -> tuple[Affine, ...]:
    zero = Affine.constant(n, 0)
    return tuple(v if s > 0 else zero for v, s in zip(values, signs))


def local_view(net: Network, x: Sequence[Fraction | int]) -> LocalView:
    """The pre-activations, their signs and the outputs of ``net`` on the piece of ``x``.

    ReLU networks must be finite (an extended network raises :class:`InputError`); for a DGN or
    DLGN the gates come from the gating network and mask the value network.
    """
    n = net.input_dim
    if len(x) != n:
        raise InputError(f"point has {len(x)} coordinates, the network takes {n}")
    point = tuple(Fraction(v) for v in x)
    coordinates = tuple(Affine.coordinate(n, i) for i in range(n))
    preactivations: list[tuple[Affine, ...]] = []
    signs: list[tuple[int, ...]] = []

    def decide(values: tuple[Affine, ...]) -> tuple[int, ...]:
        preactivations.append(values)
        signs.append(tuple(sign(v(point)) for v in values))
        return signs[-1]

    if isinstance(net, GatedNetwork):
        signal = coordinates
        for layer in net.gating:
            q = _apply(layer, signal, n)
            s = decide(q)
            signal = q if net.kind == "dlgn" else _gate(q, s, n)
        h = coordinates if net.value_input == "x" else (Affine.constant(n, 1),) * n
        for layer, s in zip(net.value, signs):
            h = _gate(_apply(layer, h, n), s, n)
        output = _apply(net.value[-1], h, n)
    else:
        net.require_finite("local view needs a finite network")
        a = coordinates
        for layer in net.layers[:-1]:
            z = _apply(layer, a, n)
            a = _gate(z, decide(z), n)
        output = _apply(net.layers[-1], a, n)
    return LocalView(point, tuple(preactivations), tuple(signs), output)
