"""The committed proofs: proofs/certificates/ holds, for the example networks, a three-layer
network and a certificate that it equals the example; the trusted kernel re-verifies each one.

Regenerate the files with ``python scripts/make_certificates.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deep2shallow_exact.domain import box, everywhere
from deep2shallow_exact.formats import load_network, network_to_document
from deep2shallow_exact.kernel import verify_text
from deep2shallow_exact.network import ReluNetwork

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "deep2shallow_exact" / "examples"
CERTIFICATES = ROOT / "proofs" / "certificates"
SUFFIX = ".certificate.json"

# The domain each example's description names: the sawtooth's 8 regions are those of [0, 1].
DOMAINS = {"sawtooth3": box([0], [1]).to_document()}


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES.glob("*.json"))


def certificate_names() -> list[str]:
    return sorted(path.name[:-len(SUFFIX)] for path in CERTIFICATES.glob("*" + SUFFIX))


def test_certificates_exist() -> None:
    assert certificate_names(), "run python scripts/make_certificates.py"
    assert set(certificate_names()) <= set(example_names())


@pytest.mark.parametrize("name", example_names())
def test_every_example_has_a_certificate(name: str) -> None:
    assert (CERTIFICATES / f"{name}{SUFFIX}").is_file()
    assert (CERTIFICATES / f"{name}.shallow.json").is_file()


@pytest.mark.parametrize("name", certificate_names())
def test_certificate_is_valid_and_names_the_example(name: str) -> None:
    text = (CERTIFICATES / f"{name}{SUFFIX}").read_text()
    verdict = verify_text(text)
    assert verdict.valid, (verdict.path, verdict.reason)
    assert verdict.pieces > 0
    doc = json.loads(text)
    deep, shallow = doc["networks"]
    example = load_network(EXAMPLES / f"{name}.json")
    assert deep == network_to_document(example)
    assert doc["scope"] == "everywhere"
    assert doc["domain"] == DOMAINS.get(name, everywhere(example.input_dim).to_document())
    # The shallow network in the certificate is the one in the .shallow.json file, and it has
    # three weight layers (two hidden), the second gated by −∞.
    network = load_network(CERTIFICATES / f"{name}.shallow.json")
    assert shallow == network_to_document(network)
    assert isinstance(network, ReluNetwork) and len(network.layers) == 3
    assert network.is_extended
    assert network.input_dim == example.input_dim
    assert network.output_dim == example.output_dim
