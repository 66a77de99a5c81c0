"""PyTorch files written by ``torch.save``.

Accepted contents:

- a whole ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU`` modules. Consecutive Linear modules
  compose exactly into one layer; a final ReLU adds an identity output layer. The file is
  unpickled with ``weights_only=True`` and only those three module classes allowed, so loading
  it cannot run code from the file; any other module class is refused by name.
- the ``state_dict`` of such a Sequential: keys "0.weight", "0.bias", "2.weight", ... (an
  optional common prefix such as "net." is allowed), read as consecutive Linear layers with a
  ReLU between each two. A missing bias is zero.
- the ``state_dict`` of the DLGN reference code (``DLGN_FC_Network``): keys
  gating_network.list_of_modules.K.weight/bias, value_network.list_of_modules.K.weight/bias and
  value_network.output_layer.weight/bias. It is read as a GatedNetwork of kind "dlgn" with
  value_input "ones", because the reference code feeds the value network the all-ones vector
  (its gates are sigmoid(β q); here they are hard, the β → ∞ limit).

Every float is the exact rational value of the binary float.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import InputError
from ..network import GatedNetwork, Layer, Network, ReluNetwork
from ._shared import LayerChain, exact_flat, exact_layer, import_extra, located

_INDEXED_KEY = re.compile(r"(?:(?P<prefix>.*)\.)?(?P<index>\d+)\.(?P<param>weight|bias)")
_DLGN_HIDDEN = re.compile(
    r"(?P<net>gating|value)_network\.list_of_modules\.(?P<index>\d+)\.(?P<param>weight|bias)")
_DLGN_OUTPUT = "value_network.output_layer."


def _load(torch: Any, path: str | Path, where: str) -> object:
    allowed = [torch.nn.Sequential, torch.nn.Linear, torch.nn.ReLU]
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    if safe_globals is None:
        raise InputError(f"{where}: reading PyTorch files needs torch >= 2.5 "
                         f"(found {torch.__version__})")
    try:
        with safe_globals(allowed):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{where}: no such file") from None
    except pickle.UnpicklingError as exc:
        # The safe unpickler met a class outside the allow-list: name it for the user.
        allowed_names = {f"{c.__module__}.{c.__qualname__}" for c in allowed}
        try:
            found = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        except Exception:  # the file is not even a readable checkpoint
            found = []
        refused = sorted(set(found) - allowed_names)
        if refused:
            raise InputError(f"{where}: unsupported module or object type(s) "
                             f"{', '.join(refused)}; only an nn.Sequential of Linear and "
                             "ReLU, or a state_dict, can be read") from None
        raise InputError(f"{where}: not a readable PyTorch file: "
                         f"{str(exc).splitlines()[0]}") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, ... for damaged files
        raise InputError(f"{where}: not a readable PyTorch file: {exc}") from None


def _array(torch: Any, tensor: object, label: str) -> np.ndarray:
    if not isinstance(tensor, torch.Tensor):
        raise InputError(f"{label}: expected a tensor, found {type(tensor).__name__}")
    tensor = tensor.detach().cpu()
    if tensor.is_complex():
        raise InputError(f"{label}: complex tensors are not supported")
    # Every float format torch has widens to float64 exactly; integers stay as they are.
    return (tensor.double() if tensor.is_floating_point() else tensor).numpy()


def _from_sequential(torch: Any, model: Any, where: str) -> ReluNetwork:
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise InputError(f"{where}: the Sequential has no Linear module")
    chain = LayerChain(linears[0].in_features)
    for name, module in model.named_children():
        what = f"{where}: module {name!r}"
        if isinstance(module, torch.nn.Linear):
            weights = _array(torch, module.weight, f"{what}.weight")
            if weights.ndim != 2:
                raise InputError(f"{what}.weight: has shape {weights.shape}, expected (out, in)")
            cols = weights.shape[1]
            flat = cast(list[Fraction], exact_flat(weights, f"{what}.weight"))
            rows = [flat[r * cols:(r + 1) * cols] for r in range(weights.shape[0])]
            bias = ([Fraction(0)] * len(rows) if module.bias is None else cast(
                list[Fraction], exact_flat(_array(torch, module.bias, f"{what}.bias"),
                                           f"{what}.bias")))
            chain.affine(rows, bias, f"{what} (Linear)")
        elif isinstance(module, torch.nn.ReLU):
            chain.relu()
        else:
            raise InputError(f"{what}: unsupported module type {type(module).__name__}; "
                             "only Linear and ReLU are supported")
    with located(where):
        return ReluNetwork(chain.finish())


def _linear(torch: Any, state: Mapping[str, object], prefix: str, where: str) -> Layer:
    """The layer of the parameters "<prefix>weight" and "<prefix>bias" (zero if missing)."""
    if f"{prefix}weight" not in state:
        raise InputError(f"{where}: key {prefix}bias has no matching {prefix}weight")
    bias = state.get(f"{prefix}bias")
    return exact_layer(_array(torch, state[f"{prefix}weight"], f"{where}: {prefix}weight"),
                       None if bias is None else _array(torch, bias, f"{where}: {prefix}bias"),
                       f"{where}: {prefix}weight", f"{where}: {prefix}bias")


def _from_dlgn_state(torch: Any, state: Mapping[str, object], where: str) -> GatedNetwork:
    indices: dict[str, set[int]] = {"gating": set(), "value": set()}
    for key in state:
        match = _DLGN_HIDDEN.fullmatch(key)
        if match:
            indices[match["net"]].add(int(match["index"]))
        elif key not in (f"{_DLGN_OUTPUT}weight", f"{_DLGN_OUTPUT}bias"):
            raise InputError(f"{where}: unexpected key {key!r} in a DLGN state_dict")
    hidden = {}
    for net, found in indices.items():
        if sorted(found) != list(range(len(found))):
            raise InputError(f"{where}: {net}_network.list_of_modules has layers "
                             f"{sorted(found)}, expected 0, 1, 2, ...")
        hidden[net] = tuple(_linear(torch, state, f"{net}_network.list_of_modules.{k}.", where)
                            for k in range(len(found)))
    output = _linear(torch, state, _DLGN_OUTPUT, where)
    with located(where):
        return GatedNetwork("dlgn", hidden["gating"], (*hidden["value"], output), "ones")


def _from_sequential_state(torch: Any, state: Mapping[str, object], where: str) -> ReluNetwork:
    prefixes, indices = set(), set()
    for key in state:
        match = _INDEXED_KEY.fullmatch(key)
        if match is None:
            raise InputError(f"{where}: unexpected key {key!r}; expected a Sequential's "
                             "state_dict (0.weight, 0.bias, 2.weight, ...) or a DLGN one")
        prefixes.add(match["prefix"] or "")
        indices.add(int(match["index"]))
    if len(prefixes) > 1:
        raise InputError(f"{where}: keys under several prefixes {sorted(prefixes)}; expected "
                         "the parameters of one Sequential")
    (prefix,) = prefixes
    base = f"{prefix}." if prefix else ""
    # The Sequential's ReLUs have no parameters, so the Linear indices skip them (0, 2, 4, ...).
    layers = tuple(_linear(torch, state, f"{base}{k}.", where) for k in sorted(indices))
    with located(where):
        return ReluNetwork(layers)


def load_torch(path: str | Path) -> Network:
    where = str(path)
    torch = import_extra("torch", "torch", "PyTorch", where)
    obj = _load(torch, path, where)
    if isinstance(obj, torch.nn.Sequential):
        return _from_sequential(torch, obj, where)
    if isinstance(obj, Mapping):
        if not obj:
            raise InputError(f"{where}: the state_dict is empty")
        if not all(isinstance(k, str) for k in obj):
            raise InputError(f"{where}: state_dict keys must be strings")
        if any(str(k).startswith(("gating_network.", "value_network.")) for k in obj):
            return _from_dlgn_state(torch, obj, where)
        return _from_sequential_state(torch, obj, where)
    raise InputError(f"{where}: holds a {type(obj).__name__}; expected an nn.Sequential of "
                     "Linear and ReLU modules or a state_dict")
