"""Quantization math: Python helpers vs independent big-integer definitions (hypothesis), and the
C helpers in common.h vs the Python model, compiled on the host."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_host_c
from tinyml_pio import quant

int32s = st.integers(min_value=quant.INT32_MIN, max_value=quant.INT32_MAX)
scales = st.floats(min_value=1e-12, max_value=1e6, allow_nan=False, allow_infinity=False)


def big_rdbpot(x: int, e: int) -> int:
    """Round half away from zero of x / 2^e, with Python integers."""
    if e == 0:
        return x
    q, half = abs(x) >> e, (abs(x) & ((1 << e) - 1)) >= (1 << (e - 1))
    return (q + half) * (1 if x >= 0 else -1)


def big_srdhm(a: int, b: int) -> int:
    if a == b == quant.INT32_MIN:
        return quant.INT32_MAX
    p = a * b
    n = p + ((1 << 30) if p >= 0 else 1 - (1 << 30))
    return int(Fraction(n, 1 << 31)) if n >= 0 else -int(Fraction(-n, 1 << 31))


@given(scales)
def test_quantize_multiplier_represents_the_scale(real):
    m, s = quant.quantize_multiplier(real)
    if m == 0:
        assert real < 2.0**-31
        return
    assert (1 << 30) <= m < (1 << 31)
    approx = m * 2.0 ** (s - 31)
    assert abs(approx - real) <= real * 2.0**-30
    # frexp-based: the mantissa rounded half away from zero to 31 bits
    q, e = math.frexp(real)
    expect = math.floor(Fraction(q) * (1 << 31) + Fraction(1, 2))  # std::round: half away from zero
    if expect == (1 << 31):
        expect, e = expect // 2, e + 1
    assert (m, s) == (expect, e)


@given(int32s, st.integers(0, 31))
def test_rounding_divide_by_pot(x, e):
    assert int(quant.rounding_divide_by_pot(x, e)) == big_rdbpot(x, e)


@given(int32s, int32s)
def test_saturating_rounding_doubling_high_mul(a, b):
    assert int(quant.saturating_rounding_doubling_high_mul(a, b)) == big_srdhm(a, b)


@given(st.integers(-(1 << 24), 1 << 24), scales)
def test_multiply_by_quantized_multiplier_matches_definition(x, real):
    m, s = quant.quantize_multiplier(real)
    left, right = max(s, 0), max(-s, 0)
    shifted = x << left
    if not (quant.INT32_MIN <= shifted <= quant.INT32_MAX) or right > 31:
        return
    expect = big_rdbpot(big_srdhm(shifted, m), right)
    assert int(quant.multiply_by_quantized_multiplier(x, m, s)) == expect


@given(st.floats(1e-4, 10.0), st.integers(-128, 127), st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]))
def test_activation_range_is_inside_int8(scale, zp, act):
    lo, hi = quant.activation_range(act, scale, zp)
    assert -128 <= lo <= 127 and -128 <= hi <= 127
    if act == "NONE":
        assert (lo, hi) == (-128, 127)
    if act in ("RELU", "RELU6"):
        assert lo == max(-128, zp)


C_PROGRAM = r"""
#include <stdio.h>
#include "tinyml/common.h"
int main(void) {
    long x, m, s;
    while (scanf("%ld %ld %ld", &x, &m, &s) == 3) {
        printf("%ld %ld\n", (long)tinyml_requantize((int32_t)x, (int32_t)m, (int32_t)s),
               (long)tinyml_srdhm((int32_t)x, (int32_t)m));
    }
    return 0;
}
"""


def test_c_requantize_equals_python_model(tmp_path):
    rng = np.random.default_rng(7)
    n = 20000
    xs = np.concatenate([rng.integers(-(1 << 20), 1 << 20, n), rng.integers(quant.INT32_MIN, quant.INT32_MAX, n),
                         [quant.INT32_MIN, quant.INT32_MAX, 0, -1, 1]])
    reals = np.exp(rng.uniform(np.log(1e-9), np.log(50.0), xs.size))
    ms, ss = zip(*(quant.quantize_multiplier(float(r)) for r in reals))
    ms, ss = np.array(ms, np.int64), np.array(ss, np.int64)
    xs = np.where(ss > 0, np.clip(xs, -(1 << 20), 1 << 20), xs)  # TFLite only left-shifts small accumulators
    inp = "\n".join(f"{x} {m} {s}" for x, m, s in zip(xs, ms, ss))
    out = run_host_c(tmp_path, C_PROGRAM, inp)
    got = np.array(out, np.int64).reshape(-1, 2)
    np.testing.assert_array_equal(got[:, 0], quant.multiply_by_quantized_multiplier(xs, ms, ss))
    np.testing.assert_array_equal(got[:, 1], quant.saturating_rounding_doubling_high_mul(xs, ms))
