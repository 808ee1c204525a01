"""SUM, REDUCE_MAX, ARG_MAX and ARG_MIN (int8).

TFLite 2.14 (reduce.cc, arg_min_max.cc, kReference):
- SUM, int8, input and output quantized differently: reference_ops::QuantizedMeanOrSum with
  compute_sum, the integer path MEAN takes (pool.py) without the 1/count fold: the int32 sum
  minus zp_in * count, MultiplyByQuantizedMultiplier(QuantizeMultiplier(in_scale / out_scale)),
  + zp_out, clamped (tflite-micro computes it so for every quantization; tflite-runtime's
  BUILTIN_REF SUM is wrong for negative sums, see reference.py, so verify uses tflite-micro).
- REDUCE_MAX: the maximum of the raw int8 values (no requantization), so input and output must
  share the quantization (as the converter writes them). The reduced axes must form one block.
- ARG_MAX / ARG_MIN: the first index of the extreme raw value along one axis; int32 or int64 output.
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op, Tensor
from . import (Layer, TensorArg, Unsupported, inp, out, register, require_const, require_dtype, require_int8_io,
               require_nonconst, require_quant)


def reduction(g: Graph, op: Op) -> tuple[Tensor, Tensor, list[int], list[int], int]:
    """(input, output, dims, reduce flags, element count per output) of a reducer with a constant axis input."""
    x, y = inp(g, op, 0), out(g, op)
    assert x is not None
    require_int8_io(x, y)
    require_nonconst(x, "input")
    a = require_const(inp(g, op, 1), "the axis")
    require_dtype(a, "int32", what="axis")
    rank = len(x.shape)
    if rank == 0 or rank > 4:
        raise Unsupported(f"{op.type} over a rank-{rank} tensor is not supported (ranks 1 to 4 are)")
    axes = set()
    for v in (int(v) for v in np.asarray(a.data).reshape(-1)):
        if not -rank <= v < rank:
            raise Unsupported(f"axis {v} is out of range for a rank-{rank} input")
        axes.add(v + rank if v < 0 else v)
    dims = [1] * (4 - rank) + list(x.shape)
    flags = [0] * (4 - rank) + [1 if d in axes else 0 for d in range(rank)]
    count = int(np.prod([dims[i] for i in range(4) if flags[i]], dtype=np.int64))
    if x.size == 0:
        raise Unsupported(f"{op.type} over an empty tensor is not supported")
    if y.size != x.size // count:
        raise Unsupported(f"output size {y.size} does not match the reduction ({x.size // count} elements)")
    return x, y, dims, flags, count


def _same_quant(a: Tensor, b: Tensor) -> bool:
    return (a.quant is not None and b.quant is not None and a.quant.zp == b.quant.zp
            and np.float32(a.quant.s) == np.float32(b.quant.s))


@register("SUM")
def lower_sum(g: Graph, op: Op) -> Layer:
    x, y, dims, flags, count = reduction(g, op)
    (si, zi), (so, zo) = require_quant(x, "input"), require_quant(y, "output")
    if count * 256 >= 1 << 31:
        raise Unsupported(f"SUM over {count} elements would overflow the int32 sum")
    mult, shift = quant.quantize_multiplier(float(np.float32(si)) / float(np.float32(so)))
    return Layer(
        op=op, func="tinyml_mean_s8", header="tinyml/pool.h", params_type="tinyml_mean_params_t",
        params=dict(dims=dims, reduce=flags, zp_count=int(quant.wrap_int32(zi * count)), mult=mult, shift=shift,
                    output_offset=zo),
        args=[TensorArg(x.index), TensorArg(y.index, const=False)], macs=x.size,
        comment=f"sum of {count} elements",
    )


@register("REDUCE_MAX")
def lower_reduce_max(g: Graph, op: Op) -> Layer:
    x, y, dims, flags, count = reduction(g, op)
    if (x.quant is not None or y.quant is not None) and not _same_quant(x, y):
        raise Unsupported("input and output are quantized differently; TFLite's REDUCE_MAX takes the raw int8 "
                          "maximum, which then is not the maximum of the real values")
    axes = [k for k in range(4) if flags[k] and dims[k] > 1] or [3]
    if any(dims[k] > 1 and not flags[k] for k in range(axes[0], axes[-1] + 1)):
        raise Unsupported("REDUCE_MAX over axes that are not one contiguous block (with size-1 axes ignored) is "
                          "not supported; TRANSPOSE them together first")
    outer = int(np.prod(dims[:axes[0]], dtype=np.int64))
    return Layer(
        op=op, func="tinyml_reduce_max_s8", header="tinyml/reduce.h", params_type="tinyml_reduce_params_t",
        params=dict(outer=outer, count=count, inner=x.size // (outer * count)), args=[TensorArg(x.index), TensorArg(y.index, const=False)],
        macs=x.size, comment=f"max of {count} elements",
    )


@register("ARG_MAX", "ARG_MIN")
def lower_arg_minmax(g: Graph, op: Op) -> Layer:
    x, y = inp(g, op, 0), out(g, op)
    assert x is not None
    require_dtype(x, "int8", what="input")
    require_dtype(y, "int32", "int64", what="output")
    a = require_const(inp(g, op, 1), "the axis")
    require_dtype(a, "int32", "int64", what="axis")
    rank = len(x.shape)
    if a.size != 1 or rank == 0:
        raise Unsupported("the axis must be a single value over a tensor of rank >= 1")
    axis = int(a.data.reshape(-1)[0])
    if not -rank <= axis < rank:
        raise Unsupported(f"axis {axis} is out of range for a rank-{rank} input")
    axis %= rank
    expect = list(x.shape[:axis]) + list(x.shape[axis + 1:])
    if list(y.shape) != expect:
        raise Unsupported(f"output shape {list(y.shape)} does not match {expect}")
    suffix = "i32" if y.dtype == "int32" else "i64"
    return Layer(
        op=op, func=f"tinyml_arg_minmax_s8_{suffix}", header="tinyml/reduce.h",
        params_type="tinyml_arg_minmax_params_t",
        params=dict(outer=int(np.prod(x.shape[:axis], dtype=np.int64)), axis_size=x.shape[axis],
                    inner=int(np.prod(x.shape[axis + 1:], dtype=np.int64)), is_max=int(op.type == "ARG_MAX")),
        args=[TensorArg(x.index), TensorArg(y.index, const=False)], macs=x.size, comment=f"axis {axis}",
    )
