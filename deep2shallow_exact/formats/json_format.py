"""The network JSON document of DESIGN section 8.

Numbers are written as strings ("3", "-7/2", "inf") so no reader can round them. On reading, a
number may be a JSON integer, a string "p/q", an exact decimal, or a JSON number literal such
as 0.1, which is read as the decimal it spells (1/10), never as a binary float.
"""

from __future__ import annotations

import json
import os
import tempfile
from fractions import Fraction
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path

from ..errors import InputError, read_text
from ..kernel import NETWORK_FORMAT, json_object
from ..network import GatedNetwork, Layer, Network, ReluNetwork
from ..numbers import format_number, parse_rational
from ._shared import located

NETWORK_VERSION = 1
_NETWORK_KEYS = frozenset({"format", "version", "kind", "layers", "gating", "value",
                           "value_input"})


def _layer_document(layer: Layer) -> dict:
    """Dense rows, or the sparse form of DESIGN section 8 where that is shorter (a sparse
    entry takes about three dense ones): files grow with the nonzero weights."""
    bias = [format_number(v) for v in layer.bias]
    if 3 * layer.nonzeros < layer.out_dim * layer.in_dim:
        return {"weights": {"rows": layer.out_dim, "cols": layer.in_dim,
                            "entries": [[i, j, format_number(w)]
                                        for i, row in enumerate(layer.rows) for j, w in row]},
                "bias": bias}
    return {"weights": [[format_number(v) for v in row] for row in layer.weights], "bias": bias}


def network_to_document(net: Network, extra: dict | None = None) -> dict:
    """The JSON document of ``net``; the keys of ``extra`` are added at the top level."""
    doc: dict = {"format": NETWORK_FORMAT, "version": NETWORK_VERSION, "kind": net.kind}
    if isinstance(net, GatedNetwork):
        doc["gating"] = [_layer_document(layer) for layer in net.gating]
        doc["value"] = [_layer_document(layer) for layer in net.value]
        doc["value_input"] = net.value_input
    else:
        doc["layers"] = [_layer_document(layer) for layer in net.layers]
    for key, value in (extra or {}).items():
        if key in _NETWORK_KEYS:
            raise InputError(f"extra metadata key {key!r} would overwrite a network field")
        doc[key] = value
    return doc


def _layers(doc: dict, field: str, where: str) -> tuple[Layer, ...]:
    items = doc.get(field)
    if not isinstance(items, list) or not items:
        raise InputError(f"{where}: {field}: expected a non-empty list of layers")
    layers = []
    for i, item in enumerate(items):
        at = f"{where}: {field}[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{at}: expected an object with weights and bias")
        weights, bias = item.get("weights"), item.get("bias")
        if not isinstance(bias, list):
            raise InputError(f"{at}: bias: expected a list of numbers")
        if isinstance(weights, dict):
            if set(weights) != {"rows", "cols", "entries"} or not isinstance(
                    weights["entries"], list):
                raise InputError(f"{at}: weights: a sparse matrix is "
                                 '{"rows": m, "cols": n, "entries": [[i, j, w], ...]}')
            layers.append(Layer.build_sparse(weights["rows"], weights["cols"],
                                             weights["entries"], bias, at))
            continue
        if not isinstance(weights, list) or not all(isinstance(row, list) for row in weights):
            raise InputError(f"{at}: weights: expected a list of rows (lists of numbers) or "
                             '{"rows": m, "cols": n, "entries": [[i, j, w], ...]}')
        layers.append(Layer.build(weights, bias, at))
    return tuple(layers)


def network_from_document(doc: object, where: str) -> Network:
    """Validate and read a network document; ``where`` (the file) starts every error message."""
    if not isinstance(doc, dict):
        raise InputError(f"{where}: expected a JSON object holding a network")
    if doc.get("format") != NETWORK_FORMAT:
        raise InputError(f"{where}: format: expected {NETWORK_FORMAT!r}, "
                         f"found {doc.get('format')!r}")
    version = doc.get("version")
    if type(version) is not int or version != NETWORK_VERSION:
        raise InputError(f"{where}: version: expected {NETWORK_VERSION}, found {version!r}")
    kind = doc.get("kind", "relu")
    if kind == "relu":
        for field in ("gating", "value", "value_input"):
            if field in doc:
                raise InputError(f"{where}: {field}: not used by kind 'relu' (use layers)")
        layers = _layers(doc, "layers", where)
        with located(where):
            return ReluNetwork(layers)
    if kind in ("dgn", "dlgn"):
        if "layers" in doc:
            raise InputError(f"{where}: layers: not used by kind {kind!r} (use gating and value)")
        gating = _layers(doc, "gating", where)
        value = _layers(doc, "value", where)
        with located(where):
            return GatedNetwork(kind, gating, value, doc.get("value_input", "x"))
    raise InputError(f"{where}: kind: {kind!r} is not one of 'relu', 'dgn', 'dlgn'")


def _refuse_constant(name: str) -> object:
    raise InputError(f"{name} is not valid JSON; write \"inf\" or \"-inf\" as strings")


def _exact_decimal(text: str) -> Fraction:
    # The kernel's grammar and exponent bound (Fraction("1e999999999") would never finish).
    return parse_rational(text, "number")


def parse_json_text(text: str, where: str) -> object:
    """Parse JSON as the kernel does: every number literal read exactly (0.1 is 1/10) with the
    kernel's number grammar, NaN and Infinity refused, and a repeated key in any object an
    error (kernel.json_object), so the package and the kernel never read one text as two
    different documents."""
    try:
        return json.loads(text, parse_float=_exact_decimal, parse_constant=_refuse_constant,
                          object_pairs_hook=json_object)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    except ValueError as exc:  # JSONDecodeError, a duplicate key, an integer too long to convert
        raise InputError(f"{where}: malformed JSON: {exc}") from None
    except RecursionError:  # brackets nested deeper than Python's recursion limit
        raise InputError(f"{where}: malformed JSON: brackets nested too deeply") from None


def read_json_network(path: str | Path) -> tuple[Network, dict]:
    """The network in a JSON file and its other top-level keys (e.g. "verified")."""
    where = str(path)
    text = read_text(path)
    doc = parse_json_text(text, where)
    net = network_from_document(doc, where)
    if not isinstance(doc, dict):  # unreachable: network_from_document accepted it
        return net, {}
    return net, {k: v for k, v in doc.items() if k not in _NETWORK_KEYS}


def _scalar_text(value: object) -> str:
    # Strings and integers are most scalars of a large network (its weights as "p/q"):
    # the encoder's own string routine, not a whole json.dumps per number.
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, Fraction):
        return _fraction_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


def _fraction_text(value: Fraction) -> str:
    """A JSON number literal when the fraction is a terminating decimal (as every number read
    from a JSON literal is), otherwise the string "p/q"; either reads back exactly."""
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return json.dumps(str(value))
    if value.denominator == 1:
        return str(value.numerator)
    places = max(twos, fives)
    digits = str(abs(value.numerator) * 10**places // value.denominator).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


_SCALARS = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_LONG = 100


def _dumps(value: object, indent: int = 0) -> str:
    """Indented JSON with each list of scalars (a weight row, a bias) on one line, and each
    item of a long list (a certificate's tree nodes) on one line too."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_dumps(v, indent + 2)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return _one_line(value) or "[" + ", ".join(_scalar_text(v) for v in value) + "]"
        items = [inner + ((_one_line(v) if len(value) > _LONG else None)
                          or _dumps(v, indent + 2)) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return _scalar_text(value)


def _one_line(value: object) -> str | None:
    """``value`` on one line by the C encoder; None where a Fraction needs our own text."""
    try:
        return _SCALARS.encode(value)
    except TypeError:
        return None


def write_json_atomically(doc: object, path: str | Path) -> None:
    """Write ``doc`` to ``path`` through a temporary file in the same directory, so a reader
    never sees a half-written file."""
    target = Path(path)
    text = _dumps(doc) + "\n"
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"{target}: cannot write: {exc}") from None
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise InputError(f"{target}: cannot write: {exc}") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save_network(net: Network, path: str | Path, extra: dict | None = None) -> None:
    """Write ``net`` (and the top-level metadata ``extra``) as a JSON network file."""
    write_json_atomically(network_to_document(net, extra), path)
