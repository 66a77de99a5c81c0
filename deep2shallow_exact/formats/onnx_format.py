"""ONNX networks: a single chain of layers from the one graph input to the one graph output.

Supported operators: Gemm (alpha, beta, transA, transB), MatMul and Add with a constant, Relu,
Flatten, Identity, and Sub or Div of a constant (such as the input normalization of the VNN-COMP
ACAS Xu networks). Constants are graph initializers or Constant nodes. All affine steps between
two Relus are composed exactly into one layer, so the ``Sub`` of a mean and the ``Div`` by a
range fold into the first layer. Any other operator, or a node that does not read the running
tensor (a branch), is refused.

Initializers are converted with ``onnx.numpy_helper.to_array``, then every float to the exact
rational value of the binary float. The model is treated as acting on one input sample: a
leading batch dimension of unknown size counts as 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import InputError
from ..network import ReluNetwork
from ._shared import LayerChain, exact_flat, import_extra, located

_ONE = Fraction(1)


class _Walk:
    """The state while walking the graph: the running tensor's name and shape (one sample)."""

    def __init__(self, where: str, constants: dict[str, np.ndarray], current: str,
                 shape: tuple[int, ...]) -> None:
        self.where = where
        self.constants = constants
        self.current = current
        self.shape = shape
        self.chain = LayerChain(math.prod(shape))

    def constant(self, name: str, what: str) -> np.ndarray:
        if name not in self.constants:
            raise InputError(f"{what}: input {name!r} must be a constant initializer")
        return self.constants[name]

    def exact(self, array: np.ndarray, name: str) -> list[Fraction]:
        # Without allow_inf, exact_flat refuses ±inf, so every entry is a Fraction.
        return cast(list[Fraction], exact_flat(array, f"{self.where}: constant {name!r}"))

    def broadcast(self, name: str, what: str) -> list[Fraction]:
        """A constant operand, broadcast to the running tensor's shape, in C order."""
        array = self.constant(name, what)
        try:
            shape = np.broadcast_shapes(self.shape, array.shape)
        except ValueError:
            shape = None
        if shape != self.shape:
            raise InputError(f"{what}: constant {name!r} of shape {array.shape} does not "
                             f"broadcast to the running tensor's shape {self.shape}")
        return self.exact(np.broadcast_to(array, self.shape), name)

    def linear(self, matrix: np.ndarray, name: str, scale: Fraction, what: str) -> None:
        """Apply v ↦ scale · v · matrix, matrix of shape (k, m) (ONNX's row-vector convention)."""
        k, m = matrix.shape
        flat = self.exact(matrix, name)
        rows = [[scale * flat[i * m + j] for i in range(k)] for j in range(m)]
        self.chain.affine(rows, [Fraction(0)] * m, what)


def _scalar(value: float, what: str) -> Fraction:
    if not math.isfinite(value):
        raise InputError(f"{what}: is {value}; a finite number is required")
    return Fraction(value)


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _identity(walk: _Walk, node: Any, what: str) -> None:
    pass


def _relu(walk: _Walk, node: Any, what: str) -> None:
    walk.chain.relu()


def _flatten(walk: _Walk, node: Any, what: str) -> None:
    # Flattening keeps the C-order sequence of values; only the shape changes.
    axis = _attributes(node).get("axis", 1)
    if axis < 0:
        axis += len(walk.shape)
    walk.shape = (math.prod(walk.shape[:axis]), math.prod(walk.shape[axis:]))


def _matmul(walk: _Walk, node: Any, what: str) -> None:
    if node.input[0] != walk.current:
        raise InputError(f"{what}: only running tensor × constant matrix is supported")
    matrix = walk.constant(node.input[1], what)
    if matrix.ndim != 2:
        raise InputError(f"{what}: constant {node.input[1]!r} has shape {matrix.shape}, "
                         "expected a matrix")
    if walk.shape[-1] != matrix.shape[0] or math.prod(walk.shape[:-1]) != 1:
        raise InputError(f"{what}: cannot multiply the running tensor of shape {walk.shape} "
                         f"by a matrix of shape {matrix.shape}")
    walk.linear(matrix, node.input[1], _ONE, what)
    walk.shape = (*walk.shape[:-1], matrix.shape[1])


def _gemm(walk: _Walk, node: Any, what: str) -> None:
    attrs = _attributes(node)
    if node.input[0] != walk.current:
        raise InputError(f"{what}: only Gemm of the running tensor (input A) is supported")
    alpha, beta = (_scalar(attrs.get(name, 1.0), f"{what}: {name}") for name in ("alpha", "beta"))
    matrix = walk.constant(node.input[1], what)
    if matrix.ndim != 2:
        raise InputError(f"{what}: B has shape {matrix.shape}, expected a matrix")
    if attrs.get("transB", 0):
        matrix = matrix.T
    rows_a = walk.shape[::-1] if attrs.get("transA", 0) else walk.shape
    if len(rows_a) != 2 or rows_a[0] != 1 or rows_a[1] != matrix.shape[0]:
        raise InputError(f"{what}: cannot multiply the running tensor of shape {walk.shape} "
                         f"(transA={attrs.get('transA', 0)}) by B of shape {matrix.shape}")
    walk.linear(matrix, node.input[1], alpha, what)
    walk.shape = (1, matrix.shape[1])
    if len(node.input) > 2 and node.input[2]:
        offset = walk.broadcast(node.input[2], what)
        walk.chain.elementwise([_ONE] * len(offset), [beta * c for c in offset])


def _add(walk: _Walk, node: Any, what: str) -> None:
    other = node.input[1] if node.input[0] == walk.current else node.input[0]
    offset = walk.broadcast(other, what)
    walk.chain.elementwise([_ONE] * len(offset), offset)


def _sub(walk: _Walk, node: Any, what: str) -> None:
    if node.input[0] == walk.current:
        offset = walk.broadcast(node.input[1], what)
        walk.chain.elementwise([_ONE] * len(offset), [-c for c in offset])
    else:
        offset = walk.broadcast(node.input[0], what)
        walk.chain.elementwise([-_ONE] * len(offset), offset)


def _div(walk: _Walk, node: Any, what: str) -> None:
    if node.input[0] != walk.current:
        raise InputError(f"{what}: only division of the running tensor by a constant is "
                         "supported")
    divisors = walk.broadcast(node.input[1], what)
    if any(d == 0 for d in divisors):
        raise InputError(f"{what}: division by zero (constant {node.input[1]!r})")
    walk.chain.elementwise([1 / d for d in divisors], [Fraction(0)] * len(divisors))


_OPERATORS: dict[str, Callable[[_Walk, Any, str], None]] = {
    "Identity": _identity, "Relu": _relu, "Flatten": _flatten, "MatMul": _matmul,
    "Gemm": _gemm, "Add": _add, "Sub": _sub, "Div": _div,
}


def _input_shape(value_info: Any, where: str) -> tuple[int, ...]:
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape") or not tensor_type.shape.dim:
        raise InputError(f"{where}: graph input {value_info.name!r} has no fixed shape")
    shape = []
    for axis, dim in enumerate(tensor_type.shape.dim):
        size = dim.dim_value if dim.HasField("dim_value") else 0
        if size <= 0 and axis > 0:
            raise InputError(f"{where}: graph input {value_info.name!r} has an unknown size "
                             f"on axis {axis}")
        shape.append(max(size, 1))  # an unknown batch axis: one sample
    return tuple(shape)


def load_onnx(path: str | Path) -> ReluNetwork:
    where = str(path)
    onnx = import_extra("onnx", "onnx", "ONNX", where)
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise InputError(f"{where}: no such file") from None
    except Exception as exc:  # protobuf decoding raises its own exception types
        raise InputError(f"{where}: not a readable ONNX model: {exc}") from None
    graph = model.graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    inputs = [v for v in graph.input if v.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise InputError(f"{where}: the graph has {len(inputs)} inputs and "
                         f"{len(graph.output)} outputs; exactly one of each is supported")
    walk = _Walk(where, constants, inputs[0].name, _input_shape(inputs[0], where))
    for index, node in enumerate(graph.node):
        what = f"{where}: node {node.name or index!r} ({node.op_type})"
        if node.op_type == "Constant":
            value = _attributes(node).get("value")
            if value is None:
                raise InputError(f"{what}: only Constant nodes holding a tensor are supported")
            constants[node.output[0]] = numpy_helper.to_array(value)
            continue
        operator = _OPERATORS.get(node.op_type)
        if operator is None:
            raise InputError(f"{where}: unsupported ONNX operator {node.op_type!r} "
                             f"(node {node.name!r})")
        if [name for name in node.input if name and name not in constants] != [walk.current]:
            raise InputError(f"{what}: does not read the running tensor {walk.current!r} "
                             "alone; only a single chain of layers is supported")
        if len(node.output) != 1:
            raise InputError(f"{what}: has {len(node.output)} outputs, expected 1")
        operator(walk, node, what)
        walk.current = node.output[0]
    if walk.current != graph.output[0].name:
        raise InputError(f"{where}: the chain of nodes ends in {walk.current!r}, not in the "
                         f"graph output {graph.output[0].name!r}")
    with located(where):
        return ReluNetwork(walk.chain.finish())
