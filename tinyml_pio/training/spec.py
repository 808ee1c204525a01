"""Update schemes: which weights and biases a training step changes (`--update`).

`last` (the classifier), `bias` (every bias, TinyTL), `last:K` (weights and biases of the last K
conv/FC layers), `full`, any of them joined by `+`, or a TOML file as in MCUNetV3's sparse update:

    bias_last = 6          # biases of the last 6 conv/FC layers
    [[weights]]
    op = 27                # operator index as `inspect` prints it
    channels = 0.25        # fraction of its input channels whose weights update
    rounding = "nearest"   # optional: write-back rule (see ROUNDINGS)
    qas = true             # optional: quantization-aware scaling
    momentum = 0.9         # optional: SGD momentum (its velocities are optimizer state in RAM)

`auto:BYTES` is resolved by `training.auto` against a memory budget.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TinymlError
from ..ir import Graph, Op

TRAINABLE_TYPES = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
ROUNDINGS = ("trunc", "nearest", "stochastic", "master")
DEFAULT_ROUNDING = "stochastic"


@dataclass
class LayerUpdate:
    """What one conv/FC layer updates: a fraction of its input channels' weights, and its bias."""

    op: int
    channels: float = 0.0  # 0: weights frozen; 1: all weights
    bias: bool = False

    def merge(self, other: "LayerUpdate") -> "LayerUpdate":
        return LayerUpdate(self.op, max(self.channels, other.channels), self.bias or other.bias)


@dataclass
class UpdateSpec:
    text: str
    layers: dict[int, LayerUpdate] = field(default_factory=dict)
    rounding: str = DEFAULT_ROUNDING
    qas: bool = True
    momentum: float = 0.0  # SGD momentum; 0: plain SGD (no velocity state)

    def add(self, u: LayerUpdate) -> None:
        self.layers[u.op] = self.layers[u.op].merge(u) if u.op in self.layers else u

    @property
    def ops(self) -> list[int]:
        return sorted(op for op, u in self.layers.items() if u.channels > 0 or u.bias)


def trainable_ops(g: Graph) -> list[Op]:
    """Conv/depthwise/FC operators with constant int8 weights, in model order."""
    res = []
    for op in g.ops:
        if op.type in TRAINABLE_TYPES and len(op.inputs) > 1 and 0 <= op.inputs[1] < len(g.tensors):
            w = g.t(op.inputs[1])
            if w.is_const and w.dtype == "int8":
                res.append(op)
    return res


def has_bias(g: Graph, op: Op) -> bool:
    return op.type == "FULLY_CONNECTED" or (len(op.inputs) > 2 and op.inputs[2] >= 0)


def _fail(text: str, why: str, hint: str) -> TinymlError:
    return TinymlError(f"update scheme '{text}': {why}", path=None, hint=hint)


_HINT = ("use last, bias, bias+last, last:K, full, auto:BYTES or a TOML file (bias_last = N, "
         "[[weights]] op = I, channels = F).")


def parse_update(text: str, g: Graph, candidates: list[Op] | None = None) -> UpdateSpec:
    """The scheme named by `text` on graph `g` (`candidates`: the conv/FC ops gradients can reach,
    last ones last; defaults to all of them)."""
    ops = candidates if candidates is not None else trainable_ops(g)
    if not ops:
        raise TinymlError("the model has no CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED layer with int8 weights "
                          "to train.", path=g.path, hint="training needs at least one such layer.")
    spec = UpdateSpec(text=text)
    if text.endswith(".toml") or Path(text).is_file():
        _parse_toml(Path(text), g, ops, spec)
        return spec
    for part in filter(None, (p.strip() for p in text.split("+"))):
        name, _, arg = part.partition(":")
        if name == "last" and not arg:
            spec.add(LayerUpdate(ops[-1].index, 1.0, has_bias(g, ops[-1])))
        elif name == "last":
            k = _int(text, arg, "last:K")
            if not 1 <= k <= len(ops):
                raise _fail(text, f"last:{k} asks for {k} layers; the model has {len(ops)} trainable layers.",
                            f"use last:1 .. last:{len(ops)}.")
            for op in ops[-k:]:
                spec.add(LayerUpdate(op.index, 1.0, has_bias(g, op)))
        elif name == "bias" and not arg:
            for op in ops:
                if has_bias(g, op):
                    spec.add(LayerUpdate(op.index, 0.0, True))
        elif name == "full" and not arg:
            for op in ops:
                spec.add(LayerUpdate(op.index, 1.0, has_bias(g, op)))
        elif name == "auto":
            raise _fail(text, "auto:BYTES must stand alone.", "use --update auto:BYTES.")
        else:
            raise _fail(text, f"unknown part '{part}'.", _HINT)
    if not spec.layers:
        raise _fail(text, "it updates nothing.", _HINT)
    return spec


def _int(text: str, arg: str, what: str) -> int:
    try:
        return int(arg)
    except ValueError:
        raise _fail(text, f"{what} needs an integer, got '{arg}'.", _HINT) from None


def _parse_toml(path: Path, g: Graph, ops: list[Op], spec: UpdateSpec) -> None:
    text = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise _fail(text, "file not found.", _HINT) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise _fail(text, f"cannot read it: {e}", "fix the TOML syntax.") from None
    known = {"bias_last", "weights", "rounding", "qas", "momentum"}
    extra = sorted(set(data) - known)
    if extra:
        raise _fail(text, f"unknown key(s) {', '.join(extra)}.", f"known keys: {', '.join(sorted(known))}.")
    n = data.get("bias_last", 0)
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= len(ops):
        raise _fail(text, f"bias_last = {n!r} must be an integer from 0 to {len(ops)} (the trainable layers).", _HINT)
    for op in ops[len(ops) - n:] if n else []:
        if has_bias(g, op):
            spec.add(LayerUpdate(op.index, 0.0, True))
    entries = data.get("weights", [])
    if not isinstance(entries, list):
        raise _fail(text, "weights must be an array of tables ([[weights]]).", _HINT)
    by_index = {op.index: op for op in ops}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or set(e) - {"op", "channels", "bias"}:
            raise _fail(text, f"[[weights]] entry {i + 1} must have op, channels (and optional bias).", _HINT)
        op = e.get("op")
        if not isinstance(op, int) or isinstance(op, bool) or not 0 <= op < len(g.ops):
            raise _fail(text, f"[[weights]] entry {i + 1}: op = {op!r} is not an operator index of the model "
                        f"(0 .. {len(g.ops) - 1}).", "use the indices `tinyml-pio inspect` prints.")
        if op not in by_index:
            raise _fail(text, f"[[weights]] entry {i + 1}: operator #{op} ({g.ops[op].type}) has no trainable "
                        "weights on the path to the loss.",
                        "choose a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED operator before the loss.")
        ch = e.get("channels", 1.0)
        if not isinstance(ch, (int, float)) or isinstance(ch, bool) or not (0 < ch <= 1) or math.isnan(ch):
            raise _fail(text, f"[[weights]] entry {i + 1}: channels = {ch!r} must be a fraction in (0, 1].", _HINT)
        bias = e.get("bias", True)
        if not isinstance(bias, bool):
            raise _fail(text, f"[[weights]] entry {i + 1}: bias = {bias!r} must be true or false.", _HINT)
        spec.add(LayerUpdate(op, float(ch), bias and has_bias(g, by_index[op])))
    if "rounding" in data:
        spec.rounding = check_rounding(data["rounding"], text)
    if "momentum" in data:
        spec.momentum = check_momentum(data["momentum"], text)
    if "qas" in data:
        if not isinstance(data["qas"], bool):
            raise _fail(text, f"qas = {data['qas']!r} must be true or false.", _HINT)
        spec.qas = data["qas"]
    if not spec.layers:
        raise _fail(text, "it updates nothing.", _HINT)


def check_momentum(value: object, where: str = "--momentum") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise TinymlError(f"{where}: momentum {value!r} must be a number in [0, 1).", hint="e.g. 0.9, or 0 for plain SGD.")
    return float(value)


def check_rounding(value: object, where: str = "--rounding") -> str:
    if value not in ROUNDINGS:
        raise TinymlError(f"{where}: rounding {value!r} is not one of {', '.join(ROUNDINGS)}.",
                          hint=f"use one of {', '.join(ROUNDINGS)}.")
    return str(value)
