"""LOGISTIC and TANH (int8): a 256-entry lookup table, exactly as TFLite 2.14 builds it.

For int8, SigmoidPrepare/TanhPrepare<kReference> (and kGenericOptimized) call
LUTPopulate<int8_t>(input scale/zp, output scale/zp, transform) with the float transforms
1.0f / (1.0f + expf(-x)) and tanhf(x), and Eval is a table lookup; the gemmlowp fixed-point
paths are only used by kFixedPointOptimized. We rebuild the same table (float32 arithmetic, the C
library's expf/tanhf) in tinyml_pio/fixedpoint.py and reuse the generic tinyml_lut_s8 kernel.
"""

from __future__ import annotations

import numpy as np

from .. import fixedpoint as fp
from ..ir import Graph, Op
from . import Layer, Unsupported, int8_io, lut_layer, register, require_quant


def _table(g: Graph, op: Op, transform) -> np.ndarray:
    x, y = int8_io(g, op)
    in_scale, in_zp = require_quant(x, "input")
    out_scale, out_zp = require_quant(y, "output")
    if op.type == "LOGISTIC" and float(np.float32(out_scale)) != 1.0 / 256:
        raise Unsupported(f"int8 logistic output scale must be 1/256 (got {out_scale:g}); TFLite refuses it too")
    return fp.lut_populate_s8(in_scale, in_zp, out_scale, out_zp, transform)


@register("LOGISTIC")
def lower_logistic(g: Graph, op: Op) -> Layer:
    return lut_layer(g, op, _table(g, op, fp.logistic_transform), comment="LUTPopulate(1 / (1 + expf(-x)))")


@register("TANH")
def lower_tanh(g: Graph, op: Op) -> Layer:
    return lut_layer(g, op, _table(g, op, fp.tanh_transform), comment="LUTPopulate(tanhf(x))")
