"""SUB, SQUARED_DIFFERENCE and PRELU (int8, broadcasting): the binary element-wise kernels of
elementwise.py with TFLite 2.14's constants.

  SUB                 sub.cc PrepareGeneralSubOp: ADD's constants (left shift 20); Eval subtracts
                      the two rescaled inputs (reference_ops::Sub / BroadcastQuantSubSlow).
  SQUARED_DIFFERENCE  squared_difference.cc: the same input rescaling with left shift 7, the
                      squared difference requantized with QuantizeMultiplier(twice_max^2 /
                      (2^14 * output_scale)), no fused activation.
  PRELU               prelu.cc: QuantizeMultiplier(in / out) for x >= 0 and (in * alpha / out) for
                      x < 0, scale products in float; reference_ops::BroadcastPrelu4DSlow.
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op
from . import Layer, Unsupported, register
from .elementwise import _layer, _operands, _quant, add_params


@register("SUB")
def lower_sub(g: Graph, op: Op) -> Layer:
    x1, x2, y = _operands(g, op)
    return _layer(op, "tinyml_sub_s8", "tinyml_add_params_t", add_params(op, _quant(x1, x2, y)), x1, x2, y)


@register("SQUARED_DIFFERENCE")
def lower_squared_difference(g: Graph, op: Op) -> Layer:
    x1, x2, y = _operands(g, op)
    q = _quant(x1, x2, y)
    (s1, _), (s2, _), (so, _) = q
    p = add_params(op, q, left_shift=7)  # input multipliers; the output one is recomputed below
    twice_max = 2.0 * float(max(np.float32(s1), np.float32(s2)))
    real_out = twice_max * twice_max / float(np.float32(np.float32(1 << 14) * np.float32(so)))
    p["output_multiplier"], p["output_shift"] = quant.quantize_multiplier(real_out)
    return _layer(op, "tinyml_squared_difference_s8", "tinyml_add_params_t", p, x1, x2, y, macs=y.size)


@register("PRELU")
def lower_prelu(g: Graph, op: Op) -> Layer:
    x, alpha, y = _operands(g, op)
    (si, zi), (sa, za), (so, zo) = _quant(x, alpha, y)
    f = np.float32
    m1, sh1 = quant.quantize_multiplier(float(f(si) / f(so)))
    m2, sh2 = quant.quantize_multiplier(float(f(f(si) * f(sa)) / f(so)))
    if x.shape != y.shape:
        raise Unsupported(f"input shape {list(x.shape)} differs from the output shape {list(y.shape)}")
    return _layer(op, "tinyml_prelu_s8", "tinyml_prelu_params_t", dict(
        input_offset=-zi, alpha_offset=-za, output_offset=zo, output_multiplier_1=m1, output_shift_1=sh1,
        output_multiplier_2=m2, output_shift_2=sh2), x, alpha, y, macs=y.size)
