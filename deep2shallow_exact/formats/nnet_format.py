"""The NNet text format of the ACAS Xu networks (Julian et al.; used by Reluplex and Marabou).

Layout, values separated by commas (a trailing comma is allowed), ``//`` lines are comments::

    numLayers, inputSize, outputSize, maxLayerSize
    layer sizes (numLayers + 1 values, input first)
    a flag (unused)
    input minimums (inputSize values)
    input maximums (inputSize values)
    means (inputSize values, then one for the outputs)
    ranges (inputSize values, then one for the outputs)
    per layer: its weight rows (out rows of in values), then its biases (out values)

Tools using the format evaluate ``y = range_out · N((x − mean) / range) + mean_out`` where N is
the stored network. That normalization is folded exactly into the first and last layers, so the
loaded network computes the un-normalized function of the raw inputs.

The input minimums and maximums are NOT part of the loaded function: the reference code clips
inputs to [min, max] before normalizing, which is not affine. They are checked to be numbers and
otherwise ignored; to stay inside them, give a box domain (for example ``--box``).

Every value is read as the exact decimal it spells, with the kernel's number grammar
(integers, decimals, scientific notation such as ``-1.25e-3``; ASCII digits).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from ..errors import InputError, read_text
from ..kernel import parse_number
from ..network import ReluNetwork
from ..numbers import parse_rational
from ._shared import LayerChain, located


class _Values:
    """The comma-separated values of the file, read in order, each knowing its line."""

    def __init__(self, text: str, where: str) -> None:
        self._where = where
        self._items: Iterator[tuple[str, int]] = (
            (token.strip(), number)
            for number, line in enumerate(text.splitlines(), start=1)
            if not line.lstrip().startswith("//")
            for token in line.split(",") if token.strip())
        self.line = 0

    def _next(self, what: str) -> str:
        try:
            token, self.line = next(self._items)
        except StopIteration:
            raise InputError(f"{self._where}: file ends early, while reading {what}") from None
        return token

    def count(self, what: str) -> int:
        token = self._next(what)
        # The kernel's number grammar, as for every other value (int() would also take
        # underscores and non-ASCII digits).
        number = parse_number(token)
        value = int(number) if number is not None and number.denominator == 1 else 0
        if value < 1:
            raise InputError(f"{self._where}: line {self.line}: {what}: expected a positive "
                             f"integer, found {token!r}")
        return value

    def rationals(self, n: int, what: str) -> list[Fraction]:
        return [parse_rational(self._next(what), f"{self._where}: line {self.line}: {what}")
                for _ in range(n)]

    def expect_end(self) -> None:
        leftover = next(self._items, None)
        if leftover is not None:
            raise InputError(f"{self._where}: line {leftover[1]}: unexpected value "
                             f"{leftover[0]!r} after the last layer's biases")


def load_nnet(path: str | Path) -> ReluNetwork:
    where = str(path)
    text = read_text(path)
    values = _Values(text, where)
    num_layers = values.count("numLayers")
    input_size = values.count("inputSize")
    output_size = values.count("outputSize")
    values.count("maxLayerSize")
    sizes = [values.count(f"layer size {i}") for i in range(num_layers + 1)]
    if sizes[0] != input_size or sizes[-1] != output_size:
        raise InputError(f"{where}: layer sizes {sizes} do not start with inputSize "
                         f"{input_size} and end with outputSize {output_size}")
    values.rationals(1, "flag")
    values.rationals(input_size, "input minimums")
    values.rationals(input_size, "input maximums")
    means = values.rationals(input_size + 1, "means")
    ranges = values.rationals(input_size + 1, "ranges")
    for i, r in enumerate(ranges[:-1]):
        if r == 0:
            raise InputError(f"{where}: ranges: input {i} has range 0; cannot normalize")
    chain = LayerChain(input_size)
    inputs = list(zip(means[:-1], ranges[:-1]))
    chain.elementwise([1 / r for _, r in inputs], [-m / r for m, r in inputs])
    for k in range(num_layers):
        rows = [values.rationals(sizes[k], f"layer {k + 1} weights row {r}")
                for r in range(sizes[k + 1])]
        bias = values.rationals(sizes[k + 1], f"layer {k + 1} biases")
        chain.affine(rows, bias, f"{where}: layer {k + 1}")
        if k < num_layers - 1:
            chain.relu()
    values.expect_end()
    chain.elementwise([ranges[-1]] * output_size, [means[-1]] * output_size)
    with located(where):
        return ReluNetwork(chain.finish())
