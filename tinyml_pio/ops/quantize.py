"""QUANTIZE and DEQUANTIZE: conversions at the float32 / uint8 edges of a model and int8 requantization.

TFLite 2.14 (tensorflow/lite/kernels/quantize.cc, dequantize.cc, kReference):
- float32 -> int8/uint8: reference_ops::AffineQuantize (float division, roundf) -> tinyml_quantize_f32_*.
- int8/uint8 -> int8/uint8: reference_ops::Requantize with QuantizeMultiplier(double(in_scale) /
  double(out_scale)). A function of 256 input values: a table computed here (int8 -> int8 uses
  the shared tinyml_lut_s8; other pairs tinyml_requantize_lut8, indexed by the raw byte).
- int8/uint8/int16 -> float32: reference Dequantize -> tinyml_dequantize_*_f32.
- float32 -> int16 (16x8 models): AffineQuantize clamped to int16 -> tinyml_quantize_f32_s16.
- int16 -> int8/int16/int32 (16x8 models): reference_ops::Requantize with the same multiplier ->
  tinyml_requantize_s16_*. TFLite 2.14 has no int8/uint8 -> int16 QUANTIZE.
"""

from __future__ import annotations

import numpy as np

from .. import quant
from ..ir import Graph, Op, Tensor
from . import (ConstArg, Layer, TensorArg, Unsupported, lut_layer, out, register, require_input, require_nonconst,
               require_same_shape)

_RANGE = {"int8": (-128, 127), "uint8": (0, 255)}


def _per_tensor(t: Tensor, what: str) -> tuple[float, int]:
    if t.quant is None:
        raise Unsupported(f"{what} '{t.name}' has no quantization parameters")
    if t.quant.scale.size != 1:
        raise Unsupported(f"{what} '{t.name}' is per-channel quantized; only per-tensor (de)quantization is supported")
    return t.quant.s, t.quant.zp


def requantize_values(values: np.ndarray, in_s: float, in_zp: int, out_s: float, out_zp: int, out_dtype: str) -> np.ndarray:
    """reference_ops::Requantize for the given input values (the 0x80 fast path gives the same result)."""
    mult, shift = quant.quantize_multiplier(float(np.float32(in_s)) / float(np.float32(out_s)))
    lo, hi = _RANGE[out_dtype]
    v = quant.multiply_by_quantized_multiplier(np.asarray(values, np.int64) - in_zp, mult, shift) + out_zp
    return np.clip(v, lo, hi)


def _raw_byte_inputs(dtype: str) -> np.ndarray:
    """The input value whose raw byte is b, for b = 0..255."""
    b = np.arange(256, dtype=np.int64)
    return np.where(b >= 128, b - 256, b) if dtype == "int8" else b


def _affine_layer(op: Op, x: Tensor, y: Tensor, func: str, scale: float, zero_point: int, comment: str,
                  in_place: bool) -> Layer:
    """A float32 <-> int8/uint8 conversion with one scale and zero point: func(&params, input, output, count)."""
    return Layer(
        op=op,
        func=func,
        header="tinyml/quantize.h",
        params_type="tinyml_quant_params_t",
        params=dict(scale=float(np.float32(scale)), zero_point=zero_point),
        args=[TensorArg(x.index), TensorArg(y.index, const=False), str(x.size)],
        inplace=(x.index, y.index) if in_place else None,
        comment=comment,
    )


_S16_OUT = {"int8": "s8", "int16": "s16", "int32": "s32"}


def _requantize_s16(op: Op, x: Tensor, y: Tensor) -> Layer:
    """int16 -> int8 / int16 / int32: Requantize's loop (int16 has too many values for a table)."""
    if y.dtype not in _S16_OUT:
        raise Unsupported(f"QUANTIZE from int16 to {y.dtype} is not supported (int8, int16 and int32 are)")
    in_s, in_zp = _per_tensor(x, "input")
    out_s, out_zp = _per_tensor(y, "output")
    mult, shift = quant.quantize_multiplier(float(np.float32(in_s)) / float(np.float32(out_s)))
    return Layer(
        op=op, func=f"tinyml_requantize_s16_{_S16_OUT[y.dtype]}", header="tinyml/quantize.h",
        params_type="tinyml_requant_params_t",
        params=dict(input_zero_point=in_zp, output_zero_point=out_zp, multiplier=mult, shift=shift),
        args=[TensorArg(x.index), TensorArg(y.index, const=False), str(x.size)],
        inplace=(x.index, y.index) if y.dtype != "int32" else None, comment=f"int16 -> {y.dtype} requantize",
    )


@register("QUANTIZE")
def lower_quantize(g: Graph, op: Op) -> Layer:
    x, y = require_input(g, op, 0), out(g, op)
    require_same_shape(x, y)
    require_nonconst(x, "input")
    if x.dtype == "int16":
        return _requantize_s16(op, x, y)
    if y.dtype not in _RANGE and not (y.dtype == "int16" and x.dtype == "float32"):
        raise Unsupported(f"QUANTIZE from {x.dtype} to {y.dtype} is not supported (to int8 and uint8 are, "
                          "float32 -> int16, and int16 -> int8/int16/int32; TFLite 2.14 has no int8 -> int16)")
    out_s, out_zp = _per_tensor(y, "output")
    if x.dtype == "float32" and y.dtype == "int16":  # 16x8 models; not in place (the output is 2 bytes a value)
        if not out_s > 0:
            raise Unsupported("output scale must be positive")
        return _affine_layer(op, x, y, "tinyml_quantize_f32_s16", out_s, out_zp, "float -> int16", in_place=False)
    if x.dtype == "float32":
        if not out_s > 0:
            raise Unsupported("output scale must be positive")
        suffix = "s8" if y.dtype == "int8" else "u8"
        # in place: element i's byte is written after its float was read, below the floats still to read
        return _affine_layer(op, x, y, f"tinyml_quantize_f32_{suffix}", out_s, out_zp, f"float -> {y.dtype}",
                             in_place=True)
    if x.dtype not in _RANGE:
        raise Unsupported(f"QUANTIZE from {x.dtype} is not supported (float32, int8, uint8 and int16 are)")
    in_s, in_zp = _per_tensor(x, "input")
    if x.dtype == "int8" and y.dtype == "int8":
        table = requantize_values(np.arange(-128, 128), in_s, in_zp, out_s, out_zp, "int8")
        return lut_layer(g, op, table, comment="int8 requantize as a 256-entry table")
    table = requantize_values(_raw_byte_inputs(x.dtype), in_s, in_zp, out_s, out_zp, y.dtype)
    return Layer(
        op=op,
        func="tinyml_requantize_lut8",
        header="tinyml/quantize.h",
        args=[ConstArg("table"), TensorArg(x.index), TensorArg(y.index, const=False), str(x.size)],
        consts={"table": (table & 0xFF).astype(np.uint8)},
        inplace=(x.index, y.index),
        comment=f"{x.dtype} -> {y.dtype} requantize as a 256-entry table",
    )


@register("DEQUANTIZE")
def lower_dequantize(g: Graph, op: Op) -> Layer:
    x, y = require_input(g, op, 0), out(g, op)
    require_same_shape(x, y)
    if y.dtype != "float32":
        raise Unsupported(f"DEQUANTIZE to {y.dtype} is not supported (float32 is)")
    if x.dtype not in _RANGE and x.dtype != "int16":
        kind = "float16 (weights)" if x.dtype == "float16" else x.dtype
        raise Unsupported(f"DEQUANTIZE from {kind} is not supported (int8, uint8 and int16 are)")
    require_nonconst(x, "input")
    in_s, in_zp = _per_tensor(x, "input")
    suffix = {"int8": "s8", "uint8": "u8", "int16": "s16"}[x.dtype]
    return _affine_layer(op, x, y, f"tinyml_dequantize_{suffix}_f32", in_s, in_zp, f"{x.dtype} -> float",
                         in_place=False)
