"""Recurrent operators with state tensors: SVDF (int8, int16 state).

A state tensor is a *variable* input of the operator: TFLite zeroes it when it allocates tensors,
the kernel updates it in place on every invoke, and it carries over to the next invoke. It is not
planned in the arena but in the model's state buffer (planner.plan_state), which
`<prefix>_reset_state()` puts back to TFLite's initial values.

TFLite 2.14 (svdf.cc, reference_ops::EvalIntegerSVDF): the int8 path needs an int16 state with
zero point 0, int16 time weights and an int32 bias; the two effective scales are
input * feature / state and state * time / output, each product and quotient taken in float
(the scales are floats in TfLiteAffineQuantization) and then QuantizeMultiplier'd in double. The
fused activation is not applied on the integer path (TFLite ignores it there too).
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op, Tensor
from . import (Layer, ScratchArg, TensorArg, Unsupported, inp, out, register, require_const,
               require_dtype, require_input, require_nonconst, require_quant)


def require_state(g: Graph, op: Op, i: int, what: str) -> Tensor:
    """Input i is a state tensor: a variable the operator updates across invokes."""
    t = require_input(g, op, i, what)
    if not t.variable:
        raise Unsupported(f"{what} '{t.name}' (input {i}) is not a variable tensor; TFLite needs it to be one "
                          "to keep the state across invokes")
    return t


def _float_scale(a: float, b: float, c: float) -> float:
    """a * b / c in float32, as TFLite computes effective scales from float tensor scales."""
    return float(np.float32(np.float32(np.float32(a) * np.float32(b)) / np.float32(c)))


def _symmetric(t: Tensor, what: str) -> float:
    if t.quant is None or t.quant.scale.size != 1 or t.quant.zp != 0:
        raise Unsupported(f"{what} '{t.name}' must be quantized per tensor with zero point 0 "
                          "(TFLite's integer kernel assumes it)")
    return t.quant.s


@register("SVDF")
def lower_svdf(g: Graph, op: Op) -> Layer:
    x, y = require_input(g, op, 0), out(g, op)
    wf = require_const(require_input(g, op, 1, "the feature weights"), "the feature weights")
    wt = require_const(require_input(g, op, 2, "the time weights"), "the time weights")
    b = inp(g, op, 3)
    state = require_state(g, op, 4, "the state")
    require_nonconst(x, "input")
    if x.dtype == "float32" or wf.dtype != "int8":
        raise Unsupported(f"SVDF with a {x.dtype} input and {wf.dtype} feature weights (the float or hybrid "
                          "variant) is not supported; quantize the model fully to int8 (int16 state)")
    require_dtype(x, "int8", what="input")
    require_dtype(y, "int8", what="output")
    require_dtype(wt, "int16", what="time weights")
    require_dtype(state, "int16", what="state")
    rank = int(op.options.get("rank", 0))
    if len(x.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2:
        raise Unsupported(f"input {list(x.shape)}, feature weights {list(wf.shape)} and time weights "
                          f"{list(wt.shape)} must all be 2-D")
    batches, input_size = x.shape
    filters, memory = wt.shape
    if rank <= 0 or filters % rank:
        raise Unsupported(f"rank {rank} does not divide the {filters} filters")
    units = filters // rank
    if tuple(wf.shape) != (filters, input_size):
        raise Unsupported(f"feature weights {list(wf.shape)} do not match {filters} filters x input size {input_size}")
    if tuple(state.shape) != (batches, memory * filters):
        raise Unsupported(f"state {list(state.shape)} is not [batches {batches}, memory {memory} x filters {filters}]")
    if y.size != batches * units:
        raise Unsupported(f"output {list(y.shape)} does not hold {batches} x {units} units")
    if b is not None:
        require_dtype(require_const(b, "the bias"), "int32", what="bias")
        if b.size != units:
            raise Unsupported(f"bias has {b.size} values for {units} units")
    s_in, z_in = require_quant(x, "input")
    s_out, z_out = require_quant(y, "output")
    s_wf, s_wt, s_state = _symmetric(wf, "feature weights"), _symmetric(wt, "time weights"), _symmetric(state, "state")
    m1, sh1 = quant.quantize_multiplier(_float_scale(s_in, s_wf, s_state))
    m2, sh2 = quant.quantize_multiplier(_float_scale(s_state, s_wt, s_out))
    return Layer(
        op=op, func="tinyml_svdf_s8", header="tinyml/svdf.h", params_type="tinyml_svdf_params_t",
        params=dict(batches=batches, input_size=input_size, filters=filters, memory=memory, units=units, rank=rank,
                    input_offset=-z_in, output_offset=z_out, mult1=m1, shift1=sh1, mult2=m2, shift2=sh2),
        args=[TensorArg(x.index), TensorArg(wf.index), TensorArg(wt.index),
              TensorArg(b.index) if b is not None else "NULL", TensorArg(state.index, const=False),
              ScratchArg("int32_t"), TensorArg(y.index, const=False)],
        scratch_bytes=4 * batches * (filters + units),
        macs=batches * filters * (input_size + memory),
        comment=f"rank {rank}, memory {memory}, int16 state",
    )
