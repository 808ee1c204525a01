"""BATCH_MATMUL and TRANSPOSE_CONV (int8).

TFLite 2.14 (batch_matmul.cc, transpose_conv.cc, kReference):
- BATCH_MATMUL: one multiplier QuantizeMultiplier(GetQuantizedConvolutionMultipler) =
  (float(lhs_scale * rhs_scale)) / out_scale, no fused activation (full int8 range); adj_x / adj_y
  transpose the last two dims; batch dims broadcast (rank <= 5). Per-tensor quantization only.
- TRANSPOSE_CONV: inputs (output_shape, weights [O, KH, KW, I], input, optional bias); padding is
  ComputePaddingHeightWidth as for a forward convolution from the output size; one multiplier
  per output channel (PopulateConvolutionQuantizationParams, in double); the scatter accumulates
  in an int32 scratch of the output's size (planned in the arena).
"""

from __future__ import annotations

from .. import quant
from ..ir import Graph, Op
from . import (ConstArg, Layer, ScratchArg, TensorArg, Unsupported, activation, inp, out, register, require_const,
               require_dtype, require_int8_io, require_quant)
from .conv import check_int16_geometry, compute_out_size, compute_padding


def _batch_strides(shape: tuple[int, ...], out_batch: list[int]) -> list[int]:
    """Element stride of each of the 3 (left-padded) batch dims of a matrix operand; 0 where it broadcasts."""
    mat = shape[-1] * shape[-2]
    b = [1] * (3 - (len(shape) - 2)) + list(shape[:-2])
    st, acc = [0, 0, 0], mat
    for k in (2, 1, 0):
        if b[k] not in (1, out_batch[k]):
            raise Unsupported(f"batch dims {list(shape[:-2])} do not broadcast to {out_batch}")
        st[k] = acc if b[k] > 1 else 0
        acc *= b[k]
    return st


@register("BATCH_MATMUL")
def lower_batch_matmul(g: Graph, op: Op) -> Layer:
    a, b, y = inp(g, op, 0), inp(g, op, 1), out(g, op)
    if a is None or b is None:
        raise Unsupported("expected two inputs")
    require_int8_io(a, y)
    require_dtype(b, "int8", what="input 2")
    if not (2 <= len(a.shape) <= 5 and 2 <= len(b.shape) <= 5):
        raise Unsupported(f"operands of rank {len(a.shape)} and {len(b.shape)}: ranks 2 to 5 are supported")
    (sa, za), (sb, zb), (so, zo) = require_quant(a, "input 1"), require_quant(b, "input 2"), require_quant(y, "output")
    adj_x, adj_y = bool(op.options.get("adj_x", False)), bool(op.options.get("adj_y", False))
    rows, depth = (a.shape[-1], a.shape[-2]) if adj_x else (a.shape[-2], a.shape[-1])
    depth_b, cols = (b.shape[-1], b.shape[-2]) if adj_y else (b.shape[-2], b.shape[-1])
    if depth != depth_b:
        raise Unsupported(f"inner dimensions differ: {list(a.shape)} x {list(b.shape)} (adj_x={adj_x}, adj_y={adj_y})")
    if len(y.shape) < 2 or list(y.shape[-2:]) != [rows, cols]:
        raise Unsupported(f"output shape {list(y.shape)} does not end in [{rows}, {cols}]")
    if len(y.shape) > 5:
        raise Unsupported("output of rank > 5")
    out_batch = [1] * (5 - len(y.shape)) + list(y.shape[:-2])
    mult, shift = quant.quantize_multiplier(quant.conv_multiplier_float_product(sa, sb, so))
    return Layer(
        op=op, func="tinyml_batch_matmul_s8", header="tinyml/matmul.h", params_type="tinyml_batch_matmul_params_t",
        params=dict(batch=out_batch, lhs_batch_stride=_batch_strides(a.shape, out_batch),
                    rhs_batch_stride=_batch_strides(b.shape, out_batch), rows=rows, cols=cols, depth=depth,
                    lhs_row=1 if adj_x else depth, lhs_depth=rows if adj_x else 1,
                    rhs_depth=1 if adj_y else cols, rhs_col=depth if adj_y else 1,
                    lhs_offset=-za, rhs_offset=-zb, output_offset=zo, output_multiplier=mult, output_shift=shift),
        args=[TensorArg(a.index), TensorArg(b.index), TensorArg(y.index, const=False)],
        macs=y.size * depth, comment=f"{list(a.shape)} x {list(b.shape)} adj_x={int(adj_x)} adj_y={int(adj_y)}",
    )


@register("TRANSPOSE_CONV")
def lower_transpose_conv(g: Graph, op: Op) -> Layer:
    shape_t, w, x, y = inp(g, op, 0), inp(g, op, 1), inp(g, op, 2), out(g, op)
    if x is None:
        raise Unsupported("missing input")
    require_int8_io(x, y)
    w = require_const(w, "the weights")
    require_dtype(w, "int8", what="weights")
    bias = inp(g, op, 3)
    if bias is not None:
        bias = require_const(bias, "the bias")
        require_dtype(bias, "int32", what="bias")
    shape_v = [int(v) for v in require_const(shape_t, "the output shape").data.reshape(-1)]
    if len(x.shape) != 4 or len(w.shape) != 4 or list(y.shape) != shape_v:
        raise Unsupported(f"input {list(x.shape)}, weights {list(w.shape)} and output {list(y.shape)} (declared "
                          f"{shape_v}) must be 4-D and agree")
    n, ih, iw, ic = x.shape
    oc, fh, fw, wic = w.shape
    if wic != ic or y.shape[0] != n or y.shape[3] != oc:
        raise Unsupported(f"weights {list(w.shape)} do not match input {list(x.shape)} and output {list(y.shape)}")
    o = op.options
    padding = o.get("padding", "SAME")
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    if padding not in ("SAME", "VALID") or min(sh, sw) < 1:
        raise Unsupported(f"padding {padding} with strides ({sh}, {sw}) is not supported")
    oh, ow = y.shape[1], y.shape[2]
    # transpose_conv.cc: padding of the forward convolution output -> input
    if (compute_out_size(padding, oh, fh, sh, 1), compute_out_size(padding, ow, fw, sw, 1)) != (ih, iw):
        raise Unsupported(f"output size {oh}x{ow} is not what a {padding} transposed convolution of {ih}x{iw} gives")
    pad_h = compute_padding(sh, 1, oh, fh, ih)[0]
    pad_w = compute_padding(sw, 1, ow, fw, iw)[0]
    check_int16_geometry(stride_h=sh, stride_w=sw, pad_h=pad_h, pad_w=pad_w)
    si, zi = require_quant(x, "input")
    so, zo = require_quant(y, "output")
    if w.quant is None:
        raise Unsupported(f"weights '{w.name}' have no quantization parameters")
    mults, shifts = quant.conv_per_channel_multipliers(si, w.quant.scale, so, oc)
    act_min, act_max = quant.activation_range(activation(op), so, zo)
    return Layer(
        op=op, func="tinyml_transpose_conv_s8", header="tinyml/matmul.h", params_type="tinyml_transpose_conv_params_t",
        params=dict(batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, filter_h=fh, filter_w=fw,
                    stride_h=sh, stride_w=sw, pad_h=pad_h, pad_w=pad_w, input_offset=-zi, output_offset=zo,
                    act_min=act_min, act_max=act_max),
        args=[ConstArg("mult"), ConstArg("shift"), TensorArg(x.index), TensorArg(w.index),
              TensorArg(bias.index) if bias is not None else "NULL", ScratchArg("int32_t"), TensorArg(y.index, const=False)],
        consts={"mult": mults, "shift": shifts}, scratch_bytes=4 * y.size, macs=x.size * fh * fw * oc,
        comment=f"{fh}x{fw}/{sh}x{sw} {padding}",
    )
