"""A tour of the Python API on the bundled 2-input example (run: python examples/api_tour.py)."""

from fractions import Fraction
from pathlib import Path

import deep2shallow_exact
from deep2shallow_exact import kernel
from deep2shallow_exact.checker import check
from deep2shallow_exact.construction import to_shallow
from deep2shallow_exact.domain import box
from deep2shallow_exact.evaluation import evaluate
from deep2shallow_exact.formats import load_network
from deep2shallow_exact.regions import counts_by_dim, enumerate_pieces

EXAMPLES = Path(deep2shallow_exact.__file__).parent / "examples"

net = load_network(EXAMPLES / "tiny.json")
print("output at (1/2, -1/3):", evaluate(net, [Fraction(1, 2), Fraction(-1, 3)]))

pieces = list(enumerate_pieces(net))
print("pieces by dimension:", counts_by_dim(pieces))
first = pieces[0]
print("one piece:", first.signs, "dim", first.dim, "witness", first.witness,
      "map A =", first.A, "c =", first.c)

shallow = to_shallow(net)
print("three-layer widths:", shallow.network.widths, "verdict:", shallow.verdict.verdict)
print("kernel:", kernel.verify(shallow.verdict.certificate).reason)

saw = load_network(EXAMPLES / "sawtooth3.json")
unit = box([Fraction(0)], [Fraction(1)])
print("sawtooth regions on [0, 1]:", counts_by_dim(enumerate_pieces(saw, unit)))
closed = to_shallow(saw, method="closed-cells", domain=unit)
print("closed-cells sum:", closed.verdict.verdict, "at", closed.verdict.counterexample,
      "outputs", closed.verdict.outputs)
print("a network against itself on the box:", check(saw, saw, unit).verdict)
