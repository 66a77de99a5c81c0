"""The margin LP of a linear system in floats, solved by HiGHS: the float backend's proposer.

Only :class:`.feasibility.Solver` imports this, the first time a system goes to HiGHS, so that
runs whose systems are all small never load numpy or HiGHS (about 0.1 s of start-up).
Nothing here is trusted: the solver confirms whatever it proposes exactly.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import highspy
import numpy as np

# Candidates whose scaled rows are below −this in floats are not checked exactly.
_PLAUSIBLE_TOL = 1e-9


class FloatLP:
    """The margin LP in floats for HiGHS: max t, σ_r f_r(x) ≥ t (strict), σ_r f_r(x) ≥ 0,
    σ_r f_r(x) = 0, t ≤ 1, for rows given as (σ_r, σ_r · [a_1, …, a_n, c]) (see
    :func:`.feasibility._float_form`) and counts (strict, nonstrict, equal)."""

    def __init__(self, forms: Sequence[tuple[float, list[float]]], counts: tuple[int, int, int],
                 dim: int) -> None:
        s, n, _ = counts
        m, width = len(forms), dim + 1
        self.scale = np.fromiter((scale for scale, _ in forms), float, m)
        self.dense = np.array([row for _, row in forms], dtype=float).reshape(m, width)
        self.counts = counts
        self.dim = dim
        body = self.dense.copy()
        body[:, dim] = 0.0
        body[:s, dim] = -1.0
        lower = -self.dense[:, dim]
        upper = np.full(m, np.inf)
        upper[s + n:] = lower[s + n:]
        cost = np.zeros(width)
        cost[dim] = 1.0
        col_upper = np.full(width, np.inf)
        col_upper[dim] = 1.0
        # Passed dense, row-wise: HiGHS drops the zeros itself, faster than finding them here.
        self.model = (width, m, m * width, 2, -1, 0.0,  # row-wise matrix, maximize
                      cost, np.full(width, -np.inf), col_upper, lower, upper,
                      np.arange(0, m * width, width, dtype=np.int32),
                      np.arange(m * width, dtype=np.int32) % width, body.ravel(),
                      np.zeros(width, dtype=np.int32))

    def plausible(self, point: Sequence[Any]) -> bool:
        """A float pre-check that skips the exact check of clearly infeasible candidates.
        Equalities are left out: candidates are put on them exactly."""
        s, n, _ = self.counts
        values = self.dense[:s + n, :self.dim] @ np.array([float(v) for v in point]) \
            + self.dense[:s + n, self.dim]
        return bool(np.all(values > -_PLAUSIBLE_TOL))

    def run(self, highs: Any) -> tuple[str, float, list[float], list[float]]:
        """(status, margin t, point x, multipliers per original row)."""
        highs.passModel(*self.model)
        highs.run()
        status = highs.modelStatusToString(highs.getModelStatus())
        if status == "Optimal":
            solution = highs.getSolution()
            values = solution.col_value
            if all(map(math.isfinite, values)):
                # A maximisation reports ≥-row duals as ≤ 0; the multipliers are their negatives.
                duals = -np.asarray(solution.row_dual) * self.scale
                return "optimal", values[self.dim], values[:self.dim], duals.tolist()
        if status == "Infeasible":
            _, has_ray, ray = highs.getDualRay()
            if has_ray:
                # The ray comes with the opposite sign convention: ≥-rows get ≥ 0 entries.
                return "infeasible", 0.0, [], (np.asarray(ray) * self.scale).tolist()
        return "unknown", 0.0, [], []


def quiet_highs() -> Any:
    """A silent HiGHS instance. Its first construction in a process prints a banner on the C
    stdout before any option can be set, so the banner is sent to /dev/null at the descriptor
    level."""
    sys.stdout.flush()
    saved = os.dup(1)
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 1)
        highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)
    highs.setOptionValue("output_flag", False)
    # Presolve costs more than it saves on LPs of a few dozen rows.
    highs.setOptionValue("presolve", "off")
    return highs
