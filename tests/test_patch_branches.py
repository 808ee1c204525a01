"""Branched prefixes in patch-based inference (tinyml_pio/passes/patch.py): residual ADDs and
channel concatenations inside the patched prefix, where each tensor's region is the union of what
its readers need. Bit-exact against TFLite for many split points and grids (grids that do not
divide the output, stride 2 and PAD in the prefix, padding at every border), with the portable
and the optimized kernels; what is still refused and why; and the zoo's MCUNet- and
MobileNetV2-like nets, where `--patches auto` must cut the arena 3x within 20 % more MACs.
"""

from __future__ import annotations

import pytest

from conftest import ZOO
from tinyml_pio.cpu import CpuFeatures
from tinyml_pio.passes.patch import PatchError
from tinyml_pio.pipeline import compile_model
from tinyml_pio.verify import verify_compiled

HOST_OPT = CpuFeatures.host_optimized()
BRANCHES = ZOO / "patch_branches.tflite"  # tests/models/zoo_specs/patch.py: 37 x 29 input
# op 4: a residual ADD at 19 x 15; 8: PAD + VALID 5x5 stride-2 depthwise; 12: a residual ADD around
# a 7x7 depthwise; 17: an inception CONCATENATION (1x1, 3x3 depthwise + 1x1, 3x3 max-pool branches);
# 19: an ADD over the concatenation and a 3x3 conv of it; 20: a VALID stride-2 conv after it
CASES = [(4, "2x2"), (4, "3x5"), (4, "19x1"), (8, "1x3"), (8, "5x4"), (12, "2x3"), (12, "4x4"),
         (17, "3x3"), (17, "4x1"), (19, "2x2"), (19, "3x5"), (20, "2x2"), (20, "4x3")]


def _check(c, n: int = 2, **kw) -> None:
    r = verify_compiled(c, n=n, seed=2, **kw)
    assert r.identical == r.total == n, r.mismatch


@pytest.mark.parametrize("target", [None, HOST_OPT], ids=["portable", "opt"])
@pytest.mark.parametrize("split,grid", CASES)
def test_branched_prefix_is_bit_exact(split, grid, target):
    c = compile_model(BRANCHES, "m", target=target, patches=f"{grid}@op{split}")
    st = c.patches
    assert st is not None and st.ops == list(range(split + 1))
    types = [c.graph.ops[i].type for i in st.ops]
    assert types.count("ADD") == (split >= 4) + (split >= 12) + (split >= 19)
    assert ("CONCATENATION" in types) == (split >= 17) and ("PAD" in types) == (split >= 6)
    assert st.macs > st.layer_macs
    _check(c)


def test_branched_stage_runs_clean_under_sanitizers():
    """Window copies, the ADD's copy into its own output and the concatenation's channel slices stay
    inside the stage's buffers (ASan-poisoned arena)."""
    _check(compile_model(BRANCHES, "m", target=HOST_OPT, patches="3x2@op19"), sanitize=True)


@pytest.mark.parametrize("name,splits", [("plan_residual", (4, 8)), ("plan_inception", (None,))])
def test_planner_zoo_branches_are_bit_exact(name, splits):
    """Residual blocks back to back, and an inception cell whose four branches read the graph input
    with different halos (a 3x3 max pool, 1x1 and 3x3 convs)."""
    path = ZOO / f"{name}.tflite"
    g = compile_model(path, "m").graph
    for split in splits:
        split = split if split is not None else next(o.index for o in g.ops if o.type == "CONCATENATION")
        for grid in ("2x2", "3x5", "1x4"):
            c = compile_model(path, "m", patches=f"{grid}@op{split}")
            assert c.patches is not None and len(c.patches.ops) == split + 1
            _check(c)


def test_what_is_still_refused_says_why():
    with pytest.raises(PatchError, match=r"tensor \d+ \(output of operator #0\) is also read by operator\(s\) \[4\] "
                       "outside the prefix"):
        compile_model(BRANCHES, "m", patches="2x2@op2")  # the block input also feeds the ADD after the split
    with pytest.raises(PatchError, match=r"ADD broadcasts \[\[1, 4, 4, 8\], \[1, 4, 1, 1\]\]"):
        compile_model(ZOO / "elementwise_add_bcast.tflite", "m", patches="1x1@op1")
    with pytest.raises(PatchError, match="a constant operand is not patched"):
        compile_model(ZOO / "elementwise_add_bcast.tflite", "m", patches="1x1@op2")
    with pytest.raises(PatchError, match="joins on a spatial or batch axis"):
        compile_model(ZOO / "datamove_concat_axes.tflite", "m", patches="1x1@op0")
    with pytest.raises(PatchError, match="RESIZE_NEAREST_NEIGHBOR .* has no patch support"):
        compile_model(ZOO / "plan_unet.tflite", "m", patches="2x2@op6")


@pytest.mark.parametrize("name", ["patch_mcunet_160", "patch_mobilenet_v2_144"])
def test_vision_nets_auto_cut_the_arena_3x_bit_exact(name):
    """The issue's target on the zoo's MCUNet-like (160 px, kernels 3/5/7, expand 3/4/6) and
    MobileNetV2-0.35-like (144 px, residual blocks, PAD before stride 2) nets: at least 3x below
    our layer-by-layer plan (in place included) within 20 % more MACs; the input is counted."""
    path = ZOO / f"{name}.tflite"
    base = compile_model(path, "m")
    c = compile_model(path, "m", patches="auto")
    st = c.patches
    assert st is not None and st.overhead <= 0.2 and st.layer_arena == base.plan.arena_size
    assert 3 * c.plan.arena_size <= base.plan.arena_size, (c.plan.arena_size, base.plan.arena_size)
    assert c.plan.arena_size >= c.graph.t(c.graph.inputs[0]).nbytes
    _check(c, n=1)
