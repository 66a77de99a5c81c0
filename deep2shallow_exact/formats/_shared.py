"""Pieces every file reader shares.

- :func:`located` puts the file name in front of an :class:`InputError` raised while building
  networks from a file, so every message names the file.
- :func:`exact_flat` and :func:`exact_layer` turn NumPy arrays into exact numbers: a binary float
  becomes the rational it denotes exactly (``Fraction(0.1)`` = 3602879701896397/2**55), never a
  rounded decimal.
- :class:`LayerChain` folds a sequence of affine steps (linear layers, constant shifts and
  scalings) into the layers of a ReLU network exactly; a ReLU closes the current layer.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..network import Layer
from ..numbers import NEG_INF, POS_INF, Extended

if TYPE_CHECKING:  # only the binary readers, loaded on demand, pass arrays
    import numpy as np

_ZERO = Fraction(0)
_ONE = Fraction(1)


def import_extra(module: str, extra: str, what: str, where: str) -> Any:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{where}: reading {what} files needs the {module} package: "
                         f"pip install 'deep2shallow-exact[{extra}]'") from None


@contextmanager
def located(where: str) -> Iterator[None]:
    """Prefix ``where`` (the file) to an :class:`InputError` raised inside, unless it has it."""
    try:
        yield
    except InputError as exc:
        message = str(exc)
        if message.startswith(f"{where}:"):
            raise
        raise InputError(f"{where}: {message}") from None


def exact_flat(array: np.ndarray, label: str, allow_inf: bool = False) -> list[Extended]:
    """The entries of ``array`` in C order as exact numbers; ``label`` names the array.

    Floats become the exact rational value of the binary float; ±inf becomes ±∞ only when
    ``allow_inf`` (an extended-real network); NaN is always refused.
    """
    kind = array.dtype.kind
    if kind not in "fiu":
        raise InputError(f"{label}: has dtype {array.dtype}, expected integers or floats")
    values = array.ravel().tolist()
    if kind in "iu":
        return [Fraction(v) for v in values]
    out: list[Extended] = []
    for flat_index, v in enumerate(values):
        if v != v or v in (float("inf"), float("-inf")):
            if v == v and allow_inf:
                out.append(POS_INF if v > 0 else NEG_INF)
                continue
            import numpy as np

            index = ", ".join(str(int(i)) for i in np.unravel_index(flat_index, array.shape))
            reason = "is NaN" if v != v else f"is {v}; a finite number is required"
            raise InputError(f"{label}[{index}]: {reason}")
        out.append(Fraction(v))
    return out


def exact_layer(weights: np.ndarray, bias: np.ndarray | None, weights_label: str,
                bias_label: str, allow_inf: bool = False) -> Layer:
    """A layer from W of shape (out, in), like ``torch.nn.Linear.weight``, and b of shape (out,).

    A missing bias (``None``) is zero.
    """
    if weights.ndim != 2 or 0 in weights.shape:
        raise InputError(f"{weights_label}: has shape {weights.shape}, expected (out, in)")
    rows, cols = weights.shape
    if bias is not None and bias.shape != (rows,):
        raise InputError(f"{bias_label}: has shape {bias.shape}, expected ({rows},) to match "
                         f"{weights_label} of shape {weights.shape}")
    flat = exact_flat(weights, weights_label, allow_inf)
    matrix = tuple(tuple(flat[r * cols:(r + 1) * cols]) for r in range(rows))
    b = (_ZERO,) * rows if bias is None else tuple(exact_flat(bias, bias_label, allow_inf))
    return Layer(matrix, b)


class LayerChain:
    """Compose affine steps exactly into the layers of a ReLU network.

    The steps between two ReLUs make one affine map of the layer's input, kept as a matrix and
    a constant; :meth:`relu` closes it as a hidden layer and :meth:`finish` as the output layer.
    """

    def __init__(self, dim: int) -> None:
        self.width = dim
        self._in_dim = dim
        # None stands for the identity, so that the full layer after a ReLU is taken as it is
        # instead of being multiplied by an identity matrix.
        self._matrix: list[list[Fraction]] | None = None
        self._const: list[Fraction] = [_ZERO] * dim
        self._layers: list[Layer] = []

    def affine(self, matrix: Sequence[Sequence[Fraction]], const: Sequence[Fraction],
               what: str) -> None:
        """Apply v ↦ matrix · v + const to the running values; ``what`` names the step."""
        for row in matrix:
            if len(row) != self.width:
                raise InputError(f"{what}: takes {len(row)} inputs but receives {self.width}")
        if len(const) != len(matrix):
            raise InputError(f"{what}: has {len(const)} offsets for {len(matrix)} outputs")
        new_const = [c + sum((a * v for a, v in zip(row, self._const) if a and v), _ZERO)
                     for row, c in zip(matrix, const)]
        if self._matrix is None:
            new_matrix = [list(row) for row in matrix]
        else:
            columns = list(zip(*self._matrix))
            new_matrix = [[sum((a * m for a, m in zip(row, col) if a and m), _ZERO)
                           for col in columns] for row in matrix]
        self._matrix, self._const = new_matrix, new_const
        self.width = len(matrix)

    def elementwise(self, scale: Sequence[Fraction], shift: Sequence[Fraction]) -> None:
        """Apply v_i ↦ scale_i · v_i + shift_i."""
        if any(s != 1 for s in scale):
            if self._matrix is None:
                self._matrix = [[s if i == j else _ZERO for j in range(self.width)]
                                for i, s in enumerate(scale)]
            else:
                self._matrix = [[s * a for a in row] for s, row in zip(scale, self._matrix)]
        self._const = [s * c + t for s, c, t in zip(scale, self._const, shift)]

    def relu(self) -> None:
        self._layers.append(self._close())
        self._in_dim = self.width
        self._matrix = None
        self._const = [_ZERO] * self.width

    def finish(self) -> tuple[Layer, ...]:
        """All layers, the steps since the last ReLU making the affine output layer."""
        return (*self._layers, self._close())

    def _close(self) -> Layer:
        matrix = self._matrix
        if matrix is None:
            matrix = [[_ONE if i == j else _ZERO for j in range(self.width)]
                      for i in range(self.width)]
        return Layer(tuple(tuple(row) for row in matrix), tuple(self._const))
