"""Networks as immutable values (DESIGN section 2).

A :class:`ReluNetwork` is a list of affine layers; every layer but the last is followed by
ReLU. Entries are exact rationals, or ±∞ in an extended-real network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from .errors import InputError
from .numbers import Extended, Infinity, parse_extended

Matrix = tuple[tuple[Extended, ...], ...]
Vector = tuple[Extended, ...]
_ZERO = Fraction(0)


Row = tuple[tuple[int, Extended], ...]
"""A weight row as its nonzero entries (column, weight), columns increasing."""


@dataclass(frozen=True, init=False)
class Layer:
    """An affine map a ↦ W a + b with W of shape (out_dim, in_dim), held sparse.

    ``rows`` lists each row's nonzero weights: 0 · anything = 0 (even ±∞), so zero weights
    never contribute, and the shallow networks this project builds are mostly zeros.
    ``Layer(weights, bias)`` takes a dense matrix; :meth:`sparse` takes the rows directly.
    """

    rows: tuple[Row, ...]
    in_dim: int
    bias: Vector

    def __init__(self, weights: Sequence[Sequence[Extended]], bias: Sequence[Extended]) -> None:
        object.__setattr__(self, "rows", tuple(
            tuple((c, w) for c, w in enumerate(row) if w != 0) for row in weights))
        object.__setattr__(self, "in_dim", len(weights[0]) if weights else 0)
        object.__setattr__(self, "bias", tuple(bias))

    @staticmethod
    def sparse(rows: Sequence[Sequence[tuple[int, Extended]]], in_dim: int,
               bias: Sequence[Extended]) -> Layer:
        """The layer whose row j has weight w in column c for each (c, w) of ``rows[j]``."""
        layer = object.__new__(Layer)
        object.__setattr__(layer, "rows", tuple(
            tuple(sorted((c, w) for c, w in row if w != 0)) for row in rows))
        object.__setattr__(layer, "in_dim", in_dim)
        object.__setattr__(layer, "bias", tuple(bias))
        return layer

    def __reduce__(self) -> tuple:
        # Pickled (to worker processes) without the cached dense form.
        return Layer.sparse, (self.rows, self.in_dim, self.bias)

    @cached_property
    def weights(self) -> Matrix:
        """The dense matrix (built on first use; large sparse layers should use ``rows``)."""
        dense = []
        for row in self.rows:
            line: list[Extended] = [_ZERO] * self.in_dim
            for c, w in row:
                line[c] = w
            dense.append(tuple(line))
        return tuple(dense)

    @property
    def out_dim(self) -> int:
        return len(self.bias)

    @property
    def nonzeros(self) -> int:
        return sum(map(len, self.rows))

    def entries(self) -> list[Extended]:
        """The nonzero weights, row by row, then the biases."""
        return [w for row in self.rows for _, w in row] + list(self.bias)

    @staticmethod
    def build(weights: Sequence[Sequence[object]], bias: Sequence[object], where: str) -> Layer:
        """Make a layer from nested sequences of numbers, checking the shape."""
        if len(weights) == 0:
            raise InputError(f"{where}: weights has no rows")
        width = len(weights[0])
        if width == 0:
            raise InputError(f"{where}: weights rows are empty")
        rows = []
        for r, row in enumerate(weights):
            if len(row) != width:
                raise InputError(
                    f"{where}: weights row {r} has {len(row)} entries, row 0 has {width}"
                )
            rows.append(tuple(parse_extended(v, f"{where}.weights[{r}][{c}]")
                              for c, v in enumerate(row)))
        if len(bias) != len(rows):
            raise InputError(
                f"{where}: bias has {len(bias)} entries but weights has {len(rows)} rows"
            )
        b = tuple(parse_extended(v, f"{where}.bias[{r}]") for r, v in enumerate(bias))
        return Layer(tuple(rows), b)

    @staticmethod
    def build_sparse(rows: int, cols: int, entries: Sequence[object],
                     bias: Sequence[object], where: str) -> Layer:
        """Make a layer from sparse entries [[i, j, w], ...] (0-based; every other weight 0)."""
        for name, size in (("rows", rows), ("cols", cols)):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise InputError(f"{where}: weights.{name}: expected a positive integer, "
                                 f"found {size!r}")
        if len(bias) != rows:
            raise InputError(f"{where}: bias has {len(bias)} entries but weights has {rows} rows")
        by_row: list[dict[int, Extended]] = [{} for _ in range(rows)]
        for k, entry in enumerate(entries):
            at = f"{where}.weights.entries[{k}]"
            if not isinstance(entry, (list, tuple)) or len(entry) != 3:
                raise InputError(f"{at}: expected [row, column, weight]")
            i, j, w = entry
            for name, index, size in (("row", i, rows), ("column", j, cols)):
                if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
                    raise InputError(f"{at}: {name} {index!r} is not an index in 0..{size - 1}")
            if j in by_row[i]:
                raise InputError(f"{at}: entry ({i}, {j}) is given twice")
            by_row[i][j] = parse_extended(w, f"{at}[2]")
        b = tuple(parse_extended(v, f"{where}.bias[{r}]") for r, v in enumerate(bias))
        return Layer.sparse([tuple(row.items()) for row in by_row], cols, b)


@dataclass(frozen=True)
class ReluNetwork:
    """x ↦ z^L where z^l = W^l a^{l−1} + b^l, a^0 = x, a^l = ReLU(z^l) for l < L."""

    layers: tuple[Layer, ...]

    kind = "relu"

    def __post_init__(self) -> None:
        if not self.layers:
            raise InputError("network has no layers")
        for i in range(1, len(self.layers)):
            prev, cur = self.layers[i - 1], self.layers[i]
            if cur.in_dim != prev.out_dim:
                raise InputError(
                    f"layers[{i}]: weights have {cur.in_dim} columns but layers[{i - 1}] "
                    f"has {prev.out_dim} outputs"
                )

    @property
    def input_dim(self) -> int:
        return self.layers[0].in_dim

    @property
    def output_dim(self) -> int:
        return self.layers[-1].out_dim

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return tuple(layer.out_dim for layer in self.layers[:-1])

    @property
    def widths(self) -> tuple[int, ...]:
        """Input dimension, then every layer's output dimension."""
        return (self.input_dim, *(layer.out_dim for layer in self.layers))

    @property
    def parameter_count(self) -> int:
        return sum(layer.out_dim * (layer.in_dim + 1) for layer in self.layers)

    @property
    def is_extended(self) -> bool:
        return any(isinstance(v, Infinity) for layer in self.layers for v in layer.entries())

    @property
    def max_denominator(self) -> int:
        return max((v.denominator for layer in self.layers for v in layer.entries()
                    if isinstance(v, Fraction)), default=1)

    def require_finite(self, what: str) -> None:
        """Refuse an extended-real network where ``what`` needs finite weights."""
        for i, layer in enumerate(self.layers):
            for r, row in enumerate(layer.rows):
                for c, v in row:
                    if isinstance(v, Infinity):
                        raise InputError(
                            f"{what}: layers[{i}].weights[{r}][{c}] is {v!r}; "
                            "a finite network is required"
                        )
            for r, v in enumerate(layer.bias):
                if isinstance(v, Infinity):
                    raise InputError(
                        f"{what}: layers[{i}].bias[{r}] is {v!r}; a finite network is required"
                    )

    @staticmethod
    def from_lists(layers: Sequence[tuple[Sequence[Sequence[object]], Sequence[object]]],
                   where: str = "network") -> ReluNetwork:
        """Build from [(weights, bias), ...] of numbers in any format the files accept."""
        return ReluNetwork(tuple(Layer.build(w, b, f"{where}: layers[{i}]")
                                 for i, (w, b) in enumerate(layers)))


@dataclass(frozen=True)
class GatedNetwork:
    """A deep gated network (kind "dgn") or deep linearly gated network (kind "dlgn").

    Gating layer l gives q^l = U^l g^{l−1} + c^l with g^0 = x and g^l = ReLU(q^l) ("dgn") or
    g^l = q^l ("dlgn"); its gates are G^l = 1{q^l > 0}. The value network computes
    h^l = G^l ⊙ (W^l h^{l−1} + b^l) for its hidden layers, h^0 = x or the all-ones vector
    ("value_input": "ones"), then an affine output layer. All entries are finite.
    """

    kind: str
    gating: tuple[Layer, ...]
    value: tuple[Layer, ...]
    value_input: str = "x"

    def __post_init__(self) -> None:
        if self.kind not in ("dgn", "dlgn"):
            raise InputError(f"kind: {self.kind!r} is not a gated network kind (dgn, dlgn)")
        if self.value_input not in ("x", "ones"):
            raise InputError(f"value_input: {self.value_input!r} must be \"x\" or \"ones\"")
        if not self.gating:
            raise InputError("gating: a gated network needs at least one gating layer")
        if len(self.value) != len(self.gating) + 1:
            raise InputError(
                f"value: has {len(self.value)} layers; {len(self.gating)} gating layers need "
                f"{len(self.gating) + 1} (one per gating layer, then the output layer)"
            )
        for name, layers in (("gating", self.gating), ("value", self.value)):
            for i in range(1, len(layers)):
                if layers[i].in_dim != layers[i - 1].out_dim:
                    raise InputError(
                        f"{name}[{i}]: weights have {layers[i].in_dim} columns but "
                        f"{name}[{i - 1}] has {layers[i - 1].out_dim} outputs"
                    )
            for i, layer in enumerate(layers):
                if any(isinstance(v, Infinity) for v in layer.entries()):
                    raise InputError(f"{name}[{i}]: gated networks must have finite entries")
        if self.value[0].in_dim != self.gating[0].in_dim:
            raise InputError(
                f"value[0]: weights have {self.value[0].in_dim} columns but the input "
                f"dimension (gating[0] columns) is {self.gating[0].in_dim}"
            )
        for i, (g, v) in enumerate(zip(self.gating, self.value)):
            if g.out_dim != v.out_dim:
                raise InputError(
                    f"value[{i}]: has {v.out_dim} neurons but gating[{i}] has {g.out_dim} gates"
                )

    @property
    def input_dim(self) -> int:
        return self.gating[0].in_dim

    @property
    def output_dim(self) -> int:
        return self.value[-1].out_dim

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return tuple(layer.out_dim for layer in self.gating)

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.input_dim, *self.hidden_widths, self.output_dim)

    @property
    def parameter_count(self) -> int:
        return sum(layer.out_dim * (layer.in_dim + 1) for layer in (*self.gating, *self.value))

    @property
    def is_extended(self) -> bool:
        return False

    @property
    def max_denominator(self) -> int:
        return max((v.denominator for layer in (*self.gating, *self.value)
                    for v in layer.entries() if isinstance(v, Fraction)), default=1)


Network = ReluNetwork | GatedNetwork
