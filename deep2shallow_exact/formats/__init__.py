"""Reading and writing networks, and reading VNN-LIB input boxes.

Networks load by file extension: .json (the network document of DESIGN section 8), .npz,
.nnet, .onnx and .pt/.pth. Every number is exact: decimals in text files are the decimals they
spell, and binary floats from NumPy, ONNX or PyTorch are the rationals they denote exactly.
Every problem with a file raises :class:`~deep2shallow_exact.errors.InputError` naming it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import InputError
from ..network import Network
from .json_format import (
    NETWORK_FORMAT,
    network_from_document,
    network_to_document,
    parse_json_text,
    read_json_network,
    save_network,
    write_json_atomically,
)
from .vnnlib import OutputConstraint, VnnlibProperty, load_vnnlib_box, load_vnnlib_property

__all__ = [
    "NETWORK_FORMAT",
    "TORCH_SUFFIXES",
    "load_network",
    "load_vnnlib_box",
    "load_vnnlib_property",
    "OutputConstraint",
    "VnnlibProperty",
    "network_from_document",
    "network_to_document",
    "parse_json_text",
    "read_network_file",
    "save_network",
    "write_json_atomically",
]

# Imported when a file of the type is read: they load NumPy, which most runs never need.
_READERS: dict[str, tuple[str, str]] = {
    ".npz": ("npz_format", "load_npz"), ".nnet": ("nnet_format", "load_nnet"),
    ".onnx": ("onnx_format", "load_onnx"), ".pt": ("torch_format", "load_torch"),
    ".pth": ("torch_format", "load_torch"),
}


TORCH_SUFFIXES = (".pt", ".pth")


def read_network_file(path: str | Path, architecture: str | None = None
                      ) -> tuple[Network, dict]:
    """The network in ``path`` and, for a JSON file, its other top-level keys ({} otherwise).

    ``architecture`` is the one a PyTorch state_dict needs (see
    :mod:`~deep2shallow_exact.formats.torch_format`); no other file takes one."""
    where = str(path)
    suffix = Path(path).suffix.lower()
    if suffix != ".json" and suffix not in _READERS:
        raise InputError(f"{where}: unknown network file type {suffix or '(no extension)'!r}; "
                         "expected .json, .npz, .nnet, .onnx, .pt or .pth")
    if architecture is not None and suffix not in TORCH_SUFFIXES:
        raise InputError(f"{where}: an architecture is stated only for a PyTorch state_dict "
                         f"(.pt, .pth); a {suffix} file has its own")
    if not Path(path).exists():
        raise InputError(f"{where}: no such file")
    if Path(path).is_dir():
        raise InputError(f"{where}: is a directory, not a network file")
    if suffix == ".json":
        return read_json_network(path)
    module, name = _READERS[suffix]
    reader = getattr(importlib.import_module(f".{module}", __name__), name)
    if suffix in TORCH_SUFFIXES:
        return reader(path, architecture), {}
    return reader(path), {}


def load_network(path: str | Path, architecture: str | None = None) -> Network:
    """The network in ``path``; ``architecture`` only for a PyTorch state_dict."""
    return read_network_file(path, architecture)[0]
