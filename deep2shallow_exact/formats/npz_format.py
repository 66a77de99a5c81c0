"""NumPy ``.npz`` networks.

A ReLU network is stored as arrays W0, b0, W1, b1, ...: W_k has shape (out, in) like
``torch.nn.Linear.weight`` and b_k shape (out,). A gated network adds a text array "kind"
("dgn" or "dlgn"), gating arrays U0, c0, U1, c1, ..., value arrays W0, b0, ... (hidden layers,
then the output layer) and optionally "value_input" ("x" or "ones").

Every float is read as the exact rational value of the binary float (0.1 is
3602879701896397/36028797018963968). ±inf is accepted in ReLU networks, which are then
extended-real networks; NaN never is.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..network import GatedNetwork, Layer, Network, ReluNetwork
from ._shared import exact_layer, located

_EXPECTED = ("expected W0, b0, W1, b1, ... (and kind, U0, c0, ..., value_input for a gated "
             "network)")


def _text(arrays: dict[str, np.ndarray], key: str, default: str, where: str) -> str:
    array = arrays.pop(key, None)
    if array is None:
        return default
    if array.dtype.kind not in "US" or array.size != 1:
        raise InputError(f"{where}: {key}: expected a single string, found an array of "
                         f"shape {array.shape} and dtype {array.dtype}")
    value = array.item()
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _layers(arrays: dict[str, np.ndarray], weight: str, bias: str, where: str,
            allow_inf: bool) -> tuple[Layer, ...]:
    layers = []
    while f"{weight}{len(layers)}" in arrays:
        k = len(layers)
        if f"{bias}{k}" not in arrays:
            raise InputError(f"{where}: array {weight}{k} has no matching bias {bias}{k}")
        layers.append(exact_layer(arrays.pop(f"{weight}{k}"), arrays.pop(f"{bias}{k}"),
                                  f"{where}: {weight}{k}", f"{where}: {bias}{k}", allow_inf))
    if not layers:
        raise InputError(f"{where}: no array {weight}0; {_EXPECTED}")
    return tuple(layers)


def load_npz(path: str | Path) -> Network:
    where = str(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{where}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{where}: not a readable .npz file: {exc}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError(f"{where}: holds a single array, not an .npz archive of named arrays")
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                raise InputError(f"{where}: array {key!r} cannot be read: {exc}") from None
    kind = _text(arrays, "kind", "relu", where)
    net: Network
    if kind == "relu":
        layers = _layers(arrays, "W", "b", where, allow_inf=True)
        with located(where):
            net = ReluNetwork(layers)
    elif kind in ("dgn", "dlgn"):
        value_input = _text(arrays, "value_input", "x", where)
        gating = _layers(arrays, "U", "c", where, allow_inf=False)
        value = _layers(arrays, "W", "b", where, allow_inf=False)
        with located(where):
            net = GatedNetwork(kind, gating, value, value_input)
    else:
        raise InputError(f"{where}: kind: {kind!r} is not one of 'relu', 'dgn', 'dlgn'")
    if arrays:
        raise InputError(f"{where}: unexpected arrays {', '.join(sorted(arrays))}; {_EXPECTED}")
    return net
