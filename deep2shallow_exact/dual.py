"""The dual view (DESIGN section 6): neural paths, their features and values, the NPK.

Conventions. A network is read as its value network: weight layers l = 1..L with W^l and b^l,
hidden layers 1..L−1 gated by G^l(x) ∈ {0, 1}, layer L the affine output, input h^0.

- A ReLU network is gated by its own activations (G^l_j(x) = 1{z^l_j(x) > 0}) and h^0 = x.
- A DGN or DLGN is gated by its gating network; h^0 = x, or the all-ones vector when
  ``value_input`` is "ones" (then x reaches the output only through the gates).

A path p is one of

- an *input path*: input coordinate i, one neuron j_l in every hidden layer l = 1..L−1 and an
  output k, with value v(p) = W^1[j_1, i]·W^2[j_2, j_1]···W^L[k, j_{L−1}] and feature
  φ(x, p) = h^0_i(x)·Π_l G^l_{j_l}(x);
- a *bias path of layer l* (1 ≤ l ≤ L): the bias b^l counts as the weight from a constant
  input 1 into layer l, so the path starts at that constant and runs through neurons
  j_l, ..., j_{L−1} of layers l..L−1 to output k, with v(p) = b^l[j_l]·W^{l+1}[j_{l+1}, j_l]···
  W^L[k, j_{L−1}] (just b^L[k] for l = L) and φ(x, p) = Π_{m=l}^{L−1} G^m_{j_m}(x) (1 for l = L).

Then output_k(x) = Σ_{p ending at k} φ(x, p)·v(p) exactly, by expanding
h^l = G^l ⊙ (W^l h^{l−1} + b^l) layer by layer. The paths are those of the fully connected
architecture: a zero weight still carries paths, of value 0. All indices are counted from 1.

The neural path kernel K(x, x') = ⟨φ(x), φ(x')⟩ sums over the input paths (the features of the
NeurIPS 2020 paper); ``bias_paths=True`` adds the bias paths. The features do not depend on the
weights, so in a fully connected network the sum factors layer by layer (see :func:`npk`): with
m outputs, K(x, x') = m·⟨h^0(x), h^0(x')⟩·Π_l ⟨G^l(x), G^l(x')⟩, where ⟨G^l(x), G^l(x')⟩ counts
the gates of layer l on at both points.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import product
from math import prod
from pathlib import Path as FilePath

from .errors import InputError, read_text
from .evaluation import gates_at
from .formats import parse_json_text
from .gates import as_dgn
from .network import Layer, Network, ReluNetwork
from .numbers import parse_rational

Gates = tuple[tuple[bool, ...], ...]


@dataclass(frozen=True)
class Path:
    """A path entering weight layer ``layer`` from input coordinate ``input`` (layer 1), or
    from the constant input 1 of the bias of ``layer`` (``input`` 0), through ``neurons`` (its
    neuron in each hidden layer from ``layer`` to L − 1) to output ``output``."""

    input: int
    layer: int
    neurons: tuple[int, ...]
    output: int

    @property
    def is_bias(self) -> bool:
        return self.input == 0

    @property
    def source(self) -> str:
        return f"bias@layer {self.layer}" if self.is_bias else f"x{self.input}"

    def text(self) -> str:
        """E.g. "x2 -> h1[3] -> h2[1] -> y1" or "bias@layer 2 -> h2[1] -> y1"."""
        hops = [f"h{self.layer + d}[{j}]" for d, j in enumerate(self.neurons)]
        return " -> ".join([self.source, *hops, f"y{self.output}"])

    def to_document(self) -> dict:
        return {"source": self.source, "neurons": list(self.neurons), "output": self.output}


def _value_layers(net: Network) -> tuple[tuple[Layer, ...], bool]:
    """The weight layers the paths run through, and whether h^0 is the all-ones vector."""
    if isinstance(net, ReluNetwork):
        net.require_finite("neural paths")
        return net.layers, False
    return net.value, net.value_input == "ones"


def _point(net: Network, x: Sequence[Fraction | int], where: str = "point"
           ) -> tuple[Fraction, ...]:
    if len(x) != net.input_dim:
        raise InputError(f"{where} has {len(x)} coordinates, the network takes {net.input_dim}")
    return tuple(Fraction(v) for v in x)


def _gates(net: Network, point: tuple[Fraction, ...]) -> Gates:
    """G^l(x) for the hidden layers; a ReLU network is gated by its own activations."""
    if isinstance(net, ReluNetwork):
        if len(net.layers) == 1:
            return ()
        net = as_dgn(net)
    return gates_at(net, point)


def _source_values(point: tuple[Fraction, ...], ones: bool) -> tuple[Fraction, ...]:
    """h^0(x): the point itself, or all ones."""
    return (Fraction(1),) * len(point) if ones else point


def path_count(net: Network) -> int:
    """The number of paths :func:`paths` yields: n·w_1···w_{L−1}·m input paths plus, for each
    layer l, w_l···w_{L−1}·m bias paths (widths w, n inputs, m outputs)."""
    layers, _ = _value_layers(net)
    widths = [layers[0].in_dim, *(layer.out_dim for layer in layers)]
    return prod(widths) + sum(prod(widths[start:]) for start in range(1, len(widths)))


def paths(net: Network) -> Iterator[Path]:
    """Every path, lazily: the input paths (by input, then neurons, then output), then the bias
    paths layer by layer. Their number is :func:`path_count`."""
    layers, _ = _value_layers(net)
    hidden = [range(1, layer.out_dim + 1) for layer in layers[:-1]]
    outputs = range(1, layers[-1].out_dim + 1)
    for i in range(1, layers[0].in_dim + 1):
        for *neurons, k in product(*hidden, outputs):
            yield Path(i, 1, tuple(neurons), k)
    for first in range(1, len(layers) + 1):
        for *neurons, k in product(*hidden[first - 1:], outputs):
            yield Path(0, first, tuple(neurons), k)


def path_value(net: Network, path: Path) -> Fraction:
    """v(p): the product of the weights on ``path``, the bias of its first layer counting as
    the weight from the constant input 1 on a bias path."""
    layers, _ = _value_layers(net)
    hops = (*path.neurons, path.output)
    first = layers[path.layer - 1]
    head = hops[0] - 1
    value = first.bias[head] if path.is_bias else first.weights[head][path.input - 1]
    for layer, (j, k) in zip(layers[path.layer:], zip(hops, hops[1:])):
        value *= layer.weights[k - 1][j - 1]
    assert isinstance(value, Fraction)  # _value_layers refused infinite weights
    return value


def path_features(net: Network, x: Sequence[Fraction | int]) -> Iterator[tuple[Path, Fraction]]:
    """(p, φ(x, p)) for every path p, in the order of :func:`paths`; the gates are computed
    once."""
    _, ones = _value_layers(net)
    point = _point(net, x)
    gates = _gates(net, point)
    source = _source_values(point, ones)
    for path in paths(net):
        feature = Fraction(1) if path.is_bias else source[path.input - 1]
        if all(gates[path.layer - 1 + d][j - 1] for d, j in enumerate(path.neurons)):
            yield path, feature
        else:
            yield path, Fraction(0)


# -- the neural path kernel --------------------------------------------------------------------

def _kernel(sources: tuple[tuple[Fraction, ...], tuple[Fraction, ...]],
            gates: tuple[Gates, Gates], outputs: int, bias_paths: bool) -> Fraction:
    """Σ φ(x, p)·φ(x', p) by dynamic programming over the layers.

    T_l is that sum over the partial paths ending at a neuron of hidden layer l. A partial path
    reaches neuron j of layer l from any neuron of layer l − 1 (or, with bias paths, starts at
    the bias of layer l), and adds the factor G^l_j(x)·G^l_j(x'); summing over j gives
    T_l = (T_{l−1} [+ 1])·⟨G^l(x), G^l(x')⟩, and the output layer multiplies by the m outputs.
    """
    (hx, hy), (gx, gy) = sources, gates
    bias = int(bias_paths)
    total = sum((a * b for a, b in zip(hx, hy)), Fraction(0))
    for layer_x, layer_y in zip(gx, gy):
        common = sum(a and b for a, b in zip(layer_x, layer_y))
        total = (total + bias) * common
    return (total + bias) * outputs


def npk(net: Network, x: Sequence[Fraction | int], y: Sequence[Fraction | int],
        bias_paths: bool = False) -> Fraction:
    """The neural path kernel K(x, y) = ⟨φ(x), φ(y)⟩ over the input paths (and the bias paths
    with ``bias_paths``)."""
    return npk_gram(net, [x, y], bias_paths)[0][1]


def npk_gram(net: Network, points: Sequence[Sequence[Fraction | int]],
             bias_paths: bool = False) -> list[list[Fraction]]:
    """The Gram matrix K(x_i, x_j) of the neural path kernel, exactly, without listing paths:
    the gates of each point once, then one pass over the layers per pair."""
    layers, ones = _value_layers(net)
    exact = [_point(net, x, f"point {i + 1}") for i, x in enumerate(points)]
    gates = [_gates(net, p) for p in exact]
    sources = [_source_values(p, ones) for p in exact]
    size = len(exact)
    gram = [[Fraction(0)] * size for _ in range(size)]
    for i in range(size):
        for j in range(i, size):
            value = _kernel((sources[i], sources[j]), (gates[i], gates[j]),
                            layers[-1].out_dim, bias_paths)
            gram[i][j] = gram[j][i] = value
    return gram


def is_positive_semidefinite(matrix: Sequence[Sequence[Fraction | int]]) -> bool:
    """Exact test by symmetric elimination (an LDLᵀ with diagonal pivoting).

    A symmetric A is PSD iff: every diagonal entry is ≥ 0; a zero diagonal entry has a zero row
    (and that row and column can be dropped); and for a positive pivot a_kk the Schur
    complement A' − a_k a_kᵀ / a_kk on the other indices is PSD. Raises :class:`InputError` for a
    matrix that is not square or not symmetric.
    """
    size = len(matrix)
    a = [[Fraction(v) for v in row] for row in matrix]
    if any(len(row) != size for row in a):
        raise InputError(f"matrix: not square ({size} rows, row lengths "
                         f"{sorted({len(row) for row in a})})")
    for i in range(size):
        for j in range(i + 1, size):
            if a[i][j] != a[j][i]:
                raise InputError(f"matrix: not symmetric at rows {i + 1} and {j + 1}")
    active = list(range(size))
    while active:
        if any(a[k][k] < 0 for k in active):
            return False
        zero = [k for k in active if a[k][k] == 0]
        if any(a[k][i] for k in zero for i in active):
            return False
        active = [k for k in active if a[k][k] != 0]
        if not active:
            return True
        # The largest pivot keeps the entries of the Schur complement small.
        k = max(active, key=lambda i: a[i][i])
        active.remove(k)
        pivot = a[k][k]
        for i in active:
            factor = a[i][k] / pivot
            if factor:
                for j in active:
                    a[i][j] -= factor * a[k][j]
    return True


# -- points files ------------------------------------------------------------------------------

def load_points(path: str | FilePath, n: int) -> list[tuple[Fraction, ...]]:
    """Read points of dimension ``n``: a JSON file holding a list of points [[...], ...] or
    {"points": [[...], ...]} (numbers as in the network format: integers, "p/q", exact
    decimals) or, for any other extension, a text file with one comma-separated point per line
    (blank lines and lines starting with # skipped)."""
    where = str(path)
    text = read_text(path)
    if FilePath(path).suffix.lower() == ".json":
        points = _json_points(parse_json_text(text, where), n, where)
    else:
        points = _text_points(text, n, where)
    if not points:
        raise InputError(f"{where}: no points")
    return points


def _json_points(doc: object, n: int, where: str) -> list[tuple[Fraction, ...]]:
    items = doc.get("points") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise InputError(f"{where}: points: expected a list of points [[...], ...] or "
                         f"{{\"points\": [[...], ...]}}")
    points = []
    for i, item in enumerate(items):
        if not isinstance(item, list):
            raise InputError(f"{where}: points[{i}]: expected a list of {n} numbers")
        if len(item) != n:
            raise InputError(f"{where}: points[{i}] has {len(item)} coordinates, "
                             f"the network takes {n}")
        points.append(tuple(parse_rational(v, f"{where}: points[{i}][{c}]")
                            for c, v in enumerate(item)))
    return points


def _text_points(text: str, n: int, where: str) -> list[tuple[Fraction, ...]]:
    points = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        # Spaces around the commas separate values; within a value the kernel's grammar has none.
        parts = [part.strip() for part in stripped.split(",")]
        if len(parts) != n:
            raise InputError(f"{where}: line {number} has {len(parts)} coordinates, "
                             f"the network takes {n}")
        points.append(tuple(parse_rational(p, f"{where}: line {number}, coordinate {c + 1}")
                            for c, p in enumerate(parts)))
    return points
