"""Input callback mode of patch-based inference (`--patches ...+callback`, passes/patch.py): the
patch stage asks the application for each window of the input through the generated
`<prefix>_read_input` declaration, so the input is not in the arena. The host harness and the
HIL firmware play the application with a callback that copies the rows out of a full image
(tinyml_copy_input_window); outputs must be bit-exact (TFLite, hence the normal run), and `plan`
must report the arena without the input apart from the figures that include it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ZOO, missing_toolchain
from tinyml_pio.cpu import CpuFeatures
from tinyml_pio.passes.patch import PatchError, parse_patches
from tinyml_pio.pipeline import compile_model
from tinyml_pio.verify import verify_compiled

BRANCHES = ZOO / "patch_branches.tflite"
# windows narrower than the image (column copies), whole rows, every tile reading the whole
# input, and an inception cell whose four branches each ask for their own window of the input
CASES = [(BRANCHES, "3x2@op12"), (BRANCHES, "4x1@op4"), (BRANCHES, "2x3@op19"),
         (ZOO / "plan_inception.tflite", "2x3@op8"), (ZOO / "conv_same_s2_rect.tflite", "3x2@op0")]


def _check(c, n: int = 2, **kw):
    r = verify_compiled(c, n=n, seed=4, **kw)
    assert r.identical == r.total == n, r.mismatch
    return r


@pytest.mark.parametrize("target", [None, CpuFeatures.host_optimized()], ids=["portable", "opt"])
@pytest.mark.parametrize("path,grid", CASES, ids=lambda v: getattr(v, "stem", v))
def test_callback_mode_is_bit_exact_and_keeps_the_input_out_of_the_arena(path, grid, target):
    c = compile_model(path, "m", target=target, patches=grid + "+callback")
    normal = compile_model(path, "m", target=target, patches=grid)
    x = c.graph.inputs[0]
    assert c.patches.outside == {x} and c.patches.text == grid + "+callback"
    assert x not in c.plan.tensor_offsets and x in normal.plan.tensor_offsets
    h = c.files["m.h"]
    assert "#define M_INPUT_CALLBACK 1" in h and "void m_read_input(const tinyml_input_window_t *w, int8_t *dst);" in h
    assert "case 0: return (void *)NULL;" in c.files["m.c"] and "m_read_input(&m_l" in c.files["m.c"]
    assert "M_INPUT_CALLBACK" not in normal.files["m.h"]
    _check(c)
    _check(normal)


def test_callback_reads_only_the_stage_windows_under_sanitizers():
    _check(compile_model(BRANCHES, "m", patches="3x2@op12+callback"), sanitize=True)


def test_auto_and_fit_search_with_the_callback():
    c = compile_model(BRANCHES, "m", patches="auto+callback")
    assert c.patches is not None and c.patches.text.endswith("+callback")
    _check(c, n=1)
    assert parse_patches("fit+callback").input_callback and not parse_patches("fit").input_callback


def test_callback_is_refused_when_others_read_the_input():
    with pytest.raises(PatchError, match="with the input callback: it needs the input read by the patch stage only"):
        compile_model(ZOO / "plan_inception.tflite", "m", patches="2x2@op0+callback")


def test_plan_reports_the_arena_without_the_input_apart():
    args = [sys.executable, "-m", "tinyml_pio.cli", "plan", str(BRANCHES), "--patches", "3x2@op12+callback"]
    text = subprocess.run(args, capture_output=True, text=True, timeout=300).stdout
    c = compile_model(BRANCHES, "m", patches="3x2@op12+callback")
    x = c.graph.t(c.graph.inputs[0]).nbytes
    assert f"input callback: the {x:,}-byte input is NOT in the arena".replace(",", " ") in text
    assert "bytes WITHOUT the input (with it:" in text and "(input included)" in text
    j = json.loads(subprocess.run(args + ["--json"], capture_output=True, text=True, timeout=300).stdout)
    assert j["arena_bytes"] == c.plan.arena_size and j["patches"]["input"] == "callback"
    assert j["patches"]["input_bytes_outside_arena"] == x


@pytest.mark.skipif(missing_toolchain("tflite_runtime") is not None, reason=str(missing_toolchain("tflite_runtime")))
def test_callback_mode_bit_exact_in_qemu(hil_env):
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget("qemu_mps2_an386")
    c = compile_model(BRANCHES, "model", target=target.cpu, patches="3x2@op12+callback")
    rec = run_on_target(c, target, n_inputs=2, seed=6)
    assert rec["identical"] == rec["inputs"] == 2, rec["bit_exact"]
    assert rec["planned_arena_bytes"] == c.plan.arena_size and rec["patches"]["input"] == "callback"
