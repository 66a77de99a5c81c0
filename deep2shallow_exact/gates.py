"""Gates of gated networks (DESIGN sections 2 and 6): ReLU → DGN, effective hyperplanes, soft gates.

- :func:`as_dgn` rewrites a ReLU network as the deep gated network whose gating network is the
  network itself: its hidden layers decide the gates and the same layers, gated, carry the value.
- :func:`effective_hyperplanes` lists, for a deep *linearly* gated network, the affine function
  q^l_j(x) = w·x + b that decides gate j of gating layer l. The gating layers are linear, so
  their product is exact and every gate is the indicator of an open half-space (the "primal
  linearity" of the DLGN papers): gate on iff w·x + b > 0.
- :func:`soft_evaluate` and :func:`soft_gap` evaluate the trained, soft-gated form of a network,
  gates sigmoid(β·q) instead of 1{q > 0}, in mpmath at a stated precision, and compare it with
  the exact hard-gated output that everything else in the package is about. The pre-activations
  q are computed exactly and rounded once; on a wall (q = 0) the soft gate is 1/2 at every β,
  so the soft output converges to the hard one only at points off the walls. mpmath is imported
  only when these run, so that importing the package (and the command line) stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from .affine import Affine, formula
from .errors import InputError
from .evaluation import evaluate_gated
from .local import local_view
from .network import GatedNetwork, Network, ReluNetwork
from .numbers import format_number

if TYPE_CHECKING:
    import mpmath


def as_dgn(net: ReluNetwork) -> GatedNetwork:
    """The DGN equal to ``net``: gating = its hidden layers, value = all its layers, input x.

    With gating network g^l = ReLU(q^l) and value h^l = 1{q^l > 0} ⊙ (W^l h^{l−1} + b^l),
    the two networks share every weight, so h^l = ReLU(q^l) = g^l layer by layer.
    """
    if not isinstance(net, ReluNetwork):
        raise InputError(f"as_dgn: the network is already a {net.kind} network (gated); "
                         "only a relu network is rewritten as its own DGN")
    net.require_finite("as_dgn: the DGN form of a relu network")
    if len(net.layers) < 2:
        raise InputError("as_dgn: the network has no hidden layer, so it has no gates")
    return GatedNetwork("dgn", net.layers[:-1], net.layers, "x")


def as_gated(net: Network) -> GatedNetwork:
    """A gated network as it is; a ReLU network as its own DGN (:func:`as_dgn`)."""
    return net if isinstance(net, GatedNetwork) else as_dgn(net)


@dataclass(frozen=True)
class GateHyperplane:
    """Gate ``index`` of gating layer ``layer`` (both from 1) is on iff w·x + b > 0."""

    layer: int
    index: int
    weights: tuple[Fraction, ...]
    bias: Fraction

    def __call__(self, x: Sequence[Fraction]) -> Fraction:
        return self.bias + sum((w * v for w, v in zip(self.weights, x)), Fraction(0))

    def formula(self) -> str:
        """w·x + b as text, e.g. "x1 - 3/2*x2 + 1"."""
        return formula(Affine(self.weights, self.bias))

    def to_document(self) -> dict:
        return {"layer": self.layer, "index": self.index,
                "weights": [format_number(w) for w in self.weights],
                "bias": format_number(self.bias), "formula": self.formula()}


def effective_hyperplanes(net: Network) -> list[GateHyperplane]:
    """The affine function deciding every gate of a DLGN, layer by layer, in gate order."""
    if not isinstance(net, GatedNetwork) or net.kind != "dlgn":
        raise InputError(f"gates of a {net.kind} are not hyperplanes; use regions")
    # A DLGN's gating signal is never masked, so the pre-activations local_view pushes through
    # the gating layers are the same affine functions at every point; the origin will do.
    view = local_view(net, (Fraction(0),) * net.input_dim)
    return [GateHyperplane(depth + 1, j + 1, q.coeffs, q.const)
            for depth, layer in enumerate(view.preactivations) for j, q in enumerate(layer)]


# -- soft gates --------------------------------------------------------------------------------

DEFAULT_PRECISION_BITS = 128
DEFAULT_DPS = 30
MAX_DPS = 10_000
"""The most decimal digits soft gates are computed with: far beyond any use (a float has 16),
still fast; a larger request is refused instead of running for hours."""
MAX_PRECISION_BITS = 4 * MAX_DPS  # bits: enough for MAX_DPS digits (3.33 bits a digit)


def _mpf(value: Fraction) -> mpmath.mpf:
    import mpmath

    return mpmath.mpf(value.numerator) / value.denominator


def soft_evaluate(net: Network, x: Sequence[Fraction | int], beta: Fraction | int,
                  precision_bits: int = DEFAULT_PRECISION_BITS) -> tuple[mpmath.mpf, ...]:
    """The output with soft gates sigmoid(β·q) in the value network, at ``precision_bits``.

    The gating pre-activations q are exact (a DGN's gating network keeps its hard ReLUs; only
    the gates handed to the value network are softened); weights and q are rounded once to the
    working precision. A ReLU network is evaluated as its DGN form.
    """
    import mpmath

    gated = as_gated(net)
    beta = Fraction(beta)
    if beta <= 0:
        raise InputError(f"soft gates: beta must be positive, got {beta}")
    if precision_bits < 2:
        raise InputError(f"soft gates: precision must be at least 2 bits, got {precision_bits}")
    if precision_bits > MAX_PRECISION_BITS:
        raise InputError(f"soft gates: precision must be at most {MAX_PRECISION_BITS} bits, "
                         f"got {precision_bits}")
    view = local_view(gated, x)  # checks the length of x
    point = view.point
    with mpmath.workprec(precision_bits):
        b = _mpf(beta)
        gates = [[mpmath.mpf(1) / (1 + mpmath.exp(-b * _mpf(q(point)))) for q in layer]
                 for layer in view.preactivations]
        h = [_mpf(v) if gated.value_input == "x" else mpmath.mpf(1) for v in point]
        for layer, layer_gates in zip(gated.value, gates):
            h = [g * (_mpf(c) + mpmath.fsum(_mpf(w) * v for w, v in zip(row, h)))
                 for row, c, g in zip(layer.weights, layer.bias, layer_gates)]
        output = gated.value[-1]
        return tuple(_mpf(c) + mpmath.fsum(_mpf(w) * v for w, v in zip(row, h))
                     for row, c in zip(output.weights, output.bias))


def soft_gap(net: Network, x: Sequence[Fraction | int], beta: Fraction | int,
             dps: int = DEFAULT_DPS
             ) -> tuple[tuple[mpmath.mpf, ...], tuple[Fraction, ...], mpmath.mpf]:
    """(soft outputs, exact hard outputs, max_k |soft_k − hard_k|) at ``dps`` decimal digits."""
    import mpmath

    if dps < 1:
        raise InputError(f"soft gates: precision must be at least 1 digit, got {dps}")
    if dps > MAX_DPS:
        raise InputError(f"soft gates: precision must be at most {MAX_DPS} digits, got {dps}")
    bits = mpmath.libmp.dps_to_prec(dps)
    soft = soft_evaluate(net, x, beta, bits)
    # A ReLU network and its DGN form agree everywhere (tests prove it with the checker).
    hard = evaluate_gated(as_gated(net), x)
    with mpmath.workprec(bits):
        gap = max(abs(s - _mpf(h)) for s, h in zip(soft, hard))
    return soft, hard, gap
