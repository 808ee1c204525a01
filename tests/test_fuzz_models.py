"""Untrusted model files: mutated real models keep the front doors' contract (success or our error,
no traceback, no hang, nothing written on error), and the defects the first fuzz run found stay
fixed. The long run is benchmarks/fuzz_models.py; this suite has a bounded budget for CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

import fuzz_models as fm
from conftest import ZOO

MODELS = fm.seed_models()
CLEAN = {"ok", "error"}
_slow = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _outcomes(data: bytes, commands: list[str]) -> list[tuple[str, str, str]]:
    return fm.check_mutant(data, commands, timeout=120)


@settings(_slow, max_examples=400)
@given(model=st.sampled_from(MODELS), kind=st.sampled_from(fm.KINDS), seed=st.integers(0, 2**32 - 1))
def test_mutants_through_convert_inspect_plan(model, kind, seed):
    data = fm.mutate(model.read_bytes(), kind, seed)
    for command, outcome, detail in _outcomes(data, ["convert", "convert-m4", "inspect", "plan"]):
        assert outcome in CLEAN, f"{model.name} {kind} seed {seed}: {command} -> {outcome}: {detail}"


@settings(_slow, max_examples=30)
@given(model=st.sampled_from(sorted(ZOO.glob("*.tflite"))), kind=st.sampled_from(sorted(fm.STRUCTURED)),
       seed=st.integers(0, 2**32 - 1))
def test_mutants_through_verify(model, kind, seed):
    """An accepted mutant compiles (-Werror), runs clean under ASan/UBSan with the arena poisoned
    outside each layer's tensors, and matches the reference; a refused one is our error."""
    data = fm.mutate(model.read_bytes(), kind, seed)
    [(command, outcome, detail)] = _outcomes(data, ["verify-sanitize"])
    assert outcome in CLEAN, f"{model.name} {kind} seed {seed}: {outcome}: {detail}"


# ---- the defects of the first fuzz run, one edit each on a 2-layer FC model -------------------

def _edit(fn, model: str = "fc_relu.tflite") -> bytes:
    m = schema.ModelT.InitFromPackedBuf((ZOO / model).read_bytes(), 0)
    fn(m, m.subgraphs[0])
    return fm._pack(m)


def _set(obj, name, value):
    setattr(obj, name, value)


def _op_io(i, which, pos, value):
    def fn(m, sg):
        lst = fm._lst(getattr(sg.operators[i], which))
        lst[pos] = value
        setattr(sg.operators[i], which, lst)
    return fn


def _quant(t, field, value):
    def fn(m, sg):
        q = sg.tensors[t].quantization
        setattr(q, field, [value])
    return fn


EDITS = {
    "output index -1": (_op_io(1, "outputs", 0, -1), "output 0 names tensor #-1"),
    "input index -2": (_op_io(0, "inputs", 0, -2), "input 0 names tensor #-2"),
    "input index INT32_MIN": (_op_io(0, "inputs", 1, fm.INT32_MIN), "names tensor #-2147483648"),
    "weights omitted (-1)": (_op_io(0, "inputs", 1, -1), "not allowed here"),
    "no outputs": (lambda m, sg: _set(sg.operators[0], "outputs", []), "has no outputs"),
    "two producers": (lambda m, sg: sg.operators.append(sg.operators[1]), "already produces"),
    "cycle": (_op_io(0, "inputs", 0, 6), "produces only later"),
    "out of order": (lambda m, sg: sg.operators.reverse(), "produces only later"),
    "no inputs": (lambda m, sg: _set(sg, "inputs", []), "has no inputs"),
    "no model outputs": (lambda m, sg: _set(sg, "outputs", []), "has no outputs"),
    "constant input": (lambda m, sg: _set(sg, "inputs", [2]), "is a constant tensor"),
    "scale nan": (_quant(0, "scale", float("nan")), "scale nan"),
    "scale inf": (_quant(5, "scale", float("inf")), "scale inf"),
    "scale 0": (_quant(6, "scale", 0.0), "scale 0.0"),
    "scale negative": (_quant(2, "scale", -0.5), "scale -0.5"),
    "scale 1e-46 (0 in float32)": (_quant(0, "scale", 1e-46), "finite and positive"),
    "zero point 2^40": (_quant(6, "zeroPoint", 1 << 40), "zero point 1099511627776"),
    "zero point 2^31": (_quant(0, "zeroPoint", 1 << 31), "outside the type's range"),
    "zero point 128 (int8)": (_quant(0, "zeroPoint", 128), "[-128, 127]"),
    "per-channel count": (lambda m, sg: [_set(sg.tensors[2].quantization, "scale", [0.1, 0.2, 0.3]),
                                         _set(sg.tensors[2].quantization, "zeroPoint", [0, 0, 0])],
                          "match no dimension"),
    "zero point count": (lambda m, sg: _set(sg.tensors[3].quantization, "zeroPoint", []), "but 0 zero points"),
    "negative dimension": (lambda m, sg: _set(sg.tensors[0], "shape", [-1, 24]), "must be positive"),
    "zero dimension": (lambda m, sg: _set(sg.tensors[6], "shape", [1, 0]), "must be positive"),
    "huge tensor": (lambda m, sg: _set(sg.tensors[5], "shape", [65536, 65536]), "MAX_TENSOR_BYTES"),
    "weights shorter than shape": (lambda m, sg: _set(sg.tensors[2], "shape", [10, 17]), "needs 170"),
    "buffer index past the end": (lambda m, sg: _set(sg.tensors[2], "buffer", 999), "names buffer 999"),
    "opcode index past the end": (lambda m, sg: _set(sg.operators[0], "opcodeIndex", 7), "operator code 7"),
    "activation enum": (lambda m, sg: _set(sg.operators[0].builtinOptions, "fusedActivationFunction", 9),
                        "fused_activation_function = 9"),
    "FC output shape [1, 5]": (lambda m, sg: _set(sg.tensors[6], "shape", [1, 5]), "does not match"),
    "FC output shape [1, 24]": (lambda m, sg: _set(sg.tensors[5], "shape", [1, 24]), "does not match"),
    "FC input inconsistent with weights": (lambda m, sg: _set(sg.tensors[0], "shape", [1, 23]), "not a multiple"),
    "FC 3-D weights": (lambda m, sg: [_set(sg.tensors[4], "shape", [16, 4, 6])], "2-D"),
    "extreme scale ratio": (lambda m, sg: [_quant(0, "scale", 1e38)(m, sg), _quant(5, "scale", 1e-38)(m, sg)],
                            "multiplier"),
    "float16 activation": (lambda m, sg: _set(sg.tensors[5], "type", schema.TensorType.FLOAT16), "float16"),
}


def _drop_options(m, sg):
    sg.operators[0].builtinOptionsType, sg.operators[0].builtinOptions = 0, None


def _conv_options_on_fc(m, sg):
    sg.operators[0].builtinOptionsType = schema.BuiltinOptions.Conv2DOptions
    sg.operators[0].builtinOptions = schema.Conv2DOptionsT()


# Accepted mutants that were not bit-exact (the second fuzz run), one edit each on a 1-op model:
# what the reference interpreters handle in their own ways is refused, naming the operator.
NOT_BITEXACT = {
    # options 300012: tflite-runtime ran the conv on all-zero options (stride 0) -> another output shape
    "conv without options": ("conv_dilation2.tflite", _drop_options, "has no Conv2DOptions table"),
    # quant 300103: tflite-runtime refuses quantized_dimension -2; tflite-micro's RELU6 ignores the
    # output scale, so the fallback reference disagreed with TFLite's reference kernels
    "quantized_dimension -2": ("activations_relu6.tflite",
                               lambda m, sg: _set(sg.tensors[3].quantization, "quantizedDimension", -2),
                               "operator #0 (RELU6)'s tensor #3"),
    "quantized_dimension 2 of a rank-2 activation": (
        "activations_relu6.tflite", lambda m, sg: _set(sg.tensors[3].quantization, "quantizedDimension", 2),
        "outside [0, 2)"),
    "pool without options": ("pool_avg_valid.tflite", _drop_options, "has no Pool2DOptions table"),
    "FC with Conv2DOptions": ("fc_relu.tflite", _conv_options_on_fc, "carries Conv2DOptions"),
    # options 800210: TFLite keeps dilations (and strides, padding) in int16, so 65536 wrapped there
    "depthwise dilation 32768": ("conv_dw_m1_same_s2.tflite",
                                 lambda m, sg: _set(sg.operators[0].builtinOptions, "dilationWFactor", 32768),
                                 "dilation_w 32768 exceeds 32767"),
}


@pytest.mark.parametrize("case", sorted(EDITS) + sorted(NOT_BITEXACT))
def test_malformed_model_gets_a_clear_error(case, tmp_path):
    model, edit, expected = NOT_BITEXACT[case] if case in NOT_BITEXACT else ("fc_relu.tflite", *EDITS[case])
    path = tmp_path / "m.tflite"
    path.write_bytes(_edit(edit, model))
    for command in ("convert", "inspect", "plan"):
        outcome, detail = fm.run_command(command, path, tmp_path)
        if command != "convert" and outcome == "ok":
            continue  # inspect and plan list what lowering refuses as findings
        assert outcome == "error", f"{command}: {outcome} {detail}"
        assert expected in detail or expected in _full_error(command, path, tmp_path), detail


def _full_error(command: str, path: Path, tmp: Path) -> str:
    import subprocess
    import sys

    args = {"convert": ["convert", str(path), "-o", str(tmp / "o")], "inspect": ["inspect", str(path)],
            "plan": ["plan", str(path)], "verify": ["verify", str(path), "--inputs", "1"]}[command]
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", *args], capture_output=True, text=True)
    return r.stderr + r.stdout


def test_error_names_file_operator_and_type(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(_edit(_op_io(1, "outputs", 0, -1)))
    text = _full_error("convert", path, tmp_path)
    assert str(path) in text and "operator #1 (FULLY_CONNECTED)" in text and "What to do:" in text
    assert "Traceback" not in text


def test_unmodified_models_are_accepted():
    for model in MODELS:
        assert fm.check_mutant(model.read_bytes(), ["inspect"])[0][1] == "ok", model


def test_lut_with_an_overflowing_output_scale_is_refused():
    """Found by the long fuzz run: tanh's table with output scale 1e-45 was inf -> int (OverflowError)."""
    from tinyml_pio import fixedpoint as fp
    from tinyml_pio.errors import Unsupported

    with pytest.raises(Unsupported, match="too small"):
        fp.lut_populate_s8(0.05, 0, 1e-45, 0, fp.tanh_transform)


def test_model_only_tflite_micro_takes_is_not_verified_against_its_relu6(tmp_path):
    """Found by the second fuzz run (flip 700105 of activations_relu6_nn): a tensor name that is
    not UTF-8 makes tflite-runtime's Python wrapper refuse the model; tflite-micro's RELU6 only
    clamps, so verify reported a difference that TFLite's reference kernels do not have."""
    from tinyml_pio.reference import reference_for
    from tinyml_pio.tflite_import import load_model

    path = tmp_path / "m.tflite"
    path.write_bytes(_edit(lambda m, sg: _set(sg.tensors[0], "name", b"x\xfd\xfe"), "activations_relu6_nn.tflite"))
    outcome, detail = fm.run_command("verify", path, tmp_path)
    assert outcome == "error" and "tflite-micro" in detail, detail
    assert "only clamps" in _full_error("verify", path, tmp_path)
    assert reference_for(load_model(ZOO / "activations_relu6_nn.tflite")).kind == "tflite-runtime"



@pytest.mark.parametrize("scale", [1e-45, 1e-30, 6 / 2**31])
def test_activation_bound_beyond_int32_is_refused(scale):
    """Found by the second long fuzz run (pool_avg_valid quant 500175): RELU6's bound 6 / 1e-45 was
    inf -> int (OverflowError); TFLite's cast of a bound beyond int32 is undefined."""
    from tinyml_pio import quant
    from tinyml_pio.errors import Unsupported

    with pytest.raises(Unsupported, match="beyond int32"):
        quant.activation_range("RELU6", scale, 0)
    assert quant.activation_range("RELU", scale, 0) == (0, 127)
