"""Fixed-point math for SOFTMAX / LOG_SOFTMAX / LOGISTIC / TANH.

- tinyml_pio/fixedpoint.py vs real-number / big-integer definitions (hypothesis);
- the C twins in library/include/tinyml/fixedpoint.h vs the Python model, compiled on the host;
- the Python models of the int8 kernels vs tflite-runtime (BUILTIN_REF): every one of the 256 int8
  inputs for LOGISTIC/TANH, random rows for SOFTMAX/LOG_SOFTMAX, with the zoo models' quantization
  parameters (and beta) rewritten in place to cover many scales.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ZOO, run_host_c
from tinyml_pio import fixedpoint as fp
from tinyml_pio import quant

int32s = st.integers(min_value=quant.INT32_MIN, max_value=quant.INT32_MAX)
nonpos32 = st.integers(min_value=quant.INT32_MIN, max_value=0)
q0_unit = st.integers(min_value=0, max_value=quant.INT32_MAX)


def big_round_half_away(x: Fraction) -> int:
    r = math.floor(abs(x) + Fraction(1, 2))
    return r if x >= 0 else -r


# ---------------------------------------------------------------------------------------------
# Primitives against definitions.


@given(st.integers(0, (1 << 32) - 1))
def test_clz32(u):
    x = u - (1 << 32) if u >= (1 << 31) else u
    assert int(fp.clz32(x)) == 32 - u.bit_length()


@given(int32s, st.integers(-31, 31))
def test_saturating_rounding_multiply_by_pot(x, e):
    if e >= 0:
        expect = min(max(x * (1 << e), quant.INT32_MIN), quant.INT32_MAX)
    else:
        expect = big_round_half_away(Fraction(x, 1 << -e))
    assert int(fp.sat_mul_pot(x, e)) == expect


@given(int32s, int32s)
def test_rounding_half_sum(a, b):
    assert int(fp.rounding_half_sum(a, b)) == big_round_half_away(Fraction(a + b, 2))


# ---------------------------------------------------------------------------------------------
# gemmlowp / TFLite math functions against real math.


@given(nonpos32, st.integers(0, 6))
def test_exp_on_negative_values(a, integer_bits):
    got = int(fp.exp_on_negative_values(a, integer_bits)) / 2**31
    assert abs(got - math.exp(a / 2 ** (31 - integer_bits))) < 1e-6


@given(st.integers(-(1 << 29), -1))
def test_exp_on_interval_between_negative_one_quarter_and_0(a):
    got = int(fp.exp_on_interval_between_negative_one_quarter_and_0_excl(a)) / 2**31
    assert abs(got - math.exp(a / 2**31)) < 5e-7  # 4th-order Taylor around -1/8


@given(q0_unit)
def test_one_over_one_plus_x(a):
    got = int(fp.one_over_one_plus_x_for_x_in_0_1(a)) / 2**31
    assert abs(got - 1 / (1 + a / 2**31)) < 1e-8


@given(st.integers(1 << 19, quant.INT32_MAX))
def test_log_x_for_x_greater_than_or_equal_to_1(x):
    got = int(fp.log_x_for_x_greater_than_or_equal_to_1(x, 12, 5)) / 2**26
    assert abs(got - math.log(x / 2**19)) < 1e-6


@given(st.integers(1 << 19, quant.INT32_MAX))
def test_get_reciprocal(x):
    scale, nbits = fp.get_reciprocal(x, 12)
    got = int(scale) / 2**31 / 2 ** int(nbits)
    assert abs(got * (x / 2**19) - 1) < 1e-8


@given(int32s, st.integers(0, 6))
def test_tanh_and_logistic(a, integer_bits):
    v = a / 2 ** (31 - integer_bits)
    assert abs(int(fp.tanh(a, integer_bits)) / 2**31 - math.tanh(v)) < 1e-6
    assert abs(int(fp.logistic(a, integer_bits)) / 2**31 - 1 / (1 + math.exp(-v))) < 1e-6


@given(st.floats(1e-6, 50.0), st.floats(0.05, 300.0))
def test_softmax_scaling_never_overflows(scale, beta):
    """Every difference TFLite does not skip (>= diff_min) can be left-shifted inside int32."""
    if beta * scale * 2**26 <= 1.0:
        return
    mult, left_shift = fp.preprocess_softmax_scaling(beta, scale, 5)
    radius = fp.calculate_input_radius(5, left_shift)
    assert radius >= 0
    assert -radius * (1 << left_shift) >= quant.INT32_MIN
    c = fp.SoftmaxConsts(scale, beta)
    assert c.exp_table[0] == quant.INT32_MAX  # exp(0) == 1
    assert np.all(np.diff(c.exp_table) <= 0)  # monotone in the difference


# ---------------------------------------------------------------------------------------------
# C helpers vs the Python model.

C_PROGRAM = r"""
#include <stdio.h>
#include "tinyml/fixedpoint.h"
int main(void) {
    long x, e;
    while (scanf("%ld %ld", &x, &e) == 2) {
        int nb = 0;
        long r = (long)tinyml_fp_get_reciprocal((int32_t)(x > 0 ? x : 1), 12, &nb);
        printf("%ld %ld %ld %d %ld %ld\n", (long)tinyml_fp_one_over_one_plus_x((int32_t)(x < 0 ? -x - 1 : x)),
               (long)tinyml_fp_log_x_ge_1((int32_t)(x < (1L << 19) ? (1L << 19) : x), 12, 5), r, nb,
               (long)tinyml_fp_sat_mul_pot((int32_t)x, (int)e), (long)tinyml_fp_rounding_half_sum((int32_t)x, (int32_t)e));
    }
    return 0;
}
"""


def test_c_fixedpoint_equals_python_model(tmp_path):
    rng = np.random.default_rng(3)
    n = 20000
    xs = np.concatenate([rng.integers(quant.INT32_MIN, quant.INT32_MAX, n, endpoint=True),
                         rng.integers(1 << 19, 1 << 26, n), [quant.INT32_MIN, quant.INT32_MAX, 0, -1, 1, 1 << 19]])
    es = rng.integers(-31, 32, xs.size)
    inp = "\n".join(f"{x} {e}" for x, e in zip(xs, es))
    out = run_host_c(tmp_path, C_PROGRAM, inp)
    got = np.array(out, np.int64).reshape(-1, 6)
    np.testing.assert_array_equal(got[:, 0], fp.one_over_one_plus_x_for_x_in_0_1(np.where(xs < 0, -xs - 1, xs)))
    np.testing.assert_array_equal(got[:, 1], fp.log_x_for_x_greater_than_or_equal_to_1(np.maximum(xs, 1 << 19), 12, 5))
    scale, nbits = fp.get_reciprocal(np.where(xs > 0, xs, 1), 12)
    np.testing.assert_array_equal(got[:, 2], scale)
    np.testing.assert_array_equal(got[:, 3], nbits)
    np.testing.assert_array_equal(got[:, 4], [int(fp.sat_mul_pot(int(x), int(e))) for x, e in zip(xs, es)])
    np.testing.assert_array_equal(got[:, 5], fp.rounding_half_sum(xs, es))


# ---------------------------------------------------------------------------------------------
# Python kernel models vs tflite-runtime, with quantization parameters rewritten in the model.


def _interpreter(model: bytes):
    tfl = pytest.importorskip("tflite_runtime.interpreter")
    it = tfl.Interpreter(model_content=model, experimental_op_resolver_type=tfl.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    return it


def _run(it, x: np.ndarray) -> np.ndarray:
    it.set_tensor(it.get_input_details()[0]["index"], x.reshape(it.get_input_details()[0]["shape"]))
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()


def _patch(model: bytes, tensor: int, scale: float | None = None, zero_point: int | None = None,
           beta: float | None = None) -> bytes:
    """Rewrite a tensor's (per-tensor) scale / zero point, or op 0's softmax beta, in place."""
    import tflite

    buf = bytearray(model)
    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    if scale is not None or zero_point is not None:
        q = sg.Tensors(tensor).Quantization()
        tab = q._tab
        if scale is not None:  # QuantizationParameters.scale: vtable slot 8, [float]
            struct.pack_into("<f", buf, tab.Vector(tab.Offset(8)), scale)
        if zero_point is not None:  # zero_point: slot 10, [long]
            struct.pack_into("<q", buf, tab.Vector(tab.Offset(10)), zero_point)
    if beta is not None:
        t = sg.Operators(0).BuiltinOptions()
        o = t.Offset(4)  # SoftmaxOptions.beta
        assert o, "beta is not stored in this model (default value)"
        struct.pack_into("<f", buf, t.Pos + o, beta)
    out = bytes(buf)
    m2 = tflite.Model.GetRootAsModel(out, 0).Subgraphs(0)
    if scale is not None:
        assert m2.Tensors(tensor).Quantization().Scale(0) == np.float32(scale)
    return out


def _zoo(name: str) -> bytes:
    p = ZOO / f"{name}.tflite"
    if not p.is_file():
        pytest.skip(f"{p} missing (run make_zoo.py fixedpoint)")
    return p.read_bytes()


def _io(model: bytes) -> tuple[int, int]:
    import tflite

    op = tflite.Model.GetRootAsModel(model, 0).Subgraphs(0).Operators(0)
    return op.Inputs(0), op.Outputs(0)


ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


def _lut_case(name: str, transform, in_scale, in_zp, out_scale, out_zp):
    model = _zoo(name)
    ti, to = _io(model)
    if in_scale is not None:
        model = _patch(model, ti, scale=in_scale, zero_point=in_zp)
        model = _patch(model, to, scale=out_scale, zero_point=out_zp)
    it = _interpreter(model)
    (s_in, zp_in), (s_out, zp_out) = (it.get_input_details()[0]["quantization"],
                                      it.get_output_details()[0]["quantization"])
    ref = _run(it, ALL_INT8).reshape(-1)
    table = fp.lut_populate_s8(s_in, zp_in, s_out, zp_out, transform)
    np.testing.assert_array_equal(table.astype(np.int8), ref)


@pytest.mark.parametrize("name,transform", [("fixedpoint_logistic", fp.logistic_transform),
                                            ("fixedpoint_tanh", fp.tanh_transform)])
def test_lut_exhaustive_zoo(name, transform):
    _lut_case(name, transform, None, None, None, None)


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-3, 2.0), st.integers(-128, 127), st.integers(-128, 127))
def test_logistic_lut_exhaustive_any_scale(in_scale, in_zp, out_zp):
    _lut_case("fixedpoint_logistic", fp.logistic_transform, in_scale, in_zp, 1.0 / 256, out_zp)


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-3, 2.0), st.integers(-128, 127), st.floats(1.0 / 256, 1.0 / 64), st.integers(-20, 20))
def test_tanh_lut_exhaustive_any_scale(in_scale, in_zp, out_scale, out_zp):
    _lut_case("fixedpoint_tanh", fp.tanh_transform, in_scale, in_zp, out_scale, out_zp)


def _rows(rng: np.random.Generator, shape, k: int) -> list[np.ndarray]:
    rows = []
    for i in range(k):
        lo = int(rng.integers(-128, 128))
        hi = int(rng.integers(lo, 128))
        rows.append(rng.integers(lo, hi + 1, size=shape).astype(np.int8))
    rows.append(np.full(shape, 127, np.int8))
    rows.append(np.full(shape, -128, np.int8))
    return rows


@settings(max_examples=40, deadline=None)
@given(st.floats(math.log(1e-4), math.log(3.0)), st.floats(math.log(0.05), math.log(300.0)), st.integers(0, 1000))
def test_softmax_model_vs_tflite(log_scale, log_beta, seed):
    scale, beta = float(np.float32(math.exp(log_scale))), float(np.float32(math.exp(log_beta)))
    if beta * scale * 2**26 <= 1.0:
        return
    model = _zoo("fixedpoint_softmax_beta")
    ti, _ = _io(model)
    it = _interpreter(_patch(model, ti, scale=scale, beta=beta))
    shape = tuple(it.get_input_details()[0]["shape"])
    for x in _rows(np.random.default_rng(seed), shape, 6):
        np.testing.assert_array_equal(fp.softmax_s8(x, scale, beta), _run(it, x))


@settings(max_examples=40, deadline=None)
@given(st.floats(math.log(1e-3), math.log(3.0)), st.integers(0, 1000))
def test_log_softmax_model_vs_tflite(log_scale, seed):
    scale = float(np.float32(math.exp(log_scale)))
    model = _zoo("fixedpoint_log_softmax_3d")
    ti, _ = _io(model)
    it = _interpreter(_patch(model, ti, scale=scale))
    shape = tuple(it.get_input_details()[0]["shape"])
    for x in _rows(np.random.default_rng(seed), shape, 6):
        np.testing.assert_array_equal(fp.log_softmax_s8(x, scale), _run(it, x))
