"""CONV_2D and DEPTHWISE_CONV_2D (int8 activations, int8 weights per-tensor or per-channel, int32 bias).

TFLite reference: reference_integer_ops::ConvPerChannel and DepthwiseConvPerChannel. For int8
input both ops always take the per-channel path: Prepare calls PopulateConvolutionQuantizationParams,
which computes one multiplier per output channel in *double* (input_scale * filter_scale /
output_scale), broadcasting a per-tensor filter scale; the scalar float-product multiplier is only
used for uint8. Padding is ComputePaddingHeightWidth (the kernels use only the top/left amount;
the odd "offset" pixel goes to the bottom/right and needs no code, the loops stop at the output size).

The input zero point is NOT folded into the bias: padded taps are skipped, so the fold would be
wrong on the borders. The kernels apply `acc += w * (x + input_offset)` like the reference.

In place (TinyEngine-style; the planner decides, see planner/lifetimes.py): a depthwise layer with
depth multiplier 1 and batch 1 can write its output over its input with one input channel plane
(in_h * in_w bytes) of scratch, any stride/dilation/padding; a 1x1 stride-1 convolution can with
one input pixel (in_c bytes) of scratch, also when the output has more channels than the input
(`inplace_grow`). The in-place kernels are separate functions, chosen at generation time.
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op, Tensor
from . import (Layer, ConstArg, ScratchArg, TensorArg, Unsupported, activation, inp, out, register, require_const,
               require_dtype, require_input, require_int8_io, require_nonconst, require_quant)


def compute_out_size(padding: str, image: int, filt: int, stride: int, dilation: int) -> int:
    """TFLite ComputeOutSize."""
    eff = (filt - 1) * dilation + 1
    if stride == 0:
        return 0
    if padding == "SAME":
        return (image + stride - 1) // stride
    if padding == "VALID":
        return (image + stride - eff) // stride
    return 0


def compute_padding(stride: int, dilation: int, image: int, filt: int, out_size: int) -> tuple[int, int]:
    """TFLite ComputePaddingWithOffset: (before, offset); after = before + offset."""
    eff = (filt - 1) * dilation + 1
    total = max((out_size - 1) * stride + eff - image, 0)
    return total // 2, total % 2


INT16_MAX = 32767


def check_int16_geometry(**values: int) -> None:
    """TFLite's kernels hold strides, dilations and padding in int16 (ConvParams, DepthwiseParams,
    PaddingValues): a larger value wraps there, so the reference computes another layer."""
    big = {k: v for k, v in values.items() if v > INT16_MAX}
    if big:
        raise Unsupported(", ".join(f"{k} {v}" for k, v in big.items()) + f" {'exceeds' if len(big) == 1 else 'exceed'} {INT16_MAX}: TFLite's kernels "
                          "keep strides, dilations and padding in int16, where such a value wraps")


def _geometry(op: Op, x: Tensor, y: Tensor, fh: int, fw: int) -> dict[str, int]:
    """Strides, dilations, padding and shapes, checked against the model's output shape."""
    o = op.options
    padding = o.get("padding", "SAME")
    if padding not in ("SAME", "VALID"):
        raise Unsupported(f"padding {padding} is not supported")
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1) or 1), int(o.get("dilation_w_factor", 1) or 1)
    if min(sh, sw, dh, dw) < 1:
        raise Unsupported(f"strides ({sh}, {sw}) and dilations ({dh}, {dw}) must be >= 1")
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise Unsupported(f"input and output must be 4-D (NHWC), got {list(x.shape)} -> {list(y.shape)}")
    n, ih, iw, _ = x.shape
    oh = compute_out_size(padding, ih, fh, sh, dh)
    ow = compute_out_size(padding, iw, fw, sw, dw)
    if (y.shape[0], y.shape[1], y.shape[2]) != (n, oh, ow):
        raise Unsupported(f"output shape {list(y.shape)} does not match the computed [{n}, {oh}, {ow}, ...]")
    if oh <= 0 or ow <= 0:
        raise Unsupported("empty output (the filter is larger than the input)")
    ph, _ = compute_padding(sh, dh, ih, fh, oh)
    pw, _ = compute_padding(sw, dw, iw, fw, ow)
    check_int16_geometry(stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw, pad_h=ph, pad_w=pw)
    return dict(batches=n, in_h=ih, in_w=iw, out_h=oh, out_w=ow, stride_h=sh, stride_w=sw,
                dilation_h=dh, dilation_w=dw, pad_h=ph, pad_w=pw)


def _quant_params(g: Graph, op: Op, x: Tensor, w: Tensor, b: Tensor | None, y: Tensor, out_c: int,
                  channel_axis: int) -> tuple[dict[str, int], dict[str, np.ndarray], list]:
    """Multipliers/shifts, activation clamp and offsets (PopulateConvolutionQuantizationParams)."""
    in_scale, in_zp = require_quant(x, "input")
    out_scale, out_zp = require_quant(y, "output")
    if w.quant is None:
        raise Unsupported("the weights have no quantization parameters")
    if np.any(w.quant.zero_point != 0):
        raise Unsupported("weights must be symmetrically quantized (zero point 0)")
    nscales = w.quant.scale.size
    if nscales > 1:
        if nscales != out_c:
            raise Unsupported(f"{nscales} weight scales for {out_c} output channels")
        if w.quant.axis is not None and w.quant.axis != channel_axis:
            raise Unsupported(f"weights are quantized along axis {w.quant.axis}; expected axis {channel_axis}")
    mults, shifts = quant.conv_per_channel_multipliers(in_scale, w.quant.scale, out_scale, out_c)
    act_min, act_max = quant.activation_range(activation(op), out_scale, out_zp)
    bias_arg: list = ["NULL"]
    if b is not None:
        require_const(b, "the bias")
        require_dtype(b, "int32", what="bias")
        if b.size != out_c:
            raise Unsupported(f"bias has {b.size} values for {out_c} output channels")
        bias_arg = [TensorArg(b.index)]
    params = dict(input_offset=-in_zp, output_offset=out_zp, act_min=act_min, act_max=act_max)
    return params, {"mult": mults.astype(np.int32), "shift": shifts.astype(np.int32)}, bias_arg


def _check_io(x: Tensor, w: Tensor | None, y: Tensor) -> Tensor:
    require_int8_io(x, y)
    require_nonconst(x, "input")
    w = require_const(w, "the weights")
    require_dtype(w, "int8", what="weights")
    if len(w.shape) != 4:
        raise Unsupported(f"weights must be 4-D, got {list(w.shape)}")
    return w


def _params(geo: dict[str, int], in_c: int, out_c: int, filter_fields: dict[str, int], qp: dict[str, int]) -> dict:
    """The kernel's params struct in its field order (tinyml_conv2d_params_t and tinyml_dwconv2d_params_t share
    it but for the filter fields): shapes, `filter_fields`, window geometry, quantization."""
    return dict(batches=geo["batches"], in_h=geo["in_h"], in_w=geo["in_w"], in_c=in_c,
                out_h=geo["out_h"], out_w=geo["out_w"], out_c=out_c, **filter_fields,
                stride_h=geo["stride_h"], stride_w=geo["stride_w"],
                dilation_h=geo["dilation_h"], dilation_w=geo["dilation_w"],
                pad_h=geo["pad_h"], pad_w=geo["pad_w"], **qp)


def _window_comment(geo: dict[str, int]) -> str:
    return (f"stride {geo['stride_h']}x{geo['stride_w']}, dilation {geo['dilation_h']}x{geo['dilation_w']}, "
            f"pad {geo['pad_h']}/{geo['pad_w']}")


def _layer(op: Op, x: Tensor, w: Tensor, bias_arg: list, y: Tensor, consts: dict[str, np.ndarray], *, func: str,
           header: str, params_type: str, params: dict, macs: int, comment: str, in_place: bool, inplace_func: str,
           inplace_scratch_bytes: int, inplace_grow: bool = False) -> Layer:
    """The call shared by both convolutions: func(&params, input, weights, bias, mult, shift, output),
    or, when the planner runs the layer in place, inplace_func(&params, data, weights, bias, mult, shift,
    scratch)."""
    weights_args = [TensorArg(w.index), *bias_arg, ConstArg("mult"), ConstArg("shift")]
    return Layer(
        op=op,
        func=func,
        header=header,
        params_type=params_type,
        params=params,
        args=[TensorArg(x.index), *weights_args, TensorArg(y.index, const=False)],
        consts=consts,
        inplace=(x.index, y.index) if in_place else None,
        inplace_scratch_bytes=inplace_scratch_bytes if in_place else 0,
        inplace_grow=in_place and inplace_grow,
        inplace_func=inplace_func if in_place else None,
        inplace_args=[TensorArg(y.index, const=False), *weights_args, ScratchArg()] if in_place else None,
        macs=macs,
        comment=comment,
    )


@register("CONV_2D")
def lower_conv(g: Graph, op: Op) -> Layer:
    x, w, b, y = require_input(g, op, 0), inp(g, op, 1), inp(g, op, 2), out(g, op)
    w = _check_io(x, w, y)
    out_c, fh, fw, fc = w.shape
    geo = _geometry(op, x, y, fh, fw)
    in_c = x.shape[3]
    if y.shape[3] != out_c:
        raise Unsupported(f"output depth {y.shape[3]} does not match the weights' {out_c} filters")
    if fc <= 0 or in_c % fc or out_c % (in_c // fc):
        raise Unsupported(f"input depth {in_c} and filter depth {fc} do not form whole groups")
    qp, consts, bias_arg = _quant_params(g, op, x, w, b, y, out_c, channel_axis=0)
    params = _params(geo, in_c, out_c, dict(filter_h=fh, filter_w=fw, filter_c=fc), qp)
    groups = in_c // fc
    # 1x1, stride 1 (so no padding): output pixel p depends on input pixel p only -> in place possible.
    pointwise = (fh, fw, geo["stride_h"], geo["stride_w"], geo["pad_h"], geo["pad_w"]) == (1, 1, 1, 1, 0, 0)
    return _layer(op, x, w, bias_arg, y, consts, func="tinyml_conv2d_s8", header="tinyml/conv.h",
                  params_type="tinyml_conv2d_params_t", params=params,
                  macs=geo["batches"] * geo["out_h"] * geo["out_w"] * out_c * fh * fw * fc,
                  comment=f"{fh}x{fw} conv, {_window_comment(geo)}" + (f", {groups} groups" if groups > 1 else ""),
                  in_place=pointwise, inplace_func="tinyml_conv1x1_inplace_s8", inplace_scratch_bytes=in_c,
                  inplace_grow=out_c > in_c)


@register("DEPTHWISE_CONV_2D")
def lower_depthwise(g: Graph, op: Op) -> Layer:
    x, w, b, y = require_input(g, op, 0), inp(g, op, 1), inp(g, op, 2), out(g, op)
    w = _check_io(x, w, y)
    one, fh, fw, out_c = w.shape
    if one != 1:
        raise Unsupported(f"depthwise weights must be [1, h, w, channels], got {list(w.shape)}")
    geo = _geometry(op, x, y, fh, fw)
    in_c = x.shape[3]
    if y.shape[3] != out_c or in_c <= 0 or out_c % in_c:
        raise Unsupported(f"output depth {y.shape[3]} / filter depth {out_c} is not a multiple of input depth {in_c}")
    mult = out_c // in_c
    opt_mult = int(op.options.get("depth_multiplier", mult))
    if opt_mult not in (0, mult):
        # TFLite 2.14 Prepare checks depth_multiplier * in_c == filter depth (0 is tolerated by newer builds).
        raise Unsupported(f"depth_multiplier option {opt_mult} does not match the shapes ({in_c} -> {out_c} channels)")
    qp, consts, bias_arg = _quant_params(g, op, x, w, b, y, out_c, channel_axis=3)
    params = _params(geo, in_c, out_c, dict(depth_multiplier=mult, filter_h=fh, filter_w=fw), qp)
    # Multiplier 1, batch 1: output channel c reads input channel c only and is stored in channel c's
    # slots, so saving input plane c in scratch first makes in place safe (the output is never larger).
    in_place = mult == 1 and geo["batches"] == 1
    return _layer(op, x, w, bias_arg, y, consts, func="tinyml_depthwise_conv2d_s8", header="tinyml/depthwise_conv.h",
                  params_type="tinyml_dwconv2d_params_t", params=params,
                  macs=geo["batches"] * geo["out_h"] * geo["out_w"] * out_c * fh * fw,
                  comment=f"{fh}x{fw} depthwise x{mult}, {_window_comment(geo)}", in_place=in_place,
                  inplace_func="tinyml_depthwise_conv2d_inplace_s8", inplace_scratch_bytes=geo["in_h"] * geo["in_w"])
