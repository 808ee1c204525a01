"""Patch-based inference (tinyml_pio/passes/patch.py): the prefix up to a split operator runs tile
by tile and must stay bit-exact against TFLite for every split point and grid, including grids
that do not divide the output, stride 2 in the prefix, dilations and padding on every border;
with the portable and the optimized kernels, on the host and in QEMU. Also: what it refuses and
how, what `plan` reports, and the arena it saves on person_detect.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ZOO, missing_toolchain, shared_or_skip, zoo_models
from conv_models import conv_chain, mobilenet_v2_like
from tinyml_pio.cpu import CpuFeatures
from tinyml_pio.errors import TinymlError
from tinyml_pio.passes.patch import PatchError, chain, parse_patches
from tinyml_pio.pipeline import compile_model
from tinyml_pio.verify import verify_compiled

HOST_OPT = CpuFeatures.host_optimized()

# A chain with every geometry the window arithmetic must get right: stride 2 first (SAME, odd
# size: the extra padding row is at the bottom), a depthwise with dilation 2, a 1x1, a 5x5
# stride-2 depthwise, a VALID 3x3 and a rectangular 1x3 conv.
CHAIN = dict(input_shape=[1, 23, 19, 3], seed=7, in_zp=-5, layers=[
    dict(op="conv", kh=3, kw=3, out_c=8, stride=(2, 2), act="RELU"),
    dict(op="dw", kh=3, kw=3, dilation=(2, 2), act="RELU6"),
    dict(op="conv", kh=1, kw=1, out_c=6),
    dict(op="dw", kh=5, kw=5, stride=(2, 2), padding="SAME"),
    dict(op="conv", kh=3, kw=3, out_c=5, padding="VALID", act="RELU"),
    dict(op="conv", kh=1, kw=3, out_c=4, padding="SAME"),
])
# (split, grid): every split operator, grids that do not divide the output, strips, single tiles
CASES = [(0, "1x2"), (0, "3x4"), (0, "12x10"), (1, "2x2"), (1, "5x3"), (2, "4x1"), (2, "3x7"),
         (3, "2x3"), (3, "6x5"), (4, "2x2"), (4, "3x1"), (5, "1x3"), (5, "3x3")]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return conv_chain(tmp_path_factory.mktemp("patches") / "chain.tflite", **CHAIN)


def _check(c, n: int = 4) -> None:
    r = verify_compiled(c, n=n, seed=2)
    assert r.identical == r.total == n, r.mismatch


@pytest.mark.parametrize("target", [None, HOST_OPT], ids=["portable", "opt"])
@pytest.mark.parametrize("split,grid", CASES)
def test_every_split_and_grid_is_bit_exact(model, split, grid, target):
    c = compile_model(model, "m", target=target, patches=f"{grid}@op{split}")
    st = c.patches
    assert st is not None and st.split == split and f"{st.rows}x{st.cols}" == grid
    assert st.ops == list(range(split + 1))
    # the tiles cover the split's output exactly once
    h, w = c.graph.t(c.graph.ops[split].outputs[0]).shape[1:3]
    covered = sorted((r, q) for r0, r1, c0, c1 in st.tiles for r in range(r0, r1) for q in range(c0, c1))
    assert covered == [(r, q) for r in range(h) for q in range(w)]
    assert st.macs >= st.layer_macs
    _check(c)


@pytest.mark.parametrize("target", [None, HOST_OPT], ids=["portable", "opt"])
def test_patched_code_runs_clean_under_sanitizers(model, target):
    """The stage touches only the input, the split's output and its own scratch (ASan-poisoned arena)."""
    c = compile_model(model, "m", target=target, patches="3x2@op3")
    r = verify_compiled(c, n=2, seed=1, sanitize=True)
    assert r.identical == r.total == 2


def _chainable(path: Path) -> list[int]:
    c = compile_model(path, "m")
    ok = []
    for l in c.layers:
        try:
            chain(c.graph, c.layers, l.op.index)
            ok.append(l.op.index)
        except PatchError:
            pass
    return ok


@pytest.mark.parametrize("path", [p for p in zoo_models() if p.stem.startswith(("conv_", "pool_", "plan_unet", "datamove_pad", "activations_", "elementwise_"))],
                         ids=lambda p: p.stem)
def test_zoo_models_bit_exact_at_their_deepest_split(path):
    """Pools (average and max, SAME/VALID, stride 1-3) and conv/depthwise variants, split at the
    last operator a chain reaches, on a grid that does not divide the output."""
    splits = _chainable(path)
    if not splits:
        with pytest.raises(PatchError, match="cannot run the prefix"):
            compile_model(path, "m", patches="2x2@op0")
        return
    split = splits[-1]
    g = compile_model(path, "m").graph
    h, w = g.t(g.ops[split].outputs[0]).shape[1:3]
    grid = f"{min(h, 3)}x{min(w, 2)}"
    _check(compile_model(path, "m", patches=f"{grid}@op{split}"))


def test_auto_keeps_layer_by_layer_when_patches_do_not_pay(model):
    c = compile_model(model, "m", patches="auto")
    base = compile_model(model, "m")
    assert c.plan.arena_size <= base.plan.arena_size
    if c.patches is None:
        assert c.files == base.files


def test_branched_prefix_is_refused_where_a_branch_leaves_it():
    """Residual ADDs inside the prefix are patched (tests/test_patch_branches.py); a split inside a
    block, whose input is still read by the ADD after the split, is refused with the reason."""
    _check(compile_model(ZOO / "plan_residual.tflite", "m", patches="2x2@op4"))
    with pytest.raises(PatchError, match=r"also read by operator\(s\) \[4\] outside the prefix"):
        compile_model(ZOO / "plan_residual.tflite", "m", patches="2x2@op3")


def test_bad_settings_are_clear_errors(model):
    for bad in ("4x", "0x2@op1", "2x2@opx", "big"):
        with pytest.raises(TinymlError, match="not understood"):
            parse_patches(bad)
    with pytest.raises(PatchError, match="no operator #99"):
        compile_model(model, "m", patches="2x2@op99")
    with pytest.raises(PatchError, match="does not fit"):
        compile_model(model, "m", patches="9x9@op5")


def test_training_and_patches_are_refused_together():
    with pytest.raises(TinymlError, match="cannot be combined with on-device training"):
        compile_model(ZOO / "pool_gap.tflite", "m", patches="2x2@op0", train="bias+last")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyml_pio.cli", *args], capture_output=True, text=True, timeout=300)


def test_plan_json_arena_is_the_generated_arena(model, tmp_path):
    r = _cli("plan", str(model), "--json", "--patches", "3x3@op3")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["patches"]["setting"] == "3x3@op3" and j["patches"]["split"] == 3
    assert j["layer_arena_bytes"] == compile_model(model, "m").plan.arena_size
    c = _cli("convert", str(model), "-o", str(tmp_path), "--prefix", "m", "--patches", "3x3@op3")
    assert c.returncode == 0, c.stderr
    declared = int(re.search(r"#define M_ARENA_SIZE (\d+)", (tmp_path / "m.h").read_text()).group(1))
    assert j["arena_bytes"] == declared
    text = _cli("plan", str(model), "--patches", "3x3@op3").stdout
    assert "patches:     3x3@op3: ops 0, 1, 2, 3" in text and "MACs: prefix" in text and "PATCHES" in text
    bad = _cli("plan", str(model), "--patches", "2x2@op99")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "no operator #99" in bad.stderr
    ins = _cli("inspect", str(model), "--patches", "3x3@op3").stdout
    assert ins.count("(patches 3x3@op3)") == 4 and f"with patches 3x3@op3: layer by layer {j['layer_arena_bytes']}" in ins
    v = _cli("verify", str(model), "--inputs", "2", "--patches", "2x3@op2")
    assert v.returncode == 0 and "bit-exact: 2/2 inputs" in v.stdout and "patches: 2x3@op2" in v.stdout


def test_person_detect_auto_halves_the_arena_bit_exact():
    path = shared_or_skip("tflm__person_detect.tflite")
    c = compile_model(path, "m", patches="auto")
    base = compile_model(path, "m")
    st = c.patches
    assert st is not None and st.overhead <= 0.2
    assert st.layer_arena == base.plan.arena_size
    assert c.plan.arena_size * 1.9 < base.plan.arena_size, (c.plan.arena_size, base.plan.arena_size)
    _check(c, n=3)
    _check(compile_model(path, "m", target=HOST_OPT, patches=st.text), n=2)


def test_mobilenet_v2_like_at_144px_auto_cuts_the_arena_3x_bit_exact(tmp_path):
    """The issue's target: at least 3x below our layer-by-layer plan (in place included) within
    20 % more MACs; the full input image is in the arena and counted."""
    path = conv_chain(tmp_path / "mbv2.tflite", **mobilenet_v2_like(144))
    c = compile_model(path, "m", patches="auto")
    base = compile_model(path, "m")
    assert c.patches is not None and c.patches.overhead <= 0.2
    assert 3 * c.plan.arena_size <= base.plan.arena_size, (c.plan.arena_size, base.plan.arena_size)
    assert c.plan.arena_size >= c.graph.t(c.graph.inputs[0]).nbytes
    _check(c, n=2)


needs_qemu = pytest.mark.skipif(missing_toolchain("tflite_runtime") is not None,
                                reason=str(missing_toolchain("tflite_runtime")))


@needs_qemu
def test_patched_chain_bit_exact_in_qemu(model, hil_env):
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget("qemu_mps2_an386")
    c = compile_model(model, "model", target=target.cpu, patches="3x2@op3")
    assert c.patches is not None and any(s.func.endswith("_opt") for s in c.layers[0].steps if s.func)
    rec = run_on_target(c, target, n_inputs=3, seed=4)
    assert rec["identical"] == rec["inputs"] == 3, rec["bit_exact"]
    assert rec["patches"]["setting"] == "3x2@op3" and rec["planned_arena_bytes"] == c.plan.arena_size


def test_platformio_option_converts_with_patches(model, tmp_path):
    from test_platformio import FakeEnv
    from tinyml_pio.platformio import extra

    proj = tmp_path / "proj"
    (proj / "models").mkdir(parents=True)
    (proj / "models" / "chain.tflite").write_bytes(model.read_bytes())
    opts = {extra.OPT_MODELS: "net:models/chain.tflite", extra.OPT_PATCHES: "net:3x3@op3"}
    log: list[str] = []
    (g,) = extra.configure(FakeEnv(opts, tmp_path / "build", proj), FakeEnv(), log=log.append)
    src = (tmp_path / "build" / "tinyml" / "net.c").read_text()
    assert "PATCHES" in src and "tinyml_copy_tile_s8" in src
    assert g.arena == compile_model(model, "net", patches="3x3@op3").plan.arena_size
    assert any("patches 3x3@op3" in m for m in log)
    extra._STATE.clear()
    with pytest.raises(TinymlError, match="not understood"):
        extra.configure(FakeEnv({**opts, extra.OPT_PATCHES: "lots"}, tmp_path / "b2", proj), FakeEnv(), log=log.append)
    extra._STATE.clear()
    with pytest.raises(TinymlError, match="is not PREFIX:VALUE"):
        extra.configure(FakeEnv({**opts, extra.OPT_PATCHES: "kws:auto other:off"}, tmp_path / "b3", proj), FakeEnv(),
                        log=log.append)
    extra._STATE.clear()


def test_fit_picks_the_least_overhead_that_fits(tmp_path):
    path = conv_chain(tmp_path / "mbv2.tflite", **mobilenet_v2_like(144))
    base = compile_model(path, "m")
    budget = base.plan.arena_size // 2
    c = compile_model(path, "m", patches="fit", budget=budget)
    assert c.patches is not None and c.plan.arena_size <= budget
    auto = compile_model(path, "m", patches="auto")
    assert c.patches.overhead <= auto.patches.overhead
    assert compile_model(path, "m", patches="fit", budget=base.plan.arena_size).patches is None  # fits already
    with pytest.raises(TinymlError, match="no patch setting fits the arena into 1000 bytes"):
        compile_model(path, "m", patches="fit", budget=1000)
    with pytest.raises(TinymlError, match="needs a RAM budget"):
        compile_model(path, "m", patches="fit")
    r = _cli("plan", str(path), "--patches", "fit", "--board", "qemu_mps2_an386", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["board"]["fits"] and j["layer_arena_bytes"] > j["board"]["arena_budget_bytes"] >= j["arena_bytes"]


@needs_qemu
def test_model_too_big_for_the_board_layer_by_layer_runs_with_fit_in_qemu(tmp_path, hil_env):
    """MobileNetV2-like at 144 px needs more than qemu_mps2_an386's 224 KB arena budget layer by layer."""
    from tinyml_pio.boards import load_board
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    path = conv_chain(tmp_path / "mbv2.tflite", **mobilenet_v2_like(144))
    budget = load_board("qemu_mps2_an386").arena_budget
    target = EmulatedTarget("qemu_mps2_an386")
    assert compile_model(path, "model", target=target.cpu).plan.arena_size > budget
    c = compile_model(path, "model", target=target.cpu, patches="fit", budget=budget)
    assert c.patches is not None and c.plan.arena_size <= budget
    rec = run_on_target(c, target, n_inputs=2, seed=5, timeout=60)
    assert rec["identical"] == rec["inputs"] == 2, rec["bit_exact"]


@pytest.mark.parametrize("target", [None, HOST_OPT], ids=["portable", "opt"])
def test_weights_are_counted_once_with_patches(model, target):
    """The steps share their operator's weights and constants: flash is what it is layer by layer."""
    define = lambda c: int(re.search(r"#define M_WEIGHTS_BYTES (\d+)", c.files["m.h"]).group(1))  # noqa: E731
    base = compile_model(model, "m", target=target)
    c = compile_model(model, "m", target=target, patches="3x3@op4")
    assert define(c) == define(base) > 0
    assert c.files["m.c"].count("static const int8_t m_w") == base.files["m.c"].count("static const int8_t m_w")
