"""Recurrent operators with state tensors: SVDF (int8 with int16 state; float32) and UNIDIRECTIONAL_SEQUENCE_LSTM
(TFLite's integer 8x8_16 LSTM: int8 weights and activations, int16 cell state).

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

from dataclasses import dataclass

import numpy as np

from .. import quant
from ..ir import Graph, Op, Tensor
from . import (ConstArg, Layer, ScratchArg, TensorArg, Unsupported, inp, out, register, register_float, require_const,
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


@dataclass
class _Svdf:
    x: Tensor
    y: Tensor
    wf: Tensor
    wt: Tensor
    b: Tensor | None
    state: Tensor
    dims: dict[str, int]  # the kernel's shape parameters


def _svdf(g: Graph, op: Op, dtype: str, time_dtype: str, bias_dtype: str) -> _Svdf:
    """SVDF's operands and shapes (svdf.cc Prepare's checks) for the variant of these dtypes."""
    x, y = require_input(g, op, 0), out(g, op)
    wf = require_const(require_input(g, op, 1, "the feature weights"), "the feature weights")
    wt = require_const(require_input(g, op, 2, "the time weights"), "the time weights")
    b = inp(g, op, 3)
    state = require_state(g, op, 4, "the state")
    require_nonconst(x, "input")
    if x.dtype != wf.dtype:
        raise Unsupported(f"SVDF with a {x.dtype} input and {wf.dtype} feature weights (the hybrid variant) is not "
                          "supported; quantize the model fully to int8 (int16 state) or keep it float")
    for t, what, want in ((x, "input", dtype), (y, "output", dtype), (wt, "time weights", time_dtype),
                          (state, "state", time_dtype)):
        require_dtype(t, want, what=what)
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
        require_dtype(require_const(b, "the bias"), bias_dtype, what="bias")
        if b.size != units:
            raise Unsupported(f"bias has {b.size} values for {units} units")
    return _Svdf(x, y, wf, wt, b, state, dict(batches=batches, input_size=input_size, filters=filters,
                                               memory=memory, units=units, rank=rank))


def _svdf_args(s: _Svdf) -> list:
    return [TensorArg(s.x.index), TensorArg(s.wf.index), TensorArg(s.wt.index),
            TensorArg(s.b.index) if s.b is not None else "NULL", TensorArg(s.state.index, const=False)]


@register("SVDF")
def lower_svdf(g: Graph, op: Op) -> Layer:
    s = _svdf(g, op, "int8", "int16", "int32")
    d = s.dims
    s_in, z_in = require_quant(s.x, "input")
    s_out, z_out = require_quant(s.y, "output")
    s_wf, s_wt = _symmetric(s.wf, "feature weights"), _symmetric(s.wt, "time weights")
    s_state = _symmetric(s.state, "state")
    m1, sh1 = quant.quantize_multiplier(_float_scale(s_in, s_wf, s_state))
    m2, sh2 = quant.quantize_multiplier(_float_scale(s_state, s_wt, s_out))
    return Layer(
        op=op, func="tinyml_svdf_s8", header="tinyml/svdf.h", params_type="tinyml_svdf_params_t",
        params=dict(d, input_offset=-z_in, output_offset=z_out, mult1=m1, shift1=sh1, mult2=m2, shift2=sh2),
        args=[*_svdf_args(s), ScratchArg("int32_t"), TensorArg(s.y.index, const=False)],
        scratch_bytes=4 * d["batches"] * (d["filters"] + d["units"]),
        macs=d["batches"] * d["filters"] * (d["input_size"] + d["memory"]),
        comment=f"rank {d['rank']}, memory {d['memory']}, int16 state",
    )


_FLOAT_ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}


@register_float("SVDF")
def lower_svdf_float(g: Graph, op: Op) -> Layer:
    """reference_ops::EvalFloatSVDF, bit-exact: the same float operations in the same order, no
    contraction (a float island after a DEQUANTIZE, or a float tail)."""
    s = _svdf(g, op, "float32", "float32", "float32")
    d = s.dims
    act = op.options.get("fused_activation_function", "NONE")
    if act not in _FLOAT_ACT:
        raise Unsupported(f"fused activation {act} is not supported for the float SVDF")
    return Layer(
        op=op, func="tinyml_svdf_f32", header="tinyml/svdf.h", params_type="tinyml_svdf_params_t",
        params=dict(d, input_offset=0, output_offset=0, mult1=0, shift1=0, mult2=0, shift2=0),
        args=[str(_FLOAT_ACT[act]), *_svdf_args(s), ScratchArg("float"), TensorArg(s.y.index, const=False)],
        scratch_bytes=4 * d["batches"] * d["filters"],
        macs=d["batches"] * d["filters"] * (d["input_size"] + d["memory"]),
        comment=f"float32, rank {d['rank']}, memory {d['memory']}",
    )


# ---- UNIDIRECTIONAL_SEQUENCE_LSTM -------------------------------------------------------------
# TFLite 2.14 (unidirectional_sequence_lstm.cc Prepare, PopulateQuantizedLstmParams8x8_16 and
# PopulatePrecomputedZPTimesWeightsWithBias; lstm_eval.cc EvalInteger8x8_16). Input positions:
_GATES = ("input", "forget", "cell", "output")
_IN_W, _REC_W, _BIAS = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
_PEEPHOLE, _PROJ_W, _PROJ_B, _OUT_STATE, _CELL_STATE, _LAYER_NORM = (9, 10, 11), 16, 17, 18, 19, (20, 21, 22, 23)
_Q3_12 = float(np.float32(2.0 ** -12))  # the gates' fixed scale without layer norm


def _f32(x: float) -> np.float32:
    return np.float32(x)


def _zp_times_weights(w: np.ndarray, zp: int, bias: np.ndarray | None) -> np.ndarray:
    """PrecomputeZeroPointTimesWeightWithBias: bias + zp * (row sums), in int32 as TFLite keeps it."""
    base = np.zeros(w.shape[0], np.int64) if bias is None else bias.astype(np.int64)
    out = base + zp * w.astype(np.int64).sum(axis=1)
    if np.any(out > quant.INT32_MAX) or np.any(out < quant.INT32_MIN):
        raise Unsupported("a zero-point-folded gate bias overflows int32")
    return out


@register("UNIDIRECTIONAL_SEQUENCE_LSTM")
def lower_lstm(g: Graph, op: Op) -> Layer:
    x, y = require_input(g, op, 0), out(g, op)
    require_nonconst(x, "input")
    if x.dtype == "float32":
        raise Unsupported("the float (or hybrid) LSTM is not supported; convert with full integer quantization "
                          "(int8 activations and weights, int16 cell state)")
    require_dtype(x, "int8", what="input")
    require_dtype(y, "int8", what="output")
    if inp(g, op, _IN_W[0]) is None:
        raise Unsupported("CIFG (coupled input and forget gates, no input-gate weights) is not supported yet")
    if any(inp(g, op, i) is not None for i in _PEEPHOLE):
        raise Unsupported("peephole connections (cell-to-gate weights) are not supported yet")
    if any(inp(g, op, i) is not None for i in _LAYER_NORM if i < len(op.inputs)):
        raise Unsupported("layer normalization (TFLite's integer ApplyLayerNorm) is not supported yet")
    if len(op.intermediates) != 5:
        raise Unsupported(f"{len(op.intermediates)} intermediate tensors; TFLite's 8x8_16 integer LSTM has 5 "
                          "(the 12 of the 8x8_8 variant are not supported)")
    h = require_state(g, op, _OUT_STATE, "the output state")
    c = require_state(g, op, _CELL_STATE, "the cell state")
    require_dtype(h, "int8", what="output state")
    require_dtype(c, "int16", what="cell state")
    in_w = [require_const(require_input(g, op, i, f"input-to-{n} weights"), f"input-to-{n} weights")
             for i, n in zip(_IN_W, _GATES)]
    rec_w = [require_const(require_input(g, op, i, f"recurrent-to-{n} weights"), f"recurrent-to-{n} weights")
              for i, n in zip(_REC_W, _GATES)]
    biases = [require_const(require_input(g, op, i, f"{n} gate bias"), f"{n} gate bias") for i, n in zip(_BIAS, _GATES)]
    for t in in_w + rec_w:
        require_dtype(t, "int8", what="weights")
    for t in biases:
        require_dtype(t, "int32", what="gate bias")
    if len(x.shape) != 3:
        raise Unsupported(f"input {list(x.shape)} is not 3-D (time, batch, features or batch, time, features)")
    time_major = bool(op.options.get("time_major", False))
    time, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_input = x.shape[2]
    n_cell = in_w[3].shape[0]
    n_output = rec_w[3].shape[1]
    if (any(tuple(w.shape) != (n_cell, n_input) for w in in_w)
            or any(tuple(w.shape) != (n_cell, n_output) for w in rec_w)):
        raise Unsupported(f"the gate weights do not all have shape [{n_cell}, {n_input}] (input) and "
                          f"[{n_cell}, {n_output}] (recurrent)")
    if any(b.size != n_cell for b in biases):
        raise Unsupported(f"a gate bias does not have {n_cell} values")
    if tuple(y.shape) != tuple(x.shape[:2]) + (n_output,):
        raise Unsupported(f"output {list(y.shape)} is not {list(x.shape[:2]) + [n_output]}")
    if h.size != batches * n_output or c.size != batches * n_cell:
        raise Unsupported(f"state sizes {h.size} and {c.size} do not match {batches} batch(es) of "
                          f"{n_output} outputs and {n_cell} cells")
    pw, pb = inp(g, op, _PROJ_W), inp(g, op, _PROJ_B)
    if pw is None and n_output != n_cell:
        raise Unsupported(f"{n_output} outputs but {n_cell} cells and no projection")
    if pw is not None:
        require_dtype(require_const(pw, "the projection weights"), "int8", what="projection weights")
        if tuple(pw.shape) != (n_output, n_cell):
            raise Unsupported(f"projection weights {list(pw.shape)} are not [{n_output}, {n_cell}]")
    if pb is not None:
        require_dtype(require_const(pb, "the projection bias"), "int32", what="projection bias")
    if pb is not None and pw is None:
        raise Unsupported("a projection bias without projection weights")

    s_in, z_in = require_quant(x, "input")
    s_h, z_h = require_quant(h, "output state")
    s_y, z_y = require_quant(y, "output")
    if (s_y, z_y) != (s_h, z_h):
        raise Unsupported("the output and the output state are quantized differently; TFLite copies one into the other")
    s_c, z_c = require_quant(c, "cell state")
    cell_scale = int(round(float(np.log2(np.float32(s_c)))))
    if z_c != 0 or abs(float(np.log2(np.float32(s_c))) - cell_scale) >= 1e-3:
        raise Unsupported(f"cell state scale {s_c:g} (zero point {z_c}) is not a power of two with zero point 0, "
                          "as TFLite's integer LSTM requires")
    if not 0 <= 15 + cell_scale <= 6:
        raise Unsupported(f"cell state scale 2^{cell_scale}: TFLite's int16 tanh takes 2^-15 to 2^-9")
    hidden = g.t(op.intermediates[4])
    if hidden.quant is None:
        raise Unsupported("the hidden-state intermediate tensor has no quantization parameters")
    s_hid, z_hid = hidden.quant.s, hidden.quant.zp

    for w in in_w + rec_w + ([pw] if pw is not None else []):
        if w.quant is None or w.quant.scale.size != 1 or w.quant.zp != 0:
            raise Unsupported(f"weights '{w.name}' must be quantized per tensor with zero point 0")

    def qm(v: np.float32) -> tuple[int, int]:
        return quant.quantize_multiplier(float(v))

    in_q = [qm(_f32(w.quant.s) * _f32(s_in) / _f32(_Q3_12)) for w in in_w]
    rec_q = [qm(_f32(w.quant.s) * _f32(s_h) / _f32(_Q3_12)) for w in rec_w]
    hid_q = qm(_f32(_f32(2.0 ** -15) / _f32(s_hid)) * _f32(2.0 ** -15))
    proj_q = qm(_f32(pw.quant.s) * _f32(s_hid) / _f32(s_h)) if pw is not None else (0, 0)
    cell_clip = float(op.options.get("cell_clip", 0.0))
    proj_clip = float(op.options.get("proj_clip", 0.0))
    q_cell_clip = int(np.clip(_f32(cell_clip) / _f32(s_c), -32768.0, 32767.0)) if cell_clip > 0 else 0
    q_proj_clip = int(np.clip(_f32(proj_clip) / _f32(s_y), -128.0, 127.0)) if proj_clip > 0 else 0

    in_bias = np.concatenate([_zp_times_weights(w.data, -z_in, b.data.reshape(-1)) for w, b in zip(in_w, biases)])
    rec_bias = np.concatenate([_zp_times_weights(w.data, -z_h, None) for w in rec_w])
    consts = {"in_w": np.concatenate([w.data.reshape(-1) for w in in_w]).astype(np.int8),
              "rec_w": np.concatenate([w.data.reshape(-1) for w in rec_w]).astype(np.int8),
              "in_bias": in_bias.astype(np.int32), "rec_bias": rec_bias.astype(np.int32)}
    proj_args: list = ["NULL", "NULL"]
    if pw is not None:  # hidden = value - zero point here, and the bias adds zero point x row sums back
        bias = None if pb is None else pb.data.reshape(-1)
        consts["proj_bias"] = _zp_times_weights(pw.data, z_hid, bias).astype(np.int32)
        proj_args = [TensorArg(pw.index), ConstArg("proj_bias")]
    params = dict(batches=batches, time=time, n_input=n_input, n_cell=n_cell, n_output=n_output,
                  time_major=int(time_major), projection=int(pw is not None),
                  in_mult=[m for m, _ in in_q], in_shift=[s for _, s in in_q],
                  rec_mult=[m for m, _ in rec_q], rec_shift=[s for _, s in rec_q],
                  hidden_mult=hid_q[0], hidden_shift=hid_q[1], hidden_offset=-z_hid if pw is not None else z_hid,
                  proj_mult=proj_q[0], proj_shift=proj_q[1], output_state_zp=z_h, cell_scale=cell_scale,
                  cell_clip=q_cell_clip, proj_clip=q_proj_clip)
    steps = time * batches
    return Layer(
        op=op, func="tinyml_lstm_s8_s16", header="tinyml/lstm.h", params_type="tinyml_lstm_params_t", params=params,
        args=[TensorArg(x.index), ConstArg("in_w"), ConstArg("rec_w"), ConstArg("in_bias"), ConstArg("rec_bias"),
              *proj_args, TensorArg(h.index, const=False), TensorArg(c.index, const=False), ScratchArg("int16_t"),
              TensorArg(y.index, const=False)],
        consts=consts,
        scratch_bytes=(4 * 2 + 1) * batches * n_cell,
        macs=steps * (4 * n_cell * (n_input + n_output) + (n_output * n_cell if pw is not None else 0)),
        comment=f"{'time' if time_major else 'batch'}-major, {time} steps, {n_cell} cells, "
                f"int16 cell state 2^{cell_scale}",
    )
