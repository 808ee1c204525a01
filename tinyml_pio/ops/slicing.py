"""Views and pieces of an int8 tensor: SLICE, STRIDED_SLICE, DEPTH_TO_SPACE, SPACE_TO_DEPTH, SPLIT,
SPLIT_V, UNPACK, PACK, GATHER.

TFLite 2.14 moves int8 bytes unchanged in all of them (reference_ops::Slice, StridedSlice,
DepthToSpace, SpaceToDepth, Split, Unpack, Pack, Gather), so each becomes a strided view of the
input (`tinyml_strided_copy_s8`), a split into contiguous pieces (`tinyml_split_s8`), the
concatenation kernel (PACK) or a row gather with compile-time indices (`tinyml_gather_s8`).

TFLite facts reproduced:
- STRIDED_SLICE (strided_slice_logic.h): begin/end masks take the whole axis (from the end for a
  negative stride), negative indices count from the end, starts and stops are clamped to
  [0, dim] (stride > 0) or [-1, dim - 1] (stride < 0), a shrink axis takes one element at begin.
  Ellipsis and new-axis masks and `offset` are refused (tflite-runtime 2.14 crashes on `offset`,
  so there is no reference to be bit-exact with).
- SLICE: size -1 means "to the end of the axis".
- PACK, int8: Prepare requires every input's scale and zero point to equal the output's.
- GATHER: out-of-range indices are an error in TFLite, so they are refused at generation time.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from . import (ConstArg, Layer, TensorArg, TensorListArg, Unsupported, inp, int8_io, out, register, require_const,
               require_dtype, require_int8_io)

H = "tinyml/slicing.h"
MAX_DIMS = 6  # TINYML_VIEW_MAX_DIMS


def _ints(t: Tensor | None, what: str) -> list[int]:
    t = require_const(t, what)
    if t.dtype not in ("int32", "int64"):
        raise Unsupported(f"{what} has type {t.dtype}; expected int32 or int64")
    return [int(v) for v in t.data.reshape(-1)]


def _strides(shape) -> list[int]:
    s, acc = [0] * len(shape), 1
    for k in range(len(shape) - 1, -1, -1):
        s[k] = acc
        acc *= int(shape[k])
    return s


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise Unsupported(f"{what} {axis} is out of range for a rank-{rank} tensor")
    return axis + rank if axis < 0 else axis


def view_params(dims: list[int], strides: list[int], offset: int) -> dict:
    """tinyml_view_params_t for output = input[offset + sum(i_k * strides[k])] over `dims`: size-1
    dims dropped, neighbours that walk memory contiguously merged, padded to MAX_DIMS."""
    merged: list[list[int]] = []
    for d, s in zip(dims, strides):
        if d == 1:
            continue
        if merged and merged[-1][1] == s * d:
            merged[-1] = [merged[-1][0] * d, s]
        else:
            merged.append([d, s])
    merged = merged or [[1, 1]]
    if len(merged) > MAX_DIMS:
        raise Unsupported(f"the copy needs {len(merged)} loop dimensions (> {MAX_DIMS})")
    merged = [[1, 0]] * (MAX_DIMS - len(merged)) + merged
    return dict(dims=[m[0] for m in merged], strides=[m[1] for m in merged], offset=offset)


def _view_layer(op: Op, x: Tensor, y: Tensor, dims: list[int], strides: list[int], offset: int, comment: str) -> Layer:
    if int(np.prod(dims, dtype=np.int64)) != y.size:
        raise Unsupported(f"output shape {list(y.shape)} does not hold the {int(np.prod(dims))} selected elements")
    if y.size == 0:
        raise Unsupported("the output is empty")
    return Layer(op=op, func="tinyml_strided_copy_s8", header=H, params_type="tinyml_view_params_t",
                 params=view_params(dims, strides, offset), args=[TensorArg(x.index), TensorArg(y.index, const=False)],
                 comment=comment)


def strided_slice_ranges(shape: tuple[int, ...], begin: list[int], end: list[int], step: list[int],
                         begin_mask: int, end_mask: int, shrink_mask: int) -> tuple[list[int], list[int], list[int]]:
    """(start, count, step) per axis, TFLite's StartForAxis / StopForAxis."""
    starts, counts, steps = [], [], []
    for k, dim in enumerate(shape):
        if k >= len(begin):
            starts.append(0), counts.append(dim), steps.append(1)
            continue
        s = step[k]
        if s == 0:
            raise Unsupported(f"stride 0 on axis {k}")
        shrink = bool(shrink_mask >> k & 1)
        if shrink and s < 0:
            raise Unsupported(f"shrink axis {k} with a negative stride is not supported")
        lo, hi = (0, dim) if s > 0 else (-1, dim - 1)
        if begin_mask >> k & 1 and not shrink:
            start = 0 if s > 0 else dim - 1
        else:
            start = begin[k] + dim if begin[k] < 0 else begin[k]
            start = min(max(start, lo), hi)
        if shrink:
            stop = start + 1
            if not 0 <= start < dim:
                raise Unsupported(f"shrink axis {k}: index {begin[k]} is out of range for size {dim}")
        elif end_mask >> k & 1:
            stop = dim if s > 0 else -1
        else:
            stop = end[k] + dim if end[k] < 0 else end[k]
            stop = min(max(stop, lo), hi)
        n = -(-(stop - start) // s) if s > 0 else -(-(start - stop) // -s)
        starts.append(start), counts.append(max(n, 0)), steps.append(s)
    return starts, counts, steps


@register("STRIDED_SLICE")
def lower_strided_slice(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    o = op.options
    if int(o.get("ellipsis_mask", 0)) or int(o.get("new_axis_mask", 0)):
        raise Unsupported("ellipsis and new-axis masks are not supported; use RESHAPE for new axes")
    if o.get("offset", False):
        raise Unsupported("the offset option (end relative to begin) is not supported")
    begin, end, step = (_ints(inp(g, op, i), w) for i, w in ((1, "begin"), (2, "end"), (3, "strides")))
    if not len(begin) == len(end) == len(step) <= len(x.shape):
        raise Unsupported(f"begin/end/strides have {len(begin)}/{len(end)}/{len(step)} values for a rank-{len(x.shape)} input")
    shrink = int(o.get("shrink_axis_mask", 0))
    starts, counts, steps = strided_slice_ranges(x.shape, begin, end, step, int(o.get("begin_mask", 0)),
                                                 int(o.get("end_mask", 0)), shrink)
    expect = [c for k, c in enumerate(counts) if not (k < len(begin) and shrink >> k & 1)]
    if list(y.shape) != expect:
        raise Unsupported(f"output shape {list(y.shape)} does not match the slice's shape {expect}")
    st = _strides(x.shape)
    return _view_layer(op, x, y, counts, [a * b for a, b in zip(st, steps)], sum(a * b for a, b in zip(st, starts)),
                       f"start {starts} count {counts} step {steps}")


@register("SLICE")
def lower_slice(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    begin, size = _ints(inp(g, op, 1), "begin"), _ints(inp(g, op, 2), "size")
    if not len(begin) == len(size) == len(x.shape):
        raise Unsupported(f"begin and size need {len(x.shape)} values each, got {len(begin)} and {len(size)}")
    counts = []
    for k, (b, s, d) in enumerate(zip(begin, size, x.shape)):
        n = d - b if s == -1 else s
        if b < 0 or n < 0 or b + n > d:
            raise Unsupported(f"axis {k}: begin {b} size {s} is outside the input's size {d}")
        counts.append(n)
    if list(y.shape) != counts:
        raise Unsupported(f"output shape {list(y.shape)} does not match the slice's shape {counts}")
    st = _strides(x.shape)
    return _view_layer(op, x, y, counts, st, sum(a * b for a, b in zip(st, begin)), f"begin {begin} size {counts}")


def _block(op: Op) -> int:
    b = int(op.options.get("block_size", 0))
    if b < 1:
        raise Unsupported(f"block size {b} must be positive")
    return b


@register("DEPTH_TO_SPACE")
def lower_depth_to_space(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    b = _block(op)
    if len(x.shape) != 4 or x.shape[3] % (b * b):
        raise Unsupported(f"input {list(x.shape)} must be NHWC with depth a multiple of {b * b}")
    n, h, w, c = x.shape
    oc = c // (b * b)
    if list(y.shape) != [n, h * b, w * b, oc]:
        raise Unsupported(f"output shape {list(y.shape)} does not match {[n, h * b, w * b, oc]}")
    # output (n, h, i, w, j, c) reads input (n, h, w, (i * b + j) * oc + c)
    return _view_layer(op, x, y, [n, h, b, w, b, oc], [h * w * c, w * c, b * oc, c, oc, 1], 0, f"block {b}")


@register("SPACE_TO_DEPTH")
def lower_space_to_depth(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    b = _block(op)
    if len(x.shape) != 4 or x.shape[1] % b or x.shape[2] % b:
        raise Unsupported(f"input {list(x.shape)} must be NHWC with height and width multiples of {b}")
    n, ih, iw, c = x.shape
    if list(y.shape) != [n, ih // b, iw // b, c * b * b]:
        raise Unsupported(f"output shape {list(y.shape)} does not match {[n, ih // b, iw // b, c * b * b]}")
    # output (n, h, w, i, j, c) reads input (n, h * b + i, w * b + j, c)
    return _view_layer(op, x, y, [n, ih // b, iw // b, b, b, c], [ih * iw * c, b * iw * c, b * c, iw * c, c, 1], 0,
                       f"block {b}")


def _split_layer(g: Graph, op: Op, x: Tensor, axis: int, pieces: list[int], drop_axis: bool) -> Layer:
    ys = [out(g, op, i) for i in range(len(op.outputs))]
    if len(ys) != len(pieces):
        raise Unsupported(f"{len(ys)} outputs for {len(pieces)} pieces")
    for yi, n in zip(ys, pieces):
        require_int8_io(x, yi)
        expect = list(x.shape[:axis]) + ([] if drop_axis else [n]) + list(x.shape[axis + 1:])
        if list(yi.shape) != expect:
            raise Unsupported(f"output '{yi.name}' has shape {list(yi.shape)}; expected {expect}")
    inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    return Layer(
        op=op, func="tinyml_split_s8", header=H, params_type="tinyml_split_params_t",
        params=dict(num_outputs=len(ys), outer=int(np.prod(x.shape[:axis], dtype=np.int64)),
                    in_stride=x.shape[axis] * inner),
        args=[ConstArg("sizes"), TensorArg(x.index), TensorListArg(tuple(t.index for t in ys), const=False)],
        consts={"sizes": np.array([n * inner for n in pieces], np.int32)},
        comment=f"axis {axis}, pieces {pieces}",
    )


@register("SPLIT", "SPLIT_V")
def lower_split(g: Graph, op: Op) -> Layer:
    data, ax = (0, 2) if op.type == "SPLIT_V" else (1, 0)
    x = inp(g, op, data)
    if x is None:
        raise Unsupported("missing input")
    axes = _ints(inp(g, op, ax), "the axis")
    if len(axes) != 1:
        raise Unsupported("the axis must be a single value")
    axis = _axis(axes[0], len(x.shape))
    dim = x.shape[axis]
    k = len(op.outputs)
    if op.type == "SPLIT":
        if k < 1 or dim % k:
            raise Unsupported(f"axis {axis} of size {dim} does not split into {k} equal pieces")
        pieces = [dim // k] * k
    else:
        pieces = _ints(inp(g, op, 1), "size_splits")
        if pieces.count(-1) == 1:
            pieces[pieces.index(-1)] = dim - (sum(pieces) + 1)
        if any(p < 0 for p in pieces) or sum(pieces) != dim:
            raise Unsupported(f"size_splits {pieces} do not add up to the axis size {dim}")
    return _split_layer(g, op, x, axis, pieces, drop_axis=False)


@register("UNPACK")
def lower_unpack(g: Graph, op: Op) -> Layer:
    x = inp(g, op, 0)
    assert x is not None
    axis = _axis(int(op.options.get("axis", 0)), len(x.shape))
    if len(op.outputs) != x.shape[axis]:
        raise Unsupported(f"{len(op.outputs)} outputs for an axis of size {x.shape[axis]}")
    return _split_layer(g, op, x, axis, [1] * x.shape[axis], drop_axis=True)


@register("PACK")
def lower_pack(g: Graph, op: Op) -> Layer:
    y = out(g, op)
    xs = [g.t(i) for i in op.inputs if i >= 0]
    if not xs:
        raise Unsupported("pack without inputs")
    shape = list(xs[0].shape)
    axis = _axis(int(op.options.get("axis", 0)), len(shape) + 1)
    for x in xs:
        require_int8_io(x, y)
        if list(x.shape) != shape:
            raise Unsupported(f"input shapes {[list(t.shape) for t in xs]} differ")
        if (x.quant is None) != (y.quant is None) or (y.quant is not None and (
                x.quant.zp != y.quant.zp or np.float32(x.quant.s) != np.float32(y.quant.s))):
            raise Unsupported(f"input '{x.name}' is not quantized like the output (TFLite's int8 PACK requires it)")
    expect = shape[:axis] + [len(xs)] + shape[axis:]
    if list(y.shape) != expect:
        raise Unsupported(f"output shape {list(y.shape)} does not match the packed shape {expect}")
    inner = int(np.prod(shape[axis:], dtype=np.int64))
    return Layer(
        op=op, func="tinyml_concat_s8", header="tinyml/datamove.h", params_type="tinyml_concat_params_t",
        params=dict(num_inputs=len(xs), outer=int(np.prod(shape[:axis], dtype=np.int64)), out_stride=inner * len(xs)),
        args=[ConstArg("sizes"), TensorListArg(tuple(x.index for x in xs)), TensorArg(y.index, const=False)],
        consts={"sizes": np.full(len(xs), inner, np.int32)},
        comment=f"axis {axis}, {len(xs)} inputs",
    )


@register("GATHER")
def lower_gather(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    idx_t = inp(g, op, 1)
    if idx_t is None or not idx_t.is_const:
        raise Unsupported("the indices must be a constant tensor (run-time indices are not supported)")
    require_dtype(idx_t, "int32", "int64", what="indices")
    if int(op.options.get("batch_dims", 0)) != 0:
        raise Unsupported("batch_dims other than 0 is not supported")
    axis = _axis(int(op.options.get("axis", 0)), len(x.shape))
    idx = [int(v) for v in idx_t.data.reshape(-1)]
    dim = x.shape[axis]
    bad = [i for i in idx if not 0 <= i < dim]
    if bad:
        raise Unsupported(f"indices {bad[:5]} are outside [0, {dim}) (TFLite fails on them at run time)")
    expect = list(x.shape[:axis]) + list(idx_t.shape) + list(x.shape[axis + 1:])
    if list(y.shape) != expect:
        raise Unsupported(f"output shape {list(y.shape)} does not match the gathered shape {expect}")
    return Layer(
        op=op, func="tinyml_gather_s8", header=H, params_type="tinyml_gather_params_t",
        params=dict(outer=int(np.prod(x.shape[:axis], dtype=np.int64)), axis_size=dim,
                    inner=int(np.prod(x.shape[axis + 1:], dtype=np.int64)), count=len(idx)),
        args=[ConstArg("indices"), TensorArg(x.index), TensorArg(y.index, const=False)],
        consts={"indices": np.array(idx, np.int32)},
        comment=f"axis {axis}, {len(idx)} indices",
    )
