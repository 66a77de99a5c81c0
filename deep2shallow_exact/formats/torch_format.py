"""PyTorch files written by ``torch.save``.

Accepted contents:

- a whole ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU`` modules. Consecutive Linear modules
  compose exactly into one layer; a final ReLU adds an identity output layer. The file is
  unpickled with ``weights_only=True`` and only those three module classes allowed, so loading
  it cannot run code from the file; any other module class is refused by name.
- a ``state_dict``, only together with the architecture the user states (``architecture``,
  ``--architecture`` on the command line). A state_dict holds parameters and no activations:
  ``Sequential(Linear, ReLU, Linear)``, ``Sequential(Linear, Tanh, Linear)`` and
  ``Sequential(Linear, ReLU, Linear, ReLU)`` have the same keys, and so do the DLGN reference
  code's ``DLGN_FC_Network`` (linear gating) and ``DGN_FC_Network`` (ReLU gating). So the reader
  never guesses: without an architecture it refuses the file and says how to save the model
  (the whole module, or an ONNX export). An architecture is one of

  - the Sequential's modules in order, comma-separated: ``linear`` and ``relu``
    (``"linear,relu,linear"``). The state_dict's keys "K.weight" / "K.bias" (an optional
    common prefix such as "net." is allowed; a missing bias is zero) must sit exactly at the
    positions K of the ``linear`` entries; the network is then built as for a whole module.
  - ``dlgn`` or ``dgn``: the reference code's ``DLGN_FC_Network`` or ``DGN_FC_Network``, keys
    gating_network.list_of_modules.K.weight/bias, value_network.list_of_modules.K.weight/bias
    and value_network.output_layer.weight/bias. It is read as a GatedNetwork of that kind with
    value_input "ones", because the reference code feeds the value network the all-ones vector
    (its gates are sigmoid(β q); here they are hard, the β → ∞ limit). With ``dgn`` the gating
    layers are followed by ReLU, with ``dlgn`` they are not.

  A whole Sequential needs no architecture; one given is checked against its modules.

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
_MODULES = ("linear", "relu")
_GATED = ("dlgn", "dgn")
_HOW_TO_SAVE = ("save the whole module (torch.save(model, PATH)) or export it to ONNX "
                "(torch.onnx.export), or state the architecture: --architecture "
                "linear,relu,linear (the Sequential's modules in order), or --architecture "
                "dlgn / dgn for the DLGN reference code's DLGN_FC_Network / DGN_FC_Network")


def parse_architecture(text: str) -> tuple[str, ...]:
    """A stated architecture: ("dlgn",), ("dgn",), or a Sequential's modules in order."""
    names = tuple(part.strip().lower() for part in text.split(","))
    if len(names) == 1 and names[0] in _GATED:
        return names
    unknown = [name for name in names if name not in _MODULES]
    if unknown:
        raise InputError(f"architecture {text!r}: {unknown[0]!r} is not a module this tool "
                         "reads; give linear and relu, comma-separated (e.g. "
                         "linear,relu,linear), or dlgn or dgn")
    if "linear" not in names:
        raise InputError(f"architecture {text!r}: has no linear module")
    return names


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
                             "ReLU, or a state_dict with its architecture, can be read") from None
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


def _from_sequential(torch: Any, model: Any, where: str,
                     architecture: tuple[str, ...] | None) -> ReluNetwork:
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise InputError(f"{where}: the Sequential has no Linear module")
    if architecture is not None:
        found = tuple(type(m).__name__.lower() for m in model)
        if found != architecture:
            raise InputError(f"{where}: holds a whole Sequential {','.join(found)}, not the "
                             f"stated architecture {','.join(architecture)}")
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


def _from_dlgn_state(torch: Any, state: Mapping[str, object], where: str,
                     kind: str) -> GatedNetwork:
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
        return GatedNetwork(kind, hidden["gating"], (*hidden["value"], output), "ones")


def _from_sequential_state(torch: Any, state: Mapping[str, object], where: str,
                           architecture: tuple[str, ...]) -> ReluNetwork:
    prefixes, indices = set(), set()
    for key in state:
        match = _INDEXED_KEY.fullmatch(key)
        if match is None:
            raise InputError(f"{where}: unexpected key {key!r}; expected a Sequential's "
                             "state_dict (0.weight, 0.bias, 2.weight, ...)")
        prefixes.add(match["prefix"] or "")
        indices.add(int(match["index"]))
    if len(prefixes) > 1:
        raise InputError(f"{where}: keys under several prefixes {sorted(prefixes)}; expected "
                         "the parameters of one Sequential")
    (prefix,) = prefixes
    base = f"{prefix}." if prefix else ""
    stated = [k for k, name in enumerate(architecture) if name == "linear"]
    if sorted(indices) != stated:
        raise InputError(f"{where}: the state_dict has Linear parameters at module positions "
                         f"{', '.join(map(str, sorted(indices)))}; the stated architecture "
                         f"{','.join(architecture)} has Linear modules at "
                         f"{', '.join(map(str, stated))}")
    layers = {k: _linear(torch, state, f"{base}{k}.", where) for k in stated}
    chain = LayerChain(layers[stated[0]].in_dim)
    for k, name in enumerate(architecture):
        if name == "relu":
            chain.relu()
        else:
            chain.affine(layers[k].weights, layers[k].bias, f"{where}: module {k} (Linear)")
    with located(where):
        return ReluNetwork(chain.finish())


def load_torch(path: str | Path, architecture: str | None = None) -> Network:
    """The network in a PyTorch file; ``architecture`` states a state_dict's (module docstring)."""
    where = str(path)
    with located(where):
        stated = None if architecture is None else parse_architecture(architecture)
    torch = import_extra("torch", "torch", "PyTorch", where)
    obj = _load(torch, path, where)
    if isinstance(obj, torch.nn.Sequential):
        if stated in (("dlgn",), ("dgn",)):
            raise InputError(f"{where}: holds a whole Sequential, not the DLGN reference "
                             f"code's state_dict that architecture {stated[0]} reads")
        return _from_sequential(torch, obj, where, stated)
    if isinstance(obj, Mapping):
        if not obj:
            raise InputError(f"{where}: the state_dict is empty")
        if not all(isinstance(k, str) for k in obj):
            raise InputError(f"{where}: state_dict keys must be strings")
        if stated is None:
            raise InputError(f"{where}: a state_dict holds no activations, so the network "
                             f"cannot be read from it without guessing; {_HOW_TO_SAVE}")
        gated_keys = any(str(k).startswith(("gating_network.", "value_network.")) for k in obj)
        if stated in (("dlgn",), ("dgn",)):
            if not gated_keys:
                raise InputError(f"{where}: architecture {stated[0]} reads the DLGN reference "
                                 "code's keys (gating_network.list_of_modules.0.weight, ...), "
                                 "which this state_dict does not have")
            return _from_dlgn_state(torch, obj, where, stated[0])
        if gated_keys:
            raise InputError(f"{where}: holds the DLGN reference code's keys; state the "
                             "architecture dlgn or dgn")
        return _from_sequential_state(torch, obj, where, stated)
    raise InputError(f"{where}: holds a {type(obj).__name__}; expected an nn.Sequential of "
                     "Linear and ReLU modules or a state_dict")
