"""L2_NORMALIZATION (int8) over the last axis.

TFLite 2.14 (l2norm.cc, kReference): Prepare requires the int8 output's scale to be 1/128 and its
zero point 0 and no fused activation; Eval is reference_integer_ops::L2Normalization, whose
inverse square root depends on the data and so runs in the kernel (tinyml_inv_sqrt_exp).
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from . import Layer, TensorArg, Unsupported, int8_io, register, require_nonconst, require_quant


@register("L2_NORMALIZATION")
def lower_l2norm(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    require_nonconst(x, "input")
    _, zi = require_quant(x, "input")
    so, zo = require_quant(y, "output")
    if np.float32(so) != np.float32(1 / 128) or zo != 0:
        raise Unsupported(f"int8 output must have scale 1/128 and zero point 0 (got {so:g}, {zo}); TFLite refuses it too")
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise Unsupported("fused activation on L2_NORMALIZATION is not supported")
    if not x.shape or x.shape != y.shape:
        raise Unsupported(f"input {list(x.shape)} and output {list(y.shape)} must have the same non-scalar shape")
    depth = x.shape[-1]
    if depth * 256 * 256 >= 1 << 31:
        raise Unsupported(f"a depth of {depth} would overflow the int32 sum of squares")
    return Layer(op=op, func="tinyml_l2norm_s8", header="tinyml/normalization.h", params_type="tinyml_l2norm_params_t",
                 params=dict(outer=x.size // depth, depth=depth, input_zero_point=zi),
                 args=[TensorArg(x.index), TensorArg(y.index, const=False)], macs=2 * x.size,
                 comment=f"rows of {depth}")
