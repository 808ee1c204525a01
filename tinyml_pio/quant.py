"""TFLite's integer quantization math, in Python, computed once at generation time.

Each function mirrors a named TFLite function (tensorflow/lite/kernels/internal/quantization_util.cc,
common.h, kernel_util.cc) so a reader can check them side by side. The C kernels only *apply*
the constants computed here. The numpy `apply_*` twins model the C arithmetic exactly; the
property tests compare them against straightforward big-integer definitions.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import Unsupported

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
QRANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int32": (INT32_MIN, INT32_MAX)}


def tflite_round(x: float) -> int:
    """std::round: half away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real ~= mult * 2^(shift - 31), mult in [2^30, 2^31). Double rounding build."""
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real) or real < 0:
        raise Unsupported(f"the quantization scales give a multiplier of {real}, which is not a finite positive number")
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    assert q_fixed <= INT32_MAX
    if shift < -31:
        shift, q_fixed = 0, 0
    if shift > 31:  # TFLite's double-rounding build would shift an int32 by more than its width
        raise Unsupported(f"the quantization scales give a multiplier of {real:g} (2^{shift - 1} or more), "
                          "too large for int32 fixed point")
    return int(q_fixed), int(shift)


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: like quantize_multiplier, requires real < 1, shift <= 0."""
    assert 0.0 < real < 1.0, real
    mult, shift = quantize_multiplier(real)
    assert shift <= 0
    return mult, shift


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne: returns (mult, left_shift >= 0)."""
    assert real > 1.0, real
    mult, shift = quantize_multiplier(real)
    assert shift >= 0
    return mult, shift


def conv_per_channel_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                                 channels: int) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: effective scale computed in double per channel."""
    mults = np.zeros(channels, np.int32)
    shifts = np.zeros(channels, np.int32)
    per_channel = filter_scales.size > 1
    for c in range(channels):
        fs = float(np.float32(filter_scales[c if per_channel else 0]))
        eff = float(np.float32(input_scale)) * fs / float(np.float32(output_scale))
        mults[c], shifts[c] = quantize_multiplier(eff)
    return mults, shifts


def conv_multiplier_float_product(input_scale: float, filter_scale: float, output_scale: float) -> float:
    """GetQuantizedConvolutionMultipler: note the input*filter product is taken in *float*."""
    product = float(np.float32(np.float32(input_scale) * np.float32(filter_scale)))
    return product / float(np.float32(output_scale))


def activation_range(activation: str, scale: float, zero_point: int, dtype: str = "int8") -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the quantized clamp for a fused activation."""
    qmin, qmax = QRANGE[dtype]

    def q(f: float) -> int:
        with np.errstate(over="ignore"):
            v = float(np.float32(f) / np.float32(scale))
        if not abs(v) < 2.0**31:  # TFLite's static_cast<int32_t> of it is undefined (inf, or beyond int32)
            raise Unsupported(f"output scale {scale:g} puts the {activation} bound {f:g} at {v:g} quantization steps, "
                              "beyond int32, where TFLite's conversion of the bound is undefined")
        return zero_point + tflite_round(v)

    if activation in ("NONE", None):
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(f"fused activation {activation} is not supported for quantized operators")


# ---------------------------------------------------------------------------------------------
# Exact integer models of the C helpers in library/include/tinyml/common.h (numpy, vectorised).


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    overflow = (a == b) & (a == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    # C integer division truncates toward zero
    high = np.where(s >= 0, s // (1 << 31), -((-s) // (1 << 31)))
    return np.where(overflow, INT32_MAX, high).astype(np.int64)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def wrap_int32(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def multiply_by_quantized_multiplier(x: np.ndarray, mult: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (double rounding), as TFLite's reference kernels apply it."""
    shift = np.asarray(shift, np.int64)
    left = np.where(shift > 0, shift, 0)
    right = np.where(shift > 0, 0, -shift)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(wrap_int32(np.asarray(x, np.int64) << left), mult), right)


def multiply_by_quantized_multiplier_smaller_than_one_exp(x: np.ndarray, mult: int, left_shift: int) -> np.ndarray:
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, mult), -np.asarray(left_shift, np.int64))
