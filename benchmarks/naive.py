"""The naive baseline for open regions: test every one of the 2^N activation patterns.

A pattern σ ∈ {+, −}^N (one sign per hidden neuron, layers in order) defines the open set
{x : σ_j z_j(x) > 0 for every hidden neuron j}, where z_j is neuron j's pre-activation once the
earlier layers' gates are fixed by σ. That set is an open activation region exactly when it is
nonempty, which the package's own exact-confirmed solver decides (HiGHS proposes, exact
arithmetic confirms), so the baseline and the search share one LP engine and differ only in
how many systems they pose.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from deep2shallow_exact.affine import Affine, combination
from deep2shallow_exact.feasibility import LinearSystem, Solver, Witness
from deep2shallow_exact.network import ReluNetwork


@dataclass(frozen=True)
class NaiveResult:
    """``tested`` of the ``total`` patterns were decided in ``seconds``; when only a sample was
    tested, ``estimated_seconds`` and ``estimated_regions`` scale the sample to all patterns."""

    total: int
    tested: int
    feasible: int
    seconds: float
    lp_calls: int

    @property
    def full(self) -> bool:
        return self.tested == self.total

    @property
    def estimated_seconds(self) -> float:
        return self.seconds * self.total / self.tested

    @property
    def estimated_regions(self) -> float:
        return self.feasible * self.total / self.tested


class PatternSystems:
    """The linear system of each activation pattern. Rows depend only on the signs of the
    layers before them, so they are memoised per sign prefix: the baseline then pays for its
    2^N LPs, not for rebuilding the same first-layer rows 2^N times."""

    def __init__(self, net: ReluNetwork) -> None:
        self.net = net
        self.n = net.input_dim
        self.widths = net.hidden_widths
        inputs = tuple(Affine.coordinate(self.n, i) for i in range(self.n))
        self._memo: dict[tuple[int, ...], tuple[tuple[Affine, ...], tuple[Affine, ...]]] = {
            (): ((), inputs)}

    @property
    def hidden(self) -> int:
        return sum(self.widths)

    def system(self, pattern: Sequence[int]) -> LinearSystem:
        rows, _ = self._prefix(tuple(pattern), len(self.widths))
        return LinearSystem(self.n, strict=rows)

    def _prefix(self, pattern: tuple[int, ...], layers: int
                ) -> tuple[tuple[Affine, ...], tuple[Affine, ...]]:
        """(strict rows, post-activation values) after the first ``layers`` hidden layers."""
        key = pattern[:sum(self.widths[:layers])]
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        rows, values = self._prefix(pattern, layers - 1)
        layer = self.net.layers[layers - 1]
        start = len(key) - self.widths[layers - 1]
        new_rows: list[Affine] = []
        new_values: list[Affine] = []
        for j, (weights, bias) in enumerate(zip(layer.weights, layer.bias)):
            z = combination([*zip(weights, values), (bias, Affine.constant(self.n, 1))], self.n)
            positive = key[start + j] > 0
            new_rows.append(z if positive else -z)
            new_values.append(z if positive else Affine.constant(self.n, Fraction(0)))
        result = ((*rows, *new_rows), tuple(new_values))
        if layers < len(self.widths):  # full patterns are never asked for twice
            self._memo[key] = result
        return result


def patterns_to_test(hidden: int, sample: int, seed: str) -> list[int]:
    """All 2^hidden pattern numbers when ``sample`` is 0 or covers them, else a fixed seeded
    random sample of ``sample`` of them (bit j set = neuron j positive)."""
    total = 2 ** hidden
    if sample <= 0 or sample >= total:
        return list(range(total))
    return sorted(random.Random(seed).sample(range(total), sample))


def run_naive(net: ReluNetwork, sample: int, seed: str, backend: str = "float") -> NaiveResult:
    systems = PatternSystems(net)
    numbers = patterns_to_test(systems.hidden, sample, seed)
    solver = Solver(backend)
    feasible = 0
    start = time.perf_counter()
    for number in numbers:
        pattern = [1 if number >> j & 1 else -1 for j in range(systems.hidden)]
        if isinstance(solver.solve(systems.system(pattern)), Witness):
            feasible += 1
    seconds = time.perf_counter() - start
    return NaiveResult(2 ** systems.hidden, len(numbers), feasible, seconds, len(numbers))
