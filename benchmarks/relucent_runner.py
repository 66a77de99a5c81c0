"""Run the peer, relucent, on one network file as a whole process (benchmark only).

    python benchmarks/relucent_runner.py NET.json [--workers K]

Reads a deep2shallow-exact network JSON file (weights as "p/q" strings) without importing the
package, so the process measures relucent alone; builds a float64 torch ``nn.Sequential``;
explores the open regions with ``relucent.Complex(...).bfs`` (its own certification on, as
shipped); and prints one JSON line: ``regions``, ``complete``, ``verified``, ``seconds`` (inside
bfs), or ``error`` ("ClassName: message") when relucent stops. Exit status 0 either way; 3 when
relucent (or torch) cannot be imported.

The search starts from a fixed seeded Gaussian point rather than relucent's default, the origin:
the origin lies on a wall whenever a first-layer bias is 0, which these networks often have, and
relucent then refuses to start at all. A float Gaussian point is almost surely off every wall.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction


def sequential(doc: dict):  # -> torch.nn.Sequential (torch imported lazily)
    import torch
    from torch import nn

    modules: list = []
    layers = doc["layers"]
    for i, layer in enumerate(layers):
        weights = [[float(Fraction(v)) for v in row] for row in layer["weights"]]
        bias = [float(Fraction(v)) for v in layer["bias"]]
        linear = nn.Linear(len(weights[0]), len(weights), dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(weights, dtype=torch.float64))
            linear.bias.copy_(torch.tensor(bias, dtype=torch.float64))
        modules.append(linear)
        if i < len(layers) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network")
    parser.add_argument("--workers", type=int, default=None,
                        help="relucent worker processes (default: relucent's, the CPU count)")
    args = parser.parse_args()
    try:
        import numpy as np
        import relucent
    except ImportError as exc:
        print(json.dumps({"error": f"cannot import relucent: {exc}"}))
        return 3
    with open(args.network) as handle:
        doc = json.load(handle)
    net = sequential(doc)
    start = np.random.default_rng(0).standard_normal(len(doc["layers"][0]["weights"][0]))
    result: dict = {"relucent": relucent.__version__}
    begin = time.perf_counter()
    try:
        complex_ = relucent.Complex(net)
        search = complex_.bfs(start, nworkers=args.workers, verbose=0)
        result.update(regions=len(complex_), complete=search.complete,
                      verified=search.verified)
    except Exception as exc:  # every failure is a result to report, not a crash
        message = " ".join(str(exc).split())
        result["error"] = f"{type(exc).__name__}: {message}"
    result["seconds"] = time.perf_counter() - begin
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
