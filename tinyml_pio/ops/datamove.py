"""Data movement: TRANSPOSE, PAD/PADV2, CONCATENATION, RESIZE_NEAREST_NEIGHBOR (int8).

None of these touch values: TFLite 2.14 copies int8 bytes in all of them (reference_ops::Transpose,
Pad, Concatenation, ResizeNearestNeighbor), so the kernels are generic strided copies whose strides,
offsets and index maps are computed here.

TFLite facts reproduced (tensorflow/lite/kernels/*.cc, 2.14):
- CONCATENATION, int8: Prepare rejects inputs whose scale or zero point differ from the output's
  (no rescaling; only uint8 uses ConcatenationWithScaling) and any fused activation.
- PAD: the pad value is the output zero point; PADV2 uses the raw int8 `constant_values`, whose
  scale and zero point must equal the output's.
- RESIZE_NEAREST_NEIGHBOR: GetNearestNeighbor in float32 (scale = in/out, or (in-1)/(out-1) with
  align_corners; +0.5 with half_pixel_centers; floor, or round-half-away with align_corners;
  clamped to [0, in-1]).
"""

from __future__ import annotations

import math

import numpy as np

from .. import quant
from ..ir import Graph, Op, Tensor
from . import (TensorListArg, ConstArg, Layer, TensorArg, Unsupported, inp, int8_io, out, register, require_const,
               require_dtype, shape4)

H = "tinyml/datamove.h"


def _int_const(t: Tensor | None, what: str) -> np.ndarray:
    t = require_const(t, what)
    if t.dtype not in ("int32", "int64"):
        raise Unsupported(f"{what} has type {t.dtype}; expected int32 or int64")
    return t.data.astype(np.int64).reshape(-1)


def _strides(dims: list[int]) -> list[int]:
    s = [1] * len(dims)
    for k in range(len(dims) - 2, -1, -1):
        s[k] = s[k + 1] * dims[k + 1]
    return s


# --------------------------------------------------------------------------------------------
@register("TRANSPOSE")
def lower_transpose(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    rank = len(x.shape)
    if rank > 4:
        raise Unsupported(f"transpose of a rank-{rank} tensor (> 4) is not supported")
    perm = [int(v) for v in _int_const(inp(g, op, 1), "the permutation")]
    if sorted(perm) != list(range(rank)):
        raise Unsupported(f"permutation {perm} is not a permutation of 0..{rank - 1}")
    expect = tuple(x.shape[p] for p in perm)
    if tuple(y.shape) != expect:
        raise Unsupported(f"output shape {list(y.shape)} does not match the permuted input shape {list(expect)}")
    pad = 4 - rank
    perm4 = list(range(pad)) + [p + pad for p in perm]
    in4 = shape4(x.shape)
    in_strides = _strides(in4)
    return Layer(
        op=op,
        func="tinyml_transpose_s8",
        header=H,
        params_type="tinyml_transpose_params_t",
        params=dict(out_dims=[in4[p] for p in perm4], in_strides=[in_strides[p] for p in perm4]),
        args=[TensorArg(x.index), TensorArg(y.index, const=False)],
        comment=f"perm {perm}",
    )


# --------------------------------------------------------------------------------------------
@register("PAD", "PADV2")
def lower_pad(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    rank = len(x.shape)
    if rank > 4:
        raise Unsupported(f"padding a rank-{rank} tensor (> 4) is not supported")
    pads = _int_const(inp(g, op, 1), "the paddings")
    if pads.size != 2 * rank:
        raise Unsupported(f"paddings has {pads.size} values; expected {rank} x 2")
    pads = pads.reshape(rank, 2)
    if np.any(pads < 0):
        raise Unsupported("negative paddings")
    expect = tuple(int(d + a + b) for d, (a, b) in zip(x.shape, pads))
    if tuple(y.shape) != expect:
        raise Unsupported(f"output shape {list(y.shape)} does not match the padded shape {list(expect)}")

    cv = inp(g, op, 2)
    if cv is not None:
        cv = require_const(cv, "the PADV2 constant value")
        require_dtype(cv, "int8", what="constant value")
        if cv.size != 1:
            raise Unsupported("the PADV2 constant value must be a scalar")
    if x.quant is None:  # unquantized int8: raw value, 0 by default
        pad_value = int(cv.data.reshape(-1)[0]) if cv is not None else 0
    elif cv is None:
        if y.quant is None:
            raise Unsupported(f"output '{y.name}' has no quantization parameters")
        pad_value = y.quant.zp
        if not -128 <= pad_value <= 127:
            raise Unsupported(f"output zero point {pad_value} is outside the int8 range")
    else:
        if (cv.quant is None or y.quant is None or cv.quant.zp != y.quant.zp
                or np.float32(cv.quant.s) != np.float32(y.quant.s)):
            raise Unsupported("the PADV2 constant value's scale/zero point differ from the output's "
                              "(TFLite rejects this)")
        pad_value = int(cv.data.reshape(-1)[0])

    before = [0] * (4 - rank) + [int(a) for a, _ in pads]
    return Layer(
        op=op,
        func="tinyml_pad_s8",
        header=H,
        params_type="tinyml_pad_params_t",
        params=dict(in_dims=shape4(x.shape), out_dims=shape4(y.shape), before=before, pad_value=pad_value),
        args=[TensorArg(x.index), TensorArg(y.index, const=False)],
        comment=f"paddings {pads.tolist()} value {pad_value}",
    )


# --------------------------------------------------------------------------------------------
@register("CONCATENATION")
def lower_concat(g: Graph, op: Op, dtype: str = "int8") -> Layer:
    """int8, and with dtype "int16" the 16x8 version (ops/int16_act.py): the same copy."""
    y = out(g, op)
    xs = [g.t(i) for i in op.inputs if i >= 0]
    if not xs:
        raise Unsupported("concatenation without inputs")
    for x in xs:
        require_dtype(x, dtype, what="input")
        require_dtype(y, dtype, what="output")
    act = op.options.get("fused_activation_function", "NONE")
    if act != "NONE":
        raise Unsupported(f"fused activation {act} on CONCATENATION (TFLite rejects it)")
    rank = len(xs[0].shape)
    axis = int(op.options.get("axis", 0))
    if axis < 0:
        axis += rank
    if not 0 <= axis < max(rank, 1):
        raise Unsupported(f"axis {op.options.get('axis')} is out of range for rank {rank}")
    for x in xs:
        if len(x.shape) != rank or any(x.shape[d] != xs[0].shape[d] for d in range(rank) if d != axis):
            raise Unsupported(f"input shapes {[list(t.shape) for t in xs]} cannot be concatenated on axis {axis}")
    expect = list(xs[0].shape)
    expect[axis] = sum(x.shape[axis] for x in xs)
    if list(y.shape) != expect:
        raise Unsupported(f"output shape {list(y.shape)} does not match the concatenated shape {expect}")
    if y.quant is not None:
        for x in xs:
            if x.quant is None or x.quant.zp != y.quant.zp or np.float32(x.quant.s) != np.float32(y.quant.s):
                got = f"scale {x.quant.s:.9g}, zero point {x.quant.zp}" if x.quant else "no quantization"
                raise Unsupported(
                    f"{dtype} input '{x.name}' ({got}) is not quantized like the output (scale {y.quant.s:.9g}, "
                    f"zero point {y.quant.zp}); TFLite's {dtype} CONCATENATION does not rescale and rejects this")
    inner = int(np.prod(expect[axis + 1:], dtype=np.int64))
    outer = int(np.prod(expect[:axis], dtype=np.int64))
    sizes = np.array([x.shape[axis] * inner for x in xs], np.int32)
    return Layer(
        op=op,
        func="tinyml_concat_s8" if dtype == "int8" else "tinyml_concat_s16",
        header=H,
        params_type="tinyml_concat_params_t",
        params=dict(num_inputs=len(xs), outer=outer, out_stride=int(sizes.sum())),
        args=[ConstArg("sizes"), TensorListArg(tuple(x.index for x in xs)), TensorArg(y.index, const=False)],
        consts={"sizes": sizes},
        comment=f"axis {axis}, {len(xs)} inputs",
    )


# --------------------------------------------------------------------------------------------
def nearest_neighbor_map(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """reference_ops::GetNearestNeighbor for every output index, in TFLite's float32 arithmetic."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel_centers else f32(0.0)
    res = np.zeros(out_size, np.int32)
    for i in range(out_size):
        v = float((f32(i) + offset) * scale)  # exact float32 product, widened losslessly
        idx = quant.tflite_round(v) if align_corners else math.floor(v)
        idx = min(idx, in_size - 1)
        if half_pixel_centers:
            idx = max(0, idx)
        res[i] = idx
    return res


@register("RESIZE_NEAREST_NEIGHBOR")
def lower_resize_nearest(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    if len(x.shape) != 4:
        raise Unsupported(f"input must be 4-D (NHWC), got {list(x.shape)}")
    size = require_const(inp(g, op, 1), "the output size")
    require_dtype(size, "int32", what="size")
    if size.size != 2:
        raise Unsupported("the size tensor must hold 2 values (height, width)")
    out_h, out_w = (int(v) for v in size.data.reshape(-1))
    n, in_h, in_w, c = x.shape
    if tuple(y.shape) != (n, out_h, out_w, c):
        raise Unsupported(f"output shape {list(y.shape)} does not match [{n}, {out_h}, {out_w}, {c}]")
    align = bool(op.options.get("align_corners", False))
    half = bool(op.options.get("half_pixel_centers", False))
    return Layer(
        op=op,
        func="tinyml_resize_nearest_s8",
        header=H,
        params_type="tinyml_resize_nn_params_t",
        params=dict(batches=n, in_h=in_h, in_w=in_w, depth=c, out_h=out_h, out_w=out_w),
        args=[ConstArg("y_map"), ConstArg("x_map"), TensorArg(x.index), TensorArg(y.index, const=False)],
        consts={"y_map": nearest_neighbor_map(in_h, out_h, align, half),
                "x_map": nearest_neighbor_map(in_w, out_w, align, half)},
        comment=f"align_corners={int(align)} half_pixel_centers={int(half)}",
    )
