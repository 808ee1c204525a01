"""FULLY_CONNECTED (int8 activations, int8 weights per-tensor or per-channel, int32 bias).

TFLite reference: reference_integer_ops::FullyConnected. The input zero point is folded into
the bias (acc = sum(w*x) + bias + in_offset*sum(w) is exact: there is no padding in a matmul).
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op
from . import (Layer, TensorArg, ConstArg, Unsupported, activation, inp, out, register, require_const, require_dtype,
               require_input, require_int8_io, require_quant, require_nonconst)


@register("FULLY_CONNECTED")
def lower(g: Graph, op: Op) -> Layer:
    x, w, b, y = require_input(g, op, 0), require_input(g, op, 1, "the weights"), inp(g, op, 2), out(g, op)
    require_int8_io(x, y)
    require_nonconst(x, "input")
    w = require_const(w, "the weights")
    require_dtype(w, "int8", what="weights")
    if op.options.get("weights_format", 0) != 0:
        raise Unsupported("shuffled weights format is not supported")
    if w.quant is None or np.any(w.quant.zero_point != 0):
        raise Unsupported("weights must be symmetrically quantized (zero point 0)")
    in_scale, in_zp = require_quant(x, "input")
    out_scale, out_zp = require_quant(y, "output")
    if len(w.shape) != 2:
        raise Unsupported(f"weights must be 2-D [outputs, depth], got {list(w.shape)}")
    out_depth, depth = w.shape
    if x.size % depth:
        raise Unsupported(f"input size {x.size} is not a multiple of the weights' depth {depth}")
    batches = x.size // depth
    # FullyConnectedPrepare: the output holds batches x out_depth values, out_depth innermost.
    if y.size != batches * out_depth or not y.shape or y.shape[-1] != out_depth:
        raise Unsupported(f"output shape {list(y.shape)} does not match {batches} batch(es) of the weights' "
                          f"{out_depth} outputs")
    if w.quant.scale.size > 1 and (w.quant.scale.size != out_depth or w.quant.axis != 0):
        raise Unsupported(f"{w.quant.scale.size} per-channel weight scales (axis {w.quant.axis}) for {out_depth} "
                          "outputs; expected one per output along axis 0")
    act_min, act_max = quant.activation_range(activation(op), out_scale, out_zp)

    wq = w.data.astype(np.int64)
    bias = np.zeros(out_depth, np.int64)
    if b is not None:
        require_const(b, "the bias")
        require_dtype(b, "int32", what="bias")
        if b.size != out_depth:
            raise Unsupported(f"bias has {b.size} values for {out_depth} outputs")
        bias = b.data.astype(np.int64).reshape(out_depth)
    folded = bias + (-in_zp) * wq.sum(axis=1)
    if np.any(folded > quant.INT32_MAX) or np.any(folded < quant.INT32_MIN):
        raise Unsupported("folded bias overflows int32")

    if w.quant.scale.size > 1:
        mults, shifts = quant.conv_per_channel_multipliers(in_scale, w.quant.scale, out_scale, out_depth)
    else:
        m, s = quant.quantize_multiplier(quant.conv_multiplier_float_product(in_scale, w.quant.s, out_scale))
        mults, shifts = np.full(out_depth, m, np.int32), np.full(out_depth, s, np.int32)

    return Layer(
        op=op,
        func="tinyml_fully_connected_s8",
        header="tinyml/fully_connected.h",
        params_type="tinyml_fc_params_t",
        params=dict(batches=batches, in_depth=depth, out_depth=out_depth, output_offset=out_zp,
                    act_min=act_min, act_max=act_max),
        args=[TensorArg(x.index), TensorArg(w.index), ConstArg("bias"), ConstArg("mult"), ConstArg("shift"),
              TensorArg(y.index, const=False)],
        consts={"bias": folded.astype(np.int32), "mult": mults, "shift": shifts},
        macs=batches * depth * out_depth,
    )
