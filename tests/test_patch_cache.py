"""Halo caching in patch-based inference (`--patches NxM@opK+cache`, passes/patch.py): the rows of
each intermediate tensor that the tile below needs again are kept in a per-column cache of the
stage scratch instead of recomputed. Bit-exact against TFLite on the chain with every window
geometry and on the zoo's patch_*/plan_* nets (uneven grids, stride 2, PAD, branches), with the
portable and the optimized kernels; fewer MACs than recomputing wherever tiles overlap; clean
under the sanitizers; what `plan` and the search make of it.
"""

from __future__ import annotations

import pytest

from conftest import ZOO, run_cli
from conv_models import conv_chain
from test_patches import CHAIN
from tinyml_pio.cpu import CpuFeatures
from tinyml_pio.errors import EXIT_ERROR, TinymlError
from tinyml_pio.passes.patch import parse_patches
from tinyml_pio.passes.patch_search import candidates
from tinyml_pio.pipeline import compile_model
from tinyml_pio.verify import verify_compiled

HOST_OPT = CpuFeatures.host_optimized()
# (split, grid) on the chain of test_patches (stride 2 SAME with odd sizes, dilation 2, VALID, 1x3):
# grids that do not divide the output, strips, columns of one tile row, many small tiles
CHAIN_CASES = [(0, "3x4"), (1, "5x3"), (2, "3x7"), (3, "6x5"), (4, "3x1"), (5, "3x3"), (1, "12x1")]
# zoo nets: residual ADDs, PAD + VALID stride 2, an inception CONCATENATION, MCUNet- and MobileNetV2-like
ZOO_CASES = [("patch_branches", 4, "3x5"), ("patch_branches", 8, "5x4"), ("patch_branches", 12, "4x4"),
             ("patch_branches", 17, "3x3"), ("patch_branches", 20, "4x3"), ("plan_residual", 8, "3x2"),
             ("plan_inception", None, "4x3"), ("plan_unbalanced", 5, "5x3"), ("patch_mcunet_160", 5, "3x3"),
             ("patch_mobilenet_v2_144", 7, "4x2")]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return conv_chain(tmp_path_factory.mktemp("cache") / "chain.tflite", **CHAIN)


def _check(c, n: int = 2, **kw) -> None:
    r = verify_compiled(c, n=n, seed=3, **kw)
    assert r.identical == r.total == n, r.mismatch


def _cached_vs_recomputed(path, setting: str, target=None):
    c = compile_model(path, "m", target=target, patches=setting + "+cache")
    plain = compile_model(path, "m", target=target, patches=setting).patches
    st = c.patches
    assert st.cache and st.text == setting + "+cache" and not plain.cache
    assert st.macs_recompute == plain.macs and plain.macs_recompute == plain.macs and plain.cache_bytes == 0
    assert st.tiles == plain.tiles and st.layer_macs == plain.layer_macs
    if plain.macs > plain.layer_macs and st.rows > 1:  # the tiles overlap
        assert st.layer_macs <= st.macs < plain.macs and st.overhead < plain.overhead
        assert 0 < st.cache_bytes <= st.scratch_bytes
    return c


@pytest.mark.parametrize("target", [None, HOST_OPT], ids=["portable", "opt"])
@pytest.mark.parametrize("split,grid", CHAIN_CASES)
def test_cached_chain_is_bit_exact_with_fewer_macs(model, split, grid, target):
    c = _cached_vs_recomputed(model, f"{grid}@op{split}", target)
    if c.patches.cols == 1:  # strips: every row of every tensor is computed exactly once
        assert c.patches.macs == c.patches.layer_macs
    _check(c)


@pytest.mark.parametrize("target", [None, HOST_OPT], ids=["portable", "opt"])
@pytest.mark.parametrize("name,split,grid", ZOO_CASES)
def test_cached_zoo_nets_are_bit_exact(name, split, grid, target):
    path = ZOO / f"{name}.tflite"
    if split is None:
        split = next(o.index for o in compile_model(path, "m").graph.ops if o.type == "CONCATENATION")
    c = _cached_vs_recomputed(path, f"{grid}@op{split}", target)
    assert c.patches.overhead < c.patches.overhead_recompute
    _check(c)


def test_cache_with_input_callback_is_bit_exact():
    c = compile_model(ZOO / "patch_branches.tflite", "m", patches="3x2@op12+cache+callback")
    assert c.patches.cache and c.patches.input_callback >= 0
    _check(c)


def test_cached_stage_runs_clean_under_sanitizers():
    """Cache saves and restores stay inside the stage scratch (ASan-poisoned arena)."""
    _check(compile_model(ZOO / "patch_branches.tflite", "m", target=HOST_OPT, patches="4x3@op19+cache"),
           sanitize=True)


def test_search_considers_cached_grids():
    path = ZOO / "patch_mcunet_160.tflite"
    c = compile_model(path, "m")
    found = candidates(c.graph, c.layers)
    cached = {k[:3]: over for _, over, k in found if k[3]}
    plain = {k[:3]: over for _, over, k in found if not k[3]}
    assert cached and all(over < plain[k] for k, over in cached.items())
    # restricted to cached grids, the search picks one, and it stays bit-exact
    c = compile_model(path, "m", patches="auto+cache", max_overhead=0.2)
    assert c.patches is not None and c.patches.cache and c.patches.overhead <= 0.2
    _check(c, n=1)


def test_parse_and_refuse():
    for text in ("4x3@op6+cache+callback", "4x3@op6+callback+cache"):
        s = parse_patches(text)
        assert (s.rows, s.cols, s.split, s.cache, s.input_callback) == (4, 3, 6, True, True)
        assert parse_patches(s.text) == s
    assert parse_patches("fit+cache").cache and not parse_patches("auto").cache
    for bad in ("4x3@op6+cache+cache", "4x3@op6+cached", "auto+"):
        with pytest.raises(TinymlError, match="not understood"):
            parse_patches(bad)


def test_plan_shows_cache_bytes_and_both_overheads(model, capsys):
    rc, out, _ = run_cli(capsys, "plan", str(model), "--patches", "6x5@op3+cache")
    st = compile_model(model, "m", patches="6x5@op3+cache").patches
    assert rc == 0 and "halo cached" in out
    line = next(l for l in out.splitlines() if "halo cache " in l)
    assert f"{st.cache_bytes:,}".replace(",", " ") in line
    assert f"{100 * st.overhead:.1f}% with it, {100 * st.overhead_recompute:.1f}% recomputing" in line
    rc, _, err = run_cli(capsys, "plan", str(model), "--patches", "6x5@op3+cachex")
    assert rc == EXIT_ERROR and "not understood" in err
