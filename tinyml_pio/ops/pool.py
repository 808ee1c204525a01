"""AVERAGE_POOL_2D, MAX_POOL_2D (int8, and int16 through ops/int16.py) and MEAN (int8).

Pooling follows reference_integer_ops::AveragePool / MaxPool: the window is clipped to the
input, the average divides the raw int8 sum by the number of valid positions (rounding half
away from zero) and the result is clamped to the fused activation's range. Like TFLite, the
kernels ignore the quantization (input and output share it).

MEAN: in TFLite 2.14 an int8 MEAN runs reference_ops::QuantizedMeanOrSum for every axis set
(also under BUILTIN_REF; the old float-rescale and 4-D special cases are gone): the int32 sum
minus zp_in * count is requantized with QuantizeMultiplier(in_scale / out_scale) after folding
1/count into the multiplier (multiplier << s) / count, shift - s, with
s = min(floor(log2(count)), 32, 31 + shift). Confirmed empirically against tflite-runtime 2.14.
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op
from .conv import check_int16_geometry
from . import (Layer, TensorArg, Unsupported, activation, inp, out, register, require_const, require_dtype,
               require_input, require_int8_io, require_nonconst, require_quant)


def compute_padding(stride: int, in_size: int, filter_size: int, out_size: int) -> int:
    """ComputePadding (tensorflow/lite/kernels/padding.h), dilation 1."""
    pad = ((out_size - 1) * stride + filter_size - in_size) // 2
    return max(pad, 0)


def out_size(padding: str, in_size: int, filter_size: int, stride: int) -> int:
    """ComputeOutSize: SAME -> ceil(in / stride), VALID -> ceil((in - filter + 1) / stride)."""
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - filter_size) // stride


@register("AVERAGE_POOL_2D", "MAX_POOL_2D")
def lower_pool(g: Graph, op: Op, dtype: str = "int8") -> Layer:
    """The int8 pools, and with dtype "int16" their 16x8 versions (ops/int16.py): same loops."""
    x, y = require_input(g, op, 0), out(g, op)
    require_dtype(x, dtype, what="input")
    require_dtype(y, dtype, what="output")
    require_nonconst(x, "input")
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise Unsupported(f"pooling needs 4-D NHWC tensors, got input {list(x.shape)} and output {list(y.shape)}")
    in_scale, in_zp = require_quant(x, "input")
    out_scale, out_zp = require_quant(y, "output")
    o = op.options
    padding = o.get("padding", "SAME")
    if padding not in ("SAME", "VALID"):
        raise Unsupported(f"padding {padding} is not supported")
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    fh, fw = int(o.get("filter_height", 1)), int(o.get("filter_width", 1))
    if min(sh, sw, fh, fw) <= 0:
        raise Unsupported(f"strides ({sh}, {sw}) and filter size ({fh}, {fw}) must be positive")
    n, ih, iw, c = x.shape
    oh, ow = out_size(padding, ih, fh, sh), out_size(padding, iw, fw, sw)
    if tuple(y.shape) != (n, oh, ow, c):
        raise Unsupported(f"output shape {list(y.shape)} does not match the {padding} pooling shape {[n, oh, ow, c]}")
    if oh <= 0 or ow <= 0:
        raise Unsupported("the pooling window is larger than the input")
    if dtype == "int16" and (in_zp or out_zp):
        raise Unsupported(f"int16 pooling needs zero points 0 (input {in_zp}, output {out_zp}); TFLite requires it")
    check_int16_geometry(pad_h=compute_padding(sh, ih, fh, oh), pad_w=compute_padding(sw, iw, fw, ow))
    act_min, act_max = quant.activation_range(activation(op), out_scale, out_zp, dtype)
    avg = op.type == "AVERAGE_POOL_2D"
    suffix = "s8" if dtype == "int8" else "s16"
    return Layer(
        op=op,
        func=f"tinyml_avgpool_{suffix}" if avg else f"tinyml_maxpool_{suffix}",
        header="tinyml/pool.h",
        params_type="tinyml_pool_params_t",
        params=dict(batches=n, in_h=ih, in_w=iw, depth=c, out_h=oh, out_w=ow, stride_h=sh, stride_w=sw,
                    filter_h=fh, filter_w=fw, pad_h=compute_padding(sh, ih, fh, oh),
                    pad_w=compute_padding(sw, iw, fw, ow), act_min=act_min, act_max=act_max),
        args=[TensorArg(x.index), TensorArg(y.index, const=False)],
        macs=y.size * fh * fw,
        comment=f"{fh}x{fw}/{sh}x{sw} {padding}",
    )


def mean_multiplier(in_scale: float, out_scale: float, count: int) -> tuple[int, int]:
    """PrepareMeanOrSum's QuantizeMultiplier(double(in) / double(out)), then QuantizedMeanOrSum's
    folding of 1/count into it."""
    mult, shift = quant.quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    s = min(count.bit_length() - 1, 32, 31 + shift)  # 63 - CountLeadingZeros(count)
    mult = (mult << s) // count  # int64 division; both operands are non-negative
    return int(mult), int(shift - s)


@register("MEAN")
def lower_mean(g: Graph, op: Op) -> Layer:
    x, a, y = require_input(g, op, 0), inp(g, op, 1), out(g, op)
    require_int8_io(x, y)
    require_nonconst(x, "input")
    a = require_const(a, "the axis")
    require_dtype(a, "int32", what="axis")
    in_scale, in_zp = require_quant(x, "input")
    out_scale, out_zp = require_quant(y, "output")
    rank = len(x.shape)
    if rank == 0 or rank > 4:
        raise Unsupported(f"MEAN over a rank-{rank} tensor is not supported (ranks 1 to 4 are)")
    axes = set()
    for v in np.asarray(a.data).reshape(-1).tolist():
        v = int(v)
        if not -rank <= v < rank:
            raise Unsupported(f"axis {v} is out of range for a rank-{rank} input")
        axes.add(v + rank if v < 0 else v)
    dims = [1] * (4 - rank) + list(x.shape)
    reduce = [0] * (4 - rank) + [1 if d in axes else 0 for d in range(rank)]
    count = int(np.prod([dims[i] for i in range(4) if reduce[i]], dtype=np.int64)) if axes else 1
    if x.size == 0 or count == 0:
        raise Unsupported("MEAN over an empty tensor is not supported")
    if count * 256 >= 1 << 31:
        raise Unsupported(f"MEAN over {count} elements would overflow the int32 sum")
    expected = x.size // count
    if y.size != expected:
        raise Unsupported(f"output size {y.size} does not match the reduction ({expected} elements)")
    mult, shift = mean_multiplier(in_scale, out_scale, count)
    return Layer(
        op=op,
        func="tinyml_mean_s8",
        header="tinyml/pool.h",
        params_type="tinyml_mean_params_t",
        params=dict(dims=dims, reduce=reduce, zp_count=int(quant.wrap_int32(in_zp * count)), mult=mult,
                    shift=shift, output_offset=out_zp),
        args=[TensorArg(x.index), TensorArg(y.index, const=False)],
        macs=x.size,
        comment=f"axes {sorted(axes)} keep_dims={bool(op.options.get('keep_dims', False))}",
    )
