"""Where the float-guided LP backend beats the pure exact one: time per solve by system size.

    python benchmarks/lp_sizes.py [--seconds S]

Seeded random systems of m strict rows in n variables with small rational coefficients, each
once as given (nonempty: every row holds near the origin) and once with two contradicting rows
added (empty). Every answer of both backends is exact (a checked witness or Motzkin
certificate); the table gives milliseconds per solve and the exact/float ratio. This is the
measurement behind feasibility.AUTO_EXACT_ROWS, the size where the default backend switches.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deep2shallow_exact.affine import Affine  # noqa: E402
from deep2shallow_exact.feasibility import LinearSystem, Solver, Witness  # noqa: E402

SIZES = ((10, 2), (20, 3), (40, 4), (100, 4), (200, 6), (400, 8))


def system(m: int, n: int, empty: bool, rng: random.Random) -> LinearSystem:
    rows = [Affine(tuple(Fraction(rng.randint(-9, 9), rng.randint(1, 4)) for _ in range(n)),
                   Fraction(rng.randint(1, 30), rng.randint(1, 3))) for _ in range(m)]
    if empty:  # x1 > 5 and x1 < 4
        unit = tuple(Fraction(int(i == 0)) for i in range(n))
        rows += [Affine(unit, Fraction(-5)), -Affine(unit, Fraction(-4))]
    return LinearSystem(n, strict=tuple(rows))


def per_solve(backend: str, s: LinearSystem, seconds: float) -> tuple[float, str]:
    solver = Solver(backend)
    start = time.perf_counter()
    count = 0
    while count < 3 or time.perf_counter() - start < seconds:
        answer = solver.solve(s)
        count += 1
    return (time.perf_counter() - start) / count, \
        "nonempty" if isinstance(answer, Witness) else "empty"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    rng = random.Random("deep2shallow-benchmark/lp-sizes")
    print("| rows | variables | answer | exact ms | float ms | exact / float |")
    print("|---|---|---|---|---|---|")
    for m, n in SIZES:
        for empty in (False, True):
            s = system(m, n, empty, rng)
            exact, kind = per_solve("exact", s, args.seconds)
            fast, other = per_solve("float", s, args.seconds)
            assert kind == other, "the backends disagree"
            print(f"| {len(s.strict)} | {n} | {kind} | {exact * 1e3:.2f} | {fast * 1e3:.2f} "
                  f"| {exact / fast:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
