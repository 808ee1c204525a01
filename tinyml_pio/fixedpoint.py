"""gemmlowp / TFLite fixed-point math in pure integer numpy, bit for bit.

Models of the functions TFLite's quantized SOFTMAX / LOG_SOFTMAX reference kernels use
(gemmlowp fixedpoint.h: SaturatingRoundingMultiplyByPOT, Rescale, exp_on_negative_values,
one_over_one_plus_x_for_x_in_0_1, logistic, tanh; TFLite internal/common.h:
log_x_for_x_greater_than_or_equal_to_1, GetReciprocal; quantization_util.cc:
PreprocessSoftmaxScaling, PreprocessLogSoftmaxScalingExp, CalculateInputRadius), plus the
float lookup-table construction TFLite 2.14 uses for int8 LOGISTIC and TANH (LUTPopulate).

Values are int64 numpy arrays (or Python ints) holding int32 raw values; a `FixedPoint<int32, I>`
is just its raw value plus the integer-bit count `I` passed explicitly. Additions wrap to int32
like the C code does. The C twins live in library/include/tinyml/fixedpoint.h; the property
tests in tests/test_fixedpoint.py compare these with real-number definitions and with
tflite-runtime.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

from . import quant
from .errors import Unsupported

INT32_MIN = quant.INT32_MIN
INT32_MAX = quant.INT32_MAX

# ---------------------------------------------------------------------------------------------
# Primitives.


def _a(x) -> np.ndarray:
    return np.asarray(x, np.int64)


def wrap32(x) -> np.ndarray:
    """Two's-complement wrap to int32 (what the C code's int32 add/sub does in practice)."""
    return quant.wrap_int32(x)


def srdhm(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul (= FixedPoint operator*)."""
    return quant.saturating_rounding_doubling_high_mul(a, b)


def rdbpot(x, exponent) -> np.ndarray:
    """RoundingDivideByPOT."""
    return quant.rounding_divide_by_pot(x, exponent)


def sat_mul_pot(x, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent> (and TFLite's ...POTParam for exponent >= 0)."""
    x = _a(x)
    if exponent == 0:
        return x
    if exponent < 0:
        return rdbpot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    res = wrap32(x << exponent)
    res = np.where(x > threshold, INT32_MAX, res)
    return np.where(x < -threshold, INT32_MIN, res)


def rescale(x, src_bits: int, dst_bits: int) -> np.ndarray:
    """gemmlowp::Rescale<dst_bits>(FixedPoint<int32, src_bits>)."""
    return sat_mul_pot(x, src_bits - dst_bits)


def rounding_half_sum(a, b) -> np.ndarray:
    s = _a(a) + _a(b)
    sign = np.where(s >= 0, 1, -1)
    t = s + sign
    return np.where(t >= 0, t // 2, -((-t) // 2))  # C division truncates toward zero


def sat_add(a, b) -> np.ndarray:
    """SaturatingAddNonGemmlowp (int32)."""
    return np.clip(_a(a) + _a(b), INT32_MIN, INT32_MAX)


def sat_sub(a, b) -> np.ndarray:
    return np.clip(_a(a) - _a(b), INT32_MIN, INT32_MAX)


def clz32(x) -> np.ndarray:
    """CountLeadingZeros(static_cast<uint32_t>(x)); 32 for 0."""
    u = _a(x) & 0xFFFFFFFF
    out = np.full(u.shape, 32, np.int64)
    for bit in range(31, -1, -1):
        hit = (out == 32) & ((u >> bit) & 1 == 1)
        out = np.where(hit, 31 - bit, out)
    return out


def one(integer_bits: int) -> int:
    """FixedPoint<int32, I>::One()."""
    return INT32_MAX if integer_bits == 0 else 1 << (31 - integer_bits)


def constant_pot(integer_bits: int, exponent: int) -> int:
    return 1 << (31 - integer_bits + exponent)


# ---------------------------------------------------------------------------------------------
# gemmlowp math functions.


def exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out."""
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = wrap32(_a(a) + constant_pot(0, -3))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = sat_mul_pot(x4, -2)
    inner = wrap32(srdhm(wrap32(x4_over_4 + x3), constant_1_over_3) + x2)
    x4_24_x3_6_x2_2 = sat_mul_pot(inner, -1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + x4_24_x3_6_x2_2)))


_EXP_BARREL = [(-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
               (3, 720401), (4, 242)]


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given as FixedPoint<int32, integer_bits>; result Q0.31."""
    a = _a(a)
    frac_bits = 31 - integer_bits
    one_quarter = constant_pot(integer_bits, -2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = wrap32((a & mask) - one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            shift = frac_bits + exponent
            result = np.where((remainder & (1 << shift)) != 0, srdhm(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, one(0), result)


def _reciprocal_of_half_denominator(a) -> np.ndarray:
    """gemmlowp's Newton-Raphson division (3 iterations) shared by the two functions below: for a in
    Q0.31 [0, 1), 1 / ((1 + a) / 2) = 2 / (1 + a) in Q2.29."""
    half_denominator = rounding_half_sum(a, one(0))
    c48_17 = 1515870810  # Q2.29
    c_neg32_17 = -1010580540
    x = wrap32(c48_17 + srdhm(half_denominator, c_neg32_17))
    for _ in range(3):
        hdx = srdhm(half_denominator, x)
        one_minus = wrap32(one(2) - hdx)
        x = wrap32(x + rescale(srdhm(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1), Q0.31 in and out (Newton-Raphson, 3 iterations)."""
    x = _reciprocal_of_half_denominator(a)
    return rescale(x, 1, 0)  # ExactMulByPot<-1> (Q2 -> Q1 view) then Rescale<0>


def one_minus_x_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """(1 - a) / (1 + a) = 2 / (1 + a) - 1 for a in [0, 1), Q0.31 in and out."""
    x = _reciprocal_of_half_denominator(a)
    return rescale(wrap32(x - one(2)), 2, 0)


def tanh(a, integer_bits: int) -> np.ndarray:
    """gemmlowp::tanh for FixedPoint<int32, integer_bits>; result Q0.31."""
    a = _a(a)
    neg = a < 0
    n = np.where(neg, a, wrap32(-a))
    # neg_tanh_on_negative_values: ExactMulByPot<1> keeps the raw value, adds an integer bit
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(neg, wrap32(-t), t))


def logistic(a, integer_bits: int) -> np.ndarray:
    """gemmlowp::logistic for FixedPoint<int32, integer_bits>; result Q0.31."""
    a = _a(a)
    pos = a > 0
    abs_input = np.where(pos, a, wrap32(-a))
    r_pos = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap32(-abs_input), integer_bits))
    r_neg = wrap32(one(0) - r_pos)
    return np.where(a == 0, 1 << 30, np.where(pos, r_pos, r_neg))


# ---------------------------------------------------------------------------------------------
# TFLite internal/common.h


def log_x_for_x_greater_than_or_equal_to_1(x, input_bits: int, output_bits: int) -> np.ndarray:
    """log(x) for x >= 1 in FixedPoint<int32, input_bits>; result FixedPoint<int32, output_bits>."""
    accum_bits = output_bits + 1
    log_2 = 1488522236
    sqrt_sqrt_half = 1805811301
    sqrt_half = 1518500250
    one_quarter = 536870912
    alpha_n = 117049297
    alpha_d = 127690142
    alpha_i = 1057819769
    alpha_f = 638450708
    shifted_quarter = rescale(one_quarter, 0, accum_bits)

    z_a = _a(x)
    z_a_headroom_plus_1 = clz32(z_a)
    r_a_tmp = _sat_mul_pot_param(z_a, z_a_headroom_plus_1 - 1)
    r_a_raw = _sat_mul_pot_param(srdhm(r_a_tmp, sqrt_half), np.ones_like(z_a))
    z_a_pow_2_adj = sat_add(_sat_mul_pot_param(input_bits - z_a_headroom_plus_1, np.full_like(z_a, 31 - accum_bits)),
                            shifted_quarter)
    z_b = srdhm(z_a, sqrt_half)
    z_b_headroom = clz32(z_b) - 1
    r_b_raw = _sat_mul_pot_param(z_a, z_b_headroom)
    z_b_pow_2_adj = sat_sub(_sat_mul_pot_param(input_bits - z_b_headroom, np.full_like(z_a, 31 - accum_bits)),
                            shifted_quarter)
    r = np.minimum(r_a_raw, r_b_raw)
    z_pow_2_adj = np.maximum(z_a_pow_2_adj, z_b_pow_2_adj)

    p = rounding_half_sum(r, sqrt_sqrt_half)
    q = wrap32(r - sqrt_sqrt_half)
    q = wrap32(q + q)
    common_sq = srdhm(q, q)
    num = wrap32(srdhm(q, r) + srdhm(srdhm(q, common_sq), alpha_n))
    denom_minus_one_0 = wrap32(srdhm(p, wrap32(wrap32(alpha_i + q) + srdhm(alpha_d, common_sq))) + srdhm(alpha_f, q))
    recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one_0)
    num_scaled = rescale(num, 0, accum_bits)
    total = wrap32(srdhm(z_pow_2_adj, log_2) + srdhm(num_scaled, recip_denom))
    return rescale(total, accum_bits, output_bits)


def _sat_mul_pot_param(x, exponent) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOTParam with a per-element exponent in [0, 31]."""
    x = _a(x)
    exponent = np.broadcast_to(_a(exponent), x.shape) if x.shape else _a(exponent)
    out = np.empty(np.broadcast(x, exponent).shape, np.int64)
    xb, eb = np.broadcast_arrays(x, exponent)
    for e in np.unique(eb):
        sel = eb == e
        out[sel] = sat_mul_pot(xb[sel], int(e))
    return out


def get_reciprocal(x, x_integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """GetReciprocal: (Q0.31 scale, num_bits_over_unit) with x ~ scale^-1 * 2^num_bits_over_unit."""
    x = _a(x)
    headroom_plus_one = clz32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = wrap32(((x & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted), num_bits_over_unit


# ---------------------------------------------------------------------------------------------
# Prepare-time constants (quantization_util.cc).


def preprocess_softmax_scaling(beta: float, input_scale: float, input_integer_bits: int) -> tuple[int, int]:
    """PreprocessSoftmaxScaling -> (multiplier, left_shift). All double math, like TFLite."""
    real = min(float(beta) * float(input_scale) * float(1 << (31 - input_integer_bits)), float((1 << 31) - 1))
    return quant.quantize_multiplier_greater_than_one(real)


def preprocess_log_softmax_scaling_exp(beta: float, input_scale: float,
                                       input_integer_bits: int) -> tuple[int, int, int, int]:
    """PreprocessLogSoftmaxScalingExp -> (mult, left_shift, reverse_divisor, reverse_left_shift)."""
    mult, left_shift = preprocess_softmax_scaling(beta, input_scale, input_integer_bits)
    real_reverse = float(1 << (31 - left_shift)) / float(mult)
    rev_mult, rev_shift = quant.quantize_multiplier_smaller_than_one_exp(real_reverse)
    return mult, left_shift, rev_mult, rev_shift


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1) * float(1 << (total_signed_bits - input_integer_bits))
                          / float(1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


# ---------------------------------------------------------------------------------------------
# Quantized SOFTMAX / LOG_SOFTMAX (int8 -> int8), TFLite 2.14 kReference.

SCALED_DIFF_INTEGER_BITS = 5
ACCUM_INTEGER_BITS = 12


class SoftmaxConsts:
    """Everything SoftmaxPrepare<kReference> computes, plus our per-difference exp table."""

    def __init__(self, input_scale: float, beta: float):
        self.mult, self.left_shift = preprocess_softmax_scaling(beta, input_scale, SCALED_DIFF_INTEGER_BITS)
        self.diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, self.left_shift)
        d = np.arange(256, dtype=np.int64)  # table index d = max_in_row - x, input_diff = -d
        diff = -d
        ok = diff >= self.diff_min
        rescaled = srdhm(wrap32(np.where(ok, diff, 0) << self.left_shift), self.mult)
        e = exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
        # A skipped element (diff < diff_min) adds nothing to the sum and outputs -128, exactly
        # like an element whose exp is 0, so a 0 entry encodes "skipped".
        self.exp_table = np.where(ok, e, 0).astype(np.int64)


def softmax_s8(x: np.ndarray, input_scale: float, beta: float) -> np.ndarray:
    """reference_ops::Softmax<int8_t, int8_t> over the last axis (model of the C kernel)."""
    c = SoftmaxConsts(input_scale, beta)
    x = np.asarray(x, np.int64)
    rows = x.reshape(-1, x.shape[-1])
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        e = c.exp_table[row.max() - row]
        s = wrap32(np.sum(rescale(e, 0, ACCUM_INTEGER_BITS)))
        scale, nbits = get_reciprocal(s, ACCUM_INTEGER_BITS)
        exponent = int(nbits) + 31 - 8
        assert 0 <= exponent <= 31
        unsat = rdbpot(srdhm(scale, e), exponent)
        out[i] = np.clip(unsat - 128, -128, 127)
    return out.reshape(x.shape).astype(np.int8)


class LogSoftmaxConsts:
    """LogSoftmaxPrepare<kReference> (beta = 1) plus our per-difference table of Q12 exps."""

    def __init__(self, input_scale: float):
        (self.mult, self.left_shift, self.rev_mult, self.rev_shift) = preprocess_log_softmax_scaling_exp(
            1.0, input_scale, SCALED_DIFF_INTEGER_BITS)
        self.diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, self.left_shift)
        d = np.arange(256, dtype=np.int64)
        diff = -d
        ok = diff >= self.diff_min
        q5 = quant.multiply_by_quantized_multiplier(np.where(ok, diff, 0), self.mult, self.left_shift)
        e = rescale(exp_on_negative_values(q5, SCALED_DIFF_INTEGER_BITS), 0, ACCUM_INTEGER_BITS)
        self.exp_q12_table = np.where(ok, e, 0).astype(np.int64)


def log_softmax_s8(x: np.ndarray, input_scale: float) -> np.ndarray:
    """reference_integer_ops::LogSoftmax over the last axis (model of the C kernel)."""
    c = LogSoftmaxConsts(input_scale)
    x = np.asarray(x, np.int64)
    rows = x.reshape(-1, x.shape[-1])
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        diff = row - row.max()
        s = wrap32(np.sum(c.exp_q12_table[-diff]))
        log_sum = int(log_x_for_x_greater_than_or_equal_to_1(s, ACCUM_INTEGER_BITS, SCALED_DIFF_INTEGER_BITS))
        shifted = int(wrap32(log_sum + INT32_MIN))
        adjusted_diff_min = max(c.diff_min - 1, int(quant.multiply_by_quantized_multiplier(shifted, c.rev_mult,
                                                                                          c.rev_shift)))
        q5 = quant.multiply_by_quantized_multiplier(diff, c.mult, c.left_shift)
        o = rdbpot(wrap32(q5 - log_sum), 31 - SCALED_DIFF_INTEGER_BITS - 4) + 127
        out[i] = np.where(diff > adjusted_diff_min, np.clip(o, -128, 127), -128)
    return out.reshape(x.shape).astype(np.int8)


# ---------------------------------------------------------------------------------------------
# int8 LOGISTIC / TANH: TFLite 2.14 (kReference and kGenericOptimized) builds a 256-entry table
# in Prepare with float math (LUTPopulate<int8_t>) and the kernel is a lookup. The float
# functions are the C library's expf/tanhf, so we call the same ones.


def _libm():
    name = ctypes.util.find_library("m")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    for fn in ("expf", "tanhf"):
        getattr(lib, fn).restype = ctypes.c_float
        getattr(lib, fn).argtypes = [ctypes.c_float]
    return lib


_LIBM = _libm()
f32 = np.float32


def expf(x: float) -> np.float32:
    if _LIBM is not None:
        return f32(_LIBM.expf(f32(x)))
    return f32(np.exp(f32(x)))


def tanhf(x: float) -> np.float32:
    if _LIBM is not None:
        return f32(_LIBM.tanhf(f32(x)))
    return f32(np.tanh(f32(x)))


def _roundf(x: np.float32) -> np.float32:
    """std::round on float: half away from zero (exact: |x| < 2^24 or already integral)."""
    ax = abs(float(x))
    if ax >= 2.0 ** 23:
        return f32(x)
    r = math.floor(ax + 0.5)
    # floor(ax + 0.5) in double is exact for float ax < 2^23
    return f32(math.copysign(r, float(x)))


def lut_populate_s8(input_scale: float, input_zp: int, output_scale: float, output_zp: int, transform) -> np.ndarray:
    """LUTPopulate<int8_t>: table[i] = output for input (i - 128), float32 arithmetic throughout."""
    inverse_scale = f32(1) / f32(output_scale)
    table = np.zeros(256, np.int64)
    for val in range(-128, 128):
        dequantized = f32(input_scale) * f32(val - input_zp)
        transformed = f32(transform(dequantized))
        if math.isnan(transformed) or math.isinf(transformed):
            q = -128
        else:
            rescaled = _roundf(f32(transformed * inverse_scale))
            if not math.isfinite(rescaled):  # TFLite's int32 cast of it is undefined behaviour
                raise Unsupported(f"output scale {output_scale:g} is too small: the table's values overflow float32")
            q = int(f32(rescaled + f32(output_zp)))
        table[val + 128] = min(127, max(-128, q))
    return table


def logistic_transform(v: np.float32) -> np.float32:
    return f32(1) / (f32(1) + expf(-v))


def tanh_transform(v: np.float32) -> np.float32:
    return tanhf(v)


def get_inv_sqrt_quantized_multiplier_exp(x: int, reverse_shift: int = -1) -> tuple[int, int]:
    """GetInvSqrtQuantizedMultiplierExp: 1/sqrt(x) as (multiplier, shift) by five Newton-Raphson
    steps in gemmlowp fixed point (3 integer bits). Used by RSQRT's int8 table."""
    if x <= 1:
        return INT32_MAX, 0
    shift = 11
    while x >= 1 << 29:
        x //= 4
        shift += 1
    pairs = (int(clz32(x)) - 1) // 2 - 1
    shift -= pairs
    x <<= 2 * pairs
    half_input = int(sat_mul_pot(x >> 1, -1))
    half_three = (1 << 28) + (1 << 27)
    v = one(3)
    for _ in range(5):
        x3 = int(rescale(srdhm(srdhm(v, v), v), 9, 3))
        v = int(rescale(wrap32(int(srdhm(half_three, v)) - int(srdhm(half_input, x3))), 6, 3))
    v = int(srdhm(v, 1518500250))
    if shift < 0:
        v = int(wrap32(v << -shift))
        shift = 0
    return v, shift * reverse_shift
