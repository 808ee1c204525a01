"""RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, HARD_SWISH (int8): 256-entry tables.

Each op is a function of the 256 possible int8 inputs, so the generator evaluates TFLite 2.14's
exact integer algorithm (tensorflow/lite/kernels/activations.cc Prepare + the reference kernels)
once per input value and emits `tinyml_lut_s8`. The float products in Prepare are taken in
float32 where TFLite takes them in float (`input->params.scale / output->params.scale` is a float
division promoted to double only when passed to QuantizeMultiplier).
"""

from __future__ import annotations

import math

import numpy as np

from .. import quant
from ..ir import Graph, Op
from . import Layer, Unsupported, int8_io, lut_layer, register, require_nonconst, require_quant

F32 = np.float32
_IN = np.arange(-128, 128, dtype=np.int64)  # table index i <-> input value i - 128


def _f32_div(a: float, b: float) -> float:
    return float(F32(a) / F32(b))


def _roundf_to_int(x: float) -> int:
    """static_cast<int32>(roundf(x)) for a float32 value."""
    return quant.tflite_round(float(F32(x)))


def _unary_int8(g: Graph, op: Op):
    x, y = int8_io(g, op)
    require_nonconst(x, "input")
    in_s, in_zp = require_quant(x, "input")
    out_s, out_zp = require_quant(y, "output")
    if in_s <= 0 or out_s <= 0:
        raise Unsupported("non-positive quantization scale")
    return x, y, in_s, in_zp, out_s, out_zp


# ---------------------------------------------------------------------------------------------
# Table builders (pure functions of the quantization parameters; the property tests use them).


def relu_x_table(in_s: float, in_zp: int, out_s: float, out_zp: int, act_min: float, act_max: float | None) -> np.ndarray:
    """ReluPrepare + QuantizedReluX<int8_t> + ReluX(ReluParams): requantize, then clamp."""
    mult, shift = quant.quantize_multiplier(_f32_div(in_s, out_s))
    qmin = max(-128, out_zp + _roundf_to_int(F32(act_min) / F32(out_s)))
    qmax = 127 if act_max is None else min(127, out_zp + _roundf_to_int(F32(act_max) / F32(out_s)))
    v = out_zp + quant.multiply_by_quantized_multiplier(_IN - in_zp, mult, shift)
    return np.minimum(np.maximum(v, qmin), qmax)


def leaky_relu_table(in_s: float, in_zp: int, out_s: float, out_zp: int, alpha: float) -> np.ndarray:
    """LeakyReluPrepare (float products) + reference_ops::QuantizeLeakyRelu."""
    alpha_real = float(F32(F32(in_s) * F32(alpha)) / F32(out_s))
    ma, sa = quant.quantize_multiplier(alpha_real)
    mi, si = quant.quantize_multiplier(_f32_div(in_s, out_s))
    iv = _IN - in_zp
    pos = quant.multiply_by_quantized_multiplier(iv, mi, si)
    neg = quant.multiply_by_quantized_multiplier(iv, ma, sa)
    v = out_zp + np.where(iv >= 0, pos, neg)
    return np.clip(v, -128, 127)


def _i16(x: int) -> int:
    """Conversion to int16_t (two's complement wrap)."""
    return ((int(x) + 0x8000) & 0xFFFF) - 0x8000


def _srdhm16(a: int, b: int) -> int:
    """gemmlowp::SaturatingRoundingDoublingHighMul<int16_t>."""
    if a == b == -32768:
        return 32767
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else (1 - (1 << 14))
    return _i16(_tdiv(ab + nudge, 1 << 15))


def _tdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _sdhm16(a: int, b: int) -> int:
    """reference_ops::SaturatingDoublingHighMul (int16, truncating)."""
    if a == b == -32768:
        return 32767
    return _i16(_tdiv(a * b, 1 << 15))


def _rdbpot16(x: int, exponent: int) -> int:
    """gemmlowp::RoundingDivideByPOT<int16_t> (mask computed in int16)."""
    mask = _i16((1 << exponent) - 1)
    remainder = _i16(x & mask)
    threshold = _i16((mask >> 1) + (1 if x < 0 else 0))
    return _i16((x >> exponent) + (1 if remainder > threshold else 0))


def _sat_lshift16(x: int, amount: int) -> int:
    return max(-32768, min(32767, x * (1 << amount)))


def _downscale_to_int16(m: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    if m >= 2147483647 - (1 << 15):
        return 32767
    return (m + (1 << 15)) >> 16


def hard_swish_params(in_s: float, out_s: float) -> dict[str, int]:
    """HardSwishPrepare: every product in float32."""
    hires = F32(F32(1.0 / 128.0) * F32(in_s))
    out_mult = F32(hires / F32(out_s))
    reluish = F32(hires / F32(F32(3.0) / F32(32768.0)))
    om, oe = quant.quantize_multiplier(float(out_mult))
    rm, re_ = quant.quantize_multiplier(float(reluish))
    if oe > 0:
        raise Unsupported("HARD_SWISH output multiplier exponent > 0 (TFLite refuses it too)")
    return dict(out_mult16=_downscale_to_int16(om), out_exp=oe, reluish_mult16=_downscale_to_int16(rm), reluish_exp=re_)


def hard_swish_table(in_s: float, in_zp: int, out_s: float, out_zp: int) -> np.ndarray:
    """reference_ops::HardSwish<int8_t>, in int16 fixed point."""
    p = hard_swish_params(in_s, out_s)
    table = np.zeros(256, np.int64)
    for i, xq in enumerate(range(-128, 128)):
        iv = _i16(xq - in_zp)
        hires = _i16(iv * 128)
        preshift_out = _srdhm16(hires, p["out_mult16"])
        r = hires
        if p["reluish_exp"] > 0:
            r = _sat_lshift16(r, p["reluish_exp"] - 1)
        r = _srdhm16(r, p["reluish_mult16"])
        if p["reluish_exp"] > 0:
            r = _sat_lshift16(r, 1)
        if p["reluish_exp"] < 0:
            r = _rdbpot16(r, -p["reluish_exp"])
        r = _i16((r + (1 << 15)) >> 1)
        pre = _sdhm16(r, preshift_out)
        o = _rdbpot16(pre, -p["out_exp"])
        o = _i16(o + out_zp)
        table[i] = min(127, max(-128, o))
    return table


# ---------------------------------------------------------------------------------------------
# Lowerings.

_RELU_RANGES = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


@register("RELU", "RELU6", "RELU_N1_TO_1")
def lower_relu(g: Graph, op: Op) -> Layer:
    _, _, in_s, in_zp, out_s, out_zp = _unary_int8(g, op)
    lo, hi = _RELU_RANGES[op.type]
    table = relu_x_table(in_s, in_zp, out_s, out_zp, lo, hi)
    return lut_layer(g, op, table, comment=f"{op.type.lower()} as a 256-entry table")


@register("LEAKY_RELU")
def lower_leaky_relu(g: Graph, op: Op) -> Layer:
    _, _, in_s, in_zp, out_s, out_zp = _unary_int8(g, op)
    alpha = float(op.options.get("alpha", 0.0))
    if not math.isfinite(alpha):
        raise Unsupported(f"leaky relu alpha {alpha} is not finite")
    table = leaky_relu_table(in_s, in_zp, out_s, out_zp, alpha)
    return lut_layer(g, op, table, comment=f"leaky relu (alpha {alpha:g}) as a 256-entry table")


@register("HARD_SWISH")
def lower_hard_swish(g: Graph, op: Op) -> Layer:
    _, _, in_s, in_zp, out_s, out_zp = _unary_int8(g, op)
    table = hard_swish_table(in_s, in_zp, out_s, out_zp)
    return lut_layer(g, op, table, comment="hard swish as a 256-entry table")
