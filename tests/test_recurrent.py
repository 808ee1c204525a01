"""Recurrent operators with state tensors (issue 13): SVDF int8 with int16 state and TFLite's
integer (8x8_16) UNIDIRECTIONAL_SEQUENCE_LSTM, bit-exact with tflite-runtime's reference kernels
over sequences of invokes (the state carried across them, on the host and on every emulated
board), the state planned outside the arena, and reset_state. The Keras LSTM zoo models
(tests/models/zoo/recurrent_*) run in test_bitexact_models; the hand-built LSTMs here cover what
Keras does not make (projection, clipping that bites, other cell scales)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import missing_toolchain
from recurrent_models import lstm_int8, svdf_float, svdf_int8
from tinyml_pio.boards import list_boards
from tinyml_pio.errors import EXIT_ERROR
from tinyml_pio.hostbuild import build_executable
from tinyml_pio.pipeline import compile_model
from tinyml_pio.planner import align
from tinyml_pio.reference import Reference
from tinyml_pio.verify import random_inputs, verify_model

N_STEPS = 24  # invokes in one sequence: several times the memory, so old activations leave the state
SVDF = {
    "svdf_rank2": dict(),
    "svdf_rank1_no_bias": dict(rank=1, units=6, bias=False, seed=1),
    "svdf_batch2_rank3": dict(batches=2, rank=3, units=3, memory=7, seed=2, in_q=(0.1, 20)),
    "svdf_memory1_tail": dict(memory=1, seed=3, tail=True),
    "svdf_saturating": dict(seed=4, state_scale=0.0005, out_q=(0.01, -3)),  # the int16 state clamps
}
SVDF_FLOAT = {  # the float variant, a float island after DEQUANTIZE: bit-exact too (same operation order)
    "svdf_f32_relu": dict(),
    "svdf_f32_batch2_rank3": dict(activation=0, batches=2, rank=3, units=3, seed=1),
    "svdf_f32_relu6_memory1": dict(activation=3, bias=False, memory=1, seed=2),
}
LSTM = {
    "lstm_plain": dict(),
    "lstm_projection_clips": dict(n_output=5, batches=2, proj_clip=0.05, cell_clip=0.8),
    "lstm_projection_no_bias_tm": dict(n_output=4, proj_bias=False, cell_exp=-9, time_major=True, batches=2, seed=3),
    "lstm_time_major_cell_clip": dict(time_major=True, batches=3, cell_exp=-12, cell_clip=0.3, seed=2),
    "lstm_cell_2e-15": dict(cell_exp=-15, seed=4, hidden_q=(0.004, -20)),
    "lstm_extreme_zero_points": dict(n_output=6, seed=7, hidden_q=(0.01, -100), state_q=(0.02, 50)),
}
EMULATED = [b.id for b in list_boards() if b.id.startswith("qemu_")]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyml_pio.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("recurrent")
    return {**{name: svdf_int8(d / f"{name}.tflite", **kw) for name, kw in SVDF.items()},
            **{name: svdf_float(d / f"{name}.tflite", **kw) for name, kw in SVDF_FLOAT.items()},
            **{name: lstm_int8(d / f"{name}.tflite", **kw) for name, kw in LSTM.items()}}


@pytest.mark.parametrize("name", sorted(SVDF))
def test_svdf_bit_exact_over_a_sequence(name, models):
    r = verify_model(str(models[name]), n=N_STEPS, seed=5)
    assert r.reference == "tflite-runtime"
    assert (r.identical, r.total) == (N_STEPS, N_STEPS), r.mismatch


@pytest.mark.parametrize("name", sorted(SVDF_FLOAT))
def test_float_svdf_bit_exact_over_a_sequence(name, models):
    r = verify_model(str(models[name]), n=N_STEPS, seed=7)
    assert r.reference == "tflite-runtime"
    assert (r.identical, r.total) == (N_STEPS, N_STEPS), (r.float_within, r.max_ulp, r.mismatch)


@pytest.mark.parametrize("name", sorted(LSTM))
def test_lstm_bit_exact_over_a_sequence(name, models):
    r = verify_model(str(models[name]), n=N_STEPS, seed=6)
    assert r.reference == "tflite-runtime"
    assert (r.identical, r.total) == (N_STEPS, N_STEPS), r.mismatch


@pytest.mark.parametrize("name", ["svdf_batch2_rank3", "svdf_f32_batch2_rank3", "lstm_projection_clips",
                                  "lstm_time_major_cell_clip"])
def test_recurrent_kernels_stay_in_their_buffers(name, models):
    """ASan/UBSan with the arena poisoned outside each layer's tensors and scratch (verify --sanitize)."""
    r = verify_model(str(models[name]), n=6, seed=8, sanitize=True)
    assert (r.identical, r.total) == (6, 6), r.mismatch


@pytest.mark.parametrize("name", ["svdf_rank2", "lstm_projection_clips"])
def test_output_depends_on_the_state(name, models):
    """The same input invoked again gives another output: the sequence test checks the state."""
    path = models[name]
    ref = Reference(path.read_bytes())
    x = random_inputs(compile_model(path, "m").graph, 1, seed=9)[0]
    outs = [ref.run(x)[0].copy() for _ in range(4)]
    assert any(not np.array_equal(outs[0], o) for o in outs[1:])


def test_state_is_planned_outside_the_arena(models):
    c = compile_model(models["svdf_batch2_rank3"], "kws")
    state = [t for t in c.graph.tensors if t.variable]
    assert len(state) == 1 and state[0].dtype == "int16"
    assert c.plan.state_offsets == {state[0].index: 0} and c.plan.state_size == align(state[0].nbytes)
    assert state[0].index not in c.plan.tensor_offsets
    assert all(state[0].index not in b.tensors for b in c.plan.buffers)
    assert f"#define KWS_STATE_SIZE {align(state[0].nbytes)}" in c.files["kws.h"]
    assert "void kws_reset_state(void);" in c.files["kws.h"]


RESET_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "kws.h"
/* invoke a sequence, reset, invoke it again: the outputs must repeat exactly */
int main(void) {
    static int8_t first[8][KWS_OUTPUT0_SIZE];
    int step, i, run;
    for (run = 0; run < 2; ++run) {
        if (run) kws_reset_state();
        for (step = 0; step < 8; ++step) {
            int8_t *x = kws_input0();
            for (i = 0; i < KWS_INPUT0_SIZE; ++i) x[i] = (int8_t)((i * 37 + step * 11) % 251 - 125);
            if (kws_invoke() != 0) return 3;
            if (!run) memcpy(first[step], kws_output0(), KWS_OUTPUT0_SIZE);
            else if (memcmp(first[step], kws_output0(), KWS_OUTPUT0_SIZE) != 0) return 10 + step;
            printf("%d ", kws_output0()[0]);
        }
    }
    return 0;
}
"""


@pytest.mark.parametrize("name", ["svdf_rank2", "lstm_extreme_zero_points"])  # LSTM: int8 state resets to zp 50
def test_reset_state_restarts_the_sequence(name, models, tmp_path):
    c = compile_model(models[name], "kws")
    exe = build_executable({**c.files, "main.c": RESET_MAIN}, tmp_path)
    r = subprocess.run([str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    firsts = r.stdout.split()[:8]
    assert len(set(firsts)) > 1, firsts  # the sequence really moves the state


def test_lstm_states_are_planned_outside_the_arena(models):
    c = compile_model(models["lstm_projection_clips"], "kws")
    state = sorted((t for t in c.graph.tensors if t.variable), key=lambda t: t.index)
    assert [t.dtype for t in state] == ["int8", "int16"]  # output state, cell state
    assert set(c.plan.state_offsets) == {t.index for t in state}
    assert c.plan.state_size == sum(align(t.nbytes) for t in state)
    assert not set(c.plan.state_offsets) & set(c.plan.tensor_offsets)
    assert "v[i] = -6;" in c.files["kws.c"]  # the int8 output state starts at its zero point, as TFLite's


@pytest.mark.parametrize("variant,why", [("cifg", "CIFG"), ("layer_norm", "layer normalization"),
                                         ("peephole", "peephole")])
def test_unsupported_lstm_variants_are_refused_clearly(variant, why, tmp_path):
    """The variants the kernel does not implement are named, not miscomputed; nothing is written."""
    path = lstm_int8(tmp_path / f"lstm_{variant}.tflite", **{variant: True})
    r = run_cli("convert", str(path), "-o", str(tmp_path / "out"))
    assert r.returncode == EXIT_ERROR
    assert "operator #0 (UNIDIRECTIONAL_SEQUENCE_LSTM)" in r.stderr and why in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


needs_qemu = pytest.mark.skipif(missing_toolchain("tflite_runtime") is not None,
                                reason=str(missing_toolchain("tflite_runtime")))


@needs_qemu
@pytest.mark.parametrize("board", EMULATED)
def test_recurrent_sequences_bit_exact_in_qemu(board, models, hil_env):
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget(board)
    for name in ("svdf_batch2_rank3", "svdf_f32_batch2_rank3", "lstm_projection_clips"):
        c = compile_model(models[name], "model", target=target.cpu)
        rec = run_on_target(c, target, n_inputs=10, seed=3)
        assert rec["identical"] == rec["inputs"] == 10, f"{name} on {board}: {rec['bit_exact']}"


@needs_qemu
@pytest.mark.parametrize("board", EMULATED)
def test_keras_lstm_sequence_bit_exact_in_qemu(board, hil_env):
    from conftest import ZOO
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget(board)
    c = compile_model(ZOO / "recurrent_lstm_last_dense.tflite", "model", target=target.cpu)
    rec = run_on_target(c, target, n_inputs=10, seed=4)
    assert rec["identical"] == rec["inputs"] == 10, f"Keras LSTM on {board}: {rec['bit_exact']}"
