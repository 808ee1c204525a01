"""16x8 quantization (int16 activations, int8 weights): the kernels TFLite recommends for audio and
regression. This module: FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, the pools, ADD and MUL;
int16_act.py: SOFTMAX, LOGISTIC, TANH, QUANTIZE from int16, CONCATENATION. (QUANTIZE float32 ->
int16 and DEQUANTIZE int16 -> float32 are in quantize.py; RESHAPE is an alias for every dtype.)

TFLite 2.14 (kReference, int16 input): activations symmetric (zero point 0, which every 16x8
Prepare checks), weights int8 symmetric, bias int64 or absent.
- FULLY_CONNECTED: per-tensor weights use GetQuantizedConvolutionMultipler's float product,
  per-channel ones a double per channel; reference_integer_ops::FullyConnected accumulates in
  int64 and requantizes with the int64 MultiplyByQuantizedMultiplier (multiplier rounded to 16 bits).
- CONV_2D / DEPTHWISE_CONV_2D: PopulateConvolutionQuantizationParams (double per channel, as for
  int8), reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel on int16 with an int64
  accumulator and the same int64 requantization.
- AVERAGE_POOL_2D / MAX_POOL_2D: the int8 loops on int16 (ops/pool.py).
- ADD: add.cc's general-scale int16 path (pot_scale_int16 false, what the converter writes): the
  int8 arithmetic with left_shift 15. The power-of-two path (pot_scale_int16 true) is refused.
- MUL: mul.cc's int16 path, reference_integer_ops::MulElementwise (the int8 arithmetic).
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op, Tensor
from . import (ConstArg, Layer, TensorArg, Unsupported, activation, inp, out, register_int16, require_const,
               require_dtype, require_input, require_nonconst, require_quant)
from .conv import _geometry, _params, _window_comment
from .elementwise import _layer as _ew_layer, add_params, mul_real_multiplier
from .pool import lower_pool


def symmetric(*ts: tuple[Tensor, str]) -> list[float]:
    """The scales of int16 tensors, which must be per-tensor with zero point 0 (TFLite requires it)."""
    scales = []
    for t, what in ts:
        s, zp = require_quant(t, what)
        if zp != 0:
            raise Unsupported(f"int16 {what} '{t.name}' has zero point {zp}; 16x8 tensors must have zero point 0 "
                              "(TFLite requires it)")
        scales.append(s)
    return scales


def _weights_bias(w: Tensor | None, b: Tensor | None, ndim: int, out_c: int) -> tuple[Tensor, list]:
    """Constant symmetric int8 weights of rank `ndim` and an optional constant int64 bias."""
    w = require_const(w, "the weights")
    require_dtype(w, "int8", what="weights")
    if w.quant is None or np.any(w.quant.zero_point != 0) or len(w.shape) != ndim:
        raise Unsupported(f"weights must be {ndim}-D and symmetrically quantized (zero point 0)")
    if w.quant.scale.size not in (1, out_c):
        raise Unsupported(f"{w.quant.scale.size} weight scales for {out_c} output channels")
    if b is None:
        return w, ["NULL"]
    require_dtype(require_const(b, "the bias"), "int64", what="bias (16x8 models carry int64 biases)")
    if b.size != out_c:
        raise Unsupported(f"bias has {b.size} values for {out_c} output channels")
    return w, [TensorArg(b.index)]


def _check_shifts(shifts: np.ndarray) -> None:
    if np.any(shifts >= 8):
        raise Unsupported("output multiplier shift >= 8 (outside TFLite's int64 requantization range)")


def _io(g: Graph, op: Op) -> tuple[Tensor, Tensor, float, float]:
    x, y = require_input(g, op, 0), out(g, op)
    require_dtype(x, "int16", what="input")
    require_nonconst(x, "input")
    si, so = symmetric((x, "input"), (y, "output"))
    return x, y, si, so


@register_int16("FULLY_CONNECTED")
def lower_fc_16x8(g: Graph, op: Op) -> Layer:
    x, y, si, so = _io(g, op)
    w = inp(g, op, 1)
    if w is None or len(w.shape) != 2:
        raise Unsupported("weights must be 2-D and symmetrically quantized (zero point 0)")
    if op.options.get("weights_format", 0) != 0:
        raise Unsupported("shuffled weights format is not supported")
    out_depth, depth = w.shape
    w, bias = _weights_bias(w, inp(g, op, 2), 2, out_depth)
    if x.size % depth or y.size != (x.size // depth) * out_depth:
        raise Unsupported(f"input {list(x.shape)}, weights {list(w.shape)} and output {list(y.shape)} do not agree")
    if w.quant.scale.size > 1:
        mults, shifts = quant.conv_per_channel_multipliers(si, w.quant.scale, so, out_depth)
    else:
        m, s = quant.quantize_multiplier(quant.conv_multiplier_float_product(si, w.quant.s, so))
        mults, shifts = np.full(out_depth, m, np.int32), np.full(out_depth, s, np.int32)
    _check_shifts(shifts)
    act_min, act_max = quant.activation_range(activation(op), so, 0, "int16")
    batches = x.size // depth
    return Layer(
        op=op, func="tinyml_fully_connected_s16", header="tinyml/fully_connected.h", params_type="tinyml_fc_params_t",
        params=dict(batches=batches, in_depth=depth, out_depth=out_depth, output_offset=0, act_min=act_min,
                    act_max=act_max),
        args=[TensorArg(x.index), TensorArg(w.index), *bias, ConstArg("mult"), ConstArg("shift"),
              TensorArg(y.index, const=False)],
        consts={"mult": mults, "shift": shifts}, macs=batches * depth * out_depth, comment="16x8",
    )


def _conv_layer(g: Graph, op: Op, depthwise: bool) -> Layer:
    x, y, si, so = _io(g, op)
    w = inp(g, op, 1)
    if w is None or len(w.shape) != 4:
        raise Unsupported("weights must be 4-D and symmetrically quantized (zero point 0)")
    if len(x.shape) != 4:
        raise Unsupported(f"input must be 4-D (NHWC), got {list(x.shape)}")
    in_c = x.shape[3]
    if depthwise:
        one, fh, fw, out_c = w.shape
        if one != 1 or in_c <= 0 or out_c % in_c:
            raise Unsupported(f"depthwise weights {list(w.shape)} do not fit an input of {in_c} channels")
        opt_mult = int(op.options.get("depth_multiplier", out_c // in_c))
        if opt_mult not in (0, out_c // in_c):
            raise Unsupported(f"depth_multiplier option {opt_mult} does not match the shapes ({in_c} -> {out_c})")
        filt = dict(depth_multiplier=out_c // in_c, filter_h=fh, filter_w=fw)
    else:
        out_c, fh, fw, fc = w.shape
        if fc != in_c:
            raise Unsupported(f"filter depth {fc} differs from the input depth {in_c} (grouped 16x8 convolution)")
        filt = dict(filter_h=fh, filter_w=fw, filter_c=fc)
    w, bias = _weights_bias(w, inp(g, op, 2), 4, out_c)
    axis = 3 if depthwise else 0
    if w.quant.scale.size > 1 and w.quant.axis is not None and w.quant.axis != axis:
        raise Unsupported(f"weights are quantized along axis {w.quant.axis}; expected axis {axis}")
    geo = _geometry(op, x, y, fh, fw)
    if y.shape[3] != out_c:
        raise Unsupported(f"output depth {y.shape[3]} does not match the weights' {out_c} channels")
    mults, shifts = quant.conv_per_channel_multipliers(si, w.quant.scale, so, out_c)
    _check_shifts(shifts)
    act_min, act_max = quant.activation_range(activation(op), so, 0, "int16")
    qp = dict(input_offset=0, output_offset=0, act_min=act_min, act_max=act_max)
    kind, header, ptype = (("depthwise_conv2d", "tinyml/depthwise_conv.h", "tinyml_dwconv2d_params_t") if depthwise
                           else ("conv2d", "tinyml/conv.h", "tinyml_conv2d_params_t"))
    per_out = fh * fw * (1 if depthwise else in_c)
    return Layer(
        op=op, func=f"tinyml_{kind}_s16", header=header, params_type=ptype,
        params=_params(geo, in_c, out_c, filt, qp),
        args=[TensorArg(x.index), TensorArg(w.index), *bias, ConstArg("mult"), ConstArg("shift"),
              TensorArg(y.index, const=False)],
        consts={"mult": mults.astype(np.int32), "shift": shifts.astype(np.int32)},
        macs=geo["batches"] * geo["out_h"] * geo["out_w"] * out_c * per_out,
        comment=f"16x8 {fh}x{fw} {'depthwise' if depthwise else 'conv'}, {_window_comment(geo)}",
    )


@register_int16("CONV_2D")
def lower_conv_16x8(g: Graph, op: Op) -> Layer:
    return _conv_layer(g, op, depthwise=False)


@register_int16("DEPTHWISE_CONV_2D")
def lower_depthwise_16x8(g: Graph, op: Op) -> Layer:
    return _conv_layer(g, op, depthwise=True)


@register_int16("AVERAGE_POOL_2D", "MAX_POOL_2D")
def lower_pool_16x8(g: Graph, op: Op) -> Layer:
    return lower_pool(g, op, "int16")


def _binary(g: Graph, op: Op) -> tuple[Tensor, Tensor, Tensor, list[tuple[float, int]]]:
    x1, x2, y = inp(g, op, 0), inp(g, op, 1), out(g, op)
    if x1 is None or x2 is None or len(op.inputs) != 2:
        raise Unsupported("expected exactly two inputs")
    require_dtype(x1, "int16", what="input 1")
    require_dtype(x2, "int16", what="input 2")
    if x1.is_const and x2.is_const:
        raise Unsupported("both inputs are constants; constant-folding is not implemented, fold it in the converter")
    scales = symmetric((x1, "input 1"), (x2, "input 2"), (y, "output"))
    return x1, x2, y, [(s, 0) for s in scales]


@register_int16("ADD")
def lower_add_16x8(g: Graph, op: Op) -> Layer:
    x1, x2, y, q = _binary(g, op)
    if op.options.get("pot_scale_int16", True):
        raise Unsupported("int16 ADD with pot_scale_int16 (TFLite's power-of-two-scale path) is not supported; "
                          "the 16x8 converter writes the general-scale version (pot_scale_int16 = false)")
    return _ew_layer(op, "tinyml_add_s16", "tinyml_add_params_t", add_params(op, q, 15, "int16"), x1, x2, y)


@register_int16("MUL")
def lower_mul_16x8(g: Graph, op: Op) -> Layer:
    x1, x2, y, q = _binary(g, op)
    mult, shift = quant.quantize_multiplier(mul_real_multiplier(q[0][0], q[1][0], q[2][0]))
    act_min, act_max = quant.activation_range(activation(op), q[2][0], 0, "int16")
    return _ew_layer(op, "tinyml_mul_s16", "tinyml_mul_params_t", dict(
        input1_offset=0, input2_offset=0, output_offset=0, output_multiplier=mult, output_shift=shift,
        act_min=act_min, act_max=act_max), x1, x2, y, macs=y.size)
