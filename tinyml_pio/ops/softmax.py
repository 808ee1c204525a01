"""SOFTMAX and LOG_SOFTMAX (int8 -> int8, last axis), as TFLite 2.14 runs them under kReference.

SoftmaxPrepare<kReference>: PreprocessSoftmaxScaling(beta, input_scale, 5) and
diff_min = -CalculateInputRadius(5, left_shift); the kernel is reference_ops::Softmax (gemmlowp
exp_on_negative_values, a Q12 sum, GetReciprocal). LogSoftmaxPrepare<kReference>:
PreprocessLogSoftmaxScalingExp(1.0, input_scale, 5) with the reverse scaling; the kernel is
reference_integer_ops::LogSoftmax. The exponential of each of the 256 possible differences to the
row maximum is evaluated here (tinyml_pio/fixedpoint.py) and passed as a table; the C kernels do
the sums, reciprocal/log and final scaling with library/include/tinyml/fixedpoint.h.
"""

from __future__ import annotations

import numpy as np

from .. import fixedpoint as fp
from ..ir import Graph, Op, Tensor
from . import ConstArg, Layer, TensorArg, Unsupported, int8_io, register, require_quant, require_same_shape


def _rows(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 1:
        raise Unsupported("softmax of a scalar (rank 0) tensor")
    depth = int(shape[-1])
    outer = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return outer, depth


def _row_layer(op: Op, x: Tensor, y: Tensor, func: str, params_type: str, table_name: str, table: np.ndarray,
               comment: str = "", **params: int) -> Layer:
    """The call shared by both kernels: func(&params, table, input, output) on the rows of the last axis,
    with `params` after the row count and depth; in place (a row is read before it is overwritten)."""
    require_same_shape(x, y)
    outer, depth = _rows(x.shape)
    return Layer(
        op=op,
        func=func,
        header="tinyml/softmax.h",
        params_type=params_type,
        params=dict(outer=outer, depth=depth, **params),
        args=[ConstArg(table_name), TensorArg(x.index), TensorArg(y.index, const=False)],
        consts={table_name: table.astype(np.int32)},
        inplace=(x.index, y.index),
        comment=comment,
    )


@register("SOFTMAX")
def lower_softmax(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    in_scale, _ = require_quant(x, "input")
    out_scale, out_zp = require_quant(y, "output")
    # SoftmaxPrepare: TF_LITE_ENSURE_EQ(zero_point, -128), TF_LITE_ENSURE_NEAR(scale, 1/256, 0.001/256)
    if out_zp != -128 or abs(float(np.float32(out_scale)) - 1.0 / 256) > 0.001 / 256:
        raise Unsupported(f"int8 softmax output must have scale 1/256 and zero point -128 "
                          f"(got {out_scale:g}, {out_zp}); TFLite refuses it too")
    beta = float(np.float32(op.options.get("beta", 1.0)))
    real = beta * float(np.float32(in_scale)) * float(1 << (31 - fp.SCALED_DIFF_INTEGER_BITS))
    if not real > 1.0:
        raise Unsupported(f"beta * input scale ({beta:g} * {in_scale:g}) is too small for TFLite's int8 softmax")
    c = fp.SoftmaxConsts(float(np.float32(in_scale)), beta)
    return _row_layer(op, x, y, "tinyml_softmax_s8", "tinyml_softmax_params_t", "exp", c.exp_table,
                      comment=f"beta={beta:g} input_multiplier={c.mult} left_shift={c.left_shift} diff_min={c.diff_min}")


@register("LOG_SOFTMAX")
def lower_log_softmax(g: Graph, op: Op) -> Layer:
    x, y = int8_io(g, op)
    in_scale, _ = require_quant(x, "input")
    out_scale, out_zp = require_quant(y, "output")
    if float(np.float32(out_scale)) != 16.0 / 256 or out_zp != 127:
        raise Unsupported(f"int8 log_softmax output must have scale 16/256 and zero point 127 "
                          f"(got {out_scale:g}, {out_zp}); TFLite refuses it too")
    if not float(np.float32(in_scale)) * float(1 << (31 - fp.SCALED_DIFF_INTEGER_BITS)) > 1.0:
        raise Unsupported(f"input scale {in_scale:g} is too small for TFLite's int8 log_softmax")
    c = fp.LogSoftmaxConsts(float(np.float32(in_scale)))
    return _row_layer(op, x, y, "tinyml_log_softmax_s8", "tinyml_log_softmax_params_t", "exp_q12", c.exp_q12_table,
                      input_multiplier=c.mult, input_shift=c.left_shift, reverse_multiplier=c.rev_mult,
                      reverse_shift=c.rev_shift, diff_min=c.diff_min)
