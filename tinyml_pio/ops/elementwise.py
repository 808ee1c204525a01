"""Binary element-wise int8 ops with broadcasting: ADD, MUL, MAXIMUM, MINIMUM.

TFLite references (2.14, kReference):
  ADD      add.cc Prepare (left_shift 20, twice_max_input_scale, three
           QuantizeMultiplierSmallerThanOneExp), reference_integer_ops::Add / BroadcastAdd*Slow.
  MUL      mul.cc Prepare (real = in1_scale * in2_scale / out_scale, QuantizeMultiplier),
           reference_integer_ops::Mul / BroadcastMul*Slow.
  MAXIMUM  maximum_minimum.cc: compares the raw int8 values (no requantization at all).
  MINIMUM

Broadcasting is numpy/TFLite style (NdArrayDesc): a size-1 input dimension repeats. We precompute
it here as one output iteration space of up to 6 dims with a per-input element stride per dim (0 for
a repeated dim); adjacent dims that are contiguous for both inputs are merged first, so the common
same-shape case is a single flat row and [1,4,4,8] + [1,1,1,8] is [16] x [8].
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op, Tensor
from . import Layer, TensorArg, Unsupported, activation, inp, out, register, require_dtype, require_quant

MAX_DIMS = 6  # TINYML_EW_MAX_DIMS in library/include/tinyml/elementwise.h


def broadcast_plan(s1: tuple[int, ...], s2: tuple[int, ...], so: tuple[int, ...]) -> list[list[int]]:
    """[dims, stride1, stride2], each MAX_DIMS long (outer first): output element (i0..i5), row-major
    over dims, reads input1[sum(i_k * stride1[k])] and input2[sum(i_k * stride2[k])]."""
    rank = max(len(s1), len(s2), len(so))
    pad = lambda s: [1] * (rank - len(s)) + list(s)  # noqa: E731
    a, b, o = pad(s1), pad(s2), pad(so)
    for k in range(rank):
        if a[k] not in (1, o[k]) or b[k] not in (1, o[k]) or max(a[k], b[k]) != o[k]:
            raise Unsupported(f"shapes {list(s1)} and {list(s2)} do not broadcast to the output shape {list(so)}")

    def strides(shape: list[int]) -> list[int]:
        st, acc = [0] * rank, 1
        for k in range(rank - 1, -1, -1):
            st[k] = acc if shape[k] > 1 else 0  # size-1 dims (repeated or not) never advance
            acc *= shape[k]
        return st

    sa, sb = strides(a), strides(b)
    # Drop size-1 output dims, then merge neighbours that are contiguous for both inputs.
    dims: list[list[int]] = [[o[k], sa[k], sb[k]] for k in range(rank) if o[k] > 1]
    merged: list[list[int]] = []
    for d, x, y in dims:
        if merged:
            pd, px, py = merged[-1]
            if px == x * d and py == y * d:
                merged[-1] = [pd * d, x, y]
                continue
        merged.append([d, x, y])
    if not merged:
        merged = [[1, 0, 0]]
    if len(merged) > MAX_DIMS:
        raise Unsupported(f"broadcast of {list(s1)} with {list(s2)} needs {len(merged)} loop dimensions (> {MAX_DIMS})")
    merged = [[1, 0, 0]] * (MAX_DIMS - len(merged)) + merged
    return [[m[0] for m in merged], [m[1] for m in merged], [m[2] for m in merged]]


def _operands(g: Graph, op: Op) -> tuple[Tensor, Tensor, Tensor]:
    x1, x2, y = inp(g, op, 0), inp(g, op, 1), out(g, op)
    if x1 is None or x2 is None or len(op.inputs) != 2:
        raise Unsupported("expected exactly two inputs")
    require_dtype(x1, "int8", what="input 1")
    require_dtype(x2, "int8", what="input 2")
    require_dtype(y, "int8", what="output")
    if x1.is_const and x2.is_const:
        raise Unsupported("both inputs are constants; constant-folding is not implemented, fold it in the converter")
    return x1, x2, y


def _quant(x1: Tensor, x2: Tensor, y: Tensor) -> list[tuple[float, int]]:
    """Per-tensor (scale, zero point) of input 1, input 2 and the output, checked in that order."""
    return [require_quant(t, what) for t, what in ((x1, "input 1"), (x2, "input 2"), (y, "output"))]


# Highest rank TFLite 2.14's reference kernels accept when the two shapes differ (BroadcastAdd6DSlow,
# MaximumMinimumBroadcastSlow up to 5-D, BroadcastMul4DSlow); beyond it the interpreter aborts, so
# there is no reference to be bit-exact with. Same-shape operands work at any rank.
MAX_BROADCAST_RANK = {"ADD": 6, "MUL": 4, "MAXIMUM": 5, "MINIMUM": 5, "SUB": 5, "SQUARED_DIFFERENCE": 4, "PRELU": 4}


def _layer(op: Op, func: str, params_type: str, params: dict, x1: Tensor, x2: Tensor, y: Tensor,
           macs: int = 0) -> Layer:
    rank = max(len(x1.shape), len(x2.shape), len(y.shape))
    if x1.shape != x2.shape and rank > MAX_BROADCAST_RANK[op.type]:
        raise Unsupported(f"broadcasting {list(x1.shape)} with {list(x2.shape)}: TFLite's {op.type} broadcasts "
                          f"at most {MAX_BROADCAST_RANK[op.type]}-D tensors; reshape to fewer dimensions")
    bc = broadcast_plan(x1.shape, x2.shape, y.shape)
    # Element i of the output reads element i of an input of the output's shape and nothing later,
    # so the output may overwrite such an input (a repeated or constant input must stay intact).
    inplace = next(((x.index, y.index) for x in (x1, x2) if not x.is_const and x.shape == y.shape), None)
    return Layer(
        op=op,
        func=func,
        header="tinyml/elementwise.h",
        params_type=params_type,
        params=dict(bc=bc, **params),
        args=[TensorArg(x1.index), TensorArg(x2.index), TensorArg(y.index, const=False)],
        macs=macs,
        inplace=inplace,
        comment=f"{list(x1.shape)} x {list(x2.shape)} -> {list(y.shape)}",
    )


def add_params(op: Op, q: list[tuple[float, int]], left_shift: int = 20, dtype: str = "int8") -> dict:
    """add.cc Prepare (SUB's and SQUARED_DIFFERENCE's share it): both inputs onto a common
    2^-left_shift fixed point, then the output multiplier (int16 general scale: left_shift 15)."""
    (s1, z1), (s2, z2), (so, zo) = q
    # all scale arithmetic in double except max()/2*max (float, exact) and (1 << 20) * output_scale
    # (float, an exact power-of-two scaling).
    f1, f2, fo = np.float32(s1), np.float32(s2), np.float32(so)
    twice_max = float(np.float32(2) * max(f1, f2))
    real1 = float(f1) / twice_max
    real2 = float(f2) / twice_max
    denom = float(np.float32(np.float32(1 << left_shift) * fo))
    real_out = twice_max / denom
    if not (0.0 < real_out < 1.0):
        raise Unsupported(f"output scale {so:g} is too small for the input scales (TFLite requires "
                          f"2*max(input scales) / (2^{left_shift} * output scale) < 1)")
    m1, sh1 = quant.quantize_multiplier_smaller_than_one_exp(real1)
    m2, sh2 = quant.quantize_multiplier_smaller_than_one_exp(real2)
    mo, sho = quant.quantize_multiplier_smaller_than_one_exp(real_out)
    act_min, act_max = quant.activation_range(activation(op), so, zo, dtype)
    return dict(
        input1_offset=-z1, input2_offset=-z2, output_offset=zo, left_shift=left_shift,
        input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2, input2_shift=sh2,
        output_multiplier=mo, output_shift=sho, act_min=act_min, act_max=act_max,
    )


@register("ADD")
def lower_add(g: Graph, op: Op) -> Layer:
    x1, x2, y = _operands(g, op)
    return _layer(op, "tinyml_add_s8", "tinyml_add_params_t", add_params(op, _quant(x1, x2, y)), x1, x2, y)


def mul_real_multiplier(s1: float, s2: float, so: float) -> float:
    """mul.cc: `double real = input1->params.scale * input2->params.scale / output->params.scale`:
    three floats, so the whole expression is evaluated in float and only then widened."""
    return float(np.float32(np.float32(np.float32(s1) * np.float32(s2)) / np.float32(so)))


@register("MUL")
def lower_mul(g: Graph, op: Op) -> Layer:
    x1, x2, y = _operands(g, op)
    (s1, z1), (s2, z2), (so, zo) = _quant(x1, x2, y)
    mult, shift = quant.quantize_multiplier(mul_real_multiplier(s1, s2, so))
    act_min, act_max = quant.activation_range(activation(op), so, zo)
    return _layer(op, "tinyml_mul_s8", "tinyml_mul_params_t", dict(
        input1_offset=-z1, input2_offset=-z2, output_offset=zo,
        output_multiplier=mult, output_shift=shift, act_min=act_min, act_max=act_max,
    ), x1, x2, y, macs=y.size)


@register("MAXIMUM", "MINIMUM")
def lower_maxmin(g: Graph, op: Op) -> Layer:
    x1, x2, y = _operands(g, op)
    # TFLite compares the raw int8 values and copies the winner, whatever the quantization says;
    # that only means max/min of the real values when all three tensors share scale and zero point
    # (what the converter produces). Anything else is rejected rather than silently mis-computed.
    q = _quant(x1, x2, y)
    if not all(np.float32(s) == np.float32(q[0][0]) and zp == q[0][1] for s, zp in q):
        raise Unsupported("inputs and output have different quantization "
                          f"({', '.join(f'scale {s:g} zp {zp}' for s, zp in q)}); TFLite compares raw int8 "
                          "values, which is not a max/min of the real values")
    func = "tinyml_maximum_s8" if op.type == "MAXIMUM" else "tinyml_minimum_s8"
    return _layer(op, func, "tinyml_minmax_params_t", {}, x1, x2, y)
