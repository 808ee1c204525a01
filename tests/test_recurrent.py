"""Recurrent operators with state tensors (issue 13): SVDF int8 with int16 state, bit-exact with
tflite-runtime's reference kernels over sequences of invokes (the state carried across them, on
the host and on every emulated board), the state planned outside the arena, and reset_state."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import missing_toolchain
from recurrent_models import svdf_int8
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
EMULATED = [b.id for b in list_boards() if b.id.startswith("qemu_")]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyml_pio.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("recurrent")
    return {name: svdf_int8(d / f"{name}.tflite", **kw) for name, kw in SVDF.items()}


@pytest.mark.parametrize("name", sorted(SVDF))
def test_svdf_bit_exact_over_a_sequence(name, models):
    r = verify_model(str(models[name]), n=N_STEPS, seed=5)
    assert r.reference == "tflite-runtime"
    assert (r.identical, r.total) == (N_STEPS, N_STEPS), r.mismatch


def test_svdf_output_depends_on_the_state(models):
    """The same input invoked again gives another output: the sequence test checks the state."""
    path = models["svdf_rank2"]
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


def test_reset_state_restarts_the_sequence(models, tmp_path):
    c = compile_model(models["svdf_rank2"], "kws")
    exe = build_executable({**c.files, "main.c": RESET_MAIN}, tmp_path)
    r = subprocess.run([str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    firsts = r.stdout.split()[:8]
    assert len(set(firsts)) > 1, firsts  # the sequence really moves the state


def test_plan_and_inspect_show_the_state_bytes(models):
    p = str(models["svdf_rank2"])
    plan = run_cli("plan", p)
    assert plan.returncode == 0 and "state:       80 bytes (outside the arena" in plan.stdout
    insp = run_cli("inspect", p)
    assert insp.returncode == 0 and "state: 80 bytes" in insp.stdout and "1 state)" in insp.stdout


def test_svdf_without_a_variable_state_is_refused(tmp_path):
    from op_models import Net

    n = Net()
    n.input("x", [1, 4], scale=0.05, zp=0)
    n.input("s", [1, 6], "int16", scale=0.01, zp=0)  # a plain input, not a variable tensor
    wf = n.const("wf", np.ones((2, 4)), "int8", scale=0.02, zp=0)
    wt = n.const("wt", np.ones((2, 3)), "int16", scale=1e-4, zp=0)
    n.op("SVDF", ["x", wf, wt, "", "s"], [n.tensor("y", [1, 2])], rank=1)
    path = n.write(tmp_path / "svdf_bad.tflite", ["y"])
    r = run_cli("convert", str(path), "-o", str(tmp_path / "out"))
    assert r.returncode == EXIT_ERROR
    assert "operator #0 (SVDF)" in r.stderr and "not a variable tensor" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


needs_qemu = pytest.mark.skipif(missing_toolchain("tflite_runtime") is not None,
                                reason=str(missing_toolchain("tflite_runtime")))


@needs_qemu
@pytest.mark.parametrize("board", EMULATED)
def test_svdf_sequence_bit_exact_in_qemu(board, models, hil_env):
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget(board)
    c = compile_model(models["svdf_batch2_rank3"], "model", target=target.cpu)
    rec = run_on_target(c, target, n_inputs=10, seed=3)
    assert rec["identical"] == rec["inputs"] == 10, f"svdf on {board}: {rec['bit_exact']}"
