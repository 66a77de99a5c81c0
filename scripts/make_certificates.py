"""Regenerate proofs/certificates/ from the example networks.

For every deep2shallow_exact/examples/NAME.json this converts the network to its three-layer
extended-real form (method ``faces``, DESIGN section 4) and writes

- proofs/certificates/NAME.shallow.json: the three-layer network;
- proofs/certificates/NAME.certificate.json: the certificate that the example and the shallow
  network agree on the example's domain (DESIGN section 5), re-verified by the trusted kernel
  before it is written.

Run from anywhere: ``python scripts/make_certificates.py``. Exit status 1 if some example could
not be converted and proven (the others are still written).
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

from deep2shallow_exact import kernel
from deep2shallow_exact.construction import to_shallow
from deep2shallow_exact.domain import Domain, box, everywhere
from deep2shallow_exact.errors import InputError
from deep2shallow_exact.formats import load_network, save_network, write_json_atomically

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "deep2shallow_exact" / "examples"
OUT = ROOT / "proofs" / "certificates"

# Each example's description names the domain it is studied on: the sawtooth's regions are
# counted on [0, 1]; every other example is meant for all of Q^n.
BOXES: dict[str, tuple[list[Fraction], list[Fraction]]] = {
    "sawtooth3": ([Fraction(0)], [Fraction(1)]),
}


def domain_for(name: str, n: int) -> Domain:
    if name in BOXES:
        return box(*BOXES[name])
    return everywhere(n)


def make(path: Path) -> str | None:
    """Write the shallow network and certificate for one example; None, or why it failed."""
    name = path.stem
    net = load_network(path)
    domain = domain_for(name, net.input_dim)
    try:
        result = to_shallow(net, "faces", domain)
    except InputError as exc:
        return f"cannot convert: {exc}"
    verdict = result.verdict
    if verdict is None or not verdict.proven or verdict.certificate is None:
        return f"the construction was not proven: {verdict.to_document() if verdict else None}"
    checked = kernel.verify(verdict.certificate)
    if not checked.valid:
        return f"the kernel rejects the certificate at {checked.path}: {checked.reason}"
    certificate = OUT / f"{name}.certificate.json"
    write_json_atomically(verdict.certificate, certificate)
    save_network(result.network, OUT / f"{name}.shallow.json", {
        "verified": True, "method": "faces", "domain": domain.description,
        "source": f"deep2shallow_exact/examples/{path.name}",
        "certificate": certificate.name})
    print(f"{path.name}: widths {' -> '.join(map(str, result.network.widths))}, "
          f"{verdict.pieces_checked} pieces on {domain.description}; {checked.reason}")
    return None


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    failures = {path.name: why for path in sorted(EXAMPLES.glob("*.json"))
                if (why := make(path)) is not None}
    for name, why in failures.items():
        print(f"{name}: {why}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
