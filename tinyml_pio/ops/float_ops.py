"""float32 operators for float tails and islands (PyTorch exports end in DEQUANTIZE -> LOG_SOFTMAX).

TFLite 2.14's reference float kernels (kReference) read line by line in
library/src/kernels/float_ops.c: SOFTMAX (beta), LOG_SOFTMAX, LOGISTIC (TFLite's cutoffs), TANH,
ADD / MUL (broadcasting, fused activation as CalculateActivationRange<float>), FULLY_CONNECTED
(weights [out, in], optional bias, keep_num_dims irrelevant to memory), MEAN over one contiguous
block of axes, CONCATENATION. Chosen over the int8 lowering when
the op's output is float32 (ops.register_float). RESHAPE/SQUEEZE are aliases for every dtype.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from . import (ConstArg, Layer, TensorArg, TensorListArg, Unsupported, inp, out, register_float, require_const,
               require_dtype)
from .elementwise import broadcast_plan

H = "tinyml/float_ops.h"
FLT_MAX = float(np.finfo(np.float32).max)
_ACT = {"NONE": (-FLT_MAX, FLT_MAX), "RELU": (0.0, FLT_MAX), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


def _float_io(g: Graph, op: Op) -> tuple[Tensor, Tensor]:
    x, y = inp(g, op, 0), out(g, op)
    if x is None:
        raise Unsupported("missing input")
    require_dtype(x, "float32", what="input")
    require_dtype(y, "float32", what="output")
    if x.is_const:
        raise Unsupported(f"input '{x.name}' is a constant")
    return x, y


def _act(op: Op) -> tuple[float, float]:
    a = op.options.get("fused_activation_function", "NONE")
    if a not in _ACT:
        raise Unsupported(f"fused activation {a} is not supported")
    return _ACT[a]


def _rows(x: Tensor) -> tuple[int, int]:
    if not x.shape:
        raise Unsupported("scalar input")
    return x.size // x.shape[-1], x.shape[-1]


@register_float("SOFTMAX")
def lower_softmax(g: Graph, op: Op) -> Layer:
    x, y = _float_io(g, op)
    outer, depth = _rows(x)
    beta = float(np.float32(op.options.get("beta", 1.0)))
    return Layer(op=op, func="tinyml_softmax_f32", header=H,
                 args=[str(outer), str(depth), f"{beta!r}f", TensorArg(x.index), TensorArg(y.index, const=False)],
                 comment=f"beta {beta:g}")


@register_float("LOG_SOFTMAX")
def lower_log_softmax(g: Graph, op: Op) -> Layer:
    x, y = _float_io(g, op)
    outer, depth = _rows(x)
    return Layer(op=op, func="tinyml_log_softmax_f32", header=H,
                 args=[str(outer), str(depth), TensorArg(x.index), TensorArg(y.index, const=False)])


@register_float("LOGISTIC", "TANH")
def lower_unary(g: Graph, op: Op) -> Layer:
    x, y = _float_io(g, op)
    func = "tinyml_logistic_f32" if op.type == "LOGISTIC" else "tinyml_tanh_f32"
    return Layer(op=op, func=func, header=H, args=[TensorArg(x.index), TensorArg(y.index, const=False), str(x.size)],
                 inplace=(x.index, y.index))


@register_float("ADD", "MUL")
def lower_binary(g: Graph, op: Op) -> Layer:
    x1, x2, y = inp(g, op, 0), inp(g, op, 1), out(g, op)
    if x1 is None or x2 is None:
        raise Unsupported("expected two inputs")
    for t, w in ((x1, "input 1"), (x2, "input 2"), (y, "output")):
        require_dtype(t, "float32", what=w)
    if x1.is_const and x2.is_const:
        raise Unsupported("both inputs are constants")
    lo, hi = _act(op)
    func = "tinyml_add_f32" if op.type == "ADD" else "tinyml_mul_f32"
    return Layer(op=op, func=func, header=H, params_type="tinyml_binary_f32_params_t",
                 params=dict(bc=broadcast_plan(x1.shape, x2.shape, y.shape), act_min=lo, act_max=hi),
                 args=[TensorArg(x1.index), TensorArg(x2.index), TensorArg(y.index, const=False)],
                 macs=y.size if op.type == "MUL" else 0)


@register_float("FULLY_CONNECTED")
def lower_fc(g: Graph, op: Op) -> Layer:
    x, y = _float_io(g, op)
    w = require_const(inp(g, op, 1), "the weights")
    require_dtype(w, "float32", what="weights")
    b = inp(g, op, 2)
    if b is not None:
        require_dtype(require_const(b, "the bias"), "float32", what="bias")
    if len(w.shape) != 2 or x.size % w.shape[1]:
        raise Unsupported(f"weights {list(w.shape)} do not fit input {list(x.shape)}")
    batches = x.size // w.shape[1]
    if y.size != batches * w.shape[0]:
        raise Unsupported(f"output {list(y.shape)} does not match {batches} x {w.shape[0]}")
    lo, hi = _act(op)
    return Layer(op=op, func="tinyml_fully_connected_f32", header=H, params_type="tinyml_fc_f32_params_t",
                 params=dict(batches=batches, depth=w.shape[1], out_depth=w.shape[0], act_min=lo, act_max=hi),
                 args=[TensorArg(x.index), TensorArg(w.index), TensorArg(b.index) if b is not None else "NULL",
                       TensorArg(y.index, const=False)],
                 macs=batches * w.shape[0] * w.shape[1])


@register_float("MEAN")
def lower_mean(g: Graph, op: Op) -> Layer:
    x, y = _float_io(g, op)
    a = require_const(inp(g, op, 1), "the axis")
    rank = len(x.shape)
    axes = sorted({int(v) % rank for v in a.data.reshape(-1)}) if rank else []
    if not axes or axes != list(range(axes[0], axes[-1] + 1)):
        raise Unsupported(f"float MEAN over axes {axes}: one contiguous block of axes is supported")
    outer = int(np.prod(x.shape[:axes[0]], dtype=np.int64))
    count = int(np.prod(x.shape[axes[0]:axes[-1] + 1], dtype=np.int64))
    inner = int(np.prod(x.shape[axes[-1] + 1:], dtype=np.int64))
    if y.size != outer * inner:
        raise Unsupported(f"output {list(y.shape)} does not match the reduction")
    return Layer(op=op, func="tinyml_mean_f32", header=H,
                 args=[str(outer), str(count), str(inner), TensorArg(x.index), TensorArg(y.index, const=False)],
                 macs=x.size, comment=f"axes {axes}")


@register_float("CONCATENATION")
def lower_concat(g: Graph, op: Op) -> Layer:
    y = out(g, op)
    xs = [g.t(i) for i in op.inputs if i >= 0]
    for x in xs:
        require_dtype(x, "float32", what="input")
    if not xs or op.options.get("fused_activation_function", "NONE") != "NONE":
        raise Unsupported("concatenation needs inputs and no fused activation")
    rank = len(xs[0].shape)
    axis = int(op.options.get("axis", 0)) % max(rank, 1)
    if any(len(x.shape) != rank or [d for k, d in enumerate(x.shape) if k != axis]
           != [d for k, d in enumerate(xs[0].shape) if k != axis] for x in xs):
        raise Unsupported(f"input shapes {[list(x.shape) for x in xs]} cannot be concatenated on axis {axis}")
    inner = int(np.prod(xs[0].shape[axis + 1:], dtype=np.int64))
    outer = int(np.prod(xs[0].shape[:axis], dtype=np.int64))
    sizes = np.array([x.shape[axis] * inner for x in xs], np.int32)
    if outer * int(sizes.sum()) != y.size:
        raise Unsupported(f"output {list(y.shape)} does not match the concatenation")
    return Layer(op=op, func="tinyml_concat_f32", header=H,
                 args=[str(len(xs)), str(outer), str(int(sizes.sum())), ConstArg("sizes"),
                       TensorListArg(tuple(x.index for x in xs)), TensorArg(y.index, const=False)],
                 consts={"sizes": sizes}, comment=f"axis {axis}")
