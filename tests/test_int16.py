"""16x8 quantization (int16 activations, int8 weights; tinyml_pio/ops/int16.py, int16_act.py): small
hand-written models for the variants the converter does not make (QUANTIZE from int16 to int8,
int16 and int32, broadcasting, power-of-two scales, beta), the sigmoid table against
tflite-runtime, refusals that name the dtype, and one model per zoo family on every emulated board.
The zoo's int16_* models (tests/models/zoo_specs/int16.py) are verified in test_bitexact_models.py."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ZOO, missing_toolchain
from op_models import TYPES, Net
from test_op_coverage import EMULATED, _check
from tinyml_pio.pipeline import compile_model

Q15 = 1.0 / 32768


def _requant(out_dtype: str, out_scale: float, out_zp: int = 0) -> Net:
    """int16 -> QUANTIZE -> out_dtype, as a model output (int32 outputs carry a scale too)."""
    n = Net()
    n.input("x", [3, 50], "int16", scale=0.0007, zp=0)
    if out_dtype == "int32":
        n.names["y"] = n.tables.tensor("y", [3, 50], TYPES["int32"], [out_scale], [out_zp])
    else:
        n.tensor("y", [3, 50], out_dtype, scale=out_scale, zp=out_zp)
    n.op("QUANTIZE", ["x"], ["y"])
    n.outputs = ["y"]
    return n


def _binary(kind: str, s1, s2, scales=(0.0004, 0.0009, 0.001), **options) -> Net:
    n = Net()
    n.input("a", s1, "int16", scale=scales[0])
    n.input("b", s2, "int16", scale=scales[1])
    shape = list(np.broadcast_shapes(tuple(s1), tuple(s2)))
    n.op(kind, ["a", "b"], [n.tensor("y", shape, "int16", scale=scales[2])], fused_activation_function=0, **options)
    n.outputs = ["y"]
    return n


def _unary(kind: str, shape, in_scale: float, out_scale: float = Q15, **options) -> Net:
    n = Net()
    n.input("x", shape, "int16", scale=in_scale)
    n.op(kind, ["x"], [n.tensor("y", shape, "int16", scale=out_scale)], **options)
    n.outputs = ["y"]
    return n


def _concat() -> Net:
    n = Net()
    n.input("a", [2, 3, 4], "int16", scale=0.0005)
    n.input("b", [2, 3, 2], "int16", scale=0.0005)
    n.op("CONCATENATION", ["a", "b"], [n.tensor("y", [2, 3, 6], "int16", scale=0.0005)], axis=-1,
         fused_activation_function=0)
    n.outputs = ["y"]
    return n


MODELS = {
    "quantize_s16_s8": lambda: _requant("int8", 0.05, 3),
    "quantize_s16_s16": lambda: _requant("int16", 0.0003),
    "quantize_s16_s32_output": lambda: _requant("int32", 0.00001),
    "add_same_shape": lambda: _binary("ADD", [2, 5, 7], [2, 5, 7], pot_scale_int16=False),
    "add_broadcast": lambda: _binary("ADD", [2, 1, 6], [3, 1], (0.002, 0.0001, 0.0015), pot_scale_int16=False),
    "mul_broadcast": lambda: _binary("MUL", [1, 4, 6], [6], (0.0003, 0.0002, 0.000004)),
    "softmax_beta_half": lambda: _unary("SOFTMAX", [3, 17], 0.0004, beta=0.5),
    "softmax_wide": lambda: _unary("SOFTMAX", [1, 300], 0.0002),
    "logistic_pot_scale": lambda: _unary("LOGISTIC", [2, 500], 2.0 ** -12),
    "logistic_general_scale": lambda: _unary("LOGISTIC", [4, 300], 0.00031),
    "tanh_pot_scale": lambda: _unary("TANH", [2, 500], 2.0 ** -12),
    "tanh_general_scale": lambda: _unary("TANH", [1, 999], 0.0011),
    "concat_last_axis": _concat,
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_int16_ops_bit_exact(name, tmp_path):
    _check(MODELS[name](), tmp_path, name)


def test_int32_output_is_a_model_output(tmp_path):
    n = MODELS["quantize_s16_s32_output"]()
    c = compile_model(n.write(tmp_path / "q32.tflite", n.outputs), "m")
    assert [l.func for l in c.layers] == ["tinyml_requantize_s16_s32"]
    assert c.graph.t(c.graph.outputs[0]).dtype == "int32"


def test_sigmoid_table_is_tflites(tmp_path):
    """The measured table: tflite-runtime's int16 TANH at input scale 1/6144 maps x = 128 i to
    table[i] - 32768 (i < 255; entry 255 only sets the last slope, checked by the ops above)."""
    from tinyml_pio.ops.int16_act import sigmoid_table
    from tinyml_pio.reference import Reference

    n = _unary("TANH", [65536], 1.0 / 6144)
    ref = Reference(n.write(tmp_path / "tanh.tflite", n.outputs).read_bytes(), num_outputs=1, num_inputs=1)
    x = np.arange(-32768, 32768, dtype=np.int16)
    y = ref.run([x])[0].astype(np.int64)
    measured = y[(x >= 0) & (x % 128 == 0)][:255] + 32768
    assert measured.tolist() == sigmoid_table()[:255].astype(np.int64).tolist()


@pytest.mark.parametrize("build,problem", [
    (lambda: _int8_to_int16(), "TFLite 2.14 has no int8 -> int16"),
    (lambda: _binary("ADD", [4], [4], pot_scale_int16=True), "pot_scale_int16"),
    (lambda: _unary("SOFTMAX", [2, 4], 0.001, out_scale=0.001), "scale 1/32768"),
    (lambda: _mean_s16(), "is int16; expected int8"),
], ids=["quantize_s8_s16", "add_pot_scale", "softmax_scale", "mean_s16"])
def test_uncovered_16x8_variants_are_refused_by_name(build, problem, tmp_path):
    """inspect lists each refused 16x8 operator with what is missing (here: the dtype or option)."""
    from tinyml_pio.inspect import inspect_model

    n = build()
    text = inspect_model(str(n.write(tmp_path / "refused.tflite", n.outputs)))
    line = next(l for l in text.splitlines() if "operator #0" in l)
    assert problem in line, line


def _int8_to_int16() -> Net:
    n = Net()
    n.input("x", [8], "int8", scale=0.05, zp=1)
    n.op("QUANTIZE", ["x"], [n.tensor("y", [8], "int16", scale=0.001)])
    n.outputs = ["y"]
    return n


def _mean_s16() -> Net:
    n = Net()
    n.input("x", [1, 4, 4, 3], "int16", scale=0.001)
    n.op("MEAN", ["x", n.const("axes", [1, 2])], [n.tensor("y", [1, 3], "int16", scale=0.001)], keep_dims=False)
    n.outputs = ["y"]
    return n


# ---- one model per family on every emulated board -------------------------------------------------

def _chain() -> Net:
    """The hand-written variants in one model for the boards: a broadcast ADD of a constant, a MUL,
    then QUANTIZE int16 -> int8 and int16 -> int32, both model outputs."""
    rng = np.random.default_rng(5)
    n = Net()
    n.input("x", [2, 6], "int16", scale=0.0007)
    n.tensor("c", [6], "int16", scale=0.0009, data=rng.integers(-30000, 30000, size=6))
    n.op("ADD", ["x", "c"], [n.tensor("a", [2, 6], "int16", scale=0.001)], fused_activation_function=0,
         pot_scale_int16=False)
    n.op("MUL", ["a", "x"], [n.tensor("m", [2, 6], "int16", scale=0.025)], fused_activation_function=0)
    n.op("QUANTIZE", ["m"], [n.tensor("y8", [2, 6], "int8", scale=0.1, zp=2)])
    n.names["y32"] = n.tables.tensor("y32", [2, 6], TYPES["int32"], [0.00001], [0])
    n.op("QUANTIZE", ["a"], ["y32"])
    n.outputs = ["y8", "y32"]
    return n


FAMILIES = ["int16_conv_softmax", "int16_depthwise_logistic", "int16_audio_tanh", "chain"]
NEW_16X8 = {"tinyml_conv2d_s16", "tinyml_depthwise_conv2d_s16", "tinyml_fully_connected_s16", "tinyml_maxpool_s16",
            "tinyml_avgpool_s16", "tinyml_add_s16", "tinyml_mul_s16", "tinyml_softmax_s16", "tinyml_logistic_s16",
            "tinyml_tanh_s16", "tinyml_requantize_s16_s8", "tinyml_requantize_s16_s16", "tinyml_requantize_s16_s32",
            "tinyml_concat_s16", "tinyml_quantize_f32_s16", "tinyml_dequantize_s16_f32"}
needs_qemu = pytest.mark.skipif(missing_toolchain("tflite_runtime") is not None,
                                reason=str(missing_toolchain("tflite_runtime")))


@pytest.fixture(scope="module")
def family_models(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("int16-families")
    models = {f: ZOO / f"{f}.tflite" for f in FAMILIES if f != "chain"}
    return {**models, "chain": _chain().write(d / "chain.tflite", ["y8", "y32"])}


def test_families_cover_every_16x8_kernel(family_models):
    seen = {l.func for p in family_models.values() for l in compile_model(p, "m").layers}
    assert NEW_16X8 <= seen, NEW_16X8 - seen


def test_chain_bit_exact_on_host(tmp_path):
    _check(_chain(), tmp_path, "chain")


@needs_qemu
@pytest.mark.parametrize("board", EMULATED)
@pytest.mark.parametrize("family", FAMILIES)
def test_16x8_families_bit_exact_in_qemu(family, board, family_models, hil_env):
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget(board)
    rec = run_on_target(compile_model(family_models[family], "model", target=target.cpu), target, n_inputs=4, seed=3)
    assert rec["identical"] == rec["inputs"] == 4, f"{family} on {board}: {rec['bit_exact']}"
