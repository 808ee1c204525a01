"""On-device training (tinyml_pio/training): schemes, the backward program, train-check against the
float64 reference, train-plan, the generated C for host and Cortex-M, and a training run in QEMU
whose parameters must equal the host build's bit for bit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SHARED_MODELS, ZOO, missing_toolchain, offline_pio_env, shared_or_skip
from tinyml_pio.errors import TinymlError
from tinyml_pio.pipeline import compile_model
from tinyml_pio.tflite_import import load_model
from tinyml_pio.training import ROUNDINGS, parse_update, resolve_update
from tinyml_pio.training.check import run_check
from tinyml_pio.training.report import build as build_report, to_json
from tinyml_pio.training.simulate import simulate

DIGITS = ROOT / "example_projects" / "digits_cnn" / "models" / "digits_cnn.tflite"
EXAMPLES = sorted((ROOT / "example_projects").glob("*/models/*.tflite"))
SCHEMES = ["last", "bias", "bias+last", "last:2", "full"]
KIB256 = 256 * 1024

PD_SPARSE = """\
# person_detect (MobileNetV1-0.25): biases of the last 6 conv layers, the classifier's weights and
# a quarter / an eighth of the input channels of the last two pointwise convolutions
bias_last = 6
[[weights]]
op = 28
channels = 1.0
[[weights]]
op = 26
channels = 0.25
[[weights]]
op = 24
channels = 0.125
"""


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyml_pio.cli", *args], capture_output=True, text=True, timeout=600)


def check(model: Path, scheme: str, steps: int = 3, rounding: str | None = None, qas: bool = True, lr: float = 0.01):
    spec = resolve_update(scheme, load_model(model), None)
    if rounding:
        spec.rounding = rounding
    spec.qas = qas
    c = compile_model(model, "m", train=spec)
    rep = run_check(c, steps=steps, lr=lr, reference_model=model.read_bytes())
    assert rep.ok, "\n".join(rep.lines)
    assert rep.lines[-1] == f"training matches reference: {steps}/{steps} steps"
    return rep


# ---- schemes ----------------------------------------------------------------------------------

def test_schemes_pick_the_layers_they_name():
    g = load_model(DIGITS)  # conv 0, dw 1, conv 3, fc 6, fc 7
    last = parse_update("last", g)
    assert last.ops == [7] and last.layers[7].channels == 1.0 and last.layers[7].bias
    bias = parse_update("bias", g)
    assert bias.ops == [0, 1, 3, 6, 7] and all(u.bias and u.channels == 0 for u in bias.layers.values())
    bl = parse_update("bias+last", g)
    assert bl.layers[7].channels == 1.0 and bl.layers[0].channels == 0 and bl.layers[0].bias
    assert parse_update("last:2", g).ops == [6, 7]
    assert all(u.channels == 1.0 for u in parse_update("full", g).layers.values())


def test_sparse_spec_file(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("bias_last = 2\nrounding = 'master'\nqas = false\nmomentum = 0.5\n[[weights]]\nop = 3\nchannels = 0.5\n")
    s = parse_update(str(f), load_model(DIGITS))
    assert s.ops == [3, 6, 7] and s.layers[3].channels == 0.5 and s.layers[6].bias and s.layers[6].channels == 0
    assert s.rounding == "master" and s.qas is False and s.momentum == 0.5


@pytest.mark.parametrize("text,why", [
    ("lastt", "unknown part"),
    ("last:0", "last:0 asks for 0 layers"),
    ("last:9", "the model has 5 trainable layers"),
    ("last:x", "needs an integer"),
])
def test_bad_schemes_are_clear_errors(text, why):
    with pytest.raises(TinymlError, match=why):
        parse_update(text, load_model(DIGITS))


@pytest.mark.parametrize("body,why", [
    ("[[weights]]\nop = 2\n", r"operator #2 \(MAX_POOL_2D\) has no trainable weights"),
    ("[[weights]]\nop = 99\n", "is not an operator index"),
    ("[[weights]]\nop = 3\nchannels = 1.5\n", "must be a fraction"),
    ("bias_last = 7\n", "bias_last = 7 must be an integer from 0 to 5"),
    ("bias_lats = 1\n", "unknown key"),
    ("momentum = 1.5\n", "must be a number in"),
    ("bias_last = [\n", "cannot read it"),
])
def test_bad_spec_files_are_clear_errors(tmp_path, body, why):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(TinymlError, match=why):
        parse_update(str(f), load_model(DIGITS))


def test_bad_scheme_from_the_cli_writes_nothing(tmp_path):
    out = tmp_path / "out"
    r = cli("convert", str(DIGITS), "-o", str(out), "--train", "last:42")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "last:42 asks for 42 layers" in r.stderr and "What to do:" in r.stderr
    assert not out.exists()


def test_op_without_backward_on_the_path_is_named():
    model = ZOO / "elementwise_residual.tflite"  # FC, ADD, FC, MUL, ADD: MUL lies after every FC
    for scheme in ("full", "last"):
        with pytest.raises(TinymlError, match=r"no backward pass for operator #3 \(MUL\)"):
            compile_model(model, "m", train=scheme)


def test_backward_graph_is_pruned():
    p = compile_model(DIGITS, "m", train="last").train
    assert [s.split(":")[0] for s in p.steps] == ["loss", "op 7 FULLY_CONNECTED"]
    assert "-> grad" not in p.steps[1]  # nothing below the only trainable layer
    assert p.plan.arena_size == compile_model(DIGITS, "m").plan.arena_size  # no extra arena for the classifier
    b = compile_model(DIGITS, "m", train="bias").train
    assert b.trainable_tensors.isdisjoint({t.index for t in b.graph.tensors if t.dtype == "int8" and t.is_const})
    assert all(p.role in ("bias", "folded_bias") for p in b.params)  # frozen weights stay in flash


def test_sparse_update_keeps_only_a_slice_of_the_input(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("[[weights]]\nop = 3\nchannels = 0.25\n")
    p = compile_model(DIGITS, "m", train=str(f)).train
    saved = [t for t in p.graph.tensors if p.tensor_kind.get(t.index) == "saved"]
    assert len(saved) == 1 and saved[0].shape == (16, 2)  # 4x4 pixels x 2 of 8 channels
    assert any("2/8 input channels" in s for s in p.steps)


# ---- train-check: C vs the float64 reference ---------------------------------------------------

@pytest.mark.parametrize("scheme", SCHEMES)
def test_digits_matches_reference(scheme):
    check(DIGITS, scheme)


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_every_write_back_rule_matches_reference(rounding):
    check(DIGITS, "full", rounding=rounding, lr=0.05)


@pytest.mark.parametrize("rounding", ["stochastic", "master"])
def test_momentum_matches_reference_and_is_counted(rounding):
    spec = resolve_update("full", load_model(DIGITS), None)
    spec.rounding, spec.momentum = rounding, 0.9
    c = compile_model(DIGITS, "m", train=spec)
    rep = run_check(c, steps=4, lr=0.02, reference_model=DIGITS.read_bytes())
    assert rep.ok, "\n".join(rep.lines)
    n_values = sum(p.data.size for p in c.train.params if p.role in ("weights", "bias", "folded_bias"))
    assert c.train.optimizer_bytes == 4 * n_values * (2 if rounding == "master" else 1)


def test_without_qas_matches_reference():
    check(DIGITS, "bias+last", qas=False, lr=0.5)


@pytest.mark.parametrize("model", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("scheme", ["bias+last", "last:2"])
def test_examples_match_reference(model, scheme):
    check(model, scheme)


ZOO_FAMILIES = ["conv_dw_m2_valid", "conv_same_s2_rect", "conv_dilation2", "conv_no_bias", "conv_valid_s2_relu6",
                "conv_float_io", "datamove_pad_spatial", "fc_relu6", "fc_keep_dims", "fixedpoint_log_softmax",
                "plan_residual", "pool_gap", "pool_mean_keepdims", "activations_relu"]


@pytest.mark.parametrize("name", ZOO_FAMILIES)
def test_zoo_families_match_reference(name):
    check(ZOO / f"{name}.tflite", "full", steps=2)


SHARED = ["tflm__person_detect.tflite", "tflm__micro_speech_quantized.tflite", "tflm__hello_world_int8.tflite",
          "armmlex__dnn_s_quantized.tflite", "openmv__force_int_quant.tflite"]
SHARED_CASES = [(m, s) for m in SHARED for s in ("last", "bias", "bias+last", "last:2")] + [
    ("tflm__person_detect.tflite", "sparse"), ("tflm__hello_world_int8.tflite", "full")]


@pytest.mark.parametrize("name,scheme", SHARED_CASES)
def test_shared_models_match_reference(name, scheme, tmp_path):
    model = shared_or_skip(name)
    if scheme == "sparse":
        (tmp_path / "s.toml").write_text(PD_SPARSE)
        scheme = str(tmp_path / "s.toml")
    check(model, scheme, steps=2)


def test_train_check_cli_last_line():
    r = cli("train-check", str(DIGITS), "--update", "bias+last", "--steps", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == "training matches reference: 2/2 steps"


# ---- train-plan -------------------------------------------------------------------------------

def test_person_detect_bias_and_sparse_fit_256k(tmp_path):
    model = shared_or_skip("tflm__person_detect.tflite")
    (tmp_path / "s.toml").write_text(PD_SPARSE)
    figures = {}
    for scheme in ("bias", str(tmp_path / "s.toml"), "last:4"):
        r = build_report(str(model), scheme)
        j = to_json(r)
        assert j["peak_bytes"] == j["arena_bytes"] + j["params_bytes"] + j["optimizer_bytes"] + j["context_bytes"]
        assert j["arena_bytes"] == max(j["inference_arena_bytes"], j["training_arena_bytes"])
        figures[scheme] = j["peak_bytes"]
    assert figures["bias"] <= KIB256 and figures[str(tmp_path / "s.toml")] <= KIB256


def test_train_plan_json_plot_and_board(tmp_path):
    png = tmp_path / "mem.png"
    r = cli("train-plan", str(DIGITS), "--update", "bias+last", "--json", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    for key in ("peak_bytes", "inference_arena_bytes", "breakdown", "backward_steps", "params_bytes"):
        assert key in j
    assert j["breakdown"]["gradients"] > 0 and png.stat().st_size > 1000
    text = cli("train-plan", str(DIGITS), "--update", "full").stdout
    assert "backward graph" in text and "op 0 CONV_2D" in text and "training SRAM" in text


@pytest.mark.parametrize("model", [p for p in sorted(SHARED_MODELS.glob("*.tflite"))] + EXAMPLES, ids=lambda p: p.stem)
def test_train_plan_every_model_every_scheme(model, tmp_path):
    from tinyml_pio.training import trainable_ops

    ops = [o.index for o in trainable_ops(load_model(model))]
    sparse = tmp_path / "s.toml"
    sparse.write_text(f"bias_last = {min(2, len(ops))}\n[[weights]]\nop = {ops[-1]}\nchannels = 0.5\n")
    for scheme in ("last", "bias", "bias+last", "last:2", str(sparse)):
        if scheme == "last:2" and len(ops) < 2:
            continue
        j = to_json(build_report(str(model), scheme))
        assert j["peak_bytes"] >= j["inference_arena_bytes"] and j["backward_steps"][0].startswith("loss:")


def test_train_plan_over_budget_fails_with_the_figures():
    model = shared_or_skip("tflm__person_detect.tflite")
    r = cli("train-plan", str(model), "--update", "bias", "--board", "nano33ble")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "bytes over" in r.stderr and "Arduino Nano 33 BLE" in r.stderr and "auto:" in r.stderr
    assert "these fit: last (39,704 B)" in r.stderr


# ---- the generated C --------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not on PATH")
@pytest.mark.parametrize("scheme", ["bias+last", "full"])
def test_training_c_compiles_warning_free_for_cortex_m4(scheme, tmp_path):
    from tinyml_pio.hostbuild import library_dir

    c = compile_model(DIGITS, "dg", train=scheme, target="qemu_mps2_an386")
    for name, text in c.files.items():
        (tmp_path / name).write_text(text)
    lib = library_dir()
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-std=c99", "-O2", "-Wall", "-Wextra",
             "-Werror", "-Wdouble-promotion", "-ffp-contract=off", "-I", str(tmp_path), "-I", str(lib / "include")]
    for src in [tmp_path / "dg.c", lib / "src" / "kernels" / "train.c"]:
        r = subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


def test_params_load_and_inference_uses_the_trained_parameters():
    c = compile_model(DIGITS, "dg", train="bias+last")
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (40, 8, 8, 1)).astype(np.int8)
    y = rng.integers(0, 10, 40)
    before = simulate(c, x[:0], y[:0], 0.01, x[:5])
    after = simulate(c, x, y, 0.05, x[:5])
    assert len(after.losses) == 40 and len(after.params) == c.train.params_bytes
    assert any(not np.array_equal(a, b) for a, b in zip(before.outputs, after.outputs))


# ---- on the emulated board ----------------------------------------------------------------------

SMOKE_MAIN = r"""
#include <stdint.h>
#include <string.h>
#include "dg.h"
#include "tinyml_board.h"

#define STEPS 12
int tinyml_app_main(void);
int tinyml_app_main(void) {
    int s, i;
    const uint8_t *p;
    uint32_t crc = 0xFFFFFFFFu;
    for (s = 0; s < STEPS; ++s) {
        int8_t *x = (int8_t *)dg_input(0);
        float loss;
        uint32_t bits;
        for (i = 0; i < DG_INPUT0_SIZE; ++i) x[i] = (int8_t)(((i * 29 + s * 53 + 7) & 0xFF) - 128);
        loss = dg_train_step(s % DG_NUM_CLASSES, 0.05f);
        memcpy(&bits, &loss, 4);
        tinyml_board_printf("step %d loss %08lx\n", s, (unsigned long)bits);
    }
    p = (const uint8_t *)dg_params();
    for (i = 0; i < (int)dg_params_bytes(); ++i) { /* CRC-32, as zlib.crc32 */
        int k;
        crc ^= p[i];
        for (k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    tinyml_board_printf("params %lu crc %08lx\n", (unsigned long)dg_params_bytes(), (unsigned long)(crc ^ 0xFFFFFFFFu));
    return 0;
}

int main(void) { return tinyml_app_main(); }
"""

needs_qemu = pytest.mark.skipif(missing_toolchain() is not None, reason=str(missing_toolchain()))


@needs_qemu
@pytest.mark.parametrize("board", ["qemu_mps2_an386", "qemu_mps2_an385"])
def test_training_in_qemu_equals_the_host_build(board, tmp_path):
    from tinyml_pio.platformio import qemu

    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "main.c").write_text(SMOKE_MAIN)
    (proj / "platformio.ini").write_text(textwrap.dedent(f"""\
        [env:{board}]
        platform = symlink://{ROOT / 'board_defs' / 'platform'}
        board = {board}
        upload_protocol = qemu
        lib_deps = symlink://{ROOT / 'library'}
        custom_tinyml_models = dg:{DIGITS}
        custom_tinyml_train = bias+last
        """))
    env = offline_pio_env(tmp_path / "core")
    r = subprocess.run([sys.executable, "-m", "platformio", "run", "-d", str(proj), "-e", board], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert "training" not in r.stderr
    elf = proj / ".pio" / "build" / board / "firmware.elf"
    run = qemu.run(elf, qemu.load_board(board), timeout=120)
    assert run.exit_code == 0, run.text

    c = compile_model(DIGITS, "dg", train="bias+last")
    xs = np.array([[((i * 29 + s * 53 + 7) & 0xFF) - 128 for i in range(64)] for s in range(12)], np.int8).reshape(12, 8, 8, 1)
    host = simulate(c, xs, np.arange(12) % 10, 0.05)
    want = [f"step {s} loss {np.float32(v).view(np.uint32):08x}" for s, v in enumerate(host.losses)]
    got = [l.strip() for l in run.text.splitlines() if l.startswith("step ")]
    assert got == want, run.text
    assert f"params {len(host.params)} crc {zlib.crc32(host.params):08x}" in run.text


# ---- auto:BYTES --------------------------------------------------------------------------------

@pytest.mark.parametrize("budget", [2000, 6000, 12000])
def test_auto_fits_its_budget_and_starts_from_the_classifier(budget):
    r = build_report(str(DIGITS), f"auto:{budget}")
    assert r.peak_bytes <= budget
    assert r.program.spec.layers[7].channels == 1.0  # the classifier first
    if budget >= 6000:  # room for more than the classifier
        assert len(r.program.spec.ops) > 1


def test_auto_with_too_small_a_budget_says_so():
    r = cli("train-plan", str(DIGITS), "--update", "auto:500")
    assert r.returncode == 1 and "not even the classifier's bias fits in 500 bytes" in r.stderr


def test_auto_with_data_measures_candidates_on_the_host(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=rng.uniform(0, 1, (60, 8, 8, 1)).astype(np.float32), y_train=rng.integers(0, 10, 60))
    r = cli("train-plan", str(DIGITS), "--update", "auto:4600", "--data", str(data), "--json")
    assert r.returncode == 0, r.stderr
    assert "auto: candidate op 6 bias: gain" in r.stderr and "auto: chose ops" in r.stderr
    assert json.loads(r.stdout)["peak_bytes"] <= 4600
