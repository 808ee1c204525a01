"""16x8 quantization (int16 activations, int8 weights): the kernels TFLite recommends for audio and
regression. So far FULLY_CONNECTED (QUANTIZE float32 -> int16 and DEQUANTIZE int16 -> float32 are in
quantize.py).

TFLite 2.14 (fully_connected.cc, kReference, int16 input): activations symmetric (zero point 0),
weights int8 symmetric (per-tensor: GetQuantizedConvolutionMultipler's float product; per-channel:
double per channel), bias int64 or absent; reference_integer_ops::FullyConnected accumulates in
int64 and requantizes with the int64 MultiplyByQuantizedMultiplier (multiplier rounded to 16 bits).
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op
from . import (ConstArg, Layer, TensorArg, Unsupported, activation, inp, out, register_int16, require_const,
               require_dtype, require_nonconst, require_quant)


@register_int16("FULLY_CONNECTED")
def lower_fc_16x8(g: Graph, op: Op) -> Layer:
    x, w, b, y = inp(g, op, 0), inp(g, op, 1), inp(g, op, 2), out(g, op)
    if x is None or w is None:
        raise Unsupported("missing input or weights")
    require_dtype(x, "int16", what="input")
    require_nonconst(x, "input")
    w = require_const(w, "the weights")
    require_dtype(w, "int8", what="weights")
    (si, zi), (so, zo) = require_quant(x, "input"), require_quant(y, "output")
    if zi != 0 or zo != 0:
        raise Unsupported(f"int16 activations must have zero point 0 (input {zi}, output {zo}); TFLite requires it")
    if w.quant is None or np.any(w.quant.zero_point != 0) or len(w.shape) != 2:
        raise Unsupported("weights must be 2-D and symmetrically quantized (zero point 0)")
    if op.options.get("weights_format", 0) != 0:
        raise Unsupported("shuffled weights format is not supported")
    out_depth, depth = w.shape
    if x.size % depth or y.size != (x.size // depth) * out_depth:
        raise Unsupported(f"input {list(x.shape)}, weights {list(w.shape)} and output {list(y.shape)} do not agree")
    if b is not None:
        require_dtype(require_const(b, "the bias"), "int64", what="bias (16x8 models carry int64 biases)")
    if w.quant.scale.size > 1:
        mults, shifts = quant.conv_per_channel_multipliers(si, w.quant.scale, so, out_depth)
    else:
        m, s = quant.quantize_multiplier(quant.conv_multiplier_float_product(si, w.quant.s, so))
        mults, shifts = np.full(out_depth, m, np.int32), np.full(out_depth, s, np.int32)
    if np.any(shifts >= 8):
        raise Unsupported("output multiplier shift >= 8 (outside TFLite's int64 requantization range)")
    act_min, act_max = quant.activation_range(activation(op), so, zo, "int16")
    batches = x.size // depth
    return Layer(
        op=op, func="tinyml_fully_connected_s16", header="tinyml/fully_connected.h", params_type="tinyml_fc_params_t",
        params=dict(batches=batches, in_depth=depth, out_depth=out_depth, output_offset=0, act_min=act_min,
                    act_max=act_max),
        args=[TensorArg(x.index), TensorArg(w.index), TensorArg(b.index) if b is not None else "NULL",
              ConstArg("mult"), ConstArg("shift"), TensorArg(y.index, const=False)],
        consts={"mult": mults, "shift": shifts}, macs=batches * depth * out_depth, comment="16x8",
    )
