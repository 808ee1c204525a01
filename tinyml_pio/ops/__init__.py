"""Operator lowering: one module per op family turns an IR `Op` into a kernel call (`Layer`).

A lowering validates the options it meets, computes every constant the kernel needs (multipliers,
shifts, folded biases, lookup tables) and reports MACs and scratch bytes. Adding an operator means
one module here, one kernel file in library/src/kernels/, one zoo model.

Register with::

    @register("FULLY_CONNECTED")
    def lower(g: Graph, op: Op) -> Layer: ...

Raise `Unsupported("why")` for a variant we cannot run bit-exactly; `lower_graph` collects every
such problem in the model and reports them together.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import numpy as np

from ..errors import TinymlError, Unsupported  # noqa: F401 (Unsupported: in errors.py so quant.py raises it too)
from .alternatives import alternative
from ..ir import Graph, Op, Tensor


@dataclass(frozen=True)
class TensorArg:
    """A pointer to graph tensor `tensor` (arena or flash); `const` for read-only inputs; `offset`
    elements past its start (a patch's window inside a full tensor, passes/patch.py)."""

    tensor: int
    const: bool = True
    offset: int = 0


@dataclass(frozen=True)
class TensorListArg:
    """A C array of pointers to several graph tensors (e.g. CONCATENATION's inputs, read-only; SPLIT's
    outputs, `const=False`)."""

    tensors: tuple[int, ...]
    const: bool = True


@dataclass(frozen=True)
class ConstArg:
    """A pointer to a layer-local constant array `name` (see Layer.consts), optionally cast to the
    struct type the kernel reads it as (e.g. "const tinyml_chanq_t *" over an int32 array)."""

    name: str
    cast: str = ""


@dataclass(frozen=True)
class ScratchArg:
    """A pointer to this layer's scratch buffer (Layer.scratch_bytes, planned in the arena), `offset`
    bytes in (a patch stage keeps its patch buffers there, passes/patch.py)."""

    ctype: str = "int8_t"
    offset: int = 0
    const: bool = False


Arg = TensorArg | TensorListArg | ConstArg | ScratchArg | str


@dataclass
class Layer:
    """One kernel call in the generated code."""

    op: Op
    func: str | None  # C function; None for pure aliases (RESHAPE, SQUEEZE)
    header: str | None = None  # e.g. "tinyml/fully_connected.h"
    params_type: str | None = None  # C struct type, passed as the first argument
    params: dict[str, Any] = field(default_factory=dict)
    args: list[Arg] = field(default_factory=list)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    scratch_bytes: int = 0
    macs: int = 0
    alias: tuple[int, int] | None = None  # (input tensor, output tensor) sharing memory
    inplace: tuple[int, int] | None = None  # (input, output) the kernel may share if input dies here
    # In-place contract details (tinyml_pio/planner/lifetimes.py): extra scratch the kernel needs only
    # when it runs in place (planned only then), and whether the output may be *larger* than the input.
    inplace_scratch_bytes: int = 0
    inplace_grow: bool = False
    # The kernel call used instead of (func, args) when the planner runs this layer in place; None:
    # the same call (kernels such as the LUT that are in-place safe as they are).
    inplace_func: str | None = None
    inplace_args: list[Arg] | None = None
    comment: str = ""
    # A patch stage (passes/patch.py): the kernel calls that replace this one, in order; each step's
    # ScratchArgs point into this layer's scratch, and its params struct is its own.
    steps: list["Layer"] = field(default_factory=list)
    returns_status: bool = False  # a user kernel (custom_ops.py): a non-zero return stops invoke with it

    def call(self, in_place: bool) -> tuple[str | None, list[Arg]]:
        """(function, arguments) of the kernel call, in place or not."""
        if in_place and self.inplace_func is not None:
            return self.inplace_func, list(self.args if self.inplace_args is None else self.inplace_args)
        return self.func, list(self.args)


Lowering = Callable[[Graph, Op], Layer]
F = TypeVar("F", bound=Callable[..., Any])


def registrar(table: dict[str, F]) -> Callable[..., Callable[[F], F]]:
    """A decorator factory filling `table`: @reg("A", "B") maps both op types to the function."""
    def reg(*op_types: str) -> Callable[[F], F]:
        def deco(fn: F) -> F:
            for t in op_types:
                table[t] = fn
            return fn

        return deco

    return reg


_REGISTRY: dict[str, Lowering] = {}
# lowerings for another output dtype (float32: ops/float_ops.py, int16: ops/int16.py), chosen over
# _REGISTRY when the op's first output has that dtype
_BY_DTYPE: dict[str, dict[str, Lowering]] = {"float32": {}, "int16": {}}
register = registrar(_REGISTRY)
register_float = registrar(_BY_DTYPE["float32"])
register_int16 = registrar(_BY_DTYPE["int16"])


def lowering_for(g: Graph, op: Op) -> Lowering | None:
    """The lowering of `op`: its version for the dtype of its first output when there is one."""
    if op.outputs and op.outputs[0] >= 0:
        special = _BY_DTYPE.get(g.t(op.outputs[0]).dtype, {}).get(op.type)
        if special is not None:
            return special
    return _REGISTRY.get(op.type)


_LOADED: list[bool] = []  # once: validation asks for every operator of a model


def _load_all() -> None:
    if _LOADED:
        return
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    _LOADED.append(True)


def supported_ops() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def try_lower(g: Graph, custom: dict[str, Any] | None = None) -> tuple[list[Layer | None], list[str]]:
    """Lower every operator; returns one entry per op (None where it failed) and the problems found.
    `custom` (custom_ops.parse_custom_ops) names user kernels, which take precedence."""
    from ..custom_ops import custom_for, lower_custom

    _load_all()
    layers: list[Layer | None] = []
    problems: list[str] = []
    for op in g.ops:
        if op.index in g.folded:  # its outputs are constants now (passes/fold.py): no kernel
            layers.append(None)
            continue
        fn = lowering_for(g, op)
        layer = None
        user = custom_for(custom, op)
        if user is not None:
            layer = lower_custom(g, op, user)
        elif fn is None:
            if op.type.startswith("CUSTOM:"):
                problems.append(f"{op.describe()}: custom operator '{op.type[7:]}' has no built-in implementation "
                                f"(supply one: --custom-op {op.type[7:]}=c_function[:scratch_bytes])")
            else:
                problems.append(f"{op.describe()}: operator type {op.type} is not supported{alternative(op.type)}")
        else:
            try:
                # float32 scale arithmetic mirrors TFLite's and may overflow on extreme scales: the
                # inf/nan it gives is refused by quant.quantize_multiplier or check_constants
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    layer = fn(g, op)
                check_constants(layer)
            except Unsupported as e:
                problems.append(f"{op.describe()}: {e}")
        layers.append(layer)
    return layers, problems


def lower_graph(g: Graph, custom: dict[str, Any] | None = None) -> list[Layer]:
    """Lower every operator, or raise one TinymlError listing every problem in the model."""
    layers, problems = try_lower(g, custom)
    if problems:
        float_ops = [p for p in problems if "float" in p]
        hint = (
            "convert with full integer quantization (converter.optimizations = [tf.lite.Optimize.DEFAULT], "
            "a representative_dataset, and target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8])"
            if float_ops
            else "replace these operators in the model, or open an issue naming them; supported: "
            + ", ".join(supported_ops())
        )
        raise TinymlError(
            f"cannot compile {len(problems)} operator(s):\n  - " + "\n  - ".join(problems),
            path=g.path,
            hint=hint,
        )
    return [l for l in layers if l is not None]


# --------------------------------------------------------------------------------------------
# Helpers shared by the op modules.


def inp(g: Graph, op: Op, i: int) -> Tensor | None:
    """The op's i-th input tensor, or None when absent/optional (-1)."""
    if i >= len(op.inputs) or op.inputs[i] < 0:
        return None
    return g.t(op.inputs[i])


def out(g: Graph, op: Op, i: int = 0) -> Tensor:
    return g.t(op.outputs[i])  # the importer checked that every operator has an output


def require_input(g: Graph, op: Op, i: int, what: str = "input") -> Tensor:
    """The op's i-th input tensor, which the model must give (Unsupported if absent or omitted)."""
    t = inp(g, op, i)
    if t is None:
        raise Unsupported(f"{what} (input {i}) is missing; the operator has {len(op.inputs)} input(s)")
    return t


def require_same_shape(x: Tensor, y: Tensor) -> None:
    """An element-wise op's output has its input's shape (the kernel reads and writes x.size elements)."""
    if tuple(x.shape) != tuple(y.shape):
        raise Unsupported(f"output shape {list(y.shape)} differs from the input shape {list(x.shape)}")


_SHIFT_RANGE = (-31, 31)  # tinyml_requantize & co. shift an int32: larger amounts are undefined in C


def check_constants(layer: Layer) -> None:
    """Prove every constant the layer emits fits its C type: params are int32_t fields (or float),
    shifts stay within an int32's width, constant arrays hold what their C element type can."""
    def walk(name: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(k, x)
        elif isinstance(v, (list, tuple, np.ndarray)):
            for x in np.asarray(v, dtype=object).reshape(-1):
                walk(name, x)
        elif isinstance(v, (bool, np.bool_)):
            return
        elif isinstance(v, (int, np.integer)):
            lo, hi = _SHIFT_RANGE if "shift" in name else (-(1 << 31), (1 << 31) - 1)
            if not lo <= int(v) <= hi:
                raise Unsupported(f"constant {name} = {int(v)} does not fit the kernel's range [{lo}, {hi}] "
                                  "(extreme quantization scales or shapes)")
        elif isinstance(v, (float, np.floating)):
            if not np.isfinite(np.float32(v)):
                raise Unsupported(f"constant {name} = {float(v)} is not a finite float32")

    walk("params", layer.params)
    for name, arr in layer.consts.items():
        if "shift" in name:
            walk(name, arr)
        elif arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise Unsupported(f"constant array {name} holds values that are not finite")


def require_dtype(t: Tensor, *dtypes: str, what: str = "tensor") -> None:
    if t.dtype not in dtypes:
        kind = "float (not quantized)" if t.dtype == "float32" else t.dtype
        raise Unsupported(
            f"{what} '{t.name}' is {kind}; expected {' or '.join(dtypes)}"
        )


def require_int8_io(x: Tensor, y: Tensor) -> None:
    """The input x and the output y are both int8 (checked in that order)."""
    require_dtype(x, "int8", what="input")
    require_dtype(y, "int8", what="output")


def int8_io(g: Graph, op: Op) -> tuple[Tensor, Tensor]:
    """The op's first input and its output, both required to be int8."""
    x, y = require_input(g, op, 0), out(g, op)
    require_int8_io(x, y)
    return x, y


def require_quant(t: Tensor, what: str = "tensor") -> tuple[float, int]:
    """Per-tensor (scale, zero_point) of an int8 activation, or Unsupported."""
    if t.quant is None:
        raise Unsupported(f"{what} '{t.name}' has no quantization parameters")
    if t.quant.per_channel and t.quant.scale.size > 1:
        raise Unsupported(f"{what} '{t.name}' is per-channel quantized; activations must be per-tensor")
    return t.quant.s, t.quant.zp


def require_nonconst(t: Tensor, what: str) -> None:
    if t.is_const:
        raise Unsupported(f"{what} '{t.name}' is a constant; constant-folding is not implemented, fold it in the converter")


def require_const(t: Tensor | None, what: str) -> Tensor:
    if t is None or not t.is_const:
        raise Unsupported(f"{what} must be a constant tensor")
    return t


def activation(op: Op) -> str:
    act = op.options.get("fused_activation_function", "NONE")
    if act not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise Unsupported(f"fused activation {act} is not supported with int8")
    return act


def shape4(shape: tuple[int, ...]) -> list[int]:
    """Left-pad a shape to 4 dims (TFLite's RuntimeShape::ExtendedShape)."""
    if len(shape) > 4:
        raise Unsupported(f"tensors of rank {len(shape)} (> 4) are not supported")
    return [1] * (4 - len(shape)) + list(shape)


def lut_layer(g: Graph, op: Op, table: np.ndarray, comment: str = "") -> Layer:
    """A unary int8 op as a 256-entry table: table[i] = f(i - 128), computed with TFLite's exact integer math."""
    assert table.shape == (256,)
    x, y = int8_io(g, op)
    require_same_shape(x, y)
    return Layer(
        op=op,
        func="tinyml_lut_s8",
        header="tinyml/lut.h",
        args=[ConstArg("table"), TensorArg(x.index), TensorArg(y.index, const=False), str(x.size)],
        consts={"table": _as_int8_table(table)},
        inplace=(x.index, y.index),
        comment=comment,
    )


def _as_int8_table(table: np.ndarray) -> np.ndarray:
    t = np.asarray(table, np.int64)
    if t.min() < -128 or t.max() > 127:
        raise ValueError("LUT values outside int8: the table computation is wrong")
    return t.astype(np.int8)
